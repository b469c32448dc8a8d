"""Money in any currency, one formatting path (crmtools.reporting.money): tiles, tables, prose, axes, index (issue 13).

Expected texts are written out by hand for GBP, USD, JPY and EUR in English
and Japanese; properties check the rounding against the amount itself.
"""

from __future__ import annotations

import re
from decimal import Decimal

import matplotlib
import pandas as pd
import pytest
from babel.numbers import format_currency, get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from crmtools.reporting import i18n
from crmtools.reporting.money import compact_money, money

AMOUNT = 1_461_756.25  # Online Retail's revenue of a month, in pounds
#: (language, currency) -> (full amount, rounded amount) of AMOUNT.
EXPECTED = {
    ("en", "GBP"): ("£1,461,756.25", "£1.46M"),
    ("en", "USD"): ("$1,461,756.25", "$1.46M"),
    ("en", "EUR"): ("€1,461,756.25", "€1.46M"),
    ("en", "JPY"): ("¥1,461,756", "¥1.46M"),
    ("ja", "GBP"): ("£1,461,756.25", "£146万"),
    ("ja", "USD"): ("$1,461,756.25", "$146万"),
    ("ja", "EUR"): ("€1,461,756.25", "€146万"),
    ("ja", "JPY"): ("1,461,756円", "146万円"),
}
CASES = sorted(EXPECTED)


@pytest.mark.parametrize(("language", "currency"), CASES)
def test_full_and_rounded_amounts_carry_the_currency(language, currency):
    full, rounded = EXPECTED[language, currency]
    assert money(AMOUNT, language, currency) == full
    assert compact_money(AMOUNT, language, currency) == rounded
    assert " GBP" not in full + rounded and "USD" not in full + rounded  # never "1,461,756.25 GBP"


def test_the_japanese_example_of_issue_12():
    assert money(39_691_230, "ja") == "39,691,230円"
    assert compact_money(39_691_230, "ja") == "3,969万円"
    assert compact_money(39_691_230, "en") == "¥39.7M"
    assert compact_money(39_691_230, "en", "GBP") == "£39.7M"


@pytest.mark.parametrize(
    ("value", "language", "currency", "expected"),
    [
        (-2_500_000, "en", "GBP", "−£2.5M"),  # the reports' minus sign, not a hyphen
        (-2_500_000, "ja", "JPY", "−250万円"),
        (-0.001, "en", "GBP", "£0.00"),  # rounds to zero: no sign
        (9_876.5, "en", "EUR", "€9,876.50"),  # below 10,000: in full, with the cents
        (5_000, "en", "GBP", "£5,000"),  # a whole small amount (an axis tick): no ".00"
        (0, "ja", "USD", "$0"),
        (999_960, "en", "USD", "$1M"),  # rounding up moves to the next unit, never "1000K"
        (99_999_000, "ja", "JPY", "1億円"),  # never "10,000万円"
        (123_456_789, "ja", "GBP", "£1.23億"),
        (1_234_567_890, "en", "EUR", "€1.23B"),
        (float("nan"), "en", "GBP", "–"),
        (None, "ja", "EUR", "–"),
    ],
)
def test_rounded_amounts_at_the_edges(value, language, currency, expected):
    assert compact_money(value, language, currency) == expected


@pytest.mark.parametrize(("language", "currency"), CASES)
@given(value=st.floats(-1e13, 1e13, allow_nan=False))
def test_a_full_amount_is_the_amount_at_the_currency_precision(language, currency, value):
    shown = money(value, language, currency)
    number = Decimal(re.sub(r"[^\d.]", "", shown))
    expected = Decimal(str(abs(value))).quantize(Decimal(1).scaleb(-get_currency_precision(currency)))
    assert number == expected, (value, shown)
    assert shown.startswith("−") == (expected != 0 and value < 0)


@pytest.mark.parametrize(("language", "currency"), CASES)
@given(value=st.floats(1e4, 1e14))
def test_a_rounded_amount_is_off_by_at_most_half_its_last_digit(language, currency, value):
    shown = compact_money(value, language, currency)
    units = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, "万": 1e4, "億": 1e8, "兆": 1e12}
    found = re.fullmatch(r"[^\d]*([\d,]+(?:\.(\d+))?)(K|M|B|T|万|億|兆)[^\d]*", shown)
    assert found, shown
    number, decimals, unit = float(found.group(1).replace(",", "")), len(found.group(2) or ""), found.group(3)
    assert abs(number * units[unit] - value) <= 0.5 * units[unit] * 10**-decimals * (1 + 1e-9), (value, shown)
    significant = len(found.group(1).replace(",", "").replace(".", "").lstrip("0"))
    assert significant <= max(3, len(str(int(number)))), shown  # three significant digits, whole units kept


def test_full_amounts_are_babels():
    """The reference: Babel's own currency format (the symbol and decimals of CLDR), except 円 in Japanese."""
    for language, currency in CASES:
        reference = format_currency(-AMOUNT, currency, locale=language).replace("-", "−")
        if (language, currency) == ("ja", "JPY"):
            reference = reference.replace("￥", "") + "円"
        assert money(-AMOUNT, language, currency) == reference


def test_every_report_language_has_a_babel_locale():
    from crmtools.reporting.money import LOCALES

    assert tuple(LOCALES) == i18n.LANGUAGES
    with pytest.raises(ValueError, match=r"Invalid language: allowed: 'en', 'ja'; received: 'fr'"):
        money(1, "fr")


def test_i18n_and_the_tables_use_the_same_path():
    from crmtools.reporting.tables import format_value

    for language, currency in CASES:
        full, rounded = EXPECTED[language, currency]
        assert i18n.money(AMOUNT, language, currency) == format_value(AMOUNT, "money", language, currency) == full
        assert format_value(AMOUNT, "compact_money", language, currency) == rounded


# --------------------------------------------------------------------------- where money is shown


@pytest.mark.parametrize(("language", "currency"), CASES)
def test_tiles_round_and_keep_the_full_amount_in_the_title(language, currency):
    from crmtools.reporting.tables import kpi_tiles

    full, rounded = EXPECTED[language, currency]
    tiles = pd.DataFrame(
        {"kpi": ["revenue"], "value": [AMOUNT], "previous": [1e6], "year_ago": [None], "kind": ["money"]}
    )
    page = kpi_tiles(tiles, language=language, currency=currency).data
    assert f'<div class="value" title="{full}">{rounded}</div>' in page


@pytest.mark.parametrize(("language", "currency"), CASES)
def test_tables_show_the_full_amount(language, currency):
    from crmtools.reporting.tables import html_table

    full, _ = EXPECTED[language, currency]
    frame = pd.DataFrame({"segment": ["A"], "revenue": [AMOUNT]})
    page = html_table(frame, {"revenue": "money"}, language=language, currency=currency).to_html()
    assert f'<td class="num">{full}</td>' in page


@pytest.mark.parametrize(("language", "currency"), CASES)
def test_money_axes_carry_the_currency_and_no_offset(language, currency):
    import matplotlib.pyplot as plt

    from crmtools.plotting.kpis import plot_trend
    from crmtools.plotting.rfm import plot_segment_bars
    from crmtools.plotting.theme import use_report_theme

    symbol = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "円" if language == "ja" else "¥"}[currency]
    trend = pd.DataFrame(
        {"month": pd.period_range("2011-01", periods=4, freq="M").astype(str), "revenue": [1.2e6, 1.5e6, 0.9e6, 2.1e6]}
    )
    segments = pd.DataFrame({"segment": ["Champions", "Loyal"], "revenue": [2.5e6, 7.5e5]})
    with matplotlib.rc_context():
        use_report_theme(language)
        for ax, axis in (
            (plot_trend(trend, language=language, currency=currency), "y"),
            (plot_segment_bars(segments, value="revenue", language=language, currency=currency), "x"),
        ):
            ax.figure.canvas.draw()
            ticks = [t.get_text() for t in getattr(ax, f"get_{axis}ticklabels")() if t.get_text()]
            assert ticks and all(symbol in t for t in ticks), ticks
            assert all(re.search(r"(M|K|万|億)", t) for t in ticks if t.strip("£$€¥円0") != ""), ticks
            assert not any("e" in t.lower() for t in ticks), ticks  # no "1e6"
            assert getattr(ax, f"{axis}axis").get_offset_text().get_text() == ""
            plt.close(ax.figure)


def test_the_index_shows_each_run_in_its_own_currency(tmp_path):
    """A GBP run and a JPY run in one reports folder: each row in its currency, never the last run's ¥."""
    import json

    from crmtools.reporting.index import build_index

    for period, currency, revenue in (("2011-11", "GBP", AMOUNT), ("2025-10", "JPY", 39_691_230.0)):
        for language in ("en", "ja"):
            folder = tmp_path / period / language
            folder.mkdir(parents=True)
            manifest = {"params": {"language": language, "currency": currency}, "finished_at": "2026-11-30T01:00"}
            (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            (folder / "headline.json").write_text(json.dumps({"kpis": {"revenue": revenue}}), encoding="utf-8")
            (folder / "00_summary.html").write_text("<html></html>", encoding="utf-8")
    expected = {
        "en": ['title="£1,461,756.25">£1.46M<', 'title="¥39,691,230">¥39.7M<'],
        "ja": ['title="£1,461,756.25">£146万<', 'title="39,691,230円">3,969万円<'],
    }
    for language in ("en", "ja"):
        page = build_index(tmp_path, language=language, currency="JPY").read_text(encoding="utf-8")
        for cell in expected[language]:
            assert page.count(cell) == 2, (language, cell)  # once per report language of the period
        assert "GBP" not in page and "¥1,461,756" not in page
