//! `vertex.tf`: Vertex AI endpoints (with their request-log datasets), the TensorBoard and Feature
//! Store (V2). Models, deployments and jobs have no Terraform resources: pipelines do those.

use super::depends_on_apis;
use super::syntax::{block, bool, ident, iref, list, lit, num, r, resource, s, strings, tpl, var, BlockExt, Item, TfFile};
use crate::model::{DataSource, Endpoint, FeatureStore, Model, OnlineStoreType};

const AIPLATFORM: &str = "aiplatform.googleapis.com";

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    for e in &m.endpoints {
        endpoint(&mut f, m, e);
    }
    if m.tensorboard {
        f.push(
            Item::from(
                resource("google_vertex_ai_tensorboard", "tensorboard")
                    .attr("display_name", s(m.tensorboard_name()))
                    .attr("description", s(format!("Experiment tracking for {}.", m.project.name)))
                    .attr("region", var("region"))
                    .attr("depends_on", depends_on_apis(m, &[AIPLATFORM])),
            )
            .note("experiments.tensorboard")
            .skip("CKV2_GCP_26", "Google-managed encryption; the spec declares no key"),
        );
    }
    if let Some(fs) = &m.features {
        features(&mut f, m, fs);
    }
    f
}

/// Terraform name of the `google_bigquery_dataset` an endpoint logs its requests to.
pub fn request_log(endpoint_key: &str) -> String {
    format!("{}_requests", ident(endpoint_key))
}

fn endpoint(f: &mut TfFile, m: &Model, e: &Endpoint) {
    let key = ident(&e.key);
    let mut b = resource("google_vertex_ai_endpoint", &key)
        .attr("name", s(e.id.to_string()))
        .attr("display_name", s(&e.display_name))
        .attr("location", var("region"))
        .attr("region", var("region"));
    if let Some(rate) = e.request_logging {
        f.push(
            Item::from(
                resource("google_bigquery_dataset", &request_log(&e.key))
                    .attr("dataset_id", s(&e.logging_dataset))
                    .attr("description", s(format!("Request-response log of endpoint {} (drift detection reads it).", e.key)))
                    .attr("location", var("region"))
                    .attr("delete_contents_on_destroy", bool(false))
                    .attr("depends_on", depends_on_apis(m, &["bigquery.googleapis.com"])),
            )
            .note(format!("endpoints.{}.request_logging", e.key))
            .skip("CKV_GCP_81", "Google-managed encryption; the spec declares no dataset key"),
        );
        let dataset = r(&["google_bigquery_dataset", &request_log(&e.key), "dataset_id"]);
        let destination = block("bigquery_destination")
            .attr("output_uri", tpl(vec![lit("bq://"), iref(var("project_id")), lit("."), iref(dataset)]))
            .build();
        b = b.add_block(
            block("predict_request_response_logging_config")
                .attr("enabled", bool(true))
                .attr("sampling_rate", num(hcl::Number::from_f64(rate).unwrap_or_else(|| 0.into())))
                .add_block(destination)
                .build(),
        );
    }
    b = b.attr("depends_on", depends_on_apis(m, &[AIPLATFORM]));
    f.push(
        Item::from(b)
            .note(format!("endpoints.{}: models are deployed by pipeline steps (the provider cannot deploy models).", e.key))
            .note("The numeric name is derived from the project and endpoint key, so every environment agrees.")
            .skip("CKV2_GCP_24", "Google-managed encryption; the spec declares no key")
            .skip("CKV2_GCP_33", "served on the public endpoint with IAM authentication; the spec declares no private network"),
    );
}

fn features(f: &mut TfFile, m: &Model, fs: &FeatureStore) {
    let mut store = resource("google_vertex_ai_feature_online_store", "features")
        .attr("name", s(&fs.online_store_name))
        .attr("region", var("region"));
    store = match fs.store_type {
        OnlineStoreType::Optimized => store.add_block(block("optimized").build()),
        OnlineStoreType::Bigtable => store.add_block(
            block("bigtable")
                .add_block(
                    block("auto_scaling")
                        .attr("min_node_count", num(1))
                        .attr("max_node_count", num(3))
                        .attr("cpu_utilization_target", num(50))
                        .build(),
                )
                .build(),
        ),
    };
    f.push(Item::from(store.attr("depends_on", depends_on_apis(m, &[AIPLATFORM]))).note("features.online_store"));
    for g in &fs.groups {
        let Some(DataSource::BigQuery { project, dataset, table }) = m.dataset(&g.dataset).map(|d| &d.source) else { continue };
        let source = block("big_query_source").attr("input_uri", tpl(super::table_uri(project.as_deref(), dataset, table))).build();
        f.push(
            Item::from(
                resource("google_vertex_ai_feature_group", &ident(&g.key))
                    .attr("name", s(&g.key))
                    .attr("region", var("region"))
                    .attr("description", s(format!("Features of dataset {}.", g.dataset)))
                    .add_block(block("big_query").add_block(source).attr("entity_id_columns", strings([&g.entity_id])).build())
                    .add_block(super::storage::dataset_exists(dataset))
                    .attr("depends_on", depends_on_apis(m, &[AIPLATFORM])),
            )
            .note(format!("features.groups.{}", g.key)),
        );
        for feature in &g.features {
            f.push(
                resource("google_vertex_ai_feature_group_feature", &format!("{}_{}", ident(&g.key), ident(feature)))
                    .attr("name", s(feature))
                    .attr("region", var("region"))
                    .attr("feature_group", r(&["google_vertex_ai_feature_group", &ident(&g.key), "name"])),
            );
        }
    }
    for v in &fs.views {
        let Some(g) = fs.groups.iter().find(|g| g.key == v.group) else { continue };
        let ids = g.features.iter().map(|feat| {
            r(&["google_vertex_ai_feature_group_feature", &format!("{}_{}", ident(&g.key), ident(feat)), "name"])
        });
        let groups = block("feature_groups")
            .attr("feature_group_id", r(&["google_vertex_ai_feature_group", &ident(&g.key), "name"]))
            .attr("feature_ids", list(ids))
            .build();
        let mut b = resource("google_vertex_ai_feature_online_store_featureview", &ident(&v.key))
            .attr("name", s(&v.key))
            .attr("region", var("region"))
            .attr("feature_online_store", r(&["google_vertex_ai_feature_online_store", "features", "name"]));
        if let Some(cron) = &v.sync_cron {
            b = b.add_block(block("sync_config").attr("cron", s(cron)).build());
        }
        b = b.add_block(block("feature_registry_source").add_block(groups).build());
        f.push(Item::from(b).note(format!("features.views.{} (group `{}`)", v.key, g.key)));
    }
}
