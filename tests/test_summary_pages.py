"""The rendered summary agrees with the pages it summarises and with what an analyst exports (one small run)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from crmtools.reporting import i18n
from crmtools.runner import run_period
from crmtools.sampledata import SampleConfig, write_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
#: The summary and the two pages whose figures it repeats.
PAGES = ("00_summary", "07_clv", "08_actions")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The three pages for 2025-03 of a small sample, and the lists ``crmtools targets`` exports for it."""
    from crmtools.cli import main

    root = tmp_path_factory.mktemp("project")
    write_sample(root / "data", SampleConfig(customers=1500, months=15, seed=3))
    (root / "params").mkdir()
    (root / "params" / "default.yaml").write_text("data:\n  path: data\n", encoding="utf-8")
    (root / "notebooks").mkdir()
    for name in PAGES:
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", root / "notebooks")
    result = run_period("2025-03", project_dir=root, jobs=2)
    assert result.status == "published", result.message
    pages = {name: html.unescape(result.report_dir.joinpath(f"{name}.html").read_text("utf-8")) for name in PAGES}
    with pytest.MonkeyPatch.context() as patch:  # the command reads params/ and writes exports/ in the project
        patch.chdir(root)
        assert main(["targets", "--period", "2025-03"]) == 0
    exported = {p.stem: len(pd.read_csv(p)) for p in (root / "exports" / "2025-03").glob("*.csv")}
    return pages, exported


def test_summary_action_audiences_are_the_exported_lists(rendered):
    pages, exported = rendered
    actions = re.findall(r"<li>(.*?)</li>", pages["00_summary"].split("crm-actions")[1].split("</ol>")[0], re.S)
    quoted = {}
    for name in exported:
        title = i18n.target_list_title(name, "en")
        for text in actions:
            found = re.search(
                rf'the (\d[\d,]*) customers of the list "{re.escape(title)}"|match the list '
                rf'"{re.escape(title)}" — send the (\d[\d,]*) on the list',
                text,
            )
            if found:
                quoted[name] = int((found[1] or found[2]).replace(",", ""))
    assert {"win_back_valuable", "second_purchase_nudge"} <= set(quoted)
    assert quoted == {name: exported[name] for name in quoted}
    # every other audience figure says it is a count before consent and holdout, not a list
    for text in actions:
        if not any(i18n.target_list_title(name, "en") in text for name in quoted) and "repeat customers" in text:
            assert "before consent and holdout" in text


def test_summary_value_tile_is_page_07s_headline(rendered):
    pages, _ = rendered
    tile = re.search(r'Predicted value, active base.*?<div class="value"[^>]*>([^<]+)</div>', pages["00_summary"], re.S)
    headline = re.search(
        r"active customers \(a purchase in the last 365 days\) are predicted to bring (\S+) over", pages["07_clv"]
    )
    assert tile and headline and tile[1] == headline[1]


def test_the_lists_page_shows_the_exported_sizes(rendered):
    pages, exported = rendered
    shown = {}
    for row in re.findall(r"<tr>(.*?)</tr>", pages["08_actions"], re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for name in exported:
            if cells and cells[0] == i18n.target_list_title(name, "en"):
                shown[name] = int(cells[2].replace(",", ""))
    assert shown == exported
