//! dudect: does `Keyring::verify` take the same time whatever the secret?
//!
//! Both classes present a wrong secret for a real record, with a valid
//! checksum (so each request goes all the way to the verifier comparison):
//! Left differs from the right secret in its first byte, Right in its last.
//! A non-constant-time comparison would return earlier for Left. Each bench
//! takes 2·10^6 samples; dudect's Welch t-test must stay under |t| = 5.
//!
//! Positive controls (must exceed 5, or the test is blind on this machine):
//! the same inputs compared as plain tokens with slice `==` (memcmp), and
//! with a byte-by-byte loop that stops at the first difference.
//!
//! `cargo run --release -p whatsgate-auth-benches --example dudect` (not in
//! CI: timing on a shared machine is too noisy to gate on).

use core::hint::black_box;

use dudect_bencher::rand::{Rng, RngExt};
use dudect_bencher::{BenchRng, Class, CtRunner, ctbench_main};
use whatsgate_auth_benches::{Fixture, NOW, TokenText, secret_byte_changed};

const SAMPLES: usize = 2_000_000;
const POOL: usize = 1024;

/// The right token, and pools of wrong tokens differing in the secret's
/// first byte (Left) or last byte (Right), with random non-zero flips.
fn inputs(rng: &mut BenchRng) -> (Fixture, Vec<TokenText>, Vec<TokenText>) {
    let fixture = Fixture::new(1, rng.next_u64());
    let token = fixture.tokens[0];
    let flip = |rng: &mut BenchRng| loop {
        let x: u8 = rng.random();
        if x != 0 {
            return x;
        }
    };
    let first = (0..POOL)
        .map(|_| secret_byte_changed(&token, 0, flip(rng)))
        .collect();
    let last = (0..POOL)
        .map(|_| secret_byte_changed(&token, 23, flip(rng)))
        .collect();
    (fixture, first, last)
}

fn schedule(rng: &mut BenchRng) -> Vec<(Class, usize)> {
    (0..SAMPLES)
        .map(|_| {
            let class = if rng.random::<bool>() {
                Class::Left
            } else {
                Class::Right
            };
            (class, rng.random_range(0..POOL))
        })
        .collect()
}

fn verify_wrong_secret_first_vs_last_byte(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, first, last) = inputs(rng);
    for (class, i) in schedule(rng) {
        let token = match class {
            Class::Left => &first[i],
            Class::Right => &last[i],
        };
        runner.run_one(class, || {
            fixture.keyring.verify(black_box(token), NOW).is_ok()
        });
    }
}

fn control_token_slice_eq(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, first, last) = inputs(rng);
    let stored = fixture.tokens[0];
    for (class, i) in schedule(rng) {
        let token = match class {
            Class::Left => &first[i],
            Class::Right => &last[i],
        };
        runner.run_one(class, || black_box(&token[..]) == black_box(&stored[..]));
    }
}

#[inline(never)]
fn bytewise_eq(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if black_box(*x) != black_box(*y) {
            return false;
        }
    }
    a.len() == b.len()
}

fn control_token_bytewise_eq(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, first, last) = inputs(rng);
    let stored = fixture.tokens[0];
    for (class, i) in schedule(rng) {
        let token = match class {
            Class::Left => &first[i],
            Class::Right => &last[i],
        };
        runner.run_one(class, || bytewise_eq(black_box(token), black_box(&stored)));
    }
}

ctbench_main!(
    verify_wrong_secret_first_vs_last_byte,
    control_token_slice_eq,
    control_token_bytewise_eq
);
