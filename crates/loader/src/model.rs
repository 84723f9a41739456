//! The typed project model: what a compose project means once loaded.
//!
//! Field order and emptiness rules follow Docker Compose's own model, because `config --format json`
//! and the config hash (which decides whether a container is recreated) are computed from its JSON
//! form and must be identical to compose's.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::units::{Bytes, Duration, FileMode, Float32, Int};

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(i: &i64) -> bool {
    *i == 0
}
fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A string-to-string map printed sorted (labels, sysctls, driver options).
pub type Labels = BTreeMap<String, String>;
/// Environment: a variable may be declared without a value (`null`), to be taken from the host.
pub type Environment = BTreeMap<String, Option<String>>;

/// A whole project after loading: the input of every other xcompose command.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Project {
    /// Normalised project name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Networks by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    /// Services by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Volumes by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    /// Secrets by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    /// Configs by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
    /// Models by key (AI model runner resources), kept as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Value>,
    /// Top-level `x-*` extensions.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

impl Project {
    /// Service names with every service after the services it depends on (ties in name order).
    pub fn services_in_dependency_order(&self) -> Vec<String> {
        fn visit<'a>(name: &'a str, project: &'a Project, seen: &mut BTreeSet<&'a str>, order: &mut Vec<String>) {
            if !seen.insert(name) {
                return;
            }
            let Some(service) = project.services.get(name) else { return };
            for dep in service.depends_on.keys() {
                visit(dep, project, seen, order);
            }
            order.push(name.to_string());
        }
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        for name in self.services.keys() {
            visit(name, self, &mut seen, &mut order);
        }
        order
    }
}

/// One service definition.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub develop: Option<Develop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Float32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_period: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_runtime: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Float32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpuset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<Int>,
    /// `null` when not set (compose never omits it).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileReference>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// `null` when not set (compose never omits it).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: Environment,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<EnvFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_file: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_swappiness: Option<Bytes>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<Int>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<Int>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pull_policy: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restart: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Bytes>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: Labels,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub use_api_socket: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uts: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub volume_driver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<Value>,
    /// `x-*` keys of the service: kept, never printed (as compose).
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

impl Service {
    /// How many containers the service wants: `scale`, else `deploy.replicas`, else 1.
    pub fn replicas(&self) -> i64 {
        self.scale.or_else(|| self.deploy.as_ref().and_then(|d| d.replicas)).unwrap_or(1)
    }
}

/// An `env_file` entry. Compose prints a required file as its bare path, an optional one as
/// `{path, required: false}` (this matters for the config hash).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EnvFile {
    /// Absolute path of the file.
    pub path: String,
    /// Whether a missing file is an error.
    #[serde(default = "yes")]
    pub required: bool,
    /// `raw` to read values literally (no interpolation, no quotes processing).
    #[serde(default)]
    pub format: Option<String>,
}

fn yes() -> bool {
    true
}

impl Serialize for EnvFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.required {
            return s.serialize_str(&self.path);
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("required", &false)?;
        m.end()
    }
}

/// `develop` section (file watching).
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Develop {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// One `develop.watch` rule.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchRule {
    pub path: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(default)]
    pub exec: Hook,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial_sync: bool,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A command run inside a container (`develop.watch.exec`, `post_start`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: Environment,
}

/// A `depends_on` entry.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub restart: bool,
    #[serde(default)]
    pub required: bool,
}

/// `deploy` section.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<Value>,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(default = "empty_object")]
    pub placement: Value,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint_mode: String,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// `deploy.resources`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resource>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A resource limit or reservation.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Float32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Int>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<Value>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// `deploy.restart_policy`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartPolicy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// `healthcheck` section.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable: bool,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// `logging` section.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Logging {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: Labels,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A service's attachment to a network.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceNetwork {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Labels,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gw_priority: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i64,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A published or exposed port, long form.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Port {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    pub target: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_protocol: String,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A mount in a service, long form.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceVolume {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// Options of a bind mount.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BindOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selinux: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_host_path: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recursive: String,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// Options of a named-volume mount.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeOptions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nocopy: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// Options of a tmpfs mount.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TmpfsOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A service's use of a secret or config.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A ulimit: one value for soft and hard, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ulimit {
    /// `nproc: 65535`
    Single(Int),
    /// `nofile: {soft: 1, hard: 2}`
    Range {
        /// Soft limit.
        #[serde(default)]
        soft: Int,
        /// Hard limit.
        #[serde(default)]
        hard: Int,
    },
}

/// A top-level network.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Labels,
    #[serde(default)]
    pub ipam: Ipam,
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attachable: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// IP address management of a network.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ipam {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// One subnet of a network.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpamPool {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: Labels,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A top-level volume.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Labels,
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}

/// A top-level secret or config.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: Labels,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template_driver: String,
    /// The value of the variable `environment` names, from the project's environment (the
    /// process's and `.env`'s), when it is set: what the secret or config holds. Never printed.
    #[serde(skip)]
    pub environment_value: Option<String>,
    #[serde(flatten, skip_serializing)]
    pub extensions: BTreeMap<String, Value>,
}
