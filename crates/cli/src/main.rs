//! `wgauth`: WhatsGate API tokens on a token store (SQLite or PostgreSQL), and a
//! reference server. See the crate's README.md.

fn main() -> std::process::ExitCode {
    whatsgate_auth_cli::main()
}
