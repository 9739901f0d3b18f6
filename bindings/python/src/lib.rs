//! The native module `whatsgate_auth._native` of the `whatsgate-auth` wheel.
//!
//! A thin layer over the Rust core (`whatsgate_auth`): every verification,
//! header rule and response body comes from the core, so Python answers
//! exactly as Rust and C do. The public Python API is re-exported by
//! `python/whatsgate_auth/__init__.py`; its types are in `_native.pyi`.
//!
//! Nothing here ever puts a token secret into a `repr`, `str` or exception
//! message: plaintext tokens only leave as the first item of the tuples that
//! `generate`, `Keyring.issue` and `Keyring.regenerate` return.

extern crate alloc;

use alloc::borrow::Cow;
use core::hash::{Hash, Hasher};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::DefaultHasher;
use std::time::Instant;

use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::{create_exception, intern};
use wga::http::ResourceMetadata;
use wga::{
    AccountId, Failure, KeyringError, OsRng, PrincipalRef, Profile, Rejection, Timestamp,
    TokenFormat, TokenId, TokenIdHash, TokenName,
};
use whatsgate_auth as wga;

mod fast;

mod errors {
    //! The exception hierarchy: one base, one subclass per failure.
    #![allow(missing_docs)]
    use super::{PyException, create_exception};

    create_exception!(
        whatsgate_auth,
        AuthError,
        PyException,
        "A request was not authenticated. `status_code`, `body` (the exact JSON) and `headers` are the response to send."
    );
    create_exception!(
        whatsgate_auth,
        MissingToken,
        AuthError,
        "No token was presented (no header, or an empty one)."
    );
    create_exception!(
        whatsgate_auth,
        InvalidToken,
        AuthError,
        "A token was presented and refused: malformed, unknown, wrong, deleted or regenerated, all alike."
    );
}

use errors::{AuthError, InvalidToken, MissingToken};

/// The current time, or the `now` a caller passed (tests, replays).
fn now_or(now: Option<u64>) -> Timestamp {
    now.map_or_else(Timestamp::now, Timestamp)
}

fn parse_profile(profile: &str) -> PyResult<Profile> {
    match profile {
        "rest" => Ok(Profile::Rest),
        "mcp" => Ok(Profile::Mcp),
        _ => Err(PyValueError::new_err(
            "profile must be \"rest\" (Access-Token header) or \"mcp\" (Authorization: Bearer)",
        )),
    }
}

fn parse_token_id(token_id: &str) -> PyResult<TokenId> {
    token_id
        .parse()
        .map_err(|e: wga::token::ParseTokenIdError| PyValueError::new_err(e.to_string()))
}

fn parse_account(account: &str) -> PyResult<AccountId> {
    AccountId::new(account).map_err(|e| PyValueError::new_err(format!("account {e}")))
}

fn parse_name(name: &str) -> PyResult<TokenName> {
    TokenName::new(name).map_err(|e| PyValueError::new_err(format!("token name {e}")))
}

fn keyring_error(e: KeyringError) -> PyErr {
    match e {
        KeyringError::UnknownToken(id) => PyKeyError::new_err(id.to_string()),
        KeyringError::Rng(_) => PyOSError::new_err(e.to_string()),
        KeyringError::DuplicateId(_) | KeyringError::DuplicateName { .. } => {
            PyValueError::new_err(e.to_string())
        }
    }
}

/// Builds the `MissingToken` / `InvalidToken` exception for a rejection.
fn auth_error(py: Python<'_>, rejection: Rejection, challenge: Option<String>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let message = rejection.to_string();
        let err = match rejection.failure {
            Failure::Missing => MissingToken::new_err(message),
            Failure::Invalid => InvalidToken::new_err(message),
        };
        let value = err.value(py);
        value.setattr(intern!(py, "status_code"), rejection.status())?;
        value.setattr(
            intern!(py, "body"),
            PyBytes::new(py, rejection.body().as_bytes()),
        )?;
        let headers = PyList::empty(py);
        headers.append(("Content-Type", "application/json"))?;
        if let Some(challenge) = challenge {
            headers.append(("WWW-Authenticate", challenge))?;
        }
        value.setattr(intern!(py, "headers"), headers)?;
        Ok(err)
    };
    build().unwrap_or_else(|e| e)
}

fn reject(py: Python<'_>, rejection: Rejection) -> PyErr {
    let challenge = rejection.www_authenticate().map(str::to_owned);
    auth_error(py, rejection, challenge)
}

/// Bytes of a header value (or bare token) given as `str` or `bytes`.
///
/// A `str` is read as UTF-8; one that cannot be (lone surrogates) is
/// replaced by a byte that is never valid in a token, so it is refused as a
/// token rather than raising: any non-ASCII value is invalid either way.
fn value_bytes<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(s) = value.cast::<PyString>() {
        Ok(s.to_str().map_or(&[0xff][..], str::as_bytes))
    } else if let Ok(b) = value.cast::<PyBytes>() {
        Ok(b.as_bytes())
    } else {
        Err(PyTypeError::new_err(format!(
            "a token or header value must be str or bytes, not {}",
            value.get_type().name()?
        )))
    }
}

/// Python's `repr` of a string (names and accounts are user text).
fn py_repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_cow()?.into_owned())
}

/// Splits one `(name, value)` header pair, a tuple or a list (ASGI allows both).
fn header_pair<'py>(pair: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let bad = || PyTypeError::new_err("headers must be (name, value) pairs of str or bytes");
    if let Ok(t) = pair.cast::<PyTuple>()
        && t.len() == 2
    {
        return Ok((t.get_item(0)?, t.get_item(1)?));
    }
    if let Ok(l) = pair.cast::<PyList>()
        && l.len() == 2
    {
        return Ok((l.get_item(0)?, l.get_item(1)?));
    }
    Err(bad())
}

/// A stored token record: the verifier, never the token. Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "TokenRecord")]
struct PyTokenRecord {
    inner: wga::TokenRecord,
}

impl PyTokenRecord {
    fn new(inner: wga::TokenRecord) -> Self {
        Self { inner }
    }

    /// The fields that make two records equal (the verifiers as bytes: they
    /// are public stored values, not secrets).
    fn key(&self) -> impl PartialEq + Hash + '_ {
        let r = &self.inner;
        (
            r.id,
            r.account.as_str(),
            r.name.as_str(),
            r.verifier.to_bytes(),
            r.created_at,
            r.last_used_at,
            r.rollover.map(|ro| (ro.verifier.to_bytes(), ro.until)),
        )
    }
}

#[pymethods]
impl PyTokenRecord {
    /// The public token id: 16 lowercase hexadecimal digits.
    #[getter]
    fn id(&self) -> String {
        self.inner.id.to_string()
    }

    /// The token's name, unique within its account.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name.as_str()
    }

    /// The account the token belongs to.
    #[getter]
    fn account(&self) -> &str {
        self.inner.account.as_str()
    }

    /// When the token was created, in seconds since the Unix epoch.
    #[getter]
    fn created_at(&self) -> u64 {
        self.inner.created_at.as_secs()
    }

    /// When the token last authenticated a request (seconds since the Unix
    /// epoch), or None.
    #[getter]
    fn last_used_at(&self) -> Option<u64> {
        self.inner.last_used_at.map(Timestamp::as_secs)
    }

    /// Until when (exclusive, seconds since the Unix epoch) the previous
    /// secret is still accepted after a regeneration with a grace period,
    /// or None.
    #[getter]
    fn grace_until(&self) -> Option<u64> {
        self.inner.rollover.map(|r| r.until.as_secs())
    }

    /// The record as a JSON-safe dict, in the core's versioned form
    /// (`"format": 1`); store it in any database.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.inner).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Reads a record from the dict `to_dict` made (or the same JSON
    /// decoded). Raises ValueError saying what is wrong.
    #[staticmethod]
    fn from_dict(d: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !d.is_instance_of::<PyDict>() {
            return Err(PyTypeError::new_err(
                "TokenRecord.from_dict expects a dict, as TokenRecord.to_dict() returns",
            ));
        }
        pythonize::depythonize::<wga::TokenRecord>(d)
            .map(Self::new)
            .map_err(|e| PyValueError::new_err(format!("not a valid token record: {e}")))
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyAny>,))> {
        let from_dict = slf.get_type().getattr(intern!(py, "from_dict"))?;
        Ok((from_dict, (slf.get().to_dict(py)?,)))
    }

    fn __eq__(&self, other: &Bound<'_, Self>) -> bool {
        self.key() == other.get().key()
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.key().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        Ok(format!(
            "TokenRecord(id='{}', name={}, account={}, created_at={}, last_used_at={})",
            r.id,
            py_repr(py, r.name.as_str())?,
            py_repr(py, r.account.as_str())?,
            r.created_at,
            r.last_used_at
                .map_or_else(|| "None".to_owned(), |t| t.to_string()),
        ))
    }
}

#[derive(Clone)]
enum PrincipalInner {
    Verified(wga::Principal),
    Built {
        account: String,
        token_id: TokenId,
        token_name: String,
    },
}

/// Who a request was authenticated as: the account, and the id and name of
/// the token it presented. Never the secret. Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "Principal")]
struct PyPrincipal {
    inner: PrincipalInner,
}

impl PyPrincipal {
    fn parts(&self) -> (&str, TokenId, &str) {
        match &self.inner {
            PrincipalInner::Verified(p) => (p.account(), p.token_id(), p.token_name()),
            PrincipalInner::Built {
                account,
                token_id,
                token_name,
            } => (account, *token_id, token_name),
        }
    }
}

#[pymethods]
impl PyPrincipal {
    /// A principal built by hand (for tests of code that receives one).
    #[new]
    fn py_new(account: &str, token_id: &str, token_name: &str) -> PyResult<Self> {
        Ok(Self {
            inner: PrincipalInner::Built {
                account: parse_account(account)?.as_str().to_owned(),
                token_id: parse_token_id(token_id)?,
                token_name: parse_name(token_name)?.as_str().to_owned(),
            },
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyAny>, (String, String, String)) {
        let (account, token_id, token_name) = slf.get().parts();
        (
            slf.get_type().into_any(),
            (
                account.to_owned(),
                token_id.to_string(),
                token_name.to_owned(),
            ),
        )
    }

    /// The account; the token reaches every device of it.
    #[getter]
    fn account(&self) -> &str {
        self.parts().0
    }

    /// The public id of the token presented (16 hexadecimal digits).
    #[getter]
    fn token_id(&self) -> String {
        self.parts().1.to_string()
    }

    /// The name of the token presented.
    #[getter]
    fn token_name(&self) -> &str {
        self.parts().2
    }

    fn __eq__(&self, other: &Bound<'_, Self>) -> bool {
        self.parts() == other.get().parts()
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.parts().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (account, token_id, token_name) = self.parts();
        Ok(format!(
            "Principal(account={}, token_id='{token_id}', token_name={})",
            py_repr(py, account)?,
            py_repr(py, token_name)?,
        ))
    }
}

/// How many `Principal` objects each thread keeps for reuse.
const MAX_CACHED_PRINCIPALS: usize = 4096;

thread_local! {
    /// The `Principal` object last returned per (keyring, token id), per
    /// thread: a verification that yields an equal principal returns it
    /// again instead of allocating a new (immutable) object. It is only
    /// consulted after the core accepted the token, and only returns an
    /// object equal to the core's answer, so a stale entry can never make a
    /// refused token pass or name the wrong principal.
    static PRINCIPALS: RefCell<HashMap<(usize, TokenId), Py<PyPrincipal>, TokenIdHash>> =
        const { RefCell::new(HashMap::with_hasher(TokenIdHash)) };
}

/// Token records in memory, verified from many threads at once.
///
/// Verification takes no lock; once `delete` or `regenerate` returns, a
/// verification that starts afterwards refuses the old token (unless a grace
/// period was asked for).
///
/// Verification holds the GIL: it takes a few hundred nanoseconds, and
/// releasing and retaking the GIL around it cost more than it gave back when
/// measured (see the README).
#[pyclass(frozen, module = "whatsgate_auth", name = "Keyring")]
struct PyKeyring {
    inner: wga::Keyring,
}

impl PyKeyring {
    /// The `Principal` object this thread returned last for a verified
    /// token, if it still says the same; a new reference.
    fn cached_principal(&self, py: Python<'_>, p: PrincipalRef<'_>) -> Option<Py<PyPrincipal>> {
        let key = (core::ptr::from_ref(self) as usize, p.token_id());
        PRINCIPALS.with_borrow(|cache| {
            cache
                .get(&key)
                .and_then(|cached| match &cached.get().inner {
                    // The cached principal holds the keyring entry's identity
                    // alive, so the same addresses mean the same identity.
                    PrincipalInner::Verified(known)
                        if core::ptr::eq(known.account(), p.account())
                            && core::ptr::eq(known.token_name(), p.token_name()) =>
                    {
                        Some(cached.clone_ref(py))
                    }
                    _ => None,
                })
        })
    }

    /// The `Principal` object for a verified token: the one this thread
    /// returned last for it if that one still says the same, else a new one.
    fn principal(&self, py: Python<'_>, p: PrincipalRef<'_>) -> PyResult<Py<PyPrincipal>> {
        match self.cached_principal(py, p) {
            Some(hit) => Ok(hit),
            None => self.new_principal(py, p.to_principal()),
        }
    }

    /// A new `Principal` object, kept for this thread's next verifications
    /// of the same token.
    fn new_principal(&self, py: Python<'_>, p: wga::Principal) -> PyResult<Py<PyPrincipal>> {
        let key = (core::ptr::from_ref(self) as usize, p.token_id());
        let object = Py::new(
            py,
            PyPrincipal {
                inner: PrincipalInner::Verified(p),
            },
        )?;
        let stored = object.clone_ref(py);
        PRINCIPALS.with_borrow_mut(|cache| {
            if cache.len() >= MAX_CACHED_PRINCIPALS {
                cache.clear();
            }
            cache.insert(key, stored);
        });
        Ok(object)
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
        now: Option<u64>,
    ) -> PyResult<Py<PyPrincipal>> {
        let now = now_or(now);
        let principal = |p: PrincipalRef<'_>| self.principal(py, p);
        let result = if value.is_none() {
            self.inner.authenticate_with(profile, [], now, principal)
        } else {
            self.inner
                .authenticate_with(profile, [value_bytes(value)?], now, principal)
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

    /// Verifies a bare token (not a header value: nothing is trimmed).
    /// Raises InvalidToken (with the `rest` profile's response) for
    /// anything but a valid token, the empty string included.
    #[pyo3(signature = (token, /, *, now = None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        now: Option<u64>,
    ) -> PyResult<Py<PyPrincipal>> {
        let result = self
            .inner
            .verify_with(value_bytes(token)?, now_or(now), |p| self.principal(py, p))
            .map_err(|wga::InvalidToken| Profile::Rest.reject(Failure::Invalid));
        self.answer(py, result)
    }

    /// Verifies the value of an `Access-Token` header (`rest` profile).
    ///
    /// `value` is str, bytes, or None (no header); None or an empty value
    /// raises MissingToken, anything but a valid token InvalidToken (403).
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
        let profile = parse_profile(profile)?;
        let metadata = resource_metadata
            .map(ResourceMetadata::new)
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut values: Vec<Bound<'_, PyAny>> = Vec::new();
        for pair in headers.try_iter()? {
            let pair = pair?;
            let (name, value) = header_pair(&pair)?;
            let name_bytes: Cow<'_, [u8]> = if let Ok(s) = name.cast::<PyString>() {
                Cow::Owned(
                    s.to_cow()
                        .map(|c| c.as_bytes().to_vec())
                        .unwrap_or_default(),
                )
            } else {
                Cow::Borrowed(value_bytes(&name)?)
            };
            if profile.is_token_header(&name_bytes) {
                values.push(value);
            }
        }
        let mut slices = Vec::with_capacity(values.len());
        for value in &values {
            slices.push(value_bytes(value)?);
        }
        match self
            .inner
            .authenticate_with(profile, slices, now_or(now), |p| self.principal(py, p))
        {
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

/// Makes a new token for an account without adding it anywhere. Returns the
/// plaintext token (show it once, never store it) and the record to store;
/// put the record in a `Keyring` with `add`.
#[pyfunction]
fn generate(name: &str, account: &str) -> PyResult<(String, PyTokenRecord)> {
    let (token, record) = wga::TokenRecord::issue(
        &TokenFormat::DEFAULT,
        &mut OsRng,
        parse_account(account)?,
        parse_name(name)?,
        Timestamp::now(),
    )
    .map_err(|e| PyOSError::new_err(e.to_string()))?;
    Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
}

/// Benchmark helper: times `iterations` verifications of the header value
/// `value` by the Rust core alone, as a Rust service makes them: the `rest`
/// profile's `Keyring::authenticate` at `Timestamp::now()`, an owned
/// `Principal` out (the work `Keyring.verify_access_token` asks of the
/// core), or with `lent`, `Keyring::authenticate_with` lending the
/// principal (its account is read): the floor, nothing taken out. Returns
/// the total in nanoseconds. The GIL is released meanwhile.
#[pyfunction]
#[pyo3(signature = (keyring, value, iterations, lent = false))]
fn _bench_core_verify(
    py: Python<'_>,
    keyring: &Bound<'_, PyKeyring>,
    value: &str,
    iterations: u64,
    lent: bool,
) -> PyResult<u64> {
    let keyring = &keyring.get().inner;
    let value = value.as_bytes();
    if keyring
        .authenticate(Profile::Rest, [value], Timestamp::now())
        .is_err()
    {
        return Err(PyValueError::new_err(
            "the value does not verify with this keyring",
        ));
    }
    let elapsed = py.detach(|| {
        let start = Instant::now();
        if lent {
            for _ in 0..iterations {
                let account = keyring.authenticate_with(
                    Profile::Rest,
                    [core::hint::black_box(value)],
                    Timestamp::now(),
                    |p| p.account().len(),
                );
                core::hint::black_box(account.is_ok());
            }
        } else {
            for _ in 0..iterations {
                let principal = keyring.authenticate(
                    Profile::Rest,
                    [core::hint::black_box(value)],
                    Timestamp::now(),
                );
                core::hint::black_box(principal.is_ok());
            }
        }
        start.elapsed()
    });
    Ok(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
}

/// The native module; `whatsgate_auth/__init__.py` re-exports its names.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyTokenRecord>()?;
    m.add_class::<PyPrincipal>()?;
    m.add_class::<PyKeyring>()?;
    fast::install(&py.get_type::<PyKeyring>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    m.add("MissingToken", py.get_type::<MissingToken>())?;
    m.add("InvalidToken", py.get_type::<InvalidToken>())?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_core_verify, m)?)?;
    Ok(())
}
