//! Semantic checks: references, cycles, duplicate names, naming rules, cron, regions, machines,
//! and strings no target can carry. Every check reports at the YAML position of the offending
//! value, with a "did you mean" hint where a name was mistyped.

use super::names::{self, Rule};
use super::suggest;
use super::{airflow, contracts, facts, refs};
use crate::diagnostic::{Code, Diagnostic, Pos};
use crate::model::naming;
use crate::spec::yaml::{pointer_push, Document};
use crate::spec::*;
use std::collections::BTreeMap;

/// Runs every semantic check.
pub fn check(spec: &Spec, doc: &Document) -> Vec<Diagnostic> {
    let mut c = Checker { spec, doc, out: Vec::new(), valid_crons: Default::default() };
    c.project();
    c.environments();
    c.storage();
    super::existing::check(&mut c);
    c.images();
    c.datasets();
    contracts::check(&mut c);
    c.features();
    refs::pipelines(&mut c);
    c.models_and_endpoints();
    super::kfp::models(&mut c);
    super::kfp::placeholders(&mut c);
    c.services_and_functions();
    super::access::check(&mut c);
    c.orchestration_and_ci();
    c.monitoring();
    airflow::dag_names(&mut c);
    c.unsafe_strings();
    super::target_rules::check(&mut c);
    c.out
}

/// Shared state of the checks.
#[derive(Debug)]
pub struct Checker<'a> {
    /// The typed spec.
    pub spec: &'a Spec,
    /// The raw document (for positions).
    pub doc: &'a Document,
    /// Collected diagnostics.
    pub out: Vec<Diagnostic>,
    /// Cron expressions already found valid (a thousand pipelines often share a few schedules).
    valid_crons: std::collections::HashSet<String>,
}

impl Checker<'_> {
    /// Position of the value at a pointer.
    pub fn at(&self, pointer: &str) -> Pos {
        self.doc.spans.value(pointer)
    }

    /// Position of the key of a pointer.
    pub fn key_at(&self, pointer: &str) -> Pos {
        self.doc.spans.key(pointer)
    }

    /// Reports a diagnostic.
    pub fn report(&mut self, code: Code, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(code, pos, message);
        d.hint = hint;
        self.out.push(d);
    }

    /// Checks a name (a map key) against a rule.
    pub fn name(&mut self, rule: Rule, what: &str, name: &str, pointer: &str) {
        if let Err(requirement) = rule.check(name) {
            let pos = self.key_at(pointer);
            self.report(Code::InvalidName, pos, format!("invalid {what} `{name}`"), Some(format!("use {requirement}")));
        }
    }

    /// Checks a name held in a value against a rule.
    pub fn value_name(&mut self, rule: Rule, what: &str, name: &str, pointer: &str) {
        if let Err(requirement) = rule.check(name) {
            let pos = self.at(pointer);
            self.report(Code::InvalidName, pos, format!("invalid {what} `{name}`"), Some(format!("use {requirement}")));
        }
    }

    /// Checks that `name` is a key of `declared`; reports an unknown reference otherwise.
    pub fn reference<V>(&mut self, what: &str, name: &str, declared: &BTreeMap<String, V>, pointer: &str) -> bool {
        if declared.contains_key(name) {
            return true;
        }
        let pos = self.at(pointer);
        let hint = suggest::hint(name, declared.keys().map(String::as_str));
        self.report(Code::UnknownReference, pos, format!("unknown {what} `{name}`"), Some(hint));
        false
    }

    /// Checks a five-field cron expression.
    pub fn cron(&mut self, cron: &str, pointer: &str) {
        if self.valid_crons.contains(cron) {
            return;
        }
        if let Err(why) = facts::check_cron(cron) {
            let pos = self.at(pointer);
            self.report(Code::InvalidCron, pos, format!("invalid cron expression `{cron}`: {why}"), Some("use five fields: minute hour day-of-month month day-of-week, e.g. `0 3 * * 1`".into()));
        } else {
            self.valid_crons.insert(cron.to_owned());
        }
    }

    /// Checks a repository-relative path stays inside the repository.
    pub fn repo_path(&mut self, path: &str, pointer: &str) {
        if facts::escapes(path) {
            let pos = self.at(pointer);
            self.report(Code::PathEscape, pos, format!("path `{path}` leaves the repository"), Some("use a relative path without `..` segments".into()));
        }
    }

    /// Checks a machine type and its accelerator.
    pub fn machine(&mut self, machine_type: &str, accelerator: Option<&Accelerator>, pointer: &str) {
        if let Err(why) = facts::check_machine(machine_type, accelerator) {
            let pos = self.at(pointer);
            self.report(Code::InvalidMachine, pos, why.0, why.1);
        }
    }

    /// Checks environment variable names.
    pub fn env_vars<V>(&mut self, env: &BTreeMap<String, V>, pointer: &str) {
        for k in env.keys() {
            self.name(names::ENV_VAR, "environment variable", k, &pointer_push(pointer, k));
        }
    }

    fn project(&mut self) {
        if self.spec.version != 1 {
            let pos = self.at("/version");
            self.report(Code::InvalidValue, pos, format!("unsupported spec version {}", self.spec.version), Some("this mlopsgen reads `version: 1`".into()));
        }
        let name = &self.spec.project.name;
        self.value_name(names::PROJECT_NAME, "project name", name, "/project/name");
        self.labels(&self.spec.project.labels, "/project/labels");
        if let Some(out) = &self.spec.output {
            if out.starts_with('/') || out.trim().is_empty() || out.contains('\\') {
                let pos = self.at("/output");
                self.report(Code::PathEscape, pos, format!("output directory `{out}` must be a relative path"), Some("write it relative to the spec file, e.g. `generated`".into()));
            }
        }
    }

    fn labels(&mut self, labels: &BTreeMap<String, String>, pointer: &str) {
        for (k, v) in labels {
            let p = pointer_push(pointer, k);
            if naming::RESERVED_LABELS.contains(&k.as_str()) {
                let pos = self.key_at(&p);
                let msg = format!("label `{k}` is set by mlopsgen: deploys find the resources and schedules they made by it");
                self.report(Code::InvalidValue, pos, msg, Some("use another key".into()));
                continue;
            }
            self.name(names::LABEL_KEY, "label key", k, &p);
            self.value_name(names::LABEL_VALUE, "label value", v, &p);
        }
    }

    fn environments(&mut self) {
        if self.spec.environments.is_empty() {
            let pos = self.at("/environments");
            self.report(Code::InvalidValue, pos, "at least one environment is required", None);
        }
        let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for (name, env) in &self.spec.environments {
            let p = pointer_push("/environments", name);
            self.name(names::KEY, "environment name", name, &p);
            self.value_name(names::GCP_PROJECT, "GCP project id", &env.gcp_project, &format!("{p}/gcp_project"));
            if !facts::REGIONS.contains(&env.region.as_str()) {
                let pos = self.at(&format!("{p}/region"));
                let hint = suggest::hint(&env.region, facts::REGIONS.iter().copied());
                self.report(Code::UnknownRegion, pos, format!("unknown region `{}`", env.region), Some(hint));
            }
            self.labels(&env.labels, &format!("{p}/labels"));
            if let Some(other) = seen.insert((env.gcp_project.as_str(), env.region.as_str()), name) {
                let pos = self.at(&format!("{p}/gcp_project"));
                self.report(Code::DuplicateName, pos, format!("environments `{other}` and `{name}` use the same project and region, so their resources would collide"), Some("give each environment its own GCP project".into()));
            }
            let project_ok = names::GCP_PROJECT.check(&env.gcp_project).is_ok();
            let generated = self.spec.storage.buckets.iter().filter(|(_, b)| b.external.is_none() && !b.adopt.contains_key(name));
            for bucket in generated.map(|(k, _)| k).filter(|b| project_ok && names::KEY.check(b).is_ok()) {
                let full = format!("{}-{bucket}", env.gcp_project);
                if names::BUCKET.check(&full).is_err() {
                    let pos = self.key_at(&pointer_push("/storage/buckets", bucket));
                    self.report(Code::InvalidName, pos, format!("bucket `{bucket}` would be named `{full}` in `{name}`, which is not a valid bucket name"), Some(format!("use {}", names::BUCKET.describe)));
                }
            }
        }
        let pattern = &self.spec.terraform.state_bucket;
        for (name, env) in &self.spec.environments {
            let full = crate::model::state_bucket_name(pattern, &env.gcp_project, name);
            if names::BUCKET.check(&full).is_err() {
                let pos = self.at("/terraform/state_bucket");
                self.report(Code::InvalidName, pos, format!("the state bucket of `{name}` would be named `{full}`, which is not a valid bucket name"), Some(format!("use {} (`{{project}}` and `{{env}}` are replaced per environment)", names::BUCKET.describe)));
                break;
            }
        }
    }

    fn storage(&mut self) {
        for name in self.spec.storage.buckets.keys() {
            self.name(names::KEY, "bucket name", name, &pointer_push("/storage/buckets", name));
        }
        for (name, b) in &self.spec.storage.buckets {
            if let Some(kms) = &b.kms_key {
                if !facts::is_kms_key(kms) {
                    let pos = self.at(&format!("{}/kms_key", pointer_push("/storage/buckets", name)));
                    self.report(Code::InvalidValue, pos, format!("`{kms}` is not a Cloud KMS key name"), Some("use projects/P/locations/L/keyRings/R/cryptoKeys/K".into()));
                }
            }
        }
        let root = self.spec.storage.pipeline_root.clone();
        // Pipeline roots and (for the Terraform target) function source archives live there.
        let needs_root = !self.spec.pipelines.is_empty() || !self.spec.functions.is_empty();
        match root {
            Some(r) => {
                self.reference("bucket", &r, &self.spec.storage.buckets, "/storage/pipeline_root");
            }
            None if needs_root && !self.spec.storage.buckets.contains_key("artifacts") => {
                let pos = self.at("/storage");
                self.report(Code::UnknownReference, pos, "pipelines and functions need a pipeline-root bucket (it holds pipeline roots and function sources), but there is no bucket `artifacts`", Some("add `storage.buckets.artifacts: {}` or set `storage.pipeline_root`".into()));
            }
            None => {}
        }
    }

    fn images(&mut self) {
        for (name, image) in &self.spec.images {
            let p = pointer_push("/images", name);
            self.name(names::KEY, "image name", name, &p);
            if name == crate::model::naming::VALIDATOR_IMAGE {
                let pos = self.key_at(&p);
                self.report(Code::DuplicateName, pos, format!("the image name `{name}` is reserved for mlopsgen's generated data validator"), Some("rename this image".into()));
            }
            self.repo_path(&image.context, &format!("{p}/context"));
            if let Some(req) = &image.requirements {
                self.repo_path(req, &format!("{p}/requirements"));
            }
            if !facts::is_image_ref(&image.base) {
                let pos = self.at(&format!("{p}/base"));
                self.report(Code::InvalidValue, pos, format!("`{}` is not an image reference with a tag", image.base), Some("write it as name:tag, e.g. `python:3.11-slim`".into()));
            } else if facts::lacks_apt(&image.base) {
                // The Dockerfile creates its user with groupadd/useradd and installs packages with
                // apt-get (templates/docker/Dockerfile.j2): Alpine has neither, distroless no shell.
                let pos = self.at(&format!("{p}/base"));
                let msg = format!("`{}` is Alpine or distroless: the generated Dockerfile runs groupadd, useradd and apt-get in a shell", image.base);
                self.report(Code::InvalidValue, pos, msg, Some("use a Debian-based image, e.g. `python:3.12-slim`".into()));
            }
            if let Some(d) = &image.digest {
                if !facts::is_digest(d) {
                    let pos = self.at(&format!("{p}/digest"));
                    self.report(Code::InvalidValue, pos, format!("`{d}` is not a sha256 digest"), Some("use sha256: followed by 64 hex digits".into()));
                }
            }
            for (i, pkg) in image.system_packages.iter().enumerate() {
                if !facts::is_package_name(pkg) {
                    let pos = self.at(&format!("{p}/system_packages/{i}"));
                    self.report(Code::InvalidValue, pos, format!("`{pkg}` is not a Debian package name"), None);
                }
            }
            self.env_vars(&image.env, &format!("{p}/env"));
            if let Some(s) = &image.serving {
                for (field, route) in [("health_route", &s.health_route), ("predict_route", &s.predict_route)] {
                    if !route.starts_with('/') || route.contains(char::is_whitespace) {
                        let pos = self.at(&format!("{p}/serving/{field}"));
                        self.report(Code::InvalidValue, pos, format!("route `{route}` must start with `/` and contain no spaces"), None);
                    }
                }
            }
        }
    }

    fn datasets(&mut self) {
        for (name, d) in &self.spec.datasets {
            let p = pointer_push("/datasets", name);
            self.name(names::STEP, "dataset name", name, &p);
            match DataSource::parse(&d.source) {
                None => {
                    let pos = self.at(&format!("{p}/source"));
                    self.report(Code::InvalidValue, pos, format!("invalid dataset source `{}`", d.source), Some("use `bq://dataset.table`, `bq://project.dataset.table` or `gs://<bucket>/<path>` with a bucket from storage.buckets".into()));
                }
                Some(crate::spec::DataSource::Gcs { bucket, .. }) => {
                    self.reference("bucket", &bucket, &self.spec.storage.buckets, &format!("{p}/source"));
                    if d.format.is_none() {
                        let pos = self.key_at(&p);
                        self.report(Code::InvalidValue, pos, format!("dataset `{name}` on Cloud Storage needs a `format`"), Some("add `format: csv` or `format: parquet`".into()));
                    }
                }
                Some(crate::spec::DataSource::BigQuery { project, dataset, table }) => {
                    if let Some(project) = project {
                        self.value_name(names::GCP_PROJECT, "GCP project id", &project, &format!("{p}/source"));
                    }
                    for id in [dataset, table] {
                        self.value_name(names::BQ_ID, "BigQuery id", &id, &format!("{p}/source"));
                    }
                }
            }
            if let Some(sample) = &d.sample {
                self.repo_path(sample, &format!("{p}/sample"));
            }
            for (col, rule) in &d.columns {
                let cp = pointer_push(&format!("{p}/columns"), col);
                self.name(names::COLUMN, "column name", col, &cp);
                if let (Some(min), Some(max)) = (rule.min, rule.max) {
                    if min > max {
                        let pos = self.at(&format!("{cp}/min"));
                        self.report(Code::InvalidValue, pos, format!("min {min} is larger than max {max}"), None);
                    }
                }
                if (rule.min.is_some() || rule.max.is_some()) && !matches!(rule.ty, ColumnType::Int | ColumnType::Float) {
                    let pos = self.key_at(&cp);
                    self.report(Code::InvalidValue, pos, format!("column `{col}` has a range but is not numeric"), None);
                }
                if let Some(r) = rule.max_missing_ratio {
                    if !(0.0..=1.0).contains(&r) {
                        let pos = self.at(&format!("{cp}/max_missing_ratio"));
                        self.report(Code::InvalidValue, pos, "max_missing_ratio must be between 0 and 1", None);
                    }
                }
            }
        }
    }

    fn features(&mut self) {
        let Some(f) = &self.spec.features else { return };
        for (name, g) in &f.groups {
            let p = pointer_push("/features/groups", name);
            self.name(names::IDENT, "feature group name", name, &p);
            if !self.reference("dataset", &g.dataset, &self.spec.datasets, &format!("{p}/dataset")) {
                continue;
            }
            let Some(ds) = self.spec.datasets.get(&g.dataset) else { continue };
            if !ds.source.starts_with("bq://") {
                let pos = self.at(&format!("{p}/dataset"));
                self.report(Code::WrongKind, pos, format!("feature group `{name}` needs a BigQuery dataset, but `{}` is on Cloud Storage", g.dataset), None);
            }
            let mut cols: Vec<(String, String)> = vec![(g.entity_id.clone(), format!("{p}/entity_id"))];
            cols.extend(g.features.iter().enumerate().map(|(i, c)| (c.clone(), format!("{p}/features/{i}"))));
            for (col, ptr) in cols {
                self.reference("column", &col, &ds.columns, &ptr);
            }
            let ts = facts::FEATURE_TIMESTAMP;
            if ds.source.starts_with("bq://") && ds.columns.get(ts).is_none_or(|c| c.ty != crate::spec::ColumnType::Timestamp) {
                let pos = self.at(&format!("{p}/dataset"));
                let help = format!("add `{ts}: {{type: timestamp, nullable: false}}` to the columns of dataset `{}` (and the table)", g.dataset);
                self.report(
                    Code::InvalidValue,
                    pos,
                    format!("feature group `{name}`: dataset `{}` has no `{ts}` timestamp column, so its feature views cannot sync", g.dataset),
                    Some(help),
                );
            }
        }
        for (name, v) in &f.views {
            let p = pointer_push("/features/views", name);
            self.name(names::IDENT, "feature view name", name, &p);
            self.reference("feature group", &v.group, &f.groups, &format!("{p}/group"));
            if let Some(cron) = &v.sync_cron {
                self.cron(cron, &format!("{p}/sync_cron"));
            }
        }
    }

    fn models_and_endpoints(&mut self) {
        for (name, m) in &self.spec.models {
            let p = pointer_push("/models", name);
            self.name(names::KEY, "model name", name, &p);
            let ptr = format!("{p}/serving_image");
            if self.reference("image", &m.serving_image, &self.spec.images, &ptr)
                && self.spec.images.get(&m.serving_image).is_some_and(|i| i.serving.is_none())
            {
                let pos = self.at(&ptr);
                self.report(Code::WrongKind, pos, format!("image `{}` has no `serving` section, so it can't serve model `{name}`", m.serving_image), Some("add `serving: {}` to the image".into()));
            }
        }
        for (name, e) in &self.spec.endpoints {
            let p = pointer_push("/endpoints", name);
            self.name(names::KEY, "endpoint name", name, &p);
            self.machine(&e.machine_type, e.accelerator.as_ref(), &format!("{p}/machine_type"));
            if e.min_replicas > e.max_replicas || e.min_replicas == 0 {
                let pos = self.at(&format!("{p}/min_replicas"));
                self.report(Code::InvalidValue, pos, format!("min_replicas ({}) must be at least 1 and at most max_replicas ({})", e.min_replicas, e.max_replicas), None);
            }
            if let Some(r) = &e.request_logging {
                if !(r.sampling_rate > 0.0 && r.sampling_rate <= 1.0) {
                    let pos = self.at(&format!("{p}/request_logging/sampling_rate"));
                    self.report(Code::InvalidValue, pos, "sampling_rate must be greater than 0 and at most 1", None);
                }
            }
        }
    }

    fn services_and_functions(&mut self) {
        let project = self.spec.project.name.clone();
        for (name, s) in &self.spec.services {
            let p = pointer_push("/services", name);
            self.name(names::KEY, "service name", name, &p);
            let full = naming::prefixed(&project, name);
            if names::CLOUD_RUN.check(&full).is_err() {
                let pos = self.key_at(&p);
                self.report(Code::InvalidName, pos, format!("Cloud Run service would be named `{full}`"), Some(format!("use {}", names::CLOUD_RUN.describe)));
            }
            self.reference("image", &s.image, &self.spec.images, &format!("{p}/image"));
            if let Some(e) = &s.endpoint {
                self.reference("endpoint", e, &self.spec.endpoints, &format!("{p}/endpoint"));
            }
            if s.min_instances > s.max_instances || s.max_instances == 0 {
                let pos = self.at(&format!("{p}/max_instances"));
                self.report(Code::InvalidValue, pos, "max_instances must be at least 1 and at least min_instances", None);
            }
            if let Some(memory) = s.memory.as_deref().filter(|m| facts::cloud_run_memory_mib(m).is_none()) {
                let pos = self.at(&format!("{p}/memory"));
                self.report(
                    Code::InvalidValue,
                    pos,
                    format!("invalid Cloud Run memory limit `{memory}`"),
                    Some("write a whole number of Mi or Gi from 128Mi to 32Gi, e.g. `512Mi` or `2Gi`".into()),
                );
            }
            if self.spec.functions.contains_key(name) {
                // Both become the Cloud Run service `<project>-<key>` (a 2nd-gen function runs on Cloud Run).
                let pos = self.key_at(&p);
                self.report(Code::DuplicateName, pos, format!("service `{name}` and function `{name}` would both be the Cloud Run service `{full}`"), Some("rename one of them".into()));
            }
            self.env_vars(&s.env, &format!("{p}/env"));
        }
        for (name, f) in &self.spec.functions {
            let p = pointer_push("/functions", name);
            self.name(names::KEY, "function name", name, &p);
            let full = naming::prefixed(&project, name);
            if names::FUNCTION.check(&full).is_err() {
                let pos = self.key_at(&p);
                self.report(Code::InvalidName, pos, format!("function would be named `{full}`"), Some(format!("use {}", names::FUNCTION.describe)));
            }
            self.repo_path(&f.source, &format!("{p}/source"));
            if !facts::is_runtime(&f.runtime) {
                let pos = self.at(&format!("{p}/runtime"));
                self.report(Code::InvalidValue, pos, format!("unknown Cloud Functions runtime `{}`", f.runtime), Some("e.g. python312, nodejs20, go122, java21".into()));
            }
            if !f.entry_point.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') || f.entry_point.is_empty() {
                let pos = self.at(&format!("{p}/entry_point"));
                self.report(Code::InvalidName, pos, format!("invalid entry point `{}`", f.entry_point), Some("use a function name: letters, digits, `_` and `.`".into()));
            }
            if let Some(t) = &f.trigger {
                self.reference("bucket", &t.bucket, &self.spec.storage.buckets, &format!("{p}/trigger/bucket"));
            }
            if let Some(pl) = &f.starts_pipeline {
                self.reference("pipeline", pl, &self.spec.pipelines, &format!("{p}/starts_pipeline"));
            }
            self.env_vars(&f.env, &format!("{p}/env"));
        }
    }

    fn orchestration_and_ci(&mut self) {
        if let Some(c) = &self.spec.orchestration.composer {
            if !facts::is_composer_version(&c.image_version) {
                let pos = self.at("/orchestration/composer/image_version");
                self.report(Code::InvalidValue, pos, format!("`{}` is not a Composer 3 image version", c.image_version), Some("use composer-3-airflow-X.Y.Z or composer-3-airflow-X.Y.Z-build.N".into()));
            }
        }
        if let Some(ci) = &self.spec.ci {
            for (field, v) in [("owner", &ci.github.owner), ("repo", &ci.github.repo)] {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                    let pos = self.at(&format!("/ci/github/{field}"));
                    self.report(Code::InvalidName, pos, format!("invalid GitHub {field} `{v}`"), Some("use letters, digits, `-`, `_` and `.`".into()));
                }
            }
            if !ci.github.oauth_token_secret.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
                let pos = self.at("/ci/github/oauth_token_secret");
                self.report(Code::InvalidName, pos, "a Secret Manager secret id has only letters, digits, `-` and `_`", None);
            }
            if ci.branch.is_empty() || ci.branch.contains(char::is_whitespace) {
                let pos = self.at("/ci/branch");
                self.report(Code::InvalidName, pos, format!("invalid branch `{}`", ci.branch), None);
            }
            if let Some(pl) = &ci.run_pipeline {
                self.reference("pipeline", pl, &self.spec.pipelines, "/ci/run_pipeline");
            }
            let on_vertex = |(_, p): &(&String, &Pipeline)| p.schedule.as_ref().is_some_and(|s| s.orchestrator == Orchestrator::Vertex);
            let scheduled = if ci.prune_schedules == Some(false) { self.spec.pipelines.iter().find(on_vertex) } else { None };
            if let Some((key, _)) = scheduled {
                let pos = self.at("/ci/prune_schedules");
                let msg = format!("pipeline `{key}` is scheduled on Vertex AI, so deploys must delete the schedules the spec drops");
                let hint = "remove `ci.prune_schedules` (deploys prune while a pipeline is scheduled on Vertex AI)";
                self.report(Code::InvalidValue, pos, msg, Some(hint.into()));
            }
            if !facts::is_image_ref(&ci.python_image) {
                let pos = self.at("/ci/python_image");
                self.report(Code::InvalidValue, pos, format!("`{}` is not an image reference with a tag", ci.python_image), None);
            } else if !ci.test.is_empty() && facts::lacks_apt(&ci.python_image) {
                // The test steps install the images' system packages with apt-get (`cloudbuild/pr.rs`).
                let native = self.spec.images.iter().find(|(_, i)| !i.system_packages.is_empty());
                if let Some((key, _)) = native {
                    let pos = self.at("/ci/python_image");
                    let msg = format!(
                        "`{}` has no apt-get, which the test steps use to install the images' system_packages (`images.{key}.system_packages`)",
                        ci.python_image
                    );
                    self.report(Code::InvalidValue, pos, msg, Some("use a Debian-based image, e.g. `python:3.12-slim`, like the images' bases".into()));
                }
            }
            let pinned = ci.mlopsgen_image.split_once('@').is_some_and(|(name, digest)| {
                !name.is_empty() && facts::is_digest(digest) && facts::is_image_ref(&format!("{name}:latest"))
            });
            if !pinned {
                let pos = self.at("/ci/mlopsgen_image");
                let hint = "build mlopsgen's Dockerfile at the revision you pin, push it, and name it as `REPOSITORY/mlopsgen@sha256:DIGEST`";
                self.report(Code::InvalidValue, pos, format!("`{}` is not an image pinned by digest", ci.mlopsgen_image), Some(hint.into()));
            }
            for (i, package) in ci.packages.iter().enumerate() {
                if package.is_empty() || package.starts_with('-') || package.contains(char::is_whitespace) {
                    let pos = self.at(&format!("/ci/packages/{i}"));
                    self.report(Code::InvalidValue, pos, format!("`{package}` is not a pip requirement specifier"), Some("e.g. `ruff==0.8.4`".into()));
                }
            }
            for (i, member) in ci.approvers.iter().enumerate() {
                if !facts::is_iam_principal(member) {
                    let pos = self.at(&format!("/ci/approvers/{i}"));
                    let hint = "use `user:EMAIL`, `group:EMAIL`, `serviceAccount:EMAIL` or `domain:DOMAIN`";
                    self.report(Code::InvalidValue, pos, format!("`{member}` is not an IAM principal"), Some(hint.into()));
                }
            }
            for (i, file) in ci.requirements.iter().flatten().enumerate() {
                if file.is_empty() || file.starts_with('/') || file.split('/').any(|part| part == "..") {
                    let pos = self.at(&format!("/ci/requirements/{i}"));
                    self.report(Code::InvalidValue, pos, format!("`{file}` is not a path inside the repository"), None);
                }
            }
        }
    }

    fn monitoring(&mut self) {
        let Some(m) = &self.spec.monitoring else { return };
        for (i, target) in m.notify.iter().enumerate() {
            let problem = match target.split_once(':') {
                Some(("email", addr)) => (!facts::is_email(addr)).then_some("use `email:someone@example.com`"),
                Some(("slack", channel)) => (!facts::is_slack_channel(channel)).then_some("use `slack:#channel-name` (lowercase)"),
                Some(("webhook", url)) => {
                    (!facts::is_https_url(url)).then_some("use `webhook:https://host/path` (https, no quotes, spaces or braces)")
                }
                Some(("pagerduty", secret)) => (!facts::is_secret_id(secret))
                    .then_some("use `pagerduty:SECRET`, the Secret Manager secret id holding the integration key"),
                Some(("pubsub", topic)) => {
                    (!facts::is_topic_id(topic)).then_some("use `pubsub:topic-name` (a letter first, 3-255 characters)")
                }
                _ => Some("use `email:`, `slack:#channel`, `webhook:https://…`, `pagerduty:SECRET` or `pubsub:TOPIC`"),
            };
            if let Some(help) = problem {
                let pos = self.at(&format!("/monitoring/notify/{i}"));
                self.report(Code::InvalidValue, pos, format!("invalid notification target `{target}`"), Some(help.into()));
            } else if target.starts_with("slack:") && m.slack_token_secret.is_none() {
                let pos = self.at(&format!("/monitoring/notify/{i}"));
                let help = "set `monitoring.slack_token_secret` to the Secret Manager secret holding the Slack bot token";
                self.report(Code::InvalidValue, pos, format!("`{target}` needs a Slack token"), Some(help.into()));
            }
        }
        if let Some(secret) = &m.slack_token_secret {
            if !facts::is_secret_id(secret) {
                let pos = self.at("/monitoring/slack_token_secret");
                self.report(Code::InvalidValue, pos, format!("`{secret}` is not a Secret Manager secret id"), None);
            }
        }
        let a = &m.alerts;
        if (a.endpoint_p99_latency_ms.is_some() || a.endpoint_error_rate.is_some()) && self.spec.endpoints.is_empty() {
            let pos = self.at("/monitoring/alerts");
            self.report(Code::UnknownReference, pos, "endpoint alerts are set but no endpoint is declared", None);
        }
        if a.dag_failures && self.spec.orchestration.composer.is_none() {
            let pos = self.at("/monitoring/alerts/dag_failures");
            self.report(Code::UnknownReference, pos, "DAG failure alerts need `orchestration.composer`", None);
        }
        if a.build_failures && self.spec.ci.is_none() {
            let pos = self.at("/monitoring/alerts/build_failures");
            self.report(Code::UnknownReference, pos, "build failure alerts need a `ci` section", None);
        }
        for (field, rate) in [("endpoint_error_rate", a.endpoint_error_rate), ("service_error_rate", a.service_error_rate)] {
            if rate.is_some_and(|r| !(r > 0.0 && r <= 1.0)) {
                let pos = self.at(&format!("/monitoring/alerts/{field}"));
                self.report(Code::InvalidValue, pos, format!("{field} must be greater than 0 and at most 1"), None);
            }
        }
        for (field, set) in [("service_p99_latency_ms", a.service_p99_latency_ms.is_some()), ("service_error_rate", a.service_error_rate.is_some())] {
            if set && self.spec.services.is_empty() {
                let pos = self.at(&format!("/monitoring/alerts/{field}"));
                self.report(Code::UnknownReference, pos, format!("`{field}` alerts on Cloud Run services, but no service is declared"), Some("declare one under `services:` or remove the alert".into()));
            }
        }
        if a.service_p99_latency_ms == Some(0) {
            let pos = self.at("/monitoring/alerts/service_p99_latency_ms");
            self.report(Code::InvalidValue, pos, "service_p99_latency_ms must be at least 1", None);
        }
        if let Some(d) = &m.drift {
            if self.reference("endpoint", &d.endpoint, &self.spec.endpoints, "/monitoring/drift/endpoint")
                && self.spec.endpoints.get(&d.endpoint).is_some_and(|e| e.request_logging.is_none())
            {
                let pos = self.at("/monitoring/drift/endpoint");
                self.report(Code::WrongKind, pos, format!("drift detection reads logged requests, but endpoint `{}` has no `request_logging`", d.endpoint), Some("add `request_logging: {sampling_rate: 0.1}` to the endpoint".into()));
            }
            self.reference("dataset", &d.dataset, &self.spec.datasets, "/monitoring/drift/dataset");
            self.cron(&d.cron, "/monitoring/drift/cron");
            // NaN isn't greater than 0 either.
            if d.threshold.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                let pos = self.at("/monitoring/drift/threshold");
                self.report(Code::InvalidValue, pos, "threshold must be greater than 0", None);
            }
            if self.spec.orchestration.composer.is_none() {
                let pos = self.at("/monitoring/drift");
                self.report(Code::UnknownReference, pos, "drift detection runs on Composer: declare `orchestration.composer`", None);
            }
        }
    }

    /// NUL and other control characters can't be carried by any target; newlines can't be carried
    /// by Dockerfile instructions or single-line fields.
    fn unsafe_strings(&mut self) {
        let mut found = Vec::new();
        walk_strings(&self.doc.value, &|s| s.chars().any(char::is_control), &mut found);
        for (pointer, s) in found {
            let multiline_ok = super::target_rules::is_description(&pointer);
            let bad = s.chars().find(|c| c.is_control() && !(multiline_ok && (*c == '\n' || *c == '\t')));
            if let Some(c) = bad {
                let pos = self.at(&pointer);
                let what = match c {
                    '\n' => "a newline".to_owned(),
                    '\r' => "a carriage return".to_owned(),
                    '\0' => "a NUL character".to_owned(),
                    c => format!("the control character U+{:04X}", c as u32),
                };
                self.report(Code::UnsafeString, pos, format!("this value contains {what}"), Some("generated files can't carry it safely; only descriptions may span lines".into()));
            }
        }
    }
}

/// Every string in a document that `wanted` accepts (keys with control characters included),
/// with its pointer. The path is kept as segments and spelled as a pointer only for the strings
/// returned (few or none: the walk runs over every spec).
pub(super) fn walk_strings(v: &serde_json::Value, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<(String, String)>) {
    enum Segment<'a> {
        Key(&'a str),
        Index(usize),
    }
    fn pointer(path: &[Segment<'_>]) -> String {
        let mut pointer = String::new();
        for segment in path {
            match segment {
                Segment::Key(k) => crate::spec::yaml::push_segment(&mut pointer, k),
                Segment::Index(i) => pointer.push_str(&format!("/{i}")),
            }
        }
        pointer
    }
    fn walk<'a>(v: &'a serde_json::Value, path: &mut Vec<Segment<'a>>, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) if wanted(s) => out.push((pointer(path), s.clone())),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    walk(item, path, wanted, out);
                    path.pop();
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    path.push(Segment::Key(k));
                    if k.chars().any(char::is_control) && wanted(k) {
                        out.push((pointer(path), k.clone()));
                    }
                    walk(item, path, wanted, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(v, &mut Vec::new(), wanted, out);
}
