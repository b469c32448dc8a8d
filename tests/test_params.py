"""Run parameters (crmtools.params): unknown names, wrong types and bad values stop a run before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crmtools.errors import ParameterError
from crmtools.params import DEFAULTS, load_params, params_fingerprint, parse_override, resolve_params
from crmtools.validation import Policies

REPO = Path(__file__).resolve().parents[1]
DEFAULT_YAML = REPO / "params" / "default.yaml"


def _keys(mapping: dict, prefix: str = "") -> set[str]:
    """Dotted names of every leaf (free-form mappings such as data.tables count as leaves)."""
    out = set()
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name != "data.tables":
            out |= _keys(value, f"{name}.")
        else:
            out.add(name)
    return out


def test_defaults_are_complete_and_valid():
    params = resolve_params()
    assert _keys(params) == _keys(DEFAULTS)
    assert params["period"] is None and params["language"] == "en"
    assert params["data"]["tables"] == {}
    assert params["data"]["policies"] == {"returns": "keep", "missing_customer": "keep", "duplicates": "error",
                                          "invalid_rows": "error"}
    assert resolve_params(params) == params  # resolving is idempotent


def test_default_policies_agree_with_the_policies_class():
    assert Policies.from_dict(resolve_params()["data"]["policies"]) == Policies()


def test_default_yaml_is_valid_and_equals_the_defaults():
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    # Every parameter is written out in the file, so users see what they can change.
    assert _keys(raw) == _keys(resolve_params()) - {"data.tables"}
    assert load_params(DEFAULT_YAML) == resolve_params()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"langauge": "ja"}, r"Unknown parameter 'langauge' \(did you mean 'language'\?\)\. Allowed: basket, "),
        ({"rfm": {"lookback_dayz": 30}}, r"Unknown parameter 'rfm.lookback_dayz' \(did you mean 'lookback_days'\?\)"),
        ({"data": {"policies": {"retruns": "drop"}}},
         r"Unknown parameter 'data.policies.retruns' \(did you mean 'returns'\?\)\. Allowed: duplicates, "),
        ({"zzz": 1}, r"Unknown parameter 'zzz'\. Allowed: "),
    ],
)
def test_unknown_names_are_rejected_with_a_suggestion(values, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rfm": {"lookback_days": "365"}}, r"'rfm.lookback_days' must be a whole number; got str '365'"),
        ({"rfm": {"lookback_days": 36.5}}, r"'rfm.lookback_days' must be a whole number; got float 36.5"),
        ({"rfm": {"lookback_days": True}}, r"'rfm.lookback_days' must be a whole number; got bool True"),
        ({"language": 1}, r"'language' must be text; got int 1"),
        ({"language": None}, r"'language' must not be empty; expected text"),
        ({"basket": {"min_support": "often"}}, r"'basket.min_support' must be a number; got str 'often'"),
        ({"rfm": 5}, r"'rfm' must be a mapping of \['lookback_days', 'scoring', 'segment_map', 'thresholds'\]"),
        ({"rfm": {"segment_map": 3}}, r"'rfm.segment_map' must be text or a mapping; got int 3"),
        ({"data": {"tables": ["transactions.csv"]}}, r"'data.tables' must be a mapping"),
        ({"period": 202510}, r"'period' must be text; got int 202510"),
    ],
)
def test_wrong_types_are_rejected(values, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"language": "fr"}, r"'language' must be one of \['en', 'ja'\]; got 'fr'"),
        ({"rfm": {"scoring": "kmeans"}}, r"'rfm.scoring' must be one of \['quantile', 'thresholds'\]"),
        ({"data": {"policies": {"returns": "ignore"}}}, r"'data.policies.returns' must be one of \['keep', 'drop'"),
        ({"rfm": {"lookback_days": 0}}, r"'rfm.lookback_days' must be between 1 and 3660; got 0"),
        ({"basket": {"min_support": 0}}, r"'basket.min_support' must be between 0 and 1e\+12; got 0.0"),
        ({"basket": {"min_confidence": 1.5}}, r"'basket.min_confidence' must be between 0 and 1; got 1.5"),
        ({"experiments": {"alpha": 0.9}}, r"'experiments.alpha' must be between 1e-06 and 0.5; got 0.9"),
        ({"campaigns": {"margin": -0.1}}, r"'campaigns.margin' must be between 0 and 1; got -0.1"),
    ],
)
def test_values_out_of_range_or_choice_are_rejected(values, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params(values)


@pytest.mark.parametrize("period", ["2025-13", "2025-Q5", "25-10", "", "October"])
def test_malformed_period_is_rejected(period):
    with pytest.raises(ParameterError, match=rf"Parameter 'period': Malformed period '{period}'"):
        resolve_params({"period": period})


def test_periods_are_normalised():
    assert resolve_params({"period": "2025-q3"})["period"] == "2025-Q3"
    assert resolve_params({"period": " 2025-10 "})["period"] == "2025-10"


def test_whole_numbers_are_accepted_where_numbers_are_expected():
    params = resolve_params({"campaigns": {"margin": 1}, "basket": {"min_support": 5}})
    assert params["campaigns"]["margin"] == 1.0 and isinstance(params["campaigns"]["margin"], float)
    assert params["basket"]["min_support"] == 5.0


def test_partial_sections_keep_the_other_defaults():
    params = resolve_params({"rfm": {"lookback_days": 180}, "data": {"policies": {"returns": "drop"}}})
    assert params["rfm"] == {**DEFAULTS["rfm"], "lookback_days": 180}
    assert params["data"]["policies"]["returns"] == "drop"
    assert params["data"]["policies"]["duplicates"] == "error"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rfm.lookback_days=180", (["rfm", "lookback_days"], 180)),
        ("language=ja", (["language"], "ja")),
        ("period=2025-10", (["period"], "2025-10")),
        ("basket.min_support=0.01", (["basket", "min_support"], 0.01)),
        ("data.path=/srv/data/my shop", (["data", "path"], "/srv/data/my shop")),
        ("rfm.thresholds={frequency: [1, 2, 3]}", (["rfm", "thresholds"], {"frequency": [1, 2, 3]})),
        ("period=", (["period"], None)),
        (" rfm . scoring = thresholds", (["rfm", "scoring"], "thresholds")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("language", r"An override must look like name=value \(e.g. language=ja\); got 'language'"),
        ("=ja", r"An override needs a parameter name before '='; got '=ja'"),
        ("rfm.thresholds=[1, 2", r"Cannot read the value of 'rfm.thresholds'"),
    ],
)
def test_malformed_overrides(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_override(text)


def test_overrides_apply_over_the_file_and_are_validated(tmp_path):
    path = tmp_path / "monthly.yaml"
    path.write_text("language: ja\nrfm:\n  lookback_days: 180\n", encoding="utf-8")
    params = load_params(path, ["rfm.lookback_days=90", "period=2025-Q3", "basket.min_support=1e-3"])
    assert params["language"] == "ja"  # from the file
    assert params["rfm"]["lookback_days"] == 90  # the command line wins
    assert params["rfm"]["scoring"] == "quantile"  # untouched defaults stay
    assert params["period"] == "2025-Q3"
    assert params["basket"]["min_support"] == 0.001  # YAML 1.1 reads 1e-3 as text; still a number
    assert load_params(path, {"rfm": {"scoring": "thresholds"}})["rfm"]["lookback_days"] == 180
    with pytest.raises(ParameterError, match=r"Unknown parameter 'rfm.lookback' \(did you mean 'lookback_days'\?\)"):
        load_params(path, ["rfm.lookback=90"])
    with pytest.raises(ParameterError, match=r"'rfm.lookback_days' must be between 1 and 3660; got -1"):
        load_params(path, ["rfm.lookback_days=-1"])


def test_yaml_file_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"Params file not found: .*missing\.yaml"):
        load_params(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("language: ja\nrfm: [lookback_days: 3\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"broken\.yaml is not valid YAML"):
        load_params(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- language\n- ja\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"list\.yaml must hold a mapping of parameters; got list"):
        load_params(listing)
    typo = tmp_path / "typo.yaml"
    typo.write_text("rfm:\n  scorring: quantile\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"Unknown parameter 'rfm.scorring' \(did you mean 'scoring'\?\)"):
        load_params(typo)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n", encoding="utf-8")
    assert load_params(empty) == resolve_params()


def test_loading_does_not_change_the_callers_mapping():
    values = {"rfm": {"lookback_days": 180}}
    load_params(None, values)
    resolve_params(values)
    assert values == {"rfm": {"lookback_days": 180}}


def test_fingerprint_is_stable_and_sensitive():
    a = load_params(None, ["language=ja", "rfm.lookback_days=90"])
    b = load_params(None, ["rfm.lookback_days=90", "language=ja"])
    assert params_fingerprint(a) == params_fingerprint(b)
    assert params_fingerprint(a) != params_fingerprint(resolve_params())
