//! The order Cloud Build runs a config's steps in, shared by the tests that check what a step
//! can start before: a step without `waitFor` starts after every step before it, one whose
//! `waitFor` is `["-"]` when the build starts, any other after the steps it lists
//! (<https://cloud.google.com/build/docs/configuring-builds/configure-build-step-order>).

use serde_json::Value;
use std::collections::BTreeSet;

/// Every step id the step `id` of `build` (a parsed config) waits for, directly or through others.
pub fn upstream(build: &Value, id: &str) -> BTreeSet<String> {
    let steps = build["steps"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = steps.iter().map(|s| s["id"].as_str().unwrap_or_default().to_owned()).collect();
    let direct = |i: usize| -> Vec<String> {
        match steps[i]["waitFor"].as_array() {
            None => ids[..i].to_vec(),
            Some(list) => list.iter().filter_map(Value::as_str).filter(|w| *w != "-").map(str::to_owned).collect(),
        }
    };
    let mut found = BTreeSet::new();
    let mut todo = vec![id.to_owned()];
    while let Some(next) = todo.pop() {
        let i = ids.iter().position(|s| *s == next).unwrap_or_else(|| panic!("no step {next}"));
        todo.extend(direct(i).into_iter().filter(|w| found.insert(w.clone())));
    }
    found
}
