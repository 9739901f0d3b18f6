//! `wgauth token …`: the token lifecycle on the store (create, list, update,
//! delete, regenerate, revoke-all, prune), with the store's lifetime
//! policy from `--max-lifetime` / `--max-grace` (or `WGAUTH_MAX_LIFETIME` /
//! `WGAUTH_MAX_GRACE`). Every write is audited with the actor `wgauth`.

use std::io::{self, BufRead, IsTerminal};
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;
use whatsgate_auth::{
    AccountId, Description, LifetimePolicy, NewToken, Scopes, Timestamp, TokenId, TokenName,
    TokenRecord, TokenUpdate,
};
use whatsgate_auth_store::{OpenMode, Store, StoreError};

use crate::units::{parse_duration, rfc3339};
use crate::{Error, parse_account, parse_name, print_token, write_stdout};

/// The actor `wgauth token` writes name in the audit trail.
const ACTOR: &str = "wgauth";

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; prints it once on stdout (and nothing else there).
    Create(CreateArgs),
    /// List tokens: id, account, name, created, last used, expiry, scopes, status. Never a secret.
    List(ListArgs),
    /// Change a token's name, description, scopes, or disable / enable it (same secret).
    Update(UpdateArgs),
    /// Delete a token, by id or by account and name; it is refused from then on.
    Delete(Which),
    /// Give a token a new secret (same id, name and account); prints it once on stdout.
    Regenerate {
        /// The token id, as `wgauth token list` shows it.
        id: TokenId,
        /// Keep accepting the old token for this long (e.g. 10m, 2h, 1d; at most --max-grace); by default it is refused at once.
        // Parsed by `run`, so that `--grace -1d` gets a plain message, not
        // clap's "unexpected argument '-1'".
        #[arg(long, allow_hyphen_values = true, value_name = "DURATION")]
        grace: Option<String>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Delete every token of an account at once (asks first, unless --yes).
    RevokeAll {
        /// The account whose tokens are all deleted.
        #[arg(long, value_parser = parse_account)]
        account: AccountId,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Delete every expired token; says how many.
    Prune,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The account the token belongs to; it reaches all of its devices.
    #[arg(long, value_parser = parse_account)]
    account: AccountId,
    /// A name unique within the account, such as "Production API".
    #[arg(long, value_parser = parse_name)]
    name: TokenName,
    /// Allow only this scope (resource:action, such as messages:send or devices:*); repeatable, at most 64. Default: full access.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Expire after this long (e.g. 30d, 12h). Default: never (or --max-lifetime, when set).
    // Parsed by `run`, for a plain message on a negative value.
    #[arg(long, allow_hyphen_values = true, value_name = "DURATION")]
    expires_in: Option<String>,
    /// What the token is for (at most 256 characters).
    #[arg(long, value_parser = parse_description, value_name = "TEXT")]
    description: Option<Description>,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The store's lifetime policy for this command's writes.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// The longest a new token may live; tokens created without --expires-in get this expiry. Default: no limit.
    #[arg(long, env = "WGAUTH_MAX_LIFETIME", value_parser = parse_duration, value_name = "DURATION")]
    max_lifetime: Option<Duration>,
    /// The longest a regenerated token's old secret may keep working (--grace).
    #[arg(long, env = "WGAUTH_MAX_GRACE", default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    max_grace: Duration,
}

impl PolicyArgs {
    pub(crate) fn policy(&self) -> LifetimePolicy {
        LifetimePolicy {
            max_lifetime: self.max_lifetime.map(|d| d.as_secs()),
            max_grace: self.max_grace.as_secs(),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this account's tokens.
    #[arg(long)]
    account: Option<String>,
    /// Only expired tokens (with --disabled: expired or disabled ones).
    #[arg(long)]
    expired: bool,
    /// Only disabled tokens (with --expired: expired or disabled ones).
    #[arg(long)]
    disabled: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Which token: by id, or by account and name.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "account"])))]
pub(crate) struct Which {
    /// The token id, as `wgauth token list` shows it.
    #[arg(conflicts_with_all = ["account", "name"])]
    id: Option<TokenId>,
    /// The account of the token (with --name).
    #[arg(long, requires = "name", value_parser = parse_account)]
    account: Option<AccountId>,
    /// The name of the token (with --account).
    #[arg(long, requires = "account", value_parser = parse_name)]
    name: Option<TokenName>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)
    .args(["rename", "description", "no_description", "scopes", "full_access", "disable", "enable"])))]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    which: Which,
    /// A new name, unique within the account.
    #[arg(long, value_parser = parse_name, value_name = "NEW")]
    rename: Option<TokenName>,
    /// A new description.
    #[arg(long, value_parser = parse_description, value_name = "TEXT", conflicts_with = "no_description")]
    description: Option<Description>,
    /// Remove the description.
    #[arg(long)]
    no_description: bool,
    /// Allow only these scopes from now on (repeatable; replaces the current ones).
    #[arg(long = "scope", value_name = "SCOPE", conflicts_with = "full_access")]
    scopes: Vec<String>,
    /// Allow everything again (the default a token is created with).
    #[arg(long)]
    full_access: bool,
    /// Refuse the token (as if deleted) until --enable; nothing else changes.
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    /// Accept a disabled token again.
    #[arg(long)]
    enable: bool,
}

fn parse_description(text: &str) -> Result<Description, String> {
    Description::new(text).map_err(|e| format!("a description {e}"))
}

/// `--scope` values as a set, or the error naming the bad one.
fn parse_scopes(names: &[String]) -> Result<Scopes, Error> {
    Scopes::only(names).map_err(|e| Error::Other(format!("--scope: {e}")))
}

/// A duration option given as text: plain messages, a negative one
/// included (`what` says what the option is for).
fn parse_length(option: &str, text: &str, what: &str) -> Result<Duration, Error> {
    if text.trim_start().starts_with('-') {
        return Err(Error::Other(format!(
            "{option} cannot be negative: it is {what}"
        )));
    }
    parse_duration(text).map_err(|e| Error::Other(format!("{option}: {e}")))
}

/// A refusal of the lifetime policy, with where the policy comes from.
fn policy_error(e: StoreError) -> Error {
    match e {
        StoreError::Policy(_) => Error::Other(format!(
            "{e} (the policy is set by --max-lifetime and --max-grace, or WGAUTH_MAX_LIFETIME \
             and WGAUTH_MAX_GRACE)"
        )),
        e => e.into(),
    }
}

pub(crate) fn run(
    command: TokenCommand,
    open: impl Fn(OpenMode) -> Result<Store, StoreError>,
) -> Result<(), Error> {
    let open = |mode| {
        open(mode).map(|mut store| {
            store.set_actor(ACTOR);
            store
        })
    };
    match command {
        TokenCommand::Create(args) => create(args, open(OpenMode::CreateIfMissing)?),
        TokenCommand::List(args) => list(&args, &mut open(OpenMode::Existing)?),
        TokenCommand::Update(args) => update(args, &mut open(OpenMode::Existing)?),
        TokenCommand::Delete(which) => {
            let mut store = open(OpenMode::Existing)?;
            let id = resolve(&mut store, which)?;
            match store.delete(id)? {
                Some(record) => say!(
                    "wgauth: deleted token {} {:?} of account {:?}; it is refused from now on",
                    record.id,
                    record.name.as_str(),
                    record.account.as_str()
                ),
                // Its row was damaged (another program wrote it); it is gone all the same.
                None => say!(
                    "wgauth: deleted token {id} (its row was damaged); it is refused from now on"
                ),
            }
            Ok(())
        }
        TokenCommand::Regenerate { id, grace, policy } => {
            let grace = grace
                .as_deref()
                .map(|g| {
                    parse_length(
                        "--grace",
                        g,
                        "how long the old token keeps working (such as 10m or 2h); without \
                         --grace the old token is refused at once",
                    )
                })
                .transpose()?;
            let mut store = open(OpenMode::Existing)?;
            store.set_policy(policy.policy());
            let now = Timestamp::now();
            let grace_until = grace
                .filter(|g| !g.is_zero())
                .map(|g| now.plus_secs(g.as_secs().max(1)));
            let (token, record) = store
                .regenerate(id, now, grace_until)
                .map_err(policy_error)?;
            match record.rollover {
                Some(r) => say!(
                    "wgauth: regenerated token {}; the old token keeps working until {}; the new one {}",
                    record.id,
                    rfc3339(r.until),
                    new_shown_once(),
                ),
                None => say!(
                    "wgauth: regenerated token {}; the old token is refused from now on; the new one {}",
                    record.id,
                    new_shown_once(),
                ),
            }
            print_token(&token)
        }
        TokenCommand::RevokeAll { account, yes } => {
            let mut store = open(OpenMode::Existing)?;
            let count = store.list(Some(account.as_str()))?.len();
            if count == 0 {
                say!("wgauth: account {:?} has no tokens", account.as_str());
                return Ok(());
            }
            if !yes {
                confirm(&format!(
                    "Delete all {count} tokens of account {:?}? Every one is refused at once.",
                    account.as_str()
                ))?;
            }
            let revoked = store.revoke_all(&account)?;
            say!(
                "wgauth: deleted {} token{} of account {:?}; they are refused from now on",
                revoked.len(),
                plural(revoked.len()),
                account.as_str()
            );
            Ok(())
        }
        TokenCommand::Prune => {
            let mut store = open(OpenMode::Existing)?;
            let pruned = store.prune(Timestamp::now())?;
            say!(
                "wgauth: deleted {} expired token{}",
                pruned.len(),
                plural(pruned.len())
            );
            Ok(())
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn create(args: CreateArgs, mut store: Store) -> Result<(), Error> {
    let now = Timestamp::now();
    let scopes = if args.scopes.is_empty() {
        Scopes::FULL
    } else {
        parse_scopes(&args.scopes)?
    };
    let expires_at = args
        .expires_in
        .as_deref()
        .map(|text| {
            let length = parse_length(
                "--expires-in",
                text,
                "how long the token works from now (such as 30d or 12h)",
            )?;
            if length.is_zero() {
                return Err(Error::Other(
                    "--expires-in must be longer than 0: the token would never work".into(),
                ));
            }
            Ok(now.plus_secs(length.as_secs().max(1)))
        })
        .transpose()?;
    store.set_policy(args.policy.policy());
    let spec = NewToken {
        scopes,
        expires_at,
        description: args.description,
        ..NewToken::new(args.account, args.name)
    };
    let (token, record) = store.create_from(spec, now).map_err(policy_error)?;
    let expiry = record
        .expires_at
        .map_or_else(String::new, |at| format!(", expiring {}", rfc3339(at)));
    say!(
        "wgauth: created token {} {:?} for account {:?} ({}{expiry}); {}",
        record.id,
        record.name.as_str(),
        record.account.as_str(),
        scopes_text(&record.scopes),
        shown_once(),
    );
    print_token(&token)
}

fn update(args: UpdateArgs, store: &mut Store) -> Result<(), Error> {
    let scopes = match (args.full_access, args.scopes.is_empty()) {
        (true, _) => Some(Scopes::FULL),
        (false, false) => Some(parse_scopes(&args.scopes)?),
        (false, true) => None,
    };
    let change = TokenUpdate {
        name: args.rename,
        description: match (args.description, args.no_description) {
            (Some(d), _) => Some(Some(d)),
            (None, true) => Some(None),
            (None, false) => None,
        },
        scopes,
        disabled: match (args.disable, args.enable) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        },
    };
    let id = resolve(store, args.which)?;
    let record = store.update(id, change)?;
    say!(
        "wgauth: updated token {} {:?} of account {:?}: {}, {}{}",
        record.id,
        record.name.as_str(),
        record.account.as_str(),
        scopes_text(&record.scopes),
        status(&record, Timestamp::now()),
        record
            .description
            .as_ref()
            .map_or_else(String::new, |d| format!(", {:?}", d.as_str()))
    );
    Ok(())
}

/// The token id `which` names.
fn resolve(store: &mut Store, which: Which) -> Result<TokenId, Error> {
    match (which.id, which.account, which.name) {
        (Some(id), _, _) => Ok(id),
        (None, Some(account), Some(name)) => match store.find(&account, &name)? {
            Some(record) => Ok(record.id),
            None => Err(StoreError::UnknownName(account, name).into()),
        },
        _ => Err(Error::Other(
            "say which token: an id, or --account and --name".to_string(),
        )),
    }
}

/// Asks on the terminal; anything but "y" or "yes" is a no. Without a
/// terminal there is no one to ask: refused, pointing at --yes.
fn confirm(question: &str) -> Result<(), Error> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Other(format!(
            "{question} Not confirmed: stdin is not a terminal; pass --yes to confirm"
        )));
    }
    say!("{question} Type yes to confirm:");
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Io("reading the confirmation", e))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Error::Other("not confirmed; nothing was deleted".into())),
    }
}

/// How `create` announces the token it prints: "below" only when stdout is
/// a terminal the reader sees.
fn shown_once() -> &'static str {
    if io::stdout().is_terminal() {
        "it is shown once, below: store it now"
    } else {
        "the token is written once, to stdout"
    }
}

fn new_shown_once() -> &'static str {
    if io::stdout().is_terminal() {
        "is shown once, below"
    } else {
        "is written once, to stdout"
    }
}

/// A token's state at `now`: disabled first (it says what to undo), then
/// expired.
fn status(r: &TokenRecord, now: Timestamp) -> &'static str {
    if r.disabled {
        "disabled"
    } else if is_expired(r, now) {
        "expired"
    } else {
        "active"
    }
}

/// As the record's rule: `expires_at` is the first instant refused.
fn is_expired(r: &TokenRecord, now: Timestamp) -> bool {
    r.expires_at.is_some_and(|at| at <= now)
}

fn scopes_text(scopes: &Scopes) -> String {
    match scopes.list() {
        None => "full access".into(),
        Some([]) => "no scopes".into(),
        Some(list) => list
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn list(args: &ListArgs, store: &mut Store) -> Result<(), Error> {
    let now = Timestamp::now();
    let mut records = store.list(args.account.as_deref())?;
    if args.expired || args.disabled {
        records.retain(|r| (args.disabled && r.disabled) || (args.expired && is_expired(r, now)));
    }
    if args.json {
        print_json(&records, now)
    } else {
        print_table(&records, args, now)
    }
}

/// A listing row: everything but the verifier.
#[derive(Serialize)]
struct Listed<'a> {
    id: String,
    account: &'a str,
    name: &'a str,
    /// Unix seconds.
    created_at: u64,
    last_used_at: Option<u64>,
    /// While the previous secret of a regenerated token is still accepted:
    /// the record's `rollover`, named as in Rust, C and Python.
    rollover_until: Option<u64>,
    /// The former name of `rollover_until` (same value), kept for scripts
    /// that read it.
    grace_until: Option<u64>,
    /// `null`: full access.
    scopes: Option<Vec<&'a str>>,
    expires_at: Option<u64>,
    disabled: bool,
    description: Option<&'a str>,
    /// `active`, `expired` or `disabled`, at the time of listing.
    status: &'static str,
}

fn print_json(records: &[TokenRecord], now: Timestamp) -> Result<(), Error> {
    let rows: Vec<Listed<'_>> = records
        .iter()
        .map(|r| {
            let rollover_until = r
                .rollover
                .filter(|ro| ro.until > now)
                .map(|ro| ro.until.as_secs());
            Listed {
                id: r.id.to_string(),
                account: r.account.as_str(),
                name: r.name.as_str(),
                created_at: r.created_at.as_secs(),
                last_used_at: r.last_used_at.map(Timestamp::as_secs),
                rollover_until,
                grace_until: rollover_until,
                scopes: r
                    .scopes
                    .list()
                    .map(|list| list.iter().map(|s| s.as_str()).collect()),
                expires_at: r.expires_at.map(Timestamp::as_secs),
                disabled: r.disabled,
                description: r.description.as_ref().map(|d| d.as_str()),
                status: status(r, now),
            }
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&rows)
        .map_err(|e| Error::Other(format!("could not write JSON: {e}")))?;
    text.push('\n');
    write_stdout(&text)
}

fn print_table(records: &[TokenRecord], args: &ListArgs, now: Timestamp) -> Result<(), Error> {
    if records.is_empty() {
        let filtered = args.expired || args.disabled;
        match args.account.as_deref() {
            Some(a) if filtered => say!("wgauth: account {a:?} has no such tokens"),
            Some(a) => say!("wgauth: account {a:?} has no tokens"),
            None if filtered => say!("wgauth: no such tokens"),
            None => say!(
                "wgauth: no tokens yet; create one with `wgauth token create --account A --name N`"
            ),
        }
        return Ok(());
    }
    let mut rows = vec![
        [
            "ID",
            "ACCOUNT",
            "NAME",
            "CREATED",
            "LAST USED",
            "EXPIRES",
            "SCOPES",
            "STATUS",
            "NOTE",
        ]
        .map(String::from),
    ];
    for r in records {
        rows.push([
            r.id.to_string(),
            r.account.to_string(),
            r.name.to_string(),
            rfc3339(r.created_at),
            r.last_used_at.map_or_else(|| "never".to_string(), rfc3339),
            r.expires_at.map_or_else(|| "never".to_string(), rfc3339),
            scopes_text(&r.scopes),
            status(r, now).to_string(),
            r.rollover
                .filter(|ro| ro.until > now)
                .map(|ro| format!("old secret accepted until {}", rfc3339(ro.until)))
                .unwrap_or_default(),
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    write_stdout(&text)
}
