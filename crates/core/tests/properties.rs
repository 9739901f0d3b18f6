//! Property tests of the format, the parser and the header profiles.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use whatsgate_auth::{AccountId, Failure, Keyring, Profile, Timestamp, TokenFormat, TokenName};

fn config() -> ProptestConfig {
    // Miri interprets every instruction: keep its share small.
    ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 512 })
}

fn token_from_seed(seed: [u8; 32]) -> String {
    let (token, _) = TokenFormat::DEFAULT
        .generate(&mut ChaCha20Rng::from_seed(seed))
        .unwrap();
    token.expose_secret().to_string()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_tokens_parse_to_their_id_and_verifier(seed in any::<[u8; 32]>()) {
        let (token, verifier) = TokenFormat::DEFAULT
            .generate(&mut ChaCha20Rng::from_seed(seed))
            .unwrap();
        let text = token.expose_secret();
        prop_assert_eq!(text.len(), 55);
        prop_assert!(text.starts_with("wgat_"));
        prop_assert!(text[5..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let parsed = whatsgate_auth::host_records::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(parsed.id(), token.id());
        prop_assert!(parsed.is_accepted_by(&verifier, None, Timestamp(0)));
    }

    #[test]
    fn changing_any_one_character_invalidates(seed in any::<[u8; 32]>(), pos in 0usize..55, byte in any::<u8>()) {
        let mut text = token_from_seed(seed).into_bytes();
        prop_assume!(text[pos] != byte);
        text[pos] = byte;
        prop_assert!(whatsgate_auth::host_records::parse(&text).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = whatsgate_auth::host_records::parse(&bytes);
        let keyring = Keyring::new();
        prop_assert!(keyring.verify(&bytes, Timestamp(0)).is_err());
        for profile in [Profile::Rest, Profile::Mcp] {
            let _ = profile.extract_value(&bytes);
            prop_assert!(keyring.authenticate(profile, [&bytes[..]], Timestamp(0)).is_err());
        }
    }

    #[test]
    fn arbitrary_token_shaped_text_is_refused(body in "[A-Za-z0-9_-]{50}") {
        // Right length and alphabet; the checksum makes a random body invalid
        // but for one chance in 2^32 (and then the id is unknown).
        let keyring = Keyring::new();
        let text = format!("wgat_{body}");
        prop_assert!(keyring.verify(text.as_bytes(), Timestamp(0)).is_err());
    }

    #[test]
    fn header_spellings_are_equivalent(
        seed in any::<[u8; 32]>(),
        lead in "[ \t]{0,4}",
        trail in "[ \t]{0,4}",
        scheme in "[bB][eE][aA][rR][eE][rR]",
        gap in " {1,8}",
    ) {
        let keyring = Keyring::new();
        let (token, _) = keyring
            .create(
                &mut ChaCha20Rng::from_seed(seed),
                AccountId::new("acct").unwrap(),
                TokenName::new("t").unwrap(),
                Timestamp(1),
            )
            .unwrap();
        let token = token.expose_secret();
        let rest = format!("{lead}{token}{trail}");
        let mcp = format!("{lead}{scheme}{gap}{token}{trail}");
        let a = keyring.authenticate(Profile::Rest, [rest.as_bytes()], Timestamp(2)).unwrap();
        let b = keyring.authenticate(Profile::Mcp, [mcp.as_bytes()], Timestamp(2)).unwrap();
        prop_assert_eq!(a, b);
        // Doubling the header always makes it invalid, whatever the spelling.
        prop_assert_eq!(
            keyring.authenticate(Profile::Mcp, [mcp.as_bytes(), mcp.as_bytes()], Timestamp(2)).unwrap_err().failure,
            Failure::Invalid
        );
    }

    #[test]
    fn whitespace_only_values_are_missing(value in "[ \t]{0,64}") {
        for profile in [Profile::Rest, Profile::Mcp] {
            prop_assert_eq!(profile.extract_value(value.as_bytes()), Err(Failure::Missing));
        }
    }
}
