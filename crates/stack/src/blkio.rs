//! `blkio_config`: the block I/O weight and per-device throttles, devices named by their host
//! path and given to the cgroup as `MAJOR:MINOR`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde_json::Value;
use xcompose_cgroups::Blkio;

/// The `MAJOR:MINOR` of block device `path`.
fn device_numbers(path: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("blkio_config: device {path:?}: {e}"))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("blkio_config: {path:?} is not a block device"));
    }
    Ok(format!("{}:{}", nix::sys::stat::major(meta.rdev()), nix::sys::stat::minor(meta.rdev())))
}

/// A number, or a string of one with a unit (`rate: 1mb`, as compose reads rates).
fn amount(value: Option<&Value>, what: &str) -> Result<u64, String> {
    match value {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("blkio_config: invalid {what} {n}")),
        Some(Value::String(s)) => xcompose_loader::units::Bytes::parse(s).map(|b| b.0.max(0) as u64).map_err(|e| format!("blkio_config: invalid {what} {s:?}: {e}")),
        _ => Err(format!("blkio_config: {what} missing")),
    }
}

/// A weight, 10 to 1000 as Docker allows.
fn weight(value: Option<&Value>) -> Result<u16, String> {
    let n = amount(value, "weight")?;
    u16::try_from(n).ok().filter(|w| (10..=1000).contains(w)).ok_or_else(|| format!("blkio_config: weight {n} out of range: use 10 to 1000"))
}

/// Reads `blkio_config`.
pub(crate) fn blkio(config: Option<&Value>) -> Result<Blkio, String> {
    let mut out = Blkio::default();
    let Some(config) = config else { return Ok(out) };
    if config.get("weight").is_some() {
        out.weight = Some(weight(config.get("weight"))?);
    }
    let list = |key: &str| config.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    for item in list("weight_device") {
        out.weight_device.push((device_numbers(item.get("path").and_then(Value::as_str).unwrap_or_default())?, weight(item.get("weight"))?));
    }
    for (key, target) in [
        ("device_read_bps", &mut out.read_bps),
        ("device_write_bps", &mut out.write_bps),
        ("device_read_iops", &mut out.read_iops),
        ("device_write_iops", &mut out.write_iops),
    ] {
        for item in list(key) {
            target.push((device_numbers(item.get("path").and_then(Value::as_str).unwrap_or_default())?, amount(item.get("rate"), "rate")?));
        }
    }
    Ok(out)
}
