//! The volume store of one state root, `<root>/volumes/`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{renameat2, Flock, FlockArg, RenameFlags, AT_FDCWD};
use nix::mount::{mount, umount2, MntFlags};

use crate::copy::{seed_dir, Seeding};
use xcompose_container::IdMap;
use crate::error::{io_err, nix_err, Result, VolumeError};
use crate::name::{random_name, validate_name};
use crate::options::{local, Local, MountOptions};
use crate::record::{self, sync_dir, Volume};
use crate::usage::tree_size;

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

const LOCK: &str = ".lock";
const RECORD: &str = "volume.json";
const DATA: &str = "_data";
/// Prefixes of a volume being made and of one being deleted; both start with a dot, which no
/// volume name does.
const NEW_PREFIX: &str = ".new-";
const REMOVING_PREFIX: &str = ".removing-";

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The names of the volumes removed, in name order.
    pub removed: Vec<String>,
    /// The bytes their content took (bind volumes' content is kept, so counts nothing).
    pub reclaimed: u64,
}

/// The volumes of one state root. Every change holds an exclusive `flock` on `volumes/.lock`,
/// every read a shared one, so processes and threads using the same root never see or make a
/// half-made volume.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
    ids: Option<IdMap>,
}

impl VolumeStore {
    /// Opens (creating if needed) the store under `root/volumes`.
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("volumes");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self { dir, ids: None })
    }

    /// The store of a remapped state root (see `xcompose_runtime::remap`): the volumes it makes
    /// belong to the root of `ids`'s range, and files seeded from an image are shifted into it,
    /// as dockerd does in `--userns-remap` mode.
    pub fn remapped(self, ids: Option<IdMap>) -> Self {
        Self { ids, ..self }
    }

    /// Creates the local volume `name` with `labels` and driver options `driver_opts`; an existing
    /// volume of that name is returned as it is, as Docker does.
    pub fn create(&self, name: &str, labels: BTreeMap<String, String>, driver_opts: BTreeMap<String, String>) -> Result<Volume> {
        validate_name(name)?;
        let _lock = self.lock_for_writing()?;
        if let Some(existing) = record::read(&self.dir.join(name).join(RECORD))? {
            return Ok(existing);
        }
        let device = match local(name, &driver_opts)? {
            Local::Bind(device) => Some(device),
            Local::Plain | Local::Mounted(_) => None,
        };
        let final_dir = self.dir.join(name);
        let volume = Volume {
            name: name.to_string(),
            driver: "local".to_string(),
            labels,
            options: driver_opts,
            created: chrono::Utc::now(),
            mountpoint: device.unwrap_or_else(|| final_dir.join(DATA)),
        };
        if final_dir.is_dir() {
            // A volume directory without a record (made by hand, or by an earlier xcompose) is
            // adopted, content and all.
            make_dir(&final_dir.join(DATA))?;
            record::write(&final_dir.join(RECORD), &volume)?;
            return Ok(volume);
        }
        let staging = tempfile::Builder::new().prefix(NEW_PREFIX).tempdir_in(&self.dir).map_err(io_err(&self.dir))?;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755)).map_err(io_err(staging.path()))?;
        make_dir(&staging.path().join(DATA))?;
        if let Some((uid, gid)) = self.ids.as_ref().and_then(|ids| ids.host_root().ok()) {
            let data = staging.path().join(DATA);
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).map_err(io_err(&data))?;
        }
        record::write(&staging.path().join(RECORD), &volume)?;
        renameat2(AT_FDCWD, staging.path(), AT_FDCWD, &final_dir, RenameFlags::RENAME_NOREPLACE).map_err(nix_err(&final_dir))?;
        let _final_dir = staging.keep();
        sync_dir(&self.dir)?;
        Ok(volume)
    }

    /// The volume `name`.
    pub fn get(&self, name: &str) -> Result<Volume> {
        let _lock = self.lock(FlockArg::LockShared)?;
        self.read(name)
    }

    /// Every volume, in name order.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let _lock = self.lock(FlockArg::LockShared)?;
        self.read_all()
    }

    /// Removes the volume `name` and its content (a bind volume's device is left alone).
    pub fn remove(&self, name: &str) -> Result<()> {
        let _lock = self.lock_for_writing()?;
        let volume = self.read(name)?;
        self.delete(&volume).map(drop)
    }

    /// Removes every volume `in_use` does not claim (`docker volume prune --all`).
    pub fn prune(&self, in_use: &dyn Fn(&str) -> bool) -> Result<Pruned> {
        self.prune_where(&|_| true, in_use)
    }

    /// Removes every anonymous volume `in_use` does not claim (`docker volume prune`).
    pub fn prune_anonymous(&self, in_use: &dyn Fn(&str) -> bool) -> Result<Pruned> {
        self.prune_where(&Volume::is_anonymous, in_use)
    }

    /// Seeds the volume `name` from `from`, the image's content at the path the volume is mounted
    /// on (a real directory, not a symbolic link: resolve it inside the image's root first).
    ///
    /// As Docker does whenever a container is created with a volume mounted, the tree is copied
    /// if the volume is empty: regular files, directories, symbolic links (as links, never
    /// followed), device nodes, FIFOs and sockets, with their modes, owners, extended attributes
    /// and times; hard links stay links. Nothing marks a volume as seeded: an empty copy (an image
    /// with nothing there) leaves it to the next container's image, so two services sharing it
    /// give the same result in either order, and an emptied volume is filled again. Whether
    /// anything was copied.
    pub fn seed(&self, name: &str, from: &Path) -> Result<bool> {
        let _lock = self.lock_for_writing()?;
        let volume = self.read(name)?;
        Ok(seed_dir(name, from, &volume.mountpoint, self.ids.as_ref())? == Seeding::Copied)
    }

    /// Mounts the filesystem of volume `name` on its directory if its options ask for one (as
    /// Docker's local driver does when a container using it starts) and it is not mounted yet.
    pub fn mount(&self, name: &str) -> Result<()> {
        let _lock = self.lock_for_writing()?;
        let volume = self.read(name)?;
        let Some(Local::Mounted(options)) = volume.local() else { return Ok(()) };
        if is_mount_point(&volume.mountpoint)? {
            return Ok(());
        }
        let MountOptions { fs_type, device, flags, data } = options;
        mount(Some(device.as_str()), &volume.mountpoint, Some(fs_type.as_str()), flags, (!data.is_empty()).then_some(data.as_str()))
            .map_err(|source| VolumeError::Mount { path: volume.mountpoint.clone(), device, flags: flags.bits(), data, source })
    }

    /// Unmounts the filesystem of volume `name` from its directory, if mounted (when no
    /// container uses it any more); its content stays in the filesystem, not in the store.
    pub fn unmount(&self, name: &str) -> Result<()> {
        let _lock = self.lock_for_writing()?;
        let volume = self.read(name)?;
        unmount_volume(&volume)
    }

    fn prune_where(&self, wanted: &dyn Fn(&Volume) -> bool, in_use: &dyn Fn(&str) -> bool) -> Result<Pruned> {
        let _lock = self.lock_for_writing()?;
        let mut pruned = Pruned::default();
        for volume in self.read_all()? {
            if wanted(&volume) && !in_use(&volume.name) {
                pruned.reclaimed += self.delete(&volume)?;
                pruned.removed.push(volume.name);
            }
        }
        Ok(pruned)
    }

    fn lock(&self, how: FlockArg) -> Result<Flock<File>> {
        let path = self.dir.join(LOCK);
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        Flock::lock(file, how).map_err(|(_, e)| VolumeError::Io { path, source: e.into() })
    }

    /// Takes the exclusive lock, then clears what an interrupted create or remove left behind.
    fn lock_for_writing(&self) -> Result<Flock<File>> {
        let lock = self.lock(FlockArg::LockExclusive)?;
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(NEW_PREFIX) || name.starts_with(REMOVING_PREFIX) {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            }
        }
        Ok(lock)
    }

    /// Reads the volume `name` (the caller holds the lock).
    fn read(&self, name: &str) -> Result<Volume> {
        // An invalid name names no volume, and must not be joined to a path (`..`, `a/b`).
        if validate_name(name).is_err() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        record::read(&self.dir.join(name).join(RECORD))?.ok_or_else(|| VolumeError::NotFound(name.to_string()))
    }

    /// Reads every volume (the caller holds the lock).
    fn read_all(&self) -> Result<Vec<Volume>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let name = entry.map_err(io_err(&self.dir))?.file_name().to_string_lossy().into_owned();
            if validate_name(&name).is_ok() {
                names.push(name);
            }
        }
        names.sort();
        let mut volumes = Vec::with_capacity(names.len());
        for name in names {
            if let Some(volume) = record::read(&self.dir.join(&name).join(RECORD))? {
                volumes.push(volume);
            }
        }
        Ok(volumes)
    }

    /// Deletes a volume's directory (the caller holds the exclusive lock); the bytes its content took.
    fn delete(&self, volume: &Volume) -> Result<u64> {
        let dir = self.dir.join(&volume.name);
        let size = if volume.is_bind() { 0 } else { tree_size(&dir.join(DATA))? };
        unmount_volume(volume)?;
        // Renamed out of the way first, so that the volume disappears at once even if deleting
        // its content is interrupted; what is left is cleared by the next writer.
        let doomed = self.dir.join(format!("{REMOVING_PREFIX}{}", random_name()?));
        fs::rename(&dir, &doomed).map_err(io_err(&dir))?;
        sync_dir(&self.dir)?;
        xcompose_fault::point("volume.remove.hidden");
        match fs::remove_dir_all(&doomed) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(VolumeError::Io { path: doomed, source: e }),
            _ => Ok(size),
        }
    }
}

/// Unmounts what a mounted volume has on its directory (nothing for other volumes).
fn unmount_volume(volume: &Volume) -> Result<()> {
    if volume.is_mounted_on_use() && is_mount_point(&volume.mountpoint)? {
        umount2(&volume.mountpoint, MntFlags::MNT_DETACH).map_err(nix_err(&volume.mountpoint))?;
    }
    Ok(())
}

/// Whether something is mounted on `dir` (it and its parent are on different devices).
fn is_mount_point(dir: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let parent = dir.parent().unwrap_or(dir);
    let (own, above) = (fs::metadata(dir).map_err(io_err(dir))?, fs::metadata(parent).map_err(io_err(parent))?);
    Ok(own.dev() != above.dev())
}

/// Makes `dir` with mode 0755, as Docker makes a volume's directories; an existing one is left as it is.
fn make_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        made => made.and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o755))).map_err(io_err(dir)),
    }
}
