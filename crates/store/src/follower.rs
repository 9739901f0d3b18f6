//! A keyring kept current from a store's change log, failing closed.
//!
//! Two threads per follower:
//! - *follow*: waits for a change ([`Store::wait_for_change`]: `NOTIFY` on
//!   PostgreSQL, `data_version` on SQLite, at most [`FollowOptions::poll`]),
//!   applies the log in order, and confirms the keyring current as of the
//!   start of each read that reached the head. A lost connection means a new
//!   one and a full catch-up (a new snapshot).
//! - *watchdog*: does no I/O, so a hung connection cannot stop it; it marks
//!   the keyring unavailable once the last confirmation is older than
//!   [`FollowOptions::bound`], and available again once a newer one comes.
//!
//! Applying is serialized (one cursor), so writers on this host can catch up
//! synchronously after their own commit ([`Follower::catch_up`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use whatsgate_auth::{Keyring, KeyringError, TokenId};

use crate::backend::{BadRow, RowState};
use crate::{OpenMode, Store, StoreError};

/// How many changes one read applies; a longer backlog takes several reads.
const BATCH: usize = 1024;

/// How a follower waits and when it gives up on being current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowOptions {
    /// The longest a keyring may go without confirming it holds every
    /// change; past it every presented token is answered 503 until the
    /// follower is current again. Default 5 s.
    pub bound: Duration,
    /// The longest the follower waits for a wake-up before it asks the store
    /// anyway (and so confirms it is current). Default 1 s; keep it well
    /// under `bound`.
    pub poll: Duration,
    /// Connect, lock and statement timeout of the follower's connections.
    /// Default 2 s.
    pub timeout: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            bound: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }
}

/// What a follower has done, for a host's metrics and health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerStats {
    /// The `seq` of the last change applied.
    pub seq: u64,
    /// Changes applied since start.
    pub applied: u64,
    /// Rows refused because they failed validation (each refusal counted).
    pub bad_rows: u64,
    /// Full catch-ups (the first load included).
    pub resyncs: u64,
    /// Whether the keyring is current (answers tokens) right now.
    pub current: bool,
    /// The last error met while following (no secret in it), if any.
    pub last_error: Option<String>,
}

/// Follows a store: keeps its [`Keyring`] current, and unavailable when it
/// cannot be sure it is. Stops its threads when dropped.
pub struct Follower {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("store", &self.shared.store_name)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Shared {
    /// The URL as given (it may hold a password: never printed).
    url: String,
    /// The URL as shown in messages, password redacted.
    store_name: String,
    keyring: Arc<Keyring>,
    options: FollowOptions,
    epoch: Instant,
    /// Milliseconds after `epoch` at which the keyring was last known
    /// current, plus one (0: never).
    confirmed: AtomicU64,
    /// The last applied `seq`; held while applying.
    cursor: Mutex<u64>,
    /// Serializes the availability decision of the two threads.
    availability: Mutex<()>,
    stop: Mutex<bool>,
    wake: Condvar,
    applied: AtomicU64,
    bad_rows: AtomicU64,
    resyncs: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A poisoned lock only means another thread panicked while holding it;
/// the data (a counter, a flag) is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Follower {
    /// Opens the store, loads a snapshot into a new keyring (available once
    /// loaded), and starts following.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be opened or read at start: a
    /// host learns at once that its store is wrong, rather than answering
    /// 503 forever.
    pub fn start(url: &str, options: FollowOptions) -> Result<Self, StoreError> {
        Self::start_with(url, Arc::new(Keyring::new()), options)
    }

    /// [`Follower::start`] into a keyring of the host's (e.g. one with a
    /// custom token format). Its records are replaced by the store's.
    ///
    /// # Errors
    /// As [`Follower::start`].
    pub fn start_with(
        url: &str,
        keyring: Arc<Keyring>,
        options: FollowOptions,
    ) -> Result<Self, StoreError> {
        let mut store = Store::open_with_timeout(url, OpenMode::Existing, options.timeout)?;
        let shared = Arc::new(Shared {
            url: url.to_owned(),
            store_name: store.url().to_string(),
            keyring,
            options,
            epoch: Instant::now(),
            confirmed: AtomicU64::new(0),
            cursor: Mutex::new(0),
            availability: Mutex::new(()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            applied: AtomicU64::new(0),
            bad_rows: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let started = shared.now_ms();
        shared.resync(&mut store)?;
        shared.confirm(started);
        let follow = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("wgauth-follow".into())
                .spawn(move || shared.follow(Some(store)))
        };
        let watchdog = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("wgauth-watchdog".into())
                .spawn(move || shared.watch())
        };
        let mut follower = Self {
            shared,
            threads: Vec::new(),
        };
        for thread in [follow, watchdog] {
            match thread {
                Ok(handle) => follower.threads.push(handle),
                // Dropping `follower` stops the thread that did start.
                Err(e) => {
                    return Err(StoreError::Unreachable(
                        follower.shared.store_name.clone(),
                        format!("cannot start the follower's threads: {e}"),
                    ));
                }
            }
        }
        Ok(follower)
    }

    /// The keyring this follower keeps current.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.shared.keyring
    }

    /// Applies every change up to the store's head now, on `store` (a
    /// connection of the caller's): a host that just wrote calls this so
    /// that its own keyring reflects the write before the call returns.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read; the follow thread
    /// catches up later.
    pub fn catch_up(&self, store: &mut Store) -> Result<(), StoreError> {
        let started = self.shared.now_ms();
        self.shared.apply(store)?;
        self.shared.confirm(started);
        Ok(())
    }

    /// Runs one write of this host's and applies its effect to the keyring
    /// (`write`), then catches up, with the cursor held throughout. Held,
    /// because otherwise the follow thread could apply the write's change
    /// and a later one (another host deleting the same token) before
    /// `write` applies its own effect, which would then put back what the
    /// later change removed, unseen by any catch-up: a deleted token
    /// accepted here. A failed catch-up is only logged: the write's effect
    /// is applied, and the follow thread reads the log from the cursor.
    ///
    /// # Errors
    /// `write`'s error; nothing is caught up then.
    pub(crate) fn write_through<T>(
        &self,
        store: &mut Store,
        write: impl FnOnce(&mut Store, &Keyring) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let shared = &self.shared;
        let cursor = lock(&shared.cursor);
        let value = write(store, &shared.keyring)?;
        let started = shared.now_ms();
        match shared.apply_from(cursor, store) {
            Ok(()) => shared.confirm(started),
            Err(e) => log::warn!("token store {}: reading back a write: {e}", store.url()),
        }
        Ok(value)
    }

    /// Counters and state, for metrics and health checks.
    pub fn stats(&self) -> FollowerStats {
        let shared = &self.shared;
        FollowerStats {
            seq: *lock(&shared.cursor),
            applied: shared.applied.load(Ordering::Relaxed),
            bad_rows: shared.bad_rows.load(Ordering::Relaxed),
            resyncs: shared.resyncs.load(Ordering::Relaxed),
            current: shared.keyring.is_available(),
            last_error: lock(&shared.last_error).clone(),
        }
    }

    /// The options it follows with.
    pub fn options(&self) -> FollowOptions {
        self.shared.options
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            // The follow thread may sit in a store call for up to `poll` or
            // `timeout`; it checks `stop` as soon as that returns.
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn stopped(&self) -> bool {
        *lock(&self.stop)
    }

    /// Sleeps up to `pause`, or less if the follower is stopped.
    fn pause(&self, pause: Duration) {
        let stop = lock(&self.stop);
        if !*stop {
            let _ = self.wake.wait_timeout(stop, pause);
        }
    }

    fn note_error(&self, doing: &str, e: &StoreError) {
        let message = format!("{doing}: {e}");
        log::warn!("token store {}: {message}", self.store_name);
        *lock(&self.last_error) = Some(message);
    }

    /// The keyring is current as of `started` (a time taken before the read
    /// that reached the head).
    fn confirm(&self, started: u64) {
        self.confirmed.fetch_max(started + 1, Ordering::AcqRel);
        self.refresh_availability();
    }

    /// Marks the keyring available exactly when its last confirmation is
    /// within the bound.
    fn refresh_availability(&self) {
        let _decision = lock(&self.availability);
        let confirmed = self.confirmed.load(Ordering::Acquire);
        let bound = u64::try_from(self.options.bound.as_millis()).unwrap_or(u64::MAX);
        let current = confirmed != 0 && self.now_ms() + 1 - confirmed <= bound;
        if self.keyring.is_available() != current {
            if current {
                log::info!(
                    "token store {}: current again; answering tokens",
                    self.store_name
                );
            } else {
                log::warn!(
                    "token store {}: not confirmed current for {} ms (bound {} ms); \
                     answering 503 to every token until it is",
                    self.store_name,
                    self.now_ms() + 1 - confirmed.max(1),
                    bound
                );
            }
            self.keyring.set_available(current);
        }
    }

    /// The watchdog: no I/O, only the clock and the last confirmation.
    fn watch(&self) {
        let tick =
            (self.options.bound / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
        while !self.stopped() {
            self.refresh_availability();
            self.pause(tick);
        }
    }

    /// The follow thread: wait, apply, confirm; reconnect and catch up in
    /// full after any error.
    fn follow(&self, mut store: Option<Store>) {
        let mut backoff = Duration::from_millis(50);
        while !self.stopped() {
            let Some(connected) = store.as_mut() else {
                match Store::open_with_timeout(&self.url, OpenMode::Existing, self.options.timeout)
                {
                    Ok(mut fresh) => {
                        let started = self.now_ms();
                        match self.resync(&mut fresh) {
                            Ok(()) => {
                                self.confirm(started);
                                log::info!("token store {}: reconnected", self.store_name);
                                backoff = Duration::from_millis(50);
                                store = Some(fresh);
                            }
                            Err(e) => self.note_error("catching up after a reconnect", &e),
                        }
                    }
                    Err(e) => self.note_error("reconnecting", &e),
                }
                if store.is_none() {
                    self.pause(backoff);
                    backoff = (backoff * 2).min(self.options.poll);
                }
                continue;
            };
            let started = self.now_ms();
            let step = self
                .apply(connected)
                .map(|()| self.confirm(started))
                .and_then(|()| connected.wait_for_change(self.options.poll));
            if let Err(e) = step {
                self.note_error("following", &e);
                // Notifications sent while disconnected are lost: a new
                // connection starts with a full catch-up.
                store = None;
            }
        }
    }

    /// Applies the log after the cursor, in order, up to the head.
    fn apply(&self, store: &mut Store) -> Result<(), StoreError> {
        self.apply_from(lock(&self.cursor), store)
    }

    /// [`Shared::apply`] with the cursor already held.
    fn apply_from(
        &self,
        mut cursor: MutexGuard<'_, u64>,
        store: &mut Store,
    ) -> Result<(), StoreError> {
        loop {
            let changes = store.changes_since(*cursor, BATCH)?;
            let reached_head = changes.len() < BATCH;
            for (change, row) in changes {
                if change.seq != *cursor + 1 {
                    // Never skip a change: trust a new snapshot, not the log.
                    log::warn!(
                        "token store {}: change {} follows {}; catching up in full",
                        self.store_name,
                        change.seq,
                        *cursor
                    );
                    drop(cursor);
                    return self.resync(store);
                }
                self.apply_one(change.id, row);
                *cursor = change.seq;
                self.applied.fetch_add(1, Ordering::Relaxed);
            }
            if reached_head {
                return Ok(());
            }
        }
    }

    /// One change: a removal always applies; an invalid row is refused.
    fn apply_one(&self, id: TokenId, row: RowState) {
        match row {
            RowState::Present(record) => {
                // A record evicted here gave up its name in the store before
                // this read; its own change follows in the log.
                for evicted in self.keyring.replace(record) {
                    log::debug!(
                        "token store {}: token {evicted} gave up its name",
                        self.store_name
                    );
                }
            }
            RowState::Absent => {
                self.keyring.discard(id);
            }
            RowState::Invalid(bad) => {
                self.keyring.discard(id);
                self.refuse(&bad);
            }
        }
    }

    fn refuse(&self, bad: &BadRow) {
        self.bad_rows.fetch_add(1, Ordering::Relaxed);
        log::warn!(
            "token store {}: row {:?} is not a valid token record ({}); that token is refused",
            self.store_name,
            bad.id,
            bad.why
        );
    }

    /// A full catch-up: the keyring becomes the snapshot (bad rows refused),
    /// in one bulk load ([`Keyring::replace_all`]): tokens gone from the
    /// store are removed first, then changed ones replaced one by one,
    /// unchanged ones left alone.
    fn resync(&self, store: &mut Store) -> Result<(), StoreError> {
        let mut cursor = lock(&self.cursor);
        let snapshot = store.snapshot()?;
        // Two valid rows of one snapshot with the same account and name (or
        // id): the store is inconsistent there, so neither is trusted.
        for (id, why) in self.keyring.replace_all(snapshot.records) {
            let why = match why {
                KeyringError::DuplicateId(_) => "another row holds the same id",
                _ => "another row holds the same account and name",
            };
            self.refuse(&BadRow {
                id: id.to_string(),
                why: why.into(),
            });
        }
        for bad in &snapshot.bad_rows {
            // Not in the records, so already removed; but a valid row may
            // hold its id in another spelling (upper case): refused too.
            if let Ok(id) = bad.id.parse::<TokenId>() {
                self.keyring.discard(id);
            }
            self.refuse(bad);
        }
        *cursor = snapshot.head;
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
