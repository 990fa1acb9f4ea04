"""kfp DSL twin of the repository's specs/flagship.yaml (environment dev, with dev's overrides: smaller tuning and training)."""
from pathlib import Path

from google.cloud.aiplatform import hyperparameter_tuning as hpt
from google_cloud_pipeline_components.v1.batch_predict_job import ModelBatchPredictOp
from google_cloud_pipeline_components.v1.custom_job import create_custom_training_job_from_component
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.hyperparameter_tuning_job import (
    HyperparameterTuningJobRunOp, serialize_metrics, serialize_parameters)
from google_cloud_pipeline_components.v1.model import ModelUploadOp
from kfp import components, dsl

from shared import (BEST_TRIAL_SCRIPT, GCPC_IMAGE, container_spec, endpoint_importer, find_model, find_tensorboard, find_version,
                    move_alias, promote, publisher, retire, unmanaged_model, validator)

ENV = "dev"
# The flagship's `component` step: kfp loads the same file mlopsgen reads.
COMPONENT_FILE = Path(__file__).resolve().parents[3] / "specs/components/profile/component.yaml"
PROFILE = components.load_component_from_file(str(COMPONENT_FILE))
PROJECT, REGION = "acme-churn-dev", "europe-west4"
REPO = f"{REGION}-docker.pkg.dev/{PROJECT}/churn-images"
TRAINER, SERVER = f"{REPO}/trainer:dev", f"{REPO}/server:dev"
LABELS = {"cost-center": "retention", "env": "dev", "managed-by": "mlopsgen", "team": "ml-platform"}
TRAINING_SA = f"churn-training@{PROJECT}.iam.gserviceaccount.com"
SERVING_SA = f"churn-serving@{PROJECT}.iam.gserviceaccount.com"
PIPELINES_SA = f"churn-pipelines@{PROJECT}.iam.gserviceaccount.com"
ROOT = "gs://acme-churn-dev-artifacts/pipeline-root"
LOCKS = "gs://acme-churn-dev-artifacts/promotion-locks"  # the registry models' promotion locks
RUN = "{{$.pipeline_job_uuid}}"  # dsl.PIPELINE_JOB_ID_PLACEHOLDER: each run's jobs write under their own directory
ENDPOINT_ID = 178338283  # mlopsgen derives it from the project and endpoint names
SERVING = container_spec(SERVER, 8080, "/health", "/predict")


@dsl.container_component
def train(data: dsl.Input[dsl.Dataset], learning_rate: float, max_depth: int,
          model: dsl.Output[dsl.Model], metrics: dsl.Output[dsl.Metrics]):
    return dsl.ContainerSpec(image=TRAINER, command=["python", "-m", "trainer"], args=[
        "train", "--data", data.path, "--lr", learning_rate, "--max-depth", max_depth,
        "--model", model.path, "--metrics", metrics.path])


@dsl.container_component
def best_trial(gcp_resources: str, learning_rate: dsl.OutputPath(float), max_depth: dsl.OutputPath(int)):
    return dsl.ContainerSpec(image=GCPC_IMAGE, command=["python3", "-c", BEST_TRIAL_SCRIPT],
                             args=[dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


train_job = create_custom_training_job_from_component(
    train, display_name="churn-training-train", machine_type="n1-standard-4",  # dev's override: no accelerator
    service_account=TRAINING_SA, labels=LABELS,
    env=[{"name": "CUSTOMERS_TABLE", "value": f"bq://{PROJECT}.churn.customers"}])


@dsl.container_component
def evaluate(model: dsl.Input[dsl.Model], data: dsl.Input[dsl.Dataset], auc: dsl.OutputPath(float),
             report: dsl.Output[dsl.ClassificationMetrics]):
    return dsl.ContainerSpec(image=TRAINER, command=["python", "-m", "trainer"], args=[
        "evaluate", "--model", model.path, "--data", data.path, "--auc", auc, "--report", report.path])


def lookup(name, alias):
    find = find_version if alias else find_model
    return find(alias=alias, display_name="churn-churn", location=REGION, project=PROJECT).set_display_name(name).set_caching_options(False)


def upload(name, model):
    parent = lookup(f"{name}-parent", "")
    convert = unmanaged_model(model=model, container_spec=SERVING).set_display_name(f"{name}-unmanaged-model").set_caching_options(False)
    return ModelUploadOp(
        display_name="churn-churn", description="Gradient-boosted churn classifier.", parent_model=parent.outputs["model"],
        unmanaged_container_model=convert.outputs["unmanaged_container_model"], labels=LABELS,
        project=PROJECT, location=REGION, explanation_parameters={"sampledShapleyAttribution": {"pathCount": 10}},
        explanation_metadata={"inputs": {"monthly_charges": {}, "plan": {}, "tenure_months": {}},
                              "outputs": {"churn_probability": {}}},
        **({"version_aliases": ["challenger"]} if name == "register" else {}),
    ).set_display_name(name).set_caching_options(False)


@dsl.pipeline(name="churn-training", pipeline_root=f"{ROOT}/training",
              description="Validate the customer table, tune, train, evaluate, register and deploy if good enough.")
def training(min_auc: float = 0.8):
    """Validate the customer table, tune, train, evaluate, register and deploy if good enough.

    Args:
      min_auc: Deploy only above this AUC.
    """
    validate = validator(f"{REPO}/validator:dev", f"bq://{PROJECT}.churn.customers")().set_display_name("validate").set_caching_options(False)
    PROFILE(data=validate.outputs["dataset"]).set_display_name("profile")
    pool = {"container_spec": {"args": ["tune", "--data", f"bq://{PROJECT}.churn.customers"], "command": ["python", "-m", "trainer"],
                               "image_uri": TRAINER},
            "machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
    tune = HyperparameterTuningJobRunOp(
        display_name="churn-training-tune", base_output_directory=f"{ROOT}/training/{RUN}/tune", worker_pool_specs=[pool],
        study_spec_metrics=serialize_metrics({"auc": "maximize"}),
        study_spec_parameters=serialize_parameters({
            "learning_rate": hpt.DoubleParameterSpec(min=0.001, max=0.3, scale="log"),
            "max_depth": hpt.IntegerParameterSpec(min=3, max=10, scale="linear"),
        }),
        max_trial_count=4, parallel_trial_count=2, service_account=TRAINING_SA, project=PROJECT, location=REGION,
    ).set_display_name("tune").set_caching_options(False).after(validate)
    best = best_trial(gcp_resources=tune.outputs["gcp_resources"])
    best.set_display_name("tune-best").set_caching_options(False)
    board = find_tensorboard(display_name="churn", location=REGION, project=PROJECT)
    board.set_display_name("train-tensorboard").set_caching_options(False)
    trained = train_job(data=validate.outputs["dataset"], learning_rate=best.outputs["learning_rate"],
                        max_depth=best.outputs["max_depth"], base_output_directory=f"{ROOT}/training/{RUN}/train",
                        tensorboard=board.outputs["tensorboard"])
    trained.set_display_name("train").set_retry(2)
    publisher("metrics", dsl.Metrics)(source=trained.outputs["metrics"]).set_display_name("train-metrics")
    ev = evaluate(model=trained.outputs["model"], data=validate.outputs["dataset"]).set_display_name("evaluate")
    ev.set_env_variable("REPORT_WEBHOOK_SECRET", f"projects/{PROJECT}/secrets/report-webhook-url/versions/latest")
    ev.set_cpu_limit("4").set_memory_limit("16G")
    publisher("report", dsl.ClassificationMetrics)(source=ev.outputs["report"]).set_display_name("evaluate-report")
    with dsl.If(ev.outputs["auc"] >= min_auc, name="evaluate.auc >= params.min_auc"):
        register = upload("register", trained.outputs["model"])
        promoted = promote(model=register.outputs["model"], metric=ev.outputs["auc"], alias="champion", goal="maximize",
                           lock_root=LOCKS, lease_seconds=7200, run=f"{RUN}/promote", stage="decide")
        promoted.set_display_name("promote").set_caching_options(False)
        with dsl.If(promoted.outputs["promoted"] == True, name="promote.promoted == true"):  # noqa: E712 (kfp's DSL)
            endpoint = endpoint_importer(REGION, PROJECT, ENDPOINT_ID).set_display_name("deploy-endpoint").set_caching_options(False)
            deployed = ModelDeployOp(
                model=register.outputs["model"], endpoint=endpoint.outputs["artifact"],
                dedicated_resources_machine_type="n1-standard-4", dedicated_resources_min_replica_count=1,
                dedicated_resources_max_replica_count=3, traffic_split={"0": 100}, service_account=SERVING_SA,
            ).set_display_name("deploy").set_caching_options(False)
            retire(endpoint=endpoint.outputs["artifact"]).set_display_name("deploy-retire").set_caching_options(False).after(deployed)
            moved = move_alias(model=register.outputs["model"], metric=ev.outputs["auc"], alias="champion", goal="maximize",
                               lock_root=LOCKS, lock_generation=promoted.outputs["lock_generation"], stage="move")
            moved.set_display_name("promote-move-alias").set_caching_options(False).after(endpoint, deployed)


@dsl.pipeline(name="churn-scoring", pipeline_root=f"{ROOT}/scoring", description="Score the latest customer snapshot in batch.")
def scoring():
    validate = validator(f"{REPO}/validator:dev", "gs://acme-churn-dev-data/scoring/*.csv")().set_display_name("validate").set_caching_options(False)
    champion = lookup("predict-model", "champion")
    with dsl.If(champion.outputs["found"] == True, name="predict.found == true"):  # noqa: E712 (kfp's DSL)
        ModelBatchPredictOp(
            job_display_name="churn-scoring-predict", model=champion.outputs["model"], instances_format="csv",
            predictions_format="jsonl", gcs_source_uris=["gs://acme-churn-dev-data/scoring/*.csv"],
            gcs_destination_output_uri_prefix="gs://acme-churn-dev-predictions/scoring/predict",
            machine_type="n1-standard-4", max_replica_count=4, labels=LABELS, project=PROJECT, location=REGION,
            service_account=PIPELINES_SA,
        ).set_display_name("predict").set_caching_options(False).after(validate)


PIPELINES = {"training": training, "scoring": scoring}
