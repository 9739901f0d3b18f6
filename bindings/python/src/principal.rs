//! `Principal`, and the per-thread cache of the `Principal` objects that
//! verifications return.

use core::hash::{Hash, Hasher};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::DefaultHasher;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use whatsgate_auth as wga;
use whatsgate_auth::{PrincipalRef, TokenId, TokenIdHash};

use crate::convert::{deprecated, parse_account, parse_name, parse_token_id, py_repr};

#[derive(Clone)]
enum PrincipalInner {
    Verified(wga::Principal),
    Built {
        account: String,
        token_id: TokenId,
        token_name: String,
    },
}

/// Who a request was authenticated as: the account, and the id and name of
/// the token it presented. Never the secret. Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "Principal")]
pub(crate) struct PyPrincipal {
    inner: PrincipalInner,
}

impl PyPrincipal {
    fn parts(&self) -> (&str, TokenId, &str) {
        match &self.inner {
            PrincipalInner::Verified(p) => (p.account(), p.token_id(), p.token_name()),
            PrincipalInner::Built {
                account,
                token_id,
                token_name,
            } => (account, *token_id, token_name),
        }
    }
}

#[pymethods]
impl PyPrincipal {
    /// A principal built by hand (for tests of code that receives one):
    /// `Principal(account=..., token_id=..., token_name=...)`, keywords
    /// only, as the account and the name are both text. The old positional
    /// form still works, with a DeprecationWarning.
    #[new]
    #[pyo3(
        signature = (*args, account = None, token_id = None, token_name = None),
        // The supported form; the deprecated positional one is the docstring's.
        text_signature = "(*, account, token_id, token_name)"
    )]
    fn py_new(
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        account: Option<&str>,
        token_id: Option<&str>,
        token_name: Option<&str>,
    ) -> PyResult<Self> {
        let (account, token_id, token_name): (String, String, String) =
            match (args.len(), account, token_id, token_name) {
                (0, Some(a), Some(i), Some(n)) => (a.to_owned(), i.to_owned(), n.to_owned()),
                (3, None, None, None) => {
                    deprecated(
                        py,
                        "Principal(account, token_id, token_name) is deprecated: call \
                         Principal(account=..., token_id=..., token_name=...)",
                    )?;
                    args.extract()?
                }
                _ => {
                    return Err(PyTypeError::new_err(
                        "Principal() takes three keyword arguments: \
                         Principal(account=..., token_id=..., token_name=...)",
                    ));
                }
            };
        Ok(Self {
            inner: PrincipalInner::Built {
                account: parse_account(&account)?.as_str().to_owned(),
                token_id: parse_token_id(&token_id)?,
                token_name: parse_name(&token_name)?.as_str().to_owned(),
            },
        })
    }

    /// Pickling: rebuilt with the keyword form.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let (account, token_id, token_name) = self.parts();
        let kwargs = PyDict::new(py);
        kwargs.set_item("account", account)?;
        kwargs.set_item("token_id", token_id.to_string())?;
        kwargs.set_item("token_name", token_name)?;
        Ok((PyTuple::empty(py), kwargs))
    }

    /// The account; the token reaches every device of it.
    #[getter]
    fn account(&self) -> &str {
        self.parts().0
    }

    /// The public id of the token presented (16 hexadecimal digits).
    #[getter]
    fn token_id(&self) -> String {
        self.parts().1.to_string()
    }

    /// The name of the token presented.
    #[getter]
    fn token_name(&self) -> &str {
        self.parts().2
    }

    fn __eq__(&self, other: &Bound<'_, Self>) -> bool {
        self.parts() == other.get().parts()
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.parts().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (account, token_id, token_name) = self.parts();
        Ok(format!(
            "Principal(account={}, token_id='{token_id}', token_name={})",
            py_repr(py, account)?,
            py_repr(py, token_name)?,
        ))
    }
}

/// How many `Principal` objects each thread keeps for reuse.
const MAX_CACHED_PRINCIPALS: usize = 4096;

thread_local! {
    /// The `Principal` object last returned per (keyring, token id), per
    /// thread: a verification that yields an equal principal returns it
    /// again instead of allocating a new (immutable) object. It is only
    /// consulted after the core accepted the token, and only returns an
    /// object equal to the core's answer, so a stale entry can never make a
    /// refused token pass or name the wrong principal.
    static PRINCIPALS: RefCell<HashMap<(usize, TokenId), Py<PyPrincipal>, TokenIdHash>> =
        const { RefCell::new(HashMap::with_hasher(TokenIdHash)) };
}

/// The cache key of a verified token: the keyring's address (unique while
/// the keyring lives) and the token id.
fn cache_key(keyring: &wga::Keyring, token_id: TokenId) -> (usize, TokenId) {
    (core::ptr::from_ref(keyring) as usize, token_id)
}

/// The `Principal` object this thread returned last for a token verified
/// by `keyring`, if it still says the same; a new reference.
pub(crate) fn cached(
    py: Python<'_>,
    keyring: &wga::Keyring,
    p: PrincipalRef<'_>,
) -> Option<Py<PyPrincipal>> {
    let key = cache_key(keyring, p.token_id());
    PRINCIPALS.with_borrow(|cache| {
        cache
            .get(&key)
            .and_then(|cached| match &cached.get().inner {
                // Equal account and name (the id is the key): the object says
                // exactly what the core just answered (short strings; the
                // core's principals are copies, so addresses say nothing).
                PrincipalInner::Verified(known)
                    if known.account() == p.account() && known.token_name() == p.token_name() =>
                {
                    Some(cached.clone_ref(py))
                }
                _ => None,
            })
    })
}

/// The `Principal` object for a token verified by `keyring`: the one this
/// thread returned last for it if that one still says the same, else a new
/// one.
pub(crate) fn object(
    py: Python<'_>,
    keyring: &wga::Keyring,
    p: PrincipalRef<'_>,
) -> PyResult<Py<PyPrincipal>> {
    match cached(py, keyring, p) {
        Some(hit) => Ok(hit),
        None => new_object(py, keyring, p.to_principal()),
    }
}

/// A new `Principal` object, kept for this thread's next verifications of
/// the same token by `keyring`.
pub(crate) fn new_object(
    py: Python<'_>,
    keyring: &wga::Keyring,
    p: wga::Principal,
) -> PyResult<Py<PyPrincipal>> {
    let key = cache_key(keyring, p.token_id());
    let object = Py::new(
        py,
        PyPrincipal {
            inner: PrincipalInner::Verified(p),
        },
    )?;
    let stored = object.clone_ref(py);
    PRINCIPALS.with_borrow_mut(|cache| {
        if cache.len() >= MAX_CACHED_PRINCIPALS {
            cache.clear();
        }
        cache.insert(key, stored);
    });
    Ok(object)
}
