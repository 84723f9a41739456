//! The dependency graph of a project's services (`depends_on`, which the loader has already
//! completed with the dependencies `network_mode: service:x`, `ipc`, `volumes_from` and `links`
//! imply), in levels that can be started in parallel.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graphmap::DiGraphMap;
use xcompose_loader::Project;

/// Why a project's services cannot be ordered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// `depends_on` forms a cycle.
    #[error("dependency cycle detected: {0}")]
    Cycle(String),
    /// A service was named that the project does not have.
    #[error("no such service: {0}")]
    UnknownService(String),
}

/// Services and the edges "dependency → dependent".
#[derive(Debug, Clone)]
pub struct ServiceGraph<'p> {
    graph: DiGraphMap<&'p str, ()>,
}

impl<'p> ServiceGraph<'p> {
    /// The graph of `project`'s services; optional dependencies on absent services are ignored.
    pub fn new(project: &'p Project) -> Result<Self, GraphError> {
        let mut graph = DiGraphMap::new();
        for name in project.services.keys() {
            graph.add_node(name.as_str());
        }
        for (name, service) in &project.services {
            for dep in service.depends_on.keys() {
                if let Some((dep_name, _)) = project.services.get_key_value(dep) {
                    graph.add_edge(dep_name.as_str(), name.as_str(), ());
                }
            }
        }
        let g = Self { graph };
        g.check_acyclic()?;
        Ok(g)
    }

    fn check_acyclic(&self) -> Result<(), GraphError> {
        if let Err(cycle) = petgraph::algo::toposort(&self.graph, None) {
            let start = cycle.node_id();
            let mut path = vec![start];
            let mut current = start;
            // Walk dependents until we come back (a cycle exists through `start`).
            loop {
                let next = self.graph.neighbors(current).find(|n| petgraph::algo::has_path_connecting(&self.graph, n, start, None));
                match next {
                    Some(n) if n == start => {
                        path.push(n);
                        break;
                    }
                    Some(n) if !path.contains(&n) => {
                        path.push(n);
                        current = n;
                    }
                    _ => break,
                }
            }
            return Err(GraphError::Cycle(path.join(" -> ")));
        }
        Ok(())
    }

    /// Services by level: a service's dependencies are all in earlier levels. Names are sorted
    /// within a level so plans are deterministic.
    pub fn levels(&self) -> Vec<Vec<&'p str>> {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        let order = petgraph::algo::toposort(&self.graph, None).expect("checked acyclic");
        for node in order {
            let d = self.graph.neighbors_directed(node, petgraph::Direction::Incoming).map(|dep| depth[dep] + 1).max().unwrap_or(0);
            depth.insert(node, d);
        }
        let mut levels: Vec<Vec<&str>> = Vec::new();
        for (name, d) in depth {
            if levels.len() <= d {
                levels.resize(d + 1, Vec::new());
            }
            levels[d].push(name);
        }
        levels
    }

    /// `names` and everything they depend on, transitively.
    pub fn with_dependencies(&self, names: &[String]) -> Result<BTreeSet<&'p str>, GraphError> {
        self.closure(names, petgraph::Direction::Incoming)
    }

    /// `names` and everything that depends on them, transitively.
    pub fn with_dependents(&self, names: &[String]) -> Result<BTreeSet<&'p str>, GraphError> {
        self.closure(names, petgraph::Direction::Outgoing)
    }

    fn closure(&self, names: &[String], direction: petgraph::Direction) -> Result<BTreeSet<&'p str>, GraphError> {
        let mut seen = BTreeSet::new();
        let mut queue = Vec::new();
        for n in names {
            let node = self.graph.nodes().find(|x| x == n).ok_or_else(|| GraphError::UnknownService(n.clone()))?;
            queue.push(node);
        }
        while let Some(node) = queue.pop() {
            if seen.insert(node) {
                queue.extend(self.graph.neighbors_directed(node, direction));
            }
        }
        Ok(seen)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use xcompose_loader::model::{Dependency, Service};

    pub(crate) fn project(deps: &[(&str, &[&str])]) -> Project {
        let mut p = Project { name: "p".into(), ..Default::default() };
        for (name, on) in deps {
            let mut s = Service { image: "busybox".into(), ..Default::default() };
            for d in *on {
                s.depends_on.insert(d.to_string(), Dependency { condition: "service_started".into(), restart: false, required: true });
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    #[test]
    fn levels_put_dependencies_first() {
        let p = project(&[("web", &["api"]), ("api", &["db", "cache"]), ("db", &[]), ("cache", &[]), ("worker", &["db"])]);
        let g = ServiceGraph::new(&p).unwrap();
        assert_eq!(g.levels(), vec![vec!["cache", "db"], vec!["api", "worker"], vec!["web"]]);
    }

    #[test]
    fn closures() {
        let p = project(&[("web", &["api"]), ("api", &["db"]), ("db", &[]), ("other", &[])]);
        let g = ServiceGraph::new(&p).unwrap();
        assert_eq!(g.with_dependencies(&["web".into()]).unwrap().into_iter().collect::<Vec<_>>(), vec!["api", "db", "web"]);
        assert_eq!(g.with_dependents(&["db".into()]).unwrap().into_iter().collect::<Vec<_>>(), vec!["api", "db", "web"]);
        assert_eq!(g.with_dependencies(&["nope".into()]).unwrap_err(), GraphError::UnknownService("nope".into()));
    }

    #[test]
    fn cycles_are_named() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        let err = ServiceGraph::new(&p).unwrap_err().to_string();
        assert!(err.starts_with("dependency cycle detected: "), "{err}");
        for s in ["a", "b", "c"] {
            assert!(err.contains(s), "{err}");
        }
    }
}
