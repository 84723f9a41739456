//! The steps that change the filesystem, each planned in two halves: its cache key and history
//! text (computed from the instruction, the stage's state and, for COPY and ADD, the content
//! digest of what it copies), and the work itself, done on a fresh [`Snapshot`] only when the
//! cache has no record of the key.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};
use xcompose_container::{Mount, MountKind, NetworkNamespace};
use xcompose_images::ImageStore;

use crate::exec::build::{layers_of, BuildError, BuildRequest};
use crate::exec::copy::{copy_into, CopyItem, CopyOptions};
use crate::exec::interim::expand;
use crate::exec::progress::Vertex;
use crate::exec::run::{run, RunSpec};
use crate::exec::snapshot::Snapshot;
use crate::exec::stage::{StageBuilder, StageResult, StageState};
use crate::model::{CommandLine, CopyArgs, CopySource, Dockerfile, RunArgs};

/// The work of a step, given its output vertex: the snapshot holding its changes.
pub(crate) type Work<'a> = Box<dyn FnOnce(&Vertex) -> Result<Snapshot, BuildError> + 'a>;

/// A step ready to be taken from the cache or carried out.
pub(crate) struct Planned<'a> {
    /// Its cache key.
    pub key: String,
    /// Its history entry's `created_by`.
    pub created_by: String,
    /// The working directory it sets (WORKDIR).
    pub workdir: Option<String>,
    /// The work, if the cache has no record of the key.
    pub execute: Work<'a>,
}

/// What a step can reach.
pub(crate) struct Step<'a> {
    /// The image store.
    pub store: &'a ImageStore,
    /// The build's request.
    pub request: &'a BuildRequest,
    /// Where snapshots are made.
    pub tmp: &'a Path,
    /// The stages built so far.
    pub stages: &'a BTreeMap<usize, StageResult>,
    /// The Dockerfile.
    pub dockerfile: &'a Dockerfile,
    /// The stage builder (to pull images named by `--from`).
    pub builder: &'a StageBuilder<'a>,
}

fn invalid(message: impl Into<String>) -> BuildError {
    BuildError::Invalid(message.into())
}

/// `path` made absolute against the working directory `workdir`, `.` and `..` resolved, a
/// trailing `/` kept.
fn absolute(path: &str, workdir: &str) -> String {
    let joined = if path.starts_with('/') { PathBuf::from(path) } else { Path::new(if workdir.is_empty() { "/" } else { workdir }).join(path) };
    let mut clean = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    let mut out = clean.display().to_string();
    if (path.ends_with('/') || path.ends_with("/.") || path == ".") && !out.ends_with('/') {
        out.push('/');
    }
    out
}

impl<'a> Step<'a> {
    /// RUN.
    pub fn run(&self, state: &StageState, args: &RunArgs, _vertex: &Vertex) -> Result<Planned<'a>, BuildError> {
        let command = match &args.command {
            CommandLine::Exec(words) => words.clone(),
            CommandLine::Shell(text) => {
                let script = match args.heredocs.first() {
                    Some(heredoc) if text.trim_start().starts_with("<<") => heredoc.content.clone(),
                    _ => text.clone(),
                };
                state.shell().into_iter().chain([script]).collect()
            }
        };
        let vars = state.vars();
        let mut env = state.env();
        for (name, value) in &state.args {
            if !env.iter().any(|e| e.split('=').next() == Some(name.as_str())) {
                env.push(format!("{name}={value}"));
            }
        }
        let user = state.config_str("User");
        let cwd = absolute(&state.config_str("WorkingDir"), "/");
        let network = args.network.as_deref().map(|n| expand(n, &vars)).or(self.request.network.clone()).unwrap_or_else(|| "default".into());
        let network_ns = match network.as_str() {
            // The NATed build network is not there yet: RUN shares the host's network, as
            // `network: host` would (what BuildKit's default does for reaching the outside).
            "default" | "host" => NetworkNamespace::Host,
            "none" => NetworkNamespace::New,
            other => return Err(invalid(format!("network mode {other:?} not supported by RUN --network: use default, none or host"))),
        };
        let mounts: Vec<String> = args.mounts.iter().map(|m| expand(m, &vars)).collect();
        let parsed: Vec<RunMount> = mounts.iter().map(|m| RunMount::parse(m)).collect::<Result<_, _>>()?;
        let mut key = self.builder.key(state).with("RUN", &command.join("\0")).with("env", &env.join("\0")).with("user", &user).with("cwd", &cwd).with("network", &network);
        for mount in &mounts {
            key = key.with("mount", mount);
        }
        let lower = state.layer_dirs(self.store);
        let created_by = format!("RUN {} # buildkit", command.join(" "));
        let (store, request, tmp) = (self.store, self.request, self.tmp);
        let cache = self.builder.cache;
        let execute: Work<'a> = Box::new(move |vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the RUN snapshot: {e}")))?;
            let etc = lower.iter().rev().find(|d| d.join("etc/passwd").exists()).cloned().unwrap_or_default();
            let resolved = xcompose_container::user::resolve(&user, &etc).map_err(invalid)?;
            if !env.iter().any(|e| e.starts_with("HOME=")) {
                env.push(format!("HOME={}", resolved.home));
            }
            let mut container_mounts = Vec::new();
            for mount in &parsed {
                container_mounts.extend(mount.resolve(request, cache, &snapshot)?);
            }
            let spec = RunSpec {
                args: command,
                env,
                cwd: PathBuf::from(cwd),
                uid: resolved.uid,
                gid: resolved.gid,
                additional_gids: resolved.additional_gids,
                network: network_ns,
                mounts: container_mounts,
                extra_hosts: request.extra_hosts.clone(),
                privileged: request.privileged,
                shm_size: request.shm_size,
            };
            let _ = store;
            run(&snapshot, &spec, &|line| vertex.output(line)).map_err(|e| invalid(e.to_string()))?;
            Ok(snapshot)
        });
        Ok(Planned { key: key.finish(), created_by, workdir: None, execute })
    }

    /// WORKDIR: the directory is created (owned by the USER) when the image does not have it.
    pub fn workdir(&self, state: &StageState, path: &str) -> Result<Planned<'a>, BuildError> {
        let path = absolute(&expand(path, &state.vars()), &state.config_str("WorkingDir"));
        let path = if path.len() > 1 { path.trim_end_matches('/').to_string() } else { path };
        let user = state.config_str("User");
        let key = self.builder.key(state).with("WORKDIR", &path).with("user", &user).finish();
        let lower = state.layer_dirs(self.store);
        let tmp = self.tmp;
        let dir = path.clone();
        let execute: Work<'a> = Box::new(move |_vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the WORKDIR snapshot: {e}")))?;
            snapshot
                .with_mounted(&[], |root, _| -> Result<(), String> {
                    let at = xcompose_container::secure_join(root, Path::new(&dir))?;
                    if at.exists() {
                        return Ok(());
                    }
                    let owner = xcompose_container::user::resolve(&user, root)?;
                    let options = CopyOptions { owner: Some((owner.uid, owner.gid)), mode: None };
                    copy_into(root, &[], &format!("{dir}/"), &options, &|_| true).map_err(|e| e.to_string())
                })
                .map_err(|e| invalid(e.to_string()))?
                .map_err(invalid)?;
            Ok(snapshot)
        });
        Ok(Planned { key, created_by: format!("WORKDIR {path}"), workdir: Some(path), execute })
    }

    /// COPY and ADD.
    pub fn copy(&self, state: &StageState, args: &CopyArgs, add: bool) -> Result<Planned<'a>, BuildError> {
        let keyword = if add { "ADD" } else { "COPY" };
        let vars = state.vars();
        let x = |w: &str| expand(w, &vars);
        let dest = absolute(&x(&args.dest), &state.config_str("WorkingDir"));
        let chown = args.chown.as_deref().map(x);
        let mode = match args.chmod.as_deref().map(x) {
            Some(m) => Some(u32::from_str_radix(&m, 8).map_err(|_| invalid(format!("invalid chmod parameter {m:?}: use an octal mode such as 0755")))?),
            None => None,
        };
        let source = self.copy_source(args.from.as_deref().map(x))?;
        let mut key = self.builder.key(state).with(keyword, &dest).with("chown", chown.as_deref().unwrap_or("")).with("chmod", &format!("{mode:?}"));
        let mut items = Vec::new();
        let mut shown = Vec::new();
        for src in &args.sources {
            match src {
                CopySource::Heredoc(heredoc) => {
                    let content = if heredoc.expand { x(&heredoc.content) } else { heredoc.content.clone() };
                    key = key.with("inline", &format!("{}\0{content}", heredoc.name));
                    shown.push(format!("<<{}", heredoc.name));
                    items.push(SourceItem::Inline { name: heredoc.name.clone(), content: content.into_bytes() });
                }
                CopySource::Path(path) => {
                    let path = x(path);
                    if add && (path.starts_with("http://") || path.starts_with("https://") || path.starts_with("git@")) {
                        return Err(invalid(format!("ADD {path}: adding remote URLs is not supported by xcompose's builder yet: download it in a RUN step, or COPY a local file")));
                    }
                    let rel = relative_source(&path)?;
                    match &source {
                        CopySourceKind::Directory(dir) => {
                            let host = dir.join(&rel);
                            key = key.with("source", &format!("{}\0{}", rel.display(), content_digest(&host).map_err(|_| invalid(format!("failed to compute cache key: \"/{}\": not found", rel.display())))?));
                        }
                        CopySourceKind::Layers { key: from, .. } => key = key.with("source", &format!("{from}\0{}", rel.display())),
                    }
                    shown.push(path);
                    items.push(SourceItem::Path(rel));
                }
            }
        }
        let from_flag = args.from.as_deref().map(|f| format!("--from={} ", x(f))).unwrap_or_default();
        let created_by = format!("{keyword} {from_flag}{} {} # buildkit", shown.join(" "), x(&args.dest));
        let lower = state.layer_dirs(self.store);
        let tmp = self.tmp;
        let execute: Work<'a> = Box::new(move |_vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the {keyword} snapshot: {e}")))?;
            let sources = match &source {
                CopySourceKind::Layers { dirs, .. } => vec![dirs.clone()],
                CopySourceKind::Directory(_) => Vec::new(),
            };
            snapshot
                .with_mounted(&sources, |root, mounted| -> Result<(), String> {
                    let base = match &source {
                        CopySourceKind::Directory(dir) => dir.clone(),
                        CopySourceKind::Layers { .. } => mounted[0].clone(),
                    };
                    let owner = chown.as_deref().map(|spec| chown_ids(spec, root)).transpose()?;
                    let items = items
                        .into_iter()
                        .map(|item| match item {
                            SourceItem::Inline { name, content } => Ok(CopyItem::Inline { name, content }),
                            SourceItem::Path(rel) => {
                                let host = xcompose_container::secure_join(&base, &Path::new("/").join(&rel))?;
                                if std::fs::symlink_metadata(&host).is_err() {
                                    return Err(format!("failed to compute cache key: \"/{}\": not found", rel.display()));
                                }
                                Ok(CopyItem::Path(host))
                            }
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    copy_into(root, &items, &dest, &CopyOptions { owner, mode }, &|_| true).map_err(|e| e.to_string())
                })
                .map_err(|e| invalid(e.to_string()))?
                .map_err(invalid)?;
            Ok(snapshot)
        });
        Ok(Planned { key: key.finish(), created_by, workdir: None, execute })
    }

    /// Where `--from` copies from: the context, a named context, an earlier stage or an image.
    fn copy_source(&self, from: Option<String>) -> Result<CopySourceKind, BuildError> {
        let Some(from) = from else { return Ok(CopySourceKind::Directory(self.request.context.clone())) };
        if let Some(dir) = self.request.additional_contexts.get(&from) {
            return Ok(CopySourceKind::Directory(dir.clone()));
        }
        if let Some(stage) = self.dockerfile.stage(&from) {
            let built = self.stages.get(&stage.index).ok_or_else(|| invalid(format!("stage {from} is not built before it is used: a stage can only copy from an earlier one")))?;
            return Ok(CopySourceKind::Layers { dirs: layers_of(&built.layers, self.store), key: built.key.clone() });
        }
        let id = self.builder.image(&from)?;
        Ok(CopySourceKind::Layers { dirs: layers_of(&self.store.image_layers(&id)?, self.store), key: id })
    }
}

/// Where a COPY takes its files from.
enum CopySourceKind {
    /// A directory on the host (the context or a named one).
    Directory(PathBuf),
    /// The root filesystem of a stage or image: its layer directories and cache identity.
    Layers {
        /// Layer directories, bottom first.
        dirs: Vec<PathBuf>,
        /// Its cache identity (the stage's last key, or the image ID).
        key: String,
    },
}

/// A source before it is found in the mounted source.
enum SourceItem {
    Path(PathBuf),
    Inline { name: String, content: Vec<u8> },
}

/// A COPY source as a path relative to its source root; `..` may not leave it.
fn relative_source(path: &str) -> Result<PathBuf, BuildError> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return Err(invalid(format!("COPY source {path:?} is outside the build context: sources are paths inside the context")));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `--chown`'s user and group, names resolved in the image's `/etc/passwd` and `/etc/group`; a
/// user without a group gets the group of the same number, as Docker does.
fn chown_ids(spec: &str, root: &Path) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = xcompose_container::user::resolve(user, root)?.uid;
    let gid = match group {
        Some(g) => xcompose_container::user::resolve(&format!("{uid}:{g}"), root)?.gid,
        None => uid,
    };
    Ok((uid, gid))
}

/// A digest of the files at `path` (names, types, modes, link targets and contents; not owners
/// or times, which COPY does not keep), for cache keys.
fn content_digest(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    hash_tree(path, Path::new(""), &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

fn hash_tree(path: &Path, rel: &Path, hasher: &mut Sha256) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    hasher.update(rel.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    hasher.update(meta.mode().to_le_bytes());
    if meta.file_type().is_symlink() {
        hasher.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if meta.is_file() {
        hasher.update(meta.len().to_le_bytes());
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    } else if meta.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<_>>()?;
        names.sort();
        for name in names {
            hash_tree(&path.join(&name), &rel.join(&name), hasher)?;
        }
    }
    Ok(())
}

/// One `RUN --mount=...`.
#[derive(Debug, Clone)]
enum RunMount {
    /// `type=cache`: a persistent directory.
    Cache { target: String, id: String, read_only: bool, uid: u32, gid: u32, mode: u32 },
    /// `type=bind` from the context.
    Bind { target: String, source: String, read_only: bool },
    /// `type=tmpfs`.
    Tmpfs { target: String, size: Option<u64> },
    /// `type=secret`.
    Secret { id: String, target: String, required: bool },
}

impl RunMount {
    /// Parses a `--mount` value (`type=cache,target=/root/.cache,id=x`).
    fn parse(text: &str) -> Result<Self, BuildError> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for part in text.split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, "true"));
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let get = |k: &str| fields.get(k).cloned();
        let flag = |k: &str| fields.get(k).is_some_and(|v| v == "true" || v.is_empty());
        let target = get("target").or(get("dst")).or(get("destination"));
        let number = |k: &str, default: u32, radix: u32| -> Result<u32, BuildError> {
            match get(k) {
                Some(v) => u32::from_str_radix(&v, radix).map_err(|_| invalid(format!("RUN --mount {text}: invalid {k} {v:?}"))),
                None => Ok(default),
            }
        };
        let kind = get("type").unwrap_or_else(|| "bind".into());
        let need_target = || target.clone().ok_or_else(|| invalid(format!("RUN --mount {text}: a {kind} mount needs a target")));
        Ok(match kind.as_str() {
            "cache" => {
                let target = need_target()?;
                if get("from").is_some() {
                    return Err(invalid(format!("RUN --mount {text}: cache mounts seeded from a stage (from=) are not supported yet")));
                }
                Self::Cache {
                    id: get("id").unwrap_or_else(|| target.clone()),
                    target,
                    read_only: flag("readonly") || flag("ro"),
                    uid: number("uid", 0, 10)?,
                    gid: number("gid", 0, 10)?,
                    mode: number("mode", 0o755, 8)?,
                }
            }
            "bind" => {
                if get("from").is_some() {
                    return Err(invalid(format!("RUN --mount {text}: bind mounts from a stage or image (from=) are not supported yet: COPY --from the files instead")));
                }
                Self::Bind { target: need_target()?, source: get("source").or(get("src")).unwrap_or_default(), read_only: !(flag("rw") || flag("readwrite")) }
            }
            "tmpfs" => Self::Tmpfs { target: need_target()?, size: get("size").and_then(|s| s.parse().ok()) },
            "secret" => {
                let id = get("id").or_else(|| target.as_deref().and_then(|t| Path::new(t).file_name()).map(|n| n.to_string_lossy().into_owned())).ok_or_else(|| invalid(format!("RUN --mount {text}: a secret mount needs an id")))?;
                Self::Secret { target: target.unwrap_or_else(|| format!("/run/secrets/{id}")), id, required: flag("required") }
            }
            "ssh" => return Err(invalid("RUN --mount=type=ssh is not supported: xcompose's builder has no SSH agent forwarding; use a secret mount or fetch in a later step")),
            other => return Err(invalid(format!("RUN --mount {text}: unknown mount type {other:?}: use cache, bind, tmpfs or secret"))),
        })
    }

    /// The container mount(s) for this build.
    fn resolve(&self, request: &BuildRequest, cache: &crate::exec::cache::BuildCache, snapshot: &Snapshot) -> Result<Vec<Mount>, BuildError> {
        let _ = snapshot;
        Ok(match self {
            Self::Cache { target, id, read_only, uid, gid, mode } => {
                let dir = cache.mount_dir(id, *uid, *gid, *mode).map_err(|e| invalid(format!("cache mount {id}: {e}")))?;
                vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: dir }, read_only: *read_only }]
            }
            Self::Bind { target, source, read_only } => {
                let rel = relative_source(source)?;
                let host = xcompose_container::secure_join(&request.context, &Path::new("/").join(rel)).map_err(invalid)?;
                if !host.exists() {
                    return Err(invalid(format!("RUN --mount=type=bind: source {source:?} not found in the build context")));
                }
                vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: host }, read_only: *read_only }]
            }
            Self::Tmpfs { target, size } => vec![Mount { target: PathBuf::from(target), kind: MountKind::Tmpfs { size: *size, mode: None }, read_only: false }],
            Self::Secret { id, target, required } => match request.secrets.get(id) {
                Some(file) => vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: file.clone() }, read_only: true }],
                None if *required => return Err(invalid(format!("secret {id} not found: add it to the service's build.secrets"))),
                None => Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_made_absolute_against_workdir() {
        assert_eq!(absolute("app/", "/srv"), "/srv/app/");
        assert_eq!(absolute(".", "/srv"), "/srv/");
        assert_eq!(absolute("/x/../y", "/srv"), "/y");
        assert_eq!(absolute("f", ""), "/f");
    }

    #[test]
    fn sources_may_not_leave_the_context() {
        assert_eq!(relative_source("./a/../b").unwrap(), PathBuf::from("b"));
        assert!(relative_source("../etc/passwd").is_err());
    }

    #[test]
    fn mounts_parse_with_buildkit_defaults() {
        match RunMount::parse("type=cache,target=/root/.cache").unwrap() {
            RunMount::Cache { id, mode, read_only, .. } => assert_eq!((id.as_str(), mode, read_only), ("/root/.cache", 0o755, false)),
            other => panic!("{other:?}"),
        }
        match RunMount::parse("type=secret,id=token").unwrap() {
            RunMount::Secret { target, required, .. } => assert_eq!((target.as_str(), required), ("/run/secrets/token", false)),
            other => panic!("{other:?}"),
        }
        assert!(RunMount::parse("type=ssh").unwrap_err().to_string().contains("not supported"));
        assert!(RunMount::parse("type=cache").unwrap_err().to_string().contains("needs a target"));
    }
}
