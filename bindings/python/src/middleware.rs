//! What the ASGI and WSGI middleware (`whatsgate_auth/_common.py`) ask the
//! core, so that each rule has one home: profile names and their headers,
//! resource-metadata URLs, guarded path prefixes ([`PathPrefix`]: how
//! a prefix is checked and normalized, which request paths it covers), and
//! the scopes routes need (each rule's scope checked by the core, the
//! denial the core's [`ScopeDenial`](whatsgate_auth::ScopeDenial)).
//! Private to the package (`_native._…`); the Python side keeps only the
//! checks that are about Python values (a list, not one string; at least
//! one prefix; `resource_metadata` only with the `mcp` profile).

use pyo3::exceptions::{PyBaseException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use whatsgate_auth::http::ResourceMetadata;
use whatsgate_auth::{Failure, PathPrefix, Profile, Scope};

use crate::convert::{parse_resource_metadata, parse_scope, profile_of, py_repr};
use crate::errors::{auth_error, scope_denial};
use crate::principal::PyPrincipal;

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

/// `scope` itself if the core takes it as a scope name; a ValueError
/// naming it otherwise (a route's requirement, checked when declared).
#[pyfunction]
#[pyo3(signature = (scope, /))]
pub(crate) fn _check_scope(scope: Bound<'_, PyString>) -> PyResult<Bound<'_, PyString>> {
    parse_scope(scope.to_str()?)?;
    Ok(scope)
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

/// One scope rule: requests under `prefix` (with `method`, or any) need `scope`.
struct ScopeRule {
    /// Upper case; compared ignoring case, so that no spelling of a method
    /// walks around its rule.
    method: Option<String>,
    prefix: PathPrefix<String>,
    scope: Scope,
}

/// What routes need: scope rules, each checked by the core when made; per
/// request, every rule that matches applies.
#[pyclass(frozen, module = "whatsgate_auth._native", name = "_ScopeRules")]
pub(crate) struct PyScopeRules {
    rules: Box<[ScopeRule]>,
    profile: Profile,
    /// Checked when made; carried in the `mcp` denial's challenge.
    resource_metadata: Option<String>,
}

/// Whether `method` is an HTTP method name (RFC 9110 `token`).
fn is_method(method: &str) -> bool {
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[pymethods]
impl PyScopeRules {
    /// `rules` are `(method or None, path prefix, scope)`; `profile` (and
    /// `resource_metadata`) say how a denial answers. Raises ValueError,
    /// naming it, for a bad method, prefix or scope.
    #[new]
    #[pyo3(signature = (rules, profile, /, resource_metadata = None))]
    fn py_new(
        py: Python<'_>,
        rules: Vec<(Option<String>, String, String)>,
        profile: &Bound<'_, PyAny>,
        resource_metadata: Option<String>,
    ) -> PyResult<Self> {
        let profile = profile_of(profile)?;
        if let Some(url) = &resource_metadata {
            parse_resource_metadata(py, url)?;
        }
        let mut checked = Vec::with_capacity(rules.len());
        for (method, prefix, scope) in rules {
            if let Some(method) = &method
                && !is_method(method)
            {
                return Err(PyValueError::new_err(format!(
                    "scope rule method {}: an HTTP method such as \"POST\"",
                    py_repr(py, method)?
                )));
            }
            let shown = py_repr(py, &prefix)?;
            let prefix = PathPrefix::new(prefix).map_err(|e| {
                PyValueError::new_err(format!("scope rule path prefix {shown}: {e}"))
            })?;
            let scope = parse_scope(&scope)?;
            checked.push(ScopeRule {
                method: method.map(|m| m.to_ascii_uppercase()),
                prefix,
                scope,
            });
        }
        Ok(Self {
            rules: checked.into_boxed_slice(),
            profile,
            resource_metadata,
        })
    }

    /// The rules, normalized: `(method or None, prefix, scope)`.
    #[getter]
    fn rules(&self) -> Vec<(Option<&str>, &str, &str)> {
        self.rules
            .iter()
            .map(|r| (r.method.as_deref(), r.prefix.as_str(), r.scope.as_str()))
            .collect()
    }

    /// The prefixes of the rules (to check they are guarded).
    #[getter]
    fn prefixes(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.prefix.as_str()).collect()
    }

    /// The `InsufficientScope` (not raised) naming the first scope, among
    /// the rules that match `method` and `path`, that `principal` lacks;
    /// None when it has them all. A rule for GET covers HEAD too (frameworks
    /// answer HEAD with the GET handler, which must not run unchecked, as
    /// in the tower layer). A path with no UTF-8 form is matched as
    /// `_PathGuard.covers` matches it.
    #[pyo3(signature = (principal, method, path, /))]
    fn denial<'py>(
        &self,
        principal: &Bound<'py, PyPrincipal>,
        method: &str,
        path: &Bound<'py, PyString>,
    ) -> Option<Bound<'py, PyBaseException>> {
        let py = principal.py();
        let scopes = principal.get().scopes_ref();
        if scopes.is_full() {
            return None;
        }
        let path = path.to_string_lossy();
        let missing = self.rules.iter().find(|r| {
            r.method.as_ref().is_none_or(|m| {
                m.eq_ignore_ascii_case(method)
                    || (m == "GET" && method.eq_ignore_ascii_case("HEAD"))
            }) && r.prefix.covers(&path)
                && !scopes.allows(r.scope.as_str())
        })?;
        // Checked when made: parsing it again cannot fail.
        let metadata = self
            .resource_metadata
            .as_deref()
            .and_then(|url| ResourceMetadata::new(url).ok());
        Some(
            scope_denial(py, self.profile, &missing.scope, metadata.as_ref())
                .into_value(py)
                .into_bound(py),
        )
    }

    fn __repr__(&self) -> String {
        format!("_ScopeRules({:?})", self.rules())
    }
}
