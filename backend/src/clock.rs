//! The time a node goes by. Every rule that depends on the time of day (token and pairing-code
//! expiry, login windows, heartbeats, lesson timers, signed URLs) reads it from a [`Clock`]
//! handed to it, never from the system directly, so a test moves the clock forward instead of
//! sleeping until a code expires. A node runs on the system clock; copies of one clock share
//! it, so moving it moves every part of the node at once.

use std::{
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

/// The system clock, plus however far a test has moved it forward; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock as it is.
    pub fn system() -> Self {
        Self::default()
    }

    /// Milliseconds since the Unix epoch: the one time format stored.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    pub fn now_millis(&self) -> i64 {
        unix_millis(SystemTime::now()).saturating_add(self.ahead_ms.load(Ordering::Acquire))
    }

    /// Whole seconds since the Unix epoch, as signed URLs and internal requests carry them.
    pub fn now_secs(&self) -> u64 {
        u64::try_from(self.now_millis() / 1000).unwrap_or(0)
    }

    /// Lets `by` pass at once for this clock and every copy of it: how a test reaches an
    /// expiry without waiting for it. A node never calls it.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(by, Ordering::AcqRel);
    }
}

/// A point in time as milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods, reason = "compares with the system clock")]
    fn an_advanced_clock_is_ahead_by_exactly_that_in_every_copy() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = unix_millis(SystemTime::now());
        clock.advance(Duration::from_secs(3600));
        let now = copy.now_millis();
        let after = unix_millis(SystemTime::now());
        assert!(
            now >= before + 3_600_000 && now <= after + 3_600_000,
            "{now}"
        );
    }
}
