"""Tests for crmtools.checks: one message voice for every input check."""

from __future__ import annotations

import re

import duckdb
import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from crmtools.checks import (
    column_names,
    message,
    require_columns,
    require_flag,
    require_frame,
    require_in,
    require_range,
)

#: Every message: "<what is wrong>; allowed: <what is allowed>; received: <what was received>." and a hint.
VOICE = re.compile(r"^[^;]+; allowed: .+; received: .+\.( [A-Z].*)?$", re.S)


def _error(call, error):
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert VOICE.match(text), text
    return text


def test_message_has_three_parts_and_an_optional_hint():
    assert message("x is wrong", allowed="a", received="'b'") == "x is wrong; allowed: a; received: 'b'."
    with_hint = message("x is wrong", allowed="a", received="b", hint="Fix it.")
    assert with_hint == "x is wrong; allowed: a; received: b. Fix it."


# --------------------------------------------------------------------------- columns


@pytest.fixture
def frame():
    return pd.DataFrame({"order_id": ["o1"], "product_id": ["p1"], "quantity": [1]})


def test_present_columns_pass_silently(frame):
    assert require_columns(frame, ["order_id", "quantity"], name="transactions") is None
    assert require_columns(frame, {"order_id": "the basket"}, name="transactions") is None
    assert require_columns(frame, [], name="transactions") is None


def test_missing_columns_name_what_is_missing_needed_and_received(frame):
    text = _error(lambda: require_columns(frame, ["order_id", "sku", "store"], name="transactions"), ValueError)
    assert text == (
        "transactions is missing columns 'sku', 'store'; allowed: a table with columns 'order_id', 'sku', "
        "'store'; received: columns 'order_id', 'product_id', 'quantity'."
    )


def test_roles_and_hint_are_shown(frame):
    text = _error(
        lambda: require_columns(
            frame,
            {"order_id": "the basket", "sku": "the item"},
            name="transactions",
            hint="Name your own columns with the *_col= arguments.",
        ),
        ValueError,
    )
    assert "missing column 'sku' (the item);" in text
    assert "allowed: a table with columns 'order_id', 'sku';" in text  # roles only where something is missing
    assert text.endswith(
        "received: columns 'order_id', 'product_id', 'quantity'. Name your own columns with the *_col= arguments."
    )


def test_one_missing_column_of_one_needed_is_singular():
    text = _error(lambda: require_columns(pd.DataFrame(), ["amount"], name="roi"), ValueError)
    assert text == "roi is missing column 'amount'; allowed: a table with column 'amount'; received: no columns."


def test_a_wide_table_is_shortened_in_the_message():
    wide = pd.DataFrame(columns=[f"c{i}" for i in range(45)])
    text = _error(lambda: require_columns(wide, ["x"], name="data"), ValueError)
    assert "'c29', ... and 15 more." in text and "'c30'" not in text


def test_duplicate_requirements_are_listed_once(frame):
    text = _error(lambda: require_columns(frame, ["sku", "sku"], name="t"), ValueError)
    assert "missing column 'sku';" in text and "a table with column 'sku';" in text


@pytest.mark.parametrize(
    "make",
    [
        lambda f: f,
        lambda f: pl.from_pandas(f),
        lambda f: pl.from_pandas(f).lazy(),
        lambda f: nw.from_native(pl.from_pandas(f).lazy()),
        lambda f: nw.from_native(f, eager_only=True),
        lambda f: duckdb.from_arrow(pl.from_pandas(f).to_arrow()),
    ],
    ids=["pandas", "polars", "polars-lazy", "narwhals-lazy", "narwhals", "duckdb"],
)
def test_every_engine_is_checked_the_same(frame, make):
    native = make(frame)
    assert column_names(native) == ["order_id", "product_id", "quantity"]
    require_columns(native, ["order_id"], name="transactions")
    with pytest.raises(ValueError, match=r"^transactions is missing column 'sku'; .*received: columns 'order_id', "):
        require_columns(native, ["sku"], name="transactions")


def test_anything_with_columns_is_accepted():
    class Table:
        columns = ("a", "b")

    require_columns(Table(), ["a"], name="table")
    with pytest.raises(ValueError, match="table is missing column 'c'"):
        require_columns(Table(), ["c"], name="table")


# --------------------------------------------------------------------------- frames and choices


def test_require_frame():
    require_frame(pd.DataFrame(), name="data")
    text = _error(
        lambda: require_frame([1], name="data", allowed="experiment unit rows (a pandas DataFrame)"), TypeError
    )
    assert text == "data has the wrong type; allowed: experiment unit rows (a pandas DataFrame); received: list."
    assert "received: polars.dataframe.frame.DataFrame." in _error(
        lambda: require_frame(pl.DataFrame(), name="d"), TypeError
    )


def test_require_in():
    assert require_in("ja", ("en", "ja"), name="language") == "ja"
    assert require_in("fdr_bh", {"holm": 1, "fdr_bh": 2}, name="correction") == "fdr_bh"  # a mapping's keys
    text = _error(lambda: require_in("fr", ("en", "ja"), name="language"), ValueError)
    assert text == "Unknown language; allowed: 'en', 'ja'; received: 'fr'."
    with pytest.raises(ValueError, match=r"Unknown metric; allowed: 'lift'; received: \['lift'\]\."):
        require_in(["lift"], ("lift",), name="metric")  # unhashable
    with pytest.raises(ValueError, match="Unknown metric"):
        require_in(np.array(["lift", "x"]), ("lift",), name="metric")  # array-like


def test_require_flag():
    assert require_flag(np.bool_(True), name="f") is True and require_flag(False, name="f") is False
    for value in (1, 0, "yes", None):
        text = _error(lambda v=value: require_flag(v, name="prune_redundant"), TypeError)
        assert text.startswith("prune_redundant has the wrong type; allowed: True or False; received: ")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        ({}, "a number"),
        ({"allow_none": True}, "a number or None"),
        ({"low": 0}, "a number >= 0"),
        ({"low": 0, "closed": "neither"}, "a number > 0"),
        ({"high": 1}, "a number <= 1"),
        ({"high": 1, "closed": "left"}, "a number < 1"),
        ({"low": 0, "high": 1, "closed": "neither"}, "a number in (0, 1)"),
        ({"low": 0, "high": 1, "closed": "right"}, "a number in (0, 1]"),
        ({"low": 1, "integer": True, "allow_none": True}, "a whole number >= 1 or None"),
    ],
)
def test_allowed_ranges_are_described(kwargs, allowed):
    text = _error(lambda: require_range("x", name="v", **kwargs), TypeError)
    assert text == f"v has the wrong type; allowed: {allowed}; received: 'x' (str)."


@pytest.mark.parametrize(
    ("value", "kwargs", "ok"),
    [
        (0.0, {"low": 0}, True),
        (0.0, {"low": 0, "closed": "right"}, False),
        (1.0, {"low": 0, "high": 1}, True),
        (1.0, {"low": 0, "high": 1, "closed": "left"}, False),
        (1, {"low": 0, "high": 1, "closed": "right"}, True),
        (-1e-12, {"low": 0}, False),
        (np.float64(0.5), {"low": 0, "high": 1, "closed": "neither"}, True),
        (np.int64(3), {"low": 1, "integer": True}, True),
        (0, {"low": 1, "integer": True}, False),
        (10**30, {"low": 1, "integer": True}, True),
        (float("inf"), {"high": 5}, False),
        (float("inf"), {}, True),
    ],
)
def test_bounds(value, kwargs, ok):
    if ok:
        assert require_range(value, name="v", **kwargs) is value
    else:
        text = _error(lambda: require_range(value, name="v", **kwargs), ValueError)
        assert text.startswith("v is out of range; allowed: ") and text.endswith(f"; received: {value!r}.")


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        (True, {}),
        (np.bool_(False), {}),
        ("1", {}),
        (None, {}),
        (1.5, {"integer": True}),
        (2.0, {"integer": True}),
        (np.float32(1), {"integer": True}),
        ([1], {}),
    ],
)
def test_wrong_types(value, kwargs):
    text = _error(lambda: require_range(value, name="v", **kwargs), TypeError)
    assert text.startswith("v has the wrong type; allowed: ")


def test_none_only_when_allowed_and_nan_never():
    assert require_range(None, name="v", low=1, allow_none=True) is None
    text = _error(lambda: require_range(float("nan"), name="min_threshold"), ValueError)
    assert text == "min_threshold is not a number; allowed: a number; received: nan."
    with pytest.raises(ValueError, match="Unknown closed"):
        require_range(1, name="v", closed="open")
