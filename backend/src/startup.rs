//! Builds a node from its settings and serves it: bind first (port 0 allowed, so tests need
//! no sleeps), then run until the shutdown future resolves, draining requests in flight.

use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};

use axum::{serve::ListenerExt, Router};
use tokio::net::TcpListener;

use crate::{
    auth::{Authenticator, LoginThrottle, Registrar, TokenService},
    boards::Boards,
    config::Settings,
    directory::{BuiltinDirectory, Directory, LdapDirectory},
    http,
    media::{self, spawn_sync_loop, Media, NodeIdentity},
    metrics::Metrics,
    realtime::Realtime,
    state::{AppState, Services},
    store::{duration_millis, now_millis, Store},
};

/// How often expired tokens are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// How long closing sockets may take to say goodbye when the node stops.
const SOCKETS_CLOSE_WITHIN: Duration = Duration::from_secs(2);

/// A node, bound and migrated, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Opens the store (applying migrations), picks the directory and binds the listener.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let store = Store::connect(&settings.database_url()).await?;
        store.migrate().await?;
        let directory: Arc<dyn Directory> = match &settings.ldap {
            Some(ldap) => Arc::new(LdapDirectory::new(ldap)),
            None => Arc::new(BuiltinDirectory::new(store.clone())),
        };
        let metrics = Metrics::default();
        let auth = Authenticator {
            store: store.clone(),
            directory,
            registrar: Registrar::new(store.clone(), settings.auth.token_cache_window),
            tokens: TokenService::new(store.clone(), &settings.auth),
            throttle: LoginThrottle::new(store.clone(), &settings.auth),
            metrics: metrics.clone(),
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let bound = listener.local_addr()?;
        if settings.public_url.is_empty() {
            if bound.ip().is_unspecified() {
                tracing::warn!(%bound, "public_url is not set: peers and media URLs need it");
            }
            settings.public_url = format!("http://{bound}");
        }
        let media = Media::open(&settings, media::cluster_key(&settings)?, store.clone()).await?;
        let boards = Boards::new(store.clone(), &settings.pairing);
        let realtime = Realtime::start(
            settings.node_id.clone(),
            store.clone(),
            boards.clone(),
            auth.tokens.clone(),
            metrics.clone(),
            settings.auth.token_cache_window,
            settings.database_url().expose(),
        );
        let state = AppState::new(Services {
            session_cookie: http::SessionCookie::new(&settings),
            app_files: http::AppFiles::from_settings(settings.web.static_dir.as_ref()),
            origins: http::TrustedOrigins::new(&settings, media.clone()),
            boards,
            realtime,
            settings: Arc::new(settings),
            store,
            auth,
            metrics,
            media,
        });
        let router = http::router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then finishes requests in flight and closes the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let purge = AbortOnDrop(tokio::spawn(purge_expired(
            store.clone(),
            self.state.settings.clone(),
        )));
        let sync = AbortOnDrop(spawn_sync_loop(
            self.state.media.clone(),
            store.clone(),
            self.state.metrics.clone(),
            NodeIdentity {
                node_id: self.state.settings.node_id.clone(),
                public_url: self.state.settings.public_url.clone(),
                started_at: now_millis(),
            },
        ));
        tracing::info!(
            node = %self.state.settings.node_id,
            address = %self.listener.local_addr()?,
            "serving"
        );
        let (draining, drain_started) = tokio::sync::oneshot::channel::<()>();
        let realtime = self.state.realtime.clone();
        let signal = async move {
            shutdown.await;
            // Upgraded sockets are not requests: close them now, so clients reconnect to
            // another node while this one drains.
            realtime.shutdown();
            let _ = draining.send(());
        };
        let drain = self.state.settings.shutdown_drain;
        // Frames are small and each is a whole message: sent at once rather than held back
        // until the previous one is acknowledged (Nagle), which a client acknowledging late
        // turns into a 40 ms pause.
        let listener = self.listener.tap_io(|socket| {
            if let Err(error) = socket.set_nodelay(true) {
                tracing::debug!(%error, "could not disable Nagle's algorithm on a connection");
            }
        });
        let serve = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future();
        let served = tokio::select! {
            served = serve => served,
            () = async {
                if drain_started.await.is_ok() {
                    tokio::time::sleep(drain).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(?drain, "requests still running after the drain deadline: stopping anyway");
                Ok(())
            }
        };
        drop((purge, sync));
        self.state.realtime.shutdown();
        self.state.realtime.closed(SOCKETS_CLOSE_WITHIN).await;
        store.close().await;
        tracing::info!("stopped");
        Ok(served?)
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
async fn purge_expired(store: Store, settings: Arc<Settings>) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticks.tick().await;
        let now = now_millis();
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
