//! Helpers shared by the integration tests: run the real `wgauth` binary
//! against a temporary store, start the real server on a free loopback port,
//! and speak raw HTTP/1.1 to it.

#![allow(dead_code, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub const WGAUTH: &str = env!("CARGO_BIN_EXE_wgauth");

/// The seed's example body, as the docs show it.
pub const SEED_BODY: &str = "{\n    \"sender_device\": \"123456789\",\n    \"phone\": \"987654321\",\n    \"message\": \"Hello, this is a test message\"\n}";
pub const MISSING: &str = r#"{"message": "an Access-Token is required"}"#;
pub const INVALID: &str = r#"{"message": "invalid Access-Token"}"#;

/// A temporary directory with a store path in it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("tokens.db");
        Self { dir, db }
    }

    /// `wgauth --db <db> args…` with stdin closed (empty).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
        run_wgauth(&self.db, args, env, stdin)
    }

    /// Creates a token and returns (token, id).
    pub fn create(&self, account: &str, name: &str) -> (String, String) {
        let out = self.run(&["token", "create", "--account", account, "--name", name]);
        assert_eq!(out.code, Some(0), "create failed: {}", out.stderr);
        let token = out.stdout.trim().to_string();
        let id = self.id_of(account, name).expect("created token is listed");
        (token, id)
    }

    /// The id of a token, from `token list --json`.
    pub fn id_of(&self, account: &str, name: &str) -> Option<String> {
        self.list_json()
            .into_iter()
            .find(|t| t["account"] == account && t["name"] == name)
            .map(|t| t["id"].as_str().expect("id").to_string())
    }

    pub fn list_json(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["token", "list", "--json"]);
        assert_eq!(out.code, Some(0), "list failed: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("list --json is JSON")
    }

    /// `wgauth verify` with the token on stdin.
    pub fn verify(&self, token: &str) -> Run {
        self.run_with(&["verify"], &[], Some(format!("{token}\n").as_bytes()))
    }
}

/// What a finished `wgauth` said.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_wgauth(db: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(WGAUTH);
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("WGAUTH_DB")
        .env_remove("WGAUTH_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn wgauth");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            // wgauth may stop reading early (it caps what it reads).
            let _ = pipe.write_all(bytes);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for wgauth");
    let run = Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "wgauth panicked: {}",
        run.stderr
    );
    run
}

/// A running `wgauth serve`, killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `wgauth --db <db> serve --listen 127.0.0.1:0 extra…` and waits
    /// until it listens.
    pub fn start(db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(WGAUTH)
            .arg("--db")
            .arg(db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            // `--demo` writes its header file here.
            .current_dir(db.parent().expect("the store is in a directory"))
            .env_remove("WGAUTH_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wgauth serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stderr.take().expect("stderr");
            let buf = Arc::clone(&stderr);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("serving http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                        let _ = tx.send(addr);
                    }
                    let mut b = buf.lock().expect("lock");
                    b.push_str(&line);
                    b.push('\n');
                }
            });
        }
        {
            let mut pipe = child.stdout.take().expect("stdout");
            let buf = Arc::clone(&stdout);
            thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .expect("lock")
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start: {}", stderr.lock().expect("lock"));
            }
        };
        Self {
            child,
            addr,
            stderr,
            stdout,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Stdout so far (the demo block), waiting until it holds `needle`.
    pub fn stdout_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.stdout.lock().expect("lock").clone();
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads catch the last lines.
                thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request with `Connection: close`, raw bytes.
    pub fn raw(&self, request: &[u8]) -> Response {
        raw_request(self.addr, request)
    }

    /// `POST /api/send/text` with the seed's body and these extra header lines.
    pub fn seed_example(&self, header_lines: &[&[u8]]) -> Response {
        let mut req = Vec::new();
        req.extend_from_slice(b"POST /api/send/text HTTP/1.1\r\nHost: localhost\r\n");
        for line in header_lines {
            req.extend_from_slice(line);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{SEED_BODY}",
                SEED_BODY.len()
            )
            .as_bytes(),
        );
        self.raw(&req)
    }

    pub fn get(&self, path: &str, header_lines: &[&[u8]]) -> Response {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n").into_bytes();
        for line in header_lines {
            req.extend_from_slice(line);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"Connection: close\r\n\r\n");
        self.raw(&req)
    }

    /// Polls `GET /api/check` with the token until `accepted` is as wanted;
    /// returns how long that took.
    pub fn wait_until(&self, token: &str, accepted: bool, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let header = format!("Access-Token: {token}");
        while start.elapsed() < limit {
            let r = self.get("/api/check", &[header.as_bytes()]);
            if (r.status == 200) == accepted {
                return Some(start.elapsed());
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn raw_request(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer (e.g. 431) and close before reading it all.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_response(&bytes)
}

pub fn parse_response(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}
