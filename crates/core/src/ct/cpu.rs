//! Which SIMD kernels this CPU can run: detected once (`cpuid`), then one
//! relaxed atomic load per call.
//!
//! Builds with `--cfg whatsgate_portable` never pick a SIMD kernel, so the
//! portable code can be checked (valgrind, benches) on the same machine.

#[cfg(all(target_arch = "x86_64", not(whatsgate_portable)))]
cpufeatures::new!(avx2_cpuid, "avx2");
#[cfg(all(target_arch = "x86_64", not(whatsgate_portable)))]
cpufeatures::new!(pclmul_cpuid, "pclmulqdq", "sse4.1");

/// Whether the AVX2 kernels may run.
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    #[cfg(all(target_arch = "x86_64", not(whatsgate_portable)))]
    {
        avx2_cpuid::init().get()
    }
    #[cfg(not(all(target_arch = "x86_64", not(whatsgate_portable))))]
    {
        false
    }
}

/// Whether the carry-less multiplication kernels (PCLMULQDQ with SSE4.1) may
/// run.
#[inline(always)]
pub(crate) fn has_pclmul() -> bool {
    #[cfg(all(target_arch = "x86_64", not(whatsgate_portable)))]
    {
        pclmul_cpuid::init().get()
    }
    #[cfg(not(all(target_arch = "x86_64", not(whatsgate_portable))))]
    {
        false
    }
}

/// Names the kernel each constant-time routine runs on this CPU, e.g.
/// `"base64url=avx2 crc32=pclmul"`: for benchmark reports and for the
/// constant-time harness, which must know which code it proved.
pub fn kernels() -> &'static str {
    match (has_avx2(), has_pclmul()) {
        (true, true) => "base64url=avx2 crc32=pclmul",
        (true, false) => "base64url=avx2 crc32=portable",
        (false, true) => "base64url=portable crc32=pclmul",
        (false, false) => "base64url=portable crc32=portable",
    }
}
