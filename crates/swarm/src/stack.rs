//! Stacks on a swarm: deploy (create or update every object, as `docker stack deploy -c`),
//! remove (as `docker stack rm`) and list tasks (as `docker stack ps`). Progress lines are
//! docker's.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{bail, Result};
use serde_json::Value;
use xcompose_convert::swarm::{Stack, NAMESPACE_LABEL};

use crate::engine::{filters, is_not_found, Engine};

/// Objects of `kind` (`services`, `secrets`, `configs`, `networks`) labelled with stack `namespace`.
fn listed(engine: &Engine, kind: &str, namespace: &str) -> Result<Vec<Value>> {
    let list = engine.get(&format!("/{kind}?filters={}", filters("label", &format!("{NAMESPACE_LABEL}={namespace}"))))?;
    Ok(list.as_array().cloned().unwrap_or_default())
}

/// An object's name (`Spec.Name`, or `Name` for networks).
fn name_of(object: &Value) -> &str {
    object.pointer("/Spec/Name").or_else(|| object.get("Name")).and_then(Value::as_str).unwrap_or_default()
}

fn id_of(object: &Value) -> &str {
    object.get("ID").or_else(|| object.get("Id")).and_then(Value::as_str).unwrap_or_default()
}

fn version_of(object: &Value) -> u64 {
    object.pointer("/Version/Index").and_then(Value::as_u64).unwrap_or_default()
}

/// Refuses a daemon that is not a swarm manager, in docker's words.
fn check_manager(engine: &Engine) -> Result<()> {
    let info = engine.get("/info")?;
    if info.pointer("/Swarm/ControlAvailable").and_then(Value::as_bool) != Some(true) {
        bail!("this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again");
    }
    Ok(())
}

/// Deploys `stack`: creates what is missing, updates what exists, prints docker's progress lines
/// to `out` and the daemon's warnings about services to `err`.
pub fn deploy(engine: &Engine, stack: &Stack, out: &mut impl Write, err: &mut impl Write) -> Result<()> {
    check_manager(engine)?;
    let ns = &stack.namespace;
    for name in &stack.external_networks {
        match engine.get(&format!("/networks/{name}")) {
            Ok(network) if network.get("Scope").and_then(Value::as_str) != Some("swarm") => {
                bail!("network \"{name}\" is declared as external, but it is not in the right scope: \"{}\" instead of \"swarm\"", network["Scope"].as_str().unwrap_or_default())
            }
            Ok(_) => {}
            Err(err) if is_not_found(&err) => {
                bail!("network \"{name}\" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed")
            }
            Err(err) => return Err(err),
        }
    }
    let mut ids: BTreeMap<(String, String), String> = BTreeMap::new();
    for (kind, singular, specs) in [("secrets", "secret", &stack.secrets), ("configs", "config", &stack.configs)] {
        let existing = listed(engine, kind, ns)?;
        for spec in specs {
            let name = spec["Name"].as_str().unwrap_or_default();
            match existing.iter().find(|o| name_of(o) == name) {
                Some(object) => {
                    writeln!(out, "Updating {singular} {name}")?;
                    engine.post(&format!("/{kind}/{}/update?version={}", id_of(object), version_of(object)), spec)?;
                }
                None => {
                    writeln!(out, "Creating {singular} {name}")?;
                    engine.post(&format!("/{kind}/create"), spec)?;
                }
            }
        }
    }
    let existing = listed(engine, "networks", ns)?;
    for (name, create) in &stack.networks {
        if existing.iter().any(|n| name_of(n) == name) {
            continue;
        }
        writeln!(out, "Creating network {name}")?;
        let mut body = create.clone();
        body["Name"] = Value::String(name.clone());
        body["CheckDuplicate"] = Value::Bool(true);
        engine.post("/networks/create", &body)?;
    }
    let existing = listed(engine, "services", ns)?;
    for spec in &stack.services {
        let mut spec = spec.clone();
        for (field, kind, name_field, id_field) in [("Secrets", "secrets", "SecretName", "SecretID"), ("Configs", "configs", "ConfigName", "ConfigID")] {
            let Some(refs) = spec.pointer_mut(&format!("/TaskTemplate/ContainerSpec/{field}")).and_then(Value::as_array_mut) else { continue };
            for reference in refs {
                let name = reference[name_field].as_str().unwrap_or_default().to_string();
                let id = match ids.get(&(kind.to_string(), name.clone())) {
                    Some(id) => id.clone(),
                    None => {
                        let found = engine.get(&format!("/{kind}?filters={}", filters("name", &name)))?;
                        let object = found.as_array().and_then(|l| l.iter().find(|o| name_of(o) == name).cloned());
                        let Some(object) = object else { bail!("{} not found: {name}", &kind[..kind.len() - 1]) };
                        ids.insert((kind.to_string(), name.clone()), id_of(&object).to_string());
                        id_of(&object).to_string()
                    }
                };
                reference[id_field] = Value::String(id);
            }
        }
        let name = spec["Name"].as_str().unwrap_or_default().to_string();
        let response = match existing.iter().find(|s| name_of(s) == name) {
            Some(service) => {
                writeln!(out, "Updating service {name} (id: {})", id_of(service))?;
                // As docker: stack deploy has no --force, so the service's force counter is kept
                // (a changed one would restart every task).
                if let Some(force) = service.pointer("/Spec/TaskTemplate/ForceUpdate") {
                    spec["TaskTemplate"]["ForceUpdate"] = force.clone();
                }
                engine.post(&format!("/services/{}/update?version={}", id_of(service), version_of(service)), &spec)?
            }
            None => {
                writeln!(out, "Creating service {name}")?;
                engine.post("/services/create", &spec)?
            }
        };
        for warning in response.get("Warnings").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            writeln!(err, "{warning}")?;
        }
    }
    Ok(())
}

/// Removes stack `namespace`: services, secrets, configs, then networks (volumes stay, as docker
/// leaves them). `Nothing found in stack` when there is nothing.
pub fn remove(engine: &Engine, namespace: &str, out: &mut impl Write) -> Result<()> {
    check_manager(engine)?;
    let mut found = false;
    for (kind, singular) in [("services", "service"), ("secrets", "secret"), ("configs", "config"), ("networks", "network")] {
        let mut objects = listed(engine, kind, namespace)?;
        objects.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        for object in objects {
            found = true;
            writeln!(out, "Removing {singular} {}", name_of(&object))?;
            engine.delete(&format!("/{kind}/{}", id_of(&object)))?;
        }
    }
    if !found {
        bail!("Nothing found in stack: {namespace}");
    }
    Ok(())
}

/// One task of a stack, as `docker stack ps` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// `<service>.<slot>` (`<service>.<node id>` for global services).
    pub name: String,
    /// The image, without its digest.
    pub image: String,
    /// The node's hostname.
    pub node: String,
    /// What the orchestrator wants: `Running`, `Shutdown`.
    pub desired_state: String,
    /// The task's state (`running`, `failed`, ...).
    pub state: String,
    /// When it entered that state (RFC 3339).
    pub since: String,
    /// Why it failed, if it did.
    pub error: String,
    /// Ports published in host mode: `*:8080->80/tcp`.
    pub ports: String,
}

/// The tasks of stack `namespace`, by name then newest first.
pub fn tasks(engine: &Engine, namespace: &str) -> Result<Vec<Task>> {
    check_manager(engine)?;
    let services: BTreeMap<String, String> = listed(engine, "services", namespace)?.iter().map(|s| (id_of(s).to_string(), name_of(s).to_string())).collect();
    if services.is_empty() {
        bail!("nothing found in stack: {namespace}");
    }
    let nodes: BTreeMap<String, String> = engine
        .get("/nodes")?
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| (id_of(n).to_string(), n.pointer("/Description/Hostname").and_then(Value::as_str).unwrap_or_default().to_string()))
        .collect();
    let list = engine.get(&format!("/tasks?filters={}", filters("label", &format!("{NAMESPACE_LABEL}={namespace}"))))?;
    let mut out: Vec<Task> = Vec::new();
    for task in list.as_array().cloned().unwrap_or_default() {
        let text = |pointer: &str| task.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(service) = services.get(&text("/ServiceID")) else { continue };
        let slot = task.get("Slot").and_then(Value::as_u64).filter(|s| *s > 0);
        let name = match slot {
            Some(slot) => format!("{service}.{slot}"),
            None => format!("{service}.{}", text("/NodeID")),
        };
        let image = text("/Spec/ContainerSpec/Image");
        let ports: Vec<String> = task
            .pointer("/Status/PortStatus/Ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| format!("*:{}->{}/{}", p["PublishedPort"], p["TargetPort"], p["Protocol"].as_str().unwrap_or("tcp")))
            .collect();
        let desired = text("/DesiredState");
        out.push(Task {
            id: text("/ID"),
            name,
            image: image.split('@').next().unwrap_or_default().to_string(),
            node: nodes.get(&text("/NodeID")).cloned().unwrap_or_default(),
            desired_state: capitalize(&desired),
            state: text("/Status/State"),
            since: text("/Status/Timestamp"),
            error: text("/Status/Err"),
            ports: ports.join(","),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(b.since.cmp(&a.since)));
    Ok(out)
}

/// `running` as `Running`.
pub fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
