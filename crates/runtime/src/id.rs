//! Container IDs: 64 random hex digits, as Docker makes them.

/// A fresh container ID. Like Docker's, its 12-character short form (the default hostname) is
/// never all digits: glibc's resolver takes an all-digit name for a numeric address and does not
/// look it up, so `hostname -i` and friends would fail in the container.
pub(crate) fn new_container_id() -> std::io::Result<String> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let id = hex::encode(bytes);
        if !is_numeric(&id[..12]) {
            return Ok(id);
        }
    }
}

fn is_numeric(short_id: &str) -> bool {
    short_id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_unique() {
        let a = new_container_id().unwrap();
        let b = new_container_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn all_digit_short_ids_are_refused() {
        assert!(is_numeric("043673364421"));
        assert!(!is_numeric("04367336442a"));
        // One ID in ~280 would have an all-digit short form: enough draws to meet several.
        for _ in 0..5000 {
            assert!(!is_numeric(&new_container_id().unwrap()[..12]));
        }
    }
}
