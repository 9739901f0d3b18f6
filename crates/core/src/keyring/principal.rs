//! Who a request was authenticated as: lent ([`PrincipalRef`]) or owned
//! ([`Principal`]). Neither holds the secret, and making either writes no
//! memory that another thread reads: an owned principal is a copy (inline
//! for the usual short account and name), not a shared reference count, so
//! two threads verifying the same token do not contend for one cache line.

use alloc::boxed::Box;
use core::fmt;

use crate::token::TokenId;

/// Who a request was authenticated as: never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    token_id: TokenId,
    account: Text,
    name: Text,
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
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("account", &self.account())
            .field("token_id", &self.token_id)
            .field("token_name", &self.token_name())
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

    /// An owned [`Principal`]: a copy of the account and name, inline when
    /// they are short (no allocation, no shared counter).
    pub fn to_principal(&self) -> Principal {
        Principal {
            token_id: self.token_id,
            account: Text::new(self.account),
            name: Text::new(self.name),
        }
    }
}

impl fmt::Debug for PrincipalRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalRef")
            .field("account", &self.account)
            .field("token_id", &self.token_id)
            .field("token_name", &self.name)
            .finish()
    }
}

/// Bytes of text kept inline: 30, so a `Text` is 32 bytes.
const INLINE: usize = 30;

/// A copied string: inline up to [`INLINE`] bytes, on the heap beyond.
#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    fn new(text: &str) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(text.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Inline { len, bytes } => {
                // Copied from a `&str` whole (see `new`); the check is a few
                // nanoseconds and keeps this free of `unsafe`.
                core::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
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
        assert_eq!(core::mem::size_of::<Text>(), 32);
    }
}
