//! The C binding's entry points with arbitrary buffers: every verify
//! function (and its `_ex` form, with the token's scopes) must answer
//! exactly what the Rust core answers for the same bytes (same records,
//! with their scopes, expiry and disabled flag; same instant); the scope
//! check, the scope denial and the options of create and update must agree
//! with the core's rules; nothing may crash or panic (`WGA_PANIC` fails the
//! target).

#![no_main]
#![allow(unsafe_code)]

use core::ffi::c_char;
use core::ptr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wga_c::{
    WGA_ACCOUNT_BUFFER_LEN, WGA_DESCRIPTION_BUFFER_LEN, WGA_NAME_BUFFER_LEN,
    WGA_SCOPE_DENIAL_TEXT_LEN, WGA_SCOPES_BUFFER_LEN, WGA_TOKEN_BUFFER_LEN,
    WGA_TOKEN_ID_BUFFER_LEN, wga_keyring, wga_keyring_add_ex, wga_keyring_create_ex,
    wga_keyring_free, wga_keyring_new, wga_keyring_update, wga_keyring_verify_access_token,
    wga_keyring_verify_access_token_ex, wga_keyring_verify_authorization,
    wga_keyring_verify_authorization_ex, wga_keyring_verify_headers, wga_keyring_verify_headers_ex,
    wga_keyring_verify_token, wga_keyring_verify_token_ex, wga_principal, wga_principal_ex,
    wga_principal_has_scope, wga_record, wga_record_extra, wga_scope_denial, wga_scope_denial_for,
    wga_scope_validate, wga_status, wga_token_options, wga_token_update,
};
use whatsgate_auth::{
    Description, Failure, Profile, Rejection, Scope, ScopeDenial, ScopeError, Scopes,
};
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
        let scopes = joined(&r.scopes);
        let extra = wga_record_extra {
            restricted: !r.scopes.is_full(),
            scopes: cstr::<WGA_SCOPES_BUFFER_LEN>(&scopes),
            scopes_len: scopes.len(),
            has_expires_at: r.expires_at.is_some(),
            expires_at: r.expires_at.map_or(0, |t| t.as_secs()),
            disabled: r.disabled,
            has_description: r.description.is_some(),
            description: cstr::<WGA_DESCRIPTION_BUFFER_LEN>(
                r.description.as_ref().map_or("", |d| d.as_str()),
            ),
            description_len: r.description.as_ref().map_or(0, |d| d.as_str().len()),
        };
        // SAFETY: a live keyring and readable structs.
        assert_eq!(
            unsafe { wga_keyring_add_ex(keyring, &record, &extra) },
            wga_status::WGA_OK
        );
    }
    CKeyring(keyring)
});

/// A scope list as the C API writes it: sorted, one space between.
fn joined(scopes: &Scopes) -> String {
    scopes.list().map_or_else(String::new, |list| {
        list.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    })
}

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

fn blank_principal_ex() -> wga_principal_ex {
    wga_principal_ex {
        principal: blank_principal(),
        restricted: false,
        scopes: [0; WGA_SCOPES_BUFFER_LEN],
        scopes_len: 0,
    }
}

/// The principal and scopes the C side wrote match the Rust ones, and the
/// scope check agrees with the core's for `required` (any bytes).
fn check_principal_ex(c: &wga_principal_ex, rust: &whatsgate_auth::Principal, required: &[u8]) {
    check_principal(&c.principal, rust);
    assert_eq!(c.restricted, !rust.scopes().is_full());
    let scopes: Vec<u8> = c.scopes[..c.scopes_len].iter().map(|&b| b as u8).collect();
    assert_eq!(scopes, joined(rust.scopes()).into_bytes());
    // SAFETY: a written principal and `required` readable.
    let held = unsafe { wga_principal_has_scope(c, required.as_ptr().cast(), required.len()) };
    // The binding refuses a name that is no scope, even with full access.
    let want =
        core::str::from_utf8(required).is_ok_and(|r| Scope::is_valid(r) && rust.has_scope(r));
    assert_eq!(held, want, "has_scope");
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
    let required = data.get(..data.len().min(80)).unwrap_or_default();
    let mut principal = blank_principal_ex();
    // SAFETY: as above.
    let status = unsafe {
        wga_keyring_verify_token_ex(keyring, data.as_ptr(), data.len(), now, &mut principal)
    };
    assert_eq!(
        status == wga_status::WGA_OK,
        rust.is_ok(),
        "verify_token_ex"
    );
    if let Ok(p) = &rust {
        check_principal_ex(&principal, p, required);
    }

    scope_answers(data);
    create_and_update(data);

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
        let mut principal = blank_principal_ex();
        // SAFETY: as above.
        let status = unsafe {
            wga_keyring_verify_headers_ex(
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
        assert_eq!(
            status,
            expected(rust.clone()),
            "verify_headers_ex {profile:?}"
        );
        if let Ok(p) = &rust {
            let required = input.pairs.first().map_or(&[][..], |(n, _)| *n);
            check_principal_ex(&principal, p, required);
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
        assert_eq!(status, expected(rust.clone()), "verify values {profile:?}");
        let verify_ex = match profile {
            Profile::Rest => wga_keyring_verify_access_token_ex,
            Profile::Mcp => wga_keyring_verify_authorization_ex,
        };
        // SAFETY: as above.
        let status = unsafe {
            verify_ex(
                keyring,
                values.as_ptr(),
                value_lens.as_ptr(),
                count,
                now,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, expected(rust), "verify values ex {profile:?}");
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

/// `wga_scope_validate` and `wga_scope_denial_for` on any bytes: accepted
/// exactly when the core takes them as a scope, and then the core's answer.
fn scope_answers(data: &[u8]) {
    let scope = core::str::from_utf8(data)
        .ok()
        .and_then(|s| Scope::new(s).ok());
    // SAFETY: `data` readable.
    let status = unsafe { wga_scope_validate(data.as_ptr().cast(), data.len()) };
    assert_eq!(
        status == wga_status::WGA_OK,
        scope.is_some(),
        "scope_validate"
    );
    for (code, profile) in [(0u32, Profile::Rest), (1, Profile::Mcp)] {
        let mut denial = wga_scope_denial {
            http_code: 0,
            body: [0; WGA_SCOPE_DENIAL_TEXT_LEN],
            body_len: 0,
            has_www_authenticate: false,
            www_authenticate: [0; WGA_SCOPE_DENIAL_TEXT_LEN],
            www_authenticate_len: 0,
        };
        // SAFETY: `data` readable, a writable denial.
        let status =
            unsafe { wga_scope_denial_for(code, data.as_ptr().cast(), data.len(), &mut denial) };
        let Some(scope) = &scope else {
            assert_eq!(status, wga_status::WGA_INVALID_SCOPE);
            continue;
        };
        assert_eq!(status, wga_status::WGA_OK);
        let want = ScopeDenial { profile, scope };
        let body: Vec<u8> = denial.body[..denial.body_len]
            .iter()
            .map(|&b| b as u8)
            .collect();
        assert_eq!(body, want.body().to_string().into_bytes());
        let challenge: Vec<u8> = denial.www_authenticate[..denial.www_authenticate_len]
            .iter()
            .map(|&b| b as u8)
            .collect();
        assert_eq!(
            denial.has_www_authenticate.then_some(challenge),
            want.www_authenticate().map(|c| c.to_string().into_bytes())
        );
    }
}

/// What the binding's option parsing must answer for a scope list: the
/// core's verdict on its space-separated names.
fn scopes_verdict(bytes: &[u8]) -> Result<Scopes, wga_status> {
    let text = core::str::from_utf8(bytes).map_err(|_| wga_status::WGA_INVALID_SCOPE)?;
    Scopes::only(text.split(' ').filter(|s| !s.is_empty())).map_err(|e| match e {
        ScopeError::BadName(_) => wga_status::WGA_INVALID_SCOPE,
        ScopeError::TooMany(_) => wga_status::WGA_TOO_MANY_SCOPES,
    })
}

/// Creates a token in a fresh keyring with options cut from the input
/// (scopes | description | expiry byte), then updates it with the same
/// pieces: each call succeeds exactly when the core accepts the pieces, and
/// the token then carries them.
fn create_and_update(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == b'|');
    let scopes = parts.next().unwrap_or_default();
    let description = parts.next();
    let expiry = parts.next().and_then(|p| p.first()).copied();
    let now = FIXTURE.now.as_secs();
    let options = wga_token_options {
        scopes: scopes.as_ptr().cast(),
        scopes_len: scopes.len(),
        // 0: none; otherwise up to 255 s either side of now.
        expires_at: expiry.map_or(0, |b| now - 128 + u64::from(b)),
        description: description.map_or(ptr::null(), |d| d.as_ptr().cast()),
        description_len: description.map_or(0, <[u8]>::len),
    };
    let want_scopes = scopes_verdict(scopes);
    let want_description = description.map(|d| {
        core::str::from_utf8(d)
            .ok()
            .and_then(|t| Description::new(t).ok())
            .ok_or(wga_status::WGA_INVALID_DESCRIPTION)
    });
    let want = match (&want_scopes, &want_description) {
        (Err(e), _) | (Ok(_), Some(Err(e))) => *e,
        _ if options.expires_at != 0 && options.expires_at <= now => wga_status::WGA_POLICY_REFUSED,
        _ => wga_status::WGA_OK,
    };

    let mut keyring = ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { wga_keyring_new(&mut keyring) }, wga_status::WGA_OK);
    let mut token = [0 as c_char; WGA_TOKEN_BUFFER_LEN];
    let mut token_len = 0;
    let mut record = std::mem::MaybeUninit::<wga_record>::uninit();
    let mut extra = std::mem::MaybeUninit::<wga_record_extra>::uninit();
    // SAFETY: a live keyring, readable inputs (the options point into
    // `data`), writable outputs.
    let status = unsafe {
        wga_keyring_create_ex(
            keyring,
            c"acct".as_ptr(),
            4,
            c"fuzz".as_ptr(),
            4,
            &options,
            now,
            token.as_mut_ptr(),
            token.len(),
            &mut token_len,
            record.as_mut_ptr(),
            extra.as_mut_ptr(),
        )
    };
    assert_eq!(status, want, "create_ex");
    if status == wga_status::WGA_OK {
        // SAFETY: written on WGA_OK.
        let (record, extra) = unsafe { (record.assume_init(), extra.assume_init()) };
        let model = want_scopes.unwrap_or_else(|_| unreachable!("created"));
        let written: Vec<u8> = extra.scopes[..extra.scopes_len]
            .iter()
            .map(|&b| b as u8)
            .collect();
        assert!(extra.restricted);
        assert_eq!(written, joined(&model).into_bytes());
        if options.expires_at == 0 || now < options.expires_at {
            // The token carries them: the scope check agrees with the model,
            // for a name it holds and for other bytes.
            let mut principal = blank_principal_ex();
            // SAFETY: a live keyring, the token it wrote, a writable principal.
            let verdict = unsafe {
                wga_keyring_verify_token_ex(
                    keyring,
                    token.as_ptr().cast(),
                    token_len,
                    now,
                    &mut principal,
                )
            };
            assert_eq!(verdict, wga_status::WGA_OK, "verify after create");
            let held = model
                .list()
                .and_then(|l| l.first())
                .map(|s| s.as_str().as_bytes());
            for required in [
                held.unwrap_or(b"messages:send"),
                description.unwrap_or(scopes),
            ] {
                // SAFETY: a written principal and `required` readable.
                let c = unsafe {
                    wga_principal_has_scope(&principal, required.as_ptr().cast(), required.len())
                };
                let want = core::str::from_utf8(required)
                    .is_ok_and(|r| Scope::is_valid(r) && model.allows(r));
                assert_eq!(c, want, "has_scope after create");
            }
        }

        // The same pieces as an update: rescope, describe, disable.
        let update = wga_token_update {
            set_name: false,
            name: ptr::null(),
            name_len: 0,
            set_description: true,
            description: options.description,
            description_len: options.description_len,
            set_scopes: true,
            scopes: options.scopes,
            scopes_len: options.scopes_len,
            set_disabled: expiry.is_some(),
            disabled: expiry.is_some_and(|b| b & 1 == 1),
        };
        let mut extra = std::mem::MaybeUninit::<wga_record_extra>::uninit();
        let mut out = std::mem::MaybeUninit::<wga_record>::uninit();
        // SAFETY: a live keyring, a readable id and update, writable outputs.
        let status = unsafe {
            wga_keyring_update(
                keyring,
                record.id.as_ptr(),
                16,
                &update,
                out.as_mut_ptr(),
                extra.as_mut_ptr(),
            )
        };
        assert_eq!(status, wga_status::WGA_OK, "update with what create took");
        // SAFETY: written on WGA_OK.
        let extra = unsafe { extra.assume_init() };
        assert_eq!(extra.disabled, update.disabled);
        let mut principal = blank_principal_ex();
        // SAFETY: a live keyring, the token it wrote, a writable principal.
        let verdict = unsafe {
            wga_keyring_verify_token_ex(
                keyring,
                token.as_ptr().cast(),
                token_len,
                now,
                &mut principal,
            )
        };
        let active = !update.disabled && (options.expires_at == 0 || now < options.expires_at);
        assert_eq!(verdict == wga_status::WGA_OK, active, "verify after update");
    }
    // SAFETY: a live keyring, released once.
    unsafe { wga_keyring_free(keyring) };
}
