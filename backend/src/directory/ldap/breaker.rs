//! A circuit breaker for the directory: after a few consecutive failures it opens, and while
//! open every login fails at once instead of waiting out a timeout. After a cooldown it lets
//! one trial through (half-open); the trial's result closes or reopens it.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use crate::directory::BreakerState;

#[derive(Debug, Default)]
struct Inner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// Counts consecutive failures; time is a parameter so tests need not sleep.
#[derive(Debug)]
pub(super) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

/// Leave to make one call to the directory. Settle it with `succeeded` or `failed`; a pass
/// dropped unsettled (the caller gave up) frees the half-open trial for the next call, so a
/// cancelled trial cannot keep the breaker open for good.
#[must_use]
pub(super) struct Pass<'a> {
    breaker: &'a Breaker,
    is_trial: bool,
    settled: bool,
}

impl Breaker {
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            inner: Mutex::default(),
        }
    }

    /// `None` while open, and while half-open with the one trial still under way.
    pub(super) fn admit(&self, now: Instant) -> Option<Pass<'_>> {
        let mut inner = self.lock();
        let is_trial = match inner.open_until {
            None => false,
            Some(until) if now < until || inner.trial_in_flight => return None,
            Some(_) => {
                inner.trial_in_flight = true;
                true
            }
        };
        Some(Pass {
            breaker: self,
            is_trial,
            settled: false,
        })
    }

    pub(super) fn state(&self, now: Instant) -> BreakerState {
        match self.lock().open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The counters stay meaningful even if a holder panicked.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pass<'_> {
    /// The directory answered (a wrong password is an answer too): closes the breaker.
    pub(super) fn succeeded(mut self) {
        self.settled = true;
        let mut inner = self.breaker.lock();
        if inner.open_until.is_some() {
            tracing::info!("directory circuit breaker closed");
        }
        *inner = Inner::default();
    }

    /// The directory did not answer in time or at all.
    pub(super) fn failed(mut self, now: Instant) {
        self.settled = true;
        let breaker = self.breaker;
        let mut inner = breaker.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if self.is_trial {
            inner.trial_in_flight = false;
            inner.open_until = Some(now + breaker.cooldown);
            tracing::warn!(cooldown = ?breaker.cooldown, "directory still failing; circuit breaker reopened");
        } else if inner.open_until.is_none() && inner.consecutive_failures >= breaker.threshold {
            inner.open_until = Some(now + breaker.cooldown);
            tracing::warn!(
                failures = inner.consecutive_failures,
                cooldown = ?breaker.cooldown,
                "directory circuit breaker opened"
            );
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if !self.settled && self.is_trial {
            self.breaker.lock().trial_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(10);

    fn opened_at(t0: Instant) -> Breaker {
        let breaker = Breaker::new(3, COOLDOWN);
        for _ in 0..3 {
            breaker.admit(t0).unwrap().failed(t0);
        }
        breaker
    }

    #[test]
    fn opens_after_three_consecutive_failures() {
        let breaker = Breaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..2 {
            breaker.admit(t0).unwrap().failed(t0);
        }
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        breaker.admit(t0).unwrap().failed(t0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert!(breaker.admit(t0 + COOLDOWN / 2).is_none());
    }

    #[test]
    fn an_answer_resets_the_count() {
        let breaker = Breaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..2 {
            breaker.admit(t0).unwrap().failed(t0);
        }
        breaker.admit(t0).unwrap().succeeded();
        for _ in 0..2 {
            breaker.admit(t0).unwrap().failed(t0);
        }
        assert_eq!(breaker.state(t0), BreakerState::Closed);
    }

    #[test]
    fn after_the_cooldown_exactly_one_trial_goes_through() {
        let t0 = Instant::now();
        let breaker = opened_at(t0);
        let later = t0 + COOLDOWN;
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        let trial = breaker.admit(later).unwrap();
        assert!(breaker.admit(later).is_none(), "only one trial at a time");
        trial.failed(later);
        assert_eq!(breaker.state(later), BreakerState::Open);
        assert!(breaker.admit(later).is_none());
    }

    #[test]
    fn a_successful_trial_closes_it() {
        let t0 = Instant::now();
        let breaker = opened_at(t0);
        let later = t0 + COOLDOWN;
        breaker.admit(later).unwrap().succeeded();
        assert_eq!(breaker.state(later), BreakerState::Closed);
        assert!(breaker.admit(later).is_some());
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_call_try() {
        let t0 = Instant::now();
        let breaker = opened_at(t0);
        let later = t0 + COOLDOWN;
        drop(breaker.admit(later).unwrap());
        assert!(breaker.admit(later).is_some());
    }
}
