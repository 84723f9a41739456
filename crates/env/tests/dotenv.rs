//! `dotenv::parse` and `dotenv::read_file`, against what compose-go v2.9.1 (Docker Compose
//! v2.40.3) gives. Cases marked "reference" were checked with `docker-compose config`.

use std::collections::HashMap;

use indexmap::IndexMap;
use xcompose_env::dotenv::{self, DotenvError};

fn no_lookup() -> HashMap<String, String> {
    HashMap::new()
}

fn parse(text: &str) -> IndexMap<String, String> {
    dotenv::parse(text, &no_lookup()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn parse_with(text: &str, env: &[(&str, &str)]) -> IndexMap<String, String> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    dotenv::parse(text, &env).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The single value `text` gives to `key`.
fn value(text: &str, key: &str) -> String {
    let map = parse(text);
    map.get(key).cloned().unwrap_or_else(|| panic!("{text:?}: no {key:?} in {map:?}"))
}

fn error(text: &str) -> String {
    match dotenv::parse(text, &no_lookup()) {
        Ok(map) => panic!("{text:?} gave {map:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

fn pairs(map: &IndexMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn keys_and_separators() {
    assert_eq!(value("FOO=bar", "FOO"), "bar");
    assert_eq!(value("FOO =bar", "FOO"), "bar");
    assert_eq!(value("FOO= bar", "FOO"), "bar");
    assert_eq!(value(" KEY =value", "KEY"), "value");
    assert_eq!(value("\tKEY=value", "KEY"), "value");
    assert_eq!(value("FOO=foobar=", "FOO"), "foobar=");
    assert_eq!(value("FOO.BAR=foobar", "FOO.BAR"), "foobar");
    assert_eq!(value("a[1]=c", "a[1]"), "c");
    assert_eq!(value("VAR-WITH-DASHES=x", "VAR-WITH-DASHES"), "x");
    assert_eq!(value("456 = ABC", "456"), "ABC");
    assert_eq!(value("árvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép", "árvíztűrő-TÜKÖRFÚRÓGÉP"), "ÁRVÍZTŰRŐ-tükörfúrógép");
    assert_eq!(value(r#"="value""#, ""), "value");
}

#[test]
fn yaml_style_colon() {
    assert_eq!(value("OPTION_A: 1", "OPTION_A"), "1");
    assert_eq!(value("OPTION_A: Foo=bar", "OPTION_A"), "Foo=bar");
    assert_eq!(value("OPTION_A=1:B", "OPTION_A"), "1:B");
    assert_eq!(value("C : \"x y\"", "C"), "x y");
}

#[test]
fn export_keyword() {
    assert_eq!(value("export OPTION_A=2", "OPTION_A"), "2");
    assert_eq!(value("export OPTION_B='\\n'", "OPTION_B"), "\\n");
    assert_eq!(value("export exportFoo=2", "exportFoo"), "2");
    assert_eq!(value("exportFOO=2", "exportFOO"), "2");
    assert_eq!(value("export_FOO =2", "export_FOO"), "2");
    assert_eq!(value("export.FOO= 2", "export.FOO"), "2");
    assert_eq!(value("export\tOPTION_A=2", "OPTION_A"), "2");
    assert_eq!(value("  export OPTION_A=2", "OPTION_A"), "2");
    assert_eq!(value("export OPTION_A=\"export A\"", "OPTION_A"), "export A");
    // reference
    assert_eq!(value("export=5", "export"), "5");
    assert_eq!(value("export  B = 2 ", "B"), "2");
}

#[test]
fn unquoted_values_are_trimmed_and_cut_at_space_hash() {
    assert_eq!(value("FOO=bar ", "FOO"), "bar");
    assert_eq!(value("FOO=bar # this is foo", "FOO"), "bar");
    assert_eq!(value("FOO=bar #this is foo", "FOO"), "bar");
    assert_eq!(value("FOO=bar #", "FOO"), "bar");
    assert_eq!(value("FOO=123#not-an-inline-comment", "FOO"), "123#not-an-inline-comment");
    // reference: only a space before `#` starts a comment, not a tab
    assert_eq!(value("C=foo\t#bar", "C"), "foo\t#bar");
    assert_eq!(value("FOO=a\\tb", "FOO"), "a\\tb");
    assert_eq!(value("FOO=a 'b' \"c\"", "FOO"), "a 'b' \"c\"");
}

#[test]
fn empty_value_versus_bare_key() {
    let map = parse_with("EMPTY=\nSPACES=   \nINHERITED\nABSENT\n", &[("INHERITED", "from lookup"), ("EMPTY", "ignored")]);
    assert_eq!(pairs(&map), [("EMPTY", ""), ("SPACES", ""), ("INHERITED", "from lookup")]);
    // A set but empty variable is inherited as empty.
    assert_eq!(pairs(&parse_with("E\n", &[("E", "")])), [("E", "")]);
    // `export KEY` is a bare key too.
    assert_eq!(pairs(&parse_with("export K\n", &[("K", "v")])), [("K", "v")]);
}

#[test]
fn a_final_bare_key_without_newline_is_the_empty_key() {
    // reference: compose reads it as `=FOO`
    assert_eq!(pairs(&parse_with("A=1\nFOO", &[("FOO", "x")])), [("A", "1"), ("", "FOO")]);
}

#[test]
fn comments() {
    let map = parse("# full line\n  # indented\n\t # tab\nA=x #comment\nB=x#not\nC='a #b' # c\nD=\"bar#baz\"#\n#last");
    assert_eq!(pairs(&map), [("A", "x"), ("B", "x#not"), ("C", "a #b"), ("D", "bar#baz")]);
}

#[test]
fn blank_content() {
    for text in ["", "\n", "\r\n", "\t\t ", "# Comment", "\t # comment", "\u{feff}"] {
        assert!(parse(text).is_empty(), "{text:?}");
    }
}

#[test]
fn single_quotes_are_literal() {
    assert_eq!(value("FOO='bar'", "FOO"), "bar");
    assert_eq!(value("BAR='quote $FOO'", "BAR"), "quote $FOO");
    assert_eq!(value("D='\\n'", "D"), "\\n");
    assert_eq!(value("K='Let\\'s go!'", "K"), "Let's go!");
    assert_eq!(value("K='a\\\\b'", "K"), "a\\\\b");
    assert_eq!(value("FOO='ba#r'", "FOO"), "ba#r");
    assert_eq!(value("J = 'first line\nsecond line'", "J"), "first line\nsecond line");
    assert_eq!(value("FOO=\"'d'\"", "FOO"), "'d'");
}

#[test]
fn double_quotes_take_escapes() {
    assert_eq!(value(r#"FOO="bar""#, "FOO"), "bar");
    assert_eq!(value(r#"FOO="escaped\"bar""#, "FOO"), "escaped\"bar");
    assert_eq!(value(r#"FOO="\"quoted\"""#, "FOO"), "\"quoted\"");
    assert_eq!(value(r#"FOO="bar\nbaz""#, "FOO"), "bar\nbaz");
    assert_eq!(value(r#"FOO="a\tb""#, "FOO"), "a\tb");
    assert_eq!(value(r#"KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z""#, "KEY"), "Z\u{7}Z\u{8}Z\u{c}Z\nZ\rZ\tZ\u{b}Z\\ZSZ");
    assert_eq!(value(r#"FOO="bar\n\ b\az""#, "FOO"), "bar\n\\ b\u{7}z");
    assert_eq!(value(r#"FOO="bar\\\n\ b\az""#, "FOO"), "bar\\\n\\ b\u{7}z");
    assert_eq!(value(r#"FOO="bar\\r\ b\az""#, "FOO"), "bar\\r\\ b\u{7}z");
    assert_eq!(value(r#"KEY="\x07""#, "KEY"), r"\x07");
    assert_eq!(value(r#"KEY="\u12e4""#, "KEY"), r"\u12e4");
    assert_eq!(value(r#"KEY="\U00101234""#, "KEY"), r"\U00101234");
    // reference
    assert_eq!(value(r#"A="\0123|\0|\01|\0777|\0310|\t|\x|\a|\q""#, "A"), "S|\\|\\1|\\777|\u{c8}|\t|\\x|\u{7}|\\q");
}

#[test]
fn double_quotes_span_lines() {
    let text = "TEST_URLS=\"stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443\"";
    assert_eq!(pairs(&parse(text)), [("TEST_URLS", "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443")]);
    assert_eq!(pairs(&parse("A=\"x\n  y\n\"\nB=2\n")), [("A", "x\n  y\n"), ("B", "2")]);
}

#[test]
fn text_after_a_closing_quote_is_the_next_statement() {
    // reference: `junk` becomes a bare key, taken from the lookup
    assert_eq!(pairs(&parse("E='x' junk\nF=1\n")), [("E", "x"), ("F", "1")]);
    assert_eq!(pairs(&parse_with("E='x' junk\n", &[("junk", "j")])), [("E", "x"), ("junk", "j")]);
    assert_eq!(pairs(&parse("A=\"1\"B=2\n")), [("A", "1"), ("B", "2")]);
}

#[test]
fn variables_in_unquoted_and_double_quoted_values() {
    assert_eq!(pairs(&parse("FOO=test\nBAR=$FOO")), [("FOO", "test"), ("BAR", "test")]);
    assert_eq!(value("FOO=test\nBAR=${FOO}bar", "BAR"), "testbar");
    assert_eq!(value("BAR=$FOO", "BAR"), "");
    assert_eq!(value("FOO=test\nBAR=\"quote $FOO\"", "BAR"), "quote test");
    assert_eq!(value(r#"FOO="foo\$BAR""#, "FOO"), "foo$BAR");
    assert_eq!(value(r#"FOO="foo\${BAR}""#, "FOO"), "foo${BAR}");
    assert_eq!(value("FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"", "BAR"), "foo${FOO} test");
    assert_eq!(value("A=$$B", "A"), "$B");
    assert_eq!(value("A=${X:-def}", "A"), "def");
    assert_eq!(value("E=\nR=${E-unset}|${E:-empty}", "R"), "|empty");
    // Later keys are not visible yet.
    assert_eq!(value("A=$B\nB=1", "A"), "");
}

#[test]
fn the_lookup_wins_over_earlier_keys() {
    // reference: with A=2 in the OS environment, `A=1` then `B=${A}` in .env gives B=2
    let map = parse_with("A=1\nB=${A}\nC=$OS\n", &[("A", "2"), ("OS", "os")]);
    assert_eq!(pairs(&map), [("A", "1"), ("B", "2"), ("C", "os")]);
}

#[test]
fn bom_and_crlf() {
    let map = parse("\u{feff}A=1\r\nB=\"x\"\r\nC='y'\r\nD=z #c\r\nE=\"l1\r\nl2\"\r\n");
    assert_eq!(pairs(&map), [("A", "1"), ("B", "x"), ("C", "y"), ("D", "z"), ("E", "l1\r\nl2")]);
    // Only one leading BOM is skipped.
    assert!(dotenv::parse("\u{feff}\u{feff}A=1", &no_lookup()).is_err());
}

#[test]
fn duplicate_keys_keep_the_last_value_and_first_position() {
    assert_eq!(pairs(&parse("A=1\nB=2\nA=3\n")), [("A", "3"), ("B", "2")]);
}

#[test]
fn invalid_key_characters_name_the_line() {
    assert_eq!(error("lol$wut"), "line 1: unexpected character \"$\" in variable name \"lol$wut\"");
    assert_eq!(
        error("%!(EXTRA string)=foo"),
        "line 1: unexpected character \"%\" in variable name \"%!(EXTRA string)=foo\""
    );
    // reference
    assert_eq!(error("# c\n\nA=1\nB-C@=2\n"), "line 4: unexpected character \"@\" in variable name \"B-C@=2\"");
    // A Devanagari vowel sign is alphabetic but not a letter for Go.
    assert_eq!(error("नमस्ते=1"), "line 1: unexpected character \"\u{94d}\" in variable name \"नमस्ते=1\"");
}

#[test]
fn spaces_in_keys() {
    // reference
    assert_eq!(error("# c\n\nA=1\nB C=2\n"), "line 4: key cannot contain a space");
    assert_eq!(error("INVALID LINE\n"), "line 1: key cannot contain a space");
}

#[test]
fn unterminated_quotes() {
    for text in [r#"KEY=""#, r#"KEY="value"#, r#"KEY="value\""#, r#"KEY="value'"#, "KEY='", "KEY='value", r"KEY='value\'", r#"KEY='value""#] {
        let quoted = &text[4..];
        assert_eq!(error(text), format!("line 1: unterminated quoted value {quoted}"), "{text}");
    }
    // reference: the line counts every line scanned looking for the quote
    assert_eq!(error("A=\"x\ny\nz\nB=2\n"), "line 5: unterminated quoted value \"x");
}

#[test]
fn export_alone_at_the_end() {
    assert_eq!(error("A=1\nexport "), "zero length string");
    assert_eq!(pairs(&parse("A=1\nexport\nB=2\n")), [("A", "1"), ("B", "2")]);
}

#[test]
fn substitution_errors() {
    // reference: compose prints the template error alone
    assert_eq!(error("A=${}\n"), "Invalid template: \"${}\"");
    assert_eq!(error("A=1\nB=${C:?nope}\n"), "required variable C is missing a value: nope");
    match dotenv::parse("A=1\nB=${C:?nope}\n", &no_lookup()) {
        Err(DotenvError::Template { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
    // Single-quoted values are not substituted, so cannot fail.
    assert_eq!(value("A='${}'", "A"), "${}");
}

#[test]
fn errors_carry_their_line() {
    let err = dotenv::parse("\n\nA B=1", &no_lookup()).unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(err.path().is_none());
}

#[test]
fn read_file_errors_carry_the_file() {
    let dir = std::env::temp_dir().join(format!("xcompose-env-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.env");
    std::fs::write(&bad, "A=1\nB C=2\n").unwrap();
    let err = dotenv::read_file(&bad, &no_lookup()).unwrap_err();
    assert_eq!(err.to_string(), "line 2: key cannot contain a space");
    assert_eq!((err.path(), err.line()), (Some(bad.as_path()), Some(2)));

    let missing = dir.join("missing.env");
    let err = dotenv::read_file(&missing, &no_lookup()).unwrap_err();
    assert_eq!(err.to_string(), format!("open {}: no such file or directory", missing.display()));
    assert_eq!(err.path(), Some(missing.as_path()));

    let good = dir.join("good.env");
    std::fs::write(&good, b"A=\xff\n").unwrap();
    assert_eq!(pairs(&dotenv::read_file(&good, &no_lookup()).unwrap()), [("A", "\u{fffd}")]);
    std::fs::remove_dir_all(&dir).unwrap();
}
