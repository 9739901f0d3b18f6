//! Copies made of whole 16-byte stores, for the verifier's SHA-256 block.
//!
//! The SHA-256 code reads its block as four 16-byte loads. A load that spans
//! several narrower stores still in flight cannot be forwarded from the
//! store buffer and waits for them to reach the cache, which costs as much
//! as the compression itself. So the bytes the block is made of are kept as
//! 16-aligned halves ([`Aligned32`]) and the block is written as exactly
//! four 16-byte stores. Pure data movement: nothing here branches on, or
//! indexes memory with, the bytes it copies.

#[cfg(target_arch = "x86_64")]
pub(super) mod sse2;

use crate::layout::CHECKED_LEN;

/// 32 bytes, 16-aligned: two 16-byte halves that each copy is made of.
#[derive(Clone)]
#[repr(C, align(16))]
pub(crate) struct Aligned32(pub(crate) [u8; 32]);

/// [`Platform::strip_version`](super::platform::Platform::strip_version)
/// with a plain copy: any target, and the reference in tests.
#[inline(always)]
pub(super) fn strip_version_portable(checked: &[u8; CHECKED_LEN]) -> Aligned32 {
    let mut out = Aligned32([0; 32]);
    out.0.copy_from_slice(&checked[1..]);
    out
}

/// [`Platform::join_block`](super::platform::Platform::join_block) with
/// plain copies: any target, and the reference in tests.
#[inline(always)]
pub(super) fn join_block_portable(
    block: &mut [u8; 64],
    head: &[u8; 16],
    middle: &Aligned32,
    tail: &[u8; 16],
) {
    block[..16].copy_from_slice(head);
    block[16..48].copy_from_slice(&middle.0);
    block[48..].copy_from_slice(tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::platform::{Platform, for_each_simd_platform};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

        #[test]
        fn every_kernel_lays_out_what_the_portable_one_does(
            checked in proptest::array::uniform::<_, CHECKED_LEN>(any::<u8>()),
            head in any::<[u8; 16]>(),
            tail in any::<[u8; 16]>(),
        ) {
            let want = strip_version_portable(&checked);
            prop_assert_eq!(&want.0[..], &checked[1..]);
            let mut want_block = [0x5au8; 64];
            join_block_portable(&mut want_block, &head, &want, &tail);
            prop_assert_eq!(&want_block[..16], &head[..]);
            prop_assert_eq!(&want_block[16..48], &checked[1..]);
            prop_assert_eq!(&want_block[48..], &tail[..]);
            let mut result = Ok(());
            for_each_simd_platform("layout", |platform| {
                let got = platform.strip_version(&checked);
                // Not the same filler as `want_block`, so a byte the kernel
                // forgets to write shows.
                let mut block = [0xa5u8; 64];
                platform.join_block(&mut block, &head, &got, &tail);
                if got.0 != want.0 || block != want_block {
                    result = Err(TestCaseError::fail(std::format!("{platform:?} differs")));
                }
            });
            result?;
            // The portable platform dispatches to the portable kernels.
            prop_assert_eq!(Platform::PORTABLE.strip_version(&checked).0, want.0);
        }
    }
}
