//! `down`: the project's containers stopped and removed, dependents first, then its networks,
//! (with `-v`) its volumes and (with `--rmi`) its services' images.

use std::collections::BTreeMap;
use std::time::Duration;

use xcompose_orchestrator::graph::ServiceGraph;
use xcompose_orchestrator::labels;
use xcompose_runtime::ContainerSummary;

use crate::down_scope::{DownScope, IN_USE};
use crate::schedule::Schedule;
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
    /// `--rmi`: the services' images to remove, if any.
    pub images: Option<RemoveImages>,
    /// `down SERVICE...`: only these services' containers (all when empty).
    pub services: Vec<String>,
    /// `COMPOSE_IGNORE_ORPHANS`: no warning about orphan containers.
    pub ignore_orphans: bool,
}

/// `--rmi`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveImages {
    /// `local`: only images without a custom tag (those named after the project and service).
    Local,
    /// `all`: every image a service uses.
    All,
}

impl std::str::FromStr for RemoveImages {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "local" => Ok(Self::Local),
            "all" => Ok(Self::All),
            other => Err(format!("invalid value for --rmi: {other:?}")),
        }
    }
}

impl Stack {
    /// Takes the project down.
    pub fn down(&self, opts: &DownOptions) -> Result<(), StackError> {
        let _lock = self.lock()?;
        let containers = self.project_containers()?;
        let graph = ServiceGraph::new(&self.project).map_err(|e| StackError::Invalid(e.to_string()))?;
        let service_of = |c: &ContainerSummary| c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
        let scope = DownScope::new(&self.project, &graph, &opts.services)?;
        // Orphans first (nothing in the project depends on them), then dependents before what
        // they depend on.
        let orphans: Vec<ContainerSummary> = containers.iter().filter(|c| !self.project.services.contains_key(&service_of(c))).cloned().collect();
        let mut doomed: Vec<ContainerSummary> = Vec::new();
        if opts.remove_orphans {
            doomed.extend(orphans);
        } else if !opts.ignore_orphans {
            for orphan in &orphans {
                eprintln!("Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", orphan.name);
            }
        }
        for level in graph.levels().into_iter().rev() {
            doomed.extend(containers.iter().filter(|c| level.contains(&service_of(c).as_str()) && scope.takes_down(&service_of(c))).cloned());
        }
        // As compose (reverse dependency order), each container is stopped and removed as soon
        // as the containers of the services depending on it are stopped: no waiting for a whole
        // level, and removals overlap the stops of other services.
        let services: Vec<String> = doomed.iter().map(service_of).collect();
        let dependents: BTreeMap<&str, Vec<String>> = services
            .iter()
            .map(|s| {
                let above = graph.with_dependents(std::slice::from_ref(s)).map(|all| all.into_iter().filter(|d| d != s).map(str::to_string).collect()).unwrap_or_default();
                (s.as_str(), above)
            })
            .collect();
        let schedule = Schedule::new(services.iter().map(String::as_str));
        // `-v` takes the removed containers' anonymous volumes with them (Docker's `rm -v`).
        let anonymous_too = opts.volumes && scope.is_partial();
        let results = crate::concurrency::run_all(&doomed, self.parallel, |c| {
            let service = service_of(c);
            let result = self.take_down_container(c, &service, &dependents[service.as_str()], &schedule, opts.timeout, anonymous_too);
            if result.is_err() {
                schedule.fail();
            }
            result
        });
        let mut anonymous = Vec::new();
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(volumes) => anonymous.extend(volumes),
                Err(e) => errors.push(e),
            }
        }
        // The root cause first: containers aborted because another failed come after.
        errors.sort_by_key(|e| matches!(e, StackError::Aborted));
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        // As compose (its down runs the removals of networks and volumes in one errgroup): the
        // networks, the volumes and the idle resolver go at once; none needs another.
        std::thread::scope(|threads| {
            let resolver = threads.spawn(|| self.resolver.stop_if_idle());
            let volumes = threads.spawn(|| self.remove_files_and_volumes(&scope, opts.volumes, &anonymous));
            let networks = self.remove_networks(&scope);
            let join = |handle: std::thread::ScopedJoinHandle<'_, Result<(), StackError>>| handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            join(resolver).and(join(volumes)).and(networks)
        })?;
        if let Some(which) = opts.images {
            self.remove_images(which, &scope)?;
        }
        Ok(())
    }

    /// After the containers: the volumes they leave unused unmounted, the files of secrets and
    /// configs given by content, and with `volumes` (`-v`) the volumes of `scope` (and the
    /// removed containers' `anonymous` ones).
    fn remove_files_and_volumes(&self, scope: &DownScope, volumes: bool, anonymous: &[String]) -> Result<(), StackError> {
        self.unmount_unused_volumes()?;
        // The files of secrets and configs given by content went with the containers (once
        // none is left).
        let files = self.file_objects_dir();
        if files.exists() && (!scope.is_partial() || self.project_containers()?.is_empty()) {
            std::fs::remove_dir_all(&files).map_err(StackError::io(&files))?;
        }
        match (volumes, scope.is_partial()) {
            (false, _) => Ok(()),
            (true, true) => self.remove_scoped_volumes(scope, anonymous),
            (true, false) => self.remove_volumes(),
        }
    }

    /// The networks of `scope` no container uses any more.
    fn remove_networks(&self, scope: &DownScope) -> Result<(), StackError> {
        let mut doomed = Vec::new();
        for network in self.project.networks.iter().filter(|(key, n)| !n.external && scope.network_in_scope(key)).map(|(_, n)| n) {
            let Some(record) = self.networks.get(&network.name)? else { continue };
            self.report("Network", &network.name, "Removing");
            // Compose keeps a network a container still uses, with a warning.
            if self.networks.in_use(&network.name)? {
                self.report("Network", &network.name, IN_USE);
                continue;
            }
            doomed.push(record);
        }
        self.networks.remove_all(&doomed)?;
        for record in &doomed {
            self.report("Network", &record.name, "Removed");
        }
        Ok(())
    }

    /// Stops container `c` of `service` once the containers of its `dependents` are stopped
    /// (within `timeout`), then removes it; returns its anonymous volumes if `anonymous_too`.
    fn take_down_container(&self, c: &ContainerSummary, service: &str, dependents: &[String], schedule: &Schedule, timeout: Option<Duration>, anonymous_too: bool) -> Result<Vec<String>, StackError> {
        schedule.wait_for(dependents.iter().map(String::as_str))?;
        self.report("Container", &c.name, "Stopping");
        self.stop_container(service, &c.id, timeout)?;
        self.report("Container", &c.name, "Stopped");
        schedule.done(service);
        let anonymous = if anonymous_too { self.anonymous_volumes_of(&c.id)?.into_values().collect() } else { Vec::new() };
        self.report("Container", &c.name, "Removing");
        self.remove_container(&c.id, Duration::ZERO)?;
        self.report("Container", &c.name, "Removed");
        Ok(anonymous)
    }

    /// Removes the services' images (`--rmi`; with `down SERVICE...` those of the named services
    /// and their dependencies, as compose's narrowed project has them); images already gone are skipped, one a container
    /// outside the project still uses is an error, as with Docker.
    fn remove_images(&self, which: RemoveImages, scope: &DownScope) -> Result<(), StackError> {
        let mut images: Vec<String> = self
            .project
            .services
            .iter()
            .filter(|(name, _)| scope.covers(name))
            .filter_map(|(name, service)| match (which, service.image.is_empty()) {
                (_, true) => Some(xcompose_orchestrator::naming::build_image_name(&self.project.name, name)),
                (RemoveImages::All, false) => Some(service.image.clone()),
                (RemoveImages::Local, false) => None,
            })
            .collect();
        images.sort();
        images.dedup();
        let in_use = |id: &str| self.runtime.container_using(id).unwrap_or(Some("unknown".into()));
        for image in images {
            self.report("Image", &image, "Removing");
            match self.runtime.images().remove(&image, false, &in_use) {
                Ok(_) => self.report("Image", &image, "Removed"),
                Err(xcompose_images::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
