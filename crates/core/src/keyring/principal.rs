//! Who a request was authenticated as: lent ([`PrincipalRef`]) or owned
//! ([`Principal`]). Neither holds the secret, and making either writes no
//! memory that another thread reads: an owned principal is a copy (inline
//! for the usual short account and name), not a shared reference count, so
//! two threads verifying the same token do not contend for one cache line
//! (a token with restricted scopes shares its list, counted).

use alloc::boxed::Box;
use core::fmt;

use crate::scope::Scopes;
use crate::token::TokenId;

/// Who a request was authenticated as: never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    token_id: TokenId,
    account: Text,
    name: Text,
    scopes: Scopes,
}

impl Principal {
    /// The account the token belongs to; it reaches all of that account's devices.
    pub fn account(&self) -> &str {
        self.account.as_str()
    }

    /// The public id of the token that was presented.
    pub const fn token_id(&self) -> TokenId {
        self.token_id
    }

    /// The name the token was created with.
    pub fn token_name(&self) -> &str {
        self.name.as_str()
    }

    /// What the token may do.
    pub const fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Whether the token may use a route that needs `required` (a
    /// `resource:action` scope); see [`Scopes::allows`].
    pub fn has_scope(&self, required: &str) -> bool {
        self.scopes.allows(required)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("account", &self.account())
            .field("token_id", &self.token_id)
            .field("token_name", &self.token_name())
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Who a request was authenticated as, lent by [`Keyring::verify_with`]
/// for the length of a closure: reading it touches no shared counter.
///
/// [`Keyring::verify_with`]: crate::Keyring::verify_with
#[derive(Clone, Copy)]
pub struct PrincipalRef<'a> {
    pub(super) token_id: TokenId,
    pub(super) account: &'a str,
    pub(super) name: &'a str,
    pub(super) scopes: &'a Scopes,
    /// The index's copy of a short name, which `to_principal` copies by
    /// its words (see `Text::new`).
    #[cfg(feature = "std")]
    pub(super) inline_name: Option<&'a super::entry::InlineName>,
}

impl<'a> PrincipalRef<'a> {
    /// The account the token belongs to.
    pub const fn account(&self) -> &'a str {
        self.account
    }

    /// The public id of the token that was presented.
    pub const fn token_id(&self) -> TokenId {
        self.token_id
    }

    /// The name the token was created with.
    pub const fn token_name(&self) -> &'a str {
        self.name
    }

    /// What the token may do.
    pub const fn scopes(&self) -> &'a Scopes {
        self.scopes
    }

    /// Whether the token may use a route that needs `required` (a
    /// `resource:action` scope); see [`Scopes::allows`].
    pub fn has_scope(&self, required: &str) -> bool {
        self.scopes.allows(required)
    }

    /// An owned [`Principal`]: a copy of the account and name, inline when
    /// they are short (no allocation, no shared counter). A token with
    /// restricted scopes shares its list: that one case counts a reference.
    #[inline]
    pub fn to_principal(&self) -> Principal {
        #[cfg(feature = "std")]
        let name = self.inline_name.map_or_else(
            || Text::new(self.name),
            |inline| {
                let [a, b, c] = inline.words().map(u64::from_le);
                // The cell's last byte is its length, not text.
                Text::from_words([a, b, c & !(0xff << 56), 0], self.name.len())
            },
        );
        #[cfg(not(feature = "std"))]
        let name = Text::new(self.name);
        Principal {
            token_id: self.token_id,
            account: Text::new(self.account),
            name,
            scopes: self.scopes.clone(),
        }
    }
}

impl fmt::Debug for PrincipalRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalRef")
            .field("account", &self.account)
            .field("token_id", &self.token_id)
            .field("token_name", &self.name)
            .field("scopes", self.scopes)
            .finish()
    }
}

/// Bytes of text kept inline: 31 (the 32nd holds the length).
const INLINE: usize = 31;

/// A copied string: inline up to [`INLINE`] bytes, on the heap beyond.
/// Word-aligned, so moving a `Principal` copies whole words.
#[derive(Clone)]
enum Text {
    Inline(Inline),
    Heap(Box<str>),
}

#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Inline([u8; INLINE + 1]);

impl Text {
    /// A copy of `text`. Read by whole words (so the copy never loads
    /// across two smaller stores, which stalls) and written as two 16-byte
    /// halves (so moving a `Principal` around does not either).
    #[inline(always)]
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        if bytes.len() > INLINE {
            return Self::Heap(text.into());
        }
        let n = bytes.len();
        let mut words = [0u64; 4];
        let word_at = |i: usize| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(word)
        };
        if n >= 8 {
            for (i, word) in words.iter_mut().enumerate().take(n / 8) {
                *word = word_at(8 * i);
            }
            if !n.is_multiple_of(8) {
                // The last 8 bytes, shifted down to the ones not read yet.
                words[n / 8] = word_at(n - 8) >> (8 * (8 - n % 8));
            }
        } else {
            for (i, byte) in bytes.iter().enumerate() {
                words[0] |= u64::from(*byte) << (8 * i);
            }
        }
        Self::from_words(words, n)
    }

    /// A copy of `len` bytes held in `words` (little-endian order).
    #[inline(always)]
    fn from_words(mut words: [u64; 4], len: usize) -> Self {
        // At most INLINE (31): the callers checked.
        #[allow(clippy::cast_possible_truncation)]
        let len = len.min(INLINE) as u8;
        words[3] = (words[3] & !(0xff << 56)) | (u64::from(len) << 56);
        let low = u128::from(words[0]) | (u128::from(words[1]) << 64);
        let high = u128::from(words[2]) | (u128::from(words[3]) << 64);
        let mut inline = Inline([0; INLINE + 1]);
        inline.0[..16].copy_from_slice(&low.to_le_bytes());
        inline.0[16..].copy_from_slice(&high.to_le_bytes());
        Self::Inline(inline)
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Inline(Inline(bytes)) => {
                // Copied from a `&str` whole (see `new`); the check is a few
                // nanoseconds, paid when the principal is read, not made.
                let len = usize::from(bytes[INLINE]).min(INLINE);
                core::str::from_utf8(&bytes[..len]).unwrap_or_default()
            }
            Self::Heap(text) => text,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_inline_and_heap_keep_the_string() {
        for s in [
            "",
            "a",
            "Production API",
            &"x".repeat(30),
            &"é".repeat(16),
            &"y".repeat(128),
        ] {
            let text = Text::new(s);
            assert_eq!(text.as_str(), s);
            assert_eq!(
                matches!(text, Text::Inline { .. }),
                s.len() <= INLINE,
                "{s}"
            );
        }
        assert!(Text::new("a") == Text::new("a"));
        assert!(Text::new("a") != Text::new("b"));
        assert_eq!(core::mem::size_of::<Text>(), 48);
    }
}
