//! Dockerfiles (`docker/<image>/Dockerfile`, reported as `image <name>`): base images (`FROM`)
//! and the instructions that change how the container runs (`ENTRYPOINT`, `CMD`, `USER`,
//! `EXPOSE`, `ENV`), read from the logical (continuation-joined) instructions.

use super::{diff_fields, Change, Kind};
use super::Files;
use std::collections::BTreeMap;

/// Instructions with `\` line continuations joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `FROM` (distinct base images in order) and the last of each runtime instruction.
fn fields(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut bases: Vec<String> = Vec::new();
    let mut env: Vec<String> = Vec::new();
    for instruction in instructions(text) {
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction.as_str(), ""));
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        match keyword.to_ascii_uppercase().as_str() {
            "FROM" => {
                let base = rest.split_whitespace().find(|w| !w.starts_with("--")).unwrap_or("").to_owned();
                if !bases.contains(&base) {
                    bases.push(base);
                }
            }
            "ENV" => env.push(rest),
            k @ ("ENTRYPOINT" | "CMD" | "USER" | "EXPOSE") => {
                out.insert(k.to_owned(), rest);
            }
            _ => {}
        }
    }
    out.insert("FROM".to_owned(), bases.join(", "));
    if !env.is_empty() {
        out.insert("ENV".to_owned(), env.join(" "));
    }
    out
}

fn dockerfiles(files: &Files) -> impl Iterator<Item = (&String, &String)> {
    files.iter().filter(|(p, _)| p.starts_with("docker/") && p.ends_with("/Dockerfile"))
}

fn image(path: &str) -> String {
    format!("image {}", path.trim_start_matches("docker/").trim_end_matches("/Dockerfile"))
}

/// Dockerfile changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, text) in dockerfiles(new) {
        match old.get(path) {
            None => {
                let mut c = Change::new(image(path), Kind::Added);
                c.summary = fields(text).get("FROM").map(|b| format!("from {b}"));
                out.push(c);
            }
            Some(prev) if prev != text => {
                let mut c = Change::new(image(path), Kind::Changed);
                c.details = diff_fields(&fields(prev), &fields(text));
                if c.details.iter().any(|d| d.path == "FROM") {
                    c.summary = Some("base image changed".into());
                }
                out.push(c);
            }
            Some(_) => {}
        }
    }
    for (path, _) in dockerfiles(old).filter(|(p, _)| !new.contains_key(*p)) {
        out.push(Change::new(image(path), Kind::Removed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bases_and_runtime_instructions() {
        let f = fields("# c\nFROM --platform=linux/amd64 python:3.11 AS deps\nRUN x\nFROM python:3.11\nENV A=1 \\\n    B=2\nUSER 1:1\nENTRYPOINT [\"a\"]\n");
        assert_eq!(f["FROM"], "python:3.11");
        assert_eq!(f["ENV"], "A=1 B=2");
        assert_eq!(f["ENTRYPOINT"], "[\"a\"]");
    }

    #[test]
    fn base_image_changes_are_summarised() {
        let old = Files::from([("docker/t/Dockerfile".to_owned(), "FROM a:1 AS d\nFROM a:1\n".to_owned())]);
        let new = Files::from([("docker/t/Dockerfile".to_owned(), "FROM a:2 AS d\nFROM a:2\n".to_owned())]);
        let c = changes(&old, &new);
        assert_eq!((c[0].subject.as_str(), c[0].summary.as_deref()), ("image t", Some("base image changed")));
        assert_eq!((c[0].details[0].old.as_deref(), c[0].details[0].new.as_deref()), (Some("a:1"), Some("a:2")));
    }
}
