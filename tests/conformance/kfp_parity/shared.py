"""Pieces the kfp DSL twins share: the pinned GCPC image and the helper tasks mlopsgen adds
around GCPC ops (the converter feeding ModelUploadOp, the endpoint importer, the retire task, the
best-trial task after a tuning job, the TensorBoard lookup before a training job and the task
publishing a metrics output as artifact metadata)."""
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


# The task after a tuning job returning the best trial's hyperparameters (src/targets/kubeflow/trials.rs).
BEST_TRIAL_SCRIPT = '''import json, os, sys
from google.cloud import aiplatform_v1 as v1
ex = json.loads(sys.argv[1])
uri = json.loads(ex["inputs"]["parameterValues"]["gcp_resources"])["resources"][0]["resourceUri"]
host, name = uri.split("https://", 1)[1].split("/v1/", 1)
client = v1.JobServiceClient(client_options={"api_endpoint": host})
job = v1.HyperparameterTuningJob.to_dict(client.get_hyperparameter_tuning_job(name=name))
spec = job["study_spec"]["metrics"][0]
def final(trial):
    return [m["value"] for m in trial["final_measurement"]["metrics"] if m["metric_id"] == spec["metric_id"]]
done = [t for t in job["trials"] if t["state"] == 4 and final(t)]
if not done:
    sys.exit("no trial of " + name + " succeeded with metric " + spec["metric_id"])
pick = max if spec["goal"] == 1 else min
best = pick(done, key=lambda t: final(t)[0])
values = {p["parameter_id"]: p["value"] for p in best["parameters"]}
print("best trial", best["id"], spec["metric_id"], final(best)[0], values)
for key, out in ex["outputs"]["parameters"].items():
    value = values[key]
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    os.makedirs(os.path.dirname(out["outputFile"]), exist_ok=True)
    with open(out["outputFile"], "w") as f:
        f.write(text)
'''

# The TensorBoard lookup before a training job (src/targets/kubeflow/jobs.rs).
TENSORBOARD_SCRIPT = '''import json, os, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
found = aiplatform.Tensorboard.list(filter='display_name="%s"' % p["display_name"], project=p["project"], location=p["location"])
if len(found) != 1:
    sys.exit("expected one TensorBoard named %r in %s/%s, found %d" % (p["display_name"], p["project"], p["location"], len(found)))
path = ex["outputs"]["parameters"]["tensorboard"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write(found[0].resource_name)
'''


@dsl.container_component
def find_tensorboard(display_name: str, location: str, project: str, tensorboard: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", TENSORBOARD_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


# The task publishing a metrics output as artifact metadata (src/targets/kubeflow/metrics.rs).
PUBLISH_SCRIPT = '''import json, os, sys
ex = json.loads(sys.argv[1])
source = ex["inputs"]["artifacts"]["source"]["artifacts"][0]
(name, outs), = ex["outputs"]["artifacts"].items()
out = outs["artifacts"][0]
with open(source["uri"].replace("gs://", "/gcs/", 1)) as f:
    data = json.load(f)
if isinstance(data.get("metrics"), list):
    data = {m["name"]: m["numberValue"] for m in data["metrics"]}
out["uri"] = source["uri"]
out["metadata"] = data
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"artifacts": {name: {"artifacts": [out]}}}, f)
'''


def publisher(output, artifact_class):
    """The publishing component of a step's metrics output `output` (its name is a parameter name,
    so the component is written out and defined here)."""
    text = (f"def publish(source: dsl.Input[cls], {output}: dsl.Output[cls]):\n"
            "    return dsl.ContainerSpec(image=GCPC_IMAGE, command=['python3', '-c', PUBLISH_SCRIPT],\n"
            "                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])\n")
    scope = {"dsl": dsl, "cls": artifact_class, "GCPC_IMAGE": GCPC_IMAGE, "PUBLISH_SCRIPT": PUBLISH_SCRIPT}
    exec(text, scope)
    return dsl.container_component(scope["publish"])
