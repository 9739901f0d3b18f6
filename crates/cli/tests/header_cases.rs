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
//! real clock, so grace periods and expiries keep their meaning; a case
//! with a required scope goes to a route declared with `--require-scope`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Env, Server};
use whatsgate_auth::{Profile, Timestamp, TokenRecord};
use whatsgate_auth_test_support::{ExpectedPrincipal, HeaderCorpus};

/// Writes the corpus's records into a fresh store, times shifted by `shift`.
fn fill_store(env: &Env, records: &[TokenRecord], shift: i64) {
    // Let wgauth create the store (schema, WAL), then replace its content.
    env.create("setup", "setup");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute("DELETE FROM tokens", []).expect("clear");
    let at = |t: Timestamp| i64::try_from(t.0).expect("timestamp") + shift;
    for r in records {
        let rollover = r.rollover.as_ref();
        // The store's scopes column: the names joined by spaces, NULL for
        // full access.
        let scopes = r.scopes.list().map(|list| {
            list.iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        });
        conn.execute(
            "INSERT INTO tokens (id, account, name, verifier, created_at, last_used_at, \
             rollover_verifier, rollover_until, scopes, expires_at, disabled, description) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                r.id.to_string(),
                r.account.as_str(),
                r.name.as_str(),
                r.verifier.to_bytes().to_vec(),
                at(r.created_at),
                r.last_used_at.map(at),
                rollover.map(|ro| ro.verifier.to_bytes().to_vec()),
                rollover.map(|ro| at(ro.until)),
                scopes,
                r.expires_at.map(at),
                r.disabled,
                r.description.as_ref().map(|d| d.as_str()),
            ],
        )
        .expect("insert record");
    }
}

#[test]
fn every_header_case_gets_the_same_answer_from_the_server() {
    let corpus = HeaderCorpus::load();
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let shift = i64::try_from(real_now).expect("now") - i64::try_from(corpus.now.0).expect("now");
    let env = Env::new();
    fill_store(&env, &corpus.records, shift);
    // A case with a required scope goes to a route that needs it: one
    // prefix per scope, declared with --require-scope.
    let mut scopes: Vec<&str> = corpus
        .cases
        .iter()
        .filter_map(|c| c.required_scope.as_deref())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let route = |scope: &str| {
        let n = scopes.iter().position(|s| *s == scope).expect("listed");
        (format!("/api/scoped-{n}"), format!("/mcp/scoped-{n}"))
    };
    let mut rules = Vec::new();
    for scope in &scopes {
        let (api, mcp) = route(scope);
        for prefix in [api, mcp] {
            rules.push("--require-scope".to_string());
            rules.push(format!("{prefix}={scope}"));
        }
    }
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let server = Server::start(&env.db, &rules);

    // A token whose verdict flips within a minute of the corpus's instant
    // (it expires, or its grace ends): the server reads the real clock, a
    // moment after the shift was computed, so such a case is not checked
    // here (the in-process runners pin the clock).
    let now = corpus.now.0;
    let flips = |r: &TokenRecord| {
        r.expires_at
            .into_iter()
            .chain(r.rollover.as_ref().map(|ro| ro.until))
            .any(|t| t.0 > now && t.0 <= now + 60)
    };
    let near: Vec<_> = corpus
        .records
        .iter()
        .filter(|r| flips(r))
        .map(|r| r.id)
        .collect();
    let names_near = |value: &[u8]| {
        let text = String::from_utf8_lossy(value);
        let token = text.trim();
        let token = token
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
            .map_or(token, |_| token[7..].trim());
        whatsgate_auth::host_records::parse(token.as_bytes()).is_ok_and(|t| near.contains(&t.id()))
    };
    let (mut exact, mut http_refused, mut skipped, mut timed) = (0, 0, 0, 0);
    for case in &corpus.cases {
        let name = &case.name;
        let headers = &case.headers;
        if headers
            .iter()
            .any(|(_, v)| v.contains(&b'\r') || v.contains(&b'\n'))
        {
            skipped += 1;
            continue;
        }
        if headers.iter().any(|(_, v)| names_near(v)) {
            timed += 1;
            continue;
        }
        let lines: Vec<Vec<u8>> = headers
            .iter()
            .map(|(n, v)| [n.as_bytes(), b": ", v].concat())
            .collect();
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let response = match (case.profile, case.required_scope.as_deref()) {
            (Profile::Rest, None) => server.seed_example(&lines),
            (Profile::Mcp, None) => server.get("/mcp/whatsgate", &lines),
            (Profile::Rest, Some(scope)) => server.get(&route(scope).0, &lines),
            (Profile::Mcp, Some(scope)) => server.get(&route(scope).1, &lines),
        };
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
        assert_eq!(response.status, case.status, "{name}: {response:?}");
        match &case.body {
            Some(body) => assert_eq!(&response.body, body, "{name}"),
            None => {
                let principal: ExpectedPrincipal =
                    serde_json::from_str(&response.body).expect("a principal as JSON");
                assert_eq!(Some(&principal), case.principal.as_ref(), "{name}");
            }
        }
        assert_eq!(
            response.header("www-authenticate"),
            case.www_authenticate.as_deref(),
            "{name}"
        );
        exact += 1;
    }
    eprintln!(
        "header corpus through the server: {exact} exact, {http_refused} refused by HTTP (400/431), \
         {skipped} not sendable (CR/LF), {timed} within a minute of a verdict's change"
    );
    // Only the token that expires a second after the corpus's instant.
    assert_eq!(near.len(), 1, "{near:?}");
    // Most of the corpus goes through authentication for real.
    assert!(exact >= 75, "only {exact} cases were checked exactly");
    assert!(!server.stderr().contains("panicked"));
}
