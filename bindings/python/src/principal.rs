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
use whatsgate_auth::{PrincipalRef, Scopes, TokenId, TokenIdHash};

use crate::convert::{
    check_scope_name, deprecated, parse_account, parse_name, parse_profile,
    parse_resource_metadata, parse_scope, parse_scopes, parse_token_id, py_repr, scopes_object,
};
use crate::errors::scope_denial;

#[derive(Clone)]
enum PrincipalInner {
    Verified(wga::Principal),
    Built {
        account: String,
        token_id: TokenId,
        token_name: String,
        scopes: Scopes,
    },
}

/// Who a request was authenticated as: the account, the id and name of
/// the token it presented, and what that token may do. Never the secret.
/// Immutable.
#[pyclass(frozen, module = "whatsgate_auth", name = "Principal")]
pub(crate) struct PyPrincipal {
    inner: PrincipalInner,
}

impl PyPrincipal {
    fn parts(&self) -> (&str, TokenId, &str, &Scopes) {
        match &self.inner {
            PrincipalInner::Verified(p) => (p.account(), p.token_id(), p.token_name(), p.scopes()),
            PrincipalInner::Built {
                account,
                token_id,
                token_name,
                scopes,
            } => (account, *token_id, token_name, scopes),
        }
    }

    pub(crate) fn scopes_ref(&self) -> &Scopes {
        self.parts().3
    }
}

#[pymethods]
impl PyPrincipal {
    /// A principal built by hand (for tests of code that receives one):
    /// `Principal(account=..., token_id=..., token_name=..., scopes=None)`,
    /// keywords only, as the account and the name are both text; `scopes`
    /// None is full access. The old positional form still works, with a
    /// DeprecationWarning.
    #[new]
    #[pyo3(
        signature = (*args, account = None, token_id = None, token_name = None, scopes = None),
        // The supported form; the deprecated positional one is the docstring's.
        text_signature = "(*, account, token_id, token_name, scopes=None)"
    )]
    fn py_new(
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        account: Option<&str>,
        token_id: Option<&str>,
        token_name: Option<&str>,
        scopes: Option<&Bound<'_, PyAny>>,
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
                        "Principal() takes three keyword arguments and optional scopes: \
                         Principal(account=..., token_id=..., token_name=..., scopes=None)",
                    ));
                }
            };
        Ok(Self {
            inner: PrincipalInner::Built {
                account: parse_account(&account)?.as_str().to_owned(),
                token_id: parse_token_id(&token_id)?,
                token_name: parse_name(&token_name)?.as_str().to_owned(),
                scopes: parse_scopes(scopes)?,
            },
        })
    }

    /// Pickling: rebuilt with the keyword form.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let (account, token_id, token_name, scopes) = self.parts();
        let kwargs = PyDict::new(py);
        kwargs.set_item("account", account)?;
        kwargs.set_item("token_id", token_id.to_string())?;
        kwargs.set_item("token_name", token_name)?;
        if let Some(scopes) = scopes_object(py, scopes)? {
            kwargs.set_item("scopes", scopes)?;
        }
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

    /// What the token may do: None for full access (the default), else
    /// the tuple of its `resource:action` scopes, sorted.
    #[getter]
    fn scopes<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        scopes_object(py, self.scopes_ref())
    }

    /// Whether the token may use a route that needs `scope` (a
    /// `resource:action` name): full access allows every scope, a list the
    /// scopes it names and, for `resource:*`, every action of the resource.
    /// Raises ValueError for a name that is not a scope (a typo would
    /// otherwise pass for every full-access token).
    #[pyo3(signature = (scope, /))]
    fn has_scope(&self, scope: &str) -> PyResult<bool> {
        Ok(self.scopes_ref().allows(check_scope_name(scope)?))
    }

    /// Raises InsufficientScope (the exact 403 answer of `profile`, naming
    /// the scope; for `mcp` with `resource_metadata` in its challenge when
    /// given) unless the token has `scope` (see `has_scope`).
    #[pyo3(signature = (scope, /, profile = "rest", *, resource_metadata = None))]
    fn require_scope(
        &self,
        py: Python<'_>,
        scope: &str,
        profile: &str,
        resource_metadata: Option<&str>,
    ) -> PyResult<()> {
        let profile = parse_profile(py, profile)?;
        let scope = check_scope_name(scope)?;
        let metadata = resource_metadata
            .map(|url| parse_resource_metadata(py, url))
            .transpose()?;
        if self.scopes_ref().allows(scope) {
            Ok(())
        } else {
            Err(scope_denial(
                py,
                profile,
                &parse_scope(scope)?,
                metadata.as_ref(),
            ))
        }
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
        let (account, token_id, token_name, scopes) = self.parts();
        let scopes = match scopes_object(py, scopes)? {
            Some(list) => format!(", scopes={}", list.repr()?.to_cow()?),
            None => String::new(),
        };
        Ok(format!(
            "Principal(account={}, token_id='{token_id}', token_name={}{scopes})",
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
                // Equal account, name and scopes (the id is the key): the
                // object says exactly what the core just answered, so a
                // rename or rescope is never hidden by a cached object (short
                // strings; the core's principals are copies, so addresses say
                // nothing; a restricted list is shared, so its comparison is
                // usually the pointer's).
                PrincipalInner::Verified(known)
                    if known.account() == p.account()
                        && known.token_name() == p.token_name()
                        && known.scopes() == p.scopes() =>
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
