//! Verifying requests: header values in, a status and the principal out.

use core::ffi::c_char;

use wga_core::http::MAX_VALUE_LEN;
use wga_core::token::MAX_TOKEN_LEN;
use wga_core::{PrincipalRef, Profile};

use crate::keyring::wga_keyring;
use crate::panic::{ffi_panic_boundary, try_ref};
use crate::record::{
    WGA_ACCOUNT_BUFFER_LEN, WGA_NAME_BUFFER_LEN, WGA_TOKEN_ID_BUFFER_LEN, id_cstr, instant,
    write_cstr,
};
use crate::status::wga_status;

/// Which header carries the token, and how failures are answered. In C this
/// is a `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wga_profile {
    /// The REST API: `Access-Token: {token}`; failures are HTTP 403.
    WGA_PROFILE_REST = 0,
    /// The MCP endpoint: `Authorization: Bearer {token}`; failures are HTTP
    /// 401 with a `WWW-Authenticate` challenge.
    WGA_PROFILE_MCP = 1,
}

impl wga_profile {
    /// The core profile a C `uint32_t` profile stands for; `None` for a value
    /// that is no `wga_profile`.
    pub(crate) fn to_core(value: u32) -> Option<Profile> {
        const REST: u32 = wga_profile::WGA_PROFILE_REST as u32;
        const MCP: u32 = wga_profile::WGA_PROFILE_MCP as u32;
        match value {
            REST => Some(Profile::Rest),
            MCP => Some(Profile::Mcp),
            _ => None,
        }
    }
}

/// Who a request was authenticated as (never the secret). Written by the
/// verify functions on `WGA_OK` only; the strings are NUL-terminated UTF-8
/// and always fit. Only the bytes up to each NUL are written: the rest of
/// each array is left as it was.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_principal {
    /// The public id of the token presented: 16 lowercase hexadecimal digits.
    pub token_id: [c_char; WGA_TOKEN_ID_BUFFER_LEN],
    /// The account the token belongs to; it reaches all of its devices.
    pub account: [c_char; WGA_ACCOUNT_BUFFER_LEN],
    /// Length of `account` in bytes, without the NUL.
    pub account_len: usize,
    /// The name the token was created with.
    pub name: [c_char; WGA_NAME_BUFFER_LEN],
    /// Length of `name` in bytes, without the NUL.
    pub name_len: usize,
}

/// Writes a principal field by field through raw pointers (the caller's
/// struct may be uninitialised), copying only the bytes in use.
///
/// # Safety
/// `out` is non-null and valid for writing a `wga_principal`.
pub(crate) unsafe fn write_principal(out: *mut wga_principal, principal: &PrincipalRef<'_>) {
    // SAFETY: `out` is valid for writes (contract); every write stays inside
    // its field, and the sources are Rust memory, not overlapping `out`.
    unsafe {
        (&raw mut (*out).token_id).write(id_cstr(principal.token_id()));
        let account_len = write_cstr(&raw mut (*out).account, principal.account().as_bytes());
        (&raw mut (*out).account_len).write(account_len);
        let name_len = write_cstr(&raw mut (*out).name, principal.token_name().as_bytes());
        (&raw mut (*out).name_len).write(name_len);
    }
}

/// A byte slice for a token or header name. Ones longer than `limit` are
/// refused by the core without being read, so only `limit + 1` bytes are
/// ever looked at: a wild length cannot make the library read further.
///
/// # Safety
/// `ptr` is non-null with `len` readable bytes, alive and unchanged for `'a`.
unsafe fn bounded<'a>(ptr: *const u8, len: usize, limit: usize) -> &'a [u8] {
    // SAFETY: non-null with at least `len.min(limit + 1)` readable bytes.
    unsafe { core::slice::from_raw_parts(ptr, len.min(limit + 1)) }
}

/// Checks the pointers of a C array of byte strings: `Err` for NULL arrays
/// (unless `count` is 0) or NULL elements.
///
/// # Safety
/// Non-null arrays hold `count` elements.
unsafe fn check_strings(
    ptrs: *const *const u8,
    lens: *const usize,
    count: usize,
) -> Result<(), wga_status> {
    if count == 0 {
        return Ok(());
    }
    if ptrs.is_null() || lens.is_null() {
        return Err(wga_status::WGA_NULL_PARAMETER);
    }
    // SAFETY: non-null arrays of `count` elements (contract).
    let ptrs = unsafe { core::slice::from_raw_parts(ptrs, count) };
    if ptrs.iter().any(|p| p.is_null()) {
        return Err(wga_status::WGA_NULL_PARAMETER);
    }
    Ok(())
}

/// Stands for a header value whose length no buffer can have: over the
/// core's limit and not whitespace, so the core calls it invalid.
static OVER_LONG: [u8; MAX_VALUE_LEN + 1] = [b'!'; MAX_VALUE_LEN + 1];

/// The `i`-th header value of checked arrays, read in full: the core strips
/// the surrounding whitespace before it applies its length limit (the rule
/// every surface shares, since HTTP servers strip it first), so both ends
/// count. A length over `isize::MAX` cannot be a buffer's: it reads as an
/// over-long value, without a read.
///
/// # Safety
/// `check_strings` passed for these arrays and `i < count`.
unsafe fn nth<'a>(ptrs: *const *const u8, lens: *const usize, i: usize) -> &'a [u8] {
    // SAFETY: in bounds of checked, non-null arrays (contract).
    let (ptr, len) = unsafe { (*ptrs.add(i), *lens.add(i)) };
    if isize::try_from(len).is_err() {
        return &OVER_LONG;
    }
    // SAFETY: non-null with `len` readable bytes (contract), and `len` fits
    // an `isize`.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// What to do with the principal the keyring lends on success: copy it to
/// `principal_out`, unless that is NULL. (Lent, not owned: the copy touches no
/// shared reference count.)
fn write_to(principal_out: *mut wga_principal) -> impl FnOnce(PrincipalRef<'_>) {
    move |principal| {
        if !principal_out.is_null() {
            // SAFETY: non-null, and valid for a write (contract of every
            // caller).
            unsafe { write_principal(principal_out, &principal) };
        }
    }
}

fn finish(result: Result<(), wga_status>) -> wga_status {
    match result {
        Ok(()) => wga_status::WGA_OK,
        Err(status) => status,
    }
}

/// Authenticates a request in one profile from all values of its header,
/// lending the principal to `write` on success.
///
/// # Safety
/// As for `wga_keyring_verify_access_token`.
pub(crate) unsafe fn authenticate_values(
    keyring: *const wga_keyring,
    profile: Profile,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    write: impl FnOnce(PrincipalRef<'_>),
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        // SAFETY: the caller promises arrays of `count` elements.
        if let Err(e) = unsafe { check_strings(values, value_lens, count) } {
            return e;
        }
        let result = if count == 1 {
            // The common case, without the iterator.
            // SAFETY: checked above; `0 < count`.
            let value = unsafe { nth(values, value_lens, 0) };
            keyring
                .keyring()
                .authenticate_with(profile, [value], instant(now), write)
        } else {
            // SAFETY: checked above; `i < count`.
            let values = (0..count).map(|i| unsafe { nth(values, value_lens, i) });
            keyring
                .keyring()
                .authenticate_with(profile, values, instant(now), write)
        };
        finish(result.map_err(wga_status::from_rejection))
    }
}

/// Authenticates a REST request from the values of its `Access-Token`
/// header: pass every value received, in order (`count` 0 when there is
/// none); two or more values are refused, as are values with NUL, CR, LF,
/// non-ASCII bytes, or over 4096 bytes once the surrounding spaces and
/// tabs are stripped (the same rule on every surface).
///
/// On `WGA_OK` writes who the request is to `*principal_out` (pass NULL when
/// that is not needed: it saves copying the principal). Otherwise returns
/// `WGA_ACCESS_TOKEN_MISSING`, `WGA_ACCESS_TOKEN_INVALID` or, for any
/// token while the keyring is unavailable (`wga_keyring_set_available`, or
/// an attached keyring not confirmed current within `stale_after_ms`),
/// `WGA_STORE_UNAVAILABLE` (answer with `wga_status_http_code`,
/// `wga_status_body` and `wga_status_retry_after`), or
/// `WGA_NULL_PARAMETER`. `now` is the current time in seconds (0: the system
/// clock); it matters for regeneration grace periods.
///
/// # Safety
/// `keyring` is a live keyring; `values` and `value_lens` are arrays of
/// `count` elements (either may be NULL when `count` is 0), each value
/// pointing to `value_lens[i]` readable bytes; `principal_out` is NULL or
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_access_token(
    keyring: *const wga_keyring,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal,
) -> wga_status {
    // SAFETY: same contract.
    unsafe {
        authenticate_values(
            keyring,
            Profile::Rest,
            values,
            value_lens,
            count,
            now,
            write_to(principal_out),
        )
    }
}

/// Authenticates an MCP request from the values of its `Authorization`
/// header (`Bearer {token}`; the scheme in any case, then one or more
/// spaces). Pass every value received, in order (`count` 0 when there is
/// none); two or more values are refused. Another scheme (`Basic …`) counts
/// as no token.
///
/// On `WGA_OK` writes who the request is to `*principal_out` (or nothing when
/// it is NULL). Otherwise returns `WGA_BEARER_MISSING`, `WGA_BEARER_INVALID`
/// or, for any token while the keyring is unavailable,
/// `WGA_STORE_UNAVAILABLE` (answer with `wga_status_http_code`,
/// `wga_status_body`, `wga_status_www_authenticate` and
/// `wga_status_retry_after`), or `WGA_NULL_PARAMETER`. `now` as for
/// `wga_keyring_verify_access_token`.
///
/// # Safety
/// As for `wga_keyring_verify_access_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_authorization(
    keyring: *const wga_keyring,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal,
) -> wga_status {
    // SAFETY: same contract.
    unsafe {
        authenticate_values(
            keyring,
            Profile::Mcp,
            values,
            value_lens,
            count,
            now,
            write_to(principal_out),
        )
    }
}

/// Authenticates a request from all of its headers as (name, value) pairs:
/// the profile's header (`Access-Token` for `WGA_PROFILE_REST`,
/// `Authorization` for `WGA_PROFILE_MCP`) is picked out by name, in any case,
/// and the rest ignored. Statuses as for `wga_keyring_verify_access_token` /
/// `wga_keyring_verify_authorization`, plus `WGA_INVALID_ARGUMENT` for an
/// unknown profile.
///
/// # Safety
/// `keyring` is a live keyring; `names`, `name_lens`, `values` and
/// `value_lens` are arrays of `count` elements (any may be NULL when `count`
/// is 0), each name and value pointing to its length in readable bytes;
/// `principal_out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_headers(
    keyring: *const wga_keyring,
    profile: u32,
    names: *const *const u8,
    name_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal,
) -> wga_status {
    // SAFETY: same contract.
    unsafe {
        authenticate_headers(
            keyring,
            profile,
            names,
            name_lens,
            values,
            value_lens,
            count,
            now,
            write_to(principal_out),
        )
    }
}

/// `wga_keyring_verify_headers`, lending the principal to `write`.
///
/// # Safety
/// As for `wga_keyring_verify_headers`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn authenticate_headers(
    keyring: *const wga_keyring,
    profile: u32,
    names: *const *const u8,
    name_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    write: impl FnOnce(PrincipalRef<'_>),
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let Some(profile) = wga_profile::to_core(profile) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        // SAFETY: the caller promises arrays of `count` elements.
        let checked = unsafe {
            check_strings(names, name_lens, count)
                .and_then(|()| check_strings(values, value_lens, count))
        };
        if let Err(e) = checked {
            return e;
        }
        let pairs = (0..count).map(|i| {
            // SAFETY: checked above; `i < count`. No header name is longer
            // than 13 bytes, so the bound never changes a match.
            let name = unsafe { bounded(*names.add(i), *name_lens.add(i), 64) };
            // SAFETY: as above.
            (name, unsafe { nth(values, value_lens, i) })
        });
        let result = keyring.keyring().authenticate_with(
            profile,
            profile.token_values(pairs),
            instant(now),
            write,
        );
        finish(result.map_err(wga_status::from_rejection))
    }
}

/// Verifies a bare token (not a header value: nothing is trimmed), for
/// tokens that arrive some other way. On `WGA_OK` writes who it belongs to
/// to `*principal_out` (unless it is NULL); otherwise returns
/// `WGA_INVALID_TOKEN` (the same for every reason), `WGA_STORE_UNAVAILABLE`
/// (any token, valid or not, while the keyring is unavailable: see
/// `wga_keyring_set_available` and `wga_keyring_open`; never
/// `WGA_INVALID_TOKEN` then) or
/// `WGA_NULL_PARAMETER`. `now` as for `wga_keyring_verify_access_token`.
///
/// # Safety
/// `keyring` is a live keyring; `token` points to `token_len` readable
/// bytes; `principal_out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_token(
    keyring: *const wga_keyring,
    token: *const u8,
    token_len: usize,
    now: u64,
    principal_out: *mut wga_principal,
) -> wga_status {
    // SAFETY: same contract.
    unsafe { verify_bare(keyring, token, token_len, now, write_to(principal_out)) }
}

/// `wga_keyring_verify_token`, lending the principal to `write`.
///
/// # Safety
/// As for `wga_keyring_verify_token`.
pub(crate) unsafe fn verify_bare(
    keyring: *const wga_keyring,
    token: *const u8,
    token_len: usize,
    now: u64,
    write: impl FnOnce(PrincipalRef<'_>),
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        if token.is_null() {
            return wga_status::WGA_NULL_PARAMETER;
        }
        // SAFETY: non-null with `token_len` readable bytes (contract).
        let token = unsafe { bounded(token, token_len, MAX_TOKEN_LEN) };
        let keyring = keyring.keyring();
        // The core's `verify` answers "invalid" while the keyring is
        // unavailable; this answers 503. Checked before, and again after a
        // refusal, so that a keyring cleared during the call does not turn
        // a good token into an invalid one either.
        let unavailable = || !keyring.is_available();
        if unavailable() {
            return wga_status::WGA_STORE_UNAVAILABLE;
        }
        let result = keyring
            .verify_with(token, instant(now), write)
            .map_err(|_| {
                if unavailable() {
                    wga_status::WGA_STORE_UNAVAILABLE
                } else {
                    wga_status::WGA_INVALID_TOKEN
                }
            });
        finish(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::*;
    use crate::record::*;
    use core::mem::MaybeUninit;
    use core::ptr::{null, null_mut};

    const NOW: u64 = 1_790_000_000;

    struct Fixture {
        keyring: *mut wga_keyring,
        token: [c_char; WGA_TOKEN_BUFFER_LEN],
        token_len: usize,
        record: wga_record,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            // SAFETY: made by wga_keyring_new, freed once.
            unsafe { wga_keyring_free(self.keyring) };
        }
    }

    impl Fixture {
        fn new() -> Self {
            let mut keyring = null_mut();
            // SAFETY: valid out-pointer.
            assert_eq!(unsafe { wga_keyring_new(&mut keyring) }, wga_status::WGA_OK);
            let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
            let mut token_len = 0;
            let mut record = MaybeUninit::uninit();
            // SAFETY: valid pointers and lengths.
            let status = unsafe {
                wga_keyring_create(
                    keyring,
                    c"acct_1".as_ptr(),
                    6,
                    c"Production API".as_ptr(),
                    14,
                    NOW,
                    token.as_mut_ptr(),
                    token.len(),
                    &mut token_len,
                    record.as_mut_ptr(),
                )
            };
            assert_eq!(status, wga_status::WGA_OK);
            Self {
                keyring,
                token,
                token_len,
                // SAFETY: written on WGA_OK.
                record: unsafe { record.assume_init() },
            }
        }

        fn token(&self) -> Vec<u8> {
            self.token[..self.token_len]
                .iter()
                .map(|c| *c as u8)
                .collect()
        }

        fn verify_values(
            &self,
            mcp: bool,
            values: &[&[u8]],
        ) -> (wga_status, Option<wga_principal>) {
            let ptrs: Vec<*const u8> = values.iter().map(|v| v.as_ptr()).collect();
            let lens: Vec<usize> = values.iter().map(|v| v.len()).collect();
            let mut out = MaybeUninit::<wga_principal>::zeroed();
            let f = if mcp {
                wga_keyring_verify_authorization
            } else {
                wga_keyring_verify_access_token
            };
            // SAFETY: arrays of `values.len()` valid byte strings.
            let status = unsafe {
                f(
                    self.keyring,
                    ptrs.as_ptr(),
                    lens.as_ptr(),
                    values.len(),
                    NOW,
                    out.as_mut_ptr(),
                )
            };
            // SAFETY: written on WGA_OK.
            (
                status,
                (status == wga_status::WGA_OK).then(|| unsafe { out.assume_init() }),
            )
        }
    }

    fn text(chars: &[c_char], len: usize) -> String {
        String::from_utf8(chars[..len].iter().map(|c| *c as u8).collect()).unwrap()
    }

    #[test]
    fn create_verify_regenerate_delete() {
        let f = Fixture::new();
        let token = f.token();
        let (status, principal) = f.verify_values(false, &[&token]);
        assert_eq!(status, wga_status::WGA_OK);
        let p = principal.unwrap();
        assert_eq!(text(&p.account, p.account_len), "acct_1");
        assert_eq!(text(&p.name, p.name_len), "Production API");
        assert_eq!(text(&p.token_id, 16), text(&f.record.id, 16));
        assert_eq!(p.account[p.account_len], 0);

        let bearer = [b"Bearer ".as_slice(), &token].concat();
        assert_eq!(f.verify_values(true, &[&bearer]).0, wga_status::WGA_OK);
        assert_eq!(f.verify_values(true, &[]).0, wga_status::WGA_BEARER_MISSING);
        assert_eq!(
            f.verify_values(false, &[&token, &token]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );
        assert_eq!(
            f.verify_values(false, &[b"wgat_x"]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );

        // Regenerate with a grace period: both tokens work until it ends.
        let mut new_token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut new_len = 0;
        let mut record = MaybeUninit::<wga_record>::uninit();
        // SAFETY: valid pointers and lengths.
        let status = unsafe {
            wga_keyring_regenerate(
                f.keyring,
                f.record.id.as_ptr(),
                16,
                NOW,
                NOW + 60,
                new_token.as_mut_ptr(),
                new_token.len(),
                &mut new_len,
                record.as_mut_ptr(),
            )
        };
        assert_eq!(status, wga_status::WGA_OK);
        // SAFETY: written on WGA_OK.
        let record = unsafe { record.assume_init() };
        assert!(record.has_rollover && record.rollover_until == NOW + 60);
        let new: Vec<u8> = new_token[..new_len].iter().map(|c| *c as u8).collect();
        assert_eq!(f.verify_values(false, &[&token]).0, wga_status::WGA_OK);
        assert_eq!(f.verify_values(false, &[&new]).0, wga_status::WGA_OK);

        // SAFETY: valid pointers.
        let status = unsafe { wga_keyring_delete(f.keyring, f.record.id.as_ptr(), 16) };
        assert_eq!(status, wga_status::WGA_OK);
        assert_eq!(
            f.verify_values(false, &[&new]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );
        // SAFETY: valid pointers.
        let status = unsafe { wga_keyring_delete(f.keyring, f.record.id.as_ptr(), 16) };
        assert_eq!(status, wga_status::WGA_UNKNOWN_TOKEN);
    }

    /// While the keyring is unavailable, every presented token (good or
    /// bad, through every entry point) gets `WGA_STORE_UNAVAILABLE`, a
    /// missing one its usual answer; lifecycle calls still work; setting it
    /// available again restores the usual answers.
    #[test]
    fn an_unavailable_keyring_answers_store_unavailable() {
        use wga_status::{WGA_NULL_PARAMETER, WGA_OK, WGA_STORE_UNAVAILABLE};
        let f = Fixture::new();
        let token = f.token();
        let bearer = [b"Bearer ".as_slice(), &token].concat();
        let bad = b"wgat_not_a_token".as_slice();
        let bare = |t: &[u8], out: *mut wga_principal| {
            // SAFETY: a live keyring and `t.len()` readable bytes.
            unsafe { wga_keyring_verify_token(f.keyring, t.as_ptr(), t.len(), NOW, out) }
        };
        let headers = |profile: u32, value: &[u8]| {
            let (name, value) = (
                if profile == 0 {
                    b"Access-Token".as_slice()
                } else {
                    b"authorization"
                },
                value,
            );
            // SAFETY: arrays of one valid byte string each.
            unsafe {
                wga_keyring_verify_headers(
                    f.keyring,
                    profile,
                    &name.as_ptr(),
                    &name.len(),
                    &value.as_ptr(),
                    &value.len(),
                    1,
                    NOW,
                    null_mut(),
                )
            }
        };
        let mut out = MaybeUninit::<wga_principal>::zeroed();
        // SAFETY: a live keyring, or NULL where tested.
        unsafe {
            assert!(wga_keyring_is_available(f.keyring));
            assert!(!wga_keyring_is_available(null()));
            assert_eq!(wga_keyring_set_available(null(), false), WGA_NULL_PARAMETER);
            assert!(wga_keyring_is_available(f.keyring));
            assert_eq!(wga_keyring_set_available(f.keyring, false), WGA_OK);
            assert!(!wga_keyring_is_available(f.keyring));
        }
        for value in [token.as_slice(), bad, b"  x  "] {
            assert_eq!(f.verify_values(false, &[value]).0, WGA_STORE_UNAVAILABLE);
            assert_eq!(headers(0, value), WGA_STORE_UNAVAILABLE);
            assert_eq!(bare(value, out.as_mut_ptr()), WGA_STORE_UNAVAILABLE);
        }
        for value in [bearer.as_slice(), b"Bearer x"] {
            assert_eq!(f.verify_values(true, &[value]).0, WGA_STORE_UNAVAILABLE);
            assert_eq!(headers(1, value), WGA_STORE_UNAVAILABLE);
        }
        // Header values that are invalid whatever the store holds (as the
        // core answers them): two token headers, the scheme alone.
        assert_eq!(
            f.verify_values(false, &[&token, &token]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );
        assert_eq!(
            f.verify_values(true, &[b"Bearer"]).0,
            wga_status::WGA_BEARER_INVALID
        );
        assert_eq!(bare(b"", out.as_mut_ptr()), WGA_STORE_UNAVAILABLE);
        // No token: the usual answer, which needs no store.
        assert_eq!(
            f.verify_values(false, &[]).0,
            wga_status::WGA_ACCESS_TOKEN_MISSING
        );
        assert_eq!(
            f.verify_values(false, &[b" "]).0,
            wga_status::WGA_ACCESS_TOKEN_MISSING
        );
        assert_eq!(f.verify_values(true, &[]).0, wga_status::WGA_BEARER_MISSING);
        assert_eq!(
            f.verify_values(true, &[&token]).0,
            wga_status::WGA_BEARER_MISSING
        );
        assert_eq!(headers(1, b"Basic abc"), wga_status::WGA_BEARER_MISSING);
        // Lifecycle calls still work.
        // SAFETY: a live keyring and a valid id.
        unsafe {
            assert_eq!(
                wga_keyring_delete(f.keyring, f.record.id.as_ptr(), 16),
                WGA_OK
            );
            assert_eq!(wga_keyring_add(f.keyring, &f.record), WGA_OK);
            assert_eq!(wga_keyring_set_available(f.keyring, true), WGA_OK);
            assert!(wga_keyring_is_available(f.keyring));
        }
        // Recovered: the usual answers, and the principal is written again.
        assert_eq!(f.verify_values(false, &[&token]).0, WGA_OK);
        assert_eq!(f.verify_values(true, &[&bearer]).0, WGA_OK);
        assert_eq!(headers(0, &token), WGA_OK);
        assert_eq!(bare(&token, out.as_mut_ptr()), WGA_OK);
        assert_eq!(
            f.verify_values(false, &[bad]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );
        assert_eq!(bare(bad, out.as_mut_ptr()), wga_status::WGA_INVALID_TOKEN);
    }

    /// The C profile values stand for the core's profiles of the same name.
    #[test]
    fn profile_values_map_to_the_cores_profiles() {
        let rest = wga_profile::to_core(wga_profile::WGA_PROFILE_REST as u32);
        let mcp = wga_profile::to_core(wga_profile::WGA_PROFILE_MCP as u32);
        assert_eq!(rest, Some("rest".parse().unwrap()));
        assert_eq!(mcp, Some("mcp".parse().unwrap()));
        assert_eq!(wga_profile::to_core(2), None);
    }

    #[test]
    fn headers_bare_tokens_and_null_arguments() {
        let f = Fixture::new();
        let token = f.token();
        let names: [&[u8]; 2] = [b"Host", b"ACCESS-token"];
        let values: [&[u8]; 2] = [b"example.com", &token];
        let np: Vec<*const u8> = names.iter().map(|v| v.as_ptr()).collect();
        let nl: Vec<usize> = names.iter().map(|v| v.len()).collect();
        let vp: Vec<*const u8> = values.iter().map(|v| v.as_ptr()).collect();
        let vl: Vec<usize> = values.iter().map(|v| v.len()).collect();
        let mut out = MaybeUninit::<wga_principal>::zeroed();
        let headers = |profile: u32, out: *mut wga_principal| {
            // SAFETY: arrays of two valid byte strings each.
            unsafe {
                wga_keyring_verify_headers(
                    f.keyring,
                    profile,
                    np.as_ptr(),
                    nl.as_ptr(),
                    vp.as_ptr(),
                    vl.as_ptr(),
                    2,
                    NOW,
                    out,
                )
            }
        };
        assert_eq!(headers(0, out.as_mut_ptr()), wga_status::WGA_OK);
        assert_eq!(headers(1, out.as_mut_ptr()), wga_status::WGA_BEARER_MISSING);
        assert_eq!(
            headers(2, out.as_mut_ptr()),
            wga_status::WGA_INVALID_ARGUMENT
        );
        // No principal wanted: only the verdict.
        assert_eq!(headers(0, null_mut()), wga_status::WGA_OK);

        // SAFETY: valid pointers and lengths (or NULL where tested).
        unsafe {
            let t = token.as_ptr();
            assert_eq!(
                wga_keyring_verify_token(f.keyring, t, token.len(), NOW, out.as_mut_ptr()),
                wga_status::WGA_OK
            );
            assert_eq!(
                wga_keyring_verify_token(f.keyring, t, token.len() - 1, NOW, out.as_mut_ptr()),
                wga_status::WGA_INVALID_TOKEN
            );
            // A wild length: only MAX_TOKEN_LEN + 1 bytes are ever looked at
            // (Miri checks that no more is touched).
            let mut padded = token.clone();
            padded.resize(MAX_TOKEN_LEN + 1, b'A');
            assert_eq!(
                wga_keyring_verify_token(
                    f.keyring,
                    padded.as_ptr(),
                    usize::MAX,
                    NOW,
                    out.as_mut_ptr()
                ),
                wga_status::WGA_INVALID_TOKEN
            );
            assert_eq!(
                wga_keyring_verify_token(null(), t, token.len(), NOW, out.as_mut_ptr()),
                wga_status::WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_verify_token(f.keyring, null(), 0, NOW, out.as_mut_ptr()),
                wga_status::WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_verify_access_token(
                    f.keyring,
                    null(),
                    null(),
                    1,
                    NOW,
                    out.as_mut_ptr()
                ),
                wga_status::WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_verify_access_token(
                    f.keyring,
                    null(),
                    null(),
                    0,
                    NOW,
                    out.as_mut_ptr()
                ),
                wga_status::WGA_ACCESS_TOKEN_MISSING
            );
            let one_null = [null::<u8>()];
            assert_eq!(
                wga_keyring_verify_access_token(
                    f.keyring,
                    one_null.as_ptr(),
                    [0].as_ptr(),
                    1,
                    NOW,
                    out.as_mut_ptr()
                ),
                wga_status::WGA_NULL_PARAMETER
            );
        }
    }

    #[test]
    fn list_get_sync_and_last_use() {
        let f = Fixture::new();
        let token = f.token();
        assert_eq!(f.verify_values(false, &[&token]).0, wga_status::WGA_OK);
        // SAFETY: valid pointers; lists freed once.
        unsafe {
            let mut list = null_mut();
            assert_eq!(
                wga_keyring_take_last_used(f.keyring, &mut list),
                wga_status::WGA_OK
            );
            assert_eq!(wga_record_list_len(list), 1);
            let mut rec = MaybeUninit::<wga_record>::uninit();
            assert_eq!(
                wga_record_list_get(list, 0, rec.as_mut_ptr()),
                wga_status::WGA_OK
            );
            let rec = rec.assume_init();
            assert!(rec.has_last_used_at && rec.last_used_at == NOW);
            let mut other = MaybeUninit::<wga_record>::uninit();
            assert_eq!(
                wga_record_list_get(list, 1, other.as_mut_ptr()),
                wga_status::WGA_INDEX_OUT_OF_RANGE
            );
            wga_record_list_free(list);

            let mut list = null_mut();
            assert_eq!(
                wga_keyring_list(f.keyring, c"nobody".as_ptr(), 6, &mut list),
                wga_status::WGA_OK
            );
            assert_eq!(wga_record_list_len(list), 0);
            wga_record_list_free(list);
            wga_record_list_free(null_mut());

            let mut got = MaybeUninit::<wga_record>::uninit();
            assert_eq!(
                wga_keyring_get(f.keyring, rec.id.as_ptr(), 16, got.as_mut_ptr()),
                wga_status::WGA_OK
            );
            assert_eq!(
                wga_keyring_get(f.keyring, c"zz".as_ptr(), 2, got.as_mut_ptr()),
                wga_status::WGA_INVALID_TOKEN_ID
            );

            assert_eq!(
                wga_keyring_add(f.keyring, &rec),
                wga_status::WGA_DUPLICATE_ID
            );
            assert_eq!(wga_keyring_sync(f.keyring, null(), 0), wga_status::WGA_OK);
            assert_eq!(wga_keyring_len(f.keyring), 0);
            assert_eq!(wga_keyring_add(f.keyring, &rec), wga_status::WGA_OK);
            assert_eq!(wga_keyring_len(f.keyring), 1);
            assert_eq!(f.verify_values(false, &[&token]).0, wga_status::WGA_OK);
            assert_eq!(wga_keyring_len(null()), 0);
        }
    }

    /// Two threads verify while a third deletes (small, so Miri can check
    /// the shared keyring for data races through the C entry points).
    #[test]
    fn concurrent_verify_and_delete() {
        struct Shared(*mut wga_keyring);
        // SAFETY: the keyring is documented as usable from many threads.
        unsafe impl Sync for Shared {}
        let f = Fixture::new();
        let shared = Shared(f.keyring);
        let token = f.token();
        let id = f.record.id;
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let shared = &shared;
                    let mut out = MaybeUninit::<wga_principal>::uninit();
                    for _ in 0..3 {
                        let (ptr, len) = (token.as_ptr(), token.len());
                        // SAFETY: live keyring, one valid value.
                        let status = unsafe {
                            wga_keyring_verify_access_token(
                                shared.0,
                                &ptr,
                                &len,
                                1,
                                NOW,
                                out.as_mut_ptr(),
                            )
                        };
                        assert!(matches!(
                            status,
                            wga_status::WGA_OK | wga_status::WGA_ACCESS_TOKEN_INVALID
                        ));
                    }
                });
            }
            scope.spawn(|| {
                let shared = &shared;
                // SAFETY: live keyring, valid id.
                let status = unsafe { wga_keyring_delete(shared.0, id.as_ptr(), 16) };
                assert_eq!(status, wga_status::WGA_OK);
            });
        });
        assert_eq!(
            f.verify_values(false, &[&token]).0,
            wga_status::WGA_ACCESS_TOKEN_INVALID
        );
    }
}
