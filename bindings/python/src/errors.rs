//! The exception hierarchy (one base, one subclass per failure) and the
//! core's errors as Python exceptions.

use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use pyo3::{create_exception, intern};
use whatsgate_auth::{Failure, KeyringError, Rejection};

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

pub(crate) fn keyring_error(e: KeyringError) -> PyErr {
    match e {
        KeyringError::UnknownToken(id) => PyKeyError::new_err(id.to_string()),
        KeyringError::Rng(_) => PyOSError::new_err(e.to_string()),
        KeyringError::DuplicateId(_) | KeyringError::DuplicateName { .. } => {
            PyValueError::new_err(e.to_string())
        }
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

/// The exception for a rejection, with the profile's own challenge.
pub(crate) fn reject(py: Python<'_>, rejection: Rejection) -> PyErr {
    let challenge = rejection.www_authenticate().map(str::to_owned);
    auth_error(py, rejection, challenge)
}
