//! `logging`: the `json-file`, `local` and `none` drivers with the options Docker gives them.
//! Both keeping drivers write Docker's `json-file` lines (what `logs` reads); `local` differs in
//! its defaults, as Docker's (20 MB files, 5 of them, compressed), not in what the user sees.

use xcompose_loader::model::Logging;
use xcompose_supervisor::log::LogOptions;

/// The options of `logging` for the supervisor; an error naming the driver or option Docker
/// would refuse, or that xcompose does not honour.
pub(crate) fn log_options(logging: Option<&Logging>) -> Result<LogOptions, String> {
    let driver = logging.map(|l| l.driver.as_str()).filter(|d| !d.is_empty()).unwrap_or("json-file");
    let options = logging.map(|l| l.options.clone()).unwrap_or_default();
    let mut out = match driver {
        "json-file" => LogOptions::default(),
        "local" => LogOptions { max_size: Some(20 << 20), max_files: 5, compress: true, discard: false },
        "none" => {
            if let Some(key) = options.keys().next() {
                return Err(format!("logging: unknown log opt '{key}' for none log driver"));
            }
            return Ok(LogOptions { discard: true, ..LogOptions::default() });
        }
        other => return Err(format!("logging: driver {other:?} is not supported: use json-file, local or none")),
    };
    for (key, value) in &options {
        match key.as_str() {
            "max-size" => {
                let size = xcompose_loader::units::Bytes::parse(value).map_err(|e| format!("logging: max-size {value:?}: {e}"))?.0;
                // Docker's -1: no limit.
                out.max_size = (size >= 0).then_some(size as u64).filter(|s| *s > 0);
            }
            "max-file" => {
                let files: u32 = value.parse().map_err(|_| format!("logging: max-file {value:?}: a number is expected"))?;
                if files < 1 {
                    return Err("logging: max-file cannot be less than 1".into());
                }
                out.max_files = files;
            }
            "compress" => out.compress = value.parse().map_err(|_| format!("logging: compress {value:?}: true or false is expected"))?,
            "labels" | "labels-regex" | "env" | "env-regex" | "tag" => {
                return Err(format!("logging: log opt '{key}' is not supported by xcompose (log lines carry no attributes): remove it"));
            }
            _ => return Err(format!("logging: unknown log opt '{key}' for {driver} log driver")),
        }
    }
    // Docker's json-file checks (the local driver always has a size).
    if out.max_size.is_none() && out.max_files > 1 {
        return Err("logging: max-file is only valid with max-size set".into());
    }
    if out.max_size.is_none() && out.compress {
        return Err("logging: compress cannot be true when max-size is not set".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(driver: &str, options: &[(&str, &str)]) -> Logging {
        Logging { driver: driver.into(), options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() }
    }

    #[test]
    fn drivers_and_their_options() {
        assert_eq!(log_options(None).unwrap(), LogOptions::default());
        let json = log_options(Some(&logging("json-file", &[("max-size", "1k"), ("max-file", "3"), ("compress", "true")]))).unwrap();
        assert_eq!(json, LogOptions { max_size: Some(1024), max_files: 3, compress: true, discard: false });
        assert_eq!(log_options(Some(&logging("local", &[]))).unwrap().max_files, 5);
        assert!(log_options(Some(&logging("none", &[]))).unwrap().discard);
    }

    #[test]
    fn what_docker_refuses() {
        let err = |l: Logging| log_options(Some(&l)).unwrap_err();
        assert!(err(logging("json-file", &[("max-file", "3")])).contains("only valid with max-size"));
        assert!(err(logging("json-file", &[("bogus", "1")])).contains("unknown log opt 'bogus' for json-file log driver"));
        assert!(err(logging("json-file", &[("max-file", "0"), ("max-size", "1m")])).contains("cannot be less than 1"));
        assert!(err(logging("syslog", &[])).contains("\"syslog\" is not supported"));
    }
}
