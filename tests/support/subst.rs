//! Cloud Build's substitution, shared by the tests that expand generated build configs
//! (<https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values>).

use std::collections::BTreeMap;

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
