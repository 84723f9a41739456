//! The project's volumes in the volume store: named ones (`<project>_<key>`), external ones
//! (which must exist), and anonymous ones (the service's, and one per VOLUME of the image,
//! inherited by the container that replaces theirs); an empty volume is seeded with what the
//! image has at the mount point each time a container is created with it, as Docker does.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use xcompose_container::{Mount, MountKind, Recursive};
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
        self.volumes.create(&volume.name, labels, local_driver_opts(&volume.driver_opts, &self.working_dir)).map_err(volume_error)
    }

    /// Fails, before anything is made, on the driver options of a project volume still to be
    /// created that its creation would refuse (such as `size`), naming the volume.
    pub(crate) fn check_volume_options(&self) -> Result<(), StackError> {
        for volume in self.project.volumes.values().filter(|v| !v.external && self.volumes.get(&v.name).is_err()) {
            xcompose_volumes::check_options(&volume.name, &local_driver_opts(&volume.driver_opts, &self.working_dir)).map_err(volume_error)?;
        }
        Ok(())
    }

    /// Whether project volume `key` exists.
    pub(crate) fn volume_exists(&self, key: &str) -> bool {
        self.project.volumes.get(key).is_some_and(|v| self.volumes.get(&v.name).is_ok())
    }

    /// The host directory mounted for `v` (of type `volume`) in a container of an image whose
    /// layers are `layers` (bottom first): the volume's, created if new and seeded if empty; for an
    /// anonymous one, the volume `inherited` has at its target, if any.
    pub(crate) fn volume_source(&self, v: &ServiceVolume, layers: &[PathBuf], inherited: &AnonymousVolumes) -> Result<PathBuf, StackError> {
        let volume = if v.source.is_empty() { self.anonymous_volume(Path::new(&v.target), inherited)? } else { self.create_volume(&v.source)? };
        // As Docker's local driver: a volume with a filesystem to mount is mounted for the
        // container that uses it (and seeded into it).
        self.volumes.mount(&volume.name).map_err(volume_error)?;
        let subpath = v.volume.as_ref().map(|o| o.subpath.as_str()).filter(|s| !s.is_empty());
        if let Some(subpath) = subpath {
            // As Docker: a sub-directory that must exist already, and nothing copied from the
            // image into it.
            return volume_subpath(&volume.name, &volume.mountpoint, subpath);
        }
        if !v.volume.as_ref().is_some_and(|o| o.nocopy) {
            seed_from_image(&self.volumes, &volume.name, layers, Path::new(&v.target))?;
        }
        Ok(volume.mountpoint)
    }

    /// Mounts for the image's VOLUME paths (`image_volumes`) that no mount in `taken` covers: an
    /// anonymous volume each, seeded from the image (layers `layers`), or the one `inherited`
    /// has at that path, as Docker and compose do.
    pub(crate) fn image_volume_mounts<'a>(
        &self,
        image_volumes: impl Iterator<Item = &'a String>,
        taken: &[Mount],
        layers: &[PathBuf],
        inherited: &AnonymousVolumes,
    ) -> Result<Vec<Mount>, StackError> {
        let mut mounts = Vec::new();
        for path in image_volumes {
            let target = clean(path);
            if taken.iter().chain(&mounts).any(|m: &Mount| clean(&m.target.to_string_lossy()) == target) {
                continue;
            }
            let volume = self.anonymous_volume(&target, inherited)?;
            seed_from_image(&self.volumes, &volume.name, layers, &target)?;
            mounts.push(Mount { target, kind: MountKind::Bind { source: volume.mountpoint, recursive: Recursive::default(), propagation: Default::default() }, read_only: false });
        }
        Ok(mounts)
    }

    /// The anonymous volumes container `id` mounts, by mount point: what the container that
    /// replaces it inherits (compose passes them on when it recreates a container).
    pub(crate) fn anonymous_volumes_of(&self, id: &str) -> Result<AnonymousVolumes, StackError> {
        let record = self.runtime.find(id)?;
        let by_mountpoint: BTreeMap<PathBuf, String> =
            self.volumes.list().map_err(volume_error)?.into_iter().filter(|v| v.is_anonymous()).map(|v| (v.mountpoint, v.name)).collect();
        Ok(record
            .supervisor
            .spec
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Bind { source, .. } => by_mountpoint.get(source).map(|name| (clean(&m.target.to_string_lossy()), name.clone())),
                _ => None,
            })
            .collect())
    }

    /// The anonymous volume for `target`: the one `inherited` has there, else a new one (a
    /// random 64-hex name, labelled anonymous and with the project).
    fn anonymous_volume(&self, target: &Path, inherited: &AnonymousVolumes) -> Result<Volume, StackError> {
        if let Some(volume) = inherited.get(&clean(&target.to_string_lossy())).and_then(|name| self.volumes.get(name).ok()) {
            return Ok(volume);
        }
        let labels = BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new()), (labels::PROJECT.to_string(), self.project.name.clone())]);
        self.volumes.create(&random_name().map_err(volume_error)?, labels, BTreeMap::new()).map_err(volume_error)
    }

    /// Mounts the filesystems of the volumes container `id` uses that have one (`type=tmpfs`,
    /// ...) and are not mounted: when it starts again after they were let go.
    pub(crate) fn mount_volumes_of(&self, id: &str) -> Result<(), StackError> {
        let sources = self.bind_sources(&[id.to_string()])?;
        for volume in self.volumes.list().map_err(volume_error)?.into_iter().filter(|v| v.is_mounted_on_use()) {
            if sources.iter().any(|s| s.starts_with(&volume.mountpoint)) {
                self.volumes.mount(&volume.name).map_err(volume_error)?;
            }
        }
        Ok(())
    }

    /// Unmounts the filesystems of the volumes no container uses any more, as Docker's local
    /// driver does when the last container using one goes.
    pub(crate) fn unmount_unused_volumes(&self) -> Result<(), StackError> {
        let mounted: Vec<Volume> = self.volumes.list().map_err(volume_error)?.into_iter().filter(|v| v.is_mounted_on_use()).collect();
        if mounted.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = self.runtime.list()?.into_iter().map(|c| c.id).collect();
        let sources = self.bind_sources(&ids)?;
        for volume in mounted {
            if !sources.iter().any(|s| s.starts_with(&volume.mountpoint)) {
                self.volumes.unmount(&volume.name).map_err(volume_error)?;
            }
        }
        Ok(())
    }

    /// The sources of the bind mounts of containers `ids` (those removed meanwhile left out).
    fn bind_sources(&self, ids: &[String]) -> Result<Vec<PathBuf>, StackError> {
        let mut sources = Vec::new();
        for id in ids {
            let record = match self.runtime.find(id) {
                Ok(record) => record,
                Err(xcompose_runtime::RuntimeError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            sources.extend(record.supervisor.spec.mounts.iter().filter_map(|m| match &m.kind {
                MountKind::Bind { source, .. } => Some(source.clone()),
                MountKind::Tmpfs { .. } => None,
            }));
        }
        Ok(sources)
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

/// Anonymous volumes by the path they are mounted at.
pub(crate) type AnonymousVolumes = BTreeMap<PathBuf, String>;

/// `path` as Docker compares mount points: lexically cleaned (`/data/` and `/data/./` are
/// `/data`).
fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in Path::new(path).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
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
        let options = xcompose_rootless::overlay_mount_options(format!("lowerdir={}", lower.join(":")));
        mount(Some("overlay"), at.path(), Some("overlay"), MsFlags::MS_RDONLY, Some(options.as_str())).map_err(|e| sys("mounting the image", e))?;
        store.seed(&name, &at.path().join(&relative)).map_err(volume_error)?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// `subpath` of volume `name` (at `mountpoint`): an existing path inside the volume, symlinks
/// resolved, which may not lead out of it.
fn volume_subpath(name: &str, mountpoint: &Path, subpath: &str) -> Result<PathBuf, StackError> {
    let invalid = |reason: String| StackError::Invalid(format!("volume {name}: subpath {subpath:?} {reason}"));
    if Path::new(subpath).is_absolute() {
        return Err(invalid("must be a relative path inside the volume".into()));
    }
    let root = std::fs::canonicalize(mountpoint).map_err(StackError::io(mountpoint))?;
    let path = std::fs::canonicalize(root.join(subpath)).map_err(|e| invalid(format!("cannot be accessed: {e}; create it in the volume first")))?;
    if !path.starts_with(&root) {
        return Err(invalid("leads out of the volume".into()));
    }
    Ok(path)
}

/// A local volume's `driver_opts` as its mount needs them: a bind device (`o: bind`) relative
/// to the project directory made absolute. `config` keeps it as written, as compose v2.40.3
/// prints it (tests/conformance/newer-keys); the mount resolves it against the project.
fn local_driver_opts(opts: &BTreeMap<String, String>, project_dir: &Path) -> BTreeMap<String, String> {
    let mut opts = opts.clone();
    if opts.get("o").map(String::as_str) == Some("bind") {
        if let Some(device) = opts.get_mut("device").filter(|d| Path::new(d.as_str()).is_relative()) {
            *device = project_dir.join(&device).to_string_lossy().into_owned();
        }
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_compared_cleaned() {
        assert_eq!(clean("/data/"), PathBuf::from("/data"));
        assert_eq!(clean("/var/./lib/../lib/db"), PathBuf::from("/var/lib/db"));
        assert_eq!(clean("data"), PathBuf::from("/data"));
    }

    #[test]
    fn a_relative_bind_device_is_taken_from_the_project_directory() {
        let opts = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let project = Path::new("/project");
        assert_eq!(local_driver_opts(&opts(&[("type", "none"), ("o", "bind"), ("device", "./data")]), project)["device"], "/project/./data");
        assert_eq!(local_driver_opts(&opts(&[("type", "none"), ("o", "bind"), ("device", "/abs")]), project)["device"], "/abs");
        assert_eq!(local_driver_opts(&opts(&[("type", "tmpfs"), ("o", "size=1m"), ("device", "tmpfs")]), project)["device"], "tmpfs");
    }
}
