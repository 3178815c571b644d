//! Following the PostgreSQL primary through a failover.
//!
//! A cluster's `database_url` may name several hosts, in the form pg_auto_failover prints
//! (`postgres://boardcast@db1:5432,db2:5432/boardcast?target_session_attrs=read-write`). sqlx
//! connects to one host only, so the node finds the read-write one itself and keeps a watch
//! connection to it. That connection notices at once when the primary dies (its socket
//! closes) or is demoted (the server restarts as a standby, or says it is in recovery). From
//! that moment every connection opened before is dropped when next taken, instead of failing
//! one request each; requests fail fast with 503 until a primary answers again, and
//! `/readyz` says not ready meanwhile. With one host it works the same way: a restarted
//! server, or a proxy that follows a failover, gets fresh connections at once.

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use sqlx::{
    any::AnyConnectOptions,
    postgres::{PgConnectOptions, PgListener},
    AnyConnection, AnyPool, ConnectOptions, Connection,
};
use tokio::sync::watch;

use super::{
    hosts::{host_label, split_hosts},
    StoreError, StoreResult,
};

/// How long one host may take to say whether it is the primary.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between rounds while no host is the primary (a failover takes seconds).
const SEARCH_PAUSE: Duration = Duration::from_millis(250);
/// How often the watch connection asks whether its server is still the primary; a dead
/// server is noticed sooner, by the connection closing.
const RECHECK: Duration = Duration::from_secs(1);
/// How long a starting node with several hosts looks for a primary before it gives up.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The channel the watch connection listens on: nobody notifies it. `LISTEN` fails on a
/// standby, which is one more check that the watched server is the primary.
const WATCH_CHANNEL: &str = "boardcast_primary_watch";

/// One host of the database URL, as its own single-host URL.
struct Host {
    url: String,
    /// `host:port`, for the log.
    label: String,
}

/// Which of the configured hosts is the primary, and since when connections are stale.
pub struct Primary {
    hosts: Vec<Host>,
    /// The primary while one is known; `None` while looking for it.
    known: watch::Sender<Option<usize>>,
    /// The host the pool connects to (the last known primary).
    current: AtomicUsize,
    /// When the last primary was lost, in microseconds since `origin` (0: never).
    lost_at: AtomicU64,
    origin: Instant,
}

impl Primary {
    /// Finds the primary among `url`'s hosts. With several, it waits up to [`START_TIMEOUT`]
    /// for one (a failover may be under way); one host must answer at once, as a node on a
    /// single server always had to.
    pub async fn find(url: &str) -> StoreResult<Arc<Self>> {
        let hosts: Vec<Host> = split_hosts(url)
            .into_iter()
            .map(|url| Host {
                label: host_label(&url),
                url,
            })
            .collect();
        let primary = Arc::new(Self {
            hosts,
            known: watch::Sender::new(None),
            current: AtomicUsize::new(0),
            lost_at: AtomicU64::new(0),
            origin: Instant::now(),
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let index = loop {
            match primary.ask_every_host().await {
                Ok(index) => break index,
                Err(states) if primary.hosts.len() == 1 || Instant::now() >= deadline => {
                    return Err(StoreError::Unavailable(format!(
                        "no primary database: {}",
                        states.join("; ")
                    )));
                }
                Err(_) => tokio::time::sleep(SEARCH_PAUSE).await,
            }
        };
        primary.current.store(index, Ordering::Relaxed);
        primary.known.send_replace(Some(index));
        Ok(primary)
    }

    /// The connect options of the host the pool should use.
    pub fn connect_options(&self) -> StoreResult<AnyConnectOptions> {
        self.options_of(self.current.load(Ordering::Relaxed))
    }

    /// The primary's single-host URL, once one is known (for the node's listener).
    pub async fn url(&self) -> String {
        let mut known = self.known.subscribe();
        let index = known
            .wait_for(Option::is_some)
            .await
            .map(|index| index.unwrap_or_default())
            .unwrap_or_default();
        self.hosts[index].url.clone()
    }

    /// Whether a primary is known right now (readiness).
    pub fn check_known(&self) -> StoreResult<()> {
        match *self.known.borrow() {
            Some(_) => Ok(()),
            None => Err(StoreError::Unavailable(format!(
                "looking for the primary database among {}",
                self.labels()
            ))),
        }
    }

    /// How long no primary has been known, while none is.
    pub fn lost_for(&self) -> Option<Duration> {
        if self.known.borrow().is_some() {
            return None;
        }
        let lost_at = Duration::from_micros(self.lost_at.load(Ordering::Acquire));
        Some(self.origin.elapsed().saturating_sub(lost_at))
    }

    /// Whether a connection opened at `opened` predates the loss of a primary, so must not
    /// be used again.
    pub fn is_stale(&self, opened: Instant) -> bool {
        let lost_at = self.lost_at.load(Ordering::Acquire);
        lost_at != 0 && micros_between(self.origin, opened) < lost_at
    }

    /// Follows the primary for as long as `pool` is in use; the returned task is aborted when
    /// the store goes away.
    pub fn spawn_watch(self: &Arc<Self>, pool: AnyPool) -> tokio::task::AbortHandle {
        let primary = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let index = primary.current.load(Ordering::Relaxed);
                primary.watch_until_lost(index).await;
                primary.lose();
                // sqlx retries a refused or refusing server until the acquire timeout;
                // pointed nowhere, the pool fails each request at once instead.
                if let Ok(nowhere) = NOWHERE.parse() {
                    pool.set_connect_options(nowhere);
                }
                let found = primary.search().await;
                if found == index {
                    tracing::info!(host = primary.hosts[found].label, "primary database back");
                } else {
                    tracing::warn!(
                        from = primary.hosts[index].label,
                        to = primary.hosts[found].label,
                        "following the new primary database"
                    );
                }
                match primary.options_of(found) {
                    Ok(options) => {
                        primary.current.store(found, Ordering::Relaxed);
                        pool.set_connect_options(options);
                        primary.known.send_replace(Some(found));
                    }
                    // Checked at start-up: every host's URL parsed then.
                    Err(error) => tracing::error!(%error, "cannot follow the primary"),
                }
            }
        })
        .abort_handle()
    }

    fn options_of(&self, index: usize) -> StoreResult<AnyConnectOptions> {
        self.hosts[index]
            .url
            .parse::<AnyConnectOptions>()
            .map(|options| options.log_slow_statements(tracing::log::LevelFilter::Warn, SLOW))
            .map_err(|e| StoreError::Other(format!("bad database_url: {e}")))
    }

    /// From now on, connections opened before are stale and no primary is known.
    fn lose(&self) {
        let now = micros_between(self.origin, Instant::now()).max(1);
        self.lost_at.store(now, Ordering::Release);
        self.known.send_replace(None);
        tracing::warn!(
            host = self.hosts[self.current.load(Ordering::Relaxed)].label,
            "lost the primary database; requests get 503 until one answers"
        );
    }

    /// Asks every host until one says it is the primary; returns its index.
    async fn search(&self) -> usize {
        let mut reported = false;
        loop {
            match self.ask_every_host().await {
                Ok(index) => return index,
                Err(states) if !reported => {
                    tracing::warn!(hosts = ?states, "no primary database yet");
                    reported = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(SEARCH_PAUSE).await;
        }
    }

    /// The first host that says it is the primary, or what each host said.
    async fn ask_every_host(&self) -> Result<usize, Vec<String>> {
        let answers =
            futures_util::future::join_all(self.hosts.iter().map(|host| probe(&host.url))).await;
        if let Some(index) = answers
            .iter()
            .position(|answer| matches!(answer, Ok(false)))
        {
            return Ok(index);
        }
        Err(self
            .hosts
            .iter()
            .zip(&answers)
            .map(|(host, answer)| match answer {
                Ok(_) => format!("{} is a standby", host.label),
                Err(error) => format!("{}: {error}", host.label),
            })
            .collect())
    }

    /// Returns once the primary at `index` is gone: its connection closed or failed, or it
    /// says it is in recovery.
    async fn watch_until_lost(&self, index: usize) {
        let url = &self.hosts[index].url;
        let Ok(Ok(mut listener)) =
            tokio::time::timeout(PROBE_TIMEOUT, PgListener::connect(url)).await
        else {
            return;
        };
        // Reconnecting is the search's business, not the listener's.
        listener.eager_reconnect(false);
        if !matches!(
            tokio::time::timeout(PROBE_TIMEOUT, listener.listen(WATCH_CHANNEL)).await,
            Ok(Ok(()))
        ) {
            return;
        }
        loop {
            // Nothing is ever sent on the watch channel, so a wait cut short by the timeout
            // has read nothing: only the connection closing or a server error ends it early.
            match tokio::time::timeout(RECHECK, listener.try_recv()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => return,
                Err(_) => {}
            }
            let in_recovery = sqlx::query_scalar::<_, bool>(IN_RECOVERY).fetch_one(&mut listener);
            if !matches!(
                tokio::time::timeout(PROBE_TIMEOUT, in_recovery).await,
                Ok(Ok(false))
            ) {
                return;
            }
        }
    }

    fn labels(&self) -> String {
        let labels: Vec<&str> = self.hosts.iter().map(|host| host.label.as_str()).collect();
        labels.join(", ")
    }
}

/// Where the pool connects while no primary is known: a socket path that cannot exist, so a
/// connection fails at once.
const NOWHERE: &str =
    "postgres://boardcast@localhost/boardcast?host=/nonexistent/no-primary-database-known";

/// Refuses a new pool connection that reached a standby (a demoted primary, or a proxy that
/// has not followed the failover yet): its writes would fail one request at a time.
pub async fn refuse_standby(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let in_recovery: bool = sqlx::query_scalar(IN_RECOVERY)
        .fetch_one(connection)
        .await?;
    if in_recovery {
        return Err(sqlx::Error::Io(std::io::Error::other(
            "the database server is a standby",
        )));
    }
    Ok(())
}

/// Slow statements are logged at warn from this duration on.
pub const SLOW: Duration = Duration::from_millis(500);

/// Asks one server whether it is in recovery: `Ok(false)` is a primary.
const IN_RECOVERY: &str = "select pg_is_in_recovery()";

async fn probe(url: &str) -> Result<bool, String> {
    let ask = async {
        let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| e.to_string())?;
        let mut connection = options.connect().await.map_err(|e| e.to_string())?;
        let in_recovery = sqlx::query_scalar::<_, bool>(IN_RECOVERY)
            .fetch_one(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
        let _ = connection.close().await;
        Ok(in_recovery)
    };
    tokio::time::timeout(PROBE_TIMEOUT, ask)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")))
}

fn micros_between(origin: Instant, later: Instant) -> u64 {
    u64::try_from(later.saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_opened_before_a_loss_are_stale_and_later_ones_are_not() {
        let origin = Instant::now();
        let primary = Primary {
            hosts: Vec::new(),
            known: watch::Sender::new(None),
            current: AtomicUsize::new(0),
            lost_at: AtomicU64::new(0),
            origin,
        };
        let second = |n| origin + Duration::from_secs(n);
        assert!(!primary.is_stale(second(1)), "nothing was lost yet");
        primary
            .lost_at
            .store(micros_between(origin, second(2)), Ordering::Release);
        assert!(primary.is_stale(second(1)));
        assert!(!primary.is_stale(second(3)));
    }
}
