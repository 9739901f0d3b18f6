//! Sequences of keyring operations checked against a simple model: a map
//! from id to (record, current token, previous token and the end of its
//! grace period, last use). After every operation the keyring must accept
//! exactly the tokens the model accepts (a disabled or expired record
//! accepts none), lend the record's scopes, and hold the same records.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use whatsgate_auth::{
    AccountId, Keyring, KeyringError, NewToken, Profile, Scopes, Timestamp, TokenFormat, TokenId,
    TokenName, TokenRecord, TokenUpdate,
};
use whatsgate_auth_fuzz::{FailingRng, SeqRng};

#[derive(Arbitrary, Debug)]
enum Op {
    Issue {
        account: u8,
        name: u8,
    },
    /// Create with scopes and an expiry (`create_from`).
    IssueWith {
        account: u8,
        name: u8,
        expires_in: Option<u8>,
        scopes: u8,
    },
    /// Rename, rescope, disable or enable (`update`).
    Update {
        slot: u8,
        name: Option<u8>,
        scopes: Option<u8>,
        disabled: Option<bool>,
    },
    IssueRngFails {
        account: u8,
        name: u8,
        ok_fills: u8,
    },
    Remove {
        slot: u8,
    },
    Regenerate {
        slot: u8,
        grace: Option<u8>,
    },
    RegenerateRngFails {
        slot: u8,
    },
    Reinsert {
        slot: u8,
    },
    Verify {
        token: u8,
        change: Option<(u8, u8)>,
    },
    Authenticate {
        token: u8,
        mcp: bool,
    },
    Advance {
        secs: u8,
    },
    TakeLastUsed,
    /// Sync to the model's records whose bit is set in `keep`, one of them
    /// regenerated elsewhere (as another process sharing the database would).
    Sync {
        keep: u16,
        regenerate: Option<u8>,
        /// One record disabled or enabled elsewhere.
        toggle: Option<u8>,
    },
}

/// Scopes from a byte: full access, or a subset of three.
fn scopes(bits: u8) -> Scopes {
    if bits & 0x80 != 0 {
        return Scopes::FULL;
    }
    let names = ["messages:send", "devices:*", "tokens:manage"];
    Scopes::only(
        names
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n),
    )
    .unwrap_or_else(|e| panic!("scopes: {e}"))
}

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    ops: Vec<Op>,
}

#[derive(Clone)]
struct Model {
    record: TokenRecord,
    current: Vec<u8>,
    previous: Option<(Vec<u8>, Timestamp)>,
}

struct State {
    keyring: Keyring,
    now: Timestamp,
    rng: SeqRng,
    live: BTreeMap<TokenId, Model>,
    /// Records that were removed, with their tokens, for `Reinsert`.
    removed: Vec<Model>,
    /// Every token text ever issued.
    tokens: Vec<Vec<u8>>,
    /// Model of last use: what the keyring should know per live id.
    last_used: BTreeMap<TokenId, Timestamp>,
    /// Ids whose last use moved since the last `take_last_used`.
    dirty: BTreeSet<TokenId>,
}

fn label(account: u8, name: u8) -> (AccountId, TokenName) {
    let account =
        AccountId::new(&format!("acct_{}", account % 3)).unwrap_or_else(|e| panic!("account: {e}"));
    let name =
        TokenName::new(&format!("token {}", name % 4)).unwrap_or_else(|e| panic!("name: {e}"));
    (account, name)
}

impl State {
    fn model_accepts(&self, text: &[u8]) -> Option<TokenId> {
        self.live.iter().find_map(|(id, m)| {
            let current = m.current == text;
            let previous = m
                .previous
                .as_ref()
                .is_some_and(|(old, until)| old == text && self.now < *until);
            (m.record.is_active(self.now) && (current || previous)).then_some(*id)
        })
    }

    fn name_taken(&self, account: &AccountId, name: &TokenName) -> bool {
        self.live
            .values()
            .any(|m| &m.record.account == account && &m.record.name == name)
    }

    fn slot(&self, slot: u8) -> Option<TokenId> {
        if self.live.is_empty() {
            return None;
        }
        self.live
            .keys()
            .nth(usize::from(slot) % self.live.len())
            .copied()
    }

    fn check_verify(&mut self, text: &[u8]) {
        let want = self.model_accepts(text);
        let got = self.keyring.verify(text, self.now);
        assert_eq!(
            got.as_ref().ok().map(|p| p.token_id()),
            want,
            "verify disagrees with the model"
        );
        if let (Ok(principal), Some(id)) = (got, want) {
            let m = &self.live[&id];
            assert_eq!(principal.account(), m.record.account.as_str());
            assert_eq!(principal.token_name(), m.record.name.as_str());
            assert_eq!(principal.scopes(), &m.record.scopes);
            for required in ["messages:send", "devices:list", "tokens:manage"] {
                assert_eq!(
                    principal.has_scope(required),
                    m.record.scopes.allows(required)
                );
            }
            self.used(id);
        }
    }

    fn used(&mut self, id: TokenId) {
        let last = self.last_used.entry(id).or_insert(Timestamp(0));
        if *last < self.now {
            *last = self.now;
            self.dirty.insert(id);
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Issue { account, name } => {
                let (account, name) = label(account, name);
                let taken = self.name_taken(&account, &name);
                match self.keyring.create(&mut self.rng, account, name, self.now) {
                    Ok((token, record)) => {
                        assert!(!taken, "issued a duplicate name");
                        let text = token.expose_secret().as_bytes().to_vec();
                        self.tokens.push(text.clone());
                        self.last_used.insert(record.id, Timestamp(0));
                        self.live.insert(
                            record.id,
                            Model {
                                record,
                                current: text,
                                previous: None,
                            },
                        );
                    }
                    Err(KeyringError::DuplicateName { .. }) => assert!(taken),
                    Err(e) => panic!("issue: {e}"),
                }
            }
            Op::IssueWith {
                account,
                name,
                expires_in,
                scopes: bits,
            } => {
                let (account, name) = label(account, name);
                let taken = self.name_taken(&account, &name);
                let mut spec = NewToken::new(account, name);
                spec.scopes = scopes(bits);
                spec.expires_at = expires_in.map(|e| self.now.plus_secs(u64::from(e % 4)));
                let past = spec.expires_at.is_some_and(|at| at <= self.now);
                match self.keyring.create_from(&mut self.rng, spec, self.now) {
                    Ok((token, record)) => {
                        assert!(!taken && !past, "created a duplicate name or a dead token");
                        let text = token.expose_secret().as_bytes().to_vec();
                        self.tokens.push(text.clone());
                        self.last_used.insert(record.id, Timestamp(0));
                        self.live.insert(
                            record.id,
                            Model {
                                record,
                                current: text,
                                previous: None,
                            },
                        );
                    }
                    Err(KeyringError::Policy(_)) => assert!(past),
                    Err(KeyringError::DuplicateName { .. }) => assert!(taken),
                    Err(e) => panic!("create_from: {e}"),
                }
            }
            Op::Update {
                slot,
                name,
                scopes: bits,
                disabled,
            } => {
                let Some(id) = self.slot(slot) else { return };
                let m = &self.live[&id];
                let new_name = name.map(|n| label(0, n).1);
                let taken = new_name.as_ref().is_some_and(|n| {
                    self.live.values().any(|o| {
                        o.record.id != id
                            && o.record.account == m.record.account
                            && &o.record.name == n
                    })
                });
                let update = TokenUpdate {
                    name: new_name,
                    scopes: bits.map(scopes),
                    disabled,
                    ..TokenUpdate::default()
                };
                let mut want = m.record.clone();
                want.apply(update.clone());
                match self.keyring.update(id, update) {
                    Ok(record) => {
                        assert!(!taken, "renamed onto a taken name");
                        assert_eq!(record.name, want.name);
                        assert_eq!(record.scopes, want.scopes);
                        assert_eq!(record.disabled, want.disabled);
                        let m = self.live.get_mut(&id).unwrap_or_else(|| unreachable!());
                        m.record.name = want.name;
                        m.record.scopes = want.scopes;
                        m.record.disabled = want.disabled;
                    }
                    Err(KeyringError::DuplicateName { .. }) => assert!(taken),
                    Err(e) => panic!("update: {e}"),
                }
            }
            Op::IssueRngFails {
                account,
                name,
                ok_fills,
            } => {
                let (account, name) = label(account, name);
                let mut rng = FailingRng {
                    ok_fills: u32::from(ok_fills % 2),
                    inner: SeqRng(self.rng.0 ^ 1),
                };
                let before = self.keyring.len();
                let result = self.keyring.create(&mut rng, account, name, self.now);
                assert!(matches!(
                    result,
                    Err(KeyringError::Rng(_) | KeyringError::DuplicateName { .. })
                ));
                assert_eq!(self.keyring.len(), before);
            }
            Op::Remove { slot } => {
                let Some(id) = self.slot(slot) else {
                    let unknown = TokenId::from_bytes([0xff; 8]);
                    assert!(self.keyring.delete(unknown).is_err());
                    return;
                };
                let removed = self
                    .keyring
                    .delete(id)
                    .unwrap_or_else(|e| panic!("delete: {e}"));
                assert_eq!(removed.id, id);
                let mut m = self.live.remove(&id).unwrap_or_else(|| unreachable!());
                m.record.last_used_at = self.last_used.remove(&id).filter(|t| t.0 != 0);
                self.dirty.remove(&id);
                assert!(self.keyring.delete(id).is_err(), "removed twice");
                self.removed.push(m);
            }
            Op::Regenerate { slot, grace } => {
                let Some(id) = self.slot(slot) else { return };
                let grace_until = grace.map(|g| Timestamp(self.now.0 + u64::from(g % 8)));
                let (token, record) = self
                    .keyring
                    .regenerate(&mut self.rng, id, self.now, grace_until)
                    .unwrap_or_else(|e| panic!("regenerate: {e}"));
                let text = token.expose_secret().as_bytes().to_vec();
                self.tokens.push(text.clone());
                let m = self.live.get_mut(&id).unwrap_or_else(|| unreachable!());
                let old = std::mem::replace(&mut m.current, text);
                m.previous = grace_until
                    .filter(|until| *until > self.now)
                    .map(|until| (old, until));
                assert_eq!(record.id, id);
                assert_eq!(record.account, m.record.account);
                assert_eq!(record.name, m.record.name);
                m.record = record;
            }
            Op::RegenerateRngFails { slot } => {
                let Some(id) = self.slot(slot) else { return };
                let mut rng = FailingRng {
                    ok_fills: 0,
                    inner: SeqRng(0),
                };
                let result = self.keyring.regenerate(&mut rng, id, self.now, None);
                assert!(matches!(result, Err(KeyringError::Rng(_))));
            }
            Op::Reinsert { slot } => {
                if self.removed.is_empty() {
                    return;
                }
                let m = self.removed[usize::from(slot) % self.removed.len()].clone();
                let id = m.record.id;
                let duplicate_id = self.live.contains_key(&id);
                let taken = self.name_taken(&m.record.account, &m.record.name);
                match self.keyring.add(m.record.clone()) {
                    Ok(()) => {
                        assert!(!duplicate_id && !taken, "insert accepted a duplicate");
                        self.last_used
                            .insert(id, m.record.last_used_at.unwrap_or(Timestamp(0)));
                        self.live.insert(id, m);
                    }
                    Err(KeyringError::DuplicateId(dup)) => {
                        assert!(duplicate_id);
                        assert_eq!(dup, id);
                    }
                    Err(KeyringError::DuplicateName { .. }) => assert!(taken && !duplicate_id),
                    Err(e) => panic!("insert: {e}"),
                }
            }
            Op::Verify { token, change } => {
                if self.tokens.is_empty() {
                    self.check_verify(b"wgat_");
                    return;
                }
                let mut text = self.tokens[usize::from(token) % self.tokens.len()].clone();
                if let Some((index, byte)) = change {
                    let i = usize::from(index) % text.len();
                    text[i] = byte;
                }
                self.check_verify(&text);
            }
            Op::Authenticate { token, mcp } => {
                if self.tokens.is_empty() {
                    return;
                }
                let text = self.tokens[usize::from(token) % self.tokens.len()].clone();
                let (profile, value) = if mcp {
                    (Profile::Mcp, [b"Bearer ".as_slice(), &text].concat())
                } else {
                    (Profile::Rest, text.clone())
                };
                let want = self.model_accepts(&text);
                let got = self
                    .keyring
                    .authenticate(profile, [value.as_slice()], self.now);
                assert_eq!(got.as_ref().ok().map(|p| p.token_id()), want);
                if let Some(id) = want {
                    self.used(id);
                }
            }
            Op::Advance { secs } => self.now = Timestamp(self.now.0 + u64::from(secs % 4)),
            Op::TakeLastUsed => {
                let taken = self.keyring.take_last_used();
                let ids: BTreeSet<TokenId> = taken.iter().map(|(id, _)| *id).collect();
                for (id, at) in &taken {
                    assert_eq!(Some(at), self.last_used.get(id), "last use of {id}");
                }
                for id in &self.dirty {
                    assert!(ids.contains(id), "last use of {id} not reported");
                }
                self.dirty.clear();
            }
            Op::Sync {
                keep,
                regenerate,
                toggle,
            } => {
                let mut records = Vec::new();
                let mut next = BTreeMap::new();
                for (i, (id, m)) in self.live.iter().enumerate() {
                    if keep & (1 << (i % 16)) == 0 {
                        continue;
                    }
                    let mut m = m.clone();
                    if regenerate.is_some_and(|r| usize::from(r) % 16 == i % 16) {
                        let token = m
                            .record
                            .regenerate(&TokenFormat::DEFAULT, &mut self.rng, self.now, None)
                            .unwrap_or_else(|_| panic!("SeqRng never fails"));
                        let text = token.expose_secret().as_bytes().to_vec();
                        self.tokens.push(text.clone());
                        m.current = text;
                        m.previous = None;
                    }
                    if toggle.is_some_and(|t| usize::from(t) % 16 == i % 16) {
                        m.record.disabled = !m.record.disabled;
                    }
                    records.push(m.record.clone());
                    next.insert(*id, m);
                }
                self.keyring
                    .sync(records)
                    .unwrap_or_else(|e| panic!("sync: {e}"));
                for (id, m) in std::mem::take(&mut self.live) {
                    if !next.contains_key(&id) {
                        self.last_used.remove(&id);
                        self.dirty.remove(&id);
                        self.removed.push(m);
                    }
                }
                self.live = next;
            }
        }
    }

    fn check_records(&self) {
        assert_eq!(self.keyring.len(), self.live.len());
        let records = self.keyring.list(None);
        assert_eq!(records.len(), self.live.len());
        for record in records {
            let m = self
                .live
                .get(&record.id)
                .unwrap_or_else(|| panic!("keyring holds {} that the model does not", record.id));
            assert_eq!(record.account, m.record.account);
            assert_eq!(record.name, m.record.name);
            assert_eq!(record.verifier.to_bytes(), m.record.verifier.to_bytes());
            assert_eq!(record.scopes, m.record.scopes);
            assert_eq!(record.expires_at, m.record.expires_at);
            assert_eq!(record.disabled, m.record.disabled);
            let last = self.last_used.get(&record.id).copied().filter(|t| t.0 != 0);
            assert_eq!(record.last_used_at, last, "last use of {}", record.id);
        }
    }
}

fuzz_target!(|input: Input| {
    let mut state = State {
        keyring: Keyring::new(),
        now: Timestamp(1_000),
        rng: SeqRng(input.seed),
        live: BTreeMap::new(),
        removed: Vec::new(),
        tokens: Vec::new(),
        last_used: BTreeMap::new(),
        dirty: BTreeSet::new(),
    };
    for op in input.ops.iter().take(64) {
        state.apply(op);
        state.check_records();
    }
    // Every token ever issued is accepted exactly when the model says so.
    for text in state.tokens.clone() {
        state.check_verify(&text);
    }
});
