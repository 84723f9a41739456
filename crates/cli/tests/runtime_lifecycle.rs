//! Containers through the runtime, end to end with real supervisor processes, inside a forked
//! sandbox: create, name conflicts, start, logs, image in use, stop, remove with nothing left,
//! and convergence after an interrupted create and after the supervisor is killed with -9.

use std::path::Path;
use std::time::{Duration, Instant};

use xcompose_cgroups::Resources;
use xcompose_container::{ContainerSpec, RootFs};
use xcompose_runtime::{CreateRequest, Runtime, RuntimeError};
use xcompose_supervisor::state::Status;
use xcompose_testkit::in_forked_sandbox;

fn request(name: &str, script: &str) -> CreateRequest {
    let mut process = ContainerSpec::new(RootFs::Directory("/".into()), vec!["/bin/sh".into(), "-c".into(), script.into()]).process;
    process.cwd = "/".into();
    CreateRequest {
        labels: [("com.docker.compose.service".to_string(), name.to_string())].into(),
        resources: Resources { memory_limit: Some(64 << 20), ..Default::default() },
        init: true,
        stop_grace: Duration::from_secs(2),
        ..CreateRequest::new(name, "busybox", process)
    }
}

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what.to_string()) }
}

fn status(rt: &Runtime, name: &str) -> Result<Status, String> {
    let list = rt.list().map_err(|e| e.to_string())?;
    list.iter().find(|c| c.name == name).map(|c| c.state.status).ok_or(format!("{name} not listed"))
}

fn cgroup_exists(id: &str) -> bool {
    let out = std::process::Command::new("find").args(["/sys/fs/cgroup/memory", "-name", id]).output().unwrap();
    !out.stdout.is_empty()
}

#[test]
fn create_start_stop_remove_and_recover() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_path_buf();
    in_forked_sandbox(move || {
        let rt = Runtime::open(&root_path, Path::new(env!("CARGO_BIN_EXE_xcompose"))).map_err(|e| e.to_string())?;
        let tar = xcompose_testkit::busybox_image_tar().map_err(|e| e.to_string())?;
        let image_id = rt.images().import(std::fs::File::open(tar).map_err(|e| e.to_string())?, "busybox").map_err(|e| e.to_string())?;

        // A create interrupted by a crash leaves a hidden staging directory; the next create clears it.
        std::fs::create_dir_all(root_path.join("containers/.creating-deadbeef/upper")).unwrap();
        let id = rt.create(request("web", "echo started; while true; do sleep 1; done")).map_err(|e| e.to_string())?;
        check(!root_path.join("containers/.creating-deadbeef").exists(), "the interrupted create was cleared")?;
        check(matches!(rt.create(request("web", "true")), Err(RuntimeError::NameInUse { .. })), "names are unique")?;
        check(status(&rt, "web")? == Status::Created, "created")?;
        check(rt.container_using(&image_id).map_err(|e| e.to_string())?.as_deref() == Some(id.as_str()), "the image is in use")?;

        rt.start("web").map_err(|e| e.to_string())?;
        check(status(&rt, "web")? == Status::Running, "running")?;
        let log = root_path.join("containers").join(&id).join("container.log");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("started") {
            check(Instant::now() < deadline, "the log line appears")?;
            std::thread::sleep(Duration::from_millis(20));
        }
        check(matches!(rt.remove("web", false), Err(RuntimeError::Running(_))), "a running container is not removed without force")?;

        // kill -9 of the supervisor: listing says exited, and starting again converges (the
        // orphaned container is killed through its cgroup, not run twice).
        let pid: i32 = std::fs::read_to_string(root_path.join("containers").join(&id).join("supervisor.pid")).unwrap().trim().parse().unwrap();
        let old_container = rt.state(&rt.find("web").map_err(|e| e.to_string())?).pid.unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}/status")).exists() && !std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default().contains("State:\tZ") {
            check(Instant::now() < deadline, "the supervisor dies")?;
            std::thread::sleep(Duration::from_millis(10));
        }
        check(status(&rt, "web")? == Status::Exited, "a dead supervisor's container is not listed as running")?;
        rt.start("web").map_err(|e| e.to_string())?;
        check(status(&rt, "web")? == Status::Running, "running again")?;
        std::thread::sleep(Duration::from_millis(100));
        let alive = std::fs::read_to_string(format!("/proc/{old_container}/status")).map(|s| !s.contains("State:\tZ")).unwrap_or(false);
        check(!alive, "the orphaned container of the killed supervisor is gone")?;

        rt.stop("web", None).map_err(|e| e.to_string())?;
        check(status(&rt, "web")? == Status::Exited, "exited after stop")?;
        rt.remove("web", false).map_err(|e| e.to_string())?;
        check(rt.list().map_err(|e| e.to_string())?.is_empty(), "nothing listed after rm")?;
        check(!root_path.join("containers").join(&id).exists(), "the container directory is gone")?;
        check(!cgroup_exists(&id), "the cgroup is gone")?;

        // Force-removing a running container stops it first.
        rt.create(request("job", "while true; do sleep 1; done")).map_err(|e| e.to_string())?;
        rt.start("job").map_err(|e| e.to_string())?;
        rt.remove("job", true).map_err(|e| e.to_string())?;
        check(rt.list().map_err(|e| e.to_string())?.is_empty(), "force rm removes a running container")?;
        Ok(())
    });
}
