"""Prediction requests that a Vertex AI endpoint logged to BigQuery.

Request-response logging writes one row per sampled request, with the request body in
``request_payload`` (JSON text, one string or a repeated field) and the time in
``logging_time``. A payload is either a whole predict request (``{"instances": [...]}``)
or the instances themselves; every instance that is a JSON object becomes one row, its
keys the columns. Instances given as plain lists carry no column names and are counted
as skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from mlops_validation import readers

PROJECT_ID = re.compile(r"^[a-z][a-z0-9.:-]*$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]+$")
TABLE_ID = re.compile(r"^[A-Za-z0-9_]*\*?$")


@dataclass(frozen=True)
class Requests:
    """Logged instances as a frame, how many payload items were not usable, and whether
    the log table exists yet."""

    frame: pd.DataFrame
    payloads: int
    skipped: int
    missing: bool = False


def query(uri: str, days: int, limit: int) -> str:
    """SQL selecting the newest payloads of the last ``days`` days from ``uri``
    (``bq://project.dataset.table``; the table may end in ``*``)."""
    project, dataset, table = readers.parse_table(uri)
    ids = (PROJECT_ID, project), (DATASET_ID, dataset), (TABLE_ID, table)
    if not table or not all(pattern.match(value) for pattern, value in ids):
        raise readers.ReadError(f"{uri!r} is not a BigQuery table or table wildcard")
    since = f"TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {int(days)} DAY)"
    return (
        f"SELECT request_payload FROM `{project}.{dataset}.{table}`\n"
        f"WHERE logging_time >= {since}\n"
        f"ORDER BY logging_time DESC\n"
        f"LIMIT {int(limit)}"
    )


def read(uri: str, days: int, limit: int) -> Requests:
    project = readers.parse_table(uri)[0]
    client = readers.bigquery_client(project)
    try:
        rows = client.query(query(uri, days, limit)).result()
    except Exception as error:
        # BigQuery answers 404 (google.api_core.exceptions.NotFound) for a table, or a
        # wildcard matching none, that does not exist: the endpoint has logged no request
        # yet (its log table appears with logging), so there is nothing to compare.
        if getattr(error, "code", None) != 404:
            raise
        return Requests(pd.DataFrame(), 0, 0, missing=True)
    return instances([row["request_payload"] for row in rows])


def instances(payloads: Iterable[object]) -> Requests:
    """Every instance of every payload, as one frame."""
    found: list[dict] = []
    count = skipped = 0
    for payload in payloads:
        count += 1
        for item in _items(payload):
            records, bad = _records(item)
            found.extend(records)
            skipped += bad
    return Requests(pd.DataFrame.from_records(found), count, skipped)


def _items(payload: object) -> list[object]:
    if payload is None:
        return []
    if isinstance(payload, (str, bytes, dict)):
        return [payload]
    return list(payload)


def _records(item: object) -> tuple[list[dict], int]:
    if isinstance(item, (str, bytes)):
        try:
            item = json.loads(item)
        except ValueError:
            return [], 1
    if isinstance(item, dict) and "instances" in item:
        item = item["instances"]
    if isinstance(item, dict):
        item = [item]
    if not isinstance(item, list):
        return [], 1
    records = [_flat(i) for i in item if isinstance(i, dict)]
    return records, len(item) - len(records)


def _flat(instance: dict) -> dict:
    """Keeps scalar features; nested values are not columns of a contract."""
    return {k: v for k, v in instance.items() if not isinstance(v, (dict, list))}
