//! How many connections a node holds, in total and per client address: a connection takes a
//! [`Slot`] when accepted and gives it back when its socket closes, on every path (the slot
//! travels with the socket, into a websocket too). Without a slot the client hears 503 at
//! once, so a flood from one address cannot exhaust the node's file descriptors for everyone.

use std::{
    collections::HashMap,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A refused client's request head is read up to this much (the rest is discarded unread).
const MAX_HEAD: usize = 16 * 1024;

/// How long a refused client may take to read the 503 and hang up before it is cut off.
const LINGER: Duration = Duration::from_secs(1);

/// The node's open connections, counted against `[limits] max_connections` and
/// `max_connections_per_address`.
#[derive(Clone)]
pub struct Slots {
    occupancy: Arc<Mutex<Occupancy>>,
    max_total: usize,
    max_per_address: usize,
    /// Reverse proxies carry many clients over one address: only the total applies to them.
    uncapped: Arc<[IpAddr]>,
}

#[derive(Default)]
struct Occupancy {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One open connection's place; dropping it frees the place.
pub struct Slot {
    slots: Slots,
    /// The address counted against the per-address cap (none for an uncapped proxy).
    address: Option<IpAddr>,
}

impl Slots {
    pub fn new(max_total: usize, max_per_address: usize, uncapped: &[IpAddr]) -> Self {
        Self {
            occupancy: Arc::default(),
            max_total,
            max_per_address,
            uncapped: uncapped.iter().map(|ip| ip.to_canonical()).collect(),
        }
    }

    /// A place for a connection from `peer`, or none when the node or that address is full.
    pub fn take(&self, peer: IpAddr) -> Option<Slot> {
        // `::ffff:10.0.0.1` on a dual-stack listener is the same client as `10.0.0.1`.
        let peer = peer.to_canonical();
        let address = (!self.uncapped.contains(&peer)).then_some(peer);
        let mut occupancy = self.lock();
        if occupancy.total >= self.max_total {
            return None;
        }
        if let Some(address) = address {
            let open = occupancy.by_address.entry(address).or_default();
            if *open >= self.max_per_address {
                return None;
            }
            *open += 1;
        }
        occupancy.total += 1;
        Some(Slot {
            slots: self.clone(),
            address,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Occupancy> {
        self.occupancy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut occupancy = self.slots.lock();
        occupancy.total -= 1;
        if let Some(address) = self.address {
            if let Some(open) = occupancy.by_address.get_mut(&address) {
                *open -= 1;
                if *open == 0 {
                    occupancy.by_address.remove(&address);
                }
            }
        }
    }
}

/// A connection's socket holding its slot, so the slot is freed exactly when the socket
/// closes, whether hyper drops it or a websocket took it over.
pub struct Counted<I> {
    /// Declared first, so dropped first: the place is free by the time the client sees the
    /// socket close, and a client that waits for that can connect again at once.
    _slot: Slot,
    io: I,
}

impl<I> Counted<I> {
    pub fn new(io: I, slot: Slot) -> Self {
        Self { io, _slot: slot }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Tells a client without a slot that the node is full: a whole HTTP/1.1 503 as soon as its
/// request head is in (nothing is queued or handed to the application), then the connection
/// closes. Answering before the request arrives would confuse clients that are still
/// writing it (they report an unexpected message instead of the 503).
pub async fn refuse<I: AsyncRead + AsyncWrite + Unpin>(mut io: I) -> io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0_u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..read]);
    }
    io.write_all(&overloaded_response()).await?;
    io.shutdown().await?;
    // Closing with the client's request still unread would reset the connection, and the
    // client could lose the answer: read until it hangs up, briefly.
    let _ = tokio::time::timeout(LINGER, async {
        while io.read(&mut chunk).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
    Ok(())
}

fn overloaded_response() -> Vec<u8> {
    let body = r#"{"error":"overloaded","message":"this node has too many open connections; try again shortly"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_slot_back_when_a_connection_closes() {
        let slots = Slots::new(10, 2, &[]);
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        let first = slots.take(client).unwrap();
        let _second = slots.take(client).unwrap();
        assert!(slots.take(client).is_none());
        drop(first);
        assert!(slots.take(client).is_some());
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_one() {
        let slots = Slots::new(10, 1, &[]);
        let _v4 = slots.take("10.0.0.1".parse().unwrap()).unwrap();
        assert!(slots.take("::ffff:10.0.0.1".parse().unwrap()).is_none());
        assert!(slots.take("10.0.0.2".parse().unwrap()).is_some());
    }

    #[test]
    fn a_trusted_proxy_is_held_only_to_the_total() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let slots = Slots::new(3, 1, &[proxy]);
        let held: Vec<Slot> = (0..3).map(|_| slots.take(proxy).unwrap()).collect();
        assert!(slots.take(proxy).is_none());
        assert!(slots.take("10.0.0.1".parse().unwrap()).is_none());
        drop(held);
        assert!(slots.take("10.0.0.1".parse().unwrap()).is_some());
    }
}
