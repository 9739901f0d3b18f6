//! `wga_record` (a token record as plain C data), record lists, and creating a
//! token without a keyring.

use alloc::vec::Vec;
use core::ffi::c_char;

use wga_core::{
    AccountId, MAX_ACCOUNT_CHARS, MAX_NAME_CHARS, OsRng, Rollover, Timestamp, Token, TokenFormat,
    TokenId, TokenName, TokenRecord, Verifier,
};

use crate::panic::{ffi_panic_boundary, try_out, try_ref, try_slice};
use crate::status::wga_status;

/// Size of a buffer for a token id: 16 lowercase hexadecimal digits and NUL.
pub const WGA_TOKEN_ID_BUFFER_LEN: usize = 17;
/// The most bytes an account id takes in UTF-8 (128 characters).
pub const WGA_ACCOUNT_MAX_BYTES: usize = 512;
/// Size of a buffer that holds any account id and its NUL.
pub const WGA_ACCOUNT_BUFFER_LEN: usize = 513;
/// The most bytes a token name takes in UTF-8 (64 characters).
pub const WGA_NAME_MAX_BYTES: usize = 256;
/// Size of a buffer that holds any token name and its NUL.
pub const WGA_NAME_BUFFER_LEN: usize = 257;
/// Length of a verifier in bytes (a SHA-256 output).
pub const WGA_VERIFIER_LEN: usize = 32;
/// Size of a buffer that holds any token and its NUL (tokens are at most 64
/// characters; with the default `wgat_` prefix they are 55).
pub const WGA_TOKEN_BUFFER_LEN: usize = 65;

const _: () = {
    assert!(WGA_ACCOUNT_MAX_BYTES == 4 * MAX_ACCOUNT_CHARS);
    assert!(WGA_ACCOUNT_BUFFER_LEN == WGA_ACCOUNT_MAX_BYTES + 1);
    assert!(WGA_NAME_MAX_BYTES == 4 * MAX_NAME_CHARS);
    assert!(WGA_NAME_BUFFER_LEN == WGA_NAME_MAX_BYTES + 1);
    assert!(WGA_TOKEN_BUFFER_LEN == wga_core::token::MAX_TOKEN_LEN + 1);
    assert!(WGA_TOKEN_ID_BUFFER_LEN == 2 * wga_core::token::ID_LEN + 1);
    assert!(TokenFormat::DEFAULT.token_len() < WGA_TOKEN_BUFFER_LEN);
};

/// Everything a server stores about one token: never the token itself.
///
/// Returned by `wga_generate_token`, `wga_keyring_create`,
/// `wga_keyring_regenerate`, `wga_keyring_get` and `wga_record_list_get`;
/// read by `wga_keyring_add` and `wga_keyring_sync`. Strings are UTF-8 and
/// NUL-terminated on output; on input only `id` must be NUL-terminated, and
/// `account` / `name` are read as `account_len` / `name_len` bytes. Fill a
/// record to add with `memset(&r, 0, sizeof r)` first: the `has_*` flags are
/// C `bool`s and must hold `true` or `false`.
///
/// A token's scopes, expiry, disabled flag and description are not here
/// (this struct keeps its layout for programs built against earlier
/// headers): they travel in a `wga_record_extra` beside it, written by the
/// `_ex` functions, `wga_keyring_update` and `wga_keyring_get_extra`. Store
/// both: `wga_keyring_add` and `wga_keyring_sync` give a record the
/// defaults (full access, no expiry, enabled, no description).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wga_record {
    /// The public token id: 16 lowercase hexadecimal digits, NUL-terminated.
    pub id: [c_char; WGA_TOKEN_ID_BUFFER_LEN],
    /// The owning account id (UTF-8, NUL-terminated on output).
    pub account: [c_char; WGA_ACCOUNT_BUFFER_LEN],
    /// Length of `account` in bytes, without the NUL.
    pub account_len: usize,
    /// The token's name, unique within the account (UTF-8, NUL-terminated on output).
    pub name: [c_char; WGA_NAME_BUFFER_LEN],
    /// Length of `name` in bytes, without the NUL.
    pub name_len: usize,
    /// The verifier of the current secret: store these 32 bytes.
    pub verifier: [u8; WGA_VERIFIER_LEN],
    /// When the token was created, in seconds since the Unix epoch.
    pub created_at: u64,
    /// Whether `last_used_at` holds a value (false: never used).
    pub has_last_used_at: bool,
    /// When the token last authenticated a request, in seconds.
    pub last_used_at: u64,
    /// Whether a regeneration grace period is running (`rollover_*` hold it).
    pub has_rollover: bool,
    /// The previous secret's verifier, accepted until `rollover_until`.
    pub rollover_verifier: [u8; WGA_VERIFIER_LEN],
    /// The previous secret is refused from this instant on (seconds).
    pub rollover_until: u64,
}

/// Writes `text` and a NUL into a C string field of `N` bytes, returning the
/// number of text bytes written. The buffer constants above make every
/// account id and name fit; the cut to `N - 1` bytes only keeps the write in
/// bounds regardless. Nothing past the NUL is written, and the field is
/// reached through a raw pointer, so it may be uninitialised (a caller's
/// `wga_principal`).
///
/// Word by word and inline: account ids and names are short, and this runs
/// on the verify path, where a `memcpy` call would cost more than the copy.
///
/// # Safety
/// `dst` is valid for writing `N` bytes and does not overlap `text`.
#[inline(always)]
pub(crate) unsafe fn write_cstr<const N: usize>(dst: *mut [c_char; N], text: &[u8]) -> usize {
    let text = &text[..text.len().min(N.saturating_sub(1))];
    let dst = dst.cast::<u8>();
    let mut words = text.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        // SAFETY: `at + 8 <= text.len() < N`: inside `dst` (contract).
        unsafe { dst.add(at).cast::<[u8; 8]>().write_unaligned(bytes) };
        at += 8;
    }
    for &b in words.remainder() {
        // SAFETY: `at < text.len() < N`: inside `dst` (contract).
        unsafe { dst.add(at).write(b) };
        at += 1;
    }
    if at < N {
        // SAFETY: `at == text.len() < N`: inside `dst` (contract).
        unsafe { dst.add(at).write(0) };
    }
    at
}

/// An id as a C string: the core's 16 lowercase hexadecimal digits, and a NUL.
pub(crate) fn id_cstr(id: TokenId) -> [c_char; WGA_TOKEN_ID_BUFFER_LEN] {
    let mut out = [0 as c_char; WGA_TOKEN_ID_BUFFER_LEN];
    for (d, s) in out.iter_mut().zip(id.to_hex_digits()) {
        *d = s as c_char;
    }
    out
}

/// Parses a token id argument: 16 hexadecimal digits.
pub(crate) fn parse_id(bytes: &[u8]) -> Result<TokenId, wga_status> {
    core::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(wga_status::WGA_INVALID_TOKEN_ID)
}

pub(crate) fn parse_account(bytes: &[u8]) -> Result<AccountId, wga_status> {
    core::str::from_utf8(bytes)
        .ok()
        .and_then(|text| AccountId::new(text).ok())
        .ok_or(wga_status::WGA_INVALID_ACCOUNT)
}

pub(crate) fn parse_name(bytes: &[u8]) -> Result<TokenName, wga_status> {
    core::str::from_utf8(bytes)
        .ok()
        .and_then(|text| TokenName::new(text).ok())
        .ok_or(wga_status::WGA_INVALID_NAME)
}

/// A seconds argument where 0 means "now, by the system clock".
pub(crate) fn instant(seconds: u64) -> Timestamp {
    if seconds == 0 {
        Timestamp::now()
    } else {
        Timestamp(seconds)
    }
}

fn as_bytes(chars: &[c_char]) -> &[u8] {
    // SAFETY: c_char and u8 have the same size and alignment, and every bit
    // pattern is valid for both.
    unsafe { core::slice::from_raw_parts(chars.as_ptr().cast::<u8>(), chars.len()) }
}

impl wga_record {
    pub(crate) fn from_record(record: &TokenRecord) -> Self {
        let mut out = Self {
            id: id_cstr(record.id),
            account: [0; WGA_ACCOUNT_BUFFER_LEN],
            account_len: 0,
            name: [0; WGA_NAME_BUFFER_LEN],
            name_len: 0,
            verifier: record.verifier.to_bytes(),
            created_at: record.created_at.as_secs(),
            has_last_used_at: record.last_used_at.is_some(),
            last_used_at: record.last_used_at.map_or(0, Timestamp::as_secs),
            has_rollover: record.rollover.is_some(),
            rollover_verifier: record.rollover.map_or([0; 32], |r| r.verifier.to_bytes()),
            rollover_until: record.rollover.map_or(0, |r| r.until.as_secs()),
        };
        // SAFETY: both fields are `out`'s own, valid for writes of their
        // size, and the texts are the record's memory.
        unsafe {
            out.account_len = write_cstr(&raw mut out.account, record.account.as_str().as_bytes());
            out.name_len = write_cstr(&raw mut out.name, record.name.as_str().as_bytes());
        }
        out
    }

    pub(crate) fn read(&self) -> Result<TokenRecord, wga_status> {
        let id_bytes = as_bytes(&self.id);
        let id_len = id_bytes
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(id_bytes.len());
        let id = parse_id(&id_bytes[..id_len])?;
        let account = as_bytes(&self.account)
            .get(..self.account_len)
            .filter(|_| self.account_len <= WGA_ACCOUNT_MAX_BYTES)
            .ok_or(wga_status::WGA_INVALID_ACCOUNT)
            .and_then(parse_account)?;
        let name = as_bytes(&self.name)
            .get(..self.name_len)
            .filter(|_| self.name_len <= WGA_NAME_MAX_BYTES)
            .ok_or(wga_status::WGA_INVALID_NAME)
            .and_then(parse_name)?;
        Ok(TokenRecord {
            id,
            account,
            name,
            verifier: Verifier::from_bytes(self.verifier),
            created_at: Timestamp(self.created_at),
            last_used_at: self
                .has_last_used_at
                .then_some(Timestamp(self.last_used_at)),
            rollover: self.has_rollover.then_some(Rollover {
                verifier: Verifier::from_bytes(self.rollover_verifier),
                until: Timestamp(self.rollover_until),
            }),
            // The defaults: a `wga_record_extra` carries these fields
            // (`wga_keyring_add_ex`), so this struct keeps its layout.
            scopes: wga_core::Scopes::FULL,
            expires_at: None,
            disabled: false,
            description: None,
        })
    }
}

/// Checks a caller's token buffer before anything is generated. When it is
/// too small, reports the size needed (with the NUL) through `token_len`.
pub(crate) fn check_token_buffer(
    token_buf_len: usize,
    token_len: *mut usize,
) -> Result<(), wga_status> {
    let needed = TokenFormat::DEFAULT.token_len() + 1;
    if token_buf_len < needed {
        // SAFETY: the caller checked `token_len` for NULL; it promises it is
        // valid for a write.
        unsafe { token_len.write(needed) };
        return Err(wga_status::WGA_BUFFER_TOO_SMALL);
    }
    Ok(())
}

/// Writes a token (big enough buffer already checked), its length and its
/// record to the caller's out-parameters.
pub(crate) fn write_issued(
    token: &Token,
    record: &TokenRecord,
    token_buf: *mut c_char,
    token_len: *mut usize,
    record_out: *mut wga_record,
) {
    let text = token.expose_secret().as_bytes();
    // SAFETY: `check_token_buffer` saw room for the text and its NUL; the
    // caller promises `token_buf` is writable for that length and that
    // `token_len` and `record_out` are valid for writes. `text` is Rust
    // memory, so the regions do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), token_buf.cast::<u8>(), text.len());
        token_buf.add(text.len()).write(0);
        token_len.write(text.len());
        record_out.write(wga_record::from_record(record));
    }
}

/// Generates a new token for an account without a keyring (for hosts that
/// keep records themselves and add them with `wga_keyring_add` later).
///
/// Writes the token (NUL-terminated) to `token_buf`, its length without the
/// NUL to `*token_len`, and the record to store to `*record_out`. Show the
/// token to its owner once, then wipe the buffer; store only the record.
///
/// `now` is the creation time in seconds since the Unix epoch (0: the
/// system clock). `token_buf_len` of `WGA_TOKEN_BUFFER_LEN` always fits;
/// when it is too small, returns `WGA_BUFFER_TOO_SMALL` and writes the size
/// needed (with the NUL) to `*token_len`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER`, `WGA_INVALID_ACCOUNT`,
/// `WGA_INVALID_NAME`, `WGA_BUFFER_TOO_SMALL` or `WGA_RNG_FAILED`.
///
/// # Safety
/// `account` and `name` point to `account_len` / `name_len` readable bytes;
/// `token_buf` to `token_buf_len` writable bytes; `token_len` and
/// `record_out` are valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_generate_token(
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
        match TokenRecord::create(&TokenFormat::DEFAULT, &mut OsRng, account, name, instant(now)) {
            Ok((token, record)) => {
                write_issued(&token, &record, token_buf, token_len, record_out);
                wga_status::WGA_OK
            }
            Err(_) => wga_status::WGA_RNG_FAILED,
        }
    }
}

/// A snapshot of records, from `wga_keyring_list` or
/// `wga_keyring_take_last_used`. Read it with `wga_record_list_len` and
/// `wga_record_list_get`; release it with `wga_record_list_free`. It does
/// not change when the keyring does.
#[allow(non_camel_case_types)]
pub struct wga_record_list {
    pub(crate) records: Vec<TokenRecord>,
}

impl wga_record_list {
    pub(crate) fn into_raw(records: Vec<TokenRecord>) -> *mut Self {
        alloc::boxed::Box::into_raw(alloc::boxed::Box::new(Self { records }))
    }
}

/// How many records a list holds (0 for NULL).
///
/// # Safety
/// `list` is NULL or a live list from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_record_list_len(list: *const wga_record_list) -> usize {
    ffi_panic_boundary! {
        try_ref!(list).records.len()
    }
}

/// Copies the record at `index` (from 0) to `*record_out`.
///
/// Returns `WGA_OK`, `WGA_NULL_PARAMETER` or `WGA_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `list` is a live list from this library; `record_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_record_list_get(
    list: *const wga_record_list,
    index: usize,
    record_out: *mut wga_record,
) -> wga_status {
    ffi_panic_boundary! {
        let list = try_ref!(list);
        let record_out = try_out!(record_out);
        let Some(record) = list.records.get(index) else {
            return wga_status::WGA_INDEX_OUT_OF_RANGE;
        };
        // SAFETY: checked non-null; the caller promises it is valid for a write.
        unsafe { record_out.write(wga_record::from_record(record)) };
        wga_status::WGA_OK
    }
}

/// Releases a list. NULL does nothing.
///
/// # Safety
/// `list` is NULL or a live list from this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wga_record_list_free(list: *mut wga_record_list) {
    ffi_panic_boundary! {
        if !list.is_null() {
            // SAFETY: made by `Box::into_raw` in `into_raw`; the caller gives
            // it back once.
            drop(unsafe { alloc::boxed::Box::from_raw(list) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::MaybeUninit;

    #[test]
    fn generate_writes_a_token_and_its_record() {
        let mut buf = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
        let mut len = 0usize;
        let mut record = MaybeUninit::<wga_record>::uninit();
        // SAFETY: valid pointers and lengths.
        let status = unsafe {
            wga_generate_token(
                c"acct_1".as_ptr(),
                6,
                c"Production API".as_ptr(),
                14,
                1_790_000_000,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
                record.as_mut_ptr(),
            )
        };
        assert_eq!(status, wga_status::WGA_OK);
        // SAFETY: written on WGA_OK.
        let record = unsafe { record.assume_init() };
        assert_eq!(len, 55);
        assert_eq!(buf[len], 0);
        let text: Vec<u8> = buf[..len].iter().map(|c| *c as u8).collect();
        let parsed = wga_core::host_records::parse(&text).unwrap();
        assert_eq!(record.read().unwrap().id, parsed.id());
        assert!(parsed.is_accepted_by(&Verifier::from_bytes(record.verifier), None, Timestamp(1)));
        assert_eq!(record.created_at, 1_790_000_000);
        assert_eq!(&as_bytes(&record.account)[..7], b"acct_1\0");
        assert_eq!(record.account_len, 6);
        assert!(!record.has_last_used_at && !record.has_rollover);
    }

    #[test]
    fn generate_reports_short_buffers_and_bad_labels_without_writing() {
        let mut buf = [0 as c_char; 55];
        let mut len = 0usize;
        let mut record = MaybeUninit::<wga_record>::uninit();
        let mut call = |account: &[u8], name: &[u8], buf: &mut [c_char], len: &mut usize| {
            // SAFETY: valid pointers and lengths.
            unsafe {
                wga_generate_token(
                    account.as_ptr().cast(),
                    account.len(),
                    name.as_ptr().cast(),
                    name.len(),
                    0,
                    buf.as_mut_ptr(),
                    buf.len(),
                    len,
                    record.as_mut_ptr(),
                )
            }
        };
        assert_eq!(
            call(b"a", b"n", &mut buf, &mut len),
            wga_status::WGA_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 56);
        assert!(buf.iter().all(|c| *c == 0));
        len = 7;
        assert_eq!(
            call(b" a", b"n", &mut buf, &mut len),
            wga_status::WGA_INVALID_ACCOUNT
        );
        assert_eq!(
            call(b"\xff", b"n", &mut buf, &mut len),
            wga_status::WGA_INVALID_ACCOUNT
        );
        assert_eq!(
            call(b"a", b"  ", &mut buf, &mut len),
            wga_status::WGA_INVALID_NAME
        );
        assert_eq!(len, 7);
    }

    #[test]
    fn records_round_trip_through_the_c_struct() {
        let record = TokenRecord {
            id: "0123456789abcdef".parse().unwrap(),
            account: AccountId::new("acct_é").unwrap(),
            name: TokenName::new("Testing").unwrap(),
            verifier: Verifier::from_bytes([9; 32]),
            created_at: Timestamp(5),
            last_used_at: Some(Timestamp(6)),
            rollover: Some(Rollover {
                verifier: Verifier::from_bytes([8; 32]),
                until: Timestamp(7),
            }),
            scopes: wga_core::Scopes::FULL,
            expires_at: None,
            disabled: false,
            description: None,
        };
        let c = wga_record::from_record(&record);
        assert_eq!(c.account_len, "acct_é".len());
        let back = c.read().unwrap();
        assert_eq!(back.id, record.id);
        assert_eq!(back.account, record.account);
        assert_eq!(back.name, record.name);
        assert_eq!(back.verifier.to_bytes(), [9; 32]);
        assert_eq!(back.last_used_at, Some(Timestamp(6)));
        assert_eq!(back.rollover.unwrap().until, Timestamp(7));

        let mut bad = c;
        bad.account_len = WGA_ACCOUNT_BUFFER_LEN;
        assert_eq!(bad.read().err(), Some(wga_status::WGA_INVALID_ACCOUNT));
        let mut bad = c;
        bad.name_len = 0;
        assert_eq!(bad.read().err(), Some(wga_status::WGA_INVALID_NAME));
        let mut bad = c;
        bad.id[3] = b'x' as c_char;
        assert_eq!(bad.read().err(), Some(wga_status::WGA_INVALID_TOKEN_ID));
        let mut bad = c;
        bad.id[16] = b'0' as c_char;
        assert_eq!(bad.read().err(), Some(wga_status::WGA_INVALID_TOKEN_ID));
    }
}
