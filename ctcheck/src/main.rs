//! Constant-time proof for `whatsgate-auth`, run under valgrind memcheck.
//!
//! Memcheck reports every conditional branch, memory address and system-call
//! argument that depends on *undefined* memory. This harness marks the
//! secrets undefined (the 32 secret characters of every presented token and
//! the 6 checksum characters computed over them, the stored verifiers, every
//! byte a token generator draws from its RNG, and, in the parsing scenario,
//! every body character: the id too), then generates and verifies tokens
//! through the public API and, with the `surfaces` feature (the default),
//! through the C entry points, the Python fast path's core calls and the
//! tower layer (`surfaces.rs` says what each covers). A secret-dependent
//! value may become public only through the core's `ct::reveal` (a verdict,
//! or whether a byte at a header value's edge is whitespace), which a
//! `--cfg whatsgate_ct_check` build passes through a hook; the hook here
//! marks it defined (declassifies it). Any report is therefore a branch or a
//! table index on secret data.
//!
//! ```text
//! RUSTFLAGS="--cfg whatsgate_ct_check" cargo build --release   # in ctcheck/
//! valgrind --error-exitcode=1 target/release/whatsgate-auth-ctcheck check     # must exit 0
//! valgrind --error-exitcode=1 target/release/whatsgate-auth-ctcheck control   # must exit 1
//! ```
//!
//! `control` is the positive control: it branches on secret bytes compared
//! with slice `==` (and on one secret byte directly), and it verifies a token
//! with the hook switched off, so the core's own branch on its verdict is on
//! secret data. Memcheck must report the two leaks and both of the core's
//! verdict branches (parse and compare), or the check proves nothing
//! (the marks would not reach the core). Each surface has its own: the same
//! verification with the hook off through that surface's entry point, and
//! for tower an inner service that branches on a token character it is
//! handed. `scripts/test-hardening` runs both modes.
//! Add `--native` to run without valgrind (the verdicts are still checked;
//! the client requests are then no-ops).

use core::ffi::c_void;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[cfg(feature = "surfaces")]
mod surfaces;

use core::ops::Range;

use whatsgate_auth::rand_core::{TryCryptoRng, TryRng};
use whatsgate_auth::{
    AccountId, Keyring, OsRng, Principal, Profile, Rollover, Timestamp, Token, TokenFormat,
    TokenName, TokenRecord, Verifier, declassify,
};

unsafe extern "C" {
    fn wgct_mark_secret(addr: *const c_void, len: usize);
    fn wgct_mark_public(addr: *const c_void, len: usize);
    fn wgct_running_on_valgrind() -> u32;
    fn wgct_error_count() -> u32;
}

/// Marks bytes undefined for memcheck: from here on they are secret.
pub(crate) fn mark_secret(bytes: &[u8]) {
    // SAFETY: the pointer and length come from a live slice; the request only
    // changes memcheck's shadow state, never the bytes.
    unsafe { wgct_mark_secret(bytes.as_ptr().cast(), bytes.len()) }
}

/// Marks the memory of any value defined for memcheck (declassifies it).
pub(crate) fn mark_public<T: ?Sized>(value: &T) {
    // SAFETY: the pointer and size describe one live value; the request only
    // changes memcheck's shadow state, never the bytes.
    unsafe { wgct_mark_public((value as *const T).cast(), core::mem::size_of_val(value)) }
}

fn running_on_valgrind() -> bool {
    // SAFETY: a valgrind client request with no arguments (0 natively).
    unsafe { wgct_running_on_valgrind() != 0 }
}

fn error_count() -> u32 {
    // SAFETY: a valgrind client request with no arguments (0 natively).
    unsafe { wgct_error_count() }
}

/// Whether the hook declassifies verdicts (switched off by one control).
pub(crate) static DECLASSIFY: AtomicBool = AtomicBool::new(true);
/// How many verdicts went through the hook (proves the `cfg` is on).
static VERDICTS: AtomicU32 = AtomicU32::new(0);

/// The declassification hook: the verdict the core is about to branch on is public.
fn declassify_verdict(verdict: &mut [u8]) {
    VERDICTS.fetch_add(1, Ordering::Relaxed);
    if DECLASSIFY.load(Ordering::Relaxed) {
        mark_public(verdict);
    }
}

/// An RNG whose output is secret: it fills from the OS generator, then marks
/// what it wrote undefined.
pub(crate) struct SecretRng {
    /// Whether 8-byte requests (token ids, which are public by design) are
    /// left defined. `TokenFormat::generate` draws the id (8 bytes) and the
    /// secret (24 bytes) in separate requests; the keyring then looks the id
    /// up in its map, which is a public use.
    pub(crate) ids_are_public: bool,
}

impl TryRng for SecretRng {
    type Error = <OsRng as TryRng>::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        OsRng.try_fill_bytes(dst)?;
        if !(self.ids_are_public && dst.len() == 8) {
            mark_secret(dst);
        }
        Ok(())
    }
}

impl TryCryptoRng for SecretRng {}

/// A presented token: its text, with the 32 secret characters undefined.
struct Presented {
    text: Vec<u8>,
}

impl Presented {
    /// Takes a token as its owner receives it (declassified: it is handed
    /// out) and marks its secret characters undefined again, as they are
    /// when a request presents them.
    fn from_token(token: &Token, format: &TokenFormat) -> Self {
        // `Token::expose_secret` checks the text is UTF-8, which branches on
        // the characters (they are always ASCII, so nothing leaks); the
        // owner's copy of the token is public to its owner anyway.
        mark_public(token);
        Self::from_text(token.expose_secret().as_bytes().to_vec(), format)
    }

    fn from_text(text: Vec<u8>, format: &TokenFormat) -> Self {
        let presented = Self { text };
        presented.mark(format);
        presented
    }

    /// Marks the secret and checksum characters undefined.
    fn mark(&self, format: &TokenFormat) {
        if let Some(secret) = self.text.get(secret_chars(format)) {
            mark_secret(secret);
        }
    }

    /// A copy with one character replaced (then re-marked).
    fn with_char(&self, index: usize, c: u8, format: &TokenFormat) -> Self {
        let mut text = self.text.clone();
        mark_public(text.as_slice());
        text[index] = if text[index] == c {
            b'A' + (c == b'A') as u8
        } else {
            c
        };
        Self::from_text(text, format)
    }
}

/// Where a token's secret lives in its text: body characters 12..44 (the
/// 24 secret bytes) and 44..50, the checksum computed over them, which
/// tells about the secret as much as any function of it.
pub(crate) fn secret_chars(format: &TokenFormat) -> Range<usize> {
    let body = format.prefix().len();
    body + 12..body + 50
}

/// A stored verifier whose bytes are undefined (secret at rest).
fn secret_verifier(verifier: Verifier) -> Verifier {
    let bytes = verifier.to_bytes();
    mark_secret(&bytes);
    Verifier::from_bytes(bytes)
}

/// A record as loaded from a database: verifiers undefined.
pub(crate) fn stored(record: &TokenRecord) -> TokenRecord {
    let mut record = record.clone();
    record.verifier = secret_verifier(record.verifier);
    record.rollover = record.rollover.map(|r| Rollover {
        verifier: secret_verifier(r.verifier),
        until: r.until,
    });
    record
}

/// Counts scenarios and verdicts that differ from what the API promises.
pub(crate) struct Tally {
    scenarios: u32,
    wrong: u32,
}

impl Tally {
    pub(crate) fn expect(&mut self, what: &str, got: bool, want: bool) {
        self.scenarios += 1;
        if got != want {
            self.wrong += 1;
            eprintln!("ctcheck: {what}: accepted = {got}, expected {want}");
        }
    }
}

pub(crate) fn label(s: &str) -> (AccountId, TokenName) {
    (
        AccountId::new("acct_ct").unwrap_or_else(|e| panic!("account: {e}")),
        TokenName::new(s).unwrap_or_else(|e| panic!("name: {e}")),
    )
}

fn ok(result: Result<Principal, impl core::fmt::Debug>) -> bool {
    result.is_ok()
}

/// Parsing with every body character undefined (id and checksum too, not
/// only the secret): the decoder and the checksum must not branch on any of
/// them. Only the verdict is declassified; the parsed id is dropped unused.
fn check_parse_whole_body(tally: &mut Tally, format: &TokenFormat) {
    let mut rng = SecretRng {
        ids_are_public: true,
    };
    let (token, _) = format
        .generate(&mut rng)
        .unwrap_or_else(|_| panic!("OS RNG failed"));
    mark_public(&token);
    let valid = token.expose_secret().as_bytes().to_vec();
    let prefix = format.prefix().len();
    let changed = |index: usize, c: u8| {
        let mut text = valid.clone();
        text[index] = if text[index] == c { b'B' } else { c };
        text
    };
    let cases = [
        ("whole body secret: valid", valid.clone(), true),
        (
            "whole body secret: id changed",
            changed(prefix + 3, b'A'),
            false,
        ),
        (
            "whole body secret: checksum changed",
            changed(prefix + 47, b'Q'),
            false,
        ),
        (
            "whole body secret: outside the alphabet",
            changed(prefix + 5, b'+'),
            false,
        ),
        (
            "whole body secret: non-canonical tail",
            changed(prefix + 49, b'B'),
            false,
        ),
    ];
    for (what, text, want) in cases {
        mark_secret(&text[prefix..]);
        tally.expect(what, format.parse(&text).is_ok(), want);
    }
}

/// Generation: every RNG byte is secret; nothing may branch on it.
fn check_generate(tally: &mut Tally, format: &TokenFormat) -> (Token, TokenRecord) {
    let mut rng = SecretRng {
        ids_are_public: false,
    };
    let generated = format.generate(&mut rng);
    tally.expect("generate", generated.is_ok(), true);
    let (token, verifier) = generated.unwrap_or_else(|_| panic!("OS RNG failed"));
    let id = token.id();
    let again = format.generate_for(id, &mut rng);
    tally.expect("generate_for", again.is_ok(), true);
    black_box((verifier, again.is_ok()));
    drop(again);
    drop(token);

    let (account, name) = label("generated");
    let issued = TokenRecord::create(format, &mut rng, account, name, Timestamp(1_000));
    tally.expect("TokenRecord::create", issued.is_ok(), true);
    let (token, mut record) = issued.unwrap_or_else(|_| panic!("OS RNG failed"));
    let old = Presented::from_token(&token, format);
    let regenerated = record.regenerate(format, &mut rng, Timestamp(1_000), Some(Timestamp(2_000)));
    tally.expect("TokenRecord::regenerate", regenerated.is_ok(), true);
    drop(old);
    // The id is public: declassify the record (its verifiers are marked
    // secret again where a check stores them).
    mark_public(&record);
    let token = regenerated.unwrap_or_else(|_| panic!("OS RNG failed"));
    (token, record)
}

/// Verification through a keyring whose stored verifiers are secret.
fn check_keyring(tally: &mut Tally, format: &TokenFormat) {
    let now = Timestamp(10_000);
    let keyring = Keyring::with_format(*format);
    let mut rng = SecretRng {
        ids_are_public: true,
    };

    // Records issued by the keyring itself: secrets undefined from the RNG on.
    let (account, name) = label("issued");
    let issued = keyring.create(&mut rng, account, name, now);
    tally.expect("Keyring::create", issued.is_ok(), true);
    let (token, _) = issued.unwrap_or_else(|e| panic!("issue: {e}"));
    let issued_token = Presented::from_token(&token, format);
    drop(token);
    tally.expect(
        "Keyring::verify issued",
        ok(keyring.verify(&issued_token.text, now)),
        true,
    );

    // Records loaded from a database, with verifiers marked secret.
    let mut plain = SecretRng {
        ids_are_public: true,
    };
    let mut tokens = Vec::new();
    for i in 0..4 {
        let (account, name) = label(&format!("loaded {i}"));
        let (token, record) = TokenRecord::create(format, &mut plain, account, name, now)
            .unwrap_or_else(|_| panic!("OS RNG failed"));
        mark_public(&record);
        let inserted = keyring.add(stored(&record));
        tally.expect("Keyring::add", inserted.is_ok(), true);
        tokens.push((Presented::from_token(&token, format), record));
    }

    let prefix = format.prefix().len();
    for (presented, record) in &tokens {
        tally.expect("valid", ok(keyring.verify(&presented.text, now)), true);
        // Wrong secret with a valid checksum: same id, fresh secret.
        let (other, _) = format
            .generate_for(record.id, &mut plain)
            .unwrap_or_else(|_| panic!("OS RNG failed"));
        let wrong = Presented::from_token(&other, format);
        tally.expect("wrong secret", ok(keyring.verify(&wrong.text, now)), false);
        // Bad checksum: one checksum character changed, or one secret character.
        let bad_crc = presented.with_char(prefix + 47, b'Q', format);
        tally.expect(
            "bad checksum",
            ok(keyring.verify(&bad_crc.text, now)),
            false,
        );
        let bad_secret = presented.with_char(prefix + 30, b'x', format);
        tally.expect(
            "bad checksum (secret changed)",
            ok(keyring.verify(&bad_secret.text, now)),
            false,
        );
        // A character outside the alphabet inside the secret.
        let garbage = presented.with_char(prefix + 20, b'!', format);
        tally.expect(
            "garbage in secret",
            ok(keyring.verify(&garbage.text, now)),
            false,
        );
        // Non-canonical last character.
        let last = presented.text.len() - 1;
        let noncanonical = presented.with_char(last, b'B', format);
        tally.expect(
            "non-canonical tail",
            ok(keyring.verify(&noncanonical.text, now)),
            false,
        );
        // Header extraction in both profiles, then verification.
        let mut bearer = b"Bearer ".to_vec();
        bearer.extend_from_slice(&presented.text);
        let chars = secret_chars(format);
        mark_secret(&bearer[7 + chars.start..7 + chars.end]);
        tally.expect(
            "authenticate mcp",
            ok(keyring
                .authenticate(Profile::Mcp, [bearer.as_slice()], now)
                .map_err(|r| r.status())),
            true,
        );
        tally.expect(
            "authenticate rest",
            ok(keyring
                .authenticate(Profile::Rest, [presented.text.as_slice()], now)
                .map_err(|r| r.status())),
            true,
        );
        tally.expect(
            "authenticate rest, wrong secret",
            ok(keyring
                .authenticate(Profile::Rest, [wrong.text.as_slice()], now)
                .map_err(|r| r.status())),
            false,
        );
    }

    // Unknown id: a well-formed token of no record.
    let (stranger, _) = format
        .generate(&mut plain)
        .unwrap_or_else(|_| panic!("OS RNG failed"));
    let stranger = Presented::from_token(&stranger, format);
    tally.expect("unknown id", ok(keyring.verify(&stranger.text, now)), false);

    // Deleted record.
    let (deleted, deleted_record) = &tokens[0];
    let removed = keyring.delete(deleted_record.id);
    tally.expect("Keyring::delete", removed.is_ok(), true);
    tally.expect("deleted", ok(keyring.verify(&deleted.text, now)), false);

    // Regeneration with a grace period: old and new secrets both accepted
    // until the grace ends (two constant-time comparisons), then only the new.
    let (_, kept) = &tokens[1];
    let regenerated = keyring.regenerate(&mut rng, kept.id, now, Some(now.plus_secs(60)));
    tally.expect("Keyring::regenerate", regenerated.is_ok(), true);
    let (new_token, _) = regenerated.unwrap_or_else(|e| panic!("regenerate: {e}"));
    let new_token = Presented::from_token(&new_token, format);
    let old_token = &tokens[1].0;
    tally.expect("new secret", ok(keyring.verify(&new_token.text, now)), true);
    tally.expect(
        "old secret in grace",
        ok(keyring.verify(&old_token.text, now)),
        true,
    );
    let later = now.plus_secs(61);
    tally.expect(
        "old secret after grace",
        ok(keyring.verify(&old_token.text, later)),
        false,
    );
    tally.expect(
        "new secret after grace",
        ok(keyring.verify(&new_token.text, later)),
        true,
    );

    // Fields beyond the seed's: an expired or disabled token is refused
    // after the same comparison (its record is read through the index's side
    // record, another path than the one-line slot), a scoped one accepted.
    let (presented, record) = &tokens[3];
    let mut expiring = stored(record);
    expiring.expires_at = Some(now.plus_secs(5));
    expiring.scopes =
        whatsgate_auth::Scopes::only(["messages:send"]).unwrap_or_else(|e| panic!("scopes: {e}"));
    keyring.replace(expiring);
    tally.expect(
        "scoped, before expiry",
        keyring
            .verify(&presented.text, now)
            .is_ok_and(|p| p.has_scope("messages:send") && !p.has_scope("tokens:manage")),
        true,
    );
    tally.expect(
        "expired",
        ok(keyring.verify(&presented.text, now.plus_secs(5))),
        false,
    );
    let disabled = keyring.update(
        record.id,
        whatsgate_auth::TokenUpdate {
            disabled: Some(true),
            ..Default::default()
        },
    );
    tally.expect("Keyring::update", disabled.is_ok(), true);
    tally.expect("disabled", ok(keyring.verify(&presented.text, now)), false);

    // The same through the record-level API, for hosts that keep verifiers.
    let (presented, record) = &tokens[2];
    let record = stored(record);
    let parsed = format.parse(&presented.text);
    tally.expect("parse", parsed.is_ok(), true);
    if let Ok(parsed) = parsed {
        tally.expect("TokenRecord::accepts", record.accepts(&parsed, now), true);
        let mut disabled = record.clone();
        disabled.disabled = true;
        tally.expect(
            "TokenRecord::accepts disabled",
            disabled.accepts(&parsed, now),
            false,
        );
        let other = stored(&tokens[3].1);
        tally.expect(
            "is_accepted_by other verifier",
            parsed.is_accepted_by(&other.verifier, None, now),
            false,
        );
        let grace = Rollover {
            verifier: record.verifier,
            until: now.plus_secs(1),
        };
        tally.expect(
            "is_accepted_by rollover",
            parsed.is_accepted_by(&other.verifier, Some(&grace), now),
            true,
        );
    }
}

/// The positive control: deliberate leaks that memcheck must report.
#[inline(never)]
fn deliberate_leak() -> u32 {
    let a = [0x5au8; 24];
    let b = [0x5au8; 24];
    mark_secret(&a);
    let mut hits = 0;
    // Slice `==` (memcmp/bcmp) exits early at the first difference.
    if black_box(&a[..]) == black_box(&b[..]) {
        hits += 1;
    }
    // A branch on one secret byte.
    if black_box(a[3]) & 1 == 0 {
        hits += 2;
    }
    hits
}

/// The marks reach the core: with declassification off, the core's own
/// branch on a verdict computed from the marked secret must be reported.
#[inline(never)]
fn undeclassified_verify() -> bool {
    let format = TokenFormat::DEFAULT;
    let keyring = Keyring::new();
    let (account, name) = label("control");
    let mut rng = SecretRng {
        ids_are_public: true,
    };
    let (token, _) = keyring
        .create(&mut rng, account, name, Timestamp(1))
        .unwrap_or_else(|e| panic!("issue: {e}"));
    let presented = Presented::from_token(&token, &format);
    DECLASSIFY.store(false, Ordering::Relaxed);
    let accepted = keyring.verify(&presented.text, Timestamp(1)).is_ok();
    DECLASSIFY.store(true, Ordering::Relaxed);
    accepted
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let native = args.iter().any(|a| a == "--native");
    let mode = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("check", String::as_str);
    if !native && !running_on_valgrind() {
        eprintln!(
            "ctcheck: not running under valgrind, so nothing is checked; run it as \
             `valgrind --error-exitcode=1 {} {mode}` (or add --native to check verdicts only)",
            std::env::args().next().unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    declassify::set_hook(declassify_verdict);

    match mode {
        "check" => {
            let mut tally = Tally {
                scenarios: 0,
                wrong: 0,
            };
            let custom = TokenFormat::new("acme_live_").unwrap_or_else(|e| panic!("{e}"));
            for format in [TokenFormat::DEFAULT, custom] {
                for _ in 0..3 {
                    let (token, record) = check_generate(&mut tally, &format);
                    black_box((token.id(), record.id));
                    check_keyring(&mut tally, &format);
                    check_parse_whole_body(&mut tally, &format);
                }
                #[cfg(feature = "surfaces")]
                {
                    surfaces::check_python(&mut tally, &format);
                    surfaces::check_tower(&mut tally, &format);
                }
            }
            #[cfg(feature = "surfaces")]
            surfaces::check_c(&mut tally);
            let covered = if cfg!(feature = "surfaces") {
                "core c python tower"
            } else {
                "core"
            };
            let errors = error_count();
            let verdicts = VERDICTS.load(Ordering::Relaxed);
            println!(
                "ctcheck: {} scenarios, {} wrong verdicts, {verdicts} verdicts declassified, \
                 {errors} valgrind reports; surfaces: {covered}; kernels: {}",
                tally.scenarios,
                tally.wrong,
                whatsgate_auth::ct_kernels()
            );
            if verdicts == 0 {
                eprintln!(
                    "ctcheck: no verdict reached the hook: build with \
                     RUSTFLAGS=\"--cfg whatsgate_ct_check\""
                );
                return ExitCode::FAILURE;
            }
            if tally.wrong != 0 || errors != 0 {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        "control" => {
            let before = error_count();
            let hits = deliberate_leak();
            let leaks = error_count() - before;
            let accepted = undeclassified_verify();
            let core = error_count() - before - leaks;
            println!(
                "ctcheck control: {leaks} valgrind reports for 2 deliberate leaks ({hits}), \
                 {core} for verification without declassification ({accepted})"
            );
            #[cfg(feature = "surfaces")]
            let surfaces = surfaces::controls(error_count);
            #[cfg(not(feature = "surfaces"))]
            let surfaces: [(&str, u32); 0] = [];
            for (what, reports) in &surfaces {
                println!("ctcheck control: {reports} valgrind reports for {what}");
            }
            let blind = surfaces.iter().any(|(_, reports)| *reports == 0);
            if native || (leaks >= 2 && core >= 2 && !blind) {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "ctcheck control: the deliberate leaks were not reported; the check is blind"
                );
                ExitCode::from(3)
            }
        }
        other => {
            eprintln!("ctcheck: unknown mode {other:?}; use `check` or `control`");
            ExitCode::from(2)
        }
    }
}
