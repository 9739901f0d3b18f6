//! The verify hot path against its floor and its peers, in one criterion run.
//!
//! Groups (`scripts/bench` turns the medians into ratios):
//! - `floor`: one SHA-256 compression (sha2's `compress256`, the primitive
//!   the core calls) and one lookup in a 100k-entry std `HashMap`. For
//!   reading the ratios, two latencies as well: a compression that waits for
//!   the previous one (a verification waits for its hash), and one load that
//!   waits for the previous one in 1, 8 and 64 MiB of memory (a verification
//!   cycling over many records waits for its record).
//! - `ours`: generate, parse, verify (valid, wrong secret, garbage), hot and
//!   cycling in random order over 1k, 100k and 1M records, the full
//!   `authenticate` of an `Authorization: Bearer` header, and a host's own
//!   record checked with `TokenRecord::accepts`.
//! - `threads`: verification throughput with 1 and 2 threads (time per
//!   verification across all threads), on different tokens and all on the
//!   same one.
//! - `peer`: the naive verifier, `prefixed-api-key`, and Argon2id.

use core::hint::black_box;
use core::time::Duration;
use std::collections::HashMap;
use std::sync::Barrier;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use sha2::block_api::compress256;
use whatsgate_auth::rand_core::{Rng, SeedableRng};
use whatsgate_auth::{OsRng, Profile, TokenFormat};
use whatsgate_auth_benches::{
    Fixture, NOW, TOKEN_LEN, argon::ArgonStore, naive::NaiveStore, pak::PakStore, pointer_chain,
    shuffle, wrong_secret,
};

/// SHA-256's initial state.
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn floor(c: &mut Criterion) {
    // scripts/bench reads this line into the table's header.
    eprintln!("kernels: {}", whatsgate_auth::ct_kernels());
    let mut group = c.benchmark_group("floor");
    let block = [0x5au8; 64];
    group.bench_function("sha256_block", |b| {
        b.iter(|| {
            let mut state = SHA256_IV;
            compress256(&mut state, core::slice::from_ref(black_box(&block)));
            state
        });
    });

    let mut chained = SHA256_IV;
    group.bench_function("sha256_block_latency", |b| {
        // The state carries over: each compression starts from the last one's output.
        b.iter(|| {
            compress256(&mut chained, core::slice::from_ref(black_box(&block)));
            chained[0]
        });
    });

    // 16 and 128 MiB: about the size of the index of the 100k and 1M
    // keyrings below (96 bytes a slot); 128 MiB is the DRAM floor of both
    // cycling rows (16 MiB is partly in this guest's share of L3).
    for (name, mib) in [
        ("dependent_load_1mib", 1),
        ("dependent_load_8mib", 8),
        ("dependent_load_16mib", 16),
        ("dependent_load_64mib", 64),
        ("dependent_load_128mib", 128),
    ] {
        let chain = pointer_chain(mib << 20, 19);
        let mut at = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                at = chain[at];
                at
            });
        });
    }

    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let keys: Vec<u64> = (0..100_000).map(|_| rng.next_u64()).collect();
    let map: HashMap<u64, u64> = keys.iter().map(|&k| (k, k ^ 1)).collect();
    let mut order = keys.clone();
    shuffle(&mut order, 8);
    let mut i = 0;
    group.bench_function("hashmap_100k_lookup", |b| {
        b.iter(|| {
            i = (i + 1) % order.len();
            map.get(black_box(&order[i])).copied()
        });
    });
    group.finish();
}

fn ours(c: &mut Criterion) {
    let mut group = c.benchmark_group("ours");
    group.bench_function("generate_os_rng", |b| {
        b.iter(|| TokenFormat::DEFAULT.generate(&mut OsRng));
    });
    let mut chacha = ChaCha20Rng::seed_from_u64(11);
    group.bench_function("generate_chacha20", |b| {
        b.iter(|| TokenFormat::DEFAULT.generate(&mut chacha));
    });

    let hot = Fixture::new(1000, 12);
    let valid = hot.tokens[0];
    let wrong = wrong_secret(&valid, 13);
    let mut garbage = [0u8; TOKEN_LEN];
    ChaCha20Rng::seed_from_u64(14).fill_bytes(&mut garbage);
    let mut bad_checksum = valid;
    bad_checksum[30] = if bad_checksum[30] == b'A' { b'B' } else { b'A' };

    group.bench_function("parse", |b| {
        b.iter(|| whatsgate_auth::host_records::parse(black_box(&valid)).is_ok());
    });
    group.bench_function("verify_hot_valid", |b| {
        b.iter(|| hot.keyring.verify(black_box(&valid), NOW).is_ok());
    });
    group.bench_function("verify_with_hot_valid", |b| {
        b.iter(|| {
            hot.keyring
                .verify_with(black_box(&valid), NOW, |p| p.account().len())
                .is_ok()
        });
    });
    group.bench_function("verify_wrong_secret", |b| {
        b.iter(|| hot.keyring.verify(black_box(&wrong), NOW).is_ok());
    });
    group.bench_function("verify_bad_checksum", |b| {
        b.iter(|| hot.keyring.verify(black_box(&bad_checksum), NOW).is_ok());
    });
    group.bench_function("verify_garbage", |b| {
        b.iter(|| hot.keyring.verify(black_box(&garbage), NOW).is_ok());
    });
    let parsed_id = whatsgate_auth::host_records::parse(&valid).map(|t| t.id());
    let record = parsed_id
        .ok()
        .and_then(|id| hot.keyring.get(id))
        .unwrap_or_else(|| panic!("the fixture's first token has a record"));
    group.bench_function("record_accepts_hot_valid", |b| {
        b.iter(|| {
            whatsgate_auth::host_records::parse(black_box(&valid))
                .is_ok_and(|t| record.accepts(&t, NOW))
        });
    });
    let header = [b"Bearer ".as_slice(), &valid].concat();
    group.bench_function("authenticate_mcp_hot", |b| {
        b.iter(|| {
            hot.keyring
                .authenticate(Profile::Mcp, [black_box(header.as_slice())], NOW)
                .is_ok()
        });
    });

    for (name, n) in [
        ("verify_cycle_1k", 1_000),
        ("verify_cycle_100k", 100_000),
        ("verify_cycle_1m", 1_000_000),
    ] {
        let fixture = if n == 1000 {
            None
        } else {
            Some(Fixture::new(n, 15))
        };
        let fixture = fixture.as_ref().unwrap_or(&hot);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % fixture.tokens.len();
                fixture.keyring.verify(&fixture.tokens[i], NOW).is_ok()
            });
        });
    }
    group.finish();
}

/// Time per verification when `threads` threads verify concurrently: each
/// cycling through the 100k keyring from its own starting point, or, with
/// `same_token`, all verifying one token (an owned `Principal` each time:
/// nothing they write may be shared).
fn verify_concurrently(
    fixture: &Fixture,
    threads: usize,
    iters: u64,
    same_token: bool,
) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let barrier = &barrier;
            scope.spawn(move || {
                let tokens = &fixture.tokens;
                let step = usize::from(!same_token);
                let mut i = t * tokens.len() / threads * step;
                barrier.wait();
                for _ in 0..per_thread {
                    i = (i + step) % tokens.len();
                    black_box(fixture.keyring.verify(&tokens[i], NOW).is_ok());
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn threads(c: &mut Criterion) {
    let fixture = Fixture::new(100_000, 16);
    let mut group = c.benchmark_group("threads");
    for (name, threads, same_token) in [
        ("verify_100k_1_thread", 1, false),
        ("verify_100k_2_threads", 2, false),
        ("verify_same_token_1_thread", 1, true),
        ("verify_same_token_2_threads", 2, true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| verify_concurrently(&fixture, threads, iters, same_token));
        });
    }
    group.finish();
}

fn peers(c: &mut Criterion) {
    let fixture = Fixture::new(1000, 17);
    let mut group = c.benchmark_group("peer");

    let mut naive = NaiveStore::default();
    for token in &fixture.tokens {
        naive.insert(token);
    }
    let valid = fixture.tokens[0];
    assert!(naive.verify(&valid));
    group.bench_function("naive_hot_valid", |b| {
        b.iter(|| naive.verify(black_box(&valid)));
    });
    let wrong = wrong_secret(&valid, 18);
    group.bench_function("naive_wrong_secret", |b| {
        b.iter(|| naive.verify(black_box(&wrong)));
    });

    let mut pak = PakStore::default();
    let keys: Vec<String> = (0..1000).map(|_| pak.issue()).collect();
    assert!(pak.verify(&keys[0]));
    group.bench_function("prefixed_api_key_hot_valid", |b| {
        b.iter(|| pak.verify(black_box(&keys[0])));
    });

    let mut argon = ArgonStore::default();
    argon.insert(&valid);
    assert!(argon.verify(&valid));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("argon2id_hot_valid", |b| {
        b.iter_batched(|| valid, |t| argon.verify(&t), BatchSize::SmallInput);
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor, ours, threads, peers
}
criterion_main!(benches);
