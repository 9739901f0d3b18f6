//! `wgauth token` with the record fields beyond the seed's (issue 14):
//! scopes, expiry, disable/enable, description, the lifetime policy,
//! revoke-all and prune, and the audit entries they leave; run as the real
//! binary against a temporary store.

mod common;

use common::Env;
use serde_json::Value;

fn assert_error(run: &common::Run, needle: &str) {
    assert_eq!(run.code, Some(2), "expected exit 2, got {run:?}");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "stdout not empty: {}", run.stdout);
}

fn ok(run: &common::Run) {
    assert_eq!(run.code, Some(0), "{run:?}");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The listing row of a token, by name.
fn row(env: &Env, name: &str) -> Value {
    env.list_json()
        .into_iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

/// The audit trail as JSON, oldest first.
fn audit(env: &Env) -> Vec<Value> {
    let out = env.run(&["audit", "--json", "--limit", "1000"]);
    ok(&out);
    let mut trail: Vec<Value> = serde_json::from_str(&out.stdout).expect("audit --json");
    trail.reverse();
    trail
}

fn create(env: &Env, args: &[&str]) -> common::Run {
    let mut all = vec!["token", "create", "--account", "acct_1"];
    all.extend_from_slice(args);
    env.run(&all)
}

#[test]
fn create_with_scopes_expiry_and_description_and_list_shows_them() {
    let env = Env::new();
    let before = now();
    let out = create(
        &env,
        &[
            "--name",
            "CI",
            "--scope",
            "messages:send",
            "--scope",
            "devices:*",
            "--scope",
            "messages:send",
            "--expires-in",
            "30d",
            "--description",
            "  the nightly job  ",
        ],
    );
    ok(&out);
    let token = out.stdout.trim().to_string();
    assert!(
        out.stderr.contains("devices:*,messages:send") && out.stderr.contains("expiring"),
        "{}",
        out.stderr
    );
    let ci = row(&env, "CI");
    assert_eq!(
        ci["scopes"],
        serde_json::json!(["devices:*", "messages:send"])
    );
    let expires = ci["expires_at"].as_u64().expect("expires_at");
    assert!((before + 30 * 86_400..=now() + 30 * 86_400).contains(&expires));
    assert_eq!(ci["description"], "the nightly job");
    assert_eq!(
        (&ci["disabled"], &ci["status"]),
        (&false.into(), &"active".into())
    );
    // The token works (scopes are the server's business, not verify's).
    ok(&env.verify(&token));

    // A plain token: full access, never expires.
    env.create("acct_1", "Plain");
    let plain = row(&env, "Plain");
    assert!(plain["scopes"].is_null() && plain["expires_at"].is_null());
    assert!(plain["description"].is_null());

    let table = env.run(&["token", "list"]);
    ok(&table);
    let header = table.stdout.lines().next().expect("header");
    for column in ["EXPIRES", "SCOPES", "STATUS"] {
        assert!(header.contains(column), "{header}");
    }
    let ci_line = table
        .stdout
        .lines()
        .find(|l| l.contains(" CI "))
        .expect("CI");
    assert!(ci_line.contains("devices:*,messages:send") && ci_line.contains("active"));
    let plain_line = table
        .stdout
        .lines()
        .find(|l| l.contains("Plain"))
        .expect("Plain");
    assert!(plain_line.contains("full access") && plain_line.contains("never"));
}

#[test]
fn bad_scopes_descriptions_and_expiries_are_refused_and_change_nothing() {
    let env = Env::new();
    env.create("acct_1", "Existing");
    let many: Vec<String> = (0..65).map(|i| format!("r{i}:read")).collect();
    let mut too_many = vec!["--name", "Many"];
    for scope in &many {
        too_many.extend(["--scope", scope.as_str()]);
    }
    assert_error(
        &create(&env, &too_many),
        "65 scopes given; a token carries at most 64",
    );
    // 64 is fine (the control: the 65th is what is refused).
    let mut sixty_four = vec!["--name", "Sixty-four"];
    for scope in &many[..64] {
        sixty_four.extend(["--scope", scope.as_str()]);
    }
    ok(&create(&env, &sixty_four));

    for scope in [
        "Messages:send",
        "messages",
        "messages:",
        ":send",
        "a:b:c",
        "1x:y",
        "x:*y",
    ] {
        let out = create(&env, &["--name", "Bad", "--scope", scope]);
        assert_error(&out, "is not a scope: write resource:action");
    }
    let long = "d".repeat(257);
    for (args, needle) in [
        (vec!["--description", long.as_str()], "too long"),
        (vec!["--description", "   "], "must not be empty"),
        (
            vec!["--expires-in", "-1d"],
            "--expires-in cannot be negative",
        ),
        (vec!["--expires-in", "0"], "must be longer than 0"),
        (vec!["--expires-in", "soon"], "is not a duration"),
    ] {
        let mut all = vec!["--name", "Bad"];
        all.extend(args);
        assert_error(&create(&env, &all), needle);
    }
    assert_eq!(env.list_json().len(), 2, "nothing was created");
}

#[test]
fn update_renames_rescopes_describes_disables_and_enables() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "A");
    env.create("acct_1", "Taken");
    ok(&env.verify(&token));

    // Disable: refused with the seed's answer; enable: accepted again.
    ok(&env.run(&["token", "update", &id, "--disable"]));
    assert_eq!(row(&env, "A")["status"], "disabled");
    let refused = env.verify(&token);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(refused.stderr.trim(), "invalid Access-Token");
    let listed = env.run(&["token", "list", "--disabled"]);
    ok(&listed);
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
    ok(&env.run(&["token", "update", &id, "--enable"]));
    ok(&env.verify(&token));

    // By account and name: rename, scopes and description at once.
    let out = env.run(&[
        "token",
        "update",
        "--account",
        "acct_1",
        "--name",
        "A",
        "--rename",
        "Renamed",
        "--scope",
        "messages:send",
        "--description",
        "sends only",
    ]);
    ok(&out);
    let renamed = row(&env, "Renamed");
    assert_eq!(renamed["id"], id.as_str());
    assert_eq!(renamed["scopes"], serde_json::json!(["messages:send"]));
    assert_eq!(renamed["description"], "sends only");
    ok(&env.verify(&token));
    ok(&env.run(&["token", "update", &id, "--full-access", "--no-description"]));
    let back = row(&env, "Renamed");
    assert!(back["scopes"].is_null() && back["description"].is_null());

    // Refusals, each changing nothing.
    assert_error(
        &env.run(&["token", "update", &id, "--rename", "Taken"]),
        "already has a token named \"Taken\"",
    );
    assert_error(
        &env.run(&["token", "update", "0123456789abcdef", "--disable"]),
        "no token has id 0123456789abcdef",
    );
    assert_error(
        &env.run(&[
            "token",
            "update",
            "--account",
            "acct_1",
            "--name",
            "Nope",
            "--disable",
        ]),
        "has no token named \"Nope\"",
    );
    assert_error(
        &env.run(&["token", "update", &id, "--scope", "Bad"]),
        "is not a scope",
    );
    // Nothing to change, or contradictions: usage errors.
    for args in [
        vec!["token", "update", id.as_str()],
        vec!["token", "update", id.as_str(), "--disable", "--enable"],
        vec![
            "token",
            "update",
            id.as_str(),
            "--scope",
            "a:b",
            "--full-access",
        ],
        vec![
            "token",
            "update",
            id.as_str(),
            "--description",
            "x",
            "--no-description",
        ],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
    }
    assert_eq!(row(&env, "Renamed")["status"], "active");
    assert!(row(&env, "Renamed")["scopes"].is_null());
    ok(&env.verify(&token));
}

#[test]
fn the_grace_period_is_capped_by_the_lifetime_policy() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "A");
    // The example: accepted before, refused now, and nothing changes.
    for (grace, needle) in [
        ("100000000000d", "a grace period may last at most 30 days"),
        ("31d", "a grace period may last at most 30 days"),
        ("-1d", "--grace cannot be negative"),
        ("-5", "--grace cannot be negative"),
    ] {
        let out = env.run(&["token", "regenerate", &id, "--grace", grace]);
        assert_error(&out, needle);
        ok(&env.verify(&token));
    }
    let refused = env.run(&["token", "regenerate", &id, "--grace", "31d"]);
    assert!(refused.stderr.contains("--max-grace"), "{}", refused.stderr);
    // The cap itself is fine, and a larger cap lets more through.
    let out = env.run(&["token", "regenerate", &id, "--grace", "30d"]);
    ok(&out);
    let new = out.stdout.trim().to_string();
    ok(&env.verify(&token));
    ok(&env.verify(&new));
    ok(&env.run(&[
        "token",
        "regenerate",
        &id,
        "--grace",
        "31d",
        "--max-grace",
        "60d",
    ]));
    // From the environment too.
    let out = env.run_with(
        &["token", "regenerate", &id, "--grace", "2d"],
        &[("WGAUTH_MAX_GRACE", "1d")],
        None,
    );
    assert_error(&out, "at most 1 day ");
}

#[test]
fn a_maximum_lifetime_bounds_new_tokens() {
    let env = Env::new();
    let before = now();
    ok(&create(
        &env,
        &["--name", "Bounded", "--max-lifetime", "7d"],
    ));
    let expires = row(&env, "Bounded")["expires_at"]
        .as_u64()
        .expect("expiry given");
    assert!((before + 7 * 86_400..=now() + 7 * 86_400).contains(&expires));
    assert_error(
        &create(
            &env,
            &[
                "--name",
                "Long",
                "--max-lifetime",
                "7d",
                "--expires-in",
                "8d",
            ],
        ),
        "tokens may live at most 7 days",
    );
    let out = env.run_with(
        &[
            "token",
            "create",
            "--account",
            "acct_1",
            "--name",
            "Env",
            "--expires-in",
            "2d",
        ],
        &[("WGAUTH_MAX_LIFETIME", "1d")],
        None,
    );
    assert_error(&out, "tokens may live at most 1 day");
    ok(&create(
        &env,
        &[
            "--name",
            "Short",
            "--max-lifetime",
            "7d",
            "--expires-in",
            "1d",
        ],
    ));
    // Without a policy, no expiry.
    ok(&create(&env, &["--name", "Forever"]));
    assert!(row(&env, "Forever")["expires_at"].is_null());
}

/// Ages a token's expiry into the past, as time passing would (the policy
/// refuses a past expiry, so only the store's file can say it).
fn expire(env: &Env, id: &str) {
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute("UPDATE tokens SET expires_at = 1000 WHERE id = ?1", [id])
        .expect("expire");
}

#[test]
fn expired_tokens_are_refused_listed_by_filter_and_pruned() {
    let env = Env::new();
    let (old, old_id) = env.create("acct_1", "Old");
    let (live, _) = env.create("acct_1", "Live");
    ok(&create(&env, &["--name", "Later", "--expires-in", "1d"]));
    // Control: before it expires, it works and no filter lists it.
    ok(&env.verify(&old));
    let out = env.run(&["token", "list", "--expired", "--json"]);
    ok(&out);
    assert_eq!(out.stdout.trim(), "[]");

    expire(&env, &old_id);
    let refused = env.verify(&old);
    assert_eq!(refused.code, Some(1));
    assert_eq!(refused.stderr.trim(), "invalid Access-Token");
    let out = env.run(&["token", "list", "--expired", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (&rows[0]["id"], &rows[0]["status"]),
        (&old_id.as_str().into(), &"expired".into())
    );
    assert_eq!(row(&env, "Later")["status"], "active");

    let out = env.run(&["token", "prune"]);
    ok(&out);
    assert!(
        out.stderr.contains("deleted 1 expired token"),
        "{}",
        out.stderr
    );
    assert!(env.id_of("acct_1", "Old").is_none());
    assert_eq!(env.list_json().len(), 2);
    ok(&env.verify(&live));
    let out = env.run(&["token", "prune"]);
    assert!(
        out.stderr.contains("deleted 0 expired tokens"),
        "{}",
        out.stderr
    );
    let trail = audit(&env);
    let pruned = trail
        .iter()
        .find(|e| e["action"] == "token.prune")
        .expect("audited");
    assert_eq!(
        (&pruned["token_id"], &pruned["actor"]),
        (&old_id.as_str().into(), &"wgauth".into())
    );
}

#[test]
fn revoke_all_asks_first_and_deletes_only_that_account() {
    let env = Env::new();
    let (a, _) = env.create("acct_1", "A");
    let (b, _) = env.create("acct_1", "B");
    let (other, _) = env.create("acct_2", "A");
    // No terminal to ask on: refused, nothing deleted.
    let out = env.run(&["token", "revoke-all", "--account", "acct_1"]);
    assert_error(&out, "pass --yes to confirm");
    assert!(
        out.stderr
            .contains("Delete all 2 tokens of account \"acct_1\""),
        "{}",
        out.stderr
    );
    assert_eq!(env.list_json().len(), 3);
    ok(&env.verify(&a));

    let out = env.run(&["token", "revoke-all", "--account", "acct_1", "--yes"]);
    ok(&out);
    assert!(out.stderr.contains("deleted 2 tokens"), "{}", out.stderr);
    for token in [&a, &b] {
        assert_eq!(env.verify(token).code, Some(1));
    }
    ok(&env.verify(&other));
    let revoked: Vec<Value> = audit(&env)
        .into_iter()
        .filter(|e| e["action"] == "token.revoke_all")
        .collect();
    assert_eq!(revoked.len(), 2);
    assert!(
        revoked
            .iter()
            .all(|e| e["account"] == "acct_1" && e["actor"] == "wgauth")
    );
    let out = env.run(&["token", "revoke-all", "--account", "acct_1"]);
    ok(&out);
    assert!(out.stderr.contains("has no tokens"), "{}", out.stderr);
}

#[test]
fn every_token_command_leaves_an_audit_entry_and_no_secret() {
    let env = Env::new();
    let (first, id) = env.create("acct_1", "A");
    ok(&env.run(&["token", "update", &id, "--disable"]));
    let out = env.run(&["token", "regenerate", &id]);
    ok(&out);
    let second = out.stdout.trim().to_string();
    ok(&env.run(&["token", "delete", &id]));
    let trail = audit(&env);
    let seen: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("wgauth", "token.create"),
            ("wgauth", "token.update"),
            ("wgauth", "token.regenerate"),
            ("wgauth", "token.delete"),
        ]
    );
    assert!(trail.iter().all(|e| e["token_id"] == id.as_str()));
    let table = env.run(&["audit"]);
    ok(&table);
    for text in [
        table.stdout.as_str(),
        &serde_json::to_string(&trail).expect("JSON"),
    ] {
        for token in [&first, &second] {
            assert!(
                !text.contains(token.as_str()) && !text.contains(&token[5..]),
                "{text}"
            );
        }
    }
    assert!(table.stdout.contains("token.update") && table.stdout.contains("disabled"));
}
