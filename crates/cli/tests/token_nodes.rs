//! `wgauth token update` in one process, seen by two `wgauth serve` nodes
//! on the same store: a disabled token is refused by both with the seed's
//! answer (and accepted again once enabled), and a narrowed scope is
//! refused on a route that needs another, naming it. The control for each
//! step is the answer before the update.

mod common;

use std::time::Duration;

use common::{Env, INVALID, Server};

/// Polls until the node answers `GET path` with the token as wanted.
fn until(node: &Server, path: &str, token: &str, status: u16) -> Option<common::Response> {
    let header = format!("Access-Token: {token}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = node.get(path, &[header.as_bytes()]);
        if r.status == status {
            return Some(r);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn disable_enable_and_rescope_from_another_process_reach_every_node() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "Production API");
    let db = env.db.clone();
    let nodes: Vec<Server> = (0..2)
        .map(|_| Server::start(&db, &["--require-scope", "/api/check=devices:read"]))
        .collect();
    for node in &nodes {
        assert!(
            until(node, "/api/check", &token, 200).is_some(),
            "{}",
            node.stderr()
        );
    }

    let out = env.run(&["token", "update", &id, "--disable"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for (i, node) in nodes.iter().enumerate() {
        let r = until(node, "/api/check", &token, 403)
            .unwrap_or_else(|| panic!("node {i} still accepts a disabled token"));
        assert_eq!(
            r.body, INVALID,
            "a disabled token is answered as any bad token"
        );
    }

    let out = env.run(&["token", "update", &id, "--enable"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for (i, node) in nodes.iter().enumerate() {
        assert!(
            until(node, "/api/check", &token, 200).is_some(),
            "node {i} never accepted the enabled token again"
        );
    }

    let out = env.run(&["token", "update", &id, "--scope", "messages:send"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for (i, node) in nodes.iter().enumerate() {
        let r = until(node, "/api/check", &token, 403)
            .unwrap_or_else(|| panic!("node {i} never saw the narrower scope"));
        assert_eq!(
            r.body, r#"{"message": "the token lacks the scope devices:read"}"#,
            "node {i}"
        );
    }
}
