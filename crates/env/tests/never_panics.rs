//! Arbitrary input to the template engine and the env-file parser returns a result, never panics.

use std::collections::HashMap;

use proptest::prelude::*;
use xcompose_env::{dotenv, template};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn substitute_never_panics(s in "[${}:?+\\-a-zA-Z_0-9 \\\\'\"#=\n]{0,40}") {
        let env: HashMap<String, String> = [("a".to_string(), "x".to_string()), ("B".to_string(), String::new())].into_iter().collect();
        let _ = template::substitute(&s, &env);
    }

    #[test]
    fn dotenv_never_panics(s in "[${}:?+\\-a-zA-Z_0-9 \\\\'\"#=\n\r\t]{0,80}") {
        let _ = dotenv::parse(&s, &HashMap::<String, String>::new());
    }

    #[test]
    fn arbitrary_unicode_never_panics(s in "\\PC{0,60}") {
        let _ = template::substitute(&s, &HashMap::<String, String>::new());
        let _ = dotenv::parse(&s, &HashMap::<String, String>::new());
    }
}
