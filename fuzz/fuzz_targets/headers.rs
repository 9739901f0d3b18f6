//! Arbitrary request headers into both HTTP profiles: extraction is compared
//! with an independent model of the rules in `http.rs`, and authentication
//! against the shared corpus's keyring must agree with extraction and answer
//! with the profile's exact status, body and challenge.

#![no_main]

use libfuzzer_sys::fuzz_target;
use whatsgate_auth::{Failure, Profile};
use whatsgate_auth_fuzz::{FIXTURE, HeaderInput, model_extract_value};

fuzz_target!(|data: &[u8]| {
    let input = HeaderInput::decode(data);
    let fixture = &*FIXTURE;
    for profile in [input.profile, other(input.profile)] {
        let header = profile.header_name().as_bytes();
        let values: Vec<&[u8]> = input
            .pairs
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(header))
            .map(|(_, value)| *value)
            .collect();
        for (name, value) in &input.pairs {
            assert_eq!(
                profile.is_token_header(name),
                name.eq_ignore_ascii_case(header)
            );
            assert_eq!(
                profile.extract_value(value),
                model_extract_value(profile, value)
            );
        }
        let model = match values.as_slice() {
            [] => Err(Failure::Missing),
            [value] => model_extract_value(profile, value),
            _ => Err(Failure::Invalid),
        };
        let extracted = profile.extract_from_pairs(input.pairs.iter().copied());
        assert_eq!(extracted, model, "{profile:?}");
        assert_eq!(profile.extract(values.iter().copied()), model);

        let auth = fixture
            .keyring
            .authenticate(profile, values.iter().copied(), fixture.now);
        match (&model, &auth) {
            (Ok(token), Ok(principal)) => {
                let verified = fixture.keyring.verify(token, fixture.now);
                assert_eq!(verified.as_ref().ok(), Some(principal));
            }
            (Ok(token), Err(rejection)) => {
                assert_eq!(rejection.failure, Failure::Invalid);
                assert!(fixture.keyring.verify(token, fixture.now).is_err());
            }
            (Err(failure), Err(rejection)) => assert_eq!(rejection.failure, *failure),
            (Err(failure), Ok(_)) => {
                panic!("{profile:?}: accepted, but extraction says {failure:?}")
            }
        }
        if let Err(rejection) = auth {
            assert_eq!(rejection.profile, profile);
            let (status, missing_body, invalid_body) = match profile {
                Profile::Rest => (
                    403,
                    r#"{"message": "an Access-Token is required"}"#,
                    r#"{"message": "invalid Access-Token"}"#,
                ),
                Profile::Mcp => (
                    401,
                    r#"{"message": "a Bearer token is required"}"#,
                    r#"{"message": "invalid Bearer token"}"#,
                ),
            };
            assert_eq!(rejection.status(), status);
            let challenge = rejection.www_authenticate();
            match rejection.failure {
                Failure::Missing => {
                    assert_eq!(rejection.body(), missing_body);
                    if profile == Profile::Mcp {
                        assert_eq!(challenge, Some(r#"Bearer realm="whatsgate""#));
                    }
                }
                Failure::Invalid => {
                    assert_eq!(rejection.body(), invalid_body);
                    if profile == Profile::Mcp {
                        assert_eq!(
                            challenge,
                            Some(r#"Bearer realm="whatsgate", error="invalid_token""#)
                        );
                    }
                }
                // This keyring is never marked unavailable.
                Failure::Unavailable => panic!("an available keyring answered 503"),
            }
            if profile == Profile::Rest {
                assert_eq!(challenge, None);
            }
        }
    }
});

fn other(profile: Profile) -> Profile {
    match profile {
        Profile::Rest => Profile::Mcp,
        Profile::Mcp => Profile::Rest,
    }
}
