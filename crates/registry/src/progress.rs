//! What a pull or push reports as it goes: the lines Docker and compose print.

use std::fmt;

/// One step of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// `TAG: Pulling from REPOSITORY`.
    PullingFrom {
        /// The tag or digest asked for.
        tag: String,
        /// The repository (`library/redis`).
        repository: String,
    },
    /// A layer's progress; `id` is the first 12 hex digits of its blob digest.
    Layer {
        /// The short layer ID.
        id: String,
        /// Where it is.
        status: LayerStatus,
    },
    /// `Digest: sha256:...` (the RepoDigest).
    Digest(String),
    /// `Status: Downloaded newer image for NAME` or `Status: Image is up to date for NAME`.
    Status(String),
}

/// Where a layer of a pull is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerStatus {
    /// The store has it.
    AlreadyExists,
    /// It will be fetched.
    PullingFsLayer,
    /// It waits for a download slot.
    Waiting,
    /// Bytes received of the total.
    Downloading {
        /// Received.
        current: u64,
        /// Size.
        total: u64,
    },
    /// Its digests are being checked.
    VerifyingChecksum,
    /// It has all arrived.
    DownloadComplete,
    /// It is being unpacked (in the same stream, so this is its last part).
    Extracting,
    /// It is in place.
    PullComplete,
}

impl fmt::Display for LayerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyExists => f.write_str("Already exists"),
            Self::PullingFsLayer => f.write_str("Pulling fs layer"),
            Self::Waiting => f.write_str("Waiting"),
            Self::Downloading { current, total } => write!(f, "Downloading {}/{}", human(*current), human(*total)),
            Self::VerifyingChecksum => f.write_str("Verifying Checksum"),
            Self::DownloadComplete => f.write_str("Download complete"),
            Self::Extracting => f.write_str("Extracting"),
            Self::PullComplete => f.write_str("Pull complete"),
        }
    }
}

impl fmt::Display for PullEvent {
    /// The line Docker prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PullingFrom { tag, repository } => write!(f, "{tag}: Pulling from {repository}"),
            Self::Layer { id, status } => write!(f, "{id}: {status}"),
            Self::Digest(d) => write!(f, "Digest: {d}"),
            Self::Status(s) => write!(f, "Status: {s}"),
        }
    }
}

/// One step of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `The push refers to repository [NAME]`.
    Repository(String),
    /// A layer's progress (`Preparing`, `Pushing`, `Pushed`, `Layer already exists`,
    /// `Mounted from REPO`), by short blob digest.
    Layer {
        /// The short layer ID.
        id: String,
        /// The status text.
        status: String,
    },
    /// `TAG: digest: sha256:... size: N`.
    Pushed {
        /// The tag pushed.
        tag: String,
        /// The manifest digest.
        digest: String,
        /// The manifest size.
        size: usize,
    },
}

impl fmt::Display for PushEvent {
    /// The line Docker prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repository(r) => write!(f, "The push refers to repository [{r}]"),
            Self::Layer { id, status } => write!(f, "{id}: {status}"),
            Self::Pushed { tag, digest, size } => write!(f, "{tag}: digest: {digest} size: {size}"),
        }
    }
}

/// Docker's byte counts in progress lines (`1.2MB`, `512B`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        let digits = format!("{value:.3}");
        format!("{}{}", digits.trim_end_matches('0').trim_end_matches('.'), UNITS[unit])
    }
}

/// The short form of a digest in progress lines.
pub fn short(digest: &str) -> String {
    digest.trim_start_matches("sha256:").chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_dockers() {
        let layer = |status| PullEvent::Layer { id: "0123456789ab".into(), status }.to_string();
        assert_eq!(layer(LayerStatus::PullingFsLayer), "0123456789ab: Pulling fs layer");
        assert_eq!(layer(LayerStatus::Downloading { current: 1_500_000, total: 3_000_000 }), "0123456789ab: Downloading 1.5MB/3MB");
        assert_eq!(layer(LayerStatus::AlreadyExists), "0123456789ab: Already exists");
        assert_eq!(PullEvent::PullingFrom { tag: "alpine".into(), repository: "library/redis".into() }.to_string(), "alpine: Pulling from library/redis");
        assert_eq!(PushEvent::Pushed { tag: "1".into(), digest: "sha256:ab".into(), size: 527 }.to_string(), "1: digest: sha256:ab size: 527");
        assert_eq!(human(512), "512B");
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
