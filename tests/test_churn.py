"""Churn risk, next purchase and value of the base (crmtools.churn): hand-computed features, no leakage,
a time-based backtest against independently computed baselines, and the planted effect recovered."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from crmtools import churn, engine
from crmtools.errors import ParameterError
from crmtools.params import resolve_params

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture
def tiny(make_transactions):
    """Three customers; a: four orders 10 days apart (one campaign order, two lines on the first), b: one order,
    c: only after the cutoff; a return line and a guest order that never count."""
    rows = [
        ("1", "a", "2025-06-01 10:00", 1, 100.0, "web", "Food", None),
        ("1", "a", "2025-06-01 10:00", 2, 300.0, "web", "Home", None),
        ("2", "a", "2025-06-11 09:00", 1, 200.0, "app", "Food", "CMP-1"),
        ("3", "a", "2025-06-21 12:00", 1, 100.0, "app", "Food", None),
        ("R3", "a", "2025-06-22 12:00", -1, -100.0, "app", "Food", None),
        ("4", "b", "2024-12-01 08:00", 1, 50.0, "phone", "Kitchen", None),
        ("5", None, "2025-06-15 08:00", 1, 999.0, "web", "Food", None),
        ("6", "c", "2025-07-05 08:00", 1, 70.0, "web", "Food", None),
    ]
    columns = (
        "order_id",
        "customer_id",
        "order_datetime",
        "quantity",
        "amount",
        "channel",
        "category",
        "campaign_id",
    )
    return make_transactions(rows, columns=columns)


def _no_model(as_of=AS_OF):
    return churn.CustomerValues.empty(as_of, 90)


def test_features_by_hand(tiny):
    contacts = pd.DataFrame(
        {
            "campaign_id": ["CMP-1", "CMP-2", "CMP-3"],
            "customer_id": ["a", "a", "b"],
            "group": ["treatment", "treatment", "holdout"],
            "contacted_at": pd.to_datetime(["2025-06-10", "2025-07-02", "2025-06-10"]),
        }
    )
    f = churn.churn_features(tiny, as_of=AS_OF, contacts=contacts, values=_no_model()).set_index("customer_id")
    assert list(f.columns) == list(churn.FEATURE_COLUMNS)
    assert list(f.index) == ["a", "b"]  # c has no purchase before the cutoff; the guest order is nobody's
    a, b = f.loc["a"], f.loc["b"]
    assert (a.recency_days, a.frequency, a.purchase_days, a.tenure_days) == (10, 3, 3, 30)
    assert a.monetary == pytest.approx(700 / 3) and a.total_spend == 700.0  # the return does not count
    assert a.mean_interval_days == 10.0 and a.interval_cv == 0.0 and a.overdue_ratio == 1.0
    assert a.spend_trend == 1.0 and a.orders_last_90_days == 3
    assert (a.campaigns_contacted, a.campaign_orders) == (1, 1)  # the contact after the cutoff does not count
    assert (a.acquisition_channel, a.first_category) == ("web", "Home")  # the first order's largest line
    assert (b.recency_days, b.frequency, b.tenure_days, b.monetary) == (212, 1, 212, 50.0)
    assert math.isnan(b.mean_interval_days) and math.isnan(b.interval_cv) and math.isnan(b.overdue_ratio)
    assert b.spend_trend == -1.0 and b.campaigns_contacted == 0  # a holdout contact is no contact
    assert np.isnan(f["p_alive"]).all()  # no model given: missing, not invented


def test_customers_table_sets_the_acquisition_channel_and_active_days_filter(tiny):
    customers = pd.DataFrame({"customer_id": ["a", "b"], "acquisition_channel": ["catalog", None]})
    f = churn.churn_features(tiny, as_of=AS_OF, customers=customers, values=_no_model()).set_index("customer_id")
    assert f.loc["a", "acquisition_channel"] == "catalog" and f.loc["b", "acquisition_channel"] == "phone"
    recent = churn.churn_features(tiny, as_of=AS_OF, active_days=100, values=_no_model())
    assert recent["customer_id"].tolist() == ["a"]


def test_labels_by_hand(tiny):
    labels = churn.churn_labels(tiny, as_of=AS_OF, horizon_days=10)
    assert labels["customer_id"].tolist() == ["c"]
    assert churn.churn_labels(tiny, as_of=AS_OF, horizon_days=4)["customer_id"].tolist() == []
    assert churn.churn_labels(tiny, as_of="2025-06-11", horizon_days=1)["customer_id"].tolist() == ["a"]


def test_input_is_not_modified(tiny):
    before = tiny.copy()
    churn.churn_features(tiny, as_of=AS_OF, values=_no_model())
    churn.churn_labels(tiny, as_of=AS_OF)
    pd.testing.assert_frame_equal(tiny, before)


@pytest.fixture(scope="module")
def sample(small_sample_dir):
    tx = pd.read_parquet(small_sample_dir / "transactions.parquet")
    customers = pd.read_parquet(small_sample_dir / "customers.parquet")
    contacts = pd.read_parquet(small_sample_dir / "campaign_contacts.parquet")
    campaigns = pd.read_parquet(small_sample_dir / "campaigns.parquet")
    return tx, customers, contacts, campaigns


SAMPLE_AS_OF = pd.Timestamp("2025-04-01")  # the small sample runs 2024-01 to 2025-03


def _future_rows(tx: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Orders after the cutoff: a big repeat order of existing customers and a new customer."""
    known = tx.loc[tx["customer_id"].notna(), "customer_id"].unique()[:50]
    template = tx.iloc[[0] * 51].copy()
    template["order_id"] = [f"F{i}" for i in range(51)]
    template["customer_id"] = [*known, "NEWCOMER"]
    template["order_datetime"] = cutoff + pd.Timedelta(days=3)
    template["amount"] = template["unit_price"] * template["quantity"] * 0 + 99999.0
    template["unit_price"] = template["amount"] / template["quantity"]
    return pd.concat([tx, template], ignore_index=True)


def test_no_leakage_future_rows_change_no_feature(sample):
    tx, customers, contacts, _ = sample
    cutoff = pd.Timestamp("2025-01-01")
    options = dict(as_of=cutoff, customers=customers, contacts=contacts)
    before = churn.churn_features(tx, **options)
    after = churn.churn_features(_future_rows(tx, cutoff), **options)
    assert before["p_alive"].notna().all()  # the BG/NBD features are there, and fitted on the past only
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("active_days", [365, 60, None])
def test_features_fit_the_purchase_model_customer_values_fits(sample, active_days):
    """Without ``values`` the features fit their own BG/NBD: on every purchase before the cutoff (not only those of
    the active customers they keep), so p_alive and the expected purchases are those of customer_values."""
    tx, customers, contacts, _ = sample
    options = dict(as_of=pd.Timestamp("2025-01-01"), customers=customers, contacts=contacts, active_days=active_days)
    own = churn.churn_features(tx, **options)
    given = churn.churn_features(tx, **options, values=churn.customer_values(tx, as_of=options["as_of"]))
    assert own["p_alive"].notna().all() and own["expected_purchases"].notna().all()
    pd.testing.assert_frame_equal(own, given, check_exact=True)


def test_features_without_a_purchase_model_leave_its_columns_missing(tiny):
    assert churn.customer_values(tiny, as_of=AS_OF).status == "too_few_repeat"
    features = churn.churn_features(tiny, as_of=AS_OF)
    assert len(features) == 2 and features[["p_alive", "expected_purchases"]].isna().all().all()


@pytest.fixture(scope="module")
def risk(sample):
    tx, customers, contacts, _ = sample
    values = churn.customer_values(tx, as_of=SAMPLE_AS_OF)
    result = churn.churn_risk(tx, as_of=SAMPLE_AS_OF, customers=customers, contacts=contacts, values=values)
    return values, result


def test_backtest_trains_earlier_and_tests_later(risk, sample, monkeypatch):
    _, result = risk
    assert result.status == "ok"
    assert result.train_cutoff + pd.Timedelta(days=90) == result.test_cutoff
    assert result.test_cutoff + pd.Timedelta(days=90) == result.as_of == SAMPLE_AS_OF
    # The cutoffs the features are computed at, in order: train, test, then the scoring cutoff.
    seen = []
    real = churn.churn_features

    def spy(transactions, *, as_of, **kwargs):
        frame = transactions
        if isinstance(transactions, churn._Lines):  # ids numbered once; lines seen up to its bound
            frame = transactions.source.loc[transactions.source["order_datetime"] < transactions.until]
        seen.append((as_of, frame["order_datetime"].max()))
        return real(transactions, as_of=as_of, **kwargs)

    monkeypatch.setattr(churn, "churn_features", spy)
    tx = sample[0]
    churn.churn_risk(_future_rows(tx, SAMPLE_AS_OF), as_of=SAMPLE_AS_OF, values=risk[0])
    assert [s[0] for s in seen] == [result.train_cutoff, result.test_cutoff, SAMPLE_AS_OF]
    assert all(latest < SAMPLE_AS_OF for _, latest in seen)  # rows after the scoring cutoff never reach it


def _auc_by_ranks(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U / (n1 n0), ties counted half: an independent AUC."""
    ranks = stats.rankdata(score)
    n1, n0 = int(y.sum()), int((1 - y).sum())
    return (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def test_baselines_match_an_independent_computation(risk, sample):
    _, result = risk
    tx, customers, contacts, _ = sample
    tx = tx.loc[tx["order_datetime"] < SAMPLE_AS_OF]
    test = churn.churn_features(tx, as_of=result.test_cutoff, customers=customers, contacts=contacts)
    bought = set(tx.loc[(tx["order_datetime"] >= result.test_cutoff) & (tx["quantity"] > 0), "customer_id"].dropna())
    y = (~test["customer_id"].isin(bought)).to_numpy().astype(int)
    metrics = result.metrics.set_index("method")
    assert metrics.loc["recency", "auc"] == pytest.approx(_auc_by_ranks(y, test["recency_days"].to_numpy()))
    assert metrics.loc["p_alive", "auc"] == pytest.approx(_auc_by_ranks(y, 1 - test["p_alive"].to_numpy()))
    assert metrics.loc["model", "test_customers"] == len(test)
    assert metrics["churn_rate"].iloc[0] == pytest.approx(y.mean())


def test_top_decile_lift_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.arange(20, 0, -1, dtype=float)  # the first two are the riskiest
    assert churn._top_decile_lift(y, score) == pytest.approx(1.0 / 0.15)


def test_planted_effect_is_recovered_and_the_winner_is_the_best(risk):
    _, result = risk
    aucs = result.metrics.set_index("method")["auc"]
    assert aucs.max() > 0.6  # the buy-till-you-die process of the sample is predictable from history
    assert result.winner == aucs.idxmax()
    assert len(result.scores) and result.scores["churn_probability"].between(0, 1).all()
    cal = result.calibration
    assert set(cal["method"]) == set(churn.METHODS)
    assert cal.groupby("method")["customers"].sum().eq(result.metrics["test_customers"].iloc[0]).all()


def test_results_are_reproducible(risk, sample):
    tx, customers, contacts, _ = sample
    again = churn.churn_risk(tx, as_of=SAMPLE_AS_OF, customers=customers, contacts=contacts, values=risk[0])
    pd.testing.assert_frame_equal(again.metrics, risk[1].metrics)
    pd.testing.assert_frame_equal(again.scores, risk[1].scores)


def test_thin_data_gives_a_status_not_an_error(tiny):
    result = churn.churn_risk(tiny, as_of=AS_OF, values=_no_model())
    assert result.status in ("no_data", "too_few_customers") and result.winner is None
    assert result.scores.empty and result.metrics["auc"].isna().all()
    values = churn.customer_values(tiny, as_of=AS_OF)
    assert values.status == "too_few_repeat" and values.table.empty
    assert churn.customer_values(tiny, as_of="2020-01-01").status == "no_data"
    assert churn.value_holdout(tiny, as_of=AS_OF).status in ("no_data", "too_few_repeat")
    summary = churn.value_summary(values, result)
    assert summary.active_customers == 0 and math.isnan(summary.value_at_risk)


def test_next_purchase_model_quantiles_are_lomax(tiny):
    from types import SimpleNamespace

    Model = SimpleNamespace(params={"r": 0.5, "alpha": 2.0, "a": 1.0, "b": 1.0})

    table = pd.DataFrame(
        {"customer_id": ["a", "b"], "frequency": [2.0, 0.0], "T": [30 / 7, 212 / 7], "p_alive": [0.9, 1.0]}
    )
    values = churn.CustomerValues(AS_OF, 90, "ok", table, bgnbd=Model, unit_days=7.0)
    out = churn.next_purchase(tiny, as_of=AS_OF, values=values, max_days=36500).set_index("customer_id")
    b = out.loc["b"]
    assert b.basis == "model"
    law = stats.lomax(c=0.5 + 0, scale=(2.0 + 212 / 7) * 7)  # days from the cutoff, given alive
    for column, q in (("expected_next", 0.5), ("next_low", 0.1), ("next_high", 0.9)):
        assert (b[column] - AS_OF).days == round(law.ppf(q)), column
    # the 90% end is 22,374 days away: past the default ten years it is not given (an open interval)
    capped = churn.next_purchase(tiny, as_of=AS_OF, values=values).set_index("customer_id").loc["b"]
    assert round(law.ppf(0.9)) > churn.NEXT_PURCHASE_MAX_DAYS and pd.isna(capped["next_high"])
    assert capped["basis"] == "model" and capped["expected_next"] == b["expected_next"]
    # a has three purchase days (two gaps): fewer than min_gaps, so the model too
    assert out.loc["a", "basis"] == "model" and out.loc["a", "usual_interval_days"] == 10.0
    assert churn.next_purchase(tiny, as_of=AS_OF, values=values, min_gaps=2).loc[0, "basis"] == "history"


def test_a_next_purchase_thousands_of_years_away_is_not_expected_within_max_days(tiny):
    """CDNOW 1998-03: a nearly dead customer's median next purchase (year 8363) overflowed a timestamp."""
    from types import SimpleNamespace

    model = SimpleNamespace(params={"r": 0.01, "alpha": 2.0, "a": 1.0, "b": 1.0})
    table = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [2.0, 0.0], "T": [30 / 7, 212 / 7]})
    values = churn.CustomerValues(AS_OF, 90, "ok", table.assign(p_alive=[0.9, 1.0]), bgnbd=model, unit_days=7.0)
    # b: shape r + x = 0.01, so the median is (2 + 212/7) * 7 * (2 ** 100 - 1) days away
    out = churn.next_purchase(tiny, as_of=AS_OF, values=values).set_index("customer_id")
    assert out.loc["b", "basis"] == "beyond"
    assert out.loc["b", ["expected_next", "next_low", "next_high"]].isna().all()
    # a (shape 2.01, scale (2 + 30/7) weeks = 44 days): its median is 44 * (2 ** (1 / 2.01) - 1) = 18 days away
    assert out.loc["a", "basis"] == "model" and (out.loc["a", "expected_next"] - AS_OF).days == 18
    summary = churn.next_purchase_summary(out.reset_index(), as_of=AS_OF).set_index(["window", "basis"])
    assert summary.loc[(">180", "beyond"), "customers"] == 1 and summary["customers"].sum() == 2
    # a cap of 17 days moves a past it too; 18 keeps it
    assert churn.next_purchase(tiny, as_of=AS_OF, values=values, max_days=17)["basis"].tolist() == ["beyond"] * 2
    assert churn.next_purchase(tiny, as_of=AS_OF, values=values, max_days=18)["basis"].tolist() == ["model", "beyond"]
    with pytest.raises(ValueError, match="max_days is out of range"):
        churn.next_purchase(tiny, as_of=AS_OF, values=values, max_days=0)


def test_repeat_customers_with_no_positive_spend_are_left_out_of_the_spend_model(sample):
    """CDNOW: a repeat customer whose repeat orders were $0 made Gamma-Gamma refuse, and every value was lost."""
    from crmtools import clv

    tx = sample[0].loc[sample[0]["order_datetime"] < SAMPLE_AS_OF].copy()
    days = tx.loc[tx["customer_id"].notna() & (tx["quantity"] > 0)].groupby("customer_id")["order_datetime"]
    free = days.apply(lambda d: d.dt.normalize().nunique()).pipe(lambda n: n[n >= 3]).index[:2]
    first = days.transform("min").reindex(tx.index)
    repeat_lines = tx["customer_id"].isin(free) & (tx["order_datetime"].dt.normalize() > first.dt.normalize())
    tx.loc[repeat_lines, "amount"] = 0.0  # free repeat orders: a mean repeat value of 0 (purchases are never < 0)
    values = churn.customer_values(tx, as_of=SAMPLE_AS_OF)
    assert values.status == "ok" and values.non_positive_spenders == 2 and values.gamma_gamma is not None
    table = values.table.set_index("customer_id")
    assert table.loc[list(free), ["expected_spend", "clv"]].isna().all().all()
    assert table.drop(index=list(free))["clv"].notna().all()
    # the spend model is the one fitted on the positive spenders only (crmtools.clv's contract unchanged)
    summary = table[["frequency", "recency", "T", "monetary_value"]]
    with pytest.raises(ValueError, match="not positive"):
        clv.fit_gamma_gamma(summary)
    spenders = churn.spend_model_rows(summary)
    assert int(((summary["frequency"] > 0) & ~spenders).sum()) == 2
    direct = clv.fit_gamma_gamma(summary.loc[spenders])
    assert direct.params == pytest.approx(values.gamma_gamma.params, rel=1e-12)


def test_value_tables_by_hand(tiny):
    values = churn.CustomerValues(
        AS_OF,
        90,
        "ok",
        pd.DataFrame({"customer_id": ["a", "b"], "clv": [300.0, 100.0], "p_alive": [0.9, 0.2]}),
    )
    risk = churn.ChurnRisk(
        AS_OF,
        AS_OF,
        AS_OF,
        90,
        "ok",
        "recency",
        pd.DataFrame(),
        pd.DataFrame(),
        pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.1, 0.8], "high_risk": [False, True]}),
    )
    segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["Champions", "At Risk"]})
    table = churn.risk_by_segment(values, risk, segments)
    assert table[["segment", "high_risk_customers", "value_at_risk"]].values.tolist() == [
        ["At Risk", 1, 100.0],
        ["Champions", 0, 0.0],
    ]
    by = churn.value_by(values, segments, by="segment", risk=risk).set_index("segment")
    assert by.loc["Champions", "value_share"] == 0.75 and by.loc["At Risk", "value_at_risk"] == 100.0
    cac = churn.ltv_cac(values, tiny, customers=None, campaigns=None)
    assert set(cac["cac_status"]) == {"no_campaigns"} and cac["ltv_cac"].isna().all()
    campaigns = pd.DataFrame(
        {"campaign_id": ["CMP-1", "ADS"], "cost": [10.0, 50.0], "end_date": pd.to_datetime(["2025-06-20"] * 2)}
    )
    cac = churn.ltv_cac(values, tiny, customers=None, campaigns=campaigns)
    assert set(cac["cac_status"]) == {"no_attribution"}  # CMP-1 drove a's second order, not the first
    first = tiny.assign(campaign_id=tiny["campaign_id"].where(tiny["order_id"] != "1", "ADS"))
    cac = churn.ltv_cac(values, first, customers=None, campaigns=campaigns).set_index("acquisition_channel")
    assert cac.loc["web", ["acquired", "cac", "ltv", "ltv_cac"]].tolist() == [1, 50.0, 300.0, 6.0]
    assert cac.loc["phone", "cac_status"] == "none_acquired"
    contacts = pd.DataFrame({"campaign_id": ["ADS", "CMP-1"], "customer_id": "a"})  # contact lists: retention
    cac = churn.ltv_cac(values, first, customers=None, campaigns=campaigns, contacts=contacts)
    assert set(cac["cac_status"]) == {"no_acquisition_campaigns"}
    late = campaigns.assign(end_date=pd.Timestamp("2025-08-01"))  # not ended at the cutoff
    assert set(churn.ltv_cac(values, first, customers=None, campaigns=late)["cac_status"]) == {
        "no_acquisition_campaigns"
    }


def test_export_scores_never_writes_into_reports(tmp_path):
    values = churn.CustomerValues(
        AS_OF,
        90,
        "ok",
        pd.DataFrame(
            {"customer_id": ["a"], "p_alive": [0.5], "expected_purchases": [1.0], "expected_spend": [9.0], "clv": [1.0]}
        ),
    )
    (tmp_path / "reports").mkdir()
    with pytest.raises(ValueError, match="reports folder"):
        churn.export_scores(values, path=tmp_path / "reports" / "scores.parquet")
    written = churn.export_scores(values, path=tmp_path / "scores.csv")
    assert pd.read_csv(written)["customer_id"].tolist() == ["a"]


def test_sample_values_and_ltv_cac(risk, sample):
    values, result = risk
    tx, customers, _, campaigns = sample
    assert values.status == "ok" and values.table["p_alive"].between(0, 1).all()
    assert (values.table["clv"] >= 0).all()
    summary = churn.value_summary(values, result)
    assert 0 < summary.value_at_risk < summary.active_value
    deciles = churn.value_deciles(values)
    assert deciles["value_share"].sum() == pytest.approx(1.0) and deciles["decile"].tolist() == list(range(1, 11))
    cac = churn.ltv_cac(values, tx, customers=customers, campaigns=campaigns, contacts=sample[2])
    ok = cac["cac_status"] == "ok"
    assert (cac.loc[ok, "ltv_cac"] == cac.loc[ok, "ltv"] / cac.loc[ok, "cac"]).all()
    assert cac.loc[~ok, "ltv_cac"].isna().all()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"churn": {"horizon_days": 3}}, "churn.horizon_days"),
        ({"clv": {"months": 0}}, "clv.months"),
        ({"clv": {"monthly_discount": 0.9}}, "clv.monthly_discount"),
        ({"clv": {"time_unit": "M"}}, "clv.time_unit"),
    ],
)
def test_params_domains(override, match):
    assert resolve_params({})["churn"]["horizon_days"] == 90
    with pytest.raises(ParameterError, match=match):
        resolve_params(override)


@pytest.mark.slow
def test_value_page_renders_in_english_and_japanese_without_customer_ids(small_sample_dir, tmp_path):
    import re
    import shutil
    from pathlib import Path

    from crmtools.reporting import i18n
    from crmtools.runner import run_period

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text(f"data:\n  path: {small_sample_dir}\n", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "notebooks" / "07_clv.ipynb", tmp_path / "notebooks")
    ids = set(pd.read_parquet(small_sample_dir / "transactions.parquet")["customer_id"].dropna())
    for language in ("en", "ja"):
        result = run_period(None, project_dir=tmp_path, overrides=[f"language={language}"], jobs=1)
        assert result.status == "published", result.message
        page = (result.report_dir / "07_clv.html").read_text(encoding="utf-8")
        text = re.sub(r'src="data:[^"]*"', "", page)
        for key in ("clv_title", "clv.holdout_title", "clv.ltv_cac_title", "clv.risk_title", "clv.validation_title"):
            assert i18n.text(key, language) in text, (language, key)
        assert i18n.text("churn_method.model", language) in text  # the backtest ran on the sample
        assert "Traceback" not in text and "<script" not in text.lower()
        assert not [cid for cid in ids if cid in text], language
        assert result.notebooks[0].images >= 5


def test_the_active_base_is_a_purchase_in_the_365_days_before_the_cutoff():
    # The calibration ends the day before the cutoff: a last purchase 364 days before that day is 365 days before
    # the cutoff (in the active base, as in the churn features, the ladder and RFM); one day earlier is not.
    values = churn.CustomerValues(
        pd.Timestamp("2026-01-01"),
        90,
        "ok",
        pd.DataFrame(
            {
                "customer_id": ["in", "out"],
                "clv": [10.0, 20.0],
                "p_alive": [0.5, 0.5],
                "recency": [0.0, 0.0],
                "T": [364 / 7, 365 / 7],
            }
        ),
    )
    summary = churn.value_summary(values, None, active_days=365)
    assert (summary.active_customers, summary.active_value) == (1, 10.0)


# --- orders and first orders built once for every cutoff ------------------------------------------------------------

_LINE_TIMES = pd.to_datetime(["2025-01-01 09:00", "2025-01-01 09:00", "2025-01-02 10:00", "2025-01-03 11:00"])


@st.composite
def _split_orders(draw):
    """Lines of a few orders whose lines may have different times (an order across a cutoff) or none."""
    n = draw(st.integers(1, 14))
    times = draw(st.lists(st.sampled_from([*range(len(_LINE_TIMES)), None]), min_size=n, max_size=n))
    stamps = pd.Series([pd.NaT if t is None else _LINE_TIMES[t] for t in times], dtype="datetime64[us]")
    return pd.DataFrame(
        {
            "order_id": draw(st.lists(st.sampled_from(["o1", "o2", "o3", "o4"]), min_size=n, max_size=n)),
            "customer_id": draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
            "order_datetime": stamps,
            "quantity": draw(st.lists(st.sampled_from([1, 2, -1]), min_size=n, max_size=n)),
            "amount": draw(st.lists(st.sampled_from([0.1, 0.2, 5.0, 7.5]), min_size=n, max_size=n)),
            "channel": draw(st.lists(st.sampled_from(["web", "app", None]), min_size=n, max_size=n)),
            "category": draw(st.lists(st.sampled_from(["Food", "Home", None]), min_size=n, max_size=n)),
            "campaign_id": draw(st.lists(st.sampled_from(["c1", "c2", None]), min_size=n, max_size=n)),
        }
    ).astype({"channel": "str", "category": "str", "campaign_id": "str"})


def _orders_by_definition(lines: churn._Lines, end) -> pd.DataFrame:
    """The group-by of the purchase lines before ``end``: what :meth:`churn._Lines.orders` must equal."""
    ends = [t for t in (end, lines.until) if t is not None]
    kept = lines.lines.loc[lines.lines["order_datetime"] < min(ends)] if ends else lines.lines
    return lines._build(kept).drop(columns=["_key", "_last", "_timed"])


@settings(max_examples=150, deadline=None)
@given(tx=_split_orders(), until=st.sampled_from([None, 1, 2, 3]), end=st.sampled_from([None, 0, 1, 2, 3]))
def test_orders_at_any_cutoff_equal_the_group_by_of_the_lines_before_it(tx, until, end):
    cut = [pd.Timestamp("2025-01-01 09:00"), *(_LINE_TIMES[1:] + pd.Timedelta(minutes=1))]
    lines = churn._Lines(tx)
    if until is not None:
        lines = lines.before(cut[until])
    at = None if end is None else cut[end]
    expected = _orders_by_definition(lines, at)
    for _ in range(2):  # the second time from the orders built once
        pd.testing.assert_frame_equal(lines.orders(at), expected, check_exact=True)
        # without the text ids: the same orders, the same columns but those two, whatever was built before
        pd.testing.assert_frame_equal(
            lines.orders(at, ids=False), expected.drop(columns=["customer_id", "order_id"]), check_exact=True
        )


@settings(max_examples=100, deadline=None)
@given(tx=_split_orders(), until=st.sampled_from([1, 2, 3]), end=st.sampled_from([0, 1, 2, 3]))
def test_first_order_attributes_found_once_equal_those_found_at_each_cutoff(tx, until, end):
    cut = [pd.Timestamp("2025-01-01 09:00"), *(_LINE_TIMES[1:] + pd.Timedelta(minutes=1))]
    customers = pd.DataFrame({"customer_id": ["a", "b"], "acquisition_channel": ["tv", None]}).astype("str")
    lines = churn._Lines(tx).before(cut[until])
    at = min(cut[end], cut[until])
    expected = churn._first_order_attributes(churn._Lines(tx), at, customers)  # no bound: found at the cutoff
    for _ in range(2):
        pd.testing.assert_frame_equal(churn._first_order_attributes(lines, at, customers), expected)


@settings(max_examples=60, deadline=None)
@given(
    tx=_split_orders(),
    instants=st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.sampled_from([0, 1, 2, 3])), min_size=2, max_size=3),
)
def test_first_orders_found_at_one_instant_serve_any_earlier_cutoff(tx, instants):
    """The summary's previous period after the value page's current one: the lines (shared, crmtools.engine.derived)
    bounded at several instants in any order, each cutoff's first-order attributes equal those found at the cutoff;
    first purchases are searched for again only when no earlier search reached the cutoff."""
    cut = [pd.Timestamp("2025-01-01 09:00"), *(_LINE_TIMES[1:] + pd.Timedelta(minutes=1))]
    customers = pd.DataFrame({"customer_id": ["a", "b"], "acquisition_channel": ["tv", None]}).astype("str")
    engine.keep(customers)
    lines, found, searched = churn._Lines(tx), [], []
    with pytest.MonkeyPatch.context() as patch:
        original = churn._first_orders
        patch.setattr(churn, "_first_orders", lambda *a: found.append(a[1]) or original(*a))
        for until, end in instants:
            at, before = min(cut[end], cut[until]), len(found)
            page = customers.copy(deep=False)  # each page's copy of the kernel's kept table
            got = churn._first_order_attributes(lines.before(cut[until]), at, page)
            pd.testing.assert_frame_equal(got, churn._first_order_attributes(churn._Lines(tx), at, customers))
            if any(instant >= at for instant in searched):  # served by an earlier search
                assert cut[until] not in found[before:] or cut[until] == at
            else:  # searched once, at the bound of the lines
                assert cut[until] in found[before:]
                searched.append(cut[until])


def test_the_model_is_fitted_on_a_bounded_seeded_sample_and_every_customer_is_scored(risk, sample, monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    tx, customers, contacts, _ = sample
    values, full = risk
    options = dict(as_of=SAMPLE_AS_OF, customers=customers, contacts=contacts, values=values)
    train_customers = int(full.metrics["train_customers"].iloc[0])
    same = churn.churn_risk(tx, **options, max_train_customers=train_customers)  # the bound not reached
    pd.testing.assert_frame_equal(same.scores, full.scores)
    pd.testing.assert_frame_equal(same.metrics, full.metrics)
    fitted = []
    real_fit = HistGradientBoostingClassifier.fit

    def spy(self, X, y, *args, **kwargs):
        fitted.append(len(X))
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", spy)
    bounded = churn.churn_risk(tx, **options, max_train_customers=500)
    again = churn.churn_risk(tx, **options, max_train_customers=500)
    assert train_customers > 500 and fitted == [500, 500, 500, 500]  # the backtest's fit and the final one, twice
    pd.testing.assert_frame_equal(bounded.scores, again.scores)  # the sample is seeded
    assert bounded.status == "ok" and len(bounded.scores) == len(full.scores)  # every customer is still scored
    assert bounded.metrics["train_customers"].tolist() == full.metrics["train_customers"].tolist()
    model = [r.metrics.set_index("method").loc["model", "brier"] for r in (bounded, full)]
    assert model[0] != model[1]  # a model fitted on 500 customers is another model
    with pytest.raises(ValueError, match="max_train_customers is out of range"):
        churn.churn_risk(tx, **options, max_train_customers=10)


def test_scores_predicted_in_blocks_of_rows_are_the_classifier_s_own(risk, sample, monkeypatch):
    """Churn probabilities are predicted a block of rows at a time (the matrix stays in the cache across the
    trees): each row gets exactly the probability ``predict_proba`` gives it over the whole matrix."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    tx, customers, contacts, _ = sample
    values, full = risk
    assert len(full.scores) > 1_000  # several blocks below
    calls = []
    real = HistGradientBoostingClassifier.predict_proba

    def spy(self, X):
        calls.append(len(X))
        return real(self, X)

    monkeypatch.setattr(HistGradientBoostingClassifier, "predict_proba", spy)
    monkeypatch.setattr(churn, "_PREDICT_ROWS", 333)
    blocks = churn.churn_risk(tx, as_of=SAMPLE_AS_OF, customers=customers, contacts=contacts, values=values)
    assert max(calls) == 333 and len(calls) >= 3  # predicted in blocks
    pd.testing.assert_frame_equal(blocks.scores, full.scores, check_exact=True)
    pd.testing.assert_frame_equal(blocks.metrics, full.metrics, check_exact=True)
    pd.testing.assert_frame_equal(blocks.calibration, full.calibration, check_exact=True)


def _gap_stats_by_pandas(orders: pd.DataFrame) -> pd.DataFrame:
    """The gap statistics as first written: distinct days by a frame's drop_duplicates and sort, pandas group-bys."""
    days = orders[["_customer", "day"]].drop_duplicates().sort_values(["_customer", "day"])
    gaps = days.groupby("_customer", sort=True)["day"].diff().dt.days.dropna()
    grouped = gaps.groupby(days.loc[gaps.index, "_customer"], sort=True)
    stats = pd.DataFrame(
        {
            "mean_interval_days": grouped.mean(),
            "_std": grouped.std(ddof=0),
            "_gaps": grouped.size(),
            "median_gap": grouped.median(),
            "gap_low": grouped.quantile(0.1),
            "gap_high": grouped.quantile(0.9),
        }
    )
    stats["interval_cv"] = (stats["_std"] / stats["mean_interval_days"]).where(stats["_gaps"] >= 2)
    return stats.drop(columns="_std")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.one_of(st.none(), st.integers(0, 400)), st.integers(0, 23)),
        min_size=0,
        max_size=60,
    )
)
def test_gap_statistics_equal_the_pandas_computation(rows):
    """Purchase-day gaps found with NumPy (distinct (customer, day) pairs as integers) give exactly the statistics
    of the frame-based computation: repeated days, several orders a day, days without a time, one-day customers."""
    day = [pd.NaT if d is None else pd.Timestamp("2024-01-01") + pd.Timedelta(days=d) for _, d, _ in rows]
    orders = pd.DataFrame({"_customer": [c for c, _, _ in rows], "day": pd.to_datetime(pd.Series(day, dtype=object))})
    orders["day"] = orders["day"].astype("datetime64[us]")
    expected = _gap_stats_by_pandas(orders)
    found = churn._gap_stats(orders)
    assert found.index.tolist() == expected.index.tolist()
    for column in expected.columns:
        np.testing.assert_array_equal(found[column].to_numpy(float), expected[column].to_numpy(float))
    narrow = churn._gap_stats(orders, spread=False)
    assert list(narrow.columns) == ["mean_interval_days", "_gaps", "interval_cv"]
    pd.testing.assert_frame_equal(narrow, found[narrow.columns])
    # the distinct days found once serve the gaps and the purchase days (days without a time not counted)
    days = churn._distinct_days(orders)
    pd.testing.assert_frame_equal(churn._gap_stats(orders, days=days), found)
    customers = orders.groupby("_customer", sort=True)["day"].nunique()
    counted = churn._purchase_days(orders, customers.index, days)
    assert counted.dtype == np.int64 and counted.tolist() == customers.tolist()


def test_first_order_attributes_without_order_ids_are_found_at_the_cutoff():
    # purchase lines without an order id make no order, but first_purchases still sees them: no shortcut, no crash
    tx = pd.DataFrame(
        {
            "order_id": pd.Series([None, None, "o3"], dtype="str"),
            "customer_id": ["a", "b", "b"],
            "quantity": 1,
            "amount": 5.0,
            "order_datetime": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-20"]),
            "channel": ["web", "app", "tel"],
        }
    )
    for cutoff in pd.to_datetime(["2025-01-15", "2025-02-01"]):
        expected = churn._first_order_attributes(tx, cutoff, None)
        bounded = churn._Lines(tx).before(pd.Timestamp("2025-02-01"))
        pd.testing.assert_frame_equal(churn._first_order_attributes(bounded, cutoff, None), expected)


def test_the_lines_remembered_for_a_frame_follow_its_changes(tiny):
    """One page hands the same transactions to several analyses, which then share one build of the purchase lines
    (crmtools.engine.derived); an analyst who changes the frame between two calls gets results from its new content,
    exactly as from a fresh frame."""
    tx = tiny.copy()
    first = churn.customer_groups(tx, as_of=AS_OF)
    assert churn._lines(tx) is churn._lines(tx), "built once per frame"
    assert first.set_index("customer_id")["acquisition_channel"].to_dict() == {"a": "web", "b": "phone"}
    tx.loc[tx["order_id"] == "4", ["channel", "order_datetime"]] = ["mail", pd.Timestamp("2025-02-01 08:00")]
    changed = churn.customer_groups(tx, as_of=AS_OF)
    pd.testing.assert_frame_equal(changed, churn.customer_groups(tx.copy(), as_of=AS_OF))
    assert changed.set_index("customer_id").loc["b"].to_dict() == {"acquisition_channel": "mail", "cohort": "2025-Q1"}
    orders_before = len(churn._orders(tx, AS_OF))
    tx.loc[tx["order_id"] == "3", "order_datetime"] = pd.Timestamp("2025-08-01")  # now after the cutoff
    assert len(churn._orders(tx, AS_OF)) == orders_before - 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4), st.integers(0, 6), st.sampled_from([None, "2025-01-01", "2025-01-02", "2025-03-01"])
        ),
        max_size=25,
        unique_by=lambda row: (row[0], row[1]),
    ),
    st.booleans(),
)
def test_each_customers_first_order_is_found_as_the_sort_finds_it(rows, shuffled):
    """LTV/CAC reads each customer's first order (its campaign) from the orders as the lines give them, sorted on
    the ids' numbers, without sorting them again: the rows found are those of the sort by customer, time (missing
    last) and order id, first row kept, with ties in time and missing times; orders in another order are sorted."""
    orders = pd.DataFrame(rows, columns=["_customer", "_order", "order_datetime"]).astype({"_customer": "int64"})
    orders = orders.astype({"_order": "int64"}).assign(order_datetime=pd.to_datetime(orders["order_datetime"]))
    orders = orders.sort_values(["_customer", "_order"]).reset_index(drop=True)
    if shuffled:
        orders = orders.sample(frac=1.0, random_state=len(rows)).reset_index(drop=True)
    ranked = orders.sort_values(["_customer", "order_datetime", "_order"])
    expected = ranked.drop_duplicates("_customer")
    found = orders.iloc[churn._first_orders_of(orders)]
    pd.testing.assert_frame_equal(found, expected)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from(["web", "tv", "mail", "", "nan", "日本"])), max_size=20),
    categories=st.lists(st.sampled_from(["web", "tv", "mail", "", "日本"]), unique=True, max_size=4),
    text=st.booleans(),
)
def test_category_codes_are_the_categoricals_codes(values, categories, text):
    """The churn model's categorical features are coded as ``pd.Categorical(values, categories).codes`` (-1 for a
    missing value or one the training cutoff did not have), whether the text is Arrow-backed (looked up by Arrow's
    hash) or not."""
    import warnings

    series = pd.Series(values, dtype="str" if text else object)
    with warnings.catch_warnings():  # values outside the categories: deprecated in a Categorical, -1 until then
        warnings.simplefilter("ignore")
        expected = pd.Categorical(series, categories=sorted(categories)).codes
    found = churn._category_codes(series, sorted(categories))
    assert found.dtype.kind == "i"
    np.testing.assert_array_equal(found, expected)
