"""kfp DSL twin of specs/linear.yaml (environment dev)."""
from kfp import dsl

from shared import publisher

IMAGE = "europe-west4-docker.pkg.dev/acme-par-dev/par-images/job:dev"
ENV = "dev"


@dsl.container_component
def prep(source: str, rows: dsl.Output[dsl.Dataset], count: dsl.OutputPath(int)):
    return dsl.ContainerSpec(image=IMAGE, command=["python", "-m", "job"],
                             args=["prep", "--source", source, "--out", rows.path, "--count", count])


@dsl.container_component
def train(rows: dsl.Input[dsl.Dataset], count: int, rate: float, epochs: int, gpu: bool, tags: list,
          extra: dict, model: dsl.Output[dsl.Model], metrics: dsl.Output[dsl.Metrics],
          cm: dsl.Output[dsl.ClassificationMetrics], loss: dsl.OutputPath(float)):
    return dsl.ContainerSpec(image=IMAGE, command=["python", "-m", "train"], args=[
        f"--rows={rows.path}", "--count", count, "--rate", rate, "--epochs", epochs, "--gpu", gpu,
        "--tags", tags, "--extra", extra, "--model", model.path, "--metrics", metrics.path,
        "--cm", cm.path, "--loss", loss])


@dsl.container_component
def report(model: dsl.Input[dsl.Model], loss: float, page: dsl.Output[dsl.Markdown]):
    return dsl.ContainerSpec(image=IMAGE, command=["python", "-m", "job"],
                             args=["report", model.path, loss, page.path])


@dsl.pipeline(name="par-linear", description="Prepare, train and report.",
              pipeline_root="gs://acme-par-dev-artifacts/pipeline-root/linear")
def linear(source: str, epochs: int = 10, lr: float = 0.05, gpu: bool = True,
           tags: list = ["a", 1, 2.5], extra: dict = {"depth": 3, "name": "x"}):
    """Prepare, train and report.

    Args:
      source: Where the raw rows are.
      lr: Learning rate.
    """
    p = prep(source=source).set_display_name("prep")
    p.set_env_variable("A_VAR", "one").set_env_variable("B_VAR", "two")
    p.set_cpu_limit("500m").set_memory_limit("512Mi").set_retry(3)
    t = train(rows=p.outputs["rows"], count=p.outputs["count"], rate=lr, epochs=epochs, gpu=gpu,
              tags=tags, extra=extra).set_display_name("train")
    t.set_cpu_limit("4").set_memory_limit("16Gi")
    t.set_accelerator_type("NVIDIA_TESLA_T4").set_accelerator_limit(2)
    t.set_retry(0).set_caching_options(False)
    for output, kind in [("cm", dsl.ClassificationMetrics), ("metrics", dsl.Metrics)]:
        published = publisher(output, kind)(source=t.outputs[output])
        published.set_display_name(f"train-{output}").set_caching_options(False)
    r = report(model=t.outputs["model"], loss=t.outputs["loss"]).set_display_name("report")
    r.set_caching_options(False)


PIPELINES = {"linear": linear}
