//! The one place that knows which kernels this CPU runs.
//!
//! [`Platform::detect`] reads the CPU's features once (`cpuid`, cached in one
//! atomic), and each routine with more than one kernel dispatches here, in a
//! single `match`; the kernel files hold only `#[target_feature]` functions
//! and their tests. Builds with `--cfg whatsgate_portable` never pick a SIMD
//! kernel, so the portable code can be proved (valgrind) and measured on the
//! same machine.
//!
//! | routine | SIMD kernel | when |
//! |---|---|---|
//! | token body decode ([`Platform::decode_body`]) | `base64url/avx2.rs` | AVX2, detected at run time |
//! | payload CRC ([`Platform::crc32`]) | `crc32/pclmul.rs` | PCLMULQDQ and SSE4.1, detected at run time |
//! | verifier block layout ([`Platform::strip_version`], [`Platform::join_block`]) | `lanes/sse2.rs` | SSE2: every x86_64 CPU, so known at compile time |
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicU8, Ordering};

use super::lanes::Aligned32;
use crate::layout::{BODY_LEN, CHECKED_LEN, PAYLOAD_LEN};

/// Which kernel each routine runs. Each flag is true only where its
/// kernel's features are present, which is what makes the `unsafe` calls
/// below sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Platform {
    avx2: bool,
    pclmul: bool,
    sse2: bool,
}

/// SSE2 is part of the x86_64 baseline: no run-time check is needed.
const SSE2: bool = cfg!(all(target_arch = "x86_64", not(whatsgate_portable)));

const AVX2_BIT: u8 = 1;
const PCLMUL_BIT: u8 = 2;
const DETECTED_BIT: u8 = 0x80;

/// The detected features (the bits above), 0 until the first detection.
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Platform {
    /// Every routine on its portable kernel (the reference in tests).
    #[cfg(test)]
    pub(crate) const PORTABLE: Self = Self {
        avx2: false,
        pclmul: false,
        sse2: false,
    };

    /// The kernels every CPU of this build's target runs, known at compile
    /// time (SSE2 on x86_64): for the routines whose SIMD kernel needs no
    /// run-time detection, so their dispatch costs no load.
    #[inline(always)]
    pub(crate) const fn baseline() -> Self {
        Self {
            avx2: false,
            pclmul: false,
            sse2: SSE2,
        }
    }

    /// The kernels this CPU runs: one relaxed load once detected.
    #[inline(always)]
    pub(crate) fn detect() -> Self {
        let mut bits = DETECTED.load(Ordering::Relaxed);
        if bits == 0 {
            bits = detect_features();
            DETECTED.store(bits, Ordering::Relaxed);
        }
        Self {
            avx2: bits & AVX2_BIT != 0,
            pclmul: bits & PCLMUL_BIT != 0,
            sse2: SSE2,
        }
    }

    /// Decodes the 50-character token body into the 37-byte payload; see
    /// `base64url::decode` for the mask. Constant-time on every kernel.
    #[inline(always)]
    pub(crate) fn decode_body(self, chars: &[u8; BODY_LEN], out: &mut [u8; PAYLOAD_LEN]) -> u8 {
        match self.avx2 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `avx2` is set only when the CPU has AVX2, the one
            // feature the kernel enables.
            true => unsafe { super::base64url::avx2::decode(chars, out) },
            _ => super::base64url::decode_portable(chars, out),
        }
    }

    /// CRC-32 of the checked part of the payload. Constant-time on every
    /// kernel.
    #[inline(always)]
    pub(crate) fn crc32(self, message: &[u8; CHECKED_LEN]) -> u32 {
        match self.pclmul {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `pclmul` is set only when the CPU has PCLMULQDQ and
            // SSE4.1, the features the kernel enables.
            true => unsafe { super::crc32::pclmul::checksum(message) },
            _ => super::crc32::portable(message),
        }
    }

    /// Bytes 1..33 of `checked` as two aligned 16-byte halves.
    #[inline(always)]
    pub(crate) fn strip_version(self, checked: &[u8; CHECKED_LEN]) -> Aligned32 {
        match self.sse2 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `sse2` is set only on x86_64, where SSE2 is baseline.
            true => unsafe { super::lanes::sse2::strip_version(checked) },
            _ => super::lanes::strip_version_portable(checked),
        }
    }

    /// `head ‖ middle ‖ tail` into `block`.
    #[inline(always)]
    pub(crate) fn join_block(
        self,
        block: &mut [u8; 64],
        head: &[u8; 16],
        middle: &Aligned32,
        tail: &[u8; 16],
    ) {
        match self.sse2 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `sse2` is set only on x86_64, where SSE2 is baseline.
            true => unsafe { super::lanes::sse2::join_block(block, head, middle, tail) },
            _ => super::lanes::join_block_portable(block, head, middle, tail),
        }
    }

    /// Names the kernel of each routine, e.g. `"base64url=avx2 crc32=pclmul
    /// layout=sse2"`: for benchmark reports and for the constant-time
    /// harness, which must know which code it proved.
    pub(crate) fn kernels(self) -> &'static str {
        match (self.avx2, self.pclmul, self.sse2) {
            (true, true, true) => "base64url=avx2 crc32=pclmul layout=sse2",
            (true, false, true) => "base64url=avx2 crc32=portable layout=sse2",
            (false, true, true) => "base64url=portable crc32=pclmul layout=sse2",
            (false, false, true) => "base64url=portable crc32=portable layout=sse2",
            (true, true, false) => "base64url=avx2 crc32=pclmul layout=portable",
            (true, false, false) => "base64url=avx2 crc32=portable layout=portable",
            (false, true, false) => "base64url=portable crc32=pclmul layout=portable",
            (false, false, false) => "base64url=portable crc32=portable layout=portable",
        }
    }
}

/// Reads the CPU's features (`cpuid`); never 0, so it is cached.
#[cold]
fn detect_features() -> u8 {
    #[cfg(all(target_arch = "x86_64", not(whatsgate_portable)))]
    {
        cpufeatures::new!(avx2_cpuid, "avx2");
        cpufeatures::new!(pclmul_cpuid, "pclmulqdq", "sse4.1");
        let mut bits = DETECTED_BIT;
        if avx2_cpuid::get() {
            bits |= AVX2_BIT;
        }
        if pclmul_cpuid::get() {
            bits |= PCLMUL_BIT;
        }
        bits
    }
    #[cfg(not(all(target_arch = "x86_64", not(whatsgate_portable))))]
    DETECTED_BIT
}

/// Names the kernel each constant-time routine runs on this CPU, e.g.
/// `"base64url=avx2 crc32=pclmul layout=sse2"`: for benchmark reports and
/// test harnesses, not a stable API.
pub fn kernels() -> &'static str {
    Platform::detect().kernels()
}

/// The one test helper every kernel's tests use: runs `check` with each
/// platform this CPU supports besides the portable one (detected through
/// `std`, so `--cfg whatsgate_portable` builds and Miri with target features
/// test the kernels too), and says on stderr, past the test harness's
/// capture, when a kernel cannot run here, so a skip is never silent.
#[cfg(test)]
pub(crate) fn for_each_simd_platform(routine: &str, mut check: impl FnMut(Platform)) {
    use std::io::Write as _;
    #[cfg(target_arch = "x86_64")]
    let (avx2, pclmul, sse2) = (
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("pclmulqdq") && std::is_x86_feature_detected!("sse4.1"),
        true,
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (avx2, pclmul, sse2) = (false, false, false);
    let (needed, present) = match routine {
        "base64url" => ("AVX2", avx2),
        "crc32" => ("PCLMULQDQ + SSE4.1", pclmul),
        "layout" => ("SSE2", sse2),
        _ => panic!("no routine named {routine}"),
    };
    if !present {
        let _ = writeln!(
            std::io::stderr(),
            "ct::{routine}: no {needed} here: the SIMD kernel is NOT tested, only the portable one"
        );
        return;
    }
    check(Platform { avx2, pclmul, sse2 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_cached_and_honours_the_portable_cfg() {
        let first = Platform::detect();
        assert_eq!(Platform::detect(), first);
        assert_ne!(DETECTED.load(Ordering::Relaxed), 0);
        if cfg!(whatsgate_portable) {
            assert_eq!(first, Platform::PORTABLE);
        }
        assert_eq!(first.kernels(), kernels());
        assert!(Platform::PORTABLE.kernels().ends_with("layout=portable"));
    }
}
