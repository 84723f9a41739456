//! Malformed input never panics the loader: it returns an error (or loads) every time.

use std::path::Path;

use proptest::prelude::*;
use xcompose_loader::{load, yaml, ProjectOptions};

fn load_text(dir: &Path, text: &str) -> Result<xcompose_loader::Project, xcompose_loader::LoadError> {
    std::fs::write(dir.join("compose.yaml"), text).unwrap();
    let opts = ProjectOptions {
        cwd: dir.to_path_buf(),
        os_env: [("HOME".to_string(), "/root".to_string())].into_iter().collect(),
        interpolate: true,
        resolve_env_files: true,
        ..Default::default()
    };
    load(&opts)
}

/// A YAML-ish value built from compose keys and hostile scalars.
fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("".to_string()),
        Just("~".to_string()),
        Just("${".to_string()),
        Just("${X:?boom}".to_string()),
        Just("$$".to_string()),
        Just("'unterminated".to_string()),
        Just("\"a\\q\"".to_string()),
        Just("!reset".to_string()),
        Just("!override x".to_string()),
        Just("*nope".to_string()),
        Just("&a x".to_string()),
        Just("<<: 3".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("-1".to_string()),
        Just("1.5e400".to_string()),
        Just(".nan".to_string()),
        Just("::80:80/xyz".to_string()),
        Just("a:b:c:d:e".to_string()),
        "[a-z0-9:/._${}-]{0,12}",
    ];
    let key = prop_oneof![
        Just("image"), Just("ports"), Just("volumes"), Just("environment"), Just("depends_on"),
        Just("command"), Just("healthcheck"), Just("deploy"), Just("networks"), Just("extends"),
        Just("build"), Just("ulimits"), Just("secrets"), Just("env_file"), Just("profiles"),
        Just("cpus"), Just("mem_limit"), Just("stop_grace_period"), Just("x-ext"), Just("bogus"),
        Just("include"), Just("services"), Just("test"), Just("target"), Just("published"),
    ];
    scalar.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|entries| {
                let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_the_yaml_parser(text in "\\PC{0,200}") {
        let _ = yaml::parse(&text);
    }

    #[test]
    fn hostile_compose_documents_never_panic(service in value(), top in value()) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("services:\n  web: {service}\nnetworks: {top}\n");
        let _ = load_text(dir.path(), &text);
        let _ = load_text(dir.path(), &format!("services: {top}\n"));
    }

    #[test]
    fn truncated_or_spliced_real_files_never_panic(cut in 0usize..4000, insert in "[ \\t\\n:\\-\\[\\]{}&*!|>'\"#%@`]{1,3}") {
        let dir = tempfile::tempdir().unwrap();
        let original = include_str!("../../../tests/conformance/kitchen-sink/compose.yaml");
        let at = original.char_indices().map(|(i, _)| i).nth(cut % original.chars().count()).unwrap_or(0);
        let _ = load_text(dir.path(), &original[..at]);
        let spliced = format!("{}{insert}{}", &original[..at], &original[at..]);
        let _ = load_text(dir.path(), &spliced);
    }
}

#[test]
fn one_space_indented_services_report_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = "services:\n  web:\n    image: x\n\n #comment\n db:\n   image: y\n";
    let err = load_text(dir.path(), text).unwrap_err().to_string();
    assert!(err.starts_with("yaml: ") && err.contains("compose.yaml:6:4: "), "{err}");
    assert!(err.contains("did not find expected key"), "{err}");
}

#[test]
fn unknown_keys_name_the_key_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_text(dir.path(), "services:\n  web:\n    image: x\n    imagee: y\n").unwrap_err().to_string();
    assert!(err.contains("services.web additional properties 'imagee' not allowed"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}
