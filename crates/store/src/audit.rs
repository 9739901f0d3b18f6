//! The audit trail: who did what to which token, and when. Append-only,
//! written in the transaction of the write it records, never holding a
//! secret (the writer says what goes in; the store caps the lengths).

use whatsgate_auth::{Timestamp, TokenId};

/// The longest `actor` kept, in characters (longer ones are cut).
pub const MAX_ACTOR: usize = 128;
/// The longest `action` kept, in characters.
pub const MAX_ACTION: usize = 64;
/// The longest `detail` kept, in characters.
pub const MAX_DETAIL: usize = 2048;

/// What a writer says about one write: who, what, and free text such as the
/// URL where a leaked token was found. Never put a token in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    /// Who acted: `leak-report:github`, `leak-report:public`, the acting
    /// token's id (management API), `wgauth` …
    pub actor: String,
    /// What was done: `token.revoke`, `token.delete`, `token.create` …
    pub action: String,
    /// Free text: the source URL of a leak report, for instance.
    pub detail: String,
}

impl AuditNote {
    /// A note with these parts.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            detail: detail.into(),
        }
    }

    /// The parts as stored: cut to their caps, control characters
    /// replaced (a detail is shown in a terminal).
    pub(crate) fn stored(&self) -> (String, String, String) {
        (
            clean(&self.actor, MAX_ACTOR),
            clean(&self.action, MAX_ACTION),
            clean(&self.detail, MAX_DETAIL),
        )
    }
}

/// One entry of the trail, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its position: later entries have larger numbers.
    pub seq: u64,
    /// When it was written (the writing host's clock).
    pub at: Timestamp,
    /// Who acted ([`AuditNote::actor`]).
    pub actor: String,
    /// What was done ([`AuditNote::action`]).
    pub action: String,
    /// The token acted on, if any.
    pub token_id: Option<TokenId>,
    /// That token's account, if known.
    pub account: Option<String>,
    /// [`AuditNote::detail`].
    pub detail: String,
}

fn clean(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The token id column as read back: `None` for NULL, an error text for a
/// value that is no token id.
pub(crate) fn token_id_of(seq: u64, text: Option<&str>) -> Result<Option<TokenId>, String> {
    let Some(text) = text else { return Ok(None) };
    text.parse::<TokenId>()
        .ok()
        .filter(|id| id.to_string() == text)
        .map(Some)
        .ok_or_else(|| format!("audit entry {seq} names {text:?}, which is not a token id"))
}
