"""Parity with the kfp compiler: mlopsgen's PipelineSpec JSON against kfp's for the same pipeline.

Usage (with a venv holding kfp 2.17.3 and google-cloud-pipeline-components 2.22.0):

    python compare.py --mlopsgen-bin target/debug/mlopsgen --out /tmp/parity

For every case (each `specs/<name>.yaml` here with its hand-written DSL twin `<name>.py`, plus the
repository's flagship spec with `flagship.py`), it builds the spec with mlopsgen, compiles every
pipeline the twin's `PIPELINES` lists with kfp, and compares the two IRs structurally: tasks,
dependencies, component interfaces, input wiring, conditions, executors (image, command, args,
env, resources) and importers. Before comparing it

- matches tasks by `taskInfo.name` (the twins set mlopsgen's display names), DAG by DAG, and
  renames kfp's task keys to mlopsgen's everywhere a task key appears (task, `comp-`/`exec-`
  names, producers, dependencies, `pipelinechannel--<task>-<output>` names);
- drops `sdkVersion`;
- applies the rewrites in EXPLAINED, each with the reason it is harmless.

Any other difference is printed and makes the exit code 1. Exit 2 means a case couldn't run.
"""
import argparse
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# Differences that are expected, each with why it doesn't matter. Every entry is a function
# applied to both normalised specs.


def drop_component_descriptions(spec):
    """GCPC components carry long `description` prose on each input and output; mlopsgen vendors
    the components without it (documentation only: no backend reads it, and it is GCPC's text,
    not ours). The pipeline's own parameter descriptions (root) are still compared."""
    for comp in spec.get("components", {}).values():
        for side in ("inputDefinitions", "outputDefinitions"):
            for kind in ("parameters", "artifacts"):
                for entry in comp.get(side, {}).get(kind, {}).values():
                    entry.pop("description", None)


EXPLAINED = [drop_component_descriptions]

CHANNEL = re.compile(r"pipelinechannel--([a-z0-9][a-z0-9-]*)-([a-z0-9_]+)")
TASK_REF_FIELDS = {"producerTask", "componentInputParameter", "componentInputArtifact", "executorLabel"}


def cases():
    found = [(p.stem, p, HERE / f"{p.stem}.py") for p in sorted((HERE / "specs").glob("*.yaml"))]
    return found + [("flagship", REPO / "specs" / "flagship.yaml", HERE / "flagship.py")]


def load_twin(path):
    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"twin_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def match_tasks(ours, theirs, ours_spec, theirs_spec, mapping, problems, where):
    """Map kfp task keys to mlopsgen's by display name, recursing into condition sub-DAGs."""
    by_name = {}
    for key, task in ours.get("tasks", {}).items():
        name = task["taskInfo"]["name"]
        if name in by_name:
            problems.append(f"{where}: two mlopsgen tasks are named {name!r}; can't match them")
        by_name[name] = key
    for key, task in theirs.get("tasks", {}).items():
        name = task["taskInfo"]["name"]
        if name not in by_name:
            problems.append(f"{where}: kfp task {key!r} ({name!r}) has no mlopsgen counterpart")
            continue
        mapping[key] = by_name.pop(name)
        ours_comp = ours_spec["components"].get(ours["tasks"][mapping[key]]["componentRef"]["name"], {})
        theirs_comp = theirs_spec["components"].get(task["componentRef"]["name"], {})
        if "dag" in ours_comp and "dag" in theirs_comp:
            match_tasks(ours_comp["dag"], theirs_comp["dag"], ours_spec, theirs_spec, mapping, problems, f"{where}/{name}")
    for name, key in by_name.items():
        problems.append(f"{where}: mlopsgen task {key!r} ({name!r}) has no kfp counterpart")


def rename(node, mapping, field=None):
    def name(s):
        for prefix in ("comp-", "exec-", ""):
            if s.startswith(prefix) and s[len(prefix):] in mapping:
                return prefix + mapping[s[len(prefix):]]
        return CHANNEL.sub(lambda m: f"pipelinechannel--{mapping.get(m[1], m[1])}-{m[2]}", s)

    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            new_key = name(k) if field in ("tasks", "components", "executors", "parameters", "artifacts") else k
            out[new_key] = rename(v, mapping, k)
        if field == "componentRef":
            out["name"] = name(out["name"])
        return out
    if isinstance(node, list):
        items = [rename(v, mapping, field) for v in node]
        return sorted(items) if field == "dependentTasks" else items
    if isinstance(node, str):
        if field in TASK_REF_FIELDS or field == "dependentTasks":
            return name(node)
        return CHANNEL.sub(lambda m: f"pipelinechannel--{mapping.get(m[1], m[1])}-{m[2]}", node)
    return node


def differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            p = f"{path}/{k}"
            if k not in a:
                out.append(f"{p}: only kfp has it: {json.dumps(b[k])[:300]}")
            elif k not in b:
                out.append(f"{p}: only mlopsgen has it: {json.dumps(a[k])[:300]}")
            else:
                out += differences(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}/{i}")]
    if a != b or type(a) is not type(b):
        return [f"{path}: mlopsgen {json.dumps(a)[:300]} != kfp {json.dumps(b)[:300]}"]
    return []


def compare(ours, theirs):
    problems = []
    for spec in (ours, theirs):
        spec.pop("sdkVersion", None)
        for fix in EXPLAINED:
            fix(spec)
    mapping = {}
    match_tasks(ours["root"]["dag"], theirs["root"]["dag"], ours, theirs, mapping, problems, "root")
    theirs = rename(theirs, mapping)
    return problems + differences(ours, theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlopsgen-bin", required=True, help="path to the mlopsgen binary")
    parser.add_argument("--out", required=True, help="scratch directory for both compilers' output")
    args = parser.parse_args()
    from kfp import compiler  # imported late so --help works without kfp

    out = Path(args.out)
    failed = compared = 0
    for name, spec, twin_path in cases():
        built = out / name
        run = subprocess.run([args.mlopsgen_bin, "build", str(spec), "--out", str(built), "--force"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"ERROR {name}: mlopsgen build failed:\n{run.stderr}")
            return 2
        twin = load_twin(twin_path)
        ours_dir = built / "pipelines" / twin.ENV
        missing = sorted({p.stem for p in ours_dir.glob("*.json")} - set(twin.PIPELINES))
        if missing:
            print(f"FAIL {name}: pipelines without a kfp twin: {', '.join(missing)}")
            failed += 1
        for key, func in twin.PIPELINES.items():
            theirs_path = out / "kfp" / name / f"{key}.json"
            theirs_path.parent.mkdir(parents=True, exist_ok=True)
            compiler.Compiler().compile(func, str(theirs_path))
            ours = json.loads((ours_dir / f"{key}.json").read_text(encoding="utf-8"))
            theirs = json.loads(theirs_path.read_text(encoding="utf-8"))
            problems = compare(ours, theirs)
            compared += 1
            print(f"{'FAIL' if problems else 'OK'} {name}/{key}")
            for p in problems:
                print(f"  {p}")
            failed += bool(problems)
    print(f"{compared} pipeline(s) compared, {failed} with unexplained differences")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
