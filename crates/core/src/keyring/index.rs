//! What writers keep beside the id map: which token holds each account and
//! name, one shared string per account, and the check of a whole batch of
//! records (a bulk load) before any of it is applied.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::KeyringError;
use super::store::NameHasher;
use crate::record::TokenRecord;
use crate::token::TokenId;

/// Which token holds each (account, name): an open-addressing table of
/// ids (8 bytes a slot, in one allocation), placed by a keyed hash of the
/// pair, so no string is copied. A lookup yields the ids along the pair's
/// probe run, and the caller keeps the one whose record holds the pair
/// (writers only: a few record lookups per write).
#[derive(Default)]
pub(super) struct Names {
    ids: Vec<TokenId>,
    state: Vec<u8>,
    /// Live and dead slots.
    used: usize,
}

const NAME_EMPTY: u8 = 0;
const NAME_LIVE: u8 = 1;
const NAME_DEAD: u8 = 2;

impl Names {
    /// Room for `n` pairs at most 80 % full.
    fn with_capacity(n: usize) -> Self {
        let slots = n.saturating_mul(5) / 4 + 16;
        Self {
            ids: alloc::vec![TokenId::from_bytes([0; 8]); slots],
            state: alloc::vec![NAME_EMPTY; slots],
            used: 0,
        }
    }

    /// A table of the pairs given, in increasing hash order (a bulk load's
    /// sort), filled front to back.
    fn from_sorted(pairs: impl ExactSizeIterator<Item = (u64, TokenId)>) -> Self {
        let mut names = Self::with_capacity(pairs.len());
        for (hash, id) in pairs {
            names.put(hash, id);
        }
        names
    }

    fn home(&self, hash: u64) -> usize {
        // Truncation intended: the high 64 bits of a 128-bit product.
        #[allow(clippy::cast_possible_truncation)]
        let home = ((u128::from(hash) * self.ids.len() as u128) >> 64) as usize;
        home
    }

    /// The slots of the probe run that starts at `hash`'s home.
    fn run(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let len = self.ids.len();
        let home = if len == 0 { 0 } else { self.home(hash) };
        (0..len)
            .map(move |step| (home + step) % len)
            .take_while(|&i| self.state[i] != NAME_EMPTY)
    }

    /// The ids that may hold the pair hashed to `hash`.
    pub(super) fn candidates(&self, hash: u64) -> impl Iterator<Item = TokenId> + '_ {
        self.run(hash)
            .filter(|&i| self.state[i] == NAME_LIVE)
            .map(|i| self.ids[i])
    }

    /// Puts `id` at the first free slot of the run (the caller made sure it
    /// is not there and that there is room).
    fn put(&mut self, hash: u64, id: TokenId) {
        let len = self.ids.len();
        let mut i = self.home(hash);
        while self.state[i] == NAME_LIVE {
            i = (i + 1) % len;
        }
        if self.state[i] == NAME_EMPTY {
            self.used += 1;
        }
        self.state[i] = NAME_LIVE;
        self.ids[i] = id;
    }

    /// Notes that `id` holds the pair hashed to `hash` (once, however often
    /// it is called). `hash_of` gives the pair's hash of any id held, for
    /// a rebuild when the table fills.
    pub(super) fn add(&mut self, hash: u64, id: TokenId, hash_of: impl Fn(TokenId) -> u64) {
        if self
            .run(hash)
            .any(|i| self.state[i] == NAME_LIVE && self.ids[i] == id)
        {
            return;
        }
        if (self.used + 1) * 5 > self.ids.len() * 4 {
            let held: Vec<TokenId> = self.candidates_all().collect();
            let mut grown = Self::with_capacity(2 * (held.len() + 1));
            for held in held {
                grown.put(hash_of(held), held);
            }
            *self = grown;
        }
        self.put(hash, id);
    }

    fn candidates_all(&self) -> impl Iterator<Item = TokenId> + '_ {
        self.state
            .iter()
            .zip(&self.ids)
            .filter(|(state, _)| **state == NAME_LIVE)
            .map(|(_, id)| *id)
    }

    /// Forgets that `id` holds the pair hashed to `hash`.
    pub(super) fn remove(&mut self, hash: u64, id: TokenId) {
        let found = self
            .run(hash)
            .find(|&i| self.state[i] == NAME_LIVE && self.ids[i] == id);
        if let Some(i) = found {
            self.state[i] = NAME_DEAD;
        }
    }
}

/// An account's string, shared by its tokens (a thin pointer, so the
/// index's line holds it in 8 bytes).
pub(crate) struct AccountName(Box<str>);

impl AccountName {
    #[cfg(all(test, feature = "std"))]
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

        // Equal ids, by sorting the load keys alone (8 bytes a record, never
        // the records themselves: half what sorting them with their indexes
        // moves); only when two are equal, the indexes, to name the records.
        let mut keys: Vec<u64> = records.iter().map(|r| order(r.id)).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
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
        }

        // Equal (account, name) pairs: equal hashes first, then the strings
        // of the few records that share a hash.
        // Each with its id, so the name index is built from this list in
        // hash order without looking a record up again (a cache miss each).
        let mut by_name: Vec<(u64, usize, TokenId)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (hasher.hash(r.account.as_str(), r.name.as_str()), i, r.id))
            .collect();
        by_name.sort_unstable_by_key(|&(hash, i, _)| (hash, i));
        let key = |i: usize| (records[i].account.as_str(), records[i].name.as_str());
        for run in by_name.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| key(a.1).cmp(&key(b.1)));
                for same in run.chunk_by(|a, b| key(a.1) == key(b.1)) {
                    for &(_, i, _) in same.iter().filter(|_| same.len() > 1) {
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
        let kept: Vec<(u64, TokenId)> = by_name
            .into_iter()
            .filter(|&(_, i, _)| keep[i])
            .map(|(hash, _, id)| (hash, id))
            .collect();
        let names = Names::from_sorted(kept.into_iter());

        // Sorted load keys of the records kept: all of them, unless some
        // were refused (rare), then counted again without those.
        let kept_keys = if refused.is_empty() {
            keys
        } else {
            let mut kept: Vec<u64> = records
                .iter()
                .zip(&keep)
                .filter(|(_, keep)| **keep)
                .map(|(r, _)| order(r.id))
                .collect();
            kept.sort_unstable();
            kept
        };
        Self {
            records,
            keep,
            refused,
            names,
            kept_keys,
        }
    }

    /// How many records are kept.
    pub(super) fn kept(&self) -> usize {
        self.kept_keys.len()
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
