//! A keyring attached to a token store: `wga_keyring_open`, its options and
//! counters, last use, and the messages of store errors.
//!
//! The handle is the same `wga_keyring` as an in-memory one (see
//! `keyring.rs`), so every verify function takes it unchanged; the store
//! crate's `SyncedKeyring` does the following and the writes.

use alloc::boxed::Box;
use alloc::string::String;
use core::ffi::c_char;
use core::time::Duration;

use whatsgate_auth_store::{FollowOptions, OpenMode, SyncedKeyring};

use crate::keyring::wga_keyring;
use crate::panic::{ffi_panic_boundary, try_out, try_ref, try_slice};
use crate::store_error::{fitted, set_last_error, through_store};

use crate::status::{wga_status, write_text};

/// The longest `stale_after_ms`, `poll_ms` or `timeout_ms` accepted: a day.
pub const WGA_FOLLOW_MAX_MS: u64 = 86_400_000;

/// How `wga_keyring_open` opens and follows a store. Every field 0 (or
/// `false`) picks its default, so `struct wga_follow_options o = {0};`, or
/// passing NULL, gives the defaults; set only the fields you need, e.g.
/// `{.create_if_missing = true}`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct wga_follow_options {
    /// The longest the keyring may go without confirming that it holds every
    /// change of the store; past it every presented token gets
    /// `WGA_STORE_UNAVAILABLE` (HTTP 503) until the follower is current
    /// again, which it becomes by itself. 0: 5000 ms.
    pub stale_after_ms: u64,
    /// The longest the follower waits for a wake-up (PostgreSQL `NOTIFY`,
    /// SQLite's change counter) before it asks the store anyway. Must be
    /// shorter than `stale_after_ms`. 0: 1000 ms, or a quarter of
    /// `stale_after_ms` when that is shorter.
    pub poll_ms: u64,
    /// Connect, lock and statement timeout of the store's connections.
    /// 0: 2000 ms.
    pub timeout_ms: u64,
    /// Create an empty store (a new SQLite file, or the tables in a
    /// PostgreSQL database) when there is none; otherwise a missing store is
    /// `WGA_STORE_ERROR`.
    pub create_if_missing: bool,
}

impl wga_follow_options {
    /// The store crate's options, defaults filled in, or why they are refused.
    fn to_store(self) -> Result<(OpenMode, FollowOptions), String> {
        let defaults = FollowOptions::default();
        let ms = |value: u64, default: Duration| {
            if value == 0 {
                Ok(default)
            } else if value > WGA_FOLLOW_MAX_MS {
                Err(())
            } else {
                Ok(Duration::from_millis(value))
            }
        };
        let too_long = |field: &str| {
            format!(
                "{field} is over {WGA_FOLLOW_MAX_MS} ms (a day); give a shorter time, or 0 for the default"
            )
        };
        let bound =
            ms(self.stale_after_ms, defaults.bound).map_err(|()| too_long("stale_after_ms"))?;
        let poll_default = defaults.poll.min(bound / 4).max(Duration::from_millis(1));
        let poll = ms(self.poll_ms, poll_default).map_err(|()| too_long("poll_ms"))?;
        let timeout = ms(self.timeout_ms, defaults.timeout).map_err(|()| too_long("timeout_ms"))?;
        if poll >= bound {
            return Err(format!(
                "poll_ms ({} ms) must be shorter than stale_after_ms ({} ms), or the keyring \
                 would answer 503 between two polls; give a shorter poll_ms, or 0 for the default",
                poll.as_millis(),
                bound.as_millis()
            ));
        }
        let mode = if self.create_if_missing {
            OpenMode::CreateIfMissing
        } else {
            OpenMode::Existing
        };
        Ok((
            mode,
            FollowOptions {
                bound,
                poll,
                timeout,
            },
        ))
    }

    /// Reads the caller's struct field by field: `create_if_missing` as a
    /// byte, so that a C `bool` holding something other than 0 or 1 (a
    /// struct not zeroed first) counts as true rather than being undefined
    /// behaviour in Rust.
    ///
    /// # Safety
    /// `ptr` is non-null and points to a readable `wga_follow_options`.
    unsafe fn read(ptr: *const Self) -> Self {
        // SAFETY: readable (contract); each field is read at its own place
        // and type, the `bool` as the byte it is stored in.
        unsafe {
            Self {
                stale_after_ms: (&raw const (*ptr).stale_after_ms).read(),
                poll_ms: (&raw const (*ptr).poll_ms).read(),
                timeout_ms: (&raw const (*ptr).timeout_ms).read(),
                create_if_missing: (&raw const (*ptr).create_if_missing).cast::<u8>().read() != 0,
            }
        }
    }
}

/// What a keyring's follower has done, for metrics and health checks
/// (`wga_keyring_follow_stats`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct wga_follow_stats {
    /// The sequence number of the last change applied (the store's change
    /// log counts every create, delete and regenerate from 1).
    pub seq: u64,
    /// Changes applied since the keyring was opened.
    pub applied: u64,
    /// Rows refused because they are not valid token records (each refusal
    /// counted; those tokens are refused, every other one is unaffected).
    pub bad_rows: u64,
    /// Full catch-ups (new snapshots), the first load included: more than
    /// one means the follower reconnected or found a gap in the log.
    pub resyncs: u64,
    /// Whether the keyring is current (answers tokens) right now.
    pub current: bool,
}

/// Opens the token store at `url` (`url_len` bytes, no NUL needed) and
/// writes a keyring attached to it to `*keyring_out`: a follower (two
/// threads) loads the store's records and keeps the keyring current, and
/// marks it unavailable (every token answered `WGA_STORE_UNAVAILABLE`, HTTP
/// 503) while it cannot confirm that within `stale_after_ms`. Release it
/// with `wga_keyring_free`.
///
/// The URL picks the backend: a file path or `sqlite:PATH` (SQLite,
/// embedded), or `postgresql://user:password@host:port/database?…`
/// (PostgreSQL, for many hosts). `options` NULL means the defaults (see
/// `wga_follow_options`).
///
/// The keyring works with every verify function. `wga_keyring_create`,
/// `wga_keyring_delete` and `wga_keyring_regenerate` write to the store,
/// and this keyring holds the change once they return (other hosts within
/// their wake-up latency); `wga_keyring_list` reads the store. Records and
/// availability are the follower's: `wga_keyring_add`, `wga_keyring_sync`,
/// `wga_keyring_set_available` and `wga_keyring_take_last_used` return
/// `WGA_KEYRING_ATTACHED`. Last use is written to the store by
/// `wga_keyring_flush_last_used` (call it every few seconds) and by
/// `wga_keyring_free`.
///
/// Open it in the process that uses it: a child made by `fork()` inherits
/// no threads, so a keyring opened before the fork is not followed there
/// (and not marked unavailable either). A pre-forking server opens one
/// keyring in each worker, after forking.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ARGUMENT` (an option
/// out of range), `WGA_INVALID_STORE_URL` (a URL that names no backend, or
/// is not UTF-8) or `WGA_STORE_ERROR` (the store cannot be opened or read);
/// on every error but the first, `wga_last_error_message` says why.
///
/// # Safety
/// `url` points to `url_len` readable bytes; `options` is NULL or points to
/// a readable `wga_follow_options`; `keyring_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_open(
    url: *const c_char,
    url_len: usize,
    options: *const wga_follow_options,
    keyring_out: *mut *mut wga_keyring,
) -> wga_status {
    ffi_panic_boundary! {
        let url = try_slice!(url, url_len);
        let keyring_out = try_out!(keyring_out);
        set_last_error(String::new());
        let options = if options.is_null() {
            wga_follow_options::default()
        } else {
            // SAFETY: non-null; readable (contract).
            unsafe { wga_follow_options::read(options) }
        };
        let (mode, follow) = match options.to_store() {
            Ok(options) => options,
            Err(why) => {
                set_last_error(why);
                return wga_status::WGA_INVALID_ARGUMENT;
            }
        };
        let Ok(url) = core::str::from_utf8(url) else {
            set_last_error("the token store URL is not UTF-8: give a file path, sqlite:PATH, or postgresql://…".into());
            return wga_status::WGA_INVALID_STORE_URL;
        };
        match through_store(|| SyncedKeyring::open(url, mode, follow)) {
            Ok(synced) => {
                let keyring = Box::into_raw(Box::new(wga_keyring::attached(synced)));
                // SAFETY: checked non-null; valid for a write (contract).
                unsafe { keyring_out.write(keyring) };
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Sets who the store's audit entries name for this keyring's later writes
/// (create, update, delete, regenerate, revoke-all, prune): a service name,
/// say, or `user:<id>` of the person acting. The default is `local`. Never
/// put a secret in it. `actor` is UTF-8, not NUL-terminated; the store keeps
/// its first 128 characters and replaces control characters, as it does for
/// every binding.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ARGUMENT` (not
/// UTF-8) or `WGA_KEYRING_NOT_ATTACHED`.
///
/// # Safety
/// `keyring` is a live keyring; `actor` points to `actor_len` readable
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_set_actor(
    keyring: *const wga_keyring,
    actor: *const c_char,
    actor_len: usize,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let actor = try_slice!(actor, actor_len);
        let synced = match synced(keyring) {
            Ok(synced) => synced,
            Err(e) => return e,
        };
        let Ok(actor) = core::str::from_utf8(actor) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        synced.set_actor(actor);
        wga_status::WGA_OK
    }
}

/// The attached keyring's store, or `WGA_KEYRING_NOT_ATTACHED`.
fn synced(keyring: &wga_keyring) -> Result<&SyncedKeyring, wga_status> {
    keyring.synced().ok_or(wga_status::WGA_KEYRING_NOT_ATTACHED)
}

/// Writes the attached keyring's follower counters and state to `*out`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_KEYRING_NOT_ATTACHED`.
///
/// # Safety
/// `keyring` is a live keyring; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_follow_stats(
    keyring: *const wga_keyring,
    out: *mut wga_follow_stats,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let out = try_out!(out);
        let stats = match synced(keyring) {
            Ok(synced) => synced.stats(),
            Err(e) => return e,
        };
        let stats = wga_follow_stats {
            seq: stats.seq,
            applied: stats.applied,
            bad_rows: stats.bad_rows,
            resyncs: stats.resyncs,
            current: stats.current,
        };
        // SAFETY: checked non-null; valid for a write (contract).
        unsafe { out.write(stats) };
        wga_status::WGA_OK
    }
}

/// Copies the last error the attached keyring's follower met while
/// following its store (a lost connection, say; never a password) to
/// `buf`, NUL-terminated, and its length without the NUL to `*len_out`; an
/// empty string when it has met none. It stays after the follower recovers:
/// `current` in `wga_follow_stats` says whether it is current now. The
/// library logs nothing itself: this is how a host learns why its keyring
/// answers 503. Buffers as for `wga_last_error_message`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_BUFFER_TOO_SMALL` or
/// `WGA_KEYRING_NOT_ATTACHED`.
///
/// # Safety
/// `keyring` is a live keyring; `buf` points to `buf_len` writable bytes;
/// `len_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_follow_error(
    keyring: *const wga_keyring,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let buf = try_out!(buf);
        let len_out = try_out!(len_out);
        let last = match synced(keyring) {
            Ok(synced) => fitted(synced.stats().last_error.unwrap_or_default()),
            Err(e) => return e,
        };
        // SAFETY: both checked non-null; writable (contract); `last` is
        // Rust memory.
        unsafe { write_text(last.as_bytes(), buf, buf_len, len_out) }
    }
}

/// Writes the last uses this host saw since the previous flush to the
/// attached keyring's store, in one transaction (a last use is never moved
/// back; it wakes no follower). Call it every few seconds from one thread;
/// `wga_keyring_free` calls it once more.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_KEYRING_NOT_ATTACHED` or
/// `WGA_STORE_ERROR` (the last uses are kept for the next call;
/// `wga_last_error_message` says why).
///
/// # Safety
/// `keyring` is a live keyring.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_flush_last_used(keyring: *const wga_keyring) -> wga_status {
    ffi_panic_boundary! {
        match synced(try_ref!(keyring)).and_then(|s| through_store(|| s.flush_last_used())) {
            Ok(()) => wga_status::WGA_OK,
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::*;
    use crate::record::*;
    use crate::store_error::*;
    use crate::verify::*;
    use alloc::vec::Vec;
    use core::mem::MaybeUninit;
    use core::ptr::{null, null_mut};
    use wga_core::{AccountId, TokenId, TokenName};
    use wga_status::*;
    use whatsgate_auth_store::StoreError;

    fn last_error() -> String {
        let mut buf = [0 as c_char; WGA_ERROR_MESSAGE_BUFFER_LEN];
        let mut len = 0;
        // SAFETY: a writable buffer of its length and a writable length.
        let status = unsafe { wga_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(status, WGA_OK);
        assert_eq!(buf[len], 0);
        String::from_utf8(buf[..len].iter().map(|c| *c as u8).collect()).unwrap()
    }

    fn open(
        url: &str,
        options: Option<&wga_follow_options>,
    ) -> Result<*mut wga_keyring, wga_status> {
        let mut keyring = null_mut();
        let options = options.map_or(null(), |o| o as *const _);
        // SAFETY: `url.len()` readable bytes, NULL or readable options, a
        // writable out-pointer.
        match unsafe { wga_keyring_open(url.as_ptr().cast(), url.len(), options, &mut keyring) } {
            WGA_OK => Ok(keyring),
            status => {
                assert!(keyring.is_null(), "written on failure");
                Err(status)
            }
        }
    }

    #[test]
    fn options_fill_defaults_and_refuse_what_would_always_fail() {
        let (mode, follow) = wga_follow_options::default().to_store().unwrap();
        assert_eq!(mode, OpenMode::Existing);
        assert_eq!(follow, FollowOptions::default());

        let given = wga_follow_options {
            stale_after_ms: 800,
            poll_ms: 0,
            timeout_ms: 300,
            create_if_missing: true,
        };
        let (mode, follow) = given.to_store().unwrap();
        assert_eq!(mode, OpenMode::CreateIfMissing);
        assert_eq!(follow.bound, Duration::from_millis(800));
        // The default poll shrinks to stay well inside a short bound.
        assert_eq!(follow.poll, Duration::from_millis(200));
        assert_eq!(follow.timeout, Duration::from_millis(300));

        let poll_too_long = wga_follow_options {
            stale_after_ms: 500,
            poll_ms: 500,
            ..Default::default()
        };
        assert!(
            poll_too_long
                .to_store()
                .unwrap_err()
                .contains("poll_ms (500 ms)")
        );
        let too_long = wga_follow_options {
            timeout_ms: WGA_FOLLOW_MAX_MS + 1,
            ..Default::default()
        };
        assert!(too_long.to_store().unwrap_err().starts_with("timeout_ms"));
        let tiny = wga_follow_options {
            stale_after_ms: 1,
            ..Default::default()
        };
        assert!(tiny.to_store().is_err(), "no poll fits under 1 ms");
        let shortest = wga_follow_options {
            stale_after_ms: 2,
            ..Default::default()
        };
        assert_eq!(
            shortest.to_store().unwrap().1.poll,
            Duration::from_millis(1)
        );
    }

    /// A C `bool` that is neither 0 nor 1 reads as true, not as undefined
    /// behaviour.
    #[test]
    fn options_are_read_field_by_field() {
        let mut raw = MaybeUninit::<wga_follow_options>::zeroed();
        // SAFETY: the struct's own memory; 2 written as the bool's byte.
        let read = unsafe {
            let ptr = raw.as_mut_ptr();
            (&raw mut (*ptr).poll_ms).write(7);
            (&raw mut (*ptr).create_if_missing).cast::<u8>().write(2);
            wga_follow_options::read(ptr)
        };
        assert_eq!(read.poll_ms, 7);
        assert!(read.create_if_missing);
    }

    #[test]
    fn store_errors_map_to_their_statuses_with_a_message() {
        use whatsgate_auth_store::StoreUrl;
        let id = TokenId::from_bytes([1; 8]);
        let account = AccountId::new("acct").unwrap();
        let name = TokenName::new("Testing").unwrap();
        let cases = [
            (
                StoreError::from(StoreUrl::parse("mysql://db").unwrap_err()),
                WGA_INVALID_STORE_URL,
                "mysql://",
            ),
            (
                StoreError::BadConnectionString(
                    "postgresql://u:***@h/db".into(),
                    "option x".into(),
                ),
                WGA_INVALID_STORE_URL,
                "option x",
            ),
            (
                StoreError::Missing("/nowhere/t.db".into()),
                WGA_STORE_ERROR,
                "create_if_missing",
            ),
            (StoreError::Locked("t.db".into()), WGA_STORE_ERROR, "locked"),
            (
                StoreError::Unreachable("postgresql://u:***@h/db".into(), "refused".into()),
                WGA_STORE_ERROR,
                "***",
            ),
            (
                StoreError::UnknownToken(id),
                WGA_UNKNOWN_TOKEN,
                "0101010101010101",
            ),
            (
                StoreError::DuplicateName(account, name),
                WGA_DUPLICATE_NAME,
                "Testing",
            ),
            (StoreError::Rng, WGA_RNG_FAILED, "random"),
        ];
        for (error, status, said) in cases {
            assert_eq!(store_status(&error), status, "{error}");
            let message = last_error();
            assert!(message.contains(said), "{message:?} should say {said:?}");
        }
    }

    #[test]
    fn messages_fit_the_documented_buffer_and_short_buffers_get_the_size() {
        set_last_error("é".repeat(WGA_ERROR_MESSAGE_BUFFER_LEN));
        let message = last_error();
        assert!(message.len() < WGA_ERROR_MESSAGE_BUFFER_LEN);
        assert!(message.len() >= WGA_ERROR_MESSAGE_BUFFER_LEN - 2);
        assert!(
            message.chars().all(|c| c == 'é'),
            "cut on a character boundary"
        );

        set_last_error("short".into());
        let mut buf = [0x55 as c_char; 5];
        let mut len = 0;
        // SAFETY: a writable buffer of its length and a writable length.
        unsafe {
            assert_eq!(
                wga_last_error_message(buf.as_mut_ptr(), 5, &mut len),
                WGA_BUFFER_TOO_SMALL
            );
            assert_eq!(len, 6);
            assert!(buf.iter().all(|c| *c == 0x55), "nothing written");
            assert_eq!(
                wga_last_error_message(null_mut(), 5, &mut len),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_last_error_message(buf.as_mut_ptr(), 5, null_mut()),
                WGA_NULL_PARAMETER
            );
        }
        // Per thread: another thread has its own (empty) message.
        assert_eq!(std::thread::spawn(last_error).join().unwrap(), "");
    }

    #[test]
    fn open_checks_its_arguments_before_touching_a_store() {
        let mut keyring = null_mut();
        let bad = wga_follow_options {
            stale_after_ms: 10,
            poll_ms: 10,
            ..Default::default()
        };
        // SAFETY: valid or NULL pointers, as each case says.
        unsafe {
            assert_eq!(
                wga_keyring_open(null(), 0, null(), &mut keyring),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_open(c"x".as_ptr(), 1, null(), null_mut()),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_open(c"x".as_ptr(), 1, &bad, &mut keyring),
                WGA_INVALID_ARGUMENT
            );
        }
        assert!(last_error().contains("poll_ms"));
        let not_utf8 = b"sqlite:\xff";
        // SAFETY: valid pointers and length.
        let status = unsafe {
            wga_keyring_open(
                not_utf8.as_ptr().cast(),
                not_utf8.len(),
                null(),
                &mut keyring,
            )
        };
        assert_eq!(status, WGA_INVALID_STORE_URL);
        assert!(last_error().contains("not UTF-8"));
        assert_eq!(
            open("mysql://db.example/tokens", None),
            Err(WGA_INVALID_STORE_URL)
        );
        assert!(last_error().contains("mysql://"));
        assert_eq!(open("", None), Err(WGA_INVALID_STORE_URL));
        assert!(keyring.is_null());
    }

    #[test]
    fn store_calls_on_an_in_memory_keyring_are_refused() {
        let mut keyring = null_mut();
        let mut stats = MaybeUninit::<wga_follow_stats>::uninit();
        let mut buf = [0 as c_char; 8];
        let mut len = 0;
        // SAFETY: a live keyring (freed at the end) and valid out-pointers.
        unsafe {
            assert_eq!(wga_keyring_new(&mut keyring), WGA_OK);
            assert_eq!(
                wga_keyring_flush_last_used(keyring),
                WGA_KEYRING_NOT_ATTACHED
            );
            assert_eq!(
                wga_keyring_follow_stats(keyring, stats.as_mut_ptr()),
                WGA_KEYRING_NOT_ATTACHED
            );
            assert_eq!(
                wga_keyring_follow_error(keyring, buf.as_mut_ptr(), buf.len(), &mut len),
                WGA_KEYRING_NOT_ATTACHED
            );
            assert_eq!(
                wga_keyring_set_actor(keyring, c"svc".as_ptr(), 3),
                WGA_KEYRING_NOT_ATTACHED
            );
            assert_eq!(wga_keyring_flush_last_used(null()), WGA_NULL_PARAMETER);
            assert_eq!(
                wga_keyring_follow_stats(null(), stats.as_mut_ptr()),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_follow_stats(keyring, null_mut()),
                WGA_NULL_PARAMETER
            );
            wga_keyring_free(keyring);
        }
    }

    /// A temporary directory, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "wga-c-store-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn url(&self) -> String {
            format!("sqlite:{}", self.0.join("tokens.db").display())
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "opens SQLite files: FFI and the file system")]
    fn a_missing_store_is_a_store_error_unless_created() {
        let dir = TempDir::new();
        assert_eq!(open(&dir.url(), None), Err(WGA_STORE_ERROR));
        let message = last_error();
        assert!(
            message.contains("tokens.db") && message.contains("create_if_missing"),
            "{message}"
        );
        std::fs::write(dir.0.join("tokens.db"), b"not a database, just bytes").unwrap();
        assert_eq!(open(&dir.url(), None), Err(WGA_STORE_ERROR));
        assert!(!last_error().is_empty());
    }

    struct Created {
        token: Vec<u8>,
        record: wga_record,
    }

    fn create(keyring: *const wga_keyring, name: &str) -> Result<Created, wga_status> {
        let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0;
        let mut record = MaybeUninit::uninit();
        // SAFETY: a live keyring, readable inputs, writable outputs.
        let status = unsafe {
            wga_keyring_create(
                keyring,
                c"acct_1".as_ptr(),
                6,
                name.as_ptr().cast(),
                name.len(),
                0,
                token.as_mut_ptr(),
                token.len(),
                &mut len,
                record.as_mut_ptr(),
            )
        };
        if status != WGA_OK {
            return Err(status);
        }
        Ok(Created {
            token: token[..len].iter().map(|c| *c as u8).collect(),
            // SAFETY: written on WGA_OK.
            record: unsafe { record.assume_init() },
        })
    }

    fn verify(keyring: *const wga_keyring, token: &[u8]) -> wga_status {
        // SAFETY: a live keyring and `token.len()` readable bytes.
        unsafe { wga_keyring_verify_token(keyring, token.as_ptr(), token.len(), 0, null_mut()) }
    }

    fn stats(keyring: *const wga_keyring) -> wga_follow_stats {
        let mut out = MaybeUninit::uninit();
        // SAFETY: a live keyring and a writable struct.
        let status = unsafe { wga_keyring_follow_stats(keyring, out.as_mut_ptr()) };
        assert_eq!(status, WGA_OK);
        // SAFETY: written on WGA_OK.
        unsafe { out.assume_init() }
    }

    /// Waits, a bounded time, until `keyring` answers `token` with `want`.
    fn eventually(keyring: *const wga_keyring, token: &[u8], want: wga_status) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while verify(keyring, token) != want {
            assert!(
                std::time::Instant::now() < deadline,
                "never answered {want:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The audit trail names the actor the keyring was given (`local` before
    /// that); an actor that is not UTF-8, or a NULL one, is refused and
    /// changes nothing.
    #[test]
    #[cfg_attr(miri, ignore = "opens SQLite files: FFI, threads and the file system")]
    fn writes_are_audited_as_the_actor_set() {
        let dir = TempDir::new();
        let options = wga_follow_options {
            create_if_missing: true,
            ..Default::default()
        };
        let keyring = open(&dir.url(), Some(&options)).unwrap();
        let set = |actor: &[u8]| {
            // SAFETY: a live keyring and `actor.len()` readable bytes.
            unsafe { wga_keyring_set_actor(keyring, actor.as_ptr().cast(), actor.len()) }
        };
        create(keyring, "before").unwrap();
        assert_eq!(set(b"billing-service"), WGA_OK);
        create(keyring, "after").unwrap();
        assert_eq!(set(b"bad \xff actor"), WGA_INVALID_ARGUMENT);
        // SAFETY: NULL pointers, which the function refuses.
        unsafe {
            assert_eq!(
                wga_keyring_set_actor(keyring, null(), 0),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_set_actor(null(), c"svc".as_ptr(), 3),
                WGA_NULL_PARAMETER
            );
        }
        create(keyring, "still").unwrap();
        // SAFETY: live, freed once.
        unsafe { wga_keyring_free(keyring) };

        let mut store = whatsgate_auth_store::Store::open(&dir.url(), OpenMode::Existing).unwrap();
        let mut trail = store.audit(None, 10).unwrap();
        trail.sort_by_key(|entry| entry.seq);
        let creators: Vec<&str> = trail
            .iter()
            .filter(|entry| entry.action == "token.create")
            .map(|entry| entry.actor.as_str())
            .collect();
        assert_eq!(creators, ["local", "billing-service", "billing-service"]);
    }

    /// Two handles on one SQLite store: writes through one are refused or
    /// accepted by it at once, and by the other once its follower applies
    /// them; the calls that would bypass the store are refused.
    #[test]
    #[cfg_attr(miri, ignore = "opens SQLite files: FFI, threads and the file system")]
    fn two_attached_keyrings_follow_one_store() {
        let dir = TempDir::new();
        let options = wga_follow_options {
            poll_ms: 20,
            create_if_missing: true,
            ..Default::default()
        };
        let writer = open(&dir.url(), Some(&options)).unwrap();
        let reader = open(
            &dir.url(),
            Some(&wga_follow_options {
                create_if_missing: false,
                ..options
            }),
        )
        .unwrap();
        assert_eq!(
            stats(reader),
            wga_follow_stats {
                resyncs: 1,
                current: true,
                ..Default::default()
            }
        );

        let created = create(writer, "Production API").unwrap();
        eventually(reader, &created.token, WGA_OK);
        assert_eq!(
            create(reader, "Production API").err(),
            Some(WGA_DUPLICATE_NAME)
        );
        assert!(last_error().contains("Production API"));

        // SAFETY: live keyrings, valid ids and out-pointers.
        unsafe {
            let mut list = null_mut();
            assert_eq!(wga_keyring_list(reader, null(), 0, &mut list), WGA_OK);
            assert_eq!(last_error(), "", "a call that reached the store clears it");
            assert_eq!(wga_record_list_len(list), 1);
            wga_record_list_free(list);

            // Last use: seen by the reader, flushed, listed by the writer
            // (which has not verified the token itself yet).
            assert_eq!(wga_keyring_flush_last_used(reader), WGA_OK);
            assert_eq!(
                wga_keyring_list(writer, c"acct_1".as_ptr(), 6, &mut list),
                WGA_OK
            );
            let mut record = MaybeUninit::uninit();
            assert_eq!(wga_record_list_get(list, 0, record.as_mut_ptr()), WGA_OK);
            assert!(record.assume_init().has_last_used_at);
            wga_record_list_free(list);
            assert_eq!(verify(writer, &created.token), WGA_OK);

            let id = created.record.id.as_ptr();
            assert_eq!(wga_keyring_delete(writer, id, 16), WGA_OK);
            // Refused by the writer at once, by the other once applied.
            assert_eq!(verify(writer, &created.token), WGA_INVALID_TOKEN);
            eventually(reader, &created.token, WGA_INVALID_TOKEN);
            assert_eq!(wga_keyring_delete(reader, id, 16), WGA_UNKNOWN_TOKEN);

            assert_eq!(
                wga_keyring_add(reader, &created.record),
                WGA_KEYRING_ATTACHED
            );
            assert_eq!(wga_keyring_sync(reader, null(), 0), WGA_KEYRING_ATTACHED);
            assert_eq!(
                wga_keyring_set_available(reader, false),
                WGA_KEYRING_ATTACHED
            );
            assert_eq!(
                wga_keyring_take_last_used(reader, &mut list),
                WGA_KEYRING_ATTACHED
            );
            assert!(wga_keyring_is_available(reader));
            assert_eq!(wga_keyring_len(reader), 0);
        }

        // Regenerate: the old secret refused here at once, the new one
        // accepted everywhere.
        let second = create(reader, "Testing").unwrap();
        let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0;
        let mut record = MaybeUninit::uninit();
        // SAFETY: a live keyring, a valid id, writable outputs.
        let status = unsafe {
            wga_keyring_regenerate(
                reader,
                second.record.id.as_ptr(),
                16,
                0,
                0,
                token.as_mut_ptr(),
                token.len(),
                &mut len,
                record.as_mut_ptr(),
            )
        };
        assert_eq!(status, WGA_OK);
        let fresh: Vec<u8> = token[..len].iter().map(|c| *c as u8).collect();
        assert_eq!(verify(reader, &second.token), WGA_INVALID_TOKEN);
        assert_eq!(verify(reader, &fresh), WGA_OK);
        eventually(writer, &fresh, WGA_OK);
        assert_eq!(verify(writer, &second.token), WGA_INVALID_TOKEN);

        let seen = stats(writer);
        assert_eq!((seen.seq, seen.bad_rows, seen.current), (4, 0, true));
        let mut buf = [0x55 as c_char; WGA_ERROR_MESSAGE_BUFFER_LEN];
        // SAFETY: live keyrings, writable buffers; each freed once.
        unsafe {
            assert_eq!(
                wga_keyring_follow_error(writer, buf.as_mut_ptr(), buf.len(), &mut len),
                WGA_OK
            );
            assert_eq!((len, buf[0]), (0, 0));
            wga_keyring_free(writer);
            wga_keyring_free(reader);
        }
    }
}
