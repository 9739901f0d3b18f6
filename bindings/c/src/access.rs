//! Records beyond the seed's fields (issue 14) in C: what a token may do
//! (scopes), when it stops working, whether it is disabled, what it is for;
//! the lifetime policy; the scope check after authentication and its answer.
//!
//! `wga_record` and `wga_principal` keep their layout (callers allocate
//! them, and `wga_keyring_sync` reads arrays of records: a larger struct
//! would break every program built against an earlier header). The new
//! fields travel in their own structs, `wga_record_extra` and
//! `wga_principal_ex`, through `_ex` functions beside the old ones.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ffi::c_char;

use wga_core::{
    Description, LifetimePolicy, NewToken, OsRng, PrincipalRef, Profile, Scope, ScopeDenial,
    ScopeError, Scopes, Timestamp, TokenRecord, TokenUpdate,
};

use crate::keyring::wga_keyring;
use crate::panic::{ffi_panic_boundary, try_out, try_ref, try_slice};
use crate::record::{
    check_token_buffer, instant, parse_account, parse_id, parse_name, wga_record, wga_record_list,
    write_cstr, write_issued,
};
use crate::status::wga_status;
use crate::store_error::{set_last_error, through_store};
use crate::verify::{
    authenticate_headers, authenticate_values, verify_bare, wga_principal, write_principal,
};

/// The most bytes one scope takes (`resource:action`, 32 + 1 + 32 ASCII).
pub const WGA_SCOPE_MAX_BYTES: usize = 65;
/// The most bytes a token's scopes take as a space-separated list: 64
/// scopes of `WGA_SCOPE_MAX_BYTES` and 63 spaces.
pub const WGA_SCOPES_MAX_BYTES: usize = 4223;
/// Size of a buffer that holds any scope list and its NUL.
pub const WGA_SCOPES_BUFFER_LEN: usize = 4224;
/// The most bytes a description takes in UTF-8 (256 characters).
pub const WGA_DESCRIPTION_MAX_BYTES: usize = 1024;
/// Size of a buffer that holds any description and its NUL.
pub const WGA_DESCRIPTION_BUFFER_LEN: usize = 1025;
/// The default cap on a regeneration's grace period: 30 days, in seconds.
pub const WGA_DEFAULT_MAX_GRACE_SECS: u64 = 2_592_000;
/// Size of the text fields of `wga_scope_denial` (each answer, with its
/// NUL, fits with room to spare).
pub const WGA_SCOPE_DENIAL_TEXT_LEN: usize = 256;

const _: () = {
    assert!(WGA_SCOPE_MAX_BYTES == 2 * wga_core::MAX_SCOPE_PART + 1);
    assert!(WGA_SCOPES_MAX_BYTES == wga_core::MAX_SCOPES * (WGA_SCOPE_MAX_BYTES + 1) - 1);
    assert!(WGA_SCOPES_BUFFER_LEN == WGA_SCOPES_MAX_BYTES + 1);
    assert!(WGA_DESCRIPTION_MAX_BYTES == 4 * wga_core::MAX_DESCRIPTION_CHARS);
    assert!(WGA_DESCRIPTION_BUFFER_LEN == WGA_DESCRIPTION_MAX_BYTES + 1);
    assert!(WGA_DEFAULT_MAX_GRACE_SECS == LifetimePolicy::DEFAULT.max_grace);
    assert!(LifetimePolicy::DEFAULT.max_lifetime.is_none());
};

/// A record's fields beyond `wga_record`: what the token may do, when it
/// expires, whether it is disabled, what it is for. Written beside a
/// `wga_record` by the `_ex` functions, `wga_keyring_get_extra` and
/// `wga_record_list_get_extra`; read by `wga_keyring_add_ex` and
/// `wga_keyring_sync_ex`. Store it with the record: a record kept without
/// it loses its restrictions (full access, never expires, enabled).
///
/// All zero (`memset(&x, 0, sizeof x)`) is the default: full access, no
/// expiry, enabled, no description. The `bool` fields must hold `true` or
/// `false`. Strings are UTF-8 and NUL-terminated on output; on input they
/// are read as `scopes_len` / `description_len` bytes.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_record_extra {
    /// false: full access (the default; `scopes` is empty). true: only the
    /// scopes listed in `scopes`, none at all when it is empty.
    pub restricted: bool,
    /// The scopes, `resource:action` names separated by single spaces,
    /// sorted, each once (such as `devices:* messages:send`).
    pub scopes: [c_char; WGA_SCOPES_BUFFER_LEN],
    /// Length of `scopes` in bytes, without the NUL.
    pub scopes_len: usize,
    /// Whether the token expires (`expires_at` holds when).
    pub has_expires_at: bool,
    /// The token is refused from this instant on (seconds since the epoch).
    pub expires_at: u64,
    /// The token is refused while this is set, without being deleted.
    pub disabled: bool,
    /// Whether `description` holds a value.
    pub has_description: bool,
    /// What the token is for (UTF-8, NUL-terminated on output).
    pub description: [c_char; WGA_DESCRIPTION_BUFFER_LEN],
    /// Length of `description` in bytes, without the NUL.
    pub description_len: usize,
}

/// Options for `wga_keyring_create_ex`. All zero is a token as
/// `wga_keyring_create` makes it: full access, no expiry (unless the
/// keyring's policy has a maximum lifetime), no description.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_token_options {
    /// NULL: full access. Otherwise `scopes_len` bytes of `resource:action`
    /// names separated by spaces (empty: no scope at all). At most 64.
    pub scopes: *const c_char,
    /// Length of `scopes` in bytes.
    pub scopes_len: usize,
    /// When the token stops working (seconds since the epoch, later than
    /// `now`); 0: never, or after the policy's maximum lifetime if it has one.
    pub expires_at: u64,
    /// NULL: no description. Otherwise `description_len` bytes of UTF-8.
    pub description: *const c_char,
    /// Length of `description` in bytes.
    pub description_len: usize,
}

/// A change for `wga_keyring_update`; each `set_*` flag false leaves that
/// field as it is (all zero changes nothing).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_token_update {
    /// Rename the token to `name` (`name_len` bytes).
    pub set_name: bool,
    /// The new name (unique within the account).
    pub name: *const c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// Set the description to `description`, or remove it when that is NULL.
    pub set_description: bool,
    /// The new description (`description_len` bytes of UTF-8) or NULL.
    pub description: *const c_char,
    /// Length of `description` in bytes.
    pub description_len: usize,
    /// Set the scopes: full access when `scopes` is NULL, else the
    /// space-separated list (empty: no scope at all).
    pub set_scopes: bool,
    /// The new scopes (`scopes_len` bytes) or NULL.
    pub scopes: *const c_char,
    /// Length of `scopes` in bytes.
    pub scopes_len: usize,
    /// Disable (`disabled` true) or enable (false) the token.
    pub set_disabled: bool,
    /// The new state when `set_disabled` is true.
    pub disabled: bool,
}

/// How long tokens may live, for `wga_keyring_new_with_policy`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wga_lifetime_policy {
    /// The longest a new token may live, in seconds; a token created without
    /// an expiry gets one this far ahead. 0: no maximum (the default).
    pub max_lifetime_secs: u64,
    /// The longest grace period a regeneration may ask for, in seconds
    /// (the default: `WGA_DEFAULT_MAX_GRACE_SECS`, 30 days). 0: none.
    pub max_grace_secs: u64,
}

/// Who a request was authenticated as, and what its token may do. Written
/// by the `wga_keyring_verify_*_ex` functions on `WGA_OK` only; read it with
/// `wga_principal_has_scope`. Only the bytes up to each NUL are written.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_principal_ex {
    /// The token id, account and name, as the other verify functions write them.
    pub principal: wga_principal,
    /// false: full access. true: only the scopes in `scopes` (none when empty).
    pub restricted: bool,
    /// The token's scopes, sorted, separated by single spaces.
    pub scopes: [c_char; WGA_SCOPES_BUFFER_LEN],
    /// Length of `scopes` in bytes, without the NUL.
    pub scopes_len: usize,
}

/// The answer to a request whose token was accepted but lacks the scope
/// its route needs, from `wga_scope_denial_for`: send `http_code` (403),
/// `body` with `Content-Type: application/json`, and, when
/// `has_www_authenticate`, a `WWW-Authenticate` header with
/// `www_authenticate`. Strings are NUL-terminated.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_scope_denial {
    /// The HTTP status: 403, in both profiles.
    pub http_code: u16,
    /// The JSON body, such as `{"message": "the token lacks the scope messages:send"}`.
    pub body: [c_char; WGA_SCOPE_DENIAL_TEXT_LEN],
    /// Length of `body` in bytes, without the NUL.
    pub body_len: usize,
    /// Whether to send `www_authenticate` (the MCP profile only).
    pub has_www_authenticate: bool,
    /// `Bearer realm="whatsgate", error="insufficient_scope", scope="…"` (RFC 6750 §3.1).
    pub www_authenticate: [c_char; WGA_SCOPE_DENIAL_TEXT_LEN],
    /// Length of `www_authenticate` in bytes, without the NUL.
    pub www_authenticate_len: usize,
}

/// The status for a refused scope list; its message (which name, or how
/// many) is kept for `wga_last_error_message`.
fn scope_status(e: &ScopeError) -> wga_status {
    set_last_error(e.to_string());
    match e {
        ScopeError::BadName(_) => wga_status::WGA_INVALID_SCOPE,
        ScopeError::TooMany(_) => wga_status::WGA_TOO_MANY_SCOPES,
    }
}

/// A space-separated scope list (runs of spaces count as one).
fn parse_scopes(bytes: &[u8]) -> Result<Scopes, wga_status> {
    let Ok(text) = core::str::from_utf8(bytes) else {
        set_last_error("a scope list is not UTF-8".to_string());
        return Err(wga_status::WGA_INVALID_SCOPE);
    };
    Scopes::only(text.split(' ').filter(|s| !s.is_empty())).map_err(|e| scope_status(&e))
}

fn parse_description(bytes: &[u8]) -> Result<Description, wga_status> {
    core::str::from_utf8(bytes)
        .ok()
        .and_then(|text| Description::new(text).ok())
        .ok_or(wga_status::WGA_INVALID_DESCRIPTION)
}

/// A scope list, sorted, as one space-separated string.
fn joined(scopes: &Scopes) -> String {
    scopes.list().map_or_else(String::new, |list| {
        list.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    })
}

fn as_bytes(chars: &[c_char]) -> &[u8] {
    // SAFETY: c_char and u8 have the same size and alignment, and every bit
    // pattern is valid for both.
    unsafe { core::slice::from_raw_parts(chars.as_ptr().cast::<u8>(), chars.len()) }
}

/// A C (pointer, length) argument that may be NULL: `None` then.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes, alive for `'a`.
unsafe fn optional<'a>(ptr: *const c_char, len: usize) -> Option<&'a [u8]> {
    // SAFETY: non-null with `len` readable bytes (contract).
    (!ptr.is_null()).then(|| unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

impl wga_record_extra {
    pub(crate) fn from_record(record: &TokenRecord) -> Self {
        let mut out = Self {
            restricted: !record.scopes.is_full(),
            scopes: [0; WGA_SCOPES_BUFFER_LEN],
            scopes_len: 0,
            has_expires_at: record.expires_at.is_some(),
            expires_at: record.expires_at.map_or(0, Timestamp::as_secs),
            disabled: record.disabled,
            has_description: record.description.is_some(),
            description: [0; WGA_DESCRIPTION_BUFFER_LEN],
            description_len: 0,
        };
        // SAFETY: both fields are `out`'s own, valid for writes of their
        // size; the texts are Rust memory.
        unsafe {
            out.scopes_len = write_cstr(&raw mut out.scopes, joined(&record.scopes).as_bytes());
            if let Some(d) = &record.description {
                out.description_len = write_cstr(&raw mut out.description, d.as_str().as_bytes());
            }
        }
        out
    }

    /// Sets `record`'s fields beyond the seed's from this struct.
    pub(crate) fn apply_to(&self, record: &mut TokenRecord) -> Result<(), wga_status> {
        record.scopes = if self.restricted {
            let bytes = as_bytes(&self.scopes)
                .get(..self.scopes_len)
                .filter(|_| self.scopes_len <= WGA_SCOPES_MAX_BYTES)
                .ok_or(wga_status::WGA_INVALID_SCOPE)?;
            parse_scopes(bytes)?
        } else {
            Scopes::FULL
        };
        record.expires_at = self.has_expires_at.then_some(Timestamp(self.expires_at));
        record.disabled = self.disabled;
        record.description = if self.has_description {
            let bytes = as_bytes(&self.description)
                .get(..self.description_len)
                .filter(|_| self.description_len <= WGA_DESCRIPTION_MAX_BYTES)
                .ok_or(wga_status::WGA_INVALID_DESCRIPTION)?;
            Some(parse_description(bytes)?)
        } else {
            None
        };
        Ok(())
    }
}

/// A record read from a `wga_record` and its `wga_record_extra`.
fn read_full(record: &wga_record, extra: &wga_record_extra) -> Result<TokenRecord, wga_status> {
    let mut out = record.read()?;
    extra.apply_to(&mut out)?;
    Ok(out)
}

impl wga_token_options {
    /// The token to create.
    ///
    /// # Safety
    /// Its pointers are NULL or point to their lengths in readable bytes.
    unsafe fn spec(
        &self,
        account: wga_core::AccountId,
        name: wga_core::TokenName,
    ) -> Result<NewToken, wga_status> {
        let mut spec = NewToken::new(account, name);
        // SAFETY: NULL or readable for its length (contract).
        if let Some(scopes) = unsafe { optional(self.scopes, self.scopes_len) } {
            spec.scopes = parse_scopes(scopes)?;
        }
        spec.expires_at = (self.expires_at != 0).then_some(Timestamp(self.expires_at));
        // SAFETY: as above.
        if let Some(text) = unsafe { optional(self.description, self.description_len) } {
            spec.description = Some(parse_description(text)?);
        }
        Ok(spec)
    }
}

impl wga_token_update {
    /// The core's change.
    ///
    /// # Safety
    /// Its pointers are NULL or point to their lengths in readable bytes.
    unsafe fn read(&self) -> Result<TokenUpdate, wga_status> {
        let mut update = TokenUpdate::default();
        if self.set_name {
            // SAFETY: NULL or readable for its length (contract).
            let name = unsafe { optional(self.name, self.name_len) };
            update.name = Some(parse_name(name.ok_or(wga_status::WGA_NULL_PARAMETER)?)?);
        }
        if self.set_description {
            // SAFETY: as above.
            let text = unsafe { optional(self.description, self.description_len) };
            update.description = Some(text.map(parse_description).transpose()?);
        }
        if self.set_scopes {
            // SAFETY: as above.
            let scopes = unsafe { optional(self.scopes, self.scopes_len) };
            update.scopes = Some(scopes.map_or(Ok(Scopes::FULL), parse_scopes)?);
        }
        if self.set_disabled {
            update.disabled = Some(self.disabled);
        }
        Ok(update)
    }
}

impl wga_lifetime_policy {
    fn to_core(self) -> LifetimePolicy {
        LifetimePolicy {
            max_lifetime: (self.max_lifetime_secs != 0).then_some(self.max_lifetime_secs),
            max_grace: self.max_grace_secs,
        }
    }

    fn from_core(policy: &LifetimePolicy) -> Self {
        Self {
            max_lifetime_secs: policy.max_lifetime.unwrap_or(0),
            max_grace_secs: policy.max_grace,
        }
    }
}

/// Writes a token, its record and the record's extra fields.
fn write_issued_ex(
    token: &wga_core::Token,
    record: &TokenRecord,
    token_buf: *mut c_char,
    token_len: *mut usize,
    record_out: *mut wga_record,
    extra_out: *mut wga_record_extra,
) {
    write_issued(token, record, token_buf, token_len, record_out);
    // SAFETY: the caller checked it non-null; valid for a write (contract).
    unsafe { extra_out.write(wga_record_extra::from_record(record)) };
}

/// Creates an empty in-memory keyring (as `wga_keyring_new`) that applies
/// `*policy` to the tokens it creates and regenerates: a maximum lifetime
/// for new tokens, and a cap on grace periods. `wga_keyring_new` applies
/// the default (no maximum lifetime, grace up to 30 days).
///
/// Returns `WGA_OK` or `WGA_NULL_PARAMETER`.
///
/// # Safety
/// `policy` points to a readable `wga_lifetime_policy`; `keyring_out` is
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_new_with_policy(
    policy: *const wga_lifetime_policy,
    keyring_out: *mut *mut wga_keyring,
) -> wga_status {
    ffi_panic_boundary! {
        let policy = try_ref!(policy).to_core();
        let keyring_out = try_out!(keyring_out);
        let keyring = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(
            wga_keyring::in_memory(wga_core::Keyring::new().with_policy(policy)),
        ));
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { keyring_out.write(keyring) };
        wga_status::WGA_OK
    }
}

/// Writes the lifetime policy the keyring applies to `*policy_out`.
///
/// Returns `WGA_OK` or `WGA_NULL_PARAMETER`.
///
/// # Safety
/// `keyring` is a live keyring; `policy_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_get_policy(
    keyring: *const wga_keyring,
    policy_out: *mut wga_lifetime_policy,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let policy_out = try_out!(policy_out);
        let policy = wga_lifetime_policy::from_core(&keyring.policy());
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { policy_out.write(policy) };
        wga_status::WGA_OK
    }
}

/// Creates a token as `wga_keyring_create` does, with the options in
/// `*options` (NULL: the defaults): scopes, an expiry, a description. Also
/// writes the record's extra fields to `*extra_out`: store them with the
/// record. The keyring's lifetime policy applies (see
/// `wga_keyring_new_with_policy`).
///
/// Returns what `wga_keyring_create` returns, and `WGA_INVALID_SCOPE`,
/// `WGA_TOO_MANY_SCOPES`, `WGA_INVALID_DESCRIPTION` or `WGA_POLICY_REFUSED`
/// (an expiry not in the future, or past the maximum lifetime); nothing is
/// created then.
///
/// # Safety
/// As `wga_keyring_create`; `options` is NULL or points to a readable
/// `wga_token_options` whose pointers are NULL or readable for their
/// lengths; `extra_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_create_ex(
    keyring: *const wga_keyring,
    account: *const c_char,
    account_len: usize,
    name: *const c_char,
    name_len: usize,
    options: *const wga_token_options,
    now: u64,
    token_buf: *mut c_char,
    token_buf_len: usize,
    token_len: *mut usize,
    record_out: *mut wga_record,
    extra_out: *mut wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = try_ref!(keyring);
        let account = try_slice!(account, account_len);
        let name = try_slice!(name, name_len);
        let token_buf = try_out!(token_buf);
        let token_len = try_out!(token_len);
        let record_out = try_out!(record_out);
        let extra_out = try_out!(extra_out);
        // SAFETY: NULL or readable, with readable pointers (contract).
        let spec = match unsafe { new_token(account, name, options) } {
            Ok(spec) => spec,
            Err(e) => return e,
        };
        if let Err(e) = check_token_buffer(token_buf_len, token_len) {
            return e;
        }
        let created = match keyring.synced() {
            Some(synced) => through_store(|| synced.create_from(spec, instant(now))),
            None => keyring
                .keyring()
                .create_from(&mut OsRng, spec, instant(now))
                .map_err(wga_status::from),
        };
        match created {
            Ok((token, record)) => {
                write_issued_ex(&token, &record, token_buf, token_len, record_out, extra_out);
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Generates a token as `wga_generate_token` does (no keyring), with the
/// options in `*options` (NULL: the defaults), and writes the record's
/// extra fields to `*extra_out`: store them with the record, and load both
/// with `wga_keyring_add_ex`. The default lifetime policy applies (an
/// expiry must be in the future; no maximum lifetime).
///
/// Returns what `wga_generate_token` returns, and `WGA_INVALID_SCOPE`,
/// `WGA_TOO_MANY_SCOPES`, `WGA_INVALID_DESCRIPTION` or
/// `WGA_POLICY_REFUSED`.
///
/// # Safety
/// As `wga_generate_token`; `options` is NULL or points to a readable
/// `wga_token_options` whose pointers are NULL or readable for their
/// lengths; `extra_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_generate_token_ex(
    account: *const c_char,
    account_len: usize,
    name: *const c_char,
    name_len: usize,
    options: *const wga_token_options,
    now: u64,
    token_buf: *mut c_char,
    token_buf_len: usize,
    token_len: *mut usize,
    record_out: *mut wga_record,
    extra_out: *mut wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let account = try_slice!(account, account_len);
        let name = try_slice!(name, name_len);
        let token_buf = try_out!(token_buf);
        let token_len = try_out!(token_len);
        let record_out = try_out!(record_out);
        let extra_out = try_out!(extra_out);
        // SAFETY: NULL or readable, with readable pointers (contract).
        let spec = match unsafe { new_token(account, name, options) } {
            Ok(spec) => spec,
            Err(e) => return e,
        };
        if let Err(e) = check_token_buffer(token_buf_len, token_len) {
            return e;
        }
        let now = instant(now);
        let mut spec = spec;
        if let Err(e) = LifetimePolicy::DEFAULT.admit(&mut spec, now) {
            return wga_core::KeyringError::Policy(e).into();
        }
        match TokenRecord::create_from(&wga_core::TokenFormat::DEFAULT, &mut OsRng, spec, now) {
            Ok((token, record)) => {
                write_issued_ex(&token, &record, token_buf, token_len, record_out, extra_out);
                wga_status::WGA_OK
            }
            Err(_) => wga_status::WGA_RNG_FAILED,
        }
    }
}

/// The token to create from C arguments: account, name, and options (NULL:
/// the defaults).
///
/// # Safety
/// `options` is NULL or points to a readable `wga_token_options` whose
/// pointers are NULL or readable for their lengths.
unsafe fn new_token(
    account: &[u8],
    name: &[u8],
    options: *const wga_token_options,
) -> Result<NewToken, wga_status> {
    let account = parse_account(account)?;
    let name = parse_name(name)?;
    // SAFETY: NULL or readable (contract).
    match unsafe { options.as_ref() } {
        // SAFETY: its pointers are NULL or readable (contract).
        Some(options) => unsafe { options.spec(account, name) },
        None => Ok(NewToken::new(account, name)),
    }
}

/// Changes a token's name, description, scopes or state (disabled or
/// enabled) as `*update` says, and writes the record as it now is to
/// `*record_out` and `*extra_out` (store them). Once this returns, every
/// verification that starts sees the change: a disabled token is refused
/// like any invalid one. Attached (`wga_keyring_open`): the store is
/// changed, and every host following it sees the change within its
/// wake-up latency.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` (also for `set_name` with a NULL
/// name), `WGA_INVALID_TOKEN_ID`, `WGA_INVALID_NAME`, `WGA_INVALID_SCOPE`,
/// `WGA_TOO_MANY_SCOPES`, `WGA_INVALID_DESCRIPTION`, `WGA_UNKNOWN_TOKEN`,
/// `WGA_DUPLICATE_NAME`, or, attached, `WGA_STORE_ERROR`; nothing is
/// changed then.
///
/// # Safety
/// `keyring` is a live keyring; `id` points to `id_len` readable bytes;
/// `update` to a readable `wga_token_update` whose pointers are NULL or
/// readable for their lengths; `record_out` and `extra_out` are valid for
/// writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_update(
    keyring: *const wga_keyring,
    id: *const c_char,
    id_len: usize,
    update: *const wga_token_update,
    record_out: *mut wga_record,
    extra_out: *mut wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = try_ref!(keyring);
        let id = try_slice!(id, id_len);
        let update = try_ref!(update);
        let record_out = try_out!(record_out);
        let extra_out = try_out!(extra_out);
        let id = match parse_id(id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        // SAFETY: its pointers are NULL or readable (contract).
        let update = match unsafe { update.read() } {
            Ok(update) => update,
            Err(e) => return e,
        };
        let updated = match keyring.synced() {
            Some(synced) => through_store(|| synced.update(id, update)),
            None => keyring.keyring().update(id, update).map_err(wga_status::from),
        };
        match updated {
            Ok(record) => {
                // SAFETY: checked non-null; valid for writes (contract).
                unsafe {
                    record_out.write(wga_record::from_record(&record));
                    extra_out.write(wga_record_extra::from_record(&record));
                }
                wga_status::WGA_OK
            }
            Err(e) => e,
        }
    }
}

/// Deletes every token of an account (say, when it is closed or its keys
/// leaked), and writes the records deleted to a new list in `*deleted_out`
/// (release it with `wga_record_list_free`; an in-memory keyring's host
/// deletes them from its own storage). Once this returns, they are refused.
/// Attached: deleted from the store in one transaction.
///
/// Returns `WGA_OK` (an account with no token gives an empty list),
/// `WGA_NULL_PARAMETER`, `WGA_INVALID_ACCOUNT`, or, attached,
/// `WGA_STORE_ERROR` (`wga_last_error_message` says why).
///
/// # Safety
/// `keyring` is a live keyring; `account` points to `account_len` readable
/// bytes; `deleted_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_revoke_all(
    keyring: *const wga_keyring,
    account: *const c_char,
    account_len: usize,
    deleted_out: *mut *mut wga_record_list,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = try_ref!(keyring);
        let account = try_slice!(account, account_len);
        let deleted_out = try_out!(deleted_out);
        let account = match parse_account(account) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let deleted = match keyring.synced() {
            Some(synced) => match through_store(|| synced.revoke_all(&account)) {
                Ok(deleted) => deleted,
                Err(e) => return e,
            },
            None => keyring.keyring().revoke_all(account.as_str()),
        };
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { deleted_out.write(wga_record_list::into_raw(deleted)) };
        wga_status::WGA_OK
    }
}

/// Deletes every token expired at `now` (seconds; 0: the system clock) and
/// writes the records deleted to a new list in `*deleted_out` (release it
/// with `wga_record_list_free`). Expired tokens are refused already; this
/// only clears them away. Attached: deleted from the store.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, or, attached, `WGA_STORE_ERROR`.
///
/// # Safety
/// `keyring` is a live keyring; `deleted_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_prune(
    keyring: *const wga_keyring,
    now: u64,
    deleted_out: *mut *mut wga_record_list,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = try_ref!(keyring);
        let deleted_out = try_out!(deleted_out);
        let now = instant(now);
        let deleted = match keyring.synced() {
            Some(synced) => match through_store(|| synced.prune(now)) {
                Ok(deleted) => deleted,
                Err(e) => return e,
            },
            None => keyring.keyring().prune(now),
        };
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { deleted_out.write(wga_record_list::into_raw(deleted)) };
        wga_status::WGA_OK
    }
}

/// Copies one record's extra fields to `*extra_out` (as `wga_keyring_get`
/// copies its `wga_record`).
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_TOKEN_ID` or
/// `WGA_UNKNOWN_TOKEN`.
///
/// # Safety
/// `keyring` is a live keyring; `id` points to `id_len` readable bytes;
/// `extra_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_get_extra(
    keyring: *const wga_keyring,
    id: *const c_char,
    id_len: usize,
    extra_out: *mut wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let id = try_slice!(id, id_len);
        let extra_out = try_out!(extra_out);
        let id = match parse_id(id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        match keyring.keyring().get(id) {
            Some(record) => {
                // SAFETY: checked non-null; valid for a write (contract).
                unsafe { extra_out.write(wga_record_extra::from_record(&record)) };
                wga_status::WGA_OK
            }
            None => wga_status::WGA_UNKNOWN_TOKEN,
        }
    }
}

/// Copies the extra fields of the record at `index` (from 0) to
/// `*extra_out` (as `wga_record_list_get` copies its `wga_record`).
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `list` is a live list from this library; `extra_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_record_list_get_extra(
    list: *const wga_record_list,
    index: usize,
    extra_out: *mut wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        let list = try_ref!(list);
        let extra_out = try_out!(extra_out);
        let Some(record) = list.records.get(index) else {
            return wga_status::WGA_INDEX_OUT_OF_RANGE;
        };
        // SAFETY: checked non-null; valid for a write (contract).
        unsafe { extra_out.write(wga_record_extra::from_record(record)) };
        wga_status::WGA_OK
    }
}

/// Adds a stored record with its extra fields (as `wga_keyring_add`, which
/// adds a record with the defaults: full access, no expiry, enabled).
///
/// Returns what `wga_keyring_add` returns, and `WGA_INVALID_SCOPE`,
/// `WGA_TOO_MANY_SCOPES` or `WGA_INVALID_DESCRIPTION`.
///
/// # Safety
/// `keyring` is a live keyring; `record` and `extra` point to readable structs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_add_ex(
    keyring: *const wga_keyring,
    record: *const wga_record,
    extra: *const wga_record_extra,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = try_ref!(keyring);
        let record = try_ref!(record);
        let extra = try_ref!(extra);
        let keyring = match keyring.memory() {
            Ok(keyring) => keyring,
            Err(e) => return e,
        };
        match read_full(record, extra) {
            Ok(record) => match keyring.add(record) {
                Ok(()) => wga_status::WGA_OK,
                Err(e) => e.into(),
            },
            Err(e) => e,
        }
    }
}

/// `wga_keyring_sync` with each record's extra fields: `extras[i]` belongs
/// to `records[i]`. Both may be NULL when `count` is 0.
///
/// Returns what `wga_keyring_sync` returns, and `WGA_INVALID_SCOPE`,
/// `WGA_TOO_MANY_SCOPES` or `WGA_INVALID_DESCRIPTION` for the first bad
/// record; on any error nothing is changed.
///
/// # Safety
/// `keyring` is a live keyring; `records` and `extras` point to `count`
/// readable structs each (or are NULL with `count` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_sync_ex(
    keyring: *const wga_keyring,
    records: *const wga_record,
    extras: *const wga_record_extra,
    count: usize,
) -> wga_status {
    ffi_panic_boundary! {
        set_last_error(String::new());
        let keyring = match try_ref!(keyring).memory() {
            Ok(keyring) => keyring,
            Err(e) => return e,
        };
        let (records, extras): (&[wga_record], &[wga_record_extra]) = if count == 0 {
            (&[], &[])
        } else {
            if records.is_null() || extras.is_null() {
                return wga_status::WGA_NULL_PARAMETER;
            }
            // SAFETY: non-null; the caller promises `count` readable structs each.
            unsafe {
                (
                    core::slice::from_raw_parts(records, count),
                    core::slice::from_raw_parts(extras, count),
                )
            }
        };
        let mut parsed = Vec::with_capacity(count);
        for (record, extra) in records.iter().zip(extras) {
            match read_full(record, extra) {
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

/// Writes a principal and its scopes through raw pointers (the caller's
/// struct may be uninitialised), only the bytes in use.
fn write_ex(out: *mut wga_principal_ex) -> impl FnOnce(PrincipalRef<'_>) {
    move |principal| {
        if out.is_null() {
            return;
        }
        let scopes = principal.scopes();
        // SAFETY: non-null and valid for a write (contract of every caller);
        // each write stays inside its field.
        unsafe {
            write_principal(&raw mut (*out).principal, &principal);
            (&raw mut (*out).restricted).write(!scopes.is_full());
            let len = write_joined(&raw mut (*out).scopes, scopes);
            (&raw mut (*out).scopes_len).write(len);
        }
    }
}

/// Writes a scope list, space-separated, and a NUL into a caller's buffer,
/// returning its length: in place, with no allocation (this runs on every
/// verification of a restricted token). Only the bytes in use are written.
///
/// # Safety
/// `dst` is valid for writing `WGA_SCOPES_BUFFER_LEN` bytes, and not Rust
/// memory that `scopes` borrows.
unsafe fn write_joined(dst: *mut [c_char; WGA_SCOPES_BUFFER_LEN], scopes: &Scopes) -> usize {
    let dst = dst.cast::<u8>();
    let mut at = 0;
    for (i, scope) in scopes.list().unwrap_or_default().iter().enumerate() {
        let name = scope.as_str().as_bytes();
        let sep = usize::from(i > 0);
        // Never taken: at most 64 names of at most 65 bytes fit (asserted
        // above); a cut list would be read as fewer scopes, never more.
        if at + sep + name.len() >= WGA_SCOPES_BUFFER_LEN {
            break;
        }
        // SAFETY: `at + sep + name.len() < WGA_SCOPES_BUFFER_LEN`: inside
        // `dst` (contract); `name` is Rust memory.
        unsafe {
            if sep == 1 {
                dst.add(at).write(b' ');
            }
            core::ptr::copy_nonoverlapping(name.as_ptr(), dst.add(at + sep), name.len());
        }
        at += sep + name.len();
    }
    // SAFETY: `at < WGA_SCOPES_BUFFER_LEN` (checked in the loop).
    unsafe { dst.add(at).write(0) };
    at
}

/// `wga_keyring_verify_access_token`, writing a `wga_principal_ex` (who,
/// and what the token may do: check a route's scope with
/// `wga_principal_has_scope`).
///
/// # Safety
/// As `wga_keyring_verify_access_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_access_token_ex(
    keyring: *const wga_keyring,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal_ex,
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
            write_ex(principal_out),
        )
    }
}

/// `wga_keyring_verify_authorization`, writing a `wga_principal_ex`.
///
/// # Safety
/// As `wga_keyring_verify_authorization`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_authorization_ex(
    keyring: *const wga_keyring,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal_ex,
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
            write_ex(principal_out),
        )
    }
}

/// `wga_keyring_verify_headers`, writing a `wga_principal_ex`.
///
/// # Safety
/// As `wga_keyring_verify_headers`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_headers_ex(
    keyring: *const wga_keyring,
    profile: u32,
    names: *const *const u8,
    name_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    now: u64,
    principal_out: *mut wga_principal_ex,
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
            write_ex(principal_out),
        )
    }
}

/// `wga_keyring_verify_token`, writing a `wga_principal_ex`.
///
/// # Safety
/// As `wga_keyring_verify_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_verify_token_ex(
    keyring: *const wga_keyring,
    token: *const u8,
    token_len: usize,
    now: u64,
    principal_out: *mut wga_principal_ex,
) -> wga_status {
    // SAFETY: same contract.
    unsafe { verify_bare(keyring, token, token_len, now, write_ex(principal_out)) }
}

/// Whether the authenticated token may use a route that needs `scope` (a
/// `resource:action` name, `scope_len` bytes): true for a full-access
/// token, or when one of its scopes is `scope` or `resource:*` for its
/// resource. False when it may not, and (fail closed) for NULL, for a
/// `scope` that is not a scope name (even with full access), and for a
/// principal whose scope list is damaged. Check the names your routes declare
/// once, with `wga_scope_validate`. When this is false, answer with
/// `wga_scope_denial_for`.
///
/// # Safety
/// `principal` is NULL or points to a `wga_principal_ex` written by a
/// `wga_keyring_verify_*_ex` function; `scope` is NULL or points to
/// `scope_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_principal_has_scope(
    principal: *const wga_principal_ex,
    scope: *const c_char,
    scope_len: usize,
) -> bool {
    ffi_panic_boundary! {
        let principal = try_ref!(principal);
        // A name that is no scope is never held, even with full access: a
        // route declared with a typo is refused, not opened.
        let Some(required) = core::str::from_utf8(try_slice!(scope, scope_len))
            .ok()
            .filter(|r| Scope::is_valid(r))
        else {
            return false;
        };
        let scopes = if principal.restricted {
            let Some(list) = as_bytes(&principal.scopes)
                .get(..principal.scopes_len)
                .filter(|_| principal.scopes_len <= WGA_SCOPES_MAX_BYTES)
            else {
                return false;
            };
            match parse_scopes(list) {
                Ok(scopes) => scopes,
                Err(_) => return false,
            }
        } else {
            Scopes::FULL
        };
        scopes.allows(required)
    }
}

/// Checks a scope name (`scope_len` bytes): `resource:action`, lowercase
/// letters, digits, `_` and `-`, each part starting with a letter and at
/// most 32 long; the action may be `*`. For a host declaring what its
/// routes need, at start-up.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_INVALID_SCOPE`.
///
/// # Safety
/// `scope` points to `scope_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_scope_validate(scope: *const c_char, scope_len: usize) -> wga_status {
    ffi_panic_boundary! {
        let scope = try_slice!(scope, scope_len);
        if core::str::from_utf8(scope).is_ok_and(Scope::is_valid) {
            wga_status::WGA_OK
        } else {
            wga_status::WGA_INVALID_SCOPE
        }
    }
}

/// Writes the answer for a request whose token lacks the scope `scope`
/// (`scope_len` bytes) in `profile` (`WGA_PROFILE_REST` or
/// `WGA_PROFILE_MCP`) to `*denial_out`: 403 with a JSON body naming the
/// scope; MCP adds `WWW-Authenticate: Bearer realm="whatsgate",
/// error="insufficient_scope", scope="…"`. Exactly the core's answer.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ARGUMENT` (an
/// unknown profile) or `WGA_INVALID_SCOPE`.
///
/// # Safety
/// `scope` points to `scope_len` readable bytes; `denial_out` is valid for
/// a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_scope_denial_for(
    profile: u32,
    scope: *const c_char,
    scope_len: usize,
    denial_out: *mut wga_scope_denial,
) -> wga_status {
    ffi_panic_boundary! {
        let scope = try_slice!(scope, scope_len);
        let denial_out = try_out!(denial_out);
        let Some(profile) = crate::verify::wga_profile::to_core(profile) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        let Some(Ok(scope)) = core::str::from_utf8(scope).ok().map(Scope::new) else {
            return wga_status::WGA_INVALID_SCOPE;
        };
        let denial = ScopeDenial {
            profile,
            scope: &scope,
        };
        let body = denial.body().to_string();
        let challenge = denial.www_authenticate().map(|c| c.to_string());
        let mut out = wga_scope_denial {
            http_code: denial.status(),
            body: [0; WGA_SCOPE_DENIAL_TEXT_LEN],
            body_len: 0,
            has_www_authenticate: challenge.is_some(),
            www_authenticate: [0; WGA_SCOPE_DENIAL_TEXT_LEN],
            www_authenticate_len: 0,
        };
        // SAFETY: `out`'s own fields; the texts are Rust memory. (They fit:
        // the longest scope's answers are tested.)
        unsafe {
            out.body_len = write_cstr(&raw mut out.body, body.as_bytes());
            if let Some(challenge) = &challenge {
                out.www_authenticate_len =
                    write_cstr(&raw mut out.www_authenticate, challenge.as_bytes());
            }
        }
        // SAFETY: checked non-null; valid for a write (contract).
        unsafe { denial_out.write(out) };
        wga_status::WGA_OK
    }
}

/// The `WWW-Authenticate` value of a scope denial (MCP) with
/// `resource_metadata="{url}"` appended (RFC 9728), for servers that
/// publish protected-resource metadata: `Bearer realm="whatsgate",
/// error="insufficient_scope", scope="…", resource_metadata="…"`.
///
/// Writes it, NUL-terminated, to `buf` and its length without the NUL to
/// `*len_out`. When `buf_len` is too small, returns `WGA_BUFFER_TOO_SMALL`
/// and writes the size needed (with the NUL) to `*len_out`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ARGUMENT` (an
/// unknown profile, or `WGA_PROFILE_REST`, which sends no challenge),
/// `WGA_INVALID_SCOPE`, `WGA_INVALID_URL` or `WGA_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `scope` points to `scope_len` readable bytes, `url` to `url_len`; `buf`
/// to `buf_len` writable bytes; `len_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_scope_denial_www_authenticate_with(
    profile: u32,
    scope: *const c_char,
    scope_len: usize,
    url: *const c_char,
    url_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> wga_status {
    ffi_panic_boundary! {
        let scope = try_slice!(scope, scope_len);
        let url = try_slice!(url, url_len);
        let buf = try_out!(buf);
        let len_out = try_out!(len_out);
        let Some(profile) = crate::verify::wga_profile::to_core(profile) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        let Some(Ok(scope)) = core::str::from_utf8(scope).ok().map(Scope::new) else {
            return wga_status::WGA_INVALID_SCOPE;
        };
        let Some(url) = core::str::from_utf8(url)
            .ok()
            .and_then(|u| wga_core::http::ResourceMetadata::new(u).ok())
        else {
            return wga_status::WGA_INVALID_URL;
        };
        let denial = ScopeDenial {
            profile,
            scope: &scope,
        };
        let Some(challenge) = denial.www_authenticate_with(&url) else {
            return wga_status::WGA_INVALID_ARGUMENT;
        };
        let text = challenge.to_string();
        // SAFETY: both checked non-null; the caller promises `buf_len`
        // writable bytes and a writable `len_out`; `text` is Rust memory.
        unsafe { crate::status::write_text(text.as_bytes(), buf, buf_len, len_out) }
    }
}

/// Sets the lifetime policy that an attached keyring's writes apply (this
/// host's creates and regenerations through the store). An in-memory
/// keyring takes its policy when it is made: `wga_keyring_new_with_policy`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_KEYRING_NOT_ATTACHED`.
///
/// # Safety
/// `keyring` is a live keyring; `policy` points to a readable
/// `wga_lifetime_policy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_keyring_set_policy(
    keyring: *const wga_keyring,
    policy: *const wga_lifetime_policy,
) -> wga_status {
    ffi_panic_boundary! {
        let keyring = try_ref!(keyring);
        let policy = try_ref!(policy).to_core();
        match keyring.synced() {
            Some(synced) => {
                synced.set_policy(policy);
                wga_status::WGA_OK
            }
            None => wga_status::WGA_KEYRING_NOT_ATTACHED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{wga_keyring_free, wga_keyring_new, wga_keyring_regenerate};
    use crate::record::{WGA_TOKEN_BUFFER_LEN, wga_record_list_free, wga_record_list_len};
    use crate::status::wga_status::*;
    use crate::store_error::wga_last_error_message;
    use core::mem::MaybeUninit;
    use core::ptr::{null, null_mut};
    use wga_core::PolicyError;

    /// An explicit instant: Miri has no system clock.
    const NOW: u64 = 1_790_000_000;
    const DAY: u64 = 86_400;

    struct Created {
        status: wga_status,
        token: Vec<u8>,
        record: MaybeUninit<wga_record>,
        extra: MaybeUninit<wga_record_extra>,
    }

    fn options(
        scopes: Option<&str>,
        expires_at: u64,
        description: Option<&str>,
    ) -> wga_token_options {
        wga_token_options {
            scopes: scopes.map_or(null(), |s| s.as_ptr().cast()),
            scopes_len: scopes.map_or(0, str::len),
            expires_at,
            description: description.map_or(null(), |s| s.as_ptr().cast()),
            description_len: description.map_or(0, str::len),
        }
    }

    fn create(
        keyring: *const wga_keyring,
        name: &str,
        options: *const wga_token_options,
    ) -> Created {
        let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0;
        let mut out = Created {
            status: WGA_OK,
            token: Vec::new(),
            record: MaybeUninit::uninit(),
            extra: MaybeUninit::uninit(),
        };
        // SAFETY: a live keyring, readable inputs, writable outputs.
        out.status = unsafe {
            wga_keyring_create_ex(
                keyring,
                c"acct_1".as_ptr(),
                6,
                name.as_ptr().cast(),
                name.len(),
                options,
                NOW,
                token.as_mut_ptr(),
                token.len(),
                &mut len,
                out.record.as_mut_ptr(),
                out.extra.as_mut_ptr(),
            )
        };
        out.token = token[..len].iter().map(|c| *c as u8).collect();
        out
    }

    fn new_keyring(policy: Option<wga_lifetime_policy>) -> *mut wga_keyring {
        let mut keyring = null_mut();
        // SAFETY: valid pointers.
        let status = unsafe {
            match &policy {
                Some(p) => wga_keyring_new_with_policy(p, &mut keyring),
                None => wga_keyring_new(&mut keyring),
            }
        };
        assert_eq!(status, WGA_OK);
        keyring
    }

    fn verify(
        keyring: *const wga_keyring,
        token: &[u8],
        now: u64,
    ) -> (wga_status, wga_principal_ex) {
        let mut p = MaybeUninit::<wga_principal_ex>::zeroed();
        // SAFETY: a live keyring, readable token, writable principal.
        let s = unsafe {
            wga_keyring_verify_token_ex(keyring, token.as_ptr(), token.len(), now, p.as_mut_ptr())
        };
        // SAFETY: zeroed is a valid wga_principal_ex (false, 0, NULs).
        (s, unsafe { p.assume_init() })
    }

    fn len(keyring: *const wga_keyring) -> usize {
        // SAFETY: a live keyring.
        unsafe { crate::keyring::wga_keyring_len(keyring) }
    }

    fn has(p: &wga_principal_ex, scope: &str) -> bool {
        // SAFETY: a principal and `scope.len()` readable bytes.
        unsafe { wga_principal_has_scope(p, scope.as_ptr().cast(), scope.len()) }
    }

    fn text(chars: &[c_char], len: usize) -> &str {
        core::str::from_utf8(&as_bytes(chars)[..len]).unwrap()
    }

    fn last_error() -> String {
        let mut buf = [0 as c_char; crate::store_error::WGA_ERROR_MESSAGE_BUFFER_LEN];
        let mut len = 0;
        // SAFETY: a writable buffer and length.
        let answer = unsafe { wga_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(answer, WGA_OK);
        text(&buf, len).to_string()
    }

    #[test]
    fn extra_fields_round_trip_through_the_c_struct() {
        let mut record = TokenRecord::create(
            &wga_core::TokenFormat::DEFAULT,
            &mut OsRng,
            wga_core::AccountId::new("a").unwrap(),
            wga_core::TokenName::new("n").unwrap(),
            Timestamp(5),
        )
        .unwrap()
        .1;
        let plain = wga_record_extra::from_record(&record);
        assert!(!plain.restricted && !plain.has_expires_at && !plain.disabled);
        assert!(!plain.has_description && plain.scopes_len == 0);
        record.scopes = Scopes::only(["messages:send", "devices:*"]).unwrap();
        record.expires_at = Some(Timestamp(99));
        record.disabled = true;
        record.description = Some(Description::new("CI deploys").unwrap());
        let c = wga_record_extra::from_record(&record);
        assert_eq!(text(&c.scopes, c.scopes_len), "devices:* messages:send");
        assert_eq!(c.scopes[c.scopes_len], 0);
        assert_eq!(text(&c.description, c.description_len), "CI deploys");
        let mut back = record.clone();
        back.scopes = Scopes::FULL;
        back.description = None;
        c.apply_to(&mut back).unwrap();
        assert_eq!(back.scopes, record.scopes);
        assert_eq!(back.expires_at, Some(Timestamp(99)));
        assert!(back.disabled);
        assert_eq!(back.description, record.description);

        // Restricted to nothing is not full access.
        let mut none = c;
        none.scopes_len = 0;
        none.apply_to(&mut back).unwrap();
        assert_eq!(back.scopes.list(), Some(&[][..]));

        let mut bad = c;
        bad.scopes_len = WGA_SCOPES_BUFFER_LEN;
        assert_eq!(bad.apply_to(&mut back), Err(WGA_INVALID_SCOPE));
        let mut bad = c;
        bad.scopes[0] = b'D' as c_char;
        assert_eq!(bad.apply_to(&mut back), Err(WGA_INVALID_SCOPE));
        let mut bad = c;
        bad.description_len = WGA_DESCRIPTION_BUFFER_LEN;
        assert_eq!(bad.apply_to(&mut back), Err(WGA_INVALID_DESCRIPTION));
        let mut bad = c;
        bad.description[2] = b'\n' as c_char;
        assert_eq!(bad.apply_to(&mut back), Err(WGA_INVALID_DESCRIPTION));
    }

    /// The in-place writer of a principal's scopes writes what `joined` makes.
    #[test]
    fn scopes_are_written_in_place_as_joined() {
        for scopes in [
            Scopes::FULL,
            Scopes::only::<[&str; 0], &str>([]).unwrap(),
            Scopes::only(["messages:send"]).unwrap(),
            Scopes::only(["messages:send", "devices:*", "a:b"]).unwrap(),
        ] {
            let mut buf = [0x55 as c_char; WGA_SCOPES_BUFFER_LEN];
            // SAFETY: a buffer of the right size.
            let len = unsafe { write_joined(&raw mut buf, &scopes) };
            assert_eq!(text(&buf, len), joined(&scopes));
            assert_eq!(buf[len], 0);
            assert_eq!(buf[len + 1], 0x55 as c_char, "nothing past the NUL");
        }
    }

    #[test]
    fn longest_scope_list_and_description_fit_their_buffers() {
        let long = |i: usize| {
            let part = "a".repeat(wga_core::MAX_SCOPE_PART - 3);
            alloc::format!(
                "r{i:02}{part}:x{i:02}{}",
                "b".repeat(wga_core::MAX_SCOPE_PART - 3)
            )
        };
        let names: Vec<String> = (0..wga_core::MAX_SCOPES).map(long).collect();
        assert!(names.iter().all(|n| n.len() == WGA_SCOPE_MAX_BYTES));
        let scopes = Scopes::only(&names).unwrap();
        assert_eq!(joined(&scopes).len(), WGA_SCOPES_MAX_BYTES);
        let mut buf = [0 as c_char; WGA_SCOPES_BUFFER_LEN];
        // SAFETY: a buffer of the right size.
        let len = unsafe { write_joined(&raw mut buf, &scopes) };
        assert_eq!(
            len, WGA_SCOPES_MAX_BYTES,
            "the longest list is written whole"
        );
        let description = "\u{1f600}".repeat(wga_core::MAX_DESCRIPTION_CHARS);
        let mut record = TokenRecord::create(
            &wga_core::TokenFormat::DEFAULT,
            &mut OsRng,
            wga_core::AccountId::new("a").unwrap(),
            wga_core::TokenName::new("n").unwrap(),
            Timestamp(5),
        )
        .unwrap()
        .1;
        record.scopes = scopes.clone();
        record.description = Some(Description::new(&description).unwrap());
        let c = wga_record_extra::from_record(&record);
        assert_eq!(c.scopes_len, WGA_SCOPES_MAX_BYTES);
        assert_eq!(c.description_len, WGA_DESCRIPTION_MAX_BYTES);
        let mut back = record.clone();
        c.apply_to(&mut back).unwrap();
        assert_eq!(back.scopes, scopes);
        // The longest scope's denial fits too.
        let mut d = MaybeUninit::<wga_scope_denial>::uninit();
        let scope = &names[0];
        // SAFETY: readable scope, writable denial.
        let s =
            unsafe { wga_scope_denial_for(1, scope.as_ptr().cast(), scope.len(), d.as_mut_ptr()) };
        assert_eq!(s, WGA_OK);
        // SAFETY: written on WGA_OK.
        let d = unsafe { d.assume_init() };
        assert!(d.body_len < WGA_SCOPE_DENIAL_TEXT_LEN - 1);
        assert!(d.www_authenticate_len < WGA_SCOPE_DENIAL_TEXT_LEN - 1);
        assert!(
            text(&d.www_authenticate, d.www_authenticate_len)
                .ends_with(&alloc::format!("scope=\"{scope}\""))
        );
    }

    #[test]
    fn create_with_scopes_then_check_them_after_authentication() {
        let keyring = new_keyring(None);
        let description = "  sends messages ";
        let opts = options(
            Some("messages:send  devices:*"),
            NOW + DAY,
            Some(description),
        );
        let c = create(keyring, "Sender", &opts);
        assert_eq!(c.status, WGA_OK);
        // SAFETY: written on WGA_OK.
        let extra = unsafe { c.extra.assume_init() };
        assert!(extra.restricted);
        assert_eq!(
            text(&extra.scopes, extra.scopes_len),
            "devices:* messages:send"
        );
        assert_eq!((extra.has_expires_at, extra.expires_at), (true, NOW + DAY));
        assert_eq!(
            text(&extra.description, extra.description_len),
            "sends messages"
        );

        let (s, p) = verify(keyring, &c.token, NOW);
        assert_eq!(s, WGA_OK);
        assert!(p.restricted);
        assert_eq!(text(&p.scopes, p.scopes_len), "devices:* messages:send");
        assert_eq!(text(&p.principal.name, p.principal.name_len), "Sender");
        assert!(has(&p, "messages:send"));
        assert!(has(&p, "devices:read"));
        assert!(!has(&p, "messages:read"));
        assert!(!has(&p, "tokens:manage"));
        assert!(!has(&p, "devices"));
        // A damaged list fails closed.
        let mut damaged = p;
        damaged.scopes_len = WGA_SCOPES_BUFFER_LEN;
        assert!(!has(&damaged, "messages:send"));
        // SAFETY: NULL arguments are answered with false.
        unsafe {
            assert!(!wga_principal_has_scope(null(), c"a:b".as_ptr(), 3));
            assert!(!wga_principal_has_scope(&p, null(), 0));
        }

        // Expired at its instant (exclusive), like any invalid token.
        assert_eq!(verify(keyring, &c.token, NOW + DAY - 1).0, WGA_OK);
        assert_eq!(verify(keyring, &c.token, NOW + DAY).0, WGA_INVALID_TOKEN);

        // Full access: every scope, and an empty list.
        let full = create(keyring, "Full", null());
        assert_eq!(full.status, WGA_OK);
        let (s, p) = verify(keyring, &full.token, NOW);
        assert_eq!(s, WGA_OK);
        assert!(!p.restricted && p.scopes_len == 0 && p.scopes[0] == 0);
        assert!(has(&p, "tokens:manage"));
        // A name that is no scope is never held, even with full access.
        assert!(!has(&p, "Tokens:manage") && !has(&p, "tokens"));

        // Scoped to nothing: no scope at all.
        let nothing = create(keyring, "Nothing", &options(Some(""), 0, None));
        assert_eq!(nothing.status, WGA_OK);
        let (s, p) = verify(keyring, &nothing.token, NOW);
        assert_eq!(s, WGA_OK);
        assert!(p.restricted && p.scopes_len == 0);
        assert!(!has(&p, "messages:send"));

        // Bad options create nothing.
        let before = len(keyring);
        assert_eq!(
            create(keyring, "x", &options(Some("Messages:send"), 0, None)).status,
            WGA_INVALID_SCOPE
        );
        assert!(
            last_error().contains("\"Messages:send\" is not a scope"),
            "{}",
            last_error()
        );
        let many = (0..65)
            .map(|i| alloc::format!("r{i}:read"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            create(keyring, "x", &options(Some(&many), 0, None)).status,
            WGA_TOO_MANY_SCOPES
        );
        assert_eq!(
            create(keyring, "x", &options(None, 0, Some(" "))).status,
            WGA_INVALID_DESCRIPTION
        );
        assert_eq!(
            create(keyring, "x", &options(None, NOW, None)).status,
            WGA_POLICY_REFUSED
        );
        assert_eq!(last_error(), PolicyError::ExpiryNotInFuture.to_string());
        assert_eq!(len(keyring), before);
        // SAFETY: a live keyring, released once.
        unsafe { wga_keyring_free(keyring) };
    }

    fn update(
        keyring: *const wga_keyring,
        id: &[u8],
        u: &wga_token_update,
    ) -> (wga_status, Option<wga_record_extra>) {
        let mut record = MaybeUninit::uninit();
        let mut extra = MaybeUninit::uninit();
        // SAFETY: valid pointers.
        let s = unsafe {
            wga_keyring_update(
                keyring,
                id.as_ptr().cast(),
                id.len(),
                u,
                record.as_mut_ptr(),
                extra.as_mut_ptr(),
            )
        };
        // SAFETY: written on WGA_OK.
        (s, (s == WGA_OK).then(|| unsafe { extra.assume_init() }))
    }

    fn no_change() -> wga_token_update {
        // SAFETY: all zero is a valid wga_token_update (false, NULL, 0).
        unsafe { MaybeUninit::zeroed().assume_init() }
    }

    #[test]
    fn update_renames_describes_rescopes_disables_and_enables() {
        let keyring = new_keyring(None);
        let c = create(keyring, "One", null());
        assert_eq!(create(keyring, "Two", null()).status, WGA_OK);
        // SAFETY: written on WGA_OK.
        let record = unsafe { c.record.assume_init() };
        let id = as_bytes(&record.id)[..16].to_vec();

        let mut u = no_change();
        u.set_disabled = true;
        u.disabled = true;
        let (s, extra) = update(keyring, &id, &u);
        assert_eq!(s, WGA_OK);
        assert!(extra.unwrap().disabled);
        // Disabled: the seed's "invalid", and the same for a header.
        assert_eq!(verify(keyring, &c.token, NOW).0, WGA_INVALID_TOKEN);
        u.disabled = false;
        assert_eq!(update(keyring, &id, &u).0, WGA_OK);
        assert_eq!(verify(keyring, &c.token, NOW).0, WGA_OK);

        let mut u = no_change();
        u.set_scopes = true;
        u.scopes = c"tokens:manage".as_ptr();
        u.scopes_len = 13;
        u.set_description = true;
        u.description = c"ops".as_ptr();
        u.description_len = 3;
        u.set_name = true;
        u.name = c"Renamed".as_ptr();
        u.name_len = 7;
        let (s, extra) = update(keyring, &id, &u);
        assert_eq!(s, WGA_OK);
        let extra = extra.unwrap();
        assert_eq!(text(&extra.scopes, extra.scopes_len), "tokens:manage");
        assert_eq!(text(&extra.description, extra.description_len), "ops");
        let (_, p) = verify(keyring, &c.token, NOW);
        assert_eq!(text(&p.principal.name, p.principal.name_len), "Renamed");
        assert!(has(&p, "tokens:manage") && !has(&p, "messages:send"));

        // Back to full access, description removed.
        let mut u = no_change();
        u.set_scopes = true;
        u.set_description = true;
        let (s, extra) = update(keyring, &id, &u);
        assert_eq!(s, WGA_OK);
        let extra = extra.unwrap();
        assert!(!extra.restricted && !extra.has_description);
        // Nothing to change is fine.
        assert_eq!(update(keyring, &id, &no_change()).0, WGA_OK);

        // Refusals change nothing.
        let mut u = no_change();
        u.set_name = true;
        u.name = c"Two".as_ptr();
        u.name_len = 3;
        assert_eq!(update(keyring, &id, &u).0, WGA_DUPLICATE_NAME);
        u.name = null();
        assert_eq!(update(keyring, &id, &u).0, WGA_NULL_PARAMETER);
        let mut u = no_change();
        u.set_scopes = true;
        u.scopes = c"a:b:c".as_ptr();
        u.scopes_len = 5;
        assert_eq!(update(keyring, &id, &u).0, WGA_INVALID_SCOPE);
        assert_eq!(
            update(keyring, b"0123456789abcdef", &no_change()).0,
            WGA_UNKNOWN_TOKEN
        );
        assert_eq!(update(keyring, b"zz", &no_change()).0, WGA_INVALID_TOKEN_ID);
        let (_, p) = verify(keyring, &c.token, NOW);
        assert_eq!(text(&p.principal.name, p.principal.name_len), "Renamed");
        assert!(!p.restricted);
        // SAFETY: NULL arguments.
        unsafe {
            let mut r = MaybeUninit::uninit();
            let mut e = MaybeUninit::uninit();
            assert_eq!(
                wga_keyring_update(
                    keyring,
                    id.as_ptr().cast(),
                    16,
                    null(),
                    r.as_mut_ptr(),
                    e.as_mut_ptr()
                ),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_update(
                    keyring,
                    id.as_ptr().cast(),
                    16,
                    &no_change(),
                    r.as_mut_ptr(),
                    null_mut()
                ),
                WGA_NULL_PARAMETER
            );
            wga_keyring_free(keyring);
        }
    }

    fn regenerate(keyring: *const wga_keyring, id: &[u8], grace_until: u64) -> wga_status {
        let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0;
        let mut record = MaybeUninit::uninit();
        // SAFETY: valid pointers.
        unsafe {
            wga_keyring_regenerate(
                keyring,
                id.as_ptr().cast(),
                id.len(),
                NOW,
                grace_until,
                token.as_mut_ptr(),
                token.len(),
                &mut len,
                record.as_mut_ptr(),
            )
        }
    }

    #[test]
    fn the_lifetime_policy_bounds_expiry_and_grace() {
        let policy = wga_lifetime_policy {
            max_lifetime_secs: 7 * DAY,
            max_grace_secs: DAY,
        };
        let keyring = new_keyring(Some(policy));
        let mut got = MaybeUninit::uninit();
        // SAFETY: valid pointers.
        let answer = unsafe { wga_keyring_get_policy(keyring, got.as_mut_ptr()) };
        assert_eq!(answer, WGA_OK);
        // SAFETY: written on WGA_OK.
        assert_eq!(unsafe { got.assume_init() }, policy);
        // No expiry asked: the maximum given.
        let c = create(keyring, "Week", null());
        assert_eq!(c.status, WGA_OK);
        // SAFETY: written on WGA_OK.
        let extra = unsafe { c.extra.assume_init() };
        assert_eq!(
            (extra.has_expires_at, extra.expires_at),
            (true, NOW + 7 * DAY)
        );
        assert_eq!(
            create(keyring, "Long", &options(None, NOW + 8 * DAY, None)).status,
            WGA_POLICY_REFUSED
        );
        // The policy's own words, with its figure.
        assert_eq!(
            last_error(),
            PolicyError::LifetimeTooLong { max: 7 * DAY }.to_string()
        );
        assert_eq!(
            create(keyring, "Short", &options(None, NOW + DAY, None)).status,
            WGA_OK
        );
        assert_eq!(last_error(), "");

        // SAFETY: written on WGA_OK.
        let id = as_bytes(&unsafe { c.record.assume_init() }.id)[..16].to_vec();
        assert_eq!(regenerate(keyring, &id, NOW + DAY + 1), WGA_POLICY_REFUSED);
        assert_eq!(
            last_error(),
            PolicyError::GraceTooLong { max: DAY }.to_string()
        );
        assert_eq!(regenerate(keyring, &id, NOW - 1), WGA_POLICY_REFUSED);
        assert_eq!(last_error(), PolicyError::NegativeGrace.to_string());
        // Refused regenerations changed nothing: the token still works.
        assert_eq!(verify(keyring, &c.token, NOW).0, WGA_OK);
        assert_eq!(regenerate(keyring, &id, NOW + DAY), WGA_OK);
        assert_eq!(
            verify(keyring, &c.token, NOW).0,
            WGA_OK,
            "in its grace period"
        );

        // The default keyring: no maximum lifetime, 30 days of grace.
        let default = new_keyring(None);
        // SAFETY: valid pointers.
        let answer = unsafe { wga_keyring_get_policy(default, got.as_mut_ptr()) };
        assert_eq!(answer, WGA_OK);
        // SAFETY: written on WGA_OK.
        let answer = unsafe { got.assume_init() };
        assert_eq!(
            answer,
            wga_lifetime_policy {
                max_lifetime_secs: 0,
                max_grace_secs: WGA_DEFAULT_MAX_GRACE_SECS
            }
        );
        let d = create(default, "d", null());
        // SAFETY: written on WGA_OK.
        assert!(!unsafe { d.extra.assume_init() }.has_expires_at);
        // SAFETY: written on WGA_OK.
        let did = as_bytes(&unsafe { d.record.assume_init() }.id)[..16].to_vec();
        assert_eq!(
            regenerate(default, &did, NOW + 31 * DAY),
            WGA_POLICY_REFUSED
        );
        assert_eq!(regenerate(default, &did, NOW + 30 * DAY), WGA_OK);
        // In memory, the policy is set when the keyring is made.
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(
                wga_keyring_set_policy(default, &policy),
                WGA_KEYRING_NOT_ATTACHED
            );
            assert_eq!(
                wga_keyring_new_with_policy(null(), &mut null_mut()),
                WGA_NULL_PARAMETER
            );
            wga_keyring_free(keyring);
            wga_keyring_free(default);
        }
    }

    #[test]
    fn revoke_all_and_prune_delete_and_hand_back_what_they_deleted() {
        let keyring = new_keyring(None);
        let a = create(keyring, "a", null());
        let b = create(keyring, "b", &options(None, NOW + 10, None));
        let c = create(keyring, "c", &options(None, NOW + 20, None));
        assert!([&a, &b, &c].iter().all(|c| c.status == WGA_OK));
        let prune = |now: u64| {
            let mut list = null_mut();
            // SAFETY: valid pointers.
            let answer = unsafe { wga_keyring_prune(keyring, now, &mut list) };
            assert_eq!(answer, WGA_OK);
            // SAFETY: a live list, released once.
            let n = unsafe { wga_record_list_len(list) };
            // SAFETY: as above.
            unsafe { wga_record_list_free(list) };
            n
        };
        assert_eq!(prune(NOW + 9), 0);
        assert_eq!(
            prune(NOW + 10),
            1,
            "expires_at is exclusive: expired at its instant"
        );
        assert_eq!(verify(keyring, &c.token, NOW).0, WGA_OK);
        assert_eq!(len(keyring), 2);

        let mut list = null_mut();
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(
                wga_keyring_revoke_all(keyring, c"acct_2".as_ptr(), 6, &mut list),
                WGA_OK
            );
            assert_eq!(wga_record_list_len(list), 0);
            wga_record_list_free(list);
            assert_eq!(
                wga_keyring_revoke_all(keyring, c"acct_1".as_ptr(), 6, &mut list),
                WGA_OK
            );
            assert_eq!(wga_record_list_len(list), 2);
            let mut extra = MaybeUninit::uninit();
            assert_eq!(
                wga_record_list_get_extra(list, 1, extra.as_mut_ptr()),
                WGA_OK
            );
            assert_eq!(
                wga_record_list_get_extra(list, 2, extra.as_mut_ptr()),
                WGA_INDEX_OUT_OF_RANGE
            );
            wga_record_list_free(list);
            assert_eq!(
                wga_keyring_revoke_all(keyring, c" x".as_ptr(), 2, &mut list),
                WGA_INVALID_ACCOUNT
            );
            assert_eq!(
                wga_keyring_revoke_all(keyring, null(), 0, &mut list),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_prune(keyring, NOW, null_mut()),
                WGA_NULL_PARAMETER
            );
        }
        assert_eq!(verify(keyring, &a.token, NOW).0, WGA_INVALID_TOKEN);
        assert_eq!(verify(keyring, &c.token, NOW).0, WGA_INVALID_TOKEN);
        assert_eq!(len(keyring), 0);
        // SAFETY: a live keyring, released once.
        unsafe { wga_keyring_free(keyring) };
    }

    #[test]
    fn add_and_sync_keep_the_extra_fields() {
        let source = new_keyring(None);
        let c = create(
            source,
            "Scoped",
            &options(Some("messages:send"), NOW + 5, Some("d")),
        );
        assert_eq!(c.status, WGA_OK);
        // SAFETY: written on WGA_OK.
        let (record, extra) = unsafe { (c.record.assume_init(), c.extra.assume_init()) };
        let target = new_keyring(None);
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(wga_keyring_add_ex(target, &record, &extra), WGA_OK);
            let mut back = MaybeUninit::uninit();
            assert_eq!(
                wga_keyring_get_extra(target, record.id.as_ptr(), 16, back.as_mut_ptr()),
                WGA_OK
            );
            let read = back.assume_init_read();
            assert_eq!(text(&read.scopes, read.scopes_len), "messages:send");
            assert_eq!((read.expires_at, read.disabled), (NOW + 5, false));
            let (_, p) = verify(target, &c.token, NOW);
            assert!(p.restricted && !has(&p, "tokens:manage"));

            let mut disabled = extra;
            disabled.disabled = true;
            assert_eq!(wga_keyring_sync_ex(target, &record, &disabled, 1), WGA_OK);
            assert_eq!(verify(target, &c.token, NOW).0, WGA_INVALID_TOKEN);
            let mut bad = extra;
            bad.scopes_len = 3;
            assert_eq!(
                wga_keyring_sync_ex(target, &record, &bad, 1),
                WGA_INVALID_SCOPE
            );
            assert_eq!(
                wga_keyring_sync_ex(target, &record, null(), 1),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_keyring_add_ex(target, &record, null()),
                WGA_NULL_PARAMETER
            );
            assert_eq!(wga_keyring_sync_ex(target, null(), null(), 0), WGA_OK);
            assert_eq!(len(target), 0);
            assert_eq!(
                wga_keyring_get_extra(target, record.id.as_ptr(), 16, back.as_mut_ptr()),
                WGA_UNKNOWN_TOKEN
            );
            wga_keyring_free(source);
            wga_keyring_free(target);
        }
    }

    /// The binding's denial is the core's, byte for byte, in both profiles.
    #[test]
    fn scope_denials_are_the_cores() {
        let scope = Scope::new("messages:send").unwrap();
        for (profile, core) in [(0, Profile::Rest), (1, Profile::Mcp)] {
            let mut d = MaybeUninit::<wga_scope_denial>::uninit();
            // SAFETY: readable scope, writable denial.
            let s = unsafe {
                wga_scope_denial_for(profile, c"messages:send".as_ptr(), 13, d.as_mut_ptr())
            };
            assert_eq!(s, WGA_OK);
            // SAFETY: written on WGA_OK.
            let d = unsafe { d.assume_init() };
            let want = ScopeDenial {
                profile: core,
                scope: &scope,
            };
            assert_eq!(d.http_code, 403);
            assert_eq!(d.http_code, want.status());
            assert_eq!(text(&d.body, d.body_len), want.body().to_string());
            assert_eq!(d.body[d.body_len], 0);
            assert_eq!(d.has_www_authenticate, core == Profile::Mcp);
            let challenge = want.www_authenticate().map(|c| c.to_string());
            assert_eq!(
                d.has_www_authenticate
                    .then(|| text(&d.www_authenticate, d.www_authenticate_len).to_string()),
                challenge
            );
        }
        let mut d = MaybeUninit::uninit();
        // SAFETY: readable scopes, writable denial, or NULL.
        unsafe {
            assert_eq!(
                wga_scope_denial_for(2, c"a:b".as_ptr(), 3, d.as_mut_ptr()),
                WGA_INVALID_ARGUMENT
            );
            assert_eq!(
                wga_scope_denial_for(0, c"a: b".as_ptr(), 4, d.as_mut_ptr()),
                WGA_INVALID_SCOPE
            );
            assert_eq!(
                wga_scope_denial_for(0, c"\xff".as_ptr(), 1, d.as_mut_ptr()),
                WGA_INVALID_SCOPE
            );
            assert_eq!(
                wga_scope_denial_for(0, null(), 0, d.as_mut_ptr()),
                WGA_NULL_PARAMETER
            );
            assert_eq!(
                wga_scope_denial_for(0, c"a:b".as_ptr(), 3, null_mut()),
                WGA_NULL_PARAMETER
            );
            assert_eq!(wga_scope_validate(c"devices:*".as_ptr(), 9), WGA_OK);
            // With resource_metadata: the core's challenge, MCP only.
            let url = c"https://api.example/.well-known/oauth-protected-resource";
            let mut buf = [0 as c_char; 256];
            let mut len = 0;
            let answer = wga_scope_denial_www_authenticate_with(
                1,
                c"messages:send".as_ptr(),
                13,
                url.as_ptr(),
                url.count_bytes(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            );
            assert_eq!(answer, WGA_OK);
            let metadata = wga_core::http::ResourceMetadata::new(url.to_str().unwrap()).unwrap();
            let want = ScopeDenial {
                profile: Profile::Mcp,
                scope: &scope,
            }
            .www_authenticate_with(&metadata)
            .unwrap()
            .to_string();
            assert_eq!(text(&buf, len), want);
            assert!(want.ends_with(
                "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
            ));
            let short = wga_scope_denial_www_authenticate_with(
                1,
                c"messages:send".as_ptr(),
                13,
                url.as_ptr(),
                url.count_bytes(),
                buf.as_mut_ptr(),
                len,
                &mut len,
            );
            assert_eq!((short, len), (WGA_BUFFER_TOO_SMALL, want.len() + 1));
            let rest = wga_scope_denial_www_authenticate_with(
                0,
                c"messages:send".as_ptr(),
                13,
                url.as_ptr(),
                url.count_bytes(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            );
            assert_eq!(rest, WGA_INVALID_ARGUMENT);
            let bad_url = wga_scope_denial_www_authenticate_with(
                1,
                c"messages:send".as_ptr(),
                13,
                c"a\"b".as_ptr(),
                3,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            );
            assert_eq!(bad_url, WGA_INVALID_URL);
            assert_eq!(wga_scope_validate(c"*:*".as_ptr(), 3), WGA_INVALID_SCOPE);
            assert_eq!(wga_scope_validate(null(), 0), WGA_NULL_PARAMETER);
        }
    }
}
