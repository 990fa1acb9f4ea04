//! Dockerfiles: base images (`FROM`) added, removed or changed per image.

use super::{Change, Detail, Kind, Target};
use crate::diff::Files;

fn bases(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("FROM ").map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned()))
        .collect()
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
            None => out.push(Change::new(Target::Docker, image(path), Kind::Added)),
            Some(prev) if prev != text => {
                let mut c = Change::new(Target::Docker, image(path), Kind::Changed);
                let (b0, b1) = (bases(prev), bases(text));
                if b0 != b1 {
                    c.details.push(Detail { path: "FROM".into(), old: Some(b0.join(", ")), new: Some(b1.join(", ")) });
                    c.summary = Some("base image changed".into());
                }
                out.push(c);
            }
            Some(_) => {}
        }
    }
    for (path, _) in dockerfiles(old).filter(|(p, _)| !new.contains_key(*p)) {
        out.push(Change::new(Target::Docker, image(path), Kind::Removed));
    }
    out
}
