//! `down`: the project's containers stopped and removed, dependents first, then its networks
//! and (with `-v`) its volumes.

use std::time::Duration;

use xcompose_orchestrator::graph::ServiceGraph;
use xcompose_orchestrator::labels;

use crate::{Stack, StackError};

/// `down`'s options.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// `-v`: remove named volumes declared in the project and anonymous ones.
    pub volumes: bool,
    /// `--remove-orphans`: also containers of services no longer in the files.
    pub remove_orphans: bool,
    /// `-t`: grace period before SIGKILL (each container's own by default).
    pub timeout: Option<Duration>,
}

impl Stack {
    /// Takes the project down.
    pub fn down(&self, opts: &DownOptions) -> Result<(), StackError> {
        let _lock = self.lock()?;
        let containers = self.project_containers()?;
        let graph = ServiceGraph::new(&self.project).map_err(|e| StackError::Invalid(e.to_string()))?;
        let service_of = |c: &xcompose_runtime::ContainerSummary| c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
        // Orphans first (nothing in the project depends on them), then the levels, dependents first.
        let mut batches: Vec<Vec<&xcompose_runtime::ContainerSummary>> = Vec::new();
        let orphans: Vec<_> = containers.iter().filter(|c| !self.project.services.contains_key(&service_of(c))).collect();
        if opts.remove_orphans {
            batches.push(orphans);
        } else {
            for orphan in &orphans {
                eprintln!("Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", orphan.name);
            }
        }
        for level in graph.levels().into_iter().rev() {
            batches.push(containers.iter().filter(|c| level.contains(&service_of(c).as_str())).collect());
        }
        for batch in batches {
            let results: Vec<Result<(), StackError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|c| {
                        scope.spawn(move || {
                            self.report("Container", &c.name, "Stopping");
                            let grace = match opts.timeout {
                                Some(t) => t,
                                None => self.runtime.find(&c.id)?.stop_grace,
                            };
                            self.remove_container(&c.id, grace)?;
                            self.report("Container", &c.name, "Removed");
                            Ok(())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
            });
            results.into_iter().collect::<Result<Vec<()>, StackError>>()?;
        }
        for network in self.project.networks.values().filter(|n| !n.external) {
            if let Some(record) = self.networks.get(&network.name)? {
                self.report("Network", &network.name, "Removing");
                self.networks.remove(&record)?;
                self.report("Network", &network.name, "Removed");
            }
        }
        if opts.volumes {
            self.remove_volumes()?;
        }
        Ok(())
    }
}
