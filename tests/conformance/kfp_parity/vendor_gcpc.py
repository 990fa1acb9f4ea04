"""Maintainer tool: writes the GCPC component fragments mlopsgen vendors.

Run it with the venv holding the pinned google-cloud-pipeline-components whenever the pin moves:

    python tests/conformance/kfp_parity/vendor_gcpc.py src/targets/kubeflow/vendor

For each op it takes the op's own compiled PipelineSpec (`Op.pipeline_spec`, the same dict
`create_custom_training_job_from_component` starts from) and keeps its one component and one
executor. Descriptions (GCPC's documentation prose) are dropped: they don't change behaviour, and
the parity test ignores them.
"""
import json
import sys
from pathlib import Path

import google_cloud_pipeline_components as gcpc
from google.protobuf import json_format
from google_cloud_pipeline_components.v1.batch_predict_job import ModelBatchPredictOp
from google_cloud_pipeline_components.v1.custom_job import CustomTrainingJobOp
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.hyperparameter_tuning_job import HyperparameterTuningJobRunOp
from google_cloud_pipeline_components.v1.model import ModelUploadOp

OPS = {
    "custom-training-job": CustomTrainingJobOp,
    "hyperparameter-tuning-job": HyperparameterTuningJobRunOp,
    "model-upload": ModelUploadOp,
    "model-deploy": ModelDeployOp,
    "model-batch-predict": ModelBatchPredictOp,
}


def strip_descriptions(component):
    for side in ("inputDefinitions", "outputDefinitions"):
        for kind in ("parameters", "artifacts"):
            for entry in component.get(side, {}).get(kind, {}).values():
                entry.pop("description", None)
    return component


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, op in OPS.items():
        spec = json_format.MessageToDict(op.pipeline_spec)
        (component,) = spec["components"].values()
        (executor,) = spec["deploymentSpec"]["executors"].values()
        fragment = {"gcpc_version": gcpc.__version__, "component": strip_descriptions(component), "executor": executor}
        path = out / f"{name}.json"
        path.write_text(json.dumps(fragment, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "src/targets/kubeflow/vendor")
