//! What kind of source an ADD word is, as BuildKit tells them apart: a git repository
//! (`git://`, `git@host:`, `ssh://`, an `http(s)://` URL of a `.git` repository, optionally
//! with a `#ref`, or `github.com/...`), a URL (`http://`, `https://`), or a context path.

/// An ADD source's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddSourceKind {
    /// A path in the context (a local tar archive is extracted).
    Local,
    /// An HTTP(S) URL to download.
    Url,
    /// A git repository to clone.
    Git,
}

impl AddSourceKind {
    /// The kind of the (expanded) ADD source `word`.
    pub fn of(word: &str) -> Self {
        let lower = word.to_ascii_lowercase();
        let url = lower.starts_with("http://") || lower.starts_with("https://");
        let repository = lower.split('#').next().unwrap_or(&lower).trim_end_matches('/');
        let git = lower.starts_with("git://")
            || lower.starts_with("git@")
            || lower.starts_with("ssh://")
            || lower.starts_with("github.com/")
            || (url && repository.ends_with(".git"));
        match (git, url) {
            (true, _) => Self::Git,
            (false, true) => Self::Url,
            (false, false) => Self::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_git_urls_and_paths_apart() {
        for git in ["git@github.com:moby/buildkit.git", "https://github.com/moby/buildkit.git#v0.10.1", "git://host/repo", "ssh://git@host/repo.git", "github.com/moby/buildkit"] {
            assert_eq!(AddSourceKind::of(git), AddSourceKind::Git, "{git}");
        }
        for url in ["https://example.com/file.tar.gz", "HTTP://example.com/x"] {
            assert_eq!(AddSourceKind::of(url), AddSourceKind::Url, "{url}");
        }
        for local in ["app.tar.gz", "./git@x", "src/", "/abs/path"] {
            assert_eq!(AddSourceKind::of(local), AddSourceKind::Local, "{local}");
        }
    }
}
