//! Sizes as Docker prints them (its go-units package): significant digits as Go's `%.*g`, so
//! trailing zeros are dropped.

/// `units.HumanSizeWithPrecision`: 1000-based units (`B`, `kB`, `MB`, ...) with `precision`
/// significant digits: `4.26MB` in `image ls` (3), `4.262MB` after a prune (4).
pub fn decimal(bytes: u64, precision: usize) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"], precision)
}

/// `units.BytesSize`: 1024-based units (`B`, `KiB`, `MiB`, ...), four significant digits.
pub fn binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"], 4)
}

fn scaled(bytes: u64, base: f64, units: &[&str], precision: usize) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit < units.len() - 1 {
        value /= base;
        unit += 1;
    }
    let integer_digits = if value < 1.0 { 1 } else { value.log10().floor() as usize + 1 };
    let mut text = format!("{value:.*}", precision.saturating_sub(integer_digits));
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text}{}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_sizes_read_as_docker_prints_them() {
        for (bytes, precision, shown) in [
            (0, 4, "0B"),
            (512, 4, "512B"),
            (999, 4, "999B"),
            (1000, 4, "1kB"),
            (1234, 4, "1.234kB"),
            (123_456, 4, "123.5kB"),
            (999_960, 4, "1000kB"),
            (4_261_888, 4, "4.262MB"),
            (12_345_678, 4, "12.35MB"),
            (4_261_888, 3, "4.26MB"),
            (2_140_160, 3, "2.14MB"),
            (7_000_000_000, 3, "7GB"),
        ] {
            assert_eq!(decimal(bytes, precision), shown, "{bytes} to {precision} digits");
        }
    }

    #[test]
    fn binary_sizes_read_as_docker_prints_them() {
        for (bytes, shown) in [(0, "0B"), (1023, "1023B"), (1024, "1KiB"), (1_585_152, "1.512MiB"), (64 << 20, "64MiB"), (8_154_079_232, "7.594GiB")] {
            assert_eq!(binary(bytes), shown, "{bytes}");
        }
    }
}
