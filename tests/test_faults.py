"""Fault injection for the monthly run: every fault gets its exit code, one line of message, and leaves
the last good report byte-identical, nothing mixed, no personal data under reports/, no leftovers.

Data faults (non-finite numbers, mismatched ids, encodings, parameter domains) are in
``tests/test_faults_data.py``; this module injects faults into the run itself.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from crmtools.cli import main
from crmtools.sampledata import SampleConfig, write_sample
from crmtools.workspace import WORKSPACE_PREFIX, clean_stale_workspaces

pytestmark = pytest.mark.slow

PARAMETERS = """period = None
language = None
params_file = None
overrides_json = "{}"
data_path = None
output_dir = None
snapshot_dir = None"""

SETUP = """%matplotlib inline
from crmtools.notebook import setup
ctx = setup(period=period, language=language, params_file=params_file, overrides_json=overrides_json,
            data_path=data_path or None, snapshot_dir=snapshot_dir)"""

# A page that shows its language and revenue, records a headline and draws one chart.
PAGE = """import matplotlib.pyplot as plt
from crmtools.notebook import paragraph
from crmtools.reporting.index import save_headline
tx = ctx.data.transactions
revenue = float(tx.loc[ctx.period.contains(tx["order_datetime"]), "amount"].sum())
save_headline(output_dir, {"revenue": revenue}, language=ctx.language)
fig, ax = plt.subplots()
ax.bar(["revenue"], [revenue])
paragraph(f"LANGUAGE={ctx.language} REVENUE={revenue:.0f} THROUGH={ctx.data_through:%Y-%m-%d}")"""


def write_notebook(path: Path, *cells: str) -> None:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "crmtools": {"min_images": 1},
    }
    first = new_code_cell(PARAMETERS)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, new_code_cell(SETUP), *(new_code_cell(c) for c in cells)]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), SampleConfig(customers=400, months=14, seed=5))


@pytest.fixture(scope="module")
def personal(sample_dir) -> list[str]:
    """Every name, e-mail, phone and raw customer id of the sample: none may appear under reports/."""
    customers = pd.read_parquet(sample_dir / "customers.parquet")
    values = set()
    for column in ("name", "email", "phone", "customer_id"):
        values |= {str(v) for v in customers[column].dropna()}
    return sorted(values)


@pytest.fixture()
def project(tmp_path, sample_dir) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text(f"data:\n  path: {sample_dir}\n", encoding="utf-8")
    write_notebook(tmp_path / "notebooks" / "01_page.ipynb", PAGE)
    write_notebook(tmp_path / "notebooks" / "02_page.ipynb", PAGE)
    return tmp_path


def cli(project: Path, *args: str, capsys=None) -> tuple[int, str]:
    """Run the command in-process from the project folder; returns (exit code, stderr)."""
    cwd = os.getcwd()
    os.chdir(project)
    try:
        code = main(["report", *args])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err if capsys else ""
    return code, err


def spawn(project: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "crmtools.cli", "report", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to get going")
        time.sleep(0.1)


def staging_started(reports: Path) -> bool:
    return any((reports / ".staging").glob("*/executed/*.ipynb"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_no_personal_data(reports: Path, personal: list[str]) -> None:
    for path in reports.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            leaked = [v for v in personal if v in text]
            assert not leaked, f"{path} contains personal data: {leaked[:3]}"


def assert_no_leftovers(reports: Path) -> None:
    assert not (reports / ".staging").exists(), list((reports / ".staging").rglob("*"))
    assert not list(Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}{os.getpid()}-*"))


def own_workspaces() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"))


def kernels_of(pid: int) -> list[psutil.Process]:
    """Kernel processes whose command line points into the private workspace of run ``pid``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if f"{WORKSPACE_PREFIX}{pid}-" in cmdline:
            found.append(proc)
    return found


def strict_json(path: Path):
    def refuse(token):
        raise ValueError(f"{path}: {token} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# ------------------------------------------------------------------------------------------------ 1. concurrency


def test_a_second_run_is_refused_while_one_is_writing_and_the_page_set_is_one_runs(project, capsys):
    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE, "import time; time.sleep(4)")
    reports = project / "reports"
    first = spawn(project, "--period", "2025-01", "--set", "language=ja")
    wait_for(lambda: staging_started(reports))
    code, err = cli(project, "--period", "2025-01", "--force", capsys=capsys)
    assert code == 4
    assert "another crmtools run of 2025-01" in err and "nothing was changed" in err
    assert first.wait(timeout=120) == 0, first.stderr.read()
    pages = [p.read_text(encoding="utf-8") for p in sorted((reports / "2025-01" / "ja").glob("*.html"))]
    assert len(pages) == 2 and all("LANGUAGE=ja" in page for page in pages)
    assert strict_json(reports / "2025-01" / "ja" / "manifest.json")["params"]["language"] == "ja"
    assert strict_json(reports / "2025-01" / "ja" / "headline.json")["language"] == "ja"


def test_a_waiting_run_publishes_after_the_first_and_its_pages_are_all_its_own(project, capsys):
    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE, "import time; time.sleep(3)")
    reports = project / "reports"
    first = spawn(project, "--period", "2025-01", "--set", "language=ja")
    wait_for(lambda: staging_started(reports))
    code, err = cli(project, "--period", "2025-01", "--force", "--wait", "120", capsys=capsys)
    assert first.wait(timeout=120) == 0
    assert code == 0, err
    pages = [p.read_text(encoding="utf-8") for p in sorted((reports / "2025-01" / "en").glob("*.html"))]
    assert len(pages) == 2 and all("LANGUAGE=en" in page for page in pages)
    assert strict_json(reports / "2025-01" / "en" / "headline.json")["language"] == "en"
    assert_no_leftovers(reports)


# ------------------------------------------------------------------------------- 2. personal data and leftovers


def test_no_personal_data_under_reports_after_a_normal_a_failed_and_a_killed_run(project, personal, capsys):
    reports = project / "reports"
    assert cli(project, "--period", "2025-01", capsys=capsys)[0] == 0
    assert_no_personal_data(reports, personal)
    assert_no_leftovers(reports)
    assert not (reports / ".failed").exists()

    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE, "raise RuntimeError('boom')")
    assert cli(project, "--period", "2025-01", "--force", capsys=capsys)[0] == 1
    assert (reports / ".failed" / "2025-01" / "en" / "executed" / "02_page.ipynb").exists()
    assert_no_personal_data(reports, personal)

    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE, "import time; time.sleep(60)")
    proc = spawn(project, "--period", "2025-01", "--force")
    wait_for(lambda: staging_started(reports) and own_workspace_of(proc.pid))
    time.sleep(1.5)
    # the snapshot lives in an owner-only workspace outside reports/
    running = own_workspace_of(proc.pid)
    assert running and all(p.stat().st_mode & 0o077 == 0 for p in running)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert_no_personal_data(reports, personal)
    # the next run removes what the kill left (a run of another test, side by side, may be that next run)
    wait_for(lambda: not kernels_of(proc.pid), timeout=30)  # orphaned kernels notice their parent is gone
    clean_stale_workspaces()
    assert not own_workspace_of(proc.pid)


def own_workspace_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}{pid}-*"))


def test_the_snapshot_holds_no_contact_details(sample_dir, tmp_path):
    from crmtools.data import load_dataset, write_snapshot

    data = load_dataset(str(sample_dir))
    assert {"name", "email", "phone"} <= set(data.customers.columns)
    folder = write_snapshot(data, tmp_path / "snap")
    customers = pd.read_feather(folder / "customers.arrow")
    assert not {"name", "email", "phone"} & set(customers.columns)
    assert folder.stat().st_mode & 0o077 == 0


def test_sigterm_stops_the_run_cleans_up_and_leaves_the_report(project, capsys):
    reports = project / "reports"
    assert cli(project, "--period", "2025-01", capsys=capsys)[0] == 0
    before = snapshot(reports / "2025-01" / "en")
    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE, "import time; time.sleep(60)")
    proc = spawn(project, "--period", "2025-01", "--force")
    wait_for(lambda: staging_started(reports) and own_workspace_of(proc.pid))
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in proc.stderr.read()
    assert snapshot(reports / "2025-01" / "en") == before
    assert not own_workspace_of(proc.pid)
    assert not kernels_of(proc.pid)
    assert not (reports / ".staging").exists()


# ------------------------------------------------------------------------------------- 3. strict JSON everywhere


def test_every_json_file_the_runner_writes_is_strict(project, capsys):
    # Only the summary (the first notebook) records the headline, as in the report; pages run in parallel.
    write_notebook(project / "notebooks" / "02_page.ipynb", PAGE.replace("save_headline(", "(lambda *a, **k: None)("))
    write_notebook(
        project / "notebooks" / "01_page.ipynb",
        PAGE,
        "save_headline(output_dir, {'revenue': float('inf'), 'orders': float('nan')}, language='en')",
    )
    reports = project / "reports"
    assert cli(project, "--period", "2025-01", capsys=capsys)[0] == 0
    files = list(reports.rglob("*.json"))
    assert files
    for path in files:
        strict_json(path)
    assert strict_json(reports / "2025-01" / "en" / "headline.json")["kpis"] == {"revenue": None, "orders": None}


# --------------------------------------------------------------------------- 4, 5. periods the data does not cover


@pytest.mark.parametrize("period", ["2019-01", "2030-01"])
def test_a_period_without_orders_stops_before_any_notebook(project, period, capsys):
    started = time.perf_counter()
    code, err = cli(project, "--period", period, capsys=capsys)
    assert code == 3
    assert f"no orders in {period}; the data covers 2024-01-0" in err and "to 2025-02-28" in err
    assert time.perf_counter() - started < 20
    assert not (project / "reports" / ".staging").exists()


def test_a_header_only_transactions_file_is_refused_by_report_as_by_validate(tmp_path, project, capsys):
    data = tmp_path / "empty"
    data.mkdir()
    (data / "transactions.csv").write_text(
        "order_id,customer_id,order_datetime,product_id,quantity,unit_price,amount,channel\n", encoding="utf-8"
    )
    code, err = cli(project, "--period", "2025-01", "--data", str(data), capsys=capsys)
    assert code == 3
    assert "transactions" in err
    cwd = os.getcwd()
    os.chdir(project)
    try:
        assert main(["validate", "--data", str(data)]) == 3
    finally:
        os.chdir(cwd)


@pytest.fixture()
def cut_project(project, sample_dir, tmp_path) -> Path:
    """The sample cut at 2025-01-15: January is only half there."""
    cut = tmp_path / "cut"
    cut.mkdir()
    for path in sample_dir.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if path.stem == "transactions":
            frame = frame[frame["order_datetime"] < "2025-01-16"]
        frame.to_parquet(cut / path.name, index=False)
    (project / "params" / "default.yaml").write_text(f"data:\n  path: {cut}\n", encoding="utf-8")
    return project


def test_a_partial_month_is_refused_unless_allowed_and_then_carries_a_banner(cut_project, capsys):
    code, err = cli(cut_project, "--period", "2025-01", capsys=capsys)
    assert code == 3
    assert "covers 2025-01 only partly" in err and "--allow-partial" in err
    code, err = cli(cut_project, "--period", "2025-01", "--allow-partial", capsys=capsys)
    assert code == 0, err
    for page in (cut_project / "reports" / "2025-01" / "en").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "crm-banner" in text and "through 2025-01-15" in text
    manifest = strict_json(cut_project / "reports" / "2025-01" / "en" / "manifest.json")
    assert manifest["data"]["data_through"] == "2025-01-15" and manifest["data"]["partial"] is True


def test_the_default_period_is_the_last_complete_month_in_the_data_with_a_warning_when_old(cut_project, capsys):
    code, err = cli(cut_project, capsys=capsys)
    assert code == 0, err
    assert (cut_project / "reports" / "2024-12" / "en" / "manifest.json").exists()
    assert "warning: the last complete month in the data is 2024-12, which ended" in err


# ----------------------------------------------------------------------------------------------- 8. dead kernel


def test_a_killed_kernel_names_the_cell_and_keeps_the_partial_notebook(project, capsys):
    write_notebook(
        project / "notebooks" / "02_page.ipynb", PAGE, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    )
    code, err = cli(project, "--period", "2025-01", capsys=capsys)
    assert code == 1
    assert (
        "02_page.ipynb: the kernel died" in err
        and "while running cell 5 of the executed notebook ('import os, signal')" in err
    )
    kept = project / "reports" / ".failed" / "2025-01" / "en"
    assert (kept / "executed" / "02_page.ipynb").exists()
    manifest = strict_json(kept / "manifest.json")
    assert manifest["kept_at"] == str(kept) and manifest["status"] == "failed"


# ---------------------------------------------------------------------------------------- 9. file-system errors


def test_a_reports_folder_that_cannot_be_written_is_exit_5_naming_the_path(project, capsys):
    blocker = project / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    code, err = cli(project, "--period", "2025-01", "--reports-dir", str(blocker / "reports"), capsys=capsys)
    assert code == 5
    assert f"cannot write to {blocker}" in err and "not a folder" in err


def test_a_full_disk_while_publishing_is_exit_5_and_leaves_the_report(project, capsys, monkeypatch):
    reports = project / "reports"
    assert cli(project, "--period", "2025-01", capsys=capsys)[0] == 0
    before = snapshot(reports / "2025-01" / "en")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(reports / "index.html"))

    monkeypatch.setattr("crmtools.runner.build_index", full)
    monkeypatch.setattr("crmtools.runner._publish", full)
    code, err = cli(project, "--period", "2025-01", "--force", capsys=capsys)
    assert code == 5
    assert "no space left on the device" in err
    assert snapshot(reports / "2025-01" / "en") == before
    assert_no_leftovers(reports)


def test_a_missing_notebooks_folder_is_a_usage_error(project, capsys):
    code, err = cli(project, "--period", "2025-01", "--notebooks", "/nope", capsys=capsys)
    assert code == 2
    assert "notebooks folder /nope does not exist" in err


# ------------------------------------------------------------------------------------------- 11. quiet console


def test_a_successful_run_prints_no_error_or_kernel_transport_lines(project):
    proc = spawn(project, "--period", "2025-01")
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "ERROR" not in err and "without encryption" not in err
    assert not list(project.glob("kernel-*"))  # no IPC sockets or connection files in the working folder
