//! `wgauth serve`'s token management: the `/api/tokens` JSON API and the
//! "API Tokens" page that uses it (`docs/MANAGEMENT.md` documents both).
//!
//! - The API is under `/api`, so the server's `AuthLayer` has already
//!   authenticated the request (`Access-Token`) when a handler runs; every
//!   handler then needs the `tokens:manage` scope (checked before anything
//!   else, so a token without it learns nothing) and acts only on the
//!   calling token's own account. An id of another account answers exactly
//!   as an unknown id (404): no existence oracle. A caller grants no more
//!   than it holds: a token limited to some scopes can neither create nor
//!   widen a token beyond them, nor regenerate (and so receive the secret
//!   of) a token that reaches further ([`Caller::may_grant`]).
//! - Every write goes through the store ([`store`]), with the acting token
//!   as the audit trail's actor, so every node follows it and this node's
//!   keyring has it before the answer is sent.
//! - Bodies: JSON only, at most [`MAX_BODY`] bytes, unknown fields refused;
//!   every error is `{"message": "…"}` and never quotes what was sent (a
//!   caller may paste a token into the wrong field).
//! - The page ([`page`]) is public (it holds nothing); it signs in with a
//!   management token kept in its script's memory only.

mod page;
mod store;

pub(crate) use page::PAGE;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use whatsgate_auth::{
    AccountId, Description, NewToken, Scopes, Timestamp, TokenId, TokenName, TokenRecord,
    TokenUpdate,
};
use whatsgate_auth_store::{AuditEntry, StoreError, SyncedKeyring};
use whatsgate_auth_tower::{Authenticated, ScopeRejection};

use crate::units::parse_duration;

/// The scope every management route needs.
pub const MANAGE_SCOPE: &str = "tokens:manage";
/// The largest request body taken, in bytes (a create with 64 scopes and a
/// full description is under 4 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// Audit entries `GET /api/tokens/audit` returns unless `?limit=` says
/// otherwise, and the most it returns.
pub const AUDIT_LIMIT: usize = 100;
/// The most audit entries one call returns.
pub const MAX_AUDIT_LIMIT: usize = 1000;

/// The answer for an id that is not one of the caller's account's tokens
/// (unknown, malformed, deleted, or another account's): one body for all.
const NO_SUCH_TOKEN: &str = "no token with this id in your account";

/// The management routes and the page, to merge into the server's router.
pub(crate) fn router(synced: Arc<SyncedKeyring>) -> Router {
    let api = Router::new()
        .route(
            "/api/tokens",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route("/api/tokens/audit", get(audit).fallback(method_not_allowed))
        .route(
            "/api/tokens/revoke-all",
            post(revoke_all).fallback(method_not_allowed),
        )
        .route(
            "/api/tokens/{id}",
            get(show)
                .patch(update)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/tokens/{id}/regenerate",
            post(regenerate).fallback(method_not_allowed),
        )
        .with_state(store::Manager::new(synced));
    api.merge(page::router())
}

/// An error answer.
#[derive(Debug)]
enum ApiError {
    /// A status and `{"message": "…"}`.
    Answer { status: StatusCode, message: String },
    /// The caller lacks `tokens:manage`: the tower crate's scope answer.
    Denied(ScopeRejection),
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Answer {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, NO_SUCH_TOKEN)
    }
}

/// The body as every error the server sends writes it (`{"message": "…"}`,
/// with its space), so a client sees one shape.
fn message_body(message: &str) -> String {
    let quoted = serde_json::Value::from(message).to_string();
    format!(r#"{{"message": {quoted}}}"#)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Denied(denied) => return denied.into_response(),
            Self::Answer { status, message } => (status, message),
        };
        let mut response = (status, json_headers(), message_body(&message)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownToken(_) | StoreError::UnknownName(..) => Self::not_found(),
            StoreError::DuplicateName(..) => Self::new(
                StatusCode::CONFLICT,
                "the account already has a token with this name; choose another name",
            ),
            StoreError::Policy(e) => Self::bad(e.to_string()),
            StoreError::Locked(_) | StoreError::Unreachable(..) => {
                say!("wgauth: token management: {e}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the token store is busy or unreachable; try again",
                )
            }
            other => {
                // The store's message may name files or the server; the
                // operator reads it, the caller gets a plain answer.
                say!("wgauth: token management: {other}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the token store failed; the server's log says why",
                )
            }
        }
    }
}

/// JSON, never sniffed as anything else, never cached (a listing names
/// tokens; a create holds one).
fn json_headers() -> [(axum::http::HeaderName, HeaderValue); 3] {
    [
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => (status, json_headers(), text).into_response(),
        Err(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not write JSON").into_response()
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed here; docs/MANAGEMENT.md lists the routes",
    )
}

/// The caller, once it is known to hold `tokens:manage`.
struct Caller {
    account: AccountId,
    id: TokenId,
    /// What the caller may do: it may hand out no more.
    scopes: Scopes,
}

impl Caller {
    /// A caller may give a token only scopes it holds itself (full access
    /// only if it has it), so a token limited to `tokens:manage` cannot
    /// mint or widen a token beyond its own reach.
    fn may_grant(&self, wanted: &Scopes) -> Result<(), ApiError> {
        if self.scopes.is_full() {
            return Ok(());
        }
        let refuse = |what: String| {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this token cannot grant {what}: a token may only grant scopes it holds"),
            ))
        };
        match wanted.list() {
            None => refuse("full access".to_string()),
            Some(list) => match list.iter().find(|s| !self.scopes.allows(s.as_str())) {
                Some(scope) => refuse(format!("the scope {scope}")),
                None => Ok(()),
            },
        }
    }
}

/// The scope check every route starts with: 403 with the core's scope
/// denial (through the tower crate), byte for byte what every other
/// surface answers.
fn caller(auth: &Authenticated) -> Result<Caller, ApiError> {
    auth.require(MANAGE_SCOPE).map_err(ApiError::Denied)?;
    // The keyring holds only valid account ids.
    let account = AccountId::new(auth.account()).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the caller's account could not be read",
        )
    })?;
    Ok(Caller {
        account,
        id: auth.token_id(),
        scopes: auth.scopes().clone(),
    })
}

/// The token id of a path, or the 404 every unknown id gets.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<TokenId, ApiError> {
    path.ok()
        .and_then(|Path(text)| text.parse().ok())
        .ok_or_else(ApiError::not_found)
}

/// Reads a JSON body: `Content-Type: application/json` (415 otherwise), at
/// most [`MAX_BODY`] bytes (413), the request's fields and no others (400).
async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON, with Content-Type: application/json",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    // Past the limit, or a body that broke off: either way nothing to parse.
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    // serde would also take a struct as an array of its fields; a request
    // is an object, named fields only.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::bad("the body must be a JSON object"));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(json_error(&e)))
}

/// serde's message without the values it quotes (they are the caller's
/// input, which may hold a token pasted into the wrong field).
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("the body is not valid JSON ({at})")
        }
        Category::Data => {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or("");
            if let Some(rest) = text.strip_prefix("unknown field `") {
                let field = rest.split('`').next().unwrap_or("");
                let plain = !field.is_empty()
                    && field.len() <= 32
                    && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
                return if plain {
                    format!("unknown field `{field}`: the fields are {expected}")
                } else {
                    format!("an unknown field ({at}): the fields are {expected}")
                };
            }
            if text.starts_with("missing field `") {
                return text.to_string();
            }
            // "invalid type: string \"…\", expected …": keep what was expected.
            match text.rsplit_once(", expected ") {
                Some((_, expected)) => {
                    format!("a value has the wrong type ({at}): expected {expected}")
                }
                None => format!("a value is not valid ({at})"),
            }
        }
    }
}

/// A field that may be absent (leave as is), `null` (clear) or a value.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// One token, as listed: never a verifier, never a secret.
#[derive(Serialize)]
struct Listed {
    id: String,
    name: String,
    description: Option<String>,
    /// `null`: full access.
    scopes: Option<Vec<String>>,
    /// Unix seconds.
    created_at: u64,
    last_used_at: Option<u64>,
    expires_at: Option<u64>,
    disabled: bool,
    /// `active`, `expired` or `disabled` (disabled wins).
    status: &'static str,
    /// While a regenerated token's old secret is still accepted.
    rollover_until: Option<u64>,
}

impl Listed {
    fn of(record: &TokenRecord, now: Timestamp) -> Self {
        let status = if record.disabled {
            "disabled"
        } else if record.is_active(now) {
            "active"
        } else {
            "expired"
        };
        Self {
            id: record.id.to_string(),
            name: record.name.as_str().to_string(),
            description: record.description.as_ref().map(|d| d.as_str().to_string()),
            scopes: record
                .scopes
                .list()
                .map(|list| list.iter().map(|s| s.as_str().to_string()).collect()),
            created_at: record.created_at.as_secs(),
            last_used_at: record.last_used_at.map(Timestamp::as_secs),
            expires_at: record.expires_at.map(Timestamp::as_secs),
            disabled: record.disabled,
            status,
            rollover_until: record
                .rollover
                .filter(|r| r.until > now)
                .map(|r| r.until.as_secs()),
        }
    }
}

/// A created or regenerated token: shown once.
#[derive(Serialize)]
struct Issued<'a> {
    /// The plaintext token; the server keeps only its verifier.
    token: &'a str,
    #[serde(flatten)]
    record: Listed,
}

/// Runs a store call off the async threads (a store write waits for its
/// lock and disk).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed inside the server",
        ))
    })
}

/// `GET /api/tokens`: the account's tokens.
async fn list(State(m): State<store::Manager>, auth: Authenticated) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let account = caller.account.clone();
    let records = blocking(move || Ok(m.list(&account)?)).await?;
    let now = Timestamp::now();
    let tokens: Vec<Listed> = records.iter().map(|r| Listed::of(r, now)).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "account": caller.account.as_str(),
            "caller": caller.id.to_string(),
            "tokens": tokens,
        }),
    ))
}

/// `GET /api/tokens/{id}`: one of the account's tokens.
async fn show(
    State(m): State<store::Manager>,
    auth: Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let id = path_id(id)?;
    let record = blocking(move || m.own(&caller, id)).await?;
    Ok(json(StatusCode::OK, &Listed::of(&record, Timestamp::now())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    /// Absent or `null`: full access.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// A duration such as `30d`.
    #[serde(default)]
    expires_in: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    description: Option<String>,
}

fn name_of(text: &str) -> Result<TokenName, ApiError> {
    TokenName::new(text).map_err(|e| ApiError::bad(format!("the name {e}")))
}

fn description_of(text: &str) -> Result<Description, ApiError> {
    Description::new(text).map_err(|e| ApiError::bad(format!("the description {e}")))
}

fn scopes_of(list: Option<Vec<String>>) -> Result<Scopes, ApiError> {
    match list {
        None => Ok(Scopes::FULL),
        Some(list) => Scopes::only(&list).map_err(|e| match e {
            // The name refused is a scope's text, not a secret, but it came
            // from the caller: say which entry instead of quoting it.
            whatsgate_auth::ScopeError::BadName(bad) => {
                let at = list.iter().position(|s| *s == bad).unwrap_or(0);
                ApiError::bad(format!(
                    "scopes[{at}] is not a scope: write resource:action (lowercase letters, \
                     digits, _ and -, each part starting with a letter and at most 32 long; \
                     the action may be *)"
                ))
            }
            too_many => ApiError::bad(too_many.to_string()),
        }),
    }
}

/// A duration field (`expires_in`, `grace`): a whole number and a unit,
/// more than zero.
fn duration_of(field: &str, text: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad(format!(
            "{field} is not a duration: write a whole number above zero and a unit, \
             such as 30s, 10m, 2h or 7d"
        ))
    };
    if text.trim_start().starts_with('-') {
        return Err(ApiError::bad(format!("{field} cannot be negative")));
    }
    let d = parse_duration(text).map_err(|_| bad())?;
    // Whole seconds: timestamps have no finer grain.
    match d.as_secs() {
        0 => Err(bad()),
        s => Ok(s),
    }
}

/// `POST /api/tokens`: a new token of the caller's account, shown once.
async fn create(
    State(m): State<store::Manager>,
    auth: Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let body: CreateBody = read_json(&headers, body).await?;
    let now = Timestamp::now();
    let mut spec = NewToken::new(caller.account.clone(), name_of(&body.name)?);
    spec.scopes = scopes_of(body.scopes)?;
    spec.description = body
        .description
        .as_deref()
        .map(description_of)
        .transpose()?;
    spec.expires_at = match (body.expires_in.as_deref(), body.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad("give expires_in or expires_at, not both"));
        }
        (Some(text), None) => Some(now.plus_secs(duration_of("expires_in", text)?)),
        (None, at) => at.map(Timestamp),
    };
    let (token, record) = blocking(move || m.create(&caller, spec, now)).await?;
    let issued = Issued {
        token: token.expose_secret(),
        record: Listed::of(&record, now),
    };
    Ok(json(StatusCode::CREATED, &issued))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// `null`: full access.
    #[serde(default, deserialize_with = "present")]
    scopes: Option<Option<Vec<String>>>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `PATCH /api/tokens/{id}`: rename, describe, rescope, disable or enable.
async fn update(
    State(m): State<store::Manager>,
    auth: Authenticated,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let id = path_id(id)?;
    let body: UpdateBody = read_json(&headers, body).await?;
    let change = TokenUpdate {
        name: body.name.as_deref().map(name_of).transpose()?,
        description: body
            .description
            .map(|d| d.as_deref().map(description_of).transpose())
            .transpose()?,
        scopes: body.scopes.map(scopes_of).transpose()?,
        disabled: body.disabled,
    };
    if change.is_empty() {
        return Err(ApiError::bad(
            "nothing to change: give name, description, scopes or disabled",
        ));
    }
    let record = blocking(move || m.update(&caller, id, change)).await?;
    Ok(json(StatusCode::OK, &Listed::of(&record, Timestamp::now())))
}

/// `DELETE /api/tokens/{id}`: refused on this node once answered.
async fn delete(
    State(m): State<store::Manager>,
    auth: Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let id = path_id(id)?;
    let record = blocking(move || m.delete(&caller, id)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "deleted": Listed::of(&record, Timestamp::now()) }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RegenerateBody {
    /// How long the old secret keeps working, such as `10m`; absent: it
    /// is refused at once.
    #[serde(default)]
    grace: Option<String>,
}

/// `POST /api/tokens/{id}/regenerate`: a new secret, shown once.
async fn regenerate(
    State(m): State<store::Manager>,
    auth: Authenticated,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let id = path_id(id)?;
    // The body is optional: none means no grace.
    let empty = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
        || (!headers.contains_key(CONTENT_TYPE)
            && !headers.contains_key(axum::http::header::TRANSFER_ENCODING)
            && !headers.contains_key(axum::http::header::CONTENT_LENGTH));
    let body: RegenerateBody = if empty {
        RegenerateBody::default()
    } else {
        read_json(&headers, body).await?
    };
    let now = Timestamp::now();
    let grace_until = match body.grace.as_deref() {
        None => None,
        Some(text) => {
            if text.trim_start().starts_with('-') {
                return Err(ApiError::bad(
                    whatsgate_auth::PolicyError::NegativeGrace.to_string(),
                ));
            }
            Some(now.plus_secs(duration_of("grace", text)?))
        }
    };
    let (token, record) = blocking(move || m.regenerate(&caller, id, now, grace_until)).await?;
    let issued = Issued {
        token: token.expose_secret(),
        record: Listed::of(&record, now),
    };
    Ok(json(StatusCode::OK, &issued))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAllBody {
    /// The caller's account id, typed out: a revoke-all cannot be sent by
    /// accident.
    confirm: String,
}

/// `POST /api/tokens/revoke-all`: deletes every token of the account, the
/// caller's own included (the call is for when tokens may have leaked, and
/// the caller's may be one of them).
async fn revoke_all(
    State(m): State<store::Manager>,
    auth: Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let body: RevokeAllBody = read_json(&headers, body).await?;
    if body.confirm != caller.account.as_str() {
        return Err(ApiError::bad(
            "to revoke every token of the account (this one included), send \
             {\"confirm\": \"<the account id>\"}; GET /api/tokens names the account",
        ));
    }
    let revoked = blocking(move || m.revoke_all(&caller)).await?;
    let ids: Vec<String> = revoked.iter().map(|r| r.id.to_string()).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "revoked": ids.len(), "ids": ids }),
    ))
}

/// `?limit=N`, the audit route's only parameter.
fn audit_limit(uri: &Uri) -> Result<usize, ApiError> {
    let bad = || {
        ApiError::bad(format!(
            "the only query parameter is limit, a whole number from 1 to {MAX_AUDIT_LIMIT}"
        ))
    };
    let mut limit = AUDIT_LIMIT;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("limit", n)) => limit = n.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(bad());
    }
    Ok(limit)
}

/// One audit entry, as the API shows it.
#[derive(Serialize)]
struct Audited {
    seq: u64,
    /// Unix seconds.
    at: u64,
    /// Who: `token:<id>` for a management call, `wgauth` for the CLI, …
    actor: String,
    action: String,
    token_id: Option<String>,
    detail: String,
}

impl From<AuditEntry> for Audited {
    fn from(e: AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at.as_secs(),
            actor: e.actor,
            action: e.action,
            token_id: e.token_id.map(|id| id.to_string()),
            detail: e.detail,
        }
    }
}

/// `GET /api/tokens/audit[?limit=N]`: the account's audit trail, newest first.
async fn audit(
    State(m): State<store::Manager>,
    auth: Authenticated,
    uri: Uri,
) -> Result<Response, ApiError> {
    let caller = caller(&auth)?;
    let limit = audit_limit(&uri)?;
    let entries = blocking(move || Ok(m.audit(&caller.account, limit)?)).await?;
    let entries: Vec<Audited> = entries.into_iter().map(Audited::from).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "entries": entries }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manage_scope_is_a_scope() {
        let scope = whatsgate_auth::Scope::new(MANAGE_SCOPE).map(|s| s.to_string());
        assert_eq!(scope.ok().as_deref(), Some(MANAGE_SCOPE));
    }

    #[test]
    fn error_bodies_are_spaced_like_the_seeds() {
        assert_eq!(message_body("a \"b\""), r#"{"message": "a \"b\""}"#);
    }

    #[test]
    fn json_errors_never_quote_the_input() {
        let secret = "wgat_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for body in [
            format!(r#"{{"name": 1, "description": ["{secret}"]}}"#),
            format!(r#"{{"name": "{secret}", "disabled": "{secret}"}}"#),
            format!(r#"{{"{secret}": 1}}"#),
            format!(r#"{{"name": "x", "scopes": "{secret}"}}"#),
            format!(r#"{{"name": "{secret}"#),
        ] {
            let e = serde_json::from_str::<UpdateBody>(&body).err();
            let e = e.or_else(|| serde_json::from_str::<CreateBody>(&body).err());
            let message = json_error(&e.expect("refused"));
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains("wgat_"), "{message}");
        }
        // The control: serde's own message does quote it.
        let raw = serde_json::from_str::<UpdateBody>(&format!(r#"{{"disabled": "{secret}"}}"#))
            .err()
            .expect("refused")
            .to_string();
        assert!(raw.contains(secret));
    }

    #[test]
    fn an_unknown_field_is_named_when_it_is_a_plain_word() {
        let e = serde_json::from_str::<CreateBody>(r#"{"name": "a", "color": 1}"#)
            .err()
            .expect("refused");
        assert!(
            json_error(&e).starts_with("unknown field `color`"),
            "{}",
            json_error(&e)
        );
    }

    #[test]
    fn absent_null_and_a_value_differ_in_an_update() {
        let u: UpdateBody = serde_json::from_str("{}").expect("parse");
        assert!(u.description.is_none() && u.scopes.is_none());
        let u: UpdateBody =
            serde_json::from_str(r#"{"description": null, "scopes": null}"#).expect("parse");
        assert_eq!(u.description, Some(None));
        assert_eq!(u.scopes, Some(None));
        let u: UpdateBody = serde_json::from_str(r#"{"scopes": []}"#).expect("parse");
        assert_eq!(u.scopes, Some(Some(vec![])));
    }

    #[test]
    fn a_listed_status_is_disabled_else_expired_else_active() {
        let keyring = whatsgate_auth::Keyring::new();
        let account = AccountId::new("a").expect("account");
        let name = TokenName::new("t").expect("name");
        let (_, mut record) = keyring
            .create(&mut whatsgate_auth::OsRng, account, name, Timestamp(100))
            .expect("create");
        let status = |r: &TokenRecord, now| Listed::of(r, Timestamp(now)).status;
        assert_eq!(status(&record, 150), "active");
        record.expires_at = Some(Timestamp(200));
        assert_eq!(status(&record, 199), "active");
        // The expiry is exclusive: at it, the token is refused.
        assert_eq!(status(&record, 200), "expired");
        record.disabled = true;
        assert_eq!(status(&record, 150), "disabled");
        assert_eq!(status(&record, 250), "disabled");
    }

    #[test]
    fn durations_are_positive_whole_numbers_with_a_unit() {
        assert_eq!(duration_of("grace", "10m").ok(), Some(600));
        assert_eq!(duration_of("grace", "2").ok(), Some(2));
        for bad in ["0s", "-1d", "abc", "500ms", "", "99999999999999999999d"] {
            assert!(duration_of("grace", bad).is_err(), "{bad}");
        }
    }
}
