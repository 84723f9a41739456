//! The port agent's sockets on the host's addresses. One on an IPv6 address is IPv6 only
//! (`IPV6_V6ONLY`): a port published on `[::]` and on `0.0.0.0` are two bindings, as Docker
//! makes them, and the first must not take the second's IPv4 traffic.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Socket, Type};

/// Connections waiting to be accepted (std's `TcpListener::bind` takes the same).
const BACKLOG: i32 = 128;

/// A bound socket of `kind` on `address`.
fn bound(address: SocketAddr, kind: Type) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(address), kind, None)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if kind == Type::STREAM {
        // As std's listeners: a port whose last connections linger in TIME_WAIT can be listened on again.
        socket.set_reuse_address(true)?;
    }
    socket.bind(&address.into())?;
    Ok(socket)
}

/// A TCP listener on `address`.
pub(super) fn tcp_listener(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = bound(address, Type::STREAM)?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A UDP socket bound to `address`.
pub(super) fn udp_socket(address: SocketAddr) -> io::Result<UdpSocket> {
    bound(address, Type::DGRAM).map(UdpSocket::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_any_and_ipv4_any_bind_the_same_port_side_by_side() {
        let v4 = tcp_listener("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        tcp_listener(SocketAddr::new("::".parse().unwrap(), port)).unwrap();
        let udp4 = udp_socket("0.0.0.0:0".parse().unwrap()).unwrap();
        udp_socket(SocketAddr::new("::".parse().unwrap(), udp4.local_addr().unwrap().port())).unwrap();
    }
}
