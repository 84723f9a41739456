//! The project's volumes in the volume store: named ones (`<project>_<key>`), external ones
//! (which must exist), and anonymous ones; a new volume is seeded with what the image has at the
//! mount point, as Docker does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use xcompose_loader::model::ServiceVolume;
use xcompose_orchestrator::labels;
use xcompose_volumes::{random_name, Volume, ANONYMOUS_LABEL};

use crate::{Stack, StackError};

fn volume_error(e: xcompose_volumes::VolumeError) -> StackError {
    StackError::Invalid(e.to_string())
}

impl Stack {
    /// Creates project volume `key` (or checks that an external one exists).
    pub(crate) fn create_volume(&self, key: &str) -> Result<Volume, StackError> {
        let volume = self.project.volumes.get(key).ok_or_else(|| StackError::Invalid(format!("service refers to undefined volume {key}")))?;
        if volume.external {
            return self
                .volumes
                .get(&volume.name)
                .map_err(|_| StackError::Invalid(format!("external volume \"{}\" not found: create it with `xcompose volume create {}`", volume.name, volume.name)));
        }
        let labels = self.resource_labels(labels::VOLUME, key, &volume.labels);
        self.volumes.create(&volume.name, labels, volume.driver_opts.clone()).map_err(volume_error)
    }

    /// Whether project volume `key` exists.
    pub(crate) fn volume_exists(&self, key: &str) -> bool {
        self.project.volumes.get(key).is_some_and(|v| self.volumes.get(&v.name).is_ok())
    }

    /// The host directory mounted for `v` (of type `volume`) in a container of an image whose
    /// layers are `layers` (bottom first): the volume's, created and seeded if new.
    pub(crate) fn volume_source(&self, v: &ServiceVolume, layers: &[PathBuf]) -> Result<PathBuf, StackError> {
        let volume = if v.source.is_empty() {
            let labels = BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new()), (labels::PROJECT.to_string(), self.project.name.clone())]);
            self.volumes.create(&random_name().map_err(volume_error)?, labels, BTreeMap::new()).map_err(volume_error)?
        } else {
            self.create_volume(&v.source)?
        };
        if !v.volume.as_ref().is_some_and(|o| o.nocopy) && !volume.seeded {
            seed_from_image(&self.volumes, &volume.name, layers, Path::new(&v.target))?;
        }
        Ok(volume.mountpoint)
    }

    /// Removes the project's volumes (not external ones) and its anonymous volumes (`down -v`).
    pub(crate) fn remove_volumes(&self) -> Result<(), StackError> {
        let mut doomed: Vec<String> = self.project.volumes.values().filter(|v| !v.external).map(|v| v.name.clone()).collect();
        for v in self.volumes.list().map_err(volume_error)? {
            if v.is_anonymous() && v.labels.get(labels::PROJECT) == Some(&self.project.name) {
                doomed.push(v.name);
            }
        }
        for name in doomed {
            if self.volumes.get(&name).is_ok() {
                self.report("Volume", &name, "Removing");
                self.volumes.remove(&name).map_err(volume_error)?;
                self.report("Volume", &name, "Removed");
            }
        }
        Ok(())
    }
}

/// Seeds volume `name` with what the image (layers `layers`, bottom first) has at `target`.
/// Several layers are stacked read-only with overlayfs, in a mount namespace of a thread of its
/// own that goes away with the thread.
fn seed_from_image(store: &xcompose_volumes::VolumeStore, name: &str, layers: &[PathBuf], target: &Path) -> Result<(), StackError> {
    let relative = target.strip_prefix("/").unwrap_or(target).to_path_buf();
    if let [only] = layers {
        store.seed(name, &only.join(&relative)).map_err(volume_error)?;
        return Ok(());
    }
    let (store, name, layers) = (store.clone(), name.to_string(), layers.to_vec());
    std::thread::spawn(move || -> Result<(), StackError> {
        let sys = |what: &str, e: nix::Error| StackError::Invalid(format!("seeding volume {name}: {what}: {e}"));
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS).map_err(|e| sys("new mount namespace", e))?;
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).map_err(|e| sys("private mounts", e))?;
        let at = tempfile::tempdir().map_err(|e| StackError::Invalid(format!("seeding volume {name}: {e}")))?;
        let lower: Vec<String> = layers.iter().rev().map(|l| l.display().to_string()).collect();
        let options = format!("lowerdir={}", lower.join(":"));
        mount(Some("overlay"), at.path(), Some("overlay"), MsFlags::MS_RDONLY, Some(options.as_str())).map_err(|e| sys("mounting the image", e))?;
        store.seed(&name, &at.path().join(&relative)).map_err(volume_error)?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}
