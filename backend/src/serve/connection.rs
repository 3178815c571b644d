//! One accepted connection served over HTTP/1.1 under the node's deadlines: the request head
//! within `header_timeout`, the next request within `idle_timeout` of the last one (or of the
//! connect), and every read of a request body within `body_timeout` of the previous one.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, http::Request, response::Response, Router};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::watch,
    time::{sleep_until, Instant},
};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The deadlines of `[limits]` that apply to a connection.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    pub header: Duration,
    pub idle: Duration,
    pub body: Duration,
}

/// Serves requests on `io` until the client leaves, a deadline passes, the connection turns
/// into a websocket, or the node stops (`stopping`: the request in flight is finished first).
pub async fn serve<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    deadlines: Deadlines,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let clock = Arc::new(IdleClock::new());
    let service = RequestService {
        router,
        peer,
        body_timeout: deadlines.body,
        clock: clock.clone(),
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.header)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let idle = clock.expired(deadlines.idle);
    tokio::pin!(idle);
    let mut finishing = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, client = %peer, "connection ended with an error");
                }
                return;
            }
            () = idle.as_mut(), if !finishing => {
                tracing::debug!(client = %peer, "closing an idle connection");
                finishing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stopping.wait_for(|stopping| *stopping), if !finishing => {
                finishing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Hands each request to the router with what the connection knows: the client's address
/// (`ConnectInfo`) and the body's stall deadline.
#[derive(Clone)]
struct RequestService {
    router: Router,
    peer: SocketAddr,
    body_timeout: Duration,
    clock: Arc<IdleClock>,
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let body_timeout = self.body_timeout;
        let request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
        let busy = self.clock.busy();
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await;
            drop(busy);
            response
        })
    }
}

/// When the connection last had nothing to do: a request in flight keeps it busy, and the
/// idle deadline counts from the end of the last one (or from the connect).
struct IdleClock {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the last request was answered.
    quiet_since: AtomicU64,
}

/// A request in flight; dropping it marks the connection quiet from now.
struct Busy(Arc<IdleClock>);

impl IdleClock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            quiet_since: AtomicU64::new(0),
        }
    }

    fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Resolves once the connection has been quiet for `idle`.
    async fn expired(&self, idle: Duration) {
        let mut due = self.started + idle;
        loop {
            sleep_until(due).await;
            if self.in_flight.load(Ordering::Acquire) > 0 {
                due = Instant::now() + idle;
                continue;
            }
            let quiet_since = Duration::from_millis(self.quiet_since.load(Ordering::Acquire));
            due = self.started + quiet_since + idle;
            if due <= Instant::now() {
                return;
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let clock = &self.0;
        let now = u64::try_from(clock.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        clock.quiet_since.store(now, Ordering::Release);
        clock.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
