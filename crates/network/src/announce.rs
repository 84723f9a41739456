//! Gratuitous ARP: a container whose interface comes up tells its network its address's MAC,
//! so neighbours holding an entry from before (the same container before a restart) update it
//! at once instead of after their entry goes stale (tens of seconds), as Docker announces its
//! containers' addresses.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::libc;
use nix::sys::socket::{sendto, socket, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType, SockaddrLike};

/// A packet socket on a container's interface, opened in its network namespace, to announce
/// the interface's address once the network can hear it (the host end of its veth pair is a
/// forwarding bridge port only a moment after the interface comes up).
#[derive(Debug)]
pub(crate) struct Announcer {
    socket: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
}

impl Announcer {
    /// An announcer of `ip` at `mac` on the interface with index `ifindex` of the calling
    /// thread's network namespace.
    pub(crate) fn open(ifindex: u32, mac: [u8; 6], ip: Ipv4Addr) -> io::Result<Self> {
        // Datagram packet socket: the kernel adds the Ethernet header for the address given.
        let socket = socket(AddressFamily::Packet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
        Ok(Self { socket, ifindex, mac, ip })
    }

    /// Broadcasts an ARP request for the address from the address, as the kernel's own
    /// announcements are (a gratuitous ARP).
    pub(crate) fn announce(&self) -> io::Result<()> {
        let broadcast = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: (libc::ETH_P_ARP as u16).to_be(),
            sll_ifindex: self.ifindex as i32,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0],
        };
        // SAFETY: `broadcast` is a complete, initialised sockaddr_ll and the length is its size.
        let address = unsafe {
            LinkAddr::from_raw((&broadcast as *const libc::sockaddr_ll).cast(), Some(std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t))
        }
        .ok_or_else(|| io::Error::other("invalid link-layer address"))?;
        sendto(self.socket.as_raw_fd(), &request(self.mac, self.ip), &address, MsgFlags::empty())?;
        Ok(())
    }
}

/// The ARP packet: Ethernet/IPv4, request, sender and target both `ip`, target MAC unknown.
fn request(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut packet = Vec::with_capacity(28);
    packet.extend_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    packet.extend_from_slice(&(libc::ETH_P_IP as u16).to_be_bytes());
    packet.extend_from_slice(&[6, 4]); // address lengths
    packet.extend_from_slice(&1u16.to_be_bytes()); // operation: request
    packet.extend_from_slice(&mac);
    packet.extend_from_slice(&ip.octets());
    packet.extend_from_slice(&[0; 6]);
    packet.extend_from_slice(&ip.octets());
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_an_ethernet_ipv4_announcement() {
        let packet = request([0x02, 0x42, 172, 17, 0, 2], Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(
            packet,
            [0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0x42, 172, 17, 0, 2, 172, 17, 0, 2, 0, 0, 0, 0, 0, 0, 172, 17, 0, 2]
        );
    }
}
