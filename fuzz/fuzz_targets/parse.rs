//! Arbitrary bytes into the token parser, compared with a straightforward
//! reference parser (`base64` + `crc32fast`): the constant-time parser must
//! accept exactly the same texts, with the same ids, and never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsgate_auth::TokenFormat;
use whatsgate_auth_fuzz::FIXTURE;
use whatsgate_auth_test_support::reference_parse;

const CUSTOM: TokenFormat = match TokenFormat::new("acme_live_") {
    Ok(format) => format,
    Err(_) => panic!("valid prefix"),
};

fuzz_target!(|data: &[u8]| {
    for format in [TokenFormat::DEFAULT, CUSTOM] {
        let got = format.parse(data);
        let want = reference_parse(format.prefix(), data).map(|t| t.id);
        match (&got, want) {
            (Ok(parsed), Some(id)) => {
                assert_eq!(
                    parsed.id().to_bytes(),
                    id,
                    "parsed id differs from the reference"
                );
                // Computing the verifier must not panic either.
                std::hint::black_box(parsed.verifier());
            }
            (Err(_), None) => {}
            _ => panic!(
                "prefix {:?}: core accepts = {}, reference accepts = {}",
                format.prefix(),
                got.is_ok(),
                want.is_some()
            ),
        }
    }
    // The whole verification path, on a keyring of real records.
    let fixture = &*FIXTURE;
    let verified = fixture.keyring.verify(data, fixture.now);
    if let Ok(principal) = verified {
        assert_eq!(
            Some(principal.token_id().to_bytes()),
            reference_parse("wgat_", data).map(|t| t.id),
            "a verified token must be well-formed"
        );
    }
});
