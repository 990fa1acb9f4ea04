"""The promote task's program (generated/flagship/pipelines/dev/training.json, from
src/targets/kubeflow/models.rs) taking, waiting for, taking over and releasing the promotion
lock with the real google-cloud-storage client, against a local Cloud Storage JSON API
(gcs_emulator.py) that answers preconditions as the service does.

The Rust tests (tests/model_lifecycle.rs) run the same program through whole promotions against
a stand-in client; these show that the calls it makes mean, to the real client, what the
stand-in assumes: a create with `if_generation_match=0` raises `PreconditionFailed` when the
object exists, `time_created` is an aware UTC time, generations round-trip as integers. The
registry calls are not made here (no goal: the program promotes without reading the registry),
except in the last test, where the registry is unreachable and the lock must be released.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gcs_emulator import Emulator

REPO = Path(__file__).resolve().parents[3]
PIPELINE = REPO / "generated" / "flagship" / "pipelines" / "dev" / "training.json"
BUCKET = "acme-churn-dev-artifacts"
VERSION = "projects/acme-churn-dev/locations/europe-west4/models/1001@2"
LOCK = (BUCKET, "promotion-locks/1001/champion")


def program(task: str) -> tuple[str, dict]:
    """A task's Python program and its constant inputs, as compiled."""
    pipeline = json.loads(PIPELINE.read_text())
    container = pipeline["deploymentSpec"]["executors"][f"exec-{task}"]["container"]
    tasks = [pipeline["root"]["dag"]["tasks"]] + [
        c["dag"]["tasks"] for c in pipeline["components"].values() if "dag" in c
    ]
    inputs = next(t[task]["inputs"]["parameters"] for t in tasks if task in t)
    constants = {k: v["runtimeValue"]["constant"] for k, v in inputs.items() if "runtimeValue" in v}
    return container["command"][2], constants


@pytest.fixture
def gcs():
    emulator = Emulator()
    yield emulator
    emulator.close()


def start(
    gcs: Emulator, tmp_path: Path, task: str, run: str = "", goal: str = "", generation: str = ""
) -> tuple[subprocess.Popen, Path, Path]:
    """Starts the task's program in run `run`; returns the process, its log and its outputs folder."""
    script, values = program(task)
    assert values["lock_root"] == f"gs://{BUCKET}/promotion-locks"
    values.update(goal=goal, metric=0.9)
    if run:
        assert values["run"] == "{{$.pipeline_job_uuid}}/promote"
        values["run"] = run
    if generation:
        values["lock_generation"] = generation
    work = tmp_path / f"{task}-{run or 'move'}-{time.monotonic_ns()}"
    work.mkdir()
    outputs = (
        {"parameters": {p: {"outputFile": str(work / p)} for p in ("promoted", "lock_generation")}}
        if task == "promote"
        else {}
    )
    artifact = {
        "artifacts": [{"name": "model", "uri": f"https://x/v1/{VERSION}", "metadata": {"resourceName": VERSION}}]
    }
    executor_input = {"inputs": {"parameterValues": values, "artifacts": {"model": artifact}}, "outputs": outputs}
    env = {
        **os.environ,
        "STORAGE_EMULATOR_HOST": gcs.url,
        # No credentials and no metadata server: a registry call fails at once.
        "GOOGLE_APPLICATION_CREDENTIALS": str(work / "none.json"),
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
    }
    log = work / "log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-c", script, json.dumps(executor_input)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return proc, log, work


def finish(proc: subprocess.Popen, log: Path, expect: int = 0) -> str:
    assert proc.wait(timeout=120) == expect, log.read_text()
    return log.read_text()


def holder(gcs: Emulator) -> tuple[str, int] | None:
    o = gcs.objects.get(LOCK)
    return (json.loads(o["data"])["run"], o["generation"]) if o else None


def decide(gcs: Emulator, tmp_path: Path, run: str) -> str:
    """A promote task that decides to promote: it keeps the lock; returns the generation it output."""
    proc, log, work = start(gcs, tmp_path, "promote", run)
    finish(proc, log)
    assert (work / "promoted").read_text() == "true"
    return (work / "lock_generation").read_text()


def test_a_run_takes_the_lock_and_keeps_it_for_its_mover(gcs, tmp_path):
    generation = decide(gcs, tmp_path, "run-a")
    assert holder(gcs) == ("run-a", int(generation))
    assert any(
        r.startswith("POST /upload/storage/v1/b/acme-churn-dev-artifacts/o") and "ifGenerationMatch=0" in r
        for r in gcs.requests
    ), gcs.requests


def test_another_run_waits_while_the_lock_is_held(gcs, tmp_path):
    decide(gcs, tmp_path, "run-a")
    proc, log, _ = start(gcs, tmp_path, "promote", "run-b")
    try:
        deadline = time.monotonic() + 60
        while "holds the promotion lock" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, "run-b did not wait: " + log.read_text()
        assert "run run-a holds the promotion lock of 'champion'" in log.read_text()
        assert holder(gcs)[0] == "run-a"
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_held_past_its_lease_is_taken_over(gcs, tmp_path):
    first = decide(gcs, tmp_path, "run-a")
    gcs.age(7201)
    second = decide(gcs, tmp_path, "run-b")
    assert holder(gcs) == ("run-b", int(second)) and second != first


def test_a_retried_task_takes_its_own_lock_back(gcs, tmp_path):
    first = decide(gcs, tmp_path, "run-a")
    again = decide(gcs, tmp_path, "run-a")
    assert holder(gcs) == ("run-a", int(again)) and again != first


def test_a_mover_that_lost_the_lock_moves_nothing(gcs, tmp_path):
    lost = decide(gcs, tmp_path, "run-a")
    gcs.age(7201)
    taken = decide(gcs, tmp_path, "run-b")
    proc, log, _ = start(gcs, tmp_path, "promote-move-alias", goal="maximize", generation=lost)
    assert "lost it" in finish(proc, log, expect=1)
    assert holder(gcs) == ("run-b", int(taken)), "the mover released another run's lock"


def test_a_run_that_fails_while_deciding_releases_the_lock(gcs, tmp_path):
    # With a goal the program reads the registry; here that fails (no credentials).
    proc, log, _ = start(gcs, tmp_path, "promote", "run-a", goal="maximize")
    text = finish(proc, log, expect=1)
    assert "took the promotion lock" in text and "released the promotion lock" in text, text
    assert holder(gcs) is None
