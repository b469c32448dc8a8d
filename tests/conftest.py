"""Shared fixtures: small fixed-seed data sets and a transactions builder (treat them as read-only)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import crmtools.reporting.notebook_format  # noqa: F401  (before the test modules import nbformat: 2.3 s less per worker)
from crmtools.sampledata import SampleConfig, write_sample


@pytest.fixture(autouse=True)
def _working_folder_restored():
    """Fail a test that leaves the process in another working folder (later tests resolve paths against it)."""
    before = os.getcwd()
    yield
    after = os.getcwd()
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test left the working folder at {after} (it was {before}); restore it", pytrace=False)


@pytest.fixture(scope="session")
def small_sample_dir(tmp_path_factory):
    """A small sample data set as Parquet: 1,500 customers over 15 months from 2024-01, seed 3.

    Written once per session (per worker with pytest-xdist); tests must not write into it.
    """
    return write_sample(tmp_path_factory.mktemp("small_sample"), SampleConfig(customers=1500, months=15, seed=3))


#: Columns of the rows given to ``make_transactions`` unless ``columns=`` names others.
TX_COLUMNS = ("order_id", "customer_id", "order_datetime", "quantity", "amount")

_NUMBER_COLUMNS = {"quantity": "int64", "amount": "float64"}


def _transactions(rows, columns=TX_COLUMNS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    if "order_datetime" in frame.columns:
        frame["order_datetime"] = pd.to_datetime(frame["order_datetime"], format="ISO8601")
    for col in frame.columns:
        if col not in _NUMBER_COLUMNS and col != "order_datetime":
            frame[col] = frame[col].astype("str")
    return frame.astype({c: dtype for c, dtype in _NUMBER_COLUMNS.items() if c in frame.columns})


@pytest.fixture(scope="session")
def make_transactions():
    """Builder of small hand-checkable transactions: ``make_transactions(rows, columns=TX_COLUMNS)``.

    One tuple per order line, values in the order of ``columns``. ``order_datetime`` is parsed (ISO 8601
    text such as ``"2025-10-31 23:00"``, or timestamps), ``quantity`` becomes int64 and ``amount`` float64,
    and every other column text (pandas' ``str`` dtype; None stays missing). Each call builds a new frame.
    """
    return _transactions
