//! What an image's config adds to a container's settings, merged as the Docker Engine does
//! (moby's `daemon/commit.go` `merge`): the service's STOPSIGNAL, HEALTHCHECK fields and labels
//! win, the image fills in what the service leaves out; exposed ports are united. The process (ENTRYPOINT, CMD, ENV,
//! USER, WORKDIR) is merged by `xcompose_orchestrator::process`. ONBUILD only matters to
//! builds: it is never read at run time.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use xcompose_images::ImageHealthcheck;
use xcompose_loader::model::Healthcheck;
use xcompose_supervisor::health::HealthConfig;

/// The parts of an image's config a container falls back to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageDefaults {
    /// STOPSIGNAL.
    pub stop_signal: Option<String>,
    /// HEALTHCHECK.
    pub healthcheck: Option<ImageHealthcheck>,
    /// LABEL.
    pub labels: BTreeMap<String, String>,
    /// EXPOSE, `PORT[/PROTOCOL]`.
    pub exposed_ports: Vec<String>,
}

impl ImageDefaults {
    /// The defaults of `image` (its HEALTHCHECK read from `store`).
    pub(crate) fn of(store: &xcompose_images::ImageStore, image: &xcompose_images::Image) -> Result<Self, xcompose_images::StoreError> {
        let config = image.config.config().as_ref();
        Ok(Self {
            stop_signal: config.and_then(|c| c.stop_signal().clone()).filter(|s| !s.is_empty()),
            healthcheck: store.healthcheck(&image.id)?,
            labels: config.and_then(|c| c.labels().clone()).unwrap_or_default().into_iter().collect(),
            exposed_ports: config.and_then(|c| c.exposed_ports().clone()).unwrap_or_default(),
        })
    }
}

/// The signal that stops the container: the service's `stop_signal`, else the image's
/// STOPSIGNAL, else SIGTERM. Names (`SIGINT`, `INT`) or numbers, as Docker reads them.
pub(crate) fn stop_signal(service: &str, image: &ImageDefaults) -> Result<i32, String> {
    if !service.is_empty() {
        return parse_signal(service).map_err(|e| format!("invalid stop_signal: {e}"));
    }
    match &image.stop_signal {
        Some(text) => parse_signal(text).map_err(|e| format!("the image's STOPSIGNAL: {e}")),
        None => Ok(Signal::SIGTERM as i32),
    }
}

fn parse_signal(text: &str) -> Result<i32, String> {
    if let Ok(n) = text.parse::<i32>() {
        return Ok(n);
    }
    let name = text.to_ascii_uppercase();
    let name = if name.starts_with("SIG") { name } else { format!("SIG{name}") };
    Signal::from_str(&name).map(|s| s as i32).ok().or_else(|| realtime_signal(&name)).ok_or_else(|| format!("unknown signal {text:?}"))
}

/// `SIGRTMIN`, `SIGRTMIN+N`, `SIGRTMAX`, `SIGRTMAX-N`, as Docker reads them, within the range.
fn realtime_signal(name: &str) -> Option<i32> {
    let (base, offset) = match (name.strip_prefix("SIGRTMIN"), name.strip_prefix("SIGRTMAX")) {
        (Some(offset), _) => (nix::libc::SIGRTMIN(), offset),
        (_, Some(offset)) => (nix::libc::SIGRTMAX(), offset),
        _ => return None,
    };
    let offset = if offset.is_empty() { 0 } else { offset.parse::<i32>().ok()? };
    let signal = base + offset;
    (nix::libc::SIGRTMIN()..=nix::libc::SIGRTMAX()).contains(&signal).then_some(signal)
}

/// The probe in exec form and its timing: the service's healthcheck over the image's, field by
/// field (a service that only sets `interval` keeps the image's test); `None` when neither has
/// one, when the service says `disable: true`, or when the test is `NONE`.
pub(crate) fn healthcheck(service: Option<&Healthcheck>, image: &ImageDefaults) -> Option<(Vec<String>, HealthConfig)> {
    if service.is_some_and(|h| h.disable) {
        return None;
    }
    let image = image.healthcheck.as_ref();
    let test = service.map(|h| h.test.clone()).filter(|t| !t.is_empty()).or_else(|| image.and_then(|i| i.test.clone()))?;
    let probe = match test.split_first() {
        Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), rest.join(" ")],
        _ => return None,
    };
    if probe.is_empty() {
        return None;
    }
    let nanos = |own: Option<xcompose_loader::units::Duration>, theirs: Option<i64>, default: Duration| {
        own.map(|d| d.0)
            .filter(|n| *n > 0)
            .or(theirs.filter(|n| *n > 0))
            .map(|n| Duration::from_nanos(n as u64))
            .unwrap_or(default)
    };
    let defaults = HealthConfig::default();
    let config = HealthConfig {
        interval: nanos(service.and_then(|h| h.interval), image.and_then(|i| i.interval), defaults.interval),
        timeout: nanos(service.and_then(|h| h.timeout), image.and_then(|i| i.timeout), defaults.timeout),
        retries: service
            .and_then(|h| h.retries)
            .filter(|r| *r > 0)
            .or(image.and_then(|i| i.retries).filter(|r| *r > 0).map(|r| r as u64))
            .map(|r| r as u32)
            .unwrap_or(defaults.retries),
        start_period: nanos(service.and_then(|h| h.start_period), image.and_then(|i| i.start_period), defaults.start_period),
        start_interval: nanos(service.and_then(|h| h.start_interval), image.and_then(|i| i.start_interval), defaults.start_interval),
    };
    Some((probe, config))
}

/// The container's labels with the image's added under them: a label the service (or compose)
/// sets wins.
pub(crate) fn merge_labels(labels: &mut BTreeMap<String, String>, image: &ImageDefaults) {
    for (key, value) in &image.labels {
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
}

/// The ports the container exposes, as Docker's `PORT/PROTOCOL`: the image's EXPOSE and the
/// service's `expose:` (`3000`, `8000-8002`, `53/udp`), united as Docker merges them.
pub(crate) fn exposed_ports(service: &[String], image: &ImageDefaults) -> Result<BTreeSet<String>, String> {
    let mut ports = BTreeSet::new();
    for entry in image.exposed_ports.iter().chain(service) {
        let (range, protocol) = entry.split_once('/').unwrap_or((entry.as_str(), "tcp"));
        let invalid = || format!("invalid exposed port {entry:?}: PORT, PORT-PORT, optionally /tcp, /udp or /sctp");
        if !matches!(protocol, "tcp" | "udp" | "sctp") {
            return Err(invalid());
        }
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let (first, last): (u16, u16) = (first.parse().map_err(|_| invalid())?, last.parse().map_err(|_| invalid())?);
        if first == 0 || last < first {
            return Err(invalid());
        }
        ports.extend((first..=last).map(|port| format!("{port}/{protocol}")));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xcompose_loader::units::Duration as Nanos;

    fn image_healthcheck() -> ImageDefaults {
        ImageDefaults {
            healthcheck: Some(ImageHealthcheck {
                test: Some(vec!["CMD-SHELL".into(), "redis-cli ping".into()]),
                interval: Some(2_000_000_000),
                timeout: Some(0),
                start_period: Some(7_000_000_000),
                start_interval: Some(500_000_000),
                retries: Some(5),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_images_healthcheck_when_the_service_has_none() {
        let (probe, config) = healthcheck(None, &image_healthcheck()).unwrap();
        assert_eq!(probe, vec!["/bin/sh", "-c", "redis-cli ping"]);
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.timeout, HealthConfig::default().timeout, "0 is Docker's default");
        assert_eq!((config.start_period, config.start_interval, config.retries), (Duration::from_secs(7), Duration::from_millis(500), 5));
        assert!(healthcheck(None, &ImageDefaults::default()).is_none());
    }

    #[test]
    fn the_service_overrides_field_by_field_or_disables() {
        let only_interval = Healthcheck { interval: Some(Nanos(100_000_000)), retries: Some(1), ..Default::default() };
        let (probe, config) = healthcheck(Some(&only_interval), &image_healthcheck()).unwrap();
        assert_eq!(probe, vec!["/bin/sh", "-c", "redis-cli ping"], "the image's test is kept");
        assert_eq!((config.interval, config.retries, config.start_period), (Duration::from_millis(100), 1, Duration::from_secs(7)));
        let own = Healthcheck { test: vec!["CMD".into(), "true".into()], ..Default::default() };
        assert_eq!(healthcheck(Some(&own), &image_healthcheck()).unwrap().0, vec!["true"]);
        assert!(healthcheck(Some(&Healthcheck { disable: true, ..Default::default() }), &image_healthcheck()).is_none());
        let none = Healthcheck { test: vec!["NONE".into()], ..Default::default() };
        assert!(healthcheck(Some(&none), &image_healthcheck()).is_none());
        let mut image_none = image_healthcheck();
        image_none.healthcheck.as_mut().unwrap().test = Some(vec!["NONE".into()]);
        assert!(healthcheck(None, &image_none).is_none());
    }

    #[test]
    fn stop_signal_from_the_service_then_the_image() {
        let image = ImageDefaults { stop_signal: Some("SIGINT".into()), ..Default::default() };
        assert_eq!(stop_signal("", &image).unwrap(), Signal::SIGINT as i32);
        assert_eq!(stop_signal("SIGQUIT", &image).unwrap(), Signal::SIGQUIT as i32);
        assert_eq!(stop_signal("", &ImageDefaults::default()).unwrap(), Signal::SIGTERM as i32);
        assert_eq!(stop_signal("kill", &ImageDefaults::default()).unwrap(), Signal::SIGKILL as i32);
        assert_eq!(stop_signal("9", &ImageDefaults::default()).unwrap(), 9);
        assert_eq!(stop_signal("SIGNOPE", &image).unwrap_err(), "invalid stop_signal: unknown signal \"SIGNOPE\"");
        let systemd = ImageDefaults { stop_signal: Some("SIGRTMIN+3".into()), ..Default::default() };
        assert_eq!(stop_signal("", &systemd).unwrap(), nix::libc::SIGRTMIN() + 3);
        assert_eq!(stop_signal("RTMAX-1", &image).unwrap(), nix::libc::SIGRTMAX() - 1);
        let bad = ImageDefaults { stop_signal: Some("RTMAX+9".into()), ..Default::default() };
        assert_eq!(stop_signal("", &bad).unwrap_err(), "the image's STOPSIGNAL: unknown signal \"RTMAX+9\"");
    }

    #[test]
    fn exposed_ports_of_the_image_and_the_service() {
        let image = ImageDefaults { exposed_ports: vec!["6379/tcp".into(), "53/udp".into()], ..Default::default() };
        let ports = exposed_ports(&["8000-8002".into(), "6379".into()], &image).unwrap();
        assert_eq!(ports.into_iter().collect::<Vec<_>>(), ["53/udp", "6379/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]);
        for bad in ["http", "80/icmp", "0", "9-3", "70000"] {
            assert!(exposed_ports(&[bad.to_string()], &ImageDefaults::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_labels_go_under_the_containers() {
        let image = ImageDefaults { labels: [("maintainer".into(), "x".into()), ("tier".into(), "image".into())].into(), ..Default::default() };
        let mut labels: BTreeMap<String, String> = [("tier".to_string(), "web".to_string())].into();
        merge_labels(&mut labels, &image);
        assert_eq!(labels, [("maintainer".to_string(), "x".to_string()), ("tier".to_string(), "web".to_string())].into());
    }
}
