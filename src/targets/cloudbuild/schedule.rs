//! Vertex AI schedules (`orchestrator: vertex`): the request body of each environment's schedule,
//! `cloudbuild/schedules/<env>/<pipeline>.json`, and the build step that creates or updates it.
//!
//! The google provider (6.50) has no resource for Vertex AI schedules, so CD owns them: after the
//! template upload, one step per scheduled pipeline finds the schedule by display name
//! (`schedules.list` with `filter=display_name="…"`) and patches it, or creates it when there is
//! none; a second run finds the one the first created, so schedules are never duplicated
//! (REST reference: https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.schedules;
//! list filter fields: `ListSchedulesRequest.filter`). An update replaces the fields in its
//! `updateMask`; runs already started are not touched, and the next run follows the new cron
//! (`schedules.patch`).
//!
//! Once any environment schedules on Vertex AI, each deploy also deletes the schedules it made
//! that its environment no longer has ([`prune`]): without that, a pipeline moved to Composer
//! in an environment, or whose schedule the spec dropped, would keep running from its last
//! template beside (or instead of) what the spec says. A schedule is the deploy's when its run
//! labels carry `managed-by: mlopsgen`, the project (`mlopsgen-project`) and the environment's
//! `env`; schedules made by hand, or by another project, are left alone.
//!
//! The body holds what a Composer DAG passes to `RunPipelineJobOperator`, from the same model
//! values: display name, pipeline root, parameter values (schedule over defaults), the pipelines
//! service account and the environment's labels. Like the DAG, it leaves `enable_caching` unset,
//! so each step's compiled caching setting applies. `cron` carries the time zone as the
//! documented `TZ=<IANA name> ` prefix (`Schedule.cron`). `maxConcurrentActiveRunCount: 1`
//! mirrors the DAG's `max_active_runs=1`: at most one run in a non-terminal state, with
//! `allowQueueing: true` a run due while one is running waits for it. (`maxConcurrentRunCount`,
//! which the API requires too, limits only how many create requests are in flight, not the jobs
//! they start: `GoogleCloudAiplatformV1Schedule` in the v1 API.) The step sets `templateUri` to
//! the version this build uploaded, `<package>/sha256:…` (`deploy::TEMPLATE_VERSIONS`), not a
//! tag: Vertex AI resolves a tag on its own side at each run (python-aiplatform#2398, and
//! #2181: tags failing where versions work), and a version names exactly what was uploaded.

use super::build::{Step, GCLOUD};
use super::deploy::{ids, output_path, template_version_file, TEMPLATE_VERSIONS};
use super::subst::{literal, Live};
use crate::model::delivery::{self, variables as vars, Stage, PRUNE_STEP};
use crate::model::{naming, paths, Environment, Model, Pipeline, SaRole, Schedule};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The Vertex AI REST client both scripts share: `call` sends one request with the build
/// identity's token, `listed` follows a list's pages. No `$` in the text: Cloud Build would
/// substitute it.
const CLIENT: &str = r#"import glob
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from os import environ

TOKEN = subprocess.run(["gcloud", "auth", "print-access-token"], check=True, capture_output=True, text=True).stdout.strip()


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as answer:
        text = answer.read().decode()
    return json.loads(text) if text else {}


def listed(collection, query):
    found = []
    while True:
        page = call("GET", collection + "?" + urllib.parse.urlencode(query))
        found += page.get("schedules", [])
        if not page.get("nextPageToken"):
            return found
        query["pageToken"] = page["nextPageToken"]


"#;

/// Creates or updates the schedule in the JSON file `$1`: `$API` is the Vertex AI REST root,
/// `$TEMPLATE_PACKAGE` the template's package and `$VERSION_FILE` holds the version to run. Lists by display name; one match is patched,
/// none created, more than one fails (a schedule made by hand with the same name: delete it or
/// rename it).
const UPSERT: &str = r#"with open(sys.argv[1], encoding="utf-8") as f:
    schedule = json.load(f)
with open(environ["VERSION_FILE"], encoding="utf-8") as f:
    schedule["createPipelineJobRequest"]["pipelineJob"]["templateUri"] = environ["TEMPLATE_PACKAGE"] + "/" + f.read().strip()
api = environ["API"].rstrip("/")
collection = api + "/" + schedule["createPipelineJobRequest"]["parent"] + "/schedules"
found = listed(collection, {"filter": 'display_name="' + schedule["displayName"] + '"'})
if len(found) > 1:
    sys.exit("more than one schedule is named " + schedule["displayName"] + ": " + ", ".join(s["name"] for s in found))
if found:
    mask = ",".join(key for key in schedule if key != "displayName")
    name = found[0]["name"]
    call("PATCH", api + "/" + name + "?" + urllib.parse.urlencode({"updateMask": mask}), schedule)
    print("updated", name)
else:
    print("created", call("POST", collection, schedule).get("name"))"#;

/// Deletes the schedules of `$PARENT` that a deploy into environment `$ENV_NAME` made and no
/// longer wants: those whose run labels say `$MANAGED_BY` and `$PROJECT` (each `key=value`) and
/// `env: $ENV_NAME`, and that have no file in `$WANTED` (the environment's schedule folder,
/// absent when it schedules nothing on Vertex AI). An absent folder means "delete them all", so
/// the step first checks that the checkout holds the generated configs where it looks
/// (`$CONFIGS`): from a wrong working directory it would otherwise delete every schedule,
/// including those the steps before it just made.
/// `schedules.delete` starts a long-running operation that removes the schedule (not awaited);
/// runs it already started are not touched. A schedule already gone (404: another deploy of the
/// same environment, running at the same time, deleted it after this one listed it) is no error.
const PRUNE: &str = r#"if not os.path.isdir(environ["CONFIGS"]):
    sys.exit("no " + environ["CONFIGS"] + " in " + os.getcwd() + ": cannot tell which schedules this environment has, so none is deleted")
wanted = set()
for path in sorted(glob.glob(os.path.join(environ["WANTED"], "*.json"))):
    with open(path, encoding="utf-8") as f:
        wanted.add(json.load(f)["displayName"])
owner = dict(environ[key].split("=", 1) for key in ("MANAGED_BY", "PROJECT"))
owner["env"] = environ["ENV_NAME"]
api = environ["API"].rstrip("/")
for schedule in listed(api + "/" + environ["PARENT"] + "/schedules", {}):
    labels = schedule.get("createPipelineJobRequest", {}).get("pipelineJob", {}).get("labels", {})
    name = schedule.get("displayName", "")
    ours = all(labels.get(key) == value for key, value in owner.items())
    if not ours or name in wanted:
        continue
    try:
        call("DELETE", api + "/" + schedule["name"])
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        print("already deleted", schedule["name"], "(" + name + ")")
        continue
    print("deleting", schedule["name"], "(" + name + ")")
print("kept", ", ".join(sorted(wanted)) or "none")"#;

/// Pipelines scheduled on Vertex AI ([`delivery::vertex_scheduled`]), with their schedules.
pub fn scheduled(model: &Model) -> impl Iterator<Item = (&Pipeline, &Schedule)> {
    delivery::vertex_scheduled(model).filter_map(|p| Some((p, p.schedule.as_ref()?)))
}

/// The `cron` of a schedule: the time zone as a `TZ=` prefix, then the five fields.
pub fn cron(schedule: &Schedule) -> String {
    format!("TZ={} {}", schedule.time_zone, schedule.cron)
}

/// The schedule resource (without `templateUri`, which the step sets) of a pipeline in one
/// environment.
pub fn body(model: &Model, env: &Environment, pipeline: &Pipeline, schedule: &Schedule) -> Value {
    json!({
        "displayName": pipeline.name,
        "cron": cron(schedule),
        "maxConcurrentRunCount": "1",
        "maxConcurrentActiveRunCount": "1",
        "allowQueueing": true,
        "createPipelineJobRequest": {
            "parent": format!("projects/{}/locations/{}", env.gcp_project, env.region),
            "pipelineJob": {
                "displayName": pipeline.name,
                "runtimeConfig": {
                    "gcsOutputDirectory": env.pipeline_root(&model.pipeline_root_bucket, pipeline),
                    "parameterValues": pipeline.scheduled_values(schedule),
                },
                "serviceAccount": env.sa_email(SaRole::Pipelines),
                "labels": schedule_labels(model, env),
            },
        },
    })
}

/// The labels of a schedule's runs: the environment's and [`naming::PROJECT_LABEL`].
fn schedule_labels(model: &Model, env: &Environment) -> std::collections::BTreeMap<String, String> {
    let mut labels = env.labels.clone();
    labels.insert(naming::PROJECT_LABEL.to_owned(), model.project.name.clone());
    labels
}

/// Every environment's schedule files: those of its own view (an environment on Composer has
/// none).
pub fn files(model: &Model) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for env in &model.environments {
        let view = model.for_env(&env.name);
        for (pipeline, schedule) in scheduled(view) {
            let text = serde_json::to_string_pretty(&body(view, env, pipeline, schedule)).unwrap_or_default();
            out.push((paths::schedule_file(&env.name, &pipeline.key), text + "\n"));
        }
    }
    out
}

/// One step per pipeline scheduled on Vertex AI in some environment: create or update its
/// schedule in the stage's environment, after the templates are uploaded (guarded where other
/// environments schedule it on Composer, see `only_in`); then [`prune`], after them (or, with
/// none, after `after`: in a release, that chain starts with the check that the commit was
/// deployed where it comes from, and a step without `waitFor` entries would start with the build).
pub fn steps(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    let mut steps = upserts(model, stage, after);
    let upserted = if steps.is_empty() { after.to_vec() } else { ids(&steps) };
    steps.extend(prune(model, stage, &upserted));
    steps
}

/// The pipelines some environment schedules on Vertex AI, by key: the deploys upsert their
/// schedules (`schedule-<pipeline>`), which run the version their uploads keep.
pub fn upserted(model: &Model) -> BTreeSet<&str> {
    crate::model::presence::views(model).flat_map(|v| scheduled(v).map(|(p, _)| p.key.as_str())).collect()
}

fn upserts(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    let env = stage.var(vars::ENV);
    let upserted = upserted(model);
    model
        .pipelines
        .iter()
        .filter(|p| upserted.contains(p.key.as_str()))
        .map(|p| {
            let file = paths::schedule_file(&env, &p.key);
            let (dir, name) = file.rsplit_once('/').unwrap_or((".", file.as_str()));
            let (volume, mount) = TEMPLATE_VERSIONS;
            Step::new(format!("schedule-{}", p.key), GCLOUD)
                .entrypoint("python3")
                .dir(output_path(model, dir))
                .env("API", format!("https://{}-aiplatform.googleapis.com/v1", stage.var(vars::REGION)))
                .env("TEMPLATE_PACKAGE", format!("{}/{}", stage.var(vars::KFP_REPO), literal(&p.name)))
                .env("VERSION_FILE", template_version_file(p))
                .volume(volume, mount)
                .args(["-c", &format!("{CLIENT}{UPSERT}"), name])
                .after(after)
                .timeout(300)
        })
        .collect()
}

/// With [`crate::model::Ci::owns_vertex_schedules`], the step that deletes the stale schedules of
/// the stage's environment (`PRUNE`), after `after`: a pipeline whose
/// schedule the spec dropped, or moved to Composer there, stops running on Vertex AI.
fn prune(model: &Model, stage: Stage, after: &[String]) -> Option<Step> {
    model.ci.as_ref().filter(|c| c.owns_vertex_schedules)?;
    let env = stage.var(vars::ENV);
    let (key, value) = naming::MANAGED_BY;
    Some(
        Step::new(PRUNE_STEP, GCLOUD)
            .entrypoint("python3")
            .env("API", format!("https://{}-aiplatform.googleapis.com/v1", stage.var(vars::REGION)))
            .env("PARENT", format!("projects/{}/locations/{}", stage.var(vars::PROJECT), stage.var(vars::REGION)))
            .env("ENV_NAME", &env)
            .env("MANAGED_BY", format!("{key}={value}"))
            .env("PROJECT", literal(&format!("{}={}", naming::PROJECT_LABEL, model.project.name)))
            .env("CONFIGS", output_path(model, paths::CLOUDBUILD_DIR))
            .env("WANTED", output_path(model, &paths::schedules_dir(&env)))
            .args(["-c", &format!("{CLIENT}{PRUNE}")])
            .after(after)
            .timeout(300),
    )
}
