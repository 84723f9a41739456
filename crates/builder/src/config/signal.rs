//! STOPSIGNAL's check, as moby's `signal.ParseSignal`: a non-zero number or a Linux signal
//! name, with or without `SIG`, any case. The image keeps the word as written.

const NAMES: [&str; 34] = [
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT",
    "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// `Ok` when `word` names a signal; else `Invalid signal: word`.
pub(crate) fn check(word: &str) -> Result<(), String> {
    let invalid = || format!("Invalid signal: {word}");
    if let Ok(n) = word.parse::<i64>() {
        return if n == 0 { Err(invalid()) } else { Ok(()) };
    }
    let upper = word.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |prefix: &str, range: std::ops::RangeInclusive<u32>| {
        name.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.get(1..).and_then(|n| n.parse().ok()).is_some_and(|n| range.contains(&n)) && rest.starts_with(if prefix == "RTMIN" { '+' } else { '-' }))
    };
    if NAMES.contains(&name) || realtime("RTMIN", 1..=15) || realtime("RTMAX", 1..=14) {
        Ok(())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for ok in ["SIGTERM", "int", "9", "SIGRTMIN+3", "RTMAX-1", "RTMAX", "sigusr1"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in ["0", "SIGFOO", "RTMIN+16", "RTMIN-1", ""] {
            assert_eq!(check(bad), Err(format!("Invalid signal: {bad}")), "{bad}");
        }
    }
}
