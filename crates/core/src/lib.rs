#![doc = include_str!("../README.md")]
#![no_std]
// `unsafe` lives only in `ct/`: the SIMD kernels (`ct/base64url/avx2.rs`,
// `ct/crc32/pclmul.rs`, `ct/lanes/sse2.rs`), the one dispatch that calls
// them (`ct/platform.rs`) and `ct/wipe.rs`; and in the keyring's index
// (`keyring/table/`: its slot protocol and memory reclamation, and
// `keyring/entry.rs`: its copy of a name read back as a `&str`). Each file
// allows it and says why each block is sound; Miri runs their tests.
#![deny(unsafe_code)]
// Keep the no_std build honest: reach for `core`/`alloc` first.
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod ct;
mod hex;
pub mod host_records;
pub mod http;
#[cfg(feature = "alloc")]
mod keyring;
mod layout;
#[cfg(feature = "alloc")]
mod record;
#[cfg(feature = "alloc")]
mod scope;
mod time;
pub mod token;
mod verifier;

#[cfg(all(whatsgate_ct_check, feature = "std"))]
#[doc(hidden)]
pub use ct::declassify;
/// Which kernel each constant-time routine runs on this CPU (SIMD or
/// portable); for benchmark reports and test harnesses, not a stable API.
#[doc(hidden)]
pub use ct::platform::kernels as ct_kernels;
#[cfg(feature = "alloc")]
pub use http::ScopeDenial;
pub use http::{Failure, PathPrefix, Profile, Rejection};
#[cfg(feature = "alloc")]
pub use keyring::{Keyring, KeyringError, Principal, PrincipalRef};
#[cfg(feature = "alloc")]
pub use record::{
    AccountId, Description, LabelError, LifetimePolicy, MAX_ACCOUNT_CHARS, MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS, NewToken, PolicyError, TokenName, TokenRecord, TokenUpdate,
};
#[cfg(feature = "alloc")]
pub use scope::{MAX_SCOPE_PART, MAX_SCOPES, Scope, ScopeError, Scopes};
pub use time::Timestamp;
#[cfg(feature = "std")]
pub use token::generate;
pub use token::{InvalidToken, RngError, Token, TokenFormat, TokenId, TokenIdHash, TokenIdHasher};

/// Parses a token in the default format: now
/// [`host_records::parse`], beside the rest of that path.
///
/// # Errors
/// [`InvalidToken`] for anything that is not a well-formed token.
#[deprecated(since = "0.1.1", note = "use whatsgate_auth::host_records::parse")]
#[inline]
pub fn parse(text: &[u8]) -> Result<host_records::ParsedToken, InvalidToken> {
    host_records::parse(text)
}

/// A parsed token: now [`host_records::ParsedToken`].
#[deprecated(
    since = "0.1.1",
    note = "use whatsgate_auth::host_records::ParsedToken"
)]
pub type ParsedToken = host_records::ParsedToken;
pub use verifier::{Rollover, VERIFIER_TAG, Verifier};

/// The operating system's CSPRNG (`getrandom`): the generator to pass where
/// a function asks for one.
#[cfg(feature = "std")]
pub use getrandom::SysRng as OsRng;
/// The RNG traits generators must implement.
pub use rand_core;
/// Constant-time equality, for comparing [`Verifier`]s.
pub use subtle::ConstantTimeEq;

/// The repository README's Rust examples run as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct RepositoryReadme;
