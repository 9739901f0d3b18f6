//! The shared header corpus (`testdata/header-cases.json`) replayed through
//! the real `wgauth serve` over loopback: the store holds the corpus's
//! records, every case goes out as raw HTTP/1.1, and the answers must be the
//! ones every binding gives — status, body, `WWW-Authenticate`, principal.
//!
//! Two things differ from an in-process check, both because of HTTP itself:
//! a value with CR or LF cannot be sent inside one header line (those cases
//! are skipped: on the wire they would be a different request); HTTP strips
//! the spaces around a field value, so an over-long value made of spaces
//! around a token reaches the server as the bare token; and hyper answers
//! 400 to other control bytes and 431 to headers over the server's cap,
//! before authentication runs. Times in the corpus are shifted to the
//! real clock, so grace periods keep their meaning.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Env, Server};
use serde_json::Value;

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/header-cases.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/header-cases.json");
    serde_json::from_str(&text).expect("corpus JSON")
}

/// Writes the corpus's records into a fresh store, times shifted by `shift`.
fn fill_store(env: &Env, records: &[Value], shift: i64) {
    // Let wgauth create the store (schema, WAL), then replace its content.
    env.create("setup", "setup");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute("DELETE FROM tokens", []).expect("clear");
    let at = |v: &Value| v.as_i64().map(|t| t + shift);
    for r in records {
        let rollover = r.get("rollover");
        conn.execute(
            "INSERT INTO tokens (id, account, name, verifier, created_at, last_used_at, \
             rollover_verifier, rollover_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                r["id"].as_str().expect("id"),
                r["account"].as_str().expect("account"),
                r["name"].as_str().expect("name"),
                unhex(r["verifier"].as_str().expect("verifier")),
                at(&r["created_at"]).expect("created_at"),
                at(&r["last_used_at"]),
                rollover.map(|ro| unhex(ro["verifier"].as_str().expect("verifier"))),
                rollover.and_then(|ro| at(&ro["until"])),
            ],
        )
        .expect("insert record");
    }
}

#[test]
fn every_header_case_gets_the_same_answer_from_the_server() {
    let corpus = load();
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let shift = i64::try_from(real_now).expect("now") - corpus["now"].as_i64().expect("now");
    let env = Env::new();
    fill_store(&env, corpus["records"].as_array().expect("records"), shift);
    let server = Server::start(&env.db, &[]);

    let (mut exact, mut http_refused, mut http_changed, mut skipped) = (0, 0, 0, 0);
    for case in corpus["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let headers: Vec<(String, Vec<u8>)> = case["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().expect("header name").to_string(),
                    unhex(h[1].as_str().expect("header value")),
                )
            })
            .collect();
        if headers
            .iter()
            .any(|(_, v)| v.contains(&b'\r') || v.contains(&b'\n'))
        {
            skipped += 1;
            continue;
        }
        let lines: Vec<Vec<u8>> = headers
            .iter()
            .map(|(n, v)| [n.as_bytes(), b": ", v].concat())
            .collect();
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let response = match case["profile"].as_str() {
            Some("rest") => server.seed_example(&lines),
            Some("mcp") => server.get("/mcp/whatsgate", &lines),
            other => panic!("{name}: profile {other:?}"),
        };
        let status = case["status"].as_u64().expect("status");
        let control_bytes = headers
            .iter()
            .any(|(_, v)| v.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f));
        let too_large = lines.iter().map(|l| l.len() + 2).sum::<usize>() > 16 * 1024;
        if too_large {
            assert_eq!(response.status, 431, "{name}");
            http_refused += 1;
            continue;
        }
        if control_bytes && response.status == 400 {
            http_refused += 1;
            continue;
        }
        let trimmed_by_http = headers.iter().any(|(_, v)| {
            let t = v.trim_ascii();
            t.len() != v.len() && v.len() > 4096
        });
        if trimmed_by_http {
            assert!(matches!(response.status, 200 | 401 | 403), "{name}");
            http_changed += 1;
            continue;
        }
        assert_eq!(u64::from(response.status), status, "{name}: {response:?}");
        match case["body"].as_str() {
            Some(body) => assert_eq!(response.body, body, "{name}"),
            None => {
                let principal: Value = serde_json::from_str(&response.body).expect("JSON");
                for key in ["account", "token_id", "token_name"] {
                    assert_eq!(principal[key], case["principal"][key], "{name}: {key}");
                }
            }
        }
        assert_eq!(
            response.header("www-authenticate"),
            case["www_authenticate"].as_str(),
            "{name}"
        );
        exact += 1;
    }
    eprintln!(
        "header corpus through the server: {exact} exact, {http_refused} refused by HTTP (400/431), \
         {http_changed} trimmed by HTTP, {skipped} not sendable (CR/LF)"
    );
    // Most of the corpus goes through authentication for real.
    assert!(exact >= 55, "only {exact} cases were checked exactly");
    assert!(!server.stderr().contains("panicked"));
}
