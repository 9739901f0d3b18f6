//! The ways in, checked like the core: the C entry points, the core calls
//! of the Python fast path, and the tower layer's header extraction. Each
//! receives the token as a host would, with its secret and checksum
//! characters undefined and the stored verifiers secret.
//!
//! What each scenario covers, exactly:
//! - **C**: the `extern "C"` functions of `bindings/c/src` (compiled from
//!   those files, see `c-abi/Cargo.toml`), called as a C program calls them:
//!   `wga_keyring_verify_access_token`, `_authorization`, `_headers` and
//!   `_token`, and the `_ex` forms of the first and last (which also copy
//!   the token's scopes out), on a keyring filled by `wga_keyring_add` and,
//!   for a record with scopes, `wga_keyring_add_ex`.
//! - **Python**: not the interpreter. `Keyring.verify_access_token`,
//!   `verify_authorization` and `verify` (`bindings/python/src/fast.rs`)
//!   hand CPython's UTF-8 buffer of the argument, uncopied and unread, to
//!   `Keyring::authenticate_with(profile, Option<&[u8]>, …)` or, for a bare
//!   token, to `is_available` + `Keyring::verify_with`, with a lookup of the
//!   thread's cached `Principal` by token id; the middleware's
//!   `Keyring.authenticate(headers)` picks the values with
//!   `Profile::token_values`. Those calls are made here with the same
//!   argument shapes. Not covered: CPython itself (building the `str`,
//!   `PyUnicode_AsUTF8AndSize`, raising the exception) and PyO3's glue,
//!   none of which is this project's code.
//! - **tower**: `AuthService::call` of a real `AuthLayer` on an
//!   `http::Request` whose header value is marked in place, then the
//!   response future polled; that runs the layer's own extraction (the
//!   header map entry, `set_sensitive`, every value to the core). Not
//!   covered: hyper's HTTP/1 parser, which reads every byte of a header line
//!   to find its end, as every HTTP server must.

use core::ffi::c_char;
use core::mem::MaybeUninit;
use core::ptr::null_mut;
use core::task::{Context, Poll, Waker};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use whatsgate_auth::{Keyring, Profile, Timestamp, TokenFormat, TokenId, TokenRecord};
use whatsgate_auth_c as c;
use whatsgate_auth_tower::AuthLayer;

use crate::{DECLASSIFY, SecretRng, Tally, label, mark_public, mark_secret, secret_chars, stored};

const NOW: u64 = 10_000;

/// Tokens to present, as public text (each surface marks its own copy),
/// with whether they must be accepted.
struct Fixture {
    records: Vec<TokenRecord>,
    cases: Vec<(&'static str, Vec<u8>, bool)>,
}

fn fixture(format: &TokenFormat) -> Fixture {
    let mut rng = SecretRng {
        ids_are_public: true,
    };
    let mut records = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..2 {
        let (account, name) = label(&format!("surface {i}"));
        let (token, record) = TokenRecord::create(format, &mut rng, account, name, Timestamp(NOW))
            .unwrap_or_else(|_| panic!("OS RNG failed"));
        mark_public(&token);
        mark_public(&record);
        tokens.push(token.expose_secret().as_bytes().to_vec());
        records.push(record);
    }
    let (wrong, _) = format
        .generate_for(records[0].id, &mut rng)
        .unwrap_or_else(|_| panic!("OS RNG failed"));
    mark_public(&wrong);
    let chars = secret_chars(format);
    let changed = |index: usize, c: u8| {
        let mut text = tokens[0].clone();
        text[index] = if text[index] == c { b'B' } else { c };
        text
    };
    let cases = vec![
        ("valid", tokens[0].clone(), true),
        ("valid, other record", tokens[1].clone(), true),
        (
            "wrong secret",
            wrong.expose_secret().as_bytes().to_vec(),
            false,
        ),
        ("bad checksum", changed(chars.end - 3, b'Q'), false),
        ("secret changed", changed(chars.start + 18, b'x'), false),
        (
            "outside the alphabet",
            changed(chars.start + 8, b'!'),
            false,
        ),
    ];
    Fixture { records, cases }
}

/// `text` with the token at `at` marked: its secret and checksum characters.
fn marked(text: Vec<u8>, at: usize, format: &TokenFormat) -> Vec<u8> {
    let chars = secret_chars(format);
    if let Some(secret) = text.get(at + chars.start..at + chars.end) {
        mark_secret(secret);
    }
    text
}

fn bearer(token: &[u8]) -> Vec<u8> {
    [&b"Bearer "[..], token].concat()
}

// ---------------------------------------------------------------- C

/// A C keyring holding the fixture's records (verifiers secret), added as
/// a C host adds what it loaded: a `wga_record` through `wga_keyring_add`,
/// the second with scopes through `wga_keyring_add_ex`.
fn c_keyring(records: &[TokenRecord]) -> *mut c::wga_keyring {
    let mut keyring = null_mut();
    // SAFETY: a valid out-pointer.
    let status = unsafe { c::wga_keyring_new(&mut keyring) };
    assert_eq!(status, c::wga_status::WGA_OK, "wga_keyring_new");
    for (i, record) in records.iter().enumerate() {
        // SAFETY: all-zero is a valid `wga_record` (arrays, integers, bools).
        let mut raw: c::wga_record = unsafe { MaybeUninit::zeroed().assume_init() };
        let text = |dst: &mut [c_char], src: &str| {
            for (d, s) in dst.iter_mut().zip(src.bytes()) {
                *d = s as c_char;
            }
            src.len()
        };
        text(&mut raw.id, &record.id.to_string());
        raw.account_len = text(&mut raw.account, record.account.as_str());
        raw.name_len = text(&mut raw.name, record.name.as_str());
        raw.verifier = record.verifier.to_bytes();
        mark_secret(&raw.verifier);
        raw.created_at = record.created_at.0;
        if i == 1 {
            // SAFETY: all-zero is a valid `wga_record_extra` (the defaults).
            let mut extra: c::wga_record_extra = unsafe { MaybeUninit::zeroed().assume_init() };
            extra.restricted = true;
            extra.scopes_len = text(&mut extra.scopes, "devices:* messages:send");
            // SAFETY: a live keyring and valid structs.
            let status = unsafe { c::wga_keyring_add_ex(keyring, &raw, &extra) };
            assert_eq!(status, c::wga_status::WGA_OK, "wga_keyring_add_ex");
        } else {
            // SAFETY: a live keyring and a valid record.
            let status = unsafe { c::wga_keyring_add(keyring, &raw) };
            assert_eq!(status, c::wga_status::WGA_OK, "wga_keyring_add");
        }
    }
    keyring
}

/// `wga_keyring_verify_access_token_ex`: the principal with its scopes.
fn c_values_ex(keyring: *const c::wga_keyring, value: &[u8]) -> c::wga_status {
    let (ptr, len) = (value.as_ptr(), value.len());
    let mut principal = MaybeUninit::<c::wga_principal_ex>::uninit();
    // SAFETY: a live keyring, arrays of one valid value, a writable principal.
    unsafe {
        c::wga_keyring_verify_access_token_ex(keyring, &ptr, &len, 1, NOW, principal.as_mut_ptr())
    }
}

/// `wga_keyring_verify_token_ex`.
fn c_token_ex(keyring: *const c::wga_keyring, token: &[u8]) -> c::wga_status {
    let mut principal = MaybeUninit::<c::wga_principal_ex>::uninit();
    // SAFETY: a live keyring, `token.len()` readable bytes, a writable principal.
    unsafe {
        c::wga_keyring_verify_token_ex(
            keyring,
            token.as_ptr(),
            token.len(),
            NOW,
            principal.as_mut_ptr(),
        )
    }
}

/// One presented value through `wga_keyring_verify_access_token` or
/// `_authorization`.
fn c_values(keyring: *const c::wga_keyring, profile: Profile, value: &[u8]) -> c::wga_status {
    let (ptr, len) = (value.as_ptr(), value.len());
    let mut principal = MaybeUninit::<c::wga_principal>::uninit();
    let verify = match profile {
        Profile::Rest => c::wga_keyring_verify_access_token,
        Profile::Mcp => c::wga_keyring_verify_authorization,
    };
    // SAFETY: a live keyring, arrays of one valid value, a writable principal.
    unsafe { verify(keyring, &ptr, &len, 1, NOW, principal.as_mut_ptr()) }
}

/// The same value among a request's headers through `wga_keyring_verify_headers`.
fn c_headers(keyring: *const c::wga_keyring, profile: Profile, value: &[u8]) -> c::wga_status {
    let name: &[u8] = match profile {
        Profile::Rest => b"Access-Token",
        Profile::Mcp => b"authorization",
    };
    let names = [&b"Host"[..], name];
    let values = [&b"api.example"[..], value];
    let name_ptrs = names.map(<[u8]>::as_ptr);
    let name_lens = names.map(<[u8]>::len);
    let value_ptrs = values.map(<[u8]>::as_ptr);
    let value_lens = values.map(<[u8]>::len);
    let c_profile = match profile {
        Profile::Rest => c::wga_profile::WGA_PROFILE_REST,
        Profile::Mcp => c::wga_profile::WGA_PROFILE_MCP,
    } as u32;
    // SAFETY: a live keyring and arrays of two valid byte strings each; no
    // principal wanted.
    unsafe {
        c::wga_keyring_verify_headers(
            keyring,
            c_profile,
            name_ptrs.as_ptr(),
            name_lens.as_ptr(),
            value_ptrs.as_ptr(),
            value_lens.as_ptr(),
            2,
            NOW,
            null_mut(),
        )
    }
}

fn c_token(keyring: *const c::wga_keyring, token: &[u8]) -> c::wga_status {
    let mut principal = MaybeUninit::<c::wga_principal>::uninit();
    // SAFETY: a live keyring, `token.len()` readable bytes, a writable principal.
    unsafe {
        c::wga_keyring_verify_token(
            keyring,
            token.as_ptr(),
            token.len(),
            NOW,
            principal.as_mut_ptr(),
        )
    }
}

/// Every C verify entry point, on every case (the C keyring uses the
/// default format).
pub(crate) fn check_c(tally: &mut Tally) {
    let format = TokenFormat::DEFAULT;
    let fx = fixture(&format);
    let keyring = c_keyring(&fx.records);
    let ok = c::wga_status::WGA_OK;
    for (what, token, want) in &fx.cases {
        let rest = marked(token.clone(), 0, &format);
        let mcp = marked(bearer(token), 7, &format);
        tally.expect(
            &format!("C wga_keyring_verify_access_token: {what}"),
            c_values(keyring, Profile::Rest, &rest) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_authorization: {what}"),
            c_values(keyring, Profile::Mcp, &mcp) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_headers rest: {what}"),
            c_headers(keyring, Profile::Rest, &rest) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_headers mcp: {what}"),
            c_headers(keyring, Profile::Mcp, &mcp) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_token: {what}"),
            c_token(keyring, &rest) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_access_token_ex: {what}"),
            c_values_ex(keyring, &rest) == ok,
            *want,
        );
        tally.expect(
            &format!("C wga_keyring_verify_token_ex: {what}"),
            c_token_ex(keyring, &rest) == ok,
            *want,
        );
    }
    // SAFETY: made by wga_keyring_new, freed once.
    unsafe { c::wga_keyring_free(keyring) };
}

// ---------------------------------------------------------------- Python

fn python_keyring(format: &TokenFormat, records: &[TokenRecord]) -> Keyring {
    let keyring = Keyring::with_format(*format);
    for record in records {
        keyring
            .add(stored(record))
            .unwrap_or_else(|e| panic!("add: {e}"));
    }
    keyring
}

/// What the fast path's lookup does after the core accepted a token: the
/// principal cached for its (public) id, else a new one.
type Cache = HashMap<TokenId, whatsgate_auth::Principal>;

/// `Keyring.verify_access_token(value)` / `verify_authorization(value)`.
fn python_header(keyring: &Keyring, cache: &Cache, profile: Profile, value: &[u8]) -> bool {
    let lookup = |p: whatsgate_auth::PrincipalRef<'_>| {
        cache
            .get(&p.token_id())
            .cloned()
            .ok_or_else(|| p.to_principal())
    };
    keyring
        .authenticate_with(profile, Some(value), Timestamp(NOW), lookup)
        .is_ok()
}

/// `Keyring.verify(token)`: availability, then the core (as
/// `bindings/python/src/keyring.rs`'s `verify_token`).
fn python_token(keyring: &Keyring, cache: &Cache, token: &[u8]) -> bool {
    if !keyring.is_available() {
        return false;
    }
    keyring
        .verify_with(token, Timestamp(NOW), |p| cache.get(&p.token_id()).cloned())
        .is_ok()
}

/// The middleware's `Keyring.authenticate(headers, profile)`.
fn python_middleware(keyring: &Keyring, profile: Profile, value: &[u8]) -> bool {
    let name: &[u8] = match profile {
        Profile::Rest => b"access-token",
        Profile::Mcp => b"authorization",
    };
    let pairs = [(&b"host"[..], &b"api.example"[..]), (name, value)];
    keyring
        .authenticate_with(profile, profile.token_values(pairs), Timestamp(NOW), |_| ())
        .is_ok()
}

pub(crate) fn check_python(tally: &mut Tally, format: &TokenFormat) {
    let fx = fixture(format);
    let keyring = python_keyring(format, &fx.records);
    let mut cache = Cache::new();
    for round in 0..2 {
        for (what, token, want) in &fx.cases {
            let rest = marked(token.clone(), 0, format);
            let mcp = marked(bearer(token), 7, format);
            tally.expect(
                &format!("Python verify_access_token ({round}): {what}"),
                python_header(&keyring, &cache, Profile::Rest, &rest),
                *want,
            );
            tally.expect(
                &format!("Python verify_authorization ({round}): {what}"),
                python_header(&keyring, &cache, Profile::Mcp, &mcp),
                *want,
            );
            tally.expect(
                &format!("Python verify ({round}): {what}"),
                python_token(&keyring, &cache, &rest),
                *want,
            );
            tally.expect(
                &format!("Python middleware rest ({round}): {what}"),
                python_middleware(&keyring, Profile::Rest, &rest),
                *want,
            );
            tally.expect(
                &format!("Python middleware mcp ({round}): {what}"),
                python_middleware(&keyring, Profile::Mcp, &mcp),
                *want,
            );
        }
        // The second round finds the principals cached, as on a thread
        // that verified these tokens before.
        for (_, token, want) in &fx.cases {
            if *want && let Ok(p) = keyring.verify(token, Timestamp(NOW)) {
                cache.insert(p.token_id(), p);
            }
        }
    }
}

// ---------------------------------------------------------------- tower

/// The inner service: 200 for every request that gets through. With
/// `leak`, it branches on one secret character of the token it is handed
/// (the positive control that the marks reach the layer's header map).
#[derive(Clone)]
struct Inner {
    leak: bool,
}

impl<B> Service<Request<B>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = core::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = Response::new(());
        if self.leak {
            let secret = request
                .headers()
                .get("access-token")
                .and_then(|v| v.as_bytes().get(30).copied())
                .unwrap_or(0);
            if std::hint::black_box(secret) & 1 == 0 {
                *response.status_mut() = http::StatusCode::ACCEPTED;
            }
        }
        core::future::ready(Ok(response))
    }
}

/// A request with one header whose value is marked in place, in the
/// `HeaderValue`'s own buffer (built from the public copy first: `http`
/// checks every byte on construction, as hyper's parser does).
fn request(
    path: &str,
    name: &'static str,
    value: &[u8],
    at: usize,
    format: &TokenFormat,
) -> Request<()> {
    let value = HeaderValue::from_bytes(value).unwrap_or_else(|e| panic!("header value: {e}"));
    let chars = secret_chars(format);
    if let Some(secret) = value.as_bytes().get(at + chars.start..at + chars.end) {
        mark_secret(secret);
    }
    Request::get(path)
        .header(name, value)
        .body(())
        .unwrap_or_else(|e| panic!("request: {e}"))
}

/// Calls the layer's service and polls its future once (every future here
/// is ready at once); the response's status.
fn call<S>(service: &mut S, request: Request<()>) -> u16
where
    S: Service<
            Request<()>,
            Response = Response<whatsgate_auth_tower::AuthBody<()>>,
            Error = Infallible,
        >,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("the layer's service is not ready"),
    }
    let mut future = core::pin::pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => response.status().as_u16(),
        _ => panic!("the layer's future is not ready"),
    }
}

fn tower_service(
    keyring: Arc<Keyring>,
    leak: bool,
) -> impl Service<Request<()>, Response = Response<whatsgate_auth_tower::AuthBody<()>>, Error = Infallible>
{
    let layer = AuthLayer::builder(keyring)
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .clock(|| Timestamp(NOW))
        .build()
        .unwrap_or_else(|e| panic!("layer: {e}"));
    layer.layer(Inner { leak })
}

pub(crate) fn check_tower(tally: &mut Tally, format: &TokenFormat) {
    let fx = fixture(format);
    let keyring = Arc::new(python_keyring(format, &fx.records));
    let mut service = tower_service(keyring, false);
    for (what, token, want) in &fx.cases {
        let rest = request("/api/me", "access-token", token, 0, format);
        tally.expect(
            &format!("tower Access-Token: {what}"),
            call(&mut service, rest) == 200,
            *want,
        );
        let mcp = request("/mcp", "authorization", &bearer(token), 7, format);
        tally.expect(
            &format!("tower Authorization: {what}"),
            call(&mut service, mcp) == 200,
            *want,
        );
    }
}

// ---------------------------------------------------------------- controls

/// Runs `f` with the verdict hook switched off: the core's branch on a
/// verdict computed from the marked secret must then be reported, through
/// this surface's path.
fn undeclassified<R>(f: impl FnOnce() -> R) -> R {
    DECLASSIFY.store(false, Ordering::Relaxed);
    let result = f();
    DECLASSIFY.store(true, Ordering::Relaxed);
    result
}

/// The positive controls of the surfaces: the number of reports each
/// produced, in order C, Python, tower (undeclassified), tower (leaky
/// inner service).
pub(crate) fn controls(error_count: impl Fn() -> u32) -> [(&'static str, u32); 4] {
    let format = TokenFormat::DEFAULT;
    let fx = fixture(&format);
    let token = &fx.cases[0].1;

    let keyring = c_keyring(&fx.records);
    let before = error_count();
    let accepted = undeclassified(|| {
        c_values(keyring, Profile::Rest, &marked(token.clone(), 0, &format))
            == c::wga_status::WGA_OK
    });
    let c_reports = error_count() - before;
    std::hint::black_box(accepted);
    // SAFETY: made by wga_keyring_new, freed once.
    unsafe { c::wga_keyring_free(keyring) };

    let python = python_keyring(&format, &fx.records);
    let before = error_count();
    let accepted = undeclassified(|| {
        python_header(
            &python,
            &Cache::new(),
            Profile::Rest,
            &marked(token.clone(), 0, &format),
        )
    });
    let python_reports = error_count() - before;
    std::hint::black_box(accepted);

    let keyring = Arc::new(python);
    let mut service = tower_service(Arc::clone(&keyring), false);
    let before = error_count();
    let status = undeclassified(|| {
        call(
            &mut service,
            request("/api/me", "access-token", token, 0, &format),
        )
    });
    let tower_reports = error_count() - before;
    std::hint::black_box(status);

    let mut leaky = tower_service(keyring, true);
    let before = error_count();
    let status = call(
        &mut leaky,
        request("/api/me", "access-token", token, 0, &format),
    );
    let leak_reports = error_count() - before;
    std::hint::black_box(status);

    [
        (
            "C wga_keyring_verify_access_token, undeclassified",
            c_reports,
        ),
        (
            "Python fast path's core call, undeclassified",
            python_reports,
        ),
        ("tower AuthService::call, undeclassified", tower_reports),
        (
            "tower inner service branching on a token byte",
            leak_reports,
        ),
    ]
}
