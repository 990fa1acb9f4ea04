//! The Terraform target: one root module for every environment (google provider).
//!
//! Resources are emitted once, parameterised by variables whose per-environment values live in
//! `env/<env>.tfvars`; the state prefix comes from `env/<env>.backend.hcl`. Each `*.tf` file has its
//! own module here. Everything is built with hcl-rs (see [`syntax`]) and then aligned like
//! `terraform fmt` ([`fmt`]).

mod apis;
mod bootstrap;
mod cicd;
mod fmt;
mod iam;
mod monitoring;
pub mod overrides;
pub mod per_env;
mod root;
mod runtime;
mod secrets;
mod storage;
pub mod syntax;
mod vertex;

pub use cicd::triggers;
pub use iam::{address as binding_address, PROMOTER_VAR};
pub use runtime::{CREATE_FUNCTIONS, PLACEHOLDER_IMAGE};

use crate::model::{paths, Model, SaRole};
use crate::output::Emitter;
use crate::targets::{Shard, TargetError};
use crate::validate::emitted::UnmatchedOverride;
use hcl::expr::Expression;
use per_env::Files;
use std::sync::Arc;
use syntax::{r, TfFile};

/// Emits `terraform/`.
pub fn emit(model: &Model, out: &mut dyn Emitter, _all: Shard) -> Result<(), TargetError> {
    // The last reader: the module leaves the model, so its memory goes once the files are written.
    let module = model.derived.take::<Module>().unwrap_or_else(|| Arc::new(make_module(model)));
    if let Some(p) = module.unmatched.first() {
        return Err(TargetError::Failed { target: "terraform", message: p.message.clone() });
    }
    let (files, per_env) = module.merged.as_ref().map_err(|p| TargetError::Failed {
        target: "terraform",
        message: format!("environments differ beyond variables and counts: {p:?}"),
    })?;
    for (name, file) in files {
        if !file.is_empty() {
            out.insert_with(format!("{}/{name}", paths::TERRAFORM_DIR), || render(file))?;
        }
    }
    for (i, env) in model.environments.iter().enumerate() {
        out.insert_with(format!("{}/env/{}.tfvars", paths::TERRAFORM_DIR, env.name), || {
            let mut tfvars = root::tfvars(model, i);
            if let Some(values) = per_env::tfvars(per_env, i) {
                tfvars.push(values);
            }
            render(&tfvars)
        })?;
        out.insert_with(format!("{}/env/{}.backend.hcl", paths::TERRAFORM_DIR, env.name), || render(&root::backend(model, env)))?;
    }
    out.insert_with(format!("{}/bootstrap.sh", paths::TERRAFORM_DIR), || Ok::<_, TargetError>(bootstrap::script(model)))?;
    Ok(())
}

/// The overrides (`overrides.terraform`, and an environment's own in its view) that match nothing
/// in the generated module; checked before any target runs, so each is reported at its place in
/// the spec.
pub fn override_problems(model: &Model) -> Vec<UnmatchedOverride> {
    let none = |m: &Model| m.terraform_overrides.is_empty();
    if none(model) && model.env_views.iter().all(|(_, view)| none(view)) {
        return Vec::new(); // nothing to check: the module is left for `emit` to make
    }
    module(model).unmatched.clone()
}

/// Environments whose overrides change the module beyond what variables and `count` express
/// (see [`per_env`]); checked before any target runs, so each is reported at its overrides.
pub fn per_env_problems(model: &Model) -> Vec<per_env::Problem> {
    if model.env_views.is_empty() {
        return Vec::new(); // one environment's module needs no merging
    }
    module(model).merged.as_ref().err().cloned().unwrap_or_default()
}

/// The module, the costliest thing a build makes: read by the checks before any target runs
/// ([`override_problems`], [`per_env_problems`]) and by [`emit`], so made once per model.
struct Module {
    /// The `overrides.terraform` entries that match nothing: the spec's, in the model's own
    /// module, then each environment's own, in its view (`env` set).
    unmatched: Vec<UnmatchedOverride>,
    /// The module every environment shares and what each environment's tfvars set, or the
    /// environments no variable or `count` expresses.
    merged: Result<(Files, per_env::PerEnv), Vec<per_env::Problem>>,
}

fn module(model: &Model) -> Arc<Module> {
    model.derived.get_or_make(|| make_module(model))
}

fn make_module(model: &Model) -> Module {
    let (own, mut unmatched) = overridden(model);
    // An environment's own `overrides.terraform` applies to its view only: what matches nothing
    // there is reported at that environment (an entry of the spec's own, once).
    let theirs = std::cell::RefCell::new(Vec::new());
    // The views' modules are built, merged and dropped here; only the merged one is kept.
    let build = |m: &Model| {
        if std::ptr::eq(m, model) {
            return own.clone();
        }
        let (files, found) = overridden(m);
        let env = model.env_views.iter().find(|(_, view)| std::ptr::eq(view, m)).map(|(env, _)| env.clone());
        theirs.borrow_mut().extend(found.into_iter().map(|p| UnmatchedOverride { env: env.clone(), ..p }));
        files
    };
    let merged = per_env::parameterize(model, build);
    for p in theirs.into_inner() {
        if !unmatched.iter().any(|u| (&u.address, &u.path) == (&p.address, &p.path)) {
            unmatched.push(p);
        }
    }
    Module { unmatched, merged }
}

/// A model's module with `overrides.terraform` applied, and the overrides that matched nothing.
fn overridden(model: &Model) -> (Files, Vec<UnmatchedOverride>) {
    let mut files = files(model);
    let unmatched = overrides::apply(&mut files, &model.terraform_overrides);
    (files, unmatched)
}

/// The module's `*.tf` files, before overrides.
fn files(model: &Model) -> Files {
    vec![
        ("versions.tf", root::versions(model)),
        ("providers.tf", root::providers(model)),
        ("variables.tf", root::variables(model)),
        ("outputs.tf", root::outputs(model)),
        ("apis.tf", apis::file(model)),
        ("storage.tf", storage::file(model)),
        ("iam.tf", iam::file(model)),
        ("vertex.tf", vertex::file(model)),
        ("runtime.tf", runtime::file(model)),
        ("secrets.tf", secrets::file(model)),
        ("cicd.tf", cicd::file(model)),
        ("monitoring.tf", monitoring::file(model)),
    ]
}

fn render(file: &TfFile) -> Result<String, TargetError> {
    file.render().map_err(|e| TargetError::Failed { target: "terraform", message: e.to_string() })
}

/// `google_project_service.<api>` for `depends_on`.
fn api(service: &str) -> Expression {
    r(&["google_project_service", apis::ident(service)])
}

/// `depends_on = [google_project_service.<api>, …]` for the APIs the model enables.
fn depends_on_apis(model: &Model, services: &[&str]) -> Expression {
    syntax::list(services.iter().filter(|s| model.apis.contains(s)).map(|s| api(s)))
}

/// `google_service_account.<role>.<attr>` (`email`, `member`, `id`/`name`), or for a role bound
/// to an external account (`service_accounts.<role>.external`) the same value spelled out from
/// its email: this module neither creates nor reads that account (a data source would need
/// `iam.serviceAccounts.get` in the owner's project, which nothing here grants).
fn sa(m: &Model, role: SaRole, attr: &str) -> Expression {
    let Some(email) = m.external_sas.get(&role) else { return r(&["google_service_account", role.as_str(), attr]) };
    let mut parts = match attr {
        "member" => vec![syntax::lit("serviceAccount:")],
        "email" => Vec::new(),
        _ => {
            let project = crate::model::naming::sa_project(email).unwrap_or_default();
            let mut p = vec![syntax::lit("projects/")];
            p.extend(per_env(project));
            p.push(syntax::lit("/serviceAccounts/"));
            p
        }
    };
    parts.extend(per_env(email));
    syntax::tpl(parts)
}

/// A `{project}`/`{env}` template as template parts: `var.project_id` and `var.env`.
fn per_env(template: &str) -> Vec<syntax::Part> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let (name, len) = if rest[at..].starts_with("{project}") {
            ("project_id", "{project}".len())
        } else if rest[at..].starts_with("{env}") {
            ("env", "{env}".len())
        } else {
            break; // validation allows no other braces
        };
        if at > 0 {
            parts.push(syntax::lit(&rest[..at]));
        }
        parts.push(syntax::iref(syntax::var(name)));
        rest = &rest[at + len..];
    }
    if !rest.is_empty() {
        parts.push(syntax::lit(rest));
    }
    parts
}

/// `google_storage_bucket.<key>.name`, or `data.google_storage_bucket.<key>.name` for an
/// external bucket (which this Terraform only reads).
fn bucket(m: &Model, key: &str) -> Expression {
    if m.buckets.iter().any(|b| b.key == key && !b.managed()) {
        r(&["data", "google_storage_bucket", &syntax::ident(key), "name"])
    } else {
        r(&["google_storage_bucket", &syntax::ident(key), "name"])
    }
}

/// `bq://PROJECT.DATASET.TABLE` as template parts: the environment's `var.project_id`, or the
/// other project a `bq://project.dataset.table` source names.
fn table_uri(project: Option<&str>, dataset: &str, table: &str) -> Vec<syntax::Part> {
    match project {
        None => vec![syntax::lit("bq://"), syntax::iref(syntax::var("project_id")), syntax::lit(format!(".{dataset}.{table}"))],
        Some(p) => vec![syntax::lit(format!("bq://{p}.{dataset}.{table}"))],
    }
}

#[cfg(test)]
mod tests;
