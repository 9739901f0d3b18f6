//! The axum extractor (feature `axum`).

use core::convert::Infallible;
use core::ops::Deref;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use whatsgate_auth::{Failure, Principal, Profile, Rejection};

/// The [`Principal`] that [`AuthLayer`](crate::AuthLayer) authenticated the
/// request as.
///
/// Behind the layer a handler only runs for authenticated requests, so this
/// extractor succeeds there. Where no principal is present (the layer is
/// missing, or the path is not guarded) it rejects with the `rest`
/// profile's "missing" response (403, `{"message": "an Access-Token is
/// required"}`), never a 500. Use `Option<Authenticated>` on routes where
/// authentication is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub Principal);

impl Authenticated {
    /// The principal.
    pub fn into_inner(self) -> Principal {
        self.0
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
