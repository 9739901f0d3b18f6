//! The x86_64 kernel: CRC-32 of exactly 33 bytes with six carry-less
//! multiplications (PCLMULQDQ) and no table, branch or data-dependent address.
//!
//! # Bit order
//!
//! The CRC is reflected: bit `k` of byte `j` is message bit `m = 8j + k`, and
//! the message polynomial of `n = 264` bits gives it the coefficient of
//! `x^(n-1-m)`: the first bit is the highest power. The linear part of the
//! CRC (zero init, no xorout) is `M(x)·x^32 mod P`, returned as a `u32` whose
//! bit `b` is the coefficient of `x^(31-b)`; the affine constant is
//! [`ZERO_CRC`] (see the parent module).
//!
//! Say a 64- or 128-bit value is *anchored at `D`* when its bit `t` is the
//! coefficient of `x^(D-t)`. Carry-less multiplication adds anchors: bit `t`
//! of `a ⊗ b` collects the products `a_i·b_j` with `i + j = t`, which is the
//! coefficient of `x^(A-i + B-j) = x^((A+B)-t)`. (Intel's white paper calls the
//! consequence the "shift by one": two 64-bit values anchored at 63 give a
//! product anchored at 126, not 127.)
//!
//! # The scheme
//!
//! 1. *Fold.* Chunk `c` (bytes `8c..8c+8`, little-endian) is anchored at 63
//!    and holds `A_c(x)`, whose place in `M(x)·x^32` is `A_c(x)·x^(e_c)` with
//!    `e_c = 8·(33 - 8c - 8) + 32` (the bits after the chunk, then the CRC's
//!    `x^32`): 232, 168, 104, 40. Multiplying by `K_c = x^(e_c) mod P`
//!    (degree ≤ 31) anchored at 32 gives a product of degree ≤ 94 anchored at
//!    95 that is congruent to the chunk's share. The four multiplications are
//!    independent. The last byte's share is `B(x)·x^32` (degree ≤ 39), already
//!    small: anchored at 95 it is the byte shifted into bits 56..63. XORed
//!    together: `R(x)`, degree ≤ 94, anchored at 95.
//! 2. *Reduce* (Barrett). Anchored at 95, the low 64-bit lane of `R` holds
//!    `H = ⌊R / x^32⌋` anchored at 63 and the high lane starts with
//!    `L = R mod x^32`. With `μ = ⌊x^95 / P⌋` (degree 63, anchored at 63),
//!    `q = ⌊H·μ / x^63⌋ = ⌊R / P⌋`: exact because `deg R < 32 + 63` (for
//!    `R = H·x^32 + L` and `x^95 = μ·P + r`, `R·x^63 = H·μ·P + H·r + L·x^63`,
//!    whose last two terms have degree < 95, so their quotient by `P` has
//!    degree < 63 and drops out of `⌊·/x^63⌋`). `H ⊗ μ` is anchored at 126,
//!    so `q` is exactly its low lane (anchored at 63), and `q ⊗ P` is
//!    anchored at 95, like `R`: `R mod P = R ⊕ q·P` is in bits 64..95, the
//!    CRC's own bit order.
//!
//! Only the constants depend on the length; they are computed at compile
//! time below from [`POLY`], and the tests check them and the whole kernel
//! against the reference and `crc32fast` (every single-bit message included).
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, _mm_clmulepi64_si128, _mm_extract_epi32, _mm_loadu_si128, _mm_set_epi64x,
    _mm_xor_si128,
};

use super::{POLY, ZERO_CRC};
use crate::layout::CHECKED_LEN;

// The chunk layout and the exponents below are for this length only.
const _: () = assert!(CHECKED_LEN == 33);

/// `x^e mod P`, reflected (bit `b` is the coefficient of `x^(31-b)`): `e`
/// multiplications by `x`, each a CRC step over a zero bit.
const fn x_pow_mod_p(e: u32) -> u32 {
    let mut r = 1u32 << 31; // x^0
    let mut i = 0;
    while i < e {
        r = (r >> 1) ^ (POLY & (r & 1).wrapping_neg());
        i += 1;
    }
    r
}

/// The fold constant of chunk `c`: `x^(e_c) mod P` anchored at 32.
const fn fold_constant(c: u32) -> u64 {
    let e = 8 * (CHECKED_LEN as u32 - 8 * c - 8) + 32;
    (x_pow_mod_p(e) as u64) << 1
}

/// `P` with its `x^32` term, anchored at 32 (33 bits).
const P_ANCHORED: u64 = ((POLY as u64) << 1) | 1;

/// `μ = ⌊x^95 / P⌋` (degree 63) anchored at 63: long division in the
/// unreflected order (bit `d` ↔ `x^d`), then reversed.
const MU: u64 = {
    let p = (1u128 << 32) | POLY.reverse_bits() as u128;
    let mut rem = 1u128 << 95;
    let mut quotient = 0u64;
    let mut d = 95;
    while d >= 32 {
        if (rem >> d) & 1 == 1 {
            quotient |= 1 << (d - 32);
            rem ^= p << (d - 32);
        }
        d -= 1;
    }
    quotient.reverse_bits()
};

const K: [u64; 4] = [
    fold_constant(0),
    fold_constant(1),
    fold_constant(2),
    fold_constant(3),
];

/// The kernel; see the module docs for the math. Constant-time: every
/// instruction is data-independent (PCLMULQDQ included), and the loads read
/// fixed offsets of `message`, never past its 33 bytes.
#[target_feature(enable = "pclmulqdq,sse4.1")]
pub(in crate::ct) fn checksum(message: &[u8; CHECKED_LEN]) -> u32 {
    let at = |offset: usize| message[offset..].as_ptr();
    // SAFETY: bytes 0..16 and 16..32 of the 33-byte array are in bounds;
    // `loadu` has no alignment requirement.
    let (chunks01, chunks23) = unsafe {
        (
            _mm_loadu_si128(at(0).cast::<__m128i>()),
            _mm_loadu_si128(at(16).cast::<__m128i>()),
        )
    };
    // The last byte in bits 56..63 (its share, anchored at 95), and the
    // affine constant in bits 64..95, where it passes through the reduction
    // untouched (it adds nothing to `H`) and lands on the result.
    let tail = _mm_set_epi64x(i64::from(ZERO_CRC), i64::from(message[32]) << 56);
    let k01 = _mm_set_epi64x(K[1] as i64, K[0] as i64);
    let k23 = _mm_set_epi64x(K[3] as i64, K[2] as i64);

    // Four independent folds; R = their sum and the tail.
    let p0 = _mm_clmulepi64_si128::<0x00>(chunks01, k01);
    let p1 = _mm_clmulepi64_si128::<0x11>(chunks01, k01);
    let p2 = _mm_clmulepi64_si128::<0x00>(chunks23, k23);
    let p3 = _mm_clmulepi64_si128::<0x11>(chunks23, k23);
    let r = _mm_xor_si128(
        _mm_xor_si128(p0, p1),
        _mm_xor_si128(_mm_xor_si128(p2, p3), tail),
    );

    let barrett = _mm_set_epi64x(P_ANCHORED as i64, MU as i64);
    // q = ⌊H·μ / x^63⌋: the low lane of H ⊗ μ (H is the low lane of R).
    let q = _mm_clmulepi64_si128::<0x00>(r, barrett);
    // q ⊗ P, anchored at 95; only bits 64..95 are used.
    let qp = _mm_clmulepi64_si128::<0x10>(q, barrett);
    _mm_extract_epi32::<2>(_mm_xor_si128(r, qp)) as u32
}

/// A software model of [`checksum`] (the same steps with a carry-less
/// multiply in plain integer code), to check the math where the
/// instruction is missing.
#[cfg(test)]
pub(super) fn model(message: &[u8; CHECKED_LEN]) -> u32 {
    fn clmul(a: u64, b: u64) -> u128 {
        (0..64).fold(0, |acc, i| {
            acc ^ ((u128::from(a) << i) * u128::from((b >> i) & 1))
        })
    }
    let le64 = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&message[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let mut r = u128::from(ZERO_CRC) << 64 | u128::from(message[32]) << 56;
    for (c, k) in K.iter().enumerate() {
        r ^= clmul(le64(8 * c), *k);
    }
    let q = clmul(r as u64, MU) as u64;
    ((r ^ clmul(q, P_ANCHORED)) >> 64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_what_the_math_says() {
        // P' as published for the reflected CRC-32 (Intel's white paper).
        assert_eq!(P_ANCHORED, 0x1_DB71_0641);
        // x^32 mod P is P without its x^32 term.
        assert_eq!(x_pow_mod_p(32), POLY);
        // x^e mod P for e < 32 is x^e itself.
        assert_eq!(x_pow_mod_p(5), 1 << (31 - 5));
        // x^95 = μ·P + r with deg r < 32: check by multiplying back, in the
        // unreflected order.
        let mu = u128::from(MU.reverse_bits());
        let p = (1u128 << 32) | u128::from(POLY.reverse_bits());
        let product = (0..64).fold(0u128, |acc, i| acc ^ ((p << i) * ((mu >> i) & 1)));
        assert_eq!((product ^ (1u128 << 95)) >> 32, 0);
        assert_eq!(MU & 1, 1, "μ has degree 63");
    }
}
