"""Test data: the flagship `customers` contract and clean rows that satisfy it."""

from __future__ import annotations

import numpy as np
import pandas as pd

CUSTOMERS = {
    "format": None,
    "sample": "data/samples/customers.csv",
    "columns": {
        "churned": {"type": "bool", "nullable": False},
        "customer_id": {"type": "string", "nullable": False, "unique": True},
        "feature_timestamp": {"type": "timestamp", "nullable": False},
        "monthly_charges": {"type": "float", "min": 0, "max_missing_ratio": 0.01},
        "plan": {"type": "string", "allowed": ["basic", "standard", "premium"]},
        "tenure_months": {"type": "int", "min": 0, "max": 600},
    },
}


def contract(columns: dict | None = None, name: str = "customers"):
    from mlops_validation.contracts import Contract

    spec = dict(CUSTOMERS)
    if columns is not None:
        spec["columns"] = columns
    return Contract.from_dict(name, spec)


def customers(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    """Typed, clean rows (as Parquet or BigQuery would give them)."""
    rng = np.random.default_rng(seed)
    charges = rng.uniform(10, 120, rows).round(2)
    charges[0] = np.nan  # 1 of 200 missing: within max_missing_ratio 0.01
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(rows)],
            "tenure_months": rng.integers(0, 73, rows),
            "monthly_charges": charges,
            "plan": rng.choice(["basic", "standard", "premium"], rows),
            "churned": rng.random(rows) < 0.3,
            "feature_timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows), unit="h"),
        }
    )


def csv_roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame written as CSV and read back the way the validator reads CSV."""
    from mlops_validation import readers

    return readers.read_bytes(frame.to_csv(index=False).encode(), "csv")
