//! Network keys of issue 12 end to end, each test in its own sandbox: IPv6 networks
//! (`enable_ipv6`, IPv6 ipam subnets, `ipv6_address`, published IPv6 ports, AAAA answers) and
//! Docker's default of no IPv6 on other networks; interface settings (`mac_address`,
//! `interface_name`, `link_local_ips`, `gw_priority`) and bridge `driver_opts`; and the settings
//! refused before anything is made; `links` and `external_links` aliases by DNS.

use std::path::Path;

use anyhow::Result;
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

const IPV6_STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["18091:80", "[fd99::1]:18092:80"]
    networks:
      v6:
        ipv6_address: fd00:db8:1::10
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [v6, plain]
  old:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [plain]
networks:
  v6:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 172.30.5.0/24
        - subnet: fd00:db8:1::/64
          gateway: fd00:db8:1::1
  plain: {}
"#;

/// `wget` of `url` from the sandbox (`peer` false) or from the peer, with a short timeout.
fn fetch(sb: &Sandbox, peer: bool, url: &str) -> Result<Option<String>> {
    let args = ["3", "busybox", "wget", "-q", "-O", "-", url];
    let out = if peer { sb.run_in_peer("timeout", &args)? } else { sb.run("timeout", &args)? };
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// Every rule and custom chain of every ip6tables table.
fn ip6tables_rules(sb: &Sandbox) -> Result<Vec<String>> {
    let saved = sb.run_ok("ip6tables-save", &[])?;
    Ok(saved.lines().filter(|l| l.starts_with("-A") || (l.starts_with(':') && l.contains(" - "))).map(str::to_string).collect())
}

/// `xcompose ...` in `dir` that must fail: its stderr.
fn fails(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    anyhow::ensure!(!out.status.success(), "xcompose {args:?} succeeded");
    Ok(String::from_utf8_lossy(&out.stderr).trim().to_string())
}

#[test]
fn ipv6_networks_addresses_ports_and_names() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    // The sandbox and its peer share an IPv6 LAN.
    sb.run_ok("ip", &["addr", "add", "fd99::1/64", "dev", sb.uplink_ifname(), "nodad"])?;
    sb.run_in_peer_ok("ip", &["addr", "add", "fd99::2/64", "dev", sb.peer_ifname(), "nodad"])?;
    let dir = project(&sb, "six", IPV6_STACK)?;
    let rules_before = ip6tables_rules(&sb)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let exec = |service: &str, command: &[&str]| -> Result<String> {
        let mut args = vec!["exec", "-T", service];
        args.extend_from_slice(command);
        xcompose(&sb, &dir, &args)
    };

    // The bridge holds the IPv6 gateway; web has its static address and the IPv6 default route.
    assert!(sb.run_ok("ip", &["-6", "addr"])?.contains("inet6 fd00:db8:1::1/64"), "the bridge's IPv6 gateway");
    let web_addr = exec("web", &["ip", "-6", "addr", "show", "dev", "eth0"])?;
    assert!(web_addr.contains("inet6 fd00:db8:1::10/64"), "{web_addr}");
    assert!(exec("web", &["ip", "-6", "route"])?.contains("default via fd00:db8:1::1 dev eth0"));
    // The first free address goes to the next container; IPv4 is there as well.
    let client_addr = exec("client", &["ip", "addr"])?;
    assert!(client_addr.contains("inet6 fd00:db8:1::2/64") && client_addr.contains("inet 172.30.5."), "{client_addr}");
    // As Docker: no IPv6 at all on an interface of a network without it (not even link-local).
    let old = exec("old", &["ip", "-6", "addr"])?;
    assert!(!old.contains("eth0") && !old.contains("fe80"), "IPv6 on an IPv4-only network: {old}");
    let hosts = exec("web", &["cat", "/etc/hosts"])?;
    assert!(hosts.lines().any(|l| l.starts_with("fd00:db8:1::10\t")), "{hosts}");

    // The resolver answers AAAA with the IPv6 address, A with the IPv4 one.
    let aaaa = exec("client", &["nslookup", "-type=AAAA", "web"])?;
    assert!(aaaa.contains("fd00:db8:1::10"), "{aaaa}");
    let a = exec("client", &["nslookup", "-type=A", "web"])?;
    assert!(a.contains("172.30.5.") && !a.contains("fd00:db8"), "{a}");

    // Containers reach each other over IPv6, and the LAN through the masquerade.
    let page = exec("client", &["timeout", "3", "wget", "-q", "-O", "-", "http://[fd00:db8:1::10]/index.html"])?;
    assert_eq!(page.trim(), "hello");
    let ping = exec("client", &["ping", "-6", "-c", "1", "-W", "2", "fd99::2"])?;
    assert!(ping.contains("1 packets received"), "{ping}");

    // "18091:80" is published on [::] too, "[fd99::1]:18092:80" on that address only; both answer
    // from the peer over IPv6, and IPv4 still answers.
    assert_eq!(fetch(&sb, true, "http://[fd99::1]:18091/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, true, "http://[fd99::1]:18092/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18091/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, true, &format!("http://{}:18092/index.html", sb.uplink_addr()))?, None, "an IPv6-only port answered on IPv4");
    let ps = xcompose(&sb, &dir, &["ps", "web"])?;
    assert!(ps.contains("0.0.0.0:18091->80/tcp, [::]:18091->80/tcp, [fd99::1]:18092->80/tcp"), "{ps}");

    xcompose(&sb, &dir, &["down"])?;
    assert_eq!(ip6tables_rules(&sb)?, rules_before, "ip6tables rules left after down");
    Ok(())
}

#[test]
fn network_settings_that_cannot_work_are_refused_before_anything_is_made() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let cases = [
        (
            "services:\n  web:\n    image: busybox:latest\n    ports: [\"[fd99::1]:18093:80\"]\n",
            "a port published on [fd99::1] needs the service's first network to have IPv6: set enable_ipv6: true",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    networks:\n      default:\n        ipv6_address: fd00::5\n",
            "ipv6_address fd00::5 on network default: the network has no IPv6; set enable_ipv6: true on it",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: fd00:5::/64\n",
            "ipam subnet \"fd00:5::/64\" is IPv6 but IPv6 is not enabled: add enable_ipv6: true to the network",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.gateway_mode_ipv4: routed\n",
            "network default: driver_opts com.docker.network.bridge.gateway_mode_ipv4 is not supported by xcompose's bridge driver",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver: overlay\n",
            "networks.default.driver \"overlay\" is not supported: only bridge networks are supported",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver: macvlan\n",
            "networks.default.driver \"macvlan\" is not supported: only bridge networks are supported",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    mac_address: \"02:42:zz:00:00:01\"\n",
            "network default: invalid mac_address \"02:42:zz:00:00:01\": six hexadecimal bytes",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    networks:\n      default:\n        interface_name: a-name-far-too-long\n",
            "network default: invalid interface_name \"a-name-far-too-long\": at most 15 characters",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    networks:\n      default:\n        driver_opts:\n          com.docker.network.endpoint.macaddress: x\n",
            "network default: driver_opts com.docker.network.endpoint.macaddress is not supported by xcompose's bridge driver",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    networks:\n      default:\n        driver_opts:\n          com.docker.network.endpoint.sysctls: net.ipv4.conf.eth0.forwarding=1\n",
            "unrecognised network interface sysctl 'net.ipv4.conf.eth0.forwarding=1'; represent the network interface in the name as 'IFNAME'",
        ),
        (
            // Docker's bridge driver refuses several pools of one family as well.
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: 172.30.8.0/24\n        - subnet: 172.30.9.0/24\n",
            "network default: ipam.config has more than one IPv4 or IPv6 subnet: bridge driver doesn't support multiple subnets",
        ),
        (
            // dockerd sets a volume's `size` only as an XFS project quota; there is none here.
            "services:\n  web:\n    image: busybox:latest\n    volumes: [\"plain:/plain\", \"sized:/sized\"]\nvolumes:\n  plain: {}\n  sized:\n    driver_opts: {size: 10G}\n",
            "create bad11_sized: quota size requested but no quota support",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: br-name-too-long\n",
            "network default: driver_opts com.docker.network.bridge.name: \"br-name-too-long\" is not a valid interface name: at most 15 characters",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: \"br:x\"\n",
            "network default: driver_opts com.docker.network.bridge.name: \"br:x\" is not a valid interface name",
        ),
        (
            // A link of the name that is not a bridge (made below).
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: taken0\n",
            "network default: driver_opts com.docker.network.bridge.name: interface taken0 exists but is not a bridge",
        ),
        (
            // A bridge xcompose did not make (made below): Docker would take it over; xcompose,
            // which deletes its bridges on down, refuses it.
            "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: hostbr0\n",
            "network default: driver_opts com.docker.network.bridge.name: bridge hostbr0 exists and was not made by xcompose",
        ),
        (
            "services:\n  web:\n    image: busybox:latest\n    networks: [a, b]\nnetworks:\n  a:\n    driver_opts:\n      com.docker.network.bridge.name: br-same\n  b:\n    driver_opts:\n      com.docker.network.bridge.name: br-same\n",
            "network a conflicts with network b: networks have same bridge name br-same",
        ),
    ];
    sb.run_ok("ip", &["link", "add", "taken0", "type", "veth", "peer", "name", "taken1"])?;
    sb.run_ok("ip", &["link", "add", "hostbr0", "type", "bridge"])?;
    for (i, (stack, message)) in cases.iter().enumerate() {
        let dir = project(&sb, &format!("bad{i}"), stack)?;
        let err = fails(&sb, &dir, &["up", "-d"])?;
        assert!(err.contains(message) && err.lines().count() == 1, "case {i}: {err}");
        assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "case {i}: a container was made");
        let links = sb.run_ok("ip", &["-o", "link"])?;
        assert!(!links.contains("xc-") && !links.contains("br-"), "case {i}: a bridge was made: {links}");
        assert_eq!(xcompose(&sb, &dir, &["volumes", "-q"])?.trim(), "", "case {i}: a volume was made");
    }
    Ok(())
}

const INTERFACES_STACK: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    mac_address: "02:42:c0:ff:ee:01"
    networks:
      back:
        link_local_ips: ["169.254.7.7"]
      front:
        mac_address: "02:42:c0:ff:ee:02"
        interface_name: front0
        gw_priority: 10
  b:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["18094:80"]
    networks: [back]
networks:
  front:
    ipam: {config: [{subnet: 172.30.6.0/24, aux_addresses: {router: 172.30.6.2}}]}
  back:
    driver_opts:
      com.docker.network.driver.mtu: "1400"
      com.docker.network.bridge.enable_ip_masquerade: "false"
      com.docker.network.bridge.host_binding_ipv4: "127.0.0.1"
    ipam: {config: [{subnet: 172.30.7.0/24}]}
"#;

const ENDPOINT_OPTS_STACK: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks:
      default:
        driver_opts:
          com.docker.network.endpoint.ifname: lan0
          com.docker.network.endpoint.sysctls: "net.ipv4.conf.IFNAME.log_martians=1,net.ipv4.conf.IFNAME.arp_ignore=2"
  b:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

#[test]
fn endpoint_driver_opts_name_the_interface_and_set_its_sysctls() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "epopts", ENDPOINT_OPTS_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let exec = |service: &str, command: &[&str]| -> Result<String> {
        let mut args = vec!["exec", "-T", service];
        args.extend_from_slice(command);
        xcompose(&sb, &dir, &args)
    };
    // The interface is lan0, not eth0, and works: a reaches b.
    let links = exec("a", &["ip", "-o", "link"])?;
    assert!(links.contains(": lan0@") && !links.contains("eth0"), "{links}");
    let ping = exec("a", &["ping", "-c", "1", "-W", "2", "b"])?;
    assert!(ping.contains("1 packets received"), "{ping}");
    // The sysctls are set on lan0 only; b's interface keeps the kernel's defaults.
    assert_eq!(exec("a", &["cat", "/proc/sys/net/ipv4/conf/lan0/log_martians"])?.trim(), "1");
    assert_eq!(exec("a", &["cat", "/proc/sys/net/ipv4/conf/lan0/arp_ignore"])?.trim(), "2");
    assert_eq!(exec("a", &["cat", "/proc/sys/net/ipv4/conf/lo/arp_ignore"])?.trim(), "0");
    assert_eq!(exec("b", &["cat", "/proc/sys/net/ipv4/conf/eth0/log_martians"])?.trim(), "0");
    // A restart sets them again on the new interface.
    xcompose(&sb, &dir, &["restart", "a"])?;
    assert_eq!(exec("a", &["cat", "/proc/sys/net/ipv4/conf/lan0/log_martians"])?.trim(), "1");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

#[test]
fn interface_settings_and_bridge_options_take_effect() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "ifs", INTERFACES_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let exec = |service: &str, command: &[&str]| -> Result<String> {
        let mut args = vec!["exec", "-T", service];
        args.extend_from_slice(command);
        xcompose(&sb, &dir, &args)
    };

    // back is attached first (eth0) and gets the service's mac_address, the network's MTU and
    // the link-local address; front is named front0, has its own MAC, the first address its
    // aux_addresses leave free and, by gw_priority, the default route.
    let eth0 = exec("a", &["ip", "addr", "show", "dev", "eth0"])?;
    assert!(eth0.contains("link/ether 02:42:c0:ff:ee:01") && eth0.contains("mtu 1400") && eth0.contains("inet 169.254.7.7/32"), "{eth0}");
    let front = exec("a", &["ip", "addr", "show", "dev", "front0"])?;
    assert!(front.contains("link/ether 02:42:c0:ff:ee:02") && front.contains("inet 172.30.6.3/24"), "{front}");
    let routes = exec("a", &["ip", "route"])?;
    assert!(routes.contains("default via 172.30.6.1 dev front0"), "{routes}");
    // The chosen MACs work: b answers a by name across back.
    assert_eq!(exec("a", &["timeout", "3", "wget", "-q", "-O", "-", "http://b/index.html"])?.trim(), "hi");

    // No masquerade out of back, one out of front.
    let nat = sb.run_ok("iptables-save", &["-t", "nat"])?;
    assert!(!nat.lines().any(|l| l.starts_with("-A XCOMPOSE-POSTROUTING -s 172.30.7.0/24 ! -o")), "{nat}");
    assert!(nat.lines().any(|l| l.starts_with("-A XCOMPOSE-POSTROUTING -s 172.30.6.0/24 ! -o")), "{nat}");
    // host_binding_ipv4: b's port without a host address is published on 127.0.0.1 only.
    assert!(xcompose(&sb, &dir, &["ps", "b"])?.contains("127.0.0.1:18094->80/tcp"));
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18094/index.html")?.as_deref(), Some("hi"));
    assert_eq!(fetch(&sb, true, &format!("http://{}:18094/index.html", sb.uplink_addr()))?, None, "published beyond host_binding_ipv4");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const LINKS_STACK: &str = r#"
services:
  db:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  fixed:
    image: busybox:latest
    init: true
    container_name: fixed-name
    command: ["sleep", "1000"]
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    links: ["db:database", "db"]
    external_links: ["fixed-name:ext"]
  other:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// The addresses `name` resolves to inside `service`'s container (none if it does not resolve).
fn resolve(sb: &Sandbox, dir: &Path, service: &str, name: &str) -> Result<Vec<String>> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service, "nslookup", "-type=A", name]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().skip_while(|l| !l.starts_with("Name:")).filter_map(|l| l.strip_prefix("Address:")).map(|a| a.trim().to_string()).collect())
}

#[test]
fn links_and_external_links_resolve_in_the_linking_container_only() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "links", LINKS_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let db = resolve(&sb, &dir, "web", "db")?;
    let fixed = resolve(&sb, &dir, "web", "fixed-name")?;
    assert_eq!(db.len(), 1, "{db:?}");
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_ne!(db, fixed);
    // The link's alias stands for db, the external link's for the fixed-name container.
    assert_eq!(resolve(&sb, &dir, "web", "database")?, db);
    assert_eq!(resolve(&sb, &dir, "web", "DATABASE.")?, db);
    assert_eq!(resolve(&sb, &dir, "web", "ext")?, fixed);
    // Another container does not know web's aliases.
    assert_eq!(resolve(&sb, &dir, "other", "database")?, Vec::<String>::new());
    assert_eq!(resolve(&sb, &dir, "other", "ext")?, Vec::<String>::new());
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

#[test]
fn a_volume_subpath_mounts_that_directory_and_must_exist_inside_the_volume() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let device = sb.temp_dir().join("device");
    std::fs::create_dir_all(device.join("sub"))?;
    std::fs::write(device.join("top"), "top\n")?;
    std::fs::write(device.join("sub/f"), "hi\n")?;
    let stack = |subpath: &str| {
        format!(
            "services:\n  s:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    volumes:\n      - type: volume\n        source: data\n        target: /mnt\n        volume: {{subpath: \"{subpath}\"}}\nvolumes:\n  data:\n    driver_opts: {{type: none, o: bind, device: \"{}\"}}\n",
            device.display()
        )
    };
    let dir = project(&sb, "sub", &stack("sub"))?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "s", "ls", "/mnt"])?.trim(), "f");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "s", "cat", "/mnt/f"])?.trim(), "hi");
    xcompose(&sb, &dir, &["down"])?;
    for (i, (subpath, message)) in [("missing", "subpath \"missing\" cannot be accessed"), ("../..", "subpath \"../..\" leads out of the volume"), ("/sub", "must be a relative path")].into_iter().enumerate() {
        let dir = project(&sb, &format!("badsub{i}"), &stack(subpath))?;
        let err = fails(&sb, &dir, &["up", "-d"])?;
        // After the progress lines, one line of error.
        assert!(err.lines().last().is_some_and(|l| l.contains(message)), "{subpath}: {err}");
        assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "{subpath}: a container was made");
    }
    Ok(())
}

#[test]
fn bind_recursive_decides_what_the_mounts_under_the_source_are() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    // A host directory with a tmpfs mounted under it.
    let host = sb.temp_dir().join("host");
    std::fs::create_dir_all(host.join("sub"))?;
    sb.run_ok("mount", &["-t", "tmpfs", "tmpfs", host.join("sub").to_str().unwrap()])?;
    sb.run_ok("sh", &["-c", &format!("echo inner > {}/sub/inner", host.display())])?;
    let bind = |target: &str, recursive: &str, read_only: bool| {
        format!("      - type: bind\n        source: {}\n        target: {target}\n        read_only: {read_only}\n        bind: {{recursive: {recursive}}}\n", host.display())
    };
    let stack = format!(
        "services:\n  s:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    volumes:\n{}{}{}{}",
        bind("/enabled", "enabled", true),
        bind("/disabled", "disabled", false),
        bind("/writable", "writable", true),
        bind("/readonly", "readonly", true)
    );
    let dir = project(&sb, "rec", &stack)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let sh = |script: &str| -> Result<bool> {
        Ok(sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "s", "sh", "-c", script]).output()?.status.success())
    };
    // enabled (Docker's default) and readonly: the tmpfs is there and read-only too.
    for at in ["/enabled", "/readonly"] {
        assert!(sh(&format!("grep -q inner {at}/sub/inner"))?, "{at}: submount not bound");
        assert!(!sh(&format!("touch {at}/sub/new"))?, "{at}: submount writable");
        assert!(!sh(&format!("touch {at}/new"))?, "{at}: mount writable");
    }
    // writable: the top is read-only, the tmpfs under it not.
    assert!(!sh("touch /writable/new")?);
    assert!(sh("touch /writable/sub/new")?, "writable: submount read-only");
    // disabled: the tmpfs is not bound, only the directory under it.
    assert!(!sh("test -e /disabled/sub/inner")?, "disabled: submount bound");
    assert!(sh("test -d /disabled/sub")?);
    xcompose(&sb, &dir, &["down"])?;

    // writable or readonly on a writable mount is refused, as by Docker.
    let bad = project(&sb, "badrec", &format!("services:\n  s:\n    image: busybox:latest\n    command: [\"true\"]\n    volumes:\n{}", bind("/w", "writable", false)))?;
    let err = fails(&sb, &bad, &["up", "-d"])?;
    assert!(err.lines().last().is_some_and(|l| l.contains("bind recursive \"writable\" needs a read-only mount")), "{err}");
    Ok(())
}

#[test]
fn bind_propagation_carries_mounts_made_after_the_start_as_docker_does() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let host = sb.temp_dir().join("host");
    std::fs::create_dir_all(host.join("later"))?;
    let bind = |target: &str, propagation: &str| format!("      - type: bind\n        source: {}\n        target: {target}\n        bind: {{propagation: {propagation}}}\n", host.display());
    let service = |name: &str, privileged: bool, binds: &str| format!("  {name}:\n    image: busybox:latest\n    init: true\n    privileged: {privileged}\n    command: [\"sleep\", \"1000\"]\n    volumes:\n{binds}");
    // writer after reader, so that reader's refusal is the one met.
    let stack = format!("services:\n{}{}    depends_on: [reader]\n", service("reader", false, &(bind("/slave", "rslave") + &bind("/private", "rprivate"))), service("writer", true, &bind("/shared", "rshared")));

    // On a private mount, a slave or shared bind is refused as Docker refuses it; nothing is made.
    let dir = project(&sb, "prop", &stack)?;
    let err = fails(&sb, &dir, &["up", "-d"])?;
    let expected = format!("path {} is mounted on ", host.display());
    assert!(err.lines().last().is_some_and(|l| l.contains(&expected) && l.contains("but it is not a shared or slave mount")), "{err}");
    assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "a container was made");

    // Made a shared mount, it is accepted.
    let host_text = host.to_str().unwrap();
    sb.run_ok("mount", &["--bind", host_text, host_text])?;
    sb.run_ok("mount", &["--make-shared", host_text])?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    // A tmpfs mounted on the host after the start reaches the rslave bind, not the rprivate one.
    sb.run_ok("mount", &["-t", "tmpfs", "tmpfs", host.join("later").to_str().unwrap()])?;
    sb.run_ok("sh", &["-c", &format!("echo after > {}/later/file", host.display())])?;
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "reader", "cat", "/slave/later/file"])?.trim(), "after");
    let private = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "reader", "test", "-e", "/private/later/file"]).output()?;
    assert!(!private.status.success(), "the rprivate bind saw the host's new mount");
    // A mount made inside the rshared bind reaches the host.
    xcompose(&sb, &dir, &["exec", "-T", "writer", "sh", "-c", "mkdir -p /shared/inner && mount -t tmpfs tmpfs /shared/inner && echo inside > /shared/inner/file"])?;
    assert_eq!(sb.run_ok("cat", &[host.join("inner/file").to_str().unwrap()])?.trim(), "inside");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const ICC_STACK: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["18095:80"]
    networks: [closed, open]
  b:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks:
      aa: {priority: 1}
      closed: {priority: 10}
      open: {priority: 5}
networks:
  closed:
    driver_opts:
      com.docker.network.bridge.enable_icc: "false"
    ipam: {config: [{subnet: 172.30.8.0/24}]}
  open:
    ipam: {config: [{subnet: 172.30.9.0/24}]}
  aa:
    ipam: {config: [{subnet: 172.30.10.0/24}]}
"#;

#[test]
fn enable_icc_false_isolates_containers_and_priority_orders_interfaces() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "icc", ICC_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let exec = |service: &str, command: &[&str]| -> Result<std::process::Output> {
        Ok(sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service]).args(command).output()?)
    };
    // Highest priority first: closed is eth0, open eth1, aa eth2 (by name aa would come first).
    for (interface, subnet) in [("eth0", "inet 172.30.8."), ("eth1", "inet 172.30.9."), ("eth2", "inet 172.30.10.")] {
        let shown = String::from_utf8_lossy(&exec("b", &["ip", "addr", "show", "dev", interface])?.stdout).to_string();
        assert!(shown.contains(subnet), "{interface}: {shown}");
    }
    // On closed (a's eth0), b does not reach a; on open (a's eth1) it does.
    let address = |dev: &str| -> Result<String> {
        let shown = String::from_utf8_lossy(&exec("a", &["ip", "-o", "-4", "addr", "show", "dev", dev])?.stdout).to_string();
        Ok(shown.split_whitespace().skip_while(|w| *w != "inet").nth(1).and_then(|a| a.split('/').next()).unwrap_or_default().to_string())
    };
    let (on_closed, on_open) = (address("eth0")?, address("eth1")?);
    assert!(on_closed.starts_with("172.30.8.") && on_open.starts_with("172.30.9."), "{on_closed} {on_open}");
    let closed = exec("b", &["timeout", "3", "wget", "-q", "-O", "-", &format!("http://{on_closed}/index.html")])?;
    assert!(!closed.status.success(), "a answered across a network without icc");
    let open = exec("b", &["timeout", "3", "wget", "-q", "-O", "-", &format!("http://{on_open}/index.html")])?;
    assert_eq!(String::from_utf8_lossy(&open.stdout).trim(), "hi", "{open:?}");
    // The gateway still answers.
    assert!(exec("b", &["ping", "-c", "1", "-W", "3", "172.30.8.1"])?.status.success(), "closed's gateway did not answer");
    // Published ports of a container on it still work.
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18095/index.html")?.as_deref(), Some("hi"));
    xcompose(&sb, &dir, &["down"])?;
    let filter = sb.run_ok("iptables-save", &["-t", "filter"])?;
    assert!(!filter.contains("XCOMPOSE"), "rules left after down: {filter}");
    Ok(())
}

const BRIDGE_NAME_STACK: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["18096:80"]
    networks:
      mine: {ipv4_address: 172.30.11.5}
  b:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [mine]
  c:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo c > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    networks:
      other: {ipv4_address: 172.30.12.5}
  d:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo d > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    networks:
      second: {ipv4_address: 172.30.13.5}
networks:
  mine:
    driver_opts:
      com.docker.network.bridge.name: br-custom
    ipam: {config: [{subnet: 172.30.11.0/24}]}
  other:
    ipam: {config: [{subnet: 172.30.12.0/24}]}
  second:
    driver_opts:
      com.docker.network.bridge.name: br-second
    ipam: {config: [{subnet: 172.30.13.0/24}]}
"#;

#[test]
fn bridge_name_names_the_bridge_which_stays_isolated_and_goes_with_down() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "brname", BRIDGE_NAME_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let get = |service: &str, url: &str| -> Result<Option<String>> {
        let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service, "timeout", "3", "wget", "-q", "-O", "-", url]).output()?;
        Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    };
    // The bridge has the option's name, the network's gateway and xcompose's group (0x7863).
    let shown = sb.run_ok("ip", &["-d", "addr", "show", "dev", "br-custom"])?;
    assert!(shown.contains("group 30819") && shown.contains("\n    bridge ") && shown.contains("inet 172.30.11.1/24"), "{shown}");
    // Its containers reach each other; its published port answers.
    assert_eq!(get("b", "http://a/index.html")?.as_deref(), Some("hi"));
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18096/index.html")?.as_deref(), Some("hi"));
    // Isolation both ways, from and to a network on an xc- bridge and one on another named bridge.
    assert_eq!(get("c", "http://172.30.11.5/index.html")?, None, "a network on an xc- bridge reached br-custom");
    assert_eq!(get("d", "http://172.30.11.5/index.html")?, None, "br-second reached br-custom");
    assert_eq!(get("a", "http://172.30.12.5/index.html")?, None, "br-custom reached an xc- bridge");
    assert_eq!(get("a", "http://172.30.13.5/index.html")?, None, "br-custom reached br-second");
    // Another project's network cannot take the bridge over.
    let other = project(&sb, "brname2", "services:\n  web:\n    image: busybox:latest\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: br-custom\n")?;
    let err = fails(&sb, &other, &["up", "-d"])?;
    // (After compose's "Creating" progress line for the network, as Docker's refusal comes.)
    assert!(err.lines().last().is_some_and(|l| l.starts_with("network brname2_default conflicts with network brname_mine (") && l.ends_with("networks have same bridge name br-custom; give one of them another com.docker.network.bridge.name")), "{err}");
    assert_eq!(xcompose(&sb, &other, &["ps", "-a", "-q"])?.trim(), "", "a container of the refused project was made");
    xcompose(&sb, &dir, &["down"])?;
    let links = sb.run_ok("ip", &["-o", "link"])?;
    assert!(!links.contains("br-custom") && !links.contains("br-second") && !links.contains("xc-"), "bridges left after down: {links}");
    let rules = sb.run_ok("iptables-save", &[])?;
    assert!(!rules.contains("br-custom") && !rules.contains("XCOMPOSE"), "rules left after down: {rules}");
    Ok(())
}

const VOLUME_OPTS_STACK: &str = r#"
services:
  s:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: ["scratch:/scratch", "shared:/shared"]
volumes:
  scratch:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=3m,uid=1000"}
  shared:
    driver_opts: {type: none, o: bind, device: ./data}
"#;

#[test]
fn volume_driver_opts_mount_a_tmpfs_while_used_and_bind_a_relative_device() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "vopts", VOLUME_OPTS_STACK)?;
    std::fs::create_dir_all(dir.join("data"))?;
    std::fs::write(dir.join("data/hello"), "from the host\n")?;
    let data = sb.root().join("volumes/vopts_scratch/_data");
    let mounted = || -> Result<bool> { Ok(sb.run_ok("cat", &["/proc/self/mountinfo"])?.lines().any(|l| l.split(' ').nth(4) == data.to_str())) };
    xcompose(&sb, &dir, &["up", "-d"])?;
    // The tmpfs: its size and owner as `o` says, mounted on the volume's directory while used.
    let df = xcompose(&sb, &dir, &["exec", "-T", "s", "df", "-k", "/scratch"])?;
    assert!(df.lines().nth(1).is_some_and(|l| l.split_whitespace().nth(1) == Some("3072")), "{df}");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "s", "stat", "-c", "%u", "/scratch"])?.trim(), "1000");
    assert!(mounted()?, "the tmpfs is not on {}", data.display());
    // The bind device, given relative to the project directory.
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "s", "cat", "/shared/hello"])?.trim(), "from the host");
    // `config` prints it as written, as compose v2.40.3 does.
    let config = xcompose(&sb, &dir, &["config"])?;
    assert!(config.contains("device: ./data"), "{config}");
    // No container left: unmounted, the volume kept; used again: mounted again.
    xcompose(&sb, &dir, &["down"])?;
    assert!(!mounted()?, "still mounted after down");
    assert!(xcompose(&sb, &dir, &["volumes", "-q"])?.contains("vopts_scratch"));
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert!(mounted()?, "not mounted again by up");
    // down -v: unmounted and gone; the bind device keeps its content.
    xcompose(&sb, &dir, &["down", "-v"])?;
    assert!(!mounted()?, "still mounted after down -v");
    assert!(!sb.root().join("volumes/vopts_scratch").exists());
    assert_eq!(std::fs::read_to_string(dir.join("data/hello"))?, "from the host\n");
    Ok(())
}

const LOOPBACK6_STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["[::1]:8080:80", "127.0.0.1:8081:80"]
"#;

/// The files of the userland proxies of the sandbox's state root.
fn proxy_files(sb: &Sandbox) -> Result<Vec<std::path::PathBuf>> {
    let Ok(entries) = std::fs::read_dir(sb.root().join("ports")) else { return Ok(Vec::new()) };
    Ok(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.to_string_lossy().contains(".proxy.")).collect())
}

/// The pid of the one userland proxy of the sandbox's state root.
fn proxy_pid(sb: &Sandbox) -> Result<Option<String>> {
    let pids: Vec<_> = proxy_files(sb)?.into_iter().filter(|p| p.extension().is_some_and(|x| x == "pid")).collect();
    Ok(pids.first().map(std::fs::read_to_string).transpose()?.map(|p| p.trim().to_string()))
}

#[test]
fn ports_on_ipv6_loopback_answer_through_a_userland_proxy_that_survives_kill_9() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "loop6", LOOPBACK6_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(fetch(&sb, false, "http://[::1]:8080/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:8081/index.html")?.as_deref(), Some("hello"));
    let ps = xcompose(&sb, &dir, &["ps", "web"])?;
    assert!(ps.contains("[::1]:8080->80/tcp") && ps.contains("127.0.0.1:8081->80/tcp"), "{ps}");

    // Killed, the proxy is started again by its keeper and answers again.
    let killed = proxy_pid(&sb)?.expect("a proxy runs");
    sb.run_ok("kill", &["-9", &killed])?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while proxy_pid(&sb)?.is_none_or(|p| p == killed) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_ne!(proxy_pid(&sb)?.as_deref(), Some(killed.as_str()), "no new proxy");
    assert_eq!(fetch(&sb, false, "http://[::1]:8080/index.html")?.as_deref(), Some("hello"), "after kill -9");

    // Stopped with the container, gone with down -v.
    xcompose(&sb, &dir, &["stop"])?;
    assert_eq!(fetch(&sb, false, "http://[::1]:8080/index.html")?, None, "answered while stopped");
    xcompose(&sb, &dir, &["start"])?;
    assert_eq!(fetch(&sb, false, "http://[::1]:8080/index.html")?.as_deref(), Some("hello"), "after start");
    xcompose(&sb, &dir, &["down", "-v"])?;
    assert_eq!(proxy_files(&sb)?, Vec::<std::path::PathBuf>::new(), "proxy files left");
    let left = std::process::Command::new("pgrep").args(["-a", "-f", &format!("__proxy (--serve )?{}", sb.root().display())]).output()?;
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "proxy processes left");
    Ok(())
}
