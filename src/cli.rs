//! Command-line interface: argument parsing, reporting, and the exit-code contract.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success; with `--check`/`diff`: output is up to date |
//! | 1    | `--check`/`diff`: generated files differ from the spec; `--fail-on-change`: files were written |
//! | 2    | invalid spec, bad usage, or files that can't be read or written |
//! | 3    | `build` refused to overwrite hand-edited or unmanaged files (use `--force`) |
//! | 101  | internal error (a bug in mlopsgen) |

use clap::{Parser, Subcommand, ValueEnum};
use mlopsgen::diagnostic::{render, Source};
use mlopsgen::output::memo;
use mlopsgen::output::stage::{self, Mode, Observer, Outcome, Staged, Stager};
use mlopsgen::output::write::{self, Action, ConflictKind};
use mlopsgen::model::graph;
use mlopsgen::targets;
use mlopsgen::{diff, Bug, Compilation, Error, Lowered, Options};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXIT_DRIFT: u8 = 1;
const EXIT_INVALID: u8 = 2;
const EXIT_CONFLICT: u8 = 3;
const EXIT_BUG: u8 = 101;

/// Compile one MLOps spec into Terraform, Cloud Build, Airflow, Docker and Kubeflow files.
#[derive(Debug, Parser)]
#[command(name = "mlopsgen", version, about, after_help = "Exit codes: 0 ok, 1 changes found (--check, --fail-on-change, diff), 2 invalid spec/usage/IO, 3 hand-edit conflict, 101 bug.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented starter spec.
    Init {
        /// Where to write it.
        #[arg(default_value = "mlops.yaml")]
        path: PathBuf,
    },
    /// Validate a spec without generating anything.
    Validate {
        /// The spec file.
        #[arg(default_value = "mlops.yaml")]
        spec: PathBuf,
    },
    /// Generate the files (or check that they are up to date).
    Build {
        /// The spec file.
        #[arg(default_value = "mlops.yaml")]
        spec: PathBuf,
        /// Output directory (default: the spec's `output`, else `generated/` beside the spec).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write nothing; exit 1 if any generated file would change.
        #[arg(long, conflicts_with = "force")]
        check: bool,
        /// Overwrite hand-edited and unmanaged files.
        #[arg(long)]
        force: bool,
        /// Exit 1 if the build wrote or removed any file (for pre-commit hooks: stage them and retry).
        #[arg(long, conflicts_with = "check")]
        fail_on_change: bool,
    },
    /// Show how the generated files would change.
    Diff {
        /// The spec file.
        #[arg(default_value = "mlops.yaml")]
        spec: PathBuf,
        /// Output directory (default: the spec's `output`, else `generated/` beside the spec).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only list changed files with line counts (text format).
        #[arg(long)]
        stat: bool,
        /// Report format: text (semantic summary + unified diff), markdown (a PR comment) or json.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Compare with the generated files committed at this git revision instead of the disk.
        #[arg(long, value_name = "REF")]
        base: Option<String>,
    },
    /// Print a pipeline's step graph (Mermaid or Graphviz DOT).
    Graph {
        /// The pipeline.
        pipeline: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// The spec file.
        #[arg(default_value = "mlops.yaml")]
        spec: PathBuf,
    },
    /// Prove least privilege offline: each identity's runtime actions, the permissions they need and
    /// the granted roles that provide them. Exit 1 if a permission is missing or a role unused.
    Iam {
        /// The spec file.
        #[arg(default_value = "mlops.yaml")]
        spec: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value_t = IamFormat::Text)]
        format: IamFormat,
        /// Check as if this binding (`TYPE.NAME` in iam.tf) were removed, to see what needs it.
        #[arg(long, value_name = "ADDRESS")]
        without: Vec<String>,
    },
    /// Print the spec's JSON Schema.
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IamFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_INVALID } else { 0 });
        }
    };
    let color = |stream_is_tty: bool| match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => stream_is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let ctx = Ctx { err_color: color(std::io::stderr().is_terminal()), out_color: color(std::io::stdout().is_terminal()) };
    ExitCode::from(match cli.command {
        Command::Init { path } => init(&path),
        Command::Validate { spec } => ctx.validate(&spec),
        Command::Build { spec, out, check, force, fail_on_change } => ctx.build(&spec, out, check, force, fail_on_change),
        Command::Diff { spec, out, stat, format, base } => ctx.diff(&spec, out, stat, format, base.as_deref()),
        Command::Graph { pipeline, format, spec } => ctx.graph(&spec, &pipeline, format),
        Command::Iam { spec, format, without } => ctx.iam(&spec, format, &without),
        Command::Schema => {
            print!("{}", mlopsgen::validate::spec_schema_json());
            0
        }
    })
}

/// The spec's text; `Err(code)` (reported) if it can't be read.
fn read_spec(spec: &Path) -> Result<String, u8> {
    let text = std::fs::read_to_string(spec).map_err(|e| {
        eprintln!("error: can't read {}: {e}", spec.display());
        EXIT_INVALID
    })?;
    #[cfg(feature = "mimalloc")]
    if mlopsgen::is_large(&text) {
        crate::allocator::purge_freed_pages_at_once();
    }
    Ok(text)
}

struct Ctx {
    err_color: bool,
    out_color: bool,
}

impl Ctx {
    /// Reads and compiles a spec, reporting failures; `Err(code)` on failure.
    fn compile(&self, spec: &Path, out: Option<PathBuf>) -> Result<Compilation, u8> {
        let Lowered { model, out_dir, spec_sha256, warnings } = self.lower(spec, read_spec(spec)?, out)?;
        match targets::emit_all(&model) {
            Ok(output) => Ok(Compilation { model, output, out_dir, spec_sha256, warnings }),
            Err(e) => Err(self.failed(&Bug::from(e).into(), None)),
        }
    }

    /// Lowers a spec already read from `spec` to its model, reporting failures; `Err(code)` on
    /// failure.
    fn lower(&self, spec: &Path, text: String, out: Option<PathBuf>) -> Result<Lowered, u8> {
        let source = Source { name: spec.display().to_string(), text };
        let lowered = mlopsgen::lower(&source, &Options { spec_file: spec.to_path_buf(), out_override: out })
            .map_err(|e| self.failed(&e, Some(&source)))?;
        eprint!("{}", render(&source, &lowered.warnings, self.err_color));
        Ok(lowered)
    }

    /// Reports a failed compilation and returns its exit code.
    fn failed(&self, error: &Error, source: Option<&Source>) -> u8 {
        match (error, source) {
            (Error::Invalid(diags), Some(source)) => {
                eprint!("{}", render(source, diags, self.err_color));
                eprintln!("error: {} has {} problem(s)", source.name, diags.len());
                EXIT_INVALID
            }
            (e, _) => {
                eprintln!("error: {e}");
                EXIT_BUG
            }
        }
    }

    /// `mlopsgen iam`: lowers the spec (no files are generated) and checks its grants against its
    /// actions.
    fn iam(&self, spec: &Path, format: IamFormat, without: &[String]) -> u8 {
        let model = match self.lower(spec, match read_spec(spec) { Ok(t) => t, Err(code) => return code }, None) {
            Ok(l) => l.model,
            Err(code) => return code,
        };
        let roles = match mlopsgen::proof::roles::Roles::load() {
            Ok(r) => r,
            Err(e) => return self.failed(&Bug::Roles(e).into(), None),
        };
        let address = |g: &mlopsgen::model::iam::Grant| {
            let (ty, name) = targets::terraform::binding_address(g);
            format!("{ty}.{name}")
        };
        let bound = |w: &String| std::iter::once(&model).chain(model.env_views.iter().map(|(_, v)| v)).any(|m| m.grants.iter().any(|g| address(g) == *w));
        if let Some(unknown) = without.iter().find(|w| !bound(w)) {
            eprintln!("error: --without {unknown}: iam.tf has no such binding");
            return EXIT_INVALID;
        }
        // Each environment binds its own grants (see `proof::prove`): the binding goes from each.
        let model = model.without_grants(&|g| without.contains(&address(g)));
        let proof = mlopsgen::proof::prove(&model, &roles);
        match format {
            IamFormat::Text => print!("{}", mlopsgen::proof::report::text(&proof)),
            IamFormat::Json => println!("{:#}", mlopsgen::proof::report::json(&proof)),
        }
        if proof.holds() {
            0
        } else {
            eprintln!("error: {} IAM problem(s) in {}", proof.problems.len(), spec.display());
            EXIT_DRIFT
        }
    }

    fn graph(&self, spec: &Path, pipeline: &str, format: GraphFormat) -> u8 {
        let c = match self.compile(spec, None) {
            Ok(c) => c,
            Err(code) => return code,
        };
        let Some(p) = c.model.pipeline(pipeline) else {
            let known: Vec<&str> = c.model.pipelines.iter().map(|p| p.key.as_str()).collect();
            eprintln!("error: {} has no pipeline `{pipeline}` (pipelines: {})", spec.display(), known.join(", "));
            return EXIT_INVALID;
        };
        let format = match format {
            GraphFormat::Mermaid => graph::Format::Mermaid,
            GraphFormat::Dot => graph::Format::Dot,
        };
        print!("{}", graph::render(p, format));
        0
    }

    /// Gives every diagnostic `build` gives on the spec, and counts the files the targets would
    /// write without rendering them (`targets::paths`): a bug in a target's rendering surfaces
    /// only in `build` (the fuzz target holds that every valid spec renders).
    fn validate(&self, spec: &Path) -> u8 {
        let lowered = match read_spec(spec).and_then(|text| self.lower(spec, text, None)) {
            Ok(lowered) => lowered,
            Err(code) => return code,
        };
        let files = match targets::paths(&lowered.model) {
            Ok(paths) => paths.len(),
            Err(e) => return self.failed(&Bug::from(e).into(), None),
        };
        let m = &lowered.model;
        println!(
            "{} is valid: {} environment(s), {} pipeline(s), {} image(s), {files} file(s) to generate",
            spec.display(),
            m.environments.len(),
            m.pipelines.len(),
            m.images.len(),
        );
        0
    }

    fn build(&self, spec: &Path, out: Option<PathBuf>, check: bool, force: bool, fail_on_change: bool) -> u8 {
        let key = memo::Key { spec_file: spec, out_override: out.as_deref() };
        let text = match read_spec(spec) {
            Ok(text) => text,
            Err(code) => return code,
        };
        let large = mlopsgen::is_large(&text);
        if check {
            if let Some(ok) = memo::check(key, &text) {
                println!("{} is up to date ({} files)", ok.out_dir.display(), ok.files);
                return 0;
            }
        }
        let lowered = match self.lower(spec, text, out.clone()) {
            Ok(lowered) => lowered,
            Err(code) => return code,
        };
        let dir = lowered.out_dir.display().to_string();
        if check {
            return self.check(spec, key, &lowered);
        }
        let waited = || eprintln!("waiting for another mlopsgen build to finish writing {dir} …");
        let reviewer = diff::Reviewer::new(false);
        let outcome = stage::lock(&lowered.out_dir, waited).and_then(|lock| {
            let Some(staged) = self.stream(&lowered, Mode::Stage, Some(&reviewer))? else { return Ok(None) };
            // The reviews of targets read whole (Terraform) run while the files are written (for a
            // small spec, after: a thread costs more than it saves there; see `is_large`).
            if !large {
                let outcome = staged.apply(force, &lock);
                return outcome.map(|o| Some((o, reviewer.finish())));
            }
            std::thread::scope(|scope| {
                let review = scope.spawn(|| reviewer.finish());
                let outcome = staged.apply(force, &lock);
                let reviewed = review.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                outcome.map(|o| Some((o, reviewed)))
            })
        });
        match outcome {
            Ok(None) => EXIT_BUG,
            Ok(Some((Outcome::Written(staged), reviewed))) => {
                memo::record(key, &lowered.spec_sha256, &mlopsgen::model::component::files(&lowered.model), &lowered.out_dir);
                let model = &lowered.model;
                let report = diff::report::Report::new(&model.spec_path, &model.output_dir, None, Vec::new(), reviewed.changes);
                emit(&report.summary(BUILD_SUMMARY_CHANGES));
                emit(&format!("{dir}: {}\n", summary(&staged)));
                for k in &staged.kept {
                    eprintln!("warning: kept {k}: no longer generated, but edited by hand (now unmanaged)");
                }
                if fail_on_change && !staged.is_up_to_date() {
                    eprintln!("{dir} changed: stage the regenerated files and commit again");
                    return EXIT_DRIFT;
                }
                0
            }
            Ok(Some((Outcome::Conflicts(staged), _))) => {
                self.report_conflicts(&dir, &staged);
                EXIT_CONFLICT
            }
            Err(e) => io_error(&e),
        }
    }

    /// Streams the targets' files through a [`Stager`] (and `observer`); `Ok(None)` if a target
    /// failed (reported: a bug).
    fn stream(&self, lowered: &Lowered, mode: Mode, observer: Option<&dyn Observer>) -> Result<Option<Staged>, write::WriteError> {
        let stager = Stager::new(&lowered.out_dir, mode, observer)?;
        match targets::emit_each(&lowered.model, &|path, text| stager.file(path, text)) {
            Ok(generated) => stager.finish(&generated, &lowered.spec_sha256).map(Some),
            Err(e) => {
                self.failed(&Bug::from(e).into(), None);
                Ok(None)
            }
        }
    }

    /// `build --check` after the memo missed: compares file by file; on drift, runs the targets
    /// again into memory to show what differs.
    fn check(&self, spec: &Path, key: memo::Key<'_>, lowered: &Lowered) -> u8 {
        let dir = lowered.out_dir.display();
        match self.stream(lowered, Mode::Compare, None) {
            Ok(None) => EXIT_BUG,
            Ok(Some(staged)) if staged.is_up_to_date() => {
                memo::record(key, &lowered.spec_sha256, &mlopsgen::model::component::files(&lowered.model), &lowered.out_dir);
                println!("{dir} is up to date ({} files)", staged.files.len());
                0
            }
            Ok(Some(staged)) => {
                eprintln!("{dir} is out of date with {}:", spec.display());
                let output = targets::emit_all(&lowered.model).map_err(Bug::from);
                match output.map(|set| write::plan(&lowered.out_dir, &set, &lowered.spec_sha256).map(|p| diff::plan_files(&p))) {
                    Ok(Ok(files)) => eprint!("{}", diff::stat(&files)),
                    Ok(Err(e)) => return io_error(&e),
                    Err(e) => return self.failed(&e.into(), None),
                }
                if staged.manifest_stale && staged.changed().next().is_none() {
                    eprintln!(" .mlopsgen/manifest.json is stale (the spec or a component file it reads changed)");
                }
                let edited: Vec<&str> = staged.conflicts().map(|f| f.path.as_str()).collect();
                if edited.is_empty() {
                    eprintln!("run `mlopsgen build {}` to regenerate", spec.display());
                } else {
                    // `build` would refuse these (exit 3): say so now, not after the user runs it.
                    eprintln!("edited by hand or not written by mlopsgen, so `mlopsgen build` would refuse to overwrite them:");
                    for path in &edited {
                        eprintln!("  {path}");
                    }
                    eprintln!(
                        "move the change into the spec (or a file mlopsgen doesn't own) and run `mlopsgen build {0}`, or discard it with `mlopsgen build --force {0}`",
                        spec.display()
                    );
                }
                EXIT_DRIFT
            }
            Err(e) => io_error(&e),
        }
    }

    fn report_conflicts(&self, dir: &str, staged: &Staged) {
        eprintln!("error: refusing to overwrite files in {dir}; nothing was written:");
        for f in staged.conflicts() {
            let why = match f.conflict {
                Some(ConflictKind::HandEdited) => "edited by hand since mlopsgen wrote it",
                _ => "not written by mlopsgen",
            };
            eprintln!("  {}: {why}", f.path);
        }
        eprint!("{}", diff::unified(&staged.conflict_diffs(), self.err_color));
        eprintln!("move the edits into the spec (or a file mlopsgen doesn't own), or rerun with --force to discard them");
    }

    fn diff(&self, spec: &Path, out: Option<PathBuf>, stat: bool, format: Format, base: Option<&str>) -> u8 {
        let report = match base {
            Some(rev) => {
                let c = match self.compile(spec, out) {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                match diff::git::files_at(&c.out_dir, rev) {
                    Ok(old) => diff::review(&c.model, &c.output, &old, base),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return EXIT_INVALID;
                    }
                }
            }
            // Against the files on disk, streamed: only the files that change are held.
            None => {
                let lowered = match read_spec(spec).and_then(|text| self.lower(spec, text, out)) {
                    Ok(lowered) => lowered,
                    Err(code) => return code,
                };
                let reviewer = diff::Reviewer::new(true);
                match self.stream(&lowered, Mode::Compare, Some(&reviewer)) {
                    Ok(Some(_)) => {
                        let reviewed = reviewer.finish();
                        diff::review_changes(&lowered.model, reviewed.files, reviewed.changes, None)
                    }
                    Ok(None) => return EXIT_BUG,
                    Err(e) => return io_error(&e),
                }
            }
        };
        match format {
            Format::Json => emit(&report.json()),
            Format::Markdown => emit(&report.markdown()),
            Format::Text if stat => emit(&diff::stat(&report.files)),
            Format::Text => {
                if !report.is_empty() {
                    emit(&format!("{}\n", report.text()));
                }
                emit(&diff::unified(&report.files, self.out_color));
            }
        }
        if report.is_empty() { 0 } else { EXIT_DRIFT }
    }
}

/// Semantic changes `build` lists one by one; more are summarised as per-target counts.
const BUILD_SUMMARY_CHANGES: usize = 20;

/// Writes to stdout; a closed pipe (`mlopsgen diff | head`) is not an error worth a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

fn summary(staged: &Staged) -> String {
    format!(
        "{} added, {} changed, {} removed, {} unchanged",
        staged.count(Action::Add),
        staged.count(Action::Change),
        staged.count(Action::Remove),
        staged.count(Action::Unchanged)
    )
}

fn io_error(e: &write::WriteError) -> u8 {
    eprintln!("error: {e}");
    EXIT_INVALID
}

fn init(path: &Path) -> u8 {
    if path.exists() {
        eprintln!("error: {} already exists; not overwriting it", path.display());
        return EXIT_INVALID;
    }
    match std::fs::write(path, include_str!("../templates/init.yaml")) {
        Ok(()) => {
            println!("wrote {}; edit it, then run `mlopsgen build {}`", path.display(), path.display());
            0
        }
        Err(e) => {
            eprintln!("error: can't write {}: {e}", path.display());
            EXIT_INVALID
        }
    }
}
