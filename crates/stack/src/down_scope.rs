//! What `down SERVICE...` takes down. As compose v2.40.3: the project is narrowed to the named
//! services and their dependencies (compose-go's `WithSelectedServices` then
//! `WithoutUnnecessaryResources`), only the named services' containers are stopped and removed,
//! and the networks and (with `-v`) named volumes of the narrowed project are removed unless a
//! container still uses them ("Resource is still in use"); `-v` also removes the anonymous
//! volumes of the removed containers, and `--rmi` the images of the narrowed project's services.

use std::collections::BTreeSet;

use xcompose_loader::Project;
use xcompose_orchestrator::graph::ServiceGraph;
use xcompose_container::MountKind;

use crate::{Stack, StackError};

/// The status compose shows for a network or volume it keeps because something uses it.
pub(crate) const IN_USE: &str = "Resource is still in use";

/// The services and resources one `down` acts on.
pub(crate) struct DownScope {
    /// The named services; `None` for the whole project.
    named: Option<BTreeSet<String>>,
    /// The named services and their dependencies.
    narrowed: BTreeSet<String>,
    /// The network keys of the named services and their dependencies.
    networks: BTreeSet<String>,
    /// The volume keys of the named services and their dependencies.
    volumes: BTreeSet<String>,
}

impl DownScope {
    /// The scope of `down services` in `project`; an unknown service is an error.
    pub(crate) fn new(project: &Project, graph: &ServiceGraph<'_>, services: &[String]) -> Result<Self, StackError> {
        if services.is_empty() {
            return Ok(Self { named: None, narrowed: BTreeSet::new(), networks: BTreeSet::new(), volumes: BTreeSet::new() });
        }
        if let Some(unknown) = services.iter().find(|s| !project.services.contains_key(*s)) {
            return Err(StackError::Invalid(format!("no such service: {unknown}")));
        }
        let narrowed = graph.with_dependencies(services).map_err(|e| StackError::Invalid(e.to_string()))?;
        let mut networks = BTreeSet::new();
        let mut volumes = BTreeSet::new();
        for name in &narrowed {
            let service = &project.services[*name];
            networks.extend(service.networks.keys().cloned());
            volumes.extend(service.volumes.iter().filter(|v| v.kind == "volume" && !v.source.is_empty()).map(|v| v.source.clone()));
        }
        Ok(Self { named: Some(services.iter().cloned().collect()), narrowed: narrowed.into_iter().map(str::to_string).collect(), networks, volumes })
    }

    /// Whether only some services go down.
    pub(crate) fn is_partial(&self) -> bool {
        self.named.is_some()
    }

    /// Whether `service`'s containers are stopped and removed.
    pub(crate) fn takes_down(&self, service: &str) -> bool {
        self.named.as_ref().is_none_or(|named| named.contains(service))
    }

    /// Whether `--rmi` removes `service`'s image.
    pub(crate) fn covers(&self, service: &str) -> bool {
        self.named.is_none() || self.narrowed.contains(service)
    }

    /// Whether network `key` of the project is one to remove.
    pub(crate) fn network_in_scope(&self, key: &str) -> bool {
        self.named.is_none() || self.networks.contains(key)
    }
}

impl Stack {
    /// `down -v SERVICE...`: the removed containers' `anonymous` volumes, then the scope's
    /// named volumes that no container (running or not, as Docker counts) mounts any more.
    pub(crate) fn remove_scoped_volumes(&self, scope: &DownScope, anonymous: &[String]) -> Result<(), StackError> {
        let named = self.project.volumes.iter().filter(|(key, v)| !v.external && scope.volumes.contains(*key)).map(|(_, v)| v.name.clone());
        let mounted = self.mounted_sources()?;
        for (name, check_use) in anonymous.iter().cloned().map(|n| (n, false)).chain(named.map(|n| (n, true))) {
            let Ok(volume) = self.volumes.get(&name) else { continue };
            self.report("Volume", &name, "Removing");
            if check_use && mounted.iter().any(|source| source.starts_with(&volume.mountpoint)) {
                self.report("Volume", &name, IN_USE);
                continue;
            }
            self.volumes.remove(&name).map_err(|e| StackError::Invalid(e.to_string()))?;
            self.report("Volume", &name, "Removed");
        }
        Ok(())
    }

    /// The host paths every remaining container bind-mounts (volumes are bind-mounted from
    /// their mountpoints).
    fn mounted_sources(&self) -> Result<Vec<std::path::PathBuf>, StackError> {
        let mut sources = Vec::new();
        for c in self.runtime.list()? {
            let record = self.runtime.find(&c.id)?;
            sources.extend(record.supervisor.spec.mounts.iter().filter_map(|m| match &m.kind {
                MountKind::Bind { source, .. } => Some(source.clone()),
                _ => None,
            }));
        }
        Ok(sources)
    }
}
