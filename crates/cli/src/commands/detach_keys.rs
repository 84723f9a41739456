//! `--detach-keys`: the key sequence that detaches `attach` from a terminal container, in
//! Docker's notation (moby/term's `ToBytes`): comma-separated keys, each one character or
//! `ctrl-X` with X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. Docker's default is
//! `ctrl-p,ctrl-q`.

use anyhow::Result;

/// Docker's default detach sequence.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// The bytes `keys` stand for (at least one); an error naming the key Docker would refuse.
fn parse(keys: &str) -> Result<Vec<u8>> {
    keys.split(',').map(|key| key_byte(key).ok_or_else(|| anyhow::anyhow!("invalid detach keys ({keys}): unknown key {key:?}; use one character or ctrl-<a-z, @, [, \\, ], ^, _>, comma-separated"))).collect()
}

fn key_byte(key: &str) -> Option<u8> {
    if key.len() == 1 {
        return Some(key.as_bytes()[0]);
    }
    let lower = key.to_ascii_lowercase();
    let rest = lower.strip_prefix("ctrl-")?;
    match rest.as_bytes() {
        [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
        [b'@'] => Some(0),
        [c @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Some(c - b'[' + 27),
        _ => None,
    }
}

/// Finds the detach sequence in a stream of input, holding back a partial match until the
/// next bytes tell whether it completes (as Docker's escape proxy does).
#[derive(Debug)]
pub struct Detacher {
    keys: Vec<u8>,
    matched: usize,
}

/// What a chunk of input comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes to pass on to the container.
    Forward(Vec<u8>),
    /// The sequence was typed: these bytes before it go on, then `attach` detaches.
    Detach(Vec<u8>),
}

impl Detacher {
    /// A detacher for the sequence `keys` in Docker's notation.
    pub fn parse(keys: &str) -> Result<Self> {
        Ok(Self { keys: parse(keys)?, matched: 0 })
    }

    /// Takes the next chunk of input.
    pub fn feed(&mut self, chunk: &[u8]) -> Input {
        let mut forward = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            if byte != self.keys[self.matched] && self.matched > 0 {
                // Not the sequence after all: what was held back goes on.
                forward.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return Input::Detach(forward);
                }
            } else {
                forward.push(byte);
            }
        }
        Input::Forward(forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_notation() {
        assert_eq!(parse(DEFAULT).unwrap(), vec![0x10, 0x11]);
        assert_eq!(parse("ctrl-@,ctrl-A,ctrl-[,ctrl-_,x").unwrap(), vec![0, 1, 27, 31, b'x']);
        let err = parse("ctrl-p,ctrl-1").unwrap_err().to_string();
        assert!(err.contains("invalid detach keys (ctrl-p,ctrl-1): unknown key \"ctrl-1\""), "{err}");
        assert!(parse("").is_err() && parse("ab").is_err());
    }

    #[test]
    fn holds_back_a_partial_match_and_detaches_on_the_whole() {
        let mut d = Detacher::parse(DEFAULT).unwrap();
        assert_eq!(d.feed(b"ab\x10"), Input::Forward(b"ab".to_vec()));
        assert_eq!(d.feed(b"c"), Input::Forward(b"\x10c".to_vec()), "a broken sequence goes on");
        assert_eq!(d.feed(b"\x10\x10"), Input::Forward(b"\x10".to_vec()));
        assert_eq!(d.feed(b"\x11rest"), Input::Detach(Vec::new()));
    }
}
