//! HTTP profiles: where a token is found in a request, and the exact response
//! when it is missing or invalid.
//!
//! | profile | header | missing | invalid |
//! |---|---|---|---|
//! | [`Profile::Rest`] | `Access-Token: {token}` | 403 `{"message": "an Access-Token is required"}` | 403 `{"message": "invalid Access-Token"}` |
//! | [`Profile::Mcp`] | `Authorization: Bearer {token}` | 401 `{"message": "a Bearer token is required"}` + `WWW-Authenticate: Bearer realm="whatsgate"` | 401 `{"message": "invalid Bearer token"}` + `WWW-Authenticate: Bearer realm="whatsgate", error="invalid_token"` |
//!
//! A keyring that cannot confirm it is current (see `Keyring::set_available`)
//! answers every presented token 503 with `Retry-After` and
//! `{"message": "the token store cannot be reached; retry later"}`, in both
//! profiles: [`Failure::Unavailable`]. Answers that need no store stay as
//! they are: a missing token, and a header that is invalid whatever the
//! store holds (two token headers, `Bearer` alone, too long).
//!
//! Header values, in this order: surrounding spaces and tabs are stripped;
//! empty after stripping means missing; two or more token headers, or a
//! stripped value longer than [`MAX_VALUE_LEN`] bytes, are invalid; anything
//! that is not then exactly a token (NUL, CR, LF, non-ASCII, characters
//! outside the alphabet, trailing garbage) is invalid.
//!
//! The limit counts the value *after* its surrounding whitespace is
//! stripped, because that is the only rule every surface can enforce alike:
//! spaces and tabs around a field value are not part of it (RFC 9110 §5.5),
//! and HTTP servers (hyper, uvicorn, waitress, …) drop them before any layer
//! sees the value, so a layer behind them cannot count them. Hosts that pass
//! raw values (C, Python, `wgauth verify`) get the same answer because the
//! stripping happens here first: a token padded with 5000 spaces is the
//! token everywhere; `Bearer`, 5000 spaces and a token is over the limit
//! everywhere. In the `mcp` profile the scheme `Bearer` is matched
//! case-insensitively and followed by one or more spaces; an `Authorization`
//! header with another scheme (`Basic …`) carries no bearer token and counts
//! as missing (RFC 6750 §3.1), while `Bearer` with no token after it, or with
//! a tab after it, is invalid.

use core::fmt;

use crate::ct;

/// The longest header value, counted after its surrounding spaces and tabs
/// are stripped; a longer one is invalid.
pub const MAX_VALUE_LEN: usize = 4096;

/// Which header carries the token, and how failures are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The WhatsGate REST API: `Access-Token: {token}`, failures are 403.
    #[default]
    Rest,
    /// The MCP endpoint: `Authorization: Bearer {token}`, failures are 401
    /// with a `WWW-Authenticate` challenge.
    Mcp,
}

/// A profile name other than `rest` and `mcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileNameError;

impl fmt::Display for ProfileNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            r#"profile must be "rest" (Access-Token header) or "mcp" (Authorization: Bearer)"#,
        )
    }
}

impl core::error::Error for ProfileNameError {}

impl core::str::FromStr for Profile {
    type Err = ProfileNameError;

    /// Parses a profile's [`name`](Profile::name): exactly `rest` or `mcp`.
    fn from_str(name: &str) -> Result<Self, ProfileNameError> {
        match name {
            "rest" => Ok(Self::Rest),
            "mcp" => Ok(Self::Mcp),
            _ => Err(ProfileNameError),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Profile {
    /// The profile's name in configuration and in every binding: `rest` or
    /// `mcp` (parsed back by `str::parse`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::Mcp => "mcp",
        }
    }

    /// The header this profile reads, lowercase (header names are
    /// case-insensitive; compare with [`Profile::is_token_header`]).
    pub const fn header_name(self) -> &'static str {
        match self {
            Self::Rest => "access-token",
            Self::Mcp => "authorization",
        }
    }

    /// Whether a header name (any case) is this profile's token header.
    pub fn is_token_header(self, name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(self.header_name().as_bytes())
    }

    /// Finds the token in all values of this profile's header (in order, as
    /// received). Seeing every value matters: two token headers are invalid.
    ///
    /// # Errors
    /// [`Failure::Missing`] or [`Failure::Invalid`], per the table above.
    pub fn extract<'a, I>(self, values: I) -> Result<&'a [u8], Failure>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut values = values.into_iter();
        let value = values.next().ok_or(Failure::Missing)?;
        if values.next().is_some() {
            return Err(Failure::Invalid);
        }
        self.extract_value(value)
    }

    /// Like [`Profile::extract`], from every `(name, value)` header pair of a
    /// request; names are matched case-insensitively.
    ///
    /// # Errors
    /// [`Failure::Missing`] or [`Failure::Invalid`], per the table above.
    pub fn extract_from_pairs<'a, 'n, I>(self, headers: I) -> Result<&'a [u8], Failure>
    where
        I: IntoIterator<Item = (&'n [u8], &'a [u8])>,
    {
        self.extract(self.token_values(headers))
    }

    /// The values of this profile's header among every `(name, value)`
    /// header pair of a request, in order; names are matched
    /// case-insensitively. What `Keyring::authenticate` takes, for hosts
    /// that hold a request's headers as pairs.
    pub fn token_values<'a, 'n, I>(self, headers: I) -> impl Iterator<Item = &'a [u8]>
    where
        I: IntoIterator<Item = (&'n [u8], &'a [u8])>,
    {
        headers
            .into_iter()
            .filter(move |(name, _)| self.is_token_header(name))
            .map(|(_, value)| value)
    }

    /// Finds the token in the single value of this profile's header.
    ///
    /// The candidate it returns has not been checked against the token
    /// format: verification does that (it must, in constant time).
    ///
    /// # Errors
    /// [`Failure::Missing`] or [`Failure::Invalid`], per the table above.
    pub fn extract_value(self, value: &[u8]) -> Result<&[u8], Failure> {
        let value = value.trim_ows();
        if value.is_empty() {
            return Err(Failure::Missing);
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Failure::Invalid);
        }
        match self {
            Self::Rest => Ok(value),
            Self::Mcp => {
                const SCHEME: &[u8] = b"bearer";
                let Some((scheme, rest)) = value.split_at_checked(SCHEME.len()) else {
                    return Err(Failure::Missing);
                };
                if !scheme.eq_ignore_ascii_case(SCHEME) {
                    return Err(Failure::Missing);
                }
                match rest.first() {
                    // "Bearer" alone: the scheme with no credentials.
                    None => Err(Failure::Invalid),
                    Some(b' ') => {
                        let token = rest.trim_start_spaces();
                        if token.is_empty() {
                            Err(Failure::Invalid)
                        } else {
                            Ok(token)
                        }
                    }
                    // "Bearer\t…": the bearer scheme, malformed.
                    Some(b'\t') => Err(Failure::Invalid),
                    // "BearerX…": another scheme name.
                    Some(_) => Err(Failure::Missing),
                }
            }
        }
    }

    /// The response for a failure in this profile.
    pub const fn reject(self, failure: Failure) -> Rejection {
        Rejection {
            profile: self,
            failure,
        }
    }
}

/// Trimming helpers for optional whitespace (RFC 9110 OWS: spaces and tabs).
trait TrimOws {
    fn trim_ows(&self) -> &Self;
    fn trim_start_spaces(&self) -> &Self;
}

/// Whether a byte is OWS, computed without a branch and then revealed
/// (`ct::reveal`): the last byte of a value is a token's last checksum
/// character, derived from its secret. Whether it is whitespace is public:
/// HTTP servers strip OWS in plain sight before any layer runs, and no token
/// character is OWS, so for a token the answer never depends on its secret.
fn is_ows(b: &u8) -> bool {
    ct::reveal_bit(u8::from(*b == b' ') | u8::from(*b == b'\t'))
}

impl TrimOws for [u8] {
    fn trim_ows(&self) -> &[u8] {
        let start = self.iter().position(|b| !is_ows(b)).unwrap_or(self.len());
        let end = self
            .iter()
            .rposition(|b| !is_ows(b))
            .map_or(start, |i| i + 1);
        &self[start..end.max(start)]
    }

    fn trim_start_spaces(&self) -> &[u8] {
        let start = self.iter().position(|b| *b != b' ').unwrap_or(self.len());
        &self[start..]
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// No token was presented.
    Missing,
    /// A token was presented and rejected: malformed, unknown, wrong, deleted
    /// or regenerated, all alike.
    Invalid,
    /// A token was presented, but the keyring cannot confirm it is current
    /// (its store is out of reach past the bound): neither accepted nor
    /// called invalid, since a client must not conclude that its good token
    /// is bad. Answered 503 with `Retry-After`.
    Unavailable,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "no token was presented",
            Self::Invalid => "the presented token is invalid",
            Self::Unavailable => "the token store cannot be reached",
        })
    }
}

impl core::error::Error for Failure {}

/// The exact HTTP response for a failure in a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// The profile that was applied.
    pub profile: Profile,
    /// What went wrong.
    pub failure: Failure,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status(), self.failure)
    }
}

impl core::error::Error for Rejection {}

/// The realm in every `mcp` challenge.
pub const REALM: &str = "whatsgate";

/// The `Retry-After` of a 503: followers poll their store more often than
/// this, so a client that waits this long meets a recovered host.
pub const RETRY_AFTER_SECS: u32 = 1;

impl Rejection {
    /// The status code: 403 for `rest`, 401 for `mcp`, 503 for
    /// [`Failure::Unavailable`] in both.
    pub const fn status(&self) -> u16 {
        match (self.profile, self.failure) {
            (_, Failure::Unavailable) => 503,
            (Profile::Rest, _) => 403,
            (Profile::Mcp, _) => 401,
        }
    }

    /// The `Retry-After` value in seconds, for the answers that send one
    /// ([`Failure::Unavailable`]).
    pub const fn retry_after(&self) -> Option<u32> {
        match self.failure {
            Failure::Unavailable => Some(RETRY_AFTER_SECS),
            Failure::Missing | Failure::Invalid => None,
        }
    }

    /// The human-readable message, such as `invalid Access-Token`: what
    /// the JSON body carries, for answers that are not JSON.
    pub const fn message(&self) -> &'static str {
        self.answer().0
    }

    /// The exact JSON body (send with `Content-Type: application/json`).
    pub const fn body(&self) -> &'static str {
        self.answer().1
    }

    const fn answer(&self) -> (&'static str, &'static str) {
        /// A message and its JSON body, written once.
        macro_rules! answer {
            ($message:literal) => {
                ($message, concat!(r#"{"message": ""#, $message, r#""}"#))
            };
        }
        match (self.profile, self.failure) {
            (Profile::Rest, Failure::Missing) => answer!("an Access-Token is required"),
            (Profile::Rest, Failure::Invalid) => answer!("invalid Access-Token"),
            (Profile::Mcp, Failure::Missing) => answer!("a Bearer token is required"),
            (Profile::Mcp, Failure::Invalid) => answer!("invalid Bearer token"),
            (_, Failure::Unavailable) => {
                answer!("the token store cannot be reached; retry later")
            }
        }
    }

    /// The `WWW-Authenticate` value, if the profile sends one (`mcp` does).
    pub const fn www_authenticate(&self) -> Option<&'static str> {
        match (self.profile, self.failure) {
            (Profile::Rest, _) | (_, Failure::Unavailable) => None,
            (Profile::Mcp, Failure::Missing) => Some(r#"Bearer realm="whatsgate""#),
            (Profile::Mcp, Failure::Invalid) => {
                Some(r#"Bearer realm="whatsgate", error="invalid_token""#)
            }
        }
    }

    /// The `WWW-Authenticate` value with `resource_metadata="{url}"` appended
    /// (RFC 9728), for MCP servers that publish protected-resource metadata.
    /// `None` for profiles without a challenge.
    pub fn www_authenticate_with<'a>(
        &self,
        resource_metadata: &'a ResourceMetadata,
    ) -> Option<Challenge<'a>> {
        self.www_authenticate().map(|base| Challenge {
            base,
            resource_metadata: Some(resource_metadata),
        })
    }
}

/// The URL of an RFC 9728 protected-resource metadata document, checked to
/// be safe inside a quoted challenge parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceMetadata<'a>(&'a str);

/// A resource-metadata URL that cannot be put in a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceMetadataError;

impl fmt::Display for ResourceMetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource_metadata URL must be non-empty visible ASCII without '\"' or '\\'")
    }
}

impl core::error::Error for ResourceMetadataError {}

impl<'a> ResourceMetadata<'a> {
    /// Checks a URL: non-empty visible ASCII, no `"` or `\`.
    ///
    /// # Errors
    /// [`ResourceMetadataError`] when the URL would break the header.
    pub fn new(url: &'a str) -> Result<Self, ResourceMetadataError> {
        let ok = !url.is_empty()
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if ok {
            Ok(Self(url))
        } else {
            Err(ResourceMetadataError)
        }
    }

    /// The URL.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A `WWW-Authenticate` value; `Display` writes it.
#[derive(Debug, Clone, Copy)]
pub struct Challenge<'a> {
    base: &'static str,
    resource_metadata: Option<&'a ResourceMetadata<'a>>,
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base)?;
        match self.resource_metadata {
            Some(url) => write_resource_metadata(f, url),
            None => Ok(()),
        }
    }
}

/// The answer to a request whose token was accepted but lacks the scope
/// its route needs: 403 in both profiles, with a JSON body naming the
/// scope; `mcp` adds the RFC 6750 §3.1 challenge
/// (`Bearer realm="whatsgate", error="insufficient_scope", scope="…"`).
/// Only a token that verified gets it, so it tells nothing to a caller
/// without a valid token.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeDenial<'a> {
    /// The profile that was applied.
    pub profile: Profile,
    /// The scope the route needs (its grammar needs no quoting).
    pub scope: &'a crate::scope::Scope,
}

#[cfg(feature = "alloc")]
impl<'a> ScopeDenial<'a> {
    /// The status code: 403.
    pub const fn status(&self) -> u16 {
        403
    }

    /// The message, such as `the token lacks the scope messages:send`.
    pub fn message(&self) -> impl fmt::Display + use<'a> {
        DenialText(DenialPart::Message, self.scope)
    }

    /// The exact JSON body (send with `Content-Type: application/json`).
    pub fn body(&self) -> impl fmt::Display + use<'a> {
        DenialText(DenialPart::Body, self.scope)
    }

    /// The `WWW-Authenticate` value, for `mcp`.
    pub fn www_authenticate(&self) -> Option<impl fmt::Display + use<'a>> {
        (self.profile == Profile::Mcp).then_some(DenialText(DenialPart::Challenge, self.scope))
    }

    /// The `WWW-Authenticate` value with `resource_metadata="{url}"`
    /// appended, as [`Rejection::www_authenticate_with`] does for a 401 (the
    /// MCP authorization spec asks the same of this 403). `None` for `rest`.
    pub fn www_authenticate_with<'m>(
        &self,
        resource_metadata: &'m ResourceMetadata<'m>,
    ) -> Option<impl fmt::Display + use<'a, 'm>> {
        (self.profile == Profile::Mcp).then_some(ChallengeWith {
            base: DenialText(DenialPart::Challenge, self.scope),
            resource_metadata,
        })
    }
}

/// A challenge and the resource-metadata parameter after it (see
/// [`Challenge`] for the 401's).
#[cfg(feature = "alloc")]
struct ChallengeWith<'m, B> {
    base: B,
    resource_metadata: &'m ResourceMetadata<'m>,
}

#[cfg(feature = "alloc")]
impl<B: fmt::Display> fmt::Display for ChallengeWith<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base)?;
        write_resource_metadata(f, self.resource_metadata)
    }
}

/// The one place that writes the parameter.
fn write_resource_metadata(f: &mut fmt::Formatter<'_>, url: &ResourceMetadata<'_>) -> fmt::Result {
    write!(f, r#", resource_metadata="{}""#, url.0)
}

/// One part of a [`ScopeDenial`], written by `Display`.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
enum DenialPart {
    Message,
    Body,
    Challenge,
}

#[cfg(feature = "alloc")]
struct DenialText<'a>(DenialPart, &'a crate::scope::Scope);

#[cfg(feature = "alloc")]
impl fmt::Display for DenialText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = self.1;
        match self.0 {
            DenialPart::Message => write!(f, "the token lacks the scope {scope}"),
            DenialPart::Body => write!(f, r#"{{"message": "the token lacks the scope {scope}"}}"#),
            DenialPart::Challenge => write!(
                f,
                r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#
            ),
        }
    }
}

/// A path prefix that a host guards (or leaves public), normalized: it
/// starts with `/` and, unless it is `/` itself, has no trailing `/`.
///
/// `/api` covers `/api` and everything below it (`/api/…`), not `/apix`;
/// `/` covers every path. A run of slashes in a request path counts as one
/// (`//api/x` is under `/api`), since many routers merge them: a guard must
/// not be walked around by doubling a slash.
///
/// Generic over its storage: `PathPrefix<&str>` needs no allocator,
/// `PathPrefix<String>` keeps its own copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathPrefix<S = &'static str> {
    text: S,
    /// The normalized prefix is `text[..len]`: trailing slashes dropped.
    len: usize,
}

/// A path prefix that breaks the rules of [`PathPrefix::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathPrefixError;

impl fmt::Display for PathPrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a path prefix is an absolute path such as \"/api\": it starts with '/', \
             has no '?', '#', space, control or non-ASCII character, and no empty segment ('//')",
        )
    }
}

impl core::error::Error for PathPrefixError {}

impl<S: AsRef<str>> PathPrefix<S> {
    /// Checks and normalizes a prefix: it starts with `/`, is visible ASCII
    /// without `?` or `#`, and has no `//` before its trailing slashes,
    /// which are dropped (`/api/` is `/api`).
    ///
    /// # Errors
    /// [`PathPrefixError`] when the prefix breaks these rules.
    pub fn new(text: S) -> Result<Self, PathPrefixError> {
        let bytes = text.as_ref().as_bytes();
        let trimmed = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'/').count();
        let len = trimmed.max(1);
        let ok = bytes.first() == Some(&b'/')
            && bytes
                .iter()
                .all(|&b| b.is_ascii_graphic() && b != b'?' && b != b'#')
            && !bytes[..len].windows(2).any(|pair| pair == b"//");
        if ok {
            Ok(Self { text, len })
        } else {
            Err(PathPrefixError)
        }
    }

    /// The normalized prefix, such as `/api` or `/`.
    pub fn as_str(&self) -> &str {
        &self.text.as_ref()[..self.len]
    }

    /// Whether `path` (a request's path, without its query) is this prefix
    /// or below it; runs of slashes in `path` count as one.
    pub fn covers(&self, path: &str) -> bool {
        let prefix = self.as_str().as_bytes();
        if prefix == b"/" {
            return true;
        }
        let mut rest = path.as_bytes();
        for &want in prefix {
            let Some((&got, tail)) = rest.split_first() else {
                return false;
            };
            if got != want {
                return false;
            }
            rest = tail;
            if got == b'/' {
                // Only at the start of a segment: skip the rest of the run.
                while let Some((b'/', tail)) = rest.split_first() {
                    rest = tail;
                }
            }
        }
        rest.is_empty() || rest[0] == b'/'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_round_trip() {
        for profile in [Profile::Rest, Profile::Mcp] {
            assert_eq!(profile.name().parse(), Ok(profile));
        }
        assert_eq!("REST".parse::<Profile>(), Err(ProfileNameError));
        assert_eq!("".parse::<Profile>(), Err(ProfileNameError));
    }

    #[test]
    fn path_prefixes_are_normalized_and_checked() {
        assert_eq!(PathPrefix::new("/api/").map(|p| p.len), Ok(4));
        assert_eq!(PathPrefix::new("///").map(|p| p.len), Ok(1));
        for bad in ["", "api", "/a b", "/a?b", "/a#b", "/a//b", "/é"] {
            assert_eq!(PathPrefix::new(bad), Err(PathPrefixError), "{bad:?}");
        }
    }

    #[test]
    fn a_prefix_covers_itself_and_below_with_merged_slashes() {
        let api = PathPrefix::new("/api/v1").unwrap();
        for path in [
            "/api/v1",
            "/api/v1/",
            "/api/v1/x",
            "//api/v1",
            "/api//v1//x",
            "///api/v1",
        ] {
            assert!(api.covers(path), "{path:?}");
        }
        for path in [
            "/api",
            "/api/v1x",
            "/apiv1",
            "api/v1",
            "",
            "/",
            "/api/v",
            "/x/api/v1",
        ] {
            assert!(!api.covers(path), "{path:?}");
        }
        let root = PathPrefix::new("/").unwrap();
        assert!(root.covers("/anything") && root.covers(""));
    }

    #[test]
    fn rest_values() {
        let p = Profile::Rest;
        assert_eq!(p.extract_value(b"  \tabc \t"), Ok(&b"abc"[..]));
        assert_eq!(p.extract_value(b""), Err(Failure::Missing));
        assert_eq!(p.extract_value(b" \t "), Err(Failure::Missing));
        assert_eq!(
            p.extract_value(&[b'a'; MAX_VALUE_LEN]),
            Ok(&[b'a'; MAX_VALUE_LEN][..])
        );
        assert_eq!(
            p.extract_value(&[b'a'; MAX_VALUE_LEN + 1]),
            Err(Failure::Invalid)
        );
    }

    /// The limit counts the value after its surrounding whitespace is
    /// stripped (what an HTTP server hands a layer); whitespace inside it
    /// counts.
    #[test]
    fn the_limit_applies_after_stripping() {
        let spaces = [b' '; 2 * MAX_VALUE_LEN];
        let padded = [&spaces[..], b"abc", &spaces[..], b"\t"].concat();
        assert_eq!(Profile::Rest.extract_value(&padded), Ok(&b"abc"[..]));
        assert_eq!(Profile::Rest.extract_value(&spaces), Err(Failure::Missing));
        let at_limit = [&b"Bearer"[..], &spaces[..MAX_VALUE_LEN - 9], b"abc"].concat();
        assert_eq!(at_limit.len(), MAX_VALUE_LEN);
        let padded = [&spaces[..], &at_limit[..], &spaces[..]].concat();
        assert_eq!(Profile::Mcp.extract_value(&padded), Ok(&b"abc"[..]));
        // Positive control: one inner space more is over the limit.
        let over = [&b"Bearer "[..], &at_limit[6..]].concat();
        assert_eq!(over.len(), MAX_VALUE_LEN + 1);
        assert_eq!(Profile::Mcp.extract_value(&over), Err(Failure::Invalid));
    }

    #[test]
    fn mcp_values() {
        let p = Profile::Mcp;
        assert_eq!(p.extract_value(b"Bearer abc"), Ok(&b"abc"[..]));
        assert_eq!(p.extract_value(b"bEaReR    abc  "), Ok(&b"abc"[..]));
        assert_eq!(p.extract_value(b"Bearer"), Err(Failure::Invalid));
        assert_eq!(p.extract_value(b"Bearer   "), Err(Failure::Invalid));
        assert_eq!(p.extract_value(b"Bearer\tabc"), Err(Failure::Invalid));
        assert_eq!(p.extract_value(b"Bearerabc"), Err(Failure::Missing));
        assert_eq!(
            p.extract_value(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
            Err(Failure::Missing)
        );
        assert_eq!(p.extract_value(b"Bear"), Err(Failure::Missing));
        assert_eq!(p.extract_value(b""), Err(Failure::Missing));
    }

    #[test]
    fn duplicates_are_invalid_and_names_are_case_insensitive() {
        let one = [(&b"ACCESS-TOKEN"[..], &b"x"[..])];
        assert_eq!(Profile::Rest.extract_from_pairs(one), Ok(&b"x"[..]));
        let two = [
            (&b"access-token"[..], &b"x"[..]),
            (&b"Access-Token"[..], &b""[..]),
        ];
        assert_eq!(Profile::Rest.extract_from_pairs(two), Err(Failure::Invalid));
        let mixed = [
            (&b"Authorization"[..], &b"Bearer a"[..]),
            (&b"accept"[..], &b"*/*"[..]),
            (&b"AUTHORIZATION"[..], &b"Bearer b"[..]),
        ];
        assert!(
            Profile::Mcp
                .token_values(mixed)
                .eq([&b"Bearer a"[..], &b"Bearer b"[..]])
        );
        assert_eq!(Profile::Rest.token_values(mixed).count(), 0);
        let other = [(&b"authorization"[..], &b"Bearer x"[..])];
        assert_eq!(
            Profile::Rest.extract_from_pairs(other),
            Err(Failure::Missing)
        );
    }

    #[test]
    fn responses_are_exact() {
        let r = Profile::Rest.reject(Failure::Missing);
        assert_eq!(
            (r.status(), r.body()),
            (403, r#"{"message": "an Access-Token is required"}"#)
        );
        assert_eq!(r.www_authenticate(), None);
        assert_eq!(r.message(), "an Access-Token is required");
        assert_eq!(
            Profile::Mcp.reject(Failure::Invalid).body(),
            r#"{"message": "invalid Bearer token"}"#
        );
        let m = Profile::Mcp.reject(Failure::Invalid);
        assert_eq!(m.status(), 401);
        let url = ResourceMetadata::new("https://x.example/.well-known/oauth-protected-resource")
            .unwrap();
        let mut s = alloc::string::String::new();
        core::fmt::write(
            &mut s,
            format_args!("{}", m.www_authenticate_with(&url).unwrap()),
        )
        .unwrap();
        assert_eq!(
            s,
            r#"Bearer realm="whatsgate", error="invalid_token", resource_metadata="https://x.example/.well-known/oauth-protected-resource""#
        );
        for profile in [Profile::Rest, Profile::Mcp] {
            let r = profile.reject(Failure::Unavailable);
            assert_eq!((r.status(), r.retry_after()), (503, Some(1)));
            assert_eq!(
                r.body(),
                r#"{"message": "the token store cannot be reached; retry later"}"#
            );
            assert_eq!(r.www_authenticate(), None);
            assert_eq!(r.www_authenticate_with(&url).map(|_| ()), None);
        }
        assert_eq!(Profile::Rest.reject(Failure::Invalid).retry_after(), None);
        let scope = crate::scope::Scope::new("messages:send").unwrap();
        let denial = ScopeDenial {
            profile: Profile::Mcp,
            scope: &scope,
        };
        assert_eq!(
            alloc::format!("{}", denial.www_authenticate_with(&url).unwrap()),
            r#"Bearer realm="whatsgate", error="insufficient_scope", scope="messages:send", resource_metadata="https://x.example/.well-known/oauth-protected-resource""#
        );
        let rest = ScopeDenial {
            profile: Profile::Rest,
            scope: &scope,
        };
        assert!(rest.www_authenticate_with(&url).is_none());
        assert!(ResourceMetadata::new("a\"b").is_err());
        assert!(ResourceMetadata::new("a b").is_err());
    }
}
