//! The SSE2 kernels of the 16-byte-store copies (SSE2 is part of the x86_64
//! baseline). Dispatched from `ct::platform` only.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, _mm_cvtsi32_si128, _mm_load_si128, _mm_loadu_si128, _mm_or_si128, _mm_slli_si128,
    _mm_srli_si128, _mm_store_si128, _mm_storeu_si128,
};

use super::Aligned32;
use crate::layout::CHECKED_LEN;

/// Bytes 1..33 of `checked`, read as the decoder wrote them (two 16-byte
/// halves and the last byte), as two aligned 16-byte stores.
#[inline]
#[target_feature(enable = "sse2")]
pub(in crate::ct) fn strip_version(checked: &[u8; CHECKED_LEN]) -> Aligned32 {
    const _: () = assert!(CHECKED_LEN == 33);
    let mut out = Aligned32([0; 32]);
    let halves = out.0.as_mut_ptr().cast::<__m128i>();
    // SAFETY: the loads read bytes 0..16 and 16..32 of the 33-byte `checked`
    // (`loadu` needs no alignment); the stores write the two halves of
    // `out`, which is 16-aligned (`repr(align(16))`) as `store` needs.
    unsafe {
        let low = _mm_loadu_si128(checked.as_ptr().cast());
        let high = _mm_loadu_si128(checked[16..].as_ptr().cast());
        let last = _mm_cvtsi32_si128(i32::from(checked[32]));
        // Bytes 1..17 and 17..33: each half shifted down one byte, the next
        // byte shifted in on top.
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

/// `head ‖ middle ‖ tail` into `block` as four 16-byte stores.
#[inline]
#[target_feature(enable = "sse2")]
pub(in crate::ct) fn join_block(
    block: &mut [u8; 64],
    head: &[u8; 16],
    middle: &Aligned32,
    tail: &[u8; 16],
) {
    let out = block.as_mut_ptr().cast::<__m128i>();
    let halves = middle.0.as_ptr().cast::<__m128i>();
    // SAFETY: the loads read all 16 bytes of `head` and `tail` (`loadu`: any
    // alignment) and the two halves of the 16-aligned `middle`; the stores
    // write offsets 0, 16, 32 and 48 of the 64-byte block (`storeu`: any
    // alignment).
    unsafe {
        _mm_storeu_si128(out, _mm_loadu_si128(head.as_ptr().cast()));
        _mm_storeu_si128(out.add(1), _mm_load_si128(halves));
        _mm_storeu_si128(out.add(2), _mm_load_si128(halves.add(1)));
        _mm_storeu_si128(out.add(3), _mm_loadu_si128(tail.as_ptr().cast()));
    }
}
