"""The rule engine: checks a data frame against a dataset contract.

Every declared rule becomes one :class:`Check` with a readable message, passed or not.
A value is *missing* when pandas sees it as null (an empty CSV field, ``NA``, ``null``,
a BigQuery ``NULL``); present values that are not of the column's type fail the type
check and are left out of the range, allowed-values and uniqueness checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlops_validation.contracts import Column, Contract

EXAMPLES = 5
TRUE_TEXT = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


@dataclass(frozen=True)
class Check:
    """The outcome of one rule."""

    column: str
    rule: str
    passed: bool
    message: str
    failing: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Result:
    """Every check of one dataset."""

    dataset: str
    source: str
    rows: int
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failed


def validate(frame: pd.DataFrame, contract: Contract, source: str = "") -> Result:
    """Runs every rule of ``contract`` over ``frame``."""
    rows = len(frame)
    checks = [
        Check("*", "rows", rows > 0, f"{rows} rows" if rows else "the dataset is empty")
    ]
    for column in contract.columns:
        checks.extend(check_column(frame, column))
    return Result(contract.name, source, rows, tuple(checks))


def check_column(frame: pd.DataFrame, column: Column) -> list[Check]:
    """The checks of one column (just one failed ``present`` check if it is absent)."""
    name = column.name
    if name not in frame.columns:
        return [Check(name, "present", False, "the column is missing", len(frame))]
    series = frame[name]
    values, bad = coerce(series, column.type)
    checks = [type_check(series, column, bad)]
    missing = int(series.isna().sum())
    if not column.nullable:
        checks.append(
            _check(
                name,
                "not_null",
                missing,
                f"{missing} missing values",
                "no missing values",
            )
        )
    if column.max_missing_ratio is not None:
        checks.append(
            missing_ratio_check(name, missing, len(series), column.max_missing_ratio)
        )
    valid = values[series.notna() & ~bad]
    if column.min is not None:
        low = valid[valid < column.min]
        where = f"below the minimum {show(column.min)}"
        checks.append(range_check(name, "min", low, where))
    if column.max is not None:
        high = valid[valid > column.max]
        where = f"above the maximum {show(column.max)}"
        checks.append(range_check(name, "max", high, where))
    if column.allowed:
        checks.append(allowed_check(name, valid, column.allowed))
    if column.unique:
        checks.append(unique_check(name, valid))
    return checks


def typed(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """``frame`` with every contract column converted to its type (for valid data)."""
    dtypes = {"int": "Int64", "float": "float64", "bool": "boolean", "string": "string"}
    out = frame.copy()
    for column in contract.columns:
        if column.name in out.columns:
            values, _ = coerce(out[column.name], column.type)
            out[column.name] = values.astype(dtypes.get(column.type, values.dtype))
    return out


def coerce(series: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Converts ``series`` to the column type ``kind``.

    Returns the converted values and a mask of the present values that are not of it.
    """
    if series.dtype.kind == "O":
        converted = _parse_text(series.astype(object), kind)
    else:
        converted = _convert_typed(series, kind)
    bad = series.notna() & converted.isna()
    return converted, bad.astype(bool)


def _parse_text(series: pd.Series, kind: str) -> pd.Series:
    if kind == "string":
        return series.where(series.map(lambda v: isinstance(v, str)))
    text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    if kind == "bool":
        return text.map(_to_bool, na_action="ignore").astype("boolean")
    if kind == "timestamp":
        return pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    numbers = pd.to_numeric(text.where(text.map(_is_number_like)), errors="coerce")
    if kind == "int" and numbers.dtype.kind == "f":
        return _integral(numbers)
    return numbers


def _convert_typed(series: pd.Series, kind: str) -> pd.Series:
    dtype = series.dtype.kind
    nothing = pd.Series(pd.NA, index=series.index, dtype=object)
    if kind == "float" and dtype in "iuf":
        return series.astype("float64")
    if kind == "int" and dtype in "iu":
        return series
    if kind == "int" and dtype == "f":
        return _integral(series.astype("float64"))
    if kind == "bool" and dtype == "b":
        return series.astype("boolean")
    if kind == "timestamp" and dtype == "M":
        return series
    return nothing


def _integral(numbers: pd.Series) -> pd.Series:
    return numbers.where(np.isfinite(numbers) & (numbers == np.floor(numbers)))


def _is_number_like(value: object) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _to_bool(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return TRUE_TEXT.get(str(value).lower(), pd.NA)


def type_check(series: pd.Series, column: Column, bad: pd.Series) -> Check:
    count = int(bad.sum())
    present = int(series.notna().sum())
    if count:
        examples = ", ".join(show(v) for v in series[bad].unique()[:EXAMPLES])
        message = f"{count} values are not {column.type}: {examples}"
    else:
        message = f"all {present} present values are {column.type}"
    return Check(column.name, "type", not count, message, count)


def missing_ratio_check(name: str, missing: int, rows: int, limit: float) -> Check:
    ratio = missing / rows if rows else 0.0
    share = f"missing ratio {ratio:.4f} ({missing} of {rows} rows)"
    failed = ratio > limit
    message = f"{share} is above the maximum {show(limit)}" if failed else share
    return Check(
        name, "max_missing_ratio", not failed, message, missing if failed else 0
    )


def range_check(name: str, rule: str, outside: pd.Series, where: str) -> Check:
    count = len(outside)
    if not count:
        return Check(name, rule, True, f"no values {where}")
    extreme = outside.min() if rule == "min" else outside.max()
    label = "smallest" if rule == "min" else "largest"
    message = f"{count} values {where} ({label}: {show(extreme)})"
    return Check(name, rule, False, message, count)


def allowed_check(name: str, values: pd.Series, allowed: tuple[str, ...]) -> Check:
    outside = values[~values.isin(allowed)]
    if outside.empty:
        return Check(
            name, "allowed", True, f"every value is one of: {', '.join(allowed)}"
        )
    counts = outside.value_counts(sort=True)
    shown = ", ".join(f"{show(v)} ({n})" for v, n in counts.head(EXAMPLES).items())
    message = (
        f"{len(outside)} values are not allowed: {shown}; allowed: {', '.join(allowed)}"
    )
    return Check(name, "allowed", False, message, len(outside))


def unique_check(name: str, values: pd.Series) -> Check:
    counts = values.value_counts()
    repeated = counts[counts > 1]
    if repeated.empty:
        return Check(name, "unique", True, "every value is unique")
    shown = ", ".join(
        f"{show(v)} ({n} times)" for v, n in repeated.head(EXAMPLES).items()
    )
    message = f"{len(repeated)} values appear more than once: {shown}"
    return Check(name, "unique", False, message, int(repeated.sum()))


def show(value: object) -> str:
    """A value as Python would write it, without numpy's type wrappers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def _check(column: str, rule: str, failing: int, bad: str, good: str) -> Check:
    return Check(column, rule, not failing, bad if failing else good, failing)
