//! The exception hierarchy (one base, one subclass per failure) and the
//! core's errors as Python exceptions.

use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use pyo3::{create_exception, intern};
use whatsgate_auth::http::ResourceMetadata;
use whatsgate_auth::{Failure, KeyringError, Profile, Rejection, Scope, ScopeDenial};
use whatsgate_auth_store as store;

use crate::store::Refused;

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
create_exception!(
    whatsgate_auth,
    StoreUnavailable,
    AuthError,
    "A token was presented while the keyring cannot confirm it is current (its token store is out of reach): neither accepted nor called invalid. 503 with Retry-After; retry later."
);

create_exception!(
    whatsgate_auth,
    InsufficientScope,
    AuthError,
    "A valid token that lacks the scope the route needs (`scope`): 403 in both profiles, the JSON body naming the scope, and for `mcp` the RFC 6750 insufficient_scope challenge."
);

create_exception!(
    whatsgate_auth,
    StoreError,
    PyException,
    "The token store of an attached keyring (`Keyring.open`) could not do what was asked: it cannot be opened or reached, is locked, is not a token store, was written by a newer release, or holds a damaged row. The message says which and what to do; it never holds a password or a secret."
);

pub(crate) fn keyring_error(e: KeyringError) -> PyErr {
    match e {
        KeyringError::UnknownToken(id) => PyKeyError::new_err(id.to_string()),
        KeyringError::Rng(_) => PyOSError::new_err(e.to_string()),
        KeyringError::DuplicateId(_)
        | KeyringError::DuplicateName { .. }
        | KeyringError::Policy(_) => PyValueError::new_err(e.to_string()),
    }
}

/// A store's error as the exception the in-memory keyring raises for the
/// same mistake (KeyError for an unknown id, ValueError for a taken name or
/// what the lifetime policy refuses, OSError for a failed RNG), else `StoreError`; the message is the store
/// crate's (a URL's password redacted).
pub(crate) fn store_error(e: store::StoreError) -> PyErr {
    match e {
        store::StoreError::UnknownToken(id) => PyKeyError::new_err(id.to_string()),
        store::StoreError::DuplicateName(..) | store::StoreError::Policy(_) => {
            PyValueError::new_err(e.to_string())
        }
        store::StoreError::Rng => PyOSError::new_err(e.to_string()),
        store::StoreError::Missing(_) => StoreError::new_err(format!(
            "{e}; from Python, Keyring.open(url, create=True) creates an empty store"
        )),
        _ => StoreError::new_err(e.to_string()),
    }
}

/// A refused call on an attached keyring as an exception: ValueError once
/// closed (as a closed file), else the store's error.
pub(crate) fn refused(r: Refused) -> PyErr {
    match r {
        Refused::Closed => PyValueError::new_err(
            "this keyring was closed: it no longer follows its token store; open it again with \
             Keyring.open(url)",
        ),
        Refused::Store(e) => store_error(e),
    }
}

/// Builds the `MissingToken` / `InvalidToken` / `StoreUnavailable`
/// exception for a rejection.
pub(crate) fn auth_error(py: Python<'_>, rejection: Rejection, challenge: Option<String>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let message = rejection.to_string();
        let err = match rejection.failure {
            Failure::Missing => MissingToken::new_err(message),
            Failure::Invalid => InvalidToken::new_err(message),
            Failure::Unavailable => StoreUnavailable::new_err(message),
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
        if let Some(seconds) = rejection.retry_after() {
            headers.append(("Retry-After", seconds.to_string()))?;
        }
        value.setattr(intern!(py, "headers"), headers)?;
        Ok(err)
    };
    build().unwrap_or_else(|e| e)
}

/// The `InsufficientScope` exception for a token that lacks `scope`: the
/// core's answer ([`ScopeDenial`]), byte for byte; with `resource_metadata`
/// the `mcp` challenge carries it too, as on its 401s.
pub(crate) fn scope_denial(
    py: Python<'_>,
    profile: Profile,
    scope: &Scope,
    resource_metadata: Option<&ResourceMetadata<'_>>,
) -> PyErr {
    let denial = ScopeDenial { profile, scope };
    let build = || -> PyResult<PyErr> {
        let err = InsufficientScope::new_err(denial.message().to_string());
        let value = err.value(py);
        value.setattr(intern!(py, "status_code"), denial.status())?;
        value.setattr(
            intern!(py, "body"),
            PyBytes::new(py, denial.body().to_string().as_bytes()),
        )?;
        let headers = PyList::empty(py);
        headers.append(("Content-Type", "application/json"))?;
        let challenge = match resource_metadata {
            None => denial.www_authenticate().map(|c| c.to_string()),
            Some(url) => denial.www_authenticate_with(url).map(|c| c.to_string()),
        };
        if let Some(challenge) = challenge {
            headers.append(("WWW-Authenticate", challenge))?;
        }
        value.setattr(intern!(py, "headers"), headers)?;
        value.setattr(intern!(py, "scope"), scope.as_str())?;
        Ok(err)
    };
    build().unwrap_or_else(|e| e)
}

/// The exception for a rejection, with the profile's own challenge.
pub(crate) fn reject(py: Python<'_>, rejection: Rejection) -> PyErr {
    let challenge = rejection.www_authenticate().map(str::to_owned);
    auth_error(py, rejection, challenge)
}
