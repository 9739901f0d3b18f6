//! `Keyring`: token records in memory, and the verification methods PyO3
//! wraps (the fast path in `fast.rs` answers the common calls of three of
//! them).

use pyo3::prelude::*;
use whatsgate_auth as wga;
use whatsgate_auth::{Failure, OsRng, PrincipalRef, Profile, Rejection, Timestamp};

use crate::convert::{
    header_name, header_pair, now_or, parse_account, parse_name, parse_profile,
    parse_resource_metadata, parse_token_id, value_bytes,
};
use crate::errors::{auth_error, keyring_error, reject};
use crate::principal::{self, PyPrincipal};
use crate::record::PyTokenRecord;

/// Token records in memory, verified from many threads at once.
///
/// Verification takes no lock; once `delete` or `regenerate` returns, a
/// verification that starts afterwards refuses the old token (unless a grace
/// period was asked for).
///
/// Verification holds the GIL: releasing and retaking it around so short a
/// call costs more than it gives back (see the README).
#[pyclass(frozen, module = "whatsgate_auth", name = "Keyring")]
pub(crate) struct PyKeyring {
    pub(crate) inner: wga::Keyring,
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

impl PyKeyring {
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
        now: Option<u64>,
    ) -> PyResult<Py<PyPrincipal>> {
        let now = now_or(now);
        let object = |p: PrincipalRef<'_>| principal::object(py, &self.inner, p);
        let result = if value.is_none() {
            self.inner.authenticate_with(profile, [], now, object)
        } else {
            self.inner
                .authenticate_with(profile, [value_bytes(value)?], now, object)
        };
        self.answer(py, result)
    }
}

#[pymethods]
impl PyKeyring {
    /// An empty keyring, or one holding `records`.
    #[new]
    #[pyo3(signature = (records = None))]
    fn py_new(records: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let keyring = Self {
            inner: wga::Keyring::new(),
        };
        if let Some(records) = records {
            for record in records.try_iter()? {
                keyring.add(&record?)?;
            }
        }
        Ok(keyring)
    }

    /// Adds a stored record (e.g. loaded from a database). Raises ValueError
    /// if its id, or its name within the account, is taken.
    fn add(&self, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let record = record.cast::<PyTokenRecord>()?;
        self.inner
            .insert(record.get().inner.clone())
            .map_err(keyring_error)
    }

    /// Issues a new token for an account and adds its record. Returns the
    /// plaintext token (show it once, never store it) and the record (store
    /// it). Raises ValueError for a bad or taken name.
    fn issue(&self, name: &str, account: &str) -> PyResult<(String, PyTokenRecord)> {
        let (token, record) = self
            .inner
            .issue(
                &mut OsRng,
                parse_account(account)?,
                parse_name(name)?,
                Timestamp::now(),
            )
            .map_err(keyring_error)?;
        Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
    }

    /// Deletes a token and returns its record. The token is refused once
    /// this returns. Raises KeyError for an unknown id.
    fn delete(&self, token_id: &str) -> PyResult<PyTokenRecord> {
        let id = parse_token_id(token_id)?;
        let record = self.inner.remove(id).map_err(keyring_error)?;
        Ok(PyTokenRecord::new(record))
    }

    /// Replaces a token's secret, keeping its id, name and account. Returns
    /// the new plaintext token and record. The old token is refused once this
    /// returns, or, with `grace_until` (seconds since the Unix epoch) in the
    /// future, until that instant. Raises KeyError for an unknown id.
    #[pyo3(signature = (token_id, grace_until = None))]
    fn regenerate(
        &self,
        token_id: &str,
        grace_until: Option<u64>,
    ) -> PyResult<(String, PyTokenRecord)> {
        let id = parse_token_id(token_id)?;
        let (token, record) = self
            .inner
            .regenerate(&mut OsRng, id, Timestamp::now(), grace_until.map(Timestamp))
            .map_err(keyring_error)?;
        Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
    }

    /// The record of one token (with its in-memory last use), or None.
    fn get(&self, token_id: &str) -> PyResult<Option<PyTokenRecord>> {
        Ok(self
            .inner
            .get(parse_token_id(token_id)?)
            .map(PyTokenRecord::new))
    }

    /// The records of one account, or of all, ordered by account, creation
    /// time and id.
    #[pyo3(signature = (account = None))]
    fn records(&self, account: Option<&str>) -> Vec<PyTokenRecord> {
        self.inner
            .records(account)
            .into_iter()
            .map(PyTokenRecord::new)
            .collect()
    }

    /// Makes the keyring hold exactly `records` (as when following a
    /// database that other processes change). Raises ValueError, changing
    /// nothing, if the records contradict each other.
    fn sync(&self, records: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut all = Vec::new();
        for record in records.try_iter()? {
            all.push(record?.cast::<PyTokenRecord>()?.get().inner.clone());
        }
        self.inner.sync(all).map_err(keyring_error)
    }

    /// The last-used instants that changed since the previous call, as
    /// `(token_id, seconds)` pairs, for storing in one batch.
    fn take_last_used(&self) -> Vec<(String, u64)> {
        self.inner
            .take_last_used()
            .into_iter()
            .map(|(id, at)| (id.to_string(), at.as_secs()))
            .collect()
    }

    /// Marks the keyring current (True, the state of a new keyring) or not,
    /// for hosts that follow a token store themselves. While it is not,
    /// every presented token, good or bad, raises StoreUnavailable (503
    /// with Retry-After), never InvalidToken; no token still raises
    /// MissingToken. Issuing, adding, syncing and deleting still work.
    #[pyo3(signature = (available, /))]
    fn set_available(&self, available: bool) {
        self.inner.set_available(available);
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
        now: Option<u64>,
    ) -> PyResult<Py<PyPrincipal>> {
        let result = verify_token(&self.inner, value_bytes(token)?, now_or(now), |p| {
            principal::object(py, &self.inner, p)
        });
        self.answer(py, result)
    }

    /// Verifies the value of an `Access-Token` header (`rest` profile).
    ///
    /// `value` is str, bytes, or None (no header); None or an empty value
    /// raises MissingToken, anything but a valid token InvalidToken (403),
    /// any token while the keyring is unavailable StoreUnavailable (503).
    /// `now` (seconds since the Unix epoch) defaults to the system clock.
    #[pyo3(signature = (value, /, *, now = None))]
    fn verify_access_token(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        now: Option<u64>,
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
        now: Option<u64>,
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
        now: Option<u64>,
    ) -> PyResult<Py<PyPrincipal>> {
        let profile = parse_profile(py, profile)?;
        let metadata = resource_metadata
            .map(|url| parse_resource_metadata(py, url))
            .transpose()?;
        // The core reads the names and values in place: their objects are
        // held until it is done (an iterator may make them as it goes).
        let mut held = Vec::with_capacity(headers.len().unwrap_or(0));
        for pair in headers.try_iter()? {
            held.push(header_pair(&pair?)?);
        }
        let mut pairs = Vec::with_capacity(held.len());
        for (name, value) in &held {
            pairs.push((header_name(name)?, value_bytes(value)?));
        }
        let result =
            self.inner
                .authenticate_with(profile, profile.token_values(pairs), now_or(now), |p| {
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

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("Keyring(tokens={})", self.inner.len())
    }
}
