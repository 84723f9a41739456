//! The steps that change the filesystem, each planned in two halves: its cache key (the
//! parent's key, the instruction as instantiated, the variables it uses and, for COPY and ADD,
//! the content digest of what it copies), and the work itself, done on a fresh [`Snapshot`]
//! only when the cache has no record of the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::fs::File;

use nix::fcntl::Flock;

use xcompose_container::{Mount, MountKind, NetworkNamespace};
use xcompose_images::ImageStore;

use crate::context::{AddSourceKind, Context, SelectOptions};
use crate::exec::build::{layers_of, BuildError, BuildRequest};
use crate::exec::archive;
use crate::exec::cache::{BuildCache, CacheKey, Sharing};
use crate::exec::copy::{copy_entries, make_dirs, walk_entries, CopyEntry, CopyOptions, EntryContent};
use crate::exec::progress::Vertex;
use crate::exec::run::{run, RunSpec};
use crate::exec::run_network::RunNetwork;
use crate::exec::snapshot::Snapshot;
use crate::exec::stage::{StageBuilder, StageResult, StageState};
use crate::expand::Expander;
use crate::model::{CopyArgs, CopySource, Dockerfile, RunArgs};

/// The work of a step, given its output vertex: the snapshot holding its changes.
pub(crate) type Work<'a> = Box<dyn FnOnce(&Vertex) -> Result<Snapshot, BuildError> + 'a>;

/// A step ready to be taken from the cache or carried out.
pub(crate) struct Planned<'a> {
    /// Its cache key.
    pub key: String,
    /// The work, if the cache has no record of the key; `None`: nothing to do.
    pub execute: Option<Work<'a>>,
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
    /// The build context.
    pub context: &'a Context,
    /// The stage builder (to pull images named by `--from`).
    pub builder: &'a StageBuilder<'a>,
    /// Word expansion (here-documents).
    pub expander: &'a Expander,
    /// The variables the instruction uses, for its key.
    pub inputs: Vec<String>,
    /// Where the instruction is, as errors name it (`Dockerfile:3`).
    pub location: String,
}


fn invalid(message: impl Into<String>) -> BuildError {
    BuildError::Invalid(message.into())
}

/// `path` made absolute against the working directory `workdir`, `.` and `..` resolved, a
/// trailing `/` kept.
fn absolute(path: &str, workdir: &str) -> String {
    let joined = if path.starts_with('/') { PathBuf::from(path) } else { Path::new(workdir).join(path) };
    let mut clean = PathBuf::from("/");
    for c in joined.components() {
        match c {
            std::path::Component::Normal(n) => clean.push(n),
            std::path::Component::ParentDir => {
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
    /// The key of this step on `parent`, with the variables it uses.
    fn key(&self, parent: CacheKey, keyword: &str) -> CacheKey {
        parent.with("instruction", keyword).with("inputs", &self.inputs.join("\0"))
    }

    /// RUN.
    pub fn run(&self, state: &StageState, parent: CacheKey, args: &RunArgs) -> Result<Planned<'a>, BuildError> {
        let config = state.config();
        let invocation = config.run_invocation(args);
        // A `#!` here-document runs as a script file. BuildKit mounts it under /dev/pipes, which
        // our container covers with its own /dev (extra mounts come first), so it goes to
        // /.pipes instead: the command names it there, and the mount point leaves no trace.
        let script = invocation.script.map(|(path, content)| (path.replacen(crate::config::PIPES_DIR, "/.pipes", 1), path, content));
        let command: Vec<String> = invocation
            .args
            .into_iter()
            .map(|arg| match &script {
                Some((ours, theirs, _)) if arg == *theirs => ours.clone(),
                _ => arg,
            })
            .collect();
        let mut env = state.scope().run_env(self.builder.args);
        // As BuildKit's exec op: a step without PATH gets the default one (the image keeps none).
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(crate::config::DEFAULT_PATH.to_string());
        }
        let user = state.user();
        let cwd = state.workdir();
        let network = args.network.clone().or(self.request.network.clone()).unwrap_or_else(|| "default".into());
        let mode = RunNetwork::parse(&network)?;
        // As BuildKit: a step runs privileged only when it asks (`--security=insecure`) and the
        // build grants the security.insecure entitlement (compose's build.privileged).
        let privileged = match args.security.as_deref() {
            None | Some("sandbox") => false,
            Some("insecure") if self.request.privileged => true,
            Some("insecure") => return Err(invalid("RUN --security=insecure needs the security.insecure entitlement: set build.privileged: true for the service".to_string())),
            Some(other) => return Err(invalid(format!("RUN --security={other}: use sandbox or insecure"))),
        };
        let mut mounts: Vec<RunMount> = args.mounts.iter().map(|m| RunMount::parse(m)).collect::<Result<_, _>>()?;
        self.forward_ssh(&mut mounts, &mut env)?;
        // Bind mounts from a stage or an image: their roots are mounted for the container.
        let mut bind_sources = Vec::new();
        let mut source_keys = Vec::new();
        for mount in &mut mounts {
            if let RunMount::Bind { from: Some((name, index)), .. } = mount {
                let Origin::Layers { dirs, key } = self.copy_origin(Some(name))? else {
                    return Err(invalid(format!("RUN --mount=type=bind,from={name}: a named context cannot be bind-mounted yet; use a stage or an image")));
                };
                *index = bind_sources.len();
                bind_sources.push(dirs);
                source_keys.push(key);
            }
        }
        let mut key = self.key(parent, "RUN").with("command", &command.join("\0")).with("user", &user).with("cwd", &cwd).with("network", &network).with("security", if privileged { "insecure" } else { "sandbox" });
        for mount in &args.mounts {
            key = key.with("mount", mount);
        }
        for source in &source_keys {
            key = key.with("mount-source", source);
        }
        let lower = state.layer_dirs(self.store);
        let (request, tmp, cache, build_network, cancel) = (self.request, self.tmp, self.builder.cache, self.builder.network, self.builder.cancel);
        let work: Work<'a> = Box::new(move |vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the RUN snapshot: {e}")))?;
            let etc = lower.iter().rev().find(|d| d.join("etc/passwd").exists()).cloned().unwrap_or_default();
            let resolved = xcompose_container::user::resolve(&user, &etc).map_err(invalid)?;
            if !env.iter().any(|e| e.starts_with("HOME=")) {
                env.push(format!("HOME={}", resolved.home));
            }
            let mut container_mounts = Vec::new();
            if let Some((target, _, content)) = &script {
                use std::os::unix::fs::PermissionsExt;
                let file = snapshot.dir().join("script");
                std::fs::write(&file, content).and_then(|()| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))).map_err(|e| invalid(format!("writing the RUN script: {e}")))?;
                container_mounts.push(Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: file, recursive: Default::default(), propagation: Default::default() }, read_only: true });
            }
            let mut spec = RunSpec {
                args: command,
                env,
                cwd: PathBuf::from(cwd),
                uid: resolved.uid,
                gid: resolved.gid,
                // The primary group is a supplementary one too, as runc sets them (`id` shows
                // `groups=1000(app)`).
                additional_gids: std::iter::once(resolved.gid).chain(resolved.additional_gids.into_iter().filter(|g| *g != resolved.gid)).collect(),
                network: NetworkNamespace::Host,
                resolv_conf: String::new(),
                mounts: container_mounts,
                extra_hosts: request.extra_hosts.clone(),
                privileged,
                shm_size: request.shm_size,
            };
            let attached = mode.set_up(&snapshot, build_network, &mut spec)?;
            // The container is started where the bind mounts' stages and images are mounted (a
            // thread's private namespace, which the container inherits), when there are any.
            let run_with = |source_roots: &[PathBuf]| -> Result<(), BuildError> {
                let mut spec = spec.clone();
                let mut held = Vec::new();
                for mount in &mounts {
                    spec.mounts.extend(mount.resolve(request, cache, source_roots, &mut held)?);
                }
                run(&snapshot, &spec, cancel, &|line| vertex.output(line)).map_err(|e| invalid(e.to_string()))
            };
            let ran = if bind_sources.is_empty() {
                run_with(&[])
            } else {
                snapshot.with_sources(&bind_sources, run_with).map_err(|e| invalid(e.to_string())).and_then(|r| r)
            };
            let torn_down = mode.tear_down(&snapshot, build_network, attached);
            ran?;
            torn_down?;
            Ok(snapshot)
        });
        Ok(Planned { key: key.finish(), execute: Some(work) })
    }

    /// The step's ssh mounts given their agents' sockets, as BuildKit does: numbered targets
    /// `/run/buildkit/ssh_agent.N` by default, `SSH_AUTH_SOCK` naming the first; a mount whose
    /// agent the build does not forward is skipped unless `required`, which fails naming the line.
    fn forward_ssh(&self, mounts: &mut Vec<RunMount>, env: &mut Vec<String>) -> Result<(), BuildError> {
        let mut number = 0;
        let mut first = None;
        let mut kept = Vec::with_capacity(mounts.len());
        for mount in mounts.drain(..) {
            let RunMount::Ssh { id, target, required, .. } = mount else {
                kept.push(mount);
                continue;
            };
            let target = target.unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{number}"));
            number += 1;
            match self.request.ssh.get(&id) {
                Some(socket) => {
                    first.get_or_insert_with(|| target.clone());
                    kept.push(RunMount::Ssh { id, target: Some(target), required, socket: Some(socket.clone()) });
                }
                None if required => {
                    return Err(invalid(format!("{}: RUN --mount=type=ssh,id={id}: no SSH agent: set SSH_AUTH_SOCK or build.ssh ({id}) for the service", self.location)));
                }
                None => {}
            }
        }
        if let Some(target) = first {
            env.retain(|e| !e.starts_with("SSH_AUTH_SOCK="));
            env.push(format!("SSH_AUTH_SOCK={target}"));
        }
        *mounts = kept;
        Ok(())
    }

    /// WORKDIR (already applied to the config): the directory is made, owned by the USER, when
    /// the image does not have it; `/` needs nothing.
    pub fn workdir(&self, state: &StageState, parent: CacheKey) -> Result<Planned<'a>, BuildError> {
        let dir = state.workdir();
        let user = state.user();
        let key = self.key(parent, "WORKDIR").with("dir", &dir).with("user", &user).finish();
        if dir == "/" {
            return Ok(Planned { key, execute: None });
        }
        let lower = state.layer_dirs(self.store);
        let tmp = self.tmp;
        let work: Work<'a> = Box::new(move |_vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the WORKDIR snapshot: {e}")))?;
            snapshot
                .with_mounted(&[], |root, _| -> Result<(), String> {
                    let at = xcompose_container::secure_join(root, Path::new(&dir))?;
                    if at.exists() {
                        return Ok(());
                    }
                    let owner = xcompose_container::user::resolve(&user, root)?;
                    make_dirs(root, &at, (owner.uid, owner.gid)).map_err(|e| e.to_string())
                })
                .map_err(|e| invalid(e.to_string()))?
                .map_err(invalid)?;
            Ok(snapshot)
        });
        Ok(Planned { key, execute: Some(work) })
    }

    /// COPY and ADD (their words already expanded).
    pub fn copy(&self, state: &StageState, parent: CacheKey, args: &CopyArgs, add: bool) -> Result<Planned<'a>, BuildError> {
        let keyword = if add { "ADD" } else { "COPY" };
        let dest = absolute(&args.dest, &state.workdir());
        let chown = args.chown.clone();
        let mode = match &args.chmod {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| invalid(format!("invalid chmod parameter {m:?}: use an octal mode such as 0755")))?),
            None => None,
        };
        let mut words = Vec::new();
        let mut inline = Vec::new();
        let mut downloads = Vec::new();
        for source in &args.sources {
            match source {
                CopySource::Heredoc(heredoc) => {
                    let content = if heredoc.expand { self.expander.heredoc(&heredoc.content, state.scope()).map_err(|e| invalid(e.to_string()))? } else { heredoc.content.clone() };
                    inline.push(CopyEntry { dest_path: heredoc.name.clone(), content: EntryContent::Inline(content.into_bytes()) });
                }
                CopySource::Path(word) => {
                    if add {
                        match AddSourceKind::of(word) {
                            AddSourceKind::Git => return Err(invalid(format!("ADD {word}: adding git repositories is not supported by xcompose's builder: clone it into the build context and COPY it"))),
                            AddSourceKind::Url => {
                                downloads.push(download(word, args.checksum.as_deref())?);
                                continue;
                            }
                            AddSourceKind::Local => {}
                        }
                    }
                    words.push(word.clone());
                }
            }
        }
        let sources = words.len() + inline.len() + downloads.len();
        let mut key = self
            .key(parent, keyword)
            .with("dest", &dest)
            .with("chown", chown.as_deref().unwrap_or(""))
            .with("chmod", &format!("{mode:?}"))
            .with("parents", &args.parents.to_string())
            .with("exclude", &args.exclude.join("\0"));
        for file in &downloads {
            key = key.with("download", &format!("{}\0{}\0{:?}", file.name, file.digest, file.last_modified));
        }
        for entry in &inline {
            if let EntryContent::Inline(content) = &entry.content {
                key = key.with("inline", &format!("{}\0{}", entry.dest_path, String::from_utf8_lossy(content)));
            }
        }
        let origin = self.copy_origin(args.from.as_deref())?;
        let selection_options = SelectOptions { parents: args.parents, exclude: args.exclude.clone() };
        let mut entries = inline;
        let layer_sources = match &origin {
            Origin::Directory(context) => {
                let selected = context.select(&words, &selection_options).map_err(|e| invalid(e.to_string()))?;
                key = key.with("digest", &context.digest(&selected).map_err(|e| invalid(e.to_string()))?);
                entries.extend(selected.into_iter().map(|s| CopyEntry {
                    dest_path: s.dest_path,
                    content: EntryContent::Host { path: context.root().join(&s.context_path), follow: s.follow },
                }));
                Vec::new()
            }
            Origin::Layers { dirs, key: from } => {
                key = key.with("from", from).with("sources", &words.join("\0"));
                vec![dirs.clone()]
            }
        };
        // ADD extracts the local archives it names (not those inside a directory it copies).
        let (archives, entries): (Vec<CopyEntry>, Vec<CopyEntry>) =
            entries.into_iter().partition(|e| add && matches!(&e.content, EntryContent::Host { path, follow: true } if archive::is_archive(path)));
        let lower = state.layer_dirs(self.store);
        let tmp = self.tmp;
        let work: Work<'a> = Box::new(move |_vertex: &Vertex| {
            let snapshot = Snapshot::new(tmp, &lower).map_err(|e| invalid(format!("preparing the {keyword} snapshot: {e}")))?;
            let mut extracted = Vec::new();
            for (i, entry) in archives.iter().enumerate() {
                if let EntryContent::Host { path, .. } = &entry.content {
                    let at = snapshot.dir().join(format!("archive-{i}"));
                    archive::extract(path, &at).map_err(|e| invalid(format!("ADD {}: extracting the archive: {e}", entry.dest_path)))?;
                    extracted.push(at);
                }
            }
            let dest_dir = if dest.ends_with('/') { dest.clone() } else { format!("{dest}/") };
            let mut entries = entries;
            for (i, file) in downloads.iter().enumerate() {
                let at = snapshot.dir().join(format!("download-{i}"));
                file.write(&at).map_err(|e| invalid(format!("ADD {}: {e}", file.url)))?;
                entries.push(CopyEntry { dest_path: file.name.clone(), content: EntryContent::Host { path: at, follow: true } });
            }
            snapshot
                .with_mounted(&layer_sources, |root, mounted| -> Result<(), String> {
                    let owner = chown.as_deref().map(|spec| chown_ids(spec, root)).transpose()?;
                    for dir in &extracted {
                        let content = walk_entries(dir, "").map_err(|e| e.to_string())?;
                        copy_entries(root, &content, &dest_dir, sources, &CopyOptions { owner, mode, keep_owners: true }).map_err(|e| e.to_string())?;
                    }
                    if entries.is_empty() && mounted.is_empty() {
                        return Ok(());
                    }
                    let mut entries = entries;
                    if let Some(source_root) = mounted.first() {
                        entries.extend(entries_in(source_root, &words)?);
                    }
                    // Files from a stage or an image keep their owners; the context's are root's.
                    let options = CopyOptions { owner, mode, keep_owners: !mounted.is_empty() };
                    copy_entries(root, &entries, &dest, sources, &options).map_err(|e| e.to_string())
                })
                .map_err(|e| invalid(e.to_string()))?
                .map_err(invalid)?;
            Ok(snapshot)
        });
        Ok(Planned { key: key.finish(), execute: Some(work) })
    }

    /// Where `--from` copies from: the context, a named context, an earlier stage or an image.
    fn copy_origin(&self, from: Option<&str>) -> Result<Origin<'a>, BuildError> {
        let Some(from) = from else { return Ok(Origin::Directory(std::borrow::Cow::Borrowed(self.context))) };
        if let Some(dir) = self.request.additional_contexts.get(from) {
            let named = Context::open(dir, &dir.join("Dockerfile")).map_err(|e| invalid(e.to_string()))?;
            return Ok(Origin::Directory(std::borrow::Cow::Owned(named)));
        }
        if let Some(stage) = self.dockerfile.stage(from) {
            let built = self.stages.get(&stage.index).ok_or_else(|| invalid(format!("stage {from} is not built before it is used: a stage can only copy from an earlier one")))?;
            return Ok(Origin::Layers { dirs: layers_of(&built.layers, self.store), key: built.key.clone() });
        }
        let id = self.builder.image(from)?;
        Ok(Origin::Layers { dirs: layers_of(&self.store.image_layers(&id)?, self.store), key: id })
    }
}

/// A file `ADD <url>` downloaded (when the step is planned: its content is in the key).
struct DownloadedFile {
    url: String,
    /// The name it gets in a directory destination: the URL path's last element.
    name: String,
    body: Vec<u8>,
    digest: String,
    last_modified: Option<i64>,
}

impl DownloadedFile {
    /// Writes the file at `path` as ADD leaves it: mode 0600, the server's modification time.
    fn write(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, &self.body)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        if let Some(seconds) = self.last_modified {
            let time = filetime::FileTime::from_unix_time(seconds, 0);
            filetime::set_file_times(path, time, time)?;
        }
        Ok(())
    }
}

/// Downloads `url` for ADD, checking `--checksum` (`sha256:<hex>`) if given.
fn download(url: &str, checksum: Option<&str>) -> Result<DownloadedFile, BuildError> {
    use sha2::Digest as _;
    let fetched = xcompose_registry::download(url).map_err(|e| invalid(e.to_string()))?;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&fetched.body)));
    if let Some(expected) = checksum {
        if !expected.starts_with("sha256:") {
            return Err(invalid(format!("ADD --checksum={expected}: only sha256:<hex> checksums are supported")));
        }
        if expected != digest {
            return Err(invalid(format!("ADD {url}: digest mismatch {expected}: {digest}")));
        }
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').find(|s| !s.is_empty() && !s.contains(':')).unwrap_or("__unnamed__").to_string();
    Ok(DownloadedFile { url: url.to_string(), name, body: fetched.body, digest, last_modified: fetched.last_modified })
}

/// Where a COPY takes its files from.
enum Origin<'a> {
    /// A directory on the host (the context or a named one), with its ignore rules.
    Directory(std::borrow::Cow<'a, Context>),
    /// The root filesystem of a stage or image: its layer directories and cache identity.
    Layers {
        /// Layer directories, bottom first.
        dirs: Vec<PathBuf>,
        /// Its cache identity (the stage's last key, or the image ID).
        key: String,
    },
}

/// The entries `words` name in a stage's or image's root (mounted at `root`), each resolved
/// inside it: a file by its name, a directory by its contents.
fn entries_in(root: &Path, words: &[String]) -> Result<Vec<CopyEntry>, String> {
    let mut out = Vec::new();
    for word in words {
        if word.contains(['*', '?', '[']) {
            return Err(format!("COPY --from source {word:?}: wildcards in sources from a stage or image are not supported yet: name the paths"));
        }
        let host = xcompose_container::secure_join(root, &Path::new("/").join(word))?;
        let meta = std::fs::metadata(&host).map_err(|_| format!("failed to compute cache key: \"/{}\": not found", word.trim_start_matches('/')))?;
        if meta.is_dir() {
            out.push(CopyEntry { dest_path: String::new(), content: EntryContent::Host { path: host.clone(), follow: true } });
            out.extend(walk_entries(&host, "").map_err(|e| e.to_string())?);
        } else {
            let name = host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            out.push(CopyEntry { dest_path: name, content: EntryContent::Host { path: host, follow: true } });
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

/// One `RUN --mount=...`.
#[derive(Debug, Clone)]
enum RunMount {
    /// `type=cache`: a persistent directory.
    Cache { target: String, id: String, read_only: bool, uid: u32, gid: u32, mode: u32, sharing: Sharing },
    /// `type=bind` from the context, or (`from`: an index into the step's mounted sources) from
    /// a stage or an image.
    Bind { target: String, source: String, read_only: bool, from: Option<(String, usize)> },
    /// `type=tmpfs`.
    Tmpfs { target: String, size: Option<u64> },
    /// `type=secret`.
    Secret { id: String, target: String, required: bool },
    /// `type=ssh`: the agent `id` at `target` (numbered when not given), its socket once the
    /// build's forwarded agents are known.
    Ssh { id: String, target: Option<String>, required: bool, socket: Option<PathBuf> },
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
                    sharing: match get("sharing").as_deref() {
                        None | Some("shared") => Sharing::Shared,
                        Some("locked") => Sharing::Locked,
                        Some("private") => Sharing::Private,
                        Some(other) => return Err(invalid(format!("RUN --mount {text}: unknown sharing {other:?}: use shared, private or locked"))),
                    },
                }
            }
            "bind" => {
                let from = get("from").map(|f| (f, 0));
                Self::Bind { target: need_target()?, source: get("source").or(get("src")).unwrap_or_default(), read_only: !(flag("rw") || flag("readwrite")) || from.is_some(), from }
            }
            "tmpfs" => Self::Tmpfs { target: need_target()?, size: get("size").and_then(|s| s.parse().ok()) },
            "secret" => {
                let id = get("id")
                    .or_else(|| target.as_deref().and_then(|t| Path::new(t).file_name()).map(|n| n.to_string_lossy().into_owned()))
                    .ok_or_else(|| invalid(format!("RUN --mount {text}: a secret mount needs an id")))?;
                Self::Secret { target: target.unwrap_or_else(|| format!("/run/secrets/{id}")), id, required: flag("required") }
            }
            "ssh" => {
                // BuildKit proxies the agent through a socket of its own with uid, gid and mode;
                // here the agent's socket itself is bound, so those cannot be applied.
                if let Some(key) = ["uid", "gid", "mode"].into_iter().find(|k| fields.contains_key(*k)) {
                    return Err(invalid(format!("RUN --mount {text}: {key} of an ssh mount is not supported: xcompose binds the agent's socket as it is; remove {key}=")));
                }
                Self::Ssh { id: get("id").unwrap_or_else(|| "default".into()), target, required: flag("required"), socket: None }
            }
            other => return Err(invalid(format!("RUN --mount {text}: unknown mount type {other:?}: use cache, bind, tmpfs, secret or ssh"))),
        })
    }

    /// The container mount(s) for this build; a cache mount's lock is added to `held`, to keep
    /// until the RUN ends.
    fn resolve(&self, request: &BuildRequest, cache: &BuildCache, sources: &[PathBuf], held: &mut Vec<Flock<File>>) -> Result<Vec<Mount>, BuildError> {
        Ok(match self {
            Self::Cache { target, id, read_only, uid, gid, mode, sharing } => {
                let (dir, lock) = cache.mount_dir(id, *uid, *gid, *mode, *sharing).map_err(|e| invalid(format!("cache mount {id}: {e}")))?;
                held.push(lock);
                vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: dir, recursive: Default::default(), propagation: Default::default() }, read_only: *read_only }]
            }
            Self::Bind { target, source, read_only, from } => {
                let (root, origin) = match from {
                    Some((name, index)) => (sources.get(*index).cloned().unwrap_or_default(), format!("stage or image {name}")),
                    None => (request.context.clone(), "the build context".to_string()),
                };
                let host = xcompose_container::secure_join(&root, &Path::new("/").join(source)).map_err(invalid)?;
                if !host.exists() {
                    return Err(invalid(format!("RUN --mount=type=bind: source {source:?} not found in {origin}")));
                }
                vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: host, recursive: Default::default(), propagation: Default::default() }, read_only: *read_only }]
            }
            Self::Tmpfs { target, size } => vec![Mount { target: PathBuf::from(target), kind: MountKind::Tmpfs { size: *size, mode: None }, read_only: false }],
            Self::Secret { id, target, required } => match request.secrets.get(id) {
                Some(file) => vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: file.clone(), recursive: Default::default(), propagation: Default::default() }, read_only: true }],
                None if *required => return Err(invalid(format!("secret {id} not found: add it to the service's build.secrets"))),
                None => Vec::new(),
            },
            Self::Ssh { id, target, socket, .. } => {
                let socket = socket.as_ref().ok_or_else(|| invalid(format!("ssh agent {id} is not forwarded")))?;
                let is_socket = std::fs::metadata(socket).map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())).unwrap_or(false);
                if !is_socket {
                    return Err(invalid(format!("ssh agent {id}: {} is not a socket: start ssh-agent, or point build.ssh at its socket", socket.display())));
                }
                let target = target.clone().unwrap_or_default();
                vec![Mount { target: PathBuf::from(target), kind: MountKind::Bind { source: socket.clone(), recursive: Default::default(), propagation: Default::default() }, read_only: false }]
            }
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
        assert_eq!(absolute("f", "/"), "/f");
    }

    #[test]
    fn mounts_parse_with_buildkit_defaults() {
        match RunMount::parse("type=cache,target=/root/.cache").unwrap() {
            RunMount::Cache { id, mode, read_only, sharing, .. } => assert_eq!((id.as_str(), mode, read_only, sharing), ("/root/.cache", 0o755, false, Sharing::Shared)),
            other => panic!("{other:?}"),
        }
        match RunMount::parse("type=cache,target=/c,sharing=locked").unwrap() {
            RunMount::Cache { sharing, .. } => assert_eq!(sharing, Sharing::Locked),
            other => panic!("{other:?}"),
        }
        assert!(RunMount::parse("type=cache,target=/c,sharing=some").unwrap_err().to_string().contains("unknown sharing \"some\""));
        match RunMount::parse("type=secret,id=token").unwrap() {
            RunMount::Secret { target, required, .. } => assert_eq!((target.as_str(), required), ("/run/secrets/token", false)),
            other => panic!("{other:?}"),
        }
        match RunMount::parse("type=ssh,required=true").unwrap() {
            RunMount::Ssh { id, target, required, .. } => assert_eq!((id.as_str(), target, required), ("default", None, true)),
            other => panic!("{other:?}"),
        }
        assert!(RunMount::parse("type=ssh,mode=0666").unwrap_err().to_string().contains("mode of an ssh mount is not supported"));
        assert!(RunMount::parse("type=cache").unwrap_err().to_string().contains("needs a target"));
    }
}
