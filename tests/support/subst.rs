//! Cloud Build's substitution, shared by the tests that expand generated build configs
//! (<https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values>).
#![allow(dead_code)] // each test crate uses some of these

use std::collections::BTreeMap;

/// A trigger's substitutions (`values`) as a build of `commit` running as `runner` sees them:
/// with the built-ins the configs use, and each switch (`subst::SWITCHES`) at the file's empty
/// default, since only a run by hand sets one.
pub fn for_build(mut values: BTreeMap<String, String>, commit: &str, build_id: &str, runner: &str) -> BTreeMap<String, String> {
    let short = commit.get(..7).unwrap_or(commit);
    for (key, value) in [("COMMIT_SHA", commit), ("SHORT_SHA", short), ("_BASE_BRANCH", "main"), ("BUILD_ID", build_id), ("SERVICE_ACCOUNT_EMAIL", runner)] {
        values.insert(key.to_owned(), value.to_owned());
    }
    for switch in mlopsgen::targets::cloudbuild::subst::SWITCHES {
        values.insert((*switch).to_owned(), String::new());
    }
    values
}

/// What Cloud Build does to a string: `$$` → `$`, `${K}`/`$K` → the value.
pub fn expand(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').unwrap_or_else(|| panic!("unclosed in {text}"));
            (&braced[..end], &braced[end + 1..])
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..len], &after[len..])
        };
        out.push_str(values.get(name).unwrap_or_else(|| panic!("`{name}` has no value in {text}")));
        rest = tail;
    }
    out.push_str(rest);
    out
}
