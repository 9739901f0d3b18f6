//! A benchmark helper, compiled only with the `bench` feature (off by
//! default, so the published wheel does not carry it): the Rust core timed
//! in a Rust loop, which `bench/bench_verify.py` sets the binding against.

use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use whatsgate_auth::{Profile, Timestamp};

use crate::keyring::PyKeyring;

/// Benchmark helper: times `iterations` verifications of the header value
/// `value` by the Rust core alone, as a Rust service makes them: the `rest`
/// profile's `Keyring::authenticate` at `Timestamp::now()`, an owned
/// `Principal` out (the work `Keyring.verify_access_token` asks of the
/// core), or with `lent`, `Keyring::authenticate_with` lending the
/// principal (its account is read): the floor, nothing taken out. Returns
/// the total in nanoseconds. The GIL is released meanwhile.
#[pyfunction]
#[pyo3(signature = (keyring, value, iterations, lent = false))]
pub(crate) fn _bench_core_verify(
    py: Python<'_>,
    keyring: &Bound<'_, PyKeyring>,
    value: &str,
    iterations: u64,
    lent: bool,
) -> PyResult<u64> {
    let keyring = &keyring.get().inner;
    let value = value.as_bytes();
    if keyring
        .authenticate(Profile::Rest, [value], Timestamp::now())
        .is_err()
    {
        return Err(PyValueError::new_err(
            "the value does not verify with this keyring",
        ));
    }
    let elapsed = py.detach(|| {
        let start = Instant::now();
        if lent {
            for _ in 0..iterations {
                let account = keyring.authenticate_with(
                    Profile::Rest,
                    [core::hint::black_box(value)],
                    Timestamp::now(),
                    |p| p.account().len(),
                );
                core::hint::black_box(account.is_ok());
            }
        } else {
            for _ in 0..iterations {
                let principal = keyring.authenticate(
                    Profile::Rest,
                    [core::hint::black_box(value)],
                    Timestamp::now(),
                );
                core::hint::black_box(principal.is_ok());
            }
        }
        start.elapsed()
    });
    Ok(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
}
