//! What a store failure tells a C host: its status, and its message,
//! kept per thread for `wga_last_error_message`. Messages never hold a
//! password or a token.

use alloc::string::String;
use core::cell::RefCell;
use core::ffi::c_char;

use whatsgate_auth_store::StoreError;

use crate::panic::{ffi_panic_boundary, try_out};
use crate::status::{wga_status, write_text};

/// Size of a buffer that holds any message of `wga_last_error_message` and
/// `wga_keyring_follow_error` with its NUL (longer messages are cut to fit).
pub const WGA_ERROR_MESSAGE_BUFFER_LEN: usize = 1024;

std::thread_local! {
    /// The message of the last store failure returned on this thread.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `message` cut, on a character boundary, to fit
/// `WGA_ERROR_MESSAGE_BUFFER_LEN` with its NUL.
pub(crate) fn fitted(mut message: String) -> String {
    let mut end = message.len().min(WGA_ERROR_MESSAGE_BUFFER_LEN - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message
}

pub(crate) fn set_last_error(message: String) {
    let message = fitted(message);
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// A store error's message for C hosts. The store's messages never hold a
/// password; the one for a missing store names this binding's option
/// rather than the command-line tool's.
fn message(e: &StoreError) -> String {
    match e {
        StoreError::Missing(path) => format!(
            "no token store at {}: set create_if_missing in struct wga_follow_options to create \
             one, or give the URL of an existing store",
            path.display()
        ),
        _ => e.to_string(),
    }
}

/// Runs a call that reaches the store: the thread's message becomes its
/// failure's, or empty on success, and a failure becomes its status.
pub(crate) fn through_store<T>(
    call: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, wga_status> {
    set_last_error(String::new());
    call().map_err(|e| store_status(&e))
}

/// The status for a store error; its message is kept for
/// `wga_last_error_message`.
pub(crate) fn store_status(e: &StoreError) -> wga_status {
    set_last_error(message(e));
    match e {
        StoreError::Url(_) | StoreError::BadConnectionString(..) => {
            wga_status::WGA_INVALID_STORE_URL
        }
        StoreError::UnknownToken(_) | StoreError::UnknownName(..) => wga_status::WGA_UNKNOWN_TOKEN,
        StoreError::DuplicateName(..) => wga_status::WGA_DUPLICATE_NAME,
        StoreError::Rng => wga_status::WGA_RNG_FAILED,
        StoreError::Policy(_) => wga_status::WGA_POLICY_REFUSED,
        _ => wga_status::WGA_STORE_ERROR,
    }
}

/// Copies the message of the last call on this thread that reached a
/// store to `buf`, NUL-terminated, and its length without the NUL to
/// `*len_out`: why it failed (`WGA_STORE_ERROR`, `WGA_INVALID_STORE_URL`,
/// an option refused with `WGA_INVALID_ARGUMENT`, and also the store's own
/// refusals such as `WGA_DUPLICATE_NAME`), or an empty string when it
/// succeeded. The calls that reach a store, and so replace the message,
/// are `wga_keyring_open`, `wga_keyring_flush_last_used`, and on an
/// attached keyring `wga_keyring_create`, `wga_keyring_delete`,
/// `wga_keyring_list` and `wga_keyring_free`. On any keyring,
/// `wga_keyring_regenerate`, `wga_keyring_create_ex`, `wga_keyring_update`,
/// `wga_keyring_revoke_all`, `wga_keyring_prune`, `wga_keyring_add_ex` and
/// `wga_keyring_sync_ex` replace it too: a `WGA_POLICY_REFUSED` says which
/// limit of the lifetime policy, a `WGA_INVALID_SCOPE` or
/// `WGA_TOO_MANY_SCOPES` which name or how many. No other call touches it. It names the store by its URL with any
/// password redacted, and never holds a token.
///
/// A `buf_len` of `WGA_ERROR_MESSAGE_BUFFER_LEN` always fits; when it is too
/// small, returns `WGA_BUFFER_TOO_SMALL` and writes the size needed (with
/// the NUL) to `*len_out`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `buf` points to `buf_len` writable bytes; `len_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_last_error_message(
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> wga_status {
    ffi_panic_boundary! {
        let buf = try_out!(buf);
        let len_out = try_out!(len_out);
        LAST_ERROR.with(|last| {
            // SAFETY: both checked non-null; writable (contract); the
            // message is Rust memory.
            unsafe { write_text(last.borrow().as_bytes(), buf, buf_len, len_out) }
        })
    }
}
