//! What the ASGI and WSGI middleware (`whatsgate_auth/_common.py`) ask the
//! core, so that each rule has one home: profile names and their headers,
//! resource-metadata URLs, and guarded path prefixes ([`PathPrefix`]: how
//! a prefix is checked and normalized, which request paths it covers).
//! Private to the package (`_native._…`); the Python side keeps only the
//! checks that are about Python values (a list, not one string; at least
//! one prefix; `resource_metadata` only with the `mcp` profile).

use pyo3::exceptions::{PyBaseException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use whatsgate_auth::{Failure, PathPrefix};

use crate::convert::{parse_resource_metadata, profile_of, py_repr};
use crate::errors::auth_error;

/// The name of the profile `profile` names (`"rest"` or `"mcp"`); a
/// ValueError that shows it for anything else.
#[pyfunction]
#[pyo3(signature = (profile, /))]
pub(crate) fn _check_profile(profile: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    Ok(profile_of(profile)?.name())
}

/// The header the profile `profile` reads, lowercase (`"access-token"` or
/// `"authorization"`).
#[pyfunction]
#[pyo3(signature = (profile, /))]
pub(crate) fn _header_name(profile: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    Ok(profile_of(profile)?.header_name())
}

/// `url` itself if the core takes it as an RFC 9728 resource-metadata URL
/// (safe inside the challenge); a ValueError that shows it otherwise.
#[pyfunction]
#[pyo3(signature = (url, /))]
pub(crate) fn _check_resource_metadata(url: Bound<'_, PyString>) -> PyResult<Bound<'_, PyString>> {
    parse_resource_metadata(url.py(), url.to_str()?)?;
    Ok(url)
}

/// The `MissingToken` (not raised) with the profile's "missing" answer,
/// for a principal asked of a request the middleware did not authenticate
/// (as the axum extractor answers).
#[pyfunction]
#[pyo3(signature = (profile, /, resource_metadata = None))]
pub(crate) fn _missing<'py>(
    profile: &Bound<'py, PyAny>,
    resource_metadata: Option<&str>,
) -> PyResult<Bound<'py, PyBaseException>> {
    let py = profile.py();
    let rejection = profile_of(profile)?.reject(Failure::Missing);
    let challenge = match resource_metadata {
        Some(url) => rejection
            .www_authenticate_with(&parse_resource_metadata(py, url)?)
            .map(|c| c.to_string()),
        None => rejection.www_authenticate().map(str::to_owned),
    };
    Ok(auth_error(py, rejection, challenge)
        .into_value(py)
        .into_bound(py))
}

/// Guarded path prefixes, checked and normalized by the core; `covers`
/// answers, per request, whether a path is under one of them.
#[pyclass(frozen, module = "whatsgate_auth._native", name = "_PathGuard")]
pub(crate) struct PyPathGuard {
    prefixes: Box<[PathPrefix<String>]>,
}

#[pymethods]
impl PyPathGuard {
    /// Raises ValueError, naming the prefix, for one the core refuses.
    /// No prefix at all guards nothing.
    #[new]
    #[pyo3(signature = (prefixes, /))]
    fn py_new(py: Python<'_>, prefixes: Vec<String>) -> PyResult<Self> {
        let mut checked = Vec::with_capacity(prefixes.len());
        for text in &prefixes {
            match PathPrefix::new(text.clone()) {
                Ok(prefix) => checked.push(prefix),
                Err(e) => {
                    return Err(PyValueError::new_err(format!(
                        "path prefix {}: {e}",
                        py_repr(py, text)?
                    )));
                }
            }
        }
        Ok(Self {
            prefixes: checked.into_boxed_slice(),
        })
    }

    /// The normalized prefixes (`"/api/"` is `"/api"`), in the order given.
    #[getter]
    fn prefixes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.prefixes.iter().map(PathPrefix::as_str))
    }

    /// Whether `path` (a request's path, without its query) is under one of
    /// the prefixes; runs of slashes count as one. A path with no UTF-8
    /// form (lone surrogates) is matched with those replaced, which can
    /// never equal a prefix's ASCII.
    #[pyo3(signature = (path, /))]
    fn covers(&self, path: &Bound<'_, PyString>) -> bool {
        let path = path.to_string_lossy();
        self.prefixes.iter().any(|prefix| prefix.covers(&path))
    }

    fn __repr__(&self) -> String {
        let listed: Vec<&str> = self.prefixes.iter().map(PathPrefix::as_str).collect();
        format!("_PathGuard({listed:?})")
    }
}
