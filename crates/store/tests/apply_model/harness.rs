//! The store follower's change application checked against a model, shared
//! by `tests/apply_model.rs` (proptest, in CI) and the `store_apply` fuzz
//! target (`fuzz/fuzz_targets/store_apply.rs` includes this file).
//!
//! A run is a list of [`Op`]s on a real SQLite store: writes by two hosts
//! (create, delete, regenerate with grace, update; host A through the applier when
//! it is a `SyncedKeyring`, which applies its own writes at once), entries added to or lost from
//! the change log underneath (a replayed change naming a token again, a lost
//! entry, a log that skips a `seq`: the follower must resync on a gap), and
//! deliveries (one reader, two readers at once, a restart from a snapshot).
//! The model is a `BTreeMap` of the records the writes returned; after every
//! delivery the keyring must hold exactly those records and accept exactly
//! the tokens they accept.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use whatsgate_auth::{
    AccountId, Keyring, Scopes, Timestamp, Token, TokenId, TokenName, TokenRecord, TokenUpdate,
};
use whatsgate_auth_store::{
    FollowOptions, Follower, OpenMode, RowState, Store, StoreError, SyncedKeyring,
};

/// One step of a run. Small argument ranges, so that names collide and
/// picks land on deleted tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Host A or B issues a token for one of 2 accounts with one of 3 names.
    Create { on_b: bool, account: u8, name: u8 },
    /// Host A or B deletes a token ever issued (maybe deleted already).
    Delete { on_b: bool, pick: u8 },
    /// Host A or B regenerates a token ever issued, with a grace of 0-3 s.
    Regenerate { on_b: bool, pick: u8, grace: u8 },
    /// The log names a token ever issued again (a replayed change).
    Replay { pick: u8 },
    /// A log entry the applier has not read, and not the latest, is lost.
    Lose { pick: u8 },
    /// The log skips a `seq`: the next entry names a token ever issued.
    Gap { pick: u8 },
    /// The applier catches up on one reader connection.
    CatchUp,
    /// Two readers catch up at the same time (each change may be read twice).
    CatchUpRace,
    /// The applier is dropped and started again from a snapshot.
    Restart,
    /// The clock moves 1 s (grace periods end).
    Tick,
    /// Host A or B disables, enables, rescopes or renames a token ever
    /// issued (`what` picks which).
    Update { on_b: bool, pick: u8, what: u8 },
    /// Host A compacts the log (`Store::compact_changes`): every row but
    /// the newest goes, read or not.
    Compact,
}

impl Op {
    /// Decodes one op from a tag and two argument bytes (any values).
    pub fn decode(tag: u8, a: u8, b: u8) -> Self {
        let on_b = a & 0x80 != 0;
        match tag % 12 {
            0 => Self::Create {
                on_b,
                account: a % 2,
                name: b % 3,
            },
            1 => Self::Delete { on_b, pick: b },
            2 => Self::Regenerate {
                on_b,
                pick: b,
                grace: a % 4,
            },
            3 => Self::Replay { pick: b },
            4 => Self::Lose { pick: b },
            5 => Self::Gap { pick: b },
            6 => Self::CatchUp,
            7 => Self::CatchUpRace,
            8 => Self::Restart,
            9 => Self::Tick,
            10 => Self::Compact,
            _ => Self::Update {
                on_b,
                pick: b,
                what: a % 5,
            },
        }
    }
}

/// What applies a store's change log to a keyring.
pub trait Applier: Sized + Sync {
    /// A host that writes through its own keyring (host A's writes then go
    /// through it): its writes apply to the keyring at once, and again
    /// when the log is read back.
    fn host(&self) -> Option<&SyncedKeyring> {
        None
    }
    /// Starts from the store's snapshot.
    fn start(url: &str) -> Result<Self, StoreError>;
    /// The keyring it keeps.
    fn keyring(&self) -> &Keyring;
    /// The last `seq` it applied (may lag behind a background thread).
    fn cursor(&self) -> u64;
    /// Applies every change up to the store's head, read on `store`.
    fn catch_up(&self, store: &mut Store) -> Result<(), StoreError>;
}

/// Followers in these runs: never unavailable (the bound is far off), and a
/// short poll so that dropping one (it joins its thread) is quick.
pub const FOLLOW: FollowOptions = FollowOptions {
    bound: Duration::from_secs(3600),
    poll: Duration::from_millis(5),
    timeout: Duration::from_secs(5),
};

/// The store crate's own follower: the code under test. Its follow thread
/// applies changes too, concurrently with the runs' deliveries.
impl Applier for Follower {
    fn start(url: &str) -> Result<Self, StoreError> {
        Follower::start(url, FOLLOW)
    }
    fn keyring(&self) -> &Keyring {
        Follower::keyring(self)
    }
    fn cursor(&self) -> u64 {
        self.stats().seq
    }
    fn catch_up(&self, store: &mut Store) -> Result<(), StoreError> {
        Follower::catch_up(self, store)
    }
}

/// A host attached to the store: host A writes through it (see
/// [`Applier::host`]).
impl Applier for SyncedKeyring {
    fn start(url: &str) -> Result<Self, StoreError> {
        SyncedKeyring::open(url, OpenMode::Existing, FOLLOW)
    }
    fn keyring(&self) -> &Keyring {
        SyncedKeyring::keyring(self)
    }
    fn cursor(&self) -> u64 {
        self.stats().seq
    }
    fn catch_up(&self, store: &mut Store) -> Result<(), StoreError> {
        self.follower().catch_up(store)
    }
    fn host(&self) -> Option<&SyncedKeyring> {
        Some(self)
    }
}

/// A store, two writing hosts, two readers, a raw connection that edits
/// the log as another program would, the applier under test, and the model.
pub struct World<A: Applier> {
    _dir: tempfile::TempDir,
    url: String,
    hosts: [Store; 2],
    readers: [Store; 2],
    raw: rusqlite::Connection,
    applier: Option<A>,
    /// The records the store holds, from the writes' own answers.
    model: BTreeMap<TokenId, TokenRecord>,
    /// Every id ever issued, in order (picks index this).
    ever: Vec<TokenId>,
    /// Every token text ever issued (secrets: never shown in a message).
    tokens: Vec<Token>,
    now: u64,
}

const NOW: u64 = 1_790_000_000;

fn account(i: u8) -> AccountId {
    AccountId::new(&format!("acct_{i}")).expect("a valid account id")
}

fn name(i: u8) -> TokenName {
    TokenName::new(&format!("token {i}")).expect("a valid name")
}

/// What a test compares: a record without its last use (kept in memory by
/// the keyring and not a change).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    account: String,
    name: String,
    created_at: u64,
    verifier: String,
    rollover: Option<(String, u64)>,
    scopes: Option<Vec<String>>,
    disabled: bool,
}

fn seen(records: impl IntoIterator<Item = TokenRecord>) -> BTreeMap<String, Seen> {
    records
        .into_iter()
        .map(|r| {
            (
                r.id.to_string(),
                Seen {
                    account: r.account.as_str().to_owned(),
                    name: r.name.as_str().to_owned(),
                    created_at: r.created_at.0,
                    verifier: r.verifier.to_hex().to_string(),
                    rollover: r
                        .rollover
                        .map(|o| (o.verifier.to_hex().to_string(), o.until.0)),
                    scopes: r
                        .scopes
                        .list()
                        .map(|l| l.iter().map(|s| s.as_str().to_owned()).collect()),
                    disabled: r.disabled,
                },
            )
        })
        .collect()
}

impl<A: Applier> World<A> {
    /// A fresh store in a temporary directory under `parent` (the system's
    /// default when `None`), and an applier started on it.
    pub fn new(parent: Option<&Path>) -> Result<Self, String> {
        let dir = match parent {
            Some(p) => tempfile::tempdir_in(p),
            None => tempfile::tempdir(),
        }
        .map_err(|e| format!("temporary directory: {e}"))?;
        let path: PathBuf = dir.path().join("tokens.db");
        let url = format!("sqlite:{}", path.display());
        let open = |mode| Store::open(&url, mode).map_err(|e| format!("open: {e}"));
        let hosts = [open(OpenMode::CreateIfMissing)?, open(OpenMode::Existing)?];
        let readers = [open(OpenMode::Existing)?, open(OpenMode::Existing)?];
        let raw = rusqlite::Connection::open(&path).map_err(|e| format!("raw open: {e}"))?;
        raw.busy_timeout(Duration::from_secs(5))
            .map_err(|e| format!("raw busy timeout: {e}"))?;
        let applier = Some(A::start(&url).map_err(|e| format!("start: {e}"))?);
        Ok(Self {
            _dir: dir,
            url,
            hosts,
            readers,
            raw,
            applier,
            model: BTreeMap::new(),
            ever: Vec::new(),
            tokens: Vec::new(),
            now: NOW,
        })
    }

    /// The applier under test.
    pub fn applier(&self) -> &A {
        self.applier.as_ref().expect("an applier is running")
    }

    /// The attached host that writes for host A, if the applier is one.
    fn host(&self, on_b: bool) -> Option<&SyncedKeyring> {
        if on_b { None } else { self.applier().host() }
    }

    /// Host A or B updates a token (through the attached host, if any).
    fn update(
        &mut self,
        on_b: bool,
        id: TokenId,
        update: TokenUpdate,
    ) -> Result<TokenRecord, StoreError> {
        match self.host(on_b) {
            Some(host) => host.update(id, update),
            None => self.hosts[usize::from(on_b)].update(id, update),
        }
    }

    fn pick(&self, pick: u8) -> Option<TokenId> {
        (!self.ever.is_empty()).then(|| self.ever[usize::from(pick) % self.ever.len()])
    }

    fn raw_exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), String> {
        self.raw
            .execute(sql, params)
            .map(drop)
            .map_err(|e| format!("raw SQL {sql:?}: {e}"))
    }

    /// Runs every op, then a final delivery and check.
    pub fn run(&mut self, ops: &[Op]) -> Result<(), String> {
        for (i, op) in ops.iter().enumerate() {
            self.step(*op)
                .map_err(|e| format!("op {i} ({op:?}): {e}"))?;
        }
        self.step(Op::CatchUp)
            .map_err(|e| format!("the final catch-up: {e}"))
    }

    fn step(&mut self, op: Op) -> Result<(), String> {
        let now = Timestamp(self.now);
        match op {
            Op::Create {
                on_b,
                account: a,
                name: n,
            } => {
                let taken = self
                    .model
                    .values()
                    .any(|r| r.account == account(a) && r.name == name(n));
                let created = match self.host(on_b) {
                    Some(host) => host.create(account(a), name(n), now),
                    None => self.hosts[usize::from(on_b)].create(account(a), name(n), now),
                };
                match created {
                    Ok((token, record)) if !taken => {
                        self.ever.push(record.id);
                        self.model.insert(record.id, record);
                        self.tokens.push(token);
                    }
                    Err(StoreError::DuplicateName(..)) if taken => {}
                    Ok(_) => return Err("created a second token of one name".into()),
                    Err(e) => return Err(format!("create: {e}")),
                }
            }
            Op::Delete { on_b, pick } => {
                let Some(id) = self.pick(pick) else {
                    return Ok(());
                };
                let live = self.model.contains_key(&id);
                let deleted = match self.host(on_b) {
                    Some(host) => host.delete(id),
                    None => self.hosts[usize::from(on_b)].delete(id),
                };
                match deleted {
                    Ok(_) if live => {
                        self.model.remove(&id);
                    }
                    Err(StoreError::UnknownToken(_)) if !live => {}
                    other => return Err(format!("delete {id} (live {live}): {other:?}")),
                }
            }
            Op::Regenerate { on_b, pick, grace } => {
                let Some(id) = self.pick(pick) else {
                    return Ok(());
                };
                let live = self.model.contains_key(&id);
                let until = (grace > 0).then(|| Timestamp(self.now + u64::from(grace)));
                let regenerated = match self.host(on_b) {
                    Some(host) => host.regenerate(id, now, until),
                    None => self.hosts[usize::from(on_b)].regenerate(id, now, until),
                };
                match regenerated {
                    Ok((token, record)) if live => {
                        self.model.insert(id, record);
                        self.tokens.push(token);
                    }
                    Err(StoreError::UnknownToken(_)) if !live => {}
                    Ok(_) => return Err(format!("regenerated {id}, which was deleted")),
                    Err(e) => return Err(format!("regenerate {id}: {e}")),
                }
            }
            Op::Update { on_b, pick, what } => {
                let Some(id) = self.pick(pick) else {
                    return Ok(());
                };
                let Some(before) = self.model.get(&id).cloned() else {
                    // Gone: refused as unknown, nothing written.
                    let update = TokenUpdate {
                        disabled: Some(true),
                        ..TokenUpdate::default()
                    };
                    return match self.update(on_b, id, update) {
                        Err(StoreError::UnknownToken(_)) => Ok(()),
                        other => Err(format!("update of deleted {id}: {other:?}")),
                    };
                };
                let update = match what {
                    0 => TokenUpdate {
                        disabled: Some(true),
                        ..TokenUpdate::default()
                    },
                    1 => TokenUpdate {
                        disabled: Some(false),
                        ..TokenUpdate::default()
                    },
                    2 => TokenUpdate {
                        scopes: Some(Scopes::only(["messages:send"]).expect("a scope")),
                        ..TokenUpdate::default()
                    },
                    3 => TokenUpdate {
                        scopes: Some(Scopes::FULL),
                        ..TokenUpdate::default()
                    },
                    // A name in the account: free, or taken (then refused).
                    _ => TokenUpdate {
                        name: Some(name(pick % 3)),
                        ..TokenUpdate::default()
                    },
                };
                let taken = update.name.as_ref().is_some_and(|n| {
                    *n != before.name
                        && self
                            .model
                            .values()
                            .any(|r| r.account == before.account && r.name == *n)
                });
                match self.update(on_b, id, update) {
                    Ok(record) if !taken => {
                        self.model.insert(id, record);
                    }
                    Err(StoreError::DuplicateName(..)) if taken => {}
                    other => return Err(format!("update {id} (taken {taken}): {other:?}")),
                }
            }
            Op::Replay { pick } => {
                if let Some(id) = self.pick(pick) {
                    self.raw_exec(
                        "INSERT INTO changes (token_id, at) VALUES (?1, 0)",
                        [id.to_string()],
                    )?;
                }
            }
            Op::Lose { pick } => {
                let cursor = i64::try_from(self.applier().cursor()).unwrap_or(i64::MAX);
                let unread: Vec<i64> = self
                    .raw
                    .prepare(
                        "SELECT seq FROM changes WHERE seq > ?1 \
                         AND seq < (SELECT max(seq) FROM changes) ORDER BY seq",
                    )
                    .and_then(|mut s| s.query_map([cursor], |r| r.get(0))?.collect())
                    .map_err(|e| format!("reading the log: {e}"))?;
                if !unread.is_empty() {
                    let seq = unread[usize::from(pick) % unread.len()];
                    self.raw_exec("DELETE FROM changes WHERE seq = ?1", [seq])?;
                }
            }
            Op::Gap { pick } => {
                if let Some(id) = self.pick(pick) {
                    self.raw_exec(
                        "INSERT INTO changes (seq, token_id, at) \
                         VALUES ((SELECT coalesce(max(seq), 0) + 2 FROM changes), ?1, 0)",
                        [id.to_string()],
                    )?;
                }
            }
            Op::CatchUp => {
                let applier = self.applier.as_ref().expect("an applier is running");
                applier
                    .catch_up(&mut self.readers[0])
                    .map_err(|e| format!("catch up: {e}"))?;
                self.check()?;
            }
            Op::CatchUpRace => {
                let applier = self.applier.as_ref().expect("an applier is running");
                let [first, second] = &mut self.readers;
                let (a, b) = std::thread::scope(|s| {
                    let a = s.spawn(|| applier.catch_up(first));
                    let b = applier.catch_up(second);
                    (a.join().expect("a catching-up thread"), b)
                });
                a.and(b).map_err(|e| format!("catch up: {e}"))?;
                self.check()?;
            }
            Op::Restart => {
                // The old one stops (its threads joined) before the new one reads.
                self.applier = None;
                self.applier = Some(A::start(&self.url).map_err(|e| format!("restart: {e}"))?);
                self.check()?;
            }
            Op::Tick => self.now += 1,
            Op::Compact => {
                // The rows carry the wall clock; every one is older than this.
                let later = Timestamp::now().plus_secs(3600);
                self.hosts[0]
                    .compact_changes(later)
                    .map_err(|e| format!("compact: {e}"))?;
            }
        }
        Ok(())
    }

    /// The keyring holds exactly the model's records, and accepts exactly
    /// the tokens they accept, now.
    fn check(&self) -> Result<(), String> {
        let keyring = self.applier().keyring();
        let (held, wanted) = (seen(keyring.list(None)), seen(self.model.values().cloned()));
        if held != wanted {
            let mut why = String::from("the keyring differs from the model:");
            for (id, record) in &wanted {
                match held.get(id) {
                    None => write!(why, " {id} missing;"),
                    Some(h) if h != record => write!(why, " {id} is {h:?}, wanted {record:?};"),
                    Some(_) => Ok(()),
                }
                .expect("writing to a String");
            }
            for id in held.keys().filter(|id| !wanted.contains_key(*id)) {
                write!(why, " {id} should be gone;").expect("writing to a String");
            }
            return Err(why);
        }
        let now = Timestamp(self.now);
        for token in &self.tokens {
            let text = token.expose_secret().as_bytes();
            let parsed = whatsgate_auth::host_records::parse(text)
                .map_err(|_| format!("token {} does not parse", token.id()))?;
            let wanted = self
                .model
                .get(&parsed.id())
                .is_some_and(|r| r.accepts(&parsed, now));
            if keyring.verify(text, now).is_ok() != wanted {
                return Err(format!(
                    "a token of {} is {} by the keyring",
                    token.id(),
                    if wanted { "refused" } else { "accepted" }
                ));
            }
        }
        Ok(())
    }
}

/// Applies one change's row as a follower does (replace, or remove), for
/// [`Unchecked`].
fn apply_row(keyring: &Keyring, id: TokenId, row: RowState) {
    match row {
        RowState::Present(record) => {
            keyring.replace(record);
        }
        RowState::Absent | RowState::Invalid(_) => {
            keyring.discard(id);
        }
    }
}

/// A follower without the sequence check: it applies whatever the log
/// holds past its cursor, trusting a gap. Only for the positive control,
/// which shows the model catches it.
pub struct Unchecked {
    keyring: Keyring,
    cursor: Mutex<u64>,
}

impl Applier for Unchecked {
    fn start(url: &str) -> Result<Self, StoreError> {
        let mut store = Store::open(url, OpenMode::Existing)?;
        let snapshot = store.snapshot()?;
        let keyring = Keyring::new();
        for record in snapshot.records {
            keyring.replace(record);
        }
        Ok(Self {
            keyring,
            cursor: Mutex::new(snapshot.head),
        })
    }
    fn keyring(&self) -> &Keyring {
        &self.keyring
    }
    fn cursor(&self) -> u64 {
        *self.cursor.lock().expect("cursor")
    }
    fn catch_up(&self, store: &mut Store) -> Result<(), StoreError> {
        let mut cursor = self.cursor.lock().expect("cursor");
        loop {
            let changes = store.changes_since(*cursor, 1024)?;
            if changes.is_empty() {
                return Ok(());
            }
            for (change, row) in changes {
                apply_row(&self.keyring, change.id, row);
                *cursor = change.seq;
            }
        }
    }
}
