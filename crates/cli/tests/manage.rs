//! `wgauth serve`'s management API (`/api/tokens`) and the "API Tokens"
//! page's headers, against the real binary over loopback: every route, every
//! error, the account boundary (another account's id answers exactly as an
//! unknown one), the `tokens:manage` scope, writes in effect on this node
//! when answered, the audit trail's actor, and no token in the server's
//! output.

mod common;

use common::{Env, INVALID, Response, Server, raw_request};
use serde_json::{Value, json};

const MANAGE_DENIED: &str = r#"{"message": "the token lacks the scope tokens:manage"}"#;
const NO_SUCH: &str = r#"{"message": "no token with this id in your account"}"#;

/// A request with a token, and a body sent as JSON.
fn call(server: &Server, token: &str, method: &str, path: &str, body: Option<&str>) -> Response {
    send(
        server,
        token,
        method,
        path,
        body.map(|b| ("application/json", b.as_bytes())),
    )
}

fn send(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccess-Token: {token}\r\n")
            .into_bytes();
    if let Some((content_type, body)) = body {
        req.extend_from_slice(
            format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
        req.extend_from_slice(b"Connection: close\r\n\r\n");
        req.extend_from_slice(body);
    } else {
        req.extend_from_slice(b"Connection: close\r\n\r\n");
    }
    raw_request(server.addr, &req)
}

fn parsed(r: &Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.body))
}

/// Whether `token` is accepted on the guarded API right now (no waiting).
fn accepted(server: &Server, token: &str) -> bool {
    let r = server.get("/api/check", &[format!("Access-Token: {token}").as_bytes()]);
    match r.status {
        200 => true,
        403 => {
            assert_eq!(r.body, INVALID);
            false
        }
        other => panic!("unexpected {other}: {}", r.body),
    }
}

/// A store with an admin token (full access) of acct_1 and a token of
/// acct_2, and the server on it.
struct Setup {
    env: Env,
    server: Server,
    admin: String,
    admin_id: String,
    other: String,
    other_id: String,
}

fn setup() -> Setup {
    let env = Env::new();
    let (admin, admin_id) = env.create("acct_1", "Admin");
    let (other, other_id) = env.create("acct_2", "Other account's");
    let server = Server::start(&env.db, &[]);
    Setup {
        env,
        server,
        admin,
        admin_id,
        other,
        other_id,
    }
}

/// Creates a token through the API; returns (token, id).
fn create(s: &Setup, body: Value) -> (String, String) {
    let r = call(
        &s.server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = parsed(&r);
    (
        v["token"].as_str().expect("token").to_string(),
        v["id"].as_str().expect("id").to_string(),
    )
}

#[test]
fn every_route_for_a_manager_token() {
    let s = setup();
    let server = &s.server;

    // List: the caller's account only, never a verifier.
    let r = call(server, &s.admin, "GET", "/api/tokens", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = parsed(&r);
    assert_eq!(v["account"], "acct_1");
    assert_eq!(v["caller"], s.admin_id.as_str());
    let tokens = v["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], s.admin_id.as_str());
    assert_eq!(tokens[0]["scopes"], Value::Null, "full access");
    assert_eq!(tokens[0]["status"], "active");
    assert!(!r.body.contains("verifier"));

    // Create: the token once, with no-store; it works at once.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(
            &json!({
                "name": "CI deploys",
                "scopes": ["messages:send", "devices:*", "messages:send"],
                "expires_in": "30d",
                "description": "the pipeline's token",
            })
            .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let created = parsed(&r);
    let ci = created["token"].as_str().expect("token").to_string();
    let ci_id = created["id"].as_str().expect("id").to_string();
    assert!(ci.starts_with("wgat_"));
    assert_eq!(created["scopes"], json!(["devices:*", "messages:send"]));
    assert_eq!(created["description"], "the pipeline's token");
    let expires = created["expires_at"].as_u64().expect("expiry");
    let made = created["created_at"].as_u64().expect("created");
    assert_eq!(expires - made, 30 * 86_400);
    assert!(accepted(server, &ci));

    // Show one, then the listing has it (and no secret).
    let r = call(
        server,
        &s.admin,
        "GET",
        &format!("/api/tokens/{ci_id}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(parsed(&r)["name"], "CI deploys");
    let r = call(server, &s.admin, "GET", "/api/tokens", None);
    assert!(r.body.contains(&ci_id) && !r.body.contains(&ci));

    // Update: rename, describe, rescope; each in the answer.
    let path = format!("/api/tokens/{ci_id}");
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &path,
        Some(r#"{"name": "CI", "description": null, "scopes": ["messages:*"]}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = parsed(&r);
    assert_eq!(
        (v["name"].as_str(), v["description"].as_str()),
        (Some("CI"), None)
    );
    assert_eq!(v["scopes"], json!(["messages:*"]));
    // Back to full access.
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &path,
        Some(r#"{"scopes": null}"#),
    );
    assert_eq!(parsed(&r)["scopes"], Value::Null);

    // Disable: refused at once (the seed's answer); enable: accepted again.
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &path,
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(parsed(&r)["status"], "disabled");
    assert!(!accepted(server, &ci));
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &path,
        Some(r#"{"disabled": false}"#),
    );
    assert_eq!(parsed(&r)["status"], "active");
    assert!(accepted(server, &ci));

    // Regenerate: the new token once; the old one refused at once.
    let r = call(
        server,
        &s.admin,
        "POST",
        &format!("{path}/regenerate"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new = parsed(&r)["token"].as_str().expect("token").to_string();
    assert_ne!(new, ci);
    assert!(!accepted(server, &ci));
    assert!(accepted(server, &new));
    // With a grace period the old one keeps working until then.
    let r = call(
        server,
        &s.admin,
        "POST",
        &format!("{path}/regenerate"),
        Some(r#"{"grace": "10m"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = parsed(&r);
    let newer = v["token"].as_str().expect("token").to_string();
    assert!(v["rollover_until"].as_u64().is_some());
    assert!(accepted(server, &new) && accepted(server, &newer));

    // Delete: refused at once on this node.
    let r = call(server, &s.admin, "DELETE", &path, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(parsed(&r)["deleted"]["id"], ci_id.as_str());
    assert!(!accepted(server, &newer));
    assert!(!accepted(server, &new));
    let r = call(server, &s.admin, "GET", &path, None);
    assert_eq!((r.status, r.body.as_str()), (404, NO_SUCH));

    // The audit trail: every write, the acting token as actor, newest first.
    let r = call(server, &s.admin, "GET", "/api/tokens/audit", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let entries = parsed(&r)["entries"].as_array().expect("entries").clone();
    let actor = format!("token:{}", s.admin_id);
    let ours: Vec<&str> = entries
        .iter()
        .filter(|e| e["actor"] == actor.as_str() && e["token_id"] == ci_id.as_str())
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        ours,
        [
            "token.delete",
            "token.regenerate",
            "token.regenerate",
            "token.update",
            "token.update",
            "token.update",
            "token.update",
            "token.create",
        ]
    );
    for e in &entries {
        assert!(e["at"].as_u64().is_some() && e["seq"].as_u64().is_some());
        assert!(!e.to_string().contains("wgat_"), "{e}");
    }
    // Only the caller's account: the other account's creation is not there.
    assert!(!r.body.contains(&s.other_id));
    let r = call(server, &s.admin, "GET", "/api/tokens/audit?limit=1", None);
    assert_eq!(parsed(&r)["entries"].as_array().map(Vec::len), Some(1));
    // `wgauth audit` shows the same actor.
    let out = s.env.run(&["audit", "--json"]);
    assert!(out.stdout.contains(&actor), "{}", out.stdout);

    // The other account's token was never touched.
    assert!(accepted(server, &s.other));
}

#[test]
fn another_accounts_id_answers_exactly_as_an_unknown_one() {
    let s = setup();
    let server = &s.server;
    let unknown = "0123456789abcdef";
    let ids = [s.other_id.as_str(), unknown, "not-an-id", "%ff", "0"];
    let routes: [(&str, String, Option<&str>); 5] = [
        ("GET", String::new(), None),
        ("PATCH", String::new(), Some(r#"{"disabled": true}"#)),
        ("DELETE", String::new(), None),
        ("POST", "/regenerate".to_string(), None),
        (
            "POST",
            "/regenerate".to_string(),
            Some(r#"{"grace": "1m"}"#),
        ),
    ];
    for (method, tail, body) in &routes {
        let answers: Vec<(u16, String)> = ids
            .iter()
            .map(|id| {
                let r = call(
                    server,
                    &s.admin,
                    method,
                    &format!("/api/tokens/{id}{tail}"),
                    *body,
                );
                (r.status, r.body)
            })
            .collect();
        for (answer, id) in answers.iter().zip(ids) {
            assert_eq!(
                (answer.0, answer.1.as_str()),
                (404, NO_SUCH),
                "{method} {id}{tail}"
            );
        }
    }
    // None of it reached the other account's token.
    assert!(accepted(server, &s.other));
    let r = call(
        server,
        &s.other,
        "GET",
        &format!("/api/tokens/{}", s.other_id),
        None,
    );
    assert_eq!(parsed(&r)["status"], "active");
    // The control: the same calls on an id of the caller's account do act.
    let (_, mine) = create(&s, json!({"name": "mine"}));
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &format!("/api/tokens/{mine}"),
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_token_without_tokens_manage_is_refused_on_every_route() {
    let s = setup();
    let server = &s.server;
    let (sender, sender_id) = create(&s, json!({"name": "sender", "scopes": ["messages:send"]}));
    let (nothing, _) = create(&s, json!({"name": "nothing", "scopes": []}));
    let (wildcard, _) = create(&s, json!({"name": "manager", "scopes": ["tokens:*"]}));
    let (exact, _) = create(&s, json!({"name": "exact", "scopes": ["tokens:manage"]}));
    let routes: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", "/api/tokens".into(), None),
        ("POST", "/api/tokens".into(), Some(r#"{"name": "x"}"#)),
        ("GET", format!("/api/tokens/{sender_id}"), None),
        (
            "PATCH",
            format!("/api/tokens/{sender_id}"),
            Some(r#"{"name": "y"}"#),
        ),
        ("POST", format!("/api/tokens/{sender_id}/regenerate"), None),
        ("DELETE", format!("/api/tokens/{sender_id}"), None),
        (
            "POST",
            "/api/tokens/revoke-all".into(),
            Some(r#"{"confirm": "acct_1"}"#),
        ),
        ("GET", "/api/tokens/audit".into(), None),
        // Bad input too: the scope is checked before anything is read.
        ("POST", "/api/tokens".into(), Some("{not json")),
        ("GET", "/api/tokens/unknown".into(), None),
    ];
    for token in [&sender, &nothing] {
        for (method, path, body) in &routes {
            let r = call(server, token, method, path, *body);
            assert_eq!(
                (r.status, r.body.as_str()),
                (403, MANAGE_DENIED),
                "{method} {path}"
            );
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
    }
    // Nothing changed: the sender still works, under its name.
    assert!(accepted(server, &sender));
    let r = call(
        server,
        &s.admin,
        "GET",
        &format!("/api/tokens/{sender_id}"),
        None,
    );
    assert_eq!(parsed(&r)["name"], "sender");
    // The controls: `tokens:*` and `tokens:manage` may manage.
    for token in [&wildcard, &exact] {
        let r = call(server, token, "GET", "/api/tokens", None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // No token, or a bad one: the layer's answers, as anywhere under /api.
    let r = server.get("/api/tokens", &[]);
    assert_eq!((r.status, r.body.as_str()), (403, common::MISSING));
    let r = call(server, "wgat_nope", "GET", "/api/tokens", None);
    assert_eq!((r.status, r.body.as_str()), (403, INVALID));
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let s = setup();
    let server = &s.server;
    let (_, id) = create(&s, json!({"name": "target"}));
    let path = format!("/api/tokens/{id}");
    let regen = format!("{path}/regenerate");
    let too_many: Vec<String> = (0..65).map(|i| format!("r{i}:read")).collect();
    let sixty_four: Vec<String> = (0..64).map(|i| format!("r{i}:read")).collect();
    let long_name = "n".repeat(65);
    let long_description = "d".repeat(257);
    let cases: Vec<(&str, &str, String, &str)> = vec![
        // (method, path, body, words the message must hold)
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "colour": "red"}).to_string(),
            "unknown field `colour`",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "scopes": too_many}).to_string(),
            "65 scopes given; a token carries at most 64",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "scopes": ["ok:read", "Bad"]}).to_string(),
            "scopes[1] is not a scope",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "scopes": ["messages"]}).to_string(),
            "not a scope",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "scopes": "messages:send"}).to_string(),
            "wrong type",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": ""}).to_string(),
            "the name must not be empty",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": long_name}).to_string(),
            "the name is too long",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a\nb"}).to_string(),
            "control characters",
        ),
        (
            "POST",
            "/api/tokens",
            json!({}).to_string(),
            "missing field `name`",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "description": long_description}).to_string(),
            "the description is too long",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_in": "-1d"}).to_string(),
            "cannot be negative",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_in": "0s"}).to_string(),
            "not a duration",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_in": "soon"}).to_string(),
            "not a duration",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_in": 5}).to_string(),
            "wrong type",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_in": "1d", "expires_at": 4_000_000_000u64}).to_string(),
            "not both",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_at": 1}).to_string(),
            "the expiry must be in the future",
        ),
        (
            "POST",
            "/api/tokens",
            json!({"name": "a", "expires_at": -1}).to_string(),
            "wrong type",
        ),
        (
            "POST",
            "/api/tokens",
            "{\"name\": \"a\"".to_string(),
            "not valid JSON",
        ),
        ("POST", "/api/tokens", "null".to_string(), "a JSON object"),
        ("POST", "/api/tokens", "[]".to_string(), "a JSON object"),
        // serde alone would take this as {"name": "a"}.
        (
            "POST",
            "/api/tokens",
            r#"["a"]"#.to_string(),
            "a JSON object",
        ),
        (
            "POST",
            "/api/tokens",
            format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)),
            "a JSON object",
        ),
        (
            "POST",
            "/api/tokens",
            format!("{}1{}", "{\"a\":".repeat(2_000), "}".repeat(2_000)),
            "unknown field `a`",
        ),
        ("POST", "/api/tokens", String::new(), "a JSON object"),
        (
            "PATCH",
            path.as_str(),
            "{}".to_string(),
            "nothing to change",
        ),
        (
            "PATCH",
            path.as_str(),
            json!({"disabled": "yes"}).to_string(),
            "wrong type",
        ),
        (
            "PATCH",
            path.as_str(),
            json!({"scopes": ["UPPER:case"]}).to_string(),
            "not a scope",
        ),
        (
            "PATCH",
            path.as_str(),
            json!({"id": "x"}).to_string(),
            "unknown field `id`",
        ),
        (
            "POST",
            regen.as_str(),
            json!({"grace": "31d"}).to_string(),
            "a grace period may last at most 30 days (the lifetime policy)",
        ),
        (
            "POST",
            regen.as_str(),
            json!({"grace": "-5m"}).to_string(),
            "a grace period cannot be negative",
        ),
        (
            "POST",
            regen.as_str(),
            json!({"grace": "100000000000d"}).to_string(),
            "at most 30 days",
        ),
        (
            "POST",
            regen.as_str(),
            json!({"grace_period": "1m"}).to_string(),
            "unknown field",
        ),
        (
            "POST",
            "/api/tokens/revoke-all",
            json!({}).to_string(),
            "missing field `confirm`",
        ),
        (
            "POST",
            "/api/tokens/revoke-all",
            json!({"confirm": true}).to_string(),
            "wrong type",
        ),
        (
            "POST",
            "/api/tokens/revoke-all",
            json!({"confirm": "acct_2"}).to_string(),
            "\"confirm\"",
        ),
        ("GET", "/api/tokens/audit?limit=0", String::new(), "limit"),
        ("GET", "/api/tokens/audit?limit=x", String::new(), "limit"),
        (
            "GET",
            "/api/tokens/audit?account=acct_2",
            String::new(),
            "limit",
        ),
    ];
    for (method, path, body, says) in &cases {
        let shown: String = body.chars().take(80).collect();
        let body = (!body.is_empty() || *method == "POST").then_some(body.as_str());
        let r = call(server, &s.admin, method, path, body);
        assert_eq!(r.status, 400, "{method} {path} {shown:?}: {}", r.body);
        let message = parsed(&r)["message"].as_str().expect("message").to_string();
        assert!(
            message.contains(says),
            "{method} {path} {shown:?}: {message}"
        );
        assert!(r.body.starts_with(r#"{"message": ""#), "{}", r.body);
    }
    // The controls: at the limits, accepted.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(
            &json!({"name": "n".repeat(64), "scopes": sixty_four, "description": "d".repeat(256)})
                .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        server,
        &s.admin,
        "POST",
        &regen,
        Some(r#"{"grace": "30d"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // A name taken: 409, on create and on rename.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "Admin"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("already has a token with this name"),
        "{}",
        r.body
    );
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &path,
        Some(r#"{"name": "Admin"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    // Another account's name is not taken.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "Other account's"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // Not JSON: 415 without the content type, whatever the body.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let r = send(
            server,
            &s.admin,
            "POST",
            "/api/tokens",
            Some((content_type, br#"{"name": "t"}"#)),
        );
        assert_eq!(r.status, 415, "{content_type}: {}", r.body);
        assert!(
            parsed(&r)["message"]
                .as_str()
                .is_some_and(|m| m.contains("JSON"))
        );
    }
    let r = send(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(("application/json; charset=utf-8", br#"{"name": "t"}"#)),
    );
    assert_eq!(
        r.status, 201,
        "the control: JSON with a charset: {}",
        r.body
    );
    // Not UTF-8.
    let r = send(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(("application/json", b"{\"name\": \"\xff\xfe\"}")),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // A huge body: 413, declared or not.
    let huge = format!(
        r#"{{"name": "h", "description": "{}"}}"#,
        "x".repeat(20_000)
    );
    let r = call(server, &s.admin, "POST", "/api/tokens", Some(&huge));
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.starts_with(r#"{"message": ""#));
    let mut chunked = format!(
        "POST /api/tokens HTTP/1.1\r\nHost: localhost\r\nAccess-Token: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.admin
    )
    .into_bytes();
    for _ in 0..5 {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", " ".repeat(0x1000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = raw_request(server.addr, &chunked);
    assert_eq!(r.status, 413, "{}", r.body);

    // A method a route does not take: 405, JSON.
    for (method, path) in [
        ("PUT", "/api/tokens"),
        ("DELETE", "/api/tokens"),
        ("GET", "/api/tokens/revoke-all"),
        ("POST", path.as_str()),
    ] {
        let r = call(server, &s.admin, method, path, None);
        assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        assert!(r.body.starts_with(r#"{"message": ""#));
    }

    // None of it was a 5xx or a panic, and the server still serves.
    assert!(accepted(server, &s.admin));
    assert!(!s.server.stderr().contains("panicked"));
}

#[test]
fn revoke_all_deletes_every_token_of_the_account_the_callers_included() {
    let s = setup();
    let server = &s.server;
    let (a, _) = create(&s, json!({"name": "a"}));
    let (b, _) = create(&s, json!({"name": "b", "scopes": ["messages:send"]}));
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens/revoke-all",
        Some(r#"{"confirm": "acct_1"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = parsed(&r);
    assert_eq!(v["revoked"], 3);
    assert!(
        v["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .any(|id| id == s.admin_id.as_str())
    );
    // Refused at once, on this node, every one of them.
    for token in [&s.admin, &a, &b] {
        assert!(!accepted(server, token));
    }
    // The other account keeps its token.
    assert!(accepted(server, &s.other));
    let r = call(server, &s.other, "GET", "/api/tokens", None);
    assert_eq!(parsed(&r)["tokens"].as_array().map(Vec::len), Some(1));
    // The trail names the acting token for each.
    let out = s.env.run(&["audit", "--json", "--account", "acct_1"]);
    let entries: Vec<Value> = serde_json::from_str(&out.stdout).expect("JSON");
    let revoked = entries
        .iter()
        .filter(|e| {
            e["action"] == "token.revoke_all"
                && e["actor"] == format!("token:{}", s.admin_id).as_str()
        })
        .count();
    assert_eq!(revoked, 3, "{}", out.stdout);
}

#[test]
fn the_server_never_prints_a_token() {
    let s = setup();
    let server = &s.server;
    let mut issued = vec![s.admin.clone(), s.other.clone()];
    let (t, id) = create(&s, json!({"name": "printed?"}));
    issued.push(t);
    let r = call(
        server,
        &s.admin,
        "POST",
        &format!("/api/tokens/{id}/regenerate"),
        None,
    );
    issued.push(parsed(&r)["token"].as_str().expect("token").to_string());
    // A token pasted into a wrong or bad field is not echoed either.
    for body in [
        json!({"name": "x", "scopes": [s.other]}),
        json!({"name": "x", "disabled": s.other}),
        json!({"name": "x", (s.other.clone()): 1}),
        json!({"name": s.other.repeat(2)}),
    ] {
        let r = call(
            server,
            &s.admin,
            "POST",
            "/api/tokens",
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(!r.body.contains("wgat_"), "{}", r.body);
    }
    let r = call(
        server,
        &s.admin,
        "PATCH",
        &format!("/api/tokens/{}", s.other),
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!((r.status, r.body.as_str()), (404, NO_SUCH));
    let mut server = s.server;
    assert_eq!(server.terminate(), Some(0));
    let out = format!("{}{}", server.stderr(), server.stdout_with(""));
    for token in &issued {
        assert!(
            !out.contains(token.as_str()),
            "a token in the output:\n{out}"
        );
        // Nor its secret part alone.
        assert!(
            !out.contains(&token[20..]),
            "part of a token in the output:\n{out}"
        );
    }
    // The control: the output was read (the startup lines are there).
    assert!(out.contains("API Tokens page"), "{out}");
}

#[test]
fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let s = setup();
    let server = &s.server;
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
               img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'; \
               require-trusted-types-for 'script'; trusted-types 'none'";
    for (path, content_type, holds) in [
        ("/tokens", "text/html; charset=utf-8", "<h1>API Tokens</h1>"),
        (
            "/tokens/app.js",
            "text/javascript; charset=utf-8",
            "textContent",
        ),
        (
            "/tokens/style.css",
            "text/css; charset=utf-8",
            ":focus-visible",
        ),
    ] {
        // Public: no token needed (the page holds nothing).
        let r = server.get(path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert_eq!(r.header("content-security-policy"), Some(csp), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert!(r.body.contains(holds), "{path}");
        assert!(r.header("set-cookie").is_none());
    }
    let r = server.get("/", &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/tokens")));
    // Another method: 405 in the server's one error format.
    let r = call(server, &s.admin, "POST", "/tokens", Some("{}"));
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(r.body.starts_with(r#"{"message": ""#), "{}", r.body);
    // The API's answers are not cached and set no cookie either.
    let r = call(server, &s.admin, "GET", "/api/tokens", None);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("set-cookie").is_none());
}

#[test]
fn serve_require_scope_guards_routes_with_the_scope_answer() {
    let env = Env::new();
    let (full, _) = env.create("acct_1", "Admin");
    let server = Server::start(
        &env.db,
        &[
            "--require-scope",
            "POST:/api/send=messages:send",
            "--require-scope",
            "/mcp/devices=devices:read",
        ],
    );
    let s = Setup {
        env,
        server,
        admin: full.clone(),
        admin_id: String::new(),
        other: String::new(),
        other_id: String::new(),
    };
    let (reader, _) = create(&s, json!({"name": "reader", "scopes": ["devices:read"]}));
    let (sender, _) = create(&s, json!({"name": "sender", "scopes": ["messages:*"]}));
    let server = &s.server;
    // REST: 403 naming the scope; the method rule leaves GET alone.
    let r = call(server, &reader, "POST", "/api/send/text", Some("{}"));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            r#"{"message": "the token lacks the scope messages:send"}"#
        )
    );
    assert!(r.header("www-authenticate").is_none());
    assert_eq!(
        call(server, &reader, "GET", "/api/send/text", None).status,
        200
    );
    // The controls: the wildcard and full access hold it.
    assert_eq!(
        call(server, &sender, "POST", "/api/send/text", Some("{}")).status,
        200
    );
    assert_eq!(
        call(server, &full, "POST", "/api/send/text", Some("{}")).status,
        200
    );
    // MCP: 403 with the RFC 6750 challenge.
    let r = server.get(
        "/mcp/devices/1",
        &[format!("Authorization: Bearer {sender}").as_bytes()],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"message": "the token lacks the scope devices:read"}"#
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="whatsgate", error="insufficient_scope", scope="devices:read""#)
    );
    let r = server.get(
        "/mcp/devices/1",
        &[format!("Authorization: Bearer {reader}").as_bytes()],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        s.server
            .stderr()
            .contains("/api/send and below need the scope messages:send (POST)")
    );

    // A bad rule stops the server before it listens, saying why.
    for bad in [
        "/api/send",
        "api=messages:send",
        "/api=Messages",
        "/leaks=x:y",
        "P OST:/api=a:b",
    ] {
        let out = s
            .env
            .run(&["serve", "--listen", "127.0.0.1:0", "--require-scope", bad]);
        assert_eq!(out.code, Some(2), "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("error"), "{bad}: {}", out.stderr);
    }
}

#[test]
fn the_servers_lifetime_policy_applies_to_the_api() {
    let env = Env::new();
    let (admin, _) = env.create("acct_1", "Admin");
    let server = Server::start(&env.db, &["--max-lifetime", "1d", "--max-grace", "1h"]);
    let s = Setup {
        env,
        server,
        admin,
        admin_id: String::new(),
        other: String::new(),
        other_id: String::new(),
    };
    let server = &s.server;
    // Beyond the maximum lifetime: refused, saying the limit.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "a", "expires_in": "2d"}"#),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tokens may live at most"), "{}", r.body);
    // None asked for: the maximum is given.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "b"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = parsed(&r);
    let lifetime =
        v["expires_at"].as_u64().expect("an expiry") - v["created_at"].as_u64().expect("created");
    assert!((86_399..=86_401).contains(&lifetime), "{lifetime}");
    // Within it: as asked.
    let r = call(
        server,
        &s.admin,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "c", "expires_in": "12h"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The grace cap is the server's, not the default 30 days.
    let id = v["id"].as_str().expect("id");
    let regen = format!("/api/tokens/{id}/regenerate");
    let r = call(server, &s.admin, "POST", &regen, Some(r#"{"grace": "2h"}"#));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("a grace period may last at most 3600 seconds"),
        "{}",
        r.body
    );
    let r = call(server, &s.admin, "POST", &regen, Some(r#"{"grace": "1h"}"#));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_scoped_manager_grants_only_the_scopes_it_holds() {
    let s = setup();
    let server = &s.server;
    let (manager, manager_id) = create(
        &s,
        json!({"name": "manager", "scopes": ["tokens:manage", "messages:*"]}),
    );
    let refused = |r: &Response, what: &str| {
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(
            parsed(r)["message"],
            format!("this token cannot grant {what}: a token may only grant scopes it holds")
        );
    };
    // Create: not full access, not a scope it lacks.
    let post = |body: &str| call(server, &manager, "POST", "/api/tokens", Some(body));
    refused(&post(r#"{"name": "full"}"#), "full access");
    refused(&post(r#"{"name": "full", "scopes": null}"#), "full access");
    refused(
        &post(r#"{"name": "dev", "scopes": ["messages:send", "devices:read"]}"#),
        "the scope devices:read",
    );
    refused(
        &post(r#"{"name": "all", "scopes": ["tokens:*"]}"#),
        "the scope tokens:*",
    );
    // What it holds it may grant (a wildcard's actions included).
    let r =
        post(r#"{"name": "sender", "scopes": ["messages:send", "messages:*", "tokens:manage"]}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let sender_id = parsed(&r)["id"].as_str().expect("id").to_string();
    // Update: no widening, of that token or of itself.
    for id in [&sender_id, &manager_id] {
        let path = format!("/api/tokens/{id}");
        refused(
            &call(
                server,
                &manager,
                "PATCH",
                &path,
                Some(r#"{"scopes": null}"#),
            ),
            "full access",
        );
        refused(
            &call(
                server,
                &manager,
                "PATCH",
                &path,
                Some(r#"{"scopes": ["devices:*"]}"#),
            ),
            "the scope devices:*",
        );
        let r = call(
            server,
            &manager,
            "PATCH",
            &path,
            Some(r#"{"name": "renamed", "scopes": ["messages:read", "tokens:manage"]}"#),
        );
        assert!(r.status == 200 || r.status == 409, "{}", r.body);
    }
    // Regenerate hands over the secret: not of a token that reaches further.
    let r = call(
        server,
        &manager,
        "POST",
        &format!("/api/tokens/{}/regenerate", s.admin_id),
        None,
    );
    refused(&r, "full access");
    assert!(accepted(server, &s.admin), "the admin token was left alone");
    let r = call(
        server,
        &manager,
        "POST",
        &format!("/api/tokens/{sender_id}/regenerate"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (full, _) = create(&s, json!({"name": "second admin"}));
    // Disabling or deleting takes nothing away from anyone but the target.
    let r = call(
        server,
        &manager,
        "PATCH",
        &format!("/api/tokens/{}", s.admin_id),
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!accepted(server, &s.admin));

    // The control: a full-access token may grant anything.
    let r = call(
        server,
        &full,
        "POST",
        "/api/tokens",
        Some(r#"{"name": "any", "scopes": ["devices:*"]}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        server,
        &full,
        "POST",
        &format!("/api/tokens/{}/regenerate", s.admin_id),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn arbitrary_bodies_never_get_a_5xx() {
    let s = setup();
    let (_, id) = create(&s, json!({"name": "target"}));
    let server = &s.server;
    // xorshift64: a fixed sequence, so a failure is reproduced by rerunning.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b" ",
        b"\"name\"",
        b"\"scopes\"",
        b"\"grace\"",
        b"\"disabled\"",
        b"\"description\"",
        b"\"expires_at\"",
        b"\"expires_in\"",
        b"\"confirm\"",
        b"\"a:b\"",
        b"\"x\"",
        b"\"10m\"",
        b"null",
        b"true",
        b"0",
        b"-1",
        b"1e999",
        b"18446744073709551616",
        b"\"\\u0000\"",
        b"\"\\ud800\"",
        b"\xff",
        b"\"\xc3\x28\"",
    ];
    let paths = [
        ("POST", "/api/tokens".to_string()),
        ("PATCH", format!("/api/tokens/{id}")),
        ("POST", format!("/api/tokens/{id}/regenerate")),
        ("POST", "/api/tokens/revoke-all".to_string()),
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..400 {
        let mut body = b"{".to_vec();
        for _ in 0..(next() % 12) {
            let piece = pieces[usize::try_from(next() % pieces.len() as u64).expect("index")];
            body.extend_from_slice(piece);
        }
        let (method, path) = &paths[i % paths.len()];
        let r = send(
            server,
            &s.admin,
            method,
            path,
            Some(("application/json", &body)),
        );
        assert!(
            r.status < 500,
            "{method} {path} {body:?}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body.starts_with(r#"{""#), "{}", r.body);
        *statuses.entry(r.status).or_insert(0) += 1;
    }
    // Mostly refused, as random bytes should be; the server still serves.
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 300,
        "{statuses:?}"
    );
    assert!(accepted(server, &s.admin));
    assert!(!server.stderr().contains("panicked"));
}

#[test]
fn a_write_through_one_node_reaches_another() {
    let s = setup();
    // A second node on the same store.
    let other_node = Server::start(&s.env.db, &[]);
    let (token, id) = create(&s, json!({"name": "fleet"}));
    // Created on the first node: the second accepts it once it follows.
    let seen = other_node.wait_until(&token, true, std::time::Duration::from_secs(10));
    assert!(
        seen.is_some(),
        "the second node never accepted the new token"
    );
    // Disabled on the first: refused by the second.
    let r = call(
        &s.server,
        &s.admin,
        "PATCH",
        &format!("/api/tokens/{id}"),
        Some(r#"{"disabled": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let refused = other_node.wait_until(&token, false, std::time::Duration::from_secs(10));
    assert!(
        refused.is_some(),
        "the second node still accepts a disabled token"
    );
    // The second node's API shows it disabled, and the audit entry.
    let r = call(
        &other_node,
        &s.admin,
        "GET",
        &format!("/api/tokens/{id}"),
        None,
    );
    assert_eq!(parsed(&r)["status"], "disabled");
    let r = call(
        &other_node,
        &s.admin,
        "GET",
        "/api/tokens/audit?limit=1",
        None,
    );
    assert_eq!(
        parsed(&r)["entries"][0]["actor"],
        format!("token:{}", s.admin_id)
    );
    // Deleted through the second: refused by the first.
    let r = call(
        &other_node,
        &s.admin,
        "PATCH",
        &format!("/api/tokens/{id}"),
        Some(r#"{"disabled": false}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        s.server
            .wait_until(&token, true, std::time::Duration::from_secs(10))
            .is_some()
    );
    let r = call(
        &other_node,
        &s.admin,
        "DELETE",
        &format!("/api/tokens/{id}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        s.server
            .wait_until(&token, false, std::time::Duration::from_secs(10))
            .is_some()
    );
}
