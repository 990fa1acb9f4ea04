"""Run-time check of generated Airflow DAGs: what each operator receives after Jinja rendering.

Usage: python airflow_render.py <outdir> [--expect FILE]
(run with the python of an Airflow venv: 2.10.5 + providers-google 15.1.0, or 3.3.2 +
providers-google 22.8.0; the same script works on both).

airflow_dagbag.py checks that the DAGs load and compares attributes as loaded. Airflow renders
Jinja in an operator's ``template_fields`` just before ``execute()``, so a spec string that
reaches a templated field can still change at run time. This script loads each
``<outdir>/dags/<env>/`` folder into a DagBag, renders every task's templated fields with a
minimal context (``task.render_template_fields``), and reports:

- import errors and rendering errors (e.g. Jinja syntax or an undefined variable);
- with ``--expect FILE`` (the shape airflow_dagbag.py reads), missing or unexpected DAGs and
  tasks, a different ``upstream`` set, and every ``tasks.<id>.fields`` entry whose *rendered*
  value differs from the expected one (values compared as JSON; timedelta -> seconds), and
  every string of a DAG's ``doc_md_contains`` list that is not part of its ``doc_md``. Other
  DAG-level keys are airflow_dagbag.py's job and are ignored here.

Prints one line per DAG, then ``OK``/``FAIL``. Exit codes: 0 all good, 1 problems, 2 usage,
3 nothing to check.
"""
import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

LOGICAL_DATE = datetime.datetime(2025, 1, 6, 3, 0, tzinfo=datetime.UTC)


# The AIRFLOW_HOMEs this process made; `os._exit` below skips atexit hooks, so it removes them.
ISOLATED_HOMES = []


def isolate_airflow():
    """A throwaway AIRFLOW_HOME, set before Airflow is imported; no database is created."""
    for key in [k for k in os.environ if k.startswith("AIRFLOW__") or k == "AIRFLOW_CONFIG"]:
        del os.environ[key]
    home = tempfile.mkdtemp(prefix="airflow-render-")
    ISOLATED_HOMES.append(home)  # removed at exit (see __main__)
    os.environ.update({
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "CRITICAL",
    })


def dagbag(folder):
    import airflow
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2
    kwargs = {"include_examples": False} if airflow.__version__.startswith("2.") else {}
    return DagBag(dag_folder=str(folder), safe_mode=False, **kwargs)


def context(dag, task):
    """The few context entries a DAG author can rely on at run time."""
    start = LOGICAL_DATE - datetime.timedelta(days=1)
    return {
        "dag": dag, "task": task, "params": {}, "var": {}, "logical_date": LOGICAL_DATE,
        "data_interval_start": start, "data_interval_end": LOGICAL_DATE,
        "ds": LOGICAL_DATE.strftime("%Y-%m-%d"), "ds_nodash": LOGICAL_DATE.strftime("%Y%m%d"),
        "ts": LOGICAL_DATE.isoformat(), "run_id": "scheduled__" + LOGICAL_DATE.isoformat(),
    }


def as_json(value):
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return type(value).__name__


def check_dag(env, dag, expected, problems):
    for text in (expected or {}).get("doc_md_contains", []):
        if text not in (dag.doc_md or ""):
            problems.append(f"{env}/{dag.dag_id}: doc_md lacks {json.dumps(text)}; it is {json.dumps(dag.doc_md)}")
    want_tasks = (expected or {}).get("tasks")
    tasks = {t.task_id: t for t in dag.tasks}
    if want_tasks is not None:
        for tid in sorted(set(want_tasks) ^ set(tasks)):
            what = "missing" if tid in want_tasks else "unexpected"
            problems.append(f"{env}/{dag.dag_id}: {what} task {tid!r}")
    for tid, task in sorted(tasks.items()):
        where = f"{env}/{dag.dag_id}.{tid}"
        try:
            task.render_template_fields(context(dag, task))
        except Exception as e:  # noqa: BLE001 - any rendering failure is the finding
            problems.append(f"{where}: rendering failed: {type(e).__name__}: {e}")
            continue
        want = (want_tasks or {}).get(tid)
        if want is None:
            continue
        upstream = sorted(task.upstream_task_ids)
        if "upstream" in want and upstream != sorted(want["upstream"]):
            problems.append(f"{where}: upstream is {upstream}, expected {sorted(want['upstream'])}")
        for name, value in (want.get("fields") or {}).items():
            got = as_json(getattr(task, name, "<missing>"))
            if got != value:
                problems.append(f"{where}: {name} renders as {json.dumps(got)}, expected {json.dumps(value)}")


def main(argv):
    parser = argparse.ArgumentParser(description="Render generated DAGs' templated fields.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--expect", type=Path, help="JSON of expected DAGs per env (airflow_dagbag.py shape)")
    args = parser.parse_args(argv[1:])
    expected = json.loads(args.expect.read_text()) if args.expect else None
    dags_dir = args.outdir / "dags"
    envs = sorted(p for p in dags_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))) \
        if dags_dir.is_dir() else []
    if not envs:
        print("nothing to check")
        return 3

    isolate_airflow()
    import airflow
    print(f"airflow {airflow.__version__}", flush=True)
    problems, count = [], 0
    for env_dir in envs:
        env = env_dir.name
        bag = dagbag(env_dir)
        for f, err in sorted(bag.import_errors.items()):
            problems.append(f"{env}: import error in {Path(f).name}: {str(err).strip().splitlines()[-1]}")
        want_env = (expected or {}).get(env, {})
        if expected is not None:
            for dag_id in sorted(set(want_env) ^ set(bag.dags)):
                what = "missing" if dag_id in want_env else "unexpected"
                problems.append(f"{env}: {what} DAG {dag_id!r}")
        for dag_id, dag in sorted(bag.dags.items()):
            count += 1
            print(f"{env} {dag_id} tasks=[{', '.join(sorted(dag.task_ids))}]", flush=True)
            check_dag(env, dag, want_env.get(dag_id), problems)
    if expected is not None:
        for env in sorted(set(expected) - {e.name for e in envs}):
            problems.append(f"{env}: expected env folder dags/{env}/ is missing")
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"{'FAIL' if problems else 'OK'}: {count} DAGs rendered in {len(envs)} env folders, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    for home in ISOLATED_HOMES:
        shutil.rmtree(home, ignore_errors=True)
    os._exit(code)  # skip Airflow's slow interpreter teardown
