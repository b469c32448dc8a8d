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
    assert params["data"]["policies"] == {
        "returns": "keep",
        "missing_customer": "keep",
        "duplicates": "error",
        "invalid_rows": "error",
        "max_line_amount": 100_000_000.0,
        "min_id_overlap": 0.5,
        "non_merchandise": [],
        "cancellation_orders": None,
        "other_negative": "keep",
        "zero_price": "keep",
    }
    assert resolve_params(params) == params  # resolving is idempotent


def test_default_policies_agree_with_the_policies_class():
    assert Policies.from_dict(resolve_params()["data"]["policies"]) == Policies()


def test_default_yaml_is_valid_and_equals_the_defaults(monkeypatch):
    monkeypatch.chdir(DEFAULT_YAML.parent.parent)  # the project folder, as the CLI runs
    raw = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    # Every parameter is written out in the file, so users see what they can change.
    assert _keys(raw) == _keys(resolve_params()) - {"data.tables"}
    assert load_params(DEFAULT_YAML) == resolve_params()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"langauge": "ja"}, r"Unknown parameter 'langauge' \(did you mean 'language'\?\)\. Allowed: basket, "),
        ({"rfm": {"lookback_dayz": 30}}, r"Unknown parameter 'rfm.lookback_dayz' \(did you mean 'lookback_days'\?\)"),
        (
            {"data": {"policies": {"retruns": "drop"}}},
            r"Unknown parameter 'data.policies.retruns' \(did you mean 'returns'\?\)\. Allowed: cancellation_orders, duplicates, ",
        ),
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
        ({"basket": {"min_support": "often"}}, r"'basket.min_support' must be a number or a whole number; got str"),
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
        (
            {"rfm": {"lookback_days": 0}},
            r"'rfm.lookback_days' must be a whole number from 1 to 3660 \(days\); got int 0",
        ),
        (
            {"basket": {"min_support": 0}},
            r"'basket.min_support' must be a number greater than 0 \(0 excluded\) and "
            r"at most 1 \(a share of baskets\) or a whole number of at least 1 "
            r"\(a number of baskets\); got int 0\.",
        ),
        (
            {"basket": {"min_confidence": 1.5}},
            r"'basket.min_confidence' must be a number from 0 to 1 .*; got float 1.5",
        ),
        (
            {"experiments": {"alpha": 0.9}},
            r"'experiments.alpha' must be a number greater than 0 \(0 excluded\) and "
            r"at most 0.5 \(a significance level\); got float 0.9",
        ),
        (
            {"campaigns": {"margin": -0.1}},
            r"'campaigns.margin' must be a number greater than 0 \(0 excluded\) and "
            r"at most 1 .*; got float -0.1",
        ),
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
    # basket.min_support tells them apart: 5 is five baskets (an int), 0.05 a share of them.
    assert params["basket"]["min_support"] == 5 and type(params["basket"]["min_support"]) is int


def test_an_int_min_support_from_the_command_line_reaches_the_analysis_as_an_int(tmp_path):
    from crmtools.basket import association_rules, frequent_itemsets

    params = load_params(None, ["basket.min_support=2"])
    assert type(params["basket"]["min_support"]) is int
    # The notebooks get the params as JSON and load them again: still an int, which the miner accepts.
    again = load_params(None, __import__("json").loads(__import__("json").dumps(params)))
    baskets = [["tea", "soba"], ["tea", "soba"], ["tea"]]
    itemsets = frequent_itemsets(baskets, min_support=again["basket"]["min_support"])
    assert association_rules(itemsets, min_threshold=again["basket"]["min_confidence"]).shape[0] > 0
    assert load_params(None, ["basket.min_support=0.5"])["basket"]["min_support"] == 0.5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("basket.min_support=2.0", r"got float 2.0 \(a number of baskets is written without a decimal point: 2\)"),
        ("basket.min_support=-3", r"or a whole number of at least 1 \(a number of baskets\); got int -3"),
        ("basket.min_support=.nan", r"'basket.min_support' must be a finite number"),
        ("campaigns.margin=0", r"'campaigns.margin' must be a number greater than 0 \(0 excluded\).*; got float 0.0"),
        ("campaigns.margin=.inf", r"'campaigns.margin' must be a finite number"),
        ("experiments.alpha=0", r"'experiments.alpha' must be a number greater than 0 \(0 excluded\)"),
        ("basket.max_len=0", r"'basket.max_len' must be a whole number from 1 to 100 \(items per itemset\); got int 0"),
        ("basket.top_n=0", r"'basket.top_n' must be a whole number from 1 to 1000 \(rules shown\); got int 0"),
        ("repeat.within_days=0", r"'repeat.within_days' must be a whole number from 1 to 3660 \(days\); got int 0"),
        (
            "data.policies.max_line_amount=0",
            r"'data.policies.max_line_amount' must be a number greater than 0 "
            r"\(0 excluded\) \(an amount per order line\); got float 0.0",
        ),
        ("data.policies.max_line_amount=-5", r"'data.policies.max_line_amount' must be .*; got float -5.0"),
        (
            "data.policies.min_id_overlap=1.5",
            r"'data.policies.min_id_overlap' must be a number from 0 to 1 "
            r"\(a share of ids; 0 turns the check off\); got float 1.5",
        ),
        ("currency=yen", r"'currency' must be a three-letter ISO 4217 currency code .*; got 'yen'"),
        (
            "data.timezone=Asia/Tokio",
            r"'data.timezone' must be an IANA time zone name .*; got 'Asia/Tokio' "
            r"\(did you mean 'Asia/Tokyo'\?\)",
        ),
        ("data.path=", r"'data.path' must not be empty"),
        ("data.path=' '", r"'data.path' must be non-empty text; got ' '"),
        ("reports_dir=''", r"'reports_dir' must be non-empty text; got ''"),
        (
            "rfm.thresholds={frequency: [1, 2, 3, 5, 10]}",
            r"'rfm.thresholds' must map recency, frequency and/or "
            r"monetary to four strictly increasing cut points",
        ),
        ("rfm.thresholds={often: [1, 2, 3, 4]}", r"'rfm.thresholds' must map .*Unknown RFM threshold \['often'\]"),
        (
            "rfm.segment_map=no/such/map.yaml",
            r"'rfm.segment_map' must be an existing segment-map YAML file .*"
            r"got 'no/such/map.yaml'",
        ),
        (
            "rfm.segment_map={segments: [{name: All, rules: [{r: [1, 4]}]}]}",
            r"'rfm.segment_map' must be a valid segment map .*in no segment",
        ),
        (
            "data.tables.transactions.encoding=shift-jiss",
            r"'data.tables.transactions.encoding' must be a text "
            r"encoding such as utf-8, cp932 .*; got 'shift-jiss'",
        ),
        (
            "data.tables.transactions.columns={Qty: quantty}",
            r"'data.tables.transactions.columns' must map each of your column names to a canonical column of "
            r"transactions .*; got 'Qty': 'quantty' \(did you mean 'quantity'\?\)",
        ),
        (
            "data.tables.transactions.fill={chanel: web}",
            r"'data.tables.transactions.fill' must name canonical "
            r"columns of transactions .*got 'chanel' \(did you mean 'channel'\?\)",
        ),
        (
            "data.tables.transactions.sheet=-1",
            r"'data.tables.transactions.sheet' must be a sheet name or a sheet "
            r"number of at least 0 .*got -1",
        ),
        (
            "data.tables.transactions.date_format=YYYY-MM-DD",
            r"'data.tables.transactions.date_format' must be a "
            r"strftime format such as %Y-%m-%d .*got 'YYYY-MM-DD'",
        ),
    ],
)
def test_every_parameter_is_checked_against_its_domain(override, message):
    with pytest.raises(ParameterError, match=message):
        load_params(None, [override])


@pytest.mark.parametrize(
    "override",
    [
        "basket.min_support=1",
        "basket.min_support=1.0",
        "basket.min_support=1e-6",
        "campaigns.margin=1",
        "experiments.alpha=0.5",
        "basket.min_confidence=0",
        "basket.max_len=null",
        "data.policies.min_id_overlap=0",
        "data.policies.max_line_amount=1e12",
        "currency=USD",
        "data.timezone=UTC",
        "rfm.thresholds={frequency: [2, 3, 5, 10]}",
        "data.tables.transactions.encoding=cp932",
        "data.tables.transactions.columns={Qty: quantity}",
        "data.tables.transactions.date_format='%d/%m/%Y'",
    ],
)
def test_values_on_the_edge_of_their_domain_are_accepted(override):
    load_params(None, [override])


def test_every_numeric_parameter_has_a_domain():
    from crmtools.params import _DOMAINS

    def leaves(mapping, prefix=""):
        for key, value in mapping.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                yield from leaves(value, f"{name}.")
            else:
                yield name, value

    numeric = {
        name
        for name, value in leaves(resolve_params())
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    } | {"basket.max_len"}
    assert numeric <= set(_DOMAINS), numeric - set(_DOMAINS)


def test_a_segment_map_file_is_checked_relative_to_the_project(tmp_path):
    import shutil

    import crmtools

    source = Path(crmtools.__file__).parent / "data" / "segments_default.yaml"
    (tmp_path / "maps").mkdir()
    shutil.copy(source, tmp_path / "maps" / "mine.yaml")
    params = load_params(None, ["rfm.segment_map=maps/mine.yaml"], base_dir=tmp_path)
    assert params["rfm"]["segment_map"] == "maps/mine.yaml"  # kept as given; notebooks run in the project
    with pytest.raises(ParameterError, match=r"maps/mine.yaml' must|got 'maps/mine.yaml'"):
        load_params(None, ["rfm.segment_map=maps/mine.yaml"], base_dir=tmp_path / "elsewhere")


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
    with pytest.raises(
        ParameterError, match=r"'rfm.lookback_days' must be a whole number from 1 to 3660 \(days\); got int -1"
    ):
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
