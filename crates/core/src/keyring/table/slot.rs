//! One token in the index: a 64-byte line with its id, verifier, account and
//! state, and a 32-byte cold cell (stored beside it, see `Pair`) with its
//! creation time and name. Any number of readers, one writer at a time.
//!
//! The protocol, a sequence lock whose readers never wait for a writer:
//! - `seq` holds the slot's state (empty, live, dead, being filled), a
//!   `SIDE` bit and a counter; a writer moves it before and after changing
//!   anything, and a reader loads it before and after copying the fields,
//!   starting over if it moved (its copy may be torn).
//! - A writer never rewrites a live slot in place while readers use the
//!   line: it first publishes the new state whole in an immutable side
//!   record and sets `SIDE` (readers then take that record), rewrites the
//!   line, and clears `SIDE` (or keeps it, for what the line has no room
//!   for: a regeneration's grace period, whose previous verifier lives only
//!   in the side record, and a name longer than [`INLINE_NAME`] bytes). A reader that
//!   starts over therefore finds the old line, the side record or the new
//!   line; a writer stopped halfway still leaves the slot readable.
//! - A live slot keeps its id until the whole table is rebuilt: a deleted
//!   slot stays dead (a tombstone), never refilled, so a reader that found
//!   the id there cannot be handed another token's line.
//!
//! Pointers the slot owns (the account's shared string, the side record) are handed to the caller's `retire` when unlinked: the table
//! frees them once no reader can still hold them (`seize`).

#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::sync::Arc;

use super::sync::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence, spin_loop};
use crate::keyring::entry::{Content, Hit, HitName, INLINE_NAME, InlineName, NameCopy, View};
use crate::keyring::index::AccountName;
use crate::keyring::store::LastUsed;
use crate::time::Timestamp;
use crate::verifier::Verifier;

// `seq`: bits 0–1 the state, bit 2 `SIDE`, the rest a counter.
const STATE: u32 = 0b11;
const EMPTY: u32 = 0;
const LIVE: u32 = 1;
const DEAD: u32 = 2;
const FILLING: u32 = 3;
const SIDE: u32 = 0b100;
const STEP: u32 = 0b1000;

/// Something a slot no longer points to, for the caller to free once no
/// reader can hold it.
pub(crate) enum Garbage {
    Side(*mut Content),
    Account(*const AccountName),
}

/// The hot line.
#[repr(C, align(64))]
pub(crate) struct Slot {
    seq: AtomicU32,
    pub(crate) last_used: LastUsed,
    id: AtomicU64,
    verifier: [AtomicU64; 4],
    account: AtomicPtr<AccountName>,
    side: AtomicPtr<Content>,
}

/// The cold cell: read on success only (the principal's name), prefetched
/// with the line.
#[repr(C, align(32))]
pub(crate) struct Cold {
    created_at: AtomicU64,
    /// Byte 0 the length, then the bytes (a longer name is read from the
    /// side record, and the cell left empty).
    name: [AtomicU64; 3],
}

#[cfg(all(target_pointer_width = "64", not(all(loom, test))))]
const _: () = {
    assert!(core::mem::size_of::<Slot>() == 64);
    assert!(core::mem::size_of::<Cold>() == 32);
};

/// What a reader found in one slot.
pub(crate) enum Probe<R> {
    /// Never filled: the id is not in the table.
    Empty,
    /// Another token, a dead one, or one being filled: look further.
    Other,
    /// The token: what the caller's closure made of it.
    Found(R),
}

/// A verifier's bytes as four native-endian words (so the words in memory
/// are the bytes in order).
fn words(bytes: [u8; 32]) -> [u64; 4] {
    core::array::from_fn(|i| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        u64::from_ne_bytes(word)
    })
}

#[inline(always)]
fn bytes(words: [u64; 4]) -> [u8; 32] {
    let words: [[u8; 8]; 4] = words.map(u64::to_ne_bytes);
    let mut bytes = [0; 32];
    bytes.copy_from_slice(words.as_flattened());
    bytes
}

/// The cold cell's words for `name`: the bytes, then the length in the
/// last byte (empty for a name too long for it). In native byte order, so
/// the words stored in memory are the bytes in order.
fn encode_name(name: &str) -> [u64; 3] {
    let mut cell = [0u8; 24];
    if let Ok(len) = u8::try_from(name.len())
        && name.len() <= INLINE_NAME
    {
        cell[..name.len()].copy_from_slice(name.as_bytes());
        cell[INLINE_NAME] = len;
    }
    core::array::from_fn(|i| {
        let mut word = [0; 8];
        word.copy_from_slice(&cell[8 * i..8 * i + 8]);
        u64::from_ne_bytes(word)
    })
}

/// The inline name of a cell a reader copied under a validated sequence.
#[inline(always)]
fn decode_name(words: [u64; 3]) -> InlineName {
    // SAFETY: every caller passes the words of a cell `encode_name` wrote
    // from a `&str`, copied under a validated sequence (or by the writer,
    // which no other writer races).
    unsafe { InlineName::from_cell(words) }
}

/// Whether a content needs its side record for as long as it is live.
fn needs_side(content: &Content) -> bool {
    content.rollover.is_some() || content.name.len() > INLINE_NAME || content.extras.is_some()
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            seq: AtomicU32::new(EMPTY),
            last_used: LastUsed::new(None),
            id: AtomicU64::new(0),
            verifier: core::array::from_fn(|_| AtomicU64::new(0)),
            account: AtomicPtr::new(core::ptr::null_mut()),
            side: AtomicPtr::new(core::ptr::null_mut()),
        }
    }
}

impl Default for Cold {
    fn default() -> Self {
        Self {
            created_at: AtomicU64::new(0),
            name: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Slot {
    /// Reads the slot for `id`. Every pointer it follows must stay valid
    /// while `'g` lasts: the caller holds a guard of the collector that the
    /// writer retires through.
    ///
    /// The copy is lent to `f` where it was made (not moved out: a copy of
    /// words moved again by wider loads stalls on store forwarding).
    #[inline]
    pub(crate) fn read<R>(&self, cold: &Cold, id: u64, f: impl FnOnce(&View<'_>) -> R) -> Probe<R> {
        self.read_checked::<true, R>(cold, id, f)
    }

    /// Verifies `presented` against the slot for `id`: the comparison runs
    /// on the words as loaded (nothing copied to memory first), and only
    /// the verdict, the account and the name's words leave.
    #[inline(always)]
    pub(crate) fn verify(
        &self,
        cold: &Cold,
        id: u64,
        presented: &Verifier,
        now: Timestamp,
    ) -> Probe<Hit<'_>> {
        self.verify_checked::<true>(cold, id, presented, now)
    }

    /// [`Slot::verify`]; without `VALIDATE` (the model checker's positive
    /// control only) it skips the second load of `seq`.
    #[inline(always)]
    fn verify_checked<const VALIDATE: bool>(
        &self,
        cold: &Cold,
        id: u64,
        presented: &Verifier,
        now: Timestamp,
    ) -> Probe<Hit<'_>> {
        // The reader's side of the protocol, as in `read_checked`, written
        // out again on purpose: this copy compares the verifier on the
        // words as loaded; built on a shared copying snapshot, `verify_with`
        // measured 4-5 ns slower in alternating runs. The loom models check
        // both copies, each with its own control.
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            match seq & STATE {
                EMPTY => return Probe::Empty,
                LIVE if self.id.load(Ordering::Relaxed) == id => {}
                _ => return Probe::Other,
            }
            if seq & SIDE != 0 {
                let side = self.side.load(Ordering::SeqCst);
                if side.is_null() {
                    spin_loop();
                    continue;
                }
                // SAFETY: as in `read_checked`.
                let side = unsafe { &*side };
                return Probe::Found(Hit {
                    accepted: side.accepts(presented, now),
                    account: side.account.as_str(),
                    name: HitName::Long(&side.name),
                    scopes: side.scopes(),
                });
            }
            let verifier = self.verifier.each_ref().map(|w| w.load(Ordering::Relaxed));
            let account = self.account.load(Ordering::SeqCst);
            let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if VALIDATE && self.seq.load(Ordering::Relaxed) != seq {
                spin_loop();
                continue;
            }
            // SAFETY: as in `read_checked`.
            let account = unsafe { &*account }.as_str();
            return Probe::Found(Hit {
                accepted: presented.ct_eq_words(&verifier),
                account,
                name: HitName::Words(decode_name(name)),
                scopes: &crate::scope::FULL,
            });
        }
    }

    /// Whether the slot holds `id` live, without copying it (the probe).
    #[inline]
    pub(crate) fn holds(&self, id: u64) -> Probe<()> {
        match self.seq.load(Ordering::Acquire) & STATE {
            EMPTY => Probe::Empty,
            LIVE if self.id.load(Ordering::Relaxed) == id => Probe::Found(()),
            _ => Probe::Other,
        }
    }

    /// [`Slot::read`]; without `VALIDATE` (the model checker's positive
    /// control only) it skips the second load of `seq`.
    #[inline(always)]
    fn read_checked<const VALIDATE: bool, R>(
        &self,
        cold: &Cold,
        id: u64,
        f: impl FnOnce(&View<'_>) -> R,
    ) -> Probe<R> {
        // One call of `f`, after the loop, so it is inlined once.
        let view = loop {
            let seq = self.seq.load(Ordering::Acquire);
            match seq & STATE {
                EMPTY => break None,
                LIVE => {}
                _ => break Some(None),
            }
            // A live slot's id never changes (tombstones are not refilled),
            // and it was written before the state was: no need to validate it.
            if self.id.load(Ordering::Relaxed) != id {
                break Some(None);
            }
            if seq & SIDE != 0 {
                let side = self.side.load(Ordering::SeqCst);
                if side.is_null() {
                    // Cleared since: the line is current again (a newer
                    // `seq` is already stored; the hint lets the model
                    // checker deliver it).
                    spin_loop();
                    continue;
                }
                // SAFETY: a side record is immutable once published, and the
                // writer retires it only after unlinking it; the caller's
                // guard keeps it from being freed.
                break Some(Some(unsafe { &*side }.view()));
            }
            let verifier = self.verifier.each_ref().map(|w| w.load(Ordering::Relaxed));
            let account = self.account.load(Ordering::SeqCst);
            let created_at = cold.created_at.load(Ordering::Relaxed);
            let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
            // Orders the copies before the second load of `seq` (pairs with
            // the writer's release fence after it moves `seq`).
            fence(Ordering::Acquire);
            if VALIDATE && self.seq.load(Ordering::Relaxed) != seq {
                // A writer moved it: the copy may be torn; the newer state
                // is already published (the writer never leaves a slot
                // unreadable), so this is a retry, not a wait.
                spin_loop();
                continue;
            }
            // SAFETY: the copy is validated, so this is the live slot's
            // account at one instant; the writer retires what it unlinks, and
            // the caller's guard keeps it from being freed.
            let account = unsafe { &*account }.as_str();
            let name = NameCopy::Inline(decode_name(name));
            break Some(Some(View {
                verifier: Verifier::from_bytes(bytes(verifier)),
                rollover: None,
                account,
                name,
                created_at: Timestamp(created_at),
                extras: None,
            }));
        };
        match view {
            None => Probe::Empty,
            Some(None) => Probe::Other,
            Some(Some(view)) => Probe::Found(f(&view)),
        }
    }

    /// Whether the slot holds a live token, and its id (for the writer).
    pub(crate) fn live_id(&self) -> Option<u64> {
        (self.seq.load(Ordering::Acquire) & STATE == LIVE).then(|| self.id.load(Ordering::Relaxed))
    }

    /// Whether the slot was never filled.
    pub(crate) fn is_empty(&self) -> bool {
        self.seq.load(Ordering::Acquire) & STATE == EMPTY
    }

    /// Moves `seq` to `next` (writer only), ordered before what follows.
    fn begin(&self, next: u32) {
        self.seq.store(next, Ordering::Relaxed);
        fence(Ordering::Release);
    }

    /// Moves `seq` to `next`, publishing what came before.
    fn publish(&self, next: u32) {
        self.seq.store(next, Ordering::Release);
    }

    fn next(&self, state: u32, side: bool) -> u32 {
        let seq = self.seq.load(Ordering::Relaxed);
        (seq & !(STATE | SIDE)).wrapping_add(STEP) | state | if side { SIDE } else { 0 }
    }

    /// Writes the line and cell (the slot is not readable as live meanwhile,
    /// or is read through its side record).
    fn write(&self, cold: &Cold, content: &Content) {
        for (word, value) in self.verifier.iter().zip(words(content.verifier.to_bytes())) {
            word.store(value, Ordering::Relaxed);
        }
        self.account.store(
            Arc::into_raw(Arc::clone(&content.account)).cast_mut(),
            Ordering::Relaxed,
        );
        cold.created_at
            .store(content.created_at.0, Ordering::Relaxed);
        for (word, value) in cold.name.iter().zip(encode_name(&content.name)) {
            word.store(value, Ordering::Relaxed);
        }
    }

    /// What the line and cell own, for `retire` (writer only, after the
    /// slot stopped pointing to them for new readers).
    fn release(&self, retire: &mut dyn FnMut(Garbage)) {
        retire(Garbage::Account(self.account.load(Ordering::Relaxed)));
    }

    /// Fills an empty slot with a new token (writer only). A side record is
    /// kept when the content needs one (a rollover, or a long name).
    pub(crate) fn fill(
        &self,
        cold: &Cold,
        id: u64,
        content: Content,
        last_used: Option<Timestamp>,
    ) {
        debug_assert!(self.is_empty());
        self.begin(self.next(FILLING, false));
        self.id.store(id, Ordering::Relaxed);
        self.last_used.set(last_used);
        self.write(cold, &content);
        let side = needs_side(&content);
        if side {
            self.side
                .store(Box::into_raw(Box::new(content)), Ordering::Relaxed);
        }
        self.publish(self.next(LIVE, side));
    }

    /// Replaces a live slot's content, keeping its id (writer only).
    pub(crate) fn rewrite(&self, cold: &Cold, content: Content, retire: &mut dyn FnMut(Garbage)) {
        let keep_side = needs_side(&content);
        let side = Box::into_raw(Box::new(content));
        // Readers take the side record from here on...
        let old_side = self.side.swap(side, Ordering::SeqCst);
        self.begin(self.next(LIVE, true));
        // ... while the line is rewritten.
        self.release(retire);
        // SAFETY: `side` was just made here and is freed only through
        // `retire`, after this call.
        self.write(cold, unsafe { &*side });
        if keep_side {
            self.publish(self.next(LIVE, true));
        } else {
            self.publish(self.next(LIVE, false));
            self.side.store(core::ptr::null_mut(), Ordering::SeqCst);
            retire(Garbage::Side(side));
        }
        if !old_side.is_null() {
            retire(Garbage::Side(old_side));
        }
    }

    /// Marks a live slot dead (writer only); its id stays, so it is never
    /// refilled (see the module's notes).
    pub(crate) fn kill(&self, retire: &mut dyn FnMut(Garbage)) {
        self.publish(self.next(DEAD, false));
        self.release(retire);
        let side = self.side.swap(core::ptr::null_mut(), Ordering::SeqCst);
        if !side.is_null() {
            retire(Garbage::Side(side));
        }
    }

    /// A copy of the live slot's content for the writer (no reader changes
    /// it; the account is shared, the name copied).
    pub(crate) fn content(&self, cold: &Cold) -> Option<(u64, Content)> {
        let id = self.live_id()?;
        let side = self.side.load(Ordering::Acquire);
        let content = if side.is_null() {
            let verifier = self.verifier.each_ref().map(|w| w.load(Ordering::Relaxed));
            let account = self.account.load(Ordering::Relaxed);
            // SAFETY: the slot owns one count of its account (see `write`);
            // this adds one for the copy, which the writer cannot race.
            let account = unsafe {
                Arc::increment_strong_count(account);
                Arc::from_raw(account)
            };
            // The writer's own slot: no other writer changed it.
            let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
            let view_name = Box::from(decode_name(name).as_str());
            Content {
                verifier: Verifier::from_bytes(bytes(verifier)),
                rollover: None,
                account,
                name: view_name,
                created_at: Timestamp(cold.created_at.load(Ordering::Relaxed)),
                extras: None,
            }
        } else {
            // SAFETY: the side record is owned by this live slot; only the
            // writer unlinks it.
            unsafe { &*side }.clone()
        };
        Some((id, content))
    }

    /// Frees what a live slot owns, when its whole table is freed (no
    /// reader left).
    pub(crate) fn drop_owned(&self) {
        if self.live_id().is_none() {
            return;
        }
        let mut free = |garbage| {
            // SAFETY: no reader is left (the table is being freed), and each
            // pointer is owned by this slot alone.
            unsafe { free(garbage) }
        };
        self.release(&mut free);
        let side = self.side.load(Ordering::Relaxed);
        if !side.is_null() {
            free(Garbage::Side(side));
        }
    }
}

/// Frees one piece of garbage.
///
/// # Safety
/// No reader may hold it, and it must not be freed twice.
pub(crate) unsafe fn free(garbage: Garbage) {
    // SAFETY: per the contract; each pointer came from `Box::into_raw` or
    // `Arc::into_raw` in this module.
    unsafe {
        match garbage {
            Garbage::Side(side) => drop(Box::from_raw(side)),
            Garbage::Account(account) => drop(Arc::from_raw(account)),
        }
    }
}

/// The slot protocol, model-checked: every interleaving (and every
/// reordering the memory model allows) of one writer and one reader.
/// `RUSTFLAGS="--cfg loom" cargo test -p whatsgate-auth --lib --release loom`
/// (scripts/test-core runs it).
#[cfg(all(test, loom))]
mod loom_tests {
    use alloc::vec::Vec;

    use loom::sync::Arc as LoomArc;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    use super::*;

    const ID: u64 = 0x1234;

    fn content(byte: u8, rollover: Option<u8>) -> Content {
        Content {
            verifier: Verifier::from_bytes([byte; 32]),
            rollover: rollover.map(|b| {
                Box::new(crate::verifier::Rollover {
                    verifier: Verifier::from_bytes([b; 32]),
                    until: Timestamp(100),
                })
            }),
            account: Arc::new(AccountName::new("acct")),
            name: "name".into(),
            created_at: Timestamp(1),
            extras: None,
        }
    }

    /// What a reader saw: the current verifier's byte and the previous
    /// one's, or `None` when the slot was not live for the id.
    type Seen = Option<(u8, Option<u8>)>;

    fn seen<const VALIDATE: bool>(slot: &Slot, cold: &Cold) -> Seen {
        let copy = |view: &View<'_>| {
            let bytes = view.verifier.to_bytes();
            // A torn copy mixes two verifiers' bytes.
            assert!(
                bytes.iter().all(|b| *b == bytes[0]),
                "torn verifier {bytes:?}"
            );
            assert_eq!(view.account, "acct");
            assert_eq!(view.name.as_str(), "name");
            (bytes[0], view.rollover.map(|r| r.verifier.to_bytes()[0]))
        };
        match slot.read_checked::<VALIDATE, _>(cold, ID, copy) {
            Probe::Found(seen) => Some(seen),
            Probe::Empty | Probe::Other => None,
        }
    }

    /// Runs `write` against one reader: after `start`, one thread writes
    /// while this one calls `read(slot, cell, done)`, `done` telling
    /// whether the writer had finished before the read began (so the read
    /// must see the final state).
    fn run(
        start: fn(&Slot, &Cold),
        write: fn(&Slot, &Cold, &mut dyn FnMut(Garbage)),
        read: impl Fn(&Slot, &Cold, bool) + Send + Sync + 'static,
    ) {
        loom::model(move || {
            let cells = LoomArc::new((Slot::default(), Cold::default(), AtomicBool::new(false)));
            start(&cells.0, &cells.1);
            let writer = {
                let cells = LoomArc::clone(&cells);
                thread::spawn(move || {
                    let mut garbage = Vec::new();
                    write(&cells.0, &cells.1, &mut |g| garbage.push(g));
                    cells.2.store(true, Ordering::Release);
                    garbage
                })
            };
            let done = cells.2.load(Ordering::Acquire);
            read(&cells.0, &cells.1, done);
            for garbage in writer.join().unwrap() {
                // SAFETY: both threads are done with the slot.
                unsafe { free(garbage) };
            }
            cells.0.drop_owned();
        });
    }

    /// [`run`] with a copying reader: `check(done, seen)` judges what it saw.
    fn model<const VALIDATE: bool>(
        start: fn(&Slot, &Cold),
        write: fn(&Slot, &Cold, &mut dyn FnMut(Garbage)),
        check: fn(bool, Seen),
    ) {
        run(start, write, move |slot, cold, done| {
            check(done, seen::<VALIDATE>(slot, cold));
        });
    }

    fn live_v1(slot: &Slot, cold: &Cold) {
        slot.fill(cold, ID, content(1, None), None);
    }

    #[test]
    fn loom_revoke_then_verify_never_accepts() {
        model::<true>(
            live_v1,
            |slot, _, retire| slot.kill(retire),
            |done, seen| {
                assert!(
                    seen == None || (!done && seen == Some((1, None))),
                    "{done} {seen:?}"
                );
            },
        );
    }

    #[test]
    fn loom_fill_is_seen_whole_or_not_at_all() {
        model::<true>(
            |_, _| {},
            |slot, cold, _| slot.fill(cold, ID, content(1, None), None),
            |done, seen| {
                assert!(
                    seen == Some((1, None)) || (!done && seen == None),
                    "{done} {seen:?}"
                );
            },
        );
    }

    #[test]
    fn loom_regenerate_is_old_or_new_never_torn_never_missing() {
        model::<true>(
            live_v1,
            |slot, cold, retire| slot.rewrite(cold, content(2, None), retire),
            |done, seen| {
                assert!(
                    seen == Some((2, None)) || (!done && seen == Some((1, None))),
                    "{done} {seen:?}"
                );
            },
        );
    }

    #[test]
    fn loom_regenerate_with_grace_keeps_the_old_secret() {
        model::<true>(
            live_v1,
            |slot, cold, retire| slot.rewrite(cold, content(2, Some(1)), retire),
            |done, seen| {
                // The old verifier (1) is accepted throughout.
                assert!(
                    seen == Some((2, Some(1))) || (!done && seen == Some((1, None))),
                    "{done} {seen:?}"
                );
            },
        );
    }

    #[test]
    fn loom_grace_ends_then_revoked() {
        model::<true>(
            |slot, cold| slot.fill(cold, ID, content(2, Some(1)), None),
            |slot, cold, retire| {
                slot.rewrite(cold, content(3, None), retire);
                slot.kill(retire);
            },
            |done, seen| {
                assert!(
                    seen == None || (!done && matches!(seen, Some((2, Some(1)) | (3, None)))),
                    "{done} {seen:?}"
                );
            },
        );
    }

    /// What the hot path (`Slot::verify`) answers for the token whose
    /// verifier is `byte`s: accepted, refused, or not found.
    fn verdict<const VALIDATE: bool>(slot: &Slot, cold: &Cold, byte: u8) -> Option<bool> {
        let presented = Verifier::from_bytes([byte; 32]);
        match slot.verify_checked::<VALIDATE>(cold, ID, &presented, Timestamp(50)) {
            Probe::Found(hit) => {
                assert_eq!(hit.account, "acct");
                Some(bool::from(hit.accepted))
            }
            Probe::Empty | Probe::Other => None,
        }
    }

    /// The hot path against a writer: `check(done, old, new)` judges the
    /// verdicts for the old secret (1) and the new one (2), read in turn.
    fn hot_model<const VALIDATE: bool>(
        write: fn(&Slot, &Cold, &mut dyn FnMut(Garbage)),
        check: fn(bool, Option<bool>, Option<bool>),
    ) {
        run(live_v1, write, move |slot, cold, done| {
            let old = verdict::<VALIDATE>(slot, cold, 1);
            let new = verdict::<VALIDATE>(slot, cold, 2);
            check(done, old, new);
        });
    }

    #[test]
    fn loom_hot_path_never_accepts_after_revoke() {
        hot_model::<true>(
            |slot, _, retire| slot.kill(retire),
            |done, old, new| {
                assert_ne!(new, Some(true));
                if done {
                    assert_eq!(old, None, "accepted after the revocation returned");
                }
            },
        );
    }

    #[test]
    fn loom_hot_path_grace_accepts_the_old_secret_throughout() {
        hot_model::<true>(
            |slot, cold, retire| slot.rewrite(cold, content(2, Some(1)), retire),
            |done, old, new| {
                // The old secret: accepted before, during and after (grace).
                assert_eq!(old, Some(true));
                if done {
                    assert_eq!(new, Some(true));
                }
            },
        );
    }

    #[test]
    fn loom_hot_path_regenerate_refuses_the_old_secret_once_done() {
        hot_model::<true>(
            |slot, cold, retire| slot.rewrite(cold, content(2, None), retire),
            |done, old, new| {
                // Found throughout (never a gap), each secret accepted only
                // by its own state, and the old one refused once done.
                assert!(old.is_some() && new.is_some());
                if done {
                    assert_eq!((old, new), (Some(false), Some(true)));
                }
            },
        );
    }

    /// Positive control of the hot path: without its second load of `seq`,
    /// a verification that copies the line while a regeneration with grace
    /// rewrites it compares a torn mix of two verifiers and refuses the old
    /// secret, which the grace period accepts throughout.
    #[test]
    fn loom_control_unvalidated_hot_path_is_caught() {
        let caught = std::panic::catch_unwind(|| {
            hot_model::<false>(
                |slot, cold, retire| slot.rewrite(cold, content(2, Some(1)), retire),
                |_, old, _| {
                    assert_eq!(
                        old,
                        Some(true),
                        "torn: the old secret refused in its grace period"
                    )
                },
            );
        })
        .expect_err("the model checker missed a torn verification");
        let message = caught
            .downcast_ref::<alloc::string::String>()
            .map(alloc::string::String::as_str)
            .or_else(|| caught.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(message.contains("torn"), "failed otherwise: {message}");
    }

    /// Positive control: a reader that skips the second load of `seq` is
    /// caught copying a torn line.
    #[test]
    fn loom_control_unvalidated_reader_is_caught() {
        let caught = std::panic::catch_unwind(|| {
            model::<false>(
                live_v1,
                |slot, cold, retire| slot.rewrite(cold, content(2, None), retire),
                |_, _| {},
            );
        })
        .expect_err("the model checker missed a torn read");
        let message = caught
            .downcast_ref::<alloc::string::String>()
            .map(alloc::string::String::as_str)
            .or_else(|| caught.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(
            message.contains("torn verifier"),
            "failed otherwise: {message}"
        );
    }
}
