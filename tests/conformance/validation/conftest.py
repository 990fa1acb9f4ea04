"""Fixtures: the generated validator package and fakes of the Google clients.

The package comes from ``$MLOPSGEN_OUTPUT`` (a built output folder holding
``validation/``) or, when unset, from building ``specs/flagship.yaml`` with cargo.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[3]


def pytest_configure(config):
    given = os.environ.get("MLOPSGEN_OUTPUT")
    if given:
        out = Path(given)
    else:
        out = Path(tempfile.mkdtemp(prefix="mlops-validation-")) / "flagship"
        build = ["cargo", "run", "-q", "--", "build", "specs/flagship.yaml", "--out"]
        subprocess.run([*build, str(out)], cwd=REPO, check=True)
    config.mlopsgen_output = out
    sys.path.insert(0, str(out / "validation"))


@pytest.fixture(scope="session")
def generated(pytestconfig) -> Path:
    """The output folder of the build under test."""
    return pytestconfig.mlopsgen_output


@pytest.fixture(scope="session")
def package_dir(generated: Path) -> Path:
    return generated / "validation"


class FakeBlob:
    def __init__(self, name: str, data: bytes):
        self.name = name
        self._data = data

    def download_as_bytes(self) -> bytes:
        return self._data


class FakeStorage:
    """``storage.Client`` with objects kept in a dict ``{(bucket, name): bytes}``."""

    def __init__(self, objects: dict[tuple[str, str], bytes]):
        self.objects = objects
        self.listed: list[tuple[str, str]] = []

    def list_blobs(self, bucket: str, prefix: str = ""):
        self.listed.append((bucket, prefix))
        return [
            FakeBlob(name, data)
            for (b, name), data in sorted(self.objects.items())
            if b == bucket and name.startswith(prefix)
        ]


class FakeRows:
    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def to_dataframe(self, create_bqstorage_client: bool = True) -> pd.DataFrame:
        return self.frame


class FakeQuery:
    def __init__(self, rows: list[dict]):
        self.rows = rows

    def result(self) -> list[dict]:
        return self.rows


class NotFound(Exception):
    """What ``google.api_core.exceptions.NotFound`` carries that callers read: ``code``."""

    code = 404


class FakeBigQuery:
    """``bigquery.Client``: tables as frames, and one canned query result (or, with
    ``query_missing``, the 404 BigQuery answers when the queried table does not exist)."""

    def __init__(self, tables: dict[str, pd.DataFrame], query_rows: list[dict] = ()):
        self.tables = tables
        self.query_rows = list(query_rows)
        self.query_missing = False
        self.queries: list[str] = []

    def list_rows(self, table: str, max_results: int | None = None) -> FakeRows:
        frame = self.tables[table]
        return FakeRows(frame if max_results is None else frame.head(max_results))

    def query(self, sql: str) -> FakeQuery:
        self.queries.append(sql)
        if self.query_missing:
            raise NotFound(f"Not found: Table {sql.split('`')[1]}")
        return FakeQuery(self.query_rows)


class FakeMonitoring:
    """``MetricServiceClient`` that records what it is asked to write."""

    def __init__(self):
        self.requests: list[dict] = []

    def create_time_series(self, request: dict) -> None:
        self.requests.append(request)


@pytest.fixture
def fake_storage(monkeypatch, generated):
    from mlops_validation import readers

    fake = FakeStorage({})
    monkeypatch.setattr(readers, "storage_client", lambda: fake)
    return fake


@pytest.fixture
def fake_bigquery(monkeypatch, generated):
    from mlops_validation import readers

    fake = FakeBigQuery({})
    monkeypatch.setattr(readers, "bigquery_client", lambda project: fake)
    return fake


@pytest.fixture
def fake_monitoring(monkeypatch, generated):
    from mlops_validation import monitoring

    fake = FakeMonitoring()
    monkeypatch.setattr(monitoring, "monitoring_client", lambda: fake)
    return fake
