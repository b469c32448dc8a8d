"""reports/index.html and the page renderer's clean-ups, on hand-made report folders (no notebook runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from crmtools.reporting import i18n
from crmtools.reporting.index import build_index, index_entries, index_name
from crmtools.reporting.render import _drop_object_reprs


def publish(
    root: Path,
    period: str,
    language: str,
    *,
    finished: str,
    status: str = "published",
    message: str = "",
    revenue: float = 1_234_567.0,
) -> Path:
    """A run folder as the runner leaves it: published pages, or a failed run's manifest."""
    folder = (root / period / language) if status == "published" else (root / ".failed" / period / language)
    folder.mkdir(parents=True)
    manifest = {
        "period": period,
        "params": {"language": language},
        "status": status,
        "finished_at": finished,
        "data": {"data_through": "2025-12-31", "partial": False},
    }
    if message:
        manifest["message"] = message
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if status == "published":
        (folder / "headline.json").write_text(
            json.dumps({"language": language, "kpis": {"revenue": revenue}}), encoding="utf-8"
        )
        (folder / "00_summary.html").write_text("<html></html>", encoding="utf-8")
    return folder


@pytest.fixture
def reports(tmp_path):
    root = tmp_path / "reports"
    publish(root, "2025-11", "en", finished="2026-01-02T06:00:00+00:00")
    publish(root, "2025-Q4", "en", finished="2026-01-03T06:00:00+00:00")
    publish(root, "2025-12", "en", finished="2026-01-01T06:00:00+00:00")
    publish(root, "2025-12", "ja", finished="2026-01-01T06:10:00+00:00")
    publish(root, "2025-Q3", "ja", finished="2025-10-01T06:10:00+00:00")
    publish(
        root,
        "2025-12",
        "ja",
        finished="2026-01-05T06:10:00+00:00",
        status="failed",
        message="Notebook 03_retention.ipynb failed in cell 4 (ValueError: <boom>).",
    )
    return root


def test_runs_are_listed_newest_period_end_first_months_and_quarters_interleaved(reports):
    order = [(e.period, e.language, e.status) for e in index_entries(reports)]
    assert order == [
        ("2025-12", "en", "published"),
        ("2025-12", "ja", "failed"),
        ("2025-12", "ja", "published"),
        ("2025-Q4", "en", "published"),
        ("2025-11", "en", "published"),
        ("2025-Q3", "ja", "published"),
    ]


def test_the_index_shows_language_status_finish_time_data_through_and_why_a_run_failed(reports):
    page = build_index(reports, language="en").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert 'href="2025-12/en/00_summary.html"' in page and 'href="2025-12/ja/00_summary.html"' in page
    assert "Japanese" in page and "English" in page and "2026-01-01 06:00" in page and "2025-12-31" in page
    assert "failed" in page and "failed in cell 4 (ValueError: &lt;boom&gt;)" in page  # escaped
    assert i18n.money(1_234_567, "en") in page  # full amounts in the table
    assert 'href="index.ja.html"' in page
    rows = re.findall(r"<tr class=\"run-(\w+)\"><td>(?:<a [^>]*>)?([^<]+)", page)
    assert [label for _, label in rows] == ["Dec 2025", "Dec 2025", "Dec 2025", "2025 Q4", "Nov 2025", "2025 Q3"]


def test_the_japanese_index_is_in_japanese_and_links_back(reports):
    page = build_index(reports, language="ja").read_text(encoding="utf-8")
    assert index_name("ja") == "index.ja.html" and (reports / "index.ja.html").exists()
    assert '<html lang="ja">' in page and 'href="index.html" hreflang="en" lang="en"' in page
    for key in ("layout.status.failed", "layout.status.published", "layout.language_of.ja", "layout.data_through"):
        assert i18n.text(key, "ja") in page, key
    assert "2025年12月" in page and "1,234,567円" in page


def test_an_empty_reports_folder_gives_an_index_that_says_so(tmp_path):
    page = build_index(tmp_path, language="ja").read_text(encoding="utf-8")
    assert i18n.text("none_in_period", "ja") in page


def test_reports_of_the_old_one_language_layout_are_still_listed(tmp_path):
    folder = tmp_path / "2025-10"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"params": {"language": "ja"}, "status": "published"}))
    (folder / "00_summary.html").write_text("x")
    (entry,) = index_entries(tmp_path)
    assert (entry.period, entry.language, entry.first_page) == ("2025-10", "ja", "00_summary.html")


def test_the_repr_of_a_plot_object_never_reaches_a_page():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot(...)")
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "<Axes: title={'center': 'ROI'}>"}),
        nbformat.v4.new_output("display_data", {"text/plain": "<Figure size 800x400 with 1 Axes>"}),
        nbformat.v4.new_output("display_data", {"image/png": "iVBOR", "text/plain": "<Figure ...>"}),
        nbformat.v4.new_output("execute_result", {"text/plain": "'<Axes>' is a word"}),
    ]
    nb.cells = [cell]
    _drop_object_reprs(nb)
    kept = [out["data"] for out in nb.cells[0].outputs]
    assert kept == [{"image/png": "iVBOR", "text/plain": "<Figure ...>"}, {"text/plain": "'<Axes>' is a word"}]


def test_a_failed_run_reads_as_a_plain_sentence_with_the_technical_message_in_the_title(tmp_path):
    root = tmp_path / "reports"
    message = "KeyError: \"No report text for 'basket.screen_floors'; add it to crmtools.reporting.i18n.TEXT.\""
    folder = publish(root, "2025-12", "ja", finished="2026-01-05T06:10:00+00:00", status="failed", message=message)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["notebooks"] = [
        {"notebook": "00_summary.ipynb", "status": "ok", "error": ""},
        {"notebook": "04_basket.ipynb", "status": "failed", "error": message},
    ]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = build_index(root, language="en").read_text(encoding="utf-8")
    cell = re.search(r'<td class="reason"([^>]*)>([^<]*)</td>', page)
    assert cell.group(2) == "page 04_basket failed; details in reports/.failed/2025-12/ja/"
    assert "crmtools.reporting.i18n.TEXT" in cell.group(1) and "crmtools" not in cell.group(2)
    ja = build_index(root, language="ja").read_text(encoding="utf-8")
    assert "ページ 04_basket が失敗しました。詳細は reports/.failed/2025-12/ja/ にあります。" in ja
