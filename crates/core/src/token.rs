//! Token format v1: the text a client presents, how it is made and parsed.
//!
//! ```text
//! token   = prefix body                       ; 55 characters with the default prefix
//! prefix  = "wgat_"                           ; or a custom one, see TokenFormat
//! body    = base64url-nopad(payload)          ; 50 characters
//! payload = version id secret checksum        ; 37 bytes
//!   version  = 0x01                           ;  1 byte
//!   id       = 8 random bytes                 ;  public, names the record
//!   secret   = 24 random bytes                ;  192 bits from a CSPRNG
//!   checksum = CRC-32(version id secret), big-endian ; 4 bytes
//! ```
//!
//! `docs/FORMAT.md` is the byte-exact specification with test vectors.

use core::fmt;
use core::str::FromStr;

use rand_core::TryCryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ct;
pub use crate::layout::{BODY_LEN, ID_LEN, MAX_PREFIX_LEN, MAX_TOKEN_LEN, SECRET_LEN, VERSION};
use crate::layout::{CHECKED_LEN, PAYLOAD_LEN};
use crate::time::Timestamp;
use crate::verifier::{IdSecret, Rollover, Verifier, accepts};

const SECRET_RANGE: core::ops::Range<usize> = 1 + ID_LEN..CHECKED_LEN;

/// The public id of a token: 64 random bits that name its record.
///
/// Ids are not secret: they may appear in logs, listings and URLs. They are
/// displayed and parsed as 16 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenId([u8; ID_LEN]);

impl TokenId {
    /// Wraps raw id bytes.
    pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw id bytes, as they appear in the payload.
    pub const fn to_bytes(self) -> [u8; ID_LEN] {
        self.0
    }

    /// The id as 16 lowercase hexadecimal digits (ASCII), as `Display`
    /// writes it: for hosts that need the text without a formatter (C
    /// buffers, fixed-size columns).
    pub const fn to_hex_digits(self) -> [u8; 2 * ID_LEN] {
        crate::hex::encode(&self.0)
    }

    /// The id as one `u64` (native byte order): a well-mixed hash key, since
    /// ids are uniformly random.
    #[inline]
    pub(crate) fn hash_key(self) -> u64 {
        u64::from_ne_bytes(self.0)
    }
}

impl core::hash::Hash for TokenId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_key());
    }
}

/// A `BuildHasher` for maps keyed by [`TokenId`]: ids are 64 uniformly random
/// bits chosen by the issuer, so the id is its own hash and SipHash would
/// only cost time. (The keyring uses it; so can hosts' own maps.)
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenIdHash;

/// The hasher of [`TokenIdHash`].
#[derive(Debug)]
pub struct TokenIdHasher(u64);

impl core::hash::BuildHasher for TokenIdHash {
    type Hasher = TokenIdHasher;

    fn build_hasher(&self) -> TokenIdHasher {
        TokenIdHasher(0)
    }
}

impl core::hash::Hasher for TokenIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `TokenId` hashes through `write_u64`; any other input still gets a
        // deterministic (FNV-1a) hash.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hex::write(f, &self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

/// A string that is not 16 hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseTokenIdError;

impl fmt::Display for ParseTokenIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token id is 16 hexadecimal digits, as token listings show it")
    }
}

impl core::error::Error for ParseTokenIdError {}

impl FromStr for TokenId {
    type Err = ParseTokenIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::hex::decode(s).map(Self).ok_or(ParseTokenIdError)
    }
}

/// The prefix that starts every token, such as the default `wgat_`.
///
/// A prefix lets secret scanners and people recognise a token. It is 1 to
/// [`MAX_PREFIX_LEN`] characters of `a-z`, `0-9` and `_`, and must end with
/// `_`, so it can never be confused with the base64url body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenFormat {
    // Stored inline (it is short) so a format chosen at run time, from a
    // config file or another language, needs no `'static` string.
    prefix: [u8; MAX_PREFIX_LEN],
    prefix_len: u8,
}

/// A prefix that breaks the rules of [`TokenFormat::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixError;

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a token prefix is 1 to {MAX_PREFIX_LEN} characters of a-z, 0-9 and _, ending with _"
        )
    }
}

impl core::error::Error for PrefixError {}

impl TokenFormat {
    /// The default format, prefix `wgat_`.
    pub const DEFAULT: Self = match Self::new("wgat_") {
        Ok(format) => format,
        Err(_) => panic!("the default prefix follows the rules"),
    };

    /// A format with a custom prefix (copied).
    ///
    /// # Errors
    /// [`PrefixError`] when the prefix breaks the rules above.
    pub const fn new(prefix: &str) -> Result<Self, PrefixError> {
        let bytes = prefix.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_PREFIX_LEN || bytes[bytes.len() - 1] != b'_' {
            return Err(PrefixError);
        }
        let mut i = 0;
        while i < bytes.len() {
            if !matches!(bytes[i], b'a'..=b'z' | b'0'..=b'9' | b'_') {
                return Err(PrefixError);
            }
            i += 1;
        }
        let mut stored = [0u8; MAX_PREFIX_LEN];
        let mut i = 0;
        while i < bytes.len() {
            stored[i] = bytes[i];
            i += 1;
        }
        Ok(Self {
            prefix: stored,
            prefix_len: bytes.len() as u8,
        })
    }

    /// Whether `text` starts with the prefix. `text` is a whole token (more
    /// than 16 bytes), so one masked 16-byte comparison does instead of a
    /// `memcmp` call; the prefix is public, so this may exit early.
    #[inline]
    fn starts(&self, text: &[u8]) -> bool {
        const _: () = assert!(MAX_PREFIX_LEN < 16 && BODY_LEN > 16);
        let Some(head) = text.first_chunk::<16>() else {
            return false;
        };
        let mut padded = [0u8; 16];
        padded[..MAX_PREFIX_LEN].copy_from_slice(&self.prefix);
        // `prefix_len` is 1..=14 (checked by `new`), so the shift is in range.
        let mask = u128::MAX >> (128 - 8 * u32::from(self.prefix_len));
        (u128::from_le_bytes(*head) ^ u128::from_le_bytes(padded)) & mask == 0
    }

    fn prefix_bytes(&self) -> &[u8] {
        &self.prefix[..usize::from(self.prefix_len)]
    }

    /// The prefix, such as `wgat_`.
    pub fn prefix(&self) -> &str {
        // Checked to be ASCII by `new`.
        core::str::from_utf8(self.prefix_bytes()).unwrap_or_else(|_| unreachable!("ASCII prefix"))
    }

    /// The length of every token in this format.
    pub const fn token_len(&self) -> usize {
        self.prefix_len as usize + BODY_LEN
    }

    /// Generates a new token with a fresh id, and its verifier.
    ///
    /// # Errors
    /// [`RngError`] when the generator fails; no token is made from a
    /// generator that failed.
    pub fn generate<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<(Token, Verifier), RngError> {
        let mut id = [0u8; ID_LEN];
        rng.try_fill_bytes(&mut id).map_err(|_| RngError)?;
        self.generate_for(TokenId(id), rng)
    }

    /// Generates a new secret for an existing id (regeneration), and its verifier.
    ///
    /// # Errors
    /// [`RngError`] when the generator fails.
    pub fn generate_for<R: TryCryptoRng + ?Sized>(
        &self,
        id: TokenId,
        rng: &mut R,
    ) -> Result<(Token, Verifier), RngError> {
        let mut payload = Payload([0u8; PAYLOAD_LEN]);
        payload.0[0] = VERSION;
        payload.0[1..1 + ID_LEN].copy_from_slice(&id.0);
        rng.try_fill_bytes(&mut payload.0[SECRET_RANGE])
            .map_err(|_| RngError)?;
        let crc = ct::Platform::detect().crc32(payload.checked());
        payload.0[CHECKED_LEN..].copy_from_slice(&crc.to_be_bytes());

        let verifier = Verifier::compute(payload.checked());
        let mut text = [0u8; MAX_TOKEN_LEN];
        let prefix_len = usize::from(self.prefix_len);
        text[..prefix_len].copy_from_slice(self.prefix_bytes());
        let mut body: [u8; BODY_LEN] = ct::base64url::encode(&payload.0);
        text[prefix_len..prefix_len + BODY_LEN].copy_from_slice(&body);
        body.zeroize();
        let token = Token {
            text,
            len: (prefix_len + BODY_LEN) as u8,
            id,
        };
        Ok((token, verifier))
    }

    /// Parses a presented token: prefix, length, alphabet, version and checksum.
    ///
    /// The checks that read the secret (alphabet and checksum) are
    /// constant-time; only their combined verdict is revealed. The secret is
    /// kept, zeroized on drop, for [`ParsedToken::verifier`].
    ///
    /// # Errors
    /// [`InvalidToken`] for anything that is not a well-formed token of this
    /// format, without saying what was wrong.
    #[inline]
    pub fn parse(&self, text: &[u8]) -> Result<ParsedToken, InvalidToken> {
        self.with_payload(text, |payload| ParsedToken {
            id_secret: IdSecret::from_checked(payload.checked()),
        })
    }

    /// Decodes and checks a presented token, calls `prepare` with its id,
    /// computes its verifier and lends all three to `f`. `prepare` runs
    /// before the hash: what it starts (a prefetch of the id's record) runs
    /// while the hash does.
    #[cfg(feature = "alloc")]
    #[inline(always)]
    pub(crate) fn with_verifier_prepared<P, R>(
        &self,
        text: &[u8],
        prepare: impl FnOnce(TokenId) -> P,
        f: impl FnOnce(P, TokenId, &Verifier) -> R,
    ) -> Result<R, InvalidToken> {
        self.with_payload(text, |payload| {
            let id = payload.id();
            let prepared = prepare(id);
            f(prepared, id, &Verifier::compute(payload.checked()))
        })
    }

    /// Decodes and checks a presented token, then lends the payload to `f`
    /// where it was decoded; it is wiped when `f` returns.
    #[inline(always)]
    fn with_payload<R>(
        &self,
        text: &[u8],
        f: impl FnOnce(&Payload) -> R,
    ) -> Result<R, InvalidToken> {
        let prefix_len = usize::from(self.prefix_len);
        if text.len() != prefix_len + BODY_LEN || !self.starts(text) {
            return Err(InvalidToken);
        }
        let body: &[u8; BODY_LEN] = text[prefix_len..].try_into().map_err(|_| InvalidToken)?;
        let platform = ct::Platform::detect();
        let mut payload = Payload([0u8; PAYLOAD_LEN]);
        let malformed = platform.decode_body(body, &mut payload.0);
        let presented_crc = u32::from_be_bytes([
            payload.0[CHECKED_LEN],
            payload.0[CHECKED_LEN + 1],
            payload.0[CHECKED_LEN + 2],
            payload.0[CHECKED_LEN + 3],
        ]);
        // Fold every check into one word, so one comparison (and one
        // revealed verdict) covers alphabet, canonical form, version and CRC.
        let computed_crc = platform.crc32(payload.checked());
        let mismatch = u32::from(malformed)
            | u32::from(payload.0[0] ^ VERSION)
            | (computed_crc ^ presented_crc);
        let well_formed = mismatch.ct_eq(&0);
        if !ct::reveal(well_formed) {
            return Err(InvalidToken);
        }
        Ok(f(&payload))
    }
}

impl Default for TokenFormat {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Debug for TokenFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFormat")
            .field("prefix", &self.prefix())
            .finish()
    }
}

/// The decoded payload; it holds the secret, so it is wiped on drop.
///
/// 64-aligned, so the decoder's stores into it never cross a cache line: a
/// store split across two lines cannot be forwarded to the loads of the CRC
/// and the hash that follow at once, and they would wait for it to reach the
/// cache. (Without the alignment that depends on where the stack happens to
/// be, so it would vary from one process to the next.)
#[repr(C, align(64))]
struct Payload([u8; PAYLOAD_LEN]);

impl Drop for Payload {
    #[inline]
    fn drop(&mut self) {
        ct::wipe(&mut self.0);
    }
}

impl Payload {
    #[cfg(feature = "alloc")]
    #[inline]
    fn id(&self) -> TokenId {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&self.0[1..1 + ID_LEN]);
        TokenId(id)
    }

    #[inline]
    fn checked(&self) -> &[u8; CHECKED_LEN] {
        self.0[..CHECKED_LEN]
            .try_into()
            .unwrap_or_else(|_| unreachable!("CHECKED_LEN < PAYLOAD_LEN"))
    }
}

/// A plaintext token, as handed to its owner once at creation or regeneration.
///
/// It is wiped from memory when dropped, and its `Debug` shows only the
/// public id. There is deliberately no `Display`: write it out with
/// [`Token::expose_secret`] where it is meant to go.
pub struct Token {
    text: [u8; MAX_TOKEN_LEN],
    len: u8,
    id: TokenId,
}

impl Token {
    /// The full token text (prefix, id and secret). Handle with care: this
    /// is the credential.
    pub fn expose_secret(&self) -> &str {
        // The text is the ASCII prefix followed by base64url.
        core::str::from_utf8(&self.text[..usize::from(self.len)])
            .unwrap_or_else(|_| unreachable!("token text is ASCII"))
    }

    /// The public id of the token.
    pub const fn id(&self) -> TokenId {
        self.id
    }
}

impl Zeroize for Token {
    fn zeroize(&mut self) {
        self.text.zeroize();
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Token {}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A presented token that passed the format checks; its secret is kept only
/// to compute the verifier, and wiped on drop.
// It holds exactly the 32 bytes the verifier hashes (`id ‖ secret`, 16-aligned,
// see `verifier/block.rs`), so moving it copies the same two 16-byte halves
// the hash then loads. Any smaller field beside them would make a move copy
// a 16-byte chunk written by several smaller stores, and the load of that
// chunk would stall until they reached the cache (see `ct::lanes`).
pub struct ParsedToken {
    id_secret: IdSecret,
}

impl ParsedToken {
    /// The public id, for looking the record up.
    pub const fn id(&self) -> TokenId {
        TokenId(self.id_secret.id())
    }

    /// The verifier of this token: what a record must hold for it to be
    /// accepted. Compare it with [`Verifier::ct_eq`]; never with `==` on bytes.
    #[inline]
    pub fn verifier(&self) -> Verifier {
        Verifier::compute_from(&self.id_secret)
    }

    /// Whether a stored verifier (and, during a regeneration grace period,
    /// the previous one) accepts this token at `now`: for hosts that keep
    /// verifiers themselves. Look the verifier up by [`ParsedToken::id`] first.
    ///
    /// The comparison is constant-time; only the verdict is revealed.
    #[inline]
    pub fn is_accepted_by(
        &self,
        current: &Verifier,
        rollover: Option<&Rollover>,
        now: Timestamp,
    ) -> bool {
        ct::reveal(accepts(current, rollover, &self.verifier(), now))
    }
}

impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("id", &self.id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A presented token was rejected. Deliberately says nothing about why:
/// wrong format, bad checksum, unknown id and wrong secret look the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid token")
    }
}

impl core::error::Error for InvalidToken {}

/// The random number generator failed, so no token was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngError;

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number generator failed; no token was issued (retry, or check the OS entropy source)")
    }
}

impl core::error::Error for RngError {}

/// Generates a token in the default format from the operating system's CSPRNG.
///
/// # Errors
/// [`RngError`] when the OS generator fails.
#[cfg(feature = "std")]
pub fn generate() -> Result<(Token, Verifier), RngError> {
    TokenFormat::DEFAULT.generate(&mut getrandom::SysRng)
}

/// Parses a token in the default format; see [`TokenFormat::parse`].
///
/// # Errors
/// [`InvalidToken`] for anything that is not a well-formed token.
#[inline]
pub fn parse(text: &[u8]) -> Result<ParsedToken, InvalidToken> {
    TokenFormat::DEFAULT.parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn hex_digits_are_what_display_writes() {
        let id = TokenId::from_bytes(*b"\x00\x11\x22\x33\x44\x55\xa6\xff");
        assert_eq!(&id.to_hex_digits(), b"001122334455a6ff");
        assert_eq!(id.to_string().as_bytes(), &id.to_hex_digits());
    }

    /// Hands out a fixed byte sequence: the worked example of docs/FORMAT.md.
    struct Counting(u8);

    impl rand_core::TryRng for Counting {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            unreachable!("the generator only fills bytes")
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            unreachable!("the generator only fills bytes")
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            // First call: the id 01..08; second call: the secret 10..27.
            let start = if self.0 == 0 { 1 } else { 0x10 };
            for (i, b) in dst.iter_mut().enumerate() {
                *b = start + i as u8;
            }
            self.0 += 1;
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counting {}

    #[test]
    fn worked_example_of_format_md() {
        let (token, verifier) = TokenFormat::DEFAULT.generate(&mut Counting(0)).unwrap();
        assert_eq!(
            token.expose_secret(),
            "wgat_AQECAwQFBgcIEBESExQVFhcYGRobHB0eHyAhIiMkJSYnd9WeAw"
        );
        assert_eq!(token.id().to_string(), "0102030405060708");
        let mut hex = alloc::string::String::new();
        core::fmt::write(&mut hex, format_args!("{}", verifier.to_hex())).unwrap();
        assert_eq!(
            hex,
            "8f3088104b637c2d5a3ba8d04fd564c639c56e1c606c109e6ddf16d4153047d6"
        );
        assert!(parse(token.expose_secret().as_bytes()).is_ok());
    }

    #[test]
    fn custom_prefixes() {
        assert!(TokenFormat::new("acme_").is_ok());
        assert!(TokenFormat::new("abcdefghijklm_").is_ok(), "14 characters");
        for bad in ["", "_x", "acme", "Acme_", "ac-me_", "abcdefghijklmn_"] {
            assert_eq!(TokenFormat::new(bad), Err(PrefixError), "{bad:?}");
        }
        let acme = TokenFormat::new("acme_").unwrap();
        let (token, _) = acme.generate(&mut Counting(0)).unwrap();
        assert_eq!(token.expose_secret().len(), acme.token_len());
        assert!(acme.parse(token.expose_secret().as_bytes()).is_ok());
        assert!(
            TokenFormat::DEFAULT
                .parse(token.expose_secret().as_bytes())
                .is_err()
        );
    }

    #[test]
    fn every_prefix_byte_is_checked() {
        // The shortest, the default and the longest prefix: a change in any
        // byte of the prefix is refused, and only the prefix is compared.
        for prefix in ["x_", "wgat_", "abcdefghijklm_"] {
            let format = TokenFormat::new(prefix).unwrap();
            let (token, _) = format.generate(&mut Counting(0)).unwrap();
            let text = token.expose_secret().as_bytes();
            assert!(format.parse(text).is_ok(), "{prefix}");
            for i in 0..prefix.len() {
                let mut changed = text.to_vec();
                changed[i] ^= 0x01;
                assert!(format.parse(&changed).is_err(), "{prefix}: byte {i}");
            }
        }
    }
}
