//! Warnings: things that compile but probably don't do what the author meant: a declared
//! pipeline parameter that no step argument, input or condition reads (setting it on a run or a
//! schedule changes nothing), an `orchestration.composer` nothing runs on (no environment is
//! created for it), and a release into the last environment that waits for an approval only the
//! project's owners can give (no `ci.approvers`), and a batch prediction on `<model>@<alias>`
//! when no step sets that alias on a version of the model (it would be skipped on every run).

use crate::diagnostic::{Code, Diagnostic};
use crate::spec::yaml::{pointer_push, Document};
use crate::spec::{Arg, ArgPart, Condition, Operand, Spec, Step};
use std::collections::BTreeSet;

/// Every warning for a valid spec, in source order.
pub fn warnings(spec: &Spec, doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, p) in &spec.pipelines {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let mut arg_params = BTreeSet::new();
        for step in p.steps.values() {
            let cm = step.common();
            used.extend(cm.inputs.values().filter_map(|r| r.strip_prefix("params.")));
            for part in step.args().iter().flat_map(|a| Arg::parse(a).0) {
                if let ArgPart::Param(name) = part {
                    arg_params.insert(name);
                }
            }
            if let Some(Operand::Param(name)) = cm.when.as_deref().and_then(Condition::parse).map(|c| c.value) {
                arg_params.insert(name);
            }
        }
        for name in p.parameters.keys().filter(|n| !used.contains(n.as_str()) && !arg_params.contains(*n)) {
            let pointer = pointer_push(&pointer_push(&pointer_push("/pipelines", key), "parameters"), name);
            let message = format!("parameter `{name}` of pipeline `{key}` is never used");
            let hint = format!("read it with `{{{{params.{name}}}}}` in args, `params.{name}` in inputs or a `when`, or remove it");
            out.push(Diagnostic::new(Code::UnusedParameter, doc.spans.key(&pointer), message).with_hint(hint));
        }
    }
    if spec.orchestration.composer.is_some() && !spec.needs_composer() {
        let message = "no schedule runs on Composer and there is no drift detection: no Composer environment is created";
        let hint = "remove `orchestration.composer`, or schedule a pipeline with `orchestrator: composer`";
        out.push(Diagnostic::new(Code::UnusedResource, doc.spans.key("/orchestration/composer"), message).with_hint(hint));
    }
    if spec.ci.as_ref().is_some_and(|c| c.approve_last && c.approvers.is_empty()) && spec.environments.len() > 1 {
        let last = spec.environments.keys().last().map(String::as_str).unwrap_or_default();
        let message = format!("the release into `{last}` waits for an approval, and no one but the project's owners may give it");
        let hint = "list who may approve in `ci.approvers` (e.g. `group:releases@example.com`), or set `ci.approve_last: false`";
        out.push(Diagnostic::new(Code::NoApprovers, doc.spans.key("/ci/approve_last"), message).with_hint(hint));
    }
    out.extend(unset_aliases(spec, doc));
    out.sort_by_key(|d| d.pos);
    out
}

/// Batch predictions reading `<model>@<alias>` where no upload of the model names the alias in
/// `version_aliases` and no promotion in a pipeline that uploads the model moves it: the lookup
/// finds no version holding it and the prediction is skipped, run after run, without failing.
fn unset_aliases(spec: &Spec, doc: &Document) -> Vec<Diagnostic> {
    let mut set: BTreeSet<(&str, &str)> = BTreeSet::new();
    for p in spec.pipelines.values() {
        let uploads: Vec<&str> = p.steps.values().filter_map(|s| if let Step::ModelUpload(u) = s { Some(u.model.as_str()) } else { None }).collect();
        for s in p.steps.values() {
            match s {
                Step::ModelUpload(u) => set.extend(u.version_aliases.iter().map(|a| (u.model.as_str(), a.as_str()))),
                Step::ModelPromote(m) => set.extend(uploads.iter().map(|model| (*model, m.alias.as_str()))),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (key, p) in &spec.pipelines {
        for (name, s) in &p.steps {
            let Step::BatchPrediction(b) = s else { continue };
            let Some(r) = b.registry() else { continue };
            if set.contains(&(r.model.as_str(), r.alias.as_str())) {
                continue;
            }
            let pointer = pointer_push(&pointer_push(&pointer_push(&pointer_push("/pipelines", key), "steps"), name), "model");
            let message = format!("no step moves alias `{}` onto a version of model `{}`: step `{name}` is skipped until someone sets it", r.alias, r.model);
            let hint = format!("promote a version to `{}` with a `model_promote` step (or `version_aliases` on an upload), or check the alias's spelling", r.alias);
            out.push(Diagnostic::new(Code::UnsetAlias, doc.spans.value(&pointer), message).with_hint(hint));
        }
    }
    out
}
