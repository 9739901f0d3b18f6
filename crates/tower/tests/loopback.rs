//! A real axum app behind the layer, served on 127.0.0.1 (port 0) and called
//! with a real HTTP client (hyper-util): every row of the HTTP profiles of
//! DESIGN.md, revocation on the next request, and bytes that HTTP itself
//! refuses sent over a raw socket.
#![cfg(feature = "axum")]
// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use whatsgate_auth::{
    AccountId, Keyring, NewToken, OsRng, Scopes, Timestamp, Token, TokenName, TokenRecord,
};
use whatsgate_auth_tower::{AuthLayer, Authenticated, Profile, ScopeRejection};

const REST_MISSING: &str = r#"{"message": "an Access-Token is required"}"#;
const REST_INVALID: &str = r#"{"message": "invalid Access-Token"}"#;
const MCP_MISSING: &str = r#"{"message": "a Bearer token is required"}"#;
const MCP_INVALID: &str = r#"{"message": "invalid Bearer token"}"#;
const CHALLENGE_MISSING: &str = r#"Bearer realm="whatsgate""#;
const CHALLENGE_INVALID: &str = r#"Bearer realm="whatsgate", error="invalid_token""#;

async fn whoami(Authenticated(principal): Authenticated) -> String {
    format!(
        "{}|{}|{}",
        principal.account(),
        principal.token_id(),
        principal.token_name()
    )
}

/// Checks its own scope, as a handler that decides what it needs.
async fn reader(auth: Authenticated) -> Result<String, ScopeRejection> {
    auth.require("messages:read")?;
    Ok(whoami(auth).await)
}

async fn maybe(principal: Option<Authenticated>) -> String {
    principal.map_or_else(|| "anonymous".to_owned(), |p| p.account().to_owned())
}

/// Whether every value of both token headers reached the handler marked
/// sensitive (so `Debug`, `tracing` and `tower-http` print `Sensitive`).
async fn sensitive(headers: HeaderMap) -> String {
    let values: Vec<&HeaderValue> = headers
        .get_all("access-token")
        .iter()
        .chain(headers.get_all("authorization"))
        .collect();
    let debug = format!("{headers:?}");
    format!(
        "{} {} {}",
        values.len(),
        values.iter().all(|v| v.is_sensitive()),
        debug.contains("wgat_")
    )
}

struct Server {
    addr: SocketAddr,
    keyring: Arc<Keyring>,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Server {
    async fn start() -> Self {
        let keyring = Arc::new(Keyring::new());
        let layer = AuthLayer::builder(Arc::clone(&keyring))
            .guard("/api", Profile::Rest)
            .guard("/mcp", Profile::Mcp)
            .public("/api/public")
            .require_scope("/api/scoped", "messages:send")
            .require_scope("/mcp/scoped", "messages:send")
            .build()
            .unwrap();
        let app = Router::new()
            .route("/api/me", get(whoami))
            .route("/api/sensitive", get(sensitive))
            .route("/api/public", get(maybe))
            .route("/mcp", get(whoami))
            .route("/mcp/sensitive", get(sensitive))
            .route("/api/scoped", get(whoami))
            .route("/mcp/scoped", get(whoami))
            .route("/api/reader", get(reader))
            .route("/mcp/reader", get(reader))
            .route("/health", get(|| async { "ok" }))
            .route("/unguarded/me", get(whoami))
            .route("/unguarded/sensitive", get(sensitive))
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            addr,
            keyring,
            client,
        }
    }

    fn issue(&self, account: &str, name: &str) -> (Token, TokenRecord) {
        self.keyring
            .create(
                &mut OsRng,
                AccountId::new(account).unwrap(),
                TokenName::new(name).unwrap(),
                Timestamp::now(),
            )
            .unwrap()
    }

    fn issue_scoped(&self, name: &str, scopes: &[&str]) -> (Token, TokenRecord) {
        let mut spec = NewToken::new(
            AccountId::new("acct_scoped").unwrap(),
            TokenName::new(name).unwrap(),
        );
        spec.scopes = Scopes::only(scopes).unwrap();
        self.keyring
            .create_from(&mut OsRng, spec, Timestamp::now())
            .unwrap()
    }

    async fn get(&self, path: &str, headers: &[(&str, &[u8])]) -> Reply {
        let mut request = Request::get(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// Sends raw bytes over a fresh connection and returns the status code.
    async fn raw(&self, request: &[u8]) -> u16 {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut response = Vec::new();
        let mut buf = [0u8; 1024];
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&response);
        line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

#[track_caller]
fn assert_rejected(reply: &Reply, status: u16, body: &str, challenge: Option<&str>, case: &str) {
    assert_eq!(reply.status.as_u16(), status, "{case}: status");
    assert_eq!(reply.body, body, "{case}: body");
    assert_eq!(
        reply.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "{case}: content-type"
    );
    let challenges: Vec<&[u8]> = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let wanted: Vec<&[u8]> = challenge.iter().map(|c| c.as_bytes()).collect();
    assert_eq!(challenges, wanted, "{case}: www-authenticate");
}

#[track_caller]
fn assert_ok(reply: &Reply, record: &TokenRecord, case: &str) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{case}: status ({})",
        reply.body
    );
    assert_eq!(
        reply.body,
        format!("{}|{}|{}", record.account, record.id, record.name.as_str()),
        "{case}: principal"
    );
    assert!(reply.headers.get("www-authenticate").is_none(), "{case}");
}

#[tokio::test]
async fn rest_profile_rows() {
    let server = Server::start().await;
    let (token, record) = server.issue("acct_42", "Production API");
    let (other_token, other) = server.issue("acct_7", "Testing");
    let t = token.expose_secret().as_bytes();
    let me = "/api/me";

    assert_ok(
        &server.get(me, &[("Access-Token", t)]).await,
        &record,
        "valid",
    );
    assert_ok(
        &server
            .get(
                me,
                &[("Access-Token", other_token.expose_secret().as_bytes())],
            )
            .await,
        &other,
        "token of another account",
    );
    assert_ok(
        &server.get(me, &[("aCCESS-tOKEN", t)]).await,
        &record,
        "header name case",
    );
    let padded = [b" \t  ", t, b"\t "].concat();
    assert_ok(
        &server.get(me, &[("Access-Token", &padded)]).await,
        &record,
        "spaces and tabs",
    );

    let missing = |reply: &Reply, case: &str| assert_rejected(reply, 403, REST_MISSING, None, case);
    let invalid = |reply: &Reply, case: &str| assert_rejected(reply, 403, REST_INVALID, None, case);

    missing(&server.get(me, &[]).await, "no header");
    missing(
        &server.get(me, &[("Access-Token", b"")]).await,
        "empty value",
    );
    missing(
        &server.get(me, &[("Access-Token", b" \t ")]).await,
        "only whitespace",
    );
    let bearer = [b"Bearer ", t].concat();
    missing(
        &server.get(me, &[("Authorization", &bearer)]).await,
        "the MCP header on a REST path",
    );

    invalid(
        &server
            .get(me, &[("Access-Token", t), ("Access-Token", t)])
            .await,
        "two headers, same token",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", t), ("access-token", b"")])
            .await,
        "two headers, one empty",
    );
    invalid(
        &server.get(me, &[("Access-Token", b"not-a-token")]).await,
        "garbage",
    );
    invalid(
        &server.get(me, &[("Access-Token", b"wgat_")]).await,
        "prefix only",
    );
    invalid(
        &server.get(me, &[("Access-Token", &bearer)]).await,
        "Bearer scheme",
    );
    invalid(
        &server.get(me, &[("Access-Token", &t[..t.len() - 1])]).await,
        "truncated",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", &[t, b"x"].concat())])
            .await,
        "trailing garbage",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", &[t, b" x"].concat())])
            .await,
        "token, space, garbage",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", &t.to_ascii_uppercase())])
            .await,
        "upper case (bad checksum)",
    );
    let mut flipped = t.to_vec();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    invalid(
        &server.get(me, &[("Access-Token", &flipped)]).await,
        "bad checksum",
    );
    // Non-ASCII: UTF-8 and a lone obs-text byte reach the server as bytes.
    let mut utf8 = t.to_vec();
    utf8.splice(10..11, "é".bytes());
    invalid(
        &server.get(me, &[("Access-Token", &utf8)]).await,
        "UTF-8 inside",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", &[t, b"\x80"].concat())])
            .await,
        "obs-text after",
    );
    invalid(
        &server.get(me, &[("Access-Token", &[0xff; 40])]).await,
        "only obs-text",
    );
    let mut outside = t.to_vec();
    outside[12] = b'.';
    invalid(
        &server.get(me, &[("Access-Token", &outside)]).await,
        "outside the alphabet",
    );
    // Over HTTP/1 the server's parser strips surrounding whitespace before
    // any layer sees the value (it is not part of the field value, RFC 9110
    // §5.5); the core's limit counts the stripped value too, so a token
    // padded past 4096 bytes is the token here as in process, and spaces
    // inside the value still count.
    let padded = [vec![b' '; 4097 - t.len()], t.to_vec()].concat();
    assert_ok(
        &server.get(me, &[("Access-Token", &padded)]).await,
        &record,
        "padded past 4096",
    );
    let trailing = [t.to_vec(), vec![b' '; 4100]].concat();
    assert_ok(
        &server.get(me, &[("Access-Token", &trailing)]).await,
        &record,
        "4100 spaces after",
    );
    invalid(
        &server
            .get(
                me,
                &[("Access-Token", &[&[b'a'; 4097][..], &[b' '; 100]].concat())],
            )
            .await,
        "4097 bytes, then spaces",
    );
    invalid(
        &server
            .get(me, &[("Access-Token", &vec![b'a'; 64 * 1024])])
            .await,
        "64 KiB",
    );

    // Unknown id (a token of another keyring), wrong secret.
    let stranger = Keyring::new()
        .create(
            &mut OsRng,
            AccountId::new("acct_42").unwrap(),
            TokenName::new("Production API").unwrap(),
            Timestamp::now(),
        )
        .unwrap()
        .0;
    invalid(
        &server
            .get(me, &[("Access-Token", stranger.expose_secret().as_bytes())])
            .await,
        "unknown id",
    );

    // Public and unguarded paths pass through without a token.
    let health = server.get("/health", &[]).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );
    let public = server.get("/api/public", &[]).await;
    assert_eq!(
        (public.status, public.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    // Exempt means not authenticated, even with a valid token.
    let public = server.get("/api/public", &[("Access-Token", t)]).await;
    assert_eq!(
        (public.status, public.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    // Without the layer's principal the extractor answers like the layer.
    missing(
        &server.get("/unguarded/me", &[]).await,
        "extractor, no layer rule",
    );
    missing(
        &server.get("/unguarded/me", &[("Access-Token", t)]).await,
        "extractor, token on an unguarded path",
    );
    // A guarded prefix covers whole segments only.
    assert_eq!(server.get("/apis", &[]).await.status, StatusCode::NOT_FOUND);
    missing(&server.get("/api", &[]).await, "the prefix itself");
    missing(&server.get("/api/", &[]).await, "the prefix and a slash");
    missing(
        &server.get("/api/nowhere", &[]).await,
        "below the prefix, no route",
    );
}

#[tokio::test]
async fn mcp_profile_rows() {
    let server = Server::start().await;
    let (token, record) = server.issue("acct_42", "Claude");
    let t = token.expose_secret();
    let mcp = "/mcp";
    let bearer = |scheme: &str, sep: &str| format!("{scheme}{sep}{t}").into_bytes();

    for (scheme, sep, case) in [
        ("Bearer", " ", "Bearer"),
        ("bearer", " ", "scheme lower case"),
        ("BEARER", " ", "scheme upper case"),
        ("bEaReR", " ", "scheme mixed case"),
        ("Bearer", "    ", "several spaces"),
    ] {
        let value = bearer(scheme, sep);
        assert_ok(
            &server.get(mcp, &[("Authorization", &value)]).await,
            &record,
            case,
        );
    }
    let padded = [b" \t".as_slice(), &bearer("Bearer", " "), b" \t"].concat();
    assert_ok(
        &server.get(mcp, &[("authorization", &padded)]).await,
        &record,
        "surrounding",
    );

    let missing = |reply: &Reply, case: &str| {
        assert_rejected(reply, 401, MCP_MISSING, Some(CHALLENGE_MISSING), case)
    };
    let invalid = |reply: &Reply, case: &str| {
        assert_rejected(reply, 401, MCP_INVALID, Some(CHALLENGE_INVALID), case)
    };

    missing(&server.get(mcp, &[]).await, "no header");
    missing(
        &server.get(mcp, &[("Authorization", b"")]).await,
        "empty value",
    );
    missing(
        &server.get(mcp, &[("Authorization", b"   ")]).await,
        "only spaces",
    );
    missing(
        &server
            .get(mcp, &[("Authorization", b"Basic dXNlcjpwYXNzd29yZA==")])
            .await,
        "Basic scheme",
    );
    missing(
        &server.get(mcp, &[("Authorization", t.as_bytes())]).await,
        "no scheme",
    );
    missing(
        &server
            .get(mcp, &[("Authorization", &bearer("Bearer", ""))])
            .await,
        "scheme run into the token",
    );
    missing(
        &server.get(mcp, &[("Access-Token", t.as_bytes())]).await,
        "the REST header on the MCP path",
    );

    invalid(
        &server.get(mcp, &[("Authorization", b"Bearer")]).await,
        "Bearer alone",
    );
    invalid(
        &server.get(mcp, &[("Authorization", b"Bearer   ")]).await,
        "Bearer and spaces",
    );
    invalid(
        &server
            .get(mcp, &[("Authorization", &bearer("Bearer", "\t"))])
            .await,
        "tab after the scheme",
    );
    let value = bearer("Bearer", " ");
    invalid(
        &server
            .get(mcp, &[("Authorization", &value), ("Authorization", &value)])
            .await,
        "two Authorization headers",
    );
    invalid(
        &server
            .get(
                mcp,
                &[
                    ("Authorization", b"Basic dXNlcjpwYXNzd29yZA=="),
                    ("Authorization", &value),
                ],
            )
            .await,
        "Basic and Bearer headers",
    );
    invalid(
        &server.get(mcp, &[("Authorization", b"Bearer wgat_")]).await,
        "prefix only",
    );
    let mut obs = value.clone();
    obs[20] = 0x80;
    invalid(
        &server.get(mcp, &[("Authorization", &obs)]).await,
        "obs-text inside",
    );
    let mut utf8 = value.clone();
    utf8.splice(20..21, "ü".bytes());
    invalid(
        &server.get(mcp, &[("Authorization", &utf8)]).await,
        "UTF-8 inside",
    );
    let long = [b"Bearer ".as_slice(), &vec![b'a'; 64 * 1024]].concat();
    invalid(
        &server.get(mcp, &[("Authorization", &long)]).await,
        "64 KiB",
    );

    server.keyring.delete(record.id).unwrap();
    invalid(
        &server.get(mcp, &[("Authorization", &value)]).await,
        "deleted token",
    );
}

#[tokio::test]
async fn a_deleted_or_regenerated_token_is_refused_on_the_next_request() {
    let server = Server::start().await;
    let (token, record) = server.issue("acct_42", "Production API");
    let t = token.expose_secret().as_bytes();
    let me = "/api/me";
    assert_ok(
        &server.get(me, &[("Access-Token", t)]).await,
        &record,
        "before delete",
    );
    server.keyring.delete(record.id).unwrap();
    assert_rejected(
        &server.get(me, &[("Access-Token", t)]).await,
        403,
        REST_INVALID,
        None,
        "after delete",
    );

    // Regenerate without grace: the old secret is refused at once, the new one works.
    let (old, record) = server.issue("acct_42", "Testing");
    let (new, renewed) = server
        .keyring
        .regenerate(&mut OsRng, record.id, Timestamp::now(), None)
        .unwrap();
    assert_rejected(
        &server
            .get(me, &[("Access-Token", old.expose_secret().as_bytes())])
            .await,
        403,
        REST_INVALID,
        None,
        "regenerated",
    );
    assert_ok(
        &server
            .get(me, &[("Access-Token", new.expose_secret().as_bytes())])
            .await,
        &renewed,
        "new secret",
    );

    // With a grace period both work until it ends.
    let (newer, renewed) = server
        .keyring
        .regenerate(
            &mut OsRng,
            record.id,
            Timestamp::now(),
            Some(Timestamp::now().plus_secs(3600)),
        )
        .unwrap();
    for (token, case) in [(&new, "old during grace"), (&newer, "new during grace")] {
        assert_ok(
            &server
                .get(me, &[("Access-Token", token.expose_secret().as_bytes())])
                .await,
            &renewed,
            case,
        );
    }
}

#[tokio::test]
async fn token_headers_reach_handlers_marked_sensitive() {
    let server = Server::start().await;
    let (token, _) = server.issue("acct_42", "Production API");
    let t = token.expose_secret().as_bytes();
    let bearer = [b"Bearer ", t].concat();
    let both: [(&str, &[u8]); 2] = [("Access-Token", t), ("Authorization", &bearer)];
    // Guarded REST path: the Access-Token authenticates, the Authorization
    // header rides along; both are sensitive and Debug shows neither.
    let reply = server.get("/api/sensitive", &both).await;
    assert_eq!(reply.body, "2 true false");
    let reply = server.get("/mcp/sensitive", &both).await;
    assert_eq!(reply.body, "2 true false");
    // Unguarded paths too.
    let reply = server.get("/unguarded/sensitive", &both).await;
    assert_eq!(reply.body, "2 true false");
}

#[tokio::test]
async fn bytes_http_refuses_never_reach_a_handler() {
    let server = Server::start().await;
    let (token, _) = server.issue("acct_42", "Production API");
    let t = token.expose_secret();
    // Positive control: the raw client does reach the handler.
    let good = format!(
        "GET /api/me HTTP/1.1\r\nHost: x\r\nAccess-Token: {t}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(server.raw(good.as_bytes()).await, 200);
    let missing = "GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(server.raw(missing.as_bytes()).await, 403);
    let (head, tail) = t.split_at(20);
    for (value, case) in [
        (format!("{head}\0{tail}"), "NUL inside"),
        (format!("{t}\0"), "NUL after"),
        (format!("{head}\r{tail}"), "bare CR inside"),
        ("\0".to_owned(), "only NUL"),
    ] {
        let request = format!(
            "GET /api/me HTTP/1.1\r\nHost: x\r\nAccess-Token: {value}\r\nConnection: close\r\n\r\n"
        );
        let status = server.raw(request.as_bytes()).await;
        assert_eq!(
            status, 400,
            "{case}: the server refuses it before any layer"
        );
    }
    // LF inside ends the header line; the rest is a malformed line.
    let request = format!(
        "GET /api/me HTTP/1.1\r\nHost: x\r\nAccess-Token: {head}\n{tail}\r\nConnection: close\r\n\r\n"
    );
    let status = server.raw(request.as_bytes()).await;
    assert_eq!(status, 400, "LF inside");
}

/// Scope rules and `Authenticated::require` over real HTTP: the exact 403
/// in both profiles (the `mcp` challenge also when a handler refuses), and
/// the tokens that hold the scope let through.
#[tokio::test]
async fn scope_rows() {
    let server = Server::start().await;
    let (sender, sender_record) = server.issue_scoped("Sender", &["messages:send"]);
    let (reader, reader_record) = server.issue_scoped("Reader", &["messages:read"]);
    let (all, all_record) = server.issue_scoped("All messages", &["messages:*"]);
    let (full, full_record) = server.issue("acct_scoped", "Full");
    let header = |profile: Profile, token: &Token| match profile {
        Profile::Rest => ("access-token", token.expose_secret().as_bytes().to_vec()),
        Profile::Mcp => (
            "authorization",
            format!("Bearer {}", token.expose_secret()).into_bytes(),
        ),
    };
    for (profile, base) in [(Profile::Rest, "/api"), (Profile::Mcp, "/mcp")] {
        // (path, token, its record, the scope it lacks)
        for (path, token, record, lacks) in [
            ("scoped", &sender, &sender_record, None),
            ("scoped", &reader, &reader_record, Some("messages:send")),
            ("scoped", &all, &all_record, None),
            ("scoped", &full, &full_record, None),
            ("reader", &reader, &reader_record, None),
            ("reader", &sender, &sender_record, Some("messages:read")),
            ("reader", &all, &all_record, None),
            ("reader", &full, &full_record, None),
        ] {
            let path = format!("{base}/{path}");
            let case = format!("{path} as {}", record.name.as_str());
            let (name, value) = header(profile, token);
            let reply = server.get(&path, &[(name, &value)]).await;
            match lacks {
                None => assert_ok(&reply, record, &case),
                Some(scope) => {
                    let body = format!(r#"{{"message": "the token lacks the scope {scope}"}}"#);
                    let challenge = format!(
                        r#"Bearer realm="whatsgate", error="insufficient_scope", scope="{scope}""#
                    );
                    let challenge = (profile == Profile::Mcp).then_some(challenge.as_str());
                    assert_rejected(&reply, 403, &body, challenge, &case);
                }
            }
        }
    }
}
