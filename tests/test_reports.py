"""The real report set end to end: every notebook runs, pages are self-contained, figures are right,
no personal data leaks, data strings are escaped; plus a real-browser check in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from crmtools.periods import last_complete_month
from crmtools.reporting import i18n
from crmtools.runner import run_period
from crmtools.sampledata import SampleConfig, write_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EVIL = "<script>alert(1)</script> & Co"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One English report set on a small sample in which a planted-pair product has a hostile name."""
    root = tmp_path_factory.mktemp("project")
    data = write_sample(root / "data", SampleConfig(customers=3000, months=24, seed=3))
    truths = json.loads((data / "truths.json").read_text())
    target = truths["co_purchase_pairs"][0]["antecedent_id"]
    for name in ("transactions", "products"):
        frame = pd.read_parquet(data / f"{name}.parquet")
        frame.loc[frame["product_id"] == target, "product_name"] = EVIL
        frame.to_parquet(data / f"{name}.parquet", index=False)
    (root / "params").mkdir()
    (root / "params" / "default.yaml").write_text(
        # a small sample: floors low enough that the planted pair (with the hostile name) is shown
        "data:\n  path: data\nbasket:\n  min_support: 0.004\n  min_confidence: 0.05\n  min_baskets: 100\n"
        "  min_rule_baskets: 3\n  min_rule_customers: 3\n",
        encoding="utf-8",
    )
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    result = run_period(None, project_dir=root, jobs=2)
    assert result.status == "published", result.message
    tx = pd.read_parquet(data / "transactions.parquet")
    customers = pd.read_parquet(data / "customers.parquet")
    return result, tx, customers


def pages(result) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(result.report_dir.glob("*.html"))}


def test_every_notebook_publishes_a_page_with_its_charts(published):
    result, _, _ = published
    names = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(pages(result)) == sorted(n.replace(".ipynb", ".html") for n in names)
    for nb in result.notebooks:
        assert nb.status == "ok" and nb.images >= 1, nb


def test_pages_show_no_code_and_load_nothing_from_outside(published):
    for name, page in pages(published[0]).items():
        assert 'class="jp-InputArea' not in page, name
        assert "<script" not in page.lower(), name  # not even inline scripts
        assert not re.search(r"""(src|href)=["']https?://""", page), name
        assert "Traceback" not in page and "Error" not in re.sub(r"<style.*?</style>", "", page, flags=re.S), name


def test_summary_shows_the_period_revenue_computed_independently(published):
    result, tx, _ = published
    period = last_complete_month(tx["order_datetime"].max())
    assert result.period == period.label
    in_period = tx[(tx["order_datetime"] >= period.start) & (tx["order_datetime"] < period.end)]
    summary = pages(result)["00_summary.html"]
    assert i18n.money(in_period["amount"].sum(), "en") in summary
    purchases = in_period[in_period["quantity"] > 0]  # KPI definitions: orders with a purchased line
    assert f"{purchases['order_id'].nunique():,}" in summary
    assert f"{purchases['customer_id'].dropna().nunique():,}" in summary
    headline = json.loads((result.report_dir / "headline.json").read_text())
    assert headline["kpis"]["revenue"] == pytest.approx(in_period["amount"].sum())


def test_no_personal_data_in_any_page(published):
    result, tx, customers = published
    text = "\n".join(pages(result).values())
    ids = set(tx["customer_id"].dropna().unique())
    leaked = [cid for cid in ids if cid in text]
    assert not leaked, leaked[:5]
    for column in ("name", "email", "phone"):
        values = customers[column].dropna().unique()
        assert not [v for v in values if v in text], column
    assert "@example.com" not in text


def test_strings_from_the_data_are_escaped(published):
    text = "\n".join(pages(published[0]).values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in text
    assert "<script>alert(1)</script>" not in text


def test_index_lists_the_period_with_headline_kpis(published):
    result, _, _ = published
    index = (result.report_dir.parent.parent / "index.html").read_text(encoding="utf-8")
    assert f'href="{result.period}/en/00_summary.html"' in index
    headline = json.loads((result.report_dir / "headline.json").read_text())
    assert i18n.money(headline["kpis"]["revenue"], "en") in index


def test_japanese_report_uses_japanese_everywhere(published, tmp_path):
    result, _, _ = published
    root = result.report_dir.parent.parent.parent
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in ("00_summary.ipynb", "04_basket.ipynb"):
        shutil.copy(root / "notebooks" / name, notebooks / name)
    ja = run_period(
        result.period,
        project_dir=root,
        notebooks_dir=notebooks,
        reports_dir=tmp_path / "reports",
        overrides=["language=ja"],
        jobs=2,
    )
    assert ja.status == "published", ja.message
    summary = (ja.report_dir / "00_summary.html").read_text(encoding="utf-8")
    for key in (
        "summary_title",
        "actions_title",
        "findings",
        "revenue",
        "trend_13m",
        "top_movements",
        "top_rules",
        "glossary_title",
    ):
        assert i18n.text(key, "ja") in summary, key
    assert "円" in summary and "前期比" in summary
    assert '<html lang="ja"' in summary or "lang=" in summary


def test_japanese_chart_font_has_the_glyphs():
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    from crmtools.plotting.theme import JAPANESE_FONT, use_report_theme

    with matplotlib.rc_context():
        use_report_theme("ja")
        path = font_manager.findfont(
            font_manager.FontProperties(family=matplotlib.rcParams["font.family"]), fallback_to_default=False
        )
        assert "ipaexg" in Path(path).name.lower()
        assert font_manager.FontProperties(fname=path).get_name() == JAPANESE_FONT
        fig, ax = plt.subplots()
        ax.set_title("売上推移（直近13か月）")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Glyph ... missing from font" would raise
            fig.canvas.draw()
        plt.close(fig)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)")
def test_pages_render_in_a_real_browser_without_errors_or_requests(published):
    from playwright.sync_api import sync_playwright

    result, tx, _ = published
    period = last_complete_month(tx["order_datetime"].max())
    # as the revenue tile shows it (the full amount is in its title)
    revenue = i18n.compact_money(tx.loc[period.contains(tx["order_datetime"]), "amount"].sum(), "en")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        try:
            for name, must_show in (("00_summary.html", revenue), ("04_basket.html", EVIL)):
                page = browser.new_page()
                errors, outside, dialogs = [], [], []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

                def guard(route):
                    url = route.request.url
                    if url.startswith(("file:", "data:")):
                        route.continue_()
                    else:
                        outside.append(url)
                        route.abort()

                page.route("**/*", guard)
                page.goto((result.report_dir / name).as_uri())
                page.wait_for_load_state("load")
                images = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
                )
                assert images and all(ok and w > 0 and h > 0 for ok, w, h in images), (name, images)
                text = page.inner_text("body")
                assert must_show in text, name
                assert errors == [] and outside == [] and dialogs == [], (name, errors, outside, dialogs)
                page.close()
        finally:
            browser.close()
