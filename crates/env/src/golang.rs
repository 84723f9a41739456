//! The few Go standard-library behaviours compose-go's messages and parser depend on.

use unicode_general_category::{get_general_category, GeneralCategory as C};

/// Go's `strconv.Quote` (also what `%q` and `%#v` print for a string).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
fn is_print(c: char) -> bool {
    c == ' '
        || is_letter(c)
        || is_number(c)
        || matches!(
            get_general_category(c),
            C::NonspacingMark
                | C::SpacingMark
                | C::EnclosingMark
                | C::ConnectorPunctuation
                | C::DashPunctuation
                | C::OpenPunctuation
                | C::ClosePunctuation
                | C::InitialPunctuation
                | C::FinalPunctuation
                | C::OtherPunctuation
                | C::MathSymbol
                | C::CurrencySymbol
                | C::ModifierSymbol
                | C::OtherSymbol
        )
}

/// Go's `unicode.IsLetter`: general category L (narrower than Rust's `is_alphabetic`).
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        get_general_category(c),
        C::UppercaseLetter | C::LowercaseLetter | C::TitlecaseLetter | C::ModifierLetter | C::OtherLetter
    )
}

/// Go's `unicode.IsNumber`: general category N (the same set as Rust's `is_numeric`).
pub(crate) fn is_number(c: char) -> bool {
    c.is_numeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("${}"), "\"${}\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("\r\n\t\u{7}\u{0}\u{7f}"), "\"\\r\\n\\t\\a\\x00\\x7f\"");
        assert_eq!(quote("é€ \u{a0}\u{200b}"), "\"é€ \\u00a0\\u200b\"");
        assert_eq!(quote("\u{e0001}"), "\"\\U000e0001\"");
    }

    #[test]
    fn letters_are_category_l_only() {
        assert!(is_letter('a') && is_letter('é') && is_letter('न'));
        // A Devanagari vowel sign is alphabetic for Rust but not a letter for Go.
        assert!('\u{947}'.is_alphabetic() && !is_letter('\u{947}'));
        assert!(!is_letter('1') && is_number('1') && is_number('Ⅻ'));
    }
}
