//! Generated tokens always parse and verify, in the default and a custom
//! format, and any single-character change of one is refused (CRC-32 catches
//! every burst of up to 32 bits; the prefix and the canonical tail catch the rest).

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsgate_auth::{ConstantTimeEq, Timestamp, TokenFormat};
use whatsgate_auth_fuzz::SeqRng;
use whatsgate_auth_test_support::reference_parse;

const CUSTOM: TokenFormat = match TokenFormat::new("acme_live_") {
    Ok(format) => format,
    Err(_) => panic!("valid prefix"),
};

fuzz_target!(|input: (u64, bool, u8, u8)| {
    let (seed, custom, index, byte) = input;
    let format = if custom { CUSTOM } else { TokenFormat::DEFAULT };
    let (token, verifier) = format
        .generate(&mut SeqRng(seed))
        .unwrap_or_else(|_| panic!("SeqRng never fails"));
    let text = token.expose_secret().as_bytes();
    assert_eq!(text.len(), format.token_len());
    assert!(text.starts_with(format.prefix().as_bytes()));

    let parsed = format
        .parse(text)
        .unwrap_or_else(|_| panic!("a generated token must parse"));
    assert_eq!(parsed.id(), token.id());
    assert!(bool::from(parsed.verifier().ct_eq(&verifier)));
    assert!(parsed.is_accepted_by(&verifier, None, Timestamp(0)));
    assert_eq!(
        reference_parse(format.prefix(), text).map(|t| t.id),
        Some(token.id().to_bytes())
    );

    let mut mutated = text.to_vec();
    let i = usize::from(index) % mutated.len();
    if mutated[i] != byte {
        mutated[i] = byte;
        assert!(
            format.parse(&mutated).is_err(),
            "a token with character {i} changed was accepted"
        );
        assert_eq!(reference_parse(format.prefix(), &mutated), None);
    }
});
