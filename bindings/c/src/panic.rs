//! The panic boundary and the argument checks every entry point uses.
//!
//! What an entry point answers when its body panics, or when a required
//! pointer is NULL, follows from its return type (after rustls-ffi): the
//! status enum implements the two traits below next to its definition, and
//! every other return type answers with its zero value. This module names
//! no type of the binding, so everything may import it.

/// The value an entry point returns when its body panics.
pub(crate) trait PanicOrDefault {
    fn value() -> Self;
}

/// The value an entry point returns when a required pointer is NULL.
pub(crate) trait NullParameterOrDefault {
    fn value() -> Self;
}

/// Return types that carry no status: a panic or a NULL argument gives their
/// zero value (0, nothing), as each such function documents for NULL.
pub(crate) trait Defaultable: Default {}

impl Defaultable for () {}
// `false`: a keyring that cannot be read is not known to be available.
impl Defaultable for bool {}
impl Defaultable for u16 {}
// `wga_status_retry_after`: 0 is "send no Retry-After".
impl Defaultable for u32 {}
impl Defaultable for usize {}

impl<T: Defaultable> PanicOrDefault for T {
    fn value() -> Self {
        T::default()
    }
}

impl<T: Defaultable> NullParameterOrDefault for T {
    fn value() -> Self {
        T::default()
    }
}

impl<T> PanicOrDefault for *const T {
    fn value() -> Self {
        core::ptr::null()
    }
}

impl<T> PanicOrDefault for *mut T {
    fn value() -> Self {
        core::ptr::null_mut()
    }
}

impl<T> NullParameterOrDefault for *const T {
    fn value() -> Self {
        core::ptr::null()
    }
}

impl<T> NullParameterOrDefault for *mut T {
    fn value() -> Self {
        core::ptr::null_mut()
    }
}

/// Runs an entry point's body inside `catch_unwind`: a panic becomes the
/// return type's [`PanicOrDefault`] value (`WGA_PANIC` for a status), never
/// an unwind into C. The body is a closure body: `return` leaves it.
///
/// `fallback = …;` overrides that value, for the rare function whose
/// documented answer is not its type's default (say why at the call).
macro_rules! ffi_panic_boundary {
    (fallback = $fallback:expr; $($body:tt)*) => {
        match ::std::panic::catch_unwind(::core::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $fallback,
        }
    };
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::core::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $crate::panic::PanicOrDefault::value(),
        }
    };
}

/// `&T` from a pointer argument, or return the [`NullParameterOrDefault`]
/// value (`WGA_NULL_PARAMETER` for a status).
macro_rules! try_ref {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::panic::NullParameterOrDefault::value();
        }
        // SAFETY: non-null; the caller promises (see each function's
        // "Safety" section) that it points to a valid, live object.
        unsafe { &*ptr }
    }};
}

/// Checks that an out-parameter is not NULL (it is written later, through
/// raw pointer writes, only on success), or returns the
/// [`NullParameterOrDefault`] value.
macro_rules! try_out {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::panic::NullParameterOrDefault::value();
        }
        ptr
    }};
}

/// A byte slice from a pointer and length, or return the
/// [`NullParameterOrDefault`] value.
macro_rules! try_slice {
    ($ptr:expr, $len:expr) => {{
        let (ptr, len): (*const u8, usize) = ($ptr.cast::<u8>(), $len);
        if ptr.is_null() {
            return $crate::panic::NullParameterOrDefault::value();
        }
        // SAFETY: non-null; the caller promises `len` readable bytes at
        // `ptr`, alive for the call and not written during it.
        unsafe { ::core::slice::from_raw_parts(ptr, len) }
    }};
}

pub(crate) use {ffi_panic_boundary, try_out, try_ref, try_slice};

#[cfg(test)]
mod tests {
    use super::{NullParameterOrDefault, PanicOrDefault};

    /// A stand-in for a status enum, so these tests need no other module.
    #[derive(Debug, PartialEq)]
    enum Answer {
        Ok,
        Panicked,
        Null,
    }

    impl PanicOrDefault for Answer {
        fn value() -> Self {
            Self::Panicked
        }
    }

    impl NullParameterOrDefault for Answer {
        fn value() -> Self {
            Self::Null
        }
    }

    fn status(panic: bool) -> Answer {
        ffi_panic_boundary! {
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            Answer::Ok
        }
    }

    fn count(panic: bool) -> usize {
        ffi_panic_boundary! {
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            7
        }
    }

    fn pointer(panic: bool) -> *const u8 {
        ffi_panic_boundary! {
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            c"x".as_ptr().cast()
        }
    }

    static FALLBACK: &core::ffi::CStr = c"fallback";

    fn overridden(panic: bool) -> *const u8 {
        ffi_panic_boundary! { fallback = FALLBACK.as_ptr().cast();
            if panic {
                panic!("deliberate panic inside the boundary");
            }
            c"x".as_ptr().cast()
        }
    }

    /// Positive control: a panic inside the boundary is caught, and the
    /// answer follows from the return type (or the explicit fallback).
    #[test]
    fn a_panic_gives_the_return_types_answer() {
        assert_eq!(status(false), Answer::Ok);
        assert_eq!(status(true), Answer::Panicked);
        assert_eq!(count(false), 7);
        assert_eq!(count(true), 0);
        assert!(!pointer(false).is_null());
        assert!(pointer(true).is_null());
        assert_eq!(overridden(true), FALLBACK.as_ptr().cast());
    }

    fn null_checks(p: *const u8, len: usize) -> Answer {
        ffi_panic_boundary! {
            let _ = try_slice!(p, len);
            let _ = try_ref!(p);
            let _ = try_out!(p.cast_mut());
            Answer::Ok
        }
    }

    fn len_or_zero(p: *const usize) -> usize {
        ffi_panic_boundary! {
            *try_ref!(p)
        }
    }

    #[test]
    fn null_pointers_get_the_return_types_answer() {
        assert_eq!(null_checks(core::ptr::null(), 0), Answer::Null);
        let byte = 1u8;
        assert_eq!(null_checks(&byte, 1), Answer::Ok);
        assert_eq!(len_or_zero(core::ptr::null()), 0);
        assert_eq!(len_or_zero(&5), 5);
    }
}
