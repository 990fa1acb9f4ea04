"""Pieces the kfp DSL twins share: the pinned GCPC image and the helper tasks mlopsgen adds
around GCPC ops (the converter feeding ModelUploadOp, the registry lookup, promotion, canary split,
the endpoint importer, the retire task, the best-trial task after a tuning job, the TensorBoard
lookup before a training job and the task publishing a metrics output as artifact metadata)."""
import re
from pathlib import Path

from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel, VertexEndpoint, VertexModel
from kfp import dsl

GCPC_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"
MODELS_RS = Path(__file__).resolve().parents[3] / "src" / "targets" / "kubeflow" / "models.rs"


def program(name):
    """A helper task's Python program, read from the Rust constant mlopsgen writes it from (the
    program text is mlopsgen's own; parity checks where the tasks sit and what they are wired to)."""
    found = re.search(rf'const {name}: &str = r#"(.*?)"#;', MODELS_RS.read_text(), re.S)
    if not found:
        raise SystemExit(f"{MODELS_RS}: no constant {name}")
    return found.group(1)


# The converter's program, as mlopsgen writes it (src/targets/kubeflow/models.rs).
UNMANAGED_MODEL_SCRIPT = program("UNMANAGED_MODEL_SCRIPT")


@dsl.container_component
def unmanaged_model(model: dsl.Input[dsl.Model], container_spec: dict,
                    unmanaged_container_model: dsl.Output[UnmanagedContainerModel]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", UNMANAGED_MODEL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The task after a deploy that undeploys models left at 0 % traffic (src/targets/kubeflow/models.rs).
RETIRE_SCRIPT = program("RETIRE_SCRIPT")


@dsl.container_component
def retire(endpoint: dsl.Input[VertexEndpoint]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", RETIRE_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The registry lookup before an upload (its parent_model) or a batch prediction by alias
# (src/targets/kubeflow/models.rs).
FIND_MODEL_SCRIPT = program("FIND_MODEL_SCRIPT")


@dsl.container_component
def find_model(alias: str, display_name: str, location: str, project: str, model: dsl.Output[VertexModel]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", FIND_MODEL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The same lookup of a version by alias, which also says whether one holds the alias; the steps
# reading the version run under `dsl.If(found == True)`.
@dsl.container_component
def find_version(alias: str, display_name: str, location: str, project: str, model: dsl.Output[VertexModel],
                 found: dsl.OutputPath(bool)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", FIND_MODEL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The model_promote step's program (src/targets/kubeflow/models.rs).
PROMOTE_SCRIPT = program("PROMOTE_SCRIPT")


@dsl.container_component
def promote(model: dsl.Input[VertexModel], metric: float, alias: str, goal: str, lock_root: str, lease_seconds: int, run: str,
            stage: str, promoted: dsl.OutputPath(bool), lock_generation: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", PROMOTE_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The same program's last stage: it moves the alias after the steps that run on the promotion.
@dsl.container_component
def move_alias(model: dsl.Input[VertexModel], metric: float, alias: str, goal: str, lock_root: str, lock_generation: str, stage: str):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", PROMOTE_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# A canary deploy's traffic split (src/targets/kubeflow/models.rs).
SPLIT_SCRIPT = program("SPLIT_SCRIPT")


@dsl.container_component
def canary_split(endpoint: dsl.Input[VertexEndpoint], percent: int, traffic_split: dsl.OutputPath(dict)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", SPLIT_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


def container_spec(image, port, health, predict):
    return {"healthRoute": health, "imageUri": image, "ports": [{"containerPort": port}], "predictRoute": predict}


def endpoint_importer(region, project, endpoint_id):
    resource = f"projects/{project}/locations/{region}/endpoints/{endpoint_id}"
    return dsl.importer(artifact_uri=f"https://{region}-aiplatform.googleapis.com/v1/{resource}",
                        artifact_class=VertexEndpoint, metadata={"resourceName": resource})


def validator(image, dataset_uri):
    """The data_validation step's component (its CLI contract is in src/targets/kubeflow/container.rs)."""

    @dsl.container_component
    def validate(dataset: dsl.Output[dsl.Dataset], metrics: dsl.Output[dsl.Metrics], report: dsl.Output[dsl.Markdown]):
        return dsl.ContainerSpec(image=image, args=["--dataset", dataset_uri, "--report", report.path,
                                                    "--metrics", metrics.path, "--dataset-out", dataset.path,
                                                    "--executor-input", dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])

    return validate


def rust_script(module, name):
    """A helper task's program, read from the Rust source that emits it (`pub const NAME: &str =
    r#"..."#;` in src/targets/kubeflow/<module>), so the twin runs exactly what mlopsgen writes."""
    source = (Path(__file__).resolve().parents[3] / "src/targets/kubeflow" / module).read_text()
    found = re.search(r'pub const ' + name + r': &str = r#"(.*?)"#;', source, re.S)
    if not found:
        raise LookupError(f"{name} not in src/targets/kubeflow/{module}")
    return found.group(1)


# The task after a tuning job returning the best trial's hyperparameters (src/targets/kubeflow/trials.rs).
BEST_TRIAL_SCRIPT = rust_script("trials.rs", "BEST_TRIAL_SCRIPT")

# The TensorBoard lookup before a training job (src/targets/kubeflow/jobs.rs).
TENSORBOARD_SCRIPT = rust_script("jobs.rs", "TENSORBOARD_SCRIPT")


@dsl.container_component
def find_tensorboard(display_name: str, location: str, project: str, tensorboard: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", TENSORBOARD_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The task publishing a metrics output as artifact metadata (src/targets/kubeflow/metrics.rs).
PUBLISH_SCRIPT = rust_script("metrics.rs", "PUBLISH_SCRIPT")


def publisher(output, artifact_class):
    """The publishing component of a step's metrics output `output` (its name is a parameter name,
    so the component is written out and defined here)."""
    text = (f"def publish(source: dsl.Input[cls], {output}: dsl.Output[cls]):\n"
            "    return dsl.ContainerSpec(image=GCPC_IMAGE, command=['python3', '-c', PUBLISH_SCRIPT],\n"
            "                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])\n")
    scope = {"dsl": dsl, "cls": artifact_class, "GCPC_IMAGE": GCPC_IMAGE, "PUBLISH_SCRIPT": PUBLISH_SCRIPT}
    exec(text, scope)
    return dsl.container_component(scope["publish"])
