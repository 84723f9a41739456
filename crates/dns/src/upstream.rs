//! Asking the upstream resolvers about a name the network does not know.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// How long each upstream has to answer.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest datagram taken from an upstream.
const MAX_DATAGRAM: usize = 65535;

/// Sends `query` unchanged to each upstream in turn, over UDP from a fresh socket (a random
/// source port), and returns the first reply, unchanged; `None` if none replies within
/// [`UPSTREAM_TIMEOUT`].
pub(crate) async fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        if let Ok(Some(reply)) = tokio::time::timeout(UPSTREAM_TIMEOUT, ask(query, *upstream)).await {
            return Some(reply);
        }
    }
    None
}

/// Sends `query` to `upstream` and waits for the datagram that answers it: from `upstream` (the
/// socket is connected), with the query's id and the response bit set. `None` if the upstream
/// cannot be reached (for instance, nothing listens there).
async fn ask(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let id = query.get(..2)?;
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let len = socket.recv(&mut buf).await.ok()?;
        let reply = &buf[..len];
        let is_response = reply.get(2).is_some_and(|flags| flags & 0x80 != 0);
        if reply.len() >= 12 && &reply[..2] == id && is_response {
            return Some(reply.to_vec());
        }
    }
}
