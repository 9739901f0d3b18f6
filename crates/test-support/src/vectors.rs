//! The shared vectors in `testdata/`: where they are and what they hold.
//!
//! Each file is read whole into a [`Value`] (kept as `json`, so a test can
//! reach a section before it has a type here), then into the typed form the
//! tests use. A new top-level section of a file is one more field in the
//! struct it is read into ([`TokenVectors`], or the private
//! `HeaderCasesFile` and then one more public field of [`HeaderCorpus`]),
//! with `#[serde(default)]` if older files may lack it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use whatsgate_auth::{
    AccountId, Description, Failure, Keyring, Profile, Rollover, Scopes, Timestamp, TokenName,
    TokenRecord, Verifier,
};

/// File name of the token-format vectors in `testdata/`.
pub const TOKEN_VECTORS: &str = "token-vectors.json";

/// File name of the header corpus in `testdata/`.
pub const HEADER_CASES: &str = "header-cases.json";

/// File name of the path-guard cases in `testdata/` (read with [`load_json`]).
pub const PATH_CASES: &str = "path-cases.json";

/// The header corpus as it was when this crate was built, for binaries that
/// may run away from the checkout (the fuzz targets). Tests read the file at
/// run time with [`HeaderCorpus::load`].
pub const HEADER_CASES_EMBEDDED: &str = include_str!("../../../testdata/header-cases.json");

/// How the generated files are written again.
const REGENERATE: &str = "UPDATE_VECTORS=1 cargo test -p whatsgate-auth --test vectors";

/// The path of `name` in the repository's `testdata/` directory.
pub fn testdata(name: &str) -> PathBuf {
    // This crate sits at `crates/test-support`: two levels below the root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("{} has no grandparent", env!("CARGO_MANIFEST_DIR")));
    root.join("testdata").join(name)
}

/// Reads and parses `testdata/<name>`.
///
/// # Panics
/// When the file is missing or is not JSON (for a generated file, the
/// message says how to write it again).
pub fn load_json(name: &str) -> Value {
    let path = testdata(name);
    let hint = if [TOKEN_VECTORS, HEADER_CASES].contains(&name) {
        format!(" (regenerate: {REGENERATE})")
    } else {
        String::new()
    };
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}{hint}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}{hint}", path.display()))
}

// ---------------------------------------------------------------- tokens

/// `testdata/token-vectors.json`: valid tokens with their parts, and texts
/// that must be refused, each with the reason.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenVectors {
    /// The prefix of every valid token (`wgat_`).
    pub prefix: String,
    /// The domain tag the verifier hashes first.
    pub verifier_tag: String,
    /// Tokens every parser must accept.
    pub valid: Vec<ValidVector>,
    /// Texts every parser must refuse.
    pub invalid: Vec<InvalidVector>,
    /// The whole file, for what has no field here yet.
    #[serde(skip)]
    pub json: Value,
}

/// A valid token and its parts, as the file spells them (lower-case hex).
#[derive(Debug, Clone, Deserialize)]
pub struct ValidVector {
    /// The token's text.
    pub token: String,
    /// The public token id (8 bytes).
    pub id: String,
    /// The secret (24 bytes).
    pub secret: String,
    /// The CRC-32 of the rest of the payload (4 bytes, big-endian).
    pub checksum: String,
    /// SHA-256(verifier tag ‖ id ‖ secret) (32 bytes).
    pub verifier: String,
}

/// A text that is not a token.
#[derive(Debug, Clone, Deserialize)]
pub struct InvalidVector {
    /// The text.
    pub token: String,
    /// Why it is not a token.
    pub why: String,
}

impl TokenVectors {
    /// Reads `testdata/token-vectors.json`.
    ///
    /// # Panics
    /// When the file is missing or not in the expected shape.
    pub fn load() -> Self {
        let json = load_json(TOKEN_VECTORS);
        let mut vectors: Self = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("{TOKEN_VECTORS}: {e} (regenerate: {REGENERATE})"));
        vectors.json = json;
        vectors
    }
}

// ---------------------------------------------------------------- headers

/// `testdata/header-cases.json`: records to load into a keyring, the instant
/// to authenticate at, and header cases with the answer each must get.
#[derive(Debug, Clone)]
pub struct HeaderCorpus {
    /// The instant every case is authenticated at.
    pub now: Timestamp,
    /// The records, in file order.
    pub records: Vec<TokenRecord>,
    /// The cases, in file order.
    pub cases: Vec<HeaderCase>,
    /// The whole file, for what has no field here yet.
    pub json: Value,
}

/// One request's token headers and the answer every surface must give.
#[derive(Debug, Clone)]
pub struct HeaderCase {
    /// What the case is about; unique in the corpus.
    pub name: String,
    /// The profile to authenticate with.
    pub profile: Profile,
    /// Every header of the request, in order: the name as written, the
    /// value's raw bytes (hex in the file).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The verdict.
    pub expect: Expect,
    /// Who the request authenticates as, when [`Expect::Ok`].
    pub principal: Option<ExpectedPrincipal>,
    /// The HTTP status (200 when [`Expect::Ok`]).
    pub status: u16,
    /// The JSON body of a rejection; `None` when [`Expect::Ok`].
    pub body: Option<String>,
    /// The `WWW-Authenticate` value, when the answer has one.
    pub www_authenticate: Option<String>,
    /// The scope the route needs, checked once the token is accepted (none:
    /// the route needs only a valid token).
    pub required_scope: Option<String>,
}

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Authenticated.
    Ok,
    /// No token was presented.
    Missing,
    /// A token was presented and is not valid.
    Invalid,
    /// The token is valid but lacks [`HeaderCase::required_scope`]: 403 in
    /// both profiles.
    #[serde(rename = "insufficient_scope")]
    InsufficientScope,
}

impl Expect {
    /// The core's [`Failure`] for a rejection; `None` for [`Expect::Ok`]
    /// and [`Expect::InsufficientScope`] (authentication succeeded).
    pub fn failure(self) -> Option<Failure> {
        match self {
            Self::Ok | Self::InsufficientScope => None,
            Self::Missing => Some(Failure::Missing),
            Self::Invalid => Some(Failure::Invalid),
        }
    }
}

/// The principal a successful case authenticates as, as the file spells it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpectedPrincipal {
    /// The record's account id.
    pub account: String,
    /// The record's token id, in hex.
    pub token_id: String,
    /// The record's name.
    pub token_name: String,
    /// The record's scopes, sorted; absent for full access.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `header-cases.json` as it is written; [`HeaderCorpus::from_json`] turns it
/// into the typed form.
#[derive(Deserialize)]
struct HeaderCasesFile {
    now: u64,
    records: Vec<Value>,
    cases: Vec<CaseFile>,
}

#[derive(Deserialize)]
struct CaseFile {
    name: String,
    profile: String,
    headers: Vec<(String, String)>,
    expect: Expect,
    #[serde(default)]
    principal: Option<ExpectedPrincipal>,
    status: u16,
    body: Option<String>,
    www_authenticate: Option<String>,
    #[serde(default)]
    required_scope: Option<String>,
}

impl HeaderCorpus {
    /// Reads `testdata/header-cases.json`.
    ///
    /// # Panics
    /// When the file is missing or not in the expected shape.
    pub fn load() -> Self {
        Self::from_json(load_json(HEADER_CASES))
    }

    /// The corpus from its JSON text (e.g. [`HEADER_CASES_EMBEDDED`]).
    ///
    /// # Panics
    /// When the text is not the corpus's shape.
    pub fn from_text(text: &str) -> Self {
        let json = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{HEADER_CASES}: {e} (regenerate: {REGENERATE})"));
        Self::from_json(json)
    }

    /// The corpus from its parsed JSON.
    ///
    /// # Panics
    /// When the JSON is not the corpus's shape.
    pub fn from_json(json: Value) -> Self {
        let file: HeaderCasesFile = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("{HEADER_CASES}: {e} (regenerate: {REGENERATE})"));
        let cases = file
            .cases
            .into_iter()
            .map(|case| {
                let name = case.name;
                let profile: Profile = case
                    .profile
                    .parse()
                    .unwrap_or_else(|e| panic!("{HEADER_CASES}: {name}: {e}"));
                let headers = case
                    .headers
                    .into_iter()
                    .map(|(header, value)| {
                        let value = hex::decode(&value).unwrap_or_else(|e| {
                            panic!("{HEADER_CASES}: {name}: {header} value is not hex: {e}")
                        });
                        (header, value)
                    })
                    .collect();
                HeaderCase {
                    name,
                    profile,
                    headers,
                    expect: case.expect,
                    principal: case.principal,
                    status: case.status,
                    body: case.body,
                    www_authenticate: case.www_authenticate,
                    required_scope: case.required_scope,
                }
            })
            .collect();
        Self {
            now: Timestamp(file.now),
            records: file.records.iter().map(record_from_json).collect(),
            cases,
            json,
        }
    }

    /// A keyring holding every record of the corpus.
    ///
    /// # Panics
    /// When the keyring refuses a record (two with the same id).
    pub fn keyring(&self) -> Keyring {
        let keyring = Keyring::new();
        for record in &self.records {
            keyring
                .add(record.clone())
                .unwrap_or_else(|e| panic!("{HEADER_CASES}: record {}: {e}", record.id));
        }
        keyring
    }
}

/// A record from its stable JSON form, format 1 or 2 (the form of the
/// core's `serde` feature, read here without it so depending on this crate
/// does not switch that feature on).
///
/// # Panics
/// When `json` is not a valid record.
pub fn record_from_json(json: &Value) -> TokenRecord {
    let text = |key: &str| {
        json[key]
            .as_str()
            .unwrap_or_else(|| panic!("record {json}: {key:?} is not a string"))
    };
    let verifier = |v: &Value| {
        v.as_str()
            .and_then(Verifier::from_hex)
            .unwrap_or_else(|| panic!("record {json}: {v} is not a verifier"))
    };
    let time = |v: &Value| {
        Timestamp(
            v.as_u64()
                .unwrap_or_else(|| panic!("record {json}: {v} is not a timestamp")),
        )
    };
    let format = json["format"].as_u64();
    assert!(
        format == Some(1) || format == Some(2),
        "record {json}: not format 1 or 2"
    );
    TokenRecord {
        id: text("id")
            .parse()
            .unwrap_or_else(|_| panic!("record {json}: bad id")),
        account: AccountId::new(text("account")).unwrap_or_else(|e| panic!("record {json}: {e}")),
        name: TokenName::new(text("name")).unwrap_or_else(|e| panic!("record {json}: {e}")),
        verifier: verifier(&json["verifier"]),
        created_at: time(&json["created_at"]),
        last_used_at: json["last_used_at"].as_u64().map(Timestamp),
        rollover: json.get("rollover").map(|r| Rollover {
            verifier: verifier(&r["verifier"]),
            until: time(&r["until"]),
        }),
        scopes: json.get("scopes").map_or(Scopes::FULL, |list| {
            let names = list
                .as_array()
                .unwrap_or_else(|| panic!("record {json}: scopes is not a list"))
                .iter()
                .map(|s| s.as_str().unwrap_or_else(|| panic!("record {json}: {s}")));
            Scopes::only(names).unwrap_or_else(|e| panic!("record {json}: {e}"))
        }),
        expires_at: json.get("expires_at").map(time),
        disabled: json.get("disabled").is_some_and(|d| d == true),
        description: json.get("description").map(|d| {
            Description::new(d.as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("record {json}: description {e}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_corpus_loads_whole() {
        let corpus = HeaderCorpus::load();
        let json = &corpus.json;
        assert_eq!(corpus.now.0, json["now"].as_u64().unwrap());
        assert_eq!(
            corpus.records.len(),
            json["records"].as_array().unwrap().len()
        );
        assert_eq!(corpus.cases.len(), json["cases"].as_array().unwrap().len());
        let keyring = corpus.keyring();
        for record in &corpus.records {
            assert!(keyring.get(record.id).is_some(), "{}", record.id);
        }
        for case in &corpus.cases {
            assert_eq!(
                case.principal.is_some(),
                case.expect == Expect::Ok,
                "{}",
                case.name
            );
            assert_eq!(
                case.body.is_none(),
                case.expect == Expect::Ok,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn embedded_corpus_is_the_file() {
        let file = std::fs::read_to_string(testdata(HEADER_CASES)).unwrap();
        assert!(file == HEADER_CASES_EMBEDDED, "rebuild this crate");
    }

    #[test]
    fn every_shared_file_is_json() {
        for name in [TOKEN_VECTORS, HEADER_CASES, PATH_CASES] {
            assert!(load_json(name).is_object(), "{name}");
        }
    }

    #[test]
    fn token_vectors_load_whole() {
        let vectors = TokenVectors::load();
        assert_eq!(vectors.prefix, "wgat_");
        assert_eq!(
            vectors.verifier_tag.as_bytes(),
            whatsgate_auth::VERIFIER_TAG
        );
        assert_eq!(
            vectors.valid.len(),
            vectors.json["valid"].as_array().unwrap().len()
        );
        assert_eq!(
            vectors.invalid.len(),
            vectors.json["invalid"].as_array().unwrap().len()
        );
    }
}
