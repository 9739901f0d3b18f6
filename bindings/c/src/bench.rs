//! Benchmark: verify through the C ABI vs the same verify in Rust, in the
//! same run. An ignored unit test (the crate has no rlib for a bench target
//! to link), run in release mode:
//!
//! `cargo test -p whatsgate-auth-c --release --lib bench -- --ignored --nocapture`
//!
//! It asserts nothing about time: it prints the figures.
//!
//! Two keyrings hold the same 1,000 records: a Rust `Keyring`, and a
//! `wga_keyring` loaded through `wga_keyring_add`. Each round times, in
//! rotating order, N calls of:
//! - floor: parse the token and compute its verifier (one SHA-256 compression
//!   plus the base64 decode: the least any verification can do);
//! - rust: `Keyring::authenticate(Profile::Rest, [value], now)`;
//! - c: `wga_keyring_verify_access_token`, called through a function pointer
//!   the optimiser cannot see through (as a C caller would), copying the
//!   principal out; and again with `principal_out` NULL (verdict only);
//! - and the same pair for a bare token (`Keyring::verify` /
//!   `wga_keyring_verify_token`);
//! - `wga_keyring_verify_access_token_ex` (the principal with its scopes),
//!   for the same full-access token and for a token with two scopes (loaded
//!   through `wga_keyring_add_ex`).
//!
//! It prints the median ns per call of each, the median of the per-round
//! differences c - rust (and `_ex` - plain), and the ratios to the floor.

use core::hint::black_box;
use core::mem::MaybeUninit;
use std::time::Instant;

use crate::{
    wga_keyring, wga_keyring_add, wga_keyring_add_ex, wga_keyring_free, wga_keyring_new,
    wga_keyring_verify_access_token, wga_keyring_verify_access_token_ex, wga_keyring_verify_token,
    wga_principal, wga_principal_ex, wga_record, wga_record_extra, wga_status,
};
use wga_core::{AccountId, Keyring, OsRng, Profile, Timestamp, TokenName};

const RECORDS: usize = 1000;
const ROUNDS: usize = 301;
const CALLS: u32 = 10_000;
const NOW: Timestamp = Timestamp(1_790_000_000);

type VerifyValues = unsafe extern "C" fn(
    *const wga_keyring,
    *const *const u8,
    *const usize,
    usize,
    u64,
    *mut wga_principal,
) -> wga_status;
type VerifyValuesEx = unsafe extern "C" fn(
    *const wga_keyring,
    *const *const u8,
    *const usize,
    usize,
    u64,
    *mut wga_principal_ex,
) -> wga_status;
type VerifyToken = unsafe extern "C" fn(
    *const wga_keyring,
    *const u8,
    usize,
    u64,
    *mut wga_principal,
) -> wga_status;

fn time(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
#[ignore = "benchmark: cargo test -p whatsgate-auth-c --release --lib bench -- --ignored --nocapture"]
fn verify_through_the_c_abi_vs_rust() {
    let rust = Keyring::new();
    let mut c_keyring = core::ptr::null_mut();
    // SAFETY: valid out-pointer.
    let status = unsafe { wga_keyring_new(&mut c_keyring) };
    assert_eq!(status, wga_status::WGA_OK);
    let mut token = None;
    let mut scoped = None;
    for i in 0..RECORDS {
        let (t, record) = rust
            .create(
                &mut OsRng,
                AccountId::new(&format!("acct_{}", i % 50)).unwrap(),
                TokenName::new(&format!("token {i}")).unwrap(),
                NOW,
            )
            .unwrap();
        let c = wga_record::from_record(&record);
        if i == RECORDS / 2 + 1 {
            // Two scopes, in the C keyring only.
            let mut record = record.clone();
            record.scopes = wga_core::Scopes::only(["messages:send", "devices:*"]).unwrap();
            let extra = wga_record_extra::from_record(&record);
            // SAFETY: live keyring, valid structs.
            let status = unsafe { wga_keyring_add_ex(c_keyring, &c, &extra) };
            assert_eq!(status, wga_status::WGA_OK);
            scoped = Some(t);
            continue;
        }
        // SAFETY: live keyring, valid record.
        let status = unsafe { wga_keyring_add(c_keyring, &c) };
        assert_eq!(status, wga_status::WGA_OK);
        if i == RECORDS / 2 {
            token = Some(t);
        }
    }
    let token = token.unwrap();
    let value = token.expose_secret().as_bytes();
    let verify_values: VerifyValues = black_box(wga_keyring_verify_access_token);
    let verify_token: VerifyToken = black_box(wga_keyring_verify_token);
    let verify_values_ex: VerifyValuesEx = black_box(wga_keyring_verify_access_token_ex);
    let mut principal = MaybeUninit::<wga_principal>::uninit();
    let mut principal_ex = MaybeUninit::<wga_principal_ex>::uninit();
    let scoped = scoped.unwrap();
    let scoped_value = scoped.expose_secret().as_bytes();
    for v in [value, scoped_value] {
        let (ptr, len) = (v.as_ptr(), v.len());
        // SAFETY: live keyring, one valid value, valid out-pointer.
        let status =
            unsafe { verify_values_ex(c_keyring, &ptr, &len, 1, NOW.0, principal_ex.as_mut_ptr()) };
        assert_eq!(status, wga_status::WGA_OK);
    }

    // Both paths accept the token before anything is timed.
    assert!(rust.authenticate(Profile::Rest, [value], NOW).is_ok());
    let (ptr, len) = (value.as_ptr(), value.len());
    // SAFETY: live keyring, one valid value, valid out-pointer.
    let status = unsafe { verify_values(c_keyring, &ptr, &len, 1, NOW.0, principal.as_mut_ptr()) };
    assert_eq!(status, wga_status::WGA_OK);

    let names = [
        "floor",
        "rust header",
        "c header",
        "c header, verdict only",
        "rust token",
        "c token",
        "c header _ex, full",
        "c header _ex, 2 scopes",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut diff_header = Vec::new();
    let mut diff_verdict = Vec::new();
    let mut diff_token = Vec::new();
    let mut diff_ex_full = Vec::new();
    let mut diff_ex_scoped = Vec::new();
    for round in 0..ROUNDS {
        let mut this = [0.0f64; 8];
        for k in 0..names.len() {
            let which = (k + round) % names.len();
            let keyring = black_box(c_keyring.cast_const());
            this[which] = match which {
                0 => time(|| {
                    let parsed = wga_core::host_records::parse(black_box(value)).unwrap();
                    black_box(parsed.verifier());
                }),
                1 => time(|| {
                    let r = rust.authenticate(Profile::Rest, [black_box(value)], NOW);
                    black_box(r.is_ok());
                }),
                2 => time(|| {
                    let (ptr, len) = (black_box(value.as_ptr()), value.len());
                    // SAFETY: as above.
                    let s = unsafe {
                        verify_values(keyring, &ptr, &len, 1, NOW.0, principal.as_mut_ptr())
                    };
                    black_box(s);
                }),
                3 => time(|| {
                    let (ptr, len) = (black_box(value.as_ptr()), value.len());
                    // SAFETY: as above; a NULL principal is allowed.
                    let s = unsafe {
                        verify_values(keyring, &ptr, &len, 1, NOW.0, core::ptr::null_mut())
                    };
                    black_box(s);
                }),
                4 => time(|| {
                    let r = rust.verify(black_box(value), NOW);
                    black_box(r.is_ok());
                }),
                6 | 7 => {
                    let v = if which == 6 { value } else { scoped_value };
                    time(|| {
                        let (ptr, len) = (black_box(v.as_ptr()), v.len());
                        // SAFETY: as above.
                        let s = unsafe {
                            verify_values_ex(
                                keyring,
                                &ptr,
                                &len,
                                1,
                                NOW.0,
                                principal_ex.as_mut_ptr(),
                            )
                        };
                        black_box(s);
                    })
                }
                _ => time(|| {
                    // SAFETY: live keyring, valid token bytes and out-pointer.
                    let s = unsafe {
                        verify_token(
                            keyring,
                            black_box(value.as_ptr()),
                            value.len(),
                            NOW.0,
                            principal.as_mut_ptr(),
                        )
                    };
                    black_box(s);
                }),
            };
        }
        for (s, v) in samples.iter_mut().zip(this) {
            s.push(v);
        }
        diff_header.push(this[2] - this[1]);
        diff_verdict.push(this[3] - this[1]);
        diff_token.push(this[5] - this[4]);
        diff_ex_full.push(this[6] - this[2]);
        diff_ex_scoped.push(this[7] - this[2]);
    }

    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let floor = medians[0];
    println!(
        "verify through the C ABI vs Rust ({ROUNDS} rounds x {CALLS} calls, {RECORDS} records)"
    );
    for (name, m) in names.iter().zip(&medians) {
        println!("  {name:<24} {m:7.1} ns/call  {:5.2} x floor", m / floor);
    }
    println!(
        "  C ABI overhead, header value: {:+.1} ns/call (median of per-round differences)",
        median(&mut diff_header)
    );
    println!(
        "  C ABI overhead, header value, verdict only: {:+.1} ns/call",
        median(&mut diff_verdict)
    );
    println!(
        "  C ABI overhead, bare token:   {:+.1} ns/call (median of per-round differences)",
        median(&mut diff_token)
    );
    println!(
        "  _ex over plain, full access: {:+.1} ns/call; two scopes: {:+.1} ns/call",
        median(&mut diff_ex_full),
        median(&mut diff_ex_scoped)
    );
    // SAFETY: made by wga_keyring_new, freed once.
    unsafe { wga_keyring_free(c_keyring) };
}
