//! One token in the index: a 64-byte line with its id, verifier, account and
//! state, and a 32-byte cold cell (same index, another array) with its
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
//!   line, and clears `SIDE` (or keeps it, for a regeneration's grace period:
//!   the previous verifier lives only in the side record). A reader that
//!   starts over therefore finds the old line, the side record or the new
//!   line; a writer stopped halfway still leaves the slot readable.
//! - A live slot keeps its id until the whole table is rebuilt: a deleted
//!   slot stays dead (a tombstone), never refilled, so a reader that found
//!   the id there cannot be handed another token's line.
//!
//! Pointers the slot owns (the account's shared string, a long name, the
//! side record) are handed to the caller's `retire` when unlinked: the table
//! frees them once no reader can still hold them (`seize`).

#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::sync::Arc;

use super::sync::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};
use crate::keyring::entry::{Content, INLINE_NAME, NameCopy, View};
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

/// The cold cell's length byte for a name kept on the heap.
const LONG: u8 = 0xff;

/// A name of at most [`INLINE_NAME`] bytes, as a reader copied it from a
/// cold cell under a validated sequence: byte 0 the length, then the bytes.
pub(crate) struct InlineName([u8; 24]);

impl InlineName {
    pub(crate) fn as_str(&self) -> &str {
        let len = usize::from(self.0[0]).min(INLINE_NAME);
        let bytes = &self.0[1..=len];
        debug_assert!(core::str::from_utf8(bytes).is_ok());
        // SAFETY: only `Slot::read` makes an `InlineName`, from a copy it
        // validated (no writer moved `seq` meanwhile), so these are exactly
        // the bytes `encode_name` wrote from a `&str` of this length.
        unsafe { core::str::from_utf8_unchecked(bytes) }
    }
}

/// A name longer than [`INLINE_NAME`], pointed to by the cold cell.
pub(crate) struct LongName(Box<str>);

/// Something a slot no longer points to, for the caller to free once no
/// reader can hold it.
pub(crate) enum Garbage {
    Side(*mut Content),
    Name(*mut LongName),
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
    /// Byte 0 the length (or [`LONG`]), then the bytes; for a long name,
    /// word 1 is a `*mut LongName`.
    name: [AtomicU64; 3],
}

#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = {
    assert!(core::mem::size_of::<Slot>() == 64);
    assert!(core::mem::size_of::<Cold>() == 32);
};

/// What a reader found in one slot.
pub(crate) enum Probe<'g> {
    /// Never filled: the id is not in the table.
    Empty,
    /// Another token, a dead one, or one being filled: look further.
    Other,
    Found(View<'g>),
}

fn words(bytes: [u8; 32]) -> [u64; 4] {
    core::array::from_fn(|i| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        u64::from_le_bytes(word)
    })
}

fn bytes(words: [u64; 4]) -> [u8; 32] {
    let mut bytes = [0; 32];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The cold cell's words for `name` (a long name is boxed: the cell owns it).
fn encode_name(name: &str) -> [u64; 3] {
    let mut cell = [0u8; 24];
    match u8::try_from(name.len()) {
        Ok(len) if name.len() <= INLINE_NAME => {
            cell[0] = len;
            cell[1..=name.len()].copy_from_slice(name.as_bytes());
        }
        _ => {
            cell[0] = LONG;
            let long = Box::into_raw(Box::new(LongName(name.into())));
            cell[8..16].copy_from_slice(&(long as usize as u64).to_le_bytes());
        }
    }
    core::array::from_fn(|i| {
        let mut word = [0; 8];
        word.copy_from_slice(&cell[8 * i..8 * i + 8]);
        u64::from_le_bytes(word)
    })
}

/// The long name a cell's words point to, if it has one.
fn long_name(words: [u64; 3]) -> Option<*mut LongName> {
    // Truncation intended: the word holds a pointer written by `encode_name`.
    #[allow(clippy::cast_possible_truncation)]
    ((words[0] & 0xff) as u8 == LONG).then_some(words[1] as usize as *mut LongName)
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
    #[inline]
    pub(crate) fn read<'g>(&'g self, cold: &'g Cold, id: u64) -> Probe<'g> {
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            match seq & STATE {
                EMPTY => return Probe::Empty,
                LIVE => {}
                _ => return Probe::Other,
            }
            // A live slot's id never changes (tombstones are not refilled),
            // and it was written before the state was: no need to validate it.
            if self.id.load(Ordering::Relaxed) != id {
                return Probe::Other;
            }
            if seq & SIDE != 0 {
                let side = self.side.load(Ordering::SeqCst);
                if side.is_null() {
                    // Cleared since: the line is current again.
                    continue;
                }
                // SAFETY: a side record is immutable once published, and the
                // writer retires it only after unlinking it; the caller's
                // guard keeps it from being freed.
                return Probe::Found(unsafe { &*side }.view());
            }
            let verifier = self.verifier.each_ref().map(|w| w.load(Ordering::Relaxed));
            let account = self.account.load(Ordering::SeqCst);
            let created_at = cold.created_at.load(Ordering::Relaxed);
            let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
            // Orders the copies before the second load of `seq` (pairs with
            // the writer's release fence after it moves `seq`).
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != seq {
                continue;
            }
            // SAFETY: the copy is validated, so this is the live slot's
            // account at one instant; the writer retires what it unlinks, and
            // the caller's guard keeps it from being freed.
            let account = unsafe { &*account }.as_str();
            let name = match long_name(name) {
                // SAFETY: as for the account.
                Some(long) => NameCopy::Long(&unsafe { &*long }.0),
                None => {
                    let mut copy = [0u8; 24];
                    for (chunk, word) in copy.chunks_exact_mut(8).zip(name) {
                        chunk.copy_from_slice(&word.to_le_bytes());
                    }
                    NameCopy::Inline(InlineName(copy))
                }
            };
            return Probe::Found(View {
                verifier: Verifier::from_bytes(bytes(verifier)),
                rollover: None,
                account,
                name,
                created_at: Timestamp(created_at),
            });
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
    fn release(&self, cold: &Cold, retire: &mut dyn FnMut(Garbage)) {
        retire(Garbage::Account(self.account.load(Ordering::Relaxed)));
        let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
        if let Some(long) = long_name(name) {
            retire(Garbage::Name(long));
        }
    }

    /// Fills an empty slot with a new token (writer only). A side record is
    /// kept when the content has a rollover.
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
        let side = content.rollover.is_some();
        if side {
            self.side
                .store(Box::into_raw(Box::new(content)), Ordering::Relaxed);
        }
        self.publish(self.next(LIVE, side));
    }

    /// Replaces a live slot's content, keeping its id (writer only).
    pub(crate) fn rewrite(&self, cold: &Cold, content: Content, retire: &mut dyn FnMut(Garbage)) {
        let keep_side = content.rollover.is_some();
        let side = Box::into_raw(Box::new(content));
        // Readers take the side record from here on...
        let old_side = self.side.swap(side, Ordering::SeqCst);
        self.begin(self.next(LIVE, true));
        // ... while the line is rewritten.
        self.release(cold, retire);
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
    pub(crate) fn kill(&self, cold: &Cold, retire: &mut dyn FnMut(Garbage)) {
        self.publish(self.next(DEAD, false));
        self.release(cold, retire);
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
            let view_name = {
                let name = cold.name.each_ref().map(|w| w.load(Ordering::Relaxed));
                match long_name(name) {
                    // SAFETY: owned by this live slot; only the writer frees it.
                    Some(long) => Box::from(&*unsafe { &*long }.0),
                    None => {
                        let mut copy = [0u8; 24];
                        for (chunk, word) in copy.chunks_exact_mut(8).zip(name) {
                            chunk.copy_from_slice(&word.to_le_bytes());
                        }
                        // The writer's own slot: no other writer changed it.
                        Box::from(InlineName(copy).as_str())
                    }
                }
            };
            Content {
                verifier: Verifier::from_bytes(bytes(verifier)),
                rollover: None,
                account,
                name: view_name,
                created_at: Timestamp(cold.created_at.load(Ordering::Relaxed)),
            }
        } else {
            // SAFETY: the side record is owned by this live slot; only the
            // writer unlinks it.
            let side = unsafe { &*side };
            Content {
                verifier: side.verifier,
                rollover: side.rollover,
                account: Arc::clone(&side.account),
                name: side.name.clone(),
                created_at: side.created_at,
            }
        };
        Some((id, content))
    }

    /// Frees what a live slot owns, when its whole table is freed (no
    /// reader left).
    pub(crate) fn drop_owned(&self, cold: &Cold) {
        if self.live_id().is_none() {
            return;
        }
        let mut free = |garbage| {
            // SAFETY: no reader is left (the table is being freed), and each
            // pointer is owned by this slot alone.
            unsafe { free(garbage) }
        };
        self.release(cold, &mut free);
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
            Garbage::Name(name) => drop(Box::from_raw(name)),
            Garbage::Account(account) => drop(Arc::from_raw(account)),
        }
    }
}
