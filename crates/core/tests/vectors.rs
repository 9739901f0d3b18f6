//! The shared test vectors: `testdata/token-vectors.json` and
//! `testdata/header-cases.json`, read by the Rust, C and Python tests alike.
//!
//! This file is also their generator: `UPDATE_VECTORS=1 cargo test -p
//! whatsgate-auth --test vectors` rewrites them; without it, a test fails when
//! the committed files differ from what this code generates.
//!
//! Expected verdicts are written here by hand, and the known-answer tests
//! check the core against independent implementations (the `base64`, `sha2`
//! and `crc32fast` crates), so the files are not the core checking itself.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use whatsgate_auth::{
    AccountId, Description, Profile, Scope, ScopeDenial, Scopes, Timestamp, TokenFormat, TokenId,
    TokenName, TokenRecord, Verifier,
};
use whatsgate_auth_test_support::{
    HEADER_CASES, HeaderCorpus, TOKEN_VECTORS, TokenVectors, testdata,
};

const NOW: u64 = 1_790_000_000;
const PREFIX: &str = "wgat_";

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Decodes a well-formed token with the reference `base64` crate.
fn payload_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(&token[PREFIX.len()..])
        .expect("a valid token decodes")
}

/// Builds a token from a payload's first 33 bytes with a correct CRC, using
/// only reference implementations.
fn token_from_checked(checked: &[u8]) -> String {
    let mut payload = checked.to_vec();
    payload.extend_from_slice(&crc32fast::hash(checked).to_be_bytes());
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&payload))
}

fn reference_verifier(id: &[u8], secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"wgat-v1-verifier");
    h.update(id);
    h.update(secret);
    h.finalize().into()
}

// ---------------------------------------------------------------- tokens

fn token_vectors() -> Value {
    let mut rng = rng(1);
    let valid: Vec<Value> = (0..6)
        .map(|_| {
            let (token, verifier) = TokenFormat::DEFAULT.generate(&mut rng).unwrap();
            let payload = payload_of(token.expose_secret());
            json!({
                "token": token.expose_secret(),
                "id": hex::encode(&payload[1..9]),
                "secret": hex::encode(&payload[9..33]),
                "checksum": hex::encode(&payload[33..37]),
                "verifier": verifier.to_hex().to_string(),
            })
        })
        .collect();
    let t = valid[0]["token"].as_str().unwrap().to_string();
    let body = &t[PREFIX.len()..];
    let payload = payload_of(&t);
    let swap = |i: usize, c: char| {
        let mut s: Vec<char> = t.chars().collect();
        s[i] = if s[i] == c { 'B' } else { c };
        s.into_iter().collect::<String>()
    };
    let mut version2 = payload[..33].to_vec();
    version2[0] = 2;
    let mut version0 = payload[..33].to_vec();
    version0[0] = 0;
    let last = t.len() - 1;
    let non_canonical = {
        // The last character carries 2 bits of the payload in its top bits;
        // setting one of its 4 unused low bits gives another text for the
        // same bytes, which a canonical decoder must refuse.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = t.clone().into_bytes();
        let value = ALPHABET.iter().position(|&x| x == s[last]).unwrap();
        s[last] = ALPHABET[(value & 0x30) | 0x01];
        String::from_utf8(s).unwrap()
    };
    let invalid = vec![
        json!({"token": "", "why": "empty"}),
        json!({"token": PREFIX, "why": "prefix only"}),
        json!({"token": body, "why": "no prefix"}),
        json!({"token": format!("WGAT_{body}"), "why": "prefix in upper case"}),
        json!({"token": format!("wgak_{body}"), "why": "another prefix"}),
        json!({"token": format!("wgat-{body}"), "why": "prefix separator is not an underscore"}),
        json!({"token": &t[..t.len() - 1], "why": "truncated by one character"}),
        json!({"token": &t[..40], "why": "truncated to 40 characters"}),
        json!({"token": format!("{t}A"), "why": "one character too long"}),
        json!({"token": format!("{t}="), "why": "padded with ="}),
        json!({"token": format!("{t}=="), "why": "padded with =="}),
        json!({"token": swap(last - 2, 'Q'), "why": "bad checksum (a checksum character changed)"}),
        json!({"token": swap(30, 'x'), "why": "bad checksum (a secret character changed)"}),
        json!({"token": swap(10, 'x'), "why": "bad checksum (an id character changed)"}),
        json!({"token": swap(30, '+'), "why": "standard-alphabet '+' instead of '-'"}),
        json!({"token": swap(30, '/'), "why": "standard-alphabet '/' instead of '_'"}),
        json!({"token": swap(30, '.'), "why": "character outside the alphabet"}),
        json!({"token": swap(30, ' '), "why": "space inside"}),
        json!({"token": swap(30, '\0'), "why": "NUL inside"}),
        json!({"token": swap(30, '\n'), "why": "line feed inside"}),
        json!({"token": format!("{}é", &t[..t.len() - 2]), "why": "non-ASCII character (two UTF-8 bytes in place of one character)"}),
        json!({"token": non_canonical, "why": "non-canonical last character (unused bits set)"}),
        json!({"token": token_from_checked(&version2), "why": "version 2 with a correct checksum"}),
        json!({"token": token_from_checked(&version0), "why": "version 0 with a correct checksum"}),
        json!({"token": t.to_uppercase(), "why": "whole token upper-cased"}),
        json!({"token": format!(" {t}"), "why": "leading space (a bare token is not trimmed)"}),
    ];
    json!({
        "description": "whatsgate-auth token format v1 vectors (docs/FORMAT.md). Every valid token parses to its id; its verifier is SHA-256(verifier_tag || id || secret). Every invalid token is refused.",
        "regenerate": "UPDATE_VECTORS=1 cargo test -p whatsgate-auth --test vectors",
        "prefix": PREFIX,
        "verifier_tag": "wgat-v1-verifier",
        "valid": valid,
        "invalid": invalid,
    })
}

// ---------------------------------------------------------------- headers

/// A record in its stable JSON form (the same as the `serde` feature's):
/// format 1, or 2 when it has any field beyond the seed's.
fn record_json(r: &TokenRecord) -> Value {
    let mut v = json!({
        "format": if r.is_plain() { 1 } else { 2 },
        "id": r.id.to_string(),
        "account": r.account.as_str(),
        "name": r.name.as_str(),
        "verifier": r.verifier.to_hex().to_string(),
        "created_at": r.created_at.0,
        "last_used_at": r.last_used_at.map(|t| t.0),
    });
    if let Some(rollover) = &r.rollover {
        v["rollover"] =
            json!({"verifier": rollover.verifier.to_hex().to_string(), "until": rollover.until.0});
    }
    if let Some(list) = r.scopes.list() {
        v["scopes"] = json!(list.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    }
    if let Some(at) = r.expires_at {
        v["expires_at"] = json!(at.0);
    }
    if r.disabled {
        v["disabled"] = json!(true);
    }
    if let Some(d) = &r.description {
        v["description"] = json!(d.as_str());
    }
    v
}

enum Expect {
    Ok(usize),
    Missing,
    Invalid,
    /// Authenticated as the record, which lacks the scope the case needs.
    Denied(usize),
}

struct Fixture {
    records: Vec<TokenRecord>,
    /// (token, index of the record it authenticates as)
    tokens: Vec<String>,
}

/// Records and tokens: 0 = "Production API", 1 = another account, 2 =
/// regenerated with grace still running (2 old, 3 new), 4 = regenerated with
/// grace over (4 old, 5 new), 6 = token of a deleted record, 7 = right id of
/// record 0 with a wrong secret (checksum valid); then the fields beyond
/// the seed's: 8 = expired a second ago (record 4), 9 = expires a second
/// from now (5), 10 = disabled (6), 11 = scoped `messages:send` and
/// `devices:*` (7), 12 = scoped to nothing (8).
fn fixture() -> Fixture {
    let mut rng = rng(2);
    let f = TokenFormat::DEFAULT;
    let issue = |rng: &mut ChaCha20Rng, account: &str, name: &str, at: u64| {
        TokenRecord::create(
            &f,
            rng,
            AccountId::new(account).unwrap(),
            TokenName::new(name).unwrap(),
            Timestamp(at),
        )
        .unwrap()
    };
    let (t0, mut r0) = issue(&mut rng, "acct_demo", "Production API", NOW - 86_400);
    r0.last_used_at = Some(Timestamp(NOW - 60));
    let (t1, r1) = issue(&mut rng, "acct_other", "Testing", NOW - 3_600);
    let (t2_old, mut r2) = issue(&mut rng, "acct_demo", "Rolling", NOW - 7_200);
    let t2_new = r2
        .regenerate(
            &f,
            &mut rng,
            Timestamp(NOW - 60),
            Some(Timestamp(NOW + 600)),
        )
        .unwrap();
    let (t4_old, mut r4) = issue(&mut rng, "acct_demo", "Rolled", NOW - 7_200);
    let t4_new = r4
        .regenerate(&f, &mut rng, Timestamp(NOW - 600), Some(Timestamp(NOW - 1)))
        .unwrap();
    let (t6, _deleted) = issue(&mut rng, "acct_demo", "Deleted", NOW - 100);
    let (t7, _) = f.generate_for(r0.id, &mut rng).unwrap();
    let (t8, mut expired) = issue(&mut rng, "acct_demo", "Expired", NOW - 7_200);
    expired.expires_at = Some(Timestamp(NOW - 1));
    let (t9, mut expiring) = issue(&mut rng, "acct_demo", "Expiring", NOW - 7_200);
    expiring.expires_at = Some(Timestamp(NOW + 1));
    expiring.description = Some(Description::new("expires in a second").unwrap());
    let (t10, mut disabled) = issue(&mut rng, "acct_demo", "Disabled", NOW - 7_200);
    disabled.disabled = true;
    let (t11, mut scoped) = issue(&mut rng, "acct_demo", "Sender", NOW - 7_200);
    scoped.scopes = Scopes::only(["messages:send", "devices:*"]).unwrap();
    let (t12, mut scopeless) = issue(&mut rng, "acct_demo", "No scopes", NOW - 7_200);
    scopeless.scopes = Scopes::only::<[&str; 0], &str>([]).unwrap();
    let tokens = [
        &t0, &t1, &t2_old, &t2_new, &t4_old, &t4_new, &t6, &t7, &t8, &t9, &t10, &t11, &t12,
    ]
    .iter()
    .map(|t| t.expose_secret().to_string())
    .collect();
    Fixture {
        records: vec![
            r0, r1, r2, r4, expired, expiring, disabled, scoped, scopeless,
        ],
        tokens,
    }
}

fn header_cases() -> Value {
    let fx = fixture();
    let t = |i: usize| fx.tokens[i].as_bytes().to_vec();
    let cat = |parts: &[&[u8]]| parts.concat();
    let big = vec![b'a'; 64 * 1024];
    let pad = vec![b' '; 4100];
    // U+DC80 and U+D800 as UTF-8 would spell them (no valid UTF-8 does).
    const LONE_LOW: &[u8] = b"\xed\xb2\x80";
    const LONE_HIGH: &[u8] = b"\xed\xa0\x80";
    let t0 = t(0);
    let bad_checksum = {
        let mut v = t0.clone();
        let i = v.len() - 3;
        v[i] = if v[i] == b'Q' { b'R' } else { b'Q' };
        v
    };
    let rest = |h: &[u8]| vec![(&b"Access-Token"[..], h.to_vec())];
    let auth = |h: &[u8]| vec![(&b"Authorization"[..], h.to_vec())];
    type Headers = Vec<(&'static [u8], Vec<u8>)>;
    #[rustfmt::skip]
    let cases: Vec<(&str, Profile, Headers, Expect)> = vec![
        ("rest: no header", Profile::Rest, vec![], Expect::Missing),
        ("rest: valid token", Profile::Rest, rest(&t0), Expect::Ok(0)),
        ("rest: header name lower case", Profile::Rest, vec![(b"access-token", t0.clone())], Expect::Ok(0)),
        ("rest: header name upper case", Profile::Rest, vec![(b"ACCESS-TOKEN", t0.clone())], Expect::Ok(0)),
        ("rest: surrounding spaces", Profile::Rest, rest(&cat(&[b"   ", &t0, b"  "])), Expect::Ok(0)),
        ("rest: surrounding tabs", Profile::Rest, rest(&cat(&[b"\t", &t0, b"\t\t"])), Expect::Ok(0)),
        ("rest: token of another account", Profile::Rest, rest(&t(1)), Expect::Ok(1)),
        ("rest: empty value", Profile::Rest, rest(b""), Expect::Missing),
        ("rest: only spaces", Profile::Rest, rest(b"    "), Expect::Missing),
        ("rest: only tabs and spaces", Profile::Rest, rest(b"\t \t"), Expect::Missing),
        ("rest: two headers, same token", Profile::Rest, vec![(b"Access-Token", t0.clone()), (b"access-token", t0.clone())], Expect::Invalid),
        ("rest: two headers, one empty", Profile::Rest, vec![(b"Access-Token", t0.clone()), (b"Access-Token", vec![])], Expect::Invalid),
        ("rest: two empty headers", Profile::Rest, vec![(b"Access-Token", vec![]), (b"Access-Token", vec![])], Expect::Invalid),
        ("rest: token plus trailing garbage", Profile::Rest, rest(&cat(&[&t0, b"x"])), Expect::Invalid),
        ("rest: token, space, garbage", Profile::Rest, rest(&cat(&[&t0, b" x"])), Expect::Invalid),
        ("rest: NUL after token", Profile::Rest, rest(&cat(&[&t0, b"\0"])), Expect::Invalid),
        ("rest: NUL inside token", Profile::Rest, rest(&cat(&[&t0[..20], b"\0", &t0[21..]])), Expect::Invalid),
        ("rest: CR LF inside", Profile::Rest, rest(&cat(&[&t0[..20], b"\r\n", &t0[20..]])), Expect::Invalid),
        ("rest: obs-text byte after token", Profile::Rest, rest(&cat(&[&t0, b"\xff"])), Expect::Invalid),
        ("rest: UTF-8 inside token", Profile::Rest, rest(&cat(&[&t0[..20], "é".as_bytes(), &t0[22..]])), Expect::Invalid),
        ("rest: 64 KiB value", Profile::Rest, rest(&big), Expect::Invalid),
        // The limit counts the value once its surrounding whitespace is
        // stripped, as HTTP servers hand it over (http.rs module docs).
        ("rest: 4097 bytes of spaces around a token", Profile::Rest, rest(&cat(&[&vec![b' '; 4097 - t0.len()], &t0])), Expect::Ok(0)),
        ("rest: 4096 bytes of spaces around a token", Profile::Rest, rest(&cat(&[&vec![b' '; 4096 - t0.len()], &t0])), Expect::Ok(0)),
        ("rest: token then 4100 spaces", Profile::Rest, rest(&cat(&[&t0, &pad])), Expect::Ok(0)),
        ("rest: spaces and tabs past the limit on both sides", Profile::Rest, rest(&cat(&[&pad, b"\t", &t0, b"\t", &pad])), Expect::Ok(0)),
        ("rest: 5000 spaces", Profile::Rest, rest(&[b' '; 5000]), Expect::Missing),
        ("rest: 4096 bytes after stripping", Profile::Rest, rest(&cat(&[&pad, &[b'a'; 4096], &pad])), Expect::Invalid),
        ("rest: 4097 bytes after stripping", Profile::Rest, rest(&cat(&[&pad, &[b'a'; 4097], &pad])), Expect::Invalid),
        ("rest: bad checksum", Profile::Rest, rest(&bad_checksum), Expect::Invalid),
        ("rest: truncated token", Profile::Rest, rest(&t0[..t0.len() - 1]), Expect::Invalid),
        ("rest: padded token", Profile::Rest, rest(&cat(&[&t0, b"="])), Expect::Invalid),
        ("rest: prefix upper case", Profile::Rest, rest(&cat(&[b"WGAT_", &t0[5..]])), Expect::Invalid),
        ("rest: Bearer scheme in Access-Token", Profile::Rest, rest(&cat(&[b"Bearer ", &t0])), Expect::Invalid),
        ("rest: right id, wrong secret, valid checksum", Profile::Rest, rest(&t(7)), Expect::Invalid),
        ("rest: token of a deleted record", Profile::Rest, rest(&t(6)), Expect::Invalid),
        ("rest: old token during the grace period", Profile::Rest, rest(&t(2)), Expect::Ok(2)),
        ("rest: new token during the grace period", Profile::Rest, rest(&t(3)), Expect::Ok(2)),
        ("rest: old token after the grace period", Profile::Rest, rest(&t(4)), Expect::Invalid),
        ("rest: new token after the grace period", Profile::Rest, rest(&t(5)), Expect::Ok(3)),
        ("rest: only an Authorization header", Profile::Rest, auth(&cat(&[b"Bearer ", &t0])), Expect::Missing),
        ("rest: garbage", Profile::Rest, rest(b"not-a-token"), Expect::Invalid),
        // A lone surrogate's UTF-8 form (invalid UTF-8): bytes here, a str
        // holding the surrogate in Python (see `lone_surrogates`).
        ("rest: lone surrogate after token", Profile::Rest, rest(&cat(&[&t0, LONE_LOW])), Expect::Invalid),
        ("rest: lone surrogate inside token", Profile::Rest, rest(&cat(&[&t0[..30], LONE_HIGH, &t0[31..]])), Expect::Invalid),
        ("rest: lone surrogate alone", Profile::Rest, rest(LONE_HIGH), Expect::Invalid),
        // An underscore is not a hyphen: `Access_Token` is another header
        // (which CGI-style WSGI environs cannot tell apart; see
        // `wsgi_indistinguishable`).
        ("rest: Access_Token header only", Profile::Rest, vec![(b"Access_Token", t0.clone())], Expect::Missing),
        ("rest: access_token header only", Profile::Rest, vec![(b"access_token", t0.clone())], Expect::Missing),
        ("rest: prefix only", Profile::Rest, rest(b"wgat_"), Expect::Invalid),
        ("mcp: no header", Profile::Mcp, vec![], Expect::Missing),
        ("mcp: Bearer token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0])), Expect::Ok(0)),
        ("mcp: header name lower case", Profile::Mcp, vec![(b"authorization", cat(&[b"Bearer ", &t0]))], Expect::Ok(0)),
        ("mcp: scheme lower case", Profile::Mcp, auth(&cat(&[b"bearer ", &t0])), Expect::Ok(0)),
        ("mcp: scheme upper case", Profile::Mcp, auth(&cat(&[b"BEARER ", &t0])), Expect::Ok(0)),
        ("mcp: scheme mixed case", Profile::Mcp, auth(&cat(&[b"bEaReR ", &t0])), Expect::Ok(0)),
        ("mcp: several spaces after the scheme", Profile::Mcp, auth(&cat(&[b"Bearer    ", &t0])), Expect::Ok(0)),
        ("mcp: surrounding spaces and tabs", Profile::Mcp, auth(&cat(&[b" \tBearer ", &t0, b" \t"])), Expect::Ok(0)),
        ("mcp: old token during the grace period", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(2)])), Expect::Ok(2)),
        ("mcp: old token after the grace period", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(4)])), Expect::Invalid),
        ("mcp: empty value", Profile::Mcp, auth(b""), Expect::Missing),
        ("mcp: only spaces", Profile::Mcp, auth(b"   "), Expect::Missing),
        ("mcp: Bearer alone", Profile::Mcp, auth(b"Bearer"), Expect::Invalid),
        ("mcp: Bearer and spaces", Profile::Mcp, auth(b"Bearer    "), Expect::Invalid),
        ("mcp: tab after the scheme", Profile::Mcp, auth(&cat(&[b"Bearer\t", &t0])), Expect::Invalid),
        ("mcp: Basic scheme", Profile::Mcp, auth(b"Basic dXNlcjpwYXNzd29yZA=="), Expect::Missing),
        ("mcp: token without a scheme", Profile::Mcp, auth(&t0), Expect::Missing),
        ("mcp: another scheme with the token", Profile::Mcp, auth(&cat(&[b"Token ", &t0])), Expect::Missing),
        ("mcp: scheme run into the token", Profile::Mcp, auth(&cat(&[b"Bearer", &t0])), Expect::Missing),
        ("mcp: two Authorization headers", Profile::Mcp, vec![(b"Authorization", cat(&[b"Bearer ", &t0])), (b"Authorization", cat(&[b"Bearer ", &t0]))], Expect::Invalid),
        ("mcp: Bearer and Basic headers", Profile::Mcp, vec![(b"Authorization", b"Basic dXNlcjpwYXNzd29yZA==".to_vec()), (b"Authorization", cat(&[b"Bearer ", &t0]))], Expect::Invalid),
        ("mcp: token plus trailing garbage", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0, b" extra"])), Expect::Invalid),
        ("mcp: bad checksum", Profile::Mcp, auth(&cat(&[b"Bearer ", &bad_checksum])), Expect::Invalid),
        ("mcp: token of a deleted record", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(6)])), Expect::Invalid),
        ("mcp: right id, wrong secret, valid checksum", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(7)])), Expect::Invalid),
        ("mcp: CR LF after token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0, b"\r\n"])), Expect::Invalid),
        ("mcp: NUL before token", Profile::Mcp, auth(&cat(&[b"Bearer \0", &t0])), Expect::Invalid),
        ("mcp: obs-text inside", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0[..30], b"\x80", &t0[31..]])), Expect::Invalid),
        ("mcp: 64 KiB value", Profile::Mcp, auth(&cat(&[b"Bearer ", &big])), Expect::Invalid),
        ("mcp: Bearer token padded past the limit on both sides", Profile::Mcp, auth(&cat(&[&pad, b"Bearer ", &t0, &pad])), Expect::Ok(0)),
        ("mcp: 4100 spaces between scheme and token", Profile::Mcp, auth(&cat(&[b"Bearer", &pad, &t0])), Expect::Invalid),
        ("mcp: lone surrogate after token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0, LONE_LOW])), Expect::Invalid),
        ("mcp: lone surrogate inside token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t0[..30], LONE_HIGH, &t0[31..]])), Expect::Invalid),
        ("mcp: prefix only", Profile::Mcp, auth(b"Bearer wgat_"), Expect::Invalid),
        ("mcp: only an Access-Token header", Profile::Mcp, rest(&t0), Expect::Missing),
        ("rest: expired token", Profile::Rest, rest(&t(8)), Expect::Invalid),
        ("rest: token a second before it expires", Profile::Rest, rest(&t(9)), Expect::Ok(5)),
        ("rest: disabled token", Profile::Rest, rest(&t(10)), Expect::Invalid),
        ("rest: scoped token", Profile::Rest, rest(&t(11)), Expect::Ok(7)),
        ("rest: token scoped to nothing", Profile::Rest, rest(&t(12)), Expect::Ok(8)),
        ("mcp: expired token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(8)])), Expect::Invalid),
        ("mcp: disabled token", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(10)])), Expect::Invalid),
    ];
    // Routes that need a scope: checked once the token is accepted.
    #[rustfmt::skip]
    let scoped: Vec<(&str, Profile, Headers, &str, Expect)> = vec![
        ("rest: scope held", Profile::Rest, rest(&t(11)), "messages:send", Expect::Ok(7)),
        ("rest: scope held through resource:*", Profile::Rest, rest(&t(11)), "devices:read", Expect::Ok(7)),
        ("rest: scope missing", Profile::Rest, rest(&t(11)), "messages:read", Expect::Denied(7)),
        ("rest: scope of another resource", Profile::Rest, rest(&t(11)), "tokens:manage", Expect::Denied(7)),
        ("rest: token scoped to nothing, scope needed", Profile::Rest, rest(&t(12)), "messages:send", Expect::Denied(8)),
        ("rest: full-access token, scope needed", Profile::Rest, rest(&t0), "tokens:manage", Expect::Ok(0)),
        ("rest: disabled token, scope needed", Profile::Rest, rest(&t(10)), "messages:send", Expect::Invalid),
        ("rest: no token, scope needed", Profile::Rest, vec![], "messages:send", Expect::Missing),
        ("mcp: scope held", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(11)])), "messages:send", Expect::Ok(7)),
        ("mcp: scope held through resource:*", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(11)])), "devices:list", Expect::Ok(7)),
        ("mcp: scope missing", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(11)])), "messages:read", Expect::Denied(7)),
        ("mcp: expired token, scope needed", Profile::Mcp, auth(&cat(&[b"Bearer ", &t(8)])), "messages:send", Expect::Invalid),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, profile, headers, expect)| (name, profile, headers, None, expect))
        .chain(
            scoped
                .into_iter()
                .map(|(name, profile, headers, scope, expect)| {
                    (name, profile, headers, Some(scope), expect)
                }),
        );
    let body = |p: Profile, e: &Expect, scope: Option<&str>| match (p, e) {
        (_, Expect::Ok(_)) => Value::Null,
        (_, Expect::Denied(_)) => json!(format!(
            r#"{{"message": "the token lacks the scope {}"}}"#,
            scope.unwrap()
        )),
        (Profile::Rest, Expect::Missing) => json!(r#"{"message": "an Access-Token is required"}"#),
        (Profile::Rest, Expect::Invalid) => json!(r#"{"message": "invalid Access-Token"}"#),
        (Profile::Mcp, Expect::Missing) => json!(r#"{"message": "a Bearer token is required"}"#),
        (Profile::Mcp, Expect::Invalid) => json!(r#"{"message": "invalid Bearer token"}"#),
    };
    let challenge = |p: Profile, e: &Expect, scope: Option<&str>| match (p, e) {
        (Profile::Mcp, Expect::Denied(_)) => json!(format!(
            r#"Bearer realm="whatsgate", error="insufficient_scope", scope="{}""#,
            scope.unwrap()
        )),
        (Profile::Mcp, Expect::Missing) => json!(r#"Bearer realm="whatsgate""#),
        (Profile::Mcp, Expect::Invalid) => {
            json!(r#"Bearer realm="whatsgate", error="invalid_token""#)
        }
        _ => Value::Null,
    };
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|(name, profile, headers, scope, expect)| {
            let mut case = json!({
                "name": name,
                "profile": match profile { Profile::Rest => "rest", Profile::Mcp => "mcp" },
                "headers": headers.iter().map(|(n, v)| json!([std::str::from_utf8(n).unwrap(), hex::encode(v)])).collect::<Vec<_>>(),
            });
            if let Some(scope) = scope {
                case["required_scope"] = json!(scope);
            }
            match expect {
                Expect::Ok(i) | Expect::Denied(i) => {
                    let r = &fx.records[i];
                    let denied = matches!(expect, Expect::Denied(_));
                    case["expect"] = json!(if denied { "insufficient_scope" } else { "ok" });
                    case["principal"] = json!({"account": r.account.as_str(), "token_id": r.id.to_string(), "token_name": r.name.as_str()});
                    if let Some(list) = r.scopes.list() {
                        case["principal"]["scopes"] = json!(list.iter().map(|s| s.as_str()).collect::<Vec<_>>());
                    }
                    case["status"] = json!(if denied { 403 } else { 200 });
                }
                Expect::Missing | Expect::Invalid => {
                    case["expect"] = json!(if matches!(expect, Expect::Missing) { "missing" } else { "invalid" });
                    case["status"] = json!(if profile == Profile::Rest { 403 } else { 401 });
                }
            }
            case["body"] = body(profile, &expect, scope);
            case["www_authenticate"] = challenge(profile, &expect, scope);
            if headers.iter().any(|(_, v)| v.windows(2).any(|w| w[0] == 0xed && w[1] >= 0xa0)) {
                case["lone_surrogates"] = json!(true);
            }
            if headers.iter().any(|(n, _)| n.contains(&b'_')) {
                case["wsgi_indistinguishable"] = json!(true);
            }
            case
        })
        .collect();
    json!({
        "description": "Adversarial header corpus: load `records` into a keyring, then authenticate each case's headers (all of them, in order, names case-insensitive) with its profile at time `now`. Header values are hex of the raw bytes. Rust, C and Python must all give exactly these answers. Surrounding spaces and tabs are stripped before the 4096-byte limit applies, as HTTP servers strip them first. `lone_surrogates`: a value holds the UTF-8 form of a surrogate (invalid UTF-8); Python runners also pass it as the str it decodes to with `surrogatepass` (a lone surrogate), which must get the same answer. `wsgi_indistinguishable`: a header name with `_`, which a CGI-style WSGI environ (HTTP_ACCESS_TOKEN) cannot tell from `-`; only surfaces that see header names can give the answer in process. Records may be format 2 (scopes, expires_at, disabled, description): an expired or disabled token is `invalid` like any other. `required_scope`: the route needs that scope, checked once the token is accepted; a token that lacks it gets `insufficient_scope` (403 in both profiles, the JSON body naming the scope, and for mcp the RFC 6750 insufficient_scope challenge). `principal.scopes`: present for a token with restricted scopes (sorted), absent for full access.",
        "regenerate": "UPDATE_VECTORS=1 cargo test -p whatsgate-auth --test vectors",
        "now": NOW,
        "records": fx.records.iter().map(record_json).collect::<Vec<_>>(),
        "cases": cases,
    })
}

// ---------------------------------------------------------------- checks

fn check_fresh(name: &str, generated: &Value) {
    let path = testdata(name);
    let text = serde_json::to_string_pretty(generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: run `UPDATE_VECTORS=1 cargo test -p whatsgate-auth --test vectors` and commit it",
        path.display()
    );
}

#[test]
fn committed_files_are_fresh() {
    check_fresh(TOKEN_VECTORS, &token_vectors());
    check_fresh(HEADER_CASES, &header_cases());
}

#[test]
fn valid_vectors_agree_with_reference_implementations() {
    let valid = TokenVectors::load().valid;
    assert!(valid.len() >= 5);
    for case in &valid {
        let token = case.token.as_str();
        assert_eq!(token.len(), 55);
        let payload = payload_of(token);
        assert_eq!(payload.len(), 37);
        assert_eq!(payload[0], 1, "version");
        assert_eq!(hex::encode(&payload[1..9]), case.id);
        assert_eq!(hex::encode(&payload[9..33]), case.secret);
        assert_eq!(
            crc32fast::hash(&payload[..33]).to_be_bytes(),
            &payload[33..37]
        );
        assert_eq!(hex::encode(&payload[33..37]), case.checksum);
        let verifier = reference_verifier(&payload[1..9], &payload[9..33]);
        assert_eq!(hex::encode(verifier), case.verifier);

        let parsed =
            whatsgate_auth::host_records::parse(token.as_bytes()).expect("valid vector parses");
        assert_eq!(parsed.id().to_string(), case.id);
        assert_eq!(parsed.verifier().to_bytes(), verifier);
        assert!(parsed.is_accepted_by(&Verifier::from_bytes(verifier), None, Timestamp(NOW)));
    }
}

#[test]
fn invalid_vectors_are_refused() {
    let invalid = TokenVectors::load().invalid;
    assert!(invalid.len() >= 20);
    for case in &invalid {
        assert!(
            whatsgate_auth::host_records::parse(case.token.as_bytes()).is_err(),
            "accepted: {:?}",
            case.why
        );
    }
}

#[test]
fn header_cases_give_the_expected_answers() {
    use whatsgate_auth_test_support::Expect as Verdict;

    let corpus = HeaderCorpus::load();
    let keyring = corpus.keyring();
    assert!(
        corpus.cases.len() >= 50,
        "the corpus promises at least 50 cases"
    );
    for case in &corpus.cases {
        let name = &case.name;
        let profile = case.profile;
        let values = case
            .headers
            .iter()
            .filter(|(n, _)| profile.is_token_header(n.as_bytes()))
            .map(|(_, v)| v.as_slice());
        match (
            keyring.authenticate(profile, values, corpus.now),
            case.expect.failure(),
        ) {
            (Ok(p), None) => {
                let want = case.principal.as_ref().unwrap();
                assert_eq!(p.account(), want.account, "{name}");
                assert_eq!(p.token_id().to_string(), want.token_id, "{name}");
                assert_eq!(p.token_name(), want.token_name, "{name}");
                let scopes = p
                    .scopes()
                    .list()
                    .map(|l| l.iter().map(|s| s.as_str().to_string()).collect());
                assert_eq!(scopes, want.scopes, "{name}");
                let denied = case.required_scope.as_deref().and_then(|required| {
                    let scope = Scope::new(required).unwrap();
                    (!p.has_scope(required)).then(|| {
                        let denial = ScopeDenial {
                            profile,
                            scope: &scope,
                        };
                        (
                            denial.status(),
                            denial.body().to_string(),
                            denial.www_authenticate().map(|c| c.to_string()),
                        )
                    })
                });
                match denied {
                    None => assert_eq!(case.expect, Verdict::Ok, "{name}"),
                    Some((status, body, challenge)) => {
                        assert_eq!(case.expect, Verdict::InsufficientScope, "{name}");
                        assert_eq!(status, case.status, "{name}");
                        assert_eq!(Some(body), case.body, "{name}");
                        assert_eq!(challenge, case.www_authenticate, "{name}");
                    }
                }
            }
            (Err(r), Some(failure)) => {
                assert_eq!(r.failure, failure, "{name}");
                assert_eq!(r.status(), case.status, "{name}");
                assert_eq!(Some(r.body()), case.body.as_deref(), "{name}");
                assert_eq!(
                    r.www_authenticate(),
                    case.www_authenticate.as_deref(),
                    "{name}"
                );
            }
            (got, _) => panic!("{name}: expected {:?}, got {got:?}", case.expect),
        }
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_form_is_the_v1_record_form() {
    use whatsgate_auth_test_support::record_from_json;

    let v = HeaderCorpus::load().json;
    for record in v["records"].as_array().unwrap() {
        let parsed: TokenRecord = serde_json::from_value(record.clone()).unwrap();
        assert_eq!(&serde_json::to_value(&parsed).unwrap(), record);
        assert_eq!(&record_json(&record_from_json(record)), record);
    }
    let mut future = v["records"][0].clone();
    future["format"] = json!(3);
    let err = serde_json::from_value::<TokenRecord>(future)
        .unwrap_err()
        .to_string();
    assert!(err.contains("format 3"), "{err}");
    // A field beyond the seed's in a format-1 record: an older reader would
    // ignore it, so no writer makes one, and it is refused.
    let mut disguised = v["records"][0].clone();
    disguised["disabled"] = json!(true);
    let err = serde_json::from_value::<TokenRecord>(disguised)
        .unwrap_err()
        .to_string();
    assert!(err.contains("format 2"), "{err}");
    let formats: Vec<_> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["format"].as_u64().unwrap())
        .collect();
    assert!(formats.contains(&1) && formats.contains(&2), "{formats:?}");
}

#[test]
fn token_ids_round_trip_as_hex() {
    let id = TokenId::from_bytes(*b"\x00\x11\x22\x33\x44\x55\x66\xff");
    assert_eq!(id.to_string(), "00112233445566ff");
    assert_eq!("00112233445566FF".parse::<TokenId>(), Ok(id));
    assert!("0011223344556".parse::<TokenId>().is_err());
    assert!("00112233445566fg".parse::<TokenId>().is_err());
}
