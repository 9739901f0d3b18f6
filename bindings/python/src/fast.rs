//! The fast path of `Keyring.verify_access_token`, `verify_authorization`
//! and `verify`: a plain C function per method in place of PyO3's wrapper.
//!
//! PyO3's generic method wrapper (attach bookkeeping in a thread-local, the
//! type check of `self`, the argument parser, the `Option<u64>` for `now`)
//! costs a sizeable share of a call as short as a verification (figures in
//! the README's Speed section). So after PyO3 has built the `Keyring` class,
//! [`install`] replaces these three methods with method descriptors of
//! [`fast`], a `METH_FASTCALL | METH_KEYWORDS` function that answers the
//! calls the methods are made for: one positional `str` or `bytes` (or
//! `None` for a header), and at most the keyword `now` (`None` or an
//! exact `int`). It reads the value with `PyUnicode_AsUTF8AndSize` (no copy),
//! verifies with the core, and returns the `Principal` object this thread
//! holds for the token (one reference count). Only when it must make a
//! Python object — a `Principal` not cached yet, or the exception for a
//! refused token (`StoreUnavailable` included) — does it attach through
//! PyO3 ([`Python::attach`]; the GIL is already held, so that only counts
//! the attachment), and then runs the same code as PyO3's method
//! ([`principal::new_object`], [`crate::errors::reject`],
//! [`crate::keyring::verify_token`]). Any other call (another keyword, a
//! value of another type, a `str` with no UTF-8 form, a `now` that is a
//! `datetime`, a `float` or an `int` out of range) goes to PyO3's original
//! method, unchanged, for its exact conversions, checks and error messages.
//!
//! The fast path never drops a Python reference outside `Python::attach`:
//! PyO3 defers the release of a `Py` dropped where it does not know the
//! thread is attached, until its next attachment. (A thread's cache of
//! `Principal` objects is dropped that way when the thread ends; the first
//! verification on any new thread attaches, to make its first `Principal`,
//! and so releases them.)
//!
//! The replacement keeps the name, docstring and text signature (so
//! `inspect.signature`, `help()` and stubtest see the same method).

use alloc::ffi::CString;
use core::ffi::CStr;
use core::panic::AssertUnwindSafe;
use core::ptr;
use std::panic::catch_unwind;

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use whatsgate_auth::{PrincipalRef, Profile, Timestamp};

use crate::convert::{MAX_SECS, now_or};
use crate::errors::reject;
use crate::keyring::{PyKeyring, verify_token};
use crate::principal;

/// What a method verifies.
#[derive(Clone, Copy)]
enum Kind {
    /// A bare token (`Keyring.verify`).
    Token,
    /// A header value of a profile.
    Header(Profile),
}

/// One method with a fast path.
struct Method {
    name: &'static CStr,
    kind: Kind,
    fast: ffi::PyCFunctionFastWithKeywords,
    /// PyO3's method descriptor, which every call the fast path declines goes to.
    full: PyOnceLock<Py<PyAny>>,
}

static METHODS: [Method; 3] = [
    Method {
        name: c"verify_access_token",
        kind: Kind::Header(Profile::Rest),
        fast: fast::<0>,
        full: PyOnceLock::new(),
    },
    Method {
        name: c"verify_authorization",
        kind: Kind::Header(Profile::Mcp),
        fast: fast::<1>,
        full: PyOnceLock::new(),
    },
    Method {
        name: c"verify",
        kind: Kind::Token,
        fast: fast::<2>,
        full: PyOnceLock::new(),
    },
];

/// Puts the fast methods in place of PyO3's on the `Keyring` class (once
/// per process; the class object is shared by every import of the module).
pub(crate) fn install(keyring: &Bound<'_, PyType>) -> PyResult<()> {
    let py = keyring.py();
    for method in &METHODS {
        method.full.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            let name = method
                .name
                .to_str()
                .map_err(|e| PySystemError::new_err(e.to_string()))?;
            let full = keyring.getattr(name)?;
            let signature: String = full.getattr("__text_signature__")?.extract()?;
            let doc: String = full.getattr("__doc__")?.extract()?;
            // The `name(signature)\n--\n\n` prefix is where CPython reads
            // `__text_signature__` from.
            let doc = CString::new(format!("{name}{signature}\n--\n\n{doc}"))
                .map_err(|e| PySystemError::new_err(e.to_string()))?;
            // The descriptor points at its definition for as long as the
            // class lives: for the process. Made once (see the lock above).
            let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
                ml_name: method.name.as_ptr(),
                ml_meth: ffi::PyMethodDefPointer {
                    PyCFunctionFastWithKeywords: method.fast,
                },
                ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
                ml_doc: Box::leak(doc.into_boxed_c_str()).as_ptr(),
            }));
            // SAFETY: `keyring` is a live type object and `def` is a valid
            // method definition that is never freed; the result is a new
            // reference or null with an exception set.
            let descriptor = unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyDescr_NewMethod(keyring.as_type_ptr(), def),
                )?
            };
            keyring.setattr(name, descriptor)?;
            Ok(full.unbind())
        })?;
    }
    Ok(())
}

/// The C function behind method `M` of [`METHODS`] (CPython's
/// `METH_FASTCALL | METH_KEYWORDS` convention).
///
/// # Safety
/// Called by CPython only, through the method descriptor made in
/// [`install`]: the thread holds the GIL, `slf` is a `Keyring` (the
/// descriptor checks the type of `self` before the call), `args` holds
/// `nargs` positional values followed by one value per name in `kwnames`
/// (a tuple, or null when there are no keywords).
unsafe extern "C" fn fast<const M: usize>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let method = &METHODS[M];
    // SAFETY: see this function's contract.
    let answer = catch_unwind(AssertUnwindSafe(|| unsafe {
        answer(method.kind, slf, args, nargs, kwnames)
    }));
    match answer {
        Ok(Some(result)) => result,
        // SAFETY: see this function's contract.
        Ok(None) => unsafe { call_full(method, slf, args, nargs, kwnames) },
        Err(payload) => raise_panic(payload),
    }
}

/// The method's result (a new reference, or null with the exception set),
/// or `None` when PyO3's method must answer the call.
///
/// # Safety
/// As for [`fast`].
unsafe fn answer(
    kind: Kind,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> Option<*mut ffi::PyObject> {
    // SAFETY: CPython calls `fast` with the GIL held.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the contract of `fast`.
    let now = unsafe { now_argument(args, nargs, kwnames) }?;
    // SAFETY: `now_argument` saw one positional value: `args[0]` is live
    // for the call.
    let value = match unsafe { value_bytes(*args) } {
        Value::Bytes(bytes) => Some(bytes),
        Value::None => None,
        Value::Other => return None,
    };
    // SAFETY: `slf` is a live `Keyring`, borrowed for the call.
    let keyring: &PyKeyring = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked() }.get();
    let now = now_or(now);
    // The cached object, else the principal to make one of (outside the
    // core's lookup, attached).
    let lookup = |p: PrincipalRef<'_>| {
        principal::cached(py, &keyring.inner, p).ok_or_else(|| p.to_principal())
    };
    let verdict = match (kind, value) {
        (Kind::Token, Some(token)) => verify_token(&keyring.inner, token, now, lookup),
        // `verify(None)` is a TypeError: PyO3's method raises it.
        (Kind::Token, None) => return None,
        (Kind::Header(profile), value) => {
            keyring.inner.authenticate_with(profile, value, now, lookup)
        }
    };
    Some(match verdict {
        Ok(Ok(cached)) => cached.into_ptr(),
        Ok(Err(verified)) => Python::attach(|py| {
            principal::new_object(py, &keyring.inner, verified)
                .map_or_else(|e| raise(py, e), Py::into_ptr)
        }),
        Err(rejection) => Python::attach(|py| raise(py, reject(py, rejection))),
    })
}

/// Sets `error` as the current exception; the null result that goes with it.
fn raise(py: Python<'_>, error: PyErr) -> *mut ffi::PyObject {
    error.restore(py);
    ptr::null_mut()
}

/// `now` of a call of shape `(value)` or `(value, now=x)` with `x` `None`
/// (the clock) or an exact `int` in the range the full method accepts;
/// `None` for any other call.
///
/// # Safety
/// As for [`fast`].
unsafe fn now_argument(
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> Option<Option<Timestamp>> {
    if nargs != 1 {
        return None;
    }
    if kwnames.is_null() {
        return Some(None);
    }
    // SAFETY: `kwnames` is a tuple of str (the contract), and with one name
    // `args` holds one value after the positional one.
    unsafe {
        if ffi::PyTuple_Size(kwnames) != 1
            || ffi::PyUnicode_CompareWithASCIIString(
                ffi::PyTuple_GetItem(kwnames, 0),
                c"now".as_ptr(),
            ) != 0
        {
            return None;
        }
        let now = *args.add(1);
        if now == ffi::Py_None() {
            return Some(None);
        }
        if ffi::Py_TYPE(now) != &raw mut ffi::PyLong_Type {
            return None;
        }
        let secs = ffi::PyLong_AsUnsignedLongLong(now);
        if secs == u64::MAX && !ffi::PyErr_Occurred().is_null() {
            // Negative or too large: PyO3's method raises the error.
            ffi::PyErr_Clear();
            return None;
        }
        if secs > MAX_SECS {
            return None;
        }
        Some(Some(Timestamp(secs)))
    }
}

/// A header value or token as the fast path sees it.
enum Value<'a> {
    /// A `str` (its UTF-8 form) or `bytes` (or subclass), not copied.
    Bytes(&'a [u8]),
    None,
    Other,
}

/// The bytes of a `str` (its UTF-8 form, which CPython keeps with the
/// string; an ASCII string is its own) or a `bytes`, without a copy. A
/// `str` with no UTF-8 form (lone surrogates) is `Other`: PyO3's method
/// encodes it as [`crate::convert::value_bytes`] says (an invalid token).
///
/// # Safety
/// The GIL is held and `value` is live for `'a`.
unsafe fn value_bytes<'a>(value: *mut ffi::PyObject) -> Value<'a> {
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `value` is a live object (the contract). The exact types are
    // compared first: the subclass checks read the type's flags through a
    // call under the limited API.
    let (data, len) = unsafe {
        let ty = ffi::Py_TYPE(value);
        if ty == &raw mut ffi::PyUnicode_Type || ffi::PyUnicode_Check(value) != 0 {
            let data = ffi::PyUnicode_AsUTF8AndSize(value, &mut len);
            if data.is_null() {
                ffi::PyErr_Clear();
                return Value::Other;
            }
            (data, len)
        } else if ty == &raw mut ffi::PyBytes_Type || ffi::PyBytes_Check(value) != 0 {
            (
                ffi::PyBytes_AsString(value).cast_const(),
                ffi::PyBytes_Size(value),
            )
        } else if value == ffi::Py_None() {
            return Value::None;
        } else {
            return Value::Other;
        }
    };
    let Ok(len) = usize::try_from(len) else {
        return Value::Other;
    };
    // SAFETY: CPython returned `len` bytes at `data`, owned by `value` (a
    // str keeps its UTF-8 form, a bytes its buffer) and immutable while it lives.
    Value::Bytes(unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Calls PyO3's original method with the same arguments (everything the
/// fast path declines): the full argument checks, answers and exceptions.
///
/// # Safety
/// As for [`fast`].
#[cold]
#[inline(never)]
unsafe fn call_full(
    method: &Method,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // Attached through PyO3 (the GIL is already held: this only counts the
    // attachment), so that PyO3 code below handles references and errors as
    // in its own wrappers.
    let result = catch_unwind(AssertUnwindSafe(|| {
        Python::attach(|py| {
            // SAFETY: as for `fast`.
            let result = unsafe { full_result(py, method, slf, args, nargs, kwnames) };
            result.map_or_else(
                |e| {
                    e.restore(py);
                    ptr::null_mut()
                },
                Bound::into_ptr,
            )
        })
    }));
    result.unwrap_or_else(raise_panic)
}

/// Raises PyO3's `PanicException` for a panic caught at the boundary (as
/// PyO3's own wrappers do).
#[cold]
fn raise_panic(payload: Box<dyn core::any::Any + Send>) -> *mut ffi::PyObject {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("panic from Rust code")
        .to_owned();
    Python::attach(|py| raise(py, PanicException::new_err((message,))))
}

/// # Safety
/// As for [`fast`].
unsafe fn full_result<'py>(
    py: Python<'py>,
    method: &Method,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    let full = method
        .full
        .get(py)
        .ok_or_else(|| PySystemError::new_err("whatsgate_auth: Keyring method not installed"))?
        .bind(py);
    let nargs = usize::try_from(nargs).map_err(|_| PyTypeError::new_err("bad argument count"))?;
    // SAFETY: `kwnames` is a tuple or null (the contract).
    let kwnames = unsafe { Borrowed::from_ptr_or_opt(py, kwnames) }
        // SAFETY: CPython passes keyword names as a tuple of str.
        .map(|names| unsafe { names.cast_unchecked::<PyTuple>() });
    let nkw = kwnames.map_or(0, |names| names.len());
    let values: &[*mut ffi::PyObject] = if args.is_null() {
        &[]
    } else {
        // SAFETY: `args` holds the positional values, then one per keyword.
        unsafe { core::slice::from_raw_parts(args, nargs + nkw) }
    };
    // SAFETY: every pointer is a live object borrowed for the call.
    let borrow = |p: *mut ffi::PyObject| unsafe { Bound::from_borrowed_ptr(py, p) };
    let (positional, keywords) = values.split_at(nargs.min(values.len()));
    let mut all = Vec::with_capacity(1 + positional.len());
    all.push(borrow(slf));
    all.extend(positional.iter().copied().map(borrow));
    let positional = PyTuple::new(py, all)?;
    let kwargs = match kwnames {
        None => None,
        Some(names) => {
            let kwargs = PyDict::new(py);
            for (name, &value) in names.iter().zip(keywords) {
                kwargs.set_item(name.cast_into::<PyString>()?, borrow(value))?;
            }
            Some(kwargs)
        }
    };
    full.call(positional, kwargs.as_ref())
}
