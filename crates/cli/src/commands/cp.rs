//! `xcompose cp`: copy files between a service container and this machine, as `docker compose
//! cp` does (its container choice, messages and progress lines; Docker's copy rules).

use std::path::{Component, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use xcompose_stack::{ContainerInfo, Stack};

use crate::Cli;

/// `cp`'s flags.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Include containers created by the run command.
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// `SERVICE:SRC_PATH`, or a local path (`-`: a tar stream on stdin).
    #[arg(value_name = "SRC_PATH")]
    pub source: String,
    /// `SERVICE:DEST_PATH`, or a local path (`-`: a tar stream on stdout).
    #[arg(value_name = "DEST_PATH")]
    pub destination: String,
}

/// compose's `splitCpArg`: `SERVICE:PATH`, unless the argument is an absolute local path or an
/// explicitly relative one (`./file:name`).
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((service, path)) if !service.starts_with('.') => (Some(service), path),
        _ => (None, arg),
    }
}

/// Go's `filepath.Abs` keeping a trailing `/` or `/.` (Docker's `resolveLocalPath`): those
/// decide whether a directory or only its content is copied.
fn local_path(path: &str) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("finding the current directory")?;
    let mut clean = PathBuf::from("/");
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::Normal(name) => clean.push(name),
            _ => {}
        }
    }
    let mut text = clean.to_string_lossy().into_owned();
    if (path.ends_with("/.") || path == ".") && text != "/" {
        text.push_str("/.");
    } else if path.ends_with('/') && text != "/" {
        text.push('/');
    }
    Ok(PathBuf::from(text))
}

/// The containers a copy goes to or comes from, as compose picks them: the one of `--index`,
/// else all of the service (only the first when copying from it), stopped ones included.
fn targets(stack: &Stack, service: &str, args: &CpArgs, from_service: bool) -> Result<Vec<ContainerInfo>> {
    let number = |c: &ContainerInfo| c.labels.get("com.docker.compose.container-number").and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    let mut containers: Vec<ContainerInfo> = stack
        .containers()?
        .into_iter()
        .filter(|c| c.service == service && (!c.oneoff || (args.all && args.index == 0)))
        .collect();
    containers.sort_by_key(|c| (c.oneoff, number(c)));
    if args.index > 0 {
        let chosen = containers.into_iter().find(|c| !c.oneoff && number(c) == args.index);
        return chosen.map(|c| vec![c]).ok_or_else(|| anyhow!("service {service:?} is not running container #{}", args.index));
    }
    if containers.is_empty() {
        bail!("no container found for service {service:?}");
    }
    if from_service {
        containers.truncate(1);
    }
    Ok(containers)
}

/// Runs `cp`.
pub fn run(cli: &Cli, args: &CpArgs) -> Result<ExitCode> {
    let (source_service, source) = split(&args.source);
    let (destination_service, destination) = split(&args.destination);
    let (service, from_service) = match (source_service, destination_service) {
        (Some(_), Some(_)) => bail!("copying between services is not supported"),
        (None, None) => bail!("unknown copy direction"),
        (Some(service), None) => (service, true),
        (None, Some(service)) => (service, false),
    };
    let stack = super::project::open(cli, &[])?;
    let progress = super::progress::reporter(&cli.output, false);
    for container in targets(&stack, service, args, from_service)? {
        let name = &container.name;
        let message = if from_service { format!("copy {name}:{source} to {destination}") } else { format!("copy {source} to {name}:{destination}") };
        progress("", &format!("{name} {message}"), "Copying");
        let copied = match (from_service, source, destination) {
            (true, _, "-") => stack.copy_out_stream(&container.id, source, args.follow_link, &mut std::io::stdout().lock()),
            (true, _, _) => stack.copy_out(&container.id, source, args.follow_link, &local_path(destination)?),
            (false, "-", _) => stack.copy_in_stream(&container.id, destination, args.archive, &mut std::io::stdin().lock()),
            (false, _, _) => stack.copy_in(&container.id, &local_path(source)?, args.follow_link, destination, args.archive),
        };
        copied.map_err(|e| anyhow!("{}", daemon_error(e)))?;
        progress("", &format!("{name} {message}"), "Copied");
    }
    Ok(ExitCode::SUCCESS)
}

/// Errors of the container's side read as the Docker daemon's reach compose's user.
fn daemon_error(error: xcompose_stack::StackError) -> String {
    let text = error.to_string();
    if text.starts_with("Could not find the file") {
        format!("Error response from daemon: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{local_path, split};

    #[test]
    fn arguments_split_as_compose_splits_them() {
        assert_eq!(split("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split("/abs/a:b"), (None, "/abs/a:b"));
        assert_eq!(split("./a:b"), (None, "./a:b"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(split("-"), (None, "-"));
    }

    #[test]
    fn local_paths_keep_their_trailing_dot_or_slash() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(local_path("a/../b/.").unwrap(), PathBuf::from(format!("{}/b/.", cwd.display())));
        assert_eq!(local_path("/x/y/").unwrap(), PathBuf::from("/x/y/"));
        assert_eq!(local_path("/x/y").unwrap(), PathBuf::from("/x/y"));
    }
}
