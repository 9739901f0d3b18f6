//! Token records: what a server keeps about each token, and the lifecycle
//! rules (names, accounts, regeneration with an optional grace period).

use alloc::string::{String, ToString};
use core::fmt;

use rand_core::TryCryptoRng;

use crate::scope::Scopes;
use crate::time::Timestamp;
use crate::token::{ParsedToken, RngError, Token, TokenFormat, TokenId};
use crate::verifier::{Rollover, Verifier};

/// The longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest account id, in characters.
pub const MAX_ACCOUNT_CHARS: usize = 128;
/// The longest token description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// A token's name, such as "Production API": 1–64 characters after trimming
/// surrounding whitespace, no control characters, unique within its account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenName(String);

/// Why a name or account id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelError {
    /// Empty (for a name: empty after trimming).
    Empty,
    /// Longer than the limit (64 characters for a name, 128 for an
    /// account, 256 for a description).
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
            Self::TooLong => {
                "is too long (names: at most 64 characters, accounts: 128, descriptions: 256)"
            }
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

    /// The string, moved out (an empty one left behind, which allocates
    /// nothing): for a record about to be dropped.
    pub(crate) fn take(&mut self) -> String {
        core::mem::take(&mut self.0)
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

/// A token's description, such as "sends order confirmations": 1–256
/// characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Description(String);

impl Description {
    /// Trims surrounding whitespace and checks the description.
    ///
    /// # Errors
    /// [`LabelError`] saying what is wrong with it.
    pub fn new(text: &str) -> Result<Self, LabelError> {
        let text = text.trim();
        check_label(text, MAX_DESCRIPTION_CHARS)?;
        Ok(Self(text.to_string()))
    }

    /// The description.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a server keeps about one token. It holds the verifier, never
/// the token itself.
///
/// With the `serde` feature it (de)serializes to a stable, versioned form
/// (see `docs/FORMAT.md`) that hosts can keep in their own database:
/// `"format": 1` for a record with none of the fields beyond the seed's
/// (scopes, expiry, disabled, description), `"format": 2` for one that has
/// any, so a reader that predates them refuses it rather than reading a
/// disabled or restricted token as a full one.
#[derive(Debug, Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "wire::Record", into = "wire::Record")
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
    /// What it may do: [`Scopes::FULL`] unless restricted.
    pub scopes: Scopes,
    /// Refused from this instant on, if set (tokens never expire by default).
    pub expires_at: Option<Timestamp>,
    /// Refused while set, without being deleted.
    pub disabled: bool,
    /// What it is for, in the owner's words.
    pub description: Option<Description>,
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
            scopes: Scopes::FULL,
            expires_at: None,
            disabled: false,
            description: None,
        };
        Ok((token, record))
    }

    /// Creates a new token as `spec` describes it (scopes, expiry,
    /// description); see [`TokenRecord::create`]. The spec is not checked
    /// against a lifetime policy here: [`LifetimePolicy::admit`] does that.
    ///
    /// # Errors
    /// [`RngError`] when the generator fails.
    pub fn create_from<R: TryCryptoRng + ?Sized>(
        format: &TokenFormat,
        rng: &mut R,
        spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, Self), RngError> {
        let NewToken {
            account,
            name,
            scopes,
            expires_at,
            description,
        } = spec;
        let (token, record) = Self::create(format, rng, account, name, now)?;
        Ok((
            token,
            Self {
                scopes,
                expires_at,
                description,
                ..record
            },
        ))
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

    /// Whether a parsed token is accepted by this record at `now`: its
    /// secret matches and the record [is active](TokenRecord::is_active).
    ///
    /// The comparison is constant-time, and made whether or not the record
    /// is active, so an expired or disabled token costs what a wrong secret
    /// costs; only the verdict is revealed. The caller must have looked this
    /// record up by `token.id()`.
    #[inline]
    pub fn accepts(&self, token: &ParsedToken, now: Timestamp) -> bool {
        let matches = token.is_accepted_by(&self.verifier, self.rollover.as_ref(), now);
        self.id == token.id() && matches & self.is_active(now)
    }

    /// Whether the record lets its token in at `now`: neither disabled nor
    /// expired.
    #[inline]
    pub fn is_active(&self, now: Timestamp) -> bool {
        is_active(self.disabled, self.expires_at, now)
    }

    /// Whether it has expired at `now` (`expires_at` is exclusive).
    #[inline]
    pub fn is_expired(&self, now: Timestamp) -> bool {
        is_expired(self.expires_at, now)
    }

    /// Whether it has no field beyond the seed's: full access, no expiry,
    /// enabled, no description.
    pub fn is_plain(&self) -> bool {
        self.scopes.is_full()
            && self.expires_at.is_none()
            && !self.disabled
            && self.description.is_none()
    }

    /// Applies a change of name, description, scopes or state.
    pub fn apply(&mut self, update: TokenUpdate) {
        let TokenUpdate {
            name,
            description,
            scopes,
            disabled,
        } = update;
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(description) = description {
            self.description = description;
        }
        if let Some(scopes) = scopes {
            self.scopes = scopes;
        }
        if let Some(disabled) = disabled {
            self.disabled = disabled;
        }
    }
}

/// The one rule for whether a token's record lets it in at `now` (every
/// map of the keyring and every host applies this).
#[inline]
pub(crate) fn is_active(disabled: bool, expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    !disabled && !is_expired(expires_at, now)
}

#[inline]
fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|at| now >= at)
}

/// A token to create: its account and name, and optionally what it may do,
/// when it expires, and what it is for.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Owning account.
    pub account: AccountId,
    /// Name, unique within the account.
    pub name: TokenName,
    /// What it may do ([`Scopes::FULL`] by default).
    pub scopes: Scopes,
    /// When it stops working (never, by default; a [`LifetimePolicy`] may
    /// set or bound it).
    pub expires_at: Option<Timestamp>,
    /// What it is for.
    pub description: Option<Description>,
}

impl NewToken {
    /// A full-access token that never expires, as the seed creates them.
    pub fn new(account: AccountId, name: TokenName) -> Self {
        Self {
            account,
            name,
            scopes: Scopes::FULL,
            expires_at: None,
            description: None,
        }
    }
}

/// A change to a token's record; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TokenUpdate {
    /// A new name (unique within the account).
    pub name: Option<TokenName>,
    /// A new description, or `Some(None)` to remove it.
    pub description: Option<Option<Description>>,
    /// New scopes.
    pub scopes: Option<Scopes>,
    /// Disable (`Some(true)`) or enable (`Some(false)`).
    pub disabled: Option<bool>,
}

impl TokenUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.scopes.is_none()
            && self.disabled.is_none()
    }
}

/// Seconds in a day.
const DAY: u64 = 86_400;

/// How long tokens may live: a maximum lifetime for new tokens (none by
/// default) and a cap on a regeneration's grace period (30 days by
/// default). A keyring and a store each apply theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimePolicy {
    /// The longest a new token may live, in seconds; a token created without
    /// an expiry then gets one this far ahead. `None`: no limit.
    pub max_lifetime: Option<u64>,
    /// The longest grace period a regeneration may keep the old secret
    /// working for, in seconds.
    pub max_grace: u64,
}

impl Default for LifetimePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A lifetime policy refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    /// The expiry asked for is not in the future.
    ExpiryNotInFuture,
    /// The expiry asked for is further ahead than the maximum lifetime
    /// (seconds).
    LifetimeTooLong {
        /// The policy's maximum, in seconds.
        max: u64,
    },
    /// The grace period ends before it starts (a negative length).
    NegativeGrace,
    /// The grace period is longer than the cap (seconds).
    GraceTooLong {
        /// The policy's cap, in seconds.
        max: u64,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExpiryNotInFuture => f.write_str("the expiry must be in the future"),
            Self::LifetimeTooLong { max } => write!(
                f,
                "tokens may live at most {} (the lifetime policy); ask for an earlier expiry",
                Seconds(*max)
            ),
            Self::NegativeGrace => f.write_str("a grace period cannot be negative"),
            Self::GraceTooLong { max } => write!(
                f,
                "a grace period may last at most {} (the lifetime policy)",
                Seconds(*max)
            ),
        }
    }
}

impl core::error::Error for PolicyError {}

/// A length in seconds, shown in whole days when it is some, for messages.
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DAY => f.write_str("1 day"),
            s if s >= DAY && s % DAY == 0 => write!(f, "{} days", s / DAY),
            1 => f.write_str("1 second"),
            s => write!(f, "{s} seconds"),
        }
    }
}

impl LifetimePolicy {
    /// No maximum lifetime; grace periods up to 30 days.
    pub const DEFAULT: Self = Self {
        max_lifetime: None,
        max_grace: 30 * DAY,
    };

    /// Checks a new token's expiry, and gives one to a token that asked for
    /// none when there is a maximum lifetime.
    ///
    /// # Errors
    /// [`PolicyError::ExpiryNotInFuture`] or
    /// [`PolicyError::LifetimeTooLong`].
    pub fn admit(&self, spec: &mut NewToken, now: Timestamp) -> Result<(), PolicyError> {
        spec.expires_at = self.expiry(spec.expires_at, now)?;
        Ok(())
    }

    fn expiry(
        &self,
        asked: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, PolicyError> {
        match (asked, self.max_lifetime) {
            (Some(at), _) if at <= now => Err(PolicyError::ExpiryNotInFuture),
            (Some(at), Some(max)) if at.0 - now.0 > max => {
                Err(PolicyError::LifetimeTooLong { max })
            }
            (None, Some(max)) => Ok(Some(now.plus_secs(max))),
            (asked, _) => Ok(asked),
        }
    }

    /// Checks a regeneration's grace period (ending at `grace_until`).
    ///
    /// # Errors
    /// [`PolicyError::NegativeGrace`] or [`PolicyError::GraceTooLong`].
    pub fn check_grace(
        &self,
        grace_until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), PolicyError> {
        match grace_until {
            Some(until) if until < now => Err(PolicyError::NegativeGrace),
            Some(until) if until.0 - now.0 > self.max_grace => Err(PolicyError::GraceTooLong {
                max: self.max_grace,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "serde")]
mod wire {
    //! The serialized form: format 1 (the seed's fields), and format 2 (the
    //! same, plus the optional fields beyond them). Changing either means a
    //! new format.

    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use super::{AccountId, Description, TokenName, TokenRecord};
    use crate::scope::Scopes;
    use crate::time::Timestamp;
    use crate::verifier::{Rollover, Verifier};

    /// The seed's fields only.
    const PLAIN: u32 = 1;
    /// With any of scopes, expiry, disabled, description.
    const EXTENDED: u32 = 2;

    #[derive(serde::Serialize, serde::Deserialize)]
    pub(super) struct Record {
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
        /// Absent (or null): full access.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "core::ops::Not::not")]
        disabled: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    }

    impl From<TokenRecord> for Record {
        fn from(r: TokenRecord) -> Self {
            Self {
                format: if r.is_plain() { PLAIN } else { EXTENDED },
                id: r.id.to_string(),
                account: r.account.0,
                name: r.name.0,
                verifier: r.verifier,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                rollover: r.rollover,
                scopes: r
                    .scopes
                    .list()
                    .map(|list| list.iter().map(|s| s.as_str().into()).collect()),
                expires_at: r.expires_at,
                disabled: r.disabled,
                description: r.description.map(|d| d.0),
            }
        }
    }

    impl TryFrom<Record> for TokenRecord {
        type Error = String;

        fn try_from(w: Record) -> Result<Self, String> {
            if !(PLAIN..=EXTENDED).contains(&w.format) {
                return Err(alloc::format!(
                    "record format {} is not supported by this version of whatsgate-auth (it reads formats {PLAIN} and {EXTENDED})",
                    w.format
                ));
            }
            let extended = w.scopes.is_some()
                || w.expires_at.is_some()
                || w.disabled
                || w.description.is_some();
            if extended && w.format == PLAIN {
                // A writer of format 1 has no such fields: this record was
                // made by hand, and an older reader would ignore them.
                return Err(alloc::format!(
                    "a record with scopes, expiry, disabled or description is format {EXTENDED}, not {PLAIN}"
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
                scopes: match w.scopes {
                    None => Scopes::FULL,
                    Some(names) => {
                        Scopes::only(names).map_err(|e| alloc::format!("scopes: {e}"))?
                    }
                },
                expires_at: w.expires_at,
                disabled: w.disabled,
                description: w
                    .description
                    .map(|d| Description::new(&d).map_err(|e| alloc::format!("description {e}")))
                    .transpose()?,
            })
        }
    }
}
