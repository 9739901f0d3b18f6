//! `wga_status`: what every fallible function returns, and the HTTP answer
//! for the authentication statuses.

use core::ffi::{CStr, c_char};

use alloc::string::ToString;

use wga_core::http::ResourceMetadata;
use wga_core::{Failure, KeyringError, Profile, Rejection};

use crate::panic::{
    NullParameterOrDefault, PanicOrDefault, ffi_panic_boundary, try_out, try_slice,
};

/// The result of a call. `WGA_OK` is 0; every other value is explicit and is
/// never reused for another meaning. In C this is a `uint32_t`.
///
/// The four `WGA_ACCESS_TOKEN_*` / `WGA_BEARER_*` values and
/// `WGA_STORE_UNAVAILABLE` are authentication answers:
/// `wga_status_http_code`, `wga_status_body`, `wga_status_www_authenticate`
/// and `wga_status_retry_after` give the exact HTTP response for them.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wga_status {
    /// Success; the out-parameters were written.
    WGA_OK = 0,
    /// A required pointer argument was NULL.
    WGA_NULL_PARAMETER = 1,
    /// The library hit a bug (a Rust panic) and stopped this call safely.
    WGA_PANIC = 2,
    /// An output buffer is too small; the length needed was reported.
    WGA_BUFFER_TOO_SMALL = 3,
    /// An account id is not 1 to 128 characters of UTF-8 without control
    /// characters and without surrounding whitespace.
    WGA_INVALID_ACCOUNT = 4,
    /// A token name is not 1 to 64 characters of UTF-8 (after trimming
    /// surrounding whitespace) without control characters.
    WGA_INVALID_NAME = 5,
    /// A token id is not 16 hexadecimal digits.
    WGA_INVALID_TOKEN_ID = 6,
    /// No token has this id (it may have been deleted).
    WGA_UNKNOWN_TOKEN = 7,
    /// A token with this id is already in the keyring.
    WGA_DUPLICATE_ID = 8,
    /// The account already has a token with this name.
    WGA_DUPLICATE_NAME = 9,
    /// The operating system's random number generator failed; nothing was
    /// created or changed.
    WGA_RNG_FAILED = 10,
    /// An index is past the end of a list.
    WGA_INDEX_OUT_OF_RANGE = 11,
    /// An argument is out of its range (such as an unknown profile).
    WGA_INVALID_ARGUMENT = 12,
    /// A bare token (`wga_keyring_verify_token`) was refused: malformed,
    /// unknown, wrong, deleted or regenerated, all alike.
    WGA_INVALID_TOKEN = 13,
    /// A `resource_metadata` URL is not non-empty visible ASCII without `"`
    /// or `\`. (A token store's URL that names no backend is
    /// `WGA_INVALID_STORE_URL`.)
    WGA_INVALID_URL = 14,
    /// The token store cannot be opened, read or written: no store at that
    /// path (and `create_if_missing` was not set), a file or database that
    /// is not a token store or was written by a newer release, a server out
    /// of reach, a lock held too long, a damaged row. A management call
    /// (`wga_keyring_open`, and create, delete, regenerate, list, flush on an
    /// attached keyring) returns it; `wga_last_error_message` gives the
    /// store's message (never a password). Not an HTTP answer: a request
    /// whose keyring cannot be confirmed current gets `WGA_STORE_UNAVAILABLE`.
    WGA_STORE_ERROR = 15,
    /// A token store URL names no backend this release knows (give a file
    /// path, `sqlite:PATH`, or `postgresql://…`), or is a `postgresql://`
    /// URL the driver cannot use; `wga_last_error_message` says what is
    /// wrong. Retrying will not help.
    WGA_INVALID_STORE_URL = 16,
    /// The call changes records or availability by hand, and the keyring is
    /// attached to a store (`wga_keyring_open`), whose follower owns them:
    /// create, delete and regenerate through the keyring instead, and use
    /// `wga_keyring_flush_last_used` for last use.
    WGA_KEYRING_ATTACHED = 17,
    /// The call needs a keyring attached to a store (`wga_keyring_open`),
    /// and this one is in memory (`wga_keyring_new`).
    WGA_KEYRING_NOT_ATTACHED = 18,
    /// The lifetime policy refused the call: an expiry that is not in the
    /// future or lies beyond the maximum lifetime, or a regeneration grace
    /// period that ends before `now` or lasts longer than the cap (30 days
    /// by default). Nothing was changed; `wga_last_error_message` says which
    /// limit, in the policy's own words.
    WGA_POLICY_REFUSED = 19,
    /// A scope is not `resource:action` (lowercase letters, digits, `_` and
    /// `-`, each part starting with a letter and at most 32 long; the action
    /// may be `*`); `wga_last_error_message` names it.
    WGA_INVALID_SCOPE = 20,
    /// More than 64 distinct scopes were given.
    WGA_TOO_MANY_SCOPES = 21,
    /// A description is not 1 to 256 characters of UTF-8 (after trimming
    /// surrounding whitespace) without control characters.
    WGA_INVALID_DESCRIPTION = 22,
    /// REST profile: no `Access-Token` was presented (HTTP 403).
    WGA_ACCESS_TOKEN_MISSING = 100,
    /// REST profile: the `Access-Token` is invalid (HTTP 403).
    WGA_ACCESS_TOKEN_INVALID = 101,
    /// MCP profile: no `Authorization: Bearer` token was presented (HTTP 401).
    WGA_BEARER_MISSING = 110,
    /// MCP profile: the bearer token is invalid (HTTP 401).
    WGA_BEARER_INVALID = 111,
    /// Either profile: a token was presented, but the keyring cannot confirm
    /// it is current (see `wga_keyring_set_available`), so the token is
    /// neither accepted nor called invalid: answer HTTP 503 with
    /// `Retry-After` (`wga_status_retry_after`) and the body
    /// `{"message": "the token store cannot be reached; retry later"}`, and
    /// no `WWW-Authenticate`. Also what `wga_keyring_verify_token` returns
    /// then. Answers that do not depend on the store are kept: no token
    /// still gets `WGA_ACCESS_TOKEN_MISSING` / `WGA_BEARER_MISSING`, and a
    /// header that is malformed whatever the store holds (two token
    /// headers, `Bearer` with no token, a value over 4096 bytes)
    /// `WGA_ACCESS_TOKEN_INVALID` / `WGA_BEARER_INVALID`.
    WGA_STORE_UNAVAILABLE = 120,
}

impl wga_status {
    /// Every status, for tests.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 28] = [
        Self::WGA_OK,
        Self::WGA_NULL_PARAMETER,
        Self::WGA_PANIC,
        Self::WGA_BUFFER_TOO_SMALL,
        Self::WGA_INVALID_ACCOUNT,
        Self::WGA_INVALID_NAME,
        Self::WGA_INVALID_TOKEN_ID,
        Self::WGA_UNKNOWN_TOKEN,
        Self::WGA_DUPLICATE_ID,
        Self::WGA_DUPLICATE_NAME,
        Self::WGA_RNG_FAILED,
        Self::WGA_INDEX_OUT_OF_RANGE,
        Self::WGA_INVALID_ARGUMENT,
        Self::WGA_INVALID_TOKEN,
        Self::WGA_INVALID_URL,
        Self::WGA_STORE_ERROR,
        Self::WGA_INVALID_STORE_URL,
        Self::WGA_KEYRING_ATTACHED,
        Self::WGA_KEYRING_NOT_ATTACHED,
        Self::WGA_POLICY_REFUSED,
        Self::WGA_INVALID_SCOPE,
        Self::WGA_TOO_MANY_SCOPES,
        Self::WGA_INVALID_DESCRIPTION,
        Self::WGA_ACCESS_TOKEN_MISSING,
        Self::WGA_ACCESS_TOKEN_INVALID,
        Self::WGA_BEARER_MISSING,
        Self::WGA_BEARER_INVALID,
        Self::WGA_STORE_UNAVAILABLE,
    ];

    fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::WGA_OK,
            1 => Self::WGA_NULL_PARAMETER,
            2 => Self::WGA_PANIC,
            3 => Self::WGA_BUFFER_TOO_SMALL,
            4 => Self::WGA_INVALID_ACCOUNT,
            5 => Self::WGA_INVALID_NAME,
            6 => Self::WGA_INVALID_TOKEN_ID,
            7 => Self::WGA_UNKNOWN_TOKEN,
            8 => Self::WGA_DUPLICATE_ID,
            9 => Self::WGA_DUPLICATE_NAME,
            10 => Self::WGA_RNG_FAILED,
            11 => Self::WGA_INDEX_OUT_OF_RANGE,
            12 => Self::WGA_INVALID_ARGUMENT,
            13 => Self::WGA_INVALID_TOKEN,
            14 => Self::WGA_INVALID_URL,
            15 => Self::WGA_STORE_ERROR,
            16 => Self::WGA_INVALID_STORE_URL,
            17 => Self::WGA_KEYRING_ATTACHED,
            18 => Self::WGA_KEYRING_NOT_ATTACHED,
            19 => Self::WGA_POLICY_REFUSED,
            20 => Self::WGA_INVALID_SCOPE,
            21 => Self::WGA_TOO_MANY_SCOPES,
            22 => Self::WGA_INVALID_DESCRIPTION,
            100 => Self::WGA_ACCESS_TOKEN_MISSING,
            101 => Self::WGA_ACCESS_TOKEN_INVALID,
            110 => Self::WGA_BEARER_MISSING,
            111 => Self::WGA_BEARER_INVALID,
            120 => Self::WGA_STORE_UNAVAILABLE,
            _ => return None,
        })
    }

    /// The authentication status for a rejection.
    pub(crate) const fn from_rejection(rejection: Rejection) -> Self {
        match (rejection.profile, rejection.failure) {
            (Profile::Rest, Failure::Missing) => Self::WGA_ACCESS_TOKEN_MISSING,
            (Profile::Rest, Failure::Invalid) => Self::WGA_ACCESS_TOKEN_INVALID,
            (Profile::Mcp, Failure::Missing) => Self::WGA_BEARER_MISSING,
            (Profile::Mcp, Failure::Invalid) => Self::WGA_BEARER_INVALID,
            // The same answer in both profiles (tested): one status.
            (_, Failure::Unavailable) => Self::WGA_STORE_UNAVAILABLE,
        }
    }

    /// The rejection an authentication status stands for.
    pub(crate) const fn rejection(self) -> Option<Rejection> {
        let (profile, failure) = match self {
            Self::WGA_ACCESS_TOKEN_MISSING => (Profile::Rest, Failure::Missing),
            Self::WGA_ACCESS_TOKEN_INVALID => (Profile::Rest, Failure::Invalid),
            Self::WGA_BEARER_MISSING => (Profile::Mcp, Failure::Missing),
            Self::WGA_BEARER_INVALID => (Profile::Mcp, Failure::Invalid),
            // Either profile would do: their answers are the same (tested).
            Self::WGA_STORE_UNAVAILABLE => (Profile::Rest, Failure::Unavailable),
            _ => return None,
        };
        Some(profile.reject(failure))
    }

    /// A description for logs: what happened and what to do.
    const fn message(self) -> &'static CStr {
        match self {
            Self::WGA_OK => c"success",
            Self::WGA_NULL_PARAMETER => {
                c"a required pointer argument was NULL; pass a valid pointer"
            }
            Self::WGA_PANIC => {
                c"internal error in whatsgate-auth (a bug; the call was stopped safely); please report it"
            }
            Self::WGA_BUFFER_TOO_SMALL => {
                c"an output buffer is too small; retry with the length reported"
            }
            Self::WGA_INVALID_ACCOUNT => {
                c"an account id must be 1 to 128 characters of UTF-8, without control characters or surrounding whitespace"
            }
            Self::WGA_INVALID_NAME => {
                c"a token name must be 1 to 64 characters of UTF-8 after trimming, without control characters"
            }
            Self::WGA_INVALID_TOKEN_ID => c"a token id is 16 hexadecimal digits",
            Self::WGA_UNKNOWN_TOKEN => c"no token has this id (it may have been deleted)",
            Self::WGA_DUPLICATE_ID => c"a token with this id is already in the keyring",
            Self::WGA_DUPLICATE_NAME => {
                c"the account already has a token with this name; pick another name or delete that token"
            }
            Self::WGA_RNG_FAILED => {
                c"the random number generator failed; nothing was created (retry, or check the OS entropy source)"
            }
            Self::WGA_INDEX_OUT_OF_RANGE => c"the index is past the end of the list",
            Self::WGA_INVALID_ARGUMENT => c"an argument is out of its range",
            Self::WGA_INVALID_TOKEN => c"invalid token",
            Self::WGA_INVALID_URL => {
                c"a resource_metadata URL must be non-empty visible ASCII without '\"' or '\\'"
            }
            Self::WGA_STORE_ERROR => {
                c"the token store cannot be opened, read or written; wga_last_error_message says why"
            }
            Self::WGA_INVALID_STORE_URL => {
                c"a token store URL is a file path, sqlite:PATH or postgresql://...; wga_last_error_message says what is wrong"
            }
            Self::WGA_KEYRING_ATTACHED => {
                c"the keyring follows a token store: change tokens by creating, deleting and regenerating through it"
            }
            Self::WGA_KEYRING_NOT_ATTACHED => {
                c"the keyring is not attached to a token store; open one with wga_keyring_open"
            }
            Self::WGA_POLICY_REFUSED => {
                c"the lifetime policy refused this (an expiry not in the future or past the maximum lifetime, or a grace period that is negative or too long); wga_last_error_message says which"
            }
            Self::WGA_INVALID_SCOPE => {
                c"a scope is resource:action (lowercase letters, digits, _ and -, each part starting with a letter and at most 32 long; the action may be *); wga_last_error_message names it"
            }
            Self::WGA_TOO_MANY_SCOPES => c"a token carries at most 64 scopes",
            Self::WGA_INVALID_DESCRIPTION => {
                c"a description must be 1 to 256 characters of UTF-8 after trimming, without control characters"
            }
            Self::WGA_ACCESS_TOKEN_MISSING => c"no Access-Token was presented",
            Self::WGA_ACCESS_TOKEN_INVALID => c"the Access-Token is invalid",
            Self::WGA_BEARER_MISSING => c"no Bearer token was presented",
            Self::WGA_BEARER_INVALID => c"the Bearer token is invalid",
            Self::WGA_STORE_UNAVAILABLE => {
                c"the token store cannot be reached, so no token can be confirmed; answer 503 with Retry-After and retry later"
            }
        }
    }
}

impl PanicOrDefault for wga_status {
    fn value() -> Self {
        Self::WGA_PANIC
    }
}

impl NullParameterOrDefault for wga_status {
    fn value() -> Self {
        Self::WGA_NULL_PARAMETER
    }
}

impl From<KeyringError> for wga_status {
    fn from(e: KeyringError) -> Self {
        match e {
            KeyringError::UnknownToken(_) => Self::WGA_UNKNOWN_TOKEN,
            KeyringError::DuplicateId(_) => Self::WGA_DUPLICATE_ID,
            KeyringError::DuplicateName { .. } => Self::WGA_DUPLICATE_NAME,
            KeyringError::Rng(_) => Self::WGA_RNG_FAILED,
            KeyringError::Policy(e) => {
                // Which limit, with the policy's figures, for the host's log.
                crate::store_error::set_last_error(e.to_string());
                Self::WGA_POLICY_REFUSED
            }
        }
    }
}

/// A `&'static str` constant expression as a `&'static CStr`: the text and a
/// NUL, built at compile time (a NUL inside the text fails the build).
macro_rules! static_cstr {
    ($text:expr) => {{
        const TEXT: &str = $text;
        const BYTES: [u8; TEXT.len() + 1] = nul_terminated(TEXT);
        const CSTR: &CStr = match CStr::from_bytes_with_nul(&BYTES) {
            Ok(cstr) => cstr,
            Err(_) => panic!("a static C string has a NUL inside"),
        };
        CSTR
    }};
}

/// `text` and a NUL; `N` is `text.len() + 1`.
const fn nul_terminated<const N: usize>(text: &str) -> [u8; N] {
    assert!(text.len() + 1 == N);
    let mut out = [0; N];
    let mut i = 0;
    while i < text.len() {
        out[i] = text.as_bytes()[i];
        i += 1;
    }
    out
}

/// The core's JSON body for an authentication status (a build error for any
/// other status).
const fn body_text(status: wga_status) -> &'static str {
    match status.rejection() {
        Some(rejection) => rejection.body(),
        None => panic!("not an authentication status"),
    }
}

/// The core's challenge for an MCP status (a build error for any other).
const fn challenge_text(status: wga_status) -> &'static str {
    match status.rejection() {
        Some(rejection) => match rejection.www_authenticate() {
            Some(challenge) => challenge,
            None => panic!("this profile sends no challenge"),
        },
        None => panic!("not an authentication status"),
    }
}

/// The core's bodies as static C strings: C needs the NUL, so these are
/// built from the core's text at compile time rather than written again.
const fn body_cstr(status: wga_status) -> Option<&'static CStr> {
    use wga_status::{
        WGA_ACCESS_TOKEN_INVALID, WGA_ACCESS_TOKEN_MISSING, WGA_BEARER_INVALID, WGA_BEARER_MISSING,
        WGA_STORE_UNAVAILABLE,
    };
    Some(match status {
        WGA_ACCESS_TOKEN_MISSING => static_cstr!(body_text(WGA_ACCESS_TOKEN_MISSING)),
        WGA_ACCESS_TOKEN_INVALID => static_cstr!(body_text(WGA_ACCESS_TOKEN_INVALID)),
        WGA_BEARER_MISSING => static_cstr!(body_text(WGA_BEARER_MISSING)),
        WGA_BEARER_INVALID => static_cstr!(body_text(WGA_BEARER_INVALID)),
        WGA_STORE_UNAVAILABLE => static_cstr!(body_text(WGA_STORE_UNAVAILABLE)),
        _ => return None,
    })
}

/// The core's challenges as static C strings, as for [`body_cstr`].
const fn challenge_cstr(status: wga_status) -> Option<&'static CStr> {
    use wga_status::{WGA_BEARER_INVALID, WGA_BEARER_MISSING};
    Some(match status {
        WGA_BEARER_MISSING => static_cstr!(challenge_text(WGA_BEARER_MISSING)),
        WGA_BEARER_INVALID => static_cstr!(challenge_text(WGA_BEARER_INVALID)),
        _ => return None,
    })
}

fn ptr_or_null(s: Option<&'static CStr>) -> *const c_char {
    s.map_or(core::ptr::null(), CStr::as_ptr)
}

/// A description of any status, for logs: a static NUL-terminated string
/// (never NULL, never freed). An unknown value gives "unknown status".
/// It never contains a token.
#[unsafe(no_mangle)]
pub extern "C" fn wga_status_message(status: u32) -> *const c_char {
    const UNKNOWN: &CStr = c"unknown status";
    // Not the pointer type's NULL: this function is documented never to
    // return NULL, so that callers may print its answer unchecked.
    ffi_panic_boundary! { fallback = UNKNOWN.as_ptr();
        wga_status::from_u32(status).map_or(UNKNOWN, wga_status::message).as_ptr()
    }
}

/// The HTTP status code to answer an authentication status with: 403 for
/// `WGA_ACCESS_TOKEN_*` (REST), 401 for `WGA_BEARER_*` (MCP), 503 for
/// `WGA_STORE_UNAVAILABLE` (either profile); 0 for every other status
/// (`WGA_OK` included: those are not HTTP answers).
#[unsafe(no_mangle)]
pub extern "C" fn wga_status_http_code(status: u32) -> u16 {
    ffi_panic_boundary! {
        wga_status::from_u32(status)
            .and_then(wga_status::rejection)
            .map_or(0, |r| r.status())
    }
}

/// The exact JSON body (send it with `Content-Type: application/json`) for an
/// authentication status, such as `{"message": "invalid Access-Token"}`
/// (`{"message": "the token store cannot be reached; retry later"}` for
/// `WGA_STORE_UNAVAILABLE`): a static NUL-terminated string (never freed).
/// NULL for other statuses.
#[unsafe(no_mangle)]
pub extern "C" fn wga_status_body(status: u32) -> *const c_char {
    ffi_panic_boundary! {
        ptr_or_null(wga_status::from_u32(status).and_then(body_cstr))
    }
}

/// The `WWW-Authenticate` value to send with an authentication status:
/// `Bearer realm="whatsgate"` for `WGA_BEARER_MISSING`, `Bearer
/// realm="whatsgate", error="invalid_token"` for `WGA_BEARER_INVALID`; a
/// static NUL-terminated string (never freed). NULL when no such header is
/// sent (the REST profile, `WGA_STORE_UNAVAILABLE`, and every other status).
#[unsafe(no_mangle)]
pub extern "C" fn wga_status_www_authenticate(status: u32) -> *const c_char {
    ffi_panic_boundary! {
        ptr_or_null(wga_status::from_u32(status).and_then(challenge_cstr))
    }
}

/// The `Retry-After` value, in seconds, to send with an authentication
/// status: 1 for `WGA_STORE_UNAVAILABLE` (the keyring's followers poll their
/// store more often than that); 0, meaning "send no `Retry-After`", for
/// every other status.
#[unsafe(no_mangle)]
pub extern "C" fn wga_status_retry_after(status: u32) -> u32 {
    ffi_panic_boundary! {
        wga_status::from_u32(status)
            .and_then(wga_status::rejection)
            .and_then(|r| r.retry_after())
            .unwrap_or(0)
    }
}

/// The `WWW-Authenticate` value for an MCP status with
/// `resource_metadata="{url}"` appended (RFC 9728), for servers that publish
/// protected-resource metadata, such as `Bearer realm="whatsgate",
/// error="invalid_token", resource_metadata="https://…"`.
///
/// Writes it, NUL-terminated, to `buf` and its length without the NUL to
/// `*len_out`. When `buf_len` is too small, returns `WGA_BUFFER_TOO_SMALL`
/// and writes the size needed (with the NUL) to `*len_out`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ARGUMENT` (the status
/// has no challenge: only `WGA_BEARER_MISSING` and `WGA_BEARER_INVALID` do,
/// not `WGA_STORE_UNAVAILABLE`), `WGA_INVALID_URL` or `WGA_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `url` points to `url_len` readable bytes; `buf` to `buf_len` writable
/// bytes; `len_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_status_www_authenticate_with(
    status: u32,
    url: *const c_char,
    url_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> wga_status {
    ffi_panic_boundary! {
        let url = try_slice!(url, url_len);
        let buf = try_out!(buf);
        let len_out = try_out!(len_out);
        let Some(rejection) = wga_status::from_u32(status).and_then(wga_status::rejection) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        let Some(url) = core::str::from_utf8(url)
            .ok()
            .and_then(|u| ResourceMetadata::new(u).ok())
        else {
            return wga_status::WGA_INVALID_URL;
        };
        let Some(challenge) = rejection.www_authenticate_with(&url) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        let text = challenge.to_string();
        // SAFETY: both checked non-null; the caller promises `buf_len`
        // writable bytes and a writable `len_out`; `text` is Rust memory.
        unsafe { write_text(text.as_bytes(), buf, buf_len, len_out) }
    }
}

/// Writes `text` and a NUL to a caller's buffer of `buf_len` bytes, and the
/// text's length (without the NUL) to `*len_out`. When the buffer is too
/// small, writes only the size needed (with the NUL) to `*len_out` and
/// returns `WGA_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `buf` is valid for writing `buf_len` bytes, `len_out` for a write, and
/// neither overlaps `text`.
pub(crate) unsafe fn write_text(
    text: &[u8],
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> wga_status {
    if buf_len < text.len() + 1 {
        // SAFETY: valid for a write (contract).
        unsafe { len_out.write(text.len() + 1) };
        return wga_status::WGA_BUFFER_TOO_SMALL;
    }
    // SAFETY: `buf` has room for the text and its NUL (checked above) and
    // does not overlap it; `len_out` is valid for a write (contract).
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
        len_out.write(text.len());
    }
    wga_status::WGA_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: *const c_char) -> Option<&'static str> {
        // SAFETY: the functions under test return NULL or static C strings.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap())
    }

    #[test]
    fn every_status_round_trips_and_has_a_message() {
        for status in wga_status::ALL {
            assert_eq!(wga_status::from_u32(status as u32), Some(status));
            assert!(!text(wga_status_message(status as u32)).unwrap().is_empty());
        }
        assert_eq!(wga_status::from_u32(23), None);
        assert_eq!(wga_status::from_u32(112), None);
        assert_eq!(wga_status::from_u32(121), None);
        assert_eq!(text(wga_status_message(23)), Some("unknown status"));
        assert_eq!(wga_status_http_code(u32::MAX), 0);
        assert_eq!(text(wga_status_body(u32::MAX)), None);
    }

    /// The panic boundary and the NULL checks answer a status function with
    /// `WGA_PANIC` and `WGA_NULL_PARAMETER`, through the traits above.
    #[test]
    fn a_panic_and_a_null_argument_give_their_statuses() {
        use crate::panic::try_ref;
        fn call(panic: bool, p: *const u8) -> wga_status {
            ffi_panic_boundary! {
                if panic {
                    panic!("deliberate panic inside the boundary");
                }
                let _ = try_ref!(p);
                wga_status::WGA_OK
            }
        }
        let byte = 1u8;
        assert_eq!(call(false, &byte), wga_status::WGA_OK);
        assert_eq!(call(true, &byte), wga_status::WGA_PANIC);
        assert_eq!(
            call(false, core::ptr::null()),
            wga_status::WGA_NULL_PARAMETER
        );
    }

    /// The message for a refused URL is the core's own error text.
    #[test]
    fn invalid_url_message_is_the_cores() {
        assert_eq!(
            text(wga_status_message(wga_status::WGA_INVALID_URL as u32)),
            Some(ResourceMetadata::new("").unwrap_err().to_string().as_str())
        );
    }

    #[test]
    fn challenge_with_resource_metadata() {
        let url = b"https://api.example/.well-known/oauth-protected-resource";
        let mut buf = [0 as c_char; 160];
        let mut len = 0usize;
        let call = |status: wga_status, url: &[u8], buf: &mut [c_char], len: &mut usize| {
            // SAFETY: valid pointers and lengths.
            unsafe {
                wga_status_www_authenticate_with(
                    status as u32,
                    url.as_ptr().cast(),
                    url.len(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    len,
                )
            }
        };
        let s = call(wga_status::WGA_BEARER_INVALID, url, &mut buf, &mut len);
        assert_eq!(s, wga_status::WGA_OK);
        let written: Vec<u8> = buf[..len].iter().map(|c| *c as u8).collect();
        assert_eq!(
            written,
            b"Bearer realm=\"whatsgate\", error=\"invalid_token\", resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        );
        assert_eq!(buf[len], 0);
        let needed = len + 1;
        assert_eq!(
            call(
                wga_status::WGA_BEARER_INVALID,
                url,
                &mut buf[..needed - 1],
                &mut len
            ),
            wga_status::WGA_BUFFER_TOO_SMALL
        );
        assert_eq!(len, needed);
        assert_eq!(
            call(wga_status::WGA_BEARER_MISSING, b"a\"b", &mut buf, &mut len),
            wga_status::WGA_INVALID_URL
        );
        assert_eq!(
            call(
                wga_status::WGA_ACCESS_TOKEN_INVALID,
                url,
                &mut buf,
                &mut len
            ),
            wga_status::WGA_INVALID_ARGUMENT
        );
    }

    #[test]
    fn keyring_errors_map_to_their_statuses() {
        use wga_core::{AccountId, RngError, TokenId, TokenName};
        let id = TokenId::from_bytes([1; 8]);
        let cases = [
            (
                KeyringError::UnknownToken(id),
                wga_status::WGA_UNKNOWN_TOKEN,
            ),
            (KeyringError::DuplicateId(id), wga_status::WGA_DUPLICATE_ID),
            (
                KeyringError::DuplicateName {
                    account: AccountId::new("a").unwrap(),
                    name: TokenName::new("n").unwrap(),
                },
                wga_status::WGA_DUPLICATE_NAME,
            ),
            (KeyringError::Rng(RngError), wga_status::WGA_RNG_FAILED),
            (
                KeyringError::Policy(wga_core::PolicyError::NegativeGrace),
                wga_status::WGA_POLICY_REFUSED,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(wga_status::from(error), status);
        }
    }

    /// The binding's NUL-terminated strings are exactly the core's answers.
    #[test]
    fn http_answers_equal_the_core() {
        let mut seen = 0;
        for status in wga_status::ALL {
            let code = wga_status_http_code(status as u32);
            let body = text(wga_status_body(status as u32));
            let challenge = text(wga_status_www_authenticate(status as u32));
            let retry_after = wga_status_retry_after(status as u32);
            match status.rejection() {
                Some(r) => {
                    seen += 1;
                    assert_eq!(wga_status::from_rejection(r), status);
                    assert_eq!(code, r.status());
                    assert_eq!(body, Some(r.body()));
                    assert_eq!(challenge, r.www_authenticate());
                    assert_eq!(retry_after, r.retry_after().unwrap_or(0));
                }
                None => assert_eq!((code, body, challenge, retry_after), (0, None, None, 0)),
            }
        }
        assert_eq!(seen, 5);
        // Positive control: some status does send a Retry-After.
        assert_eq!(
            wga_status_retry_after(wga_status::WGA_STORE_UNAVAILABLE as u32),
            wga_core::http::RETRY_AFTER_SECS
        );
        assert_eq!(wga_status_retry_after(u32::MAX), 0);
    }

    /// Every rejection the core can make has its status, and the one status
    /// for `Failure::Unavailable` stands for both profiles because the core
    /// answers them alike.
    #[test]
    fn every_core_rejection_has_a_status_and_unavailable_is_one_answer() {
        let mut statuses = Vec::new();
        for profile in [Profile::Rest, Profile::Mcp] {
            for failure in [Failure::Missing, Failure::Invalid, Failure::Unavailable] {
                let r = profile.reject(failure);
                let status = wga_status::from_rejection(r);
                let back = status.rejection().unwrap();
                let answer =
                    |r: Rejection| (r.status(), r.body(), r.www_authenticate(), r.retry_after());
                assert_eq!(answer(back), answer(r), "{profile} {failure:?}");
                statuses.push(status);
            }
        }
        statuses.sort_by_key(|s| *s as u32);
        statuses.dedup();
        assert_eq!(statuses.len(), 5);
        let unavailable = Profile::Mcp.reject(Failure::Unavailable);
        assert_eq!(
            (unavailable.status(), unavailable.www_authenticate()),
            (503, None)
        );
    }
}
