//! The bridge driver's options of a network (`driver_opts`) and the per-container interface
//! settings of a service's network entry (`mac_address`, `interface_name`, `link_local_ips`,
//! and the endpoint `driver_opts` Docker's bridge applies: `com.docker.network.endpoint.ifname`
//! and `...endpoint.sysctls`), read and checked as Docker does; an option it would not apply is
//! refused.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use xcompose_loader::model::{Network, Service, ServiceNetwork};
use xcompose_network::link::InterfaceSettings;

use crate::StackError;

const MTU: &str = "com.docker.network.driver.mtu";
const MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
const HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const ICC: &str = "com.docker.network.bridge.enable_icc";
const ENDPOINT_IFNAME: &str = "com.docker.network.endpoint.ifname";
const ENDPOINT_SYSCTLS: &str = "com.docker.network.endpoint.sysctls";

/// What a network's `driver_opts` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeOptions {
    /// `com.docker.network.driver.mtu`: the MTU of the bridge and of every container interface.
    pub mtu: Option<u32>,
    /// `com.docker.network.bridge.enable_ip_masquerade` (default true).
    pub masquerade: bool,
    /// `com.docker.network.bridge.host_binding_ipv4`: where ports without a host address are
    /// published (IPv4); every address if `None`.
    pub host_binding_ipv4: Option<Ipv4Addr>,
    /// `com.docker.network.bridge.enable_icc` (default true): whether its containers reach each other.
    #[serde(default = "enabled")]
    pub icc: bool,
}

/// The default of an option that is on unless turned off.
fn enabled() -> bool {
    true
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions { mtu: None, masquerade: true, host_binding_ipv4: None, icc: true }
    }
}

/// The options of network `name` from its `driver_opts`; an unknown option, or one with a value
/// Docker would reject, is an error naming it.
pub(crate) fn bridge_options(name: &str, network: &Network) -> Result<BridgeOptions, StackError> {
    let invalid = |key: &str, value: &str, expected: &str| StackError::Invalid(format!("network {name}: driver_opts {key}: {value:?} is not {expected}"));
    let mut options = BridgeOptions::default();
    for (key, value) in &network.driver_opts {
        match key.as_str() {
            MTU => options.mtu = Some(value.parse().ok().filter(|m| (68..=65535).contains(m)).ok_or_else(|| invalid(key, value, "an MTU (68-65535)"))?),
            MASQUERADE => options.masquerade = value.parse().map_err(|_| invalid(key, value, "true or false"))?,
            ICC => options.icc = value.parse().map_err(|_| invalid(key, value, "true or false"))?,
            HOST_BINDING => options.host_binding_ipv4 = Some(value.parse().map_err(|_| invalid(key, value, "an IPv4 address"))?),
            BRIDGE_NAME => {
                bridge_name(name, network)?;
            }
            other => return Err(StackError::Invalid(format!("network {name}: driver_opts {other} is not supported by xcompose's bridge driver (supported: {MTU}, {MASQUERADE}, {ICC}, {HOST_BINDING}, {BRIDGE_NAME}); remove it"))),
        }
    }
    Ok(options)
}

/// The bridge network `name` asks for with `com.docker.network.bridge.name`, if it does: as with
/// Docker's bridge driver, the option's value is the bridge's name, which must be a valid
/// interface name (at most 15 characters, IFNAMSIZ - 1).
pub(crate) fn bridge_name(name: &str, network: &Network) -> Result<Option<String>, StackError> {
    let Some(value) = network.driver_opts.get(BRIDGE_NAME) else { return Ok(None) };
    if !is_interface_name(value) {
        return Err(StackError::Invalid(format!("network {name}: driver_opts {BRIDGE_NAME}: {value:?} is not a valid interface name: at most 15 characters, no '/', ':' or spaces")));
    }
    Ok(Some(value.clone()))
}

/// Whether the kernel takes `name` as an interface's name (its `dev_valid_name`).
fn is_interface_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 15 && !name.contains(['/', ':']) && !name.chars().any(char::is_whitespace) && name != "." && name != ".."
}

/// The interface settings of `service_name`'s container on network `key` (entry `options`; the
/// service's own `mac_address` goes to its first network, `first`, unless the entry sets one).
pub(crate) fn interface_settings(service_name: &str, service: &Service, key: &str, options: Option<&ServiceNetwork>, first: bool) -> Result<InterfaceSettings, StackError> {
    let invalid = |message: String| StackError::Service { service: service_name.to_string(), message: format!("network {key}: {message}") };
    let mac_text = options.map(|o| o.mac_address.as_str()).filter(|m| !m.is_empty()).or((first && !service.mac_address.is_empty()).then_some(service.mac_address.as_str()));
    let mac = mac_text.map(|m| parse_mac(m).ok_or_else(|| invalid(format!("invalid mac_address {m:?}: six hexadecimal bytes like 02:42:ac:11:00:02 are expected")))).transpose()?;
    if mac.is_some_and(|m| m[0] & 1 == 1) {
        return Err(invalid(format!("mac_address {} is a multicast address: pick a unicast one (even first byte)", mac_text.unwrap_or_default())));
    }
    let driver_opts = options.map(|o| &o.driver_opts);
    if let Some(other) = driver_opts.into_iter().flatten().map(|(k, _)| k).find(|k| ![ENDPOINT_IFNAME, ENDPOINT_SYSCTLS].contains(&k.as_str())) {
        return Err(invalid(format!("driver_opts {other} is not supported by xcompose's bridge driver (supported: {ENDPOINT_IFNAME}, {ENDPOINT_SYSCTLS}); remove it")));
    }
    let interface_name = options.map(|o| o.interface_name.clone()).filter(|n| !n.is_empty());
    let ifname_opt = driver_opts.and_then(|o| o.get(ENDPOINT_IFNAME)).cloned();
    if let (Some(a), Some(b)) = (&interface_name, &ifname_opt) {
        if a != b {
            return Err(invalid(format!("interface_name {a:?} and driver_opts {ENDPOINT_IFNAME} {b:?} name the interface differently: keep one")));
        }
    }
    // Compose turns `interface_name` into the same endpoint option; either names the interface.
    let name = interface_name.or(ifname_opt);
    if let Some(n) = &name {
        let valid = is_interface_name(n) && n != "lo";
        if !valid {
            return Err(invalid(format!("invalid interface_name {n:?}: at most 15 characters, no '/', ':' or spaces, not lo")));
        }
    }
    let link_local = options
        .map(|o| o.link_local_ips.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|ip| ip.parse::<IpAddr>().map_err(|_| invalid(format!("invalid link_local_ips entry {ip:?}: an IP address is expected"))))
        .collect::<Result<Vec<_>, _>>()?;
    let sysctls = driver_opts.and_then(|o| o.get(ENDPOINT_SYSCTLS)).map(|list| endpoint_sysctls(list).map_err(invalid)).transpose()?.unwrap_or_default();
    Ok(InterfaceSettings { mac, name, link_local, sysctls })
}

/// The entries of a `com.docker.network.endpoint.sysctls` option (`net.X.Y.IFNAME.Z=value`,
/// comma separated), checked as dockerd checks them (moby 25+): an IPv4, IPv6 or MPLS parameter
/// of the interface, written `IFNAME` (or `ifname`, as the docker CLI lowercases it) in the name.
fn endpoint_sysctls(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .map(|entry| {
            let (key, value) = entry.split_once('=').ok_or_else(|| format!("driver_opts {ENDPOINT_SYSCTLS}: expected sysctl '{entry}' to have format name=value"))?;
            let parts: Vec<&str> = key.splitn(5, '.').collect();
            let recognised = parts.len() == 5 && parts[0] == "net" && matches!(parts[1], "ipv4" | "ipv6" | "mpls") && matches!(parts[3], "IFNAME" | "ifname") && !parts.iter().any(|p| p.is_empty() || p.contains('/'));
            if !recognised {
                return Err(format!("driver_opts {ENDPOINT_SYSCTLS}: unrecognised network interface sysctl '{entry}'; represent the network interface in the name as 'IFNAME', for example 'net.ipv4.conf.IFNAME.forwarding'"));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `02:42:ac:11:00:02` (or with `-`) as bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = text.split([':', '-']).map(|b| (b.len() == 2).then(|| u8::from_str_radix(b, 16).ok()).flatten()).collect::<Option<_>>()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_both_notations_and_nothing_else() {
        assert_eq!(parse_mac("02:42:AC:11:00:99"), Some([2, 0x42, 0xac, 0x11, 0, 0x99]));
        assert_eq!(parse_mac("02-42-ac-11-00-99"), Some([2, 0x42, 0xac, 0x11, 0, 0x99]));
        for bad in ["02:42:ac:11:00", "02:42:ac:11:00:99:01", "2:42:ac:11:00:99", "zz:42:ac:11:00:99", ""] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn endpoint_sysctls_are_read_as_dockerd_checks_them() {
        let got = endpoint_sysctls("net.ipv4.conf.IFNAME.log_martians=1,net.ipv6.conf.ifname.accept_ra=0").unwrap();
        assert_eq!(got, vec![("net.ipv4.conf.IFNAME.log_martians".to_string(), "1".to_string()), ("net.ipv6.conf.ifname.accept_ra".to_string(), "0".to_string())]);
        assert!(endpoint_sysctls("net.ipv4.conf.IFNAME.log_martians").unwrap_err().contains("to have format name=value"));
        for bad in ["net.ipv4.conf.eth0.log_martians=1", "net.core.conf.IFNAME.x=1", "kernel.ipv4.conf.IFNAME.x=1", "net.ipv4.IFNAME.x=1", "net.ipv4.conf.IFNAME../x=1"] {
            assert!(endpoint_sysctls(bad).unwrap_err().contains("unrecognised network interface sysctl"), "{bad}");
        }
    }

    #[test]
    fn endpoint_options_name_the_interface_and_others_are_refused() {
        let service = Service::default();
        let mut entry = ServiceNetwork::default();
        entry.driver_opts.insert(ENDPOINT_IFNAME.into(), "lan0".into());
        assert_eq!(interface_settings("s", &service, "n", Some(&entry), true).unwrap().name.as_deref(), Some("lan0"));
        entry.interface_name = "lan1".into();
        assert!(interface_settings("s", &service, "n", Some(&entry), true).unwrap_err().to_string().contains("name the interface differently"));
        entry.interface_name = "lan0".into();
        entry.driver_opts.insert("com.docker.network.endpoint.other".into(), "x".into());
        let err = interface_settings("s", &service, "n", Some(&entry), true).unwrap_err().to_string();
        assert!(err.contains("driver_opts com.docker.network.endpoint.other is not supported"), "{err}");
    }

    #[test]
    fn driver_options_are_read_and_unknown_ones_refused() {
        let mut network = Network::default();
        network.driver_opts.insert(MTU.into(), "1400".into());
        network.driver_opts.insert(MASQUERADE.into(), "false".into());
        network.driver_opts.insert(HOST_BINDING.into(), "127.0.0.1".into());
        network.driver_opts.insert(ICC.into(), "false".into());
        let options = bridge_options("n", &network).unwrap();
        assert_eq!(options, BridgeOptions { mtu: Some(1400), masquerade: false, host_binding_ipv4: Some(Ipv4Addr::LOCALHOST), icc: false });
        network.driver_opts.insert(MTU.into(), "9".into());
        assert!(bridge_options("n", &network).unwrap_err().to_string().contains("is not an MTU"));
        network.driver_opts.remove(MTU);
        network.driver_opts.insert(ICC.into(), "no".into());
        assert!(bridge_options("n", &network).unwrap_err().to_string().contains("is not true or false"));
        network.driver_opts.remove(ICC);
        network.driver_opts.insert(BRIDGE_NAME.into(), "br-custom".into());
        assert!(bridge_options("n", &network).is_ok());
        assert_eq!(bridge_name("n", &network).unwrap().as_deref(), Some("br-custom"));
        for bad in ["br-name-too-long", "br/x", "br:x", "br x", "", ".."] {
            network.driver_opts.insert(BRIDGE_NAME.into(), bad.into());
            let err = bridge_options("n", &network).unwrap_err().to_string();
            assert!(err.contains("is not a valid interface name"), "{bad}: {err}");
        }
        network.driver_opts.remove(BRIDGE_NAME);
        assert_eq!(bridge_name("n", &network).unwrap(), None);
        network.driver_opts.insert("com.docker.network.bridge.enable_lo".into(), "false".into());
        let err = bridge_options("n", &network).unwrap_err().to_string();
        assert!(err.contains("driver_opts com.docker.network.bridge.enable_lo is not supported"), "{err}");
    }
}
