//! CRC-32 (ISO-HDLC, the zlib/PNG/Ethernet CRC) of the token payload, in
//! constant time.
//!
//! Table-driven CRCs index their tables with the data, which leaks it through
//! the cache, and a bit-serial loop is slow. A CRC is affine over GF(2), so
//! for a fixed-length message it is `crc(0…0) ⊕ L(message)` with `L` linear.
//! Two kernels compute it, both with constants computed at compile time and
//! only arithmetic touching the data:
//!
//! - x86_64 with PCLMULQDQ and SSE4.1 (`pclmul.rs`, picked at run time by
//!   `ct::platform`): `L` is the polynomial product `M(x)·x^32 mod P`.
//!   Four 64-bit chunks are each multiplied (carry-less) by a precomputed
//!   `x^k mod P`, the products and the last byte are XORed, and a Barrett
//!   reduction brings the sum to 32 bits: six multiplications, four of them
//!   independent.
//! - Portable ([`portable`]), everywhere else and in `--cfg whatsgate_portable`
//!   builds: `L` is written as `Σ L_j(byte_j)` with a linear map `L_j` from
//!   byte `j` to 32 bits. At run time each byte is broadcast to 32 lanes,
//!   masked with the rows of `L_j` and folded in with XOR, and each lane's
//!   parity is one bit of the CRC.

use crate::layout::CHECKED_LEN;

#[cfg(target_arch = "x86_64")]
pub(super) mod pclmul;

const POLY: u32 = 0xEDB8_8320;

/// Reference bit-serial CRC-32, used only at compile time and in tests.
const fn crc32_reference(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i] as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (POLY & (crc & 1).wrapping_neg());
            bit += 1;
        }
        i += 1;
    }
    !crc
}

/// CRC of the all-zero message: the affine constant.
const ZERO_CRC: u32 = crc32_reference(&[0; CHECKED_LEN]);

/// `LANES[w][j]` holds 8 one-byte lanes for byte position `j`: lanes `8w` to
/// `8w + 7` of 32. Bit `k` of lane `i` is set when bit `k` of byte `j` flips
/// bit `i` of the CRC.
static LANES: [[u64; CHECKED_LEN]; 4] = build_lanes();

const fn build_lanes() -> [[u64; CHECKED_LEN]; 4] {
    let mut lanes = [[0u64; CHECKED_LEN]; 4];
    let mut j = 0;
    while j < CHECKED_LEN {
        let mut k = 0;
        while k < 8 {
            let mut message = [0u8; CHECKED_LEN];
            message[j] = 1 << k;
            let column = crc32_reference(&message) ^ ZERO_CRC;
            let mut i = 0;
            while i < 32 {
                if (column >> i) & 1 == 1 {
                    lanes[i / 8][j] |= 1u64 << ((i % 8) * 8 + k);
                }
                i += 1;
            }
            k += 1;
        }
        j += 1;
    }
    lanes
}

/// The portable kernel: per-position linear masks and lane parities.
#[inline]
pub(super) fn portable(message: &[u8; CHECKED_LEN]) -> u32 {
    // Two interleaved sets of four accumulators (even and odd positions):
    // eight independent XOR chains keep the CPU's ALUs busy.
    let mut even = [0u64; 4];
    let mut odd = [0u64; 4];
    let mut j = 0;
    while j + 1 < CHECKED_LEN {
        let a = u64::from(message[j]).wrapping_mul(0x0101_0101_0101_0101);
        let b = u64::from(message[j + 1]).wrapping_mul(0x0101_0101_0101_0101);
        for w in 0..4 {
            even[w] ^= a & LANES[w][j];
            odd[w] ^= b & LANES[w][j + 1];
        }
        j += 2;
    }
    if j < CHECKED_LEN {
        let a = u64::from(message[j]).wrapping_mul(0x0101_0101_0101_0101);
        for w in 0..4 {
            even[w] ^= a & LANES[w][j];
        }
    }
    let mut crc = 0u32;
    for w in 0..4 {
        let mut x = even[w] ^ odd[w];
        // Parity of each byte lane lands in its bit 0 …
        x ^= x >> 4;
        x ^= x >> 2;
        x ^= x >> 1;
        x &= 0x0101_0101_0101_0101;
        // … and one multiply gathers the eight lane bits into the top byte.
        let byte = (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
        crc |= byte << (8 * w);
    }
    ZERO_CRC ^ crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::platform::{Platform, for_each_simd_platform};
    use proptest::prelude::*;

    /// Checks every way to compute the CRC of `message` against `crc32fast`:
    /// the dispatched function, both kernels, and the PCLMULQDQ kernel's
    /// software model.
    fn check(message: &[u8; CHECKED_LEN]) -> Result<(), TestCaseError> {
        let want = crc32fast::hash(message);
        prop_assert_eq!(
            Platform::detect().crc32(message),
            want,
            "dispatched CRC of {:02x?}",
            message
        );
        prop_assert_eq!(portable(message), want, "portable of {:02x?}", message);
        #[cfg(target_arch = "x86_64")]
        prop_assert_eq!(pclmul::model(message), want, "model of {:02x?}", message);
        let mut kernel = None;
        for_each_simd_platform("crc32", |platform| kernel = Some(platform.crc32(message)));
        if let Some(crc) = kernel {
            prop_assert_eq!(crc, want, "PCLMULQDQ kernel of {:02x?}", message);
        }
        Ok(())
    }

    fn check_all(messages: impl IntoIterator<Item = [u8; CHECKED_LEN]>) {
        for message in messages {
            if let Err(e) = check(&message) {
                panic!("{e}");
            }
        }
    }

    #[test]
    fn reference_matches_the_standard_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32_reference(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn all_zero_and_all_ones() {
        check_all([[0u8; CHECKED_LEN], [0xffu8; CHECKED_LEN]]);
    }

    #[test]
    fn every_single_bit_message() {
        check_all((0..8 * CHECKED_LEN).map(|bit| {
            let mut message = [0u8; CHECKED_LEN];
            message[bit / 8] = 1 << (bit % 8);
            message
        }));
    }

    #[test]
    fn every_single_zero_bit_message() {
        check_all((0..8 * CHECKED_LEN).map(|bit| {
            let mut message = [0xffu8; CHECKED_LEN];
            message[bit / 8] ^= 1 << (bit % 8);
            message
        }));
    }

    proptest! {
        #[test]
        fn matches_crc32fast(message in proptest::array::uniform::<_, CHECKED_LEN>(any::<u8>())) {
            check(&message)?;
        }
    }
}
