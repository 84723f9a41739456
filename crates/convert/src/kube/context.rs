//! What every part of one conversion shares: the project, the options, the Kubernetes names of
//! each kind of compose object, and the warnings so far.

use std::collections::BTreeSet;

use serde_json::Value;
use xcompose_loader::Project;

use super::{Conversion, Options};
use crate::names::NameMap;
use crate::Warning;

/// The condition that makes a dependency a step to finish before the dependent starts.
pub const COMPLETED: &str = "service_completed_successfully";

/// One conversion in progress.
pub struct Context<'a> {
    /// The project converted.
    pub project: &'a Project,
    /// The caller's choices.
    pub options: &'a Options,
    /// Kubernetes names of services.
    pub services: NameMap,
    /// Kubernetes names of named volumes (their claims).
    pub volumes: NameMap,
    /// Kubernetes names of networks (in labels and policies).
    pub networks: NameMap,
    /// Kubernetes names of secrets.
    pub secrets: NameMap,
    /// Kubernetes names of configs.
    pub configs: NameMap,
    /// Services that run to completion before a dependent starts: init containers, not workloads.
    init_services: BTreeSet<String>,
    warnings: Vec<Warning>,
}

impl<'a> Context<'a> {
    /// A conversion of `project` with `options`.
    pub fn new(project: &'a Project, options: &'a Options) -> Context<'a> {
        let init_services = project
            .services
            .values()
            .flat_map(|s| s.depends_on.iter())
            .filter(|(_, dep)| dep.condition == COMPLETED)
            .map(|(name, _)| name.clone())
            .collect();
        Context {
            project,
            options,
            services: NameMap::new(project.services.keys()),
            volumes: NameMap::new(project.volumes.keys()),
            networks: NameMap::new(project.networks.keys()),
            secrets: NameMap::new(project.secrets.keys()),
            configs: NameMap::new(project.configs.keys()),
            init_services,
            warnings: Vec::new(),
        }
    }

    /// Records that `key` did not map, and why.
    pub fn warn(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.warnings.push(Warning::new(key, reason));
    }

    /// Whether service `name` runs as an init container of the services waiting for it to
    /// complete (`depends_on: {name: {condition: service_completed_successfully}}`).
    pub fn runs_as_init(&self, name: &str) -> bool {
        self.init_services.contains(name)
    }

    /// The project's name as a label value.
    pub fn project_label(&self) -> String {
        crate::names::dns_label(&self.project.name)
    }

    /// The finished conversion.
    pub fn finish(mut self, objects: Vec<Value>) -> Conversion {
        self.warnings.sort();
        self.warnings.dedup();
        let mut renamed = Vec::new();
        for (kind, map) in [("service", &self.services), ("volume", &self.volumes), ("network", &self.networks), ("secret", &self.secrets), ("config", &self.configs)] {
            renamed.extend(map.renamed().map(|(a, b)| (kind.to_string(), a.to_string(), b.to_string())));
        }
        Conversion { objects, warnings: self.warnings, renamed }
    }
}
