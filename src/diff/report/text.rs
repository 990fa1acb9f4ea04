//! Terminal text: destructive changes first, then each target's changes as Terraform-plan style
//! lines (`+` added, `-` removed, `~` changed, `-/+` replaced) with their changed fields; and the
//! short summary `build` prints, which falls back to per-target counts when there are many.

use super::{kind_counts, kind_symbol, truncate, Report};
use crate::review::Change;
use crate::targets::TargetRef;
use std::fmt::Write as _;

/// Changed fields listed per change before `… N more field(s)`.
const DETAILS_SHOWN: usize = 8;

impl Report {
    /// The semantic summary: destructive changes first, then every change by target.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.destructive_header(&mut out);
        for (target, changes) in self.by_target() {
            let _ = writeln!(out, "{}: {}", target.title(), kind_counts(changes.iter().copied()));
            for c in changes {
                change_lines(c, &mut out);
            }
        }
        out
    }

    /// [`Report::text`] if there are at most `max_changes` changes, else the destructive ones
    /// and per-target counts (a first build adds every resource; listing them helps nobody).
    pub fn summary(&self, max_changes: usize) -> String {
        if self.changes.len() <= max_changes {
            return self.text();
        }
        let mut out = String::new();
        self.destructive_header(&mut out);
        for (target, changes) in self.by_target() {
            let _ = writeln!(out, "{}: {}", target.title(), kind_counts(changes.iter().copied()));
        }
        let _ = writeln!(out, "({} changes in all; `mlopsgen diff` lists each one before you build)", self.changes.len());
        out
    }

    fn destructive_header(&self, out: &mut String) {
        let destructive: Vec<&Change> = self.destructive().collect();
        if destructive.is_empty() {
            return;
        }
        let _ = writeln!(out, "DESTRUCTIVE: {} change(s) may lose state or break consumers:", destructive.len());
        for c in destructive {
            let _ = write!(out, "  {:<3} {} ({})", kind_symbol(c.kind), c.subject, TargetRef::of_id(c.target).title());
            if let Some(s) = &c.summary {
                let _ = write!(out, ": {s}");
            }
            out.push('\n');
        }
        out.push('\n');
    }
}

fn change_lines(c: &Change, out: &mut String) {
    let flag = if c.destructive { " [destructive]" } else { "" };
    let _ = write!(out, "  {:<3} {}{flag}", kind_symbol(c.kind), c.subject);
    if let Some(s) = &c.summary {
        let _ = write!(out, ": {s}");
    }
    out.push('\n');
    for d in c.details.iter().take(DETAILS_SHOWN) {
        let _ = writeln!(out, "        {}: {} → {}", d.path, shown(d.old.as_deref()), shown(d.new.as_deref()));
    }
    if c.details.len() > DETAILS_SHOWN {
        let _ = writeln!(out, "        … {} more field(s)", c.details.len() - DETAILS_SHOWN);
    }
}

fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |s| truncate(s, 100))
}
