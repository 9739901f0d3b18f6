//! Shared pieces of the fuzz targets: deterministic generators, the header
//! input encoding and its extraction model, and the shared test fixture.
//! The reference token parser is `whatsgate_auth_test_support::reference_parse`.

use core::convert::Infallible;
use std::sync::LazyLock;

use whatsgate_auth::http::MAX_VALUE_LEN;
use whatsgate_auth::rand_core::{TryCryptoRng, TryRng};
use whatsgate_auth::{Failure, Keyring, Profile, Timestamp, TokenRecord};
use whatsgate_auth_test_support::{HEADER_CASES_EMBEDDED, HeaderCorpus};

/// A deterministic generator (SplitMix64) seeded from the fuzz input, so a
/// crash reproduces. Only for fuzzing: it is not a CSPRNG.
pub struct SeqRng(pub u64);

impl TryRng for SeqRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for SeqRng {}

/// The error of [`FailingRng`].
#[derive(Debug)]
pub struct RngDown;

impl core::fmt::Display for RngDown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("generator down")
    }
}

impl core::error::Error for RngDown {}

/// A generator that always fails, or fails after `ok_fills` successful fills.
pub struct FailingRng {
    /// Fills that still succeed before it starts failing.
    pub ok_fills: u32,
    /// Where the successful fills come from.
    pub inner: SeqRng,
}

impl TryRng for FailingRng {
    type Error = RngDown;

    fn try_next_u32(&mut self) -> Result<u32, RngDown> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngDown> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngDown> {
        if self.ok_fills == 0 {
            return Err(RngDown);
        }
        self.ok_fills -= 1;
        let Ok(()) = self.inner.try_fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for FailingRng {}

/// Headers of one request, decoded from fuzz bytes.
///
/// Encoding (also written by `fuzz/seed.py`): one flags byte (bit 0: the
/// `mcp` profile), then records of `name_len: u8, name, value_len: u16 LE,
/// value` until the input ends; a truncated record takes what is left.
#[derive(Debug)]
pub struct HeaderInput<'a> {
    /// The profile to authenticate with.
    pub profile: Profile,
    /// The `(name, value)` pairs, in order.
    pub pairs: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> HeaderInput<'a> {
    /// Decodes fuzz bytes; every input decodes to something.
    pub fn decode(data: &'a [u8]) -> Self {
        let (flags, mut rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
        let profile = if flags & 1 == 0 {
            Profile::Rest
        } else {
            Profile::Mcp
        };
        let mut pairs = Vec::new();
        while let Some((&name_len, r)) = rest.split_first() {
            let (name, r) = r.split_at(usize::from(name_len).min(r.len()));
            let (value_len, r) = match r {
                [lo, hi, r @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), r),
                _ => (r.len(), &r[r.len()..]),
            };
            let (value, r) = r.split_at(value_len.min(r.len()));
            pairs.push((name, value));
            rest = r;
        }
        Self { profile, pairs }
    }
}

/// `extract_value` as `crates/core/src/http.rs`'s module docs describe it,
/// written independently: the differential model for the headers target.
pub fn model_extract_value(profile: Profile, value: &[u8]) -> Result<&[u8], Failure> {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let mut v = value;
    while let [first, rest @ ..] = v {
        if !ows(first) {
            break;
        }
        v = rest;
    }
    while let [rest @ .., last] = v {
        if !ows(last) {
            break;
        }
        v = rest;
    }
    if v.is_empty() {
        return Err(Failure::Missing);
    }
    // The limit counts the stripped value (what an HTTP server hands over).
    if v.len() > MAX_VALUE_LEN {
        return Err(Failure::Invalid);
    }
    match profile {
        Profile::Rest => Ok(v),
        Profile::Mcp => {
            if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"Bearer") {
                return Err(Failure::Missing);
            }
            match &v[6..] {
                [] | [b'\t', ..] => Err(Failure::Invalid),
                [b' ', ..] => {
                    let token = &v[6..][v[6..].iter().take_while(|b| **b == b' ').count()..];
                    if token.is_empty() {
                        Err(Failure::Invalid)
                    } else {
                        Ok(token)
                    }
                }
                _ => Err(Failure::Missing),
            }
        }
    }
}

/// The shared header corpus's records and instant (`testdata/header-cases.json`).
pub struct Fixture {
    /// A keyring holding the corpus's records.
    pub keyring: Keyring,
    /// The corpus's `now`.
    pub now: Timestamp,
    /// The records the keyring was loaded with.
    pub records: Vec<TokenRecord>,
}

/// The fixture, loaded once per process from the corpus embedded at build
/// time, so a target binary runs anywhere.
pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let corpus = HeaderCorpus::from_text(HEADER_CASES_EMBEDDED);
    Fixture {
        keyring: corpus.keyring(),
        now: corpus.now,
        records: corpus.records,
    }
});
