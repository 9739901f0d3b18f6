//! The embedded backend: a SQLite file.
//!
//! - Schema version 4: the `tokens` table of the first `wgauth` release
//!   (each token's verifier, never the token) with the record fields beyond
//!   the seed's, the `changes` log and the `audit` trail (see [`MIGRATIONS`]). The version is kept in `PRAGMA user_version` and raised
//!   by append-only migrations, all in one transaction; a file written by a
//!   newer release is refused unchanged, and so is a SQLite file that is not
//!   a `wgauth` store (`PRAGMA application_id`, or tables of its own).
//! - WAL journal, `synchronous = FULL` (a deletion survives a power cut), and
//!   a busy timeout, so several processes share the file.
//! - Every write is one `IMMEDIATE` transaction that changes `tokens` and
//!   inserts one `changes` row: a process killed at any instant leaves the
//!   write, and its change, whole or absent. SQLite has one writer at a time
//!   and `seq` is assigned under that lock, so commit order is `seq` order,
//!   and a rolled-back write takes its `seq` with it (no gap).
//! - Reading never stops at a row that is not a valid record: the snapshot
//!   and the change log report it ([`BadRow`], [`RowState::Invalid`]), and
//!   `delete` removes it.
//! - A new file is created readable and writable by its owner only (0600);
//!   SQLite gives its `-wal` and `-shm` files the mode of the database file.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
};
use whatsgate_auth::{
    AccountId, NewToken, OsRng, Timestamp, Token, TokenFormat, TokenId, TokenName, TokenRecord,
    TokenUpdate,
};

use crate::audit::notes;
use crate::backend::{Backend, BadRow, Change, RowState, Snapshot, Which};
use crate::row::RawRow;
use crate::url::StoreUrl;
use crate::{AuditEntry, AuditNote};
use crate::{OpenMode, StoreError};

/// `PRAGMA application_id` of a `wgauth` store: "WGAT".
const APPLICATION_ID: i32 = 0x5747_4154;

/// Version 1: the `tokens` table, as the first `wgauth` release wrote it.
const SCHEMA_V1: &str = "
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

/// Version 1 → 2: the change log. One row per write, in the write's
/// transaction; `AUTOINCREMENT` so a `seq` is never reused, even after the
/// latest change row is gone.
const V1_TO_V2: &str = "
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT    NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
";

/// Version 2 → 3: the audit trail. One row per audited write, in the
/// write's transaction; never a secret.
const V2_TO_V3: &str = "
CREATE TABLE audit (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    token_id TEXT,
    account  TEXT,
    detail   TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_by_account ON audit (account, seq);
";

/// Version 3 → 4: the record fields beyond the seed's. Existing tokens keep
/// what they had: full access (`scopes` NULL), no expiry, enabled, no
/// description. `scopes` holds the names joined by spaces (see
/// `row::scopes_column`); the partial index serves `prune`.
const V3_TO_V4: &str = "
ALTER TABLE tokens ADD COLUMN scopes TEXT;
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE tokens ADD COLUMN description TEXT;
CREATE INDEX tokens_by_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;
";

/// The migrations, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Append only; never edit a released entry.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, V1_TO_V2, V2_TO_V3, V3_TO_V4];

const _: () = assert!(MIGRATIONS.len() as i64 == crate::LATEST_SCHEMA);

/// How often [`SqliteStore::wait_for_change`] reads `PRAGMA data_version`.
/// SQLite has no notification across processes, so a follower polls. The
/// read is a shared-memory lookup in the WAL index (no disk I/O), so polling
/// this often costs next to nothing, and it keeps the wake-up latency a
/// small part of the 300 ms propagation target.
const POLL_EVERY: Duration = Duration::from_millis(15);

/// While another process creates or upgrades the store, SQLite can answer
/// "busy" without calling the busy handler; opening retries this often.
const OPEN_RETRY_EVERY: Duration = Duration::from_millis(20);

const COLUMNS: &str = "id, account, name, verifier, created_at, last_used_at, rollover_verifier, \
                       rollover_until, scopes, expires_at, disabled, description";

/// An open SQLite store.
pub(crate) struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// `PRAGMA data_version` as of the latest read of the log (snapshot,
    /// changes, head), so a commit made after that read and before
    /// [`SqliteStore::wait_for_change`] starts still wakes the waiter.
    seen_version: Option<i64>,
}

fn is_code(e: &rusqlite::Error, codes: &[ErrorCode]) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if codes.contains(&f.code))
}

/// How the store is named in messages.
fn name_of(path: &Path) -> String {
    path.display().to_string()
}

/// Maps a SQLite error: busy → [`StoreError::Locked`], a file that is not a
/// database → [`StoreError::NotAStore`], the rest with what was being done.
fn sql_err(path: &Path, doing: &'static str, e: rusqlite::Error) -> StoreError {
    if is_code(&e, &[ErrorCode::DatabaseBusy, ErrorCode::DatabaseLocked]) {
        StoreError::Locked(name_of(path))
    } else if is_code(&e, &[ErrorCode::NotADatabase]) {
        StoreError::NotAStore(name_of(path), "it is not a SQLite database")
    } else {
        StoreError::Sqlite(doing, e)
    }
}

fn damaged(path: &Path, bad: &BadRow) -> StoreError {
    crate::row::damaged(&name_of(path), bad)
}

/// Creates the file, empty, readable and writable by its owner only, before
/// SQLite opens it: SQLite creates the `-wal` and `-shm` files with the
/// database file's mode, so they are private too.
#[cfg(unix)]
fn create_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    // Any failure (a missing folder, a file created meanwhile by another
    // process) is left to SQLite's open, which reports it or uses the file.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

#[cfg(not(unix))]
fn create_private(_path: &Path) {}

impl SqliteStore {
    /// Opens (and with [`OpenMode::CreateIfMissing`] creates) the store,
    /// bringing its schema up to date.
    pub(crate) fn open(
        url: &StoreUrl,
        mode: OpenMode,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let Some(path) = url.sqlite_path() else {
            return Err(StoreError::NotAStore(
                url.to_string(),
                "it is not a SQLite file",
            ));
        };
        let exists = path.exists();
        if !exists && mode == OpenMode::Existing {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        if path.is_dir() {
            return Err(StoreError::NotAStore(name_of(path), "it is a directory"));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if mode == OpenMode::CreateIfMissing {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
            if !exists {
                create_private(path);
            }
        }
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::CannotOpen(path.to_path_buf(), e))?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            seen_version: None,
        };
        store
            .conn
            .busy_timeout(timeout)
            .map_err(|e| sql_err(path, "setting the busy timeout", e))?;
        // While another process creates or upgrades the store, SQLite can
        // answer "busy" without waiting (switching to WAL takes an exclusive
        // lock, which the busy handler does not wait for). That is
        // transient: retry within the timeout.
        let started = Instant::now();
        loop {
            match store.check_and_migrate() {
                Err(StoreError::Locked(_)) if started.elapsed() < timeout => {
                    thread::sleep(OPEN_RETRY_EVERY);
                }
                result => return result.map(|()| store),
            }
        }
    }

    fn check_and_migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.as_path();
        // Reading the header first: a file that is not SQLite fails here,
        // before anything is written to it. One read transaction, so the
        // version, the application id and the table count come from the same
        // snapshot: another process may be creating the store right now, and
        // separate reads could see its tables but not yet its version.
        let read = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| sql_err(path, "reading the file header", e))?;
        let version = check_identity(&read, path)?;
        read.finish()
            .map_err(|e| sql_err(path, "reading the file header", e))?;
        if version == crate::LATEST_SCHEMA {
            return set_connection_pragmas(&self.conn, path);
        }
        // WAL must be set outside a transaction; it persists in the file.
        self.conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(|e| sql_err(path, "switching to WAL", e))?;
        set_connection_pragmas(&self.conn, path)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err(path, "starting the schema upgrade", e))?;
        // Another process may have upgraded it while we waited for the lock.
        let version = check_identity(&tx, path)?;
        let from = usize::try_from(version).unwrap_or(usize::MAX);
        for sql in MIGRATIONS.iter().skip(from) {
            tx.execute_batch(sql)
                .map_err(|e| sql_err(path, "upgrading the schema", e))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .and_then(|()| tx.pragma_update(None, "user_version", crate::LATEST_SCHEMA))
            .and_then(|()| tx.commit())
            .map_err(|e| sql_err(path, "upgrading the schema", e))
    }

    fn data_version(&self) -> Result<i64, StoreError> {
        data_version(&self.conn).map_err(|e| sql_err(&self.path, "checking for changes", e))
    }
}

fn begin<'c>(
    conn: &'c mut Connection,
    path: &Path,
    behavior: TransactionBehavior,
    doing: &'static str,
) -> Result<Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(behavior)
        .map_err(|e| sql_err(path, doing, e))
}

fn set_connection_pragmas(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA trusted_schema = OFF;")
        .map_err(|e| sql_err(path, "configuring the connection", e))
}

/// Checks that the file is a `wgauth` store this release can use; returns
/// its schema version (0 for a new, empty file).
fn check_identity(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let header = |e| sql_err(path, "reading the file header", e);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(header)?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(header)?;
    let not_a_store = |why| Err(StoreError::NotAStore(name_of(path), why));
    if app_id != 0 && app_id != APPLICATION_ID {
        return not_a_store("its SQLite application id belongs to another program");
    }
    if version > crate::LATEST_SCHEMA {
        return Err(StoreError::NewerSchema {
            store: name_of(path),
            found: version,
        });
    }
    if version > 0 && app_id != APPLICATION_ID {
        return not_a_store("it has a schema version but no wgauth application id");
    }
    if version < 0 {
        return not_a_store("its schema version is negative");
    }
    if version == 0 {
        // A fresh file has no tables; one with tables of its own is
        // someone else's database.
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(header)?;
        if objects > 0 {
            return not_a_store("it is a SQLite database with tables of another program");
        }
    }
    Ok(version)
}

fn data_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
}

/// SQLite integers are signed; instants past year 292 billion saturate.
fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

fn insert(conn: &Connection, r: &TokenRecord) -> Result<(), rusqlite::Error> {
    let rollover = r.rollover.map(|r| (r.verifier.to_bytes(), secs(r.until)));
    conn.prepare_cached(&format!(
        "INSERT INTO tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(rusqlite::params![
        r.id.to_string(),
        r.account.as_str(),
        r.name.as_str(),
        r.verifier.to_bytes(),
        secs(r.created_at),
        r.last_used_at.map(secs),
        rollover.map(|r| r.0),
        rollover.map(|r| r.1),
        crate::row::scopes_column(&r.scopes),
        r.expires_at.map(secs),
        r.disabled,
        r.description.as_ref().map(|d| d.as_str()),
    ])
    .map(drop)
}

/// Writes the fields an update may change (name, scopes, state,
/// description), in the caller's transaction.
fn write_fields(conn: &Connection, r: &TokenRecord) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "UPDATE tokens SET name = ?2, scopes = ?3, disabled = ?4, description = ?5 WHERE id = ?1",
    )?
    .execute(rusqlite::params![
        r.id.to_string(),
        r.name.as_str(),
        crate::row::scopes_column(&r.scopes),
        r.disabled,
        r.description.as_ref().map(|d| d.as_str()),
    ])
    .map(drop)
}

/// Appends one change to the log, in the caller's write transaction.
fn record_change(conn: &Connection, id: TokenId) -> Result<(), rusqlite::Error> {
    conn.prepare_cached("INSERT INTO changes (token_id, at) VALUES (?1, ?2)")?
        .execute(rusqlite::params![id.to_string(), secs(Timestamp::now())])
        .map(drop)
}

/// Appends one audit entry, in the caller's transaction.
fn insert_audit(
    conn: &Connection,
    note: &AuditNote,
    token: Option<(TokenId, &AccountId)>,
) -> Result<(), rusqlite::Error> {
    let (actor, action, detail) = note.stored();
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, action, token_id, account, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![
        secs(Timestamp::now()),
        actor,
        action,
        token.map(|(id, _)| id.to_string()),
        token.map(|(_, account)| account.as_str()),
        detail,
    ])
    .map(drop)
}

/// [`insert_audit`] for a token whose account may be unknown (a damaged row).
fn insert_audit_for(
    conn: &Connection,
    note: &AuditNote,
    id: TokenId,
    account: Option<&AccountId>,
) -> Result<(), rusqlite::Error> {
    if let Some(account) = account {
        return insert_audit(conn, note, Some((id, account)));
    }
    let (actor, action, detail) = note.stored();
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, action, token_id, account, detail) \
         VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
    )?
    .execute(rusqlite::params![
        secs(Timestamp::now()),
        actor,
        action,
        id.to_string(),
        detail,
    ])
    .map(drop)
}

/// A row as stored: a valid record, or why it is not one.
type Stored = Result<TokenRecord, BadRow>;

fn row_by_id(conn: &Connection, id: TokenId) -> Result<Option<Stored>, rusqlite::Error> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row([id.to_string()], validate)
        .optional()
}

fn row_by_name(
    conn: &Connection,
    account: &AccountId,
    name: &TokenName,
) -> Result<Option<Stored>, rusqlite::Error> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE account = ?1 AND name = ?2"
    ))?
    .query_row([account.as_str(), name.as_str()], validate)
    .optional()
}

fn head_of(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM changes")?
        .query_row([], |r| r.get(0))
}

/// Reads one `tokens` row and checks it is a valid record
/// ([`crate::row::check`]). The outer error is SQLite's; the inner one says
/// what is wrong with the row.
fn validate(row: &Row<'_>) -> Result<Stored, rusqlite::Error> {
    let id = row.get_ref(0)?;
    Ok(crate::row::check(RawRow {
        shown_id: match id {
            ValueRef::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            ValueRef::Integer(i) => i.to_string(),
            _ => String::from("(not text)"),
        },
        id: text(id),
        account: text(row.get_ref(1)?),
        name: text(row.get_ref(2)?),
        verifier: blob(row.get_ref(3)?),
        created_at: integer(row.get_ref(4)?),
        last_used_at: integer(row.get_ref(5)?),
        rollover_verifier: blob(row.get_ref(6)?),
        rollover_until: integer(row.get_ref(7)?),
        scopes: optional_text(row.get_ref(8)?),
        expires_at: integer(row.get_ref(9)?),
        disabled: match row.get_ref(10)? {
            ValueRef::Integer(0) => Ok(false),
            ValueRef::Integer(1) => Ok(true),
            _ => Err(()),
        },
        description: optional_text(row.get_ref(11)?),
    }))
}

fn optional_text(value: ValueRef<'_>) -> Result<Option<&str>, ()> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map(Some).map_err(drop),
        _ => Err(()),
    }
}

fn text(value: ValueRef<'_>) -> Result<&str, &'static str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map_err(|_| "is not UTF-8"),
        _ => Err("is not text"),
    }
}

fn blob(value: ValueRef<'_>) -> Result<Option<&[u8]>, ()> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(bytes) => Ok(Some(bytes)),
        _ => Err(()),
    }
}

fn integer(value: ValueRef<'_>) -> Result<Option<i64>, ()> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        _ => Err(()),
    }
}

impl Backend for SqliteStore {
    fn create(
        &mut self,
        spec: NewToken,
        now: Timestamp,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |doing| move |e| sql_err(path, doing, e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to create a token",
        )?;
        let taken: bool = tx
            .prepare_cached("SELECT count(*) > 0 FROM tokens WHERE account = ?1 AND name = ?2")
            .and_then(|mut s| {
                s.query_row([spec.account.as_str(), spec.name.as_str()], |r| r.get(0))
            })
            .map_err(err("looking up names"))?;
        if taken {
            return Err(StoreError::DuplicateName(spec.account, spec.name));
        }
        // 64 random bits: an id collision is all but impossible, but it only
        // costs a retry; eight in a row mean the generator is broken.
        for _ in 0..8 {
            let (token, record) =
                TokenRecord::create_from(&TokenFormat::DEFAULT, &mut OsRng, spec.clone(), now)
                    .map_err(|_| StoreError::Rng)?;
            match insert(&tx, &record) {
                Ok(()) => {
                    record_change(&tx, record.id)
                        .and_then(|()| {
                            let note = notes::create(actor, &record);
                            insert_audit(&tx, &note, Some((record.id, &record.account)))
                        })
                        .and_then(|()| tx.commit())
                        .map_err(err("saving the new token"))?;
                    return Ok((token, record));
                }
                Err(e) if is_code(&e, &[ErrorCode::ConstraintViolation]) => {}
                Err(e) => return Err(err("saving the new token")(e)),
            }
        }
        Err(StoreError::Rng)
    }

    fn list(&mut self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR account = ?1 \
                 ORDER BY account, created_at, id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([account], validate)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| sql_err(&self.path, "reading the tokens", e))?;
        rows.into_iter()
            .map(|row| row.map_err(|bad| damaged(&self.path, &bad)))
            .collect()
    }

    fn get(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        row_by_id(&self.conn, id)
            .map_err(|e| sql_err(&self.path, "reading a token", e))?
            .map(|row| row.map_err(|bad| damaged(&self.path, &bad)))
            .transpose()
    }

    fn find(
        &mut self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError> {
        row_by_name(&self.conn, account, name)
            .map_err(|e| sql_err(&self.path, "reading a token", e))?
            .map(|row| row.map_err(|bad| damaged(&self.path, &bad)))
            .transpose()
    }

    fn delete(&mut self, id: TokenId, actor: &str) -> Result<Option<TokenRecord>, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |doing| move |e| sql_err(path, doing, e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to delete a token",
        )?;
        let row = row_by_id(&tx, id)
            .map_err(err("reading a token"))?
            .ok_or(StoreError::UnknownToken(id))?;
        // The row goes whether or not it is a valid record: a removal is
        // never blocked by a damaged row.
        let record = row.ok();
        let note = notes::delete(actor, "token.delete", record.as_ref());
        let account = record.as_ref().map(|r| &r.account);
        tx.prepare_cached("DELETE FROM tokens WHERE id = ?1")
            .and_then(|mut s| s.execute([id.to_string()]))
            .and_then(|_| record_change(&tx, id))
            .and_then(|()| insert_audit_for(&tx, &note, id, account))
            .and_then(|()| tx.commit())
            .map_err(err("deleting a token"))?;
        Ok(record)
    }

    fn update(
        &mut self,
        id: TokenId,
        update: TokenUpdate,
        actor: &str,
    ) -> Result<TokenRecord, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |doing| move |e| sql_err(path, doing, e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to update a token",
        )?;
        let before = row_by_id(&tx, id)
            .map_err(err("reading a token"))?
            .ok_or(StoreError::UnknownToken(id))?
            .map_err(|bad| damaged(path, &bad))?;
        let mut after = before.clone();
        after.apply(update);
        if after.name != before.name {
            let taken: bool = tx
                .prepare_cached("SELECT count(*) > 0 FROM tokens WHERE account = ?1 AND name = ?2")
                .and_then(|mut s| {
                    s.query_row([after.account.as_str(), after.name.as_str()], |r| r.get(0))
                })
                .map_err(err("looking up names"))?;
            if taken {
                return Err(StoreError::DuplicateName(after.account, after.name));
            }
        }
        write_fields(&tx, &after)
            .and_then(|()| record_change(&tx, id))
            .and_then(|()| {
                let note = notes::update(actor, &before, &after);
                insert_audit(&tx, &note, Some((id, &after.account)))
            })
            .and_then(|()| tx.commit())
            .map_err(err("saving the updated token"))?;
        Ok(after)
    }

    fn delete_matching(
        &mut self,
        which: Which<'_>,
        actor: &str,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "deleting tokens", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to delete tokens",
        )?;
        let (filter, key): (&str, rusqlite::types::Value) = match which {
            Which::Account(account) => ("account = ?1", account.as_str().to_owned().into()),
            Which::ExpiredAt(now) => (
                "expires_at IS NOT NULL AND expires_at <= ?1",
                secs(now).into(),
            ),
        };
        let rows: Vec<(Option<TokenId>, Stored)> = tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE {filter} ORDER BY id"
            ))
            .and_then(|mut s| {
                s.query_map([key], |row| {
                    let id = row.get_ref(0)?;
                    let id = text(id)
                        .ok()
                        .and_then(|t| t.parse::<TokenId>().ok().filter(|id| id.to_string() == t));
                    Ok((id, validate(row)?))
                })?
                .collect()
            })
            .map_err(err)?;
        let mut deleted = Vec::new();
        for (id, row) in rows {
            // A row whose id is no token id names no token a follower
            // holds: it is left for `wgauth token delete` to report.
            let Some(id) = id else { continue };
            let record = row.ok();
            let note = notes::delete(actor, which.action(), record.as_ref());
            tx.prepare_cached("DELETE FROM tokens WHERE id = ?1")
                .and_then(|mut s| s.execute([id.to_string()]))
                .and_then(|_| record_change(&tx, id))
                .and_then(|()| {
                    insert_audit_for(&tx, &note, id, record.as_ref().map(|r| &r.account))
                })
                .map_err(err)?;
            deleted.extend(record);
        }
        tx.commit().map_err(err)?;
        Ok(deleted)
    }

    fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |doing| move |e| sql_err(path, doing, e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to regenerate a token",
        )?;
        let mut record = row_by_id(&tx, id)
            .map_err(err("reading a token"))?
            .ok_or(StoreError::UnknownToken(id))?
            .map_err(|bad| damaged(path, &bad))?;
        let token = record
            .regenerate(&TokenFormat::DEFAULT, &mut OsRng, now, grace_until)
            .map_err(|_| StoreError::Rng)?;
        let rollover = record
            .rollover
            .map(|r| (r.verifier.to_bytes(), secs(r.until)));
        tx.prepare_cached(
            "UPDATE tokens SET verifier = ?2, rollover_verifier = ?3, rollover_until = ?4 \
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                id.to_string(),
                record.verifier.to_bytes(),
                rollover.map(|r| r.0),
                rollover.map(|r| r.1),
            ])
        })
        .and_then(|_| record_change(&tx, id))
        .and_then(|()| {
            let note = notes::regenerate(actor, &record);
            insert_audit(&tx, &note, Some((id, &record.account)))
        })
        .and_then(|()| tx.commit())
        .map_err(err("saving the regenerated token"))?;
        Ok((token, record))
    }

    fn delete_where(
        &mut self,
        ids: &[TokenId],
        decide: &mut dyn FnMut(&TokenRecord) -> Option<AuditNote>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "deleting tokens", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to delete tokens",
        )?;
        let mut deleted = Vec::new();
        for &id in ids {
            let Some(Ok(record)) = row_by_id(&tx, id).map_err(err)? else {
                continue;
            };
            let Some(note) = decide(&record) else {
                continue;
            };
            tx.prepare_cached("DELETE FROM tokens WHERE id = ?1")
                .and_then(|mut s| s.execute([id.to_string()]))
                .and_then(|_| record_change(&tx, id))
                .and_then(|()| insert_audit(&tx, &note, Some((id, &record.account))))
                .map_err(err)?;
            deleted.push(record);
        }
        // Nothing written: a rollback costs no sync.
        if deleted.is_empty() {
            tx.rollback().map_err(err)?;
        } else {
            tx.commit().map_err(err)?;
        }
        Ok(deleted)
    }

    fn append_audit(
        &mut self,
        note: &AuditNote,
        token: Option<(TokenId, &AccountId)>,
    ) -> Result<(), StoreError> {
        insert_audit(&self.conn, note, token)
            .map_err(|e| sql_err(&self.path, "writing the audit trail", e))
    }

    fn audit(
        &mut self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let path = self.path.as_path();
        let err = |e| sql_err(path, "reading the audit trail", e);
        type Raw = (
            i64,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Raw> = self
            .conn
            .prepare_cached(
                "SELECT seq, at, actor, action, token_id, account, detail FROM audit \
                 WHERE ?1 IS NULL OR account = ?1 ORDER BY seq DESC LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(rusqlite::params![account, limit], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect()
            })
            .map_err(err)?;
        rows.into_iter()
            .map(|(seq, at, actor, action, token_id, account, detail)| {
                let seq = u64::try_from(seq).unwrap_or(0);
                let token_id = crate::audit::token_id_of(seq, token_id.as_deref())
                    .map_err(|why| StoreError::Damaged(format!("in {}, {why}", name_of(path))))?;
                Ok(AuditEntry {
                    seq,
                    at: Timestamp(u64::try_from(at).unwrap_or(0)),
                    actor,
                    action,
                    token_id,
                    account,
                    detail,
                })
            })
            .collect()
    }

    fn record_last_used(&mut self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "recording last use", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to record last use",
        )?;
        {
            // Not a change: verification does not depend on it.
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 \
                     AND (last_used_at IS NULL OR last_used_at < ?2)",
                )
                .map_err(err)?;
            for (id, at) in uses {
                stmt.execute(rusqlite::params![id.to_string(), secs(*at)])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn compact_changes(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "compacting the change log", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Immediate,
            "starting to compact the change log",
        )?;
        // The newest row stays: the head is read from it.
        let deleted = tx
            .execute(
                "DELETE FROM changes WHERE at < ?1 AND seq < (SELECT max(seq) FROM changes)",
                [secs(before)],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    fn snapshot(&mut self) -> Result<Snapshot, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "reading the tokens", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Deferred,
            "starting to read the tokens",
        )?;
        let mut snapshot = Snapshot::default();
        {
            let mut stmt = tx
                .prepare(&format!("SELECT {COLUMNS} FROM tokens"))
                .map_err(err)?;
            let rows = stmt.query_map([], validate).map_err(err)?;
            for row in rows {
                match row.map_err(err)? {
                    Ok(record) => snapshot.records.push(record),
                    Err(bad) => snapshot.bad_rows.push(bad),
                }
            }
        }
        let head = head_of(&tx).map_err(err)?;
        snapshot.head = u64::try_from(head).unwrap_or(0);
        let version = data_version(&tx).map_err(err)?;
        tx.finish().map_err(err)?;
        self.seen_version = Some(version);
        Ok(snapshot)
    }

    fn changes_since(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(Change, RowState)>, StoreError> {
        let Ok(after) = i64::try_from(after) else {
            // Past any seq SQLite can hold.
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "reading the change log", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Deferred,
            "starting to read the change log",
        )?;
        let logged: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT seq, token_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map([after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(err)?;
        let mut changes = Vec::with_capacity(logged.len());
        for (seq, token_id) in logged {
            let id = token_id
                .parse::<TokenId>()
                .ok()
                .filter(|id| id.to_string() == token_id);
            let (Some(id), Ok(seq)) = (id, u64::try_from(seq)) else {
                return Err(StoreError::Damaged(format!(
                    "in {}, change {seq} names {token_id:?}, which is not a token id: the \
                     change log was written by another program; restore the store from a backup",
                    name_of(path)
                )));
            };
            let state = match row_by_id(&tx, id).map_err(err)? {
                None => RowState::Absent,
                Some(Ok(record)) => RowState::Present(record),
                Some(Err(bad)) => RowState::Invalid(bad),
            };
            changes.push((Change { seq, id }, state));
        }
        let version = data_version(&tx).map_err(err)?;
        tx.finish().map_err(err)?;
        self.seen_version = Some(version);
        Ok(changes)
    }

    fn head(&mut self) -> Result<u64, StoreError> {
        let (conn, path) = (&mut self.conn, self.path.as_path());
        let err = |e| sql_err(path, "reading the change log", e);
        let tx = begin(
            conn,
            path,
            TransactionBehavior::Deferred,
            "starting to read the change log",
        )?;
        let head = head_of(&tx).map_err(err)?;
        let version = data_version(&tx).map_err(err)?;
        tx.finish().map_err(err)?;
        self.seen_version = Some(version);
        Ok(u64::try_from(head).unwrap_or(0))
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Result<(), StoreError> {
        let started = Instant::now();
        let baseline = match self.seen_version {
            Some(version) => version,
            None => self.data_version()?,
        };
        loop {
            let version = self.data_version()?;
            let left = timeout.saturating_sub(started.elapsed());
            if version != baseline || left.is_zero() {
                self.seen_version = Some(version);
                return Ok(());
            }
            thread::sleep(POLL_EVERY.min(left));
        }
    }
}
