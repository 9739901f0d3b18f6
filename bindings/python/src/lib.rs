//! The native module `whatsgate_auth._native` of the `whatsgate-auth` wheel.
//!
//! A thin layer over the Rust core (`whatsgate_auth`): every verification,
//! header rule and response body comes from the core, so Python answers
//! exactly as Rust and C do. The public Python API is re-exported by
//! `python/whatsgate_auth/__init__.py`; its types are in `_native.pyi`.
//!
//! Nothing here ever puts a token secret into a `repr`, `str` or exception
//! message: plaintext tokens only leave as the first item of the tuples that
//! `generate`, `Keyring.create` (and its deprecated alias `issue`) and
//! `Keyring.regenerate` return.
//!
//! One file per concern: `errors` (the exceptions), `convert` (arguments
//! into the core's types), `record` (`TokenRecord`, `generate`),
//! `principal` (`Principal` and its per-thread cache), `keyring`
//! (`Keyring`, in memory or attached to a token store), `store` (what an
//! attached one adds: the store crate's `SyncedKeyring`, last-use writes,
//! `FollowerStats`), `fast` (the fast path of its verification methods),
//! `middleware` (the core's rules the Python middleware calls: profile
//! names, resource-metadata URLs, guarded path prefixes, the scopes routes
//! need and the core's answer when one is missing) and, with the
//! `bench` feature only, `bench` (a benchmark helper).

extern crate alloc;

#[cfg(feature = "bench")]
mod bench;
mod convert;
mod errors;
mod fast;
mod keyring;
mod middleware;
mod principal;
mod record;
mod store;

/// The native module; `whatsgate_auth/__init__.py` re-exports its names.
#[pyo3::pymodule]
mod _native {
    use pyo3::prelude::*;

    #[cfg(feature = "bench")]
    #[pymodule_export]
    use crate::bench::_bench_core_verify;
    #[pymodule_export]
    use crate::errors::{
        AuthError, InsufficientScope, InvalidToken, MissingToken, StoreError, StoreUnavailable,
    };
    #[pymodule_export]
    use crate::keyring::PyKeyring;
    #[pymodule_export]
    use crate::middleware::{
        _check_profile, _check_resource_metadata, _check_scope, _header_name, _missing,
        PyPathGuard, PyScopeRules,
    };
    #[pymodule_export]
    use crate::principal::PyPrincipal;
    #[pymodule_export]
    use crate::record::{PyTokenRecord, generate};
    #[pymodule_export]
    use crate::store::PyFollowerStats;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::fast::install(&m.py().get_type::<PyKeyring>())
    }
}
