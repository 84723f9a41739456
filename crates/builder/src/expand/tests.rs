use super::*;
use proptest::prelude::*;

fn env() -> BTreeMap<String, String> {
    [("abc", "hello"), ("def", "bye"), ("empty", ""), ("path", "/usr/local/bin/tool.tar.gz"), ("spaced", "a  b")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ex(word: &str) -> String {
    Expander::default().word(word, &env()).unwrap().value
}

/// The lexer's own words, without BuildKit's `failed to process "..."` wrapping.
fn err(word: &str) -> String {
    let message = Expander::default().word(word, &env()).unwrap_err().0;
    let prefix = format!("failed to process {word:?}: ");
    message.strip_prefix(&prefix).unwrap_or_else(|| panic!("{message}")).to_string()
}

#[test]
fn plain_and_braced_variables() {
    assert_eq!(ex("$abc"), "hello");
    assert_eq!(ex("${abc}"), "hello");
    assert_eq!(ex("${abc}_x"), "hello_x");
    assert_eq!(ex("$abc_x"), "");
    assert_eq!(ex("$nope"), "");
    assert_eq!(ex("a$"), "a$");
    assert_eq!(ex("$ x"), "$ x");
    assert_eq!(ex("$1x"), "x");
}

#[test]
fn the_dockerfile_references_modifiers() {
    assert_eq!(ex("${nope:-world}"), "world");
    assert_eq!(ex("${empty:-world}"), "world");
    assert_eq!(ex("${empty-world}"), "");
    assert_eq!(ex("${nope-world}"), "world");
    assert_eq!(ex("${abc:-world}"), "hello");
    assert_eq!(ex("${abc:+world}"), "world");
    assert_eq!(ex("${empty:+world}"), "");
    assert_eq!(ex("${empty+world}"), "world");
    assert_eq!(ex("${nope+world}"), "");
    assert_eq!(ex("${abc:?oops}"), "hello");
    assert_eq!(ex("${nope:-$abc}"), "hello");
    assert_eq!(ex("${nope:-'a b'}"), "a b");
}

#[test]
fn pattern_modifiers_from_the_reference() {
    // The Dockerfile reference: ${variable#pattern} with string=foobarbaz.
    let vars: BTreeMap<String, String> = [("string".to_string(), "foobarbaz".to_string())].into();
    let e = |w: &str| Expander::default().word(w, &vars).unwrap().value;
    assert_eq!(e("${string#*o}"), "obarbaz");
    assert_eq!(e("${string##*o}"), "barbaz");
    assert_eq!(e("${string%b*}"), "foobar");
    assert_eq!(e("${string%%b*}"), "foo");
    assert_eq!(e("${string/ba/fo}"), "fooforbaz");
    assert_eq!(e("${string//ba/fo}"), "fooforfoz");
    assert_eq!(ex("${path##*/}"), "tool.tar.gz");
    assert_eq!(ex("${path%.*}"), "/usr/local/bin/tool.tar");
    assert_eq!(ex("${path%%.*}"), "/usr/local/bin/tool");
    assert_eq!(ex("${path#/usr}"), "/local/bin/tool.tar.gz");
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(ex("'$abc'"), "$abc");
    assert_eq!(ex("\"$abc\""), "hello");
    assert_eq!(ex("\"a\\\"b\\$c\\\\\""), "a\"b$c\\");
    assert_eq!(ex("\"a\\nb\""), "a\\nb");
    assert_eq!(ex("\\$abc"), "$abc");
    assert_eq!(ex("a\\ b"), "a b");
    assert_eq!(ex("x\\"), "x");
    assert_eq!(ex("'it'\"'\"'s'"), "it's");
    assert_eq!(Expander::new('`').word("`$abc c:\\dir", &env()).unwrap().value, "$abc c:\\dir");
}

#[test]
fn errors_in_buildkits_words() {
    assert_eq!(err("${nope:?}"), "nope: is not allowed to be unset");
    assert_eq!(err("${empty:?}"), "empty: is not allowed to be empty");
    assert_eq!(err("${nope?must be set}"), "nope: must be set");
    assert_eq!(err("${abc"), "syntax error: missing '}'");
    assert_eq!(err("${abc:-x"), "syntax error: missing '}'");
    assert_eq!(err("${}"), "syntax error: bad substitution");
    assert_eq!(err("${:x}"), "syntax error: bad substitution");
    assert_eq!(err("${abc:#x}"), "unsupported modifier (:#) in substitution");
    assert_eq!(err("${abc^x}"), "unsupported modifier (^) in substitution");
    assert_eq!(err("${abc/x"), "syntax error: missing '/' in ${}");
    assert_eq!(err("'abc"), "unexpected end of statement while looking for matching single-quote");
    assert_eq!(err("\"abc"), "unexpected end of statement while looking for matching double-quote");
}

#[test]
fn errors_name_the_word() {
    assert_eq!(Expander::default().word("a${b", &env()).unwrap_err().to_string(), "failed to process \"a${b\": syntax error: missing '}'");
}

#[test]
fn reports_the_variables_used() {
    let used = Expander::default().word("$abc-${nope:-$def}", &env()).unwrap();
    assert_eq!(used.value, "hello-bye");
    assert_eq!(used.matched, ["abc", "def"].map(String::from).into());
    assert_eq!(used.unmatched, ["nope"].map(String::from).into());
}

#[test]
fn splits_into_shell_words() {
    let e = Expander::default();
    assert_eq!(e.words("a $spaced \"$spaced\" ''", &env()).unwrap(), vec!["a", "a", "b", "a  b"]);
    assert_eq!(e.words("  x\\ y   z ", &env()).unwrap(), vec!["x y", "z"]);
}

#[test]
fn image_env_lists_are_variables() {
    let list = vec!["PATH=/bin".to_string(), "A=1".to_string(), "A=2".to_string(), "AB=3".to_string()];
    let e = Expander::default();
    assert_eq!(e.word("$A-$AB-$PATH-${B:-none}", &list).unwrap().value, "2-3-/bin-none");
    let pairs = vec![("A".to_string(), "1".to_string()), ("A".to_string(), "2".to_string())];
    assert_eq!(e.word("$A", &pairs).unwrap().value, "2");
}

proptest! {
    #[test]
    fn words_without_specials_are_unchanged(word in "[a-zA-Z0-9_./:=@+-]{0,40}") {
        prop_assert_eq!(ex(&word), word);
    }

    #[test]
    fn single_quotes_keep_everything(inner in "[^']{0,40}") {
        prop_assert_eq!(ex(&format!("'{inner}'")), inner);
    }

    #[test]
    fn any_input_expands_or_errs_without_panicking(word in ".{0,40}") {
        let _ = Expander::default().word(&word, &env());
    }
}
