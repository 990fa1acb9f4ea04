//! mlopsgen compiles one declarative MLOps spec (`mlops.yaml`) into the Terraform, Cloud Build,
//! Airflow, Dockerfile and Kubeflow files an ML system on Google Cloud needs.
//!
//! The data flow, one stage per module:
//!
//! ```text
//! Source → spec::load → validate → model::lower → targets → OutputSet → diff | write
//! ```
//!
//! - [`spec`]: the YAML layer and the serde/schemars types of the spec;
//! - [`validate`]: JSON Schema, then semantic checks; every [`Diagnostic`] points at `file:line:col`
//!   (it also reads the KFP component files `component` steps name, the build's other inputs, and
//!   places what the targets find they can't express, [`validate::emitted`]);
//! - [`model`]: the resolved IR every target reads (names, URIs, emails, ordered step DAGs, each
//!   environment's view, [`model::lower::lower_all`]);
//! - [`targets`]: pure functions `&Model → files`, each target registered once in
//!   [`targets::TARGETS`] with its semantic review ([`review`]);
//! - [`proof`]: `mlopsgen iam`, which checks the model's grants against what each identity does;
//! - [`output`]: the [`OutputSet`], the manifest and the safe writer; [`diff`] compares it with disk
//!   and reports what changed.
//!
//! [`compile`] runs the stages up to the output set; the CLI decides whether to write, check or
//! diff. [`lower`] stops before the targets, for a caller that streams their files instead.

pub mod diagnostic;
pub mod diff;
pub mod model;
pub mod output;
pub mod proof;
pub mod review;
pub mod spec;
pub mod targets;
pub mod validate;

pub use diagnostic::{Diagnostic, Source};
pub use output::OutputSet;

use model::lower::Layout;
use std::path::{Component, Path, PathBuf};

/// Why a compilation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid; the diagnostics say where and why.
    #[error("the spec has {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// A bug in mlopsgen.
    #[error("internal error: {0} (this is a bug in mlopsgen; please report it)")]
    Internal(#[from] Bug),
}

/// A bug in mlopsgen, by the stage that found it (valid input never causes one).
#[derive(Debug, thiserror::Error)]
pub enum Bug {
    /// Lowering met an inconsistency validation should have caught.
    #[error(transparent)]
    Lower(#[from] model::lower::LowerError),
    /// A target failed (an invalid path, a file generated twice, …).
    #[error(transparent)]
    Target(#[from] targets::TargetError),
    /// The vendored table of IAM roles can't be read.
    #[error("{0}")]
    Roles(String),
    /// Test-only fault injection (`MLOPSGEN_FAULT=internal`).
    #[error("fault injected by MLOPSGEN_FAULT")]
    Injected,
}

/// Where to read and write.
#[derive(Debug, Clone)]
pub struct Options {
    /// The spec file as the user named it.
    pub spec_file: PathBuf,
    /// `--out`, overriding the spec's `output`.
    pub out_override: Option<PathBuf>,
}

/// A compiled spec: the files and where they go.
#[derive(Debug)]
pub struct Compilation {
    /// The resolved model.
    pub model: model::Model,
    /// Every generated file.
    pub output: OutputSet,
    /// Output directory on disk.
    pub out_dir: PathBuf,
    /// sha256 of the spec text.
    pub spec_sha256: String,
    /// Warnings about the spec (it compiled anyway).
    pub warnings: Vec<Diagnostic>,
}

/// A spec lowered to its model: what [`compile`] has before the targets run.
#[derive(Debug)]
pub struct Lowered {
    /// The resolved model.
    pub model: model::Model,
    /// Output directory on disk.
    pub out_dir: PathBuf,
    /// sha256 of the spec text and the component files it reads ([`output::manifest::inputs_sha256`]).
    pub spec_sha256: String,
    /// Warnings about the spec (it compiled anyway).
    pub warnings: Vec<Diagnostic>,
}

/// Runs `spec::load → validate → model::lower → targets` on a source.
pub fn compile(source: &Source, options: &Options) -> Result<Compilation, Error> {
    let Lowered { model, out_dir, spec_sha256, warnings } = lower(source, options)?;
    let output = targets::emit_all(&model).map_err(Bug::from)?;
    Ok(Compilation { model, output, out_dir, spec_sha256, warnings })
}

/// Runs `spec::load → validate → model::lower` on a source; the targets are left to the caller
/// (`build` streams their files to disk with [`targets::emit_each`]).
pub fn lower(source: &Source, options: &Options) -> Result<Lowered, Error> {
    if fault_injected("internal") {
        return Err(Bug::Injected.into());
    }
    // The YAML tree of a large spec is built, checked and dropped on a thread of its own: when that
    // thread ends, the allocator releases the tree's pages, instead of keeping them in this
    // thread's heap while the targets run (half the peak RSS of a large build). A small spec's tree
    // is a few pages, less than a thread's start costs.
    let (spec, env_specs, warnings) = if is_large(&source.text) {
        std::thread::scope(|scope| {
            scope.spawn(|| checked_spec(source, spec_dir(options))).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?
    } else {
        checked_spec(source, spec_dir(options))?
    };
    let (layout, out_dir) = resolve_layout(options, spec.output.as_deref());
    let model = model::lower::lower_all(&spec, &env_specs, &layout).map_err(Bug::from)?;
    let unexpressed = targets::unexpressed(&model).map_err(Bug::from)?;
    validate::emitted::check(source, &unexpressed).map_err(Error::Invalid)?;
    let spec_sha256 = output::manifest::sha256_hex(source.text.as_bytes());
    let spec_sha256 = output::manifest::inputs_sha256(&spec_sha256, &model::component::files(&model));
    Ok(Lowered { model, out_dir, spec_sha256, warnings })
}

/// Specs from this size on are large (a generated spec of about 25 pipelines).
const LARGE_SPEC_BYTES: usize = 32 * 1024;

/// Whether a spec is large enough that its work pays for threads of its own and for handing freed
/// memory back at once. Below that, a run is over in milliseconds, most of which were spent
/// faulting in fresh pages: each thread's heap and stack, and pages freed and touched again.
pub fn is_large(spec_text: &str) -> bool {
    spec_text.len() >= LARGE_SPEC_BYTES
}

/// A valid spec, the spec each environment with overrides sees, and the spec's warnings.
type Checked = (spec::Spec, Vec<(String, spec::Spec)>, Vec<Diagnostic>);

/// `spec::load → validate` (the typed and semantic checks; the JSON Schema only to explain a
/// document that doesn't conform), then each environment's overrides, with the warnings of a
/// valid spec.
fn checked_spec(source: &Source, dir: &Path) -> Result<Checked, Error> {
    let doc = spec::load(source).map_err(Error::Invalid)?;
    let spec = validate::check_in(&doc, dir).map_err(Error::Invalid)?;
    let env_specs = validate::envs::check(&spec, &doc, dir).map_err(Error::Invalid)?;
    let warnings = validate::warnings(&spec, &doc);
    Ok((spec, env_specs, warnings))
}

/// The spec file's folder (what its relative paths start from).
fn spec_dir(options: &Options) -> &Path {
    options.spec_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Works out the output directory and the repository-relative paths the targets refer to.
///
/// The repository root is the nearest ancestor of the spec's folder holding `.git` (else that
/// folder); CI configs name files relative to it.
fn resolve_layout(options: &Options, spec_output: Option<&str>) -> (Layout, PathBuf) {
    let spec_dir = spec_dir(options);
    let out_dir = match &options.out_override {
        Some(o) => o.clone(),
        None => spec_dir.join(spec_output.unwrap_or("generated")),
    };
    let abs = |p: &Path| -> PathBuf {
        let joined = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
        normalize(&joined)
    };
    let spec_abs = abs(&options.spec_file);
    let out_abs = abs(&out_dir);
    let spec_dir_abs = spec_abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let root = spec_dir_abs.ancestors().find(|a| a.join(".git").exists()).unwrap_or(&spec_dir_abs).to_path_buf();
    let rel = |p: &Path| -> String {
        match p.strip_prefix(&root) {
            Ok(r) if !r.as_os_str().is_empty() => r.to_string_lossy().replace('\\', "/"),
            Ok(_) => ".".to_owned(),
            Err(_) => p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    };
    let layout = Layout { spec_path: rel(&spec_abs), output_dir: rel(&out_abs) };
    (layout, out_dir)
}

/// Removes `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Test-only fault injection: debug builds honour `MLOPSGEN_FAULT=<name>` so tests can reach
/// paths no valid input reaches (e.g. the internal-error exit code). Release builds ignore it.
pub fn fault_injected(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("MLOPSGEN_FAULT").is_ok_and(|v| v.split(',').any(|f| f == name))
}
