//! Reads the generated files committed at a git revision (`diff --base REF`).

use super::Files;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A git failure, with git's own message.
#[derive(Debug, thiserror::Error)]
#[error("git {action} failed: {message}")]
pub struct GitError {
    action: &'static str,
    message: String,
}

fn git(dir: &Path, args: &[&str], action: &'static str) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| GitError { action, message: e.to_string() })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(GitError { action, message });
    }
    Ok(out.stdout)
}

/// The files under `out_dir` as committed at `rev` (paths relative to `out_dir`). A directory
/// that didn't exist at `rev` gives no files.
pub fn files_at(out_dir: &Path, rev: &str) -> Result<Files, GitError> {
    if rev.is_empty() || rev.starts_with('-') || rev.contains(['\n', '\0']) {
        return Err(GitError { action: "rev-parse", message: format!("{rev:?} is not a revision") });
    }
    let existing = out_dir.ancestors().find(|a| a.is_dir()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let top = git(&existing, &["rev-parse", "--show-toplevel"], "rev-parse")?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let rel_existing = abs(&existing).strip_prefix(abs(&top)).map(Path::to_path_buf).unwrap_or_default();
    let missing = out_dir.strip_prefix(&existing).map(Path::to_path_buf).unwrap_or_default();
    let rel = rel_existing.join(missing).to_string_lossy().replace('\\', "/");
    git(&top, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")], "rev-parse").map_err(|_| unknown_revision(rev))?;
    let listing = git(&top, &["ls-tree", "-r", "-z", "--name-only", rev, "--", &rel], "ls-tree")?;
    let paths: Vec<String> = listing
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let contents = cat_files(&top, rev, &paths)?;
    let prefix = if rel.is_empty() { String::new() } else { format!("{}/", rel.trim_end_matches('/')) };
    Ok(paths
        .into_iter()
        .zip(contents)
        .filter_map(|(p, c)| p.strip_prefix(&prefix).map(|r| (r.to_owned(), c)))
        .collect())
}

/// `--base REF` names no commit here (`rev-parse --verify --quiet` says nothing): say what to do.
fn unknown_revision(rev: &str) -> GitError {
    let fetch = match rev.split_once('/') {
        Some((remote, branch)) if !remote.is_empty() && !branch.is_empty() => {
            format!("if `{rev}` is a remote branch, fetch it first: `git fetch {remote} {branch}`")
        }
        _ => format!("use a branch, tag or commit that exists locally (`git branch -a`), or fetch it first: `git fetch origin {rev}`"),
    };
    GitError { action: "rev-parse", message: format!("`{rev}` is not a commit in this repository; {fetch}") }
}

/// Reads many blobs with one `git cat-file --batch`.
fn cat_files(top: &Path, rev: &str, paths: &[String]) -> Result<Vec<String>, GitError> {
    let err = |e: std::io::Error| GitError { action: "cat-file", message: e.to_string() };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(err)?;
    let mut input = String::new();
    for p in paths {
        input.push_str(&format!("{rev}:{p}\n"));
    }
    let mut stdin = child.stdin.take().ok_or_else(|| err(std::io::Error::other("no stdin")))?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut out = Vec::new();
    child.stdout.take().ok_or_else(|| err(std::io::Error::other("no stdout")))?.read_to_end(&mut out).map_err(err)?;
    writer.join().map_err(|_| err(std::io::Error::other("writer panicked")))?.map_err(err)?;
    child.wait().map_err(err)?;
    let mut contents = Vec::with_capacity(paths.len());
    let mut rest = out.as_slice();
    for _ in paths {
        let header_end = rest.iter().position(|b| *b == b'\n').ok_or_else(|| err(std::io::Error::other("truncated output")))?;
        let header = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        let size: usize = header.rsplit(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let body_start = header_end + 1;
        let body = rest.get(body_start..body_start + size).unwrap_or_default();
        contents.push(String::from_utf8_lossy(body).into_owned());
        rest = rest.get(body_start + size + 1..).unwrap_or_default();
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_revision_says_what_to_do() {
        for (rev, advice) in [("nosuchref", "git fetch origin nosuchref"), ("upstream/main", "git fetch upstream main")] {
            let err = files_at(Path::new("."), rev).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(&format!("`{rev}` is not a commit in this repository")), "{rev}: {err}");
            assert!(err.contains(advice), "{rev}: {err}");
        }
    }

    #[test]
    fn option_like_revisions_are_refused() {
        for rev in ["--output=/tmp/x", "-p", "", "a\nb"] {
            let err = files_at(Path::new("."), rev).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("is not a revision"), "{rev:?}: {err}");
        }
    }
}
