//! Points in time given on the command line (`logs --since/--until`), as Docker reads them: a Go
//! duration before now (`90s`, `1h30m`, `1.5h`), an RFC 3339 time with or without its zone and
//! fraction, a date, or Unix seconds with an optional fraction.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};

/// `value` of flag `flag` as a time, durations counting back from `now`.
pub fn parse(flag: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if value != "0" {
        if let Some(ago) = go_duration(value) {
            return Ok(now - ago);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for layout in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, layout) {
            return local(t, flag, value);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0).expect("midnight exists"), flag, value);
    }
    unix(value).ok_or_else(|| format!("invalid value for \"{flag}\": failed to parse value as time or duration: {value:?}"))
}

/// A time without a zone is local time.
fn local(t: NaiveDateTime, flag: &str, value: &str) -> Result<DateTime<Utc>, String> {
    Local.from_local_datetime(&t).earliest().map(|t| t.with_timezone(&Utc)).ok_or_else(|| format!("invalid value for \"{flag}\": {value:?} does not exist in the local time zone"))
}

/// `SECONDS[.FRACTION]` since the Unix epoch.
fn unix(value: &str) -> Option<DateTime<Utc>> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    Utc.timestamp_opt(seconds.parse().ok()?, nanos).single()
}

/// A Go duration (`300ms`, `-1.5h`, `2h45m`); a bare number is not one (Go wants a unit).
fn go_duration(value: &str) -> Option<TimeDelta> {
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    xcompose_loader::units::Duration::parse(value).ok().map(|d| TimeDelta::nanoseconds(d.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse("since", "90s", now()).unwrap(), at("2026-11-25T11:58:30Z"));
        assert_eq!(parse("since", "1h30m", now()).unwrap(), at("2026-11-25T10:30:00Z"));
        assert_eq!(parse("since", "1.5h", now()).unwrap(), at("2026-11-25T10:30:00Z"));
        assert_eq!(parse("since", "250ms", now()).unwrap(), at("2026-11-25T11:59:59.75Z"));
        assert_eq!(parse("until", "-10m", now()).unwrap(), at("2026-11-25T12:10:00Z"));
    }

    #[test]
    fn times_dates_and_unix_seconds() {
        assert_eq!(parse("since", "2026-11-25T10:00:00Z", now()).unwrap(), at("2026-11-25T10:00:00Z"));
        assert_eq!(parse("since", "2026-11-25T10:00:00.5+01:00", now()).unwrap(), at("2026-11-25T09:00:00.5Z"));
        assert_eq!(parse("since", "1700000000", now()).unwrap(), Utc.timestamp_opt(1_700_000_000, 0).unwrap());
        assert_eq!(parse("since", "1700000000.25", now()).unwrap(), Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap());
        assert_eq!(parse("since", "0", now()).unwrap(), Utc.timestamp_opt(0, 0).unwrap());
        let local_midnight = Local.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(parse("since", "2026-11-24", now()).unwrap(), local_midnight);
        assert_eq!(parse("since", "2026-11-24T00:00:00", now()).unwrap(), local_midnight);
    }

    #[test]
    fn nonsense_is_refused_naming_the_flag() {
        for bad in ["", "yesterday", "10x", "1h-", "2026-13-01", "1.2.3"] {
            let err = parse("since", bad, now()).unwrap_err();
            assert!(err.starts_with("invalid value for \"since\""), "{bad}: {err}");
        }
    }
}
