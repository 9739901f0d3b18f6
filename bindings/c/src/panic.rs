//! The panic boundary and the argument checks every entry point uses.

/// Runs an entry point's body inside `catch_unwind`: a panic becomes
/// `WGA_PANIC` (or the given fallback for functions that return no status),
/// never an unwind into C. The body is a closure body: `return` leaves it.
macro_rules! ffi_panic_boundary {
    (fallback = $fallback:expr; $($body:tt)*) => {
        match ::std::panic::catch_unwind(::core::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $fallback,
        }
    };
    ($($body:tt)*) => {
        ffi_panic_boundary!(fallback = $crate::status::wga_status::WGA_PANIC; $($body)*)
    };
}

/// `&T` from a pointer argument, or return `WGA_NULL_PARAMETER`.
macro_rules! try_ref {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::status::wga_status::WGA_NULL_PARAMETER;
        }
        // SAFETY: non-null; the caller promises (see each function's
        // "Safety" section) that it points to a valid, live object.
        unsafe { &*ptr }
    }};
}

/// Checks that an out-parameter is not NULL (it is written later, through
/// raw pointer writes, only on success), or returns `WGA_NULL_PARAMETER`.
macro_rules! try_out {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::status::wga_status::WGA_NULL_PARAMETER;
        }
        ptr
    }};
}

/// A byte slice from a pointer and length, or return `WGA_NULL_PARAMETER`.
macro_rules! try_slice {
    ($ptr:expr, $len:expr) => {{
        let (ptr, len): (*const u8, usize) = ($ptr.cast::<u8>(), $len);
        if ptr.is_null() {
            return $crate::status::wga_status::WGA_NULL_PARAMETER;
        }
        // SAFETY: non-null; the caller promises `len` readable bytes at
        // `ptr`, alive for the call and not written during it.
        unsafe { ::core::slice::from_raw_parts(ptr, len) }
    }};
}

pub(crate) use {ffi_panic_boundary, try_out, try_ref, try_slice};

#[cfg(test)]
mod tests {
    use crate::status::wga_status;

    fn boundary(panic: bool) -> wga_status {
        ffi_panic_boundary! {
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            wga_status::WGA_OK
        }
    }

    fn boundary_with_fallback(panic: bool) -> usize {
        ffi_panic_boundary! { fallback = 0;
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            7
        }
    }

    /// Positive control: a panic inside the boundary is caught and reported.
    #[test]
    fn a_panic_becomes_wga_panic() {
        assert_eq!(boundary(false), wga_status::WGA_OK);
        assert_eq!(boundary(true), wga_status::WGA_PANIC);
        assert_eq!(boundary_with_fallback(false), 7);
        assert_eq!(boundary_with_fallback(true), 0);
    }

    fn null_checks(p: *const u8, len: usize) -> wga_status {
        ffi_panic_boundary! {
            let _ = try_slice!(p, len);
            let _ = try_ref!(p);
            let _ = try_out!(p.cast_mut());
            wga_status::WGA_OK
        }
    }

    #[test]
    fn null_pointers_are_refused() {
        assert_eq!(
            null_checks(core::ptr::null(), 0),
            wga_status::WGA_NULL_PARAMETER
        );
        let byte = 1u8;
        assert_eq!(null_checks(&byte, 1), wga_status::WGA_OK);
    }
}
