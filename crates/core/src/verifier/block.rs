//! Laying out the verifier's one SHA-256 block: `VERIFIER_TAG ‖ id ‖ secret
//! ‖ padding`, written as whole 16-byte stores so the hash's 16-byte loads
//! are forwarded from the store buffer (see `ct::lanes`).

use super::{MESSAGE_LEN, VERIFIER_TAG};
use crate::ct::Platform;
use crate::ct::lanes::Aligned32;
use crate::layout::{CHECKED_LEN, ID_LEN, SECRET_LEN};

/// The padding of the one-block message: the `0x80` marker after the
/// message, zeros, and the message length in bits, big-endian.
const PADDING: [u8; 64 - MESSAGE_LEN] = {
    let mut pad = [0u8; 64 - MESSAGE_LEN];
    pad[0] = 0x80;
    let bits = ((MESSAGE_LEN as u64) * 8).to_be_bytes();
    let mut i = 0;
    while i < 8 {
        pad[pad.len() - 8 + i] = bits[i];
        i += 1;
    }
    pad
};

/// `id ‖ secret`: the 32 bytes of a token that its verifier hashes, which
/// are also bytes 16..48 of the block. Kept as two aligned 16-byte halves,
/// so every copy of it (a move of a `ParsedToken`, the block) is two 16-byte
/// stores that the next 16-byte loads are forwarded from. Wiped on drop.
pub(crate) struct IdSecret(Aligned32);

impl Drop for IdSecret {
    #[inline]
    fn drop(&mut self) {
        crate::ct::wipe(&mut self.0.0);
    }
}

impl IdSecret {
    /// `id ‖ secret` from a token's checked part `version ‖ id ‖ secret`.
    #[inline(always)]
    pub(crate) fn from_checked(checked: &[u8; CHECKED_LEN]) -> Self {
        const _: () = assert!(CHECKED_LEN == 1 + 32 && ID_LEN + SECRET_LEN == 32);
        Self(Platform::baseline().strip_version(checked))
    }

    /// The token id: its first 8 bytes.
    #[inline]
    pub(crate) const fn id(&self) -> [u8; ID_LEN] {
        const _: () = assert!(ID_LEN == 8);
        let b = &self.0.0;
        [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]
    }
}

/// Writes `VERIFIER_TAG ‖ id ‖ secret ‖ padding` into `block`.
#[inline(always)]
pub(super) fn write(block: &mut [u8; 64], id_secret: &IdSecret) {
    const _: () = assert!(VERIFIER_TAG.len() == 16 && MESSAGE_LEN == 16 + 32);
    Platform::baseline().join_block(block, VERIFIER_TAG, &id_secret.0, &PADDING);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn padding_is_the_sha256_padding_of_48_bytes() {
        let mut expected = [0u8; 16];
        expected[0] = 0x80;
        expected[14] = 0x01; // 384 bits = 0x0180
        expected[15] = 0x80;
        assert_eq!(PADDING, expected);
    }

    proptest! {
        #[test]
        fn the_block_is_tag_id_secret_padding(
            checked in proptest::array::uniform::<_, CHECKED_LEN>(any::<u8>())
        ) {
            let id_secret = IdSecret::from_checked(&checked);
            prop_assert_eq!(&id_secret.0.0[..], &checked[1..]);
            prop_assert_eq!(&id_secret.id()[..], &checked[1..1 + ID_LEN]);
            let mut block = [0xa5u8; 64];
            write(&mut block, &id_secret);
            prop_assert_eq!(&block[..16], &VERIFIER_TAG[..]);
            prop_assert_eq!(&block[16..48], &checked[1..]);
            prop_assert_eq!(&block[48..], &PADDING[..]);
        }
    }
}
