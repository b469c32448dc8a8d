"""The predicted value of the base: one figure for the summary tile and page 07, and none from an unsound fit."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmtools import churn, targets
from crmtools.clv import BGNBDResult, GammaGammaResult
from crmtools.reporting import i18n
from crmtools.reporting.findings import value_finding
from crmtools.reporting.summary import (
    FitStatus,
    checked_base_value,
    fit_status,
    value_fit_status,
    value_reason,
    value_text,
    value_tiles,
)
from crmtools.reporting.tables import kpi_tiles

REPO = Path(__file__).resolve().parents[1]
ONLINE_RETAIL = REPO.parent / "shared" / "data" / "online_retail.parquet"


def _quiet(function, *args, **kwargs):
    """Call a fit whose non-convergence warning is expected here (the result says so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def no_dropout():
    """Planted: 300 customers who each keep buying every 10-40 days until the cutoff; nobody ever drops out, so the
    BG/NBD likelihood is highest at a -> 0 (the dropout probability's edge)."""
    rng = np.random.default_rng(0)
    end = pd.Timestamp("2025-07-01")
    rows = []
    for i in range(300):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        gap = int(rng.integers(10, 40))
        while day < end:
            rows.append((f"o{i}-{day:%Y%m%d}", f"c{i:03d}", day, 1, float(rng.integers(1000, 5000))))
            day += pd.Timedelta(days=int(rng.poisson(gap)) + 1)
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_datetime", "quantity", "amount"]), end


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, FitStatus("ok")),  # CDNOW's published fit
        ({"r": 0.8, "alpha": 10.0, "a": 3e-07, "b": 14566.0}, FitStatus("boundary", "BG/NBD", "a", 3e-07)),
        ({"r": 0.8, "alpha": 10.0, "a": 1.2, "b": 2e4}, FitStatus("boundary", "BG/NBD", "b", 2e4)),  # b -> inf
        ({"r": 0.8, "alpha": 5e-05, "a": 1.2, "b": 4.0}, FitStatus("boundary", "BG/NBD", "alpha", 5e-05)),
        ({"r": 0.8, "alpha": 2e5, "a": 1.2, "b": 4.0}, FitStatus("ok")),  # a scale has no upper edge
    ],
)
def test_a_parameter_at_the_edge_of_its_domain_is_a_boundary(params, expected):
    assert fit_status(BGNBDResult.from_params(params)) == expected


def test_gamma_gamma_edges_and_non_convergence():
    money = GammaGammaResult.from_params({"p": 2.2, "q": 25.0, "gamma": 9e4})  # yen: gamma is a large scale
    assert fit_status(money, name="Gamma-Gamma").ok
    flat = GammaGammaResult.from_params({"p": 2.2, "q": 3e4, "gamma": 9e7})
    assert fit_status(flat, name="Gamma-Gamma") == FitStatus("boundary", "Gamma-Gamma", "q", 3e4)
    stuck = dataclasses.replace(BGNBDResult.from_params({"r": 0.8, "alpha": 10, "a": 1.2, "b": 4}), converged=False)
    assert fit_status(stuck) == FitStatus("not_converged", "BG/NBD")
    values = churn.CustomerValues.empty("2025-01-01", 90)
    assert value_fit_status(dataclasses.replace(values, bgnbd=None, gamma_gamma=flat)).parameter == "q"
    # the reason names the edge, never an exponent
    assert "range (q → ∞)" in value_reason(dataclasses.replace(values, status="fit_boundary", gamma_gamma=flat))
    assert value_reason(dataclasses.replace(values, status="fit_not_converged", bgnbd=stuck), language="ja") == (
        "算出不可：BG/NBDモデルの推定が収束しなかったため、予測価値は表示しません。"
    )
    assert value_reason(dataclasses.replace(values, status="ok")) is None


def test_a_fit_on_the_edge_gives_no_value_on_any_page(no_dropout):
    tx, end = no_dropout
    raw = _quiet(churn.base_value, tx, as_of=end)
    assert raw.values.bgnbd.params["a"] < 1e-4  # the plant works: a runs off to 0 ...
    assert math.isfinite(raw.summary.active_value)  # ... and the unchecked result still quotes a figure
    base = _quiet(checked_base_value, tx, as_of=end)
    assert (base.values.status, base.summary.status) == ("fit_boundary", "fit_boundary")
    assert base.values.table.empty and base.values.bgnbd.params == raw.values.bgnbd.params  # the fit is kept
    assert math.isnan(base.summary.active_value) and math.isnan(base.summary.value_at_risk)
    for language, na in (("en", "n/a: the BG/NBD fit lands on the edge"), ("ja", "算出不可：BG/NBDモデルの推定値")):
        tiles = value_tiles(base, base, language=language)
        assert tiles[["value", "previous"]].isna().all().all()
        assert tiles["note"].str.startswith(na).all() and "a → 0" in tiles.loc[0, "note"]
        assert value_text(base, language=language) == value_reason(base.values, language=language)
        assert value_text(base, language=language).startswith(na)
        page = kpi_tiles(tiles, language=language, currency="JPY").data
        assert na in page and "¥" not in page and "円" not in page
    # the finding never recommends from it
    risk = churn.risk_by_segment(base.values, base.risk, pd.DataFrame({"customer_id": [], "segment": []}))
    assert value_finding(base.summary, None, risk) is None
    # nor does a list rule select on it, nor page 08's value column (the field is unavailable)
    attrs, missing = _quiet(targets.customer_attributes, tx, as_of=end, fields=["clv"])
    assert missing == {"clv": "no_data"} and "clv" not in attrs.columns


def test_a_sound_fit_is_left_as_it_is(small_sample_dir):
    tx = pd.read_parquet(small_sample_dir / "transactions.parquet")
    base = checked_base_value(tx, as_of="2025-04-01")
    assert base.values.status == "ok" and value_fit_status(base.values).ok
    assert base.summary == churn.base_value(tx, as_of="2025-04-01").summary


def test_the_tile_and_page_07_state_one_figure_with_the_whole_base_labelled(small_sample_dir):
    """The user trial's defect: the summary tile said ¥244M and page 07 ¥251M (all customers, not the active base)."""
    tx = pd.read_parquet(small_sample_dir / "transactions.parquet")
    base = checked_base_value(tx, as_of="2025-04-01")
    tile = value_tiles(base, None).set_index("kpi").loc["clv_active_value"]
    assert tile["value"] == base.summary.active_value
    text = value_text(base, language="en", currency="JPY")
    everyone = base.values.table["clv"].sum()
    assert everyone > base.summary.active_value  # two bases, so two figures: each must say which it is
    active, rest = text.split(": the predicted value on the summary page. ")
    assert active.endswith(f"bring {i18n.compact_money(tile['value'], 'en', 'JPY')} over the next 12 months")
    assert f"the {len(base.values.table):,} customers in the tables below" in rest
    assert f"bring {i18n.compact_money(everyone, 'en', 'JPY')};" in rest
    ja = value_text(base, language="ja", currency="JPY")
    assert f"で{i18n.compact_money(tile['value'], 'ja', 'JPY')}をもたらすと予測されます（サマリーの予測価値と同じ" in ja


@pytest.mark.skipif(not ONLINE_RETAIL.is_file(), reason="needs ../shared/data/online_retail.parquet")
def test_online_retail_value_is_na_with_the_reason():
    """UCI Online Retail, November 2011: the BG/NBD fit lands on a -> 0; the pages say n/a and why."""
    from crmtools.data import DataConfig, load_dataset
    from crmtools.params import load_params

    example = REPO / "params" / "examples" / "uci_online_retail.yaml"
    params = load_params(example, [f"data.tables.transactions.file={ONLINE_RETAIL}"], base_dir=REPO)
    data = load_dataset(DataConfig.from_dict(params["data"], base_dir=example.parent), until="2011-12-01")
    base = _quiet(checked_base_value, data.transactions, as_of="2011-12-01")
    found = value_fit_status(base.values)
    assert (found.code, found.model, found.parameter) == ("boundary", "BG/NBD", "a")
    assert math.isnan(value_tiles(base).loc[0, "value"])
    assert value_text(base, language="en", currency="GBP").startswith("n/a: the BG/NBD fit lands on the edge")


def test_a_converged_fit_on_the_edge_gives_list_rules_no_value(small_sample_dir, monkeypatch):
    """The optimiser may report convergence at a limiting case (a -> 0): the clv list field is unavailable all the
    same, as the pages show n/a (one check, crmtools.clv.fit_status, for both)."""
    import crmtools.clv as clv_module

    tx = pd.read_parquet(small_sample_dir / "transactions.parquet")
    sound, _ = targets.customer_attributes(tx, as_of="2025-04-01", fields=["clv"])
    assert sound["clv"].notna().any()
    edge = BGNBDResult.from_params({"r": 0.8, "alpha": 10.0, "a": 3e-07, "b": 14566.0})
    assert edge.converged and clv_module.fit_status(edge).edge == "low"
    monkeypatch.setattr(clv_module, "fit_bgnbd", lambda summary, **kwargs: edge)
    # another frame: attributes of the same frame, instant and settings are remembered (computed once per page)
    attrs, missing = targets.customer_attributes(tx.copy(), as_of="2025-04-01", fields=["clv"])
    assert "clv" in missing and "clv" not in attrs.columns
