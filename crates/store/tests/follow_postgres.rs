//! Followers of a real PostgreSQL that stops, restarts and is killed with
//! `kill -9`: past the bound every token is answered 503 (never 200, never
//! "invalid"), the follower reconnects by itself, catches up in full, and
//! misses no deletion or regeneration made while it was away.
//! Each test starts its own server (`scripts/pg`), so it disturbs no other.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use whatsgate_auth::{Failure, Keyring, Profile, Timestamp};
use whatsgate_auth_store::{FollowOptions, Follower, OpenMode, Store};

use common::pg::Server;
use common::{account, name};

const NOW: Timestamp = Timestamp(1_790_000_000);

fn options() -> FollowOptions {
    FollowOptions {
        bound: Duration::from_millis(1500),
        poll: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
    }
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done().then(|| start.elapsed())
}

fn answer(keyring: &Keyring, token: &str) -> Result<(), Failure> {
    keyring
        .authenticate(Profile::Rest, [token.as_bytes()], NOW)
        .map(drop)
        .map_err(|r| r.failure)
}

/// Stops the server in `how` (`fast`, `immediate` or `kill`: `kill -9` of
/// every server process), checks the follower fails closed past its bound,
/// starts the server, makes changes the follower cannot have been notified
/// of, and checks it recovers with all of them.
fn outage(how: &str) {
    if !common::pg::available() {
        return;
    }
    let server = Server::start();
    let url = server.url_with_password();
    let mut writer = Store::open(&url, OpenMode::CreateIfMissing).unwrap();
    let (deleted, deleted_record) = writer
        .create(account("acct_1"), name("Production API"), NOW)
        .unwrap();
    let (regenerated, regenerated_record) = writer
        .create(account("acct_1"), name("Testing"), NOW)
        .unwrap();
    let follower = Follower::start(&url, options()).unwrap();
    let keyring = follower.keyring();
    assert_eq!(answer(keyring, deleted.expose_secret()), Ok(()));

    server.pg("down", &[how]);
    let down = Instant::now();
    let took = wait_until(Duration::from_secs(10), || !keyring.is_available());
    eprintln!(
        "{how}: unavailable {took:?} after the server went down (bound {:?})",
        options().bound
    );
    assert!(
        took.is_some(),
        "{how}: still answering with the store down past the bound"
    );
    assert!(
        down.elapsed() >= options().bound.saturating_sub(options().poll),
        "{how}: gave up too early"
    );
    for token in [&deleted, &regenerated] {
        // Never 200, never "invalid": a client must not think its good token bad.
        assert_eq!(
            answer(keyring, token.expose_secret()),
            Err(Failure::Unavailable)
        );
    }
    assert_eq!(
        keyring
            .authenticate(Profile::Rest, [], NOW)
            .unwrap_err()
            .failure,
        Failure::Missing
    );

    server.pg("up", &[]);
    // Written the moment the server is back, by a new connection: the
    // follower hears of none of it, as its connection died with the server.
    let mut writer = Store::open(&url, OpenMode::Existing).unwrap();
    writer.delete(deleted_record.id).unwrap();
    let (fresh, _) = writer.regenerate(regenerated_record.id, NOW, None).unwrap();

    let took = wait_until(Duration::from_secs(15), || keyring.is_available());
    eprintln!("{how}: available again {took:?} after the server came back");
    assert!(took.is_some(), "{how}: the follower never recovered");
    let applied = wait_until(Duration::from_secs(5), || {
        answer(keyring, fresh.expose_secret()) == Ok(())
            && answer(keyring, deleted.expose_secret()) == Err(Failure::Invalid)
            && answer(keyring, regenerated.expose_secret()) == Err(Failure::Invalid)
    });
    assert!(
        applied.is_some(),
        "{how}: a change made during the outage was missed"
    );
    let stats = follower.stats();
    assert!(
        stats.resyncs >= 2,
        "{how}: reconnecting means a full catch-up: {stats:?}"
    );
    assert!(stats.current && stats.last_error.is_some(), "{stats:?}");
    assert!(!format!("{stats:?}").contains(common::pg::PASSWORD));
}

#[test]
fn a_clean_shutdown_and_restart() {
    outage("fast");
}

#[test]
fn an_immediate_shutdown_and_restart() {
    outage("immediate");
}

#[test]
fn kill_9_of_every_server_process_and_restart() {
    outage("kill");
}
