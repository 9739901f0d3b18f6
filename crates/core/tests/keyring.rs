//! Keyring lifecycle and concurrency.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{SeedableRng, TryCryptoRng, TryRng};
use whatsgate_auth::{
    AccountId, Description, Keyring, KeyringError, LifetimePolicy, NewToken, OsRng, PolicyError,
    Profile, RngError, Scopes, Timestamp, Token, TokenName, TokenRecord, TokenUpdate,
};

fn account(a: &str) -> AccountId {
    AccountId::new(a).unwrap()
}

fn name(n: &str) -> TokenName {
    TokenName::new(n).unwrap()
}

fn issue(k: &Keyring, a: &str, n: &str) -> (Token, TokenRecord) {
    k.create(&mut OsRng, account(a), name(n), Timestamp(100))
        .unwrap()
}

fn accepts(k: &Keyring, t: &Token, at: u64) -> bool {
    k.verify(t.expose_secret().as_bytes(), Timestamp(at))
        .is_ok()
}

/// One vocabulary across languages (create, add, delete): the old Rust
/// names stay, deprecated, and do exactly what the new ones do.
#[test]
#[allow(deprecated)]
fn the_old_names_are_aliases_of_the_new_ones() {
    let k = Keyring::new();
    let (token, record) = k
        .issue(&mut OsRng, account("a"), name("Old name"), Timestamp(100))
        .unwrap();
    assert!(accepts(&k, &token, 100));
    let removed = k.remove(record.id).unwrap();
    assert_eq!(removed.id, record.id);
    assert!(!accepts(&k, &token, 100));
    assert!(matches!(
        k.remove(record.id),
        Err(KeyringError::UnknownToken(_))
    ));
    k.insert(removed.clone()).unwrap();
    assert!(accepts(&k, &token, 100));
    assert!(matches!(
        k.insert(removed),
        Err(KeyringError::DuplicateId(_))
    ));
    let format = whatsgate_auth::TokenFormat::DEFAULT;
    let (other, other_record) = TokenRecord::issue(
        &format,
        &mut OsRng,
        account("a"),
        name("Other"),
        Timestamp(1),
    )
    .unwrap();
    let parsed = whatsgate_auth::host_records::parse(other.expose_secret().as_bytes()).unwrap();
    assert!(other_record.accepts(&parsed, Timestamp(1)));
}

#[test]
fn names_are_unique_per_account_only() {
    let k = Keyring::new();
    issue(&k, "a", "Production API");
    let err = k
        .create(
            &mut OsRng,
            account("a"),
            name("  Production API "),
            Timestamp(1),
        )
        .unwrap_err();
    assert!(matches!(err, KeyringError::DuplicateName { .. }), "{err}");
    assert!(err.to_string().contains("already has a token named"));
    issue(&k, "b", "Production API");
    assert_eq!(k.len(), 2);
    assert_eq!(k.list(Some("a")).len(), 1);
    assert_eq!(k.list(None).len(), 2);
}

#[test]
fn labels_are_checked() {
    use whatsgate_auth::LabelError;
    assert_eq!(TokenName::new("  Testing\t").unwrap().as_str(), "Testing");
    assert_eq!(TokenName::new("   "), Err(LabelError::Empty));
    assert_eq!(TokenName::new(&"x".repeat(65)), Err(LabelError::TooLong));
    assert!(
        TokenName::new(&"é".repeat(64)).is_ok(),
        "64 characters, 128 bytes"
    );
    assert_eq!(TokenName::new("a\nb"), Err(LabelError::ControlCharacter));
    assert_eq!(AccountId::new(" a"), Err(LabelError::SurroundingWhitespace));
    assert_eq!(AccountId::new(""), Err(LabelError::Empty));
    assert_eq!(AccountId::new("a\0"), Err(LabelError::ControlCharacter));
}

#[test]
fn verify_with_lends_the_same_principal() {
    let k = Keyring::new();
    let (t, r) = issue(&k, "acct", "Lent");
    let text = t.expose_secret().as_bytes();
    let lent = k
        .verify_with(text, Timestamp(100), |p| {
            (
                p.account().to_owned(),
                p.token_id(),
                p.token_name().to_owned(),
                p.to_principal(),
            )
        })
        .unwrap();
    assert_eq!(
        (lent.0.as_str(), lent.1, lent.2.as_str()),
        ("acct", r.id, "Lent")
    );
    assert_eq!(lent.3, k.verify(text, Timestamp(100)).unwrap());
    let mut called = false;
    assert!(
        k.verify_with(b"wgat_nope", Timestamp(100), |_| called = true)
            .is_err()
    );
    assert!(!called, "f runs only on success");
    let rejection = k
        .authenticate_with(
            whatsgate_auth::Profile::Mcp,
            [&b"Basic x"[..]],
            Timestamp(1),
            |_| (),
        )
        .unwrap_err();
    assert_eq!(rejection.status(), 401);
}

#[test]
fn delete_refuses_the_token_and_frees_the_name() {
    let k = Keyring::new();
    let (t, r) = issue(&k, "a", "n");
    assert!(accepts(&k, &t, 100));
    assert_eq!(k.delete(r.id).unwrap().id, r.id);
    assert!(!accepts(&k, &t, 100));
    assert_eq!(
        k.delete(r.id).unwrap_err(),
        KeyringError::UnknownToken(r.id)
    );
    issue(&k, "a", "n");
}

#[test]
fn regenerate_keeps_identity_and_refuses_the_old_secret_at_once() {
    let k = Keyring::new();
    let (old, r) = issue(&k, "a", "n");
    let (new, r2) = k
        .regenerate(&mut OsRng, r.id, Timestamp(200), None)
        .unwrap();
    assert_eq!((r2.id, &r2.account, &r2.name), (r.id, &r.account, &r.name));
    assert_eq!(new.id(), r.id);
    assert!(!accepts(&k, &old, 200));
    assert!(accepts(&k, &new, 200));
}

#[test]
fn regenerate_with_grace_accepts_the_old_secret_until_the_instant() {
    let k = Keyring::new();
    let (old, r) = issue(&k, "a", "n");
    let (new, _) = k
        .regenerate(&mut OsRng, r.id, Timestamp(200), Some(Timestamp(300)))
        .unwrap();
    assert!(accepts(&k, &old, 299));
    assert!(!accepts(&k, &old, 300), "the grace instant is exclusive");
    assert!(accepts(&k, &new, 299) && accepts(&k, &new, 300));
    // A grace instant in the past is a negative grace period: refused,
    // and the token is unchanged.
    assert_eq!(
        k.regenerate(&mut OsRng, r.id, Timestamp(400), Some(Timestamp(399)))
            .unwrap_err(),
        KeyringError::Policy(PolicyError::NegativeGrace)
    );
    assert!(accepts(&k, &new, 400));
    // Grace ending now is no grace at all.
    let (newer, _) = k
        .regenerate(&mut OsRng, r.id, Timestamp(400), Some(Timestamp(400)))
        .unwrap();
    assert!(!accepts(&k, &new, 400));
    assert!(accepts(&k, &newer, 400));
}

const DAY: u64 = 86_400;

#[test]
fn grace_periods_are_capped_by_the_policy() {
    let k = Keyring::new();
    let (_, r) = issue(&k, "a", "n");
    let now = Timestamp(1000);
    assert!(
        k.regenerate(&mut OsRng, r.id, now, Some(now.plus_secs(30 * DAY)))
            .is_ok()
    );
    let err = k
        .regenerate(&mut OsRng, r.id, now, Some(now.plus_secs(30 * DAY + 1)))
        .unwrap_err();
    assert_eq!(
        err,
        KeyringError::Policy(PolicyError::GraceTooLong { max: 30 * DAY })
    );
    assert!(err.to_string().contains("30 days"), "{err}");
    // The CLI's "100000000000d" as an instant: refused, not kept for ever.
    assert!(
        k.regenerate(&mut OsRng, r.id, now, Some(Timestamp(u64::MAX)))
            .is_err()
    );
    let strict = Keyring::new().with_policy(LifetimePolicy {
        max_grace: 60,
        ..LifetimePolicy::DEFAULT
    });
    let (_, r) = issue(&strict, "a", "n");
    assert!(
        strict
            .regenerate(&mut OsRng, r.id, now, Some(now.plus_secs(61)))
            .is_err()
    );
}

#[test]
fn expired_and_disabled_tokens_are_refused_like_any_bad_token() {
    let k = Keyring::new();
    let mut spec = NewToken::new(account("a"), name("Expiring"));
    spec.expires_at = Some(Timestamp(200));
    let (t, r) = k.create_from(&mut OsRng, spec, Timestamp(100)).unwrap();
    assert_eq!(r.expires_at, Some(Timestamp(200)));
    assert!(!r.is_expired(Timestamp(199)) && r.is_expired(Timestamp(200)));
    assert!(accepts(&k, &t, 199));
    assert!(!accepts(&k, &t, 200), "the expiry instant is exclusive");
    assert!(!accepts(&k, &t, 10_000));
    let rest =
        |at: u64| k.authenticate(Profile::Rest, [t.expose_secret().as_bytes()], Timestamp(at));
    assert_eq!(
        rest(200).unwrap_err().body(),
        r#"{"message": "invalid Access-Token"}"#
    );

    let (t2, r2) = issue(&k, "a", "Other");
    let disable = TokenUpdate {
        disabled: Some(true),
        ..TokenUpdate::default()
    };
    assert!(k.update(r2.id, disable).unwrap().disabled);
    assert!(!accepts(&k, &t2, 150), "refused once update returns");
    assert!(k.get(r2.id).unwrap().disabled, "kept, not deleted");
    let enable = TokenUpdate {
        disabled: Some(false),
        ..TokenUpdate::default()
    };
    k.update(r2.id, enable).unwrap();
    assert!(accepts(&k, &t2, 150));
}

#[test]
fn lifetime_policy_bounds_and_gives_expiry() {
    let k = Keyring::new().with_policy(LifetimePolicy {
        max_lifetime: Some(90 * DAY),
        ..LifetimePolicy::DEFAULT
    });
    let now = Timestamp(1000);
    let (t, r) = k.create(&mut OsRng, account("a"), name("n"), now).unwrap();
    assert_eq!(r.expires_at, Some(now.plus_secs(90 * DAY)), "given one");
    assert!(k.verify(t.expose_secret().as_bytes(), now).is_ok());
    let mut long = NewToken::new(account("a"), name("long"));
    long.expires_at = Some(now.plus_secs(90 * DAY + 1));
    assert_eq!(
        k.create_from(&mut OsRng, long, now).unwrap_err(),
        KeyringError::Policy(PolicyError::LifetimeTooLong { max: 90 * DAY })
    );
    let mut past = NewToken::new(account("a"), name("past"));
    past.expires_at = Some(now);
    assert_eq!(
        Keyring::new()
            .create_from(&mut OsRng, past, now)
            .unwrap_err(),
        KeyringError::Policy(PolicyError::ExpiryNotInFuture)
    );
    assert_eq!(k.len(), 1, "nothing added by a refusal");
}

#[test]
fn scopes_reach_the_principal_and_updates_change_them() {
    let k = Keyring::new();
    let mut spec = NewToken::new(account("a"), name("Sender"));
    spec.scopes = Scopes::only(["messages:send", "devices:*"]).unwrap();
    spec.description = Some(Description::new("  the order mailer ").unwrap());
    let (t, r) = k.create_from(&mut OsRng, spec, Timestamp(100)).unwrap();
    assert_eq!(r.description.as_ref().unwrap().as_str(), "the order mailer");
    let p = k
        .verify(t.expose_secret().as_bytes(), Timestamp(150))
        .unwrap();
    assert!(p.has_scope("messages:send") && p.has_scope("devices:read"));
    assert!(!p.has_scope("tokens:manage"));
    // The lent principal says the same.
    let lent = k
        .verify_with(t.expose_secret().as_bytes(), Timestamp(150), |p| {
            (p.has_scope("devices:x"), p.has_scope("messages:read"))
        })
        .unwrap();
    assert_eq!(lent, (true, false));

    let (full, _) = issue(&k, "a", "Full");
    let p = k
        .verify(full.expose_secret().as_bytes(), Timestamp(150))
        .unwrap();
    assert!(p.scopes().is_full() && p.has_scope("tokens:manage"));

    // Rename onto a taken name: refused, unchanged.
    let rename = |n: &str| TokenUpdate {
        name: Some(name(n)),
        ..TokenUpdate::default()
    };
    assert!(matches!(
        k.update(r.id, rename("Full")),
        Err(KeyringError::DuplicateName { .. })
    ));
    assert_eq!(k.get(r.id).unwrap().name.as_str(), "Sender");
    // Rename, rescope, drop the description; the old name is free again.
    let update = TokenUpdate {
        scopes: Some(Scopes::FULL),
        description: Some(None),
        ..rename("Renamed")
    };
    let after = k.update(r.id, update).unwrap();
    assert!(after.is_plain(), "{after:?}");
    assert!(
        k.create(&mut OsRng, account("a"), name("Sender"), Timestamp(160))
            .is_ok()
    );
    let p = k
        .verify(t.expose_secret().as_bytes(), Timestamp(170))
        .unwrap();
    assert_eq!(p.token_name(), "Renamed");
    assert!(p.has_scope("tokens:manage"));
    assert!(matches!(
        k.update("0123456789abcdef".parse().unwrap(), TokenUpdate::default()),
        Err(KeyringError::UnknownToken(_))
    ));
}

#[test]
fn sync_applies_a_change_to_the_fields_beyond_the_seed() {
    // A follower's resync: a token disabled (or rescoped) in the store
    // must be refused here too, though its secret did not change.
    let k = Keyring::new();
    let (t, r) = issue(&k, "a", "n");
    let mut disabled = r.clone();
    disabled.disabled = true;
    k.sync([disabled.clone()]).unwrap();
    assert!(!accepts(&k, &t, 150));
    let mut scoped = r.clone();
    scoped.scopes = Scopes::only(["messages:send"]).unwrap();
    k.sync([scoped]).unwrap();
    let p = k
        .verify(t.expose_secret().as_bytes(), Timestamp(150))
        .unwrap();
    assert!(!p.has_scope("tokens:manage"));
    // And a bulk load keeps them.
    let loaded = Keyring::from_records(*k.format(), [disabled]).unwrap();
    assert!(
        loaded
            .verify(t.expose_secret().as_bytes(), Timestamp(150))
            .is_err()
    );
    assert!(loaded.get(r.id).unwrap().disabled);
}

#[test]
fn last_used_is_batched() {
    let k = Keyring::new();
    let (t, r) = issue(&k, "a", "n");
    assert!(k.take_last_used().is_empty());
    for at in [500, 500, 501, 499] {
        assert!(accepts(&k, &t, at));
    }
    assert_eq!(k.take_last_used(), vec![(r.id, Timestamp(501))]);
    assert!(k.take_last_used().is_empty(), "taken once");
    assert_eq!(k.get(r.id).unwrap().last_used_at, Some(Timestamp(501)));
    assert!(accepts(&k, &t, 502));
    assert_eq!(k.take_last_used(), vec![(r.id, Timestamp(502))]);
    // Regeneration keeps the activity of the id.
    k.regenerate(&mut OsRng, r.id, Timestamp(600), None)
        .unwrap();
    assert_eq!(k.get(r.id).unwrap().last_used_at, Some(Timestamp(502)));
    // A use the host has not taken yet survives regeneration and sync, and
    // stays queued once: further uses are not queued twice.
    let (t2, _) = k
        .regenerate(&mut OsRng, r.id, Timestamp(600), None)
        .unwrap();
    assert!(accepts(&k, &t2, 700));
    let (t3, _) = k
        .regenerate(&mut OsRng, r.id, Timestamp(701), None)
        .unwrap();
    assert!(accepts(&k, &t3, 710));
    // Another process regenerated it and stored an older use: sync installs
    // that secret and keeps the later use from memory.
    let store = Keyring::new();
    store.add(k.get(r.id).unwrap()).unwrap();
    let (t4, mut stored) = store
        .regenerate(&mut OsRng, r.id, Timestamp(720), None)
        .unwrap();
    stored.last_used_at = Some(Timestamp(650));
    k.sync([stored]).unwrap();
    assert_eq!(k.get(r.id).unwrap().last_used_at, Some(Timestamp(710)));
    assert!(!accepts(&k, &t3, 730) && accepts(&k, &t4, 730));
    assert_eq!(k.take_last_used(), vec![(r.id, Timestamp(730))]);
}

#[test]
fn sync_follows_a_changing_store() {
    let k = Keyring::new();
    let (t1, r1) = issue(&k, "a", "one");
    let (t2, r2) = issue(&k, "a", "two");
    let store = Keyring::new();
    store.add(r1.clone()).unwrap();
    store.add(r2.clone()).unwrap();
    let (t3, _) = issue(&store, "b", "three");
    let (t1b, _) = store
        .regenerate(&mut OsRng, r1.id, Timestamp(150), None)
        .unwrap();
    store.delete(r2.id).unwrap();

    k.sync(store.list(None)).unwrap();
    assert!(!accepts(&k, &t1, 200) && accepts(&k, &t1b, 200));
    assert!(!accepts(&k, &t2, 200));
    assert!(accepts(&k, &t3, 200));
    assert_eq!(k.len(), 2);
    // The freed name can be used again: the name index followed too.
    issue(&k, "a", "two");

    let dup = vec![r1.clone(), r1.clone()];
    assert!(k.sync(dup).is_err());
    assert_eq!(k.len(), 3, "a refused sync changes nothing");
}

/// A generator that always fails.
struct BrokenRng;

impl TryRng for BrokenRng {
    type Error = std::io::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Err(std::io::Error::other("entropy source down"))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Err(std::io::Error::other("entropy source down"))
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        Err(std::io::Error::other("entropy source down"))
    }
}
impl TryCryptoRng for BrokenRng {}

#[test]
fn a_failing_rng_is_an_error_and_changes_nothing() {
    let k = Keyring::new();
    let err = k
        .create(&mut BrokenRng, account("a"), name("n"), Timestamp(1))
        .unwrap_err();
    assert_eq!(err, KeyringError::Rng(RngError));
    assert!(k.is_empty());
    let (t, r) = issue(&k, "a", "n");
    assert!(
        k.regenerate(&mut BrokenRng, r.id, Timestamp(2), None)
            .is_err()
    );
    assert!(accepts(&k, &t, 2), "the token is unchanged");
}

/// A "generator" that returns the same bytes every time.
struct StuckRng;

impl TryRng for StuckRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(7)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(7)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(7);
        Ok(())
    }
}
impl TryCryptoRng for StuckRng {}

#[test]
fn a_stuck_rng_cannot_loop_forever() {
    let k = Keyring::new();
    let (_, first) = k
        .create(&mut StuckRng, account("a"), name("one"), Timestamp(1))
        .unwrap();
    let err = k
        .create(&mut StuckRng, account("a"), name("two"), Timestamp(1))
        .unwrap_err();
    assert_eq!(err, KeyringError::DuplicateId(first.id));
    assert_eq!(k.len(), 1);
}

#[test]
fn debug_output_never_shows_the_secret() {
    let k = Keyring::new();
    let (t, r) = issue(&k, "a", "n");
    let secret_part = &t.expose_secret()[17..49];
    let principal = k
        .verify(t.expose_secret().as_bytes(), Timestamp(1))
        .unwrap();
    let parsed = whatsgate_auth::host_records::parse(t.expose_secret().as_bytes()).unwrap();
    for shown in [
        format!("{t:?}"),
        format!("{r:?}"),
        format!("{principal:?}"),
        format!("{parsed:?}"),
        format!("{k:?}"),
    ] {
        assert!(!shown.contains(secret_part), "{shown}");
        assert!(!shown.contains(t.expose_secret()), "{shown}");
    }
    // Positive control: the check above does see a secret when one is there.
    assert!(format!("{:?}", t.expose_secret()).contains(secret_part));
}

/// Runs `rounds` races between `threads` verifiers and one revoker. Returns
/// how many verifications started after the revocation returned and still
/// accepted the token.
fn revocation_race<S: Sync>(
    rounds: usize,
    threads: usize,
    setup: impl Fn() -> S,
    verify: impl Fn(&S) -> bool + Sync,
    revoke: impl Fn(&S) + Sync,
) -> usize {
    let violations = AtomicUsize::new(0);
    for round in 0..rounds {
        let state = setup();
        let revoked = AtomicBool::new(false);
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let started_after_revoke = revoked.load(Ordering::SeqCst);
                        let accepted = verify(&state);
                        if started_after_revoke {
                            if accepted {
                                violations.fetch_add(1, Ordering::Relaxed);
                            }
                            break;
                        }
                    }
                });
            }
            s.spawn(|| {
                // Let the verifiers get going, differently each round.
                for _ in 0..(round % 7) * 50 {
                    std::hint::spin_loop();
                }
                revoke(&state);
                revoked.store(true, Ordering::SeqCst);
            });
        });
    }
    violations.into_inner()
}

fn rounds() -> usize {
    if cfg!(miri) { 3 } else { 300 }
}

#[test]
fn no_verification_after_remove_returns_accepts_the_token() {
    let violations = revocation_race(
        rounds(),
        3,
        || {
            let k = Keyring::new();
            let (t, r) = issue(&k, "a", "n");
            (k, t, r)
        },
        |(k, t, _)| accepts(k, t, 100),
        |(k, _, r)| {
            k.delete(r.id).unwrap();
        },
    );
    assert_eq!(violations, 0);
}

#[test]
fn no_verification_after_regenerate_returns_accepts_the_old_token() {
    let violations = revocation_race(
        rounds(),
        3,
        || {
            let k = Keyring::new();
            let (t, r) = issue(&k, "a", "n");
            (k, t, r)
        },
        |(k, t, _)| accepts(k, t, 100),
        |(k, _, r)| {
            k.regenerate(&mut OsRng, r.id, Timestamp(100), None)
                .unwrap();
        },
    );
    assert_eq!(violations, 0);
}

#[test]
fn no_verification_after_a_bulk_resync_returns_accepts_a_token_it_dropped() {
    let violations = revocation_race(
        rounds(),
        3,
        || {
            let k = Keyring::new();
            let (t, r) = issue(&k, "a", "n");
            for i in 0..8 {
                issue(&k, "b", &format!("kept {i}"));
            }
            let rest: Vec<TokenRecord> = k
                .list(None)
                .into_iter()
                .filter(|kept| kept.id != r.id)
                .collect();
            (k, t, rest)
        },
        |(k, t, _)| accepts(k, t, 100),
        |(k, _, rest)| {
            assert!(k.replace_all(rest.iter().cloned()).is_empty());
        },
    );
    assert_eq!(violations, 0);
}

#[test]
fn the_race_detects_a_keyring_that_lags_behind_removal() {
    // Positive control: a verifier that trusts a snapshot taken before the
    // removal (as a naive cache would) must be caught.
    let violations = revocation_race(
        rounds().min(20),
        2,
        || {
            let k = Keyring::new();
            let (t, r) = issue(&k, "a", "n");
            let snapshot = Arc::new(k.list(None));
            (k, t, r, snapshot)
        },
        |(_, t, _, snapshot)| {
            let stale = Keyring::new();
            stale.sync(snapshot.iter().cloned()).unwrap();
            accepts(&stale, t, 100)
        },
        |(k, _, r, _)| {
            k.delete(r.id).unwrap();
        },
    );
    assert!(
        violations > 0,
        "the race check could not see a stale verifier"
    );
}

#[test]
fn many_threads_verify_while_tokens_come_and_go() {
    let k = Arc::new(Keyring::new());
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let stable: Vec<Token> = (0..16)
        .map(|i| {
            k.create(
                &mut rng,
                account("a"),
                name(&format!("stable {i}")),
                Timestamp(1),
            )
            .unwrap()
            .0
        })
        .collect();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    for t in &stable {
                        assert!(accepts(&k, t, 2));
                    }
                }
            });
        }
        s.spawn(|| {
            let mut rng = ChaCha20Rng::from_seed([10; 32]);
            for i in 0..if cfg!(miri) { 5 } else { 2_000 } {
                let (_, r) = k
                    .create(
                        &mut rng,
                        account("b"),
                        name(&format!("churn {i}")),
                        Timestamp(1),
                    )
                    .unwrap();
                k.regenerate(&mut rng, r.id, Timestamp(1), None).unwrap();
                k.delete(r.id).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(k.len(), 16);
}

#[test]
fn an_unavailable_keyring_answers_503_to_every_token_and_recovers() {
    use whatsgate_auth::{Failure, Profile};
    let keyring = Keyring::new();
    let now = Timestamp(1_790_000_000);
    let (token, record) = keyring
        .create(
            &mut OsRng,
            AccountId::new("acct_42").unwrap(),
            TokenName::new("Production API").unwrap(),
            now,
        )
        .unwrap();
    let good = token.expose_secret().as_bytes();
    assert!(keyring.is_available());
    keyring.set_available(false);
    for profile in [Profile::Rest, Profile::Mcp] {
        let scheme: &[u8] = match profile {
            Profile::Rest => b"",
            Profile::Mcp => b"Bearer ",
        };
        // A good token and a bad one alike: 503, never 200 and never "invalid".
        for token in [good, &b"wgat_not_a_token"[..]] {
            let value = [scheme, token].concat();
            let value = &value[..];
            let rejection = keyring.authenticate(profile, [value], now).unwrap_err();
            assert_eq!(rejection.failure, Failure::Unavailable);
            assert_eq!(
                (rejection.status(), rejection.retry_after()),
                (503, Some(1))
            );
        }
        // No token: the seed's answer, which needs no store.
        let missing = keyring.authenticate(profile, [], now).unwrap_err();
        assert_eq!(missing.failure, Failure::Missing);
    }
    assert!(keyring.verify(good, now).is_err());
    // Lifecycle calls still work while unavailable.
    keyring.delete(record.id).unwrap();
    keyring.add(record).unwrap();
    keyring.set_available(true);
    assert_eq!(keyring.verify(good, now).unwrap().account(), "acct_42");
    assert!(keyring.authenticate(Profile::Rest, [good], now).is_ok());
}

#[test]
fn replace_applies_a_store_change_and_evicts_a_name_holder() {
    use whatsgate_auth::TokenFormat;
    let keyring = Keyring::new();
    let now = Timestamp(1_790_000_000);
    let account = AccountId::new("acct_42").unwrap();
    let (old_token, mut record) = TokenRecord::create(
        &TokenFormat::DEFAULT,
        &mut OsRng,
        account.clone(),
        TokenName::new("Production API").unwrap(),
        now,
    )
    .unwrap();
    assert!(keyring.replace(record.clone()).is_empty());
    assert!(
        keyring
            .verify(old_token.expose_secret().as_bytes(), now)
            .is_ok()
    );
    // Memory's last use is kept when the store's row is older.
    let later = Timestamp(now.0 + 60);
    keyring
        .verify(old_token.expose_secret().as_bytes(), later)
        .unwrap();

    // The same id with a new secret and a new name: the old secret is refused
    // once replace returns, and the old name is free again.
    let new_token = record
        .regenerate(&TokenFormat::DEFAULT, &mut OsRng, now, None)
        .unwrap();
    record.name = TokenName::new("Renamed").unwrap();
    assert!(keyring.replace(record.clone()).is_empty());
    assert!(
        keyring
            .verify(old_token.expose_secret().as_bytes(), later)
            .is_err()
    );
    assert!(
        keyring
            .verify(new_token.expose_secret().as_bytes(), later)
            .is_ok()
    );
    assert_eq!(keyring.get(record.id).unwrap().last_used_at, Some(later));
    let (_, other) = keyring
        .create(
            &mut OsRng,
            account.clone(),
            TokenName::new("Production API").unwrap(),
            now,
        )
        .unwrap();

    // Another id taking a held name evicts its holder (the store's later
    // change for the holder follows).
    let (third_token, mut third) = TokenRecord::create(
        &TokenFormat::DEFAULT,
        &mut OsRng,
        account,
        TokenName::new("Third").unwrap(),
        now,
    )
    .unwrap();
    third.name = TokenName::new("Renamed").unwrap();
    assert_eq!(keyring.replace(third), vec![record.id]);
    assert!(
        keyring
            .verify(new_token.expose_secret().as_bytes(), later)
            .is_err()
    );
    assert!(
        keyring
            .verify(third_token.expose_secret().as_bytes(), later)
            .is_ok()
    );
    assert_eq!(keyring.len(), 2);
    assert!(keyring.discard(other.id).is_some());
    assert!(keyring.discard(other.id).is_none());
}

#[test]
fn revoke_all_and_prune_delete_exactly_what_they_name() {
    let k = Keyring::new();
    let (a1, _) = issue(&k, "a", "one");
    let (a2, _) = issue(&k, "a", "two");
    let (b1, _) = issue(&k, "b", "one");
    let mut spec = NewToken::new(account("b"), name("short-lived"));
    spec.expires_at = Some(Timestamp(200));
    let (b2, _) = k.create_from(&mut OsRng, spec, Timestamp(100)).unwrap();
    let (b3, r3) = issue(&k, "b", "disabled");
    let disable = TokenUpdate {
        disabled: Some(true),
        ..TokenUpdate::default()
    };
    k.update(r3.id, disable).unwrap();

    // Before its expiry nothing is pruned; at it, only the expired token.
    assert!(k.prune(Timestamp(199)).is_empty());
    let pruned = k.prune(Timestamp(200));
    assert_eq!(
        pruned.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["short-lived"]
    );
    assert!(k.get(r3.id).is_some(), "disabled, not expired: kept");
    assert!(!accepts(&k, &b2, 150));

    let revoked = k.revoke_all("a");
    let mut names: Vec<_> = revoked.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["one", "two"]);
    assert!(!accepts(&k, &a1, 150) && !accepts(&k, &a2, 150));
    assert!(accepts(&k, &b1, 150), "another account's token is kept");
    assert!(!accepts(&k, &b3, 150));
    assert!(k.revoke_all("a").is_empty());
    // The names are free again.
    assert!(
        k.create(&mut OsRng, account("a"), name("one"), Timestamp(300))
            .is_ok()
    );
    assert_eq!(k.len(), 3);
}
