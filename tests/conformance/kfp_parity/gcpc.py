"""kfp DSL twin of specs/gcpc.yaml (environment dev)."""
from google.cloud.aiplatform import hyperparameter_tuning as hpt
from google_cloud_pipeline_components.v1.batch_predict_job import ModelBatchPredictOp
from google_cloud_pipeline_components.v1.custom_job import create_custom_training_job_from_component
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.hyperparameter_tuning_job import (
    HyperparameterTuningJobRunOp, serialize_metrics, serialize_parameters)
from google_cloud_pipeline_components.v1.model import ModelUploadOp
from kfp import dsl

from shared import canary_split, container_spec, endpoint_importer, find_model, publisher, retire, unmanaged_model, validator

ENV = "dev"
PROJECT, REGION = "acme-par-dev", "us-central1"
REPO = f"{REGION}-docker.pkg.dev/{PROJECT}/par-images"
LABELS = {"env": "dev", "managed-by": "mlopsgen", "tier": "test"}
TRAINING_SA = f"par-training@{PROJECT}.iam.gserviceaccount.com"
SERVING_SA = f"par-serving@{PROJECT}.iam.gserviceaccount.com"
PIPELINES_SA = f"par-pipelines@{PROJECT}.iam.gserviceaccount.com"
ROOT = "gs://acme-par-dev-artifacts/pipeline-root/vertex"
RUN = "{{$.pipeline_job_uuid}}"  # dsl.PIPELINE_JOB_ID_PLACEHOLDER
ENDPOINT_ID = 303404158  # mlopsgen derives it from the project and endpoint names


@dsl.container_component
def fit(rows: dsl.Input[dsl.Dataset], lr: float, model: dsl.Output[dsl.Model], loss: dsl.Output[dsl.Metrics]):
    return dsl.ContainerSpec(image=f"{REPO}/trainer:dev", command=["python", "-m", "trainer"],
                             args=["fit", "--rows", rows.path, "--lr", lr, "--model", model.path, "--loss", loss.path])


fit_job = create_custom_training_job_from_component(
    fit, display_name="par-vertex-fit", replica_count=3, machine_type="n1-standard-8",
    accelerator_type="NVIDIA_TESLA_T4", accelerator_count=2, service_account=TRAINING_SA, labels=LABELS,
    env=[{"name": "OMP_NUM_THREADS", "value": "4"}])


@dsl.pipeline(name="par-vertex", pipeline_root=ROOT)
def vertex(data: str, lr: float = 0.1):
    prepare = validator(f"{REPO}/validator:dev", f"bq://{PROJECT}.par.rows")().set_display_name("prepare").set_caching_options(False)
    pool = {"container_spec": {"args": ["--data", data, f"--base-lr={lr}"], "command": ["python", "-m", "tune"],
                               "image_uri": f"{REPO}/trainer:dev"},
            "machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
    tune = HyperparameterTuningJobRunOp(
        display_name="par-vertex-tune", base_output_directory=f"{ROOT}/{RUN}/tune", worker_pool_specs=[pool, pool],
        study_spec_metrics=serialize_metrics({"loss": "minimize"}),
        study_spec_parameters=serialize_parameters({
            "batch": hpt.DiscreteParameterSpec(values=[16, 32, 64], scale="linear"),
            "dropout": hpt.DoubleParameterSpec(min=0, max=0.5, scale="linear"),
            "optimizer": hpt.CategoricalParameterSpec(values=["adam", "sgd"]),
            "width": hpt.IntegerParameterSpec(min=8, max=512, scale="log"),
        }),
        max_trial_count=12, parallel_trial_count=3, service_account=TRAINING_SA, project=PROJECT, location=REGION,
    ).set_display_name("tune").set_caching_options(False).after(prepare)
    trained = fit_job(rows=prepare.outputs["dataset"], lr=lr, base_output_directory=f"{ROOT}/{RUN}/fit")
    trained.set_display_name("fit").after(tune)
    publisher("loss", dsl.Metrics)(source=trained.outputs["loss"]).set_display_name("fit-loss")
    convert = unmanaged_model(model=trained.outputs["model"],
                              container_spec=container_spec(f"{REPO}/server:dev", 9000, "/healthz", "/v1/predict"))
    convert.set_display_name("register-unmanaged-model").set_caching_options(False)
    parent = find_model(alias="", display_name="par-ranker", location=REGION, project=PROJECT)
    parent.set_display_name("register-parent").set_caching_options(False)
    register = ModelUploadOp(
        display_name="par-ranker", parent_model=parent.outputs["model"],
        unmanaged_container_model=convert.outputs["unmanaged_container_model"],
        labels=LABELS, project=PROJECT, location=REGION, version_aliases=["candidate", "nightly"],
        explanation_parameters={"integratedGradientsAttribution": {"stepCount": 25}},
        explanation_metadata={"inputs": {"id": {}}, "outputs": {"score": {}}},
    ).set_display_name("register").set_caching_options(False)
    endpoint = endpoint_importer(REGION, PROJECT, ENDPOINT_ID).set_display_name("serve-endpoint").set_caching_options(False)
    split = canary_split(endpoint=endpoint.outputs["artifact"], percent=25).set_display_name("serve-split").set_caching_options(False)
    deployed = ModelDeployOp(
        model=register.outputs["model"], endpoint=endpoint.outputs["artifact"],
        dedicated_resources_machine_type="g2-standard-8", dedicated_resources_accelerator_type="NVIDIA_L4",
        dedicated_resources_accelerator_count=1, dedicated_resources_min_replica_count=2,
        dedicated_resources_max_replica_count=5, traffic_split=split.outputs["traffic_split"], service_account=SERVING_SA,
    ).set_display_name("serve").set_retry(2).set_caching_options(False)
    retire(endpoint=endpoint.outputs["artifact"]).set_display_name("serve-retire").set_caching_options(False).after(deployed)
    ModelBatchPredictOp(
        job_display_name="par-vertex-score", model=register.outputs["model"], instances_format="bigquery",
        bigquery_source_input_uri=f"bq://{PROJECT}.par.rows", predictions_format="bigquery",
        bigquery_destination_output_uri=f"bq://{PROJECT}.par_scores",
        machine_type="n1-highmem-4", max_replica_count=6, labels=LABELS, project=PROJECT, location=REGION,
        service_account=PIPELINES_SA,
    ).set_display_name("score").set_caching_options(False)


PIPELINES = {"vertex": vertex}
