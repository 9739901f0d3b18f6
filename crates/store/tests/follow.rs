//! Followers on the embedded backend: writes from another connection reach
//! the keyring, a damaged row never blocks a removal (with a positive
//! control that shows the check catches a follower that fails open), and a
//! follower that cannot confirm it is current answers 503 until it can.
//! (`tests/postgres.rs` runs the server-side cases against PostgreSQL.)

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use whatsgate_auth::{AccountId, Failure, Keyring, Profile, Timestamp, TokenName};
use whatsgate_auth_store::{FollowOptions, Follower, OpenMode, Store, SyncedKeyring};

const NOW: Timestamp = Timestamp(1_790_000_000);

fn fast() -> FollowOptions {
    FollowOptions {
        bound: Duration::from_millis(600),
        poll: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    }
}

fn new_store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("tokens.db").display());
    Store::open(&url, OpenMode::CreateIfMissing).unwrap();
    (dir, url)
}

fn account() -> AccountId {
    AccountId::new("acct_42").unwrap()
}

fn name(text: &str) -> TokenName {
    TokenName::new(text).unwrap()
}

/// Waits until `done` holds, up to `limit`; returns how long it took.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    done().then(|| start.elapsed())
}

fn accepts(keyring: &Keyring, token: &str) -> bool {
    keyring.verify(token.as_bytes(), NOW).is_ok()
}

#[test]
fn writes_from_another_connection_reach_the_keyring_in_order() {
    let (_dir, url) = new_store();
    let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
    let (first, _) = writer
        .create(account(), name("Production API"), NOW)
        .unwrap();
    let follower = Follower::start(&url, fast()).unwrap();
    let keyring = follower.keyring();
    assert!(accepts(keyring, first.expose_secret()));

    let (second, record) = writer.create(account(), name("Testing"), NOW).unwrap();
    let took = wait_until(Duration::from_secs(5), || {
        accepts(keyring, second.expose_secret())
    });
    eprintln!("create reached the follower in {took:?}");
    assert!(took.is_some(), "a created token never reached the follower");

    let (regenerated, _) = writer.regenerate(record.id, NOW, None).unwrap();
    let took = wait_until(Duration::from_secs(5), || {
        !accepts(keyring, second.expose_secret()) && accepts(keyring, regenerated.expose_secret())
    });
    eprintln!("regenerate reached the follower in {took:?}");
    assert!(
        took.is_some(),
        "the old secret kept working after regenerate"
    );

    writer.delete(record.id).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !accepts(
            keyring,
            regenerated.expose_secret()
        ))
        .is_some()
    );
    let stats = follower.stats();
    assert_eq!((stats.seq, stats.applied, stats.bad_rows), (4, 3, 0));
    assert!(stats.current);
}

#[test]
fn a_synced_keyring_refuses_its_own_deletion_before_delete_returns() {
    let (_dir, url) = new_store();
    let synced = SyncedKeyring::open(&url, OpenMode::Existing, fast()).unwrap();
    let (token, record) = synced
        .create(account(), name("Production API"), NOW)
        .unwrap();
    // Visible at once on the writing host, without waiting for a wake-up.
    assert!(accepts(synced.keyring(), token.expose_secret()));
    let (new_token, _) = synced
        .regenerate(record.id, NOW, Some(Timestamp(NOW.0 + 60)))
        .unwrap();
    // The grace period keeps the old secret until its end.
    assert!(accepts(synced.keyring(), token.expose_secret()));
    assert!(accepts(synced.keyring(), new_token.expose_secret()));
    synced.delete(record.id).unwrap();
    assert!(!accepts(synced.keyring(), new_token.expose_secret()));
    assert!(!accepts(synced.keyring(), token.expose_secret()));
    assert!(synced.list(None).unwrap().is_empty());
}

/// A follower whose next change rows are compacted away before it reads
/// them: one transaction deletes a token (with its change row), logs a
/// change of another token, and then deletes every change row but the
/// newest, as `Store::compact_changes` does, so the deletion's own row is
/// gone before the follower can read it. Its next read finds a gap
/// and loads a snapshot: the deletion applies although its change row is
/// gone. Without the compaction (the control), it goes change by change.
#[test]
fn a_follower_behind_a_compacted_log_catches_up_in_full() {
    for compact in [true, false] {
        let (_dir, url) = new_store();
        let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
        let (old, old_record) = writer.create(account(), name("Old"), NOW).unwrap();
        let (kept, kept_record) = writer.create(account(), name("Kept"), NOW).unwrap();
        let follower = Follower::start(&url, fast()).unwrap();
        let keyring = follower.keyring();
        let resyncs = follower.stats().resyncs;
        let path = url.strip_prefix("sqlite:").unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             DELETE FROM tokens WHERE id = '{id}';
             INSERT INTO changes (token_id, at) VALUES ('{id}', 0);
             INSERT INTO changes (token_id, at) VALUES ('{kept}', 0);
             {compaction}
             COMMIT;",
            id = old_record.id,
            kept = kept_record.id,
            compaction = if compact {
                "DELETE FROM changes WHERE seq < (SELECT max(seq) FROM changes);"
            } else {
                ""
            }
        ))
        .unwrap();
        let took = wait_until(Duration::from_secs(5), || {
            !accepts(keyring, old.expose_secret())
        });
        assert!(
            took.is_some(),
            "the deletion never applied, compact: {compact}"
        );
        assert!(accepts(keyring, kept.expose_secret()));
        let full = follower.stats().resyncs - resyncs;
        assert_eq!(
            full,
            u64::from(compact),
            "full catch-ups, compact: {compact}"
        );
    }
}

/// Writes two rows whose names differ only by a trailing space (as another
/// tool might), so the account has two tokens with the same name once
/// names are trimmed.
fn damage(url: &str) {
    let path = url.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "INSERT INTO tokens (id, account, name, verifier, created_at)
             VALUES ('00000000000000a1', 'acct_42', 'Twin', zeroblob(32), 1790000000),
                    ('00000000000000a2', 'acct_42', 'Twin ', zeroblob(32), 1790000000);",
    )
    .unwrap();
}

/// The check: once `delete` has returned, the deleted token must be refused
/// within the bound. `false` means the keyring failed open.
fn refuses_deleted_token(keyring: &Keyring, token: &str) -> bool {
    wait_until(Duration::from_secs(3), || !accepts(keyring, token)).is_some()
}

#[test]
fn a_damaged_row_never_blocks_a_removal() {
    let (_dir, url) = new_store();
    let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
    let (token, record) = writer
        .create(account(), name("Production API"), NOW)
        .unwrap();
    damage(&url);
    let follower = Follower::start(&url, fast()).unwrap();
    assert!(accepts(follower.keyring(), token.expose_secret()));
    assert!(
        follower.stats().bad_rows >= 1,
        "the damaged rows are reported"
    );

    writer.delete(record.id).unwrap();
    assert!(
        refuses_deleted_token(follower.keyring(), token.expose_secret()),
        "a deleted token is still accepted while another row is damaged: fail open"
    );
    // The damaged rows can be deleted too, and the rest keeps working.
    let (other, _) = writer.create(account(), name("Testing"), NOW).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || accepts(
            follower.keyring(),
            other.expose_secret()
        ))
        .is_some()
    );
    assert!(follower.stats().current);
}

/// Positive control: a follower that reloads the whole table into the
/// keyring on every change (as `wgauth serve` did before the change log)
/// stops at the duplicate name and keeps the deleted token: the check above
/// must say so.
#[test]
fn control_the_damaged_row_check_catches_a_follower_that_fails_open() {
    let (_dir, url) = new_store();
    let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
    let (token, record) = writer
        .create(account(), name("Production API"), NOW)
        .unwrap();
    let naive = Keyring::new();
    naive.sync(writer.list(None).unwrap()).unwrap();
    damage(&url);
    writer.delete(record.id).unwrap();
    // The naive reload: every valid-looking row, in one sync.
    let rows = writer.snapshot().unwrap();
    let reloaded = naive.sync(rows.records.into_iter().chain(rows_named_twin(&url)));
    assert!(
        reloaded.is_err(),
        "the naive reload must stop at the duplicate name"
    );
    assert!(
        !refuses_deleted_token(&naive, token.expose_secret()),
        "the check did not notice a keyring that kept a deleted token"
    );
}

/// The damaged rows as a naive reader sees them: names trimmed, both valid.
fn rows_named_twin(url: &str) -> Vec<whatsgate_auth::TokenRecord> {
    let path = url.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, name FROM tokens WHERE name LIKE 'Twin%' ORDER BY id")
        .unwrap();
    stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })
    .unwrap()
    .map(|row| {
        let (id, twin) = row.unwrap();
        whatsgate_auth::TokenRecord {
            id: id.parse().unwrap(),
            account: account(),
            name: name(&twin),
            verifier: whatsgate_auth::Verifier::from_bytes([0; 32]),
            created_at: NOW,
            last_used_at: None,
            rollover: None,
            scopes: whatsgate_auth::Scopes::FULL,
            expires_at: None,
            disabled: false,
            description: None,
        }
    })
    .collect()
}

#[test]
fn a_damaged_change_log_entry_means_a_full_catch_up_that_misses_no_removal() {
    let (_dir, url) = new_store();
    let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
    let (token, record) = writer
        .create(account(), name("Production API"), NOW)
        .unwrap();
    let (kept, _) = writer.create(account(), name("Testing"), NOW).unwrap();
    let follower = Follower::start(&url, fast()).unwrap();
    let keyring = follower.keyring();
    // Another tool writes a change that names no token, then deletes a
    // token by hand with its change: reading the log fails at the first.
    let path = url.strip_prefix("sqlite:").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         INSERT INTO changes (token_id, at) VALUES ('not an id', 0);
         DELETE FROM tokens WHERE id = '{id}';
         INSERT INTO changes (token_id, at) VALUES ('{id}', 0);
         COMMIT;",
        id = record.id
    ))
    .unwrap();
    let header = [token.expose_secret().as_bytes()];
    let took = wait_until(Duration::from_secs(5), || {
        keyring
            .authenticate(Profile::Rest, header, NOW)
            .map_err(|r| r.failure)
            == Err(Failure::Invalid)
    });
    eprintln!("the deletion behind the damaged entry applied after {took:?}");
    assert!(took.is_some(), "the follower never applied the deletion");
    assert!(accepts(keyring, kept.expose_secret()));
    let stats = follower.stats();
    assert!(
        stats.resyncs >= 2,
        "a full catch-up, not a skipped change: {stats:?}"
    );
    assert!(stats.last_error.is_some());
    assert!(stats.current);
}

#[test]
fn dropping_a_synced_keyring_saves_its_last_uses() {
    let (_dir, url) = new_store();
    let synced = SyncedKeyring::open(&url, OpenMode::Existing, fast()).unwrap();
    let (token, record) = synced
        .create(account(), name("Production API"), NOW)
        .unwrap();
    let used_at = Timestamp(NOW.0 + 30);
    synced
        .keyring()
        .verify(token.expose_secret().as_bytes(), used_at)
        .unwrap();
    drop(synced);
    let mut store = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(
        store.get(record.id).unwrap().unwrap().last_used_at,
        Some(used_at)
    );
}
