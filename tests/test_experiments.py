"""A/B tests: agreement with statsmodels/scipy, known answers, planted truths, verdicts and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as score_test_2indep,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from crmtools.experiments import (
    ALLOCATION_COLUMNS,
    RESULT_COLUMNS,
    SRM_COLUMNS,
    SUMMARY_COLUMNS,
    VERDICTS,
    conversion_test,
    detectable_effect,
    experiment_results,
    required_sample_size,
    revenue_test,
    srm_check,
    thompson_allocation,
    variant_summary,
)
from crmtools.reporting.findings import verdict_sentences

TOL = 1e-9


def words(results, language="en"):
    """The verdict sentences of a results table (the reporting layer writes them from the codes)."""
    return verdict_sentences(results, language=language)


def counts(*variants, experiment=None, revenue=None):
    """Variant counts from (variant, units, conversions) triples."""
    frame = pd.DataFrame(variants, columns=["variant", "units", "conversions"])
    if experiment is not None:
        frame.insert(0, "experiment_id", experiment)
    if revenue is not None:
        frame["revenue_sum"] = [r[0] for r in revenue]
        frame["revenue_sumsq"] = [r[1] for r in revenue]
    return frame


def simulated_rows(seed=3, n=(800, 900, 850), rates=(0.10, 0.13, 0.10), experiment="EXP"):
    """Unit rows with log-normal revenue for converters (fixed seed)."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, size, rate in zip(("control", "B", "C"), n, rates):
        converted = rng.random(size) < rate
        revenue = np.where(converted, np.round(rng.lognormal(8.0, 0.9, size), 0), np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "variant": name,
                    "unit_id": [f"{name}-{i}" for i in range(size)],
                    "exposed_at": pd.Timestamp("2025-10-01"),
                    "converted": converted,
                    "revenue": revenue,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def simulated_counts(rng, experiments, n, p_control, p_variant, mean=6000.0, sigma=0.9):
    """Many simulated two-arm experiments as variant counts, vectorised (revenue sums over converters)."""
    frames = []
    for name, p in (("control", p_control), ("B", p_variant)):
        k = rng.binomial(n, p, experiments)
        values = mean * np.exp(rng.normal(-(sigma**2) / 2, sigma, int(k.sum())))
        starts = np.concatenate([[0], np.cumsum(k)[:-1]])
        total, squares, has = np.zeros(experiments), np.zeros(experiments), k > 0
        total[has] = np.add.reduceat(values, starts[has])
        squares[has] = np.add.reduceat(values**2, starts[has])
        frames.append(
            pd.DataFrame(
                {
                    "experiment_id": np.arange(experiments).astype(str),
                    "variant": name,
                    "units": n,
                    "conversions": k,
                    "revenue_sum": total,
                    "revenue_sumsq": squares,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- agreement with statsmodels / scipy

CASES = [
    (1000, 100, 1000, 130),
    (4000, 400, 4000, 480),
    (260, 12, 200, 30),
    (5000, 1510, 4700, 1400),
    (1500, 30, 1800, 52),
]


@pytest.mark.parametrize("n0, x0, n1, x1", CASES)
def test_z_test_matches_statsmodels(n0, x0, n1, x1):
    res = conversion_test(counts(("control", n0, x0), ("B", n1, x1)), method="z").iloc[0]
    z, p = proportions_ztest([x1, x0], [n1, n0])
    assert res["statistic"] == pytest.approx(z, rel=TOL, abs=1e-12)
    assert res["p_value"] == pytest.approx(p, rel=TOL, abs=1e-12)
    assert res["method_used"] == "z-test"


@pytest.mark.parametrize("n0, x0, n1, x1", CASES)
def test_ratio_score_interval_matches_statsmodels(n0, x0, n1, x1):
    res = conversion_test(counts(("control", n0, x0), ("B", n1, x1))).iloc[0]
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="score", compare="ratio", correction=False)
    assert res["relative_lift_ci_low"] == pytest.approx(low - 1, abs=TOL)
    assert res["relative_lift_ci_high"] == pytest.approx(high - 1, abs=TOL)


def _score_z_difference(delta, x1, n1, x0, n0):
    """Miettinen-Nurminen statistic for p1 - p0 = delta, restricted MLE by root finding (independent check)."""

    def score(p0):  # derivative of the restricted log-likelihood, times p0 (1 - p0) p1 (1 - p1)
        p1 = p0 + delta
        return (x1 - n1 * p1) * p0 * (1 - p0) + (x0 - n0 * p0) * p1 * (1 - p1)

    low, high = max(0.0, -delta), min(1.0, 1.0 - delta)
    p0 = optimize.brentq(score, low + 1e-15, high - 1e-15, xtol=1e-16, rtol=1e-15, maxiter=500)
    p1 = p0 + delta
    return (x1 / n1 - x0 / n0 - delta) / math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


@pytest.mark.parametrize(
    "n0, x0, n1, x1", CASES + [(37, 3, 41, 9), (12000, 960, 12000, 1030), (100, 99, 100, 1), (34, 1, 34, 7)]
)
def test_interval_bounds_are_where_the_score_test_reaches_alpha(n0, x0, n1, x1):
    res = conversion_test(counts(("control", n0, x0), ("B", n1, x1)), alpha=0.05).iloc[0]
    z = stats.norm.isf(0.025)
    assert _score_z_difference(res["difference_ci_low"], x1, n1, x0, n0) == pytest.approx(z, abs=TOL)
    assert _score_z_difference(res["difference_ci_high"], x1, n1, x0, n0) == pytest.approx(-z, abs=TOL)
    for bound in (res["relative_lift_ci_low"] + 1, res["relative_lift_ci_high"] + 1):
        p = score_test_2indep(x1, n1, x0, n0, value=bound, compare="ratio", method="score", correction=False).pvalue
        assert p == pytest.approx(0.05, abs=TOL)


def test_difference_interval_is_symmetric_when_groups_swap():
    # statsmodels 0.14-0.15 gets this wrong (issue #10269): its restricted MLE has count0 where nobs0 belongs.
    one = conversion_test(counts(("control", 100, 1), ("B", 100, 99))).iloc[0]
    other = conversion_test(counts(("control", 100, 99), ("B", 100, 1))).iloc[0]
    assert one["difference_ci_low"] == pytest.approx(-other["difference_ci_high"], abs=1e-12)
    assert one["difference_ci_high"] == pytest.approx(-other["difference_ci_low"], abs=1e-12)
    _low, high = confint_proportions_2indep(7, 34, 1, 34, method="score", compare="diff", correction=False)
    ours = conversion_test(counts(("control", 34, 1), ("B", 34, 7))).iloc[0]
    assert abs(ours["difference_ci_high"] - high) > 1e-3  # the documented divergence from statsmodels


@pytest.mark.parametrize("n0, x0, n1, x1", [(100, 0, 100, 3), (100, 3, 100, 0), (50, 50, 60, 58), (20, 0, 25, 0)])
def test_fallback_intervals_match_statsmodels(n0, x0, n1, x1):
    res = conversion_test(counts(("control", n0, x0), ("B", n1, x1))).iloc[0]
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
    assert (res["difference_ci_low"], res["difference_ci_high"]) == pytest.approx((low, high), abs=TOL)
    if x0 > 0:
        low, high = confint_proportions_2indep(x1, n1, x0, n0, method="log-adjusted", compare="ratio")
        assert res["relative_lift_ci_low"] == pytest.approx(low - 1, abs=TOL)
        assert res["relative_lift_ci_high"] == pytest.approx(high - 1, abs=TOL)
    else:
        assert np.isnan(res["relative_lift"]) and np.isnan(res["relative_lift_ci_low"])
    assert "Newcomb" in res["method_reason"]


def test_hand_computed_z_test():
    # 130/1000 against 100/1000: pooled rate 0.115, se = sqrt(0.115 * 0.885 * (2 / 1000)).
    res = conversion_test(counts(("control", 1000, 100), ("B", 1000, 130))).iloc[0]
    z = 0.03 / math.sqrt(0.115 * 0.885 * 0.002)
    assert res["statistic"] == pytest.approx(z, rel=1e-12)
    assert res["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert res["difference"] == pytest.approx(0.03)
    assert res["relative_lift"] == pytest.approx(0.3)
    assert res["control_value"] == 0.1 and res["variant_value"] == 0.13


def test_small_counts_use_fisher_exact_test_and_say_why():
    res = conversion_test(counts(("control", 20, 0), ("B", 20, 5))).iloc[0]
    assert res["method_used"] == "fisher"
    assert "expected cell count 2.50 is below 5" in res["method_reason"]
    assert res["p_value"] == pytest.approx(stats.fisher_exact([[5, 15], [0, 20]]).pvalue, rel=TOL)
    assert np.isnan(res["statistic"])
    large = conversion_test(counts(("control", 2000, 200), ("B", 2000, 230))).iloc[0]
    assert large["method_used"] == "z-test"


def test_boschloo_on_request_matches_scipy():
    res = conversion_test(counts(("control", 15, 2), ("B", 14, 7)), method="boschloo").iloc[0]
    expected = stats.boschloo_exact([[7, 7], [2, 13]], alternative="two-sided").pvalue
    assert res["method_used"] == "boschloo"
    assert res["p_value"] == pytest.approx(expected, rel=TOL)


@pytest.mark.parametrize(
    "correction, sm_method", [("holm", "holm"), ("bh", "fdr_bh"), ("fdr_bh", "fdr_bh"), ("bonferroni", "bonferroni")]
)
def test_multiple_comparisons_match_multipletests(correction, sm_method):
    data = counts(("control", 3000, 300), ("B", 3000, 350), ("C", 3000, 330), ("D", 3000, 305))
    res = conversion_test(data, correction=correction)
    assert list(res["variant"]) == ["B", "C", "D"]
    expected = multipletests(res["p_value"].to_numpy(), method=sm_method)[1]
    np.testing.assert_allclose(res["p_value_adjusted"], expected, rtol=TOL)
    assert (res["significant"] == (expected < 0.05)).all()
    assert (res["correction"] == sm_method).all()
    none = conversion_test(data, correction="none")
    np.testing.assert_array_equal(none["p_value_adjusted"], none["p_value"])


def test_corrections_apply_within_each_experiment():
    data = pd.concat(
        [
            counts(("control", 3000, 300), ("B", 3000, 350), ("C", 3000, 330), experiment="E1"),
            counts(("control", 3000, 300), ("B", 3000, 350), experiment="E2"),
        ],
        ignore_index=True,
    )
    res = conversion_test(data).set_index(["experiment_id", "variant"])
    assert res.loc[("E2", "B"), "p_value_adjusted"] == res.loc[("E2", "B"), "p_value"]
    expected = multipletests(res.loc["E1", "p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(res.loc["E1", "p_value_adjusted"], expected, rtol=TOL)


@pytest.mark.parametrize("metric", ["revenue_per_unit", "revenue_per_converter"])
def test_welch_matches_scipy_and_statsmodels(metric):
    rows = simulated_rows()
    res = revenue_test(rows, metric=metric).set_index("variant")
    for name in ("B", "C"):
        keep = rows["converted"] if metric == "revenue_per_converter" else pd.Series(True, index=rows.index)
        a = rows.loc[keep & (rows["variant"] == name), "revenue"].fillna(0).to_numpy()
        b = rows.loc[keep & (rows["variant"] == "control"), "revenue"].fillna(0).to_numpy()
        t = stats.ttest_ind(a, b, equal_var=False)
        low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(alpha=0.05, usevar="unequal")
        row = res.loc[name]
        assert row["statistic"] == pytest.approx(t.statistic, rel=TOL)
        assert row["p_value"] == pytest.approx(t.pvalue, rel=TOL)
        assert row["difference_ci_low"] == pytest.approx(low, rel=TOL)
        assert row["difference_ci_high"] == pytest.approx(high, rel=TOL)
        assert row["variant_units"] == a.size and row["control_units"] == b.size
        assert row["method_used"] == "welch"


def test_welch_from_counts_equals_welch_from_rows():
    rows = simulated_rows()
    from_rows = revenue_test(rows)
    from_counts = revenue_test(variant_summary(rows))
    for col in ("p_value", "difference_ci_low", "difference_ci_high", "relative_lift_ci_low", "relative_lift_ci_high"):
        np.testing.assert_allclose(from_counts[col], from_rows[col], rtol=TOL)


def test_delta_method_lift_interval_by_hand():
    # control: mean 500, variance 1.75e6 (n = 2000); variant: mean 600, variance 2.241120...e6.
    data = counts(("control", 2000, 200), ("B", 2000, 200), revenue=[(1.0e6, 4.0e9), (1.2e6, 5.2e9)])
    res = revenue_test(data).iloc[0]
    v0 = (4.0e9 - 1.0e6**2 / 2000) / 1999
    v1 = (5.2e9 - 1.2e6**2 / 2000) / 1999
    se = math.sqrt(v1 / 2000 / 500**2 + 600**2 * (v0 / 2000) / 500**4)
    z = stats.norm.isf(0.025)
    assert res["relative_lift"] == pytest.approx(0.2)
    assert res["relative_lift_ci_low"] == pytest.approx(0.2 - z * se, rel=1e-12)
    assert res["relative_lift_ci_high"] == pytest.approx(0.2 + z * se, rel=1e-12)
    assert np.isnan(res["prob_beats_control"])


def test_srm_matches_scipy_chisquare():
    data = counts(("control", 5000, 0), ("B", 5300, 0), ("C", 4900, 0))
    out = srm_check(data)
    assert list(out.columns) == SRM_COLUMNS
    expected = stats.chisquare([5300, 4900, 5000])
    assert out.loc[0, "statistic"] == pytest.approx(expected.statistic, rel=TOL)
    assert out.loc[0, "p_value"] == pytest.approx(expected.pvalue, rel=TOL)
    split = {"control": 2, "B": 1, "C": 1}
    weighted = srm_check(data, expected_split=split)
    total = 15200
    expected = stats.chisquare([5300, 4900, 5000], f_exp=[total / 4, total / 4, total / 2])
    assert weighted.loc[0, "p_value"] == pytest.approx(expected.pvalue, rel=TOL)
    nested = srm_check(data.assign(experiment_id="E"), expected_split={"E": split})
    assert nested.loc[0, "p_value"] == pytest.approx(expected.pvalue, rel=TOL)


def test_failed_srm_is_reported_first_and_marks_results_untrustworthy():
    res = conversion_test(counts(("control", 5000, 500), ("B", 5600, 640)))
    row = res.iloc[0]
    assert row["srm_p_value"] < 0.001 and not row["srm_passed"] and not row["trustworthy"]
    assert row["verdict"] == "srm_failed"
    assert words(res)[0].startswith("SRM failed: do not trust this result")
    assert words(res, "ja")[0].startswith("SRM検出：この結果は信頼できません")
    assert RESULT_COLUMNS.index("srm_passed") < RESULT_COLUMNS.index("difference")
    planned = conversion_test(
        counts(("control", 5000, 500), ("B", 5600, 640)), expected_split={"control": 5000, "B": 5600}
    )
    assert planned.loc[0, "trustworthy"] and planned.loc[0, "verdict"] != "srm_failed"
    assert not words(planned)[0].startswith("SRM")


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize(
    "baseline, mde, relative, ratio, alpha, power",
    [
        (0.10, 0.10, True, 1.0, 0.05, 0.8),
        (0.03, 0.20, True, 1.0, 0.05, 0.9),
        (0.10, 0.01, False, 1.0, 0.05, 0.8),
        (0.50, -0.05, True, 2.0, 0.01, 0.8),
        (0.08, 0.15, True, 0.5, 0.10, 0.85),
    ],
)
def test_required_sample_size_matches_statsmodels(baseline, mde, relative, ratio, alpha, power):
    target = baseline * (1 + mde) if relative else baseline + mde
    es = abs(proportion_effectsize(target, baseline))
    n = NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=ratio)
    assert required_sample_size(baseline, mde, alpha=alpha, power=power, relative=relative, ratio=ratio) == math.ceil(n)


def test_required_sample_size_known_answer():
    # Cohen's h for 11% vs 10% and (z_.975 + z_.8)^2 * 2 / h^2, the textbook formula.
    h = 2 * math.asin(math.sqrt(0.11)) - 2 * math.asin(math.sqrt(0.10))
    textbook = (stats.norm.isf(0.025) + stats.norm.ppf(0.8)) ** 2 * 2 / h**2
    assert required_sample_size(0.10, 0.10) == math.ceil(textbook) == 14745


@pytest.mark.parametrize(
    "n, baseline, ratio, alternative",
    [
        (14745, 0.10, 1.0, "two-sided"),
        (1000, 0.03, 2.5, "two-sided"),
        (500, 0.5, 1.0, "larger"),
        (40, 0.2, 1.0, "two-sided"),
    ],
)
def test_detectable_effect_reaches_the_requested_power(n, baseline, ratio, alternative):
    lift = detectable_effect(n, baseline, ratio=ratio, alternative=alternative)
    es = proportion_effectsize(baseline * (1 + lift), baseline)
    power = NormalIndPower().power(abs(es), n, 0.05, ratio=ratio, alternative=alternative)
    assert power == pytest.approx(0.8, abs=TOL)
    sm_es = NormalIndPower().solve_power(
        effect_size=None, nobs1=n, alpha=0.05, power=0.8, ratio=ratio, alternative=alternative
    )
    assert abs(es) == pytest.approx(sm_es, rel=1e-5)  # statsmodels' root finder stops earlier
    difference = detectable_effect(n, baseline, ratio=ratio, alternative=alternative, relative=False)
    assert difference == pytest.approx(lift * baseline, rel=1e-12)


def test_detectable_effect_and_required_sample_size_are_inverse():
    n = required_sample_size(0.05, 0.15)
    assert detectable_effect(n, 0.05) <= 0.15 < detectable_effect(n - 1, 0.05)
    assert np.isnan(detectable_effect(3, 0.9))  # even a rate of 1 is not detectable


def test_detectable_lift_column_and_underpowered_flag():
    res = conversion_test(counts(("control", 4000, 400), ("B", 4000, 420), ("C", 20000, 2000)), mde=0.1)
    res = res.set_index("variant")
    n_eff_ratio = 20000 / 4000
    assert res.loc["B", "detectable_lift"] == pytest.approx(detectable_effect(4000, 0.1), rel=TOL)
    assert res.loc["C", "detectable_lift"] == pytest.approx(detectable_effect(4000, 0.1, ratio=n_eff_ratio), rel=TOL)
    assert res.loc["B", "underpowered"] and res.loc["B", "mde"] == 0.1
    assert (
        "The test is underpowered: with these sample sizes only a lift of 19.6% or more" in words(res.reset_index())[0]
    )
    assert "検出力不足です" in words(res.reset_index(), "ja")[0]
    big = conversion_test(counts(("control", 20000, 2000), ("B", 20000, 2040)), mde=0.1)
    assert not big.loc[0, "underpowered"] and "underpowered" not in words(big)[0]


# --------------------------------------------------------------------------- Bayesian view and allocation


def test_bayesian_known_answer():
    # One unit each: variant Beta(2, 1), control Beta(1, 2) under a uniform prior.
    # P(X1 > X0) = integral of 2x (2x - x^2) = 5/6; E[max(X0 - X1, 0)] = (2/3) B(2, 4) = 1/30.
    res = conversion_test(counts(("control", 1, 0), ("B", 1, 1))).iloc[0]
    assert res["prob_beats_control"] == pytest.approx(5 / 6, abs=1e-12)
    assert res["expected_loss"] == pytest.approx(1 / 30, abs=1e-12)


def _prob_beats_closed_form(a1, b1, a0, b0):
    """P(X1 > X0) for integer a1 (Evan Miller's formula)."""
    i = np.arange(a1)
    return float(
        np.sum(
            np.exp(
                special.betaln(a0 + i, b0 + b1) - np.log(b1 + i) - special.betaln(1 + i, b1) - special.betaln(a0, b0)
            )
        )
    )


@pytest.mark.parametrize(
    "n0, x0, n1, x1",
    [(100, 20, 100, 10), (1000, 100, 1000, 130), (4000, 450, 4000, 400), (30, 0, 2000, 2), (12000, 960, 12000, 1030)],
)
def test_probability_to_beat_control_matches_closed_form(n0, x0, n1, x1):
    res = conversion_test(counts(("control", n0, x0), ("B", n1, x1))).iloc[0]
    expected = _prob_beats_closed_form(x1 + 1, n1 - x1 + 1, x0 + 1, n0 - x0 + 1)
    assert res["prob_beats_control"] == pytest.approx(expected, abs=TOL)


def test_expected_loss_matches_monte_carlo():
    res = conversion_test(counts(("control", 1000, 100), ("B", 1000, 110))).iloc[0]
    rng = np.random.default_rng(11)
    draws1, draws0 = rng.beta(111, 891, 2_000_000), rng.beta(101, 901, 2_000_000)
    shortfall = np.maximum(draws0 - draws1, 0)
    assert abs(res["expected_loss"] - shortfall.mean()) < 4 * shortfall.std() / math.sqrt(shortfall.size)
    assert abs(res["prob_beats_control"] - (draws1 > draws0).mean()) < 0.002


def test_jeffreys_prior_with_zero_conversions_is_finite():
    res = conversion_test(counts(("control", 50, 0), ("B", 50, 2)), prior=(0.5, 0.5)).iloc[0]
    rng = np.random.default_rng(5)
    d1, d0 = rng.beta(2.5, 48.5, 1_000_000), rng.beta(0.5, 50.5, 1_000_000)
    assert res["prob_beats_control"] == pytest.approx((d1 > d0).mean(), abs=0.003)
    assert res["expected_loss"] == pytest.approx(np.maximum(d0 - d1, 0).mean(), abs=1e-4)


def test_thompson_allocation():
    data = counts(("control", 1000, 100), ("B", 1000, 125), ("C", 1000, 95))
    out = thompson_allocation(data)
    assert list(out.columns) == ALLOCATION_COLUMNS
    assert out["prob_best"].sum() == pytest.approx(1.0, abs=1e-12)
    assert out.set_index("variant")["prob_best"].idxmax() == "B"
    rng = np.random.default_rng(2)
    draws = np.column_stack([rng.beta(126, 876, 400_000), rng.beta(96, 906, 400_000), rng.beta(101, 901, 400_000)])
    mc = np.bincount(draws.argmax(axis=1), minlength=3) / draws.shape[0]
    np.testing.assert_allclose(out["prob_best"], mc, atol=0.003)  # variants sorted: B, C, control
    two = counts(("control", 1000, 100), ("B", 1000, 120))
    beats = conversion_test(two).loc[0, "prob_beats_control"]
    assert thompson_allocation(two).set_index("variant").loc["B", "prob_best"] == pytest.approx(beats, abs=1e-9)
    floored = thompson_allocation(data, min_share=0.1)
    assert floored["recommended_share"].sum() == pytest.approx(1.0)
    assert floored["recommended_share"].min() >= 0.1
    with pytest.raises(ValueError, match="min_share is too large"):
        thompson_allocation(data, min_share=0.4)


# --------------------------------------------------------------------------- planted truths (simulations)


def test_aa_false_positive_rate_is_nominal():
    rng = np.random.default_rng(20251001)
    data = simulated_counts(rng, 10_000, 2000, 0.10, 0.10)
    conv = conversion_test(data)
    rev = revenue_test(data)
    # 10,000 A/A tests: the standard error of the rate is 0.22 points, so the band is about +-4.5 SE.
    assert 0.04 <= conv["significant"].mean() <= 0.06
    assert 0.04 <= rev["significant"].mean() <= 0.06
    assert (conv["method_used"] == "z-test").all()


def test_confidence_intervals_cover_the_true_lift():
    rng = np.random.default_rng(20251002)
    data = simulated_counts(rng, 10_000, 4000, 0.10, 0.12)
    conv = conversion_test(data)
    rev = revenue_test(data)
    true_lift = 0.2  # same revenue per converter, so revenue per unit also rises by 20%
    covered = (conv["relative_lift_ci_low"] <= true_lift) & (true_lift <= conv["relative_lift_ci_high"])
    assert 0.94 <= covered.mean() <= 0.96
    covered = (conv["difference_ci_low"] <= 0.02) & (conv["difference_ci_high"] >= 0.02)
    assert 0.94 <= covered.mean() <= 0.96
    covered = (rev["relative_lift_ci_low"] <= true_lift) & (true_lift <= rev["relative_lift_ci_high"])
    assert 0.94 <= covered.mean() <= 0.96
    covered = (rev["difference_ci_low"] <= 120) & (rev["difference_ci_high"] >= 120)
    assert 0.94 <= covered.mean() <= 0.96


def test_planted_effects_are_detected_and_aa_is_not():
    # One fixed draw: the null arms (C, and the A/A pair) each have a 5% chance of a false positive by design;
    # their long-run rate is checked by test_aa_false_positive_rate_is_nominal.
    rows = pd.concat(
        [
            simulated_rows(seed=9, n=(6000, 6000, 6000), rates=(0.10, 0.125, 0.10), experiment="SUBJ"),
            simulated_rows(seed=10, n=(6000, 6000, 1), rates=(0.09, 0.09, 0.09), experiment="AA"),
        ],
        ignore_index=True,
    )
    rows = rows[~((rows["experiment_id"] == "AA") & (rows["variant"] == "C"))]
    res = conversion_test(rows).set_index(["experiment_id", "variant"])
    assert res.loc[("SUBJ", "B"), "significant"]
    assert res.loc[("SUBJ", "B"), "relative_lift_ci_low"] <= 0.25 <= res.loc[("SUBJ", "B"), "relative_lift_ci_high"]
    assert not res.loc[("SUBJ", "C"), "significant"]
    assert not res.loc[("AA", "B"), "significant"]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_reproducible_and_close_to_welch():
    rows = simulated_rows(n=(3000, 3000, 3000))
    first = revenue_test(rows, method="bootstrap", random_state=42, n_resamples=4000)
    again = revenue_test(rows, method="bootstrap", random_state=42, n_resamples=4000)
    other = revenue_test(rows, method="bootstrap", random_state=43, n_resamples=4000)
    welch = revenue_test(rows)
    pd.testing.assert_frame_equal(first, again)
    assert not first["difference_ci_low"].equals(other["difference_ci_low"])
    assert (first["method_used"] == "bootstrap").all()
    assert "random_state=42" in first.loc[0, "method_reason"]
    width = welch["difference_ci_high"] - welch["difference_ci_low"]
    assert (abs(first["difference_ci_low"] - welch["difference_ci_low"]) < 0.1 * width).all()
    assert (abs(first["difference_ci_high"] - welch["difference_ci_high"]) < 0.1 * width).all()
    assert (abs(first["p_value"] - welch["p_value"]) < 0.05).all()


def test_bootstrap_needs_a_seed_and_unit_rows():
    with pytest.raises(ValueError, match="needs an explicit random_state"):
        revenue_test(simulated_rows(), method="bootstrap")
    with pytest.raises(ValueError, match="bootstrap resamples units"):
        revenue_test(variant_summary(simulated_rows()), method="bootstrap", random_state=1)


# --------------------------------------------------------------------------- verdicts


def test_verdicts_are_codes_and_the_reporting_layer_words_them_in_english_and_japanese():
    up = conversion_test(counts(("control", 16000, 1600), ("B", 16000, 1800)))
    assert up.loc[0, "verdict"] == "significant_better" and up.loc[0, "comparisons"] == 1
    assert words(up)[0] == (
        "Variant B raised conversion rate by 12.5% (95% CI 5.6% to 19.9%). "
        "The difference is statistically significant (p < 0.001)."
    )
    assert words(up, "ja")[0] == (
        "バリアント「B」はコンバージョン率を12.5%上げました（95%信頼区間 5.6%〜19.9%）。"
        "この差は統計的に有意です（p < 0.001）。"
    )
    down = conversion_test(counts(("control", 16000, 1800), ("B", 16000, 1600)))
    assert down.loc[0, "verdict"] == "significant_worse"
    assert words(down)[0].startswith("Variant B lowered conversion rate by 11.1%")
    assert "下げました" in words(down, "ja")[0]
    flat = conversion_test(counts(("control", 16000, 1600), ("B", 16000, 1620)))
    assert flat.loc[0, "verdict"] == "not_significant"
    assert "The difference is not statistically significant (p = 0.7" in words(flat)[0]
    assert "統計的に有意ではありません" in words(flat, "ja")[0]
    multi = conversion_test(counts(("control", 16000, 1600), ("B", 16000, 1800), ("C", 16000, 1610)))
    assert multi["comparisons"].tolist() == [2, 2]
    assert "Holm-adjusted p < 0.001 for 2 comparisons" in words(multi)[0]
    assert "Holm補正後" in words(multi, "ja")[0]
    assert set(experiment_results(simulated_rows())["verdict"]) <= set(VERDICTS)


def test_verdict_flags_a_borderline_disagreement_between_test_and_interval():
    # Welch's test of the difference is significant but the delta-method lift interval includes zero.
    data = counts(("control", 1000, 100), ("B", 1000, 100), revenue=[(4.0e5, 1.4e9), (5.2e5, 2.6e9)])
    res = revenue_test(data)
    row = res.iloc[0]
    assert row["p_value"] < 0.05 and row["relative_lift_ci_low"] < 0
    assert row["borderline"] and row["verdict"] == "significant_better"
    assert "borderline" in words(res)[0] and "境界的" in words(res, "ja")[0]
    assert not conversion_test(counts(("control", 16000, 1600), ("B", 16000, 1800)))["borderline"].any()


# --------------------------------------------------------------------------- inputs and edge cases


def test_no_conversions_at_all():
    res = conversion_test(counts(("control", 500, 0), ("B", 500, 0))).iloc[0]
    assert res["method_used"] == "fisher" and res["p_value"] == 1.0 and not res["significant"]
    assert np.isnan(res["relative_lift"]) and res["verdict"] == "lift_undefined"
    assert "undefined because the control value is zero" in words(res.to_frame().T)[0]
    assert "相対リフトは計算できません" in words(res.to_frame().T, "ja")[0]
    forced = conversion_test(counts(("control", 500, 0), ("B", 500, 0)), method="z").iloc[0]
    assert np.isnan(forced["p_value"]) and not forced["significant"]


def test_everyone_converted():
    res = conversion_test(counts(("control", 50, 50), ("B", 60, 60))).iloc[0]
    assert res["p_value"] == 1.0 and res["relative_lift"] == 0.0
    assert np.isfinite(res["difference_ci_low"]) and np.isfinite(res["difference_ci_high"])


def test_unit_rows_and_counts_give_the_same_answer():
    rows = simulated_rows()
    summary = variant_summary(rows)
    assert list(summary.columns) == SUMMARY_COLUMNS
    pd.testing.assert_frame_equal(conversion_test(rows), conversion_test(summary))
    assert summary.set_index("variant").loc["B", "units"] == 900


def test_experiment_results_stacks_metrics():
    rows = simulated_rows()
    out = experiment_results(rows, metrics=("conversion_rate", "revenue_per_converter"))
    assert list(out.columns) == RESULT_COLUMNS
    assert list(out["metric"]) == ["conversion_rate"] * 2 + ["revenue_per_converter"] * 2
    no_revenue = experiment_results(rows.drop(columns="revenue"))
    assert set(no_revenue["metric"]) == {"conversion_rate"}
    with pytest.raises(ValueError, match="Unknown metric"):
        experiment_results(rows, metrics=("clicks",))


def test_without_an_experiment_column_all_rows_are_one_experiment():
    res = conversion_test(counts(("control", 100, 10), ("B", 100, 12)))
    assert res["experiment_id"].isna().all()


def test_a_summary_without_experiment_ids_goes_back_in():
    # variant_summary reports a missing experiment_id when the input had no experiment column; its docstring
    # promises the frame is accepted by every function of the module.
    rows = simulated_rows().drop(columns="experiment_id")
    summary = variant_summary(rows)
    assert summary["experiment_id"].isna().all()
    pd.testing.assert_frame_equal(conversion_test(summary), conversion_test(rows))
    pd.testing.assert_frame_equal(revenue_test(summary), revenue_test(rows))
    pd.testing.assert_frame_equal(srm_check(summary), srm_check(rows))
    pd.testing.assert_frame_equal(experiment_results(summary), experiment_results(rows))
    pd.testing.assert_frame_equal(thompson_allocation(summary), thompson_allocation(rows))
    pd.testing.assert_frame_equal(variant_summary(summary), summary)
    with pytest.raises(ValueError, match="missing experiment ids"):  # partly missing ids are still an error
        conversion_test(summary.assign(experiment_id=["E", None, "E"]))


def test_column_names_can_be_overridden():
    rows = simulated_rows().rename(
        columns={
            "variant": "arm",
            "converted": "bought",
            "unit_id": "visitor",
            "revenue": "sales",
            "experiment_id": "test",
        }
    )
    res = experiment_results(
        rows, experiment_col="test", variant_col="arm", unit_col="visitor", converted_col="bought", revenue_col="sales"
    )
    expected = experiment_results(simulated_rows())
    pd.testing.assert_frame_equal(res, expected)


def test_inputs_are_not_mutated():
    rows = simulated_rows()
    summary = variant_summary(rows)
    rows_before, summary_before = rows.copy(deep=True), summary.copy(deep=True)
    experiment_results(rows)
    revenue_test(rows, method="bootstrap", random_state=1, n_resamples=200)
    experiment_results(summary)
    srm_check(rows)
    thompson_allocation(summary)
    pd.testing.assert_frame_equal(rows, rows_before)
    pd.testing.assert_frame_equal(summary, summary_before)


def test_empty_input_gives_empty_frames_with_the_columns():
    empty = simulated_rows().iloc[0:0]
    for out in (conversion_test(empty), revenue_test(empty), experiment_results(empty)):
        assert out.empty and list(out.columns) == RESULT_COLUMNS
    assert list(variant_summary(empty).columns) == SUMMARY_COLUMNS
    assert list(srm_check(empty).columns) == SRM_COLUMNS


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"control": "baseline"}, ValueError, "No control variant 'baseline'"),
        ({"method": "t"}, ValueError, "Unknown method; allowed: 'auto', 'z', 'fisher', 'boschloo'; received: 't'"),
        ({"correction": "sidak"}, ValueError, "Unknown correction"),
        ({"alpha": 1.5}, ValueError, "alpha is out of range; allowed: 0 < x < 1; received: 1.5"),
        ({"alpha": "0.05"}, TypeError, "alpha must be a number"),
        ({"mde": 0}, ValueError, "mde must be a positive relative lift"),
        ({"prior": (0, 1)}, ValueError, "prior must be two positive numbers"),
        ({"expected_split": {"control": 1}}, ValueError, "no weight for variant 'B'"),
        ({"expected_split": [1, 1]}, TypeError, "expected_split must be a mapping"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        conversion_test(simulated_rows(), **kwargs)


def test_bad_data_is_rejected():
    rows = simulated_rows()
    with pytest.raises(TypeError, match=r"data has the wrong type; allowed: experiment unit rows or variant counts"):
        conversion_test(rows.to_dict())
    with pytest.raises(ValueError, match="Cannot tell what the table holds"):
        conversion_test(rows.drop(columns="converted"))
    with pytest.raises(ValueError, match="Units appear more than once"):
        conversion_test(pd.concat([rows, rows.iloc[:2]], ignore_index=True))
    with pytest.raises(ValueError, match="must hold conversion flags; allowed: True/False or 1/0"):
        conversion_test(rows.assign(converted=np.where(rows["converted"], 2, 0)))
    with pytest.raises(ValueError, match="conversions exceed units"):
        conversion_test(counts(("control", 10, 11), ("B", 10, 1)))
    with pytest.raises(ValueError, match="must hold whole counts"):
        conversion_test(counts(("control", 10.5, 1), ("B", 10, 1)))
    with pytest.raises(ValueError, match="Revenue is missing for converting units"):
        revenue_test(rows.assign(revenue=np.nan))
    with pytest.raises(ValueError, match="missing experiment ids"):
        conversion_test(rows.assign(experiment_id=None))
    with pytest.raises(ValueError, match="mde must be a non-zero number"):
        required_sample_size(0.1, 0)
    with pytest.raises(ValueError, match="gives a rate outside"):
        required_sample_size(0.6, 1.0)
    with pytest.raises(ValueError, match="baseline_rate is out of range"):
        detectable_effect(100, 1.2)


def test_flags_may_be_zero_one_numbers():
    rows = simulated_rows()
    numeric = rows.assign(converted=rows["converted"].astype(int))
    pd.testing.assert_frame_equal(conversion_test(numeric), conversion_test(rows))


@settings(max_examples=60, deadline=None)
@given(
    n0=st.integers(10, 3000),
    n1=st.integers(10, 3000),
    f0=st.floats(0.01, 0.99),
    f1=st.floats(0.01, 0.99),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_interval_and_z_test_agree(n0, n1, f0, f1, alpha):
    x0, x1 = max(1, min(n0 - 1, round(f0 * n0))), max(1, min(n1 - 1, round(f1 * n1)))
    row = conversion_test(counts(("control", n0, x0), ("B", n1, x1)), method="z", alpha=alpha).iloc[0]
    assert row["difference_ci_low"] <= row["difference"] <= row["difference_ci_high"]
    assert row["relative_lift_ci_low"] <= row["relative_lift"] <= row["relative_lift_ci_high"]
    if abs(row["p_value"] - alpha) > 1e-9:
        rejects = row["p_value"] < alpha
        assert rejects == (row["difference_ci_low"] > 0 or row["difference_ci_high"] < 0)
        assert rejects == (row["relative_lift_ci_low"] > 0 or row["relative_lift_ci_high"] < 0)
    assert 0 <= row["prob_beats_control"] <= 1 and row["expected_loss"] >= 0


# --------------------------------------------------------------------------- plots


def test_lift_interval_plot_draws_on_the_given_axes():
    from matplotlib.figure import Figure

    from crmtools.plotting.experiments import plot_lift_intervals

    res = experiment_results(simulated_rows())
    before = res.copy(deep=True)
    ax = Figure().subplots()
    assert plot_lift_intervals(res, ax=ax) is ax
    assert len(ax.get_yticklabels()) == len(res)
    assert ax.get_yticklabels()[0].get_text() == "EXP: B (Conversion rate)"
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert sorted(p.get_xdata()[0] for p in points) == pytest.approx(sorted(res["relative_lift"]))
    ax = Figure().subplots()
    plot_lift_intervals(res, metric="conversion_rate", language="ja", ax=ax)
    assert ax.get_xlabel() == "コントロールに対する相対リフト"
    assert len(ax.get_yticklabels()) == 2 and ax.get_title().startswith("コンバージョン率")
    pd.testing.assert_frame_equal(res, before)
    undefined = conversion_test(counts(("control", 10, 0), ("B", 10, 1)))
    ax = Figure().subplots()
    assert plot_lift_intervals(undefined, ax=ax) is ax and len(ax.get_yticklabels()) == 0
    with pytest.raises(ValueError, match="Invalid language: allowed: 'en', 'ja'; received: 'fr'"):
        plot_lift_intervals(res, language="fr", ax=Figure().subplots())


def test_too_few_units_for_a_revenue_comparison():
    rows = pd.DataFrame(
        {
            "variant": ["control"] * 5 + ["B"] * 5,
            "unit_id": list("abcdefghij"),
            "converted": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            "revenue": [10.0, 20.0] + [0.0] * 8,
        }
    )
    res = revenue_test(rows, metric="revenue_per_converter")
    row = res.iloc[0]
    assert row["variant_units"] == 0 and np.isnan(row["p_value"]) and not row["significant"]
    assert row["verdict"] == "insufficient_data"
    assert "not enough data" in words(res)[0] and "p not available" in words(res)[0]
    assert "データが不足" in words(res, "ja")[0] and "p値は計算できません" in words(res, "ja")[0]


# --------------------------------------------------------------------------- what the report shows (issue 12)

from crmtools.experiments import (  # noqa: E402
    PRIMARY_COLUMNS,
    experiment_status,
    is_aa_test,
    primary_results,
    recommended_split,
)


def _counts():
    return pd.DataFrame(
        {
            "experiment_id": ["EXP-AA", "EXP-AA", "OFFER", "OFFER"],
            "variant": ["control", "control_copy", "control", "free_shipping"],
            "units": [5000, 5000, 12000, 12000],
            "conversions": [452, 479, 961, 967],
            # revenue per unit: AA 491 vs 589 (p ~ 0.06); OFFER 403 vs 526 (p < 0.001), conversion unchanged
            "revenue_sum": [2_455_751.0, 2_944_504.0, 4_835_673.0, 6_311_124.0],
            "revenue_sumsq": [2.0e10, 2.4e10, 3.0e10, 4.6e10],
        }
    )


def test_aa_tests_are_recognised_by_name():
    assert is_aa_test("EXP-AA", ["control", "control_copy"]) and is_aa_test("A/A check", ["control", "B"])
    assert is_aa_test("x", ["control", "control 2"]) and is_aa_test("x", ["base", "base-b"], control="base")
    assert not is_aa_test("EXP-OFFER", ["control", "free_shipping"])
    assert not is_aa_test("SHAMPOO", ["control", "controlled_price"])  # a name that only starts like it
    assert not is_aa_test("x", ["control"])


def test_primary_results_show_the_primary_metric_and_aa_health_checks():
    results = experiment_results(_counts())
    primary = primary_results(results)
    assert list(primary.columns) == PRIMARY_COLUMNS
    assert primary["experiment_id"].tolist() == ["EXP-AA", "OFFER"]
    assert primary["metric"].tolist() == ["revenue_per_unit", "revenue_per_unit"]
    assert primary["kind"].tolist() == ["aa", "ab"]
    offer = primary.iloc[1]
    assert offer["verdict"] == "significant_better" and pd.isna(offer["health_check"])
    assert offer["relative_lift"] == pytest.approx(6_311_124.0 / 4_835_673.0 - 1)
    # The A/A test passes when no metric differs and the split matches; it fails on any significant metric.
    aa_rows = results[results["experiment_id"] == "EXP-AA"]
    assert primary.iloc[0]["health_check"] == ("failed" if aa_rows["significant"].any() else "passed")
    assert (
        primary_results(results.assign(significant=results["experiment_id"] == "EXP-AA")).iloc[0]["health_check"]
        == "failed"
    )
    assert primary_results(results.assign(srm_passed=False)).iloc[0]["health_check"] == "failed"
    # Mapping and fallback: conversion where asked, or where the metric is missing.
    chosen = primary_results(results, primary_metric={"OFFER": "conversion_rate"})
    assert chosen["metric"].tolist() == ["revenue_per_unit", "conversion_rate"]
    no_revenue = primary_results(experiment_results(_counts()[["experiment_id", "variant", "units", "conversions"]]))
    assert no_revenue["metric"].tolist() == ["conversion_rate", "conversion_rate"]
    assert primary_results(results, aa=[])["kind"].tolist() == ["ab", "ab"]  # ids given: no guessing
    assert primary_results(results.iloc[:0]).empty
    with pytest.raises(ValueError, match="Unknown primary_metric"):
        primary_results(results, primary_metric="revenue")


def _exposures():
    rows = []
    for exp, variants, last in (
        ("RUN", ["control", "B"], "2025-11-30 22:00"),
        ("OLD", ["control", "B"], "2025-11-20"),
        ("EXP-AA", ["control", "control_copy"], "2025-11-30"),
    ):
        for i in range(400):
            variant = variants[i % 2]
            converted = (i % 10 == 0) if variant == "control" else (i % 4 == 1)  # 20% vs 50%
            rows.append((exp, variant, f"{exp}-{i}", converted, pd.Timestamp(last) - pd.Timedelta(hours=i)))
    return pd.DataFrame(rows, columns=["experiment_id", "variant", "unit_id", "converted", "exposed_at"])


def test_experiment_status_running_or_ended():
    status = experiment_status(_exposures(), as_of="2025-12-01").set_index("experiment_id")
    assert status.loc["RUN", "status"] == "running" and status.loc["OLD", "status"] == "ended"
    assert status.loc["EXP-AA", "kind"] == "aa" and status.loc["RUN", "kind"] == "ab"
    assert status.loc["RUN", "units"] == 400 and status.loc["RUN", "variants"] == 2
    # 3 days before the end is the boundary; a later as_of ends everything; exposures after as_of are ignored.
    assert (experiment_status(_exposures(), as_of="2025-12-04")["status"] == "ended").all()
    early = experiment_status(_exposures(), as_of="2025-11-21").set_index("experiment_id")
    assert early.loc["OLD", "status"] == "running" and early.loc["RUN", "units"] < 400


def test_recommended_split_only_for_running_ab_tests_with_a_control_floor():
    split = recommended_split(_exposures(), as_of="2025-12-01", min_control_share=0.2)
    assert split["experiment_id"].unique().tolist() == ["RUN"]  # not the ended test, not the A/A test
    shares = split.set_index("variant")["recommended_share"]
    assert shares.sum() == pytest.approx(1.0)
    assert shares["control"] == pytest.approx(0.2)  # B converts 50% vs 20%: control held at the floor
    assert shares["B"] == pytest.approx(0.8)
    loose = recommended_split(_exposures(), as_of="2025-12-01", min_control_share=0.0).set_index("variant")
    assert loose.loc["control", "recommended_share"] < 0.01  # without a floor the control would vanish
    assert recommended_split(_exposures(), as_of="2026-01-01").empty
    with pytest.raises(ValueError, match="min_control_share is out of range"):
        recommended_split(_exposures(), as_of="2025-12-01", min_control_share=1.0)
