//! A TCP proxy between the nodes and slapd, steered by the directory scenario. `Up` forwards;
//! `Down` closes its port, so connections are refused and open ones cut, which is what the
//! nodes see when slapd itself is killed (a proxy that stayed listening would accept
//! connections slapd no longer could); `Slow` holds every byte for a while in each direction,
//! on connections already open too, as a congested or distant link does. Only the handshake
//! with the proxy itself is immediate: the first request's bytes are held like the rest.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{mpsc, watch},
    task::{JoinHandle, JoinSet},
    time::Instant,
};

/// The state of the link between the nodes and slapd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Up,
    Down,
    /// Every byte arrives this much later than it was sent, both ways.
    Slow(Duration),
}

pub struct DirectoryProxy {
    /// The `ldap://` URL the nodes are given.
    pub url: String,
    upstream: Arc<OnceLock<SocketAddr>>,
    link: watch::Sender<Link>,
    serving: JoinHandle<()>,
}

impl DirectoryProxy {
    /// Listens on a free loopback port at once, so the port can be handed to the cluster
    /// before slapd's address is known; see [`Self::forward_to`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ldap://{}", listener.local_addr().unwrap());
        let upstream = Arc::new(OnceLock::new());
        let (link, watching) = watch::channel(Link::Up);
        let serving = tokio::spawn(serve(listener, Arc::clone(&upstream), watching));
        Self {
            url,
            upstream,
            link,
            serving,
        }
    }

    /// Where slapd listens, from its `ldap://` URL; connections before this are dropped.
    pub fn forward_to(&self, slapd_url: &str) {
        let address = slapd_url.trim_start_matches("ldap://").parse().unwrap();
        self.upstream.set(address).unwrap();
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for DirectoryProxy {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// Accepts while the link is not down; going down drops the listener and every connection.
async fn serve(
    mut listener: TcpListener,
    upstream: Arc<OnceLock<SocketAddr>>,
    mut link: watch::Receiver<Link>,
) {
    let address = listener.local_addr().unwrap();
    loop {
        let mut relays = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((client, _)) = accepted {
                        relays.spawn(relay(client, Arc::clone(&upstream), link.clone()));
                    }
                }
                changed = link.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *link.borrow() == Link::Down {
                        break;
                    }
                }
            }
        }
        drop((listener, relays));
        if link.wait_for(|state| *state != Link::Down).await.is_err() {
            return;
        }
        listener = rebind(address);
    }
}

/// The same port again; connections the proxy closed may still linger there (TIME_WAIT).
fn rebind(address: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(address).unwrap();
    socket.listen(128).unwrap()
}

async fn relay(
    client: TcpStream,
    upstream: Arc<OnceLock<SocketAddr>>,
    link: watch::Receiver<Link>,
) {
    let Some(address) = upstream.get().copied() else {
        return;
    };
    let Ok(server) = TcpStream::connect(address).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        carry(client_read, server_write, link.clone()),
        carry(server_read, client_write, link),
    );
}

/// Copies `from` to `to`, each read written once the link's delay at the time of reading
/// has passed, in order; the end of `from` (an empty read) is passed on the same way.
async fn carry(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    link: watch::Receiver<Link>,
) {
    let (held, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reading = async move {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let read = from.read(&mut buffer).await.unwrap_or(0);
            let delay = match *link.borrow() {
                Link::Slow(delay) => delay,
                Link::Up | Link::Down => Duration::ZERO,
            };
            let sent = held.send((Instant::now() + delay, buffer[..read].to_vec()));
            if read == 0 || sent.is_err() {
                return;
            }
        }
    };
    let writing = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if bytes.is_empty() || to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}
