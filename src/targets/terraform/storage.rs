//! `storage.tf`: Cloud Storage buckets (the declared ones and the Composer environment's) and the
//! Artifact Registry repositories (Docker images, KFP pipeline templates).

use super::syntax::{block, bool, call, data, ident, iref, lit, num, r, resource, s, strings, tpl, var, BlockExt, Item, Part, TfFile};
use crate::model::naming::{DOCKER_HOST_SUFFIX, KFP_HOST_SUFFIX};
use super::depends_on_apis;
use crate::model::{Bucket, DataSource, Destination, Model, Ownership, StepKind};
use std::collections::BTreeMap;
use hcl::expr::{Expression, Traversal, TraversalOperator};
use hcl::Identifier;
use hcl::structure::Block;

/// Terraform name of the Composer environment's bucket, `Environment::composer_bucket` (validation
/// keeps `composer` free among the declared bucket keys).
pub const COMPOSER_BUCKET: &str = "composer";

/// Whether the Docker repository exists: images are pushed there, functions are built into it.
pub fn has_docker_repo(m: &Model) -> bool {
    !m.images.is_empty() || !m.functions.is_empty()
}

/// Whether the KFP repository exists.
pub fn has_kfp_repo(m: &Model) -> bool {
    !m.pipelines.is_empty()
}

/// The BigQuery datasets of the environment's project the spec's datasets live in
/// (`bq://<dataset>.<table>`), sorted; tables of other projects are not listed here.
pub fn source_datasets(m: &Model) -> Vec<&str> {
    let mut ids: Vec<&str> = m
        .datasets
        .iter()
        .filter_map(|d| if let DataSource::BigQuery { project: None, dataset, .. } = &d.source { Some(dataset.as_str()) } else { None })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The BigQuery datasets batch predictions write into (`destination: bq://<dataset>`) that no spec
/// dataset reads from, sorted: outputs, so Terraform creates them. The job needs the dataset to
/// exist (`BigQueryDestination.outputUri` names an existing dataset; the job adds a table pair per
/// run) and to be in the job's region ("input and output … in the same region or multi-region as
/// your model", https://cloud.google.com/vertex-ai/docs/predictions/get-batch-predictions).
pub fn prediction_datasets(m: &Model) -> Vec<&str> {
    let sources = source_datasets(m);
    let mut ids: Vec<&str> = m
        .pipelines
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.kind {
            StepKind::BatchPrediction { destination: Destination::BigQueryDataset(ds), .. } => Some(ds.as_str()),
            _ => None,
        })
        .filter(|ds| !sources.contains(ds))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Terraform address of a created prediction dataset: `google_bigquery_dataset.bq_<id>`.
pub fn prediction_dataset_name(id: &str) -> String {
    format!("bq_{}", ident(id))
}

/// `lifecycle { precondition }` that fails the plan with a clear message when BigQuery dataset
/// `id` (which the team's data lives in, so Terraform does not create it) is missing from the
/// project, instead of a 404 from the resource that refers to it on a first apply.
pub fn dataset_exists(id: &str) -> Block {
    let listed = Traversal::new(
        r(&["data", "google_bigquery_datasets", "this"]),
        vec![
            TraversalOperator::GetAttr(Identifier::unchecked("datasets")),
            TraversalOperator::FullSplat,
            TraversalOperator::GetAttr(Identifier::unchecked("dataset_id")),
        ],
    );
    let message = format!(
        "BigQuery dataset {id} does not exist in this project: create it and load the tables the spec's datasets name before applying."
    );
    let check = block("precondition")
        .attr("condition", call("contains", vec![Expression::from(listed), s(id)]))
        .attr("error_message", s(message))
        .build();
    block("lifecycle").add_block(check).build()
}

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    if !source_datasets(m).is_empty() {
        f.push(
            Item::from(
                data("google_bigquery_datasets", "this")
                    .attr("project", var("project_id"))
                    .attr("depends_on", depends_on_apis(m, &["bigquery.googleapis.com"])),
            )
            .note("The project's BigQuery datasets: resources over the spec's BigQuery data check theirs exist."),
        );
    }
    for b in &m.buckets {
        match &b.ownership {
            Ownership::Owned => f.push(bucket(m, b, bucket_name(&b.key))),
            Ownership::Adopted(names) => {
                f.push(adopt_import(b, names));
                f.push(bucket(m, b, adopted_name(&b.key, names)));
            }
            Ownership::External(name) => f.push(external_bucket(m, b, name)),
        }
    }
    for id in prediction_datasets(m) {
        f.push(
            Item::from(
                resource("google_bigquery_dataset", &prediction_dataset_name(id))
                    .attr("dataset_id", s(id))
                    .attr("description", s("Batch prediction output: each job adds a predictions and an errors table."))
                    .attr("location", var("region"))
                    .attr("delete_contents_on_destroy", bool(false))
                    .attr("depends_on", depends_on_apis(m, &["bigquery.googleapis.com"])),
            )
            .note(format!("written by batch predictions with `destination: bq://{id}`"))
            .skip("CKV_GCP_81", "Google-managed encryption; the spec declares no dataset key"),
        );
    }
    if m.composer.is_some() {
        f.push(composer_bucket(m));
    }
    let env = m.default_env();
    let envs: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    if has_docker_repo(m) {
        // Every image a build deployed stays: a registry model version runs its serving image by
        // the digest of the training run that registered it (the champion may be months old), and
        // a rollback copies an old commit's `deployed-<sha>`. Without this, the age rule deletes
        // them once ten newer versions exist (KEEP wins over DELETE:
        // https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview).
        let keep: Vec<&str> = envs.iter().copied().chain([crate::model::delivery::DEPLOYED_TAG_PREFIX]).collect();
        let repo = repository(m, "docker", &env.docker_repo_id(), "DOCKER", "Container images built by CD", &keep);
        f.push(Item::from(repo).skip("CKV_GCP_84", "Google-managed encryption; the spec declares no repository key"));
    }
    if has_kfp_repo(m) {
        let repo = repository(m, "kfp", &env.kfp_repo_id(), "KFP", "Compiled pipeline templates uploaded by CD", &envs);
        f.push(Item::from(repo).skip("CKV_GCP_84", "Google-managed encryption; the spec declares no repository key"));
    }
    f
}

/// `"${var.project_id}-<key>"` (see `Environment::bucket_name`).
fn bucket_name(key: &str) -> Expression {
    tpl(vec![iref(var("project_id")), lit(format!("-{key}"))])
}

/// `{ <env> = "<existing name>", … }` of an adopted bucket.
fn adopted_names(names: &BTreeMap<String, String>) -> Expression {
    super::syntax::object(names.iter().map(|(env, name)| (env.clone(), s(name))))
}

/// An adopted bucket's name: its existing name in the environments that adopt it, else
/// `<project_id>-<key>` (see `Environment::bucket_name`).
fn adopted_name(key: &str, names: &BTreeMap<String, String>) -> Expression {
    call("lookup", vec![adopted_names(names), var("env"), bucket_name(key)])
}

/// The `import` block (Terraform ≥ 1.7 for `for_each`) that takes an existing bucket into
/// `google_storage_bucket.<key>` in the environments that adopt it: `for_each` has the existing
/// name in those and nothing elsewhere, where the resource is created instead. The id is the
/// provider's documented `{{project_id}}/{{bucket}}` import format
/// (https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/storage_bucket#import;
/// https://cloud.google.com/docs/terraform/resource-management/import).
pub fn adopt_import(b: &Bucket, names: &BTreeMap<String, String>) -> Item {
    let adopted_here = call("compact", vec![super::syntax::list([call("lookup", vec![adopted_names(names), var("env"), s("")])])]);
    let id = tpl(vec![iref(var("project_id")), lit("/"), iref(r(&["each", "value"]))]);
    let envs: Vec<&str> = names.keys().map(String::as_str).collect();
    Item::from(
        block("import")
            .attr("for_each", call("toset", vec![adopted_here]))
            .attr("to", r(&["google_storage_bucket", &ident(&b.key)]))
            .attr("id", id)
            .build(),
    )
    .note(format!("storage.buckets.{}.adopt: the existing bucket is imported in {} (created elsewhere).", b.key, envs.join(", ")))
}

/// An external bucket: read, never managed; grants on it use this data source's name, and the
/// plan fails if it does not exist (or the deployer cannot see it).
fn external_bucket(m: &Model, b: &Bucket, name: &str) -> Item {
    Item::from(
        data("google_storage_bucket", &ident(&b.key))
            .attr("name", s(name))
            .attr("depends_on", depends_on_apis(m, &["storage.googleapis.com"])),
    )
    .note(format!("storage.buckets.{}.external: owned elsewhere; this Terraform only grants on it.", b.key))
}

fn rule(action: Block, condition: Block) -> Block {
    block("lifecycle_rule").add_block(condition).add_block(action).build()
}

fn delete() -> Block {
    block("action").attr("type", s("Delete")).build()
}

fn bucket(m: &Model, b: &Bucket, name: Expression) -> Item {
    let mut r = resource("google_storage_bucket", &ident(&b.key))
        .attr("name", name)
        .attr("location", var("region"))
        .attr("uniform_bucket_level_access", bool(true))
        .attr("public_access_prevention", s("enforced"))
        .add_block(block("versioning").attr("enabled", bool(b.versioning)).build());
    if let Some(days) = b.nearline_after_days {
        let action = block("action").attr("type", s("SetStorageClass")).attr("storage_class", s("NEARLINE")).build();
        r = r.add_block(rule(action, block("condition").attr("age", num(days)).build()));
    }
    if let Some(days) = b.delete_after_days {
        r = r.add_block(rule(delete(), block("condition").attr("age", num(days)).build()));
    }
    if let Some(n) = b.keep_versions {
        let condition = block("condition").attr("num_newer_versions", num(n)).attr("with_state", s("ARCHIVED")).build();
        r = r.add_block(rule(delete(), condition));
    }
    if let Some(key) = &b.kms_key {
        r = r.add_block(block("encryption").attr("default_kms_key_name", s(key)).build());
    }
    r = r.attr("depends_on", depends_on_apis(m, &["storage.googleapis.com"]));
    if matches!(b.ownership, Ownership::Adopted(_)) {
        // The team's existing data: a change that would replace the bucket (a different
        // location, …) fails the plan instead of deleting it.
        r = r.add_block(block("lifecycle").attr("prevent_destroy", bool(true)).build());
    }
    let mut item = Item::from(r)
        .note(format!("storage.buckets.{}", b.key))
        .skip("CKV_GCP_62", "access logs go to Cloud Audit Logs; no separate log bucket is declared");
    if !b.versioning {
        item = item.skip("CKV_GCP_78", "the spec turns versioning off for this bucket");
    }
    item
}

/// The Composer environment's bucket (`storage_config.bucket`): the environment's region, Standard
/// class, no retention policy, as Composer requires; earlier versions of deleted DAGs are kept.
fn composer_bucket(m: &Model) -> Item {
    let keep = block("condition").attr("num_newer_versions", num(3)).attr("with_state", s("ARCHIVED")).build();
    let r = resource("google_storage_bucket", COMPOSER_BUCKET)
        .attr("name", bucket_name(COMPOSER_BUCKET))
        .attr("location", var("region"))
        .attr("uniform_bucket_level_access", bool(true))
        .attr("public_access_prevention", s("enforced"))
        .add_block(block("versioning").attr("enabled", bool(true)).build())
        .add_block(rule(delete(), keep))
        .attr("depends_on", depends_on_apis(m, &["storage.googleapis.com"]));
    Item::from(r)
        .note("orchestration.composer: the environment's bucket (DAGs, plugins, logs); CD syncs the DAGs into it.")
        .skip("CKV_GCP_62", "access logs go to Cloud Audit Logs; no separate log bucket is declared")
}

/// A repository whose cleanup keeps the tags starting with `keep`, the ten newest versions, and
/// deletes the rest after 90 days.
fn repository(m: &Model, name: &str, id: &str, format: &str, description: &str, keep: &[&str]) -> Block {
    let keep_env_tags = block("cleanup_policies")
        .attr("id", s("keep-environment-tags"))
        .attr("action", s("KEEP"))
        .add_block(block("condition").attr("tag_state", s("TAGGED")).attr("tag_prefixes", strings(keep)).build())
        .build();
    let keep_recent = block("cleanup_policies")
        .attr("id", s("keep-recent"))
        .attr("action", s("KEEP"))
        .add_block(block("most_recent_versions").attr("keep_count", num(10)).build())
        .build();
    let delete_old = block("cleanup_policies")
        .attr("id", s("delete-older-than-90-days"))
        .attr("action", s("DELETE"))
        .add_block(block("condition").attr("tag_state", s("ANY")).attr("older_than", s("7776000s")).build())
        .build();
    resource("google_artifact_registry_repository", name)
        .attr("repository_id", s(id))
        .attr("location", var("region"))
        .attr("format", s(format))
        .attr("description", s(description))
        .attr("cleanup_policy_dry_run", bool(false))
        .add_block(keep_env_tags)
        .add_block(keep_recent)
        .add_block(delete_old)
        .attr("depends_on", depends_on_apis(m, &["artifactregistry.googleapis.com"]))
        .build()
}

/// The Docker repository's path in this environment, `REGION-docker.pkg.dev/PROJECT/REPO`, as
/// template parts (the Terraform twin of `Environment::docker_repo`).
pub fn docker_repository_path() -> Vec<Part> {
    vec![
        iref(var("region")),
        lit(format!("{DOCKER_HOST_SUFFIX}/")),
        iref(var("project_id")),
        lit("/"),
        iref(r(&["google_artifact_registry_repository", "docker", "repository_id"])),
    ]
}

/// The KFP repository's URL in this environment, `https://REGION-kfp.pkg.dev/PROJECT/REPO`, as
/// template parts (the Terraform twin of `Environment::kfp_repo`).
pub fn kfp_repository_url() -> Vec<Part> {
    vec![
        lit("https://"),
        iref(var("region")),
        lit(format!("{KFP_HOST_SUFFIX}/")),
        iref(var("project_id")),
        lit("/"),
        iref(r(&["google_artifact_registry_repository", "kfp", "repository_id"])),
    ]
}
