//! Condition scopes: under which conditions each pipeline step runs.
//!
//! A step runs only if its own `when` holds and every step it depends on ran, so it inherits the
//! conditions of its dependencies. KFP expresses conditions as nested groups (`dsl.If` blocks), so
//! the inherited conditions must form one chain: the scopes of a step's dependencies must be
//! prefixes of each other. [`condition_scopes`] computes each step's chain (outermost first) or
//! reports the first step whose dependencies sit under unrelated conditions. Validation and the
//! Kubeflow target share it.

use super::{Condition, Pipeline};
use std::collections::{BTreeMap, BTreeSet};

impl Pipeline {
    /// The conditions each step runs under (see [`condition_scopes`]).
    pub fn condition_scopes(&self) -> Result<BTreeMap<String, Vec<Condition>>, ScopeConflict> {
        let steps: Vec<ScopeStep> = self
            .steps
            .iter()
            .map(|s| ScopeStep { name: s.name.clone(), deps: s.depends_on.clone(), condition: s.condition.clone(), guard: s.guard() })
            .collect();
        condition_scopes(&steps)
    }
}

/// What scoping needs to know about one step.
#[derive(Debug, Clone)]
pub struct ScopeStep {
    /// Step name.
    pub name: String,
    /// Every step it waits for (data, `after`, condition producer).
    pub deps: Vec<String>,
    /// Its own condition.
    pub condition: Option<Condition>,
    /// A condition mlopsgen adds inside its own (see [`crate::model::RegistryRef::found`]): it
    /// holds for the step's main task and every step after it, not for the step's lookup.
    pub guard: Option<Condition>,
}

/// A step whose dependencies run under conditions that don't nest.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeConflict {
    /// The step.
    pub step: String,
    /// Two of its dependencies with their scopes.
    pub first: (String, Vec<Condition>),
    /// The other one.
    pub second: (String, Vec<Condition>),
}

/// The conditions each step runs under, outermost first. Steps in a dependency cycle or
/// depending on unknown steps get no entry (validation reports those).
pub fn condition_scopes(steps: &[ScopeStep]) -> Result<BTreeMap<String, Vec<Condition>>, ScopeConflict> {
    let by_name: BTreeMap<&str, &ScopeStep> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut scopes: BTreeMap<String, Vec<Condition>> = BTreeMap::new();
    let mut pending: BTreeSet<&str> = by_name.keys().copied().collect();
    loop {
        let ready: Vec<&str> = pending
            .iter()
            .copied()
            .filter(|n| by_name[n].deps.iter().all(|d| scopes.contains_key(d)))
            .collect();
        if ready.is_empty() {
            return Ok(scopes);
        }
        for name in ready {
            pending.remove(name);
            let step = by_name[name];
            let mut deps: Vec<&String> = step.deps.iter().collect();
            deps.sort();
            deps.dedup();
            // The longest dependency scope; every other one must be a prefix of it.
            let mut widest: Option<&String> = None;
            for d in &deps {
                let longer = widest.is_none_or(|w| scopes[*d].len() > scopes[w].len());
                if longer {
                    widest = Some(d);
                }
            }
            let mut scope = widest.map(|w| scopes[w].clone()).unwrap_or_default();
            if let Some(w) = widest {
                if let Some(d) = deps.iter().find(|d| !scope.starts_with(&scopes[**d])) {
                    return Err(ScopeConflict {
                        step: name.to_owned(),
                        first: (w.clone(), scope),
                        second: ((*d).clone(), scopes[*d].clone()),
                    });
                }
            }
            for c in step.condition.iter().chain(&step.guard) {
                if !scope.contains(c) {
                    scope.push(c.clone());
                }
            }
            scopes.insert(name.to_owned(), scope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CmpOp, Operand};
    use serde_json::json;

    fn cond(step: &str) -> Condition {
        Condition { step: step.into(), output: "x".into(), op: CmpOp::Ge, value: Operand::Literal(json!(1)) }
    }

    fn step(name: &str, deps: &[&str], condition: Option<Condition>) -> ScopeStep {
        ScopeStep { name: name.into(), deps: deps.iter().map(|d| (*d).to_owned()).collect(), condition, guard: None }
    }

    #[test]
    fn dependents_inherit_conditions_and_nest() {
        let steps = [
            step("eval", &[], None),
            step("register", &["eval"], Some(cond("eval"))),
            step("deploy", &["register"], None),
            step("check", &["deploy"], Some(cond("deploy"))),
            step("again", &["register", "eval"], Some(cond("eval"))),
        ];
        let scopes = condition_scopes(&steps);
        let Ok(scopes) = scopes else { panic!("{scopes:?}") };
        assert_eq!(scopes["eval"], vec![]);
        assert_eq!(scopes["register"], vec![cond("eval")]);
        assert_eq!(scopes["deploy"], vec![cond("eval")]);
        assert_eq!(scopes["check"], vec![cond("eval"), cond("deploy")]);
        assert_eq!(scopes["again"], vec![cond("eval")], "a repeated condition is not nested twice");
    }

    #[test]
    fn unrelated_conditions_conflict() {
        let steps = [
            step("a", &[], None),
            step("b", &["a"], Some(cond("a"))),
            step("c", &["a"], Some(cond("c0"))),
            step("d", &["b", "c"], None),
        ];
        let err = condition_scopes(&steps).err();
        assert_eq!(err.map(|e| (e.step, e.first.0, e.second.0)), Some(("d".into(), "b".into(), "c".into())));
    }

    #[test]
    fn a_guard_nests_inside_the_steps_own_condition_and_its_dependents_inherit_it() {
        let guard = crate::model::RegistryRef::found("predict");
        let steps = [
            step("gate", &[], None),
            ScopeStep { guard: Some(guard.clone()), ..step("predict", &["gate"], Some(cond("gate"))) },
            step("publish", &["predict"], None),
        ];
        let scopes = condition_scopes(&steps);
        let Ok(scopes) = scopes else { panic!("{scopes:?}") };
        assert_eq!(scopes["predict"], vec![cond("gate"), guard.clone()]);
        assert_eq!(scopes["publish"], vec![cond("gate"), guard]);
    }

    #[test]
    fn cycles_are_left_out() {
        let steps = [step("a", &["b"], None), step("b", &["a"], None), step("c", &[], None)];
        assert_eq!(condition_scopes(&steps).map(|s| s.into_keys().collect::<Vec<_>>()), Ok(vec!["c".to_owned()]));
    }
}
