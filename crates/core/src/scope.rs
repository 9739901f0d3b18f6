//! What a token may do: full access (the seed's promise, and the default) or
//! a set of `resource:action` scopes, checked after authentication.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// The most scopes one token may carry.
pub const MAX_SCOPES: usize = 64;
/// The longest resource or action part of a scope, in bytes.
pub const MAX_SCOPE_PART: usize = 32;

/// One `resource:action` scope, such as `messages:send`, or `resource:*`
/// for every action on a resource. Each part is 1–32 characters of
/// lowercase ASCII letters, digits, `_` and `-`, starting with a letter; an
/// action may also be `*`. So a scope never needs quoting, in JSON or in a
/// `WWW-Authenticate` parameter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

/// Why a scope, or a set of them, was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// Not `resource:action` with parts as [`Scope`] says. Carries the text
    /// as given when it cannot hold a token (printable ASCII, at most 65
    /// characters, no part between colons longer than 32: a token's secret
    /// alone is 32 characters), else `(not shown)`: a token pasted where a
    /// scope belongs must not reach an error message or a log.
    BadName(String),
    /// More than [`MAX_SCOPES`] distinct scopes.
    TooMany(usize),
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName(name) => write!(
                f,
                "{name:?} is not a scope: write resource:action (lowercase letters, digits, _ and -, \
                 each part starting with a letter and at most {MAX_SCOPE_PART} long; the action may be *)"
            ),
            Self::TooMany(n) => write!(f, "{n} scopes given; a token carries at most {MAX_SCOPES}"),
        }
    }
}

impl core::error::Error for ScopeError {}

/// What a refused name may show of itself (see [`ScopeError::BadName`]).
fn shown(name: &str) -> String {
    let safe = name.len() <= 2 * MAX_SCOPE_PART + 1
        && name.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && name.split(':').all(|part| part.len() <= MAX_SCOPE_PART);
    if safe {
        name.into()
    } else {
        "(not shown)".into()
    }
}

/// Whether `part` is a resource or action name (not `*`).
fn is_part(part: &str) -> bool {
    let mut bytes = part.bytes();
    part.len() <= MAX_SCOPE_PART
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Scope {
    /// Checks a scope name.
    ///
    /// # Errors
    /// [`ScopeError::BadName`].
    pub fn new(name: &str) -> Result<Self, ScopeError> {
        if Self::is_valid(name) {
            Ok(Self(name.into()))
        } else {
            Err(ScopeError::BadName(shown(name)))
        }
    }

    /// Whether `name` is a scope, without making one (no allocation): for
    /// a host that checks a name it was given before asking
    /// [`Scopes::allows`], which assumes a well-formed name.
    pub fn is_valid(name: &str) -> bool {
        name.split_once(':').is_some_and(|(resource, action)| {
            is_part(resource) && (action == "*" || is_part(action))
        })
    }

    /// The name, such as `messages:send`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource part.
    fn resource(&self) -> &str {
        self.0.split_once(':').map_or("", |(resource, _)| resource)
    }

    /// Whether this granted scope covers `required` (itself, or every
    /// action of its resource).
    fn covers(&self, required: &str) -> bool {
        self.0 == required
            || (self.0.ends_with(":*")
                && required
                    .split_once(':')
                    .is_some_and(|(resource, _)| resource == self.resource()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a token may do: [`Scopes::FULL`] (every scope; the default, as the
/// seed promises), or only the scopes listed (possibly none). Cloning one
/// shares its list.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
// One word (a thin pointer, `None` for full access): every owned principal
// carries one, and a wider one made them a size class larger.
pub struct Scopes(Option<Arc<Box<[Scope]>>>);

impl Scopes {
    /// Full access: every scope.
    pub const FULL: Self = Self(None);

    /// Only these scopes (sorted, duplicates dropped).
    ///
    /// # Errors
    /// [`ScopeError`] for a name that is not a scope, or more than
    /// [`MAX_SCOPES`] distinct ones.
    pub fn only<I, S>(names: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut scopes = names
            .into_iter()
            .map(|name| Scope::new(name.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.len() > MAX_SCOPES {
            return Err(ScopeError::TooMany(scopes.len()));
        }
        Ok(Self(Some(Arc::new(scopes.into_boxed_slice()))))
    }

    /// Whether this is full access.
    pub const fn is_full(&self) -> bool {
        self.0.is_none()
    }

    /// The scopes listed, sorted; `None` for full access.
    pub fn list(&self) -> Option<&[Scope]> {
        self.0.as_deref().map(|list| &**list)
    }

    /// Whether a route that needs `required` (a `resource:action` name)
    /// may be used: full access allows every scope; a list allows the
    /// scopes it names and, for `resource:*`, every action of `resource`.
    /// A `required` that is not a scope (a typo in a route's declaration)
    /// is allowed to no one, full access included: refused, not opened.
    pub fn allows(&self, required: &str) -> bool {
        Scope::is_valid(required)
            && self
                .list()
                .is_none_or(|scopes| scopes.iter().any(|scope| scope.covers(required)))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.list() {
            None => f.write_str("Scopes::FULL"),
            Some(list) => f
                .debug_set()
                .entries(list.iter().map(Scope::as_str))
                .finish(),
        }
    }
}

/// Full access, for readers that have no list to lend.
pub(crate) static FULL: Scopes = Scopes::FULL;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar() {
        for good in [
            "messages:send",
            "tokens:manage",
            "devices:*",
            "a:b",
            "a1_-:x9-_",
        ] {
            assert_eq!(Scope::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            ":",
            "messages",
            "messages:",
            ":send",
            "Messages:send",
            "messages:Send",
            "*:send",
            "*:*",
            "1a:send",
            "a:b:c",
            "a :b",
            "a:b ",
            "a:\"b\"",
            "_a:b",
        ] {
            assert_eq!(
                Scope::new(bad),
                Err(ScopeError::BadName(bad.into())),
                "{bad:?}"
            );
        }
        for unprintable in ["a:b\n", "a:é"] {
            assert_eq!(
                Scope::new(unprintable),
                Err(ScopeError::BadName("(not shown)".into()))
            );
        }
        assert!(Scope::is_valid("messages:send") && !Scope::is_valid("Messages:send"));
        let long = "a".repeat(MAX_SCOPE_PART);
        assert!(Scope::new(&alloc::format!("{long}:{long}")).is_ok());
        assert!(Scope::new(&alloc::format!("{long}a:b")).is_err());
        assert!(Scope::new(&alloc::format!("b:{long}a")).is_err());
    }

    #[test]
    fn a_refused_name_that_could_hold_a_token_is_not_shown() {
        let token = "wgat_AQI_NyA6JHbEJWamHMVcPKh127TMQcDet4n457-IGDY4bev0sA";
        for bad in [
            token,
            &alloc::format!("messages:{token}"),
            &alloc::format!("{token}:send"),
            &alloc::format!("messages:send\n{token}"),
            &"x".repeat(66),
        ] {
            let err = Scope::new(bad).unwrap_err();
            assert_eq!(err, ScopeError::BadName("(not shown)".into()), "{bad:?}");
            assert!(!alloc::format!("{err} {err:?}").contains("AQI_"));
        }
        // Common mistakes are shown, so the user sees what to fix.
        for bad in [
            "messages",
            "Messages:send",
            "messages: send",
            "messages:send:x",
        ] {
            assert_eq!(Scope::new(bad), Err(ScopeError::BadName(bad.into())));
        }
    }

    #[test]
    fn full_access_allows_everything_and_lists_only_what_they_name() {
        assert!(Scopes::FULL.allows("messages:send"));
        assert!(Scopes::default().is_full());
        let none = Scopes::only::<[&str; 0], _>([]).unwrap();
        assert!(!none.is_full());
        assert!(!none.allows("messages:send"));

        let some = Scopes::only(["messages:send", "devices:*", "messages:send"]).unwrap();
        let names: Vec<_> = some.list().unwrap().iter().map(Scope::as_str).collect();
        assert_eq!(names, ["devices:*", "messages:send"]);
        assert!(some.allows("messages:send"));
        assert!(!some.allows("messages:read"));
        assert!(some.allows("devices:read"));
        assert!(some.allows("devices:*"));
        assert!(!some.allows("devicesx:read"));
        assert!(!some.allows("devices"));
        assert!(!some.allows("tokens:manage"));
        // A name that is no scope is allowed to no one: `devices:*` does
        // not cover `devices:Read`, and full access does not open it.
        for typo in ["devices:Read", "Messages:send", "messages", ""] {
            assert!(!some.allows(typo) && !Scopes::FULL.allows(typo), "{typo:?}");
        }
    }

    #[test]
    fn at_most_64_distinct_scopes() {
        let names = |n: usize| {
            (0..n)
                .map(|i| alloc::format!("r{i}:read"))
                .collect::<Vec<_>>()
        };
        assert_eq!(Scopes::only(names(64)).unwrap().list().unwrap().len(), 64);
        assert_eq!(Scopes::only(names(65)), Err(ScopeError::TooMany(65)));
        // Duplicates are not counted twice.
        let mut twice = names(64);
        twice.extend(names(64));
        assert!(Scopes::only(twice).is_ok());
    }
}
