//! Loading a generated 200-service compose file: in-process (`xcompose_loader::load`), and as a
//! whole command (`xcompose config --format json`) beside Docker Compose v2's `docker-compose config`
//! when `XCOMPOSE_REFERENCE_COMPOSE` names it, so the README can give the ratio.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};

/// A realistic stack: every service has an image, environment, ports, volumes, a healthcheck,
/// labels, networks and a dependency on its predecessor.
fn generated_stack(services: usize) -> String {
    let mut y = String::from("name: bench\nx-common: &common\n  restart: unless-stopped\n  labels: [tier=bench]\nservices:\n");
    for i in 0..services {
        let _ = write!(
            y,
            "  svc{i}:\n    <<: *common\n    image: \"registry.local/app${{TAG:-:1.0}}\"\n    environment:\n      - INDEX={i}\n      - MODE=${{MODE:-dev}}\n    ports:\n      - \"{}:80\"\n      - \"127.0.0.1:{}-{}:90-91/udp\"\n    volumes:\n      - data{}:/data\n      - ./conf/{i}:/etc/app:ro\n    networks: [front, back]\n    healthcheck:\n      test: wget -q -O- http://localhost/health\n      interval: 5s\n      retries: 3\n    deploy:\n      resources:\n        limits: {{cpus: '0.5', memory: 64M}}\n",
            10000 + i,
            20000 + 2 * i,
            20001 + 2 * i,
            i % 10
        );
        if i > 0 {
            let _ = writeln!(y, "    depends_on:\n      svc{}:\n        condition: service_started", i - 1);
        }
    }
    y.push_str("networks:\n  front:\n  back:\n    internal: true\nvolumes:\n");
    for v in 0..10 {
        let _ = writeln!(y, "  data{v}:");
    }
    y
}

fn config_command(program: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(["config", "--format", "json"]).current_dir(dir).stdout(std::process::Stdio::null());
    cmd
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), generated_stack(200)).unwrap();
    let mut opts = xcompose_loader::ProjectOptions::from_process();
    opts.cwd = dir.path().to_path_buf();
    assert_eq!(xcompose_loader::load(&opts).unwrap().services.len(), 200);

    let mut group = c.benchmark_group("load_200_services");
    group.sample_size(20);
    group.bench_function("xcompose_loader::load", |b| b.iter(|| xcompose_loader::load(&opts).unwrap()));
    let xcompose = PathBuf::from(env!("CARGO_BIN_EXE_xcompose"));
    group.bench_function("xcompose config", |b| {
        b.iter(|| assert!(config_command(&xcompose, dir.path()).status().unwrap().success()))
    });
    if let Some(reference) = std::env::var_os("XCOMPOSE_REFERENCE_COMPOSE") {
        let reference = PathBuf::from(reference);
        group.bench_function("docker-compose config", |b| {
            b.iter(|| assert!(config_command(&reference, dir.path()).status().unwrap().success()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
