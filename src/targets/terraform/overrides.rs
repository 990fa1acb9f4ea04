//! `overrides.terraform`: deep-merges spec values into generated resource blocks, after the
//! blocks are built and before they are rendered (so the output stays owned and formatted).
//!
//! Rule, per key of an override mapping, on a block body:
//! - `null` removes the attribute and every nested block of that name (removing nothing is an error);
//! - a mapping merges into the one nested block of that name, else into an object-valued attribute,
//!   else becomes a new nested block (Terraform's native syntax needs the block form for nested
//!   blocks such as `soft_delete_policy`; a new map-typed argument is written whole, as a value of
//!   an existing attribute, or as a mapping under a key that already holds an object);
//! - a list of mappings replaces the nested blocks of that name where there are any;
//! - anything else sets the attribute. Strings go through [`syntax::s`], so `${…}` stays literal
//!   text and no spec value becomes a Terraform expression.

use super::syntax::{self, TfFile};
use crate::validate::emitted::UnmatchedOverride as Problem;
use hcl::expr::{Expression, ObjectKey, TemplateExpr};
use hcl::structure::{Attribute, Block, Body, Structure};
use hcl::Identifier;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A block's address: `type.name` for a resource, `data.type.name` for a data source.
fn address(block: &Block) -> Option<String> {
    let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
    match (block.identifier.as_str(), labels.as_slice()) {
        ("resource", [ty, name]) => Some(format!("{ty}.{name}")),
        ("data", [ty, name]) => Some(format!("data.{ty}.{name}")),
        _ => None,
    }
}

/// Applies every override to the files' blocks; returns each one that matches nothing.
pub fn apply(files: &mut [(&str, TfFile)], overrides: &BTreeMap<String, Map<String, Value>>) -> Vec<Problem> {
    if overrides.is_empty() {
        return Vec::new();
    }
    let mut blocks: BTreeMap<String, &mut Block> = BTreeMap::new();
    for (_, file) in files.iter_mut() {
        for block in file.blocks_mut() {
            if let Some(a) = address(block) {
                blocks.insert(a, block);
            }
        }
    }
    let mut problems = Vec::new();
    for (addr, patch) in overrides {
        match blocks.get_mut(addr) {
            Some(block) => merge_body(&mut block.body, patch, &mut vec![], addr, &mut problems),
            None => problems.push(Problem {
                address: addr.clone(),
                path: Vec::new(),
                message: format!("`{addr}` is not a resource or data source mlopsgen generates"),
                did_you_mean: crate::validate::suggest::closest(addr, blocks.keys().map(String::as_str)).map(str::to_owned),
                env: None,
            }),
        }
    }
    problems
}

fn merge_body(body: &mut Body, patch: &Map<String, Value>, path: &mut Vec<String>, addr: &str, problems: &mut Vec<Problem>) {
    for (key, value) in patch {
        path.push(key.clone());
        let is_block = |s: &Structure| matches!(s, Structure::Block(b) if b.identifier.as_str() == key);
        let is_attr = |s: &Structure| matches!(s, Structure::Attribute(a) if a.key.as_str() == key);
        let blocks = body.0.iter().filter(|s| is_block(s)).count();
        if hcl::Identifier::new(key.as_str()).is_err() {
            problems.push(problem(addr, path, format!("`{key}` is not a Terraform argument or block name")));
            path.pop();
            continue;
        }
        match value {
            Value::Null => {
                let before = body.0.len();
                body.0.retain(|s| !is_block(s) && !is_attr(s));
                if body.0.len() == before {
                    problems.push(problem(addr, path, format!("`{key}` is not set on `{addr}`, so there is nothing to remove")));
                }
            }
            Value::Object(inner) if blocks == 1 => {
                if let Some(Structure::Block(b)) = body.0.iter_mut().find(|s| is_block(s)) {
                    merge_body(&mut b.body, inner, path, addr, problems);
                }
            }
            Value::Object(_) if blocks > 1 => {
                problems.push(problem(addr, path, format!("`{key}` is {blocks} nested blocks on `{addr}`: give a list of mappings to replace them all")));
            }
            Value::Object(inner) => match body.0.iter_mut().find(|s| is_attr(s)) {
                Some(Structure::Attribute(a)) => merge_object(&mut a.expr, inner),
                _ => insert(body, Structure::Block(new_block(key, inner))),
            },
            Value::Array(items) if blocks > 0 && items.iter().all(Value::is_object) => {
                let at = body.0.iter().position(&is_block).unwrap_or(body.0.len());
                body.0.retain(|s| !is_block(s));
                let new = items.iter().filter_map(Value::as_object).map(|m| Structure::Block(new_block(key, m)));
                body.0.splice(at.min(body.0.len())..at.min(body.0.len()), new);
            }
            _ if blocks > 0 => {
                problems.push(problem(addr, path, format!("`{key}` is a nested block on `{addr}`: give a mapping (or a list of mappings)")));
            }
            other => set_attribute(body, key, expression(other)),
        }
        path.pop();
    }
}

fn problem(addr: &str, path: &[String], message: String) -> Problem {
    Problem { address: addr.to_owned(), path: path.to_vec(), message, did_you_mean: None, env: None }
}

fn new_block(name: &str, patch: &Map<String, Value>) -> Block {
    let mut block = Block::builder(Identifier::sanitized(name)).build();
    // A new block has nothing to remove: its `null` keys are simply left out.
    let present: Map<String, Value> = patch.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    merge_body(&mut block.body, &present, &mut Vec::new(), "", &mut Vec::new());
    block
}

fn set_attribute(body: &mut Body, key: &str, expr: Expression) {
    for s in &mut body.0 {
        if let Structure::Attribute(a) = s {
            if a.key.as_str() == key {
                a.expr = expr;
                return;
            }
        }
    }
    insert(body, Structure::Attribute(Attribute::new(Identifier::sanitized(key), expr)));
}

/// Adds a new attribute or block before the meta-arguments (`depends_on`, `lifecycle`) that end
/// generated blocks, where `terraform fmt` users expect them.
fn insert(body: &mut Body, s: Structure) {
    let meta = |s: &Structure| match s {
        Structure::Attribute(a) => a.key.as_str() == "depends_on",
        Structure::Block(b) => b.identifier.as_str() == "lifecycle",
    };
    let at = body.0.iter().position(meta).unwrap_or(body.0.len());
    body.0.insert(at, s);
}

/// Deep-merges a mapping into an object expression; any other expression (`var.labels`) becomes
/// `merge(<it>, {…})`, Terraform's own shallow map merge, evaluated at plan time.
fn merge_object(expr: &mut Expression, patch: &Map<String, Value>) {
    let Expression::Object(object) = expr else {
        let computed = std::mem::replace(expr, Expression::Null);
        *expr = syntax::call("merge", vec![computed, expression(&Value::Object(patch.clone()))]);
        return;
    };
    for (key, value) in patch {
        let existing = object.keys().find(|k| key_text(k) == *key).cloned();
        match (existing, value) {
            (Some(k), Value::Null) => {
                object.remove(&k);
            }
            (None, Value::Null) => {}
            (Some(k), Value::Object(inner)) => {
                if let Some(e) = object.get_mut(&k) {
                    merge_object(e, inner);
                }
            }
            (Some(k), v) => {
                object.insert(k, expression(v));
            }
            (None, v) => {
                object.insert(ObjectKey::Expression(syntax::s(key.as_str())), expression(v));
            }
        }
    }
}

fn key_text(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(i) => i.as_str().to_owned(),
        ObjectKey::Expression(Expression::TemplateExpr(t)) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => s.clone(),
            TemplateExpr::Heredoc(h) => h.template.clone(),
        },
        ObjectKey::Expression(e) => hcl::format::to_string(e).unwrap_or_default(),
        _ => String::new(),
    }
}

/// A spec value as an HCL expression; strings are escaped literals.
fn expression(value: &Value) -> Expression {
    match value {
        Value::Null => Expression::Null,
        Value::Bool(b) => syntax::bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => syntax::num(i),
            (_, Some(u), _) => syntax::num(u),
            (_, _, Some(f)) => hcl::Number::from_f64(f).map_or(Expression::Null, Expression::Number),
            _ => Expression::Null,
        },
        Value::String(s) => syntax::s(s.as_str()),
        Value::Array(items) => syntax::list(items.iter().map(expression)),
        Value::Object(map) => syntax::object(map.iter().map(|(k, v)| (k.clone(), expression(v)))),
    }
}

