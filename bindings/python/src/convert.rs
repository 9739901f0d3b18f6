//! Python arguments into the core's types: timestamps, profiles,
//! resource-metadata URLs, token ids, accounts, names, header names and
//! values, header pairs, durations in seconds; and Python's `repr` of user text. The rules are the
//! core's (`str::parse::<Profile>`, `ResourceMetadata::new`, …); this file
//! only turns Python objects into their arguments and their errors into
//! Python exceptions.

use core::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use whatsgate_auth as wga;
use whatsgate_auth::http::{ProfileNameError, ResourceMetadata};
use whatsgate_auth::{AccountId, Profile, Timestamp, TokenId, TokenName};

/// The current time, or the `now` a caller passed (tests, replays).
pub(crate) fn now_or(now: Option<u64>) -> Timestamp {
    now.map_or_else(Timestamp::now, Timestamp)
}

/// A profile by its name, as the core parses it: exactly `rest` or `mcp`.
pub(crate) fn parse_profile(py: Python<'_>, name: &str) -> PyResult<Profile> {
    match name.parse() {
        Ok(profile) => Ok(profile),
        Err(e) => Err(profile_error(e, &py_repr(py, name)?)),
    }
}

/// A profile named by any object: a ValueError for anything but the `str`
/// `rest` or `mcp` (the middleware's configuration has always said
/// ValueError, whatever the type).
pub(crate) fn profile_of(name: &Bound<'_, PyAny>) -> PyResult<Profile> {
    match name.cast::<PyString>().map(|s| s.to_str()) {
        Ok(Ok(text)) => parse_profile(name.py(), text),
        _ => Err(profile_error(ProfileNameError, &name.repr()?.to_cow()?)),
    }
}

/// The core's message, then the value given (Python's `repr`).
fn profile_error(e: ProfileNameError, shown: &str) -> PyErr {
    PyValueError::new_err(format!("{e}, not {shown}"))
}

/// An RFC 9728 resource-metadata URL, checked by the core.
pub(crate) fn parse_resource_metadata<'a>(
    py: Python<'_>,
    url: &'a str,
) -> PyResult<ResourceMetadata<'a>> {
    match ResourceMetadata::new(url) {
        Ok(metadata) => Ok(metadata),
        Err(e) => Err(PyValueError::new_err(format!(
            "{e}, not {}",
            py_repr(py, url)?
        ))),
    }
}

pub(crate) fn parse_token_id(token_id: &str) -> PyResult<TokenId> {
    token_id
        .parse()
        .map_err(|e: wga::token::ParseTokenIdError| PyValueError::new_err(e.to_string()))
}

pub(crate) fn parse_account(account: &str) -> PyResult<AccountId> {
    AccountId::new(account).map_err(|e| PyValueError::new_err(format!("account {e}")))
}

pub(crate) fn parse_name(name: &str) -> PyResult<TokenName> {
    TokenName::new(name).map_err(|e| PyValueError::new_err(format!("token name {e}")))
}

/// Bytes of a header value (or bare token) given as `str` or `bytes`.
///
/// A `str` is read as UTF-8; one that cannot be (lone surrogates) is
/// replaced by a byte that is never valid in a token, so it is refused as a
/// token rather than raising: any non-ASCII value is invalid either way.
/// `bytes` is looked for first: an ASGI scope holds nothing else.
pub(crate) fn value_bytes<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(b) = value.cast::<PyBytes>() {
        Ok(b.as_bytes())
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(s.to_str().map_or(&[0xff][..], str::as_bytes))
    } else {
        Err(PyTypeError::new_err(format!(
            "a token or header value must be str or bytes, not {}",
            value.get_type().name()?
        )))
    }
}

/// Bytes of a header name given as `str` or `bytes`, without a copy. A
/// `str` that has no UTF-8 form is empty, which names no header.
pub(crate) fn header_name<'a>(name: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match name.cast::<PyString>() {
        Ok(s) => Ok(s.to_str().map_or(&[][..], str::as_bytes)),
        Err(_) => value_bytes(name),
    }
}

/// Splits one `(name, value)` header pair, a tuple or a list (ASGI allows both).
pub(crate) fn header_pair<'py>(
    pair: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
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

/// Python's `repr` of a string (names and accounts are user text).
pub(crate) fn py_repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_cow()?.into_owned())
}

/// A keyword argument in seconds (see [`seconds`]), or its absence: the
/// default is then the Rust side's, while `None` given is refused like any
/// other value that is not a duration.
pub(crate) enum SecondsArg<'py> {
    /// Not given.
    Default,
    /// Given: checked by [`SecondsArg::or`].
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for SecondsArg<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Self::Given(obj.to_owned()))
    }
}

impl SecondsArg<'_> {
    /// The duration given (`what` names the argument in errors), or `default`.
    pub(crate) fn or(&self, what: &str, default: Duration) -> PyResult<Duration> {
        match self {
            Self::Default => Ok(default),
            Self::Given(value) => seconds(what, value),
        }
    }
}

/// A duration in seconds: an `int`, a `float` or a `datetime.timedelta`,
/// positive and finite (`what` names the argument in the error). Kept to
/// the millisecond, the follower's resolution; a positive value below one
/// millisecond is one millisecond.
pub(crate) fn seconds(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = value.py();
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
    let secs: f64 = if value.is_instance(timedelta)? {
        value
            .call_method0(intern!(py, "total_seconds"))?
            .extract()?
    } else if value.is_instance_of::<PyFloat>()
        || (value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>())
    {
        // An int too large for a float is too large for a duration.
        value.extract().unwrap_or(f64::INFINITY)
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} is a number of seconds (int or float) or a datetime.timedelta, not {}",
            value.get_type().name()?
        )));
    };
    let shown = || -> PyResult<String> {
        let mut shown = value.repr()?.to_cow()?.into_owned();
        if shown.len() > 40 {
            let cut = (0..=36).rev().find(|&i| shown.is_char_boundary(i));
            shown.truncate(cut.unwrap_or(0));
            shown.push_str(" ...");
        }
        Ok(shown)
    };
    if secs.is_nan() || secs <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, not {}",
            shown()?
        )));
    }
    let millis = (secs * 1000.0).ceil();
    // A year is far beyond any sensible bound, and far within Duration.
    if millis > 365.0 * 24.0 * 3600.0 * 1000.0 {
        return Err(PyValueError::new_err(format!(
            "{what} is at most a year (31536000 seconds), not {}",
            shown()?
        )));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a whole number of milliseconds between 1 and a year's"
    )]
    Ok(Duration::from_millis(millis as u64))
}
