"""Tests for crmtools.privacy and its use on load: consent, suppressions, erasure and small-cell suppression.

The end-to-end tests inject consent refusals, opt-outs, complaints and erasure requests into the sample data
and prove that none of those customers appears in any export (or report, in the slow test), and that
aggregate figures exclude the erased customers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools import privacy
from crmtools.cli import main
from crmtools.data import DataConfig, inspect_dataset, load_dataset, write_snapshot
from crmtools.errors import DataValidationError
from crmtools.kpis import period_kpis
from crmtools.quality import erasure_row
from crmtools.rfm import rfm_table
from crmtools.sampledata import SampleConfig, generate_sample, write_sample

# --------------------------------------------------------------------------- erasure


def test_erase_removes_the_customer_from_every_table_and_keeps_the_input():
    tables = {
        "transactions": pd.DataFrame({"customer_id": ["a", "b", None, "b"], "amount": [1.0, 2.0, 3.0, 4.0]}),
        "customers": pd.DataFrame({"customer_id": ["a", "b", "c"], "referred_by": ["b", None, "a"]}),
        "campaign_contacts": pd.DataFrame({"campaign_id": ["K", "K"], "customer_id": ["b", "c"]}),
        "experiments": pd.DataFrame({"unit_id": ["b", "v1"]}),
        "surveys": pd.DataFrame({"customer_id": ["b"], "score": [3]}),
        "suppressions": pd.DataFrame(
            {"customer_id": ["b", "b", "c", "zz"], "reason": ["erasure", "opt_out", "opt_out", "erasure"]}
        ),
    }
    before = {k: v.copy() for k, v in tables.items()}
    out, counts = privacy.erase(tables)
    assert out["transactions"]["amount"].tolist() == [1.0, 3.0]
    assert out["customers"]["customer_id"].tolist() == ["a", "c"]
    assert out["customers"]["referred_by"].isna().tolist() == [True, False]  # a's referrer was erased
    assert out["campaign_contacts"]["customer_id"].tolist() == ["c"]
    assert out["experiments"]["unit_id"].tolist() == ["v1"]
    assert out["surveys"].empty
    assert out["suppressions"]["customer_id"].tolist() == ["c"]
    assert counts == {
        "customers": 2,  # b and zz asked; zz is in no table
        "found": 1,
        "rows": {
            "transactions": 2,
            "customers": 1,
            "campaign_contacts": 1,
            "experiments": 1,
            "surveys": 1,
            "suppressions": 3,
        },
    }
    for name, frame in before.items():
        pd.testing.assert_frame_equal(tables[name], frame)
    row = erasure_row(counts)
    assert (row["table"], row["check"], row["rows"], row["action"]) == (
        "suppressions",
        privacy.ERASURE_CHECK,
        2,
        "erased",
    )
    assert "b" not in row["detail"].split()  # counted, never named


def test_without_erasure_requests_nothing_changes():
    tx = pd.DataFrame({"customer_id": ["a"]})
    out, counts = privacy.erase({"transactions": tx})
    assert out["transactions"] is tx and counts == {"customers": 0, "found": 0, "rows": {}}
    assert privacy.erased_ids(None).tolist() == []


# --------------------------------------------------------------------------- consent


def test_contactable_by_hand():
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "marketing_consent": pd.array([True, False, None, True, True, True], dtype="boolean"),
        }
    )
    suppressions = pd.DataFrame(
        {
            "customer_id": ["d", "e", "e", "f"],
            "reason": ["opt_out", "opt_out", "complaint", "opt_out"],
            "since": pd.to_datetime(["2025-01-01", None, "2025-02-01", "2025-11-01"]),  # f's from as_of: not yet
        }
    )
    out = privacy.contactable(
        customers, suppressions, as_of="2025-11-01", customer_ids=["a", "b", "c", "d", "e", "f", "g"]
    )
    assert out["contactable"].tolist() == [True, False, False, False, False, True, False]
    assert out["excluded_by"].tolist()[1:5] == ["no_consent", "no_consent", "opt_out", "complaint"]
    assert out["excluded_by"].tolist()[6] == "no_consent"  # g is not in customers: no consent on record
    lenient = privacy.contactable(customers, suppressions, as_of="2025-11-01", consent_default=True)
    assert lenient.set_index("customer_id")["contactable"].to_dict() == {
        "a": True,
        "b": False,  # an explicit refusal stays a refusal
        "c": True,
        "d": False,
        "e": False,
        "f": True,
    }
    with pytest.raises(TypeError, match="consent_default must be True or False"):
        privacy.contactable(customers, as_of="2025-11-01", consent_default="yes")


# --------------------------------------------------------------------------- small cells


def test_small_cells_by_hand():
    t = pd.DataFrame({"region": ["A", "B", "C", "D"], "customers": [5, 4, 0, 12], "revenue": [50.0, 40.0, 0.0, 9.0]})
    out = privacy.suppress_small_cells(t)
    assert out["customers"].tolist() == [5, pd.NA, pd.NA, 12]
    assert out["revenue"].isna().tolist() == [False, True, True, False]
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out["region"].tolist() == ["A", "B", "C", "D"]
    assert privacy.suppress_small_cells(t, min_cell=1)["suppressed"].tolist() == [False, False, True, False]
    assert privacy.small_cell_text() == "<5"
    with pytest.raises(ValueError, match="min_cell is out of range"):
        privacy.suppress_small_cells(t, min_cell=0)
    pd.testing.assert_frame_equal(
        t, pd.DataFrame({"region": list("ABCD"), "customers": [5, 4, 0, 12], "revenue": [50.0, 40.0, 0.0, 9.0]})
    )


@settings(max_examples=50, deadline=None, derandomize=True)
@given(counts=st.lists(st.integers(0, 30), min_size=1, max_size=20), min_cell=st.integers(1, 10))
def test_no_shown_cell_is_smaller_than_min_cell(counts, min_cell):
    t = pd.DataFrame({"customers": counts, "value": np.arange(len(counts), dtype=float)})
    out = privacy.suppress_small_cells(t, min_cell=min_cell)
    shown = out["customers"].dropna()
    assert (shown >= min_cell).all()
    assert out["suppressed"].sum() == sum(c < min_cell for c in counts)
    assert out.loc[out["suppressed"], "value"].isna().all()


# --------------------------------------------------------------------------- the data model


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """The small sample with refusals, opt-outs, complaints and erasure requests among its best customers."""
    folder = tmp_path_factory.mktemp("privacy_sample")
    write_sample(folder, SampleConfig(customers=1500, months=15, seed=3))
    customers = pd.read_parquet(folder / "customers.parquet")
    tx = pd.read_parquet(folder / "transactions.parquet")
    # The customers most likely to be on a list: consented, with the most revenue in the last year.
    spend = tx[tx["order_datetime"] >= "2024-04-01"].groupby("customer_id")["amount"].sum()
    consented = set(customers.loc[customers["marketing_consent"].astype(bool), "customer_id"])
    best = [c for c in spend.sort_values(ascending=False).index if c in consented][:40]
    ids = {"refused": best[0:8], "opt_out": best[8:16], "complaint": best[16:20], "erasure": best[20:30]}
    customers.loc[customers["customer_id"].isin(ids["refused"]), "marketing_consent"] = False
    customers.to_parquet(folder / "customers.parquet", index=False)
    pd.DataFrame(
        {
            "customer_id": ids["opt_out"] + ids["complaint"] + ids["erasure"],
            "reason": ["opt_out"] * 8 + ["complaint"] * 4 + ["erasure"] * 10,
            "since": ["2024-06-01"] * 22,
        }
    ).to_csv(folder / "suppressions.csv", index=False)
    return folder, ids, best[30:]


def _mentions(folder: Path, ids) -> dict[str, list[str]]:
    """Which of ``ids`` appear in which files under ``folder`` (as whole ids, in any file's bytes)."""
    pattern = re.compile(rb"(?<![A-Za-z0-9])(" + b"|".join(re.escape(i.encode()) for i in ids) + rb")(?![0-9])")
    found: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            hits = sorted({m.decode() for m in pattern.findall(path.read_bytes())})
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


def test_erased_customers_are_gone_from_every_table_and_counted(injected, tmp_path):
    folder, ids, _ = injected
    data = load_dataset(str(folder))
    erased = set(ids["erasure"])
    for name in ("transactions", "customers", "campaign_contacts", "surveys", "suppressions"):
        assert not set(getattr(data, name)["customer_id"].dropna()) & erased, name
    assert not set(data.experiments["unit_id"]) & erased
    assert not set(data.customers["referred_by"].dropna()) & erased
    row = data.quality[data.quality["check"] == privacy.ERASURE_CHECK].iloc[0]
    assert (row["table"], row["rows"], row["action"]) == ("suppressions", 10, "erased")
    assert not any(i in row["detail"] for i in erased)
    assert sorted(data.suppressions["reason"].unique()) == ["complaint", "opt_out"]
    snapshot = write_snapshot(data, tmp_path / "snapshot")  # what every report notebook reads
    assert not _mentions(snapshot, ids["erasure"])


def test_aggregates_exclude_erased_customers(injected):
    folder, ids, _ = injected
    data = load_dataset(str(folder))
    raw = pd.read_parquet(folder / "transactions.parquet")
    kept = raw[~raw["customer_id"].isin(ids["erasure"])]
    period = "2025-03"
    got = period_kpis(data.transactions, period=period).set_index("kpi")["value"]
    expected = period_kpis(kept, period=period).set_index("kpi")["value"]
    with_them = period_kpis(raw, period=period).set_index("kpi")["value"]
    assert got["revenue"] == pytest.approx(expected["revenue"]) and got["revenue"] < with_them["revenue"]
    assert got["active_customers"] == expected["active_customers"] < with_them["active_customers"]
    assert not set(rfm_table(data.transactions, as_of="2025-04-01")["customer_id"]) & set(ids["erasure"])


def test_no_refused_suppressed_or_erased_customer_in_any_export(injected, tmp_path, monkeypatch):
    folder, ids, others = injected
    monkeypatch.chdir(tmp_path)
    code = main(["targets", "--data", str(folder), "--period", "2025-03", "--set", "targets.seed=5"])
    assert code == 0
    exports = tmp_path / "exports" / "2025-03"
    banned = [i for group in ids.values() for i in group]
    assert not _mentions(exports, banned)
    assert _mentions(exports, others)  # the other best customers are there: the check can see ids


def test_report_refuses_a_reports_folder_holding_a_targets_export(small_sample_dir, tmp_path, monkeypatch, capsys):
    """Customer ids never sit in reports/: a targets export found there stops the run before any notebook."""
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    assert main(["targets", "--data", str(small_sample_dir), "--period", "2025-03", "--out", "lists"]) == 0
    (reports / "old").mkdir(parents=True)
    (tmp_path / "lists").rename(reports / "old" / "lists")  # moved in by hand, past the targets command's guard
    capsys.readouterr()
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    args = ["--period", "2025-03", "--reports-dir", str(reports), "--notebooks", str(notebooks)]
    assert main(["report", "--data", str(small_sample_dir), *args]) == 2
    err = capsys.readouterr().err
    assert f"The reports folder {reports} holds a targets export" in err and "nothing was published" in err
    assert sorted(p.name for p in reports.iterdir()) == ["old"]  # no lock, no staging, no page


def test_bad_consent_values_and_suppression_reasons_are_rejected(tmp_path):
    tables, _ = generate_sample(SampleConfig(customers=60, months=3, seed=2))
    customers = tables["customers"].astype({"marketing_consent": "object"})
    customers.loc[4, "marketing_consent"] = "maybe"
    for name in ("transactions", "products"):
        tables[name].to_parquet(tmp_path / f"{name}.parquet", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["C000001"], "reason": ["spam"], "since": [None]}).to_csv(
        tmp_path / "suppressions.csv", index=False
    )
    _, problems, _ = inspect_dataset(DataConfig(path=str(tmp_path)))
    text = "\n".join(map(str, problems))
    assert re.search(
        r"customers\.csv, column 'marketing_consent': values cannot be read as bool .*row 5 \('maybe'\)", text
    )
    assert re.search(r"suppressions\.csv, column 'reason'.*'spam'.*one of \['opt_out', 'erasure', 'complaint'\]", text)
    with pytest.raises(DataValidationError):
        load_dataset(str(tmp_path))


@pytest.mark.slow
def test_no_refused_suppressed_or_erased_customer_in_any_report(injected, tmp_path, monkeypatch):
    folder, ids, _ = injected
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(repo)
    reports = tmp_path / "reports"
    code = main(["report", "--data", str(folder), "--period", "2025-03", "--reports-dir", str(reports), "--jobs", "1"])
    assert code == 0
    assert any(reports.rglob("*.html"))
    assert not _mentions(reports, [i for group in ids.values() for i in group])


#: Customer attributes that are not analytic segments: a breakdown by one of them must hide small cells.
SENSITIVE_BREAKDOWNS = ("region", "store", "age_band", "age", "gender", "prefecture")


@pytest.mark.parametrize(
    "notebook", sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")), ids=lambda p: p.name
)
def test_pages_broken_down_by_a_customer_attribute_suppress_small_cells(notebook):
    import json

    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    named = [a for a in SENSITIVE_BREAKDOWNS if re.search(rf"""["']{a}["']""", code)]
    if named:
        assert "suppress_small_cells" in code and "min_cell" in code, (
            f"{notebook.name} breaks figures down by {named} but never calls privacy.suppress_small_cells with "
            "params privacy.min_cell"
        )


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "日本"]), st.sampled_from([True, False, None])), max_size=8
    ),
    wanted=st.lists(st.sampled_from(["a", "b", "c", "x", "日本"]), max_size=8),
)
def test_consent_of_the_customers_asked_for_is_their_first_record(rows, wanted):
    """Deciding for given customers: one row each (sorted by id); the consent is the customers table's first row of
    that id, missing (so not contactable by default) for an id the table lacks."""
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, _ in rows], dtype="str"),
            "marketing_consent": pd.array([v for _, v in rows], dtype="boolean"),
        }
    )
    out = privacy.contactable(customers, as_of="2025-11-01", customer_ids=wanted)
    first = {}
    for c, v in rows:
        first.setdefault(c, v)
    ids = sorted(set(wanted))
    assert out["customer_id"].tolist() == ids and out.index.equals(pd.RangeIndex(len(ids)))
    assert [None if pd.isna(v) else bool(v) for v in out["consent"]] == [first.get(c) for c in ids]
    assert out["consent"].dtype == "boolean"
    assert out["contactable"].tolist() == [first.get(c) is True for c in ids]
