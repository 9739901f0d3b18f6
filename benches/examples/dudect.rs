//! dudect: does `Keyring::verify` take the same time whatever the secret?
//!
//! Both classes present a wrong secret for a real record, with a valid
//! checksum (so each request goes all the way to the verifier comparison):
//! Left differs from the right secret in its first byte, Right in its last.
//! A non-constant-time comparison would return earlier for Left. Each bench
//! takes 5·10^6 samples; dudect's Welch t-test must stay under |t| = 5.
//!
//! A null bench (both classes change the first byte) shows the noise floor
//! of the machine.
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

const SAMPLES: usize = 5_000_000;
const POOL: usize = 2048;

/// One token per cache line.
#[repr(align(64))]
struct Slot(TokenText);

/// The right token, and one pool of wrong tokens in which each slot is
/// assigned a class at random: Left slots change the secret's byte `left`,
/// Right slots its byte `right` (random non-zero flips). Both classes are
/// spread over the same memory, so layout cannot tell them apart.
fn inputs_at(rng: &mut BenchRng, left: usize, right: usize) -> (Fixture, Vec<(Class, Slot)>) {
    let fixture = Fixture::new(1, rng.next_u64());
    let token = fixture.tokens[0];
    let pool = (0..POOL)
        .map(|_| {
            let flip = loop {
                let x: u8 = rng.random();
                if x != 0 {
                    break x;
                }
            };
            if rng.random::<bool>() {
                (Class::Left, Slot(secret_byte_changed(&token, left, flip)))
            } else {
                (Class::Right, Slot(secret_byte_changed(&token, right, flip)))
            }
        })
        .collect();
    (fixture, pool)
}

/// Runs `f` on `SAMPLES` slots drawn at random from the pool.
fn run(
    runner: &mut CtRunner,
    rng: &mut BenchRng,
    pool: &[(Class, Slot)],
    f: impl Fn(&TokenText) -> bool,
) {
    for _ in 0..SAMPLES {
        let (class, slot) = &pool[rng.random_range(0..pool.len())];
        runner.run_one(*class, || f(black_box(&slot.0)));
    }
}

fn verify_wrong_secret_first_vs_last_byte(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, pool) = inputs_at(rng, 0, 23);
    run(runner, rng, &pool, |token| {
        fixture.keyring.verify(token, NOW).is_ok()
    });
}

/// The noise floor: both classes change the first byte, so any |t| here is
/// the machine, not the code.
fn null_verify_first_vs_first_byte(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, pool) = inputs_at(rng, 0, 0);
    run(runner, rng, &pool, |token| {
        fixture.keyring.verify(token, NOW).is_ok()
    });
}

fn control_token_slice_eq(runner: &mut CtRunner, rng: &mut BenchRng) {
    let (fixture, pool) = inputs_at(rng, 0, 23);
    let stored = fixture.tokens[0];
    run(runner, rng, &pool, |token| {
        token[..] == black_box(&stored)[..]
    });
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
    let (fixture, pool) = inputs_at(rng, 0, 23);
    let stored = fixture.tokens[0];
    run(runner, rng, &pool, |token| {
        bytewise_eq(token, black_box(&stored))
    });
}

ctbench_main!(
    verify_wrong_secret_first_vs_last_byte,
    null_verify_first_vs_first_byte,
    control_token_slice_eq,
    control_token_bytewise_eq
);
