"""Data-quality facts (crmtools.quality) and the page's details worded from them (crmtools.reporting.quality_text).

The analyses and loaders say what a check found as codes and numbers (``facts``); the page words them in its
language. Before, the details were English sentences shown as they were on the Japanese page.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools.data import DataConfig, _non_merchandise_row, inspect_dataset
from crmtools.quality import FACT_CODES, detail_facts, erasure_row, read_facts
from crmtools.reporting.i18n import TEXT
from crmtools.reporting.quality_text import quality_detail, quality_details
from crmtools.validation import Policies, check_references, large_amounts

#: Latin words a Japanese detail may keep: the parameter it quotes, as the analyst writes it in params, and ids.
PARAMETER = "data.policies.max_line_amount"


def _latin_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{2,}", text.replace(PARAMETER, ""))


def _facts_of_every_kind() -> dict[str, str]:
    """One row's facts per fact code, from the functions that build the data-quality rows."""
    frame = pd.DataFrame({"amount": [10.0, -5e8, 2e8, np.nan]}, index=[0, 4, 9, 10])  # rows 1, 5, 10, 11
    above = large_amounts(frame, Policies(max_line_amount=1e8), source="orders.csv")
    within = large_amounts(frame, Policies(max_line_amount=1e9), source="orders.csv")
    ids, _ = check_references(
        {
            "transactions": pd.DataFrame({"customer_id": ["9", "12"]}),
            "customers": pd.DataFrame({"customer_id": ["009"]}),
        }
    )
    lines = pd.DataFrame({"product_id": ["POST", "POST", "FEE"], "amount": [18.0, 36.0, -140.5]})
    erased = erasure_row({"customers": 3, "found": 2, "rows": {"transactions": 14, "customers": 2}})
    rows = [above, within, ids[0], _non_merchandise_row(lines), erased]
    return {read_facts(r["facts"])["code"]: r["facts"] for r in rows}


def test_every_detail_a_check_writes_has_its_facts():
    facts = _facts_of_every_kind()
    assert sorted(facts) == sorted(FACT_CODES)
    assert read_facts(facts["ids_found"]) == {"code": "ids_found", "found": 0, "total": 2, "causes": ["leading_zeros"]}
    assert read_facts(facts["amounts_above_limit"]) == {
        "code": "amounts_above_limit",
        "count": 2,
        "limit": 1e8,
        "rows": [5, 10],
        "values": [-5e8, 2e8],
        "row_basis": "file",
    }
    assert read_facts(facts["non_merchandise"])["codes"] == [["POST", 2, 54.0], ["FEE", 1, -140.5]]


def test_the_data_sets_quality_rows_carry_facts_wherever_they_carry_a_detail(small_sample_dir):
    _, problems, quality = inspect_dataset(DataConfig(path=str(small_sample_dir)))
    assert not problems
    with_detail = quality.loc[quality["detail"].str.len() > 0]
    assert len(with_detail) >= 5  # the id checks and the amount limit
    assert (with_detail["facts"].str.len() > 0).all(), with_detail.loc[with_detail["facts"] == "", "check"].tolist()
    assert {read_facts(f)["code"] for f in with_detail["facts"]} <= set(FACT_CODES)


@pytest.mark.parametrize("code", FACT_CODES)
def test_japanese_details_are_japanese_and_english_ones_read_as_before(code):
    facts = _facts_of_every_kind()[code]
    ja, en = quality_detail(facts, "ja"), quality_detail(facts, "en")
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja), ja
    # only the data's own product codes and the quoted parameter stay in Latin letters
    assert set(_latin_words(ja)) <= {"POST", "FEE", "ID"}, ja
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", en.replace("全角", "")), en


def test_details_are_worded_with_the_hand_computed_numbers():
    facts = detail_facts("ids_found", found=9, total=12, causes=["leading_zeros", "spaces"])
    assert quality_detail(facts, "en") == "9 of 12 distinct ids found (75.0%); likely cause: leading zeros and spaces"
    assert (
        quality_detail(facts, "ja")
        == "12件の異なるIDのうち9件が見つかりました（75.0%）。考えられる原因：先頭のゼロ、空白"
    )
    above = _facts_of_every_kind()["amounts_above_limit"]
    assert quality_detail(above, "ja", "JPY") == (
        "2行（見出し行を除き、データ行を1から数えた行番号）：5行目（−500,000,000円）、10行目（200,000,000円）。"
        "許容範囲：1行あたり100,000,000まで（data.policies.max_line_amount）"
    )
    # the English wording says what the console's detail says (money in the report's currency format)
    assert (
        quality_detail(detail_facts("amount_limit", limit=1e8), "en")
        == large_amounts(pd.DataFrame({"amount": [1.0]}), Policies(), source="x.csv")["detail"]
    )


def test_quality_details_keep_the_rows_with_something_to_say():
    quality = pd.DataFrame(
        {
            "table": ["取引", "顧客"],
            "check": ["読込行数", "顧客マスタにある顧客ID"],
            "detail": ["", "3 of 4 distinct ids found (75.0%)"],
            "facts": ["", detail_facts("ids_found", found=3, total=4, causes=[])],
        }
    )
    out = quality_details(quality, "ja")
    assert out.to_dict("list") == {
        "table": ["顧客"],
        "check": ["顧客マスタにある顧客ID"],
        "detail": ["4件の異なるIDのうち3件が見つかりました（75.0%）"],
    }
    assert quality_details(quality.drop(columns="facts"), "ja").empty  # an old summary: nothing to word


def test_every_fact_code_and_cause_has_catalogue_words():
    for code in FACT_CODES:
        assert f"quality.detail.{code}" in TEXT
    for cause in ("leading_zeros", "decimal_part", "spaces", "case", "full_width"):
        assert f"quality.cause.{cause}" in TEXT
    with pytest.raises(ValueError, match="Unknown data-quality fact code"):
        detail_facts("shrug", n=1)


def _lines_by_month_as_text(tx: pd.DataFrame) -> pd.DataFrame:
    """The monthly line counts as first written: dates formatted as text, kinds as text, pairs counted."""
    kind = pd.Series("sale", index=tx.index, dtype="str")
    kind = kind.mask(tx["quantity"] < 0, "return")
    kind = kind.mask(tx["customer_id"].isna(), "guest")
    month = tx["order_datetime"].dt.strftime("%Y-%m")
    out = pd.DataFrame({"month": month, "kind": kind}).value_counts().rename("lines").reset_index()
    return out.sort_values(["month", "kind"], kind="stable").reset_index(drop=True)[["month", "kind", "lines"]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 800)),
            st.sampled_from([-2, -1, 1, 3]),
            st.sampled_from(["a", "b", None]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_lines_by_month_counts_as_the_text_computation(rows):
    """Counted on month numbers and kind codes, the monthly lines equal the text-based count: months across
    years, returns, guests (a guest return is a guest line), lines without a date left out."""
    from crmtools.quality import lines_by_month

    stamps = [pd.NaT if d is None else pd.Timestamp("2023-11-20 13:00") + pd.Timedelta(days=d) for d, _, _ in rows]
    tx = pd.DataFrame(
        {
            "order_datetime": pd.Series(stamps, dtype="datetime64[us]"),
            "quantity": [q for _, q, _ in rows],
            "customer_id": pd.Series([c for _, _, c in rows], dtype="str"),
        }
    )
    expected = _lines_by_month_as_text(tx)
    found = lines_by_month(tx)
    if expected.empty:
        assert found.empty and list(found.columns) == ["month", "kind", "lines"]
        return
    pd.testing.assert_frame_equal(found, expected)
