//! Reading a parsed Cloud Build config (as JSON), shared by the tests of the generated configs:
//! its steps, a list of strings, and the order Cloud Build runs the steps in, for the tests that
//! check what a step can start before: a step without `waitFor` (or with an empty one) starts
//! after every step before it, one whose `waitFor` is `["-"]` when the build starts, any other after the steps it lists
//! (<https://cloud.google.com/build/docs/configuring-builds/configure-build-step-order>).
#![allow(dead_code)] // each test crate uses some of these

use serde_json::Value;
use std::collections::BTreeSet;

/// The config's steps, in order.
pub fn steps(build: &Value) -> Vec<&Value> {
    build["steps"].as_array().map(|s| s.iter().collect()).unwrap_or_default()
}

/// The strings of a list (`args`, `env`, `waitFor`, …); empty when it is absent.
pub fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Every step id the step `id` of `build` (a parsed config) waits for, directly or through others.
pub fn upstream(build: &Value, id: &str) -> BTreeSet<String> {
    let steps = build["steps"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = steps.iter().map(|s| s["id"].as_str().unwrap_or_default().to_owned()).collect();
    let direct = |i: usize| -> Vec<String> {
        match steps[i]["waitFor"].as_array().map(Vec::as_slice) {
            None | Some([]) => ids[..i].to_vec(),
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

/// The latest each step of `build` can finish, in seconds from the build's start, if every step
/// runs to its `timeout` (`600s`) and starts as soon as the order above lets it.
pub fn latest_finish(build: &Value) -> Vec<(String, u64)> {
    let mut finish: Vec<(String, u64)> = Vec::new();
    for step in steps(build) {
        let id = step["id"].as_str().unwrap_or_default().to_owned();
        let timeout = step["timeout"].as_str().and_then(|t| t.strip_suffix('s')).and_then(|t| t.parse::<u64>().ok());
        let timeout = timeout.unwrap_or_else(|| panic!("step {id}: no timeout in whole seconds"));
        let start = match step["waitFor"].as_array().map(Vec::as_slice) {
            None | Some([]) => finish.iter().map(|(_, end)| *end).max().unwrap_or(0),
            Some(_) => strings(&step["waitFor"])
                .iter()
                .filter(|w| *w != "-")
                .map(|w| finish.iter().find(|(id, _)| id == w).unwrap_or_else(|| panic!("{id} waits for a later {w}")).1)
                .max()
                .unwrap_or(0),
        };
        finish.push((id, start + timeout));
    }
    finish
}
