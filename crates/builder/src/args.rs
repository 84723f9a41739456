//! Build arguments: `--build-arg` values, the built-in platform arguments, the proxy
//! arguments, and the global scope of the ARGs before the first FROM (which only FROM lines
//! see, unless a stage declares them again).

use std::collections::BTreeMap;
use std::fmt;

use crate::expand::{ExpandError, Expander};
use crate::model::{Dockerfile, InstructionKind};

/// An `os/arch[/variant]` platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ... (Go's names).
    pub architecture: String,
    /// `v8`, `v7`, ... or empty.
    pub variant: String,
}

impl Platform {
    /// The platform this builder runs on (`linux/amd64` here): builds run for it only.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Self { os: "linux".into(), architecture: architecture.into(), variant: if architecture == "arm64" { "v8".into() } else { String::new() } }
    }
}

impl fmt::Display for Platform {
    /// As containerd's `platforms.Format`: `linux/amd64`, `linux/arm64/v8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// The proxy arguments: usable in RUN without an ARG, kept out of the image's history.
pub const PROXY_ARGS: [&str; 10] =
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];

/// What the build was asked for: `--build-arg` values, the platforms, the target stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildArgs {
    /// `--build-arg NAME=value` (the caller resolves `--build-arg NAME` from its environment).
    pub values: BTreeMap<String, String>,
    /// The platform built for (`TARGETPLATFORM`).
    pub target_platform: Platform,
    /// The platform building (`BUILDPLATFORM`).
    pub build_platform: Platform,
}

impl Default for BuildArgs {
    fn default() -> Self {
        Self { values: BTreeMap::new(), target_platform: Platform::host(), build_platform: Platform::host() }
    }
}

impl BuildArgs {
    /// Build arguments `values` for this host.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self { values, ..Self::default() }
    }

    /// The built-in arguments BuildKit defines (`BUILDPLATFORM`, `TARGETARCH`, ...,
    /// `TARGETSTAGE`), a `--build-arg` of the same name winning.
    pub fn builtins(&self, target_stage: &str) -> BTreeMap<String, String> {
        let (b, t) = (&self.build_platform, &self.target_platform);
        let pairs = [
            ("BUILDPLATFORM", b.to_string()),
            ("BUILDOS", b.os.clone()),
            ("BUILDOSVERSION", String::new()),
            ("BUILDARCH", b.architecture.clone()),
            ("BUILDVARIANT", b.variant.clone()),
            ("TARGETPLATFORM", t.to_string()),
            ("TARGETOS", t.os.clone()),
            ("TARGETOSVERSION", String::new()),
            ("TARGETARCH", t.architecture.clone()),
            ("TARGETVARIANT", t.variant.clone()),
            ("TARGETSTAGE", target_stage.to_string()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), self.values.get(k).cloned().unwrap_or(v))).collect()
    }

    /// The proxy arguments given, for RUN's environment.
    pub fn proxies(&self) -> BTreeMap<String, String> {
        self.values.iter().filter(|(k, _)| PROXY_ARGS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The global scope: built-ins and the ARGs before the first FROM, with their values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlobalArgs {
    /// Every global name with a value (built-ins included): what FROM lines expand with.
    pub values: BTreeMap<String, String>,
    /// The global ARGs declared without a value nor a `--build-arg`.
    pub unset: Vec<String>,
}

impl GlobalArgs {
    /// Evaluates the Dockerfile's global ARGs in order: a `--build-arg` wins over the default,
    /// defaults expand with the globals before them.
    pub fn new(dockerfile: &Dockerfile, args: &BuildArgs, target_stage: &str) -> Result<Self, ExpandError> {
        let expander = Expander::new(dockerfile.escape);
        let mut values = args.builtins(target_stage);
        let mut unset = Vec::new();
        for instruction in &dockerfile.global_args {
            let InstructionKind::Arg(decls) = &instruction.kind else { continue };
            for decl in decls {
                let value = match (args.values.get(&decl.name), &decl.default) {
                    (Some(given), _) => Some(given.clone()),
                    (None, Some(default)) => Some(expander.word(default, &values)?.value),
                    (None, None) => None,
                };
                match value {
                    Some(value) => {
                        unset.retain(|n| n != &decl.name);
                        values.insert(decl.name.clone(), value);
                    }
                    None if !values.contains_key(&decl.name) => unset.push(decl.name.clone()),
                    None => {}
                }
            }
        }
        Ok(Self { values, unset })
    }

    /// The global value a stage's `ARG name` (without default) inherits.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64() -> Platform {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: String::new() }
    }

    #[test]
    fn builtins_name_the_platforms() {
        let args = BuildArgs { values: BTreeMap::new(), target_platform: amd64(), build_platform: amd64() };
        let b = args.builtins("final");
        assert_eq!(b["TARGETPLATFORM"], "linux/amd64");
        assert_eq!((b["TARGETOS"].as_str(), b["TARGETARCH"].as_str(), b["TARGETVARIANT"].as_str()), ("linux", "amd64", ""));
        assert_eq!(b["BUILDPLATFORM"], "linux/amd64");
        assert_eq!(b["TARGETSTAGE"], "final");
        let arm = Platform { os: "linux".into(), architecture: "arm64".into(), variant: "v8".into() };
        assert_eq!(arm.to_string(), "linux/arm64/v8");
    }

    #[test]
    fn global_args_expand_in_order_and_build_args_win() {
        let d = Dockerfile::parse("ARG A=1\nARG B=${A}-x C\nARG D=$TARGETARCH\nFROM x\n", "Dockerfile").unwrap();
        let args = BuildArgs { values: [("A".to_string(), "9".to_string())].into(), target_platform: amd64(), build_platform: amd64() };
        let g = GlobalArgs::new(&d, &args, "").unwrap();
        assert_eq!((g.get("A"), g.get("B"), g.get("C"), g.get("D")), (Some("9"), Some("9-x"), None, Some("amd64")));
        assert_eq!(g.unset, vec!["C"]);
    }

    #[test]
    fn proxies_come_from_build_args_only() {
        let args = BuildArgs::new([("HTTP_PROXY".to_string(), "http://p:3128".to_string()), ("X".to_string(), "1".to_string())].into());
        assert_eq!(args.proxies(), [("HTTP_PROXY".to_string(), "http://p:3128".to_string())].into());
    }
}
