//! `wgauth scan`: finds WhatsGate API tokens in files, offline, and reports
//! where they are and their ids, never their secrets (docs/SECRET-SCANNING.md).
//!
//! The token's shape is one regular expression, [`PATTERN`]; the docs, the
//! gitleaks and trufflehog rules and the benchmark's ripgrep all use it as
//! written here (a test holds the docs to it). The scan finds the fixed
//! prefix with `memchr::memmem` and asks the pattern only about the few
//! bytes around each hit; the core's parser then tells a token (checksum
//! right) from a look-alike.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Args;
use ignore::{WalkBuilder, WalkState};
use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};
use serde::Serialize;
use whatsgate_auth::host_records::{ParsedToken, parse};
use whatsgate_auth::{Timestamp, TokenId};
use whatsgate_auth_store::{AuditNote, Store, StoreError};

use crate::Error;

/// A v1 token (default prefix) where it stands alone. Group 1 is the token.
///
/// - Before it: the start of the text, a character outside the token
///   alphabet, or an escape that ends in a letter or digit (`\n` and
///   `\u0022` in JSON and code strings, `%3D` in URLs): `\b` cannot be the
///   boundary, as `-` and `_` are token characters.
/// - The token: `wgat_`, then `A` and one of `Q–Z a–f` (the version byte
///   `0x01` and two id bits), 47 base64url characters, and a last
///   character whose four unused bits are zero (`A Q g w`).
/// - After it: a character outside the alphabet, or the end of the text.
///
/// Plain RE2/PCRE syntax (no look-around), for Go scanners too. It is
/// `BEFORE`, `TOKEN` and `AFTER` put together (a test checks it), the
/// three parts GitHub's custom patterns ask for, which only the docs use.
pub const PATTERN: &str = r"(?:^|[^0-9A-Za-z_-]|\\[bfnrt]|\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2})(wgat_A[Q-Za-f][0-9A-Za-z_-]{47}[AQgw])(?:[^0-9A-Za-z_-]|$)";
/// What may stand before a token, besides the start of the text.
#[cfg(test)]
const BEFORE: &str = r"[^0-9A-Za-z_-]|\\[bfnrt]|\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2}";
/// A token.
#[cfg(test)]
const TOKEN: &str = r"wgat_A[Q-Za-f][0-9A-Za-z_-]{47}[AQgw]";
/// What may stand after a token, besides the end of the text.
#[cfg(test)]
const AFTER: &str = r"[^0-9A-Za-z_-]";

/// The literal every match holds; what the fast search looks for.
const PREFIX: &[u8] = b"wgat_";
/// Characters in a token.
const TOKEN_LEN: usize = 55;
/// The longest left boundary of [`PATTERN`] (`\u0022`).
const MAX_BEFORE: usize = 6;
/// Bytes read at a time: a file of any size is scanned in pieces.
const CHUNK: usize = 1 << 20;
/// What a piece keeps of the one before, so that a match across the seam
/// is seen whole: the longest left boundary, the token and one more byte.
const CARRY: usize = MAX_BEFORE + TOKEN_LEN + 1;

/// [`PATTERN`] compiled for bytes: with Unicode off, "a character outside
/// the alphabet" is any byte outside it, so a token next to Latin-1 or
/// broken UTF-8 is still found.
pub(crate) fn compile() -> Regex {
    RegexBuilder::new(PATTERN)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| unreachable!("PATTERN is a valid regex: {e}"))
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files and directories to scan (default: the current directory); `-`
    /// reads stdin.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// JSON on stdout instead of lines.
    #[arg(long)]
    json: bool,
    /// Delete every token found from the store (--db), if the store
    /// accepts it; it is refused from then on.
    #[arg(long)]
    revoke: bool,
    /// Scan files that .gitignore, .ignore and .rgignore exclude too.
    #[arg(long)]
    no_ignore: bool,
    /// Print the regular expression of a token and exit.
    #[arg(long, exclusive = true)]
    print_pattern: bool,
}

/// What a match is.
enum Kind {
    /// The checksum holds: a token. Kept whole (wiped on drop) so that
    /// `--revoke` deletes only what the store accepts.
    Token(ParsedToken),
    /// The shape of a token, but the checksum fails: not a token.
    LookAlike,
}

struct Hit {
    path: String,
    /// 1-based.
    line: u64,
    /// 1-based, in bytes.
    column: u64,
    kind: Kind,
}

/// Finds the matches of [`PATTERN`] in one text.
pub(crate) struct Scanner {
    finder: memmem::Finder<'static>,
    regex: Regex,
}

/// A match: the token's byte offset and whether its checksum holds.
pub(crate) struct Found {
    pub offset: usize,
    pub token: Option<ParsedToken>,
}

impl Scanner {
    pub(crate) fn new() -> Self {
        Self {
            finder: memmem::Finder::new(PREFIX),
            regex: compile(),
        }
    }

    /// Every match of [`PATTERN`] in `text`, in order.
    pub(crate) fn find(&self, text: &[u8], mut each: impl FnMut(Found)) {
        for at in self.finder.find_iter(text) {
            // The pattern, on the bytes it can see around this prefix: one
            // boundary character after the token, up to MAX_BEFORE before.
            let end = (at + TOKEN_LEN + 1).min(text.len());
            let Some(caps) = self
                .regex
                .captures_at(&text[..end], at.saturating_sub(MAX_BEFORE))
            else {
                continue;
            };
            let Some(token) = caps.get(1).filter(|m| m.start() == at) else {
                continue;
            };
            each(Found {
                offset: at,
                token: parse(token.as_bytes()).ok(),
            });
        }
    }
}

/// `wgauth scan`.
pub(crate) fn run(
    args: ScanArgs,
    open: impl FnOnce() -> Result<Store, StoreError>,
) -> Result<(), Error> {
    if args.print_pattern {
        return crate::write_stdout(&format!("{PATTERN}\n"));
    }
    let scanner = Scanner::new();
    let report = Mutex::new(Report::default());
    // With no path, the current directory, and paths shown as `src/x`,
    // not `./src/x` (as ripgrep shows them).
    let bare = args.paths.is_empty();
    let paths = if bare {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let (stdin, files): (Vec<_>, Vec<_>) = paths.into_iter().partition(|p| p == Path::new("-"));
    if !stdin.is_empty() {
        let mut buf = vec![0; CHUNK + CARRY];
        scan_input("-", io::stdin().lock(), &mut buf, &scanner, &report);
    }
    if let Some((first, rest)) = files.split_first() {
        let mut walk = WalkBuilder::new(first);
        for path in rest {
            walk.add(path);
        }
        walk.standard_filters(!args.no_ignore)
            // Secrets live in dotfiles (.env); .git holds history, not files.
            .hidden(false)
            .require_git(false)
            .filter_entry(|entry| entry.file_name() != ".git");
        walk.build_parallel().run(|| {
            let scanner = &scanner;
            let report = &report;
            let mut buf = vec![0; CHUNK + CARRY];
            Box::new(move |entry| {
                match entry {
                    Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                        let path = entry.path();
                        let path = if bare {
                            path.strip_prefix(".").unwrap_or(path)
                        } else {
                            path
                        };
                        scan_file(path, entry.path(), &mut buf, scanner, report);
                    }
                    Ok(_) => {}
                    Err(e) => lock(report).errors.push(walk_failure(e)),
                }
                WalkState::Continue
            })
        });
    }
    let mut report = report.into_inner().unwrap_or_else(|e| e.into_inner());
    report
        .hits
        .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    report
        .errors
        .sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    let revoked = if args.revoke {
        Some(revoke(&report.hits, open))
    } else {
        None
    };
    print(&report, revoked.as_ref(), args.json)?;
    let tokens = report
        .hits
        .iter()
        .filter(|h| matches!(h.kind, Kind::Token(_)))
        .count();
    let failed_revocations = revoked.as_ref().map_or(0, |r| {
        r.values()
            .filter(|o| matches!(o, Outcome::Failed(_)))
            .count()
    });
    if !report.errors.is_empty() || failed_revocations > 0 {
        let mut what = Vec::new();
        if !report.errors.is_empty() {
            what.push(format!("{} path(s) could not be read", report.errors.len()));
        }
        if failed_revocations > 0 {
            what.push(format!("{failed_revocations} revocation(s) failed"));
        }
        if tokens > 0 {
            what.push(format!("{tokens} token(s) found"));
        }
        return Err(Error::Other(format!(
            "the scan is incomplete: {} (listed {})",
            what.join(", "),
            if args.json { "in the JSON" } else { "above" },
        )));
    }
    if tokens > 0 {
        return Err(Error::Refused(if args.revoke {
            "wgauth: tokens found (see above for what --revoke did)"
        } else {
            "wgauth: tokens found: revoke them (`wgauth scan --revoke`, or \
             `wgauth token delete ID`) and remove them from the files"
        }));
    }
    Ok(())
}

#[derive(Default)]
struct Report {
    hits: Vec<Hit>,
    errors: Vec<Failure>,
    files: u64,
    binary: u64,
}

#[derive(Serialize)]
struct Failure {
    path: String,
    message: String,
}

fn lock(report: &Mutex<Report>) -> std::sync::MutexGuard<'_, Report> {
    report.lock().unwrap_or_else(|e| e.into_inner())
}

fn scan_file(path: &Path, real: &Path, buf: &mut [u8], scanner: &Scanner, report: &Mutex<Report>) {
    match File::open(real) {
        Ok(file) => scan_input(&shown(path), file, buf, scanner, report),
        Err(e) => lock(report).errors.push(Failure {
            path: shown(path),
            message: e.to_string(),
        }),
    }
}

/// Scans `input` piece by piece in `buf` (`CHUNK + CARRY` bytes). The
/// matches found before a read error are reported with it; a NUL byte
/// anywhere marks a binary file (as git and ripgrep decide), skipped whole.
fn scan_input(
    path: &str,
    mut input: impl Read,
    buf: &mut [u8],
    scanner: &Scanner,
    report: &Mutex<Report>,
) {
    let mut hits = Vec::new();
    // `buf[..len]` holds the input from byte `base` on. Lines are counted
    // forward from the last place counted only, so many matches on one
    // long line cost one pass over it.
    let (mut base, mut len, mut first) = (0u64, 0usize, true);
    let (mut line, mut line_start, mut counted) = (1u64, 0u64, 0usize);
    let mut count_to = |text: &[u8], counted: &mut usize, to: usize, base: u64| {
        let since = &text[*counted..to];
        line += memchr::memchr_iter(b'\n', since).count() as u64;
        if let Some(i) = memchr::memrchr(b'\n', since) {
            line_start = base + (*counted + i + 1) as u64;
        }
        *counted = to;
        (line, line_start)
    };
    loop {
        let fresh = len;
        let mut eof = false;
        while len < buf.len() {
            match input.read(&mut buf[len..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let mut report = lock(report);
                    report.hits.append(&mut hits);
                    report.errors.push(Failure {
                        path: path.to_string(),
                        message: e.to_string(),
                    });
                    return;
                }
            }
        }
        if memchr::memchr(0, &buf[fresh..len]).is_some() {
            lock(report).binary += 1;
            return;
        }
        let text = &buf[..len];
        scanner.find(text, |found| {
            let at = found.offset;
            // Seen whole in the previous piece, or to be seen whole in the
            // next one.
            if (!first && at + TOKEN_LEN < CARRY) || (!eof && at + TOKEN_LEN + 1 > len) {
                return;
            }
            let (line, line_start) = count_to(text, &mut counted, at, base);
            hits.push(Hit {
                path: path.to_string(),
                line,
                column: base + at as u64 - line_start + 1,
                kind: found.token.map_or(Kind::LookAlike, Kind::Token),
            });
        });
        if eof {
            break;
        }
        // Keep the last CARRY bytes: lines counted up to there first.
        let drop = len - CARRY;
        if counted < drop {
            count_to(text, &mut counted, drop, base);
        }
        counted -= drop;
        buf.copy_within(drop..len, 0);
        base += drop as u64;
        len = CARRY;
        first = false;
    }
    let mut report = lock(report);
    report.files += 1;
    report.hits.append(&mut hits);
}

/// A walk's error, its path apart (shown as paths are).
fn walk_failure(e: ignore::Error) -> Failure {
    match e {
        ignore::Error::WithPath { path, err } => Failure {
            path: shown(&path),
            ..walk_failure(*err)
        },
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_failure(*err)
        }
        e => {
            let mut message = e.to_string();
            // Some messages name paths too: never one with a token.
            if crate::redact::token_in(message.as_bytes()).is_some() {
                message = "a path that holds a token (not printed) could not be read".to_string();
            }
            Failure {
                path: String::new(),
                message,
            }
        }
    }
}

/// A path as printed: never one that holds a token.
fn shown(path: &Path) -> String {
    let text = path.to_string_lossy();
    if crate::redact::token_in(text.as_bytes()).is_none() {
        return text.into_owned();
    }
    let parent = path
        .parent()
        .map(|p| p.to_string_lossy())
        .unwrap_or_default();
    if crate::redact::token_in(parent.as_bytes()).is_none() && !parent.is_empty() {
        format!("{parent}/(a name that holds a token; not printed)")
    } else {
        "(a path that holds a token; not printed)".to_string()
    }
}

/// What `--revoke` did with a token id.
enum Outcome {
    Deleted,
    /// The store has no token with this id.
    NotInStore,
    /// The store's token with this id has another secret (regenerated, or
    /// a forgery that names a real id): left alone.
    NotLive,
    Failed(String),
}

impl Outcome {
    fn key(&self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            Self::NotInStore => "not_in_store",
            Self::NotLive => "not_live",
            Self::Failed(_) => "failed",
        }
    }
}

/// Deletes each token found that the store accepts. Every id is tried,
/// whatever happened to the others.
fn revoke(
    hits: &[Hit],
    open: impl FnOnce() -> Result<Store, StoreError>,
) -> BTreeMap<TokenId, Outcome> {
    let mut by_id: BTreeMap<TokenId, (String, Vec<&ParsedToken>)> = BTreeMap::new();
    for hit in hits {
        if let Kind::Token(token) = &hit.kind {
            by_id
                .entry(token.id())
                .or_insert_with(|| (format!("{}:{}:{}", hit.path, hit.line, hit.column), vec![]))
                .1
                .push(token);
        }
    }
    if by_id.is_empty() {
        return BTreeMap::new();
    }
    let mut store = open().map_err(|e| e.to_string());
    let now = Timestamp::now();
    let mut outcomes = BTreeMap::new();
    for (id, (place, tokens)) in by_id {
        let outcome = match &mut store {
            Err(e) => Outcome::Failed(e.clone()),
            Ok(store) => {
                // One write per id, so one failure stops no other; the
                // check that the store accepts the token runs inside it.
                let mut offered = false;
                let deleted = store.delete_where(&[id], &mut |record| {
                    offered = true;
                    tokens.iter().any(|t| record.accepts(t, now)).then(|| {
                        AuditNote::new("wgauth scan", "token.revoke", format!("found in {place}"))
                    })
                });
                match deleted {
                    Ok(deleted) if !deleted.is_empty() => Outcome::Deleted,
                    Ok(_) if offered => Outcome::NotLive,
                    Ok(_) => Outcome::NotInStore,
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        };
        match &outcome {
            Outcome::Deleted => say!("wgauth: revoked token {id}: it is refused from now on"),
            Outcome::NotInStore => say!("wgauth: token {id} is not in the store; not revoked"),
            Outcome::NotLive => say!(
                "wgauth: the store's token {id} has another secret (regenerated?); not revoked"
            ),
            Outcome::Failed(e) => say!("wgauth: error: could not revoke token {id}: {e}"),
        }
        outcomes.insert(id, outcome);
    }
    outcomes
}

#[derive(Serialize)]
struct JsonReport<'a> {
    tokens: Vec<JsonToken<'a>>,
    look_alikes: Vec<JsonPlace<'a>>,
    errors: &'a [Failure],
    files_scanned: u64,
    binary_skipped: u64,
}

#[derive(Serialize)]
struct JsonToken<'a> {
    path: &'a str,
    line: u64,
    column: u64,
    id: String,
    /// With `--revoke`: `deleted`, `not_in_store`, `not_live` or `failed`.
    revoke: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    path: &'a str,
    line: u64,
    column: u64,
}

fn print(
    report: &Report,
    revoked: Option<&BTreeMap<TokenId, Outcome>>,
    json: bool,
) -> Result<(), Error> {
    let outcome = |id: &TokenId| revoked.and_then(|r| r.get(id)).map(Outcome::key);
    if json {
        let mut out = JsonReport {
            tokens: Vec::new(),
            look_alikes: Vec::new(),
            errors: &report.errors,
            files_scanned: report.files,
            binary_skipped: report.binary,
        };
        for hit in &report.hits {
            let (path, line, column) = (hit.path.as_str(), hit.line, hit.column);
            match &hit.kind {
                Kind::Token(t) => out.tokens.push(JsonToken {
                    path,
                    line,
                    column,
                    id: t.id().to_string(),
                    revoke: outcome(&t.id()),
                }),
                Kind::LookAlike => out.look_alikes.push(JsonPlace { path, line, column }),
            }
        }
        let mut text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::Other(format!("could not write JSON: {e}")))?;
        text.push('\n');
        return crate::write_stdout(&text);
    }
    for e in &report.errors {
        if e.path.is_empty() {
            say!("wgauth: error: {}", e.message);
        } else {
            say!("wgauth: error: {}: {}", e.path, e.message);
        }
    }
    let mut text = String::new();
    for hit in &report.hits {
        let place = format!("{}:{}:{}", hit.path, hit.line, hit.column);
        match &hit.kind {
            Kind::Token(t) => text.push_str(&format!("{place}: token {}\n", t.id())),
            Kind::LookAlike => text.push_str(&format!(
                "{place}: look-alike: a token's shape, but the checksum fails (not a token)\n"
            )),
        }
    }
    crate::write_stdout(&text)
}

#[cfg(test)]
mod tests {
    //! [`PATTERN`] against the shared vectors: every valid token found with
    //! its exact span in every context, every invalid look-alike either not
    //! matched or told apart by its checksum. Controls: looser patterns
    //! (`\b` boundaries, no version or last-character rule) fail these
    //! same checks.

    use std::ops::Range;

    use whatsgate_auth_test_support::TokenVectors;

    use super::*;

    /// Where a token stands, `{T}` marking it (its span is where `{T}` is).
    const CONTEXTS: &[&str] = &[
        // Alone, at the ends of the text.
        "{T}",
        "{T}\n",
        "x {T}",
        // Code and configuration.
        "let token = \"{T}\";",
        "const TOKEN: &str = r#\"{T}\"#;",
        "token = '{T}'",
        "export WGAUTH_TOKEN={T}",
        "WGAUTH_TOKEN=\"{T}\"\r\n",
        "headers = {'Access-Token': '{T}'}",
        "Authorization: Bearer {T}\r\n",
        "curl -H 'Access-Token: {T}' https://api.example",
        "token: {T} # production",
        "<token>{T}</token>",
        "`{T}`",
        "\t{T}\t",
        "({T})",
        "[{T}]",
        "{T};",
        "{T}.",
        "{T},",
        "// {T}",
        "# {T}",
        // JSON, escaped forms included.
        "{\"token\":\"{T}\"}",
        "{\"token\": \"{T}\", \"name\": \"Production API\"}",
        "{\"log\":\"line one\\n{T}\\tmore\"}",
        "{\"q\":\"\\u0022{T}\\u0022\"}",
        "{\"a\":\"\\\"{T}\\\"\"}",
        // URLs.
        "https://api.example/send?access_token={T}&phone=1",
        "https://api.example/send?access_token={T}",
        "https://user:{T}@api.example/",
        "https://api.example/tokens/{T}/revoke",
        "https://api.example/#{T}",
        "https://api.example/?q=%22{T}%22",
        "https://api.example/?header=Access-Token%3A%20{T}",
        // Inside base64 blobs (the standard alphabet's + / = are not token
        // characters) and data URLs.
        "U29tZSBkYXRh+{T}/bW9yZQ==",
        "YmxvYg=={T}=",
        "data:text/plain,{T}",
        // Next to bytes that are not UTF-8 (Latin-1 é).
        "caf\u{e9}{T}\u{e9}",
    ];

    /// Texts that hold no token, beside a real one (`{T}`): the token inside
    /// a longer word of the token alphabet.
    const EMBEDDED: &[&str] = &[
        "x{T}",
        "0{T}",
        "_{T}",
        "-{T}",
        "{T}x",
        "{T}0",
        "{T}_",
        "{T}-",
        "{T}-suffix",
        "{T}A",
        "my_{T}",
        "A{T}A",
    ];

    fn vectors() -> TokenVectors {
        TokenVectors::load()
    }

    /// `context` with `{T}` replaced, and the token's expected span.
    fn place(context: &str, token: &str) -> (Vec<u8>, Range<usize>) {
        let at = context.find("{T}").expect("context has {T}");
        let mut text = context.replace("{T}", token).into_bytes();
        // Latin-1, not UTF-8: é as one byte.
        if context.contains('\u{e9}') {
            text = String::from_utf8(text)
                .unwrap()
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap())
                .collect();
            let at = context[..at].chars().count();
            return (text, at..at + token.len());
        }
        (text, at..at + token.len())
    }

    /// The spans group 1 (else the whole match) of `regex` finds, match
    /// after match, as a Go or Rust scanner iterating matches would.
    fn spans(regex: &Regex, text: &[u8]) -> Vec<Range<usize>> {
        regex
            .captures_iter(text)
            .map(|c| c.get(1).unwrap_or_else(|| c.get(0).unwrap()).range())
            .collect()
    }

    /// The scanner's matches: (span, the id if the checksum holds).
    fn scanned(text: &[u8]) -> Vec<(Range<usize>, Option<TokenId>)> {
        let mut out = Vec::new();
        Scanner::new().find(text, |f| {
            out.push((f.offset..f.offset + TOKEN_LEN, f.token.map(|t| t.id())));
        });
        out
    }

    #[test]
    fn every_valid_token_is_found_with_its_span_in_every_context() {
        let regex = compile();
        let v = vectors();
        assert!(v.valid.len() >= 6);
        let mut checked = 0;
        for vector in &v.valid {
            let id: TokenId = vector.id.parse().unwrap();
            for context in CONTEXTS {
                let (text, span) = place(context, &vector.token);
                assert_eq!(
                    spans(&regex, &text),
                    std::slice::from_ref(&span),
                    "{context}"
                );
                assert_eq!(scanned(&text), [(span, Some(id))], "{context}");
                checked += 1;
            }
        }
        eprintln!("{checked} placements found");
    }

    #[test]
    fn tokens_inside_longer_words_are_not_matched() {
        let regex = compile();
        for vector in &vectors().valid {
            for context in EMBEDDED {
                let (text, _) = place(context, &vector.token);
                assert!(spans(&regex, &text).is_empty(), "{context}");
                assert!(scanned(&text).is_empty(), "{context}");
            }
        }
    }

    #[test]
    fn tokens_one_character_apart_are_all_found() {
        // A plain match iterator consumes the boundary character between
        // them (no look-around in RE2); the scanner starts each search at
        // the prefix, so it finds the second too.
        let v = vectors();
        let (a, b) = (&v.valid[0], &v.valid[1]);
        for sep in [",", " ", "\n", ":"] {
            let text = format!("{}{sep}{}{sep}{}", a.token, b.token, a.token);
            let found: Vec<_> = scanned(text.as_bytes()).into_iter().map(|f| f.0).collect();
            let step = a.token.len() + sep.len();
            assert_eq!(found, [0..55, step..step + 55, 2 * step..2 * step + 55]);
        }
    }

    /// What the scan makes of an invalid vector, by its `why`.
    #[derive(Debug, PartialEq)]
    enum Expect {
        /// The pattern does not match it.
        NoMatch,
        /// The pattern matches; the checksum fails: a look-alike, not a leak.
        LookAlike,
        /// It holds a whole valid token (padding or a space around it).
        Holds(&'static str),
    }

    fn expect(why: &str) -> Expect {
        const VALID0: &str = "wgat_AQI_NyA6JHbEJWamHMVcPKh127TMQcDet4n457-IGDY4bev0sA";
        match why {
            w if w.starts_with("bad checksum") => Expect::LookAlike,
            "padded with =" | "padded with ==" | "leading space (a bare token is not trimmed)" => {
                Expect::Holds(VALID0)
            }
            "empty"
            | "prefix only"
            | "no prefix"
            | "prefix in upper case"
            | "another prefix"
            | "prefix separator is not an underscore"
            | "truncated by one character"
            | "truncated to 40 characters"
            | "one character too long"
            | "standard-alphabet '+' instead of '-'"
            | "standard-alphabet '/' instead of '_'"
            | "character outside the alphabet"
            | "space inside"
            | "NUL inside"
            | "line feed inside"
            | "non-ASCII character (two UTF-8 bytes in place of one character)"
            | "non-canonical last character (unused bits set)"
            | "version 2 with a correct checksum"
            | "version 0 with a correct checksum"
            | "whole token upper-cased" => Expect::NoMatch,
            other => panic!("a new invalid vector {other:?}: say here what the scan makes of it"),
        }
    }

    /// What `regex` and the checker make of `text`, as an [`Expect`].
    fn verdict(regex: &Regex, text: &[u8]) -> Option<Expect> {
        let found = spans(regex, text);
        match found.as_slice() {
            [] => Some(Expect::NoMatch),
            [span] => match parse(&text[span.clone()]) {
                Err(_) => Some(Expect::LookAlike),
                Ok(_) => Some(Expect::Holds("")),
            },
            _ => None,
        }
    }

    fn same(a: &Option<Expect>, b: &Expect) -> bool {
        match (a, b) {
            (Some(Expect::Holds(_)), Expect::Holds(_)) => true,
            (Some(a), b) => a == b,
            (None, _) => false,
        }
    }

    #[test]
    fn invalid_vectors_are_not_matched_or_are_look_alikes() {
        let regex = compile();
        let v = vectors();
        assert!(v.invalid.len() >= 20);
        let mut look_alikes = 0;
        for vector in &v.invalid {
            let want = expect(&vector.why);
            for context in ["{T}", "token = \"{T}\"\n", "{\"t\":\"{T}\"}"] {
                let (text, span) = place(context, &vector.token);
                let got = verdict(&regex, &text);
                assert!(same(&got, &want), "{}: {got:?}", vector.why);
                let mut scan = scanned(&text);
                match want {
                    Expect::NoMatch => assert!(scan.is_empty(), "{}", vector.why),
                    Expect::LookAlike => {
                        assert_eq!(scan, [(span, None)], "{}", vector.why);
                        look_alikes += 1;
                    }
                    Expect::Holds(token) => {
                        let (span, id) = scan.pop().expect(&vector.why);
                        assert!(scan.is_empty());
                        assert_eq!(&text[span], token.as_bytes(), "{}", vector.why);
                        assert_eq!(id, Some(parse(token.as_bytes()).unwrap().id()));
                    }
                }
            }
        }
        assert!(look_alikes >= 9, "{look_alikes}");
    }

    /// Controls: patterns a reader might write instead each fail a check
    /// above, so those checks can fail.
    #[test]
    fn control_looser_patterns_fail_these_checks() {
        let v = vectors();
        let token = &v.valid[0].token;
        let build = |p: &str| RegexBuilder::new(p).unicode(false).build().unwrap();
        let found_in = |regex: &Regex, context: &str| {
            let (text, span) = place(context, token);
            spans(regex, &text) == [span]
        };
        // `\b`: `-` and `_` are token characters but not word boundaries'
        // idea of a word, and an escape's letter hides the start.
        let word = build(r"\b(wgat_[0-9A-Za-z_-]{50})\b");
        assert!(found_in(&word, "-{T}"), "\\b matches inside a longer word");
        assert!(found_in(&word, "{T}-suffix"), "\\b mis-spans a longer word");
        assert!(
            !found_in(&word, "{\"log\":\"line one\\n{T}\"}"),
            "\\b misses \\n{{T}}"
        );
        assert!(found_in(&compile(), "{\"log\":\"line one\\n{T}\"}"));
        // Boundaries without the escapes: misses JSON's and URLs' escapes.
        let plain = build(
            r"(?:^|[^0-9A-Za-z_-])(wgat_A[Q-Za-f][0-9A-Za-z_-]{47}[AQgw])(?:[^0-9A-Za-z_-]|$)",
        );
        assert!(!found_in(&plain, "{\"q\":\"\\u0022{T}\\u0022\"}"));
        assert!(!found_in(&plain, "https://api.example/?q=%22{T}%22"));
        // Any 50 characters: the version and last-character rules matter.
        let loose = build(r"(?:^|[^0-9A-Za-z_-])(wgat_[0-9A-Za-z_-]{50})(?:[^0-9A-Za-z_-]|$)");
        let wrong: Vec<_> = v
            .invalid
            .iter()
            .filter(|x| !same(&verdict(&loose, x.token.as_bytes()), &expect(&x.why)))
            .map(|x| x.why.as_str())
            .collect();
        assert!(
            wrong.contains(&"version 2 with a correct checksum"),
            "{wrong:?}"
        );
        assert!(wrong.contains(&"non-canonical last character (unused bits set)"));
        // Unicode on: a Latin-1 byte is no boundary, and the token is missed.
        let unicode = RegexBuilder::new(PATTERN).build().unwrap();
        assert!(!found_in(&unicode, "caf\u{e9}{T}\u{e9}"));
        // And a match iterator loses the second of two tokens one
        // character apart (what the scanner's own search avoids).
        let two = format!("{token},{token}");
        assert_eq!(spans(&compile(), two.as_bytes()).len(), 1);
    }

    /// A reader that hands out at most `step` bytes a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// (line, column, id) of each match of `text`, read in pieces.
    fn in_pieces(text: &[u8], step: usize) -> Vec<(u64, u64, Option<TokenId>)> {
        let report = Mutex::new(Report::default());
        let mut buf = vec![0; CHUNK + CARRY];
        scan_input("t", Trickle(text, step), &mut buf, &Scanner::new(), &report);
        let report = report.into_inner().unwrap();
        assert!(report.errors.is_empty() && report.binary == 0);
        report
            .hits
            .into_iter()
            .map(|h| {
                let id = match h.kind {
                    Kind::Token(t) => Some(t.id()),
                    Kind::LookAlike => None,
                };
                (h.line, h.column, id)
            })
            .collect()
    }

    /// The same, from the whole text at once, counted naively.
    fn whole(text: &[u8]) -> Vec<(u64, u64, Option<TokenId>)> {
        let mut out = Vec::new();
        Scanner::new().find(text, |f| {
            let before = &text[..f.offset];
            let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            out.push((line, (f.offset - start + 1) as u64, f.token.map(|t| t.id())));
        });
        out
    }

    #[test]
    fn a_token_across_the_seam_of_two_pieces_is_found_once() {
        let v = vectors();
        let token = v.valid[0].token.as_bytes();
        let escaped = [b"\\u0022".as_slice(), token].concat();
        let mut checked = 0;
        // Every offset around the first seam; the second, at its edges.
        let first = CHUNK - 70..CHUNK + 10;
        let second = [2 * CHUNK - 60, 2 * CHUNK + 6, 2 * CHUNK + 7, 2 * CHUNK + 8];
        for at in first.chain(second) {
            {
                // Lines of filler, a token whose prefix starts at `at`
                // (after an escape that reaches back over the seam for some
                // offsets), another one line later, and one at the end.
                let mut text: Vec<u8> = b"filler line\n".repeat(at / 12 + 1);
                text.truncate(at - 6);
                text.extend_from_slice(&escaped);
                text.extend_from_slice(b"\n  ");
                text.extend_from_slice(token);
                text.extend_from_slice(b"-\nx ");
                text.extend_from_slice(token);
                let want = whole(&text);
                assert_eq!(want.len(), 2, "the one followed by - is no token");
                for step in [usize::MAX, 4096, 977] {
                    assert_eq!(in_pieces(&text, step), want, "at {at}, reads of {step}");
                }
                checked += 1;
            }
        }
        // Control: these texts do put tokens across seams; read in pieces
        // with nothing carried over, a match is lost there.
        let mut text = b"x".repeat(CHUNK - 20);
        text.push(b' ');
        text.extend_from_slice(token);
        let cut =
            |text: &[u8]| -> usize { text.chunks(CHUNK).map(|piece| whole(piece).len()).sum() };
        assert_ne!(cut(&text), whole(&text).len());
        eprintln!("{checked} seams checked");
    }

    #[test]
    fn the_pattern_is_its_parts() {
        assert_eq!(PATTERN, format!("(?:^|{BEFORE})({TOKEN})(?:{AFTER}|$)"));
    }

    #[test]
    fn the_docs_show_this_pattern_and_no_other() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECRET-SCANNING.md");
        let doc = std::fs::read_to_string(&path).expect("docs/SECRET-SCANNING.md");
        for form in [
            format!("\n{PATTERN}\n"),
            format!("regex = '''{PATTERN}'''"),
            format!("token: '{PATTERN}'"),
            format!("Secret format:  {TOKEN}\n"),
            format!("Before secret:  \\A|{BEFORE}\n"),
            format!("After secret:   \\z|{AFTER}\n"),
        ] {
            assert!(doc.contains(&form), "the doc lacks {form}");
        }
        // Any other spelling of it (an edit that drifted) is caught.
        let written = doc.matches("(wgat_").count();
        assert_eq!(
            written,
            doc.matches(PATTERN).count(),
            "a pattern in the doc is not PATTERN"
        );
        assert!(written >= 3);
        assert_eq!(doc.matches("wgat_A[").count(), doc.matches(TOKEN).count());
        // The control: the doc with one character of one copy changed.
        let drifted = doc.replacen("{47}", "{46}", 1);
        assert_ne!(
            drifted.matches("(wgat_").count(),
            drifted.matches(PATTERN).count()
        );
    }
}
