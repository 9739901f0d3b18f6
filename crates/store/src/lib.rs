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
pub use synced::{Acting, SyncedKeyring};

pub use url::{Backend as BackendKind, StoreUrl, UrlError};

use std::time::Duration;

use whatsgate_auth::{
    AccountId, LifetimePolicy, NewToken, Timestamp, Token, TokenId, TokenName, TokenRecord,
    TokenUpdate,
};

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
    policy: LifetimePolicy,
    actor: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("policy", &self.policy)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// The schema version this release writes and reads (both backends).
pub const LATEST_SCHEMA: i64 = 4;

/// The actor a [`Store`]'s audit entries name until [`Store::set_actor`].
pub const DEFAULT_ACTOR: &str = "local";

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
        Ok(Self {
            backend,
            url,
            policy: LifetimePolicy::DEFAULT,
            actor: DEFAULT_ACTOR.to_owned(),
        })
    }

    /// Sets the lifetime policy later writes are checked against (not
    /// stored: each process that writes sets its own). Default
    /// [`LifetimePolicy::DEFAULT`]: no maximum lifetime, grace periods up
    /// to 30 days.
    pub fn set_policy(&mut self, policy: LifetimePolicy) {
        self.policy = policy;
    }

    /// The lifetime policy writes are checked against.
    pub fn policy(&self) -> &LifetimePolicy {
        &self.policy
    }

    /// Sets who the audit entries of later writes name: `wgauth`,
    /// `token:<acting token id>` (management API) … Default
    /// [`DEFAULT_ACTOR`]. Never put a secret in it.
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    /// Who the audit entries of later writes name.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The URL this store was opened with (its password redacted in `Display`).
    pub fn url(&self) -> &StoreUrl {
        &self.url
    }

    /// Issues a full-access token (with an expiry when the policy has a
    /// maximum lifetime): returns the plaintext token (show it once) and
    /// the record now in the store. See [`Store::create_from`].
    ///
    /// # Errors
    /// As [`Store::create_from`].
    pub fn create(
        &mut self,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.create_from(NewToken::new(account, name), now)
    }

    /// Issues a token as `spec` describes it (scopes, expiry, description),
    /// once the lifetime policy admits it; records a change and a
    /// `token.create` audit entry.
    ///
    /// # Errors
    /// [`StoreError::Policy`] for an expiry the policy refuses,
    /// [`StoreError::DuplicateName`] when the account already has a token of
    /// that name, or a store error.
    pub fn create_from(
        &mut self,
        mut spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.policy.admit(&mut spec, now)?;
        self.backend.create(spec, now, &self.actor)
    }

    /// Changes a token's name, description, scopes or state (disabled or
    /// enabled); records a change and a `token.update` audit entry saying
    /// what changed. An empty update writes nothing and returns the record.
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], [`StoreError::DuplicateName`] for a
    /// name the account already uses, [`StoreError::Damaged`] for a row that
    /// is not a valid record (delete it instead), or a store error.
    pub fn update(&mut self, id: TokenId, update: TokenUpdate) -> Result<TokenRecord, StoreError> {
        if update.is_empty() {
            return self.get(id)?.ok_or(StoreError::UnknownToken(id));
        }
        self.backend.update(id, update, &self.actor)
    }

    /// Deletes every token of `account` in one transaction (rows that are
    /// not valid records too), with one change and one `token.revoke_all`
    /// audit entry per token. Returns the valid records deleted (none for an
    /// account without tokens).
    ///
    /// # Errors
    /// A store error; nothing is deleted then.
    pub fn revoke_all(&mut self, account: &AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        self.backend
            .delete_matching(backend::Which::Account(account), &self.actor)
    }

    /// Deletes every token expired at `now` (whose `expires_at` is not after
    /// it) in one transaction, with one change and one `token.prune` audit
    /// entry per token. Returns the records deleted.
    ///
    /// # Errors
    /// A store error; nothing is deleted then.
    pub fn prune(&mut self, now: Timestamp) -> Result<Vec<TokenRecord>, StoreError> {
        self.backend
            .delete_matching(backend::Which::ExpiredAt(now), &self.actor)
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

    /// Deletes a token, with a `token.delete` audit entry; returns its
    /// record, or `None` when the row no longer held a valid record: it is
    /// removed all the same (a removal is never blocked by a damaged row).
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], or a store error.
    pub fn delete(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.backend.delete(id, &self.actor)
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

    /// Replaces a token's secret (id, name, account and the other fields
    /// stay), with a `token.regenerate` audit entry; with `grace_until` in
    /// the future the old secret keeps working until then, within the
    /// policy's cap.
    ///
    /// # Errors
    /// [`StoreError::Policy`] for a grace period that ends before `now` or
    /// lasts longer than the policy allows, [`StoreError::UnknownToken`], or
    /// a store error.
    pub fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.policy.check_grace(grace_until, now)?;
        self.backend.regenerate(id, now, grace_until, &self.actor)
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

    /// Deletes the change log's rows written before `before`, except the
    /// newest (the head stays where it is), and returns how many it deleted.
    /// The log only lets a follower catch up change by change: one whose
    /// cursor is older than the oldest row left catches up in full (a
    /// snapshot), as after a reconnect; one that is current sees nothing.
    /// Not audited: it changes no token. Without it the log grows by one
    /// row per write, for ever (`wgauth compact`).
    ///
    /// # Errors
    /// A store error.
    pub fn compact_changes(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        self.backend.compact_changes(before)
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
