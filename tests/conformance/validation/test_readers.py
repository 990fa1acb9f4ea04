"""Readers: local CSV/Parquet files, folders and globs; Cloud Storage objects and
BigQuery tables through fake clients (no network)."""

from __future__ import annotations

import io

import pytest

from data import customers


def parquet_bytes(frame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_local_csv_is_read_as_text(tmp_path):
    from mlops_validation import readers

    path = tmp_path / "customers.csv"
    customers(rows=5).to_csv(path, index=False)
    frame = readers.read(str(path))
    assert len(frame) == 5
    assert frame["tenure_months"].dtype.kind == "O"


def test_local_parquet_folder_and_glob(tmp_path):
    from mlops_validation import readers

    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        (folder / f"part-{i}.parquet").write_bytes(parquet_bytes(customers(rows=4, seed=i)))
    (folder / "_validation.json").write_text("{}")
    assert len(readers.read(str(folder))) == 12
    assert len(readers.read(str(folder / "part-[01].parquet"))) == 8
    assert readers.read(str(folder))["tenure_months"].dtype.kind == "i"


def test_unknown_local_format_needs_a_declared_one(tmp_path):
    from mlops_validation import readers

    path = tmp_path / "customers.data"
    customers(rows=3).to_csv(path, index=False)
    with pytest.raises(readers.ReadError, match="can't tell the format"):
        readers.read(str(path))
    assert len(readers.read(str(path), declared="csv")) == 3


def test_cloud_storage_glob_reads_matching_objects(fake_storage):
    from mlops_validation import readers

    csv = customers(rows=3).to_csv(index=False).encode()
    fake_storage.objects = {
        ("acme-data", "scoring/a.csv"): csv,
        ("acme-data", "scoring/b.csv"): csv,
        ("acme-data", "scoring/old/c.txt"): b"not data",
        ("acme-data", "other/d.csv"): csv,
    }
    frame = readers.read("gs://acme-data/scoring/*.csv", declared="csv")
    assert len(frame) == 6
    assert fake_storage.listed == [("acme-data", "scoring/")]


def test_cloud_storage_without_a_match_is_an_error(fake_storage):
    from mlops_validation import readers

    with pytest.raises(readers.ReadError, match="no objects match"):
        readers.read("gs://acme-data/scoring/*.csv", declared="csv")


def test_bigquery_table_is_read_with_its_types(fake_bigquery):
    from mlops_validation import readers

    fake_bigquery.tables["acme-churn-dev.churn.customers"] = customers(rows=7)
    frame = readers.read("bq://acme-churn-dev.churn.customers")
    assert len(frame) == 7
    assert readers.read("bq://acme-churn-dev.churn.customers", max_rows=2).shape[0] == 2


@pytest.mark.parametrize("uri", ["bq://", "bq://a.b", "bq://a..c"])
def test_bad_bigquery_uris_are_rejected(uri):
    from mlops_validation import readers

    with pytest.raises(readers.ReadError):
        readers.parse_table(uri)
