//! The keyring's locks, hashes and last-use cell, one backend per feature
//! set (the map itself is `table` with `std`, `btree` without).
//!
//! The name index's hash is keyed per keyring with `std`, so no one can
//! aim names at a collision; without `std` the key is fixed (a collision
//! costs a writer time, never a wrong answer).

#[cfg(feature = "std")]
mod imp {
    extern crate std;

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
}

#[cfg(not(feature = "std"))]
mod imp {
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
}

pub(crate) use imp::{Mutex, hash_key};

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
        Self(hash_key())
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

    /// A key for the map's own hash of ids, derived from this one's.
    pub(crate) fn map_key(&self) -> [u64; 2] {
        [
            fold(self.0[0], 0x243f_6a88_85a3_08d3),
            fold(self.0[1], 0x1319_8a2e_0370_7344),
        ]
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

/// When a token last authenticated a request, updated without a lock:
/// seconds since the epoch in an `AtomicU32` (4 bytes of the index's line;
/// saturating in 2106, like every target without 64-bit atomics).
pub(crate) struct LastUsed(core::sync::atomic::AtomicU32);

impl LastUsed {
    pub(crate) fn new(at: Option<crate::Timestamp>) -> Self {
        Self(Self::secs(at).into())
    }

    fn secs(at: Option<crate::Timestamp>) -> u32 {
        at.map_or(0, |t| u32::try_from(t.0).unwrap_or(u32::MAX))
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<crate::Timestamp> {
        let secs = self.0.load(core::sync::atomic::Ordering::Relaxed);
        (secs != 0).then(|| crate::Timestamp(u64::from(secs)))
    }

    /// Sets it (a writer filling a slot of the index).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn set(&self, at: Option<crate::Timestamp>) {
        self.0
            .store(Self::secs(at), core::sync::atomic::Ordering::Relaxed);
    }

    /// Moves the instant forward to `now`; returns whether it changed. Reads
    /// before it writes, so a token used many times a second writes shared
    /// memory at most once a second.
    #[inline]
    pub(crate) fn advance(&self, now: crate::Timestamp) -> bool {
        use core::sync::atomic::Ordering::Relaxed;
        let now = Self::secs(Some(now));
        self.0.load(Relaxed) < now && self.0.fetch_max(now, Relaxed) < now
    }
}
