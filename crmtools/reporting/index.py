"""``reports/index.html``: every run of every period, newest first, in each report language.

The layout the runner publishes::

    reports/
      index.html, index.ja.html       this page in English and in Japanese (they link to each other)
      2025-12/en/, 2025-12/ja/        one published folder per period and language
      .failed/2025-12/ja/             the executed notebooks of a failed run

Each published folder holds ``manifest.json`` (written by the runner: status,
finish time, data coverage) and, when the summary notebook ran,
``headline.json`` (a few KPI values written by :func:`save_headline`). A
failed run's manifest says why it failed. The index lists them all, sorted
by the end of the period, newest first (so ``2025-Q4`` sits next to
``2025-12``, after it, and before ``2025-11``), with the language, the run's
status, its finish time, how far the data went, the headline KPIs and, for a
failed run, which pages failed and where their executed notebooks are (the technical message, from the
manifest, is the cell's title). It is rebuilt after every run.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import jsonio
from ..periods import parse_period
from . import i18n
from .tables import headline_html

__all__ = ["HEADLINE_KPIS", "IndexEntry", "build_index", "index_entries", "index_name", "save_headline"]

#: KPIs shown per period on the index page, with their format kind.
HEADLINE_KPIS = (
    ("revenue", "money"),
    ("orders", "integer"),
    ("active_customers", "integer"),
    ("new_customers", "integer"),
)


def index_name(language: str) -> str:
    """The index page of ``language``: ``index.html`` for English, ``index.<language>.html`` otherwise.

    Examples
    --------
    >>> index_name("en"), index_name("ja")
    ('index.html', 'index.ja.html')
    """
    i18n.check_language(language)
    return "index.html" if language == "en" else f"index.{language}.html"


def save_headline(output_dir: str | Path | None, values: dict, *, language: str) -> None:
    """Write ``headline.json`` (KPI -> value) for the index page; no-op without an output folder."""
    if not output_dir:
        return
    clean = {k: (None if v is None else float(v)) for k, v in values.items()}
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    jsonio.write(
        Path(output_dir) / "headline.json", {"language": language, "kpis": clean}, sort_keys=True, ensure_ascii=True
    )


@dataclass(frozen=True)
class IndexEntry:
    """One run listed in the index."""

    period: str
    language: str
    status: str  # published | failed
    folder: Path
    finished_at: str = ""
    data_through: str = ""
    message: str = ""
    kpis: dict = field(default_factory=dict)
    first_page: str = ""
    currency: str = ""  # the run's params currency ("" for runs from before it was recorded)
    failed_pages: tuple = ()  # pages of a failed run that failed ("04_basket"), from its manifest

    def sort_key(self):
        """Newest period end first; for one end, the shorter period (the month before its quarter); then the
        language; then the latest run."""
        period = parse_period(self.period)
        return (-period.end.value, -period.start.value, self.language, _negated(self.finished_at))


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _entry(folder: Path, period: str, status: str) -> IndexEntry | None:
    manifest = _read_json(folder / "manifest.json")
    if not manifest:
        return None
    try:
        parse_period(period)
    except ValueError:
        return None
    params = manifest.get("params") or {}
    language = params.get("language") or folder.name
    headline = _read_json(folder / "headline.json").get("kpis", {}) if status == "published" else {}
    pages = sorted(p.name for p in folder.glob("*.html")) if status == "published" else []
    return IndexEntry(
        period=period,
        language=language if language in i18n.LANGUAGES else "en",
        status=status,
        folder=folder,
        finished_at=str(manifest.get("finished_at") or ""),
        data_through=str((manifest.get("data") or {}).get("data_through") or ""),
        message=str(manifest.get("message") or ""),
        kpis=headline,
        first_page=pages[0] if pages else "",
        currency=str(params.get("currency") or ""),
        failed_pages=tuple(
            str(n.get("notebook", "")).removesuffix(".ipynb")
            for n in manifest.get("notebooks") or []
            if isinstance(n, dict) and n.get("status") not in (None, "ok")
        ),
    )


def index_entries(reports_dir: str | Path) -> list[IndexEntry]:
    """Every run under ``reports_dir``, published and failed, in index order (see :class:`IndexEntry`).

    Reads ``<period>/<language>/manifest.json``, ``.failed/<period>/<language>/manifest.json`` and, from
    before the per-language layout, ``<period>/manifest.json``.
    """
    root = Path(reports_dir)
    found: list[IndexEntry] = []
    for status, base in (("published", root), ("failed", root / ".failed")):
        if not base.is_dir():
            continue
        for period_dir in (p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            folders = [p for p in period_dir.iterdir() if p.is_dir() and p.name in i18n.LANGUAGES]
            if (period_dir / "manifest.json").exists():
                folders.append(period_dir)  # the old layout: one language per period
            for folder in folders:
                entry = _entry(folder, period_dir.name, status)
                if entry is not None:
                    found.append(entry)
    return sorted(found, key=IndexEntry.sort_key)


def _finished(text: str) -> str:
    """'2026-11-30T00:12:34+00:00' -> '2026-11-30 00:12'."""
    return text[:16].replace("T", " ") if text else "–"


def _row(entry: IndexEntry, root: Path, language: str, currency: str) -> str:
    label = html.escape(i18n.month_label(entry.period, language))
    if entry.status == "published" and entry.first_page:
        href = html.escape((entry.folder / entry.first_page).relative_to(root).as_posix(), quote=True)
        period_cell = f'<a href="{href}" hreflang="{entry.language}">{label}</a>'
    else:
        period_cell = label
    cells = [
        f"<td>{period_cell}</td>",
        f"<td>{html.escape(i18n.text(f'layout.language_of.{entry.language}', language))}</td>",
        f'<td class="status-{entry.status}">{html.escape(i18n.text(f"layout.status.{entry.status}", language))}</td>',
        f'<td class="num">{html.escape(_finished(entry.finished_at))}</td>',
        f'<td class="num">{html.escape(entry.data_through or "–")}</td>',
    ]
    for key, kind in HEADLINE_KPIS:
        cells.append(
            headline_html(entry.kpis.get(key), kind, language, entry.currency or currency, tag="td", css_class="num")
        )
    if entry.status == "failed":
        # a plain sentence for the reader; the technical message (the manifest's) in the cell's title
        where = f"{root.name}/{entry.folder.relative_to(root).as_posix()}/"
        pages = ", ".join(entry.failed_pages)
        plain = i18n.plural("layout.failed_pages", len(entry.failed_pages), language, pages=pages, folder=where)
        if not entry.failed_pages:
            plain = i18n.text("layout.failed_run", language, folder=where)
        title = f' title="{html.escape(entry.message[:2000], quote=True)}"' if entry.message else ""
        cells.append(f'<td class="reason"{title}>{html.escape(plain)}</td>')
    else:
        cells.append("<td></td>")
    return f'<tr class="run-{entry.status}">' + "".join(cells) + "</tr>"


_STYLE = """
body { font-family: "Noto Sans CJK JP", "Hiragino Sans", "Meiryo", system-ui, sans-serif; color: #1f2933;
       max-width: 1200px; margin: 24px auto; padding: 0 16px; }
nav { display: flex; flex-wrap: wrap; gap: 8px 16px; font-size: 14px; margin-bottom: 8px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th { background: #f0f4f8; text-align: left; padding: 6px 10px; border-bottom: 2px solid #bcccdc; white-space: nowrap; }
td { padding: 6px 10px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { min-width: 16em; font-size: 13px; color: #b42318; }
td.status-failed { color: #b42318; font-weight: 600; }
a { color: #1d4e89; }
.note { color: #52606d; font-size: 13px; }
@media (max-width: 600px) { body { margin: 12px auto; padding: 0 10px; } h1 { font-size: 22px; } }
@media print { @page { size: A4 portrait; margin: 14mm; } nav { display: none; } tr { break-inside: avoid; } }
"""


def build_index(reports_dir: str | Path, *, language: str = "en", currency: str = "JPY") -> Path:
    """Write the index page of ``language`` (:func:`index_name`) listing every run in ``reports_dir``.

    Amounts are shown in the currency of the run that computed them (``params.currency`` in its manifest),
    rounded as on the summary's tiles (:func:`crmtools.reporting.money.compact_money`: '£1.46M', '3,969万円'),
    the full amount in the cell's title; ``currency`` is for runs whose manifest does not say.

    Returns
    -------
    Path
        The index file.
    """
    i18n.check_language(language)
    root = Path(reports_dir)
    rows = [_row(entry, root, language, currency) for entry in index_entries(root)]
    head = "".join(
        [f"<th>{html.escape(i18n.text(key, language))}</th>" for key in ("period", "layout.language", "layout.status")]
        + [
            f'<th class="num">{html.escape(i18n.text(key, language))}</th>'
            for key in ("layout.finished_at", "layout.data_through")
        ]
        + [f'<th class="num">{html.escape(i18n.text(k, language))}</th>' for k, _ in HEADLINE_KPIS]
        + [f"<th>{html.escape(i18n.text('layout.reason', language))}</th>"]
    )
    title = html.escape(i18n.text("report_set", language))
    others = "".join(
        f'<a href="{index_name(other)}" hreflang="{other}" lang="{other}">'
        f"{html.escape(i18n.text('layout.language_name', other))}</a>"
        for other in i18n.LANGUAGES
        if other != language
    )
    empty = f"<p>{html.escape(i18n.text('none_in_period', language))}</p>" if not rows else ""
    if any('class="run-failed"' in row for row in rows):
        empty += f'<p class="note">{html.escape(i18n.text("layout.failed_note", language))}</p>'
    page = f"""<!DOCTYPE html>
<html lang="{language}">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>{_STYLE}</style>
</head>
<body>
<nav>{others}</nav>
<h1>{title}: {html.escape(i18n.text("all_periods", language))}</h1>
<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></div>
{empty}
</body>
</html>
"""
    target = root / index_name(language)
    tmp = root / f".{target.name}.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
