//! Work in progress: not built out yet.
