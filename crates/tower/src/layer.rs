//! [`AuthLayer`], its builder, and the [`AuthService`] it wraps services in.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, Entry, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use whatsgate_auth::http::{PathPrefixError, ResourceMetadata};
use whatsgate_auth::{
    Failure, Keyring, PathPrefix, Profile, Rejection, Scope, ScopeDenial, ScopeError, Timestamp,
};

use crate::body::AuthBody;

/// The `Access-Token` header (REST profile).
pub static ACCESS_TOKEN: HeaderName = HeaderName::from_static("access-token");

/// The header a profile reads its token from.
pub fn token_header(profile: Profile) -> &'static HeaderName {
    match profile {
        Profile::Rest => &ACCESS_TOKEN,
        Profile::Mcp => &AUTHORIZATION,
    }
}

/// Marks every value of the token headers of both profiles (`Access-Token`
/// and `Authorization`) as sensitive, so that `Debug` of the header map,
/// `tracing` and `tower-http` never print them.
///
/// The layer does this itself; call it in an outer layer when something
/// logs headers before the request reaches [`AuthLayer`].
pub fn mark_sensitive(headers: &mut HeaderMap) {
    mark_header_sensitive(headers, &ACCESS_TOKEN);
    mark_header_sensitive(headers, &AUTHORIZATION);
}

fn mark_header_sensitive(headers: &mut HeaderMap, name: &HeaderName) {
    if let Entry::Occupied(mut entry) = headers.entry(name) {
        for value in entry.iter_mut() {
            value.set_sensitive(true);
        }
    }
}

/// A clock: the current time for verification.
#[derive(Clone)]
enum Clock {
    System,
    Custom(Arc<dyn Fn() -> Timestamp + Send + Sync>),
}

impl Clock {
    fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Custom(clock) => clock(),
        }
    }
}

/// Which part of the site a rule covers, and what it asks for.
#[derive(Clone, Debug)]
struct Rule {
    /// `/` or an absolute path without a trailing `/`.
    prefix: PathPrefix<Box<str>>,
    /// `None`: public, passes through without authentication.
    profile: Option<Profile>,
}

impl Rule {
    fn matches(&self, path: &str) -> bool {
        self.prefix.covers(path)
    }
}

/// A scope that requests on a part of the site need once authenticated.
struct ScopeRule {
    prefix: PathPrefix<Box<str>>,
    /// `None`: every method.
    method: Option<Method>,
    scope: Scope,
    /// The denial in the `rest` and the `mcp` profile, in that order.
    denial: [Prepared; 2],
}

impl ScopeRule {
    fn applies(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|wanted| {
            // A GET rule covers HEAD too: routers (axum among them) answer
            // HEAD with the GET handler, which must not run unchecked.
            wanted == method || (*wanted == Method::GET && *method == Method::HEAD)
        }) && self.prefix.covers(path)
    }
}

impl fmt::Debug for ScopeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeRule")
            .field("prefix", &self.prefix.as_str())
            .field("method", &self.method)
            .field("scope", &self.scope.as_str())
            .finish()
    }
}

/// The response of a `ScopeRejection` (feature `axum`) carries the scope
/// here, so that the layer, which knows the request's profile, adds
/// the `mcp` challenge the handler could not know to send.
#[derive(Clone)]
#[cfg_attr(
    not(feature = "axum"),
    allow(dead_code, reason = "only the axum ScopeRejection makes one")
)]
pub(crate) struct DeniedScope(pub(crate) Scope);

/// The `WWW-Authenticate` value of a scope denial: the core's challenge,
/// plus `resource_metadata` as on the layer's 401s (the MCP authorization
/// spec asks for it on the 403 too, "for consistency").
fn scope_challenge(
    profile: Profile,
    scope: &Scope,
    resource_metadata: Option<&str>,
) -> Option<HeaderValue> {
    let denial = ScopeDenial { profile, scope };
    // The core writes the parameter, as for its 401 challenge.
    let value = match resource_metadata.map(ResourceMetadata::new) {
        None => denial.www_authenticate()?.to_string(),
        Some(Ok(url)) => denial.www_authenticate_with(&url)?.to_string(),
        // Checked at build: never a URL that cannot be quoted.
        Some(Err(_)) => return None,
    };
    // A scope needs no quoting and the URL was checked at build: always valid.
    HeaderValue::try_from(value).ok()
}

/// A ready-made failure response: status, body and challenge.
#[derive(Clone, Debug)]
struct Prepared {
    status: StatusCode,
    body: Bytes,
    www_authenticate: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
}

impl Prepared {
    fn new(rejection: Rejection, resource_metadata: Option<&str>) -> Result<Self, ConfigError> {
        let challenge = match resource_metadata {
            None => rejection.www_authenticate().map(str::to_owned),
            Some(url) => {
                let url = ResourceMetadata::new(url).map_err(|_| ConfigError::ResourceMetadata)?;
                rejection
                    .www_authenticate_with(&url)
                    .map(|challenge| challenge.to_string())
            }
        };
        let www_authenticate = challenge
            .map(|value| HeaderValue::try_from(value).map_err(|_| ConfigError::ResourceMetadata))
            .transpose()?;
        Ok(Self {
            // 403, 401 or 503: always a valid code.
            status: StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::FORBIDDEN),
            body: Bytes::from_static(rejection.body().as_bytes()),
            www_authenticate,
            retry_after: rejection.retry_after().map(HeaderValue::from),
        })
    }

    /// The answer to an authenticated request that lacks `scope`.
    fn denial(profile: Profile, scope: &Scope, resource_metadata: Option<&str>) -> Self {
        let denial = ScopeDenial { profile, scope };
        Self {
            status: StatusCode::FORBIDDEN,
            body: Bytes::from(denial.body().to_string()),
            www_authenticate: scope_challenge(profile, scope, resource_metadata),
            retry_after: None,
        }
    }

    fn response<B>(self) -> Response<AuthBody<B>> {
        let mut response = Response::new(AuthBody::rejection(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(challenge) = self.www_authenticate {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, seconds);
        }
        response
    }
}

/// What every clone of the layer and its services share.
struct Shared {
    keyring: Arc<Keyring>,
    /// Longest prefix first: the first match decides.
    rules: Box<[Rule]>,
    /// In the order declared; every one that applies must be met.
    scope_rules: Box<[ScopeRule]>,
    /// Indexed by [`slot`].
    responses: [Prepared; SLOTS],
    clock: Clock,
    resource_metadata: Option<Box<str>>,
}

/// One prepared response per profile and failure.
const SLOTS: usize = 6;

const fn slot(rejection: Rejection) -> usize {
    let profile = match rejection.profile {
        Profile::Rest => 0,
        Profile::Mcp => 3,
    };
    let failure = match rejection.failure {
        Failure::Missing => 0,
        Failure::Invalid => 1,
        Failure::Unavailable => 2,
    };
    profile + failure
}

impl Shared {
    fn profile_for(&self, path: &str) -> Option<Profile> {
        self.rules
            .iter()
            .find(|rule| rule.matches(path))
            .and_then(|rule| rule.profile)
    }

    /// Authenticates a request in place: marks the token headers sensitive
    /// and, on a guarded path, verifies the token, checks the scopes the
    /// route needs and stores the [`Principal`](whatsgate_auth::Principal)
    /// in the request's extensions.
    ///
    /// `Ok(true)`: an `mcp` request whose token has restricted scopes, so
    /// its response may be a [`DeniedScope`] to complete.
    fn check<B>(&self, request: &mut Request<B>) -> Result<bool, &Prepared> {
        let Some(profile) = self.profile_for(request.uri().path()) else {
            mark_sensitive(request.headers_mut());
            return Ok(false);
        };
        let headers = request.headers_mut();
        let other = match profile {
            Profile::Rest => &AUTHORIZATION,
            Profile::Mcp => &ACCESS_TOKEN,
        };
        mark_header_sensitive(headers, other);
        let principal = match headers.entry(token_header(profile)) {
            Entry::Occupied(mut entry) => {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
                let verdict = self.keyring.authenticate(
                    profile,
                    entry.iter().map(HeaderValue::as_bytes),
                    self.clock.now(),
                );
                match verdict {
                    Ok(principal) => principal,
                    Err(rejection) => return Err(&self.responses[slot(rejection)]),
                }
            }
            Entry::Vacant(_) => return Err(&self.responses[slot(profile.reject(Failure::Missing))]),
        };
        // Full access (the default) meets every rule: no rule is looked at.
        let restricted = !principal.scopes().is_full();
        if restricted && let Some(denial) = self.unmet(&principal, request, profile) {
            return Err(denial);
        }
        request.extensions_mut().insert(principal);
        Ok(restricted && profile == Profile::Mcp)
    }

    /// The denial of the first scope rule that applies to the request and
    /// that `principal` does not meet. Kept out of line: most tokens have
    /// full access and never come here, and `check` stays small enough for
    /// the compiler to inline the verification into it.
    #[inline(never)]
    fn unmet<B>(
        &self,
        principal: &whatsgate_auth::Principal,
        request: &Request<B>,
        profile: Profile,
    ) -> Option<&Prepared> {
        let (method, path) = (request.method(), request.uri().path());
        self.scope_rules
            .iter()
            .find(|rule| rule.applies(method, path) && !principal.has_scope(rule.scope.as_str()))
            .map(|rule| &rule.denial[usize::from(profile == Profile::Mcp)])
    }

    /// Adds the `mcp` challenge to the response of a handler's
    /// `ScopeRejection`. Out of line: only `mcp` requests with restricted
    /// tokens come here, and the response future stays small.
    #[cold]
    #[inline(never)]
    fn complete<B>(&self, response: &mut Response<B>) {
        if let Some(DeniedScope(scope)) = response.extensions_mut().remove::<DeniedScope>()
            && let Some(challenge) =
                scope_challenge(Profile::Mcp, &scope, self.resource_metadata.as_deref())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
    }
}

/// A tower [`Layer`] that authenticates requests with WhatsGate API tokens.
///
/// On a guarded path it reads **every** value of the profile's token header
/// (two headers are invalid), verifies the token against the shared
/// [`Keyring`] and either
/// - inserts the [`Principal`](whatsgate_auth::Principal) into the request's extensions and calls the
///   inner service, or
/// - answers itself with the profile's exact status, JSON body
///   (`Content-Type: application/json`) and `WWW-Authenticate` challenge,
///   without calling the inner service.
///
/// A token that is valid but lacks a scope the route needs (see
/// [`AuthLayerBuilder::require_scope`]) gets 403 with the core's
/// [`ScopeDenial`] answer, again without calling the inner service.
///
/// The values of both token headers (`Access-Token`, `Authorization`) are
/// marked sensitive on every request, so `Debug` output, `tracing` and
/// `tower-http` inside the layer never print them.
///
/// Paths that no rule guards pass through untouched (no principal). Cloning
/// is cheap: all clones share one configuration and the keyring.
#[derive(Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("rules", &self.shared.rules)
            .field("scope_rules", &self.shared.scope_rules)
            .field("resource_metadata", &self.shared.resource_metadata)
            .field("keyring", &self.shared.keyring)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// Guards every path with one profile, reading the system clock.
    pub fn new(keyring: Arc<Keyring>, profile: Profile) -> Self {
        let shared = Shared {
            keyring,
            rules: Box::new([Rule {
                prefix: PathPrefix::new("/".into())
                    .unwrap_or_else(|_| unreachable!("'/' is a path prefix")),
                profile: Some(profile),
            }]),
            scope_rules: Box::new([]),
            responses: prepare(None).unwrap_or_else(|_| unreachable_prepared()),
            clock: Clock::System,
            resource_metadata: None,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// A builder: several path prefixes with different profiles, public
    /// paths, the scopes routes need, an MCP `resource_metadata` URL, a
    /// clock.
    pub fn builder(keyring: Arc<Keyring>) -> AuthLayerBuilder {
        AuthLayerBuilder {
            keyring,
            rules: Vec::new(),
            scope_rules: Vec::new(),
            resource_metadata: None,
            clock: Clock::System,
        }
    }

    /// The keyring requests are verified against.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.shared.keyring
    }

    /// The profile that applies to a request path, or `None` if the path is
    /// not guarded.
    pub fn profile_for(&self, path: &str) -> Option<Profile> {
        self.shared.profile_for(path)
    }

    /// The exact response the layer sends for a rejection (with the
    /// configured `resource_metadata`, if any), for hosts that
    /// authenticate some requests themselves.
    pub fn rejection_response<B>(&self, rejection: Rejection) -> Response<AuthBody<B>> {
        self.shared.responses[slot(rejection)].clone().response()
    }

    /// The exact response the layer sends to an authenticated request that
    /// lacks `scope` (403, the core's [`ScopeDenial`] body, and for `mcp`
    /// its challenge with the configured `resource_metadata`), for hosts
    /// that check scopes themselves.
    pub fn scope_denial_response<B>(
        &self,
        profile: Profile,
        scope: &Scope,
    ) -> Response<AuthBody<B>> {
        Prepared::denial(profile, scope, self.shared.resource_metadata.as_deref()).response()
    }
}

fn prepare(resource_metadata: Option<&str>) -> Result<[Prepared; SLOTS], ConfigError> {
    let p = |profile: Profile, failure| Prepared::new(profile.reject(failure), resource_metadata);
    let prepared = [
        p(Profile::Rest, Failure::Missing)?,
        p(Profile::Rest, Failure::Invalid)?,
        p(Profile::Rest, Failure::Unavailable)?,
        p(Profile::Mcp, Failure::Missing)?,
        p(Profile::Mcp, Failure::Invalid)?,
        p(Profile::Mcp, Failure::Unavailable)?,
    ];
    Ok(prepared)
}

/// Only reached if the core's fixed responses stopped being valid HTTP,
/// which its tests rule out; answers a bare 403 rather than panic.
#[cold]
fn unreachable_prepared() -> [Prepared; SLOTS] {
    core::array::from_fn(|_| Prepared {
        status: StatusCode::FORBIDDEN,
        body: Bytes::new(),
        www_authenticate: None,
        retry_after: None,
    })
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Configures an [`AuthLayer`]; made by [`AuthLayer::builder`].
///
/// Rules match the raw request path (`uri().path()`, percent-encoding and
/// case as received, the way axum's router matches) on whole segments:
/// `/api` covers `/api` and `/api/…`, not `/apis`, and a run of slashes in
/// the path counts as one (`//api` is under `/api`; see
/// [`PathPrefix`](whatsgate_auth::PathPrefix)). The longest matching prefix decides; `/` covers every path; a path no rule covers passes
/// through without authentication.
///
/// Scope rules ([`require_scope`](Self::require_scope),
/// [`require_scope_for`](Self::require_scope_for)) match paths the same
/// way, but they do not compete: **every** scope rule whose prefix covers
/// the path and whose method matches applies, and the token must hold all
/// of them.
#[derive(Clone)]
#[must_use = "call .build() to get the layer"]
pub struct AuthLayerBuilder {
    keyring: Arc<Keyring>,
    rules: Vec<(String, Option<Profile>)>,
    scope_rules: Vec<(String, Option<Method>, String)>,
    resource_metadata: Option<String>,
    clock: Clock,
}

impl fmt::Debug for AuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayerBuilder")
            .field("rules", &self.rules)
            .field("scope_rules", &self.scope_rules)
            .field("resource_metadata", &self.resource_metadata)
            .finish_non_exhaustive()
    }
}

impl AuthLayerBuilder {
    /// Requires a valid token in `profile` on `prefix` and below.
    pub fn guard(mut self, prefix: impl Into<String>, profile: Profile) -> Self {
        self.rules.push((prefix.into(), Some(profile)));
        self
    }

    /// Lets `prefix` and below through without authentication, inside a
    /// shorter guarded prefix (e.g. `/health` when `/` is guarded).
    pub fn public(mut self, prefix: impl Into<String>) -> Self {
        self.rules.push((prefix.into(), None));
        self
    }

    /// Requires `scope` (a `resource:action` name such as `messages:send`)
    /// on `prefix` and below, for every method.
    ///
    /// It is checked after authentication: a token that is valid but lacks
    /// the scope gets 403 with the core's [`ScopeDenial`] body (and, in the
    /// `mcp` profile, an `insufficient_scope` challenge); the inner service
    /// is not called. Every scope rule that covers a path applies, nested
    /// ones included; when several are missing, the first declared is
    /// named. A full-access token (the default) holds every scope, and a
    /// token holding `resource:*` holds every action of `resource`. Paths
    /// marked [`public`](Self::public) below `prefix` stay public.
    pub fn require_scope(mut self, prefix: impl Into<String>, scope: impl Into<String>) -> Self {
        self.scope_rules.push((prefix.into(), None, scope.into()));
        self
    }

    /// Like [`require_scope`](Self::require_scope), for requests with
    /// `method` only. A rule for `GET` also covers `HEAD`, which routers
    /// answer with the `GET` handler.
    pub fn require_scope_for(
        mut self,
        prefix: impl Into<String>,
        method: Method,
        scope: impl Into<String>,
    ) -> Self {
        self.scope_rules
            .push((prefix.into(), Some(method), scope.into()));
        self
    }

    /// Appends `resource_metadata="{url}"` (RFC 9728) to every `mcp`
    /// challenge. The URL must be visible ASCII without `"` or `\`.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Reads the time from `clock` instead of the system clock (tests,
    /// or a host with its own notion of now).
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Clock::Custom(Arc::new(clock));
        self
    }

    /// Checks the configuration and makes the layer.
    ///
    /// # Errors
    /// [`ConfigError`]: no guarded prefix, a prefix that is not an absolute
    /// path, the same prefix twice, an unusable `resource_metadata` URL, a
    /// scope that is not a `resource:action` name, or a scope rule on a
    /// prefix where no token is checked.
    pub fn build(self) -> Result<AuthLayer, ConfigError> {
        if self.rules.iter().all(|(_, profile)| profile.is_none()) {
            return Err(ConfigError::NothingGuarded);
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for (prefix, profile) in self.rules {
            let Ok(normal) = PathPrefix::new(Box::<str>::from(prefix.as_str())) else {
                return Err(ConfigError::InvalidPrefix(prefix));
            };
            if rules
                .iter()
                .any(|rule| rule.prefix.as_str() == normal.as_str())
            {
                return Err(ConfigError::DuplicatePrefix(prefix));
            }
            rules.push(Rule {
                prefix: normal,
                profile,
            });
        }
        rules.sort_by_key(|rule| core::cmp::Reverse(rule.prefix.as_str().len()));
        let responses = prepare(self.resource_metadata.as_deref())?;
        let scope_rules = self
            .scope_rules
            .into_iter()
            .map(|(prefix, method, scope)| {
                let Ok(normal) = PathPrefix::new(Box::<str>::from(prefix.as_str())) else {
                    return Err(ConfigError::InvalidPrefix(prefix));
                };
                let scope = Scope::new(&scope).map_err(ConfigError::InvalidScope)?;
                // The rule's own prefix must be guarded: where it is public
                // or unguarded no token is read, so a scope could never be
                // asked for and the rule would silently do nothing.
                let guarded = rules
                    .iter()
                    .find(|rule| rule.matches(normal.as_str()))
                    .is_some_and(|rule| rule.profile.is_some());
                if !guarded {
                    return Err(ConfigError::ScopeOnUnguarded(prefix));
                }
                let metadata = self.resource_metadata.as_deref();
                Ok(ScopeRule {
                    denial: [Profile::Rest, Profile::Mcp]
                        .map(|profile| Prepared::denial(profile, &scope, metadata)),
                    prefix: normal,
                    method,
                    scope,
                })
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(AuthLayer {
            shared: Arc::new(Shared {
                keyring: self.keyring,
                rules: rules.into_boxed_slice(),
                scope_rules,
                responses,
                clock: self.clock,
                resource_metadata: self.resource_metadata.map(String::into_boxed_str),
            }),
        })
    }
}

/// Why an [`AuthLayerBuilder`] could not build a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `guard` rule: the layer would authenticate nothing.
    NothingGuarded,
    /// A prefix must start with `/`, be visible ASCII without `?` or `#`,
    /// and have no empty segment (`//`); see [`PathPrefix::new`].
    InvalidPrefix(String),
    /// The same prefix was given twice (after dropping trailing `/`).
    DuplicatePrefix(String),
    /// The `resource_metadata` URL is empty, or has a space, a control or
    /// non-ASCII character, `"` or `\`.
    ResourceMetadata,
    /// A scope rule names something that is not a `resource:action` scope.
    InvalidScope(ScopeError),
    /// A scope rule's prefix is public or covered by no guard: no token is
    /// checked there, so no scope can be.
    ScopeOnUnguarded(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NothingGuarded => f.write_str(
                "no path is guarded: add .guard(prefix, profile), e.g. .guard(\"/\", Profile::Rest)",
            ),
            Self::InvalidPrefix(p) => write!(f, "path prefix {p:?}: {}", PathPrefixError),
            Self::DuplicatePrefix(p) => write!(f, "path prefix {p:?} is given twice"),
            Self::ResourceMetadata => f.write_str(
                "the resource_metadata URL must be non-empty visible ASCII without '\"' or '\\'",
            ),
            Self::InvalidScope(e) => write!(f, "scope rule: {e}"),
            Self::ScopeOnUnguarded(p) => write!(
                f,
                "scope rule on {p:?}: no token is checked there (the path is public or no \
                 .guard(prefix, profile) covers it); put the rule under a guarded prefix"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The service made by [`AuthLayer`]: authenticates, then calls `S`.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("rules", &self.shared.rules)
            .finish_non_exhaustive()
    }
}

impl<S> AuthService<S> {
    /// The wrapped service.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let kind = match self.shared.check(&mut request) {
            Ok(false) => Kind::Inner {
                future: self.inner.call(request),
            },
            // Only then: cloning the Arc writes a counter all threads share.
            Ok(true) => Kind::Watched {
                future: self.inner.call(request),
                shared: Arc::clone(&self.shared),
            },
            Err(prepared) => Kind::Rejected {
                response: Some(prepared.clone()),
            },
        };
        ResponseFuture { kind }
    }
}

pin_project! {
    /// The future of [`AuthService`]: the inner service's response, or the
    /// rejection, ready at once.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        // An `mcp` request with a restricted token: its response may need
        // the challenge of a handler's scope denial.
        Watched { #[pin] future: F, shared: Arc<Shared> },
        Rejected { response: Option<Prepared> },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(AuthBody::inner))),
            KindProj::Watched { future, shared } => future.poll(cx).map(|result| {
                result.map(|mut response| {
                    shared.complete(&mut response);
                    response.map(AuthBody::inner)
                })
            }),
            KindProj::Rejected { response } => match response.take() {
                Some(prepared) => Poll::Ready(Ok(prepared.response())),
                // Polled after completion: never resolves again, as futures may.
                None => Poll::Pending,
            },
        }
    }
}
