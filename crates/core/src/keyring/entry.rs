//! What the keyring keeps per token, in both of its maps (the index with
//! `std`, a `BTreeMap` without), and what a reader is lent of it.
//!
//! `unsafe` here: the index's copy of a short name is turned back into a
//! `&str` without checking it again (see `InlineName`).
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::sync::Arc;

use super::index::AccountName;
use crate::record::{AccountId, Description, TokenName, TokenRecord, is_active};
use crate::scope::Scopes;
use crate::time::Timestamp;
use crate::token::TokenId;
use crate::verifier::{Rollover, Verifier};

/// Names up to this many bytes are copied inline by readers of the index.
#[cfg(feature = "std")]
pub(crate) const INLINE_NAME: usize = 23;

/// What a slot holds, as the writer gives it (and a side record keeps it).
#[derive(Clone)]
pub(crate) struct Content {
    pub(crate) verifier: Verifier,
    /// Boxed: rare, and a bulk load moves a million contents.
    pub(crate) rollover: Option<Box<Rollover>>,
    pub(crate) account: Arc<AccountName>,
    pub(crate) name: Box<str>,
    pub(crate) created_at: Timestamp,
    /// The fields beyond the seed's, when a token has any (boxed: rare).
    pub(crate) extras: Option<Box<Extras>>,
}

/// A record's fields beyond the seed's. A token that has them is read
/// through its side record (see the index's `needs_side`), so tokens without
/// them keep the one-line path.
#[derive(Clone)]
pub(crate) struct Extras {
    pub(crate) scopes: Scopes,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) disabled: bool,
    pub(crate) description: Option<Description>,
}

impl Content {
    /// The content of `record`, whose account is `account` (the shared
    /// string). Its owned parts are taken, not copied (a bulk load makes a
    /// million; the record is left with an empty name and the defaults,
    /// and is only dropped after this).
    pub(crate) fn take(
        record: &mut TokenRecord,
        account: Arc<AccountName>,
    ) -> (TokenId, Self, Option<Timestamp>) {
        let plain = record.is_plain();
        let content = Self {
            verifier: record.verifier,
            rollover: record.rollover.take().map(Box::new),
            account,
            name: record.name.take().into_boxed_str(),
            created_at: record.created_at,
            extras: (!plain).then(|| {
                Box::new(Extras {
                    scopes: core::mem::take(&mut record.scopes),
                    expires_at: record.expires_at,
                    disabled: record.disabled,
                    description: record.description.take(),
                })
            }),
        };
        (record.id, content, record.last_used_at)
    }

    /// A reader's view of it.
    pub(crate) fn view(&self) -> View<'_> {
        View {
            verifier: self.verifier,
            rollover: self.rollover.as_deref().copied(),
            account: self.account.as_str(),
            name: NameCopy::Long(&self.name),
            created_at: self.created_at,
            extras: self.extras.as_deref(),
        }
    }

    /// Whether `presented` is accepted at `now`: constant-time in the
    /// verifiers, which are compared whether or not the token is active.
    #[inline]
    pub(crate) fn accepts(&self, presented: &Verifier, now: Timestamp) -> subtle::Choice {
        let matches =
            crate::verifier::accepts(&self.verifier, self.rollover.as_deref(), presented, now);
        let active = self
            .extras
            .as_deref()
            .is_none_or(|e| is_active(e.disabled, e.expires_at, now));
        matches & subtle::Choice::from(u8::from(active))
    }

    /// What the token may do.
    #[inline]
    pub(crate) fn scopes(&self) -> &Scopes {
        self.extras
            .as_deref()
            .map_or(&crate::scope::FULL, |e| &e.scopes)
    }
}

/// A name as a reader copied it.
pub(crate) enum NameCopy<'g> {
    /// Copied out of the index's cold cell (only the index makes these).
    #[cfg(feature = "std")]
    Inline(InlineName),
    Long(&'g str),
}

impl NameCopy<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            #[cfg(feature = "std")]
            Self::Inline(name) => name.as_str(),
            Self::Long(name) => name,
        }
    }
}

/// A consistent copy of a live slot, valid while the caller's guard is.
pub(crate) struct View<'g> {
    pub(crate) verifier: Verifier,
    pub(crate) rollover: Option<Rollover>,
    pub(crate) account: &'g str,
    pub(crate) name: NameCopy<'g>,
    pub(crate) created_at: Timestamp,
    pub(crate) extras: Option<&'g Extras>,
}

impl View<'_> {
    /// Whether it holds this account and name.
    pub(crate) fn holds(&self, account: &str, name: &str) -> bool {
        self.account == account && self.name.as_str() == name
    }

    /// The record, with `last_used_at` from memory.
    pub(crate) fn record(&self, id: TokenId, last_used_at: Option<Timestamp>) -> TokenRecord {
        TokenRecord {
            id,
            account: AccountId::from_checked(self.account),
            name: TokenName::from_checked(self.name.as_str()),
            verifier: self.verifier,
            created_at: self.created_at,
            last_used_at,
            rollover: self.rollover,
            scopes: self.extras.map_or(Scopes::FULL, |e| e.scopes.clone()),
            expires_at: self.extras.and_then(|e| e.expires_at),
            disabled: self.extras.is_some_and(|e| e.disabled),
            description: self.extras.and_then(|e| e.description.clone()),
        }
    }
}

/// What verification found in a slot, small enough to stay in registers.
pub(crate) struct Hit<'g> {
    pub(crate) accepted: subtle::Choice,
    pub(crate) account: &'g str,
    pub(crate) name: HitName<'g>,
    pub(crate) scopes: &'g Scopes,
}

/// A hit's name: the cold cell's words (decoded only on success), or a
/// long name in the side record.
pub(crate) enum HitName<'g> {
    #[cfg(feature = "std")]
    Words(InlineName),
    Long(&'g str),
}

impl<'g> HitName<'g> {
    /// The name when it is not the index's inline copy (else empty).
    #[inline]
    pub(crate) fn long(&self) -> &'g str {
        match self {
            #[cfg(feature = "std")]
            Self::Words(_) => "",
            Self::Long(name) => name,
        }
    }

    /// The index's inline copy (`InlineName::as_str` borrows from it).
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) fn decode(&self) -> Option<InlineName> {
        match self {
            Self::Words(name) => Some(*name),
            Self::Long(_) => None,
        }
    }
}

/// A name of at most [`INLINE_NAME`] bytes as the index's reader copied it
/// from a cold cell: the cell's three words (the bytes in order, the length
/// in the last byte) and a zero word. Word-aligned and copied by words, so
/// no copy of it loads across two smaller stores.
#[cfg(feature = "std")]
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub(crate) struct InlineName([u64; 4]);

#[cfg(feature = "std")]
impl InlineName {
    /// # Safety
    /// `words` are a cold cell's as the index's `encode_name` wrote them
    /// from a `&str`, copied whole (under a validated sequence).
    #[inline(always)]
    pub(crate) unsafe fn from_cell(words: [u64; 3]) -> Self {
        Self([words[0], words[1], words[2], 0])
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: 32 initialised bytes of `self`, read as bytes.
        let bytes: &[u8; 32] = unsafe { &*self.0.as_ptr().cast::<[u8; 32]>() };
        let len = usize::from(bytes[INLINE_NAME]).min(INLINE_NAME);
        debug_assert!(core::str::from_utf8(&bytes[..len]).is_ok());
        // SAFETY: per `from_cell`'s contract, the first `len` bytes are the
        // UTF-8 of a `&str` that `encode_name` wrote.
        unsafe { core::str::from_utf8_unchecked(&bytes[..len]) }
    }

    /// The cell's words, for a copy that keeps them whole.
    #[inline]
    pub(crate) fn words(&self) -> [u64; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
}
