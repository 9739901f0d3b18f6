//! No token ever printed back: real tokens (made by `wgauth token create`)
//! passed in every argument position of every command, and as `WGAUTH_DB`,
//! appear on neither stdout nor stderr; the command is refused and says
//! the value was a token. The control runs the same harness with a value of
//! the same shape that is not a token, which wgauth and clap do print back,
//! so the search below is shown to catch an echo.

mod common;

use std::process::{Command, Stdio};

use common::{Env, Run, WGAUTH, run_wgauth};

/// Every command and argument position, `{}` standing for the value.
const POSITIONS: &[&[&str]] = &[
    &["{}"],
    &["token", "{}"],
    &["help", "{}"],
    &["--{}"],
    &["--busy-timeout", "{}", "token", "list"],
    &["--busy-timeout={}", "token", "list"],
    &["--db", "{}", "token", "list"],
    &["--db={}", "token", "list"],
    &["token", "create", "--account", "{}", "--name", "n"],
    &["token", "create", "--account", "a", "--name", "{}"],
    &["token", "create", "--account={}", "--name", "n"],
    &["token", "create", "--account", "a", "--name={}"],
    &["token", "create", "--account", "a", "--name", "n", "{}"],
    &[
        "token",
        "create",
        "--account",
        "a",
        "--name",
        "n",
        "--",
        "{}",
    ],
    &["token", "list", "{}"],
    &["token", "list", "--account", "{}"],
    &["token", "list", "--account={}"],
    &["token", "list", "--json", "{}"],
    &["token", "delete", "{}"],
    &["token", "delete", "--", "{}"],
    &["token", "delete", "--account", "{}", "--name", "n"],
    &["token", "delete", "--account", "a", "--name", "{}"],
    &["token", "delete", "{id}", "{}"],
    &["token", "regenerate", "{}"],
    &["token", "regenerate", "{}", "--grace", "1h"],
    &["token", "regenerate", "{id}", "--grace", "{}"],
    &["token", "regenerate", "{id}", "--grace={}"],
    &["token", "regenerate", "{id}", "{}"],
    &["verify", "{}"],
    &["verify", "--json", "{}"],
    &["verify", "--json={}"],
    &["serve", "{}"],
    &["serve", "--listen", "{}"],
    &["serve", "--stale-after", "{}"],
    &["serve", "--max-connections", "{}"],
    &["serve", "--demo", "--listen", "{}"],
    &["scan", "{}"],
    &["scan", "--json", "--revoke", "{}"],
];

/// The forms a pasted token takes.
fn variants(token: &str) -> Vec<String> {
    vec![
        token.to_string(),
        format!(" {token}\n"),
        format!("Bearer {token}"),
        format!("Access-Token: {token}"),
        // The body alone (a prefix lost in copying).
        token["wgat_".len()..].to_string(),
    ]
}

/// Whether `text` shows `value`'s token, or 12 characters of its secret
/// part (the body's first 12 characters encode the version and the public
/// id).
fn shows(text: &str, token: &str) -> bool {
    let secret = &token["wgat_".len() + 12..];
    text.contains(token) || (0..=secret.len() - 12).any(|i| text.contains(&secret[i..i + 12]))
}

fn args_for(position: &[&str], value: &str, id: &str) -> Vec<String> {
    position
        .iter()
        .map(|a| a.replace("{id}", id).replace("{}", value))
        .collect()
}

fn run(env: &Env, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_wgauth(&env.db, &args, &[], None)
}

#[test]
fn tokens_in_any_argument_are_refused_and_never_printed() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "Production API");
    let (other, _) = env.create("acct_1", "Other");
    let before = env.list_json();
    let mut checked = 0;
    for tok in [&token, &other] {
        for value in variants(tok) {
            for position in POSITIONS {
                let args = args_for(position, &value, &id);
                let out = run(&env, &args);
                let shown = format!("{position:?}");
                assert!(!shows(&out.stdout, tok), "stdout shows it: {shown}");
                assert!(!shows(&out.stderr, tok), "stderr shows it: {shown}");
                assert_eq!(out.code, Some(2), "{shown}: {}", out.stderr);
                assert!(out.stdout.is_empty(), "{shown}: {}", out.stdout);
                assert!(
                    out.stderr
                        .contains("is a token, not an id; it was not printed")
                        && out.stderr.contains("shell history"),
                    "{shown}: {}",
                    out.stderr
                );
                checked += 1;
            }
        }
    }
    // A whole token is named by its (public) id.
    let out = run(&env, &args_for(&["token", "delete", "{}"], &token, &id));
    assert!(
        out.stderr.contains(&format!("it is token {id}")),
        "{}",
        out.stderr
    );
    // As WGAUTH_DB (no --db), and in --db of a command that would create a store.
    let out = Command::new(WGAUTH)
        .current_dir(env.dir.path())
        .args(["token", "create", "--account", "a", "--name", "n"])
        .env("WGAUTH_DB", format!("sqlite:{token}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !shows(&stdout, &token) && !shows(&stderr, &token),
        "{stderr}"
    );
    assert!(stderr.contains("WGAUTH_DB is a token"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));
    checked += 1;
    // Nothing was created, deleted or regenerated, and no file made.
    assert_eq!(env.list_json(), before);
    let files: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("tokens.db"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    eprintln!("{checked} runs, no token shown");
}

/// The control: a value of the same shape that is not a token (another
/// prefix, one character of the body changed so its checksum fails) goes
/// through to clap and the commands, which print it back; the same search
/// sees it. A build that echoed tokens would be caught the same way.
#[test]
fn control_the_search_catches_a_value_printed_back() {
    let env = Env::new();
    let (token, id) = env.create("acct_1", "Production API");
    let mut body = token.as_bytes()["wgat_".len()..].to_vec();
    body[40] = if body[40] == b'A' { b'B' } else { b'A' };
    let lookalike = format!("zzat_{}", String::from_utf8(body).unwrap());
    let mut echoed = Vec::new();
    for position in POSITIONS {
        let out = run(&env, &args_for(position, &lookalike, &id));
        assert!(
            !out.stderr.contains("is a token"),
            "{position:?} refused a value that is not a token"
        );
        if shows(&out.stdout, &lookalike) || shows(&out.stderr, &lookalike) {
            echoed.push(*position);
        }
    }
    // clap's "invalid value '…'" and "unexpected argument '…'".
    for expected in [
        &["token", "delete", "{}"][..],
        &["token", "regenerate", "{}"],
        &["verify", "{}"],
        &["serve", "--listen", "{}"],
        &["token", "list", "--account", "{}"],
    ] {
        assert!(echoed.contains(&expected), "{expected:?} not caught");
    }
    eprintln!(
        "control: {} of {} positions print the value back",
        echoed.len(),
        POSITIONS.len()
    );
    // And a real token's own search: a text holding it is caught.
    assert!(shows(&format!("error: invalid value '{token}'"), &token));
    assert!(shows(&token[20..], &token));
}
