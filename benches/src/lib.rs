//! Fixtures and peers for the `whatsgate-auth` benchmarks.
//!
//! The benches themselves are in `benches/verify.rs` (criterion; run them
//! with `scripts/bench`, which prints the ratio table) and `benches/dudect.rs`
//! (constant-time test). This library holds what they share, so the peers
//! are unit-tested: each must accept its own valid key and refuse a wrong
//! one, or its timing means nothing.
//!
//! The peers:
//! - [`naive::NaiveStore`]: the same token format checked the obvious way:
//!   the tests' reference parser (table-driven base64 and CRC-32, from
//!   `whatsgate-auth-test-support`), a SipHash `HashMap`, `Sha256::digest`
//!   and `==` on the digests. What constant time costs is ours / naive.
//! - [`pak::PakStore`]: the `prefixed-api-key` crate (seam's format): split
//!   on `_`, look up the short token, SHA-256 of the long token, hex, compare.
//! - [`argon::ArgonStore`]: an API key stored as an Argon2id password hash
//!   (default parameters: 19 MiB, 2 passes), the slow pattern some
//!   frameworks use for keys.

use core::hash::BuildHasherDefault;
use std::collections::HashMap;

use rand_chacha::ChaCha20Rng;
use whatsgate_auth::rand_core::SeedableRng;
use whatsgate_auth::{AccountId, Keyring, Timestamp, TokenFormat, TokenName, TokenRecord};

/// Length of a token in the default format.
pub const TOKEN_LEN: usize = 55;

/// A token's text, kept inline so a list of them is one allocation.
pub type TokenText = [u8; TOKEN_LEN];

/// The instant every fixture uses.
pub const NOW: Timestamp = Timestamp(1_790_000_000);

/// A seeded CSPRNG, so every run builds the same keyrings.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A keyring of `n` records and their tokens, in a shuffled order (walking
/// the list visits the keyring in random order, while the list itself is
/// read sequentially, as a fresh request buffer would be in cache).
pub struct Fixture {
    /// The keyring.
    pub keyring: Keyring,
    /// One valid token per record, shuffled.
    pub tokens: Vec<TokenText>,
}

impl Fixture {
    /// Builds a keyring of `n` records (1M takes a few seconds).
    pub fn new(n: usize, seed: u64) -> Self {
        let mut rng = rng(seed);
        let keyring = Keyring::new();
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let account = AccountId::new(&format!("acct_{}", i % 1000))
                .unwrap_or_else(|e| panic!("account id: {e}"));
            let name =
                TokenName::new(&format!("token {i}")).unwrap_or_else(|e| panic!("name: {e}"));
            let (token, record) =
                TokenRecord::create(&TokenFormat::DEFAULT, &mut rng, account, name, NOW)
                    .unwrap_or_else(|e| panic!("issue: {e}"));
            keyring
                .add(record)
                .unwrap_or_else(|e| panic!("insert: {e}"));
            tokens.push(text(token.expose_secret()));
        }
        shuffle(&mut tokens, seed);
        Self { keyring, tokens }
    }
}

/// `n` stored records of `accounts` accounts (`acct_N`), as a store would
/// hand them to a node: 20-character names, ids and verifiers spread like
/// random ones (a seeded SplitMix64, so building a million takes no
/// hashing), in the order of their ids' seeds, so neither accounts nor ids
/// come sorted.
///
/// # Panics
/// Never for `accounts` ≥ 1 (the labels are valid).
pub fn bulk_records(n: usize, accounts: usize, seed: u64) -> Vec<TokenRecord> {
    let mut state = seed;
    let mut next = move || {
        // SplitMix64 (Steele, Lea, Flood 2014).
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut verifier = [0u8; 32];
    (0..n)
        .map(|i| {
            for chunk in verifier.chunks_exact_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            TokenRecord {
                id: whatsgate_auth::TokenId::from_bytes(next().to_le_bytes()),
                account: AccountId::new(&format!("acct_{}", i % accounts.max(1)))
                    .unwrap_or_else(|e| panic!("account id: {e}")),
                name: TokenName::new(&format!("bulk token {i:09}"))
                    .unwrap_or_else(|e| panic!("name: {e}")),
                verifier: whatsgate_auth::Verifier::from_bytes(verifier),
                created_at: NOW,
                last_used_at: None,
                rollover: None,
                scopes: whatsgate_auth::Scopes::FULL,
                expires_at: None,
                disabled: false,
                description: None,
            }
        })
        .collect()
}

/// A token's text as a [`TokenText`].
///
/// # Panics
/// When `token` is not 55 bytes long (not the default format).
pub fn text(token: &str) -> TokenText {
    token
        .as_bytes()
        .try_into()
        .unwrap_or_else(|_| panic!("a default-format token is {TOKEN_LEN} bytes"))
}

/// `bytes` of memory as one random cycle through its 64-byte lines: each
/// line's first word is the index of the next line's, so following it
/// costs one dependent load per step, which the prefetchers cannot guess.
pub fn pointer_chain(bytes: usize, seed: u64) -> Vec<usize> {
    const WORDS_PER_LINE: usize = 64 / size_of::<usize>();
    let lines = bytes / 64;
    let mut order: Vec<usize> = (0..lines).collect();
    shuffle(&mut order, seed);
    let mut chain = vec![0; lines * WORDS_PER_LINE];
    for (i, &line) in order.iter().enumerate() {
        chain[line * WORDS_PER_LINE] = order[(i + 1) % lines] * WORDS_PER_LINE;
    }
    chain
}

/// Fisher–Yates with a SplitMix64 stream: deterministic, good enough to
/// defeat the prefetcher.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = (z % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// A token with the same id as `token` and another secret, with a valid
/// checksum: it passes parsing and fails only the verifier comparison.
pub fn wrong_secret(token: &TokenText, seed: u64) -> TokenText {
    let parsed =
        whatsgate_auth::host_records::parse(token).unwrap_or_else(|_| panic!("a valid token"));
    let (other, _) = TokenFormat::DEFAULT
        .generate_for(parsed.id(), &mut rng(seed))
        .unwrap_or_else(|e| panic!("generate: {e}"));
    text(other.expose_secret())
}

/// A token with the same id as `token` whose secret differs in one byte
/// (`index` in `0..24`, flipped by the non-zero `xor`), with a valid
/// checksum: the dudect inputs (first byte vs last byte).
///
/// # Panics
/// When `token` is not a valid default-format token, `index >= 24` or `xor == 0`.
pub fn secret_byte_changed(token: &TokenText, index: usize, xor: u8) -> TokenText {
    use base64::Engine as _;
    assert!(index < 24 && xor != 0);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload = [0u8; 38];
    let len = engine
        .decode_slice(&token[5..], &mut payload)
        .unwrap_or_else(|e| panic!("a valid token: {e}"));
    assert_eq!(len, 37);
    payload[9 + index] ^= xor;
    let crc = crc32fast::hash(&payload[..33]);
    payload[33..37].copy_from_slice(&crc.to_be_bytes());
    let mut out = *token;
    let written = engine
        .encode_slice(&payload[..37], &mut out[5..])
        .unwrap_or_else(|e| panic!("encode: {e}"));
    assert_eq!(written, 50);
    out
}

/// The same token format, verified without any care for timing.
pub mod naive {
    use super::{HashMap, TokenText};
    use sha2::{Digest, Sha256};
    use whatsgate_auth::VERIFIER_TAG;
    use whatsgate_auth_test_support::reference_parse;

    /// Id → SHA-256(tag ‖ id ‖ secret), in a std `HashMap` (SipHash).
    #[derive(Default)]
    pub struct NaiveStore {
        verifiers: HashMap<[u8; 8], [u8; 32]>,
    }

    /// The format read the obvious way: the reference parser the fuzz
    /// targets check the core against (no allocation, inlinable).
    fn decode(token: &[u8]) -> Option<([u8; 8], [u8; 24])> {
        reference_parse("wgat_", token).map(|t| (t.id, t.secret))
    }

    fn verifier(id: &[u8; 8], secret: &[u8; 24]) -> [u8; 32] {
        Sha256::new()
            .chain_update(VERIFIER_TAG)
            .chain_update(id)
            .chain_update(secret)
            .finalize()
            .into()
    }

    impl NaiveStore {
        /// Stores a token's verifier.
        pub fn insert(&mut self, token: &TokenText) {
            let (id, secret) = decode(token).unwrap_or_else(|| panic!("a valid token"));
            self.verifiers.insert(id, verifier(&id, &secret));
        }

        /// Decodes, looks up, hashes and compares with `==`: not constant-time.
        pub fn verify(&self, token: &[u8]) -> bool {
            let Some((id, secret)) = decode(token) else {
                return false;
            };
            self.verifiers
                .get(&id)
                .is_some_and(|stored| *stored == verifier(&id, &secret))
        }
    }
}

/// The `prefixed-api-key` crate, with its default (seam) settings.
pub mod pak {
    use super::HashMap;
    use prefixed_api_key::rand::rngs::OsRng;
    use prefixed_api_key::sha2::Sha256;
    use prefixed_api_key::{PrefixedApiKey, PrefixedApiKeyController};

    /// Short token → hex SHA-256 of the long token.
    pub struct PakStore {
        controller: PrefixedApiKeyController<OsRng, Sha256>,
        hashes: HashMap<String, String>,
    }

    impl Default for PakStore {
        fn default() -> Self {
            let controller = PrefixedApiKeyController::configure()
                .prefix("wgat".to_owned())
                .seam_defaults()
                .finalize()
                .unwrap_or_else(|e| panic!("prefixed-api-key controller: {e:?}"));
            Self {
                controller,
                hashes: HashMap::new(),
            }
        }
    }

    impl PakStore {
        /// Issues a key, stores its hash, returns the key's text.
        pub fn issue(&mut self) -> String {
            let (key, hash) = self.controller.generate_key_and_hash();
            self.hashes.insert(key.short_token().to_owned(), hash);
            key.to_string()
        }

        /// Parses, looks up by short token, hashes and compares (the crate's
        /// `check_hash`, which compares in constant time).
        pub fn verify(&self, key: &str) -> bool {
            let Ok(key) = PrefixedApiKey::from_string(key) else {
                return false;
            };
            self.hashes
                .get(key.short_token())
                .is_some_and(|hash| self.controller.check_hash(&key, hash))
        }
    }
}

/// An API key stored as an Argon2id password hash.
pub mod argon {
    use super::{HashMap, TokenText};
    use argon2::Argon2;
    use argon2::password_hash::phc::PasswordHash;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// Id → PHC string of the whole token.
    #[derive(Default)]
    pub struct ArgonStore {
        hashes: HashMap<[u8; 8], PasswordHash>,
    }

    fn id(token: &[u8]) -> Option<[u8; 8]> {
        whatsgate_auth::host_records::parse(token)
            .ok()
            .map(|p| p.id().to_bytes())
    }

    impl ArgonStore {
        /// Hashes a token with Argon2id's default parameters.
        pub fn insert(&mut self, token: &TokenText) {
            let hash = Argon2::default()
                .hash_password(token)
                .unwrap_or_else(|e| panic!("argon2: {e}"));
            let id = id(token).unwrap_or_else(|| panic!("a valid token"));
            self.hashes.insert(id, hash);
        }

        /// Looks up by id and verifies the Argon2id hash.
        pub fn verify(&self, token: &[u8]) -> bool {
            id(token)
                .and_then(|id| self.hashes.get(&id))
                .is_some_and(|hash| Argon2::default().verify_password(token, hash).is_ok())
        }
    }
}

/// A `HashMap` keyed like the core's (the id is the hash), for comparison.
pub type IdentityMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Passes a `u64` key through as its own hash (token ids are random).
#[derive(Default)]
pub struct IdentityHasher(u64);

impl core::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_tokens_verify_and_wrong_secrets_do_not() {
        let fixture = Fixture::new(50, 1);
        for token in &fixture.tokens {
            assert!(fixture.keyring.verify(token, NOW).is_ok());
            assert!(
                fixture
                    .keyring
                    .verify(&wrong_secret(token, 2), NOW)
                    .is_err()
            );
        }
    }

    #[test]
    fn pointer_chain_is_one_cycle_through_every_line() {
        // 4 KiB: 64 lines. Following the chain from line 0 must visit each
        // line once and come back only after the last: a shorter cycle would
        // let the floor run in cache and read too fast.
        let chain = pointer_chain(4096, 5);
        let mut seen = [false; 64];
        let mut at = 0;
        for step in 0..64 {
            assert_eq!(at % 8, 0, "step {step} points inside a line");
            assert!(!seen[at / 8], "line {} visited twice", at / 8);
            seen[at / 8] = true;
            at = chain[at];
        }
        assert_eq!(at, 0);
    }

    #[test]
    fn naive_peer_agrees_with_the_keyring() {
        let fixture = Fixture::new(20, 3);
        let mut naive = naive::NaiveStore::default();
        for token in &fixture.tokens[..10] {
            naive.insert(token);
        }
        for (i, token) in fixture.tokens.iter().enumerate() {
            assert_eq!(naive.verify(token), i < 10);
            assert!(!naive.verify(&wrong_secret(token, 4)));
            let mut bad = *token;
            bad[30] ^= 1;
            assert!(!naive.verify(&bad));
        }
        assert!(!naive.verify(b"garbage"));
    }

    #[test]
    fn prefixed_api_key_peer_accepts_its_keys_only() {
        let mut store = pak::PakStore::default();
        let key = store.issue();
        assert!(store.verify(&key));
        let mut wrong = key.clone().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'a' { b'b' } else { b'a' };
        assert!(!store.verify(&String::from_utf8(wrong).unwrap()));
        assert!(!store.verify("garbage"));
    }

    #[test]
    fn argon2_peer_accepts_its_keys_only() {
        let fixture = Fixture::new(1, 5);
        let mut store = argon::ArgonStore::default();
        store.insert(&fixture.tokens[0]);
        assert!(store.verify(&fixture.tokens[0]));
        assert!(!store.verify(&wrong_secret(&fixture.tokens[0], 6)));
    }

    #[test]
    fn changed_secret_bytes_parse_and_are_refused() {
        let fixture = Fixture::new(1, 7);
        let token = fixture.tokens[0];
        for index in [0, 23] {
            let changed = secret_byte_changed(&token, index, 0x80);
            assert_ne!(changed, token);
            let parsed = whatsgate_auth::host_records::parse(&changed).unwrap();
            assert_eq!(
                parsed.id(),
                whatsgate_auth::host_records::parse(&token).unwrap().id()
            );
            assert!(fixture.keyring.verify(&changed, NOW).is_err());
        }
    }

    #[test]
    fn bulk_records_load_whole_and_unique() {
        let records = super::bulk_records(10_000, 100, 3);
        assert_eq!(records[5].name.as_str().chars().count(), 20);
        let keyring = Keyring::from_records(TokenFormat::DEFAULT, records.clone()).unwrap();
        assert_eq!(keyring.len(), 10_000);
        assert_eq!(keyring.list(Some("acct_7")).len(), 100);
        // Positive control: a repeated record is caught.
        let mut twice = records;
        twice.push(twice[0].clone());
        assert!(Keyring::from_records(TokenFormat::DEFAULT, twice).is_err());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..1000).collect();
        shuffle(&mut v, 9);
        assert_ne!(v, (0..1000).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }
}
