//! The PostgreSQL backend against a real server: the shared backend suite
//! (one fresh database per test), then what only PostgreSQL has — the
//! ordering argument under concurrent writers and a reader, LISTEN/NOTIFY
//! wake-ups, the schema checks, timeouts, and a server that restarts or is
//! killed with `kill -9`.
//!
//! `scripts/test-store` starts a throwaway server (`scripts/pg start`) and
//! sets `WGAUTH_TEST_PG_URL` (a URL of a user who may create databases) and
//! `WGAUTH_TEST_PG_REQUIRED=1`. Without the URL these tests pass with a
//! printed reason, unless `WGAUTH_TEST_PG_REQUIRED` is set: then they fail.
//! Tests that stop or kill a server start their own with `scripts/pg`, so
//! they never disturb the others.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use whatsgate_auth::{Timestamp, TokenId};
use whatsgate_auth_store::{Change, LATEST_SCHEMA, OpenMode, RowState, Store, StoreError};

use common::pg::{PASSWORD, Server};
use common::{TestBackend, accepts, account, create, name, open};

const T0: Timestamp = Timestamp(1_700_000_000);

/// The server the tests share: `WGAUTH_TEST_PG_URL`.
struct Pg {
    base: String,
}

/// A database made for one test, dropped when the test ends.
struct Database {
    base: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.base, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl Pg {
    /// The shared server, or `None` (with the reason printed) when there is
    /// none and none is required.
    fn from_env() -> Option<Pg> {
        common::pg::available().then(|| Pg {
            base: std::env::var("WGAUTH_TEST_PG_URL").unwrap_or_default(),
        })
    }

    /// A new empty database on this server.
    fn database(&self) -> (String, Database) {
        self.database_with("")
    }

    fn database_with(&self, options: &str) -> (String, Database) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let db = format!(
            "wgauth_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(&self.base, NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{db}\" {options}"))
            .unwrap();
        let url = with_database(&self.base, &db);
        (
            url,
            Database {
                base: self.base.clone(),
                name: db,
            },
        )
    }
}

impl TestBackend for Pg {
    type Guard = Database;

    fn fresh(&self) -> (String, Database) {
        self.database()
    }

    fn raw_sql(&self, url: &str, sql: &str) {
        raw(url).batch_execute(sql).unwrap();
    }
}

/// The shared server, or `return` from the test (skipped, reason printed).
macro_rules! pg_or_skip {
    () => {
        match Pg::from_env() {
            Some(pg) => pg,
            None => return,
        }
    };
}

backend_suite!(pg_or_skip!());

/// `base` with its database replaced by `db`.
fn with_database(base: &str, db: &str) -> String {
    let (main, query) = base
        .split_once('?')
        .map_or((base, None), |(m, q)| (m, Some(q)));
    let (scheme, rest) = main.split_once("://").unwrap();
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

fn raw(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap()
}

fn scalar_i64(url: &str, sql: &str) -> i64 {
    raw(url).query_one(sql, &[]).unwrap().get(0)
}

fn tables(url: &str) -> Vec<String> {
    raw(url)
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every change's seq in a log, read in pages.
fn all_seqs(store: &mut Store) -> Vec<u64> {
    store
        .changes_since(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|(c, _)| c.seq)
        .collect()
}

// ---------------------------------------------------------------------------
// A server of a test's own (for the tests that stop or kill it).

/// Checks that an error names no password, in `Display` or in `Debug`.
fn no_password(e: &StoreError) {
    let (shown, debug) = (e.to_string(), format!("{e:?}"));
    assert!(
        !shown.contains(PASSWORD) && !debug.contains(PASSWORD),
        "{shown} / {debug}"
    );
}

fn unreachable(result: Result<impl std::fmt::Debug, StoreError>, what: &str) {
    match result {
        Err(e @ StoreError::Unreachable(..)) => {
            no_password(&e);
            eprintln!("{what}: {e}");
        }
        other => panic!("{what}: expected Unreachable, got {other:?}"),
    }
}

/// Retries `op` until it succeeds (the server may still be recovering).
fn eventually<T>(what: &str, mut op: impl FnMut() -> Result<T, StoreError>) -> T {
    let started = Instant::now();
    loop {
        match op() {
            Ok(value) => return value,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                no_password(&e);
                thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{what}: still failing after 30 s: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The ordering argument.

/// What the follower-style reader saw.
#[derive(Default)]
struct ReaderLog {
    reads: usize,
    waits: usize,
    snapshots: usize,
    cursor: u64,
}

/// Reads the log as a follower would, until `done` and nothing is left:
/// every page must continue exactly at the cursor (no gap, no duplicate),
/// and every change in one page shows its token as of that read.
fn follow_checking(url: &str, done: &AtomicBool) -> ReaderLog {
    let mut store = open(url);
    let mut log = ReaderLog::default();
    loop {
        let finished = done.load(Ordering::Acquire);
        let page = store.changes_since(log.cursor, 37).unwrap();
        log.reads += 1;
        check_page(log.cursor, &page);
        if let Some((last, _)) = page.last() {
            log.cursor = last.seq;
        }
        if page.is_empty() {
            if finished {
                return log;
            }
            store.wait_for_change(Duration::from_millis(200)).unwrap();
            log.waits += 1;
        }
        if log.reads % 25 == 0 {
            // A snapshot is as current as the latest read, or more so.
            let snapshot = store.snapshot().unwrap();
            assert!(
                snapshot.head >= log.cursor,
                "snapshot {} behind {}",
                snapshot.head,
                log.cursor
            );
            log.snapshots += 1;
        }
    }
}

/// One page of `changes_since(cursor, …)` must hold seqs cursor+1,
/// cursor+2, … and show each token's row the same in every change of the
/// page: what is wrong with it, if anything.
fn page_fault(cursor: u64, page: &[(Change, RowState)]) -> Option<String> {
    let mut rows: HashMap<TokenId, String> = HashMap::new();
    for (i, (change, state)) in page.iter().enumerate() {
        let expected = cursor + 1 + i as u64;
        if change.seq != expected {
            return Some(format!(
                "after {cursor} the reader saw {} where {expected} belongs: a gap or a duplicate",
                change.seq
            ));
        }
        let shown = match state {
            RowState::Present(r) if r.id != change.id => {
                return Some(format!("change {} shows another token's row", change.seq));
            }
            RowState::Present(r) => format!("present {:?}", r.verifier.to_bytes()),
            RowState::Absent => "absent".to_owned(),
            RowState::Invalid(bad) => return Some(format!("change {}: {bad:?}", change.seq)),
        };
        if rows
            .insert(change.id, shown.clone())
            .is_some_and(|before| before != shown)
        {
            return Some(format!("one read showed two rows for {}", change.id));
        }
    }
    None
}

fn check_page(cursor: u64, page: &[(Change, RowState)]) {
    if let Some(fault) = page_fault(cursor, page) {
        panic!("{fault}");
    }
}

/// What a writer thread did to its own tokens: the final verifier of each
/// (None: deleted), and how many writes committed.
struct WriterLog {
    tokens: BTreeMap<TokenId, Option<[u8; 32]>>,
    committed: u64,
    refused: u64,
}

const WRITERS: usize = 8;
const WRITES_EACH: usize = 50;

/// Creates, regenerates (with and without grace), deletes, and tries
/// duplicate names (refused: a write that takes a seq and rolls back).
fn writer(url: &str, t: usize, barrier: &Barrier) -> WriterLog {
    let mut store =
        Store::open_with_timeout(url, OpenMode::Existing, Duration::from_secs(60)).unwrap();
    let acct = format!("writer_{t}");
    let mut log = WriterLog {
        tokens: BTreeMap::new(),
        committed: 0,
        refused: 0,
    };
    let mut live: Vec<TokenId> = Vec::new();
    barrier.wait();
    for i in 0..WRITES_EACH {
        match i % 6 {
            0..=2 => {
                let (_, r) = create(&mut store, &acct, &format!("token {i}"));
                log.tokens.insert(r.id, Some(r.verifier.to_bytes()));
                live.push(r.id);
            }
            3 | 4 if !live.is_empty() => {
                let id = live[i % live.len()];
                let grace = (i % 4 == 0).then_some(Timestamp(T0.0 + 600));
                let (_, r) = store.regenerate(id, T0, grace).unwrap();
                log.tokens.insert(id, Some(r.verifier.to_bytes()));
            }
            _ if !live.is_empty() => {
                let id = live.remove(0);
                assert!(store.delete(id).unwrap().is_some());
                log.tokens.insert(id, None);
            }
            _ => continue,
        }
        log.committed += 1;
        if i % 7 == 0 {
            // The name of a live token: refused after taking the counter's
            // lock; its seq must not be lost.
            if let Some(r) = live.first().and_then(|id| store.get(*id).unwrap()) {
                match store.create(r.account.clone(), r.name.clone(), T0) {
                    Err(StoreError::DuplicateName(..)) => log.refused += 1,
                    other => panic!("duplicate create: {other:?}"),
                }
            }
        }
    }
    log
}

#[test]
fn concurrent_writers_and_a_following_reader_never_see_a_gap() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    open(&url);
    let done = AtomicBool::new(false);
    let barrier = Barrier::new(WRITERS);
    let started = Instant::now();
    let (logs, reader) = thread::scope(|s| {
        let reader = s.spawn(|| follow_checking(&url, &done));
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (url, barrier) = (&url, &barrier);
                s.spawn(move || writer(url, t, barrier))
            })
            .collect();
        let logs: Vec<WriterLog> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        done.store(true, Ordering::Release);
        (logs, reader.join().unwrap())
    });
    let total: u64 = logs.iter().map(|l| l.committed).sum();
    let refused: u64 = logs.iter().map(|l| l.refused).sum();
    eprintln!(
        "{WRITERS} writers: {total} writes and {refused} refused duplicates in {:?}; the reader \
         made {} reads, {} waits, {} snapshots, and reached {}",
        started.elapsed(),
        reader.reads,
        reader.waits,
        reader.snapshots,
        reader.cursor
    );
    assert!(refused > 0, "the refused writes are part of the test");
    assert_eq!(reader.cursor, total, "the reader saw every change");

    // The whole log: 1..=total, each once, the head at its end.
    let mut store = open(&url);
    let expected: Vec<u64> = (1..=total).collect();
    assert_eq!(all_seqs(&mut store), expected);
    assert_eq!(store.head().unwrap(), total);

    // Every change shows its token's final state: what its writer last did.
    let finals: BTreeMap<TokenId, Option<[u8; 32]>> =
        logs.into_iter().flat_map(|l| l.tokens).collect();
    for (change, state) in store.changes_since(0, usize::MAX).unwrap() {
        let wanted = finals
            .get(&change.id)
            .expect("a change of a token no writer wrote");
        match (state, wanted) {
            (RowState::Present(r), Some(v)) => assert_eq!(&r.verifier.to_bytes(), v),
            (RowState::Absent, None) => {}
            (state, wanted) => panic!("change {change:?}: {state:?}, wanted {wanted:?}"),
        }
    }
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.head, total);
    let live = finals.values().filter(|v| v.is_some()).count();
    assert_eq!(snapshot.records.len(), live);
    for r in &snapshot.records {
        assert_eq!(finals[&r.id], Some(r.verifier.to_bytes()));
    }
}

/// The ordering argument, step by step. A change whose writer has not
/// committed holds the counter's row lock: a later writer waits, and a
/// reader sees neither. And the positive control: had seqs been taken at
/// insert (as from a sequence), a reader would see the later one first —
/// and the page check used above would catch it.
#[test]
fn a_later_writer_waits_for_the_counter_where_a_sequence_would_skip() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut reader = open(&url);
    let mut store = open(&url);
    let (_, first) = create(&mut store, "acct_1", "first");

    // Another client takes seq 2 and does not commit yet.
    let mut slow = raw(&url);
    let mut slow_tx = slow.transaction().unwrap();
    let seq: i64 = slow_tx
        .query_one("UPDATE wgauth_head SET seq = seq + 1 RETURNING seq", &[])
        .unwrap()
        .get(0);
    assert_eq!(seq, 2);
    slow_tx
        .execute(
            "INSERT INTO changes (seq, token_id, at) VALUES (2, $1, 0)",
            &[&first.id.to_string()],
        )
        .unwrap();

    let ready = Barrier::new(2);
    thread::scope(|s| {
        let later = s.spawn(|| {
            let mut store = open(&url);
            ready.wait();
            create(&mut store, "acct_1", "second").1
        });
        // The later writer is about to write: give it time to reach the
        // counter, then check that it waits there.
        ready.wait();
        thread::sleep(Duration::from_millis(300));
        assert!(
            !later.is_finished(),
            "the later writer must wait for the counter"
        );
        // The reader sees neither the uncommitted change nor the later one.
        assert_eq!(all_seqs(&mut reader), [1]);
        slow_tx.commit().unwrap();
        let second = later.join().unwrap();
        let page = reader.changes_since(1, 10).unwrap();
        check_page(1, &page);
        let ids: Vec<(u64, TokenId)> = page.iter().map(|(c, _)| (c.seq, c.id)).collect();
        assert_eq!(ids, [(2, first.id), (3, second.id)]);
    });

    // Positive control: seqs taken at insert, committed out of order.
    let (control_url, _control_db) = pg.database();
    open(&control_url);
    let mut a = raw(&control_url);
    let mut b = raw(&control_url);
    let mut a_tx = a.transaction().unwrap();
    a_tx.execute(
        "INSERT INTO changes (seq, token_id, at) VALUES (1, '0000000000000001', 0)",
        &[],
    )
    .unwrap();
    let mut b_tx = b.transaction().unwrap();
    b_tx.execute(
        "INSERT INTO changes (seq, token_id, at) VALUES (2, '0000000000000002', 0)",
        &[],
    )
    .unwrap();
    b_tx.commit().unwrap();
    let mut control_reader = open(&control_url);
    let page = control_reader.changes_since(0, 10).unwrap();
    let fault = page_fault(0, &page);
    assert!(
        fault
            .as_deref()
            .is_some_and(|f| f.contains("saw 2 where 1 belongs")),
        "the page check must catch a reader that sees 2 before 1: {fault:?}"
    );
    a_tx.rollback().unwrap();
}

// ---------------------------------------------------------------------------
// LISTEN/NOTIFY.

#[test]
fn a_notification_wakes_a_waiting_follower_in_milliseconds() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut follower = open(&url);
    let mut writer = open(&url);
    let mut cursor = follower.snapshot().unwrap().head;
    let mut latencies = Vec::new();
    for round in 0..20 {
        let (woke, writing, committed) = thread::scope(|s| {
            let waiter = s.spawn(|| {
                let started = Instant::now();
                follower.wait_for_change(Duration::from_secs(30)).unwrap();
                (Instant::now(), started.elapsed())
            });
            thread::sleep(Duration::from_millis(30));
            let writing = Instant::now();
            create(&mut writer, "acct_1", &format!("token {round}"));
            let committed = Instant::now();
            let (woke, waited) = waiter.join().unwrap();
            assert!(
                waited < Duration::from_secs(10),
                "round {round}: waited {waited:?}"
            );
            (woke, writing, committed)
        });
        // From the start of the write (its whole transaction included), and
        // from the writer's reading of its commit's answer (the wake-up often
        // comes first: that counts as zero).
        latencies.push((
            woke.saturating_duration_since(writing),
            woke.saturating_duration_since(committed),
        ));
        let page = follower.changes_since(cursor, 10).unwrap();
        assert_eq!(page.len(), 1, "round {round}");
        cursor = page[0].0.seq;
    }
    let summary = |pick: fn(&(Duration, Duration)) -> Duration| {
        let mut all: Vec<Duration> = latencies.iter().map(pick).collect();
        all.sort();
        (all[all.len() / 2], all[all.len() - 1])
    };
    let (from_write, max) = summary(|l| l.0);
    let (from_commit, max_from_commit) = summary(|l| l.1);
    eprintln!(
        "NOTIFY wake-up over 20 writes: from the write's start p50 {from_write:?}, max {max:?}; \
         after the writer saw its commit p50 {from_commit:?}, max {max_from_commit:?}"
    );
    assert!(max < Duration::from_secs(2), "a wake-up took {max:?}");

    // A change the follower has read does not wake it again; a new one does.
    create(&mut writer, "acct_1", "read before the wait");
    cursor = follower.changes_since(cursor, 10).unwrap()[0].0.seq;
    let started = Instant::now();
    follower
        .wait_for_change(Duration::from_millis(400))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "woke for a change it had read"
    );
    create(&mut writer, "acct_1", "after the read");
    let started = Instant::now();
    follower.wait_for_change(Duration::from_secs(30)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(follower.changes_since(cursor, 10).unwrap().len(), 1);
    // Last use wakes nobody.
    let id = follower.list(None).unwrap()[0].id;
    follower.head().unwrap();
    writer.record_last_used(&[(id, T0)]).unwrap();
    let started = Instant::now();
    follower
        .wait_for_change(Duration::from_millis(400))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "last use woke a follower"
    );
}

// ---------------------------------------------------------------------------
// The schema: creation, races, what is refused.

/// Takes a store back to schema version 3 (the release before the record
/// fields beyond the seed's): what a test of an older version starts from.
const BACK_TO_V3: &str = "DROP INDEX tokens_by_expiry; \
    ALTER TABLE tokens DROP COLUMN scopes, DROP COLUMN expires_at, DROP COLUMN disabled, \
    DROP COLUMN description; UPDATE wgauth_meta SET schema_version = 3; ";

fn meta(url: &str) -> (String, i64) {
    let row = raw(url)
        .query_one("SELECT application, schema_version FROM wgauth_meta", &[])
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn a_fresh_database_gets_the_latest_schema_even_when_many_open_it_at_once() {
    let pg = pg_or_skip!();
    // Several rounds: the race is between the check and the creation.
    for _ in 0..4 {
        let (url, _db) = pg.database();
        let barrier = Arc::new(Barrier::new(8));
        thread::scope(|s| {
            for _ in 0..8 {
                let (url, barrier) = (&url, Arc::clone(&barrier));
                s.spawn(move || {
                    barrier.wait();
                    Store::open(url, OpenMode::CreateIfMissing).unwrap();
                });
            }
        });
        assert_eq!(
            tables(&url),
            ["audit", "changes", "tokens", "wgauth_head", "wgauth_meta"]
        );
        assert_eq!(
            meta(&url),
            ("whatsgate-auth token store".to_owned(), LATEST_SCHEMA)
        );
        assert_eq!(scalar_i64(&url, "SELECT count(*) FROM wgauth_head"), 1);
        let mut store = Store::open(&url, OpenMode::Existing).unwrap();
        assert_eq!(store.head().unwrap(), 0);
    }
}

#[test]
fn an_empty_database_is_no_store_until_asked_to_create_one() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    match Store::open(&url, OpenMode::Existing) {
        Err(e @ StoreError::Missing(_)) => {
            let message = e.to_string();
            assert!(message.contains("no token store at"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        tables(&url).is_empty(),
        "opening an existing store created nothing"
    );
}

#[test]
fn a_database_of_another_program_is_refused_unchanged() {
    let pg = pg_or_skip!();

    // Its own `tokens` table.
    let (url, _db) = pg.database();
    raw(&url)
        .batch_execute("CREATE TABLE tokens (token TEXT); INSERT INTO tokens VALUES ('theirs')")
        .unwrap();
    for mode in [OpenMode::CreateIfMissing, OpenMode::Existing] {
        match Store::open(&url, mode) {
            Err(e @ StoreError::NotAStore(..)) => {
                assert!(e.to_string().contains("another program"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(tables(&url), ["tokens"]);
    assert_eq!(scalar_i64(&url, "SELECT count(*) FROM tokens"), 1);

    // A `wgauth_meta` of another shape, or another application's marker.
    for sql in [
        "CREATE TABLE wgauth_meta (key TEXT, value TEXT)",
        "CREATE TABLE wgauth_meta (application TEXT, schema_version BIGINT); \
         INSERT INTO wgauth_meta VALUES ('something else', 2)",
        "CREATE TABLE wgauth_meta (application TEXT, schema_version BIGINT)",
    ] {
        let (url, _db) = pg.database();
        raw(&url).batch_execute(sql).unwrap();
        assert!(
            matches!(
                Store::open(&url, OpenMode::CreateIfMissing),
                Err(StoreError::NotAStore(..))
            ),
            "{sql}"
        );
        assert_eq!(tables(&url), ["wgauth_meta"], "{sql}");
    }

    // Other tables beside ours are fine: a store may share an app's database.
    let (url, _db) = pg.database();
    raw(&url)
        .batch_execute("CREATE TABLE orders (id INT)")
        .unwrap();
    Store::open(&url, OpenMode::CreateIfMissing).unwrap();
    assert_eq!(
        tables(&url),
        [
            "audit",
            "changes",
            "orders",
            "tokens",
            "wgauth_head",
            "wgauth_meta"
        ]
    );
}

#[test]
fn a_newer_schema_is_refused_unchanged() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    create(&mut store, "acct_1", "A");
    drop(store);
    raw(&url)
        .batch_execute(&format!(
            "UPDATE wgauth_meta SET schema_version = {}",
            LATEST_SCHEMA + 1
        ))
        .unwrap();
    for mode in [OpenMode::CreateIfMissing, OpenMode::Existing] {
        match Store::open(&url, mode) {
            Err(e @ StoreError::NewerSchema { found, .. }) if found == LATEST_SCHEMA + 1 => {
                assert!(e.to_string().contains("not changed"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(meta(&url).1, LATEST_SCHEMA + 1);
    assert_eq!(scalar_i64(&url, "SELECT count(*) FROM tokens"), 1);
}

#[test]
fn a_version_1_store_is_upgraded_and_keeps_its_tokens() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    let (token, record) = create(&mut store, "acct_1", "Production API");
    drop(store);
    // Back to version 1: the tokens table alone.
    raw(&url)
        .batch_execute(&format!(
            "{BACK_TO_V3} DROP TABLE audit; DROP TABLE changes; DROP TABLE wgauth_head; \
             UPDATE wgauth_meta SET schema_version = 1"
        ))
        .unwrap();
    let mut store = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(meta(&url).1, LATEST_SCHEMA);
    assert!(accepts(&store.get(record.id).unwrap().unwrap(), &token, T0));
    assert_eq!(store.head().unwrap(), 0);
    let (_, second) = create(&mut store, "acct_1", "Testing");
    let changes = store.changes_since(0, 10).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].0.seq, changes[0].0.id), (1, second.id));
}

#[test]
fn a_version_2_store_is_upgraded_to_the_latest_and_keeps_its_tokens_and_log() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    let (token, record) = create(&mut store, "acct_1", "Production API");
    drop(store);
    // Back to version 2: tokens, the change log and its counter.
    raw(&url)
        .batch_execute(&format!(
            "{BACK_TO_V3} DROP TABLE audit; UPDATE wgauth_meta SET schema_version = 2"
        ))
        .unwrap();
    assert_eq!(
        tables(&url),
        ["changes", "tokens", "wgauth_head", "wgauth_meta"]
    );
    let mut store = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(meta(&url).1, LATEST_SCHEMA);
    assert!(accepts(&store.get(record.id).unwrap().unwrap(), &token, T0));
    assert_eq!(store.head().unwrap(), 1);
    assert!(store.audit(None, 10).unwrap().is_empty());
    let deleted = store
        .delete_where(&[record.id], &mut |_: &whatsgate_auth::TokenRecord| {
            Some(whatsgate_auth_store::AuditNote::new(
                "test",
                "token.revoke",
                "",
            ))
        })
        .unwrap();
    assert_eq!(deleted.len(), 1);
    let changes = store.changes_since(0, 10).unwrap();
    assert_eq!(
        changes.iter().map(|(c, _)| c.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(store.audit(None, 10).unwrap().len(), 1);
}

#[test]
fn a_version_3_store_is_upgraded_and_its_tokens_keep_full_access_without_expiry() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    let (token, record) = create(&mut store, "acct_1", "Production API");
    drop(store);
    raw(&url).batch_execute(BACK_TO_V3).unwrap();
    let mut store = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(meta(&url).1, LATEST_SCHEMA);
    let stored = store.get(record.id).unwrap().unwrap();
    assert!(stored.is_plain(), "{stored:?}");
    assert!(accepts(&stored, &token, Timestamp(u64::MAX - 1)));
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
    assert!(!accepts(&stored, &token, T0));
}

#[test]
fn a_database_not_in_utf8_is_refused() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database_with("ENCODING 'SQL_ASCII' TEMPLATE template0");
    match Store::open(&url, OpenMode::CreateIfMissing) {
        Err(e @ StoreError::NotAStore(..)) => assert!(e.to_string().contains("UTF8"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(tables(&url).is_empty());
}

#[test]
fn names_sort_and_compare_bytewise_as_in_sqlite() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    for acct in ["b", "B", "a", "é", "A"] {
        create(&mut store, acct, "Production API");
    }
    let accounts: Vec<String> = store
        .list(None)
        .unwrap()
        .into_iter()
        .map(|r| r.account.as_str().to_owned())
        .collect();
    assert_eq!(accounts, ["A", "B", "a", "b", "é"]);
    // Names that differ only in case are different names.
    create(&mut store, "a", "production api");
    assert_eq!(store.list(Some("a")).unwrap().len(), 2);
}

// ---------------------------------------------------------------------------
// Timeouts and connection errors: no call blocks forever, no password shows.

#[test]
fn a_writer_stuck_behind_a_held_counter_gives_up_with_locked() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    open(&url);
    let mut holder = raw(&url);
    let mut held = holder.transaction().unwrap();
    held.execute("UPDATE wgauth_head SET seq = seq", &[])
        .unwrap();
    let mut store =
        Store::open_with_timeout(&url, OpenMode::Existing, Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    match store.create(account("acct_1"), name("A"), T0) {
        Err(e @ StoreError::Locked(_)) => eprintln!("after {:?}: {e}", started.elapsed()),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    held.rollback().unwrap();
    // The refused write left nothing behind, and the connection still works.
    create(&mut store, "acct_1", "A");
    assert_eq!(all_seqs(&mut store), [1]);
}

#[test]
fn unreachable_servers_and_bad_urls_are_errors_that_show_no_password() {
    if Pg::from_env().is_none() {
        return;
    }
    // A port nothing listens on.
    let started = Instant::now();
    unreachable(
        Store::open(
            &format!("postgresql://wgauth:{PASSWORD}@127.0.0.1:1/postgres"),
            OpenMode::CreateIfMissing,
        ),
        "refused",
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    for bad in [
        format!("postgresql://wgauth:{PASSWORD}@127.0.0.1:notaport/db"),
        format!("postgresql://wgauth:{PASSWORD}@127.0.0.1/db?sslmode=sometimes"),
        format!("postgresql://wgauth:{PASSWORD}@127.0.0.1/db?no_such_option=1"),
        format!("postgres://wgauth:{PASSWORD}@[::1/db"),
    ] {
        match Store::open(&bad, OpenMode::CreateIfMissing) {
            Err(e @ StoreError::BadConnectionString(..)) => {
                no_password(&e);
                eprintln!("{e}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn a_wrong_database_or_user_is_unreachable_without_the_password() {
    let pg = pg_or_skip!();
    let with_password = with_user(&pg.base, &format!("wgauth:{PASSWORD}"));
    unreachable(
        Store::open(
            &with_database(&with_password, "no_such_db"),
            OpenMode::Existing,
        ),
        "no such database",
    );
    unreachable(
        Store::open(
            &with_user(&pg.base, &format!("nobody:{PASSWORD}")),
            OpenMode::CreateIfMissing,
        ),
        "no such role",
    );
}

/// `base` with its user-info replaced by `userinfo`.
fn with_user(base: &str, userinfo: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{userinfo}@{host}")
}

// ---------------------------------------------------------------------------
// A server that restarts or dies: the dead connection is Unreachable (once),
// the next call or a new Store connects again, and nothing committed is lost.

#[test]
fn after_a_restart_the_dead_connection_is_unreachable_then_works_again() {
    if Pg::from_env().is_none() {
        return;
    }
    let server = Server::start();
    let url = server.url_with_password();
    let mut store = open(&url);
    let (token, record) = create(&mut store, "acct_1", "Production API");
    let mut follower = open(&url);
    follower.snapshot().unwrap();
    let mut writer = open(&url);
    writer.list(None).unwrap();

    // A follower waiting through the restart hears of it at once, not
    // after its timeout.
    let (waited, result) = thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            let result = follower.wait_for_change(Duration::from_secs(60));
            (started.elapsed(), result)
        });
        thread::sleep(Duration::from_millis(200));
        server.pg("restart", &[]);
        waiter.join().unwrap()
    });
    unreachable(result, "a wait through the restart");
    assert!(waited < Duration::from_secs(30), "{waited:?}");

    // A write finds the dead connection before it begins, and connects
    // again: it is not refused for a restart that is over.
    create(&mut writer, "acct_1", "After the restart");
    // A read's dead connection says so...
    unreachable(store.list(None), "the first call after the restart");
    // ...and the one after connects again.
    assert!(accepts(&store.get(record.id).unwrap().unwrap(), &token, T0));
    create(&mut store, "acct_1", "Testing");
    // The follower: a new connection's first wait returns at once (it
    // could not have heard of changes made while it was away).
    let started = Instant::now();
    follower.wait_for_change(Duration::from_secs(30)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(all_seqs(&mut follower), [1, 2, 3]);
    let mut reopened = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(reopened.list(None).unwrap().len(), 3);
}

#[test]
fn kill_9_of_every_server_process_loses_no_commit() {
    if Pg::from_env().is_none() {
        return;
    }
    let server = Server::start();
    let url = server.url_with_password();
    let mut store = open(&url);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create(&mut store, "acct_1", &format!("token {i}")).1.id);
    }
    store.delete(ids[0]).unwrap();
    let mut follower = open(&url);
    follower.snapshot().unwrap();

    let (waited, result) = thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            let result = follower.wait_for_change(Duration::from_secs(60));
            (started.elapsed(), result)
        });
        thread::sleep(Duration::from_millis(200));
        server.pg("down", &["kill"]);
        waiter.join().unwrap()
    });
    unreachable(result, "a wait through kill -9");
    assert!(waited < Duration::from_secs(30), "{waited:?}");

    // While the server is down: every call, and every open, is Unreachable
    // within the timeout.
    unreachable(store.head(), "the dead connection");
    let started = Instant::now();
    unreachable(store.head(), "a reconnect to a dead server");
    unreachable(
        Store::open_with_timeout(&url, OpenMode::Existing, Duration::from_secs(2)),
        "open while down",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    server.pg("up", &[]);
    // After crash recovery, every commit is there, and writing goes on.
    let mut reopened = eventually("open after kill -9", || {
        Store::open(&url, OpenMode::Existing)
    });
    assert_eq!(all_seqs(&mut reopened), (1..=21).collect::<Vec<u64>>());
    assert_eq!(reopened.list(None).unwrap().len(), 19);
    assert!(reopened.get(ids[0]).unwrap().is_none());
    let head = eventually("the old store reconnects", || store.head());
    assert_eq!(head, 21);
    create(&mut store, "acct_1", "after the crash");
    assert_eq!(reopened.head().unwrap(), 22);
}

#[test]
fn kill_9_of_one_backend_resets_every_connection_and_they_come_back() {
    if Pg::from_env().is_none() {
        return;
    }
    let server = Server::start();
    let url = server.url_with_password();
    let mut store = open(&url);
    let mut other = open(&url);
    create(&mut store, "acct_1", "A");
    other.head().unwrap();

    // kill -9 of one backend: the postmaster ends every other one and
    // recovers, as after a crash.
    let backends: Vec<i32> = raw(&url)
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'wgauth'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(backends.len(), 2, "{backends:?}");
    server.pg("kill-backend", &[&backends[0].to_string()]);

    // Each store's connection is reset (the other backend's as soon as the
    // postmaster has ended it): its next call is Unreachable.
    for (what, s) in [("first store", &mut store), ("second store", &mut other)] {
        let started = Instant::now();
        loop {
            match s.head() {
                Ok(_) if started.elapsed() < Duration::from_secs(10) => {
                    thread::sleep(Duration::from_millis(20));
                }
                result => break unreachable(result, what),
            }
        }
    }
    let head = eventually("reconnecting", || store.head());
    assert_eq!(head, 1);
    eventually("writing again", || {
        store.create(account("acct_1"), name("B"), T0)
    });
    assert_eq!(eventually("the other store", || other.head()), 2);
}

#[test]
fn kill_9_of_a_waiting_followers_own_backend_is_unreachable_at_once() {
    if Pg::from_env().is_none() {
        return;
    }
    let server = Server::start();
    let url = server.url_with_password();
    let mut follower = open(&url);
    follower.snapshot().unwrap();
    // The follower's backend: the only store connection so far.
    let listening: Vec<i32> = raw(&url)
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'wgauth'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(listening.len(), 1, "{listening:?}");
    let mut writer = open(&url);
    create(&mut writer, "acct_1", "A");
    follower.changes_since(0, 10).unwrap();

    // Its connection ends without a word from the server (the process is
    // gone): the wait notices, long before its timeout.
    let (waited, result) = thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            let result = follower.wait_for_change(Duration::from_secs(60));
            (started.elapsed(), result)
        });
        thread::sleep(Duration::from_millis(200));
        server.pg("kill-backend", &[&listening[0].to_string()]);
        waiter.join().unwrap()
    });
    unreachable(result, "a wait whose backend was killed");
    assert!(waited < Duration::from_secs(30), "{waited:?}");
    // Once the server has recovered, the follower connects again (a read
    // listens first), and a write wakes it as before.
    assert_eq!(eventually("the follower reconnects", || follower.head()), 1);
    eventually("the writer reconnects", || {
        writer.create(account("acct_1"), name("B"), T0)
    });
    let started = Instant::now();
    follower.wait_for_change(Duration::from_secs(30)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(all_seqs(&mut follower), [1, 2]);
}

// ---------------------------------------------------------------------------
// Rows another program wrote, and last-use batches.

#[test]
fn every_kind_of_damaged_row_is_reported_by_id_and_removable() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    let (token, good) = create(&mut store, "acct_1", "Production API");
    let v = "'\\x0000000000000000000000000000000000000000000000000000000000000000'";
    let rows = [
        (
            "00000000000000AA",
            "'acct_1'",
            "'upper-case id'",
            "0",
            "NULL",
            "lowercase",
        ),
        (
            "zzzzzzzzzzzzzzzz",
            "'acct_1'",
            "'not hex'",
            "0",
            "NULL",
            "lowercase",
        ),
        (
            "0000000000000001",
            "''",
            "'empty account'",
            "0",
            "NULL",
            "account",
        ),
        (
            "0000000000000002",
            "' acct_1'",
            "'spaced account'",
            "0",
            "NULL",
            "account",
        ),
        (
            "0000000000000003",
            "'acct_1'",
            "E'new\\nline'",
            "0",
            "NULL",
            "control",
        ),
        (
            "0000000000000004",
            "'acct_1'",
            "repeat('n', 65)",
            "0",
            "NULL",
            "too long",
        ),
        (
            "0000000000000005",
            "'acct_1'",
            "'   '",
            "0",
            "NULL",
            "empty",
        ),
        (
            "0000000000000006",
            "'acct_1'",
            "'negative creation'",
            "-1",
            "NULL",
            "creation",
        ),
        (
            "0000000000000007",
            "'acct_1'",
            "'negative last use'",
            "0",
            "-5",
            "last-use",
        ),
    ];
    for (id, acct, n, created, last_used, _) in rows {
        raw(&url)
            .batch_execute(&format!(
                "INSERT INTO tokens (id, account, name, verifier, created_at, last_used_at) \
                 VALUES ('{id}', {acct}, {n}, {v}, {created}, {last_used})"
            ))
            .unwrap();
    }
    raw(&url)
        .batch_execute(&format!(
            "INSERT INTO tokens VALUES ('0000000000000008', 'acct_1', 'negative grace', {v}, 0, \
             NULL, {v}, -1)"
        ))
        .unwrap();

    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.records.len(), 1);
    assert!(accepts(&snapshot.records[0], &token, T0));
    let bad: HashMap<String, String> = snapshot
        .bad_rows
        .iter()
        .map(|b| (b.id.clone(), b.why.clone()))
        .collect();
    assert_eq!(bad.len(), rows.len() + 1, "{bad:?}");
    for (id, _, _, _, _, why) in rows {
        assert!(
            bad[id].contains(why),
            "{id}: {:?} should say {why:?}",
            bad[id]
        );
    }
    assert!(bad["0000000000000008"].contains("grace"), "{bad:?}");
    // Nothing secret in a report: no verifier bytes, only the id and why.
    assert!(bad.values().all(|why| !why.contains("\\x")));

    // Each removable by its id, with a change that reads as gone.
    for id in (1..=8).map(|i| format!("{i:016x}")) {
        let id: TokenId = id.parse().unwrap();
        assert!(store.delete(id).unwrap().is_none(), "{id}");
    }
    let changes = store.changes_since(1, 100).unwrap();
    assert_eq!(changes.len(), 8);
    assert!(
        changes
            .iter()
            .all(|(_, state)| matches!(state, RowState::Absent))
    );
    // The two whose ids are not ids stay reported; the good token is intact.
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.bad_rows.len(), 2);
    assert_eq!(snapshot.records[0].id, good.id);
}

#[test]
fn last_use_batches_keep_the_latest_instant_and_never_deadlock() {
    let pg = pg_or_skip!();
    let (url, _db) = pg.database();
    let mut store = open(&url);
    let ids: Vec<TokenId> = (0..200)
        .map(|i| create(&mut store, "acct_1", &format!("token {i}")).1.id)
        .collect();
    // One batch naming a token twice: the later instant wins, whatever the order.
    store
        .record_last_used(&[
            (ids[0], Timestamp(T0.0 + 50)),
            (ids[0], Timestamp(T0.0 + 10)),
        ])
        .unwrap();
    assert_eq!(
        store.get(ids[0]).unwrap().unwrap().last_used_at,
        Some(Timestamp(T0.0 + 50))
    );

    // Batches over the same tokens in opposite orders, from four threads:
    // rows are locked in id order, so none waits on another in a cycle.
    thread::scope(|s| {
        for t in 0..4u64 {
            let (url, ids) = (&url, &ids);
            s.spawn(move || {
                let mut store = open(url);
                for round in 0..25u64 {
                    let mut batch: Vec<(TokenId, Timestamp)> = ids
                        .iter()
                        .map(|id| (*id, Timestamp(T0.0 + 100 + round * 4 + t)))
                        .collect();
                    if (round + t) % 2 == 1 {
                        batch.reverse();
                    }
                    store.record_last_used(&batch).unwrap();
                }
            });
        }
    });
    let latest = Timestamp(T0.0 + 100 + 24 * 4 + 3);
    assert!(
        store
            .list(None)
            .unwrap()
            .iter()
            .all(|r| r.last_used_at == Some(latest))
    );
    assert_eq!(store.head().unwrap(), 200, "last use is no change");
}
