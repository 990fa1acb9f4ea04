"""kfp DSL twin of specs/condition.yaml (environment dev).

mlopsgen gives a step the conditions of the steps it depends on, so `announce` (which reads
`publish.url`) sits in a nested If inside publish's If, and `also` (same condition as `publish`,
runs after it) shares publish's group.
"""
from kfp import dsl

IMAGE = "europe-west4-docker.pkg.dev/acme-par-dev/par-images/job:dev"
ENV = "dev"
CMD = ["python", "-m", "job"]


@dsl.container_component
def evaluate(acc: dsl.OutputPath(float), n: dsl.OutputPath(int), label: dsl.OutputPath(str),
             ok: dsl.OutputPath(bool), report: dsl.Output[dsl.Markdown]):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["evaluate", acc, n, label, ok, report.path])


@dsl.container_component
def publish(report: dsl.Input[dsl.Markdown], target: str, url: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["publish", report.path, target, url])


@dsl.container_component
def announce(url: str):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["announce", url])


@dsl.container_component
def mixed():
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["mixed"])


@dsl.container_component
def also():
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["also"])


@dsl.container_component
def labelled(target: str):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["labelled", target])


@dsl.container_component
def flagged(acc: float):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["flagged", acc])


def plain(name):
    @dsl.container_component
    def component():
        return dsl.ContainerSpec(image=IMAGE, command=CMD, args=[name])
    component.component_spec.name = name
    return component


@dsl.container_component
def elsewhere(url: str):
    return dsl.ContainerSpec(image=IMAGE, command=CMD, args=["elsewhere", url])


@dsl.pipeline(name="par-gated", pipeline_root="gs://acme-par-dev-artifacts/pipeline-root/gated")
def gated(target: str = "prod", min_acc: float = 0.8, max_n: int = 100):
    ev = evaluate().set_display_name("evaluate").set_caching_options(False)
    with dsl.If(ev.outputs["ok"] == True, name="evaluate.ok == true"):  # noqa: E712 (kfp condition)
        flagged(acc=ev.outputs["acc"]).set_display_name("flagged").set_retry(1)
    with dsl.If(ev.outputs["label"] == "prod", name='evaluate.label == "prod"'):
        labelled(target=target).set_display_name("labelled").set_caching_options(False)
    with dsl.If(ev.outputs["n"] >= 2.5, name="evaluate.n >= 2.5"):
        mixed().set_display_name("mixed").set_caching_options(False)
    with dsl.If(ev.outputs["acc"] >= 0.8, name="evaluate.acc >= 0.8"):
        pub = publish(report=ev.outputs["report"], target=target).set_display_name("publish")
        also().set_display_name("also").set_caching_options(False).after(pub)
        with dsl.If(ev.outputs["n"] > 10, name="evaluate.n > 10"):
            announce(url=pub.outputs["url"]).set_display_name("announce")
        with dsl.If(ev.outputs["label"] != target, name="evaluate.label != params.target"):
            elsewhere(url=pub.outputs["url"]).set_display_name("elsewhere")
    with dsl.If(ev.outputs["acc"] >= min_acc, name="evaluate.acc >= params.min_acc"):
        plain("accurate")().set_display_name("accurate").set_caching_options(False)
    with dsl.If(ev.outputs["n"] < max_n, name="evaluate.n < params.max_n"):
        plain("small")().set_display_name("small").set_caching_options(False)
    with dsl.If(ev.outputs["n"] <= min_acc, name="evaluate.n <= params.min_acc"):
        plain("scaled")().set_display_name("scaled").set_caching_options(False)
    with dsl.If(ev.outputs["acc"] != max_n, name="evaluate.acc != params.max_n"):
        plain("inverse")().set_display_name("inverse").set_caching_options(False)


PIPELINES = {"gated": gated}
