//! From a profile and a container's capabilities to a BPF program, compiled once per host (kept
//! on disk, see [`crate::disk`]) and looked up once per process.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use caps::Capability;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use nix::libc;

use crate::profile::{Arg, Condition, Profile, SyscallRule};
use crate::SeccompError;

/// EPERM: the errno of an `SCMP_ACT_ERRNO` without `errnoRet`, as with Docker.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// A compiled filter, ready to load.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
}

impl Filter {
    /// Installs the filter in the calling thread (inherited by its children and kept over exec).
    pub fn load(&self) -> Result<(), SeccompError> {
        crate::load::install(&self.program).map_err(SeccompError::Load)
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never, for a compiled profile).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        crate::disk::encode(&self.program) == crate::disk::encode(&other.program)
    }
}

impl Eq for Filter {}

/// The directory compiled filters are kept in across processes, once one is set.
static DISK_CACHE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Keeps the filters this process compiles in `dir` (a directory of the state root), and takes
/// them from there when another process compiled them already.
pub fn cache_compiled_in(dir: &Path) {
    *DISK_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(dir.to_path_buf());
}

/// Filters compiled by this process, by profile and capabilities.
type Cache = Mutex<Vec<((Profile, Vec<Capability>), Arc<Filter>)>>;
static CACHE: Cache = Mutex::new(Vec::new());

/// `profile` compiled for a container with `capabilities` on this host; the first time a process
/// asks, read from the directory set by [`cache_compiled_in`] (or compiled, and stored there),
/// then taken from the process's cache (so a child forked after a first call gets it without
/// reading anything).
pub fn compiled(profile: &Profile, capabilities: &[Capability]) -> Result<Arc<Filter>, SeccompError> {
    let mut caps = capabilities.to_vec();
    caps.sort_by_key(|c| c.index());
    caps.dedup();
    let mut cache = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, filter)) = cache.iter().find(|((p, c), _)| *c == caps && p == profile) {
        return Ok(filter.clone());
    }
    let dir = DISK_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let filter = Arc::new(match dir {
        Some(dir) => Filter::cached(profile, &caps, &dir)?,
        None => Filter::compile(profile, &caps)?,
    });
    cache.push(((profile.clone(), caps), filter.clone()));
    Ok(filter)
}

impl Filter {
    /// `profile` for a container with `caps` (sorted, without duplicates) from the cache in
    /// `dir`: the stored program when its file is whole, else compiled and stored (a damaged
    /// file is replaced, never loaded).
    pub fn cached(profile: &Profile, caps: &[Capability], dir: &Path) -> Result<Filter, SeccompError> {
        let kernel = crate::host::kernel_version().map_err(SeccompError::Compile)?;
        let path = crate::disk::path(dir, profile, caps, kernel);
        if let Some(program) = crate::disk::read(&path) {
            return Ok(Filter { program });
        }
        let filter = Filter::compile(profile, caps)?;
        crate::disk::write(&path, &filter.program);
        Ok(filter)
    }

    /// `profile` compiled for a container with `caps`, without any cache (see [`compiled`]).
    pub fn compile(profile: &Profile, caps: &[Capability]) -> Result<Filter, SeccompError> {
        let err = |what: String| SeccompError::Compile(what);
        let default = action(&profile.default_action, profile.default_errno_ret).map_err(err)?;
        let mut ctx = ScmpFilterContext::new(default).map_err(|e| err(e.to_string()))?;
        // A binary search over the syscall numbers rather than a linear list: the kernel runs
        // the filter for every syscall number when it is loaded (its constant-action cache),
        // so this shortens each container start as well as each system call.
        ctx.set_ctl_optimize(2).map_err(|e| err(format!("asking for the binary-tree filter: {e}")))?;
        for arch in architectures(profile).map_err(err)? {
            ctx.add_arch(arch).map_err(|e| err(format!("adding architecture {arch:?}: {e}")))?;
        }
        let kernel = crate::host::kernel_version().map_err(err)?;
        for rule in profile.syscalls.iter().filter(|r| applies(r, caps, kernel)) {
            let act = action(&rule.action, rule.errno_ret).map_err(err)?;
            // libseccomp refuses a rule doing what the default does; it would change nothing.
            if act == default {
                continue;
            }
            let comparisons: Vec<ScmpArgCompare> = rule.args.iter().map(comparison).collect::<Result<_, _>>().map_err(err)?;
            for name in rule.all_names() {
                // A name this libseccomp does not know is skipped, as Docker does.
                let Ok(syscall) = ScmpSyscall::from_name(name) else { continue };
                add_rule(&mut ctx, act, syscall, &rule.args, &comparisons).map_err(|e| err(format!("rule for {name}: {e}")))?;
            }
        }
        export(&ctx)
    }
}

/// As Docker: comparisons on distinct arguments all have to hold (one rule); two on the same
/// argument cannot both be said in one rule, so each becomes a rule of its own.
fn add_rule(ctx: &mut ScmpFilterContext, act: ScmpAction, syscall: ScmpSyscall, args: &[Arg], comparisons: &[ScmpArgCompare]) -> Result<(), libseccomp::error::SeccompError> {
    let mut indexes: Vec<u32> = args.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    if comparisons.is_empty() {
        ctx.add_rule(act, syscall)?;
    } else if repeated {
        for c in comparisons {
            ctx.add_rule_conditional(act, syscall, std::slice::from_ref(c))?;
        }
    } else {
        ctx.add_rule_conditional(act, syscall, comparisons)?;
    }
    Ok(())
}

/// The native architecture and, with an `archMap` entry for it, its sub-architectures; a
/// profile with only `architectures` gets those (Docker's older form).
fn architectures(profile: &Profile) -> Result<Vec<ScmpArch>, String> {
    let parse = |name: &str| ScmpArch::from_str(name).map_err(|_| format!("unknown architecture {name:?}"));
    let native = ScmpArch::native();
    let mut arches = vec![native];
    if let Some(entry) = profile.arch_map.iter().find(|m| parse(&m.architecture).ok() == Some(native)) {
        for name in &entry.sub_architectures {
            arches.push(parse(name)?);
        }
    } else if profile.arch_map.is_empty() {
        for name in &profile.architectures {
            arches.push(parse(name)?);
        }
    }
    arches.dedup();
    Ok(arches)
}

/// Docker's rule selection: every `includes` condition holds and no `excludes` one does.
fn applies(rule: &SyscallRule, caps: &[Capability], kernel: (u32, u32)) -> bool {
    let has = |name: &String| caps.iter().any(|c| c.to_string().eq_ignore_ascii_case(name));
    let arch = crate::host::go_arch();
    let at_least = |c: &Condition| c.min_kernel.as_deref().and_then(crate::host::parse_version).map(|v| kernel >= v);
    let inc = &rule.includes;
    let exc = &rule.excludes;
    let included = (inc.arches.is_empty() || inc.arches.iter().any(|a| a == arch)) && inc.caps.iter().all(has) && at_least(inc) != Some(false);
    let excluded = exc.arches.iter().any(|a| a == arch) || exc.caps.iter().any(has) || at_least(exc) == Some(true);
    included && !excluded
}

/// A profile's action name with its errno (EPERM by default).
pub(crate) fn action(name: &str, errno: Option<u32>) -> Result<ScmpAction, String> {
    let value = match name {
        "SCMP_ACT_ERRNO" => Some(errno.unwrap_or(DEFAULT_ERRNO) as i32),
        "SCMP_ACT_TRACE" => Some(errno.unwrap_or(DEFAULT_ERRNO) as i32),
        _ => None,
    };
    match name {
        // Listening for notifications needs an agent xcompose does not have.
        "SCMP_ACT_NOTIFY" => Err("SCMP_ACT_NOTIFY needs a seccomp agent, which xcompose does not run".into()),
        _ => ScmpAction::from_str(name, value).map_err(|_| format!("unknown action {name:?} (use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, …)")),
    }
}

/// A profile's argument comparison.
pub(crate) fn comparison(arg: &Arg) -> Result<ScmpArgCompare, String> {
    if arg.index > 5 {
        return Err(format!("argument index {} out of range 0-5", arg.index));
    }
    let (op, datum) = match arg.op.as_str() {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, arg.value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, arg.value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, arg.value),
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, arg.value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, arg.value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, arg.value),
        // Docker: `value` is the mask, `valueTwo` what the masked argument equals.
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
        other => return Err(format!("unknown comparison {other:?}")),
    };
    Ok(ScmpArgCompare::new(arg.index, op, datum))
}

/// The filter's BPF program, through an anonymous file (libseccomp 2.5 exports only to a descriptor).
fn export(ctx: &ScmpFilterContext) -> Result<Filter, SeccompError> {
    let io = |e: std::io::Error| SeccompError::Compile(format!("exporting the filter: {e}"));
    let mut file = tempfile::tempfile().map_err(io)?;
    ctx.export_bpf(&file).map_err(|e| SeccompError::Compile(format!("exporting the filter: {e}")))?;
    file.rewind().map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(Filter { program: crate::disk::decode(&bytes) })
}
