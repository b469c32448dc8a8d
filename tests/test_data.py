"""Validated loading (crmtools.data, crmtools.validation): every bad input gets one clear error.

Row numbers in problems are 1-based *data* rows (the header is not counted), so
"row 2" is the second data row, i.e. line 3 of a CSV file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmtools import validation
from crmtools.data import (
    UCI_ONLINE_RETAIL_COLUMNS,
    DataConfig,
    TableSource,
    empty_table,
    inspect_dataset,
    load_dataset,
    load_table,
)
from crmtools.errors import MAX_EXAMPLES, DataValidationError, Problem
from crmtools.sampledata import SampleConfig, write_sample
from crmtools.schema import TRANSACTIONS
from crmtools.validation import Policies, check_table, coerce_table

REPO = Path(__file__).resolve().parents[1]
ONLINE_RETAIL = REPO.parent / "shared" / "data" / "online_retail.parquet"


# --------------------------------------------------------------------------- helpers


def _lines() -> pd.DataFrame:
    """Five clean order lines: row 4 is a return, row 5 a guest order at the last second of October."""
    return pd.DataFrame(
        {
            "order_id": ["O1", "O1", "O2", "R1", "O3"],
            "customer_id": ["C1", "C1", "C2", "C1", None],
            "order_datetime": pd.to_datetime(
                [
                    "2025-10-01 10:00:00",
                    "2025-10-01 10:00:00",
                    "2025-10-15 21:30:00",
                    "2025-10-20 09:00:00",
                    "2025-10-31 23:59:59",
                ]
            ),
            "product_id": ["A", "B", "A", "A", "C"],
            "quantity": [1, 2, 3, -1, 1],
            "unit_price": [1000.0, 250.0, 1000.0, 1000.0, 480.0],
            "amount": [1000.0, 500.0, 3000.0, -1000.0, 480.0],
            "channel": ["web", "web", "app", "web", "phone"],
        }
    )


def _text_lines() -> pd.DataFrame:
    """The same lines with every column as text, ready for planting bad values."""
    frame = _lines()
    frame["order_datetime"] = frame["order_datetime"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame.astype({"quantity": "object", "unit_price": "object", "amount": "object"})


def _write(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> Path:
    name = path.name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    elif name.endswith(".tsv"):
        frame.to_csv(path, index=False, sep="\t", encoding=encoding)
    else:  # .csv, .csv.gz
        frame.to_csv(path, index=False, encoding=encoding)
    return path


def _load(path: Path, policies: Policies = Policies(), quality: list | None = None, **source) -> pd.DataFrame:
    return load_table("transactions", TableSource(file=str(path), **source), policies=policies, quality=quality)


def _only_problem(info: pytest.ExceptionInfo) -> Problem:
    problems = info.value.problems
    assert len(problems) == 1, str(info.value)
    return problems[0]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- a clean file


def test_clean_csv_loads_with_canonical_columns_types_and_values(tmp_path):
    out = _load(_write(_lines(), tmp_path / "orders.csv"))
    assert list(out.columns) == TRANSACTIONS.names[:8]
    assert out["quantity"].dtype == "Int64"
    assert out["unit_price"].dtype == "float64" and out["amount"].dtype == "float64"
    assert out["order_datetime"].dtype == "datetime64[ns]"
    assert pd.api.types.is_string_dtype(out["order_id"]) and pd.api.types.is_string_dtype(out["customer_id"])
    assert out["customer_id"].isna().tolist() == [False, False, False, False, True]
    assert out["order_datetime"].iloc[-1] == pd.Timestamp("2025-10-31 23:59:59")
    assert out["amount"].tolist() == [1000.0, 500.0, 3000.0, -1000.0, 480.0]


# --------------------------------------------------------------------------- each bad input, one clear error


def test_missing_column_names_the_file_the_column_and_the_columns_found(tmp_path):
    path = _write(_lines().drop(columns="channel"), tmp_path / "orders.csv")
    with pytest.raises(DataValidationError, match=r"orders\.csv, column 'channel': required column is missing") as info:
        _load(path)
    problem = _only_problem(info)
    assert (problem.table, problem.source, problem.column) == ("transactions", str(path), "channel")
    assert "sales channel" in problem.expected
    assert "columns found" in problem.expected and "'order_id'" in problem.expected
    assert "column mapping" in problem.expected


def test_text_in_quantity_names_rows_values_and_expectation(tmp_path):
    frame = _text_lines()
    frame.loc[1, "quantity"] = "two"
    frame.loc[3, "quantity"] = "x"
    path = _write(frame, tmp_path / "orders.csv")
    with pytest.raises(DataValidationError, match=r"column 'quantity'.*row 2 \('two'\), row 4 \('x'\).*whole number"):
        _load(path)
    with pytest.raises(DataValidationError) as info:
        _load(path)
    problem = _only_problem(info)
    assert problem.source == str(path) and problem.column == "quantity"
    assert (problem.rows, problem.values, problem.count) == ((2, 4), ("two", "x"), 2)
    assert problem.expected == "a whole number"


def test_fractional_quantity_is_reported_once_as_not_whole(tmp_path):
    frame = _text_lines()
    frame.loc[2, "quantity"] = "1.5"
    frame.loc[2, "amount"] = "1500.0"
    with pytest.raises(DataValidationError, match="not whole numbers") as info:
        _load(_write(frame, tmp_path / "orders.csv"))
    problem = _only_problem(info)
    assert (problem.column, problem.rows, problem.values) == ("quantity", (3,), ("1.5",))


def test_only_a_few_offending_rows_are_shown_with_the_total(tmp_path):
    frame = pd.concat([_text_lines()] * 4, ignore_index=True)
    frame["order_id"] = [f"O{i}" for i in range(len(frame))]
    frame["quantity"] = "many"
    with pytest.raises(
        DataValidationError,
        match=r"20 rows \(data rows counted from 1, header excluded\): row 1 \('many'\).*row 5 \('many'\) and 15 more",
    ) as info:
        _load(_write(frame, tmp_path / "orders.csv"))
    problem = _only_problem(info)
    assert problem.rows == tuple(range(1, MAX_EXAMPLES + 1)) and problem.count == 20


def test_unparseable_dates(tmp_path):
    frame = _text_lines()
    frame.loc[1, "order_datetime"] = "yesterday"
    frame.loc[2, "order_datetime"] = "2025-13-45"
    frame.loc[4, "order_datetime"] = "31/02/2025"
    path = _write(frame, tmp_path / "orders.csv")
    with pytest.raises(
        DataValidationError, match=r"orders\.csv, column 'order_datetime': values cannot be read"
    ) as info:
        _load(path)
    problem = _only_problem(info)
    assert problem.rows == (2, 3, 5)
    assert problem.values == ("yesterday", "2025-13-45", "31/02/2025")
    assert "2025-10-31 14:05:00" in problem.expected


def test_dates_in_several_iso_shapes_are_all_read(tmp_path):
    # The format inferred from the first value ("...10:00") must not reject later values with seconds.
    frame = _text_lines()
    frame["order_datetime"] = [
        "2025-10-01 10:00",
        "2025-10-01 10:00",
        "2025-10-15",
        "2025-10-20T09:00:00",
        "2025-10-31 23:59:59.999",
    ]
    out = _load(_write(frame, tmp_path / "orders.csv"))
    assert out["order_datetime"].tolist() == [
        pd.Timestamp("2025-10-01 10:00"),
        pd.Timestamp("2025-10-01 10:00"),
        pd.Timestamp("2025-10-15"),
        pd.Timestamp("2025-10-20 09:00"),
        pd.Timestamp("2025-10-31 23:59:59.999"),
    ]


def test_negative_price(tmp_path):
    frame = _text_lines()
    frame.loc[2, ["unit_price", "amount"]] = ["-5.0", "-15.0"]
    with pytest.raises(DataValidationError, match=r"column 'unit_price'.*row 3 \(-5\.0\).*at least 0") as info:
        _load(_write(frame, tmp_path / "orders.csv"))
    problem = _only_problem(info)
    assert (problem.column, problem.rows, problem.values, problem.count) == ("unit_price", (3,), (-5.0,), 1)
    assert "never negative" in problem.expected


def test_duplicate_keys(tmp_path):
    frame = _lines()
    frame.loc[1, ["product_id", "quantity", "unit_price", "amount"]] = ["A", 1, 1000.0, 1000.0]  # O1/A twice
    with pytest.raises(DataValidationError, match=r"column 'order_id, product_id': duplicate keys") as info:
        _load(_write(frame, tmp_path / "orders.csv"))
    problem = _only_problem(info)
    assert (problem.rows, problem.values, problem.count) == ((2,), ("O1 / A",), 1)
    assert "duplicates: drop" in problem.expected


def test_every_declared_check_names_its_rows(tmp_path):
    # Scores must lie in 0-10 and be present, groups must be treatment or holdout: each check lists its own rows;
    # a missing score fails only "missing", not the range. Problems come sorted by column, then check.
    surveys = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "responded_at": ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05"],
            "score": ["7", "11", "", "-1", "12"],
        }
    )
    with pytest.raises(DataValidationError) as info:
        load_table("surveys", TableSource(file=str(_write(surveys, tmp_path / "nps.csv"))))
    found = [(p.column, p.message, p.rows, p.values, p.count) for p in info.value.problems]
    assert found == [
        ("score", "values are missing", (3,), (pd.NA,), 1),
        ("score", "check failed: values above 10.0", (2, 5), (11, 12), 2),
        ("score", "check failed: values below 0.0", (4,), (-1,), 1),
    ]
    assert all(p.source.endswith("nps.csv") for p in info.value.problems)
    contacts = pd.DataFrame(
        {
            "campaign_id": ["K1", "K1", "K1"],
            "customer_id": ["C1", "C2", "C3"],
            "group": ["treatment", "control", "holdout"],
            "contacted_at": ["2025-10-01", "2025-10-01", "2025-10-01"],
        }
    )
    with pytest.raises(DataValidationError, match=r"column 'group': check failed: values outside") as info:
        load_table("campaign_contacts", TableSource(file=str(_write(contacts, tmp_path / "contacts.csv"))))
    problem = _only_problem(info)
    assert (problem.rows, problem.values, problem.count) == ((2,), ("control",), 1)
    assert "treatment" in problem.expected and "holdout" in problem.expected


def test_duplicate_keys_with_a_missing_part(tmp_path):
    # Two answers of one customer without a time: the time is reported missing, and the repeated key (customer,
    # missing time) is named as such, not a traceback from formatting a missing value.
    surveys = pd.DataFrame({"customer_id": ["C1", "C1", "C2"], "responded_at": ["", "", "2025-10-02"], "score": 7})
    with pytest.raises(DataValidationError) as info:
        load_table("surveys", TableSource(file=str(_write(surveys, tmp_path / "nps.csv"))))
    missing, repeated = info.value.problems
    assert (missing.column, missing.message, missing.rows) == ("responded_at", "values are missing", (1, 2))
    assert (repeated.column, repeated.message) == ("customer_id, responded_at", "duplicate keys")
    assert (repeated.rows, repeated.values, repeated.count) == ((2,), ("C1 / (missing)",), 1)


@pytest.mark.parametrize("name", ["zero_bytes.csv", "header_only.csv", "header_only.parquet", "header_only.xlsx"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    if name.startswith("zero"):
        path.write_bytes(b"")
    else:
        _write(_lines().iloc[:0], path)
    with pytest.raises(DataValidationError, match=rf"{name}: the file (is empty|has no data rows)") as info:
        _load(path)
    problem = _only_problem(info)
    assert problem.column is None and "data row" in problem.expected


def test_wrong_encoding_suggests_cp932_and_cp932_reads_it(tmp_path):
    frame = _lines()
    frame["product_name"] = ["緑茶", "梅干し", "緑茶", "緑茶", "蕎麦"]
    path = _write(frame, tmp_path / "売上.csv", encoding="cp932")
    with pytest.raises(
        DataValidationError, match=r"売上\.csv: the file is not valid utf-8 text.*encoding: cp932"
    ) as info:
        _load(path)
    assert _only_problem(info).column is None
    out = _load(path, encoding="cp932")
    assert out["product_name"].tolist() == ["緑茶", "梅干し", "緑茶", "緑茶", "蕎麦"]


def test_unknown_file_type(tmp_path):
    path = tmp_path / "orders.json"
    path.write_text('{"order_id": ["O1"]}', encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"orders\.json: unknown file type '\.json'.*\.parquet.*\.csv"):
        _load(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match=r"nowhere\.csv: file not found"):
        _load(tmp_path / "nowhere.csv")


def test_unknown_table_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown table 'orders'.*transactions"):
        load_table("orders", TableSource(file=str(tmp_path / "x.csv")))


def test_several_problems_in_one_file_are_listed_at_once(tmp_path):
    frame = _text_lines()
    frame.loc[0, "amount"] = "999.0"  # 1 x 1000 is not 999
    frame.loc[1, "quantity"] = "two"
    frame.loc[2, "order_datetime"] = "not a date"
    frame.loc[3, ["unit_price", "amount"]] = ["-1000.0", "1000.0"]  # -1 x -1000
    frame.loc[4, ["order_id", "product_id"]] = ["O1", "A"]  # duplicates row 1
    with pytest.raises(DataValidationError, match=r"^5 data problems found:") as info:
        _load(_write(frame, tmp_path / "orders.csv"))
    found = {(p.column, p.rows) for p in info.value.problems}
    assert found == {
        ("amount", (1,)),
        ("quantity", (2,)),
        ("order_datetime", (3,)),
        ("unit_price", (4,)),
        ("order_id, product_id", (5,)),
    }
    assert all(p.source.endswith("orders.csv") and p.expected for p in info.value.problems)
    assert len(str(info.value).splitlines()) == 6


def test_problems_in_several_tables_are_collected_together(tmp_path):
    bad_tx = _text_lines()
    bad_tx.loc[0, "quantity"] = "one"
    _write(bad_tx, tmp_path / "transactions.csv")
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "first_seen": ["2025-01-01", "someday"]})
    _write(customers, tmp_path / "customers.csv")
    dataset, problems, _quality = inspect_dataset(DataConfig(path=str(tmp_path)))
    assert dataset is None
    assert {(p.table, p.column, p.rows) for p in problems} == {
        ("transactions", "quantity", (1,)),
        ("customers", "first_seen", (2,)),
    }
    with pytest.raises(DataValidationError, match=r"2 data problems found"):
        load_dataset(str(tmp_path))


def test_tables_checked_two_at_a_time_report_as_when_checked_in_turn(tmp_path, monkeypatch):
    """Files are read and checked two tables at a time; the problems and data-quality rows still come in the
    tables' order (here the order lines are checked last of all, slowed down), as when checked one after another."""
    import time

    import crmtools.data as data_module

    bad_tx = _text_lines()
    bad_tx.loc[0, "quantity"] = "one"
    _write(bad_tx, tmp_path / "transactions.csv")
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C2"], "first_seen": ["2025-01-01", "someday", None]})
    _write(customers, tmp_path / "customers.csv")
    real = data_module.validate_raw

    def slow_order_lines(name, *args, **kwargs):
        if name == "transactions":
            time.sleep(0.5)  # the other thread meanwhile checks every other table
        return real(name, *args, **kwargs)

    monkeypatch.setattr(data_module, "validate_raw", slow_order_lines)
    _, together, quality_together = inspect_dataset(DataConfig(path=str(tmp_path)))
    monkeypatch.setattr(data_module, "_each_table", lambda check, files: [check(name) for name in data_module.TABLES])
    _, in_turn, quality_in_turn = inspect_dataset(DataConfig(path=str(tmp_path)))
    tables = [p.table for p in together]  # the customers' problems were found first
    assert tables[0] == "transactions" and tables.count("customers") >= 2
    assert tables == sorted(tables, key=list(data_module.TABLES).index)
    assert together == in_turn
    pd.testing.assert_frame_equal(quality_together, quality_in_turn)


def test_a_folder_without_transactions_is_a_clear_problem(tmp_path):
    with pytest.raises(DataValidationError, match=r"no transactions file found.*transactions\.parquet"):
        load_dataset(str(tmp_path))


def test_absent_optional_tables_load_empty_with_canonical_columns(tmp_path):
    _write(_lines(), tmp_path / "transactions.csv")
    dataset = load_dataset(str(tmp_path))
    assert len(dataset.transactions) == 5
    for name in ("customers", "products", "campaigns", "campaign_contacts", "experiments"):
        table = getattr(dataset, name)
        assert table.empty
        assert list(table.columns) == list(empty_table(name).columns)


# --------------------------------------------------------------------------- policies: explicit, counted, never silent


def _quality(rows: list[dict], check: str) -> tuple[int, str]:
    (match,) = [(r["rows"], r["action"]) for r in rows if r["check"] == check]
    return match


@pytest.mark.parametrize("policy", ["keep", "drop", "error"])
def test_returns_policy(tmp_path, policy):
    path = _write(_lines(), tmp_path / "orders.csv")
    quality: list[dict] = []
    if policy == "error":
        with pytest.raises(DataValidationError, match=r"column 'quantity': negative quantities.*row 4 \(-1\)"):
            _load(path, Policies(returns="error"), quality)
    else:
        out = _load(path, Policies(returns=policy), quality)
        assert ("R1" in set(out["order_id"])) == (policy == "keep")
        assert len(out) == (5 if policy == "keep" else 4)
    assert _quality(quality, "return or cancellation lines") == (1, policy)


@pytest.mark.parametrize("policy", ["keep", "drop", "error"])
def test_missing_customer_policy(tmp_path, policy):
    path = _write(_lines(), tmp_path / "orders.csv")
    quality: list[dict] = []
    if policy == "error":
        with pytest.raises(DataValidationError, match=r"column 'customer_id': customer ids are missing.*row 5"):
            _load(path, Policies(missing_customer="error"), quality)
    else:
        out = _load(path, Policies(missing_customer=policy), quality)
        assert int(out["customer_id"].isna().sum()) == (1 if policy == "keep" else 0)
    assert _quality(quality, "lines without a customer id") == (1, policy)


@pytest.mark.parametrize("policy", ["error", "drop", "keep"])
def test_duplicates_policy(tmp_path, policy):
    frame = pd.concat([_lines(), _lines().iloc[[2]]], ignore_index=True)  # row 6 repeats row 3 (O2 / A)
    path = _write(frame, tmp_path / "orders.csv")
    quality: list[dict] = []
    if policy == "error":
        with pytest.raises(DataValidationError, match=r"duplicate keys.*row 6 \('O2 / A'\)"):
            _load(path, Policies(duplicates="error"), quality)
        return
    out = _load(path, Policies(duplicates=policy), quality)
    assert len(out) == (5 if policy == "drop" else 6)
    assert _quality(quality, "duplicate key rows") == (1, policy)


def test_invalid_rows_drop_counts_them_and_keeps_file_row_numbers(tmp_path):
    frame = _text_lines()
    frame.loc[0, "quantity"] = "x"
    frame.loc[1, "order_datetime"] = "bad"
    quality: list[dict] = []
    out = _load(_write(frame, tmp_path / "orders.csv"), Policies(invalid_rows="drop"), quality)
    assert out["order_id"].tolist() == ["O2", "R1", "O3"]
    assert _quality(quality, "rows read") == (5, "loaded")
    assert _quality(quality, "invalid rows") == (2, "drop")
    # A later error still names the row of the file (row 4), not the row of the filtered table.
    with pytest.raises(DataValidationError, match=r"negative quantities.*row 4 \(-1\)") as info:
        _load(_write(frame, tmp_path / "orders.csv"), Policies(invalid_rows="drop", returns="error"))
    assert _only_problem(info).rows == (4,)


def test_every_row_read_is_either_returned_or_counted_as_dropped(tmp_path):
    frame = _text_lines()
    frame = pd.concat([frame, frame.iloc[[0]], frame.iloc[[1]]], ignore_index=True)
    frame.loc[5, ["order_id", "product_id"]] = ["O1", "A"]  # row 6 duplicates row 1
    frame.loc[6, ["order_id", "order_datetime"]] = ["O9", "never"]  # row 7 is invalid
    path = _write(frame, tmp_path / "orders.csv")
    options = itertools.product(["keep", "drop"], ["keep", "drop"], ["drop", "keep"])
    for returns, missing_customer, duplicates in options:
        policies = Policies(
            returns=returns, missing_customer=missing_customer, duplicates=duplicates, invalid_rows="drop"
        )
        quality: list[dict] = []
        out = _load(path, policies, quality)
        read = _quality(quality, "rows read")[0]
        dropped = sum(r["rows"] for r in quality if r["action"] == "drop")
        assert read == 7 and len(out) + dropped == read, (policies, quality)


def test_policies_reject_unknown_values_and_names():
    with pytest.raises(ValueError, match=r"Policy 'returns' must be one of \('keep', 'drop', 'error'\); got 'ignore'"):
        Policies(returns="ignore")
    with pytest.raises(ValueError, match=r"Unknown data policy \['retruns'\]"):
        Policies.from_dict({"retruns": "keep"})
    assert Policies.from_dict(None) == Policies()


def test_default_policies_are_documented_values():
    assert Policies() == Policies(returns="keep", missing_customer="keep", duplicates="error", invalid_rows="error")


# --------------------------------------------------------------------------- amount


def test_amount_must_equal_quantity_times_price(tmp_path):
    frame = _lines()
    frame.loc[2, "amount"] = 2999.0
    with pytest.raises(DataValidationError, match=r"amount differs from quantity x unit_price.*row 3 \(2999\.0\)"):
        _load(_write(frame, tmp_path / "orders.csv"))
    frame.loc[2, "amount"] = 3000.004  # rounding within the tolerance
    assert _load(_write(frame, tmp_path / "orders.csv"))["amount"].iloc[2] == pytest.approx(3000.004)
    frame.loc[2, "amount"] = 2999.0
    loose = _load(_write(frame, tmp_path / "orders.csv"), Policies(amount_tolerance=5.0))
    assert loose["amount"].iloc[2] == 2999.0


def test_amount_is_computed_when_absent(tmp_path):
    out = _load(_write(_lines().drop(columns="amount"), tmp_path / "orders.csv"))
    assert out["amount"].tolist() == [1000.0, 500.0, 3000.0, -1000.0, 480.0]
    assert "amount" in out.columns[:8]


# --------------------------------------------------------------------------- formats and column mapping


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx", ".tsv", ".csv.gz"])
def test_readers_give_identical_frames(tmp_path, suffix):
    expected = _load(_write(_lines(), tmp_path / "orders.csv"))
    got = _load(_write(_lines(), tmp_path / f"orders{suffix}"))
    pd.testing.assert_frame_equal(got, expected)


def _uci_layout() -> pd.DataFrame:
    """Five lines in the UCI Online Retail layout (one cancellation, one line without a customer)."""
    return pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "536366", "C536379", "536380"],
            "StockCode": ["85123A", "71053", "22633", "D", "22961"],
            "Description": [
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "WHITE METAL LANTERN",
                "HAND WARMER UNION JACK",
                "Discount",
                "JAM MAKING SET PRINTED",
            ],
            "Quantity": [6, 6, 6, -1, 24],
            "InvoiceDate": pd.to_datetime(
                ["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 08:28", "2010-12-01 09:41", "2010-12-01 09:45"]
            ),
            "UnitPrice": [2.55, 3.39, 1.85, 27.5, 1.45],
            "CustomerID": [17850.0, 17850.0, 17850.0, 14527.0, np.nan],
            "Country": ["United Kingdom"] * 4 + ["France"],
        }
    )


def _uci_source(path: Path) -> TableSource:
    return TableSource(file=str(path), columns=UCI_ONLINE_RETAIL_COLUMNS, fill={"channel": "web"})


def test_uci_online_retail_layout_maps_onto_the_model(tmp_path):
    raw = _uci_layout()
    # The original CSV writes dates as 12/1/2010 8:26 (month first, no leading zeros).
    as_text = raw.assign(
        InvoiceDate=[f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}" for d in raw["InvoiceDate"]]
    )
    assert as_text["InvoiceDate"].iloc[0] == "12/1/2010 8:26"
    frames = {
        "csv": load_table("transactions", _uci_source(_write(as_text, tmp_path / "retail.csv"))),
        "parquet": load_table("transactions", _uci_source(_write(raw, tmp_path / "retail.parquet"))),
        "xlsx": load_table("transactions", _uci_source(_write(raw, tmp_path / "retail.xlsx"))),
    }
    out = frames["parquet"]
    assert list(out.columns) == [*TRANSACTIONS.names[:8], "product_name", "store"]
    assert out["order_id"].tolist() == ["536365", "536365", "536366", "C536379", "536380"]
    assert out["customer_id"].tolist()[:4] == ["17850", "17850", "17850", "14527"]  # not '17850.0'
    assert out["customer_id"].isna().tolist() == [False] * 4 + [True]
    assert out["amount"].tolist() == [15.3, 20.34, 11.1, -27.5, 34.8]
    assert out["store"].iloc[-1] == "France" and out["channel"].unique().tolist() == ["web"]
    assert out["order_datetime"].iloc[0] == pd.Timestamp("2010-12-01 08:26")
    for fmt in ("csv", "xlsx"):
        pd.testing.assert_frame_equal(frames[fmt], out, obj=fmt)


def test_uci_online_retail_ii_layout_uses_the_same_mapping(tmp_path):
    raw = _uci_layout().rename(columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"})
    out = load_table("transactions", _uci_source(_write(raw, tmp_path / "retail_ii.parquet")))
    expected = load_table("transactions", _uci_source(_write(_uci_layout(), tmp_path / "retail.parquet")))
    pd.testing.assert_frame_equal(out, expected)


def test_two_input_columns_onto_one_canonical_column_is_an_error(tmp_path):
    raw = _uci_layout().assign(Invoice=lambda f: f["InvoiceNo"])
    with pytest.raises(DataValidationError, match=r"column 'order_id': several input columns map onto"):
        load_table("transactions", _uci_source(_write(raw, tmp_path / "retail.parquet")))


def test_problems_name_the_users_own_column(tmp_path):
    raw = _uci_layout().astype({"Quantity": "object"})
    raw.loc[2, "Quantity"] = "six"
    with pytest.raises(DataValidationError, match=r"retail\.csv, column 'Quantity'.*row 3 \('six'\)"):
        load_table("transactions", _uci_source(_write(raw, tmp_path / "retail.csv")))


def test_data_config_from_params_points_at_your_own_file(tmp_path):
    own = tmp_path / "exports"
    own.mkdir()
    _write(_uci_layout(), own / "retail.csv")
    config = DataConfig.from_dict(
        {
            "path": "exports",
            "policies": {"missing_customer": "drop"},
            "tables": {
                "transactions": {
                    "file": "exports/retail.csv",
                    "columns": UCI_ONLINE_RETAIL_COLUMNS,
                    "fill": {"channel": "web"},
                }
            },
        },
        base_dir=tmp_path,
    )
    dataset = load_dataset(config)
    assert len(dataset.transactions) == 4
    assert dataset.quality.set_index("check").loc["lines without a customer id", ["rows", "action"]].tolist() == [
        1,
        "drop",
    ]
    with pytest.raises(ValueError, match=r"Unknown data option \['pth'\]"):
        DataConfig.from_dict({"pth": "x"})
    with pytest.raises(ValueError, match=r"Unknown table 'orders' in data.tables"):
        DataConfig.from_dict({"tables": {"orders": "x.csv"}})


# --------------------------------------------------------------------------- time zones


def test_timezone_handling(tmp_path):
    """Datetimes are naive business time (default Asia/Tokyo).

    - tz-aware values are converted to the business time zone, then made naive;
    - text with mixed UTC offsets is converted value by value;
    - naive values are taken to be business time already and left as they are.
    """
    aware = _lines()
    aware["order_datetime"] = pd.to_datetime(
        ["2025-10-01 01:00", "2025-10-01 01:00", "2025-10-15 12:30", "2025-10-20 00:00", "2025-10-31 15:30"]
    ).tz_localize("UTC")
    out = _load(_write(aware, tmp_path / "aware.parquet"))
    assert out["order_datetime"].dtype == "datetime64[ns]"
    assert out["order_datetime"].tolist() == [
        pd.Timestamp("2025-10-01 10:00"),
        pd.Timestamp("2025-10-01 10:00"),
        pd.Timestamp("2025-10-15 21:30"),
        pd.Timestamp("2025-10-20 09:00"),
        pd.Timestamp("2025-11-01 00:30"),
    ]  # last: November in Tokyo

    mixed = _text_lines()
    mixed["order_datetime"] = [
        "2025-10-01T10:00:00+09:00",
        "2025-10-01T01:00:00Z",
        "2025-09-30T20:00:00-05:00",
        "2025-10-01 01:00:00+00:00",
        "2025-10-01 10:00:00",
    ]
    out = _load(_write(mixed, tmp_path / "mixed.csv"))
    assert out["order_datetime"].tolist() == [pd.Timestamp("2025-10-01 10:00")] * 5

    naive = _load(_write(_lines(), tmp_path / "naive.parquet"))
    pd.testing.assert_series_equal(naive["order_datetime"], _lines()["order_datetime"].astype("datetime64[ns]"))

    london = load_table("transactions", TableSource(file=str(tmp_path / "aware.parquet")), timezone="Europe/London")
    assert london["order_datetime"].iloc[0] == pd.Timestamp("2025-10-01 02:00")  # BST, UTC+1


# --------------------------------------------------------------------------- inputs are never changed


def test_loading_does_not_change_the_file(tmp_path):
    path = _write(_lines().drop(columns="amount"), tmp_path / "transactions.csv")
    before, mtime = _sha(path), path.stat().st_mtime_ns
    _load(path, Policies(returns="drop"))
    load_dataset(str(tmp_path))
    assert _sha(path) == before and path.stat().st_mtime_ns == mtime


def test_validation_does_not_mutate_the_input_frame():
    frame = _text_lines()
    frame.loc[1, "quantity"] = "two"
    frame.loc[2, "amount"] = "1.0"
    original = frame.copy(deep=True)
    coerced, problems, bad = coerce_table(frame, TRANSACTIONS, source="frame")
    more, failing, _ = check_table(coerced, TRANSACTIONS, source="frame", skip_rows=bad)
    assert [p.column for p in problems + more] == ["quantity", "amount"]
    assert bad.tolist() == [False, True, False, False, False] and failing.sum() == 1
    pd.testing.assert_frame_equal(frame, original)


@pytest.mark.parametrize("dates", ["text", "unreadable"])
def test_columns_converted_two_at_a_time_give_the_same_table_problems_and_rows(dates, monkeypatch):
    """A large table's columns are converted in two threads: the same values, problems (in column order) and
    failed rows as one after another, bad numbers, unreadable values and dates that cannot be read included."""
    frame = pd.concat([_text_lines()] * 400, ignore_index=True)
    frame.loc[[3, 1500], "quantity"] = ["two", "1.5"]
    frame.loc[[7, 1800], "amount"] = ["inf", "x"]
    frame.loc[9, "customer_id"] = "  "
    if dates == "unreadable":
        frame["order_datetime"] = pd.Series([{"not": "a date"}] * len(frame), dtype=object)
    frame.loc[11, "order_datetime"] = "31/31/2025"
    monkeypatch.setattr(validation, "_THREADED_ROWS", 10**9)
    alone = coerce_table(frame, TRANSACTIONS, source="frame")
    monkeypatch.setattr(validation, "_THREADED_ROWS", 1)
    threads = []
    monkeypatch.setattr(validation, "ThreadPoolExecutor", _counting_pool(threads))
    together = coerce_table(frame, TRANSACTIONS, source="frame")
    assert threads == [2]  # converted in two threads
    pd.testing.assert_frame_equal(together[0], alone[0], check_exact=True)
    assert together[1] == alone[1] and len(alone[1]) >= 3
    pd.testing.assert_series_equal(together[2], alone[2])


def _counting_pool(seen: list):
    from concurrent.futures import ThreadPoolExecutor

    def pool(max_workers, **options):
        seen.append(max_workers)
        return ThreadPoolExecutor(max_workers, **options)

    return pool


# --------------------------------------------------------------------------- the real UCI data (optional)


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="needs ../shared/data/online_retail.parquet")
def test_uci_online_retail_matches_the_published_figures():
    quality: list[dict] = []
    policies = Policies(returns="keep", missing_customer="keep", duplicates="keep", invalid_rows="drop")
    tx = load_table("transactions", _uci_source(ONLINE_RETAIL), policies=policies, quality=quality)
    # Published: 541,909 rows; 406,829 with a CustomerID; 4,372 customers; 4,070 StockCodes; 38 countries.
    assert _quality(quality, "rows read") == (541_909, "loaded")
    assert _quality(quality, "invalid rows") == (2, "drop")  # the two negative prices ("Adjust bad debt")
    # negative lines: 8,905 with a customer (cancellations), 1,719 without (383 guest "C" invoices, 1,336 write-offs)
    assert _quality(quality, "return or cancellation lines") == (8_905, "keep")
    assert _quality(quality, "other negative lines") == (1_719, "keep")
    assert _quality(quality, "zero-price lines") == (2_515, "keep")
    assert _quality(quality, "lines without a customer id") == (135_078, "keep")
    assert len(tx) == 541_907
    assert int(tx["customer_id"].notna().sum()) == 406_829
    assert tx["customer_id"].nunique() == 4_372
    assert tx["product_id"].nunique() == 4_070
    assert tx["store"].nunique() == 38
    assert int(tx["quantity"].sum()) == 5_176_450 - 2
    assert tx["order_datetime"].min() == pd.Timestamp("2010-12-01 08:26")
    assert tx["order_datetime"].max() < pd.Timestamp("2011-12-10")


# --------------------------------------------------------------------------- numbers: finite, whole, plausible


@pytest.mark.parametrize("dtype", ["int", "float"])
@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e999", np.inf])
def test_non_finite_values_are_problems_in_numeric_columns_of_either_type(dtype, value):
    from crmtools.schema import Column, TableSpec

    spec = TableSpec("t", (Column("x", dtype),))
    frame = pd.DataFrame({"x": pd.Series(["1", value, "3"], dtype=object)})
    out, problems, bad = coerce_table(frame, spec, source="t.csv")
    (problem,) = problems
    assert (problem.message, problem.rows, problem.count) == ("values are not finite numbers", (2,), 1)
    assert bad.tolist() == [False, True, False]
    assert out["x"].isna().tolist() == [False, True, False]  # not left as inf for later sums


def test_non_finite_numbers_from_parquet_are_problems_too(tmp_path):
    frame = _lines()
    frame.loc[1, ["unit_price", "amount"]] = [np.inf, np.inf]
    with pytest.raises(DataValidationError) as info:
        _load(_write(frame, tmp_path / "orders.parquet"))
    assert {(p.column, p.message, p.rows) for p in info.value.problems} == {
        ("unit_price", "values are not finite numbers", (2,)),
        ("amount", "values are not finite numbers", (2,)),
    }


def test_large_amounts_counts_returns_too_and_names_file_rows():
    from crmtools.validation import large_amounts

    frame = pd.DataFrame({"amount": [10.0, -5e8, 2e8, np.nan]}, index=[0, 4, 9, 10])  # rows 1, 5, 10, 11
    row = large_amounts(frame, Policies(max_line_amount=1e8), source="orders.csv")
    assert (row["rows"], row["action"]) == (2, "warning")
    assert "row 5 (-500000000.0), row 10 (200000000.0)" in row["detail"]
    assert large_amounts(frame, Policies(max_line_amount=1e9), source="orders.csv")["action"] == "ok"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("max_line_amount", 0, r"'max_line_amount' must be a finite number > 0 \(0 excluded\); got 0"),
        ("max_line_amount", float("inf"), r"'max_line_amount' must be a finite number > 0"),
        ("min_id_overlap", 1.2, r"'min_id_overlap' must be a number from 0 to 1 .*; got 1.2"),
        ("amount_tolerance", -1, r"'amount_tolerance' must be a finite number >= 0; got -1"),
    ],
)
def test_numeric_policies_are_checked(name, value, message):
    with pytest.raises(ValueError, match=message):
        Policies(**{name: value})


def test_the_quality_summary_has_a_detail_column(tmp_path):
    _write(_lines(), tmp_path / "transactions.csv")
    _, _, quality = inspect_dataset(DataConfig(path=str(tmp_path)))
    assert list(quality.columns) == ["table", "check", "rows", "action", "amount", "detail", "facts"]
    assert quality["detail"].map(type).eq(str).all()


def test_database_rows_are_counted_as_rows_of_the_result():
    from crmtools.data import validate_raw

    raw = _text_lines()
    raw.loc[1, "quantity"] = "two"
    with pytest.raises(DataValidationError, match=r"1 row \(rows of the result counted from 1\): row 2 \('two'\)"):
        validate_raw("transactions", raw, TableSource(table="sales.lines"), label="sales.lines")


# --------------------------------------------------------------------------- ids across tables


@pytest.mark.parametrize(
    ("ours", "theirs", "cause"),
    [
        (["9", "12", "31"], ["000009", "000012", "000031"], "leading zeros"),
        (["9.0", "12.0", "A7"], ["9", "12", "A7"], "a decimal part such as '9.0'"),
        (["c9", "c12", "c31"], ["C9", "C12", "C31"], "upper and lower case"),
        (["C 9", "C 12", "C 31"], ["C9", "C12", "C31"], "spaces"),
        (["９", "１２", "３１"], ["9", "12", "31"], "full-width characters"),
        (["0009.0", "0012.0", "B1"], ["9", "12", "B1"], "leading zeros and a decimal part"),
    ],
)
def test_a_likely_cause_is_named_when_a_respelling_explains_the_mismatch(ours, theirs, cause):
    from crmtools.validation import check_references

    quality, problems = check_references(
        {"transactions": pd.DataFrame({"customer_id": ours}), "customers": pd.DataFrame({"customer_id": theirs})},
        sources={"transactions": "tx.csv", "customers": "cu.csv"},
    )
    (row,) = quality
    (problem,) = problems
    assert row["action"] == "error" and f"likely cause: {cause}" in row["detail"]
    assert (problem.table, problem.source, problem.column) == ("transactions", "tx.csv and cu.csv", "customer_id")
    assert f"likely cause: {cause}" in problem.message
    assert "ids in transactions look like" in problem.message and "in customers like" in problem.message


def test_no_cause_is_guessed_when_none_explains_it_and_shares_above_the_threshold_pass():
    from crmtools.validation import check_references

    tables = {
        "transactions": pd.DataFrame({"customer_id": ["A1", "A2", "A3", None]}),
        "customers": pd.DataFrame({"customer_id": ["B1", "B2"]}),
    }
    quality, problems = check_references(tables)
    assert "likely cause" not in problems[0].message and quality[0]["detail"] == "0 of 3 distinct ids found (0.0%)"
    tables["customers"] = pd.DataFrame({"customer_id": ["A1", "A2"]})
    quality, problems = check_references(tables)
    assert problems == [] and (quality[0]["rows"], quality[0]["action"]) == (1, "warning")
    quality, problems = check_references(tables, policies=Policies(min_id_overlap=0.7))
    assert quality[0]["action"] == "error" and "66.7% of the 3 distinct customer ids" in problems[0].message
    tables["customers"] = pd.DataFrame({"customer_id": ["Z"]})
    assert check_references(tables, policies=Policies(min_id_overlap=0))[1] == []  # 0 turns the check off


def test_references_of_ids_numbered_ahead_are_those_of_ids_not_numbered():
    """The plan numbers the order lines' ids while it checks the other tables; the reference check then takes
    their distinct values from that numbering: the same shares, causes and examples."""
    import pyarrow as pa

    from crmtools import engine
    from crmtools.validation import check_references

    def text(values):
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(values, type=pa.large_string())])))

    ours = [f"{i % 40:06d}" for i in range(200)] + [None, "9", "12", "9"]
    tables = {
        "transactions": pd.DataFrame({"customer_id": text(ours)}),
        "customers": pd.DataFrame({"customer_id": text([f"{i:06d}" for i in range(30)])}),
        "campaign_contacts": pd.DataFrame({"customer_id": text(["000001", "X7", "000041"])}),
    }
    expected = check_references(tables, policies=Policies(min_id_overlap=0.9))
    engine.number_ahead([tables["transactions"]["customer_id"]])
    try:
        assert engine.known_distinct(tables["transactions"]["customer_id"]) is not None
        assert check_references(tables, policies=Policies(min_id_overlap=0.9)) == expected
    finally:
        engine.forget_codes(tables["transactions"]["customer_id"])
    assert expected[0][0]["action"] == "error" and "likely cause: leading zeros" in expected[1][0].message


def test_references_to_absent_tables_are_not_checked():
    from crmtools.validation import check_references

    tables = {
        "transactions": pd.DataFrame({"customer_id": ["A1"], "product_id": ["P"], "campaign_id": ["K"]}),
        "customers": empty_table("customers"),
        "products": empty_table("products"),
    }
    assert check_references(tables) == ([], [])


def test_contacts_after_the_report_window_are_not_checked(tmp_path):
    _write(_lines(), tmp_path / "transactions.csv")
    contacts = pd.DataFrame(
        {
            "campaign_id": ["K1", "K1"],
            "customer_id": ["C1", "LATER"],
            "group": ["treatment", "holdout"],
            "contacted_at": ["2025-10-01", "2025-12-01"],
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["K1"],
            "name": ["x"],
            "channel": ["email"],
            "start_date": ["2025-10-01"],
            "end_date": ["2025-12-31"],
            "cost": [1.0],
        }
    )
    contacts.to_csv(tmp_path / "campaign_contacts.csv", index=False)
    campaigns.to_csv(tmp_path / "campaigns.csv", index=False)
    config = DataConfig(path=str(tmp_path), policies=Policies(min_id_overlap=0.9))
    _, problems, _ = inspect_dataset(config)
    assert [p.message[:42] for p in problems] == ["ids do not match across tables: 50.0% of t"]
    _, problems, quality = inspect_dataset(config, until=pd.Timestamp("2025-11-01"))
    assert problems == []
    assert (
        "1 of 1 distinct ids found"
        in quality.set_index("check").loc["customer ids found in customers or transactions", "detail"]
    )


# --------------------------------------------------------------------------- files: kind, encoding, emptiness


def test_a_decoding_error_after_a_quoted_line_break_names_the_file_line_and_the_data_row(tmp_path):
    text = (
        b"order_id,customer_id,order_datetime,product_id,quantity,unit_price,amount,channel,product_name\n"
        b'O1,C1,2025-10-01 10:00,A,1,100,100,web,"two\nlines"\n'
        b"\n"
        b"O2,C1,2025-10-01 10:00,B,1,100,100,web,"
    ) + "緑茶\n".encode("cp932")
    path = tmp_path / "orders.csv"
    path.write_bytes(text)
    with pytest.raises(DataValidationError) as info:
        _load(path)
    message = str(_only_problem(info))
    # line 5 of the file; data row 2: the quoted line break and the blank line do not start rows.
    assert "not valid utf-8 text at line 5 (data row 2, header excluded), byte 40, character 40 of that line" in message
    assert "set encoding: cp932" in message


def test_a_bad_byte_in_the_header_is_named_as_such(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("注文番号,顧客\n1,2\n".encode("cp932"))
    with pytest.raises(DataValidationError, match=r"at line 1 \(the header line\), byte 1, character 1"):
        _load(path)


def test_a_damaged_utf8_file_is_not_sent_to_cp932(tmp_path):
    frame = _lines()
    frame["product_name"] = ["緑茶", "蕎麦", "緑茶", "緑茶", "X"]
    path = _write(frame, tmp_path / "orders.csv")
    path.write_bytes(path.read_bytes().replace(b",X\n", b",\xff\xfe\n"))
    with pytest.raises(DataValidationError) as info:
        _load(path)
    message = str(_only_problem(info))
    assert "at line 6 (data row 5, header excluded)" in message
    assert "damaged at that point or mixes two encodings" in message and "cp932" not in message


def test_an_optional_table_without_rows_says_the_table_is_optional(tmp_path):
    _write(_lines(), tmp_path / "transactions.csv")
    pd.DataFrame({"customer_id": [], "first_seen": []}).to_csv(tmp_path / "customers.csv", index=False)
    with pytest.raises(
        DataValidationError,
        match=r"customers\.csv: the file has no data rows \(only a header line\)"
        r"\. Expected: .*or no customers file at all",
    ):
        load_dataset(str(tmp_path))


# --------------------------------------------------------------------------- real-export edges (issue 13)


def _edge_lines() -> pd.DataFrame:
    """A sale, postage, a bad-debt pair (+x, -x, -x), a cancellation, a write-off without a customer, a free line."""
    return pd.DataFrame(
        {
            "order_id": ["1", "1", "A1", "A2", "A3", "C2", "3", "4"],
            "customer_id": ["c1", "c1", None, None, None, "c1", None, "c2"],
            "order_datetime": pd.to_datetime(["2025-10-01 10:00"] * 8),
            "product_id": ["P1", "POST", "B", "B", "B", "P1", "P2", "P3"],
            "quantity": [2, 1, 1, 1, 1, -1, -5, 1],
            "unit_price": [10.0, 18.0, 500.0, -500.0, -500.0, 10.0, 0.0, 0.0],
            "channel": "web",
        }
    )


def _edge_load(tmp_path, policies: Policies, frame=None) -> tuple[pd.DataFrame, dict]:
    quality: list[dict] = []
    tx = load_table(
        "transactions",
        TableSource(file=str(_write(_edge_lines() if frame is None else frame, tmp_path / "tx.csv"))),
        policies=policies,
        quality=quality,
    )
    return tx, {r["check"]: r for r in quality}


def test_non_merchandise_lines_leave_both_signs_and_are_counted_with_their_amount(tmp_path):
    tx, rows = _edge_load(tmp_path, Policies(non_merchandise=("POST", "re:[B]")))
    assert tx["product_id"].tolist() == ["P1", "P1", "P2", "P3"]
    assert (rows["non-merchandise lines"]["rows"], rows["non-merchandise lines"]["amount"]) == (4, 18.0 - 500.0)
    assert rows["non-merchandise lines"]["action"] == "excluded"  # and no error: the -500 prices left first
    assert "B 3 lines (-500.00)" in rows["non-merchandise lines"]["detail"]
    assert tx["amount"].sum() == 20.0 - 10.0  # revenue of merchandise only
    # Without the policy, the negative prices fail the check; nothing is set apart silently.
    with pytest.raises(DataValidationError, match="unit_price"):
        _edge_load(tmp_path, Policies())


def test_cancellations_are_counted_apart_from_other_negative_lines(tmp_path):
    codes = ("POST", "B")
    _, rows = _edge_load(tmp_path, Policies(non_merchandise=codes))
    assert [rows[c]["rows"] for c in ("return or cancellation lines", "other negative lines", "zero-price lines")] == [
        1,
        1,
        2,
    ]
    assert rows["return or cancellation lines"]["amount"] == -10.0
    tx, rows = _edge_load(tmp_path, Policies(non_merchandise=codes, other_negative="drop", zero_price="drop"))
    assert tx["order_id"].tolist() == ["1", "C2"] and rows["zero-price lines"]["rows"] == 1  # "3" counted once
    # With cancellation_orders, a "C" order is a cancellation even without a customer, and nothing else is.
    frame = _edge_lines().assign(customer_id=None)
    _, rows = _edge_load(tmp_path, Policies(non_merchandise=codes, cancellation_orders="^C"), frame)
    assert rows["return or cancellation lines"]["rows"] == 1 and rows["other negative lines"]["rows"] == 1
    with pytest.raises(DataValidationError, match=r"negative quantities that are not cancellations.*other_negative"):
        _edge_load(tmp_path, Policies(non_merchandise=codes, other_negative="error"))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"non_merchandise": "POST"}, "list of product codes"),
        ({"non_merchandise": ("re:(",)}, "not a valid regular expression"),
        ({"cancellation_orders": "["}, "not a valid regular expression"),
        ({"other_negative": "ignore"}, "other_negative"),
        ({"zero_price": "error"}, "zero_price"),
    ],
)
def test_edge_policies_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        Policies(**values)


def test_the_missing_one_of_quantity_unit_price_amount_is_computed(tmp_path):
    lines = _lines()
    for dropped, column in (("unit_price", "unit_price"), ("quantity", "quantity"), ("amount", "amount")):
        path = _write(lines.drop(columns=[dropped]), tmp_path / f"no_{dropped}.csv")
        tx = load_table("transactions", TableSource(file=str(path)), policies=Policies(duplicates="keep"))
        pd.testing.assert_series_equal(tx[column], lines[column].astype(tx[column].dtype), check_names=False)


def test_a_price_that_cannot_be_computed_names_its_rows(tmp_path):
    lines = _lines().drop(columns=["unit_price"])
    lines.loc[2, ["quantity", "amount"]] = [0, 50.0]
    with pytest.raises(DataValidationError) as info:
        load_table("transactions", TableSource(file=str(_write(lines, tmp_path / "tx.csv"))))
    (problem,) = info.value.problems
    assert "computed as amount / quantity; not where quantity is 0" in problem.column and problem.rows == (3,)


def test_a_missing_column_says_how_to_derive_it(tmp_path):
    lines = _lines().drop(columns=["order_id", "amount", "unit_price"])
    with pytest.raises(DataValidationError) as info:
        load_table("transactions", TableSource(file=str(_write(lines, tmp_path / "tx.csv"))))
    text = str(info.value)
    assert "derive: {order_id: customer_day}" in text and "give any two, the third is computed" in text
    typo = TableSource(
        file=str(_write(_lines().drop(columns=["amount"]).rename(columns={"unit_price": "p"}), tmp_path / "t.csv")),
        columns={"p": "unit_prize"},
    )
    with pytest.raises(
        DataValidationError, match=r"the mapping p: unit_prize names no canonical column \(did you mean unit_price\?\)"
    ):
        load_table("transactions", typo)


@pytest.mark.parametrize(
    ("rule", "orders"),
    [
        ("customer_day", ["c1-20251001", "c1-20251001", "c1-20251002", "row-4"]),
        ("row", ["row-1", "row-2", "row-3", "row-4"]),
        ("customer_datetime", ["c1-20251001100000", "c1-20251001180000", "c1-20251002090000", "row-4"]),
    ],
)
def test_order_ids_are_derived(tmp_path, rule, orders):
    lines = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", None],
            "order_datetime": ["2025-10-01 10:00", "2025-10-01 18:00", "2025-10-02 09:00", "2025-10-02 09:00"],
            "product_id": ["A", "B", "A", "A"],
            "quantity": [1, 1, 1, 1],
            "amount": [5.0, 6.0, 7.0, 8.0],
            "channel": "web",
        }
    )
    source = TableSource(file=str(_write(lines, tmp_path / "tx.csv")), derive={"order_id": rule})
    tx = load_table("transactions", source)
    assert tx["order_id"].tolist() == orders and tx["unit_price"].tolist() == [5.0, 6.0, 7.0, 8.0]
    kept = TableSource(file=str(_write(lines.assign(order_id="o"), tmp_path / "own.csv")), derive={"order_id": rule})
    assert set(load_table("transactions", kept, policies=Policies(duplicates="keep"))["order_id"]) == {"o"}


def test_derive_and_separator_options_are_checked():
    with pytest.raises(
        ValueError, match=r"derive.order_id must be one of \['customer_day', 'customer_datetime', 'row'\]"
    ):
        TableSource(derive={"order_id": "per_day"})
    with pytest.raises(ValueError, match="can make only 'order_id'"):
        TableSource(derive={"amount": "row"})
    with pytest.raises(ValueError, match="'separator' must be one character"):
        TableSource(separator="::")


def test_non_merchandise_lines_are_kept_apart_without_customer_ids(tmp_path):
    from crmtools.data import read_snapshot, write_snapshot
    from crmtools.quality import non_merchandise_by_code

    _write(_edge_lines(), tmp_path / "transactions.csv")
    config = DataConfig(path=str(tmp_path), policies=Policies(non_merchandise=("POST", "B"), duplicates="keep"))
    data = load_dataset(config)
    lines = data.non_merchandise
    assert list(lines.columns) == ["order_datetime", "product_id", "product_name", "quantity", "amount"]
    assert sorted(lines["product_id"]) == ["B", "B", "B", "POST"] and lines["amount"].sum() == 18.0 - 500.0
    table = non_merchandise_by_code(lines, period="2025-10")
    assert table.set_index("product_id")[["lines_in_period", "amount_in_period"]].to_dict("index") == {
        "B": {"lines_in_period": 3, "amount_in_period": -500.0},
        "POST": {"lines_in_period": 1, "amount_in_period": 18.0},
    }
    assert non_merchandise_by_code(lines, period="2025-11")["lines_in_period"].sum() == 0
    pd.testing.assert_frame_equal(read_snapshot(write_snapshot(data, tmp_path / "snap")).non_merchandise, lines)
    assert load_dataset(DataConfig(path=str(tmp_path), policies=Policies(invalid_rows="drop"))).non_merchandise.empty


def test_a_kernel_reads_the_run_snapshot_once_and_gives_each_page_its_own_copy(small_sample_dir, tmp_path, monkeypatch):
    """Pages run one after another in one kernel share one read of the snapshot: each gets copies of the
    tables, keyed for ``ctx.cached`` by the snapshot file; what one page changes never reaches the next."""
    import crmtools.data
    from crmtools import engine, notebook
    from crmtools.data import read_snapshot, write_snapshot
    from crmtools.reporting import results

    folder = write_snapshot(load_dataset(DataConfig(path=str(small_sample_dir))), tmp_path / "snap")
    reads = []
    monkeypatch.setattr(crmtools.data, "read_snapshot", lambda f: reads.append(f) or read_snapshot(f))
    monkeypatch.setattr(notebook, "_RUN_DATA", {})
    first, second = notebook._run_data(folder), notebook._run_data(folder)
    assert len(reads) == 1
    assert first.transactions is not second.transactions
    pd.testing.assert_frame_equal(first.transactions, read_snapshot(folder).transactions)
    key = results.fingerprint(first.transactions)
    token = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["tables"]["transactions"]
    assert key == results.fingerprint(second.transactions) == "snapshot:" + token
    first.transactions.loc[first.transactions.index[0], "amount"] = -1.0  # a page writing to its data
    first.customers["extra"] = 1
    assert results.fingerprint(first.transactions) not in (key, results.fingerprint(second.transactions))
    third = notebook._run_data(folder)
    assert len(reads) == 1 and "extra" not in third.customers.columns
    pd.testing.assert_frame_equal(third.transactions, read_snapshot(folder).transactions)
    assert results.fingerprint(third.transactions) == key
    # What analyses derive from a page's copy is derived from the kept table (crmtools.engine.derived), so the next
    # page shares it; a copy written to has values of its own.
    kept_tables = notebook._RUN_DATA["data"]
    assert engine.kept(second.transactions) is engine.kept(third.transactions) is kept_tables.transactions
    assert engine.kept(third.customers) is kept_tables.customers
    assert engine.kept(first.transactions) is first.transactions
    write_snapshot(read_snapshot(folder), folder)  # the next run's snapshot in the same place: read again
    fourth = notebook._run_data(folder)
    assert len(reads) == 2
    assert results.fingerprint(fourth.transactions) != key  # a new write, a new token: no result of the last run


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["O1", "O2", " O1", "", None]),
            st.sampled_from([1, 2, None]),
            st.sampled_from([pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-01 00:00:01"), None]),
            st.sampled_from([1.0, 2.5, float("nan")]),
        ),
        max_size=40,
    ),
    key=st.sampled_from([["a"], ["a", "b"], ["a", "c"], ["b", "c", "d"], ["d"]]),
)
def test_repeated_keys_in_large_tables_are_the_ones_pandas_finds(monkeypatch, rows, key):
    frame = pd.DataFrame(rows, columns=["a", "b", "c", "d"]).astype(
        {"a": "str", "b": "Int64", "c": "datetime64[ms]", "d": "float64"}
    )
    frame.index = pd.RangeIndex(10, 10 + 3 * len(frame), 3)  # an index that is not 0..n-1
    expected = frame.duplicated(key, keep="first")
    monkeypatch.setattr(validation, "PARALLEL_KEY_ROWS", 0)  # the polars path, as for 500,000 rows or more
    found = validation.repeated_keys(frame, key)
    pd.testing.assert_series_equal(found, expected)


def test_a_snapshot_written_again_leaves_the_tables_read_before_intact(small_sample_dir, tmp_path):
    """A kernel's tables map the snapshot's files: writing the snapshot again puts new files in their place and never
    rewrites the mapped ones (which would take the pages from under the kernel: a bus error)."""
    from crmtools.data import read_snapshot, write_snapshot

    data = load_dataset(str(small_sample_dir))
    first = read_snapshot(write_snapshot(data, tmp_path / "snap"))
    expected = first.transactions["customer_id"].tolist()
    write_snapshot(dataclasses.replace(data, transactions=data.transactions.iloc[:5]), tmp_path / "snap")
    assert first.transactions["customer_id"].tolist() == expected  # the first file's pages, still there
    assert len(read_snapshot(tmp_path / "snap").transactions) == 5
    names = sorted(p.name for p in (tmp_path / "snap").iterdir() if "transactions" in p.name)
    assert "transactions.arrow" in names and not [n for n in names if n.endswith(".partial")]


def test_a_snapshot_written_again_never_gives_the_codes_of_the_earlier_write(small_sample_dir, tmp_path):
    """Codes are written only for text the writer holds as Arrow: a column it holds otherwise leaves no codes
    file, and none from an earlier write is kept for it (its kernel would number rows that are no longer there)."""
    from crmtools import engine
    from crmtools.data import read_snapshot, write_snapshot

    data = load_dataset(str(small_sample_dir))
    write_snapshot(data, tmp_path / "snap")
    reordered = data.transactions.iloc[::-1].reset_index(drop=True)
    reordered["customer_id"] = reordered["customer_id"].astype(object)  # not Arrow in the writer: no codes
    back = read_snapshot(write_snapshot(dataclasses.replace(data, transactions=reordered), tmp_path / "snap"))
    assert not (tmp_path / "snap" / "transactions.customer_id.codes.arrow").exists()
    codes, uniques = engine.sorted_codes(back.transactions["customer_id"])
    expected_codes, expected_uniques = pd.factorize(back.transactions["customer_id"], sort=True)
    assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)


@pytest.mark.parametrize("messy", [False, True])
def test_a_snapshot_carries_the_codes_of_the_order_lines_ids(tmp_path, messy, monkeypatch):
    """Numbered once per run (while the plan checks the other tables), the ids' sorted codes reach every kernel
    with the snapshot: a kernel's ``sorted_codes`` gives them without numbering the column, equal to factorizing
    it, and a run of its rows (a time window) takes its codes from them."""
    from crmtools import engine
    from crmtools.data import _SNAPSHOT_CODED, inspect_dataset, read_snapshot, write_snapshot

    source = write_sample(tmp_path / "src", SampleConfig(customers=300, months=6, seed=11, messy=messy))
    config = DataConfig(path=str(source), policies=Policies(invalid_rows="drop", duplicates="drop"))
    data, problems, _ = inspect_dataset(config, number_ids=True)
    assert not problems
    back = read_snapshot(write_snapshot(data, tmp_path / "snap")).transactions
    monkeypatch.setattr(engine, "_factorized", lambda values: pytest.fail("numbered in the kernel"))
    coded = [c for c in _SNAPSHOT_CODED["transactions"] if c in back.columns]
    assert {"customer_id", "order_id"} <= set(coded)
    for column in coded:
        for values in (back[column], back[column].iloc[len(back) // 3 : len(back) // 2]):
            codes, uniques = engine.sorted_codes(values)
            expected_codes, expected_uniques = pd.factorize(values, sort=True)
            assert codes.tolist() == expected_codes.tolist()
            pd.testing.assert_index_equal(uniques, pd.Index(expected_uniques), exact=True)


@pytest.mark.parametrize("messy", [False, True])
def test_a_snapshot_gives_back_every_table_as_validated(tmp_path, messy):
    """Values, dtypes and row order of every table survive the run's snapshot (the pages read nothing else)."""
    from crmtools.data import _SNAPSHOT_EXCLUDED, _SNAPSHOT_TABLES, read_snapshot, write_snapshot

    source = write_sample(tmp_path / "src", SampleConfig(customers=400, months=8, seed=5, messy=messy))
    data = load_dataset(DataConfig(path=str(source), policies=Policies(invalid_rows="drop", duplicates="drop")))
    back = read_snapshot(write_snapshot(data, tmp_path / "snap"))
    for name in _SNAPSHOT_TABLES:
        expected = getattr(data, name).drop(columns=list(_SNAPSHOT_EXCLUDED.get(name, ())), errors="ignore")
        pd.testing.assert_frame_equal(getattr(back, name), expected.reset_index(drop=True), check_exact=True)
    assert back.fingerprints == data.fingerprints and back.inputs == data.inputs


def _text_as_read(values: list) -> list:
    """What a text column of the canonical model holds for ``values``, value by value: missing stays missing, text
    is stripped (empty text is missing), and ids written as whole-number floats ("17850.0") lose their ".0" when
    every value present is so written."""
    import math
    import re

    out = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in values]
    out = [v or None for v in out]
    present = [v for v in out if v is not None]
    if present and all(re.fullmatch(r"-?\d+\.0", v) for v in present):
        out = [v[:-2] if v is not None else None for v in out]
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.just(float("nan")), st.text(alphabet=" \t1a.0-", max_size=6), st.sampled_from(["7.0"])),
        max_size=12,
    ),
    st.sampled_from(["str", "object"]),
)
def test_text_columns_are_stripped_and_keep_their_gaps(values, dtype):
    """A text column (ids, labels) read from a file (Arrow text) or given as Python objects is coerced value by
    value as :func:`_text_as_read` says, missing values missing, whether or not any value is missing."""
    series = pd.Series(values, dtype=dtype, index=pd.RangeIndex(len(values)) + 5)
    found = validation._to_text(series)
    assert found.index.equals(series.index)
    assert [None if pd.isna(v) else v for v in found.tolist()] == _text_as_read(values)
