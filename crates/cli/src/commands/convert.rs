//! `xcompose convert`: compose's alias of `config` (`--format yaml|json`), and with `--format
//! kubernetes` the project as Kubernetes manifests (crates/convert), like kompose and Compose
//! Bridge. What does not map is printed as one warning per key on stderr, and every name that
//! had to change as `renamed`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use xcompose_convert::kube::{self, ServiceType};
use xcompose_convert::yaml;
use xcompose_loader::Project;

use super::config::{self, ConfigArgs};
use crate::Cli;

/// What `convert` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// The compose file, as `config` prints it (compose's `convert` is `config`).
    Yaml,
    /// The compose file as JSON, as `config --format json`.
    Json,
    /// Kubernetes manifests.
    Kubernetes,
}

/// How `--service-type` names the Service types.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ServiceTypeArg {
    /// Published ports stay inside the cluster (ClusterIP Services only).
    Clusterip,
    /// Published ports on a `<service>-published` NodePort Service.
    Nodeport,
    /// Published ports on a `<service>-published` LoadBalancer Service.
    Loadbalancer,
}

/// Flags of `convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Services to render (default: all).
    pub services: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ConvertFormat,
    /// Where to write: a directory (one file per object, as kompose), or `-` for stdout (the default).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Kubernetes: write a Kustomize base and overlay into the -o directory (as Compose Bridge).
    #[arg(long)]
    pub kustomize: bool,
    /// Kubernetes: the Service type for published ports.
    #[arg(long, value_enum, default_value = "clusterip")]
    pub service_type: ServiceTypeArg,
    /// Kubernetes: services with named volumes become StatefulSets.
    #[arg(long)]
    pub statefulset: bool,
}

/// Runs `convert`.
pub fn run(cli: &Cli, args: &ConvertArgs) -> Result<ExitCode> {
    let format = match args.format {
        ConvertFormat::Kubernetes => return kubernetes(cli, args),
        ConvertFormat::Yaml => config::Format::Yaml,
        ConvertFormat::Json => config::Format::Json,
    };
    if args.kustomize || args.statefulset {
        bail!("--kustomize and --statefulset are options of --format kubernetes");
    }
    let config_args = ConfigArgs {
        services: args.services.clone(),
        format: Some(format),
        quiet: false,
        list_services: false,
        list_volumes: false,
        list_networks: false,
        list_profiles: false,
        list_images: false,
        hash: None,
        no_interpolate: false,
        environment: false,
        variables: false,
        no_env_resolution: false,
        no_consistency: false,
        no_path_resolution: false,
        no_normalize: false,
        output: args.output.clone().filter(|o| o != Path::new("-")),
    };
    config::run(cli, &config_args)
}

fn kubernetes(cli: &Cli, args: &ConvertArgs) -> Result<ExitCode> {
    let mut opts = cli.project_options();
    opts.services = args.services.clone();
    opts.prune_unused = true;
    opts.resolve_env_files = true;
    let project = xcompose_loader::load(&opts)?;
    let environment = xcompose_loader::options::resolve(&opts)?.environment;
    let options = kube::Options {
        service_type: match args.service_type {
            ServiceTypeArg::Clusterip => ServiceType::ClusterIp,
            ServiceTypeArg::Nodeport => ServiceType::NodePort,
            ServiceTypeArg::Loadbalancer => ServiceType::LoadBalancer,
        },
        statefulset: args.statefulset,
        contents: contents(&project, &environment),
    };
    let directory = args.output.as_ref().filter(|o| *o != Path::new("-"));
    if args.kustomize && directory.is_none() {
        bail!("--kustomize writes a directory: give it with -o DIR");
    }
    let conversion = kube::convert(&project, &options);
    let files: Vec<(String, String)> = if args.kustomize {
        kube::kustomize(&conversion, &project.name)
    } else {
        conversion.objects.iter().map(|o| (kube::file_name(o), yaml::document(o))).collect()
    };
    match directory {
        Some(dir) => write_files(dir, &files)?,
        None => {
            let mut out = std::io::stdout().lock();
            for (_, text) in &files {
                out.write_all(text.as_bytes())?;
            }
        }
    }
    let mut err = std::io::stderr().lock();
    for (kind, from, to) in &conversion.renamed {
        writeln!(err, "renamed {kind} {from} -> {to} (Kubernetes names are RFC 1035 labels)")?;
    }
    for warning in &conversion.warnings {
        writeln!(err, "WARN {warning}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The content of every secret and config from a file or an environment variable (the
/// project's environment, `.env` included), by `secrets.NAME` / `configs.NAME`. One that
/// cannot be read is left out: the conversion warns about it.
pub fn contents(project: &Project, environment: &indexmap::IndexMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (kind, table) in [("secrets", &project.secrets), ("configs", &project.configs)] {
        for (name, object) in table {
            let content = if !object.file.is_empty() {
                std::fs::read(&object.file).ok()
            } else if !object.environment.is_empty() {
                environment.get(&object.environment).map(|v| v.clone().into_bytes())
            } else {
                None
            };
            if let Some(content) = content {
                out.insert(format!("{kind}.{name}"), content);
            }
        }
    }
    out
}

/// Writes `files` under `dir`, creating it and the subdirectories.
fn write_files(dir: &Path, files: &[(String, String)]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("-o {}: not a directory; give a directory for the manifests, or - for stdout", dir.display());
    }
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
