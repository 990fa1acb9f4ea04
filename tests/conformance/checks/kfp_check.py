"""Conformance check for generated Kubeflow PipelineSpec JSON (KFP v2 IR).

Usage: python kfp_check.py <outdir>   (run with a venv holding kfp==2.17.3)

Checks every ``<outdir>/pipelines/**/*.json`` with three layers:

1. ``json_format.Parse`` into ``PipelineSpec`` (unknown fields, bad enums and
   duplicate keys are errors) and ``deploymentSpec`` into
   ``PipelineDeploymentConfig`` (it is a bare ``Struct`` in ``PipelineSpec``, so
   the first parse never looks inside executors).
2. kfp's own loader, ``kfp.components.load_component_from_text`` (what
   ``load_component_from_file`` calls; it reads JSON through ``yaml.safe_load``).
3. Graph checks neither of those does: references between tasks, components
   and executors, input wiring and kinds/types, cycles, placeholders, names.

Task inputs a component does not declare are problems, except the ones kfp
itself emits: inputs named by ``{{$.inputs.parameters[..]}}`` placeholders in
the task's constants (e.g. GCPC ``worker_pool_specs`` built from task outputs)
or in the executor's ``resources`` (``set_cpu_limit(<pipeline parameter>)``),
and kfp's mirror inputs ``cpu_limit``/``memory_limit``/... for those resources.

Prints ``OK <file>`` or ``FAIL <file>`` plus one indented line per problem.
Exit codes: 0 all files good, 1 problems found, 3 nothing to check.
"""
import json
import re
import sys
from pathlib import Path

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")  # kfp.dsl.utils.validate_pipeline_name
PLACEHOLDER_RE = re.compile(r"\{\{\$([^{}]*)\}\}")
IO_RE = re.compile(
    r"^\.(?P<dir>inputs|outputs)\.(?P<kind>parameters|artifacts)\['(?P<name>[^']+)'\]"
    r"(?P<attr>\.path|\.uri|\.output_file|\.metadata(?:\['[^']*'\])?)?$")
RUNTIME_PLACEHOLDERS = {
    "", ".outputs.output_file", ".pipeline_job_name", ".pipeline_job_resource_name",
    ".pipeline_job_uuid", ".pipeline_task_name", ".pipeline_task_uuid", ".pipeline_root",
    ".pipeline_job_create_time_utc", ".pipeline_job_schedule_time_utc", ".workspace_path",
    ".pipeline_google_cloud_project_id", ".pipeline_google_cloud_location",
}
# task inputs kfp adds (undeclared by the component) for resources set from pipeline channels
KFP_RESOURCE_INPUTS = {"cpu_request", "cpu_limit", "memory_request", "memory_limit",
                       "accelerator_type", "accelerator_count"}
CONDITION_PARAM_RE = re.compile(r"inputs\.parameter_values\['([^']+)'\]")
INPUT_NAME_RE = re.compile(r'"InputName":\s*"([^"]+)"')


def strings(node):
    """Yield every string nested anywhere in a JSON value."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def defs(comp, side, kind):
    return comp.get(f"{side}Definitions", {}).get(kind, {})


def param_type_ok(given, expected):
    return given == expected


def artifact_type_ok(given, expected):
    """kfp.dsl.types.type_utils.check_artifact_type_compatibility, on IR dicts."""
    if bool(given.get("isArtifactList")) != bool(expected.get("isArtifactList")):
        return False
    g, e = given.get("artifactType", {}), expected.get("artifactType", {})
    if "system.Artifact" in (g.get("schemaTitle"), e.get("schemaTitle")):
        return True
    return (g.get("schemaTitle") == e.get("schemaTitle")
            and g.get("schemaVersion", "").split(".")[0] == e.get("schemaVersion", "").split(".")[0])


def constant_ok(value, ptype):
    return {
        "STRING": lambda v: isinstance(v, str),
        "BOOLEAN": lambda v: isinstance(v, bool),
        "NUMBER_INTEGER": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
        "NUMBER_DOUBLE": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "LIST": lambda v: isinstance(v, list),
        "STRUCT": lambda v: isinstance(v, dict),
    }.get(ptype, lambda v: True)(value)


class Checker:
    def __init__(self, spec):
        self.spec = spec
        self.comps = spec.get("components", {})
        self.execs = spec.get("deploymentSpec", {}).get("executors", {})
        self.problems = []
        # component name -> input names filled by a ParallelFor iterator, not by wiring
        self.item_inputs = {}

    def err(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    def run(self):
        s = self.spec
        if s.get("schemaVersion") != "2.1.0":
            self.err("schemaVersion", f"is {s.get('schemaVersion')!r}, expected '2.1.0'")
        name = s.get("pipelineInfo", {}).get("name", "")
        if not NAME_RE.match(name):
            self.err("pipelineInfo.name", f"{name!r} does not match {NAME_RE.pattern}")
        if "dag" not in s.get("root", {}):
            self.err("root", "has no dag")
        all_comps = [("root", s.get("root", {}))] + [(f"components[{k!r}]", v) for k, v in self.comps.items()]
        for comp in [c for _, c in all_comps]:
            for task in comp.get("dag", {}).get("tasks", {}).values():
                it = task.get("parameterIterator") or task.get("artifactIterator") or {}
                if "itemInput" in it:
                    ref = task.get("componentRef", {}).get("name")
                    self.item_inputs.setdefault(ref, set()).add(it["itemInput"])
        used_comps, used_execs = set(), set()
        for where, comp in all_comps:
            if "executorLabel" in comp:
                label = comp["executorLabel"]
                used_execs.add(label)
                if label not in self.execs:
                    self.err(where, f"executorLabel {label!r} is not a key of deploymentSpec.executors")
                else:
                    self.check_placeholders(where, comp, label)
            if "dag" in comp:
                used_comps |= self.check_dag(where, comp)
        for k in sorted(set(self.comps) - used_comps):
            self.err(f"components[{k!r}]", "is never referenced by a task")
        for k in sorted(set(self.execs) - used_execs):
            self.err(f"deploymentSpec.executors[{k!r}]", "is not used by any component")
        self.check_component_cycles()
        return self.problems

    def check_dag(self, where, parent):
        dag = parent["dag"]
        tasks = dag.get("tasks", {})
        refs = set()
        edges = {}
        for tname, task in tasks.items():
            tw = f"{where}.dag.tasks[{tname!r}]"
            ref = task.get("componentRef", {}).get("name")
            refs.add(ref)
            comp = self.comps.get(ref)
            if comp is None:
                self.err(tw, f"componentRef.name {ref!r} is not a key of components")
            deps = set()
            for d in task.get("dependentTasks", []):
                if d not in tasks:
                    self.err(tw, f"dependentTasks entry {d!r} is not a task of this DAG")
                deps.add(d)
            deps |= self.check_task_inputs(tw, task, comp, parent, tasks)
            edges[tname] = deps & set(tasks)
            cond = task.get("triggerPolicy", {}).get("condition", "")
            for p in CONDITION_PARAM_RE.findall(cond):
                if p not in task.get("inputs", {}).get("parameters", {}):
                    self.err(tw, f"triggerPolicy.condition uses {p!r}, not an input parameter of the task")
        self.check_cycles(where, edges)
        self.check_dag_outputs(where, parent, tasks)
        return refs

    def check_task_inputs(self, tw, task, comp, parent, tasks):
        """Check one task's inputs against its component; return the producer tasks it reads from."""
        producers = set()
        inputs = task.get("inputs", {})
        wired = inputs.get("parameters", {})
        in_constants = {n for spec in wired.values() if "runtimeValue" in spec
                        for n in self.input_param_refs(spec["runtimeValue"].get("constant"))}
        in_resources = set()
        if comp is not None and comp.get("executorLabel") in self.execs:
            resources = self.execs[comp["executorLabel"]].get("container", {}).get("resources", {})
            in_resources = self.input_param_refs(resources) - set(defs(comp, "input", "parameters"))
        injected = in_constants | in_resources
        for n in sorted(injected - set(wired)):
            self.err(tw, f"placeholder {{{{$.inputs.parameters[{n!r}]}}}} in a constant or in resources "
                         "names no input parameter of the task")
        for kind, other in (("parameters", "artifacts"), ("artifacts", "parameters")):
            for key, spec in inputs.get(kind, {}).items():
                iw = f"{tw}.inputs.{kind}[{key!r}]"
                expected = defs(comp, "input", kind).get(key) if comp else None
                if comp is not None and expected is None:
                    if kind == "parameters" and (key in injected or (
                            key in KFP_RESOURCE_INPUTS and in_resources
                            and self.input_param_refs(spec.get("runtimeValue")))):
                        pass  # kfp-style task-level input feeding a placeholder in a constant/resources
                    elif key in defs(comp, "input", other):
                        self.err(iw, f"is declared as an input {other[:-1]} of {task['componentRef']['name']!r}, not a {kind[:-1]}")
                    else:
                        self.err(iw, f"is not an input of component {task['componentRef']['name']!r}")
                given = self.source_spec(iw, kind, spec, parent, tasks, producers)
                if expected is not None and given is not None and "parameterExpressionSelector" not in spec:
                    ok = param_type_ok(given.get("parameterType"), expected.get("parameterType")) \
                        if kind == "parameters" else artifact_type_ok(given, expected)
                    if not ok:
                        self.err(iw, f"type {self.type_name(given)} is wired to input of type {self.type_name(expected)}")
                if expected is not None and kind == "parameters" and "runtimeValue" in spec:
                    value = spec["runtimeValue"].get("constant")
                    if not constant_ok(value, expected.get("parameterType")):
                        self.err(iw, f"constant {value!r} is not a {expected.get('parameterType')}")
        if comp is not None:
            filled = self.item_inputs.get(task["componentRef"]["name"], set())
            for kind in ("parameters", "artifacts"):
                for key, d in defs(comp, "input", kind).items():
                    if (key not in inputs.get(kind, {}) and key not in filled
                            and not d.get("isOptional") and "defaultValue" not in d):
                        self.err(tw, f"required input {kind[:-1]} {key!r} of {task['componentRef']['name']!r} is not wired")
        for it_key, sub, kind in (("parameterIterator", "inputParameter", "parameters"),
                                  ("artifactIterator", "inputArtifact", "artifacts")):
            name = task.get(it_key, {}).get("items", {}).get(sub)
            if name is not None and name not in inputs.get(kind, {}):
                self.err(tw, f"{it_key}.items.{sub} {name!r} is not an input {kind[:-1]} of the task")
        return producers

    def source_spec(self, iw, kind, spec, parent, tasks, producers):
        """Resolve where an input comes from; return the definition of the source (or None)."""
        if kind == "parameters":
            if "componentInputParameter" in spec:
                name = spec["componentInputParameter"]
                d = defs(parent, "input", "parameters").get(name)
                if d is None:
                    self.err(iw, f"componentInputParameter {name!r} is not an input parameter of the enclosing component")
                return d if name not in self.item_inputs_of(parent) else None
            if "taskOutputParameter" in spec:
                return self.producer_output(iw, spec["taskOutputParameter"], "outputParameterKey",
                                            "parameters", tasks, producers)
            if "taskFinalStatus" in spec:
                p = spec["taskFinalStatus"].get("producerTask")
                if p not in tasks:
                    self.err(iw, f"taskFinalStatus.producerTask {p!r} is not a task of this DAG")
                producers.add(p)
                return {"parameterType": "TASK_FINAL_STATUS"}
            return None
        if "componentInputArtifact" in spec:
            name = spec["componentInputArtifact"]
            d = defs(parent, "input", "artifacts").get(name)
            if d is None:
                self.err(iw, f"componentInputArtifact {name!r} is not an input artifact of the enclosing component")
            return d if name not in self.item_inputs_of(parent) else None
        if "taskOutputArtifact" in spec:
            return self.producer_output(iw, spec["taskOutputArtifact"], "outputArtifactKey",
                                        "artifacts", tasks, producers)
        return None

    @staticmethod
    def input_param_refs(node):
        """Names used in {{$.inputs.parameters['x']}} placeholders anywhere in a JSON value."""
        return {m["name"] for t in strings(node) for body in PLACEHOLDER_RE.findall(t)
                if (m := IO_RE.match(body)) and m["dir"] == "inputs" and m["kind"] == "parameters"}

    def item_inputs_of(self, parent):
        names = [k for k, v in self.comps.items() if v is parent]
        return self.item_inputs.get(names[0], set()) if names else set()

    def producer_output(self, w, ref, key_field, kind, tasks, producers, task_field="producerTask"):
        p, key = ref.get(task_field), ref.get(key_field)
        if p not in tasks:
            self.err(w, f"{task_field} {p!r} is not a task of this DAG")
            return None
        producers.add(p)
        pcomp = self.comps.get(tasks[p].get("componentRef", {}).get("name"))
        if pcomp is None:
            return None
        d = defs(pcomp, "output", kind).get(key)
        if d is None:
            self.err(w, f"{key_field} {key!r} is not an output {kind[:-1]} of task {p!r} "
                        f"(component {tasks[p]['componentRef']['name']!r})")
        return d

    def check_dag_outputs(self, where, comp, tasks):
        outs = comp["dag"].get("outputs", {})
        produced = {"parameters": set(), "artifacts": set()}
        for name, spec in outs.get("parameters", {}).items():
            w = f"{where}.dag.outputs.parameters[{name!r}]"
            produced["parameters"].add(name)
            sels = [spec["valueFromParameter"]] if "valueFromParameter" in spec else \
                spec.get("valueFromOneof", {}).get("parameterSelectors", [])
            for sel in sels:
                self.producer_output(w, sel, "outputParameterKey", "parameters", tasks, set(), "producerSubtask")
        for name, spec in outs.get("artifacts", {}).items():
            w = f"{where}.dag.outputs.artifacts[{name!r}]"
            produced["artifacts"].add(name)
            for sel in spec.get("artifactSelectors", []):
                self.producer_output(w, sel, "outputArtifactKey", "artifacts", tasks, set(), "producerSubtask")
        for kind, names in produced.items():
            declared = set(defs(comp, "output", kind))
            for n in sorted(names - declared):
                self.err(f"{where}.dag.outputs.{kind}[{n!r}]", "is not declared in outputDefinitions")
            for n in sorted(declared - names):
                self.err(f"{where}.outputDefinitions.{kind}[{n!r}]", "is not produced by dag.outputs")

    def check_cycles(self, where, edges):
        state = {}

        def visit(n, path):
            state[n] = 1
            for m in sorted(edges.get(n, ())):
                if state.get(m) == 1:
                    cyc = path[path.index(m):] + [m]
                    self.err(f"{where}.dag", "cycle between tasks: " + " -> ".join(cyc))
                elif m not in state:
                    visit(m, path + [m])
            state[n] = 2

        for n in sorted(edges):
            if n not in state:
                visit(n, [n])

    def check_component_cycles(self):
        def refs(comp):
            return {t.get("componentRef", {}).get("name") for t in comp.get("dag", {}).get("tasks", {}).values()}
        self.check_cycles("components", {k: refs(v) & set(self.comps) for k, v in self.comps.items()})

    def check_placeholders(self, where, comp, label):
        ew = f"deploymentSpec.executors[{label!r}] (used by {where})"
        executor = self.execs[label]
        texts = list(strings(executor))
        whole_input = any("{{$}}" in t for t in texts)
        resources = set(strings(executor.get("container", {}).get("resources", {})))
        mentioned = {"parameters": set(), "artifacts": set()}
        for text in texts:
            for body in PLACEHOLDER_RE.findall(text):
                if body in RUNTIME_PLACEHOLDERS:
                    continue
                m = IO_RE.match(body)
                if not m:
                    self.err(ew, f"unknown placeholder {{{{${body}}}}}")
                    continue
                side, kind, name, attr = m["dir"][:-1], m["kind"], m["name"], m["attr"] or ""
                if side == "input" and kind == "parameters" and attr:
                    self.err(ew, f"input parameter placeholder takes no attribute: {{{{${body}}}}}")
                if side == "output" and kind == "parameters" and attr != ".output_file":
                    self.err(ew, f"output parameter placeholder needs .output_file: {{{{${body}}}}}")
                if attr == ".output_file" and not (side == "output" and kind == "parameters"):
                    self.err(ew, f".output_file only applies to output parameters: {{{{${body}}}}}")
                if text in resources and side == "input" and kind == "parameters":
                    continue  # dynamic resources: the task wires these (checked per task)
                if name not in defs(comp, side, kind):
                    other = "artifacts" if kind == "parameters" else "parameters"
                    hint = f" (it is an {side} {other[:-1]})" if name in defs(comp, side, other) else ""
                    self.err(ew, f"placeholder {{{{${body}}}}} names no {side} {kind[:-1]} of the component{hint}")
                if side == "output":
                    mentioned[kind].add(name)
            if '"InputName"' in text:
                for name in INPUT_NAME_RE.findall(text):
                    if name not in defs(comp, "input", "parameters") and name not in defs(comp, "input", "artifacts"):
                        self.err(ew, f"IfPresent InputName {name!r} is not an input of the component")
            if "{{channel:" in text or "{{pipeline_channel:" in text:
                self.err(ew, f"unresolved pipeline channel in {text!r}")
        # kfp's create_custom_training_job_from_component moves the user container (with its
        # output placeholders) into the default of the `worker_pool_specs` input: the launcher
        # substitutes those, so outputs named there are written too.
        for param in comp.get("inputDefinitions", {}).get("parameters", {}).values():
            for text in strings(param.get("defaultValue")):
                for body in PLACEHOLDER_RE.findall(text):
                    m = IO_RE.match(body)
                    if m and m["dir"].startswith("output"):
                        mentioned[m["kind"]].add(m["name"])
        if "container" in executor and not whole_input:
            for kind in ("parameters", "artifacts"):
                for name in sorted(set(defs(comp, "output", kind)) - mentioned[kind]):
                    self.err(ew, f"output {kind[:-1]} {name!r} is never written: no placeholder for it and no {{{{$}}}}")
        uri = executor.get("importer", {}).get("artifactUri", {}).get("runtimeParameter")
        if uri is not None and uri not in defs(comp, "input", "parameters"):
            self.err(ew, f"importer.artifactUri.runtimeParameter {uri!r} is not an input parameter")

    @staticmethod
    def type_name(d):
        if "parameterType" in d:
            return d["parameterType"]
        t = d.get("artifactType", {}).get("schemaTitle", "?")
        return f"List[{t}]" if d.get("isArtifactList") else t


def check_file(path):
    from google.protobuf import json_format  # imported here: "nothing to check" stays instant
    from kfp import components as kfp_components
    from kfp.pipeline_spec import pipeline_spec_pb2

    text = path.read_text(encoding="utf-8")
    problems = []
    try:
        json_format.Parse(text, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as e:
        problems.append(f"protobuf PipelineSpec: {e}")
    try:
        spec = json.loads(text)
    except ValueError as e:
        return problems + [f"invalid JSON: {e}"]
    if not isinstance(spec, dict):
        return problems + ["top level is not a JSON object"]
    try:
        json_format.ParseDict(spec.get("deploymentSpec", {}), pipeline_spec_pb2.PipelineDeploymentConfig())
    except json_format.ParseError as e:
        problems.append(f"protobuf PipelineDeploymentConfig (deploymentSpec): {e}")
    try:
        kfp_components.load_component_from_text(text)
    except Exception as e:  # noqa: BLE001 -- the loader raises KeyError/ValueError/ParseError/... alike
        problems.append(f"kfp loader: {type(e).__name__}: {e}")
    try:
        problems += Checker(spec).run()
    except (AttributeError, TypeError, KeyError) as e:  # wrong shapes the parse already reported
        problems.append(f"graph check aborted on malformed spec: {type(e).__name__}: {e}")
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(argv[1])
    files = sorted((root / "pipelines").rglob("*.json")) if (root / "pipelines").is_dir() else []
    if not files:
        print("nothing to check")
        return 3
    failed = 0
    for f in files:
        problems = check_file(f)
        rel = f.relative_to(root)
        print(f"{'FAIL' if problems else 'OK'} {rel}")
        for p in problems:
            print(f"  {rel}: {' '.join(p.split())}")  # protobuf errors span lines
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
