//! `down`: the project's containers stopped and removed, dependents first, then its networks
//! and (with `-v`) its volumes.

use std::time::Duration;

use xcompose_orchestrator::graph::ServiceGraph;
use xcompose_orchestrator::labels;
use xcompose_runtime::ContainerSummary;

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
        let service_of = |c: &ContainerSummary| c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
        // Stopped orphans first (nothing in the project depends on them), then level by level,
        // dependents first; then everything is removed at once.
        let orphans: Vec<ContainerSummary> = containers.iter().filter(|c| !self.project.services.contains_key(&service_of(c))).cloned().collect();
        let mut batches: Vec<Vec<ContainerSummary>> = Vec::new();
        if opts.remove_orphans {
            batches.push(orphans);
        } else {
            for orphan in &orphans {
                eprintln!("Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", orphan.name);
            }
        }
        for level in graph.levels().into_iter().rev() {
            batches.push(containers.iter().filter(|c| level.contains(&service_of(c).as_str())).cloned().collect());
        }
        for batch in &batches {
            self.each(batch, |c| {
                self.report("Container", &c.name, "Stopping");
                self.runtime.stop(&c.id, opts.timeout)?;
                self.report("Container", &c.name, "Stopped");
                Ok(())
            })?;
        }
        let doomed: Vec<ContainerSummary> = batches.into_iter().flatten().collect();
        self.each(&doomed, |c| {
            self.report("Container", &c.name, "Removing");
            self.remove_container(&c.id, Duration::ZERO)?;
            self.report("Container", &c.name, "Removed");
            Ok(())
        })?;
        let networks: Vec<_> = self.project.networks.values().filter(|n| !n.external).collect();
        let results: Vec<Result<(), StackError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = networks
                .iter()
                .map(|network| {
                    scope.spawn(move || {
                        if let Some(record) = self.networks.get(&network.name)? {
                            self.report("Network", &network.name, "Removing");
                            self.networks.remove(&record)?;
                            self.report("Network", &network.name, "Removed");
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        results.into_iter().collect::<Result<Vec<()>, StackError>>()?;
        if opts.volumes {
            self.remove_volumes()?;
        }
        Ok(())
    }
}
