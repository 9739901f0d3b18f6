//! The keyring's map without `std`: a `BTreeMap` behind a `spin` RwLock
//! (no threads to park, so no lock-free index; writers hold the lock for
//! one insert or remove). The same calls as the index (`table`), simpler.

use alloc::collections::BTreeMap;

use super::entry::{Content, Hit, HitName, View};
use super::store::LastUsed;
use crate::time::Timestamp;
use crate::token::TokenId;
use crate::verifier::Verifier;

struct Stored {
    content: Content,
    last_used: LastUsed,
}

pub(crate) struct Map(spin::RwLock<BTreeMap<TokenId, Stored>>);

/// A lookup about to happen: the read lock, held until it is dropped.
pub(crate) struct Pinned<'t> {
    map: spin::RwLockReadGuard<'t, BTreeMap<TokenId, Stored>>,
    id: TokenId,
}

impl Map {
    pub(crate) fn new(_key: [u64; 2]) -> Self {
        Self(spin::RwLock::new(BTreeMap::new()))
    }

    /// The order of a bulk load: the map's own (a `BTreeMap` is filled
    /// fastest in key order). A bijection: equal keys are equal ids.
    pub(crate) fn hash(&self, id: TokenId) -> u64 {
        u64::from_be_bytes(id.to_bytes())
    }

    pub(crate) fn pin(&self, id: TokenId) -> Pinned<'_> {
        Pinned {
            map: self.0.read(),
            id,
        }
    }

    /// Verifies `presented` for the pinned id.
    pub(crate) fn verify_pinned<'p>(
        pinned: &'p Pinned<'_>,
        presented: &Verifier,
        now: Timestamp,
    ) -> Option<(Hit<'p>, &'p LastUsed)> {
        let stored = pinned.map.get(&pinned.id)?;
        let c = &stored.content;
        let hit = Hit {
            accepted: c.accepts(presented, now),
            account: c.account.as_str(),
            name: HitName::Long(&c.name),
            scopes: c.scopes(),
        };
        Some((hit, &stored.last_used))
    }

    pub(crate) fn with<R>(
        &self,
        id: TokenId,
        f: impl FnOnce(&View<'_>, &LastUsed) -> R,
    ) -> Option<R> {
        self.0
            .read()
            .get(&id)
            .map(|stored| f(&stored.content.view(), &stored.last_used))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.read().len()
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(TokenId, &View<'_>, Option<Timestamp>)) {
        for (id, stored) in self.0.read().iter() {
            f(*id, &stored.content.view(), stored.last_used.get());
        }
    }

    pub(crate) fn content(&self, id: TokenId) -> Option<(Content, Option<Timestamp>)> {
        self.0
            .read()
            .get(&id)
            .map(|stored| (stored.content.clone(), stored.last_used.get()))
    }

    pub(crate) fn reserve(&self, _additional: usize) {}

    pub(crate) fn put(&self, id: TokenId, content: Content, last_used: Option<Timestamp>) {
        let mut map = self.0.write();
        let last_used = map
            .get(&id)
            .and_then(|old| old.last_used.get())
            .max(last_used);
        map.insert(
            id,
            Stored {
                content,
                last_used: LastUsed::new(last_used),
            },
        );
    }

    pub(crate) fn remove(&self, id: TokenId) -> bool {
        self.0.write().remove(&id).is_some()
    }

    /// One write lock per token: readers wait for one insert at most.
    pub(crate) fn load(
        &self,
        _n: usize,
        tokens: impl Iterator<Item = (TokenId, Content, Option<Timestamp>)>,
    ) {
        for (id, content, last_used) in tokens {
            self.put(id, content, last_used);
        }
    }

    pub(crate) fn advance(&self, id: TokenId, at: Timestamp) {
        if let Some(stored) = self.0.read().get(&id) {
            stored.last_used.advance(at);
        }
    }

    pub(crate) fn last_used(&self, id: TokenId) -> Option<Timestamp> {
        self.0
            .read()
            .get(&id)
            .and_then(|stored| stored.last_used.get())
    }
}
