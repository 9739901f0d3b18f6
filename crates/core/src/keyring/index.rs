//! What writers keep beside the id map: which token holds each account and
//! name, one shared string per account, and the check of a whole batch of
//! records (a bulk load) before any of it is applied.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::KeyringError;
use super::store::NameHasher;
use crate::record::TokenRecord;
use crate::token::TokenId;

/// Which tokens hold each (account, name), keyed by a 64-bit keyed hash of
/// the pair, so the index copies no string: the entry of each id in a slot
/// says whether it really holds the pair (nearly always one id, the one).
#[derive(Default)]
pub(super) struct Names(BTreeMap<u64, Slot>);

enum Slot {
    One(TokenId),
    /// Pairs whose hashes collide (kept correct, never expected in practice).
    Many(Vec<TokenId>),
}

impl Slot {
    fn ids(&self) -> &[TokenId] {
        match self {
            Self::One(id) => core::slice::from_ref(id),
            Self::Many(ids) => ids,
        }
    }
}

impl Names {
    /// The ids that may hold the pair hashed to `hash`.
    pub(super) fn candidates(&self, hash: u64) -> &[TokenId] {
        self.0.get(&hash).map_or(&[], Slot::ids)
    }

    /// Notes that `id` holds the pair hashed to `hash` (once, however often
    /// it is called).
    pub(super) fn add(&mut self, hash: u64, id: TokenId) {
        match self.0.get_mut(&hash) {
            None => {
                self.0.insert(hash, Slot::One(id));
            }
            Some(slot) => match slot {
                Slot::One(held) if *held == id => {}
                Slot::One(held) => *slot = Slot::Many(alloc::vec![*held, id]),
                Slot::Many(ids) if !ids.contains(&id) => ids.push(id),
                Slot::Many(_) => {}
            },
        }
    }

    /// Forgets that `id` holds the pair hashed to `hash`.
    pub(super) fn remove(&mut self, hash: u64, id: TokenId) {
        if let Some(slot) = self.0.get_mut(&hash) {
            match slot {
                Slot::One(held) if *held == id => {
                    self.0.remove(&hash);
                }
                Slot::One(_) => {}
                Slot::Many(ids) => {
                    ids.retain(|held| *held != id);
                    if let [only] = ids[..] {
                        *slot = Slot::One(only);
                    }
                }
            }
        }
    }
}

/// An account's string, shared by its tokens (a thin pointer, so the
/// index's line holds it in 8 bytes).
pub(crate) struct AccountName(Box<str>);

impl AccountName {
    #[cfg(test)]
    pub(crate) fn new(account: &str) -> Self {
        Self(account.into())
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// One shared string per account, so a million tokens of a thousand
/// accounts hold a thousand account strings: an open-addressing table by
/// the keyring's keyed hash (one probe, one comparison per lookup, which a
/// bulk load does a million times).
#[derive(Default)]
pub(super) struct Accounts {
    /// A power of two long (or empty), at most half full.
    slots: Vec<Option<Arc<AccountName>>>,
    len: usize,
}

impl Accounts {
    /// The slot that holds `account`, or the free one where it would go.
    fn slot(&self, hash: u64, account: &str) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        // Truncation intended: the low bits pick the slot.
        #[allow(clippy::cast_possible_truncation)]
        let mut i = hash as usize & mask;
        loop {
            match &self.slots[i] {
                None => return Err(i),
                Some(shared) if shared.as_str() == account => return Ok(i),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// The shared string for `account`, made if needed.
    pub(super) fn intern(&mut self, hasher: &NameHasher, account: &str) -> Arc<AccountName> {
        self.intern_from(None, hasher, account)
    }

    /// As [`Accounts::intern`], taking `old`'s string when it has one (a
    /// new set built while `old` still serves: unchanged entries keep
    /// sharing theirs).
    pub(super) fn intern_from(
        &mut self,
        old: Option<&Self>,
        hasher: &NameHasher,
        account: &str,
    ) -> Arc<AccountName> {
        let hash = hasher.hash_account(account);
        if !self.slots.is_empty()
            && let Ok(i) = self.slot(hash, account)
            && let Some(shared) = &self.slots[i]
        {
            return Arc::clone(shared);
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow(hasher);
        }
        let shared = old
            .filter(|old| !old.slots.is_empty())
            .and_then(|old| {
                old.slot(hash, account)
                    .ok()
                    .and_then(|i| old.slots[i].clone())
            })
            .unwrap_or_else(|| Arc::new(AccountName(account.into())));
        if let Err(free) = self.slot(hash, account) {
            self.slots[free] = Some(Arc::clone(&shared));
            self.len += 1;
        }
        shared
    }

    /// Doubles the table (at least), dropping the accounts no token holds
    /// any more: the table stays within twice the accounts in use.
    fn grow(&mut self, hasher: &NameHasher) {
        let kept: Vec<Arc<AccountName>> = core::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .filter(|shared| Arc::strong_count(shared) > 1)
            .collect();
        let size = (4 * (kept.len() + 1)).next_power_of_two().max(16);
        self.slots = (0..size).map(|_| None).collect();
        self.len = kept.len();
        for shared in kept {
            if let Err(free) = self.slot(hasher.hash_account(shared.as_str()), shared.as_str()) {
                self.slots[free] = Some(shared);
            }
        }
    }
}

/// A batch of records, checked as a whole: which contradict one another,
/// and the name index of the rest.
pub(super) struct Batch {
    /// The records, in the order given.
    pub(super) records: Vec<TokenRecord>,
    /// Whether each record is kept.
    pub(super) keep: Vec<bool>,
    /// The indexes of the records kept, in the order to insert them.
    pub(super) load: Vec<usize>,
    /// The records left out, in the order given: the index of each and why.
    pub(super) refused: Vec<(usize, KeyringError)>,
    pub(super) names: Names,
    /// The load keys of the records kept, sorted.
    kept_keys: Vec<u64>,
}

impl Batch {
    /// Checks `records` as a whole. Every record that shares its id, or its
    /// account and name, with another record of the batch is left out,
    /// whatever the order: the batch contradicts itself there, and no
    /// choice between the two would be more right than the other.
    /// `order` is the map's load order (its hash of an id: a bijection).
    pub(super) fn check<I>(records: I, hasher: &NameHasher, order: impl Fn(TokenId) -> u64) -> Self
    where
        I: IntoIterator<Item = TokenRecord>,
    {
        let records: Vec<TokenRecord> = records.into_iter().collect();
        let mut refused = Vec::new();
        let mut keep = alloc::vec![true; records.len()];

        // Equal ids, by sorting (load key, index): 16 bytes a record, never
        // the records themselves; the same order is the order of insertion.
        let mut by_id: Vec<(u64, usize)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (order(r.id), i))
            .collect();
        by_id.sort_unstable();
        for run in by_id
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            for &(_, i) in run {
                keep[i] = false;
                refused.push((i, KeyringError::DuplicateId(records[i].id)));
            }
        }

        // Equal (account, name) pairs: equal hashes first, then the strings
        // of the few records that share a hash.
        let mut by_name: Vec<(u64, usize)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (hasher.hash(r.account.as_str(), r.name.as_str()), i))
            .collect();
        by_name.sort_unstable();
        let key = |i: usize| (records[i].account.as_str(), records[i].name.as_str());
        for run in by_name.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| key(a.1).cmp(&key(b.1)));
                for same in run.chunk_by(|a, b| key(a.1) == key(b.1)) {
                    for &(_, i) in same.iter().filter(|_| same.len() > 1) {
                        if keep[i] {
                            keep[i] = false;
                            refused.push((
                                i,
                                KeyringError::DuplicateName {
                                    account: records[i].account.clone(),
                                    name: records[i].name.clone(),
                                },
                            ));
                        }
                    }
                }
            }
        }
        refused.sort_unstable_by_key(|(i, _)| *i);

        // The index of the records kept, already in hash order.
        let mut slots: Vec<(u64, Slot)> = Vec::with_capacity(by_name.len());
        for (hash, i) in by_name.into_iter().filter(|&(_, i)| keep[i]) {
            match slots.last_mut() {
                Some((last, slot)) if *last == hash => match slot {
                    Slot::One(held) => *slot = Slot::Many(alloc::vec![*held, records[i].id]),
                    Slot::Many(ids) => ids.push(records[i].id),
                },
                _ => slots.push((hash, Slot::One(records[i].id))),
            }
        }
        // Sorted input: the map is built in one pass.
        let names = Names(slots.into_iter().collect());

        let (kept_keys, load) = by_id.into_iter().filter(|&(_, i)| keep[i]).unzip();
        Self {
            records,
            keep,
            load,
            refused,
            names,
            kept_keys,
        }
    }

    /// How many records are kept.
    pub(super) fn kept(&self) -> usize {
        self.load.len()
    }

    /// The ids of `held` that no record kept has: one sort and one merge,
    /// not a search per id.
    pub(super) fn missing(
        &self,
        held: Vec<TokenId>,
        order: impl Fn(TokenId) -> u64,
    ) -> Vec<TokenId> {
        let mut held: Vec<(u64, TokenId)> = held.into_iter().map(|id| (order(id), id)).collect();
        held.sort_unstable_by_key(|&(key, _)| key);
        let mut kept = self.kept_keys.iter().peekable();
        held.into_iter()
            .filter(|&(key, _)| {
                while kept.next_if(|&&k| k < key).is_some() {}
                kept.peek() != Some(&&key)
            })
            .map(|(_, id)| id)
            .collect()
    }

    /// The id of the record at `index`.
    pub(super) fn id(&self, index: usize) -> Option<TokenId> {
        self.records.get(index).map(|r| r.id)
    }
}
