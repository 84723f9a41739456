//! Arbitrary input to the template engine and the env-file parser returns a result, never
//! panics; plus a few properties that must hold for any input.

use std::collections::HashMap;

use proptest::prelude::*;
use xcompose_env::{dotenv, template};

fn env() -> HashMap<String, String> {
    [("a", "x"), ("B", ""), ("C", "${a}")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn substitute_never_panics(s in "[${}:?+\\-a-zA-Z_0-9 \\\\'\"#=\n{}ſ\u{212a}é]{0,40}") {
        let _ = template::substitute(&s, &env());
        let _ = template::substitute_with_missing(&s, &env());
    }

    #[test]
    fn dotenv_never_panics(s in "[${}:?+\\-a-zA-Z_0-9 \\\\'\"#=\n\r\t\u{85}\u{a0}\u{feff}é.\\[\\]]{0,80}") {
        let _ = dotenv::parse(&s, &env());
    }

    #[test]
    fn arbitrary_unicode_never_panics(s in "\\PC{0,60}", t in any::<String>()) {
        let _ = template::substitute(&s, &env());
        let _ = dotenv::parse(&s, &env());
        let _ = template::substitute(&t, &env());
        let _ = dotenv::parse(&t, &env());
    }

    #[test]
    fn text_without_dollar_is_unchanged(s in "[^$]{0,60}") {
        prop_assert_eq!(template::substitute(&s, &env()).unwrap(), s);
    }

    #[test]
    fn escaped_dollars_round_trip(s in "[^$]{0,20}") {
        // Doubling every `$` of any text makes substitution give the text back.
        let text = format!("{s}$");
        prop_assert_eq!(template::substitute(&text.replace('$', "$$"), &env()).unwrap(), text);
    }

    #[test]
    fn single_quoted_values_are_kept(key in "[A-Za-z_][A-Za-z0-9_]{0,10}", v in "[^'\\\\]{0,30}") {
        let map = dotenv::parse(&format!("{key}='{v}'\n"), &env()).unwrap();
        prop_assert_eq!(map.get(&key), Some(&v));
    }

    #[test]
    fn simple_unquoted_values_are_kept(key in "[A-Za-z_][A-Za-z0-9_.-]{0,10}", v in "[A-Za-z0-9_./:,@%+=-]{0,30}") {
        let map = dotenv::parse(&format!("export {key} = {v}  \r\n"), &env()).unwrap();
        prop_assert_eq!(map.get(&key), Some(&v));
    }
}
