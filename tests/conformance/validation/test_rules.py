"""The rule engine on generated data: clean data passes, each rule fails on data that
breaks it, with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data import contract, csv_roundtrip, customers


def run(frame, columns=None):
    from mlops_validation import rules

    return rules.validate(frame, contract(columns), "test")


def failed(result) -> dict[tuple[str, str], str]:
    return {(c.column, c.rule): c.message for c in result.failed}


@pytest.mark.parametrize("reader", [lambda f: f, csv_roundtrip], ids=["typed", "csv"])
def test_clean_data_passes_every_rule(reader):
    result = run(reader(customers()))
    assert result.passed, failed(result)
    rules = {(c.column, c.rule) for c in result.checks}
    assert rules == {
        ("*", "rows"),
        ("churned", "type"),
        ("churned", "not_null"),
        ("customer_id", "type"),
        ("customer_id", "not_null"),
        ("customer_id", "unique"),
        ("feature_timestamp", "type"),
        ("feature_timestamp", "not_null"),
        ("monthly_charges", "type"),
        ("monthly_charges", "max_missing_ratio"),
        ("monthly_charges", "min"),
        ("plan", "type"),
        ("plan", "allowed"),
        ("tenure_months", "type"),
        ("tenure_months", "min"),
        ("tenure_months", "max"),
    }


def test_type_rule_fails_on_text_in_a_numeric_csv_column():
    frame = customers()
    frame["tenure_months"] = frame["tenure_months"].astype(object)
    frame.loc[3, "tenure_months"] = "abc"
    frame.loc[4, "tenure_months"] = "1.5"
    result = run(csv_roundtrip(frame))
    assert failed(result) == {("tenure_months", "type"): "2 values are not int: 'abc', '1.5'"}


def test_type_rule_fails_on_a_typed_column_of_another_type():
    frame = customers()
    frame["customer_id"] = np.arange(len(frame))
    result = run(frame)
    assert failed(result) == {("customer_id", "type"): "200 values are not string: 0, 1, 2, 3, 4"}


def test_type_rule_for_bool_and_timestamp_text():
    columns = {"flag": {"type": "bool"}, "at": {"type": "timestamp"}}
    frame = pd.DataFrame(
        {
            "flag": ["true", "False", "1", "0", "yes"],
            "at": ["2024-01-01", "2024-01-02T03:04:05Z", "soon", None, "2024-02-30"],
        }
    )
    result = run(frame, columns)
    assert failed(result) == {
        ("flag", "type"): "1 values are not bool: 'yes'",
        ("at", "type"): "2 values are not timestamp: 'soon', '2024-02-30'",
    }


def test_not_null_rule_fails_on_missing_values():
    frame = customers()
    frame.loc[[5, 9], "customer_id"] = None
    frame["churned"] = frame["churned"].astype("boolean")
    frame.loc[2, "churned"] = pd.NA
    result = run(frame)
    assert failed(result) == {
        ("customer_id", "not_null"): "2 missing values",
        ("churned", "not_null"): "1 missing values",
    }


def test_range_rules_fail_below_min_and_above_max():
    frame = customers()
    frame.loc[[1, 2], "tenure_months"] = [-5, -1]
    frame.loc[7, "tenure_months"] = 601
    frame.loc[8, "monthly_charges"] = -0.5
    result = run(frame)
    assert failed(result) == {
        ("tenure_months", "min"): "2 values below the minimum 0 (smallest: -5)",
        ("tenure_months", "max"): "1 values above the maximum 600 (largest: 601)",
        ("monthly_charges", "min"): "1 values below the minimum 0 (smallest: -0.5)",
    }


def test_allowed_rule_fails_on_other_values():
    frame = csv_roundtrip(customers())
    frame.loc[[0, 1], "plan"] = "gold"
    frame.loc[2, "plan"] = "Basic"
    result = run(frame)
    assert failed(result) == {
        ("plan", "allowed"): "3 values are not allowed: 'gold' (2), 'Basic' (1); "
        "allowed: basic, standard, premium"
    }


def test_unique_rule_fails_on_repeated_values():
    frame = customers()
    frame.loc[[10, 11, 12], "customer_id"] = "c00001"
    frame.loc[20, "customer_id"] = "c00002"
    result = run(frame)
    assert failed(result) == {
        ("customer_id", "unique"): "2 values appear more than once: "
        "'c00001' (4 times), 'c00002' (2 times)"
    }


def test_missing_ratio_rule_fails_above_the_limit_and_holds_at_it():
    frame = customers()  # 1 of 200 missing: 0.005
    frame.loc[[1, 2], "monthly_charges"] = np.nan  # 3 of 200: 0.015 > 0.01
    result = run(frame)
    assert failed(result) == {
        ("monthly_charges", "max_missing_ratio"): "missing ratio 0.0150 (3 of 200 rows)"
        " is above the maximum 0.01"
    }
    at_limit = customers(rows=100)
    at_limit.loc[[0], "monthly_charges"] = np.nan  # exactly 0.01
    assert run(at_limit).passed


def test_missing_column_and_empty_dataset_fail():
    frame = customers().drop(columns=["plan"])
    assert failed(run(frame)) == {("plan", "present"): "the column is missing"}
    empty = customers().head(0)
    assert failed(run(empty)) == {("*", "rows"): "the dataset is empty"}


def test_values_of_the_wrong_type_are_not_range_checked():
    frame = customers()
    frame["tenure_months"] = frame["tenure_months"].astype(object)
    frame.loc[0, "tenure_months"] = "-7 months"
    result = run(csv_roundtrip(frame))
    assert set(failed(result)) == {("tenure_months", "type")}


def test_integral_floats_are_ints_but_fractions_are_not():
    columns = {"n": {"type": "int"}}
    assert run(pd.DataFrame({"n": [1.0, 2.0, np.nan]}), columns).passed
    result = run(pd.DataFrame({"n": [1.0, 2.5]}), columns)
    assert failed(result) == {("n", "type"): "1 values are not int: 2.5"}


def test_typed_frame_has_the_contract_types():
    from mlops_validation import rules

    typed = rules.typed(csv_roundtrip(customers()), contract())
    assert str(typed["tenure_months"].dtype) == "Int64"
    assert str(typed["monthly_charges"].dtype) == "float64"
    assert str(typed["churned"].dtype) == "boolean"
    assert typed["customer_id"].dtype.kind == "O"
