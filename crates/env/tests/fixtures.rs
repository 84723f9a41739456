//! compose-go's dotenv fixtures (read from the shared corpus, `XCOMPOSE_CORPUS` or
//! `../shared/corpus` beside the repository), with the expectations of compose-go's
//! `dotenv/godotenv_test.go`, completed with what Docker Compose v2.40.3 reads from each
//! (`docker-compose config` with the fixture as an `env_file`).

use std::path::PathBuf;

use indexmap::IndexMap;
use xcompose_env::dotenv;

const OS_KEY: &str = "VAR_TO_BE_LOADED_FROM_OS_ENV";
const OS_VALUE: &str = "SOME_RANDOM_VALUE";

fn fixture(name: &str) -> PathBuf {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    corpus.join("compose-go/dotenv/fixtures").join(name)
}

/// The fixture read with a lookup holding only `VAR_TO_BE_LOADED_FROM_OS_ENV`.
fn read(name: &str) -> IndexMap<String, String> {
    let os: IndexMap<String, String> = [(OS_KEY.to_string(), OS_VALUE.to_string())].into_iter().collect();
    dotenv::read_file(&fixture(name), &os).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Asserts the fixture gives exactly `want`, in this order.
fn expect(name: &str, want: &[(&str, &str)]) {
    let got = read(name);
    let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, want, "{name}");
}

const PLAIN: [(&str, &str); 9] = [
    ("OPTION_A", "1"),
    ("OPTION_B", "2"),
    ("OPTION_C", "3"),
    ("OPTION_D", "4"),
    ("OPTION_E", "5"),
    ("456", "ABC"),
    ("OPTION_F", ""),
    ("OPTION_G", ""),
    ("OPTION_H", "my string"),
];

#[test]
fn plain() {
    expect("plain.env", &PLAIN);
}

#[test]
fn utf8_bom() {
    let bytes = std::fs::read(fixture("utf8-bom.env")).unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "the fixture lost its BOM");
    expect("utf8-bom.env", &PLAIN);
}

#[test]
fn quoted() {
    expect(
        "quoted.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", ""),
            ("OPTION_D", "\\n"),
            ("OPTION_E", "1"),
            ("OPTION_F", "2"),
            ("OPTION_G", ""),
            ("OPTION_H", "\n"),
            ("OPTION_I", "echo 'asd'"),
            ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
            ("OPTION_K", "Let's go!"),
            ("OPTION_Z", "last value"),
        ],
    );
}

#[test]
fn unquoted() {
    expect(
        "unquoted.env",
        &[
            ("OPTION_A", "some quoted phrase"),
            ("OPTION_B", "first one with an unquoted phrase"),
            ("OPTION_C", "then another one with an unquoted phrase"),
            ("OPTION_D", "then another one with an unquoted phrase special è char"),
            ("OPTION_E", "then another one quoted phrase"),
        ],
    );
}

#[test]
fn exported_and_equals() {
    expect("exported.env", &[("OPTION_A", "2"), ("OPTION_B", "\\n")]);
    expect("equals.env", &[("OPTION_A", "postgres://localhost:5432/database?sslmode=disable")]);
}

#[test]
fn special_characters_in_keys() {
    expect("special.env", &[("VAR.WITH.DOTS", "dots"), ("VAR_WITH_UNDERSCORES", "underscores"), ("VAR-WITH-DASHES", "dashes")]);
}

#[test]
fn yaml_style_custom_format() {
    expect("custom.format", &[("FOO", "BAR"), ("ZOT", "QIX")]);
}

#[test]
fn inherited_from_the_lookup() {
    expect("inherited-single-var.env", &[(OS_KEY, OS_VALUE)]);
    expect("inherited-multi-var.env", &[("foo", "bar"), (OS_KEY, OS_VALUE), ("bar", "baz")]);
    expect("inherited-not-found.env", &[]);
}

#[test]
fn inherited_not_found_asks_the_lookup() {
    let asked = std::cell::RefCell::new(Vec::new());
    let lookup = |name: &str| {
        asked.borrow_mut().push(name.to_string());
        None
    };
    let map = dotenv::read_file(&fixture("inherited-not-found.env"), &lookup).unwrap();
    assert!(map.is_empty());
    assert_eq!(*asked.borrow(), ["VARIABLE_NOT_FOUND"]);
}

#[test]
fn substitutions() {
    let want = [("OPTION_A", "1"), ("OPTION_B", "1"), ("OPTION_C", "1"), ("OPTION_D", "1_1"), ("OPTION_E", "")];
    expect("substitutions.env", &want);
    expect("substitutions-default.env", &want);
}

#[test]
fn invalid_file_names_the_line() {
    let path = fixture("invalid1.env");
    let err = dotenv::read_file(&path, &IndexMap::new()).unwrap_err();
    assert_eq!(err.to_string(), "line 7: key cannot contain a space");
    assert_eq!(err.line(), Some(7));
    assert_eq!(err.path(), Some(path.as_path()));
}
