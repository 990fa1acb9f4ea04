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
    let counts: Vec<(usize, usize)> = files.iter().map(line_counts).collect();
    let (total_add, total_del) = counts.iter().fold((0, 0), |(a, d), (add, del)| (a + add, d + del));
    // Columns like `git diff --stat`: paths padded to the longest, counts right-aligned.
    let path_width = files.iter().map(|f| f.path.chars().count()).max().unwrap_or(0);
    let add_width = counts.iter().map(|(a, _)| a.to_string().len()).max().unwrap_or(1);
    let del_width = counts.iter().map(|(_, d)| d.to_string().len()).max().unwrap_or(1);
    for (f, (add, del)) in files.iter().zip(&counts) {
        out.push_str(&format!(" {:<path_width$} | +{add:>add_width$} -{del:>del_width$}\n", f.path));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_columns_line_up() {
        let file = |path: &str, old: &str, new: &str| FileDiff { path: path.into(), action: Action::Change, old: Some(old.into()), new: Some(new.into()) };
        let many: String = (0..12).map(|i| format!("{i}\n")).collect();
        let files = [file("a.tf", "x\n", "y\n"), file("pipelines/dev/training.json", "", &many)];
        let text = stat(&files);
        let bars: Vec<usize> = text.lines().take(2).filter_map(|l| l.find('|')).collect();
        assert_eq!(bars.len(), 2, "{text}");
        assert_eq!(bars[0], bars[1], "the `|` column is aligned:\n{text}");
        assert!(text.contains(" a.tf                        | + 1 -1\n"), "{text}");
    }
}
