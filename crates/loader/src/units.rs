//! Value types with units: durations (`1m30s`), byte sizes (`50M`), CPU counts, file modes.
//! Each reads what compose accepts and prints what compose prints.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A duration in nanoseconds, printed like Go's `time.Duration` (`1m30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub i64);

impl Duration {
    /// Parses Go duration syntax (`1h2m3.5s`, `300ms`, `10us`, and compose-go's `d`); a bare
    /// integer is nanoseconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.parse::<i64>() {
            Ok(n) => Ok(Self(n)),
            Err(_) => parse_go_duration(text, true).map(Self),
        }
    }
}

/// Go's `time.ParseDuration` (`1m30s`, `1.5s`, `300ms`, `2h`; `0` alone needs no unit) to
/// nanoseconds, with Go's error words (`time: invalid duration "x"`); `with_days` also takes
/// compose-go's `d` unit. Docker's builder reads HEALTHCHECK's options with it (no days).
pub fn parse_go_duration(text: &str, with_days: bool) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" if with_days => 86400e9,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let nanos = total.round() as i64;
    Ok(if negative { -nanos } else { nanos })
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            let (unit, div) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            return write!(f, "{sign}{}{unit}", frac(u, div));
        }
        let hours = u / 3_600_000_000_000;
        let minutes = (u / 60_000_000_000) % 60;
        let secs = u % 60_000_000_000;
        let s = format!("{}s", frac(secs, 1_000_000_000));
        if hours > 0 {
            write!(f, "{sign}{hours}h{minutes}m{s}")
        } else if minutes > 0 {
            write!(f, "{sign}{minutes}m{s}")
        } else {
            write!(f, "{sign}{s}")
        }
    }
}

/// `value / div` with the fraction printed without trailing zeros.
fn frac(value: u64, div: u64) -> String {
    let whole = value / div;
    let rem = value % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = (div as f64).log10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Duration::parse(&s).map_err(de::Error::custom),
            Value::Number(n) => n.as_i64().map(Duration).ok_or_else(|| de::Error::custom("invalid duration")),
            other => Err(de::Error::custom(format!("invalid duration {other}"))),
        }
    }
}

/// A size in bytes; reads `50M`, `1g`, `1024`, prints the byte count as a string like compose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bytes(pub i64);

impl Bytes {
    /// Parses a size with an optional binary unit (b, k, m, g, t, p; `kb`/`kib` too), case-insensitive.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let number: f64 = num.parse().map_err(|_| format!("invalid size: '{text}'"))?;
        let unit = unit.trim().to_ascii_lowercase();
        let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
        let scale: f64 = match unit {
            "" => 1.0,
            "k" => 1024.0,
            "m" => 1024.0 * 1024.0,
            "g" => 1024.0 * 1024.0 * 1024.0,
            "t" => 1024f64.powi(4),
            "p" => 1024f64.powi(5),
            _ => return Err(format!("invalid suffix: '{unit}'")),
        };
        Ok(Self((number * scale) as i64))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Bytes::parse(&s).map_err(de::Error::custom),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Bytes)
                .ok_or_else(|| de::Error::custom("invalid size")),
            other => Err(de::Error::custom(format!("invalid size {other}"))),
        }
    }
}

/// A float read from a number or a numeric string, printed the way Go prints a float32
/// (`2`, `0.5`), so the JSON and the config hash match compose's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Float32(pub f32);

impl Serialize for Float32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f32(v)
        }
    }
}

impl<'de> Deserialize<'de> for Float32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(Self(n.as_f64().unwrap_or_default() as f32)),
            Value::String(s) => s.trim().parse::<f32>().map(Self).map_err(|_| de::Error::custom(format!("invalid number {s:?}"))),
            other => Err(de::Error::custom(format!("invalid number {other}"))),
        }
    }
}

/// An integer read from a number or a numeric string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64().map(Self).ok_or_else(|| de::Error::custom(format!("invalid integer {n}"))),
            Value::String(s) => s.trim().parse().map(Self).map_err(|_| de::Error::custom(format!("invalid integer {s:?}"))),
            other => Err(de::Error::custom(format!("invalid integer {other}"))),
        }
    }
}

/// A Unix file mode, read as a number (already octal-decoded by YAML) or an octal string,
/// printed as compose prints it: `"0440"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(|m| Self(m as u32)).ok_or_else(|| de::Error::custom("invalid mode")),
            Value::String(s) => u32::from_str_radix(&s, 8).map(Self).map_err(|_| de::Error::custom(format!("invalid mode {s:?}"))),
            other => Err(de::Error::custom(format!("invalid mode {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_go_reads_them() {
        let parse = |text| parse_go_duration(text, false);
        assert_eq!(parse("30s"), Ok(30_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("300ms"), Ok(300_000_000));
        assert_eq!(parse("2h45m"), Ok(9_900_000_000_000));
        assert_eq!(parse("10us"), Ok(10_000));
        assert_eq!(parse("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("10").unwrap_err(), "time: missing unit in duration \"10\"");
        assert_eq!(parse("5x").unwrap_err(), "time: unknown unit \"x\" in duration \"5x\"");
        assert_eq!(parse("abc").unwrap_err(), "time: invalid duration \"abc\"");
        assert_eq!(parse("").unwrap_err(), "time: invalid duration \"\"");
        assert_eq!(parse("1d").unwrap_err(), "time: unknown unit \"d\" in duration \"1d\"", "days are compose-go's, not Go's");
        assert_eq!(parse_go_duration("1d", true), Ok(86_400_000_000_000));
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [("90s", "1m30s"), ("1m", "1m0s"), ("2h", "2h0m0s"), ("500ms", "500ms"), ("1.5s", "1.5s"), ("10us", "10µs"), ("0s", "0s"), ("1h30m", "1h30m0s")];
        for (input, expected) in cases {
            assert_eq!(Duration::parse(input).unwrap().to_string(), expected, "{input}");
        }
        assert!(Duration::parse("10").is_ok());
        assert!(Duration::parse("abc").is_err());
        assert!(Duration::parse("5x").is_err());
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(Bytes::parse("50M").unwrap().0, 52_428_800);
        assert_eq!(Bytes::parse("1g").unwrap().0, 1 << 30);
        assert_eq!(Bytes::parse("64mb").unwrap().0, 64 << 20);
        assert_eq!(Bytes::parse("1.5k").unwrap().0, 1536);
        assert_eq!(Bytes::parse("100").unwrap().0, 100);
        assert!(Bytes::parse("10x").is_err());
    }

    #[test]
    fn floats_print_like_go_float32() {
        assert_eq!(serde_json::to_string(&Float32(2.0)).unwrap(), "2");
        assert_eq!(serde_json::to_string(&Float32(0.5)).unwrap(), "0.5");
        assert_eq!(serde_json::to_string(&Float32(0.1)).unwrap(), "0.1");
    }

    #[test]
    fn file_modes_print_octal() {
        assert_eq!(serde_json::to_string(&FileMode(0o440)).unwrap(), "\"0440\"");
        let m: FileMode = serde_json::from_str("\"0755\"").unwrap();
        assert_eq!(m.0, 0o755);
    }
}
