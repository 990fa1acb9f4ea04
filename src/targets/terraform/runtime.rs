//! `runtime.tf`: Cloud Run services, Cloud Functions (2nd gen) and the Cloud Composer 3 environment.
//!
//! Terraform owns the services' and functions' configuration; CD owns their code (see
//! `cloudbuild::deploy`), so Terraform ignores the image and the source after creating them. A
//! service is created on [`PLACEHOLDER_IMAGE`] until CD rolls it onto the built one; a function is
//! created from the source the first CD uploads, so an environment's first apply runs with
//! `-var=create_functions=false` (the order is spelled out in `bootstrap.sh`).

use super::iam::address;
use super::syntax::{
    block, bool, count_if, ident, iref, list, lit, num, object, r, resource, ri, s, tpl, var, BlockExt, Item, TfFile,
};
use super::{api, bucket, sa, secrets, storage};
use crate::model::access::{env_parts, EnvPart, Kind, Ref};
use crate::model::iam::{Agent, Member, Scope};
use crate::model::{ComposerSize, DataSource, Function, Model, SaRole, Service};
use hcl::expr::Expression;
use std::collections::BTreeMap;

/// Google's sample container a service runs until CD deploys its image (it answers every path).
pub const PLACEHOLDER_IMAGE: &str = "us-docker.pkg.dev/cloudrun/container/hello";

/// `var.create_functions`: false on an environment's first apply, before CD uploaded the sources.
pub const CREATE_FUNCTIONS: &str = "create_functions";

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    for sv in &m.services {
        service(&mut f, m, sv);
    }
    for func in &m.functions {
        function(&mut f, m, func);
    }
    composer(&mut f, m);
    f
}

/// `lifecycle { ignore_changes = [...] }` for what CD changes.
fn ignore(paths: &[&[&str]]) -> hcl::structure::Block {
    block("lifecycle").attr("ignore_changes", list(paths.iter().map(|p| ri(p)))).build()
}

/// `depends_on` of the grants matching `pred`, plus the given APIs.
fn depends(m: &Model, apis: &[&str], pred: impl Fn(&crate::model::iam::Grant) -> bool) -> Expression {
    let mut refs: Vec<Expression> = apis.iter().filter(|a| m.apis.contains(a)).map(|a| api(a)).collect();
    refs.extend(m.grants.iter().filter(|g| pred(g)).map(|g| {
        let (ty, name) = address(g);
        r(&[ty, &name])
    }));
    super::syntax::list(refs)
}

fn service(f: &mut TfFile, m: &Model, sv: &Service) {
    let key = ident(&sv.key);
    let mut limits = BTreeMap::new();
    if let Some(cpu) = &sv.cpu {
        limits.insert("cpu".to_owned(), s(cpu));
    }
    if let Some(mem) = &sv.memory {
        limits.insert("memory".to_owned(), s(mem));
    }
    let mut container = block("containers").attr("image", s(PLACEHOLDER_IMAGE));
    container = container.add_block(block("ports").attr("container_port", num(sv.port)).build());
    if !limits.is_empty() {
        container = container.add_block(block("resources").attr("limits", object(limits)).build());
    }
    let mut env: Vec<(String, Expression)> = sv.env.iter().map(|(k, v)| (k.clone(), env_value(m, v))).collect();
    if let Some(e) = &sv.endpoint {
        env.push(("VERTEX_ENDPOINT".into(), r(&["google_vertex_ai_endpoint", &ident(e), "id"])));
    }
    for (name, value) in env {
        container = container.add_block(block("env").attr("name", s(name)).attr("value", value).build());
    }
    // The secret's value, resolved by Cloud Run when an instance starts (a pinned version) or
    // per the docs for `latest`
    // (https://cloud.google.com/run/docs/configuring/services/secrets#access-secrets).
    for (name, sec) in &sv.access.secret_env {
        let key_ref = block("secret_key_ref").attr("secret", secrets::secret_id(m, &sec.secret)).attr("version", s(&sec.version)).build();
        let source = block("value_source").add_block(key_ref).build();
        container = container.add_block(block("env").attr("name", s(name)).add_block(source).build());
    }
    if let Some(serving) = m.image(&sv.image).and_then(|i| i.serving.as_ref()) {
        // The health route, for up to 240 s (24 tries 10 s apart, each allowed 5 s): the ceiling
        // of failureThreshold x periodSeconds, and what Cloud Run's default TCP startup probe
        // allows. The provider's defaults (3 tries, 1 s each) would give a server loading its
        // model 30 s before Cloud Run shuts it down and the revision fails
        // (https://cloud.google.com/run/docs/configuring/healthchecks).
        let probe = block("startup_probe")
            .attr("period_seconds", num(10))
            .attr("timeout_seconds", num(5))
            .attr("failure_threshold", num(24))
            .add_block(block("http_get").attr("path", s(&serving.health_route)).build())
            .build();
        container = container.add_block(probe);
    }
    let template = block("template")
        .attr("service_account", sa(m, SaRole::Serving, "email"))
        .add_block(
            block("scaling")
                .attr("min_instance_count", num(sv.min_instances))
                .attr("max_instance_count", num(sv.max_instances))
                .build(),
        )
        .add_block(container.build())
        .build();
    let b = resource("google_cloud_run_v2_service", &key)
        .attr("name", s(&sv.name))
        .attr("location", var("region"))
        .attr("ingress", s("INGRESS_TRAFFIC_ALL"))
        .attr("deletion_protection", var("deletion_protection"))
        .add_block(template)
        .add_block(ignore(&[&["client"], &["client_version"], &["template[0]", "containers[0]", "image"]]))
        .attr("depends_on", depends(m, &["run.googleapis.com"], |g| takes_secret(g, SaRole::Serving, &sv.access)));
    f.push(
        Item::from(b)
            .note(format!("services.{}: runs image `{}` as the serving SA. Created on a placeholder image;", sv.key, sv.image))
            .note("CD rolls it onto each build (gcloud run services update), and Terraform leaves the image to CD."),
    );
    if sv.public {
        f.push(
            Item::from(
                resource("google_cloud_run_v2_service_iam_member", &format!("{key}_public"))
                    .attr("location", var("region"))
                    .attr("name", r(&["google_cloud_run_v2_service", &key, "name"]))
                    .attr("role", s("roles/run.invoker"))
                    .attr("member", s("allUsers")),
            )
            .note(format!("services.{}.public: true (anyone may invoke it)", sv.key)),
        );
    }
}

fn function(f: &mut TfFile, m: &Model, func: &Function) {
    let key = ident(&func.key);
    let source = block("source")
        .add_block(
            block("storage_source")
                .attr("bucket", bucket(m, &m.pipeline_root_bucket))
                .attr("object", s(func.source_object()))
                .build(),
        )
        .build();
    let build = block("build_config")
        .attr("runtime", s(&func.runtime))
        .attr("entry_point", s(&func.entry_point))
        .attr("service_account", sa(m, SaRole::Functions, "id"))
        .attr("docker_repository", r(&["google_artifact_registry_repository", "docker", "id"]))
        .add_block(source)
        .build();
    let mut env: Vec<(String, Expression)> = func.env.iter().map(|(k, v)| (k.clone(), env_value(m, v))).collect();
    if let Some(p) = func.starts_pipeline.as_ref().and_then(|p| m.pipeline(p)) {
        env.push(("PIPELINE_TEMPLATE".into(), kfp_template(&p.name)));
        env.push((
            "PIPELINE_ROOT".into(),
            tpl(vec![lit("gs://"), iref(bucket(m, &m.pipeline_root_bucket)), lit(format!("/pipeline-root/{}", p.key))]),
        ));
        env.push(("PIPELINE_SERVICE_ACCOUNT".into(), sa(m, SaRole::Pipelines, "email")));
        env.push(("GOOGLE_CLOUD_REGION".into(), var("region")));
    }
    let mut service = block("service_config")
        .attr("service_account_email", sa(m, SaRole::Functions, "email"))
        .attr("ingress_settings", s(if func.trigger_bucket.is_some() { "ALLOW_INTERNAL_ONLY" } else { "ALLOW_ALL" }))
        .attr("all_traffic_on_latest_revision", bool(true))
        .opt("available_memory", func.memory.as_deref().map(s));
    if !env.is_empty() {
        service = service.attr("environment_variables", object(env));
    }
    // Secrets as environment variables, resolved when an instance starts
    // (https://cloud.google.com/functions/docs/configuring/secrets). The project by number: CD's
    // `gcloud functions deploy --set-secrets` writes the number there (google-cloud-sdk
    // `command_lib/functions/secrets_config.py` `_SubstituteDefaultProject`), so the project id
    // would show as a change in every plan and the apply would redeploy the function each time.
    for (name, sec) in &func.access.secret_env {
        service = service.add_block(
            block("secret_environment_variables")
                .attr("key", s(name))
                .attr("project_id", r(&["data", "google_project", "this", "number"]))
                .attr("secret", secrets::secret_id(m, &sec.secret))
                .attr("version", s(&sec.version))
                .build(),
        );
    }
    let mut b = resource("google_cloudfunctions2_function", &key)
        .attr("count", count_if(var(CREATE_FUNCTIONS)))
        .attr("name", s(&func.name))
        .attr("location", var("region"))
        .add_block(build)
        .add_block(service.build());
    let mut apis = vec!["cloudfunctions.googleapis.com", "cloudbuild.googleapis.com", "run.googleapis.com"];
    if let Some(bkt) = &func.trigger_bucket {
        apis.extend(["eventarc.googleapis.com", "pubsub.googleapis.com"]);
        let filter = block("event_filters").attr("attribute", s("bucket")).attr("value", bucket(m, bkt)).build();
        b = b.add_block(
            block("event_trigger")
                .attr("event_type", s("google.cloud.storage.object.v1.finalized"))
                .attr("trigger_region", var("region"))
                .attr("service_account_email", sa(m, SaRole::Functions, "email"))
                .attr("retry_policy", s("RETRY_POLICY_DO_NOT_RETRY"))
                .add_block(filter)
                .build(),
        );
    }
    // The build runs as the functions SA, the event trigger delivers as it: both need their grants
    // first (not the ones on the function itself, which wait for it).
    let needed = |g: &crate::model::iam::Grant| {
        (g.member == Member::Sa(SaRole::Functions) && !matches!(g.scope, Scope::Function(_)))
            || (g.member == Member::Agent(Agent::Storage) && func.trigger_bucket.is_some())
    };
    b = b
        .add_block(ignore(&[&["build_config[0]", "source"]]))
        .attr("depends_on", depends(m, &apis, needed));
    let mut item = Item::from(b).note(format!(
        "functions.{}: CD uploads `{}` zipped to gs://<pipeline-root bucket>/{} and redeploys it;",
        func.key,
        func.source,
        func.source_object()
    ));
    item = item.note("Terraform creates the function from the first upload and then leaves the source to CD.");
    if let Some(bkt) = &func.trigger_bucket {
        item = item.note(format!("Runs on every new object in bucket `{bkt}`."));
    }
    f.push(item);
}

/// Whether `g` is the accessor grant of `who` on a secret `access` takes in `env`: Cloud Run
/// checks it when it deploys a revision, so the service waits for it.
fn takes_secret(g: &crate::model::iam::Grant, who: SaRole, access: &crate::model::access::Access) -> bool {
    g.member == Member::Sa(who) && matches!(&g.scope, Scope::Secret(id) if access.secret_env.values().any(|s| &s.secret == id))
}

/// This environment's template of a pipeline (see `Environment::template_uri`).
fn kfp_template(pipeline_name: &str) -> Expression {
    let mut parts = storage::kfp_repository_url();
    parts.extend([lit(format!("/{pipeline_name}/")), iref(var("env"))]);
    tpl(parts)
}

fn composer(f: &mut TfFile, m: &Model) {
    let Some(c) = &m.composer else { return };
    let size = match c.size {
        ComposerSize::Small => "ENVIRONMENT_SIZE_SMALL",
        ComposerSize::Medium => "ENVIRONMENT_SIZE_MEDIUM",
        ComposerSize::Large => "ENVIRONMENT_SIZE_LARGE",
    };
    let mut config = block("config")
        .attr("environment_size", s(size))
        .add_block(block("software_config").attr("image_version", s(&c.image_version)).build())
        .add_block(block("node_config").attr("service_account", sa(m, SaRole::Composer, "email")).build());
    if m.deploys_dags() {
        // Every generated DAG task is deferrable (templates/airflow): without a triggerer a deferred
        // task never resumes, and Composer 3's triggerer count may be 0 (Composer docs, "Use
        // deferrable operators in your DAGs"). One triggerer at 0.5 vCPU / 1 GB.
        let triggerer = block("triggerer")
            .attr("cpu", num(hcl::Number::from_f64(0.5).unwrap_or_else(|| 1.into())))
            .attr("memory_gb", num(1))
            .attr("count", num(1))
            .build();
        config = config.add_block(block("workloads_config").add_block(triggerer).build());
    }
    let config = config.build();
    let needs = |g: &crate::model::iam::Grant| {
        matches!(g.member, Member::Sa(SaRole::Composer) if g.role == "roles/composer.worker")
            || g.member == Member::Agent(Agent::Composer)
    };
    let b = resource("google_composer_environment", "composer")
        .attr("name", s(&c.name))
        .attr("region", var("region"))
        .add_block(config)
        .add_block(block("storage_config").attr("bucket", bucket(m, storage::COMPOSER_BUCKET)).build())
        .attr("depends_on", depends(m, &["composer.googleapis.com"], needs));
    f.push(
        Item::from(b)
            .note("orchestration.composer: runs the DAGs of pipelines scheduled on Composer. Its bucket is created")
            .note("above it, so CD knows the DAG folder (Environment::composer_dag_folder) without Terraform outputs."),
    );
}

/// An environment variable's value with its `{{buckets.x}}`-style names as references to what
/// Terraform creates (or the environment's project), so each environment gets its own names
/// (`model::access::resolve` spells the same names for the pipelines).
fn env_value(m: &Model, value: &str) -> Expression {
    let parts = env_parts(value);
    if !parts.iter().any(|p| matches!(p, EnvPart::Name(_))) {
        return s(value);
    }
    let mut out = Vec::new();
    for part in parts {
        let named = match part {
            EnvPart::Text(t) => {
                out.push(lit(t));
                continue;
            }
            EnvPart::Name(n) => Ref::parse(n),
        };
        let Ok(named) = named else { continue }; // validation rejected it
        match named.kind {
            Kind::Bucket => out.push(iref(bucket(m, &named.key))),
            Kind::Dataset => match m.dataset(&named.key).map(|d| &d.source) {
                Some(DataSource::BigQuery { project, dataset, table }) => out.extend(super::table_uri(project.as_deref(), dataset, table)),
                Some(DataSource::Gcs { bucket: b, path }) => out.extend([lit("gs://"), iref(bucket(m, b)), lit(format!("/{path}"))]),
                None => {}
            },
            Kind::Endpoint => out.push(iref(r(&["google_vertex_ai_endpoint", &ident(&named.key), "id"]))),
            Kind::Secret => out.extend([lit("projects/"), iref(var("project_id")), lit(format!("/secrets/{}", named.key))]),
        }
    }
    match <[super::syntax::Part; 1]>::try_from(out) {
        Ok([super::syntax::Part::Ref(whole)]) => whole,
        Ok(one) => tpl(one.into()),
        Err(parts) => tpl(parts),
    }
}
