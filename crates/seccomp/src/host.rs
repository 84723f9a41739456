//! What the profile's conditions are checked against on this host.

use std::sync::OnceLock;

/// This host's architecture in the Go names profiles use in `arches` (`amd64`, `arm64`, …),
/// as Docker maps `runtime.GOARCH`.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        other => other,
    }
}

/// The running kernel's (major, minor) version, from `/proc/sys/kernel/osrelease`.
pub(crate) fn kernel_version() -> Result<(u32, u32), String> {
    static VERSION: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| format!("reading the kernel version: {e}"))?;
            parse_version(release.trim()).ok_or_else(|| format!("unparsable kernel version {:?}", release.trim()))
        })
        .clone()
}

/// `6.1.0-18-amd64` → (6, 1); `4.8` → (4, 8).
pub(crate) fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("5"), Some((5, 0)));
        assert_eq!(parse_version("x"), None);
        assert!(kernel_version().unwrap() >= (3, 17));
    }
}
