//! `xcompose scale SERVICE=REPLICAS...`: create or remove containers until each service has as
//! many as asked, and start them, as `docker compose scale` does (an `up -d` of those services
//! at that scale; `--no-deps` leaves their dependencies alone).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use xcompose_stack::UpOptions;

use crate::Cli;

/// `scale`'s flags.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// `SERVICE=REPLICAS` pairs.
    #[arg(required = true, value_name = "SERVICE=REPLICAS")]
    pub scales: Vec<String>,
}

/// compose's `parseServicesReplicasArgs`.
fn parse(args: &[String]) -> Result<BTreeMap<String, u32>> {
    let mut scales = BTreeMap::new();
    for arg in args {
        let Some((service, replicas)) = arg.split_once('=').filter(|(k, v)| !k.is_empty() && !v.is_empty()) else {
            bail!("invalid scale specifier: {arg}");
        };
        let Ok(replicas) = replicas.parse::<u32>() else { bail!("invalid scale specifier: can't parse replica value as int: {arg}") };
        scales.insert(service.to_string(), replicas);
    }
    Ok(scales)
}

/// Runs `scale`.
pub fn run(cli: &Cli, args: &ScaleArgs) -> Result<ExitCode> {
    let scale = parse(&args.scales)?;
    let services: Vec<String> = scale.keys().cloned().collect();
    let stack = super::project::open(cli, &services)?;
    if let Some(unknown) = services.iter().find(|s| !stack.project().services.contains_key(s.as_str())) {
        bail!("no such service: {unknown}");
    }
    let opts = UpOptions {
        plan: xcompose_orchestrator::plan::UpOptions {
            force_recreate: false,
            no_recreate: false,
            remove_orphans: false,
            scale,
            services,
            no_deps: args.no_deps,
            always_recreate_deps: false,
            image_digests: BTreeMap::new(),
        },
        no_start: false,
        renew_anon_volumes: false,
        wait: false,
        wait_timeout: None,
        timeout: None,
        pull: None,
        quiet_pull: false,
        build: Default::default(),
        ignore_orphans: super::project::ignore_orphans(),
    };
    stack.up(&opts)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn specifiers_parse_as_compose_parses_them() {
        assert_eq!(parse(&["web=3".into()]).unwrap().get("web"), Some(&3));
        assert_eq!(parse(&["web".into()]).unwrap_err().to_string(), "invalid scale specifier: web");
        assert_eq!(parse(&["web=".into()]).unwrap_err().to_string(), "invalid scale specifier: web=");
        assert_eq!(parse(&["web=x".into()]).unwrap_err().to_string(), "invalid scale specifier: can't parse replica value as int: web=x");
    }
}
