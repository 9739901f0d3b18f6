//! The token format read the obvious way, from `docs/FORMAT.md`: strip the
//! prefix, decode base64url with the `base64` crate, check the version byte
//! and the CRC-32 (`crc32fast`). It branches on every byte and is not
//! constant-time: it is what the core's parser is compared against, never a
//! replacement for it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Characters after the prefix: 37 payload bytes in unpadded base64url.
const BODY_LEN: usize = 50;
/// Version byte, id, secret and checksum.
const PAYLOAD_LEN: usize = 37;
/// The part of the payload the checksum covers: version, id and secret.
const CHECKED_LEN: usize = 33;

/// What a well-formed token holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceToken {
    /// The public token id.
    pub id: [u8; 8],
    /// The secret.
    pub secret: [u8; 24],
}

/// Parses `text` as a version-1 token with `prefix`; `None` when it is not one.
///
/// Allocation-free, so the benches' naive peer can use it on its hot path.
/// `#[inline]` keeps it as it was when the peer had its own copy: the caller's
/// crate may inline it.
#[inline]
pub fn reference_parse(prefix: &str, text: &[u8]) -> Option<ReferenceToken> {
    let body = text.strip_prefix(prefix.as_bytes())?;
    if body.len() != BODY_LEN {
        return None;
    }
    // URL_SAFE_NO_PAD refuses padding and non-zero trailing bits (a
    // non-canonical last character).
    let mut payload = [0u8; PAYLOAD_LEN];
    let len = URL_SAFE_NO_PAD.decode_slice(body, &mut payload).ok()?;
    if len != PAYLOAD_LEN || payload[0] != 1 {
        return None;
    }
    let crc = u32::from_be_bytes([payload[33], payload[34], payload[35], payload[36]]);
    if crc32fast::hash(&payload[..CHECKED_LEN]) != crc {
        return None;
    }
    let mut token = ReferenceToken {
        id: [0; 8],
        secret: [0; 24],
    };
    token.id.copy_from_slice(&payload[1..9]);
    token.secret.copy_from_slice(&payload[9..CHECKED_LEN]);
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenVectors;
    use whatsgate_auth::TokenFormat;

    #[test]
    fn agrees_with_the_core_on_the_valid_vectors() {
        let vectors = TokenVectors::load();
        assert!(!vectors.valid.is_empty());
        for case in &vectors.valid {
            let text = case.token.as_bytes();
            let reference = reference_parse(&vectors.prefix, text)
                .unwrap_or_else(|| panic!("refused: {}", case.token));
            assert_eq!(hex::encode(reference.id), case.id);
            assert_eq!(hex::encode(reference.secret), case.secret);
            let parsed =
                whatsgate_auth::host_records::parse(text).expect("the core parses a valid vector");
            assert_eq!(parsed.id().to_bytes(), reference.id);
        }
    }

    #[test]
    fn agrees_with_the_core_on_the_invalid_vectors() {
        let vectors = TokenVectors::load();
        assert!(!vectors.invalid.is_empty());
        for case in &vectors.invalid {
            let text = case.token.as_bytes();
            assert_eq!(reference_parse(&vectors.prefix, text), None, "{}", case.why);
            assert!(
                whatsgate_auth::host_records::parse(text).is_err(),
                "{}",
                case.why
            );
        }
    }

    #[test]
    fn reads_the_prefix_it_is_given() {
        // The checksum does not cover the prefix: a valid body under another
        // prefix is a valid token of that prefix's format.
        let custom = TokenFormat::new("acme_live_").expect("a valid prefix");
        let vectors = TokenVectors::load();
        for case in &vectors.valid {
            let body = &case.token[vectors.prefix.len()..];
            let text = format!("{}{body}", custom.prefix());
            let reference = reference_parse(custom.prefix(), text.as_bytes());
            assert_eq!(reference.map(|t| hex::encode(t.id)), Some(case.id.clone()));
            let parsed = custom
                .parse(text.as_bytes())
                .expect("the core parses it too");
            assert_eq!(Some(parsed.id().to_bytes()), reference.map(|t| t.id));
            assert_eq!(reference_parse(&vectors.prefix, text.as_bytes()), None);
        }
    }
}
