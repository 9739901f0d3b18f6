//! The fleet backend: PostgreSQL, through the blocking `postgres` client.
//!
//! - Schema version 4, the same logical schema as SQLite ([`SCHEMA_V1`] to
//!   [`SCHEMA_V4`]), plus `wgauth_meta` ([`META`]: an application marker and
//!   the version, so a database that is not a store, or one written by a
//!   newer release, is refused unchanged) and `wgauth_head`, the one-row
//!   counter every write takes its `seq` from.
//! - Migrations are append-only and run in one transaction under an advisory
//!   lock, so two processes opening a fresh database at once do not race.
//! - Every write, in one READ COMMITTED transaction: `UPDATE wgauth_head SET
//!   seq = seq + 1 RETURNING seq` first, then the `tokens` change, the
//!   `changes` row and `pg_notify`. The counter's row lock is held until
//!   commit, so the next writer reads the counter only once this one is
//!   visible: `seq` order is commit order, with no gap (a sequence would not
//!   do: its values are taken at insert, not at commit; docs/STORE.md).
//! - Reads that must agree with each other (`snapshot`, `changes_since`) run
//!   in one REPEATABLE READ transaction.
//! - No call blocks forever: a connect timeout, `statement_timeout`,
//!   `lock_timeout` and `idle_in_transaction_session_timeout` from the
//!   timeout given at open, and TCP keepalives plus a TCP user timeout.
//! - Queries go through `query_typed` (parameter types given): one round
//!   trip each, and no named prepared statement, so a transaction-pooling
//!   proxy in front of the server works too.
//! - Wake-ups: a connection `LISTEN`s before its first read of the log
//!   (`snapshot`, `changes_since`, `head`), so a commit that read missed
//!   notifies it; `wait_for_change` returns on a notification of a `seq`
//!   past the latest read (payload: the `seq`), or at its timeout. On a
//!   connection that has not read the log yet, it returns at once.
//! - A lost connection is [`StoreError::Unreachable`], once: notifications
//!   sent meanwhile are lost, so a follower must catch up in full. The next
//!   call connects again.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Transaction};
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

/// The marker in `wgauth_meta.application`: this database is a token store.
pub(crate) const APPLICATION: &str = "whatsgate-auth token store";

/// The channel every write notifies (payload: its `seq`).
pub(crate) const CHANNEL: &str = "wgauth_changes";

/// The advisory lock key held while the schema is checked or migrated
/// ("wgauthPG" in ASCII).
const SCHEMA_LOCK: i64 = 0x7767_6175_7468_5047;

/// Created with the first migration: what this database is, and its schema
/// version. Its shape never changes, so every release can read it.
pub(crate) const META: &str = "
CREATE TABLE wgauth_meta (
    singleton      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    application    TEXT    NOT NULL,
    schema_version BIGINT  NOT NULL
);
";

/// Version 1: the tokens, as in the SQLite store's first schema. Text
/// columns compare and sort bytewise (`COLLATE \"C\"`), as SQLite's do.
pub(crate) const SCHEMA_V1: &str = "
CREATE TABLE tokens (
    id                TEXT COLLATE \"C\" PRIMARY KEY CHECK (length(id) = 16),
    account           TEXT COLLATE \"C\" NOT NULL,
    name              TEXT COLLATE \"C\" NOT NULL,
    verifier          BYTEA  NOT NULL CHECK (length(verifier) = 32),
    created_at        BIGINT NOT NULL,
    last_used_at      BIGINT,
    rollover_verifier BYTEA  CHECK (rollover_verifier IS NULL OR length(rollover_verifier) = 32),
    rollover_until    BIGINT,
    CHECK ((rollover_verifier IS NULL) = (rollover_until IS NULL)),
    UNIQUE (account, name)
);
";

/// Version 2: the change log, and the counter that orders it.
pub(crate) const SCHEMA_V2: &str = "
CREATE TABLE changes (
    seq      BIGINT PRIMARY KEY CHECK (seq > 0),
    token_id TEXT COLLATE \"C\" NOT NULL,
    at       BIGINT NOT NULL
);
CREATE TABLE wgauth_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    seq       BIGINT  NOT NULL CHECK (seq >= 0)
);
INSERT INTO wgauth_head (seq) SELECT coalesce(max(seq), 0) FROM changes;
";

/// Version 3: the audit trail (one row per audited write, in the write's
/// transaction; never a secret). Its `seq` orders entries for reading
/// only, so an identity column does (no follower walks it).
pub(crate) const SCHEMA_V3: &str = "
CREATE TABLE audit (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT COLLATE \"C\" NOT NULL,
    action   TEXT COLLATE \"C\" NOT NULL,
    token_id TEXT COLLATE \"C\",
    account  TEXT COLLATE \"C\",
    detail   TEXT NOT NULL
);
CREATE INDEX audit_by_account ON audit (account, seq);
";

/// Version 4: the record fields beyond the seed's, as in SQLite's (existing
/// tokens keep full access, no expiry, enabled, no description).
pub(crate) const SCHEMA_V4: &str = "
ALTER TABLE tokens
    ADD COLUMN scopes      TEXT COLLATE \"C\",
    ADD COLUMN expires_at  BIGINT,
    ADD COLUMN disabled    BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN description TEXT;
CREATE INDEX tokens_by_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;
";

/// The migrations, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Append only; never edit a released entry.
pub(crate) const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4];

const _: () = assert!(MIGRATIONS.len() as i64 == crate::LATEST_SCHEMA);

const COLUMNS: &str = "id, account, name, verifier, created_at, last_used_at, rollover_verifier, \
                       rollover_until, scopes, expires_at, disabled, description";

/// The same columns of `tokens` joined as `t`.
const T_COLUMNS: &str = "t.id, t.account, t.name, t.verifier, t.created_at, t.last_used_at, \
                         t.rollover_verifier, t.rollover_until, t.scopes, t.expires_at, \
                         t.disabled, t.description";

/// A store in a PostgreSQL database.
pub(crate) struct PgStore {
    /// The driver's configuration, password included: never printed.
    config: Config,
    /// `None` after the connection was lost: the next call connects again.
    client: Option<Client>,
    /// The URL as messages show it (password redacted).
    store: String,
    timeout: Duration,
    /// Whether this connection has run `LISTEN` (before its first read of
    /// the log, so every commit the read missed notifies it).
    listening: bool,
    /// The latest `seq` a read of the log covered: a notification at or
    /// below it is old news.
    seen: u64,
    /// Notifications were dropped unread: the next wait returns at once.
    missed: bool,
}

/// The longest timeout PostgreSQL takes (`i32::MAX` milliseconds, 24 days).
const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Notifications kept for a store that reads the log but never waits:
/// past this, they are dropped and the next wait returns at once.
const MAX_PENDING: usize = 1024;

/// An operation's failure: a driver error (classified with the connection
/// at hand) or an answer already.
enum Fail {
    Pg(&'static str, postgres::Error),
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// `map_err` for driver errors: what was being done.
fn pg(doing: &'static str) -> impl FnOnce(postgres::Error) -> Fail {
    move |e| Fail::Pg(doing, e)
}

impl PgStore {
    pub(crate) fn open(
        url: &StoreUrl,
        mode: OpenMode,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        // PostgreSQL's timeouts are 32-bit milliseconds, and 0 means none.
        let timeout = timeout.clamp(Duration::from_millis(1), MAX_TIMEOUT);
        let store = url.to_string();
        let conninfo = url
            .postgres_conninfo()
            .ok_or_else(|| StoreError::NotAStore(store.clone(), "it is not a postgresql:// URL"))?;
        // The URL parser's messages name options, never their values.
        let config = Config::from_str(conninfo)
            .map_err(|e| StoreError::BadConnectionString(store.clone(), describe(&e)))?;
        let mut this = Self {
            config: with_timeouts(config, timeout),
            client: None,
            store,
            timeout,
            listening: false,
            seen: 0,
            missed: false,
        };
        this.connect(mode)?;
        Ok(this)
    }

    /// Connects, sets the session's timeouts, and checks (and with
    /// [`OpenMode::CreateIfMissing`] creates or upgrades) the schema.
    fn connect(&mut self, mode: OpenMode) -> Result<(), StoreError> {
        self.listening = false;
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|e| StoreError::Unreachable(self.store.clone(), describe(&e)))?;
        let result = configure(&mut client, &self.store, self.timeout)
            .and_then(|()| check_and_migrate(&mut client, &self.store, mode));
        match result {
            Ok(()) => {
                self.client = Some(client);
                Ok(())
            }
            Err(fail) => {
                self.client = Some(client);
                let e = self.classify(fail);
                self.client = None;
                Err(e)
            }
        }
    }

    /// The connection, connecting again if the last one was lost.
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_none() {
            // The schema was there before: a store that vanished is not
            // created again behind the caller's back.
            self.connect(OpenMode::Existing)?;
        }
        self.client.as_mut().ok_or_else(|| {
            StoreError::Unreachable(self.store.clone(), "the connection was lost".into())
        })
    }

    /// Runs one operation on the connection and classifies its failure.
    fn run<T>(&mut self, op: impl FnOnce(&mut Client) -> Result<T, Fail>) -> Result<T, StoreError> {
        let client = self.client()?;
        let result = op(client);
        let overflow = client.notifications().len() > MAX_PENDING;
        if overflow {
            let mut pending = client.notifications();
            while let Ok(Some(_)) = pending.iter().next() {}
        }
        // Dropped unread: the next wait returns at once.
        self.missed |= overflow;
        result.map_err(|fail| self.classify(fail))
    }

    /// `LISTEN`s, once per connection, before a read of the log: a commit
    /// that read does not see then notifies this connection.
    fn listen(&mut self) -> Result<(), StoreError> {
        if self.listening {
            return Ok(());
        }
        self.run(|client| {
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(pg("listening for changes"))
        })?;
        self.listening = true;
        Ok(())
    }

    /// Notes that a read of the log covered every change up to `seq`.
    fn saw(&mut self, seq: u64) {
        self.seen = self.seen.max(seq);
    }

    /// Runs one write: a READ COMMITTED transaction that first takes the next
    /// `seq` (and with it the counter's row lock, held until commit), then
    /// `op`, then records the change and notifies followers.
    fn write<T>(
        &mut self,
        doing: &'static str,
        op: impl FnOnce(&mut Transaction<'_>) -> Result<(T, TokenId), Fail>,
    ) -> Result<T, StoreError> {
        self.drop_if_dead();
        self.run(|client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .map_err(pg(doing))?;
            let seq: i64 = tx
                .query_typed_one("UPDATE wgauth_head SET seq = seq + 1 RETURNING seq", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg("taking the next change number"))?;
            let (value, id) = op(&mut tx)?;
            let id = id.to_string();
            tx.execute_typed(
                "INSERT INTO changes (seq, token_id, at) \
                 VALUES ($1, $2, floor(extract(epoch FROM clock_timestamp()))::bigint)",
                &[(&seq, Type::INT8), (&id, Type::TEXT)],
            )
            .map_err(pg("recording the change"))?;
            let payload = seq.to_string();
            tx.execute_typed(
                "SELECT pg_notify($1, $2)",
                &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)],
            )
            .map_err(pg("notifying followers"))?;
            tx.commit().map_err(pg(doing))?;
            Ok(value)
        })
    }

    /// A connection that died while idle (the server restarted) is found
    /// before a write, instead of by failing it: one empty round trip, and
    /// writes are rare.
    fn drop_if_dead(&mut self) {
        if self
            .client
            .as_mut()
            .is_some_and(|client| client.is_valid(self.timeout).is_err())
        {
            self.client = None;
            self.listening = false;
        }
    }

    /// Turns a failure into the caller's error. A lost connection is
    /// dropped (the next call connects again) and answered `Unreachable`.
    fn classify(&mut self, fail: Fail) -> StoreError {
        let (doing, e) = match fail {
            Fail::Store(e) => return e,
            Fail::Pg(doing, e) => (doing, e),
        };
        let closed = self.client.as_ref().is_none_or(Client::is_closed);
        if closed || connection_lost(&e) {
            self.client = None;
            self.listening = false;
            return StoreError::Unreachable(self.store.clone(), describe(&e));
        }
        match e.as_db_error() {
            Some(db)
                if *db.code() == SqlState::QUERY_CANCELED
                    || *db.code() == SqlState::LOCK_NOT_AVAILABLE =>
            {
                StoreError::Locked(self.store.clone())
            }
            // An integrity error's DETAIL can quote the whole row (a
            // verifier too): keep only its message.
            Some(db) if db.code().code().starts_with("23") => StoreError::Damaged(format!(
                "the server refused a row while {doing}: {}",
                db.message()
            )),
            _ => StoreError::Postgres(doing, e),
        }
    }
}

/// The driver's configuration with this store's timeouts, where the URL
/// did not set its own.
fn with_timeouts(mut config: Config, timeout: Duration) -> Config {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(timeout);
    }
    // A peer that vanishes without a word (a cable pulled, a VM frozen) is
    // noticed within a few timeouts rather than after the kernel's 2 hours.
    // (Keepalives are on unless the URL turns them off; 2 hours is the
    // driver's default idle time, which no URL would ask for on purpose.)
    let secs = timeout.max(Duration::from_secs(1));
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(secs);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(secs);
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        // Data unacknowledged this long: the peer is gone (a statement
        // itself may take up to `timeout`).
        config.tcp_user_timeout(secs.saturating_mul(2));
    }
    if config.get_application_name().is_none() {
        config.application_name("wgauth");
    }
    config
}

/// The session's server-side timeouts: no statement, lock wait or open
/// transaction lasts longer than the timeout (an abandoned transaction
/// would hold the counter's lock and stop every writer).
fn configure(client: &mut Client, store: &str, timeout: Duration) -> Result<(), Fail> {
    let millis = timeout
        .clamp(Duration::from_millis(1), MAX_TIMEOUT)
        .as_millis()
        .to_string();
    let row = client
        .query_typed_one(
            "SELECT set_config('statement_timeout', $1, false), \
                    set_config('lock_timeout', $1, false), \
                    set_config('idle_in_transaction_session_timeout', $1, false), \
                    current_setting('server_encoding')",
            &[(&millis, Type::TEXT)],
        )
        .map_err(pg("configuring the connection"))?;
    let encoding: String = row.try_get(3).map_err(pg("configuring the connection"))?;
    if encoding != "UTF8" {
        return Err(Fail::Store(StoreError::NotAStore(
            store.to_owned(),
            "its encoding is not UTF8 (create the database with ENCODING 'UTF8')",
        )));
    }
    Ok(())
}

/// What the database holds, read under the schema lock.
enum Found {
    /// None of the store's tables: a fresh database (or schema).
    Nothing,
    /// A store at this schema version.
    Version(i64),
}

fn inspect(tx: &mut Transaction<'_>, store: &str) -> Result<Found, Fail> {
    let doing = "reading the schema version";
    // A scan of the catalog with this statement's snapshot, not a name
    // lookup (`to_regclass`): a lookup may answer from this session's cache,
    // which can still say "no such table" after another process created it
    // while this one waited for the schema lock.
    let row = tx
        .query_typed_one(
            "SELECT coalesce(bool_or(c.relname = 'wgauth_meta'), false), \
                    coalesce(bool_or(c.relname <> 'wgauth_meta'), false) \
             FROM pg_catalog.pg_class AS c \
             JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() \
               AND c.relname IN ('wgauth_meta', 'tokens', 'changes', 'wgauth_head', 'audit')",
            &[],
        )
        .map_err(pg(doing))?;
    let has_meta: bool = row.try_get(0).map_err(pg(doing))?;
    let has_tables: bool = row.try_get(1).map_err(pg(doing))?;
    if !has_meta {
        if has_tables {
            return Err(StoreError::NotAStore(
                store.to_owned(),
                "it has a tokens, changes, wgauth_head or audit table but no wgauth_meta: \
                 another program's tables",
            )
            .into());
        }
        return Ok(Found::Nothing);
    }
    let not_ours = || {
        Fail::Store(StoreError::NotAStore(
            store.to_owned(),
            "its wgauth_meta table does not mark a wgauth token store",
        ))
    };
    let rows = match tx.query_typed("SELECT application, schema_version FROM wgauth_meta", &[]) {
        Ok(rows) => rows,
        // Columns of another shape: someone else's table of that name.
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_COLUMN) => return Err(not_ours()),
        Err(e) => return Err(Fail::Pg(doing, e)),
    };
    let [row] = rows.as_slice() else {
        return Err(not_ours());
    };
    let application: Option<String> = row.try_get(0).map_err(|_| not_ours())?;
    let version: Option<i64> = row.try_get(1).map_err(|_| not_ours())?;
    match (application.as_deref(), version) {
        (Some(APPLICATION), Some(version)) if version > crate::LATEST_SCHEMA => {
            Err(StoreError::NewerSchema {
                store: store.to_owned(),
                found: version,
            }
            .into())
        }
        (Some(APPLICATION), Some(version)) if version >= 0 => Ok(Found::Version(version)),
        (Some(APPLICATION), Some(_)) => {
            Err(StoreError::NotAStore(store.to_owned(), "its schema version is negative").into())
        }
        _ => Err(not_ours()),
    }
}

/// Checks the schema under a shared advisory lock (many openers at once);
/// when it is behind, upgrades it under the exclusive lock, in one
/// transaction, reading the version again (another process may have
/// upgraded meanwhile).
fn check_and_migrate(client: &mut Client, store: &str, mode: OpenMode) -> Result<(), Fail> {
    let doing = "checking the schema";
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(pg(doing))?;
    tx.execute_typed(
        "SELECT pg_advisory_xact_lock_shared($1)",
        &[(&SCHEMA_LOCK, Type::INT8)],
    )
    .map_err(pg("waiting for the schema lock"))?;
    let found = inspect(&mut tx, store)?;
    tx.commit().map_err(pg(doing))?;
    match found {
        Found::Version(v) if v == crate::LATEST_SCHEMA => return Ok(()),
        Found::Nothing if mode == OpenMode::Existing => {
            return Err(StoreError::Missing(store.into()).into());
        }
        _ => {}
    }

    let doing = "upgrading the schema";
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(pg(doing))?;
    tx.execute_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&SCHEMA_LOCK, Type::INT8)],
    )
    .map_err(pg("waiting for the schema lock"))?;
    // Read committed: each statement sees what committed before it, so
    // this sees another process's upgrade that finished while we waited.
    let from = match inspect(&mut tx, store)? {
        Found::Version(v) => v,
        Found::Nothing if mode == OpenMode::Existing => {
            return Err(StoreError::Missing(store.into()).into());
        }
        Found::Nothing => {
            tx.batch_execute(META).map_err(pg(doing))?;
            tx.execute_typed(
                "INSERT INTO wgauth_meta (application, schema_version) VALUES ($1, 0)",
                &[(&APPLICATION, Type::TEXT)],
            )
            .map_err(pg(doing))?;
            0
        }
    };
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    for sql in MIGRATIONS.iter().skip(from) {
        tx.batch_execute(sql).map_err(pg(doing))?;
    }
    tx.execute_typed(
        "UPDATE wgauth_meta SET schema_version = $1",
        &[(&crate::LATEST_SCHEMA, Type::INT8)],
    )
    .map_err(pg(doing))?;
    tx.commit().map_err(pg(doing))
}

/// Whether the error means the connection is gone (or going: a FATAL
/// error ends the session).
fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return code.starts_with("08")
            || code.starts_with("57P")
            || matches!(db.severity(), "FATAL" | "PANIC");
    }
    // I/O errors (reset, refused, timed out) come with an io::Error source.
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// The driver's error in one line, without the server's DETAIL (which can
/// quote a row).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Instants are signed 64-bit in the database; past year 292 billion they
/// saturate.
fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// A `tokens` row (the columns of [`COLUMNS`] from `first` on) as a
/// record, or why it is not one ([`crate::row::check`]).
fn decode(row: &Row, first: usize) -> Result<TokenRecord, BadRow> {
    let id: Option<&str> = row.try_get(first).ok();
    let text = |col: usize| row.try_get::<_, &str>(col).map_err(|_| "is not text");
    crate::row::check(RawRow {
        shown_id: id.unwrap_or("(not text)").to_owned(),
        id: id.ok_or("is not text"),
        account: text(first + 1),
        name: text(first + 2),
        verifier: row.try_get(first + 3).map_err(drop),
        created_at: row.try_get(first + 4).map_err(drop),
        last_used_at: row.try_get(first + 5).map_err(drop),
        rollover_verifier: row.try_get(first + 6).map_err(drop),
        rollover_until: row.try_get(first + 7).map_err(drop),
        scopes: row.try_get(first + 8).map_err(drop),
        expires_at: row.try_get(first + 9).map_err(drop),
        disabled: row.try_get(first + 10).map_err(drop),
        description: row.try_get(first + 11).map_err(drop),
    })
}

/// A row the caller asked for by itself (`list`, `get`, `find`,
/// `regenerate`): one that is not a valid record is an error.
fn valid(store: &str, row: &Row) -> Result<TokenRecord, Fail> {
    decode(row, 0).map_err(|bad| Fail::Store(crate::row::damaged(store, &bad)))
}

fn insert(tx: &mut Transaction<'_>, r: &TokenRecord) -> Result<bool, postgres::Error> {
    let id = r.id.to_string();
    let verifier = r.verifier.to_bytes().to_vec();
    let created_at = secs(r.created_at);
    let last_used_at = r.last_used_at.map(secs);
    let rollover_verifier = r.rollover.map(|r| r.verifier.to_bytes().to_vec());
    let rollover_until = r.rollover.map(|r| secs(r.until));
    let scopes = crate::row::scopes_column(&r.scopes);
    let expires_at = r.expires_at.map(secs);
    let description = r.description.as_ref().map(|d| d.as_str());
    tx.execute_typed(
        &format!(
            "INSERT INTO tokens ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT DO NOTHING"
        ),
        &[
            (&id, Type::TEXT),
            (&r.account.as_str(), Type::TEXT),
            (&r.name.as_str(), Type::TEXT),
            (&verifier, Type::BYTEA),
            (&created_at, Type::INT8),
            (&last_used_at, Type::INT8),
            (&rollover_verifier, Type::BYTEA),
            (&rollover_until, Type::INT8),
            (&scopes, Type::TEXT),
            (&expires_at, Type::INT8),
            (&r.disabled, Type::BOOL),
            (&description, Type::TEXT),
        ],
    )
    .map(|n| n == 1)
}

/// Appends one audit entry in the caller's transaction (`account` unknown
/// for a row that is not a valid record).
fn insert_audit(
    tx: &mut impl GenericClient,
    note: &AuditNote,
    id: Option<TokenId>,
    account: Option<&AccountId>,
) -> Result<(), postgres::Error> {
    let (actor, action, detail) = note.stored();
    let at = secs(Timestamp::now());
    let id = id.map(|id| id.to_string());
    let account = account.map(AccountId::as_str);
    tx.execute_typed(
        "INSERT INTO audit (at, actor, action, token_id, account, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            (&at, Type::INT8),
            (&actor, Type::TEXT),
            (&action, Type::TEXT),
            (&id, Type::TEXT),
            (&account, Type::TEXT),
            (&detail, Type::TEXT),
        ],
    )
    .map(drop)
}

fn find_by_name(
    tx: &mut impl GenericClient,
    account: &AccountId,
    name: &TokenName,
) -> Result<Option<Row>, postgres::Error> {
    tx.query_typed_opt(
        &format!("SELECT {COLUMNS} FROM tokens WHERE account = $1 AND name = $2"),
        &[
            (&account.as_str(), Type::TEXT),
            (&name.as_str(), Type::TEXT),
        ],
    )
}

/// A read-only REPEATABLE READ transaction: every statement in it reads the
/// same snapshot.
fn snapshot_tx(client: &mut Client) -> Result<Transaction<'_>, Fail> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg("starting a consistent read"))
}

fn head_of(tx: &mut Transaction<'_>) -> Result<u64, Fail> {
    let doing = "reading the change log's head";
    let seq: i64 = tx
        .query_typed_one("SELECT seq FROM wgauth_head", &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg(doing))?;
    u64::try_from(seq)
        .map_err(|_| StoreError::Damaged("the change log's head is negative".into()).into())
}

impl Backend for PgStore {
    fn create(
        &mut self,
        spec: NewToken,
        now: Timestamp,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let (account, name) = (spec.account.clone(), spec.name.clone());
        self.write("creating a token", |tx| {
            if find_by_name(tx, &account, &name)
                .map_err(pg("looking up names"))?
                .is_some()
            {
                return Err(StoreError::DuplicateName(account.clone(), name.clone()).into());
            }
            // 64 random bits: a collision is all but impossible, and costs a retry.
            for _ in 0..8 {
                let (token, record) =
                    TokenRecord::create_from(&TokenFormat::DEFAULT, &mut OsRng, spec.clone(), now)
                        .map_err(|_| StoreError::Rng)?;
                if insert(tx, &record).map_err(pg("saving the new token"))? {
                    let id = record.id;
                    let note = notes::create(actor, &record);
                    insert_audit(tx, &note, Some(id), Some(&record.account))
                        .map_err(pg("writing the audit trail"))?;
                    return Ok(((token, record), id));
                }
                // Writers are serialized, so the name is still free unless
                // another program inserted it meanwhile.
                if find_by_name(tx, &account, &name)
                    .map_err(pg("looking up names"))?
                    .is_some()
                {
                    return Err(StoreError::DuplicateName(account.clone(), name.clone()).into());
                }
            }
            Err(StoreError::Damaged("could not find a free token id after 8 tries".into()).into())
        })
    }

    fn list(&mut self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let store = self.store.clone();
        self.run(|client| {
            let rows = client
                .query_typed(
                    &format!(
                        "SELECT {COLUMNS} FROM tokens WHERE $1::text IS NULL OR account = $1 \
                         ORDER BY account, created_at, id"
                    ),
                    &[(&account, Type::TEXT)],
                )
                .map_err(pg("reading the tokens"))?;
            rows.iter().map(|row| valid(&store, row)).collect()
        })
    }

    fn get(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        let store = self.store.clone();
        self.run(|client| {
            let id = id.to_string();
            client
                .query_typed_opt(
                    &format!("SELECT {COLUMNS} FROM tokens WHERE id = $1"),
                    &[(&id, Type::TEXT)],
                )
                .map_err(pg("reading a token"))?
                .as_ref()
                .map(|row| valid(&store, row))
                .transpose()
        })
    }

    fn find(
        &mut self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let store = self.store.clone();
        self.run(|client| {
            find_by_name(client, account, name)
                .map_err(pg("reading a token"))?
                .as_ref()
                .map(|row| valid(&store, row))
                .transpose()
        })
    }

    fn delete(&mut self, id: TokenId, actor: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.write("deleting a token", |tx| {
            let key = id.to_string();
            let row = tx
                .query_typed_opt(
                    &format!("DELETE FROM tokens WHERE id = $1 RETURNING {COLUMNS}"),
                    &[(&key, Type::TEXT)],
                )
                .map_err(pg("deleting a token"))?
                .ok_or(StoreError::UnknownToken(id))?;
            // A row that is not a valid record is removed all the same.
            let record = decode(&row, 0).ok();
            let note = notes::delete(actor, "token.delete", record.as_ref());
            insert_audit(tx, &note, Some(id), record.as_ref().map(|r| &r.account))
                .map_err(pg("writing the audit trail"))?;
            Ok((record, id))
        })
    }

    fn update(
        &mut self,
        id: TokenId,
        update: TokenUpdate,
        actor: &str,
    ) -> Result<TokenRecord, StoreError> {
        let store = self.store.clone();
        self.write("updating a token", |tx| {
            let key = id.to_string();
            let row = tx
                .query_typed_opt(
                    &format!("SELECT {COLUMNS} FROM tokens WHERE id = $1 FOR UPDATE"),
                    &[(&key, Type::TEXT)],
                )
                .map_err(pg("reading a token"))?
                .ok_or(StoreError::UnknownToken(id))?;
            let before = valid(&store, &row)?;
            let mut after = before.clone();
            after.apply(update);
            // Writers are serialized by the counter's lock, so a name free
            // now is free at commit.
            if after.name != before.name
                && find_by_name(tx, &after.account, &after.name)
                    .map_err(pg("looking up names"))?
                    .is_some()
            {
                return Err(StoreError::DuplicateName(after.account, after.name).into());
            }
            let name = after.name.as_str();
            let scopes = crate::row::scopes_column(&after.scopes);
            let description = after.description.as_ref().map(|d| d.as_str());
            tx.execute_typed(
                "UPDATE tokens SET name = $2, scopes = $3, disabled = $4, description = $5 \
                 WHERE id = $1",
                &[
                    (&key, Type::TEXT),
                    (&name, Type::TEXT),
                    (&scopes, Type::TEXT),
                    (&after.disabled, Type::BOOL),
                    (&description, Type::TEXT),
                ],
            )
            .map_err(pg("saving the updated token"))?;
            let note = notes::update(actor, &before, &after);
            insert_audit(tx, &note, Some(id), Some(&after.account))
                .map_err(pg("writing the audit trail"))?;
            Ok((after, id))
        })
    }

    fn delete_matching(
        &mut self,
        which: Which<'_>,
        actor: &str,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.drop_if_dead();
        self.run(|client| {
            let doing = "deleting tokens";
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .map_err(pg(doing))?;
            // The counter's row lock first, as every writer takes it.
            tx.execute_typed("SELECT seq FROM wgauth_head FOR UPDATE", &[])
                .map_err(pg("taking the next change number"))?;
            let rows = match which {
                Which::Account(account) => tx.query_typed(
                    &format!(
                        "DELETE FROM tokens WHERE account = $1 AND id ~ '^[0-9a-f]{{16}}$' \
                         RETURNING {COLUMNS}"
                    ),
                    &[(&account.as_str(), Type::TEXT)],
                ),
                Which::ExpiredAt(now) => tx.query_typed(
                    &format!(
                        "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= $1 \
                         AND id ~ '^[0-9a-f]{{16}}$' RETURNING {COLUMNS}"
                    ),
                    &[(&secs(now), Type::INT8)],
                ),
            }
            .map_err(pg(doing))?;
            let mut deleted = Vec::new();
            let mut gone = Vec::new();
            for row in &rows {
                // The filter above keeps only rows whose id is a token id.
                let Some(id) = row
                    .try_get::<_, &str>(0)
                    .ok()
                    .and_then(|text| TokenId::from_str(text).ok())
                else {
                    continue;
                };
                let record = decode(row, 0).ok();
                let note = notes::delete(actor, which.action(), record.as_ref());
                insert_audit(
                    &mut tx,
                    &note,
                    Some(id),
                    record.as_ref().map(|r| &r.account),
                )
                .map_err(pg("writing the audit trail"))?;
                gone.push(id.to_string());
                deleted.extend(record);
            }
            if gone.is_empty() {
                tx.rollback().map_err(pg(doing))?;
                return Ok(deleted);
            }
            log_changes(&mut tx, &gone)?;
            tx.commit().map_err(pg(doing))?;
            Ok(deleted)
        })
    }

    fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError> {
        let store = self.store.clone();
        self.write("regenerating a token", |tx| {
            let key = id.to_string();
            let row = tx
                .query_typed_opt(
                    &format!("SELECT {COLUMNS} FROM tokens WHERE id = $1 FOR UPDATE"),
                    &[(&key, Type::TEXT)],
                )
                .map_err(pg("reading a token"))?
                .ok_or(StoreError::UnknownToken(id))?;
            let mut record = valid(&store, &row)?;
            let token = record
                .regenerate(&TokenFormat::DEFAULT, &mut OsRng, now, grace_until)
                .map_err(|_| StoreError::Rng)?;
            let verifier = record.verifier.to_bytes().to_vec();
            let rollover_verifier = record.rollover.map(|r| r.verifier.to_bytes().to_vec());
            let rollover_until = record.rollover.map(|r| secs(r.until));
            tx.execute_typed(
                "UPDATE tokens SET verifier = $2, rollover_verifier = $3, rollover_until = $4 \
                 WHERE id = $1",
                &[
                    (&key, Type::TEXT),
                    (&verifier, Type::BYTEA),
                    (&rollover_verifier, Type::BYTEA),
                    (&rollover_until, Type::INT8),
                ],
            )
            .map_err(pg("saving the regenerated token"))?;
            let note = notes::regenerate(actor, &record);
            insert_audit(tx, &note, Some(id), Some(&record.account))
                .map_err(pg("writing the audit trail"))?;
            Ok(((token, record), id))
        })
    }

    fn delete_where(
        &mut self,
        ids: &[TokenId],
        decide: &mut dyn FnMut(&TokenRecord) -> Option<AuditNote>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.drop_if_dead();
        self.run(|client| {
            let doing = "deleting tokens";
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .map_err(pg(doing))?;
            // The counter's row lock first, as every writer takes it: writes
            // stay serialized and `seq` order stays commit order.
            tx.execute_typed("SELECT seq FROM wgauth_head FOR UPDATE", &[])
                .map_err(pg("taking the next change number"))?;
            let rows = tx
                .query_typed(
                    &format!(
                        "SELECT {COLUMNS} FROM tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE"
                    ),
                    &[(&keys, Type::TEXT_ARRAY)],
                )
                .map_err(pg("reading tokens"))?;
            let mut deleted = Vec::new();
            let (mut gone, mut accounts) = (Vec::new(), Vec::new());
            let (mut actors, mut actions, mut details) = (Vec::new(), Vec::new(), Vec::new());
            for row in &rows {
                let Ok(record) = decode(row, 0) else { continue };
                let Some(note) = decide(&record) else {
                    continue;
                };
                let (actor, action, detail) = note.stored();
                gone.push(record.id.to_string());
                accounts.push(record.account.as_str().to_owned());
                actors.push(actor);
                actions.push(action);
                details.push(detail);
                deleted.push(record);
            }
            if deleted.is_empty() {
                tx.rollback().map_err(pg(doing))?;
                return Ok(deleted);
            }
            tx.execute_typed(
                "DELETE FROM tokens WHERE id = ANY($1)",
                &[(&gone, Type::TEXT_ARRAY)],
            )
            .map_err(pg(doing))?;
            log_changes(&mut tx, &gone)?;
            let at = secs(Timestamp::now());
            tx.execute_typed(
                "INSERT INTO audit (at, actor, action, token_id, account, detail) \
                 SELECT $1, u.actor, u.action, u.id, u.account, u.detail \
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                 AS u (actor, action, id, account, detail)",
                &[
                    (&at, Type::INT8),
                    (&actors, Type::TEXT_ARRAY),
                    (&actions, Type::TEXT_ARRAY),
                    (&gone, Type::TEXT_ARRAY),
                    (&accounts, Type::TEXT_ARRAY),
                    (&details, Type::TEXT_ARRAY),
                ],
            )
            .map_err(pg("writing the audit trail"))?;
            tx.commit().map_err(pg(doing))?;
            Ok(deleted)
        })
    }

    fn append_audit(
        &mut self,
        note: &AuditNote,
        token: Option<(TokenId, &AccountId)>,
    ) -> Result<(), StoreError> {
        let (actor, action, detail) = note.stored();
        let at = secs(Timestamp::now());
        let id = token.map(|(id, _)| id.to_string());
        let account = token.map(|(_, account)| account.as_str().to_owned());
        self.run(|client| {
            client
                .execute_typed(
                    "INSERT INTO audit (at, actor, action, token_id, account, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        (&at, Type::INT8),
                        (&actor, Type::TEXT),
                        (&action, Type::TEXT),
                        (&id, Type::TEXT),
                        (&account, Type::TEXT),
                        (&detail, Type::TEXT),
                    ],
                )
                .map(drop)
                .map_err(pg("writing the audit trail"))
        })
    }

    fn audit(
        &mut self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let store = self.store.clone();
        self.run(|client| {
            let doing = "reading the audit trail";
            let rows = client
                .query_typed(
                    "SELECT seq, at, actor, action, token_id, account, detail FROM audit \
                     WHERE $1::text IS NULL OR account = $1 ORDER BY seq DESC LIMIT $2",
                    &[(&account, Type::TEXT), (&limit, Type::INT8)],
                )
                .map_err(pg(doing))?;
            rows.iter()
                .map(|row| {
                    let seq: i64 = row.try_get(0).map_err(pg(doing))?;
                    let at: i64 = row.try_get(1).map_err(pg(doing))?;
                    let seq = u64::try_from(seq).unwrap_or(0);
                    let token_id: Option<&str> = row.try_get(4).map_err(pg(doing))?;
                    let token_id = crate::audit::token_id_of(seq, token_id)
                        .map_err(|why| StoreError::Damaged(format!("in {store}, {why}")))?;
                    Ok(AuditEntry {
                        seq,
                        at: Timestamp(u64::try_from(at).unwrap_or(0)),
                        actor: row.try_get(2).map_err(pg(doing))?,
                        action: row.try_get(3).map_err(pg(doing))?,
                        token_id,
                        account: row.try_get(5).map_err(pg(doing))?,
                        detail: row.try_get(6).map_err(pg(doing))?,
                    })
                })
                .collect()
        })
    }

    fn compact_changes(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let doing = "compacting the change log";
        let before = secs(before);
        self.run(|client| {
            let mut tx = client.transaction().map_err(pg(doing))?;
            // The newest row stays, as on SQLite: the head itself lives in
            // `wgauth_head` here, and the log keeps showing where it is.
            let deleted = tx
                .execute_typed(
                    "DELETE FROM changes WHERE at < $1 \
                     AND seq < (SELECT max(seq) FROM changes)",
                    &[(&before, Type::INT8)],
                )
                .map_err(pg(doing))?;
            tx.commit().map_err(pg(doing))?;
            Ok(deleted)
        })
    }

    fn record_last_used(&mut self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        // One instant per token (the latest), in id order: two batches lock
        // their rows in the same order, so they cannot deadlock.
        let mut latest: HashMap<TokenId, Timestamp> = HashMap::with_capacity(uses.len());
        for &(id, at) in uses {
            let entry = latest.entry(id).or_insert(at);
            *entry = (*entry).max(at);
        }
        let mut latest: Vec<(String, i64)> = latest
            .into_iter()
            .map(|(id, at)| (id.to_string(), secs(at)))
            .collect();
        latest.sort_unstable();
        let (ids, ats): (Vec<String>, Vec<i64>) = latest.into_iter().unzip();
        let doing = "recording last use";
        self.run(|client| {
            let mut tx = client.transaction().map_err(pg(doing))?;
            tx.execute_typed(
                "SELECT 1 FROM tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[(&ids, Type::TEXT_ARRAY)],
            )
            .map_err(pg(doing))?;
            tx.execute_typed(
                "UPDATE tokens AS t SET last_used_at = u.at \
                 FROM unnest($1::text[], $2::bigint[]) AS u (id, at) \
                 WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)",
                &[(&ids, Type::TEXT_ARRAY), (&ats, Type::INT8_ARRAY)],
            )
            .map_err(pg(doing))?;
            tx.commit().map_err(pg(doing))
        })
    }

    fn snapshot(&mut self) -> Result<Snapshot, StoreError> {
        self.listen()?;
        let snapshot = self.run(|client| {
            let doing = "reading every token";
            let mut tx = snapshot_tx(client)?;
            let head = head_of(&mut tx)?;
            let mut snapshot = Snapshot {
                head,
                ..Snapshot::default()
            };
            {
                // In batches through a portal: a million rows are never all
                // held as rows at once, and the blocking client enters its
                // runtime once a batch, not once a row (a third of the
                // client's time for a million rows).
                const BATCH: i32 = 10_000;
                let portal = tx
                    .bind(&format!("SELECT {COLUMNS} FROM tokens"), &[])
                    .map_err(pg(doing))?;
                loop {
                    let rows = tx.query_portal(&portal, BATCH).map_err(pg(doing))?;
                    for row in &rows {
                        match decode(row, 0) {
                            Ok(record) => snapshot.records.push(record),
                            Err(bad) => snapshot.bad_rows.push(bad),
                        }
                    }
                    if rows.len() < BATCH as usize {
                        break;
                    }
                }
            }
            tx.commit().map_err(pg(doing))?;
            Ok(snapshot)
        })?;
        self.saw(snapshot.head);
        Ok(snapshot)
    }

    fn changes_since(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(Change, RowState)>, StoreError> {
        // Past every seq the database can hold: nothing.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.listen()?;
        let changes: Vec<(Change, RowState)> = self.run(|client| {
            let doing = "reading the change log";
            let mut tx = snapshot_tx(client)?;
            let rows = tx
                .query_typed(
                    &format!(
                        "SELECT c.seq, c.token_id, t.id IS NOT NULL, {T_COLUMNS} \
                         FROM changes AS c LEFT JOIN tokens AS t ON t.id = c.token_id \
                         WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
                    ),
                    &[(&after, Type::INT8), (&limit, Type::INT8)],
                )
                .map_err(pg(doing))?;
            tx.commit().map_err(pg(doing))?;
            rows.iter()
                .map(|row| {
                    let seq: i64 = row.try_get(0).map_err(pg(doing))?;
                    let token_id: String = row.try_get(1).map_err(pg(doing))?;
                    let present: bool = row.try_get(2).map_err(pg(doing))?;
                    let seq = u64::try_from(seq).map_err(|_| {
                        StoreError::Damaged(format!("change {seq} has a negative number"))
                    })?;
                    let id = TokenId::from_str(&token_id).map_err(|_| {
                        StoreError::Damaged(format!(
                            "change {seq} names {token_id:?}, which is not a token id"
                        ))
                    })?;
                    let state = if !present {
                        RowState::Absent
                    } else {
                        match decode(row, 3) {
                            Ok(record) => RowState::Present(record),
                            Err(bad) => RowState::Invalid(bad),
                        }
                    };
                    Ok((Change { seq, id }, state))
                })
                .collect()
        })?;
        if let Some((last, _)) = changes.last() {
            self.saw(last.seq);
        }
        Ok(changes)
    }

    fn head(&mut self) -> Result<u64, StoreError> {
        self.listen()?;
        let head = self.run(|client| {
            let mut tx = snapshot_tx(client)?;
            let head = head_of(&mut tx)?;
            tx.commit().map_err(pg("reading the change log's head"))?;
            Ok(head)
        })?;
        self.saw(head);
        Ok(head)
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Result<(), StoreError> {
        if !self.listening {
            // No read of the log on this connection yet (or it was lost):
            // there is nothing to compare with, so the caller reads now.
            return self.listen();
        }
        if std::mem::take(&mut self.missed) {
            return Ok(());
        }
        let seen = self.seen;
        // Bounded, so no instant overflows (the driver adds it to now).
        let timeout = timeout.min(MAX_TIMEOUT);
        let deadline = std::time::Instant::now() + timeout;
        self.run(|client| {
            let doing = "waiting for changes";
            let mut notifications = client.notifications();
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                // Buffered notifications first, then the network until `left`.
                let Some(note) = notifications.timeout_iter(left).next().map_err(pg(doing))? else {
                    return Ok(());
                };
                // A payload that is not ours (another program's NOTIFY on
                // this channel) wakes the caller too: reading costs little.
                let fresh = note.payload().parse::<u64>().map_or(true, |seq| seq > seen);
                if fresh {
                    // Whatever else arrived is covered by the caller's next read.
                    let mut pending = notifications.iter();
                    while pending.next().map_err(pg(doing))?.is_some() {}
                    return Ok(());
                }
            }
        })?;
        // The iterator also ends, without an error, when the server hung up.
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.listening = false;
            return Err(StoreError::Unreachable(
                self.store.clone(),
                "the server closed the connection".into(),
            ));
        }
        Ok(())
    }
}

/// Records one change per id in `ids` (consecutive numbers, taken from the
/// counter whose row lock the caller holds) and notifies followers once,
/// with the last: the tail of every write that deletes many tokens.
fn log_changes(tx: &mut Transaction<'_>, ids: &[String]) -> Result<(), Fail> {
    let n = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let last: i64 = tx
        .query_typed_one(
            "UPDATE wgauth_head SET seq = seq + $1 RETURNING seq",
            &[(&n, Type::INT8)],
        )
        .and_then(|row| row.try_get(0))
        .map_err(pg("taking the next change numbers"))?;
    let seqs: Vec<i64> = (last - n + 1..=last).collect();
    tx.execute_typed(
        "INSERT INTO changes (seq, token_id, at) \
         SELECT u.seq, u.id, floor(extract(epoch FROM clock_timestamp()))::bigint \
         FROM unnest($1::bigint[], $2::text[]) AS u (seq, id)",
        &[(&seqs, Type::INT8_ARRAY), (&ids, Type::TEXT_ARRAY)],
    )
    .map_err(pg("recording the changes"))?;
    let payload = last.to_string();
    tx.execute_typed(
        "SELECT pg_notify($1, $2)",
        &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)],
    )
    .map_err(pg("notifying followers"))?;
    Ok(())
}
