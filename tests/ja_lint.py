"""Data codes left unworded on a Japanese page or chart: shared by test_browser (whole pages) and test_ja_pages
(the table and chart builders).

A code the catalogue words (``channel.dm``, ``variant.free_shipping``, ``metric.conversion_rate`` ...) is also a
word of the data, so the check for English left on a page, which lets the data's own words through (product
and campaign names), let it through too. These are looked for apart: a text that *is* a code (a table cell, a
legend entry), a code in brackets or after a colon (a chart's ``Spring catalogue (dm)``, ``EXP-OFFER:
free_shipping``), and a code with an underscore anywhere (``free_shipping``: no product name reads so).
"""

from __future__ import annotations

import re

from crmtools.reporting.i18n import CODE_COLUMNS, TEXT

#: Every data code the catalogue has words for, by the kinds of :data:`CODE_COLUMNS` (channels, variants,
#: metrics, methods, segments, stages, NPS groups).
KNOWN_CODES = frozenset(
    key.split(".", 1)[1] for key in TEXT if "." in key and key.split(".", 1)[0] in set(CODE_COLUMNS.values())
)
#: Of them, the codes that read as data codes: lower case, no spaces (``dm``, ``free_shipping``), not the
#: built-in segments' English names, which the English-word check finds.
CODE_LIKE = sorted((c for c in KNOWN_CODES if re.fullmatch(r"[a-z][a-z0-9_\-]*", c)), key=len, reverse=True)


def untranslated_codes(text: str) -> list[str]:
    """The known data codes ``text`` shows as codes (see the module's documentation)."""
    text = text.strip()
    found = []
    for code in CODE_LIKE:
        c = re.escape(code)
        if (
            text == code
            or re.search(rf"[(（]\s*{c}\s*[)）]", text)
            or re.search(rf"[:：]\s*{c}(?![A-Za-z0-9_])", text)
            or ("_" in code and re.search(rf"(?<![A-Za-z0-9_]){c}(?![A-Za-z0-9_])", text))
        ):
            found.append(code)
    return found
