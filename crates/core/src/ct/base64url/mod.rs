//! Base64url without padding (RFC 4648 §5) in constant time.
//!
//! Lookup tables are indexed by the data they encode, which leaks it through
//! the cache; these routines use only arithmetic on each byte. They are
//! written over fixed-size arrays so the compiler can vectorise them. The
//! token body's decode also has an AVX2 kernel (`avx2.rs`), which
//! `ct::platform` picks at run time.

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2;

/// Encodes one sextet (`0..64`) as its base64url character.
#[inline(always)]
const fn encode_sextet(sextet: u8) -> u8 {
    let s = sextet as i16;
    // Start from 'A' and add the offset of each range that `s` has passed;
    // `(k - s) >> 8` is all ones exactly when `s > k`.
    let mut offset: i16 = b'A' as i16;
    offset += ((25 - s) >> 8) & 6; // 'a' - 26 - 'A'
    offset -= ((51 - s) >> 8) & 75; // '0' - 52 - ('a' - 26)
    offset -= ((61 - s) >> 8) & 13; // '-' - 62 - ('0' - 52)
    offset += ((62 - s) >> 8) & 49; // '_' - 63 - ('-' - 62)
    (s + offset) as u8
}

/// Decodes one base64url character: its sextet in `0..64`, or `-1` when the
/// byte is not in the alphabet.
///
/// 16-bit arithmetic only (`(lo - c) & (c - hi)` is negative exactly for
/// `lo < c < hi`), so a loop of these compiles to branch-free vector code.
#[inline(always)]
const fn decode_char(c: u8) -> i16 {
    let c = c as i16;
    // Each line adds `value + 1` when `c` is in its range, so a byte in no
    // range stays at -1.
    let mut value: i16 = -1;
    value += (((b'A' as i16 - 1 - c) & (c - (b'Z' as i16 + 1))) >> 8) & (c - b'A' as i16 + 1);
    value += (((b'a' as i16 - 1 - c) & (c - (b'z' as i16 + 1))) >> 8) & (c - b'a' as i16 + 27);
    value += (((b'0' as i16 - 1 - c) & (c - (b'9' as i16 + 1))) >> 8) & (c - b'0' as i16 + 53);
    value += (((b'-' as i16 - 1 - c) & (c - (b'-' as i16 + 1))) >> 8) & 63;
    value += (((b'_' as i16 - 1 - c) & (c - (b'_' as i16 + 1))) >> 8) & 64;
    value
}

/// Encodes `N` bytes, where `N = 3k + 1`, into `M = 4k + 2` characters.
///
/// The token payload is 37 bytes (`k = 12`), so only this shape is needed.
pub(crate) fn encode<const N: usize, const M: usize>(bytes: &[u8; N]) -> [u8; M] {
    const { assert!(N % 3 == 1 && M == (N / 3) * 4 + 2) };
    let mut out = [0u8; M];
    let groups = N / 3;
    for g in 0..groups {
        let (b0, b1, b2) = (bytes[3 * g], bytes[3 * g + 1], bytes[3 * g + 2]);
        out[4 * g] = encode_sextet(b0 >> 2);
        out[4 * g + 1] = encode_sextet(((b0 & 0x03) << 4) | (b1 >> 4));
        out[4 * g + 2] = encode_sextet(((b1 & 0x0f) << 2) | (b2 >> 6));
        out[4 * g + 3] = encode_sextet(b2 & 0x3f);
    }
    let last = bytes[N - 1];
    out[M - 2] = encode_sextet(last >> 2);
    out[M - 1] = encode_sextet((last & 0x03) << 4);
    out
}

/// Decodes `M = 4k + 2` characters into `N = 3k + 1` bytes.
///
/// Returns the bytes and a mask that is zero exactly when every character is
/// in the alphabet and the encoding is canonical (the unused low four bits of
/// the last character are zero). The mask is data, not a branch: the caller
/// folds it into its verdict.
#[cfg(test)]
pub(crate) fn decode<const N: usize, const M: usize>(chars: &[u8; M]) -> ([u8; N], u8) {
    let mut out = [0u8; N];
    let malformed = decode_portable(chars, &mut out);
    (out, malformed)
}

/// The portable decode: [`decode`] on any target, into `out`.
#[inline]
pub(super) fn decode_portable<const N: usize, const M: usize>(
    chars: &[u8; M],
    out: &mut [u8; N],
) -> u8 {
    const { assert!(N % 3 == 1 && M == (N / 3) * 4 + 2) };
    let mut sextets = [0u8; M];
    let mut invalid: i16 = 0;
    for (sextet, &c) in sextets.iter_mut().zip(chars.iter()) {
        let value = decode_char(c);
        invalid |= value;
        *sextet = (value & 0x3f) as u8;
    }
    let groups = N / 3;
    for g in 0..groups {
        let s = &sextets[4 * g..4 * g + 4];
        out[3 * g] = (s[0] << 2) | (s[1] >> 4);
        out[3 * g + 1] = (s[1] << 4) | (s[2] >> 2);
        out[3 * g + 2] = (s[2] << 6) | s[3];
    }
    out[N - 1] = (sextets[M - 2] << 2) | (sextets[M - 1] >> 4);
    // Bit 15 of `invalid` is set when some character decoded to -1.
    let not_in_alphabet = ((invalid as u16) >> 15) as u8;
    let non_canonical = sextets[M - 1] & 0x0f;
    crate::ct::wipe(&mut sextets);
    not_in_alphabet | non_canonical
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn every_sextet_round_trips() {
        for (s, &c) in ALPHABET.iter().enumerate() {
            assert_eq!(encode_sextet(s as u8), c);
            assert_eq!(decode_char(c), s as i16);
        }
    }

    #[test]
    fn every_other_byte_is_rejected() {
        for c in 0..=255u8 {
            if !ALPHABET.contains(&c) {
                assert_eq!(decode_char(c), -1, "byte {c:#04x}");
            }
        }
    }

    #[test]
    fn matches_rfc4648_vector() {
        // RFC 4648 §10: BASE64("f") = "Zg==" → unpadded "Zg"; "foobar" is 6 bytes,
        // so check the 4-byte case "foob" = "Zm9vYg".
        let out: [u8; 6] = encode::<4, 6>(b"foob");
        assert_eq!(&out, b"Zm9vYg");
        let (back, bad) = decode::<4, 6>(&out);
        assert_eq!(&back, b"foob");
        assert_eq!(bad, 0);
    }

    #[test]
    fn non_canonical_tail_is_flagged() {
        // "Zh" decodes to "f" too, but with non-zero unused bits.
        let (_, bad) = decode::<1, 2>(b"Zh");
        assert_ne!(bad, 0);
        let (_, bad) = decode::<1, 2>(b"Zg");
        assert_eq!(bad, 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(if cfg!(miri) { 4 } else { 512 }))]

        /// The token shape goes through whichever kernel this CPU picks.
        #[test]
        fn token_shape_matches_portable(chars in proptest::prelude::any::<[u8; 50]>()) {
            let mut bytes = [0u8; 37];
            let mask = crate::ct::Platform::detect().decode_body(&chars, &mut bytes);
            let mut want = [0u8; 37];
            let want_mask = decode_portable(&chars, &mut want);
            proptest::prop_assert_eq!(mask == 0, want_mask == 0);
            if want_mask == 0 {
                proptest::prop_assert_eq!(bytes, want);
            }
        }
    }

    #[test]
    fn padding_and_standard_alphabet_are_flagged() {
        assert_ne!(decode::<1, 2>(b"Z=").1, 0);
        assert_ne!(decode::<4, 6>(b"Zm9+Yg").1, 0);
        assert_ne!(decode::<4, 6>(b"Zm9/Yg").1, 0);
    }
}
