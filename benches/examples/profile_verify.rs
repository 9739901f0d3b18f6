//! A fixed workload for instruction-level profiling with callgrind:
//!
//! ```text
//! cargo build --release -p whatsgate-auth-benches --example profile_verify
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
//!     target/release/examples/profile_verify hot 10000
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Or where the cycles go natively (SHA-NI included), with `perf`; a
//! 16-byte load that stalls on two smaller stores shows up as the hottest
//! instruction right after it:
//!
//! ```text
//! perf record -F 20000 target/release/examples/profile_verify hot 50000000
//! perf report --stdio
//! perf annotate --stdio -s 'whatsgate_auth::keyring::store::imp::Map<V>::with'
//! ```
//!
//! Scenarios: `sha` (the floor: one compression), `parse`, `hot` (verify
//! the same token), `wrong` (wrong secret), `mcp` (`authenticate` with an
//! `Authorization: Bearer` header), `cycle` (100k records, random
//! order). Only `measured_*` functions are counted, not the setup. Note that
//! valgrind hides SHA-NI, so sha2 takes its software path there.

use core::hint::black_box;

use sha2::block_api::compress256;
use whatsgate_auth::Profile;
use whatsgate_auth_benches::{Fixture, NOW, wrong_secret};

#[inline(never)]
fn measured_sha(n: usize) {
    let block = [0x5au8; 64];
    for _ in 0..n {
        let mut state = [0x6a09_e667u32, 1, 2, 3, 4, 5, 6, 7];
        compress256(&mut state, core::slice::from_ref(black_box(&block)));
        black_box(state);
    }
}

#[inline(never)]
fn measured_parse(fixture: &Fixture, n: usize) {
    for _ in 0..n {
        black_box(whatsgate_auth::host_records::parse(black_box(&fixture.tokens[0])).is_ok());
    }
}

#[inline(never)]
fn measured_verify(fixture: &Fixture, token: &[u8], n: usize) {
    for _ in 0..n {
        black_box(fixture.keyring.verify(black_box(token), NOW).is_ok());
    }
}

#[inline(never)]
fn measured_authenticate(fixture: &Fixture, header: &[u8], n: usize) {
    for _ in 0..n {
        black_box(
            fixture
                .keyring
                .authenticate(Profile::Mcp, [black_box(header)], NOW)
                .is_ok(),
        );
    }
}

#[inline(never)]
fn measured_cycle(fixture: &Fixture, n: usize) {
    for i in 0..n {
        let token = &fixture.tokens[i % fixture.tokens.len()];
        black_box(fixture.keyring.verify(token, NOW).is_ok());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "hot".to_owned());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    match scenario.as_str() {
        "sha" => measured_sha(n),
        "parse" => measured_parse(&Fixture::new(1, 1), n),
        "hot" => {
            let fixture = Fixture::new(1000, 1);
            measured_verify(&fixture, &fixture.tokens[0], n);
        }
        "wrong" => {
            let fixture = Fixture::new(1000, 1);
            let wrong = wrong_secret(&fixture.tokens[0], 2);
            measured_verify(&fixture, &wrong, n);
        }
        "mcp" => {
            let fixture = Fixture::new(1000, 1);
            let header = [b"Bearer ".as_slice(), &fixture.tokens[0]].concat();
            measured_authenticate(&fixture, &header, n);
        }
        "cycle" => measured_cycle(&Fixture::new(100_000, 1), n),
        other => {
            eprintln!("unknown scenario {other:?}: sha, parse, hot, wrong, mcp or cycle");
            std::process::exit(2);
        }
    }
}
