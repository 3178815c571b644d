//! Limits failed logins per username and per client address, and other attempts worth
//! bounding (pairing-code guesses, board registrations), across the whole cluster: the
//! counters live in the shared database, so spreading attempts over nodes gains nothing.

use std::{net::IpAddr, time::Duration};

use crate::{
    config::AuthSettings,
    store::{duration_millis, Counter, LoginLookup, Store, StoreResult, UserRow},
};

/// Login attempts refused until `retry_after` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Throttled {
    /// Refused until the window ending at `window_end` (at least a second from `now`).
    fn until(window_end: i64, now: i64) -> Self {
        let wait_ms = u64::try_from(window_end - now).unwrap_or(0).max(1_000);
        Self {
            retry_after: Duration::from_millis(wait_ms),
        }
    }
}

/// A login the throttle lets through.
#[derive(Debug)]
pub struct LoginCheck {
    /// The username's failures in the current window.
    pub earlier_failures: i64,
    pub stored_user: Option<UserRow>,
}

/// Counts failures and says when to stop listening.
#[derive(Clone)]
pub struct LoginThrottle {
    store: Store,
    per_user: i64,
    per_address: i64,
    window_ms: i64,
}

impl LoginThrottle {
    pub fn new(store: Store, settings: &AuthSettings) -> Self {
        Self {
            store,
            per_user: i64::from(settings.max_failures_per_user),
            per_address: i64::from(settings.max_failures_per_address),
            window_ms: duration_millis(settings.login_failure_window),
        }
    }

    /// `Err(Throttled)` when either the username or the address has used up its failures;
    /// otherwise the username's failures so far, and the account stored under `username`
    /// (read in the same statement, for the login to reuse).
    pub async fn check(
        &self,
        username: &str,
        address: IpAddr,
        now: i64,
    ) -> StoreResult<Result<LoginCheck, Throttled>> {
        let facts = self
            .store
            .login_facts(LoginLookup {
                username: username.to_string(),
                user_key: user_key(username),
                address_key: address_key(address),
            })
            .await?;
        let (user_failures, user_window_end) =
            Counter::open_window(facts.user_counter, now, self.window_ms);
        let (address_failures, address_window_end) =
            Counter::open_window(facts.address_counter, now, self.window_ms);
        let window_end = if user_failures >= self.per_user {
            user_window_end
        } else if address_failures >= self.per_address {
            address_window_end
        } else {
            return Ok(Ok(LoginCheck {
                earlier_failures: user_failures,
                stored_user: facts.user,
            }));
        };
        Ok(Err(Throttled::until(window_end, now)))
    }

    pub async fn record_failure(
        &self,
        username: &str,
        address: IpAddr,
        now: i64,
    ) -> StoreResult<()> {
        self.store
            .record_login_failure(&user_key(username), now, self.window_ms)
            .await?;
        self.store
            .record_login_failure(&address_key(address), now, self.window_ms)
            .await
    }

    /// A successful login forgets the user's failures (not the address's: one good password
    /// must not reset a guesser's budget for other accounts).
    pub async fn record_success(&self, username: &str) -> StoreResult<()> {
        self.store.clear_login_failures(&user_key(username)).await
    }
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn address_key(address: IpAddr) -> String {
    format!("addr:{address}")
}

/// At most `max` counted attempts per key in a fixed window, cluster-wide.
#[derive(Clone)]
pub struct WindowLimit {
    store: Store,
    max: i64,
    window_ms: i64,
}

impl WindowLimit {
    pub fn new(store: Store, max: u32, window: Duration) -> Self {
        Self {
            store,
            max: i64::from(max),
            window_ms: duration_millis(window),
        }
    }

    /// `Err(Throttled)` once `key` has used up its attempts in the current window.
    pub async fn check(&self, key: &str, now: i64) -> StoreResult<Result<(), Throttled>> {
        let [(count, window_end)] = self
            .store
            .login_failures([key], now, self.window_ms)
            .await?;
        if count < self.max {
            return Ok(Ok(()));
        }
        Ok(Err(Throttled::until(window_end, now)))
    }

    /// Counts one attempt for `key`.
    pub async fn record(&self, key: &str, now: i64) -> StoreResult<()> {
        self.store
            .record_login_failure(key, now, self.window_ms)
            .await
    }
}
