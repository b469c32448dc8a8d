"""Campaign charts: ROI ranking with incremental ROI where a holdout exists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..reporting.i18n import code_label
from ._common import legend_below, words_for
from ._empty import draw_empty_note

__all__ = ["plot_campaign_roi"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "roi": "chart.roi_attributed_reference",
    "incremental": "chart.incremental_roi_headline",
    "x": "chart.roi_margin_formula",
    "x_plain": "chart.roi_formula",
    "title": "chart.campaign_roi_ranked",
    "na": "chart.not_available",
    "no_holdout": "chart.no_holdout",
    "attributed_bars": "chart.roi_attributed",
}


def plot_campaign_roi(
    roi: pd.DataFrame,
    *,
    incremental: bool = True,
    scale: str = "auto",
    language: str = "en",
    alpha: float = 0.05,
    ax=None,
):
    """Horizontal bars of campaign ROI, best first: the headline incremental ROI, attributed ROI for reference.

    With ``incremental=True`` (the report's view) the bars are the
    incremental ROI against the holdout, with their interval, ranked best
    first; attributed ROI (which credits purchases that would have happened
    anyway) is drawn as a hollow marker labelled as a reference. Campaigns
    without a holdout are listed last, marked "n/a (no holdout)". The x-axis
    states the margin the figures use (the ``margin`` column). With
    ``incremental=False`` the bars are attributed ROI, as before.
    Campaigns whose ROI is undefined (zero cost, nothing attributable) are
    listed last and marked "n/a" rather than drawn at an arbitrary value.

    Parameters
    ----------
    roi : pandas.DataFrame
        Output of :func:`crmtools.campaigns.campaign_roi` (``campaign_id``,
        ``name``, ``channel``, ``roi``; ``incremental_roi`` with
        ``incremental_roi_ci_low``/``_high`` for the headline bars;
        ``margin`` for the axis label).
    incremental : bool, default=True
        Bars of incremental ROI with their intervals (attributed ROI as
        reference markers); False: bars of attributed ROI only.
    scale : {"auto", "linear", "symlog"}, default="auto"
        x-axis scale; ``auto`` switches to a symmetric log scale when one ROI
        dwarfs the others (largest above 20 times the median magnitude).
    language : {"en", "ja"}, default="en"
        Language of labels.
    alpha : float, default=0.05
        Level of the intervals in the table, for the legend text.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    text = words_for(_KEYS, language)
    if scale not in ("auto", "linear", "symlog"):
        raise ValueError(f"Unknown scale; allowed: 'auto', 'linear', 'symlog'; received: {scale!r}.")
    needed = ["campaign_id", "channel", "roi"] + (
        ["incremental_roi", "incremental_roi_ci_low", "incremental_roi_ci_high"] if incremental else []
    )
    missing = [c for c in needed if c not in roi.columns]
    if missing:
        raise ValueError(
            f"roi is missing column(s) {missing}; required: {needed}; received columns: {list(roi.columns)}."
        )
    if roi.empty:
        return draw_empty_note(ax, "empty.campaigns", language)
    key = "incremental_roi" if incremental else "roi"
    table = roi.assign(_defined=roi[key].notna()).sort_values(
        ["_defined", key], ascending=[False, False], kind="stable"
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(2.0, 0.5 * len(table) + 1.2)))
    n = len(table)
    y = np.arange(n)[::-1].astype(float)
    values = table[key].to_numpy(dtype=float)
    ax.barh(
        y,
        np.nan_to_num(values),
        color="#2a7ab9",
        height=0.6,
        label=text["incremental"].format(level=1 - alpha) if incremental else text["attributed_bars"],
    )
    no_holdout = incremental & ~np.isfinite(values) & table["roi"].notna().to_numpy()
    for yi, v, nh in zip(y, values, no_holdout):
        if not np.isfinite(v):
            shown = f"{text['na']} ({text['no_holdout']})" if nh else text["na"]
            ax.text(0, yi, f" {shown}", va="center", ha="left", fontsize="small", color="#555555")
    magnitudes = np.abs(values[np.isfinite(values)])
    if incremental:
        low = table["incremental_roi_ci_low"].to_numpy(dtype=float)
        high = table["incremental_roi_ci_high"].to_numpy(dtype=float)
        has = np.isfinite(values) & np.isfinite(low) & np.isfinite(high)
        if has.any():
            ax.errorbar(
                values[has],
                y[has],
                xerr=np.vstack([values[has] - low[has], high[has] - values[has]]),
                fmt="none",
                ecolor="#1b4f78",
                capsize=3,
            )
        attributed = table["roi"].to_numpy(dtype=float)
        shown = np.isfinite(attributed)
        if shown.any():
            ax.scatter(
                attributed[shown],
                y[shown],
                marker="D",
                facecolors="none",
                edgecolors="#e07b00",
                zorder=3,
                label=text["roi"],
            )
            magnitudes = np.concatenate([magnitudes, np.abs(attributed[shown])])
    if scale == "auto":
        nonzero = magnitudes[magnitudes > 0]
        scale = "symlog" if nonzero.size > 1 and nonzero.max() > 20 * np.median(nonzero) else "linear"
    if scale == "symlog":
        ax.set_xscale("symlog", linthresh=1.0)
    ax.axvline(0.0, color="black", linewidth=0.8)
    names = table["name"] if "name" in table.columns else table["campaign_id"]
    labels = [
        f"{nm if pd.notna(nm) else cid} ({code_label(ch, 'channel', language)})"
        for nm, cid, ch in zip(names, table["campaign_id"], table["channel"])
    ]
    ax.set_yticks(y, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    margins = roi["margin"].dropna().unique() if "margin" in roi.columns else []
    ax.set_xlabel(text["x"].format(margin=f"{margins[0]:.0%}") if len(margins) == 1 else text["x_plain"])
    ax.set_title(text["title"])
    if n:
        legend_below(ax)
    return ax
