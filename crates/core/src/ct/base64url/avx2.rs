//! AVX2 decode of the token body: 50 base64url characters → 37 bytes.
//!
//! Constant time like the portable code: straight-line vector code with
//! loads and stores at fixed offsets only, so no branch and no address
//! depends on a character. The only data-dependent indices are `vpshufb`
//! lookups, which select bytes inside a register and touch no memory.
//!
//! Outline:
//! 1. Load characters 0..32 and 18..50 (two in-bounds 32-byte loads), and
//!    realign the second to start at character 32, padded with `'A'`
//!    (sextet 0) so every vector holds whole groups of four characters.
//! 2. Classify each byte by its two nibbles (`vpshufb` as a 16-entry table):
//!    an error flag, and the offset that maps its range onto `0..64`.
//! 3. Pack each group of four sextets into three bytes (a multiply-add,
//!    shifts and a byte shuffle), then gather the 37 bytes with dword
//!    permutes.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m256i, _mm_storeu_si128, _mm256_add_epi8, _mm256_alignr_epi8, _mm256_and_si256,
    _mm256_blend_epi32, _mm256_castsi256_si128, _mm256_cmpeq_epi8, _mm256_extract_epi8,
    _mm256_loadu_si256, _mm256_maddubs_epi16, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_permute2x128_si256, _mm256_permutevar8x32_epi32, _mm256_set1_epi8, _mm256_set1_epi32,
    _mm256_setr_epi8, _mm256_setr_epi32, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_slli_epi32, _mm256_srli_epi16, _mm256_srli_epi32, _mm256_storeu_si256,
};

/// Splits 32 characters into their sextets and a per-byte error vector
/// (nonzero where a byte is not in the alphabet).
///
/// Validity: a byte is valid when its low nibble is allowed for its high
/// nibble. Rows of the alphabet by high nibble, one class bit each:
///
/// | high | valid low nibbles | bit |
/// |------|-------------------|-----|
/// | 2    | D (`-`)           | 0   |
/// | 3    | 0–9               | 1   |
/// | 4, 6 | 1–F (`A`–`O`, `a`–`o`) | 2 |
/// | 5    | 0–A, F (`P`–`Z`, `_`) | 3 |
/// | 7    | 0–A (`p`–`z`)     | 4   |
/// | else | none              | 5   |
///
/// `hi_class[high]` is the row's bit, `lo_invalid[low]` has the bits of the
/// rows in which that low nibble is invalid (bit 5 always), so their AND is
/// nonzero exactly for bytes outside the alphabet, ≥ 0x80 included (their
/// high nibble is 8–F).
///
/// Value: within one row the sextet is `c + offset(high)` (`A`–`Z` −65,
/// `a`–`z` −71, digits +4, `-` +17), except `_`, which shares row 5 with
/// `P`–`Z` and needs −32: 33 more where `c == '_'`.
#[inline]
#[target_feature(enable = "avx2")]
fn classify(chars: __m256i) -> (__m256i, __m256i) {
    // `vpshufb` looks up 16-byte tables per 128-bit lane, so each table is
    // written twice.
    #[rustfmt::skip]
    let lo_invalid = _mm256_setr_epi8(
        0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
        0x21, 0x21, 0x23, 0x3b, 0x3b, 0x3a, 0x3b, 0x33,
        0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
        0x21, 0x21, 0x23, 0x3b, 0x3b, 0x3a, 0x3b, 0x33,
    );
    #[rustfmt::skip]
    let hi_class = _mm256_setr_epi8(
        0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    );
    #[rustfmt::skip]
    let hi_offset = _mm256_setr_epi8(
        0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
    );
    let nibble = _mm256_set1_epi8(0x0f);
    // Both indices are masked to 0..16: `vpshufb` would zero a byte whose
    // index has bit 7 set instead of looking it up.
    let lo = _mm256_and_si256(chars, nibble);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(chars), nibble);
    let error = _mm256_and_si256(
        _mm256_shuffle_epi8(lo_invalid, lo),
        _mm256_shuffle_epi8(hi_class, hi),
    );
    let underscore = _mm256_cmpeq_epi8(chars, _mm256_set1_epi8(b'_' as i8));
    let offset = _mm256_add_epi8(
        _mm256_shuffle_epi8(hi_offset, hi),
        _mm256_and_si256(underscore, _mm256_set1_epi8(33)),
    );
    (_mm256_add_epi8(chars, offset), error)
}

/// Packs each group of four sextets `a b c d` (bytes 4i..4i+4) into the three
/// bytes it encodes, at bytes 0..12 of each 128-bit lane (the rest zero).
#[inline]
#[target_feature(enable = "avx2")]
fn pack(sextets: __m256i) -> __m256i {
    // `vpmaddubsw`: each 16-bit half is `first * 64 + second`, i.e. `a<<6 | b`
    // and `c<<6 | d` (at most 255 * 65 even for garbage, so it never
    // saturates).
    let pairs = _mm256_maddubs_epi16(sextets, _mm256_set1_epi32(0x0140_0140));
    // Each dword is now `(c<<6 | d) << 16 | (a<<6 | b)`. Shifting it up by
    // 12 puts `a<<6 | b` at bits 12..24 (and the low bits of `c<<6 | d` at
    // 28..32, in byte 3, which is dropped below); or-ing in `c<<6 | d` at
    // bits 0..12 gives the 24 bits `a b c d` with `a` on top, so the three
    // output bytes are bytes 2, 1, 0 of each dword. (Shifts rather than
    // `vpmaddwd`: valgrind computes that one in 64-bit helpers, so a secret
    // group would taint its public neighbour in the constant-time check.)
    let words = _mm256_or_si256(
        _mm256_slli_epi32::<12>(pairs),
        _mm256_srli_epi32::<16>(pairs),
    );
    #[rustfmt::skip]
    let big_endian = _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
    );
    _mm256_shuffle_epi8(words, big_endian)
}

/// The kernel. Writes all 37 bytes of `out` (garbage where the mask is
/// nonzero) and returns the mask: zero exactly when the portable decode's
/// is (every character in the alphabet, the last one canonical).
#[target_feature(enable = "avx2")]
pub(in crate::ct) fn decode(chars: &[u8; 50], out: &mut [u8; 37]) -> u8 {
    // SAFETY: `chars` has 50 bytes, so bytes 0..32 and 18..50 are in bounds;
    // `loadu` has no alignment requirement.
    let (head, tail) = unsafe {
        (
            _mm256_loadu_si256(chars.as_ptr().cast()),
            _mm256_loadu_si256(chars.as_ptr().add(18).cast()),
        )
    };
    // Characters 32..50 are bytes 14..32 of `tail`. `vpalignr` shifts within
    // lanes, so pair each lane with the next one (the last with zeros):
    // lane 0 becomes bytes 14..30, lane 1 bytes 30..32 then zeros.
    let next_lane = _mm256_permute2x128_si256::<0x81>(tail, tail);
    let tail = _mm256_alignr_epi8::<14>(next_lane, tail);
    // Pad the last group (characters 48, 49) and the empty ones after it
    // with 'A': valid, sextet 0, so they add no error and no bits.
    #[rustfmt::skip]
    let pad = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    );
    let tail = _mm256_or_si256(tail, pad);

    let (head_sextets, head_error) = classify(head);
    let (tail_sextets, tail_error) = classify(tail);
    let error = _mm256_or_si256(head_error, tail_error);
    // One bit per byte that is zero (valid); any clear bit is an error.
    let valid = _mm256_movemask_epi8(_mm256_cmpeq_epi8(error, _mm256_setzero_si256())) as u32;
    let invalid = !valid;
    // 1 when `invalid` is nonzero, without a comparison.
    let not_in_alphabet = ((invalid | invalid.wrapping_neg()) >> 31) as u8;

    // `head`: 8 groups → bytes 0..24 (dwords 0-2 of each lane).
    // `tail`: 4 groups → bytes 24..36 (lane 0, dwords 0-2); then the group
    // `c48 c49 A A` (lane 1, dword 4) → byte 36, and a check byte holding
    // the low four bits of c49 on top, which must be zero (canonical).
    let head_bytes = _mm256_permutevar8x32_epi32(
        pack(head_sextets),
        _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7),
    );
    // Dwords 2 and 4 (bytes 32..36, then 36 and the check byte) to the
    // bottom; dwords 0 and 1 (bytes 24..32) to the top, to fill `head_bytes`.
    let tail_bytes = _mm256_permutevar8x32_epi32(
        pack(tail_sextets),
        _mm256_setr_epi32(2, 4, 3, 3, 3, 3, 0, 1),
    );
    let non_canonical = _mm256_extract_epi8::<5>(tail_bytes) as u8;
    // Bytes 0..32: `head_bytes` with bytes 24..32 from `tail_bytes` on top.
    let first = _mm256_blend_epi32::<0b1100_0000>(head_bytes, tail_bytes);
    // Bytes 5..37: `first` shifted down 5 bytes, `tail_bytes` shifted in
    // (`vpalignr` again, each lane paired with the one above it).
    let above = _mm256_permute2x128_si256::<0x21>(first, tail_bytes);
    let last = _mm256_alignr_epi8::<5>(above, first);
    // Two overlapping stores, bytes 5..37 then 0..16, rather than 0..32 and
    // a 5-byte tail: every copy of a `[u8; 37]` the compiler makes next
    // loads 0..16, 16..32 and 29..37, each inside the latest store to those
    // bytes, so each is forwarded from the store buffer. A load that spans
    // two stores waits for both to reach the cache (docs/BENCHMARKS.md has
    // the figures).
    // SAFETY: `out` has 37 bytes, so bytes 5..37 and 0..16 are in bounds;
    // `storeu` has no alignment requirement.
    unsafe {
        _mm256_storeu_si256(out.as_mut_ptr().add(5).cast(), last);
        _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(first));
    }
    not_in_alphabet | non_canonical
}

#[cfg(test)]
mod tests {
    use super::super::{decode_portable, encode};
    use crate::ct::platform::for_each_simd_platform;
    use proptest::prelude::*;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// The kernel's bytes and mask, or `None` without AVX2.
    fn kernel(chars: &[u8; 50]) -> Option<([u8; 37], u8)> {
        let mut result = None;
        for_each_simd_platform("base64url", |platform| {
            // Not zero, so a byte the kernel forgets to write shows.
            let mut out = [0xa5u8; 37];
            let mask = platform.decode_body(chars, &mut out);
            result = Some((out, mask));
        });
        result
    }

    fn portable(chars: &[u8; 50]) -> ([u8; 37], u8) {
        let mut out = [0u8; 37];
        let mask = decode_portable(chars, &mut out);
        (out, mask)
    }

    /// Checks the kernel against the portable decode: the same verdict, and
    /// the same bytes whenever every character is in the alphabet (canonical
    /// or not). `false` when the kernel cannot run here.
    fn agrees(chars: &[u8; 50]) -> bool {
        let Some((bytes, mask)) = kernel(chars) else {
            return false;
        };
        let (want_bytes, want_mask) = portable(chars);
        assert_eq!(
            mask == 0,
            want_mask == 0,
            "verdict for \"{}\"",
            chars.escape_ascii()
        );
        if chars.iter().all(|c| ALPHABET.contains(c)) {
            assert_eq!(bytes, want_bytes, "bytes for \"{}\"", chars.escape_ascii());
        }
        true
    }

    fn valid_body() -> [u8; 50] {
        let payload: [u8; 37] = core::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 0x5c);
        encode(&payload)
    }

    #[test]
    fn every_byte_at_every_position() {
        let body = valid_body();
        // Miri interprets each intrinsic: a few bytes per position there
        // (every class boundary and both halves of the byte range).
        let bytes: &[u8] = if cfg!(miri) {
            b"\x00\x2c\x2d\x2e\x2f\x30\x39\x3a\x40\x41\x5a\x5b\x5e\x5f\x60\x61\x7a\x7b\x7f\x80\xad\xc1\xff"
        } else {
            &core::array::from_fn::<u8, 256, _>(|b| b as u8)
        };
        for pos in 0..50 {
            for &b in bytes {
                let mut chars = body;
                chars[pos] = b;
                if !agrees(&chars) {
                    return;
                }
            }
        }
    }

    #[test]
    fn canonical_tail_rule() {
        let mut chars = valid_body();
        for (sextet, &c) in ALPHABET.iter().enumerate() {
            chars[49] = c;
            let Some((_, mask)) = kernel(&chars) else {
                return;
            };
            // Only the top two bits of the last sextet are data.
            assert_eq!(mask == 0, sextet & 0x0f == 0, "last char {}", c as char);
            assert!(agrees(&chars));
        }
    }

    #[test]
    fn round_trips_and_flags_padding() {
        let payload = [0xffu8; 37];
        let body = encode::<37, 50>(&payload);
        if let Some((bytes, mask)) = kernel(&body) {
            assert_eq!((bytes, mask), (payload, 0));
            let mut padded = body;
            padded[49] = b'=';
            assert_ne!(kernel(&padded).map(|(_, m)| m), Some(0));
        }
    }

    fn config() -> ProptestConfig {
        // Miri interprets every instruction: keep its share small.
        ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 2048 })
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn random_valid_bodies(payload in any::<[u8; 37]>()) {
            let body = encode::<37, 50>(&payload);
            if let Some((bytes, mask)) = kernel(&body) {
                prop_assert_eq!((bytes, mask), (payload, 0));
                prop_assert!(agrees(&body));
            }
        }

        #[test]
        fn random_bytes(chars in any::<[u8; 50]>()) {
            agrees(&chars);
        }

        #[test]
        fn random_alphabet_strings(indices in any::<[u8; 50]>()) {
            // Valid characters, canonical or not: bytes must match too.
            let chars = indices.map(|i| ALPHABET[usize::from(i & 63)]);
            agrees(&chars);
        }

        #[test]
        fn valid_body_with_one_char_mutated(
            payload in any::<[u8; 37]>(),
            pos in 0usize..50,
            byte in any::<u8>(),
        ) {
            let mut chars = encode::<37, 50>(&payload);
            chars[pos] = byte;
            agrees(&chars);
        }
    }
}
