//! `wgauth scan`, the real binary: findings with exact places and ids in
//! files of several kinds, .gitignore, binaries, stdin, `--json`, exit
//! statuses, `--revoke` against a temporary SQLite store, odd input that
//! must not crash it, and no token secret ever on stdout or stderr (the
//! control shows that search catching a printed token).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Env, Run, WGAUTH};
use whatsgate_auth_test_support::TokenVectors;

/// `wgauth [--db DB] scan ARGS…` run in `dir`, stdin from `stdin`.
fn scan_in(dir: &Path, db: Option<&Path>, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(WGAUTH);
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    let mut child = cmd
        .arg("scan")
        .args(args)
        .current_dir(dir)
        .env_remove("WGAUTH_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wgauth");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for wgauth");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn scan(dir: &Path, args: &[&str]) -> Run {
    scan_in(dir, None, args, b"")
}

/// Whether `text` shows `token` or 12 characters of its secret part (the
/// body's first 12 characters are the version and the public id).
fn shows(text: &str, token: &str) -> bool {
    let secret = &token["wgat_".len() + 12..];
    text.contains(token) || (0..=secret.len() - 12).any(|i| text.contains(&secret[i..i + 12]))
}

/// Asserts that no output of `run` shows any of `tokens`.
fn quiet(run: &Run, tokens: &[&str]) {
    for t in tokens {
        assert!(
            !shows(&run.stdout, t),
            "stdout shows a token: {}",
            run.stdout
        );
        assert!(
            !shows(&run.stderr, t),
            "stderr shows a token: {}",
            run.stderr
        );
    }
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// A token with one body character changed: its checksum fails.
fn look_alike(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    b[30] = if b[30] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ASCII")
}

struct Vectors {
    tokens: Vec<String>,
    ids: Vec<String>,
}

fn vectors() -> Vectors {
    let v = TokenVectors::load();
    Vectors {
        tokens: v.valid.iter().map(|x| x.token.clone()).collect(),
        ids: v.valid.iter().map(|x| x.id.clone()).collect(),
    }
}

#[test]
fn finds_tokens_with_their_place_and_id_in_files_of_several_kinds() {
    let v = vectors();
    let (t, id) = (&v.tokens, &v.ids);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "src/main.rs",
        format!("fn main() {{\n    let t = \"{}\";\n}}\n", t[0]),
    );
    write(
        d,
        "config.json",
        format!("{{\"a\": 1,\n \"log\": \"x\\n{}\"}}\n", t[1]),
    );
    write(d, ".env", format!("# prod\r\nWGAUTH_TOKEN={}\r\n", t[2]));
    write(
        d,
        "docs/notes.md",
        format!(
            "see https://h/?access_token={}&x=1 and {}\n",
            t[3],
            look_alike(&t[4])
        ),
    );
    // Latin-1 (not UTF-8) around it, and a line of 1 MB before it.
    let mut latin1 = vec![b'x'; 1 << 20];
    latin1.extend_from_slice(b"\ncaf\xe9");
    latin1.extend_from_slice(t[5].as_bytes());
    latin1.extend_from_slice(b"\xe9\n");
    write(d, "data/latin1.txt", latin1);
    write(d, "clean.txt", "nothing here, not even wgat_ alone\n");
    let run = scan(d, &[]);
    let expected = [
        format!(".env:2:14: token {}", id[2]),
        format!("config.json:2:13: token {}", id[1]),
        format!("data/latin1.txt:2:5: token {}", id[5]),
        format!("docs/notes.md:1:29: token {}", id[3]),
        "docs/notes.md:1:93: look-alike: a token's shape, but the checksum fails (not a token)"
            .to_string(),
        format!("src/main.rs:2:14: token {}", id[0]),
    ];
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        expected,
        "{}",
        run.stderr
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("tokens found"), "{}", run.stderr);
    let all: Vec<&str> = t.iter().map(String::as_str).collect();
    quiet(&run, &all);
    // A path given explicitly prints as given.
    let run = scan(d, &["src"]);
    assert_eq!(run.stdout, format!("src/main.rs:2:14: token {}\n", id[0]));
}

#[test]
fn gitignore_is_respected_and_binaries_are_skipped() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Not a git repository: .gitignore counts all the same.
    write(d, ".gitignore", "ignored/\n*.log\n");
    write(d, "ignored/a.txt", &v.tokens[0]);
    write(d, "build.log", &v.tokens[1]);
    write(d, "kept.txt", &v.tokens[2]);
    write(
        d,
        "blob.bin",
        [b"\x00\x01".as_slice(), v.tokens[3].as_bytes()].concat(),
    );
    write(d, ".git/config", &v.tokens[4]);
    let json = |run: &Run| -> serde_json::Value { serde_json::from_str(&run.stdout).unwrap() };
    let ids = |j: &serde_json::Value| -> Vec<String> {
        j["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    let run = scan(d, &["--json"]);
    let j = json(&run);
    assert_eq!(ids(&j), [v.ids[2].clone()], "{}", run.stdout);
    assert_eq!(j["binary_skipped"], 1);
    assert_eq!(j["files_scanned"], 2, "kept.txt and .gitignore");
    // --no-ignore: the ignored files too (never .git, never binaries).
    let j = json(&scan(d, &["--json", "--no-ignore"]));
    let mut got = ids(&j);
    got.sort();
    let mut want = vec![v.ids[0].clone(), v.ids[1].clone(), v.ids[2].clone()];
    want.sort();
    assert_eq!(got, want);
    // A file named on the command line is scanned even if ignored.
    let run = scan(d, &["build.log"]);
    assert_eq!(run.stdout, format!("build.log:1:1: token {}\n", v.ids[1]));
    // Control: without its NUL the binary's token is found.
    write(d, "blob.bin", v.tokens[3].as_bytes());
    assert_eq!(
        ids(&json(&scan(d, &["--json", "blob.bin"]))),
        [v.ids[3].clone()]
    );
}

#[test]
fn stdin_json_shape_and_exit_statuses() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = format!(
        "a\nAccess-Token: {}\n{}\n",
        v.tokens[0],
        look_alike(&v.tokens[1])
    );
    let run = scan_in(d, None, &["--json", "-"], text.as_bytes());
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&j),
        [
            "binary_skipped",
            "errors",
            "files_scanned",
            "look_alikes",
            "tokens"
        ]
    );
    assert_eq!(
        j["tokens"],
        serde_json::json!([{"path": "-", "line": 2, "column": 15, "id": v.ids[0], "revoke": null}])
    );
    assert_eq!(
        j["look_alikes"],
        serde_json::json!([{"path": "-", "line": 3, "column": 1}])
    );
    assert_eq!(j["errors"], serde_json::json!([]));
    quiet(&run, &[&v.tokens[0]]);

    // 0: clean, and look-alikes alone are not leaks.
    write(d, "clean.txt", "x\n");
    write(
        d,
        "example.md",
        format!("like {}\n", look_alike(&v.tokens[2])),
    );
    let run = scan(d, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("example.md:1:6: look-alike"),
        "{}",
        run.stdout
    );
    // 1: a token.
    write(d, "leak.txt", &v.tokens[2]);
    assert_eq!(scan(d, &[]).code, Some(1));
    // 2: a path that cannot be read (reported, the rest scanned), even
    // with tokens found; and bad arguments.
    let run = scan(d, &["missing", "leak.txt"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("leak.txt:1:1: token {}", v.ids[2]))
    );
    assert!(
        run.stderr.contains("missing") && run.stderr.contains("incomplete"),
        "{}",
        run.stderr
    );
    let run = scan(d, &["--json", "missing"]);
    assert_eq!(run.code, Some(2));
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(j["errors"].as_array().unwrap().len(), 1, "{}", run.stdout);
    assert_eq!(scan(d, &["--bogus"]).code, Some(2));
}

#[test]
fn print_pattern_is_the_documented_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = scan(dir.path(), &["--print-pattern"]);
    assert_eq!(run.code, Some(0));
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECRET-SCANNING.md"),
    )
    .unwrap();
    assert!(doc.contains(&format!("\n{}", run.stdout)), "{}", run.stdout);
}

#[test]
fn revoke_deletes_live_tokens_through_the_store() {
    let env = Env::new();
    let (leaked, leaked_id) = env.create("acct_1", "Production API");
    let (kept, kept_id) = env.create("acct_1", "Testing");
    let (old, old_id) = env.create("acct_2", "Rolled");
    let out = env.run(&["token", "regenerate", &old_id]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rolled = out.stdout.trim().to_string();
    let v = vectors();
    let stranger = &v.tokens[0];
    let d = env.dir.path().join("repo");
    write(&d, "a.env", format!("T={leaked}\nU={leaked}\n"));
    write(
        &d,
        "b.json",
        format!("{{\"old\": \"{old}\", \"x\": \"{stranger}\"}}"),
    );
    let run = scan_in(&d, Some(&env.db), &["--json", "--revoke"], b"");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let outcome = |id: &str| -> Vec<String> {
        j["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["id"] == id)
            .map(|t| t["revoke"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(outcome(&leaked_id), ["deleted", "deleted"]);
    assert_eq!(
        outcome(&old_id),
        ["not_live"],
        "regenerated since: left alone"
    );
    assert_eq!(outcome(&v.ids[0]), ["not_in_store"]);
    assert!(run.stderr.contains(&format!("revoked token {leaked_id}")));
    quiet(&run, &[&leaked, &kept, &old, &rolled, stranger]);
    // The leaked token is refused from now on; the others still work.
    assert_eq!(env.verify(&leaked).code, Some(1));
    assert_eq!(env.id_of("acct_1", "Production API"), None);
    assert_eq!(env.verify(&kept).code, Some(0));
    assert_eq!(env.verify(&rolled).code, Some(0));
    assert_eq!(
        env.id_of("acct_1", "Testing").as_deref(),
        Some(kept_id.as_str())
    );
    // One audit entry, for the one deletion, naming the first place.
    let audit = env.run(&["audit", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&audit.stdout).unwrap();
    let ours: Vec<_> = entries
        .iter()
        .filter(|e| e["actor"] == "wgauth scan")
        .collect();
    assert_eq!(ours.len(), 1, "{}", audit.stdout);
    assert_eq!(ours[0]["token_id"], leaked_id.as_str());
    assert_eq!(ours[0]["action"], "token.revoke");
    assert_eq!(ours[0]["detail"], "found in a.env:1:3");
    // A store that cannot be opened: every token is tried and reported
    // failed, exit 2.
    let missing = env.dir.path().join("no-such.db");
    let run = scan_in(&d, Some(&missing), &["--revoke"], b"");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for id in [&leaked_id, &old_id, &v.ids[0]] {
        assert!(
            run.stderr.contains(&format!("could not revoke token {id}")),
            "{}",
            run.stderr
        );
    }
    quiet(&run, &[&leaked, &old, stranger]);
}

#[test]
fn odd_input_does_not_crash_it() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "empty", "");
    write(d, "invalid-utf8", b"\xff\xfe\xc3(wgat_\xff\n");
    write(d, "prefix-at-end", "wgat_");
    write(d, "truncated", &v.tokens[0][..54]);
    write(d, "many", "wgat_".repeat(100_000));
    write(d, "crlf-only", "\r\r\r\n");
    // A token at the very end, after a 4 MB line with no line end.
    let mut long = "wgat_A".repeat(700_000).into_bytes();
    long.push(b' ');
    long.extend_from_slice(v.tokens[1].as_bytes());
    write(d, "long-line", &long);
    // 20,000 look-alikes on one line: each with its column.
    let bad = look_alike(&v.tokens[2]);
    write(
        d,
        "sub/many-on-a-line",
        vec![bad.as_str(); 20_000].join(" "),
    );
    let run = scan(d, &["sub"]);
    let lines: Vec<_> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 20_000);
    assert!(lines[19_999].starts_with(&format!(
        "sub/many-on-a-line:1:{}: look-alike",
        19_999 * 56 + 1
    )));
    std::fs::remove_dir_all(d.join("sub")).unwrap();
    let run = scan(d, &[]);
    assert_eq!(
        run.stdout,
        format!("long-line:1:{}: token {}\n", 4_200_002, v.ids[1]),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, Some(1));
    // A directory given as `-`-less stdin with nothing on it.
    let run = scan_in(d, None, &["-"], b"");
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), ""));
}

/// The control for [`quiet`]: the search catches a token that a command
/// prints (`token create` prints one on purpose), and any 12 characters of
/// its secret.
#[test]
fn control_the_search_catches_a_printed_token() {
    let env = Env::new();
    let out = env.run(&["token", "create", "--account", "a", "--name", "n"]);
    let token = out.stdout.trim();
    assert!(shows(&out.stdout, token));
    assert!(shows(&format!("x{}y", &token[30..42]), token));
    assert!(!shows(&token[..17], token), "the prefix and id are public");
}

#[test]
fn the_pre_commit_hook_runs_wgauth_scan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let hooks = std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).unwrap();
    assert!(hooks.contains("- id: wgauth-scan"), "{hooks}");
    assert!(hooks.contains("entry: wgauth scan"), "{hooks}");
}
