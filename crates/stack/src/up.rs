//! `up`: plan from what exists, then carry the plan out step by step, the actions of a step in
//! parallel; a container starts once its dependencies meet their `depends_on` conditions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use xcompose_loader::model::Service;
use xcompose_orchestrator::labels;
use xcompose_orchestrator::plan::{plan_up, Action, Actual, Plan};
use xcompose_supervisor::health::HealthStatus;
use xcompose_supervisor::state::Status;

use crate::schedule::Schedule;
use crate::volumes::AnonymousVolumes;
use crate::{Stack, StackError};

/// Networks and volumes, made before any container.
fn is_resource_action(action: &Action) -> bool {
    matches!(action, Action::CreateNetwork(_) | Action::CreateVolume(_) | Action::RemoveOrphan { .. })
}

/// Actions after which a service's container runs.
fn starts_a_container(action: &Action) -> bool {
    matches!(action, Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. } | Action::Restart { .. })
}

/// `up`'s options.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// What changes the plan (`--force-recreate`, `--no-recreate`, `--scale`, services, ...);
    /// its image digests are filled in by [`Stack::plan`].
    pub plan: xcompose_orchestrator::plan::UpOptions,
    /// `--no-start`: create only.
    pub no_start: bool,
    /// `-V`: a recreated container gets new anonymous volumes instead of the old one's.
    pub renew_anon_volumes: bool,
    /// `--wait`: return once every container runs (and is healthy, if it has a healthcheck).
    pub wait: bool,
    /// `--wait-timeout`.
    pub wait_timeout: Option<Duration>,
    /// `-t`: grace period when stopping containers to recreate them.
    pub timeout: Option<Duration>,
    /// `--pull`: instead of each service's `pull_policy` (whose default is `missing`).
    pub pull: Option<crate::PullPolicy>,
    /// `--quiet-pull`: pull without progress.
    pub quiet_pull: bool,
    /// `--build` / `--no-build`: when images with a `build:` section are built.
    pub build: crate::BuildPolicy,
    /// `COMPOSE_IGNORE_ORPHANS`: no warning about orphan containers.
    pub ignore_orphans: bool,
}

/// How often states are polled while waiting.
const POLL: Duration = Duration::from_millis(20);

impl Stack {
    /// The plan `up` would carry out (for `--dry-run`, and by `up` itself).
    pub fn plan(&self, opts: &UpOptions) -> Result<Plan, StackError> {
        self.refuse_unsupported()?;
        let mut plan_opts = opts.plan.clone();
        // Every image is resolved first: an unknown image fails `up` before anything changes.
        for (name, service) in &self.project.services {
            crate::request::check(service).map_err(|message| StackError::Service { service: name.clone(), message })?;
            let image = self
                .runtime
                .images()
                .resolve(&self.service_image(name, service))
                .map_err(|e| StackError::Service { service: name.clone(), message: e.to_string() })?;
            crate::platform::check(name, service, &image)?;
            plan_opts.image_digests.insert(name.clone(), image.id);
        }
        let mut actual = Actual { containers: self.actual_containers()?, ..Default::default() };
        for (key, network) in &self.project.networks {
            if self.networks.get(&network.name)?.is_some() {
                actual.networks.insert(key.clone());
            }
        }
        for key in self.project.volumes.keys() {
            if self.volume_exists(key) {
                actual.volumes.insert(key.clone());
            }
        }
        plan_up(&self.project, &actual, &plan_opts).map_err(|e| StackError::Invalid(e.to_string()))
    }

    /// Brings the project to what its files say.
    pub fn up(&self, opts: &UpOptions) -> Result<(), StackError> {
        self.refuse_unsupported()?;
        let _lock = self.lock()?;
        self.build_for_up(&opts.plan.services, opts.build)?;
        self.pull_for_up(&opts.plan.services, opts.pull, opts.quiet_pull)?;
        self.repair()?;
        let plan = self.plan(opts)?;
        for orphan in plan.orphans.iter().filter(|_| !opts.ignore_orphans) {
            eprintln!("Found orphan containers ([{orphan}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.");
        }
        // Networks, volumes and orphans first; then every container action at once, each
        // starting its container when the services it depends on have started theirs.
        let mut steps = plan.steps.iter();
        if let Some(first) = plan.steps.first().filter(|s| s.iter().all(is_resource_action)) {
            steps.next();
            self.carry_out_resources(first, opts)?;
        }
        let containers: Vec<(Action, String)> =
            steps.flatten().map(|a| Ok((a.clone(), self.action_service(a)?))).collect::<Result<_, StackError>>()?;
        let schedule = Schedule::new(containers.iter().filter(|(a, _)| starts_a_container(a)).map(|(_, s)| s.as_str()));
        let actions: Vec<Action> = containers.iter().map(|(a, _)| a.clone()).collect();
        let services: BTreeMap<&Action, &str> = containers.iter().map(|(a, s)| (a, s.as_str())).collect();
        self.in_parallel(&actions, |action| {
            let service = services[action];
            let result = self.carry_out_container(action, service, opts, &schedule);
            match &result {
                Ok(()) => schedule.done(service),
                Err(_) => schedule.fail(),
            }
            result
        })?;
        if opts.wait {
            self.wait_running(opts.wait_timeout)?;
        }
        Ok(())
    }

    /// The first step's actions at once: the networks together (their firewall rules in one
    /// change), each volume and orphan on its own.
    fn carry_out_resources(&self, actions: &[Action], opts: &UpOptions) -> Result<(), StackError> {
        let (networks, others): (Vec<Action>, Vec<Action>) = actions.iter().cloned().partition(|a| matches!(a, Action::CreateNetwork(_)));
        let (networks, others) = std::thread::scope(|scope| {
            let networks = scope.spawn(|| self.create_networks(&networks));
            let others = self.in_parallel(&others, |action| self.carry_out(action, opts));
            (networks.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), others)
        });
        networks.and(others)
    }

    /// Carries out `actions` (all [`Action::CreateNetwork`]): their bridges at once, then the
    /// firewall rules and records of those made, even if another failed.
    fn create_networks(&self, actions: &[Action]) -> Result<(), StackError> {
        let prepared = crate::concurrency::run_all(actions, self.parallel, |action| {
            let Action::CreateNetwork(key) = action else { unreachable!("only network actions are given") };
            let network = &self.project.networks[key];
            self.report("Network", &network.name, "Creating");
            let labels = self.resource_labels(labels::NETWORK, key, &network.labels);
            self.networks.prepare(&network.name, network, labels)
        });
        let mut pending = Vec::new();
        let mut first_error = None;
        for result in prepared {
            match result {
                Ok(network) => pending.push(network),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !pending.is_empty() {
            for record in self.networks.finish(pending)? {
                self.report("Network", &record.name, "Created");
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Creates the project's networks and volumes that do not exist yet (for `run`).
    pub(crate) fn ensure_resources(&self) -> Result<(), StackError> {
        let plan = self.plan(&UpOptions { plan: xcompose_orchestrator::plan::UpOptions { no_recreate: true, ..Default::default() }, ..Default::default() })?;
        let opts = UpOptions::default();
        for action in plan.steps.iter().flatten() {
            if matches!(action, Action::CreateNetwork(_) | Action::CreateVolume(_)) {
                self.carry_out(action, &opts)?;
            }
        }
        Ok(())
    }

    /// Runs `job` on every action at once (at most `--parallel` at a time); the first error once
    /// all have finished.
    fn in_parallel(&self, actions: &[Action], job: impl Fn(&Action) -> Result<(), StackError> + Sync) -> Result<(), StackError> {
        let results = crate::concurrency::run_all(actions, self.parallel, job);
        // The root cause first: failures of actions aborted because another failed come after.
        let mut errors: Vec<StackError> = results.into_iter().filter_map(Result::err).collect();
        errors.sort_by_key(|e| matches!(e, StackError::Aborted));
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// The service an action is about.
    fn action_service(&self, action: &Action) -> Result<String, StackError> {
        Ok(match action {
            Action::Create { service, .. } | Action::Recreate { service, .. } => service.clone(),
            Action::Start { id } | Action::Restart { id } | Action::Remove { id, .. } | Action::RemoveOrphan { id, .. } => {
                self.runtime.find(id)?.labels.get(labels::SERVICE).cloned().unwrap_or_default()
            }
            Action::CreateNetwork(_) | Action::CreateVolume(_) => String::new(),
        })
    }

    /// A container action: what can be done at once (remove, create, connect), then, once the
    /// services `service` depends on have started and meet their conditions, the start.
    fn carry_out_container(&self, action: &Action, service: &str, opts: &UpOptions, schedule: &Schedule) -> Result<(), StackError> {
        let grace = opts.timeout;
        if matches!(action, Action::Create { .. } | Action::Recreate { .. }) {
            // A container sharing another service's namespace or volumes is made once that
            // service's container runs.
            schedule.wait_for(xcompose_orchestrator::plan::namespace_parents(&self.project.services[service]))?;
        }
        let (id, name) = match action {
            Action::RemoveOrphan { .. } | Action::Remove { .. } => return self.carry_out(action, opts),
            Action::Create { number, name, .. } => {
                self.report("Container", name, "Creating");
                let id = self.create_container(service, *number, name, &AnonymousVolumes::new())?;
                xcompose_fault::point("up.created");
                self.report("Container", name, "Created");
                (id, name.clone())
            }
            Action::Recreate { number, old_id, name, .. } => {
                self.report("Container", name, "Recreate");
                // The new container keeps the old one's anonymous volumes, as compose passes them.
                let inherited = if opts.renew_anon_volumes { AnonymousVolumes::new() } else { self.anonymous_volumes_of(old_id)? };
                self.stop_container(service, old_id, Some(self.grace(grace, old_id)?))?;
                self.remove_container(old_id, self.grace(grace, old_id)?)?;
                let id = self.create_container(service, *number, name, &inherited)?;
                self.report("Container", name, "Recreated");
                (id, name.clone())
            }
            Action::Start { id } | Action::Restart { id } => (id.clone(), self.runtime.find(id)?.name),
            Action::CreateNetwork(_) | Action::CreateVolume(_) => return self.carry_out(action, opts),
        };
        if opts.no_start {
            return Ok(());
        }
        let definition = &self.project.services[service];
        if !matches!(action, Action::Restart { .. }) {
            self.connect(&id, service, definition, true)?;
        }
        schedule.wait_for(definition.depends_on.keys().map(String::as_str))?;
        self.wait_dependencies(definition)?;
        if matches!(action, Action::Restart { .. }) {
            self.report("Container", &name, "Restarting");
            self.stop_container(service, &id, grace)?;
        } else {
            self.report("Container", &name, "Starting");
        }
        self.mount_volumes_of(&id)?;
        self.runtime.start(&id)?;
        xcompose_fault::point("up.started");
        self.post_start(service, &id)?;
        self.report("Container", &name, "Started");
        Ok(())
    }

    fn carry_out(&self, action: &Action, opts: &UpOptions) -> Result<(), StackError> {
        let grace = opts.timeout;
        match action {
            Action::CreateNetwork(key) => {
                let network = &self.project.networks[key];
                self.report("Network", &network.name, "Creating");
                let labels = self.resource_labels(labels::NETWORK, key, &network.labels);
                self.networks.create(&network.name, network, labels)?;
                self.report("Network", &network.name, "Created");
            }
            Action::CreateVolume(key) => {
                let volume = &self.project.volumes[key];
                self.report("Volume", &volume.name, "Creating");
                self.create_volume(key)?;
                self.report("Volume", &volume.name, "Created");
            }
            Action::RemoveOrphan { id, name } | Action::Remove { id, name } => {
                self.report("Container", name, "Stopping");
                self.remove_container(id, self.grace(grace, id)?)?;
                self.report("Container", name, "Removed");
            }
            Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. } | Action::Restart { .. } => {
                unreachable!("container actions go through carry_out_container")
            }
        }
        Ok(())
    }

    /// The grace period to stop container `id` with: `-t`, else its own.
    fn grace(&self, timeout: Option<Duration>, id: &str) -> Result<Duration, StackError> {
        Ok(match timeout {
            Some(t) => t,
            None => self.runtime.find(id)?.stop_grace,
        })
    }

    /// Starts a container of `service` once its dependencies are ready, connected to its networks.
    pub(crate) fn start_service_container(&self, service: &str, id: &str, name: &str) -> Result<(), StackError> {
        if let Some(definition) = self.project.services.get(service) {
            self.wait_dependencies(definition)?;
            self.connect(id, service, definition, true)?;
        }
        self.report("Container", name, "Starting");
        self.mount_volumes_of(id)?;
        self.runtime.start(id)?;
        self.post_start(service, id)?;
        self.report("Container", name, "Started");
        Ok(())
    }

    /// Waits until every dependency of `service` meets its condition; compose's messages when one cannot.
    fn wait_dependencies(&self, service: &Service) -> Result<(), StackError> {
        for (dependency, d) in &service.depends_on {
            if !self.project.services.contains_key(dependency) {
                if d.required {
                    return Err(StackError::Dependency(format!("service {dependency:?} is required but not enabled")));
                }
                continue;
            }
            let containers: Vec<String> = self
                .project_containers()?
                .into_iter()
                .filter(|c| c.labels.get(labels::SERVICE) == Some(dependency) && c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True"))
                .map(|c| c.id)
                .collect();
            for id in containers {
                let met = match d.condition.as_str() {
                    "service_healthy" => self.wait_healthy(&id, None),
                    "service_completed_successfully" => self.wait_completed(dependency, &id),
                    _ => Ok(()),
                };
                match met {
                    // `required: false`: compose warns and starts the dependent anyway.
                    Err(e) if !d.required => eprintln!("WARN[0000] optional dependency {dependency:?} failed: {e}"),
                    other => other?,
                }
            }
        }
        Ok(())
    }

    /// Waits for container `id` to be healthy.
    fn wait_healthy(&self, id: &str, deadline: Option<Instant>) -> Result<(), StackError> {
        let record = self.runtime.find(id)?;
        if record.supervisor.healthcheck.is_none() {
            return Err(StackError::Dependency(format!("dependency failed to start: container {} has no healthcheck configured", record.name)));
        }
        self.report("Container", &record.name, "Waiting");
        loop {
            let state = self.runtime.state(&record);
            // Compose's order: an exited container first, then its health. A crash-looping
            // one (restarting) is unhealthy from its first exit, as Docker records it.
            match (state.status, state.health.map(|h| h.status)) {
                (Status::Exited | Status::Dead, _) => {
                    return Err(StackError::Dependency(format!("dependency failed to start: container {} exited ({})", record.name, state.exit_code.unwrap_or(0))))
                }
                (_, Some(HealthStatus::Healthy)) => break,
                (_, Some(HealthStatus::Unhealthy)) => {
                    return Err(StackError::Dependency(format!("dependency failed to start: container {} is unhealthy", record.name)))
                }
                _ => {}
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                return Err(StackError::Dependency(format!("timeout waiting for container {} to be healthy", record.name)));
            }
            std::thread::sleep(POLL);
        }
        self.report("Container", &record.name, "Healthy");
        Ok(())
    }

    /// Waits for container `id` of `service` to exit, successfully.
    fn wait_completed(&self, service: &str, id: &str) -> Result<(), StackError> {
        let record = self.runtime.find(id)?;
        self.report("Container", &record.name, "Waiting");
        loop {
            let state = self.runtime.state(&record);
            // A container its restart policy brings back after each exit (restarting) has
            // completed too: compose would wait for an `exited` state that never comes.
            let ended = matches!(state.status, Status::Exited | Status::Dead) || (state.status == Status::Restarting && state.exit_code.is_some());
            if ended && state.started_at.is_some() {
                return match state.exit_code.unwrap_or(0) {
                    0 => {
                        self.report("Container", &record.name, "Exited");
                        Ok(())
                    }
                    code => Err(StackError::Dependency(format!("service {service:?} didn't complete successfully: exit {code}"))),
                };
            }
            std::thread::sleep(POLL);
        }
    }

    /// `--wait`: every container of the project runs (healthy if it has a healthcheck), or
    /// exited 0 (a one-shot service).
    fn wait_running(&self, timeout: Option<Duration>) -> Result<(), StackError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        for c in self.project_containers()?.into_iter().filter(|c| c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True")) {
            let record = self.runtime.find(&c.id)?;
            if record.supervisor.healthcheck.is_some() {
                self.wait_healthy(&c.id, deadline)?;
                continue;
            }
            let state = self.runtime.state(&record);
            if matches!(state.status, Status::Exited | Status::Dead) && state.exit_code.unwrap_or(0) != 0 {
                return Err(StackError::Dependency(format!("container {} exited ({})", record.name, state.exit_code.unwrap_or(0))));
            }
        }
        Ok(())
    }
}
