//! Scope rules in process: what `build()` refuses, which rules apply to a
//! request (method, nested prefixes, public holes), the exact 403 in both
//! profiles, and, with the `axum` feature, `Authenticated::require`.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt, service_fn};
use whatsgate_auth::{
    AccountId, Keyring, NewToken, OsRng, Principal, Profile, Scope, ScopeError, Scopes, Timestamp,
    Token, TokenName,
};
use whatsgate_auth_tower::{AuthBody, AuthLayer, AuthLayerBuilder, ConfigError};

const METADATA: &str = "https://api.example/.well-known/oauth-protected-resource";

/// A keyring with one full-access token and one per scope list given.
struct Tokens {
    keyring: Arc<Keyring>,
    full: Token,
    scoped: Vec<Token>,
}

fn tokens(scoped: &[&[&str]]) -> Tokens {
    let keyring = Arc::new(Keyring::new());
    let account = AccountId::new("acct_42").unwrap();
    let create = |name: &str, scopes: Scopes| {
        let mut spec = NewToken::new(account.clone(), TokenName::new(name).unwrap());
        spec.scopes = scopes;
        keyring
            .create_from(&mut OsRng, spec, Timestamp::now())
            .unwrap()
            .0
    };
    let full = create("Full", Scopes::FULL);
    let scoped = scoped
        .iter()
        .enumerate()
        .map(|(i, names)| create(&format!("Scoped {i}"), Scopes::only(*names).unwrap()))
        .collect();
    Tokens {
        keyring,
        full,
        scoped,
    }
}

fn builder() -> AuthLayerBuilder {
    AuthLayer::builder(Arc::new(Keyring::new()))
}

#[test]
fn build_refuses_bad_scope_rules() {
    // A name that is not resource:action.
    for bad in [
        "",
        "messages",
        "Messages:send",
        "messages:send ",
        "*:*",
        "a:b:c",
    ] {
        let built = builder()
            .guard("/", Profile::Rest)
            .require_scope("/api", bad)
            .build();
        assert_eq!(
            built.unwrap_err(),
            ConfigError::InvalidScope(ScopeError::BadName(bad.to_owned())),
            "{bad:?}"
        );
    }
    // A prefix that is not one.
    let built = builder()
        .guard("/", Profile::Rest)
        .require_scope_for("api", Method::POST, "messages:send")
        .build();
    assert_eq!(
        built.unwrap_err(),
        ConfigError::InvalidPrefix("api".to_owned())
    );
    // Where no token is checked: public, inside a public prefix, outside
    // every guard, or a prefix wider than the guard.
    for (guard, public, rule) in [
        ("/", Some("/health"), "/health"),
        ("/", Some("/health"), "/health/live/"),
        ("/api", None, "/other"),
        ("/api", None, "/"),
        ("/api", None, "/apis"),
    ] {
        let mut b = builder().guard(guard, Profile::Rest);
        if let Some(public) = public {
            b = b.public(public);
        }
        let built = b.require_scope(rule, "messages:read").build();
        assert_eq!(
            built.unwrap_err(),
            ConfigError::ScopeOnUnguarded(rule.to_owned()),
            "guard {guard}, rule {rule}"
        );
    }
    // Their positive controls: the same rules under a guard are accepted.
    for rule in ["/api", "/api/", "/api/messages"] {
        let built = builder()
            .guard("/api", Profile::Rest)
            .require_scope(rule, "messages:read")
            .require_scope_for(rule, Method::DELETE, "messages:*")
            .build();
        assert!(built.is_ok(), "{rule}");
    }
    // Every error says what to do.
    let message = ConfigError::ScopeOnUnguarded("/health".into()).to_string();
    assert!(
        message.contains("\"/health\"") && message.contains("guard"),
        "{message}"
    );
    let message = ConfigError::InvalidScope(ScopeError::BadName("x".into())).to_string();
    assert!(message.contains("resource:action"), "{message}");
}

/// Counts its calls and answers 200.
fn counting(
    calls: &Arc<AtomicUsize>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
> + Clone {
    let calls = Arc::clone(calls);
    service_fn(move |request: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        assert!(request.extensions().get::<Principal>().is_some());
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
    })
}

type Reply = (StatusCode, HeaderMap, Bytes);

async fn send<S>(service: &S, method: Method, path: &str, profile: Profile, token: &Token) -> Reply
where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<AuthBody<Full<Bytes>>>,
            Error = Infallible,
        > + Clone,
{
    let secret = token.expose_secret();
    let (name, value) = match profile {
        Profile::Rest => ("access-token", secret.to_owned()),
        Profile::Mcp => ("authorization", format!("Bearer {secret}")),
    };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(name, value)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// The exact denial of `scope` in a profile, written out here rather than
/// taken from the core, so the test also checks the core's bytes.
fn assert_denied(reply: &Reply, profile: Profile, scope: &str, metadata: Option<&str>) {
    let (status, headers, body) = reply;
    assert_eq!(*status, StatusCode::FORBIDDEN, "{scope}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        &body[..],
        format!(r#"{{"message": "the token lacks the scope {scope}"}}"#).as_bytes()
    );
    let challenge = headers.get("www-authenticate").map(|v| v.to_str().unwrap());
    let want = match (profile, metadata) {
        (Profile::Rest, _) => None,
        (Profile::Mcp, None) => Some(format!(
            r#"Bearer realm="whatsgate", error="insufficient_scope", scope="{scope}""#
        )),
        (Profile::Mcp, Some(url)) => Some(format!(
            r#"Bearer realm="whatsgate", error="insufficient_scope", scope="{scope}", resource_metadata="{url}""#
        )),
    };
    assert_eq!(challenge, want.as_deref());
    assert_eq!(
        headers.get_all("www-authenticate").iter().count(),
        usize::from(want.is_some())
    );
}

#[tokio::test]
async fn method_rules_apply_to_their_method_and_get_covers_head() {
    let t = tokens(&[&["messages:read"], &["messages:send"]]);
    let (reader, sender) = (&t.scoped[0], &t.scoped[1]);
    let calls = Arc::new(AtomicUsize::new(0));
    let service = AuthLayer::builder(Arc::clone(&t.keyring))
        .guard("/", Profile::Rest)
        .require_scope_for("/messages", Method::GET, "messages:read")
        .require_scope_for("/messages", Method::POST, "messages:send")
        .build()
        .unwrap()
        .layer(counting(&calls));
    let rest = Profile::Rest;
    for (method, token, allowed) in [
        (Method::GET, reader, true),
        (Method::HEAD, reader, true),
        (Method::POST, reader, false),
        (Method::GET, sender, false),
        (Method::HEAD, sender, false),
        (Method::POST, sender, true),
        // No rule for these methods: a valid token is enough.
        (Method::PUT, reader, true),
        (Method::DELETE, sender, true),
        (Method::OPTIONS, sender, true),
    ] {
        for token in [token, &t.full] {
            let before = calls.load(Ordering::SeqCst);
            let reply = send(&service, method.clone(), "/messages/7", rest, token).await;
            let allowed = allowed || core::ptr::eq(token, &t.full);
            if allowed {
                assert_eq!(reply.0, StatusCode::OK, "{method}");
                assert_eq!(calls.load(Ordering::SeqCst), before + 1, "{method}");
            } else {
                let scope = if method == Method::POST {
                    "messages:send"
                } else {
                    "messages:read"
                };
                assert_denied(&reply, rest, scope, None);
                // Refused before the inner service.
                assert_eq!(calls.load(Ordering::SeqCst), before, "{method}");
            }
        }
    }
    // Other paths need no scope.
    let reply = send(&service, Method::POST, "/devices", rest, reader).await;
    assert_eq!(reply.0, StatusCode::OK);
    let reply = send(&service, Method::POST, "/messagesx", rest, reader).await;
    assert_eq!(reply.0, StatusCode::OK);
}

#[tokio::test]
async fn nested_rules_all_apply_and_the_first_declared_missing_is_named() {
    let t = tokens(&[
        &["api:use"],
        &["messages:send"],
        &["api:use", "messages:send"],
        &["api:*", "messages:*"],
        &[],
    ]);
    let calls = Arc::new(AtomicUsize::new(0));
    let service = AuthLayer::builder(Arc::clone(&t.keyring))
        .guard("/", Profile::Rest)
        .public("/v1/status")
        .require_scope("/v1", "api:use")
        .require_scope("/v1/messages", "messages:send")
        .build()
        .unwrap()
        .layer(counting(&calls));
    let rest = Profile::Rest;
    let s = &t.scoped;
    // (token, path, the scope named, or None when let through)
    for (token, path, denied) in [
        (&s[0], "/v1/devices", None),
        (&s[0], "/v1/messages", Some("messages:send")),
        (&s[1], "/v1/devices", Some("api:use")),
        // Both rules fail: the first declared is named.
        (&s[1], "/v1/messages/9", Some("api:use")),
        (&s[2], "/v1/messages/9", None),
        (&s[3], "/v1/messages/9", None),
        (&s[4], "/v1", Some("api:use")),
        (&s[4], "/v2", None),
        (&t.full, "/v1/messages", None),
    ] {
        let reply = send(&service, Method::POST, path, rest, token).await;
        match denied {
            Some(scope) => assert_denied(&reply, rest, scope, None),
            None => assert_eq!(reply.0, StatusCode::OK, "{path}"),
        }
    }
    // A public hole below a rule stays public: no token, no scope.
    let request = Request::get("/v1/status")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let service = AuthLayer::builder(Arc::clone(&t.keyring))
        .guard("/", Profile::Rest)
        .public("/v1/status")
        .require_scope("/v1", "api:use")
        .build()
        .unwrap()
        .layer(service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_mcp_denial_carries_the_challenge_with_and_without_resource_metadata() {
    let t = tokens(&[&["devices:*"]]);
    let calls = Arc::new(AtomicUsize::new(0));
    for metadata in [None, Some(METADATA)] {
        let mut b = AuthLayer::builder(Arc::clone(&t.keyring))
            .guard("/api", Profile::Rest)
            .guard("/mcp", Profile::Mcp)
            // One rule over both profiles' paths' parent would be refused
            // ("/" is unguarded); one per guarded prefix instead.
            .require_scope("/api", "messages:send")
            .require_scope("/mcp", "messages:send");
        if let Some(url) = metadata {
            b = b.resource_metadata(url);
        }
        let layer = b.build().unwrap();
        let service = layer.clone().layer(counting(&calls));
        let token = &t.scoped[0];
        let reply = send(&service, Method::POST, "/mcp", Profile::Mcp, token).await;
        assert_denied(&reply, Profile::Mcp, "messages:send", metadata);
        let reply = send(&service, Method::POST, "/api/x", Profile::Rest, token).await;
        // REST never has a challenge, resource_metadata or not.
        assert_denied(&reply, Profile::Rest, "messages:send", metadata);
        // The layer's answer for hosts that check scopes themselves is the
        // same bytes.
        let scope = Scope::new("messages:send").unwrap();
        for profile in [Profile::Rest, Profile::Mcp] {
            let response = layer.scope_denial_response::<Full<Bytes>>(profile, &scope);
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            assert_denied(
                &(parts.status, parts.headers, body),
                profile,
                "messages:send",
                metadata,
            );
        }
        // Its positive control: a full-access token passes the same rules.
        let reply = send(&service, Method::POST, "/mcp", Profile::Mcp, &t.full).await;
        assert_eq!(reply.0, StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn the_layer_lists_its_scope_rules_in_debug() {
    let layer = builder()
        .guard("/", Profile::Rest)
        .require_scope_for("/messages", Method::POST, "messages:send")
        .build()
        .unwrap();
    let debug = format!("{layer:?}");
    assert!(
        debug.contains("messages:send") && debug.contains("POST"),
        "{debug}"
    );
}

#[cfg(feature = "axum")]
mod extractor {
    use axum::Router;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use whatsgate_auth_tower::{Authenticated, ScopeRejection};

    use super::*;

    async fn send_handler(auth: Authenticated) -> Result<&'static str, ScopeRejection> {
        auth.require("messages:send")?;
        Ok("sent")
    }

    async fn typo(auth: Authenticated) -> Result<&'static str, ScopeRejection> {
        auth.require("Messages:send")?;
        Ok("sent")
    }

    async fn call(app: &Router, path: &str, profile: Profile, token: &Token) -> Reply {
        let secret = token.expose_secret();
        let (name, value) = match profile {
            Profile::Rest => ("access-token", secret.to_owned()),
            Profile::Mcp => ("authorization", format!("Bearer {secret}")),
        };
        let request = Request::post(path)
            .header(name, value)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    fn app(keyring: &Arc<Keyring>, metadata: Option<&str>) -> Router {
        let mut b = AuthLayer::builder(Arc::clone(keyring))
            .guard("/api", Profile::Rest)
            .guard("/mcp", Profile::Mcp);
        if let Some(url) = metadata {
            b = b.resource_metadata(url);
        }
        Router::new()
            .route("/api/send", post(send_handler))
            .route("/mcp/send", post(send_handler))
            .route("/api/typo", post(typo))
            .layer(b.build().unwrap())
    }

    #[tokio::test]
    async fn require_answers_as_the_layer_does() {
        let t = tokens(&[&["messages:read"], &["messages:*"]]);
        for metadata in [None, Some(METADATA)] {
            let app = app(&t.keyring, metadata);
            for (path, profile) in [("/api/send", Profile::Rest), ("/mcp/send", Profile::Mcp)] {
                let reply = call(&app, path, profile, &t.scoped[0]).await;
                assert_denied(&reply, profile, "messages:send", metadata);
                for token in [&t.scoped[1], &t.full] {
                    let reply = call(&app, path, profile, token).await;
                    assert_eq!(reply.0, StatusCode::OK, "{path}");
                    assert_eq!(&reply.2[..], b"sent");
                    assert!(reply.1.get("www-authenticate").is_none());
                }
            }
        }
    }

    /// The positive control of the test above: the handler's response alone
    /// has no challenge; the layer adds it on an `mcp` path.
    #[tokio::test]
    async fn the_challenge_comes_from_the_layer() {
        let t = tokens(&[&["messages:read"]]);
        let principal = t
            .keyring
            .verify(t.scoped[0].expose_secret().as_bytes(), Timestamp::now())
            .unwrap();
        let rejection = Authenticated(principal)
            .require("messages:send")
            .unwrap_err();
        assert_eq!(rejection.scope().map(Scope::as_str), Some("messages:send"));
        assert_eq!(
            rejection.to_string(),
            "HTTP 403: the token lacks the scope messages:send"
        );
        let response = rejection.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get("www-authenticate").is_none());
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        assert_denied(
            &(parts.status, parts.headers, body),
            Profile::Rest,
            "messages:send",
            None,
        );
    }

    #[tokio::test]
    async fn a_malformed_required_scope_fails_closed_for_every_token() {
        let t = tokens(&[&["messages:*"]]);
        let app = app(&t.keyring, None);
        for token in [&t.full, &t.scoped[0]] {
            let (status, headers, body) = call(&app, "/api/typo", Profile::Rest, token).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(
                &body[..],
                br#"{"message": "the route requires a malformed scope"}"#
            );
        }
        let principal = t
            .keyring
            .verify(t.full.expose_secret().as_bytes(), Timestamp::now())
            .unwrap();
        let rejection = Authenticated(principal)
            .require("Messages:send")
            .unwrap_err();
        assert_eq!(rejection.scope(), None);
        assert!(
            rejection
                .to_string()
                .contains("\"Messages:send\" is not a scope")
        );
    }
}
