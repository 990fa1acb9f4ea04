"""Reports stay well-formed whatever the data holds."""

from __future__ import annotations

import pandas as pd

from data import contract


def test_markdown_cells_escape_pipes_and_newlines():
    from mlops_validation import report, rules

    columns = {"plan": {"type": "string", "allowed": ["a|b", "c"]}}
    frame = pd.DataFrame({"plan": ["a|b", "x|y\nz", "`code`"]})
    result = rules.validate(frame, contract(columns), "gs://b/p")
    markdown = report.to_markdown(result)
    [row] = [line for line in markdown.splitlines() if line.startswith("| `plan` | allowed")]
    assert row.count(" | ") == 3  # four cells, the pipes in values escaped
    # repr() writes the newline as \n; Markdown needs that backslash doubled.
    assert "'x\\|y\\\\nz' (1)" in row


def test_json_report_round_trips(tmp_path):
    import json

    from mlops_validation import report, rules

    columns = {"n": {"type": "int", "min": 0}}
    result = rules.validate(pd.DataFrame({"n": [1, -1]}), contract(columns), "local")
    path = tmp_path / "r.json"
    report.write_json(str(path), report.to_json(result))
    document = json.loads(path.read_text())
    assert document["passed"] is False
    assert document["checks_failed"] == 1
    assert document["checks"][-1] == {
        "column": "n",
        "rule": "min",
        "passed": False,
        "message": "1 values below the minimum 0 (smallest: -1)",
        "failing": 1,
    }
