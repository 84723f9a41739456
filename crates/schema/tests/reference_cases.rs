//! Hundreds of compose files run through Docker Compose v2.40.3 (`reference_cases.yaml`): each is
//! rejected by the same step, with the same message, or accepted, as compose does.

mod common;

use yaml_rust2::YamlLoader;

#[test]
fn every_reference_case_gets_compose_s_verdict() {
    let text = include_str!("reference_cases.yaml");
    let cases = YamlLoader::load_from_str(text)
        .expect("reference_cases.yaml parses")
        .remove(0);
    let cases = cases.as_vec().expect("a list of cases");
    assert!(cases.len() > 400, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let phase = case["phase"].as_str().expect("phase");
        let doc = common::yaml(case["compose"].as_str().expect("compose"));
        let got = common::first_violation(&doc).map(|(phase, v)| (phase, v.message));
        let want = match phase {
            "ok" => None,
            _ => Some((
                phase,
                case["message"].as_str().expect("message").to_string(),
            )),
        };
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
