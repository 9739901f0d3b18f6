//! The atomics of the slot protocol: loom's when model-checking
//! (`--cfg loom`, see `slot.rs`'s tests), the core's otherwise.

#[cfg(all(loom, test))]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence},
};

#[cfg(not(all(loom, test)))]
pub(crate) use core::{
    hint::spin_loop,
    sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence},
};
