//! Python arguments into the core's types: instants (and instants back
//! into aware `datetime`s), profiles, resource-metadata URLs, token ids,
//! accounts, names, descriptions, scopes (and back into tuples), header
//! names and values, header pairs, durations in seconds, lengths of time
//! in whole seconds (lifetime policy, expiry); and Python's `repr` of user
//! text. The rules are the core's
//! (`str::parse::<Profile>`, `ResourceMetadata::new`, …); this file only
//! turns Python objects into their arguments and their errors into Python
//! exceptions.

use alloc::borrow::Cow;
use core::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDateTime, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use whatsgate_auth as wga;
use whatsgate_auth::http::{ProfileNameError, ResourceMetadata};
use whatsgate_auth::{
    AccountId, Description, Profile, Scope, ScopeError, Scopes, Timestamp, TokenId, TokenName,
};

/// The current time, or the `now` a caller passed (tests, replays).
pub(crate) fn now_or(now: Option<Timestamp>) -> Timestamp {
    now.unwrap_or_else(Timestamp::now)
}

/// The last second Python's `datetime` holds (9999-12-31T23:59:59Z): an
/// instant given is at most this, so that every instant read back is a
/// `datetime` too.
pub(crate) const MAX_SECS: u64 = 253_402_300_799;

/// The Unix epoch as an aware `datetime` in UTC, and
/// `timedelta(seconds=1)`, made once.
fn time_constants(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    static CONSTANTS: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    CONSTANTS.get_or_try_init(py, || {
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let epoch = datetime
            .getattr("datetime")?
            .call1((1970, 1, 1, 0, 0, 0, 0, &utc))?;
        let second = datetime.getattr("timedelta")?.call1((0, 1))?;
        Ok((epoch.unbind(), second.unbind()))
    })
}

/// An instant given to the binding: an aware `datetime`, or Unix seconds
/// as an `int` or a `float` (floored to the whole second, as the core keeps
/// whole seconds: `1.9` is `1`). A naive `datetime` is refused (it names no
/// instant: local time or UTC?), as are instants before 1970 or after
/// 9999, `bool`, NaN and other types. `what` names the argument in errors.
pub(crate) fn timestamp(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let py = value.py();
    let out_of_range = || {
        PyValueError::new_err(format!(
            "{what} must be between 1970-01-01 and 9999-12-31 (UTC), as Unix seconds or a datetime"
        ))
    };
    let secs: Bound<'_, PyAny> = if value.is_instance_of::<PyDateTime>() {
        if value.getattr(intern!(py, "utcoffset"))?.call0()?.is_none() {
            return Err(PyValueError::new_err(format!(
                "{what} is a naive datetime (no tzinfo), which names no instant: give an aware \
                 one, e.g. datetime.now(timezone.utc) or dt.replace(tzinfo=timezone.utc), or Unix \
                 seconds"
            )));
        }
        let (epoch, second) = time_constants(py)?;
        // Exact whole seconds (a float of the microseconds could round up).
        value.sub(epoch.bind(py))?.floor_div(second.bind(py))?
    } else if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        if !f.is_finite() {
            return Err(out_of_range());
        }
        value.call_method0(intern!(py, "__floor__"))?
    } else if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        value.clone()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} is an aware datetime or Unix seconds (int or float), not {}",
            value.get_type().name()?
        )));
    };
    match secs.extract::<u64>() {
        Ok(secs) if secs <= MAX_SECS => Ok(Timestamp(secs)),
        _ => Err(out_of_range()),
    }
}

/// An optional instant argument (`None` is absent).
pub(crate) fn timestamp_opt(
    what: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Timestamp>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| timestamp(what, v))
        .transpose()
}

/// An instant as an aware `datetime` in UTC. An instant past the year 9999
/// (only a record written elsewhere can hold one) raises ValueError.
pub(crate) fn datetime<'py>(py: Python<'py>, at: Timestamp) -> PyResult<Bound<'py, PyAny>> {
    let (epoch, second) = time_constants(py)?;
    if at.as_secs() > MAX_SECS {
        return Err(PyValueError::new_err(format!(
            "the instant {} (Unix seconds) is past the year 9999, which Python's datetime cannot hold",
            at.as_secs()
        )));
    }
    epoch.bind(py).add(second.bind(py).mul(at.as_secs())?)
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
/// A `str` is read as UTF-8, without a copy. One that has no UTF-8 form
/// (lone surrogates: unencodable text) is encoded with `surrogatepass`, so
/// each surrogate is non-ASCII bytes in its place and the rest of the value
/// is kept: refused as an invalid token, as the same text given as bytes
/// would be, never read as a missing one. `bytes` is looked for first: an
/// ASGI scope holds nothing else.
pub(crate) fn value_bytes<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        Ok(Cow::Borrowed(b.as_bytes()))
    } else if let Ok(s) = value.cast::<PyString>() {
        match s.to_str() {
            Ok(text) => Ok(Cow::Borrowed(text.as_bytes())),
            Err(_) => {
                let py = value.py();
                let encoded = s.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass"))?;
                Ok(Cow::Owned(encoded.cast::<PyBytes>()?.as_bytes().to_vec()))
            }
        }
    } else {
        Err(PyTypeError::new_err(format!(
            "a token or header value must be str or bytes, not {}",
            value.get_type().name()?
        )))
    }
}

/// Bytes of a header name given as `str` or `bytes`. A `str` that has no
/// UTF-8 form names no header the core reads (theirs are ASCII), so it is
/// read as empty.
pub(crate) fn header_name<'a>(name: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    match name.cast::<PyString>() {
        Ok(s) => Ok(Cow::Borrowed(s.to_str().map_or(&[][..], str::as_bytes))),
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

/// Warns that a form of a call is deprecated (a DeprecationWarning pointing
/// at the caller's line).
pub(crate) fn deprecated(py: Python<'_>, message: &str) -> PyResult<()> {
    let message =
        std::ffi::CString::new(message).map_err(|e| PyValueError::new_err(e.to_string()))?;
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        &message,
        1,
    )
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

/// Scopes given to the binding: `None` is full access (the default); else
/// an iterable of `resource:action` names (not one `str`), checked, sorted
/// and deduplicated by the core.
pub(crate) fn parse_scopes(value: Option<&Bound<'_, PyAny>>) -> PyResult<Scopes> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Scopes::FULL);
    };
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "scopes is a list of names such as [\"messages:send\"], not one string (None: full access)",
        ));
    }
    let mut names = Vec::new();
    for name in value.try_iter()? {
        let name = name?;
        let Ok(text) = name.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "a scope is a str such as \"messages:send\", not {}",
                name.get_type().name()?
            )));
        };
        names.push(text.to_cow()?.into_owned());
    }
    Scopes::only(names).map_err(scope_error)
}

/// One scope name (a route's requirement), checked by the core.
pub(crate) fn parse_scope(name: &str) -> PyResult<Scope> {
    Scope::new(name).map_err(scope_error)
}

/// The same check without making a `Scope` (no allocation when the name
/// is good: per request, before `Scopes::allows`).
pub(crate) fn check_scope_name(name: &str) -> PyResult<&str> {
    if Scope::is_valid(name) {
        Ok(name)
    } else {
        parse_scope(name).map(|_| name)
    }
}

fn scope_error(e: ScopeError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Scopes as Python sees them: `None` for full access, else a tuple of the
/// names, sorted.
pub(crate) fn scopes_object<'py>(
    py: Python<'py>,
    scopes: &Scopes,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    scopes
        .list()
        .map(|list| PyTuple::new(py, list.iter().map(Scope::as_str)))
        .transpose()
}

pub(crate) fn parse_description(text: &str) -> PyResult<Description> {
    Description::new(text).map_err(|e| PyValueError::new_err(format!("description {e}")))
}

/// A length of time in whole seconds for a lifetime policy or an expiry:
/// an `int` or a `datetime.timedelta` (floored to the second), at least one
/// second (or zero, with `zero_ok`), and short enough that an instant that
/// far from now is still a `datetime`.
pub(crate) fn whole_seconds(what: &str, value: &Bound<'_, PyAny>, zero_ok: bool) -> PyResult<u64> {
    let py = value.py();
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
    let secs: Bound<'_, PyAny> = if value.is_instance(timedelta)? {
        let (_, second) = time_constants(py)?;
        value.floor_div(second.bind(py))?
    } else if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        value.clone()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} is a whole number of seconds (int) or a datetime.timedelta, not {}",
            value.get_type().name()?
        )));
    };
    let least = u64::from(!zero_ok);
    match secs.extract::<i128>() {
        Ok(secs) if secs < i128::from(least) => Err(PyValueError::new_err(format!(
            "{what} must be at least {least} second{}, not {secs}",
            if zero_ok { "s" } else { "" }
        ))),
        Ok(secs) if secs <= i128::from(MAX_SECS) => Ok(u64::try_from(secs).unwrap_or(MAX_SECS)),
        _ => Err(PyValueError::new_err(format!(
            "{what} is too long: at most {MAX_SECS} seconds"
        ))),
    }
}

/// An optional keyword argument whose `None` means something (remove a
/// description, full access), so that leaving it out is told apart.
pub(crate) enum Change<'py> {
    /// Not given: leave the field as it is.
    Keep,
    /// Given (`None` included).
    To(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Change<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Self::To(obj.to_owned()))
    }
}

/// A length in seconds as a `datetime.timedelta`.
pub(crate) fn timedelta(py: Python<'_>, secs: u64) -> PyResult<Bound<'_, PyAny>> {
    let (_, second) = time_constants(py)?;
    second.bind(py).mul(secs)
}
