//! `wgauth serve`'s leak response, the real binary over loopback: GitHub's
//! secret-scanning reports (signed with a P-256 key made here, from a fixed
//! seed), refused reports that revoke nothing, 10,000 tokens in one report,
//! the public report endpoint (same answer for anything, rate limit), the
//! audit trail, and a PostgreSQL fleet where every node refuses a reported
//! token (with `WGAUTH_TEST_PG_URL`, as `scripts/test-store` sets it).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Env, Response, Server, raw_request, run_wgauth};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};
use whatsgate_auth::{AccountId, OsRng, Timestamp, TokenFormat, TokenName, TokenRecord};

const KEY_ID: &str = "wgauth-test-key";
const P384_ID: &str = "p384-key";
const ED25519_ID: &str = "ed25519-key";
const RECEIVED: &str =
    r#"{"message": "received: every valid token in the report is revoked within seconds"}"#;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The test's P-256 key (a fixed seed: the same key every run).
fn signing_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn p384_key() -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap()
}

/// GitHub's key document with the test's P-256 key, a P-384 key and an
/// Ed25519 key (both of which the server must refuse to use).
fn write_keys(dir: &Path) -> PathBuf {
    let p256_pem = signing_key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let p384_pem = p384_key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    // An Ed25519 SubjectPublicKeyInfo: the algorithm's OID, then 32 bytes.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(&[0x42; 32]);
    let ed_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&der)
    );
    let doc = serde_json::json!({"public_keys": [
        {"key_identifier": KEY_ID, "key": p256_pem, "is_current": true},
        {"key_identifier": P384_ID, "key": p384_pem, "is_current": false},
        {"key_identifier": ED25519_ID, "key": ed_pem, "is_current": false},
    ]});
    let path = dir.join("github-keys.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn sign(body: &[u8]) -> String {
    let signature: p256::ecdsa::Signature = signing_key().sign(body);
    b64(signature.to_der().as_bytes())
}

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    raw_request(server.addr, &bytes)
}

fn post_signed(server: &Server, body: &[u8]) -> Response {
    post(
        server,
        "/leaks/github",
        &[
            ("Github-Public-Key-Identifier", KEY_ID),
            ("Github-Public-Key-Signature", &sign(body)),
        ],
        body,
    )
}

fn item(token: &str, url: &str) -> serde_json::Value {
    serde_json::json!({"token": token, "type": "whatsgate_api_token", "url": url, "source": "content"})
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn serve_with_keys(env: &Env) -> Server {
    let keys = write_keys(env.dir.path());
    Server::start(
        &env.db,
        &["--github-keys", keys.to_str().unwrap(), "--leak-report"],
    )
}

/// A token with one character changed: its checksum fails.
fn damaged(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// The leak reports' entries (leaving out those `wgauth token …` writes
/// while a test sets up its tokens).
fn audit(env: &Env) -> Vec<serde_json::Value> {
    let out = env.run(&["audit", "--json", "--limit", "100000"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut trail: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    trail.retain(|e| e["actor"] != "wgauth");
    trail
}

#[test]
fn a_signed_github_report_revokes_live_tokens_and_answers_feedback() {
    let env = Env::new();
    let (live, live_id) = env.create("acct_1", "Production API");
    let (kept, _) = env.create("acct_1", "Testing");
    let (gone, gone_id) = env.create("acct_2", "Old");
    assert_eq!(env.run(&["token", "delete", &gone_id]).code, Some(0));
    let mut server = serve_with_keys(&env);

    let url = "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt";
    // GitHub's documented sample item (not a token of ours), then ours.
    let body = serde_json::json!([
        {"token": "NMIfyYncKcRALEXAMPLE", "type": "mycompany_api_token", "url": url, "source": "content"},
        item(&live, url),
        item(&damaged(&kept), url),
        item(&gone, url),
        item(&live, url),
    ])
    .to_string();
    let r = post_signed(&server, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let feedback: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    let labels: Vec<&str> = feedback
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "false_positive",
            "true_positive",
            "false_positive",
            "false_positive",
            "true_positive"
        ]
    );
    assert_eq!(feedback[1]["token_hash"], sha256_hex(&live));
    assert_eq!(feedback[0]["token_type"], "mycompany_api_token");
    assert_eq!(feedback[1]["token_type"], "whatsgate_api_token");
    assert!(feedback.iter().all(|f| f.get("token_raw").is_none()));
    for token in [&live, &kept, &gone] {
        assert!(!r.body.contains(token.as_str()));
    }

    // Revoked in the store and on this node; the unreported token lives.
    assert_eq!(env.verify(&live).code, Some(1));
    assert_eq!(env.verify(&kept).code, Some(0));
    assert!(
        server
            .wait_until(&live, false, Duration::from_secs(10))
            .is_some()
    );
    let trail = audit(&env);
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0]["actor"], "leak-report:github");
    assert_eq!(trail[0]["action"], "token.revoke");
    assert_eq!(trail[0]["token_id"], live_id.as_str());
    assert_eq!(trail[0]["account"], "acct_1");
    assert_eq!(trail[0]["detail"], format!("{url} (source: content)"));
    // The table form too.
    let out = env.run(&["audit"]);
    assert!(out.stdout.contains(&live_id) && out.stdout.contains("leak-report:github"));

    // Reported again: no longer live, nothing more revoked.
    let r = post_signed(
        &server,
        serde_json::json!([item(&live, url)]).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains("false_positive"));
    assert_eq!(audit(&env).len(), 1);

    server.terminate();
    let log = server.stderr();
    assert!(
        log.contains("1 live token(s) revoked") || log.contains("2 live"),
        "{log}"
    );
    for token in [&live, &kept, &gone] {
        assert!(!log.contains(token.as_str()), "a token in the log: {log}");
    }
}

/// What is wrong, the headers, the body, the status expected.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>, u16);

/// GitHub's documented sample request (docs.github.com, "Secret scanning
/// partner program": the payload, its key id and signature) and the public
/// key GitHub publishes under that id: the same scheme as GitHub's, not
/// only one that agrees with itself.
const GITHUB_SAMPLE_BODY: &str = r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
const GITHUB_SAMPLE_KEY_ID: &str =
    "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
const GITHUB_SAMPLE_SIGNATURE: &str = "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==";
const GITHUB_SAMPLE_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n";

#[test]
fn githubs_documented_sample_request_verifies_and_a_changed_byte_does_not() {
    let env = Env::new();
    let (token, _) = env.create("acct_1", "Production API");
    let keys = env.dir.path().join("github-keys.json");
    let doc = serde_json::json!({"public_keys": [
        {"key_identifier": GITHUB_SAMPLE_KEY_ID, "key": GITHUB_SAMPLE_KEY, "is_current": true},
    ]});
    std::fs::write(&keys, doc.to_string()).unwrap();
    let server = Server::start(&env.db, &["--github-keys", keys.to_str().unwrap()]);
    let headers = [
        ("Github-Public-Key-Identifier", GITHUB_SAMPLE_KEY_ID),
        ("Github-Public-Key-Signature", GITHUB_SAMPLE_SIGNATURE),
    ];
    let r = post(
        &server,
        "/leaks/github",
        &headers,
        GITHUB_SAMPLE_BODY.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let feedback: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(feedback.len(), 1);
    assert_eq!(feedback[0]["token_hash"], sha256_hex("some_token"));
    assert_eq!(feedback[0]["token_type"], "some_type");
    assert_eq!(feedback[0]["label"], "false_positive");
    // One byte changed: refused.
    let changed = GITHUB_SAMPLE_BODY.replace("some_token", "some_tokem");
    let r = post(&server, "/leaks/github", &headers, changed.as_bytes());
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(env.verify(&token).code, Some(0));
}

#[test]
fn reports_that_fail_the_signature_check_revoke_nothing() {
    let env = Env::new();
    let (token, _) = env.create("acct_1", "Production API");
    let server = serve_with_keys(&env);
    let body = serde_json::json!([item(&token, "https://github.com/o/r/blob/1/a.txt")]).to_string();
    let good = sign(body.as_bytes());
    let mut tampered = body.clone().into_bytes();
    tampered.push(b' ');
    let other_body = sign(b"[]");
    let p384_sig = {
        let s: p384::ecdsa::Signature = p384_key().sign(body.as_bytes());
        b64(s.to_der().as_bytes())
    };
    let cases: Vec<Case> = vec![
        (
            "a tampered body",
            vec![
                ("Github-Public-Key-Identifier", KEY_ID.into()),
                ("Github-Public-Key-Signature", good.clone()),
            ],
            tampered,
            401,
        ),
        (
            "an unknown key id",
            vec![
                ("Github-Public-Key-Identifier", "no-such-key".into()),
                ("Github-Public-Key-Signature", good.clone()),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "a P-384 key",
            vec![
                ("Github-Public-Key-Identifier", P384_ID.into()),
                ("Github-Public-Key-Signature", p384_sig),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "an Ed25519 key",
            vec![
                ("Github-Public-Key-Identifier", ED25519_ID.into()),
                ("Github-Public-Key-Signature", good.clone()),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "a signature of another body",
            vec![
                ("Github-Public-Key-Identifier", KEY_ID.into()),
                ("Github-Public-Key-Signature", other_body),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "a signature that is not base64",
            vec![
                ("Github-Public-Key-Identifier", KEY_ID.into()),
                ("Github-Public-Key-Signature", "!!not base64!!".into()),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "a signature that is not DER",
            vec![
                ("Github-Public-Key-Identifier", KEY_ID.into()),
                ("Github-Public-Key-Signature", b64(b"\x30\x05garbage")),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "an empty signature",
            vec![
                ("Github-Public-Key-Identifier", KEY_ID.into()),
                ("Github-Public-Key-Signature", String::new()),
            ],
            body.clone().into_bytes(),
            401,
        ),
        (
            "no signature header",
            vec![("Github-Public-Key-Identifier", KEY_ID.into())],
            body.clone().into_bytes(),
            400,
        ),
        (
            "no key id header",
            vec![("Github-Public-Key-Signature", good.clone())],
            body.clone().into_bytes(),
            400,
        ),
        ("no header", vec![], body.clone().into_bytes(), 400),
    ];
    for (what, headers, body, status) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = post(&server, "/leaks/github", &headers, &body);
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(r.body.starts_with(r#"{"message": ""#), "{what}: {}", r.body);
        assert_eq!(env.verify(&token).code, Some(0), "{what} revoked the token");
    }
    assert!(audit(&env).is_empty());
    // Control: the same report, correctly signed, revokes it, so the
    // refusals above were the check's, not a receiver that refuses all.
    let r = post(
        &server,
        "/leaks/github",
        &[
            ("Github-Public-Key-Identifier", KEY_ID),
            ("Github-Public-Key-Signature", &good),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(env.verify(&token).code, Some(1));
}

#[test]
fn bad_json_and_oversized_reports_are_refused_without_harm() {
    let env = Env::new();
    let (token, _) = env.create("acct_1", "Production API");
    let server = serve_with_keys(&env);
    for body in [
        &b"not json"[..],
        b"{\"token\": \"x\"}",
        b"[{\"type\": \"t\"}]",
        b"[{\"token\": 5, \"type\": \"t\"}]",
        b"[",
        b"",
        b"\xff\xfe",
    ] {
        let r = post_signed(&server, body);
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
    }
    // 10,001 items: too many.
    let many: Vec<serde_json::Value> = (0..10_001).map(|i| item(&format!("x{i}"), "u")).collect();
    let body = serde_json::to_vec(&many).unwrap();
    let r = post_signed(&server, &body);
    assert_eq!(r.status, 413, "{}", r.body);
    // An empty report is answered with empty feedback.
    let r = post_signed(&server, b"[]");
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));
    // Other methods are not served; the server still works.
    let r = server.get("/leaks/github", &[]);
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    assert!(r.body.starts_with(r#"{"message": ""#), "{}", r.body);
    assert_eq!(env.verify(&token).code, Some(0));
    let header = format!("Access-Token: {token}");
    assert_eq!(server.get("/api/check", &[header.as_bytes()]).status, 200);
}

/// 10,000 live tokens in one report: all revoked, in one store write
/// (audited one by one), and the server answers other requests after.
#[test]
fn ten_thousand_tokens_in_one_report() {
    let env = Env::new();
    let (control, _) = env.create("acct_0", "control");
    let n = 10_000;
    let mut tokens = Vec::with_capacity(n);
    {
        let mut conn = rusqlite::Connection::open(&env.db).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..n {
            let (token, r) = TokenRecord::create(
                &TokenFormat::DEFAULT,
                &mut OsRng,
                AccountId::new("acct_bulk").unwrap(),
                TokenName::new(&format!("t{i}")).unwrap(),
                Timestamp::now(),
            )
            .unwrap();
            tx.execute(
                "INSERT INTO tokens (id, account, name, verifier, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    r.id.to_string(),
                    r.account.as_str(),
                    r.name.as_str(),
                    r.verifier.to_bytes(),
                    1_700_000_000_i64
                ],
            )
            .unwrap();
            tokens.push(token.expose_secret().to_string());
        }
        tx.commit().unwrap();
    }
    let server = serve_with_keys(&env);
    let items: Vec<serde_json::Value> = tokens
        .iter()
        .map(|t| item(t, "https://example.com/x"))
        .collect();
    let body = serde_json::to_vec(&items).unwrap();
    // Meanwhile, the API keeps answering: a client polls with the control
    // token until the report's answer is in.
    let done = std::sync::atomic::AtomicBool::new(false);
    let (r, took, probes) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let header = format!("Access-Token: {control}");
            let mut probes = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let at = Instant::now();
                let status = server.get("/api/check", &[header.as_bytes()]).status;
                probes.push((status, at.elapsed()));
            }
            probes
        });
        let started = Instant::now();
        let r = post_signed(&server, &body);
        let took = started.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (r, took, prober.join().unwrap())
    });
    assert!(!probes.is_empty());
    assert!(
        probes.iter().all(|(status, _)| *status == 200),
        "{probes:?}"
    );
    let slowest = probes.iter().map(|(_, t)| *t).max().unwrap_or_default();
    eprintln!(
        "meanwhile {} API requests, all 200, the slowest in {slowest:?}",
        probes.len()
    );
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
    let feedback: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(feedback.len(), n);
    assert!(feedback.iter().all(|f| f["label"] == "true_positive"));
    // Reported, not asserted: speed is the benches' business.
    eprintln!("10,000 live tokens reported, verified, revoked and audited in {took:?}");
    let left = env.list_json();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["account"], "acct_0");
    assert_eq!(audit(&env).len(), n);
    for t in tokens.iter().step_by(997) {
        assert!(
            server
                .wait_until(t, false, Duration::from_secs(10))
                .is_some()
        );
    }
}

#[test]
fn the_public_endpoint_revokes_and_answers_the_same_for_anything() {
    let env = Env::new();
    let (live, live_id) = env.create("acct_1", "Production API");
    let (kept, _) = env.create("acct_1", "Testing");
    let (gone, gone_id) = env.create("acct_1", "Old");
    assert_eq!(env.run(&["token", "delete", &gone_id]).code, Some(0));
    let mut server = serve_with_keys(&env);
    let report = |tokens: &[&str]| {
        let body = serde_json::json!({ "tokens": tokens }).to_string();
        post(&server, "/leaks/report", &[], body.as_bytes())
    };
    // Not live, for every reason, and a live one: one answer.
    let answers = [
        report(&[&gone]),
        report(&[&damaged(&kept)]),
        report(&["not a token at all"]),
        report(&[&live]),
    ];
    for r in &answers {
        assert_eq!((r.status, r.body.as_str()), (202, RECEIVED));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("retry-after"), None);
    }
    // The live one is revoked, here and in the store; the rest untouched.
    assert!(
        server
            .wait_until(&live, false, Duration::from_secs(10))
            .is_some()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.verify(&live).code != Some(1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(env.verify(&live).code, Some(1));
    assert_eq!(env.verify(&kept).code, Some(0));
    let trail = audit(&env);
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0]["actor"], "leak-report:public");
    assert_eq!(trail[0]["token_id"], live_id.as_str());
    assert!(trail[0]["detail"].as_str().unwrap().contains("127.0.0.1"));

    // Malformed reports are refused as such (whatever they hold).
    for body in [
        &b"not json"[..],
        b"{\"token\": \"x\"}",
        b"{\"tokens\": [1]}",
        b"[]",
    ] {
        let r = post(&server, "/leaks/report", &[], body);
        assert_eq!(r.status, 400, "{}", r.body);
    }
    // Too large: declared past 64 KiB, or more than 100 tokens.
    let big = format!(r#"{{"tokens": ["{}"]}}"#, "x".repeat(70 * 1024));
    assert_eq!(report_raw(&server, big.as_bytes()).status, 413);
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    assert_eq!(
        report(&many.iter().map(String::as_str).collect::<Vec<_>>()).status,
        413
    );
    let r = server.get("/leaks/report", &[]);
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    server.terminate();
    let log = server.stderr();
    for token in [&live, &kept, &gone] {
        assert!(!log.contains(token.as_str()), "a token in the log: {log}");
    }
}

fn report_raw(server: &Server, body: &[u8]) -> Response {
    post(server, "/leaks/report", &[], body)
}

/// The public answer is sent before any token is looked at: with the
/// store's write lock held by another process (and a server that waits an
/// hour for a lock), a live token's report is answered while the token
/// still works; it is revoked once the lock is released. An answer that
/// waited for the revocation would not come within the client's 10 s.
#[test]
fn the_public_answer_does_not_wait_for_the_revocation() {
    let env = Env::new();
    let (live, _) = env.create("acct_1", "Production API");
    let server = Server::start(&env.db, &["--leak-report", "--busy-timeout", "1h"]);
    let lock = rusqlite::Connection::open(&env.db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = serde_json::json!({ "tokens": [live] }).to_string();
    let r = report_raw(&server, body.as_bytes());
    assert_eq!((r.status, r.body.as_str()), (202, RECEIVED));
    let header = format!("Access-Token: {live}");
    assert_eq!(server.get("/api/check", &[header.as_bytes()]).status, 200);
    lock.execute_batch("ROLLBACK").unwrap();
    assert!(
        server
            .wait_until(&live, false, Duration::from_secs(15))
            .is_some()
    );
}

/// Reports answered 202 are applied before the server exits on SIGTERM:
/// another process's write lock holds the first revocation back until
/// after the signal, and the second report waits in the queue behind it;
/// once the server has stopped, both tokens are refused.
#[test]
fn reports_answered_before_shutdown_are_applied_before_the_server_exits() {
    let env = Env::new();
    let (first, _) = env.create("acct_1", "Production API");
    let (second, _) = env.create("acct_1", "Testing");
    let mut server = Server::start(&env.db, &["--leak-report", "--busy-timeout", "1h"]);
    let lock = rusqlite::Connection::open(&env.db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    for token in [&first, &second] {
        let body = serde_json::json!({ "tokens": [token] }).to_string();
        assert_eq!(report_raw(&server, body.as_bytes()).status, 202);
    }
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        lock.execute_batch("ROLLBACK").unwrap();
    });
    assert_eq!(server.terminate(), Some(0), "{}", server.stderr());
    release.join().unwrap();
    assert_eq!(env.verify(&first).code, Some(1));
    assert_eq!(env.verify(&second).code, Some(1));
    assert_eq!(audit(&env).len(), 2);
}

/// A regenerated token's previous secret, still accepted in its grace
/// period, is live: reporting it revokes the token (both secrets).
#[test]
fn a_reported_secret_in_its_grace_period_revokes_the_token() {
    let env = Env::new();
    let (old, id) = env.create("acct_1", "Production API");
    let out = env.run(&["token", "regenerate", &id, "--grace", "1h"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let new = out.stdout.trim().to_string();
    assert_eq!(env.verify(&old).code, Some(0));
    let server = serve_with_keys(&env);
    let body = serde_json::json!([item(&old, "https://example.com/x")]).to_string();
    let r = post_signed(&server, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("true_positive"));
    assert_eq!(env.verify(&old).code, Some(1));
    assert_eq!(env.verify(&new).code, Some(1));
}

#[test]
fn the_public_endpoint_is_rate_limited_per_client() {
    let env = Env::new();
    let (token, _) = env.create("acct_1", "Production API");
    let server = Server::start(&env.db, &["--leak-report"]);
    let body = serde_json::json!({ "tokens": ["not a token"] }).to_string();
    for i in 0..10 {
        let r = post(&server, "/leaks/report", &[], body.as_bytes());
        assert_eq!(r.status, 202, "report {i}: {}", r.body);
    }
    let r = post(&server, "/leaks/report", &[], body.as_bytes());
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&wait), "Retry-After: {wait}");
    // Limited, not revoking: the token still verifies, and the API works.
    let r = post(
        &server,
        "/leaks/report",
        &[],
        serde_json::json!({ "tokens": [token] })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 429);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.verify(&token).code, Some(0));
    // Without --github-keys there is no GitHub receiver.
    assert_eq!(post_signed(&server, b"[]").status, 404);
}

#[test]
fn a_key_file_without_a_usable_key_stops_the_server_with_a_message() {
    let env = Env::new();
    env.create("acct_1", "x");
    let path = env.dir.path().join("keys.json");
    for (text, needle) in [
        (r#"{"public_keys": []}"#, "holds no ECDSA P-256 public key"),
        ("not json", "not a key document"),
        (
            r#"{"public_keys": [{"key_identifier": "a", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "is_current": true}]}"#,
            "holds no ECDSA P-256 public key",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = run_wgauth(
            &env.db,
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--github-keys",
                path.to_str().unwrap(),
            ],
            &[],
            None,
        );
        assert_eq!(out.code, Some(2), "{}", out.stderr);
        assert!(out.stderr.contains(needle), "{}", out.stderr);
    }
}

// ---------------------------------------------------------------------------
// A fleet on one PostgreSQL store.

/// `wgauth serve` on a store URL (the shared helper wants a file's folder).
struct Node {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Node {
    fn start(url: &str, extra: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(common::WGAUTH)
            .args(["--db", url, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("WGAUTH_DB")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("serving http://").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the node did not start")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    /// Polls with the token until it is accepted (or refused) as wanted.
    fn wait_until(&self, token: &str, accepted: bool, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let request = format!(
            "GET /api/check HTTP/1.1\r\nHost: localhost\r\nAccess-Token: {token}\r\nConnection: close\r\n\r\n"
        );
        while start.elapsed() < limit {
            if (raw_request(self.addr, request.as_bytes()).status == 200) == accepted {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database on the test server, dropped at the end.
struct Database {
    base: String,
    name: String,
    url: String,
}

impl Database {
    fn new(base: &str) -> Self {
        let name = format!(
            "wgauth_leak_{}_{}",
            std::process::id(),
            Timestamp::now().as_secs()
        );
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let (head, _) = base.rsplit_once('/').unwrap();
        let url = format!("{head}/{name}");
        Self {
            base: base.to_string(),
            name,
            url,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn fleet_a_reported_token_is_refused_by_every_node_of_a_postgresql_store() {
    let Ok(base) = std::env::var("WGAUTH_TEST_PG_URL") else {
        assert!(
            std::env::var_os("WGAUTH_TEST_PG_REQUIRED").is_none(),
            "WGAUTH_TEST_PG_REQUIRED is set but WGAUTH_TEST_PG_URL is not"
        );
        eprintln!("skipped: no WGAUTH_TEST_PG_URL (scripts/test-store runs this with PostgreSQL)");
        return;
    };
    let db = Database::new(&base);
    let url = PathBuf::from(&db.url);
    let env = Env::new();
    let keys = write_keys(env.dir.path());
    let create = |name: &str| {
        let out = run_wgauth(
            &url,
            &["token", "create", "--account", "acct_1", "--name", name],
            &[],
            None,
        );
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.stdout.trim().to_string()
    };
    let reported = create("Production API");
    let kept = create("Testing");
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let mut extra = vec!["--stale-after", "30s"];
            if i == 0 {
                extra.extend(["--github-keys", keys.to_str().unwrap()]);
            }
            Node::start(&db.url, &extra)
        })
        .collect();
    // Positive control: every node accepts it before the report.
    for node in &nodes {
        assert!(
            node.wait_until(&reported, true, Duration::from_secs(10))
                .is_some()
        );
    }
    let body =
        serde_json::json!([item(&reported, "https://github.com/o/r/blob/1/a.txt")]).to_string();
    let request = format!(
        "POST /leaks/github HTTP/1.1\r\nHost: localhost\r\nGithub-Public-Key-Identifier: {KEY_ID}\r\n\
         Github-Public-Key-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        sign(body.as_bytes()),
        body.len()
    );
    let r = raw_request(nodes[0].addr, request.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("true_positive"));
    let mut slowest = Duration::ZERO;
    for (i, node) in nodes.iter().enumerate() {
        let took = node
            .wait_until(&reported, false, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("node {i} still accepts the reported token"));
        slowest = slowest.max(took);
        assert!(
            node.wait_until(&kept, true, Duration::from_secs(1))
                .is_some()
        );
    }
    eprintln!("every node refused the reported token within {slowest:?} of the answer");
    let out = run_wgauth(&url, &["audit", "--json"], &[], None);
    let mut trail: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    trail.retain(|e| e["actor"] != "wgauth");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0]["actor"], "leak-report:github");
}
