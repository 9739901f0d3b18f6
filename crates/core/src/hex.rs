//! Lowercase hexadecimal for public values (ids, stored verifiers).
//! Not constant-time: never use it on a secret.

use core::fmt;

/// Decodes exactly `2 * N` hexadecimal digits (either case).
pub(crate) fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The two lowercase hexadecimal digits of a byte.
const fn digits(byte: u8) -> [u8; 2] {
    [DIGITS[(byte >> 4) as usize], DIGITS[(byte & 0x0f) as usize]]
}

/// Encodes `N` bytes as `M = 2 * N` lowercase hexadecimal digits.
pub(crate) const fn encode<const N: usize, const M: usize>(bytes: &[u8; N]) -> [u8; M] {
    const { assert!(M == 2 * N) };
    let mut out = [0u8; M];
    let mut i = 0;
    while i < N {
        let [hi, lo] = digits(bytes[i]);
        out[2 * i] = hi;
        out[2 * i + 1] = lo;
        i += 1;
    }
    out
}

/// Writes bytes as lowercase hexadecimal.
pub(crate) fn write(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|&b| {
        let pair = digits(b);
        // Two ASCII digits: always UTF-8.
        f.write_str(core::str::from_utf8(&pair).map_err(|_| fmt::Error)?)
    })
}

/// `Display` adapter for [`write()`].
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write(f, self.0)
    }
}
