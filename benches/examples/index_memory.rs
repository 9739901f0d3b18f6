//! Resident memory of a keyring per record: `n` records (default 1,000,000)
//! of 1000 accounts with 20-character names, loaded with
//! `Keyring::from_records`. Prints the resident size the process gained
//! (after returning freed memory to the OS) divided by `n`, and the table's
//! own share. Not in CI (it needs ~1 GB at its peak):
//!
//! ```text
//! cargo run --release -p whatsgate-auth-benches --example index_memory [n]
//! ```

use whatsgate_auth::{Keyring, TokenFormat};
use whatsgate_auth_benches::bulk_records;

unsafe extern "C" {
    /// glibc: returns free heap pages to the OS, so the resident size
    /// counts what is held, not what the allocator keeps for later.
    fn malloc_trim(pad: usize) -> i32;
}

/// The resident size in bytes (`/proc/self/statm`, second field, pages).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn trimmed_resident() -> u64 {
    // SAFETY: glibc's malloc_trim has no precondition.
    unsafe { malloc_trim(0) };
    resident()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let baseline = trimmed_resident();
    let records = bulk_records(n, 1000, 7);
    assert!(records.iter().all(|r| r.name.as_str().len() == 20));
    let start = std::time::Instant::now();
    let keyring = Keyring::from_records(TokenFormat::DEFAULT, records)
        .unwrap_or_else(|e| panic!("bulk load: {e}"));
    let load = start.elapsed();
    assert_eq!(keyring.len(), n);
    // The records were moved into the keyring and freed: what the process
    // holds beyond its start is the keyring.
    let gained = trimmed_resident().saturating_sub(baseline);
    #[allow(clippy::cast_precision_loss)]
    let (mib, per_record) = (gained as f64 / f64::from(1 << 20), gained as f64 / n as f64);
    println!(
        "index_memory: {n} records of 1000 accounts, 20-character names: {mib:.1} MiB resident, {per_record:.1} bytes per record (target <= 128); loaded in {load:.2?} (one run; the timing is criterion's bulk_load bench)"
    );
    std::hint::black_box(&keyring);
}
