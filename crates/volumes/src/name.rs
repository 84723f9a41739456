//! Volume names: Docker's rule for the local driver, and random names for volumes created unnamed.

use crate::error::{Result, VolumeError};

/// Checks `name` against the local driver's rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(VolumeError::NameTooShort(name.to_string()));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(VolumeError::InvalidName(name.to_string()));
    }
    Ok(())
}

/// A fresh random name (64 hex characters), as Docker gives volumes created without one.
pub fn random_name() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| VolumeError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_are_accepted() {
        for name in ["ab", "db_data", "my-project_pg.data", "9a", "A1"] {
            validate_name(name).unwrap();
        }
    }

    #[test]
    fn bad_names_are_refused_with_dockers_messages() {
        assert_eq!(
            validate_name("a").unwrap_err().to_string(),
            "create a: volume name is too short, names should be at least two alphanumeric characters"
        );
        for name in ["", "-ab", ".ab", "_ab", "a/b", "a b", "..", "a:b", "é1"] {
            let err = validate_name(name).unwrap_err();
            assert!(matches!(err, VolumeError::InvalidName(_)), "{name:?}: {err}");
        }
        assert_eq!(
            validate_name("a/b").unwrap_err().to_string(),
            "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
    }

    #[test]
    fn random_names_are_64_hex_and_differ() {
        let (a, b) = (random_name().unwrap(), random_name().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        validate_name(&a).unwrap();
    }
}
