//! What the user asked for: files, project name, env files, profiles; and finding the compose files
//! and the environment the way `docker compose` does.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use xcompose_env::dotenv;

use crate::error::LoadError;

/// File names looked for in each directory, in order, when no `-f` is given.
pub const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
/// Override files picked up beside the default file.
pub const OVERRIDE_FILES: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml"];

/// Inputs of a load, as given on the command line and by the environment.
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    /// `-f` files, in order (empty: discover).
    pub files: Vec<PathBuf>,
    /// `-p` name.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` files (empty: `.env` in the project directory).
    pub env_files: Vec<PathBuf>,
    /// `--profile` values.
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled even if their profile is not active.
    pub services: Vec<String>,
    /// The directory the command runs in.
    pub cwd: PathBuf,
    /// The process environment.
    pub os_env: IndexMap<String, String>,
    /// `--no-interpolate` clears this.
    pub interpolate: bool,
    /// Drop networks, volumes, secrets and configs no service uses (as `config` does).
    pub prune_unused: bool,
    /// Resolve `env_file` into `environment` (`config` does; `--no-interpolate` keeps them).
    pub resolve_env_files: bool,
    /// Skip the checks of references between services and resources (`config --no-consistency`).
    pub skip_consistency: bool,
    /// Keep relative paths as written (`config --no-path-resolution`); env and label files are
    /// then read relative to the current directory, as compose does.
    pub keep_relative_paths: bool,
    /// Skip compose's normalization (`config --no-normalize`): no default network, build
    /// dockerfile, implied `depends_on` or resource names are added; see [`crate::normalize`].
    pub skip_normalization: bool,
    /// Where to remember the documents that passed the schema, to skip validating them again
    /// (none: validate every time).
    pub validation_cache: Option<crate::ValidationCache>,
}

impl ProjectOptions {
    /// Options for a command run in `cwd` with the current process environment.
    pub fn from_process() -> Self {
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            os_env: std::env::vars().collect(),
            interpolate: true,
            prune_unused: false,
            resolve_env_files: true,
            ..Self::default()
        }
    }
}

/// The files, directory and environment a load works from, once discovered.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Absolute compose file paths, in merge order.
    pub files: Vec<PathBuf>,
    /// The project directory (relative paths in the files are relative to it).
    pub working_dir: PathBuf,
    /// Variables for interpolation: env files first, the OS environment winning.
    pub environment: IndexMap<String, String>,
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    clean(&if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) })
}

/// Lexically cleans a path (`a/./b/../c` → `a/c`), like Go's `filepath.Clean`.
pub fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Finds the compose files and builds the environment.
pub fn resolve(opts: &ProjectOptions) -> Result<Resolved, LoadError> {
    let cwd = &opts.cwd;
    let project_dir = opts.project_directory.as_ref().map(|d| absolute(cwd, d));
    // The environment from env files can itself name the compose files (COMPOSE_FILE), so a
    // first env read uses the project directory if known, else the current directory.
    let env_dir = project_dir.clone().unwrap_or_else(|| cwd.clone());
    let mut environment = read_environment(opts, &env_dir)?;

    let files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|f| if f.as_os_str() == "-" { f.clone() } else { absolute(cwd, f) }).collect()
    } else if let Some(list) = environment.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = environment.get("COMPOSE_PATH_SEPARATOR").cloned().unwrap_or_else(|| ":".into());
        list.split(sep.as_str()).filter(|s| !s.is_empty()).map(|f| absolute(&env_dir, Path::new(f))).collect()
    } else {
        discover(project_dir.as_deref().unwrap_or(cwd))?
    };
    for f in &files {
        if f.as_os_str() != "-" && !f.exists() {
            return Err(LoadError::Read {
                path: f.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            });
        }
    }
    let working_dir = match project_dir {
        Some(d) => d,
        // Standard input has no directory: the current one stands in (as with compose).
        None => files
            .first()
            .filter(|f| f.as_os_str() != "-")
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.clone()),
    };
    if working_dir != env_dir && opts.env_files.is_empty() {
        environment = read_environment(opts, &working_dir)?;
    }
    Ok(Resolved { files, working_dir, environment })
}

/// Searches `dir` and its parents for a compose file, adding the override file beside it.
fn discover(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut current = Some(dir);
    while let Some(d) = current {
        if let Some(main) = DEFAULT_FILES.iter().map(|n| d.join(n)).find(|p| p.is_file()) {
            let mut files = vec![main];
            if let Some(over) = OVERRIDE_FILES.iter().map(|n| d.join(n)).find(|p| p.is_file()) {
                files.push(over);
            }
            return Ok(files);
        }
        current = d.parent();
    }
    Err(LoadError::NoConfigFile)
}

/// Env files (or `.env` in `dir`), then the OS environment on top.
fn read_environment(opts: &ProjectOptions, dir: &Path) -> Result<IndexMap<String, String>, LoadError> {
    let mut files: Vec<PathBuf> = opts.env_files.iter().map(|f| absolute(&opts.cwd, f)).collect();
    let explicit = !files.is_empty();
    if !explicit {
        if let Some(list) = opts.os_env.get("COMPOSE_ENV_FILES").filter(|v| !v.is_empty()) {
            files = list.split(',').map(|f| absolute(&opts.cwd, Path::new(f))).collect();
        } else {
            let dotenv = dir.join(".env");
            if dotenv.is_file() {
                files.push(dotenv);
            }
        }
    }
    let mut env: IndexMap<String, String> = IndexMap::new();
    for file in files {
        if file.is_dir() {
            return Err(LoadError::EnvFile(format!("{} is a directory", file.display())));
        }
        let lookup = |name: &str| opts.os_env.get(name).cloned().or_else(|| env.get(name).cloned());
        let vars = dotenv::read_file(&file, &lookup)
            .map_err(|e| LoadError::EnvFile(format!("failed to read {}: {e}", file.display())))?;
        env.extend(vars);
    }
    env.extend(opts.os_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(env)
}

/// Lower-cases and keeps only `[a-z0-9_-]`, trimming leading `_` and `-`, as compose does.
pub fn normalize_project_name(name: &str) -> String {
    let kept: String =
        name.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-').collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_normalise_like_compose() {
        assert_eq!(normalize_project_name("KS_Proj"), "ks_proj");
        assert_eq!(normalize_project_name("-_My App.2"), "myapp2");
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean(Path::new("/a/./b/../c/")), PathBuf::from("/a/c"));
    }

    #[test]
    fn discovery_searches_upward_and_finds_the_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services: {}").unwrap();
        std::fs::write(dir.path().join("compose.override.yml"), "services: {}").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let files = discover(&sub).unwrap();
        assert_eq!(files, vec![dir.path().join("compose.yaml"), dir.path().join("compose.override.yml")]);
    }

    #[test]
    fn os_environment_wins_over_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=file\nB=file\n").unwrap();
        let opts = ProjectOptions {
            cwd: dir.path().into(),
            os_env: [("A".to_string(), "os".to_string())].into_iter().collect(),
            ..Default::default()
        };
        let env = read_environment(&opts, dir.path()).unwrap();
        assert_eq!(env["A"], "os");
        assert_eq!(env["B"], "file");
    }
}
