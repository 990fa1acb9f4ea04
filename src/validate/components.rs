//! Reads the component files `component` steps name (the only files besides the spec a build
//! reads) and checks each step's `inputs` against its component's interface.

use super::semantic::Checker;
use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::component;
use super::refs::describe;
use crate::spec::yaml::{pointer_push, Document};
use crate::spec::{yaml, ComponentFile, ComponentStep, Pipeline, Spec, Step};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Component files by path as written in the spec (`None`: it could not be loaded).
pub type Loaded = BTreeMap<String, Option<Arc<ComponentFile>>>;

/// The component files a checked spec's steps hold: an environment's spec names the same files,
/// which need not be read and parsed again.
pub fn loaded(spec: &Spec) -> Loaded {
    let steps = spec.pipelines.values().flat_map(|p| p.steps.values());
    steps.filter_map(|s| if let Step::Component(c) = s { Some((c.component.clone(), c.loaded.clone())) } else { None }).collect()
}

/// Loads each `component` step's file (relative to `base`, the spec's folder) into the step;
/// a path leaving the repository, a missing file or one kfp 2 can't load as a container
/// component is reported at the step's `component`, naming the file and the position in it.
/// Files already loaded (or found unloadable) are taken from `loaded`, keyed by the path as written.
pub fn attach(spec: &mut Spec, doc: &Document, base: &Path, loaded: &mut Loaded) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, p) in &mut spec.pipelines {
        for (name, step) in &mut p.steps {
            let Step::Component(c) = step else { continue };
            let ptr = format!("{}/component", pointer_push(&pointer_push(&pointer_push("/pipelines", key), "steps"), name));
            let file = loaded.entry(c.component.clone()).or_insert_with(|| match load(base, &c.component) {
                Ok(file) => Some(Arc::new(file)),
                Err((code, message, hint)) => {
                    out.push(Diagnostic::new(code, doc.spans.value(&ptr), message).with_hint(hint));
                    None
                }
            });
            c.loaded = file.clone();
        }
    }
    out
}

/// Reads and parses a component file, and checks that kfp 2 would load it as a container component.
fn load(base: &Path, path: &str) -> Result<ComponentFile, (Code, String, String)> {
    if super::facts::escapes(path) {
        return Err((Code::PathEscape, format!("path `{path}` leaves the repository"), "use a path relative to the spec's folder, without `..` segments".into()));
    }
    let text = std::fs::read_to_string(base.join(path)).map_err(|e| {
        (Code::UnknownReference, format!("can't read component file `{path}`: {e}"), "the path is relative to the spec file's folder".to_owned())
    })?;
    let invalid = |pos: crate::diagnostic::Pos, message: &str| {
        let message = format!("component file `{path}` can't be loaded: {path}:{}:{}: {message}", pos.line, pos.col);
        (Code::InvalidValue, message, "use a file kfp 2 writes for a container component (`kfp.compiler.Compiler().compile`)".to_owned())
    };
    let doc = yaml::parse(&text).map_err(|d| invalid(d[0].pos, &d[0].message))?;
    let mut file = ComponentFile { path: path.to_owned(), text, doc, outputs: Vec::new() };
    file.outputs = component::parse(&file).map_err(|e| invalid(e.pos, &e.message))?.outputs;
    Ok(file)
}

/// Checks a `component` step's inputs: each names an input of the component and has its type,
/// and every input without a default is set.
pub fn step_inputs(c: &mut Checker<'_>, p: &Pipeline, name: &str, step: &ComponentStep, sp: &str) {
    let Some(Ok(component)) = step.loaded.as_deref().map(component::parse) else { return };
    for (input, reference) in &step.common.inputs {
        let ptr = pointer_push(&format!("{sp}/inputs"), input);
        let Some(wanted) = component.input(input) else {
            let pos = c.key_at(&ptr);
            let hint = suggest::hint(input, component.inputs.iter().map(|i| i.name.as_str()));
            c.report(Code::UnknownReference, pos, format!("component `{}` ({}) has no input `{input}`", component.name, component.path), Some(hint));
            continue;
        };
        let saved = c.out.len();
        let given = super::refs::resolve(c, p, name, reference, &ptr);
        c.out.truncate(saved); // `inputs` reports resolution errors once.
        if let Some(given) = given.filter(|g| !component::accepts(wanted.ty, *g)) {
            let pos = c.at(&ptr);
            let msg = format!("input `{input}` of component `{}` is {}, but `{reference}` is {}", component.name, describe(wanted.ty), describe(given));
            c.report(Code::WrongKind, pos, msg, None);
        }
    }
    for missing in component.inputs.iter().filter(|i| !i.optional && !step.common.inputs.contains_key(&i.name)) {
        let pos = c.key_at(sp);
        let msg = format!("step `{name}` must set input `{}` of component `{}`: {}", missing.name, component.name, describe(missing.ty));
        c.report(Code::UnknownReference, pos, msg, Some(format!("add `inputs: {{{}: <step>.<output>}}` (or `params.<name>`)", missing.name)));
    }
}
