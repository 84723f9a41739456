//! `kube::convert` as a pure function: compose files in, objects and warnings out.

use serde_json::{json, Value};
use xcompose_convert::kube::{self, Options, ServiceType};

fn load(yaml: &str) -> xcompose_loader::Project {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    let mut opts = xcompose_loader::ProjectOptions::default();
    opts.files.push(dir.path().join("compose.yaml"));
    opts.project_name = Some("p".into());
    xcompose_loader::load(&opts).unwrap()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

#[test]
fn a_one_shot_dependency_runs_as_an_init_container_sharing_the_volume() {
    let project = load(
        "services:\n  migrate:\n    image: m\n    volumes: [data:/data]\n  db:\n    image: d\n    volumes: [data:/var/db]\n    depends_on:\n      migrate: {condition: service_completed_successfully}\nvolumes:\n  data:\n",
    );
    let out = kube::convert(&project, &Options::default());
    assert!(find(&out.objects, "Deployment", "migrate").is_none(), "a one-shot must not become a Deployment");
    let db = find(&out.objects, "Deployment", "db").unwrap();
    let pod = &db["spec"]["template"]["spec"];
    assert_eq!(pod["initContainers"][0]["name"], "migrate");
    assert_eq!(pod["initContainers"][0]["volumeMounts"], json!([{"name": "data", "mountPath": "/data"}]));
    assert_eq!(pod["volumes"], json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]));
    // One pod mounts it: ReadWriteOnce.
    assert_eq!(find(&out.objects, "PersistentVolumeClaim", "data").unwrap()["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert!(out.warnings.iter().any(|w| w.key == "services.migrate" && w.reason.contains("init container of db")));
}

#[test]
fn networks_become_policies_and_published_ports_a_load_balancer() {
    let project = load(
        "services:\n  web:\n    image: w\n    ports: ['8080:80']\n    networks: [front, back]\n  db:\n    image: d\n    networks: [back]\nnetworks:\n  front:\n  back:\n    internal: true\n",
    );
    let options = Options { service_type: ServiceType::LoadBalancer, ..Default::default() };
    let out = kube::convert(&project, &options);
    let back = find(&out.objects, "NetworkPolicy", "back-network").unwrap();
    let on_back = json!({"matchLabels": {"com.docker.compose.network/back": "true"}});
    assert_eq!(back["spec"]["podSelector"], on_back);
    assert_eq!(back["spec"]["ingress"], json!([{"from": [{"podSelector": on_back}]}]));
    // db is only on an internal network: egress to its pods and DNS only; web is not.
    let egress = &find(&out.objects, "NetworkPolicy", "db-internal").unwrap()["spec"]["egress"];
    assert_eq!(egress[0], json!({"to": [{"podSelector": on_back}]}));
    assert!(find(&out.objects, "NetworkPolicy", "web-internal").is_none());
    // Inside the cluster, the target port; outside, the published one.
    assert_eq!(find(&out.objects, "Service", "web").unwrap()["spec"]["ports"][0]["port"], 80);
    let published = find(&out.objects, "Service", "web-published").unwrap();
    assert_eq!(published["spec"]["type"], "LoadBalancer");
    assert_eq!(published["spec"]["ports"], json!([{"name": "tcp-8080", "port": 8080, "targetPort": 80, "protocol": "TCP"}]));
    assert_eq!(find(&out.objects, "NetworkPolicy", "web-published").unwrap()["spec"]["ingress"], json!([{"ports": [{"port": 80, "protocol": "TCP"}]}]));
    // A service without ports still gets its name: a headless Service.
    assert_eq!(find(&out.objects, "Service", "db").unwrap()["spec"]["clusterIP"], "None");
}

#[test]
fn names_are_made_valid_and_what_cannot_map_is_warned() {
    let project = load("services:\n  My_App:\n    image: a\n    devices: ['/dev/fuse:/dev/fuse']\n    user: postgres\n  my-app:\n    image: b\n");
    let out = kube::convert(&project, &Options::default());
    assert_eq!(out.renamed, vec![("service".to_string(), "My_App".to_string(), "my-app-2".to_string())]);
    assert!(find(&out.objects, "Deployment", "my-app-2").is_some() && find(&out.objects, "Deployment", "my-app").is_some());
    let keys: Vec<&str> = out.warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["services.My_App.devices", "services.My_App.user"]);
}

#[test]
fn statefulsets_claim_their_own_volumes() {
    let project = load("services:\n  db:\n    image: d\n    volumes: [data:/data]\nvolumes:\n  data:\n");
    let out = kube::convert(&project, &Options { statefulset: true, ..Default::default() });
    let db = find(&out.objects, "StatefulSet", "db").unwrap();
    assert_eq!(db["spec"]["serviceName"], "db");
    assert_eq!(db["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
    assert!(find(&out.objects, "PersistentVolumeClaim", "data").is_none(), "a claim template replaces the claim");
    assert!(db["spec"]["template"]["spec"].get("volumes").is_none());
}

#[test]
fn node_ports_keep_published_ports_kubernetes_allows() {
    let project = load("services:\n  web:\n    image: w\n    ports: ['30080:80', '8443:443']\n");
    let out = kube::convert(&project, &Options { service_type: ServiceType::NodePort, ..Default::default() });
    let published = find(&out.objects, "Service", "web-published").unwrap();
    assert_eq!(published["spec"]["type"], "NodePort");
    assert_eq!(
        published["spec"]["ports"],
        json!([
            {"name": "tcp-30080", "port": 30080, "targetPort": 80, "protocol": "TCP", "nodePort": 30080},
            {"name": "tcp-8443", "port": 8443, "targetPort": 443, "protocol": "TCP"},
        ])
    );
}
