//! Gives the shared library its SONAME, `libwhatsgate_auth.so.<major>`, so
//! that programs record that name (not the unversioned development symlink)
//! and keep running against any later library of the same major version.
//! `scripts/install-c` installs the file under its full version with the
//! usual symlinks.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // ELF platforms only: macOS uses an install name, Windows a DLL name.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux"
            | "android"
            | "freebsd"
            | "netbsd"
            | "openbsd"
            | "dragonfly"
            | "solaris"
            | "illumos"
    );
    if elf {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwhatsgate_auth.so.{major}");
    }
}
