//! A service's `secrets:` and `configs:`, as Docker Compose gives them without swarm: each one a
//! read-only file in the container, at `/run/secrets/<target>` (secrets) or `/<target>`
//! (configs), the target defaulting to the source's key.
//!
//! - From a `file:`, the file itself is bind-mounted. Its `uid`, `gid` and `mode` cannot be
//!   applied to the host's file: compose ignores them with a warning, and so does xcompose, in
//!   compose's words.
//! - From an `environment:` variable or inline `content:`, compose copies a file into the
//!   container, mode `mode` (default 0444), owned by `uid`:`gid` (default 0:0). xcompose writes that
//!   file under `<root>/projects/<project>.files/<service>/` and binds it read-only (the
//!   container cannot change what it was given, where it could change compose's copy).
//!
//! Every source is checked before anything is made ([`check_sources`]): a missing file or an
//! unset variable fails `up` in one line, as an external secret does (see `keys/refused.toml`).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use xcompose_container::{Mount, MountKind};
use xcompose_loader::model::{FileObject, FileReference, Service};
use xcompose_loader::Project;

use crate::{Stack, StackError};

/// Secrets or configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }

    /// Where a relative (or missing) target goes.
    fn base(self) -> &'static str {
        match self {
            Kind::Secret => "/run/secrets/",
            Kind::Config => "/",
        }
    }
}

/// Each of `service`'s references with its kind and the definition it names.
fn references<'a>(project: &'a Project, service_name: &str, service: &'a Service) -> Result<Vec<(Kind, &'a FileReference, &'a FileObject)>, StackError> {
    let mut out = Vec::new();
    for (kind, refs, defs) in [(Kind::Secret, &service.secrets, &project.secrets), (Kind::Config, &service.configs, &project.configs)] {
        for reference in refs {
            let definition = defs.get(&reference.source).ok_or_else(|| StackError::Service {
                service: service_name.to_string(),
                message: format!("{} {:?} is not defined: add it under the top-level {}s", kind.name(), reference.source, kind.name()),
            })?;
            out.push((kind, reference, definition));
        }
    }
    Ok(out)
}

/// The path in the container of `reference`.
fn target(kind: Kind, reference: &FileReference) -> PathBuf {
    let target = if reference.target.is_empty() { reference.source.as_str() } else { reference.target.as_str() };
    if target.starts_with('/') {
        PathBuf::from(target)
    } else {
        PathBuf::from(format!("{}{target}", kind.base()))
    }
}

/// Fails, before anything is made, when a secret or config a service uses has no source to
/// read: a missing file or an unset variable.
pub(crate) fn check_sources(project: &Project) -> Result<(), StackError> {
    for (service_name, service) in &project.services {
        for (kind, reference, definition) in references(project, service_name, service)? {
            let what = format!("{} {:?}", kind.name(), reference.source);
            if !definition.file.is_empty() && !Path::new(&definition.file).exists() {
                return Err(StackError::Service { service: service_name.clone(), message: format!("{what}: file {} not found: create it or fix the path", definition.file) });
            }
            if !definition.environment.is_empty() && definition.environment_value.is_none() {
                return Err(StackError::Service {
                    service: service_name.clone(),
                    message: format!("{what}: environment variable {:?} is not set: set it (or in .env), or define the {} with file:", definition.environment, kind.name()),
                });
            }
        }
    }
    Ok(())
}

impl Stack {
    /// The read-only mounts of `service`'s secrets and configs; those given by content are
    /// written first.
    pub(crate) fn file_object_mounts(&self, service_name: &str, service: &Service) -> Result<Vec<Mount>, StackError> {
        let dir = self.file_objects_dir().join(service_name);
        let mut mounts = Vec::new();
        for (index, (kind, reference, definition)) in references(&self.project, service_name, service)?.into_iter().enumerate() {
            let source = if definition.file.is_empty() {
                let content = definition.environment_value.as_deref().unwrap_or(&definition.content);
                let path = dir.join(format!("{}-{index}", kind.name()));
                let ids = self.runtime.remap().filter(|_| !crate::userns::host_ids(service));
                write_file_object(&path, content.as_bytes(), reference, ids)?;
                path
            } else {
                if !reference.uid.is_empty() || !reference.gid.is_empty() || reference.mode.is_some() {
                    eprintln!("WARN[0000] {}s `uid`, `gid` and `mode` are not supported, they will be ignored", kind.name());
                }
                PathBuf::from(&definition.file)
            };
            mounts.push(Mount { target: target(kind, reference), kind: MountKind::Bind { source, recursive: Default::default(), propagation: Default::default() }, read_only: true });
        }
        Ok(mounts)
    }

    /// Where the files of secrets and configs given by content are written.
    pub(crate) fn file_objects_dir(&self) -> PathBuf {
        self.root.join("projects").join(format!("{}.files", self.project.name))
    }
}

/// Writes `content` atomically to `path` with the reference's mode (default 0444) and owner
/// (numeric `uid`/`gid`, default 0, as compose's copy has them; in a container with a user
/// namespace, `ids` give the host ids of those, the host's nobody outside its range).
fn write_file_object(path: &Path, content: &[u8], reference: &FileReference, ids: Option<&xcompose_container::IdMap>) -> Result<(), StackError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(StackError::io(dir))?;
    let id = |text: &str, what: &str| -> Result<u32, StackError> {
        if text.is_empty() {
            return Ok(0);
        }
        text.parse().map_err(|_| StackError::Invalid(format!("{}: {what} {text:?} must be a number", reference.source)))
    };
    let (mut uid, mut gid) = (id(&reference.uid, "uid")?, id(&reference.gid, "gid")?);
    if let Some(ids) = ids {
        const NOBODY: u32 = 65534;
        (uid, gid) = (ids.host_uid(uid).unwrap_or(NOBODY), ids.host_gid(gid).unwrap_or(NOBODY));
    }
    let mode = reference.mode.as_ref().map_or(0o444, |m| m.0);
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(StackError::io(dir))?;
    file.write_all(content).map_err(StackError::io(path))?;
    std::os::unix::fs::fchown(file.as_file(), Some(uid), Some(gid)).map_err(StackError::io(path))?;
    file.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(StackError::io(path))?;
    file.persist(path).map_err(|e| StackError::Io { path: path.to_path_buf(), source: e.error })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_default_to_the_source_under_each_kind_s_base() {
        let reference = |source: &str, target: &str| FileReference { source: source.into(), target: target.into(), ..Default::default() };
        assert_eq!(target(Kind::Secret, &reference("token", "")), Path::new("/run/secrets/token"));
        assert_eq!(target(Kind::Secret, &reference("token", "api.key")), Path::new("/run/secrets/api.key"));
        assert_eq!(target(Kind::Config, &reference("motd", "")), Path::new("/motd"));
        assert_eq!(target(Kind::Config, &reference("app", "etc/app.conf")), Path::new("/etc/app.conf"));
        assert_eq!(target(Kind::Config, &reference("app", "/srv/app.conf")), Path::new("/srv/app.conf"));
    }
}
