"""Basket-analysis charts: rules by support and lift, a heatmap and a small network of the strongest pairs.

Each function takes the table from :func:`crmtools.basket.association_rules`,
draws on the given Axes (a new figure when ``ax`` is None) and returns it.
They select and arrange rules but compute no statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import axes_or_new as _axes
from ._common import spread_labels, words_for

__all__ = ["plot_pair_heatmap", "plot_rule_network", "plot_rule_scatter"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "support": "chart.support",
    "confidence": "confidence",
    "lift": "chart.lift",
    "leverage": "chart.leverage",
    "scatter_title": "chart.association_rules",
    "heatmap_title": "chart.strongest_pairs",
    "heatmap_x": "chart.also_buy",
    "heatmap_y": "chart.customers_who_buy",
    "network_title": "chart.strongest_rules",
    "empty": "chart.no_rules",
}


def _text(language: str) -> dict[str, str]:
    return words_for(_KEYS, language)


def _check(rules, columns) -> None:
    if not isinstance(rules, pd.DataFrame):
        raise TypeError(f"Invalid rules: expected a DataFrame from association_rules; got {type(rules).__name__}.")
    missing = [c for c in columns if c not in rules.columns]
    if missing:
        raise ValueError(
            f"Invalid rules: missing column(s) {missing}; expected the output of association_rules; "
            f"got columns {list(rules.columns)}."
        )


def _label(items) -> str:
    return ", ".join(sorted(map(str, items)))


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _empty(ax, text):
    ax.text(0.5, 0.5, text["empty"], ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _single_item_rules(rules: pd.DataFrame) -> pd.DataFrame:
    single = (rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)
    out = rules.loc[single]
    return out.assign(
        from_item=[next(iter(s)) for s in out["antecedents"]], to_item=[next(iter(s)) for s in out["consequents"]]
    )


def plot_rule_scatter(
    rules: pd.DataFrame,
    *,
    x: str = "support",
    y: str = "lift",
    hue: str = "confidence",
    label_top: int = 5,
    label_first: bool = False,
    language: str = "en",
    ax=None,
):
    """Scatter of rules: support against lift, coloured by confidence, the top rules labelled.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`crmtools.basket.association_rules`.
    x, y, hue : str, default="support", "lift", "confidence"
        Rule columns for the axes and the colour.
    label_top : int, default=5
        Label this many rules with the highest ``y`` as "A → B".
    label_first : bool, default=False
        Label the first ``label_top`` rules in the order given instead (the
        ranking of :func:`crmtools.basket.screen_rules`, as the report does).
    language : {"en", "ja"}, default="en"
        Language of titles and labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    text = _text(language)
    _check(rules, ["antecedents", "consequents", x, y, hue])
    ax = _axes(ax, (8, 5))
    if rules.empty:
        return _empty(ax, text)
    points = ax.scatter(rules[x], rules[y], c=rules[hue], cmap="viridis", s=18, alpha=0.8, edgecolors="none")
    bar = ax.figure.colorbar(points, ax=ax)
    bar.set_label(text.get(hue, hue))
    top = (rules.head(label_top) if label_first else rules.nlargest(label_top, y)) if label_top else rules.iloc[:0]
    ax.margins(y=0.18)  # room inside the axes for labels pushed apart above the highest point
    labels = [
        ax.annotate(
            _short(f"{_label(row.antecedents)} → {_label(row.consequents)}", 40),
            (getattr(row, x), getattr(row, y)),
            xytext=(6, 4),
            textcoords="offset points",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "#7b8794", "lw": 0.6, "shrinkA": 0, "shrinkB": 2},
        )
        for row in top.itertuples()
    ]
    if not hasattr(ax.figure.canvas, "get_renderer"):  # a bare Figure(): measure the labels on an Agg canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(ax.figure)
    _keep_inside(ax, labels)
    spread_labels(ax, labels)
    ax.set_xlabel(text.get(x, x))
    ax.set_ylabel(text.get(y, y))
    ax.set_title(text["scatter_title"])
    return ax


def _keep_inside(ax, labels) -> None:
    """Labels of points in the right third of the plot are written to the left of their point."""
    left, right = ax.get_xlim()
    for label in labels:
        if label.xy[0] > left + (right - left) * 0.6:
            label.set_horizontalalignment("right")
            label.xyann = (-6, label.xyann[1])


def plot_pair_heatmap(
    rules: pd.DataFrame,
    *,
    metric: str = "lift",
    top_n: int = 12,
    language: str = "en",
    ax=None,
):
    """Heatmap of ``metric`` between the items of the strongest one-item-to-one-item rules.

    Rows are antecedents ("customers who buy…"), columns consequents ("…also
    buy"), both the items of the ``top_n`` strongest such rules; every rule
    between two of them is shown, blank where there is none.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`crmtools.basket.association_rules`.
    metric : str, default="lift"
        Rule column shown as colour and number.
    top_n : int, default=12
        Number of strongest rules whose items are shown.
    language : {"en", "ja"}, default="en"
        Language of titles and labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    text = _text(language)
    _check(rules, ["antecedents", "consequents", metric])
    ax = _axes(ax, (8, 6))
    pairs = _single_item_rules(rules)
    if pairs.empty:
        return _empty(ax, text)
    strongest = pairs.nlargest(top_n, metric)
    items = list(dict.fromkeys([x for a, c in zip(strongest["from_item"], strongest["to_item"]) for x in (a, c)]))
    shown = pairs[pairs["from_item"].isin(items) & pairs["to_item"].isin(items)]
    grid = shown.pivot_table(index="from_item", columns="to_item", values=metric, aggfunc="first")
    grid = grid.reindex(index=items, columns=items)
    rows = cols = items
    values = grid.to_numpy(dtype=np.float64)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="magma_r", aspect="auto")
    bar = ax.figure.colorbar(image, ax=ax)
    bar.set_label(text.get(metric, metric))
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if values[i, j] > middle else "black",
                )
    ax.set_xticks(range(len(cols)), [_short(str(c)) for c in cols], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [_short(str(r)) for r in rows])
    ax.set_xlabel(text["heatmap_x"])
    ax.set_ylabel(text["heatmap_y"])
    ax.set_title(text["heatmap_title"].format(metric=text.get(metric, metric)))
    ax.grid(False)
    return ax


def plot_rule_network(
    rules: pd.DataFrame,
    *,
    metric: str = "lift",
    top_n: int = 15,
    language: str = "en",
    ax=None,
):
    """Small network of the strongest one-item-to-one-item rules, items on a circle.

    Arrows point from antecedent to consequent, wider for a higher
    ``metric``; a pair merged by :func:`crmtools.basket.merge_symmetric`
    (both directions hold) gets a two-headed arrow. A node's size follows
    its item's support. Pass only the rules worth showing
    (:func:`crmtools.basket.screen_rules`), not every rule tested.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`crmtools.basket.association_rules`.
    metric : str, default="lift"
        Rule column ranking the rules and setting arrow widths.
    top_n : int, default=15
        Number of rules drawn.
    language : {"en", "ja"}, default="en"
        Language of the title.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    text = _text(language)
    _check(rules, ["antecedents", "consequents", "antecedent_support", "consequent_support", metric])
    ax = _axes(ax, (7, 7))
    pairs = _single_item_rules(rules)
    if pairs.empty:
        return _empty(ax, text)
    top = pairs.nlargest(top_n, metric)
    support = dict(zip(top["from_item"], top["antecedent_support"]))
    support.update(zip(top["to_item"], top["consequent_support"]))
    # The two items of a rule next to each other on the circle, so the arrows do not cross the middle.
    nodes = list(dict.fromkeys(x for a, c in zip(top["from_item"], top["to_item"]) for x in (a, c)))
    angle = np.linspace(0, 2 * np.pi, len(nodes), endpoint=False) + np.pi / 2
    where = {node: (np.cos(a), np.sin(a)) for node, a in zip(nodes, angle)}
    values = top[metric].to_numpy(dtype=np.float64)
    span = np.ptp(values) or 1.0
    both = (
        top["reverse_confidence"].notna() if "reverse_confidence" in top.columns else pd.Series(False, index=top.index)
    ).to_numpy()
    for row, value, two_way in zip(top.itertuples(), values, both):
        ax.annotate(
            "",
            xy=where[row.to_item],
            xytext=where[row.from_item],
            arrowprops={
                "arrowstyle": "<|-|>" if two_way else "-|>",
                "color": "tab:blue",
                "alpha": 0.6,
                "lw": 0.8 + 3.2 * (value - values.min()) / span,
                "shrinkA": 12,
                "shrinkB": 12,
                "connectionstyle": "arc3,rad=0.12",
            },
        )
    sizes = np.array([support[n] for n in nodes])
    ax.scatter(
        [where[n][0] for n in nodes],
        [where[n][1] for n in nodes],
        s=120 + 1400 * sizes / sizes.max(),
        color="tab:orange",
        zorder=3,
        edgecolors="white",
    )
    for node, a in zip(nodes, angle):
        ax.text(
            1.18 * np.cos(a),
            1.18 * np.sin(a),
            _short(str(node)),
            ha="left" if np.cos(a) > 0.1 else "right" if np.cos(a) < -0.1 else "center",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(text["network_title"].format(metric=text.get(metric, metric)))
    return ax
