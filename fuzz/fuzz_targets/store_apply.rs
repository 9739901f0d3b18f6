//! Runs of store changes applied by the store crate's own follower, checked
//! against a model: writes by two hosts (create, delete, regenerate with
//! grace), replayed, lost and skipped log entries (the follower must resync
//! on a gap), deliveries by one or two readers at once, restarts. After each
//! delivery the keyring must hold exactly the records the writes returned.
//! The harness is shared with the store's proptest
//! (`crates/store/tests/apply_model.rs`), so both check one property.

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsgate_auth_store::Follower;

#[path = "../../crates/store/tests/apply_model/harness.rs"]
#[allow(dead_code)] // the proptest's positive control (`Unchecked`) is not run here
mod harness;

use harness::{Op, World};

/// Ops per input: each costs a SQLite transaction, so runs stay short.
const MAX_OPS: usize = 48;

fuzz_target!(|data: &[u8]| {
    let ops: Vec<Op> = data
        .chunks_exact(3)
        .take(MAX_OPS)
        .map(|c| Op::decode(c[0], c[1], c[2]))
        .collect();
    // A memory-backed directory when there is one: the store syncs each commit.
    let shm = std::path::Path::new("/dev/shm");
    let mut world = World::<Follower>::new(shm.is_dir().then_some(shm)).expect("a fresh store");
    let result = world.run(&ops);
    // Its store goes before the panic aborts the process.
    drop(world);
    if let Err(why) = result {
        panic!("{why}");
    }
});
