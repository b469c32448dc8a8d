"""Tests for crmtools.targets and crmtools.exports: due windows, campaign target lists (definitions, attributes,
consent, priority, holdouts, next-best products), their export and the round trip to campaign ROI."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import stat

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools import targets
from crmtools.campaigns import campaign_roi
from crmtools.data import TableSource, load_table
from crmtools.errors import ParameterError
from crmtools.experiments import required_sample_size
from crmtools.exports import MANIFEST, check_exports_dir, write_target_lists
from crmtools.params import resolve_params
from crmtools.repeat import purchase_cycles
from crmtools.sampledata import SampleConfig, generate_sample
from crmtools.targets import DUE_WINDOWS, due_summary, next_purchase_targets

WINDOWS = ["long overdue", "overdue", "due within 30 days", "later"]


def _cycles(days, ids=None):
    ids = ids if ids is not None else [f"c{i:02d}" for i in range(len(days))]
    return pd.DataFrame(
        {"customer_id": pd.Series(ids, dtype="str"), "days_until_next": days, "avg_interval_days": 30.0}
    )


# --------------------------------------------------------------------------- due_summary


def test_due_summary_known_answer_at_every_boundary():
    # long overdue: -45, -31 | overdue: -30, -1, -1 | due: 0, 30 | later: 31, 200
    cycles = _cycles([-45, -31, -30, -1, -1, 0, 30, 31, 200])
    out = due_summary(cycles)
    assert out.columns.tolist() == ["window", "customers", "share"]
    assert out["window"].tolist() == WINDOWS == [w[0] for w in DUE_WINDOWS]
    assert out["customers"].tolist() == [2, 3, 2, 2] and out["customers"].dtype == "int64"
    assert out["share"].tolist() == pytest.approx([2 / 9, 3 / 9, 2 / 9, 2 / 9], rel=1e-15)


def test_due_summary_leaves_customers_without_an_expected_date_out():
    cycles = _cycles([-5.0, np.nan, 10.0, np.nan])
    out = due_summary(cycles)
    assert out["customers"].tolist() == [0, 1, 1, 0]
    assert out["share"].tolist() == [0.0, 0.5, 0.5, 0.0]


def test_due_summary_of_nobody_has_every_window_and_no_shares():
    out = due_summary(_cycles([]))
    assert out["window"].tolist() == WINDOWS and out["customers"].tolist() == [0, 0, 0, 0]
    assert out["share"].isna().all()


def test_due_summary_other_column_name():
    cycles = _cycles([-40, 3]).rename(columns={"days_until_next": "days"})
    assert due_summary(cycles, days_col="days")["customers"].tolist() == [1, 0, 1, 0]
    with pytest.raises(
        ValueError,
        match=r"cycles is missing column 'days_until_next'; .*Pass the output of "
        r"crmtools\.repeat\.purchase_cycles\.",
    ):
        due_summary(cycles)


# --------------------------------------------------------------------------- next_purchase_targets


def test_targets_known_answer():
    cycles = _cycles([-40, -30, -3, 0, 10, 30, 31, 90, 10], ids=["a", "b", "c", "d", "f", "g", "h", "i", "e"])
    out = next_purchase_targets(cycles)
    # -40 is overdue by more than 30 days, 31 and 90 are too far ahead; the two 10s are ordered by id
    assert out["customer_id"].tolist() == ["b", "c", "d", "e", "f", "g"]
    assert out["days_until_next"].tolist() == [-30, -3, 0, 10, 10, 30]
    assert out.columns.tolist() == cycles.columns.tolist() and out.index.equals(pd.RangeIndex(6))


def test_targets_window_arguments():
    cycles = _cycles([-8, -7, -1, 0, 1, 14, 15], ids=list("abcdefg"))
    assert next_purchase_targets(cycles, within_days=0, overdue_days=0)["customer_id"].tolist() == ["d"]
    assert next_purchase_targets(cycles, within_days=14, overdue_days=7)["customer_id"].tolist() == [
        "b",
        "c",
        "d",
        "e",
        "f",
    ]
    assert next_purchase_targets(cycles, within_days=0, overdue_days=100)["customer_id"].tolist() == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_targets_skip_missing_days_and_keep_the_input():
    cycles = _cycles([np.nan, 5.0, -2.0], ids=["x", "y", "z"])
    before = cycles.copy(deep=True)
    assert next_purchase_targets(cycles)["customer_id"].tolist() == ["z", "y"]
    pd.testing.assert_frame_equal(cycles, before)


def test_targets_other_column_names():
    cycles = _cycles([3, 1], ids=["p", "q"]).rename(columns={"customer_id": "member", "days_until_next": "due_in"})
    out = next_purchase_targets(cycles, customer_col="member", days_col="due_in")
    assert out["member"].tolist() == ["q", "p"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"within_days": -1}, ValueError, r"within_days is out of range; allowed: a number >= 0; received: -1\."),
        ({"overdue_days": -5}, ValueError, "overdue_days is out of range"),
        ({"within_days": "30"}, TypeError, "within_days has the wrong type"),
        ({"within_days": None}, TypeError, "within_days has the wrong type"),
        ({"customer_col": "member"}, ValueError, "cycles is missing column 'member'"),
    ],
)
def test_targets_reject_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        next_purchase_targets(_cycles([1, 2]), **kwargs)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, derandomize=True)
@given(days=st.lists(st.integers(-400, 400), max_size=50), within=st.integers(0, 60), overdue=st.integers(0, 60))
def test_properties_against_a_plain_loop(days, within, overdue):
    cycles = _cycles(days)
    summary = due_summary(cycles).set_index("window")["customers"]
    for name, low, high in DUE_WINDOWS:
        expected = sum(1 for d in days if (low is None or d >= low) and (high is None or d <= high))
        assert summary[name] == expected
    assert summary.sum() == len(days)  # the windows cover every whole number of days once
    chosen = next_purchase_targets(cycles, within_days=within, overdue_days=overdue)
    expected_rows = sorted((d, f"c{i:02d}") for i, d in enumerate(days) if -overdue <= d <= within)
    assert list(zip(chosen["days_until_next"], chosen["customer_id"])) == expected_rows


# --------------------------------------------------------------------------- on real purchase cycles


def test_on_purchase_cycles_of_the_sample():
    tables, _ = generate_sample(SampleConfig(customers=400, months=12, seed=2))
    as_of = tables["transactions"]["order_datetime"].max().normalize()
    cycles = purchase_cycles(tables["transactions"], as_of=as_of)
    summary = due_summary(cycles)
    assert summary["customers"].sum() == len(cycles) > 0
    assert summary["share"].sum() == pytest.approx(1.0)
    targets = next_purchase_targets(cycles)
    due_soon = summary.set_index("window").loc[["overdue", "due within 30 days"], "customers"].sum()
    assert len(targets) == due_soon  # the default target list is exactly these two windows
    assert targets["days_until_next"].is_monotonic_increasing


# =========================================================================== campaign target lists


def _list(name="l", priority=1, where=None, **extra):
    return {"name": name, "priority": priority, "theme": "win_back", "where": where or {"decile": {"max": 3}}, **extra}


def _tx(rows):
    """rows: (customer, 'YYYY-MM-DD', amount[, product]) -> canonical transactions, one order per row."""
    frame = pd.DataFrame(
        [
            (f"o{i}", c, pd.Timestamp(d), 1, float(a), r[3] if len(r) > 3 else "p")
            for i, (c, d, a, *r) in enumerate(rows)
        ],
        columns=["order_id", "customer_id", "order_datetime", "quantity", "amount", "product_id"],
    )
    return frame.astype({"customer_id": "str", "order_id": "str", "product_id": "str"})


def _customers(ids, consent=True):
    values = consent if isinstance(consent, list) else [consent] * len(ids)
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="str"), "marketing_consent": pd.array(values, "boolean")})


# --------------------------------------------------------------------------- definitions


def test_default_lists_load_in_priority_order_with_themes():
    lists = targets.load_target_lists()
    assert [t.name for t in lists] == [
        "detractor_follow_up",
        "win_back_valuable",
        "second_purchase_nudge",
        "thank_and_upgrade_champions",
    ]
    assert [t.priority for t in lists] == [1, 2, 3, 4]
    assert [t.theme for t in lists] == ["detractor_follow_up", "win_back", "second_purchase", "thank_and_upgrade"]
    assert all(t.theme in targets.THEMES for t in lists)
    win_back = lists[1]
    assert win_back.holdout == "power" and win_back.fields == ("decile", "segment", "interval_ratio")
    # a definition round-trips through its plain-data form
    assert targets.parse_target_lists([t.definition() for t in lists]) == lists


@pytest.mark.parametrize(
    ("definition", "match"),
    [
        (
            _list(where={"segmnt": {"in": ["Lost"]}}),
            r"unknown field 'segmnt' \(did you mean 'segment'\?\); allowed: .*decile.*segment",
        ),
        (
            _list(where={"spend": {"min": 3}}),
            r"Target list 'l': unknown field 'spend'; allowed: .*avg_interval_days, .*interval_ratio",
        ),
        (
            _list(where={"segment": {"in": ["Champs"]}}),
            r"unknown segment 'Champs' \(did you mean 'Champions'\?\); allowed: 'Champions', 'Loyal', .*'Lost'",
        ),
        (
            _list(where={"nps_group": {"in": ["fan"]}}),
            r"unknown value of 'nps_group' 'fan'; allowed: 'promoter', 'passive', 'detractor'",
        ),
        (_list(holdout=0), r"holdout share is out of range; allowed: a share in \(0, 0.5\], or power; received: 0\."),
        (_list(holdout=0.6), r"holdout share is out of range; .*received: 0.6\."),
        (_list(holdout=-0.1), r"holdout share is out of range"),
        (_list(holdout=True), r"holdout share is out of range"),
        (_list(holdout="power"), r"holdout: power needs expected_response and expected_uplift"),
        (_list(max_holdout=0.7), r"max_holdout is out of range"),
        (
            _list(where={"segment": {"min": 3}}),
            r"condition 'min' does not apply to 'segment' \(category\); allowed: in, not_in, equals",
        ),
        (_list(where={"decile": {"atleast": 3}}), r"unknown condition 'atleast' on 'decile'"),
        (_list(where={"decile": {"in": []}}), r"decile.in needs a list of values"),
        (_list(where={"in_f2_window": {"equals": "yes"}}), r"in_f2_window.equals needs true or false"),
        (_list(theme="discount"), r"unknown theme 'discount'; allowed: win_back, second_purchase"),
        (_list(name="win back"), r"name must be an identifier"),
        (_list(priority=0), r"priority must be a whole number"),
        (_list(colour="red"), r"unknown key 'colour'"),
        (_list(products=4), r"products must be 0 to 3"),
    ],
)
def test_bad_list_definitions_name_what_is_wrong(definition, match):
    with pytest.raises(ValueError, match=match):
        targets.parse_target_lists([definition])


def test_list_names_must_be_unique_and_lists_a_list():
    with pytest.raises(ValueError, match=r"names must be unique.*\['a'\]"):
        targets.parse_target_lists([_list("a"), _list("a", priority=2)])
    with pytest.raises(ValueError, match="must be a list of list definitions"):
        targets.parse_target_lists({"name": "a"})


def test_params_check_the_lists_and_the_exports_folder(tmp_path):
    with pytest.raises(ParameterError, match=r"Parameter 'targets.lists': Target list 'l': unknown field 'spend'"):
        resolve_params({"targets": {"lists": [_list(where={"spend": {"min": 1}})]}})
    with pytest.raises(ParameterError, match=r"holdout share is out of range"):
        resolve_params({"targets": {"lists": [_list(holdout=0.75)]}})
    with pytest.raises(ParameterError, match=r"'targets.exports_dir' must be a folder outside the reports folder"):
        resolve_params({"targets": {"exports_dir": "reports/lists"}, "reports_dir": "reports"}, base_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"'targets.lists' must be an existing target-lists YAML file"):
        resolve_params({"targets": {"lists": "nope.yaml"}}, base_dir=tmp_path)
    (tmp_path / "lists.yaml").write_text(
        "lists:\n  - {name: a, priority: 1, theme: win_back, where: {decile: {max: 2}}}\n"
    )
    assert resolve_params({"targets": {"lists": "lists.yaml"}}, base_dir=tmp_path)["targets"]["lists"] == "lists.yaml"
    assert resolve_params({})["privacy"] == {"min_cell": 5, "consent_default": False}


def test_a_condition_never_matches_a_missing_value():
    values = pd.Series([1.0, np.nan, 3.0, 5.0])
    assert targets.Condition("x", "min", 3).mask(values).tolist() == [False, False, True, True]
    assert targets.Condition("x", "below", 3).mask(values).tolist() == [True, False, False, False]
    assert targets.Condition("x", "not_in", (1.0,)).mask(values).tolist() == [False, False, True, True]
    text = pd.Series(["a", None, "b"], dtype="str")
    assert targets.Condition("s", "in", ("a", "b")).mask(text).tolist() == [True, False, True]
    assert targets.Condition("s", "equals", "b").mask(text).tolist() == [False, False, True]


# --------------------------------------------------------------------------- attributes


def test_history_attributes_by_hand():
    # a: days 1, 11, 21 (interval 10), last 40 days before 2025-03-01; b: one purchase 20 days ago (F2 window 90)
    tx = _tx(
        [
            ("a", "2025-01-10", 100),
            ("a", "2025-01-20", 100),
            ("a", "2025-01-20", 50),
            ("a", "2025-01-30", 100),
            ("b", "2025-02-09", 300),
            ("c", "2024-10-01", 10),
            ("c", "2025-03-01", 10),  # on as_of: not counted
        ]
    )
    attrs, missing = targets.customer_attributes(tx, as_of="2025-03-01", fields=["interval_ratio", "in_f2_window"])
    got = attrs.set_index("customer_id")
    assert got.loc["a", "purchase_days"] == 3 and got.loc["a", "avg_interval_days"] == 10.0
    assert got.loc["a", "days_since_last"] == 30 and got.loc["a", "interval_ratio"] == 3.0
    assert got.loc["b", "in_f2_window"] and pd.isna(got.loc["b", "interval_ratio"])
    assert got.loc["c", "days_since_first"] == 151 and not got.loc["c", "in_f2_window"]  # outside its F2 window
    assert missing == {}
    assert "clv" not in attrs.columns  # only the providers of the fields asked for run


def test_decile_is_the_rfm_windows_revenue_ranked_like_crmtools_deciles():
    tx = _tx([(f"c{i:02d}", "2025-02-01", 100 * (i + 1)) for i in range(20)])
    attrs, _ = targets.customer_attributes(tx, as_of="2025-03-01", fields=["decile"])
    by_id = attrs.set_index("customer_id")["decile"]
    assert by_id["c19"] == 1 and by_id["c18"] == 1 and by_id["c17"] == 2 and by_id["c00"] == 10
    assert attrs["decile"].value_counts().tolist() == [2] * 10


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "B", "c1", "c10", "c2", "日本", "z"]), st.sampled_from([0, 50, 100])),
        min_size=1,
        max_size=25,
    )
)
def test_deciles_break_revenue_ties_by_customer_id(rows):
    """Customers with the same revenue in the RFM window are ranked by their ids (as crmtools.deciles does), in
    whatever order their orders come."""
    tx = _tx([(c, "2025-02-01", a) for c, a in rows])
    attrs, _ = targets.customer_attributes(tx, as_of="2025-03-01", fields=["decile", "monetary"])
    ranked = attrs.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="stable")
    expected = np.arange(len(ranked)) * 10 // len(ranked) + 1
    assert ranked["decile"].tolist() == expected.tolist()


def test_a_new_provider_is_one_entry_and_its_field_works_in_rules():
    def loyalty_points(inputs):
        ids = inputs.transactions["customer_id"].dropna().unique()
        return pd.DataFrame({"customer_id": ids, "points": [100.0 if c == "a" else 5.0 for c in ids]})

    targets.register_provider(
        targets.AttributeProvider("points", (targets.Attribute("points", "number", "loyalty points"),), loyalty_points)
    )
    try:
        tx = _tx([("a", "2025-02-01", 100), ("b", "2025-02-02", 100)])
        result = targets.target_lists(
            tx,
            period="2025-02",
            customers=_customers(["a", "b"]),
            lists=[_list("vip", where={"points": {"min": 50}}, holdout=0.5, products=0)],
        )
        assert result.members["customer_id"].tolist() == ["a"]
    finally:
        targets.ATTRIBUTE_PROVIDERS.pop("points")
    with pytest.raises(ValueError, match="unknown field 'points'"):
        targets.parse_target_lists([_list(where={"points": {"min": 50}})])


def test_a_field_whose_module_is_missing_skips_its_list_with_a_note():
    pending = targets.AttributeProvider(
        "future", (targets.Attribute("future_score", "number", "not written yet"),), None, module="crmtools.not_there"
    )
    targets.register_provider(pending)
    try:
        tx = _tx([("a", "2025-02-01", 100)])
        result = targets.target_lists(
            tx,
            period="2025-02",
            customers=_customers(["a"]),
            lists=[
                _list("later", where={"future_score": {"min": 0.5}}),
                _list("all", 2, where={"frequency": {"min": 1}}),
            ],
        )
    finally:
        targets.ATTRIBUTE_PROVIDERS.pop("future")
    s = result.summary.set_index("list")
    assert s.loc["later", ["status", "note"]].tolist() == ["skipped", "field_unavailable:future_score:module_missing"]
    assert s.loc["all", "customers"] == 1 and result.missing_fields == {"future_score": "module_missing"}


def test_nps_group_without_surveys_skips_the_detractor_list_with_a_note():
    tx = _tx([("a", "2025-02-01", 100)])
    result = targets.target_lists(tx, period="2025-02", customers=_customers(["a"]))
    row = result.summary.set_index("list").loc["detractor_follow_up"]
    assert row["status"] == "skipped" and row["note"] == "field_unavailable:nps_group:no_data"


def test_fields_of_the_other_modules_agree_with_those_modules(sample_tables):
    from crmtools.ladder import customer_stages
    from crmtools.nps import latest_scores

    t = sample_tables
    attrs, missing = targets.customer_attributes(
        t["transactions"],
        as_of="2025-04-01",
        customers=t["customers"],
        surveys=t["surveys"],
        fields=["nps_group", "stage", "clv", "churn_risk"],
    )
    assert missing == {}
    by_id = attrs.set_index("customer_id")
    stages = customer_stages(t["transactions"], as_of="2025-04-01", customers=t["customers"], surveys=t["surveys"])
    assert by_id.loc[stages.table["customer_id"], "stage"].tolist() == stages.table["rung"].tolist()
    answers = latest_scores(t["surveys"], as_of="2025-04-01")
    assert by_id.loc[answers["customer_id"], "nps_group"].tolist() == answers["nps_group"].tolist()
    assert (by_id["clv"].dropna() >= 0).all() and by_id["clv"].notna().sum() > 1000
    risk = by_id["churn_risk"].dropna()
    assert len(risk) > 1000 and risk.between(0, 1).all()


# --------------------------------------------------------------------------- building lists by hand


@pytest.fixture()
def small_world():
    """Six customers; a..d bought often (Champions or Loyal), e once recently, f long ago."""
    rows = []
    for c, n in (("a", 12), ("b", 10), ("c", 8), ("d", 6)):
        rows += [(c, pd.Timestamp("2025-09-30") - pd.Timedelta(days=7 * k), 1000) for k in range(n)]
    rows += [("e", "2025-09-25", 500), ("f", "2025-01-05", 500), ("f", "2025-02-05", 500)]
    return _tx(rows)


def test_priority_consent_and_suppression_by_hand(small_world):
    consent = [True, True, False, True, True, True]
    customers = _customers(list("abcdef"), consent)
    suppressions = pd.DataFrame(
        {
            "customer_id": ["b", "d", "e"],
            "reason": ["opt_out", "complaint", "opt_out"],
            "since": pd.to_datetime(["2025-09-01", None, "2025-12-01"]),  # e's opt-out is not in force yet
        }
    )
    lists = [
        _list("everyone", 2, where={"frequency": {"min": 1}}, holdout=0.5, products=0),
        _list("frequent", 1, where={"frequency": {"min": 6}}, holdout=0.5, products=0),
        _list("shadow", 3, where={"frequency": {"min": 1}}, holdout=0.5, products=0, exclusive=False),
        _list("nobody", 4, where={"frequency": {"min": 100}}, holdout=0.5, products=0),
    ]
    result = targets.target_lists(
        small_world, period="2025-09", customers=customers, suppressions=suppressions, lists=lists, seed=3
    )
    members = result.members.groupby("list")["customer_id"].apply(sorted).to_dict()
    # c has no consent, b opted out, d complained: a is frequent (priority 1), e and f are left for 'everyone'
    assert members == {"frequent": ["a"], "everyone": ["e", "f"], "shadow": ["a", "e", "f"]}
    s = result.summary.set_index("list")
    assert s.loc["frequent", ["matched", "not_contactable", "taken_by_earlier", "customers"]].tolist() == [4, 3, 0, 1]
    assert s.loc["everyone", ["matched", "not_contactable", "taken_by_earlier", "customers"]].tolist() == [6, 3, 1, 2]
    assert s.loc["nobody", ["status", "note", "customers"]].tolist() == ["empty", "no_customer_matches", 0]
    assert result.summary["list"].tolist() == ["frequent", "everyone", "shadow", "nobody"]
    # the members are the canonical campaign_contacts table, dated at the period's end
    contacts = result.campaign_contacts("everyone")
    assert contacts.columns.tolist() == ["campaign_id", "customer_id", "group", "contacted_at"]
    assert set(contacts["campaign_id"]) == {"everyone-2025-09"}
    assert (contacts["contacted_at"] == pd.Timestamp("2025-10-01")).all()
    assert (s["treatment"] + s["holdout"]).fillna(0).tolist() == s["customers"].fillna(0).tolist()


def test_without_a_consent_column_nobody_is_contacted_unless_params_say_so(small_world):
    lists = [_list("everyone", where={"frequency": {"min": 1}}, holdout=0.5, products=0)]
    no_column = pd.DataFrame({"customer_id": list("abcdef")})
    result = targets.target_lists(small_world, period="2025-09", customers=no_column, lists=lists)
    assert result.members.empty and result.summary.loc[0, "note"] == "none_contactable_or_free"
    assert result.summary.loc[0, ["matched", "not_contactable"]].tolist() == [6, 6]
    params = resolve_params({"privacy": {"consent_default": True}})
    opened = targets.target_lists(small_world, period="2025-09", customers=no_column, lists=lists, params=params)
    assert sorted(opened.members["customer_id"]) == list("abcdef")


def test_lists_do_not_modify_their_inputs(small_world):
    customers = _customers(list("abcdef"))
    before = small_world.copy(deep=True), customers.copy(deep=True)
    targets.target_lists(small_world, period="2025-09", customers=customers, lists=[_list(products=0)])
    pd.testing.assert_frame_equal(small_world, before[0])
    pd.testing.assert_frame_equal(customers, before[1])


# --------------------------------------------------------------------------- holdouts


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=5),
    share=st.sampled_from([0.05, 0.1, 0.2, 0.25, 0.3, 0.5]),
    seed=st.integers(0, 2**31),
)
def test_holdout_is_stratified_deterministic_and_independent_of_row_order(sizes, share, seed):
    ids = [f"c{i:03d}" for i in range(sum(sizes))]
    strata = [f"s{k}" for k, n in enumerate(sizes) for _ in range(n)]
    members = pd.DataFrame({"customer_id": ids, "segment": strata})
    group = targets.assign_holdout(members, share=share, seed=seed, salt="x")
    for k, n in enumerate(sizes):
        held = int((group[members["segment"] == f"s{k}"] == "holdout").sum())
        assert abs(held - share * n) <= 0.5  # every stratum within half a customer of the share
    shuffled = members.sample(frac=1.0, random_state=1)
    again = targets.assign_holdout(shuffled, share=share, seed=seed, salt="x")
    assert again.reindex(members.index).tolist() == group.tolist()


def test_holdout_depends_on_the_seed_and_the_list():
    members = pd.DataFrame({"customer_id": [f"c{i}" for i in range(200)], "segment": "A"})
    base = targets.assign_holdout(members, share=0.2, seed=1, salt="a")
    assert base.tolist() == targets.assign_holdout(members, share=0.2, seed=1, salt="a").tolist()
    assert base.tolist() != targets.assign_holdout(members, share=0.2, seed=2, salt="a").tolist()
    assert base.tolist() != targets.assign_holdout(members, share=0.2, seed=1, salt="b").tolist()
    assert (base == "holdout").sum() == 40
    with pytest.raises(ValueError, match=r"holdout share is out of range; allowed: a share in \(0, 0.5\]"):
        targets.assign_holdout(members, share=0.55, seed=1)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(200, 200_000),
    response=st.sampled_from([0.02, 0.05, 0.1, 0.2]),
    uplift=st.sampled_from([0.01, 0.02, 0.05]),
)
def test_power_sized_holdout_is_the_smallest_share_statsmodels_accepts(n, response, uplift):
    share, under = targets.holdout_share_for_power(n, expected_response=response, expected_uplift=uplift)

    def enough(s):  # the reference: statsmodels' control size for this split
        needed = required_sample_size(response, uplift, relative=False, ratio=(1 - s) / s)
        return math.ceil(n * s - 0.5) >= needed - 1  # the closed form may round one customer differently

    if under:
        assert share == 0.5 and not enough(0.5)
    else:
        assert enough(share)
        if share > 0.005:
            assert not enough(round(share - 0.005, 3)) or share <= 0.01


# --------------------------------------------------------------------------- on the sample, exported


@pytest.fixture(scope="module")
def sample_tables():
    tables, _ = generate_sample(SampleConfig(customers=1500, months=15, seed=3))
    return tables


def test_default_lists_on_the_sample(sample_tables):
    t = sample_tables
    result = targets.target_lists(
        t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"], seed=7
    )
    s = result.summary.set_index("list")
    assert (s["status"] == "ok").all(), s
    assert not result.members.duplicated("customer_id").any()  # one list per customer
    consent = t["customers"].set_index("customer_id")["marketing_consent"]
    assert consent.reindex(result.members["customer_id"]).astype(bool).all()  # only consented customers
    assert set(result.members.loc[result.members["list"] == "thank_and_upgrade_champions", "segment"]) <= {
        "Champions",
        "Loyal",
    }
    products = result.members[["product_1", "product_2", "product_3"]]
    assert products.notna().any().any()  # next-best products from the basket rules ...
    known = set(t["products"]["product_id"])
    assert set(products.stack().dropna()) <= known  # ... as product ids
    assert (result.members["group"].isin(["treatment", "holdout"])).all()
    again = targets.target_lists(
        t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"], seed=7
    )
    pd.testing.assert_frame_equal(result.members, again.members)  # seeded: the same lists every run


def test_export_files_permissions_and_manifest(sample_tables, tmp_path):
    t = sample_tables
    result = targets.target_lists(
        t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"], seed=7
    )
    out = write_target_lists(
        result, tmp_path / "exports" / "2025-03", reports_dir=tmp_path / "reports", inputs={"transactions": "abc"}
    )
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    names = sorted(p.name for p in out.iterdir())
    expected = sorted(
        [f"{n}.{ext}" for n in result.members["list"].unique() for ext in ("csv", "parquet")]
        + ["campaign_contacts.parquet", MANIFEST]
    )
    assert names == expected
    for p in out.iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    csv = out / "win_back_valuable.csv"
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 BOM for Japanese Excel
    from_csv = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    from_parquet = pd.read_parquet(out / "win_back_valuable.parquet")
    assert from_csv["customer_id"].tolist() == from_parquet["customer_id"].tolist()
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    win_back = next(entry for entry in manifest["lists"] if entry["name"] == "win_back_valuable")
    own = result.members[result.members["list"] == "win_back_valuable"]
    filled = {c: int(own[c].notna().sum()) for c in ("product_1", "product_2", "product_3")}
    assert win_back["products"]["filled"] == filled  # counted by hand
    kept = [c for c in targets.MEMBER_COLUMNS if not (c.startswith("product_") and filled[c] == 0)]
    assert from_csv.columns.tolist() == kept  # a product column nobody got is left out, and the manifest says so
    assert all(c in win_back["products"]["note"] for c in targets.MEMBER_COLUMNS if c not in kept)
    assert manifest["kind"] == "crmtools.targets" and manifest["data_through"] == "2025-03-31"
    assert manifest["contacted_at"] == "2025-04-01" and not manifest["partial"] and "as_of" not in manifest
    assert set(from_csv["contacted_at"]) == {"2025-04-01"}  # a date, not a timestamp
    blank = result.members["segment"].isna()
    exported = pd.concat(pd.read_parquet(out / f"{n}.parquet") for n in result.members["list"].unique())
    assert (exported["segment"] == "no_recent_purchase").sum() == blank.sum()
    assert exported["segment"].notna().all()
    if blank.any():
        assert "no purchase in the RFM lookback" in manifest["column_notes"]["segment"]
    assert manifest["seed"] == 7 and manifest["period"] == "2025-03" and manifest["inputs"] == {"transactions": "abc"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    counts = {entry["name"]: entry["counts"]["customers"] for entry in manifest["lists"]}
    assert counts == result.summary.set_index("list")["customers"].astype(int).to_dict()
    text = (out / MANIFEST).read_text(encoding="utf-8")
    assert not any(cid in text for cid in result.members["customer_id"])  # the manifest names no customer
    # written again: its own files replaced, a file it did not write kept, nothing left over beside it
    (out / "my_notes.txt").write_text("mine", encoding="utf-8")
    write_target_lists(result, out, reports_dir=tmp_path / "reports")
    assert sorted(p.name for p in out.iterdir()) == sorted([*expected, "my_notes.txt"])
    assert (out / "my_notes.txt").read_text(encoding="utf-8") == "mine"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert sorted(p.name for p in out.parent.iterdir()) == ["2025-03"]


def test_exports_refuse_the_reports_folder_and_add_contact_fields_only_when_asked(sample_tables, tmp_path):
    t = sample_tables
    result = targets.target_lists(t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"])
    for inside in (tmp_path / "reports", tmp_path / "reports" / "2025-03" / "lists"):
        with pytest.raises(ValueError, match="is inside the reports folder"):
            write_target_lists(result, inside, reports_dir=tmp_path / "reports")
    assert not (tmp_path / "reports").exists()
    plain = write_target_lists(result, tmp_path / "a", reports_dir=tmp_path / "reports")
    assert "email" not in pd.read_parquet(plain / "win_back_valuable.parquet").columns
    withmail = write_target_lists(result, tmp_path / "b", customers=t["customers"], contact_fields=["email"])
    assert pd.read_parquet(withmail / "win_back_valuable.parquet")["email"].str.endswith("@example.com").all()
    with pytest.raises(ValueError, match="Unknown contact field 'address'"):
        write_target_lists(result, tmp_path / "c", customers=t["customers"], contact_fields=["address"])
    assert check_exports_dir(tmp_path / "exports", tmp_path / "reports") == (tmp_path / "exports").resolve()


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_exports_never_delete_what_they_did_not_write(sample_tables, tmp_path):
    """A non-empty folder that is not a targets export, or the export of another period, is refused untouched."""
    t = sample_tables
    result = targets.target_lists(t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"])
    data_copy = tmp_path / "samplecopy"
    data_copy.mkdir()
    (data_copy / "customers.parquet").write_bytes(b"PAR1 customers")
    (data_copy / "transactions.parquet").write_bytes(b"PAR1 transactions")
    unrelated = tmp_path / "unrelated"
    (unrelated / "sub").mkdir(parents=True)
    (unrelated / "notes.txt").write_text("notes", encoding="utf-8")
    (unrelated / "sub" / "a.txt").write_text("a", encoding="utf-8")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / MANIFEST).write_text('{"run_key": "x", "notebooks": []}', encoding="utf-8")  # not ours
    for folder in (data_copy, unrelated, foreign):
        before = _tree(folder)
        with pytest.raises(ValueError, match=f"The exports folder {re.escape(str(folder))} is not empty"):
            write_target_lists(result, folder)
        assert _tree(folder) == before
    previous = write_target_lists(result, tmp_path / "exp")
    before = _tree(previous)
    later = targets.target_lists(t["transactions"], period="2025-02", customers=t["customers"])
    with pytest.raises(ValueError, match="holds the targets export of 2025-03, not 2025-02"):
        write_target_lists(later, previous)
    assert _tree(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp", "foreign", "samplecopy", "unrelated"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (write_target_lists(result, empty) / MANIFEST).is_file()  # an empty folder is fine


@pytest.mark.parametrize(
    "marker",
    [
        lambda r: (r / ".crmtools.lock").write_text("", encoding="utf-8"),
        lambda r: [(r / n).write_text("<html>", encoding="utf-8") for n in ("index.html", "index.ja.html")],
        lambda r: ((r / "2025-12" / "en").mkdir(parents=True), (r / "2025-12" / "en" / MANIFEST).write_text("{}")),
    ],
    ids=["lock", "index pages", "published period"],
)
def test_exports_refuse_any_reports_folder_found_by_its_markers(sample_tables, tmp_path, marker):
    t = sample_tables
    result = targets.target_lists(t["transactions"], period="2025-03", customers=t["customers"], surveys=t["surveys"])
    reports = tmp_path / "published"  # not the params reports_dir: found by its markers
    reports.mkdir()
    marker(reports)
    (reports / "2025-12" / "ja").mkdir(parents=True, exist_ok=True)
    for inside in (reports / "exports", reports / "2025-12" / "exp2", reports):
        with pytest.raises(ValueError, match=f"is inside the reports folder {re.escape(str(reports))}"):
            write_target_lists(result, inside)
    with pytest.raises(ValueError, match="holds the reports folder"):
        check_exports_dir(tmp_path, tmp_path / "published")
    assert not (reports / "exports").exists() and not (reports / "2025-12" / "exp2").exists()
    assert write_target_lists(result, tmp_path / "exports" / "2025-03").is_dir()  # beside it is fine


def test_round_trip_export_responses_campaign_roi(sample_tables, tmp_path):
    """Export a list, simulate the campaign's responses, load the export as campaign contacts, read the ROI."""
    t = sample_tables
    lists = [
        {
            "name": "reactivate",
            "priority": 1,
            "theme": "reactivation",
            "where": {"days_since_last": {"min": 30}},
            "holdout": 0.5,
            "products": 0,
        }
    ]
    result = targets.target_lists(t["transactions"], period="2025-03", customers=t["customers"], lists=lists, seed=11)
    out = write_target_lists(result, tmp_path / "exports" / "2025-03")
    contacts = load_table("campaign_contacts", TableSource(file=str(out / "reactivate.csv")))
    treated = int((contacts["group"] == "treatment").sum())
    assert treated > 150 and (contacts["group"] == "holdout").sum() > 150
    # Planted: within 30 days, 30% of the treated and 10% of the holdout order once, for 5,000 each.
    rng = np.random.default_rng(5)
    rate = contacts["group"].map({"treatment": 0.30, "holdout": 0.10}).to_numpy()
    buyers = contacts.loc[rng.random(len(contacts)) < rate]
    start = pd.Timestamp("2025-04-01")
    orders = pd.DataFrame(
        {
            "order_id": [f"R{i}" for i in range(len(buyers))],
            "customer_id": buyers["customer_id"].to_numpy(),
            "order_datetime": start + pd.to_timedelta(rng.integers(0, 29 * 24, len(buyers)), unit="h"),
            "quantity": 1,
            "amount": 5000.0,
        }
    )
    tx = pd.concat([t["transactions"][orders.columns], orders], ignore_index=True)
    campaign = pd.DataFrame(
        {
            "campaign_id": [targets.campaign_id_for("reactivate", period="2025-03")],
            "name": ["Reactivation mail"],
            "channel": ["email"],
            "start_date": [start],
            "end_date": [pd.Timestamp("2025-04-30")],
            "cost": [treated * 100.0],
        }
    )
    roi = campaign_roi(campaign, contacts, tx, margin=0.4, as_of="2025-05-01").iloc[0]
    assert roi["attribution"] == "contacts" and roi["treated"] == treated
    truth = 0.20 * treated  # planted incremental buyers
    assert roi["incremental_conversions_ci_low"] <= truth <= roi["incremental_conversions_ci_high"]
    assert roi["incremental_conversions_ci_low"] > 0  # recovered: the effect is there
    assert roi["incremental_revenue"] == pytest.approx(roi["incremental_conversions"] * 5000.0, rel=1e-9)
    assert roi["incremental_revenue_ci_low"] <= truth * 5000.0 <= roi["incremental_revenue_ci_high"]


def test_the_targets_command_writes_lists_and_refuses_the_reports_folder(
    small_sample_dir, tmp_path, monkeypatch, capsys
):
    from crmtools.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["targets", "--data", str(small_sample_dir), "--period", "2025-03"]
    assert main([*args, "--out", "reports/2025-03/lists"]) == 2
    assert "is inside the reports folder" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
    assert main([*args, "--set", "targets.exports_dir=reports/x"]) == 2
    assert "'targets.exports_dir' must be a folder outside the reports folder" in capsys.readouterr().err
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "win_back_valuable:" in printed and "Wrote " in printed
    assert (tmp_path / "exports" / "2025-03" / MANIFEST).is_file()
    assert not re.search(r"C\d{6}", printed)  # the command prints counts, never customer ids
    assert "data through 2025-03-31" in printed and "as of" not in printed


def test_the_targets_command_keeps_to_the_reports_coverage_rule(small_sample_dir, tmp_path, monkeypatch, capsys):
    from crmtools.cli import main

    monkeypatch.chdir(tmp_path)
    base = ["targets", "--data", str(small_sample_dir)]
    for period in ("2026-03", "2027-03"):  # after the data ends: exit 3 with the data's range, nothing written
        assert main([*base, "--period", period]) == 3
        err = capsys.readouterr().err
        assert f"no orders in {period}; the data covers " in err
        assert not (tmp_path / "exports").exists()
    cut = tmp_path / "data_to_mid_march"  # the same data ending on 2025-03-14
    shutil.copytree(small_sample_dir, cut)
    tx = pd.read_parquet(cut / "transactions.parquet")
    tx[tx["order_datetime"] < "2025-03-15"].to_parquet(cut / "transactions.parquet", index=False)
    partial = ["targets", "--data", str(cut), "--period", "2025-03"]
    assert main(partial) == 3
    assert "only partly" in capsys.readouterr().err and not (tmp_path / "exports").exists()
    assert main([*partial, "--allow-partial"]) == 0
    assert "data through 2025-03-14 (partial period)" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "exports" / "2025-03" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["partial"] and manifest["data_through"] == "2025-03-14"


def test_the_targets_command_refuses_a_reports_folder_anywhere_and_words_its_notes(
    small_sample_dir, tmp_path, monkeypatch, capsys
):
    from crmtools.cli import main

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the reports folder is elsewhere: params reports_dir would not name it
    reports = tmp_path / "trial" / "reports"
    (reports / "2025-12" / "en").mkdir(parents=True)
    (reports / "2025-12" / "en" / MANIFEST).write_text("{}", encoding="utf-8")
    (reports / ".crmtools.lock").write_text("", encoding="utf-8")
    args = ["targets", "--data", str(small_sample_dir), "--period", "2025-03"]
    for out in (reports / "exports", reports / "2025-12" / "exp2"):
        assert main([*args, "--out", str(out)]) == 2
        assert "is inside the reports folder" in capsys.readouterr().err
        assert not out.exists()
    other = tmp_path / "other_reports"
    assert main([*args, "--reports-dir", str(other), "--out", str(other / "lists")]) == 2
    assert f"is inside the reports folder {other}" in capsys.readouterr().err
    lists = [{"name": "nobody", "priority": 1, "theme": "reactivation", "where": {"days_since_last": {"min": 99999}}}]
    params = work / "p.yaml"
    params.write_text(json.dumps({"targets": {"lists": lists}}), encoding="utf-8")
    assert main([*args, "--params", str(params)]) == 0
    printed = capsys.readouterr().out
    assert "nobody: no list written: no customer matches the rule." in printed
    assert "no_customer_matches" not in printed


def test_every_default_list_has_a_title_in_every_language_and_user_lists_fall_back_to_their_name():
    from crmtools.reporting import i18n

    for t in targets.load_target_lists():
        for lang in ("en", "ja"):
            title = i18n.target_list_title(t.name, lang)
            assert title and title != t.name and "_" not in title, (t.name, lang)
        assert i18n.target_list_title(t.name, "en") != i18n.target_list_title(t.name, "ja")
    assert i18n.target_list_title("my_own_list", "ja") == "my_own_list"


def test_list_notes_are_words_for_every_code_and_count():
    from crmtools.reporting import i18n

    assert i18n.target_list_note() == ""
    assert i18n.target_list_note(None, underpowered=pd.NA, not_contactable=pd.NA, taken_by_earlier=0) == ""
    assert i18n.target_list_note("no_customer_matches") == "no customer matches the rule"
    assert i18n.target_list_note("field_unavailable:nps_group:no_data", language="ja") == (
        "「NPSアンケートの回答」がこのデータでは使えないため作成していません"
    )
    both = i18n.target_list_note(underpowered=np.bool_(True), not_contactable=np.int64(1234), taken_by_earlier=5)
    assert both == (
        "the holdout is too small to show the expected uplift reliably; 1,234 matching customers left out "
        "(no marketing consent, opted out or complained); 5 already in a higher-priority list"
    )
    assert "1,234人" in i18n.target_list_note(not_contactable=1234, language="ja")
    for code in ("no_customer_matches", "none_contactable_or_free", "field_unavailable:clv:module_missing"):
        for lang in ("en", "ja"):
            words = i18n.target_list_note(code, language=lang)
            assert words and code.split(":")[0] not in words


def test_a_skipped_lists_note_names_its_field_in_words_never_as_a_field_name():
    """The note read "nps_groupがこのデータでは使えない…": every registered field has words in every language."""
    from crmtools.reporting import i18n

    fields = [a.name for provider in targets.ATTRIBUTE_PROVIDERS.values() for a in provider.attributes]
    assert {"nps_group", "clv", "churn_risk", "segment"} <= set(fields)
    for name in fields:
        for reason in ("no_data", "module_missing"):
            en, ja = (
                i18n.target_list_note(f"field_unavailable:{name}:{reason}", language=lang) for lang in ("en", "ja")
            )
            words = {lang: i18n.code_label(name, "target.field", lang) for lang in ("en", "ja")}
            assert name not in ja and words["ja"] in ja, (name, ja)
            assert words["en"] in en and words["en"] != name and ("_" not in en), (name, en)
            assert reason not in ja and reason not in en
    assert "my_score" in i18n.target_list_note("field_unavailable:my_score:no_data", language="ja")  # as written


def test_the_actions_page_shows_list_titles_and_notes_in_words():
    """08_actions' list table words each list (title, notes) instead of showing its code (a source check; the
    page itself renders in the slow end-to-end tests)."""
    from pathlib import Path

    import nbformat

    from crmtools.reporting import i18n

    path = Path(__file__).resolve().parents[1] / "notebooks" / "08_actions.ipynb"
    cell = next(c.source for c in nbformat.read(path, as_version=4).cells if "html_table(" in c.source)
    assert "i18n.target_list_title(" in cell and "i18n.target_list_note(" in cell
    assert "underpowered=row.underpowered" in cell and "not_contactable=row.not_contactable" in cell
    for lang in ("en", "ja"):
        assert "<list>" not in i18n.text("actions.no_comparable", lang) and "<リスト>" not in i18n.text(
            "actions.no_comparable", lang
        )


def _history_reference(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The history attributes by their definition, in plain pandas on text ids."""
    bought = tx.loc[tx["customer_id"].notna() & (tx["quantity"] > 0) & (tx["order_datetime"] < as_of)]
    days = bought.assign(day=bought["order_datetime"].dt.normalize()).drop_duplicates(["customer_id", "day"])
    per = days.groupby("customer_id", sort=True)["day"].agg(["min", "max", "count"])
    first = (as_of.normalize() - per["min"]).dt.days
    last = (as_of.normalize() - per["max"]).dt.days
    interval = ((per["max"] - per["min"]).dt.days / (per["count"] - 1)).where(per["count"] > 1)
    return pd.DataFrame(
        {
            "customer_id": per.index.astype("str"),
            "days_since_first": first.to_numpy("int64"),
            "days_since_last": last.to_numpy("int64"),
            "purchase_days": per["count"].to_numpy("int64"),
            "avg_interval_days": interval.to_numpy("float64"),
            "interval_ratio": (last / interval).where(interval > 0).to_numpy("float64"),
        }
    )


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "ab", "", "日本", None]),
            st.integers(-400, 3),  # days from as_of (lines on or after it do not count)
            st.sampled_from([0, 1, 43_200, 86_399]),
            st.sampled_from([1, 2, 0, -1, None]),
        ),
        max_size=40,
    ),
    st.sampled_from(["str", "object"]),
)
def test_history_attributes_equal_their_definition(rows, dtype):
    as_of = pd.Timestamp("2025-03-01")
    rows = [("a", -10, 0, 1), *rows]  # one known purchase: a column of text ids, never of missing values only
    tx = pd.DataFrame(
        {
            "order_id": pd.Series([str(i) for i in range(len(rows))], dtype="str"),
            "customer_id": pd.Series([r[0] for r in rows], dtype=dtype),
            "order_datetime": as_of + pd.to_timedelta([d * 86_400 + s for _, d, s, _ in rows], unit="s"),
            "quantity": pd.array([r[3] for r in rows], dtype="Int64"),
            "amount": 1.0,
        }
    )
    attrs, _ = targets.customer_attributes(
        tx,
        as_of=as_of,
        fields=["days_since_first", "days_since_last", "purchase_days", "avg_interval_days", "interval_ratio"],
    )
    expected = _history_reference(tx, as_of)
    got = attrs[expected.columns].dropna(subset=["days_since_first"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_attributes_asked_twice_at_the_same_instant_are_computed_once(sample_tables, monkeypatch):
    """A page's target lists and its lifetime-value chart ask for attributes at the same instant: each provider
    runs once for the same tables, instant and settings; another instant, other settings, another customers
    table or one written in place make it run again, and the table is the one a first call gives."""
    import dataclasses

    t = sample_tables
    runs = []
    for name in ("rfm", "history", "clv"):
        provider = targets.ATTRIBUTE_PROVIDERS[name]
        monkeypatch.setitem(
            targets.ATTRIBUTE_PROVIDERS,
            provider.name,
            dataclasses.replace(
                provider, compute=lambda i, c=provider.compute, n=provider.name: (runs.append(n), c(i))[1]
            ),
        )
    tx, customers = t["transactions"].copy(), t["customers"].copy()
    ask = dict(as_of="2025-03-31", customers=customers, surveys=t["surveys"])
    first, _ = targets.customer_attributes(tx, **ask, fields=["clv", "segment"])
    assert sorted(runs) == sorted(set(runs)) and "clv" in runs
    runs.clear()
    again, _ = targets.customer_attributes(tx, **ask, fields=["clv"])
    assert runs == []
    pd.testing.assert_frame_equal(again[["customer_id", "clv"]], first[["customer_id", "clv"]])
    targets.customer_attributes(tx, **{**ask, "as_of": "2025-02-28"}, fields=["clv"])
    assert "clv" in runs
    runs.clear()
    targets.customer_attributes(tx, **ask, fields=["clv"], settings={"clv_months": 6})
    assert "clv" in runs
    runs.clear()
    customers.loc[customers.index[0], "acquisition_channel"] = "tv"  # written in place: computed again
    targets.customer_attributes(tx, **ask, fields=["clv"])
    assert "clv" in runs
    fresh, _ = targets.customer_attributes(tx.copy(), **ask, fields=["clv", "segment"])
    pd.testing.assert_frame_equal(fresh, first)
