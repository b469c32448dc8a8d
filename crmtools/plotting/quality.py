"""Data-quality charts."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_lines_by_month"]


def plot_lines_by_month(table: pd.DataFrame, *, language: str = "en", ax=None):
    """Stacked bars of order lines per month by kind (from :func:`crmtools.quality.lines_by_month`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    wide = table.pivot_table(index="month", columns="kind", values="lines", aggfunc="sum", fill_value=0)
    labels = {"en": {"sale": "sales", "return": "returns", "guest": "guest orders"},
              "ja": {"sale": "販売", "return": "返品・キャンセル", "guest": "ゲスト注文"}}[language]
    bottom = None
    for kind in [k for k in ("sale", "return", "guest") if k in wide.columns]:
        ax.bar(wide.index, wide[kind], bottom=bottom, label=labels[kind])
        bottom = wide[kind] if bottom is None else bottom + wide[kind]
    ax.set_xlabel("月" if language == "ja" else "Month")
    ax.set_ylabel("明細行数" if language == "ja" else "Order lines")
    ax.tick_params(axis="x", rotation=90)
    ax.legend()
    return ax
