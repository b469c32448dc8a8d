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
