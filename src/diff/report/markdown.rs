//! The Markdown report, ready to post as a pull-request comment: destructive changes first (a
//! GitHub caution callout), a summary table per target, each target's changes with their changed
//! fields, a Mermaid graph of each changed pipeline and the per-file unified diffs, the last two
//! in collapsible `<details>` sections.
//!
//! GitHub rejects comments over 65,535 characters. The title, callout and table always fit; the
//! other sections are added in order while they fit under [`MARKDOWN_LIMIT`], and a note says what
//! was left out.

use super::{kind_counts, kind_word, status, truncate, Report};
use crate::diff::unified;
use crate::review::Change;
use crate::targets::TargetRef;
use std::fmt::Write as _;

/// GitHub's limit on a comment's length.
pub const GITHUB_COMMENT_LIMIT: usize = 65_535;

/// The budget for a report (in bytes, which is never fewer than characters), leaving room for
/// the truncation note.
pub const MARKDOWN_LIMIT: usize = 64_000;

/// Changes of one target shown inline; longer lists go in a collapsed section.
const INLINE_CHANGES: usize = 25;

/// Destructive changes listed in the callout.
const CALLOUT_CHANGES: usize = 50;

/// Changed fields shown per change.
const DETAILS_SHOWN: usize = 10;

impl Report {
    /// The PR comment.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let against = self.base.as_deref().map_or_else(|| "the files on disk".to_owned(), code);
        let _ = writeln!(out, "## mlopsgen: generated changes for {} vs {against}\n", code(&self.spec));
        if self.is_empty() {
            out.push_str("No generated file changes.\n");
            return out;
        }
        self.callout(&mut out);
        self.table(&mut out);
        let mut omitted = Vec::new();
        for (target, changes) in self.by_target() {
            let full = target_section(target.title(), &changes, true);
            if !push_if_fits(&mut out, &full) && !push_if_fits(&mut out, &target_section(target.title(), &changes, false)) {
                omitted.push(format!("the {} change list", target.title()));
            }
        }
        for (name, graph) in &self.graphs {
            let section = format!(
                "<details><summary>Pipeline graph: <code>{}</code></summary>\n\n```mermaid\n{graph}```\n\n</details>\n\n",
                html(name)
            );
            if !push_if_fits(&mut out, &section) {
                omitted.push(format!("the graph of {name}"));
            }
        }
        let mut diffs_omitted = 0;
        for f in &self.files {
            let diff = unified::file_diff(f, false);
            let (added, removed) = unified::line_counts(f);
            let fence = fence_for(&diff);
            let section = format!(
                "<details><summary>{} <code>{}</code> (+{added} −{removed})</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n\n",
                status(f.action),
                html(&f.path)
            );
            diffs_omitted += usize::from(!push_if_fits(&mut out, &section));
        }
        if diffs_omitted > 0 {
            omitted.push(format!("{diffs_omitted} of {} file diff(s)", self.files.len()));
        }
        if !omitted.is_empty() {
            let _ = writeln!(
                out,
                "_Truncated to stay under GitHub's {GITHUB_COMMENT_LIMIT}-character comment limit: left out {}. \
                 Run `mlopsgen diff` locally to see everything._",
                omitted.join(", ")
            );
        }
        out
    }

    fn callout(&self, out: &mut String) {
        let destructive: Vec<&Change> = self.destructive().collect();
        if destructive.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{} destructive change(s)**: state may be lost or consumers may break.",
            destructive.len()
        );
        for c in destructive.iter().take(CALLOUT_CHANGES) {
            let _ = write!(out, "> - {}: **{}** {}", TargetRef::of_id(c.target).title(), kind_word(c.kind), code(&c.subject));
            if let Some(s) = &c.summary {
                let _ = write!(out, ": {}", escape(s));
            }
            out.push('\n');
        }
        if destructive.len() > CALLOUT_CHANGES {
            let _ = writeln!(out, "> - … and {} more", destructive.len() - CALLOUT_CHANGES);
        }
        out.push('\n');
    }

    fn table(&self, out: &mut String) {
        out.push_str("| Target | Files added | Files changed | Files removed | Changes | Destructive |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|\n");
        let row = |out: &mut String, name: &str, c: super::Counts| {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} |",
                c.files_added, c.files_changed, c.files_removed, c.changes, c.destructive
            );
        };
        for (target, counts) in self.counts() {
            row(out, target.title(), counts);
        }
        row(out, "**Total**", self.totals());
        out.push('\n');
    }
}

/// One target's changes; `with_details` lists their changed fields too.
fn target_section(name: &str, changes: &[&Change], with_details: bool) -> String {
    let mut list = String::new();
    for c in changes {
        let flag = if c.destructive { "⚠️ " } else { "" };
        let _ = write!(list, "- {flag}**{}** {}", kind_word(c.kind), code(&c.subject));
        if let Some(s) = &c.summary {
            let _ = write!(list, ": {}", escape(s));
        }
        list.push('\n');
        if with_details {
            for d in c.details.iter().take(DETAILS_SHOWN) {
                let _ = writeln!(list, "  - {}: {} → {}", code(&d.path), value(d.old.as_deref()), value(d.new.as_deref()));
            }
            if c.details.len() > DETAILS_SHOWN {
                let _ = writeln!(list, "  - … {} more field(s)", c.details.len() - DETAILS_SHOWN);
            }
        }
    }
    let counts = kind_counts(changes.iter().copied());
    if changes.len() > INLINE_CHANGES {
        format!("### {name}\n\n<details><summary>{counts}</summary>\n\n{list}\n</details>\n\n")
    } else {
        format!("### {name}\n\n{counts}:\n\n{list}\n")
    }
}

/// Appends `section` if the report stays under [`MARKDOWN_LIMIT`].
fn push_if_fits(out: &mut String, section: &str) -> bool {
    let fits = out.len() + section.len() <= MARKDOWN_LIMIT;
    if fits {
        out.push_str(section);
    }
    fits
}

/// An inline code span that survives backticks inside the value.
pub(super) fn code(s: &str) -> String {
    let s = truncate(&s.replace(['\n', '\r'], " "), 160);
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
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Escapes Markdown punctuation in free text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace(['\n', '\r'], " ").chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn fences_outlast_backtick_runs() {
        assert_eq!(fence_for("```"), "````");
        assert_eq!(fence_for("plain"), "```");
    }
}
