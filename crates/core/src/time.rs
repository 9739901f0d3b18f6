//! Instants, as whole seconds since the Unix epoch.

use core::fmt;

/// An instant in whole seconds since 1970-01-01T00:00:00Z.
///
/// The core never reads a clock itself (it runs without an OS); callers pass
/// the current time in. With `std`, [`Timestamp::now`] reads the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The system clock, now (a clock set before 1970 reads as 0).
    ///
    /// On Linux this reads `CLOCK_REALTIME_COARSE`: the time of the kernel's
    /// last tick (a few milliseconds old), from the vDSO, without reading the
    /// clock hardware. Whole seconds are all tokens need, and it costs a
    /// fraction of `SystemTime::now()` on every authenticated request.
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        #[cfg(target_os = "linux")]
        {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            Self(u64::try_from(now.tv_sec).unwrap_or(0))
        }
        #[cfg(not(target_os = "linux"))]
        {
            extern crate std;
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Self(since_epoch.as_secs())
        }
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This instant plus `seconds`, saturating.
    pub const fn plus_secs(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn now_agrees_with_the_system_clock() {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ours = Timestamp::now().as_secs();
        // The coarse clock lags by at most a tick; allow for a second boundary.
        assert!(
            ours + 1 >= system && ours <= system + 1,
            "{ours} vs {system}"
        );
    }
}
