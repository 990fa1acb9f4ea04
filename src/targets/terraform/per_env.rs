//! Per-environment differences in the one root module: each environment's view of the model
//! (`environments.<env>.overrides`, see [`Model::for_env`]) is built into a module, and the
//! modules are merged into one that `env/<env>.tfvars` turns back into each of them — Terraform's
//! own way to vary one configuration per environment
//! (<https://developer.hashicorp.com/terraform/language/values/variables#variable-definitions-tfvars-files>).
//!
//! - A literal that differs (a Cloud Run service's `max_instance_count`, a bucket rule's `age`,
//!   Composer's `environment_size`) becomes a variable, declared in `variables.tf`.
//! - A resource or data source that exists in some environments only (its entry removed with
//!   `null` in the others, Composer where a pipeline runs on it) gets
//!   `count = contains(var.present_resources, "<address>") ? 1 : 0`, and each environment's tfvars
//!   lists the addresses it has ([`PRESENT_VAR`]). Every reference to it is rewritten: `X[0].attr`
//!   in a block that exists only where X does (the `count` meta-argument,
//!   <https://developer.hashicorp.com/terraform/language/meta-arguments/count#referring-to-instances>),
//!   `X[*].attr` inside a list that holds it only where X exists (`flatten` joins the list back),
//!   and `one(X[*].attr)` in an output (null where X does not exist,
//!   <https://developer.hashicorp.com/terraform/language/functions/one>). `depends_on` names the
//!   resource itself, as Terraform requires.
//!
//! Nothing here knows a resource or an attribute. Any other difference (a nested block added, a
//! reference that is not in a list) is a [`Problem`], reported at the environment's overrides:
//! the module stays one module.

use super::syntax::{block, call, s, strings, var, BlockExt, Item, TfFile};
use crate::model::Model;
use hcl::expr::{Expression, ObjectKey, TemplateExpr, TraversalOperator};
use hcl::structure::{Body, Structure};
use std::collections::BTreeMap;

/// The variable listing the resources an environment has among those not in every environment.
pub const PRESENT_VAR: &str = "present_resources";

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

/// A resource or data source that exists in some environments only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optional {
    /// Its address (`google_composer_environment.composer`, `data.google_x.y`).
    pub address: String,
    /// Whether it exists, per environment in promotion order.
    pub present: Vec<bool>,
}

/// What varies per environment: the variables and the resources not everywhere.
#[derive(Debug, Clone, Default)]
pub struct PerEnv {
    /// Literals that differ.
    pub settings: Vec<Setting>,
    /// Resources that exist in some environments only.
    pub optional: Vec<Optional>,
}

/// An environment whose module differs in a way no variable or `count` expresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment.
    pub env: String,
    /// The files that differ.
    pub files: Vec<String>,
}

/// A module: its `*.tf` files by name.
pub type Files = Vec<(&'static str, TfFile)>;

/// One top-level item of the merged module with its version in each environment.
struct Entry {
    key: String,
    versions: Vec<Option<Item>>,
}

/// How a reference to an optional resource is written in one place.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `X[0].attr`: the place exists only where X does.
    Index,
    /// `X[*].attr`: a list element, present where X is.
    Splat,
    /// `one(X[*].attr)`: an output, null where X is not.
    One,
}

/// The module every environment shares, built from each environment's view with `build`, and
/// what its tfvars set; or the environments whose module no variable or `count` reproduces.
pub fn parameterize(model: &Model, build: impl Fn(&Model) -> Files) -> Result<(Files, PerEnv), Vec<Problem>> {
    if model.env_views.is_empty() {
        return Ok((build(model), PerEnv::default()));
    }
    let envs: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
    let views: Vec<Files> = envs.iter().map(|e| build(model.for_env(e))).collect();
    let names: Vec<&'static str> = views[0].iter().map(|(name, _)| *name).collect();
    let mut merged: Vec<(&'static str, Vec<Entry>)> =
        names.iter().enumerate().map(|(f, name)| (*name, union(views.iter().map(|v| v[f].1.items()), envs.len()))).collect();
    let optional = optional_resources(&merged);
    let by_address: BTreeMap<&str, &[bool]> = optional.iter().map(|o| (o.address.as_str(), o.present.as_slice())).collect();
    let mut out = PerEnv { settings: Vec::new(), optional: optional.clone() };
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for (name, entries) in &mut merged {
        let mut items = Vec::new();
        for entry in entries.iter_mut() {
            match merge_entry(entry, &by_address, &envs, &mut out.settings) {
                Ok(item) => items.push(item),
                Err(env) => problems.push((*name, entry.key.clone(), env)),
            }
        }
        files.push((*name, TfFile::from_items(items)));
    }
    if !problems.is_empty() {
        return Err(blame(model, &build, &envs, &views, problems));
    }
    if let Some((_, variables)) = files.iter_mut().find(|(name, _)| *name == "variables.tf") {
        declare(variables, &out);
    }
    Ok((files, out))
}

/// The problems (file, item, environment where the merge failed) put on the environments whose
/// overrides change that item: those whose version differs from the spec's own.
fn blame(model: &Model, build: &impl Fn(&Model) -> Files, envs: &[&str], views: &[Files], found: Vec<(&str, String, usize)>) -> Vec<Problem> {
    let base = build(model);
    let version = |files: &Files, name: &str, key: &str| {
        let file = files.iter().find(|(n, _)| *n == name).map(|(_, f)| f)?;
        let item = file.items().iter().find(|i| item_key(i) == key)?;
        TfFile::from_items(vec![item.clone()]).render().ok()
    };
    let mut out = Vec::new();
    for (name, key, at) in found {
        let file = format!("terraform/{name}");
        let theirs = |e: usize| version(&views[e], name, &key) != version(&base, name, &key);
        let changed: Vec<usize> = (0..envs.len()).filter(|&e| theirs(e)).collect();
        let changed = if changed.is_empty() { vec![at] } else { changed };
        out.extend(changed.into_iter().map(|e| Problem { env: envs[e].to_owned(), files: vec![file.clone()] }));
    }
    out.sort_by(|a, b| (&a.env, &a.files).cmp(&(&b.env, &b.files)));
    out.dedup();
    out
}

/// The `env/<env>.tfvars` lines of environment `index`.
pub fn tfvars(per_env: &PerEnv, index: usize) -> Option<Item> {
    if per_env.settings.is_empty() && per_env.optional.is_empty() {
        return None;
    }
    let mut body = Body::builder();
    for setting in &per_env.settings {
        body = body.add_attribute((setting.var.as_str(), setting.values.get(index).cloned().unwrap_or(Expression::Null)));
    }
    if !per_env.optional.is_empty() {
        let present = per_env.optional.iter().filter(|o| o.present.get(index) == Some(&true)).map(|o| o.address.as_str());
        body = body.add_attribute((PRESENT_VAR, strings(present)));
    }
    Some(Item::attributes(body.build()).note("Per-environment values (environments.<env>.overrides)."))
}

fn declare(variables: &mut TfFile, per_env: &PerEnv) {
    for setting in &per_env.settings {
        let ty = match setting.values.first() {
            Some(Expression::Number(_)) => "number",
            Some(Expression::Bool(_)) => "bool",
            _ => "string",
        };
        let description = format!("`{}` in this environment (environments.<env>.overrides).", setting.at);
        variables.push(block("variable").add_label(setting.var.as_str()).attr("type", super::syntax::r(&[ty])).attr("description", s(description)).build());
    }
    if !per_env.optional.is_empty() {
        let description = "Resources that exist only in some environments (environments.<env>.overrides remove them elsewhere): those this environment creates.";
        variables.push(
            block("variable")
                .add_label(PRESENT_VAR)
                .attr("type", call("set", vec![super::syntax::r(&["string"])]))
                .attr("description", s(description))
                .build(),
        );
    }
}

/// What identifies an item across environments: a labelled block by kind and labels, anything
/// else by its text.
fn item_key(item: &Item) -> String {
    match item.as_block() {
        Some(b) if !b.labels.is_empty() => {
            let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
            format!("{} {}", b.identifier, labels.join(" "))
        }
        _ => TfFile::from_items(vec![item.clone()]).render().unwrap_or_default(),
    }
}

/// The items of every environment's file, merged in order (an item one environment adds comes
/// after the item it follows there).
fn union<'a>(files: impl Iterator<Item = &'a [Item]>, n: usize) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (e, items) in files.enumerate() {
        let mut cursor = 0;
        for item in items {
            let key = item_key(item);
            let free = |x: &Entry| x.key == key && x.versions[e].is_none();
            let found = entries[cursor..].iter().position(free).map(|i| i + cursor).or_else(|| entries.iter().position(free));
            match found {
                Some(i) => {
                    entries[i].versions[e] = Some(item.clone());
                    cursor = i + 1;
                }
                None => {
                    let mut versions = vec![None; n];
                    versions[e] = Some(item.clone());
                    entries.insert(cursor, Entry { key, versions });
                    cursor += 1;
                }
            }
        }
    }
    entries
}

/// The address of a `resource` or `data` block.
fn address(item: &Item) -> Option<String> {
    let b = item.as_block()?;
    let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
    match (b.identifier.as_str(), labels.as_slice()) {
        ("resource", [ty, name]) => Some(format!("{ty}.{name}")),
        ("data", [ty, name]) => Some(format!("data.{ty}.{name}")),
        _ => None,
    }
}

/// Resources and data sources missing from some environment, in file order.
fn optional_resources(files: &[(&'static str, Vec<Entry>)]) -> Vec<Optional> {
    let mut out = Vec::new();
    for (_, entries) in files {
        for entry in entries {
            let present: Vec<bool> = entry.versions.iter().map(Option::is_some).collect();
            if present.iter().all(|p| *p) {
                continue;
            }
            if let Some(address) = entry.versions.iter().flatten().next().and_then(address) {
                out.push(Optional { address, present });
            }
        }
    }
    out
}

/// Whether `inner` exists only where `outer` does.
fn within(inner: &[bool], outer: &[bool]) -> bool {
    inner.iter().zip(outer).all(|(i, o)| !i || *o)
}

/// The merged item of one entry, or the index of an environment whose version cannot be merged.
fn merge_entry(entry: &mut Entry, optional: &BTreeMap<&str, &[bool]>, envs: &[&str], settings: &mut Vec<Setting>) -> Result<Item, usize> {
    let present: Vec<bool> = entry.versions.iter().map(Option::is_some).collect();
    let first = present.iter().position(|p| *p).unwrap_or(0);
    let Some(mut item) = entry.versions[first].clone() else { return Err(first) };
    for other in entry.versions.iter().flatten() {
        item.absorb_comments(other);
    }
    let Some(kind) = item.as_block().map(|b| b.identifier.to_string()) else {
        return Ok(item); // a comment paragraph
    };
    let mode = |referent: &[bool]| match kind.as_str() {
        "output" => Mode::One,
        "import" | "moved" => Mode::Index,
        _ if within(&present, referent) => Mode::Index,
        _ => Mode::Splat,
    };
    let mut bodies: Vec<(usize, Body)> = Vec::new();
    for (e, version) in entry.versions.iter_mut().enumerate() {
        if let Some(b) = version.as_mut().and_then(Item::as_block_mut) {
            rewrite_body(&mut b.body, optional, &mode, true);
            bodies.push((e, std::mem::take(&mut b.body)));
        }
    }
    let Some(block) = item.as_block_mut() else { return Err(first) };
    let labels: Vec<String> = block.labels.iter().map(|l| l.as_str().to_owned()).collect();
    let mut ctx = Merge { optional, envs: envs.len(), settings, outputs: kind == "output" };
    block.body = ctx.body(&bodies, &labels.join("."), &mut Vec::new())?;
    if present.iter().all(|p| *p) || kind == "variable" || kind == "output" {
        return Ok(item);
    }
    let Some(address) = address(&item) else { return Err(present.iter().position(|p| !p).unwrap_or(0)) };
    let Some(block) = item.as_block_mut() else { return Err(first) };
    if block.body.0.iter().any(|s| matches!(s, Structure::Attribute(a) if a.key.as_str() == "for_each")) {
        return Err(first);
    }
    add_count(&mut block.body, &address);
    let only: Vec<&str> = envs.iter().zip(&present).filter(|(_, p)| **p).map(|(e, _)| *e).collect();
    Ok(item.note_first(format!("Only in {} (environments.<env>.overrides: the others do not have it).", only.join(", "))))
}

/// `count = contains(var.present_resources, "<address>") ? 1 : 0`, or that condition joined
/// (`&&`) to the one a `count` the block already has.
fn add_count(body: &mut Body, address: &str) {
    let present = call("contains", vec![var(PRESENT_VAR), s(address)]);
    for s in &mut body.0 {
        if let Structure::Attribute(a) = s {
            if a.key.as_str() == "count" {
                if let Expression::Conditional(c) = &mut a.expr {
                    let existing = match std::mem::replace(&mut c.cond_expr, Expression::Null) {
                        op @ (Expression::Operation(_) | Expression::Conditional(_)) => Expression::Parenthesis(Box::new(op)),
                        other => other,
                    };
                    c.cond_expr = super::syntax::op(present, hcl::expr::BinaryOperator::And, existing);
                }
                return;
            }
        }
    }
    body.0.insert(0, Structure::Attribute(hcl::structure::Attribute::new("count", super::syntax::count_if(present))));
}

/// Rewrites the references to optional resources in a body (not in `depends_on`, which names a
/// whole resource, nor in `lifecycle`, whose paths are the block's own attributes).
fn rewrite_body(body: &mut Body, optional: &BTreeMap<&str, &[bool]>, mode: &dyn Fn(&[bool]) -> Mode, top: bool) {
    for s in &mut body.0 {
        match s {
            Structure::Attribute(a) if top && a.key.as_str() == "depends_on" => {}
            Structure::Attribute(a) => rewrite(&mut a.expr, optional, mode),
            Structure::Block(b) if b.identifier.as_str() == "lifecycle" => {}
            Structure::Block(b) => rewrite_body(&mut b.body, optional, mode, false),
        }
    }
}

/// Where a traversal names an optional resource: its address and the index of the operator
/// holding the resource name.
fn traversal_address(t: &hcl::expr::Traversal) -> Option<(String, usize)> {
    let Expression::Variable(root) = &t.expr else { return None };
    let attr = |i: usize| match t.operators.get(i) {
        Some(TraversalOperator::GetAttr(id)) => Some(id.as_str().to_owned()),
        _ => None,
    };
    if root.as_str() == "data" {
        Some((format!("data.{}.{}", attr(0)?, attr(1)?), 1))
    } else {
        Some((format!("{}.{}", root.as_str(), attr(0)?), 0))
    }
}

fn rewrite(e: &mut Expression, optional: &BTreeMap<&str, &[bool]>, mode: &dyn Fn(&[bool]) -> Mode) {
    let mut wrap = false;
    match e {
        Expression::Traversal(t) => {
            // `a.b` then `[0].c` built as a traversal of a traversal is one reference: flattened,
            // `one(…)` wraps all of it (`one(x[*].config[0].uri)`), not its first part, whose
            // `[0]` would index null where `x` does not exist.
            while let Expression::Traversal(inner) = &mut t.expr {
                let inner = std::mem::replace(inner.as_mut(), hcl::expr::Traversal::new(Expression::Null, Vec::<TraversalOperator>::new()));
                t.operators.splice(0..0, inner.operators);
                t.expr = inner.expr;
            }
            rewrite(&mut t.expr, optional, mode);
            for op in &mut t.operators {
                if let TraversalOperator::Index(i) = op {
                    rewrite(i, optional, mode);
                }
            }
            if let Some((addr, at)) = traversal_address(t) {
                let indexed = matches!(
                    t.operators.get(at + 1),
                    Some(TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_) | TraversalOperator::FullSplat | TraversalOperator::AttrSplat)
                );
                if let (Some(present), false) = (optional.get(addr.as_str()), indexed) {
                    let m = mode(present);
                    let op = if m == Mode::Index { TraversalOperator::Index(Expression::Number(0.into())) } else { TraversalOperator::FullSplat };
                    t.operators.insert(at + 1, op);
                    wrap = m == Mode::One;
                }
            }
        }
        Expression::Array(items) => items.iter_mut().for_each(|i| rewrite(i, optional, mode)),
        Expression::Object(o) => o.iter_mut().for_each(|(_, v)| rewrite(v, optional, mode)),
        Expression::FuncCall(f) => f.args.iter_mut().for_each(|a| rewrite(a, optional, mode)),
        Expression::Parenthesis(p) => rewrite(p, optional, mode),
        Expression::Conditional(c) => {
            for x in [&mut c.cond_expr, &mut c.true_expr, &mut c.false_expr] {
                rewrite(x, optional, mode);
            }
        }
        Expression::Operation(op) => match op.as_mut() {
            hcl::expr::Operation::Unary(u) => rewrite(&mut u.expr, optional, mode),
            hcl::expr::Operation::Binary(b) => {
                rewrite(&mut b.lhs_expr, optional, mode);
                rewrite(&mut b.rhs_expr, optional, mode);
            }
        },
        Expression::ForExpr(f) => {
            for x in [Some(&mut f.collection_expr), f.key_expr.as_mut(), Some(&mut f.value_expr), f.cond_expr.as_mut()].into_iter().flatten() {
                rewrite(x, optional, mode);
            }
        }
        Expression::TemplateExpr(t) => {
            let text = match t.as_mut() {
                TemplateExpr::QuotedString(text) => text,
                TemplateExpr::Heredoc(h) => &mut h.template,
            };
            for (addr, present) in optional {
                if text.contains(addr) && mode(present) == Mode::Index {
                    *text = index_in_template(text, addr);
                }
            }
        }
        _ => {}
    }
    if wrap {
        *e = call("one", vec![e.clone()]);
    }
}

/// `addr.` → `addr[0].` inside interpolations of template text, where `addr` starts a reference
/// (not preceded by a name character or `.`).
fn index_in_template(text: &str, addr: &str) -> String {
    let needle = format!("{addr}.");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let before = if at > 0 { rest[..at].chars().last() } else { out.chars().last() };
        out.push_str(&rest[..at]);
        let starts = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        out.push_str(addr);
        out.push_str(if starts { "[0]." } else { "." });
        rest = &rest[at + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// The addresses of optional resources an expression refers to (rendered text, so inside
/// templates too).
fn referents<'o>(e: &Expression, optional: &BTreeMap<&'o str, &[bool]>) -> Vec<&'o str> {
    let text = hcl::format::to_string(e).unwrap_or_default();
    optional.keys().copied().filter(|a| text.contains(&format!("{a}[*]")) || text.contains(&format!("{a}[0]"))).collect()
}

/// Merges the versions of a body.
struct Merge<'a, 'o> {
    optional: &'a BTreeMap<&'o str, &'a [bool]>,
    envs: usize,
    settings: &'a mut Vec<Setting>,
    outputs: bool,
}

impl Merge<'_, '_> {
    /// One body from the environments' versions (environment index, body); `address` and `path`
    /// name the variables made for differing literals.
    fn body(&mut self, versions: &[(usize, Body)], address: &str, path: &mut Vec<String>) -> Result<Body, usize> {
        let Some((_, first)) = versions.first() else { return Ok(Body::default()) };
        if versions.iter().all(|(_, b)| b == first) {
            return Ok(first.clone());
        }
        if let Some((e, _)) = versions.iter().find(|(_, b)| b.0.len() != first.0.len()) {
            return Err(*e);
        }
        let mut out = Vec::new();
        for (i, s) in first.0.iter().enumerate() {
            match s {
                Structure::Attribute(a) => {
                    let mut exprs = Vec::new();
                    for (e, b) in versions {
                        match &b.0[i] {
                            Structure::Attribute(x) if x.key == a.key => exprs.push((*e, x.expr.clone())),
                            _ => return Err(*e),
                        }
                    }
                    path.push(a.key.to_string());
                    let expr = self.expression(&exprs, address, path);
                    path.pop();
                    out.push(Structure::Attribute(hcl::structure::Attribute::new(a.key.clone(), expr?)));
                }
                Structure::Block(bl) => {
                    let mut bodies = Vec::new();
                    for (e, b) in versions {
                        match &b.0[i] {
                            Structure::Block(x) if x.identifier == bl.identifier && x.labels == bl.labels => bodies.push((*e, x.body.clone())),
                            _ => return Err(*e),
                        }
                    }
                    path.push(bl.identifier.to_string());
                    let body = self.body(&bodies, address, path);
                    path.pop();
                    let mut merged = bl.clone();
                    merged.body = body?;
                    out.push(Structure::Block(merged));
                }
            }
        }
        Ok(Body(out))
    }

    fn expression(&mut self, exprs: &[(usize, Expression)], address: &str, path: &[String]) -> Result<Expression, usize> {
        let first = &exprs[0].1;
        if exprs.iter().all(|(_, x)| x == first) {
            return Ok(first.clone());
        }
        if exprs.iter().all(|(_, x)| literal(x)) {
            let at = format!("{address}.{}", path.join("."));
            let mut name = variable_name(&at);
            if self.settings.iter().any(|s| s.var == name) {
                name = format!("{name}_{}", self.settings.len());
            }
            let values = (0..self.envs).map(|e| exprs.iter().find(|(x, _)| *x == e).unwrap_or(&exprs[0]).1.clone()).collect();
            self.settings.push(Setting { var: name.clone(), at, values });
            return Ok(var(&name));
        }
        let differs = exprs.iter().find(|(_, x)| x != first).map_or(0, |(e, _)| *e);
        if exprs.iter().all(|(_, x)| matches!(x, Expression::Array(_))) {
            return self.list(exprs).ok_or(differs);
        }
        if let Some(merged) = self.same_keys(exprs, address, path) {
            return merged;
        }
        if self.outputs && exprs.iter().all(|(_, x)| matches!(x, Expression::Object(_))) {
            return self.object(exprs).ok_or(differs);
        }
        Err(differs)
    }

    /// Objects with the same keys in every version: each value merged on its own (a label that
    /// differs becomes a variable). `None` when they are not such objects.
    fn same_keys(&mut self, exprs: &[(usize, Expression)], address: &str, path: &[String]) -> Option<Result<Expression, usize>> {
        let objects: Vec<(usize, &hcl::expr::Object<ObjectKey, Expression>)> = exprs
            .iter()
            .filter_map(|(e, x)| match x {
                Expression::Object(o) => Some((*e, o)),
                _ => None,
            })
            .collect();
        let (_, first) = objects.first()?;
        let same = objects.len() == exprs.len() && objects.iter().all(|(_, o)| o.len() == first.len() && o.keys().zip(first.keys()).all(|(a, b)| a == b));
        if !same {
            return None;
        }
        let mut out = hcl::expr::Object::new();
        for key in first.keys() {
            let values: Vec<(usize, Expression)> = objects.iter().filter_map(|(e, o)| Some((*e, o.get(key)?.clone()))).collect();
            let name = match key {
                ObjectKey::Identifier(i) => i.to_string(),
                ObjectKey::Expression(k) => hcl::format::to_string(k).unwrap_or_default().trim_matches('"').to_owned(),
                _ => String::new(),
            };
            let mut at = path.to_vec();
            at.push(name);
            match self.expression(&values, address, &at) {
                Ok(v) => {
                    out.insert(key.clone(), v);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(Expression::Object(out)))
    }

    /// Whether every optional resource `e` refers to exists in environment `env`.
    fn exists_in(&self, e: &Expression, env: usize) -> bool {
        referents(e, self.optional).iter().all(|a| self.optional.get(a).and_then(|p| p.get(env)) == Some(&true))
    }

    /// Lists whose versions differ only by elements that refer to optional resources:
    /// `flatten([a, X[*].id, …])`, each environment's list again.
    fn list(&self, exprs: &[(usize, Expression)]) -> Option<Expression> {
        let mut union: Vec<Expression> = Vec::new();
        for (_, x) in exprs {
            let Expression::Array(items) = x else { return None };
            let mut cursor = 0;
            for item in items {
                match union[cursor..].iter().position(|u| u == item) {
                    Some(i) => cursor += i + 1,
                    None => {
                        union.insert(cursor, item.clone());
                        cursor += 1;
                    }
                }
            }
        }
        for (e, x) in exprs {
            let expected: Vec<Expression> = union.iter().filter(|u| self.exists_in(u, *e)).cloned().collect();
            if *x != Expression::Array(expected) {
                return None;
            }
        }
        Some(call("flatten", vec![Expression::Array(union)]))
    }

    /// Output objects whose versions differ only by entries that refer to optional resources
    /// (`one(…)`, null where the resource does not exist).
    fn object(&self, exprs: &[(usize, Expression)]) -> Option<Expression> {
        let mut union: hcl::expr::Object<ObjectKey, Expression> = hcl::expr::Object::new();
        for (_, x) in exprs {
            let Expression::Object(o) = x else { return None };
            for (k, v) in o {
                match union.get(k) {
                    Some(u) if u != v => return None,
                    Some(_) => {}
                    None => {
                        union.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for (e, x) in exprs {
            let Expression::Object(o) = x else { return None };
            if union.iter().any(|(k, v)| !o.contains_key(k) && self.exists_in(v, *e)) {
                return None;
            }
        }
        // Keep the first version's order, then what others add.
        Some(Expression::Object(union))
    }
}

/// `google_cloud_run_v2_service.api.template.scaling.max_instance_count` →
/// `cloud_run_v2_service_api_template_scaling_max_instance_count`.
fn variable_name(at: &str) -> String {
    let name: String = at.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    name.strip_prefix("google_").map(str::to_owned).unwrap_or(name)
}

/// A number, bool or string without interpolation (what [`s`] writes: `$${` is escaped text).
fn literal(e: &Expression) -> bool {
    match e {
        Expression::Number(_) | Expression::String(_) | Expression::Bool(_) => true,
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(text) => {
                let unescaped = text.replace("$${", "").replace("%%{", "");
                !unescaped.contains("${") && !unescaped.contains("%{")
            }
            TemplateExpr::Heredoc(_) => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_references_are_indexed_only_where_they_start() {
        let t = "serviceAccount:${google_service_account.composer.email} ${data.google_service_account.composer.x} ${google_service_account.composer_x.email}";
        assert_eq!(
            index_in_template(t, "google_service_account.composer"),
            "serviceAccount:${google_service_account.composer[0].email} ${data.google_service_account.composer.x} ${google_service_account.composer_x.email}"
        );
    }

    #[test]
    fn within_is_subset() {
        assert!(within(&[false, true], &[true, true]));
        assert!(!within(&[true, true], &[false, true]));
    }
}
