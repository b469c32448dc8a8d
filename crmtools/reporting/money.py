"""Money as its readers write it, in any currency: the one formatting path of tiles, tables, prose, charts and
the index.

What was chosen, and why
------------------------
Amounts are formatted by **Babel** (``babel.numbers``), which carries the
Unicode CLDR data: each currency's symbol in each language, where the symbol
goes and how many decimals the currency has (£1,461,756.25, $…, €…,
¥39,691,230: the yen has none). Hand-written rules knew only the yen and
printed every other currency as "1,461,756.25 GBP". Babel is a small,
pure-Python, widely used library (Sphinx, Jupyter's own translations) and is
already installed with JupyterLab.

Two forms, one per use:

- :func:`money`, the **full amount** for tables (and a tile's tooltip):
  ``format_currency`` with the currency's own decimals: ``£1,461,756.25``,
  ``¥39,691,230``; in Japanese ``39,691,230円`` (yen as 円, the way Japanese
  business documents write it; CLDR's ``ja`` writes the full-width ``￥``)
  and ``£1,461,756.25`` for other currencies.
- :func:`compact_money`, the **rounded amount** for tiles, prose and chart
  axes: three significant digits. English uses Babel's
  ``format_compact_currency`` (CLDR's short units K, M, B, T):
  ``£1.46M``, ``¥39.7M``. Japanese counts in 万 (10^4), 億 (10^8) and 兆
  (10^12), as Japanese readers do: ``3,969万円``, ``1.23億円``, ``£146万``.
  CLDR's ``ja`` compact form would give ``￥3969万`` (no thousands separator
  inside 万, full-width yen), so the amount is scaled here and Babel's
  ``format_currency`` writes the scaled number with the currency's symbol
  and its place. Amounts below 10,000 are never abbreviated: ``£9,876.50``,
  ``9,876円`` (whole amounts without decimals, so axis ticks read ``£5,000``).

Negative amounts use the typographic minus (−) like every other number in
the reports; a missing amount (None, NaN, ±inf) is ``–``. The language's
Babel locale is plain ``en`` / ``ja`` (CLDR's ``en`` writes $ for USD and £
for GBP; ``en_GB`` would write US$).

Examples
--------
>>> money(1461756.25, "en", "GBP"), compact_money(1461756.25, "en", "GBP")
('£1,461,756.25', '£1.46M')
>>> money(39691230, "ja"), compact_money(39691230, "ja"), compact_money(39691230, "en")
('39,691,230円', '3,969万円', '¥39.7M')
>>> compact_money(1461756.25, "ja", "GBP"), compact_money(-2500000, "en", "USD"), compact_money(9876.5, "en", "EUR")
('£146万', '−$2.5M', '€9,876.50')
"""

from __future__ import annotations

import math
import re

from babel.numbers import format_compact_currency, format_currency

__all__ = ["LOCALES", "compact_money", "counting_units", "money"]

#: The Babel (CLDR) locale of each report language.
LOCALES = {"en": "en", "ja": "ja"}
#: Japanese counting units (万 = 10^4, 億 = 10^8, 兆 = 10^12), largest first.
JA_UNITS = ((10**12, "兆"), (10**8, "億"), (10**4, "万"))
#: English short-scale units (CLDR's short compact units of ``en``), largest first.
EN_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))
#: Below this magnitude an amount (or count) is shown in full, never abbreviated.
SMALL = 10**4
#: Significant digits of a rounded (compact) amount.
SIGNIFICANT = 3


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(value) or math.isinf(value)
    except TypeError:
        return False


def _locale(language: str) -> str:
    """The Babel locale of a report language (the languages of :data:`crmtools.reporting.i18n.LANGUAGES`)."""
    try:
        return LOCALES[language]
    except (KeyError, TypeError):
        allowed = ", ".join(map(repr, LOCALES))
        raise ValueError(f"Invalid language: allowed: {allowed}; received: {language!r}.") from None


def _minus(text: str) -> str:
    """Babel's hyphen-minus as the reports' minus sign; no sign on an amount that rounds to zero."""
    if not text.startswith("-"):
        return text
    return text[1:] if not re.search(r"[1-9]", text) else "−" + text[1:]


def _yen_in_kanji(language: str, currency: str) -> bool:
    return language == "ja" and currency == "JPY"


def money(value, language: str = "en", currency: str = "JPY") -> str:
    """An amount of money in full, with its currency's decimals (tables; a tile's tooltip).

    Parameters
    ----------
    value : float or None
        The amount; None, NaN and ±inf show as '–'.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"
        ISO 4217 code (params ``currency``).

    Examples
    --------
    >>> money(39691230.4, "ja"), money(-1200, "en"), money(1234.5, "en", "USD"), money(1234.5, "ja", "EUR")
    ('39,691,230円', '−¥1,200', '$1,234.50', '€1,234.50')
    """
    if _missing(value):
        return "–"
    locale = _locale(language)
    if _yen_in_kanji(language, currency):
        return _minus(format_currency(value, currency, format="#,##0円", locale=locale))
    return _minus(format_currency(value, currency, locale=locale))


def _whole(value, language: str, currency: str) -> str:
    """A small amount in full: without decimals when it is whole (axis ticks), else as :func:`money`."""
    if float(value) != round(float(value)):
        return money(value, language, currency)
    pattern = "#,##0円" if _yen_in_kanji(language, currency) else "¤#,##0"
    return _minus(format_currency(value, currency, format=pattern, locale=_locale(language), currency_digits=False))


def counting_units(value: float, language: str = "en") -> tuple[float, int, str]:
    """``abs(value)`` scaled to the language's counting unit: (scaled number, decimals, unit).

    Three significant digits and never fewer than the whole units; a value
    that rounds up into the next unit moves to it (9,999.6万 is 1億, not
    10,000万). Below 10,000 the value is returned as is, with no unit.

    Examples
    --------
    >>> counting_units(39691230, "ja"), counting_units(123456, "en"), counting_units(99_999_000, "ja")
    ((3969.123, 0, '万'), (123.456, 0, 'K'), (1.0, 0, '億'))
    """
    magnitude = abs(float(value))
    units = JA_UNITS if language == "ja" else EN_UNITS
    if magnitude < SMALL:
        return magnitude, 0, ""
    for n, (size, unit) in enumerate(units):
        if magnitude >= size:
            scaled = magnitude / size
            decimals = max(0, SIGNIFICANT - len(str(int(scaled))))
            larger = units[n - 1][0] if n else None
            if larger and round(scaled, decimals) * size >= larger:  # rounds up into the next unit
                return 1.0, 0, units[n - 1][1]
            return scaled, decimals, unit
    return magnitude, 0, ""


def compact_money(value, language: str = "en", currency: str = "JPY") -> str:
    """An amount rounded for a headline (tiles, prose, chart axes); tables show :func:`money`.

    Three significant digits in the language's units: English K, M, B, T
    (Babel's ``format_compact_currency``), Japanese 万, 億, 兆. Amounts below
    10,000 are shown in full. Parameters as for :func:`money`.

    Examples
    --------
    >>> compact_money(39691230, "ja"), compact_money(39691230, "en"), compact_money(39691230, "en", "GBP")
    ('3,969万円', '¥39.7M', '£39.7M')
    >>> compact_money(123456789, "ja"), compact_money(1234567890, "ja"), compact_money(123456, "ja")
    ('1.23億円', '12.3億円', '12.3万円')
    >>> compact_money(9876, "ja"), compact_money(-2500000, "en"), compact_money(99999000, "ja")
    ('9,876円', '−¥2.5M', '1億円')
    """
    if _missing(value):
        return "–"
    locale = _locale(language)
    if abs(value) < SMALL:
        return _whole(value, language, currency)
    scaled, decimals, unit = counting_units(value, language)
    if language != "ja":
        return _minus(format_compact_currency(value, currency, locale=locale, fraction_digits=decimals))
    number = "#,##0" + ("." + "#" * decimals if decimals else "")
    pattern = f"{number}'{unit}円'" if currency == "JPY" else f"¤{number}'{unit}'"
    signed = -scaled if value < 0 else scaled
    return _minus(format_currency(signed, currency, format=pattern, locale=locale, currency_digits=False))
