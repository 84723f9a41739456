//! Pulling a project's images: `pull` (every service's image, or those named), and the pulls
//! `up` makes by each service's `pull_policy` (or `up --pull`). Distinct images are pulled at
//! once; progress goes through the stack's reporter as compose shows it (`redis Pulling`, a line
//! per layer, `redis Pulled`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};
use xcompose_registry::{Platform, PullEvent, PullOptions as RegistryPullOptions};

use crate::{Stack, StackError};

/// When to pull a service's image (compose's `pull_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Every time.
    Always,
    /// Never: the image must be in the store.
    Never,
    /// When the store does not have it (`missing`, `if_not_present`, and `up`'s default).
    Missing,
    /// The image is built, not pulled.
    Build,
    /// When missing, or last pulled longer ago than this (`daily`, `weekly`, `every_<duration>`).
    Every(Duration),
}

impl PullPolicy {
    /// Reads a `pull_policy` value (or `--pull`, `--policy`); empty is `None` (the command's own
    /// default).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        Ok(Some(match text {
            "" => return Ok(None),
            "always" => Self::Always,
            "never" => Self::Never,
            "missing" | "if_not_present" => Self::Missing,
            "build" => Self::Build,
            "daily" => Self::Every(Duration::from_secs(86_400)),
            "weekly" => Self::Every(Duration::from_secs(7 * 86_400)),
            other => match other.strip_prefix("every_").map(parse_interval) {
                Some(Some(every)) => Self::Every(every),
                _ => return Err(format!("invalid pull policy {other:?}: expected always, never, missing, if_not_present, build, daily, weekly or every_<duration> (e.g. every_12h)")),
            },
        }))
    }
}

/// `12h`, `1w2d`, `90m`, `30s`: numbers each followed by w, d, h, m or s.
fn parse_interval(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

/// `pull`'s options.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Services to pull (all when empty).
    pub services: Vec<String>,
    /// `--include-deps`: the services they depend on too.
    pub include_deps: bool,
    /// `--ignore-pull-failures`: report failures and carry on.
    pub ignore_failures: bool,
    /// `--policy`: instead of each service's `pull_policy`.
    pub policy: Option<PullPolicy>,
    /// Layers downloaded at once per image.
    pub max_concurrent_downloads: Option<usize>,
    /// `-q`: no progress.
    pub quiet: bool,
}

/// What a pull decided for one image.
enum Decision {
    Pull,
    Skip(&'static str),
}

impl Stack {
    /// `pull`: pulls the images of the services (by their `pull_policy`, or `--policy`; with
    /// neither, every image is pulled).
    pub fn pull(&self, opts: &PullOptions) -> Result<(), StackError> {
        let services = self.services_to_pull(&opts.services, opts.include_deps)?;
        let mut wanted = Vec::new();
        for name in services {
            let service = &self.project.services[&name];
            if service.image.is_empty() {
                self.report("", &name, "Skipped - No image to be pulled");
                continue;
            }
            let policy = opts.policy.or(PullPolicy::parse(&service.pull_policy).map_err(|e| StackError::Service { service: name.clone(), message: e })?);
            match self.decide(&service.image, policy.unwrap_or(PullPolicy::Always)) {
                Decision::Pull => wanted.push(name),
                Decision::Skip(why) => self.report("", &name, why),
            }
        }
        self.pull_services(&wanted, opts.ignore_failures, opts.max_concurrent_downloads, opts.quiet)
    }

    /// Pulls what `up` needs: each service's image by its `pull_policy` (missing by default),
    /// or by `policy` (`up --pull`). A service that must not be pulled and is missing fails.
    pub(crate) fn pull_for_up(&self, services: &[String], policy: Option<PullPolicy>, quiet: bool) -> Result<(), StackError> {
        let mut wanted = Vec::new();
        for name in self.services_to_pull(services, true)? {
            let service = &self.project.services[&name];
            // A service that builds its image is built by `up`, not pulled (as compose does).
            if service.image.is_empty() || service.build.is_some() {
                continue;
            }
            let policy = policy.or(PullPolicy::parse(&service.pull_policy).map_err(|e| StackError::Service { service: name.clone(), message: e })?);
            if let Decision::Pull = self.decide(&service.image, policy.unwrap_or(PullPolicy::Missing)) {
                wanted.push(name);
            }
        }
        self.pull_services(&wanted, false, None, quiet)
    }

    /// Whether `image` is to be pulled under `policy`.
    fn decide(&self, image: &str, policy: PullPolicy) -> Decision {
        let present = self.runtime.images().resolve(image).is_ok();
        match policy {
            PullPolicy::Always => Decision::Pull,
            PullPolicy::Never | PullPolicy::Build => Decision::Skip("Skipped"),
            PullPolicy::Missing if present => Decision::Skip("Skipped - Image is already present locally"),
            PullPolicy::Missing => Decision::Pull,
            PullPolicy::Every(every) => match self.last_pulled(image) {
                Some(at) if present && at.elapsed().is_ok_and(|e| e < every) => Decision::Skip("Skipped - Image is already present locally"),
                _ => Decision::Pull,
            },
        }
    }

    /// The services named (all when none), with the services they depend on if `with_deps`,
    /// in the project's order.
    pub(crate) fn services_to_pull(&self, named: &[String], with_deps: bool) -> Result<Vec<String>, StackError> {
        if named.is_empty() {
            return Ok(self.project.services.keys().cloned().collect());
        }
        let mut chosen = BTreeSet::new();
        let mut todo: Vec<String> = named.to_vec();
        while let Some(name) = todo.pop() {
            let service = self.project.services.get(&name).ok_or_else(|| StackError::Invalid(format!("no such service: {name}")))?;
            if chosen.insert(name.clone()) && with_deps {
                todo.extend(service.depends_on.keys().cloned());
            }
        }
        Ok(self.project.services.keys().filter(|s| chosen.contains(*s)).cloned().collect())
    }

    /// Pulls the images of `services`, each distinct image once, all at once.
    fn pull_services(&self, services: &[String], ignore_failures: bool, parallel: Option<usize>, quiet: bool) -> Result<(), StackError> {
        let mut by_image: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for name in services {
            let service = &self.project.services[name];
            by_image.entry((service.image.clone(), service.platform.clone())).or_default().push(name.clone());
        }
        let results: Vec<(Vec<String>, Result<(), StackError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = by_image
                .iter()
                .map(|((image, platform), names)| scope.spawn(move || (names.clone(), self.pull_image(&names[0], image, platform, parallel, quiet))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        let mut first = None;
        for (names, result) in results {
            if let Err(e) = result {
                for name in &names {
                    self.report("", name, "Error");
                }
                if ignore_failures {
                    eprintln!("{e}");
                } else {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Pulls one image for `service`, reporting its progress.
    fn pull_image(&self, service: &str, image: &str, platform: &str, parallel: Option<usize>, quiet: bool) -> Result<(), StackError> {
        let fail = |message: String| StackError::Service { service: service.to_string(), message };
        let platform = if platform.is_empty() { None } else { Some(Platform::parse(platform).map_err(|e| fail(e.to_string()))?) };
        let options = RegistryPullOptions { platform, max_concurrent_downloads: parallel.unwrap_or(xcompose_registry::DEFAULT_CONCURRENT_DOWNLOADS) };
        let report = |name: &str, status: &str| {
            if !quiet {
                self.report("", name, status);
            }
        };
        report(service, "Pulling");
        let on_event = |event: PullEvent| {
            if let PullEvent::Layer { id, status } = event {
                report(&id, &status.to_string());
            }
        };
        xcompose_registry::pull(self.runtime.images(), image, &options, &on_event).map_err(|e| fail(e.to_string()))?;
        self.record_pull(image);
        report(service, "Pulled");
        Ok(())
    }

    /// Where the time of `image`'s last pull is kept (as a file's modification time).
    fn pull_stamp(&self, image: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(image.as_bytes()));
        self.root.join("pulls").join(key)
    }

    fn last_pulled(&self, image: &str) -> Option<SystemTime> {
        std::fs::metadata(self.pull_stamp(image)).and_then(|m| m.modified()).ok()
    }

    /// Notes that `image` was just pulled (for `every_<duration>` policies); a failure to note it
    /// only means the next `up` pulls again.
    fn record_pull(&self, image: &str) {
        let stamp = self.pull_stamp(image);
        if let Some(dir) = stamp.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&stamp, image.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_pull_policy() {
        assert_eq!(PullPolicy::parse("").unwrap(), None);
        assert_eq!(PullPolicy::parse("always").unwrap(), Some(PullPolicy::Always));
        assert_eq!(PullPolicy::parse("if_not_present").unwrap(), Some(PullPolicy::Missing));
        assert_eq!(PullPolicy::parse("build").unwrap(), Some(PullPolicy::Build));
        assert_eq!(PullPolicy::parse("daily").unwrap(), Some(PullPolicy::Every(Duration::from_secs(86_400))));
        assert_eq!(PullPolicy::parse("every_1w2d").unwrap(), Some(PullPolicy::Every(Duration::from_secs(9 * 86_400))));
        assert_eq!(PullPolicy::parse("every_90m").unwrap(), Some(PullPolicy::Every(Duration::from_secs(5_400))));
        for bad in ["sometimes", "every_", "every_12", "every_3x", "every_0s"] {
            let err = PullPolicy::parse(bad).unwrap_err();
            assert!(err.starts_with(&format!("invalid pull policy {bad:?}")), "{err}");
        }
    }
}
