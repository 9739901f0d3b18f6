//! The byte layout of token format v1: its version and lengths.
//!
//! A leaf: it imports nothing from the crate, so the constant-time building
//! blocks (`ct`), the verifier and the token format can all size their
//! arrays from it without depending on one another. `docs/FORMAT.md` is the
//! byte-exact specification.

/// The format version byte this crate writes and accepts.
pub const VERSION: u8 = 1;
/// Length of the public token id in bytes (64 bits).
pub const ID_LEN: usize = 8;
/// Length of the secret in bytes (192 bits).
pub const SECRET_LEN: usize = 24;
/// Length of the checksummed part of the payload: version, id and secret.
pub(crate) const CHECKED_LEN: usize = 1 + ID_LEN + SECRET_LEN;
/// Length of the CRC-32 checksum that ends the payload.
pub(crate) const CHECKSUM_LEN: usize = 4;
/// Length of the decoded payload: version, id, secret and checksum.
pub(crate) const PAYLOAD_LEN: usize = CHECKED_LEN + CHECKSUM_LEN;
/// Length of the base64url body that follows the prefix.
pub const BODY_LEN: usize = 50;
/// The longest a token may be (prefix included), per the format's contract.
pub const MAX_TOKEN_LEN: usize = 64;
/// The longest prefix that still fits in [`MAX_TOKEN_LEN`].
pub const MAX_PREFIX_LEN: usize = MAX_TOKEN_LEN - BODY_LEN;

// base64url without padding: 4 characters for every 3 bytes, rounded up.
const _: () = assert!(BODY_LEN == (PAYLOAD_LEN * 4).div_ceil(3));
