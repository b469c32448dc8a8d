"""``reports/index.html``: every published period, newest first, with headline KPIs.

Each period folder holds ``manifest.json`` (written by the runner) and,
when the summary notebook ran, ``headline.json`` (a few KPI values written
by :func:`save_headline`). The index is rebuilt after every publish.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .. import jsonio
from . import i18n
from .tables import format_value

__all__ = ["build_index", "save_headline", "HEADLINE_KPIS"]

#: KPIs shown per period on the index page, with their format kind.
HEADLINE_KPIS = (("revenue", "money"), ("orders", "integer"), ("active_customers", "integer"),
                 ("new_customers", "integer"))


def save_headline(output_dir: str | Path | None, values: dict, *, language: str) -> None:
    """Write ``headline.json`` (KPI -> value) for the index page; no-op without an output folder."""
    if not output_dir:
        return
    clean = {k: (None if v is None else float(v)) for k, v in values.items()}
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    jsonio.write(Path(output_dir) / "headline.json", {"language": language, "kpis": clean}, sort_keys=True,
                 ensure_ascii=True)


def build_index(reports_dir: str | Path, *, language: str = "en", currency: str = "JPY") -> Path:
    """Write ``<reports_dir>/index.html`` listing every published period.

    Returns
    -------
    Path
        The index file.
    """
    root = Path(reports_dir)
    rows = []
    for folder in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.name, reverse=True):
        if not (folder / "manifest.json").exists():
            continue
        headline = {}
        if (folder / "headline.json").exists():
            headline = json.loads((folder / "headline.json").read_text(encoding="utf-8")).get("kpis", {})
        pages = sorted(p.name for p in folder.glob("*.html"))
        first = pages[0] if pages else ""
        cells = [f'<td><a href="{html.escape(folder.name)}/{html.escape(first)}">'
                 f"{html.escape(i18n.month_label(folder.name, language))}</a></td>"]
        for key, kind in HEADLINE_KPIS:
            cells.append(f'<td class="num">{html.escape(format_value(headline.get(key), kind, language, currency))}'
                         "</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join([f"<th>{html.escape(i18n.text('period', language))}</th>"] +
                   [f'<th class="num">{html.escape(i18n.text(k, language))}</th>' for k, _ in HEADLINE_KPIS])
    title = html.escape(i18n.text("report_set", language))
    empty = f"<p>{html.escape(i18n.text('none_in_period', language))}</p>" if not rows else ""
    page = f"""<!DOCTYPE html>
<html lang="{language}">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK JP", "Hiragino Sans", "Meiryo", system-ui, sans-serif; color: #1f2933;
       max-width: 960px; margin: 24px auto; padding: 0 16px; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ background: #f0f4f8; text-align: left; padding: 6px 10px; border-bottom: 2px solid #bcccdc; }}
td {{ padding: 6px 10px; border-bottom: 1px solid #e4e7eb; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
a {{ color: #1d4e89; }}
</style>
</head>
<body>
<h1>{title}: {html.escape(i18n.text('all_periods', language))}</h1>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{empty}
</body>
</html>
"""
    target = root / "index.html"
    tmp = root / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
