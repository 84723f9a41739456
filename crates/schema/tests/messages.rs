//! The schema accepts every real-world project of the corpus and rejects bad documents with
//! Docker Compose's wording (each expected message below is what docker-compose v2.40.3 prints).

use std::path::PathBuf;

use serde_json::{json, Value};
use xcompose_schema::{validate, PathSegment};

fn message(doc: Value) -> String {
    validate(&doc).expect_err("the document should be rejected").message
}

#[test]
fn unknown_keys_are_rejected_where_compose_rejects_them() {
    assert_eq!(message(json!({"services": {"web": {"image": "x", "foo": 1}}})), "services.web additional properties 'foo' not allowed");
    assert_eq!(message(json!({"servicesx": {}})), " additional properties 'servicesx' not allowed");
    assert_eq!(message(json!({"networks": {"n": {"foo": 1}}, "services": {}})), "networks.n additional properties 'foo' not allowed");
}

#[test]
fn wrong_types_are_named() {
    let svc = |extra: Value| {
        let mut s = json!({"image": "x"});
        s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"services": {"a": s}})
    };
    assert_eq!(message(svc(json!({"ports": 12}))), "services.a.ports must be a array");
    assert_eq!(message(svc(json!({"restart": 3}))), "services.a.restart must be a string");
    assert_eq!(message(svc(json!({"environment": 5}))), "services.a.environment must be a mapping");
    assert_eq!(message(svc(json!({"healthcheck": {"interval": 5}}))), "services.a.healthcheck.interval must be a string");
    assert_eq!(message(svc(json!({"ports": [true]}))), "services.a.ports.0 must be a number");
    assert_eq!(message(svc(json!({"volumes": [3]}))), "services.a.volumes.0 must be a string");
    assert_eq!(message(svc(json!({"cpus": [1]}))), "services.a.cpus must be a number or string");
    assert_eq!(message(svc(json!({"privileged": 1}))), "services.a.privileged must be a boolean or string");
    assert_eq!(message(json!({"services": {"a": {"image": ["x"]}}})), "services.a.image must be a string");
    assert_eq!(message(json!({"services": []})), "services must be a mapping");
    assert_eq!(message(json!({"services": {"a": 5}})), "services.a must be a mapping");
    assert_eq!(message(json!({"volumes": {"v": {"driver": 5}}, "services": {}})), "volumes.v.driver must be a string");
}

#[test]
fn enums_list_the_allowed_values() {
    let doc = json!({"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "bogus"}}}}});
    assert_eq!(
        message(doc),
        "services.a.depends_on.b.condition value must be one of 'service_started', 'service_healthy', 'service_completed_successfully'"
    );
}

#[test]
fn violations_carry_their_path() {
    let v = validate(&json!({"services": {"web": {"ports": [{"target": 80, "bogus": 1}]}}})).unwrap_err();
    assert_eq!(v.path, vec![PathSegment::Key("services".into()), PathSegment::Key("web".into()), PathSegment::Key("ports".into()), PathSegment::Index(0)]);
    assert_eq!(v.dotted_path(), "services.web.ports.0");
    assert_eq!(v.message, "services.web.ports.0 additional properties 'bogus' not allowed");
}

#[test]
fn extensions_are_allowed_at_every_level() {
    let doc = json!({
        "x-top": {"any": ["thing"]},
        "services": {"a": {"image": "x", "x-svc": 1, "deploy": {"x-d": 1}, "build": {"context": ".", "x-b": true}}},
        "networks": {"n": {"x-net": 1, "ipam": {"x-ipam": 1}}},
        "volumes": {"v": {"x-vol": 1}},
        "secrets": {"s": {"file": "f", "x-s": 1}},
        "configs": {"c": {"file": "f", "x-c": 1}}
    });
    assert_eq!(validate(&doc), Ok(()));
}

#[test]
fn interpolated_values_may_be_strings() {
    let doc = json!({"services": {"a": {"image": "x", "read_only": "true", "cpus": "0.5", "scale": "2",
        "ports": [{"target": "80", "published": "8080"}], "mem_limit": "64m"}}});
    assert_eq!(validate(&doc), Ok(()));
}

#[test]
fn every_corpus_project_validates() {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let mut checked = 0;
    for group in std::fs::read_dir(corpus.join("compose/awesome")).unwrap().flatten() {
        for name in ["compose.yaml", "compose.yml", "docker-compose.yml"] {
            let file = group.path().join(name);
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let doc = to_json(yaml_rust2::YamlLoader::load_from_str(&text).unwrap().remove(0));
            // Interpolation would have replaced these; the schema sees strings either way.
            assert_eq!(validate(&doc), Ok(()), "{}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 39, "only {checked} corpus files found");
}

fn to_json(y: yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).unwrap_or(Value::String(r)),
        Yaml::Integer(i) => Value::from(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}
