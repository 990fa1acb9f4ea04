//! Steps for what exists in some environments only (see [`crate::model::presence`]): one file set
//! serves every environment, so such a step stays in the file and checks at run time whether the
//! environment it deploys into has the thing. `_PRESENT` (`_NEXT_PRESENT` for a release's next
//! environment) lists what that environment has; Terraform sets it on each environment's triggers
//! with the other substitutions. A step whose key is not listed prints why and succeeds, so the
//! steps waiting for it go on.

use super::build::Step;
use super::subst::Live;
use crate::model::delivery::{variables as vars, Stage};
use crate::model::{presence, Model};
use std::collections::BTreeSet;

/// Runs the step's command (`$@`) only when `$ONLY` is one of the words of `$PRESENT`.
const GUARD: &str = "case \" $$PRESENT \" in
  *\" $$ONLY \"*) exec \"$$@\" ;;
esac
echo \"$$ONLY does not exist in this environment: skipped\"";

/// The presence key a deploy step acts on, from its id (`upload-<pipeline>`, `run-<pipeline>`,
/// `schedule-<pipeline>`, `sync-dags`, `deploy-service-<key>`, `package-function-<key>`,
/// `stage-function-<key>`, `deploy-function-<key>`).
fn key_of(model: &Model, id: &str) -> Option<String> {
    let pipeline = |p: &str| model.pipeline(p).map(|_| format!("pipeline:{p}"));
    if id == "sync-dags" {
        return Some("dags".to_owned());
    }
    if let Some(k) = id.strip_prefix("deploy-service-") {
        return Some(format!("service:{k}"));
    }
    if let Some(k) = ["package-function-", "stage-function-", "deploy-function-"].iter().find_map(|p| id.strip_prefix(p)) {
        return Some(format!("function:{k}"));
    }
    if let Some(k) = id.strip_prefix("schedule-") {
        return Some(format!("schedule:{k}"));
    }
    id.strip_prefix("upload-").or_else(|| id.strip_prefix("run-")).and_then(pipeline)
}

/// Wraps each step whose key is not in every environment in the guard, reading the presence list
/// of `stage`'s environment.
pub fn guard(model: &Model, steps: Vec<Step>, stage: Stage) -> Vec<Step> {
    let conditional: BTreeSet<String> = presence::conditional(model);
    if conditional.is_empty() {
        return steps;
    }
    steps
        .into_iter()
        .map(|step| match key_of(model, &step.id).filter(|k| conditional.contains(k)) {
            Some(key) => wrap(step, &key, stage),
            None => step,
        })
        .collect()
}

fn wrap(mut step: Step, key: &str, stage: Stage) -> Step {
    let command = step.entrypoint.take().unwrap_or_default();
    let mut args = vec!["-c".to_owned(), GUARD.to_owned(), "only-in".to_owned(), command];
    args.append(&mut step.args);
    step.args = args;
    step.entrypoint = Some("bash".to_owned());
    step.env("PRESENT", stage.var(vars::PRESENT)).env("ONLY", key)
}
