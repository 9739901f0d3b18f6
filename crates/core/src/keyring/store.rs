//! The keyring's id → entry map and its locks, one backend per feature set.
//!
//! With `std`, the map is `papaya`'s lock-free hash map: readers never take a
//! lock and write only their own thread's reservation slot, so verification
//! scales across threads and no writer can stall it. Without `std` (no threads to park), a `spin` RwLock
//! guards a `BTreeMap`; writers hold it only for one insert or remove.
//!
//! The name index's hash is keyed per keyring with `std`, so no one can
//! aim names at a collision; without `std` the key is fixed (a collision
//! costs a writer time, never a wrong answer).

#[cfg(feature = "std")]
mod imp {
    extern crate std;

    use crate::token::{TokenId, TokenIdHash};

    pub(crate) struct Map<V>(papaya::HashMap<TokenId, V, TokenIdHash>);

    impl<V: Send + Sync> Map<V> {
        pub(crate) fn new() -> Self {
            Self(papaya::HashMap::with_hasher(TokenIdHash))
        }

        /// Room for `additional` more entries, so a bulk load never resizes.
        pub(crate) fn reserve(&self, additional: usize) {
            self.0.pin().reserve(additional);
        }

        /// Inserts many entries under one guard (one pin, not one per entry).
        pub(crate) fn insert_all(&self, entries: impl IntoIterator<Item = (TokenId, V)>) {
            let map = self.0.pin();
            for (id, value) in entries {
                map.insert(id, value);
            }
        }

        pub(crate) fn with<R>(&self, id: &TokenId, f: impl FnOnce(&V) -> R) -> Option<R> {
            self.0.pin().get(id).map(f)
        }

        pub(crate) fn insert(&self, id: TokenId, value: V) {
            self.0.pin().insert(id, value);
        }

        pub(crate) fn remove(&self, id: &TokenId) -> bool {
            self.0.pin().remove(id).is_some()
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&TokenId, &V)) {
            self.0.pin().iter().for_each(|(id, v)| f(id, v));
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    /// A mutex for writers and bookkeeping; a poisoned lock is still used
    /// (every critical section leaves its data consistent).
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    /// A random key for the name index's hash, from the process's random
    /// seed (`RandomState`).
    pub(crate) fn hash_key() -> [u64; 2] {
        use core::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        [state.hash_one(1u64), state.hash_one(2u64)]
    }

    /// The order in which a bulk load inserts `n` ids: papaya starts each
    /// probe at `hash & mask`, and its table for `n` entries has at least
    /// `n` slots, so sorting by the low `log2(n)` bits of the hash first
    /// (rotated to the top) makes the inserts sweep the table in a few
    /// streams instead of missing the cache at every one. A bijection of
    /// the id, so equal keys are equal ids.
    #[derive(Clone, Copy)]
    pub(crate) struct LoadOrder(u32);

    impl LoadOrder {
        pub(crate) fn new(n: usize) -> Self {
            Self(n.max(2).ilog2())
        }

        pub(crate) fn key(self, id: TokenId) -> u64 {
            id.hash_key().rotate_right(self.0)
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use alloc::collections::BTreeMap;

    use crate::token::TokenId;

    pub(crate) struct Map<V>(spin::RwLock<BTreeMap<TokenId, V>>);

    impl<V> Map<V> {
        pub(crate) fn new() -> Self {
            Self(spin::RwLock::new(BTreeMap::new()))
        }

        pub(crate) fn with<R>(&self, id: &TokenId, f: impl FnOnce(&V) -> R) -> Option<R> {
            self.0.read().get(id).map(f)
        }

        pub(crate) fn insert(&self, id: TokenId, value: V) {
            self.0.write().insert(id, value);
        }

        pub(crate) fn reserve(&self, _additional: usize) {}

        /// One write lock per entry: readers wait for one insert at most.
        pub(crate) fn insert_all(&self, entries: impl IntoIterator<Item = (TokenId, V)>) {
            for (id, value) in entries {
                self.insert(id, value);
            }
        }

        pub(crate) fn remove(&self, id: &TokenId) -> bool {
            self.0.write().remove(id).is_some()
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&TokenId, &V)) {
            self.0.read().iter().for_each(|(id, v)| f(id, v));
        }

        pub(crate) fn len(&self) -> usize {
            self.0.read().len()
        }
    }

    pub(crate) struct Mutex<T>(spin::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(spin::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> spin::MutexGuard<'_, T> {
            self.0.lock()
        }
    }

    /// A fixed key for the name index's hash (no source of randomness here).
    pub(crate) fn hash_key() -> [u64; 2] {
        [0x7767_6175_7468_6e61, 0x6d65_7369_6e64_6578]
    }

    /// The order in which a bulk load inserts ids: the map's own (a
    /// `BTreeMap` is filled fastest in key order). Equal keys are equal ids.
    #[derive(Clone, Copy)]
    pub(crate) struct LoadOrder;

    impl LoadOrder {
        pub(crate) fn new(_n: usize) -> Self {
            Self
        }

        pub(crate) fn key(self, id: TokenId) -> u64 {
            u64::from_be_bytes(id.to_bytes())
        }
    }
}

pub(crate) use imp::{LoadOrder, Map, Mutex};

/// The hash of the name index and of the account strings: a keyed
/// folded-multiply hash (as in `foldhash`), a few nanoseconds for a name
/// where SipHash took ten times that, which a bulk load pays two million
/// times. Not a MAC: with the key unknown (random per keyring with `std`)
/// collisions cannot be aimed, and a collision only costs a writer a
/// string comparison, never a wrong answer.
pub(crate) struct NameHasher([u64; 2]);

/// Folds the 128-bit product of `a` and `b` into 64 bits.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    // Truncation intended: the low and high halves are folded together.
    #[allow(clippy::cast_possible_truncation)]
    let (low, high) = (product as u64, (product >> 64) as u64);
    low ^ high
}

impl NameHasher {
    pub(crate) fn new() -> Self {
        Self(imp::hash_key())
    }

    /// Absorbs `bytes`, with its length (so no two sequences of strings
    /// feed the same words), into `state`.
    fn absorb(&self, state: u64, bytes: &[u8]) -> u64 {
        const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;
        let [k0, k1] = [self.0[0], self.0[1] ^ SPREAD];
        let mut state = fold(bytes.len() as u64 ^ k0, state ^ k1);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            state = fold(u64::from_le_bytes(word) ^ k0, state ^ k1);
        }
        state
    }

    /// The hash of an account and a name, for the name index.
    pub(crate) fn hash(&self, account: &str, name: &str) -> u64 {
        let state = self.absorb(self.0[0], account.as_bytes());
        fold(self.absorb(state, name.as_bytes()), self.0[1])
    }

    /// The hash of an account alone, for interning.
    pub(crate) fn hash_account(&self, account: &str) -> u64 {
        fold(self.absorb(!self.0[0], account.as_bytes()), self.0[1])
    }
}

/// When a token last authenticated a request, updated without a lock.
///
/// Seconds since the epoch in an `AtomicU64`, or an `AtomicU32` (saturating
/// in 2106) on targets without 64-bit atomics, such as Cortex-M.
pub(crate) struct LastUsed {
    #[cfg(target_has_atomic = "64")]
    secs: core::sync::atomic::AtomicU64,
    #[cfg(not(target_has_atomic = "64"))]
    secs: core::sync::atomic::AtomicU32,
}

impl LastUsed {
    pub(crate) fn new(at: Option<crate::Timestamp>) -> Self {
        let secs = at.map_or(0, |t| t.0);
        #[cfg(not(target_has_atomic = "64"))]
        let secs = u32::try_from(secs).unwrap_or(u32::MAX);
        Self { secs: secs.into() }
    }

    pub(crate) fn get(&self) -> Option<crate::Timestamp> {
        let secs = self.secs.load(core::sync::atomic::Ordering::Relaxed);
        // A no-op conversion where the atomic is 64-bit.
        #[allow(clippy::useless_conversion)]
        (secs != 0).then(|| crate::Timestamp(u64::from(secs)))
    }

    /// Moves the instant forward to `now`; returns whether it changed. Reads
    /// before it writes, so a token used many times a second writes shared
    /// memory at most once a second.
    pub(crate) fn advance(&self, now: crate::Timestamp) -> bool {
        use core::sync::atomic::Ordering::Relaxed;
        #[cfg(not(target_has_atomic = "64"))]
        let now = u32::try_from(now.0).unwrap_or(u32::MAX);
        #[cfg(target_has_atomic = "64")]
        let now = now.0;
        self.secs.load(Relaxed) < now && self.secs.fetch_max(now, Relaxed) < now
    }
}
