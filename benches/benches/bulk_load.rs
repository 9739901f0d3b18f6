//! Loading a keyring from stored records, as a node does at start and after
//! a resync: the bulk load against one call per record, in one criterion run.
//!
//! Groups `bulk_load_100k` and `bulk_load_1m` (records of 1000 accounts,
//! 20-character names, ids spread like random ones, in no useful order):
//! - `per_record_replace`: `Keyring::replace` per record into a new
//!   keyring: what the store's follower did before the bulk load (the floor
//!   this is measured against);
//! - `per_record_insert`: `Keyring::add` per record;
//! - `from_records`: `Keyring::from_records`, the bulk constructor;
//! - `replace_all_unchanged`: `Keyring::replace_all` of the same records
//!   into a keyring that already holds them (a resync that finds nothing
//!   new).
//!
//! Only the load is timed: copying the input and dropping the keyring are
//! outside the measurement. `python3 benches/bulk_ratios.py` prints the
//! ratios to the floor:
//!
//! ```sh
//! cargo bench -p whatsgate-auth-benches --bench bulk_load
//! python3 benches/bulk_ratios.py
//! ```

use core::hint::black_box;
use core::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use whatsgate_auth::{Keyring, TokenFormat, TokenRecord};
use whatsgate_auth_benches::bulk_records;

fn group(c: &mut Criterion, label: &str, n: usize, samples: usize) {
    let records = bulk_records(n, 1000, 7);
    let mut group = c.benchmark_group(label);
    group.sample_size(samples);
    let input = || records.clone();
    group.bench_function("per_record_replace", |b| {
        b.iter_batched(
            input,
            |records: Vec<TokenRecord>| {
                let keyring = Keyring::new();
                for record in records {
                    black_box(keyring.replace(record));
                }
                keyring
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("per_record_insert", |b| {
        b.iter_batched(
            input,
            |records: Vec<TokenRecord>| {
                let keyring = Keyring::new();
                for record in records {
                    black_box(keyring.add(record)).ok();
                }
                keyring
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("from_records", |b| {
        b.iter_batched(
            input,
            |records: Vec<TokenRecord>| Keyring::from_records(TokenFormat::DEFAULT, records).ok(),
            BatchSize::PerIteration,
        );
    });
    let loaded = Keyring::from_records(TokenFormat::DEFAULT, records.clone()).ok();
    group.bench_function("replace_all_unchanged", |b| {
        b.iter_batched(
            input,
            |records: Vec<TokenRecord>| {
                loaded
                    .as_ref()
                    .map(|keyring| keyring.replace_all(records).len())
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn bulk(c: &mut Criterion) {
    group(c, "bulk_load_100k", 100_000, 20);
    group(c, "bulk_load_1m", 1_000_000, 10);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bulk
}
criterion_main!(benches);
