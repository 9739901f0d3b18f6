//! The embedded store: token records in a SQLite file.
//!
//! - One table, `tokens`, holding the verifier of each token, never the
//!   token itself (see [`SCHEMA_V1`]).
//! - The schema is versioned with `PRAGMA user_version` and brought up to
//!   date by [`MIGRATIONS`], each in one transaction. A file written by a
//!   newer `wgauth` (a higher version than this one knows) is refused, as is
//!   a SQLite file that is not a `wgauth` store.
//! - WAL journal, `synchronous = FULL` (a deletion survives a power cut),
//!   and a busy timeout, so several `wgauth` processes share the file.
//! - Every change is one transaction: a process killed at any instant
//!   leaves the change whole or absent.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use whatsgate_auth::{
    AccountId, OsRng, Rollover, Timestamp, Token, TokenFormat, TokenId, TokenName, TokenRecord,
    Verifier,
};

/// `PRAGMA application_id` of a `wgauth` store: "WGAT".
pub const APPLICATION_ID: i32 = 0x5747_4154;

/// Version 1 of the schema.
pub const SCHEMA_V1: &str = "
CREATE TABLE tokens (
    id                TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    account           TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    verifier          BLOB    NOT NULL CHECK (length(verifier) = 32),
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    rollover_verifier BLOB    CHECK (rollover_verifier IS NULL OR length(rollover_verifier) = 32),
    rollover_until    INTEGER,
    CHECK ((rollover_verifier IS NULL) = (rollover_until IS NULL)),
    UNIQUE (account, name)
) STRICT;
";

/// The migrations, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Append only; never edit a released entry.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1];

/// The schema version this build writes and reads.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

const COLUMNS: &str =
    "id, account, name, verifier, created_at, last_used_at, rollover_verifier, rollover_until";

/// Whether opening may create the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The store must exist already.
    Existing,
    /// Create an empty store if there is no file.
    CreateIfMissing,
}

/// What went wrong with the store. Messages say what to do.
#[derive(Debug)]
pub enum StoreError {
    /// No file at the path.
    Missing(PathBuf),
    /// The file is not a SQLite database, or not a `wgauth` store.
    NotAStore(PathBuf, &'static str),
    /// Written by a newer `wgauth`.
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// Another process holds the lock for longer than the busy timeout.
    Locked(PathBuf),
    /// No token has this id.
    UnknownToken(TokenId),
    /// No token of this account has this name.
    UnknownName(AccountId, TokenName),
    /// The account already has a token with this name.
    DuplicateName(AccountId, TokenName),
    /// A row does not hold a valid record.
    Damaged(String),
    /// The OS random number generator failed.
    Rng,
    /// The file cannot be opened (or created).
    CannotOpen(PathBuf, rusqlite::Error),
    /// Any other SQLite error, with what was being done.
    Sqlite(&'static str, rusqlite::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(path) => write!(
                f,
                "no token store at {}: create one with `wgauth token create --account A --name N` \
                 or `wgauth serve --demo`, or point --db / WGAUTH_DB at an existing store",
                path.display()
            ),
            Self::NotAStore(path, why) => write!(
                f,
                "{} is not a wgauth token store ({why}); point --db / WGAUTH_DB at a store",
                path.display()
            ),
            Self::NewerSchema { path, found } => write!(
                f,
                "{} was written by a newer wgauth (schema version {found}; this wgauth knows up to \
                 {LATEST_VERSION}): upgrade wgauth to use it; the file was not changed",
                path.display()
            ),
            Self::Locked(path) => write!(
                f,
                "{} is locked by another process; try again, or raise --busy-timeout",
                path.display()
            ),
            Self::UnknownToken(id) => {
                write!(f, "no token has id {id}; `wgauth token list` shows the ids")
            }
            Self::UnknownName(account, name) => write!(
                f,
                "account {:?} has no token named {:?}; `wgauth token list --account {account}` shows its tokens",
                account.as_str(),
                name.as_str()
            ),
            Self::DuplicateName(account, name) => write!(
                f,
                "account {:?} already has a token named {:?}; pick another name, or \
                 regenerate or delete that token",
                account.as_str(),
                name.as_str()
            ),
            Self::Damaged(why) => write!(f, "the token store is damaged: {why}"),
            Self::Rng => f.write_str(
                "the operating system's random number generator failed; no token was made",
            ),
            Self::CannotOpen(path, e) => write!(
                f,
                "cannot open {} ({e}): check that its folder exists and that it is readable and writable",
                path.display()
            ),
            Self::Sqlite(doing, e) => write!(f, "token store error while {doing}: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn is_code(e: &rusqlite::Error, codes: &[ErrorCode]) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if codes.contains(&f.code))
}

impl Store {
    /// Opens (and with [`OpenMode::CreateIfMissing`] creates) the store at
    /// `path`, bringing its schema up to date.
    ///
    /// # Errors
    /// [`StoreError`] saying why the file cannot be used; it is left as it was.
    pub fn open(path: &Path, mode: OpenMode, busy_timeout: Duration) -> Result<Self, StoreError> {
        let exists = path.exists();
        if !exists && mode == OpenMode::Existing {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        if path.is_dir() {
            return Err(StoreError::NotAStore(
                path.to_path_buf(),
                "it is a directory",
            ));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if mode == OpenMode::CreateIfMissing {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::CannotOpen(path.to_path_buf(), e))?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(busy_timeout)
            .map_err(|e| store.err("setting the busy timeout", e))?;
        // While another process creates or upgrades the store, SQLite can
        // answer "busy" without waiting (switching to WAL takes an exclusive
        // lock, which the busy handler does not wait for). That is
        // transient: retry within the busy timeout.
        let started = std::time::Instant::now();
        loop {
            match store.check_and_migrate() {
                Err(StoreError::Locked(_)) if started.elapsed() < busy_timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => return result.map(|()| store),
            }
        }
    }

    fn err(&self, doing: &'static str, e: rusqlite::Error) -> StoreError {
        if is_code(&e, &[ErrorCode::DatabaseBusy, ErrorCode::DatabaseLocked]) {
            StoreError::Locked(self.path.clone())
        } else if is_code(&e, &[ErrorCode::NotADatabase]) {
            StoreError::NotAStore(self.path.clone(), "it is not a SQLite database")
        } else {
            StoreError::Sqlite(doing, e)
        }
    }

    fn check_and_migrate(&mut self) -> Result<(), StoreError> {
        // Reading the header first: a file that is not SQLite fails here,
        // before anything is written to it. One read transaction, so the
        // version, the application id and the table count come from the same
        // snapshot: another process may be creating the store right now, and
        // separate reads could see its tables but not yet its version.
        let path = self.path.clone();
        let snapshot = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| lock_or(&path, "reading the file header", e))?;
        let version: i64 = snapshot
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| lock_or(&path, "reading the schema version", e))?;
        check_identity_of(&snapshot, &path, version)?;
        snapshot
            .finish()
            .map_err(|e| lock_or(&path, "reading the file header", e))?;
        if version == LATEST_VERSION {
            return self.set_connection_pragmas();
        }
        // WAL must be set outside a transaction; it persists in the file.
        self.conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(|e| self.err("switching to WAL", e))?;
        self.set_connection_pragmas()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| lock_or(&path, "starting the schema upgrade", e))?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| lock_or(&path, "reading the schema version", e))?;
        check_identity_of(&tx, &path, version)?;
        let from = usize::try_from(version).unwrap_or(usize::MAX);
        for sql in MIGRATIONS.iter().skip(from) {
            tx.execute_batch(sql)
                .map_err(|e| lock_or(&path, "upgrading the schema", e))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .and_then(|()| tx.pragma_update(None, "user_version", LATEST_VERSION))
            .and_then(|()| tx.commit())
            .map_err(|e| lock_or(&path, "upgrading the schema", e))
    }

    fn set_connection_pragmas(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA trusted_schema = OFF;")
            .map_err(|e| self.err("configuring the connection", e))
    }

    /// Issues a token and stores its record, in one transaction. Returns the
    /// plaintext token (to show once) and the record.
    ///
    /// # Errors
    /// [`StoreError::DuplicateName`], [`StoreError::Locked`], [`StoreError::Rng`], …
    pub fn create(
        &mut self,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| lock_or(&path, "starting to create a token", e))?;
        if find_by_name(&tx, &account, &name)
            .map_err(|e| lock_or(&path, "looking up names", e))?
            .is_some()
        {
            return Err(StoreError::DuplicateName(account, name));
        }
        // 64 random bits: an id collision is all but impossible, but it only
        // costs a retry.
        for _ in 0..8 {
            let (token, record) = TokenRecord::issue(
                &TokenFormat::DEFAULT,
                &mut OsRng,
                account.clone(),
                name.clone(),
                now,
            )
            .map_err(|_| StoreError::Rng)?;
            match insert(&tx, &record) {
                Ok(()) => {
                    tx.commit()
                        .map_err(|e| lock_or(&path, "saving the new token", e))?;
                    return Ok((token, record));
                }
                Err(e) if is_code(&e, &[ErrorCode::ConstraintViolation]) => {}
                Err(e) => return Err(lock_or(&path, "saving the new token", e)),
            }
        }
        Err(StoreError::Damaged(
            "could not find a free token id after 8 tries".to_string(),
        ))
    }

    /// All records, or those of one account, ordered by account, creation
    /// time and id.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be read or a row is damaged.
    pub fn list(&self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let read = || -> Result<Vec<TokenRecord>, rusqlite::Error> {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR account = ?1 \
                 ORDER BY account, created_at, id"
            ))?;
            let rows = stmt.query_map([account], row_to_record)?;
            rows.collect()
        };
        read().map_err(|e| self.damaged_or(e, "reading the tokens"))
    }

    fn damaged_or(&self, e: rusqlite::Error, doing: &'static str) -> StoreError {
        match e {
            rusqlite::Error::FromSqlConversionFailure(_, _, why) => {
                StoreError::Damaged(why.to_string())
            }
            e => self.err(doing, e),
        }
    }

    /// One record by id.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be read.
    pub fn get(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        find_by_id(&self.conn, id).map_err(|e| self.damaged_or(e, "reading a token"))
    }

    /// One record by account and name.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be read.
    pub fn find(
        &self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError> {
        find_by_name(&self.conn, account, name).map_err(|e| self.damaged_or(e, "reading a token"))
    }

    /// Deletes a token; returns its record.
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], [`StoreError::Locked`], …
    pub fn delete(&mut self, id: TokenId) -> Result<TokenRecord, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| lock_or(&path, "starting to delete a token", e))?;
        let record = find_by_id(&tx, id)
            .map_err(|e| lock_or(&path, "reading a token", e))?
            .ok_or(StoreError::UnknownToken(id))?;
        tx.execute("DELETE FROM tokens WHERE id = ?1", [id.to_string()])
            .and_then(|_| tx.commit())
            .map_err(|e| lock_or(&path, "deleting a token", e))?;
        Ok(record)
    }

    /// Replaces a token's secret; the old one is refused at once, or, with
    /// `grace_until`, until that instant. Returns the new plaintext token.
    ///
    /// # Errors
    /// [`StoreError::UnknownToken`], [`StoreError::Locked`], [`StoreError::Rng`], …
    pub fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| lock_or(&path, "starting to regenerate a token", e))?;
        let mut record = find_by_id(&tx, id)
            .map_err(|e| lock_or(&path, "reading a token", e))?
            .ok_or(StoreError::UnknownToken(id))?;
        let token = record
            .regenerate(&TokenFormat::DEFAULT, &mut OsRng, now, grace_until)
            .map_err(|_| StoreError::Rng)?;
        let rollover = record
            .rollover
            .map(|r| (r.verifier.to_bytes(), secs(r.until)));
        tx.execute(
            "UPDATE tokens SET verifier = ?2, rollover_verifier = ?3, rollover_until = ?4 WHERE id = ?1",
            rusqlite::params![
                id.to_string(),
                record.verifier.to_bytes(),
                rollover.map(|r| r.0),
                rollover.map(|r| r.1),
            ],
        )
        .and_then(|_| tx.commit())
        .map_err(|e| lock_or(&path, "saving the regenerated token", e))?;
        Ok((token, record))
    }

    /// Stores last-used instants in one transaction; an instant never moves
    /// back, and deleted tokens are skipped.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be written.
    pub fn record_last_used(&mut self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| lock_or(&path, "starting to record last use", e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 \
                     AND (last_used_at IS NULL OR last_used_at < ?2)",
                )
                .map_err(|e| lock_or(&path, "recording last use", e))?;
            for (id, at) in uses {
                stmt.execute(rusqlite::params![id.to_string(), secs(*at)])
                    .map_err(|e| lock_or(&path, "recording last use", e))?;
            }
        }
        tx.commit()
            .map_err(|e| lock_or(&path, "recording last use", e))
    }

    /// `PRAGMA data_version`: changes whenever another connection (of this
    /// or another process) commits to the file.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be read.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(|e| self.err("checking for changes", e))
    }
}

fn check_identity_of(conn: &Connection, path: &Path, version: i64) -> Result<(), StoreError> {
    let lock = |e| lock_or(path, "reading the file header", e);
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(lock)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(StoreError::NotAStore(
            path.to_path_buf(),
            "its SQLite application id belongs to another program",
        ));
    }
    if version > LATEST_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    if version > 0 && app_id != APPLICATION_ID {
        return Err(StoreError::NotAStore(
            path.to_path_buf(),
            "it has a schema version but no wgauth application id",
        ));
    }
    if version < 0 {
        return Err(StoreError::NotAStore(
            path.to_path_buf(),
            "its schema version is negative",
        ));
    }
    if version == 0 {
        // A fresh file has no tables; one with tables of its own is
        // someone else's database.
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(lock)?;
        if objects > 0 {
            return Err(StoreError::NotAStore(
                path.to_path_buf(),
                "it is a SQLite database with tables of another program",
            ));
        }
    }
    Ok(())
}

fn lock_or(path: &Path, doing: &'static str, e: rusqlite::Error) -> StoreError {
    if is_code(&e, &[ErrorCode::DatabaseBusy, ErrorCode::DatabaseLocked]) {
        StoreError::Locked(path.to_path_buf())
    } else if is_code(&e, &[ErrorCode::NotADatabase]) {
        StoreError::NotAStore(path.to_path_buf(), "it is not a SQLite database")
    } else if let rusqlite::Error::FromSqlConversionFailure(_, _, why) = e {
        StoreError::Damaged(why.to_string())
    } else {
        StoreError::Sqlite(doing, e)
    }
}

/// SQLite integers are signed; instants past year 292 billion saturate.
fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

fn insert(conn: &Connection, r: &TokenRecord) -> Result<(), rusqlite::Error> {
    let rollover = r.rollover.map(|r| (r.verifier.to_bytes(), secs(r.until)));
    conn.execute(
        &format!("INSERT INTO tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        rusqlite::params![
            r.id.to_string(),
            r.account.as_str(),
            r.name.as_str(),
            r.verifier.to_bytes(),
            secs(r.created_at),
            r.last_used_at.map(secs),
            rollover.map(|r| r.0),
            rollover.map(|r| r.1),
        ],
    )
    .map(drop)
}

fn find_by_id(conn: &Connection, id: TokenId) -> Result<Option<TokenRecord>, rusqlite::Error> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row([id.to_string()], row_to_record)
        .optional()
}

fn find_by_name(
    conn: &Connection,
    account: &AccountId,
    name: &TokenName,
) -> Result<Option<TokenRecord>, rusqlite::Error> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE account = ?1 AND name = ?2"
    ))?
    .query_row([account.as_str(), name.as_str()], row_to_record)
    .optional()
}

fn damaged(column: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, why.into())
}

fn row_to_record(row: &Row<'_>) -> Result<TokenRecord, rusqlite::Error> {
    let id_text: String = row.get(0)?;
    let id: TokenId = id_text
        .parse()
        .map_err(|_| damaged(0, format!("token id {id_text:?} is not 16 hex digits")))?;
    let account: String = row.get(1)?;
    let account =
        AccountId::new(&account).map_err(|e| damaged(1, format!("token {id}: account {e}")))?;
    let name: String = row.get(2)?;
    let name = TokenName::new(&name).map_err(|e| damaged(2, format!("token {id}: name {e}")))?;
    let verifier = verifier_of(row, 3, id)?;
    let instant = |col: usize| -> Result<Option<Timestamp>, rusqlite::Error> {
        let v: Option<i64> = row.get(col)?;
        v.map(|v| {
            u64::try_from(v)
                .map(Timestamp)
                .map_err(|_| damaged(col, format!("token {id}: negative instant")))
        })
        .transpose()
    };
    let created_at = instant(4)?.unwrap_or_default();
    let last_used_at = instant(5)?;
    let rollover_verifier: Option<Vec<u8>> = row.get(6)?;
    let rollover = match (rollover_verifier, instant(7)?) {
        (Some(_), Some(until)) => Some(Rollover {
            verifier: verifier_of(row, 6, id)?,
            until,
        }),
        _ => None,
    };
    Ok(TokenRecord {
        id,
        account,
        name,
        verifier,
        created_at,
        last_used_at,
        rollover,
    })
}

fn verifier_of(row: &Row<'_>, col: usize, id: TokenId) -> Result<Verifier, rusqlite::Error> {
    let bytes: Vec<u8> = row.get(col)?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| damaged(col, format!("token {id}: a verifier is not 32 bytes")))?;
    Ok(Verifier::from_bytes(bytes))
}
