//! `orchestrator: vertex` and `time_zone`, proven at run time where possible:
//!
//! - the CD step's script (taken from the generated `cd.yaml`, Cloud Build substitutions filled in
//!   from the model) run twice with python3 against a stand-in Vertex AI schedules API creates the
//!   schedule once and then updates it (never a second one), sends the cron with its `TZ=` prefix
//!   and the new template version, and refuses to pick between two schedules of the same name;
//! - the schedule's parameter values, service account, labels and pipeline root equal what the
//!   Composer DAG of the same pipeline passes to `RunPipelineJobOperator` (read from the DAG with
//!   Python's `ast`);
//! - an unknown time zone is an error at its position; a spec with no Composer schedule (and no
//!   drift) gets no Composer environment, DAGs or Composer IAM.

mod support;

use mlopsgen::{compile, Compilation, Options, Source};
use support::files;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "support/cloudbuild_config.rs"]
mod cloudbuild_config;

/// A stand-in for `projects.locations.schedules` (list, with or without a `display_name` filter,
/// one result per page; create; patch by `updateMask`; delete, answering with an operation, or
/// 404 for a schedule created with `"ghost": true`: one another build deleted after this one
/// listed it);
/// `GET /dump` returns every schedule. Each request is appended to the log file given as `argv[1]`.
const FAKE_API: &str = r#"
import json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

schedules = {}
created = 0
log = open(sys.argv[1], "a")


class Api(BaseHTTPRequestHandler):
    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body=None):
        entry = {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        log.write(json.dumps(entry) + "\n")
        log.flush()

    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/dump":
            return self.send(200, list(schedules.values()))
        self.record()
        query = urllib.parse.parse_qs(url.query)
        parent = url.path[len("/v1/"):-len("/schedules")]
        hits = [s for s in schedules.values() if s["name"].startswith(parent + "/schedules/")]
        if "filter" in query:
            wanted = query["filter"][0]
            assert wanted.startswith('display_name="') and wanted.endswith('"'), wanted
            hits = [s for s in hits if s["displayName"] == wanted[14:-1]]
        at = int(query.get("pageToken", ["0"])[0])
        page = {"schedules": hits[at:at + 1]} if hits[at:at + 1] else {}
        if at + 1 < len(hits):
            page["nextPageToken"] = str(at + 1)
        self.send(200, page)

    def do_POST(self):
        body = self.body()
        self.record(body)
        parent = urllib.parse.urlsplit(self.path).path[len("/v1/"):-len("/schedules")]
        global created
        created += 1
        body["name"] = "%s/schedules/%d" % (parent, created)
        schedules[body["name"]] = body
        self.send(200, body)

    def do_PATCH(self):
        body = self.body()
        self.record(body)
        url = urllib.parse.urlsplit(self.path)
        name = url.path[len("/v1/"):]
        if name not in schedules:
            return self.send(404, {"error": {"status": "NOT_FOUND"}})
        for field in urllib.parse.parse_qs(url.query)["updateMask"][0].split(","):
            schedules[name][field] = body[field]
        self.send(200, schedules[name])

    def do_DELETE(self):
        self.record()
        name = urllib.parse.urlsplit(self.path).path[len("/v1/"):]
        schedule = schedules.pop(name, None)
        if schedule is None or schedule.get("ghost"):
            return self.send(404, {"error": {"status": "NOT_FOUND"}})
        self.send(200, {"name": name + "/operations/1", "done": False})

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Api)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

const FAKE_GCLOUD: &str = "#!/bin/sh\necho fake-token\n";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flagship() -> String {
    std::fs::read_to_string(root().join("specs/flagship.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn compile_text(text: &str) -> Result<Compilation, Vec<mlopsgen::Diagnostic>> {
    let source = Source { name: "flagship.yaml".into(), text: text.to_owned() };
    let options = Options { spec_file: root().join("specs/flagship.yaml"), out_override: None };
    match compile(&source, &options) {
        Ok(c) => Ok(c),
        Err(mlopsgen::Error::Invalid(d)) => Err(d),
        Err(e) => panic!("{e}"),
    }
}

fn compiled(text: &str) -> Compilation {
    compile_text(text).unwrap_or_else(|d| panic!("{d:?}"))
}

/// The step with this id from a generated Cloud Build file.
fn step(c: &Compilation, config: &str, id: &str) -> Value {
    let text = c.output.get(&format!("cloudbuild/{config}.yaml")).unwrap_or_else(|| panic!("no {config}.yaml"));
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    let build = serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"));
    let steps = build["steps"].as_array().cloned().unwrap_or_default();
    steps.into_iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id} in {config}.yaml"))
}

/// Every step the step `id` of a generated Cloud Build config waits for, directly or not.
fn upstream(c: &Compilation, config: &str, id: &str) -> std::collections::BTreeSet<String> {
    let text = c.output.get(&format!("cloudbuild/{config}.yaml")).unwrap_or_else(|| panic!("no {config}.yaml"));
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    cloudbuild_config::upstream(&serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}")), id)
}

/// Fills `${NAME}` from `values`, then `$$` → `$`, as Cloud Build does.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    assert!(!out.replace("$$", "").contains("${"), "unfilled substitution in {out}");
    out.replace("$$", "$")
}

struct Api {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Api {
    fn start(dir: &Path) -> Api {
        let log = dir.join("api.log");
        let mut child = Command::new("python3")
            .args(["-c", FAKE_API])
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3: {e}"));
        let mut line = String::new();
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(out).read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        let port = line.trim().parse().unwrap_or_else(|e| panic!("port {line:?}: {e}"));
        Api { child, port, log }
    }

    fn schedules(&self) -> Vec<Value> {
        let out = Command::new("python3")
            .args(["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"])
            .arg(format!("http://127.0.0.1:{}/dump", self.port))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates a schedule under `parent` directly (one made by hand or by an earlier deploy).
    fn create(&self, parent: &str, schedule: &Value) {
        let post = "import sys, urllib.request\nreq = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST')\nurllib.request.urlopen(req).read()";
        let status = Command::new("python3")
            .args(["-c", post, &format!("http://127.0.0.1:{}/v1/{parent}/schedules", self.port), &schedule.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
    }

    fn requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"))).collect()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the step as Cloud Build would, in `env`'s build, for commit `sha`, against the fake API.
fn run_step(c: &Compilation, step: &Value, env: &str, sha: &str, api: &Api, dir: &Path) -> (bool, String) {
    let model = &c.model;
    let environment = model.environments.iter().find(|e| e.name == env).unwrap_or_else(|| panic!("{env}"));
    let mut values = mlopsgen::model::delivery::variables(model, environment);
    values.insert("SHORT_SHA".into(), sha.into());
    // The step's working directory: its `dir` in a checkout holding the output under the output
    // directory (the repository root when it has no `dir`).
    let repo = dir.join("repo");
    let _ = std::fs::remove_dir_all(&repo);
    for (path, text) in c.output.files() {
        let file = repo.join(&model.output_dir).join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(&repo)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(file, text).unwrap_or_else(|e| panic!("{e}"));
    }
    let work = repo.join(substitute(step["dir"].as_str().unwrap_or("."), &values));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bin.join("gcloud"), FAKE_GCLOUD).unwrap_or_else(|e| panic!("{e}"));
    let _ = Command::new("chmod").arg("+x").arg(bin.join("gcloud")).status();

    let mut command = Command::new(step["entrypoint"].as_str().unwrap_or_else(|| panic!("entrypoint")));
    let args: Vec<String> = step["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).map(|a| substitute(a, &values)).collect();
    command.args(&args).current_dir(&work).env_clear().env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    // A volume is a folder of its own here; the template upload this build made left its
    // version there (`upload-<pipeline>` writes `<package>/<version>`'s version).
    let volumes: Vec<(String, PathBuf)> = step["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["path"].as_str().unwrap_or_default().to_owned(), dir.join(v["name"].as_str().unwrap_or_default())))
        .collect();
    for entry in step["env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()) {
        let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("{entry}"));
        let mut value = substitute(value, &values);
        if let Some((mount, local)) = volumes.iter().find(|(mount, _)| value.starts_with(mount.as_str())) {
            value = format!("{}{}", local.display(), &value[mount.len()..]);
            if key == "VERSION_FILE" {
                std::fs::create_dir_all(local).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(&value, format!("sha256:{sha}\n")).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        command.env(key, value);
    }
    // The real root is https://REGION-aiplatform.googleapis.com/v1; only the host changes here.
    let real = format!("https://{}-aiplatform.googleapis.com/v1", environment.region);
    let api_root = substitute(step["env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()).find_map(|e| e.strip_prefix("API=")).unwrap_or(""), &values);
    assert_eq!(api_root, real);
    command.env("API", format!("http://127.0.0.1:{}/v1", api.port));
    let out = command.output().unwrap_or_else(|e| panic!("{e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlopsgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn cd_creates_the_schedule_once_then_updates_it() {
    let c = compiled(&flagship());
    let step = step(&c, "cd", "schedule-scoring");
    let dir = temp_dir("vertex-schedule");
    let api = Api::start(&dir);

    let (ok, out) = run_step(&c, &step, "dev", "aaa1111", &api, &dir);
    assert!(ok && out.starts_with("created projects/acme-churn-dev/locations/europe-west4/schedules/"), "{out}");
    let (ok, out) = run_step(&c, &step, "dev", "bbb2222", &api, &dir);
    assert!(ok && out.starts_with("updated "), "{out}");

    let all = api.schedules();
    assert_eq!(all.len(), 1, "a second CD run must not add a schedule: {all:#?}");
    let s = &all[0];
    assert_eq!(s["displayName"], "churn-scoring");
    // The spec's time zone reaches the API as the documented `TZ=` prefix of the cron.
    assert_eq!(s["cron"], "TZ=Europe/Amsterdam 30 4 * * *");
    let job = &s["createPipelineJobRequest"]["pipelineJob"];
    let dev = c.model.environments.iter().find(|e| e.name == "dev").unwrap_or_else(|| panic!("dev"));
    let scoring = c.model.pipeline("scoring").unwrap_or_else(|| panic!("scoring"));
    // The version this build uploaded, not a tag Vertex AI would resolve on its own side.
    assert_eq!(job["templateUri"], format!("{}/{}/sha256:bbb2222", dev.kfp_repo(), scoring.name), "the update runs the newly uploaded version");
    // At most one run in a non-terminal state: `maxConcurrentRunCount` only limits the create
    // requests in flight, not the jobs they start (GoogleCloudAiplatformV1Schedule, v1 API).
    assert_eq!((&s["maxConcurrentActiveRunCount"], &s["allowQueueing"]), (&Value::from("1"), &Value::from(true)));
    let requests = api.requests();
    assert!(requests.iter().all(|r| r["auth"] == "Bearer fake-token"), "{requests:#?}");
    let methods: Vec<&str> = requests.iter().filter_map(|r| r["method"].as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "GET", "PATCH"]);
    let patch = &requests[3];
    assert!(patch["path"].as_str().is_some_and(|p| p.contains("updateMask=cron%2CmaxConcurrentRunCount%2CmaxConcurrentActiveRunCount%2CallowQueueing%2CcreatePipelineJobRequest")), "{patch}");

    // A second schedule with the same name (made by hand): the step refuses to guess.
    let mut copy = s.clone();
    copy.as_object_mut().map(|o| o.remove("name"));
    api.create("projects/acme-churn-dev/locations/europe-west4", &copy);
    let (ok, out) = run_step(&c, &step, "dev", "ccc3333", &api, &dir);
    assert!(!ok && out.contains("more than one schedule is named churn-scoring"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn release_schedules_in_the_next_environment() {
    let c = compiled(&flagship());
    let step = step(&c, "release", "schedule-scoring");
    let dir = temp_dir("vertex-schedule-release");
    let api = Api::start(&dir);
    let (ok, out) = run_step(&c, &step, "dev", "aaa1111", &api, &dir);
    assert!(ok && out.starts_with("created projects/acme-churn-prod/locations/europe-west4/schedules/"), "{out}");
    let all = api.schedules();
    let job = &all[0]["createPipelineJobRequest"]["pipelineJob"];
    assert_eq!(job["serviceAccount"], "churn-pipelines@acme-churn-prod.iam.gserviceaccount.com");
    assert_eq!(job["labels"]["env"], "prod");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A schedule as an earlier deploy (or a person) left it: `labels` on its runs.
fn existing(display_name: &str, labels: Value) -> Value {
    serde_json::json!({
        "displayName": display_name,
        "cron": "0 1 * * *",
        "createPipelineJobRequest": {"pipelineJob": {"displayName": display_name, "labels": labels}},
    })
}

fn display_names(api: &Api) -> Vec<String> {
    let mut names: Vec<String> = api.schedules().iter().filter_map(|s| s["displayName"].as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

/// A pipeline whose Vertex AI schedule the spec dropped (flagship's `training` runs on Composer):
/// CD deletes the schedule an earlier deploy made, keeps the ones the spec still has, and leaves
/// alone what it did not make (no `managed-by` label, another environment's label, another
/// mlopsgen project's label, even with a name that starts like this project's); a second run
/// deletes nothing.
#[test]
fn cd_deletes_the_schedules_the_spec_no_longer_has() {
    let c = compiled(&flagship());
    let dir = temp_dir("vertex-schedule-prune");
    let api = Api::start(&dir);
    let dev = "projects/acme-churn-dev/locations/europe-west4";
    let labels = |env: &str, project: &str| serde_json::json!({"env": env, "managed-by": "mlopsgen", "mlopsgen-project": project});
    api.create(dev, &existing("churn-training", labels("dev", "churn")));
    api.create(dev, &existing("churn-adhoc", serde_json::json!({"env": "dev"})));
    api.create(dev, &existing("churn-backfill", labels("staging", "churn")));
    api.create(dev, &existing("churn-eu-training", labels("dev", "churn-eu")));
    let mut retired = existing("churn-retired", labels("dev", "churn"));
    retired["ghost"] = Value::Bool(true);
    api.create(dev, &retired);

    let (ok, out) = run_step(&c, &step(&c, "cd", "schedule-scoring"), "dev", "aaa1111", &api, &dir);
    assert!(ok, "{out}");
    let prune = step(&c, "cd", "prune-schedules");
    assert_eq!(prune["waitFor"], serde_json::json!(["schedule-scoring"]), "prune after the schedules the spec has are in place");
    let (ok, out) = run_step(&c, &prune, "dev", "aaa1111", &api, &dir);
    assert!(ok && out.contains("deleting projects/acme-churn-dev/locations/europe-west4/schedules/1 (churn-training)"), "{out}");
    assert!(out.contains("already deleted projects/acme-churn-dev/locations/europe-west4/schedules/5 (churn-retired)"), "{out}");
    assert_eq!(display_names(&api), ["churn-adhoc", "churn-backfill", "churn-eu-training", "churn-scoring"]);
    let (ok, out) = run_step(&c, &prune, "dev", "bbb2222", &api, &dir);
    assert!(ok && !out.contains("deleting") && out.contains("kept churn-scoring"), "{out}");
    assert_eq!(display_names(&api).len(), 4);
    // Run from another folder, the schedule files are not where the step looks: it fails and
    // deletes nothing, rather than take "no files" for "no schedules wanted".
    let mut elsewhere = prune.clone();
    elsewhere["dir"] = Value::String(c.model.output_dir.clone());
    let (ok, out) = run_step(&c, &elsewhere, "dev", "ccc3333", &api, &dir);
    assert!(!ok && out.contains("none is deleted") && !out.contains("deleting"), "{out}");
    assert_eq!(display_names(&api).len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// forecast schedules on Vertex AI in dev and on Composer from staging on: a release into staging
/// deletes the Vertex AI schedules staging had before it moved to Composer (so the pipeline does
/// not run twice), with the grants to do so.
#[test]
fn a_release_into_an_environment_on_composer_deletes_its_vertex_schedules() {
    let text = std::fs::read_to_string(root().join("specs/forecast.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let c = compiled(&text);
    let m = &c.model;
    let staging = m.environments.iter().find(|e| e.name == "staging").unwrap_or_else(|| panic!("staging"));
    assert_eq!(mlopsgen::model::delivery::vertex_scheduled(m.for_env("staging")).count(), 0, "staging schedules on Composer");
    let dir = temp_dir("vertex-schedule-moved");
    let api = Api::start(&dir);
    let parent = format!("projects/{}/locations/{}", staging.gcp_project, staging.region);
    let ours = serde_json::json!({"env": "staging", "managed-by": "mlopsgen", "mlopsgen-project": "demand"});
    api.create(&parent, &existing("demand-training", ours.clone()));
    api.create(&parent, &existing("demand-scoring", ours));
    let (ok, out) = run_step(&c, &step(&c, "release", "prune-schedules"), "dev", "aaa1111", &api, &dir);
    assert!(ok && out.contains("(demand-training)") && out.contains("(demand-scoring)") && out.contains("kept none"), "{out}");
    assert!(api.schedules().is_empty());
    // The release into staging runs as the promoter. Staging schedules nothing on Vertex AI, so
    // its own view grants the custom role with the two permissions the step uses, not
    // `roles/aiplatform.user`; dev, which schedules, keeps that one.
    use mlopsgen::model::iam::{Member, SCHEDULE_PRUNER};
    let roles = |env: &str| -> Vec<&str> { m.for_env(env).grants.iter().filter(|g| g.member == Member::Promoter).map(|g| g.role).collect() };
    assert!(roles("staging").contains(&SCHEDULE_PRUNER.id) && !roles("staging").contains(&"roles/aiplatform.user"), "{:?}", roles("staging"));
    assert!(roles("dev").contains(&"roles/aiplatform.user") && !roles("dev").contains(&SCHEDULE_PRUNER.id), "{:?}", roles("dev"));
    assert_eq!(SCHEDULE_PRUNER.permissions, ["aiplatform.schedules.delete", "aiplatform.schedules.list"]);
    let iam = c.output.get("terraform/iam.tf").unwrap_or_default();
    assert!(iam.contains("resource \"google_project_iam_custom_role\" \"schedule_pruner\""), "Terraform does not create the role");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The change that drops a spec's last Vertex AI schedule (promotion's `hello`) also drops the
/// deploys' `prune-schedules` step (nothing is scheduled there any more), so the schedule an
/// earlier deploy made would keep starting runs: the review flags that as destructive. With
/// `ci.prune_schedules: true`, CD keeps the step (waiting for nothing: it keeps nothing), deletes
/// that schedule, and keeps the grant to do so.
#[test]
fn dropping_the_last_vertex_schedule_deletes_it_with_prune_schedules() {
    let text = std::fs::read_to_string(root().join("specs/promotion.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let schedule = "    schedule: {cron: \"0 6 * * 1-5\", time_zone: America/New_York, orchestrator: vertex}\n";
    assert!(text.contains(schedule), "promotion.yaml no longer schedules `hello` on Vertex AI");
    let prune = "  prune_schedules: true\n";
    assert!(text.contains(prune), "promotion.yaml no longer sets `ci.prune_schedules`");
    let dropped = text.replace(schedule, "");
    let prune_changes = |old: &Compilation, new: &Compilation| -> Vec<mlopsgen::review::Change> {
        let all = mlopsgen::targets::review(&files(old), &files(new));
        all.into_iter().filter(|c| c.subject.ends_with("/ step prune-schedules")).collect()
    };

    let before = compiled(&text.replace(prune, ""));
    let stops = prune_changes(&before, &compiled(&dropped.replace(prune, "")));
    assert_eq!(stops.len(), 2, "CD and releases stop pruning: {stops:?}");
    for c in &stops {
        assert!(c.kind == mlopsgen::review::Kind::Removed && c.destructive, "{c:?}");
        assert!(c.summary.as_deref().is_some_and(|s| s.contains("keep running") && s.contains("ci.prune_schedules: true")), "{c:?}");
    }

    let kept = compiled(&dropped);
    assert!(prune_changes(&before, &kept).iter().all(|c| !c.destructive), "the step stays");
    // Nothing to keep, but it still runs after what the deploy puts in place; in a release, only
    // once the commit is known deployed in the environment before and the next one's apply ran.
    for (config, needed) in [("cd", &["tf-apply", "upload-hello"][..]), ("release", &["wait-deployed", "tf-apply", "upload-hello"][..])] {
        let before_prune = upstream(&kept, config, "prune-schedules");
        for id in needed {
            assert!(before_prune.contains(*id), "{config}.yaml: prune-schedules can start before {id}: {before_prune:?}");
        }
    }
    let prune = step(&kept, "cd", "prune-schedules");
    let dir = temp_dir("vertex-schedule-last");
    let api = Api::start(&dir);
    let ours = serde_json::json!({"env": "dev", "managed-by": "mlopsgen", "mlopsgen-project": "relay"});
    api.create("projects/acme-relay-dev/locations/us-central1", &existing("relay-hello", ours));
    let (ok, out) = run_step(&kept, &prune, "dev", "aaa1111", &api, &dir);
    assert!(ok && out.contains("deleting") && out.contains("(relay-hello)") && out.contains("kept none"), "{out}");
    assert!(api.schedules().is_empty());
    let ci = mlopsgen::model::iam::Member::Sa(mlopsgen::model::SaRole::Ci);
    // Nothing scheduled, so the custom role with the two permissions it uses, not aiplatform.user.
    let pruner = mlopsgen::model::iam::SCHEDULE_PRUNER.id;
    let granted = kept.model.grants.iter().any(|g| g.member == ci && g.role == pruner);
    assert!(granted, "CD cannot delete schedules");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Promotion with neither pipelines nor images left, still pruning: the Vertex AI API stays
/// enabled (the step calls it), and with no image to promote, the release's prune still waits
/// for the next environment's apply, which grants the promoter the role it deletes with.
#[test]
fn a_spec_with_nothing_on_vertex_ai_still_prunes_after_the_apply() {
    let text = std::fs::read_to_string(root().join("specs/promotion.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let (images, ci) = (text.find("\nimages:\n"), text.find("\nci:\n"));
    let (Some(images), Some(ci)) = (images, ci) else { panic!("promotion.yaml has no images or ci section") };
    let mut bare = format!("{}{}", &text[..images], &text[ci..]);
    // prod's overrides change the pipeline that is gone now.
    let (Some(overrides), Some(terraform)) = (bare.find("    overrides:"), bare.find("\nterraform:")) else { panic!("prod overrides moved") };
    bare.replace_range(overrides..terraform, "");
    let c = compiled(&bare);
    assert!(c.model.pipelines.is_empty() && c.model.images.is_empty());
    assert!(c.model.apis.contains(&"aiplatform.googleapis.com"), "{:?}", c.model.apis);
    assert!(c.output.get("terraform/apis.tf").is_some_and(|t| t.contains("aiplatform.googleapis.com")));
    let before_prune = upstream(&c, "release", "prune-schedules");
    assert!(before_prune.contains("tf-apply"), "the release prunes before the apply: {before_prune:?}");
}

/// Module-level literals of a generated DAG, read with Python's `ast`.
fn dag_constants(text: &str) -> Value {
    let script = "import ast, json, sys\nout = {}\nfor node in ast.parse(sys.stdin.read()).body:\n    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):\n        try:\n            out[node.targets[0].id] = ast.literal_eval(node.value)\n        except ValueError:\n            pass\nprint(json.dumps(out))";
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::write_all(&mut child.stdin.take().unwrap_or_else(|| panic!("stdin")), text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_vertex_schedule_runs_what_the_composer_dag_runs() {
    // The flagship's training pipeline on Composer, and the same pipeline on Vertex AI (without
    // `wait_for`, which needs a DAG).
    // Dev's overrides switch training's schedule off; both sides keep it here, in every environment.
    let composer = compiled(&flagship().replace("          schedule: null\n", ""));
    let text = flagship().replace("      orchestrator: composer\n      wait_for: customers\n", "      orchestrator: vertex\n")
        .replace("          schedule: null\n", "");
    let vertex = compiled(&text);
    for env in ["dev", "prod"] {
        let dag = dag_constants(composer.output.get(&format!("dags/{env}/training.py")).unwrap_or_else(|| panic!("dag")));
        let body: Value = serde_json::from_str(vertex.output.get(&format!("cloudbuild/schedules/{env}/training.json")).unwrap_or_else(|| panic!("schedule")))
            .unwrap_or_else(|e| panic!("{e}"));
        let job = &body["createPipelineJobRequest"]["pipelineJob"];
        assert_eq!(job["runtimeConfig"]["parameterValues"], dag["PARAMETER_VALUES"], "{env}");
        assert_eq!(job["serviceAccount"], dag["SERVICE_ACCOUNT"], "{env}");
        // The DAG's labels, and the project's label prune-schedules matches.
        let mut labels = dag["LABELS"].clone();
        labels["mlopsgen-project"] = Value::from("churn");
        assert_eq!(job["labels"], labels, "{env}");
        assert_eq!(job["runtimeConfig"]["gcsOutputDirectory"], dag["PIPELINE_ROOT"], "{env}");
        assert_eq!(body["createPipelineJobRequest"]["parent"], format!("projects/{}/locations/{}", dag["PROJECT_ID"].as_str().unwrap_or(""), dag["REGION"].as_str().unwrap_or("")));
        // Same package; the DAG runs the environment's tag, the schedule the version CD uploaded.
        let template = dag["TEMPLATE_PATH"].as_str().unwrap_or("");
        assert!(template.ends_with(&format!("/churn-training/{env}")), "{template}");
        assert!(!job["runtimeConfig"]["parameterValues"].as_object().is_some_and(|o| o.is_empty()), "the comparison needs parameters");
        assert!(job.get("enableCaching").is_none() && !composer.output.get(&format!("dags/{env}/training.py")).unwrap_or("").contains("enable_caching"));
        // Both read the cron in the same time zone.
        assert!(composer.output.get(&format!("dags/{env}/training.py")).unwrap_or("").contains("CronTriggerTimetable(\"0 3 * * 1\", timezone=\"Europe/Amsterdam\")"));
        assert_eq!(body["cron"], "TZ=Europe/Amsterdam 0 3 * * 1");
    }
    // The Vertex variant has no DAG for the pipeline.
    assert!(vertex.output.get("dags/dev/training.py").is_none());
}

#[test]
fn an_unknown_time_zone_is_reported_at_its_position() {
    let text = flagship().replace("time_zone: Europe/Amsterdam   #", "time_zone: Europe/Amsterdm   #");
    let line = text.lines().position(|l| l.contains("Europe/Amsterdm")).unwrap_or_else(|| panic!("edit")) + 1;
    let d = compile_text(&text).err().unwrap_or_else(|| panic!("accepted"));
    let hit = d.iter().find(|d| d.message.contains("unknown time zone `Europe/Amsterdm`")).unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!((hit.code.as_str(), hit.pos.line), ("E035", line));
    assert_eq!(hit.hint.as_deref(), Some("did you mean `Europe/Amsterdam`?"));
}

#[test]
fn no_composer_schedule_means_no_composer() {
    // Flagship without drift detection and with both pipelines on Vertex AI.
    let text = flagship()
        .replace("      orchestrator: composer\n      wait_for: customers\n", "      orchestrator: vertex\n")
        .replace("          schedule: null\n", "")
        .replace("    dag_failures: true\n", "");
    let start = text.find("  drift:").unwrap_or_else(|| panic!("drift"));
    let end = start + text[start..].find("\n\n").unwrap_or(text.len() - start);
    let text = format!("{}{}", &text[..start], &text[end + 1..]);
    let c = compiled(&text);
    assert!(c.model.composer.is_none());
    assert!(c.warnings.iter().any(|w| w.code.as_str() == "W002"), "{:?}", c.warnings);
    let files: Vec<&str> = c.output.files().map(|(p, _)| p).collect();
    assert!(!files.iter().any(|p| p.starts_with("dags/")), "{files:?}");
    let tf: String = c.output.files().filter(|(p, _)| p.starts_with("terraform/")).map(|(_, t)| t).collect();
    for absent in ["google_composer_environment", "composer.worker", "cloudcomposer", "composer.ServiceAgentV2Ext", "dag_failures"] {
        assert!(!tf.contains(absent), "{absent} in Terraform");
    }
    let cd = c.output.get("cloudbuild/cd.yaml").unwrap_or("");
    assert!(!cd.contains("sync-dags") && cd.contains("schedule-training") && cd.contains("schedule-scoring"));
}

#[test]
fn a_vertex_schedule_cannot_wait_for_data() {
    let text = flagship().replace("      orchestrator: composer\n      wait_for: customers\n", "      orchestrator: vertex\n      wait_for: customers\n");
    let line = text.lines().position(|l| l.contains("wait_for: customers")).unwrap_or_else(|| panic!("edit")) + 1;
    let d = compile_text(&text).err().unwrap_or_else(|| panic!("accepted"));
    let hit = d.iter().find(|d| d.message.contains("`wait_for` needs a Composer DAG")).unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!((hit.code.as_str(), hit.pos.line), ("E035", line));
}
