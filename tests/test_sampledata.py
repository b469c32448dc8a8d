"""Seeded sample data (crmtools.sampledata): deterministic, valid, and carrying its planted truths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from crmtools.cli import main
from crmtools.data import DataConfig, inspect_dataset, load_dataset
from crmtools.errors import DataValidationError
from crmtools.sampledata import SampleConfig, generate_sample, write_sample
from crmtools.validation import Policies

REPO = Path(__file__).resolve().parents[1]
DEFAULT_YAML = REPO / "params" / "default.yaml"
TABLE_NAMES = {"transactions", "customers", "products", "campaigns", "campaign_contacts", "experiments", "surveys"}
TINY = SampleConfig(customers=300, months=4, seed=11)


@pytest.fixture(scope="module")
def default_dir(tmp_path_factory) -> Path:
    """The default-size sample (20,000 customers x 24 months, seed 7), written once as Parquet."""
    return write_sample(tmp_path_factory.mktemp("default_sample"))


@pytest.fixture(scope="module")
def default_sample(default_dir) -> tuple[dict[str, pd.DataFrame], dict]:
    tables = {name: pd.read_parquet(default_dir / f"{name}.parquet") for name in TABLE_NAMES}
    truths = json.loads((default_dir / "truths.json").read_text(encoding="utf-8"))
    return tables, truths


@pytest.fixture(scope="module")
def messy_dir(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("messy"), SampleConfig(customers=300, months=4, seed=5, messy=True))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _orders(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per sales order (returns, with negative quantities, excluded)."""
    return tx[tx["quantity"] > 0].drop_duplicates("order_id")


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_seed_gives_byte_identical_files(tmp_path, file_format):
    first = _files(write_sample(tmp_path / "a", TINY, file_format=file_format))
    second = _files(write_sample(tmp_path / "b", TINY, file_format=file_format))
    assert set(first) == {f"{name}.{file_format}" for name in TABLE_NAMES} | {"truths.json"}
    assert first == second


def test_different_seed_gives_different_data(tmp_path):
    a = write_sample(tmp_path / "a", TINY)
    b = write_sample(tmp_path / "b", SampleConfig(customers=300, months=4, seed=12))
    for name in ("transactions.parquet", "customers.parquet", "experiments.parquet", "truths.json"):
        assert (a / name).read_bytes() != (b / name).read_bytes(), name


def test_rewriting_a_folder_replaces_the_old_files(tmp_path):
    write_sample(tmp_path, TINY, file_format="csv")
    write_sample(tmp_path, TINY, file_format="parquet")
    assert not list(tmp_path.glob("*.csv"))


def test_sample_data_command_writes_the_same_files(tmp_path, capsys):
    code = main(["sample-data", "--out", str(tmp_path / "cli"), "--customers", "300", "--months", "4", "--seed", "11"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    assert _files(tmp_path / "cli") == _files(write_sample(tmp_path / "api", TINY))


def test_generation_does_not_depend_on_global_random_state():
    np.random.seed(0)  # noqa: NPY002 - the legacy global state must not matter
    a, _ = generate_sample(TINY)
    np.random.seed(1)  # noqa: NPY002
    b, _ = generate_sample(TINY)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(a[name], b[name])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 5}, "customers must be at least 10; got 5"),
        ({"months": 0}, "months must be between 1 and 240; got 0"),
        ({"start": "2024-13"}, "Malformed period '2024-13'"),
    ],
)
def test_bad_sample_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampleConfig(**kwargs)


def test_bad_file_format(tmp_path):
    with pytest.raises(ValueError, match=r"file_format must be 'parquet' or 'csv'; got 'xlsx'"):
        write_sample(tmp_path, TINY, file_format="xlsx")


# --------------------------------------------------------------------------- sizes and shape


def test_sizes_are_sane(default_dir, default_sample):
    tables, truths = default_sample
    tx, customers = tables["transactions"], tables["customers"]
    assert len(customers) == truths["customers"] == 20_000 and customers["customer_id"].is_unique
    assert len(tables["products"]) == 204 and tables["products"]["category"].nunique() == 6
    assert 50_000 < len(tx) < 300_000
    orders = _orders(tx)
    assert 2.0 < len(orders) / len(customers) < 6.0  # orders per customer
    assert 1.2 < len(tx[tx["quantity"] > 0]) / len(orders) < 2.5  # lines per order
    assert set(tables["experiments"]["experiment_id"]) == {"EXP-SUBJECT", "EXP-OFFER", "EXP-AA"}
    assert tables["campaigns"]["campaign_id"].tolist() == [f"CMP-0{i}" for i in range(1, 7)]
    start, end = pd.Timestamp(truths["start"]), pd.Timestamp(truths["end_exclusive"])
    assert (start, end) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2026-01-01"))
    assert tx["order_datetime"].min() >= start and tx["order_datetime"].max() < end
    assert tx["order_datetime"].dt.to_period("M").nunique() == 24
    assert set(tx["customer_id"].dropna()) <= set(customers["customer_id"])
    assert set(tx["product_id"]) <= set(tables["products"]["product_id"])
    sizes = {p.name: p.stat().st_size for p in default_dir.iterdir()}
    assert all(0 < size < 10_000_000 for size in sizes.values()), sizes


def test_amount_is_quantity_times_price(default_sample):
    tx = default_sample[0]["transactions"]
    assert (tx["amount"] == tx["quantity"] * tx["unit_price"]).all()
    assert (tx["unit_price"] > 0).all()


# --------------------------------------------------------------------------- validation of the generated data


def test_generated_data_passes_validation_with_default_policies(default_dir):
    dataset = load_dataset(str(default_dir))
    quality = dataset.quality.set_index(["table", "check"])
    assert quality.loc[("transactions", "rows read"), "rows"] == len(dataset.transactions)
    assert quality.loc[("transactions", "return or cancellation lines"), "rows"] > 0
    assert quality.loc[("transactions", "lines without a customer id"), "rows"] > 0
    assert quality.loc[("experiments", "rows read"), "rows"] == len(dataset.experiments)
    assert dataset.experiments["converted"].dtype == "boolean"


def test_small_sample_passes_validation(small_sample_dir):
    dataset = load_dataset(str(small_sample_dir))
    assert dataset.customers["customer_id"].nunique() == 1_500
    assert dataset.transactions["order_datetime"].max() < pd.Timestamp("2025-04-01")


def test_messy_data_fails_validation_listing_every_planted_problem(messy_dir):
    assert (messy_dir / "transactions.csv").exists() and not (messy_dir / "transactions.parquet").exists()
    with pytest.raises(DataValidationError) as info:
        load_dataset(str(messy_dir))
    problems = {(p.column, p.message): p for p in info.value.problems}
    dates = problems[("order_datetime", "values cannot be read as datetime")]
    assert set(dates.values) == {"2025-13-45 10:00:00", "yesterday", "31/02/2025"}
    assert problems[("quantity", "values cannot be read as int")].values == ("two",)
    assert problems[("quantity", "values are not whole numbers")].values == ("1.5",)
    assert problems[("unit_price", "check failed: values below 0.0")].values == (-500.0,)
    assert problems[("order_id, product_id", "duplicate keys")].count == 1
    assert all(p.table == "transactions" and p.source.endswith("transactions.csv") for p in problems.values())


def test_messy_data_is_usable_once_policies_say_how(messy_dir):
    policies = Policies(invalid_rows="drop", duplicates="drop")
    dataset, problems, quality = inspect_dataset(DataConfig(path=str(messy_dir), policies=policies))
    assert problems == []
    counts = quality[quality["table"] == "transactions"].set_index("check")
    assert counts.loc["invalid rows", ["rows", "action"]].tolist() == [6, "drop"]  # 3 dates, 2 quantities, 1 price
    assert counts.loc["duplicate key rows", ["rows", "action"]].tolist() == [1, "drop"]
    read = counts.loc["rows read", "rows"]
    assert len(dataset.transactions) == read - 6 - 1


def test_validate_command_fails_on_messy_data(messy_dir, capsys):
    code = main(["validate", "--params", str(DEFAULT_YAML), "--data", str(messy_dir)])
    out, err = capsys.readouterr()
    assert code == 3
    assert "Data-quality summary:" in out and "rows read" in out
    for text in ("'order_datetime'", "'yesterday'", "'two'", "'1.5'", "-500.0", "duplicate keys", "NOT usable"):
        assert text in err, text


def test_validate_command_accepts_messy_data_with_policies(messy_dir, capsys):
    code = main(
        [
            "validate",
            "--params",
            str(DEFAULT_YAML),
            "--data",
            str(messy_dir),
            "--set",
            "data.policies.invalid_rows=drop",
            "--set",
            "data.policies.duplicates=drop",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "invalid rows" in out and "duplicate key rows" in out and "OK:" in out


def test_validate_command_passes_on_clean_data(small_sample_dir, capsys):
    code = main(["validate", "--params", str(DEFAULT_YAML), "--data", str(small_sample_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Data-quality summary:" in out and "lines without a customer id" in out
    assert "OK:" in out and "problem" not in err


def test_validate_command_rejects_a_bad_parameter(small_sample_dir, capsys):
    code = main(
        [
            "validate",
            "--params",
            str(DEFAULT_YAML),
            "--data",
            str(small_sample_dir),
            "--set",
            "data.policies.retruns=drop",
        ]
    )
    assert code == 2
    assert "did you mean 'returns'" in capsys.readouterr().err


# --------------------------------------------------------------------------- planted truths


def test_december_peak(default_sample):
    tx = default_sample[0]["transactions"]
    revenue = tx.groupby(tx["order_datetime"].dt.to_period("M"))["amount"].sum()
    for year in (2024, 2025):
        dec = revenue[pd.Period(f"{year}-12", "M")]
        assert dec > revenue[pd.Period(f"{year}-11", "M")]
        assert dec == revenue[revenue.index.year == year].max()
    assert revenue[pd.Period("2024-12", "M")] > revenue[pd.Period("2025-01", "M")]


def test_new_customers_arrive_every_month(default_sample):
    orders = _orders(default_sample[0]["transactions"]).dropna(subset=["customer_id"])
    first = orders.groupby("customer_id")["order_datetime"].min().dt.to_period("M").value_counts()
    assert len(first) == 24
    assert first.min() > 300  # ~830 a month on average


def test_returns_and_guest_orders(default_sample):
    tables, truths = default_sample
    tx = tables["transactions"]
    orders = _orders(tx)
    returns = tx[tx["quantity"] < 0]
    assert returns["order_id"].str.startswith("R").all()
    assert returns["order_id"].nunique() / len(orders) == pytest.approx(truths["return_order_share"], abs=0.005)
    assert orders["customer_id"].isna().mean() == pytest.approx(truths["guest_order_share"], abs=0.003)
    # Every return refers to an earlier sale of the same product, a few days before.
    sales = tx[tx["quantity"] > 0].set_index(["order_id", "product_id"])
    origin = sales.loc[list(zip("O" + returns["order_id"].str.slice(1), returns["product_id"]))]
    delay = returns["order_datetime"].to_numpy() - origin["order_datetime"].to_numpy()
    assert (delay >= pd.Timedelta(days=3)).all() and (delay < pd.Timedelta(days=15)).all()
    assert (-returns["quantity"].to_numpy() == origin["quantity"].to_numpy()).all()


def test_heavy_tailed_order_values(default_sample):
    tx = default_sample[0]["transactions"]
    values = tx[tx["quantity"] > 0].groupby("order_id")["amount"].sum().sort_values(ascending=False)
    assert values.mean() > 1.15 * values.median()
    assert values.head(len(values) // 10).sum() / values.sum() > 0.25  # the top 10% of orders
    assert values.max() > 10 * values.median()
    assert stats.skew(values) > 1


def test_buy_till_you_die_customers_are_heterogeneous(default_sample):
    tables, truths = default_sample
    frequency = (
        _orders(tables["transactions"])
        .dropna(subset=["customer_id"])
        .groupby("customer_id")["order_id"]
        .nunique()
        .reindex(tables["customers"]["customer_id"], fill_value=0)
    )
    assert 0.1 < (frequency == 1).mean() < 0.5  # many buy once and drop out
    assert frequency.max() >= 20  # a few buy very often
    by_channel = frequency.groupby(tables["customers"]["acquisition_channel"].to_numpy()).mean()
    rates = truths["channel_rate_multiplier"]
    assert rates["app"] > rates["web"] and by_channel["app"] > by_channel["web"]  # app customers repeat most
    assert by_channel["web"] > by_channel["phone"]


def test_planted_co_purchase_pairs_are_recovered(default_sample):
    tables, truths = default_sample
    sales = tables["transactions"].query("quantity > 0")
    n_orders = sales["order_id"].nunique()
    orders_of = sales.groupby("product_id")["order_id"].agg(set)
    assert len(truths["co_purchase_pairs"]) == 3
    for pair in truths["co_purchase_pairs"]:
        a, b = orders_of[pair["antecedent_id"]], orders_of[pair["consequent_id"]]
        lift = len(a & b) * n_orders / (len(a) * len(b))
        assert lift == pytest.approx(pair["expected_lift"], rel=0.15), pair
        names = tables["products"].set_index("product_id")["product_name"]
        assert names[pair["antecedent_id"]] == pair["antecedent"]


def test_campaign_truths_are_consistent(default_sample):
    tables, truths = default_sample
    tx, contacts, campaigns = tables["transactions"], tables["campaign_contacts"], tables["campaigns"]
    assert set(truths["campaigns"]) == set(campaigns["campaign_id"])
    assert truths["campaigns"]["CMP-06"] == {"holdout": False, "planted_uplift": None}
    assert "CMP-06" not in set(contacts["campaign_id"])
    assert set(contacts["group"]) == {"treatment", "holdout"}
    assert not contacts.duplicated(["campaign_id", "customer_id"]).any()
    effects = {}
    for cid, truth in truths["campaigns"].items():
        if not truth["holdout"]:
            continue
        groups = contacts[contacts["campaign_id"] == cid]["group"].value_counts()
        assert (groups["treatment"], groups["holdout"]) == (truth["treated"], truth["holdout_size"]), cid
        tagged = tx[(tx["campaign_id"] == cid) & (tx["quantity"] > 0)]
        assert tagged["order_id"].nunique() == truth["extra_orders"], cid
        assert tagged["amount"].sum() == pytest.approx(truth["incremental_revenue"]), cid
        treated = set(contacts.query("campaign_id == @cid and group == 'treatment'")["customer_id"])
        assert set(tagged["customer_id"]) <= treated, cid
        window = (pd.Timestamp(truth["window_start"]), pd.Timestamp(truth["window_end"]))
        assert tagged["order_datetime"].between(*window).all(), cid
        effects[cid] = truth["planted_uplift"]
    assert effects["CMP-04"] == 0.0 and truths["campaigns"]["CMP-04"]["extra_orders"] == 0  # no effect
    assert sum(u > 0 for u in effects.values()) == 4


def _two_proportions(frame: pd.DataFrame, variant: str) -> tuple[float, float]:
    treated, control = frame[frame["variant"] == variant], frame[frame["variant"] == "control"]
    z, p = proportions_ztest([treated["converted"].sum(), control["converted"].sum()], [len(treated), len(control)])
    return float(z), float(p)


def test_experiment_truths(default_sample):
    tables, truths = default_sample
    experiments = tables["experiments"]
    assert not experiments.duplicated(["experiment_id", "unit_id"]).any()
    by_id = dict(tuple(experiments.groupby("experiment_id")))
    for exp_id, truth in truths["experiments"].items():
        sizes = by_id[exp_id]["variant"].value_counts()
        assert set(sizes.index) == set(truth["variants"]) and (sizes == truth["units_per_variant"]).all()
    subject = by_id["EXP-SUBJECT"]
    z, p = _two_proportions(subject, "B")
    assert z > 0 and p < 0.01  # planted: +25% conversion on variant B
    assert _two_proportions(subject, "C")[1] > 0.05  # C has no effect
    assert set(subject["unit_id"]) <= set(tables["customers"]["customer_id"])
    assert _two_proportions(by_id["EXP-AA"], "control_copy")[1] > 0.05  # A/A: no effect
    offer = by_id["EXP-OFFER"]
    assert _two_proportions(offer, "free_shipping")[1] > 0.05  # same conversion ...
    revenue = stats.ttest_ind(
        offer.loc[offer["variant"] == "free_shipping", "revenue"], offer.loc[offer["variant"] == "control", "revenue"]
    )
    assert revenue.statistic > 0 and revenue.pvalue < 0.01  # ... more revenue per unit
    assert (experiments.loc[~experiments["converted"], "revenue"] == 0).all()
