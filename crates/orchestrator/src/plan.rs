//! Reconciliation: from what exists ([`Actual`]) to what the project wants, as a [`Plan`] of
//! [`Action`]s in steps; the actions of one step do not depend on each other and may run in
//! parallel. A container is recreated only when it diverged: its config hash or image changed,
//! a network or volume it uses is missing (so made anew), or a service whose namespace it shares
//! was recreated (compose's rules).

use std::collections::{BTreeMap, BTreeSet};

use xcompose_loader::model::{Service, ServiceNetwork};
use xcompose_loader::{service_hash, Project};

use crate::graph::{GraphError, ServiceGraph};
use crate::naming::container_name;

/// A container as the runtime found it (from its labels and state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualContainer {
    /// Runtime id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `com.docker.compose.service`.
    pub service: String,
    /// `com.docker.compose.container-number`.
    pub number: u32,
    /// `com.docker.compose.oneoff`.
    pub oneoff: bool,
    /// `com.docker.compose.config-hash`.
    pub config_hash: String,
    /// `com.docker.compose.image`.
    pub image_digest: String,
    /// Whether its process runs.
    pub running: bool,
}

/// What exists for the project.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// The project's containers.
    pub containers: Vec<ActualContainer>,
    /// Network keys that exist.
    pub networks: BTreeSet<String>,
    /// Volume keys that exist.
    pub volumes: BTreeSet<String>,
}

/// `up`'s options that change the plan.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// `--force-recreate`.
    pub force_recreate: bool,
    /// `--no-recreate`.
    pub no_recreate: bool,
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// `--scale SERVICE=N`.
    pub scale: BTreeMap<String, u32>,
    /// Services named on the command line (empty: all).
    pub services: Vec<String>,
    /// `--no-deps`: the named services only.
    pub no_deps: bool,
    /// `--always-recreate-deps`: the dependencies of the named services are recreated too
    /// (compose's `RecreateDependencies: force`).
    pub always_recreate_deps: bool,
    /// Image digest each service resolves to now (a change recreates its containers).
    pub image_digests: BTreeMap<String, String>,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Create a project network.
    CreateNetwork(String),
    /// Create a project volume.
    CreateVolume(String),
    /// Remove a container whose service is gone from the project.
    RemoveOrphan {
        /// Container id.
        id: String,
        /// Container name.
        name: String,
    },
    /// Create and start replica `number` of `service`.
    Create {
        /// Service.
        service: String,
        /// Replica number.
        number: u32,
        /// Container name.
        name: String,
    },
    /// Replace a diverged container by a new one with the same number.
    Recreate {
        /// Service.
        service: String,
        /// Replica number.
        number: u32,
        /// The container replaced.
        old_id: String,
        /// Container name.
        name: String,
    },
    /// Start an existing, stopped, up-to-date container.
    Start {
        /// Container id.
        id: String,
    },
    /// Restart a container because a dependency with `restart: true` was recreated.
    Restart {
        /// Container id.
        id: String,
    },
    /// Stop and remove a replica above the wanted scale.
    Remove {
        /// Container id.
        id: String,
        /// Container name.
        name: String,
    },
}

/// Steps of actions; all actions of a step may run at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, in order.
    pub steps: Vec<Vec<Action>>,
    /// Containers of services no longer in the project, kept because `--remove-orphans` was not given.
    pub orphans: Vec<String>,
}

impl Plan {
    /// Whether there is nothing to do (a no-op `up`).
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(Vec::is_empty)
    }
}

/// The plan for `up`.
pub fn plan_up(project: &Project, actual: &Actual, opts: &UpOptions) -> Result<Plan, GraphError> {
    let graph = ServiceGraph::new(project)?;
    let selected: BTreeSet<&str> = if opts.services.is_empty() {
        project.services.keys().map(String::as_str).collect()
    } else if opts.no_deps {
        graph.with_dependencies(&opts.services)?;
        opts.services.iter().map(|s| project.services.get_key_value(s).map(|(k, _)| k.as_str()).unwrap_or_default()).collect()
    } else {
        graph.with_dependencies(&opts.services)?
    };
    let mut plan = Plan::default();

    let mut resources = Vec::new();
    for (key, net) in &project.networks {
        if !net.external && !actual.networks.contains(key) {
            resources.push(Action::CreateNetwork(key.clone()));
        }
    }
    for (key, vol) in &project.volumes {
        if !vol.external && !actual.volumes.contains(key) {
            resources.push(Action::CreateVolume(key.clone()));
        }
    }
    let mut orphans = Vec::new();
    for c in actual.containers.iter().filter(|c| !c.oneoff && !project.services.contains_key(&c.service)) {
        if opts.remove_orphans {
            orphans.push(Action::RemoveOrphan { id: c.id.clone(), name: c.name.clone() });
        } else {
            plan.orphans.push(c.name.clone());
        }
    }
    let made_anew: BTreeSet<(&str, &str)> = resources
        .iter()
        .filter_map(|a| match a {
            Action::CreateNetwork(key) => project.networks.get_key_value(key).map(|(k, _)| ("network", k.as_str())),
            Action::CreateVolume(key) => project.volumes.get_key_value(key).map(|(k, _)| ("volume", k.as_str())),
            _ => None,
        })
        .collect();
    resources.extend(orphans);
    plan.steps.push(resources);

    let mut recreated: BTreeSet<&str> = BTreeSet::new();
    for level in graph.levels() {
        let mut step = Vec::new();
        for name in level.into_iter().filter(|n| selected.contains(n)) {
            let service = &project.services[name];
            let wanted = opts.scale.get(name).copied().unwrap_or_else(|| service.replicas().max(0) as u32);
            let hash = service_hash(service);
            let digest = opts.image_digests.get(name);
            let mut existing: Vec<&ActualContainer> =
                actual.containers.iter().filter(|c| c.service == name && !c.oneoff).collect();
            existing.sort_by_key(|c| c.number);
            // A recreated dependency with `restart: true` restarts this service's containers.
            let restart_for_dependency = service.depends_on.iter().any(|(dep, d)| d.restart && recreated.contains(dep.as_str()));
            // Its containers hold on to what is being replaced: a missing network or volume,
            // the namespaces of a recreated service.
            let stale = uses(service).iter().any(|(kind, key)| made_anew.contains(&(*kind, key.as_str()))) || namespace_parents(service).any(|p| recreated.contains(p));
            let mut service_recreated = false;
            for number in 1..=wanted {
                let name_n = container_name(&project.name, name, service, number);
                match existing.iter().find(|c| c.number == number) {
                    None => {
                        step.push(Action::Create { service: name.into(), number, name: name_n });
                        service_recreated = true;
                    }
                    Some(c) => {
                        let diverged = c.config_hash != hash || digest.is_some_and(|d| *d != c.image_digest) || stale;
                        let forced = opts.force_recreate || (opts.always_recreate_deps && !opts.services.is_empty() && !opts.services.iter().any(|s| s == name));
                        if !opts.no_recreate && (forced || diverged) {
                            step.push(Action::Recreate { service: name.into(), number, old_id: c.id.clone(), name: name_n });
                            service_recreated = true;
                        } else if !c.running {
                            step.push(Action::Start { id: c.id.clone() });
                        } else if restart_for_dependency {
                            step.push(Action::Restart { id: c.id.clone() });
                        }
                    }
                }
            }
            // Scale down: the highest numbers go.
            for c in existing.iter().rev().filter(|c| c.number > wanted) {
                step.push(Action::Remove { id: c.id.clone(), name: c.name.clone() });
            }
            if service_recreated {
                recreated.insert(name);
            }
        }
        step.sort();
        plan.steps.push(step);
    }
    plan.steps.retain(|s| !s.is_empty());
    Ok(plan)
}

/// The service's networks (keys), in the order they are attached: higher `priority` first,
/// then by name; `default` when the service names none and has no `network_mode`.
pub fn service_networks(service: &Service) -> Vec<(String, Option<&ServiceNetwork>)> {
    if !service.network_mode.is_empty() && service.network_mode != "bridge" {
        return Vec::new();
    }
    if service.networks.is_empty() {
        return vec![("default".to_string(), None)];
    }
    let mut keyed: Vec<_> = service.networks.iter().map(|(k, v)| (k.clone(), v.as_ref())).collect();
    keyed.sort_by_key(|(k, v)| (std::cmp::Reverse(v.map(|n| n.priority).unwrap_or(0)), k.clone()));
    keyed
}

/// The project networks and volumes `service` uses, as `("network" | "volume", key)`.
fn uses(service: &Service) -> Vec<(&'static str, String)> {
    let mut used: Vec<(&str, String)> = service_networks(service).into_iter().map(|(key, _)| ("network", key)).collect();
    used.extend(service.volumes.iter().filter(|v| v.kind == "volume" && !v.source.is_empty()).map(|v| ("volume", v.source.clone())));
    used
}

/// Services whose namespaces `service` joins: `network_mode` and `ipc` `service:NAME`, and
/// `volumes_from: NAME[:MODE]`.
pub fn namespace_parents(service: &Service) -> impl Iterator<Item = &str> + Clone {
    let joined = [&service.network_mode, &service.ipc].into_iter().filter_map(|mode| mode.strip_prefix("service:"));
    let volumes = service.volumes_from.iter().filter(|v| !v.starts_with("container:")).map(|v| v.split(':').next().unwrap_or_default());
    joined.chain(volumes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::project;

    fn running(p: &Project, service: &str, number: u32) -> ActualContainer {
        ActualContainer {
            id: format!("{service}{number}"),
            name: format!("p-{service}-{number}"),
            service: service.into(),
            number,
            oneoff: false,
            config_hash: service_hash(&p.services[service]),
            image_digest: "sha256:1".into(),
            running: true,
        }
    }

    fn up_to_date(p: &Project) -> Actual {
        Actual {
            containers: p.services.keys().map(|s| running(p, s, 1)).collect(),
            networks: p.networks.keys().cloned().collect(),
            volumes: p.volumes.keys().cloned().collect(),
        }
    }

    #[test]
    fn a_fresh_project_is_created_level_by_level() {
        let mut p = project(&[("web", &["db"]), ("db", &[])]);
        p.networks.insert("default".into(), Default::default());
        p.volumes.insert("data".into(), Default::default());
        let plan = plan_up(&p, &Actual::default(), &UpOptions::default()).unwrap();
        assert_eq!(
            plan.steps,
            vec![
                vec![Action::CreateNetwork("default".into()), Action::CreateVolume("data".into())],
                vec![Action::Create { service: "db".into(), number: 1, name: "p-db-1".into() }],
                vec![Action::Create { service: "web".into(), number: 1, name: "p-web-1".into() }],
            ]
        );
    }

    #[test]
    fn a_second_up_does_nothing() {
        let p = project(&[("web", &["db"]), ("db", &[])]);
        let plan = plan_up(&p, &up_to_date(&p), &UpOptions::default()).unwrap();
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn only_the_changed_service_and_its_restart_dependents_are_touched() {
        let mut p = project(&[("web", &["db"]), ("db", &[]), ("other", &[])]);
        let actual = up_to_date(&p);
        p.services.get_mut("web").unwrap().depends_on.get_mut("db").unwrap().restart = true;
        // web's own config changed by that edit too; reset its hash to isolate the db change.
        let mut actual = actual;
        actual.containers.iter_mut().find(|c| c.service == "web").unwrap().config_hash = service_hash(&p.services["web"]);
        p.services.get_mut("db").unwrap().environment.insert("NEW".into(), Some("1".into()));
        let plan = plan_up(&p, &actual, &UpOptions::default()).unwrap();
        assert_eq!(
            plan.steps,
            vec![
                vec![Action::Recreate { service: "db".into(), number: 1, old_id: "db1".into(), name: "p-db-1".into() }],
                vec![Action::Restart { id: "web1".into() }],
            ]
        );
    }

    #[test]
    fn sharing_a_recreated_namespace_or_a_missing_resource_recreates() {
        let mut p = project(&[("app", &[]), ("side", &["app"]), ("files", &["app"]), ("plain", &["app"])]);
        p.services.get_mut("side").unwrap().network_mode = "service:app".into();
        p.services.get_mut("files").unwrap().volumes_from = vec!["app:ro".into()];
        p.networks.insert("default".into(), Default::default());
        let actual = up_to_date(&p);
        p.services.get_mut("app").unwrap().environment.insert("NEW".into(), Some("1".into()));
        let plan = plan_up(&p, &actual, &UpOptions::default()).unwrap();
        let recreated: Vec<&str> = plan.steps.iter().flatten().filter_map(|a| match a {
            Action::Recreate { service, .. } => Some(service.as_str()),
            _ => None,
        }).collect();
        assert_eq!(recreated, ["app", "files", "side"], "plain shares nothing with app: {plan:?}");

        // The default network was removed behind our back: every container on it is made anew.
        let mut actual = up_to_date(&p);
        actual.networks.clear();
        let plan = plan_up(&p, &actual, &UpOptions::default()).unwrap();
        assert_eq!(plan.steps[0], vec![Action::CreateNetwork("default".into())]);
        let recreated = plan.steps.iter().flatten().filter(|a| matches!(a, Action::Recreate { .. })).count();
        assert_eq!(recreated, 4, "app, files and plain are on the default network, and side joins app's namespace: {plan:?}");
    }

    #[test]
    fn stopped_containers_start_and_new_images_recreate() {
        let p = project(&[("a", &[]), ("b", &[])]);
        let mut actual = up_to_date(&p);
        actual.containers[0].running = false;
        let opts = UpOptions { image_digests: [("b".to_string(), "sha256:2".to_string())].into(), ..Default::default() };
        let plan = plan_up(&p, &actual, &opts).unwrap();
        assert_eq!(
            plan.steps,
            vec![vec![
                Action::Recreate { service: "b".into(), number: 1, old_id: "b1".into(), name: "p-b-1".into() },
                Action::Start { id: "a1".into() },
            ]]
        );
    }

    #[test]
    fn scaling_up_and_down_and_orphans() {
        let p = project(&[("w", &[])]);
        let mut actual = up_to_date(&p);
        actual.containers.push(running(&p, "w", 2));
        actual.containers.push(running(&p, "w", 3));
        actual.containers.push(ActualContainer { service: "gone".into(), id: "g1".into(), name: "p-gone-1".into(), ..running(&p, "w", 1) });
        let down = plan_up(&p, &actual, &UpOptions { scale: [("w".to_string(), 1)].into(), ..Default::default() }).unwrap();
        assert_eq!(
            down.steps,
            vec![vec![Action::Remove { id: "w2".into(), name: "p-w-2".into() }, Action::Remove { id: "w3".into(), name: "p-w-3".into() }]]
        );
        assert_eq!(down.orphans, vec!["p-gone-1"]);
        let up = plan_up(&p, &actual, &UpOptions { scale: [("w".to_string(), 4)].into(), remove_orphans: true, ..Default::default() }).unwrap();
        assert_eq!(
            up.steps,
            vec![
                vec![Action::RemoveOrphan { id: "g1".into(), name: "p-gone-1".into() }],
                vec![Action::Create { service: "w".into(), number: 4, name: "p-w-4".into() }],
            ]
        );
    }

    #[test]
    fn force_no_recreate_selection_and_no_deps() {
        let p = project(&[("web", &["db"]), ("db", &[]), ("other", &[])]);
        let actual = up_to_date(&p);
        let forced = plan_up(&p, &actual, &UpOptions { force_recreate: true, services: vec!["web".into()], ..Default::default() }).unwrap();
        let touched: Vec<&Action> = forced.steps.iter().flatten().collect();
        assert_eq!(touched.len(), 2, "web and its dependency db: {touched:?}");
        let no_deps = plan_up(&p, &actual, &UpOptions { force_recreate: true, services: vec!["web".into()], no_deps: true, ..Default::default() }).unwrap();
        assert_eq!(no_deps.steps, vec![vec![Action::Recreate { service: "web".into(), number: 1, old_id: "web1".into(), name: "p-web-1".into() }]]);
        let mut changed = p.clone();
        changed.services.get_mut("db").unwrap().image = "postgres".into();
        let kept = plan_up(&changed, &actual, &UpOptions { no_recreate: true, ..Default::default() }).unwrap();
        assert!(kept.is_empty());
        assert!(plan_up(&p, &actual, &UpOptions { services: vec!["nope".into()], ..Default::default() }).is_err());
    }

    #[test]
    fn always_recreate_deps_recreates_only_the_dependencies() {
        let p = project(&[("web", &["db"]), ("db", &[]), ("other", &[])]);
        let actual = up_to_date(&p);
        let up = plan_up(&p, &actual, &UpOptions { always_recreate_deps: true, services: vec!["web".into()], ..Default::default() }).unwrap();
        assert_eq!(up.steps, vec![vec![Action::Recreate { service: "db".into(), number: 1, old_id: "db1".into(), name: "p-db-1".into() }]]);
    }
}
