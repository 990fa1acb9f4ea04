"""The command line as pipelines, the drift DAG and CI call it; fakes stand in for the
Google clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import CUSTOMERS, customers

REPO = Path(__file__).resolve().parents[3]

DEV_URI = "bq://acme-churn-dev.churn.customers"
REQUESTS = "bq://acme-churn-dev.churn_churn_requests.*"
METRIC = "custom.googleapis.com/mlopsgen/drift_psi"


def main(*args: str) -> int:
    from mlops_validation import cli

    return cli.main(list(args))


def test_generated_contract_is_the_spec_contract(package_dir):
    data = json.loads((package_dir / "mlops_validation" / "contracts.json").read_text())
    generated = data["datasets"]["customers"]
    assert generated["sources"] == {"dev": DEV_URI, "prod": "bq://acme-churn-prod.churn.customers"}
    assert generated["sample"] == CUSTOMERS["sample"]
    for name, rules in CUSTOMERS["columns"].items():
        for key, value in rules.items():
            assert generated["columns"][name][key] == value, (name, key)
    scoring = data["datasets"]["scoring_batch"]
    assert scoring["format"] == "csv"
    assert scoring["sources"]["dev"] == "gs://acme-churn-dev-data/scoring/*.csv"


def test_pipeline_step_validates_by_uri_and_writes_its_artifacts(tmp_path, fake_bigquery, capsys):
    fake_bigquery.tables["acme-churn-dev.churn.customers"] = customers()
    out = tmp_path / "outputs"
    executor_output = tmp_path / "kfp" / "executor_output.json"
    # What the launcher passes as {{$}}: each output artifact with its name, uri and type.
    runtime = {
        name: {"artifacts": [{"name": f"projects/p/locations/l/metadataStores/default/artifacts/{n}",
                              "uri": f"gs://root/validate/{name}", "type": {"schemaTitle": title}}]}
        for n, (name, title) in enumerate([("dataset", "system.Dataset"), ("metrics", "system.Metrics"),
                                           ("report", "system.Markdown")])
    }  # fmt: skip
    executor_input = json.dumps({"outputs": {"outputFile": str(executor_output), "artifacts": runtime}})
    code = main(
        "--dataset", DEV_URI,
        "--report", str(out / "report"),
        "--metrics", str(out / "metrics"),
        "--dataset-out", str(out / "dataset"),
        "--executor-input", executor_input,
    )  # fmt: skip
    assert code == 0
    assert "customers (bq://acme-churn-dev.churn.customers): 200 rows, 16 checks, all passed" in (
        capsys.readouterr().out
    )
    report = (out / "report").read_text()
    assert report.startswith("# Data validation of `customers`: passed")
    assert "| `plan` | allowed | pass | every value is one of: basic, standard, premium |" in report
    metrics = json.loads((out / "metrics").read_text())
    assert {"name": "failed-checks", "numberValue": 0.0, "format": "RAW"} in metrics["metrics"]
    written = pd.read_parquet(out / "dataset")
    assert len(written) == 200 and str(written["tenure_months"].dtype) == "Int64"
    assert json.loads((out / "dataset" / "_validation.json").read_text())["passed"] is True
    written_back = json.loads(executor_output.read_text())["artifacts"]
    meta = written_back["metrics"]["artifacts"][0]
    assert meta["metadata"]["rows"] == 200.0
    # Like GCPC's artifact_utils: the artifacts keep their name, uri and type (the backend
    # records what the executor output says).
    for name, entry in runtime.items():
        back = written_back[name]["artifacts"][0]
        for key in ("name", "uri", "type"):
            assert back[key] == entry["artifacts"][0][key], (name, key)


def test_the_profile_component_reads_what_the_validation_step_writes(tmp_path, fake_bigquery):
    """specs/flagship.yaml and specs/forecast.yaml feed the validation step's `dataset` output
    (a folder holding `data.parquet`) to the profile component: its script, taken from the
    committed component.yaml, counts the validated rows."""
    import yaml

    fake_bigquery.tables["acme-churn-dev.churn.customers"] = customers()
    out = tmp_path / "outputs"
    code = main(
        "--dataset", DEV_URI,
        "--report", str(out / "report"),
        "--metrics", str(out / "metrics"),
        "--dataset-out", str(out / "dataset"),
    )  # fmt: skip
    assert code == 0
    component = yaml.safe_load((REPO / "specs/components/profile/component.yaml").read_text())
    command = component["deploymentSpec"]["executors"]["exec-profile"]["container"]["command"]
    assert command[:2] == ["sh", "-c"] and "pyarrow==" in command[2], command[:3]
    rows, stats = tmp_path / "rows", tmp_path / "stats.html"
    args = ["--data", str(out / "dataset"), "--max-columns", "50"]
    args += ["--stats", str(stats), "--rows", str(rows)]
    subprocess.run([sys.executable, "-c", command[3], *args], check=True)
    assert rows.read_text() == "200"
    assert stats.read_text().startswith("<p>200 rows in 1 files</p>")


def test_broken_data_exits_1_with_a_readable_summary(tmp_path, fake_bigquery, capsys):
    frame = customers()
    frame.loc[0, "plan"] = "gold"
    frame.loc[1, "tenure_months"] = 900
    fake_bigquery.tables["acme-churn-dev.churn.customers"] = frame
    out = tmp_path / "dataset"
    assert (
        main("--dataset", DEV_URI, "--dataset-out", str(out), "--report", str(tmp_path / "r")) == 1
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"customers ({DEV_URI}): 200 rows, 16 checks, 2 failed",
        (
            "  FAIL plan.allowed: 1 values are not allowed: 'gold' (1); "
            "allowed: basic, standard, premium"
        ),
        "  FAIL tenure_months.max: 1 values above the maximum 600 (largest: 900)",
    ]
    assert not (out / "data.parquet").exists()
    assert json.loads((out / "_validation.json").read_text())["checks_failed"] == 2
    assert "| `tenure_months` | max | **FAIL** |" in (tmp_path / "r").read_text()


def test_unknown_dataset_exits_2(capsys):
    assert main("--dataset", "bq://elsewhere.x.y") == 2
    assert "no dataset has the source 'bq://elsewhere.x.y'" in capsys.readouterr().err


def test_local_source_with_a_name_needs_no_cloud(tmp_path, capsys):
    path = tmp_path / "customers.parquet"
    customers().to_parquet(path, index=False)
    assert main("--name", "customers", "--source", str(path)) == 0


def test_samples_command_checks_every_declared_sample(tmp_path, capsys):
    sample = tmp_path / CUSTOMERS["sample"]
    sample.parent.mkdir(parents=True)
    customers(rows=100).to_csv(sample, index=False)
    assert main("samples", "--root", str(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 samples checked, 0 failed"
    broken = customers(rows=100)
    broken.loc[3, "customer_id"] = None
    broken.to_csv(sample, index=False)
    assert main("samples", "--root", str(tmp_path)) == 1
    assert "FAIL customer_id.not_null: 1 missing values" in capsys.readouterr().out


def drift_run(fake_bigquery, fake_monitoring, tmp_path, shift: float, metric: bool = True) -> int:
    rng = np.random.default_rng(11)
    training = customers(rows=2000)
    path = tmp_path / "training.parquet"
    training.to_parquet(path, index=False)
    instances = [
        {
            "tenure_months": int(t),
            "monthly_charges": float(c) + shift,
            "plan": str(p),
        }
        for t, c, p in zip(
            rng.integers(0, 73, 1000),
            rng.uniform(10, 120, 1000),
            rng.choice(["basic", "standard", "premium"], 1000),
            strict=True,
        )
    ]
    fake_bigquery.query_rows = [
        {"request_payload": [json.dumps({"instances": instances[i : i + 10]})]}
        for i in range(0, 1000, 10)
    ]
    report = tmp_path / "drift.json"
    to_metric = ["--metric", METRIC] if metric else []
    return main(
        "drift", "--dataset", DEV_URI, "--source", str(path),
        "--requests", REQUESTS, "--threshold", "0.2", *to_metric,
        "--report", str(report),
    )  # fmt: skip


def test_drift_command_flags_a_shifted_column(tmp_path, fake_bigquery, fake_monitoring, capsys):
    # Written to the metric, drift is its alert's to raise: the run succeeds (one page, not two).
    assert drift_run(fake_bigquery, fake_monitoring, tmp_path, shift=60.0) == 0
    printed = capsys.readouterr().out
    assert "drift above 0.2 in: monthly_charges" in printed
    assert "skipped churned: not in the requests" in printed
    [request] = fake_monitoring.requests
    assert request["name"] == "projects/acme-churn-dev"
    labels = {s["metric"]["labels"]["column"]: s for s in request["time_series"]}
    assert set(labels) == {"monthly_charges", "plan", "tenure_months"}
    assert all(s["metric"]["type"] == METRIC for s in request["time_series"])
    assert labels["monthly_charges"]["points"][0]["value"]["double_value"] > 0.2
    assert "FROM `acme-churn-dev.churn_churn_requests.*`" in fake_bigquery.queries[0]


def test_drift_without_a_metric_fails_on_drift(tmp_path, fake_bigquery, fake_monitoring, capsys):
    assert drift_run(fake_bigquery, fake_monitoring, tmp_path, shift=60.0, metric=False) == 1
    assert "drift above 0.2 in: monthly_charges" in capsys.readouterr().out
    assert fake_monitoring.requests == []


def test_drift_command_passes_similar_traffic(tmp_path, fake_bigquery, fake_monitoring, capsys):
    assert drift_run(fake_bigquery, fake_monitoring, tmp_path, shift=0.0) == 0
    assert "no column drifted above 0.2" in capsys.readouterr().out
    assert len(fake_monitoring.requests[0]["time_series"]) == 3


def test_drift_without_logged_requests_writes_nothing(tmp_path, fake_bigquery, fake_monitoring):
    fake_bigquery.tables["acme-churn-dev.churn.customers"] = customers()
    code = main("drift", "--dataset", DEV_URI, "--requests", REQUESTS, "--threshold", "0.2")
    assert code == 0
    assert fake_monitoring.requests == []


def test_drift_before_the_endpoint_logged_anything_succeeds(
    tmp_path, fake_bigquery, fake_monitoring, capsys
):
    """Until the endpoint logs its first request, its log table does not exist and
    BigQuery answers 404: the scheduled drift check has nothing to compare, and says so."""
    fake_bigquery.tables["acme-churn-dev.churn.customers"] = customers()
    fake_bigquery.query_missing = True
    code = main("drift", "--dataset", DEV_URI, "--requests", REQUESTS, "--threshold", "0.2")
    assert code == 0
    assert "does not exist yet (no request logged)" in capsys.readouterr().out
    assert fake_monitoring.requests == []


def test_module_runs_as_a_program(package_dir):
    env = dict(os.environ, PYTHONPATH=str(package_dir))
    done = subprocess.run(
        [sys.executable, "-m", "mlops_validation", "drift", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "--requests" in done.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["drift", "--dataset", DEV_URI]])
def test_bad_arguments_exit_2(args):
    with pytest.raises(SystemExit) as exit_info:
        main(*args)
    assert exit_info.value.code == 2
