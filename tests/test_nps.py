"""NPS (crmtools.nps): hand-computed scores and intervals, a bootstrap and a reference, breakdowns, behaviour."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools import nps
from crmtools.sampledata import SampleConfig, generate_sample


def _surveys(scores, when="2025-10-05", customers=None, **extra) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "customer_id": customers or [f"c{i:03d}" for i in range(n)],
            "responded_at": pd.to_datetime([when] * n if isinstance(when, str) else when),
            "score": scores,
            **extra,
        }
    )


# --------------------------------------------------------------------------- the score and its interval


def test_nps_by_hand():
    # 50 promoters, 30 passives, 20 detractors: NPS 30; Var = (0.5 + 0.2 - 0.3^2) / 100 = 0.0061.
    r = nps.nps_score([10] * 50 + [8] * 30 + [2] * 20)
    assert (r.responses, r.promoters, r.passives, r.detractors) == (100, 50, 30, 20)
    assert r.nps == pytest.approx(30.0)
    assert r.standard_error == pytest.approx(100 * math.sqrt(0.0061))
    assert r.ci_low == pytest.approx(30 - 1.959964 * 7.8102497, abs=1e-4)
    assert r.ci_high == pytest.approx(30 + 1.959964 * 7.8102497, abs=1e-4)


def test_group_boundaries():
    assert nps.nps_group(range(11)).tolist() == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert nps.nps_group(pd.Series([9, None])).isna().tolist() == [False, True]


@pytest.mark.parametrize("bad", [[11], [-1], [7.5]])
def test_scores_outside_0_to_10_are_refused(bad):
    with pytest.raises(ValueError, match="whole numbers from 0 to 10"):
        nps.nps_score(bad)


def test_no_answers_give_nan():
    r = nps.nps_score([])
    assert r.responses == 0 and math.isnan(r.nps) and math.isnan(r.ci_low)


def test_all_promoters_interval_is_clipped():
    r = nps.nps_score([10] * 20)
    assert r.nps == 100 and r.ci_high == 100 and r.standard_error == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=300))
def test_score_matches_a_reference_and_stays_in_range(scores):
    r = nps.nps_score(scores)
    x = np.array([1 if s >= 9 else (-1 if s <= 6 else 0) for s in scores], dtype=float)
    assert r.nps == pytest.approx(100 * x.mean())
    # the multinomial variance is the population variance of the +1 / 0 / -1 score per answer
    assert r.standard_error == pytest.approx(100 * x.std() / math.sqrt(len(x)), abs=1e-9)
    assert -100 <= r.ci_low <= r.nps <= r.ci_high <= 100


def test_interval_agrees_with_a_bootstrap():
    rng = np.random.default_rng(3)
    scores = rng.choice([10, 8, 3], size=400, p=[0.45, 0.3, 0.25])
    r = nps.nps_score(scores)
    values = np.where(scores >= 9, 1.0, np.where(scores <= 6, -1.0, 0.0))
    boots = 100 * rng.choice(values, size=(4000, values.size)).mean(axis=1)
    assert r.standard_error == pytest.approx(boots.std(), rel=0.06)
    low, high = np.percentile(boots, [2.5, 97.5])
    assert r.ci_low == pytest.approx(low, abs=1.5) and r.ci_high == pytest.approx(high, abs=1.5)


# --------------------------------------------------------------------------- tables


def test_table_by_channel_and_by_customer_attribute():
    s = _surveys([10, 9, 3, 8, 6], channel=["app", "web", "app", "web", "web"])
    before = s.copy()
    by_channel = nps.nps_table(s, period="2025-10", by="channel").set_index("channel")
    assert by_channel.loc["app", "nps"] == 0.0  # one promoter, one detractor
    assert by_channel.loc["web", "nps"] == pytest.approx(0.0)  # 9, 8, 6
    assert by_channel.loc["web", "responses"] == 3
    groups = pd.DataFrame({"customer_id": ["c000", "c001", "c002"], "segment": ["A", "A", "B"]})
    by_segment = nps.nps_table(s, period="2025-10", by="segment", groups=groups).set_index("segment")
    assert by_segment["responses"].to_dict() == {"A": 2, "B": 1}  # answers of customers not in groups left out
    assert by_segment.loc["A", "nps"] == 100.0 and by_segment.loc["B", "nps"] == -100.0
    pd.testing.assert_frame_equal(s, before)


def test_table_counts_only_the_period():
    s = _surveys([10, 0], when=["2025-10-31 23:59", "2025-11-01 00:00"])
    overall = nps.nps_table(s, period="2025-10")
    assert overall["group"].tolist() == ["all"] and overall["responses"].tolist() == [1]
    empty = nps.nps_table(s, period="2025-08")
    assert empty.empty and list(empty.columns) == ["group", *nps.NPS_COLUMNS]


def test_trend_is_monthly_and_oldest_first():
    s = _surveys([10, 2, 9, 9], when=["2025-07-03", "2025-09-03", "2025-10-03", "2025-10-09"])
    t = nps.nps_trend(s, period="2025-10", months=3)
    assert t["month"].tolist() == ["2025-09", "2025-10"] and t["nps"].tolist() == [-100.0, 100.0]


def test_latest_scores_take_the_last_answer_before_as_of():
    s = _surveys([2, 10, 8], when=["2025-09-01", "2025-10-01", "2025-11-01"], customers=["a", "a", "a"])
    assert nps.latest_scores(s, as_of="2025-11-01")["score"].tolist() == [10]
    assert nps.latest_scores(s, as_of="2025-10-01")["nps_group"].tolist() == ["detractor"]
    assert nps.latest_scores(s, as_of="2025-11-01", lookback_days=10).empty


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="score"):
        nps.nps_table(
            pd.DataFrame({"customer_id": ["a"], "responded_at": [pd.Timestamp("2025-10-01")]}), period="2025-10"
        )


# --------------------------------------------------------------------------- behaviour after answering


def test_behaviour_by_hand():
    s = _surveys([10, 9, 8, 2, 3], when="2025-06-01", customers=list("abcde"))
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d", "e"],
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "order_datetime": pd.to_datetime(
                ["2025-06-10", "2025-08-29", "2025-09-15", "2025-07-01", "2025-05-01", "2025-06-02"]
            ),
            "quantity": [1, 1, 1, 1, 1, -1],
            "amount": [100.0, 50.0, 999.0, 70.0, 500.0, -30.0],
        }
    )
    b = nps.nps_behaviour(s, tx, as_of="2025-11-01", window_days=90)
    t = b.table.set_index("nps_group")
    # a: two orders in the window; b: ordered on day 106, outside; c: one order; d: before answering; e: a return
    assert t.loc["promoter", "customers"] == 2 and t.loc["promoter", "repeat_rate"] == 0.5
    assert t.loc["promoter", "revenue"] == 150.0
    assert t.loc["passive", "repeat_rate"] == 1.0 and t.loc["passive", "revenue_per_customer"] == 70.0
    assert t.loc["detractor", "repeat_rate"] == 0.0 and t.loc["detractor", "revenue"] == -30.0
    assert not b.ordered


def test_behaviour_counts_only_answers_with_a_whole_window():
    s = _surveys([10, 2], when=["2025-06-01", "2025-10-01"], customers=["a", "b"])
    tx = pd.DataFrame(
        {
            "customer_id": ["a"],
            "order_id": ["o"],
            "order_datetime": pd.to_datetime(["2025-06-05"]),
            "quantity": [1],
            "amount": [1.0],
        }
    )
    b = nps.nps_behaviour(s, tx, as_of="2025-11-01")
    assert b.table["nps_group"].tolist() == ["promoter"] and math.isnan(b.chi2_pvalue)


@pytest.fixture(scope="module")
def sample():
    return generate_sample(SampleConfig(customers=8000, months=18, seed=7))


def test_planted_nps_is_measured_exactly(sample):
    tables, truths = sample
    assert nps.nps_score(tables["surveys"]["score"]).nps == pytest.approx(truths["nps"]["nps_all_responses"])
    assert truths["nps"]["responses"] == len(tables["surveys"])


def test_planted_link_between_nps_and_behaviour_is_recovered(sample):
    tables, _ = sample
    end = pd.Timestamp(tables["transactions"]["order_datetime"].max()).normalize() + pd.Timedelta(days=1)
    b = nps.nps_behaviour(tables["surveys"], tables["transactions"], as_of=end)
    assert b.table["nps_group"].tolist() == list(nps.NPS_GROUPS)
    assert b.ordered  # promoters repeat most, detractors least
    rev = b.table.set_index("nps_group")["revenue_per_customer"]
    assert rev["promoter"] > rev["passive"] > rev["detractor"]
    assert b.chi2_pvalue < 1e-6 and b.kruskal_pvalue < 1e-6


# --------------------------------------------------------------------------- charts


@pytest.mark.parametrize("language", ["en", "ja"])
def test_charts_draw_on_the_given_axes_and_tolerate_empty_tables(language):
    from matplotlib.figure import Figure

    from crmtools.plotting import nps as plots
    from crmtools.reporting.i18n import TEXT

    assert all(key in TEXT for key in plots._KEYS.values())
    s = _surveys([10, 2, 9, 8], when=["2025-09-03", "2025-10-03", "2025-10-09", "2025-10-10"], channel=["a", "b"] * 2)
    trend = nps.nps_trend(s, period="2025-10", months=3)
    for draw, table in (
        (plots.plot_nps_trend, trend),
        (
            lambda t, **kw: plots.plot_nps_breakdown(t, "channel", **kw),
            nps.nps_table(s, period="2025-10", by="channel"),
        ),
        (
            plots.plot_nps_behaviour,
            nps.nps_behaviour(
                s,
                pd.DataFrame(columns=["customer_id", "order_id", "order_datetime", "quantity", "amount"]),
                as_of="2026-03-01",
            ).table,
        ),
    ):
        ax = Figure().subplots()
        assert draw(table, language=language, ax=ax) is ax
        ax = Figure().subplots()
        assert draw(table.iloc[:0], language=language, ax=ax) is ax and ax.texts  # a note, never an error


# --------------------------------------------------------------------------- NPS by growth stage is partly circular


def test_a_stage_defined_by_the_answer_gets_the_circularity_note_on_its_nps_breakdown():
    """⑤ Fan is defined by a promoter answer: every promoter stands on ⑤ or higher, none below, so NPS by stage
    is high there and low below by definition. The chart says so, in the page's language."""
    from matplotlib.figure import Figure

    from crmtools import ladder
    from crmtools.plotting.nps import plot_nps_breakdown
    from crmtools.reporting import i18n

    # hand-checkable: the promoter (a) is a fan whatever they bought; b and c are not, whatever they answered
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "c"],
            "order_id": ["o1", "o2", "o3", "o4"],
            "order_datetime": pd.to_datetime(["2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05"]),
            "quantity": 1,
            "amount": 100.0,
        }
    )
    s = _surveys([10, 8, 3], when=["2025-10-06"] * 3, customers=["a", "b", "c"])
    stages = ladder.customer_stages(tx, as_of="2025-11-01", surveys=s)
    assert dict(zip(stages.table["customer_id"], stages.table["rung"])) == {
        "a": "fan",
        "b": "enthusiastic",  # two orders and a top-20% spender
        "c": "purchaser",
    }
    table = nps.nps_table(s, period="2025-10", by="stage", groups=stages.table[["customer_id", "stage"]])
    assert table.set_index("stage")["nps"].to_dict() == {1: -100.0, 3: 0.0, 5: 100.0}  # by definition
    for language in ("en", "ja"):
        note = i18n.nps_stage_note(language=language)
        assert i18n.stage_labels(language=language)["fan"] in note
        ax = plot_nps_breakdown(table, "stage", language=language, ax=Figure().subplots())
        assert "".join(note.split()) in ["".join(t.get_text().split()) for t in ax.texts]  # wrapped
        ax.figure.canvas.draw()
        renderer = ax.figure.canvas.get_renderer()
        drawn = [t for t in ax.texts if t.get_text()][-1].get_window_extent(renderer)
        assert drawn.y1 <= ax.xaxis.label.get_window_extent(renderer).y0  # under the axis label, not on it
    # a breakdown by anything else, or a ladder without a survey rung: no note
    assert not plot_nps_breakdown(table.rename(columns={"stage": "channel"}), "channel", ax=Figure().subplots()).texts
    plain = {
        "rungs": [
            {"name": "buyer", "when": [{"orders": {"min": 1}}]},
            {"name": "vip", "when": [{"orders": {"min": 2}}]},
        ]
    }
    assert i18n.nps_stage_note(plain) == ""
    assert not plot_nps_breakdown(table, "stage", ladder=plain, ax=Figure().subplots()).texts


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "B", "日本", None]), st.integers(0, 6), st.integers(0, 10)), max_size=25
    ),
    st.integers(1, 7),
    st.one_of(st.none(), st.integers(1, 4)),
)
def test_latest_scores_take_each_customers_last_answer_before_as_of(rows, as_of_day, lookback):
    """Each customer's latest answer (of two at the same time, the later row), in id order, as sorting by customer
    and time and keeping each customer's last row says; answers from as_of on, outside the lookback or without a
    customer do not count."""
    surveys = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, _, _ in rows], dtype="str"),
            "responded_at": pd.to_datetime([f"2025-01-0{1 + d}" for _, d, _ in rows]).astype("datetime64[ns]"),
            "score": pd.array([s for _, _, s in rows], dtype="Int64"),
        }
    )
    as_of = pd.Timestamp("2025-01-01") + pd.Timedelta(days=as_of_day)
    found = nps.latest_scores(surveys, as_of=as_of, lookback_days=lookback)
    keep = surveys["customer_id"].notna() & (surveys["responded_at"] < as_of)
    if lookback is not None:
        keep &= surveys["responded_at"] >= as_of - pd.Timedelta(days=lookback)
    ordered = surveys.loc[keep].sort_values(["customer_id", "responded_at"], kind="mergesort")
    expected = ordered.groupby("customer_id", sort=True).tail(1).reset_index(drop=True)
    assert found["customer_id"].tolist() == expected["customer_id"].tolist()
    assert found["responded_at"].tolist() == expected["responded_at"].tolist()
    assert found["score"].tolist() == expected["score"].astype("int64").tolist()


def test_latest_scores_of_answers_dated_beyond_what_nanoseconds_hold():
    """Answers are ordered by their times in the column's own unit: a date past 2262 (seconds) is not refused."""
    surveys = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "b"], dtype="str"),
            "score": pd.array([3, 9, 8], dtype="Int64"),
            "responded_at": pd.Series(pd.to_datetime(["2025-01-01", "2300-01-01", "2025-01-02"])).astype(
                "datetime64[s]"
            ),
        }
    )
    found = nps.latest_scores(surveys, as_of=pd.Timestamp("2400-01-01"))
    assert found["score"].tolist() == [9, 8] and found["customer_id"].tolist() == ["a", "b"]
