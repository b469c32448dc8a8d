"""Campaign charts: ROI ranking with incremental ROI where a holdout exists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import words_for

__all__ = ["plot_campaign_roi"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {"roi": "chart.roi_attributed", "incremental": "chart.incremental_roi", "x": "chart.roi_formula",
         "title": "chart.campaign_roi_ranked", "na": "chart.not_available"}


def plot_campaign_roi(roi: pd.DataFrame, *, incremental: bool = True, scale: str = "auto", language: str = "en",
                      alpha: float = 0.05, ax=None):
    """Horizontal bars of campaign ROI, best first, with incremental ROI and its interval where available.

    Campaigns whose ROI is undefined (zero cost, nothing attributable) are
    listed last and marked "n/a" rather than drawn at an arbitrary value.

    Parameters
    ----------
    roi : pandas.DataFrame
        Output of :func:`crmtools.campaigns.campaign_roi` (``campaign_id``,
        ``name``, ``channel``, ``roi``; ``incremental_roi`` with
        ``incremental_roi_ci_low``/``_high`` for the markers).
    incremental : bool, default=True
        Draw incremental ROI markers with their intervals.
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
        ["incremental_roi", "incremental_roi_ci_low", "incremental_roi_ci_high"] if incremental else [])
    missing = [c for c in needed if c not in roi.columns]
    if missing:
        raise ValueError(f"roi is missing column(s) {missing}; required: {needed}; received columns: "
                         f"{list(roi.columns)}.")
    table = roi.assign(_defined=roi["roi"].notna()).sort_values(["_defined", "roi"], ascending=[False, False],
                                                               kind="stable")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(2.0, 0.5 * len(table) + 1.2)))
    n = len(table)
    y = np.arange(n)[::-1].astype(float)
    values = table["roi"].to_numpy(dtype=float)
    ax.barh(y, np.nan_to_num(values), color="#2a7ab9", height=0.6, label=text["roi"])
    for yi, v in zip(y, values):
        if not np.isfinite(v):
            ax.text(0, yi, f" {text['na']}", va="center", ha="left", fontsize="small", color="#555555")
    magnitudes = np.abs(values[np.isfinite(values)])
    if incremental:
        inc = table["incremental_roi"].to_numpy(dtype=float)
        low = table["incremental_roi_ci_low"].to_numpy(dtype=float)
        high = table["incremental_roi_ci_high"].to_numpy(dtype=float)
        has = np.isfinite(inc)
        if has.any():
            err = np.vstack([inc[has] - np.where(np.isfinite(low[has]), low[has], inc[has]),
                             np.where(np.isfinite(high[has]), high[has], inc[has]) - inc[has]])
            ax.errorbar(inc[has], y[has], xerr=err, fmt="D", color="#e07b00", ecolor="#e07b00", capsize=3,
                        markersize=6, label=text["incremental"].format(level=1 - alpha))
            magnitudes = np.concatenate([magnitudes, np.abs(inc[has])])
    if scale == "auto":
        nonzero = magnitudes[magnitudes > 0]
        scale = "symlog" if nonzero.size > 1 and nonzero.max() > 20 * np.median(nonzero) else "linear"
    if scale == "symlog":
        ax.set_xscale("symlog", linthresh=1.0)
    ax.axvline(0.0, color="black", linewidth=0.8)
    names = table["name"] if "name" in table.columns else table["campaign_id"]
    labels = [f"{nm if pd.notna(nm) else cid} ({ch})" for nm, cid, ch in
              zip(names, table["campaign_id"], table["channel"])]
    ax.set_yticks(y, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(text["x"])
    ax.set_title(text["title"])
    if n:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="small", frameon=False)
    return ax
