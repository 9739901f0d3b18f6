//! Constant-time building blocks.
//!
//! Everything here runs in time independent of the data it is given: no branch
//! and no table index depends on a byte of the input. The only way a verdict
//! leaves this module is [`reveal`], the single point where a secret-dependent
//! result becomes public.

pub(crate) mod base64url;
pub(crate) mod crc32;
pub(crate) mod lanes;
pub(crate) mod platform;
mod wipe;

pub(crate) use platform::Platform;
pub(crate) use wipe::wipe;

use subtle::Choice;

/// Turns a constant-time verdict into a `bool`: the one place where a result
/// computed from secret bytes becomes public (and may be branched on).
///
/// Builds with `--cfg whatsgate_ct_check` pass the verdict through a hook first,
/// so the valgrind constant-time harness can mark it as defined (declassify it):
/// every other use of secret data is then reported.
#[inline(always)]
pub(crate) fn reveal(verdict: Choice) -> bool {
    reveal_bit(verdict.unwrap_u8())
}

/// [`reveal`] for a 0 or 1 computed without a branch, where making a
/// `Choice` would cost more than the test itself: subtle's optimization
/// barrier is a stack round trip, and a byte scan pays it per byte.
#[inline(always)]
pub(crate) fn reveal_bit(bit: u8) -> bool {
    #[cfg(all(whatsgate_ct_check, feature = "std"))]
    {
        let mut byte = bit;
        declassify::run(core::slice::from_mut(&mut byte));
        byte == 1
    }
    #[cfg(not(all(whatsgate_ct_check, feature = "std")))]
    {
        bit == 1
    }
}

/// The declassification hook of the constant-time harness (only in
/// `--cfg whatsgate_ct_check` builds).
#[cfg(all(whatsgate_ct_check, feature = "std"))]
pub mod declassify {
    extern crate std;
    use std::sync::OnceLock;

    static HOOK: OnceLock<fn(&mut [u8])> = OnceLock::new();

    /// Installs the function that marks a verdict's bytes as defined.
    pub fn set_hook(hook: fn(&mut [u8])) {
        // A second call keeps the first hook: the harness installs it once.
        let _ = HOOK.set(hook);
    }

    pub(crate) fn run(bytes: &mut [u8]) {
        if let Some(hook) = HOOK.get() {
            hook(bytes);
        }
    }
}
