//! The C binding of `whatsgate-auth`: `libwhatsgate_auth.{a,so}` and
//! `include/whatsgate_auth.h` (generated from this crate by cbindgen).
//!
//! Conventions (after rustls-ffi), also stated in `bindings/c/README.md`:
//! - Opaque handles (`struct wga_keyring`, `struct wga_record_list`) made by
//!   `wga_<type>_new` or a function that returns one, released with
//!   `wga_<type>_free`; `_free(NULL)` does nothing.
//! - Every fallible function returns a [`wga_status`]: `WGA_OK` (0) or an
//!   explicit, never-reused value.
//! - Outputs go through out-parameters, written only on `WGA_OK` (the one
//!   exception: the length needed, on `WGA_BUFFER_TOO_SMALL`).
//! - Every buffer is followed by its `size_t` length.
//! - Every pointer is checked for NULL (`WGA_NULL_PARAMETER`).
//! - Every entry point runs inside one panic boundary: a Rust panic becomes
//!   `WGA_PANIC`, never an abort or an unwind into C.
//! - Times are `uint64_t` seconds since the Unix epoch; `0` for `now` means
//!   "read the system clock".
//!
//! Thread safety: a `wga_keyring` may be used from many threads at once by
//! every function but `wga_keyring_free`. Verification takes no lock.
//!
//! A keyring is in memory (`wga_keyring_new`) or attached to a token store
//! (`wga_keyring_open`, on `whatsgate-auth-store`): one handle type, so the
//! verify functions take either.

extern crate alloc;

mod access;
#[cfg(test)]
mod bench;
mod keyring;
mod panic;
mod record;
mod status;
mod store;
mod store_error;
mod verify;

pub use access::*;
pub use keyring::*;
pub use record::*;
pub use status::*;
pub use store::*;
pub use store_error::*;
pub use verify::*;

use core::ffi::c_char;

/// Major version of this library (the `whatsgate-auth` release it belongs to).
pub const WGA_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const WGA_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const WGA_VERSION_PATCH: u32 = 0;

/// The version of the linked library, "MAJOR.MINOR.PATCH": a static
/// NUL-terminated string (never NULL, never freed). Compare it with the
/// header's `WGA_VERSION` (made of `WGA_VERSION_MAJOR`, `_MINOR`, `_PATCH`)
/// to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn wga_version() -> *const c_char {
    const VERSION: &core::ffi::CStr = match core::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => panic!("the package version has no NUL"),
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo() {
        assert_eq!(
            WGA_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            WGA_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            WGA_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: wga_version returns a static NUL-terminated string.
        let linked = unsafe { core::ffi::CStr::from_ptr(wga_version()) };
        assert_eq!(linked.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    /// The committed header carries the same version defines as Cargo.toml.
    #[test]
    #[cfg_attr(miri, ignore = "reads a file; Miri isolates the file system")]
    fn header_version_defines_match_cargo() {
        let header = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../include/whatsgate_auth.h"
        ))
        .unwrap();
        let define = |name: &str| -> String {
            let prefix = format!("#define {name} ");
            let line = header
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("include/whatsgate_auth.h has no {name}"));
            line[prefix.len()..].trim().trim_matches('"').to_string()
        };
        assert_eq!(define("WGA_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(define("WGA_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(define("WGA_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    }
}
