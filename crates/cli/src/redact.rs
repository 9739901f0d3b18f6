//! Tokens pasted where they do not belong (an id, a name, an option's
//! value) are found before clap sees the arguments: clap's errors quote the
//! offending value ("invalid value '…'"), and stderr ends up in CI logs and
//! journald. Such a command is refused with a message that names the
//! argument's position, never its text.

use std::ffi::OsString;

use whatsgate_auth::{TokenFormat, TokenId};

/// A token found in an argument.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Where: "argument 3", "the value of --account", "WGAUTH_DB".
    pub where_: String,
    /// The token's id when its body is a whole, checksum-valid token body.
    pub id: Option<TokenId>,
}

/// The first argument (after the program name) or `WGAUTH_DB` value that
/// holds a token.
pub(crate) fn find(args: &[OsString], db_env: Option<&OsString>) -> Option<Found> {
    for (i, arg) in args.iter().enumerate().skip(1) {
        let bytes = arg.as_encoded_bytes();
        if let Some(id) = token_in(bytes) {
            let where_ = match option_name(bytes) {
                Some(name) => format!("the value of {name}"),
                None => match args.get(i - 1).map(|a| a.as_encoded_bytes()) {
                    Some(prev) if i > 1 && takes_value(prev) => {
                        format!("the value of {}", String::from_utf8_lossy(prev))
                    }
                    _ => format!("argument {i}"),
                },
            };
            return Some(Found { where_, id });
        }
    }
    let id = token_in(db_env?.as_encoded_bytes())?;
    Some(Found {
        where_: "WGAUTH_DB".to_string(),
        id,
    })
}

/// `--name` of `--name=value` (only when the name part itself holds no
/// token, so it can be shown).
fn option_name(arg: &[u8]) -> Option<String> {
    let eq = arg.iter().position(|&b| b == b'=')?;
    let name = &arg[..eq];
    (name.starts_with(b"--")
        && name[2..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || *b == b'-'))
    .then(|| String::from_utf8_lossy(name).into_owned())
}

/// Whether `arg` is an option such as `--account` (so the next argument is
/// its value).
fn takes_value(arg: &[u8]) -> bool {
    arg.len() > 2
        && arg.starts_with(b"--")
        && arg[2..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || *b == b'-')
}

/// `Some` when `text` holds a token or part of one: the default prefix
/// anywhere (any case), or 50 base64url characters that form a valid body
/// (whatever the prefix before them). The inner `Some` is the token's id,
/// when a whole body was found.
pub(crate) fn token_in(text: &[u8]) -> Option<Option<TokenId>> {
    let format = TokenFormat::DEFAULT;
    let prefix = format.prefix().as_bytes();
    let body_len = format.token_len() - prefix.len();
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let mut candidate = Vec::with_capacity(format.token_len());
    let mut start = 0;
    while start < text.len() {
        let run = text[start..].iter().take_while(|b| is_b64(b)).count();
        if run == 0 {
            start += 1;
            continue;
        }
        let chars = &text[start..start + run];
        for window in chars.windows(body_len) {
            candidate.clear();
            candidate.extend_from_slice(prefix);
            candidate.extend_from_slice(window);
            if let Ok(parsed) = format.parse(&candidate) {
                zeroize::Zeroize::zeroize(&mut candidate);
                return Some(Some(parsed.id()));
            }
        }
        start += run;
    }
    zeroize::Zeroize::zeroize(&mut candidate);
    text.windows(prefix.len())
        .any(|w| w.eq_ignore_ascii_case(prefix))
        .then_some(None)
}

/// The message for a token found in the arguments: never its text.
pub(crate) fn message(found: &Found) -> String {
    let which = match found.id {
        Some(id) => {
            format!(" (it is token {id}: commands take that id, as `wgauth token list` shows it)")
        }
        None => String::new(),
    };
    format!(
        "{} is a token, not an id; it was not printed{which}. \
         A token on the command line is now in your shell history and was visible to \
         other users in the process list: if it is a real one, regenerate it \
         (`wgauth token regenerate ID`) and remove it from the history. \
         `wgauth verify` reads a token from WGAUTH_TOKEN or stdin.",
        found.where_
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let (token, _) = TokenFormat::DEFAULT
            .generate(&mut whatsgate_auth::OsRng)
            .expect("rng");
        token.expose_secret().to_string()
    }

    #[test]
    fn finds_whole_tokens_bodies_and_prefixes_only() {
        let t = token();
        let body = &t[5..];
        let id = TokenFormat::DEFAULT.parse(t.as_bytes()).unwrap().id();
        for text in [
            t.clone(),
            format!("  {t}\n"),
            format!("Access-Token: {t}"),
            format!("Bearer {t}"),
            format!("--account={t}"),
            format!("xyz_{body}"),
            body.to_string(),
            format!("sqlite:/tmp/{t}.db"),
        ] {
            assert_eq!(token_in(text.as_bytes()), Some(Some(id)), "{text}");
        }
        // Part of a token: named as one, without an id.
        for text in [&t[..20], &t[..54], "WGAT_abc"] {
            assert_eq!(token_in(text.as_bytes()), Some(None), "{text}");
        }
        // Control: ids, names, durations, paths, and a body with one
        // character changed (the checksum fails) are not tokens.
        let mut typo = body.as_bytes().to_vec();
        typo[30] = if typo[30] == b'A' { b'B' } else { b'A' };
        for text in [
            "3f2a9c0d11e4b7a5",
            "Production API",
            "10m",
            "/var/lib/whatsgate/tokens.db",
            "postgresql://u:p@h/db",
            std::str::from_utf8(&typo).unwrap(),
        ] {
            assert_eq!(token_in(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn names_the_position_never_the_text() {
        let t = token();
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let found = find(&args(&["wgauth", "token", "delete", &t]), None).unwrap();
        assert_eq!(found.where_, "argument 3");
        let found = find(&args(&["wgauth", "token", "list", "--account", &t]), None).unwrap();
        assert_eq!(found.where_, "the value of --account");
        let found = find(&args(&["wgauth", &format!("--db={t}"), "verify"]), None).unwrap();
        assert_eq!(found.where_, "the value of --db");
        let env = OsString::from(&t);
        let found = find(&args(&["wgauth", "token", "list"]), Some(&env)).unwrap();
        assert_eq!(found.where_, "WGAUTH_DB");
        let text = message(&found);
        assert!(!text.contains(&t) && !text.contains(&t[5..]), "{text}");
        assert!(text.contains("not printed") && text.contains("shell history"));
        // The program name is not an argument.
        assert_eq!(find(&args(&[&t, "token", "list"]), None), None);
    }
}
