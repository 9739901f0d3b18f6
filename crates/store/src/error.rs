//! What can go wrong with a store. Every message says what to do, names the
//! store by its URL with the password redacted, and never holds a secret.

use std::fmt;
use std::path::PathBuf;

use whatsgate_auth::{AccountId, PolicyError, TokenId, TokenName};

use crate::url::UrlError;

/// What went wrong with the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names no backend.
    Url(UrlError),
    /// No SQLite file at the path (and the store was to exist already).
    Missing(PathBuf),
    /// The file or database is not a token store (the store, why).
    NotAStore(String, &'static str),
    /// Written by a newer release.
    NewerSchema {
        /// The store (URL, password redacted).
        store: String,
        /// Its schema version.
        found: i64,
    },
    /// Another process holds the lock for longer than the timeout (the store).
    Locked(String),
    /// The server cannot be reached, or the connection was lost (the store,
    /// what the driver said).
    Unreachable(String, String),
    /// A `postgresql://` URL the driver cannot use (the store, what is wrong
    /// with it: an option's name, never its value).
    BadConnectionString(String, String),
    /// No token has this id.
    UnknownToken(TokenId),
    /// No token of this account has this name.
    UnknownName(AccountId, TokenName),
    /// The account already has a token with this name.
    DuplicateName(AccountId, TokenName),
    /// A row does not hold a valid record.
    Damaged(String),
    /// The lifetime policy refused an expiry or a grace period.
    Policy(PolicyError),
    /// The OS random number generator failed.
    Rng,
    /// The SQLite file cannot be opened or created.
    CannotOpen(PathBuf, rusqlite::Error),
    /// Any other SQLite error, with what was being done.
    Sqlite(&'static str, rusqlite::Error),
    /// Any other PostgreSQL error, with what was being done.
    Postgres(&'static str, postgres::Error),
}

impl From<UrlError> for StoreError {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}

impl From<PolicyError> for StoreError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(e) => e.fmt(f),
            Self::Missing(path) => write!(
                f,
                "no token store at {}: create one with `wgauth token create --account A --name N` \
                 or `wgauth serve --demo`, or point --db / WGAUTH_DB at an existing store",
                path.display()
            ),
            Self::NotAStore(store, why) => write!(
                f,
                "{store} is not a wgauth token store ({why}); point --db / WGAUTH_DB at a store"
            ),
            Self::NewerSchema { store, found } => write!(
                f,
                "{store} was written by a newer wgauth (schema version {found}; this wgauth knows up \
                 to {}): upgrade wgauth to use it; the store was not changed",
                crate::LATEST_SCHEMA
            ),
            Self::Locked(store) => write!(
                f,
                "{store} is locked by another process; try again, or raise --busy-timeout"
            ),
            Self::Unreachable(store, why) => write!(
                f,
                "cannot reach the token store {store} ({why}): check that the server runs and \
                 accepts this user"
            ),
            Self::BadConnectionString(store, why) => write!(
                f,
                "{store} is not a PostgreSQL URL this release can use ({why}); write it as \
                 postgresql://user:password@host:5432/database?option=value"
            ),
            Self::UnknownToken(id) => {
                write!(f, "no token has id {id}; `wgauth token list` shows the ids")
            }
            Self::UnknownName(account, name) => write!(
                f,
                "account {:?} has no token named {:?}; `wgauth token list --account {account}` \
                 shows its tokens",
                account.as_str(),
                name.as_str()
            ),
            Self::DuplicateName(account, name) => write!(
                f,
                "account {:?} already has a token named {:?}; pick another name, or \
                 regenerate or delete that token",
                account.as_str(),
                name.as_str()
            ),
            Self::Damaged(why) => write!(f, "the token store is damaged: {why}"),
            // The policy's message says what it allows; this, what to ask instead.
            Self::Policy(e) => {
                let instead = match e {
                    PolicyError::NegativeGrace => {
                        ": give how long the old secret keeps working, \
                                                   or no grace period"
                    }
                    PolicyError::GraceTooLong { .. } => ": ask for a shorter grace period",
                    // Expiry messages already say what to ask for.
                    _ => "",
                };
                write!(f, "{e}{instead}; nothing was changed")
            }
            Self::Rng => f.write_str(
                "the operating system's random number generator failed; no token was made",
            ),
            Self::CannotOpen(path, e) => write!(
                f,
                "cannot open {} ({e}): check that its folder exists and that it is readable and \
                 writable",
                path.display()
            ),
            Self::Sqlite(doing, e) => write!(f, "token store error while {doing}: {e}"),
            Self::Postgres(doing, e) => write!(f, "token store error while {doing}: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(e) => Some(e),
            Self::CannotOpen(_, e) | Self::Sqlite(_, e) => Some(e),
            Self::Postgres(_, e) => Some(e),
            Self::Policy(e) => Some(e),
            _ => None,
        }
    }
}
