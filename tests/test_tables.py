"""Report tables: the glossary and the tiles that link to it, previous-period columns, numbered lists (issue 12)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from crmtools.reporting import i18n
from crmtools.reporting.summary import TILE_KPIS
from crmtools.reporting.tables import bullet_list, format_value, glossary_html, kpi_tiles, with_previous


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_tile_links_to_its_glossary_entry_on_the_same_page(language):
    tiles = pd.DataFrame(
        {
            "kpi": [k for k, _ in TILE_KPIS],
            "value": 1.0,
            "previous": 1.0,
            "year_ago": 1.0,
            "kind": [kind for _, kind in TILE_KPIS],
        }
    )
    page = kpi_tiles(tiles, language=language, glossary=True).data + glossary_html(tiles["kpi"], language=language).data
    links = re.findall(r'href="#(g-[^"]+)"', page)
    anchors = re.findall(r'id="(g-[^"]+)"', page)
    assert sorted(links) == sorted(anchors) == sorted(f"g-{k}" for k, _ in TILE_KPIS)
    assert "<script" not in page and "http" not in page
    assert 'href="#' not in kpi_tiles(tiles, language=language).data  # links only when asked for


def test_the_glossary_is_one_escaped_line_per_known_kpi():
    out = glossary_html(["campaign_roi", "unknown_kpi", "orders"], language="ja").data
    assert out.count("<dt") == 2 and "unknown_kpi" not in out
    assert '<dt id="g-orders">受注件数</dt>' in out
    assert "（帰属売上" not in out and "&lt;" not in out and "\n" not in out


def test_with_previous_and_signed_integers():
    now = pd.DataFrame({"decile": [1, 2], "revenue_share": [0.6, 0.4]})
    before = pd.DataFrame({"decile": [2, 1, 3], "revenue_share": [0.3, 0.5, 0.2]})
    out = with_previous(now, before, on="decile", columns=["revenue_share"])
    assert out["revenue_share_previous"].tolist() == [0.5, 0.3] and len(out) == 2
    assert now.columns.tolist() == ["decile", "revenue_share"]  # input unchanged
    assert [format_value(v, "signed_integer") for v in (-234, 304, float("nan"))] == ["−234", "+304", "–"]


def test_numbered_list_for_ranked_actions():
    assert bullet_list(["a <b>"], numbered=True).data == '<ol class="crm-findings"><li>a &lt;b&gt;</li></ol>'
    assert bullet_list(["a"]).data.startswith("<ul")


# --------------------------------------------------------------------------- tables as Stylers (issue 12: the analyst in Lab)


def _frame():
    return pd.DataFrame(
        {
            "segment": ["Champions", "<b>Loyal</b>", "Lost " * 40],
            "customers": [1200, 3400, 56],
            "revenue": [1_461_756.25, 250_000.5, float("nan")],
            "share": [0.5, 0.25, 0.01],
        }
    )


FORMATS = {"customers": "integer", "revenue": "money", "share": "percent"}


def test_a_table_is_a_styler_of_the_frame_the_analyst_can_sort_and_filter():
    from pandas.io.formats.style import Styler

    from crmtools.reporting.tables import html_table

    frame = _frame()
    table = html_table(frame, FORMATS, currency="GBP")
    assert isinstance(table, Styler) and table.data is frame  # the DataFrame itself, not a copy of text
    assert frame["revenue"].dtype == float  # formats are the Styler's, the data stays numbers
    resorted = html_table(table.data.sort_values("customers"), FORMATS, currency="GBP").to_html()
    assert resorted.index("Lost") < resorted.index("Champions")
    assert table._repr_html_() == table.to_html()  # what Lab and the report page show


def test_the_styler_renders_the_report_table_escaped_and_shortened():
    from crmtools.reporting.tables import MAX_LABEL_WIDTH, html_table

    page = html_table(_frame(), FORMATS, language="ja", currency="GBP").to_html()
    assert page.startswith('<table class="crm-table"><thead><tr><th>セグメント</th><th class="num">顧客数</th>')
    assert '<td class="num">£1,461,756.25</td>' in page and '<td class="num">–</td>' in page
    assert '<td class="num">1,200</td>' in page and '<td class="num">50.0%</td>' in page
    assert "<td>&lt;b&gt;Loyal&lt;/b&gt;</td>" in page and "<b>" not in page
    shortened = re.search(r'<td title="(Lost [^"]+)">(Lost [^<]+…)</td>', page)
    assert shortened and len(shortened.group(2)) <= MAX_LABEL_WIDTH
    assert "<style" not in page and " id=" not in page and "\n" not in page  # no ids or styles unless added


def test_the_same_table_gives_the_same_html_also_with_added_styles():
    from crmtools.reporting.tables import html_table

    first = html_table(_frame(), FORMATS).highlight_max(subset=["customers"]).to_html()
    second = html_table(_frame(), FORMATS).highlight_max(subset=["customers"]).to_html()
    assert first == second  # Styler's random uuid replaced by one derived from the table's content
    ids = set(re.findall(r'id="(T_[^"]+)"', first))
    assert ids and "background-color: yellow" in first and all(i.startswith("T_") for i in ids)
    other = html_table(_frame().head(2), FORMATS).highlight_max(subset=["customers"]).to_html()
    assert not ids & set(re.findall(r'id="(T_[^"]+)"', other))  # two tables on a page: different ids


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_an_empty_table_is_a_one_line_note(language):
    from crmtools.reporting.tables import html_table

    empty = _frame().iloc[:0]
    assert html_table(empty, FORMATS, language=language).to_html() == (
        f'<p class="crm-note">{i18n.text("table.empty", language)}</p>'
    )
    why = html_table(empty, FORMATS, empty="No campaign ran in <Nov>.").to_html()
    assert why == '<p class="crm-note">No campaign ran in &lt;Nov&gt;.</p>'


def test_long_tables_say_there_are_more_rows_and_english_details_are_marked():
    from crmtools.reporting.tables import html_table

    frame = pd.DataFrame({"detail": [f"row {i}" for i in range(10)], "rows": range(10)})
    page = html_table(frame, {"rows": "integer"}, max_rows=3, language="ja", text_language="en").to_html()
    assert page.count("<tr>") == 1 + 3 + 1 and "row 3" not in page and "<td>…</td>" in page
    assert '<tbody lang="en">' in page and "<th>詳細</th>" in page


def test_what_a_notebook_cell_shows_is_the_same_between_runs():
    """IPython's display formatter (what papermill stores and the renderer turns into the page) gives the same
    bytes for the same table: no random Styler uuid, no memory address in the plain-text form."""
    from IPython.core.formatters import DisplayFormatter

    from crmtools.reporting.tables import html_table

    first, second = (DisplayFormatter().format(html_table(_frame(), FORMATS, currency="GBP"))[0] for _ in range(2))
    assert first == second
    assert first["text/html"].startswith('<table class="crm-table">') and "£1,461,756.25" in first["text/html"]
    assert first["text/plain"] == "<ReportTable: 3 rows x 4 columns>"


def test_a_fall_in_a_lower_is_better_figure_is_good_news():
    from crmtools.reporting.tables import kpi_tiles

    tiles = pd.DataFrame(
        {
            "kpi": ["value_at_risk", "revenue"],
            "value": [80.0, 80.0],
            "previous": [100.0, 100.0],
            "year_ago": [60.0, 60.0],
            "kind": ["number", "number"],
            "better": ["lower", None],
        }
    )
    page = kpi_tiles(tiles).data
    risk, revenue = page.split('<div class="crm-tile">')[1:]
    assert '<span class="up">▼ −20.0%</span>' in risk and '<span class="down">▲ +33.3%</span>' in risk
    assert '<span class="down">▼ −20.0%</span>' in revenue and '<span class="up">▲ +33.3%</span>' in revenue


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_value_tiles_and_nps_have_their_glossary_lines(language):
    from crmtools.churn import ValueSummary
    from crmtools.reporting.summary import value_tiles

    now = ValueSummary(pd.Timestamp("2025-12-01"), "ok", 100, 5e6, 20, 1e6, 12)
    tiles = value_tiles(now, now, language=language)
    assert tiles["kpi"].tolist() == ["clv_active_value", "value_at_risk"]
    page = kpi_tiles(tiles, language=language, glossary=True).data
    assert sorted(re.findall(r'href="#(g-[^"]+)"', page)) == ["g-clv_active_value", "g-value_at_risk"]
    # NPS is no tile, but the summary's NPS finding has its line in the glossary
    glossary = glossary_html([*tiles["kpi"], "nps"], language=language).data
    assert re.findall(r'id="(g-[^"]+)"', glossary) == ["g-clv_active_value", "g-value_at_risk", "g-nps"]
    assert all(i18n.TEXT[f"glossary.{k}"][language].strip() for k in ("clv_active_value", "value_at_risk", "nps"))


def test_experiment_values_read_as_their_metric_and_headers_say_what_they_hold():
    from crmtools.reporting.tables import html_table, metric_values

    results = pd.DataFrame(
        {
            "variant": ["B", "B"],
            "metric": ["revenue_per_unit", "conversion_rate"],
            "control_value": [491.15, 0.0801],
            "variant_value": [588.90, 0.0806],
        }
    )
    shown = metric_values(results, language="en", currency="JPY")
    assert shown["control_value"].tolist() == ["¥491", "8.0%"] and shown["variant_value"].tolist() == ["¥589", "8.1%"]
    assert metric_values(results, currency="GBP")["variant_value"].tolist() == ["£588.90", "8.1%"]
    html = html_table(shown, {"control_value": "shown", "variant_value": "shown"}).to_html()
    headers = [h.split(">")[-1] for h in html.split("</th>")[:-1]]
    assert len(set(headers)) == len(headers)  # no header twice ("Variant" was the name and the value)
    assert '<td class="num">¥491</td>' in html


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_glossary_speaks_business_not_parameter_names(language):
    keys = [k.removeprefix("glossary.") for k in i18n.TEXT if k.startswith("glossary.")]
    page = glossary_html(keys, language=language, params={"repeat": {"within_days": 60}}).data
    for developer in ("params", "パラメータ", "crmtools.", "_days", "clv.months", "{"):
        assert developer not in page, developer
    days = "within 60 days" if language == "en" else "60日以内"
    assert days in page  # the run's F2 window, not the default
    assert ("next 12 months" if language == "en" else "今後12か月") in page
    assert ("next 90 days" if language == "en" else "今後90日以内") in page
