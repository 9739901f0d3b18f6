//! Every `wgauth` command, run as the real binary against a temporary store.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Env, WGAUTH};

fn assert_error(run: &common::Run, needle: &str) {
    assert_eq!(run.code, Some(2), "expected exit 2, got {run:?}");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "stdout not empty: {}", run.stdout);
}

/// `compact` deletes the change log's old rows but no token, keeps the
/// newest row, and refuses a bad duration.
#[test]
fn compact_deletes_old_change_rows_and_no_token() {
    let env = Env::new();
    let (token, _) = env.create("acct_42", "Production API");
    env.create("acct_42", "Testing");
    let kept = env.run(&["compact"]);
    assert_eq!(kept.code, Some(0), "{kept:?}");
    assert!(
        kept.stdout
            .starts_with("deleted 0 change-log row(s) written before "),
        "{}",
        kept.stdout
    );
    // Written a moment ago: with --keep 0s they are all older than "now",
    // but the newest stays. (A row written this very second is not older.)
    std::thread::sleep(Duration::from_millis(1100));
    let out = env.run(&["compact", "--keep", "0s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("deleted 1 change-log row(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(env.list_json().len(), 2);
    assert_eq!(env.verify(&token).code, Some(0));
    assert_error(
        &env.run(&["compact", "--keep", "soon"]),
        "is not a duration",
    );
}

#[test]
fn create_prints_the_token_alone_on_stdout() {
    let env = Env::new();
    let out = env.run(&[
        "token",
        "create",
        "--account",
        "acct_42",
        "--name",
        "Production API",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {:?}", out.stdout);
    let token = lines[0];
    assert!(token.starts_with("wgat_") && token.len() == 55, "{token}");
    assert!(!out.stderr.contains(token), "the token leaked to stderr");
    assert!(out.stderr.contains("created token"), "{}", out.stderr);
    // It verifies, and names its account and token.
    let v = env.verify(token);
    assert_eq!(v.code, Some(0), "{v:?}");
    assert!(v.stdout.contains("acct_42") && v.stdout.contains("Production API"));
}

#[test]
fn the_store_holds_verifiers_never_tokens() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "Testing");
    let secret_part = &token[5..];
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(env.dir.path()).expect("dir") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // Positive control: the store files do hold the public id and account.
    assert!(find(id.as_bytes()) && find(b"acct_1"));
    assert!(!find(token.as_bytes()), "the token is stored");
    assert!(!find(secret_part.as_bytes()), "the token body is stored");
    // Nor does a listing show the token or the verifier.
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    let verifier: Vec<u8> = conn
        .query_row("SELECT verifier FROM tokens", [], |r| r.get(0))
        .expect("verifier");
    let verifier_hex: String = verifier.iter().map(|b| format!("{b:02x}")).collect();
    for args in [&["token", "list"][..], &["token", "list", "--json"]] {
        let out = env.run(args);
        assert_eq!(out.code, Some(0));
        assert!(out.stdout.contains(&id));
        assert!(!out.stdout.contains(&token) && !out.stdout.contains(secret_part));
        assert!(!out.stdout.contains(&verifier_hex));
    }
}

#[test]
fn duplicate_and_bad_names_are_refused_and_change_nothing() {
    let env = Env::new();
    env.create("acct_1", "Production API");
    let dup = env.run(&[
        "token",
        "create",
        "--account",
        "acct_1",
        "--name",
        "Production API",
    ]);
    assert_error(&dup, "already has a token named \"Production API\"");
    // Names are trimmed, so this is the same name.
    let dup = env.run(&[
        "token",
        "create",
        "--account",
        "acct_1",
        "--name",
        "  Production API ",
    ]);
    assert_error(&dup, "already has a token named");
    // The same name in another account is fine.
    env.create("acct_2", "Production API");
    let long = "n".repeat(65);
    for (account, name, needle) in [
        ("acct_1", "", "must not be empty"),
        ("acct_1", "   ", "must not be empty"),
        ("acct_1", long.as_str(), "too long"),
        ("acct_1", "bad\nname", "control characters"),
        ("", "ok", "must not be empty"),
        (" acct", "ok", "whitespace"),
    ] {
        let out = env.run(&["token", "create", "--account", account, "--name", name]);
        assert_error(&out, needle);
    }
    assert_eq!(env.list_json().len(), 2);
}

#[test]
fn list_filters_and_formats() {
    let env = Env::new();
    let missing = env.run(&["token", "list"]);
    assert_error(&missing, "no token store at");
    assert!(!env.db.exists(), "list must not create a store");

    env.create("acct_1", "Production API");
    env.create("acct_1", "Testing");
    env.create("acct_2", "Other");
    let table = env.run(&["token", "list"]);
    assert_eq!(table.code, Some(0));
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    for column in ["ID", "ACCOUNT", "NAME", "CREATED", "LAST USED"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    assert!(lines[1].contains("never"));

    let one = env.run(&["token", "list", "--account", "acct_2"]);
    assert_eq!(one.stdout.lines().count(), 2);
    assert!(one.stdout.contains("Other") && !one.stdout.contains("Testing"));

    let json = env.run(&["token", "list", "--json", "--account", "acct_1"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let mut keys: Vec<&str> = row
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account",
                "created_at",
                "description",
                "disabled",
                "expires_at",
                "grace_until",
                "id",
                "last_used_at",
                "name",
                "rollover_until",
                "scopes",
                "status"
            ]
        );
        // Full access (null), no expiry, enabled: what a plain create makes.
        assert!(row["scopes"].is_null() && row["expires_at"].is_null());
        assert_eq!(
            (&row["disabled"], &row["status"]),
            (&false.into(), &"active".into())
        );
        assert_eq!(row["id"].as_str().expect("id").len(), 16);
        assert!(row["last_used_at"].is_null());
    }
    let empty = env.run(&["token", "list", "--json", "--account", "nobody"]);
    assert_eq!(empty.stdout.trim(), "[]");
}

#[test]
fn delete_by_id_and_by_name() {
    let env = Env::new();
    let (t1, id1) = env.create("acct_1", "Production API");
    let (t2, _) = env.create("acct_1", "Testing");

    let out = env.run(&["token", "delete", &id1]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.verify(&t1).code, Some(1));
    assert_eq!(env.verify(&t2).code, Some(0));

    assert_error(&env.run(&["token", "delete", &id1]), "no token has id");
    assert_error(
        &env.run(&["token", "delete", "not-an-id"]),
        "16 hexadecimal digits",
    );
    assert_error(
        &env.run(&["token", "delete", "--account", "acct_1", "--name", "Nope"]),
        "has no token named \"Nope\"",
    );
    assert_error(
        &env.run(&["token", "delete", "--account", "acct_1"]),
        "--name",
    );
    assert_eq!(env.run(&["token", "delete"]).code, Some(2));
    assert_eq!(
        env.run(&["token", "delete", &id1, "--account", "a"]).code,
        Some(2)
    );

    let out = env.run(&[
        "token",
        "delete",
        "--account",
        "acct_1",
        "--name",
        "Testing",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.verify(&t2).code, Some(1));
    assert!(env.list_json().is_empty());
}

#[test]
fn regenerate_replaces_the_secret_with_or_without_grace() {
    let env = Env::new();
    let (old, id) = env.create("acct_1", "Production API");

    let out = env.run(&["token", "regenerate", &id, "--grace", "10m"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let new = out.stdout.trim().to_string();
    assert_eq!(out.stdout.lines().count(), 1);
    assert_ne!(new, old);
    assert!(out.stderr.contains("keeps working until"));
    // Same id: the id is the token's public part.
    assert_eq!(env.id_of("acct_1", "Production API").as_deref(), Some(&*id));
    assert_eq!(env.verify(&new).code, Some(0));
    assert_eq!(env.verify(&old).code, Some(0), "grace period");
    let rows = env.list_json();
    assert!(rows[0]["rollover_until"].is_u64());
    assert_eq!(
        rows[0]["grace_until"], rows[0]["rollover_until"],
        "the former name"
    );
    let table = env.run(&["token", "list"]);
    assert!(table.stdout.contains("old secret accepted until"));

    let out = env.run(&["token", "regenerate", &id]);
    assert_eq!(out.code, Some(0));
    let newest = out.stdout.trim().to_string();
    assert!(out.stderr.contains("refused from now on"));
    assert_eq!(env.verify(&newest).code, Some(0));
    assert_eq!(env.verify(&new).code, Some(1));
    assert_eq!(env.verify(&old).code, Some(1));
    assert!(env.list_json()[0]["rollover_until"].is_null());
    assert!(env.list_json()[0]["grace_until"].is_null());

    assert_error(
        &env.run(&["token", "regenerate", "0123456789abcdef"]),
        "no token has id",
    );
    assert_error(
        &env.run(&["token", "regenerate", &id, "--grace", "10 parsecs"]),
        "not a duration",
    );
}

/// `-1d` looks like a flag to clap ("unexpected argument '-1'"); either
/// spelling gets one plain sentence, and the token is left as it was.
#[test]
fn a_negative_grace_gets_a_plain_message() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "A");
    for args in [
        &["token", "regenerate", &id, "--grace", "-1d"][..],
        &["token", "regenerate", &id, "--grace=-1d"],
        &["token", "regenerate", "--grace", "-10m", &id],
    ] {
        let out = env.run(args);
        assert_error(&out, "--grace cannot be negative");
        assert!(
            out.stderr.starts_with("wgauth: error: ") && out.stderr.lines().count() == 1,
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(env.verify(&token).code, Some(0), "not regenerated");
}

/// `--db` is optional (WGAUTH_DB or the default): usage lines never show it
/// as required, and --help never shows WGAUTH_DB's value (a PostgreSQL URL
/// may hold a password).
#[test]
fn usage_lines_do_not_show_the_optional_db_as_required() {
    let env = Env::new();
    let db = env.db.to_str().unwrap();
    for (args, via_env) in [
        (&["token", "regenerate"][..], true),
        (&["--db", db, "token", "regenerate"], false),
        (&["token", "create", "--account", "a"], true),
        (&["--db", db, "token", "delete", "--account", "a"], false),
    ] {
        let mut command = Command::new(WGAUTH);
        command.args(args).env_remove("WGAUTH_DB");
        if via_env {
            command.env("WGAUTH_DB", db);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let usage = stderr
            .lines()
            .find(|l| l.starts_with("Usage: "))
            .unwrap_or_else(|| panic!("{args:?}: no usage line: {stderr}"));
        assert!(!usage.contains("--db"), "{args:?}: {usage}");
        assert_eq!(out.status.code(), Some(2));
    }
    let out = Command::new(WGAUTH)
        .args(["token", "create", "--help"])
        .env(
            "WGAUTH_DB",
            "postgresql://wgauth:hunter2@db.internal/tokens",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--db <URL>") && help.contains("WGAUTH_DB"),
        "{help}"
    );
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn verify_reads_stdin_or_the_environment_and_answers_with_the_seeds_messages() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "Production API");

    let ok = env.verify(&token);
    assert_eq!(ok.code, Some(0));
    assert!(ok.stdout.contains(&id));
    let ok = env.run_with(&["verify", "--json"], &[("WGAUTH_TOKEN", &token)], None);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let principal: serde_json::Value = serde_json::from_str(&ok.stdout).expect("JSON");
    assert_eq!(
        principal,
        serde_json::json!({"account": "acct_1", "token_id": id, "token_name": "Production API"})
    );
    // Without a trailing newline, and with surrounding blanks.
    let ok = env.run_with(&["verify"], &[], Some(format!(" {token}\t").as_bytes()));
    assert_eq!(ok.code, Some(0), "{ok:?}");

    let refused = |run: common::Run, message: &str| {
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(run.stderr.trim(), message);
        assert!(run.stdout.is_empty());
    };
    refused(env.verify(""), "an Access-Token is required");
    refused(
        env.run_with(&["verify"], &[], None),
        "an Access-Token is required",
    );
    refused(env.verify("wgat_nope"), "invalid Access-Token");
    let mut wrong = token.clone().into_bytes();
    wrong[20] = if wrong[20] == b'A' { b'B' } else { b'A' };
    refused(
        env.verify(std::str::from_utf8(&wrong).expect("ascii")),
        "invalid Access-Token",
    );
    refused(
        env.run_with(
            &["verify"],
            &[],
            Some(format!("{token}\n{token}\n").as_bytes()),
        ),
        "invalid Access-Token",
    );
    refused(
        env.run_with(&["verify"], &[], Some(b"\xff\xfe\x00garbage")),
        "invalid Access-Token",
    );
    refused(
        env.run_with(&["verify"], &[], Some(&vec![b'a'; 100_000])),
        "invalid Access-Token",
    );
    // The token is never taken from the command line.
    let argv = env.run(&["verify", &token]);
    assert_eq!(argv.code, Some(2));
}

#[test]
fn a_store_from_a_newer_wgauth_is_refused_untouched() {
    let env = Env::new();
    let (token, _) = env.create("acct_1", "Production API");
    // Positive control: at the current version the store works.
    assert_eq!(env.verify(&token).code, Some(0));
    {
        let conn = rusqlite::Connection::open(&env.db).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    for args in [
        &["token", "list"][..],
        &["token", "create", "--account", "a", "--name", "n"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = env.run(args);
        assert_error(&out, "newer wgauth (schema version 99");
    }
    assert_error(&env.verify(&token), "newer wgauth");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 99);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 1);
}

#[test]
fn the_new_store_is_versioned_and_in_wal_mode() {
    let env = Env::new();
    env.create("acct_1", "x");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("app id");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    // Schema version 4: the tokens table (with scopes, expiry, disabled,
    // description), the change log, the audit trail.
    assert_eq!(version, 4);
    assert_eq!(app, 0x5747_4154);
    assert_eq!(mode, "wal");
}

/// Under umask 022 (files 0644 by default), the store wgauth creates, its
/// `-wal` and `-shm` files (created by SQLite while the server holds the
/// store open) and the demo's header file are 0600; the directory's other
/// files and the directory itself keep their modes. The control: a file
/// the same shell creates is 0644, so the umask was in force.
#[test]
fn store_files_are_private_under_umask_022() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let dir = env.dir.path();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    std::fs::write(dir.join("other.txt"), "not ours").unwrap();
    std::fs::set_permissions(
        dir.join("other.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let dir_mode = mode(dir);
    let mut server = Command::new("sh")
        .current_dir(dir)
        .args([
            "-c",
            "umask 022 && touch control.txt && exec \"$0\" --db tokens.db serve --demo --listen 127.0.0.1:0",
            WGAUTH,
        ])
        .env_remove("WGAUTH_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The demo's text ends with the delete command, once all is written.
    let stdout = server.stdout.take().unwrap();
    let mut started = false;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("token delete") {
            started = true;
            break;
        }
    }
    assert!(started, "the server did not start");
    let checked = [
        "tokens.db",
        "tokens.db-wal",
        "tokens.db-shm",
        "wgauth-demo.header",
    ];
    let modes: Vec<u32> = checked.iter().map(|f| mode(&dir.join(f))).collect();
    let _ = server.kill();
    let _ = server.wait();
    let octal: Vec<String> = modes.iter().map(|m| format!("{m:o}")).collect();
    assert_eq!(modes, [0o600; 4], "{checked:?}: {octal:?}");
    assert_eq!(
        mode(&dir.join("control.txt")),
        0o644,
        "umask 022 was in force"
    );
    assert_eq!(mode(&dir.join("other.txt")), 0o644, "another file changed");
    assert_eq!(mode(dir), dir_mode, "the directory changed");
}

#[test]
fn files_that_are_not_stores_are_refused_untouched() {
    let env = Env::new();
    std::fs::write(&env.db, b"this is not a database, just text\n".repeat(200)).expect("write");
    let before = std::fs::read(&env.db).expect("read");
    assert_error(&env.run(&["token", "list"]), "not a SQLite database");
    assert_error(
        &env.run(&["token", "create", "--account", "a", "--name", "n"]),
        "not a SQLite database",
    );
    assert_eq!(std::fs::read(&env.db).expect("read"), before);

    let other = env.dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).expect("open");
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
            .expect("create");
    }
    let out = common::run_wgauth(&other, &["token", "list"], &[], None);
    assert_error(&out, "tables of another program");
    {
        let conn = rusqlite::Connection::open(&other).expect("open");
        conn.pragma_update(None, "application_id", 42)
            .expect("app id");
    }
    let out = common::run_wgauth(&other, &["token", "list"], &[], None);
    assert_error(&out, "application id belongs to another program");
    let versioned = env.dir.path().join("versioned.db");
    {
        let conn = rusqlite::Connection::open(&versioned).expect("open");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
    }
    let out = common::run_wgauth(&versioned, &["token", "list"], &[], None);
    assert_error(&out, "no wgauth application id");

    let out = common::run_wgauth(env.dir.path(), &["token", "list"], &[], None);
    assert_error(&out, "is a directory");
    let out = common::run_wgauth(
        &env.dir.path().join("no/such/dir/x.db"),
        &["token", "create", "--account", "a", "--name", "n"],
        &[],
        None,
    );
    assert_error(&out, "check that its folder exists");
}

#[test]
fn a_locked_store_gives_a_clear_error_then_works() {
    let env = Env::new();
    env.create("acct_1", "first");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute_batch("BEGIN EXCLUSIVE;").expect("lock");
    let out = env.run(&[
        "--busy-timeout",
        "200ms",
        "token",
        "create",
        "--account",
        "acct_1",
        "--name",
        "second",
    ]);
    assert_error(&out, "is locked by another process");
    conn.execute_batch("COMMIT;").expect("unlock");
    // Positive control: the same command works once the lock is gone.
    env.create("acct_1", "second");
    assert_eq!(env.list_json().len(), 2);
}

#[test]
fn killing_create_at_any_moment_leaves_no_token_or_a_whole_one() {
    let env = Env::new();
    env.create("acct_0", "warm-up");
    let mut killed = 0;
    let mut finished = 0;
    let mut shown = Vec::new();
    for i in 0..60u64 {
        let child = Command::new(WGAUTH)
            .arg("--db")
            .arg(&env.db)
            .args(["token", "create", "--account", "acct_k", "--name"])
            .arg(format!("token {i}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // From at once to well after the usual run time.
        std::thread::sleep(Duration::from_micros((i % 20) * 400));
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -9 {} 2>/dev/null", child.id())])
            .status();
        let out = child.wait_with_output().expect("wait");
        if out.status.code() == Some(0) {
            finished += 1;
            shown.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        } else {
            killed += 1;
        }
    }
    eprintln!("kill -9 loop: {killed} killed, {finished} finished");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(check, "ok");
    drop(conn);
    // Every row is a whole record (list validates each), and every token a
    // finished run printed works.
    let rows = env.list_json();
    assert!(
        rows.len() > finished,
        "{} rows, {finished} finished",
        rows.len()
    );
    assert!(rows.len() <= 61);
    for token in &shown {
        assert_eq!(env.verify(token).code, Some(0));
    }
    // The store is still usable.
    env.create("acct_0", "after");
}

#[test]
fn help_and_version_work() {
    let env = Env::new();
    for args in [&["--help"][..], &["token", "--help"], &["serve", "--help"]] {
        let out = env.run(args);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert!(out.stdout.contains("Usage"));
    }
    let out = env.run(&["--version"]);
    assert!(out.stdout.starts_with("wgauth "));
    assert_eq!(env.run(&["frobnicate"]).code, Some(2));
}

#[test]
fn wgauth_db_environment_variable_selects_the_store() {
    let env = Env::new();
    let db = env.dir.path().join("from-env.db");
    let out = Command::new(WGAUTH)
        .args(["token", "create", "--account", "a", "--name", "n"])
        .env("WGAUTH_DB", &db)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(db.exists());
}

#[test]
fn a_damaged_row_is_reported_not_served() {
    // The positive control for the checks above: reading the store
    // validates every row, so a half-written record could not pass unseen.
    let env = Env::new();
    env.create("acct_1", "fine");
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    conn.execute("UPDATE tokens SET name = 'a' || char(10) || 'b'", [])
        .expect("damage");
    drop(conn);
    assert_error(&env.run(&["token", "list"]), "damaged");
    // (`wgauth serve` refuses that row's token and serves the rest: see
    // tests/server.rs.)
    // The message names the row and what to do; and a damaged row never
    // blocks its removal.
    let id = {
        let conn = rusqlite::Connection::open(&env.db).expect("open");
        conn.query_row("SELECT id FROM tokens", [], |r| r.get::<_, String>(0))
            .expect("id")
    };
    let out = env.run(&["token", "list"]);
    assert!(
        out.stderr
            .contains(&format!("`wgauth token delete {id}` removes it")),
        "{}",
        out.stderr
    );
    let out = env.run(&["token", "delete", &id]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("its row was damaged"), "{}", out.stderr);
    assert!(env.list_json().is_empty());
}

#[test]
fn a_store_from_the_first_release_is_upgraded_and_keeps_its_tokens() {
    use whatsgate_auth::{AccountId, OsRng, Timestamp, TokenFormat, TokenName, TokenRecord};
    use whatsgate_auth_test_support::release1;
    let env = Env::new();
    // The first release's schema and INSERT, verbatim.
    let (token, record) = TokenRecord::create(
        &TokenFormat::DEFAULT,
        &mut OsRng,
        AccountId::new("acct_1").expect("account"),
        TokenName::new("Production API").expect("name"),
        Timestamp(1_700_000_000),
    )
    .expect("issue");
    {
        let conn = rusqlite::Connection::open(&env.db).expect("open");
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .expect("WAL");
        conn.execute_batch(&format!(
            "BEGIN; {} PRAGMA application_id = {}; PRAGMA user_version = 1; COMMIT;",
            release1::SQLITE_SCHEMA_V1,
            release1::SQLITE_APPLICATION_ID
        ))
        .expect("v1 schema");
        conn.execute(
            release1::SQLITE_INSERT,
            rusqlite::params![
                record.id.to_string(),
                "acct_1",
                "Production API",
                record.verifier.to_bytes(),
                1_700_000_000_i64,
                None::<i64>,
                None::<Vec<u8>>,
                None::<i64>
            ],
        )
        .expect("v1 row");
    }
    assert_eq!(env.verify(token.expose_secret()).code, Some(0));
    let rows = env.list_json();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], record.id.to_string());
    assert_eq!(rows[0]["created_at"], 1_700_000_000_u64);
    let conn = rusqlite::Connection::open(&env.db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 4);
    drop(conn);
    // And it is a working store: a deletion is recorded and refused.
    let out = env.run(&["token", "delete", &record.id.to_string()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.verify(token.expose_secret()).code, Some(1));
}

#[test]
fn db_takes_a_store_url_and_never_shows_a_password() {
    let env = Env::new();
    let url = format!("sqlite:{}", env.db.display());
    let out = common::run_wgauth(
        std::path::Path::new(&url),
        &["token", "create", "--account", "a", "--name", "n"],
        &[],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // The same file, by its path.
    assert_eq!(env.list_json().len(), 1);
    let out = Command::new(WGAUTH)
        .args(["token", "list", "--json"])
        .env("WGAUTH_DB", &url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"name\": \"n\""));

    let out = common::run_wgauth(
        std::path::Path::new("mysql://db.example/tokens"),
        &["token", "list"],
        &[],
        None,
    );
    assert_error(&out, "mysql:// is not a token store this release knows");
    // Nothing listens on port 1: the server cannot be reached.
    let out = common::run_wgauth(
        std::path::Path::new("postgresql://app:s3cret@127.0.0.1:1/tokens"),
        &["--busy-timeout", "2s", "token", "list"],
        &[],
        None,
    );
    assert_error(
        &out,
        "cannot reach the token store postgresql://app:***@127.0.0.1:1/tokens",
    );
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
}

#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let env = Env::new();
    env.create("acct_1", "first");
    let mut child = Command::new(WGAUTH)
        .arg("--db")
        .arg(&env.db)
        .args(["token", "create", "--account", "acct_1", "--name", "second"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the only reader before wgauth writes the token.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("could not be written to stdout"),
        "{stderr}"
    );
    assert!(stderr.contains("regenerate it"), "{stderr}");
    // The token exists (the message says so), as a whole record.
    assert!(env.id_of("acct_1", "second").is_some());

    // A listing into a closed pipe just stops.
    let mut child = Command::new(WGAUTH)
        .arg("--db")
        .arg(&env.db)
        .args(["token", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
}

#[test]
fn concurrent_creates_of_one_name_make_exactly_one_token() {
    // No store yet: the processes also race to create and migrate it.
    let env = Env::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(WGAUTH)
                .arg("--db")
                .arg(&env.db)
                .args(["token", "create", "--account", "acct_1", "--name", "race"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let winners = outs.iter().filter(|o| o.status.code() == Some(0)).count();
    assert_eq!(winners, 1);
    for o in outs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already has a token named"));
    }
    assert_eq!(env.list_json().len(), 1);
}
