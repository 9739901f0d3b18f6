//! A throwaway PostgreSQL server per test, for the tests that stop,
//! restart or kill one (`scripts/pg`), and the gate every PostgreSQL test
//! passes first.

use std::process::Command;

/// The password the tests put in URLs: the server trusts local users and
/// ignores it, so it only shows whether a password ever leaks.
pub const PASSWORD: &str = "s3cret-Pa55word";

/// Whether PostgreSQL tests run here: `WGAUTH_TEST_PG_URL` is set (by
/// `scripts/test-store`). Without it they pass with a printed reason,
/// unless `WGAUTH_TEST_PG_REQUIRED` is set: then they fail.
pub fn available() -> bool {
    match std::env::var("WGAUTH_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => true,
        _ if std::env::var_os("WGAUTH_TEST_PG_REQUIRED").is_some() => panic!(
            "WGAUTH_TEST_PG_REQUIRED is set but WGAUTH_TEST_PG_URL is not: scripts/test-store \
             must start a server and pass its URL"
        ),
        _ => {
            eprintln!(
                "skipped: WGAUTH_TEST_PG_URL is unset (scripts/test-store starts a throwaway \
                 PostgreSQL and sets it)"
            );
            false
        }
    }
}

/// A throwaway server from `scripts/pg start`, stopped and removed on drop.
pub struct Server {
    pub dir: String,
    pub url: String,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg");

impl Server {
    pub fn start() -> Server {
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/pg start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
                .to_owned()
        };
        Server {
            dir: value("WGAUTH_TEST_PG_DIR="),
            url: value("WGAUTH_TEST_PG_URL="),
        }
    }

    /// `scripts/pg COMMAND DIR ARGS…`, which must succeed.
    pub fn pg(&self, command: &str, args: &[&str]) {
        let out = Command::new("bash")
            .arg(SCRIPT)
            .arg(command)
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/pg {command} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL with a password: the server trusts local users and ignores
    /// it, so it only shows whether a password ever leaks into a message.
    pub fn url_with_password(&self) -> String {
        self.url
            .replacen("wgauth@", &format!("wgauth:{PASSWORD}@"), 1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SCRIPT)
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}
