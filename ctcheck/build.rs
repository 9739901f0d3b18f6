//! Compiles the valgrind client-request shim (`src/shim.c`).

fn main() {
    println!("cargo::rerun-if-changed=src/shim.c");
    cc::Build::new()
        .file("src/shim.c")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("wgct_shim");
}
