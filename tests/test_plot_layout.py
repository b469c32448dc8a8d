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
