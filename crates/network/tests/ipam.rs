//! IPAM: default pool against the routes of a sandbox, explicit configs, static addresses,
//! exhaustion, release and reuse, and concurrent allocation from threads and processes.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::process::Command;

use ipnet::Ipv4Net;
use xcompose_network::ipam::{Ipam, IpamError, Subnet, SubnetRequest};
use xcompose_testkit::Sandbox;

/// Environment variable that turns [`child_allocator`] from a no-op into a worker.
const CHILD_DIR: &str = "XCOMPOSE_NETWORK_TEST_IPAM_DIR";
/// Allocations each worker (thread or process) makes.
const PER_WORKER: usize = 20;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn addr(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn default_pool_skips_routes_of_the_namespace_and_taken_subnets() -> anyhow::Result<()> {
    let sb = Sandbox::new()?;
    sb.run_ok("ip", &["route", "add", "172.17.0.0/16", "dev", "lo"])?;
    sb.run_ok("ip", &["route", "add", "172.19.4.0/24", "dev", "lo"])?;
    let ipam = Ipam::open(sb.root().join("ipam"))?;
    let (first, second, again) = sb.in_net(|| -> Result<_, IpamError> {
        let first = ipam.create_network("first", &SubnetRequest::default())?;
        let second = ipam.create_network("second", &SubnetRequest::default())?;
        let again = ipam.create_network("first", &SubnetRequest::default())?;
        Ok((first, second, again))
    })??;
    assert_eq!(
        first,
        Subnet {
            subnet: net("172.18.0.0/16"),
            gateway: addr("172.18.0.1"),
            ip_range: None
        }
    );
    assert_eq!(
        second.subnet,
        net("172.20.0.0/16"),
        "skips 172.19/16 for its 172.19.4/24 route"
    );
    assert_eq!(
        again, first,
        "creating an existing network returns its subnet"
    );
    assert_eq!(ipam.subnet("second")?, second);
    // Freed subnets are handed out again.
    ipam.remove_network("first")?;
    let third = sb.in_net(|| ipam.create_network("third", &SubnetRequest::default()))??;
    assert_eq!(third.subnet, net("172.18.0.0/16"));
    Ok(())
}

#[test]
fn aux_addresses_are_never_handed_out_and_do_not_keep_the_network() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ipam = Ipam::open(dir.path())?;
    let request = SubnetRequest {
        subnet: Some(net("10.21.0.0/24")),
        aux_addresses: vec![("router".into(), addr("10.21.0.2")), ("printer".into(), addr("10.21.0.3"))],
        ..Default::default()
    };
    ipam.create_network("aux", &request)?;
    assert_eq!(ipam.allocate("aux", "a", None)?, net("10.21.0.4/24"));
    let taken = ipam.allocate("aux", "b", Some(addr("10.21.0.2"))).unwrap_err().to_string();
    assert!(taken.contains("already used by aux_addresses router"), "{taken}");
    ipam.release_owner("aux", "a")?;
    ipam.remove_network("aux")?;
    let outside = SubnetRequest { subnet: Some(net("10.22.0.0/24")), aux_addresses: vec![("x".into(), addr("10.23.0.2"))], ..Default::default() };
    let err = ipam.create_network("outside", &outside).unwrap_err().to_string();
    assert!(err.contains("address 10.23.0.2 is outside subnet 10.22.0.0/24"), "{err}");
    Ok(())
}

#[test]
fn explicit_config_static_addresses_exhaustion_and_reuse() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ipam = Ipam::open(dir.path())?;
    let request = SubnetRequest {
        subnet: Some(net("10.20.0.0/24")),
        gateway: Some(addr("10.20.0.254")),
        ip_range: Some(net("10.20.0.0/30")),
        aux_addresses: Vec::new(),
    };
    let subnet = ipam.create_network("explicit", &request)?;
    assert_eq!(subnet.gateway_net(), net("10.20.0.254/24"));
    assert_eq!(subnet.ip_range, Some(net("10.20.0.0/30")));

    // From the range, skipping the subnet's network address: .1, .2, .3, then nothing.
    let a = ipam.allocate("explicit", "a", None)?;
    let b = ipam.allocate("explicit", "b", None)?;
    let c = ipam.allocate("explicit", "c", None)?;
    assert_eq!(
        [a, b, c],
        [
            net("10.20.0.1/24"),
            net("10.20.0.2/24"),
            net("10.20.0.3/24")
        ]
    );
    let exhausted = ipam.allocate("explicit", "d", None).unwrap_err();
    assert!(
        matches!(exhausted, IpamError::AddressesExhausted { .. }),
        "{exhausted}"
    );
    assert!(
        exhausted.to_string().contains("remove unused containers"),
        "{exhausted}"
    );

    // Release and reuse: the lowest free address comes back.
    ipam.release("explicit", addr("10.20.0.2"))?;
    ipam.release("explicit", addr("10.20.0.2"))?;
    assert_eq!(ipam.allocate("explicit", "e", None)?, net("10.20.0.2/24"));

    // Static addresses: anywhere in the subnet, even outside the range; never reserved or taken.
    assert_eq!(
        ipam.allocate("explicit", "s", Some(addr("10.20.0.100")))?,
        net("10.20.0.100/24")
    );
    let taken = ipam
        .allocate("explicit", "t", Some(addr("10.20.0.100")))
        .unwrap_err();
    assert!(
        matches!(&taken, IpamError::AddressInUse { owner, .. } if owner == "s"),
        "{taken}"
    );
    for reserved in ["10.20.0.0", "10.20.0.255", "10.20.0.254"] {
        let error = ipam
            .allocate("explicit", "t", Some(addr(reserved)))
            .unwrap_err();
        assert!(
            matches!(error, IpamError::AddressReserved { .. }),
            "{reserved}: {error}"
        );
    }
    let outside = ipam
        .allocate("explicit", "t", Some(addr("10.21.0.5")))
        .unwrap_err();
    assert!(
        matches!(outside, IpamError::AddressOutsideSubnet { .. }),
        "{outside}"
    );

    // The state survives a new Ipam on the same directory.
    let reopened = Ipam::open(dir.path())?;
    assert_eq!(reopened.subnet("explicit")?, subnet);
    let in_use = reopened.remove_network("explicit").unwrap_err();
    assert!(
        matches!(in_use, IpamError::NetworkInUse { count: 4, .. }),
        "{in_use}"
    );
    for held in ["10.20.0.1", "10.20.0.2", "10.20.0.3", "10.20.0.100"] {
        reopened.release("explicit", addr(held))?;
    }
    reopened.remove_network("explicit")?;
    assert!(matches!(
        reopened.subnet("explicit"),
        Err(IpamError::UnknownNetwork(_))
    ));
    Ok(())
}

#[test]
fn explicit_configs_are_checked() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ipam = Ipam::open(dir.path())?;
    let subnet = |s: &str| SubnetRequest {
        subnet: Some(net(s)),
        ..Default::default()
    };
    let first = ipam.create_network("one", &subnet("10.30.0.0/16"))?;
    assert_eq!(first.gateway, addr("10.30.0.1"));
    let overlap = ipam
        .create_network("two", &subnet("10.30.5.0/24"))
        .unwrap_err();
    assert!(
        matches!(&overlap, IpamError::SubnetOverlap { network, .. } if network == "one"),
        "{overlap}"
    );
    let changed = ipam
        .create_network("one", &subnet("10.31.0.0/16"))
        .unwrap_err();
    assert!(
        matches!(changed, IpamError::SubnetChanged { .. }),
        "{changed}"
    );
    let small = ipam
        .create_network("two", &subnet("10.40.0.0/31"))
        .unwrap_err();
    assert!(matches!(small, IpamError::SubnetTooSmall(_)), "{small}");
    let gateway = SubnetRequest {
        gateway: Some(addr("10.50.1.1")),
        ..subnet("10.50.0.0/24")
    };
    let error = ipam.create_network("two", &gateway).unwrap_err();
    assert!(
        matches!(error, IpamError::GatewayOutsideSubnet { .. }),
        "{error}"
    );
    let range = SubnetRequest {
        ip_range: Some(net("10.50.0.0/23")),
        ..subnet("10.50.0.0/24")
    };
    let error = ipam.create_network("two", &range).unwrap_err();
    assert!(
        matches!(error, IpamError::RangeOutsideSubnet { .. }),
        "{error}"
    );
    let no_subnet = SubnetRequest {
        gateway: Some(addr("10.50.0.1")),
        ..Default::default()
    };
    let error = ipam.create_network("two", &no_subnet).unwrap_err();
    assert!(matches!(error, IpamError::MissingSubnet), "{error}");
    let error = ipam
        .create_network("../evil", &subnet("10.60.0.0/24"))
        .unwrap_err();
    assert!(matches!(error, IpamError::InvalidNetworkId(_)), "{error}");
    // Nothing but the one valid network was recorded.
    let files: Vec<_> = std::fs::read_dir(dir.path())?
        .map(|e| e.map(|e| e.file_name().into_string().unwrap()))
        .collect::<Result<_, _>>()?;
    let mut files: Vec<_> = files.into_iter().filter(|f| !f.starts_with('.')).collect();
    files.sort();
    assert_eq!(files, ["one.json"]);
    Ok(())
}

/// Allocates [`PER_WORKER`] addresses on network "shared" of the IPAM directory in `$CHILD_DIR`
/// and prints them, one a line. Does nothing without that variable: it is the worker process of
/// [`concurrent_threads_and_processes_never_collide`].
#[test]
fn child_allocator() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let ipam = Ipam::open(dir).unwrap();
    for i in 0..PER_WORKER {
        let address = ipam
            .allocate("shared", &format!("proc-{}-{i}", std::process::id()), None)
            .unwrap();
        println!("allocated {}", address.addr());
    }
}

#[test]
fn concurrent_threads_and_processes_never_collide() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    Ipam::open(dir.path())?.create_network(
        "shared",
        &SubnetRequest {
            subnet: Some(net("10.70.0.0/24")),
            ..Default::default()
        },
    )?;
    let exe = std::env::current_exe()?;
    // Started first and waited for last, so they run while the threads allocate.
    let processes: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_allocator",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<Vec<_>>();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let ipam = Ipam::open(dir).unwrap();
                (0..PER_WORKER)
                    .map(|i| {
                        ipam.allocate("shared", &format!("thread-{t}-{i}"), None)
                            .unwrap()
                            .addr()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<Ipv4Addr> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    for output in processes {
        let output = output?.wait_with_output()?;
        let stdout = String::from_utf8(output.stdout)?;
        assert!(
            output.status.success(),
            "worker failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mine: Vec<Ipv4Addr> = stdout
            .lines()
            .filter_map(|l| l.split_once("allocated ").map(|(_, a)| a))
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(mine.len(), PER_WORKER, "{stdout}");
        all.extend(mine);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 6 * PER_WORKER);
    assert_eq!(
        unique.len(),
        all.len(),
        "an address was handed out twice: {all:?}"
    );
    // Lowest-free allocation with no releases fills .2 ..= .121 exactly (.1 is the gateway).
    let expected: HashSet<Ipv4Addr> = (2..=121).map(|i| Ipv4Addr::new(10, 70, 0, i)).collect();
    assert_eq!(unique, expected.iter().collect());
    Ok(())
}
