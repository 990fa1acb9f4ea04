//! The model lifecycle the flagship compiles to, run across several pipeline runs against a
//! stand-in Vertex AI (tests/support/vertex.rs): the programs are the ones in the generated
//! pipeline, fed the constants the compiled tasks pass them.
//!
//! - Uploads become versions of one registry model. GCPC 2.22.0's `ModelUploadOp` passes
//!   `--parent_model_name {{$.inputs.artifacts['parent_model'].metadata['resourceName']}}`
//!   (`v1/model/upload_model/component.py`, IfPresent) and its launcher sets the request's
//!   `parent_model` only when that name is non-empty (`container/v1/model/upload_model/
//!   remote_runner.py`); REST `models.upload`: with `parentModel` the model becomes a new
//!   version, without it a new model. The lookup task before the upload gives `""` on the first
//!   run and the model on every later one.
//! - Aliases move: `challenger` on every upload, `champion` only when the run's AUC beats the
//!   champion's (an alias is unique within a model: Model Registry docs, "How to use model
//!   version aliases", https://cloud.google.com/vertex-ai/docs/model-registry/model-alias), and
//!   only once the deploy that runs on the promotion succeeded.
//! - A canary's split sums to 100 with the busiest model keeping the rest (REST
//!   `endpoints.deployModel`, `trafficSplit`: "must add up to 100"; "0" is the new model), and
//!   the retire task leaves that model deployed.
//! - Scoring reads `churn@champion` (REST `BatchPredictionJob.model` accepts
//!   `models/{model}@{alias}`) and uploads nothing; until a version holds `champion` its lookup
//!   outputs `found` false and the prediction's condition group is skipped, so the scheduled run
//!   succeeds (the driver evaluates `triggerPolicy.condition` over the group's inputs).
//!
//! Each test is skipped with a note when there is no `python3`.

mod support;
#[path = "support/vertex.rs"]
mod vertex;

use serde_json::{json, Value};
use std::path::Path;
use vertex::{constants, script, task, Vertex};

const MODEL_ARTIFACT: &str = "google.VertexModel";

fn pipeline(spec_text: Option<&str>, file: &str) -> Value {
    let c = match spec_text {
        None => support::compile_spec(Path::new("specs/flagship.yaml")),
        Some(text) => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("flagship.yaml");
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            // The flagship's `component` step reads a file next to the spec.
            let component = dir.path().join("components/profile/component.yaml");
            std::fs::create_dir_all(component.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
            std::fs::copy("specs/components/profile/component.yaml", component).unwrap_or_else(|e| panic!("{e}"));
            support::compile_spec(&path)
        }
    };
    serde_json::from_str(c.output.get(file).unwrap_or_default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn vertex() -> Option<Vertex> {
    let v = Vertex::new();
    if v.is_none() {
        eprintln!("note: no python3; the lifecycle programs were not run");
    }
    v
}

fn producer<'a>(t: &'a Value, artifact: &str) -> (&'a str, &'a str) {
    let o = &t["inputs"]["artifacts"][artifact]["taskOutputArtifact"];
    (o["producerTask"].as_str().unwrap_or_default(), o["outputArtifactKey"].as_str().unwrap_or_default())
}

fn model_artifact(resource: &str) -> Value {
    json!({"artifacts": [{"name": "model", "uri": format!("https://x/v1/{resource}"), "metadata": {"resourceName": resource}}]})
}

/// What GCPC's upload launcher and `models.upload` do with the request the compiled upload task
/// makes: a new version of `parent` (non-empty), else a new model whose first version is
/// `default`; the requested aliases move onto the new version. Returns `<model>@<version>`, the
/// output artifact's `resourceName` (remote_runner.py appends `@modelVersionId`).
fn upload(v: &Vertex, parent: &str, display_name: &str, aliases: &[Value]) -> String {
    let mut s = v.state();
    let aliases: Vec<String> = aliases.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    let models = s["models"].as_array_mut().unwrap_or_else(|| panic!("state"));
    let resource = if parent.is_empty() {
        let name = format!("projects/acme-churn-dev/locations/europe-west4/models/{}", 1000 + models.len());
        let mut first = vec!["default".to_owned()];
        first.extend(aliases);
        models.push(json!({"name": name, "display_name": display_name, "versions": [{"id": "1", "aliases": first, "labels": {}}]}));
        format!("{name}@1")
    } else {
        let model = models.iter_mut().find(|m| m["name"] == parent).unwrap_or_else(|| panic!("no parent {parent}"));
        let versions = model["versions"].as_array_mut().unwrap_or_else(|| panic!("versions"));
        for old in versions.iter_mut() {
            let kept: Vec<Value> = old["aliases"].as_array().into_iter().flatten().filter(|a| !aliases.iter().any(|n| *a == n.as_str())).cloned().collect();
            old["aliases"] = Value::Array(kept);
        }
        let id = (versions.len() + 1).to_string();
        versions.push(json!({"id": id, "aliases": aliases, "labels": {}}));
        format!("{parent}@{id}")
    };
    v.set_state(&s);
    resource
}

/// One training run from the upload on, with the AUC the evaluation reported, whose deploy (run
/// only when the run promotes) succeeds; returns the parent the upload got and whether the run
/// promoted its version.
fn training_run(v: &Vertex, p: &Value, auc: f64) -> (String, bool) {
    training_run_deploying(v, p, auc, true)
}

/// [`training_run`] whose deploy succeeds or fails: the alias moves (`promote-move-alias`, after
/// the deploy's tasks) only when it succeeded, as Vertex AI runs a task only once its
/// dependencies succeeded.
fn training_run_deploying(v: &Vertex, p: &Value, auc: f64, deploy_succeeds: bool) -> (String, bool) {
    let (parent, version) = register(v, p);
    let params = decide(v, p, &version, auc, &version);
    let promoted = params["promoted"] == "true";
    if promoted && deploy_succeeds {
        move_alias(v, p, &version, auc, &params["lock_generation"]).unwrap_or_else(|log| panic!("{log}"));
    }
    (parent, promoted)
}

/// The promote task's outputs: whether it promoted, and the generation of the lock it kept.
const DECIDED: &[&str] = &["promoted", "lock_generation"];

/// The promote task in run `run`, to its end: its output parameters.
fn decide(v: &Vertex, p: &Value, version: &str, auc: f64, run: &str) -> Value {
    v.start(script(p, "promote"), promote_inputs(p, version, auc, run), &[], DECIDED).finish().unwrap_or_else(|log| panic!("{log}")).params
}

/// The run's parent lookup and upload: the parent it found and the new `<model>@<version>`.
fn register(v: &Vertex, p: &Value) -> (String, String) {
    let (out, _) = v.run(script(p, "register-parent"), json!({"parameterValues": constants(p, "register-parent")}), &["model"], &[]);
    let parent = out["artifacts"]["model"]["artifacts"][0]["metadata"]["resourceName"].as_str().unwrap_or_else(|| panic!("{out}")).to_owned();
    let register = constants(p, "register");
    let aliases = register["version_aliases"].as_array().cloned().unwrap_or_default();
    let version = upload(v, &parent, register["display_name"].as_str().unwrap_or_default(), &aliases);
    (parent, version)
}

/// The promote task's inputs in run `run` (Vertex AI substitutes the run's ID for
/// `{{$.pipeline_job_uuid}}`), for `version` with the evaluation's AUC.
fn promote_inputs(p: &Value, version: &str, auc: f64, run: &str) -> Value {
    let mut values = constants(p, "promote");
    assert_eq!(values["run"], "{{$.pipeline_job_uuid}}/promote", "the holder: the run's promote step");
    values["run"] = json!(run);
    values["metric"] = json!(auc);
    json!({"parameterValues": values, "artifacts": {"model": model_artifact(version)}})
}

/// The move-alias task, given the lock generation its promote task kept.
fn move_alias(v: &Vertex, p: &Value, version: &str, auc: f64, generation: &Value) -> Result<String, String> {
    let mut values = constants(p, "promote-move-alias");
    values["metric"] = json!(auc);
    values["lock_generation"] = generation.clone();
    let inputs = json!({"parameterValues": values, "artifacts": {"model": model_artifact(version)}});
    v.start(script(p, "promote-move-alias"), inputs, &[], &[]).finish().map(|f| f.log)
}

/// The promotion locks held now, by object, with the run holding each.
fn locks(v: &Vertex) -> Vec<(String, String)> {
    let s = v.state();
    let held = s["objects"].as_object().cloned().unwrap_or_default();
    held.iter()
        .map(|(name, o)| {
            let run: Value = serde_json::from_str(o["data"].as_str().unwrap_or_default()).unwrap_or_default();
            (name.clone(), run["run"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Makes every lock `seconds` older, as if that much time had passed.
fn age_locks(v: &Vertex, seconds: f64) {
    let mut s = v.state();
    for o in s["objects"].as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        o["created"] = json!(o["created"].as_f64().unwrap_or_default() - seconds);
    }
    v.set_state(&s);
}

fn holder(state: &Value, alias: &str) -> Vec<String> {
    let versions = state["models"][0]["versions"].as_array().cloned().unwrap_or_default();
    versions.iter().filter(|v| v["aliases"].as_array().is_some_and(|a| a.iter().any(|x| x == alias))).map(|v| v["id"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn uploads_become_versions_and_champion_moves_only_on_a_better_metric() {
    let p = pipeline(None, "pipelines/dev/training.json");
    // The upload's parent_model is the lookup task's output, and the lookup asks for no alias.
    assert_eq!(producer(task(&p, "register"), "parent_model"), ("register-parent", "model"));
    assert_eq!(p["components"]["comp-register-parent"]["outputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"], MODEL_ARTIFACT);
    assert_eq!(constants(&p, "register-parent")["alias"], "");
    assert_eq!(constants(&p, "register-parent")["display_name"], constants(&p, "register")["display_name"]);
    let args = p["deploymentSpec"]["executors"]["exec-register"]["container"]["args"].to_string();
    assert!(args.contains(r#"--parent_model_name\", \"{{$.inputs.artifacts['parent_model'].metadata['resourceName']}}"#), "{args}");
    // Promotion reads the evaluation's AUC and the uploaded version; deploy waits for `promoted`.
    assert_eq!(task(&p, "promote")["inputs"]["parameters"]["metric"]["componentInputParameter"], "pipelinechannel--evaluate-auc");
    assert_eq!(producer(task(&p, "promote"), "model"), ("register", "model"));
    let locks_at = "gs://acme-churn-dev-artifacts/promotion-locks";
    let decide = json!({"alias": "champion", "goal": "maximize", "lease_seconds": 7200.0, "lock_root": locks_at, "run": "{{$.pipeline_job_uuid}}/promote", "stage": "decide"});
    assert_eq!(constants(&p, "promote"), decide);
    let condition = task(&p, "condition-2")["triggerPolicy"]["condition"].as_str().unwrap_or_default();
    assert!(condition.contains("pipelinechannel--promote-promoted") && condition.ends_with("== true"), "{condition}");
    // The alias moves in the deploy's group, once the deploy serves the version: after every task
    // of the deploy but its retire (a failed retire leaves idle replicas, not another model serving).
    let group = &p["components"]["comp-condition-2"]["dag"]["tasks"];
    let mover = &group["promote-move-alias"];
    assert_eq!(constants(&p, "promote-move-alias"), json!({"alias": "champion", "goal": "maximize", "lock_root": locks_at, "stage": "move"}));
    let kept = &mover["inputs"]["parameters"]["lock_generation"]["componentInputParameter"];
    assert_eq!(kept, "pipelinechannel--promote-lock_generation", "the mover releases the lock its promote task took");
    let deploy_tasks: Vec<&String> = group.as_object().into_iter().flatten().map(|(k, _)| k).filter(|k| k.starts_with("deploy") && *k != "deploy-retire").collect();
    assert!(deploy_tasks.len() >= 2 && group.get("deploy-retire").is_some(), "{deploy_tasks:?}");
    let waits_for = |key: &str| mover["dependentTasks"].as_array().is_some_and(|d| d.iter().any(|x| x == key));
    for key in deploy_tasks {
        assert!(waits_for(key), "the alias moves before `{key}` ends: {mover}");
    }
    assert!(!waits_for("deploy-retire"), "a failed retire keeps the alias off the serving version: {mover}");
    assert_eq!(mover["cachingOptions"], json!({}), "a cached move would skip moving the alias");
    assert_eq!(mover["inputs"]["artifacts"]["model"]["componentInputArtifact"], "pipelinechannel--register-model");

    let Some(v) = vertex() else { return };
    let (parent, promoted) = training_run(&v, &p, 0.85);
    assert_eq!((parent.as_str(), promoted), ("", true), "first run: no model yet, so a new one; nothing to beat");
    assert_eq!(locks(&v), Vec::new(), "the mover released the promotion lock");
    let s = v.state();
    let model = s["models"][0]["name"].as_str().unwrap_or_default().to_owned();
    assert_eq!((holder(&s, "challenger"), holder(&s, "champion")), (vec!["1".to_owned()], vec!["1".to_owned()]));
    assert_eq!(s["models"][0]["versions"][0]["labels"]["mlopsgen-metric"], "0_85");

    let (parent, promoted) = training_run(&v, &p, 0.83);
    assert_eq!((parent.as_str(), promoted), (model.as_str(), false), "second run: a version of the same model, worse AUC");
    assert_eq!(locks(&v), Vec::new(), "a run that does not promote releases the lock at once");
    let s = v.state();
    assert_eq!(s["models"].as_array().map(Vec::len), Some(1), "one registry model");
    assert_eq!((holder(&s, "challenger"), holder(&s, "champion")), (vec!["2".to_owned()], vec!["1".to_owned()]));

    let (parent, promoted) = training_run(&v, &p, 0.9);
    assert_eq!((parent.as_str(), promoted), (model.as_str(), true), "third run: better AUC takes champion");
    let s = v.state();
    assert_eq!((holder(&s, "challenger"), holder(&s, "champion"), holder(&s, "default")), (vec!["3".to_owned()], vec!["3".to_owned()], vec!["1".to_owned()]));
    assert_eq!(s["models"][0]["versions"][2]["labels"]["mlopsgen-metric"], "0_9");
}

/// A promotion whose deploy fails leaves the alias where it was: the next run is not compared
/// with a version that never served, and scoring does not predict with it.
#[test]
fn champion_moves_only_once_its_deploy_succeeded() {
    let p = pipeline(None, "pipelines/dev/training.json");
    let Some(v) = vertex() else { return };
    let (_, promoted) = training_run_deploying(&v, &p, 0.95, false);
    assert!(promoted, "first run: nothing to beat");
    let s = v.state();
    assert_eq!(holder(&s, "champion"), Vec::<String>::new(), "the deploy failed, yet `champion` moved");
    assert!(s["models"][0]["versions"][0]["labels"].get("mlopsgen-metric").is_none(), "a failed deploy's metric became the bar");
    // Nothing released the failed run's lock: the next run takes it over once its lease is over.
    assert_eq!(locks(&v).len(), 1, "{:?}", locks(&v));
    age_locks(&v, 7201.0);
    let (_, promoted) = training_run(&v, &p, 0.85);
    assert!(promoted, "the second run is compared with no champion, not with the undeployed 0.95");
    assert_eq!(locks(&v), Vec::new());
    let s = v.state();
    assert_eq!(holder(&s, "champion"), vec!["2".to_owned()]);
    assert_eq!(s["models"][0]["versions"][1]["labels"]["mlopsgen-metric"], "0_85");
}

#[test]
fn scoring_reads_the_champion_by_alias_and_skips_until_one_exists() {
    let p = pipeline(None, "pipelines/dev/scoring.json");
    let execs = p["deploymentSpec"]["executors"].as_object().cloned().unwrap_or_default();
    assert!(!execs.values().any(|e| e.to_string().contains("upload_model.launcher")), "scoring must not upload a model");
    assert_eq!(constants(&p, "predict-model")["alias"], "champion");
    let payload = execs["exec-predict"]["container"]["args"].to_string();
    assert!(payload.contains("{{$.inputs.artifacts['model'].metadata['resourceName']}}"), "{payload}");
    // The prediction runs in a group triggered by the lookup's `found`, and reads the version the
    // lookup found through the group's input.
    let roots = p["root"]["dag"]["tasks"].as_object().cloned().unwrap_or_default();
    let (_, group) = roots.iter().find(|(_, t)| t.get("triggerPolicy").is_some()).unwrap_or_else(|| panic!("no condition group"));
    let inner = &p["components"][group["componentRef"]["name"].as_str().unwrap_or_default()]["dag"]["tasks"];
    assert!(inner.get("predict").is_some() && roots.get("predict").is_none(), "predict must run inside the group");
    let model_in = inner["predict"]["inputs"]["artifacts"]["model"]["componentInputArtifact"].as_str().unwrap_or_default();
    assert_eq!(producer(group, model_in), ("predict-model", "model"));
    let found = &group["inputs"]["parameters"]["pipelinechannel--predict-model-found"]["taskOutputParameter"];
    assert_eq!((found["producerTask"].as_str(), found["outputParameterKey"].as_str()), (Some("predict-model"), Some("found")));
    assert_eq!(group["triggerPolicy"]["condition"], "inputs.parameter_values['pipelinechannel--predict-model-found'] == true");
    assert_eq!(p["components"]["comp-predict-model"]["outputDefinitions"]["parameters"]["found"]["parameterType"], "BOOLEAN");
    let mut waits: Vec<&str> = group["dependentTasks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    waits.sort_unstable();
    assert_eq!(waits, ["predict-model", "validate"], "the group waits for the lookup and the validation");

    let Some(v) = vertex() else { return };
    // What one scoring run's lookup outputs: (found, resourceName).
    let lookup = json!({"parameterValues": constants(&p, "predict-model")});
    let scoring_run = |v: &Vertex| {
        let (out, _) = v.run(script(&p, "predict-model"), lookup.clone(), &["model"], &[]);
        let resource = out["artifacts"]["model"]["artifacts"][0]["metadata"]["resourceName"].as_str().unwrap_or_else(|| panic!("{out}")).to_owned();
        (out["parameterValues"]["found"].as_bool().unwrap_or_else(|| panic!("no `found` in {out}")), resource)
    };
    // Before any training run there is no registry model: the lookup succeeds, the group is
    // skipped, and the run succeeds instead of failing every day until a champion exists.
    assert_eq!(scoring_run(&v), (false, String::new()));
    let training = pipeline(None, "pipelines/dev/training.json");
    let (_, promoted) = training_run(&v, &training, 0.85);
    assert!(promoted, "the first training run promotes its version");
    let name = v.state()["models"][0]["name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(scoring_run(&v), (true, format!("{name}@champion")), "once a version holds champion, scoring runs on it");
    // A model whose versions hold no champion (taken off by hand) skips too: the alias is checked, not assumed.
    let mut s = v.state();
    s["models"][0]["versions"][0]["aliases"] = json!(["default", "challenger"]);
    v.set_state(&s);
    assert_eq!(scoring_run(&v), (false, String::new()));
    let calls = v.state()["calls"].to_string();
    let display = constants(&p, "predict-model")["display_name"].clone();
    assert!(calls.contains(&format!(r#"display_name=\"{}\""#, display.as_str().unwrap_or_default())), "{calls}");
}

#[test]
fn a_canary_split_sums_to_100_and_the_previous_model_keeps_serving() {
    let text = std::fs::read_to_string("specs/flagship.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("traffic_percent: 100"));
    let p = pipeline(Some(&text.replace("traffic_percent: 100", "traffic_percent: 20")), "pipelines/dev/training.json");
    let deploy = task(&p, "deploy");
    let split = &deploy["inputs"]["parameters"]["traffic_split"]["taskOutputParameter"];
    assert_eq!((split["producerTask"].as_str(), split["outputParameterKey"].as_str()), (Some("deploy-split"), Some("traffic_split")));
    assert_eq!(producer(task(&p, "deploy-split"), "endpoint"), ("deploy-endpoint", "artifact"));
    let endpoint = json!({"artifacts": [{"metadata": {"resourceName": "projects/acme-churn-dev/locations/europe-west4/endpoints/1"}}]});
    let inputs = json!({"parameterValues": constants(&p, "deploy-split"), "artifacts": {"endpoint": endpoint}});

    let Some(v) = vertex() else { return };
    // First deploy: nothing serves yet, so the new model takes everything.
    let (_, out) = v.run(script(&p, "deploy-split"), inputs.clone(), &[], &["traffic_split"]);
    assert_eq!(serde_json::from_str::<Value>(out["traffic_split"].as_str().unwrap_or_default()).ok(), Some(json!({"0": 100})));

    // Later: `stable` serves 70 %, an earlier canary 30 %, `idle` nothing.
    v.set_state(&json!({"calls": [], "models": [], "endpoint": {"deployed": ["stable", "canary", "idle"], "traffic_split": {"stable": 70, "canary": 30, "idle": 0}}}));
    let (_, out) = v.run(script(&p, "deploy-split"), inputs.clone(), &[], &["traffic_split"]);
    let split: Value = serde_json::from_str(out["traffic_split"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(split, json!({"0": 20, "stable": 80}));
    let total: i64 = split.as_object().into_iter().flatten().filter_map(|(_, p)| p.as_i64()).sum();
    assert_eq!(total, 100);

    // deployModel replaces the split with it ("0" → the new deployed model), then the retire task runs.
    let mut s = v.state();
    s["endpoint"] = json!({"deployed": ["stable", "canary", "idle", "new"], "traffic_split": {"new": 20, "stable": 80}});
    v.set_state(&s);
    v.run(script(&p, "deploy-retire"), json!({"artifacts": {"endpoint": endpoint}}), &[], &[]);
    let s = v.state();
    assert_eq!(s["endpoint"]["deployed"], json!(["stable", "new"]), "{s}");
}

/// Runs promoting one model take turns (`models::PROMOTE_SCRIPT`): a run that decides while
/// another holds the promotion lock waits, then compares with the champion that run left. Without
/// the lock both would beat the champion they started with, and the last deploy and alias move
/// would win, here the worse model.
#[test]
fn promoting_runs_take_turns() {
    let p = pipeline(None, "pipelines/dev/training.json");
    let Some(v) = vertex() else { return };
    training_run(&v, &p, 0.80);
    let (_, better) = register(&v, &p);
    let (_, worse) = register(&v, &p);
    let first = decide(&v, &p, &better, 0.90, "run-b");
    assert_eq!(first["promoted"], "true", "0.90 beats 0.80");
    let lock = format!("gs://acme-churn-dev-artifacts/promotion-locks/{}/champion", better.split(['/', '@']).nth(5).unwrap_or_default());
    assert_eq!(locks(&v), vec![(lock.clone(), "run-b".to_owned())], "run-b keeps the lock while it deploys");

    let mut second = v.start(script(&p, "promote"), promote_inputs(&p, &worse, 0.85, "run-c"), &[], DECIDED);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(second.is_running(), "run-c decided while run-b held the lock");
    assert_eq!(locks(&v), vec![(lock.clone(), "run-b".to_owned())]);

    let moved = move_alias(&v, &p, &better, 0.90, &first["lock_generation"]).unwrap_or_else(|log| panic!("{log}"));
    assert!(moved.contains("released the promotion lock"), "{moved}");
    let second = second.finish().unwrap_or_else(|log| panic!("{log}"));
    assert!(second.log.contains("run run-b holds the promotion lock"), "run-c did not wait: {}", second.log);
    assert_eq!(second.params["promoted"], "false", "run-c must be compared with run-b's 0.90, not the 0.80 both started with: {}", second.log);
    assert_eq!(holder(&v.state(), "champion"), vec![better.rsplit('@').next().unwrap_or_default().to_owned()]);
    assert_eq!(locks(&v), Vec::new(), "run-c released the lock when it did not promote");
}

/// A run that held the lock past its lease lost it to the next run, which may have promoted
/// since: its mover then moves nothing, and says why.
#[test]
fn a_run_that_lost_its_lock_moves_nothing() {
    let p = pipeline(None, "pipelines/dev/training.json");
    let Some(v) = vertex() else { return };
    training_run(&v, &p, 0.80);
    let (_, slow) = register(&v, &p);
    let decided = decide(&v, &p, &slow, 0.90, "run-slow");
    age_locks(&v, 7201.0);
    let (_, promoted) = training_run(&v, &p, 0.95);
    assert!(promoted, "the next run took over the stale lock and promoted");
    let champion = holder(&v.state(), "champion");
    let Err(log) = move_alias(&v, &p, &slow, 0.90, &decided["lock_generation"]) else { panic!("the slow run moved the alias without its lock") };
    assert!(log.contains("lost it"), "{log}");
    assert_eq!(holder(&v.state(), "champion"), champion, "the alias stays on the newer champion");
}

/// A lock is stale after its holder's lease, not the waiter's: forecast's weekly tuning holds
/// `demand`'s lock for up to 3 h while the daily retrain's own lease is 2 h, and the retrain
/// must not take the lock from a tuning run still deploying.
#[test]
fn a_waiting_run_honours_the_holders_lease() {
    let p = pipeline(None, "pipelines/dev/training.json");
    let Some(v) = vertex() else { return };
    training_run(&v, &p, 0.80);
    let (_, long) = register(&v, &p);
    let (_, short) = register(&v, &p);
    decide(&v, &p, &long, 0.90, "run-long");
    // The holder wrote a 3 h lease; 2 h and a second later it still holds the lock.
    let mut s = v.state();
    for o in s["objects"].as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        let mut held: serde_json::Value = serde_json::from_str(o["data"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(held["lease_seconds"], 7200.0, "the holder writes its lease into the lock");
        held["lease_seconds"] = json!(10800.0);
        o["data"] = json!(held.to_string());
    }
    v.set_state(&s);
    age_locks(&v, 7201.0);
    let mut waiting = v.start(script(&p, "promote"), promote_inputs(&p, &short, 0.95, "run-short"), &[], DECIDED);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(waiting.is_running(), "run-short took a lock its holder's lease still covers");
    assert_eq!(locks(&v).iter().map(|(_, run)| run.as_str()).collect::<Vec<_>>(), ["run-long"]);
    age_locks(&v, 3600.0);
    let done = waiting.finish().unwrap_or_else(|log| panic!("{log}"));
    assert!(done.log.contains("taking over the promotion lock of run run-long"), "{}", done.log);
    assert_eq!(locks(&v).iter().map(|(_, run)| run.as_str()).collect::<Vec<_>>(), ["run-short"]);
}
