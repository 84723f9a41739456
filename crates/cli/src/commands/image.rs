//! `xcompose image ...`: the local image store, and pulling from and pushing to registries.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use xcompose_images::{ImageStore, Reference, Removed};

use crate::Cli;

/// `image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import a root filesystem tar (`-` for stdin) as an image, like `docker import`.
    Import {
        /// The tar file.
        file: PathBuf,
        /// Reference to give the image (`name[:tag]`).
        reference: String,
        /// Apply a Dockerfile instruction to the image's configuration (CMD, ENTRYPOINT, ENV,
        /// EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).
        #[arg(short = 'c', long = "change")]
        changes: Vec<String>,
    },
    /// List images.
    #[command(alias = "list")]
    Ls {
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Give an image another reference.
    Tag {
        /// The image.
        source: String,
        /// The new reference.
        target: String,
    },
    /// Remove images.
    #[command(alias = "remove")]
    Rm {
        /// Remove even if a container uses it.
        #[arg(short, long)]
        force: bool,
        /// The images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Show images' configuration as JSON.
    Inspect {
        /// The images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Load images from a tar archive (`docker save` or OCI image layout, may be gzipped) or stdin.
    Load {
        /// Read from a tar archive file, instead of stdin.
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Suppress the load progress.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Save images to a tar archive (streamed to stdout by default).
    Save {
        /// Write to a file, instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Download an image from a registry.
    Pull {
        /// The image (`name[:tag|@digest]`).
        reference: String,
        /// Set platform if server is multi-platform capable (`os/arch[/variant]`).
        #[arg(long)]
        platform: Option<String>,
        /// Suppress verbose output.
        #[arg(short, long)]
        quiet: bool,
        /// Layers to download at once.
        #[arg(long, default_value_t = xcompose_registry::DEFAULT_CONCURRENT_DOWNLOADS)]
        max_concurrent_downloads: usize,
    },
    /// Upload an image to a registry.
    Push {
        /// The image (`name[:tag]`).
        reference: String,
        /// Suppress verbose output.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove unused images.
    Prune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

/// Runs an `image` subcommand.
pub fn run(cli: &Cli, command: &ImageCommand) -> Result<ExitCode> {
    let store = ImageStore::open(&cli.root).with_context(|| format!("opening the image store in {}", cli.root.display()))?;
    match command {
        ImageCommand::Import { file, reference, changes } => {
            // Bad instructions are refused before the tar is read.
            let config = super::image_change::config(changes)?;
            let input: Box<dyn Read> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(File::open(file).with_context(|| format!("open {}", file.display()))?)
            };
            println!("{}", store.import_with_config(input, reference, config)?);
        }
        ImageCommand::Ls { quiet } => {
            let images = store.list()?;
            if !quiet {
                println!("{:<40} {:<10} {:<14} {:<22} SIZE", "REPOSITORY", "TAG", "IMAGE ID", "CREATED");
            }
            for image in images {
                let short_id: String = image.id.trim_start_matches("sha256:").chars().take(12).collect();
                if *quiet {
                    println!("{short_id}");
                    continue;
                }
                let created = image.created.as_deref().unwrap_or("").chars().take(19).collect::<String>();
                let mut names = Vec::new();
                let parsed = image.references.iter().map(|r| Reference::parse(r).map_err(anyhow::Error::msg)).collect::<Result<Vec<_>>>()?;
                // A RepoDigest (`name@sha256:...`) is a row only for an image no tag names.
                let tagged = parsed.iter().any(|r| r.tag.is_some());
                for r in parsed.into_iter().filter(|r| !tagged || r.tag.is_some()) {
                    names.push((r.short_repository(), r.tag.unwrap_or_else(|| "<none>".into())));
                }
                if names.is_empty() {
                    names.push(("<none>".into(), "<none>".into()));
                }
                for (repository, tag) in names {
                    println!("{repository:<40} {tag:<10} {short_id:<14} {created:<22} {}", crate::sizes::decimal(image.size, 3));
                }
            }
        }
        ImageCommand::Tag { source, target } => store.tag(source, target)?,
        ImageCommand::Rm { force, images } => {
            let mut failed = false;
            let in_use = container_using(cli)?;
            for image in images {
                match store.remove(image, *force, &in_use) {
                    Ok(lines) => {
                        for line in lines {
                            match line {
                                Removed::Untagged(r) => println!("Untagged: {r}"),
                                Removed::Deleted(id) => println!("Deleted: {id}"),
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        ImageCommand::Inspect { images } => {
            let mut out = Vec::new();
            for image in images {
                let resolved = store.resolve(image)?;
                let refs: Vec<String> = store
                    .list()?
                    .into_iter()
                    .find(|i| i.id == resolved.id)
                    .map(|i| i.references)
                    .unwrap_or_default();
                let (tags, digests): (Vec<String>, Vec<String>) = refs.into_iter().partition(|r| Reference::parse(r).is_ok_and(|p| p.digest.is_none()));
                // The config object as stored: Docker's own fields (Healthcheck, OnBuild, Shell)
                // beside the OCI ones, which the OCI model would drop.
                let raw: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(store.open_blob(&resolved.id)?))?;
                out.push(serde_json::json!({
                    "Id": resolved.id,
                    "RepoTags": tags,
                    "RepoDigests": digests,
                    "Config": raw.get("config").cloned().unwrap_or(serde_json::Value::Null),
                    "RootFS": serde_json::to_value(resolved.config.rootfs())?,
                    "Created": resolved.config.created(),
                }));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        ImageCommand::Load { input, quiet } => load(&store, input.as_deref(), *quiet)?,
        ImageCommand::Save { output, images } => save(&store, output.as_deref(), images)?,
        ImageCommand::Prune { all, force } => prune(cli, &store, *all, *force)?,
        ImageCommand::Pull { reference, platform, quiet, max_concurrent_downloads } => {
            let platform = platform.as_deref().map(xcompose_registry::Platform::parse).transpose()?;
            let options = xcompose_registry::PullOptions { platform, max_concurrent_downloads: *max_concurrent_downloads };
            let printer = super::pull::pull_printer(*quiet);
            let untagged = !reference.contains('@') && !reference.rsplit('/').next().is_some_and(|name| name.contains(':'));
            if untagged && !*quiet {
                println!("Using default tag: latest");
            }
            xcompose_registry::pull(&store, reference, &options, &*printer).map_err(|e| anyhow::anyhow!("Error response from daemon: {e}"))?;
            println!("{}", Reference::parse(reference).map_err(anyhow::Error::msg)?);
        }
        ImageCommand::Push { reference, quiet } => {
            let quiet = *quiet;
            let printer = move |event: xcompose_registry::PushEvent| {
                if !quiet {
                    println!("{event}");
                }
            };
            xcompose_registry::push(&store, reference, &printer).map_err(|e| anyhow::anyhow!("Error response from daemon: {e}"))?;
            if quiet {
                println!("{}", Reference::parse(reference).map_err(anyhow::Error::msg)?.familiar());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A function telling which container uses an image, from the runtime's container records. A
/// record that cannot be read counts as a use, so nothing a container may need is removed.
fn container_using(cli: &Cli) -> Result<impl Fn(&str) -> Option<String>> {
    let runtime = xcompose_runtime::Runtime::open(&cli.root, &std::env::current_exe()?)?;
    Ok(move |image: &str| {
        runtime.container_using(image).unwrap_or_else(|e| {
            eprintln!("WARNING: {e}; keeping image {image}");
            Some("unknown".into())
        })
    })
}

/// `image load`: prints what Docker prints, with a line per layer unpacked on a terminal.
fn load(store: &ImageStore, input: Option<&Path>, quiet: bool) -> Result<()> {
    let archive: Box<dyn Read> = match input {
        Some(path) => Box::new(File::open(path).with_context(|| format!("open {}", path.display()))?),
        None if std::io::stdin().is_terminal() => bail!("requested load from stdin, but stdin is empty"),
        None => Box::new(std::io::stdin().lock()),
    };
    let progress = !quiet && std::io::stdout().is_terminal();
    let mut on_layer = |diff_id: &str, size: u64| {
        if progress {
            let short: String = diff_id.trim_start_matches("sha256:").chars().take(12).collect();
            println!("{short}: Loading layer {}", crate::sizes::decimal(size, 4));
        }
    };
    for event in store.load(archive, &mut on_layer)? {
        println!("{event}");
    }
    Ok(())
}

/// `image save`: to a file written atomically, or to stdout unless that is a terminal.
fn save(store: &ImageStore, output: Option<&Path>, images: &[String]) -> Result<()> {
    let Some(path) = output else {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        let mut out = std::io::BufWriter::new(stdout.lock());
        store.save(images, &mut out)?;
        return Ok(out.flush()?);
    };
    Ok(store.save_to_file(images, path)?)
}

/// `image prune`: asks first unless forced, then prints what went and the space reclaimed.
fn prune(cli: &Cli, store: &ImageStore, all: bool, force: bool) -> Result<()> {
    if !force {
        let warning = if all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        print!("{warning}\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(());
        }
    }
    let pruned = store.prune(all, &container_using(cli)?)?;
    if !pruned.removed.is_empty() {
        println!("Deleted Images:");
        for line in &pruned.removed {
            match line {
                Removed::Untagged(r) => println!("untagged: {}", Reference::parse(r).map(|r| r.familiar()).unwrap_or_else(|_| r.clone())),
                Removed::Deleted(id) => println!("deleted: {id}"),
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", crate::sizes::decimal(pruned.reclaimed, 4));
    Ok(())
}
