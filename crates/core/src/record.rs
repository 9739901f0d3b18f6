//! Token records: what a server keeps about each token, and the lifecycle
//! rules (names, accounts, regeneration with an optional grace period).

use alloc::string::{String, ToString};
use core::fmt;

use rand_core::TryCryptoRng;

use crate::time::Timestamp;
use crate::token::{ParsedToken, RngError, Token, TokenFormat, TokenId};
use crate::verifier::{Rollover, Verifier};

/// The longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest account id, in characters.
pub const MAX_ACCOUNT_CHARS: usize = 128;

/// A token's name, such as "Production API": 1–64 characters after trimming
/// surrounding whitespace, no control characters, unique within its account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenName(String);

/// Why a name or account id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelError {
    /// Empty (for a name: empty after trimming).
    Empty,
    /// Longer than the limit (64 characters for a name, 128 for an account).
    TooLong,
    /// Contains a control character (such as a newline or NUL).
    ControlCharacter,
    /// An account id starts or ends with whitespace.
    SurroundingWhitespace,
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "must not be empty",
            Self::TooLong => "is too long (names: at most 64 characters, accounts: 128)",
            Self::ControlCharacter => "must not contain control characters",
            Self::SurroundingWhitespace => "must not start or end with whitespace",
        })
    }
}

impl core::error::Error for LabelError {}

fn check_label(text: &str, max_chars: usize) -> Result<(), LabelError> {
    if text.is_empty() {
        return Err(LabelError::Empty);
    }
    if text.chars().count() > max_chars {
        return Err(LabelError::TooLong);
    }
    if text.chars().any(char::is_control) {
        return Err(LabelError::ControlCharacter);
    }
    Ok(())
}

impl TokenName {
    /// Trims surrounding whitespace and checks the name.
    ///
    /// # Errors
    /// [`LabelError`] saying what is wrong with it.
    pub fn new(name: &str) -> Result<Self, LabelError> {
        let name = name.trim();
        check_label(name, MAX_NAME_CHARS)?;
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name that was checked when it was first made (the keyring keeps
    /// names as plain strings and gives them back as names).
    pub(crate) fn from_checked(name: &str) -> Self {
        Self(name.to_string())
    }

    /// The string, moved out.
    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The account a token belongs to: an opaque id chosen by the host, 1–128
/// characters, no control characters, no surrounding whitespace. A token
/// reaches every device of its account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Checks an account id (it is not trimmed: ids are compared exactly).
    ///
    /// # Errors
    /// [`LabelError`] saying what is wrong with it.
    pub fn new(account: &str) -> Result<Self, LabelError> {
        check_label(account, MAX_ACCOUNT_CHARS)?;
        if account.trim() != account {
            return Err(LabelError::SurroundingWhitespace);
        }
        Ok(Self(account.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id that was checked when it was first made (the keyring keeps
    /// accounts as shared strings and gives them back as ids).
    pub(crate) fn from_checked(account: &str) -> Self {
        Self(account.to_string())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a server keeps about one token. It holds the verifier, never
/// the token itself.
///
/// With the `serde` feature it (de)serializes to a stable, versioned form
/// (`"format": 1`, see `docs/FORMAT.md`) that hosts can keep in their own
/// database; later fields (expiry, scopes) will be optional additions.
#[derive(Debug, Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "wire::RecordV1", into = "wire::RecordV1")
)]
pub struct TokenRecord {
    /// Public id, also inside the token.
    pub id: TokenId,
    /// Owning account.
    pub account: AccountId,
    /// Name, unique within the account.
    pub name: TokenName,
    /// Verifier of the current secret.
    pub verifier: Verifier,
    /// When the token was created.
    pub created_at: Timestamp,
    /// When the token last authenticated a request, if ever (kept by the
    /// host; a keyring reports it in batches).
    pub last_used_at: Option<Timestamp>,
    /// The previous secret's verifier during a regeneration grace period.
    pub rollover: Option<Rollover>,
}

impl TokenRecord {
    /// The old name of [`TokenRecord::create`].
    ///
    /// # Errors
    /// As [`TokenRecord::create`].
    #[deprecated(
        since = "0.1.0",
        note = "renamed `create`, as in C, Python and the CLI"
    )]
    pub fn issue<R: TryCryptoRng + ?Sized>(
        format: &TokenFormat,
        rng: &mut R,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, Self), RngError> {
        Self::create(format, rng, account, name, now)
    }

    /// Creates a new token for an account: returns the plaintext token (show
    /// it once) and the record to store.
    ///
    /// # Errors
    /// [`RngError`] when the generator fails.
    pub fn create<R: TryCryptoRng + ?Sized>(
        format: &TokenFormat,
        rng: &mut R,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, Self), RngError> {
        let (token, verifier) = format.generate(rng)?;
        let record = Self {
            id: token.id(),
            account,
            name,
            verifier,
            created_at: now,
            last_used_at: None,
            rollover: None,
        };
        Ok((token, record))
    }

    /// Replaces the secret, keeping id, name and account; returns the new
    /// plaintext token.
    ///
    /// The old token stops working at once, or, with `grace_until` in the
    /// future, keeps working until that instant. Only one previous secret is
    /// kept: regenerating again ends an earlier grace period.
    ///
    /// # Errors
    /// [`RngError`] when the generator fails; the record is then unchanged.
    pub fn regenerate<R: TryCryptoRng + ?Sized>(
        &mut self,
        format: &TokenFormat,
        rng: &mut R,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<Token, RngError> {
        let (token, verifier) = format.generate_for(self.id, rng)?;
        self.rollover = grace_until
            .filter(|until| *until > now)
            .map(|until| Rollover {
                verifier: self.verifier,
                until,
            });
        self.verifier = verifier;
        Ok(token)
    }

    /// Whether a parsed token is accepted by this record at `now`.
    ///
    /// The comparison is constant-time; only the verdict is revealed. The
    /// caller must have looked this record up by `token.id()`.
    #[inline]
    pub fn accepts(&self, token: &ParsedToken, now: Timestamp) -> bool {
        self.id == token.id() && token.is_accepted_by(&self.verifier, self.rollover.as_ref(), now)
    }
}

#[cfg(feature = "serde")]
mod wire {
    //! The serialized form, version 1. Changing it means a new version.

    use alloc::string::{String, ToString};

    use super::{AccountId, TokenName, TokenRecord};
    use crate::time::Timestamp;
    use crate::verifier::{Rollover, Verifier};

    const FORMAT: u32 = 1;

    #[derive(serde::Serialize, serde::Deserialize)]
    pub(super) struct RecordV1 {
        format: u32,
        id: String,
        account: String,
        name: String,
        #[serde(with = "crate::verifier::hex_form")]
        verifier: Verifier,
        created_at: Timestamp,
        last_used_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rollover: Option<Rollover>,
    }

    impl From<TokenRecord> for RecordV1 {
        fn from(r: TokenRecord) -> Self {
            Self {
                format: FORMAT,
                id: r.id.to_string(),
                account: r.account.0,
                name: r.name.0,
                verifier: r.verifier,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                rollover: r.rollover,
            }
        }
    }

    impl TryFrom<RecordV1> for TokenRecord {
        type Error = String;

        fn try_from(w: RecordV1) -> Result<Self, String> {
            if w.format != FORMAT {
                return Err(alloc::format!(
                    "record format {} is not supported by this version of whatsgate-auth (it reads format {FORMAT})",
                    w.format
                ));
            }
            Ok(Self {
                id: w.id.parse().map_err(|e| alloc::format!("id: {e}"))?,
                account: AccountId::new(&w.account).map_err(|e| alloc::format!("account {e}"))?,
                name: TokenName::new(&w.name).map_err(|e| alloc::format!("name {e}"))?,
                verifier: w.verifier,
                created_at: w.created_at,
                last_used_at: w.last_used_at,
                rollover: w.rollover,
            })
        }
    }
}
