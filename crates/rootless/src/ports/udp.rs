//! A forwarded UDP port, as rootlesskit's builtin port driver and docker-proxy forward one: the
//! host's socket receives the datagrams of every client; each client address gets a flow, a
//! socket of its own inside the namespace connected to the target, whose replies go back to
//! that client from the host's socket. A flow without a reply for [`FLOW_IDLE`] is dropped (the
//! next datagram of its client opens a new one).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::inside::Inside;

/// How long a flow lives without a reply (docker-proxy's and rootlesskit's 90 s).
const FLOW_IDLE: Duration = Duration::from_secs(90);
/// The largest datagram.
const DATAGRAM: usize = 65536;

/// The flows of one forwarded port by client address; `None` once the port is stopped.
type Flows = Mutex<Option<HashMap<SocketAddr, Arc<UdpSocket>>>>;

/// A UDP port being forwarded.
pub(super) struct UdpForward {
    socket: Arc<UdpSocket>,
    flows: Arc<Flows>,
}

impl UdpForward {
    /// Forwards the datagrams `socket` receives to `target` in `inside`'s namespace.
    pub(super) fn start(socket: UdpSocket, target: SocketAddr, inside: Inside) -> Self {
        let forward = Self { socket: Arc::new(socket), flows: Arc::new(Mutex::new(Some(HashMap::new()))) };
        let (socket, flows) = (forward.socket.clone(), forward.flows.clone());
        std::thread::spawn(move || receive_loop(&socket, &flows, target, &inside));
        forward
    }

    /// Stops forwarding: the host's socket and every flow are shut down, which wakes the threads
    /// reading them; they see the port stopped and end, closing the sockets.
    pub(super) fn stop(&self) {
        let Some(flows) = lock(&self.flows).take() else { return };
        // On an unconnected UDP socket shutdown() answers ENOTCONN, yet wakes its readers.
        let _ = nix::sys::socket::shutdown(self.socket.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        for flow in flows.values() {
            let _ = nix::sys::socket::shutdown(flow.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
    }
}

/// The flow table, poisoned or not (it stays consistent whatever panicked).
fn lock(flows: &Flows) -> MutexGuard<'_, Option<HashMap<SocketAddr, Arc<UdpSocket>>>> {
    flows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Passes each datagram of `socket` on through its client's flow until the port is stopped.
fn receive_loop(socket: &Arc<UdpSocket>, flows: &Arc<Flows>, target: SocketAddr, inside: &Inside) {
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let received = socket.recv_from(&mut buf);
        let mut table = lock(flows);
        let Some(table) = table.as_mut() else { return };
        let Ok((n, client)) = received else { continue };
        let flow = match table.get(&client) {
            Some(flow) => flow.clone(),
            None => {
                let Ok(flow) = inside.connect_udp(target).and_then(|f| f.set_read_timeout(Some(FLOW_IDLE)).map(|()| Arc::new(f))) else { continue };
                table.insert(client, flow.clone());
                let (socket, flows, replies) = (socket.clone(), flows.clone(), flow.clone());
                std::thread::spawn(move || reply_loop(&socket, &flows, client, &replies));
                flow
            }
        };
        let _ = flow.send(&buf[..n]);
    }
}

/// Sends the replies `flow` receives back to `client` until it idles out, fails (the target
/// refused) or the port is stopped; then forgets it.
fn reply_loop(socket: &UdpSocket, flows: &Flows, client: SocketAddr, flow: &Arc<UdpSocket>) {
    let mut buf = vec![0u8; DATAGRAM];
    while let Ok(n) = flow.recv(&mut buf) {
        if lock(flows).is_none() {
            return;
        }
        let _ = socket.send_to(&buf[..n], client);
    }
    if let Some(table) = lock(flows).as_mut() {
        if table.get(&client).is_some_and(|known| Arc::ptr_eq(known, flow)) {
            table.remove(&client);
        }
    }
}
