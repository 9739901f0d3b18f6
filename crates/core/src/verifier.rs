//! The verifier: the only thing about a token that is kept at rest.

use core::fmt;

use sha2::block_api::compress256;
use subtle::{Choice, ConstantTimeEq};

mod block;

pub(crate) use block::IdSecret;

use crate::layout::{CHECKED_LEN, ID_LEN, SECRET_LEN};
use crate::time::Timestamp;

/// Domain tag that starts the hashed message, so a verifier can never be
/// mistaken for a SHA-256 of anything else.
pub const VERIFIER_TAG: &[u8; 16] = b"wgat-v1-verifier";

const MESSAGE_LEN: usize = VERIFIER_TAG.len() + ID_LEN + SECRET_LEN;
// The whole message and its padding fit one SHA-256 block: one compression.
const _: () = assert!(MESSAGE_LEN + 1 + 8 <= 64);

const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// `SHA-256(VERIFIER_TAG ‖ id ‖ secret)`: what a server stores instead of the token.
///
/// It cannot be turned back into the token. Equality is only available as
/// [`ConstantTimeEq::ct_eq`], which is constant-time; there is no `PartialEq`.
#[derive(Clone, Copy)]
pub struct Verifier([u8; 32]);

impl Verifier {
    /// Computes the verifier from a token's checked payload part
    /// (`version ‖ id ‖ secret`; the version is not hashed) with a single
    /// SHA-256 compression over one pre-padded block.
    pub(crate) fn compute(checked: &[u8; CHECKED_LEN]) -> Self {
        Self::compute_from(&IdSecret::from_checked(checked))
    }

    /// [`Verifier::compute`] from the hashed bytes alone (see `ParsedToken`).
    #[inline]
    pub(crate) fn compute_from(id_secret: &IdSecret) -> Self {
        let mut block = [0u8; 64];
        block::write(&mut block, id_secret);
        let mut state = SHA256_IV;
        compress256(&mut state, core::slice::from_ref(&block));
        crate::ct::wipe(&mut block);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        Self(out)
    }

    /// Wraps 32 stored bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes to store.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Parses 64 hexadecimal digits, as [`Verifier::to_hex`] writes them.
    pub fn from_hex(text: &str) -> Option<Self> {
        crate::hex::decode(text).map(Self)
    }

    /// The stored bytes as 64 lowercase hexadecimal digits (for JSON or text
    /// columns; the verifier is not secret, but keep it out of logs).
    pub fn to_hex(&self) -> impl fmt::Display + '_ {
        crate::hex::Hex(&self.0)
    }

    /// The bytes as eight native-endian words: the width they were written
    /// with (`compute` stores one word at a time), so each load is forwarded
    /// from a single store instead of waiting for two to reach the cache.
    fn words(&self) -> [u32; 8] {
        let mut words = [0u32; 8];
        for (word, chunk) in words.iter_mut().zip(self.0.chunks_exact(4)) {
            let mut bytes = [0u8; 4];
            bytes.copy_from_slice(chunk);
            *word = u32::from_ne_bytes(bytes);
        }
        words
    }
}

impl Verifier {
    /// Compares in constant time with a verifier held as four words, each
    /// the native-endian reading of 8 of its bytes (as the keyring's index
    /// loads it): no copy of those words goes through memory first.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn ct_eq_words(&self, words: &[u64; 4]) -> Choice {
        let mine = self.words();
        let mut diff = 0u32;
        for (i, word) in words.iter().enumerate() {
            let [a, b, c, d, e, f, g, h] = word.to_ne_bytes();
            diff |= (mine[2 * i] ^ u32::from_ne_bytes([a, b, c, d]))
                | (mine[2 * i + 1] ^ u32::from_ne_bytes([e, f, g, h]));
        }
        diff.ct_eq(&0)
    }
}

impl ConstantTimeEq for Verifier {
    /// This comparison is constant-time: it reads all 32 bytes of both sides
    /// as eight words and folds their differences before one comparison.
    fn ct_eq(&self, other: &Self) -> Choice {
        let diff = self
            .words()
            .iter()
            .zip(other.words())
            .fold(0u32, |diff, (a, b)| diff | (a ^ b));
        diff.ct_eq(&0)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the secret, but there is no reason to spread it through logs.
        f.write_str("Verifier(<redacted>)")
    }
}

/// The verifier of a regenerated token's previous secret, accepted until
/// `until` (exclusive): a grace period for rolling the token out.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Rollover {
    /// Verifier of the previous secret.
    #[cfg_attr(feature = "serde", serde(with = "hex_form"))]
    pub verifier: Verifier,
    /// The previous secret is refused from this instant on.
    pub until: Timestamp,
}

/// Whether a presented verifier is accepted by a record's current verifier,
/// or by its previous one while the grace period lasts.
///
/// Constant-time in the verifiers; branches only on public facts (whether a
/// rollover exists and whether `now` is before its end).
#[inline]
pub(crate) fn accepts(
    current: &Verifier,
    rollover: Option<&Rollover>,
    presented: &Verifier,
    now: Timestamp,
) -> Choice {
    let mut accepted = current.ct_eq(presented);
    if let Some(previous) = rollover.filter(|r| now < r.until) {
        accepted |= previous.verifier.ct_eq(presented);
    }
    accepted
}

/// The serialized form of a verifier: 64 lowercase hexadecimal digits.
#[cfg(feature = "serde")]
pub(crate) mod hex_form {
    use super::Verifier;
    use alloc::string::String;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Verifier, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&v.to_hex())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Verifier, D::Error> {
        let text = String::deserialize(d)?;
        Verifier::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a verifier is 64 hexadecimal digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn single_block_compression_equals_sha256_of_the_message() {
        let id: [u8; ID_LEN] = *b"\x01\x02\x03\x04\x05\x06\x07\x08";
        let secret: [u8; SECRET_LEN] = core::array::from_fn(|i| 0xa0 ^ i as u8);
        let mut checked = [0u8; CHECKED_LEN];
        checked[0] = 0x01;
        checked[1..1 + ID_LEN].copy_from_slice(&id);
        checked[1 + ID_LEN..].copy_from_slice(&secret);
        let mut hasher = Sha256::new();
        hasher.update(VERIFIER_TAG);
        hasher.update(id);
        hasher.update(secret);
        let expected: [u8; 32] = hasher.finalize().into();
        assert_eq!(Verifier::compute(&checked).to_bytes(), expected);
    }

    #[cfg(feature = "std")]
    #[test]
    fn ct_eq_words_agrees_with_ct_eq() {
        let base = Verifier::from_bytes(core::array::from_fn(|i| i as u8));
        let words = |v: &Verifier| -> [u64; 4] {
            core::array::from_fn(|i| {
                let mut word = [0; 8];
                word.copy_from_slice(&v.0[8 * i..8 * i + 8]);
                u64::from_ne_bytes(word)
            })
        };
        assert!(bool::from(base.ct_eq_words(&words(&base))));
        for i in 0..32 {
            let mut bytes = base.0;
            bytes[i] ^= 0x01;
            assert!(
                !bool::from(base.ct_eq_words(&words(&Verifier::from_bytes(bytes)))),
                "byte {i}"
            );
        }
    }

    #[test]
    fn ct_eq_sees_a_difference_in_every_byte() {
        let base = Verifier::from_bytes([7u8; 32]);
        assert!(bool::from(base.ct_eq(&base)));
        for i in 0..32 {
            let mut bytes = [7u8; 32];
            bytes[i] ^= 0x80;
            assert!(
                !bool::from(base.ct_eq(&Verifier::from_bytes(bytes))),
                "byte {i}"
            );
        }
    }
}
