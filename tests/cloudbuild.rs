//! Cloud Build configs against the model: every image URI, bucket, service account, template
//! path and DAG folder a build touches, once its substitutions are expanded for an environment,
//! is the string `Environment` gives Terraform and the pipelines. Also: spec `$` stays literal.

use mlopsgen::model::{paths, Environment, Model, SaRole};
use mlopsgen::model::iam::Member;
use mlopsgen::model::delivery::{variables, workflows, Workflow};
use mlopsgen::targets::cloudbuild::{live_references, subst};
use mlopsgen::{compile, Compilation, Options, Source};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[path = "support/subst.rs"]
mod subst_support;
use subst_support::expand;
#[path = "support/cloudbuild_config.rs"]
mod cloudbuild_config;
use cloudbuild_config::{latest_finish, steps, strings, upstream};

const SHA: &str = "abc1234";

fn compile_text(text: &str) -> Compilation {
    compile_text_at(text, "specs/flagship.yaml")
}

fn compile_text_at(text: &str, name: &str) -> Compilation {
    let source = Source { name: name.into(), text: text.to_owned() };
    let options = Options { spec_file: name.into(), out_override: None };
    match compile(&source, &options) {
        Ok(c) => c,
        Err(mlopsgen::Error::Invalid(d)) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    }
}

fn flagship_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(text: &str) -> Value {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn expand_all(value: &Value, values: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(expand(s, values)),
        Value::Array(items) => Value::Array(items.iter().map(|v| expand_all(v, values)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), expand_all(v, values))).collect()),
        other => other.clone(),
    }
}

/// The values a triggered build for `env` sees.
fn trigger_values(model: &Model, env: &Environment) -> BTreeMap<String, String> {
    let commit = format!("{SHA}0000000000000000000000000000000000");
    subst_support::for_build(variables(model, env), &commit, "the-build", "the-trigger-identity@example.iam.gserviceaccount.com")
}

fn step<'a>(build: &'a Value, id: &str) -> &'a Value {
    steps(build).into_iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id}"))
}

/// The rest of the first entry of `list` that starts with `prefix`.
fn after_prefix(step: &Value, list: &str, prefix: &str) -> String {
    strings(&step[list])
        .iter()
        .find_map(|a| a.strip_prefix(prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {prefix} in {step}"))
}

/// The value of a `--flag=value` argument of a step.
fn flag(step: &Value, name: &str) -> String {
    after_prefix(step, "args", &format!("--{name}="))
}

/// The value of a `KEY=value` environment entry of a step.
fn env_of(step: &Value, key: &str) -> String {
    after_prefix(step, "env", &format!("{key}="))
}

fn in_output(model: &Model, rel: &str) -> String {
    format!("{}/{rel}", model.output_dir)
}

#[test]
fn every_config_declares_exactly_its_live_substitutions_and_wires_its_steps() {
    let c = compile_text(&flagship_text());
    let names: Vec<&str> = workflows(&c.model).into_iter().map(Workflow::name).collect();
    assert_eq!(names, vec!["pr", "cd", "release", "review"]);
    let defaults = variables(&c.model, c.model.default_env());
    for name in names {
        let text = c.output.get(&paths::cloudbuild(name)).unwrap_or_else(|| panic!("{name} missing"));
        let build = parse(text);
        let live: BTreeSet<String> = live_references(&build).unwrap_or_else(|e| panic!("{e}")).into_iter().collect();
        let declared: BTreeMap<String, String> =
            serde_json::from_value(build["substitutions"].clone()).unwrap_or_default();
        for reference in &live {
            assert!(
                declared.contains_key(reference) || subst::BUILT_INS.contains(&reference.as_str()),
                "{name}: `{reference}` undeclared"
            );
        }
        for (key, value) in &declared {
            assert!(subst::is_user_key(key) && live.contains(key), "{name}: `{key}` declared but unused");
            let switch = subst::SWITCHES.contains(&key.as_str()).then(String::new);
            assert_eq!(Some(value), defaults.get(key).or(switch.as_ref()), "{name}: default of {key}");
        }
        // No account in the file: the trigger's (each environment's own) is the only one named.
        assert!(build.get("serviceAccount").is_none(), "{name}");
        assert_eq!(build["options"]["logging"], "CLOUD_LOGGING_ONLY");
        let mut seen = BTreeSet::new();
        for s in steps(&build) {
            for wait in strings(&s["waitFor"]) {
                assert!(wait == "-" || seen.contains(&wait), "{name}: {} waits for unknown or later `{wait}`", s["id"]);
            }
            assert!(s["timeout"].as_str().is_some_and(|t| t.ends_with('s')), "{name}: {} has no timeout", s["id"]);
            assert!(seen.insert(s["id"].as_str().unwrap_or_default().to_owned()), "{name}: duplicate id {}", s["id"]);
        }
    }
}

#[test]
fn cd_touches_the_resources_terraform_and_the_pipelines_name() {
    let c = compile_text(&flagship_text());
    let (m, env) = (&c.model, c.model.default_env());
    let build = expand_all(&parse(c.output.get(&paths::cloudbuild("cd")).unwrap_or_default()), &trigger_values(m, env));
    let mut images = Vec::new();
    for image in &m.images {
        let built = step(&build, &format!("build-{}", image.key));
        let dockerfile = flag(built, "file");
        assert_eq!(dockerfile, in_output(m, &paths::dockerfile(&image.key)));
        assert!(c.output.get(&paths::dockerfile(&image.key)).is_some());
        assert_eq!(strings(&built["args"]).last(), Some(&image.context));
        assert_eq!(flag(built, "cache-from"), env.image_ref(&image.key));
        images.extend([env.image_uri(&image.key, SHA), env.image_ref(&image.key)]);
    }
    assert_eq!(strings(&build["images"]), images);
    for p in &m.pipelines {
        let upload = step(&build, &format!("upload-{}", p.key));
        let file = format!(
            "{}/{}",
            upload["dir"].as_str().unwrap_or_default(),
            strings(&upload["args"]).last().cloned().unwrap_or_default()
        );
        assert_eq!(file, in_output(m, &paths::pipeline_json(&env.name, &p.key)));
        assert_eq!(env_of(upload, "KFP_REPO"), env.kfp_repo());
        assert_eq!(env_of(upload, "TAGS"), format!("{SHA},{}", env.name));
        assert!(env.template_uri(p).starts_with(&format!("{}/{}/", env.kfp_repo(), p.name)));
    }
    let dags = strings(&step(&build, "sync-dags")["args"]);
    assert_eq!(dags[dags.len() - 2..], [in_output(m, &paths::dags_dir(&env.name)), env.composer_dag_folder()]);
    assert!(env.composer_dag_folder().starts_with(&format!("gs://{}/dags/", env.composer_bucket())));
    for s in &m.services {
        let deploy = step(&build, &format!("deploy-service-{}", s.key));
        assert_eq!(flag(deploy, "image"), env.image_uri(&s.image, SHA));
        assert_eq!(flag(deploy, "service-account"), env.sa_email(SaRole::Serving));
        assert_eq!((flag(deploy, "region"), flag(deploy, "project")), (env.region.clone(), env.gcp_project.clone()));
        // The revision's secrets are exactly the spec's (gcloud would otherwise keep the previous
        // revision's): each `env: {X: {secret: s, version: v}}` as `X=s:v`, or none at all.
        let spec_secrets: BTreeSet<String> = s.access.secret_env.iter().map(|(k, v)| format!("{k}={}:{}", v.secret, v.version)).collect();
        if spec_secrets.is_empty() {
            assert!(strings(&deploy["args"]).contains(&"--clear-secrets".to_owned()), "{}", s.key);
        } else {
            let set: BTreeSet<String> = flag(deploy, "set-secrets").split(',').map(str::to_owned).collect();
            assert_eq!(set, spec_secrets, "{}", s.key);
        }
    }
    assert!(m.services.iter().any(|s| !s.access.secret_env.is_empty()), "the flagship has no service taking a secret");
    for f in &m.functions {
        let package = step(&build, &format!("package-function-{}", f.key));
        assert_eq!(package["dir"].as_str(), Some(f.source.as_str()));
        let archive = strings(&package["args"]).into_iter().nth(3).unwrap_or_default();
        // The archive goes where Terraform creates the function from and the deploy reads it.
        let stage = step(&build, &format!("stage-function-{}", f.key));
        let object = format!("{}/{}", env.bucket_url(&m.pipeline_root_bucket), f.source_object());
        assert_eq!(strings(&stage["args"]), ["storage".to_owned(), "cp".to_owned(), archive, object.clone()]);
        assert_eq!(package["volumes"], stage["volumes"]);
        let deploy = step(&build, &format!("deploy-function-{}", f.key));
        assert!(upstream(&build, deploy["id"].as_str().unwrap_or_default()).contains(stage["id"].as_str().unwrap_or_default()));
        assert_eq!(env_of(deploy, "NAME"), f.name);
        assert_eq!(env_of(deploy, "OBJECT"), object);
        assert_eq!(env_of(deploy, "SERVICE_ACCOUNT"), env.sa_email(SaRole::Functions));
        assert_eq!(env_of(deploy, "BUILD_SERVICE_ACCOUNT"), env.sa_resource(SaRole::Functions));
        assert_eq!((env_of(deploy, "RUNTIME"), env_of(deploy, "ENTRY_POINT")), (f.runtime.clone(), f.entry_point.clone()));
    }
    let run = m.ci.as_ref().and_then(|ci| ci.run_pipeline.as_deref()).and_then(|k| m.pipeline(k));
    let run = run.unwrap_or_else(|| panic!("flagship runs a pipeline"));
    let started = step(&build, &format!("run-{}", run.key));
    assert_eq!(env_of(started, "TEMPLATE_URI"), env.template_uri(run));
    assert_eq!(env_of(started, "PIPELINE_ROOT"), env.pipeline_root(&m.pipeline_root_bucket, run));
    assert_eq!(env_of(started, "SERVICE_ACCOUNT"), env.sa_email(SaRole::Pipelines));
}

#[test]
fn release_promotes_into_every_next_environment() {
    let c = compile_text(&flagship_text());
    let m = &c.model;
    let text = c.output.get(&paths::cloudbuild("release")).unwrap_or_default();
    for pair in m.environments.windows(2) {
        let (env, next) = (&pair[0], &pair[1]);
        let build = expand_all(&parse(text), &trigger_values(m, env));
        for image in &m.images {
            let promote = step(&build, &format!("promote-{}", image.key));
            // What was deployed here (its mark, which `wait-deployed` waited for), not `:<sha>`,
            // which a re-run of CD for the commit may have moved to an image it never deployed.
            assert_eq!(env_of(promote, "SRC"), env.image_uri(&image.key, &format!("deployed-{SHA}")));
            assert_eq!(format!("{}:{}", env_of(promote, "DST"), next.image_tag()), next.image_ref(&image.key));
        }
        assert!(strings(&build["images"]).contains(&next.image_ref(&m.images[0].key)));
        for p in &m.pipelines {
            let upload = step(&build, &format!("upload-{}", p.key));
            assert_eq!(
                upload["dir"].as_str().map(|d| format!("{d}/{}.json", p.key)),
                Some(in_output(m, &paths::pipeline_json(&next.name, &p.key)))
            );
            assert_eq!(env_of(upload, "KFP_REPO"), next.kfp_repo());
        }
        assert_eq!(strings(&step(&build, "sync-dags")["args"]).last(), Some(&next.composer_dag_folder()));
        for s in &m.services {
            assert_eq!(
                flag(step(&build, &format!("deploy-service-{}", s.key)), "image"),
                next.image_uri(&s.image, SHA)
            );
        }
        for f in &m.functions {
            let deploy = step(&build, &format!("deploy-function-{}", f.key));
            let object = format!("{}/{}", next.bucket_url(&m.pipeline_root_bucket), f.source_object());
            assert_eq!((env_of(deploy, "OBJECT"), env_of(deploy, "PROJECT")), (object, next.gcp_project.clone()));
        }
    }
}

#[test]
fn dollars_from_the_spec_stay_literal() {
    let hostile = r#"echo "$HOME" ${X} $$ $1 '{{ x }}' %{y} {% z %}"#;
    let text = flagship_text().replace(
        r#"lint: ["ruff check ."]"#,
        &format!("lint: [{}]", serde_json::to_string(hostile).unwrap_or_default()),
    );
    let c = compile_text(&text);
    let pr = c.output.get(&paths::cloudbuild("pr")).unwrap_or_default();
    assert!(pr.contains(r#"echo "$$HOME" $${X} $$$$ $$1"#), "{pr}");
    let build = parse(pr);
    let lint = step(&build, "lint-1");
    let activate = ". /ci-venv/bin/activate\n";
    assert_eq!(strings(&lint["args"]), vec!["-c".to_owned(), format!("{activate}{}", subst::literal(hostile))]);
    // The only live references are the generator's own (those of the unedited flagship's file).
    let live = live_references(&build).unwrap_or_else(|e| panic!("{e}"));
    let plain = compile_text(&flagship_text());
    let own = live_references(&parse(plain.output.get(&paths::cloudbuild("pr")).unwrap_or_default())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(live, own);
    let expanded = expand_all(&build, &trigger_values(&c.model, c.model.default_env()));
    assert_eq!(strings(&step(&expanded, "lint-1")["args"])[1], format!("{activate}{hostile}"));
}

#[test]
fn a_single_environment_without_ci_gets_no_configs() {
    let minimal =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/minimal.yaml")).unwrap_or_default();
    let c = compile_text(&minimal);
    assert!(workflows(&c.model).is_empty());
    assert!(c.output.files().all(|(p, _)| !p.starts_with("cloudbuild/")));
}

#[test]
fn pr_checks_every_dataset_sample_with_the_generated_validator() {
    let c = compile_text(&flagship_text());
    let build = parse(c.output.get(&paths::cloudbuild("pr")).unwrap_or_default());
    let (install, check) = (step(&build, "validator-deps"), step(&build, "data-samples"));
    // Both run in the validator's build context, which the validation target writes.
    let requirements = paths::validator_file("requirements.txt");
    assert!(c.output.get(&requirements).is_some());
    let dir = check["dir"].as_str().unwrap_or_default();
    assert_eq!(install["dir"], dir);
    let args = strings(&install["args"]);
    assert_eq!(format!("{dir}/{}", args.last().map(String::as_str).unwrap_or_default()), in_output(&c.model, &requirements));
    assert_eq!(strings(&check["args"]), ["-m", paths::VALIDATOR_PACKAGE, "samples", "--root", "/workspace"]);
    assert_eq!(env_of(check, "PYTHONPATH"), "/validator-deps");
    assert_eq!(strings(&check["waitFor"]), ["validator-deps", "mlopsgen-check"]);
    assert_eq!(install["name"], check["name"]);
    // The flagship's samples are files in this repository (the root of `specs/flagship.yaml`).
    for d in c.model.datasets.iter().filter_map(|d| d.sample.as_deref()) {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(d).is_file(), "sample {d} missing");
    }
    // A `$` in the output directory reaches the step literally.
    let c = compile_text(&flagship_text().replace("output: ../generated/flagship", "output: \"../gen $HOME/${X}\""));
    let build = parse(c.output.get(&paths::cloudbuild("pr")).unwrap_or_default());
    let expanded = expand_all(&build, &trigger_values(&c.model, c.model.default_env()));
    assert_eq!(step(&expanded, "data-samples")["dir"], "gen $HOME/${X}/validation");
    // Without samples there is nothing to check.
    let c = compile_text(&flagship_text().replace("    sample: data/samples/customers.csv\n", ""));
    let build = parse(c.output.get(&paths::cloudbuild("pr")).unwrap_or_default());
    assert!(steps(&build).iter().all(|s| s["id"] != "validator-deps" && s["id"] != "data-samples"));
}

/// Pull requests run the PR's code, so their identity may only read (no push, deploy or actAs);
/// CD and releases each run as their own identity, and only a release's identity holds rights in
/// the environment it promotes to.
#[test]
fn each_build_runs_as_its_own_identity_and_pr_builds_only_read() {
    let c = compile_text(&flagship_text());
    let m = &c.model;
    let identities = [Workflow::Checks, Workflow::Deploy, Workflow::Release].map(Workflow::identity);
    assert_eq!(identities, [SaRole::Checks, SaRole::Ci, SaRole::Promote]);
    let roles = |who: Member| m.grants.iter().filter(move |g| g.member == who).map(|g| g.role).collect::<BTreeSet<_>>();
    let reader_and_logs = BTreeSet::from(["roles/artifactregistry.reader", "roles/logging.logWriter"]);
    // The PR identity also reads the repository (the base branch, for the semantic diff).
    let mut pr_reads = reader_and_logs.clone();
    pr_reads.insert("roles/cloudbuild.readTokenAccessor");
    assert_eq!(roles(Member::Sa(SaRole::Checks)), pr_reads, "the PR identity");
    // In its own environment the release identity only reads the images it copies onward and
    // the builds (its review build's record of the plan it applies)…
    let mut release_reads = reader_and_logs.clone();
    release_reads.insert("roles/cloudbuild.builds.viewer");
    assert_eq!(roles(Member::Sa(SaRole::Promote)), release_reads, "the release identity at home");
    // …and it is the one that deploys into the next environment (the CI SA holds nothing there).
    let deploys = roles(Member::Promoter);
    assert!(deploys.contains("roles/artifactregistry.writer") && deploys.contains("roles/run.developer"), "{deploys:?}");
    let tf = c.output.get("terraform/env/prod.tfvars").unwrap_or_default();
    let promoter = tf.lines().find(|l| l.split('=').next().map(str::trim) == Some("promoter_sa")).unwrap_or_default();
    assert!(promoter.contains(&format!("\"{}\"", m.default_env().sa_email(SaRole::Promote))), "{tf}");
    let ci = m.default_env().sa_email(SaRole::Ci);
    assert!(!tf.contains(&ci), "prod names the dev CI SA: {tf}");
}

/// One triggered build of the three-environment example, expanded for the environment it runs in.
struct Run {
    label: String,
    /// The `deployed-` mark it waits for before anything else (release builds).
    waits_for: Option<String>,
    /// Repositories it reads images from.
    reads: Vec<String>,
    /// The mark its last step writes.
    marks: String,
}

/// Walks `specs/promotion.yaml`'s triggers: a release tag pushed while dev's CD still runs starts
/// every release trigger at once. Each release waits for the `deployed-` mark of its own
/// environment, which only the build that deployed the commit there writes, as its last step
/// after every other one; so the builds can only complete in promotion order, and no image is
/// read from a repository before the commit's deployment there finished. Prod's trigger also
/// waits for approval.
#[test]
fn a_release_tag_promotes_through_three_environments_in_order() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/promotion.yaml")).unwrap_or_default();
    let c = compile_text(&text);
    let m = &c.model;
    let names: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod"]);
    let mut runs = Vec::new();
    for (i, env) in m.environments.iter().enumerate() {
        let values = trigger_values(m, env);
        for kind in mlopsgen::targets::terraform::triggers(m, i).into_iter().filter(|k| !matches!(*k, "pr" | "review")) {
            let raw = parse(c.output.get(&paths::cloudbuild(kind)).unwrap_or_default());
            let build = expand_all(&raw, &values);
            let ids: Vec<String> = steps(&build).iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect();
            // The mark is the last step and comes after every other step.
            let mark = step(&build, "mark-deployed");
            assert_eq!(ids.last().map(String::as_str), Some("mark-deployed"), "{kind} in {}", env.name);
            let before = upstream(&build, "mark-deployed");
            assert_eq!(before.len(), ids.len() - 1, "{kind} in {}: the mark does not wait for every step", env.name);
            let marks = format!("{}/job:deployed-{SHA}", env_of(mark, "REPO"));
            let (waits_for, reads) = if kind == "release" {
                let wait = step(&build, "wait-deployed");
                assert_eq!(strings(&wait["waitFor"]), ["-"]);
                // `take-turn` only lists builds; it runs beside the wait (`tests/deploy_turns.rs`).
                for id in ids.iter().filter(|id| !matches!(id.as_str(), "wait-deployed" | "take-turn")) {
                    assert!(upstream(&build, id).contains("wait-deployed"), "release in {}: {id} does not wait", env.name);
                }
                let source = env_of(step(&build, "promote-job"), "SRC");
                (Some(format!("{}/job:deployed-{SHA}", env_of(wait, "REPO"))), vec![source])
            } else {
                (None, Vec::new())
            };
            runs.push(Run { label: format!("{kind}@{}", env.name), waits_for, reads, marks });
        }
    }
    // Everything starts at once; a run completes when its mark exists.
    let mut marked: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < runs.len() {
        let ready = runs.iter().find(|r| !order.contains(&r.label) && r.waits_for.as_ref().is_none_or(|w| marked.contains(w)));
        let run = ready.unwrap_or_else(|| panic!("stuck after {order:?}"));
        for read in &run.reads {
            let repo = read.rsplit_once("/job:").map(|(r, _)| r).unwrap_or_default();
            assert!(marked.contains(&format!("{repo}/job:deployed-{SHA}")), "{} reads {read} before it was deployed", run.label);
        }
        marked.insert(run.marks.clone());
        order.push(run.label.clone());
    }
    assert_eq!(order, ["cd@dev", "release@dev", "release@staging"]);
    // release@dev deploys to staging, release@staging to prod: only the latter waits for approval.
    let cicd = c.output.get("terraform/cicd.tf").unwrap_or_default();
    assert!(cicd.contains("approval_required = lookup(var.build_substitutions, \"_NEXT_ENV\", \"\") == \"prod\""), "{cicd}");
    let next: Vec<Option<String>> = m.environments.iter().map(|e| variables(m, e).get("_NEXT_ENV").cloned()).collect();
    assert_eq!(next, [Some("staging".to_owned()), Some("prod".to_owned()), None]);
    let opted_out = compile_text(&text.replace("approve_last: true", "approve_last: false"));
    assert!(!opted_out.output.get("terraform/cicd.tf").unwrap_or_default().contains("approval_config"));
}

/// What a step of a deploy or release build delivers, by its id (`None`: a wait, a join, a plan).
fn delivered_by(id: &str) -> Option<String> {
    let keyed = [
        ("build-", "image"),
        ("push-", "image"),
        ("promote-", "image"),
        ("upload-", "template"),
        ("schedule-", "schedule"),
        ("deploy-service-", "service"),
        ("package-function-", "function"),
        ("stage-function-", "function"),
        ("deploy-function-", "function"),
    ];
    match id {
        "tf-apply" => Some("terraform".to_owned()),
        "sync-dags" => Some("dags".to_owned()),
        "prune-schedules" => Some("stale-schedules".to_owned()),
        _ => keyed.iter().find_map(|(prefix, kind)| id.strip_prefix(prefix).map(|key| format!("{kind}:{key}"))),
    }
}

/// The IAM grants and the proof's acts of the deploying identities are derived from the delivery
/// plan, not from the build files: so the deploy and release builds of every example must deliver
/// exactly what the plan says some environment gets, or an identity would lack (or hold more
/// than) what its steps need.
#[test]
fn the_builds_deliver_exactly_the_delivery_plan() {
    use mlopsgen::model::delivery::{deliverables, Deliverable};
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    for spec in ["flagship", "minimal", "promotion", "forecast"] {
        let text = std::fs::read_to_string(specs.join(format!("{spec}.yaml"))).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let c = compile_text(&text);
        let m = &c.model;
        if m.ci.is_none() {
            assert!(workflows(m).is_empty(), "{spec}: workflows without `ci`");
            continue;
        }
        let mut planned = BTreeSet::new();
        for view in mlopsgen::model::presence::views(m) {
            planned.extend(deliverables(view).into_iter().map(|d| match d {
                Deliverable::Image(i) => format!("image:{}", i.key),
                Deliverable::Terraform => "terraform".to_owned(),
                Deliverable::Template(p) => format!("template:{}", p.key),
                Deliverable::Dags => "dags".to_owned(),
                Deliverable::Schedule(p) => format!("schedule:{}", p.key),
                Deliverable::StaleSchedules => "stale-schedules".to_owned(),
                Deliverable::Service(s) => format!("service:{}", s.key),
                Deliverable::Function(f) => format!("function:{}", f.key),
            }));
        }
        let names: Vec<&str> = workflows(m).into_iter().map(Workflow::name).collect();
        assert_eq!(names.contains(&"cd"), !planned.is_empty(), "{spec}: a deploy build exists exactly when there is something to deliver");
        for workflow in [Workflow::Deploy, Workflow::Release].into_iter().filter(|w| names.contains(&w.name())) {
            let file = paths::cloudbuild(workflow.name());
            let build = parse(c.output.get(&file).unwrap_or_else(|| panic!("{spec}: {file} missing")));
            let done: BTreeSet<String> = steps(&build).iter().filter_map(|s| delivered_by(s["id"].as_str().unwrap_or_default())).collect();
            assert_eq!(done, planned, "{spec}: {file}");
        }
    }
}

/// Cloud Build stops a build when its `timeout`, counted from its start, runs out, whatever its
/// steps are doing (REST `Build.timeout`). So every config must have room for its longest chain
/// of step timeouts through `waitFor` (a release once had three hours for a chain of over five),
/// plus the margin `cloudbuild/budget.rs` keeps for fetching, pulling and pushing, and, being
/// derived from the steps, not much more. An override that lengthens a step moves the budget; an
/// override of `/timeout` is kept; a chain longer than a day is an error at the override.
#[test]
fn every_build_has_room_for_its_longest_chain_of_step_timeouts() {
    let room = |text: &str| -> (u64, u64) {
        let build = parse(text);
        let chain = latest_finish(&build).into_iter().map(|(_, end)| end).max().unwrap_or(0);
        let timeout = build["timeout"].as_str().and_then(|t| t.strip_suffix('s')).and_then(|t| t.parse().ok());
        (chain, timeout.unwrap_or_else(|| panic!("no timeout in seconds:\n{text}")))
    };
    let mut seen = 0;
    for spec in ["flagship", "promotion", "forecast", "minimal"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("specs/{spec}.yaml"));
        let c = compile_text_at(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")), &format!("specs/{spec}.yaml"));
        for workflow in workflows(&c.model) {
            let text = c.output.get(&paths::cloudbuild(workflow.name())).unwrap_or_else(|| panic!("{spec}: no {}", workflow.name()));
            let (chain, timeout) = room(text);
            assert!(
                (chain + 600..chain + 660).contains(&timeout),
                "{spec} {}: timeout {timeout} s for a {chain} s chain of steps",
                workflow.name()
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} configs");

    let release = |overrides: &str| {
        let text = flagship_text().replacen("\noverrides:\n", &format!("\noverrides:\n  cloudbuild:\n    release:\n{overrides}"), 1);
        let c = compile_text(&text);
        room(c.output.get(&paths::cloudbuild("release")).unwrap_or_else(|| panic!("no release")))
    };
    let (before, _) = release("      /options/machineType: E2_HIGHCPU_32\n");
    let (chain, timeout) = release("      /steps/tf-apply/timeout: 20000s\n");
    assert!(chain >= before + 20000 - 3600, "the override did not lengthen the chain: {before} -> {chain}");
    assert!((chain + 600..chain + 660).contains(&timeout), "timeout {timeout} s for a {chain} s chain after the override");
    assert_eq!(release("      /steps/tf-apply/timeout: 20000s\n      /timeout: 7200s\n").1, 7200);

    let text = flagship_text().replacen("\noverrides:\n", "\noverrides:\n  cloudbuild:\n    release:\n      /steps/tf-apply/timeout: 90000s\n", 1);
    let source = Source { name: "specs/flagship.yaml".into(), text };
    let options = Options { spec_file: "specs/flagship.yaml".into(), out_override: None };
    match compile(&source, &options) {
        Err(mlopsgen::Error::Invalid(d)) => {
            let shown = mlopsgen::diagnostic::render(&source, &d, false);
            assert!(shown.contains("E020") && shown.contains("more than the 86400 s"), "{shown}");
            assert!(shown.contains("/steps/tf-apply/timeout"), "not at the override: {shown}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a chain of over a day compiled"),
    }
}

/// Cloud Build rejects a build whose named volume only one step uses (`BuildStep.volumes`: "must
/// be used by at least two build steps"; the API answers `Volume "…" is only used by one step`),
/// before any step runs. Every config of every example, and of a spec whose one pipeline has no
/// Vertex AI schedule (its upload keeps no version for a schedule step to read), passes.
#[test]
fn every_named_volume_is_shared_by_two_steps() {
    let promotion = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/promotion.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let schedule = "    schedule: {cron: \"0 6 * * 1-5\", time_zone: America/New_York, orchestrator: vertex}\n";
    assert!(promotion.contains(schedule));
    let mut compilations: Vec<(String, Compilation)> = ["minimal", "flagship", "promotion", "forecast"]
        .into_iter()
        .map(|s| {
            let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("specs/{s}.yaml"))).unwrap_or_else(|e| panic!("{e}"));
            (s.to_owned(), compile_text_at(&text, &format!("specs/{s}.yaml")))
        })
        .collect();
    compilations.push(("promotion without a schedule".into(), compile_text_at(&promotion.replace(schedule, ""), "specs/promotion.yaml")));
    let mut volumes = 0;
    for (name, c) in &compilations {
        for (path, text) in c.output.files().filter(|(p, _)| p.starts_with("cloudbuild/") && p.ends_with(".yaml")) {
            let build = parse(text);
            let mut uses: BTreeMap<String, usize> = BTreeMap::new();
            for step in build["steps"].as_array().into_iter().flatten() {
                for v in step["volumes"].as_array().into_iter().flatten() {
                    *uses.entry(v["name"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
                }
            }
            for (volume, n) in &uses {
                assert!(*n >= 2, "{name} {path}: volume `{volume}` is used by {n} step(s)");
            }
            volumes += uses.len();
        }
    }
    assert!(volumes >= 4, "{volumes}");
}
