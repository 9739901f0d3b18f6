//! Laying out the verifier's one SHA-256 block.
//!
//! The SHA-256 code reads the block as four 16-byte loads. If the block was
//! written with narrower stores (an 8-byte id, a 24-byte secret, a padding
//! byte), each load spans several stores in flight and cannot be forwarded
//! from the store buffer: it waits for them to reach the cache. That stall
//! measured about 20 ns, as much as the compression itself. On x86_64 the
//! block is therefore written as exactly four 16-byte stores (SSE2, part of
//! the x86_64 baseline, so there is nothing to detect), and the token's bytes
//! are read the way the decoder wrote them and the CRC kernel reads them: two
//! 16-byte halves and the last byte (see `ct::base64url::avx2`).
#![allow(unsafe_code)]

use super::{MESSAGE_LEN, VERIFIER_TAG};
use crate::token::{CHECKED_LEN, ID_LEN, SECRET_LEN};

/// The padding of the one-block message: the `0x80` marker after the
/// message, zeros, and the message length in bits, big-endian.
const PADDING: [u8; 64 - MESSAGE_LEN] = {
    let mut pad = [0u8; 64 - MESSAGE_LEN];
    pad[0] = 0x80;
    let bits = ((MESSAGE_LEN as u64) * 8).to_be_bytes();
    let mut i = 0;
    while i < 8 {
        pad[pad.len() - 8 + i] = bits[i];
        i += 1;
    }
    pad
};

/// `id ‖ secret`: the 32 bytes of a token that its verifier hashes, which
/// are also bytes 16..48 of the block. 16-aligned and exactly two 16-byte
/// halves, so every copy of it (a move of a `ParsedToken`, the block) is
/// two 16-byte stores that the next 16-byte loads are forwarded from.
/// Wiped on drop.
#[repr(C, align(16))]
pub(crate) struct IdSecret([u8; 32]);

impl Drop for IdSecret {
    #[inline]
    fn drop(&mut self) {
        crate::ct::wipe(&mut self.0);
    }
}

impl IdSecret {
    /// `id ‖ secret` from a token's checked part `version ‖ id ‖ secret`,
    /// read as the decoder wrote it: two 16-byte halves and the last byte.
    #[inline(always)]
    pub(crate) fn from_checked(checked: &[u8; CHECKED_LEN]) -> Self {
        const _: () = assert!(CHECKED_LEN == 1 + 32 && ID_LEN + SECRET_LEN == 32);
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{
                __m128i, _mm_cvtsi32_si128, _mm_loadu_si128, _mm_or_si128, _mm_slli_si128,
                _mm_srli_si128, _mm_store_si128,
            };
            let mut out = Self([0; 32]);
            let halves = out.0.as_mut_ptr().cast::<__m128i>();
            // SAFETY: the loads read bytes 0..16 and 16..32 of the 33-byte
            // `checked` (`loadu` needs no alignment); the stores write the
            // two halves of `out`, which is 16-aligned (`repr(align(16))`)
            // as `store` needs. SSE2 is always enabled on x86_64.
            unsafe {
                let low = _mm_loadu_si128(checked.as_ptr().cast());
                let high = _mm_loadu_si128(checked[16..].as_ptr().cast());
                let last = _mm_cvtsi32_si128(i32::from(checked[32]));
                // Bytes 1..17 and 17..33: each half shifted down one byte,
                // the next byte shifted in on top.
                _mm_store_si128(
                    halves,
                    _mm_or_si128(_mm_srli_si128::<1>(low), _mm_slli_si128::<15>(high)),
                );
                _mm_store_si128(
                    halves.add(1),
                    _mm_or_si128(_mm_srli_si128::<1>(high), _mm_slli_si128::<15>(last)),
                );
            }
            out
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self::from_checked_portable(checked)
    }

    /// The same with a plain copy (any target; the reference in tests).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    fn from_checked_portable(checked: &[u8; CHECKED_LEN]) -> Self {
        let mut out = Self([0; 32]);
        out.0.copy_from_slice(&checked[1..]);
        out
    }

    /// The token id: its first 8 bytes.
    #[inline]
    pub(crate) const fn id(&self) -> [u8; ID_LEN] {
        const _: () = assert!(ID_LEN == 8);
        let b = &self.0;
        [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]
    }
}

/// Writes `VERIFIER_TAG ‖ id ‖ secret ‖ padding` into `block`.
#[inline(always)]
pub(super) fn write(block: &mut [u8; 64], id_secret: &IdSecret) {
    const _: () = assert!(VERIFIER_TAG.len() == 16 && MESSAGE_LEN == 16 + 32);
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{__m128i, _mm_load_si128, _mm_loadu_si128, _mm_storeu_si128};
        let out = block.as_mut_ptr().cast::<__m128i>();
        let halves = id_secret.0.as_ptr().cast::<__m128i>();
        // SAFETY: the loads read all 16 bytes of the tag and of the padding
        // (`loadu`: any alignment) and the two halves of the 16-aligned
        // `id_secret`; the stores write offsets 0, 16, 32 and 48 of the
        // 64-byte block (`storeu`: any alignment). SSE2 is always enabled
        // on x86_64.
        unsafe {
            _mm_storeu_si128(out, _mm_loadu_si128(VERIFIER_TAG.as_ptr().cast()));
            _mm_storeu_si128(out.add(1), _mm_load_si128(halves));
            _mm_storeu_si128(out.add(2), _mm_load_si128(halves.add(1)));
            _mm_storeu_si128(out.add(3), _mm_loadu_si128(PADDING.as_ptr().cast()));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    write_portable(block, id_secret);
}

/// The same layout with plain copies (any target; the reference in tests).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn write_portable(block: &mut [u8; 64], id_secret: &IdSecret) {
    block[..16].copy_from_slice(VERIFIER_TAG);
    block[16..MESSAGE_LEN].copy_from_slice(&id_secret.0);
    block[MESSAGE_LEN..].copy_from_slice(&PADDING);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn padding_is_the_sha256_padding_of_48_bytes() {
        let mut expected = [0u8; 16];
        expected[0] = 0x80;
        expected[14] = 0x01; // 384 bits = 0x0180
        expected[15] = 0x80;
        assert_eq!(PADDING, expected);
    }

    proptest! {
        #[test]
        fn both_layouts_agree(checked in proptest::array::uniform::<_, CHECKED_LEN>(any::<u8>())) {
            let id_secret = IdSecret::from_checked(&checked);
            let plain_id_secret = IdSecret::from_checked_portable(&checked);
            prop_assert_eq!(id_secret.0, plain_id_secret.0);
            prop_assert_eq!(&id_secret.0[..], &checked[1..]);
            prop_assert_eq!(&id_secret.id()[..], &checked[1..1 + ID_LEN]);
            let (mut fast, mut plain) = ([0xa5u8; 64], [0x5au8; 64]);
            write(&mut fast, &id_secret);
            write_portable(&mut plain, &id_secret);
            prop_assert_eq!(fast, plain);
            prop_assert_eq!(&plain[16..48], &checked[1..]);
        }
    }
}
