//! A `Keyring` attached to a token store (`Keyring.open(url)`): the
//! store crate's [`SyncedKeyring`] — a follower keeps the keyring current
//! and unavailable when it cannot be sure it is, writes go through the
//! store — plus a thread that writes last use in batches, and
//! `FollowerStats`.
//!
//! Every call that can wait on the store (open, writes, listing, flush,
//! close, the follower's counters, whose lock is held while it reads the
//! store) runs with the GIL released: a store that hangs for its timeout
//! stalls the calling thread, never the interpreter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use whatsgate_auth::{Keyring, LifetimePolicy};
use whatsgate_auth_store::{
    FollowOptions, FollowerStats, OpenMode, StoreError, StoreUrl, SyncedKeyring,
};

use crate::convert::py_repr;

/// A poisoned lock only means another thread panicked while holding it;
/// what it guards (a flag, an `Option` taken once) is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a call on an attached keyring did not reach the store's answer.
pub(crate) enum Refused {
    /// `close()` was called (or the keyring is being dropped).
    Closed,
    /// The store's own error.
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The store side of an attached `Keyring`.
pub(crate) struct Attached {
    shared: Arc<Shared>,
    /// The last-use thread; joined by `close`, left to finish by `Drop`.
    flusher: Mutex<Option<JoinHandle<()>>>,
    /// The store's URL as shown (a password redacted).
    name: String,
    /// Set as `close` starts: read without waiting for the calls in flight.
    closed: AtomicBool,
}

/// What the keyring's methods and the last-use thread share.
struct Shared {
    /// `None` once closed. Calls hold the read lock while they use the
    /// store, so `close` (the write lock) waits for calls in flight: no
    /// write can confirm the keyring current after `close` cleared it.
    synced: RwLock<Option<SyncedKeyring>>,
    /// Set by `close` or `Drop`: the last-use thread stops.
    stop: Mutex<bool>,
    wake: Condvar,
    /// How often the last-use thread writes.
    flush_every: Duration,
}

impl Attached {
    /// Opens the store and starts following it, its writes under `policy`
    /// and audited as `actor` (blocking: call it with the GIL released).
    pub(crate) fn open(
        url: &str,
        mode: OpenMode,
        options: FollowOptions,
        flush_every: Duration,
        policy: LifetimePolicy,
        actor: Option<String>,
    ) -> Result<(Self, Arc<Keyring>), StoreError> {
        let name = StoreUrl::parse(url)?.to_string();
        let synced = SyncedKeyring::open(url, mode, options)?;
        synced.set_policy(policy);
        if let Some(actor) = actor {
            synced.set_actor(actor);
        }
        let keyring = Arc::clone(synced.keyring());
        let shared = Arc::new(Shared {
            synced: RwLock::new(Some(synced)),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            flush_every,
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("wgauth-last-use".into())
                .spawn(move || shared.flush_until_stopped())
                .map_err(|e| {
                    StoreError::Unreachable(
                        name.clone(),
                        format!("cannot start the last-use thread: {e}"),
                    )
                })?
        };
        let attached = Self {
            shared,
            flusher: Mutex::new(Some(flusher)),
            name,
            closed: AtomicBool::new(false),
        };
        Ok((attached, keyring))
    }

    /// The store's URL, a password redacted.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the synced keyring unless closed (blocking: call it with
    /// the GIL released).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&SyncedKeyring) -> Result<R, StoreError>,
    ) -> Result<R, Refused> {
        let synced = self
            .shared
            .synced
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match synced.as_ref() {
            Some(synced) => Ok(f(synced)?),
            None => Err(Refused::Closed),
        }
    }

    /// Whether `close` was called (never waits).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// The follower's counters, or `None` once closed (blocking: the
    /// follower holds their lock while it reads the store).
    pub(crate) fn stats(&self) -> Option<FollowerStats> {
        self.with(|synced| Ok(synced.stats())).ok()
    }

    /// Stops following after the calls in flight, writes last use one final
    /// time, and stops the last-use thread (blocking: the follower's thread
    /// may sit in a store call for up to its `poll` or `timeout`). `Ok(false)`
    /// if it was closed already. On a failed final write the keyring is
    /// closed all the same, and the error says what was lost.
    pub(crate) fn close(&self) -> Result<bool, StoreError> {
        self.closed.store(true, Ordering::Relaxed);
        let synced = self
            .shared
            .synced
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.shared.signal_stop();
        if let Some(flusher) = lock(&self.flusher).take() {
            // The thread only waits or writes last use: a panic there left
            // nothing for this thread to undo.
            let _ = flusher.join();
        }
        let Some(synced) = synced else {
            return Ok(false);
        };
        let flushed = synced.flush_last_used();
        // Joins the follower's threads: nothing changes the keyring's
        // availability after this (the caller then marks it unavailable).
        drop(synced);
        flushed.map(|()| true)
    }
}

impl Drop for Attached {
    /// Dropped without `close()` (garbage collected): the last-use thread
    /// writes last use once more and stops the follower, off the Python
    /// thread (that can take up to the follower's `poll`); nothing waits
    /// for it, so at interpreter exit that last write may be lost.
    fn drop(&mut self) {
        self.shared.signal_stop();
    }
}

impl Shared {
    fn signal_stop(&self) {
        *lock(&self.stop) = true;
        self.wake.notify_all();
    }

    /// The last-use thread: a write every `flush_every` until stopped; then,
    /// if the keyring was not closed, a final write and the follower's stop.
    fn flush_until_stopped(&self) {
        loop {
            {
                let stop = self
                    .wake
                    .wait_timeout_while(lock(&self.stop), self.flush_every, |stop| !*stop)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if *stop {
                    break;
                }
            }
            let synced = self.synced.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(synced) = synced.as_ref() {
                // A failed write keeps its instants for the next one
                // (`SyncedKeyring::flush_last_used`), which `flush_last_used()`
                // or `close()` report.
                let _ = synced.flush_last_used();
            }
        }
        let abandoned = self
            .synced
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(synced) = abandoned {
            let _ = synced.flush_last_used();
        }
    }
}

/// What a store follower has done: `Keyring.stats` of an attached keyring.
/// A snapshot, taken when read. Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "FollowerStats")]
pub(crate) struct PyFollowerStats {
    inner: FollowerStats,
}

impl PyFollowerStats {
    pub(crate) fn new(inner: FollowerStats) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyFollowerStats {
    /// The sequence number of the last change applied.
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq
    }

    /// Changes applied since the keyring was opened.
    #[getter]
    fn applied(&self) -> u64 {
        self.inner.applied
    }

    /// Rows refused because they are not valid records (each refusal counted).
    #[getter]
    fn bad_rows(&self) -> u64 {
        self.inner.bad_rows
    }

    /// Full catch-ups (the first load included; one more per reconnect).
    #[getter]
    fn resyncs(&self) -> u64 {
        self.inner.resyncs
    }

    /// Whether the keyring is confirmed current, i.e. answers tokens, now.
    #[getter]
    fn current(&self) -> bool {
        self.inner.current
    }

    /// The last error met while following (never a secret), or None.
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.inner.last_error.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = &self.inner;
        Ok(format!(
            "FollowerStats(seq={}, applied={}, bad_rows={}, resyncs={}, current={}, last_error={})",
            s.seq,
            s.applied,
            s.bad_rows,
            s.resyncs,
            if s.current { "True" } else { "False" },
            match &s.last_error {
                Some(e) => py_repr(py, e)?,
                None => "None".to_owned(),
            },
        ))
    }
}

/// The error for a method an attached keyring does not have (its records
/// come from its store).
pub(crate) fn not_for_attached(method: &str, instead: &str) -> PyErr {
    PyValueError::new_err(format!(
        "Keyring.{method}() is for a keyring in memory; this one is attached to a token store, \
         which holds its records: {instead}"
    ))
}
