//! The C binding's entry points with arbitrary buffers: every verify
//! function must answer exactly what the Rust core answers for the same
//! bytes (same records, same instant), and never crash or panic
//! (`WGA_PANIC` fails the target).

#![no_main]
#![allow(unsafe_code)]

use core::ffi::c_char;
use core::ptr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wga_c::{
    WGA_ACCOUNT_BUFFER_LEN, WGA_NAME_BUFFER_LEN, WGA_TOKEN_ID_BUFFER_LEN, wga_keyring,
    wga_keyring_add, wga_keyring_new, wga_keyring_verify_access_token,
    wga_keyring_verify_authorization, wga_keyring_verify_headers, wga_keyring_verify_token,
    wga_principal, wga_record, wga_status,
};
use whatsgate_auth::{Failure, Profile, Rejection};
use whatsgate_auth_fuzz::{FIXTURE, HeaderInput};

/// The C keyring, loaded with the same records as the Rust fixture.
struct CKeyring(*mut wga_keyring);
// SAFETY: the binding documents its keyring as safe to share across threads.
unsafe impl Send for CKeyring {}
// SAFETY: as above.
unsafe impl Sync for CKeyring {}

fn cstr<const N: usize>(text: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (d, s) in out.iter_mut().zip(text.as_bytes()) {
        *d = *s as c_char;
    }
    out
}

static C_KEYRING: LazyLock<CKeyring> = LazyLock::new(|| {
    let mut keyring = ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { wga_keyring_new(&mut keyring) }, wga_status::WGA_OK);
    for r in &FIXTURE.records {
        let record = wga_record {
            id: cstr::<WGA_TOKEN_ID_BUFFER_LEN>(&r.id.to_string()),
            account: cstr::<WGA_ACCOUNT_BUFFER_LEN>(r.account.as_str()),
            account_len: r.account.as_str().len(),
            name: cstr::<WGA_NAME_BUFFER_LEN>(r.name.as_str()),
            name_len: r.name.as_str().len(),
            verifier: r.verifier.to_bytes(),
            created_at: r.created_at.as_secs(),
            has_last_used_at: r.last_used_at.is_some(),
            last_used_at: r.last_used_at.map_or(0, |t| t.as_secs()),
            has_rollover: r.rollover.is_some(),
            rollover_verifier: r.rollover.map_or([0; 32], |x| x.verifier.to_bytes()),
            rollover_until: r.rollover.map_or(0, |x| x.until.as_secs()),
        };
        // SAFETY: a live keyring and a readable record.
        assert_eq!(
            unsafe { wga_keyring_add(keyring, &record) },
            wga_status::WGA_OK
        );
    }
    CKeyring(keyring)
});

fn expected(result: Result<whatsgate_auth::Principal, Rejection>) -> wga_status {
    match result {
        Ok(_) => wga_status::WGA_OK,
        Err(r) => match (r.profile, r.failure) {
            (Profile::Rest, Failure::Missing) => wga_status::WGA_ACCESS_TOKEN_MISSING,
            (Profile::Rest, Failure::Invalid) => wga_status::WGA_ACCESS_TOKEN_INVALID,
            (Profile::Mcp, Failure::Missing) => wga_status::WGA_BEARER_MISSING,
            (Profile::Mcp, Failure::Invalid) => wga_status::WGA_BEARER_INVALID,
            (_, Failure::Unavailable) => wga_status::WGA_STORE_UNAVAILABLE,
        },
    }
}

fn blank_principal() -> wga_principal {
    wga_principal {
        token_id: [0; WGA_TOKEN_ID_BUFFER_LEN],
        account: [0; WGA_ACCOUNT_BUFFER_LEN],
        account_len: 0,
        name: [0; WGA_NAME_BUFFER_LEN],
        name_len: 0,
    }
}

/// The principal the C side wrote matches the Rust one.
fn check_principal(c: &wga_principal, rust: &whatsgate_auth::Principal) {
    let id: Vec<u8> = c.token_id[..16].iter().map(|&b| b as u8).collect();
    assert_eq!(id, rust.token_id().to_string().into_bytes());
    let account: Vec<u8> = c.account[..c.account_len]
        .iter()
        .map(|&b| b as u8)
        .collect();
    assert_eq!(account, rust.account().as_bytes());
    let name: Vec<u8> = c.name[..c.name_len].iter().map(|&b| b as u8).collect();
    assert_eq!(name, rust.token_name().as_bytes());
}

fuzz_target!(|data: &[u8]| {
    let keyring = C_KEYRING.0;
    let fixture = &*FIXTURE;
    let now = fixture.now.as_secs();

    // A bare token.
    let mut principal = blank_principal();
    // SAFETY: a live keyring, `data` readable, a writable principal.
    let status = unsafe {
        wga_keyring_verify_token(keyring, data.as_ptr(), data.len(), now, &mut principal)
    };
    let rust = fixture.keyring.verify(data, fixture.now);
    assert_eq!(status == wga_status::WGA_OK, rust.is_ok(), "verify_token");
    if let Ok(p) = &rust {
        check_principal(&principal, p);
    } else {
        assert_eq!(status, wga_status::WGA_INVALID_TOKEN);
    }

    // Headers, by pairs and by the values of each profile's header.
    let input = HeaderInput::decode(data);
    let names: Vec<*const u8> = input.pairs.iter().map(|(n, _)| n.as_ptr()).collect();
    let name_lens: Vec<usize> = input.pairs.iter().map(|(n, _)| n.len()).collect();
    let values: Vec<*const u8> = input.pairs.iter().map(|(_, v)| v.as_ptr()).collect();
    let value_lens: Vec<usize> = input.pairs.iter().map(|(_, v)| v.len()).collect();
    let count = input.pairs.len();
    for (code, profile) in [(0u32, Profile::Rest), (1, Profile::Mcp)] {
        let rust = fixture.keyring.authenticate(
            profile,
            input
                .pairs
                .iter()
                .filter(|(n, _)| profile.is_token_header(n))
                .map(|(_, v)| *v),
            fixture.now,
        );
        let mut principal = blank_principal();
        // SAFETY: arrays of `count` elements pointing into `data`.
        let status = unsafe {
            wga_keyring_verify_headers(
                keyring,
                code,
                names.as_ptr(),
                name_lens.as_ptr(),
                values.as_ptr(),
                value_lens.as_ptr(),
                count,
                now,
                &mut principal,
            )
        };
        assert_eq!(status, expected(rust.clone()), "verify_headers {profile:?}");
        if let Ok(p) = &rust {
            check_principal(&principal, p);
        }

        // Every value as if it were the profile's header (NULL principal).
        let rust =
            fixture
                .keyring
                .authenticate(profile, input.pairs.iter().map(|(_, v)| *v), fixture.now);
        let verify = match profile {
            Profile::Rest => wga_keyring_verify_access_token,
            Profile::Mcp => wga_keyring_verify_authorization,
        };
        // SAFETY: arrays of `count` elements pointing into `data`; NULL principal allowed.
        let status = unsafe {
            verify(
                keyring,
                values.as_ptr(),
                value_lens.as_ptr(),
                count,
                now,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, expected(rust), "verify values {profile:?}");
    }

    // An unknown profile is refused, not guessed.
    let code = u32::from(data.first().copied().unwrap_or(2)) | 2;
    // SAFETY: as above.
    let status = unsafe {
        wga_keyring_verify_headers(
            keyring,
            code,
            names.as_ptr(),
            name_lens.as_ptr(),
            values.as_ptr(),
            value_lens.as_ptr(),
            count,
            now,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, wga_status::WGA_INVALID_ARGUMENT);
});
