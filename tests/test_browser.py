"""The report as its readers see it: both languages of one period, on a laptop, on a phone and on paper.

One small sample is reported in English and in Japanese (the same period, side by side). Without a browser
the pages are checked as HTML: no English left on Japanese pages, no stderr block, no ``<Axes ...>`` repr, the
two versions linking to each other. In headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright) every page is laid out at 1280 px and 390 px (no sideways scrolling of the page, two KPI tiles a
row on a phone, tables scrolling inside their own box) and the summary is printed to PDF (A4 portrait, no
heading left at the bottom of a page).

``CRMTOOLS_SCREENSHOTS=docs/screenshots pytest tests/test_browser.py`` also saves the screenshots and the
printed summary used in the README.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from ja_lint import untranslated_codes

from crmtools.params import DEFAULTS
from crmtools.reporting.i18n import TEXT
from crmtools.runner import run_period
from crmtools.sampledata import SampleConfig, write_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE, LAPTOP = 390, 1280
#: Latin-script words a Japanese page may show: names of measures and methods that Japanese business
#: writing keeps in Latin letters, and units.
LATIN_ALLOWED = {
    "z",  # z検定 and t検定 are the Japanese names of the tests
    "t",
    "CRM",
    "crmtools",
    "RFM",
    "KPI",
    "ROI",
    # abbreviations Japanese business writing uses as they are, and the models' names
    "LTV",
    "CLV",
    "CAC",
    "NPS",
    "AUC",
    "BG",
    "NBD",
    "Gamma",
    "ROAS",
    "A",
    "B",
    "F2",
    "SRM",
    "ID",
    "p",
    "q",
    "pt",
    "R",
    "F",
    "M",
    "Recency",
    "Frequency",
    "Monetary",
    "Holm",
    "Bonferroni",
    "Benjamini",
    "Hochberg",
    "UTC",
    "CI",
    "Gini",
}
#: A parameter's dotted name (``repeat.within_days``): pages may quote it, as the analyst writes it in params.
PARAMETER = re.compile(
    r"\b("
    + "|".join(
        re.escape(f"{section}.{key}") for section, value in DEFAULTS.items() if isinstance(value, dict) for key in value
    )
    + r")(\.[a-z_]+)*\b"
)
#: Catalogue keys that read like words (``conversion_rate``, ``metric.revenue_per_unit``): a key on a page is
#: a missed lookup.
KEYS = sorted({k for k in TEXT if re.fullmatch(r"[a-z0-9]+([._][a-z0-9]+)+", k)}, key=len, reverse=True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One period of a small sample published in English and in Japanese; with the data's own words."""
    root = tmp_path_factory.mktemp("project")
    data = write_sample(root / "data", SampleConfig(customers=3000, months=24, seed=3))
    (root / "params").mkdir()
    (root / "params" / "default.yaml").write_text(
        "data:\n  path: data\nbasket:\n  min_support: 0.004\n  min_confidence: 0.05\n", encoding="utf-8"
    )
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    en = run_period(None, project_dir=root, jobs=2)
    assert en.status == "published", en.message
    ja = run_period(en.period, project_dir=root, jobs=2, overrides=["language=ja"])
    assert ja.status == "published", ja.message
    return en, ja, _data_words(data)


def _data_words(folder: Path) -> set[str]:
    """Every word of every text value in the data (product names, channels, campaign and experiment ids ...):
    a Japanese page shows them as they are."""
    words = set()
    for path in folder.glob("*.parquet"):
        frame = pd.read_parquet(path)
        for column in frame.columns:
            if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
                for value in frame[column].dropna().astype(str).unique()[:5000]:
                    words.update(re.findall(r"[A-Za-z][A-Za-z0-9]*", value))
    return words


def pages(result) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(result.report_dir.glob("*.html"))}


class _Text(HTMLParser):
    """Visible text nodes with the language they are in (the nearest ``lang`` attribute)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.langs, self.skip, self.nodes = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "hr", "input"):
            return
        self.langs.append(dict(attrs).get("lang") or (self.langs[-1] if self.langs else ""))
        self.skip += tag in ("style", "script", "title", "head")

    def handle_endtag(self, tag):
        if tag in ("br", "img", "meta", "link", "hr", "input") or not self.langs:
            return
        self.langs.pop()
        self.skip -= tag in ("style", "script", "title", "head")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append((self.langs[-1] if self.langs else "", data.strip()))


def text_nodes(page: str) -> list[tuple[str, str]]:
    parser = _Text()
    parser.feed(page)
    return parser.nodes


def english_left(page: str, allowed: set[str]) -> list[str]:
    """Text on a Japanese page that should have been translated: catalogue keys, data codes the catalogue has
    words for (``dm``, ``free_shipping``: words of the data, but codes; :mod:`ja_lint`), and Latin-script words
    that are neither allowed terms nor words of the data (outside elements marked ``lang="en"``)."""
    found = []
    for lang, node in text_nodes(page):
        if lang == "en":
            continue
        keys = [k for k in KEYS if k in node] + untranslated_codes(node)
        node = re.sub(PARAMETER, " ", node)  # a parameter's name, quoted as the analyst sets it
        node = re.sub(r"(?<![0-9A-Za-z])[0-9a-f]{12}(?![0-9A-Za-z])", " ", node)  # a run key (541880147fcd)
        words = [
            w
            for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", node)
            if w not in allowed and w not in LATIN_ALLOWED and not re.search(r"\d", w)
        ]  # ids: C0012, run keys
        if keys or words:
            found.append(f"{node[:80]!r}: {keys or words}")
    return found


# ------------------------------------------------------------------------------------------ pages as HTML


def test_japanese_pages_leave_no_english_and_say_they_are_japanese(reports):
    _, ja, words = reports
    problems = {}
    for name, page in {
        **pages(ja),
        "index.ja.html": (ja.report_dir.parent.parent / "index.ja.html").read_text(encoding="utf-8"),
    }.items():
        assert '<html lang="ja">' in page, name
        found = english_left(page, words)
        if found:
            problems[name] = found[:8]
    assert not problems, problems


def test_the_english_check_catches_what_it_looks_for():
    page = (
        '<html lang="ja"><body><p>売上</p><td>conversion_rate</td><td>welch</td><td>Inactive</td>'
        '<a lang="en" href="x">English</a><td>Tea</td><li>平均 3,969万円 (ROI 12%)</li>'
        "<td>dm</td><td>Summer email</td><li>バリアント「free_shipping」</li></body></html>"
    )
    found = english_left(page, {"Tea", "dm", "Summer", "email", "free", "shipping"})  # words of the data
    assert [f.split(":")[0] for f in found] == [
        "'conversion_rate'",
        "'welch'",
        "'Inactive'",
        "'dm'",  # a channel code, though a word of the data
        "'バリアント「free_shipping」'",
    ]


def test_no_page_holds_a_stderr_block_or_the_repr_of_a_plot_object(reports):
    en, ja, _ = reports
    for result in (en, ja):
        for name, page in pages(result).items():
            body = re.sub(r"<style.*?</style>", "", page, flags=re.S)  # the theme's CSS names the stderr type
            assert "application/vnd.jupyter.stderr" not in body, name  # a warning box (or a traceback)
            text = html.unescape(re.sub(r"<[^>]+>", " ", body))
            assert "<Axes" not in text and "<Figure" not in text and "<matplotlib." not in text, name


def test_the_english_and_japanese_versions_link_to_each_other(reports):
    en, ja, _ = reports
    assert en.report_dir.parent == ja.report_dir.parent  # reports/<period>/{en,ja}
    for result, other in ((en, "ja"), (ja, "en")):
        for name, page in pages(result).items():
            assert f'<html lang="{result.report_dir.name}">' in page, name
            link = re.search(rf'<a class="crm-lang" href="([^"]+)" hreflang="{other}"', page)
            assert link, name
            assert (result.report_dir / link.group(1)).resolve() == (result.report_dir.parent / other / name), name
            assert (result.report_dir / link.group(1)).exists(), name
    index = (en.report_dir.parent.parent / "index.html").read_text(encoding="utf-8")
    assert f'href="{en.period}/en/00_summary.html"' in index and f'href="{en.period}/ja/00_summary.html"' in index


def test_the_summary_tiles_round_japanese_money_to_man_yen(reports):
    _, ja, _ = reports
    summary = pages(ja)["00_summary.html"]
    tile = re.search(r'<div class="value" title="([\d,]+)円">([\d,.]+)(万|億)円</div>', summary)
    assert tile, "the revenue tile shows 万円 or 億円 with the full amount in its title"


# -------------------------------------------------------------------------------------- in a real browser


def _browser(pw):
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)


def _layout(page) -> dict:
    return page.evaluate("""() => {
        const width = window.innerWidth;
        const right = el => el.getBoundingClientRect().right;
        const tiles = [...document.querySelectorAll('.crm-tile')].map(t => Math.round(t.getBoundingClientRect().top));
        return {
            width, scroll: document.documentElement.scrollWidth,
            wide: [...document.querySelectorAll('body *')].filter(el => right(el) > width + 1 &&
                   !el.closest('table.crm-table') && getComputedStyle(el).position !== 'fixed')
                   .slice(0, 5).map(el => el.tagName + '.' + el.className),
            tables: [...document.querySelectorAll('table.crm-table')].map(t => [right(t) <= width + 1,
                     getComputedStyle(t).overflowX]),
            images: [...document.querySelectorAll('img')].map(i => right(i) <= width + 1),
            tiles, nav: right(document.querySelector('.crm-nav') || document.body) <= width + 1,
        };
    }""")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)")
def test_every_page_fits_a_laptop_and_a_phone(reports):
    from playwright.sync_api import sync_playwright

    en, ja, _ = reports
    shots = os.environ.get("CRMTOOLS_SCREENSHOTS")
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            for result in (en, ja):
                for name in pages(result):
                    for width in (LAPTOP, PHONE):
                        page = browser.new_page(viewport={"width": width, "height": 900})
                        page.goto((result.report_dir / name).as_uri())
                        page.wait_for_load_state("load")
                        where = f"{result.report_dir.name}/{name} at {width} px"
                        got = _layout(page)
                        assert got["scroll"] <= width, (where, got["scroll"], got["wide"])
                        assert all(inside for inside, _ in got["tables"]), (where, got["tables"])
                        assert all(overflow in ("auto", "scroll") for _, overflow in got["tables"]), where
                        assert all(got["images"]) and got["nav"], where
                        if width == PHONE and len(got["tiles"]) >= 3:  # two tiles a row
                            assert got["tiles"][0] == got["tiles"][1] < got["tiles"][2], (where, got["tiles"])
                        if shots and name == "00_summary.html":
                            out = Path(shots) / f"summary_{result.report_dir.name}_{width}.png"
                            out.parent.mkdir(parents=True, exist_ok=True)
                            page.screenshot(
                                path=str(out),
                                full_page=width == PHONE,
                                clip=None if width == PHONE else {"x": 0, "y": 0, "width": width, "height": 1400},
                            )
                        page.close()
        finally:
            browser.close()


def _pdf_objects(pdf: bytes) -> dict[int, bytes]:
    """Object number -> body of every object of a PDF (streams inflated when they are Flate-compressed)."""
    objects = {}
    for match in re.finditer(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S):
        body = match.group(2)
        stream = re.search(rb"stream\r?\n(.*)endstream", body, re.S)
        if stream and b"/FlateDecode" in body:
            try:
                body = body[: stream.start()] + zlib.decompress(stream.group(1))
            except zlib.error:
                pass
        objects[int(match.group(1))] = body
    return objects


def _pages_of_links(pdf: bytes) -> tuple[list[tuple[float, float]], dict[str, int]]:
    """Page sizes in points, and the page number (from 0) each link's URI is on."""
    objects = _pdf_objects(pdf)
    root = next(body for body in objects.values() if re.search(rb"/Type\s*/Pages\b", body) and b"/Parent" not in body)

    def leaves(node: bytes) -> list[int]:  # the page tree, depth first: pages in reading order
        found = []
        for ref in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids\s*\[(.*?)\]", node, re.S).group(1)):
            child = objects[int(ref)]
            found += leaves(child) if re.search(rb"/Type\s*/Pages\b", child) else [int(ref)]
        return found

    order = leaves(root)
    by_number = objects
    sizes, where = [], {}
    for index, number in enumerate(order):
        body = by_number[number]
        box = [float(v) for v in re.search(rb"/MediaBox\s*\[([^\]]*)\]", body).group(1).split()]
        sizes.append((box[2] - box[0], box[3] - box[1]))
        annots = re.search(rb"/Annots\s*\[(.*?)\]", body, re.S)
        if not annots:
            continue
        for ref in re.findall(rb"(\d+) 0 R", annots.group(1)):
            uri = re.search(rb"/URI\s*\(([^)]*)\)", objects.get(int(ref), b""))
            if uri:
                where[uri.group(1).decode()] = index
    return sizes, where


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)")
def test_the_printed_summary_is_a4_portrait_and_keeps_headings_with_what_follows(reports, tmp_path):
    from playwright.sync_api import sync_playwright

    en, ja, _ = reports
    shots = os.environ.get("CRMTOOLS_SCREENSHOTS")
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            for result in (en, ja):
                page = browser.new_page()
                page.goto((result.report_dir / "00_summary.html").as_uri())
                page.wait_for_load_state("load")
                # A tiny link at the top of every cell: the PDF says on which page each one landed.
                kinds = page.evaluate("""() => [...document.querySelectorAll('.jp-Cell')].map((cell, i) => {
                    cell.style.position = 'relative';
                    const mark = document.createElement('a');
                    mark.href = 'https://mark.invalid/' + i; mark.textContent = '.';
                    mark.style.cssText = 'position:absolute;top:0;left:0;font-size:2px;color:transparent';
                    cell.prepend(mark);
                    return cell.querySelector('h1, h2, h3') ? 'heading' : 'content';
                })""")
                pdf = page.pdf(prefer_css_page_size=True, print_background=True)
                page.close()
                if shots:
                    (Path(shots) / f"summary_{result.report_dir.name}_print.pdf").write_bytes(pdf)
                sizes, where = _pages_of_links(pdf)
                assert sizes and all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in sizes), sizes  # A4
                on_page = [where.get(f"https://mark.invalid/{i}") for i in range(len(kinds))]
                assert None not in on_page, on_page
                for i, kind in enumerate(kinds[:-1]):
                    if kind == "heading":  # the heading and what follows it start on the same page
                        assert on_page[i + 1] == on_page[i], (result.report_dir.name, i, on_page)
                assert len(sizes) >= 2
        finally:
            browser.close()
