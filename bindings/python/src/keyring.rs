//! `Keyring`: token records in memory or attached to a token store, and
//! the verification methods PyO3 wraps (the fast path in `fast.rs` answers
//! the common calls of three of them).

use core::time::Duration;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use whatsgate_auth as wga;
use whatsgate_auth::{Failure, OsRng, PrincipalRef, Profile, Rejection, Timestamp};
use whatsgate_auth_store::{FollowOptions, OpenMode};

use crate::convert::{
    SecondsArg, datetime, deprecated, header_name, header_pair, now_or, parse_account, parse_name,
    parse_profile, parse_resource_metadata, parse_token_id, py_repr, timestamp_opt, value_bytes,
};
use crate::errors::{auth_error, keyring_error, refused, reject, store_error};
use crate::principal::{self, PyPrincipal};
use crate::record::PyTokenRecord;
use crate::store::{Attached, PyFollowerStats, not_for_attached};

/// Token records, verified from many threads at once: in memory
/// (`Keyring()`), or attached to a token store (`Keyring.open(url)`),
/// whose follower keeps them current and whose writes go to the store.
///
/// Verification takes no lock; once `delete` or `regenerate` returns, a
/// verification that starts afterwards refuses the old token (unless a grace
/// period was asked for).
///
/// Verification holds the GIL: releasing and retaking it around so short a
/// call costs more than it gives back (see the README).
#[pyclass(frozen, module = "whatsgate_auth", name = "Keyring")]
pub(crate) struct PyKeyring {
    /// The keyring every verification reads: this object's own, or the
    /// one the store's follower keeps current.
    pub(crate) inner: Arc<wga::Keyring>,
    backing: Backing,
}

/// Where the records come from and the lifecycle writes go.
enum Backing {
    /// Held here only: the lifecycle methods change `inner` directly.
    Memory,
    /// A token store: writes go to it, a follower applies every change to
    /// `inner` (this host's own writes before the call returns).
    Attached(Attached),
}

/// Verifies a bare token (`Keyring.verify`, here and in the fast path),
/// answering as the `rest` profile: `InvalidToken`, or `StoreUnavailable`
/// for any token while the keyring is unavailable. (The core's
/// `Keyring::verify` answers "invalid" then; availability is read before,
/// and again after a refusal, so that a keyring cleared during the call
/// does not turn a good token into an invalid one either.)
pub(crate) fn verify_token<R>(
    keyring: &wga::Keyring,
    token: &[u8],
    now: Timestamp,
    f: impl FnOnce(PrincipalRef<'_>) -> R,
) -> Result<R, Rejection> {
    let refused = |failure| Err(Profile::Rest.reject(failure));
    if !keyring.is_available() {
        return refused(Failure::Unavailable);
    }
    match keyring.verify_with(token, now, f) {
        Ok(verified) => Ok(verified),
        Err(wga::InvalidToken) if !keyring.is_available() => refused(Failure::Unavailable),
        Err(wga::InvalidToken) => refused(Failure::Invalid),
    }
}

/// How often an attached keyring writes last use, unless told otherwise (as
/// `wgauth serve`).
const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// A store URL given as `str`, or a path (`os.PathLike`), which is always a
/// SQLite file, whatever its text looks like.
fn store_url(url: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = url.cast::<PyString>() {
        return Ok(text.to_str()?.to_owned());
    }
    let path: PathBuf = url.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "url is a str (a path, sqlite:PATH or postgresql://...) or a path object, not {}",
            url.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    match path.to_str() {
        Some(path) => Ok(format!("sqlite:{path}")),
        None => Err(PyValueError::new_err(
            "the store path has no UTF-8 form; give it as a str",
        )),
    }
}

impl PyKeyring {
    fn attached(&self) -> Option<&Attached> {
        match &self.backing {
            Backing::Memory => None,
            Backing::Attached(attached) => Some(attached),
        }
    }

    fn answer(
        &self,
        py: Python<'_>,
        result: Result<PyResult<Py<PyPrincipal>>, Rejection>,
    ) -> PyResult<Py<PyPrincipal>> {
        result.unwrap_or_else(|rejection| Err(reject(py, rejection)))
    }

    fn verify_in(
        &self,
        py: Python<'_>,
        profile: Profile,
        value: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        let now = now_or(timestamp_opt("now", now)?);
        let object = |p: PrincipalRef<'_>| principal::object(py, &self.inner, p);
        let result = if value.is_none() {
            self.inner.authenticate_with(profile, [], now, object)
        } else {
            let value = value_bytes(value)?;
            self.inner
                .authenticate_with(profile, [&*value], now, object)
        };
        self.answer(py, result)
    }
}

#[pymethods]
impl PyKeyring {
    /// An empty keyring, or one holding `records`, in memory.
    #[new]
    #[pyo3(signature = (records = None))]
    fn py_new(records: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let keyring = Self {
            inner: Arc::new(wga::Keyring::new()),
            backing: Backing::Memory,
        };
        if let Some(records) = records {
            for record in records.try_iter()? {
                keyring.add(&record?)?;
            }
        }
        Ok(keyring)
    }

    /// A keyring attached to the token store at `url` (a path, `sqlite:PATH`
    /// or `postgresql://…`), kept current by a follower; `create`, `delete`,
    /// `regenerate` and `records` go to the store. With `create`, an empty
    /// SQLite file or PostgreSQL schema is made if there is none.
    ///
    /// Past `stale_after` seconds without confirming it holds every change,
    /// every presented token raises StoreUnavailable (503 with Retry-After)
    /// until it is current again. The follower asks the store at least every
    /// `poll` seconds (less than `stale_after`); `timeout` bounds each
    /// connect, lock and statement; last use is written every `flush_every`
    /// seconds and by `close()`. Durations are int or float seconds or
    /// `datetime.timedelta`, positive (ValueError otherwise).
    ///
    /// Raises StoreError when the store cannot be opened or read now.
    #[classmethod]
    #[pyo3(
        signature = (
            url, *, create = false, stale_after = SecondsArg::Default, poll = SecondsArg::Default,
            timeout = SecondsArg::Default, flush_every = SecondsArg::Default
        ),
        text_signature = "(url, *, create=False, stale_after=5.0, poll=1.0, timeout=2.0, flush_every=5.0)"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword arguments of a Python method"
    )]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        create: bool,
        stale_after: SecondsArg<'_>,
        poll: SecondsArg<'_>,
        timeout: SecondsArg<'_>,
        flush_every: SecondsArg<'_>,
    ) -> PyResult<Self> {
        let url = store_url(url)?;
        let defaults = FollowOptions::default();
        let options = FollowOptions {
            bound: stale_after.or("stale_after", defaults.bound)?,
            poll: poll.or("poll", defaults.poll)?,
            timeout: timeout.or("timeout", defaults.timeout)?,
        };
        let flush_every = flush_every.or("flush_every", FLUSH_EVERY)?;
        if options.poll >= options.bound {
            // Idle, the follower confirms it is current once per poll: with
            // a poll as long as the bound, tokens would get 503 between polls.
            return Err(PyValueError::new_err(format!(
                "poll ({} s) must be shorter than stale_after ({} s): the keyring confirms it is \
                 current once per poll",
                options.poll.as_secs_f64(),
                options.bound.as_secs_f64()
            )));
        }
        let mode = if create {
            OpenMode::CreateIfMissing
        } else {
            OpenMode::Existing
        };
        let (attached, keyring) = py
            .detach(|| Attached::open(&url, mode, options, flush_every))
            .map_err(store_error)?;
        Ok(Self {
            inner: keyring,
            backing: Backing::Attached(attached),
        })
    }

    /// Adds a stored record (e.g. loaded from a database). Raises ValueError
    /// if its id, or its name within the account, is taken. In memory only
    /// (an attached keyring raises ValueError: its store holds the records).
    fn add(&self, record: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.attached().is_some() {
            return Err(not_for_attached("add", "make tokens with create()"));
        }
        let record = record.cast::<PyTokenRecord>()?;
        self.inner
            .add(record.get().inner.clone())
            .map_err(keyring_error)
    }

    /// Creates a new token for an account and adds its record. Returns the
    /// plaintext token (show it once, never store it) and the record (store
    /// it). Keywords only, so the account and the name cannot be swapped.
    /// Raises ValueError for a bad account, or a bad or taken name.
    #[pyo3(signature = (*, account, name))]
    fn create(
        &self,
        py: Python<'_>,
        account: &str,
        name: &str,
    ) -> PyResult<(String, PyTokenRecord)> {
        let (account, name, now) = (parse_account(account)?, parse_name(name)?, Timestamp::now());
        let (token, record) = match self.attached() {
            None => self
                .inner
                .create(&mut OsRng, account, name, now)
                .map_err(keyring_error)?,
            Some(store) => py
                .detach(|| store.with(|synced| synced.create(account, name, now)))
                .map_err(refused)?,
        };
        Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
    }

    /// Deprecated: `create(account=..., name=...)`. The old name and order
    /// (the name first), kept for existing callers; warns with a
    /// DeprecationWarning.
    fn issue(
        &self,
        py: Python<'_>,
        name: &str,
        account: &str,
    ) -> PyResult<(String, PyTokenRecord)> {
        deprecated(
            py,
            "Keyring.issue(name, account) is deprecated: call Keyring.create(account=..., name=...)",
        )?;
        self.create(py, account, name)
    }

    /// Deletes a token and returns its record. The token is refused once
    /// this returns. Raises KeyError for an unknown id. Attached: None when
    /// the store's row was damaged (no valid record): it is deleted all the
    /// same.
    fn delete(&self, py: Python<'_>, token_id: &str) -> PyResult<Option<PyTokenRecord>> {
        let id = parse_token_id(token_id)?;
        let record = match self.attached() {
            None => Some(self.inner.delete(id).map_err(keyring_error)?),
            Some(store) => py
                .detach(|| store.with(|synced| synced.delete(id)))
                .map_err(refused)?,
        };
        Ok(record.map(PyTokenRecord::new))
    }

    /// Replaces a token's secret, keeping its id, name and account. Returns
    /// the new plaintext token and record. The old token is refused once this
    /// returns, or, with `grace_until` in the future, until that instant (an
    /// aware `datetime`, or Unix seconds as int or float, floored to the
    /// second). Raises KeyError for an unknown id.
    #[pyo3(signature = (token_id, grace_until = None))]
    fn regenerate(
        &self,
        py: Python<'_>,
        token_id: &str,
        grace_until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(String, PyTokenRecord)> {
        let (id, grace_until) = (
            parse_token_id(token_id)?,
            timestamp_opt("grace_until", grace_until)?,
        );
        let now = Timestamp::now();
        let (token, record) = match self.attached() {
            None => self
                .inner
                .regenerate(&mut OsRng, id, now, grace_until)
                .map_err(keyring_error)?,
            Some(store) => py
                .detach(|| store.with(|synced| synced.regenerate(id, now, grace_until)))
                .map_err(refused)?,
        };
        Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
    }

    /// The record of one token (with its in-memory last use), or None.
    /// Attached: as this host's keyring holds it (no store read).
    fn get(&self, token_id: &str) -> PyResult<Option<PyTokenRecord>> {
        Ok(self
            .inner
            .get(parse_token_id(token_id)?)
            .map(PyTokenRecord::new))
    }

    /// The records of one account, or of all, ordered by account, creation
    /// time and id. Attached: read from the store (with the last use it
    /// holds); raises StoreError for a damaged row.
    #[pyo3(signature = (account = None))]
    fn list(&self, py: Python<'_>, account: Option<&str>) -> PyResult<Vec<PyTokenRecord>> {
        let records = match self.attached() {
            None => self.inner.list(account),
            Some(store) => py
                .detach(|| store.with(|synced| synced.list(account)))
                .map_err(refused)?,
        };
        Ok(records.into_iter().map(PyTokenRecord::new).collect())
    }

    /// Deprecated: `list(account)`, the name in Rust, C and the CLI; warns
    /// with a DeprecationWarning.
    #[pyo3(signature = (account = None))]
    fn records(&self, py: Python<'_>, account: Option<&str>) -> PyResult<Vec<PyTokenRecord>> {
        deprecated(
            py,
            "Keyring.records(account) is deprecated: call Keyring.list(account)",
        )?;
        self.list(py, account)
    }

    /// Makes the keyring hold exactly `records` (as when following a
    /// database that other processes change). Raises ValueError, changing
    /// nothing, if the records contradict each other. In memory only.
    fn sync(&self, records: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.attached().is_some() {
            return Err(not_for_attached(
                "sync",
                "its follower keeps it equal to the store",
            ));
        }
        let mut all = Vec::new();
        for record in records.try_iter()? {
            all.push(record?.cast::<PyTokenRecord>()?.get().inner.clone());
        }
        self.inner.sync(all).map_err(keyring_error)
    }

    /// The last-used instants that changed since the previous call, as
    /// `(token_id, datetime)` pairs (aware, UTC), for storing in one batch.
    /// In memory only (an attached keyring writes them itself:
    /// `flush_last_used`).
    fn take_last_used<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
        if self.attached().is_some() {
            return Err(not_for_attached(
                "take_last_used",
                "it writes last use to the store itself (flush_last_used())",
            ));
        }
        self.inner
            .take_last_used()
            .into_iter()
            .map(|(id, at)| Ok((id.to_string(), datetime(py, at)?)))
            .collect()
    }

    /// Marks the keyring current (True, the state of a new keyring) or not,
    /// for hosts that follow a token store themselves. While it is not,
    /// every presented token, good or bad, raises StoreUnavailable (503
    /// with Retry-After), never InvalidToken; no token still raises
    /// MissingToken. Issuing, adding, syncing and deleting still work. In
    /// memory only (an attached keyring's follower sets it).
    #[pyo3(signature = (available, /))]
    fn set_available(&self, available: bool) -> PyResult<()> {
        if self.attached().is_some() {
            return Err(not_for_attached(
                "set_available",
                "its follower marks it current or not",
            ));
        }
        self.inner.set_available(available);
        Ok(())
    }

    /// Whether the keyring is current (see `set_available`).
    #[getter]
    fn is_available(&self) -> bool {
        self.inner.is_available()
    }

    /// Verifies a bare token (not a header value: nothing is trimmed).
    /// Raises InvalidToken (with the `rest` profile's response) for
    /// anything but a valid token, the empty string included, or
    /// StoreUnavailable for any token while the keyring is unavailable.
    #[pyo3(signature = (token, /, *, now = None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        let token = value_bytes(token)?;
        let now = now_or(timestamp_opt("now", now)?);
        let result = verify_token(&self.inner, &token, now, |p| {
            principal::object(py, &self.inner, p)
        });
        self.answer(py, result)
    }

    /// Verifies the value of an `Access-Token` header (`rest` profile).
    ///
    /// `value` is str, bytes, or None (no header); None or an empty value
    /// raises MissingToken, anything but a valid token InvalidToken (403),
    /// any token while the keyring is unavailable StoreUnavailable (503).
    /// `now` (an aware `datetime` or Unix seconds, as for `regenerate`'s
    /// `grace_until`) defaults to the system clock.
    #[pyo3(signature = (value, /, *, now = None))]
    fn verify_access_token(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        self.verify_in(py, Profile::Rest, value, now)
    }

    /// Verifies the value of an `Authorization: Bearer` header (`mcp`
    /// profile); failures are 401 with a `WWW-Authenticate` challenge.
    #[pyo3(signature = (value, /, *, now = None))]
    fn verify_authorization(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        self.verify_in(py, Profile::Mcp, value, now)
    }

    /// Authenticates a request from all its `(name, value)` header pairs
    /// (str or bytes, as an ASGI scope or `[(k, v)]` list holds them): the
    /// profile's header is found case-insensitively, and two of them are
    /// invalid. With `resource_metadata` (an RFC 9728 URL) the `mcp`
    /// challenge points to it.
    #[pyo3(signature = (headers, /, profile = "rest", *, resource_metadata = None, now = None))]
    fn authenticate(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        profile: &str,
        resource_metadata: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        let profile = parse_profile(py, profile)?;
        let now = now_or(timestamp_opt("now", now)?);
        let metadata = resource_metadata
            .map(|url| parse_resource_metadata(py, url))
            .transpose()?;
        // The core reads the names and values in place: their objects are
        // held until it is done (an iterator may make them as it goes).
        let mut held = Vec::with_capacity(headers.len().unwrap_or(0));
        for pair in headers.try_iter()? {
            held.push(header_pair(&pair?)?);
        }
        let mut owned = Vec::with_capacity(held.len());
        for (name, value) in &held {
            owned.push((header_name(name)?, value_bytes(value)?));
        }
        let pairs = owned.iter().map(|(name, value)| (&**name, &**value));
        let result = self
            .inner
            .authenticate_with(profile, profile.token_values(pairs), now, |p| {
                principal::object(py, &self.inner, p)
            });
        match result {
            Ok(principal) => principal,
            Err(rejection) => {
                let challenge = match &metadata {
                    Some(m) => rejection.www_authenticate_with(m).map(|c| c.to_string()),
                    None => rejection.www_authenticate().map(str::to_owned),
                };
                Err(auth_error(py, rejection, challenge))
            }
        }
    }

    /// Attached: writes the last-use instants seen since the previous write
    /// to the store now (done every `flush_every` seconds and by `close()`
    /// anyway). Raises StoreError if the store cannot take them; they are
    /// kept for the next write. In memory: ValueError (`take_last_used()`).
    fn flush_last_used(&self, py: Python<'_>) -> PyResult<()> {
        let Some(store) = self.attached() else {
            return Err(PyValueError::new_err(
                "Keyring.flush_last_used() is for a keyring attached to a token store \
                 (Keyring.open); a keyring in memory hands last use over with take_last_used()",
            ));
        };
        py.detach(|| store.with(|synced| synced.flush_last_used()))
            .map_err(refused)
    }

    /// The store follower's counters (a `FollowerStats` snapshot), or None
    /// for a keyring in memory or a closed one.
    #[getter]
    fn stats(&self, py: Python<'_>) -> Option<PyFollowerStats> {
        let store = self.attached()?;
        py.detach(|| store.stats()).map(PyFollowerStats::new)
    }

    /// Attached: stops following the store (after the calls in flight) and
    /// writes last use a final time. From then on every presented token
    /// raises StoreUnavailable (the keyring no longer knows it is current)
    /// and the store methods raise ValueError. It waits for the follower's
    /// current wait on the store, up to `poll`. Raises StoreError if that
    /// final write failed (the keyring is closed all the same). Calling it
    /// again, or on a keyring in memory, does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(store) = self.attached() else {
            return Ok(());
        };
        let closed = py.detach(|| {
            let closed = store.close();
            // The follower has stopped: nothing marks it current again.
            self.inner.set_available(false);
            closed
        });
        closed.map(drop).map_err(store_error)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Closes the keyring (see `close`).
    #[pyo3(signature = (_exc_type, _exc_value, _traceback, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.close(py)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let tokens = self.inner.len();
        Ok(match self.attached() {
            None => format!("Keyring(tokens={tokens})"),
            Some(store) => format!(
                "Keyring(tokens={tokens}, store={}{})",
                py_repr(py, store.name())?,
                if store.is_closed() { ", closed" } else { "" }
            ),
        })
    }
}
