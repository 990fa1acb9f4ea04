//! Unified text diffs and `--stat` summaries of changed files.

use super::FileDiff;
use crate::output::write::Action;
use similar::TextDiff;

/// A unified diff of every changed file (`a/` is the old side, `b/` the new one).
pub fn unified(files: &[FileDiff], color: bool) -> String {
    let mut out = String::new();
    for f in files {
        out.push_str(&file_diff(f, color));
    }
    out
}

/// The unified diff of one file.
pub fn file_diff(f: &FileDiff, color: bool) -> String {
    let old = f.old.as_deref().unwrap_or("");
    let new = f.new.as_deref().unwrap_or("");
    let (a, b) = match f.action {
        Action::Add => ("/dev/null".to_owned(), format!("b/{}", f.path)),
        Action::Remove => (format!("a/{}", f.path), "/dev/null".to_owned()),
        _ => (format!("a/{}", f.path), format!("b/{}", f.path)),
    };
    let diff = TextDiff::configure().timeout(std::time::Duration::from_millis(200)).diff_lines(old, new);
    let text = diff.unified_diff().context_radius(3).header(&a, &b).to_string();
    if color { colorize(&text) } else { text }
}

/// Lines added and removed in one file.
pub fn line_counts(f: &FileDiff) -> (usize, usize) {
    let diff = TextDiff::from_lines(f.old.as_deref().unwrap_or(""), f.new.as_deref().unwrap_or(""));
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

/// `--stat`: one line per changed file with added/removed line counts, then a total.
pub fn stat(files: &[FileDiff]) -> String {
    let mut out = String::new();
    let (mut total_add, mut total_del) = (0, 0);
    for f in files {
        let (add, del) = line_counts(f);
        total_add += add;
        total_del += del;
        out.push_str(&format!(" {} | +{add} -{del}\n", f.path));
    }
    out.push_str(&format!(" {} file(s) changed, {total_add} insertion(s)(+), {total_del} deletion(s)(-)\n", files.len()));
    out
}

fn colorize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let code = if line.starts_with("+++") || line.starts_with("---") {
            "1"
        } else if line.starts_with('+') {
            "32"
        } else if line.starts_with('-') {
            "31"
        } else if line.starts_with("@@") {
            "36"
        } else {
            ""
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            let body = line.trim_end_matches('\n');
            out.push_str(&format!("\x1b[{code}m{body}\x1b[0m"));
            if line.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}
