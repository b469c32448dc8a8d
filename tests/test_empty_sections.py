"""Every page publishes when its sections have nothing to show, each saying why in one line (issue 13).

Real exports empty sections the sample data never empties: CDNOW has no
first purchase after its first quarter (an empty cohort table used to
withhold the whole report), many shops have no campaigns or experiments
table, a single filled-in product, a constant filled-in channel, and every
export has a first month before which nothing is known. Three small data
sets, shaped to empty each section in turn, run through the real runner.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from crmtools.runner import run_period

REPO = Path(__file__).resolve().parent.parent


def _orders(gap_month: str | None = None) -> pd.DataFrame:
    """60 customers acquired in Jan/Feb 2024 only (like CDNOW's first quarter), one product, one channel.

    Two thirds come back every third month until June 2025; none buys in ``gap_month``.
    """
    rows = []
    for i in range(60):
        first = pd.Timestamp("2024-01-01") + pd.DateOffset(months=i % 2) + pd.Timedelta(days=i % 27, hours=10)
        dates = [first]
        if i % 3:
            dates += [first + pd.DateOffset(months=m) for m in range(i % 3, 18, 3)]
        for n, when in enumerate(d for d in dates if d < pd.Timestamp("2025-07-01")):
            if gap_month and f"{when:%Y-%m}" == gap_month:
                continue
            quantity = 1 + (i + n) % 3
            rows.append(
                {
                    "order_id": f"o{i:03d}-{n:02d}",
                    "customer_id": f"c{i:03d}",
                    "order_datetime": when,
                    "product_id": "CD",  # one product, filled in (CDNOW has none)
                    "quantity": quantity,
                    "unit_price": 12.5,
                    "amount": 12.5 * quantity,
                    "channel": "web",  # one channel, filled in
                }
            )
    last = {**rows[-1], "order_id": "o-last", "order_datetime": pd.Timestamp("2025-06-30 12:00")}
    return pd.DataFrame([*rows, last])  # an order on the last day: June is covered whole


def _project(root: Path, transactions: pd.DataFrame) -> Path:
    (root / "data").mkdir(parents=True)
    transactions.to_parquet(root / "data" / "transactions.parquet", index=False)  # no other table at all
    (root / "params").mkdir()
    (root / "params" / "default.yaml").write_text("currency: USD\ndata:\n  path: data\n", encoding="utf-8")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    return root


def _publish(root: Path, period: str) -> dict[str, str]:
    result = run_period(period, project_dir=root, jobs=2)
    assert result.status == "published", result.message
    assert all(nb.status == "ok" for nb in result.notebooks), result.notebooks
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(result.report_dir.glob("*.html"))}


def _expected_pages() -> list[str]:
    return sorted(p.name.replace(".ipynb", ".html") for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def acquired_long_ago(tmp_path_factory):
    return _project(tmp_path_factory.mktemp("cdnow_like"), _orders())


@pytest.mark.slow
def test_no_cohort_no_campaigns_no_experiments_one_product_one_channel(acquired_long_ago):
    # June 2025: no first purchase in the 12 cohort months (the CDNOW 1998-03 case), no campaigns or
    # experiments table, one product, one channel.
    pages = _publish(acquired_long_ago, "2025-06")
    assert sorted(pages) == _expected_pages()
    for page in ("00_summary.html", "05_experiments.html"):
        assert pages[page].count("The data has no experiments table") == 1, page
    for page in ("00_summary.html", "06_campaigns.html"):
        assert pages[page].count("The data has no campaigns table") == 1, page
    for page in ("05_experiments.html", "06_campaigns.html"):
        assert "Nothing to show for this period" not in pages[page], page
        assert "<th" not in pages[page], page  # no empty table headers
    assert "Variant" not in pages["05_experiments.html"]
    assert "Campaign ROI: incremental" not in pages["00_summary.html"]  # no tile for a table the data lacks
    basket = pages["04_basket.html"]  # one filled-in product: the note is the page
    assert "Every order line has the same product (CD)" in basket and "Nothing to show" not in basket
    retention = pages["03_retention.html"]
    assert "Acquisition channel" not in retention  # a constant filled-in channel is no breakdown
    assert "first month of the data" in retention  # the Jan 2024 F2 cohort is marked, not counted as new
    assert retention.count("No customer's first purchase falls") <= 1  # the heatmap's note, said once


@pytest.mark.slow
def test_the_first_month_of_the_data(acquired_long_ago):
    # January 2024: nothing before it. The trend has one month, last period and last year are not compared,
    # new customers and repeat rate are not shown (everybody looks new), the migration has no "before".
    pages = _publish(acquired_long_ago, "2024-01")
    summary = pages["00_summary.html"]
    assert "No comparison with Dec 2023, Jan 2023: the data starts on 2024-01-01." in summary
    assert "first month: new customers and repeat rate are not shown" in summary
    assert summary.count("n/a: first month of the data") == 3  # new customers, repeat rate, retention
    assert "▼" not in summary and "▲" not in summary  # no change against nothing


@pytest.mark.slow
def test_a_month_without_any_order(tmp_path):
    # May 2025 has no order at all: deciles, concentration and basket are empty; RFM and cohorts are not.
    pages = _publish(_project(tmp_path, _orders(gap_month="2025-05")), "2025-05")
    deciles = pages["02_deciles.html"]
    assert deciles.count("No customer bought in this period.") == 2 and "<th" not in deciles


def _plots():
    from crmtools import cohorts, deciles, repeat, rfm
    from crmtools.data import empty_table
    from crmtools.kpis import monthly_trend
    from crmtools.plotting import campaigns, experiments, kpis
    from crmtools.plotting import cohorts as cohort_plots
    from crmtools.plotting import deciles as deciles_plots
    from crmtools.plotting import rfm as rfm_plots

    tx = empty_table("transactions")
    nothing = rfm.rfm_table(tx, as_of="2025-01-01")
    return {
        "trend": lambda ax: kpis.plot_trend(monthly_trend(tx, period="2024-12"), ax=ax),
        "cohorts": lambda ax: cohort_plots.plot_cohort_heatmap(cohorts.cohort_table(tx, as_of="2025-01-01"), ax=ax),
        "f2": lambda ax: cohort_plots.plot_f2_rates(repeat.f2_conversion(tx, as_of="2025-01-01"), ax=ax),
        "intervals": lambda ax: cohort_plots.plot_interval_distribution(
            repeat.interval_distribution(tx, as_of="2025-01-01"), ax=ax
        ),
        "segments": lambda ax: rfm_plots.plot_segment_bars(rfm.segment_summary(nothing), ax=ax),
        "rfm_grid": lambda ax: rfm_plots.plot_rfm_heatmap(rfm.rfm_grid(nothing), ax=ax),
        "migration": lambda ax: rfm_plots.plot_migration_heatmap(rfm.segment_migration(nothing, nothing), ax=ax),
        "deciles": lambda ax: deciles_plots.plot_deciles(deciles.decile_table(tx, period="2024-12"), ax=ax),
        "pareto": lambda ax: deciles_plots.plot_pareto_curve(deciles.pareto_curve(tx, period="2024-12"), ax=ax),
        "experiments": lambda ax: experiments.plot_lift_intervals(
            pd.DataFrame(
                columns=[
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
            ).astype({"relative_lift": float}),
            ax=ax,
        ),
        "campaigns": lambda ax: campaigns.plot_campaign_roi(
            pd.DataFrame(
                columns=[
                    "campaign_id",
                    "channel",
                    "roi",
                    "incremental_roi",
                    "incremental_roi_ci_low",
                    "incremental_roi_ci_high",
                ]
            ),
            ax=ax,
        ),
    }


@pytest.mark.parametrize("name", sorted(_plots()))
def test_every_plot_draws_a_one_line_note_for_an_empty_table(name):
    from matplotlib.figure import Figure

    from crmtools.plotting._empty import is_empty_note

    ax = Figure().subplots()
    assert _plots()[name](ax) is ax
    assert is_empty_note(ax) and not ax.axison and len(ax.texts) == 1 and not ax.patches and not ax.lines
    assert ax.texts[0].get_text().endswith(".")  # a sentence saying why, from the catalogue
