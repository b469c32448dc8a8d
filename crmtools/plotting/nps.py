"""NPS charts: the monthly trend with its interval, a breakdown, and behaviour after answering by group.

Each function takes a result table from :mod:`crmtools.nps`, draws on the given Axes (a new figure when
``ax`` is None) and returns it; words come from the report catalogue.
"""

from __future__ import annotations

import pandas as pd

from ..reporting import i18n
from ._common import axes_or_new as _axes
from ._common import group_names, note_below, words_for

__all__ = ["plot_nps_behaviour", "plot_nps_breakdown", "plot_nps_trend"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "nps": "chart.nps",
    "trend": "chart.nps_trend",
    "interval": "chart.nps_interval",
    "month": "month",
    "behaviour": "chart.repeat_after",
    "repeat_rate": "chart.repeat_rate",
    "empty": "nps_none",
    "promoter": "nps_group.promoter",
    "passive": "nps_group.passive",
    "detractor": "nps_group.detractor",
}
_COLOURS = {"promoter": "#1a9850", "passive": "#bdbdbd", "detractor": "#d73027"}


def _note(ax, text: str):
    ax.set_axis_off()
    ax.text(0.0, 0.5, text, transform=ax.transAxes, ha="left", va="center", fontsize=11, color="#444444")
    return ax


def _require(table: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; pass the output of {source}.")


def plot_nps_trend(trend: pd.DataFrame, *, language: str = "en", ax=None):
    """Monthly NPS as a line with its 95% interval as a band, on a -100 to 100 axis.

    Parameters
    ----------
    trend : pandas.DataFrame
        Output of :func:`crmtools.nps.nps_trend`.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    _require(trend, ["month", "nps", "ci_low", "ci_high"], "crmtools.nps.nps_trend")
    ax = _axes(ax, (8, 3.5))
    if trend.empty:
        return _note(ax, words["empty"])
    x = list(range(len(trend)))
    ax.fill_between(x, trend["ci_low"], trend["ci_high"], color="#9ecae1", alpha=0.5, label=words["interval"])
    ax.plot(x, trend["nps"], color="#08519c", marker="o", label=words["nps"])
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xticks(x, [i18n.month_label(m, language) for m in trend["month"]], rotation=45, ha="right")
    ax.set_ylim(-100, 100)
    ax.set_ylabel(words["nps"])
    ax.set_title(words["trend"])
    ax.legend(loc="lower left", frameon=False, fontsize=8)
    return ax


def plot_nps_breakdown(table: pd.DataFrame, by: str, *, labels=None, ladder=None, language: str = "en", ax=None):
    """NPS per group of a breakdown as horizontal bars with their 95% intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`crmtools.nps.nps_table` with ``by``; suppressed cells (missing NPS) are left out.
    by : str
        The breakdown column.
    labels : mapping, optional
        Display label per value of ``by`` (e.g. segment or stage labels); other values of a column of data
        codes (``channel``: :data:`crmtools.reporting.i18n.CODE_COLUMNS`) in the catalogue's words, the rest
        as written.
    ladder : path, mapping or Ladder, optional
        For a breakdown by growth stage (``by`` ``"stage"`` or ``"rung"``): the rules the stages came from;
        default the built-in ladder. When a stage is defined partly by the survey answer (the built-in ⑤ Fan:
        promoters), its high NPS, and the lower NPS below it, hold by definition: a note under the chart
        says so (:func:`crmtools.reporting.i18n.nps_stage_note`).
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    _require(table, [by, "nps", "ci_low", "ci_high"], "crmtools.nps.nps_table")
    shown = table.loc[table["nps"].notna()]
    ax = _axes(ax, (8, max(2.5, 0.35 * len(shown) + 1)))
    if shown.empty:
        return _note(ax, words["empty"])
    names = group_names(shown[by], by, language, labels)
    y = list(range(len(shown)))
    err = [shown["nps"] - shown["ci_low"], shown["ci_high"] - shown["nps"]]
    colours = ["#1a9850" if v >= 0 else "#d73027" for v in shown["nps"]]
    ax.barh(y, shown["nps"], xerr=err, color=colours, ecolor="#444444", capsize=2)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.set_xlim(-100, 100)
    ax.set_xlabel(words["nps"])
    note = i18n.nps_stage_note(ladder, language) if by in ("stage", "rung") else ""
    if note:  # a stage defined by the answer itself: its NPS says nothing about climbing the ladder
        note_below(ax, note)
    return ax


def plot_nps_behaviour(table: pd.DataFrame, *, language: str = "en", ax=None):
    """Repeat rate after answering by NPS group (promoters, passives, detractors).

    Parameters
    ----------
    table : pandas.DataFrame
        ``NpsBehaviour.table`` from :func:`crmtools.nps.nps_behaviour`.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    words = words_for(_KEYS, language)
    _require(table, ["nps_group", "repeat_rate"], "crmtools.nps.nps_behaviour")
    ax = _axes(ax, (6, 3.5))
    if table.empty:
        return _note(ax, words["empty"])
    x = list(range(len(table)))
    ax.bar(x, table["repeat_rate"], color=[_COLOURS.get(g, "#4c72b0") for g in table["nps_group"]])
    for xi, rate in zip(x, table["repeat_rate"]):
        ax.text(xi, rate, f"{rate:.0%}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [words.get(g, g) for g in table["nps_group"]])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, max(1e-9, float(table["repeat_rate"].max())) * 1.2)
    ax.set_ylabel(words["repeat_rate"])
    ax.set_title(words["behaviour"])
    return ax
