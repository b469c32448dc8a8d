"""Report pages written from executed notebooks (crmtools.reporting.render.render_html, prepare_renderer)."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

from matplotlib.figure import Figure
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from crmtools.reporting import render


def _chart_png() -> str:
    fig = Figure(figsize=(2, 1.5))  # no pyplot: no backend or open figures
    fig.add_subplot().bar(["A", "B"], [3, 5])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _executed_page():
    html = (
        "<h2>Customers by segment</h2><table class='crm-table'><tr><th>Segment</th></tr><tr><td>VIP</td></tr></table>"
    )
    outputs = [
        new_output("display_data", data={"text/html": html}),
        new_output("display_data", data={"image/png": _chart_png(), "text/plain": "<Figure size 200x150>"}),
        new_output("stream", name="stderr", text="a warning for the log\n"),
        new_output("stream", name="stdout", text="3 segments & 2 notes\n"),
    ]
    return new_notebook(cells=[new_markdown_cell("# Segments\n\nWho buys *what*."), new_code_cell("", outputs=outputs)])


META = {"language": "en", "nav": [{"href": "00_summary.html", "text": "Summary"}], "period_text": "2025-12"}


def _in_new_thread(work):
    """Run ``work`` on a thread of its own: a new exporter (they are kept per thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def test_a_page_is_the_same_after_the_renderer_was_warmed_up(tmp_path):
    """prepare_renderer renders a small page to nowhere; the pages written after it are those of a new exporter."""
    cold = _in_new_thread(lambda: render.render_html(_executed_page(), tmp_path / "a.html", title="RFM", meta=META))

    def warmed():
        render.prepare_renderer("en")
        return render.render_html(_executed_page(), tmp_path / "b.html", title="RFM", meta=META)

    assert _in_new_thread(warmed) == cold
    assert (tmp_path / "b.html").read_text(encoding="utf-8") == cold
    assert 'alt="Customers by segment"' in cold and "3 segments &amp; 2 notes" in cold
    assert "a warning for the log" not in cold


def test_the_warm_up_page_goes_through_what_report_pages_do():
    """The warm-up page has a chart given alternative text, a table and printed text: the exporter's paths for
    them are built before the first real page."""
    page = render._page_html(render._warm_up_notebook(), title="crmtools", meta={"language": "ja"})
    assert 'lang="ja"' in page
    assert 'alt="Chart"' in page and "data:image/png;base64," in page
    assert "<table>" in page and "<em>note</em>" in page and "<pre>printed\n</pre>" in page
