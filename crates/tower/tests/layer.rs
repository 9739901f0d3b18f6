//! The layer in process: configuration, path rules, the exact rejections,
//! the inner service left alone on failure, sensitive headers, the clock.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt, service_fn};
use whatsgate_auth::{
    AccountId, Failure, Keyring, OsRng, Principal, Profile, Timestamp, Token, TokenName,
    TokenRecord,
};
use whatsgate_auth_test_support::{PATH_CASES, load_json};
use whatsgate_auth_tower::{AuthBody, AuthLayer, ConfigError, mark_sensitive};

fn keyring_with_token() -> (Arc<Keyring>, Token, TokenRecord) {
    let keyring = Arc::new(Keyring::new());
    let (token, record) = keyring
        .create(
            &mut OsRng,
            AccountId::new("acct_42").unwrap(),
            TokenName::new("Production API").unwrap(),
            Timestamp::now(),
        )
        .unwrap();
    (keyring, token, record)
}

fn layer(rules: &[(&str, Option<Profile>)]) -> Result<AuthLayer, ConfigError> {
    let mut builder = AuthLayer::builder(Arc::new(Keyring::new()));
    for (prefix, profile) in rules {
        builder = match profile {
            Some(profile) => builder.guard(*prefix, *profile),
            None => builder.public(*prefix),
        };
    }
    builder.build()
}

#[test]
fn configuration_errors_say_what_is_wrong() {
    assert_eq!(layer(&[]).unwrap_err(), ConfigError::NothingGuarded);
    assert_eq!(
        layer(&[("/health", None)]).unwrap_err(),
        ConfigError::NothingGuarded
    );
    for bad in ["", "api", "/a b", "/a?b", "/a#b", "/é", "/\t"] {
        assert_eq!(
            layer(&[(bad, Some(Profile::Rest))]).unwrap_err(),
            ConfigError::InvalidPrefix(bad.to_owned()),
            "{bad:?}"
        );
    }
    assert_eq!(
        layer(&[("/api", Some(Profile::Rest)), ("/api/", None)]).unwrap_err(),
        ConfigError::DuplicatePrefix("/api/".to_owned())
    );
    for bad in [
        "",
        "https://x.example/a b",
        "https://x.example/\"",
        "https://é",
    ] {
        let built = AuthLayer::builder(Arc::new(Keyring::new()))
            .guard("/", Profile::Mcp)
            .resource_metadata(bad)
            .build();
        assert_eq!(built.unwrap_err(), ConfigError::ResourceMetadata, "{bad:?}");
    }
    // Every error explains itself.
    let message = ConfigError::NothingGuarded.to_string();
    assert!(message.contains(".guard("), "{message}");
}

#[test]
fn rules_match_whole_segments_and_the_longest_prefix_wins() {
    let api = layer(&[("/api/", Some(Profile::Rest))]).unwrap();
    for (path, want) in [
        ("/api", Some(Profile::Rest)),
        ("/api/", Some(Profile::Rest)),
        ("/api/v1/devices", Some(Profile::Rest)),
        ("/apis", None),
        ("/", None),
        ("/API/v1", None),
        ("*", None),
    ] {
        assert_eq!(api.profile_for(path), want, "{path}");
    }

    let site = layer(&[
        ("/", Some(Profile::Rest)),
        ("/mcp", Some(Profile::Mcp)),
        ("/health", None),
        ("/mcp/public", None),
    ])
    .unwrap();
    for (path, want) in [
        ("/", Some(Profile::Rest)),
        ("/v1/devices", Some(Profile::Rest)),
        ("*", Some(Profile::Rest)),
        ("/health", None),
        ("/health/live", None),
        ("/healthz", Some(Profile::Rest)),
        ("/mcp", Some(Profile::Mcp)),
        ("/mcp/tools", Some(Profile::Mcp)),
        ("/mcpx", Some(Profile::Rest)),
        ("/mcp/public/x", None),
    ] {
        assert_eq!(site.profile_for(path), want, "{path}");
    }
    let one = AuthLayer::new(Arc::new(Keyring::new()), Profile::Mcp);
    assert_eq!(one.profile_for("/anything"), Some(Profile::Mcp));
}

/// The shared path cases (`testdata/path-cases.json`), the same every
/// surface with a path guard runs.
#[tokio::test]
async fn shared_path_cases() {
    let cases = load_json(PATH_CASES);
    for case in cases["prefixes"].as_array().unwrap() {
        let prefix = case["prefix"].as_str().unwrap();
        let built = layer(&[(prefix, Some(Profile::Rest))]);
        match case["normal"].as_str() {
            Some(_) => assert!(built.is_ok(), "{prefix:?} is a valid prefix"),
            None => assert_eq!(
                built.unwrap_err(),
                ConfigError::InvalidPrefix(prefix.to_owned())
            ),
        }
    }
    let covers = cases["covers"].as_array().unwrap();
    assert!(covers.len() >= 20);
    let calls = Arc::new(AtomicUsize::new(0));
    for case in covers {
        let (prefix, path) = (
            case["prefix"].as_str().unwrap(),
            case["path"].as_str().unwrap(),
        );
        let covered = case["covered"].as_bool().unwrap();
        let built = layer(&[(prefix, Some(Profile::Rest))]).unwrap();
        let want = covered.then_some(Profile::Rest);
        assert_eq!(built.profile_for(path), want, "{prefix:?} covers {path:?}");
        // And a real request without a token: refused exactly when covered.
        let service = built.layer(counting(Arc::clone(&calls)));
        let (status, _, _) = send(&service, path, &[]).await;
        let want = if covered {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(status, want, "{prefix:?}, request to {path:?}");
    }
}

/// A keyring that cannot confirm it is current answers 503 with
/// `Retry-After` to every presented token, never 200 and never "invalid",
/// and recovers when it is current again.
#[tokio::test]
async fn an_unavailable_keyring_answers_503_with_retry_after() {
    let (keyring, token, _) = keyring_with_token();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = AuthLayer::builder(Arc::clone(&keyring))
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .build()
        .unwrap()
        .layer(counting(Arc::clone(&calls)));
    let good = token.expose_secret().as_bytes();
    let bearer = [&b"Bearer "[..], good].concat();
    keyring.set_available(false);
    for (path, header, value) in [
        ("/api/x", "access-token", good),
        ("/api/x", "access-token", &b"wgat_wrong"[..]),
        ("/mcp", "authorization", &bearer[..]),
    ] {
        let (status, headers, body) = send(&service, path, &[(header, value)]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers["content-type"], "application/json");
        assert!(headers.get("www-authenticate").is_none());
        assert_eq!(
            &body[..],
            br#"{"message": "the token store cannot be reached; retry later"}"#
        );
    }
    // No token: the seed's answer, which needs no store.
    let (status, _, _) = send(&service, "/api/x", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    keyring.set_available(true);
    let (status, headers, _) = send(&service, "/api/x", &[("access-token", good)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("retry-after").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A service that counts its calls and answers 200 with the principal's account.
fn counting(
    calls: Arc<AtomicUsize>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl core::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
> + Clone {
    service_fn(move |request: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let account = request
            .extensions()
            .get::<Principal>()
            .map_or("anonymous", |p| p.account())
            .to_owned();
        async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(account)))) }
    })
}

async fn send<S>(
    service: &S,
    path: &str,
    headers: &[(&str, &[u8])],
) -> (StatusCode, HeaderMap, Bytes)
where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<AuthBody<Full<Bytes>>>,
            Error = Infallible,
        > + Clone,
{
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    let request = request.body(Full::new(Bytes::new())).unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn failures_never_reach_the_inner_service() {
    let (keyring, token, _) = keyring_with_token();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = AuthLayer::builder(keyring)
        .guard("/", Profile::Rest)
        .public("/health")
        .build()
        .unwrap()
        .layer(counting(Arc::clone(&calls)));
    let t = token.expose_secret().as_bytes();
    // Positive control: a good token and a public path do reach it.
    assert_eq!(
        send(&service, "/x", &[("access-token", t)]).await.2,
        "acct_42"
    );
    assert_eq!(send(&service, "/health", &[]).await.2, "anonymous");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    for headers in [
        &[][..],
        &[("access-token", b"".as_slice())][..],
        &[("access-token", b"wgat_nope".as_slice())][..],
        &[("access-token", t), ("access-token", t)][..],
        &[("access-token", b"\xff\xfe".as_slice())][..],
    ] {
        let (status, _, _) = send(&service, "/x", headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Path, headers, then the status, body and challenge wanted.
type Case<'a> = (
    &'a str,
    &'a [(&'a str, &'a [u8])],
    u16,
    &'a str,
    Option<&'a str>,
);

#[tokio::test]
async fn rejections_are_exact_with_and_without_resource_metadata() {
    let keyring = Arc::new(Keyring::new());
    let url = "https://api.example/.well-known/oauth-protected-resource";
    let plain = AuthLayer::builder(Arc::clone(&keyring))
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .build()
        .unwrap();
    let with_url = AuthLayer::builder(keyring)
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .resource_metadata(url)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let cases: [Case; 4] = [
        (
            "/api",
            &[],
            403,
            r#"{"message": "an Access-Token is required"}"#,
            None,
        ),
        (
            "/api",
            &[("access-token", b"x")],
            403,
            r#"{"message": "invalid Access-Token"}"#,
            None,
        ),
        (
            "/mcp",
            &[],
            401,
            r#"{"message": "a Bearer token is required"}"#,
            Some(r#"Bearer realm="whatsgate""#),
        ),
        (
            "/mcp",
            &[("authorization", b"Bearer x")],
            401,
            r#"{"message": "invalid Bearer token"}"#,
            Some(r#"Bearer realm="whatsgate", error="invalid_token""#),
        ),
    ];
    for (layer, suffix) in [(plain, None), (with_url, Some(url))] {
        let service = layer.layer(counting(Arc::clone(&calls)));
        for (path, headers, status, body, challenge) in cases {
            let (got_status, got_headers, got_body) = send(&service, path, headers).await;
            assert_eq!(got_status.as_u16(), status);
            assert_eq!(got_body, body.as_bytes());
            assert_eq!(got_headers["content-type"], "application/json");
            let challenge = challenge.map(|c| match suffix {
                Some(url) => format!(r#"{c}, resource_metadata="{url}""#),
                None => c.to_owned(),
            });
            let got: Vec<_> = got_headers.get_all("www-authenticate").iter().collect();
            assert_eq!(
                got,
                challenge.iter().map(String::as_str).collect::<Vec<_>>(),
                "{path} {suffix:?}"
            );
            // The layer's rejection_response gives the same answer.
            let failure = if headers.is_empty() {
                Failure::Missing
            } else {
                Failure::Invalid
            };
            let profile = layer_profile(path);
            let direct =
                layer_for_direct(suffix).rejection_response::<Full<Bytes>>(profile.reject(failure));
            assert_eq!(direct.status().as_u16(), status);
            assert_eq!(direct.headers(), &got_headers);
            assert!(direct.body().is_rejection());
            assert_eq!(direct.body().size_hint().exact(), Some(body.len() as u64));
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

fn layer_profile(path: &str) -> Profile {
    if path.starts_with("/mcp") {
        Profile::Mcp
    } else {
        Profile::Rest
    }
}

fn layer_for_direct(resource_metadata: Option<&str>) -> AuthLayer {
    let mut builder = AuthLayer::builder(Arc::new(Keyring::new())).guard("/", Profile::Rest);
    if let Some(url) = resource_metadata {
        builder = builder.resource_metadata(url);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn the_rejection_body_is_one_frame_then_the_end() {
    let layer = AuthLayer::new(Arc::new(Keyring::new()), Profile::Rest);
    let mut body = layer
        .rejection_response::<Full<Bytes>>(Profile::Rest.reject(Failure::Missing))
        .into_body();
    assert!(!body.is_end_stream());
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(
        frame.into_data().unwrap(),
        r#"{"message": "an Access-Token is required"}"#
    );
    assert!(body.is_end_stream());
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.frame().await.is_none());
    // The inner body passes through untouched.
    let inner = AuthBody::inner(Full::new(Bytes::from_static(b"hello")));
    assert!(!inner.is_rejection());
    assert_eq!(inner.collect().await.unwrap().to_bytes(), "hello");
}

#[test]
fn mark_sensitive_hides_token_headers_from_debug() {
    let secret = "wgat_AfahLKj_wwpmyhQMzHJ2M2EVgZNhGG0_U13xxxxxxxxxxxxx";
    let mut headers = HeaderMap::new();
    headers.append("access-token", HeaderValue::from_static(secret));
    headers.append("access-token", HeaderValue::from_static("second"));
    headers.append(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {secret}")).unwrap(),
    );
    headers.append("accept", HeaderValue::from_static("*/*"));
    // Positive control: unmarked values show in Debug.
    assert!(format!("{headers:?}").contains(secret));
    assert!(format!("{headers:?}").contains("second"));
    mark_sensitive(&mut headers);
    let debug = format!("{headers:?}");
    assert!(!debug.contains(secret), "{debug}");
    assert!(!debug.contains("second"), "{debug}");
    assert!(debug.contains("*/*"), "other headers stay visible: {debug}");
    assert!(
        headers
            .get_all("access-token")
            .iter()
            .all(HeaderValue::is_sensitive)
    );
    assert!(!headers["accept"].is_sensitive());
}

#[tokio::test]
async fn the_inner_service_sees_token_headers_marked_sensitive() {
    let (keyring, token, _) = keyring_with_token();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let inner = service_fn(move |request: Request<Full<Bytes>>| {
        let headers = request.headers();
        record.lock().unwrap().push((
            headers
                .get_all("access-token")
                .iter()
                .all(HeaderValue::is_sensitive),
            headers
                .get_all("authorization")
                .iter()
                .all(HeaderValue::is_sensitive),
            format!("{headers:?}").contains("wgat_"),
        ));
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    });
    let service = AuthLayer::builder(keyring)
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .build()
        .unwrap()
        .layer(inner);
    let t = token.expose_secret().as_bytes();
    let bearer = [b"Bearer ", t].concat();
    for path in ["/api", "/mcp", "/elsewhere"] {
        let (status, _, _) = send(
            &service,
            path,
            &[("access-token", t), ("authorization", &bearer)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    assert_eq!(*seen.lock().unwrap(), vec![(true, true, false); 3]);
}

#[tokio::test]
async fn the_clock_hook_decides_grace_periods() {
    let (keyring, old, record) = keyring_with_token();
    let start = Timestamp::now();
    let (new, _) = keyring
        .regenerate(&mut OsRng, record.id, start, Some(start.plus_secs(60)))
        .unwrap();
    let now = Arc::new(AtomicU64::new(start.as_secs()));
    let clock = Arc::clone(&now);
    let service = AuthLayer::builder(keyring)
        .guard("/", Profile::Rest)
        .clock(move || Timestamp(clock.load(Ordering::SeqCst)))
        .build()
        .unwrap()
        .layer(counting(Arc::new(AtomicUsize::new(0))));
    let present = |token: &Token| token.expose_secret().as_bytes().to_vec();
    let (old, new) = (present(&old), present(&new));
    assert_eq!(
        send(&service, "/", &[("access-token", &old)]).await.0,
        StatusCode::OK
    );
    now.store(start.as_secs() + 61, Ordering::SeqCst);
    assert_eq!(
        send(&service, "/", &[("access-token", &old)]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&service, "/", &[("access-token", &new)]).await.0,
        StatusCode::OK
    );
}

#[test]
fn services_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send_future<F: core::future::Future + Send>(_: &F) {}
    let layer = AuthLayer::new(Arc::new(Keyring::new()), Profile::Rest);
    send_sync(&layer);
    let mut service = layer.layer(counting(Arc::new(AtomicUsize::new(0))));
    send_sync(&service);
    let future = service.call(Request::new(Full::new(Bytes::new())));
    send_future(&future);
    // Debug never shows a token (there is none to show) and names the rules.
    let debug = format!("{layer:?}");
    assert!(debug.contains("Rest"), "{debug}");
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_extractor_rejects_like_the_layer() {
    use axum_core::extract::FromRequestParts;
    use axum_core::response::IntoResponse;
    use whatsgate_auth_tower::{AuthRejection, Authenticated};

    let layer = AuthLayer::new(Arc::new(Keyring::new()), Profile::Rest);
    for profile in [Profile::Rest, Profile::Mcp] {
        for failure in [Failure::Missing, Failure::Invalid, Failure::Unavailable] {
            let rejection = profile.reject(failure);
            let from_layer = layer.rejection_response::<Full<Bytes>>(rejection);
            let from_extractor = AuthRejection(rejection).into_response();
            assert_eq!(from_extractor.status(), from_layer.status());
            assert_eq!(from_extractor.headers(), from_layer.headers());
            let body = from_extractor
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes();
            assert_eq!(body, rejection.body().as_bytes());
        }
    }

    let (mut parts, ()) = Request::new(()).into_parts();
    let missing = Authenticated::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        AuthRejection(Profile::Rest.reject(Failure::Missing))
    );
    let optional: Option<Authenticated> =
        Option::<Authenticated>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
    assert!(optional.is_none());

    let (keyring, token, record) = keyring_with_token();
    let principal = keyring
        .verify(token.expose_secret().as_bytes(), Timestamp::now())
        .unwrap();
    parts.extensions.insert(principal);
    let Authenticated(found) = Authenticated::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    assert_eq!(found.token_id(), record.id);
}

/// Arbitrary bytes (every value `http` can hold: obs-text, tabs, any
/// visible byte), one or more headers, both profiles: never a panic, never
/// the inner service, always the profile's status. A fixed-seed xorshift
/// keeps it reproducible without another dependency.
#[tokio::test]
async fn arbitrary_header_bytes_are_refused_without_panic() {
    let (keyring, token, _) = keyring_with_token();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = AuthLayer::builder(keyring)
        .guard("/api", Profile::Rest)
        .guard("/mcp", Profile::Mcp)
        .build()
        .unwrap()
        .layer(counting(Arc::clone(&calls)));
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let t = token.expose_secret().as_bytes();
    let mut accepted = 0;
    for round in 0..4000 {
        // Start from the real token, a bearer value or nothing, then mutate
        // (zero to three edits: some values stay valid).
        let mut value = match next() % 3 {
            0 => t.to_vec(),
            1 => [b"Bearer ", t].concat(),
            _ => Vec::new(),
        };
        let edits = next() % 4;
        for _ in 0..edits {
            let byte = match next() % 4 {
                0 => 0x80 | (next() as u8 & 0x7f),
                1 => b'\t',
                _ => 0x20 + (next() % 0x5f) as u8,
            };
            let at = (next() as usize) % (value.len() + 1);
            if next() % 2 == 0 && at < value.len() {
                value[at] = byte;
            } else {
                value.insert(at, byte);
            }
        }
        let Ok(header) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        let (path, name, status) = if round % 2 == 0 {
            ("/api", "access-token", StatusCode::FORBIDDEN)
        } else {
            ("/mcp", "authorization", StatusCode::UNAUTHORIZED)
        };
        let copies = 1 + (next() % 2) as usize;
        let headers: Vec<(&str, &[u8])> = vec![(name, header.as_bytes()); copies];
        let before = calls.load(Ordering::SeqCst);
        let (got, _, _) = send(&service, path, &headers).await;
        let reached = calls.load(Ordering::SeqCst) > before;
        // A mutation can leave the token intact (a tab or space at an end,
        // or another spacing after "Bearer"): then, and only then, 200.
        assert_eq!(got == StatusCode::OK, reached, "{value:?}");
        assert!(got == status || got == StatusCode::OK, "{value:?}: {got}");
        if copies > 1 || value.iter().any(|b| *b >= 0x80) {
            assert_eq!(got, status, "{value:?}");
        }
        accepted += usize::from(reached);
    }
    // Both outcomes happened, so neither assertion above was idle.
    assert!(accepted > 10 && accepted < 2000, "{accepted} accepted");
}
