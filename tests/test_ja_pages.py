"""The Japanese output of the table and chart builders on the sample data: no data code left unworded.

A user trial found raw codes on Japanese pages: experiment variants (``free_shipping``), campaign, acquisition
and survey channels (``dm``, ``web``) in table cells and chart labels. Every code shown to a reader goes through
the catalogue (:func:`crmtools.reporting.i18n.code_label`); a code the catalogue does not know (a user's own
variant ``B``) stays as written. The whole pages are checked in ``test_browser`` (slow); here each builder,
quickly, with the same check (:mod:`ja_lint`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import matplotlib
import pandas as pd
import pytest
from ja_lint import KNOWN_CODES, untranslated_codes
from matplotlib.figure import Figure

from crmtools import campaigns, experiments, nps, repeat
from crmtools.plotting.campaigns import plot_campaign_roi
from crmtools.plotting.clv import plot_value_by
from crmtools.plotting.cohorts import plot_f2_rates
from crmtools.plotting.experiments import plot_lift_intervals
from crmtools.plotting.nps import plot_nps_breakdown
from crmtools.plotting.theme import use_report_theme
from crmtools.reporting.findings import verdict_sentences
from crmtools.reporting.summary import experiment_table
from crmtools.reporting.tables import html_table, worded


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts = []

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data)


def _html_texts(table) -> list[str]:
    parser = _Cells()
    parser.feed(table.to_html())
    return parser.texts


def _chart_texts(ax) -> list[str]:
    """Every text a chart draws: titles, axis and tick labels, annotations, legend entries."""
    ax.figure.canvas.draw()
    artists = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]
    legend = ax.get_legend()
    artists += list(legend.get_texts()) if legend is not None else []
    return [a.get_text() for a in artists if a.get_text()]


def _left(texts) -> dict[str, list[str]]:
    return {t: untranslated_codes(t) for t in texts if untranslated_codes(t)}


@pytest.fixture(autouse=True)
def _japanese_chart_font():
    with matplotlib.rc_context():
        use_report_theme("ja")
        yield


@pytest.fixture(scope="module")
def sample(small_sample_dir):
    return {
        name: pd.read_parquet(small_sample_dir / f"{name}.parquet")
        for name in ("transactions", "customers", "campaigns", "campaign_contacts", "experiments", "surveys")
    }


@pytest.fixture(scope="module")
def results(sample):
    return experiments.experiment_results(sample["experiments"], random_state=0, n_resamples=200)


def _axes():
    return Figure().subplots()


def test_the_code_check_finds_codes_and_lets_the_datas_own_names_through():
    assert untranslated_codes(" dm ") == ["dm"]
    assert untranslated_codes("Spring catalogue (dm)") == ["dm"]
    assert untranslated_codes("EXP-OFFER: free_shipping") == ["free_shipping"]
    assert untranslated_codes("バリアント「free_shipping」は") == ["free_shipping"]
    assert untranslated_codes("Summer email") == [] and untranslated_codes("Web ads") == []
    assert untranslated_codes("春のカタログ（ダイレクトメール）") == [] and untranslated_codes("EXP-OFFER: B") == []
    assert {"dm", "web", "free_shipping", "control", "conversion_rate", "promoter", "purchaser"} <= KNOWN_CODES


def test_the_sample_holds_the_codes_this_test_is_about(sample, results):
    shown = {*sample["campaigns"]["channel"], *sample["customers"]["acquisition_channel"], *results["variant"]}
    assert {"dm", "email", "web", "app", "free_shipping", "control_copy"} <= shown
    assert {"B", "C"} <= set(results["variant"])  # the user's own variant names, shown as written


def test_experiment_tables_chart_and_verdicts_word_the_variants(results):
    # as page 05 builds them: A/A tests told apart by their codes, then the variants worded for the sentences
    primary = experiment_table(worded(experiments.primary_results(results), ["variant"], language="ja"), language="ja")
    verdicts = results.assign(verdict=verdict_sentences(worded(results, ["variant"], language="ja"), language="ja"))
    texts = _html_texts(html_table(primary, language="ja", max_label=320))
    texts += _html_texts(
        html_table(
            verdicts[["experiment_id", "metric", "variant", "verdict", "method_used"]], language="ja", max_label=500
        )
    )
    texts += _chart_texts(plot_lift_intervals(results, language="ja", ax=_axes()))
    assert not _left(texts), _left(texts)
    assert "送料無料" in " ".join(texts) and "対照群（複製）" in " ".join(texts)
    assert any(re.search(r"(^|: )B$", t) for t in texts)  # a variant the catalogue does not know, as written


def test_campaign_chart_and_tables_word_the_channels(sample):
    roi = campaigns.campaign_roi(
        sample["campaigns"],
        sample["campaign_contacts"],
        sample["transactions"],
        as_of=sample["transactions"]["order_datetime"].max(),
    )
    assert len(roi)
    columns = ["name", "channel", "cost", "incremental_roi"]
    texts = _html_texts(html_table(roi[columns], {"cost": "money", "incremental_roi": "percent"}, language="ja"))
    rollup = campaigns.campaign_rollup(roi)
    texts += _html_texts(html_table(rollup[["level", "channel", "campaigns"]], {"campaigns": "integer"}, language="ja"))
    texts += _chart_texts(plot_campaign_roi(roi, language="ja", ax=_axes()))
    assert not _left(texts), _left(texts)
    assert "ダイレクトメール" in " ".join(texts)


def test_f2_nps_and_value_breakdowns_word_the_channels(sample):
    tx = sample["transactions"]
    end = tx["order_datetime"].max()
    f2 = repeat.f2_conversion(tx, as_of=end, customers=sample["customers"])
    texts = _chart_texts(plot_f2_rates(f2, breakdown="channel", language="ja", ax=_axes()))
    texts += _html_texts(
        html_table(
            f2[["breakdown", "group", "f2_rate"]], {"f2_rate": "percent"}, language="ja", codes={"group": "channel"}
        )
    )
    by_channel = nps.nps_table(sample["surveys"], period=f"{end:%Y-%m}", by="channel")
    texts += _html_texts(
        html_table(by_channel[["channel", "responses", "nps"]], {"responses": "integer", "nps": "nps"}, language="ja")
    )
    texts += _chart_texts(plot_nps_breakdown(by_channel, "channel", language="ja", ax=_axes()))
    channels = sample["customers"]["acquisition_channel"].value_counts(normalize=True)
    value = pd.DataFrame({"acquisition_channel": channels.index, "value_share": channels.to_numpy()})
    texts += _html_texts(html_table(value, {"value_share": "percent"}, language="ja"))
    texts += _chart_texts(plot_value_by(value, by="acquisition_channel", language="ja", ax=_axes()))
    assert not _left(texts), _left(texts)
    assert {"ウェブ", "アプリ", "カタログ"} <= set(texts)


def test_tables_keep_the_codes_for_the_analyst_and_english_pages_read_english():
    frame = pd.DataFrame({"channel": ["dm", "line"], "variant": ["free_shipping", "B"]})
    table = html_table(frame, language="en")
    assert table.data is frame and frame["channel"].tolist() == ["dm", "line"]
    assert _html_texts(table)[2:] == ["Direct mail", "Free shipping", "line", "B"]
    assert _html_texts(html_table(frame, language="ja", codes={"variant": None}))[2:] == [
        "ダイレクトメール",
        "free_shipping",  # a column the caller says is not a code column: as written
        "line",
        "B",
    ]
