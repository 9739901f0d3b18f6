//! The fast path of `Keyring.verify_access_token`, `verify_authorization`
//! and `verify`: a plain C function per method in place of PyO3's wrapper.
//!
//! A verification is about 130 ns of core work, and PyO3's generic method
//! wrapper (attach bookkeeping in a thread-local, the type check of `self`,
//! the argument parser, the `Option<u64>` for `now`) added about 15 ns to
//! it (measured A/B with `bench/bench_verify.py`). So after PyO3 has built the `Keyring`
//! class, [`install`] replaces these three methods with method descriptors
//! of [`fast`], which handles only the common call: one positional `str` or
//! `bytes` value (exactly those types), no keywords, a token that verifies,
//! and a `Principal` object this thread already holds for it. It reads the
//! value with `PyUnicode_AsUTF8AndSize` (no copy), verifies with the core,
//! and returns the cached object (one reference count). Anything else — a
//! keyword, `None`, another type, a refused token, a principal not cached
//! yet — goes to PyO3's original method, unchanged, which verifies again
//! and answers (or raises) exactly as before. The fast path never raises,
//! creates no Python object and drops no Python reference; so it needs none
//! of PyO3's attach bookkeeping.
//!
//! Verifying twice on those paths is safe: the first verdict is dropped, and
//! the second is the answer of a verification that started later. It costs
//! them about 120 ns (the call through PyO3's method, plus a second core
//! verification for a refused token).
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

use crate::PyKeyring;

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
    if nargs == 1 && kwnames.is_null() {
        // SAFETY: see this function's contract; `args` holds one value. A
        // panic (none is expected) declines the fast path, and the full
        // method reports it.
        let hit = catch_unwind(AssertUnwindSafe(|| unsafe {
            verified_principal(method.kind, slf, *args)
        }));
        if let Ok(Some(principal)) = hit {
            return principal;
        }
    }
    // SAFETY: see this function's contract.
    unsafe { call_full(method, slf, args, nargs, kwnames) }
}

/// The cached `Principal` for a `str` or `bytes` value that verifies, as a
/// new reference; `None` for anything the full method must answer.
///
/// Changes no Python state but one reference count: no object created, no
/// exception left set, no reference dropped (PyO3 defers the release of a
/// `Py` dropped outside its own wrappers, and this function is outside).
///
/// # Safety
/// The GIL is held, `slf` is a `Keyring`, `value` a live object, both
/// borrowed for the call.
unsafe fn verified_principal(
    kind: Kind,
    slf: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> Option<*mut ffi::PyObject> {
    // SAFETY: CPython calls `fast` with the GIL held.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `value` is live for the call (the contract).
    let bytes = unsafe { value_bytes(value) }?;
    // SAFETY: `slf` is a live `Keyring`, borrowed for the call.
    let keyring: &PyKeyring = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked() }.get();
    let now = Timestamp::now();
    let cached = |p: PrincipalRef<'_>| keyring.cached_principal(py, p);
    let principal = match kind {
        Kind::Token => keyring.inner.verify_with(bytes, now, cached).ok(),
        Kind::Header(profile) => keyring
            .inner
            .authenticate_with(profile, [bytes], now, cached)
            .ok(),
    };
    principal.flatten().map(Py::into_ptr)
}

/// The bytes of an exact `str` (its UTF-8 form, which CPython keeps with
/// the string; an ASCII string is its own) or an exact `bytes`, without a
/// copy. `None` for any other object, and for a `str` with no UTF-8 form
/// (lone surrogates: the full method refuses it as a token).
///
/// # Safety
/// The GIL is held and `value` is live for `'a`.
unsafe fn value_bytes<'a>(value: *mut ffi::PyObject) -> Option<&'a [u8]> {
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `value` is a live object (the contract); comparing its type
    // with the address of a built-in type reads nothing else.
    let (data, len) = unsafe {
        if ffi::Py_TYPE(value) == &raw mut ffi::PyUnicode_Type {
            let data = ffi::PyUnicode_AsUTF8AndSize(value, &mut len);
            if data.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            (data, len)
        } else if ffi::Py_TYPE(value) == &raw mut ffi::PyBytes_Type {
            (
                ffi::PyBytes_AsString(value).cast_const(),
                ffi::PyBytes_Size(value),
            )
        } else {
            return None;
        }
    };
    let len = usize::try_from(len).ok()?;
    // SAFETY: CPython returned `len` bytes at `data`, owned by `value` (a
    // str keeps its UTF-8 form, a bytes its buffer) and immutable while it lives.
    Some(unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) })
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
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("panic from Rust code")
            .to_owned();
        Python::attach(|py| PanicException::new_err((message,)).restore(py));
        ptr::null_mut()
    })
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
