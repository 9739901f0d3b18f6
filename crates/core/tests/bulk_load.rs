//! The bulk load (`Keyring::from_records`, `sync`, `replace_all`) against a
//! simple model, and what a keyring loaded in bulk does afterwards.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use whatsgate_auth::{
    AccountId, Keyring, KeyringError, OsRng, Timestamp, Token, TokenFormat, TokenId, TokenName,
    TokenRecord, Verifier,
};

const IDS: u8 = 10;
const SECRETS: usize = 2;
const ACCOUNTS: [&str; 3] = ["acct_a", "acct_b", "acct_c"];
const NAMES: [&str; 3] = ["Production API", "Testing", "CI"];

/// For each small id, two tokens (secrets) and their verifiers, made once.
fn pool() -> &'static Vec<Vec<(Token, Verifier)>> {
    static POOL: std::sync::OnceLock<Vec<Vec<(Token, Verifier)>>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_seed([21; 32]);
        (0..IDS)
            .map(|i| {
                (0..SECRETS)
                    .map(|_| TokenFormat::DEFAULT.generate_for(id(i), &mut rng).unwrap())
                    .collect()
            })
            .collect()
    })
}

fn id(i: u8) -> TokenId {
    TokenId::from_bytes([i, 0x5a, 1, 2, 3, 4, 5, 6])
}

/// A record drawn from small sets, so that batches repeat ids and names.
#[derive(Debug, Clone, Copy)]
struct Draw {
    id: u8,
    secret: usize,
    account: usize,
    name: usize,
    last_used: Option<u64>,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        0..IDS,
        0..SECRETS,
        0..ACCOUNTS.len(),
        0..NAMES.len(),
        proptest::option::of(1u64..50),
    )
        .prop_map(|(id, secret, account, name, last_used)| Draw {
            id,
            secret,
            account,
            name,
            last_used,
        })
}

fn record(d: Draw) -> TokenRecord {
    TokenRecord {
        id: id(d.id),
        account: AccountId::new(ACCOUNTS[d.account]).unwrap(),
        name: TokenName::new(NAMES[d.name]).unwrap(),
        verifier: pool()[usize::from(d.id)][d.secret].1,
        created_at: Timestamp(1),
        last_used_at: d.last_used.map(Timestamp),
        rollover: None,
        scopes: whatsgate_auth::Scopes::FULL,
        expires_at: None,
        disabled: false,
        description: None,
    }
}

/// The model: the indexes of the draws a bulk load must leave out (each
/// shares its id or its account and name with another draw), and why.
fn model_refused(draws: &[Draw]) -> Vec<(usize, bool)> {
    let mut ids = BTreeMap::<u8, usize>::new();
    let mut names = BTreeMap::<(usize, usize), usize>::new();
    for d in draws {
        *ids.entry(d.id).or_default() += 1;
        *names.entry((d.account, d.name)).or_default() += 1;
    }
    draws
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            if ids[&d.id] > 1 {
                Some((i, true))
            } else if names[&(d.account, d.name)] > 1 {
                Some((i, false))
            } else {
                None
            }
        })
        .collect()
}

/// What the keyring holds, as comparable values.
fn contents(k: &Keyring) -> BTreeSet<(TokenId, String, String, [u8; 32])> {
    k.list(None)
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.account.to_string(),
                r.name.to_string(),
                r.verifier.to_bytes(),
            )
        })
        .collect()
}

fn expected(
    draws: &[Draw],
    refused: &[(usize, bool)],
) -> BTreeSet<(TokenId, String, String, [u8; 32])> {
    let out: BTreeSet<usize> = refused.iter().map(|(i, _)| *i).collect();
    draws
        .iter()
        .enumerate()
        .filter(|(i, _)| !out.contains(i))
        .map(|(_, d)| {
            let r = record(*d);
            (
                r.id,
                r.account.to_string(),
                r.name.to_string(),
                r.verifier.to_bytes(),
            )
        })
        .collect()
}

/// Every pool token is accepted exactly when the keyring holds its record
/// with that secret.
fn check_verification(k: &Keyring, held: &BTreeSet<(TokenId, String, String, [u8; 32])>) {
    let held: BTreeMap<TokenId, [u8; 32]> = held.iter().map(|(id, _, _, v)| (*id, *v)).collect();
    for (i, secrets) in pool().iter().enumerate() {
        for (token, verifier) in secrets {
            let want = held.get(&id(u8::try_from(i).unwrap())) == Some(&verifier.to_bytes());
            let got = k
                .verify(token.expose_secret().as_bytes(), Timestamp(100))
                .is_ok();
            assert_eq!(got, want, "token of id {i}");
        }
    }
}

/// The name index after a bulk load: every held name is taken, every other
/// one free, and removing a token frees its name.
fn check_names(k: &Keyring, held: &BTreeSet<(TokenId, String, String, [u8; 32])>) {
    let mut rng = ChaCha20Rng::from_seed([22; 32]);
    for account in ACCOUNTS {
        for name in NAMES {
            let taken = held.iter().any(|(_, a, n, _)| a == account && n == name);
            let issued = k.create(
                &mut rng,
                AccountId::new(account).unwrap(),
                TokenName::new(name).unwrap(),
                Timestamp(2),
            );
            match issued {
                Err(KeyringError::DuplicateName { .. }) => assert!(taken, "{account}/{name}"),
                Ok((_, r)) => {
                    assert!(!taken, "{account}/{name} issued twice");
                    k.delete(r.id).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    for (id, account, name, _) in held {
        let r = k.delete(*id).unwrap();
        assert!(matches!(
            k.add(TokenRecord {
                id: *id,
                ..r.clone()
            }),
            Ok(())
        ));
        assert_eq!(k.add(r), Err(KeyringError::DuplicateId(*id)));
        let mut other = record(Draw {
            id: 0,
            secret: 0,
            account: 0,
            name: 0,
            last_used: None,
        });
        other.id = TokenId::from_bytes([0xff; 8]);
        other.account = AccountId::new(account).unwrap();
        other.name = TokenName::new(name).unwrap();
        assert!(matches!(
            k.add(other),
            Err(KeyringError::DuplicateName { .. })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

    #[test]
    fn a_bulk_load_keeps_exactly_the_records_that_agree(
        first in proptest::collection::vec(draw(), 0..12),
        second in proptest::collection::vec(draw(), 0..12),
    ) {
        let refused = model_refused(&first);
        let records: Vec<TokenRecord> = first.iter().copied().map(record).collect();

        // The strict constructor: all or nothing, naming the first conflict.
        match Keyring::from_records(TokenFormat::DEFAULT, records.clone()) {
            Ok(k) => {
                prop_assert!(refused.is_empty());
                prop_assert_eq!(contents(&k), expected(&first, &refused));
            }
            Err(e) => {
                let &(i, by_id) = refused.first().unwrap();
                let want = if by_id {
                    KeyringError::DuplicateId(records[i].id)
                } else {
                    KeyringError::DuplicateName {
                        account: records[i].account.clone(),
                        name: records[i].name.clone(),
                    }
                };
                prop_assert_eq!(e, want);
            }
        }

        // The lenient load: the rest, and each record left out reported.
        let k = Keyring::new();
        let reported = k.replace_all(records.clone());
        let want: Vec<(TokenId, bool)> =
            refused.iter().map(|&(i, by_id)| (records[i].id, by_id)).collect();
        let got: Vec<(TokenId, bool)> = reported
            .iter()
            .map(|(id, why)| (*id, matches!(why, KeyringError::DuplicateId(_))))
            .collect();
        prop_assert_eq!(got, want);
        let held = expected(&first, &refused);
        prop_assert_eq!(contents(&k), held.clone());
        check_verification(&k, &held);

        // A resync onto a keyring that already holds tokens, some used since.
        for (token, _) in pool().iter().flatten() {
            let _ = k.verify(token.expose_secret().as_bytes(), Timestamp(30));
        }
        let before: BTreeMap<TokenId, Option<Timestamp>> =
            k.list(None).into_iter().map(|r| (r.id, r.last_used_at)).collect();
        let refused2 = model_refused(&second);
        let records2: Vec<TokenRecord> = second.iter().copied().map(record).collect();
        prop_assert_eq!(k.replace_all(records2.clone()).len(), refused2.len());
        let held2 = expected(&second, &refused2);
        prop_assert_eq!(contents(&k), held2.clone());
        // Last use: the later of memory (for a token kept, even if changed)
        // and the record.
        for r in k.list(None) {
            let stored = records2.iter().find(|s| s.id == r.id).unwrap().last_used_at;
            let memory = before.get(&r.id).copied().flatten();
            prop_assert_eq!(r.last_used_at, memory.max(stored));
        }
        check_verification(&k, &held2);
        check_names(&k, &held2);
    }
}

fn issued(n: usize, accounts: usize) -> (Vec<Token>, Vec<TokenRecord>) {
    let mut rng = ChaCha20Rng::from_seed([23; 32]);
    (0..n)
        .map(|i| {
            TokenRecord::create(
                &TokenFormat::DEFAULT,
                &mut rng,
                AccountId::new(&format!("acct_{}", i % accounts)).unwrap(),
                TokenName::new(&format!("token {i}")).unwrap(),
                Timestamp(1),
            )
            .unwrap()
        })
        .unzip()
}

#[test]
fn an_empty_batch_loads_an_empty_keyring_and_empties_a_full_one() {
    let k = Keyring::from_records(TokenFormat::DEFAULT, []).unwrap();
    assert!(k.is_empty());
    let (token, record) = k
        .create(
            &mut OsRng,
            AccountId::new("a").unwrap(),
            TokenName::new("n").unwrap(),
            Timestamp(1),
        )
        .unwrap();
    assert!(k.replace_all([]).is_empty());
    assert!(k.is_empty());
    assert!(
        k.verify(token.expose_secret().as_bytes(), Timestamp(2))
            .is_err()
    );
    // Its name is free again.
    k.add(record).unwrap();
}

#[test]
fn duplicates_leave_out_every_record_involved() {
    let (tokens, records) = issued(4, 2);
    let mut same_name = records[2].clone();
    same_name.id = TokenId::from_bytes([9; 8]);
    let batch = vec![
        records[0].clone(),
        records[1].clone(),
        records[0].clone(),
        records[2].clone(),
        same_name,
        records[3].clone(),
    ];
    let err = Keyring::from_records(TokenFormat::DEFAULT, batch.clone()).unwrap_err();
    assert_eq!(err, KeyringError::DuplicateId(records[0].id));
    let k = Keyring::new();
    let left_out = k.replace_all(batch);
    let ids: Vec<TokenId> = left_out.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [
            records[0].id,
            records[0].id,
            records[2].id,
            TokenId::from_bytes([9; 8])
        ]
    );
    assert!(matches!(left_out[3].1, KeyringError::DuplicateName { .. }));
    let accepted: Vec<bool> = tokens
        .iter()
        .map(|t| k.verify(t.expose_secret().as_bytes(), Timestamp(2)).is_ok())
        .collect();
    assert_eq!(accepted, [false, true, false, true]);
    // `sync` is strict: nothing changes.
    assert!(
        k.sync(records.iter().cloned().chain([records[1].clone()]))
            .is_err()
    );
    assert_eq!(k.len(), 2);
}

#[test]
fn a_bulk_load_shares_each_account_string() {
    let (tokens, records) = issued(40, 4);
    let k = Keyring::from_records(TokenFormat::DEFAULT, records).unwrap();
    let account_ptr = |t: &Token| {
        k.verify_with(t.expose_secret().as_bytes(), Timestamp(2), |p| {
            (p.account().to_owned(), p.account().as_ptr())
        })
        .unwrap()
    };
    let mut seen = BTreeMap::new();
    for t in &tokens {
        let (account, ptr) = account_ptr(t);
        assert_eq!(*seen.entry(account).or_insert(ptr), ptr);
    }
    assert_eq!(seen.len(), 4);
    // And a token added later shares it too.
    let (t, _) = k
        .create(
            &mut OsRng,
            AccountId::new("acct_1").unwrap(),
            TokenName::new("later").unwrap(),
            Timestamp(1),
        )
        .unwrap();
    assert_eq!(account_ptr(&t).1, seen["acct_1"]);
    // Positive control: equal strings made separately do not share.
    let (a, b) = (String::from("acct_1"), String::from("acct_1"));
    assert_ne!(a.as_ptr(), b.as_ptr());
}

#[test]
fn a_large_bulk_load_holds_what_one_built_record_by_record_holds() {
    let n = if cfg!(miri) { 200 } else { 100_000 };
    let (tokens, records) = issued(n, 1000);
    let bulk = Keyring::from_records(TokenFormat::DEFAULT, records.clone()).unwrap();
    let one_by_one = Keyring::new();
    for r in records {
        one_by_one.add(r).unwrap();
    }
    assert_eq!(bulk.len(), n);
    assert_eq!(contents(&bulk), contents(&one_by_one));
    for t in tokens.iter().step_by(97) {
        assert!(
            bulk.verify(t.expose_secret().as_bytes(), Timestamp(2))
                .is_ok()
        );
    }
    // A resync that drops one token refuses it, and keeps the rest.
    let first = &tokens[0];
    let rest = bulk.list(None).into_iter().filter(|r| r.id != first.id());
    assert!(bulk.replace_all(rest).is_empty());
    assert_eq!(bulk.len(), n - 1);
    assert!(
        bulk.verify(first.expose_secret().as_bytes(), Timestamp(2))
            .is_err()
    );
    assert!(
        bulk.verify(tokens[1].expose_secret().as_bytes(), Timestamp(2))
            .is_ok()
    );
}
