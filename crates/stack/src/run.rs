//! `run`: a one-off container of a service (`<project>-<service>-run-<id>`), its dependencies
//! brought up first unless told otherwise.

use std::collections::BTreeMap;

use xcompose_loader::model::{Port, ServiceVolume};
use xcompose_orchestrator::naming::oneoff_name;

use crate::{Stack, StackError, UpOptions};

/// `run`'s options.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The command (the service's if `None`).
    pub command: Option<Vec<String>>,
    /// `--entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE`.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--no-deps`: do not start the service's dependencies.
    pub no_deps: bool,
    /// `-P`/`--service-ports`: publish the service's ports, as `up` would.
    pub service_ports: bool,
    /// `--build`: build the image first even if it exists (a missing one is always built).
    pub build: bool,
    /// `-p`/`--publish`: the ports to publish instead of the service's.
    pub publish: Vec<Port>,
    /// `-v`/`--volume`: mounts added to the service's (one for a target the service mounts
    /// replaces it); bind sources absolute.
    pub volumes: Vec<ServiceVolume>,
    /// `-l`/`--label`: labels added to or overriding the service's.
    pub labels: BTreeMap<String, String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--use-aliases`: the container answers to the service's name and network aliases too,
    /// not only to its own name.
    pub use_aliases: bool,
    /// `-i`/`--interactive`: its stdin is kept open (compose's default).
    pub interactive: bool,
    /// The caller will feed its stdin (`-i` without `-d`): it is closed once the caller has
    /// sent everything, as compose's `StdinOnce`.
    pub attach_stdin: bool,
}

/// What makes a container a one-off of `run`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OneOff {
    /// Its stdin is closed once its first client has finished (Docker's `StdinOnce`).
    pub stdin_once: bool,
}

impl Stack {
    /// Creates and starts a one-off container of `service`; returns its id.
    pub fn run(&self, service_name: &str, opts: &RunOptions) -> Result<String, StackError> {
        let service = self.project.services.get(service_name).ok_or_else(|| StackError::Invalid(format!("no such service: {service_name}")))?;
        self.refuse_unsupported()?;
        let dependencies: Vec<String> = service.depends_on.keys().filter(|d| self.project.services.contains_key(*d)).cloned().collect();
        if !opts.no_deps && !dependencies.is_empty() {
            let mut up = UpOptions::default();
            up.plan.services = dependencies;
            self.up(&up)?;
        }
        let _lock = self.lock()?;
        let policy = if opts.build { crate::BuildPolicy::Always } else { crate::BuildPolicy::Missing };
        self.build_for_up(&[service_name.to_string()], policy)?;
        self.pull_for_up(&[service_name.to_string()], None, false)?;
        self.repair()?;
        self.ensure_resources()?;
        let mut service = service.clone();
        if let Some(command) = &opts.command {
            service.command = Some(command.clone());
        }
        if let Some(entrypoint) = &opts.entrypoint {
            service.entrypoint = Some(entrypoint.clone());
        }
        for assignment in &opts.env {
            let (key, value) = assignment.split_once('=').map_or((assignment.as_str(), None), |(k, v)| (k, Some(v.to_string())));
            service.environment.insert(key.to_string(), value.or_else(|| std::env::var(key).ok()));
        }
        if let Some(user) = &opts.user {
            service.user = user.clone();
        }
        if let Some(dir) = &opts.workdir {
            service.working_dir = dir.clone();
        }
        // One-off containers do not restart, and publish the service's ports only when asked.
        service.restart.clear();
        service.deploy = None;
        if !opts.service_ports {
            service.ports.clone_from(&opts.publish);
        }
        apply_overrides(&mut service, opts);
        // As compose's run: `-i` keeps the one-off's stdin open, whatever the service says.
        service.stdin_open = opts.interactive;
        let name = opts.name.clone().unwrap_or_else(|| oneoff_name(&self.project.name, service_name, &unique_suffix()));
        self.report("Container", &name, "Creating");
        let id = self.create_from(service_name, &service, 1, &name, Some(OneOff { stdin_once: opts.attach_stdin }), &Default::default())?;
        self.report("Container", &name, "Created");
        xcompose_fault::point("run.created");
        self.connect(&id, service_name, &service, opts.use_aliases)?;
        self.runtime.start(&id)?;
        xcompose_fault::point("run.started");
        Ok(id)
    }

    /// Removes one-off container `id` (after it exited), with what it held: its anonymous
    /// volumes too, as `docker run --rm` removes them.
    pub fn remove_oneoff(&self, id: &str) -> Result<(), StackError> {
        let _lock = self.lock()?;
        let anonymous = self.anonymous_volumes_of(id)?;
        self.remove_container(id, std::time::Duration::ZERO)?;
        for name in anonymous.values() {
            self.volumes.remove(name).map_err(|e| StackError::Invalid(e.to_string()))?;
        }
        Ok(())
    }
}

/// `run`'s mounts, labels and capabilities applied to the one-off copy of the service, as
/// compose's runCommand applies them: an added capability is no longer dropped and a dropped one
/// no longer added.
fn apply_overrides(service: &mut xcompose_loader::model::Service, opts: &RunOptions) {
    for volume in &opts.volumes {
        service.volumes.retain(|v| v.target != volume.target);
        service.volumes.push(volume.clone());
    }
    service.labels.extend(opts.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    service.cap_drop.retain(|c| !opts.cap_add.contains(c));
    service.cap_add.extend(opts.cap_add.iter().filter(|c| !service.cap_add.contains(c)).cloned().collect::<Vec<_>>());
    service.cap_add.retain(|c| !opts.cap_drop.contains(c));
    service.cap_drop.extend(opts.cap_drop.iter().filter(|c| !service.cap_drop.contains(c)).cloned().collect::<Vec<_>>());
}

/// 12 hex digits that make a one-off container's name unique.
fn unique_suffix() -> String {
    use sha2::Digest;
    let seed = format!("{}{:?}{:?}", std::process::id(), std::time::SystemTime::now(), std::thread::current().id());
    hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..6])
}
