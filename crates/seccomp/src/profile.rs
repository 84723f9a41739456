//! Docker's seccomp profile format, as `docker run --security-opt seccomp=FILE` reads it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SeccompError;

/// Docker's default profile (moby's `profiles/seccomp/default.json`, see `profiles/README.md`).
const DOCKER_DEFAULT: &str = include_str!("../profiles/default.json");

/// A seccomp profile in Docker's JSON format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What a system call no rule matches gets (`SCMP_ACT_ERRNO`, `SCMP_ACT_ALLOW`, …).
    pub default_action: String,
    /// The errno of an `SCMP_ACT_ERRNO` default action (EPERM when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures the filter covers (the older form of `archMap`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// For each native architecture, the others its processes may use (x86_64: x86, x32).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// The rules, in order.
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// One entry of `archMap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// A native architecture (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// The architectures added to the filter on that host.
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

/// One rule: what the named system calls get, if the arguments and conditions match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// The system calls (names libseccomp does not know are skipped, as with Docker).
    #[serde(default)]
    pub names: Vec<String>,
    /// The older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The action (`SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO`, …).
    pub action: String,
    /// The errno of an `SCMP_ACT_ERRNO` action (EPERM when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument comparisons (`null` is none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Vec<Arg>,
    /// The rule applies only when all of these hold.
    #[serde(default)]
    pub includes: Condition,
    /// The rule does not apply when any of these holds.
    #[serde(default)]
    pub excludes: Condition,
}

/// An argument comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// Which argument (0 to 5).
    pub index: u32,
    /// The value compared with (the mask for `SCMP_CMP_MASKED_EQ`).
    pub value: u64,
    /// The value the masked argument must equal (`SCMP_CMP_MASKED_EQ` only).
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_LT`, `SCMP_CMP_LE`, `SCMP_CMP_GE`, `SCMP_CMP_GT`
    /// or `SCMP_CMP_MASKED_EQ`.
    pub op: String,
}

/// Conditions on the container and the host (`includes` / `excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Capabilities (`CAP_SYS_ADMIN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    /// Architectures in Go's names (`amd64`, `x32`, `arm64`, `s390x`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub arches: Vec<String>,
    /// A kernel version (`4.8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Profile {
    /// Docker's default profile.
    pub fn docker_default() -> Profile {
        Profile::from_json(DOCKER_DEFAULT, "docker default").expect("the bundled default profile parses")
    }

    /// A profile from Docker's JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Profile, SeccompError> {
        let invalid = |message: String| SeccompError::Invalid { origin: origin.to_string(), message };
        let mut de = serde_json::Deserializer::from_str(text);
        let profile: Profile = serde_path_to_error::deserialize(&mut de).map_err(|e| invalid(format!("at {}: {}", e.path(), e.inner())))?;
        profile.check().map_err(invalid)?;
        Ok(profile)
    }

    /// A profile read from a JSON file.
    pub fn from_file(path: &Path) -> Result<Profile, SeccompError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeccompError::Read { path: path.display().to_string(), source })?;
        Profile::from_json(&text, &path.display().to_string())
    }

    /// Actions, operators and argument indexes known, so that a bad profile is refused when it
    /// is read rather than when a container starts.
    fn check(&self) -> Result<(), String> {
        crate::compile::action(&self.default_action, self.default_errno_ret).map_err(|e| format!("defaultAction: {e}"))?;
        for (i, rule) in self.syscalls.iter().enumerate() {
            crate::compile::action(&rule.action, rule.errno_ret).map_err(|e| format!("syscalls[{i}].action: {e}"))?;
            for arg in &rule.args {
                crate::compile::comparison(arg).map_err(|e| format!("syscalls[{i}].args: {e}"))?;
            }
        }
        Ok(())
    }
}

impl SyscallRule {
    /// Every name the rule covers.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.name.iter().chain(&self.names).map(String::as_str)
    }
}
