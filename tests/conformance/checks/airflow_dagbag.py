"""Conformance check for generated Airflow DAGs: load every env folder into a real DagBag.

Usage: python airflow_dagbag.py <outdir> [--expect FILE] [--dump [FILE]] [--strict]
(run with the python of an Airflow venv: 2.10.5 + providers-google 15.1.0, or
3.3.2 + providers-google 22.8.0; the same script works on both).

Each ``<outdir>/dags/<env>/`` folder is one Composer environment and gets its own
``DagBag`` (``airflow.dag_processing.dagbag.DagBag`` on 3.x, ``airflow.models.dagbag.DagBag``
with ``include_examples=False`` on 2.x; ``safe_mode=False`` so every ``.py`` file is
parsed), under a throwaway ``AIRFLOW_HOME`` (no database is needed or created).
Problems: any import error (syntax, missing module, unknown or missing operator kwarg,
duplicate task id, cycle, ``schedule_interval`` on 3.x, ...), an env folder without DAGs,
a ``.py`` file that defines no DAG, a ``.py`` file outside ``dags/<env>/``, and with
``--strict`` any warning raised while importing a DAG file (Airflow's ``captured_warnings``,
e.g. 3.x "Setting email on a task is deprecated"). Without ``--strict`` those are printed
as ``WARNING`` lines only.

Prints one line per DAG: ``<env> <dag_id> <schedule> tasks=[<task ids, sorted>]``.

``--expect FILE`` compares the loaded DAGs with a JSON file of this shape::

    {"<env>": {"<dag_id>": {"schedule": "0 3 * * 1", "catchup": false, "max_active_runs": 1,
        "tasks": {"<task_id>": {"operator": "RunPipelineJobOperator", "upstream": ["wait"],
                                "fields": {"template_path": "gs://...", "parameter_values": {}}}}}}}

The sets of envs, DAG ids and task ids must match exactly; ``upstream`` is compared as a
set; every other key present (DAG attributes, ``operator``, each entry of ``fields``)
must equal the loaded object's attribute after normalisation to JSON: timedelta ->
seconds, datetime -> ISO 8601, enum -> value, set/tuple -> list (sets sorted),
callable -> its name, timetable -> its cron expression, other objects -> class name.
DAG keys: ``schedule`` (2.x ``schedule_interval`` / 3.x ``schedule``), ``timetable``
(class name), and any DAG attribute (``catchup``, ``max_active_runs``, ``tags``,
``start_date``, ``dagrun_timeout``, ...). Keys absent from FILE are not compared.

``--dump`` writes the loaded DAGs in that shape (``fields`` = constructor arguments of
the operator's classes whose value differs from the signature default) to FILE, or to
stdout when FILE is ``-`` or omitted (then all other output goes to stderr).

Exit codes: 0 all good, 1 problems or mismatches, 2 usage, 3 nothing to check.
"""
import argparse
import datetime
import enum
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# DAG attributes written by --dump (--expect may name any DAG attribute)
DAG_KEYS = ["schedule", "timetable", "catchup", "max_active_runs", "tags", "start_date", "end_date",
            "dagrun_timeout", "description"]
NOT_FIELDS = {"self", "args", "kwargs", "task_id", "dag", "default_args", "params", "task_group",
              "pre_execute", "post_execute"}
EMPTY = (None, [], {})
# operator attributes whose "default" is derived from the task or its DAG, not the signature
DERIVED_DEFAULTS = {
    "pool": lambda t: "default_pool",
    "task_display_name": lambda t: t.task_id,
    "start_date": lambda t: normalize(t.dag.start_date),
    "end_date": lambda t: normalize(t.dag.end_date),
}


# The AIRFLOW_HOMEs this process made; `os._exit` below skips atexit hooks, so it removes them.
ISOLATED_HOMES = []


def isolate_airflow():
    """Point Airflow at a fresh home before it is imported; drop inherited AIRFLOW__ settings."""
    for key in [k for k in os.environ if k.startswith("AIRFLOW__") or k == "AIRFLOW_CONFIG"]:
        del os.environ[key]
    home = tempfile.mkdtemp(prefix="airflow-home-")
    ISOLATED_HOMES.append(home)  # removed at exit (see __main__)
    os.environ.update({
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(home, "dags"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",  # cold google-cloud imports take ~10-20 s here
        "AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "CRITICAL",  # the report below says it all, once
    })


def load_dagbag(folder):
    import airflow
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2
    kwargs = {"include_examples": False} if airflow.__version__.startswith("2.") else {}
    return DagBag(dag_folder=str(folder), safe_mode=False, **kwargs)


def normalize(value):
    """Turn an attribute value into comparable JSON (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return normalize(value.value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((normalize(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if type(value).__name__.endswith("Timetable"):
        return (getattr(value, "expression", None) or getattr(value, "_expression", None)
                or getattr(value, "summary", None) or type(value).__name__)
    if type(value).__name__.endswith("PriorityWeightStrategy"):  # 2.x weight_rule objects
        return type(value).__name__.strip("_").replace("PriorityWeightStrategy", "").lower()
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return type(value).__name__


def dag_attr(dag, key):
    if key == "schedule":
        raw = dag.schedule if hasattr(dag, "schedule") else dag.schedule_interval
        return normalize(raw)
    if key == "timetable":
        return type(dag.timetable).__name__
    return normalize(getattr(dag, key, None))


def operator_fields(task):
    """Constructor arguments (across the operator's class hierarchy) that differ from the default."""
    fields = {}
    for cls in type(task).__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name in NOT_FIELDS or name in fields or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            if not hasattr(task, name):
                continue
            value = normalize(getattr(task, name))
            default = None if param.default is param.empty else normalize(param.default)
            if name in DERIVED_DEFAULTS and value == DERIVED_DEFAULTS[name](task):
                continue
            if param.default is param.empty or (value != default and not (value in EMPTY and default in EMPTY)):
                fields[name] = value
        if cls.__name__ == "BaseOperator":
            break
    return dict(sorted(fields.items()))


def describe(dag):
    tasks = {t.task_id: {"operator": type(t).__name__, "upstream": sorted(t.upstream_task_ids),
                         "fields": operator_fields(t)} for t in sorted(dag.tasks, key=lambda t: t.task_id)}
    out = {key: dag_attr(dag, key) for key in DAG_KEYS}
    out = {k: v for k, v in out.items() if v is not None or k == "schedule"}
    out["tasks"] = tasks
    return out


def short(text):
    """Drop venv prefixes from paths in messages (``.../site-packages/airflow/x.py`` -> ``airflow/x.py``)."""
    return re.sub(r"[^\s'\"(]*/site-packages/", "", str(text))


def import_error_summary(text, dag_file):
    """Last exception lines of a traceback, plus the line of the DAG file that raised it."""
    lines = [ln for ln in str(text).rstrip().splitlines() if ln.strip()]
    tail = []
    for ln in reversed(lines):
        if ln.startswith((" ", "\t")):
            break
        tail.insert(0, ln.strip())
    where = re.findall(r'File "([^"]+)", line (\d+)', str(text))
    here = [f"line {n}" for f, n in where if os.path.basename(f) == os.path.basename(dag_file)]
    return short(" ".join(tail or lines[-1:])) + (f" (at {here[-1]})" if here else "")


def differences(got, want, path):
    """Yield (path, got, want) for each differing leaf; dicts are compared key by key."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(set(got) | set(want)):
            yield from differences(got.get(k, "<absent>"), want.get(k, "<absent>"), f"{path}[{k!r}]")
    elif got != want:
        yield path, got, want


def compare(env, dag_id, dag, expected, problems):
    where = f"{env}/{dag_id}"
    for key, want in expected.items():
        if key == "tasks":
            continue
        got = dag_attr(dag, key)
        if got != want:
            problems.append(f"{where}: {key} is {json.dumps(got)}, expected {json.dumps(want)}")
    if "tasks" not in expected:
        return
    tasks = {t.task_id: t for t in dag.tasks}
    want_tasks = expected["tasks"]
    for tid in sorted(set(want_tasks) - set(tasks)):
        problems.append(f"{where}: missing task {tid!r}")
    for tid in sorted(set(tasks) - set(want_tasks)):
        problems.append(f"{where}: unexpected task {tid!r}")
    for tid in sorted(set(tasks) & set(want_tasks)):
        task, want = tasks[tid], want_tasks[tid]
        tw = f"{where}.{tid}"
        # The operator or a subclass of it (a DAG may define one, e.g. to wait again on a job).
        if "operator" in want and want["operator"] not in [c.__name__ for c in type(task).__mro__]:
            problems.append(f"{tw}: operator is {type(task).__name__}, expected a {want['operator']}")
        if "upstream" in want and sorted(task.upstream_task_ids) != sorted(want["upstream"]):
            problems.append(f"{tw}: upstream is {sorted(task.upstream_task_ids)}, expected {sorted(want['upstream'])}")
        for name, value in (want.get("fields") or {}).items():
            if not hasattr(task, name):
                problems.append(f"{tw}: has no attribute {name!r} (expected {json.dumps(value)})")
                continue
            for path, g, w in differences(normalize(getattr(task, name)), value, name):
                got, expected = json.dumps(g, sort_keys=True), json.dumps(w, sort_keys=True)
                problems.append(f"{tw}: {path} is {got}, expected {expected}")


def main(argv):
    parser = argparse.ArgumentParser(description="Load generated DAGs into a real DagBag.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--expect", type=Path, help="JSON of expected DAGs per env")
    parser.add_argument("--dump", nargs="?", const="-", help="write loaded DAGs as JSON to FILE (default stdout)")
    parser.add_argument("--strict", action="store_true", help="warnings raised by DAG files are problems")
    args = parser.parse_args(argv[1:])
    report = sys.stderr if args.dump == "-" else sys.stdout

    def say(line):
        print(line, file=report, flush=True)

    expected = json.loads(args.expect.read_text()) if args.expect else None
    dags_dir = args.outdir / "dags"
    envs = sorted(p for p in dags_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))) \
        if dags_dir.is_dir() else []
    if not envs:
        say("nothing to check")
        return 3

    isolate_airflow()
    import airflow
    say(f"airflow {airflow.__version__}")
    problems, dumped = [], {}
    for stray in sorted(dags_dir.glob("*.py")):
        problems.append(f"{stray.relative_to(args.outdir)}: DAG files must live in dags/<env>/")
    for env_dir in envs:
        env = env_dir.name
        bag = load_dagbag(env_dir)
        for f, err in sorted(bag.import_errors.items()):
            problems.append(f"{env}: import error in {Path(f).name}: {import_error_summary(err, f)}")
        for f, warns in sorted((getattr(bag, "captured_warnings", None) or {}).items()):
            for w in warns:
                line = f"{env}: warning in {Path(f).name}: {short(w)}"
                (problems.append if args.strict else say)(line if args.strict else "WARNING " + line)
        if not bag.dags:
            problems.append(f"{env}: no DAGs loaded from {env_dir.relative_to(args.outdir)}")
        loaded_files = {Path(d.fileloc).name for d in bag.dags.values()}
        failed_files = {Path(f).name for f in bag.import_errors}
        for py in sorted(env_dir.glob("*.py")):
            if py.name not in loaded_files | failed_files:
                problems.append(f"{env}: {py.name} defines no DAG")
        dumped[env] = {}
        for dag_id in sorted(bag.dags):
            dag = bag.dags[dag_id]
            say(f"{env} {dag_id} {dag_attr(dag, 'schedule')} tasks=[{', '.join(sorted(dag.task_ids))}]")
            dumped[env][dag_id] = describe(dag)
            if expected is not None and dag_id in expected.get(env, {}):
                compare(env, dag_id, dag, expected[env][dag_id], problems)
        if expected is not None:
            for dag_id in sorted(set(expected.get(env, {})) - set(bag.dags)):
                problems.append(f"{env}: missing DAG {dag_id!r}")
            for dag_id in sorted(set(bag.dags) - set(expected.get(env, {}))):
                problems.append(f"{env}: unexpected DAG {dag_id!r}")
    if expected is not None:
        for env in sorted(set(expected) - {e.name for e in envs}):
            problems.append(f"{env}: expected env folder dags/{env}/ is missing")

    if args.dump:
        text = json.dumps(dumped, indent=2, sort_keys=True) + "\n"
        if args.dump == "-":
            sys.stdout.write(text)
        else:
            Path(args.dump).write_text(text)
    for p in problems:
        say(f"PROBLEM {p}")
    say(f"{'FAIL' if problems else 'OK'}: {sum(len(d) for d in dumped.values())} DAGs in {len(envs)} env folders, "
        f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    for home in ISOLATED_HOMES:
        shutil.rmtree(home, ignore_errors=True)
    os._exit(code)  # skip Airflow's slow interpreter teardown (atexit hooks, thread joins)
