//! `xcompose config`: the loaded project, in compose's canonical form.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use xcompose_loader::{service_hash, Project};

use crate::Cli;

/// Output formats of `config`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// YAML (the default).
    Yaml,
    /// JSON, identical to `docker compose config --format json`.
    Json,
}

/// Flags of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Services to render (default: all).
    pub services: Vec<String>,
    /// Format the output.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Only validate the configuration, don't print anything.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line.
    #[arg(long = "services")]
    pub list_services: bool,
    /// Print the volume names, one per line.
    #[arg(long = "volumes")]
    pub list_volumes: bool,
    /// Print the network names, one per line (sorted; compose prints them in Go's random map
    /// order, whatever services are named).
    #[arg(long = "networks")]
    pub list_networks: bool,
    /// Print the profile names, one per line.
    #[arg(long = "profiles")]
    pub list_profiles: bool,
    /// Print the image names, one per line.
    #[arg(long = "images")]
    pub list_images: bool,
    /// Print the service config hash, one per line (`*` for all services, or a comma-separated list).
    #[arg(long)]
    pub hash: Option<String>,
    /// Don't interpolate environment variables.
    #[arg(long)]
    pub no_interpolate: bool,
    /// Print environment used for interpolation.
    #[arg(long)]
    pub environment: bool,
    /// Print model variables and default values.
    #[arg(long)]
    pub variables: bool,
    /// Don't resolve service env files (accepted: compose v2.40.3 prints the same with it, its
    /// env files read into `environment`).
    #[arg(long)]
    pub no_env_resolution: bool,
    /// Don't check model consistency - warning: may produce invalid Compose output.
    #[arg(long)]
    pub no_consistency: bool,
    /// Don't resolve file paths.
    #[arg(long)]
    pub no_path_resolution: bool,
    /// Don't normalize compose model.
    #[arg(long)]
    pub no_normalize: bool,
    /// Save to file (default: stdout).
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `config`.
pub fn run(cli: &Cli, args: &ConfigArgs) -> Result<ExitCode> {
    let mut opts = cli.project_options();
    opts.interpolate = !args.no_interpolate;
    opts.services = args.services.clone();
    opts.prune_unused = true;
    opts.skip_consistency = args.no_consistency;
    opts.keep_relative_paths = args.no_path_resolution;
    opts.skip_normalization = args.no_normalize;
    // Compose hashes services with their env files unread (the hash names the files, not their content).
    opts.resolve_env_files = !args.no_interpolate && args.hash.is_none();
    if args.variables {
        opts.interpolate = false;
        let variables = super::config_vars::variables(&opts)?;
        let text = match args.format {
            None => super::config_vars::table(&variables),
            Some(Format::Json) => super::config_vars::json(&variables)?,
            Some(Format::Yaml) => super::config_vars::yaml(&variables),
        };
        write_output(args, &text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.environment {
        // The environment interpolation sees, with what compose adds: the project's name and
        // the directory the command runs in.
        let project = xcompose_loader::load(&opts)?;
        let mut environment: std::collections::BTreeMap<String, String> = xcompose_loader::options::resolve(&opts)?.environment.into_iter().collect();
        environment.insert("COMPOSE_PROJECT_NAME".into(), project.name.clone());
        environment.insert("PWD".into(), opts.cwd.display().to_string());
        write_output(args, &super::config_vars::environment(&environment))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.list_profiles {
        // Every profile defined, whether active or not.
        opts.profiles = vec!["*".into()];
    }
    if args.no_interpolate && !(args.list_services || args.list_volumes || args.list_networks || args.list_profiles || args.list_images || args.hash.is_some()) {
        // Values such as `${PORT}` cannot be typed before interpolation: print the merged model.
        let model = xcompose_loader::load_untyped(&opts)?;
        if !args.quiet {
            let text = match args.format.unwrap_or(Format::Yaml) {
                Format::Json => serde_json::to_string_pretty(&model)?,
                Format::Yaml => crate::compose_yaml::to_yaml(&model),
            };
            write_output(args, &text)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut project = xcompose_loader::load(&opts)?;
    if !args.services.is_empty() && !args.list_networks {
        let keep: BTreeSet<String> = dependencies_of(&project, &args.services)?;
        project.services.retain(|name, _| keep.contains(name));
        xcompose_loader::project::prune_unused(&mut project);
    }
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let text = render(&project, args)?;
    write_output(args, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to `--output` or stdout.
fn write_output(args: &ConfigArgs, text: &str) -> Result<()> {
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display())),
        None => std::io::stdout().write_all(text.as_bytes()).context("writing to stdout"),
    }
}

/// The named services and everything they depend on.
fn dependencies_of(project: &Project, names: &[String]) -> Result<BTreeSet<String>> {
    let mut keep = BTreeSet::new();
    let mut queue: Vec<String> = names.to_vec();
    while let Some(name) = queue.pop() {
        let Some(service) = project.services.get(&name) else {
            bail!("no such service: {name}");
        };
        if keep.insert(name.clone()) {
            queue.extend(service.depends_on.keys().cloned());
        }
    }
    Ok(keep)
}

fn lines<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().map(|l| l + "\n").collect()
}

fn render(project: &Project, args: &ConfigArgs) -> Result<String> {
    if args.list_services {
        return Ok(lines(project.services_in_dependency_order()));
    }
    if args.list_volumes {
        return Ok(lines(project.volumes.keys().cloned()));
    }
    if args.list_networks {
        let mut names: Vec<String> = project.networks.keys().cloned().collect();
        names.sort();
        return Ok(lines(names));
    }
    if args.list_profiles {
        let profiles: BTreeSet<String> = project.services.values().flat_map(|s| s.profiles.clone()).collect();
        return Ok(lines(profiles));
    }
    if args.list_images {
        return Ok(lines(project.services.iter().map(|(name, s)| {
            if s.image.is_empty() {
                format!("{}-{name}", project.name)
            } else {
                s.image.clone()
            }
        })));
    }
    if let Some(which) = &args.hash {
        let names: Vec<String> = if which == "*" {
            project.services_in_dependency_order()
        } else {
            which.split(',').map(str::to_string).collect()
        };
        let mut out = String::new();
        for name in names {
            let service = project.services.get(&name).with_context(|| format!("no such service: {name}"))?;
            out.push_str(&format!("{name} {}\n", service_hash(service)));
        }
        return Ok(out);
    }
    let mut value = serde_json::to_value(project)?;
    if matches!(args.format, None | Some(Format::Yaml)) {
        // Compose's YAML prints the `x-*` extensions its JSON leaves out.
        crate::compose_yaml::add_extensions(project, &mut value);
    }
    if !args.no_interpolate {
        // Printed output must load again to the same project, so literal `$` are escaped as compose does.
        value = escape_dollars(value);
    }
    Ok(match args.format.unwrap_or(Format::Yaml) {
        Format::Json => serde_json::to_string_pretty(&json_top_level(value))?,
        Format::Yaml => crate::compose_yaml::to_yaml(&value),
    })
}

/// Compose v2.40.3's JSON has its top-level keys in name order (`configs` before `name`,
/// `secrets` before `services`) and no `models` (its YAML has them, in the model's order).
fn json_top_level(value: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(map) = value else { return value };
    let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().filter(|(k, _)| k != "models").collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    serde_json::Value::Object(entries.into_iter().collect())
}

/// Doubles every `$` in keys and strings.
fn escape_dollars(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let esc = |s: String| if s.contains('$') { s.replace('$', "$$") } else { s };
    match value {
        Value::String(s) => Value::String(esc(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_dollars).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (esc(k), escape_dollars(v))).collect()),
        other => other,
    }
}
