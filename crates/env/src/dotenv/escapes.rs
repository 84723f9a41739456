//! Backslash escapes of double-quoted values (compose-go's `expandEscapes`).
//!
//! Only `\a \b \c \f \n \r \t \v \$ \" \\` and `\0` followed by up to three digits are
//! sequences; every other backslash is kept. `\$` becomes `$$`, which the later variable
//! expansion turns into a literal `$`. `\c`, and an octal sequence that is not exactly three
//! octal digits worth at most 255, stay as written, except that their `\0` prefix is shortened
//! to `\` (so `\0` alone gives `\` and `\08` gives `\8`), as compose does.

/// Applies the escapes of a double-quoted value.
pub(super) fn expand(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let consumed = match after.as_bytes().first() {
            Some(b'0') => {
                let digits = after[1..].bytes().take(3).take_while(u8::is_ascii_digit).count();
                out.push_str(&octal(&after[1..1 + digits]));
                1 + digits
            }
            Some(&c @ (b'a' | b'b' | b'c' | b'f' | b'n' | b'r' | b't' | b'v' | b'$' | b'"' | b'\\')) => {
                out.push_str(simple(c));
                1
            }
            _ => {
                out.push('\\');
                0
            }
        };
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// The replacement of `\` + `c` for the one-letter sequences.
fn simple(c: u8) -> &'static str {
    match c {
        b'a' => "\u{7}",
        b'b' => "\u{8}",
        b'f' => "\u{c}",
        b'n' => "\n",
        b'r' => "\r",
        b't' => "\t",
        b'v' => "\u{b}",
        b'$' => "$$",
        b'"' => "\"",
        b'\\' => "\\",
        // `\c` is matched but is no escape Go knows: it stays.
        _ => "\\c",
    }
}

/// The replacement of `\0` + `digits` (0 to 3 ASCII digits).
fn octal(digits: &str) -> String {
    let value = (digits.len() == 3)
        .then(|| u32::from_str_radix(digits, 8).ok())
        .flatten()
        .filter(|v| *v <= 255)
        .and_then(char::from_u32);
    match value {
        Some(c) => c.to_string(),
        None => format!("\\{digits}"),
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn sequences() {
        assert_eq!(expand(r"Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z"), "Z\u{7}Z\u{8}Z\u{c}Z\nZ\rZ\tZ\u{b}Z\\ZSZ");
        assert_eq!(expand(r#"\"q\" \$X \c"#), "\"q\" $$X \\c");
    }

    #[test]
    fn unknown_sequences_keep_their_backslash() {
        assert_eq!(expand(r"\x07 \u12e4 \U00101234 \ b\q"), r"\x07 \u12e4 \U00101234 \ b\q");
        assert_eq!(expand("end\\"), "end\\");
    }

    #[test]
    fn bad_octal_loses_its_zero() {
        assert_eq!(expand(r"\0400|\08|\0|\09a|\01|\0777|\0310"), "\\400|\\8|\\|\\9a|\\1|\\777|\u{c8}");
    }
}
