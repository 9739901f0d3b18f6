//! `TokenRecord`, and `generate`, which makes a token and its record
//! without a keyring.

use core::hash::{Hash, Hasher};
use std::hash::DefaultHasher;

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple};
use whatsgate_auth as wga;
use whatsgate_auth::{Description, OsRng, Scopes, Timestamp, TokenFormat};

use crate::convert::{
    MAX_SECS, datetime, deprecated, now_or, parse_account, parse_description, parse_name,
    parse_scopes, py_repr, scopes_object, timestamp_opt, whole_seconds,
};

/// A stored token record: the verifier, never the token. Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "TokenRecord")]
pub(crate) struct PyTokenRecord {
    pub(crate) inner: wga::TokenRecord,
}

impl PyTokenRecord {
    pub(crate) fn new(inner: wga::TokenRecord) -> Self {
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
            &r.scopes,
            r.expires_at,
            r.disabled,
            r.description.as_ref().map(Description::as_str),
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

    /// When the token was created: an aware `datetime` in UTC.
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, self.inner.created_at)
    }

    /// When the token last authenticated a request (an aware `datetime` in
    /// UTC), or None.
    #[getter]
    fn last_used_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .last_used_at
            .map(|at| datetime(py, at))
            .transpose()
    }

    /// Until when (exclusive; an aware `datetime` in UTC) the previous
    /// secret is still accepted after a regeneration with a grace period
    /// (`regenerate(..., grace_until=...)`), or None. The core's `rollover`.
    #[getter]
    fn rollover_until<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .rollover
            .map(|r| datetime(py, r.until))
            .transpose()
    }

    /// What the token may do: None for full access (the default), else the
    /// tuple of its `resource:action` scopes, sorted (possibly empty).
    #[getter]
    fn scopes<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        scopes_object(py, &self.inner.scopes)
    }

    /// From when (an aware `datetime` in UTC) the token is refused, or
    /// None: tokens never expire unless asked to (or a lifetime policy
    /// sets it).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.expires_at.map(|at| datetime(py, at)).transpose()
    }

    /// Whether the token is disabled: refused, without being deleted,
    /// until enabled again (`Keyring.update(id, disabled=False)`).
    #[getter]
    fn disabled(&self) -> bool {
        self.inner.disabled
    }

    /// What the token is for, in its owner's words, or None.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.inner.description.as_ref().map(Description::as_str)
    }

    /// Whether the token is let in at `now` (the clock by default; an aware
    /// `datetime` or Unix seconds): neither disabled nor expired. (Its
    /// secret is a separate matter.)
    #[pyo3(signature = (now = None))]
    fn is_active(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        Ok(self.inner.is_active(now_or(timestamp_opt("now", now)?)))
    }

    /// The former name of `rollover_until`, kept for existing callers;
    /// warns with a DeprecationWarning.
    #[getter]
    fn grace_until<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        deprecated(
            py,
            "TokenRecord.grace_until is deprecated: read TokenRecord.rollover_until",
        )?;
        self.rollover_until(py)
    }

    /// The record as a JSON-safe dict, in the core's versioned wire form
    /// (the form Rust, C and the store share: `"format": 1` for a record
    /// with none of scopes, expiry, disabled and description, `"format": 2`
    /// with any of them; instants are Unix seconds as `int` there, not
    /// `datetime`): store it in any database.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.inner).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Reads a record from the dict `to_dict` made (or the same JSON
    /// decoded). Raises ValueError saying what is wrong: a missing or bad
    /// field, or a key the format does not have (named, never its value).
    #[staticmethod]
    fn from_dict(d: &Bound<'_, PyAny>) -> PyResult<Self> {
        let Ok(dict) = d.cast::<PyDict>() else {
            return Err(PyTypeError::new_err(
                "TokenRecord.from_dict expects a dict, as TokenRecord.to_dict() returns",
            ));
        };
        check_keys(dict)?;
        check_types(dict)?;
        let record = pythonize::depythonize::<wga::TokenRecord>(d)
            .map_err(|e| PyValueError::new_err(format!("not a valid token record: {e}")))?;
        let instants = [
            ("created_at", Some(record.created_at)),
            ("last_used_at", record.last_used_at),
            ("rollover.until", record.rollover.map(|r| r.until)),
            ("expires_at", record.expires_at),
        ];
        for (field, at) in instants {
            if at.is_some_and(|at| at.as_secs() > MAX_SECS) {
                return Err(PyValueError::new_err(format!(
                    "not a valid token record: {field} is past the year 9999"
                )));
            }
        }
        Ok(Self::new(record))
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
        let iso = |at: Timestamp| -> PyResult<String> {
            let text = datetime(py, at)?.call_method0(intern!(py, "isoformat"))?;
            Ok(format!("'{}'", text.cast::<PyString>()?.to_str()?))
        };
        // The fields beyond the seed's only when set, so a plain record
        // reads as before.
        let mut extra = String::new();
        if let Some(scopes) = scopes_object(py, &r.scopes)? {
            extra += &format!(", scopes={}", scopes.repr()?.to_cow()?);
        }
        if let Some(at) = r.expires_at {
            extra += &format!(", expires_at={}", iso(at)?);
        }
        if r.disabled {
            extra += ", disabled=True";
        }
        if let Some(d) = &r.description {
            extra += &format!(", description={}", py_repr(py, d.as_str())?);
        }
        Ok(format!(
            "TokenRecord(id='{}', name={}, account={}, created_at={}, last_used_at={}{extra})",
            r.id,
            py_repr(py, r.name.as_str())?,
            py_repr(py, r.account.as_str())?,
            iso(r.created_at)?,
            match r.last_used_at {
                Some(at) => iso(at)?,
                None => "None".to_owned(),
            },
        ))
    }
}

/// The keys of the core's record form, and of its `rollover`: read from
/// the core's own serialization of a record that has every field, so the
/// format's field list has one home.
fn known_keys(py: Python<'_>) -> PyResult<&(Vec<String>, Vec<String>)> {
    static KEYS: PyOnceLock<(Vec<String>, Vec<String>)> = PyOnceLock::new();
    KEYS.get_or_try_init(py, || {
        let rng_error = |e: wga::RngError| PyOSError::new_err(e.to_string());
        let (_, mut full) = wga::TokenRecord::create(
            &TokenFormat::DEFAULT,
            &mut OsRng,
            parse_account("a")?,
            parse_name("n")?,
            Timestamp(1),
        )
        .map_err(rng_error)?;
        full.regenerate(
            &TokenFormat::DEFAULT,
            &mut OsRng,
            Timestamp(1),
            Some(Timestamp(2)),
        )
        .map_err(rng_error)?;
        full.last_used_at = Some(Timestamp(1));
        full.scopes = Scopes::only(["a:b"]).map_err(|e| PyValueError::new_err(e.to_string()))?;
        full.expires_at = Some(Timestamp(2));
        full.disabled = true;
        full.description = Some(parse_description("d")?);
        let sample = PyTokenRecord::new(full).to_dict(py)?;
        let keys = |d: &Bound<'_, PyAny>| -> PyResult<Vec<String>> {
            d.cast::<PyDict>()?
                .keys()
                .iter()
                .map(|k| k.extract())
                .collect()
        };
        let rollover = sample.get_item("rollover")?;
        Ok((keys(&sample)?, keys(&rollover)?))
    })
}

/// Refuses a key the record form does not have (a typo, a field of another
/// program), naming it when it is short enough not to be a secret pasted
/// in the wrong place (a token is 55 characters, a verifier 64).
fn check_keys(dict: &Bound<'_, PyDict>) -> PyResult<()> {
    let py = dict.py();
    let (top, rollover) = known_keys(py)?;
    let unknown = |key: &Bound<'_, PyAny>, within: &str, known: &[String]| -> PyResult<()> {
        let shown = match key.cast::<PyString>().map(|s| s.to_str()) {
            Ok(Ok(text)) if known.iter().any(|k| k == text) => return Ok(()),
            Ok(Ok(text)) if text.chars().count() <= 32 => format!("key {}", py_repr(py, text)?),
            Ok(_) => "key of more than 32 characters (not shown: it may be a secret)".to_owned(),
            Err(_) => format!("key of type {} (keys are str)", key.get_type().name()?),
        };
        Err(PyValueError::new_err(format!(
            "not a valid token record: unknown {shown}{within}; a record has {}",
            known.join(", ")
        )))
    };
    for key in dict.keys() {
        unknown(&key, "", top)?;
    }
    if let Some(inner) = dict.get_item("rollover")?
        && let Ok(inner) = inner.cast::<PyDict>()
    {
        for key in inner.keys() {
            unknown(&key, " in rollover", rollover)?;
        }
    }
    Ok(())
}

/// The optional fields of a token to create, as Python gives them
/// (`generate` and `Keyring.create`).
pub(crate) struct Spec<'a, 'py> {
    pub(crate) scopes: Option<&'a Bound<'py, PyAny>>,
    pub(crate) expires_at: Option<&'a Bound<'py, PyAny>>,
    pub(crate) expires_in: Option<&'a Bound<'py, PyAny>>,
    pub(crate) description: Option<&'a str>,
}

impl Spec<'_, '_> {
    /// The core's `NewToken` (not yet checked against a lifetime policy:
    /// the keyring or store does that). `expires_in` (seconds or a
    /// `timedelta`) counts from `now`; it and `expires_at` exclude each
    /// other.
    pub(crate) fn new_token(
        &self,
        account: &str,
        name: &str,
        now: Timestamp,
    ) -> PyResult<wga::NewToken> {
        let expires_at = match (
            timestamp_opt("expires_at", self.expires_at)?,
            self.expires_in,
        ) {
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "give expires_at or expires_in, not both",
                ));
            }
            (at, None) => at,
            (None, Some(within)) => {
                let secs = whole_seconds("expires_in", within, false)?;
                let at = now.plus_secs(secs);
                if at.as_secs() > MAX_SECS {
                    return Err(PyValueError::new_err("expires_in ends past the year 9999"));
                }
                Some(at)
            }
        };
        Ok(wga::NewToken {
            scopes: parse_scopes(self.scopes)?,
            expires_at,
            description: self.description.map(parse_description).transpose()?,
            ..wga::NewToken::new(parse_account(account)?, parse_name(name)?)
        })
    }
}

/// Refuses the values that Python's conversion would read leniently where
/// JSON readers of the same form (Rust, C) refuse them: `disabled` other
/// than a bool (it would be read by truth value) and `scopes` given as one
/// string (read as a list of its characters).
fn check_types(dict: &Bound<'_, PyDict>) -> PyResult<()> {
    let bad = |what: &str| {
        Err(PyValueError::new_err(format!(
            "not a valid token record: {what}"
        )))
    };
    if let Some(disabled) = dict.get_item("disabled")?
        && !disabled.is_instance_of::<PyBool>()
    {
        return bad("disabled is true or false");
    }
    if let Some(scopes) = dict.get_item("scopes")?
        && !(scopes.is_none()
            || scopes.is_instance_of::<PyList>()
            || scopes.is_instance_of::<PyTuple>())
    {
        return bad("scopes is a list of names, or absent for full access");
    }
    Ok(())
}

/// Makes a new token for an account without adding it anywhere. Returns the
/// plaintext token (show it once, never store it) and the record to store;
/// put the record in a `Keyring` with `add`.
///
/// Keywords only: `generate(account=..., name=...)`, and optionally
/// `scopes` (None: full access), `expires_at` or `expires_in` and
/// `description`, as for `Keyring.create` (an expiry must be in the future;
/// no other lifetime policy applies here). The old positional form
/// `generate(name, account)` still works, with a DeprecationWarning (the
/// signature and the stub show only the supported form).
#[pyfunction]
#[pyo3(
    signature = (
        *args, account = None, name = None, scopes = None, expires_at = None, expires_in = None,
        description = None
    ),
    // The supported form; the deprecated positional one is the docstring's.
    text_signature = "(*, account, name, scopes=None, expires_at=None, expires_in=None, description=None)"
)]
#[expect(
    clippy::too_many_arguments,
    reason = "keyword arguments of a Python function"
)]
pub(crate) fn generate(
    py: Python<'_>,
    args: &Bound<'_, pyo3::types::PyTuple>,
    account: Option<&str>,
    name: Option<&str>,
    scopes: Option<&Bound<'_, PyAny>>,
    expires_at: Option<&Bound<'_, PyAny>>,
    expires_in: Option<&Bound<'_, PyAny>>,
    description: Option<&str>,
) -> PyResult<(String, PyTokenRecord)> {
    let (account, name) = match (args.len(), account, name) {
        (0, Some(account), Some(name)) => (account.to_owned(), name.to_owned()),
        (2, None, None) => {
            deprecated(
                py,
                "generate(name, account) is deprecated: call generate(account=..., name=...)",
            )?;
            (args.get_item(1)?.extract()?, args.get_item(0)?.extract()?)
        }
        (0, _, _) => {
            return Err(PyTypeError::new_err(
                "generate() needs both keyword arguments: generate(account=..., name=...)",
            ));
        }
        _ => {
            return Err(PyTypeError::new_err(
                "generate() takes keyword arguments only: generate(account=..., name=...)",
            ));
        }
    };
    let now = Timestamp::now();
    let spec = Spec {
        scopes,
        expires_at,
        expires_in,
        description,
    };
    let mut spec = spec.new_token(&account, &name, now)?;
    wga::LifetimePolicy::DEFAULT
        .admit(&mut spec, now)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let (token, record) =
        wga::TokenRecord::create_from(&TokenFormat::DEFAULT, &mut OsRng, spec, now)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
    Ok((token.expose_secret().to_owned(), PyTokenRecord::new(record)))
}
