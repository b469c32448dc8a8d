"""A/B test charts: relative lifts with their intervals (a forest plot)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..reporting.i18n import code_label
from ._common import words_for
from ._empty import draw_empty_note

__all__ = ["plot_lift_intervals"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "x": "chart.relative_lift_vs_control",
    "significant": "chart.significant",
    "not_significant": "chart.not_significant",
    "untrusted": "chart.srm_failed",
    "conversion_rate": "chart.conversion_rate",
    "revenue_per_unit": "chart.revenue_per_unit",
    "revenue_per_converter": "chart.revenue_per_converter",
    "title": "chart.lift_by_variant",
}
_COLORS = {"significant": "#2a7ab9", "not_significant": "#8c8c8c", "untrusted": "#d62728"}


def plot_lift_intervals(results: pd.DataFrame, *, metric: str | None = None, language: str = "en", ax=None):
    """Forest plot of relative lifts against control with their confidence intervals.

    One row per comparison of :func:`crmtools.experiments.experiment_results`
    (or :func:`~crmtools.experiments.conversion_test`,
    :func:`~crmtools.experiments.revenue_test`): a dot at the relative lift and
    a line across its interval, blue when significant, grey when not, red
    when the SRM check failed. Rows with an undefined lift are left out.

    Parameters
    ----------
    results : pandas.DataFrame
        Results table with ``experiment_id``, ``metric``, ``variant``,
        ``relative_lift``, ``relative_lift_ci_low``, ``relative_lift_ci_high``,
        ``significant``, ``trustworthy`` and ``alpha``.
    metric : str or None, default=None
        Draw only this metric; None draws every metric (labelled per row).
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    text = words_for(_KEYS, language)
    needed = [
        "experiment_id",
        "metric",
        "variant",
        "relative_lift",
        "relative_lift_ci_low",
        "relative_lift_ci_high",
        "significant",
        "trustworthy",
        "alpha",
    ]
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise ValueError(
            f"results is missing column(s) {missing}; required: {needed}; received columns: {list(results.columns)}."
        )
    table = results if metric is None else results[results["metric"] == metric]
    table = table[np.isfinite(table["relative_lift"].to_numpy(dtype=float))]
    if table.empty:
        return draw_empty_note(ax, "empty.experiments", language)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(2.0, 0.45 * len(table) + 1.2)))
    several_metrics = table["metric"].nunique() > 1
    labels, kinds = [], set()
    for pos, row in enumerate(table.itertuples(index=False)):
        y = len(table) - 1 - pos
        kind = "untrusted" if not row.trustworthy else "significant" if row.significant else "not_significant"
        kinds.add(kind)
        low, high = row.relative_lift_ci_low, row.relative_lift_ci_high
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [y, y], color=_COLORS[kind], linewidth=2.2, solid_capstyle="butt")
        ax.plot([row.relative_lift], [y], "o", color=_COLORS[kind], markersize=7)
        variant = code_label(row.variant, "variant", language)  # a user's own variant name as written
        name = f"{row.experiment_id}: {variant}" if pd.notna(row.experiment_id) else variant
        if several_metrics:
            name += f" ({text.get(row.metric, row.metric)})"
        labels.append((y, name))
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks([y for y, _ in labels], [name for _, name in labels])
    ax.set_ylim(-0.7, max(len(table) - 0.3, 0.7))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(text["x"])
    level = 1 - float(table["alpha"].iloc[0]) if len(table) else 0.95
    title = text["title"].format(level=level)
    if metric is not None:
        title = f"{text.get(metric, metric)}: {title}"
    ax.set_title(title)
    shown = [
        Line2D([], [], color=_COLORS[k], marker="o", linewidth=2.2, label=text[k])
        for k in ("significant", "not_significant", "untrusted")
        if k in kinds
    ]
    if shown:
        ax.legend(handles=shown, loc="best", fontsize="small")
    return ax
