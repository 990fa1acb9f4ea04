//! What exists in which environment: an environment's overrides may remove a pipeline, service
//! or function (`null`), switch a schedule between Composer and Vertex AI, and so give it or take
//! away its Composer environment. Targets that serve every environment from one file set (Cloud
//! Build) generate from [`union`] and guard what is not everywhere with [`keys`].

use super::{Model, Orchestrator};
use std::collections::BTreeSet;

/// The deployable things an environment has, as keys: `pipeline:<key>`, `service:<key>`,
/// `function:<key>`, `schedule:<pipeline>` (a Vertex AI schedule) and `dags` (a Composer
/// environment CD puts DAGs into).
pub fn keys(view: &Model) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in &view.pipelines {
        out.insert(format!("pipeline:{}", p.key));
        if p.schedule.as_ref().is_some_and(|s| s.orchestrator == Orchestrator::Vertex) {
            out.insert(format!("schedule:{}", p.key));
        }
    }
    out.extend(view.services.iter().map(|s| format!("service:{}", s.key)));
    out.extend(view.functions.iter().map(|f| format!("function:{}", f.key)));
    if view.deploys_dags() {
        out.insert("dags".to_owned());
    }
    out
}

/// Each environment's view, in promotion order.
pub fn views(model: &Model) -> impl Iterator<Item = &Model> {
    model.environments.iter().map(|e| model.for_env(&e.name))
}

/// The keys some environment has and another has not (empty without such differences).
pub fn conditional(model: &Model) -> BTreeSet<String> {
    let all: Vec<BTreeSet<String>> = views(model).map(keys).collect();
    let union: BTreeSet<String> = all.iter().flatten().cloned().collect();
    union.into_iter().filter(|k| all.iter().any(|set| !set.contains(k))).collect()
}

/// The model with everything any environment has: the spec's entries (an environment can only
/// remove one), and a Composer environment if any environment has one.
pub fn union(model: &Model) -> Model {
    let mut out = model.clone();
    if out.composer.is_none() {
        out.composer = views(model).find_map(|v| v.composer.clone());
    }
    out
}

/// Whether any environment deploys DAGs (see [`Model::deploys_dags`]).
pub fn any_dags(model: &Model) -> bool {
    views(model).any(Model::deploys_dags)
}
