//! The verification index (with `std`): an open-addressing table of 64-byte
//! slots, one per token, each holding what verification needs (id,
//! verifier, account, state) in one cache line, plus a 32-byte cold cell
//! with the name, stored beside it (slots and cells in 192-byte pairs, so
//! both share a page). The home slot of an id is known as soon as the token
//! is decoded, so both are prefetched while the SHA-256 runs.
//!
//! - **Probing**: linear, from a keyed hash of the id (no one can aim ids
//!   at one run of slots), at most `max_probe` slots past home.
//! - **Readers** take no lock and write nothing shared but a token's
//!   last-used second (at most once a second): a `seize` guard (its own
//!   thread's reservation) and the slot protocol of `slot.rs`.
//! - **Writers** are serialised by the keyring. Deleted slots stay dead
//!   until the table is rebuilt; a rebuild (on growth, or when dead slots
//!   pile up) copies the live slots into a new table, publishes it with one
//!   pointer swap, and retires the old one to `seize`.
//!
//! docs/BENCHMARKS.md ("The verification index") has the layout diagram and
//! the ordering argument.

#![allow(unsafe_code)]

mod slot;
pub(crate) mod sync;

use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use alloc::vec::Vec;

use seize::{Collector, Guard as _, LocalGuard};

use crate::keyring::entry::Hit;
use crate::keyring::entry::{Content, View};
use slot::{Cold, Garbage, Probe, Slot};

use crate::time::Timestamp;
use crate::token::TokenId;

/// The most slots that may be in use (live or dead), per 1024: beyond, the
/// table is rebuilt. (Linear probing's runs grow quickly past ~90 %.)
const MAX_USED_PER_1024: usize = 920;
/// The share of live slots a rebuild for growth aims at, per 1024 (room
/// for growth before the next rebuild).
const GROWTH_PER_1024: usize = 768;
/// The share of live slots of a bulk load, per 1024: its size is known, so
/// it is filled fuller (≈ 85 %; 113 bytes of table per token).
const BULK_PER_1024: usize = 870;
/// The smallest table.
const MIN_SLOTS: usize = 16;

/// Two slots and their cold cells: 192 bytes, so a slot's cell is on the
/// same page as its line (one TLB entry per verification, not two) and in
/// the same DRAM row.
#[repr(C, align(64))]
#[derive(Default)]
struct Pair {
    slots: [Slot; 2],
    cold: [Cold; 2],
}

/// One table: its slots and cold cells (in pairs), and what writers keep
/// about it.
struct Array {
    pairs: Box<[Pair]>,
    /// Live slots.
    live: AtomicUsize,
    /// Live and dead slots (writer only; atomic for `Sync`).
    used: AtomicUsize,
    /// The farthest any live slot sits from its home.
    max_probe: AtomicUsize,
}

impl Array {
    fn new(slots: usize) -> Self {
        let pairs = slots.max(MIN_SLOTS).div_ceil(2);
        Self {
            pairs: (0..pairs).map(|_| Pair::default()).collect(),
            live: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            max_probe: AtomicUsize::new(0),
        }
    }

    /// How many slots it has.
    #[inline]
    fn len(&self) -> usize {
        2 * self.pairs.len()
    }

    /// Slot `i`'s line.
    #[inline]
    fn slot(&self, i: usize) -> &Slot {
        &self.pairs[i / 2].slots[i % 2]
    }

    /// Slot `i`'s cold cell.
    #[inline]
    fn cold(&self, i: usize) -> &Cold {
        &self.pairs[i / 2].cold[i % 2]
    }

    /// Every slot with its cell, in order.
    fn iter(&self) -> impl Iterator<Item = (&Slot, &Cold)> {
        self.pairs
            .iter()
            .flat_map(|pair| pair.slots.iter().zip(pair.cold.iter()))
    }

    /// The slots to hold `live` tokens `per_1024` full.
    fn slots_for(live: usize, per_1024: usize) -> usize {
        (live.saturating_mul(1024) / per_1024).max(MIN_SLOTS) + 1
    }

    /// Whether one more slot may be used without a rebuild.
    fn has_room(&self) -> bool {
        (self.used.load(Ordering::Relaxed) + 1) * 1024 <= self.len() * MAX_USED_PER_1024
    }

    /// The slot where an id's probe starts: the hash's high bits scaled to
    /// the table (any length, not just powers of two).
    #[inline]
    fn home(&self, hash: u64) -> usize {
        // Truncation intended: the high 64 bits of a 128-bit product.
        #[allow(clippy::cast_possible_truncation)]
        let home = ((u128::from(hash) * self.len() as u128) >> 64) as usize;
        home
    }

    /// The index of the live slot holding `id` (writer only).
    fn find(&self, hash: u64, id: u64) -> Option<usize> {
        let len = self.len();
        let mut i = self.home(hash);
        for _ in 0..=self.max_probe.load(Ordering::Relaxed) {
            let slot = self.slot(i);
            if slot.is_empty() {
                return None;
            }
            if slot.live_id() == Some(id) {
                return Some(i);
            }
            i = if i + 1 == len { 0 } else { i + 1 };
        }
        None
    }

    /// Fills the first empty slot from `id`'s home (writer only; the caller
    /// made sure there is room).
    fn fill(&self, hash: u64, id: u64, content: Content, last_used: Option<Timestamp>) {
        let len = self.len();
        let mut i = self.home(hash);
        let mut distance = 0;
        while !self.slot(i).is_empty() {
            i = if i + 1 == len { 0 } else { i + 1 };
            distance += 1;
        }
        // Readers must look this far before the slot is live. Plain loads
        // and stores (one writer): a locked instruction here would wait for
        // the previous fill's cache miss, and a bulk load overlaps them.
        if distance > self.max_probe.load(Ordering::Relaxed) {
            self.max_probe.store(distance, Ordering::Release);
        }
        self.slot(i).fill(self.cold(i), id, content, last_used);
        self.live
            .store(self.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.used
            .store(self.used.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

impl Drop for Array {
    fn drop(&mut self) {
        for (slot, _) in self.iter() {
            slot.drop_owned();
        }
    }
}

/// The index: the current table, and the collector that frees what readers
/// may still hold.
pub(crate) struct Table {
    current: AtomicPtr<Array>,
    collector: Collector,
    /// The key of the ids' hash (random per keyring).
    key: [u64; 2],
}

// SAFETY: the raw pointers inside are owned by the table and only freed
// through the collector (or on drop, with no reader left).
unsafe impl Send for Table {}
// SAFETY: as above; all shared state is atomic.
unsafe impl Sync for Table {}

/// A guard and the table it protects, for one verification.
pub(crate) struct Pinned<'t> {
    guard: LocalGuard<'t>,
    array: *const Array,
    hash: u64,
    id: u64,
}

impl Table {
    pub(crate) fn new(key: [u64; 2]) -> Self {
        Self {
            current: AtomicPtr::new(Box::into_raw(Box::new(Array::new(MIN_SLOTS)))),
            collector: Collector::new(),
            key,
        }
    }

    /// The keyed hash of an id: a bijection of it (so sorting by it sorts
    /// ids by home slot, and equal hashes are equal ids).
    #[inline]
    pub(crate) fn hash(&self, id: TokenId) -> u64 {
        let mut x = u64::from_be_bytes(id.to_bytes()) ^ self.key[0];
        x = (x ^ (x >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
        x = (x ^ (x >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
        (x ^ (x >> 32)) ^ self.key[1]
    }

    /// The current table, under a guard.
    fn array<'g>(&self, guard: &'g LocalGuard<'_>) -> &'g Array {
        let array = guard.protect(&self.current, Ordering::SeqCst);
        // SAFETY: never null; retired only after being replaced, and the
        // guard keeps it alive.
        unsafe { &*array }
    }

    /// Starts a verification of `id`: enters the collector and prefetches
    /// the id's home line and cell, so the memory is on its way while the
    /// caller hashes the token.
    #[inline]
    pub(crate) fn pin(&self, id: TokenId) -> Pinned<'_> {
        let guard = self.collector.enter();
        let array: *const Array = guard.protect(&self.current, Ordering::SeqCst);
        let hash = self.hash(id);
        // SAFETY: as in `array`.
        let table = unsafe { &*array };
        let home = table.home(hash);
        prefetch(table.slot(home));
        prefetch(table.cold(home));
        Pinned {
            guard,
            array,
            hash,
            id: u64::from_be_bytes(id.to_bytes()),
        }
    }

    /// Looks up the pinned id and lends its slot to `f`, with the last-used
    /// instant to advance.
    #[inline]
    pub(crate) fn with_pinned<R>(
        pinned: &Pinned<'_>,
        f: impl FnOnce(&View<'_>, &crate::keyring::store::LastUsed) -> R,
    ) -> Option<R> {
        let _ = &pinned.guard;
        // SAFETY: pinned under its own guard (see `pin`).
        let table = unsafe { &*pinned.array };
        let len = table.len();
        let mut i = table.home(pinned.hash);
        for _ in 0..=table.max_probe.load(Ordering::Acquire) {
            let slot = table.slot(i);
            match slot.holds(pinned.id) {
                Probe::Empty => return None,
                Probe::Other => {}
                // Killed since the probe: refused, as a verification that
                // started after the removal would be.
                Probe::Found(()) => {
                    return match slot
                        .read(table.cold(i), pinned.id, |view| f(view, &slot.last_used))
                    {
                        Probe::Found(result) => Some(result),
                        Probe::Empty | Probe::Other => None,
                    };
                }
            }
            i = if i + 1 == len { 0 } else { i + 1 };
        }
        None
    }

    /// Verifies `presented` for the pinned id: the hot path (no copy of
    /// the slot; see `Slot::verify`).
    #[inline(always)]
    pub(crate) fn verify_pinned<'p>(
        pinned: &'p Pinned<'_>,
        presented: &crate::verifier::Verifier,
        now: Timestamp,
    ) -> Option<(Hit<'p>, &'p crate::keyring::store::LastUsed)> {
        // SAFETY: pinned under its own guard (see `pin`).
        let table = unsafe { &*pinned.array };
        let len = table.len();
        let mut i = table.home(pinned.hash);
        for _ in 0..=table.max_probe.load(Ordering::Acquire) {
            let slot = table.slot(i);
            match slot.verify(table.cold(i), pinned.id, presented, now) {
                Probe::Empty => return None,
                Probe::Other => {}
                Probe::Found(hit) => return Some((hit, &slot.last_used)),
            }
            i = if i + 1 == len { 0 } else { i + 1 };
        }
        None
    }

    /// Reads one token (any thread).
    pub(crate) fn with<R>(
        &self,
        id: TokenId,
        f: impl FnOnce(&View<'_>, &crate::keyring::store::LastUsed) -> R,
    ) -> Option<R> {
        Self::with_pinned(&self.pin(id), f)
    }

    /// How many tokens it holds.
    pub(crate) fn len(&self) -> usize {
        let guard = self.collector.enter();
        self.array(&guard).live.load(Ordering::Relaxed)
    }

    /// Calls `f` on every live token (a copy of each; writer or reader).
    pub(crate) fn for_each(&self, mut f: impl FnMut(TokenId, &View<'_>, Option<Timestamp>)) {
        let guard = self.collector.enter();
        let array = self.array(&guard);
        for (slot, cold) in array.iter() {
            if let Some(id) = slot.live_id() {
                let token = TokenId::from_bytes(id.to_be_bytes());
                let _ = slot.read(cold, id, |view| f(token, view, slot.last_used.get()));
            }
        }
    }

    /// The content of one token, for a writer to change.
    pub(crate) fn content(&self, id: TokenId) -> Option<(Content, Option<Timestamp>)> {
        let guard = self.collector.enter();
        let array = self.array(&guard);
        let i = array.find(self.hash(id), u64::from_be_bytes(id.to_bytes()))?;
        let (_, content) = array.slot(i).content(array.cold(i))?;
        Some((content, array.slot(i).last_used.get()))
    }

    /// Makes room for `additional` more tokens (writer only): one rebuild
    /// now instead of several on the way.
    pub(crate) fn reserve(&self, additional: usize) {
        let guard = self.collector.enter();
        let array = self.array(&guard);
        let live = array.live.load(Ordering::Relaxed);
        let used = array.used.load(Ordering::Relaxed);
        if (used + additional) * 1024 > array.len() * MAX_USED_PER_1024 {
            self.rebuild(&guard, Array::slots_for(live + additional, GROWTH_PER_1024));
        }
    }

    /// Inserts a token or replaces its content (writer only).
    pub(crate) fn put(&self, id: TokenId, content: Content, last_used: Option<Timestamp>) {
        let guard = self.collector.enter();
        let hash = self.hash(id);
        let raw = u64::from_be_bytes(id.to_bytes());
        let mut array = self.array(&guard);
        if let Some(i) = array.find(hash, raw) {
            let mut retire = self.retirer();
            array.slot(i).rewrite(array.cold(i), content, &mut retire);
            if let Some(at) = last_used {
                array.slot(i).last_used.advance(at);
            }
            return;
        }
        if !array.has_room() {
            let live = array.live.load(Ordering::Relaxed);
            array = self.rebuild(&guard, Array::slots_for(live + 1, GROWTH_PER_1024));
        }
        array.fill(hash, raw, content, last_used);
    }

    /// Removes a token (writer only); whether it was there.
    pub(crate) fn remove(&self, id: TokenId) -> bool {
        let guard = self.collector.enter();
        let array = self.array(&guard);
        let Some(i) = array.find(self.hash(id), u64::from_be_bytes(id.to_bytes())) else {
            return false;
        };
        let mut retire = self.retirer();
        array.slot(i).kill(&mut retire);
        array
            .live
            .store(array.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        true
    }

    /// Hands garbage to the collector.
    fn retirer(&self) -> impl FnMut(Garbage) + '_ {
        |garbage| {
            // Positive control of the Miri run (scripts/test-hardening):
            // freed at once, while readers may hold it, which Miri must catch.
            #[cfg(whatsgate_miri_control)]
            // SAFETY: none; this is the deliberate bug.
            return unsafe { slot::free(garbage) };
            // SAFETY: the slot no longer points to it for readers that start
            // from here on; the collector frees it once the readers that
            // might hold it have left. Each reclaimer matches its allocation.
            unsafe {
                match garbage {
                    Garbage::Side(p) => self
                        .collector
                        .retire(p, |p, _| slot::free(Garbage::Side(p))),
                    Garbage::Account(p) => self.collector.retire(p.cast_mut(), |p, _| {
                        slot::free(Garbage::Account(p.cast_const()))
                    }),
                }
            }
        }
    }

    /// Copies the live tokens into a new table of `slots` slots, publishes
    /// it and retires the old one (writer only). Last-use instants that
    /// readers of the old table record meanwhile may be lost; the token's
    /// next use records them again.
    fn rebuild<'g>(&self, guard: &'g LocalGuard<'_>, slots: usize) -> &'g Array {
        let new = Array::new(slots);
        copy_live(self.array(guard), &new, |id| self.hash(id));
        let new = self.publish(new);
        // SAFETY: just published; retired only by a later writer, after this
        // writer's call returns.
        unsafe { &*new }
    }

    /// Publishes `new` as the current table and retires the old one.
    fn publish(&self, new: Array) -> *mut Array {
        let new = Box::into_raw(Box::new(new));
        let old = self.current.swap(new, Ordering::SeqCst);
        // SAFETY: unlinked above; the collector frees it (and what its live
        // slots own) once no reader holds it.
        unsafe { self.collector.retire(old, seize::reclaim::boxed) };
        new
    }

    /// Loads `n` tokens into a new table sized for them, holding the
    /// current table's tokens too, and publishes it whole (writer only).
    pub(crate) fn load(
        &self,
        n: usize,
        tokens: impl Iterator<Item = (TokenId, Content, Option<Timestamp>)>,
    ) {
        let guard = self.collector.enter();
        let old = self.array(&guard);
        let new = Array::new(Array::slots_for(
            old.live.load(Ordering::Relaxed) + n,
            BULK_PER_1024,
        ));
        copy_live(old, &new, |id| self.hash(id));
        // In batches whose home slots are prefetched first: each fill's
        // slot is a cache miss, and a batch's misses then overlap.
        const BATCH: usize = 32;
        let mut batch = Vec::with_capacity(BATCH);
        let mut extra = Vec::new();
        let mut tokens = tokens.peekable();
        while tokens.peek().is_some() {
            batch.extend(tokens.by_ref().take(BATCH).map(|(id, content, last_used)| {
                let hash = self.hash(id);
                let home = new.home(hash);
                prefetch(new.slot(home));
                prefetch(new.cold(home));
                (hash, id, content, last_used)
            }));
            for (hash, id, content, last_used) in batch.drain(..) {
                if new.has_room() {
                    new.fill(hash, u64::from_be_bytes(id.to_bytes()), content, last_used);
                } else {
                    // More than announced: put once published (keeps the bound).
                    extra.push((id, content, last_used));
                }
            }
        }
        self.publish(new);
        for (id, content, last_used) in extra {
            self.put(id, content, last_used);
        }
    }

    /// Moves a token's last use forward (writer or reader).
    pub(crate) fn advance(&self, id: TokenId, at: Timestamp) {
        let guard = self.collector.enter();
        let array = self.array(&guard);
        if let Some(i) = array.find(self.hash(id), u64::from_be_bytes(id.to_bytes())) {
            array.slot(i).last_used.advance(at);
        }
    }

    /// A token's last use in memory.
    pub(crate) fn last_used(&self, id: TokenId) -> Option<Timestamp> {
        self.with(id, |_, last_used| last_used.get()).flatten()
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader is left; the current table was never
        // retired. Retired garbage is freed by the collector's own drop.
        unsafe { drop(Box::from_raw(*self.current.get_mut())) };
    }
}

/// Copies the live tokens of `old` into `new` (not yet published).
fn copy_live(old: &Array, new: &Array, hash: impl Fn(TokenId) -> u64) {
    for (slot, cold) in old.iter() {
        if let Some((id, content)) = slot.content(cold) {
            new.fill(
                hash(TokenId::from_bytes(id.to_be_bytes())),
                id,
                content,
                slot.last_used.get(),
            );
        }
    }
}

/// Asks for the line holding `value` (a hint: never faults, never waits).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect; SSE is baseline on x86-64.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The index's own tests; Miri runs them over its `unsafe` code
/// (scripts/test-core: `cargo +nightly miri test -p whatsgate-auth --lib keyring::table`).
#[cfg(test)]
mod tests {
    extern crate std;

    use alloc::collections::BTreeMap;
    use alloc::string::String;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::AtomicBool;

    use super::*;
    use crate::keyring::index::AccountName;
    use crate::verifier::{Rollover, Verifier};

    /// Fewer rounds under Miri (it interprets every instruction).
    const ROUNDS: u64 = if cfg!(miri) { 60 } else { 3000 };

    fn id(n: u64) -> TokenId {
        TokenId::from_bytes(n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes())
    }

    fn content(account: &Arc<AccountName>, name: &str, byte: u8, rollover: bool) -> Content {
        Content {
            verifier: Verifier::from_bytes([byte; 32]),
            rollover: rollover.then(|| {
                Box::new(Rollover {
                    verifier: Verifier::from_bytes([byte.wrapping_sub(1); 32]),
                    until: Timestamp(9),
                })
            }),
            account: Arc::clone(account),
            name: name.into(),
            created_at: Timestamp(u64::from(byte)),
            extras: None,
        }
    }

    /// What the table holds, as (verifier byte, rollover?, name).
    fn contents(table: &Table) -> BTreeMap<TokenId, (u8, bool, String)> {
        let mut out = BTreeMap::new();
        table.for_each(|id, view, _| {
            out.insert(
                id,
                (
                    view.verifier.to_bytes()[0],
                    view.rollover.is_some(),
                    view.name.as_str().into(),
                ),
            );
        });
        out
    }

    /// Inserts, rewrites (short and long names, with and without a
    /// rollover) and removes at random, through several rebuilds, and
    /// compares the table with a `BTreeMap` after every step.
    #[test]
    fn matches_a_model_through_rebuilds() {
        let table = Table::new([1, 2]);
        let account = Arc::new(AccountName::new("acct"));
        let mut model = BTreeMap::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for round in 0..ROUNDS {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let key = id(rng % 97);
            let byte = (round % 250) as u8 + 1;
            let long = rng & 8 == 0;
            let name = if long {
                "a name longer than twenty-three bytes"
            } else {
                "short"
            };
            if rng & 3 == 0 {
                assert_eq!(table.remove(key), model.remove(&key).is_some());
            } else {
                let rollover = rng & 4 == 0;
                table.put(key, content(&account, name, byte, rollover), None);
                model.insert(key, (byte, rollover, String::from(name)));
            }
            assert_eq!(table.len(), model.len());
            if round % 16 == 0 || cfg!(miri) {
                assert_eq!(contents(&table), model);
            }
        }
        for (key, (byte, _, _)) in &model {
            let found = table.with(*key, |view, _| view.verifier.to_bytes()[0]);
            assert_eq!(found, Some(*byte));
            let (copy, _) = table.content(*key).unwrap();
            assert_eq!(copy.verifier.to_bytes()[0], *byte);
        }
        assert!(table.with(id(1000), |_, _| ()).is_none());
    }

    #[test]
    fn load_finds_every_token() {
        let table = Table::new([3, 4]);
        let account = Arc::new(AccountName::new("acct"));
        let n = if cfg!(miri) { 40 } else { 5000 };
        let tokens: Vec<_> = (0..n)
            .map(|i| {
                (
                    id(i),
                    content(&account, "n", (i % 200) as u8 + 1, false),
                    Some(Timestamp(i + 1)),
                )
            })
            .collect();
        table.load(tokens.len(), tokens.into_iter());
        assert_eq!(table.len(), n as usize);
        for i in 0..n {
            assert_eq!(table.last_used(id(i)), Some(Timestamp(i + 1)));
        }
    }

    /// Readers run while a writer rewrites, regenerates with a grace
    /// period, removes and re-adds tokens (and the table rebuilds): a
    /// reader only ever sees a whole state, and a token the writer removed
    /// for good is never found by a reader that starts afterwards.
    #[test]
    fn readers_see_whole_states_while_a_writer_works() {
        let table = Table::new([5, 6]);
        let account = Arc::new(AccountName::new("acct"));
        for i in 0..8 {
            table.put(id(i), content(&account, "short", 1, false), None);
        }
        let gone = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for round in 0..ROUNDS {
                        let removed_before = gone.load(Ordering::SeqCst);
                        let found = table.with(id(round % 8), |view, _| {
                            let bytes = view.verifier.to_bytes();
                            assert!(bytes.iter().all(|b| *b == bytes[0]), "torn");
                            assert_eq!(view.account, "acct");
                            assert!(matches!(
                                view.name.as_str(),
                                "short" | "a name longer than twenty-three bytes"
                            ));
                        });
                        if removed_before && round % 8 == 7 {
                            assert!(found.is_none(), "a removed token was found");
                        }
                    }
                });
            }
            for round in 0..ROUNDS / 4 {
                let key = id(round % 7);
                let byte = (round % 200) as u8 + 2;
                let name = if round % 3 == 0 {
                    "a name longer than twenty-three bytes"
                } else {
                    "short"
                };
                table.put(key, content(&account, name, byte, round % 2 == 0), None);
                if round % 5 == 0 {
                    table.remove(key);
                    table.put(key, content(&account, "short", byte, false), None);
                }
            }
            table.remove(id(7));
            gone.store(true, Ordering::SeqCst);
        });
    }
}
