"""Reading datasets into pandas: local files, Cloud Storage objects and BigQuery tables.

CSV is read as text so that the rules, not pandas' guesses, decide each column's type;
Parquet and BigQuery keep their own types. The Google clients are created by the
``*_client`` functions, which tests replace with small fakes.
"""

from __future__ import annotations

import fnmatch
import glob
import io
from pathlib import Path

import pandas as pd

GLOB_CHARS = "*?["
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class ReadError(OSError):
    """A source that can't be read."""


def storage_client():
    from google.cloud import storage

    return storage.Client()


def bigquery_client(project: str):
    from google.cloud import bigquery

    return bigquery.Client(project=project)


def read(
    source: str,
    fmt: str | None = None,
    declared: str | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Reads ``bq://project.dataset.table``, ``gs://bucket/path`` (globs allowed) or a
    local file, folder or glob. ``fmt`` overrides the format; otherwise a Cloud Storage
    source has its ``declared`` format and a local file the one its name implies."""
    if source.startswith("bq://"):
        return read_bigquery(source, max_rows)
    if source.startswith("gs://"):
        frame = read_gcs(source, fmt or declared)
    else:
        frame = read_local(source, fmt, declared)
    return frame if max_rows is None else frame.head(max_rows)


def parse_table(uri: str) -> tuple[str, str, str]:
    """Splits ``bq://project.dataset.table`` into its three ids."""
    parts = uri.removeprefix("bq://").rsplit(".", 2)
    if len(parts) != 3 or not all(parts):
        raise ReadError(f"{uri!r} is not a bq://project.dataset.table URI")
    return parts[0], parts[1], parts[2]


def read_bigquery(uri: str, max_rows: int | None = None) -> pd.DataFrame:
    project, dataset, table = parse_table(uri)
    client = bigquery_client(project)
    rows = client.list_rows(f"{project}.{dataset}.{table}", max_results=max_rows)
    return rows.to_dataframe(create_bqstorage_client=False)


def read_gcs(uri: str, fmt: str | None) -> pd.DataFrame:
    bucket, _, path = uri.removeprefix("gs://").partition("/")
    client = storage_client()
    blobs = list(client.list_blobs(bucket, prefix=_literal_prefix(path)))
    chosen = [b for b in blobs if _matches(b.name, path)]
    if not chosen:
        raise ReadError(f"no objects match {uri}")
    chosen.sort(key=lambda b: b.name)
    return _concat(
        read_bytes(b.download_as_bytes(), file_format(b.name, fmt)) for b in chosen
    )


def read_local(path: str, fmt: str | None, declared: str | None = None) -> pd.DataFrame:
    if any(c in path for c in GLOB_CHARS):
        files = [Path(p) for p in sorted(glob.glob(path))]
    elif Path(path).is_dir():
        files = sorted(p for p in Path(path).iterdir() if _is_data_file(p))
    else:
        files = [Path(path)]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        raise ReadError(f"no data files at {path}")
    return _concat(
        read_bytes(
            f.read_bytes(), fmt or _implied(f.name) or file_format(f.name, declared)
        )
        for f in files
    )


def read_bytes(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=True)
    return pd.read_parquet(io.BytesIO(data))


def file_format(name: str, fmt: str | None) -> str:
    """The declared format, else the one the file name implies."""
    if fmt:
        return fmt
    implied = _implied(name)
    if implied is None:
        raise ReadError(f"can't tell the format of {name}: use .csv or .parquet")
    return implied


def _implied(name: str) -> str | None:
    return FORMATS.get(Path(name).suffix.lower())


def _literal_prefix(path: str) -> str:
    cut = min((path.index(c) for c in GLOB_CHARS if c in path), default=len(path))
    return path[:cut]


def _matches(name: str, path: str) -> bool:
    if any(c in path for c in GLOB_CHARS):
        return fnmatch.fnmatchcase(name, path)
    if path.endswith("/"):
        return name.startswith(path) and not name.endswith("/")
    return name == path


def _is_data_file(path: Path) -> bool:
    hidden = path.name.startswith((".", "_"))
    return path.is_file() and not hidden and path.suffix.lower() in FORMATS


def _concat(frames) -> pd.DataFrame:
    return pd.concat(list(frames), ignore_index=True)
