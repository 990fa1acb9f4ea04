"""Pieces the kfp DSL twins share: the pinned GCPC image and the two helper tasks mlopsgen adds
around GCPC ops (the converter feeding ModelUploadOp and the endpoint importer)."""
from google_cloud_pipeline_components.types.artifact_types import UnmanagedContainerModel, VertexEndpoint, VertexModel
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


# The registry lookup before an upload (its parent_model) or a batch prediction by alias
# (src/targets/kubeflow/models.rs).
FIND_MODEL_SCRIPT = r'''import json, os, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
name = p["display_name"].replace("\\", "\\\\").replace('"', '\\"')
found = aiplatform.Model.list(filter='display_name="%s"' % name, order_by="create_time", project=p["project"], location=p["location"])
out = ex["outputs"]["artifacts"]["model"]["artifacts"][0]
if not found:
    if p["alias"]:
        sys.exit("no registry model %r yet: run the pipeline that uploads it first" % p["display_name"])
    print("no registry model %r yet: this upload creates it" % p["display_name"])
    resource = ""
else:
    resource = found[0].resource_name
    if p["alias"]:
        resource += "@" + p["alias"]
        aiplatform.Model(model_name=resource)
    out["uri"] = "https://%s-aiplatform.googleapis.com/v1/%s" % (p["location"], resource)
print("registry model:", resource or "(none)")
out["metadata"] = {"resourceName": resource}
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"artifacts": {"model": {"artifacts": [out]}}}, f)
'''


@dsl.container_component
def find_model(alias: str, display_name: str, location: str, project: str, model: dsl.Output[VertexModel]):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", FIND_MODEL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The model_promote step's program (src/targets/kubeflow/models.rs).
PROMOTE_SCRIPT = r'''import json, os, sys
from google.api_core import exceptions
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
version = ex["inputs"]["artifacts"]["model"]["artifacts"][0]["metadata"]["resourceName"]
model, version_id = version.rsplit("@", 1)
alias, goal, metric = p["alias"], p["goal"], p.get("metric")
LABEL = "mlopsgen-metric"
promote = True
if goal:
    try:
        holder = aiplatform.Model(model_name=model + "@" + alias)
    except exceptions.NotFound:
        holder = None
    recorded = (holder.labels or {}).get(LABEL) if holder else None
    if holder is None:
        print("no version holds %r yet" % alias)
    elif recorded is None:
        print("version %s holds %r without a recorded metric; keeping it" % (holder.version_id, alias))
        promote = False
    else:
        best = float(recorded.replace("_", "."))
        promote = metric > best if goal == "maximize" else metric < best
        print("candidate %r vs %r of version %s: %s" % (metric, best, holder.version_id, "promote" if promote else "keep"))
if promote:
    aiplatform.models.ModelRegistry(model).add_version_aliases([alias], version_id)
    if goal:
        promoted = aiplatform.Model(model_name=version)
        labels = dict(promoted.labels or {})
        labels[LABEL] = repr(float(metric)).lower().replace(".", "_").replace("+", "")
        promoted.update(labels=labels)
path = ex["outputs"]["parameters"]["promoted"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write("true" if promote else "false")
'''


@dsl.container_component
def promote(model: dsl.Input[VertexModel], metric: float, alias: str, goal: str, promoted: dsl.OutputPath(bool)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", PROMOTE_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# A canary deploy's traffic split (src/targets/kubeflow/models.rs).
SPLIT_SCRIPT = r'''import json, os, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
resource = ex["inputs"]["artifacts"]["endpoint"]["artifacts"][0]["metadata"]["resourceName"]
percent = int(ex["inputs"]["parameterValues"]["percent"])
serving = {k: v for k, v in aiplatform.Endpoint(resource).traffic_split.items() if v}
if serving:
    keep = max(sorted(serving), key=lambda k: serving[k])
    split = {"0": percent, keep: 100 - percent}
else:
    split = {"0": 100}
print("traffic split:", split)
path = ex["outputs"]["parameters"]["traffic_split"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(split, f)
'''


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
