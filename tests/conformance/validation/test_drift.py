"""Drift: PSI and Jensen-Shannon against values computed by hand from their formulas,
binning, request-log parsing, and the metric points written (fake clients)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from data import contract

EPS = 1e-4  # the documented floor of a share in the PSI


def hand_psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPS), max(a, EPS)
        total += (a - e) * math.log(a / e)
    return total


def test_psi_of_a_small_fixture_matches_the_hand_computed_value():
    from mlops_validation import drift

    # (0.4 - 0.5) ln(0.4 / 0.5) + (0.4 - 0.3) ln(0.4 / 0.3) + 0
    expected = 0.1 * math.log(1.25) + 0.1 * math.log(4 / 3)
    assert expected == pytest.approx(0.0510826, abs=1e-7)
    assert drift.psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(expected)
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_psi_keeps_empty_bins_finite():
    from mlops_validation import drift

    value = drift.psi([0.5, 0.5, 0.0], [0.5, 0.0, 0.5])
    assert value == pytest.approx(hand_psi([0.5, 0.5, 0.0], [0.5, 0.0, 0.5]))
    assert math.isfinite(value)


def test_jensen_shannon_in_bits():
    from mlops_validation import drift

    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4)
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = 1.0 * math.log2(1 / 0.75)
    assert drift.js_divergence([0.5, 0.5], [1.0, 0.0]) == pytest.approx((kl_p + kl_q) / 2)
    assert drift.js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert drift.js_divergence([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_categorical_psi_from_data_matches_hand_value():
    from mlops_validation import drift

    columns = {"plan": {"type": "string"}}
    training = pd.DataFrame({"plan": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    recent = pd.DataFrame({"plan": ["a"] * 40 + ["b"] * 40 + ["c"] * 20})
    [score], skipped = drift.scores(contract(columns), training, recent, threshold=0.2)
    assert skipped == []
    assert score.kind == "categorical"
    assert score.psi == pytest.approx(hand_psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]))
    assert not score.drifted


def test_numeric_psi_uses_training_deciles():
    from mlops_validation import drift

    columns = {"x": {"type": "float"}}
    training = pd.DataFrame({"x": np.arange(100, dtype=float)})  # 10 per decile
    recent = pd.DataFrame({"x": [float(v) for v in [*range(10)] * 5 + [*range(90, 100)] * 5]})
    [score], _ = drift.scores(contract(columns), training, recent, threshold=0.2)
    # Every training decile holds 0.1; the recent data fills only the first and last.
    expected = hand_psi([0.1] * 10, [0.5] + [0.0] * 8 + [0.5])
    assert score.psi == pytest.approx(expected)
    assert score.drifted


def test_drift_is_flagged_above_the_threshold_only():
    from mlops_validation import drift

    rng = np.random.default_rng(3)
    columns = {"x": {"type": "float"}, "id": {"type": "string", "unique": True}}
    training = pd.DataFrame({"x": rng.normal(0, 1, 5000), "id": [str(i) for i in range(5000)]})
    same = pd.DataFrame({"x": rng.normal(0, 1, 5000), "id": ["z"] * 5000})
    shifted = pd.DataFrame({"x": rng.normal(1.5, 1, 5000)})
    [calm], _ = drift.scores(contract(columns), training, same, threshold=0.2)
    [moved], _ = drift.scores(contract(columns), training, shifted, threshold=0.2)
    assert calm.column == "x"  # the unique id column is never compared
    assert calm.psi < 0.05 and not calm.drifted
    assert moved.psi > 0.2 and moved.drifted


def test_columns_missing_from_the_requests_are_skipped():
    from mlops_validation import drift

    columns = {"x": {"type": "float"}, "label": {"type": "bool"}}
    training = pd.DataFrame({"x": [1.0, 2.0], "label": [True, False]})
    recent = pd.DataFrame({"x": [1.0, 2.0]})
    scores, skipped = drift.scores(contract(columns), training, recent, threshold=0.2)
    assert [s.column for s in scores] == ["x"]
    assert skipped == ["label: not in the requests"]


def test_logged_payloads_become_instances():
    from mlops_validation import requests_log

    payloads = [
        json.dumps({"instances": [{"x": 1, "plan": "a"}, {"x": 2, "plan": "b"}]}),
        [json.dumps({"x": 3, "plan": "c"}), json.dumps({"x": 4, "nested": {"y": 1}})],
        json.dumps({"instances": [[1, 2, 3]]}),
        "not json",
        None,
    ]
    logged = requests_log.instances(payloads)
    assert logged.payloads == 5
    assert logged.skipped == 2
    assert logged.frame["x"].tolist() == [1, 2, 3, 4]
    assert "nested" not in logged.frame.columns


def test_request_query_reads_recent_rows_and_rejects_odd_names():
    from mlops_validation import readers, requests_log

    sql = requests_log.query("bq://acme-churn-dev.churn_churn_requests.*", 7, 1000)
    assert "FROM `acme-churn-dev.churn_churn_requests.*`" in sql
    assert "INTERVAL 7 DAY" in sql and sql.endswith("LIMIT 1000")
    for uri in ["bq://p.d.t`; DROP", "bq://p.d`x.t", "bq://P.d.t"]:
        with pytest.raises(readers.ReadError):
            requests_log.query(uri, 7, 10)


def test_metric_points_carry_column_and_dataset_labels():
    from datetime import UTC, datetime

    from mlops_validation import drift, monitoring

    score = drift.Score("plan", "categorical", 0.3, 0.1, True)
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    [series] = monitoring.time_series(
        "custom.googleapis.com/mlopsgen/drift_psi", "acme-churn-dev", "customers", [score], now
    )
    assert series["metric"] == {
        "type": "custom.googleapis.com/mlopsgen/drift_psi",
        "labels": {"column": "plan", "dataset": "customers"},
    }
    assert series["resource"] == {"type": "global", "labels": {"project_id": "acme-churn-dev"}}
    assert series["points"][0]["value"] == {"double_value": 0.3}


def test_metric_request_is_a_valid_create_time_series_request():
    monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")
    from datetime import UTC, datetime

    from mlops_validation import drift, monitoring

    scores = [drift.Score("plan", "categorical", 0.3, 0.1, True)]
    now = datetime(2024, 1, 2, tzinfo=UTC)
    series = monitoring.time_series("custom.googleapis.com/x", "p", "d", scores, now)
    request = monitoring_v3.CreateTimeSeriesRequest({"name": "projects/p", "time_series": series})
    point = request.time_series[0].points[0]
    assert point.value.double_value == 0.3
    assert request.time_series[0].metric.labels["column"] == "plan"
    assert point.interval.end_time.timestamp() == now.timestamp()
