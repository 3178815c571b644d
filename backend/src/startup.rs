//! Builds a node from its settings and serves it: bind first (port 0 allowed, so tests need
//! no sleeps), then run until the shutdown future resolves, draining requests in flight.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use futures_util::future::OptionFuture;
use tokio::{net::TcpListener, sync::watch, time::Instant};

use crate::{
    auth::{Authenticator, LoginThrottle, Registrar, TokenService},
    boards::Boards,
    clock::Clock,
    config::Settings,
    directory::{BuiltinDirectory, Directory, LdapDirectory},
    http,
    lessons::Lessons,
    media::{self, spawn_sync_loop, Media, NodeIdentity, Uploads},
    metrics::Metrics,
    realtime::Realtime,
    serve::{self, Server, Slots},
    state::{AppState, Services},
    store::{duration_millis, Store},
};

/// How often expired tokens are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// A node, bound and migrated, not yet serving.
pub struct Application {
    server: Server,
    /// `/metrics` on an address of its own (`metrics_listen`).
    metrics_server: Option<Server>,
    state: AppState,
}

impl Application {
    /// Opens the store (applying migrations), picks the directory and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// [`Application::build`] on a given clock: tests move it forward to reach an expiry.
    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        // Checked first: a wrong certificate path should stop the node before it touches
        // the database.
        let tls = serve::tls_acceptor(&settings.web)?;
        serve::raise_open_file_limit(settings.limits.max_connections);
        let store = Store::connect_with_timeout(
            &settings.database_url(),
            settings.limits.statement_timeout,
        )
        .await?;
        store.migrate().await?;
        let directory: Arc<dyn Directory> = match &settings.ldap {
            Some(ldap) => Arc::new(LdapDirectory::new(
                ldap,
                crate::tls::for_directory(&settings, ldap)?,
            )),
            None => Arc::new(BuiltinDirectory::new(store.clone())),
        };
        let metrics = Metrics::default();
        let auth = Authenticator {
            store: store.clone(),
            directory,
            registrar: Registrar::new(store.clone(), settings.auth.token_cache_window),
            tokens: TokenService::new(
                store.clone(),
                &settings.auth,
                settings.limits.login_lifetime,
            ),
            throttle: LoginThrottle::new(store.clone(), &settings.auth),
            metrics: metrics.clone(),
            directory_grace: settings.auth.directory_grace,
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let metrics_listener = match settings.metrics_listen {
            Some(address) => Some(TcpListener::bind(address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} (metrics_listen): {e}")
            })?),
            None => None,
        };
        let bound = listener.local_addr()?;
        if settings.public_url.is_empty() {
            if bound.ip().is_unspecified() {
                tracing::warn!(%bound, "public_url is not set: peers and media URLs need it");
            }
            let scheme = if tls.is_some() { "https" } else { "http" };
            settings.public_url = format!("{scheme}://{bound}");
        }
        create_data_dir(&settings.data_dir)?;
        let media = Media::open(
            &settings,
            media::cluster_key(&settings)?,
            store.clone(),
            clock.clone(),
        )
        .await?;
        let boards = Boards::new(store.clone(), &settings.pairing);
        let realtime = Realtime::start(
            &settings,
            store.clone(),
            boards.clone(),
            auth.tokens.clone(),
            metrics.clone(),
            media.news().clone(),
            clock.clone(),
        );
        let state = AppState::new(Services {
            session_cookie: http::SessionCookie::new(&settings),
            app_files: http::AppFiles::from_settings(settings.web.static_dir.as_ref()),
            origins: http::TrustedOrigins::new(&settings, media.clone()),
            uploads: Uploads::new(media.clone(), store.clone(), settings.node_id.clone()),
            lessons: Lessons::new(store.clone()),
            ready: AtomicBool::new(true),
            clock,
            boards,
            realtime,
            settings: Arc::new(settings),
            store,
            auth,
            metrics,
            media,
        });
        let limits = &state.settings.limits;
        let slots = Slots::new(
            limits.max_connections,
            limits.max_connections_per_address,
            &state.settings.web.trusted_proxies,
        );
        let server = Server::new(listener, http::router(state.clone()), tls, slots, limits);
        // Its own slots: a flood on the public port cannot keep Prometheus out.
        let metrics_server = metrics_listener.map(|listener| {
            let slots = Slots::new(limits.max_connections, limits.max_connections, &[]);
            Server::new(
                listener,
                http::metrics_router(state.clone()),
                None,
                slots,
                limits,
            )
        });
        Ok(Self {
            server,
            metrics_server,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Where `/metrics` is served when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics_server.as_ref().map(Server::local_addr)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` resolves; then takes no more connections, closes the sockets
    /// with 1012, finishes requests in flight and closes the pool, all within
    /// `shutdown_drain`: past it the node stops anyway, so no client can hold it.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let purge = AbortOnDrop(tokio::spawn(purge_expired(
            store.clone(),
            self.state.settings.clone(),
            self.state.clock.clone(),
        )));
        let sync = AbortOnDrop(spawn_sync_loop(
            self.state.media.clone(),
            store.clone(),
            self.state.metrics.clone(),
            NodeIdentity {
                node_id: self.state.settings.node_id.clone(),
                public_url: self.state.settings.public_url.clone(),
                started_at: self.state.clock.now_millis(),
            },
        ));
        tracing::info!(
            node = %self.state.settings.node_id,
            address = %self.server.local_addr()?,
            tls = self.server.speaks_tls(),
            "serving"
        );
        let (stop, stopping) = watch::channel(false);
        let metrics = OptionFuture::from(
            self.metrics_server
                .map(|server| server.run(stopping.clone())),
        );
        let public = self.server.run(stopping);
        let serve = async move {
            tokio::join!(public, metrics);
        };
        tokio::pin!(serve);
        // The servers run until told to stop, so in practice `shutdown` ends this.
        let served = tokio::select! {
            () = &mut serve => true,
            () = shutdown => false,
        };
        let drain = self.state.settings.shutdown_drain;
        let deadline = Instant::now() + drain;
        // No new connections, then the sockets: their clients reconnect to another node
        // while this one finishes the requests in flight.
        let _ = stop.send(true);
        self.state.realtime.shutdown();
        let drained = tokio::time::timeout_at(deadline, async {
            if !served {
                serve.await;
            }
            self.state.realtime.closed().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                ?drain,
                "requests or sockets still open at the drain deadline: stopping anyway"
            );
        }
        drop((purge, sync));
        if tokio::time::timeout_at(deadline, store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at the drain deadline: dropped");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Stops a background task when the node stops, even when the node's future is dropped
/// rather than run to its end.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Deletes what can no longer be used now and then, keeping the database small: expired
/// tokens, sessions, pairing codes and idempotency keys, boards nobody paired that went
/// quiet long ago, attempt counters whose window is over, and
/// board events older than the history retention.
async fn purge_expired(store: Store, settings: Arc<Settings>, clock: Clock) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticks.tick().await;
        let now = clock.now_millis();
        let purged = [
            ("tokens", store.purge_expired_tokens(now).await),
            ("sessions", store.purge_expired_sessions(now).await),
            ("pairing codes", store.purge_expired_codes(now).await),
            (
                "idempotency keys",
                store.purge_expired_idempotency_keys(now).await,
            ),
            (
                "unpaired boards",
                store
                    .purge_unpaired_boards(
                        now - duration_millis(settings.pairing.unpaired_board_ttl),
                    )
                    .await,
            ),
            (
                "attempt counters",
                store
                    .purge_expired_counters(
                        now - duration_millis(longest_counter_window(&settings)),
                    )
                    .await,
            ),
            (
                "board events",
                store
                    .trim_board_events(now - duration_millis(settings.realtime.history_retention))
                    .await,
            ),
        ];
        for (what, result) in purged {
            match result {
                Ok(removed) => tracing::debug!(removed, "expired {what} purged"),
                Err(error) => tracing::warn!(%error, "purging expired {what} failed"),
            }
        }
    }
}

/// Creates `data_dir` for the node's user only (0700) when missing: it holds the blobs and,
/// on a lone node, the SQLite file and the generated cluster secret. An existing directory
/// keeps the permissions its operator gave it.
fn create_data_dir(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
}

/// The longest window any attempt counter is kept for (failed logins, pairing guesses, board
/// registrations per hour): a counter that started longer ago than this counts nothing.
fn longest_counter_window(settings: &Settings) -> Duration {
    [
        settings.auth.login_failure_window,
        settings.pairing.failure_window,
        crate::boards::REGISTRATION_WINDOW,
    ]
    .into_iter()
    .max()
    .unwrap_or_default()
}
