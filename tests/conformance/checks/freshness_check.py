"""Runs a generated DAG's freshness sensor against stand-in BigQuery/GCS clients.

usage: freshness_check.py DAG_FILE EXPECT_JSON
EXPECT_JSON: {"task_id": ..., "kind": "bigquery", "table": "p.d.t"} or
             {"task_id": ..., "kind": "gcs", "bucket": ..., "object": ..., "glob": bool}

Loads the DAG file with the venv's Airflow, replaces the hook the module imported, and pokes the
sensor task the way Airflow does (`PythonSensor.poke(context)`) with the last successful run's
start and end as Airflow 2 passes them (datetimes or None) and as Airflow 3 passes them (lazy
proxies). The sensor must: wait while the data is missing; pass on the first run once it exists;
wait while the data is older than the last successful run's end, including data that landed after
that run started (the run waited for it and trained on it); pass once it is newer. It must read exactly
the expected table or objects (module constants, no Jinja rendering), in reschedule mode, every
10 minutes, failing after 6 hours.
"""

import copy
import datetime
import importlib.util
import json
import sys
import types

import lazy_object_proxy
from google.api_core.exceptions import NotFound

path, want = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("dag_under_test", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
dag = next(v for v in vars(mod).values() if type(v).__name__ == "DAG")
task = dag.get_task(want["task_id"])
problems = []
for name, expected in [("mode", "reschedule"), ("poke_interval", 600), ("soft_fail", False)]:
    if getattr(task, name) != expected:
        problems.append(f"{name} = {getattr(task, name)!r}, expected {expected!r}")
if datetime.timedelta(seconds=task.timeout) != datetime.timedelta(hours=6):
    problems.append(f"timeout = {task.timeout!r}")

state = {"modified": None}
seen = set()


class Blob:
    def __init__(self, updated):
        self.updated = updated


if want["kind"] == "bigquery":

    class BqClient:
        def get_table(self, ref):
            seen.add(ref)
            if state["modified"] is None:
                raise NotFound("no such table")
            return types.SimpleNamespace(modified=state["modified"])

    class BigQueryHook:
        def __init__(self, **_):
            pass

        def get_client(self, project_id=None):
            return BqClient()

    mod.BigQueryHook = BigQueryHook
    expected_reads = {want["table"]}
else:

    class Bucket:
        def __init__(self, name):
            self.name = name

        def get_blob(self, name):
            seen.add((self.name, name))
            return None if state["modified"] is None else Blob(state["modified"])

    class GcsClient:
        def list_blobs(self, bucket, match_glob=None):
            seen.add((bucket, match_glob))
            return iter([] if state["modified"] is None else [Blob(state["modified"])])

        def bucket(self, name):
            return Bucket(name)

    class GCSHook:
        def get_conn(self):
            return GcsClient()

    mod.GCSHook = GCSHook
    expected_reads = {(want["bucket"], want["object"])}

t0 = datetime.datetime(2026, 1, 5, 3, tzinfo=datetime.UTC)
hour = datetime.timedelta(hours=1)
# (label, data modified, last success's start, its end, sensor done)
cases = [
    ("data missing", None, None, None, False),
    ("first run, data exists", t0 - hour, None, None, True),
    ("data older than the last success", t0 - hour, t0, t0 + 3 * hour, False),
    ("data the last success waited for and took", t0 + hour, t0, t0 + 3 * hour, False),
    ("data newer than the last success", t0 + 4 * hour, t0, t0 + 3 * hour, True),
]


def lazy(value):
    return lazy_object_proxy.Proxy(lambda: value)


for label, modified, start, end, expected in cases:
    for style, wrap in [("plain", lambda v: v), ("lazy proxy", lazy)]:
        state["modified"] = modified
        context = {"prev_start_date_success": wrap(start), "prev_end_date_success": wrap(end),
                   "ds": "2026-01-05", "params": {}}
        # A fresh copy per poke, as each rescheduled try is (PythonSensor.poke keeps the first
        # try's arguments in op_kwargs).
        result = copy.copy(task).poke(context)
        done = bool(getattr(result, "is_done", result))
        if done != expected:
            problems.append(f"{label} ({style} last success): poke returned {done}, expected {expected}")
if seen != expected_reads:
    problems.append(f"read {sorted(map(str, seen))}, expected {sorted(map(str, expected_reads))}")
for p in problems:
    print(f"{path}: {p}")
sys.exit(1 if problems else 0)
