//! Every step of a compiled pipeline names a BigQuery table by the same full URI,
//! `bq://<environment project>.<dataset>.<table>`: the validator and batch prediction get it
//! from the dataset, and a user's `bq://dataset.table` literal in args is written the same way,
//! so no step reads a table from another project than the one it runs in (BigQuery resolves a
//! table without a project against the client's default project).

mod support;

use std::path::Path;

/// Every `bq://…` URI in a text, up to the closing quote.
fn bq_uris(text: &str) -> Vec<&str> {
    text.match_indices("bq://").map(|(at, _)| &text[at..]).map(|rest| &rest[..rest.find(['"', ' ', '\'']).unwrap_or(rest.len())]).collect()
}

#[test]
fn every_step_names_tables_with_the_environments_project() {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    for env in &c.model.environments {
        for p in &c.model.pipelines {
            let text = c.output.get(&format!("pipelines/{}/{}.json", env.name, p.key)).unwrap_or_default();
            for uri in bq_uris(text) {
                assert!(uri.starts_with(&format!("bq://{}.", env.gcp_project)), "{}/{}: {uri}", env.name, p.key);
                assert_eq!(uri.matches('.').count(), 2, "{uri}");
            }
        }
        let training = c.output.get(&format!("pipelines/{}/training.json", env.name)).unwrap_or_default();
        assert!(bq_uris(training).len() >= 2, "the tune args and the validator both name the table");
    }
}
