//! `wgauth`: the WhatsGate API token lifecycle on a token store (an embedded
//! SQLite file, or PostgreSQL), and a reference server that authenticates
//! with it.
//!
//! This library is the implementation of the `wgauth` binary; its only
//! public entry point is [`main`]. See `README.md` for the commands.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use whatsgate_auth::{AccountId, Profile, Timestamp, Token, TokenName};
use zeroize::Zeroizing;

/// Writes a line to stderr; a closed or broken stderr is not worth a panic
/// (`eprintln!` would panic on it).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod leak;
mod logger;
mod manage;
mod redact;
mod scan;
mod serve;
mod token;
mod units;

use units::{parse_duration, rfc3339};
use whatsgate_auth_store::{OpenMode, Store, StoreError};

/// Exit status when `wgauth verify` refuses the token.
const EXIT_REFUSED: u8 = 1;
/// Exit status for every other failure (bad arguments, store errors, …).
const EXIT_ERROR: u8 = 2;

/// The most bytes `wgauth verify` reads from stdin (a token is 55).
const MAX_STDIN_TOKEN: usize = 8 * 1024;

/// Manage WhatsGate API tokens in a local store, and serve the API with them.
#[derive(Debug, Parser)]
#[command(name = "wgauth", version, about, long_about = None)]
struct Cli {
    /// The token store: a SQLite file (a path, or sqlite:PATH), or
    /// postgresql://… for a store shared by many machines. Default: the
    /// WGAUTH_DB environment variable, else ./whatsgate-auth.db.
    // Not clap's `env`: it shows the variable's value in --help (a
    // PostgreSQL password) and renders --db as required in usage lines.
    #[arg(long, global = true, value_name = "URL")]
    db: Option<String>,

    /// How long to wait for another process that holds the store's lock
    /// (or, with PostgreSQL, for the server).
    #[arg(
        long,
        global = true,
        default_value = "5s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    busy_timeout: Duration,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, update, delete and regenerate tokens; revoke all of an account's; prune expired ones.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Check a token against the store: reads it from WGAUTH_TOKEN or stdin, never from the command line.
    Verify(VerifyArgs),
    /// Serve the API: /api/* needs `Access-Token`, /mcp/* needs `Authorization: Bearer`.
    Serve(ServeArgs),
    /// Show the audit trail (who created, changed, regenerated or deleted which token, when, and why), newest first.
    Audit(AuditArgs),
    /// Find tokens in files (or stdin: -) and report file, line, column and id, never the secret; exit status 1 when one is found.
    Scan(scan::ScanArgs),
    /// Delete the change log's rows older than --keep (the newest stays); a node further behind catches up in full.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
struct CompactArgs {
    /// Keep the rows written within this long of now: a node that has
    /// not read the log for longer loads a full snapshot instead.
    #[arg(long, default_value = "1d", value_parser = parse_duration, value_name = "DURATION")]
    keep: Duration,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Print the principal as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Show at most this many entries.
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Only entries about this account's tokens.
    #[arg(long)]
    account: Option<String>,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Create the store if missing, issue (or regenerate) the token "Demo token"
    /// of account "demo", and print it with a ready-to-paste curl command.
    #[arg(long)]
    demo: bool,
    /// Refuse every token with 503 (fail closed) once the server has not
    /// confirmed for this long that it holds every change of the store.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    stale_after: Duration,
    /// Benchmarks only: serve the same routes with no authentication at all.
    #[arg(long, hide = true)]
    no_auth: bool,
    /// The most connections held at once; at the cap, a new connection
    /// sheds the one that has waited longest for its request. Default:
    /// 16384, or less when the open-file limit is lower.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// The load check's control only: no connection cap and no idle
    /// shedding (what `scripts/test-cli` shows failing).
    #[arg(long, hide = true)]
    unlimited_connections: bool,
    /// Take GitHub secret-scanning reports at POST /leaks/github, checked
    /// with the keys in FILE (GitHub's key document, as
    /// https://api.github.com/meta/public_keys/secret_scanning serves it).
    #[arg(long, value_name = "FILE")]
    github_keys: Option<std::path::PathBuf>,
    /// Take reports of exposed tokens from anyone at POST /leaks/report
    /// (possession is the proof; rate-limited per client).
    #[arg(long)]
    leak_report: bool,
    /// Require a scope on a path prefix under /api or /mcp (and below),
    /// for every method or one: /api/send=messages:send,
    /// POST:/api/send=messages:send. Repeatable; a token without the scope
    /// gets 403 naming it.
    #[arg(long, value_name = "[METHOD:]PREFIX=SCOPE", value_parser = serve::ScopeRule::parse)]
    require_scope: Vec<serve::ScopeRule>,
    /// The lifetime policy of the tokens the management API creates and
    /// regenerates.
    #[command(flatten)]
    policy: token::PolicyArgs,
}

fn parse_account(text: &str) -> Result<AccountId, String> {
    AccountId::new(text).map_err(|e| format!("an account id {e}"))
}

fn parse_name(text: &str) -> Result<TokenName, String> {
    TokenName::new(text).map_err(|e| format!("a token name {e}"))
}

/// Why a command failed.
#[derive(Debug)]
enum Error {
    Store(StoreError),
    /// `wgauth verify` refused the token: the seed's message.
    Refused(&'static str),
    Io(&'static str, io::Error),
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => fmt::Display::fmt(e, f),
            Self::Refused(message) => f.write_str(message),
            Self::Io(doing, e) => write!(f, "{doing}: {e}"),
            Self::Other(message) => f.write_str(message),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Runs `wgauth` with the process's arguments; returns its exit status:
/// 0 on success, 1 when `wgauth verify` refuses the token, 2 on any error.
pub fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// The store when neither `--db` nor `WGAUTH_DB` names one.
const DEFAULT_DB: &str = "whatsgate-auth.db";

fn main_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let db_env = std::env::var_os("WGAUTH_DB");
    // Before clap, whose errors quote the values they refuse.
    if let Some(found) = redact::find(&args, db_env.as_ref()) {
        say!("wgauth: error: {}", redact::message(&found));
        return ExitCode::from(EXIT_ERROR);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version land here too, with exit status 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_ERROR));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Refused(message)) => {
            say!("{message}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(e) => {
            say!("wgauth: error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let db = match cli.db {
        Some(db) => db,
        None => match std::env::var("WGAUTH_DB") {
            Ok(db) => db,
            Err(std::env::VarError::NotPresent) => DEFAULT_DB.to_string(),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Other("WGAUTH_DB is not valid UTF-8".to_string()));
            }
        },
    };
    let open = |mode| Store::open_with_timeout(&db, mode, cli.busy_timeout);
    match cli.command {
        Command::Token(command) => token::run(command, open),
        Command::Verify(args) => verify(&mut open(OpenMode::Existing)?, args.json),
        Command::Scan(args) => scan::run(args, || open(OpenMode::Existing)),
        Command::Serve(args) => serve::run(serve::Options {
            db,
            busy_timeout: cli.busy_timeout,
            listen: args.listen,
            demo: args.demo,
            stale_after: args.stale_after,
            no_auth: args.no_auth,
            max_connections: args.max_connections,
            unlimited_connections: args.unlimited_connections,
            leak: leak::Options {
                github_keys: args.github_keys,
                public_report: args.leak_report,
            },
            require_scope: args.require_scope,
            policy: args.policy.policy(),
        }),
        Command::Audit(args) => {
            let mut store = open(OpenMode::Existing)?;
            let entries = store.audit(args.account.as_deref(), args.limit)?;
            print_audit(&entries, args.json)
        }
        Command::Compact(args) => {
            let mut store = open(OpenMode::Existing)?;
            let before = Timestamp(Timestamp::now().0.saturating_sub(args.keep.as_secs()));
            let deleted = store.compact_changes(before)?;
            write_stdout(&format!(
                "deleted {deleted} change-log row(s) written before {}\n",
                rfc3339(before)
            ))
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly.
fn write_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Io("writing to stdout", e)),
        _ => Ok(()),
    }
}

fn print_token(token: &Token) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", token.expose_secret())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            Error::Other(format!(
                "the token {} was saved but could not be written to stdout ({e}); \
                 regenerate it to get a new one",
                token.id()
            ))
        })
}

/// `wgauth audit`: the entries as a table or JSON (never a secret: the
/// store holds none).
fn print_audit(entries: &[whatsgate_auth_store::AuditEntry], json: bool) -> Result<(), Error> {
    if json {
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "seq": e.seq,
                    "at": e.at.as_secs(),
                    "actor": e.actor,
                    "action": e.action,
                    "token_id": e.token_id.map(|id| id.to_string()),
                    "account": e.account,
                    "detail": e.detail,
                })
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&rows)
            .map_err(|e| Error::Other(format!("could not write JSON: {e}")))?;
        text.push('\n');
        return write_stdout(&text);
    }
    if entries.is_empty() {
        say!("wgauth: the audit trail is empty");
        return Ok(());
    }
    let mut text = String::from("AT  ACTOR  ACTION  TOKEN  ACCOUNT  DETAIL\n");
    for e in entries {
        text.push_str(&format!(
            "{}  {}  {}  {}  {}  {}\n",
            rfc3339(e.at),
            e.actor,
            e.action,
            e.token_id
                .map_or_else(|| "-".to_string(), |id| id.to_string()),
            e.account.as_deref().unwrap_or("-"),
            e.detail
        ));
    }
    write_stdout(&text)
}

/// Reads the token (WGAUTH_TOKEN first, else stdin) and checks it as the
/// `rest` profile would check an `Access-Token` value. Read-only: it does
/// not count as a use of the token.
fn verify(store: &mut Store, json: bool) -> Result<(), Error> {
    let input = read_token_input()?;
    let profile = Profile::Rest;
    let message = |failure| profile.reject(failure).message();
    let token = profile
        .extract_value(&input)
        .map_err(|f| Error::Refused(message(f)))?;
    let invalid = || Error::Refused(message(whatsgate_auth::Failure::Invalid));
    let parsed = whatsgate_auth::host_records::parse(token).map_err(|_| invalid())?;
    let record = store.get(parsed.id())?.ok_or_else(invalid)?;
    if !record.accepts(&parsed, Timestamp::now()) {
        return Err(invalid());
    }
    let text = if json {
        let mut text = serde_json::json!({
            "account": record.account.as_str(),
            "token_id": record.id.to_string(),
            "token_name": record.name.as_str(),
        })
        .to_string();
        text.push('\n');
        text
    } else {
        format!(
            "valid: account {:?}, token {} {:?}\n",
            record.account.as_str(),
            record.id,
            record.name.as_str()
        )
    };
    write_stdout(&text)
}

/// The token to check, wiped from memory when dropped. Read from fd 0
/// directly (not through std's buffered stdin, whose buffer is never wiped).
fn read_token_input() -> Result<Zeroizing<Vec<u8>>, Error> {
    if let Some(value) = std::env::var_os("WGAUTH_TOKEN") {
        let mut input = Zeroizing::new(value.into_encoded_bytes());
        strip_line_end(&mut input);
        return Ok(input);
    }
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    // Full length up front: growing the vector would leave unwiped copies.
    let mut buf = Zeroizing::new(vec![0u8; MAX_STDIN_TOKEN]);
    let mut len = 0;
    let reading = |e: rustix::io::Errno| Error::Io("reading the token from stdin", e.into());
    if stdin.is_terminal() {
        // Echo off before the prompt: input typed after it is never shown.
        let echo = EchoOff::new(fd);
        let _ = write!(
            io::stderr(),
            "Paste the token and press Enter (it is not shown): "
        );
        // The terminal hands over one line per read; stop at its end.
        while len < buf.len() && !buf[..len].ends_with(b"\n") {
            match rustix::io::read(fd, &mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(reading(e)),
            }
        }
        drop(echo);
        // The Enter was not echoed either: end the prompt's line.
        let _ = writeln!(io::stderr());
    } else {
        while len < buf.len() {
            match rustix::io::read(fd, &mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(reading(e)),
            }
        }
    }
    buf.truncate(len);
    strip_line_end(&mut buf);
    Ok(buf)
}

/// One line: drop its line end; everything else is the profile's business.
fn strip_line_end(input: &mut Vec<u8>) {
    if input.ends_with(b"\n") {
        input.pop();
        if input.ends_with(b"\r") {
            input.pop();
        }
    }
}

/// Turns the terminal's echo off until dropped, so a pasted token is not
/// shown (nor left in the terminal's scrollback).
struct EchoOff<'a> {
    fd: BorrowedFd<'a>,
    saved: Option<rustix::termios::Termios>,
}

impl<'a> EchoOff<'a> {
    fn new(fd: BorrowedFd<'a>) -> Self {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let saved = tcgetattr(fd).ok().filter(|saved| {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            tcsetattr(fd, OptionalActions::Now, &quiet).is_ok()
        });
        Self { fd, saved }
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ =
                rustix::termios::tcsetattr(self.fd, rustix::termios::OptionalActions::Now, saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsgate_auth::Failure;

    #[test]
    fn messages_are_the_seeds() {
        let m = |f| Profile::Rest.reject(f).message();
        assert_eq!(m(Failure::Missing), "an Access-Token is required");
        assert_eq!(m(Failure::Invalid), "invalid Access-Token");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
