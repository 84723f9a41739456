//! The project's containers: finding them by label, creating one for a service replica (its
//! process from the image, its mounts, its network namespace and attachments, its /etc files),
//! and removing one with everything it held.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use xcompose_container::{Mount, MountKind, NetworkNamespace, Propagation, Recursive};
use xcompose_loader::model::{Service, ServiceNetwork};
use xcompose_network::link;
use xcompose_network::link_watch::LinkWatch;
use xcompose_orchestrator::labels::{self, container_labels, ProjectInfo};
use xcompose_orchestrator::plan::ActualContainer;
use xcompose_orchestrator::process::process_for;
use xcompose_runtime::ContainerSummary;
use xcompose_supervisor::state::Status;

use crate::image_config::{merge_labels, ImageDefaults};
use crate::networks::EndpointRequest;
use crate::request::{bind_source, create_request};
use crate::run::OneOff;
use crate::volumes::AnonymousVolumes;
use crate::{Stack, StackError};

/// How long removing a container waits for the kernel to delete its veth pairs with its network
/// namespace (a few ms, under 60 ms at a load of 30 on 2 cores) before deleting them itself:
/// something else (another container joined to the namespace) may keep the namespace alive, and
/// then the removal is this much slower than a deletion would have been, never wrong.
const NAMESPACE_CLEANUP_WAIT: Duration = Duration::from_secs(1);

impl Stack {
    /// The project's containers, one-off ones included.
    pub(crate) fn project_containers(&self) -> Result<Vec<ContainerSummary>, StackError> {
        Ok(self
            .runtime
            .list()?
            .into_iter()
            .filter(|c| c.labels.get(labels::PROJECT) == Some(&self.project.name))
            .collect())
    }

    /// What the planner needs to know of each container.
    pub(crate) fn actual_containers(&self) -> Result<Vec<ActualContainer>, StackError> {
        Ok(self
            .project_containers()?
            .into_iter()
            .map(|c| {
                let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
                ActualContainer {
                    service: label(labels::SERVICE),
                    number: label(labels::CONTAINER_NUMBER).parse().unwrap_or(0),
                    oneoff: label(labels::ONEOFF) == "True",
                    config_hash: label(labels::CONFIG_HASH),
                    image_digest: label(labels::IMAGE),
                    running: matches!(c.state.status, Status::Running | Status::Paused | Status::Restarting),
                    id: c.id,
                    name: c.name,
                }
            })
            .collect())
    }

    /// The network namespace a service's containers use, from `network_mode`.
    fn network_namespace(&self, service_name: &str, service: &Service) -> Result<NetworkNamespace, StackError> {
        let mode = service.network_mode.as_str();
        if mode == "host" {
            return Ok(NetworkNamespace::Host);
        }
        let context = format!("network_mode {mode}");
        let target = if let Some(other) = mode.strip_prefix("service:") {
            self.container_named(service_name, &context, other)?
        } else if mode.starts_with("container:") {
            self.container_named(service_name, &context, mode)?
        } else {
            return Ok(NetworkNamespace::New);
        };
        // Share the namespace the other container uses, whether its own or one it joined.
        let record = self.runtime.find(&target)?;
        Ok(record.supervisor.spec.network.clone())
    }

    /// The container `reference` names for `service_name`'s `context` (`network_mode ...`,
    /// `volumes_from ...`): `container:NAME`, or a service whose first container it is.
    pub(crate) fn container_named(&self, service_name: &str, context: &str, reference: &str) -> Result<String, StackError> {
        let invalid = |message: String| StackError::Service { service: service_name.to_string(), message };
        if let Some(name) = reference.strip_prefix("container:") {
            return Ok(self.runtime.find(name).map_err(|_| invalid(format!("{context}: no such container {name}")))?.id);
        }
        self.project_containers()?
            .into_iter()
            .filter(|c| c.labels.get(labels::SERVICE).map(String::as_str) == Some(reference))
            .min_by_key(|c| c.labels.get(labels::CONTAINER_NUMBER).and_then(|n| n.parse::<u32>().ok()))
            .map(|c| c.id)
            .ok_or_else(|| invalid(format!("{context}: service {reference} has no container; start it first")))
    }

    /// `volumes_from`: the bind and volume mounts of other containers (`SERVICE[:ro|rw]`,
    /// `container:NAME[:ro|rw]`), read-only with `:ro`.
    fn volumes_from_mounts(&self, service_name: &str, service: &Service) -> Result<Vec<Mount>, StackError> {
        let mut mounts = Vec::new();
        for entry in &service.volumes_from {
            let (reference, mode) = match entry.rsplit_once(':') {
                Some((r, m)) if m == "ro" || m == "rw" => (r, m),
                _ => (entry.as_str(), "rw"),
            };
            let id = self.container_named(service_name, &format!("volumes_from {entry}"), reference)?;
            let record = self.runtime.find(&id)?;
            for m in record.supervisor.spec.mounts.iter().filter(|m| matches!(m.kind, MountKind::Bind { .. })) {
                mounts.push(Mount { read_only: m.read_only || mode == "ro", ..m.clone() });
            }
        }
        Ok(mounts)
    }

    /// Mounts for `volumes:` (bind mounts, volumes, tmpfs), for an image of layers `layers`;
    /// volumes are created (and seeded from the image) if missing, anonymous ones taken from
    /// `inherited` where it has one at their path.
    fn volume_mounts(&self, service: &Service, layers: &[PathBuf], inherited: &AnonymousVolumes) -> Result<Vec<Mount>, StackError> {
        let mut mounts = Vec::new();
        for v in &service.volumes {
            let source = match v.kind.as_str() {
                "bind" => {
                    let path = bind_source(&self.working_dir, &v.source);
                    if !path.exists() && v.bind.as_ref().is_none_or(|b| b.create_host_path) {
                        std::fs::create_dir_all(&path).map_err(StackError::io(&path))?;
                    }
                    path
                }
                "volume" => self.volume_source(v, layers, inherited)?,
                "tmpfs" => {
                    let size = v.tmpfs.as_ref().and_then(|t| t.size.as_ref()).map(|s| s.0.max(0) as u64);
                    let mode = v.tmpfs.as_ref().and_then(|t| t.mode);
                    mounts.push(Mount { target: v.target.clone().into(), kind: MountKind::Tmpfs { size, mode }, read_only: v.read_only });
                    continue;
                }
                other => return Err(StackError::Invalid(format!("volume type {other:?} is not supported"))),
            };
            let recursive = bind_recursive(v)?;
            let propagation = bind_propagation(v, &source)?;
            mounts.push(Mount { target: v.target.clone().into(), kind: MountKind::Bind { source, recursive, propagation }, read_only: v.read_only });
        }
        Ok(mounts)
    }

    /// Creates replica `number` of `service_name` as container `name` (not started), with the
    /// anonymous volumes `inherited` from the container it replaces; returns its id.
    pub(crate) fn create_container(&self, service_name: &str, number: u32, name: &str, inherited: &AnonymousVolumes) -> Result<String, StackError> {
        self.create_from(service_name, &self.project.services[service_name], number, name, None, inherited)
    }

    /// Creates container `name` from `service` (the project's `service_name`, possibly adjusted
    /// for a one-off run), with the anonymous volumes `inherited` at their paths.
    pub(crate) fn create_from(&self, service_name: &str, service: &Service, number: u32, name: &str, oneoff: Option<OneOff>, inherited: &AnonymousVolumes) -> Result<String, StackError> {
        let image_name = self.service_image(service_name, service);
        let image = self.runtime.images().resolve(&image_name)?;
        let (process, user) = process_for(service_name, service, image.config.config().as_ref(), &self.working_dir)
            .map_err(|e| StackError::Service { service: service_name.to_string(), message: e.to_string() })?;
        let defaults = ImageDefaults::of(self.runtime.images(), &image)?;
        let mut request = create_request(service_name, service, name, &defaults)?;
        request.image = image_name;
        request.process = process;
        request.user = user;
        request.network = self.network_namespace(service_name, service)?;
        self.set_namespaces(service_name, service, &mut request)?;
        if request.network == NetworkNamespace::Host && request.hostname.is_none() {
            // As Docker: on the host's network, the host's name.
            request.hostname = nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned());
        }
        request.mounts.extend(self.volume_mounts(service, &image.layer_dirs, inherited)?);
        request.mounts.extend(self.volumes_from_mounts(service_name, service)?);
        request.mounts.extend(self.file_object_mounts(service_name, service)?);
        let image_volumes = image.config.config().as_ref().and_then(|c| c.volumes().clone()).unwrap_or_default();
        let anonymous = self.image_volume_mounts(image_volumes.iter(), &request.mounts, &image.layer_dirs, inherited)?;
        request.mounts.extend(anonymous);
        // Parents before what is mounted inside them, as Docker sorts mounts.
        request.mounts.sort_by_key(|m| m.target.components().count());
        let info = ProjectInfo { name: &self.project.name, working_dir: &self.working_dir.display().to_string(), config_files: &self.config_files };
        request.labels = container_labels(&info, service_name, service, number, oneoff.is_some(), &xcompose_loader::service_hash(service), &image.id);
        merge_labels(&mut request.labels, &defaults);
        request.stdin_once = service.stdin_open && oneoff.is_some_and(|o| o.stdin_once);
        Ok(self.runtime.create(request)?)
    }

    /// Attaches container `id` of `service_name` to its service's networks, afresh (whatever
    /// an earlier, interrupted attach left is undone first), under its DNS names (the container's
    /// name and short id; with `service_aliases`, the service and the network's aliases), has
    /// the project's resolver answer in its namespace, and writes its /etc/hosts and /etc/resolv.conf (that resolver,
    /// 127.0.0.11). A container sharing another's network namespace gets that one's
    /// /etc/resolv.conf, as with Docker.
    pub(crate) fn connect(&self, id: &str, service_name: &str, service: &Service, service_aliases: bool) -> Result<(), StackError> {
        let netns = self.runtime.netns_path(id);
        match self.runtime.find(id)?.supervisor.spec.network {
            NetworkNamespace::Join(path) if path == netns => {}
            NetworkNamespace::Join(shared) => return self.share_resolv_conf(id, &shared),
            NetworkNamespace::Host => return self.write_host_mode_etc_files(id, service),
            NetworkNamespace::New => return Ok(()),
        }
        self.runtime.ensure_netns(id)?;
        self.ports.unpublish_all(id)?;
        self.networks.detach_all(id)?;
        let record = self.runtime.find(id)?;
        let upstreams = service
            .dns
            .iter()
            .map(|server| match server.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SocketAddr::new(ip, 53)),
                Err(_) => server.parse::<SocketAddr>().map_err(|_| StackError::Service { service: service_name.into(), message: format!("invalid dns server {server:?}: an IP address is expected") }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut addresses = Vec::new();
        let mut records_files = Vec::new();
        let networks = xcompose_orchestrator::plan::service_networks(service);
        let (gateway4, gateway6) = self.gateway_networks(&networks);
        for (i, (key, options)) in networks.into_iter().enumerate() {
            let network = self.project.networks.get(&key).ok_or_else(|| StackError::Service {
                service: service_name.to_string(),
                message: format!("service refers to undefined network {key}"),
            })?;
            let requested = match options.map(|o| o.ipv4_address.as_str()).filter(|a| !a.is_empty()) {
                Some(a) => Some(a.parse::<Ipv4Addr>().map_err(|_| StackError::Service { service: service_name.into(), message: format!("invalid ipv4_address {a:?}") })?),
                None => None,
            };
            let requested6 = match options.map(|o| o.ipv6_address.as_str()).filter(|a| !a.is_empty()) {
                Some(a) => Some(a.parse::<Ipv6Addr>().map_err(|_| StackError::Service { service: service_name.into(), message: format!("invalid ipv6_address {a:?}") })?),
                None => None,
            };
            // Compose's getAliases: a service's containers answer to the service's name and
            // aliases, a one-off (`run`) only with --use-aliases; Docker adds the container's
            // name and short id.
            let mut names = vec![record.name.clone(), id[..12].to_string()];
            if service_aliases {
                names.push(service_name.to_string());
                names.extend(options.map(|o| o.aliases.clone()).unwrap_or_default());
            }
            let network_record = self.networks.get(&network.name)?.ok_or_else(|| StackError::Network(format!("network {} not found: run `xcompose up` to create it", network.name)))?;
            let settings = crate::network_options::interface_settings(service_name, service, &key, options, i == 0)?;
            let request = EndpointRequest { requested, requested6, names: &names, settings, default_route: gateway4 == Some(i), default_route6: gateway6 == Some(i) };
            let (address, address6) = self.networks.attach(id, &netns, &network_record, request)?;
            let address6 = address6.map(|a| a.addr());
            if addresses.is_empty() && !service.ports.is_empty() {
                // Published ports lead to the addresses on the first network.
                self.ports.publish(service_name, id, &service.ports, &network_record, address.addr(), address6)?;
            }
            addresses.push((address.addr(), address6));
            records_files.push(self.networks.records_file(&network.name));
        }
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = if records_files.is_empty() {
            // No project network (`network_mode: none`): no resolver, the service's DNS settings.
            xcompose_dns::resolv::standalone_resolv_conf(&host, &service.dns, &service.dns_search, &service.dns_opt)
        } else {
            self.resolver.serve(id, &netns, records_files, &upstreams, link_aliases(service))?;
            xcompose_fault::point("container.connect.served");
            xcompose_dns::resolv::container_resolv_conf(&host, &service.dns_search, &service.dns_opt)
        };
        self.runtime.write_etc_file(id, "resolv.conf", resolv.as_bytes())?;
        // As Docker: the hostname has the first network's IPv4 and IPv6 addresses.
        let own_addresses: Vec<IpAddr> = addresses.first().map(|(v4, v6)| std::iter::once(IpAddr::V4(*v4)).chain(v6.map(IpAddr::V6)).collect()).unwrap_or_default();
        let own = (!own_addresses.is_empty()).then_some((own_addresses.as_slice(), record.supervisor.spec.hostname.as_str(), service.domainname.as_str()));
        let hosts = hosts_file("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", &service.extra_hosts, own);
        self.runtime.write_etc_file(id, "hosts", hosts.as_bytes())?;
        Ok(())
    }

    /// Which of a service's `networks` (in attach order) give the IPv4 and the IPv6 default
    /// route: the one with the highest `gw_priority` among those with a way out (not internal),
    /// and with IPv6 for the IPv6 route, the first of equals, as Docker (28) picks them.
    fn gateway_networks(&self, networks: &[(String, Option<&ServiceNetwork>)]) -> (Option<usize>, Option<usize>) {
        let pick = |eligible: &dyn Fn(&xcompose_loader::model::Network) -> bool| {
            networks
                .iter()
                .enumerate()
                .filter(|(_, (key, _))| self.project.networks.get(key).is_some_and(|n| !n.internal && eligible(n)))
                .max_by_key(|(i, (_, options))| (options.map_or(0, |o| o.gw_priority), std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
        };
        (pick(&|_| true), pick(&|n| n.enable_ipv6 == Some(true)))
    }

    /// On the host's network, as Docker: the host's /etc/hosts with the service's `extra_hosts`
    /// added, and the host's resolv.conf with the service's DNS settings.
    fn write_host_mode_etc_files(&self, id: &str, service: &Service) -> Result<(), StackError> {
        let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let hosts = hosts_file(&host_hosts, &service.extra_hosts, None);
        self.runtime.write_etc_file(id, "hosts", hosts.as_bytes())?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = xcompose_dns::resolv::standalone_resolv_conf(&host_resolv, &service.dns, &service.dns_search, &service.dns_opt);
        Ok(self.runtime.write_etc_file(id, "resolv.conf", resolv.as_bytes())?)
    }

    /// Stops (within `grace`) and removes container `id`, detaching it from its networks first.
    /// Its veth pairs are not deleted one by one (~20 ms each under the RTNL lock): they go with
    /// its network namespace when the runtime unpins it, and this waits for the kernel to have
    /// deleted them, so that none is left on the host when it returns.
    pub(crate) fn remove_container(&self, id: &str, grace: Duration) -> Result<(), StackError> {
        self.runtime.stop(id, Some(grace))?;
        xcompose_fault::point("container.remove.stopped");
        self.ports.unpublish_all(id)?;
        xcompose_fault::point("container.remove.unpublished");
        // Listening before the namespace can go: no deletion is missed.
        let watch = LinkWatch::open().map_err(StackError::network)?;
        let endpoints = self.networks.release_all(id)?;
        xcompose_fault::point("container.remove.detached");
        self.resolver.forget(id)?;
        xcompose_fault::point("container.remove.forgotten");
        self.runtime.remove(id, true)?;
        let host_links = endpoints.iter().map(|e| link::host_veth_name(&e.endpoint_id)).collect::<Result<Vec<_>, _>>().map_err(StackError::network)?;
        watch.wait_gone(&host_links, NAMESPACE_CLEANUP_WAIT).map_err(StackError::network)
    }

    /// Gives container `id`, which joined the network namespace pinned at `shared`, the
    /// /etc/resolv.conf of the container that made that namespace (its resolver answers there).
    fn share_resolv_conf(&self, id: &str, shared: &std::path::Path) -> Result<(), StackError> {
        let owner = shared.parent().and_then(|dir| dir.file_name()).and_then(|name| name.to_str());
        let Some(owner) = owner.filter(|owner| self.runtime.netns_path(owner) == shared) else {
            return Ok(());
        };
        let source = self.runtime.etc_file(owner, "resolv.conf");
        let text = std::fs::read(&source).map_err(StackError::io(&source))?;
        Ok(self.runtime.write_etc_file(id, "resolv.conf", &text)?)
    }

    /// Labels of a project network or volume.
    pub(crate) fn resource_labels(&self, kind_label: &str, key: &str, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        labels::resource_labels(&self.project.name, kind_label, key, own)
    }
}

/// A bind mount's `bind.recursive`, as Docker 25+ takes it: `writable` and `readonly` only on a
/// read-only mount.
fn bind_recursive(v: &xcompose_loader::model::ServiceVolume) -> Result<Recursive, StackError> {
    let text = v.bind.as_ref().map(|b| b.recursive.as_str()).unwrap_or_default();
    let invalid = |reason: &str| StackError::Invalid(format!("volume {}: bind recursive {text:?} {reason}", v.target));
    let recursive = match text {
        "" | "enabled" => Recursive::Enabled,
        "disabled" => Recursive::Disabled,
        "writable" => Recursive::Writable,
        "readonly" => Recursive::Readonly,
        _ => return Err(invalid("is not one of enabled, disabled, writable, readonly")),
    };
    if matches!(recursive, Recursive::Writable | Recursive::Readonly) && !v.read_only {
        return Err(invalid("needs a read-only mount: add read_only: true (or :ro)"));
    }
    Ok(recursive)
}

/// A bind mount's `bind.propagation` (Docker's default: rprivate), refused as Docker refuses it
/// when `source`'s mount cannot give it.
fn bind_propagation(v: &xcompose_loader::model::ServiceVolume, source: &Path) -> Result<Propagation, StackError> {
    let text = v.bind.as_ref().map(|b| b.propagation.as_str()).filter(|p| !p.is_empty()).unwrap_or("rprivate");
    let invalid = |reason: String| StackError::Invalid(format!("volume {}: bind propagation {text:?} {reason}", v.target));
    let propagation = Propagation::parse(text).ok_or_else(|| invalid("is not one of private, rprivate, shared, rshared, slave, rslave".into()))?;
    xcompose_container::check_propagation_source(source, propagation).map_err(|e| invalid(format!("cannot be set: {e}; make the source's mount shared (mount --make-rshared) or use rprivate")))?;
    Ok(propagation)
}

/// The names `service`'s `links` and `external_links` give its containers (`db:database`:
/// `database` stands for `db`), in lower case as the resolver compares them. As with Docker on
/// user-defined networks, they resolve by DNS in the linking container only, to the linked
/// container's addresses on the networks they share.
fn link_aliases(service: &Service) -> BTreeMap<String, String> {
    service
        .links
        .iter()
        .chain(&service.external_links)
        .filter_map(|link| link.split_once(':'))
        .map(|(target, alias)| (alias.to_ascii_lowercase(), target.to_string()))
        .collect()
}

/// A container's /etc/hosts as Docker writes it: `base`, then the `extra_hosts` entries
/// (`name:ip` or `name=ip`), then the container's own address under its
/// `hostname.domainname` and `hostname` when it has one (a line per address: IPv4, IPv6).
fn hosts_file(base: &str, extra_hosts: &[String], own: Option<(&[IpAddr], &str, &str)>) -> String {
    let mut hosts = base.to_string();
    if !hosts.is_empty() && !hosts.ends_with('\n') {
        hosts.push('\n');
    }
    for entry in extra_hosts {
        if let Some((host, ip)) = entry.split_once([':', '=']) {
            let _ = writeln!(hosts, "{}\t{host}", ip.trim_matches(['[', ']']));
        }
    }
    if let Some((addresses, hostname, domainname)) = own {
        for address in addresses {
            if domainname.is_empty() {
                let _ = writeln!(hosts, "{address}\t{hostname}");
            } else {
                let _ = writeln!(hosts, "{address}\t{hostname}.{domainname} {hostname}");
            }
        }
    }
    hosts
}
