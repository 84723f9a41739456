//! Kubernetes quantities and seconds from compose's sizes, CPU counts and durations.

use serde_json::Value;

/// Bytes as a quantity: `512Mi`, `1Gi`, else the plain number of bytes.
pub fn bytes(n: i64) -> Value {
    const UNITS: [(i64, &str); 3] = [(1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")];
    for (size, suffix) in UNITS {
        if n != 0 && n % size == 0 {
            return Value::String(format!("{}{suffix}", n / size));
        }
    }
    Value::String(n.to_string())
}

/// CPUs as a quantity in millicores (`0.5` is `500m`, `2` is `2`).
pub fn cpus(cpus: f32) -> Value {
    let milli = (f64::from(cpus) * 1000.0).round() as i64;
    Value::String(if milli % 1000 == 0 { (milli / 1000).to_string() } else { format!("{milli}m") })
}

/// Nanoseconds as whole seconds for a probe or grace period: rounded up, at least `min`.
pub fn seconds(nanos: i64, min: i64) -> i64 {
    let secs = nanos.div_euclid(1_000_000_000) + i64::from(nanos.rem_euclid(1_000_000_000) != 0);
    secs.max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes(512 << 20), "512Mi");
        assert_eq!(bytes(2 << 30), "2Gi");
        assert_eq!(bytes(1000), "1000");
        assert_eq!(cpus(0.5), "500m");
        assert_eq!(cpus(2.0), "2");
        assert_eq!(seconds(1_500_000_000, 1), 2);
        assert_eq!(seconds(0, 1), 1);
        assert_eq!(seconds(30_000_000_000, 0), 30);
    }
}
