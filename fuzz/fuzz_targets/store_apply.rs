//! Runs of store changes applied by the store crate's own follower, checked
//! against a model: writes by two hosts (create, delete, regenerate with
//! grace, update: disable, enable, rescope, rename), replayed, lost and
//! skipped log entries and compactions of the log (the follower must
//! resync on a gap), deliveries by
//! one or two readers at once, restarts. After each delivery the keyring
//! must hold exactly the records the writes returned.
//! The first byte picks the keyring under test: a plain `Follower`'s, or a
//! `SyncedKeyring`'s that host A writes through (it applies its own writes at
//! once, and again from the log). The harness is shared with the store's
//! proptest (`crates/store/tests/apply_model.rs`), so both check one property.

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsgate_auth_store::{Follower, SyncedKeyring};

#[path = "../../crates/store/tests/apply_model/harness.rs"]
#[allow(dead_code)] // the proptest's positive control (`Unchecked`) is not run here
mod harness;

use harness::{Applier, Op, World};

/// Ops per input: each costs a SQLite transaction, so runs stay short.
const MAX_OPS: usize = 48;

fn run<A: Applier>(ops: &[Op]) {
    // A memory-backed directory when there is one: the store syncs each commit.
    let shm = std::path::Path::new("/dev/shm");
    let mut world = World::<A>::new(shm.is_dir().then_some(shm)).expect("a fresh store");
    let result = world.run(ops);
    // Its store goes before the panic aborts the process.
    drop(world);
    if let Err(why) = result {
        panic!("{why}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let ops: Vec<Op> = data
        .chunks_exact(3)
        .take(MAX_OPS)
        .map(|c| Op::decode(c[0], c[1], c[2]))
        .collect();
    if pick & 1 == 0 {
        run::<Follower>(&ops);
    } else {
        run::<SyncedKeyring>(&ops);
    }
});
