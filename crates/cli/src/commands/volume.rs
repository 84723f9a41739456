//! `xcompose volume ...`: named volumes, as `docker volume` manages them with the local driver.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use xcompose_container::MountKind;
use xcompose_runtime::{Runtime, RuntimeError};
use xcompose_volumes::{random_name, Volume, VolumeStore};

use crate::Cli;

/// `volume ls` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per line.
    Json,
}

/// `volume` subcommands.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create {
        /// Set metadata for a volume (`key=value`).
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Volume driver name.
        #[arg(short = 'd', long, default_value = "local")]
        driver: String,
        /// Set driver specific options (`key=value`).
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE", value_parser = parse_option)]
        opts: Vec<(String, String)>,
        /// The volume's name (a random one if absent).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short, long)]
        quiet: bool,
        /// Format the output.
        #[arg(long, value_enum, default_value = "table")]
        format: LsFormat,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        /// The volumes.
        #[arg(required = true, value_name = "VOLUME")]
        names: Vec<String>,
    },
    /// Remove one or more volumes. A volume a container uses cannot be removed.
    #[command(alias = "remove")]
    Rm {
        /// Do not complain about volumes that do not exist.
        #[arg(short, long)]
        force: bool,
        /// The volumes.
        #[arg(required = true, value_name = "VOLUME")]
        names: Vec<String>,
    },
    /// Remove unused local volumes.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short, long)]
        all: bool,
    },
}

/// Runs a `volume` subcommand.
pub fn run(cli: &Cli, command: &VolumeCommand) -> Result<ExitCode> {
    let remap = xcompose_runtime::remap::recorded(&cli.root)?.map(|r| r.ids);
    let store = VolumeStore::open(&cli.root).with_context(|| format!("opening the volume store in {}", cli.root.display()))?.remapped(remap);
    match command {
        VolumeCommand::Create { labels, driver, opts, name } => {
            let name = match name {
                Some(name) => name.clone(),
                None => random_name()?,
            };
            if driver != "local" {
                return Ok(daemon_error(format!("create {name}: error looking up volume plugin {driver}: plugin {driver:?} not found")));
            }
            let labels = labels.iter().cloned().collect();
            let opts = opts.iter().cloned().collect();
            match store.create(&name, labels, opts) {
                Ok(volume) => println!("{}", volume.name),
                Err(e) => return Ok(daemon_error(e)),
            }
        }
        VolumeCommand::Ls { quiet, format } => list(&store, *quiet, *format)?,
        VolumeCommand::Inspect { names } => return inspect(&store, names),
        VolumeCommand::Rm { force, names } => return remove(cli, &store, names, *force),
        VolumeCommand::Prune { force, all } => return prune(cli, &store, *force, *all),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an error the way Docker's CLI prints the daemon's; the exit code to return.
fn daemon_error(error: impl Display) -> ExitCode {
    eprintln!("Error response from daemon: {error}");
    ExitCode::FAILURE
}

fn list(store: &VolumeStore, quiet: bool, format: LsFormat) -> Result<()> {
    write_list(store.list()?, quiet, format)
}

/// Prints `volumes` as `docker volume ls` does: sorted by name, as names only (`quiet`), as
/// JSON lines, or as a table.
pub fn write_list(mut volumes: Vec<Volume>, quiet: bool, format: LsFormat) -> Result<()> {
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let mut out = String::new();
    if quiet {
        volumes.iter().for_each(|v| out.push_str(&format!("{}\n", v.name)));
    } else if format == LsFormat::Json {
        for v in &volumes {
            let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let line = serde_json::json!({
                "Availability": "N/A",
                "Driver": v.driver,
                "Group": "N/A",
                "Labels": labels.join(","),
                "Links": "N/A",
                "Mountpoint": v.mountpoint,
                "Name": v.name,
                "Scope": "local",
                "Size": "N/A",
                "Status": "N/A",
            });
            out.push_str(&format!("{line}\n"));
        }
    } else {
        // Docker's tabwriter: cells padded by 3, at least 10 wide; the last column unpadded.
        let width = volumes.iter().map(|v| v.driver.len()).chain(["DRIVER".len()]).max().unwrap_or(0).max(7) + 3;
        out.push_str(&format!("{:<width$}VOLUME NAME\n", "DRIVER"));
        volumes.iter().for_each(|v| out.push_str(&format!("{:<width$}{}\n", v.driver, v.name)));
    }
    print_all(&out)
}

/// Writes `text` to standard output (a reader gone away, `| head`, ends the process quietly: see
/// `die_on_broken_pipe` in main).
fn print_all(text: &str) -> Result<()> {
    Ok(std::io::stdout().lock().write_all(text.as_bytes())?)
}

fn inspect(store: &VolumeStore, names: &[String]) -> Result<ExitCode> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match store.get(name) {
            Ok(volume) => found.push(inspect_json(&volume)),
            Err(e) => errors.push(e),
        }
    }
    // Docker indents with four spaces.
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    serde::Serialize::serialize(&found, &mut serializer)?;
    out.push(b'\n');
    print_all(&String::from_utf8(out)?)?;
    if errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    errors.into_iter().for_each(|e| eprintln!("Error response from daemon: {e}"));
    Ok(ExitCode::FAILURE)
}

/// A volume as `docker volume inspect` shows it.
fn inspect_json(v: &Volume) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": v.created.with_timezone(&chrono::Local).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    })
}

fn remove(cli: &Cli, store: &VolumeStore, names: &[String], force: bool) -> Result<ExitCode> {
    let users = users_of(cli, &store.list()?)?;
    let mut failed = false;
    for name in names {
        let result = match users.get(name) {
            Some(ids) => Err(format!("remove {name}: volume is in use - [{}]", ids.iter().cloned().collect::<Vec<_>>().join(", "))),
            None => match store.remove(name) {
                Err(xcompose_volumes::VolumeError::NotFound(_)) if force => Ok(()),
                other => other.map_err(|e| e.to_string()),
            },
        };
        match result {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn prune(cli: &Cli, store: &VolumeStore, force: bool, all: bool) -> Result<ExitCode> {
    if !force {
        let which = if all { "all" } else { "anonymous" };
        print!("WARNING! This will remove {which} local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            // Docker's CLI ends a cancelled prune silently, successfully.
            return Ok(ExitCode::SUCCESS);
        }
    }
    let users = users_of(cli, &store.list()?)?;
    let in_use = |name: &str| users.contains_key(name);
    let pruned = if all { store.prune(&in_use)? } else { store.prune_anonymous(&in_use)? };
    if !pruned.removed.is_empty() {
        println!("Deleted Volumes:");
        pruned.removed.iter().for_each(|name| println!("{name}"));
        println!();
    }
    println!("Total reclaimed space: {}", crate::sizes::decimal(pruned.reclaimed, 4));
    Ok(ExitCode::SUCCESS)
}

/// The IDs of the containers (running or not) that mount each volume, by volume name.
fn users_of(cli: &Cli, volumes: &[Volume]) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if volumes.is_empty() {
        return Ok(users);
    }
    let exe = std::env::current_exe().context("finding the xcompose binary")?;
    let runtime = Runtime::open(&cli.root, &exe)?;
    for container in runtime.list()? {
        let record = match runtime.find(&container.id) {
            Ok(record) => record,
            // Removed since it was listed.
            Err(RuntimeError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        for mount in &record.supervisor.spec.mounts {
            let MountKind::Bind { source, .. } = &mount.kind else { continue };
            for volume in volumes.iter().filter(|v| source.starts_with(&v.mountpoint)) {
                users.entry(volume.name.clone()).or_default().insert(container.id.clone());
            }
        }
    }
    Ok(users)
}

/// `--label key=value` (or `key`, with an empty value).
fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    if key.trim().is_empty() {
        return Err(format!("invalid label '{text}': empty name"));
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--opt key=value` (or `key`, with an empty value).
fn parse_option(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    Ok((key.to_string(), value.to_string()))
}

/// Orders names as Docker's CLI lists volumes: runs of digits compare as numbers, digits sort
/// before other characters (github.com/fvbommel/sortorder's NaturalLess).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da { Ordering::Less } else { Ordering::Greater };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            (i, j) = (i + 1, j + 1);
            continue;
        }
        let skip = |s: &[u8], mut k: usize, pred: fn(&u8) -> bool| {
            while k < s.len() && pred(&s[k]) {
                k += 1;
            }
            k
        };
        let (za, zb) = (skip(a, i, |c| *c == b'0'), skip(b, j, |c| *c == b'0'));
        let (ea, eb) = (skip(a, za, u8::is_ascii_digit), skip(b, zb, u8::is_ascii_digit));
        let order = (ea - za).cmp(&(eb - zb)).then_with(|| a[za..ea].cmp(&b[zb..eb])).then_with(|| za.cmp(&zb));
        if order != Ordering::Equal {
            return order;
        }
        (i, j) = (ea, eb);
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_is_dockers() {
        let mut names = vec!["vol10", "vol2", "vol1", "a", "vol02", "1x", "b9", "b10", "vol", "v"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["1x", "a", "b9", "b10", "v", "vol", "vol1", "vol2", "vol02", "vol10"]);
    }


    #[test]
    fn labels_and_options_split_at_the_first_equals_sign() {
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_label("flag").unwrap(), ("flag".into(), String::new()));
        assert_eq!(parse_label("=x").unwrap_err(), "invalid label '=x': empty name");
        assert_eq!(parse_option("o=bind,rbind").unwrap(), ("o".into(), "bind,rbind".into()));
    }
}
