"""Fault injection for the data layer: each test plants one fault in a small, otherwise valid data set, runs
``crmtools validate`` (and, where it matters, the checks a report runs) and asserts the exit code and one line
of the message: 3 for bad data, 2 for bad parameters, 0 when the data is usable (warnings included).

Row numbers in messages count data rows from 1, the header excluded ("row 2" is line 3 of a CSV file).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from crmtools.cli import main
from crmtools.data import DataConfig, inspect_dataset
from crmtools.errors import ROWS_FROM_FILE
from crmtools.reporting.tables import MAX_LABEL_WIDTH, MAX_TITLE_CHARS, html_table

EXIT_OK, EXIT_USAGE, EXIT_DATA = 0, 2, 3
ROWS = re.escape(f"({ROWS_FROM_FILE})")


# --------------------------------------------------------------------------- a small valid data set


def _tables() -> dict[str, pd.DataFrame]:
    """Every canonical table, tiny and valid; ids match across tables."""
    customers = [f"C{i}" for i in range(1, 7)]
    return {
        "transactions": pd.DataFrame(
            {
                "order_id": ["O1", "O1", "O2", "O3", "O4", "O5"],
                "customer_id": ["C1", "C1", "C2", "C3", "C4", "C5"],
                "order_datetime": [
                    "2025-10-01 10:00:00",
                    "2025-10-01 10:00:00",
                    "2025-10-05 12:00:00",
                    "2025-10-09 09:30:00",
                    "2025-10-20 18:00:00",
                    "2025-10-28 08:15:00",
                ],
                "product_id": ["P1", "P2", "P1", "P3", "P2", "P1"],
                "quantity": ["1", "2", "1", "3", "1", "2"],
                "unit_price": ["1000.0", "250.0", "1000.0", "480.0", "250.0", "1000.0"],
                "amount": ["1000.0", "500.0", "1000.0", "1440.0", "250.0", "2000.0"],
                "channel": ["web", "web", "app", "web", "phone", "web"],
                "campaign_id": ["K1", None, None, "K1", None, "K2"],
            }
        ),
        "customers": pd.DataFrame({"customer_id": customers, "first_seen": [f"2025-01-0{i}" for i in range(1, 7)]}),
        "products": pd.DataFrame(
            {
                "product_id": ["P1", "P2", "P3"],
                "product_name": ["Green tea", "Soba", "Umeboshi"],
                "category": ["Drinks", "Food", "Food"],
                "list_price": ["1000.0", "250.0", "480.0"],
            }
        ),
        "campaigns": pd.DataFrame(
            {
                "campaign_id": ["K1", "K2"],
                "name": ["Autumn mail", "Coupon"],
                "channel": ["email", "coupon"],
                "start_date": ["2025-10-01", "2025-10-15"],
                "end_date": ["2025-10-31", "2025-10-31"],
                "cost": ["50000", "20000"],
            }
        ),
        "campaign_contacts": pd.DataFrame(
            {
                "campaign_id": ["K1", "K1", "K2", "K2"],
                "customer_id": ["C1", "C3", "C5", "C6"],
                "group": ["treatment", "holdout", "treatment", "holdout"],
                "contacted_at": ["2025-10-01", "2025-10-01", "2025-10-15", "2025-10-15"],
            }
        ),
        "experiments": pd.DataFrame(
            {
                "experiment_id": ["E1"] * 4,
                "variant": ["control", "control", "B", "B"],
                "unit_id": ["V1", "V2", "V3", "V4"],
                "exposed_at": ["2025-10-02"] * 4,
                "converted": ["1", "0", "1", "1"],
                "revenue": ["100.0", "0.0", "120.0", "90.0"],
            }
        ),
    }


def _write(folder: Path, tables: dict[str, pd.DataFrame], *, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, encoding=encoding)
    return folder


def _validate(tmp_path: Path, folder: Path, *overrides: str, capsys) -> tuple[int, str, str]:
    """``crmtools validate`` on ``folder`` with a params file of its own; (exit code, stdout, stderr)."""
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {folder}\n", encoding="utf-8")
    args = ["validate", "--params", str(params)]
    for text in overrides:
        args += ["--set", text]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _line(text: str, pattern: str) -> str:
    """The one line of ``text`` matching ``pattern`` (a failing assert shows the whole text)."""
    found = [line for line in text.splitlines() if re.search(pattern, line)]
    assert len(found) == 1, f"{pattern!r} in:\n{text}"
    return found[0]


def test_the_clean_data_set_is_usable(tmp_path, capsys):
    code, out, err = _validate(tmp_path, _write(tmp_path / "data", _tables()), capsys=capsys)
    assert code == EXIT_OK, err
    assert out.splitlines()[-1].startswith("OK: 6 order lines")
    for check in (
        "customer ids found in customers",
        "product ids found in products",
        "campaign ids found in campaigns",
        "customer ids found in customers or transactions",
    ):
        assert re.search(rf"{check}\s+0\s+ok\s", out), out


# --------------------------------------------------------------------------- 3. non-finite and implausible numbers


NUMERIC = [
    ("transactions", "quantity"),
    ("transactions", "unit_price"),
    ("transactions", "amount"),
    ("products", "list_price"),
    ("campaigns", "cost"),
    ("experiments", "revenue"),
]


@pytest.mark.parametrize(("table", "column"), NUMERIC)
@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected_in_every_numeric_column(tmp_path, capsys, table, column, value):
    tables = _tables()
    tables[table].loc[1, column] = value
    if table == "transactions" and column == "unit_price":
        tables[table].loc[1, "amount"] = value
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, rf"{table}\.csv, column '{column}': values are not finite")
    assert f"1 row ({ROWS_FROM_FILE}): row 2 ({value!r})" in line
    assert "Expected: a finite " in line and "inf, -inf, Infinity" in line


def test_a_quantity_beyond_whole_number_precision_is_a_problem_not_a_crash(tmp_path, capsys):
    tables = _tables()
    tables["transactions"].loc[2, "quantity"] = "1e20"
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    assert "row 3 ('1e20')" in _line(err, r"column 'quantity': values are too large for a whole number")


def test_an_amount_overflowing_when_computed_is_reported_on_the_computed_amount(tmp_path, capsys):
    tables = _tables()
    tx = tables["transactions"].drop(columns="amount")
    tx.loc[0, ["quantity", "unit_price"]] = ["1000000", "1e305"]
    tables["transactions"] = tx
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    _line(err, r"column 'amount \(computed as quantity x unit_price\)': values are not finite numbers .*row 1")


def test_an_implausibly_large_line_is_a_warning_with_its_rows_not_an_error(tmp_path, capsys):
    tables = _tables()
    tables["transactions"].loc[3, ["unit_price", "amount"]] = ["1000000000.0", "3000000000.0"]
    folder = _write(tmp_path / "data", tables)
    code, out, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_OK, err
    table, _, warnings = out.partition("Warnings (the data is usable; look at these rows):")
    line = _line(table, r"lines above the largest plausible amount")
    assert re.search(r"amount\s+1\s+warning\s+1 row", line)
    assert "row 4 (3000000000.0); allowed: at most 100,000,000 per line (data.policies.max_line_amount)" in line
    assert "lines above the largest plausible amount" in _line(warnings, "row 4 \\(3000000000.0\\)")
    # The ceiling is a parameter.
    code, out, _ = _validate(tmp_path, folder, "data.policies.max_line_amount=1e10", capsys=capsys)
    assert code == EXIT_OK
    assert re.search(r"lines above the largest plausible amount\s+0\s+ok", out)
    code, _, err = _validate(tmp_path, folder, "data.policies.max_line_amount=0", capsys=capsys)
    assert code == EXIT_USAGE
    _line(err, r"'data.policies.max_line_amount' must be a number greater than 0 \(0 excluded\)")


def test_the_report_sees_the_same_warning_as_validate(tmp_path):
    tables = _tables()
    tables["transactions"].loc[3, ["unit_price", "amount"]] = ["1000000000.0", "3000000000.0"]
    _, problems, quality = inspect_dataset(
        DataConfig(path=str(_write(tmp_path / "data", tables))), until=pd.Timestamp("2025-11-01")
    )
    assert problems == []
    row = quality.set_index("check").loc["lines above the largest plausible amount"]
    assert (row["rows"], row["action"]) == (1, "warning") and "row 4 (3000000000.0)" in row["detail"]


# --------------------------------------------------------------------------- 6. ids that do not match across tables


def _respell(tables, spell, *which):
    out = {name: frame.copy() for name, frame in tables.items()}
    for table, column in which:
        out[table][column] = out[table][column].map(lambda v: v if pd.isna(v) else spell(v))
    return out


@pytest.mark.parametrize(
    ("spell", "cause", "example"),
    [
        (lambda v: v[1:].zfill(6), "leading zeros", "'1' in transactions is '000001' in customers"),
        (lambda v: v.lower(), "upper and lower case", "'C1' in transactions is 'c1' in customers"),
        (
            lambda v: v.translate(str.maketrans("C0123456789", "Ｃ０１２３４５６７８９")),
            r"full-width characters",
            "'C1' in transactions is 'Ｃ１' in customers",
        ),
        (lambda v: v[0] + " " + v[1:], "spaces", "'C1' in transactions is 'C 1' in customers"),
    ],
)
def test_customer_ids_spelled_differently_in_customers_are_rejected_with_the_cause(
    tmp_path, capsys, spell, cause, example
):
    tables = _tables()
    if cause == "leading zeros":  # transactions hold numbers ('1'), customers and contacts '000001'
        tables = _respell(tables, lambda v: v[1:], ("transactions", "customer_id"))
        tables = _respell(tables, lambda v: v.zfill(6), ("customers", "customer_id"))
        tables["customers"]["customer_id"] = [f"{i:06d}" for i in range(1, 7)]
    else:
        tables = _respell(tables, spell, ("customers", "customer_id"))
    code, out, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"transactions\.csv and .*customers\.csv, column 'customer_id': ids do not match across tables")
    assert "0.0% of the 5 distinct customer ids in transactions are found in customers (0 found)" in line
    assert f"likely cause: {cause}" in line and example in line
    assert "Expected: at least 50% of them found (data.policies.min_id_overlap: 0.5)" in line
    assert re.search(
        rf"customer ids found in customers\s+5\s+error\s+0 of 5 distinct ids found \(0\.0%\); "
        rf"likely cause: {cause}",
        out,
    )


def test_contacts_campaign_ids_must_be_found_in_campaigns(tmp_path, capsys):
    tables = _respell(_tables(), lambda v: "CMP-" + v, ("campaign_contacts", "campaign_id"))
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"campaign_contacts\.csv and .*campaigns\.csv, column 'campaign_id': ids do not match")
    assert "ids in campaign_contacts look like 'CMP-K1', 'CMP-K2', in campaigns like 'K1', 'K2'" in line
    assert "likely cause" not in line  # no respelling explains a prefix: no guess


def test_contacts_must_be_found_in_customers_or_transactions(tmp_path, capsys):
    tables = _respell(_tables(), lambda v: v + ".0", ("campaign_contacts", "customer_id"))
    tables["campaign_contacts"].loc[0, "customer_id"] = "C1"  # one matches: the column is not all '.0'
    tables = _respell(
        tables,
        lambda v: v.replace("C", ""),
        ("campaign_contacts", "customer_id"),
        ("transactions", "customer_id"),
        ("customers", "customer_id"),
    )
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", tables), capsys=capsys)
    assert code == EXIT_DATA
    line = _line(
        err,
        r"column 'customer_id': ids do not match across tables: 25.0% of the 4 distinct customer ids "
        r"in campaign_contacts are found in customers or transactions",
    )
    assert "likely cause: a decimal part such as '9.0'" in line and "'3.0' in campaign_contacts is '3'" in line


def test_the_id_threshold_is_a_parameter_and_partial_matches_are_warnings(tmp_path, capsys):
    tables = _tables()
    tables["transactions"].loc[5, "customer_id"] = "C99"  # 4 of 5 customers found: 80 %, above 50 %
    folder = _write(tmp_path / "data", tables)
    code, out, _ = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_OK
    assert re.search(r"customer ids found in customers\s+1\s+warning\s+4 of 5 distinct ids found \(80\.0%\)", out)
    code, _, err = _validate(tmp_path, folder, "data.policies.min_id_overlap=0.9", capsys=capsys)
    assert code == EXIT_DATA
    _line(err, r"80.0% of the 5 distinct customer ids .*Expected: at least 90% of them found")
    code, _, err = _validate(tmp_path, folder, "data.policies.min_id_overlap=1.5", capsys=capsys)
    assert code == EXIT_USAGE
    _line(err, r"'data.policies.min_id_overlap' must be a number from 0 to 1 .*got float 1.5")


# --------------------------------------------------------------------------- 7. analysis parameters


def test_min_support_zero_is_a_parameter_error_saying_zero_is_excluded(tmp_path, capsys):
    code, _, err = _validate(tmp_path, _write(tmp_path / "data", _tables()), "basket.min_support=0", capsys=capsys)
    assert code == EXIT_USAGE
    line = _line(err, r"parameter error: Parameter 'basket.min_support' must be")
    assert "greater than 0 (0 excluded)" in line and line.endswith("got int 0.")


def test_min_support_as_a_count_of_baskets_is_accepted_and_reaches_the_miner_as_typed(tmp_path, capsys):
    from crmtools.basket import frequent_itemsets
    from crmtools.params import load_params

    folder = _write(tmp_path / "data", _tables())
    code, _, err = _validate(tmp_path, folder, "basket.min_support=2", capsys=capsys)
    assert code == EXIT_OK, err
    # What the notebooks do with it: "pass an int, e.g. min_support=2" must not come back.
    params = load_params(tmp_path / "params.yaml", ["basket.min_support=2"])
    dataset, _, _ = inspect_dataset(DataConfig.from_dict(params["data"]))
    itemsets = frequent_itemsets(dataset.transactions, min_support=params["basket"]["min_support"])
    assert itemsets["support"].min() >= 2 / itemsets.attrs["n_baskets"]


# --------------------------------------------------------------------------- 12. files that are not what they seem


def test_a_png_renamed_csv_is_not_a_text_file(tmp_path, capsys):
    folder = _write(tmp_path / "data", {k: v for k, v in _tables().items() if k != "transactions"})
    (folder / "transactions.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"transactions\.csv: this is not a text file \(it looks like a PNG image\)")
    assert "cp932" not in line and "89 50 4E 47 0D 0A 1A 0A" in line


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("transactions.parquet", b"order_id,customer_id\nO1,C1\n", r"this is not a Parquet file \(it looks like text"),
        ("transactions.xlsx", b"order_id,customer_id\nO1,C1\n", r"this is not an Excel \.xlsx file"),
        (
            "transactions.csv",
            b"order_id,\x00\x01\x02\x03\xff\xfe\x00garbage",
            r"this is not a text file \(it looks like "
            r"binary data: it holds NUL bytes",
        ),
    ],
)
def test_files_whose_content_does_not_match_their_name(tmp_path, capsys, name, content, message):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / name).write_bytes(content)
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    _line(err, message)


def test_a_utf16_file_is_named_as_such(tmp_path, capsys):
    folder = _write(tmp_path / "data", {"transactions": _tables()["transactions"]}, encoding="utf-16")
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    _line(err, r"the file is UTF-16 text, not utf-8 text\. Expected: .*set encoding: utf-16")
    code, _, err = _validate(tmp_path, folder, "data.tables.transactions.encoding=utf-16", capsys=capsys)
    assert code == EXIT_OK, err


def test_a_shift_jis_file_names_the_line_byte_and_data_row_of_the_first_bad_byte(tmp_path, capsys):
    tables = _tables()
    tables["transactions"]["product_name"] = ["tea", "緑茶", "soba", "梅干し", "tea", "tea"]
    folder = _write(tmp_path / "data", tables, encoding="cp932")
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"transactions\.csv: the file is not valid utf-8 text")
    # 緑茶 is on line 3 of the file (the header is line 1), i.e. data row 2; the byte is after the 9 fields.
    prefix = "O1,C1,2025-10-01 10:00:00,P2,2,250.0,500.0,web,,"
    assert f"at line 3 (data row 2, header excluded), byte {len(prefix) + 1}, character {len(prefix) + 1}" in line
    assert "byte 0" not in line
    assert "the whole file reads as cp932 (Shift-JIS, as saved by Japanese Excel): set encoding: cp932" in line
    code, _, err = _validate(tmp_path, folder, "data.tables.transactions.encoding=cp932", capsys=capsys)
    assert code == EXIT_OK, err


def test_an_unknown_encoding_is_a_parameter_error(tmp_path, capsys):
    code, _, err = _validate(
        tmp_path, _write(tmp_path / "data", _tables()), "data.tables.transactions.encoding=shift-jiss", capsys=capsys
    )
    assert code == EXIT_USAGE
    _line(err, r"'data.tables.transactions.encoding' must be a text encoding such as utf-8, cp932")


# --------------------------------------------------------------------------- 4. a transactions file without rows


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_a_header_only_transactions_file_is_rejected_by_validate_and_by_the_report_checks(tmp_path, capsys, suffix):
    folder = _write(tmp_path / "data", {k: v for k, v in _tables().items() if k != "transactions"})
    empty = _tables()["transactions"].iloc[:0]
    path = folder / f"transactions{suffix}"
    if suffix == ".csv":
        empty.to_csv(path, index=False)
    elif suffix == ".parquet":
        empty.astype({"order_datetime": "datetime64[ns]"}).to_parquet(path, index=False)
    else:
        empty.to_excel(path, index=False)
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    _line(err, rf"transactions{re.escape(suffix)}: the file has no data rows")
    # What the runner calls before any notebook: the same check, with the period's window.
    dataset, problems, _ = inspect_dataset(DataConfig(path=str(folder)), until=pd.Timestamp("2025-11-01"))
    assert dataset is None
    assert [p.message.split(" (")[0] for p in problems] == ["the file has no data rows"]


def test_rows_all_dropped_by_the_policies_leave_no_usable_data(tmp_path, capsys):
    tables = _tables()
    tables["transactions"]["order_datetime"] = "someday"
    code, _, err = _validate(
        tmp_path, _write(tmp_path / "data", tables), "data.policies.invalid_rows=drop", capsys=capsys
    )
    assert code == EXIT_DATA
    _line(err, r"transactions\.csv: no rows are left: all 6 rows read were dropped \(6 invalid rows\)")


# --------------------------------------------------------------------------- 10. very long labels


def test_a_10000_character_product_name_is_shortened_in_every_table(tmp_path):
    tables = _tables()
    long_name = "<b>Matcha</b> " + "very long name " * 700
    tables["products"].loc[0, "product_name"] = long_name
    tables["campaigns"].loc[0, "name"] = long_name
    dataset, problems, _ = inspect_dataset(DataConfig(path=str(_write(tmp_path / "data", tables))))
    assert problems == []
    for frame, column in ((dataset.transactions, "product_name"), (dataset.campaigns, "name")):
        assert frame[column].str.len().max() > 10_000  # the data keeps the whole name
        page = html_table(frame[[column]]).to_html()
        cells = re.findall(r'<td title="([^"]*)">([^<]*)</td>', page)
        assert cells, page[:300]
        for title, shown in cells:
            assert len(html.unescape(shown)) <= MAX_LABEL_WIDTH and shown.endswith("…")
            assert len(html.unescape(title)) <= MAX_TITLE_CHARS
            assert "<b>" not in title and "&lt;b&gt;" in title  # escaped, also in the attribute
        assert len(page) < 2 * len(frame) * (MAX_TITLE_CHARS + 2 * MAX_LABEL_WIDTH) + 500


# --------------------------------------------------------------------------- real-export layouts (issue 13)


def test_a_space_aligned_text_file_names_the_separator_to_set(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "transactions.txt").write_bytes(
        b" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n"
    )
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"transactions\.txt: the file reads as one column")
    assert "separated by spaces" in line and "set separator: whitespace for this table" in line


def test_a_price_that_cannot_be_derived_names_the_rows(tmp_path, capsys):
    lines = _tables()["transactions"].drop(columns=["unit_price"])
    lines.loc[2, "quantity"] = "0"  # an amount for no units: no price
    folder = _write(tmp_path / "data", {"transactions": lines})
    code, _, err = _validate(tmp_path, folder, capsys=capsys)
    assert code == EXIT_DATA
    line = _line(err, r"unit_price \(computed as amount / quantity; not where quantity is 0\)")
    assert "row 3" in line
