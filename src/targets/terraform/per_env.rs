//! Per-environment values in the one root module: where an environment's view of the model
//! (`environments.<env>.overrides`, see [`Model::for_env`]) gives a generated resource a different
//! literal (a Cloud Run service's `max_instance_count`, a bucket rule's `age`, Composer's
//! `environment_size`), that attribute becomes a variable, declared in `variables.tf` and set by
//! each `env/<env>.tfvars` — Terraform's own way to vary one configuration per environment
//! (<https://developer.hashicorp.com/terraform/language/values/variables#variable-definitions-tfvars-files>).
//!
//! Nothing here knows an attribute: the module is built once per view and compared block by
//! block. A difference that is not one literal for another (a resource that exists in one
//! environment only, a nested block added, a reference changed) is a [`Problem`], reported at
//! the environment's overrides: the module stays one module.

use super::syntax::{block, s, var, BlockExt, Item, TfFile};
use crate::model::Model;
use hcl::expr::Expression;
use hcl::structure::{Attribute, Body, Structure};
use std::collections::BTreeMap;

/// One attribute that differs between environments.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Variable name.
    pub var: String,
    /// The resource address and the attribute's path in it, for the description.
    pub at: String,
    /// The value per environment, in promotion order.
    pub values: Vec<Expression>,
}

/// An environment whose module differs in a way no variable expresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment.
    pub env: String,
    /// The files that differ.
    pub files: Vec<String>,
}

/// Where an attribute sits: file index, top-level item index among blocks, structure indices.
type Path = (usize, usize, Vec<usize>);

/// Replaces each attribute whose literal differs between environments by a variable (in `files`,
/// the module built from `model`); `build` builds the module of a view the same way.
pub fn parameterize(
    files: &mut [(&'static str, TfFile)],
    model: &Model,
    build: impl Fn(&Model) -> Vec<(&'static str, TfFile)>,
) -> Result<Vec<Setting>, Vec<Problem>> {
    if model.env_views.is_empty() {
        return Ok(Vec::new());
    }
    let views: Vec<(String, Vec<(&'static str, TfFile)>)> =
        model.environments.iter().map(|e| (e.name.clone(), build(model.for_env(&e.name)))).collect();
    // Every literal that differs in some environment, with its value in each.
    let mut differing: BTreeMap<Path, (String, Vec<Expression>)> = BTreeMap::new();
    for (_, view) in &views {
        for (f, ((_, base), (_, theirs))) in files.iter().zip(view).enumerate() {
            for (b, (bb, tb)) in base.blocks().zip(theirs.blocks()).enumerate() {
                let mut found = Vec::new();
                literals(&bb.body, &tb.body, &mut Vec::new(), &mut found);
                for at in found {
                    let address = bb.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(".");
                    let name = format!("{address}.{}", names_at(&bb.body, &at).join("."));
                    differing.entry((f, b, at)).or_insert_with(|| (name, Vec::new()));
                }
            }
        }
    }
    // The value each environment has at each differing place.
    for (_, view) in &views {
        let mut view = view.clone();
        for ((f, b, at), (_, values)) in differing.iter_mut() {
            let value = view.get_mut(*f).and_then(|(_, file)| file.blocks_mut().nth(*b)).and_then(|bl| attr_at(&mut bl.body, at));
            values.push(value.map(|a| a.expr.clone()).unwrap_or(Expression::Null));
        }
    }
    let settings: Vec<Setting> = differing
        .iter()
        .map(|(_, (at, values))| Setting { var: variable_name(at), at: at.clone(), values: values.clone() })
        .collect();
    // Every module, base and views, with the variables in place must now be the same text.
    let with_vars = |files: &mut [(&'static str, TfFile)]| {
        for ((f, b, at), (name, _)) in &differing {
            if let Some(a) = files.get_mut(*f).and_then(|(_, file)| file.blocks_mut().nth(*b)).and_then(|bl| attr_at(&mut bl.body, at)) {
                a.expr = var(&variable_name(name));
            }
        }
    };
    with_vars(files);
    let rendered = |files: &[(&'static str, TfFile)]| -> Vec<String> { files.iter().map(|(_, f)| f.render().unwrap_or_default()).collect() };
    let base = rendered(files);
    let mut problems = Vec::new();
    for (env, mut view) in views {
        with_vars(&mut view);
        let theirs = rendered(&view);
        let changed: Vec<String> =
            files.iter().zip(base.iter().zip(&theirs)).filter(|(_, (a, b))| a != b).map(|((name, _), _)| format!("terraform/{name}")).collect();
        if !changed.is_empty() {
            problems.push(Problem { env, files: changed });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some((_, variables)) = files.iter_mut().find(|(name, _)| *name == "variables.tf") {
        for setting in &settings {
            let ty = match setting.values.first() {
                Some(Expression::Number(_)) => "number",
                Some(Expression::Bool(_)) => "bool",
                _ => "string",
            };
            let description = format!("`{}` in this environment (environments.<env>.overrides).", setting.at);
            variables.push(
                block("variable").add_label(setting.var.as_str()).attr("type", var_type(ty)).attr("description", s(description)).build(),
            );
        }
    }
    Ok(settings)
}

/// The `env/<env>.tfvars` lines of environment `index`.
pub fn tfvars(settings: &[Setting], index: usize) -> Option<Item> {
    if settings.is_empty() {
        return None;
    }
    let mut body = Body::builder();
    for setting in settings {
        body = body.add_attribute((setting.var.as_str(), setting.values.get(index).cloned().unwrap_or(Expression::Null)));
    }
    Some(Item::attributes(body.build()).note("Per-environment values (environments.<env>.overrides)."))
}

fn var_type(ty: &str) -> Expression {
    super::syntax::r(&[ty])
}

/// `google_cloud_run_v2_service.api.template.scaling.max_instance_count` →
/// `cloud_run_v2_service_api_template_scaling_max_instance_count`.
fn variable_name(at: &str) -> String {
    let name: String = at.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    name.strip_prefix("google_").map(str::to_owned).unwrap_or(name)
}

/// Structure paths (indices) of attributes holding different literals in `a` and `b`, walked in
/// parallel while both have the same shape (any other difference is found by comparing text).
fn literals(a: &Body, b: &Body, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if a.0.len() != b.0.len() {
        return;
    }
    for (i, (x, y)) in a.0.iter().zip(&b.0).enumerate() {
        at.push(i);
        match (x, y) {
            (Structure::Attribute(p), Structure::Attribute(q))
                if p.key == q.key && p.expr != q.expr && literal(&p.expr) && literal(&q.expr) =>
            {
                out.push(at.clone());
            }
            (Structure::Block(p), Structure::Block(q)) if p.identifier == q.identifier && p.labels == q.labels => {
                literals(&p.body, &q.body, at, out);
            }
            _ => {}
        }
        at.pop();
    }
}

/// A number, bool or string without interpolation (what [`s`] writes: `$${` is escaped text).
fn literal(e: &Expression) -> bool {
    match e {
        Expression::Number(_) | Expression::String(_) | Expression::Bool(_) => true,
        Expression::TemplateExpr(t) => match t.as_ref() {
            hcl::expr::TemplateExpr::QuotedString(text) => {
                let unescaped = text.replace("$${", "").replace("%%{", "");
                !unescaped.contains("${") && !unescaped.contains("%{")
            }
            hcl::expr::TemplateExpr::Heredoc(_) => false,
        },
        _ => false,
    }
}

/// The attribute at a structure path.
fn attr_at<'b>(body: &'b mut Body, at: &[usize]) -> Option<&'b mut Attribute> {
    let (first, rest) = at.split_first()?;
    match (body.0.get_mut(*first)?, rest.is_empty()) {
        (Structure::Attribute(a), true) => Some(a),
        (Structure::Block(b), false) => attr_at(&mut b.body, rest),
        _ => None,
    }
}

/// Block identifiers and the attribute key along a structure path.
fn names_at(body: &Body, at: &[usize]) -> Vec<String> {
    let Some((first, rest)) = at.split_first() else { return Vec::new() };
    match body.0.get(*first) {
        Some(Structure::Attribute(a)) => vec![a.key.to_string()],
        Some(Structure::Block(b)) => std::iter::once(b.identifier.to_string()).chain(names_at(&b.body, rest)).collect(),
        None => Vec::new(),
    }
}

