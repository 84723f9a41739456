//! Waiting for links that the kernel deletes by itself: a container's veth pair goes with its
//! network namespace once the last reference to the namespace is dropped (its processes gone,
//! the bind mount that pins it unmounted). The kernel then deletes the devices of every dying
//! namespace in one batch, in the background, instead of one veth pair at a time under the RTNL
//! lock (~20 ms each). The deletion is asynchronous, so whoever promises that the links are gone
//! (`down` returns with no interface of the project left on the host) waits for the kernel's
//! RTM_DELLINK notifications here, without polling.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::{TimeVal, TimeValLike};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::link::{self, LinkError};

/// A subscription to the link notifications of the calling thread's network namespace.
pub struct LinkWatch {
    socket: Socket,
}

impl LinkWatch {
    /// Starts listening: every link deleted from now on is seen by [`LinkWatch::wait_gone`].
    /// Open it before dropping what keeps the links alive.
    pub fn open() -> Result<Self, LinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(LinkError::Watch)?;
        socket.bind(&SocketAddr::new(0, rtnetlink::constants::RTMGRP_LINK)).map_err(LinkError::Watch)?;
        Ok(Self { socket })
    }

    /// Waits until none of the links `names` exists, at most `timeout`; those still there then
    /// (something else keeps their namespace alive) are deleted explicitly.
    pub fn wait_gone(&self, names: &[String], timeout: Duration) -> Result<(), LinkError> {
        let mut left = link::existing(names)?;
        let deadline = Instant::now() + timeout;
        let mut buffer = Vec::with_capacity(64 * 1024);
        while !left.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            // At least 1 µs: a zero timeout would block forever.
            let timeout = TimeVal::microseconds(remaining.as_micros().max(1) as i64);
            setsockopt(&self.socket, ReceiveTimeout, &timeout).map_err(|e| LinkError::Watch(e.into()))?;
            buffer.clear();
            match self.socket.recv(&mut buffer, 0) {
                Ok(_) => remove_deleted(&buffer, &mut left),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => {}
                // Notifications were lost (ENOBUFS): ask again what is left.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => left = link::existing(&left.into_iter().collect::<Vec<_>>())?,
                Err(e) => return Err(LinkError::Watch(e)),
            }
        }
        for name in left {
            link::delete_link(&name)?;
        }
        Ok(())
    }
}

/// Takes out of `left` the links whose deletion the notifications in `datagram` report.
fn remove_deleted(datagram: &[u8], left: &mut BTreeSet<String>) {
    let mut offset = 0;
    // Each message starts with its length (native-endian u32); one that does not parse (not a
    // link message this crate knows) is skipped.
    while let Some(header) = datagram.get(offset..offset + 4) {
        let length = u32::from_ne_bytes(header.try_into().expect("4 bytes")) as usize;
        let Some(bytes) = datagram.get(offset..offset + length).filter(|_| length >= 16) else { return };
        if let Ok(NetlinkMessage { payload: NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link_message)), .. }) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
            if let Some(name) = link::link_name(&link_message) {
                left.remove(&name);
            }
        }
        // Messages are aligned to 4 bytes.
        offset += (length + 3) & !3;
    }
}
