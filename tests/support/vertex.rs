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
//!
//! A stand-in `google.cloud.storage` keeps objects with generations: a write or delete with
//! `if_generation_match` that doesn't match the live generation (`0`: no live object) raises
//! `PreconditionFailed`, as Cloud Storage answers 412 (docs, "Request preconditions"). Its
//! `time.sleep` is fast and gives up after a few hundred turns, so a program that would wait
//! forever fails the test instead of hanging it. The state file is replaced whole on each write,
//! so a program running beside another never reads half of it.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const FAKE_AIPLATFORM: &str = r#"
import json, os
from google.api_core import exceptions

STATE = os.environ["FAKE_VERTEX_STATE"]

def _load():
    with open(STATE) as f:
        return json.load(f)

def _save(s):
    with open(STATE + ".new", "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)
    os.replace(STATE + ".new", STATE)

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

/// `google.cloud.storage`: objects with generations and preconditions, for the promotion lock.
const FAKE_STORAGE: &str = r#"
import json, time
from datetime import datetime, timezone
from google.api_core import exceptions
from google.cloud.aiplatform import _load, _save

_sleep, _turns = time.sleep, [0]

def _fast_sleep(seconds):
    _turns[0] += 1
    if _turns[0] > 400:
        raise SystemExit("still waiting after 400 turns")
    _sleep(0.02)

time.sleep = _fast_sleep

class Client:
    def __init__(self, project):
        self.project = project

    def bucket(self, name):
        return _Bucket(name)

class _Bucket:
    def __init__(self, name):
        self.name = name

    def blob(self, name):
        return _Blob(self.name, name)

class _Blob:
    def __init__(self, bucket, name):
        self.bucket, self.name, self.generation, self.time_created = bucket, name, None, None

    def _key(self):
        return "gs://%s/%s" % (self.bucket, self.name)

    def _live(self, s, match):
        live = s["objects"].get(self._key())
        if match is not None and (live["generation"] if live else 0) != match:
            raise exceptions.PreconditionFailed(self._key())
        return live

    def upload_from_string(self, data, content_type, if_generation_match=None):
        s = _load()
        self._live(s, if_generation_match)
        s["next_generation"] += 1
        s["objects"][self._key()] = {"generation": s["next_generation"], "data": data, "created": time.time()}
        s["calls"].append(["objects.insert", self._key(), data])
        _save(s)
        self.reload()

    def reload(self):
        live = self._live(_load(), None)
        if live is None:
            raise exceptions.NotFound(self._key())
        self.generation = live["generation"]
        self.time_created = datetime.fromtimestamp(live["created"], timezone.utc)

    def download_as_bytes(self, if_generation_match=None):
        live = self._live(_load(), if_generation_match)
        if live is None:
            raise exceptions.NotFound(self._key())
        return live["data"].encode()

    def delete(self, if_generation_match=None):
        s = _load()
        if self._live(s, if_generation_match) is None:
            raise exceptions.NotFound(self._key())
        del s["objects"][self._key()]
        s["calls"].append(["objects.delete", self._key()])
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
        write("google/cloud/storage/__init__.py", FAKE_STORAGE);
        write("google/api_core/__init__.py", "");
        write("google/api_core/exceptions.py", "class NotFound(Exception):\n    pass\n\nclass PreconditionFailed(Exception):\n    pass\n");
        let v = Vertex { dir, python: python.to_owned() };
        let endpoint = json!({"deployed": [], "traffic_split": {}});
        v.set_state(&json!({"models": [], "endpoint": endpoint, "calls": [], "objects": {}, "next_generation": 1000}));
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

    /// Replaces the state, whole (a program running beside the test never reads half of it).
    pub fn set_state(&self, state: &Value) {
        let new = self.state_file().with_extension("json.set");
        std::fs::write(&new, state.to_string()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::rename(&new, self.state_file()).unwrap_or_else(|e| panic!("{e}"));
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
        self.start(script, inputs, artifacts_out, params_out).finish().map(|f| (f.output, f.params))
    }

    /// Starts a task's program as [`Vertex::run`] runs it, without waiting for it to end.
    pub fn start(&self, script: &str, inputs: Value, artifacts_out: &[&str], params_out: &[&str]) -> Running {
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
        let child = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .arg(executor_input.to_string())
            .env("PYTHONPATH", self.dir.path())
            .env("FAKE_VERTEX_STATE", self.state_file())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        Running { child, work, params_out: params_out.iter().map(|p| (*p).to_owned()).collect() }
    }
}

/// A task's program running in the background ([`Vertex::start`]).
pub struct Running {
    child: Child,
    work: tempfile::TempDir,
    params_out: Vec<String>,
}

impl Running {
    /// Whether the program is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the program: what it left ([`Finished`]), or its output when it exits non-zero.
    pub fn finish(self) -> Result<Finished, String> {
        let out = self.child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(log);
        }
        let read = |p: &Path| std::fs::read_to_string(p).ok();
        let executor_output = read(&self.work.path().join("out/executor_output.json")).and_then(|t| serde_json::from_str(&t).ok());
        let mut params = json!({});
        for p in &self.params_out {
            params[p] = read(&self.work.path().join(format!("params/{p}"))).map_or(Value::Null, Value::String);
        }
        Ok(Finished { output: executor_output.unwrap_or_else(|| json!({})), params, log })
    }
}

/// What a program that succeeded left.
pub struct Finished {
    /// The executor output file (or `{}`).
    pub output: Value,
    /// Each output parameter file's text, by name.
    pub params: Value,
    /// What it printed.
    pub log: String,
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
