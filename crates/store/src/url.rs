//! One URL picks the backend: a path or `sqlite:PATH`, or `postgresql://…`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A parsed store URL. `Display` and `Debug` never show a password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    kind: Inner,
}

#[derive(Clone, PartialEq, Eq)]
enum Inner {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A string that names no backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

impl StoreUrl {
    /// Parses `PATH`, `sqlite:PATH` (also `sqlite://PATH`), or
    /// `postgresql://…` / `postgres://…` (libpq's URI form, passed to the
    /// driver as it is).
    ///
    /// # Errors
    /// [`UrlError`] for an empty string or another scheme (`mysql://…`).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        if text.is_empty() {
            return Err(UrlError(
                "the store URL is empty: give a file path, sqlite:PATH, or postgresql://…".into(),
            ));
        }
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            return Ok(Self {
                kind: Inner::Postgres(text.to_owned()),
            });
        }
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(UrlError(
                    "sqlite: needs a file path, as in sqlite:/var/lib/wgauth/tokens.db".into(),
                ));
            }
            return Ok(Self {
                kind: Inner::Sqlite(PathBuf::from(path)),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(UrlError(format!(
                "{scheme}:// is not a token store this release knows: use a file path, \
                 sqlite:PATH, or postgresql://…"
            )));
        }
        Ok(Self {
            kind: Inner::Sqlite(PathBuf::from(text)),
        })
    }

    /// The backend it names.
    pub fn backend(&self) -> Backend {
        match self.kind {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, for a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.kind {
            Inner::Sqlite(path) => Some(path),
            Inner::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection string, password included: for the driver
    /// only, never for a message.
    pub(crate) fn postgres_conninfo(&self) -> Option<&str> {
        match &self.kind {
            Inner::Postgres(url) => Some(url),
            Inner::Sqlite(_) => None,
        }
    }
}

/// The URL with the password of its user-info replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest
        .find(['/', '?'])
        .map_or((rest, ""), |i| rest.split_at(i));
    let tail = redact_query_password(tail);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => format!("{scheme}://{userinfo}@{host}{tail}"),
        },
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// `?password=…` in the query redacted too (libpq accepts it there).
fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Inner::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Inner::Postgres(url) => f.write_str(&redacted(url)),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_url_picks_the_backend() {
        let path = StoreUrl::parse("/var/lib/wgauth/tokens.db").unwrap();
        assert_eq!(path.backend(), Backend::Sqlite);
        assert_eq!(
            path.sqlite_path(),
            Some(Path::new("/var/lib/wgauth/tokens.db"))
        );
        for text in ["sqlite:t.db", "sqlite://t.db"] {
            assert_eq!(
                StoreUrl::parse(text).unwrap().sqlite_path(),
                Some(Path::new("t.db"))
            );
        }
        for text in ["postgresql://u@h/db", "postgres://h/db"] {
            assert_eq!(StoreUrl::parse(text).unwrap().backend(), Backend::Postgres);
        }
        for bad in ["", "sqlite:", "mysql://h/db"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            StoreUrl::parse("mysql://h/db")
                .unwrap_err()
                .to_string()
                .contains("postgresql://")
        );
    }

    #[test]
    fn passwords_never_show() {
        for (text, shown) in [
            (
                "postgresql://app:s3cret@db.example:5432/tokens",
                "postgresql://app:***@db.example:5432/tokens",
            ),
            ("postgres://app:s3cret@h", "postgres://app:***@h"),
            (
                "postgresql://h/db?user=app&password=s3cret&sslmode=require",
                "postgresql://h/db?user=app&password=***&sslmode=require",
            ),
            ("postgresql://app@h/db", "postgresql://app@h/db"),
        ] {
            let url = StoreUrl::parse(text).unwrap();
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }
}
