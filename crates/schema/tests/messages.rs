//! The schema and the checks around it reject bad documents with Docker Compose's wording; every
//! expected message below is what docker-compose v2.40.3 prints for the same file.

mod common;

use serde_json::{json, Value};
use xcompose_schema::{check_after_schema, check_before_schema, validate, PathSegment, SCHEMA};

fn schema_message(doc: Value) -> String {
    validate(&doc)
        .expect_err("the document should break the schema")
        .message
}

/// A document with one service `web` (image `nginx`) extended by `extra`.
fn web(extra: Value) -> Value {
    let mut service = json!({"image": "nginx"});
    service
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"services": {"web": service}})
}

#[test]
fn the_schema_is_our_own_draft_07_document() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let definitions = schema["definitions"].as_object().unwrap();
    for name in [
        "service",
        "network",
        "volume",
        "secret",
        "config",
        "model",
        "buildSpec",
        "deployment",
        "development",
    ] {
        assert!(definitions.contains_key(name), "definition {name}");
    }
}

#[test]
fn unknown_keys_are_named_with_the_mapping_that_holds_them() {
    assert_eq!(
        schema_message(web(json!({"foo": 1}))),
        "services.web additional properties 'foo' not allowed"
    );
    // At the root the path is empty, and compose still puts the space before the text.
    assert_eq!(
        schema_message(json!({"servicesx": {}})),
        " additional properties 'servicesx' not allowed"
    );
    assert_eq!(
        schema_message(json!({"services": {}, "networks": {"n": {"foo": 1}}})),
        "networks.n additional properties 'foo' not allowed"
    );
    assert_eq!(
        schema_message(json!({"services": {"a b": {"image": "x"}}})),
        "services additional properties 'a b' not allowed"
    );
}

#[test]
fn several_unknown_keys_are_listed_in_document_order() {
    // Compose lists them in the random order of a Go map; we keep the file's order.
    assert_eq!(
        schema_message(web(json!({"foo": 1, "bar": 2}))),
        "services.web additional properties 'foo', 'bar' not allowed"
    );
}

#[test]
fn wrong_types_name_the_expected_types() {
    assert_eq!(
        schema_message(web(json!({"ports": 12}))),
        "services.web.ports must be a array"
    );
    assert_eq!(
        schema_message(web(json!({"restart": 3}))),
        "services.web.restart must be a string"
    );
    assert_eq!(
        schema_message(web(json!({"environment": 5}))),
        "services.web.environment must be a mapping"
    );
    assert_eq!(
        schema_message(web(json!({"healthcheck": {"interval": 5}}))),
        "services.web.healthcheck.interval must be a string"
    );
    assert_eq!(
        schema_message(web(json!({"cpus": [1]}))),
        "services.web.cpus must be a number or string"
    );
    assert_eq!(
        schema_message(web(json!({"scale": 1.5}))),
        "services.web.scale must be a integer or string"
    );
    assert_eq!(
        schema_message(web(json!({"deploy": []}))),
        "services.web.deploy must be a mapping or null"
    );
    assert_eq!(
        schema_message(web(json!({"environment": {"A": {"b": 1}}}))),
        "services.web.environment.A must be a boolean, null, number or string"
    );
    assert_eq!(
        schema_message(json!({"services": {}, "networks": {"n": {"external": 1}}})),
        "networks.n.external must be a boolean, mapping or string"
    );
    assert_eq!(
        schema_message(
            json!({"services": {}, "models": {"m": {"model": "x", "context_size": "5"}}})
        ),
        "models.m.context_size must be a integer"
    );
    assert_eq!(
        schema_message(web(json!({"use_api_socket": "true"}))),
        "services.web.use_api_socket must be a boolean"
    );
}

#[test]
fn services_and_a_service_must_be_mappings() {
    assert_eq!(
        schema_message(json!({"services": []})),
        "services must be a mapping"
    );
    assert_eq!(
        schema_message(json!({"services": null})),
        "services must be a mapping"
    );
    assert_eq!(
        schema_message(json!({"services": {"a": 5}})),
        "services.a must be a mapping"
    );
    assert_eq!(
        schema_message(json!({"services": {"a": null}})),
        "services.a must be a mapping"
    );
}

#[test]
fn enums_list_the_allowed_values() {
    assert_eq!(
        schema_message(web(json!({"cgroup": "foo"}))),
        "services.web.cgroup value must be one of 'host', 'private'"
    );
    assert_eq!(
        schema_message(web(json!({"depends_on": {"db": {"condition": "bogus"}}}))),
        "services.web.depends_on.db.condition value must be one of 'service_started', 'service_healthy', 'service_completed_successfully'"
    );
    // A single allowed value is named on its own.
    assert_eq!(
        schema_message(web(json!({"gpus": "some"}))),
        "services.web.gpus value must be 'all'"
    );
}

#[test]
fn alternatives_report_the_deepest_problem_or_the_first_alternative() {
    // A port is a number, a string or a mapping: a boolean fails all three at the same depth.
    assert_eq!(
        schema_message(web(json!({"ports": [true]}))),
        "services.web.ports.0 must be a number"
    );
    // Inside the mapping form the deeper problem wins.
    assert_eq!(
        schema_message(web(json!({"ports": [{"target": true}]}))),
        "services.web.ports.0.target must be a integer or string"
    );
    assert_eq!(
        schema_message(web(json!({"volumes": [3]}))),
        "services.web.volumes.0 must be a string"
    );
    assert_eq!(
        schema_message(web(json!({"command": ["a", 5]}))),
        "services.web.command.1 must be a string"
    );
    assert_eq!(
        schema_message(web(json!({"depends_on": {"db": "x"}}))),
        "services.web.depends_on.db must be a mapping"
    );
    // A long-syntax mount without `type`: the string alternative comes first at that depth.
    assert_eq!(
        schema_message(web(json!({"volumes": [{"source": "a", "target": "/a"}]}))),
        "services.web.volumes.0 must be a string"
    );
    assert_eq!(
        schema_message(web(
            json!({"volumes": [{"type": "tmpfs", "target": "/a", "tmpfs": {"size": -1}}]})
        )),
        "services.web.volumes.0.tmpfs.size must be greater than or equal to 0"
    );
    assert_eq!(
        schema_message(web(json!({"cpu_count": -1}))),
        "services.web.cpu_count must be a string"
    );
}

#[test]
fn a_type_problem_in_a_key_beats_an_unknown_key_beside_it() {
    assert_eq!(
        schema_message(web(json!({"foo": 1, "ports": 5}))),
        "services.web.ports must be a array"
    );
    assert_eq!(
        schema_message(web(json!({"foo": 1, "healthcheck": {"interval": 5}}))),
        "services.web.healthcheck.interval must be a string"
    );
}

#[test]
fn missing_required_keys_are_named() {
    assert_eq!(
        schema_message(web(
            json!({"deploy": {"resources": {"reservations": {"devices": [{"driver": "nvidia"}]}}}})
        )),
        "services.web.deploy.resources.reservations.devices.0 missing property 'capabilities'"
    );
    assert_eq!(
        schema_message(web(json!({"develop": {"watch": [{"target": "/a"}]}}))),
        "services.web.develop.watch.0 missing properties 'path', 'action'"
    );
    assert_eq!(
        schema_message(json!({"services": {}, "models": {"m": {"name": "x"}}})),
        "models.m missing property 'model'"
    );
}

#[test]
fn repeated_items_are_rejected_where_compose_does_not_fold_them() {
    assert_eq!(
        schema_message(web(json!({"depends_on": ["db", "db"]}))),
        "services.web.depends_on items at 0 and 1 are equal"
    );
    assert_eq!(
        schema_message(web(json!({"security_opt": ["a", "b", "a"]}))),
        "services.web.security_opt items at 0 and 2 are equal"
    );
    // Lists compose de-duplicates before validating accept repeats.
    for key in [
        "ports",
        "volumes",
        "expose",
        "environment",
        "labels",
        "cap_add",
        "dns",
        "profiles",
        "tmpfs",
    ] {
        assert_eq!(validate(&web(json!({key: ["80", "80"]}))), Ok(()), "{key}");
    }
}

#[test]
fn patterns_quote_the_value_and_the_pattern() {
    assert_eq!(
        schema_message(web(json!({"pull_policy": "sometimes"}))),
        "services.web.pull_policy 'sometimes' does not match pattern 'always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+'"
    );
    assert_eq!(
        schema_message(web(json!({"container_name": "a"}))),
        "services.web.container_name 'a' does not match pattern '[a-zA-Z0-9][a-zA-Z0-9_.-]+'"
    );
}

#[test]
fn violations_carry_their_path() {
    let v = validate(&web(json!({"ports": [{"target": 80, "bogus": 1}]}))).unwrap_err();
    assert_eq!(
        v.path,
        vec![
            PathSegment::Key("services".into()),
            PathSegment::Key("web".into()),
            PathSegment::Key("ports".into()),
            PathSegment::Index(0)
        ]
    );
    assert_eq!(v.dotted_path(), "services.web.ports.0");
    assert_eq!(
        v.message,
        "services.web.ports.0 additional properties 'bogus' not allowed"
    );
    assert_eq!(v.to_string(), v.message);
    let root = validate(&json!({"servicesx": {}})).unwrap_err();
    assert_eq!(root.dotted_path(), "");
}

#[test]
fn extensions_are_allowed_at_the_top_service_network_and_volume_levels() {
    let doc = json!({
        "x-top": {"any": ["thing"]},
        "services": {"a": {"image": "x", "x-svc": 1, "deploy": {"x-d": 1}, "build": {"context": ".", "x-b": true},
            "ports": [{"target": 80, "x-p": 1}], "networks": {"n": {"x-attach": 1}}}},
        "networks": {"n": {"x-net": 1, "ipam": {"x-ipam": 1}}},
        "volumes": {"v": {"x-vol": 1}},
        "secrets": {"s": {"file": "f", "x-s": 1}},
        "configs": {"c": {"file": "f", "x-c": 1}},
        "models": {"m": {"model": "ai/x", "x-m": 1}}
    });
    assert_eq!(validate(&doc), Ok(()));
}

#[test]
fn extensions_are_rejected_where_compose_rejects_them() {
    // Compose's blkio_config and env_file entries take no x- keys.
    assert_eq!(
        schema_message(web(json!({"blkio_config": {"x-a": 1}}))),
        "services.web.blkio_config additional properties 'x-a' not allowed"
    );
    assert_eq!(
        schema_message(web(json!({"env_file": [{"path": "a", "x-a": 1}]}))),
        "services.web.env_file.0 additional properties 'x-a' not allowed"
    );
    // Under services an x- key is a service like any other.
    assert_eq!(
        schema_message(json!({"services": {"web": {"image": "x"}, "x-foo": 1}})),
        "services.x-foo must be a mapping"
    );
}

#[test]
fn interpolated_values_may_be_strings_where_compose_casts_them() {
    let doc = web(
        json!({"read_only": "true", "cpus": "0.5", "scale": "2", "mem_limit": "64m", "privileged": "${P}",
        "ports": [{"target": "80", "published": "8080"}], "healthcheck": {"retries": "3"}}),
    );
    assert_eq!(validate(&doc), Ok(()));
}

#[test]
fn every_service_key_compose_accepts_is_accepted() {
    let doc = common::yaml(include_str!("full_service.yaml"));
    assert_eq!(common::first_violation(&doc).map(|(_, v)| v.message), None);
}

#[test]
fn checks_before_the_schema_use_compose_s_words() {
    let before = |doc: Value| {
        check_before_schema(&doc)
            .expect_err("rejected before the schema")
            .message
    };
    assert_eq!(
        before(web(json!({"labels": [5]}))),
        "services.web.labels.[0]: unexpected type int"
    );
    assert_eq!(
        before(web(json!({"environment": [{"a": 1}]}))),
        "services.web.environment.[0]: unexpected type map[string]interface {}"
    );
    assert_eq!(
        before(web(json!({"expose": [true]}))),
        "services.web.expose.[0]: unsupported expose value %!s(bool=true)"
    );
    assert_eq!(
        before(web(json!({"expose": [1.5]}))),
        "services.web.expose.[0]: unsupported expose value %!s(float64=1.5)"
    );
    assert_eq!(
        before(web(json!({"secrets": [5]}))),
        "services.web.secrets.[0]: unsupported expose value %!s(int=5)"
    );
    assert_eq!(
        before(web(json!({"volumes": [{"type": "bind", "source": "/a"}]}))),
        "service volume services.web.volumes.[0] is missing a mount target"
    );
    assert_eq!(
        before(web(json!({"ports": [{"published": 80}]}))),
        "service ports services.web.ports.[0] is missing a target port"
    );
    assert_eq!(
        before(web(json!({"env_file": ["a", {"required": false}]}))),
        "environment path attribute services.web.env_file.[1] is missing"
    );
    assert_eq!(
        before(web(json!({"extends": {"file": "base.yaml"}}))),
        "extends.web.service is required"
    );
    assert_eq!(
        before(json!({"include": 3, "services": {}})),
        "`include` must be a list, got %!s(int=3)"
    );
    assert_eq!(
        before(json!({"include": {"a": 1}, "services": {}})),
        "`include` must be a list, got map[a:%!s(int=1)]"
    );
    assert_eq!(
        before(json!({"include": [5, true], "services": {}})),
        "decoding failed due to the following error(s):\n\n'[0]' expected a map or struct, got \"int\"\n'[1]' expected a map or struct, got \"bool\""
    );
    assert_eq!(
        before(json!({"services": {}, "networks": {"n": {"labels": [5]}}})),
        "networks.n.labels.[0]: unexpected type int"
    );
    let v = check_before_schema(&web(json!({"labels": ["a=1", 5]}))).unwrap_err();
    assert_eq!(v.dotted_path(), "services.web.labels.1");
    // Good documents pass.
    assert_eq!(
        check_before_schema(&web(
            json!({"labels": ["a=1"], "expose": [80, "81"], "ports": [{"target": 80}]})
        )),
        Ok(())
    );
}

#[test]
fn checks_after_the_schema_use_compose_s_words() {
    let after = |doc: Value| {
        check_after_schema(&doc)
            .expect_err("rejected after the schema")
            .message
    };
    let with = |section: &str, entry: Value| json!({"services": {}, section: {"x": entry}});
    assert_eq!(
        after(with("secrets", json!({"name": "n"}))),
        "secrets.x: one of file|environment must be set"
    );
    assert_eq!(
        after(with("secrets", json!({"file": "a", "environment": "B"}))),
        "secrets.x: file|environment attributes are mutually exclusive"
    );
    assert_eq!(
        after(with("configs", json!({}))),
        "configs.x: one of file|environment|content must be set"
    );
    assert_eq!(
        after(with("configs", json!({"content": "a", "file": "b"}))),
        "configs.x: file|environment|content attributes are mutually exclusive"
    );
    assert_eq!(
        after(with("volumes", json!({"external": true, "driver": "d"}))),
        "volumes.x: conflicting parameters \"external\" and \"driver\" specified"
    );
    assert_eq!(
        after(web(
            json!({"develop": {"watch": [{"path": "", "action": "sync"}]}})
        )),
        "services.web.develop.watch.[].path: value can't be blank"
    );
    assert_eq!(
        after(web(
            json!({"build": {"context": ".", "additional_contexts": ["a"]}})
        )),
        "services.web.build.additional_contexts: invalid value a, expected key=value"
    );
    // External resources and custom secret drivers need no source.
    for ok in [
        with("secrets", json!({"external": true})),
        with("secrets", json!({"driver": "vault"})),
        with("configs", json!({"external": false})),
        with(
            "volumes",
            json!({"external": true, "name": "data", "x-a": 1}),
        ),
        with("volumes", json!({"external": false, "driver": "d"})),
    ] {
        assert_eq!(check_after_schema(&ok), Ok(()), "{ok}");
    }
}
