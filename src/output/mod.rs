//! Stage 5 — the output set: every generated file as one value.
//!
//! Targets insert `(path, contents)` pairs into an [`Emitter`]: the [`OutputSet`] holds them all,
//! which `build --check`, `diff` and the tests read; a [`Stream`] hands each file on as it comes,
//! which is how `build` stages files without holding the whole output ([`stage`]); [`PathsOnly`]
//! keeps the paths alone, and targets skip rendering text for it (`validate`). Each prepares a file
//! the same way: inserting normalises text (LF, one trailing newline), adds the generated-file
//! banner the file type allows, and rejects any path that could leave the output directory or is
//! generated twice.

pub mod manifest;
pub mod memo;
pub mod stage;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Where a target puts its files.
pub trait Emitter {
    /// Adds a file: text is normalised and bannered; a path may be inserted once.
    fn add(&mut self, path: String, contents: String) -> Result<(), PathError>;
    /// Whether it reads the text of what it is given; [`PathsOnly`] does not, and
    /// [`insert_with`](trait.Emitter.html#method.insert_with) then renders nothing.
    fn keeps_text(&self) -> bool {
        true
    }
}

impl dyn Emitter + '_ {
    /// [`Emitter::add`] for anything string-like.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<String>) -> Result<(), PathError> {
        self.add(path.into(), contents.into())
    }

    /// Adds a file whose text `render` makes, called only if the emitter keeps text: the path
    /// (and so the count of files) never depends on the rendering, which only serialises what
    /// the target has already decided to write.
    pub fn insert_with<E: From<PathError>>(&mut self, path: impl Into<String>, render: impl FnOnce() -> Result<String, E>) -> Result<(), E> {
        let text = if self.keeps_text() { render()? } else { String::new() };
        Ok(self.add(path.into(), text)?)
    }
}

/// An [`Emitter`] that checks and keeps the paths and drops the text, which targets then don't
/// render: what `validate` counts.
#[derive(Debug, Default)]
pub struct PathsOnly {
    paths: BTreeSet<String>,
}

impl PathsOnly {
    /// The paths added so far.
    pub fn into_paths(self) -> BTreeSet<String> {
        self.paths
    }
}

impl Emitter for PathsOnly {
    fn add(&mut self, path: String, _: String) -> Result<(), PathError> {
        check_new(&path, self.paths.contains(&path))?;
        self.paths.insert(path);
        Ok(())
    }
    fn keeps_text(&self) -> bool {
        false
    }
}

/// An [`Emitter`] that passes each prepared file to a function and keeps only the paths.
pub struct Stream<'s> {
    spec_path: &'s str,
    paths: BTreeSet<String>,
    sink: &'s (dyn Fn(String, String) + Sync),
}

impl<'s> Stream<'s> {
    /// A stream for the given spec (its repository-relative path goes into banners).
    pub fn new(spec_path: &'s str, sink: &'s (dyn Fn(String, String) + Sync)) -> Self {
        Stream { spec_path, paths: BTreeSet::new(), sink }
    }

    /// The paths passed on so far.
    pub fn into_paths(self) -> BTreeSet<String> {
        self.paths
    }
}

impl fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("spec_path", &self.spec_path).field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Emitter for Stream<'_> {
    fn add(&mut self, path: String, contents: String) -> Result<(), PathError> {
        let text = prepare(&path, contents, self.spec_path, self.paths.contains(&path))?;
        self.paths.insert(path.clone());
        (self.sink)(path, text);
        Ok(())
    }
}

/// A relative output path that failed validation.
#[derive(Debug, thiserror::Error)]
#[error("invalid output path `{path}`: {reason}")]
pub struct PathError {
    /// The path.
    pub path: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

/// Generated files by path: one side of a comparison (on disk, at a git ref, or generated).
pub type Files = BTreeMap<String, String>;

/// One file that a build adds, changes or removes, with both texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Path inside the output directory.
    pub path: String,
    /// Added, changed or removed.
    pub action: write::Action,
    /// Old contents (`None` if added).
    pub old: Option<String>,
    /// New contents (`None` if removed).
    pub new: Option<String>,
}

/// Every generated file: relative path → contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputSet {
    files: BTreeMap<String, String>,
    spec_path: String,
}

impl OutputSet {
    /// An empty set for the given spec (its repository-relative path goes into banners).
    pub fn new(spec_path: &str) -> Self {
        OutputSet { files: BTreeMap::new(), spec_path: spec_path.to_owned() }
    }

    /// Adds a file; text is normalised and bannered. A path may be inserted once.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<String>) -> Result<(), PathError> {
        self.add(path.into(), contents.into())
    }

    /// Moves another set's files (already normalised and bannered) into this one.
    pub fn merge(&mut self, other: OutputSet) -> Result<(), PathError> {
        for (path, text) in other.files {
            if self.files.contains_key(&path) {
                return Err(PathError { path, reason: "generated twice" });
            }
            self.files.insert(path, text);
        }
        Ok(())
    }

    /// Files in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    /// One file's contents.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was generated.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl Emitter for OutputSet {
    fn add(&mut self, path: String, contents: String) -> Result<(), PathError> {
        let text = prepare(&path, contents, &self.spec_path, self.files.contains_key(&path))?;
        self.files.insert(path, text);
        Ok(())
    }
}

/// What every [`Emitter`] does with a new file: checks its path (`taken`: already generated) and
/// returns its text normalised and bannered.
fn prepare(path: &str, contents: String, spec_path: &str, taken: bool) -> Result<String, PathError> {
    check_new(path, taken)?;
    Ok(add_banner(path, normalise(contents), spec_path))
}

/// Rejects a path no target may generate: one that could leave the output directory, is reserved
/// for the team's own files, or was generated already (`taken`).
fn check_new(path: &str, taken: bool) -> Result<(), PathError> {
    check_path(path)?;
    if is_user_owned(path) {
        return Err(PathError { path: path.to_owned(), reason: "reserved for user-owned files" });
    }
    if taken {
        return Err(PathError { path: path.to_owned(), reason: "generated twice" });
    }
    Ok(())
}

impl fmt::Display for OutputSet {
    /// All files concatenated under `=== path ===` headers (the snapshot format).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, contents) in &self.files {
            writeln!(f, "=== {path} ===")?;
            f.write_str(contents)?;
        }
        Ok(())
    }
}

/// File names mlopsgen never generates, so the team's own files can sit next to generated ones:
/// `*.extra.tf` / `*.extra.tf.json` in `terraform/` are part of the root module Terraform loads
/// (it reads every `.tf` and `.tf.json` file of the directory), and the writer never touches a
/// file it did not write, so they are neither hand edits nor orphans (README "Owned output").
pub const USER_OWNED_SUFFIXES: &[&str] = &[".extra.tf", ".extra.tf.json"];

/// Whether a path is one of the [`USER_OWNED_SUFFIXES`] names.
pub fn is_user_owned(path: &str) -> bool {
    USER_OWNED_SUFFIXES.iter().any(|suffix| path.ends_with(suffix))
}

/// Rejects absolute paths, `..`, empty or dot segments, backslashes and control characters.
pub fn check_path(path: &str) -> Result<(), PathError> {
    let err = |reason| Err(PathError { path: path.to_owned(), reason });
    if path.is_empty() {
        return err("empty");
    }
    if path.starts_with('/') {
        return err("absolute");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return err("backslash or control character");
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return err("empty, `.` or `..` segment");
    }
    Ok(())
}

/// LF line endings and exactly one trailing newline (in place unless there are CRs).
fn normalise(text: String) -> String {
    let mut t = if text.contains('\r') { text.replace("\r\n", "\n") } else { text };
    let trimmed = t.trim_end_matches('\n').len();
    t.truncate(trimmed);
    t.push('\n');
    t
}

/// The banner line for a file, if its format has comments.
fn banner(path: &str, spec_path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let hash_comment = [".tf", ".tfvars", ".py", ".yaml", ".yml", ".sh", ".toml", ".txt", ".cfg"]
        .iter()
        .any(|ext| name.ends_with(ext))
        || name == "Dockerfile"
        || name.ends_with(".dockerignore")
        || name.starts_with('.') && !name.ends_with(".json");
    hash_comment.then(|| {
        format!("# Generated by mlopsgen from {spec_path}. Do not edit: change the spec and run `mlopsgen build`.\n")
    })
}

/// Puts the banner after the shebang line, if any, else first; the result is sized exactly (an
/// output set holds every file until it is written, so growth slack would add up).
fn add_banner(path: &str, mut text: String, spec_path: &str) -> String {
    let Some(banner) = banner(path, spec_path) else {
        text.shrink_to_fit();
        return text;
    };
    let split = if text.starts_with("#!") { text.find('\n').map_or(text.len(), |n| n + 1) } else { 0 };
    let mut out = String::with_capacity(text.len() + banner.len() + 1);
    out.push_str(&text[..split]);
    if split > 0 && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&banner);
    out.push_str(&text[split..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escaping_paths() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b", "./a", "a/\u{0}"] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_path("terraform/env/dev.tfvars").is_ok());
    }

    #[test]
    fn user_owned_names_are_never_generated() {
        let mut set = OutputSet::new("specs/x.yaml");
        assert!(set.insert("terraform/team.extra.tf", "x = 1").is_err());
        assert!(set.insert("terraform/team.extra.tf.json", "{}").is_err());
        assert!(set.insert("terraform/extra.tf", "x = 1").is_ok());
    }

    #[test]
    fn normalises_and_banners() {
        let mut set = OutputSet::new("specs/x.yaml");
        set.insert("a.tf", "x = 1\r\n\n\n").ok();
        set.insert("b.sh", "#!/usr/bin/env bash\necho hi").ok();
        set.insert("c.json", "{}").ok();
        assert_eq!(set.get("a.tf").map(|t| t.lines().nth(1)), Some(Some("x = 1")));
        assert!(set.get("a.tf").is_some_and(|t| t.ends_with("x = 1\n")));
        assert!(set.get("b.sh").is_some_and(|t| t.starts_with("#!/usr/bin/env bash\n# Generated by mlopsgen")));
        assert_eq!(set.get("c.json"), Some("{}\n"));
        assert!(set.insert("a.tf", "again").is_err());
    }

    #[test]
    fn merging_keeps_files_as_inserted_and_refuses_duplicates() {
        let mut a = OutputSet::new("specs/x.yaml");
        a.insert("a.tf", "x = 1").ok();
        let mut b = OutputSet::new("specs/x.yaml");
        b.insert("b.sh", "#!/bin/sh\necho").ok();
        let expected_b = b.get("b.sh").map(str::to_owned);
        assert!(a.merge(b).is_ok());
        assert_eq!(a.get("b.sh").map(str::to_owned), expected_b);
        let mut again = OutputSet::new("specs/x.yaml");
        again.insert("a.tf", "x = 2").ok();
        assert!(a.merge(again).is_err());
    }
}
