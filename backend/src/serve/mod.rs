//! The node's listeners: an accept loop that gives each connection a slot, its deadlines and
//! (with `[web] tls_cert`) TLS, so no client, slow or idle or many, can pin the node; and the
//! process's open-file limit, which bounds how many connections it can hold at all.

mod connection;
mod slots;
mod tls;

pub use connection::Deadlines;
pub use slots::Slots;
pub use tls::acceptor as tls_acceptor;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use tokio::{
    net::TcpListener,
    sync::{watch, Semaphore},
};
use tokio_rustls::TlsAcceptor;

use crate::config::LimitsSettings;

/// File descriptors the node needs besides its connections: database pool, blobs, LDAP, logs.
const FD_HEADROOM: u64 = 256;

/// Refusals under way at once: each holds a file descriptor until the client has read its
/// 503 (at most `header_timeout`); beyond this a flood's connections are closed unanswered,
/// so refusing cannot exhaust the descriptors the cap protects.
const REFUSING_AT_ONCE: usize = 256;

/// After a failed accept that is not the client's doing (out of file descriptors), wait this
/// long for connections to close rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One listening address and how its connections are served.
pub struct Server {
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    slots: Slots,
    refusing: Arc<Semaphore>,
    deadlines: Deadlines,
}

impl Server {
    pub fn new(
        listener: TcpListener,
        router: Router,
        tls: Option<TlsAcceptor>,
        slots: Slots,
        limits: &LimitsSettings,
    ) -> Self {
        Self {
            listener,
            router,
            tls,
            slots,
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            deadlines: Deadlines {
                header: limits.header_timeout,
                idle: limits.idle_timeout,
                body: limits.body_timeout,
            },
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn speaks_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `stopping` turns true; then accepts no more, lets each connection finish
    /// the request in flight, and resolves once all have closed (websockets are not waited
    /// for: they belong to the realtime side).
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let (closing, closing_seen) = watch::channel(false);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stopping.wait_for(|stopping| *stopping) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            };
            send_each_write_at_once(&tcp);
            let Some(slot) = self.slots.take(peer.ip()) else {
                tracing::debug!(client = %peer, "connection refused: too many open");
                if let Ok(permit) = self.refusing.clone().try_acquire_owned() {
                    let refusal = within(self.deadlines.header, refuse(tcp, self.tls.clone()));
                    tokio::spawn(async move {
                        refusal.await;
                        drop(permit);
                    });
                }
                continue;
            };
            let tls = self.tls.clone();
            let router = self.router.clone();
            let deadlines = self.deadlines;
            let closing = closing_seen.clone();
            tokio::spawn(async move {
                let tcp = slots::Counted::new(tcp, slot);
                match tls {
                    None => connection::serve(tcp, peer, router, deadlines, closing).await,
                    Some(tls) => {
                        // The handshake is part of the request head: the same deadline.
                        match tokio::time::timeout(deadlines.header, tls.accept(tcp)).await {
                            Ok(Ok(tls)) => {
                                connection::serve(tls, peer, router, deadlines, closing).await;
                            }
                            Ok(Err(error)) => {
                                tracing::debug!(%error, client = %peer, "TLS handshake failed");
                            }
                            Err(_) => {
                                tracing::debug!(client = %peer, "TLS handshake took too long");
                            }
                        }
                    }
                }
            });
        }
        drop(self.listener);
        let _ = closing.send(true);
        drop(closing_seen);
        closing.closed().await;
    }
}

/// Answers 503 to a connection without a slot, over TLS when the node speaks it.
async fn refuse(tcp: tokio::net::TcpStream, tls: Option<TlsAcceptor>) -> io::Result<()> {
    match tls {
        None => slots::refuse(tcp).await,
        Some(tls) => slots::refuse(tls.accept(tcp).await?).await,
    }
}

async fn within(deadline: Duration, work: impl std::future::Future<Output = io::Result<()>>) {
    match tokio::time::timeout(deadline, work).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "refusing a connection failed"),
        Err(_) => tracing::debug!("refusing a connection took too long"),
    }
}

/// Frames are small and each is a whole message: sent at once rather than held back until
/// the previous one is acknowledged (Nagle), which a client acknowledging late turns into a
/// 40 ms pause between a command's ack and its event.
fn send_each_write_at_once(tcp: &tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "could not disable Nagle's algorithm on a connection");
    }
}

async fn accept_failed(error: &io::Error) {
    // The client gave up between connect and accept: nothing to do.
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept connections; retrying");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// Raises the soft open-file limit to the hard one (every connection is a file descriptor;
/// distributions default to 1,024) and says what is in effect.
pub fn raise_open_file_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let needed = u64::try_from(max_connections)
                .unwrap_or(u64::MAX)
                .saturating_add(FD_HEADROOM);
            if limit < needed {
                tracing::warn!(
                    limit,
                    needed,
                    "the open file limit is below [limits] max_connections plus headroom: \
                     raise LimitNOFILE or lower max_connections"
                );
            } else {
                tracing::info!(limit, "open file limit");
            }
        }
        Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_accepted_connection_sends_each_frame_without_waiting_for_acknowledgements() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (accepted, _client) =
            tokio::join!(listener.accept(), tokio::net::TcpStream::connect(address));
        let (tcp, _) = accepted.unwrap();
        assert!(
            !tcp.nodelay().unwrap(),
            "the system default holds small writes back"
        );
        send_each_write_at_once(&tcp);
        assert!(tcp.nodelay().unwrap());
    }
}
