//! In-process benchmarks of each stage (divan): load, validate, lower, each target, the whole
//! compile, the up-to-date check against a built tree, and diffing two compilations.
//!
//! Inputs: the flagship spec and generated specs of 1, 10 and 100 pipelines × 5 steps. The
//! compiled JSON Schema validator is cached per process, so `validate` here excludes its one-off
//! compilation; `bench/run.py` measures whole processes, start-up included.
//!
//! ```text
//! cargo bench -p mlopsgen-bench --bench stages
//! ```

use mlopsgen::model::lower::Layout;
use mlopsgen::output::{stage, write};
use mlopsgen::{diff, model, spec, targets, validate, Source};
use mlopsgen_bench::specgen::{self, Scale};
use std::path::PathBuf;

fn main() {
    divan::main();
}

const INPUTS: &[&str] = &["flagship", "n1", "n10", "n100"];
const STEPS: usize = 5;

fn source(input: &str) -> Source {
    let text = match input.strip_prefix('n').and_then(|n| n.parse().ok()) {
        Some(n) => specgen::spec(&Scale::new(n, STEPS)),
        None => {
            let path = specs_dir().join(format!("{input}.yaml"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
    };
    Source { name: format!("{input}.yaml"), text }
}

/// The example specs' folder (the flagship's `component` step reads a file from it).
fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

fn layout() -> Layout {
    Layout { spec_path: "mlops.yaml".into(), output_dir: "generated".into() }
}

fn validated(input: &str) -> mlopsgen::spec::Spec {
    let doc = spec::load(&source(input)).unwrap_or_else(|e| panic!("{e:?}"));
    validate::check_in(&doc, &specs_dir()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn lowered(input: &str) -> model::Model {
    model::lower(&validated(input), &layout()).unwrap_or_else(|e| panic!("{e}"))
}

#[divan::bench(args = INPUTS)]
fn load(bencher: divan::Bencher, input: &str) {
    let src = source(input);
    bencher.bench(|| spec::load(&src));
}

#[divan::bench(args = INPUTS)]
fn validate(bencher: divan::Bencher, input: &str) {
    let doc = spec::load(&source(input)).unwrap_or_else(|e| panic!("{e:?}"));
    bencher.bench(|| validate::check_in(&doc, &specs_dir()));
}

#[divan::bench(args = INPUTS)]
fn lower(bencher: divan::Bencher, input: &str) {
    let spec = validated(input);
    let layout = layout();
    bencher.bench(|| model::lower(&spec, &layout));
}

#[divan::bench(args = INPUTS)]
fn emit_all(bencher: divan::Bencher, input: &str) {
    let model = lowered(input);
    bencher.bench(|| targets::emit_all(&model));
}

/// Every stage up to the output set, as `mlopsgen build` runs them (without the disk).
#[divan::bench(args = INPUTS)]
fn compile(bencher: divan::Bencher, input: &str) {
    let src = source(input);
    let options = mlopsgen::Options { spec_file: "mlops.yaml".into(), out_override: Some("generated".into()) };
    bencher.bench(|| mlopsgen::compile(&src, &options));
}

/// One target at a time.
mod target {
    use super::*;

    /// Every registered target's id.
    fn names() -> impl Iterator<Item = &'static str> {
        targets::TARGETS.iter().map(|t| t.id())
    }

    fn bench_target(bencher: divan::Bencher, input: &str, name: &str) {
        let model = lowered(input);
        let Some(target) = targets::TARGETS.iter().find(|t| t.id() == name) else { panic!("no target {name}") };
        bencher.bench(|| {
            let mut out = mlopsgen::OutputSet::new(&model.spec_path);
            target.emit(&model, &mut out, targets::Shard::ALL).map(|()| out)
        });
    }

    #[divan::bench(args = names())]
    fn flagship(bencher: divan::Bencher, name: &str) {
        bench_target(bencher, "flagship", name);
    }

    #[divan::bench(args = names())]
    fn n100(bencher: divan::Bencher, name: &str) {
        bench_target(bencher, "n100", name);
    }
}

/// `build --check` after a build: read the tree and compare it with the output set.
#[divan::bench(args = INPUTS, sample_count = 30)]
fn check(bencher: divan::Bencher, input: &str) {
    let model = lowered(input);
    let set = targets::emit_all(&model).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile_dir();
    let built = stage::build(&dir, &set, "spec-hash", false, || {});
    assert!(matches!(built, Ok(stage::Outcome::Written(_))), "{built:?}");
    bencher.bench(|| write::plan(&dir, &set, "spec-hash").map(|p| p.is_up_to_date()));
    std::fs::remove_dir_all(&dir).ok();
}

/// Semantic and textual diff of two compilations (every pipeline's parameter default changed).
#[divan::bench(args = INPUTS)]
fn diff(bencher: divan::Bencher, input: &str) {
    let files = |src: &Source| -> diff::Files {
        let doc = spec::load(src).unwrap_or_else(|e| panic!("{e:?}"));
        let spec = validate::check_in(&doc, &specs_dir()).unwrap_or_else(|e| panic!("{e:?}"));
        let model = model::lower(&spec, &layout()).unwrap_or_else(|e| panic!("{e}"));
        let set = targets::emit_all(&model).unwrap_or_else(|e| panic!("{e}"));
        set.files().map(|(p, t)| (p.to_owned(), t.to_owned())).collect()
    };
    let old_src = source(input);
    let mut new_src = old_src.clone();
    new_src.text = new_src.text.replace("default: 0.1", "default: 0.2").replace("default: 0.05", "default: 0.06");
    let (old, new) = (files(&old_src), files(&new_src));
    bencher.bench(|| {
        let changed = diff::changed_files(&old, &new);
        let changes = targets::review(&old, &new);
        diff::report::Report::new("mlops.yaml", "generated", None, changed, changes).text()
    });
}

fn tempfile_dir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("mlopsgen-bench-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::remove_dir_all(&dir).ok();
    dir
}
