//! Pipeline checks: step references, data edges, placeholders, conditions, cycles, parameter
//! types and schedules.

use super::facts;
use super::names;
use super::semantic::Checker;
use super::suggest;
use crate::diagnostic::Code;
use crate::model::naming;
use crate::spec::yaml::pointer_push;
use crate::spec::*;
use std::collections::{BTreeMap, BTreeSet};

/// Checks every pipeline.
pub fn pipelines(c: &mut Checker<'_>) {
    let project = c.spec.project.name.clone();
    let mut kfp_names: BTreeMap<String, String> = BTreeMap::new();
    for (key, p) in &c.spec.pipelines {
        let pp = pointer_push("/pipelines", key);
        c.name(names::STEP, "pipeline name", key, &pp);
        let kfp = naming::pipeline_name(&project, key);
        if let Some(other) = kfp_names.insert(kfp.clone(), key.clone()) {
            let pos = c.key_at(&pp);
            c.report(Code::DuplicateName, pos, format!("pipelines `{other}` and `{key}` would both be named `{kfp}`"), Some("rename one of them".into()));
        }
        if names::KFP_PIPELINE.check(&kfp).is_err() || names::DAG_ID.check(&naming::dag_id(&project, key)).is_err() {
            let pos = c.key_at(&pp);
            c.report(Code::InvalidName, pos, format!("pipeline `{key}` gives the invalid KFP name `{kfp}`"), Some(format!("use {}", names::KFP_PIPELINE.describe)));
        }
        parameters(c, p, &pp);
        for (name, step) in &p.steps {
            step_checks(c, p, name, step, &pointer_push(&format!("{pp}/steps"), name));
        }
        cycles(c, p, &pp);
        super::kfp::pipeline(c, p, &pp);
        if let Some(s) = &p.schedule {
            schedule(c, p, s, &format!("{pp}/schedule"));
        }
    }
}

fn type_matches(ty: ParamType, v: &serde_json::Value) -> bool {
    match ty {
        ParamType::String => v.is_string(),
        ParamType::Int => v.is_i64() || v.is_u64(),
        ParamType::Float => v.is_number(),
        ParamType::Bool => v.is_boolean(),
        ParamType::List => v.is_array(),
        ParamType::Struct => v.is_object(),
    }
}

fn type_name(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "string",
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::Bool => "bool",
        ParamType::List => "list",
        ParamType::Struct => "struct",
    }
}

/// "a string", "a number" … for a YAML value, in the user's terms.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "empty",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "an int",
        serde_json::Value::Number(_) => "a float",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

fn parameters(c: &mut Checker<'_>, p: &Pipeline, pp: &str) {
    for (name, prm) in &p.parameters {
        let ptr = pointer_push(&format!("{pp}/parameters"), name);
        c.name(names::IDENT, "parameter name", name, &ptr);
        if let Some(d) = &prm.default {
            if !type_matches(prm.ty, d) {
                let pos = c.at(&format!("{ptr}/default"));
                let (ty, found) = (type_name(prm.ty), json_kind(d));
                let msg = format!("the default of `{name}` is {found}, but the parameter's type is `{ty}`");
                c.report(Code::InvalidValue, pos, msg, Some(format!("write a {ty} value, or change `type` to match the default")));
            }
        }
    }
}

fn step_checks(c: &mut Checker<'_>, p: &Pipeline, name: &str, step: &Step, sp: &str) {
    c.name(names::STEP, "step name", name, sp);
    let cm = step.common();
    if let Some(image) = step.image() {
        c.reference("image", image, &c.spec.images, &format!("{sp}/image"));
    }
    for out in step.declared_outputs().keys() {
        c.name(names::IDENT, "output name", out, &pointer_push(&format!("{sp}/outputs"), out));
    }
    match step {
        Step::Container(s) => {
            c.env_vars(&s.env, &format!("{sp}/env"));
            if let Some(acc) = s.resources.as_ref().and_then(|r| r.accelerator.as_ref()) {
                if let Err(e) = super::facts::accelerator_machines(&acc.ty) {
                    let pos = c.at(&format!("{sp}/resources/accelerator/type"));
                    c.report(Code::InvalidMachine, pos, e.0, e.1);
                }
            }
        }
        Step::CustomTraining(s) => {
            c.env_vars(&s.env, &format!("{sp}/env"));
            c.machine(&s.machine.ty, s.machine.accelerator.as_ref(), &format!("{sp}/machine/type"));
        }
        Step::HyperparameterTuning(t) => {
            c.machine(&t.machine.ty, t.machine.accelerator.as_ref(), &format!("{sp}/machine/type"));
            if t.parallel_trials == 0 || t.parallel_trials > t.max_trials || t.max_trials == 0 {
                let pos = c.at(&format!("{sp}/parallel_trials"));
                c.report(Code::InvalidValue, pos, format!("parallel_trials ({}) must be between 1 and max_trials ({})", t.parallel_trials, t.max_trials), None);
            }
            for (hp, range) in &t.search_space {
                let hpp = pointer_push(&format!("{sp}/search_space"), hp);
                c.name(names::IDENT, "hyperparameter name", hp, &hpp);
                let bad = match range {
                    SearchParam::Double { min, max, scale } => min >= max || (*scale == Scale::Log && *min <= 0.0),
                    SearchParam::Integer { min, max, scale } => min >= max || (*scale == Scale::Log && *min <= 0),
                    SearchParam::Categorical { values } => values.is_empty(),
                    SearchParam::Discrete { values } => values.is_empty(),
                };
                if bad {
                    let pos = c.key_at(&hpp);
                    c.report(Code::InvalidValue, pos, format!("search range of `{hp}` is empty or invalid"), Some("min must be below max (and above 0 on a log scale); lists need values".into()));
                }
            }
        }
        Step::ModelUpload(m) => {
            c.reference("model", &m.model, &c.spec.models, &format!("{sp}/model"));
            for (i, alias) in m.version_aliases.iter().enumerate() {
                c.name(names::MODEL_ALIAS, "version alias", alias, &format!("{sp}/version_aliases/{i}"));
            }
            required_input(c, p, name, step, sp, &[IoType::Artifact(ArtifactType::Model)], "a `Model` output of a training step");
        }
        Step::ModelPromote(m) => {
            c.name(names::MODEL_ALIAS, "version alias", &m.alias, &format!("{sp}/alias"));
            required_input(c, p, name, step, sp, &[IoType::Artifact(ArtifactType::VertexModel)], "the `model` output of a `model_upload` step");
            promote_metric(c, p, name, m, sp);
            if !(10..=1440).contains(&m.lease_minutes) {
                let pos = c.at(&format!("{sp}/lease_minutes"));
                let hint = "it is how long a run that decided to promote may hold the model's promotion lock (its deploy included) before the next run takes it over";
                c.report(Code::InvalidValue, pos, "lease_minutes must be between 10 and 1440 (a day)", Some(hint.into()));
            }
        }
        Step::EndpointDeploy(d) => {
            c.reference("endpoint", &d.endpoint, &c.spec.endpoints, &format!("{sp}/endpoint"));
            if !(1..=100).contains(&d.traffic_percent) {
                let pos = c.at(&format!("{sp}/traffic_percent"));
                c.report(Code::InvalidValue, pos, "traffic_percent must be between 1 and 100", None);
            }
            required_input(c, p, name, step, sp, &[IoType::Artifact(ArtifactType::VertexModel)], "the `model` output of a `model_upload` step");
        }
        Step::BatchPrediction(b) => {
            c.reference("dataset", &b.dataset, &c.spec.datasets, &format!("{sp}/dataset"));
            c.machine(&b.machine_type, None, &format!("{sp}/machine_type"));
            batch_prediction(c, p, name, step, b, sp);
        }
        Step::DataValidation(v) => {
            c.reference("dataset", &v.dataset, &c.spec.datasets, &format!("{sp}/dataset"));
        }
        Step::Component(s) => {
            if let Some(image) = &s.image {
                c.reference("image", image, &c.spec.images, &format!("{sp}/image"));
            }
            super::components::step_inputs(c, p, name, s, sp);
        }
    }
    inputs(c, p, name, step, sp);
    for (i, after) in cm.after.iter().enumerate() {
        let ptr = format!("{sp}/after/{i}");
        if after == name {
            let pos = c.at(&ptr);
            c.report(Code::Cycle, pos, format!("step `{name}` can't run after itself"), None);
        } else {
            c.reference("step", after, &p.steps, &ptr);
        }
    }
    args(c, p, step, sp);
    if let Some(w) = &cm.when {
        condition(c, p, name, w, &format!("{sp}/when"));
    }
}

/// Resolves an input reference to its type, reporting unknown steps, outputs and parameters.
pub(super) fn resolve(c: &mut Checker<'_>, p: &Pipeline, step: &str, reference: &str, ptr: &str) -> Option<IoType> {
    let Some((ns, rest)) = reference.split_once('.') else {
        let pos = c.at(ptr);
        c.report(Code::InvalidValue, pos, format!("input `{reference}` must be `<step>.<output>` or `params.<name>`"), None);
        return None;
    };
    if ns == "params" {
        return c.reference("parameter", rest, &p.parameters, ptr).then(|| p.parameters.get(rest).map(|x| IoType::Parameter(x.ty))).flatten();
    }
    if ns == step {
        let pos = c.at(ptr);
        c.report(Code::Cycle, pos, format!("step `{step}` can't take its own output `{reference}`"), None);
        return None;
    }
    if !c.reference("step", ns, &p.steps, ptr) {
        return None;
    }
    if matches!(p.steps.get(ns), Some(Step::Component(c)) if c.loaded.is_none()) {
        return None; // its component file couldn't be read: reported there, once
    }
    let outs = p.steps.get(ns).map(Step::outputs).unwrap_or_default();
    match outs.iter().find(|o| o.name == rest) {
        Some(o) => Some(o.ty),
        None => {
            let pos = c.at(ptr);
            let hint = suggest::hint(rest, outs.iter().map(|o| o.name.as_str()));
            c.report(Code::UnknownReference, pos, format!("step `{ns}` has no output `{rest}`"), Some(hint));
            None
        }
    }
}

fn inputs(c: &mut Checker<'_>, p: &Pipeline, name: &str, step: &Step, sp: &str) {
    for (input, reference) in &step.common().inputs {
        let ptr = pointer_push(&format!("{sp}/inputs"), input);
        c.name(names::IDENT, "input name", input, &ptr);
        resolve(c, p, name, reference, &ptr);
    }
}

fn required_input(c: &mut Checker<'_>, p: &Pipeline, name: &str, step: &Step, sp: &str, want: &[IoType], what: &str) {
    let Some(reference) = step.common().inputs.get("model") else {
        let pos = c.key_at(sp);
        c.report(Code::UnknownReference, pos, format!("step `{name}` needs an input `model`: {what}"), Some("add `inputs: {model: <step>.<output>}`".into()));
        return;
    };
    let ptr = pointer_push(&format!("{sp}/inputs"), "model");
    let saved = c.out.len();
    let ty = resolve(c, p, name, reference, &ptr);
    c.out.truncate(saved); // `inputs` reports resolution errors once.
    if let Some(ty) = ty {
        if !want.contains(&ty) {
            let pos = c.at(&ptr);
            c.report(Code::WrongKind, pos, format!("input `model` of `{name}` must be {what}, but `{reference}` is {}", describe(ty)), None);
        }
    }
}

/// A promotion's `metric` input (a number parameter) and `goal` come together.
fn promote_metric(c: &mut Checker<'_>, p: &Pipeline, name: &str, m: &ModelPromoteStep, sp: &str) {
    match (m.common.inputs.get("metric"), m.goal) {
        (Some(reference), Some(_)) => {
            let ptr = pointer_push(&format!("{sp}/inputs"), "metric");
            let saved = c.out.len();
            let ty = resolve(c, p, name, reference, &ptr);
            c.out.truncate(saved);
            if let Some(ty @ (IoType::Artifact(_) | IoType::Parameter(ParamType::String | ParamType::Bool | ParamType::List | ParamType::Struct))) = ty {
                let pos = c.at(&ptr);
                c.report(Code::WrongKind, pos, format!("input `metric` of `{name}` must be a float or int parameter, but `{reference}` is {}", describe(ty)), None);
            }
        }
        (Some(_), None) => {
            let pos = c.key_at(sp);
            c.report(Code::InvalidValue, pos, format!("step `{name}` has a `metric` input but no `goal`"), Some("add `goal: maximize` or `goal: minimize`".into()));
        }
        (None, Some(_)) => {
            let pos = c.at(&format!("{sp}/goal"));
            c.report(Code::InvalidValue, pos, format!("step `{name}` has a `goal` but no `metric` input to compare"), Some("add `inputs: {metric: <step>.<output>}`".into()));
        }
        (None, None) => {}
    }
}

/// The model (an upstream upload or a registry alias), destination and formats of a batch prediction.
fn batch_prediction(c: &mut Checker<'_>, p: &Pipeline, name: &str, step: &Step, b: &BatchPredictionStep, sp: &str) {
    match (&b.model, b.common.inputs.contains_key("model")) {
        (Some(text), false) => match RegistryRef::parse(text) {
            Some(r) if c.reference("model", &r.model, &c.spec.models, &format!("{sp}/model")) => {
                c.name(names::MODEL_ALIAS, "version alias", &r.alias, &format!("{sp}/model"));
            }
            Some(_) => {}
            None => {
                let pos = c.at(&format!("{sp}/model"));
                c.report(Code::InvalidValue, pos, format!("`{text}` must be `<model>@<alias>`"), Some("e.g. `churn@champion`".into()));
            }
        },
        (Some(_), true) => {
            let pos = c.at(&format!("{sp}/model"));
            c.report(Code::InvalidValue, pos, format!("step `{name}` has both `model` and a `model` input"), Some("keep one: a registry alias or an upload's output".into()));
        }
        (None, _) => required_input(c, p, name, step, sp, &[IoType::Artifact(ArtifactType::VertexModel)], "the `model` output of a `model_upload` step (or set `model: <model>@<alias>`)"),
    }
    let to_bigquery = match Destination::parse(&b.destination) {
        Destination::Bucket(bucket) => {
            c.reference("bucket", &bucket, &c.spec.storage.buckets, &format!("{sp}/destination"));
            false
        }
        Destination::BigQueryDataset(dataset) => {
            c.name(names::BQ_ID, "BigQuery dataset", &dataset, &format!("{sp}/destination"));
            true
        }
        Destination::BigQueryProject => true,
    };
    let bigquery_out = b.predictions_format.map_or(to_bigquery, |f| f == PredictionsFormat::Bigquery);
    if bigquery_out != to_bigquery {
        let pos = c.at(&format!("{sp}/predictions_format"));
        let why = if to_bigquery { "a BigQuery destination takes `bigquery` predictions" } else { "`bigquery` predictions need a `bq://<dataset>` or `bigquery` destination" };
        c.report(Code::InvalidValue, pos, why, None);
    }
    let table = c.spec.datasets.get(&b.dataset).map(|d| d.source.starts_with("bq://"));
    if let (Some(table), Some(f)) = (table, b.instances_format) {
        if table != (f == InstancesFormat::Bigquery) {
            let pos = c.at(&format!("{sp}/instances_format"));
            let why = if table { format!("dataset `{}` is a BigQuery table: its format is `bigquery`", b.dataset) } else { format!("dataset `{}` is files: `bigquery` reads only tables", b.dataset) };
            c.report(Code::InvalidValue, pos, why, None);
        }
    }
}

pub(super) fn describe(ty: IoType) -> String {
    match ty {
        IoType::Artifact(a) => format!("a `{}` artifact", a.schema_title()),
        IoType::Parameter(t) => format!("a {} parameter", type_name(t)),
    }
}

fn args(c: &mut Checker<'_>, p: &Pipeline, step: &Step, sp: &str) {
    let cm = step.common();
    let outputs: BTreeMap<String, IoType> = step.declared_outputs().iter().map(|(k, t)| (k.clone(), t.io_type())).collect();
    let params = &p.parameters;
    for (i, arg) in step.args().iter().enumerate() {
        let ptr = format!("{sp}/args/{i}");
        for part in Arg::parse(arg).0 {
            match part {
                ArgPart::Param(prm) => {
                    c.reference("parameter", &prm, params, &ptr);
                    if cm.inputs.get(&prm).is_some_and(|r| *r != format!("params.{prm}")) {
                        let pos = c.at(&ptr);
                        c.report(Code::DuplicateName, pos, format!("`{{{{params.{prm}}}}}` needs a step input named `{prm}`, but the step declares an input `{prm}` for something else"), Some(format!("rename the input `{prm}`")));
                    }
                }
                ArgPart::Input(input) => {
                    c.reference("input", &input, &cm.inputs, &ptr);
                }
                ArgPart::Output(out) => {
                    c.reference("output", &out, &outputs, &ptr);
                }
                ArgPart::Text(text) => {
                    if text.contains("{{") || text.contains("}}") {
                        let pos = c.at(&ptr);
                        c.report(Code::InvalidValue, pos, format!("`{arg}` has a `{{{{ … }}}}` that is not a placeholder"), Some("placeholders are {{params.x}}, {{inputs.x}} and {{outputs.x}}; pass other literal text through a parameter".into()));
                        break;
                    }
                }
            }
        }
    }
}

/// The comparison operators a `when` takes, and the slips users make for them.
const OPERATORS: [&str; 6] = [">=", "<=", "==", "!=", ">", "<"];
const OPERATOR_SLIPS: [(&str, &str); 4] = [("=<", "<="), ("=>", ">="), ("<>", "!="), ("=", "==")];

/// A run of operator characters in a condition that is not one of [`OPERATORS`] (`=<`, `=`, `<>`).
fn malformed_operator(when: &str) -> Option<&str> {
    let is_op = |ch: char| matches!(ch, '<' | '>' | '=' | '!');
    let start = when.find(is_op)?;
    let len = when[start..].find(|ch: char| !is_op(ch)).unwrap_or(when.len() - start);
    let run = &when[start..start + len];
    (!OPERATORS.contains(&run)).then_some(run)
}

fn condition(c: &mut Checker<'_>, p: &Pipeline, name: &str, when: &str, ptr: &str) {
    if let Some(op) = malformed_operator(when) {
        let pos = c.at(ptr);
        let hint = match OPERATOR_SLIPS.iter().find(|(slip, _)| *slip == op) {
            Some((_, meant)) => format!("did you mean `{meant}`?"),
            None => format!("use one of {}", OPERATORS.join(" ")),
        };
        c.report(Code::InvalidValue, pos, format!("unknown comparison `{op}` in condition `{when}`"), Some(hint));
        return;
    }
    let Some(cond) = Condition::parse(when) else {
        let pos = c.at(ptr);
        c.report(Code::InvalidValue, pos, format!("invalid condition `{when}`"), Some("write `<step>.<output> <op> <value>` or `<step>.<output> <op> params.<name>` with op one of >= > <= < == !=".into()));
        return;
    };
    let reference = format!("{}.{}", cond.step, cond.output);
    let Some(ty) = resolve(c, p, name, &reference, ptr) else { return };
    let numeric_op = !matches!(cond.op, CmpOp::Eq | CmpOp::Ne);
    // A parameter on the right compares like a literal of its type.
    let literal = match &cond.value {
        Operand::Literal(v) => v.clone(),
        Operand::Param(prm) => {
            if !c.reference("parameter", prm, &p.parameters, ptr) {
                return;
            }
            match p.parameters.get(prm).map(|x| x.ty) {
                Some(ParamType::Int | ParamType::Float) => serde_json::json!(0),
                Some(ParamType::Bool) => serde_json::json!(true),
                Some(ParamType::String) => serde_json::json!(""),
                _ => serde_json::Value::Null,
            }
        }
    };
    let ok = match ty {
        IoType::Parameter(ParamType::Int | ParamType::Float) => literal.is_number(),
        IoType::Parameter(ParamType::Bool) => !numeric_op && literal.is_boolean(),
        IoType::Parameter(ParamType::String) => !numeric_op && literal.is_string(),
        _ => false,
    };
    if !ok {
        let pos = c.at(ptr);
        c.report(Code::WrongKind, pos, format!("condition compares `{reference}` ({}) with `{}`", describe(ty), cond.value), Some("conditions compare an output parameter (Int, Float, Bool or String) with a value or `params.<name>` of the same type".into()));
    }
}

/// Reports each cycle once, at the key of its alphabetically first step.
fn cycles(c: &mut Checker<'_>, p: &Pipeline, pp: &str) {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, step) in &p.steps {
        let cm = step.common();
        let deps = edges.entry(name.as_str()).or_default();
        let refs = cm.inputs.values().map(String::as_str).chain(cm.when.iter().map(String::as_str));
        for r in refs {
            if let Some((ns, _)) = r.trim_start().split_once('.') {
                if ns != "params" && ns != name && p.steps.contains_key(ns) {
                    deps.insert(p.steps.get_key_value(ns).map_or(ns, |(k, _)| k.as_str()));
                }
            }
        }
        for a in &cm.after {
            if a != name && p.steps.contains_key(a) {
                deps.insert(p.steps.get_key_value(a.as_str()).map_or(a.as_str(), |(k, _)| k.as_str()));
            }
        }
    }
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for start in edges.keys() {
        if reported.contains(start) {
            continue;
        }
        if let Some(path) = find_cycle(&edges, start) {
            if path.iter().any(|s| reported.contains(s)) {
                continue;
            }
            reported.extend(path.iter().copied());
            let first = path.iter().min().copied().unwrap_or(start);
            let pos = c.key_at(&pointer_push(&format!("{pp}/steps"), first));
            let shown: Vec<String> = path.iter().chain(path.first()).map(|s| format!("`{s}`")).collect();
            c.report(Code::Cycle, pos, format!("steps depend on each other in a cycle: {}", shown.join(" → ")), Some("remove one of these inputs or `after` entries".into()));
        }
    }
}

/// A cycle through `start` (as the list of steps, starting at `start`), if any.
fn find_cycle<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>, start: &'a str) -> Option<Vec<&'a str>> {
    fn dfs<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>, node: &'a str, start: &'a str, path: &mut Vec<&'a str>, seen: &mut BTreeSet<&'a str>) -> bool {
        for &next in edges.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next) {
                path.push(next);
                if dfs(edges, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    let mut seen = BTreeSet::from([start]);
    if dfs(edges, start, start, &mut path, &mut seen) {
        // Edges point at dependencies; show the cycle in run order.
        path.reverse();
        path.rotate_right(1);
        Some(path)
    } else {
        None
    }
}

fn schedule(c: &mut Checker<'_>, p: &Pipeline, s: &crate::spec::Schedule, ptr: &str) {
    c.cron(&s.cron, &format!("{ptr}/cron"));
    if !facts::is_time_zone(&s.time_zone) {
        let pos = c.at(&format!("{ptr}/time_zone"));
        let hint = match suggest::closest(&s.time_zone, facts::time_zones()) {
            Some(z) => format!("did you mean `{z}`?"),
            None => "use an IANA time zone name, e.g. `UTC`, `Europe/Berlin` or `America/New_York`".to_owned(),
        };
        c.report(Code::InvalidValue, pos, format!("unknown time zone `{}`", s.time_zone), Some(hint));
    }
    match s.orchestrator {
        Orchestrator::Composer if c.spec.orchestration.composer.is_none() => {
            let pos = c.at(ptr);
            c.report(Code::UnknownReference, pos, "this schedule runs on Composer, but `orchestration.composer` is not declared", Some("add `orchestration: {composer: {image_version: composer-3-airflow-2.10.5}}`, or `orchestrator: vertex`".into()));
        }
        Orchestrator::Composer => {}
        Orchestrator::Vertex => {
            if c.spec.ci.is_none() {
                let pos = c.at(&format!("{ptr}/orchestrator"));
                c.report(Code::UnknownReference, pos, "a Vertex AI schedule is created and updated by CD, but `ci` is not declared", Some("add a `ci` section, or use `orchestrator: composer`".into()));
            }
            if s.wait_for.is_some() {
                let pos = c.at(&format!("{ptr}/wait_for"));
                c.report(Code::InvalidValue, pos, "`wait_for` needs a Composer DAG (a sensor task); a Vertex AI schedule only starts runs on time", Some("remove `wait_for`, or use `orchestrator: composer`".into()));
            }
        }
    }
    for (name, v) in &s.parameters {
        let pp = pointer_push(&format!("{ptr}/parameters"), name);
        if c.reference("parameter", name, &p.parameters, &pp) {
            if let Some(prm) = p.parameters.get(name) {
                if !type_matches(prm.ty, v) {
                    let pos = c.at(&pp);
                    c.report(Code::InvalidValue, pos, format!("`{name}` is a {} parameter", type_name(prm.ty)), None);
                }
            }
        }
    }
    for (name, prm) in &p.parameters {
        if prm.default.is_none() && !s.parameters.contains_key(name) {
            let pos = c.at(ptr);
            c.report(Code::InvalidValue, pos, format!("scheduled runs need a value for `{name}`, which has no default"), Some(format!("add `parameters: {{{name}: …}}` to the schedule or a default to the parameter")));
        }
    }
    if let Some(ds) = &s.wait_for {
        c.reference("dataset", ds, &c.spec.datasets, &format!("{ptr}/wait_for"));
    }
}
