"""The Japanese output of the table and chart builders on the sample data: no data code left unworded.

A user trial found raw codes on Japanese pages: experiment variants (``free_shipping``), campaign, acquisition
and survey channels (``dm``, ``web``) in table cells and chart labels. Every code shown to a reader goes through
the catalogue (:func:`crmtools.reporting.i18n.code_label`); a code the catalogue does not know (a user's own
variant ``B``) stays as written. The whole pages are checked in ``test_browser`` (slow); here each builder,
quickly, with the same check (:mod:`ja_lint`).
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
from ja_lint import KNOWN_CODES, untranslated_codes
from matplotlib.figure import Figure

from crmtools import campaigns, experiments, nps, privacy, repeat
from crmtools.notebook import heading, paragraph
from crmtools.plotting.campaigns import plot_campaign_roi
from crmtools.plotting.clv import plot_holdout, plot_value_by
from crmtools.plotting.cohorts import plot_f2_rates
from crmtools.plotting.experiments import plot_lift_intervals
from crmtools.plotting.nps import plot_nps_breakdown
from crmtools.plotting.theme import use_report_theme
from crmtools.reporting import i18n
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


# --------------------------------------------------------------------------- cells of the pages, run on their own


def _run_cell(notebook: str, cell_id: str, **names) -> list:
    """Run one cell of ``notebooks/<notebook>.ipynb`` with ``names`` as its page's earlier cells left them; the
    objects it displays (its last expression's value included, as Jupyter shows it)."""
    path = Path(__file__).resolve().parents[1] / "notebooks" / f"{notebook}.ipynb"
    source = next(c.source for c in nbformat.read(path, as_version=4).cells if c.get("id") == cell_id)
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    shown = []
    namespace = {"display": shown.append, **names}
    exec(compile(tree, f"{notebook}:{cell_id}", "exec"), namespace)
    if last is not None:
        shown.append(eval(compile(ast.Expression(last.value), f"{notebook}:{cell_id}", "eval"), namespace))
    return [item for item in shown if item is not None]


def test_the_clv_page_labels_the_pooled_holdout_bin_in_the_table_as_in_the_chart():
    """Page 07's calibration/holdout table showed the last bin as 7 where the chart said 7+ (7 or more)."""
    table = pd.DataFrame(
        {"frequency": range(8), "customers": [50, 30, 20, 10, 8, 6, 4, 9], "actual": 0.5, "predicted": 0.6}
    )
    check = SimpleNamespace(table=table, predicted_total=60.0, actual_total=50.0, relative_error=0.2)
    holdout = SimpleNamespace(
        status="ok",
        check=check,
        calibration_end=pd.Timestamp("2025-06-30"),
        observation_end=pd.Timestamp("2025-12-31"),
    )
    names = dict(pd=pd, i18n=i18n, html_table=html_table, paragraph=paragraph, plot_holdout=plot_holdout)
    shown = _run_cell("07_clv", "cell-005", holdout=holdout, language="ja", last_day="2025-12-31", **names)
    cells = _html_texts(next(item for item in shown if hasattr(item, "to_html")))
    ax = plt.gca()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    plt.close("all")
    assert ticks[-1] == "7+" and ticks[:2] == ["0", "1"]
    assert "7+" in cells and "6" in cells and "7" not in cells, cells


@pytest.mark.parametrize("builtin", [True, False])
def test_the_nps_by_stage_note_follows_the_ladder_the_page_uses(sample, builtin):
    """Page 08: under the NPS-by-stage table and chart, the note that a stage is defined by the survey answer
    (the built-in ⑤ Fan: promoters) follows the page's ladder; a custom ladder without such a stage has none."""
    custom = {
        "rungs": [
            {"name": "buyer", "when": [{"orders": {"min": 1}}]},
            {"name": "vip", "when": [{"orders": {"min": 9}}]},
        ]
    }
    rules = None if builtin else custom
    surveys = sample["surveys"]
    ids = surveys["customer_id"].drop_duplicates().sort_values().reset_index(drop=True)
    stages = pd.DataFrame({"customer_id": ids, "stage": [1 + i % 2 for i in range(len(ids))]})
    stage_numbers = {1: "buyer", 2: "vip"}
    period = f"{surveys['responded_at'].max():%Y-%m}"
    shown = _run_cell(
        "08_actions",
        "41dee743",
        pd=pd,
        i18n=i18n,
        nps=nps,
        privacy=privacy,
        heading=heading,
        paragraph=paragraph,
        html_table=html_table,
        has_surveys=True,
        surveys=surveys,
        period=period,
        breakdowns={"stage": (stages, stage_numbers, False)},
        lang="ja",
        rules=rules,
        ctx=SimpleNamespace(period_text=period),
        min_cell=5,
        nps_columns=["responses", "nps"],
        nps_formats={"responses": "integer", "customers": "text", "nps": "nps"},
    )
    charted = _run_cell(
        "08_actions",
        "d4987962",
        tables={"stage": nps.nps_table(surveys, period=period, by="stage", groups=stages)},
        stage_numbers=stage_numbers,
        rules=rules,
        lang="ja",
        plot_nps_breakdown=plot_nps_breakdown,
    )
    chart = " ".join(_chart_texts(plt.gca()))
    plt.close("all")
    note = i18n.nps_stage_note(language="ja")
    assert note and not charted  # the chart cell displays nothing but its chart
    paragraphs = " ".join(item.data for item in shown if isinstance(getattr(item, "data", None), str))
    assert (note in paragraphs) is builtin and ("ファン" in chart) is builtin, (paragraphs[-300:], chart)
    assert any(hasattr(item, "to_html") for item in shown)  # the table the note is under
