//! `xcompose image ...`: the local image store (`docker image` subcommands that need no registry).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
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
}

/// Runs an `image` subcommand.
pub fn run(cli: &Cli, command: &ImageCommand) -> Result<ExitCode> {
    let store = ImageStore::open(&cli.root).with_context(|| format!("opening the image store in {}", cli.root.display()))?;
    match command {
        ImageCommand::Import { file, reference } => {
            let input: Box<dyn Read> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(File::open(file).with_context(|| format!("open {}", file.display()))?)
            };
            println!("{}", store.import(input, reference)?);
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
                for r in &image.references {
                    let parsed = Reference::parse(r).map_err(anyhow::Error::msg)?;
                    let created = image.created.as_deref().unwrap_or("").chars().take(19).collect::<String>();
                    println!(
                        "{:<40} {:<10} {:<14} {:<22} {}",
                        parsed.short_repository(),
                        parsed.tag.as_deref().unwrap_or("<none>"),
                        short_id,
                        created,
                        human_size(image.size)
                    );
                }
            }
        }
        ImageCommand::Tag { source, target } => store.tag(source, target)?,
        ImageCommand::Rm { force, images } => {
            let mut failed = false;
            // Containers are not tracked yet; when they are, their images are reported here.
            let in_use = |_: &str| None;
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
                out.push(serde_json::json!({
                    "Id": resolved.id,
                    "RepoTags": refs,
                    "Config": serde_json::to_value(resolved.config.config())?,
                    "RootFS": serde_json::to_value(resolved.config.rootfs())?,
                    "Created": resolved.config.created(),
                }));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sizes the way `docker image ls` prints them (1000-based).
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes}B") } else { format!("{value:.3}{}", units[unit]).replace(".000", "") }
}
