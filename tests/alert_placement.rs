//! The build-failure alert lives where builds run: its policy is counted by
//! `length(var.ci_triggers) > 0`, and evaluating that with each environment's committed tfvars
//! creates them exactly in the environments whose projects have Cloud Build triggers (the
//! flagship's dev), not in prod, where no build ever runs (Cloud Build writes build logs to the
//! project the build runs in: <https://cloud.google.com/build/docs/securing-builds/store-manage-build-logs>).

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `count` line of a resource block, if any.
fn count_of(tf: &str, header: &str) -> Option<String> {
    let start = tf.find(header).unwrap_or_else(|| panic!("no {header}"));
    let block = &tf[start..start + tf[start..].find("\n}\n").unwrap_or(tf.len() - start)];
    block.lines().find(|l| l.trim_start().starts_with("count")).map(|l| l.split_once('=').map(|(_, v)| v.trim().to_owned()).unwrap_or_default())
}

/// Number of trigger kinds in an environment's `ci_triggers`.
fn trigger_count(tfvars: &str) -> usize {
    let start = tfvars.find("ci_triggers").unwrap_or_else(|| panic!("no ci_triggers"));
    let rest = &tfvars[start..];
    let list = &rest[rest.find('[').unwrap_or(0)..=rest.find(']').unwrap_or(0)];
    list.matches('"').count() / 2
}

#[test]
fn build_failure_alert_exists_only_where_builds_run() {
    let tf = read("generated/flagship/terraform/monitoring.tf");
    let mut with_alert = Vec::new();
    let header = "resource \"google_monitoring_alert_policy\" \"build_failures\"";
    let count = count_of(&tf, header).unwrap_or_else(|| panic!("{header} exists in every environment"));
    assert_eq!(count, "length(var.ci_triggers) > 0 ? 1 : 0", "{header}");
    for env in ["dev", "prod"] {
        let triggers = trigger_count(&read(&format!("generated/flagship/terraform/env/{env}.tfvars")));
        if triggers > 0 {
            with_alert.push(env);
        }
    }
    assert_eq!(with_alert, ["dev"], "the alert is created where triggers (and so builds) run");
}
