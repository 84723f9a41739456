//! `post_start` and `pre_stop`: commands run in a service's container right after it starts and
//! right before it is stopped, as compose runs them (an exec each, in order; one that fails fails
//! the start or the stop, in compose's words). Their output goes nowhere, as with `up -d`.

use serde_json::Value;
use xcompose_loader::model::Hook;
use xcompose_runtime::ExecRequest;
use xcompose_supervisor::state::Status;

use crate::{Stack, StackError};

/// The hooks of one list (`post_start` or `pre_stop`) as compose reads them.
fn hooks(service_name: &str, key: &str, list: &[Value]) -> Result<Vec<Hook>, StackError> {
    list.iter()
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| StackError::Service { service: service_name.into(), message: format!("{key}: {e}") }))
        .collect()
}

impl Stack {
    /// Runs `service`'s `post_start` hooks in its container `id`, which has just started.
    pub(crate) fn post_start(&self, service_name: &str, id: &str) -> Result<(), StackError> {
        let Some(service) = self.project.services.get(service_name) else { return Ok(()) };
        self.run_hooks(service_name, id, &hooks(service_name, "post_start", &service.post_start)?)
    }

    /// Stops container `id` of `service_name` within `timeout`, running its `pre_stop` hooks
    /// first if it runs.
    pub(crate) fn stop_container(&self, service_name: &str, id: &str, timeout: Option<std::time::Duration>) -> Result<(), StackError> {
        if let Some(service) = self.project.services.get(service_name).filter(|s| !s.pre_stop.is_empty()) {
            let record = self.runtime.find(id)?;
            if self.runtime.state(&record).status == Status::Running {
                self.run_hooks(service_name, id, &hooks(service_name, "pre_stop", &service.pre_stop)?)?;
            }
        }
        Ok(self.runtime.stop(id, timeout)?)
    }

    fn run_hooks(&self, service_name: &str, id: &str, hooks: &[Hook]) -> Result<(), StackError> {
        for hook in hooks {
            let request = ExecRequest {
                args: hook.command.clone().unwrap_or_default(),
                user: (!hook.user.is_empty()).then(|| hook.user.clone()),
                env: hook.environment.iter().filter_map(|(k, v)| Some(format!("{k}={}", v.as_ref()?))).collect(),
                workdir: (!hook.working_dir.is_empty()).then(|| hook.working_dir.clone().into()),
                tty: false,
                privileged: hook.privileged,
            };
            let devnull = || std::fs::File::options().write(true).open("/dev/null").map(std::os::fd::OwnedFd::from).map_err(StackError::io(std::path::Path::new("/dev/null")));
            let stdio = xcompose_container::Stdio { stdin: None, stdout: Some(devnull()?), stderr: Some(devnull()?) };
            let code = self.runtime.exec(id, &request, stdio)?.wait().map_err(xcompose_runtime::RuntimeError::from)?;
            if code != 0 {
                // compose's words (pkg/compose/hook.go).
                return Err(StackError::Hook(format!("{service_name} hook exited with status {code}")));
            }
        }
        Ok(())
    }
}
