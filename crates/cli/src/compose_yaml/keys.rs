//! The order yaml.v3 writes a map's keys in (its `keyList.Less`): letters after other
//! characters, runs of digits compared as numbers (`a2` before `a10`).

use std::cmp::Ordering;

/// yaml.v3's order of two string keys.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        // Numbers: a zero that is not a leading one counts as part of the number before it.
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if (ar[i] == '0' || br[i] == '0') && ar[..i].iter().rev().take_while(|c| c.is_ascii_digit()).any(|&c| c != '0') {
            an = 1;
            bn = 1;
        }
        let number = |chars: &[char], n: &mut i64| -> usize {
            let mut end = i;
            while end < chars.len() && chars[end].is_ascii_digit() {
                *n = n.wrapping_mul(10).wrapping_add(i64::from(chars[end] as u8 - b'0'));
                end += 1;
            }
            end
        };
        let (ai, bi) = (number(&ar, &mut an), number(&br, &mut bn));
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn keys_in_yaml_v3s_order() {
        let mut keys = vec!["b", "a10", "a2", "-a", "'x", "+1", ".5", "A", "~", "x1", "x01", "x"];
        keys.sort_by(|a, b| compare(a, b));
        assert_eq!(keys, ["'x", "+1", "-a", ".5", "~", "A", "a2", "a10", "b", "x", "x1", "x01"]);
    }
}
