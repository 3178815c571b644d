//! A circuit breaker for the directory: after a few consecutive failures it opens, and while
//! open every login fails at once instead of waiting out a timeout; after a cooldown it lets
//! one trial through (half-open), and that trial's result closes or reopens it.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::directory::BreakerState;

#[derive(Debug, Default)]
struct Inner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            inner: Mutex::default(),
        }
    }

    /// Whether a call may go to the directory now.
    pub fn allow(&self, now: Instant) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return true;
        };
        match inner.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if inner.trial_in_flight => false,
            Some(_) => {
                inner.trial_in_flight = true;
                true
            }
        }
    }

    /// The directory answered (a wrong password is an answer too).
    pub fn record_success(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = Inner::default();
        }
    }

    /// The directory did not answer in time or at all.
    pub fn record_failure(&self, now: Instant) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
            if inner.trial_in_flight || inner.consecutive_failures >= self.threshold {
                if inner.open_until.is_none() || inner.trial_in_flight {
                    tracing::warn!(cooldown = ?self.cooldown, "directory circuit breaker opened");
                }
                inner.open_until = Some(now + self.cooldown);
                inner.trial_in_flight = false;
            }
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.inner.lock().ok().and_then(|inner| inner.open_until) {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_half_opens_after_the_cooldown() {
        let breaker = Breaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..2 {
            breaker.record_failure(t0);
        }
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        assert!(breaker.allow(t0));
        breaker.record_failure(t0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert!(!breaker.allow(t0 + Duration::from_secs(9)));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert!(breaker.allow(later), "one trial goes through");
        assert!(!breaker.allow(later), "only one");
        breaker.record_failure(later);
        assert_eq!(breaker.state(later), BreakerState::Open);
    }

    #[test]
    fn a_successful_trial_closes_it() {
        let breaker = Breaker::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        breaker.record_failure(t0);
        let later = t0 + Duration::from_secs(2);
        assert!(breaker.allow(later));
        breaker.record_success();
        assert_eq!(breaker.state(later), BreakerState::Closed);
        assert!(breaker.allow(later));
    }
}
