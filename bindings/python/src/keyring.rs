//! `Keyring`: token records in memory or attached to a token store, and
//! the verification methods PyO3 wraps (the fast path in `fast.rs` answers
//! the common calls of three of them).

use core::time::Duration;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyType};
use whatsgate_auth as wga;
use whatsgate_auth::{
    Failure, LifetimePolicy, OsRng, PrincipalRef, Profile, Rejection, Timestamp, TokenUpdate,
};
use whatsgate_auth_store::{FollowOptions, OpenMode};

use crate::convert::{
    Change, SecondsArg, check_scope_name, datetime, deprecated, header_name, header_pair, now_or,
    parse_account, parse_description, parse_name, parse_profile, parse_resource_metadata,
    parse_scope, parse_scopes, parse_token_id, py_repr, timedelta, timestamp_opt, value_bytes,
    whole_seconds,
};
use crate::errors::{auth_error, keyring_error, refused, reject, scope_denial, store_error};
use crate::principal::{self, PyPrincipal};
use crate::record::{PyTokenRecord, Spec};
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
    /// The lifetime policy of its writes: the in-memory keyring's own, or
    /// the one an attached keyring's store applies.
    policy: LifetimePolicy,
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

/// The lifetime policy of a keyring's keyword arguments (None: the
/// default's value).
fn lifetime_policy(
    max_lifetime: Option<&Bound<'_, PyAny>>,
    max_grace: Option<&Bound<'_, PyAny>>,
) -> PyResult<LifetimePolicy> {
    Ok(LifetimePolicy {
        max_lifetime: max_lifetime
            .filter(|v| !v.is_none())
            .map(|v| whole_seconds("max_lifetime", v, false))
            .transpose()?,
        max_grace: max_grace
            .filter(|v| !v.is_none())
            .map(|v| whole_seconds("max_grace", v, true))
            .transpose()?
            .unwrap_or(LifetimePolicy::DEFAULT.max_grace),
    })
}

/// The core's `TokenUpdate` of `Keyring.update`'s keywords.
fn token_update(
    name: Change<'_>,
    description: Change<'_>,
    scopes: Change<'_>,
    disabled: Change<'_>,
) -> PyResult<TokenUpdate> {
    let mut update = TokenUpdate::default();
    if let Change::To(name) = name {
        let Ok(name) = name.extract::<&str>() else {
            return Err(PyTypeError::new_err(
                "name is a str (a token always has a name)",
            ));
        };
        update.name = Some(parse_name(name)?);
    }
    if let Change::To(text) = description {
        update.description = Some(if text.is_none() {
            None
        } else {
            let Ok(text) = text.extract::<&str>() else {
                return Err(PyTypeError::new_err(
                    "description is a str, or None to remove it",
                ));
            };
            Some(parse_description(text)?)
        });
    }
    if let Change::To(scopes) = scopes {
        update.scopes = Some(parse_scopes(Some(&scopes))?);
    }
    if let Change::To(disabled) = disabled {
        let Ok(disabled) = disabled.cast::<PyBool>() else {
            return Err(PyTypeError::new_err("disabled is True or False"));
        };
        update.disabled = Some(disabled.is_true());
    }
    if update.is_empty() {
        return Err(PyTypeError::new_err(
            "update() changes name, description, scopes or disabled: give at least one",
        ));
    }
    Ok(update)
}

impl PyKeyring {
    fn policy(&self) -> &LifetimePolicy {
        &self.policy
    }

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
    ///
    /// The lifetime policy applies to the tokens it creates and regenerates
    /// (records added are kept as they are): `max_lifetime` (None: no
    /// limit) is the longest a new token may live (one created without an
    /// expiry gets one that far ahead), `max_grace` (30 days by default)
    /// the longest grace period of a regeneration; each an int of seconds
    /// or a `datetime.timedelta`.
    #[new]
    #[pyo3(
        signature = (records = None, *, max_lifetime = None, max_grace = None),
        text_signature = "(records=None, *, max_lifetime=None, max_grace=None)"
    )]
    fn py_new(
        records: Option<&Bound<'_, PyAny>>,
        max_lifetime: Option<&Bound<'_, PyAny>>,
        max_grace: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let policy = lifetime_policy(max_lifetime, max_grace)?;
        let keyring = Self {
            inner: Arc::new(wga::Keyring::new().with_policy(policy)),
            backing: Backing::Memory,
            policy,
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
    /// `datetime.timedelta`, positive (ValueError otherwise). `max_lifetime`
    /// and `max_grace` are the lifetime policy of this keyring's writes, as
    /// for `Keyring()`; `actor` is who the store's audit entries of its
    /// writes name (the store's default, `local`, when None).
    ///
    /// Raises StoreError when the store cannot be opened or read now.
    #[classmethod]
    #[pyo3(
        signature = (
            url, *, create = false, stale_after = SecondsArg::Default, poll = SecondsArg::Default,
            timeout = SecondsArg::Default, flush_every = SecondsArg::Default, max_lifetime = None,
            max_grace = None, actor = None
        ),
        text_signature = "(url, *, create=False, stale_after=5.0, poll=1.0, timeout=2.0, flush_every=5.0, max_lifetime=None, max_grace=None, actor=None)"
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
        max_lifetime: Option<&Bound<'_, PyAny>>,
        max_grace: Option<&Bound<'_, PyAny>>,
        actor: Option<String>,
    ) -> PyResult<Self> {
        let url = store_url(url)?;
        let policy = lifetime_policy(max_lifetime, max_grace)?;
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
            .detach(|| Attached::open(&url, mode, options, flush_every, policy, actor))
            .map_err(store_error)?;
        Ok(Self {
            inner: keyring,
            backing: Backing::Attached(attached),
            policy,
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
    ///
    /// Optionally: `scopes`, the `resource:action` names it may use (None,
    /// the default, is full access); `expires_at` (an aware `datetime` or
    /// Unix seconds) or `expires_in` (seconds or a `timedelta`), when it
    /// stops working; `description`, what it is for (at most 256
    /// characters). Raises ValueError for a bad account, a bad or taken
    /// name, a bad scope or description, or an expiry the lifetime policy
    /// refuses (not in the future, or beyond `max_lifetime`).
    #[pyo3(
        signature = (*, account, name, scopes = None, expires_at = None, expires_in = None, description = None),
        text_signature = "($self, *, account, name, scopes=None, expires_at=None, expires_in=None, description=None)"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword arguments of a Python method"
    )]
    fn create(
        &self,
        py: Python<'_>,
        account: &str,
        name: &str,
        scopes: Option<&Bound<'_, PyAny>>,
        expires_at: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        description: Option<&str>,
    ) -> PyResult<(String, PyTokenRecord)> {
        let now = Timestamp::now();
        let spec = Spec {
            scopes,
            expires_at,
            expires_in,
            description,
        }
        .new_token(account, name, now)?;
        let (token, record) = match self.attached() {
            None => self
                .inner
                .create_from(&mut OsRng, spec, now)
                .map_err(keyring_error)?,
            Some(store) => py
                .detach(|| store.with(|synced| synced.create_from(spec, now)))
                .map_err(refused)?,
        };
        Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
    }

    /// Changes a token's `name`, `description` (None removes it),
    /// `scopes` (None: full access) or `disabled` (a disabled token is
    /// refused, without being deleted, until enabled again); only the
    /// fields given change. Returns the record as it now is. Once this
    /// returns, every verification that starts sees the change. Raises
    /// KeyError for an unknown id, ValueError for a bad or taken name, a
    /// bad description or scope, TypeError when nothing is given.
    #[pyo3(
        signature = (
            token_id, *, name = Change::Keep, description = Change::Keep, scopes = Change::Keep,
            disabled = Change::Keep
        ),
        text_signature = "($self, token_id, *, name=..., description=..., scopes=..., disabled=...)"
    )]
    fn update(
        &self,
        py: Python<'_>,
        token_id: &str,
        name: Change<'_>,
        description: Change<'_>,
        scopes: Change<'_>,
        disabled: Change<'_>,
    ) -> PyResult<PyTokenRecord> {
        let id = parse_token_id(token_id)?;
        let update = token_update(name, description, scopes, disabled)?;
        let record = match self.attached() {
            None => self.inner.update(id, update).map_err(keyring_error)?,
            Some(store) => py
                .detach(|| store.with(|synced| synced.update(id, update)))
                .map_err(refused)?,
        };
        Ok(PyTokenRecord::new(record))
    }

    /// Deletes every token of `account` (none: an empty list) and returns
    /// their records; each is refused once this returns. Attached: in one
    /// store transaction.
    fn revoke_all(&self, py: Python<'_>, account: &str) -> PyResult<Vec<PyTokenRecord>> {
        let account = parse_account(account)?;
        let records = match self.attached() {
            None => self.inner.revoke_all(account.as_str()),
            Some(store) => py
                .detach(|| store.with(|synced| synced.revoke_all(&account)))
                .map_err(refused)?,
        };
        Ok(records.into_iter().map(PyTokenRecord::new).collect())
    }

    /// Deletes the tokens expired at `now` (the clock by default; an aware
    /// `datetime` or Unix seconds) and returns their records. Disabled
    /// tokens that have not expired are kept (they can be enabled again).
    #[pyo3(signature = (*, now = None))]
    fn prune(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyTokenRecord>> {
        let now = now_or(timestamp_opt("now", now)?);
        let records = match self.attached() {
            None => self.inner.prune(now),
            Some(store) => py
                .detach(|| store.with(|synced| synced.prune(now)))
                .map_err(refused)?,
        };
        Ok(records.into_iter().map(PyTokenRecord::new).collect())
    }

    /// The lifetime policy's maximum lifetime of a new token, or None (no
    /// limit).
    #[getter]
    fn max_lifetime<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.policy()
            .max_lifetime
            .map(|secs| timedelta(py, secs))
            .transpose()
    }

    /// The lifetime policy's longest grace period of a regeneration.
    #[getter]
    fn max_grace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        timedelta(py, self.policy().max_grace)
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
        self.create(py, account, name, None, None, None, None)
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
    /// second). Raises KeyError for an unknown id, ValueError for a grace
    /// period that ends in the past or lasts longer than the lifetime
    /// policy's `max_grace` (30 days by default).
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
    /// challenge points to it. With `required_scope` (a `resource:action`
    /// name; ValueError for one that is not), an accepted token that lacks
    /// it raises InsufficientScope (403, naming the scope).
    #[pyo3(signature = (
        headers, /, profile = "rest", *, resource_metadata = None, required_scope = None, now = None
    ))]
    fn authenticate(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        profile: &str,
        resource_metadata: Option<&str>,
        required_scope: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyPrincipal>> {
        let profile = parse_profile(py, profile)?;
        let required = required_scope.map(check_scope_name).transpose()?;
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
                // Checked after the token was accepted, never before.
                match required {
                    Some(scope) if !p.has_scope(scope) => Err(scope_denial(
                        py,
                        profile,
                        &parse_scope(scope)?,
                        metadata.as_ref(),
                    )),
                    _ => principal::object(py, &self.inner, p),
                }
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

    /// Attached: the store's latest audit entries (newest first, at most
    /// `limit`), of one account or of all: dicts of `seq`, `at` (an aware
    /// `datetime`), `actor` (who wrote: `Keyring.open(..., actor=...)`,
    /// `wgauth`, or `token:<id>` for the management API), `action` (such
    /// as `token.update`), `token_id`, `account` and `detail` (what changed;
    /// never a secret). In memory: ValueError (it keeps no audit trail).
    #[pyo3(signature = (account = None, *, limit = 100))]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        account: Option<&str>,
        limit: usize,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let Some(store) = self.attached() else {
            return Err(PyValueError::new_err(
                "Keyring.audit() is for a keyring attached to a token store (Keyring.open): the \
                 store keeps the audit trail of its writes",
            ));
        };
        let entries = py
            .detach(|| store.with(|synced| synced.audit(account, limit)))
            .map_err(refused)?;
        entries
            .into_iter()
            .map(|e| {
                let d = PyDict::new(py);
                d.set_item("seq", e.seq)?;
                d.set_item("at", datetime(py, e.at)?)?;
                d.set_item("actor", e.actor)?;
                d.set_item("action", e.action)?;
                d.set_item("token_id", e.token_id.map(|id| id.to_string()))?;
                d.set_item("account", e.account)?;
                d.set_item("detail", e.detail)?;
                Ok(d)
            })
            .collect()
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
