#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]

mod audit;
mod backend;
mod error;
mod follower;
mod postgres;
mod row;
mod sqlite;
mod synced;
mod url;

pub use audit::{AuditEntry, AuditNote, MAX_ACTION, MAX_ACTOR, MAX_DETAIL};
pub use backend::{BadRow, Change, RowState, Snapshot};
pub use error::StoreError;
pub use follower::{FollowOptions, Follower, FollowerStats};
pub use synced::SyncedKeyring;

pub use url::{Backend as BackendKind, StoreUrl, UrlError};

use std::time::Duration;

use whatsgate_auth::{AccountId, Timestamp, Token, TokenId, TokenName, TokenRecord};

/// Whether opening may create the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The store must exist already.
    Existing,
    /// Create an empty store (its schema) if there is none.
    CreateIfMissing,
}

/// A connection to a token store: the records, the lifecycle writes, and the
/// change log followers read. One URL picks the backend (see [`StoreUrl`]).
///
/// Every write records a change in the same transaction. Not `Sync`: give
/// each thread its own `Store`, or share one behind a lock.
pub struct Store {
    backend: Box<dyn backend::Backend>,
    url: StoreUrl,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The schema version this release writes and reads (both backends).
pub const LATEST_SCHEMA: i64 = 3;

/// How long a connection waits for a lock or for the server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens the store at `url` (a path, `sqlite:PATH` or `postgresql://…`),
    /// bringing its schema up to date.
    ///
    /// # Errors
    /// [`StoreError`]: a URL that names no backend, a missing store (with
    /// [`OpenMode::Existing`]), a file or database that is not a token store
    /// or was written by a newer release, or a server that cannot be reached.
    pub fn open(url: &str, mode: OpenMode) -> Result<Self, StoreError> {
        Self::open_with_timeout(url, mode, DEFAULT_TIMEOUT)
    }

    /// [`Store::open`] with a lock / connect timeout.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_timeout(
        url: &str,
        mode: OpenMode,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let url = StoreUrl::parse(url)?;
        let backend: Box<dyn backend::Backend> = match url.backend() {
            BackendKind::Sqlite => Box::new(sqlite::SqliteStore::open(&url, mode, timeout)?),
            BackendKind::Postgres => Box::new(postgres::PgStore::open(&url, mode, timeout)?),
        };
        Ok(Self { backend, url })
    }

    /// The URL this store was opened with (its password redacted in `Display`).
    pub fn url(&self) -> &StoreUrl {
        &self.url
    }

    /// Issues a token: returns the plaintext token (show it once) and the
    /// record now in the store.
    ///
    /// # Errors
    /// [`StoreError::DuplicateName`] when the account already has a token of
    /// that name, or a store error.
    pub fn create(
        &mut self,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.backend.create(account, name, now)
    }

    /// Every record, or those of one account, ordered by account, creation
    /// time and id.
    ///
    /// # Errors
    /// A store error, or [`StoreError::Damaged`] for a row that is not a valid record.
    pub fn list(&mut self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        self.backend.list(account)
    }

    /// One record by id.
    ///
    /// # Errors
    /// As [`Store::list`].
    pub fn get(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.backend.get(id)
    }

    /// One record by account and name.
    ///
    /// # Errors
    /// As [`Store::list`].
    pub fn find(
        &mut self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.backend.find(account, name)
    }

    /// Deletes a token; returns its record, or `None` when the row no
    /// longer held a valid record: it is removed all the same (a removal is
    /// never blocked by a damaged row).
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], or a store error.
    pub fn delete(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.backend.delete(id)
    }

    /// Deletes, in one transaction, each of `ids` whose current record
    /// `decide` answers with a note for (a token that is gone, or whose row
    /// is not a valid record, is not offered), recording one change and one
    /// audit entry (the note, the token's id and account) per deletion.
    /// Returns the deleted records. An id given twice is offered once.
    ///
    /// `decide` sees the record as of the transaction, so a check such as
    /// "this reported secret is still accepted" is not raced by another
    /// writer.
    ///
    /// # Errors
    /// A store error; nothing is deleted then.
    pub fn delete_where(
        &mut self,
        ids: &[TokenId],
        decide: &mut dyn FnMut(&TokenRecord) -> Option<AuditNote>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        self.backend.delete_where(&unique, decide)
    }

    /// Appends an entry to the audit trail on its own (for a write that
    /// records its entry some other way, or an event that is not a write).
    ///
    /// # Errors
    /// A store error.
    pub fn append_audit(
        &mut self,
        note: &AuditNote,
        token: Option<(TokenId, &AccountId)>,
    ) -> Result<(), StoreError> {
        self.backend.append_audit(note, token)
    }

    /// The latest `limit` audit entries, newest first; only those about
    /// tokens of `account` when it is given.
    ///
    /// # Errors
    /// A store error, or [`StoreError::Damaged`] for an entry another program
    /// wrote with a token id that is not one.
    pub fn audit(
        &mut self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.backend.audit(account, limit)
    }

    /// Replaces a token's secret (id, name and account stay); with
    /// `grace_until` in the future the old secret keeps working until then.
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], or a store error.
    pub fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.backend.regenerate(id, now, grace_until)
    }

    /// Stores last-used instants in one transaction (never moving one back).
    /// Not a change: followers are not woken for it.
    ///
    /// # Errors
    /// A store error.
    pub fn record_last_used(&mut self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        self.backend.record_last_used(uses)
    }

    /// Every valid record and the head of the change log, read in one
    /// transaction; rows that fail validation are reported, not loaded.
    ///
    /// # Errors
    /// A store error.
    pub fn snapshot(&mut self) -> Result<Snapshot, StoreError> {
        self.backend.snapshot()
    }

    /// Up to `limit` changes after `after`, in order, each with its token's
    /// row as of the same read.
    ///
    /// # Errors
    /// A store error.
    pub fn changes_since(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(Change, RowState)>, StoreError> {
        self.backend.changes_since(after, limit)
    }

    /// The sequence number of the latest change (0 for none).
    ///
    /// # Errors
    /// A store error.
    pub fn head(&mut self) -> Result<u64, StoreError> {
        self.backend.head()
    }

    /// Blocks until a change may have been written, or `timeout` passes:
    /// PostgreSQL waits for a notification, SQLite polls `data_version`.
    /// Returning says nothing for sure: read [`Store::changes_since`].
    ///
    /// # Errors
    /// A store error (the connection is lost, for instance).
    pub fn wait_for_change(&mut self, timeout: Duration) -> Result<(), StoreError> {
        self.backend.wait_for_change(timeout)
    }
}
