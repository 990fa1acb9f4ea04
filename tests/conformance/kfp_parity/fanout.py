"""kfp DSL twin of specs/fanout.yaml (environment dev)."""
from kfp import dsl

IMAGE = "europe-west4-docker.pkg.dev/acme-par-dev/par-images/job:dev"
ENV = "dev"
CMD = ["python", "-m", "job"]


@dsl.container_component
def produce(data: dsl.Output[dsl.Dataset]):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["produce", data.path])


@dsl.container_component
def consume(data: dsl.Input[dsl.Dataset], part: dsl.Output[dsl.Artifact]):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["consume", data.path, part.path])


@dsl.container_component
def join(a: dsl.Input[dsl.Artifact], b: dsl.Input[dsl.Artifact], c: dsl.Input[dsl.Artifact]):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["join", a.path, b.path, c.path])


@dsl.container_component
def cleanup():
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["cleanup"])


@dsl.pipeline(name="par-fan-out", pipeline_root="gs://acme-par-dev-artifacts/pipeline-root/fan_out")
def fan_out():
    p = produce().set_display_name("produce").set_caching_options(False)
    parts = [consume(data=p.outputs["data"]).set_display_name(f"consume_{x}") for x in "abc"]
    j = join(a=parts[0].outputs["part"], b=parts[1].outputs["part"], c=parts[2].outputs["part"])
    j.set_display_name("join")
    cleanup().set_display_name("cleanup").set_caching_options(False).after(j, p)


PIPELINES = {"fan_out": fan_out}
