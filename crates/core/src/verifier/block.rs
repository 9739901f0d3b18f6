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
use crate::token::{ID_LEN, SECRET_LEN};

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

/// Writes `VERIFIER_TAG ‖ id ‖ secret ‖ padding` into `block`, where `head`
/// and `last` are the token's `version ‖ id ‖ secret` (the version is not
/// hashed): its first 32 bytes and its last byte.
#[inline(always)]
pub(super) fn write(block: &mut [u8; 64], head: &[u8; 32], last: u8) {
    const _: () = assert!(VERIFIER_TAG.len() == 16 && 1 + ID_LEN + SECRET_LEN == 32 + 1);
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_cvtsi32_si128, _mm_loadu_si128, _mm_or_si128, _mm_slli_si128,
            _mm_srli_si128, _mm_storeu_si128,
        };
        let out = block.as_mut_ptr().cast::<__m128i>();
        // SAFETY: the loads read bytes 0..16 and 16..32 of the 32-byte
        // `head`, all 16 bytes of the tag and of the padding; the stores
        // write offsets 0, 16, 32 and 48 of the 64-byte block; `loadu` and
        // `storeu` need no alignment. SSE2 is always enabled on x86_64.
        unsafe {
            let low = _mm_loadu_si128(head.as_ptr().cast());
            let high = _mm_loadu_si128(head[16..].as_ptr().cast());
            let last = _mm_cvtsi32_si128(i32::from(last));
            // Bytes 1..17 and 17..33 of `version ‖ id ‖ secret`: each half
            // shifted down one byte, the next byte shifted in on top.
            let id_secret_head = _mm_or_si128(_mm_srli_si128::<1>(low), _mm_slli_si128::<15>(high));
            let secret_tail = _mm_or_si128(_mm_srli_si128::<1>(high), _mm_slli_si128::<15>(last));
            _mm_storeu_si128(out, _mm_loadu_si128(VERIFIER_TAG.as_ptr().cast()));
            _mm_storeu_si128(out.add(1), id_secret_head);
            _mm_storeu_si128(out.add(2), secret_tail);
            _mm_storeu_si128(out.add(3), _mm_loadu_si128(PADDING.as_ptr().cast()));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    write_portable(block, head, last);
}

/// The same layout with plain copies (any target; the reference in tests).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn write_portable(block: &mut [u8; 64], head: &[u8; 32], last: u8) {
    block[..16].copy_from_slice(VERIFIER_TAG);
    block[16..MESSAGE_LEN - 1].copy_from_slice(&head[1..]);
    block[MESSAGE_LEN - 1] = last;
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
        fn both_layouts_agree(head in proptest::array::uniform::<_, 32>(any::<u8>()), last: u8) {
            let (mut fast, mut plain) = ([0xa5u8; 64], [0x5au8; 64]);
            write(&mut fast, &head, last);
            write_portable(&mut plain, &head, last);
            prop_assert_eq!(fast, plain);
            prop_assert_eq!(&plain[16..47], &head[1..]);
            prop_assert_eq!(plain[47], last);
        }
    }
}
