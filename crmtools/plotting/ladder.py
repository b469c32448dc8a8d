"""Growth-ladder charts: the funnel of stages and the month's movement between them.

Each function takes a result table from :mod:`crmtools.ladder`, draws on the given Axes (a new figure when
``ax`` is None) and returns it; words come from the report catalogue.
"""

from __future__ import annotations

import pandas as pd

from ..reporting.i18n import stage_labels
from ._common import axes_or_new as _axes
from ._common import count_axis, legend_below, words_for

__all__ = ["plot_ladder_funnel", "plot_stage_migration"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "title": "chart.ladder_funnel",
    "at_or_above": "chart.at_or_above",
    "on_stage": "chart.on_stage",
    "customers": "chart.customers",
    "migration": "chart.ladder_migration",
    "from_rung": "chart.from_rung",
    "to_rung": "chart.to_rung",
    "share_of_from": "share",
    "empty": "ladder.empty",
}


def _note(ax, text: str):
    ax.set_axis_off()
    ax.text(0.0, 0.5, text, transform=ax.transAxes, ha="left", va="center", fontsize=11, color="#444444")
    return ax


def plot_ladder_funnel(summary: pd.DataFrame, *, ladder=None, language: str = "en", ax=None):
    """The funnel: customers on each stage or higher (light bars) and on the stage itself (dark), top rung up.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`crmtools.ladder.stage_summary`.
    ladder : path, mapping or Ladder, optional
        The rules the stages came from (labels); default the built-in ladder.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    missing = [c for c in ("rung", "customers", "at_or_above") if c not in summary.columns]
    if missing:
        raise ValueError(f"summary is missing column(s) {missing}; pass the output of crmtools.ladder.stage_summary.")
    ax = _axes(ax, (8, 4.5))
    if summary.empty or summary["customers"].sum() == 0:
        return _note(ax, words["empty"])
    labels = stage_labels(ladder, language)
    y = list(range(len(summary)))
    names = [labels.get(r, r) for r in summary["rung"]]
    ax.barh(y, summary["at_or_above"], color="#c6dbef", label=words["at_or_above"])
    ax.barh(y, summary["customers"], color="#2171b5", label=words["on_stage"])
    for yi, total in zip(y, summary["at_or_above"]):
        ax.text(total, yi, f" {int(total):,}", va="center", fontsize=8, color="#444444")
    ax.set_yticks(y, names)
    ax.set_xlim(0, max(float(summary["at_or_above"].max()), 1.0) * 1.15)  # room for the value labels
    count_axis(ax.xaxis, language)
    ax.set_xlabel(words["customers"])
    ax.set_title(words["title"])
    legend_below(ax)  # inside the axes it sat on the bottom bar's value label (wider in Japanese)
    return ax


def plot_stage_migration(matrix: pd.DataFrame, *, ladder=None, language: str = "en", ax=None):
    """Heatmap of the month's movement: stage at the start (rows) by stage at the end, as a share of each row.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of :func:`crmtools.ladder.stage_migration_matrix` (customers).
    ladder : path, mapping or Ladder, optional
        The rules (labels); default the built-in ladder.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    words = words_for(_KEYS, language)
    ax = _axes(ax, (9, 7))
    if matrix.empty or matrix.to_numpy().sum() == 0:
        return _note(ax, words["empty"])
    labels = stage_labels(ladder, language)
    rows = matrix.sum(axis=1).replace(0, float("nan"))
    share = matrix.div(rows, axis=0).rename(index=labels, columns=labels)
    sns.heatmap(
        share,
        annot=True,
        fmt=".0%",
        cmap="Blues",
        cbar_kws={"label": words["share_of_from"]},
        ax=ax,
        annot_kws={"fontsize": 8},
    )
    ax.set_ylabel(words["from_rung"])
    ax.set_xlabel(words["to_rung"])
    ax.set_title(words["migration"])
    return ax
