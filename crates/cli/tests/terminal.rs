//! What a terminal shows: `wgauth verify` reads a pasted token with echo
//! off, and `create` says "below" only when its stdout is a terminal. Run
//! on a pseudo-terminal whose transcript (everything the terminal would
//! display, echo included) is searched. The control runs a shell's `read`
//! on the same harness: the terminal echoes what it reads, and the search
//! catches it.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Env, WGAUTH};

/// A pseudo-terminal: the controlling side (what the user sees and types)
/// and the device a process gets as its stdin/stderr.
struct Pty {
    master: File,
    transcript: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Spawns `command` with stdin and stderr on a new terminal (stdout as
    /// `command` set it), and starts recording the terminal's output.
    fn spawn(command: &mut Command, stdout_too: bool) -> (Self, Child) {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let path = std::path::PathBuf::from(name.to_str().expect("a UTF-8 terminal name"));
        let device = File::options()
            .read(true)
            .write(true)
            .open(path)
            .expect("open the terminal");
        let fd = OwnedFd::from(device);
        command
            .stdin(Stdio::from(fd.try_clone().expect("dup")))
            .stderr(Stdio::from(fd.try_clone().expect("dup")));
        if stdout_too {
            command.stdout(Stdio::from(fd.try_clone().expect("dup")));
        }
        let child = command.spawn().expect("spawn");
        drop(fd);
        // Drop the command's copies of the device, so that reading the
        // master ends when the child exits.
        drop(std::mem::replace(command, Command::new("true")));
        let master = File::from(master);
        let transcript = Arc::new(Mutex::new(Vec::new()));
        {
            let mut reader = master.try_clone().expect("dup master");
            let transcript = Arc::clone(&transcript);
            thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                // EIO once every copy of the device is closed.
                while let Ok(n) = reader.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    transcript
                        .lock()
                        .expect("lock")
                        .extend_from_slice(&chunk[..n]);
                }
            });
        }
        (Self { master, transcript }, child)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.transcript.lock().expect("lock")).into_owned()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "never showed {needle:?}: {}",
                self.text()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types a line, as a user pasting it and pressing Enter.
    fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("type");
    }
}

/// Waits for the child and a moment for the last output.
fn finish(child: Child) -> std::process::Output {
    let out = child.wait_with_output().expect("wait");
    thread::sleep(Duration::from_millis(100));
    out
}

#[test]
fn verify_does_not_echo_a_pasted_token() {
    let env = Env::new();
    let (token, _) = env.create("acct_42", "Production API");
    let mut command = Command::new(WGAUTH);
    command
        .arg("--db")
        .arg(&env.db)
        .arg("verify")
        .env_remove("WGAUTH_TOKEN")
        .stdout(Stdio::piped());
    let (mut pty, child) = Pty::spawn(&mut command, false);
    pty.wait_for("it is not shown");
    pty.type_line(&token);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(0), "{}", pty.text());
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: account \"acct_42\""));
    let shown = pty.text();
    assert!(
        !shown.contains(&token),
        "the terminal showed the token: {shown}"
    );
    assert!(
        !shown.contains(&token[20..]),
        "the terminal showed part of it"
    );
    // The terminal echoes again afterwards.
    let mut settings = None;
    if let Ok(attrs) = rustix::termios::tcgetattr(&pty.master) {
        settings = Some(
            attrs
                .local_modes
                .contains(rustix::termios::LocalModes::ECHO),
        );
    }
    assert_eq!(settings, Some(true), "echo left off");
}

/// The control: a program that reads a line without turning echo off; the
/// terminal shows what was typed, and the same search sees it.
#[test]
fn control_a_plain_read_is_echoed_and_caught() {
    let env = Env::new();
    let (token, _) = env.create("acct_42", "Production API");
    let mut command = Command::new("sh");
    command
        .args(["-c", "printf 'Paste: ' >&2; read line; echo done >&2"])
        .stdout(Stdio::null());
    let (mut pty, child) = Pty::spawn(&mut command, false);
    pty.wait_for("Paste: ");
    pty.type_line(&token);
    let out = finish(child);
    assert!(out.status.success());
    pty.wait_for("done");
    assert!(pty.text().contains(&token), "{}", pty.text());
}

#[test]
fn create_says_below_only_when_stdout_is_a_terminal() {
    let env = Env::new();
    let mut command = Command::new(WGAUTH);
    command.arg("--db").arg(&env.db).args([
        "token",
        "create",
        "--account",
        "a",
        "--name",
        "on a terminal",
    ]);
    let (pty, child) = Pty::spawn(&mut command, true);
    let out = finish(child);
    assert!(out.status.success(), "{}", pty.text());
    pty.wait_for("wgat_");
    assert!(
        pty.text().contains("it is shown once, below"),
        "{}",
        pty.text()
    );
    let piped = env.run(&["token", "create", "--account", "a", "--name", "piped"]);
    assert_eq!(piped.code, Some(0));
    assert!(
        piped
            .stderr
            .contains("the token is written once, to stdout")
            && !piped.stderr.contains("below"),
        "{}",
        piped.stderr
    );
}
