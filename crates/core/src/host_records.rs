//! For hosts that keep token records in their own database instead of a
//! [`Keyring`](crate::Keyring): parse the presented token, look its record up
//! by the public id, and let the record decide.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use whatsgate_auth::host_records::parse;
//! use whatsgate_auth::{AccountId, OsRng, Timestamp, TokenFormat, TokenName, TokenRecord};
//!
//! let now = Timestamp::now();
//! let (token, record) = TokenRecord::create(
//!     &TokenFormat::DEFAULT,
//!     &mut OsRng,
//!     AccountId::new("acct_42")?,
//!     TokenName::new("Production API")?,
//!     now,
//! )?;
//! // ... the host stores `record` (it holds only the verifier) ...
//!
//! let parsed = parse(token.expose_secret().as_bytes())?;
//! // The host looks its record up by `parsed.id()`, then:
//! assert_eq!(parsed.id(), record.id);
//! assert!(record.accepts(&parsed, now));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The comparison inside [`TokenRecord::accepts`](crate::TokenRecord::accepts)
//! is constant-time; what the host must take care of is its own lookup, and
//! answering every failure (unknown id, wrong secret) the same way.
//! [`ParsedToken::is_accepted_by`] serves hosts that keep verifiers without
//! whole records.

pub use crate::token::{ParsedToken, parse};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenFormat;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    #[allow(deprecated)]
    fn the_old_root_names_still_work() {
        let (token, _) = TokenFormat::DEFAULT
            .generate(&mut rand_chacha::ChaCha20Rng::from_seed([7; 32]))
            .unwrap();
        let text = token.expose_secret().as_bytes();
        let old: crate::ParsedToken = crate::parse(text).unwrap();
        assert_eq!(old.id(), parse(text).unwrap().id());
        assert!(crate::parse(b"wgat_nope").is_err());
    }
}
