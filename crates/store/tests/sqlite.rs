//! The SQLite backend: the shared backend suite on temporary files, then
//! what only SQLite has (the upgrade from the first release's schema, the
//! file checks, file modes, rows only raw SQLite can damage).

#![allow(missing_docs, clippy::unwrap_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use whatsgate_auth::{OsRng, Rollover, Timestamp, TokenFormat, TokenId, TokenRecord};
use whatsgate_auth_store::{LATEST_SCHEMA, OpenMode, RowState, Store, StoreError};
use whatsgate_auth_test_support::release1;

use common::{TestBackend, accepts, account, create, name, open};

/// Temporary files, each test its own directory.
struct Sqlite;

impl TestBackend for Sqlite {
    type Guard = tempfile::TempDir;

    fn fresh(&self) -> (String, Self::Guard) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("tokens.db").display());
        (url, dir)
    }

    fn raw_sql(&self, url: &str, sql: &str) {
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        Connection::open(path).unwrap().execute_batch(sql).unwrap();
    }
}

backend_suite!(Sqlite);

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    (dir, path)
}

fn url(path: &Path) -> String {
    path.display().to_string()
}

fn pragma(path: &Path, name: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, name, |r| r.get(0))
        .unwrap()
}

/// Writes a store as the first release did: WAL, the v1 schema, the
/// application id and version 1 in one transaction, rows by its INSERT.
fn release_1_store(path: &Path, records: &[TokenRecord]) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(release1::SQLITE_SCHEMA_V1).unwrap();
    tx.pragma_update(None, "application_id", release1::SQLITE_APPLICATION_ID)
        .unwrap();
    tx.pragma_update(None, "user_version", 1).unwrap();
    tx.commit().unwrap();
    for r in records {
        let rollover = r
            .rollover
            .map(|r| (r.verifier.to_bytes(), r.until.as_secs() as i64));
        conn.execute(
            release1::SQLITE_INSERT,
            rusqlite::params![
                r.id.to_string(),
                r.account.as_str(),
                r.name.as_str(),
                r.verifier.to_bytes(),
                r.created_at.as_secs() as i64,
                r.last_used_at.map(|t| t.as_secs() as i64),
                rollover.map(|r| r.0),
                rollover.map(|r| r.1),
            ],
        )
        .unwrap();
    }
}

fn issue(acct: &str, n: &str, at: u64) -> (whatsgate_auth::Token, TokenRecord) {
    TokenRecord::create(
        &TokenFormat::DEFAULT,
        &mut OsRng,
        account(acct),
        name(n),
        Timestamp(at),
    )
    .unwrap()
}

fn table_names(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_release_1_store_is_upgraded_and_keeps_every_token() {
    let (_dir, path) = temp();
    let mut tokens = Vec::new();
    let mut records = Vec::new();
    for (i, (acct, n)) in [
        ("acct_1", "Production API"),
        ("acct_1", "Testing"),
        ("acct_2", "Production API"),
        ("acct_3", "Ünïcödé name, 64 chars max"),
    ]
    .into_iter()
    .enumerate()
    {
        let (token, mut record) = issue(acct, n, 1_700_000_000 + i as u64);
        if i == 1 {
            record.last_used_at = Some(Timestamp(1_700_000_500));
        }
        let token = if i == 2 {
            // Regenerated with a grace period: both verifiers stored.
            let new = record
                .regenerate(
                    &TokenFormat::DEFAULT,
                    &mut OsRng,
                    Timestamp(1_700_000_100),
                    Some(Timestamp(1_800_000_000)),
                )
                .unwrap();
            tokens.push((token, record.id));
            new
        } else {
            token
        };
        tokens.push((token, record.id));
        records.push(record);
    }
    release_1_store(&path, &records);
    assert_eq!(table_names(&path), ["tokens"]);

    let mut store = Store::open(&url(&path), OpenMode::Existing).unwrap();
    assert_eq!(pragma(&path, "user_version"), LATEST_SCHEMA);
    assert_eq!(pragma(&path, "application_id"), 0x5747_4154);
    assert!(table_names(&path).contains(&"changes".to_string()));

    // Every token, every field, and every token still verifies.
    let listed = store.list(None).unwrap();
    assert_eq!(listed.len(), records.len());
    for record in &records {
        let stored = store.get(record.id).unwrap().unwrap();
        assert_eq!(stored.account, record.account);
        assert_eq!(stored.name, record.name);
        assert_eq!(stored.verifier.to_bytes(), record.verifier.to_bytes());
        assert_eq!(stored.created_at, record.created_at);
        assert_eq!(stored.last_used_at, record.last_used_at);
        assert_eq!(
            stored
                .rollover
                .map(|r: Rollover| (r.verifier.to_bytes(), r.until)),
            record.rollover.map(|r| (r.verifier.to_bytes(), r.until))
        );
    }
    for (token, id) in &tokens {
        let stored = store.get(*id).unwrap().unwrap();
        assert!(accepts(&stored, token, Timestamp(1_700_001_000)));
    }

    // The log starts empty; the snapshot carries the tokens; writes log.
    let snapshot = store.snapshot().unwrap();
    assert_eq!((snapshot.records.len(), snapshot.head), (records.len(), 0));
    assert!(snapshot.bad_rows.is_empty());
    let (_, new) = create(&mut store, "acct_1", "After the upgrade");
    store.delete(records[0].id).unwrap();
    let log: Vec<(u64, TokenId)> = store
        .changes_since(0, 10)
        .unwrap()
        .into_iter()
        .map(|(c, _)| (c.seq, c.id))
        .collect();
    assert_eq!(log, [(1, new.id), (2, records[0].id)]);

    // Opening again is a no-op.
    drop(store);
    let mut store = Store::open(&url(&path), OpenMode::Existing).unwrap();
    assert_eq!(store.head().unwrap(), 2);
    assert_eq!(store.list(None).unwrap().len(), records.len());
}

#[test]
fn a_failed_upgrade_leaves_the_release_1_store_as_it_was() {
    // A v1 store that already has a table named `changes` (of some other
    // tool): the upgrade's CREATE fails, and its one transaction rolls back.
    let (_dir, path) = temp();
    let (_, record) = issue("acct_1", "Production API", 1_700_000_000);
    release_1_store(&path, std::slice::from_ref(&record));
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE changes (x);")
        .unwrap();
    let err = Store::open(&url(&path), OpenMode::Existing).unwrap_err();
    assert!(err.to_string().contains("upgrading the schema"), "{err}");
    assert_eq!(pragma(&path, "user_version"), 1);
    assert_eq!(table_names(&path), ["changes", "tokens"]);
    let conn = Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn a_new_store_is_the_latest_version_in_wal_mode_with_the_change_log_and_audit_trail() {
    let (_dir, path) = temp();
    let mut store = open(&format!("sqlite:{}", path.display()));
    create(&mut store, "acct_1", "A");
    assert_eq!(pragma(&path, "user_version"), LATEST_SCHEMA);
    assert_eq!(
        table_names(&path),
        ["audit", "changes", "sqlite_sequence", "tokens"]
    );
    assert_eq!(pragma(&path, "application_id"), 0x5747_4154);
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let changes: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'changes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        changes.contains("seq      INTEGER PRIMARY KEY AUTOINCREMENT"),
        "{changes}"
    );
    let (token_id, at): (String, i64) = conn
        .query_row("SELECT token_id, at FROM changes WHERE seq = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(token_id.len(), 16);
    let now = Timestamp::now().as_secs() as i64;
    assert!(
        (now - 60..=now + 1).contains(&at),
        "the change's time: {at}"
    );
}

#[test]
fn a_store_from_a_newer_release_is_refused_unchanged() {
    let (_dir, path) = temp();
    {
        let mut store = open(&url(&path));
        create(&mut store, "acct_1", "A");
    }
    // Positive control: at the current version it opens.
    Store::open(&url(&path), OpenMode::Existing).unwrap();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", LATEST_SCHEMA + 1)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    for mode in [OpenMode::Existing, OpenMode::CreateIfMissing] {
        match Store::open(&url(&path), mode) {
            Err(e @ StoreError::NewerSchema { found, .. }) if found == LATEST_SCHEMA + 1 => {
                let message = e.to_string();
                assert!(
                    message.contains(&format!("newer wgauth (schema version {found}")),
                    "{message}"
                );
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains("not changed"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(pragma(&path, "user_version"), LATEST_SCHEMA + 1);
}

#[test]
fn files_that_are_not_stores_are_refused_unchanged() {
    let (dir, path) = temp();
    let text = b"this is not a database, just text\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    for mode in [OpenMode::Existing, OpenMode::CreateIfMissing] {
        let err = Store::open(&url(&path), mode).unwrap_err();
        assert!(matches!(err, StoreError::NotAStore(..)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("not a SQLite database"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), text);

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
        .unwrap();
    let err = Store::open(&url(&other), OpenMode::CreateIfMissing).unwrap_err();
    assert!(
        err.to_string().contains("tables of another program"),
        "{err}"
    );
    assert_eq!(table_names(&other), ["customers"]);
    Connection::open(&other)
        .unwrap()
        .pragma_update(None, "application_id", 42)
        .unwrap();
    let err = Store::open(&url(&other), OpenMode::Existing).unwrap_err();
    assert!(
        err.to_string()
            .contains("application id belongs to another program"),
        "{err}"
    );

    let versioned = dir.path().join("versioned.db");
    Connection::open(&versioned)
        .unwrap()
        .pragma_update(None, "user_version", 1)
        .unwrap();
    let err = Store::open(&url(&versioned), OpenMode::Existing).unwrap_err();
    assert!(
        err.to_string().contains("no wgauth application id"),
        "{err}"
    );

    let err = Store::open(&url(dir.path()), OpenMode::CreateIfMissing).unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");

    let missing = dir.path().join("missing.db");
    match Store::open(&url(&missing), OpenMode::Existing) {
        Err(e @ StoreError::Missing(_)) => {
            assert!(e.to_string().contains("no token store at"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !missing.exists(),
        "opening an existing store must not create one"
    );
    let err = Store::open(
        &url(&dir.path().join("no/such/dir/x.db")),
        OpenMode::CreateIfMissing,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("check that its folder exists"),
        "{err}"
    );
}

#[test]
fn every_url_form_names_the_same_file() {
    let (_dir, path) = temp();
    let mut store = open(&url(&path));
    create(&mut store, "acct_1", "A");
    for form in [
        url(&path),
        format!("sqlite:{}", path.display()),
        format!("sqlite://{}", path.display()),
    ] {
        let mut store = Store::open(&form, OpenMode::Existing).unwrap();
        assert_eq!(store.list(None).unwrap().len(), 1, "{form}");
        assert_eq!(store.url().sqlite_path(), Some(path.as_path()));
    }
}

#[cfg(unix)]
#[test]
fn a_new_store_and_its_wal_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path) = temp();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut store = open(&url(&path));
    let mut reader = open(&url(&path));
    create(&mut store, "acct_1", "A");
    reader.snapshot().unwrap();
    let wal = dir.path().join("tokens.db-wal");
    let shm = dir.path().join("tokens.db-shm");
    assert!(
        wal.exists() && shm.exists(),
        "WAL files while the store is open"
    );
    for p in [&path, &wal, &shm] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    // Control: a file SQLite creates on its own gets the usual mode (unless
    // the umask is already that strict), so the check above means something.
    let plain = dir.path().join("plain.db");
    Connection::open(&plain)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    eprintln!("a file SQLite creates on its own: {:o}", mode(&plain));
}

/// Damages a row of a fresh store with raw SQL (CHECK constraints off, as a
/// careless tool might) and checks that reading reports it and loads the rest.
fn damaged_by(sql: &str, removable: bool) {
    let (_dir, path) = temp();
    let mut store = open(&url(&path));
    let (token, good) = create(&mut store, "acct_1", "Good");
    let (_, victim) = create(&mut store, "acct_1", "Victim");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA ignore_check_constraints = ON;")
        .unwrap();
    conn.execute_batch(&sql.replace("{id}", &victim.id.to_string()))
        .unwrap();
    drop(conn);

    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.records.len(), 1, "{sql}");
    assert_eq!(snapshot.records[0].id, good.id);
    assert!(accepts(&snapshot.records[0], &token, Timestamp::now()));
    assert_eq!(snapshot.bad_rows.len(), 1, "{sql}");
    let why = &snapshot.bad_rows[0].why;
    assert!(!why.is_empty());
    let changes = store.changes_since(0, 10).unwrap();
    assert!(matches!(&changes[0].1, RowState::Present(_)));
    assert!(
        matches!(store.list(None), Err(StoreError::Damaged(_))),
        "{sql}"
    );
    if removable {
        assert!(
            matches!(&changes[1].1, RowState::Invalid(_)),
            "{sql}: {:?}",
            changes[1].1
        );
        assert!(store.delete(victim.id).unwrap().is_none());
        assert!(store.snapshot().unwrap().bad_rows.is_empty());
        assert_eq!(store.list(None).unwrap().len(), 1);
    } else {
        // The row's id is not the token's any more: its token is absent.
        assert!(
            matches!(&changes[1].1, RowState::Absent),
            "{sql}: {:?}",
            changes[1].1
        );
    }
}

#[test]
fn rows_damaged_in_every_way_are_reported_and_never_stop_the_load() {
    for sql in [
        "UPDATE tokens SET verifier = zeroblob(31) WHERE id = '{id}'",
        "UPDATE tokens SET verifier = zeroblob(33) WHERE id = '{id}'",
        "UPDATE tokens SET name = 'a' || char(10) || 'b' WHERE id = '{id}'",
        "UPDATE tokens SET name = ' Good' WHERE id = '{id}'",
        "UPDATE tokens SET name = '' WHERE id = '{id}'",
        "UPDATE tokens SET name = CAST(x'ff00fe' AS TEXT) WHERE id = '{id}'",
        "UPDATE tokens SET account = ' acct_1' WHERE id = '{id}'",
        "UPDATE tokens SET account = '' WHERE id = '{id}'",
        "UPDATE tokens SET created_at = -1 WHERE id = '{id}'",
        "UPDATE tokens SET last_used_at = -5 WHERE id = '{id}'",
        "UPDATE tokens SET rollover_verifier = zeroblob(32) WHERE id = '{id}'",
        "UPDATE tokens SET rollover_until = 5 WHERE id = '{id}'",
        "UPDATE tokens SET rollover_verifier = zeroblob(3), rollover_until = 5 WHERE id = '{id}'",
    ] {
        damaged_by(sql, true);
    }
    for sql in [
        "UPDATE tokens SET id = upper(id) WHERE id = '{id}'",
        "UPDATE tokens SET id = 'not hex at all!!' WHERE id = '{id}'",
        "UPDATE tokens SET id = 'short' WHERE id = '{id}'",
    ] {
        damaged_by(sql, false);
    }
}

#[test]
fn a_change_that_names_no_token_id_is_an_error_that_says_so() {
    let (_dir, path) = temp();
    let mut store = open(&url(&path));
    create(&mut store, "acct_1", "A");
    Connection::open(&path)
        .unwrap()
        .execute_batch("INSERT INTO changes (token_id, at) VALUES ('garbage', 0);")
        .unwrap();
    assert_eq!(store.changes_since(0, 1).unwrap().len(), 1);
    let err = store.changes_since(0, 10).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("change 2") && message.contains("garbage"),
        "{message}"
    );
}

#[test]
fn a_locked_store_is_named_and_the_message_says_what_to_do() {
    let (_dir, path) = temp();
    let mut store = open(&url(&path));
    create(&mut store, "acct_1", "A");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let mut waiting = Store::open_with_timeout(
        &url(&path),
        OpenMode::Existing,
        std::time::Duration::from_millis(100),
    )
    .unwrap();
    let err = waiting
        .create(account("acct_1"), name("B"), Timestamp::now())
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("locked"),
        "{message}"
    );
    conn.execute_batch("COMMIT;").unwrap();
    create(&mut waiting, "acct_1", "B");
    assert_eq!(waiting.head().unwrap(), 2);
}

#[test]
fn nothing_secret_reaches_debug_or_errors() {
    let (_dir, path) = temp();
    let mut store = open(&url(&path));
    let (token, record) = create(&mut store, "acct_1", "A");
    let secret = token.expose_secret();
    let shown = [
        format!("{store:?}"),
        format!("{token:?}"),
        format!("{record:?}"),
        format!("{:?}", store.snapshot().unwrap()),
        format!("{:?}", store.changes_since(0, 10).unwrap()),
        store
            .create(account("acct_1"), name("A"), Timestamp::now())
            .unwrap_err()
            .to_string(),
    ];
    let verifier_hex: String = record
        .verifier
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for text in &shown {
        assert!(
            !text.contains(secret) && !text.contains(&secret[5..]),
            "{text}"
        );
        assert!(!text.contains(&verifier_hex), "{text}");
    }
}

/// Version 2 as the release before the audit trail wrote it (frozen here):
/// version 1 plus the change log.
const SQLITE_V1_TO_V2: &str = "
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT    NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
";

#[test]
fn a_version_2_store_is_upgraded_to_the_latest_and_keeps_its_tokens_and_log() {
    let (_dir, path) = temp();
    let (token, record) = issue("acct_1", "Production API", 1_700_000_000);
    release_1_store(&path, std::slice::from_ref(&record));
    {
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(SQLITE_V1_TO_V2).unwrap();
        tx.execute(
            "INSERT INTO changes (token_id, at) VALUES (?1, 1700000000)",
            [record.id.to_string()],
        )
        .unwrap();
        tx.pragma_update(None, "user_version", 2).unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(table_names(&path), ["changes", "sqlite_sequence", "tokens"]);

    let mut store = Store::open(&url(&path), OpenMode::Existing).unwrap();
    assert_eq!(pragma(&path, "user_version"), LATEST_SCHEMA);
    assert!(table_names(&path).contains(&"audit".to_string()));
    assert!(accepts(
        &store.get(record.id).unwrap().unwrap(),
        &token,
        Timestamp(1_700_001_000)
    ));
    assert_eq!(store.head().unwrap(), 1);
    assert!(store.audit(None, 10).unwrap().is_empty());
    // It works as a version 3 store: an audited deletion follows the log.
    let deleted = store
        .delete_where(&[record.id], &mut |_: &TokenRecord| {
            Some(whatsgate_auth_store::AuditNote::new(
                "test",
                "token.revoke",
                "",
            ))
        })
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(store.head().unwrap(), 2);
    assert_eq!(store.audit(None, 10).unwrap().len(), 1);
}

/// Version 3 as the release before the record fields beyond the seed's
/// wrote it (frozen here): version 2 plus the audit trail.
const SQLITE_V2_TO_V3: &str = "
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

#[test]
fn a_version_3_store_is_upgraded_and_its_tokens_keep_full_access_without_expiry() {
    let (_dir, path) = temp();
    let (token, record) = issue("acct_1", "Production API", 1_700_000_000);
    release_1_store(&path, std::slice::from_ref(&record));
    {
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(SQLITE_V1_TO_V2).unwrap();
        tx.execute_batch(SQLITE_V2_TO_V3).unwrap();
        tx.pragma_update(None, "user_version", 3).unwrap();
        tx.commit().unwrap();
    }
    let mut store = Store::open(&url(&path), OpenMode::Existing).unwrap();
    assert_eq!(pragma(&path, "user_version"), LATEST_SCHEMA);
    let stored = store.get(record.id).unwrap().unwrap();
    assert!(stored.is_plain(), "{stored:?}");
    assert!(accepts(&stored, &token, Timestamp(u64::MAX - 1)));
    // The new columns work on the upgraded table.
    let updated = store
        .update(
            record.id,
            whatsgate_auth::TokenUpdate {
                scopes: Some(whatsgate_auth::Scopes::only(["messages:send"]).unwrap()),
                disabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let stored = store.get(record.id).unwrap().unwrap();
    assert_eq!((&stored.scopes, stored.disabled), (&updated.scopes, true));
    assert!(!accepts(&stored, &token, Timestamp(1_700_001_000)));
}

#[test]
fn a_disabled_flag_other_than_0_or_1_is_damage_that_refuses_the_token() {
    // Only raw SQLite with its checks off can write these (STRICT refuses
    // other types; PostgreSQL's column is a boolean).
    damaged_by("UPDATE tokens SET disabled = 2 WHERE id = '{id}'", true);
    damaged_by("UPDATE tokens SET scopes = 5 WHERE id = '{id}'", true);
}
