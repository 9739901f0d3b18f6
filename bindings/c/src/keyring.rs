//! `wga_keyring`: token records shared by many threads, either in memory
//! (`wga_keyring_new`) or followed from a token store (`wga_keyring_open`,
//! in `store.rs`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_char;

use wga_core::{Keyring, OsRng, Timestamp};
use whatsgate_auth_store::SyncedKeyring;

use crate::panic::{ffi_panic_boundary, try_out, try_ref, try_slice};
use crate::record::{
    check_token_buffer, instant, parse_account, parse_id, parse_name, wga_record, wga_record_list,
    write_issued,
};
use crate::status::wga_status;
use crate::store_error::through_store;

/// Token records (token id → record), verified by many threads at once:
/// either in memory (`wga_keyring_new`: the host loads and saves records)
/// or attached to a token store (`wga_keyring_open`: a follower keeps the
/// records current, and the lifecycle calls write to the store).
///
/// Thread safety: every function may be called on the same keyring from any
/// number of threads at once, except `wga_keyring_free`, which must be the
/// last call. Verification never waits for a lock; once `wga_keyring_delete`
/// or `wga_keyring_regenerate` returns, no verification that starts
/// afterwards accepts the old token (unless a grace period was asked for).
#[allow(non_camel_case_types)]
pub struct wga_keyring {
    inner: Inner,
}

/// What a handle holds: one handle type, so that every verify function
/// takes either kind unchanged.
enum Inner {
    /// Records the host loads itself (`wga_keyring_add`, `wga_keyring_sync`).
    /// Boxed: a `Keyring` is about a kilobyte (its collector's per-thread
    /// table), the attached variant a tenth of that.
    Memory(Box<Keyring>),
    /// A keyring a store's follower keeps current; writes go to the store.
    Attached(SyncedKeyring),
}

// Every function but `wga_keyring_free` may be called from many threads at
// once on one handle.
const _: () = {
    const fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<wga_keyring>();
};

impl wga_keyring {
    /// A handle for an in-memory keyring.
    pub(crate) fn in_memory(keyring: Keyring) -> Self {
        Self {
            inner: Inner::Memory(Box::new(keyring)),
        }
    }

    /// The lifetime policy its writes apply: the keyring's own, or, attached,
    /// the store writer's.
    pub(crate) fn policy(&self) -> wga_core::LifetimePolicy {
        match &self.inner {
            Inner::Memory(keyring) => *keyring.policy(),
            Inner::Attached(synced) => synced.policy(),
        }
    }

    /// A handle for a keyring attached to a store.
    pub(crate) fn attached(synced: SyncedKeyring) -> Self {
        Self {
            inner: Inner::Attached(synced),
        }
    }

    /// The keyring to verify with: the host's own, or the follower's.
    #[inline(always)]
    pub(crate) fn keyring(&self) -> &Keyring {
        match &self.inner {
            Inner::Memory(keyring) => keyring,
            Inner::Attached(synced) => synced.keyring(),
        }
    }

    /// The store connection, when the keyring is attached to one.
    pub(crate) fn synced(&self) -> Option<&SyncedKeyring> {
        match &self.inner {
            Inner::Memory(_) => None,
            Inner::Attached(synced) => Some(synced),
        }
    }

    /// The in-memory keyring, or `WGA_KEYRING_ATTACHED` for calls that would
    /// change a followed keyring behind its store's back.
    pub(crate) fn memory(&self) -> Result<&Keyring, wga_status> {
        match &self.inner {
            Inner::Memory(keyring) => Ok(keyring),
            Inner::Attached(_) => Err(wga_status::WGA_KEYRING_ATTACHED),
        }
    }
}

impl Drop for wga_keyring {
    /// An attached keyring writes the last uses it saw to the store (best
    /// effort: a failure's message is left for `wga_last_error_message`),
    /// then its follower stops (its threads are joined).
    fn drop(&mut self) {
        if let Inner::Attached(synced) = &self.inner {
            // The message stays for `wga_last_error_message`.
            let _ = through_store(|| synced.flush_last_used());
        }
    }
}

/// Creates an empty keyring for tokens in the default format (`wgat_`) and
/// writes it to `*keyring_out`. Release it with `wga_keyring_free`.
///
/// Returns `WGA_OK` or `WGA_NULL_PARAMETER`.
///
/// # Safety
/// `keyring_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_new(keyring_out: *mut *mut wga_keyring) -> wga_status {
    ffi_panic_boundary! {
        let keyring_out = try_out!(keyring_out);
        let keyring = Box::into_raw(Box::new(wga_keyring::in_memory(Keyring::new())));
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { keyring_out.write(keyring) };
        wga_status::WGA_OK
    }
}

/// Releases a keyring and its records. NULL does nothing. No other thread may
/// be using the keyring, and it must not be used afterwards.
///
/// An attached keyring (`wga_keyring_open`) first writes the last uses it
/// saw to the store (as `wga_keyring_flush_last_used`; if that fails, its
/// message is left for `wga_last_error_message` and those last uses are
/// lost), then stops its follower and waits for its threads, which can take
/// up to the follower's `poll_ms` (or `timeout_ms` while the store does not
/// answer).
///
/// # Safety
/// `keyring` is NULL or a live keyring from `wga_keyring_new` or
/// `wga_keyring_open`, used by no other call during or after this one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_free(keyring: *mut wga_keyring) {
    ffi_panic_boundary! {
        if !keyring.is_null() {
            // SAFETY: made by `Box::into_raw` in `wga_keyring_new` or
            // `wga_keyring_open`; the caller gives it back once.
            drop(unsafe { Box::from_raw(keyring) });
        }
    }
}

/// How many tokens the keyring holds (0 for NULL).
///
/// # Safety
/// `keyring` is NULL or a live keyring.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_len(keyring: *const wga_keyring) -> usize {
    ffi_panic_boundary! {
        try_ref!(keyring).keyring().len()
    }
}

/// Marks the keyring current (`available` true, the state of a new keyring)
/// or not. For hosts that follow a token store themselves: a follower that
/// cannot confirm, within its bound, that the keyring holds every change
/// clears it, and sets it again once it has caught up. A keyring from
/// `wga_keyring_open` is marked by its own follower: this returns
/// `WGA_KEYRING_ATTACHED` for it.
///
/// While it is cleared, every presented token, good or bad, is refused with
/// `WGA_STORE_UNAVAILABLE` (HTTP 503 with `Retry-After`), by the header
/// functions and by `wga_keyring_verify_token` alike: never accepted, and a
/// good token is never called invalid. A request with no token, or with a
/// header that is malformed whatever the store holds, keeps its usual
/// answer (see `WGA_STORE_UNAVAILABLE`). Adding, syncing, issuing, deleting
/// and listing still work. Takes effect for verifications that start after
/// this returns.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_KEYRING_ATTACHED`.
///
/// # Safety
/// `keyring` is NULL or a live keyring.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_set_available(
    keyring: *const wga_keyring,
    available: bool,
) -> wga_status {
    ffi_panic_boundary! {
        match try_ref!(keyring).memory() {
            Ok(keyring) => {
                keyring.set_available(available);
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Whether the keyring is current (see `wga_keyring_set_available`; for an
/// attached keyring, whether its follower has confirmed it within
/// `stale_after_ms`): true for a new keyring. False for NULL.
///
/// # Safety
/// `keyring` is NULL or a live keyring.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_is_available(keyring: *const wga_keyring) -> bool {
    ffi_panic_boundary! {
        try_ref!(keyring).keyring().is_available()
    }
}

/// Adds a stored record (loading a keyring from a database). `record.id`
/// must be NUL-terminated; `account` and `name` are read as `account_len` /
/// `name_len` bytes. The keyring keeps a copy.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_TOKEN_ID`,
/// `WGA_INVALID_ACCOUNT`, `WGA_INVALID_NAME`, `WGA_DUPLICATE_ID`,
/// `WGA_DUPLICATE_NAME`, or `WGA_KEYRING_ATTACHED` (an attached keyring
/// holds what its store holds: create through it instead).
///
/// # Safety
/// `keyring` is a live keyring; `record` points to a readable `wga_record`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_add(
    keyring: *const wga_keyring,
    record: *const wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let record = try_ref!(record);
        let keyring = match keyring.memory() {
            Ok(keyring) => keyring,
            Err(e) => return e,
        };
        match record.read() {
            Ok(record) => match keyring.add(record) {
                Ok(()) => wga_status::WGA_OK,
                Err(e) => e.into(),
            },
            Err(e) => e,
        }
    }
}

/// Makes the keyring hold exactly `records[0..count]` (by id), as when
/// following a database that other processes change: unchanged tokens stay,
/// changed ones are replaced at once, missing ones are removed. Last use is
/// kept as the later of memory and the record. `records` may be NULL when
/// `count` is 0 (the keyring is then emptied).
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, an invalid-field status for the
/// first bad record, `WGA_DUPLICATE_ID`, `WGA_DUPLICATE_NAME`, or
/// `WGA_KEYRING_ATTACHED` (its follower keeps an attached keyring equal to
/// the store); on any error nothing is changed.
///
/// # Safety
/// `keyring` is a live keyring; `records` points to `count` readable
/// `wga_record`s (or is NULL with `count` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_sync(
    keyring: *const wga_keyring,
    records: *const wga_record,
    count: usize,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = match try_ref!(keyring).memory() {
            Ok(keyring) => keyring,
            Err(e) => return e,
        };
        let records: &[wga_record] = if count == 0 {
            &[]
        } else {
            if records.is_null() {
                return wga_status::WGA_NULL_PARAMETER;
            }
            // SAFETY: non-null; the caller promises `count` readable records.
            unsafe { core::slice::from_raw_parts(records, count) }
        };
        let mut parsed = Vec::with_capacity(records.len());
        for record in records {
            match record.read() {
                Ok(r) => parsed.push(r),
                Err(e) => return e,
            }
        }
        match keyring.sync(parsed) {
            Ok(()) => wga_status::WGA_OK,
            Err(e) => e.into(),
        }
    }
}

/// Creates a new token for an account and adds its record. Writes the token
/// (NUL-terminated) to `token_buf`, its length without the NUL to
/// `*token_len`, and the record to `*record_out`. Show the token once, then
/// wipe the buffer. An in-memory keyring: store the record yourself. An
/// attached keyring (`wga_keyring_open`): the record is written to the
/// store, and this keyring accepts the token once this returns; other hosts
/// following the store accept it within their wake-up latency.
///
/// `now` is the creation time in seconds (0: the system clock). A
/// `token_buf_len` of `WGA_TOKEN_BUFFER_LEN` always fits; when it is too
/// small, returns `WGA_BUFFER_TOO_SMALL`, writes the size needed (with the
/// NUL) to `*token_len`, and creates nothing.
///
/// The token has full access and no description; it expires only when the
/// keyring's lifetime policy has a maximum lifetime (then store its
/// `wga_record_extra` too: `wga_keyring_create_ex` writes it, and takes
/// scopes, an expiry and a description).
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ACCOUNT`,
/// `WGA_INVALID_NAME`, `WGA_BUFFER_TOO_SMALL`, `WGA_DUPLICATE_NAME`,
/// `WGA_RNG_FAILED`, `WGA_DUPLICATE_ID` (only when the generator keeps
/// producing ids already taken, a sign it is broken), or, attached,
/// `WGA_STORE_ERROR` (nothing was created; `wga_last_error_message` says why).
///
/// # Safety
/// `keyring` is a live keyring; `account` and `name` point to
/// `account_len` / `name_len` readable bytes; `token_buf` to `token_buf_len`
/// writable bytes; `token_len` and `record_out` are valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_create(
    keyring: *const wga_keyring,
    account: *const c_char,
    account_len: usize,
    name: *const c_char,
    name_len: usize,
    now: u64,
    token_buf: *mut c_char,
    token_buf_len: usize,
    token_len: *mut usize,
    record_out: *mut wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let account = try_slice!(account, account_len);
        let name = try_slice!(name, name_len);
        let token_buf = try_out!(token_buf);
        let token_len = try_out!(token_len);
        let record_out = try_out!(record_out);
        let account = match parse_account(account) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let name = match parse_name(name) {
            Ok(n) => n,
            Err(e) => return e,
        };
        if let Err(e) = check_token_buffer(token_buf_len, token_len) {
            return e;
        }
        let created = match keyring.synced() {
            Some(synced) => through_store(|| synced.create(account, name, instant(now))),
            None => keyring
                .keyring()
                .create(&mut OsRng, account, name, instant(now))
                .map_err(wga_status::from),
        };
        match created {
            Ok((token, record)) => {
                write_issued(&token, &record, token_buf, token_len, record_out);
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Deprecated: the former name of `wga_keyring_create` (the same function,
/// arguments and statuses), kept so that existing programs still build and
/// link. Every binding and the CLI call this operation "create".
///
/// # Safety
/// As `wga_keyring_create`.
#[deprecated(note = "renamed wga_keyring_create (same arguments)")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_issue(
    keyring: *const wga_keyring,
    account: *const c_char,
    account_len: usize,
    name: *const c_char,
    name_len: usize,
    now: u64,
    token_buf: *mut c_char,
    token_buf_len: usize,
    token_len: *mut usize,
    record_out: *mut wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        // SAFETY: the same contract as `wga_keyring_create`, passed on.
        unsafe {
            wga_keyring_create(
                keyring, account, account_len, name, name_len, now, token_buf, token_buf_len,
                token_len, record_out,
            )
        }
    }
}

/// Deletes a token by its id (16 hexadecimal digits, `id_len` bytes). Once
/// this returns, the token is refused. Attached (`wga_keyring_open`): it is
/// deleted from the store (a row that no longer holds a valid record is
/// deleted all the same), this keyring refuses it once this returns, and
/// every other host following the store within its wake-up latency.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_TOKEN_ID`,
/// `WGA_UNKNOWN_TOKEN`, or, attached, `WGA_STORE_ERROR` (nothing was deleted
/// or it is not known whether it was: retry; `wga_last_error_message` says
/// why).
///
/// # Safety
/// `keyring` is a live keyring; `id` points to `id_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_delete(
    keyring: *const wga_keyring,
    id: *const c_char,
    id_len: usize,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let id = match parse_id(try_slice!(id, id_len)) {
            Ok(id) => id,
            Err(e) => return e,
        };
        let removed = match keyring.synced() {
            Some(synced) => through_store(|| synced.delete(id)).map(drop),
            None => keyring.keyring().delete(id).map(drop).map_err(wga_status::from),
        };
        match removed {
            Ok(()) => wga_status::WGA_OK,
            Err(e) => e,
        }
    }
}

/// Replaces a token's secret, keeping its id, name and account. Writes the
/// new token, its length and the updated record (store it) like
/// `wga_keyring_create`.
///
/// The old token is refused once this returns; or, when `grace_until`
/// (seconds) is later than `now`, it keeps working until that instant
/// (`grace_until` 0, or equal to `now`: no grace period). `now` 0 means the system clock.
/// Attached (`wga_keyring_open`): the store is changed, this keyring holds
/// the change once this returns, and every other host following the store
/// within its wake-up latency.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_TOKEN_ID`,
/// `WGA_BUFFER_TOO_SMALL` (with the size needed in `*token_len`; nothing
/// changed), `WGA_UNKNOWN_TOKEN`, `WGA_POLICY_REFUSED` (a `grace_until`
/// before `now`, or further ahead than the lifetime policy's cap, 30 days
/// by default: nothing changed; `wga_last_error_message` says which),
/// `WGA_RNG_FAILED`, or, attached, `WGA_STORE_ERROR`
/// (`wga_last_error_message` says why).
///
/// # Safety
/// `keyring` is a live keyring; `id` points to `id_len` readable bytes;
/// `token_buf` to `token_buf_len` writable bytes; `token_len` and
/// `record_out` are valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_regenerate(
    keyring: *const wga_keyring,
    id: *const c_char,
    id_len: usize,
    now: u64,
    grace_until: u64,
    token_buf: *mut c_char,
    token_buf_len: usize,
    token_len: *mut usize,
    record_out: *mut wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        // A refusal by the lifetime policy leaves its message here.
        crate::store_error::set_last_error(alloc::string::String::new());
        let keyring = try_ref!(keyring);
        let id = try_slice!(id, id_len);
        let token_buf = try_out!(token_buf);
        let token_len = try_out!(token_len);
        let record_out = try_out!(record_out);
        let id = match parse_id(id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        if let Err(e) = check_token_buffer(token_buf_len, token_len) {
            return e;
        }
        let grace = (grace_until != 0).then_some(Timestamp(grace_until));
        let regenerated = match keyring.synced() {
            Some(synced) => through_store(|| synced.regenerate(id, instant(now), grace)),
            None => keyring
                .keyring()
                .regenerate(&mut OsRng, id, instant(now), grace)
                .map_err(wga_status::from),
        };
        match regenerated {
            Ok((token, record)) => {
                write_issued(&token, &record, token_buf, token_len, record_out);
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Copies one record, with its in-memory last use, to `*record_out`. For an
/// attached keyring this is the host's copy (as of the last change its
/// follower applied), read without asking the store. Its scopes, expiry,
/// disabled flag and description: `wga_keyring_get_extra`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_TOKEN_ID` or
/// `WGA_UNKNOWN_TOKEN`.
///
/// # Safety
/// `keyring` is a live keyring; `id` points to `id_len` readable bytes;
/// `record_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_get(
    keyring: *const wga_keyring,
    id: *const c_char,
    id_len: usize,
    record_out: *mut wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let id = try_slice!(id, id_len);
        let record_out = try_out!(record_out);
        let id = match parse_id(id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        match keyring.keyring().get(id) {
            Some(record) => {
                // SAFETY: checked non-null; the caller promises it is valid
                // for a write.
                unsafe { record_out.write(wga_record::from_record(&record)) };
                wga_status::WGA_OK
            }
            None => wga_status::WGA_UNKNOWN_TOKEN,
        }
    }
}

/// Lists the records of one account, or of all when `account` is NULL, as a
/// snapshot ordered by account, creation time and id. Writes a new list to
/// `*list_out`; release it with `wga_record_list_free`. Attached
/// (`wga_keyring_open`): read from the store, each last use the later of
/// the store's and this host's.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` (an account id that no token has,
/// valid or not, gives an empty list), or, attached, `WGA_STORE_ERROR`
/// (`wga_last_error_message` says why).
///
/// # Safety
/// `keyring` is a live keyring; `account` is NULL or points to `account_len`
/// readable bytes; `list_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_list(
    keyring: *const wga_keyring,
    account: *const c_char,
    account_len: usize,
    list_out: *mut *mut wga_record_list,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let list_out = try_out!(list_out);
        let account = if account.is_null() {
            None
        } else {
            match core::str::from_utf8(try_slice!(account, account_len)) {
                Ok(account) => Some(account),
                // No account id is invalid UTF-8: no token matches.
                Err(_) => {
                    // SAFETY: checked non-null; the caller promises it is
                    // valid for a write.
                    unsafe { list_out.write(wga_record_list::into_raw(Vec::new())) };
                    return wga_status::WGA_OK;
                }
            }
        };
        let records = match keyring.synced() {
            Some(synced) => match through_store(|| synced.list(account)) {
                Ok(mut records) => {
                    // Uses this host saw and has not flushed yet.
                    for record in &mut records {
                        if let Some(seen) = keyring.keyring().get(record.id).and_then(|r| r.last_used_at) {
                            record.last_used_at = Some(record.last_used_at.map_or(seen, |at| at.max(seen)));
                        }
                    }
                    records
                }
                Err(e) => return e,
            },
            None => keyring.keyring().list(account),
        };
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { list_out.write(wga_record_list::into_raw(records)) };
        wga_status::WGA_OK
    }
}

/// Hands over the records whose last use changed since the previous call
/// (each with its new `last_used_at`), for the host to store in one batch.
/// Writes a new list to `*list_out`; release it with `wga_record_list_free`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, or `WGA_KEYRING_ATTACHED` (an
/// attached keyring writes its last uses to its store:
/// `wga_keyring_flush_last_used`).
///
/// # Safety
/// `keyring` is a live keyring; `list_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_take_last_used(
    keyring: *const wga_keyring,
    list_out: *mut *mut wga_record_list,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let list_out = try_out!(list_out);
        let keyring = match keyring.memory() {
            Ok(keyring) => keyring,
            Err(e) => return e,
        };
        let records = keyring
            .take_last_used()
            .into_iter()
            .filter_map(|(id, at)| {
                keyring.get(id).map(|mut record| {
                    record.last_used_at = Some(record.last_used_at.map_or(at, |r| r.max(at)));
                    record
                })
            })
            .collect();
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { list_out.write(wga_record_list::into_raw(records)) };
        wga_status::WGA_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::WGA_TOKEN_BUFFER_LEN;
    use crate::verify::wga_keyring_verify_token;
    use core::mem::MaybeUninit;
    use core::ptr::null_mut;

    /// An explicit instant: Miri has no system clock.
    const NOW: u64 = 1_790_000_000;

    type CreateFn = unsafe extern "C" fn(
        *const wga_keyring,
        *const c_char,
        usize,
        *const c_char,
        usize,
        u64,
        *mut c_char,
        usize,
        *mut usize,
        *mut wga_record,
    ) -> wga_status;

    /// Creates a token named `name` through `f`, returning its status and text.
    fn create_with(f: CreateFn, keyring: *const wga_keyring, name: &str) -> (wga_status, Vec<u8>) {
        let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0;
        let mut record = MaybeUninit::uninit();
        // SAFETY: a live keyring, readable inputs, writable outputs.
        let status = unsafe {
            f(
                keyring,
                c"acct_1".as_ptr(),
                6,
                name.as_ptr().cast(),
                name.len(),
                NOW,
                token.as_mut_ptr(),
                token.len(),
                &mut len,
                record.as_mut_ptr(),
            )
        };
        let text = token[..len].iter().map(|c| *c as u8).collect();
        (status, text)
    }

    /// The deprecated name is the same operation: a token it creates
    /// verifies, and it refuses what `wga_keyring_create` refuses.
    #[test]
    fn issue_is_a_deprecated_alias_of_create() {
        let mut keyring = null_mut();
        // SAFETY: a valid out-pointer.
        assert_eq!(unsafe { wga_keyring_new(&mut keyring) }, wga_status::WGA_OK);
        #[allow(deprecated)]
        let issue: CreateFn = wga_keyring_issue;
        for (f, name) in [
            (wga_keyring_create as CreateFn, "Production API"),
            (issue, "Testing"),
        ] {
            let (status, token) = create_with(f, keyring, name);
            assert_eq!(status, wga_status::WGA_OK);
            // SAFETY: a live keyring and `token.len()` readable bytes.
            let verdict = unsafe {
                wga_keyring_verify_token(keyring, token.as_ptr(), token.len(), NOW, null_mut())
            };
            assert_eq!(verdict, wga_status::WGA_OK);
        }
        for f in [wga_keyring_create as CreateFn, issue] {
            assert_eq!(
                create_with(f, keyring, "Testing").0,
                wga_status::WGA_DUPLICATE_NAME
            );
            assert_eq!(create_with(f, keyring, "").0, wga_status::WGA_INVALID_NAME);
        }
        // SAFETY: a live keyring, released once.
        unsafe { wga_keyring_free(keyring) };
    }
}
