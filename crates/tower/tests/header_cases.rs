//! Every case of `testdata/header-cases.json` through the layer, in process:
//! exact status, body, `Content-Type` and `WWW-Authenticate`, and on success
//! the principal handed to the inner service. A case's `required_scope`
//! becomes a scope rule on the route it requests.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use whatsgate_auth::{Principal, Profile, Scope};
use whatsgate_auth_test_support::{Expect, ExpectedPrincipal, HeaderCase, HeaderCorpus};
use whatsgate_auth_tower::{AuthLayer, AuthLayerBuilder};

/// The route every case requests.
const ROUTE: &str = "/v1/devices";

/// The inner service: answers 200 with the principal it was given as JSON.
async fn echo(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let principal = request.extensions().get::<Principal>().map(|p| {
        serde_json::json!({
            "account": p.account(),
            "token_id": p.token_id().to_string(),
            "token_name": p.token_name(),
            "scopes": p.scopes().list().map(|l| l.iter().map(Scope::as_str).collect::<Vec<_>>()),
        })
    });
    let body = serde_json::to_vec(&principal).unwrap();
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// The request of a case; `None` when `http` cannot hold one of its values.
fn request(case: &HeaderCase) -> Option<Request<Full<Bytes>>> {
    let mut request = Request::get(ROUTE);
    for (header, bytes) in &case.headers {
        let header = HeaderName::from_bytes(header.as_bytes()).unwrap();
        request = request.header(header, HeaderValue::from_bytes(bytes).ok()?);
    }
    Some(request.body(Full::new(Bytes::new())).unwrap())
}

/// A layer guarding `/` with `profile` at the corpus's instant.
fn builder(corpus: &HeaderCorpus, profile: Profile) -> AuthLayerBuilder {
    let now = corpus.now;
    AuthLayer::builder(Arc::new(corpus.keyring()))
        .guard("/", profile)
        .clock(move || now)
}

#[tokio::test]
async fn every_header_case_gives_the_exact_answer() {
    let corpus = HeaderCorpus::load();
    let now = corpus.now;
    let keyring = Arc::new(corpus.keyring());
    let mut ran = 0;
    let mut unrepresentable = 0;
    let mut scoped = 0;
    for profile in [Profile::Rest, Profile::Mcp] {
        let layer = AuthLayer::builder(Arc::clone(&keyring))
            .guard("/", profile)
            .clock(move || now)
            .build()
            .unwrap();
        for case in &corpus.cases {
            if case.profile != profile {
                continue;
            }
            let name = &case.name;
            // The route needs the case's scope: a rule on it (and, for
            // contrast, an unrelated rule elsewhere that must not apply).
            let service = match &case.required_scope {
                None => layer.clone().layer(service_fn(echo)),
                Some(scope) => {
                    scoped += 1;
                    builder(&corpus, profile)
                        .require_scope(ROUTE, scope)
                        .require_scope("/v2", "nothing:granted")
                        .build()
                        .unwrap()
                        .layer(service_fn(echo))
                }
            };
            let Some(request) = request(case) else {
                // NUL, CR or LF: no `http::HeaderMap` can hold it, and an HTTP/1
                // server refuses the request (400) before any layer runs. The
                // corpus must call such a value invalid; the loopback test sends
                // these bytes raw and checks the server never answers 2xx/5xx.
                assert_eq!(case.expect, Expect::Invalid, "{name}");
                unrepresentable += 1;
                continue;
            };
            let response = service.oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(status.as_u16(), case.status, "{name}");
            let challenge = headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                challenge.as_deref(),
                case.www_authenticate.as_deref(),
                "{name}"
            );
            assert!(
                headers.get_all("www-authenticate").iter().count() <= 1,
                "{name}"
            );
            if case.expect == Expect::Ok {
                assert_eq!(status, StatusCode::OK, "{name}");
                let principal: ExpectedPrincipal = serde_json::from_slice(&body).unwrap();
                assert_eq!(Some(principal), case.principal, "{name}");
            } else {
                assert_eq!(headers["content-type"], "application/json", "{name}");
                assert_eq!(body, case.body.as_deref().unwrap().as_bytes(), "{name}");
            }
            ran += 1;
        }
    }
    let total = corpus.cases.len();
    assert_eq!(ran + unrepresentable, total);
    assert!(ran >= 60, "only {ran} cases ran");
    assert!(scoped >= 10, "only {scoped} cases need a scope");
    eprintln!(
        "{ran} cases through the layer ({scoped} with a scope rule), \
         {unrepresentable} not representable in http"
    );
}

/// The positive control of the scope cases: without the rule, every
/// `insufficient_scope` case is let through as its token's principal, so
/// the 403s above come from the rule and the test could fail.
#[tokio::test]
async fn without_the_rule_the_scoped_out_tokens_get_through() {
    let corpus = HeaderCorpus::load();
    let mut checked = 0;
    for case in &corpus.cases {
        if case.expect != Expect::InsufficientScope {
            continue;
        }
        let name = &case.name;
        let service = builder(&corpus, case.profile)
            .build()
            .unwrap()
            .layer(service_fn(echo));
        let response = service.oneshot(request(case).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let principal: ExpectedPrincipal = serde_json::from_slice(&body).unwrap();
        assert_eq!(Some(&principal), case.principal.as_ref(), "{name}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} insufficient_scope cases");
}
