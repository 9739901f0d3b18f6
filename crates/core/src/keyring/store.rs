//! The keyring's id → entry map and its locks, one backend per feature set.
//!
//! With `std`, the map is `papaya`'s lock-free hash map: readers never take a
//! lock and write only their own thread's reservation slot, so verification
//! scales across threads and no writer can stall it. Without `std` (no threads to park), a `spin` RwLock
//! guards a `BTreeMap`; writers hold it only for one insert or remove.

#[cfg(feature = "std")]
mod imp {
    extern crate std;

    use crate::token::{TokenId, TokenIdHash};

    pub(crate) struct Map<V>(papaya::HashMap<TokenId, V, TokenIdHash>);

    impl<V: Send + Sync> Map<V> {
        pub(crate) fn new() -> Self {
            Self(papaya::HashMap::with_hasher(TokenIdHash))
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
}

pub(crate) use imp::{Map, Mutex};

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
