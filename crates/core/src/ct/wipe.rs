//! Wiping secret bytes off the stack before their memory is reused.
#![allow(unsafe_code)]

/// Overwrites `buf` with zeros in a way the compiler may not elide.
///
/// Eight bytes per volatile store, the last store overlapping the one
/// before when `N` is not a multiple of eight. (`zeroize` writes arrays one
/// volatile byte at a time: 64 stores for a SHA-256 block. One volatile
/// store of the whole array made the compiler build a zeroed copy on the
/// stack and move it with loads spanning two of its stores, which stall:
/// seen with `perf annotate` on the keyring's verify path.)
#[inline(always)]
pub(crate) fn wipe<const N: usize>(buf: &mut [u8; N]) {
    const WORD: usize = 8;
    let ptr = buf.as_mut_ptr();
    if N < WORD {
        for at in 0..N {
            // SAFETY: `at < N`: inside `buf`, a unique reference.
            unsafe { ptr.add(at).write_volatile(0) };
        }
    } else {
        let mut at = 0;
        while at < N {
            // The last word ends at `N`, overlapping the previous one if needed.
            let start = at.min(N - WORD);
            // SAFETY: `start + WORD <= N`: inside `buf`, a unique reference;
            // `[u8; 8]` has alignment 1.
            unsafe {
                ptr.add(start)
                    .cast::<[u8; WORD]>()
                    .write_volatile([0; WORD])
            };
            at += WORD;
        }
    }
    // Keep later code from being reordered before the wipe.
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::wipe;

    fn wiped<const N: usize>() -> [u8; N] {
        let mut buf = [0xa5u8; N];
        wipe(&mut buf);
        buf
    }

    #[test]
    fn wipes_every_byte_of_every_size_in_use() {
        // Shorter than a word, a multiple of it, and the sizes the core wipes.
        assert_eq!(wiped::<1>(), [0; 1]);
        assert_eq!(wiped::<5>(), [0; 5]);
        assert_eq!(wiped::<8>(), [0; 8]);
        assert_eq!(wiped::<32>(), [0; 32]);
        assert_eq!(wiped::<37>(), [0; 37]);
        assert_eq!(wiped::<50>(), [0; 50]);
        assert_eq!(wiped::<64>(), [0; 64]);
    }
}
