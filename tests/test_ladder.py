"""The growth ladder (crmtools.ladder): the rule file, stages by hand and against a reference, movement, samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools import ladder
from crmtools.sampledata import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2025-11-01")
FLOOR = {"name": "buyer", "when": [{"orders": {"min": 1}}]}


def _tx(orders: dict[str, list[float]], day: str = "2025-10-01") -> pd.DataFrame:
    """One order per amount for each customer, a day apart, from ``day`` on."""
    rows = []
    for cid, amounts in orders.items():
        for k, amount in enumerate(amounts):
            rows.append((f"{cid}-{k}", cid, pd.Timestamp(day) + pd.Timedelta(days=k), 1, amount))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_datetime", "quantity", "amount"])


# --------------------------------------------------------------------------- the rule file


def test_default_ladder_has_the_seven_stages_in_order():
    lad = ladder.load_ladder()
    assert lad.names == ["purchaser", "customer", "enthusiastic", "follower", "fan", "member", "evangelist"]
    assert ladder.load_ladder(lad) is lad


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"rungs": [FLOOR, {"name": "vip", "when": [{"spend": {"min": 1}}]}]},
            r"rung 'vip', condition 1: unknown field \['spend'\]; allowed: orders",
        ),
        (
            {"rungs": [FLOOR, {"name": "vip", "when": [{"orders": 3}]}]},
            r"rung 'vip', condition 1, field 'orders': a range must be",
        ),
        (
            {"rungs": [FLOOR, {"name": "vip", "when": [{"orders": {"min": 5, "max": 2}}]}]},
            "'min' must not exceed 'max'",
        ),
        (
            {"rungs": [FLOOR, {"name": "fan", "when": [{"nps_group": "fan"}]}]},
            r"rung 'fan', condition 1, field 'nps_group': must be one of",
        ),
        ({"rungs": [FLOOR, {"name": "m", "when": [{"member": "yes"}]}]}, r"field 'member': must be true or false"),
        ({"rungs": [FLOOR, {"name": "m", "when": []}]}, r"rung 'm': 'when' must be a non-empty list"),
        ({"rungs": [FLOOR, {"name": "m", "rule": []}]}, r"rung 'm': unknown key \['rule'\]"),
        ({"rungs": [FLOOR, {"name": "buyer", "when": [{"orders": {"min": 2}}]}]}, "must be unique"),
        ({"rungs": [{"name": "x", "when": [{"orders": {"min": 2}}]}, FLOOR]}, r"rung 'x': the first rung is the floor"),
        ({"rungs": [FLOOR]}, "at least two rungs"),
        ({"rungs": [FLOOR, {"when": [{"orders": {"min": 2}}]}]}, r"rung 2: each rung needs a text 'name'"),
        ({"stages": []}, "expected a mapping with a 'rungs' list"),
        ({"rungs": [FLOOR, {"name": "off", "when": [{"orders": {"min": 2}}]}]}, "'off' is reserved"),
    ],
)
def test_bad_rule_files_name_the_rung_and_field(raw, message):
    with pytest.raises(ValueError, match=message):
        ladder.load_ladder(raw)


def test_rule_file_from_yaml_and_missing_file(tmp_path):
    path = tmp_path / "ladder.yaml"
    path.write_text("rungs:\n  - {name: a, when: [{orders: {min: 1}}]}\n  - {name: b, when: [{revenue: {min: 10}}]}\n")
    assert ladder.load_ladder(path).names == ["a", "b"]
    with pytest.raises(ValueError, match="not found"):
        ladder.load_ladder(tmp_path / "nope.yaml")
    with pytest.raises(TypeError, match="ladder must be"):
        ladder.load_ladder(3)


# --------------------------------------------------------------------------- stages


def _customers(**columns) -> pd.DataFrame:
    ids = ["a", "b", "c", "d", "e"]
    base = {"customer_id": ids, "first_seen": pd.to_datetime(["2024-01-01"] * 5)}
    return pd.DataFrame({**base, **{k: v for k, v in columns.items()}})


def test_stages_by_hand_highest_rule_wins():
    tx = _tx({"a": [10.0], "b": [10.0, 10.0], "c": [1.0] * 4, "d": [5.0, 5.0], "e": [3.0]})
    customers = _customers(
        marketing_consent=[True, False, False, True, False],
        member_since=pd.to_datetime([None, None, None, None, "2025-10-20"]),
        referred_by=[None, None, None, None, None],
    )
    surveys = pd.DataFrame(
        {"customer_id": ["a", "b"], "responded_at": pd.to_datetime(["2025-10-10", "2025-11-02"]), "score": [10, 10]}
    )
    before = customers.copy()
    stages = ladder.customer_stages(tx, customers=customers, surveys=surveys, as_of=AS_OF)
    got = dict(zip(stages.table["customer_id"], stages.table["rung"]))
    # a: one order, consented (follower needs two orders), promoter -> fan
    # b: two orders, top decile (revenue 20) -> enthusiastic; its promoter answer comes after as_of
    # c: four orders -> enthusiastic; d: two orders + consent -> follower; e: one order, member -> member
    assert got == {"a": "fan", "b": "enthusiastic", "c": "enthusiastic", "d": "follower", "e": "member"}
    # a referred_by column without a single referrer is no referral data: said, not silently empty
    assert stages.skipped == (ladder.SkippedRung("evangelist", "no_referral_data"),)
    assert stages.table["stage"].tolist() == [5, 3, 3, 4, 6]
    pd.testing.assert_frame_equal(customers, before)


def test_referrals_make_an_evangelist_only_once_the_referred_customer_is_seen():
    tx = _tx({"a": [10.0], "b": [10.0]})
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "referred_by": [None, "a"],
            "first_seen": pd.to_datetime(["2024-01-01", "2025-10-15"]),
        }
    )
    assert ladder.customer_stages(tx, customers=customers, as_of=AS_OF).table["rung"].tolist() == [
        "evangelist",
        "purchaser",
    ]
    early = ladder.customer_stages(tx, customers=customers, as_of="2025-10-10")
    assert early.table["rung"].tolist() == ["purchaser", "purchaser"]


def test_missing_optional_data_skips_rungs_with_a_note_never_an_error():
    stages = ladder.customer_stages(_tx({"a": [1.0], "b": [1.0] * 5}), as_of=AS_OF)
    assert stages.table["rung"].tolist() == ["purchaser", "enthusiastic"]
    assert [(s.rung, s.reason, s.partial) for s in stages.skipped] == [
        ("follower", "no_consent_data", False),
        ("fan", "no_surveys", False),
        ("member", "no_membership_data", False),
        ("evangelist", "no_referral_data", False),
    ]


def test_a_rung_with_some_usable_conditions_is_kept_and_noted_as_partial():
    raw = {
        "rungs": [
            {"name": "buyer", "when": [{"orders": {"min": 1}}]},
            {"name": "loyal", "when": [{"orders": {"min": 3}}, {"member": True}]},
        ]
    }
    stages = ladder.customer_stages(_tx({"a": [1.0] * 3, "b": [1.0]}), as_of=AS_OF, ladder=raw)
    assert stages.table["rung"].tolist() == ["loyal", "buyer"]
    assert [(s.rung, s.reason, s.partial) for s in stages.skipped] == [("loyal", "no_membership_data", True)]


def test_consent_as_text_and_bad_consent_values():
    tx = _tx({"a": [1.0, 1.0], "b": [1.0, 1.0]})
    ok = pd.DataFrame({"customer_id": ["a", "b"], "marketing_consent": ["yes", "false"]})
    assert ladder.customer_stages(tx, customers=ok, as_of=AS_OF).table["rung"].tolist()[0] == "follower"
    bad = pd.DataFrame({"customer_id": ["a", "b"], "marketing_consent": ["yes", "maybe"]})
    with pytest.raises(ValueError, match=r"'marketing_consent' must hold true/false values.*'maybe'"):
        ladder.customer_stages(tx, customers=bad, as_of=AS_OF)


def _reference_stage(orders, decile, consent, promoter, member, referrals) -> int:
    """The default ladder written out by hand: the highest rung whose rule holds."""
    holds = [
        True,
        orders >= 2,
        orders >= 4 or (orders >= 2 and decile <= 2),
        bool(consent) and orders >= 2,
        promoter,
        member,
        referrals >= 1,
    ]
    return max(i + 1 for i, h in enumerate(holds) if h)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 10)),
        min_size=1,
        max_size=25,
    ),
    st.integers(0, 3),
)
def test_stages_match_a_reference_and_every_customer_is_on_exactly_one_rung(people, referrals_by_first):
    ids = [f"c{i:02d}" for i in range(len(people))]
    tx = _tx({cid: [float(10 + i)] * p[0] for i, (cid, p) in enumerate(zip(ids, people))})
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "first_seen": pd.Timestamp("2024-01-01"),
            "marketing_consent": [p[1] for p in people],
            "member_since": [pd.Timestamp("2025-01-01") if p[2] else pd.NaT for p in people],
            "referred_by": [ids[0] if 0 < i <= referrals_by_first else None for i in range(len(people))],
        }
    )
    surveys = pd.DataFrame(
        {"customer_id": ids, "responded_at": pd.Timestamp("2025-10-20"), "score": [p[4] for p in people]}
    )
    stages = ladder.customer_stages(tx, customers=customers, surveys=surveys, as_of=AS_OF)
    assert stages.table["customer_id"].tolist() == sorted(ids)  # each customer exactly once
    revenue = {cid: (10 + i) * p[0] for i, (cid, p) in enumerate(zip(ids, people))}
    ranked = sorted(ids, key=lambda c: (-revenue[c], c))
    decile = {c: 1 + (k * 10) // len(ids) for k, c in enumerate(ranked)}
    expected = [
        _reference_stage(
            p[0],
            decile[cid],
            p[1],
            p[4] >= 9,
            p[2],
            sum(1 for i in range(len(people)) if 0 < i <= referrals_by_first) if cid == ids[0] else 0,
        )
        for cid, p in zip(ids, people)
    ]
    got = stages.table.set_index("customer_id").loc[ids, "stage"].tolist()
    assert got == expected


# --------------------------------------------------------------------------- summary, migration, conversion


def test_summary_counts_funnel_revenue_and_the_clv_extension_point():
    tx = _tx({"a": [10.0], "b": [20.0, 20.0], "c": [5.0] * 4})
    stages = ladder.customer_stages(tx, as_of=AS_OF)
    s = ladder.stage_summary(stages, tx, period="2025-10")
    assert s["rung"].tolist() == ladder.load_ladder().names
    assert s["customers"].sum() == 3 and s["customers"].tolist()[:3] == [1, 0, 2]
    assert s["at_or_above"].tolist()[:4] == [3, 2, 2, 0] and s["at_or_above"].is_monotonic_decreasing
    assert s["revenue"].tolist()[:3] == [10.0, 0.0, 60.0]
    assert s["clv_mean"].isna().all()
    with_clv = ladder.stage_summary(
        stages, tx, period="2025-10", clv=pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [1.0, 3.0, 5.0]})
    )
    assert with_clv["clv_mean"].tolist()[:3] == [1.0, pytest.approx(np.nan, nan_ok=True), 4.0]
    assert with_clv["clv_total"].iloc[2] == 8.0


def test_migration_and_matrix_account_for_every_customer():
    two = {"rungs": [FLOOR, {"name": "repeat", "when": [{"orders": {"min": 2}}]}]}
    history = _tx({"a": [1.0], "b": [1.0] * 2}, day="2025-09-01")
    later = pd.concat([history, _tx({"a": [1.0], "c": [1.0]}).assign(order_id=["n1", "n2"])])
    before = ladder.customer_stages(history, as_of="2025-10-01", ladder=two)
    after = ladder.customer_stages(later, as_of=AS_OF, ladder=two)
    m = ladder.stage_migration(before, after)
    moves = {(f, t): n for f, t, n in zip(m["from_rung"], m["to_rung"], m["customers"])}
    assert moves == {("off", "buyer"): 1, ("buyer", "repeat"): 1, ("repeat", "repeat"): 1}
    assert set(m["direction"]) == {"up", "same"}
    matrix = ladder.stage_migration_matrix(m, ladder=two)
    assert matrix.sum().sum() == 3 and matrix.loc["buyer", "repeat"] == 1
    assert list(matrix.index) == ["off", "buyer", "repeat"]


def test_conversion_by_hand():
    tx = pd.concat(
        [
            _tx({"a": [1.0], "b": [1.0], "c": [1.0, 1.0]}, day="2025-07-01"),
            _tx({"a": [1.0]}, day="2025-10-01").assign(order_id="n1"),
        ]
    )
    before = ladder.customer_stages(tx, as_of="2025-08-03")
    after = ladder.customer_stages(tx, as_of=AS_OF)
    conv = ladder.rung_conversion(before, after).set_index("rung")
    assert conv.loc["purchaser", ["customers", "converted"]].tolist() == [2, 1]
    assert conv.loc["purchaser", "conversion_rate"] == 0.5 and conv.loc["purchaser", "window_days"] == 90
    assert conv.loc["customer", "converted"] == 0 and np.isnan(conv.loc["fan", "conversion_rate"])
    assert "evangelist" not in conv.index


# --------------------------------------------------------------------------- the sample's plants


@pytest.fixture(scope="module")
def sample():
    return generate_sample(SampleConfig(customers=6000, months=18, seed=7))


def test_sample_fills_every_rung_and_the_plants_show(sample):
    tables, truths = sample
    end = pd.Timestamp(truths["end_exclusive"])
    stages = ladder.customer_stages(
        tables["transactions"], customers=tables["customers"], surveys=tables["surveys"], as_of=end
    )
    assert stages.skipped == ()
    counts = stages.table["rung"].value_counts()
    assert set(counts.index) == set(ladder.load_ladder().names)
    members = tables["customers"].set_index("customer_id")["member_since"].notna()
    on_member_rung = stages.table.loc[stages.table["rung"] == "member", "customer_id"]
    assert members.loc[on_member_rung].all()
    referrers = set(tables["customers"]["referred_by"].dropna())
    assert set(stages.table.loc[stages.table["rung"] == "evangelist", "customer_id"]) <= referrers
    assert truths["growth"]["members"] == int(members.sum())
    assert truths["growth"]["referred_customers"] == int(tables["customers"]["referred_by"].notna().sum())
    # planted: consent rises with loyalty, so followers and above consent more than the bottom rungs
    consent = tables["customers"].set_index("customer_id")["marketing_consent"]
    assert consent.mean() == pytest.approx(truths["growth"]["consent_share"])


# --------------------------------------------------------------------------- parameters


def test_params_check_the_ladder_file_and_windows(tmp_path):
    from crmtools.errors import ParameterError
    from crmtools.params import resolve_params

    p = resolve_params({})
    assert p["ladder"] == {"rules": None, "lookback_days": 365, "conversion_window_days": 90}
    assert p["nps"] == {"behaviour_window_days": 90, "trend_months": 12}
    bad = {"rungs": [FLOOR, {"name": "vip", "when": [{"spend": {"min": 1}}]}]}
    with pytest.raises(ParameterError, match=r"'ladder.rules' must be a valid growth ladder.*rung 'vip'.*'spend'"):
        resolve_params({"ladder": {"rules": bad}})
    with pytest.raises(ParameterError, match=r"'ladder\.rules' must be an existing growth-ladder YAML file"):
        resolve_params({"ladder": {"rules": "missing.yaml"}}, base_dir=tmp_path)
    for name, value in (("ladder.conversion_window_days", 0), ("nps.behaviour_window_days", 1000)):
        section, key = name.split(".")
        with pytest.raises(ParameterError, match=name.replace(".", r"\.")):
            resolve_params({section: {key: value}})


# --------------------------------------------------------------------------- charts


@pytest.mark.parametrize("language", ["en", "ja"])
def test_charts_draw_on_the_given_axes_and_tolerate_empty_tables(language):
    from matplotlib.figure import Figure

    from crmtools.plotting import ladder as plots
    from crmtools.reporting.i18n import TEXT

    assert all(key in TEXT for key in plots._KEYS.values())
    tx = _tx({"a": [10.0], "b": [20.0, 20.0], "c": [5.0] * 4})
    before = ladder.customer_stages(tx, as_of="2025-10-02")
    after = ladder.customer_stages(tx, as_of=AS_OF)
    summary = ladder.stage_summary(after, tx, period="2025-10")
    ax = Figure().subplots()
    assert plots.plot_ladder_funnel(summary, language=language, ax=ax) is ax
    assert ax.get_yticklabels()[0].get_text().endswith(("Purchaser", "購入者"))
    matrix = ladder.stage_migration_matrix(ladder.stage_migration(before, after))
    ax = Figure().subplots()
    assert plots.plot_stage_migration(matrix, language=language, ax=ax) is ax
    empty = ladder.stage_summary(ladder.customer_stages(tx, as_of="2020-01-01"), tx, period="2019-12")
    ax = Figure().subplots()
    assert plots.plot_ladder_funnel(empty, language=language, ax=ax) is ax and ax.texts


# --------------------------------------------------------------------------- the summary's findings


def test_summary_has_one_ladder_and_one_nps_finding_only_when_their_data_exists():
    from crmtools import nps
    from crmtools.reporting.findings import summary_findings

    tx = _tx({"a": [10.0], "b": [20.0, 20.0], "c": [5.0] * 4})
    before = ladder.customer_stages(tx, as_of="2025-10-02")
    after = ladder.customer_stages(tx, as_of=AS_OF)
    stages = ladder.stage_summary(after, tx, period="2025-10")
    conversion = ladder.rung_conversion(before, after)
    surveys = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "responded_at": pd.to_datetime(["2025-06-01"] * 3), "score": [10, 9, 2]}
    )
    overall = nps.nps_table(surveys.assign(responded_at=pd.Timestamp("2025-10-05")), period="2025-10")
    behaviour = nps.nps_behaviour(surveys, tx, as_of=AS_OF, window_days=150)
    found = summary_findings(
        period_text="Oct 2025",
        ladder_stages=stages,
        ladder_conversion=conversion,
        nps_overall=overall,
        nps_behaviour=behaviour,
    )
    assert found == [
        "0.0% of the 3 active customers stand on the top three stages (⑤ Fan, ⑥ Member, ⑦ Evangelist); 66.7% of "
        "the customers on the first stage 30 days ago stand higher now.",
        "NPS in Oct 2025 was +33.3 (95% interval −73.4 to +100.0, 3 answers); promoters repeated 100.0% in the 150 days "
        "after answering, detractors 100.0%.",
    ]
    ja = summary_findings(period_text="2025年10月", ladder_stages=stages, ladder_conversion=conversion, language="ja")
    assert len(ja) == 1 and "⑤ ファン、⑥ 会員、⑦ 信者・伝道者" in ja[0]
    assert summary_findings(nps_overall=overall.iloc[:0], nps_behaviour=behaviour) == []


def test_ladder_features_deciles_break_revenue_ties_by_id_and_rows_follow_the_ids():
    """Deciles rank revenue, equal revenue in the order of the ids (as text: "10" before "9"); the rows come sorted
    by id and each customer's consent and membership are their own, whatever the customers table's order."""
    from crmtools.ladder import ladder_features

    spend = {"9": [100.0], "10": [100.0], "a": [300.0], "b": [50.0], "c": [100.0]}
    customers = pd.DataFrame(
        {
            "customer_id": ["c", "a", "10", "b", "zz"],
            "marketing_consent": ["yes", "no", "yes", None, "yes"],
            "member_since": pd.to_datetime(["2024-01-01", "2030-01-01", None, "2025-01-01", "2024-01-01"]),
        }
    )
    out = ladder_features(_tx(spend), as_of="2025-11-01", customers=customers)
    assert out["customer_id"].tolist() == ["10", "9", "a", "b", "c"]
    # revenue order: a (300), then 10, 9, c (100 each, by id), then b (50): five customers, two deciles each
    assert out.set_index("customer_id")["decile"].to_dict() == {"a": 1, "10": 3, "9": 5, "c": 7, "b": 9}
    assert out["marketing_consent"].tolist() == [True, pd.NA, False, pd.NA, True]
    assert out["member"].tolist() == [False, False, False, True, True]


def test_the_customers_table_is_read_once_for_the_stages_at_several_instants(monkeypatch):
    """The report asks for the stages at three instants with one customers table: its ids, consent, membership and
    referrals are read once, each instant's features are those of a fresh read, an edit in place is read again,
    and a bad value is refused at every call."""
    tx = _tx({"a": [10.0, 10.0], "b": [10.0], "c": [1.0, 1.0, 1.0]}, day="2025-06-01")
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "a"],  # "a" twice: its first row counts
            "marketing_consent": ["yes", "no", None, "no"],
            "member_since": pd.to_datetime(["2025-07-01", None, "2025-09-15", "2024-01-01"]),
            "referred_by": [None, "a", "a", None],
            "first_seen": pd.to_datetime(["2024-01-01", "2025-06-01", "2025-09-01", "2024-01-01"]),
        }
    )
    reads = []
    original = ladder._CustomerTable.of
    monkeypatch.setattr(ladder._CustomerTable, "of", lambda frame: reads.append(1) or original(frame))
    instants = [pd.Timestamp(t) for t in ("2025-08-01", "2025-09-10", "2025-11-01")]
    got = [ladder.ladder_features(tx, as_of=t, customers=customers) for t in instants]
    assert len(reads) == 1
    for t, features in zip(instants, got):
        pd.testing.assert_frame_equal(features, ladder.ladder_features(tx, as_of=t, customers=customers.copy()))
    assert got[0]["member"].tolist() == [True, False, False] and got[2]["member"].tolist() == [True, False, True]
    assert got[0]["referrals"].tolist() == [1, 0, 0] and got[2]["referrals"].tolist() == [2, 0, 0]
    assert got[2]["marketing_consent"].tolist() == [True, False, pd.NA]
    reads.clear()
    customers.loc[0, "marketing_consent"] = "no"  # edited in place: read again
    assert ladder.ladder_features(tx, as_of=instants[2], customers=customers)["marketing_consent"].tolist()[0] is False
    assert len(reads) == 1
    customers.loc[1, "marketing_consent"] = "maybe"
    for _ in range(2):
        with pytest.raises(ValueError, match="'maybe'"):
            ladder.ladder_features(tx, as_of=instants[2], customers=customers)
