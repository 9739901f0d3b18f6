//! The layer's cost: written next (criterion).
fn main() {}
