//! The atomics of the slot protocol: loom's when model-checking
//! (`--cfg loom`, see `slot.rs`'s tests), the core's otherwise.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};
