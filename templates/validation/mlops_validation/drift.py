"""Training/serving drift: population stability index and Jensen-Shannon divergence.

Both compare the share of values per bin in the training data (expected, ``e``) with the
share in recent prediction requests (actual, ``a``):

- ``PSI = sum((a - e) * ln(a / e))``, with shares below ``EPSILON`` raised to it so that
  an empty bin stays finite;
- ``JS = (KL(e || m) + KL(a || m)) / 2`` in bits, ``m = (e + a) / 2``: 0 for identical
  distributions, 1 for disjoint ones.

Numeric columns are cut into ``BINS`` bins at the training data's quantiles (with one
open-ended bin below the first and above the last cut); string and bool columns use one
bin per category seen on either side. Unique columns (identifiers) and timestamps are
not compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlops_validation.contracts import CATEGORICAL_TYPES, NUMERIC_TYPES, Contract
from mlops_validation.rules import coerce

BINS = 10
EPSILON = 1e-4


@dataclass(frozen=True)
class Score:
    """The drift of one column."""

    column: str
    kind: str
    psi: float
    js: float
    drifted: bool

    def to_dict(self) -> dict:
        return asdict(self)


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def js_divergence(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    m = (e + a) / 2
    return float((_kl_bits(e, m) + _kl_bits(a, m)) / 2)


def _kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log2(p[nonzero] / q[nonzero])))


def quantile_edges(training: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Cut points at the training data's inner quantiles (duplicates merged)."""
    cuts = np.quantile(training, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(cuts)


def numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin; bin ``i`` holds ``edges[i-1] <= v < edges[i]``."""
    index = np.searchsorted(edges, values, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def categorical_shares(
    training: pd.Series, recent: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    categories = sorted(set(training) | set(recent))
    expected = training.value_counts(normalize=True).reindex(categories, fill_value=0)
    actual = recent.value_counts(normalize=True).reindex(categories, fill_value=0)
    return expected.to_numpy(dtype=float), actual.to_numpy(dtype=float)


def compared_columns(contract: Contract) -> list[tuple[str, str]]:
    """(column, kind) pairs drift is computed for."""
    kinds = dict.fromkeys(NUMERIC_TYPES, "numeric")
    kinds |= dict.fromkeys(CATEGORICAL_TYPES, "categorical")
    return [
        (c.name, kinds[c.type])
        for c in contract.columns
        if c.type in kinds and not c.unique
    ]


def scores(
    contract: Contract, training: pd.DataFrame, recent: pd.DataFrame, threshold: float
) -> tuple[list[Score], list[str]]:
    """Drift per column, and the columns that could not be compared (with why)."""
    types = {c.name: c.type for c in contract.columns}
    results, skipped = [], []
    for name, kind in compared_columns(contract):
        if name not in training.columns or name not in recent.columns:
            side = "training data" if name not in training.columns else "requests"
            skipped.append(f"{name}: not in the {side}")
            continue
        expected = _valid(training[name], types[name])
        actual = _valid(recent[name], types[name])
        if expected.empty or actual.empty:
            skipped.append(f"{name}: no valid values to compare")
            continue
        if kind == "numeric":
            edges = quantile_edges(expected.to_numpy(dtype=float))
            e = numeric_shares(expected.to_numpy(dtype=float), edges)
            a = numeric_shares(actual.to_numpy(dtype=float), edges)
        else:
            e, a = categorical_shares(expected.astype(str), actual.astype(str))
        value = psi(e, a)
        results.append(Score(name, kind, value, js_divergence(e, a), value > threshold))
    return results, skipped


def _valid(series: pd.Series, kind: str) -> pd.Series:
    values, bad = coerce(series, kind)
    kept = values[series.notna() & ~bad]
    if kind == "bool":
        return kept.map(lambda v: "true" if v else "false")
    return kept


def table(results: list[Score], threshold: float) -> str:
    """The scores as aligned console lines."""
    width = max([len("column")] + [len(s.column) for s in results])
    lines = [f"  {'column':<{width}}  {'kind':<11}  {'psi':>8}  {'js':>8}"]
    for s in results:
        flag = f"  DRIFT (> {threshold:g})" if s.drifted else ""
        lines.append(
            f"  {s.column:<{width}}  {s.kind:<11}  {s.psi:8.4f}  {s.js:8.4f}{flag}"
        )
    return "\n".join(lines)
