//! `template::substitute` for every form, against what compose-go v2.9.1 (Docker Compose
//! v2.40.3) gives. Cases marked "reference" were checked with `docker-compose config`.

use std::collections::HashMap;

use xcompose_env::template::{self, TemplateError};

/// `FOO=first`, `BAR` empty, `SET=value`, `EMPTY` empty; nothing else is set.
fn env() -> HashMap<String, String> {
    [("FOO", "first"), ("BAR", ""), ("SET", "value"), ("EMPTY", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sub(s: &str) -> Result<String, TemplateError> {
    template::substitute(s, &env())
}

fn ok(s: &str) -> String {
    sub(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> String {
    match sub(s) {
        Ok(v) => panic!("{s:?} gave {v:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn text_without_variables_is_unchanged() {
    assert_eq!(ok(""), "");
    assert_eq!(ok("foo"), "foo");
    assert_eq!(ok("é ü 漢字 }{"), "é ü 漢字 }{");
}

#[test]
fn plain_and_braced_variables() {
    assert_eq!(ok("This $FOO var"), "This first var");
    assert_eq!(ok("This ${FOO} var"), "This first var");
    assert_eq!(ok("$FOO$SET${FOO}"), "firstvaluefirst");
    assert_eq!(ok("é$SETé"), "évalueé");
}

#[test]
fn unset_and_empty_variables_are_empty() {
    assert_eq!(ok("This ${missing} var"), "This  var");
    assert_eq!(ok("This ${BAR} var"), "This  var");
    assert_eq!(ok("This $missing var"), "This  var");
}

#[test]
fn a_name_stops_at_the_first_non_name_character() {
    // docker/compose#8601
    assert_eq!(ok("$FOO-bar"), "first-bar");
    assert_eq!(ok("$FOO.bar"), "first.bar");
    // `$FOO_bar` is the variable FOO_bar (reference: unset, empty)
    assert_eq!(ok("$FOO_bar-x"), "-x");
}

#[test]
fn names_are_case_sensitive_ascii_with_go_case_folding() {
    let env: HashMap<String, String> =
        [("foo", "lower"), ("ſ", "long s"), ("\u{212a}", "kelvin")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(template::substitute("$foo|$FOO", &env).unwrap(), "lower|");
    // reference: Go's (?i)[a-z] also matches U+017F and U+212A
    assert_eq!(template::substitute("$ſ|${\u{212a}}", &env).unwrap(), "long s|kelvin");
}

#[test]
fn dollar_dollar_is_a_literal_dollar() {
    assert_eq!(ok("$${foo}"), "${foo}");
    assert_eq!(ok("$$FOO $$"), "$FOO $");
    assert_eq!(ok("$$$FOO"), "$first");
    assert_eq!(ok("$$$$"), "$$");
    assert_eq!(ok("${missing:-$$}"), "$");
}

#[test]
fn a_dollar_that_starts_nothing_is_literal() {
    // reference: `$1`, `$ x`, `$-`, `$}` and a final `$` are kept
    assert_eq!(ok("$1 $ x $- $} a$"), "$1 $ x $- $} a$");
    assert_eq!(ok("price: 5$"), "price: 5$");
}

#[test]
fn default_if_unset_or_empty() {
    assert_eq!(ok("ok ${SET:-def}"), "ok value");
    assert_eq!(ok("ok ${EMPTY:-def}"), "ok def");
    assert_eq!(ok("ok ${missing:-def}"), "ok def");
    assert_eq!(ok("ok ${missing:-}"), "ok ");
}

#[test]
fn default_if_unset() {
    assert_eq!(ok("ok ${SET-def}"), "ok value");
    assert_eq!(ok("ok ${EMPTY-def}"), "ok ");
    assert_eq!(ok("ok ${missing-def}"), "ok def");
    assert_eq!(ok("ok ${missing-}"), "ok ");
}

#[test]
fn alternate_if_set_and_not_empty() {
    assert_eq!(ok("${SET:+alt}"), "alt");
    assert_eq!(ok("${EMPTY:+alt}"), "");
    assert_eq!(ok("${missing:+alt}"), "");
}

#[test]
fn alternate_if_set() {
    assert_eq!(ok("${SET+alt}"), "alt");
    assert_eq!(ok("${EMPTY+alt}"), "alt");
    assert_eq!(ok("${missing+alt}"), "");
}

#[test]
fn required_if_unset_or_empty() {
    assert_eq!(ok("ok ${SET:?err}"), "ok value");
    assert_eq!(err("${EMPTY:?Mandatory Variable Empty}"), "required variable EMPTY is missing a value: Mandatory Variable Empty");
    assert_eq!(err("not ok ${missing:?Mandatory Variable Unset}"), "required variable missing is missing a value: Mandatory Variable Unset");
    assert_eq!(err("not ok ${missing:?}"), "required variable missing is missing a value");
}

#[test]
fn required_if_unset() {
    assert_eq!(ok("ok ${SET?err}"), "ok value");
    assert_eq!(ok("ok ${EMPTY?err}"), "ok ");
    assert_eq!(err("${missing?Mandatory Variable Unset}"), "required variable missing is missing a value: Mandatory Variable Unset");
    assert_eq!(err("${missing?}"), "required variable missing is missing a value");
}

#[test]
fn required_error_is_structured() {
    assert_eq!(
        sub("${missing:?need ${FOO}}"),
        Err(TemplateError::Required { name: "missing".into(), message: "need first".into() })
    );
}

#[test]
fn operands_are_substituted() {
    assert_eq!(ok("ok ${missing-$FOO}"), "ok first");
    assert_eq!(ok("ok ${missing-${FOO}}"), "ok first");
    assert_eq!(ok("ok ${missing-${FOO} ${FOO}}"), "ok first first");
    assert_eq!(ok("ok ${BAR:-$FOO}"), "ok first");
    assert_eq!(ok("ok ${BAR:-${FOO} ${FOO}}"), "ok first first");
    assert_eq!(ok("${SET:+[${FOO}]}"), "[first]");
    assert_eq!(err("${missing?Mandatory Variable ${FOO}}"), "required variable missing is missing a value: Mandatory Variable first");
}

#[test]
fn nesting_goes_deep() {
    assert_eq!(ok("${missing:-${also:-${FOO}}}"), "first");
    // reference: `${C:-${A:-${B}}z}y` with A=1, B empty, C unset is `1zy`
    let env: HashMap<String, String> = [("A", "1"), ("B", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(template::substitute("${C:-${A:-${B}}z}y", &env).unwrap(), "1zy");
    assert_eq!(template::substitute("${B-${A}x}", &env).unwrap(), "");
}

#[test]
fn operands_are_evaluated_even_when_unused() {
    // reference: the unused operand's required variable still fails
    assert_eq!(err("${SET:-${missing:?bad}}"), "required variable missing is missing a value: bad");
    let (value, missing) = template::substitute_with_missing("${SET:-$nope}", &env()).unwrap();
    assert_eq!((value.as_str(), missing), ("value", vec!["nope".to_string()]));
}

#[test]
fn the_first_operator_wins() {
    assert_eq!(ok("${missing-myerror?msg}"), "myerror?msg");
    assert_eq!(ok("${FOO?bar-baz}"), "first");
    assert_eq!(err("${missing?bar-baz}"), "required variable missing is missing a value: bar-baz");
    assert_eq!(ok("ok ${BAR:-/non:-alphanumeric}"), "ok /non:-alphanumeric");
    assert_eq!(ok("${missing-a:-b}"), "a:-b");
}

#[test]
fn an_operator_expression_runs_to_the_last_brace_of_its_line() {
    // reference: all three
    assert_eq!(ok("${missing:-a}b}"), "ab}");
    assert_eq!(ok("${missing-a}${missing-b}}"), "ab}");
    assert_eq!(ok("${SET:-x}-${BAR:-y}"), "value-y");
    assert_eq!(ok("${missing:-{}}"), "{}");
    assert_eq!(ok("${missing:-{}x}"), "{}x");
    assert_eq!(ok("${SET:-{x}}"), "value");
}

#[test]
fn invalid_templates() {
    for bad in ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "${VAR", "${VAR:x}", "${VAR:=x}", "${1}", "${V.X}", "${A-x"] {
        assert_eq!(err(bad), format!("Invalid template: \"{bad}\""), "{bad}");
    }
    assert_eq!(err("x ${FOO} ${}"), "Invalid template: \"x ${FOO} ${}\"");
    // A newline cannot be inside an operand.
    assert_eq!(err("${missing:-x\ny}"), "Invalid template: \"${missing:-x\\ny}\"");
}

#[test]
fn an_invalid_template_names_the_nested_text_it_was_found_in() {
    // reference: compose shows `${}` for both, and `${B` for the third
    assert_eq!(sub("${SET:-${}}"), Err(TemplateError::Invalid { template: "${}".into() }));
    assert_eq!(sub("${SET:-x}${}"), Err(TemplateError::Invalid { template: "${}".into() }));
    assert_eq!(sub("${SET:-${B}\n}"), Err(TemplateError::Invalid { template: "${B".into() }));
}

#[test]
fn the_first_error_is_returned() {
    assert_eq!(err("${a?one} ${b?two}"), "required variable a is missing a value: one");
    assert_eq!(err("${} ${b?two}"), "Invalid template: \"${} ${b?two}\"");
}

#[test]
fn compose_messages_with_a_path() {
    let e = sub("${ VAR}").unwrap_err();
    assert_eq!(
        e.at_path("services.a.environment.X"),
        "invalid interpolation format for services.a.environment.X.\nYou may need to escape any $ with another $.\n${ VAR}"
    );
    let e = sub("${missing:?set it}").unwrap_err();
    assert_eq!(
        e.at_path("services.a.image"),
        "error while interpolating services.a.image: required variable missing is missing a value: set it"
    );
}

#[test]
fn missing_variables_are_reported_per_occurrence() {
    let (value, missing) =
        template::substitute_with_missing("$A ${B} ${C:-x} ${D:+y} ${SET} $A ${E-$F}", &env()).unwrap();
    assert_eq!(value, "  x  value  ");
    assert_eq!(missing, ["A", "B", "A", "F"]);
    let mut seen = Vec::new();
    template::substitute_reporting("$X", &env(), &mut |n| seen.push(n.to_string())).unwrap();
    assert_eq!(seen, ["X"]);
}

#[test]
fn lookups_of_every_kind() {
    let closure = |name: &str| (name == "X").then(|| "from closure".to_string());
    assert_eq!(template::substitute("$X$Y", &closure).unwrap(), "from closure");
    let index: indexmap::IndexMap<String, String> = [("X".to_string(), "from index".to_string())].into_iter().collect();
    assert_eq!(template::substitute("$X", &index).unwrap(), "from index");
    let btree: std::collections::BTreeMap<String, String> = [("X".to_string(), "from btree".to_string())].into_iter().collect();
    assert_eq!(template::substitute("$X", &btree).unwrap(), "from btree");
}
