//! `xcompose up`: create and start the project's containers.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use xcompose_stack::{Stack, UpOptions};

use super::dry_run;
use super::attach::{catch_interrupts, display_name, has_stopped, interrupted, Follower, Style};
use crate::Cli;

/// `up`'s flags.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Don't start the services after creating them.
    #[arg(long)]
    pub no_start: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy.
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers.
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Remove containers for services not defined in the Compose file (default: COMPOSE_REMOVE_ORPHANS).
    #[arg(long)]
    pub remove_orphans: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM).
    #[arg(long)]
    pub scale: Vec<String>,
    /// Stops all containers if any container was stopped.
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit.
    #[arg(long)]
    pub exit_code_from: Option<String>,
    /// Use this timeout in seconds for container shutdown when containers are already running.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Pull image before running ("always"|"missing"|"never").
    #[arg(long, value_parser = ["always", "missing", "never"])]
    pub pull: Option<String>,
    /// Pull without printing progress information.
    #[arg(long)]
    pub quiet_pull: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's policy.
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Stops all containers if any container exited with failure. Incompatible with -d.
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Recreate dependent containers. Incompatible with --no-recreate.
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Restrict attaching to the specified services. Incompatible with --attach-dependencies.
    #[arg(long)]
    pub attach: Vec<String>,
    /// Automatically attach to log output of dependent services.
    #[arg(long)]
    pub attach_dependencies: bool,
    /// Do not attach (stream logs) to the specified services.
    #[arg(long)]
    pub no_attach: Vec<String>,
    /// Show timestamps.
    #[arg(long)]
    pub timestamps: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively (xcompose never prompts
    /// on `up`: accepted as compose accepts it).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Services to start (default: all).
    pub services: Vec<String>,
}

/// Runs `create`: `up --no-start`.
pub fn create(cli: &Cli, args: &UpArgs) -> Result<ExitCode> {
    let mut opts = up_options(args)?;
    opts.no_start = true;
    if cli.dry_run {
        return dry_run(cli, args, &opts);
    }
    super::project::open(cli, &args.services)?.up(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// `--dry-run`: the progress lines `up` would print, with nothing changed.
fn dry_run(cli: &Cli, args: &UpArgs, opts: &UpOptions) -> Result<ExitCode> {
    let scratch = dry_run::scratch_root(&cli.root)?;
    let stack = super::project::open_in(cli, &args.services, scratch.path())?;
    let report = super::progress::reporter(&cli.output, true);
    for (kind, name, status) in dry_run::up_events(&stack, &stack.plan(opts)?, opts.no_start)? {
        report(kind, &name, status);
    }
    Ok(ExitCode::SUCCESS)
}

/// `up`'s flags as the stack takes them.
fn up_options(args: &UpArgs) -> Result<UpOptions> {
    check_combinations(args)?;
    let mut scale = BTreeMap::new();
    for s in &args.scale {
        let Some((service, n)) = s.split_once('=') else { bail!("invalid --scale {s:?}: expected SERVICE=NUM") };
        let n: u32 = n.parse().map_err(|_| anyhow::anyhow!("invalid --scale {s:?}: {n:?} is not a number"))?;
        scale.insert(service.to_string(), n);
    }
    Ok(UpOptions {
        plan: xcompose_orchestrator::plan::UpOptions {
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            remove_orphans: super::project::remove_orphans(args.remove_orphans),
            scale,
            services: args.services.clone(),
            no_deps: args.no_deps,
            always_recreate_deps: args.always_recreate_deps,
            image_digests: BTreeMap::new(),
        },
        no_start: args.no_start,
        renew_anon_volumes: args.renew_anon_volumes,
        wait: args.wait,
        wait_timeout: args.wait_timeout.map(Duration::from_secs),
        timeout: args.timeout.map(Duration::from_secs),
        pull: args.pull.as_deref().map(xcompose_stack::PullPolicy::parse).transpose().map_err(anyhow::Error::msg)?.flatten(),
        quiet_pull: args.quiet_pull,
        build: match (args.build, args.no_build) {
            (true, _) => xcompose_stack::BuildPolicy::Always,
            (_, true) => xcompose_stack::BuildPolicy::Never,
            _ => xcompose_stack::BuildPolicy::Missing,
        },
        ignore_orphans: super::project::ignore_orphans(),
    })
}

/// Refuses the flags compose refuses together (its messages).
fn check_combinations(args: &UpArgs) -> Result<()> {
    if args.detach && (args.abort_on_container_exit || args.abort_on_container_failure || args.attach_dependencies || !args.attach.is_empty()) {
        bail!("--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies");
    }
    if args.abort_on_container_exit && args.abort_on_container_failure {
        bail!("--abort-on-container-failure cannot be combined with --abort-on-container-exit");
    }
    if args.always_recreate_deps && args.no_recreate {
        bail!("--always-recreate-deps and --no-recreate are incompatible");
    }
    Ok(())
}

/// The services whose output attached `up` shows, as compose picks them: `--attach`'s, else the
/// named ones (all when none is named); with `--attach-dependencies` their dependencies too;
/// without `--attach`, none with `attach: false`; never `--no-attach`'s.
fn attached_services(stack: &Stack, args: &UpArgs) -> Result<Vec<String>> {
    let project = stack.project();
    if let Some(unknown) = args.attach.iter().chain(&args.no_attach).find(|s| !project.services.contains_key(s.as_str())) {
        bail!("no such service: {unknown}");
    }
    let mut chosen: Vec<String> = match (args.attach.is_empty(), args.services.is_empty()) {
        (false, _) => args.attach.clone(),
        (true, false) => args.services.clone(),
        (true, true) => project.services.keys().cloned().collect(),
    };
    if args.attach_dependencies {
        let graph = xcompose_orchestrator::graph::ServiceGraph::new(project)?;
        chosen = graph.with_dependencies(&chosen)?.into_iter().map(str::to_string).collect();
    }
    if args.attach.is_empty() {
        chosen.retain(|s| project.services.get(s).is_none_or(|s| s.attach != Some(false)));
    }
    chosen.retain(|s| !args.no_attach.contains(s));
    Ok(chosen)
}

/// Runs `up`.
pub fn run(cli: &Cli, args: &UpArgs) -> Result<ExitCode> {
    let opts = up_options(args)?;
    if cli.dry_run {
        return dry_run(cli, args, &opts);
    }
    let stack = super::project::open(cli, &args.services)?;
    let attached = !(args.detach || args.wait || args.no_start);
    if !attached {
        stack.up(&opts)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Bad service names are refused before anything starts.
    let shown = attached_services(&stack, args)?;
    catch_interrupts()?;
    stack.up(&opts)?;
    attach(cli, &stack, args, &shown)
}

/// Attached mode: the containers' output, prefixed, until they all stop; with
/// `--abort-on-container-exit`, until one stops (`--abort-on-container-failure`: fails), then all
/// are stopped. Ctrl+C stops them all.
fn attach(cli: &Cli, stack: &Stack, args: &UpArgs, attached: &[String]) -> Result<ExitCode> {
    // compose: --exit-code-from implies --abort-on-container-exit unless failures alone abort.
    let abort = args.abort_on_container_exit || (args.exit_code_from.is_some() && !args.abort_on_container_failure);
    if let Some(service) = &args.exit_code_from {
        if !stack.project().services.contains_key(service) {
            bail!("no such service: {service}");
        }
    }
    let containers: Vec<_> = stack.containers()?.into_iter().filter(|c| !c.oneoff && attached.contains(&c.service)).collect();
    let names: Vec<&str> = containers.iter().map(display_name).collect();
    println!("Attaching to {}", names.join(", "));
    let style = Style { prefix: !args.no_log_prefix, timestamps: args.timestamps, color: super::attach::colors_wanted(&cli.output, args.no_color), ..Style::default() };
    let mut follower = Follower::new(containers, None, style);
    let mut reported = vec![false; follower.containers().len()];
    let mut first_exit: Option<i32> = None;
    let mut first_failure: Option<i32> = None;
    loop {
        follower.poll(stack)?;
        let states = follower.states(stack)?;
        for ((c, state), done) in follower.containers().iter().zip(&states).zip(reported.iter_mut()) {
            if has_stopped(state) && !*done {
                *done = true;
                let code = state.exit_code.unwrap_or(0);
                println!("{} exited with code {code}", display_name(c));
                first_exit.get_or_insert(code);
                if code != 0 {
                    first_failure.get_or_insert(code);
                }
            }
        }
        let all_stopped = states.iter().all(has_stopped);
        let aborting = (abort && first_exit.is_some()) || (args.abort_on_container_failure && first_failure.is_some());
        if interrupted() || aborting || all_stopped {
            if !all_stopped {
                if aborting && !interrupted() {
                    println!("Aborting on container exit...");
                } else {
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                }
                stack.stop(&args.services, args.timeout.map(Duration::from_secs))?;
                follower.poll(stack)?;
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if interrupted() {
        return Ok(ExitCode::from(130));
    }
    let code = match &args.exit_code_from {
        Some(service) => {
            let states = follower.states(stack)?;
            follower.containers().iter().zip(states).find(|(c, _)| &c.service == service).and_then(|(_, s)| s.exit_code).unwrap_or(0)
        }
        None if abort => first_exit.unwrap_or(0),
        None if args.abort_on_container_failure => first_failure.unwrap_or(0),
        None => 0,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
