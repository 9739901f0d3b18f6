//! `wgauth`: WhatsGate API tokens on an embedded SQLite store, and a
//! reference server. See the crate's README.md.

fn main() -> std::process::ExitCode {
    whatsgate_auth_cli::main()
}
