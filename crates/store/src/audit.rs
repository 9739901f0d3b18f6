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

/// The notes the store writes for its own writes: one home for what each
/// action's detail says (what changed; never a secret, a verifier or a
/// description's text).
pub(crate) mod notes {
    use whatsgate_auth::{Scopes, Timestamp, TokenRecord};

    use super::AuditNote;

    fn scopes(scopes: &Scopes) -> String {
        match scopes.list() {
            None => "full access".into(),
            Some([]) => "no scopes".into(),
            Some(list) => list
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    fn expiry(at: Option<Timestamp>) -> String {
        at.map_or_else(|| "never".into(), |at| format!("at {at} (Unix time)"))
    }

    pub(crate) fn create(actor: &str, r: &TokenRecord) -> AuditNote {
        let mut detail = format!(
            "name {:?}; scopes: {}; expires: {}",
            r.name.as_str(),
            scopes(&r.scopes),
            expiry(r.expires_at)
        );
        if r.description.is_some() {
            detail.push_str("; with a description");
        }
        AuditNote::new(actor, "token.create", detail)
    }

    pub(crate) fn update(actor: &str, before: &TokenRecord, after: &TokenRecord) -> AuditNote {
        let mut changed = Vec::new();
        if before.name != after.name {
            changed.push(format!(
                "renamed {:?} -> {:?}",
                before.name.as_str(),
                after.name.as_str()
            ));
        }
        if before.scopes != after.scopes {
            changed.push(format!(
                "scopes: {} -> {}",
                scopes(&before.scopes),
                scopes(&after.scopes)
            ));
        }
        if before.disabled != after.disabled {
            changed.push(
                if after.disabled {
                    "disabled"
                } else {
                    "enabled"
                }
                .into(),
            );
        }
        match (&before.description, &after.description) {
            (a, b) if a == b => {}
            (None, Some(_)) => changed.push("description added".into()),
            (Some(_), None) => changed.push("description removed".into()),
            _ => changed.push("description changed".into()),
        }
        if changed.is_empty() {
            changed.push("nothing changed".into());
        }
        let detail = format!("name {:?}; {}", after.name.as_str(), changed.join("; "));
        AuditNote::new(actor, "token.update", detail)
    }

    pub(crate) fn delete(actor: &str, action: &str, r: Option<&TokenRecord>) -> AuditNote {
        let detail = match r {
            Some(r) if action == "token.prune" => {
                format!(
                    "name {:?}; expired {}",
                    r.name.as_str(),
                    expiry(r.expires_at)
                )
            }
            Some(r) => format!("name {:?}", r.name.as_str()),
            None => "a row that was not a valid record".into(),
        };
        AuditNote::new(actor, action, detail)
    }

    pub(crate) fn regenerate(actor: &str, r: &TokenRecord) -> AuditNote {
        let grace = match r.rollover {
            Some(rollover) => format!("the old secret works until {} (Unix time)", rollover.until),
            None => "the old secret stopped working at once".into(),
        };
        AuditNote::new(
            actor,
            "token.regenerate",
            format!("name {:?}; {grace}", r.name.as_str()),
        )
    }
}
