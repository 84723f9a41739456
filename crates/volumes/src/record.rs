//! A volume as stored: `<root>/volumes/NAME/volume.json`, always replaced whole.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, VolumeError};
use crate::options::Local;
use crate::store::ANONYMOUS_LABEL;

/// A named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// Its driver: always `local`.
    pub driver: String,
    /// Labels given when it was created.
    pub labels: BTreeMap<String, String>,
    /// Driver options given when it was created.
    pub options: BTreeMap<String, String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// The directory holding its content: its `_data`, or the device of a bind volume.
    pub mountpoint: PathBuf,
}

impl Volume {
    /// Whether it is anonymous (`docker volume prune` without `--all` removes only those).
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// Whether its content is a directory of the host's given by bind options, which removing the
    /// volume leaves alone.
    pub fn is_bind(&self) -> bool {
        matches!(self.local(), Some(Local::Bind(_)))
    }

    /// Whether its content is a filesystem its options mount on its directory while it is used
    /// (`type=tmpfs`, `type=ext4`, ...).
    pub fn is_mounted_on_use(&self) -> bool {
        matches!(self.local(), Some(Local::Mounted(_)))
    }

    /// What its options make of it (they were checked when it was created).
    pub(crate) fn local(&self) -> Option<Local> {
        crate::options::local(&self.name, &self.options).ok()
    }
}

/// Reads a record; `Ok(None)` if there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Volume>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VolumeError::Corrupt { path: path.to_path_buf(), message: e.to_string() }),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(VolumeError::Io { path: path.to_path_buf(), source: e }),
    }
}

/// Writes a record atomically: temporary file beside it, fsync, rename, fsync the directory.
pub(crate) fn write(path: &Path, volume: &Volume) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(volume).map_err(|e| VolumeError::Corrupt { path: path.to_path_buf(), message: e.to_string() })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
    tmp.write_all(&bytes).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    tmp.persist(path).map_err(|e| VolumeError::Io { path: path.to_path_buf(), source: e.error })?;
    sync_dir(dir)
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume() -> Volume {
        Volume {
            name: "data".into(),
            driver: "local".into(),
            labels: [("a".to_string(), "1".to_string())].into(),
            options: BTreeMap::new(),
            created: Utc::now(),
            mountpoint: "/x/volumes/data/_data".into(),
        }
    }

    #[test]
    fn round_trips_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volume.json");
        assert_eq!(read(&path).unwrap(), None);
        let mut v = volume();
        write(&path, &v).unwrap();
        assert_eq!(read(&path).unwrap(), Some(v.clone()));
        v.labels.clear();
        write(&path, &v).unwrap();
        assert_eq!(read(&path).unwrap(), Some(v));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volume.json");
        fs::write(&path, "{\"name\":").unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(err, VolumeError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("remove that volume's directory"), "{err}");
    }

    #[test]
    fn records_of_earlier_versions_with_a_seeded_flag_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volume.json");
        let v = volume();
        let mut json = serde_json::to_value(&v).unwrap();
        json.as_object_mut().unwrap().insert("seeded".into(), true.into());
        fs::write(&path, json.to_string()).unwrap();
        assert_eq!(read(&path).unwrap(), Some(v));
    }
}
