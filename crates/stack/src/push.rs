//! `push`: the images of the services that build theirs, as compose pushes them (a service that
//! only names a registry image has nothing of its own to push).

use xcompose_registry::PushEvent;

use crate::{Stack, StackError};

/// `push`'s options.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Services to push (all when empty).
    pub services: Vec<String>,
    /// `--include-deps`: the services they depend on too.
    pub include_deps: bool,
    /// `--ignore-push-failures`: report failures and carry on.
    pub ignore_failures: bool,
    /// `-q`: no progress.
    pub quiet: bool,
}

impl Stack {
    /// `push`: pushes each chosen service's image, one after another.
    pub fn push(&self, opts: &PushOptions) -> Result<(), StackError> {
        let mut first = None;
        for name in self.services_to_pull(&opts.services, opts.include_deps)? {
            let service = &self.project.services[&name];
            if service.build.is_none() || service.image.is_empty() {
                continue;
            }
            let report = |name: &str, status: &str| {
                if !opts.quiet {
                    self.report("", name, status);
                }
            };
            report(&name, "Pushing");
            let on_event = |event: PushEvent| {
                if let PushEvent::Layer { id, status } = event {
                    report(&id, &status);
                }
            };
            match xcompose_registry::push(self.runtime.images(), &service.image, &on_event) {
                Ok(_) => report(&name, "Pushed"),
                Err(e) => {
                    report(&name, "Error");
                    let error = StackError::Service { service: name.clone(), message: e.to_string() };
                    if opts.ignore_failures {
                        eprintln!("{error}");
                    } else {
                        first.get_or_insert(error);
                    }
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}
