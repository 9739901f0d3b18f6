//! Wiping secret bytes off the stack before their memory is reused.
#![allow(unsafe_code)]

/// Overwrites `buf` with zeros in a way the compiler may not elide.
///
/// `zeroize` writes arrays one volatile byte at a time (64 stores for a
/// SHA-256 block); one volatile store of the whole array compiles to a few
/// vector stores and is just as impossible to optimise away.
#[inline(always)]
pub(crate) fn wipe<const N: usize>(buf: &mut [u8; N]) {
    // SAFETY: `buf` is a unique reference to `N` initialised bytes, so it is
    // valid and aligned for a write of `[u8; N]`.
    unsafe { core::ptr::write_volatile(buf, [0u8; N]) };
    // Keep later code from being reordered before the wipe.
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    #[test]
    fn wipes_every_byte() {
        let mut buf = [0xa5u8; 50];
        super::wipe(&mut buf);
        assert_eq!(buf, [0u8; 50]);
    }
}
