//! The IPv4 routes of the current network namespace.

use std::net::Ipv4Addr;

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::RouteMessageBuilder;

use crate::netlink::{with_handle, NetlinkError};

/// Destinations of every IPv4 route in every routing table of the calling thread's network
/// namespace, except default routes (`0.0.0.0/0`), which overlap everything.
///
/// Read over rtnetlink rather than from /proc/net/route, which shows the namespace of the
/// process's main thread, not of the calling thread.
pub fn ipv4_destinations() -> Result<Vec<Ipv4Net>, NetlinkError> {
    with_handle(|handle| async move {
        let mut routes = handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute();
        let mut destinations = Vec::new();
        while let Some(route) = routes
            .try_next()
            .await
            .map_err(|e| NetlinkError::request("listing the IPv4 routes", e))?
        {
            let prefix = route.header.destination_prefix_length;
            let address = route
                .attributes
                .iter()
                .find_map(|attribute| match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(address)) => Some(*address),
                    _ => None,
                });
            if let (Some(address), 1..=32) = (address, prefix) {
                if let Ok(net) = Ipv4Net::new(address, prefix) {
                    destinations.push(net.trunc());
                }
            }
        }
        Ok(destinations)
    })
}
