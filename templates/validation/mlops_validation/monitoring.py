"""Drift scores as points of a Cloud Monitoring custom metric.

One time series per column: metric labels ``column`` and ``dataset``, monitored
resource ``global`` of the project. The metric descriptor is created by Cloud
Monitoring on the first write (a ``GAUGE`` of ``DOUBLE`` values).
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlops_validation.drift import Score

MAX_SERIES_PER_CALL = 200


def monitoring_client():
    from google.cloud import monitoring_v3

    return monitoring_v3.MetricServiceClient()


def time_series(
    metric_type: str, project: str, dataset: str, scores: list[Score], now: datetime
) -> list[dict]:
    """One series with one point per column, in the shape the API's request takes."""
    return [
        {
            "metric": {
                "type": metric_type,
                "labels": {"column": s.column, "dataset": dataset},
            },
            "resource": {"type": "global", "labels": {"project_id": project}},
            "points": [
                {"interval": {"end_time": now}, "value": {"double_value": s.psi}}
            ],
        }
        for s in scores
    ]


def publish(metric_type: str, project: str, dataset: str, scores: list[Score]) -> int:
    """Writes the scores; returns how many series were written."""
    series = time_series(metric_type, project, dataset, scores, datetime.now(UTC))
    client = monitoring_client()
    for start in range(0, len(series), MAX_SERIES_PER_CALL):
        batch = series[start : start + MAX_SERIES_PER_CALL]
        client.create_time_series(
            request={"name": f"projects/{project}", "time_series": batch}
        )
    return len(series)
