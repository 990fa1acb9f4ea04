//! Runs the Python programs mlopsgen puts into pipeline tasks against a stand-in
//! `google.cloud.aiplatform` whose registry and endpoint live in a JSON file, so a test can run
//! several pipeline runs in a row and look at the state they leave.
//!
//! The stand-in follows the Vertex AI behaviour the programs rely on: `Model.list` returns one
//! entry per model (its resource name without a version); `Model("<model>@<alias or id>")` raises
//! `NotFound` when nothing matches; an alias is unique within a model, so adding it to one
//! version removes it from the one that had it (Model Registry docs, "How to use model version
//! aliases"); `models.patch` on `<model>@<version>` sets that version's labels (REST
//! `UpdateModelRequest`); an endpoint's `traffic_split` maps deployed-model ids to percentages.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const FAKE_AIPLATFORM: &str = r#"
import json, os
from google.api_core import exceptions

STATE = os.environ["FAKE_VERTEX_STATE"]

def _load():
    with open(STATE) as f:
        return json.load(f)

def _save(s):
    with open(STATE, "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)

def _log(*call):
    s = _load()
    s["calls"].append(list(call))
    _save(s)

def _version(s, name):
    base, _, ref = name.partition("@")
    for m in s["models"]:
        if m["name"] == base:
            for v in m["versions"]:
                if (ref and (v["id"] == ref or ref in v["aliases"])) or (not ref and "default" in v["aliases"]):
                    return m, v
    raise exceptions.NotFound(name)

class Model:
    def __init__(self, model_name):
        m, v = _version(_load(), model_name)
        self.resource_name, self.version_id, self.labels = m["name"], v["id"], dict(v["labels"])

    @staticmethod
    def list(filter, order_by, project, location):
        _log("models.list", filter, order_by, project, location)
        s = _load()
        assert order_by == "create_time"
        return [Model(m["name"]) for m in s["models"] if filter == 'display_name="%s"' % m["display_name"]]


class _Deployed:
    def __init__(self, id):
        self.id = id

class Endpoint:
    def __init__(self, resource):
        self.traffic_split = dict(_load()["endpoint"]["traffic_split"])

    def list_models(self):
        return [_Deployed(i) for i in _load()["endpoint"]["deployed"]]

    def undeploy(self, deployed_model_id):
        s = _load()
        s["endpoint"]["deployed"].remove(deployed_model_id)
        s["endpoint"]["traffic_split"].pop(deployed_model_id, None)
        s["calls"].append(["endpoints.undeployModel", deployed_model_id])
        _save(s)
"#;

/// `google.cloud.aiplatform_v1`: the calls that write versions, on `<model>@<version>` names.
const FAKE_AIPLATFORM_V1: &str = r#"
from google.cloud.aiplatform import _load, _save, _version

class ModelServiceClient:
    def __init__(self, client_options):
        assert client_options["api_endpoint"].endswith("-aiplatform.googleapis.com")

    def update_model(self, model, update_mask):
        assert update_mask == {"paths": ["labels"]} and "@" in model["name"], "version labels need <model>@<version>"
        s = _load()
        _, v = _version(s, model["name"])
        v["labels"] = model["labels"]
        s["calls"].append(["models.patch", model["name"], model["labels"]])
        _save(s)

    def merge_version_aliases(self, name, version_aliases):
        s = _load()
        m, target = _version(s, name)
        for v in m["versions"]:
            v["aliases"] = [a for a in v["aliases"] if a not in version_aliases]
        target["aliases"] += version_aliases
        s["calls"].append(["models.mergeVersionAliases", name, version_aliases])
        _save(s)
"#;

/// A stand-in Vertex AI project: the SDK package and its state file.
pub struct Vertex {
    dir: tempfile::TempDir,
    python: String,
}

impl Vertex {
    /// A project with no models and an empty endpoint; `None` without `python3`.
    pub fn new() -> Option<Vertex> {
        let python = ["python3"].into_iter().find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))?;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write("google/__init__.py", "");
        write("google/cloud/__init__.py", "");
        write("google/cloud/aiplatform/__init__.py", FAKE_AIPLATFORM);
        write("google/cloud/aiplatform_v1/__init__.py", FAKE_AIPLATFORM_V1);
        write("google/api_core/__init__.py", "");
        write("google/api_core/exceptions.py", "class NotFound(Exception):\n    pass\n");
        let v = Vertex { dir, python: python.to_owned() };
        v.set_state(&json!({"models": [], "endpoint": {"deployed": [], "traffic_split": {}}, "calls": []}));
        Some(v)
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// The current state.
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.state_file()).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Replaces the state.
    pub fn set_state(&self, state: &Value) {
        std::fs::write(self.state_file(), state.to_string()).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Runs a task's program (`python3 -c <script> <executor input>`) with the executor input
    /// built from `inputs` (`{"parameterValues": …, "artifacts": …}`) and the named outputs;
    /// returns the executor output file (or `{}`) and every output parameter file's text.
    pub fn run(&self, script: &str, inputs: Value, artifacts_out: &[&str], params_out: &[&str]) -> (Value, Value) {
        match self.try_run(script, inputs, artifacts_out, params_out) {
            Ok(outputs) => outputs,
            Err(log) => panic!("{log}"),
        }
    }

    /// [`Vertex::run`], returning the program's output when it exits non-zero.
    pub fn try_run(&self, script: &str, inputs: Value, artifacts_out: &[&str], params_out: &[&str]) -> Result<(Value, Value), String> {
        let work = tempfile::tempdir_in(self.dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let out_file = work.path().join("out/executor_output.json");
        let mut outputs = json!({"artifacts": {}, "parameters": {}, "outputFile": out_file.to_string_lossy()});
        for a in artifacts_out {
            outputs["artifacts"][*a] = json!({"artifacts": [{"name": a, "uri": format!("gs://root/run/{a}"), "metadata": {}}]});
        }
        for p in params_out {
            outputs["parameters"][*p] = json!({"outputFile": work.path().join(format!("params/{p}")).to_string_lossy()});
        }
        let executor_input = json!({"inputs": inputs, "outputs": outputs});
        let out = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .arg(executor_input.to_string())
            .env("PYTHONPATH", self.dir.path())
            .env("FAKE_VERTEX_STATE", self.state_file())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            return Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        }
        let read = |p: &Path| std::fs::read_to_string(p).ok();
        let executor_output = read(&out_file).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| json!({}));
        let mut params = json!({});
        for p in params_out {
            params[*p] = read(&work.path().join(format!("params/{p}"))).map_or(Value::Null, Value::String);
        }
        Ok((executor_output, params))
    }
}

pub use super::support::pipeline_task as task;

/// The program a task runs (its `python3 -c` script).
pub fn script<'a>(pipeline: &'a Value, key: &str) -> &'a str {
    let exec = &pipeline["deploymentSpec"]["executors"][format!("exec-{key}")]["container"];
    assert_eq!(exec["command"][0], "python3", "task `{key}` runs no Python program");
    assert_eq!(exec["args"][0], "{{$}}", "task `{key}` gets no executor input");
    exec["command"][2].as_str().unwrap_or_else(|| panic!("task `{key}` has no script"))
}

/// A task's constant parameter inputs as `parameterValues`.
pub fn constants(pipeline: &Value, key: &str) -> Value {
    let mut values = json!({});
    for (name, input) in task(pipeline, key)["inputs"]["parameters"].as_object().into_iter().flatten() {
        if let Some(c) = input["runtimeValue"].get("constant") {
            values[name] = c.clone();
        }
    }
    values
}
