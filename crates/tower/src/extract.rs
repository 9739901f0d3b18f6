//! The axum extractor (feature `axum`).

use core::convert::Infallible;
use core::ops::Deref;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use whatsgate_auth::{Failure, Principal, Profile, Rejection, Scope, ScopeDenial, ScopeError};

use crate::layer::DeniedScope;

/// The [`Principal`] that [`AuthLayer`](crate::AuthLayer) authenticated the
/// request as.
///
/// Behind the layer a handler only runs for authenticated requests, so this
/// extractor succeeds there. Where no principal is present (the layer is
/// missing, or the path is not guarded) it rejects with the `rest`
/// profile's "missing" response (403, `{"message": "an Access-Token is
/// required"}`), never a 500. Use `Option<Authenticated>` on routes where
/// authentication is optional.
///
/// It derefs to the [`Principal`], so `scopes()` and `has_scope()` are at
/// hand; [`Authenticated::require`] turns a missing scope into the layer's
/// exact 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub Principal);

impl Authenticated {
    /// The principal.
    pub fn into_inner(self) -> Principal {
        self.0
    }

    /// Checks that the token holds `scope` (a `resource:action` name), for
    /// handlers that decide what they need themselves:
    /// `auth.require("messages:send")?`.
    ///
    /// # Errors
    /// A [`ScopeRejection`] that answers exactly as the layer's scope rules
    /// do: 403 with the core's [`ScopeDenial`] body; behind
    /// [`AuthLayer`](crate::AuthLayer) on an `mcp` path the layer adds the
    /// `insufficient_scope` challenge (with its `resource_metadata`). A
    /// `scope` that is not a scope name is refused for every token (fail
    /// closed) with a 500, since the route, not the caller, is wrong.
    pub fn require(&self, scope: &str) -> Result<(), ScopeRejection> {
        // The core refuses a name that is no scope for every token, so the
        // common case allocates nothing; a refusal says which it was.
        if self.0.has_scope(scope) {
            return Ok(());
        }
        Err(ScopeRejection(match Scope::new(scope) {
            Ok(scope) => Denied::Lacks(scope),
            Err(e) => Denied::NotAScope(e),
        }))
    }
}

impl Deref for Authenticated {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Self)
            .ok_or(AuthRejection(Profile::Rest.reject(Failure::Missing)))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned().map(Self))
    }
}

/// A [`Rejection`] as an axum response: the profile's exact status, JSON
/// body (`Content-Type: application/json`) and `WWW-Authenticate`
/// challenge — the same bytes [`AuthLayer`](crate::AuthLayer) sends
/// (without a `resource_metadata` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRejection(pub Rejection);

impl From<Rejection> for AuthRejection {
    fn from(rejection: Rejection) -> Self {
        Self(rejection)
    }
}

impl core::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl core::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let rejection = self.0;
        let mut response = Response::new(Body::from(rejection.body()));
        // 403, 401 or 503: always a valid code.
        *response.status_mut() =
            StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::FORBIDDEN);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(challenge) = rejection.www_authenticate() {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = rejection.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Why [`Authenticated::require`] refused: the token lacks the scope (403,
/// the same bytes as the layer's scope rules), or the handler asked for
/// something that is not a scope name (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRejection(Denied);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Denied {
    Lacks(Scope),
    NotAScope(ScopeError),
}

/// The body of the 500 for a required scope that is not a scope name (the
/// name itself stays in the server's own error, [`ScopeRejection`]'s
/// `Display`).
const NOT_A_SCOPE_BODY: &str = r#"{"message": "the route requires a malformed scope"}"#;

impl ScopeRejection {
    /// The scope the token lacks; `None` when the handler required a name
    /// that is not a scope.
    pub fn scope(&self) -> Option<&Scope> {
        match &self.0 {
            Denied::Lacks(scope) => Some(scope),
            Denied::NotAScope(_) => None,
        }
    }
}

impl core::fmt::Display for ScopeRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Denied::Lacks(scope) => {
                let denial = ScopeDenial {
                    profile: Profile::Rest,
                    scope,
                };
                write!(f, "HTTP 403: {}", denial.message())
            }
            Denied::NotAScope(e) => write!(f, "HTTP 500: the route requires {e}"),
        }
    }
}

impl core::error::Error for ScopeRejection {}

impl IntoResponse for ScopeRejection {
    fn into_response(self) -> Response {
        let (status, body) = match &self.0 {
            Denied::Lacks(scope) => {
                let denial = ScopeDenial {
                    profile: Profile::Rest,
                    scope,
                };
                (StatusCode::FORBIDDEN, Body::from(denial.body().to_string()))
            }
            Denied::NotAScope(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Body::from(NOT_A_SCOPE_BODY),
            ),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The body is the same in both profiles; the `mcp` challenge needs
        // the request's profile, which the layer knows and adds.
        if let Denied::Lacks(scope) = self.0 {
            response.extensions_mut().insert(DeniedScope(scope));
        }
        response
    }
}
