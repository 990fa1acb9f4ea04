"""The other targets' calls of the validator: every data-validation step of the compiled
pipelines and every drift DAG passes arguments the command line accepts, naming a dataset
whose contract is in ``contracts.json``. Skipped when the build has no such files."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

VALIDATOR = "/validator:"


def validator_calls(generated: Path) -> list[tuple[str, list[str]]]:
    calls = []
    for path in sorted(generated.glob("pipelines/*/*.json")):
        spec = json.loads(path.read_text())
        executors = spec.get("deploymentSpec", {}).get("executors", {})
        for name, executor in sorted(executors.items()):
            container = executor.get("container", {})
            if VALIDATOR in container.get("image", ""):
                calls.append((f"{path.name}:{name}", container.get("args", [])))
    return calls


def drift_calls(generated: Path) -> list[tuple[str, list[str]]]:
    calls = []
    for path in sorted(generated.glob("dags/*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "DRIFT_ARGS" for t in node.targets
            ):
                calls.append((path.name, ast.literal_eval(node.value)))
    return calls


def contract_of(args) -> str:
    from mlops_validation import contracts

    found = contracts.find(contracts.load(), args.name, args.dataset)
    return found.name


def test_pipeline_steps_call_the_validator_as_it_expects(generated):
    from mlops_validation import cli

    calls = validator_calls(generated)
    if not calls:
        pytest.skip("no compiled pipeline runs the validator")
    for where, args in calls:
        assert args and args[0] not in ("samples", "drift"), where
        parsed = cli.validate_parser().parse_args(args)
        assert parsed.report and parsed.metrics and parsed.dataset_out, where
        # The launcher replaces {{$}} with the executor input, which names the output file.
        assert parsed.executor_input == "{{$}}", where
        assert contract_of(parsed), where


def test_drift_dags_call_the_validator_as_it_expects(generated):
    from mlops_validation import cli

    calls = drift_calls(generated)
    if not calls:
        pytest.skip("no drift DAG in this build")
    for where, args in calls:
        assert args[0] == "drift", where
        parsed = cli.drift_parser().parse_args(args[1:])
        assert parsed.metric == "custom.googleapis.com/mlopsgen/drift_psi", where
        assert parsed.requests.startswith("bq://") and parsed.requests.endswith(".*"), where
        assert contract_of(parsed), where
