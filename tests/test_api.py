"""The public analysis API follows one rule for time (see crmtools.periods, "The time rule").

- ``period=``: a Period or its text ("2025-10", "2025-Q3"), meaning the whole period;
- ``as_of=``: an instant, the first moment not counted; a date, a timestamp, or a Period meaning its end;
  month or quarter text is ambiguous and rejected with a message naming both forms;
- lengths of look-back windows are whole numbers named after their unit (``months``, ``*_days``,
  ``*_months``); ``basket_freq`` names the calendar unit of a basket; ``*_col`` arguments name columns;
- all of these are keyword-only; no other argument may name a time.

The old forms keep working for one release with a FutureWarning and identical results.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings

import pandas as pd
import pytest

from crmtools import (
    actions,
    basket,
    campaigns,
    churn,
    cohorts,
    coverage,
    deciles,
    experiments,
    kpis,
    ladder,
    nps,
    privacy,
    repeat,
    rfm,
    slicing,
    targets,
)
from crmtools.periods import as_period, as_point, parse_period
from crmtools.sampledata import SampleConfig, generate_sample

#: Every module of analyses; a new one belongs here.
ANALYSIS_MODULES = [
    "rfm",
    "kpis",
    "repeat",
    "basket",
    "basket_spark",
    "campaigns",
    "cohorts",
    "deciles",
    "targets",
    "slicing",
    "experiments",
    "quality",
    "privacy",
    "clv",
    "churn",
    "ladder",
    "nps",
    "actions",
    "coverage",
]

#: Words that make an argument name about time.
_TIME_WORD = re.compile(
    r"(^|_)(start|end|begin|stop|date|dates|time|times|datetime|since|until|from|to|period|periods|"
    r"as|of|asof|freq|frequency|day|days|month|months|year|years|quarter|quarters|week|weeks|"
    r"lookback|window|horizon|when|at|after|before|observation)(_|$)"
)


def _public_functions():
    for name in ANALYSIS_MODULES:
        module = importlib.import_module(f"crmtools.{name}")
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


PUBLIC = dict(_public_functions())


#: Arguments whose names contain a time word but hold tables: the two results being compared.
DATA_ARGUMENTS = {"before", "after", "rules_before", "rules_after"}


#: crmtools.clv keeps the lifetimes convention the models are published in: the calibration and holdout windows
#: end on their last day *included* (a date, or a Period meaning its last day), recency and T are in ``time_unit``,
#: and ``horizon`` is a length in that unit (a number, positional as in ``expected_purchases(model, summary, 52)``).
MODEL_TIME_ARGUMENTS = {"calibration_end", "observation_end", "time_unit", "horizon"}


def _time_rule_violation(param: inspect.Parameter) -> str | None:
    """Why ``param`` breaks the time rule, or None."""
    name = param.name
    if name.endswith(("_col", "_cols")) or name in DATA_ARGUMENTS:
        return None  # a column name, or a table
    if name in MODEL_TIME_ARGUMENTS:
        positional_ok = name == "horizon"
        return None if positional_ok or param.kind is inspect.Parameter.KEYWORD_ONLY else f"{name} must be keyword-only"
    if not _TIME_WORD.search(name):
        return None
    keyword_only = param.kind is inspect.Parameter.KEYWORD_ONLY
    if name in ("period", "as_of", "basket_freq"):
        return None if keyword_only else f"{name} must be keyword-only"
    if name == "months" or name.endswith(("_days", "_months")):
        default = param.default
        if (
            default is not inspect.Parameter.empty
            and default is not None
            and (isinstance(default, bool) or not isinstance(default, (int, float)))
        ):
            return f"{name} is a length, so its default must be a number or None; got {default!r}"
        return None if keyword_only else f"{name} must be keyword-only"
    return (
        f"{name!r} names a time: use period= (a whole period), as_of= (an instant), or a length such as lookback_days="
    )


def test_the_walk_finds_the_api():
    assert {
        "rfm.rfm_table",
        "kpis.period_kpis",
        "kpis.monthly_trend",
        "deciles.decile_table",
        "cohorts.cohort_table",
        "repeat.f2_conversion",
        "campaigns.campaign_roi",
        "basket.frequent_itemsets",
        "basket_spark.frequent_itemsets",
        "slicing.campaigns_active",
    } <= set(PUBLIC)
    assert len(PUBLIC) > 30


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_every_public_function_follows_the_time_rule(qualname):
    signature = inspect.signature(PUBLIC[qualname])
    problems = [p for p in map(_time_rule_violation, signature.parameters.values()) if p]
    assert not problems, f"{qualname}: " + "; ".join(problems)
    for param in signature.parameters.values():  # no date defaults hiding in other names
        assert not isinstance(param.default, (pd.Timestamp, pd.Period)), f"{qualname}: {param.name} defaults to a date"


def test_the_rule_checker_catches_the_old_shapes():
    def old(
        transactions,
        period,
        *,
        as_of=None,
        start=None,
        end=None,
        months=13,
        date_col="d",
        observation_period_end=None,
        lookback="365D",
    ):
        """The four old shapes at once."""

    found = {p.name: _time_rule_violation(p) for p in inspect.signature(old).parameters.values()}
    assert found["transactions"] is None and found["date_col"] is None and found["as_of"] is None
    assert found["months"] is None
    assert "keyword-only" in found["period"]
    for name in ("start", "end", "observation_period_end", "lookback"):
        assert "names a time" in found[name], name


# --------------------------------------------------------------------------- a small data set


@pytest.fixture(scope="module")
def tables():
    tables, _ = generate_sample(SampleConfig(customers=300, months=12, seed=4))  # 2024-01 .. 2024-12
    return tables


@pytest.fixture(scope="module")
def rules(tables):
    return basket.association_rules(basket.frequent_itemsets(tables["transactions"], min_support=3), min_threshold=0.01)


#: One call per public function taking as_of=, with the sample data.
AS_OF_CALLS = {
    "slicing.transactions_before": lambda t, r, **k: slicing.transactions_before(t["transactions"], **k),
    "churn.base_value": lambda t, r, **k: repr(
        churn.base_value(t["transactions"], customers=t["customers"], **k).summary
    ),
    "churn.churn_features": lambda t, r, **k: churn.churn_features(t["transactions"], **k),
    "churn.churn_labels": lambda t, r, **k: churn.churn_labels(t["transactions"], **k),
    "churn.churn_risk": lambda t, r, **k: churn.churn_risk(t["transactions"], **k).metrics,
    "churn.customer_groups": lambda t, r, **k: churn.customer_groups(t["transactions"], **k),
    "churn.customer_values": lambda t, r, **k: churn.customer_values(t["transactions"], **k).table,
    "churn.next_purchase": lambda t, r, **k: churn.next_purchase(
        t["transactions"], values=churn.customer_values(t["transactions"], **k), **k
    ),
    "churn.next_purchase_summary": lambda t, r, **k: churn.next_purchase_summary(
        churn.next_purchase(t["transactions"], values=churn.customer_values(t["transactions"], **k), **k), **k
    ),
    "churn.value_holdout": lambda t, r, **k: repr(churn.value_holdout(t["transactions"], **k).check),
    "rfm.rfm_table": lambda t, r, **k: rfm.rfm_table(t["transactions"], **k),
    "repeat.first_purchases": lambda t, r, **k: repeat.first_purchases(t["transactions"], **k),
    "repeat.f2_conversion": lambda t, r, **k: repeat.f2_conversion(t["transactions"], within_days=30, **k),
    "repeat.f2_cohorts": lambda t, r, **k: repeat.f2_cohorts(t["transactions"], within_days=30, **k),
    "repeat.interval_distribution": lambda t, r, **k: repeat.interval_distribution(t["transactions"], **k),
    "repeat.purchase_cycles": lambda t, r, **k: repeat.purchase_cycles(t["transactions"], **k),
    "cohorts.cohort_table": lambda t, r, **k: cohorts.cohort_table(t["transactions"], **k),
    "campaigns.campaign_roi": lambda t, r, **k: campaigns.campaign_roi(
        t["campaigns"], t["campaign_contacts"], t["transactions"], **k
    ),
    "basket.customer_recommendations": lambda t, r, **k: basket.customer_recommendations(t["transactions"], r, **k),
    "experiments.experiment_status": lambda t, r, **k: experiments.experiment_status(t["experiments"], **k),
    "experiments.recommended_split": lambda t, r, **k: experiments.recommended_split(t["experiments"], **k),
    "privacy.contactable": lambda t, r, **k: privacy.contactable(
        t["customers"], pd.DataFrame({"customer_id": ["C000001"], "reason": ["opt_out"], "since": [None]}), **k
    ),
    "targets.customer_attributes": lambda t, r, **k: targets.customer_attributes(
        t["transactions"], fields=["segment", "interval_ratio"], **k
    )[0],
    "ladder.ladder_features": lambda t, r, **k: ladder.ladder_features(
        t["transactions"], customers=t["customers"], surveys=t["surveys"], **k
    ),
    "ladder.customer_stages": lambda t, r, **k: (
        ladder.customer_stages(t["transactions"], customers=t["customers"], surveys=t["surveys"], **k).table
    ),
    "nps.latest_scores": lambda t, r, **k: nps.latest_scores(t["surveys"], **k),
    "coverage.data_start": lambda t, r, **k: coverage.data_start(t["transactions"], **k),
    "coverage.first_month": lambda t, r, **k: coverage.first_month(t["transactions"], **k),
    "nps.nps_behaviour": lambda t, r, **k: nps.nps_behaviour(t["surveys"], t["transactions"], **k).table,
}

#: One call per public function taking period= (basket_spark needs Spark: its signature is checked above).
PERIOD_CALLS = {
    "kpis.period_kpis": lambda t, **k: kpis.period_kpis(t["transactions"], **k),
    "kpis.monthly_trend": lambda t, **k: kpis.monthly_trend(t["transactions"], **k),
    "deciles.decile_table": lambda t, **k: deciles.decile_table(t["transactions"], **k),
    "deciles.concentration": lambda t, **k: deciles.concentration(t["transactions"], **k),
    "deciles.pareto_curve": lambda t, **k: deciles.pareto_curve(t["transactions"], **k),
    "deciles.customer_revenue": lambda t, **k: deciles.customer_revenue(t["transactions"], **k),
    "repeat.f2_conversion": lambda t, **k: repeat.f2_conversion(t["transactions"], as_of="2025-01-01", **k),
    "campaigns.campaign_roi": lambda t, **k: campaigns.campaign_roi(
        t["campaigns"], t["campaign_contacts"], t["transactions"], **k
    ),
    "slicing.transactions_in": lambda t, **k: slicing.transactions_in(t["transactions"], **k),
    "slicing.campaigns_active": lambda t, **k: slicing.campaigns_active(t["campaigns"], **k),
    "slicing.experiments_exposed": lambda t, **k: slicing.experiments_exposed(t["experiments"], **k),
    "targets.campaign_id_for": lambda t, **k: targets.campaign_id_for("win_back", **k),
    "targets.target_lists": lambda t, **k: (
        targets.target_lists(t["transactions"], customers=t["customers"], consent_default=True, **k).members
    ),
    "nps.nps_table": lambda t, **k: nps.nps_table(t["surveys"], **k),
    "nps.nps_trend": lambda t, **k: nps.nps_trend(t["surveys"], **k),
    "ladder.stage_summary": lambda t, **k: ladder.stage_summary(
        ladder.customer_stages(t["transactions"], as_of="2024-12-01"), t["transactions"], **k
    ),
    "actions.list_expectations": lambda t, **k: actions.list_expectations(
        pd.DataFrame(
            {"list": ["a"], "theme": ["win_back"], "status": ["ok"], "customers": [1], "treatment": [1], "holdout": [0]}
        ),
        None,
        **k,
    ),
}


def _with(argument: str) -> set[str]:
    return {q for q, f in PUBLIC.items() if argument in inspect.signature(f).parameters}


def test_every_time_argument_is_exercised():
    assert _with("as_of") == set(AS_OF_CALLS)
    assert _with("period") - {"basket_spark.frequent_itemsets"} == set(PERIOD_CALLS)


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a == b


# --------------------------------------------------------------------------- as_of


@pytest.mark.parametrize("qualname", sorted(AS_OF_CALLS))
def test_ambiguous_as_of_text_is_rejected_naming_both_forms(qualname, tables, rules):
    with pytest.raises(ValueError) as info:
        AS_OF_CALLS[qualname](tables, rules, as_of="2024-10")
    message = str(info.value)
    assert "as_of='2024-10' is ambiguous" in message
    assert "as_of='2024-11-01'" in message  # a date ...
    assert "as_of=parse_period('2024-10')" in message  # ... or the Period, meaning its end
    assert "period='2024-10'" in message  # and where the whole month is meant


@pytest.mark.parametrize("qualname", sorted(AS_OF_CALLS))
def test_as_of_period_means_its_exclusive_end(qualname, tables, rules):
    call = AS_OF_CALLS[qualname]
    expected = call(tables, rules, as_of="2024-11-01")
    _same(call(tables, rules, as_of=parse_period("2024-10")), expected)
    _same(call(tables, rules, as_of=pd.Timestamp("2024-11-01")), expected)


def test_as_of_is_exclusive_and_recency_counts_to_its_date():
    # A purchase on the last day of October, with as_of = October's end (2024-11-01 00:00): counted, recency 1.
    tx = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["a", "b"],
            "order_datetime": pd.to_datetime(["2024-10-31 23:59:59", "2024-11-01 00:00:00"]),
            "quantity": 1,
            "amount": 100.0,
        }
    )
    out = rfm.rfm_table(tx, as_of=parse_period("2024-10"))
    assert out["customer_id"].tolist() == ["a"] and out["recency_days"].tolist() == [1]
    assert as_point(parse_period("2024-Q4")) == pd.Timestamp("2025-01-01")


@pytest.mark.parametrize(
    "value, error, match",
    [
        ("2024-Q4", ValueError, r"as_of='2024-Q4' is ambiguous.*as_of='2025-01-01'.*parse_period\('2024-Q4'\)"),
        ("2024", ValueError, "as_of must be a date.*names no day"),
        ("October 2024", ValueError, "as_of must be a date"),
        (None, TypeError, "as_of must be a date, a timestamp or a Period"),
        (20241101, TypeError, "as_of must be a date, a timestamp or a Period"),
        ("2024-11-01T00:00:00Z", ValueError, "timezone-naive"),
    ],
)
def test_as_point_messages(value, error, match):
    with pytest.raises(error, match=match):
        as_point(value)


@pytest.mark.parametrize(
    "value",
    [
        "2024-11-01",
        "2024/11/01",
        "20241101",
        "2024-11-01 00:00",
        pd.Timestamp("2024-11-01"),
        pd.Timestamp("2024-11-01").date(),
        pd.Timestamp("2024-11-01").to_datetime64(),
        parse_period("2024-10"),
    ],
)
def test_as_point_accepts_dates_and_periods(value):
    assert as_point(value) == pd.Timestamp("2024-11-01")


# --------------------------------------------------------------------------- period


@pytest.mark.parametrize("qualname", sorted(PERIOD_CALLS))
def test_period_text_and_period_objects_agree(qualname, tables):
    call = PERIOD_CALLS[qualname]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # campaign_roi notes campaigns started earlier
        _same(call(tables, period="2024-Q3"), call(tables, period=parse_period("2024-Q3")))


@pytest.mark.parametrize("qualname", sorted(PERIOD_CALLS))
def test_period_rejects_dates(qualname, tables):
    call = PERIOD_CALLS[qualname]
    with pytest.raises(ValueError, match=r"Malformed period '2024-10-01'.*A date names an instant"):
        call(tables, period="2024-10-01")
    with pytest.raises(TypeError, match=r"period must be a Period or its text.*names an instant"):
        call(tables, period=pd.Timestamp("2024-10-01"))


def test_as_period():
    assert as_period("2024-q3") == parse_period("2024-Q3")
    with pytest.raises(TypeError, match=r"received int 202410"):
        as_period(202410)


# --------------------------------------------------------------------------- deprecated forms


def _deprecated(call, *, match):
    with pytest.warns(FutureWarning, match=match) as record:
        out = call()
    assert all("stops working in crmtools" in str(w.message) for w in record if w.category is FutureWarning)
    return out


DEPRECATED = {
    # name: (old call, new call, what the warning says)
    "period_kpis positional": (
        lambda t: kpis.period_kpis(t["transactions"], "2024-10"),
        lambda t: kpis.period_kpis(t["transactions"], period="2024-10"),
        "passing period by position",
    ),
    "monthly_trend end": (
        lambda t: kpis.monthly_trend(t["transactions"], end="2024-11-01", months=6),
        lambda t: kpis.monthly_trend(t["transactions"], period="2024-10", months=6),
        "end= is deprecated",
    ),
    "monthly_trend end period": (
        lambda t: kpis.monthly_trend(t["transactions"], end=parse_period("2024-Q3")),
        lambda t: kpis.monthly_trend(t["transactions"], period="2024-Q3"),
        "end= is deprecated",
    ),
    "decile_table start end": (
        lambda t: deciles.decile_table(t["transactions"], start="2024-10-01", end="2024-11-01"),
        lambda t: deciles.decile_table(t["transactions"], period="2024-10"),
        "start= and end= are deprecated",
    ),
    "concentration start end": (
        lambda t: deciles.concentration(t["transactions"], start=parse_period("2024-Q3"), end=parse_period("2024-Q3")),
        lambda t: deciles.concentration(t["transactions"], period="2024-Q3"),
        "start= and end= are deprecated",
    ),
    "pareto_curve start end": (
        lambda t: deciles.pareto_curve(t["transactions"], start="2024-07-01", end="2024-10-01", points=10),
        lambda t: deciles.pareto_curve(t["transactions"], period="2024-Q3", points=10),
        "start= and end= are deprecated",
    ),
    "customer_revenue start end": (
        lambda t: deciles.customer_revenue(t["transactions"], start="2024-10-01", end="2024-11-01"),
        lambda t: deciles.customer_revenue(t["transactions"], period="2024-10"),
        "start= and end= are deprecated",
    ),
    "cohort_table start": (
        lambda t: cohorts.cohort_table(t["transactions"], as_of="2024-11-01", start="2024-05-01"),
        lambda t: cohorts.cohort_table(t["transactions"], as_of="2024-11-01", lookback_months=6),
        "start= is deprecated; pass lookback_months=",
    ),
    "f2_conversion start end": (
        lambda t: repeat.f2_conversion(t["transactions"], as_of="2025-01-01", start="2024-04-01", end="2024-07-01"),
        lambda t: repeat.f2_conversion(t["transactions"], as_of="2025-01-01", period="2024-Q2"),
        "start= and end= are deprecated",
    ),
    "interval_distribution start": (
        lambda t: repeat.interval_distribution(t["transactions"], as_of="2024-11-01", start="2024-08-01"),
        lambda t: repeat.interval_distribution(t["transactions"], as_of="2024-11-01", lookback_days=92),
        "start= is deprecated; pass lookback_days=",
    ),
    "campaigns_active start end": (
        lambda t: slicing.campaigns_active(
            t["campaigns"], start=pd.Timestamp("2024-07-01"), end=pd.Timestamp("2024-08-01")
        ),
        lambda t: slicing.campaigns_active(t["campaigns"], period="2024-07"),
        "start= and end= are deprecated",
    ),
    "experiments_exposed start end": (
        lambda t: slicing.experiments_exposed(
            t["experiments"], start=pd.Timestamp("2024-12-01"), end=pd.Timestamp("2025-01-01")
        ),
        lambda t: slicing.experiments_exposed(t["experiments"], period="2024-12"),
        "start= and end= are deprecated",
    ),
    "frequent_itemsets period": (
        lambda t: basket.frequent_itemsets(t["transactions"], min_support=3, basket="customer", period="M"),
        lambda t: basket.frequent_itemsets(t["transactions"], min_support=3, basket="customer", basket_freq="M"),
        "period= is deprecated; it is now called basket_freq=",
    ),
}


@pytest.mark.parametrize("case", sorted(DEPRECATED))
def test_deprecated_forms_warn_and_give_identical_results(case, tables):
    old, new, match = DEPRECATED[case]
    expected = new(tables)
    _same(_deprecated(lambda: old(tables), match=match), expected)
    if isinstance(expected, pd.DataFrame):
        assert len(expected) > 0, "compare on something"


def test_deprecated_windows_keep_arbitrary_bounds(tables):
    tx = tables["transactions"]
    half = _deprecated(
        lambda: deciles.customer_revenue(tx, start="2024-01-01", end="2024-07-01"), match="start= and end="
    )
    window = tx[(tx["order_datetime"] >= "2024-01-01") & (tx["order_datetime"] < "2024-07-01")]
    assert set(half["customer_id"]) == set(window.loc[window["quantity"] > 0, "customer_id"].dropna())
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="end must be after start"):
        deciles.decile_table(tx, start="2024-07-01", end="2024-01-01")
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="first instant of a month"):
        kpis.monthly_trend(tx, end="2024-11-15")


def test_old_and_new_names_together_are_an_error(tables):
    tx = tables["transactions"]
    with pytest.raises(TypeError, match=r"got both start=/end= .* and period="):
        deciles.decile_table(tx, start="2024-10-01", end="2024-11-01", period="2024-10")
    with pytest.raises(TypeError, match=r"got both period= .* and basket_freq="):
        basket.frequent_itemsets(tx, basket="customer", period="M", basket_freq="M")
    with pytest.raises(TypeError, match="multiple values for argument 'period'"):
        kpis.period_kpis(tx, "2024-10", period="2024-10")


def test_the_old_frequency_constant_warns():
    from crmtools import basket_spark

    with pytest.warns(FutureWarning, match="BASKET_FREQS"):
        assert basket_spark.PERIODS == basket_spark.BASKET_FREQS == ("M", "Q", "Y")


def test_signatures_show_only_the_new_names():
    assert "start" not in inspect.signature(deciles.decile_table).parameters
    assert "period" not in inspect.signature(basket.frequent_itemsets).parameters
    kind = inspect.signature(kpis.period_kpis).parameters["period"].kind
    assert kind is inspect.Parameter.KEYWORD_ONLY


# --------------------------------------------------------------------------- the models' last day included


def test_clv_window_ends_are_last_days_and_a_period_means_its_last_day(tables):
    from crmtools import clv

    tx = tables["transactions"]
    expected = clv.customer_summary(tx, calibration_end="2024-09-30", observation_end="2024-12-31")
    for end, obs in [
        (parse_period("2024-09"), parse_period("2024-Q4")),
        (pd.Timestamp("2024-09-30"), pd.Timestamp("2024-12-31").date()),
    ]:
        pd.testing.assert_frame_equal(clv.customer_summary(tx, calibration_end=end, observation_end=obs), expected)
    with pytest.raises(ValueError, match=r"calibration_end='2024-09' is ambiguous.*'2024-09-30'.*parse_period"):
        clv.customer_summary(tx, calibration_end="2024-09")
    with pytest.raises(ValueError, match="calibration_end must be a day"):
        clv.customer_summary(tx, calibration_end="2024-09-30 12:00")
