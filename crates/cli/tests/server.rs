//! `wgauth serve`, the real binary over loopback: the seed's example, the
//! MCP profile, malformed requests, revocation by another process, last-use
//! batching, the demo and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Env, INVALID, MISSING, SEED_BODY, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// The seed's example through a real HTTP client (hyper), not raw bytes.
fn hyper_post(addr: std::net::SocketAddr, token: Option<&str>) -> (u16, String, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut request = hyper::Request::post("/api/send/text")
            .header("Host", addr.to_string())
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("Access-Token", token);
        }
        let request = request
            .body(Full::new(Bytes::from_static(SEED_BODY.as_bytes())))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    })
}

fn started(env: &Env) -> (Server, String, String) {
    let (token, id) = env.create("acct_42", "Production API");
    (Server::start(&env.db, &[]), token, id)
}

#[test]
fn the_seeds_example_with_a_valid_a_missing_and_a_wrong_token() {
    let env = Env::new();
    let (server, token, id) = started(&env);

    let (status, content_type, body) = hyper_post(server.addr, Some(&token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/json");
    let principal: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(principal["account"], "acct_42");
    assert_eq!(principal["token_id"], id.as_str());
    assert_eq!(principal["token_name"], "Production API");

    let (status, content_type, body) = hyper_post(server.addr, None);
    assert_eq!((status, body.as_str()), (403, MISSING));
    assert_eq!(content_type, "application/json");

    // Wrong in every way that matters: garbage, another token's look-alike,
    // one changed character, a deleted token.
    let mut changed = token.clone().into_bytes();
    changed[30] = if changed[30] == b'x' { b'y' } else { b'x' };
    let changed = String::from_utf8(changed).expect("ascii");
    for wrong in ["wrong", "wgat_", changed.as_str(), &token[..54]] {
        let (status, _, body) = hyper_post(server.addr, Some(wrong));
        assert_eq!((status, body.as_str()), (403, INVALID), "{wrong}");
    }

    // The same through raw bytes, header name in any case.
    let r = server.seed_example(&[format!("access-token: {token}").as_bytes()]);
    assert_eq!(r.status, 200);
    let r = server.seed_example(&[format!("ACCESS-TOKEN:   {token}  ").as_bytes()]);
    assert_eq!(r.status, 200);
    // The REST profile ignores `Authorization`.
    let r = server.seed_example(&[format!("Authorization: Bearer {token}").as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, MISSING));
}

#[test]
fn mcp_paths_take_bearer_tokens() {
    let env = Env::new();
    let (server, token, _) = started(&env);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = server.get(
            "/mcp/whatsgate",
            &[format!("Authorization: {scheme}  {token}").as_bytes()],
        );
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
        assert!(r.body.contains("\"account\":\"acct_42\""));
    }
    let r = server.get("/mcp/whatsgate", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.body, r#"{"message": "a Bearer token is required"}"#);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="whatsgate""#)
    );
    let r = server.get("/mcp/whatsgate", &[b"Authorization: Bearer wgat_nope"]);
    assert_eq!(r.status, 401);
    assert_eq!(r.body, r#"{"message": "invalid Bearer token"}"#);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="whatsgate", error="invalid_token""#)
    );
    // MCP does not read Access-Token.
    let r = server.get(
        "/mcp/whatsgate",
        &[format!("Access-Token: {token}").as_bytes()],
    );
    assert_eq!(r.status, 401);
}

#[test]
fn other_paths_are_404_and_not_guarded_prefixes() {
    let env = Env::new();
    let (server, token, _) = started(&env);
    for path in ["/nope", "/apis", "/health", "/mcpx/y"] {
        let r = server.get(path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        // Every error body has the layer's format: `{"message": "…"}`.
        assert_eq!(
            r.body,
            r#"{"message": "not found: the API is under /api/ and /mcp/"}"#
        );
    }
    let refused = server.get("/api/x", &[]);
    assert_eq!(refused.body, common::MISSING);
    let same_shape = |body: &str| body.starts_with(r#"{"message": ""#) && body.ends_with("\"}");
    assert!(same_shape(&refused.body) && same_shape(&server.get("/nope", &[]).body));
    // /api itself and anything below are guarded.
    for path in ["/api", "/api/", "/api/a/b/c"] {
        assert_eq!(server.get(path, &[]).status, 403, "{path}");
        let header = format!("Access-Token: {token}");
        assert_eq!(server.get(path, &[header.as_bytes()]).status, 200, "{path}");
    }
}

#[test]
fn malformed_requests_get_4xx_never_5xx() {
    let env = Env::new();
    let (server, token, _) = started(&env);
    let good = format!("Access-Token: {token}");

    // Empty (or blank) header: missing.
    for line in [
        &b"Access-Token:"[..],
        b"Access-Token:    ",
        b"Access-Token: \t",
    ] {
        let r = server.seed_example(&[line]);
        assert_eq!((r.status, r.body.as_str()), (403, MISSING), "{line:?}");
    }
    // Two headers, even two good ones, or one good and one empty: invalid.
    let r = server.seed_example(&[good.as_bytes(), good.as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
    let r = server.seed_example(&[good.as_bytes(), b"Access-Token: "]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
    // A comma-joined pair in one header: invalid.
    let joined = format!("Access-Token: {token}, {token}");
    let r = server.seed_example(&[joined.as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
    // Non-ASCII bytes (obs-text) in the value, inside and around a good token.
    let mut non_ascii = b"Access-Token: ".to_vec();
    non_ascii.extend_from_slice(token.as_bytes());
    non_ascii.extend_from_slice(b"\xc3\xa9\xff");
    for line in [
        &non_ascii[..],
        b"Access-Token: \xe2\x82\xac\xe2\x82\xac",
        b"Access-Token: \x80",
    ] {
        let r = server.seed_example(&[line]);
        assert_eq!((r.status, r.body.as_str()), (403, INVALID), "{line:?}");
    }
    // Over the core's 4096-byte value limit but within the header cap: invalid.
    let long = format!("Access-Token: {}", "a".repeat(8 * 1024));
    let r = server.seed_example(&[long.as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
    // 64 KiB header: over the server's header cap, 431.
    let huge = format!("Access-Token: {}", "a".repeat(64 * 1024));
    let r = server.seed_example(&[huge.as_bytes()]);
    assert_eq!(r.status, 431);
    let huge_other = format!("X-Padding: {}", "b".repeat(64 * 1024));
    let r = server.seed_example(&[huge_other.as_bytes(), good.as_bytes()]);
    assert_eq!(r.status, 431);
    // Too many headers: 431 as well.
    let many: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&[u8]> = many.iter().map(|h| h.as_bytes()).collect();
    assert_eq!(server.seed_example(&many).status, 431);
    // NUL, bare CR and control bytes are not HTTP: hyper answers 400.
    for line in [
        &b"Access-Token: wgat_\x00x"[..],
        b"Access-Token: a\rb",
        b"Access-Token: \x01",
    ] {
        let r = server.seed_example(&[line]);
        assert!((400..500).contains(&r.status), "{line:?} gave {}", r.status);
    }
    // Garbage instead of a request line.
    let r = server.raw(b"\x16\x03\x01 not http at all\r\n\r\n");
    assert_eq!(r.status, 400);
    // Lowercase `bearer` on a REST path is not an Access-Token.
    let r = server.seed_example(&[format!("Authorization: bearer {token}").as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, MISSING));
    // Lowercase `bearer` inside Access-Token: not a token.
    let r = server.seed_example(&[format!("Access-Token: bearer {token}").as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));

    // Still serving, and nothing panicked.
    let r = server.seed_example(&[good.as_bytes()]);
    assert_eq!(r.status, 200);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn keep_alive_connections_serve_many_requests() {
    use std::io::{Read, Write};
    let env = Env::new();
    let (server, token, _) = started(&env);
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut requests = Vec::new();
    for i in 0..10 {
        let header = if i % 2 == 0 {
            format!("Access-Token: {token}\r\n")
        } else {
            String::new()
        };
        let close = if i == 9 { "Connection: close\r\n" } else { "" };
        requests.extend_from_slice(
            format!("GET /api/{i} HTTP/1.1\r\nHost: x\r\n{header}{close}\r\n").as_bytes(),
        );
    }
    stream.write_all(&requests).expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 5, "{text}");
    assert_eq!(text.matches("HTTP/1.1 403 Forbidden").count(), 5, "{text}");
}

#[test]
fn tokens_deleted_or_regenerated_by_another_process_are_refused_within_a_second() {
    let env = Env::new();
    let (server, token, id) = started(&env);
    assert!(
        server
            .wait_until(&token, true, Duration::from_secs(1))
            .is_some()
    );

    // A token created by another process is accepted within a second.
    let (fresh, _) = env.create("acct_42", "Testing");
    let took = server
        .wait_until(&fresh, true, Duration::from_secs(5))
        .expect("new token never accepted");
    assert!(took < Duration::from_secs(1), "new token took {took:?}");

    // Regenerated: the old secret is refused, the new one accepted.
    let out = env.run(&["token", "regenerate", &id]);
    assert_eq!(out.code, Some(0));
    let new = out.stdout.trim().to_string();
    let took = server
        .wait_until(&token, false, Duration::from_secs(5))
        .expect("old secret never refused");
    assert!(took < Duration::from_secs(1), "regeneration took {took:?}");
    eprintln!("regenerated token's old secret refused after {took:?}");
    assert!(
        server
            .wait_until(&new, true, Duration::from_secs(1))
            .is_some()
    );

    // Regenerated with grace: both work.
    let out = env.run(&["token", "regenerate", &id, "--grace", "1h"]);
    let newer = out.stdout.trim().to_string();
    assert!(
        server
            .wait_until(&newer, true, Duration::from_secs(1))
            .is_some()
    );
    assert_eq!(
        server
            .get("/api/x", &[format!("Access-Token: {new}").as_bytes()])
            .status,
        200
    );

    // Deleted: refused, with the exact body.
    let out = env.run(&["token", "delete", &id]);
    assert_eq!(out.code, Some(0));
    for t in [&newer, &new] {
        let took = server
            .wait_until(t, false, Duration::from_secs(5))
            .expect("deleted token never refused");
        assert!(took < Duration::from_secs(1), "deletion took {took:?}");
        eprintln!("deleted token refused after {took:?}");
    }
    let r = server.seed_example(&[format!("Access-Token: {newer}").as_bytes()]);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
    // The other token is unaffected.
    assert_eq!(
        server
            .get("/api/x", &[format!("Access-Token: {fresh}").as_bytes()])
            .status,
        200
    );
}

/// The held-out case of the store issue: another tool writes two rows whose
/// names differ only by a trailing space. The server reports the damaged
/// row, refuses its token, and a deletion still applies at once (before the
/// change log, the server kept serving every token as last read, the
/// deleted one included, for as long as the damaged row was there).
#[test]
fn a_damaged_row_is_refused_and_never_blocks_a_deletion() {
    let env = Env::new();
    let (server, token, id) = started(&env);
    let (other, _) = env.create("acct_42", "Testing");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute(
        "INSERT INTO tokens (id, account, name, verifier, created_at)
         SELECT '00000000000000a1', account, name || ' ', verifier, created_at
         FROM tokens WHERE name = 'Testing'",
        [],
    )
    .expect("damage");
    conn.execute(
        "INSERT INTO changes (token_id, at) VALUES ('00000000000000a1', 0)",
        [],
    )
    .expect("log the damage");
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("not a valid token record") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server
            .stderr()
            .contains("\"00000000000000a1\" is not a valid token record"),
        "the damaged row is reported: {}",
        server.stderr()
    );
    let out = env.run(&["token", "delete", &id]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let took = server
        .wait_until(&token, false, Duration::from_secs(5))
        .expect("a deleted token is still accepted while another row is damaged");
    eprintln!("deleted token refused after {took:?}, beside a damaged row");
    assert!(took < Duration::from_secs(1), "deletion took {took:?}");
    assert!(
        server
            .wait_until(&other, true, Duration::from_secs(1))
            .is_some()
    );
    assert!(!server.stderr().contains(&token), "a token reached the log");
}

#[test]
fn last_use_is_saved_in_batches_and_at_shutdown() {
    let env = Env::new();
    let (mut server, token, _) = started(&env);
    let (unused, _) = env.create("acct_42", "Unused");
    drop(unused);
    let header = format!("Access-Token: {token}");
    for _ in 0..20 {
        assert_eq!(server.get("/api/x", &[header.as_bytes()]).status, 200);
    }
    // Not written per request: right after the requests the store still
    // says "never" (the first batch is due 5 s after start).
    let before = env.list_json();
    let used = |rows: &[serde_json::Value], name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .map(|r| r["last_used_at"].clone())
            .expect("row")
    };
    assert!(used(&before, "Production API").is_null());
    assert_eq!(server.terminate(), Some(0), "{}", server.stderr());
    let after = env.list_json();
    let at = used(&after, "Production API")
        .as_u64()
        .expect("last used saved");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(now.abs_diff(at) < 60, "{at} vs {now}");
    assert!(used(&after, "Unused").is_null());
    let stderr = server.stderr();
    assert!(
        stderr.contains("shutting down") && stderr.contains("stopped"),
        "{stderr}"
    );
}

#[test]
fn last_use_is_flushed_while_running() {
    let env = Env::new();
    let (server, token, _) = started(&env);
    let header = format!("Access-Token: {token}");
    assert_eq!(server.get("/api/x", &[header.as_bytes()]).status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(12);
    loop {
        if !env.list_json()[0]["last_used_at"].is_null() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never flushed");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn demo_creates_the_store_and_a_working_token_every_run() {
    let env = Env::new();
    assert!(!env.db.exists());
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let mut server = Server::start(&env.db, &["--demo"]);
        let out = server.stdout_with("token delete");
        // The token is shown once, alone on its line; the curl line reads
        // it from a private file instead of holding it.
        let token = out
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("wgat_"))
            .unwrap_or_else(|| panic!("no token: {out}"))
            .to_string();
        assert_eq!(out.matches(&token).count(), 1, "{out}");
        assert!(out.contains("curl -X POST"), "{out}");
        assert!(out.contains("-H @wgauth-demo.header \\\n"), "{out}");
        let header = env.dir.path().join("wgauth-demo.header");
        assert_eq!(
            std::fs::read_to_string(&header).unwrap(),
            format!("Access-Token: {token}\n")
        );
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&header).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert!(out.contains(&format!("http://{}/api/send/text", server.addr)));
        assert!(out.contains("\"message\": \"Hello, this is a test message\""));
        // The curl line's request, as written.
        let r = server.seed_example(&[format!("Access-Token: {token}").as_bytes()]);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("\"account\":\"demo\""));
        assert_eq!(server.terminate(), Some(0));
        tokens.push(token);
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_eq!(env.list_json().len(), 1, "one demo token, regenerated");
    assert_eq!(env.verify(&tokens[0]).code, Some(1));
    assert_eq!(env.verify(&tokens[1]).code, Some(0));
}

#[test]
fn serve_needs_a_store_unless_demo_and_a_free_address() {
    let env = Env::new();
    let out = env.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no token store at"), "{}", out.stderr);
    assert!(!env.db.exists());

    env.create("a", "n");
    let server = Server::start(&env.db, &[]);
    let busy = server.addr.to_string();
    let out = env.run(&["serve", "--listen", &busy]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cannot listen on"), "{}", out.stderr);
    let out = env.run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(out.code, Some(2));
}

#[test]
fn sigint_stops_the_server_gracefully_too() {
    let env = Env::new();
    let (mut server, _, _) = started(&env);
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status.code();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGINT did not stop it"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    assert!(server.stderr().contains("stopped"));
    // It really stopped listening.
    assert!(std::net::TcpStream::connect(server.addr).is_err());
}
