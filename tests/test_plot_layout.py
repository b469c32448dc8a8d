"""Chart layout: labels that do not overlap, legends clear of axis labels, Japanese titles without font warnings."""

from __future__ import annotations

import logging

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from crmtools.plotting._common import overlapping_labels
from crmtools.plotting.basket import plot_rule_scatter
from crmtools.plotting.campaigns import plot_campaign_roi
from crmtools.plotting.theme import use_report_theme


@pytest.fixture
def theme():
    with matplotlib.rc_context():
        yield use_report_theme
    plt.close("all")


def close_rules(n: int = 8) -> pd.DataFrame:
    """Rules whose points nearly coincide: their labels would be drawn on top of each other."""
    return pd.DataFrame(
        {
            "antecedents": [frozenset({f"Product number {i}"}) for i in range(n)],
            "consequents": [frozenset({f"Other product {i}"}) for i in range(n)],
            "support": 0.010 + np.arange(n) * 1e-5,
            "lift": 5.0 + np.arange(n) * 0.01,
            "confidence": 0.3,
        }
    )


@pytest.mark.parametrize("language", ["en", "ja"])
def test_rule_scatter_labels_do_not_overlap(theme, language):
    theme(language)
    ax = plot_rule_scatter(close_rules(), label_top=6, language=language)
    ax.figure.canvas.draw()
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) == 6
    assert overlapping_labels(ax, labels) == []


def test_the_overlap_check_sees_overlapping_labels(theme):
    theme("en")
    _, ax = plt.subplots()
    texts = [ax.annotate("the same place", (0.5, 0.5)) for _ in range(2)]
    ax.figure.canvas.draw()
    assert overlapping_labels(ax, texts) == [("the same place", "the same place")]


def test_the_roi_legend_is_clear_of_the_axis_label(theme):
    theme("ja")
    roi = pd.DataFrame(
        {
            "campaign_id": ["C1", "C2", "C3"],
            "name": ["年末カタログ", "春のセール", "Web広告"],
            "channel": ["dm", "email", "ads"],
            "roi": [1.9, 0.4, np.nan],
            "incremental_roi": [12.4, 0.3, np.nan],
            "incremental_roi_ci_low": [9.0, -0.2, np.nan],
            "incremental_roi_ci_high": [15.0, 0.8, np.nan],
        }
    )
    ax = plot_campaign_roi(roi, language="ja")
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    label = ax.xaxis.label.get_window_extent(renderer)
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    assert not legend.overlaps(label), (legend, label)
    assert not any(legend.overlaps(t) for t in ticks)


def test_japanese_charts_draw_titles_without_a_bold_font_warning(theme, caplog):
    theme("ja")
    fig, ax = plt.subplots()
    ax.set_title("キャンペーンROIランキング")
    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        fig.canvas.draw()
    assert not [r for r in caplog.records if "Failed to find font weight" in r.getMessage()]


def _ladder_summary() -> pd.DataFrame:
    from crmtools.ladder import load_ladder

    customers = [5200, 2100, 900, 400, 300, 150, 40]  # the widest bar (and its value label) at the bottom
    at_or_above = np.cumsum(customers[::-1])[::-1]
    return pd.DataFrame({"rung": load_ladder().names, "customers": customers, "at_or_above": at_or_above})


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_ladder_legend_is_clear_of_every_label(theme, language):
    from crmtools.plotting.ladder import plot_ladder_funnel

    theme(language)
    ax = plot_ladder_funnel(_ladder_summary(), language=language)
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    texts = [*ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label, ax.yaxis.label, ax.title]
    texts = [t for t in texts if t.get_text()]
    assert len(ax.texts) == 7  # a value label on every bar
    hits = [t.get_text() for t in texts if legend.overlaps(t.get_window_extent(renderer))]
    assert hits == [], hits  # before: the legend in the lower right sat on the bottom bar's ' 9,090'
    # and the value labels stay inside the axes
    frame = ax.get_window_extent(renderer)
    assert all(t.get_window_extent(renderer).x1 <= frame.x1 for t in ax.texts)


def test_the_legend_check_sees_an_overlap(theme):
    theme("ja")
    _, ax = plt.subplots()
    ax.barh([0], [10.0], label="この段階以上")
    label = ax.text(9.0, 0.0, " 9,090", va="center")
    legend = ax.legend(loc="center right")
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    assert legend.get_window_extent(renderer).overlaps(label.get_window_extent(renderer))


def test_the_holdout_chart_labels_only_the_pooled_bin_with_a_plus(theme):
    from crmtools.plotting.clv import plot_holdout

    theme("en")
    pooled = pd.DataFrame({"frequency": range(8), "actual": 1.0, "predicted": 1.0})  # 7 holds 7 or more
    ticks = [t.get_text() for t in plot_holdout(pooled).get_xticklabels()]
    assert ticks == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    short = pd.DataFrame({"frequency": [0, 1, 2], "actual": 1.0, "predicted": 1.0})  # nobody reached 7
    assert [t.get_text() for t in plot_holdout(short).get_xticklabels()] == ["0", "1", "2"]
    only = pd.DataFrame({"frequency": [3], "actual": 1.0, "predicted": 1.0})
    assert [t.get_text() for t in plot_holdout(only, max_bin=3).get_xticklabels()] == ["3+"]
