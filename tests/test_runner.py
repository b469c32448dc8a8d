"""The monthly runner: publish, fail safely, skip unchanged runs, reproduce byte for byte."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from crmtools.cli import main
from crmtools.errors import ParameterError
from crmtools.runner import run_period, run_periods
from crmtools.sampledata import SampleConfig, write_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent

PARAMETERS = """period = None
language = None
params_file = None
overrides_json = "{}"
data_path = None
output_dir = None"""

SETUP = """%matplotlib inline
from crmtools.notebook import setup
ctx = setup(period=period, language=language, params_file=params_file, overrides_json=overrides_json,
            data_path=data_path or None)"""

CHART = """import matplotlib.pyplot as plt
tx = ctx.data.transactions
in_period = tx[ctx.period.contains(tx["order_datetime"])]
fig, ax = plt.subplots()
ax.bar(["revenue"], [in_period["amount"].sum()])
print("REVENUE", int(in_period["amount"].sum()))"""


def write_notebook(path: Path, *cells: str, min_images: int = 1) -> None:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "crmtools": {"min_images": min_images},
    }
    first = new_code_cell(PARAMETERS)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, new_code_cell(SETUP), *(new_code_cell(c) for c in cells)]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), SampleConfig(customers=600, months=14, seed=11))


@pytest.fixture()
def project(tmp_path, sample_dir) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text(f"data:\n  path: {sample_dir}\n", encoding="utf-8")
    write_notebook(tmp_path / "notebooks" / "01_quick.ipynb", CHART)
    return tmp_path


def run(project: Path, period: str = "2025-01", **kwargs):
    return run_period(period, project_dir=project, jobs=1, **kwargs)


def test_publishes_self_contained_html_with_charts_and_manifest(project, sample_dir):
    result = run(project)
    assert result.status == "published"
    page = (project / "reports" / "2025-01" / "en" / "01_quick.html").read_text(encoding="utf-8")
    assert "<img" in page and "data:image/png;base64," in page
    assert "ctx = setup" not in page and 'class="jp-InputArea' not in page  # no code shown
    assert "<script src" not in page and "https://" not in page.split("<style")[0]
    # the figure printed by the notebook equals an independent computation
    import pandas as pd

    tx = pd.read_parquet(sample_dir / "transactions.parquet")
    expected = int(tx.loc[(tx.order_datetime >= "2025-01-01") & (tx.order_datetime < "2025-02-01"), "amount"].sum())
    assert f"REVENUE {expected}" in page
    manifest = json.loads((project / "reports" / "2025-01" / "en" / "manifest.json").read_text())
    assert manifest["status"] == "published" and manifest["period"] == "2025-01"
    assert set(manifest["inputs"]) >= {"transactions", "customers"}
    assert all(len(v["sha256"]) == 64 for v in manifest["inputs"].values())
    assert manifest["versions"]["pandas"] and manifest["code"]["fingerprint"]
    assert manifest["notebooks"][0]["status"] == "ok" and manifest["notebooks"][0]["images"] == 1
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert "2025-01/en/01_quick.html" in index
    assert not (project / "reports" / ".staging" / "2025-01").exists()


def test_charts_survive_an_agg_backend_in_the_environment(project, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert run(project).notebooks[0].images == 1


def test_a_notebook_without_its_charts_fails(project):
    write_notebook(project / "notebooks" / "01_quick.ipynb", "x = 1")
    result = run(project)
    assert result.status == "failed"
    assert "chart" in result.message and "01_quick.ipynb" in result.message


def test_failed_run_keeps_last_good_report_and_the_executed_notebook(project, capsys):
    assert run(project).status == "published"
    published = project / "reports" / "2025-01" / "en" / "01_quick.html"
    before = published.read_bytes()
    write_notebook(project / "notebooks" / "01_quick.ipynb", CHART, "raise RuntimeError('boom in cell')")
    code = main(
        [
            "report",
            "--period",
            "2025-01",
            "--params",
            str(project / "params" / "default.yaml"),
            "--notebooks",
            str(project / "notebooks"),
            "--reports-dir",
            str(project / "reports"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "01_quick.ipynb failed in cell" in err and "boom in cell" in err
    assert published.read_bytes() == before
    kept = project / "reports" / ".failed" / "2025-01" / "en" / "executed" / "01_quick.ipynb"
    assert kept.exists() and str(kept) in err


def test_unchanged_inputs_are_skipped_until_forced_or_changed(project, sample_dir, tmp_path):
    assert run(project).status == "published"
    assert run(project).status == "skipped"
    assert run(project, force=True).status == "published"
    assert run(project, overrides=["language=ja"]).status == "published"  # parameters changed


def test_same_inputs_give_byte_identical_html(project):
    first = run(project).report_dir
    page = (first / "01_quick.html").read_bytes()
    manifest = json.loads((first / "manifest.json").read_text())
    second = run(project, force=True).report_dir
    assert (second / "01_quick.html").read_bytes() == page
    again = json.loads((second / "manifest.json").read_text())
    for volatile in ("started_at", "finished_at", "seconds"):
        manifest.pop(volatile), again.pop(volatile)
    for nb in manifest["notebooks"] + again["notebooks"]:
        for volatile in ("seconds", "kernel_seconds", "cell_seconds", "render_seconds", "ahead_seconds"):
            nb.pop(volatile)
    assert manifest == again


def test_backfill_publishes_every_period_and_lists_newest_first(project):
    results = run_periods("2024-11", "2025-01", project_dir=project, jobs=2)
    assert [r.status for r in results] == ["published"] * 3
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    positions = [index.index(f"{p}/en/01_quick.html") for p in ("2025-01", "2024-12", "2024-11")]
    assert positions == sorted(positions)


def _children() -> set[str]:
    """This process's descendants: kernels, and the server that forked them (crmtools.reporting.kernel_server)."""
    import psutil

    found = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                found.add(str(child.pid))
    return found


def _left_since(before: set[str]) -> set[str]:
    """Child processes started since ``before`` and still there after up to 5 s (a killed one is gone once reaped)."""
    left = _children() - before
    for _ in range(50):
        if not left:
            break
        time.sleep(0.1)
        left = _children() - before
    return left


@pytest.mark.parametrize(
    "override, message",
    [
        (["langauge=ja"], "did you mean 'language'"),
        (["rfm.lookback_days=soon"], "must be a whole number"),
        (["period=2025-13"], "Malformed period"),
    ],
)
def test_bad_parameters_are_rejected_before_any_notebook_starts(project, override, message):
    before = _children()  # another test's kernel may still be on its way out
    with pytest.raises(ParameterError, match=message):
        run_period(None, project_dir=project, overrides=override)
    assert not (project / "reports").exists()
    assert not _left_since(before), "the kernels started ahead of the notebooks are gone"


WARM = 'import sys\nprint("WARM", "crmtools.reporting.summary" in sys.modules)'


def test_a_run_stopped_by_its_plan_starts_no_kernel(project, monkeypatch):
    """Its workers fork a kernel once the kernel server has imported, unless the run stopped before: a plan that
    fails (bad parameters) starts none and does not wait for the server's imports."""
    from crmtools.reporting.kernel_server import KernelServer

    forks = []
    real = KernelServer.fork
    monkeypatch.setattr(KernelServer, "fork", lambda self, *a, **k: forks.append(1) or real(self, *a, **k))
    with pytest.raises(ParameterError):
        run(project, overrides=["rfm.lookback_days=soon"])
    assert forks == []


def test_kernels_start_and_import_what_pages_use_while_the_inputs_are_validated(project):
    """A worker's kernel starts with the run and imports runner.WARM_IMPORTS (the summary's module here, which no
    page of this project imports) before its first notebook; a fresh kernel per notebook starts with nothing."""
    write_notebook(project / "notebooks" / "00_first.ipynb", WARM, min_images=0)
    warm = (run(project).report_dir / "00_first.html").read_text(encoding="utf-8")
    cold = (run(project, force=True, fresh_kernels=True).report_dir / "00_first.html").read_text(encoding="utf-8")
    assert "WARM True" in warm and "WARM False" in cold


PARENT = 'import os, psutil\nprint("PARENT", " ".join(psutil.Process(os.getppid()).cmdline()))'


def test_report_kernels_are_forked_from_the_command_lines_kernel_server(project, monkeypatch):
    """`crmtools report` starts the kernels' server before it imports the runner (its imports then overlap the
    runner's and the input checks); the run's kernels are forks of it, and neither outlives the command."""
    import crmtools.runner

    taken = []
    monkeypatch.setattr(
        crmtools.runner,
        "take_server",
        lambda cwd, real=crmtools.runner.take_server: taken.append(real(cwd)) or taken[-1],
    )
    before = _children()
    write_notebook(project / "notebooks" / "00_first.ipynb", PARENT, min_images=0)
    monkeypatch.chdir(project)
    assert main(["report", "--period", "2025-01"]) == 0
    page = (project / "reports" / "2025-01" / "en" / "00_first.html").read_text(encoding="utf-8")
    assert "-m crmtools.reporting.kernel_server" in page
    assert [owned for _, owned in taken] == [False], "the run took the command line's server, not one of its own"
    assert not _left_since(before), "no server or kernel outlives the command"


BURN = """import time
start = time.process_time()
while time.process_time() - start < 1.5:
    pass"""


def test_a_runs_cpu_time_counts_its_kernels(project):
    """The kernels are forks of the run's kernel server, not this process's children: the server collects them
    before it stops, so their CPU time is counted in this process's children as before (``bench_report.py`` and
    ``time crmtools report`` read it)."""
    import resource

    write_notebook(project / "notebooks" / "00_first.ipynb", BURN, min_images=0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert run(project).status == "published"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 1.5


COUNT_DRAWS = """import matplotlib.figure as _figure
import matplotlib.pyplot as plt
_draws, _draw = [], _figure.Figure.draw
_figure.Figure.draw = lambda self, renderer: (_draws.append(1), _draw(self, renderer))[1]
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])"""
DRAWS_SEEN = """_figure.Figure.draw = _draw
print("DRAWS", len(_draws))"""


def test_a_chart_is_drawn_only_for_its_picture(project):
    """The inline backend draws a chart twice for its PNG (the tight bounding box, then the picture); pyplot's own
    drawing of every new figure after each cell (for interactive windows) is never seen on a page and is off."""
    write_notebook(project / "notebooks" / "00_first.ipynb", COUNT_DRAWS, DRAWS_SEEN)
    page = (run(project).report_dir / "00_first.html").read_text(encoding="utf-8")
    assert "DRAWS 2" in page and 'alt="' in page  # drawn twice, and shown


AT_EXIT = """import atexit, pathlib
atexit.register(pathlib.Path({path!r}).write_text, "shut down cleanly")"""


def test_a_run_stops_its_kernels_without_waiting_for_their_clean_exit(project, tmp_path):
    """Once its pages are executed, a worker's kernel is stopped, not shut down: a clean shutdown (the kernel's exit
    handlers, here one that writes a file) made the run wait 2.6 s at its end. No kernel is left behind."""
    before = _children()
    marker = tmp_path / "exited.txt"
    write_notebook(project / "notebooks" / "00_first.ipynb", AT_EXIT.format(path=str(marker)), min_images=0)
    assert run(project).status == "published"
    assert not _left_since(before), "no kernel outlives the run"
    assert not marker.exists(), "the run did not wait for the kernel's exit handlers"


HISTORY = "print('HISTORY', get_ipython().history_manager.enabled)"


def test_report_kernels_keep_no_ipython_history(project, monkeypatch, tmp_path):
    """A report kernel writes no IPython history database: the pages' code is kept with the run, and a shared
    ~/.ipython/profile_default/history.sqlite would grow with every page of every run (found at 118 MB)."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    write_notebook(project / "notebooks" / "00_first.ipynb", HISTORY, min_images=0)
    for fresh in (False, True):
        page = run(project, force=True, fresh_kernels=fresh).report_dir / "00_first.html"
        assert "HISTORY False" in page.read_text(encoding="utf-8")
    assert not list((tmp_path / "ipython").rglob("history.sqlite"))


def test_cli_rejects_bad_parameters_with_exit_code_2(project, capsys):
    code = main(
        [
            "report",
            "--period",
            "2025-01",
            "--params",
            str(project / "params" / "default.yaml"),
            "--set",
            "basket.min_suport=0.1",
        ]
    )
    assert code == 2
    assert "did you mean 'min_support'" in capsys.readouterr().err


def test_killed_run_leaves_the_published_report_untouched(project):
    assert run(project).status == "published"
    published = project / "reports" / "2025-01" / "en" / "01_quick.html"
    before = published.read_bytes()
    write_notebook(project / "notebooks" / "01_quick.ipynb", CHART, "import time; time.sleep(60)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmtools.cli", "report", "--period", "2025-01", "--force"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    staging = project / "reports" / ".staging"
    deadline = time.monotonic() + 60
    while not list(staging.glob("2025-01-*/executed")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert published.read_bytes() == before
    write_notebook(project / "notebooks" / "01_quick.ipynb", CHART)
    assert run(project, force=True).status == "published"


def test_main_command_prints_the_report_path(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert main(["report"]) == 0  # no flags: default params, last complete month of the data
    out = capsys.readouterr().out
    match = re.search(r"Open the report: (.+\.html)", out)
    assert match and Path(match.group(1)).exists()
    assert "2025-02" in match.group(1)  # sample of 14 months from 2024-01 ends in Feb 2025


LEAKY = """import matplotlib as mpl
import matplotlib.pyplot as plt
import os
LEFT_BEHIND = 1
mpl.rcParams["axes.linewidth"] = 7.5
plt.figure()
print("PID", os.getpid())"""

CLEAN_SLATE = """import matplotlib as mpl
import matplotlib.pyplot as plt
import os
assert "LEFT_BEHIND" not in globals(), "a variable of the previous notebook leaked"
assert mpl.rcParams["axes.linewidth"] != 7.5, "matplotlib settings of the previous notebook leaked"
assert plt.get_fignums() == [], "figures of the previous notebook leaked"
print("PID", os.getpid())"""


def test_a_reused_kernel_shows_each_notebook_a_fresh_namespace(tmp_path):
    from crmtools.reporting.render import KernelSession, execute_notebook

    for name, code in (("a", LEAKY), ("b", CLEAN_SLATE)):
        nb = new_notebook()
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        first = new_code_cell("period = None")
        first.metadata["tags"] = ["parameters"]
        nb.cells = [first, new_code_cell(code)]
        nbformat.write(nb, str(tmp_path / f"{name}.ipynb"))
    with KernelSession() as kernel:
        outputs = [
            execute_notebook(tmp_path / f"{n}.ipynb", tmp_path / f"{n}-out.ipynb", {}, cwd=tmp_path, kernel=kernel)
            for n in ("a", "b")
        ]
    pids = [re.search(r"PID (\d+)", o.cells[-1].outputs[0]["text"]).group(1) for o in outputs]
    assert pids[0] == pids[1], "the second notebook should run on the same (warm) kernel"
    counts = [[c.execution_count for c in o.cells if c.cell_type == "code"] for o in outputs]
    assert counts[0] == counts[1] == [1, 2], "execution counts restart with each notebook"


def _printed(outputs) -> str:
    """What a cell printed (a busy kernel may send one line in several stream messages)."""
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def test_the_executed_copy_is_written_when_the_notebook_starts_and_ends_not_at_every_cell(tmp_path, monkeypatch):
    import papermill.engines

    from crmtools.errors import ReportError
    from crmtools.reporting.render import KernelSession, execute_notebook

    writes = []
    real_write = papermill.engines.write_ipynb

    def counted(nb, path):
        writes.append(path)
        return real_write(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counted)
    cells = [f"print({i})" for i in range(12)]
    failing = [*cells[:4], "raise ValueError('planted')", *cells[4:]]
    for name, sources in (("ok", cells), ("bad", failing)):
        nb = new_notebook()
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        first = new_code_cell("period = None")
        first.metadata["tags"] = ["parameters"]
        nb.cells = [first, *(new_code_cell(s) for s in sources)]
        nbformat.write(nb, str(tmp_path / f"{name}.ipynb"))
    with KernelSession() as kernel:
        done = execute_notebook(tmp_path / "ok.ipynb", tmp_path / "ok-out.ipynb", {}, cwd=tmp_path, kernel=kernel)
        mine = [w for w in writes if str(w) == str(tmp_path / "ok-out.ipynb")]
        # when it starts and when it ends (and every 30 s of a long cell: a loaded machine), not around each of 14 cells
        assert 2 <= len(mine) <= 4, writes
        printed = [_printed(c.outputs) for c in done.cells if c.source.startswith("print(")]
        assert printed == [f"{i}\n" for i in range(12)]
        with pytest.raises(ReportError, match="failed in cell"):
            execute_notebook(tmp_path / "bad.ipynb", tmp_path / "bad-out.ipynb", {}, cwd=tmp_path, kernel=kernel)
    kept = {c.source: c.get("outputs", []) for c in nbformat.read(str(tmp_path / "bad-out.ipynb"), as_version=4).cells}
    assert [_printed(kept[f"print({i})"]) for i in range(4)] == ["0\n", "1\n", "2\n", "3\n"]
    assert [o.get("ename") for o in kept["raise ValueError('planted')"]] == ["ValueError"], "the error is kept"
    assert kept["print(4)"] == [], "cells after the failing one did not run"


def test_a_kernel_goes_on_to_the_next_notebook_while_the_last_page_is_written(project, monkeypatch):
    import threading

    from crmtools import runner

    write_notebook(project / "notebooks" / "02_second.ipynb", CHART)
    second_started = threading.Event()
    seen = []
    real_execute, real_render = runner.execute_notebook, runner.render_html

    def execute(path, *args, **kwargs):
        if Path(path).name == "02_second.ipynb":
            second_started.set()
        return real_execute(path, *args, **kwargs)

    def render(nb, html_path, **kwargs):
        # the first page waits (at most a minute) for its worker's one kernel to start the second notebook
        seen.append((Path(html_path).name, second_started.wait(timeout=60)))
        return real_render(nb, html_path, **kwargs)

    monkeypatch.setattr(runner, "execute_notebook", execute)
    monkeypatch.setattr(runner, "render_html", render)
    result = run(project)
    assert result.status == "published"
    assert seen == [("01_quick.html", True), ("02_second.html", True)]


def test_a_page_that_cannot_be_written_fails_the_run_and_names_it(project, monkeypatch):
    from crmtools import runner

    write_notebook(project / "notebooks" / "02_second.ipynb", CHART)
    real_render = runner.render_html

    def render(nb, html_path, **kwargs):
        if Path(html_path).name == "02_second.html":
            raise ValueError("planted rendering bug")
        return real_render(nb, html_path, **kwargs)

    monkeypatch.setattr(runner, "render_html", render)
    result = run(project)
    assert result.status == "failed"
    assert "02_second.ipynb" in result.message and "planted rendering bug" in result.message
    assert [n.status for n in result.notebooks] == ["ok", "failed"]
    assert not (project / "reports" / "2025-01").exists(), "nothing is published"


def test_fresh_and_reused_kernels_publish_identical_pages(project):
    write_notebook(project / "notebooks" / "02_second.ipynb", CHART.replace("revenue", "sales"))
    leaky_but_reproducible = LEAKY.replace('print("PID", os.getpid())', "")  # a pid differs from kernel to kernel
    write_notebook(project / "notebooks" / "03_third.ipynb", leaky_but_reproducible + "\n" + CHART)
    reused = run(project).report_dir
    pages = {p.name: p.read_bytes() for p in reused.glob("*.html")}
    fresh = run(project, force=True, fresh_kernels=True).report_dir
    assert len(pages) == 3
    assert {p.name: p.read_bytes() for p in fresh.glob("*.html")} == pages


def test_notebooks_run_in_threads_never_move_the_process_working_folder(tmp_path, monkeypatch):
    """Papermill's local file handler does ``os.chdir`` around every read and write and keeps one folder for the
    whole process; from threads the restores interleave and leave the process in an earlier run's project, where
    the next run then finds that project's notebooks (seen in CI). No read or write may change the folder."""
    import threading

    from papermill.iorw import papermill_io

    from crmtools.reporting.render import execute_notebook

    nb = new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    first = new_code_cell("period = None")
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, new_code_cell("x = 1"), new_code_cell("y = x + 1")]
    nbformat.write(nb, str(tmp_path / "page.ipynb"))
    elsewhere = tmp_path / "an-earlier-project"
    elsewhere.mkdir()
    papermill_io.get_handler("page.ipynb").cwd(str(elsewhere))  # what an earlier run's threads leave behind
    moves = []
    monkeypatch.setattr(os, "chdir", lambda path: moves.append(str(path)))
    errors = []

    def one(n: int) -> None:
        try:
            out = execute_notebook(tmp_path / "page.ipynb", tmp_path / f"out-{n}.ipynb", {"period": str(n)})
            assert [c.execution_count for c in out.cells] == [1, 2, 3, 4]  # with papermill's injected cell
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert moves == [], "a notebook run changed the process's working folder"
    assert sorted(p.name for p in tmp_path.glob("out-*.ipynb")) == ["out-0.ipynb", "out-1.ipynb"]
    assert not any(elsewhere.iterdir())


def test_pages_start_longest_first_by_the_last_run_else_by_their_declared_cost(tmp_path):
    from types import SimpleNamespace

    from crmtools.runner import _longest_first

    paths = []
    for name, cost in [("00_summary", 5), ("01_a", None), ("02_b", 9), ("03_c", 2)]:
        nb = new_notebook()
        nb.metadata["crmtools"] = {} if cost is None else {"cost": cost}
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nb, str(paths[-1]))
    plan = SimpleNamespace(published=tmp_path / "published")
    by_cost = ["02_b", "00_summary", "03_c", "01_a"]  # no earlier run: declared costs, 1 when absent
    assert [p.stem for p in _longest_first(plan, paths)] == by_cost
    plan.published.mkdir()
    timed = {"00_summary": 1.0, "01_a": 30.0, "02_b": 2.0, "03_c": 4.0}
    manifest = {"notebooks": [{"notebook": f"{k}.ipynb", "seconds": v} for k, v in timed.items()]}
    (plan.published / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert [p.stem for p in _longest_first(plan, paths)] == ["01_a", "03_c", "02_b", "00_summary"]
    manifest["notebooks"].pop()  # a page the last run did not time: the declared costs again
    (plan.published / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert [p.stem for p in _longest_first(plan, paths)] == by_cost


def test_the_report_pages_declare_their_cost():
    pages = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    costs = {p.stem: nbformat.read(str(p), as_version=4).metadata["crmtools"]["cost"] for p in pages}
    assert all(isinstance(c, (int, float)) and c > 0 for c in costs.values())
    assert max(costs, key=costs.get) in {"07_clv", "08_actions"}  # the churn backtest and the lists start first


RUN_SETUP = """%matplotlib inline
from crmtools.notebook import setup
ctx = setup(period=period, language=language, params_file=params_file, overrides_json=overrides_json,
            data_path=data_path or None, snapshot_dir=snapshot_dir)"""
AHEAD = """import os, pathlib
log = pathlib.Path({log!r})
with log.open("a") as out:
    out.write("tagged cell\\n")


def slow_total(tx):
    with log.open("a") as out:
        out.write("computed\\n")
    return int(tx["amount"].sum())


total = ctx.cached("slow_total", slow_total, ctx.data.transactions)"""
AFTER = """with log.open("a") as out:
    out.write("untagged cell\\n")
print("TOTAL", total)"""


def write_prefetching_page(path: Path, log: Path, *, fail: bool = False) -> None:
    """A page whose setup and one cached computation are tagged ``prefetch``; the cells record each execution."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "crmtools": {"min_images": 0},
    }
    ahead = AHEAD.format(log=str(log)) + ("\nraise RuntimeError('planted in the shared cell')" if fail else "")
    nb.cells = [new_code_cell(PARAMETERS + "\nsnapshot_dir = None"), new_code_cell(RUN_SETUP), new_code_cell(ahead)]
    nb.cells += [new_code_cell(AFTER)]
    for cell, tags in zip(nb.cells, (["parameters"], ["prefetch"], ["prefetch"], [])):
        cell.metadata["tags"] = tags
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, str(path))


def test_a_free_worker_computes_what_a_page_tags_prefetch_before_the_pages(project, tmp_path):
    """With two workers, the cells a page tags ``prefetch`` (its setup and a cached computation) run first as a job
    of their own, the rest of the page does not; the page then loads the result (computed once) and is the same page
    as a one-worker run gives, where nothing runs ahead."""
    log = tmp_path / "executions.txt"
    write_prefetching_page(project / "notebooks" / "00_summary.ipynb", log)
    one = run(project).report_dir / "00_summary.html"
    page = one.read_bytes()
    assert log.read_text().splitlines() == ["tagged cell", "computed", "untagged cell"]
    log.unlink()
    result = run_period("2025-01", project_dir=project, jobs=2, force=True)
    two = result.report_dir / "00_summary.html"
    assert sorted(log.read_text().splitlines()) == ["computed", "tagged cell", "tagged cell", "untagged cell"]
    ahead = {r.notebook: r.ahead_seconds for r in result.notebooks}
    assert ahead["00_summary.ipynb"] > 0 and ahead["01_quick.ipynb"] == 0  # timed apart, in the manifest too
    assert re.search(rb"TOTAL \d+", two.read_bytes()) and two.read_bytes() == page


def test_a_failed_prefetch_leaves_the_error_to_its_page(project, tmp_path, capsys):
    """Cells that fail when run ahead fail again in their page, which reports the error: the run says only that the
    page computes them itself, and fails on the page."""
    write_prefetching_page(project / "notebooks" / "00_summary.ipynb", tmp_path / "log.txt", fail=True)
    result = run_period("2025-01", project_dir=project, jobs=2)
    err = capsys.readouterr().err
    assert result.status == "failed"
    assert "00_summary.ipynb: its shared results were not computed ahead; the page computes them" in err
    failed = {r.notebook: r for r in result.notebooks}
    assert (
        failed["00_summary.ipynb"].status == "failed"
        and "planted in the shared cell" in failed["00_summary.ipynb"].error
    )
    assert failed["01_quick.ipynb"].status == "ok"


def test_what_pages_compute_ahead_is_computed_in_one_kernel_before_those_pages(project, tmp_path, monkeypatch):
    """Two pages with cells tagged ``prefetch``: one worker runs both pages' tagged cells, one page after another in
    one kernel (the process keeps what they derive in common), each result is computed once, and the pages are the
    pages a one-worker run gives."""
    import crmtools.runner as runner

    log = tmp_path / "executions.txt"
    for name in ("00_summary", "02_more"):
        path = project / "notebooks" / f"{name}.ipynb"
        write_prefetching_page(path, log)
        nb = nbformat.read(str(path), as_version=4)
        nb.cells[2].source = nb.cells[2].source.replace('"slow_total"', repr(f"slow_total_{name}"))
        nbformat.write(nb, str(path))
    pages = {p.name: p.read_bytes() for p in run(project).report_dir.glob("*.html")}
    log.unlink()
    kernels = []
    run_prefetch = runner._run_prefetch

    def recorded(plan, page, prefetch, nb_params, kernel):
        kernels.append((page.name, kernel))
        return run_prefetch(plan, page, prefetch, nb_params, kernel)

    monkeypatch.setattr(runner, "_run_prefetch", recorded)
    result = run_period("2025-01", project_dir=project, jobs=2, force=True)
    assert [name for name, _ in kernels] == ["00_summary.ipynb", "02_more.ipynb"]
    assert kernels[0][1] is not None and kernels[0][1] is kernels[1][1]  # one worker's kernel, one after the other
    lines = log.read_text().splitlines()
    assert lines.count("computed") == 2 and lines.count("untagged cell") == 2  # each result computed once
    assert all(r.ahead_seconds > 0 for r in result.notebooks if r.notebook != "01_quick.ipynb")
    assert {p.name: p.read_bytes() for p in result.report_dir.glob("*.html")} == pages


def test_pages_wait_for_what_is_computed_ahead_while_other_pages_can_run():
    from crmtools.runner import _JobQueue

    a, b, c, d = (Path(f"0{i}.ipynb") for i in range(4))
    ahead = [(a, Path("ahead") / a.name), (c, Path("ahead") / c.name)]
    queue = _JobQueue([a, b, c, d], ahead)
    assert queue.take() == ahead  # first: one job, every page's computation ahead
    assert queue.take() == b and queue.take() == d  # the pages not waiting for it
    assert queue.take() == a  # only waiting pages are left: the first (it waits for its results in the cache)
    queue.ahead_done()
    assert queue.take(preferred=(a, c)) == c and queue.take() is None
    queue = _JobQueue([a, b, c], ahead)
    queue.take()
    queue.ahead_done()
    assert queue.take(preferred=(c, a)) == a  # the worker that computed them takes its pages first, in queue order
    assert queue.take() == b and queue.take(preferred=(c, a)) == c
    assert _JobQueue([a, b], []).take(preferred=(b,)) == b  # nothing ahead: pages as asked, then in order


def test_prefetch_notebooks_keep_the_parameters_and_the_tagged_cells_in_order(tmp_path):
    from crmtools.runner import _prefetch_notebooks

    write_prefetching_page(tmp_path / "00_summary.ipynb", tmp_path / "log.txt")
    write_notebook(tmp_path / "01_plain.ipynb", CHART)
    jobs = _prefetch_notebooks([tmp_path / "00_summary.ipynb", tmp_path / "01_plain.ipynb"], tmp_path / "ahead")
    assert [(page.name, job.parent.name) for page, job in jobs] == [("00_summary.ipynb", "ahead")]
    cells = nbformat.read(str(jobs[0][1]), as_version=4).cells
    assert [c.id for c in cells] == ["c0", "c1", "c2"]
    assert cells[0].metadata["tags"] == ["parameters"] and "untagged" not in "".join(c.source for c in cells)
