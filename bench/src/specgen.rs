//! Benchmark specs: `N` pipelines of `M` steps, with images, models, endpoints and schedules
//! scaled alongside, plus the kfp DSL twin of the same pipelines (environment `dev`).
//!
//! Every pipeline `pNNNN` is a chain of container steps (the last one outputs a model), then a
//! `model_upload` of its own model and an `endpoint_deploy` to its own endpoint; it runs on a
//! daily Composer schedule. Five pipelines share an image. Names follow the validator's rules
//! (project ≤ 20 characters, keys ≤ 30, buckets ≤ 63), so every generated spec validates.

use std::fmt::Write;

/// How big a benchmark spec is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Number of pipelines.
    pub pipelines: usize,
    /// Steps per pipeline (at least 3: one container step, the upload and the deploy).
    pub steps: usize,
}

impl Scale {
    /// `pipelines` pipelines of `steps` steps (raised to the minimum of 3).
    pub fn new(pipelines: usize, steps: usize) -> Self {
        Scale { pipelines: pipelines.max(1), steps: steps.max(3) }
    }

    /// Number of job images (one per five pipelines).
    pub fn images(&self) -> usize {
        self.pipelines.div_ceil(PIPELINES_PER_IMAGE)
    }

    /// Container steps per pipeline (all but the upload and the deploy).
    fn containers(&self) -> usize {
        self.steps - 2
    }
}

const PIPELINES_PER_IMAGE: usize = 5;
const PROJECT: &str = "bench";
const REGION: &str = "europe-west4";
const DEV_PROJECT: &str = "acme-bench-dev";

fn pipeline(i: usize) -> String {
    format!("p{i:04}")
}

fn image(i: usize) -> String {
    format!("job{:03}", i / PIPELINES_PER_IMAGE)
}

fn step(j: usize) -> String {
    format!("s{j:02}")
}

/// The last container step outputs `model`, the others `data`.
fn output_of(scale: &Scale, j: usize) -> &'static str {
    if j + 1 == scale.containers() { "model" } else { "data" }
}

/// The `mlops.yaml` text.
pub fn spec(scale: &Scale) -> String {
    let mut s = String::with_capacity(1024 * scale.pipelines * scale.steps.max(4) / 4 + 2048);
    let n = scale.pipelines;
    let _ = write!(
        s,
        "# Generated benchmark spec: {n} pipeline(s) x {m} step(s).\nversion: 1\n\nproject:\n  name: {PROJECT}\n  \
         description: Benchmark spec with {n} pipeline(s).\n  labels: {{team: ml-platform}}\n\nenvironments:\n  \
         dev:  {{gcp_project: {DEV_PROJECT}, region: {REGION}}}\n  prod: {{gcp_project: acme-bench-prod, region: {REGION}}}\n\n\
         terraform:\n  state_bucket: acme-bench-tf-state\n\nstorage:\n  pipeline_root: artifacts\n  buckets:\n    \
         artifacts: {{lifecycle: {{delete_after_days: 90}}}}\n    data: {{versioning: true}}\n\nimages:\n  server:\n    \
         context: images/server\n    base: python:3.12-slim\n    requirements: requirements.txt\n    \
         entrypoint: [gunicorn, \"app:app\"]\n    serving: {{port: 8080, health_route: /health, predict_route: /predict}}\n",
        m = scale.steps
    );
    for k in 0..scale.images() {
        let _ = write!(s, "  job{k:03}:\n    context: images/job{k:03}\n    base: python:3.12-slim\n    entrypoint: [python, -m, job]\n");
    }
    s.push_str("\npipelines:\n");
    for i in 0..n {
        write_pipeline(&mut s, scale, i);
    }
    s.push_str("\nmodels:\n");
    for i in 0..n {
        let _ = writeln!(s, "  m{i:04}: {{serving_image: server, description: Model of pipeline {}.}}", pipeline(i));
    }
    s.push_str("\nendpoints:\n");
    for i in 0..n {
        let _ = writeln!(s, "  ep{i:04}: {{machine_type: n1-standard-2, min_replicas: 1, max_replicas: 2}}");
    }
    let _ = write!(
        s,
        "\norchestration:\n  composer: {{image_version: composer-3-airflow-2.10.5, size: small}}\n\n\
         ci:\n  github: {{owner: acme, repo: bench, app_installation_id: 12345678, oauth_token_secret: github-oauth-token}}\n  \
         branch: main\n  \
         mlopsgen_image: {REGION}-docker.pkg.dev/{DEV_PROJECT}/images/mlopsgen@sha256:{digest}\n  test: [\"pytest -q\"]\n  run_pipeline: {first}\n\n\
         monitoring:\n  notify: [\"email:ml-oncall@acme.example\"]\n  alerts: {{pipeline_failures: true, build_failures: true, dag_failures: true}}\n",
        first = pipeline(0),
        digest = "0".repeat(64)
    );
    s
}

fn write_pipeline(s: &mut String, scale: &Scale, i: usize) {
    let (p, img) = (pipeline(i), image(i));
    let _ = write!(
        s,
        "  {p}:\n    description: Benchmark pipeline {i}.\n    parameters:\n      lr: {{type: float, default: 0.1}}\n    steps:\n"
    );
    for j in 0..scale.containers() {
        let (name, out) = (step(j), output_of(scale, j));
        let _ = write!(s, "      {name}:\n        kind: container\n        image: {img}\n");
        if j == 0 {
            let _ = writeln!(s, "        args: [{name}, --lr, \"{{{{params.lr}}}}\", --out, \"{{{{outputs.{out}}}}}\"]");
        } else {
            let _ = writeln!(s, "        inputs: {{data: {}.data}}", step(j - 1));
            let _ = writeln!(s, "        args: [{name}, --in, \"{{{{inputs.data}}}}\", --out, \"{{{{outputs.{out}}}}}\"]");
        }
        let kind = if out == "model" { "Model" } else { "Dataset" };
        let _ = writeln!(s, "        outputs: {{{out}: {kind}}}");
    }
    let last = step(scale.containers() - 1);
    let _ = write!(
        s,
        "      register:\n        kind: model_upload\n        model: m{i:04}\n        inputs: {{model: {last}.model}}\n\
         \x20     deploy:\n        kind: endpoint_deploy\n        endpoint: ep{i:04}\n        inputs: {{model: register.model}}\n        \
         traffic_percent: 100\n    schedule: {{cron: \"{} {} * * *\"}}\n",
        i % 60,
        (i / 60) % 24
    );
}

/// The kfp DSL twin of the spec's pipelines (environment `dev`) as a Python module defining
/// `PIPELINES = {name: pipeline_function}`. It imports `shared` from
/// `tests/conformance/kfp_parity/` (the converter and endpoint-importer tasks mlopsgen adds).
pub fn kfp_dsl(scale: &Scale) -> String {
    let mut s = String::with_capacity(1024 * scale.pipelines * scale.steps.max(4) / 4 + 2048);
    let _ = write!(
        s,
        "\"\"\"kfp DSL twin of the generated benchmark spec ({n} pipeline(s) x {m} step(s), environment dev).\"\"\"\n\
         from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp\n\
         from google_cloud_pipeline_components.v1.model import ModelUploadOp\n\
         from kfp import dsl\n\n\
         from shared import container_spec, endpoint_importer, unmanaged_model\n\n\
         PROJECT, REGION = {DEV_PROJECT:?}, {REGION:?}\n\
         REPO = f\"{{REGION}}-docker.pkg.dev/{{PROJECT}}/{PROJECT}-images\"\n\
         ROOT = \"gs://{DEV_PROJECT}-artifacts/pipeline-root\"\n\
         LABELS = {{\"env\": \"dev\", \"managed-by\": \"mlopsgen\", \"team\": \"ml-platform\"}}\n\
         SERVING_SA = f\"{PROJECT}-serving@{{PROJECT}}.iam.gserviceaccount.com\"\n\
         SERVING = container_spec(f\"{{REPO}}/server:dev\", 8080, \"/health\", \"/predict\")\n\n\n\
         def first(image, name):\n    @dsl.container_component\n    \
         def step(lr: float, data: dsl.Output[dsl.Dataset]):\n        \
         return dsl.ContainerSpec(image=image, command=[\"python\", \"-m\", \"job\"], args=[name, \"--lr\", lr, \"--out\", data.path])\n    \
         return step\n\n\n\
         def middle(image, name):\n    @dsl.container_component\n    \
         def step(data_in: dsl.Input[dsl.Dataset], data: dsl.Output[dsl.Dataset]):\n        \
         return dsl.ContainerSpec(image=image, command=[\"python\", \"-m\", \"job\"], args=[name, \"--in\", data_in.path, \"--out\", data.path])\n    \
         return step\n\n\n\
         def last(image, name, first_step):\n    if first_step:\n        @dsl.container_component\n        \
         def step(lr: float, model: dsl.Output[dsl.Model]):\n            \
         return dsl.ContainerSpec(image=image, command=[\"python\", \"-m\", \"job\"], args=[name, \"--lr\", lr, \"--out\", model.path])\n        \
         return step\n\n    @dsl.container_component\n    \
         def step(data_in: dsl.Input[dsl.Dataset], model: dsl.Output[dsl.Model]):\n        \
         return dsl.ContainerSpec(image=image, command=[\"python\", \"-m\", \"job\"], args=[name, \"--in\", data_in.path, \"--out\", model.path])\n    \
         return step\n\n\n\
         def deploy_tail(pipeline, model_key, endpoint_id, model):\n    \
         convert = unmanaged_model(model=model, container_spec=SERVING).set_display_name(\"register-unmanaged-model\")\n    \
         register = ModelUploadOp(display_name=f\"{PROJECT}-{{model_key}}\", description=f\"Model of pipeline {{pipeline}}.\",\n        \
         unmanaged_container_model=convert.outputs[\"unmanaged_container_model\"], labels=LABELS, project=PROJECT,\n        \
         location=REGION).set_display_name(\"register\")\n    \
         endpoint = endpoint_importer(REGION, PROJECT, endpoint_id).set_display_name(\"deploy-endpoint\")\n    \
         ModelDeployOp(model=register.outputs[\"model\"], endpoint=endpoint.outputs[\"artifact\"],\n        \
         dedicated_resources_machine_type=\"n1-standard-2\", dedicated_resources_min_replica_count=1,\n        \
         dedicated_resources_max_replica_count=2, traffic_split={{\"0\": 100}}, service_account=SERVING_SA,\n        \
         ).set_display_name(\"deploy\")\n\n\nPIPELINES = {{}}\n",
        n = scale.pipelines,
        m = scale.steps
    );
    for i in 0..scale.pipelines {
        write_dsl_pipeline(&mut s, scale, i);
    }
    s
}

fn write_dsl_pipeline(s: &mut String, scale: &Scale, i: usize) {
    let (p, img, c) = (pipeline(i), image(i), scale.containers());
    let _ = write!(
        s,
        "\n\n@dsl.pipeline(name=\"{PROJECT}-{p}\", pipeline_root=f\"{{ROOT}}/{p}\", description=\"Benchmark pipeline {i}.\")\n\
         def {p}(lr: float = 0.1):\n    image = f\"{{REPO}}/{img}:dev\"\n"
    );
    for j in 0..c {
        let name = step(j);
        let call = match (j == 0, j + 1 == c) {
            (true, true) => format!("last(image, {name:?}, True)(lr=lr)"),
            (true, false) => format!("first(image, {name:?})(lr=lr)"),
            (false, true) => format!("last(image, {name:?}, False)(data_in=t.outputs[\"data\"])"),
            (false, false) => format!("middle(image, {name:?})(data_in=t.outputs[\"data\"])"),
        };
        let _ = writeln!(s, "    t = {call}.set_display_name({name:?})");
    }
    let _ = write!(
        s,
        "    deploy_tail({p:?}, \"m{i:04}\", {id}, t.outputs[\"model\"])\n\n\nPIPELINES[{p:?}] = {p}\n",
        id = mlopsgen::model::naming::endpoint_id(PROJECT, &format!("ep{i:04}"))
    );
}
