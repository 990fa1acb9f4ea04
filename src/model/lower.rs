//! Lowering: validated spec → [`Model`].
//!
//! Validation has already reported every user error, so a failed lookup here is a bug in
//! mlopsgen and comes back as [`LowerError`] (exit code 101), never as a panic.

use super::*;
use super::access::{self, Access};
use crate::spec::{self, Spec};
use std::collections::{BTreeMap, BTreeSet};

/// An inconsistency validation should have caught.
#[derive(Debug, thiserror::Error)]
#[error("internal error while lowering the spec: {0}")]
pub struct LowerError(pub String);

fn bug(msg: impl Into<String>) -> LowerError {
    LowerError(msg.into())
}

/// Where the spec and its output sit in the repository (both relative to the repository root,
/// with `/` separators).
#[derive(Debug, Clone)]
pub struct Layout {
    /// Spec file path.
    pub spec_path: String,
    /// Output directory path.
    pub output_dir: String,
}

/// Lowers a validated spec.
pub fn lower(spec: &Spec, layout: &Layout) -> Result<Model, LowerError> {
    lower_with(spec, layout, spec.needs_composer())
}

/// Lowers one environment's spec (the spec with that environment's overrides): like any spec, it
/// gets a Composer environment exactly when something of its own runs there, so dev on Vertex AI
/// schedules has none while prod's Composer schedules have one (the shared Terraform module
/// counts it per environment, `targets::terraform::per_env`).
fn lower_view(env_spec: &Spec, layout: &Layout) -> Result<Model, LowerError> {
    lower(env_spec, layout)
}

/// Lowers a validated spec with each environment's spec (the spec with that environment's
/// overrides, see `validate::envs`) as a view of it ([`Model::env_views`]). Each view keeps its
/// own grants: Terraform binds them only where they exist (`targets::terraform::per_env`).
pub fn lower_all(spec: &Spec, env_specs: &[(String, Spec)], layout: &Layout) -> Result<Model, LowerError> {
    let mut model = lower(spec, layout)?;
    for (env, env_spec) in env_specs {
        let view = lower_view(env_spec, layout)?;
        model.env_views.push((env.clone(), view));
    }
    // An environment that schedules nothing on Vertex AI may still hold a schedule an earlier
    // deploy made (the pipeline moved to Composer there, or lost its schedule): once any
    // environment schedules on Vertex AI, every deploy removes what its environment no longer has.
    // When none does any more, only `ci.prune_schedules` says an earlier spec did (`false` is
    // rejected while one does, and changes nothing here).
    let owns = spec.ci.as_ref().is_some_and(|c| c.prune_schedules == Some(true))
        || super::presence::views(&model).any(|v| super::delivery::vertex_scheduled(v).next().is_some());
    own_vertex_schedules(&mut model, owns);
    for (_, view) in &mut model.env_views {
        own_vertex_schedules(view, owns);
    }
    let trials: BTreeSet<String> = super::presence::views(&model).flat_map(trial_images).collect();
    let mark = |m: &mut Model| m.images.iter_mut().for_each(|i| i.tuning_trials = trials.contains(&i.key));
    mark(&mut model);
    model.env_views.iter_mut().for_each(|(_, view)| mark(view));
    Ok(model)
}

/// The images a model's hyperparameter-tuning steps run as trial containers.
fn trial_images(m: &Model) -> Vec<String> {
    let steps = m.pipelines.iter().flat_map(|p| &p.steps);
    steps.filter_map(|s| match &s.kind { StepKind::HyperparameterTuning { container, .. } => Some(container.image.clone()), _ => None }).collect()
}

/// Sets [`super::Ci::owns_vertex_schedules`], deriving the APIs and grants again when it changes.
fn own_vertex_schedules(m: &mut Model, owns: bool) {
    if let Some(ci) = m.ci.as_mut().filter(|c| c.owns_vertex_schedules != owns) {
        ci.owns_vertex_schedules = owns;
        m.apis = apis(m);
        m.grants = iam::derive(m);
    }
}

fn lower_with(spec: &Spec, layout: &Layout, composer: bool) -> Result<Model, LowerError> {
    let project_name = spec.project.name.clone();
    let mut labels = spec.project.labels.clone();
    labels.insert(naming::MANAGED_BY.0.into(), naming::MANAGED_BY.1.into());
    let project = Project { name: project_name.clone(), description: spec.project.description.clone(), labels };

    let environments = spec
        .environments
        .iter()
        .map(|(name, e)| {
            let mut labels = project.labels.clone();
            labels.extend(e.labels.clone());
            labels.insert(naming::ENV_LABEL.into(), name.clone());
            Environment {
                name: name.clone(),
                gcp_project: e.gcp_project.clone(),
                region: e.region.clone(),
                labels,
                project_name: project_name.clone(),
                bucket_names: spec
                    .storage
                    .buckets
                    .iter()
                    .filter_map(|(k, b)| b.external.as_ref().or_else(|| b.adopt.get(name)).map(|n| (k.clone(), n.clone())))
                    .collect(),
                external_sas: external_sas(spec)
                    .into_iter()
                    .map(|(role, email)| (role, naming::per_env(&email, &e.gcp_project, name)))
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    if environments.is_empty() {
        return Err(bug("no environments"));
    }

    let prefixed = |key: &str| naming::prefixed(&project_name, key);
    let mut images: Vec<Image> = spec.images.iter().map(|(k, i)| lower_image(k, i)).collect();
    if needs_validator(spec) {
        images.push(validator_image(&layout.output_dir));
        images.sort_by(|a, b| a.key.cmp(&b.key));
    }
    let datasets = spec.datasets.iter().map(|(k, d)| lower_dataset(k, d)).collect::<Result<Vec<_>, _>>()?;

    let mut model = Model {
        project: project.clone(),
        environments,
        state: TerraformState {
            bucket: spec.terraform.state_bucket.clone(),
            prefix: spec.terraform.state_prefix.clone().unwrap_or_else(|| format!("mlopsgen/{project_name}")),
        },
        output_dir: layout.output_dir.clone(),
        spec_path: layout.spec_path.clone(),
        buckets: spec
            .storage
            .buckets
            .iter()
            .map(|(k, b)| Bucket {
                key: k.clone(),
                versioning: b.versioning,
                delete_after_days: b.lifecycle.as_ref().and_then(|l| l.delete_after_days),
                nearline_after_days: b.lifecycle.as_ref().and_then(|l| l.nearline_after_days),
                keep_versions: b.lifecycle.as_ref().and_then(|l| l.keep_versions),
                kms_key: b.kms_key.clone(),
                ownership: match (&b.external, b.adopt.is_empty()) {
                    (Some(name), _) => Ownership::External(name.clone()),
                    (None, false) => Ownership::Adopted(b.adopt.clone()),
                    (None, true) => Ownership::Owned,
                },
            })
            .collect(),
        pipeline_root_bucket: spec.storage.pipeline_root.clone().unwrap_or_else(|| "artifacts".into()),
        features: spec.features.as_ref().map(|f| lower_features(&project_name, f)),
        pipelines: Vec::new(),
        models: Vec::new(),
        endpoints: spec
            .endpoints
            .iter()
            .map(|(k, e)| Endpoint {
                key: k.clone(),
                display_name: prefixed(k),
                id: naming::endpoint_id(&project_name, k),
                machine_type: e.machine_type.clone(),
                accelerator: e.accelerator.clone(),
                min_replicas: e.min_replicas,
                max_replicas: e.max_replicas,
                request_logging: e.request_logging.as_ref().map(|r| r.sampling_rate),
                logging_dataset: naming::request_log_dataset(&project_name, k),
            })
            .collect(),
        services: spec
            .services
            .iter()
            .map(|(k, s)| Service {
                key: k.clone(),
                name: prefixed(k),
                image: s.image.clone(),
                port: spec.images.get(&s.image).and_then(|i| i.serving.as_ref()).map_or(8080, |sv| sv.port),
                public: s.public,
                min_instances: s.min_instances,
                max_instances: s.max_instances,
                cpu: s.cpu.clone(),
                memory: s.memory.clone(),
                env: access::text_env(&s.env),
                access: Access::from_spec(&s.reads, &s.writes, &s.env),
                endpoint: s.endpoint.clone(),
            })
            .collect(),
        functions: spec
            .functions
            .iter()
            .map(|(k, f)| Function {
                key: k.clone(),
                name: prefixed(k),
                source: f.source.clone(),
                runtime: f.runtime.clone(),
                entry_point: f.entry_point.clone(),
                trigger_bucket: f.trigger.as_ref().map(|t| t.bucket.clone()),
                memory: f.memory.clone(),
                env: access::text_env(&f.env),
                access: Access::from_spec(&f.reads, &f.writes, &f.env),
                starts_pipeline: f.starts_pipeline.clone(),
            })
            .collect(),
        secrets: spec
            .secrets
            .iter()
            .map(|(id, s)| Secret {
                id: id.clone(),
                existing: s.existing,
                locations: s.locations.clone(),
                rotation: s.rotation.as_ref().filter(|_| !s.existing).map(|r| SecretRotation {
                    period_seconds: u64::from(r.period_days) * 86_400,
                    topic: format!("{project_name}-{id}-rotation"),
                }),
            })
            .collect(),
        tensorboard: spec.experiments.as_ref().is_some_and(|e| e.tensorboard),
        composer: spec.orchestration.composer.as_ref().filter(|_| composer).map(|c| Composer {
            name: prefixed("composer"),
            image_version: c.image_version.clone(),
            size: c.size,
        }),
        ci: spec.ci.as_ref().map(|c| Ci {
            owner: c.github.owner.clone(),
            repo: c.github.repo.clone(),
            app_installation_id: c.github.app_installation_id,
            oauth_token_secret: c.github.oauth_token_secret.clone(),
            branch: c.branch.clone(),
            release_tag: c.release_tag.clone(),
            python_image: c.python_image.clone(),
            requirements: c.requirements.clone().unwrap_or_else(|| image_requirements(spec)),
            packages: c.packages.clone(),
            mlopsgen_image: c.mlopsgen_image.clone(),
            approve_last: c.approve_last,
            approvers: c.approvers.clone(),
            lint: c.lint.clone(),
            test: c.test.clone(),
            run_pipeline: c.run_pipeline.clone(),
            connection: prefixed("github"),
            plan: c.terraform.plan,
            apply: c.terraform.apply,
            terraform_image: c.terraform.image.clone(),
            owns_vertex_schedules: false,
        }),
        monitoring: spec.monitoring.as_ref().map(lower_monitoring).unwrap_or_default(),
        images,
        datasets,
        service_accounts: Vec::new(),
        grants: Vec::new(),
        apis: Vec::new(),
        terraform_overrides: spec.overrides.terraform.clone(),
        external_sas: external_sas(spec),
        cloudbuild_overrides: spec.overrides.cloudbuild.clone(),
        pipeline_overrides: spec.overrides.pipelines.clone(),
        env_views: Vec::new(),
        derived: Default::default(),
    };

    for (key, m) in &spec.models {
        let serving = spec
            .images
            .get(&m.serving_image)
            .and_then(|i| i.serving.clone())
            .ok_or_else(|| bug(format!("model `{key}`: serving image without `serving`")))?;
        model.models.push(RegistryModel {
            key: key.clone(),
            display_name: prefixed(key),
            description: m.description.clone(),
            serving_image: m.serving_image.clone(),
            serving,
            explanation: m.explanation.clone(),
        });
    }
    for (key, p) in &spec.pipelines {
        let pipeline = lower_pipeline(&project_name, key, p, spec)?;
        model.pipelines.push(pipeline);
    }
    model.service_accounts = service_accounts(&model);
    model.apis = apis(&model);
    let scheduled = super::delivery::vertex_scheduled(&model).next().is_some();
    if let Some(ci) = &mut model.ci {
        ci.owns_vertex_schedules = scheduled;
    }
    model.grants = iam::derive(&model);
    Ok(model)
}

/// Whether anything runs the generated validator: a `data_validation` step, drift detection, or
/// a dataset sample checked in CI.
fn needs_validator(spec: &Spec) -> bool {
    let steps = spec.pipelines.values().flat_map(|p| p.steps.values());
    steps.clone().any(|s| matches!(s, spec::Step::DataValidation(_)))
        || spec.monitoring.as_ref().is_some_and(|m| m.drift.is_some())
        || (spec.ci.is_some() && spec.datasets.values().any(|d| d.sample.is_some()))
}

/// The validator image: the generated `validation/` package, built like any job image.
fn validator_image(output_dir: &str) -> Image {
    Image {
        key: naming::VALIDATOR_IMAGE.to_owned(),
        context: format!("{output_dir}/{}", naming::VALIDATOR_DIR),
        base: "python:3.11-slim".to_owned(),
        digest: None,
        requirements: Some("requirements.txt".to_owned()),
        system_packages: Vec::new(),
        entrypoint: vec!["python".into(), "-m".into(), "mlops_validation".into()],
        cmd: Vec::new(),
        env: BTreeMap::new(),
        serving: None,
        role: ImageRole::Job,
        tuning_trials: false,
    }
}

fn lower_image(key: &str, i: &spec::Image) -> Image {
    Image {
        key: key.to_owned(),
        context: i.context.clone(),
        base: i.base.clone(),
        digest: i.digest.clone(),
        requirements: i.requirements.clone(),
        system_packages: i.system_packages.clone(),
        entrypoint: i.entrypoint.clone(),
        cmd: i.cmd.clone(),
        env: i.env.clone(),
        serving: i.serving.clone(),
        role: if i.serving.is_some() { ImageRole::Serving } else { ImageRole::Job },
        tuning_trials: false,
    }
}

fn lower_dataset(key: &str, d: &spec::Dataset) -> Result<Dataset, LowerError> {
    let source = DataSource::parse(&d.source).ok_or_else(|| bug(format!("dataset `{key}`: bad source")))?;
    Ok(Dataset {
        key: key.to_owned(),
        source,
        format: d.format,
        sample: d.sample.clone(),
        columns: d
            .columns
            .iter()
            .map(|(name, c)| Column {
                name: name.clone(),
                ty: c.ty,
                nullable: c.nullable,
                min: c.min,
                max: c.max,
                allowed: c.allowed.clone(),
                unique: c.unique,
                max_missing_ratio: c.max_missing_ratio,
            })
            .collect(),
    })
}

fn lower_features(project: &str, f: &spec::Features) -> FeatureStore {
    let groups: Vec<FeatureGroup> = f
        .groups
        .iter()
        .map(|(k, g)| FeatureGroup {
            key: k.clone(),
            dataset: g.dataset.clone(),
            entity_id: g.entity_id.clone(),
            features: g.features.clone(),
        })
        .collect();
    let views = if f.views.is_empty() {
        groups.iter().map(|g| FeatureView { key: g.key.clone(), group: g.key.clone(), sync_cron: None }).collect()
    } else {
        f.views
            .iter()
            .map(|(k, v)| FeatureView { key: k.clone(), group: v.group.clone(), sync_cron: v.sync_cron.clone() })
            .collect()
    };
    FeatureStore {
        online_store_name: naming::online_store_name(project),
        store_type: f.online_store.ty,
        groups,
        views,
    }
}

fn lower_monitoring(m: &spec::Monitoring) -> Monitoring {
    let channels = m
        .notify
        .iter()
        .enumerate()
        .filter_map(|(i, target)| {
            let (kind, address) = target.split_once(':')?;
            let secret = match kind {
                "slack" => m.slack_token_secret.clone(),
                "pagerduty" => Some(address.to_owned()),
                _ => None,
            };
            Some(Channel { key: format!("{kind}_{i}"), kind: kind.to_owned(), address: address.to_owned(), secret })
        })
        .collect();
    Monitoring {
        channels,
        alerts: m.alerts.clone(),
        drift: m.drift.as_ref().map(|d| Drift {
            endpoint: d.endpoint.clone(),
            dataset: d.dataset.clone(),
            threshold: d.threshold,
            cron: d.cron.clone(),
        }),
    }
}


/// A batch prediction's input format when the spec gives none: `bigquery` for a table, else the
/// dataset's file format (validation rejects formats Vertex can't read).
pub fn default_instances_format(spec: &Spec, dataset: &str) -> InstancesFormat {
    match spec.datasets.get(dataset) {
        Some(d) if d.source.starts_with("bq://") => InstancesFormat::Bigquery,
        _ => InstancesFormat::Csv,
    }
}

fn lower_pipeline(project: &str, key: &str, p: &spec::Pipeline, spec: &Spec) -> Result<Pipeline, LowerError> {
    let params: Vec<Param> = p
        .parameters
        .iter()
        .map(|(n, prm)| Param { name: n.clone(), ty: prm.ty, default: prm.default.clone(), description: prm.description.clone() })
        .collect();
    let outputs: BTreeMap<&str, Vec<Output>> = p.steps.iter().map(|(n, s)| (n.as_str(), s.outputs())).collect();

    let mut steps = BTreeMap::new();
    for (name, s) in &p.steps {
        let common = s.common();
        let mut inputs: BTreeMap<String, Input> = BTreeMap::new();
        for (input, reference) in &common.inputs {
            let (ns, rest) = reference.split_once('.').ok_or_else(|| bug(format!("input `{reference}`")))?;
            let (source, ty) = if ns == "params" {
                let prm = p.parameters.get(rest).ok_or_else(|| bug(format!("parameter `{rest}`")))?;
                (InputSource::Param(rest.to_owned()), IoType::Parameter(prm.ty))
            } else {
                let out = outputs
                    .get(ns)
                    .and_then(|o| o.iter().find(|o| o.name == rest))
                    .ok_or_else(|| bug(format!("output `{reference}`")))?;
                (InputSource::Output { step: ns.to_owned(), output: rest.to_owned() }, out.ty)
            };
            inputs.insert(input.clone(), Input { name: input.clone(), source, ty });
        }
        let args: Vec<Arg> = s.args().iter().map(|a| Arg::parse(a)).collect();
        for part in args.iter().flat_map(|a| &a.0) {
            if let ArgPart::Param(prm) = part {
                let def = p.parameters.get(prm).ok_or_else(|| bug(format!("parameter `{prm}`")))?;
                inputs.entry(prm.clone()).or_insert_with(|| Input {
                    name: prm.clone(),
                    source: InputSource::Param(prm.clone()),
                    ty: IoType::Parameter(def.ty),
                });
            }
        }
        let condition = match &common.when {
            Some(w) => Some(Condition::parse(w).ok_or_else(|| bug(format!("condition `{w}`")))?),
            None => None,
        };
        let mut depends_on: BTreeSet<String> = common.after.iter().cloned().collect();
        for i in inputs.values() {
            if let InputSource::Output { step, .. } = &i.source {
                depends_on.insert(step.clone());
            }
        }
        if let Some(c) = &condition {
            depends_on.insert(c.step.clone());
        }
        let access = s.declared_access().map(|(r, w, e)| Access::from_spec(r, w, e)).unwrap_or_default();
        let container = |image: &str, command: &[String], env: &spec::Env| Container {
            image: image.to_owned(),
            command: if command.is_empty() {
                spec.images.get(image).map(|i| i.entrypoint.clone()).unwrap_or_default()
            } else {
                command.to_vec()
            },
            args: args.clone(),
            env: access::text_env(env),
            access: access.clone(),
        };
        let machine = |m: &spec::Machine| Machine {
            machine_type: m.ty.clone(),
            accelerator: m.accelerator.clone(),
            replica_count: m.replica_count,
        };
        let kind = match s {
            spec::Step::Container(c) => StepKind::Container {
                container: container(&c.image, &c.command, &c.env),
                resources: c
                    .resources
                    .as_ref()
                    .map(|r| Resources { cpu: r.cpu.clone(), memory: r.memory.clone(), accelerator: r.accelerator.clone() })
                    .unwrap_or_default(),
            },
            spec::Step::CustomTraining(c) => StepKind::CustomTraining {
                container: container(&c.image, &c.command, &c.env),
                machine: machine(&c.machine),
            },
            spec::Step::HyperparameterTuning(t) => StepKind::HyperparameterTuning {
                container: container(&t.image, &t.command, &BTreeMap::new()),
                metric: t.metric.name.clone(),
                goal: t.metric.goal,
                search_space: t.search_space.clone(),
                max_trials: t.max_trials,
                parallel_trials: t.parallel_trials,
                machine: machine(&t.machine),
            },
            spec::Step::ModelUpload(m) => {
                StepKind::ModelUpload { model: m.model.clone(), version_aliases: m.version_aliases.clone() }
            }
            spec::Step::EndpointDeploy(d) => {
                StepKind::EndpointDeploy { endpoint: d.endpoint.clone(), traffic_percent: d.traffic_percent }
            }
            spec::Step::ModelPromote(m) => StepKind::ModelPromote { alias: m.alias.clone(), goal: m.goal, lease_minutes: m.lease_minutes },
            spec::Step::BatchPrediction(b) => StepKind::BatchPrediction {
                dataset: b.dataset.clone(),
                registry: b.registry(),
                destination: Destination::parse(&b.destination),
                instances_format: b.instances_format.unwrap_or_else(|| default_instances_format(spec, &b.dataset)),
                predictions_format: b.predictions_format.unwrap_or(match Destination::parse(&b.destination) {
                    Destination::Bucket(_) => PredictionsFormat::Jsonl,
                    Destination::BigQueryDataset(_) | Destination::BigQueryProject => PredictionsFormat::Bigquery,
                }),
                machine_type: b.machine_type.clone(),
                max_replicas: b.max_replicas,
            },
            spec::Step::DataValidation(v) => StepKind::DataValidation { dataset: v.dataset.clone() },
            spec::Step::Component(c) => StepKind::Component {
                component: std::sync::Arc::new(
                    c.loaded
                        .as_deref()
                        .and_then(|f| super::component::parse(f).ok())
                        .ok_or_else(|| bug(format!("component file `{}` was not loaded", c.component)))?,
                ),
                image: c.image.clone(),
            },
        };
        let inputs: Vec<Input> = inputs.into_values().collect();
        // An explicit `cache` wins; otherwise the step kind decides, unless the pipeline turns caching off.
        let cache = common.cache.unwrap_or_else(|| p.caching && caching::reuse_by_default(&kind, &inputs));
        steps.insert(
            name.clone(),
            Step {
                name: name.clone(),
                kind,
                inputs,
                outputs: outputs.get(name.as_str()).cloned().unwrap_or_default(),
                depends_on: depends_on.into_iter().collect(),
                condition,
                retries: common.retries,
                cache,
            },
        );
    }
    let order = topo_order(&steps).ok_or_else(|| bug(format!("pipeline `{key}` has a cycle")))?;
    let steps = order.into_iter().filter_map(|n| steps.remove(&n)).collect();
    Ok(Pipeline {
        key: key.to_owned(),
        name: naming::pipeline_name(project, key),
        dag_id: naming::dag_id(project, key),
        description: p.description.clone(),
        params,
        steps,
        schedule: p.schedule.as_ref().map(|s| Schedule {
            cron: s.cron.clone(),
            orchestrator: s.orchestrator,
            time_zone: s.time_zone.clone(),
            parameters: s.parameters.clone(),
            wait_for: s.wait_for.clone(),
        }),
    })
}

/// Kahn's algorithm with a name-ordered ready set: a stable order, or `None` on a cycle.
pub fn topo_order(steps: &BTreeMap<String, Step>) -> Option<Vec<String>> {
    let mut remaining: BTreeMap<&str, usize> =
        steps.values().map(|s| (s.name.as_str(), s.depends_on.len())).collect();
    let mut ready: BTreeSet<&str> = remaining.iter().filter(|(_, d)| **d == 0).map(|(n, _)| *n).collect();
    let mut order = Vec::with_capacity(steps.len());
    while let Some(next) = ready.pop_first() {
        remaining.remove(next);
        order.push(next.to_owned());
        for s in steps.values().filter(|s| s.depends_on.iter().any(|d| d == next)) {
            if let Some(count) = remaining.get_mut(s.name.as_str()) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(s.name.as_str());
                }
            }
        }
    }
    remaining.is_empty().then_some(order)
}

/// Every spec image's requirements file, as a path from the repository root (what the PR
/// checks install by default before lint and tests).
fn image_requirements(spec: &Spec) -> Vec<String> {
    let files = spec.images.values().filter_map(|i| {
        let file = i.requirements.as_deref()?;
        Some(match i.context.trim_end_matches('/') {
            "" | "." => file.to_owned(),
            dir => format!("{dir}/{file}"),
        })
    });
    let mut files: Vec<String> = files.collect();
    files.sort();
    files.dedup();
    files
}

/// `service_accounts.<role>.external`, by role (validation guarantees each key is a role that
/// may be external).
pub fn external_sas(spec: &Spec) -> BTreeMap<SaRole, String> {
    spec.service_accounts
        .iter()
        .filter_map(|(k, sa)| SaRole::ALL.into_iter().find(|r| r.as_str() == k).map(|r| (r, sa.external.clone())))
        .collect()
}

fn service_accounts(m: &Model) -> Vec<SaRole> {
    let has_job_steps = m.pipelines.iter().flat_map(|p| &p.steps).any(|s| matches!(s.kind.user_container(), Some((SaRole::Training, _))));
    let wanted = [
        (SaRole::Pipelines, !m.pipelines.is_empty()),
        (SaRole::Training, has_job_steps),
        (SaRole::Serving, !m.endpoints.is_empty() || !m.services.is_empty()),
        (SaRole::Ci, m.ci.is_some()),
        (SaRole::Checks, m.ci.is_some()),
        (SaRole::Promote, m.ci.is_some() && m.environments.len() > 1),
        (SaRole::Composer, m.composer.is_some()),
        (SaRole::Functions, !m.functions.is_empty()),
        (SaRole::Plan, m.ci.as_ref().is_some_and(|c| c.plan)),
        (SaRole::Apply, m.ci.as_ref().is_some_and(|c| c.apply)),
    ];
    wanted.into_iter().filter(|(_, used)| *used).map(|(r, _)| r).collect()
}

fn apis(m: &Model) -> Vec<&'static str> {
    // Deploys that delete stale schedules call Vertex AI even when nothing else of the spec does.
    let prunes = m.ci.as_ref().is_some_and(|c| c.owns_vertex_schedules);
    let vertex = !m.pipelines.is_empty() || !m.endpoints.is_empty() || m.features.is_some() || m.tensorboard || prunes;
    let bigquery = m.datasets.iter().any(|d| matches!(d.source, DataSource::BigQuery { .. }))
        || m.endpoints.iter().any(|e| e.request_logging.is_some())
        || m.features.is_some()
        || m.pipelines.iter().flat_map(|p| &p.steps).any(|s| {
            matches!(&s.kind, StepKind::BatchPrediction { destination: Destination::BigQueryDataset(_) | Destination::BigQueryProject, .. })
        });
    let any_trigger = m.functions.iter().any(|f| f.trigger_bucket.is_some());
    let a = &m.monitoring.alerts;
    // The pipeline- and build-failure alerts match log entries (Cloud Logging is on in every
    // project by default: https://cloud.google.com/service-usage/docs/enabled-service), and
    // Terraform creates no Logging resource for them.
    let log_alerts = (a.pipeline_failures && !m.pipelines.is_empty()) || (a.build_failures && m.ci.is_some());
    let endpoint_alerts = !m.endpoints.is_empty() && (a.endpoint_p99_latency_ms.is_some() || a.endpoint_error_rate.is_some());
    let service_alerts = !m.services.is_empty() && (a.service_p99_latency_ms.is_some() || a.service_error_rate.is_some());
    let monitoring = !m.monitoring.channels.is_empty()
        || m.monitoring.drift.is_some()
        || log_alerts
        || endpoint_alerts
        || service_alerts
        || (a.dag_failures && m.composer.is_some());
    let channel = |kind: &str| m.monitoring.channels.iter().any(|c| c.kind == kind);
    let channel_secrets = m.monitoring.channels.iter().any(|c| c.secret.is_some());
    let wanted = [
        ("aiplatform.googleapis.com", vertex),
        // Images and function builds go to the Docker repository, templates to the KFP one.
        ("artifactregistry.googleapis.com", !m.images.is_empty() || !m.pipelines.is_empty() || !m.functions.is_empty()),
        ("bigquery.googleapis.com", bigquery),
        ("cloudbuild.googleapis.com", m.ci.is_some() || !m.functions.is_empty()),
        ("cloudfunctions.googleapis.com", !m.functions.is_empty()),
        ("composer.googleapis.com", m.composer.is_some()),
        ("eventarc.googleapis.com", any_trigger),
        ("iam.googleapis.com", true),
        ("monitoring.googleapis.com", monitoring),
        ("pubsub.googleapis.com", any_trigger || channel("pubsub") || m.secrets.iter().any(|s| s.rotation.is_some())),
        ("run.googleapis.com", !m.services.is_empty() || !m.functions.is_empty()),
        ("secretmanager.googleapis.com", m.ci.is_some() || channel_secrets || !m.secrets.is_empty()),
        ("storage.googleapis.com", true),
    ];
    wanted.into_iter().filter(|(_, used)| *used).map(|(a, _)| a).collect()
}
