//! `environments.<env>.overrides`: every key names something the spec has, and each
//! environment's merged spec (see [`crate::spec::envs`]) passes the same checks as the spec.
//!
//! "Something the spec has" is read from the typed spec serialised again: it holds every entry
//! the spec declares and every field of each section, absent options as `null` (see
//! [`super::conforming`]). So an override may set an optional field the spec leaves out (an
//! accelerator in prod only) but not invent an entry (`pipelines.trainig`), and no field list is
//! kept here.

use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::envs::{env_document, overrides_of, overrides_pointer, SHARED_SECTIONS};
use crate::spec::yaml::{pointer_push, unescape_segment, Document};
use crate::spec::Spec;
use serde_json::Value;
use std::path::Path;

/// The spec each environment with overrides sees, by environment name, or every problem found.
/// Files the spec names (component files) are read relative to `dir`, as for the spec itself.
pub fn check(spec: &Spec, doc: &Document, dir: &Path) -> Result<Vec<(String, Spec)>, Vec<Diagnostic>> {
    // Most specs have no environment overrides: nothing to serialise or load for them.
    if !spec.environments.keys().any(|env| overrides_of(doc, env).is_some()) {
        return Ok(Vec::new());
    }
    let base = serde_json::to_value(spec).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    let mut specs = Vec::new();
    // The spec's component files, parsed once; each environment gets its own copy, so a file one
    // fails to load is reported for every environment that names it.
    let components = super::components::loaded(spec);
    for env in spec.environments.keys() {
        let Some(overrides) = overrides_of(doc, env) else { continue };
        let at = overrides_pointer(env);
        let before = problems.len();
        for (key, value) in overrides {
            let pointer = pointer_push(&at, key);
            match SHARED_SECTIONS.iter().find(|(s, _)| s == key) {
                Some((_, why)) => {
                    let msg = format!("`{key}` cannot differ between environments: {why}");
                    problems.push(Diagnostic::new(Code::InvalidValue, doc.spans.key(&pointer), msg));
                }
                // The escape hatch's entries are addresses in generated files, not spec
                // entries: an environment may add its own; applying them checks them.
                None if key == "overrides" => {
                    let sections = value.as_object().into_iter().flatten();
                    for section in sections.map(|(k, _)| k) {
                        let inner = Value::Object(Default::default());
                        names_existing(doc, &base[key], section, &inner, &pointer_push(&pointer, section), &mut problems);
                    }
                }
                None => names_existing(doc, &base, key, value, &pointer, &mut problems),
            }
        }
        if problems.len() > before {
            continue;
        }
        let Some(merged) = env_document(doc, env) else { continue };
        match super::check_reusing(&merged, dir, &mut components.clone()) {
            Ok(env_spec) => specs.push((env.clone(), env_spec)),
            Err(found) => problems.extend(found.into_iter().map(|d| in_environment(d, env))),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        problems.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.code.cmp(&b.code)));
        problems.dedup();
        Err(problems)
    }
}

/// Checks that `key` (at `pointer` in the overrides) names a member of `parent` in the spec, and
/// recurses while both sides are mappings (below a value the override replaces, or a field the
/// spec leaves unset, the merged spec's own checks apply).
fn names_existing(doc: &Document, parent: &Value, key: &str, value: &Value, pointer: &str, out: &mut Vec<Diagnostic>) {
    let Value::Object(members) = parent else { return };
    let Some(existing) = members.get(key) else {
        let path = pointer.split('/').skip(4).map(unescape_segment).collect::<Vec<_>>();
        let msg = format!("the override `{}` names `{key}`, which the spec does not have there", path.join("."));
        let hint = suggest::hint(key, members.keys().map(String::as_str));
        out.push(Diagnostic::new(Code::UnknownReference, doc.spans.key(pointer), msg).with_hint(hint));
        return;
    };
    if let (Value::Object(children), Value::Object(_)) = (value, existing) {
        for (child, v) in children {
            names_existing(doc, existing, child, v, &pointer_push(pointer, child), out);
        }
    }
}

/// Says which environment a problem of a merged spec belongs to.
fn in_environment(mut d: Diagnostic, env: &str) -> Diagnostic {
    d.message = format!("in environment `{env}` (with its overrides): {}", d.message);
    d
}
