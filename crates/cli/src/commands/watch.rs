//! `xcompose watch`: brings the stack up, then applies each service's `develop.watch` rules
//! as files change: `sync` copies them into the running containers, `restart` restarts them,
//! `sync+restart` and `sync+exec` do both in turn, `rebuild` builds the service's image and
//! recreates its containers with it.
//! A sync rule with `initial_sync` first copies what changed since the image was made.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use xcompose_loader::model::WatchRule;
use xcompose_stack::{BuildOptions, BuildPolicy, Stack, UpOptions};
use xcompose_watch::{RuleSpec, Watcher};

use crate::Cli;

/// `watch`'s flags.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Do not build & start services before watching.
    #[arg(long)]
    pub no_up: bool,
    /// Hide build output.
    #[arg(long)]
    pub quiet: bool,
    /// Services to watch (default: all).
    pub services: Vec<String>,
}

/// How long changes must have stopped before a batch is applied.
const QUIET: Duration = Duration::from_millis(500);

/// Runs `watch` until interrupted.
pub fn run(cli: &Cli, args: &WatchArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &args.services)?;
    let rules: Vec<(String, WatchRule)> = stack
        .project()
        .services
        .iter()
        .filter(|(name, _)| args.services.is_empty() || args.services.contains(name))
        .flat_map(|(name, s)| s.develop.iter().flat_map(|d| d.watch.iter()).map(move |r| (name.clone(), r.clone())))
        .collect();
    if rules.is_empty() {
        bail!("none of the selected services is configured for watch, consider setting a 'develop' section");
    }
    if !args.no_up {
        let plan = xcompose_orchestrator::plan::UpOptions { services: args.services.clone(), ..Default::default() };
        stack.up(&UpOptions { plan, build: BuildPolicy::Always, ..Default::default() })?;
        xcompose_fault::point("watch.up");
    }
    let specs: Vec<RuleSpec> = rules.iter().map(|(_, r)| RuleSpec { path: PathBuf::from(&r.path), ignore: r.ignore.clone(), include: r.include.clone() }).collect();
    let watcher = Watcher::new(&specs)?;
    for ((service, rule), spec) in rules.iter().zip(&specs).filter(|((_, r), _)| r.initial_sync && r.action.starts_with("sync")) {
        initial_sync(&stack, service, rule, spec)?;
    }
    eprintln!("Watch enabled");
    loop {
        for (index, paths) in watcher.next_batch(QUIET)? {
            let (service, rule) = &rules[index];
            if let Err(e) = apply(&stack, service, rule, &paths.into_iter().collect::<Vec<_>>(), args.quiet) {
                // One failed action does not end watching: the next change may fix it.
                eprintln!("service {service:?}: {e:#}");
            }
        }
    }
}

/// `initial_sync`: as compose does when watching starts, copies into `service`'s containers the
/// files under the rule's path modified since the service's image was created (the image may
/// hold older copies of them).
fn initial_sync(stack: &Stack, service: &str, rule: &WatchRule, spec: &RuleSpec) -> Result<()> {
    let image_name = &stack.project().services[service].image;
    let image = stack.runtime().images().resolve(image_name)?;
    let created = image
        .config
        .created()
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map_or(std::time::UNIX_EPOCH, std::time::SystemTime::from);
    let files = xcompose_watch::files_modified_since(spec, created)?;
    if !files.is_empty() {
        sync_paths(stack, service, rule, &files)?;
    }
    Ok(())
}

/// Copies the `changed` paths under `rule`'s path to its target in `service`'s containers.
fn sync_paths(stack: &Stack, service: &str, rule: &WatchRule, changed: &[PathBuf]) -> Result<()> {
    if rule.target.is_empty() {
        bail!("the {} rule for {} has no target", rule.action, rule.path);
    }
    eprintln!("Syncing service {service:?} after {} changes were detected", changed.len());
    for path in changed {
        let relative = path.strip_prefix(&rule.path).map_err(|_| anyhow!("{} is not under {}", path.display(), rule.path))?;
        let target = if relative.as_os_str().is_empty() { PathBuf::from(&rule.target) } else { Path::new(&rule.target).join(relative) };
        stack.sync(service, path, &target)?;
        xcompose_fault::point("watch.synced");
    }
    Ok(())
}

/// Carries out `rule` of `service` for the `changed` paths (`quiet`: no build output).
fn apply(stack: &Stack, service: &str, rule: &WatchRule, changed: &[PathBuf], quiet: bool) -> Result<()> {
    if rule.action.starts_with("sync") {
        sync_paths(stack, service, rule, changed)?;
    }
    match rule.action.as_str() {
        "sync" => {}
        "restart" | "sync+restart" => {
            eprintln!("Restarting service {service:?} after changes were detected");
            stack.restart(&[service.to_string()], None)?;
            xcompose_fault::point("watch.restarted");
        }
        "sync+exec" => {
            let command = rule.exec.command.clone().ok_or_else(|| anyhow!("the sync+exec rule for {} has no exec.command", rule.path))?;
            for container in stack.containers()?.into_iter().filter(|c| c.service == service && !c.oneoff) {
                let request = xcompose_runtime::ExecRequest {
                    args: command.clone(),
                    user: (!rule.exec.user.is_empty()).then(|| rule.exec.user.clone()),
                    env: rule.exec.environment.iter().map(|(k, v)| format!("{k}={}", v.clone().unwrap_or_default())).collect(),
                    workdir: (!rule.exec.working_dir.is_empty()).then(|| PathBuf::from(&rule.exec.working_dir)),
                    tty: false,
                    privileged: rule.exec.privileged,
                };
                let stdio = xcompose_container::Stdio { stdin: None, stdout: None, stderr: None };
                stack.runtime().exec(&container.id, &request, stdio)?.wait()?;
                xcompose_fault::point("watch.executed");
            }
        }
        "rebuild" => {
            eprintln!("Rebuilding service(s) [{service:?}] after changes were detected...");
            stack.build(&BuildOptions { services: vec![service.to_string()], quiet, ..Default::default() })?;
            eprintln!("service(s) [{service:?}] successfully built");
            xcompose_fault::point("watch.rebuilt");
            let plan = xcompose_orchestrator::plan::UpOptions { services: vec![service.to_string()], no_deps: true, ..Default::default() };
            stack.up(&UpOptions { plan, build: BuildPolicy::Never, ..Default::default() })?;
        }
        other => bail!("unknown watch action {other:?}"),
    }
    Ok(())
}
