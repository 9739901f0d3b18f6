//! Every case of `testdata/header-cases.json` through the layer, in process:
//! exact status, body, `Content-Type` and `WWW-Authenticate`, and on success
//! the principal handed to the inner service.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use whatsgate_auth::{Principal, Profile};
use whatsgate_auth_test_support::{Expect, ExpectedPrincipal, HeaderCorpus};
use whatsgate_auth_tower::AuthLayer;

/// The inner service: answers 200 with the principal it was given as JSON.
async fn echo(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let principal = request.extensions().get::<Principal>().map(|p| {
        serde_json::json!({
            "account": p.account(),
            "token_id": p.token_id().to_string(),
            "token_name": p.token_name(),
        })
    });
    let body = serde_json::to_vec(&principal).unwrap();
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::test]
async fn every_header_case_gives_the_exact_answer() {
    let corpus = HeaderCorpus::load();
    let now = corpus.now;
    let keyring = Arc::new(corpus.keyring());
    let mut ran = 0;
    let mut unrepresentable = 0;
    for profile in [Profile::Rest, Profile::Mcp] {
        let layer = AuthLayer::builder(Arc::clone(&keyring))
            .guard("/", profile)
            .clock(move || now)
            .build()
            .unwrap();
        let service = layer.layer(service_fn(echo));
        for case in &corpus.cases {
            if case.profile != profile {
                continue;
            }
            let name = &case.name;
            let mut request = Request::get("/v1/devices");
            let mut representable = true;
            for (header, bytes) in &case.headers {
                let header = HeaderName::from_bytes(header.as_bytes()).unwrap();
                match HeaderValue::from_bytes(bytes) {
                    Ok(value) => request = request.header(header, value),
                    Err(_) => representable = false,
                }
            }
            if !representable {
                // NUL, CR or LF: no `http::HeaderMap` can hold it, and an HTTP/1
                // server refuses the request (400) before any layer runs. The
                // corpus must call such a value invalid; the loopback test sends
                // these bytes raw and checks the server never answers 2xx/5xx.
                assert_eq!(case.expect, Expect::Invalid, "{name}");
                unrepresentable += 1;
                continue;
            }
            let request = request.body(Full::new(Bytes::new())).unwrap();
            let response = service.clone().oneshot(request).await.unwrap();
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
    eprintln!("{ran} cases through the layer, {unrepresentable} not representable in http");
}
