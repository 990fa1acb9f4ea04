//! Reports of a change set: terminal text, a Markdown PR comment, and stable JSON.

use super::semantic::{Change, Kind, Target};
use super::{unified, FileDiff};
use crate::output::write::Action;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// GitHub's comment limit is 65,535 characters; keep a margin for the truncation note.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// JSON report format version (bump on any incompatible change).
pub const JSON_FORMAT: u32 = 1;

/// Everything a report shows.
#[derive(Debug)]
pub struct Report {
    /// The spec (repository-relative).
    pub spec: String,
    /// The output directory (repository-relative).
    pub output_dir: String,
    /// The git revision compared against, if any (else: the files on disk).
    pub base: Option<String>,
    /// Changed files (the manifest excluded).
    pub files: Vec<FileDiff>,
    /// Semantic changes, destructive first.
    pub changes: Vec<Change>,
}

impl Report {
    /// Builds a report; `.mlopsgen/` bookkeeping files are left out.
    pub fn new(spec: &str, output_dir: &str, base: Option<&str>, files: Vec<FileDiff>, changes: Vec<Change>) -> Self {
        let files: Vec<FileDiff> = files.into_iter().filter(|f| !f.path.starts_with(".mlopsgen/")).collect();
        Report { spec: spec.to_owned(), output_dir: output_dir.to_owned(), base: base.map(str::to_owned), files, changes }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.destructive)
    }

    /// Per-target counts: files added/changed/removed and semantic changes.
    fn counts(&self) -> BTreeMap<Target, [usize; 4]> {
        let mut counts: BTreeMap<Target, [usize; 4]> = BTreeMap::new();
        for f in &self.files {
            let slot = match f.action {
                Action::Add => 0,
                Action::Change => 1,
                _ => 2,
            };
            counts.entry(Target::of(&f.path)).or_default()[slot] += 1;
        }
        for c in &self.changes {
            counts.entry(c.target).or_default()[3] += 1;
        }
        counts
    }

    /// The semantic summary for a terminal: destructive changes first, one line per change.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in self.destructive() {
            let _ = writeln!(out, "DESTRUCTIVE {} {} {}", c.target.name(), kind_word(c.kind), c.subject);
        }
        for c in self.changes.iter().filter(|c| !c.destructive) {
            let _ = write!(out, "{:<12} {:<8} {}", c.target.name(), kind_word(c.kind), c.subject);
            if let Some(s) = &c.summary {
                let _ = write!(out, ": {s}");
            }
            out.push('\n');
            for d in c.details.iter().take(8) {
                let _ = writeln!(out, "{:21}{}: {} → {}", "", d.path, shown(d.old.as_deref()), shown(d.new.as_deref()));
            }
            if c.details.len() > 8 {
                let _ = writeln!(out, "{:21}… {} more field(s)", "", c.details.len() - 8);
            }
        }
        out
    }

    /// Stable JSON (documented in the README).
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct FileEntry<'a> {
            path: &'a str,
            status: &'static str,
            target: Target,
        }
        #[derive(Serialize)]
        struct Summary {
            files_added: usize,
            files_changed: usize,
            files_removed: usize,
            changes: usize,
            destructive: usize,
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            format: u32,
            spec: &'a str,
            output_dir: &'a str,
            base: Option<&'a str>,
            summary: Summary,
            files: Vec<FileEntry<'a>>,
            changes: &'a [Change],
        }
        let count = |a: Action| self.files.iter().filter(|f| f.action == a).count();
        let doc = Doc {
            format: JSON_FORMAT,
            spec: &self.spec,
            output_dir: &self.output_dir,
            base: self.base.as_deref(),
            summary: Summary {
                files_added: count(Action::Add),
                files_changed: count(Action::Change),
                files_removed: count(Action::Remove),
                changes: self.changes.len(),
                destructive: self.destructive().count(),
            },
            files: self
                .files
                .iter()
                .map(|f| FileEntry { path: &f.path, status: status(f.action), target: Target::of(&f.path) })
                .collect(),
            changes: &self.changes,
        };
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }

    /// A Markdown PR comment under [`MARKDOWN_LIMIT`] characters.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let against = self.base.as_deref().map_or_else(|| "the files on disk".to_owned(), |b| format!("`{b}`"));
        let _ = writeln!(out, "## mlopsgen: generated changes for {} vs {against}\n", code(&self.spec));
        if self.is_empty() {
            out.push_str("No generated file changes.\n");
            return out;
        }
        let destructive: Vec<&Change> = self.destructive().collect();
        if !destructive.is_empty() {
            let _ = writeln!(out, "> [!CAUTION]\n> **{} destructive change(s)** — state may be lost:", destructive.len());
            for c in &destructive {
                let _ = writeln!(out, "> - {} {} {}", c.target.name(), kind_word(c.kind), code(&c.subject));
            }
            out.push('\n');
        }
        out.push_str("| target | files added | files changed | files removed | changes |\n|---|---:|---:|---:|---:|\n");
        for (target, [a, c, r, s]) in self.counts() {
            let _ = writeln!(out, "| {} | {a} | {c} | {r} | {s} |", target.name());
        }
        out.push('\n');
        let mut by_target: BTreeMap<Target, Vec<&Change>> = BTreeMap::new();
        for c in &self.changes {
            by_target.entry(c.target).or_default().push(c);
        }
        for (target, changes) in by_target {
            let _ = writeln!(out, "### {}\n", target.name());
            for c in changes {
                let flag = if c.destructive { "⚠️ " } else { "" };
                let _ = write!(out, "- {flag}**{}** {}", kind_word(c.kind), code(&c.subject));
                if let Some(s) = &c.summary {
                    let _ = write!(out, " — {}", escape(s));
                }
                out.push('\n');
                for d in c.details.iter().take(10) {
                    let _ = writeln!(out, "  - {}: {} → {}", code(&d.path), value(d.old.as_deref()), value(d.new.as_deref()));
                }
                if c.details.len() > 10 {
                    let _ = writeln!(out, "  - … {} more field(s)", c.details.len() - 10);
                }
            }
            out.push('\n');
        }
        for (title, graph) in &pipeline_graphs(&self.files) {
            let _ = writeln!(out, "<details><summary>Pipeline graph: {}</summary>\n\n```mermaid\n{graph}```\n\n</details>\n", escape(title));
        }
        self.append_file_diffs(&mut out);
        out
    }

    fn append_file_diffs(&self, out: &mut String) {
        let mut omitted = 0;
        for f in &self.files {
            let diff = unified::file_diff(f, false);
            let fence = fence_for(&diff);
            let section = format!(
                "<details><summary>{} <code>{}</code></summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n",
                status(f.action),
                html(&f.path)
            );
            if out.len() + section.len() > MARKDOWN_LIMIT {
                omitted += 1;
                continue;
            }
            out.push_str(&section);
        }
        if omitted > 0 {
            let _ = writeln!(
                out,
                "\n_{omitted} file diff(s) omitted to keep this comment under GitHub's 65,535-character limit; run `mlopsgen diff` locally for the full diff._"
            );
        }
    }
}

fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Added => "added",
        Kind::Removed => "removed",
        Kind::Changed => "changed",
        Kind::Replaced => "replaced",
    }
}

fn status(a: Action) -> &'static str {
    match a {
        Action::Add => "added",
        Action::Change => "changed",
        Action::Remove => "removed",
        Action::Unchanged => "unchanged",
    }
}

fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |s| truncate(s, 100))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n { format!("{}…", s.chars().take(n).collect::<String>()) } else { s.to_owned() }
}

/// An inline code span that survives backticks inside the value.
fn code(s: &str) -> String {
    let s = truncate(&s.replace('\n', " "), 120);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

fn value(v: Option<&str>) -> String {
    v.map_or_else(|| "_(none)_".to_owned(), code)
}

/// A fence longer than any backtick run in the text.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escapes Markdown punctuation in free text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Mermaid graphs of the changed pipelines, from their new PipelineSpec JSON.
fn pipeline_graphs(files: &[FileDiff]) -> BTreeMap<String, String> {
    let mut graphs = BTreeMap::new();
    for f in files.iter().filter(|f| f.path.starts_with("pipelines/") && f.path.ends_with(".json")) {
        let Some(spec) = f.new.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) else { continue };
        let mut body = String::from("graph TD\n");
        let mut dags = vec![spec.pointer("/root/dag/tasks")];
        if let Some(components) = spec.get("components").and_then(|c| c.as_object()) {
            dags.extend(components.values().map(|c| c.pointer("/dag/tasks")));
        }
        for tasks in dags.into_iter().flatten().filter_map(|t| t.as_object()) {
            for (name, task) in tasks {
                let id = mermaid_id(name);
                let _ = writeln!(body, "  {id}[\"{}\"]", name.replace('"', "'"));
                for dep in task.get("dependentTasks").and_then(|d| d.as_array()).into_iter().flatten().filter_map(|d| d.as_str()) {
                    let _ = writeln!(body, "  {} --> {id}", mermaid_id(dep));
                }
            }
        }
        graphs.insert(f.path.trim_start_matches("pipelines/").trim_end_matches(".json").to_owned(), body);
    }
    graphs
}

fn mermaid_id(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("t_{id}")
}
