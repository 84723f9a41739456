//! `xcompose commit`: a new image from a service container's changes, as `docker compose commit`
//! makes it (Docker's `commit`): the container's writable layer as one more layer over its
//! image's, the image's configuration with the `--change`s, the author and a history entry with
//! the message.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{ArgAction, Args};
use serde_json::{json, Map, Value};
use xcompose_container::RootFs;

use crate::Cli;

/// `commit`'s flags.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit.
    #[arg(short = 'p', long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// The service.
    pub service: String,
    /// The new image's name.
    pub repository: Option<String>,
}

/// Runs `commit`.
pub fn run(cli: &Cli, args: &CommitArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let container = super::project::running_container(&stack, &args.service, args.index)?;
    let runtime = stack.runtime();
    let record = runtime.find(&container.id)?;
    let RootFs::Overlay { upper, .. } = &record.supervisor.spec.rootfs else {
        return Err(anyhow!("container {} has no writable layer to commit", container.name));
    };
    let images = runtime.images();
    let image = images.resolve(&record.image_id)?;
    // The config as stored, so that Docker's own fields (Healthcheck, OnBuild, Shell) that the
    // OCI model drops are kept.
    let mut config: Value = serde_json::from_reader(std::io::BufReader::new(images.open_blob(&image.id)?))?;
    let mut run_config = config.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    super::image_change::apply_all(&mut run_config, &args.changes)?;
    let line = format!("Commit {}", container.name);
    if cli.dry_run {
        // compose's dry run: the progress lines, no image.
        let progress = super::progress::reporter(&cli.output, true);
        progress("", &line, "Committing");
        progress("", &line, "Committed");
        return Ok(ExitCode::SUCCESS);
    }
    let progress = super::progress::reporter(&cli.output, false);
    progress("", &line, "Committing");
    // Docker pauses the container while its layer is read so that it is consistent.
    let paused = args.pause && container.state.status == xcompose_supervisor::state::Status::Running;
    if paused {
        runtime.set_paused(&container.id, true)?;
    }
    // A writable layer stored with the range's ids (copied layers of a remapped root) is
    // committed with the container's, as dockerd's archiver maps them back.
    let shifted = record.supervisor.spec.user_namespace.as_ref().filter(|_| record.supervisor.spec.rootfs_ids_shifted);
    let layer = write_layer(images, upper, shifted);
    if paused {
        runtime.set_paused(&container.id, false)?;
    }
    let layer = layer?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let author = args.author.clone().unwrap_or_default();
    config["config"] = Value::Object(run_config);
    config["created"] = json!(created);
    config["author"] = json!(author);
    let diff_ids = config["rootfs"]["diff_ids"].as_array_mut().context("the image's config has no rootfs.diff_ids")?;
    diff_ids.push(json!(layer.diff_id));
    // Docker's history entry: the container's command as created_by, the message as comment.
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    if !author.is_empty() {
        entry.insert("author".into(), json!(author));
    }
    entry.insert("created_by".into(), json!(record.supervisor.spec.process.args.join(" ")));
    if let Some(message) = &args.message {
        entry.insert("comment".into(), json!(message));
    }
    match config.get_mut("history").and_then(Value::as_array_mut) {
        Some(history) => history.push(Value::Object(entry)),
        None => config["history"] = json!([entry]),
    }
    let mut layers = images.image_layers(&image.id)?;
    layers.push(layer);
    let references: Vec<String> = args.repository.iter().cloned().collect();
    let id = images.commit_built(serde_json::to_vec(&config)?, &layers, &references)?;
    progress("", &line, &format!("Committed as {id}"));
    Ok(ExitCode::SUCCESS)
}

/// The overlay upper directory `upper` written into the store as a layer; with `shifted`, its
/// files are stored with the host ids of that map and the layer gets the container's.
fn write_layer(images: &xcompose_images::ImageStore, upper: &std::path::Path, shifted: Option<&xcompose_container::IdMap>) -> Result<xcompose_images::StoredLayer> {
    let mut writer = images.layer_writer()?;
    let owner = |uid: u32, gid: u32| match shifted {
        None => Ok((uid, gid)),
        Some(map) => map.container_uid(uid).zip(map.container_gid(gid)).ok_or_else(|| std::io::Error::other(format!("a file owned by host ids {uid}:{gid}, outside the container's user namespace"))),
    };
    xcompose_builder::exec::diff::write_layer_owned_by(upper, &mut writer, &owner).with_context(|| format!("reading {}", upper.display()))?;
    writer.flush()?;
    Ok(writer.finish()?)
}
