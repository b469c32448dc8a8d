"""The data-quality page's details in the report's language, worded from each check's facts.

:mod:`crmtools.quality` (and the loaders that build the data-quality summary) return what a check found as
language-neutral facts (:func:`crmtools.quality.detail_facts`: a code and numbers); this module words them
with the catalogue (``quality.detail.<code>``), so the Japanese page reads Japanese. A row without facts
has no detail on the page.

Examples
--------
>>> from crmtools.quality import detail_facts
>>> quality_detail(detail_facts("ids_found", found=9715, total=9715, causes=[]), "ja")
'9,715件の異なるIDのうち9,715件が見つかりました（100.0%）'
>>> quality_detail(detail_facts("amount_limit", limit=1e8), "en")
'at most 100,000,000 per line (data.policies.max_line_amount)'
"""

from __future__ import annotations

import pandas as pd

from ..quality import read_facts
from . import i18n

__all__ = ["quality_detail", "quality_details"]


def _join(parts: list[str], language: str) -> str:
    """Parts of one detail: '; ' between them in English, '。' in Japanese."""
    return ("; " if language == "en" else "。").join(p for p in parts if p)


def _ids_found(facts: dict, language: str, currency: str) -> str:
    found, total = int(facts["found"]), int(facts["total"])
    parts = [
        i18n.text(
            "quality.detail.ids_found",
            language,
            found=i18n.number(found),
            total=i18n.number(total),
            share=i18n.percent(found / total) if total else "–",
        )
    ]
    causes = [i18n.text(f"quality.cause.{c}", language) for c in facts.get("causes") or []]
    if causes:
        parts.append(
            i18n.text(
                "quality.detail.likely_cause", language, causes=(" and " if language == "en" else "、").join(causes)
            )
        )
    return _join(parts, language)


def _amount_limit(facts: dict, language: str, currency: str) -> str:
    return i18n.text("quality.detail.amount_limit", language, limit=i18n.number(facts["limit"]))


def _amounts_above_limit(facts: dict, language: str, currency: str) -> str:
    rows, values, count = facts.get("rows") or [], facts.get("values") or [], int(facts["count"])
    examples = ("、" if language == "ja" else ", ").join(
        i18n.text("quality.row_example", language, row=int(r), value=i18n.money(v, language, currency))
        for r, v in zip(rows, values)
    )
    more = i18n.text("quality.more_rows", language, count=i18n.number(count - len(rows))) if count > len(rows) else ""
    return i18n.text(
        "quality.detail.amounts_above_limit",
        language,
        rows=i18n.plural("quality.rows", count, language, count=i18n.number(count)),
        basis=i18n.text(f"quality.row_basis.{facts.get('row_basis', 'file')}", language),
        examples=examples,
        more=more,
        limit=i18n.number(facts["limit"]),
    )


def _non_merchandise(facts: dict, language: str, currency: str) -> str:
    codes = [
        i18n.plural(
            "quality.code_lines",
            int(lines),
            language,
            code=code,
            lines=i18n.number(int(lines)),
            amount=i18n.money(amount, language, currency),
        )
        for code, lines, amount in facts.get("codes") or []
    ]
    if int(facts.get("more") or 0):
        codes.append(i18n.text("quality.more_codes", language, count=i18n.number(int(facts["more"]))))
    return i18n.text("quality.detail.non_merchandise", language, codes=_join(codes, language))


def _erased(facts: dict, language: str, currency: str) -> str:
    parts = [i18n.text("quality.detail.erased", language, found=i18n.number(int(facts.get("found") or 0)))]
    removed = [
        f"{i18n.text(f'table.{table}', language) if f'table.{table}' in i18n.TEXT else table} {i18n.number(int(n))}"
        for table, n in (facts.get("rows") or {}).items()
    ]
    if removed:
        parts.append(
            i18n.text(
                "quality.detail.rows_removed", language, tables=("、" if language == "ja" else ", ").join(removed)
            )
        )
    return _join(parts, language)


#: Facts code -> the function wording it (every code of :data:`crmtools.quality.FACT_CODES`).
_WORDERS = {
    "ids_found": _ids_found,
    "amount_limit": _amount_limit,
    "amounts_above_limit": _amounts_above_limit,
    "non_merchandise": _non_merchandise,
    "erased": _erased,
}


def quality_detail(facts, language: str = "en", currency: str = "JPY") -> str:
    """What a data-quality check found, in ``language``, from its facts (:func:`crmtools.quality.detail_facts`).

    Parameters
    ----------
    facts : str or dict
        The row's ``facts`` (JSON text or already read); empty gives ``""``.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"
        Currency of amounts (non-merchandise lines, implausibly large lines).

    Returns
    -------
    str

    Examples
    --------
    >>> from crmtools.quality import detail_facts
    >>> quality_detail(detail_facts("erased", found=2, rows={"transactions": 14}), "ja")
    'うちデータ中に見つかった顧客：2人。削除した行：取引 14'
    >>> quality_detail("")
    ''
    """
    i18n.check_language(language)
    read = facts if isinstance(facts, dict) else read_facts(facts)
    if not read:
        return ""
    code = read.get("code")
    if code not in _WORDERS:
        raise ValueError(f"Unknown data-quality fact code; allowed: {', '.join(_WORDERS)}; received: {code!r}.")
    return _WORDERS[code](read, language, currency)


def quality_details(quality: pd.DataFrame, language: str = "en", currency: str = "JPY") -> pd.DataFrame:
    """The rows of the data-quality summary that found something to say, with that said in ``language``.

    Parameters
    ----------
    quality : pandas.DataFrame
        The data-quality summary (``table``, ``check``, ``facts``), e.g. ``Dataset.quality``; its ``table`` and
        ``check`` are passed through as they are (translate them first for the page).
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``check``, ``detail``: one row per row of ``quality`` with facts, in order.
    """
    if "facts" not in quality.columns or quality.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("table", "check", "detail")})
    detail = [quality_detail(f, language, currency) for f in quality["facts"]]
    out = quality[["table", "check"]].assign(detail=detail)
    return out.loc[out["detail"].str.len() > 0].reset_index(drop=True)
