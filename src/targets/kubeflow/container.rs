//! Container steps: component interfaces, executors with placeholder-rendered args, env and
//! resources, and the data-validation step that runs the validator image.

use super::bug;
use super::ir::{self, ArtifactSpec, ComponentSpec, EnvVar, ExecutorSpec, Interface, ParameterSpec, TypeSchema};
use super::plan::{Ctx, PlannedTask};
use crate::model::component::Component;
use crate::model::{Arg, ArgPart, Container, DataSource, IoType, ParamType, Resources, Step};
use crate::targets::TargetError;

/// The IR name of a parameter type.
pub fn parameter_type(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "STRING",
        ParamType::Int => "NUMBER_INTEGER",
        ParamType::Float => "NUMBER_DOUBLE",
        ParamType::Bool => "BOOLEAN",
        ParamType::List => "LIST",
        ParamType::Struct => "STRUCT",
    }
}

/// Adds a typed entry to an interface.
pub fn declare(interface: &mut Interface, name: &str, ty: IoType) {
    match ty {
        IoType::Parameter(p) => {
            interface.parameters.insert(name.to_owned(), ParameterSpec::of(parameter_type(p)));
        }
        IoType::Artifact(a) => {
            interface
                .artifacts
                .insert(name.to_owned(), ArtifactSpec { artifact_type: TypeSchema::titled(a.schema_title()), is_optional: false });
        }
    }
}

/// A component declaring the step's inputs and outputs.
pub fn step_component(step: &Step) -> ComponentSpec {
    let mut component = ComponentSpec::default();
    for i in &step.inputs {
        declare(&mut component.input_definitions, &i.name, i.ty);
    }
    for o in &step.outputs {
        declare(&mut component.output_definitions, &o.name, o.ty);
    }
    component
}

/// The placeholder a container uses for a templated reference: input parameters by value,
/// artifacts by local path, output parameters by the file to write.
pub fn placeholder(step: &Step, part: &ArgPart) -> Result<String, TargetError> {
    let missing = |what: &str, name: &str| bug(format!("step `{}` has no {what} `{name}`", step.name));
    Ok(match part {
        ArgPart::Text(text) => text.clone(),
        ArgPart::Param(name) | ArgPart::Input(name) => match step.input(name).ok_or_else(|| missing("input", name))?.ty {
            IoType::Parameter(_) => format!("{{{{$.inputs.parameters['{name}']}}}}"),
            IoType::Artifact(_) => format!("{{{{$.inputs.artifacts['{name}'].path}}}}"),
        },
        ArgPart::Output(name) => match step.output(name).ok_or_else(|| missing("output", name))?.ty {
            IoType::Parameter(_) => format!("{{{{$.outputs.parameters['{name}'].output_file}}}}"),
            IoType::Artifact(_) => format!("{{{{$.outputs.artifacts['{name}'].path}}}}"),
        },
    })
}

/// Renders args: each becomes one string with its placeholders inline, as an f-string
/// argument does in kfp's DSL. Literal text goes through [`qualify_tables`]; `render` renders
/// the references.
pub fn render_args(
    ctx: &Ctx<'_>,
    args: &[Arg],
    mut render: impl FnMut(&ArgPart) -> Result<String, TargetError>,
) -> Result<Vec<String>, TargetError> {
    let mut part = |p: &ArgPart| match p {
        ArgPart::Text(text) => Ok(qualify_tables(ctx, text)),
        reference => render(reference),
    };
    args.iter().map(|arg| arg.0.iter().map(&mut part).collect::<Result<String, _>>()).collect()
}

/// Writes a declared BigQuery dataset's `bq://dataset.table` as the environment's
/// `bq://project.dataset.table`, the URI every other step (validation, batch prediction) uses,
/// so a step reads the table of the project it runs in (the short form would leave the project
/// to whatever client default the container has). A table of another project is written in full
/// already.
fn qualify_tables(ctx: &Ctx<'_>, text: &str) -> String {
    let mut out = text.to_owned();
    for data in &ctx.model.datasets {
        let DataSource::BigQuery { project: None, dataset, table } = &data.source else { continue };
        let short = format!("bq://{dataset}.{table}");
        let full = ctx.env.dataset_uri(data);
        let mut rewritten = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&short) {
            let after = &rest[at + short.len()..];
            let whole = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            rewritten.push_str(&rest[..at]);
            rewritten.push_str(if whole { &full } else { &short });
            rest = after;
        }
        rewritten.push_str(rest);
        out = rewritten;
    }
    out
}

/// Wires every step input from its source.
pub fn wire_inputs(ctx: &Ctx<'_>, step: &Step, task: &mut PlannedTask) -> Result<(), TargetError> {
    for i in &step.inputs {
        task.inputs.insert(i.name.clone(), ctx.source(step, &i.name)?);
    }
    Ok(())
}

/// The user container's environment, sorted by name, with `{{buckets.x}}`-style names resolved
/// for this environment. A variable that takes a secret holds the secret version's resource name
/// (`projects/P/secrets/S/versions/V`), never its value: Vertex AI custom jobs have no secret
/// environment variables (`ContainerSpec.env` is name/value only,
/// https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec#containerspec), so
/// the step reads the value at run time (`AccessSecretVersion`) with the accessor grant its
/// identity gets for that secret (README, "Secrets").
pub fn env_vars(ctx: &Ctx<'_>, container: &Container) -> Vec<EnvVar> {
    use crate::model::access::{resolve_env, secret_version};
    let mut vars: Vec<EnvVar> = container
        .env
        .iter()
        .map(|(name, value)| EnvVar { name: name.clone(), value: resolve_env(ctx.model, ctx.env, value) })
        .collect();
    vars.extend(container.access.secret_env.iter().map(|(name, s)| EnvVar { name: name.clone(), value: secret_version(ctx.env, s) }));
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    vars
}

/// A `container` step.
pub fn container_step(
    ctx: &Ctx<'_>,
    step: &Step,
    container: &Container,
    resources: &Resources,
) -> Result<PlannedTask, TargetError> {
    let executor = ir::Container {
        args: render_args(ctx, &container.args, |p| placeholder(step, p))?,
        command: container.command.clone(),
        env: env_vars(ctx, container),
        image: ctx.env.image_ref(&container.image),
        resources: container_resources(resources)?,
    };
    let key = ctx.task_of(&step.name)?.to_owned();
    let mut task = PlannedTask::new(&key, step, step_component(step), ExecutorSpec::Container(executor));
    wire_inputs(ctx, step, &mut task)?;
    Ok(task)
}

/// A `component` step: the component file's interface and container, as kfp writes a component
/// loaded with `components.load_component_from_file` (defaults as `google.protobuf.Value`s,
/// `isOptional` as kfp decided it, no descriptions); only the inputs the step sets are wired,
/// the rest keep their defaults. An `image` from `images` replaces the file's image (as assigning
/// `component_spec.implementation.container.image` on the loaded component does in kfp).
pub fn component_step(ctx: &Ctx<'_>, step: &Step, component: &Component, image: Option<&str>) -> Result<PlannedTask, TargetError> {
    let mut interface = ComponentSpec::default();
    for i in &component.inputs {
        declare(&mut interface.input_definitions, &i.name, i.ty);
        if let Some(p) = interface.input_definitions.parameters.get_mut(&i.name) {
            p.default_value = i.default.as_ref().map(super::json::proto_value);
            p.is_optional = i.optional;
        }
        if let Some(a) = interface.input_definitions.artifacts.get_mut(&i.name) {
            a.is_optional = i.optional;
        }
    }
    for o in &component.outputs {
        declare(&mut interface.output_definitions, &o.name, o.ty);
    }
    let c = &component.container;
    let executor = ir::Container {
        args: c.args.clone(),
        command: c.command.clone(),
        env: c.env.iter().map(|(name, value)| EnvVar { name: name.clone(), value: value.clone() }).collect(),
        image: image.map_or_else(|| c.image.clone(), |key| ctx.env.image_ref(key)),
        resources: None,
    };
    let key = ctx.task_of(&step.name)?.to_owned();
    let mut task = PlannedTask::new(&key, step, interface, ExecutorSpec::Container(executor));
    wire_inputs(ctx, step, &mut task)?;
    Ok(task)
}

/// A `data_validation` step: the validator image checks the dataset against its contract.
///
/// The validator's command-line contract (the validator image implements it):
///
/// ```text
/// <entrypoint> --dataset URI --report PATH --metrics PATH --dataset-out PATH --executor-input {{$}}
/// ```
///
/// - `--dataset`: the dataset to check, `bq://project.dataset.table` or a `gs://` URI or glob;
/// - `--report`: write a Markdown report of every check (the `report` output, `system.Markdown`);
/// - `--metrics`: write KFP metrics JSON (`{"metrics": [{"name": …, "numberValue": …}]}`) such
///   as row count and failed checks (the `metrics` output, `system.Metrics`);
/// - `--dataset-out`: create this directory and write the validated rows into it as files (the
///   `dataset` output, `system.Dataset`, which later steps read);
/// - `--executor-input`: the executor input (`{{$}}`, as kfp's own components take it); the
///   validator writes the metrics as the `metrics` artifact's metadata into the executor output
///   file it names, which is what the Vertex AI console shows as the step's metrics;
/// - exit non-zero when the data breaks its contract, so the pipeline stops there.
///
/// The column contract comes with the image, keyed by the dataset's URI.
pub fn validation_step(ctx: &Ctx<'_>, step: &Step, dataset: &str) -> Result<PlannedTask, TargetError> {
    let dataset = ctx.model.dataset(dataset).ok_or_else(|| bug(format!("no dataset `{dataset}`")))?;
    let out = |name: &str| format!("{{{{$.outputs.artifacts['{name}'].path}}}}");
    let executor = ir::Container {
        args: vec![
            "--dataset".into(),
            ctx.env.dataset_uri(dataset),
            "--report".into(),
            out("report"),
            "--metrics".into(),
            out("metrics"),
            "--dataset-out".into(),
            out("dataset"),
            "--executor-input".into(),
            ir::EXECUTOR_INPUT.into(),
        ],
        image: ctx.env.image_ref(crate::model::naming::VALIDATOR_IMAGE),
        ..ir::Container::default()
    };
    let key = ctx.task_of(&step.name)?.to_owned();
    let mut task = PlannedTask::new(&key, step, step_component(step), ExecutorSpec::Container(executor));
    wire_inputs(ctx, step, &mut task)?;
    Ok(task)
}

/// Resources in both forms kfp writes (`set_cpu_limit`, `set_memory_limit`,
/// `set_accelerator_type` + `set_accelerator_limit`).
fn container_resources(r: &Resources) -> Result<Option<ir::Resources>, TargetError> {
    if r.cpu.is_none() && r.memory.is_none() && r.accelerator.is_none() {
        return Ok(None);
    }
    let bad = |what: &str, v: &str| bug(format!("invalid {what} `{v}` (validation should have caught it)"));
    Ok(Some(ir::Resources {
        accelerator: r.accelerator.as_ref().map(|a| ir::AcceleratorConfig {
            count: a.count.to_string(),
            resource_count: a.count.to_string(),
            resource_type: a.ty.clone(),
            ty: a.ty.clone(),
        }),
        cpu_limit: r.cpu.as_deref().map(|c| cpu_cores(c).ok_or_else(|| bad("cpu", c))).transpose()?,
        memory_limit: r.memory.as_deref().map(|m| memory_gb(m).ok_or_else(|| bad("memory", m))).transpose()?,
        resource_cpu_limit: r.cpu.clone(),
        resource_memory_limit: r.memory.clone(),
    }))
}

/// kfp's `_cpu_to_float`: `500m` → 0.5, `4` → 4.0.
pub fn cpu_cores(cpu: &str) -> Option<f64> {
    match cpu.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => cpu.parse().ok(),
    }
}

/// kfp's `_memory_to_float`: the limit in GB (10⁹ bytes), same operation order.
pub fn memory_gb(memory: &str) -> Option<f64> {
    const UNITS: [(&str, f64); 12] = [
        ("Ei", (1u64 << 60) as f64),
        ("Pi", (1u64 << 50) as f64),
        ("Ti", (1u64 << 40) as f64),
        ("Gi", (1u64 << 30) as f64),
        ("Mi", (1u64 << 20) as f64),
        ("Ki", (1u64 << 10) as f64),
        ("E", 1e18),
        ("P", 1e15),
        ("T", 1e12),
        ("G", 1e9),
        ("M", 1e6),
        ("K", 1e3),
    ];
    for (suffix, bytes) in UNITS {
        if let Some(n) = memory.strip_suffix(suffix) {
            let n: f64 = n.parse().ok()?;
            return Some(if suffix == "G" { n } else { n * bytes / 1e9 });
        }
    }
    memory.parse::<f64>().ok().map(|b| b / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_numbers_match_kfp() {
        assert_eq!(cpu_cores("500m"), Some(0.5));
        assert_eq!(cpu_cores("4"), Some(4.0));
        assert_eq!(memory_gb("16G"), Some(16.0));
        assert_eq!(memory_gb("16Gi"), Some(17.179869184));
        assert_eq!(memory_gb("512Mi"), Some(0.536870912));
        assert_eq!(memory_gb("1000"), Some(1e-6));
        assert_eq!(memory_gb("x"), None);
    }
}
