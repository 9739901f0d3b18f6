//! What makes a `tokens` row a valid record: one rule for every backend.
//!
//! A backend reads a row's columns into a [`RawRow`] (each column as the
//! type the schema says, or "not that type"), and [`check`] decides. Never
//! fails on a row's content, whatever another program wrote into it.

use whatsgate_auth::{
    AccountId, Description, Rollover, Scopes, Timestamp, TokenId, TokenName, TokenRecord, Verifier,
};

use crate::StoreError;
use crate::backend::BadRow;

/// One `tokens` row, each column as the schema's type or `Err` when the
/// stored value is not of that type. Borrowed from the driver's row: a
/// snapshot checks a million rows and copies out only what is valid.
pub(crate) struct RawRow<'r> {
    /// The id column as shown in messages, even when it is not a valid id.
    pub(crate) shown_id: String,
    /// The id column as text (`Err` says why it is not).
    pub(crate) id: Result<&'r str, &'static str>,
    pub(crate) account: Result<&'r str, &'static str>,
    pub(crate) name: Result<&'r str, &'static str>,
    pub(crate) verifier: Result<Option<&'r [u8]>, ()>,
    pub(crate) created_at: Result<Option<i64>, ()>,
    pub(crate) last_used_at: Result<Option<i64>, ()>,
    pub(crate) rollover_verifier: Result<Option<&'r [u8]>, ()>,
    pub(crate) rollover_until: Result<Option<i64>, ()>,
    /// [`scopes_column`]'s form: NULL for full access.
    pub(crate) scopes: Result<Option<&'r str>, ()>,
    pub(crate) expires_at: Result<Option<i64>, ()>,
    /// `Err` for anything but false or true (0 or 1 in SQLite).
    pub(crate) disabled: Result<bool, ()>,
    pub(crate) description: Result<Option<&'r str>, ()>,
}

/// How a record's scopes are stored: NULL for full access, else the names
/// joined by single spaces (a scope never holds a space), so `""` is a token
/// scoped to nothing. One text column in both backends.
pub(crate) fn scopes_column(scopes: &Scopes) -> Option<String> {
    scopes.list().map(|list| {
        list.iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The record a row holds, or why it holds none.
pub(crate) fn check(raw: RawRow<'_>) -> Result<TokenRecord, BadRow> {
    let bad = |why: String| BadRow {
        id: raw.shown_id.clone(),
        why,
    };
    let id = raw
        .id
        .ok()
        .and_then(|text| Some((text, text.parse::<TokenId>().ok()?)))
        // Ids are written as lowercase hex: another spelling of the same id
        // would be a second row for one token.
        .filter(|(text, id)| id.to_hex_digits() == text.as_bytes())
        .map(|(_, id)| id)
        .ok_or_else(|| bad("its id is not 16 lowercase hexadecimal digits".into()))?;
    let account = raw
        .account
        .map_err(|e| bad(format!("its account id {e}")))
        .and_then(|text| AccountId::new(text).map_err(|e| bad(format!("its account id {e}"))))?;
    let stored_name = raw.name.map_err(|e| bad(format!("its name {e}")))?;
    let name = match TokenName::new(stored_name) {
        // Names are stored trimmed: an untrimmed one would be a second name
        // that means the same as another in the account.
        Ok(name) if name.as_str() == stored_name => name,
        Ok(_) => return Err(bad("its name starts or ends with whitespace".into())),
        Err(e) => return Err(bad(format!("its name {e}"))),
    };
    let Some(verifier) = raw.verifier.ok().flatten().and_then(verifier_of) else {
        return Err(bad("its verifier is not 32 bytes".into()));
    };
    let Ok(Some(created_at)) = instant(raw.created_at) else {
        return Err(bad("its creation time is not a number of seconds".into()));
    };
    let Ok(last_used_at) = instant(raw.last_used_at) else {
        return Err(bad("its last-use time is not a number of seconds".into()));
    };
    let rollover = match (raw.rollover_verifier, instant(raw.rollover_until)) {
        (Ok(None), Ok(None)) => None,
        (Ok(Some(bytes)), Ok(Some(until))) => match verifier_of(bytes) {
            Some(verifier) => Some(Rollover { verifier, until }),
            None => return Err(bad("its previous verifier is not 32 bytes".into())),
        },
        (Err(()), Ok(Some(_))) => {
            return Err(bad("its previous verifier is not 32 bytes".into()));
        }
        _ => return Err(bad("its grace period is incomplete".into())),
    };
    // The fields beyond the seed's: a row that cannot say what its token may
    // do, until when, or whether it is disabled lets no token in (fail
    // closed); it is still removable like any damaged row.
    let scopes = match raw.scopes {
        Ok(None) => Scopes::FULL,
        // "" is the empty list, not one empty name.
        Ok(Some(text)) => Scopes::only(text.split(' ').filter(|_| !text.is_empty()))
            .map_err(|e| bad(format!("its scopes are not a list of scopes ({e})")))?,
        Err(()) => return Err(bad("its scopes are not text".into())),
    };
    let Ok(expires_at) = instant(raw.expires_at) else {
        return Err(bad("its expiry is not a number of seconds".into()));
    };
    let Ok(disabled) = raw.disabled else {
        return Err(bad(
            "its disabled flag is neither false nor true, so whether it may be used is unknown"
                .into(),
        ));
    };
    let description = match raw.description {
        Ok(None) => None,
        Ok(Some(text)) => match Description::new(text) {
            // Stored trimmed, as written.
            Ok(description) if description.as_str() == text => Some(description),
            Ok(_) => return Err(bad("its description starts or ends with whitespace".into())),
            Err(e) => return Err(bad(format!("its description {e}"))),
        },
        Err(()) => return Err(bad("its description is not text".into())),
    };
    Ok(TokenRecord {
        id,
        account,
        name,
        verifier,
        created_at,
        last_used_at,
        rollover,
        scopes,
        expires_at,
        disabled,
        description,
    })
}

fn verifier_of(bytes: &[u8]) -> Option<Verifier> {
    <[u8; 32]>::try_from(bytes).ok().map(Verifier::from_bytes)
}

/// `Ok(None)` for NULL; `Err` for anything but a non-negative integer.
fn instant(value: Result<Option<i64>, ()>) -> Result<Option<Timestamp>, ()> {
    value?
        .map(|s| u64::try_from(s).map(Timestamp).map_err(drop))
        .transpose()
}

/// The error for a row that is not a valid record, when a caller asked for
/// that very record (`list`, `get`, `find`, `regenerate`).
pub(crate) fn damaged(store: &str, bad: &BadRow) -> StoreError {
    StoreError::Damaged(format!(
        "in {store}, the row of token {:?} is not a valid record ({}); `wgauth token delete {}` \
         removes it",
        bad.id, bad.why, bad.id
    ))
}
