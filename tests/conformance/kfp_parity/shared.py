"""Pieces the kfp DSL twins share: the pinned GCPC image and the two helper tasks mlopsgen adds
around GCPC ops (the converter feeding ModelUploadOp and the endpoint importer)."""
from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel, VertexEndpoint
from kfp import dsl

GCPC_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"

# The converter's program, as mlopsgen writes it (src/targets/kubeflow/models.rs).
UNMANAGED_MODEL_SCRIPT = '''import json, os, sys
ex = json.loads(sys.argv[1])
model = ex["inputs"]["artifacts"]["model"]["artifacts"][0]
out = ex["outputs"]["artifacts"]["unmanaged_container_model"]["artifacts"][0]
out["uri"] = model["uri"]
out["metadata"] = {"containerSpec": ex["inputs"]["parameterValues"]["container_spec"]}
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"artifacts": {"unmanaged_container_model": {"artifacts": [out]}}}, f)
'''


@dsl.container_component
def unmanaged_model(model: dsl.Input[dsl.Model], container_spec: dict,
                    unmanaged_container_model: dsl.Output[UnmanagedContainerModel]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", UNMANAGED_MODEL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The task after a deploy that undeploys models left at 0 % traffic (src/targets/kubeflow/models.rs).
RETIRE_SCRIPT = '''import json, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
resource = ex["inputs"]["artifacts"]["endpoint"]["artifacts"][0]["metadata"]["resourceName"]
endpoint = aiplatform.Endpoint(resource)
split = endpoint.traffic_split
for deployed in endpoint.list_models():
    if not split.get(deployed.id):
        print("undeploying", deployed.id, "(no traffic)")
        endpoint.undeploy(deployed_model_id=deployed.id)
'''


@dsl.container_component
def retire(endpoint: dsl.Input[VertexEndpoint]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", RETIRE_SCRIPT],
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
