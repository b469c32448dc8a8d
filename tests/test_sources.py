"""Database and file sources: same tables from PostgreSQL, DuckDB, SQLite and files; period push-down;
fingerprints; passwords never shown; params checks; the UCI Online Retail worked example."""

from __future__ import annotations

import json
import os
import re
import socket
import string
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pg_server
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crmtools.cli import main
from crmtools.data import DataConfig, TableSource, load_dataset, load_table
from crmtools.dataconfig import scrub_secrets, url_secrets
from crmtools.errors import DataValidationError, ParameterError
from crmtools.params import _TABLE_OPTIONS, load_params
from crmtools.sampledata import SampleConfig, write_sample
from crmtools.schema import TABLES
from crmtools.sources import (
    default_period,
    latest_order_datetime,
    mask_url,
    url_has_password,
    write_tables_to_duckdb,
    write_tables_to_sql,
)

REPO = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = REPO.parent / "shared" / "data" / "online_retail.parquet"
SAMPLE = SampleConfig(customers=800, months=14, seed=5)  # 2024-01 .. 2025-02
SECRET = "Pa55-w0rd-never-shown"
ENV = "CRMTOOLS_TEST_SOURCE_URL"
FRAMES = ("transactions", "customers", "products", "campaigns", "campaign_contacts", "experiments", "quality")

#: Canonical transaction columns renamed the way a shop's own database might call them.
RENAMED = {
    "order_id": "OrderNo",
    "customer_id": "Client",
    "order_datetime": "OrderedAt",
    "product_id": "Sku",
    "quantity": "Qty",
    "unit_price": "Price",
    "amount": "LineTotal",
    "channel": "Channel",
}
MAPPING = {user: canon for canon, user in RENAMED.items()}


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("sources_sample"), SAMPLE)


@pytest.fixture(scope="module")
def from_files(sample_dir):
    return load_dataset(str(sample_dir))


@pytest.fixture(scope="module")
def extra_tables(sample_dir):
    """Variants of the transactions table, as a shop's database might hold them."""
    tx = load_table("transactions", TableSource(file=str(sample_dir / "transactions.parquet")))
    text_dates = tx.assign(order_datetime=tx["order_datetime"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    return {
        "orders_renamed": tx.rename(columns=RENAMED),
        "orders_shuffled": tx.sample(frac=1.0, random_state=11),
        "orders_no_channel": tx.drop(columns="channel"),
        "orders_text_dates": text_dates,
    }


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database the tests may write to: $CRMTOOLS_TEST_PG_URL, or a throw-away server."""
    url = os.environ.get("CRMTOOLS_TEST_PG_URL")
    if url:
        yield url
        return
    reason = pg_server.unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = pg_server.start_server()
    try:
        yield server.url
    finally:
        server.stop()


def _schema(url: str, prefix: str) -> tuple[str, str]:
    """A schema of this test worker (created when missing) and the URL that reads and writes there.

    Parallel workers (pytest -n) sharing one $CRMTOOLS_TEST_PG_URL then never touch each other's tables.
    """
    import sqlalchemy

    schema = f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    engine.dispose()
    parsed = sqlalchemy.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, parsed.render_as_string(hide_password=False)


def _with_secret(url: str) -> tuple[str, str]:
    """The URL with a password (trust authentication ignores it) and that password."""
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    if parsed.password:
        return url, str(parsed.password)
    return parsed.set(password=SECRET).render_as_string(hide_password=False), SECRET


class Database:
    """One database holding the sample tables and the variants, and how to point a config at it."""

    def __init__(self, kind: str, where: str, secret: str | None = None):
        self.kind, self.where, self.secret = kind, where, secret

    def config(self, tables: dict | None = None, **options) -> DataConfig:
        values = (
            {"source": "duckdb", "database": self.where} if self.kind == "duckdb" else {"source": "sql", "url_env": ENV}
        )
        return DataConfig.from_dict({**values, "tables": tables or {}, **options})

    def execute(self, sql: str) -> None:
        if self.kind == "duckdb":
            import duckdb

            with duckdb.connect(self.where) as con:
                con.execute(sql)
        else:
            import sqlalchemy

            engine = sqlalchemy.create_engine(self.where)
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
            engine.dispose()


def _fill_sql(url: str, sample_dir: Path, extra: dict) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        write_tables_to_sql(sample_dir, engine, if_exists="replace")
        for name, frame in extra.items():
            frame.to_sql(name, engine, if_exists="replace", index=False)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def duck(sample_dir, extra_tables, tmp_path_factory):
    import duckdb

    path = tmp_path_factory.mktemp("duck") / "crm.duckdb"
    write_tables_to_duckdb(sample_dir, path)
    with duckdb.connect(str(path)) as con:
        for name, frame in extra_tables.items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return Database("duckdb", str(path))


@pytest.fixture(scope="module")
def sqlite(sample_dir, extra_tables, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'crm.db'}"
    _fill_sql(url, sample_dir, extra_tables)
    return Database("sqlite", url)


@pytest.fixture(scope="module")
def postgres(pg_url, sample_dir, extra_tables):
    url, secret = _with_secret(_schema(pg_url, "crmtools_sources")[1])
    _fill_sql(url, sample_dir, extra_tables)
    return Database("postgres", url, secret)


DATABASES = ["duck", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def db(request, monkeypatch):
    database = request.getfixturevalue(request.param)
    monkeypatch.setenv(ENV, database.where)
    return database


def _assert_same_dataset(a, b) -> None:
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------------ same tables


def test_database_source_gives_the_same_tables_as_files(db, from_files):
    loaded = load_dataset(db.config())
    _assert_same_dataset(loaded, from_files)
    assert set(loaded.inputs) == set(from_files.inputs) and "transactions" in loaded.inputs  # the tables there are
    info = loaded.inputs["transactions"]
    assert info["rows"] == len(from_files.transactions) and info["table"] == "transactions"
    assert loaded.fingerprints["transactions"] == info["sha256"] and len(info["sha256"]) == 64


def test_rows_come_back_in_a_fixed_order_whatever_the_database_order(db, from_files):
    loaded = load_dataset(db.config({"transactions": {"table": "orders_shuffled"}}))
    pd.testing.assert_frame_equal(loaded.transactions, from_files.transactions)


def test_column_mapping_of_a_renamed_table(db, from_files):
    loaded = load_dataset(db.config({"transactions": {"table": "orders_renamed", "columns": MAPPING}}))
    pd.testing.assert_frame_equal(loaded.transactions, from_files.transactions)


def test_column_mapping_of_a_query(db, from_files):
    select = ", ".join(f'{canon} AS "{user}"' for canon, user in RENAMED.items())
    query = f"SELECT {select}, product_name, category, campaign_id FROM transactions;"
    loaded = load_dataset(db.config({"transactions": {"query": query, "columns": MAPPING}}))
    pd.testing.assert_frame_equal(loaded.transactions, from_files.transactions)
    assert loaded.inputs["transactions"]["query"] == query.rstrip(";")


def test_fill_supplies_a_column_the_table_lacks(db, from_files):
    loaded = load_dataset(db.config({"transactions": {"table": "orders_no_channel", "fill": {"channel": "web"}}}))
    expected = from_files.transactions.assign(
        channel=pd.Series("web", index=from_files.transactions.index, dtype="str")
    )
    pd.testing.assert_frame_equal(loaded.transactions, expected)


def test_a_table_can_still_come_from_a_file(db, sample_dir, from_files):
    loaded = load_dataset(db.config({"products": {"file": str(sample_dir / "products.parquet")}}))
    _assert_same_dataset(loaded, from_files)
    assert loaded.inputs["products"]["file"].endswith("products.parquet")
    assert loaded.inputs["customers"]["source"] in ("duckdb", "sql")


# ------------------------------------------------------------------------------------------------ push-down

WINDOW = {"since": pd.Timestamp("2024-06-01"), "until": pd.Timestamp("2024-10-01")}


def _in_window(tx: pd.DataFrame, since=None, until=None) -> pd.DataFrame:
    keep = pd.Series(True, index=tx.index)
    if since is not None:
        keep &= tx["order_datetime"] >= since
    if until is not None:
        keep &= tx["order_datetime"] < until
    return tx.loc[keep].reset_index(drop=True)


@pytest.mark.parametrize(
    "window", [WINDOW, {"until": WINDOW["until"]}, {"since": WINDOW["since"]}], ids=["since-until", "until", "since"]
)
def test_period_window_is_applied_in_the_query(db, sample_dir, from_files, window):
    loaded = load_dataset(db.config(), **window)
    expected = _in_window(from_files.transactions, **window)
    assert 0 < len(expected) < len(from_files.transactions)
    pd.testing.assert_frame_equal(loaded.transactions, expected)
    if "since" in window and "until" in window:
        pd.testing.assert_frame_equal(loaded.transactions, load_dataset(str(sample_dir), **window).transactions)
    info = loaded.inputs["transactions"]
    assert info["rows"] == len(expected)  # only the window's rows were read
    assert "WHERE" in info["sql"] and "2024" not in info["sql"]  # bound parameters, never values in the SQL
    assert set(info["params"]) == {f"crmtools_{k}" for k in window}
    assert loaded.inputs["customers"]["rows"] == len(from_files.customers)  # other tables are read whole


def test_period_window_on_a_renamed_date_column_and_a_query(db, from_files):
    tables = {"transactions": {"query": "SELECT * FROM orders_renamed", "columns": MAPPING}}
    loaded = load_dataset(db.config(tables), **WINDOW)
    pd.testing.assert_frame_equal(loaded.transactions, _in_window(from_files.transactions, **WINDOW))
    assert '"OrderedAt" >=' in loaded.inputs["transactions"]["sql"]


def test_text_dates_are_filtered_after_reading_in_duckdb(duck, from_files):
    loaded = load_dataset(duck.config({"transactions": {"table": "orders_text_dates"}}), **WINDOW)
    pd.testing.assert_frame_equal(loaded.transactions, _in_window(from_files.transactions, **WINDOW))
    assert loaded.inputs["transactions"]["rows"] == len(from_files.transactions)  # VARCHAR: no push-down


@pytest.mark.postgres
def test_text_dates_in_postgres_give_a_clear_error(postgres, monkeypatch):
    monkeypatch.setenv(ENV, postgres.where)
    match = (
        r"transactions from table 'orders_text_dates': the query failed \(operator does not exist: text >= "
        r"timestamp without time zone\); the period filter .*\(CAST\(\.\.\. AS timestamp\)\)"
    )
    with pytest.raises(DataValidationError, match=match):
        load_dataset(postgres.config({"transactions": {"table": "orders_text_dates"}}), **WINDOW)
    query = 'SELECT *, CAST(order_datetime AS timestamp) AS "OrderedAt" FROM orders_text_dates'
    tables = {"transactions": {"query": query, "columns": {"OrderedAt": "order_datetime"}}}
    with pytest.raises(DataValidationError, match="several input columns map onto the same canonical column"):
        load_dataset(postgres.config(tables), **WINDOW)


def test_parquet_window_skips_rows_in_a_file_and_a_folder(sample_dir, from_files, tmp_path):
    tx = pd.read_parquet(sample_dir / "transactions.parquet")
    folder = tmp_path / "transactions"
    folder.mkdir()
    for i, part in enumerate(range(0, len(tx), 1000)):
        tx.iloc[part : part + 1000].to_parquet(folder / f"part-{i:04d}.parquet", row_group_size=250)
    expected = _in_window(from_files.transactions, **WINDOW)
    for file in (sample_dir / "transactions.parquet", folder):
        quality: list[dict] = []
        source = TableSource(file=str(file))
        whole = load_table("transactions", source)
        pd.testing.assert_frame_equal(whole, from_files.transactions)
        windowed = load_table("transactions", source, quality=quality, **WINDOW)
        pd.testing.assert_frame_equal(windowed, expected)
        counts = {q["check"]: (q["rows"], q["action"]) for q in quality}
        assert counts["rows read"] == (len(expected), "loaded")
        assert counts["rows in the source"] == (len(tx), "counted")  # what `crmtools validate` reads
        assert counts["rows outside the report window"] == (len(tx) - len(expected), "not read")
        config = DataConfig.from_dict({"path": str(sample_dir), "tables": {"transactions": {"file": str(file)}}})
        info = load_dataset(config, **WINDOW).inputs["transactions"]
        assert info["rows"] == len(expected) < len(tx)  # Parquet rows outside the window were not read


def test_csv_window_is_applied_after_reading(tmp_path, from_files):
    folder = write_sample(tmp_path / "csv", SAMPLE, file_format="csv")
    loaded = load_dataset(str(folder), **WINDOW)
    pd.testing.assert_frame_equal(loaded.transactions, _in_window(from_files.transactions, **WINDOW))
    assert loaded.inputs["transactions"]["rows"] == len(from_files.transactions)  # CSV is read whole


def test_rows_with_unreadable_dates_are_still_reported_in_a_window(tmp_path):
    folder = write_sample(tmp_path / "messy", SampleConfig(customers=200, months=3, seed=2, messy=True))
    with pytest.raises(DataValidationError) as caught:
        load_dataset(str(folder), until="2024-02-01")
    dates = [p for p in caught.value.problems if p.column == "order_datetime"]
    assert dates and set(dates[0].values) >= {"yesterday", "2025-13-45 10:00:00"}


def test_an_empty_window_gives_empty_transactions_not_an_error(db, sample_dir):
    window = {"since": "2030-01-01", "until": "2030-02-01"}
    assert load_dataset(db.config(), **window).transactions.empty
    assert load_dataset(str(sample_dir), **window).transactions.empty


def _aware_frame() -> pd.DataFrame:
    """Four orders around the October boundary in Tokyo, stored as UTC instants."""
    utc = pd.to_datetime(
        ["2025-09-30 14:59:59", "2025-09-30 15:00:00", "2025-10-31 14:59:59", "2025-10-31 15:00:00"]
    ).tz_localize("UTC")
    return pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "customer_id": ["a", "b", "c", "d"],
            "order_datetime": utc,
            "product_id": ["P"] * 4,
            "quantity": [1] * 4,
            "unit_price": [10.0] * 4,
            "amount": [10.0] * 4,
            "channel": ["web"] * 4,
        }
    )


def _aware_sources(kind: str, tmp_path: Path, request, monkeypatch) -> DataConfig:
    frame = _aware_frame()
    if kind == "parquet":
        frame.to_parquet(tmp_path / "transactions.parquet")
        return DataConfig(path=str(tmp_path))
    if kind == "duckdb":
        import duckdb

        path = tmp_path / "aware.duckdb"
        with duckdb.connect(str(path)) as con:
            con.register("frame", frame)
            con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
            assert "TIME ZONE" in str(con.sql("SELECT order_datetime FROM transactions").types[0])
        return DataConfig(source="duckdb", database=str(path))
    import sqlalchemy

    schema, url = _schema(request.getfixturevalue("pg_url"), "crmtools_aware")
    engine = sqlalchemy.create_engine(url)
    frame.to_sql("aware_orders", engine, schema=schema, if_exists="replace", index=False)
    engine.dispose()
    monkeypatch.setenv(ENV, url)
    return DataConfig(source="sql", url_env=ENV, tables={"transactions": TableSource(table=f"{schema}.aware_orders")})


@pytest.mark.parametrize("kind", ["parquet", "duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_aware_datetimes_are_filtered_in_business_time(kind, tmp_path, request, monkeypatch):
    config = _aware_sources(kind, tmp_path, request, monkeypatch)
    october = load_dataset(config, since="2025-10-01", until="2025-11-01")
    assert october.transactions["order_id"].tolist() == ["2", "3"]  # Tokyo: Oct 1 00:00:00 and Oct 31 23:59:59
    assert october.inputs["transactions"]["rows"] == 2
    assert str(october.transactions["order_datetime"].iloc[0]) == "2025-10-01 00:00:00"
    assert latest_order_datetime(config) == pd.Timestamp("2025-11-01 00:00:00")
    assert default_period(config).label == "2025-10"


def test_window_arguments_are_checked(sample_dir):
    with pytest.raises(ValueError, match=r"window is empty: since \(2025-01-01 00:00:00\) must be before until"):
        load_dataset(str(sample_dir), since="2025-01-01", until="2024-01-01")
    from crmtools.periods import parse_period

    with pytest.raises(TypeError, match=r"until must be a timestamp such as period.end.*2025-01"):
        load_dataset(str(sample_dir), until=parse_period("2025-01"))
    with pytest.raises(TypeError, match=r"since must be a timestamp.*got list"):
        load_dataset(str(sample_dir), since=[1])


def test_default_period_comes_from_a_cheap_scan_of_every_source(db, sample_dir, tmp_path, from_files):
    latest = from_files.transactions["order_datetime"].max()
    csv = write_sample(tmp_path / "csv", SAMPLE, file_format="csv")
    for config in (db.config(), DataConfig(path=str(sample_dir)), DataConfig(path=str(csv))):
        assert latest_order_datetime(config) == latest
        assert default_period(config).label == "2025-02"


def test_default_period_reports_data_problems(tmp_path):
    with pytest.raises(DataValidationError, match="no transactions file found"):
        default_period(DataConfig(path=str(tmp_path)))


# ------------------------------------------------------------------------------------------------ fingerprints


def test_inputs_fingerprint_the_query_and_the_rows_read(db):
    first = load_dataset(db.config()).inputs["transactions"]
    again = load_dataset(db.config()).inputs["transactions"]
    assert first == again
    assert {"source", "table", "sql", "params", "rows", "query_sha256", "content_sha256", "sha256"} <= set(first)
    windowed = load_dataset(db.config(), until="2025-01-01").inputs["transactions"]
    assert windowed["query_sha256"] != first["query_sha256"] and windowed["sha256"] != first["sha256"]
    shuffled = load_dataset(db.config({"transactions": {"table": "orders_shuffled"}})).inputs["transactions"]
    assert shuffled["content_sha256"] == first["content_sha256"]  # same rows, another order: same content
    db.execute("DROP TABLE IF EXISTS orders_copy")
    db.execute("CREATE TABLE orders_copy AS SELECT * FROM orders_shuffled")
    db.execute("UPDATE orders_copy SET channel = 'fax' WHERE order_id = 'O0000001'")
    try:
        changed = load_dataset(db.config({"transactions": {"table": "orders_copy"}})).inputs["transactions"]
    finally:
        db.execute("DROP TABLE orders_copy")
    assert changed["content_sha256"] != first["content_sha256"] and changed["rows"] == first["rows"]


# ------------------------------------------------------------------------------------------------ secrets and errors


@pytest.mark.postgres
def test_password_is_masked_in_inputs_and_errors(postgres, monkeypatch):
    monkeypatch.setenv(ENV, postgres.where)
    masked = mask_url(postgres.where)
    assert postgres.secret not in masked and ":***@" in masked
    loaded = load_dataset(postgres.config())
    assert loaded.inputs["transactions"]["url"] == masked
    assert postgres.secret not in json.dumps(loaded.inputs)
    bad = {"transactions": {"query": "SELEC order_id FROM transactions"}}
    with pytest.raises(DataValidationError) as caught:
        load_dataset(postgres.config(bad))
    text = str(caught.value)
    assert postgres.secret not in text and masked in text
    assert "transactions from query 'SELEC order_id FROM transactions': the query failed (syntax error" in text


def test_bad_sql_and_missing_tables_name_the_table_and_the_source(db):
    where = re.escape(mask_url(db.where))
    with pytest.raises(DataValidationError, match=rf"{where}, customers from query 'SELEC nonsense': the query failed"):
        load_dataset(db.config({"customers": {"query": "SELEC nonsense"}}))
    with pytest.raises(DataValidationError) as caught:
        load_dataset(db.config({"products": {"table": "no_such_table"}}))
    problem = caught.value.problems[0]
    assert problem.table == "products" and problem.source.endswith(", products from table 'no_such_table'")
    assert problem.message.startswith("table 'no_such_table' cannot be read (")
    if db.secret:
        assert db.secret not in str(caught.value)


def test_a_database_without_a_transactions_table(tmp_path):
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(DataValidationError, match=r"no table 'transactions' in the database.*data.tables"):
        load_dataset(DataConfig(source="duckdb", database=str(path)))
    with duckdb.connect(str(path)) as con:
        con.register("frame", _aware_frame())
        con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
    only = load_dataset(DataConfig(source="duckdb", database=str(path)))
    assert len(only.transactions) == 4 and set(only.inputs) == {"transactions"}
    assert only.customers.empty and list(only.customers.columns) == TABLES["customers"].names
    with pytest.raises(DataValidationError, match=r"transactions.*DuckDB database not found"):
        load_dataset(DataConfig(source="duckdb", database=str(tmp_path / "missing.duckdb")))


def test_unreachable_server_is_one_clear_error_without_the_password(monkeypatch):
    url = f"postgresql+psycopg://crm:{SECRET}@127.0.0.1:{_free_port()}/crm"
    monkeypatch.setenv(ENV, url)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(DataConfig(source="sql", url_env=ENV))
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.table == "transactions" and problem.message.startswith("cannot connect to the database (")
    assert problem.source.startswith("postgresql+psycopg://crm:***@127.0.0.1:")
    assert SECRET not in str(caught.value)
    assert latest_order_datetime(DataConfig(source="sql", url_env=ENV)) is None
    with pytest.raises(DataValidationError, match="cannot connect"):
        default_period(DataConfig(source="sql", url_env=ENV))


def test_a_url_that_cannot_be_parsed_is_not_echoed(monkeypatch):
    monkeypatch.setenv(ENV, f"postgresql//crm:{SECRET}@db/crm")
    with pytest.raises(DataValidationError, match="cannot be parsed") as caught:
        load_dataset(DataConfig(source="sql", url_env=ENV))
    assert SECRET not in str(caught.value)


def test_url_settings_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ValueError, match=rf"environment variable {ENV} \(data.url_env\) is not set"):
        load_dataset(DataConfig(source="sql", url_env=ENV))
    with pytest.raises(ValueError, match=r"needs the database URL.*data.url_env"):
        load_dataset(DataConfig(source="sql"))
    with pytest.raises(ValueError, match=r"Give one of data\.url_env, data\.connection_file or data\.url"):
        DataConfig.from_dict({"source": "sql", "url_env": ENV, "connection_file": "~/db.yaml"})
    with pytest.raises(ValueError, match=r"data.url holds a password \(postgresql://crm:\*\*\*@db/crm\)") as caught:
        DataConfig.from_dict({"source": "sql", "url": f"postgresql://crm:{SECRET}@db/crm"})
    assert SECRET not in str(caught.value)
    with pytest.raises(ValueError, match=r"NAME of an environment variable.*got postgresql://crm:\*\*\*@db/crm"):
        DataConfig.from_dict({"source": "sql", "url_env": f"postgresql://crm:{SECRET}@db/crm"})
    with pytest.raises(ValueError, match=r"needs data\.database"):
        DataConfig.from_dict({"source": "duckdb"})
    with pytest.raises(ValueError, match=r"data.source must be one of \['files', 'duckdb', 'sql'\]; got 'oracle'"):
        DataConfig.from_dict({"source": "oracle"})
    with pytest.raises(ValueError, match=r"data\.tables\.customers\.table reads from a database"):
        DataConfig.from_dict({"tables": {"customers": {"table": "crm.members"}}})
    with pytest.raises(ValueError, match=r"data.tables.customers must give one of file, table or query"):
        DataConfig.from_dict(
            {"source": "duckdb", "database": "x.duckdb", "tables": {"customers": {"table": "a", "query": "SELECT 1"}}}
        )
    with pytest.raises(ValueError, match="load_table reads files"):
        load_table("transactions", TableSource(table="orders"))


def test_connection_file_outside_the_project(tmp_path, sample_dir, from_files):
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    database = home / "crm.db"
    write_tables_to_sql(sample_dir, f"sqlite:///{database}")
    connection = home / "db.yaml"
    connection.write_text(f"url: sqlite:///{database}\n", encoding="utf-8")
    config = DataConfig.from_dict({"source": "sql", "connection_file": str(connection)}, base_dir=project)
    _assert_same_dataset(load_dataset(config), from_files)

    inside = project / "db.yaml"
    inside.write_text(f"url: postgresql://crm:{SECRET}@db/crm\n", encoding="utf-8")
    with pytest.raises(ValueError, match="connection_file must live outside the project folder"):
        DataConfig.from_dict({"source": "sql", "connection_file": str(inside)}, base_dir=project)
    broken = home / "broken.yaml"
    broken.write_text(f"url: [postgresql://crm:{SECRET}@db/crm\n", encoding="utf-8")
    for file, message in (
        (broken, r"is not valid YAML \(line 2\)"),
        (home / "none.yaml", "Connection file not found"),
        (database, "cannot be read as UTF-8 text"),
    ):
        with pytest.raises(ValueError, match=message) as caught:
            load_dataset(DataConfig(source="sql", connection_file=str(file)))
        assert SECRET not in str(caught.value)


def test_mask_url_examples():
    assert mask_url("postgresql+psycopg://crm:s3cret@db:5432/crm") == "postgresql+psycopg://crm:***@db:5432/crm"
    assert mask_url("postgresql://crm:p@ss:w/rd@db/crm") == "postgresql://crm:***@db/crm"
    assert mask_url("mssql+pyodbc://db/crm?PWD=s3cret&driver=x") == "mssql+pyodbc://db/crm?PWD=***&driver=x"
    assert mask_url("postgresql://crm@db/crm") == "postgresql://crm@db/crm"
    assert not url_has_password("postgresql://crm@db:5432/crm") and url_has_password("postgresql://:x@db/crm")
    assert scrub_secrets(
        "could not connect with password s3cret to postgresql://crm:s3cret@db/crm",
        url_secrets("postgresql://crm:s3cret@db/crm"),
    ) == ("could not connect with password *** to postgresql://crm:***@db/crm")


@settings(max_examples=200, deadline=None)
@given(
    user=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    password=st.text(alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=6, max_size=24),
    encode=st.booleans(),
)
def test_a_password_never_survives_masking(user, password, encode):
    shown = quote(password, safe="") if encode else password
    url = f"postgresql+psycopg://{user}:{shown}@db.example.com:5432/crm?sslmode=require"
    rest = f"postgresql+psycopg://{user}:***@db.example.com:5432/crm?sslmode=require"
    assume(password not in rest and shown not in rest)
    assert shown not in mask_url(url) and password not in mask_url(url)
    assert url_has_password(url)
    scrubbed = scrub_secrets(f"failed for {url}: password {password} rejected", url_secrets(url))
    assert password not in scrubbed and shown not in scrubbed


# ------------------------------------------------------------------------------------------------ params


def _params_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_params_refuse_a_password_in_the_url(tmp_path):
    file = _params_file(tmp_path, f"data:\n  source: sql\n  url: postgresql+psycopg://crm:{SECRET}@db:5432/crm\n")
    for call in (
        lambda: load_params(file),
        lambda: load_params(None, [f"data.url=postgresql://crm:{SECRET}@db/crm"]),
        lambda: load_params(None, {"data": {"url": f"postgresql://db/crm?user=crm&password={SECRET}"}}),
    ):
        with pytest.raises(ParameterError, match=r"'data.url' holds a password \(postgresql.*\*\*\*.*url_env") as err:
            call()
        assert SECRET not in str(err.value)
    with pytest.raises(ParameterError, match=r"'data.url_env' must be the NAME.*postgresql://crm:\*\*\*@db") as caught:
        load_params(None, {"data": {"url_env": f"postgresql://crm:{SECRET}@db/crm"}})
    assert SECRET not in str(caught.value)


def test_params_accept_database_sources(tmp_path):
    text = """
data:
  source: sql
  url_env: CRMTOOLS_DB_URL
  tables:
    transactions:
      table: sales.order_lines
      columns: {line_id: product_id, ordered_at: order_datetime}
      fill: {channel: web}
    customers:
      query: SELECT id AS customer_id, created AS first_seen FROM crm.members
    products: exports/products.csv
"""
    params = load_params(_params_file(tmp_path, text), base_dir=tmp_path)
    assert params["data"]["source"] == "sql" and params["data"]["url_env"] == "CRMTOOLS_DB_URL"
    assert params["data"]["tables"]["transactions"]["table"] == "sales.order_lines"
    config = DataConfig.from_dict(params["data"], base_dir=tmp_path)
    assert config.source_for("customers").query.startswith("SELECT id")
    assert config.source_for("products").file == str(tmp_path / "exports/products.csv")
    assert config.source_for("campaigns") == TableSource(table="campaigns")
    assert load_params(None, {"data": {"source": "sql", "url": "postgresql://crm@db/crm"}})["data"]["url"]
    duck_params = load_params(None, {"data": {"source": "duckdb", "database": "data/crm.duckdb"}})
    assert DataConfig.from_dict(duck_params["data"], base_dir=tmp_path).database == str(tmp_path / "data/crm.duckdb")


@pytest.mark.parametrize(
    "tables, message",
    [
        (
            {"transactions": {"tabel": "x"}},
            r"Unknown parameter 'data.tables.transactions.tabel' \(did you mean 'table'\?\)\. "
            r"Allowed: columns, date_format, derive, encoding, file, fill, query, separator, sheet, table\.",
        ),
        (
            {"transactions": {"file": "a.csv", "query": "SELECT 1"}},
            r"'data.tables.transactions' must give one of file, table or query; got \['file', 'query'\]",
        ),
        (
            {"transaction": {"file": "a.csv"}},
            r"Unknown table 'data.tables.transaction' \(did you mean 'transactions'\?\)",
        ),
        ({"transactions": {"columns": ["a"]}}, r"'data.tables.transactions.columns' must be a mapping; got list"),
        ({"transactions": {"columns": {"a": 1}}}, r"must map your column names to canonical column names"),
        ({"transactions": {"sheet": True}}, r"'data.tables.transactions.sheet' must be text or a whole number"),
        ({"transactions": 3}, r"'data.tables.transactions' must be a file path or a mapping of columns, "),
        (["transactions"], r"'data.tables' must be a mapping of table name -> source; got list"),
    ],
)
def test_params_reject_bad_table_options(tables, message):
    with pytest.raises(ParameterError, match=message):
        load_params(None, {"data": {"tables": tables}})


def test_params_reject_an_unknown_source():
    with pytest.raises(ParameterError, match=r"'data.source' must be one of \['files', 'duckdb', 'sql'\]"):
        load_params(None, ["data.source=oracle"])


def test_table_options_are_the_table_source_fields():
    assert set(_TABLE_OPTIONS) == set(TableSource.__dataclass_fields__)


# ------------------------------------------------------------------------------------------------ CLI


def test_load_sql_command(sample_dir, tmp_path, monkeypatch, capsys, from_files):
    target = tmp_path / "crm.duckdb"
    assert main(["load-sql", "--data", str(sample_dir), "--duckdb", str(target)]) == 0
    lines = len(from_files.transactions)
    assert f"transactions: {lines:,} rows" in capsys.readouterr().out
    assert main(["load-sql", "--data", str(sample_dir), "--duckdb", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["load-sql", "--data", str(sample_dir), "--duckdb", str(target), "--replace"]) == 0
    _assert_same_dataset(load_dataset(DataConfig(source="duckdb", database=str(target))), from_files)

    monkeypatch.setenv(ENV, f"sqlite:///{tmp_path / 'crm.db'}")
    assert main(["load-sql", "--data", str(sample_dir), "--url-env", ENV]) == 0
    assert (
        main(
            [
                "validate",
                "--params",
                str(tmp_path / "none.yaml"),
                "--set",
                "data.source=sql",
                "--set",
                f"data.url_env={ENV}",
            ]
        )
        == 2
    )  # params file missing
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--set", "data.source=sql", "--set", f"data.url_env={ENV}"]) == 0
    out = capsys.readouterr().out
    assert "Data set: SQL database sqlite:///" in out and f"OK: {lines:,} order lines" in out


@pytest.mark.postgres
def test_load_sql_command_never_prints_the_password(sample_dir, pg_url, monkeypatch, capsys):
    schema, url = _schema(pg_url, "crmtools_cli")
    url, secret = _with_secret(url)
    monkeypatch.setenv(ENV, url)
    command = ["load-sql", "--data", str(sample_dir), "--url-env", ENV, "--schema", schema]
    assert main([*command, "--replace"]) == 0
    written = capsys.readouterr()
    assert main(command) == 2  # the tables exist now
    refused = capsys.readouterr()
    assert "to postgresql+psycopg://" in written.out and ":***@" in written.out and "already exists" in refused.err
    assert secret not in written.out + written.err + refused.out + refused.err


# ------------------------------------------------------------------------------------------------ end to end


def _project(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "params").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params" / "default.yaml").write_text(yaml.safe_dump({"data": data}), encoding="utf-8")
    return tmp_path


@pytest.mark.postgres
def test_report_setup_from_postgres_equals_files(postgres, sample_dir, tmp_path, monkeypatch):
    from crmtools.notebook import setup
    from crmtools.quality import lines_by_month

    monkeypatch.setenv(ENV, postgres.where)
    files = setup(project_dir=str(_project(tmp_path / "files", {"path": str(sample_dir)})), theme=False)
    sql = setup(project_dir=str(_project(tmp_path / "sql", {"source": "sql", "url_env": ENV})), theme=False)
    assert files.period == sql.period and files.period.label == "2025-02"
    _assert_same_dataset(sql.data, files.data)
    assert sql.data.transactions["order_datetime"].max() < sql.period.end

    earlier = {"overrides_json": json.dumps({"period": "2024-09"}), "theme": False}
    files_sep = setup(project_dir=str(tmp_path / "files"), **earlier)
    sql_sep = setup(project_dir=str(tmp_path / "sql"), **earlier)
    _assert_same_dataset(sql_sep.data, files_sep.data)
    assert sql_sep.data.inputs["transactions"]["rows"] == len(sql_sep.data.transactions)
    assert sql_sep.data.transactions["order_datetime"].max() < pd.Timestamp("2024-10-01")

    tx_files, tx_sql = files_sep.data.transactions, sql_sep.data.transactions
    pd.testing.assert_frame_equal(lines_by_month(tx_sql), lines_by_month(tx_files))
    rfm = pytest.importorskip("crmtools.rfm")
    pd.testing.assert_frame_equal(
        rfm.rfm_table(tx_sql, as_of=sql_sep.period), rfm.rfm_table(tx_files, as_of=files_sep.period)
    )
    basket = pytest.importorskip("crmtools.basket")
    pd.testing.assert_frame_equal(
        basket.frequent_itemsets(tx_sql, min_support=0.005), basket.frequent_itemsets(tx_files, min_support=0.005)
    )


NOTEBOOK_CELLS = [
    'period = None\nlanguage = None\nparams_file = None\noverrides_json = "{}"\ndata_path = None\noutput_dir = None',
    "%matplotlib inline\nfrom crmtools.notebook import setup\nctx = setup(period=period, language=language, "
    "params_file=params_file, overrides_json=overrides_json, data_path=data_path or None)",
    "import matplotlib.pyplot as plt\ntx = ctx.data.transactions\n"
    "month = tx[ctx.period.contains(tx['order_datetime'])]\n"
    "fig, ax = plt.subplots()\nax.bar(['revenue'], [month['amount'].sum()])\n"
    "print('FIGURES', round(month['amount'].sum(), 2), len(tx), tx['order_datetime'].max(), "
    "tx['customer_id'].nunique())",
]


def _write_notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "crmtools": {"min_images": 1},
    }
    nb.cells = [new_code_cell(code) for code in NOTEBOOK_CELLS]
    nb.cells[0].metadata["tags"] = ["parameters"]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, str(path))


@pytest.mark.slow
@pytest.mark.postgres
def test_report_run_from_postgres_matches_files_and_never_shows_the_password(
    postgres, sample_dir, from_files, tmp_path, monkeypatch
):
    from crmtools.runner import run_period

    monkeypatch.setenv(ENV, postgres.where)
    figures, manifests = {}, {}
    for kind, data in (("files", {"path": str(sample_dir)}), ("sql", {"source": "sql", "url_env": ENV})):
        project = _project(tmp_path / kind, data)
        _write_notebook(project / "notebooks" / "01_quick.ipynb")
        result = run_period("2024-09", project_dir=project, jobs=1)
        assert result.status == "published", result.message
        page = (result.report_dir / "01_quick.html").read_text(encoding="utf-8")
        figures[kind] = re.search(r"FIGURES ([^<\n]+)", page).group(1)
        manifests[kind] = json.loads((result.report_dir / "manifest.json").read_text(encoding="utf-8"))
    assert figures["sql"] == figures["files"]
    assert "2024-09-30" in figures["sql"]  # nothing after the period was read
    inputs = manifests["sql"]["inputs"]["transactions"]
    assert inputs["url"] == mask_url(postgres.where) and inputs["params"] == {"crmtools_until": "2024-10-01 00:00:00"}
    assert (
        inputs["rows"] < len(from_files.transactions)
        and manifests["files"]["inputs"]["transactions"]["rows"] == inputs["rows"]
    )
    for path in (tmp_path / "sql").rglob("*"):
        if path.is_file():
            assert postgres.secret.encode() not in path.read_bytes(), path
    again = run_period("2024-09", project_dir=tmp_path / "sql", jobs=1)
    assert again.status == "skipped"  # same query, same rows: same run key


# ------------------------------------------------------------------------------------------------ UCI Online Retail

UCI_EXAMPLE = REPO / "params" / "examples" / "uci_online_retail.yaml"
UCI_DOC = REPO / "docs" / "uci_online_retail.md"


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)


@pytest.mark.parametrize(
    ("doc", "example"),
    [(UCI_DOC, UCI_EXAMPLE), (REPO / "docs" / "cdnow.md", REPO / "params" / "examples" / "cdnow.yaml")],
)
def test_worked_examples_in_the_docs_are_the_example_params_files(doc, example):
    blocks = _yaml_blocks(doc.read_text(encoding="utf-8"))
    assert blocks[0] == example.read_text(encoding="utf-8")
    text = doc.read_text(encoding="utf-8")
    assert "\ncrmtools " not in text and ".venv/bin/crmtools validate --params" in text  # runnable as written
    for block in blocks:  # every snippet in the docs is valid params
        load_params(None, yaml.safe_load(block))


def _uci_params(tmp_path: Path, file: Path, **table) -> DataConfig:
    params = load_params(UCI_EXAMPLE, {"data": {"tables": {"transactions": {"file": str(file), **table}}}})
    return DataConfig.from_dict(params["data"], base_dir=tmp_path)


def _online_retail_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "536366", "C536379", "A563185", "536367"],
            "StockCode": ["85123A", "71053", "22633", "D", "B", "85123A"],
            "Description": [
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "WHITE METAL LANTERN",
                "HAND WARMER UNION JACK",
                "Discount",
                "Adjust bad debt",
                None,
            ],
            "Quantity": [6, 6, 6, -1, 1, 32],
            "InvoiceDate": [
                "12/1/2010 8:26",
                "12/1/2010 8:26",
                "12/1/2010 8:28",
                "12/1/2010 9:41",
                "8/12/2011 14:50",
                "12/1/2010 8:34",
            ],
            "UnitPrice": [2.55, 3.39, 1.85, 27.5, -11062.06, 2.55],
            "CustomerID": [17850.0, 17850.0, 17850.0, 14527.0, None, None],
            "Country": ["United Kingdom"] * 5 + ["France"],
        }
    )


def test_uci_example_loads_the_online_retail_layout(tmp_path):
    file = tmp_path / "Online Retail.csv"
    _online_retail_lines().to_csv(file, index=False)
    config = _uci_params(tmp_path, file, date_format="%m/%d/%Y %H:%M")
    data = load_dataset(config)
    tx = data.transactions
    assert tx["order_id"].tolist() == ["536365", "536365", "536366", "536367"]  # discount, bad debt: not products
    assert tx["customer_id"].tolist()[:3] == ["17850", "17850", "17850"] and pd.isna(tx["customer_id"][3])
    assert tx["amount"].tolist() == [15.3, 20.34, 11.1, 81.6]
    assert set(tx["channel"]) == {"web"} and tx["store"].tolist()[-1] == "France"
    assert str(tx["order_datetime"][0]) == "2010-12-01 08:26:00"
    quality = data.quality.set_index("check")
    assert quality.loc["non-merchandise lines", ["rows", "amount"]].tolist() == [2, -27.5 - 11_062.06]
    assert quality.loc["invalid rows", "rows"] == 0 and quality.loc["lines without a customer id", "rows"] == 1
    assert data.customers.empty and list(data.customers.columns)[:2] == ["customer_id", "first_seen"]


def test_uci_example_loads_the_online_retail_ii_layout_from_excel(tmp_path):
    lines = _online_retail_lines().rename(
        columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}
    )
    lines["InvoiceDate"] = pd.to_datetime(lines["InvoiceDate"], format="%m/%d/%Y %H:%M")
    file = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(file) as writer:
        lines.iloc[:2].to_excel(writer, sheet_name="Year 2009-2010", index=False)
        lines.to_excel(writer, sheet_name="Year 2010-2011", index=False)
    tx = load_dataset(_uci_params(tmp_path, file, sheet="Year 2010-2011")).transactions
    assert len(tx) == 4 and tx["amount"].sum() == pytest.approx(128.34)
    until = load_dataset(_uci_params(tmp_path, file, sheet="Year 2010-2011"), until="2010-12-01 08:30").transactions
    assert until["order_id"].tolist() == ["536365", "536365", "536366"]


@pytest.mark.slow
@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="the real UCI Online Retail file is not here (../shared)")
def test_uci_example_loads_the_real_online_retail_data(tmp_path):
    config = _uci_params(tmp_path, ONLINE_RETAIL)
    data = load_dataset(config)
    tx = data.transactions
    quality = data.quality.set_index("check")["rows"]
    assert quality["rows read"] == 541_909 and quality["invalid rows"] == 0
    assert quality["non-merchandise lines"] == 2_950 and quality["other negative lines"] == 1_336
    assert quality["return or cancellation lines"] == 8_704 and quality["lines without a customer id"] == 132_714
    assert len(tx) == 537_623 and tx["order_id"].nunique() == 23_960 and tx["customer_id"].nunique() == 4_363
    # The published total 9,747,747.93 = merchandise + the non-merchandise lines (-44,960.95; write-offs are 0).
    assert round(tx["amount"].sum() - 44_960.95, 2) == 9_747_747.93
    assert default_period(config).label == "2011-11"
    windowed = load_dataset(config, until=default_period(config).end)
    assert windowed.inputs["transactions"]["rows"] < 541_909
    assert windowed.transactions["order_datetime"].max() < pd.Timestamp("2011-12-01")


# ------------------------------------------------------------------------------------------------ text layouts


@pytest.mark.parametrize(
    ("text", "separator"),
    [
        (" customer  date amount\r\n 001 19970101   11.77\r\n 002  19970112 12.00\r\n", "whitespace"),
        ("customer\tdate\tamount\n001\t19970101\t11.77\n002\t19970112\t12.00\n", "whitespace"),
        ("customer;date;amount\n001;19970101;11.77\n002;19970112;12.00\n", ";"),
        ("customer|date|amount\n001|19970101|11.77\n002|19970112|12.00\n", "|"),
    ],
)
def test_separator_reads_aligned_and_delimited_text(tmp_path, text, separator):
    path = tmp_path / "orders.txt"
    path.write_bytes(text.encode())
    frame = load_table_raw(path, separator)
    assert frame.to_dict("list") == {
        "customer": ["001", "002"],
        "date": ["19970101", "19970112"],
        "amount": ["11.77", "12.00"],
    }
    with pytest.raises(DataValidationError, match=r"orders\.txt: .*reads as one column.*separator"):
        load_table_raw(path, None)


def load_table_raw(path: Path, separator):
    from crmtools.readers import read_file

    return read_file("transactions", TableSource(file=str(path), separator=separator))


# ------------------------------------------------------------------------------------------------ params paths


def test_data_paths_in_a_params_file_count_from_its_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    examples = project / "params" / "examples"
    examples.mkdir(parents=True)
    text = "data:\n  path: data\n  tables:\n    transactions:\n      file: data/x.parquet\n    products: p.csv\n"
    (examples / "shop.yaml").write_text(text, encoding="utf-8")
    (project / "params" / "default.yaml").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the current folder plays no part
    params = load_params(project / "params" / "examples" / "shop.yaml", base_dir=project)
    config = DataConfig.from_dict(params["data"], base_dir=project)
    assert params["data"]["path"] == "params/examples/data"
    assert config.source_for("transactions").file == str(examples / "data" / "x.parquet")
    assert config.tables["products"].file == str(examples / "p.csv")
    # The project's own params/default.yaml: relative to the project folder, as always.
    default = load_params(project / "params" / "default.yaml", base_dir=project)["data"]
    assert default["path"] == "data" and default["tables"]["transactions"]["file"] == "data/x.parquet"
    # Absolute paths, and paths given on the command line, are left as they are.
    absolute = str(tmp_path / "abs.parquet")
    given = load_params(
        examples / "shop.yaml", [f"data.tables.transactions.file={absolute}", "data.path=mine"], base_dir=project
    )
    assert given["data"]["tables"]["transactions"]["file"] == absolute and given["data"]["path"] == "mine"
    # A params file outside the project: absolute paths to beside it.
    (elsewhere / "shop.yaml").write_text(text, encoding="utf-8")
    assert load_params(elsewhere / "shop.yaml", base_dir=project)["data"]["path"] == str(elsewhere / "data")


def test_validate_reads_a_params_file_relative_to_it_from_any_folder(tmp_path, monkeypatch, sample_dir, capsys):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.yaml").write_text(f"data:\n  path: {os.path.relpath(sample_dir, folder)}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--params", "shop/shop.yaml"]) == 0
    assert "OK:" in capsys.readouterr().out


_STAMPS = st.one_of(st.none(), st.datetimes(min_value=pd.Timestamp("1990-01-01"), max_value=pd.Timestamp("2200-01-01")))


@settings(max_examples=60, deadline=None)
@given(
    stamps=st.lists(_STAMPS, max_size=12),
    unit=st.sampled_from(["ms", "us", "ns"]),
    zone=st.sampled_from([None, "UTC", "Europe/London"]),
    group_rows=st.integers(1, 5),
    statistics=st.booleans(),
    stored=st.sampled_from([None, "ms", "us"]),
)
def test_parquet_date_range_from_statistics_equals_reading_the_column(
    stamps, unit, zone, group_rows, statistics, stored
):
    """The first and last order time of a Parquet file, from its statistics when the file has them, equal those
    read from the column itself: any unit (stored as given or in a coarser one), time zone, row groups, missing
    values, an empty or all-missing column."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from crmtools import readers

    times = pd.Series(pd.to_datetime(stamps), dtype="datetime64[ns]").dt.as_unit(unit)
    if zone:
        times = times.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    table = pa.table({"order_id": [str(i) for i in range(len(times))], "order_datetime": times})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "transactions.parquet"
        coarser = {"coerce_timestamps": stored, "allow_truncated_timestamps": True} if stored else {}
        pq.write_table(table, path, row_group_size=group_rows, write_statistics=statistics, **coarser)
        config = DataConfig(path=folder, timezone="Asia/Tokyo")
        fast = readers.order_date_range(config)
        used = readers._parquet_time_bounds(path, "order_datetime")
        original = readers._parquet_time_bounds
        try:
            readers._parquet_time_bounds = lambda *_: None  # the column read in full
            assert readers.order_date_range(config) == fast
        finally:
            readers._parquet_time_bounds = original
    assert (used is None) == (not statistics and len(times) > 0)  # read from the statistics when written


def test_parquet_date_range_of_text_times_reads_the_column(tmp_path):
    pd.DataFrame({"order_id": ["1", "2"], "order_datetime": ["2025-02-03 10:00", "2025-01-05 09:00"]}).to_parquet(
        tmp_path / "transactions.parquet"
    )
    from crmtools import readers

    assert readers._parquet_time_bounds(tmp_path / "transactions.parquet", "order_datetime") is None
    assert readers.order_date_range(DataConfig(path=str(tmp_path))) == (
        pd.Timestamp("2025-01-05 09:00"),
        pd.Timestamp("2025-02-03 10:00"),
    )
