//! The stages of a build, each started as soon as the stages it needs are built, so independent
//! stages build at the same time (as BuildKit solves them). The first failure cancels the others
//! ([`Cancel`]) and is the build's error; every stage thread has ended when [`build_stages`]
//! returns. Results do not depend on the order stages finish in: each stage sees only the
//! results of the stages it needs.

use std::collections::BTreeMap;
use std::sync::mpsc;

use crate::exec::build::BuildError;
use crate::exec::stage::{StageBuilder, StageResult};
use crate::plan::PlannedStage;

/// Builds the stages of `builder`'s plan; their results by stage index.
pub(crate) fn build_stages(builder: &StageBuilder<'_>) -> Result<BTreeMap<usize, StageResult>, BuildError> {
    let mut done: BTreeMap<usize, StageResult> = BTreeMap::new();
    let mut waiting: Vec<&PlannedStage> = builder.plan.stages.iter().collect();
    let mut first_error: Option<BuildError> = None;
    std::thread::scope(|scope| {
        let (finished, results) = mpsc::channel();
        let mut running = 0;
        loop {
            if first_error.is_none() {
                let (ready, blocked): (Vec<&PlannedStage>, Vec<&PlannedStage>) = waiting.into_iter().partition(|s| s.depends_on.iter().all(|d| done.contains_key(d)));
                waiting = blocked;
                for stage in ready {
                    let needed: BTreeMap<usize, StageResult> = stage.depends_on.iter().map(|d| (*d, done[d].clone())).collect();
                    let finished = finished.clone();
                    running += 1;
                    scope.spawn(move || {
                        // A panic is reported as the stage's failure (the panic hook has printed
                        // it), so the loop below never waits for a stage that is gone.
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.build_stage(stage, &needed)))
                            .unwrap_or_else(|_| Err(BuildError::Invalid("failed to solve: the builder of a stage panicked (see above)".into())));
                        let _ = finished.send((stage.index, result));
                    });
                }
            }
            if running == 0 {
                break;
            }
            let Ok((index, result)) = results.recv() else { break };
            running -= 1;
            match result {
                Ok(built) => {
                    done.insert(index, built);
                }
                Err(e) => {
                    if first_error.is_none() {
                        builder.cancel.cancel();
                        first_error = Some(e);
                    }
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}
