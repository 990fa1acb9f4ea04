"""Ends a generated pipeline DAG's deferred wait the ways Vertex AI can end it.

usage: pipeline_wait_check.py CASES_JSON_FILE
CASES_JSON_FILE: [{"dag_file": ..., "task_id": ..., "project_id": ..., "region": ...}, ...]

Loads each DAG file with the venv's Airflow (one process for all: Airflow takes seconds to
import) and calls the run task's `execute_complete` with the events `RunPipelineJobTrigger` sends
(providers-google `triggers/vertex_ai.py` `BaseVertexAIJobTrigger.run`): an error without a job
(a status request failed: `PipelineJobAsyncHook.wait_for_pipeline_job` raises on any exception),
an error with the job (it failed or was cancelled) and a success. A failed request must defer
again on the same job, with the same trigger settings, a bounded number of times, and then fail;
a failed job must fail the task; a success returns the job. The task keeps `retries=0` (a retry
would submit a second run).
"""

import importlib.util
import json
import sys
from pathlib import Path


def check(want):
    """The problems of one DAG's run task, and how many times it waited again."""
    spec = importlib.util.spec_from_file_location(f"dag_{abs(hash(want['dag_file']))}", want["dag_file"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    dag = next(v for v in vars(mod).values() if type(v).__name__ == "DAG")
    task = dag.get_task(want["task_id"])
    problems = []
    if task.retries != 0:
        problems.append(f"retries = {task.retries!r}: a retry submits a second pipeline run")

    class Ti:
        def xcom_pull(self, task_ids=None, key=None, **_):
            assert (task_ids, key) == (task.task_id, "pipeline_job_id"), (task_ids, key)
            return "job-1"

    context = {"ti": Ti()}

    def outcome(event, **kwargs):
        """('deferred', exception) / ('failed', exception) / ('returned', value)."""
        try:
            return "returned", task.execute_complete(context, event, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # TaskDeferred: a BaseException, in other modules on Airflow 2 and 3
            return ("deferred" if type(e).__name__ == "TaskDeferred" else "failed"), e

    lost = {"status": "error", "message": "503 Service Unavailable"}
    waits = 0
    while True:
        kind, e = outcome(lost, waits=waits)
        if kind != "deferred":
            break
        t = e.trigger
        got = (
            type(t).__name__,
            t.job_id,
            t.project_id,
            t.location,
            t.poll_interval,
            t.conn_id,
            e.method_name,
            e.kwargs,
        )
        expected = (
            "RunPipelineJobTrigger",
            "job-1",
            want["project_id"],
            want["region"],
            task.poll_interval,
            task.gcp_conn_id,
            "execute_complete",
            {"waits": waits + 1},
        )
        if got != expected:
            problems.append(f"a failed status request waits again with {got}, expected {expected}")
        waits += 1
        if waits > 10:
            problems.append("a failed status request waits again forever")
            break
    if waits == 0:
        problems.append(f"a failed status request ends the task ({kind}: {e!r}) while the pipeline run goes on")
    elif kind != "failed":
        problems.append(f"after {waits} failed waits the task {kind}")

    job = {"name": "projects/p/locations/r/pipelineJobs/job-1", "state": 4}
    kind, e = outcome({"status": "error", "message": "failed", "job": job})
    if kind != "failed":
        problems.append(f"a failed pipeline run: the task {kind} ({e!r})")
    kind, value = outcome({"status": "success", "message": "ok", "job": job})
    if (kind, value) != ("returned", job):
        problems.append(f"a succeeded pipeline run: the task {kind} {value!r}")
    return problems, waits


problems = []
cases = json.loads(Path(sys.argv[1]).read_text())
for want in cases:
    found, waits = check(want)
    problems += [f"{want['dag_file']}: {p}" for p in found]
    print(f"{want['dag_file']}: {'OK' if not found else 'FAIL'} ({waits} waits again)")
for p in problems:
    print(f"PROBLEM {p}")
print("OK" if not problems else "FAIL", f"({len(cases)} DAGs)")
sys.exit(1 if problems else 0)
