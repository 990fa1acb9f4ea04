"""Reports of a validation run: console summary, JSON, Markdown and KFP metrics.

A Kubeflow ``system.Metrics`` output of a container step is a file at the artifact path;
the validator writes the metrics there as ``{"metrics": [{"name", "numberValue",
"format"}]}``. The pipeline UI shows an artifact's *metadata*, which a container sets
through the executor output file named in the executor input (``{{$}}``): when the
step passes ``--executor-input``, the same numbers are written there as the metadata
of the ``metrics`` artifact.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_validation.rules import Result

PASS = "pass"
FAIL = "FAIL"


def summary(result: Result) -> str:
    """A few lines for the console: the counts, then every failed check."""
    head = f"{result.dataset} ({result.source}): {result.rows} rows, "
    head += f"{len(result.checks)} checks, "
    if result.passed:
        return head + "all passed"
    lines = [head + f"{len(result.failed)} failed"]
    lines += [f"  {FAIL} {c.column}.{c.rule}: {c.message}" for c in result.failed]
    return "\n".join(lines)


def to_json(result: Result) -> dict:
    return {
        "dataset": result.dataset,
        "source": result.source,
        "rows": result.rows,
        "passed": result.passed,
        "checks_total": len(result.checks),
        "checks_failed": len(result.failed),
        "checks": [c.to_dict() for c in result.checks],
    }


def to_markdown(result: Result) -> str:
    verdict = "passed" if result.passed else "failed"
    lines = [
        f"# Data validation of `{result.dataset}`: {verdict}",
        "",
        f"- Source: `{result.source}`",
        f"- Rows: {result.rows}",
        f"- Checks: {len(result.checks)}, failed: {len(result.failed)}",
        "",
        "| Column | Rule | Result | Details |",
        "| --- | --- | --- | --- |",
    ]
    for c in result.checks:
        outcome = PASS if c.passed else f"**{FAIL}**"
        lines.append(f"| `{c.column}` | {c.rule} | {outcome} | {_cell(c.message)} |")
    return "\n".join(lines) + "\n"


def metrics(result: Result) -> dict[str, float]:
    """The numbers a pipeline run shows for the step."""
    return {
        "rows": float(result.rows),
        "checks": float(len(result.checks)),
        "failed-checks": float(len(result.failed)),
        "passed": 1.0 if result.passed else 0.0,
    }


def write_metrics(path: str, values: dict[str, float]) -> None:
    entries = [
        {"name": k, "numberValue": v, "format": "RAW"} for k, v in values.items()
    ]
    write_text(path, json.dumps({"metrics": entries}, indent=2) + "\n")


def write_executor_output(executor_input: str, artifact: str, values: dict) -> None:
    """Sets the metadata of output ``artifact`` through the KFP executor output file.

    Like GCPC's ``container/utils/artifact_utils.py`` (``update_output_artifact``), every output
    artifact is written back whole, as the executor input describes it (name, uri, type,
    metadata), so the backend records each with its URI and type; ``artifact`` also gets
    ``values`` merged into its metadata, which is what the pipeline UI shows.
    """
    spec = json.loads(executor_input)
    outputs = spec.get("outputs", {})
    output_file = outputs.get("outputFile")
    if not output_file:
        return
    document = {"artifacts": {}}
    for name, entry in outputs.get("artifacts", {}).items():
        runtime = [dict(a) for a in entry.get("artifacts", [])]
        if name == artifact and runtime:
            runtime[0]["metadata"] = {**runtime[0].get("metadata", {}), **values}
        document["artifacts"][name] = {"artifacts": runtime}
    if artifact not in document["artifacts"]:
        document["artifacts"][artifact] = {"artifacts": [{"metadata": values}]}
    write_text(output_file, json.dumps(document, indent=2) + "\n")


def write_json(path: str, document: dict) -> None:
    write_text(path, json.dumps(document, indent=2, default=str) + "\n")


def write_text(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
