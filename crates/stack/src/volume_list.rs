//! `volumes`: the project's volumes, as compose lists them (those labelled with the project's
//! name; with services named, only those their containers mount).

use std::path::PathBuf;

use xcompose_container::MountKind;
use xcompose_orchestrator::labels;
use xcompose_volumes::Volume;

use crate::{Stack, StackError};

impl Stack {
    /// The volumes of the project; with `services`, only those their containers mount.
    pub fn project_volumes(&self, services: &[String]) -> Result<Vec<Volume>, StackError> {
        let all = self.volumes.list().map_err(|e| StackError::Invalid(e.to_string()))?;
        let mut mounted: Vec<PathBuf> = Vec::new();
        for container in self.project_containers()? {
            let service = container.labels.get(labels::SERVICE).map(String::as_str).unwrap_or_default();
            if !services.iter().any(|s| s == service) {
                continue;
            }
            let record = self.runtime.find(&container.id)?;
            for m in &record.supervisor.spec.mounts {
                if let MountKind::Bind { source, .. } = &m.kind {
                    mounted.push(source.clone());
                }
            }
        }
        Ok(all
            .into_iter()
            .filter(|v| v.labels.get(labels::PROJECT) == Some(&self.project.name))
            .filter(|v| services.is_empty() || mounted.contains(&v.mountpoint))
            .collect())
    }
}
