//! Connections to the directory servers. URLs are tried in order from the one that answered
//! last, and the attempts of one login share its time budget instead of each taking a full
//! timeout. One service-account connection carries every search (ldap3 multiplexes operations
//! over a socket). User binds get connections of their own, because a bind changes a
//! connection's identity; they are kept for the next bind, which replaces the identity again.
//!
//! Every connection to an `ldaps://` URL, or to an `ldap://` one with `starttls`, is
//! encrypted with the node's rustls configuration before the first bind; StartTLS refused by
//! a server fails that server like any other connection error, never falling back to clear.
//!
//! No lock is held across an `.await`: the service connection is opened once per generation
//! through a `OnceCell`, and a broken generation is swapped for an empty one.

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchOptions,
    SearchResult,
};
use rustls::ClientConfig;
use tokio::sync::{OnceCell, Semaphore};

use crate::{
    config::{LdapSettings, Secret},
    directory::DirectoryError,
};

/// An open connection and the index of the URL it leads to.
#[derive(Clone)]
struct Conn {
    ldap: Ldap,
    url: usize,
}

/// One generation of the service connection: opened at most once, replaced when broken.
type ServiceSlot = Arc<OnceCell<Conn>>;

/// Why opening a connection to one server failed.
enum OpenError {
    /// The server did not answer: try the next one.
    Unreachable(String),
    /// The server answered but refused the service account: a configuration error.
    Refused(String),
}

pub(super) struct Connections {
    urls: Vec<String>,
    bind_dn: String,
    bind_password: Secret,
    tls: Arc<ClientConfig>,
    starttls: bool,
    /// Index of the URL tried first: the one that answered last.
    preferred: AtomicUsize,
    service: Mutex<ServiceSlot>,
    idle_binds: Mutex<Vec<Conn>>,
    /// One permit per user-bind connection that may exist.
    bind_permits: Semaphore,
    max_binds: usize,
    opened: AtomicU64,
}

impl Connections {
    /// Opens nothing yet; at most `max_binds` user-bind connections will ever be open at once.
    pub(super) fn new(settings: &LdapSettings, tls: Arc<ClientConfig>, max_binds: usize) -> Self {
        Self {
            urls: settings.urls.clone(),
            bind_dn: settings.bind_dn.clone(),
            bind_password: settings.bind_password.clone(),
            tls,
            starttls: settings.starttls,
            preferred: AtomicUsize::new(0),
            service: Mutex::default(),
            idle_binds: Mutex::default(),
            bind_permits: Semaphore::new(max_binds),
            max_binds,
            opened: AtomicU64::new(0),
        }
    }

    pub(super) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Searches as the service account. A connection found broken is replaced and the search
    /// tried once more; a server that does not answer in time is not tried again. Any LDAP
    /// result code is returned for the caller to judge.
    pub(super) async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[&str],
        size_limit: i32,
        deadline: Instant,
    ) -> Result<SearchResult, DirectoryError> {
        let mut last_error = String::from("the service connection keeps closing");
        for _ in 0..2 {
            let slot = lock(&self.service).clone();
            let conn = slot
                .get_or_try_init(|| self.open(deadline, true))
                .await?
                .clone();
            let mut ldap = conn.ldap;
            if ldap.is_closed() {
                self.discard_service(&slot);
                continue;
            }
            let result = ldap
                .with_timeout(remaining(deadline)?)
                .with_search_options(SearchOptions::new().sizelimit(size_limit))
                .search(base, scope, filter, attributes)
                .await;
            match result {
                Ok(found) => return Ok(found),
                Err(LdapError::FilterParsing) => {
                    return Err(DirectoryError::Other(format!(
                        "invalid search filter {filter:?}: check ldap.user_filter"
                    )))
                }
                Err(error) => {
                    let url = &self.urls[conn.url];
                    tracing::warn!(%url, %error, "directory search failed");
                    self.discard_service(&slot);
                    if matches!(error, LdapError::Timeout { .. }) {
                        self.demote(conn.url);
                        return Err(DirectoryError::Unreachable(format!("{url}: {error}")));
                    }
                    last_error = format!("{url}: {error}");
                }
            }
        }
        Err(DirectoryError::Unreachable(last_error))
    }

    /// Binds as `dn` on a user-bind connection and returns the server's answer. Idle
    /// connections are reused; one that turns out broken is replaced once. Logins beyond
    /// `max_binds` at once wait for a connection, within their deadline.
    pub(super) async fn bind(
        &self,
        dn: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<LdapResult, DirectoryError> {
        let _permit = tokio::time::timeout_at(deadline.into(), self.bind_permits.acquire())
            .await
            .map_err(|_| {
                DirectoryError::Unreachable("every directory bind connection stayed busy".into())
            })?
            .map_err(|error| DirectoryError::Other(error.to_string()))?;
        if let Some(conn) = self.take_idle() {
            match self.bind_on(conn, dn, password, deadline).await {
                Err((error, false)) => {
                    tracing::debug!(%error, "idle bind connection broke; opening another");
                }
                other => return other.map_err(|(error, _)| error),
            }
        }
        let conn = self.open(deadline, false).await?;
        self.bind_on(conn, dn, password, deadline)
            .await
            .map_err(|(error, _)| error)
    }

    /// One bind; on failure, whether the server timed out (rather than the connection breaking).
    async fn bind_on(
        &self,
        mut conn: Conn,
        dn: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<LdapResult, (DirectoryError, bool)> {
        let left = remaining(deadline).map_err(|error| (error, true))?;
        match conn.ldap.with_timeout(left).simple_bind(dn, password).await {
            Ok(answer) => {
                let mut idle = lock(&self.idle_binds);
                if idle.len() < self.max_binds {
                    idle.push(conn);
                }
                Ok(answer)
            }
            Err(error) => {
                let url = &self.urls[conn.url];
                let timed_out = matches!(error, LdapError::Timeout { .. });
                if timed_out {
                    tracing::warn!(%url, "directory did not answer a bind in time");
                    self.demote(conn.url);
                }
                let reason = format!("{url}: {error}");
                Err((DirectoryError::Unreachable(reason), timed_out))
            }
        }
    }

    /// Forgets every open connection, after a login found the directory unreachable: a
    /// hung connection must not be handed to the next login.
    pub(super) fn reset(&self) {
        *lock(&self.service) = ServiceSlot::default();
        lock(&self.idle_binds).clear();
    }

    /// Opens a connection, trying the URLs in order from the preferred one. With
    /// `as_service`, a server counts as answering only once the service bind is through, so
    /// a server that accepts connections but hangs is failed over too. Each attempt gets an
    /// equal share of the time left, so a hung first server leaves time for the next.
    async fn open(&self, deadline: Instant, as_service: bool) -> Result<Conn, DirectoryError> {
        let count = self.urls.len();
        let first = self.preferred.load(Ordering::Relaxed) % count.max(1);
        let mut reasons = Vec::new();
        for tried in 0..count {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            let share = left / u32::try_from(count - tried).unwrap_or(u32::MAX);
            let url = (first + tried) % count;
            match self.open_one(url, Instant::now() + share, as_service).await {
                Ok(conn) => {
                    if url != first {
                        tracing::warn!(url = %self.urls[url], "failed over to another directory server");
                    }
                    self.preferred.store(url, Ordering::Relaxed);
                    return Ok(conn);
                }
                Err(OpenError::Refused(reason)) => return Err(DirectoryError::Other(reason)),
                Err(OpenError::Unreachable(reason)) => {
                    tracing::warn!(url = %self.urls[url], %reason, "directory server unreachable");
                    reasons.push(format!("{}: {reason}", self.urls[url]));
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(if count == 0 {
                "no ldap.urls configured".into()
            } else {
                "no time left to connect".into()
            });
        }
        Err(DirectoryError::Unreachable(reasons.join("; ")))
    }

    async fn open_one(
        &self,
        url: usize,
        budget: Instant,
        as_service: bool,
    ) -> Result<Conn, OpenError> {
        let left = time_until(budget)?;
        // ldap3 ignores `starttls` for `ldaps://` URLs, which are encrypted from the start.
        let settings = LdapConnSettings::new()
            .set_conn_timeout(left)
            .set_config(self.tls.clone())
            .set_starttls(self.starttls);
        let connecting = LdapConnAsync::with_settings(settings, &self.urls[url]);
        let (driver, mut ldap) = match tokio::time::timeout(left, connecting).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(error)) => return Err(OpenError::Unreachable(error.to_string())),
            Err(_) => return Err(OpenError::Unreachable("connect timed out".into())),
        };
        tokio::spawn(async move {
            if let Err(error) = driver.drive().await {
                tracing::debug!(%error, "directory connection closed");
            }
        });
        self.opened.fetch_add(1, Ordering::Relaxed);
        if as_service {
            let bound = ldap
                .with_timeout(time_until(budget)?)
                .simple_bind(&self.bind_dn, self.bind_password.expose())
                .await;
            match bound {
                Ok(answer) if answer.rc == 0 => {}
                Ok(answer) => {
                    tracing::error!(
                        rc = answer.rc,
                        "the directory refuses the service account: check ldap.bind_dn and ldap.bind_password"
                    );
                    return Err(OpenError::Refused(format!(
                        "service bind refused: {answer}"
                    )));
                }
                Err(error) => return Err(OpenError::Unreachable(format!("service bind: {error}"))),
            }
        }
        Ok(Conn { ldap, url })
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle_binds);
        while let Some(mut conn) = idle.pop() {
            if !conn.ldap.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Drops a broken service connection, unless another login has replaced it already.
    fn discard_service(&self, slot: &ServiceSlot) {
        let mut current = lock(&self.service);
        if Arc::ptr_eq(&current, slot) {
            *current = ServiceSlot::default();
        }
    }

    /// A server that hung: start the next connection at the following URL.
    fn demote(&self, url: usize) {
        let next = (url + 1) % self.urls.len().max(1);
        let _ = self
            .preferred
            .compare_exchange(url, next, Ordering::Relaxed, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Connections stay usable even if a holder panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The time left before `deadline`; none left means the directory was too slow.
fn remaining(deadline: Instant) -> Result<Duration, DirectoryError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .ok_or_else(|| DirectoryError::Unreachable("the directory did not answer in time".into()))
}

fn time_until(budget: Instant) -> Result<Duration, OpenError> {
    remaining(budget).map_err(|_| OpenError::Unreachable("timed out".into()))
}
