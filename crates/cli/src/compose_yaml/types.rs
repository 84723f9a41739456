//! compose-go's types as yaml.v3 marshals them: each struct's fields in their declaration order
//! (the order of `config`'s YAML), what each field holds, and the fields whose YAML tag omits a
//! value the JSON keeps (`command: null`, `ipam: {}`). Maps are written with sorted keys, and a
//! struct's `x-*` extensions after its fields.

/// What a JSON value stands for in compose-go's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A scalar, a list of scalars or a map of scalars: nothing to reorder.
    Any,
    /// A struct.
    Struct(Kind),
    /// A map whose values are structs.
    Map(Kind),
    /// A list whose items are structs.
    List(Kind),
}

/// compose-go's structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Project`.
    Project,
    /// `ServiceConfig`.
    Service,
    /// `BuildConfig`.
    Build,
    /// `DevelopConfig`.
    Develop,
    /// `Trigger`.
    Trigger,
    /// `ServiceHook`.
    Hook,
    /// `BlkioConfig`.
    Blkio,
    /// `WeightDevice`.
    WeightDevice,
    /// `ThrottleDevice`.
    Throttle,
    /// `FileReferenceConfig`.
    FileReference,
    /// `CredentialSpecConfig`.
    CredentialSpec,
    /// `ServiceDependency`.
    DependsOn,
    /// `DeployConfig`.
    Deploy,
    /// `UpdateConfig`.
    UpdateConfig,
    /// `Resources`.
    Resources,
    /// `Resource`.
    Resource,
    /// `DeviceRequest`.
    DeviceRequest,
    /// `GenericResource`.
    GenericResource,
    /// `DiscreteGenericResource`.
    DiscreteResource,
    /// `RestartPolicy`.
    RestartPolicy,
    /// `Placement`.
    Placement,
    /// `DeviceMapping`.
    Device,
    /// `EnvFile`.
    EnvFile,
    /// `ExtendsConfig`.
    Extends,
    /// `HealthCheckConfig`.
    Healthcheck,
    /// `LoggingConfig`.
    Logging,
    /// `ServiceNetworkConfig`.
    ServiceNetwork,
    /// `ServicePortConfig`.
    Port,
    /// `UlimitsConfig`.
    Ulimit,
    /// `ServiceVolumeConfig`.
    ServiceVolume,
    /// `ServiceVolumeBind`.
    BindOptions,
    /// `ServiceVolumeVolume`.
    VolumeOptions,
    /// `ServiceVolumeTmpfs`.
    TmpfsOptions,
    /// `ServiceVolumeImage`.
    ImageOptions,
    /// `ServiceProviderConfig`.
    Provider,
    /// `ServiceModelConfig`.
    ServiceModel,
    /// `NetworkConfig`.
    Network,
    /// `IPAMConfig`.
    Ipam,
    /// `IPAMPool`.
    IpamPool,
    /// `VolumeConfig`.
    Volume,
    /// `FileObjectConfig (secrets, configs)`.
    FileObject,
    /// `ModelConfig`.
    Model,
}

use Kind::*;
use Ty::{Any, List, Map, Struct};

/// A struct's fields, in declaration order, with what each holds.
pub fn fields(kind: Kind) -> &'static [(&'static str, Ty)] {
    match kind {
        Project => &[
            ("name", Any),
            ("services", Map(Service)),
            ("networks", Map(Network)),
            ("volumes", Map(Volume)),
            ("secrets", Map(FileObject)),
            ("configs", Map(FileObject)),
            ("models", Map(Model)),
        ],
        Service => &[
            ("name", Any),
            ("profiles", Any),
            ("annotations", Any),
            ("attach", Any),
            ("build", Struct(Build)),
            ("develop", Struct(Develop)),
            ("blkio_config", Struct(Blkio)),
            ("cap_add", Any),
            ("cap_drop", Any),
            ("cgroup_parent", Any),
            ("cgroup", Any),
            ("cpu_count", Any),
            ("cpu_percent", Any),
            ("cpu_period", Any),
            ("cpu_quota", Any),
            ("cpu_rt_period", Any),
            ("cpu_rt_runtime", Any),
            ("cpus", Any),
            ("cpuset", Any),
            ("cpu_shares", Any),
            ("command", Any),
            ("configs", List(FileReference)),
            ("container_name", Any),
            ("credential_spec", Struct(CredentialSpec)),
            ("depends_on", Map(DependsOn)),
            ("deploy", Struct(Deploy)),
            ("device_cgroup_rules", Any),
            ("devices", List(Device)),
            ("dns", Any),
            ("dns_opt", Any),
            ("dns_search", Any),
            ("dockerfile", Any),
            ("domainname", Any),
            ("entrypoint", Any),
            ("provider", Struct(Provider)),
            ("environment", Any),
            ("env_file", List(EnvFile)),
            ("expose", Any),
            ("extends", Struct(Extends)),
            ("external_links", Any),
            ("extra_hosts", Any),
            ("group_add", Any),
            ("gpus", List(DeviceRequest)),
            ("hostname", Any),
            ("healthcheck", Struct(Healthcheck)),
            ("image", Any),
            ("init", Any),
            ("ipc", Any),
            ("isolation", Any),
            ("labels", Any),
            ("label_file", Any),
            ("links", Any),
            ("logging", Struct(Logging)),
            ("log_driver", Any),
            ("log_opt", Any),
            ("mem_limit", Any),
            ("mem_reservation", Any),
            ("memswap_limit", Any),
            ("mem_swappiness", Any),
            ("mac_address", Any),
            ("models", Map(ServiceModel)),
            ("net", Any),
            ("network_mode", Any),
            ("networks", Map(ServiceNetwork)),
            ("oom_kill_disable", Any),
            ("oom_score_adj", Any),
            ("pid", Any),
            ("pids_limit", Any),
            ("platform", Any),
            ("ports", List(Port)),
            ("privileged", Any),
            ("pull_policy", Any),
            ("read_only", Any),
            ("restart", Any),
            ("runtime", Any),
            ("scale", Any),
            ("secrets", List(FileReference)),
            ("security_opt", Any),
            ("shm_size", Any),
            ("stdin_open", Any),
            ("stop_grace_period", Any),
            ("stop_signal", Any),
            ("storage_opt", Any),
            ("sysctls", Any),
            ("tmpfs", Any),
            ("tty", Any),
            ("ulimits", Map(Ulimit)),
            ("use_api_socket", Any),
            ("user", Any),
            ("userns_mode", Any),
            ("uts", Any),
            ("volume_driver", Any),
            ("volumes", List(ServiceVolume)),
            ("volumes_from", Any),
            ("working_dir", Any),
            ("post_start", List(Hook)),
            ("pre_stop", List(Hook)),
        ],
        Build => &[
            ("context", Any),
            ("dockerfile", Any),
            ("dockerfile_inline", Any),
            ("entitlements", Any),
            ("args", Any),
            ("provenance", Any),
            ("sbom", Any),
            ("ssh", Any),
            ("labels", Any),
            ("cache_from", Any),
            ("cache_to", Any),
            ("no_cache", Any),
            ("no_cache_filter", Any),
            ("additional_contexts", Any),
            ("pull", Any),
            ("extra_hosts", Any),
            ("isolation", Any),
            ("network", Any),
            ("target", Any),
            ("secrets", List(FileReference)),
            ("shm_size", Any),
            ("tags", Any),
            ("ulimits", Map(Ulimit)),
            ("platforms", Any),
            ("privileged", Any),
        ],
        Develop => &[("watch", List(Trigger))],
        Trigger => &[
            ("path", Any),
            ("action", Any),
            ("target", Any),
            ("exec", Struct(Hook)),
            ("include", Any),
            ("ignore", Any),
            ("initial_sync", Any),
        ],
        Hook => &[("command", Any), ("user", Any), ("privileged", Any), ("working_dir", Any), ("environment", Any)],
        Blkio => &[
            ("weight", Any),
            ("weight_device", List(WeightDevice)),
            ("device_read_bps", List(Throttle)),
            ("device_read_iops", List(Throttle)),
            ("device_write_bps", List(Throttle)),
            ("device_write_iops", List(Throttle)),
        ],
        WeightDevice => &[("path", Any), ("weight", Any)],
        Throttle => &[("path", Any), ("rate", Any)],
        FileReference => &[("source", Any), ("target", Any), ("uid", Any), ("gid", Any), ("mode", Any)],
        CredentialSpec => &[("config", Any), ("file", Any), ("registry", Any)],
        DependsOn => &[("condition", Any), ("restart", Any), ("required", Any)],
        Deploy => &[
            ("mode", Any),
            ("replicas", Any),
            ("labels", Any),
            ("update_config", Struct(UpdateConfig)),
            ("rollback_config", Struct(UpdateConfig)),
            ("resources", Struct(Resources)),
            ("restart_policy", Struct(RestartPolicy)),
            ("placement", Struct(Placement)),
            ("endpoint_mode", Any),
        ],
        UpdateConfig => &[
            ("parallelism", Any),
            ("delay", Any),
            ("failure_action", Any),
            ("monitor", Any),
            ("max_failure_ratio", Any),
            ("order", Any),
        ],
        Resources => &[("limits", Struct(Resource)), ("reservations", Struct(Resource))],
        Resource => &[
            ("cpus", Any),
            ("memory", Any),
            ("pids", Any),
            ("devices", List(DeviceRequest)),
            ("generic_resources", List(GenericResource)),
        ],
        DeviceRequest => &[("capabilities", Any), ("driver", Any), ("count", Any), ("device_ids", Any), ("options", Any)],
        GenericResource => &[("discrete_resource_spec", Struct(DiscreteResource))],
        DiscreteResource => &[("kind", Any), ("value", Any)],
        RestartPolicy => &[("condition", Any), ("delay", Any), ("max_attempts", Any), ("window", Any)],
        Placement => &[("constraints", Any), ("preferences", Any), ("max_replicas_per_node", Any)],
        Device => &[("source", Any), ("target", Any), ("permissions", Any)],
        EnvFile => &[("path", Any), ("required", Any), ("format", Any)],
        Extends => &[("service", Any), ("file", Any)],
        Healthcheck => &[
            ("test", Any),
            ("timeout", Any),
            ("interval", Any),
            ("retries", Any),
            ("start_period", Any),
            ("start_interval", Any),
            ("disable", Any),
        ],
        Logging => &[("driver", Any), ("options", Any)],
        ServiceNetwork => &[
            ("aliases", Any),
            ("driver_opts", Any),
            ("gw_priority", Any),
            ("interface_name", Any),
            ("ipv4_address", Any),
            ("ipv6_address", Any),
            ("link_local_ips", Any),
            ("mac_address", Any),
            ("priority", Any),
        ],
        Port => &[
            ("name", Any),
            ("mode", Any),
            ("host_ip", Any),
            ("target", Any),
            ("published", Any),
            ("protocol", Any),
            ("app_protocol", Any),
        ],
        Ulimit => &[("soft", Any), ("hard", Any)],
        ServiceVolume => &[
            ("type", Any),
            ("source", Any),
            ("target", Any),
            ("read_only", Any),
            ("consistency", Any),
            ("bind", Struct(BindOptions)),
            ("volume", Struct(VolumeOptions)),
            ("tmpfs", Struct(TmpfsOptions)),
            ("image", Struct(ImageOptions)),
        ],
        BindOptions => &[("selinux", Any), ("propagation", Any), ("create_host_path", Any), ("recursive", Any)],
        VolumeOptions => &[("labels", Any), ("nocopy", Any), ("subpath", Any)],
        TmpfsOptions => &[("size", Any), ("mode", Any)],
        ImageOptions => &[("subpath", Any)],
        Provider => &[("type", Any), ("options", Any)],
        ServiceModel => &[("endpoint_var", Any), ("model_var", Any)],
        Network => &[
            ("name", Any),
            ("driver", Any),
            ("driver_opts", Any),
            ("ipam", Struct(Ipam)),
            ("external", Any),
            ("internal", Any),
            ("attachable", Any),
            ("labels", Any),
            ("enable_ipv4", Any),
            ("enable_ipv6", Any),
        ],
        Ipam => &[("driver", Any), ("config", List(IpamPool)), ("options", Any)],
        IpamPool => &[("subnet", Any), ("gateway", Any), ("ip_range", Any), ("aux_addresses", Any)],
        Volume => &[("name", Any), ("driver", Any), ("driver_opts", Any), ("external", Any), ("labels", Any)],
        FileObject => &[
            ("name", Any),
            ("file", Any),
            ("environment", Any),
            ("content", Any),
            ("external", Any),
            ("labels", Any),
            ("driver", Any),
            ("driver_opts", Any),
            ("template_driver", Any),
        ],
        Model => &[("name", Any), ("model", Any), ("context_size", Any), ("runtime_flags", Any)],
    }
}

/// Whether field `field` of `kind` is left out of the YAML when it holds `value`: fields whose
/// JSON tag keeps an empty value that their YAML tag's `omitempty` drops (`command: null`,
/// `entrypoint: null`), and struct values (not pointers) yaml.v3 drops when all their fields are
/// empty (`ipam: {}`, `placement: {}`, a watch rule's `exec: {command: null}`).
pub fn omitted(kind: Kind, field: &str, value: &serde_json::Value) -> bool {
    matches!(
        (kind, field),
        (Service, "command" | "entrypoint") | (Network, "ipam") | (Deploy, "placement" | "resources") | (Trigger, "exec")
    ) && is_zero(value)
}

/// Go's zero value, as yaml.v3's `omitempty` sees it.
fn is_zero(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_zero),
    }
}
