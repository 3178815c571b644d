//! A TCP proxy in front of a server that can stop forwarding without closing anything, as a
//! failing switch, a saturated link or a frozen virtual machine does: connections stay open,
//! bytes simply stop arriving. Stopped from both sides until told to forward again. It can
//! also cut the network: every connection is dropped and new ones are closed at once, until
//! it is mended.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

pub struct StallProxy {
    pub address: SocketAddr,
    flowing: watch::Sender<bool>,
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl StallProxy {
    /// Forwards a random loopback port to `upstream`.
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (flowing, watching) = watch::channel(true);
        let (cut, cutting) = watch::channel(false);
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *cutting.borrow() {
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let pumps = [
                    tokio::spawn(pump(client_read, server_write, watching.clone())),
                    tokio::spawn(pump(server_read, client_write, watching.clone())),
                ];
                let mut cutting = cutting.clone();
                tokio::spawn(async move {
                    if cutting.wait_for(|cut| *cut).await.is_ok() {
                        pumps.iter().for_each(JoinHandle::abort);
                    }
                });
            }
        });
        Self {
            address,
            flowing,
            cut,
            accepting,
        }
    }

    /// A proxy in front of the server of `database_url` (on loopback), and the same URL
    /// through the proxy.
    pub async fn in_front_of(database_url: &str) -> (Self, String) {
        let port: u16 = database_url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .expect("a database URL with a port");
        let proxy = Self::start(([127, 0, 0, 1], port).into()).await;
        let proxied =
            database_url.replace(&format!(":{port}/"), &format!(":{}/", proxy.address.port()));
        (proxy, proxied)
    }

    /// Stops forwarding: bytes already sent are held, connections stay open.
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Forwards again, held bytes first.
    pub fn resume(&self) {
        self.flowing.send_replace(true);
    }

    /// Cuts the network: open connections are dropped, new ones closed at once.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Connects again.
    pub fn mend(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Copies `from` to `to`, holding each read while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if flowing.wait_for(|flowing| *flowing).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
