//! `TokenRecord`, and `generate`, which makes a token and its record
//! without a keyring.

use core::hash::{Hash, Hasher};
use std::hash::DefaultHasher;

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use whatsgate_auth as wga;
use whatsgate_auth::{OsRng, Timestamp, TokenFormat};

use crate::convert::{parse_account, parse_name, py_repr};

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

/// Makes a new token for an account without adding it anywhere. Returns the
/// plaintext token (show it once, never store it) and the record to store;
/// put the record in a `Keyring` with `add`.
#[pyfunction]
pub(crate) fn generate(name: &str, account: &str) -> PyResult<(String, PyTokenRecord)> {
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
