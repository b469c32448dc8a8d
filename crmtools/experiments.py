"""A/B tests: significance, intervals, power, a Bayesian view and a verdict code per comparison.

Every function takes either of two inputs, recognised by their columns:

*Unit rows*
    The canonical ``experiments`` table (see :mod:`crmtools.schema`): one row
    per exposed unit with ``experiment_id``, ``variant``, ``unit_id``,
    ``converted`` and ``revenue``. Column names can be changed with the
    ``*_col=`` keywords. Missing revenue counts as zero for units that did not
    convert; a converting unit without revenue makes revenue metrics refuse to
    run.
*Variant counts*
    One row per variant with ``variant``, ``units`` and ``conversions``, and
    optionally ``experiment_id``, ``revenue_sum`` and ``revenue_sumsq`` (the sum
    of squared per-unit revenue), e.g. the output of :func:`variant_summary`.
    Revenue per converting unit from counts assumes units that did not convert
    had no revenue.

Without an experiment column all rows are one experiment (reported with a
missing ``experiment_id``); so are variant counts whose ``experiment_id`` is
missing on every row, which is how such results come back, so the output of
:func:`variant_summary` can be passed back in. The control variant is called ``"control"``
unless ``control=`` says otherwise; every other variant is compared with it.

Methods, in the order the results table reports them:

1. **Sample ratio mismatch (SRM)**: a chi-square goodness-of-fit test of the
   unit counts against the planned split (equal by default). A p-value below
   ``srm_alpha`` (default 0.001) means the assignment is broken; the result
   is then marked untrustworthy and its verdict says so first.
2. **Conversion rate**: the pooled two-proportion z-test (as
   ``statsmodels.stats.proportion.proportions_ztest``); Fisher's exact test
   instead when an expected cell count of the 2x2 table is below 5. The
   difference and the ratio (relative lift + 1) have score intervals
   (Miettinen-Nurminen without the small-sample correction, as
   ``confint_proportions_2indep(method="score", correction=False)``), which
   are the inversion of that same z-test, so the interval excludes zero
   exactly when the unadjusted z-test is significant. For the difference,
   statsmodels 0.14-0.15 solves the restricted MLE with a wrong coefficient
   (statsmodels issue #10269); this module uses the correct
   Farrington-Manning cubic, so its difference interval can differ from
   statsmodels' in the third decimal. When a count is zero or equals the
   sample size the score interval is undefined and the Newcomb (difference)
   and adjusted log (ratio) intervals are used instead. ``method_used`` and
   ``method_reason`` say which test and intervals ran.
3. **Revenue per unit / per converting unit**: Welch's t-test with the
   Welch-Satterthwaite interval for the difference, and the delta-method
   (normal) interval for the relative lift; or a percentile bootstrap of both
   with an explicit ``random_state``. The delta-method interval and Welch's
   test are different approximations and can disagree near the threshold;
   the verdict then calls the result borderline.
4. **Multiple variants**: p-values are adjusted within each experiment and
   metric (Holm by default, Benjamini-Hochberg or Bonferroni by option, via
   ``statsmodels.stats.multitest.multipletests``). Intervals are not adjusted.
5. **Power**: the smallest relative lift the test could detect with the
   requested power (statsmodels ``NormalIndPower``; Cohen's h for rates), and
   an ``underpowered`` flag when that is larger than ``mde``.
6. **Bayesian view** (conversion only): with independent beta priors, the
   probability that the variant's rate beats control and the expected loss of
   shipping it (the expected shortfall against control, in rate points).
   Both are computed by deterministic numerical integration (composite
   Gauss-Legendre over the narrower posterior), not by Monte Carlo.
7. **Verdict**: a language-neutral code per comparison (:data:`VERDICTS`),
   the first that applies of ``srm_failed`` (the SRM check failed: do not
   act on the result), ``significant_better`` / ``significant_worse``
   (significant after adjustment; the sign of ``difference``),
   ``lift_undefined`` (not significant, and the control value is zero, so
   there is no relative lift), ``insufficient_data`` (not significant, and
   too little data to estimate the change) and ``not_significant``. Two flags
   qualify it: ``borderline`` (the test and the lift interval disagree) and
   ``underpowered``. The words are the reporting layer's:
   :func:`crmtools.reporting.findings.verdict_sentences` writes them, in
   English or Japanese, from these codes and the numbers of the row.

Examples
--------
>>> counts = pd.DataFrame({"variant": ["control", "B"], "units": [16000, 16000],
...                        "conversions": [1600, 1800]})
>>> res = conversion_test(counts)
>>> res.loc[0, ["relative_lift", "relative_lift_ci_low", "relative_lift_ci_high", "p_value"]].astype(float).round(4)
relative_lift            0.1250
relative_lift_ci_low     0.0556
relative_lift_ci_high    0.1990
p_value                  0.0003
Name: 0, dtype: float64
>>> res[["variant", "verdict", "borderline", "underpowered"]]
  variant             verdict  borderline  underpowered
0       B  significant_better       False         False
>>> conversion_test(variant_summary(counts))["verdict"].tolist()  # summaries go back in
['significant_better']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special, stats

from .checks import require_columns, require_frame

__all__ = [
    "AA_BORDERLINE_P",
    "ALLOCATION_COLUMNS",
    "PRIMARY_COLUMNS",
    "RESULT_COLUMNS",
    "SRM_COLUMNS",
    "STATUS_COLUMNS",
    "SUMMARY_COLUMNS",
    "VERDICTS",
    "conversion_test",
    "detectable_effect",
    "experiment_results",
    "experiment_status",
    "is_aa_test",
    "primary_results",
    "recommended_split",
    "required_sample_size",
    "revenue_test",
    "srm_check",
    "thompson_allocation",
    "variant_summary",
]

#: Columns of :func:`variant_summary`, in order.
SUMMARY_COLUMNS = [
    "experiment_id",
    "variant",
    "units",
    "conversions",
    "conversion_rate",
    "revenue_sum",
    "revenue_sumsq",
    "revenue_per_unit",
]

#: Columns of :func:`srm_check`, in order.
SRM_COLUMNS = ["experiment_id", "variants", "total_units", "statistic", "df", "p_value", "srm_alpha", "passed"]

#: Columns of :func:`conversion_test`, :func:`revenue_test` and :func:`experiment_results`, in order.
RESULT_COLUMNS = [
    "experiment_id",
    "metric",
    "control",
    "variant",
    "srm_p_value",
    "srm_passed",
    "control_units",
    "variant_units",
    "control_value",
    "variant_value",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "relative_lift",
    "relative_lift_ci_low",
    "relative_lift_ci_high",
    "statistic",
    "p_value",
    "p_value_adjusted",
    "correction",
    "comparisons",
    "alpha",
    "significant",
    "method_used",
    "method_reason",
    "detectable_lift",
    "mde",
    "underpowered",
    "prob_beats_control",
    "expected_loss",
    "trustworthy",
    "borderline",
    "verdict",
]

#: The codes of the ``verdict`` column, in order of precedence (the first that applies is reported).
VERDICTS = (
    "srm_failed",
    "significant_better",
    "significant_worse",
    "lift_undefined",
    "insufficient_data",
    "not_significant",
)

#: Columns of :func:`thompson_allocation`, in order.
ALLOCATION_COLUMNS = [
    "experiment_id",
    "variant",
    "units",
    "conversions",
    "posterior_mean",
    "prob_best",
    "recommended_share",
]

_METRICS = ("conversion_rate", "revenue_per_unit", "revenue_per_converter")
_CORRECTIONS = {"holm": "holm", "bh": "fdr_bh", "fdr_bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}
_NO_EXPERIMENT = "\x00"  # internal key when the input has no experiment column
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
_GL_PANELS = 8
_TAIL = 1e-15  # posterior mass left outside the integration range on each side


# --------------------------------------------------------------------------- validation and input


def _fail(what: str, allowed: str, received) -> ValueError:
    return ValueError(f"{what}; allowed: {allowed}; received: {received!r}.")


def _check_probability(name: str, value, *, inclusive_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; allowed: a float between 0 and 1; received: {value!r}.")
    value = float(value)
    ok = (0 <= value < 1) if inclusive_low else (0 < value < 1)
    if not ok:
        bounds = "0 <= x < 1" if inclusive_low else "0 < x < 1"
        raise _fail(f"{name} is out of range", bounds, value)
    return value


def _check_choice(name: str, value, options) -> None:
    if value not in options:
        raise _fail(f"Unknown {name}", ", ".join(repr(o) for o in options), value)


def _is_counts(data: pd.DataFrame) -> bool:
    return "units" in data.columns and "conversions" in data.columns


def _experiment_key(data: pd.DataFrame, experiment_col: str, *, counts: bool = False) -> pd.Series:
    # In variant counts, an id missing on every row is how this module's results say "no experiment
    # column" (see _restore_experiment), so that they can be passed back in: one unnamed experiment.
    # Unit rows are raw data, where missing ids are a data problem.
    if experiment_col not in data.columns or (counts and len(data) and data[experiment_col].isna().all()):
        return pd.Series(_NO_EXPERIMENT, index=data.index, dtype="str")
    key = data[experiment_col]
    if key.isna().any():
        rows = list(key.index[key.isna()][:5])
        raise ValueError(
            f"Column {experiment_col!r} has missing experiment ids at rows {rows}; allowed: a "
            f"non-missing id on every row; received: {int(key.isna().sum())} missing."
        )
    return key.astype("str")


def _as_flags(values: pd.Series, column: str) -> np.ndarray:
    if values.isna().any():
        rows = list(values.index[values.isna()][:5])
        raise ValueError(
            f"Column {column!r} has {int(values.isna().sum())} missing values; allowed: True/False "
            f"or 1/0 on every row; received missing values at rows {rows}."
        )
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values):
        bad = ~values.isin([0, 1])
        if not bad.any():
            return values.to_numpy(dtype=float) == 1
        raise ValueError(
            f"Column {column!r} must hold conversion flags; allowed: True/False or 1/0; received "
            f"{values[bad].head(3).tolist()} at rows {list(values.index[bad][:3])}."
        )
    raise TypeError(
        f"Column {column!r} must hold conversion flags; allowed: bool or 0/1 numbers; received dtype {values.dtype}."
    )


def _summary_from_rows(
    data: pd.DataFrame, *, experiment_col: str, variant_col: str, unit_col: str, converted_col: str, revenue_col: str
) -> pd.DataFrame:
    """Per experiment and variant: units, conversions, revenue moments over all units and over converters."""
    require_columns(
        data,
        [variant_col, converted_col],
        name="The experiment table",
        hint="Name your own columns with the *_col= arguments.",
    )
    exp = _experiment_key(data, experiment_col)
    variant = data[variant_col]
    if variant.isna().any():
        raise ValueError(
            f"Column {variant_col!r} has missing variant names; allowed: a name on every row; "
            f"received missing values at rows {list(variant.index[variant.isna()][:5])}."
        )
    converted = _as_flags(data[converted_col], converted_col)
    if unit_col in data.columns:
        dup = pd.DataFrame({"e": exp, "u": data[unit_col]}).duplicated(keep=False)
        if dup.any():
            raise ValueError(
                f"Units appear more than once in an experiment (column {unit_col!r}); allowed: one "
                f"row per unit and experiment; received {int(dup.sum())} duplicated rows, e.g. rows "
                f"{list(data.index[dup.to_numpy()][:5])}."
            )
    if revenue_col in data.columns:
        rev = data[revenue_col]
        if not pd.api.types.is_numeric_dtype(rev):
            raise TypeError(
                f"Column {revenue_col!r} must be numeric; allowed: numbers (missing = no revenue for "
                f"units that did not convert); received dtype {rev.dtype}."
            )
        rev = rev.to_numpy(dtype=float)
        missing = np.isnan(rev)
        rev = np.where(missing & ~converted, 0.0, rev)  # NaN stays only for converters without revenue
    else:
        rev = np.full(len(data), np.nan)
    frame = pd.DataFrame(
        {
            "experiment_id": exp.to_numpy(),
            "variant": variant.astype("str").to_numpy(),
            "converted": converted,
            "revenue": rev,
            "rev_conv": np.where(converted, rev, np.nan),
        }
    )
    frame["revenue_sq"] = frame["revenue"] ** 2
    g = frame.groupby(["experiment_id", "variant"], sort=True)
    out = g.agg(
        units=("converted", "size"),
        conversions=("converted", "sum"),
        revenue_sum=("revenue", lambda s: s.sum(skipna=False)),
        revenue_sumsq=("revenue_sq", lambda s: s.sum(skipna=False)),
        mean_unit=("revenue", lambda s: s.mean(skipna=False)),
        var_unit=("revenue", lambda s: s.var(ddof=1, skipna=False)),
        mean_conv=("rev_conv", "mean"),
        var_conv=("rev_conv", "var"),
    )
    out = out.reset_index()
    converter_nan = (
        frame.assign(bad=frame["converted"] & frame["revenue"].isna())
        .groupby(["experiment_id", "variant"], sort=True)["bad"]
        .any()
        .to_numpy()
    )
    out.loc[converter_nan, ["mean_conv", "var_conv"]] = np.nan
    out["units"] = out["units"].astype("int64")
    out["conversions"] = out["conversions"].astype("int64")
    return out


def _summary_from_counts(data: pd.DataFrame, *, experiment_col: str, variant_col: str) -> pd.DataFrame:
    require_columns(data, [variant_col, "units", "conversions"], name="The variant counts table")
    exp = _experiment_key(data, experiment_col, counts=True)
    out = pd.DataFrame({"experiment_id": exp.to_numpy(), "variant": data[variant_col].astype("str").to_numpy()})
    for col in ("units", "conversions"):
        values = data[col]
        if (
            not pd.api.types.is_numeric_dtype(values)
            or values.isna().any()
            or not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0)
            or (values < 0).any()
        ):
            raise ValueError(
                f"Column {col!r} must hold whole counts; allowed: integers >= 0 without missing "
                f"values; received {values.head(5).tolist()}."
            )
        out[col] = values.to_numpy(dtype="int64")
    if (out["conversions"] > out["units"]).any():
        bad = out.index[out["conversions"] > out["units"]].tolist()
        raise ValueError(
            f"conversions exceed units at rows {bad[:5]}; allowed: 0 <= conversions <= units; "
            f"received {out.loc[bad[:5], ['units', 'conversions']].to_dict('records')}."
        )
    repeated = out.duplicated(["experiment_id", "variant"])
    if repeated.any():
        raise ValueError(
            "The variant counts table repeats a variant; allowed: one row per experiment and "
            f"variant; received duplicates {out.loc[repeated, 'variant'].tolist()}."
        )
    for col in ("revenue_sum", "revenue_sumsq"):
        out[col] = data[col].to_numpy(dtype=float) if col in data.columns else np.nan
    n = out["units"].to_numpy(dtype=float)
    conv = out["conversions"].to_numpy(dtype=float)
    s, ss = out["revenue_sum"].to_numpy(), out["revenue_sumsq"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_unit"] = np.where(n > 0, s / n, np.nan)
        out["var_unit"] = np.where(n > 1, np.maximum(ss - s * s / n, 0.0) / (n - 1), np.nan)
        out["mean_conv"] = np.where(conv > 0, s / conv, np.nan)
        out["var_conv"] = np.where(conv > 1, np.maximum(ss - s * s / conv, 0.0) / (conv - 1), np.nan)
    return out.sort_values(["experiment_id", "variant"], kind="stable").reset_index(drop=True)


def _summary(data, cols: dict) -> pd.DataFrame:
    require_frame(data, name="data", allowed="experiment unit rows or variant counts (a pandas DataFrame)")
    if _is_counts(data):
        return _summary_from_counts(data, experiment_col=cols["experiment_col"], variant_col=cols["variant_col"])
    if cols["converted_col"] in data.columns:
        return _summary_from_rows(data, **cols)
    raise ValueError(
        f"Cannot tell what the table holds; allowed: unit rows with columns "
        f"[{cols['variant_col']!r}, {cols['converted_col']!r}] or variant counts with columns "
        f"['variant', 'units', 'conversions']; received columns: {list(data.columns)}."
    )


def _restore_experiment(values) -> pd.Series:
    out = pd.Series(values, dtype="str")
    return out.mask(out == _NO_EXPERIMENT)


# --------------------------------------------------------------------------- SRM


def _expected_weights(summary: pd.DataFrame, expected_split) -> np.ndarray:
    if expected_split is None:
        return np.ones(len(summary))
    if not isinstance(expected_split, Mapping):
        raise TypeError(
            f"expected_split must be a mapping; allowed: None (equal split), {{variant: weight}} or "
            f"{{experiment_id: {{variant: weight}}}}; received: {type(expected_split).__name__}."
        )
    nested = all(isinstance(v, Mapping) for v in expected_split.values()) and len(expected_split) > 0
    weights = np.empty(len(summary))
    for i, (exp, var) in enumerate(zip(summary["experiment_id"], summary["variant"])):
        split = expected_split.get(exp, {}) if nested else expected_split
        if nested and exp not in expected_split:
            weights[i] = 1.0
            continue
        if var not in split:
            raise ValueError(
                f"expected_split has no weight for variant {var!r}; allowed: a weight for every "
                f"variant; received weights for {sorted(split)}."
            )
        w = split[var]
        if not isinstance(w, (int, float, np.integer, np.floating)) or isinstance(w, bool) or not w > 0:
            raise ValueError(
                f"expected_split weight for {var!r} is invalid; allowed: a positive number; received: {w!r}."
            )
        weights[i] = float(w)
    return weights


def _srm(summary: pd.DataFrame, expected_split, srm_alpha: float) -> pd.DataFrame:
    weights = _expected_weights(summary, expected_split)
    frame = pd.DataFrame(
        {
            "experiment_id": summary["experiment_id"].to_numpy(),
            "units": summary["units"].to_numpy(dtype=float),
            "w": weights,
        }
    )
    g = frame.groupby("experiment_id", sort=True)
    total = g["units"].transform("sum").to_numpy()
    share = frame["w"].to_numpy() / g["w"].transform("sum").to_numpy()
    expected = total * share
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["term"] = np.where(expected > 0, (frame["units"].to_numpy() - expected) ** 2 / expected, 0.0)
    agg = (
        frame.groupby("experiment_id", sort=True)
        .agg(variants=("units", "size"), total_units=("units", "sum"), statistic=("term", "sum"))
        .reset_index()
    )
    agg["df"] = agg["variants"] - 1
    with np.errstate(invalid="ignore"):
        p = stats.chi2.sf(agg["statistic"].to_numpy(), agg["df"].to_numpy())
    p = np.where(agg["df"].to_numpy() > 0, p, np.nan)
    agg["p_value"] = p
    agg["srm_alpha"] = srm_alpha
    agg["passed"] = ~(p < srm_alpha)
    agg["variants"] = agg["variants"].astype("int64")
    agg["total_units"] = agg["total_units"].astype("int64")
    agg["df"] = agg["df"].astype("int64")
    return agg[SRM_COLUMNS]


# --------------------------------------------------------------------------- intervals


def _bisect(func, lo: np.ndarray, hi: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Root of an increasing-then-sign-changing ``func`` in each [lo, hi], where func(lo) > 0 >= func(hi).

    Values where ``func`` is not finite count as positive (outside the interval from the low side).
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        value = func(mid)
        positive = ~(value <= 0)
        lo = np.where(positive, mid, lo)
        hi = np.where(positive, hi, mid)
        if np.all((hi - lo) <= 4 * np.finfo(float).eps * np.maximum(np.abs(lo), np.abs(hi)) + 1e-300):
            break
    return 0.5 * (lo + hi)


def _score_z_diff(delta, x1, n1, x0, n0):
    """Miettinen-Nurminen score statistic for p1 - p0 = delta (no small-sample correction).

    The restricted MLE of p0 is the root in range of the Farrington-Manning cubic
    ``N p^3 + t2 p^2 + t1 p + t0`` (trigonometric solution). statsmodels 0.14-0.15 has ``x0`` where
    ``n0`` belongs in ``t1`` (statsmodels issue #10269), which makes its score test and interval for a
    difference wrong whenever the hypothesised difference is not zero; this uses the correct coefficient.
    """
    n, x = n1 + n0, x1 + x0
    p1, p0 = x1 / n1, x0 / n0
    with np.errstate(divide="ignore", invalid="ignore"):
        t3 = n
        t2 = (n1 + 2 * n0) * delta - n - x
        t1 = (n0 * delta - n - 2 * x0) * delta + x
        t0 = x0 * delta * (1 - delta)
        q = (t2 / (3 * t3)) ** 3 - t1 * t2 / (6 * t3**2) + t0 / (2 * t3)
        p = np.where(q < 0, -1.0, 1.0) * np.sqrt((t2 / (3 * t3)) ** 2 - t1 / (3 * t3))
        a = (np.pi + np.arccos(np.clip(q / p**3, -1.0, 1.0))) / 3
        prop0 = 2 * p * np.cos(a) - t2 / (3 * t3)
        prop0 = np.where(delta == 0, x / n, prop0)
        prop1 = prop0 + delta
        var = prop1 * (1 - prop1) / n1 + prop0 * (1 - prop0) / n0
        return (p1 - p0 - delta) / np.sqrt(var)


def _score_z_ratio(log_ratio, x1, n1, x0, n0):
    """Miettinen-Nurminen score statistic for p1 / p0 = exp(log_ratio) (no small-sample correction)."""
    ratio = np.exp(log_ratio)
    n, x = n1 + n0, x1 + x0
    p1, p0 = x1 / n1, x0 / n0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = n * ratio
        b = -(n1 * ratio + x1 + n0 + x0 * ratio)
        prop0 = (-b - np.sqrt(b**2 - 4 * a * x)) / (2 * a)
        prop0 = np.where(ratio == 1, x / n, prop0)
        prop1 = prop0 * ratio
        var = prop1 * (1 - prop1) / n1 + ratio**2 * prop0 * (1 - prop0) / n0
        return (p1 - ratio * p0) / np.sqrt(var)


def _wilson(x, n, z):
    q = x / n
    denom = 1 + z**2 / n
    center = (q + z**2 / (2 * n)) / denom
    half = z * np.sqrt(q * (1 - q) / n + z**2 / (4 * n**2)) / denom
    return center - half, center + half


def _proportion_intervals(x1, n1, x0, n0, alpha):
    """Difference and ratio intervals for variant (1) against control (0), with the method used."""
    z = stats.norm.isf(alpha / 2)
    p1, p0 = x1 / n1, x0 / n0
    diff = p1 - p0
    score_ok = (x1 > 0) & (x1 < n1) & (x0 > 0) & (x0 < n0)
    d_low, d_high = np.full(diff.shape, np.nan), np.full(diff.shape, np.nan)
    r_low, r_high = np.full(diff.shape, np.nan), np.full(diff.shape, np.nan)
    if score_ok.any():
        a1, m1, a0, m0, d = x1[score_ok], n1[score_ok], x0[score_ok], n0[score_ok], diff[score_ok]
        d_low[score_ok] = _bisect(lambda v: _score_z_diff(v, a1, m1, a0, m0) - z, np.full(d.shape, -1.0 + 1e-12), d)
        d_high[score_ok] = _bisect(lambda v: _score_z_diff(v, a1, m1, a0, m0) + z, d, np.full(d.shape, 1.0 - 1e-12))
        log_r = np.log((a1 / m1) / (a0 / m0))
        r_low[score_ok] = np.exp(_bisect(lambda v: _score_z_ratio(v, a1, m1, a0, m0) - z, log_r - 40.0, log_r))
        r_high[score_ok] = np.exp(_bisect(lambda v: _score_z_ratio(v, a1, m1, a0, m0) + z, log_r, log_r + 40.0))
    other = ~score_ok
    if other.any():
        a1, m1, a0, m0 = x1[other], n1[other], x0[other], n0[other]
        l1, u1 = _wilson(a1, m1, z)
        l0, u0 = _wilson(a0, m0, z)
        q1, q0 = a1 / m1, a0 / m0
        d_low[other] = q1 - q0 - np.sqrt((q1 - l1) ** 2 + (u0 - q0) ** 2)
        d_high[other] = q1 - q0 + np.sqrt((q0 - l0) ** 2 + (u1 - q1) ** 2)
        c1, k1, c0, k0 = a1 + 0.5, m1 + 0.5, a0 + 0.5, m0 + 0.5
        log_r = np.log((c1 / k1) / (c0 / k0))
        half = z * np.sqrt(1 / c1 - 1 / k1 + 1 / c0 - 1 / k0)
        defined = a0 > 0
        r_low[other] = np.where(defined, np.exp(log_r - half), np.nan)
        r_high[other] = np.where(defined, np.exp(log_r + half), np.nan)
    return d_low, d_high, r_low, r_high, score_ok


# --------------------------------------------------------------------------- power


def _power_multiplier(alpha: float, power: float, alternative: str = "two-sided") -> float:
    """k such that a z-test reaches ``power`` when effect_size * sqrt(n_eff) = k (statsmodels normal_power)."""
    if alternative != "two-sided":
        return float(stats.norm.isf(alpha) + stats.norm.ppf(power))
    crit = stats.norm.isf(alpha / 2)

    def gap(k):
        return stats.norm.sf(crit - k) + stats.norm.cdf(-crit - k) - power

    if gap(0.0) >= 0:  # the requested power is already reached without any effect
        return 0.0
    return float(optimize.brentq(gap, 0.0, 50.0, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def _detectable_rate(baseline, es):
    """Rate whose Cohen's h above ``baseline`` is ``es`` (NaN when above 1)."""
    angle = np.arcsin(np.sqrt(baseline)) + es / 2
    return np.where(angle <= np.pi / 2, np.sin(np.minimum(angle, np.pi / 2)) ** 2, np.nan)


def required_sample_size(
    baseline_rate: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = True,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> int:
    """Units needed in the control group to detect a conversion lift.

    Uses statsmodels' ``NormalIndPower`` with Cohen's h
    (``proportion_effectsize``) for the rates ``baseline_rate`` and
    ``baseline_rate * (1 + mde)`` (or ``baseline_rate + mde`` when
    ``relative=False``).

    Parameters
    ----------
    baseline_rate : float
        Expected control conversion rate, between 0 and 1.
    mde : float
        Minimum detectable effect: a relative lift (``0.1`` = +10%) or, with
        ``relative=False``, a difference in rate points (``0.01`` = +1 point).
        Negative values plan for a drop.
    alpha : float, default=0.05
        Significance level.
    power : float, default=0.8
        Probability of detecting the effect when it is real.
    relative : bool, default=True
        Whether ``mde`` is relative to the baseline.
    ratio : float, default=1.0
        Units in each variant per control unit (1 = equal split).
    alternative : {"two-sided", "larger", "smaller"}, default="two-sided"
        Alternative hypothesis, as in statsmodels.

    Returns
    -------
    int
        Control units, rounded up; each variant needs ``ceil(ratio * n)``.

    Examples
    --------
    >>> required_sample_size(0.10, 0.10)
    14745
    >>> required_sample_size(0.10, 0.01, relative=False)
    14745
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    baseline_rate = _check_probability("baseline_rate", baseline_rate)
    alpha, power = _check_probability("alpha", alpha), _check_probability("power", power)
    _check_choice("alternative", alternative, ("two-sided", "larger", "smaller"))
    if not isinstance(ratio, (int, float)) or not ratio > 0:
        raise _fail("ratio must be positive", "a number > 0", ratio)
    if not isinstance(mde, (int, float)) or isinstance(mde, bool) or mde == 0 or not math.isfinite(mde):
        raise _fail("mde must be a non-zero number", "a relative lift such as 0.1 or a rate difference", mde)
    target = baseline_rate * (1 + mde) if relative else baseline_rate + mde
    if not 0 < target < 1:
        raise _fail("baseline_rate with mde gives a rate outside (0, 1)", "a target rate between 0 and 1", target)
    es = abs(proportion_effectsize(target, baseline_rate))
    # statsmodels' nobs1 is the first group; with ratio = nobs2 / nobs1 we call the control group 1.
    n = NormalIndPower().solve_power(
        effect_size=es,
        nobs1=None,
        alpha=alpha,
        power=power,
        ratio=ratio,
        alternative="two-sided" if alternative == "two-sided" else "larger",
    )
    return math.ceil(float(np.asarray(n).item()) - 1e-9)


def detectable_effect(
    n_per_variant: float,
    baseline_rate: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = True,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Smallest upward conversion effect a test of this size detects with the given power.

    The inverse of :func:`required_sample_size`: the Cohen's h at which
    statsmodels' ``NormalIndPower.power`` equals ``power`` (solved to machine
    precision), turned back into a rate above ``baseline_rate``.

    Parameters
    ----------
    n_per_variant : float
        Control units (each variant has ``ratio`` times as many).
    baseline_rate : float
        Control conversion rate, between 0 and 1.
    alpha, power, ratio, alternative
        As in :func:`required_sample_size`.
    relative : bool, default=True
        Return a relative lift (``0.1`` = +10%) rather than a difference in rate points.

    Returns
    -------
    float
        The detectable effect; NaN when even a rate of 1 would not be detected.

    Examples
    --------
    >>> round(detectable_effect(14745, 0.10), 4)
    0.1
    """
    baseline_rate = _check_probability("baseline_rate", baseline_rate)
    alpha, power = _check_probability("alpha", alpha), _check_probability("power", power)
    _check_choice("alternative", alternative, ("two-sided", "larger", "smaller"))
    if not isinstance(n_per_variant, (int, float, np.integer, np.floating)) or not n_per_variant > 1:
        raise _fail("n_per_variant is too small", "a number of units > 1", n_per_variant)
    if not isinstance(ratio, (int, float)) or not ratio > 0:
        raise _fail("ratio must be positive", "a number > 0", ratio)
    # Solve statsmodels' normal_power(es, n_eff, alpha) = power for es in closed form up to one scalar root
    # (NormalIndPower.solve_power does the same with a looser tolerance).
    n_eff = 1.0 / (1.0 / float(n_per_variant) + 1.0 / (float(n_per_variant) * ratio))
    es = _power_multiplier(alpha, power, alternative) / math.sqrt(n_eff)
    target = float(_detectable_rate(np.float64(baseline_rate), es))
    return target / baseline_rate - 1 if relative else target - baseline_rate


# --------------------------------------------------------------------------- Bayesian


def _panel_nodes(lo: np.ndarray, hi: np.ndarray):
    """Composite Gauss-Legendre nodes and weights on each [lo, hi] (rows x nodes)."""
    edges = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _GL_PANELS + 1)[None, :]
    left, width = edges[:, :-1], np.diff(edges, axis=1)
    x = left[:, :, None] + width[:, :, None] * (_GL_NODES[None, None, :] + 1) / 2
    w = width[:, :, None] / 2 * _GL_WEIGHTS[None, None, :]
    return x.reshape(len(lo), -1), w.reshape(len(lo), -1)


def _beta_compare(a1, b1, a0, b0):
    """P(X1 > X0) and E[max(X0 - X1, 0)] for independent X1 ~ Beta(a1, b1), X0 ~ Beta(a0, b0)."""
    a1, b1, a0, b0 = (np.asarray(v, dtype=float) for v in (a1, b1, a0, b0))
    prob, loss = np.full(a1.shape, np.nan), np.full(a1.shape, np.nan)
    _m1, m0 = a1 / (a1 + b1), a0 / (a0 + b0)
    var1 = a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1))
    var0 = a0 * b0 / ((a0 + b0) ** 2 * (a0 + b0 + 1))
    smooth = (a1 >= 1) & (b1 >= 1) & (a0 >= 1) & (b0 >= 1)
    over1 = smooth & (var1 <= var0)  # integrate over the narrower posterior
    over0 = smooth & ~over1
    for mask, (an, bn), (ao, bo), flip in ((over1, (a1, b1), (a0, b0), False), (over0, (a0, b0), (a1, b1), True)):
        if not mask.any():
            continue
        a, b = an[mask], bn[mask]
        x, w = _panel_nodes(special.betaincinv(a, b, _TAIL), special.betaincinv(a, b, 1 - _TAIL))
        wf = w * np.exp(
            (a[:, None] - 1) * np.log(x) + (b[:, None] - 1) * np.log1p(-x) - special.betaln(a, b)[:, None]
        )  # weights times the narrower density
        ao_, bo_ = ao[mask][:, None], bo[mask][:, None]
        cdf = special.betainc(ao_, bo_, x)  # the other posterior's CDF
        # I_x(a + 1, b) = I_x(a, b) - term, so one incomplete beta call per node is enough.
        term = np.exp(ao_ * np.log(x) + bo_ * np.log1p(-x) - np.log(ao_) - special.betaln(ao_, bo_))
        m_other = ao_ / (ao_ + bo_)
        if not flip:  # narrower is the variant (1); the other is control (0)
            prob[mask] = np.sum(wf * cdf, axis=1)
            loss[mask] = np.sum(wf * (m_other * (1 - cdf + term) - x * (1 - cdf)), axis=1)
        else:  # narrower is control (0); the other is the variant (1)
            prob[mask] = 1 - np.sum(wf * cdf, axis=1)
            loss[mask] = np.sum(wf * ((x - m_other) * cdf + m_other * term), axis=1)
    for i in np.flatnonzero(~smooth):  # priors below 1 can give unbounded densities: adaptive quadrature
        d1, d0 = stats.beta(a1[i], b1[i]), stats.beta(a0[i], b0[i])
        prob[i] = integrate.quad(lambda t: d1.pdf(t) * d0.cdf(t), 0, 1, limit=200, epsabs=1e-13)[0]
        loss[i] = integrate.quad(
            lambda t: (
                d1.pdf(t) * (m0[i] * special.betaincc(a0[i] + 1, b0[i], t) - t * special.betaincc(a0[i], b0[i], t))
            ),
            0,
            1,
            limit=200,
            epsabs=1e-13,
        )[0]
    return np.clip(prob, 0.0, 1.0), np.maximum(loss, 0.0)


def _check_prior(prior) -> tuple[float, float]:
    ok = (
        isinstance(prior, (tuple, list))
        and len(prior) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in prior)
    )
    if not ok:
        raise _fail(
            "prior must be two positive numbers (alpha, beta) of a beta distribution",
            "e.g. (1.0, 1.0) for a uniform prior",
            prior,
        )
    return float(prior[0]), float(prior[1])


# --------------------------------------------------------------------------- comparisons


def _pairs(summary: pd.DataFrame, control: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Control and variant rows aligned, one per comparison."""
    with_control = set(summary.loc[summary["variant"] == control, "experiment_id"])
    missing = sorted(set(summary["experiment_id"]) - with_control)
    if missing:
        shown = [None if m == _NO_EXPERIMENT else m for m in missing[:5]]
        variants = sorted(summary.loc[summary["experiment_id"] == missing[0], "variant"].unique())
        raise ValueError(
            f"No control variant {control!r} in experiment(s) {shown}; allowed: a variant named "
            f"{control!r} (or pass control=...); received variants {variants}."
        )
    ctrl = summary[summary["variant"] == control].set_index("experiment_id")
    var = summary[summary["variant"] != control].reset_index(drop=True)
    ctrl = ctrl.loc[var["experiment_id"]].reset_index()
    return ctrl, var


def _adjust(frame: pd.DataFrame, method: str | None) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    p = frame["p_value"].to_numpy(dtype=float)
    adjusted = p.copy()
    if method is None or frame.empty:
        return adjusted
    sizes = frame.groupby(["experiment_id", "metric"], sort=False)["p_value"].transform("size").to_numpy()
    for _, idx in frame[sizes > 1].groupby(["experiment_id", "metric"], sort=False).indices.items():
        rows = frame.index[sizes > 1][idx]
        pos = frame.index.get_indexer(rows)
        values = p[pos]
        finite = np.isfinite(values)
        if finite.sum() > 1:
            adjusted[pos[finite]] = multipletests(values[finite], method=method)[1]
    return adjusted


def _verdict_codes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The ``verdict`` code (see :data:`VERDICTS`) and the ``borderline`` flag of each comparison."""
    lift = frame["relative_lift"].to_numpy(dtype=float)
    low = frame["relative_lift_ci_low"].to_numpy(dtype=float)
    high = frame["relative_lift_ci_high"].to_numpy(dtype=float)
    p = frame["p_value"].to_numpy(dtype=float)
    significant = frame["significant"].to_numpy(dtype=bool)
    difference = frame["difference"].to_numpy(dtype=float)
    no_lift = ~np.isfinite(lift)
    verdict = np.select(
        [
            ~frame["srm_passed"].to_numpy(dtype=bool),
            significant & (difference > 0),
            significant & (difference < 0),
            no_lift & (frame["control_value"].to_numpy(dtype=float) == 0),
            no_lift,
        ],
        ["srm_failed", "significant_better", "significant_worse", "lift_undefined", "insufficient_data"],
        default="not_significant",
    )
    # The lift interval and the (unadjusted) test use different approximations and can disagree.
    with np.errstate(invalid="ignore"):
        checkable = np.isfinite(lift) & np.isfinite(low) & np.isfinite(high) & np.isfinite(p)
        borderline = checkable & (((low > 0) | (high < 0)) != (p < frame["alpha"].to_numpy(dtype=float)))
    return verdict, borderline


def _finish(
    frame: pd.DataFrame, srm: pd.DataFrame, *, alpha: float, correction: str | None, mde: float
) -> pd.DataFrame:
    """Add SRM, adjusted p-values, significance, trust and verdicts; order the columns."""
    frame = frame.reset_index(drop=True)
    srm_by = srm.set_index("experiment_id")
    frame["srm_p_value"] = srm_by["p_value"].reindex(frame["experiment_id"]).to_numpy()
    frame["srm_passed"] = srm_by["passed"].reindex(frame["experiment_id"]).to_numpy(dtype=bool)
    frame["p_value_adjusted"] = _adjust(frame, correction)
    frame["correction"] = correction if correction is not None else "none"
    frame["comparisons"] = (
        frame.groupby(["experiment_id", "metric"], sort=False)["variant"].transform("size").to_numpy(dtype="int64")
    )
    frame["alpha"] = alpha
    frame["significant"] = frame["p_value_adjusted"].to_numpy() < alpha
    det = frame["detectable_lift"].to_numpy(dtype=float)
    frame["mde"] = mde
    frame["underpowered"] = ~(det <= mde)
    frame["trustworthy"] = frame["srm_passed"]
    frame["verdict"], frame["borderline"] = _verdict_codes(frame)
    frame["experiment_id"] = _restore_experiment(frame["experiment_id"])
    for col in ("metric", "control", "variant", "correction", "method_used", "method_reason", "verdict"):
        frame[col] = frame[col].astype("str")
    return frame[RESULT_COLUMNS]


def _empty_results() -> pd.DataFrame:
    dtypes = {c: "float64" for c in RESULT_COLUMNS}
    dtypes.update(
        {
            c: "str"
            for c in (
                "experiment_id",
                "metric",
                "control",
                "variant",
                "correction",
                "method_used",
                "method_reason",
                "verdict",
            )
        }
    )
    dtypes.update({c: "bool" for c in ("srm_passed", "significant", "underpowered", "trustworthy", "borderline")})
    dtypes.update({"control_units": "int64", "variant_units": "int64", "comparisons": "int64"})
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in RESULT_COLUMNS})


def _common_checks(alpha, power, mde, correction, srm_alpha):
    alpha = _check_probability("alpha", alpha)
    power = _check_probability("power", power)
    srm_alpha = _check_probability("srm_alpha", srm_alpha)
    if isinstance(mde, bool) or not isinstance(mde, (int, float)) or not mde > 0:
        raise _fail("mde must be a positive relative lift", "a number > 0 such as 0.1 (= 10%)", mde)
    _check_choice("correction", correction, tuple(_CORRECTIONS))
    return alpha, power, float(mde), _CORRECTIONS[correction], srm_alpha


def variant_summary(
    data: pd.DataFrame,
    *,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """Units, conversions and revenue per experiment and variant.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows, or variant counts (returned tidied).
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows (canonical names by default).

    Returns
    -------
    pandas.DataFrame
        One row per experiment and variant, sorted, with columns
        ``experiment_id``, ``variant``, ``units``, ``conversions``,
        ``conversion_rate``, ``revenue_sum``, ``revenue_sumsq`` (sum of squared
        per-unit revenue) and ``revenue_per_unit``. Revenue columns are NaN
        when there is no revenue column or a converting unit lacks revenue.
        This frame is accepted as input by every function of this module
        (without an experiment column, its ``experiment_id`` is missing on
        every row and it is read back as one experiment).

    Examples
    --------
    >>> rows = pd.DataFrame({"variant": ["control", "control", "B", "B"], "unit_id": list("abcd"),
    ...                      "converted": [True, False, True, True], "revenue": [100.0, None, 50.0, 70.0]})
    >>> variant_summary(rows)[["variant", "units", "conversions", "revenue_sum", "revenue_sumsq"]]
       variant  units  conversions  revenue_sum  revenue_sumsq
    0        B      2            2        120.0         7400.0
    1  control      2            1        100.0        10000.0
    """
    summary = _summary(
        data,
        dict(
            experiment_col=experiment_col,
            variant_col=variant_col,
            unit_col=unit_col,
            converted_col=converted_col,
            revenue_col=revenue_col,
        ),
    )
    units = summary["units"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(units > 0, summary["conversions"].to_numpy() / units, np.nan)
        per_unit = np.where(units > 0, summary["revenue_sum"].to_numpy() / units, np.nan)
    out = pd.DataFrame(
        {
            "experiment_id": _restore_experiment(summary["experiment_id"].to_numpy()),
            "variant": pd.Series(summary["variant"].to_numpy(), dtype="str"),
            "units": summary["units"].to_numpy(dtype="int64"),
            "conversions": summary["conversions"].to_numpy(dtype="int64"),
            "conversion_rate": rate,
            "revenue_sum": summary["revenue_sum"].to_numpy(dtype=float),
            "revenue_sumsq": summary["revenue_sumsq"].to_numpy(dtype=float),
            "revenue_per_unit": per_unit,
        }
    )
    return out[SUMMARY_COLUMNS]


def srm_check(
    data: pd.DataFrame,
    *,
    expected_split: Mapping | None = None,
    srm_alpha: float = 0.001,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """Sample ratio mismatch: do the unit counts match the planned split?

    A chi-square goodness-of-fit test (as ``scipy.stats.chisquare``) of the
    units per variant against ``expected_split``. Check it first: when it
    fails, randomisation or logging is broken and no effect estimate can be
    trusted.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows or variant counts.
    expected_split : mapping or None, default=None
        Planned weights ``{variant: weight}`` (any positive numbers, e.g.
        ``{"control": 1, "B": 2}``), or ``{experiment_id: {variant: weight}}``
        (experiments not listed are planned equal); None means an equal split.
    srm_alpha : float, default=0.001
        The check fails when the p-value is below this. The strict default is
        usual for SRM checks, which are run on every test.
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows.

    Returns
    -------
    pandas.DataFrame
        One row per experiment: ``experiment_id``, ``variants``,
        ``total_units``, ``statistic`` (chi-square), ``df``, ``p_value``,
        ``srm_alpha``, ``passed``.

    Examples
    --------
    >>> counts = pd.DataFrame({"variant": ["control", "B"], "units": [5000, 5300], "conversions": [0, 0]})
    >>> srm_check(counts)[["statistic", "p_value", "passed"]].round(5)
       statistic  p_value  passed
    0    8.73786  0.00312    True
    >>> bool(srm_check(counts, srm_alpha=0.01)["passed"].iloc[0])
    False
    """
    srm_alpha = _check_probability("srm_alpha", srm_alpha)
    summary = _summary(
        data,
        dict(
            experiment_col=experiment_col,
            variant_col=variant_col,
            unit_col=unit_col,
            converted_col=converted_col,
            revenue_col=revenue_col,
        ),
    )
    out = _srm(summary, expected_split, srm_alpha)
    out["experiment_id"] = _restore_experiment(out["experiment_id"].to_numpy())
    return out


def conversion_test(
    data: pd.DataFrame,
    *,
    control: str = "control",
    alpha: float = 0.05,
    correction: str = "holm",
    method: str = "auto",
    exact_below: float = 5.0,
    mde: float = 0.1,
    power: float = 0.8,
    expected_split: Mapping | None = None,
    srm_alpha: float = 0.001,
    prior: tuple[float, float] = (1.0, 1.0),
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """Compare each variant's conversion rate with control.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows or variant counts (see the module docstring).
    control : str, default="control"
        Name of the control variant.
    alpha : float, default=0.05
        Two-sided significance level; intervals have level ``1 - alpha``.
    correction : {"holm", "bh", "fdr_bh", "bonferroni", "none"}, default="holm"
        Multiple-comparison adjustment across the variants of one experiment.
    method : {"auto", "z", "fisher", "boschloo"}, default="auto"
        Test: ``auto`` uses the pooled z-test, or Fisher's exact test when the
        smallest expected cell count is below ``exact_below``. Boschloo's
        exact test (more powerful than Fisher's) is slow for large groups.
    exact_below : float, default=5.0
        Smallest expected cell count for which ``auto`` still uses the z-test.
    mde : float, default=0.1
        Smallest relative lift worth detecting; tests that cannot detect it
        with ``power`` are flagged ``underpowered``.
    power : float, default=0.8
        Power used for ``detectable_lift``.
    expected_split : mapping or None, default=None
        Planned split for the SRM check (see :func:`srm_check`).
    srm_alpha : float, default=0.001
        Threshold of the SRM check.
    prior : (float, float), default=(1.0, 1.0)
        Beta prior for both rates in the Bayesian columns.
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows.

    Returns
    -------
    pandas.DataFrame
        One row per variant against control (see :data:`RESULT_COLUMNS`):
        ``experiment_id``, ``metric`` (``"conversion_rate"``), ``control``,
        ``variant``, ``srm_p_value``, ``srm_passed``, ``control_units``,
        ``variant_units``, ``control_value`` and ``variant_value`` (rates),
        ``difference`` (variant - control, rate points) with
        ``difference_ci_low``/``_high``, ``relative_lift`` (variant / control
        - 1) with ``relative_lift_ci_low``/``_high``, ``statistic`` (z; NaN for
        exact tests), ``p_value``, ``p_value_adjusted``, ``correction``,
        ``comparisons`` (the number of variants adjusted together),
        ``alpha``, ``significant`` (adjusted p < alpha), ``method_used``
        (``"z-test"``, ``"fisher"`` or ``"boschloo"``), ``method_reason``,
        ``detectable_lift`` (smallest relative lift detectable with
        ``power``), ``mde``, ``underpowered`` (``detectable_lift`` above
        ``mde``), ``prob_beats_control``, ``expected_loss`` (expected rate
        shortfall against control if the variant is shipped),
        ``trustworthy`` (the SRM check passed), ``borderline`` (the
        unadjusted test and the lift interval disagree) and ``verdict`` (a
        code of :data:`VERDICTS`; words:
        :func:`crmtools.reporting.findings.verdict_sentences`).

    Examples
    --------
    >>> counts = pd.DataFrame({"variant": ["control", "B", "C"], "units": [1000, 1000, 1000],
    ...                        "conversions": [100, 130, 104]})
    >>> res = conversion_test(counts)
    >>> res[["variant", "p_value", "p_value_adjusted", "significant"]].round(4)
      variant  p_value  p_value_adjusted  significant
    0       B   0.0355            0.0710        False
    1       C   0.7676            0.7676        False
    >>> res["prob_beats_control"].round(3).tolist()
    [0.982, 0.616]
    """
    alpha, power, mde, correction, srm_alpha = _common_checks(alpha, power, mde, correction, srm_alpha)
    _check_choice("method", method, ("auto", "z", "fisher", "boschloo"))
    prior_a, prior_b = _check_prior(prior)
    if isinstance(exact_below, bool) or not isinstance(exact_below, (int, float)) or exact_below < 0:
        raise _fail("exact_below must be a non-negative number", "e.g. 5", exact_below)
    summary = _summary(
        data,
        dict(
            experiment_col=experiment_col,
            variant_col=variant_col,
            unit_col=unit_col,
            converted_col=converted_col,
            revenue_col=revenue_col,
        ),
    )
    if summary.empty:
        return _empty_results()
    srm = _srm(summary, expected_split, srm_alpha)
    ctrl, var = _pairs(summary, control)
    if var.empty:
        return _empty_results()
    n0, x0 = ctrl["units"].to_numpy(dtype=float), ctrl["conversions"].to_numpy(dtype=float)
    n1, x1 = var["units"].to_numpy(dtype=float), var["conversions"].to_numpy(dtype=float)
    if (n0 == 0).any() or (n1 == 0).any():
        raise ValueError(
            "A variant has no units; allowed: at least one unit in every compared variant; received a zero count."
        )
    p0, p1 = x0 / n0, x1 / n1
    pooled = (x0 + x1) / (n0 + n1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p0) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        p_z = 2 * stats.norm.sf(np.abs(z))
        lift = np.where(x0 > 0, p1 / p0 - 1, np.nan)
    min_expected = np.minimum.reduce([n0 * pooled, n0 * (1 - pooled), n1 * pooled, n1 * (1 - pooled)])
    if method == "auto":
        exact = min_expected < exact_below
        used = np.where(exact, "fisher", "z-test")
        reason = np.where(
            exact,
            [
                f"smallest expected cell count {m:.2f} is below {exact_below:g}, so Fisher's "
                f"exact test replaces the z-test"
                for m in min_expected
            ],
            [f"z-test: smallest expected cell count {m:.1f} is at least {exact_below:g}" for m in min_expected],
        )
    else:
        exact = np.full(len(var), method != "z")
        used = np.full(len(var), {"z": "z-test", "fisher": "fisher", "boschloo": "boschloo"}[method], dtype=object)
        reason = np.full(len(var), f"{used[0]} requested (method={method!r})", dtype=object)
    p_value = p_z.copy()
    statistic = z.copy()
    for i in np.flatnonzero(exact):
        table = [[int(x1[i]), int(n1[i] - x1[i])], [int(x0[i]), int(n0[i] - x0[i])]]
        if used[i] == "boschloo":
            p_value[i] = stats.boschloo_exact(table, alternative="two-sided").pvalue
        else:
            p_value[i] = stats.fisher_exact(table, alternative="two-sided").pvalue
        statistic[i] = np.nan
    d_low, d_high, r_low, r_high, score_ok = _proportion_intervals(x1, n1, x0, n0, alpha)
    ci_note = np.where(
        score_ok,
        "; intervals: score (inverts the z-test)",
        "; intervals: Newcomb for the difference and adjusted log for the ratio (a count is 0 or "
        "equals the group size, where the score interval is undefined)",
    )
    reason = np.array([f"{r}{c}" for r, c in zip(reason, ci_note)], dtype=object)
    k = _power_multiplier(alpha, power)
    es = k / np.sqrt(1.0 / (1.0 / n0 + 1.0 / n1))
    with np.errstate(divide="ignore", invalid="ignore"):
        detectable = np.where(p0 > 0, _detectable_rate(p0, es) / p0 - 1, np.nan)
    prob, loss = _beta_compare(x1 + prior_a, n1 - x1 + prior_b, x0 + prior_a, n0 - x0 + prior_b)
    frame = pd.DataFrame(
        {
            "experiment_id": var["experiment_id"].to_numpy(),
            "metric": "conversion_rate",
            "control": control,
            "variant": var["variant"].to_numpy(),
            "control_units": n0.astype("int64"),
            "variant_units": n1.astype("int64"),
            "control_value": p0,
            "variant_value": p1,
            "difference": p1 - p0,
            "difference_ci_low": d_low,
            "difference_ci_high": d_high,
            "relative_lift": lift,
            "relative_lift_ci_low": np.where(x0 > 0, r_low - 1, np.nan),
            "relative_lift_ci_high": np.where(x0 > 0, r_high - 1, np.nan),
            "statistic": statistic,
            "p_value": p_value,
            "method_used": used,
            "method_reason": reason,
            "detectable_lift": detectable,
            "prob_beats_control": prob,
            "expected_loss": loss,
        }
    )
    return _finish(frame, srm, alpha=alpha, correction=correction, mde=mde)


def _bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` with-replacement resamples of ``values``.

    Exact in distribution but fast for revenue with many zeros: the number of
    non-zero draws is binomial, and only those are drawn.
    """
    n = values.size
    nonzero = values[values != 0]
    if nonzero.size == 0:
        return np.zeros(n_resamples)
    counts = rng.binomial(n, nonzero.size / n, size=n_resamples)
    draws = nonzero[rng.integers(0, nonzero.size, size=int(counts.sum()))]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.zeros(n_resamples)
    has = counts > 0
    if has.any():
        sums[has] = np.add.reduceat(draws, starts[has])
    return sums / n


def revenue_test(
    data: pd.DataFrame,
    *,
    metric: str = "revenue_per_unit",
    control: str = "control",
    alpha: float = 0.05,
    correction: str = "holm",
    method: str = "welch",
    n_resamples: int = 10_000,
    random_state: int | np.random.Generator | None = None,
    mde: float = 0.1,
    power: float = 0.8,
    expected_split: Mapping | None = None,
    srm_alpha: float = 0.001,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """Compare each variant's mean revenue with control.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows, or variant counts with ``revenue_sum`` and
        ``revenue_sumsq`` (Welch only).
    metric : {"revenue_per_unit", "revenue_per_converter"}, default="revenue_per_unit"
        Mean over all units, or over converting units only (order value).
    control, alpha, correction, mde, power, expected_split, srm_alpha
        As in :func:`conversion_test`.
    method : {"welch", "bootstrap"}, default="welch"
        Welch's t-test with the Welch-Satterthwaite interval for the
        difference and a delta-method interval for the relative lift; or a
        percentile bootstrap of both (resampling units within each variant),
        better for small, heavy-tailed samples. The bootstrap p-value inverts
        the percentile interval: ``2 * min(P*(diff <= 0), P*(diff >= 0))``
        with the usual +1 correction. Bootstrap needs unit rows.
    n_resamples : int, default=10_000
        Bootstrap resamples.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the bootstrap; required when ``method="bootstrap"``.
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`conversion_test` (:data:`RESULT_COLUMNS`), with
        means as values, ``statistic`` the Welch t (NaN for the bootstrap),
        ``method_used`` ``"welch"`` or ``"bootstrap"``, ``*_units`` the units
        averaged over, ``detectable_lift`` from the observed standard error,
        and NaN Bayesian columns.

    Examples
    --------
    >>> counts = pd.DataFrame({"variant": ["control", "B"], "units": [2000, 2000], "conversions": [200, 200],
    ...                        "revenue_sum": [1.0e6, 1.2e6], "revenue_sumsq": [4.0e9, 5.2e9]})
    >>> res = revenue_test(counts)
    >>> res[["relative_lift", "relative_lift_ci_low", "relative_lift_ci_high", "p_value"]].round(3)
       relative_lift  relative_lift_ci_low  relative_lift_ci_high  p_value
    0            0.2                 0.009                  0.391    0.025
    """
    alpha, power, mde, correction, srm_alpha = _common_checks(alpha, power, mde, correction, srm_alpha)
    _check_choice("metric", metric, ("revenue_per_unit", "revenue_per_converter"))
    _check_choice("method", method, ("welch", "bootstrap"))
    cols = dict(
        experiment_col=experiment_col,
        variant_col=variant_col,
        unit_col=unit_col,
        converted_col=converted_col,
        revenue_col=revenue_col,
    )
    summary = _summary(data, cols)
    if method == "bootstrap":
        if _is_counts(data):
            raise ValueError(
                "The bootstrap resamples units; allowed: unit rows with method='bootstrap' (variant "
                "counts only support method='welch'); received variant counts."
            )
        if random_state is None:
            raise ValueError(
                "method='bootstrap' needs an explicit random_state so results can be reproduced; "
                "allowed: an int seed or a numpy Generator; received None."
            )
        if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
            raise _fail("n_resamples is too small", "an int >= 100", n_resamples)
    if summary.empty:
        return _empty_results()
    srm = _srm(summary, expected_split, srm_alpha)
    ctrl, var = _pairs(summary, control)
    if var.empty:
        return _empty_results()
    which = "unit" if metric == "revenue_per_unit" else "conv"
    size_col = "units" if metric == "revenue_per_unit" else "conversions"
    m0, v0, n0 = (
        ctrl[f"mean_{which}"].to_numpy(float),
        ctrl[f"var_{which}"].to_numpy(float),
        ctrl[size_col].to_numpy(float),
    )
    m1, v1, n1 = (
        var[f"mean_{which}"].to_numpy(float),
        var[f"var_{which}"].to_numpy(float),
        var[size_col].to_numpy(float),
    )
    no_revenue = ~np.isfinite(m0) & (n0 > 0) | ~np.isfinite(m1) & (n1 > 0)
    if no_revenue.any():
        raise ValueError(
            f"Revenue is missing for converting units (or there is no revenue column "
            f"{revenue_col!r}); allowed: revenue on every converting unit, or revenue_sum and "
            f"revenue_sumsq in variant counts; received missing revenue in variant(s) "
            f"{sorted(set(var.loc[no_revenue, 'variant']))}."
        )
    diff = m1 - m0
    with np.errstate(divide="ignore", invalid="ignore"):
        s2_1, s2_0 = v1 / n1, v0 / n0
        se = np.sqrt(s2_1 + s2_0)
        df = se**4 / (s2_1**2 / (n1 - 1) + s2_0**2 / (n0 - 1))
        t = diff / se
        p_value = 2 * stats.t.sf(np.abs(t), df)
        tq = stats.t.isf(alpha / 2, df)
        d_low, d_high = diff - tq * se, diff + tq * se
        lift = np.where(m0 != 0, m1 / m0 - 1, np.nan)
        lift_se = np.sqrt(s2_1 / m0**2 + m1**2 * s2_0 / m0**4)
        zq = stats.norm.isf(alpha / 2)
        r_low = np.where(m0 != 0, lift - zq * lift_se, np.nan)
        r_high = np.where(m0 != 0, lift + zq * lift_se, np.nan)
    small = (n0 < 2) | (n1 < 2)
    used = np.full(len(var), method, dtype=object)
    reason = np.array(
        [
            f"Welch's t-test ({df_:.0f} degrees of freedom); relative-lift interval by the delta method"
            if np.isfinite(df_)
            else "Welch's t-test undefined: fewer than 2 units or no variation"
            for df_ in df
        ],
        dtype=object,
    )
    statistic = t
    if method == "bootstrap":
        rng = np.random.default_rng(random_state)
        exp_key = _experiment_key(data, experiment_col).to_numpy()
        variant = data[variant_col].astype("str").to_numpy()
        converted = _as_flags(data[converted_col], converted_col)
        revenue = np.nan_to_num(data[revenue_col].to_numpy(dtype=float), nan=0.0)
        keep = converted if metric == "revenue_per_converter" else np.ones(len(data), dtype=bool)
        statistic = np.full(len(var), np.nan)
        for i, (e, v) in enumerate(zip(var["experiment_id"], var["variant"])):
            a = revenue[keep & (exp_key == e) & (variant == v)]
            b = revenue[keep & (exp_key == e) & (variant == control)]
            if a.size < 2 or b.size < 2:
                d_low[i] = d_high[i] = r_low[i] = r_high[i] = p_value[i] = np.nan
                reason[i] = "bootstrap undefined: fewer than 2 units in a group"
                continue
            mean_a, mean_b = _bootstrap_means(a, n_resamples, rng), _bootstrap_means(b, n_resamples, rng)
            boot = mean_a - mean_b
            d_low[i], d_high[i] = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
            if m0[i] != 0:
                with np.errstate(divide="ignore", invalid="ignore"):
                    r_low[i], r_high[i] = np.quantile(mean_a / mean_b - 1, [alpha / 2, 1 - alpha / 2])
            below, above = np.sum(boot <= 0), np.sum(boot >= 0)
            p_value[i] = min(1.0, 2 * (min(below, above) + 1) / (n_resamples + 1))
            reason[i] = (
                f"percentile bootstrap, {n_resamples} resamples of units within each variant "
                f"(random_state={random_state!r}); p-value inverts the percentile interval"
            )
    k = _power_multiplier(alpha, power)
    with np.errstate(divide="ignore", invalid="ignore"):
        detectable = np.where((m0 > 0) & ~small, k * se / m0, np.nan)
    frame = pd.DataFrame(
        {
            "experiment_id": var["experiment_id"].to_numpy(),
            "metric": metric,
            "control": control,
            "variant": var["variant"].to_numpy(),
            "control_units": n0.astype("int64"),
            "variant_units": n1.astype("int64"),
            "control_value": m0,
            "variant_value": m1,
            "difference": diff,
            "difference_ci_low": d_low,
            "difference_ci_high": d_high,
            "relative_lift": lift,
            "relative_lift_ci_low": r_low,
            "relative_lift_ci_high": r_high,
            "statistic": statistic,
            "p_value": p_value,
            "method_used": used,
            "method_reason": reason,
            "detectable_lift": detectable,
            "prob_beats_control": np.nan,
            "expected_loss": np.nan,
        }
    )
    return _finish(frame, srm, alpha=alpha, correction=correction, mde=mde)


def experiment_results(
    data: pd.DataFrame,
    *,
    metrics: tuple[str, ...] = ("conversion_rate", "revenue_per_unit"),
    control: str = "control",
    alpha: float = 0.05,
    correction: str = "holm",
    mde: float = 0.1,
    power: float = 0.8,
    expected_split: Mapping | None = None,
    srm_alpha: float = 0.001,
    revenue_method: str = "welch",
    n_resamples: int = 10_000,
    random_state: int | np.random.Generator | None = None,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """All comparisons for several metrics in one table: the report's results table.

    Runs :func:`conversion_test` and :func:`revenue_test` with the same
    settings and stacks their rows. Multiple-comparison corrections apply
    within each experiment and metric.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows or variant counts.
    metrics : tuple of str, default=("conversion_rate", "revenue_per_unit")
        Any of ``"conversion_rate"``, ``"revenue_per_unit"``,
        ``"revenue_per_converter"``. Revenue metrics are skipped when the data
        has no revenue.
    revenue_method : {"welch", "bootstrap"}, default="welch"
        ``method`` of :func:`revenue_test`.
    control, alpha, correction, mde, power, expected_split, srm_alpha, n_resamples, random_state
        As in :func:`conversion_test` and :func:`revenue_test`.
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`, sorted by experiment, metric (in the order
        given) and variant.

    Examples
    --------
    >>> counts = pd.DataFrame({"variant": ["control", "B"], "units": [2000, 2000], "conversions": [200, 200],
    ...                        "revenue_sum": [1.0e6, 1.2e6], "revenue_sumsq": [4.0e9, 5.2e9]})
    >>> experiment_results(counts)[["metric", "significant"]]
                 metric  significant
    0   conversion_rate        False
    1  revenue_per_unit         True
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    for m in metrics:
        _check_choice("metric", m, _METRICS)
    cols = dict(
        experiment_col=experiment_col,
        variant_col=variant_col,
        unit_col=unit_col,
        converted_col=converted_col,
        revenue_col=revenue_col,
    )
    common = dict(
        control=control,
        alpha=alpha,
        correction=correction,
        mde=mde,
        power=power,
        expected_split=expected_split,
        srm_alpha=srm_alpha,
        **cols,
    )
    has_revenue = (
        ("revenue_sum" in data.columns and "revenue_sumsq" in data.columns)
        if _is_counts(data)
        else revenue_col in data.columns
    )
    parts = []
    for m in metrics:
        if m == "conversion_rate":
            parts.append(conversion_test(data, **common))
        elif has_revenue:
            parts.append(
                revenue_test(
                    data, metric=m, method=revenue_method, n_resamples=n_resamples, random_state=random_state, **common
                )
            )
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty_results()
    out = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(metrics)}
    out = out.assign(_m=out["metric"].map(order), _e=out["experiment_id"].fillna(""))
    out = out.sort_values(["_e", "_m", "variant"], kind="stable").drop(columns=["_m", "_e"])
    return out.reset_index(drop=True)[RESULT_COLUMNS]


def thompson_allocation(
    data: pd.DataFrame,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    min_share: float = 0.0,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    revenue_col: str = "revenue",
) -> pd.DataFrame:
    """Next split of traffic by Thompson sampling on conversion rates.

    Thompson sampling sends each unit to the variant whose rate, drawn from
    its beta posterior, is highest; the expected share of a variant is thus
    its posterior probability of being the best. That probability is
    computed here by numerical integration (``scipy.integrate.quad`` of
    ``f_i(x) * prod_j F_j(x)``), so no random draws are involved.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows or variant counts.
    prior : (float, float), default=(1.0, 1.0)
        Beta prior for every variant's rate.
    min_share : float, default=0.0
        Share every variant keeps for exploration; the rest is split by
        probability of being best: ``share = min_share + (1 - k * min_share) *
        prob_best`` for ``k`` variants. ``k * min_share`` must not exceed 1.
    experiment_col, variant_col, unit_col, converted_col, revenue_col : str
        Column names of the unit rows.

    Returns
    -------
    pandas.DataFrame
        One row per experiment and variant: ``experiment_id``, ``variant``,
        ``units``, ``conversions``, ``posterior_mean``, ``prob_best``,
        ``recommended_share`` (sums to 1 within an experiment).

    Examples
    --------
    >>> counts = pd.DataFrame({"variant": ["A", "B"], "units": [1, 1], "conversions": [1, 0]})
    >>> thompson_allocation(counts)[["variant", "prob_best", "recommended_share"]].round(4)
      variant  prob_best  recommended_share
    0       A     0.8333             0.8333
    1       B     0.1667             0.1667
    """
    prior_a, prior_b = _check_prior(prior)
    summary = _summary(
        data,
        dict(
            experiment_col=experiment_col,
            variant_col=variant_col,
            unit_col=unit_col,
            converted_col=converted_col,
            revenue_col=revenue_col,
        ),
    )
    if isinstance(min_share, bool) or not isinstance(min_share, (int, float)) or not 0 <= min_share < 1:
        raise _fail("min_share is out of range", "0 <= min_share < 1", min_share)
    sizes = summary.groupby("experiment_id")["variant"].transform("size")
    if (sizes * min_share > 1 + 1e-12).any():
        raise _fail("min_share is too large for the number of variants", "min_share * variants <= 1", min_share)
    a = summary["conversions"].to_numpy(float) + prior_a
    b = summary["units"].to_numpy(float) - summary["conversions"].to_numpy(float) + prior_b
    prob = np.full(len(summary), np.nan)
    for _, idx in summary.groupby("experiment_id", sort=True).indices.items():
        dists = [stats.beta(a[i], b[i]) for i in idx]
        means = [d.mean() for d in dists]
        for j, i in enumerate(idx):
            lo, hi = dists[j].ppf(_TAIL), dists[j].isf(_TAIL)
            others = [d for m, d in enumerate(dists) if m != j]
            points = sorted({float(np.clip(m, lo, hi)) for m in means} - {lo, hi})

            def integrand(x, d=dists[j], others=others):
                value = d.pdf(x)
                for o in others:
                    value *= o.cdf(x)
                return value

            prob[i] = integrate.quad(integrand, lo, hi, points=points or None, limit=500, epsabs=1e-13, epsrel=1e-11)[0]
        prob[idx] = prob[idx] / prob[idx].sum()
    k = sizes.to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "experiment_id": _restore_experiment(summary["experiment_id"].to_numpy()),
            "variant": pd.Series(summary["variant"].to_numpy(), dtype="str"),
            "units": summary["units"].to_numpy(dtype="int64"),
            "conversions": summary["conversions"].to_numpy(dtype="int64"),
            "posterior_mean": a / (a + b),
            "prob_best": prob,
            "recommended_share": min_share + (1 - k * min_share) * prob,
        }
    )
    return out[ALLOCATION_COLUMNS]


# --------------------------------------------------------------------------- what the report shows

#: An A/A test whose primary p-value is below this reads "borderline", not "passed" (:func:`primary_results`).
AA_BORDERLINE_P = 0.1

#: Columns of :func:`primary_results`, in order.
PRIMARY_COLUMNS = [*RESULT_COLUMNS, "kind", "health_check"]

#: Columns of :func:`experiment_status`, in order.
STATUS_COLUMNS = ["experiment_id", "kind", "variants", "units", "first_exposure", "last_exposure", "status"]

_AA_ID = re.compile(r"(?i)(^|[^a-z0-9])a/?a([^a-z0-9]|$)")


def is_aa_test(experiment_id, variants, *, control: str = "control") -> bool:
    """Whether an experiment is an A/A test (every variant the same treatment), from its names.

    It is when its id names it (an ``AA`` or ``A/A`` token: ``"EXP-AA"``,
    ``"aa_check"``, ``"A/A test"``), or when every variant other than the
    control is named as a copy of it (the control's name followed by a
    separator or a digit: ``"control_copy"``, ``"control 2"``,
    ``"control-b"``). Pass the ids yourself (``aa=`` of
    :func:`primary_results`) when your names say neither.

    Examples
    --------
    >>> is_aa_test("EXP-AA", ["control", "control_copy"]), is_aa_test("x", ["control", "control2"])
    (True, True)
    >>> is_aa_test("EXP-OFFER", ["control", "free_shipping"]), is_aa_test("EXP-AAB", ["control", "B"])
    (False, False)
    """
    if isinstance(experiment_id, str) and _AA_ID.search(experiment_id):
        return True
    others = [str(v) for v in variants if str(v) != control]
    copy = re.compile(rf"^{re.escape(control)}([ _\-.]|\d).*$")
    return bool(others) and all(copy.match(v) for v in others)


def _aa_ids(pairs, aa, control: str) -> set:
    """Ids of the A/A tests among ``pairs`` ((experiment id, variants)); ``aa`` given: those."""
    if aa is not None:
        return {str(a) for a in ([aa] if isinstance(aa, str) else aa)}
    return {e for e, variants in pairs if is_aa_test(e, variants, control=control)}


def primary_results(results: pd.DataFrame, *, primary_metric="revenue_per_unit", aa=None) -> pd.DataFrame:
    """One row per experiment and variant: the result on the experiment's primary metric, A/A tests as health checks.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`experiment_results`.
    primary_metric : str or mapping, default="revenue_per_unit"
        The metric that decides an experiment, or ``{experiment_id: metric}``
        (experiments not named: ``"revenue_per_unit"``). Revenue per exposed
        unit counts both who buys and how much, so it is the default; an
        experiment without that metric in ``results`` falls back to
        ``"conversion_rate"``.
    aa : iterable of str or None, default=None
        Ids of the A/A tests; None detects them with :func:`is_aa_test`.

    Returns
    -------
    pandas.DataFrame
        :data:`PRIMARY_COLUMNS`: the rows of ``results`` on each
        experiment's primary metric (every column of :data:`RESULT_COLUMNS`),
        then ``kind`` (``"ab"`` or ``"aa"``) and ``health_check``: for an
        A/A test ``"failed"`` when the sample-ratio check failed or a metric
        in ``results`` differs significantly; ``"borderline"`` when it did
        not, but its primary metric's p-value (adjusted, as shown) is below
        :data:`AA_BORDERLINE_P` (0.1) or its lift is at least as large (in
        absolute value) as the smallest significant lift of the A/B tests
        beside it (a split or tracking problem could be hiding there);
        ``"passed"`` otherwise; missing for A/B tests. Experiments in the
        order of ``results``.

    Examples
    --------
    >>> counts = pd.DataFrame({"experiment_id": ["EXP-AA", "EXP-AA", "T", "T"],
    ...                        "variant": ["control", "control_copy", "control", "B"],
    ...                        "units": [2000, 2000, 2000, 2000], "conversions": [200, 205, 200, 200],
    ...                        "revenue_sum": [1.0e6, 1.0e6, 1.0e6, 1.2e6],
    ...                        "revenue_sumsq": [4.0e9, 4.0e9, 4.0e9, 5.2e9]})
    >>> primary_results(experiment_results(counts))[["experiment_id", "kind", "metric", "verdict", "health_check"]]
      experiment_id kind            metric             verdict health_check
    0        EXP-AA   aa  revenue_per_unit     not_significant       passed
    1             T   ab  revenue_per_unit  significant_better          NaN
    """
    require_frame(results, name="results", allowed="the output of experiment_results (a pandas DataFrame)")
    require_columns(results, RESULT_COLUMNS, name="results", hint="Pass the output of experiment_results.")
    if results.empty:
        out = results.iloc[:0].assign(kind=pd.Series(dtype="str"), health_check=pd.Series(dtype="str"))
        return out[PRIMARY_COLUMNS].reset_index(drop=True)
    key = results["experiment_id"].fillna(_NO_EXPERIMENT)
    order = list(dict.fromkeys(key))
    variants = [
        (e, [*results.loc[key == e, "control"].iloc[:1], *results.loc[key == e, "variant"].unique()]) for e in order
    ]
    aa_ids = _aa_ids(variants, aa, control=str(results["control"].iloc[0]))
    rows = []
    for e in order:
        mine = results[key == e]
        wanted = primary_metric.get(e, "revenue_per_unit") if isinstance(primary_metric, Mapping) else primary_metric
        _check_choice("primary_metric", wanted, _METRICS)
        metric = wanted if (mine["metric"] == wanted).any() else "conversion_rate"
        chosen = mine[mine["metric"] == metric].assign(kind="aa" if e in aa_ids else "ab")
        if e in aa_ids:
            healthy = bool(mine["srm_passed"].all()) and not bool(mine["significant"].any())
            chosen = chosen.assign(health_check="passed" if healthy else "failed")
        else:
            chosen = chosen.assign(health_check=pd.NA)
        rows.append(chosen)
    out = pd.concat(rows, ignore_index=True)
    out["kind"] = out["kind"].astype("str")
    out["health_check"] = out["health_check"].astype("str")
    tested = out.loc[(out["kind"] == "ab") & out["significant"].fillna(False).astype(bool), "relative_lift"].abs()
    smallest = tested.min() if len(tested) else float("inf")
    weak = (out["health_check"] == "passed") & (
        (out["p_value_adjusted"] < AA_BORDERLINE_P) | (out["relative_lift"].abs() >= smallest)
    )
    out.loc[weak, "health_check"] = "borderline"
    return out[PRIMARY_COLUMNS]


def experiment_status(
    data: pd.DataFrame,
    *,
    as_of,
    idle_days: float = 3,
    control: str = "control",
    aa=None,
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    exposed_col: str = "exposed_at",
) -> pd.DataFrame:
    """Which experiments are still running at ``as_of``: those with an exposure in the last ``idle_days``.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows with exposure times (``exposed_at``).
    as_of : date, timestamp or Period
        The instant looked from (exclusive; a Period means its end);
        exposures at or after it are ignored.
    idle_days : float, default=3
        An experiment without an exposure in the ``idle_days`` before
        ``as_of`` has ended.
    control : str, default="control"
    aa : iterable of str or None, default=None
        Ids of the A/A tests; None detects them with :func:`is_aa_test`.
    experiment_col, variant_col, unit_col, exposed_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        :data:`STATUS_COLUMNS`: ``experiment_id``, ``kind`` (``"ab"`` or
        ``"aa"``), ``variants``, ``units``, ``first_exposure``,
        ``last_exposure``, ``status`` (``"running"`` or ``"ended"``), sorted
        by experiment id.

    Examples
    --------
    >>> ex = pd.DataFrame({"experiment_id": ["A", "A", "B", "B"], "variant": ["control", "x"] * 2,
    ...                    "unit_id": ["1", "2", "3", "4"], "converted": False,
    ...                    "exposed_at": pd.to_datetime(["2025-11-02", "2025-11-29", "2025-11-02", "2025-11-10"])})
    >>> experiment_status(ex, as_of="2025-12-01")[["experiment_id", "status"]]
      experiment_id   status
    0             A  running
    1             B    ended
    """
    from .periods import as_point

    require_frame(data, name="data", allowed="experiment unit rows with exposure times (a pandas DataFrame)")
    require_columns(
        data,
        [experiment_col, variant_col, unit_col, exposed_col],
        name="data",
        hint="Name your own columns with the *_col= arguments.",
    )
    if isinstance(idle_days, bool) or not isinstance(idle_days, (int, float)) or not idle_days > 0:
        raise _fail("idle_days must be a positive number of days", "a number > 0 such as 3", idle_days)
    end = as_point(as_of)
    seen = data.loc[data[exposed_col] < end]
    if seen.empty:
        return pd.DataFrame(
            {
                c: pd.Series(
                    dtype="str"
                    if c in ("experiment_id", "kind", "status")
                    else "int64"
                    if c in ("variants", "units")
                    else "datetime64[ns]"
                )
                for c in STATUS_COLUMNS
            }
        )
    g = seen.groupby(_experiment_key(seen, experiment_col), sort=True)
    out = pd.DataFrame(
        {
            "variants": g[variant_col].nunique(),
            "units": g[unit_col].nunique(),
            "first_exposure": g[exposed_col].min(),
            "last_exposure": g[exposed_col].max(),
        }
    )
    out.index.name = "experiment_id"
    out = out.reset_index()
    pairs = [
        (e, list(seen.loc[seen[experiment_col].astype("str") == e, variant_col].astype("str").unique()))
        for e in out["experiment_id"]
    ]
    aa_ids = _aa_ids(pairs, aa, control)
    out["kind"] = pd.Series(np.where(out["experiment_id"].isin(list(aa_ids)), "aa", "ab"), dtype="str")
    out["status"] = pd.Series(
        np.where(out["last_exposure"] >= end - pd.Timedelta(days=float(idle_days)), "running", "ended"), dtype="str"
    )
    out["experiment_id"] = _restore_experiment(out["experiment_id"])
    return out[STATUS_COLUMNS]


def recommended_split(
    data: pd.DataFrame,
    *,
    as_of,
    min_control_share: float = 0.2,
    idle_days: float = 3,
    control: str = "control",
    aa=None,
    prior: tuple[float, float] = (1.0, 1.0),
    experiment_col: str = "experiment_id",
    variant_col: str = "variant",
    unit_col: str = "unit_id",
    converted_col: str = "converted",
    exposed_col: str = "exposed_at",
) -> pd.DataFrame:
    """The split of the next send, for A/B tests still running at ``as_of`` only, the control kept at a floor.

    An A/A test is a health check (nothing to optimise) and an ended test
    gets no next send, so neither is listed. Within a running test, the
    control keeps ``max(min_control_share, its Thompson share)``, so the
    comparison stays measurable; the other variants share the rest in
    proportion to their probability of being best
    (:func:`thompson_allocation`, on conversion), equally when all are 0.

    Parameters
    ----------
    data : pandas.DataFrame
        Experiment unit rows with exposure times.
    as_of, idle_days, control, aa
        As in :func:`experiment_status`.
    min_control_share : float, default=0.2
        Smallest share of the control, in [0, 1).
    prior : (float, float), default=(1.0, 1.0)
        Beta prior of :func:`thompson_allocation`.
    experiment_col, variant_col, unit_col, converted_col, exposed_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        :data:`ALLOCATION_COLUMNS` for the running A/B tests (empty when
        there is none); ``recommended_share`` sums to 1 within each.

    Examples
    --------
    >>> ex = pd.DataFrame({"experiment_id": "T", "variant": ["control"] * 100 + ["B"] * 100,
    ...                    "unit_id": [str(i) for i in range(200)],
    ...                    "converted": [True] * 5 + [False] * 95 + [True] * 30 + [False] * 70,
    ...                    "exposed_at": pd.Timestamp("2025-11-29")})
    >>> recommended_split(ex, as_of="2025-12-01")[["variant", "recommended_share"]].round(3)
       variant  recommended_share
    0        B                0.8
    1  control                0.2
    """
    if (
        isinstance(min_control_share, bool)
        or not isinstance(min_control_share, (int, float))
        or not 0 <= min_control_share < 1
    ):
        raise _fail("min_control_share is out of range", "0 <= min_control_share < 1", min_control_share)
    status = experiment_status(
        data,
        as_of=as_of,
        idle_days=idle_days,
        control=control,
        aa=aa,
        experiment_col=experiment_col,
        variant_col=variant_col,
        unit_col=unit_col,
        exposed_col=exposed_col,
    )
    live = status.loc[(status["status"] == "running") & (status["kind"] == "ab"), "experiment_id"]
    from .periods import as_point

    rows = data.loc[
        data[experiment_col].astype("str").isin(live.astype("str").tolist()) & (data[exposed_col] < as_point(as_of))
    ]
    if rows.empty:
        return pd.DataFrame(
            {
                c: pd.Series(
                    dtype="str"
                    if c in ("experiment_id", "variant")
                    else "int64"
                    if c in ("units", "conversions")
                    else "float64"
                )
                for c in ALLOCATION_COLUMNS
            }
        )
    out = thompson_allocation(
        rows,
        prior=prior,
        experiment_col=experiment_col,
        variant_col=variant_col,
        unit_col=unit_col,
        converted_col=converted_col,
    )
    share = out["prob_best"].to_numpy(dtype=float).copy()
    for _, idx in out.groupby(out["experiment_id"].fillna(""), sort=False).indices.items():
        is_control = out["variant"].to_numpy()[idx] == control
        if not is_control.any():
            continue
        keep = max(float(min_control_share), float(share[idx][is_control].sum()))
        others = share[idx][~is_control]
        rest = others / others.sum() if others.sum() > 0 else np.full(others.size, 1.0 / max(others.size, 1))
        new = np.empty(idx.size)
        new[is_control] = keep
        new[~is_control] = (1.0 - keep) * rest
        share[idx] = new
    out["recommended_share"] = share
    return out[ALLOCATION_COLUMNS]
