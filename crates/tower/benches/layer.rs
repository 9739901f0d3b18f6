//! What the layer costs beyond the verification it wraps, in one run:
//!
//! - `verify`: a bare `Keyring::verify` of the token (the floor);
//! - `service`: a request to a trivial service, without the layer;
//! - `layered`: the same request through `AuthLayer` to the same service;
//! - `layered_missing`: a request without a token, answered by the layer;
//! - `scope_rule_full`: `layered` through a layer with a scope rule on the
//!   path (a full-access token: the rule is never looked at);
//! - `scope_rule_held`: the same with a token restricted to the scope (the
//!   rule is checked and met).
//!
//! After criterion's own report it prints the layer's overhead,
//! `layered - service - verify` (medians), against the 100 ns target, and
//! what a scope rule adds to it.
//! Run: `cargo bench -p whatsgate-auth-tower --bench layer`.

// Set-up failures abort the bench: unwrapping says where.
#![allow(clippy::unwrap_used)]

use core::convert::Infallible;
use core::future::{Ready, ready};
use core::hint::black_box;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BatchSize, Criterion};
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use tower::{Layer, Service, service_fn};
use whatsgate_auth::{AccountId, Keyring, NewToken, OsRng, Scopes, Timestamp, Token, TokenName};
use whatsgate_auth_tower::{ACCESS_TOKEN, AuthLayer, Profile};

const GROUP: &str = "tower_layer";

/// Drives a service whose future is ready at once, without a runtime (both
/// with and without the layer, so the driving cost cancels out).
fn call<S, R>(service: &mut S, request: R) -> S::Response
where
    S: Service<R>,
    S::Error: core::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("a trivial service is always ready"),
    }
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => panic!("a trivial service answers at once"),
    }
}

fn trivial(_: Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Empty::new())))
}

type MakeRequest = Box<dyn Fn() -> Request<()>>;

/// The scope the scoped token holds and the rule asks for.
const SCOPE: &str = "devices:read";

/// A layer like `AuthLayer::new(keyring, Profile::Rest)`, plus a scope rule
/// on the benched path.
fn with_rule(keyring: &Arc<Keyring>) -> AuthLayer {
    AuthLayer::builder(Arc::clone(keyring))
        .guard("/", Profile::Rest)
        .require_scope("/v1/devices", SCOPE)
        .build()
        .unwrap()
}

/// Requests as a client sends them: the token and two other headers.
fn requests(token: &Token) -> MakeRequest {
    let value = HeaderValue::from_str(token.expose_secret()).unwrap();
    Box::new(move || {
        let mut request = bare();
        let headers = request.headers_mut();
        headers.insert(http::header::HOST, HeaderValue::from_static("api.example"));
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(ACCESS_TOKEN.clone(), value.clone());
        request
    })
}

/// A token restricted to [`SCOPE`], in `keyring`.
fn scoped_token(keyring: &Keyring) -> Token {
    let mut spec = NewToken::new(
        AccountId::new("acct_bench").unwrap(),
        TokenName::new("Scoped").unwrap(),
    );
    spec.scopes = Scopes::only([SCOPE]).unwrap();
    keyring
        .create_from(&mut OsRng, spec, Timestamp::now())
        .unwrap()
        .0
}

/// A keyring of 1001 tokens, one of them presented by the requests `make`
/// builds (with two other headers, as a client sends).
fn setup() -> (Arc<Keyring>, Token, MakeRequest) {
    let keyring = Arc::new(Keyring::new());
    let now = Timestamp::now();
    // Other tokens, so the lookup is not in a one-entry map.
    for i in 0..1000 {
        let name = TokenName::new(&format!("token {i}")).unwrap();
        let account = AccountId::new(&format!("acct_{}", i % 50)).unwrap();
        keyring.create(&mut OsRng, account, name, now).unwrap();
    }
    let (token, _) = keyring
        .create(
            &mut OsRng,
            AccountId::new("acct_bench").unwrap(),
            TokenName::new("Bench").unwrap(),
            now,
        )
        .unwrap();
    let make = requests(&token);
    (keyring, token, make)
}

fn bare() -> Request<()> {
    Request::get("/v1/devices/42/messages").body(()).unwrap()
}

fn bench(
    c: &mut Criterion,
    keyring: &Arc<Keyring>,
    token: &Token,
    request: &MakeRequest,
    scoped: &MakeRequest,
) {
    let now = Timestamp::now();
    let mut service = service_fn(trivial);
    let mut layered = AuthLayer::new(Arc::clone(keyring), Profile::Rest).layer(service_fn(trivial));
    // The layer must really authenticate here, or the figures mean nothing.
    assert_eq!(call(&mut layered, request()).status(), 200);
    assert_eq!(call(&mut layered, bare()).status(), 403);

    let mut group = c.benchmark_group(GROUP);
    let token_bytes = token.expose_secret().as_bytes();
    group.bench_function("verify", |b| {
        b.iter(|| keyring.verify(black_box(token_bytes), Timestamp::now()))
    });
    group.bench_function("service", |b| {
        b.iter_batched(request, |r| call(&mut service, r), BatchSize::SmallInput)
    });
    group.bench_function("layered", |b| {
        b.iter_batched(request, |r| call(&mut layered, r), BatchSize::SmallInput)
    });
    // The share of the overhead that is the API itself: the first insert
    // into an empty `http::Extensions` allocates its map.
    let principal = keyring.verify(token_bytes, now).unwrap();
    group.bench_function("extensions_insert", |b| {
        b.iter(|| {
            let mut extensions = http::Extensions::new();
            extensions.insert(black_box(&principal).clone());
            extensions
        })
    });
    group.bench_function("layered_missing", |b| {
        b.iter_batched(bare, |r| call(&mut layered, r), BatchSize::SmallInput)
    });
    let mut ruled = with_rule(keyring).layer(service_fn(trivial));
    // The rule must really be checked, and met, by the scoped token.
    assert_eq!(call(&mut ruled, request()).status(), 200);
    assert_eq!(call(&mut ruled, scoped()).status(), 200);
    let mut denying = AuthLayer::builder(Arc::clone(keyring))
        .guard("/", Profile::Rest)
        .require_scope("/v1/devices", "devices:write")
        .build()
        .unwrap()
        .layer(service_fn(trivial));
    assert_eq!(call(&mut denying, scoped()).status(), 403);
    group.bench_function("scope_rule_full", |b| {
        b.iter_batched(request, |r| call(&mut ruled, r), BatchSize::SmallInput)
    });
    group.bench_function("scope_rule_held", |b| {
        b.iter_batched(scoped, |r| call(&mut ruled, r), BatchSize::SmallInput)
    });
    group.finish();
}

/// Per-iteration time of one batch: `setup` builds the inputs untimed,
/// `routine` runs over them timed, the outputs are dropped untimed.
fn batch<I, O>(n: usize, setup: &mut impl FnMut() -> I, routine: &mut impl FnMut(I) -> O) -> f64 {
    let inputs: Vec<I> = (0..n).map(|_| setup()).collect();
    let mut outputs = Vec::with_capacity(n);
    let start = Instant::now();
    for input in inputs {
        outputs.push(routine(input));
    }
    let elapsed = start.elapsed();
    drop(black_box(outputs));
    elapsed.as_nanos() as f64 / n as f64
}

/// The layer's overhead measured paired: the variants take turns in many
/// short rounds, so a busy machine slows them alike, and each keeps its
/// fastest round (interference only ever adds time).
fn paired(
    keyring: &Arc<Keyring>,
    token: &[u8],
    request: &dyn Fn() -> Request<()>,
    scoped: &dyn Fn() -> Request<()>,
) {
    const ROUNDS: usize = 300;
    const N: usize = 1000;
    let mut service = service_fn(trivial);
    let mut layered = AuthLayer::new(Arc::clone(keyring), Profile::Rest).layer(service_fn(trivial));
    let mut ruled = with_rule(keyring).layer(service_fn(trivial));
    let principal = keyring.verify(token, Timestamp::now()).unwrap();
    let mut best = [f64::INFINITY; 7];
    for _ in 0..ROUNDS {
        let rounds = [
            batch(N, &mut || (), &mut |()| {
                keyring.verify(black_box(token), Timestamp::now())
            }),
            batch(N, &mut || request(), &mut |r| call(&mut service, r)),
            batch(N, &mut || request(), &mut |r| call(&mut layered, r)),
            batch(N, &mut http::Extensions::new, &mut |mut e| {
                e.insert(black_box(principal.clone()));
                e
            }),
            batch(N, &mut || request(), &mut |r| call(&mut ruled, r)),
            batch(N, &mut || scoped(), &mut |r| call(&mut ruled, r)),
            batch(N, &mut || scoped(), &mut |r| call(&mut layered, r)),
        ];
        for (best, now) in best.iter_mut().zip(rounds) {
            *best = best.min(now);
        }
    }
    let [
        verify,
        service,
        layered,
        extensions,
        rule_full,
        rule_held,
        scoped_unruled,
    ] = best;
    let overhead = layered - service - verify;
    println!();
    println!(
        "paired, best of {ROUNDS} rounds of {N}: verify {verify:.1} ns, service {service:.1} ns, \
         layered {layered:.1} ns, first extensions insert {extensions:.1} ns"
    );
    println!(
        "layer overhead beyond verify: {overhead:.1} ns (target <= 100 ns: {}); \
         layered/verify = {:.2}; of the overhead, {extensions:.1} ns is the first insert \
         into empty request extensions (two allocations)",
        if overhead <= 100.0 { "met" } else { "MISSED" },
        layered / verify,
    );
    println!(
        "a scope rule on the path: full-access token {rule_full:.1} ns ({:+.1} ns against \
         layered, target 0); token restricted to the scope {rule_held:.1} ns, {:+.1} ns \
         against the same token without the rule ({scoped_unruled:.1} ns)",
        rule_full - layered,
        rule_held - scoped_unruled,
    );
}

fn main() {
    let (keyring, token, request) = setup();
    let scoped = requests(&scoped_token(&keyring));
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &keyring, &token, &request, &scoped);
    criterion.final_summary();
    // `cargo test` runs benches once as a smoke test, without `--bench`.
    if std::env::args().any(|arg| arg == "--bench") {
        paired(
            &keyring,
            token.expose_secret().as_bytes(),
            &request,
            &scoped,
        );
    }
}
