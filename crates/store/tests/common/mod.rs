//! The backend suite: the behaviour every backend must have, written only
//! against `Store::open(url, …)`, so each backend runs the same checks.
//!
//! A backend's test file implements [`TestBackend`] (a fresh, empty store
//! per test, and a way to run raw SQL against it, to damage a row as another
//! program might) and invokes [`backend_suite!`], which defines one `#[test]`
//! per check:
//!
//! ```ignore
//! #[macro_use]
//! mod common;
//! struct Sqlite;
//! impl common::TestBackend for Sqlite { … }
//! backend_suite!(Sqlite);
//! ```

#![allow(dead_code, unused_macros, missing_docs, clippy::unwrap_used)]

pub mod pg;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use whatsgate_auth::host_records::parse;
use whatsgate_auth::{
    AccountId, Description, LifetimePolicy, NewToken, PolicyError, Scopes, Timestamp, Token,
    TokenId, TokenName, TokenRecord, TokenUpdate,
};
use whatsgate_auth_store::{
    AuditEntry, AuditNote, FollowOptions, Follower, OpenMode, RowState, Store, StoreError,
};

/// What a backend's test file provides.
pub trait TestBackend {
    /// Keeps a fresh store alive (a temporary directory, a database) until
    /// dropped.
    type Guard;
    /// A new, empty store no other test uses: its URL, and its guard.
    fn fresh(&self) -> (String, Self::Guard);
    /// Runs raw SQL against the store at `url`, as another program would
    /// (writes no change, bypasses the store's checks where the backend can).
    fn raw_sql(&self, url: &str, sql: &str);
}

/// Defines the suite's tests for a backend: `backend_suite!(MyBackend);`
/// where `MyBackend` is a constant expression implementing [`TestBackend`].
/// The test file declares `#[macro_use] mod common;` at its root.
macro_rules! backend_suite {
    ($backend:expr) => {
        #[test]
        fn suite_lifecycle() {
            $crate::common::lifecycle(&$backend);
        }
        #[test]
        fn suite_regenerate_with_and_without_grace() {
            $crate::common::regenerate_with_and_without_grace(&$backend);
        }
        #[test]
        fn suite_duplicate_names_are_refused_and_change_nothing() {
            $crate::common::duplicate_names_are_refused_and_change_nothing(&$backend);
        }
        #[test]
        fn suite_unknown_ids_are_refused_and_change_nothing() {
            $crate::common::unknown_ids_are_refused_and_change_nothing(&$backend);
        }
        #[test]
        fn suite_every_write_is_one_change_in_order() {
            $crate::common::every_write_is_one_change_in_order(&$backend);
        }
        #[test]
        fn suite_last_use_is_not_a_change() {
            $crate::common::last_use_is_not_a_change(&$backend);
        }
        #[test]
        fn suite_a_damaged_row_is_reported_and_never_blocks_a_removal() {
            $crate::common::a_damaged_row_is_reported_and_never_blocks_a_removal(&$backend);
        }
        #[test]
        fn suite_wait_for_change_wakes_on_another_stores_write() {
            $crate::common::wait_for_change_wakes_on_another_stores_write(&$backend);
        }
        #[test]
        fn suite_wait_for_change_times_out_without_a_write() {
            $crate::common::wait_for_change_times_out_without_a_write(&$backend);
        }
        #[test]
        fn suite_concurrent_writers_in_threads_make_seq_1_to_n() {
            $crate::common::concurrent_writers_in_threads(&$backend);
        }
        #[test]
        fn suite_concurrent_writers_in_processes_make_seq_1_to_n() {
            $crate::common::concurrent_writers_in_processes(&$backend, module_path!());
        }
        #[test]
        fn suite_delete_where_deletes_logs_and_audits_in_one_write() {
            $crate::common::delete_where_deletes_logs_and_audits_in_one_write(&$backend);
        }
        #[test]
        fn suite_delete_where_many_tokens_in_one_write() {
            $crate::common::delete_where_many_tokens_in_one_write(&$backend);
        }
        #[test]
        fn suite_audit_entries_on_their_own_and_their_caps() {
            $crate::common::audit_entries_on_their_own_and_their_caps(&$backend);
        }
        #[test]
        fn suite_v2_fields_are_stored_and_carried_by_snapshot_and_log() {
            $crate::common::v2_fields_are_stored_and_carried(&$backend);
        }
        #[test]
        fn suite_update_changes_logs_and_audits_each_field() {
            $crate::common::update_changes_logs_and_audits_each_field(&$backend);
        }
        #[test]
        fn suite_the_lifetime_policy_bounds_expiry_and_grace() {
            $crate::common::the_lifetime_policy_bounds_expiry_and_grace(&$backend);
        }
        #[test]
        fn suite_revoke_all_and_prune_delete_in_one_write() {
            $crate::common::revoke_all_and_prune_delete_in_one_write(&$backend);
        }
        #[test]
        fn suite_every_write_names_its_actor_in_the_audit_trail() {
            $crate::common::every_write_names_its_actor(&$backend);
        }
        #[test]
        fn suite_rows_with_bad_v2_fields_are_damaged_and_removable() {
            $crate::common::rows_with_bad_v2_fields_are_damaged_and_removable(&$backend);
        }
        #[test]
        fn suite_compacting_the_log_keeps_the_head_and_shows_a_gap() {
            $crate::common::compacting_the_log_keeps_the_head_and_shows_a_gap(&$backend);
        }
        #[test]
        fn suite_a_follower_sees_disable_rescope_and_expiry() {
            $crate::common::a_follower_sees_disable_rescope_and_expiry(&$backend);
        }
        /// Not a check: the writer process the test above starts (it does
        /// nothing when run on its own).
        #[test]
        fn suite_writer_process() {
            $crate::common::writer_process();
        }
    };
}

pub fn open(url: &str) -> Store {
    Store::open(url, OpenMode::CreateIfMissing).unwrap_or_else(|e| panic!("open {url}: {e}"))
}

pub fn account(text: &str) -> AccountId {
    AccountId::new(text).unwrap()
}

pub fn name(text: &str) -> TokenName {
    TokenName::new(text).unwrap()
}

const T0: Timestamp = Timestamp(1_700_000_000);

pub fn create(store: &mut Store, acct: &str, n: &str) -> (Token, TokenRecord) {
    store
        .create(account(acct), name(n), T0)
        .unwrap_or_else(|e| panic!("create {acct}/{n}: {e}"))
}

/// Whether `record` accepts `token` at `now`.
pub fn accepts(record: &TokenRecord, token: &Token, now: Timestamp) -> bool {
    let parsed = parse(token.expose_secret().as_bytes()).unwrap();
    record.accepts(&parsed, now)
}

fn same(a: &TokenRecord, b: &TokenRecord) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.account, b.account);
    assert_eq!(a.name, b.name);
    assert_eq!(a.verifier.to_bytes(), b.verifier.to_bytes());
    assert_eq!(a.created_at, b.created_at);
    assert_eq!(a.last_used_at, b.last_used_at);
    assert_eq!(
        a.rollover.map(|r| (r.verifier.to_bytes(), r.until)),
        b.rollover.map(|r| (r.verifier.to_bytes(), r.until))
    );
}

/// The seqs and ids of every change, in order.
fn log(store: &mut Store) -> Vec<(u64, TokenId)> {
    store
        .changes_since(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|(c, _)| (c.seq, c.id))
        .collect()
}

pub fn lifecycle(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    assert!(store.list(None).unwrap().is_empty());
    assert_eq!(store.head().unwrap(), 0);

    let (t1, r1) = create(&mut store, "acct_1", "Production API");
    let (t2, r2) = create(&mut store, "acct_1", "Testing");
    let (t3, r3) = create(&mut store, "acct_2", "Production API");
    assert_eq!(r1.account.as_str(), "acct_1");
    assert_eq!(r1.name.as_str(), "Production API");
    assert_eq!(r1.created_at, T0);
    assert!(r1.last_used_at.is_none() && r1.rollover.is_none());
    assert_eq!(t1.id(), r1.id);
    assert!(accepts(&r1, &t1, T0) && !accepts(&r1, &t2, T0));

    // Another connection sees the same records.
    let mut other = open(&url);
    let all = other.list(None).unwrap();
    assert_eq!(all.len(), 3);
    // Ordered by account, creation time and id.
    assert_eq!(all[2].id, r3.id);
    let mut first_two = [r1.id, r2.id];
    first_two.sort();
    assert_eq!([all[0].id, all[1].id], first_two);
    for (stored, issued) in all.iter().zip([&r1, &r2]).filter(|(s, i)| s.id == i.id) {
        same(stored, issued);
    }
    let acct_1 = other.list(Some("acct_1")).unwrap();
    assert_eq!(acct_1.len(), 2);
    assert!(acct_1.iter().all(|r| r.account.as_str() == "acct_1"));
    assert!(other.list(Some("nobody")).unwrap().is_empty());

    same(&other.get(r2.id).unwrap().unwrap(), &r2);
    let found = other
        .find(&account("acct_2"), &name("Production API"))
        .unwrap()
        .unwrap();
    same(&found, &r3);
    assert!(accepts(&found, &t3, T0));
    assert!(
        other
            .find(&account("acct_2"), &name("Testing"))
            .unwrap()
            .is_none()
    );

    // Delete: the record comes back, then it is gone everywhere.
    let deleted = store.delete(r1.id).unwrap().unwrap();
    same(&deleted, &r1);
    assert!(other.get(r1.id).unwrap().is_none());
    assert!(
        other
            .find(&account("acct_1"), &name("Production API"))
            .unwrap()
            .is_none()
    );
    assert_eq!(other.list(None).unwrap().len(), 2);
    match store.delete(r1.id) {
        Err(StoreError::UnknownToken(id)) => assert_eq!(id, r1.id),
        other => panic!("second delete: {other:?}"),
    }
    // The name is free again.
    let (_, again) = create(&mut store, "acct_1", "Production API");
    assert_ne!(again.id, r1.id);

    // Reopening keeps everything.
    drop(store);
    drop(other);
    let mut store = Store::open(&url, OpenMode::Existing).unwrap();
    assert_eq!(store.list(None).unwrap().len(), 3);
    assert!(accepts(&store.get(r2.id).unwrap().unwrap(), &t2, T0));
}

pub fn regenerate_with_and_without_grace(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (old, issued) = create(&mut store, "acct_1", "Production API");
    let now = Timestamp(T0.0 + 100);

    // With grace: both secrets work until the grace ends; id, name, account stay.
    let until = Timestamp(now.0 + 600);
    let (new, record) = store.regenerate(issued.id, now, Some(until)).unwrap();
    assert_eq!(new.id(), issued.id);
    assert_eq!(
        (record.id, &record.account, &record.name),
        (issued.id, &issued.account, &issued.name)
    );
    assert_eq!(record.created_at, issued.created_at);
    let stored = open(&url).get(issued.id).unwrap().unwrap();
    same(&stored, &record);
    assert_eq!(stored.rollover.map(|r| r.until), Some(until));
    assert!(accepts(&stored, &new, now));
    assert!(accepts(&stored, &old, now));
    assert!(!accepts(&stored, &old, until));
    assert!(accepts(&stored, &new, until));

    // Without grace: only the newest works, and the grace period is gone.
    let (newest, record) = store.regenerate(issued.id, now, None).unwrap();
    let stored = open(&url).get(issued.id).unwrap().unwrap();
    same(&stored, &record);
    assert!(stored.rollover.is_none());
    assert!(accepts(&stored, &newest, now));
    assert!(!accepts(&stored, &new, now));
    assert!(!accepts(&stored, &old, now));

    // A grace that ends at or before now is no grace.
    let (_, record) = store.regenerate(issued.id, now, Some(now)).unwrap();
    assert!(record.rollover.is_none());
    assert!(
        open(&url)
            .get(issued.id)
            .unwrap()
            .unwrap()
            .rollover
            .is_none()
    );
    assert_eq!(store.list(None).unwrap().len(), 1);
}

pub fn duplicate_names_are_refused_and_change_nothing(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (_, first) = create(&mut store, "acct_1", "Production API");
    let head = store.head().unwrap();
    for n in ["Production API", "  Production API "] {
        match store.create(account("acct_1"), name(n), T0) {
            Err(StoreError::DuplicateName(a, dup)) => {
                assert_eq!(a.as_str(), "acct_1");
                assert_eq!(dup.as_str(), "Production API");
            }
            other => panic!("duplicate {n:?}: {other:?}"),
        }
    }
    let message = store
        .create(account("acct_1"), name("Production API"), T0)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("already has a token named \"Production API\""),
        "{message}"
    );
    assert_eq!(store.head().unwrap(), head, "a refused write is no change");
    assert_eq!(store.list(None).unwrap().len(), 1);
    same(&store.get(first.id).unwrap().unwrap(), &first);
    // Names are per account; and the next write takes the next seq: no gap.
    create(&mut store, "acct_2", "Production API");
    assert_eq!(store.head().unwrap(), head + 1);
}

pub fn unknown_ids_are_refused_and_change_nothing(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    create(&mut store, "acct_1", "Production API");
    let unknown: TokenId = "0123456789abcdef".parse().unwrap();
    assert!(store.get(unknown).unwrap().is_none());
    assert!(matches!(store.delete(unknown), Err(StoreError::UnknownToken(id)) if id == unknown));
    assert!(matches!(
        store.regenerate(unknown, T0, None),
        Err(StoreError::UnknownToken(id)) if id == unknown
    ));
    let message = store.delete(unknown).unwrap_err().to_string();
    assert!(
        message.contains("no token has id 0123456789abcdef"),
        "{message}"
    );
    // Last use of an unknown (say, just deleted) token is skipped quietly.
    store.record_last_used(&[(unknown, T0)]).unwrap();
    assert_eq!(store.head().unwrap(), 1);
    assert_eq!(store.list(None).unwrap().len(), 1);
}

pub fn every_write_is_one_change_in_order(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let mut reader = open(&url);
    assert!(reader.changes_since(0, 10).unwrap().is_empty());
    assert_eq!(reader.snapshot().unwrap().head, 0);

    let (_, a) = create(&mut store, "acct_1", "A");
    let changes = reader.changes_since(0, 10).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].0.seq, changes[0].0.id), (1, a.id));
    match &changes[0].1 {
        RowState::Present(r) => same(r, &a),
        other => panic!("{other:?}"),
    }

    let (_, b_rec) = create(&mut store, "acct_1", "B");
    let (_, regenerated) = store.regenerate(a.id, T0, None).unwrap();
    store.delete(b_rec.id).unwrap();
    assert_eq!(reader.head().unwrap(), 4);
    assert_eq!(
        log(&mut reader),
        [(1, a.id), (2, b_rec.id), (3, a.id), (4, b_rec.id)]
    );

    // Each change comes with its token's row as of the read, not as of the
    // write: both of A's changes show the regenerated record, both of B's
    // show it gone.
    let changes = reader.changes_since(0, 10).unwrap();
    for (change, state) in &changes {
        match state {
            RowState::Present(r) if change.id == a.id => same(r, &regenerated),
            RowState::Absent if change.id == b_rec.id => {}
            other => panic!("change {change:?}: {other:?}"),
        }
    }
    // `after` and `limit`.
    let page: Vec<u64> = reader
        .changes_since(1, 2)
        .unwrap()
        .iter()
        .map(|(c, _)| c.seq)
        .collect();
    assert_eq!(page, [2, 3]);
    assert!(reader.changes_since(4, 10).unwrap().is_empty());
    assert!(reader.changes_since(u64::MAX, 10).unwrap().is_empty());
    assert!(reader.changes_since(0, 0).unwrap().is_empty());

    // The snapshot's head is the latest change it includes.
    let snapshot = reader.snapshot().unwrap();
    assert_eq!(snapshot.head, 4);
    assert_eq!(snapshot.records.len(), 1);
    same(&snapshot.records[0], &regenerated);
    assert!(snapshot.bad_rows.is_empty());
}

/// `delete_where` deletes what `decide` picks, and only that: each with one
/// change and one audit entry, all in one write; the control (a `decide`
/// that picks nothing) changes nothing, so the picks are not all-delete.
pub fn delete_where_deletes_logs_and_audits_in_one_write(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let mut reader = open(&url);
    let (_, a) = create(&mut store, "acct_1", "A");
    let (tb, b_rec) = create(&mut store, "acct_1", "B");
    let (_, c) = create(&mut store, "acct_2", "C");
    let unknown: TokenId = "0123456789abcdef".parse().unwrap();

    // Control: nothing picked, nothing written.
    let mut offered = Vec::new();
    let none = store
        .delete_where(&[a.id, b_rec.id, c.id, unknown], &mut |r: &TokenRecord| {
            offered.push(r.id);
            None
        })
        .unwrap();
    assert!(none.is_empty());
    offered.sort_unstable();
    let mut expected = vec![a.id, b_rec.id, c.id];
    expected.sort_unstable();
    assert_eq!(offered, expected, "every existing token is offered, once");
    assert_eq!(reader.head().unwrap(), 3);
    assert!(revocations(&mut reader, None).is_empty());

    // A and C picked (A twice in the list: offered and deleted once).
    let deleted = store
        .delete_where(
            &[c.id, a.id, unknown, b_rec.id, a.id],
            &mut |r: &TokenRecord| {
                (r.id != b_rec.id).then(|| {
                    AuditNote::new(
                        "leak-report:test",
                        "token.revoke",
                        format!("found at {}", r.name),
                    )
                })
            },
        )
        .unwrap();
    let mut ids: Vec<TokenId> = deleted.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    let mut expected = vec![a.id, c.id];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(reader.get(a.id).unwrap().is_none());
    assert!(reader.get(c.id).unwrap().is_none());
    assert!(accepts(&reader.get(b_rec.id).unwrap().unwrap(), &tb, T0));
    // One change each, after the creations, with no gap.
    let tail: Vec<(u64, TokenId)> = log(&mut reader).split_off(3);
    assert_eq!(tail.len(), 2);
    assert_eq!((tail[0].0, tail[1].0), (4, 5));
    let mut logged: Vec<TokenId> = tail.iter().map(|(_, id)| *id).collect();
    logged.sort_unstable();
    assert_eq!(logged, expected);

    // The audit trail: newest first, with ids, accounts and details.
    let trail = revocations(&mut reader, None);
    assert_eq!(trail.len(), 2);
    assert!(trail[0].seq > trail[1].seq);
    for entry in &trail {
        assert_eq!(entry.actor, "leak-report:test");
        assert_eq!(entry.action, "token.revoke");
        let record = if entry.token_id == Some(a.id) { &a } else { &c };
        assert_eq!(entry.token_id, Some(record.id));
        assert_eq!(entry.account.as_deref(), Some(record.account.as_str()));
        assert_eq!(entry.detail, format!("found at {}", record.name));
        let now = Timestamp::now().as_secs();
        assert!((now - 60..=now + 1).contains(&entry.at.as_secs()));
    }
    // By account, and limited.
    let only = revocations(&mut reader, Some("acct_2"));
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].token_id, Some(c.id));
    assert!(reader.audit(Some("acct_3"), 10).unwrap().is_empty());
    assert_eq!(reader.audit(None, 1).unwrap(), trail[..1]);
    assert!(reader.audit(None, 0).unwrap().is_empty());

    // Deleting what is gone: nothing offered, nothing written.
    let again = store
        .delete_where(&[a.id], &mut |_: &TokenRecord| {
            panic!("a gone token was offered")
        })
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(reader.head().unwrap(), 5);
}

/// Thousands of deletions in one write: every one logged and audited, and
/// a follower's reading of the log sees them all.
pub fn delete_where_many_tokens_in_one_write(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let n = 300;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(create(&mut store, "acct_1", &format!("t{i}")).1.id);
    }
    let kept = create(&mut store, "acct_1", "kept").1;
    let deleted = store
        .delete_where(&ids, &mut |_: &TokenRecord| {
            Some(AuditNote::new("leak-report:test", "token.revoke", ""))
        })
        .unwrap();
    assert_eq!(deleted.len(), n);
    let left = store.list(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, kept.id);
    let seqs: Vec<u64> = log(&mut store).into_iter().map(|(s, _)| s).collect();
    let expected: Vec<u64> = (1..=u64::try_from(2 * n + 1).unwrap()).collect();
    assert_eq!(seqs, expected, "one change per deletion, no gap");
    assert_eq!(revocations(&mut store, None).len(), n);
}

/// The `token.revoke` entries of the trail (leaving out the creations'),
/// newest first.
fn revocations(store: &mut Store, account: Option<&str>) -> Vec<whatsgate_auth_store::AuditEntry> {
    let mut trail = store.audit(account, 100_000).unwrap();
    trail.retain(|entry| entry.action == "token.revoke");
    trail
}

/// `append_audit` on its own, and what the store does to long or
/// control-character-laden parts.
pub fn audit_entries_on_their_own_and_their_caps(b: &impl TestBackend) {
    use whatsgate_auth_store::{MAX_ACTION, MAX_ACTOR, MAX_DETAIL};
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (_, a) = create(&mut store, "acct_1", "A");
    store
        .append_audit(&AuditNote::new("wgauth", "note", "plain"), None)
        .unwrap();
    store
        .append_audit(
            &AuditNote::new(
                "é".repeat(MAX_ACTOR + 5),
                "x".repeat(MAX_ACTION + 1),
                format!("line\nbreak\u{1b}[31m{}", "d".repeat(MAX_DETAIL)),
            ),
            Some((a.id, &a.account)),
        )
        .unwrap();
    // Not a change: followers are not woken for an entry.
    assert_eq!(store.head().unwrap(), 1);
    // The newest two (the creation wrote the first).
    let trail = store.audit(None, 2).unwrap();
    assert_eq!(trail.len(), 2);
    let long = &trail[0];
    assert_eq!(long.actor, "é".repeat(MAX_ACTOR));
    assert_eq!(long.action.chars().count(), MAX_ACTION);
    assert_eq!(long.detail.chars().count(), MAX_DETAIL);
    assert!(long.detail.starts_with("line\u{FFFD}break\u{FFFD}[31m"));
    assert_eq!(long.token_id, Some(a.id));
    assert_eq!(long.account.as_deref(), Some("acct_1"));
    let plain = &trail[1];
    assert_eq!(
        (
            plain.actor.as_str(),
            plain.action.as_str(),
            plain.detail.as_str()
        ),
        ("wgauth", "note", "plain")
    );
    assert_eq!((plain.token_id, plain.account.as_deref()), (None, None));
}

pub fn last_use_is_not_a_change(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (_, a) = create(&mut store, "acct_1", "A");
    let (_, b_rec) = create(&mut store, "acct_1", "B");
    let later = Timestamp(T0.0 + 50);
    store
        .record_last_used(&[(a.id, later), (b_rec.id, T0)])
        .unwrap();
    store.record_last_used(&[]).unwrap();
    let mut reader = open(&url);
    assert_eq!(reader.head().unwrap(), 2);
    assert_eq!(reader.changes_since(0, 10).unwrap().len(), 2);
    assert_eq!(reader.get(a.id).unwrap().unwrap().last_used_at, Some(later));
    assert_eq!(
        reader.get(b_rec.id).unwrap().unwrap().last_used_at,
        Some(T0)
    );
    // It never moves back.
    store.record_last_used(&[(a.id, T0)]).unwrap();
    assert_eq!(reader.get(a.id).unwrap().unwrap().last_used_at, Some(later));
    let snapshot = reader.snapshot().unwrap();
    assert_eq!(snapshot.head, 2);
}

/// Another program wrote a row that is not a valid record: a name that
/// differs from another of its account only by a trailing space.
pub fn a_damaged_row_is_reported_and_never_blocks_a_removal(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (tx, x) = create(&mut store, "acct_1", "Production API");
    let (_, y) = create(&mut store, "acct_2", "Testing");
    let (_, z) = create(&mut store, "acct_1", "Spare");
    b.raw_sql(
        &url,
        &format!(
            "UPDATE tokens SET name = 'Production API ' WHERE id = '{}'",
            z.id
        ),
    );

    // The snapshot loads the rest and reports the bad row by id.
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.head, 3);
    let mut loaded: Vec<TokenId> = snapshot.records.iter().map(|r| r.id).collect();
    loaded.sort();
    let mut wanted = vec![x.id, y.id];
    wanted.sort();
    assert_eq!(loaded, wanted);
    assert_eq!(snapshot.bad_rows.len(), 1);
    assert_eq!(snapshot.bad_rows[0].id, z.id.to_string());
    assert!(
        snapshot.bad_rows[0].why.contains("whitespace"),
        "{:?}",
        snapshot.bad_rows[0]
    );

    // Its change reads as Invalid (the row as of the read); others are fine.
    let changes = store.changes_since(0, 10).unwrap();
    assert_eq!(changes.len(), 3);
    match &changes[2] {
        (c, RowState::Invalid(bad)) if c.id == z.id => assert_eq!(bad.id, z.id.to_string()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&changes[0].1, RowState::Present(r) if r.id == x.id));

    // Asking for that very record is an error that says what to do; asking
    // for another is not.
    let message = store.get(z.id).unwrap_err().to_string();
    assert!(
        message.contains("damaged") && message.contains(&z.id.to_string()),
        "{message}"
    );
    assert!(matches!(store.list(None), Err(StoreError::Damaged(_))));
    assert!(accepts(&store.get(x.id).unwrap().unwrap(), &tx, T0));
    assert!(matches!(
        store.regenerate(z.id, T0, None),
        Err(StoreError::Damaged(_))
    ));
    assert_eq!(
        store.head().unwrap(),
        3,
        "a refused regenerate is no change"
    );

    // The removal goes through, with its change.
    assert!(store.delete(z.id).unwrap().is_none());
    let changes = store.changes_since(3, 10).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(matches!(&changes[0], (c, RowState::Absent) if c.seq == 4 && c.id == z.id));
    let snapshot = store.snapshot().unwrap();
    assert!(snapshot.bad_rows.is_empty());
    assert_eq!(snapshot.records.len(), 2);
    assert_eq!(store.list(None).unwrap().len(), 2);
}

pub fn wait_for_change_wakes_on_another_stores_write(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut follower = open(&url);
    let mut writer = open(&url);
    assert_eq!(follower.snapshot().unwrap().head, 0);

    // A write while the follower waits.
    let waited = thread::scope(|s| {
        let barrier = Arc::new(Barrier::new(2));
        let b2 = Arc::clone(&barrier);
        let write = s.spawn(move || {
            b2.wait();
            thread::sleep(Duration::from_millis(100));
            create(&mut writer, "acct_1", "A");
            (Instant::now(), writer)
        });
        barrier.wait();
        let started = Instant::now();
        follower.wait_for_change(Duration::from_secs(20)).unwrap();
        let woke = Instant::now();
        let (wrote, writer) = write.join().unwrap();
        (
            woke.duration_since(started),
            woke.saturating_duration_since(wrote),
            writer,
        )
    });
    let (waited, after_write, mut writer) = waited;
    assert!(waited < Duration::from_secs(10), "woke after {waited:?}");
    assert!(
        after_write < Duration::from_secs(5),
        "{after_write:?} after the write"
    );
    assert_eq!(follower.changes_since(0, 10).unwrap().len(), 1);

    // A write between the follower's read and its wait still wakes it.
    create(&mut writer, "acct_1", "B");
    let started = Instant::now();
    follower.wait_for_change(Duration::from_secs(20)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(follower.changes_since(1, 10).unwrap().len(), 1);
}

pub fn wait_for_change_times_out_without_a_write(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut writer = open(&url);
    create(&mut writer, "acct_1", "A");
    // Opened after the write: nothing new for it to see.
    let mut follower = open(&url);
    follower.snapshot().unwrap();
    let started = Instant::now();
    follower
        .wait_for_change(Duration::from_millis(300))
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(290),
        "returned after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "returned after {waited:?}");
    assert_eq!(follower.head().unwrap(), 1);
    // A zero timeout checks once and returns.
    let started = Instant::now();
    follower.wait_for_change(Duration::ZERO).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Checks that the log holds seq 1..=n, each once, and that every created
/// token has exactly one change.
fn check_log(store: &mut Store, n: usize) {
    let entries = log(store);
    let seqs: Vec<u64> = entries.iter().map(|(s, _)| *s).collect();
    let expected: Vec<u64> = (1..=n as u64).collect();
    assert_eq!(seqs, expected, "seq 1..={n}, no gap, no duplicate");
    let ids: BTreeSet<TokenId> = entries.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), n, "one change per created token");
    let records = store.list(None).unwrap();
    assert_eq!(records.len(), n);
    assert!(records.iter().all(|r| ids.contains(&r.id)));
    assert_eq!(store.head().unwrap(), n as u64);
    assert_eq!(store.snapshot().unwrap().head, n as u64);
}

const THREADS: usize = 8;
const PROCESSES: usize = 4;
const WRITES_EACH: usize = 20;

pub fn concurrent_writers_in_threads(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    open(&url);
    let barrier = Arc::new(Barrier::new(THREADS));
    thread::scope(|s| {
        for t in 0..THREADS {
            let (url, barrier) = (&url, Arc::clone(&barrier));
            s.spawn(move || {
                let mut store =
                    Store::open_with_timeout(url, OpenMode::Existing, Duration::from_secs(60))
                        .unwrap();
                barrier.wait();
                for i in 0..WRITES_EACH {
                    create(&mut store, &format!("acct_{t}"), &format!("token {i}"));
                }
            });
        }
    });
    check_log(&mut open(&url), THREADS * WRITES_EACH);
}

const CHILD_URL: &str = "WGAUTH_STORE_SUITE_WRITER_URL";
const CHILD_ACCOUNT: &str = "WGAUTH_STORE_SUITE_WRITER_ACCOUNT";

pub fn concurrent_writers_in_processes(b: &impl TestBackend, module: &str) {
    let (url, _guard) = b.fresh();
    open(&url);
    // The test binary runs itself, filtered to the writer "test".
    let test = match module.split_once("::") {
        Some((_, path)) => format!("{path}::suite_writer_process"),
        None => "suite_writer_process".to_string(),
    };
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(&exe)
                .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_URL, &url)
                .env(CHILD_ACCOUNT, format!("proc_{p}"))
                .output_in_background()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "writer failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "the writer did not run: {stdout}"
        );
    }
    check_log(&mut open(&url), PROCESSES * WRITES_EACH);
}

/// The writer process of [`concurrent_writers_in_processes`].
pub fn writer_process() {
    let (Ok(url), Ok(acct)) = (std::env::var(CHILD_URL), std::env::var(CHILD_ACCOUNT)) else {
        return;
    };
    let mut store =
        Store::open_with_timeout(&url, OpenMode::Existing, Duration::from_secs(60)).unwrap();
    for i in 0..WRITES_EACH {
        create(&mut store, &acct, &format!("token {i}"));
    }
}

trait Spawn {
    fn output_in_background(&mut self) -> std::process::Child;
}

impl Spawn for Command {
    fn output_in_background(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

// ---------------------------------------------------------------------------
// Records v2: scopes, expiry, disabled, description; policy; audit.

const DAY: u64 = 86_400;

fn scoped(names: &[&str]) -> Scopes {
    Scopes::only(names).unwrap()
}

fn spec(acct: &str, n: &str) -> NewToken {
    NewToken::new(account(acct), name(n))
}

/// The audit trail's actions, oldest first.
fn actions(store: &mut Store) -> Vec<String> {
    let mut trail = store.audit(None, 1000).unwrap();
    trail.reverse();
    trail.into_iter().map(|e| e.action).collect()
}

fn newest(store: &mut Store) -> AuditEntry {
    store.audit(None, 1).unwrap().remove(0)
}

fn same_v2(a: &TokenRecord, b: &TokenRecord) {
    assert_eq!(
        (&a.scopes, a.expires_at, a.disabled, &a.description),
        (&b.scopes, b.expires_at, b.disabled, &b.description)
    );
}

pub fn v2_fields_are_stored_and_carried(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let mut reader = open(&url);
    let full = create(&mut store, "acct_1", "Plain").1;
    let (token, rich) = store
        .create_from(
            NewToken {
                scopes: scoped(&["messages:send", "devices:*", "messages:send"]),
                expires_at: Some(Timestamp(T0.0 + DAY)),
                description: Some(Description::new("  CI pipeline  ").unwrap()),
                ..spec("acct_1", "Rich")
            },
            T0,
        )
        .unwrap();
    let nothing = store
        .create_from(
            NewToken {
                scopes: scoped(&[]),
                ..spec("acct_1", "Nothing")
            },
            T0,
        )
        .unwrap()
        .1;
    assert_eq!(
        rich.scopes
            .list()
            .unwrap()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["devices:*", "messages:send"]
    );
    assert_eq!(rich.description.as_ref().unwrap().as_str(), "CI pipeline");
    assert!(full.is_plain());
    // Every read path gives back what was written: get, list, snapshot, log.
    for record in [&full, &rich, &nothing] {
        same_v2(&reader.get(record.id).unwrap().unwrap(), record);
    }
    let listed = reader.list(Some("acct_1")).unwrap();
    assert_eq!(listed.len(), 3);
    let snapshot = reader.snapshot().unwrap();
    for record in [&full, &rich, &nothing] {
        let found = snapshot.records.iter().find(|r| r.id == record.id).unwrap();
        same_v2(found, record);
    }
    for (_, state) in reader.changes_since(0, 10).unwrap() {
        let RowState::Present(found) = state else {
            panic!("{state:?}")
        };
        let record = [&full, &rich, &nothing]
            .into_iter()
            .find(|r| r.id == found.id)
            .unwrap();
        same_v2(&found, record);
    }
    // The empty list is not full access (NULL and "" are told apart).
    let nothing = reader.get(nothing.id).unwrap().unwrap();
    assert!(!nothing.scopes.is_full() && !nothing.scopes.allows("messages:send"));
    // The expiry is exclusive, and the record says so.
    let rich = reader.get(rich.id).unwrap().unwrap();
    assert!(accepts(&rich, &token, Timestamp(T0.0 + DAY - 1)));
    assert!(!accepts(&rich, &token, Timestamp(T0.0 + DAY)));
    // Regenerating keeps the fields.
    let (_, regenerated) = store.regenerate(rich.id, T0, None).unwrap();
    same_v2(&regenerated, &rich);
    same_v2(&reader.get(rich.id).unwrap().unwrap(), &rich);
}

pub fn update_changes_logs_and_audits_each_field(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let (token, a) = create(&mut store, "acct_1", "A");
    create(&mut store, "acct_1", "Taken");
    let (_, other) = create(&mut store, "acct_2", "B");
    assert_eq!(store.head().unwrap(), 3);

    // Disable: refused from then on; a change and an entry.
    let disabled = store
        .update(
            a.id,
            TokenUpdate {
                disabled: Some(true),
                ..TokenUpdate::default()
            },
        )
        .unwrap();
    assert!(disabled.disabled);
    let stored = store.get(a.id).unwrap().unwrap();
    assert!(stored.disabled && !accepts(&stored, &token, T0));
    assert_eq!(store.head().unwrap(), 4);
    let entry = newest(&mut store);
    assert_eq!(
        (
            entry.action.as_str(),
            entry.token_id,
            entry.account.as_deref()
        ),
        ("token.update", Some(a.id), Some("acct_1"))
    );
    assert!(entry.detail.contains("disabled"), "{}", entry.detail);

    // Enable, rename, rescope and describe in one update.
    let updated = store
        .update(
            a.id,
            TokenUpdate {
                name: Some(name("Renamed")),
                description: Some(Some(Description::new("for the CI").unwrap())),
                scopes: Some(scoped(&["messages:send"])),
                disabled: Some(false),
            },
        )
        .unwrap();
    let stored = store.get(a.id).unwrap().unwrap();
    same_v2(&stored, &updated);
    assert_eq!(stored.name.as_str(), "Renamed");
    assert!(accepts(&stored, &token, T0), "enabled again, same secret");
    assert!(
        store
            .find(&account("acct_1"), &name("A"))
            .unwrap()
            .is_none()
    );
    let detail = newest(&mut store).detail;
    for part in [
        "renamed \"A\" -> \"Renamed\"",
        "full access -> messages:send",
        "enabled",
        "description added",
    ] {
        assert!(detail.contains(part), "{part}: {detail}");
    }
    assert!(
        !detail.contains("for the CI"),
        "no description text: {detail}"
    );

    // Back to full access, description removed.
    let back = store
        .update(
            a.id,
            TokenUpdate {
                scopes: Some(Scopes::FULL),
                description: Some(None),
                ..TokenUpdate::default()
            },
        )
        .unwrap();
    assert!(back.scopes.is_full() && back.description.is_none());
    same_v2(&store.get(a.id).unwrap().unwrap(), &back);
    assert_eq!(store.head().unwrap(), 6);

    // Refusals change nothing: a taken name, an unknown id.
    let before = (store.head().unwrap(), actions(&mut store).len());
    match store.update(
        a.id,
        TokenUpdate {
            name: Some(name("Taken")),
            ..TokenUpdate::default()
        },
    ) {
        Err(StoreError::DuplicateName(acct, n)) => {
            assert_eq!((acct.as_str(), n.as_str()), ("acct_1", "Taken"))
        }
        other => panic!("{other:?}"),
    }
    let unknown: TokenId = "0123456789abcdef".parse().unwrap();
    assert!(matches!(
        store.update(
            unknown,
            TokenUpdate {
                disabled: Some(true),
                ..TokenUpdate::default()
            }
        ),
        Err(StoreError::UnknownToken(id)) if id == unknown
    ));
    // An empty update writes nothing (and still knows unknown ids).
    assert_eq!(store.update(a.id, TokenUpdate::default()).unwrap().id, a.id);
    assert!(matches!(
        store.update(unknown, TokenUpdate::default()),
        Err(StoreError::UnknownToken(_))
    ));
    assert_eq!((store.head().unwrap(), actions(&mut store).len()), before);
    // A name taken in another account is free in this one.
    store
        .update(
            other.id,
            TokenUpdate {
                name: Some(name("Taken")),
                ..TokenUpdate::default()
            },
        )
        .unwrap();
}

pub fn the_lifetime_policy_bounds_expiry_and_grace(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    assert_eq!(*store.policy(), LifetimePolicy::DEFAULT);
    let (_, a) = create(&mut store, "acct_1", "A");
    assert_eq!(a.expires_at, None, "no maximum lifetime by default");
    let head = store.head().unwrap();

    // Grace: within the cap is fine; beyond it, or negative, refused with
    // the policy's message, and nothing written.
    let max = LifetimePolicy::DEFAULT.max_grace;
    for grace_until in [
        Timestamp(T0.0 + max + 1),
        Timestamp(u64::MAX),
        Timestamp(T0.0 - 1),
    ] {
        let err = store.regenerate(a.id, T0, Some(grace_until)).unwrap_err();
        let message = err.to_string();
        match err {
            StoreError::Policy(PolicyError::GraceTooLong { max: m }) => {
                assert_eq!(m, max);
                assert!(message.contains("at most 30 days"), "{message}");
            }
            StoreError::Policy(PolicyError::NegativeGrace) => {
                assert!(message.contains("negative"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(store.head().unwrap(), head);
    store
        .regenerate(a.id, T0, Some(Timestamp(T0.0 + max)))
        .unwrap();

    // A maximum lifetime: given to tokens that ask for none, and enforced.
    store.set_policy(LifetimePolicy {
        max_lifetime: Some(7 * DAY),
        max_grace: DAY,
    });
    let (_, bounded) = create(&mut store, "acct_1", "Bounded");
    assert_eq!(bounded.expires_at, Some(Timestamp(T0.0 + 7 * DAY)));
    assert_eq!(
        store.get(bounded.id).unwrap().unwrap().expires_at,
        bounded.expires_at
    );
    let head = store.head().unwrap();
    for (at, refusal) in [
        (T0.0 + 7 * DAY + 1, "at most 7 days"),
        (T0.0, "future"),
        (T0.0 - 5, "future"),
    ] {
        let err = store
            .create_from(
                NewToken {
                    expires_at: Some(Timestamp(at)),
                    ..spec("acct_1", "Too long")
                },
                T0,
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Policy(_)), "{err:?}");
        assert!(err.to_string().contains(refusal), "{err}");
    }
    assert_eq!(
        store.head().unwrap(),
        head,
        "a refused create writes nothing"
    );
    assert!(
        store
            .find(&account("acct_1"), &name("Too long"))
            .unwrap()
            .is_none()
    );
    let err = store
        .regenerate(a.id, T0, Some(Timestamp(T0.0 + DAY + 1)))
        .unwrap_err();
    assert!(err.to_string().contains("at most 1 day "), "{err}");
}

pub fn revoke_all_and_prune_delete_in_one_write(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let mut reader = open(&url);
    let mut doomed = Vec::new();
    for i in 0..5 {
        doomed.push(create(&mut store, "acct_1", &format!("t{i}")).1.id);
    }
    let (kept_token, kept) = create(&mut store, "acct_2", "t0");
    let head = store.head().unwrap();

    let mut revoked: Vec<TokenId> = store
        .revoke_all(&account("acct_1"))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    revoked.sort_unstable();
    doomed.sort_unstable();
    assert_eq!(revoked, doomed);
    assert!(reader.list(Some("acct_1")).unwrap().is_empty());
    assert!(accepts(
        &reader.get(kept.id).unwrap().unwrap(),
        &kept_token,
        T0
    ));
    let tail = log(&mut reader).split_off(usize::try_from(head).unwrap());
    assert_eq!(tail.len(), 5, "one change per token");
    assert_eq!(
        tail.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (head + 1..=head + 5).collect::<Vec<_>>()
    );
    let trail = reader.audit(Some("acct_1"), 100).unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == "token.revoke_all")
            .count(),
        5
    );
    // Nothing to revoke: nothing written.
    assert!(store.revoke_all(&account("acct_1")).unwrap().is_empty());
    assert!(store.revoke_all(&account("nobody")).unwrap().is_empty());
    assert_eq!(store.head().unwrap(), head + 5);

    // Prune: expired at `now` (expires_at <= now) goes, the rest stays.
    let at = |secs: u64, n: &str, store: &mut Store| {
        store
            .create_from(
                NewToken {
                    expires_at: Some(Timestamp(T0.0 + secs)),
                    ..spec("acct_3", n)
                },
                T0,
            )
            .unwrap()
            .1
    };
    let early = at(10, "early", &mut store);
    let edge = at(20, "edge", &mut store);
    let later = at(30, "later", &mut store);
    let head = store.head().unwrap();
    assert!(store.prune(Timestamp(T0.0 + 9)).unwrap().is_empty());
    assert_eq!(store.head().unwrap(), head);
    let mut pruned: Vec<TokenId> = store
        .prune(Timestamp(T0.0 + 20))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    pruned.sort_unstable();
    let mut expected = vec![early.id, edge.id];
    expected.sort_unstable();
    assert_eq!(pruned, expected);
    assert!(reader.get(later.id).unwrap().is_some());
    assert!(
        reader.get(kept.id).unwrap().is_some(),
        "no expiry: never pruned"
    );
    assert_eq!(store.head().unwrap(), head + 2);
    let entry = newest(&mut reader);
    assert_eq!(entry.action, "token.prune");
    assert!(entry.detail.contains("expired at"), "{}", entry.detail);
}

pub fn every_write_names_its_actor(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    assert_eq!(store.actor(), whatsgate_auth_store::DEFAULT_ACTOR);
    let (_, a) = create(&mut store, "acct_1", "A");
    store.set_actor("wgauth");
    store
        .regenerate(a.id, T0, Some(Timestamp(T0.0 + 60)))
        .unwrap();
    store
        .update(
            a.id,
            TokenUpdate {
                disabled: Some(true),
                ..TokenUpdate::default()
            },
        )
        .unwrap();
    store.set_actor("token:0123456789abcdef");
    store.delete(a.id).unwrap();
    let mut trail = store.audit(None, 10).unwrap();
    trail.reverse();
    let seen: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("local", "token.create"),
            ("wgauth", "token.regenerate"),
            ("wgauth", "token.update"),
            ("token:0123456789abcdef", "token.delete"),
        ]
    );
    for entry in &trail {
        assert_eq!(entry.token_id, Some(a.id));
        assert_eq!(entry.account.as_deref(), Some("acct_1"));
        assert!(entry.detail.contains("name \"A\""), "{}", entry.detail);
    }
    assert!(trail[1].detail.contains("until"), "{}", trail[1].detail);
}

/// Rows whose new fields another program damaged: reported, refused (no
/// token of theirs is loaded), and still removed by delete and revoke-all.
pub fn rows_with_bad_v2_fields_are_damaged_and_removable(b: &impl TestBackend) {
    for (set, why) in [
        ("scopes = 'Messages:send'", "scopes"),
        ("scopes = 'messages:send  devices:*'", "scopes"),
        ("scopes = 'messages'", "scopes"),
        ("expires_at = -1", "expiry"),
        ("description = ' padded'", "description"),
        ("description = ''", "description"),
    ] {
        let (url, _guard) = b.fresh();
        let mut store = open(&url);
        let (_, good) = create(&mut store, "acct_1", "Good");
        let (_, victim) = create(&mut store, "acct_1", "Victim");
        let (_, other) = create(&mut store, "acct_1", "Other");
        b.raw_sql(
            &url,
            &format!("UPDATE tokens SET {set} WHERE id = '{}'", victim.id),
        );
        let snapshot = store.snapshot().unwrap();
        assert_eq!(snapshot.records.len(), 2, "{set}");
        assert_eq!(snapshot.bad_rows.len(), 1, "{set}");
        assert!(
            snapshot.bad_rows[0].why.contains(why),
            "{set}: {:?}",
            snapshot.bad_rows[0]
        );
        assert!(
            matches!(store.get(victim.id), Err(StoreError::Damaged(_))),
            "{set}"
        );
        assert!(
            matches!(
                store.update(
                    victim.id,
                    TokenUpdate {
                        disabled: Some(true),
                        ..TokenUpdate::default()
                    }
                ),
                Err(StoreError::Damaged(_))
            ),
            "{set}"
        );
        if why == "expiry" {
            // Removed by revoke-all, with the valid ones.
            let revoked = store.revoke_all(&account("acct_1")).unwrap();
            assert_eq!(revoked.len(), 2, "{set}");
            assert!(store.snapshot().unwrap().bad_rows.is_empty(), "{set}");
            assert!(store.snapshot().unwrap().records.is_empty(), "{set}");
            let trail = store.audit(None, 3).unwrap();
            assert!(
                trail
                    .iter()
                    .any(|e| e.token_id == Some(victim.id)
                        && e.detail.contains("not a valid record")),
                "{trail:?}"
            );
        } else {
            assert!(store.delete(victim.id).unwrap().is_none(), "{set}");
            assert!(store.snapshot().unwrap().bad_rows.is_empty(), "{set}");
            assert!(
                store.get(good.id).unwrap().is_some() && store.get(other.id).unwrap().is_some()
            );
        }
    }
}

/// A follower applies another connection's disable, enable and rescope, and
/// refuses an expired token: the row reader carries every field that
/// decides a verdict (if it dropped `disabled`, the disabled token would
/// still be accepted here and this would fail).
/// `compact_changes` deletes the rows written before its instant, never the
/// newest: the head stays, numbering goes on after it, and a reader whose
/// cursor is older than what is left sees a gap (which makes a follower
/// catch up in full: `tests/follow.rs`).
pub fn compacting_the_log_keeps_the_head_and_shows_a_gap(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut store = open(&url);
    let later = Timestamp::now().plus_secs(3600);
    assert_eq!(store.compact_changes(later).unwrap(), 0, "an empty log");
    assert_eq!(store.head().unwrap(), 0);
    let (_, old) = create(&mut store, "acct_1", "Old");
    let behind = store.head().unwrap();
    create(&mut store, "acct_1", "A");
    store.delete(old.id).unwrap().unwrap();
    let (_, b_record) = create(&mut store, "acct_1", "B");
    let head = store.head().unwrap();
    assert_eq!(head, behind + 3);
    // Rows written before an instant already past: none.
    assert_eq!(store.compact_changes(T0).unwrap(), 0);
    assert_eq!(log(&mut store).len(), 4);
    // Every row but the newest.
    assert_eq!(store.compact_changes(later).unwrap(), 3);
    assert_eq!(store.head().unwrap(), head);
    assert_eq!(log(&mut store), [(head, b_record.id)]);
    assert_eq!(store.compact_changes(later).unwrap(), 0, "the newest stays");
    let next = store.changes_since(behind, 10).unwrap();
    assert_eq!(next.len(), 1);
    assert!(
        next[0].0.seq > behind + 1,
        "a gap after the reader's cursor"
    );
    // The snapshot still holds every token, and numbering goes on.
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.records.len(), 2);
    assert_eq!(snapshot.head, head);
    let (_, c) = create(&mut store, "acct_1", "C");
    assert_eq!(log(&mut store), [(head, b_record.id), (head + 1, c.id)]);
}

pub fn a_follower_sees_disable_rescope_and_expiry(b: &impl TestBackend) {
    let (url, _guard) = b.fresh();
    let mut writer = open(&url);
    let now = Timestamp::now();
    let (token, a) = writer.create(account("acct_1"), name("A"), now).unwrap();
    let (expiring, _) = writer
        .create_from(
            NewToken {
                expires_at: Some(now.plus_secs(3600)),
                ..spec("acct_1", "Expiring")
            },
            now,
        )
        .unwrap();
    let options = FollowOptions {
        bound: Duration::from_secs(3),
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    };
    let follower = Follower::start(&url, options).unwrap();
    let keyring = follower.keyring();
    let verify = |t: &Token, at: Timestamp| keyring.verify(t.expose_secret().as_bytes(), at);
    assert!(verify(&token, now).is_ok());
    assert!(verify(&expiring, now).is_ok());
    assert!(verify(&expiring, now.plus_secs(3600)).is_err(), "expired");

    let update = |writer: &mut Store, u: TokenUpdate| writer.update(a.id, u).unwrap();
    let limit = Duration::from_secs(10);
    update(
        &mut writer,
        TokenUpdate {
            disabled: Some(true),
            ..TokenUpdate::default()
        },
    );
    assert!(
        wait(limit, || verify(&token, now).is_err()),
        "a disabled token was still accepted by the follower"
    );
    update(
        &mut writer,
        TokenUpdate {
            disabled: Some(false),
            ..TokenUpdate::default()
        },
    );
    assert!(
        wait(limit, || verify(&token, now).is_ok()),
        "enable never arrived"
    );
    update(
        &mut writer,
        TokenUpdate {
            scopes: Some(scoped(&["messages:send"])),
            ..TokenUpdate::default()
        },
    );
    assert!(
        wait(limit, || verify(&token, now).is_ok_and(|p| !p
            .has_scope("devices:read")
            && p.has_scope("messages:send"))),
        "a narrower scope never arrived"
    );
}

fn wait(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    done()
}
