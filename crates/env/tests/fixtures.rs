//! compose-go's dotenv fixtures (in the shared corpus), with the values Docker Compose v2.40.3
//! itself reads from each (taken from `docker-compose config` with the file as an `env_file`).

use std::path::PathBuf;

use indexmap::IndexMap;
use xcompose_env::dotenv;

fn fixture(name: &str) -> PathBuf {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    corpus.join("compose-go/dotenv/fixtures").join(name)
}

fn read(name: &str) -> IndexMap<String, String> {
    let os: IndexMap<String, String> =
        [("VAR_TO_BE_LOADED_FROM_OS_ENV".to_string(), "fromos".to_string())].into_iter().collect();
    dotenv::read_file(&fixture(name), &os).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expect(name: &str, pairs: &[(&str, &str)]) {
    let got = read(name);
    let want: IndexMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut got_sorted: Vec<_> = got.into_iter().collect();
    let mut want_sorted: Vec<_> = want.into_iter().collect();
    got_sorted.sort();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted, "{name}");
}

#[test]
fn plain_and_bom() {
    let values = [
        ("456", "ABC"), ("OPTION_A", "1"), ("OPTION_B", "2"), ("OPTION_C", "3"), ("OPTION_D", "4"),
        ("OPTION_E", "5"), ("OPTION_F", ""), ("OPTION_G", ""), ("OPTION_H", "my string"),
    ];
    expect("plain.env", &values);
    expect("utf8-bom.env", &values);
}

#[test]
fn quoted() {
    expect(
        "quoted.env",
        &[
            ("OPTION_A", "1"), ("OPTION_B", "2"), ("OPTION_C", ""), ("OPTION_D", "\\n"), ("OPTION_E", "1"),
            ("OPTION_F", "2"), ("OPTION_G", ""), ("OPTION_H", "\n"), ("OPTION_I", "echo 'asd'"),
            ("OPTION_J", "first line\nsecond line\nthird line\nand so on"), ("OPTION_K", "Let's go!"),
            ("OPTION_Z", "last value"),
        ],
    );
}

#[test]
fn unquoted_exported_equals_special_and_custom_format() {
    expect(
        "unquoted.env",
        &[
            ("OPTION_A", "some quoted phrase"), ("OPTION_B", "first one with an unquoted phrase"),
            ("OPTION_C", "then another one with an unquoted phrase"),
            ("OPTION_D", "then another one with an unquoted phrase special è char"),
            ("OPTION_E", "then another one quoted phrase"),
        ],
    );
    expect("exported.env", &[("OPTION_A", "2"), ("OPTION_B", "\\n")]);
    expect("equals.env", &[("OPTION_A", "postgres://localhost:5432/database?sslmode=disable")]);
    expect("special.env", &[("VAR.WITH.DOTS", "dots"), ("VAR_WITH_UNDERSCORES", "underscores"), ("VAR-WITH-DASHES", "dashes")]);
    expect("custom.format", &[("FOO", "BAR"), ("ZOT", "QIX")]);
}

#[test]
fn inherited_and_substituted() {
    expect("inherited-single-var.env", &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "fromos")]);
    expect("inherited-multi-var.env", &[("foo", "bar"), ("VAR_TO_BE_LOADED_FROM_OS_ENV", "fromos"), ("bar", "baz")]);
    expect("inherited-not-found.env", &[]);
    let subs = [("OPTION_A", "1"), ("OPTION_B", "1"), ("OPTION_C", "1"), ("OPTION_D", "1_1"), ("OPTION_E", "")];
    expect("substitutions.env", &subs);
    expect("substitutions-default.env", &subs);
}

#[test]
fn invalid_file_names_the_line() {
    let err = dotenv::read_file(&fixture("invalid1.env"), &IndexMap::new()).unwrap_err();
    assert_eq!(err.to_string(), "line 7: key cannot contain a space");
}
