//! `mlopsgen graph`: a pipeline's step DAG as Mermaid or Graphviz DOT, for review.
//!
//! Nodes are steps labelled with their kind; an edge from a producer to a consumer carries the
//! outputs that flow along it, and a dashed edge from a condition's producer carries the
//! condition (`when auc >= 0.8`). Edges without a label are `after` orderings.

use crate::model::{InputSource, Pipeline};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// One producer → consumer edge.
#[derive(Debug, Default)]
struct Edge {
    outputs: Vec<String>,
    condition: Option<String>,
}

impl Edge {
    fn label(&self) -> String {
        let mut parts = Vec::new();
        if !self.outputs.is_empty() {
            parts.push(self.outputs.join(", "));
        }
        if let Some(c) = &self.condition {
            parts.push(format!("when {c}"));
        }
        parts.join("; ")
    }
}

/// Edges in step order: (producer index, consumer index) → what flows.
fn edges(p: &Pipeline) -> BTreeMap<(usize, usize), Edge> {
    let index: BTreeMap<&str, usize> = p.steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut edges: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
    for (to, step) in p.steps.iter().enumerate() {
        for dep in &step.depends_on {
            if let Some(from) = index.get(dep.as_str()) {
                edges.entry((*from, to)).or_default();
            }
        }
        for input in &step.inputs {
            if let InputSource::Output { step: producer, output } = &input.source {
                if let Some(from) = index.get(producer.as_str()) {
                    let e = edges.entry((*from, to)).or_default();
                    if !e.outputs.contains(output) {
                        e.outputs.push(output.clone());
                    }
                }
            }
        }
        if let Some(c) = &step.condition {
            if let Some(from) = index.get(c.step.as_str()) {
                edges.entry((*from, to)).or_default().condition = Some(format!("{} {} {}", c.output, c.op.as_str(), c.value));
            }
        }
    }
    edges
}

/// Renders a pipeline's step DAG.
pub fn render(p: &Pipeline, format: Format) -> String {
    let mut out = String::new();
    let edges = edges(p);
    match format {
        Format::Mermaid => {
            out.push_str("flowchart TD\n");
            for (i, s) in p.steps.iter().enumerate() {
                let _ = writeln!(out, "  s{i}[\"{}<br/>{}\"]", mermaid_text(&s.name), s.kind.name());
            }
            for ((from, to), e) in &edges {
                let arrow = if e.condition.is_some() { "-.->" } else { "-->" };
                match e.label() {
                    l if l.is_empty() => writeln!(out, "  s{from} {arrow} s{to}"),
                    l => writeln!(out, "  s{from} {arrow}|\"{}\"| s{to}", mermaid_text(&l)),
                }
                .unwrap_or_default();
            }
        }
        Format::Dot => {
            let _ = writeln!(out, "digraph {} {{\n  node [shape=box];", dot_text(&p.name));
            for s in &p.steps {
                let _ = writeln!(out, "  {} [label={}];", dot_text(&s.name), dot_text(&format!("{}\n({})", s.name, s.kind.name())));
            }
            for ((from, to), e) in &edges {
                let mut attrs = Vec::new();
                let label = e.label();
                if !label.is_empty() {
                    attrs.push(format!("label={}", dot_text(&label)));
                }
                if e.condition.is_some() {
                    attrs.push("style=dashed".to_owned());
                }
                let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
                let _ = writeln!(out, "  {} -> {}{attrs};", dot_text(&p.steps[*from].name), dot_text(&p.steps[*to].name));
            }
            out.push_str("}\n");
        }
    }
    out
}

/// Mermaid lines that outline the named steps, appended to a [`Format::Mermaid`] graph (the diff
/// report marks added and changed steps with them).
pub fn mermaid_highlight(p: &Pipeline, steps: &[&str]) -> String {
    let ids: Vec<String> =
        p.steps.iter().enumerate().filter(|(_, s)| steps.contains(&s.name.as_str())).map(|(i, _)| format!("s{i}")).collect();
    if ids.is_empty() {
        return String::new();
    }
    format!("  classDef changed stroke:#d29922,stroke-width:3px\n  class {} changed\n", ids.join(","))
}

/// Text inside a quoted Mermaid label: characters Mermaid or HTML would interpret become
/// entity codes.
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' | '#' | '&' | '<' | '>' | '|' | '`' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A DOT double-quoted string (`\n` in the input becomes a DOT line break).
fn dot_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ArtifactType, CmpOp, Condition, Container, Input, IoType, Resources, Step, StepKind};

    fn step(name: &str, deps: &[&str], inputs: Vec<Input>, condition: Option<Condition>) -> Step {
        let container = Container { image: "job".into(), command: vec![], args: vec![], env: Default::default(), access: Default::default() };
        Step {
            name: name.into(),
            kind: StepKind::Container { container, resources: Resources::default() },
            inputs,
            outputs: vec![],
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            condition,
            retries: None,
            cache: true,
        }
    }

    fn pipeline() -> Pipeline {
        let data = Input {
            name: "data".into(),
            source: InputSource::Output { step: "prep".into(), output: "dataset".into() },
            ty: IoType::Artifact(ArtifactType::Dataset),
        };
        let cond = Condition { step: "eval".into(), output: "label".into(), op: CmpOp::Eq, value: crate::model::Operand::Literal(serde_json::json!("a\"<b>")) };
        Pipeline {
            key: "p".into(),
            name: "demo-p".into(),
            dag_id: "demo_p".into(),
            description: None,
            params: vec![],
            steps: vec![
                step("prep", &[], vec![], None),
                step("eval", &["prep"], vec![data], None),
                step("ship", &["eval", "prep"], vec![], Some(cond)),
            ],
            schedule: None,
        }
    }

    #[test]
    fn mermaid_shows_kinds_data_and_conditions() {
        let want = "flowchart TD\n  s0[\"prep<br/>container\"]\n  s1[\"eval<br/>container\"]\n  s2[\"ship<br/>container\"]\n  s0 -->|\"dataset\"| s1\n  s0 --> s2\n  s1 -.->|\"when label == #34;a\\#34;#60;b#62;#34;\"| s2\n";
        assert_eq!(render(&pipeline(), Format::Mermaid), want);
    }

    #[test]
    fn mermaid_highlight_outlines_named_steps() {
        assert_eq!(mermaid_highlight(&pipeline(), &["ship", "prep"]), "  classDef changed stroke:#d29922,stroke-width:3px\n  class s0,s2 changed\n");
        assert_eq!(mermaid_highlight(&pipeline(), &["nope"]), "");
    }

    #[test]
    fn dot_escapes_labels() {
        let want = "digraph \"demo-p\" {\n  node [shape=box];\n  \"prep\" [label=\"prep\\n(container)\"];\n  \"eval\" [label=\"eval\\n(container)\"];\n  \"ship\" [label=\"ship\\n(container)\"];\n  \"prep\" -> \"eval\" [label=\"dataset\"];\n  \"prep\" -> \"ship\";\n  \"eval\" -> \"ship\" [label=\"when label == \\\"a\\\\\\\"<b>\\\"\", style=dashed];\n}\n";
        assert_eq!(render(&pipeline(), Format::Dot), want);
    }
}
