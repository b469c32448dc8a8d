"""Run every report notebook for a period and publish the HTML atomically.

The run, step by step (:func:`run_period` reads as this list):

1. **Plan**: validate the parameters and the data, resolve the period and
   check that the data covers it — all before any notebook starts.
2. **Lock** the reports folder: one run at a time writes into it
   (:mod:`crmtools.workspace`); stale staging folders of killed runs go.
3. **Skip** when the published report has the same run key (a fingerprint of
   parameters, inputs and code); ``force`` re-runs.
4. **Execute** every notebook with Papermill in a staging folder of this run,
   in parallel up to the number of cores, reading a validated snapshot of the
   data from a private workspace (owner-only, outside the reports folder, no
   contact details), and render each to HTML; check every page has its charts.
   Results pages declare they can have computed ahead (cells tagged
   ``prefetch``) are computed first by a free worker, in one kernel that
   derives what they share once, so a page with one long computation does not
   finish alone while the other workers wait.
5. **Publish** only when all succeeded: write the manifest and swap the
   staging folder in for ``reports/<period>/<language>/`` (so the English and
   the Japanese report of a period live side by side and link to each other).
   A failed or killed run leaves the last good report untouched; a failed run
   keeps its executed notebooks under ``reports/.failed/<period>/<language>/``
   for debugging. Either way ``reports/index.html`` (and ``index.ja.html``) is
   rebuilt: every run, newest period first, failed runs with their reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from . import jsonio
from .data import DataConfig, Dataset, inspect_dataset, write_snapshot
from .errors import CoverageError, DataValidationError, ParameterError, ReportError, ReportFileError
from .params import load_params, params_fingerprint
from .periods import Period, last_complete_month, parse_period, period_range
from .quality import quality_warnings
from .reporting import i18n
from .reporting.index import build_index, index_name
from .reporting.kernel_server import WARM_IMPORTS, take_server
from .reporting.notebook_format import nbformat
from .reporting.render import KernelSession, count_images, execute_notebook, prepare_renderer, render_html
from .sources import order_date_range
from .workspace import (
    clean_stale_staging,
    describe_os_error,
    file_errors,
    kill_child_processes,
    new_staging,
    private_workspace,
    remove_if_empty,
    report_lock,
)

__all__ = [
    "STALE_DATA_DAYS",
    "NotebookResult",
    "RunPlan",
    "RunResult",
    "plan_run",
    "report_notebooks",
    "run_period",
    "run_periods",
]

_PACKAGES = (
    "crmtools",
    "pandas",
    "numpy",
    "narwhals",
    "duckdb",
    "polars",
    "pyarrow",
    "scipy",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
)
#: Manifest fields that change between identical runs.
VOLATILE_FIELDS = (
    "started_at",
    "finished_at",
    "seconds",
    "notebooks[].seconds",
    "notebooks[].kernel_seconds",
    "notebooks[].cell_seconds",
    "notebooks[].render_seconds",
    "notebooks[].ahead_seconds",
)
#: A default period (the data's last complete month) older than this many days gets a warning on stderr.
STALE_DATA_DAYS = 45


@dataclass
class NotebookResult:
    """How one notebook fared."""

    notebook: str
    status: str = "pending"
    seconds: float = 0.0
    kernel_seconds: float = 0.0
    cell_seconds: float = 0.0
    render_seconds: float = 0.0
    ahead_seconds: float = 0.0  # its cells tagged prefetch, run ahead by a free worker (not in ``seconds``)
    images: int = 0
    error: str = ""
    file_error: bool = False


@dataclass
class RunResult:
    """How the run of one period fared."""

    period: str
    status: str  # published | skipped | failed
    report_dir: Path
    notebooks: list[NotebookResult] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


@dataclass
class RunPlan:
    """Everything decided before any notebook starts: parameters, period, data and where pages go."""

    root: Path
    params: dict
    params_path: Path | None
    period: Period
    dataset: Dataset
    data_first: pd.Timestamp
    data_through: pd.Timestamp
    partial: bool
    notebooks: list[Path]
    out_root: Path
    inputs: dict
    run_key: str
    started: str = ""

    @property
    def label(self) -> str:
        """The period's label, e.g. ``2025-10``."""
        return self.period.label

    @property
    def language(self) -> str:
        """The report language."""
        return self.params["language"]

    @property
    def published(self) -> Path:
        """The published folder of the period in the report language: ``<reports>/<period>/<language>``."""
        return self.out_root / self.label / self.language

    @property
    def failed(self) -> Path:
        """Where a failed run keeps its executed notebooks: ``<reports>/.failed/<period>/<language>``."""
        return self.out_root / ".failed" / self.label / self.language


def report_notebooks(notebooks_dir: Path) -> list[Path]:
    """The report notebooks: ``NN_name.ipynb`` files, in name order.

    Raises
    ------
    ParameterError
        When the folder does not exist or holds no report notebook (a usage error).
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise ParameterError(
            f"notebooks folder {folder} does not exist; expected a folder of NN_name.ipynb "
            "report notebooks (default: notebooks/ of the project)."
        )
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ParameterError(f"no report notebooks (NN_name.ipynb) found in {folder}.")
    return found


def run_period(
    period: str | Period | None = None,
    *,
    params_file: str | Path | None = "params/default.yaml",
    overrides: list[str] | dict | None = None,
    project_dir: str | Path = ".",
    notebooks_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    force: bool = False,
    jobs: int | None = None,
    allow_partial: bool = False,
    wait_seconds: float = 0.0,
    fresh_kernels: bool = False,
) -> RunResult:
    """Run and publish the report set of one period.

    Parameters
    ----------
    period : str or Period, optional
        The period; ``params["period"]``, else the last complete month *in the data*, when None.
    params_file : path, optional
        YAML params, relative to ``project_dir``.
    overrides : list of str or dict, optional
        ``name=value`` overrides.
    project_dir : path, default="."
        Project root (holds ``notebooks/`` and ``params/``).
    notebooks_dir, reports_dir : path, optional
        Defaults: ``<project>/notebooks`` and ``params["reports_dir"]``.
    force : bool, default=False
        Re-run even when inputs, parameters and code are unchanged.
    jobs : int, optional
        Notebooks run at once; the number of cores by default.
    allow_partial : bool, default=False
        Report a period the data covers only partly; every page then says
        how far the data goes and no change against a full period is shown.
    wait_seconds : float, default=0.0
        How long to wait for another run writing to the same reports folder;
        0 refuses at once.
    fresh_kernels : bool, default=False
        Start a new kernel for every notebook. By default each of the ``jobs``
        workers keeps one kernel for the notebooks it runs, resetting its
        namespace between them (the pages are byte-identical either way;
        imports and start-up are paid once per worker instead of per page).

    Returns
    -------
    RunResult

    Raises
    ------
    ParameterError, DataValidationError, CoverageError
        Before any notebook starts.
    RunBusyError
        When another run holds the reports folder.
    ReportFileError
        When the file system refuses (read-only folder, disk full ...).
    """
    clock = time.perf_counter()
    # The kernels start (and import what the pages use) while the inputs are read and validated.
    with (
        private_workspace() as work,
        _kernel_environment(work),
        _Kernels(
            _workers(jobs, project_dir, notebooks_dir), Path(project_dir).resolve(), fresh=fresh_kernels
        ) as kernels,
    ):
        plan = plan_run(
            period,
            params_file=params_file,
            overrides=overrides,
            project_dir=project_dir,
            notebooks_dir=notebooks_dir,
            reports_dir=reports_dir,
            allow_partial=allow_partial,
        )
        with report_lock(plan.out_root, timeout=wait_seconds, what=plan.label):
            clean_stale_staging(plan.out_root)
            if not force and _unchanged(plan):
                _say(f"[{plan.label}] unchanged inputs, parameters and code: skipped (use --force to re-run)")
                return RunResult(plan.label, "skipped", plan.published, message="unchanged")
            snapshot = _write_snapshot(plan, work / "data")
            staging = new_staging(plan.out_root, plan.label)
            try:
                results = _execute_all(plan, staging, snapshot, kernels, scratch=work / "prefetch")
                manifest = _manifest(plan, results, clock)
                if any(r.status != "ok" for r in results):
                    return _keep_failed(plan, staging, manifest, results, clock)
                _publish_run(plan, staging, manifest)
                _build_indexes(plan)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                remove_if_empty(plan.out_root / ".staging")
    seconds = round(time.perf_counter() - clock, 2)
    _say(f"[{plan.label}] published {plan.published} ({seconds:.1f} s)")
    return RunResult(plan.label, "published", plan.published, results, "", seconds)


def plan_run(
    period: str | Period | None = None,
    *,
    params_file: str | Path | None = "params/default.yaml",
    overrides: list[str] | dict | None = None,
    project_dir: str | Path = ".",
    notebooks_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    allow_partial: bool = False,
) -> RunPlan:
    """Decide a run before it starts: parameters, period, validated data and its coverage, notebooks.

    Every check that can fail without running a notebook runs here, so a run
    that would fail on its inputs stops in seconds with a message and an exit
    code, not after minutes of notebooks. Arguments as in :func:`run_period`.
    """
    started = _now()
    root = Path(project_dir).resolve()
    params_path = None
    if params_file is not None:
        params_path = Path(params_file) if Path(params_file).is_absolute() else root / params_file
    if period is not None:
        overrides = _with_period(overrides, parse_period(period).label)
    params = load_params(params_path, overrides if not isinstance(overrides, dict) else dict(overrides), base_dir=root)
    nb_dir = Path(notebooks_dir) if notebooks_dir else root / "notebooks"
    notebooks = report_notebooks(nb_dir)
    config = DataConfig.from_dict(params["data"], base_dir=root)
    bounds = order_date_range(config)
    resolved = resolve_period(params, bounds)
    dataset, problems, quality = inspect_dataset(config, until=resolved.end, number_ids=True)
    if problems:
        raise DataValidationError(problems)
    for line in quality_warnings(quality):
        _say(f"data warning: {line}")
    first, through, partial = check_coverage(resolved, dataset, bounds, allow_partial=allow_partial)
    params = {**params, "period": resolved.label}
    out_root = resolve_reports_dir(params, reports_dir, project_dir=root)
    inputs = {
        name: {k: str(_display_path(v, root)) if k in ("file", "database") else v for k, v in info.items()}
        for name, info in sorted(dataset.inputs.items())
    }
    coverage = {"partial": partial, "data_through": f"{through:%Y-%m-%d}"} if partial else {}
    run_key = hashlib.sha256(
        (
            params_fingerprint(params)
            + json.dumps(inputs, sort_keys=True)
            + json.dumps(coverage, sort_keys=True)
            + _code_fingerprint(root, notebooks)
        ).encode()
    ).hexdigest()
    return RunPlan(
        root=root,
        params=params,
        params_path=params_path,
        period=resolved,
        dataset=dataset,
        data_first=first,
        data_through=through,
        partial=partial,
        notebooks=notebooks,
        out_root=out_root,
        inputs=inputs,
        run_key=run_key,
        started=started,
    )


def resolve_period(params: dict, bounds) -> Period:
    """The period asked for (params ``period``), or the last complete month in the data (with a warning when
    it is old); ``bounds`` is :func:`crmtools.sources.order_date_range` of the data (None: read the data)."""
    if params["period"]:
        return parse_period(params["period"])
    if bounds is None:
        from .sources import default_period

        return default_period(DataConfig.from_dict(params["data"]))  # reads the data; says why it cannot
    resolved = last_complete_month(bounds[1])
    age = (date.today() - resolved.end.date()).days
    if age > STALE_DATA_DAYS:
        _say(
            f"warning: the last complete month in the data is {resolved.label}, which ended {age} days ago; "
            "is the data export up to date? (pass --period to choose a period)"
        )
    return resolved


def _coverage(dataset: Dataset, bounds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The data's first and last order (the last from the whole source when it could be read cheaply)."""
    stamps = dataset.transactions["order_datetime"].dropna()
    first = bounds[0] if bounds else (stamps.min() if len(stamps) else pd.NaT)
    last = bounds[1] if bounds else (stamps.max() if len(stamps) else pd.NaT)
    if pd.isna(first) or pd.isna(last):
        raise CoverageError(
            "the data has no orders with a date: there is nothing to report "
            "(check the transactions file's order_datetime column)."
        )
    return pd.Timestamp(first), pd.Timestamp(last)


def _check_coverage(period: Period, first: pd.Timestamp, last: pd.Timestamp, *, allow_partial: bool) -> bool:
    """True when the period is covered only partly (and that is allowed); raise when it is not covered.

    A period is covered when the data has an order on (or before) its first
    day and on (or after) its last day, the rule that also picks the default
    period (:func:`crmtools.periods.last_complete_month`).
    """
    covers = f"the data covers {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    if last < period.start or first >= period.end:
        raise CoverageError(f"no orders in {period.label}; {covers}. Choose a period inside that range.")
    last_day = period.end - pd.Timedelta(days=1)
    partial = last.normalize() < last_day or first.normalize() > period.start
    if partial and not allow_partial:
        raise CoverageError(
            f"the data covers {period.label} only partly ({covers}; the period runs {period.start:%Y-%m-%d} to "
            f"{last_day:%Y-%m-%d}). A partial period compared with full ones misleads: choose a complete period, "
            "or pass --allow-partial to report it with a 'data through' note and no comparisons."
        )
    return partial


def check_coverage(period: Period, dataset: Dataset, bounds, *, allow_partial: bool):
    """The data's first order, the last instant of data in ``period`` and whether it is covered only partly.

    The coverage rule of every command that works on a period (``report``, ``targets``): raises
    :class:`CoverageError` for a period without orders, or covered only partly without ``allow_partial``.
    """
    first, last = _coverage(dataset, bounds)
    partial = _check_coverage(period, first, last, allow_partial=allow_partial)
    return first, min(last, period.end - pd.Timedelta(microseconds=1)), partial


def resolve_reports_dir(params: dict, reports_dir: str | Path | None = None, *, project_dir: str | Path = ".") -> Path:
    """The reports folder a run publishes to: ``reports_dir`` or params ``reports_dir``, relative to the project.

    Refused (:class:`ParameterError`) when it holds a targets export (customer ids never go into reports).
    """
    root = Path(project_dir).resolve()
    out_root = Path(reports_dir) if reports_dir else Path(params["reports_dir"])
    out_root = out_root.expanduser()
    out_root = out_root if out_root.is_absolute() else root / out_root
    from .exports import target_exports_in

    found = target_exports_in(out_root)
    if found:
        raise ParameterError(
            f"The reports folder {out_root} holds a targets export with customer ids ({found[0]}): move it out "
            "of the reports folder (e.g. to exports/) before publishing; nothing was published."
        )
    return out_root


def _unchanged(plan: RunPlan) -> bool:
    manifest_path = plan.published / "manifest.json"
    if not manifest_path.exists():
        return False
    try:
        return json.loads(manifest_path.read_text(encoding="utf-8")).get("run_key") == plan.run_key
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _kernel_environment(work: Path):
    """Kernels keep their connection files and temporary files in the private workspace."""
    runtime, tmp = work / "runtime", work / "tmp"
    runtime.mkdir(mode=0o700)
    tmp.mkdir(mode=0o700)
    saved = {name: os.environ.get(name) for name in ("JUPYTER_RUNTIME_DIR", "TMPDIR")}
    os.environ["JUPYTER_RUNTIME_DIR"], os.environ["TMPDIR"] = str(runtime), str(tmp)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _write_snapshot(plan: RunPlan, folder: Path) -> Path:
    meta = {
        "params": plan.params,
        "data_first": f"{plan.data_first:%Y-%m-%d}",
        "data_through": f"{plan.data_through:%Y-%m-%d}",
        "partial": plan.partial,
    }
    with file_errors(folder):
        out = write_snapshot(plan.dataset, folder)
        jsonio.write(out / "run.json", meta)
    return out


def _workers(jobs: int | None, project_dir: str | Path, notebooks_dir: str | Path | None) -> int:
    """How many notebooks run at once: ``jobs`` (the number of cores by default), at most one per notebook."""
    folder = Path(notebooks_dir) if notebooks_dir else Path(project_dir) / "notebooks"
    try:
        count = len(report_notebooks(folder))
    except (ParameterError, OSError):  # said by plan_run, with the exit code of a usage error
        count = 1
    return max(1, min(jobs or os.cpu_count() or 1, count))


class _Kernels:
    """The run's workers, each with one kernel for the notebooks it takes (or a fresh kernel per notebook).

    The workers start with the run; their kernels are forked from a kernel server that imports
    :data:`WARM_IMPORTS` while the runner reads and validates the inputs
    (:mod:`crmtools.reporting.kernel_server`; without one, each kernel starts and imports them itself). :meth:`run`
    then gives each worker the same task. A run that stops before (bad inputs, unchanged, busy) forks no kernel
    once it has stopped, and shuts down those it started unused.
    """

    def __init__(self, workers: int, cwd: Path, *, fresh: bool = False) -> None:
        self.workers, self.cwd, self.fresh = workers, cwd, fresh
        self._task = None
        self._go = threading.Event()
        # the kernels are forked from a server that imports WARM_IMPORTS once (the command line's, started before
        # it imported this module, or the run's own); a fresh kernel per notebook starts the usual way
        self._server, self._owns_server = (None, False) if fresh else take_server(cwd)
        KernelSession.prepare()
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._futures = [self._pool.submit(self._serve) for _ in range(workers)]

    def _serve(self) -> None:
        # A session belongs to the thread that made it (its kernel manager lives on that thread's event loop).
        with KernelSession(self._server) as kernel:
            if self._server is not None:  # forked once the server has imported, unless the run stopped before
                while not (self._go.is_set() or self._server.ready.wait(0.05)):
                    pass
            if not self.fresh and not (self._go.is_set() and self._task is None):
                kernel.start(self.cwd, imports=WARM_IMPORTS)
            self._go.wait()
            try:
                if self._task is not None:  # None: the run stopped before its notebooks
                    self._task(None if self.fresh else kernel, kernel)
            finally:
                # Stopped, not shut down: its pages are executed and kept, it holds nothing the run needs (its
                # files are in the private workspace), and a clean shutdown makes the run wait for it (2.6 s
                # measured, against 0.1 s).
                kernel.discard()

    def run(self, task) -> None:
        """Call ``task(kernel, session)`` on every worker and wait for all (``kernel`` is None for fresh kernels)."""
        self._task = task
        self._go.set()
        wait(self._futures)
        for future in self._futures:
            future.result()

    def __enter__(self) -> _Kernels:
        return self

    def __exit__(self, *exc) -> None:
        self._go.set()  # workers without a task shut their kernels down
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_server:
            self._server.close()


def _execute_all(
    plan: RunPlan, staging: Path, snapshot: Path, kernels: _Kernels, *, scratch: Path
) -> list[NotebookResult]:
    """Run every notebook on the run's workers; on an interrupt, kill the kernels and unwind."""
    (staging / "executed").mkdir()
    nb_params = {
        "period": plan.label,
        "language": plan.language,
        "params_file": str(plan.params_path) if plan.params_path else "",
        "overrides_json": json.dumps(
            {k: v for k, v in plan.params.items() if k != "period"}, sort_keys=True, ensure_ascii=False
        ),
        "data_path": "",
        "output_dir": str(staging),
        "snapshot_dir": str(snapshot),
    }
    titles = {p.name: _notebook_title(p, plan.language) for p in plan.notebooks}
    _say(f"[{plan.label}] running {len(plan.notebooks)} notebooks ({kernels.workers} at a time)")
    # What pages can have computed ahead goes first (with more than one worker: alone, a worker gains nothing),
    # then the pages longest first (as the last run of this period timed them, else as each page declares), so
    # that the workers finish together. A result a page needs that another job is still computing, it waits for
    # (ctx.cached), never recomputes.
    pages = _longest_first(plan, plan.notebooks)
    queue = _JobQueue(pages, _prefetch_notebooks(pages, scratch) if kernels.workers > 1 else [])
    results: dict[Path, NotebookResult] = {}
    ahead_seconds: dict[Path, float | None] = {}

    def compute_ahead(jobs: list[tuple[Path, Path]], session: KernelSession | None, kernel: KernelSession) -> None:
        try:
            for page, prefetch in jobs:
                ahead_seconds[page] = _run_prefetch(plan, page, prefetch, nb_params, session)
                if ahead_seconds[page] is None and session is not None:
                    kernel.discard()  # it may have died or be stuck in a cell: the next job starts a new one
        finally:
            queue.ahead_done()

    def worker(session: KernelSession | None, kernel: KernelSession) -> None:
        # Each worker keeps one kernel for the notebooks it takes (imports paid once, namespace reset
        # between notebooks), or a fresh kernel per notebook when asked (session None). Its kernel goes on to
        # the next notebook while the renderer writes the page of the last one.
        preferred: tuple[Path, ...] = ()
        while (job := queue.take(preferred)) is not None:
            if isinstance(job, list):
                compute_ahead(job, session, kernel)
                preferred = tuple(page for page, _ in job) if session is not None else ()  # its kernel knows them
                continue
            results[job], nb = _run_notebook(plan, job, staging, nb_params, session)
            if nb is not None:
                pages_written.append(renderer.submit(_render_page, plan, job, nb, results[job], staging, titles))
            elif session is not None:
                kernel.discard()  # it may have died or be stuck in a cell: the next notebook starts a new one

    # One thread renders the pages (its exporter built while the kernels start): the kernels never wait for it.
    renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmtools-render")
    pages_written: list = []
    try:
        renderer.submit(prepare_renderer, plan.language)
        kernels.run(worker)
        wait(pages_written)
        for path, seconds in ahead_seconds.items():
            results[path].ahead_seconds = seconds or 0.0
        return [results[p] for p in plan.notebooks]
    except BaseException:
        renderer.shutdown(wait=False, cancel_futures=True)
        kill_child_processes()
        raise
    finally:
        renderer.shutdown()


class _JobQueue:
    """The run's jobs in the order the workers take them: what pages compute ahead first, then the pages.

    The cells the pages tag :data:`PREFETCH_TAG` make one job: one page's after another, in one kernel, which
    derives once what they share (the purchase lines of this period's and last period's base values) and
    keeps it. Until that job is done its pages are given out only when no other page is left; then the worker that
    ran it takes them first (its kernel holds what they derived). Safe to share between the workers' threads.

    Examples
    --------
    >>> q = _JobQueue([Path("07"), Path("08"), Path("00")], [(Path("07"), Path("a/07")), (Path("00"), Path("a/00"))])
    >>> q.take(), q.take()  # a worker computes ahead; the other starts the page that does not wait for it
    ([(PosixPath('07'), PosixPath('a/07')), (PosixPath('00'), PosixPath('a/00'))], PosixPath('08'))
    >>> q.ahead_done(); q.take(preferred=(Path("00"), Path("07")))  # the first of them in the queue's order
    PosixPath('07')
    """

    def __init__(self, pages: list[Path], ahead: list[tuple[Path, Path]]) -> None:
        self._jobs: list[Path | list[tuple[Path, Path]]] = ([list(ahead)] if ahead else []) + list(pages)
        self._waiting = {page for page, _ in ahead}  # pages whose results are being computed ahead
        self._turn = threading.Lock()

    def take(self, preferred: tuple[Path, ...] = ()) -> Path | list[tuple[Path, Path]] | None:
        """The next job: a page of ``preferred``, else the first job that need not wait, else the first; None when
        none is left."""
        with self._turn:
            for wanted in (preferred.__contains__, lambda job: isinstance(job, list) or job not in self._waiting):
                ready = [i for i, job in enumerate(self._jobs) if wanted(job)]
                if ready:
                    return self._jobs.pop(ready[0])
            return self._jobs.pop(0) if self._jobs else None

    def ahead_done(self) -> None:
        """What the pages compute ahead is done (or failed: the pages compute it themselves)."""
        with self._turn:
            self._waiting.clear()


#: The tag of the cells that compute results a page can have computed ahead by another worker (with the cells that
#: set the page up): they show nothing and only fill the run's cache (:meth:`crmtools.notebook.ReportContext.cached`).
PREFETCH_TAG = "prefetch"


def _prefetch_notebooks(notebooks: list[Path], folder: Path) -> list[tuple[Path, Path]]:
    """For each page with cells tagged :data:`PREFETCH_TAG`: the page and a notebook of its parameters cell and
    those cells, written in ``folder`` (the run's private workspace)."""
    jobs = []
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        tagged = [set(cell.metadata.get("tags", [])) for cell in nb.cells]
        if not any(PREFETCH_TAG in tags for tags in tagged):
            continue
        nb.cells = [cell for cell, tags in zip(nb.cells, tagged) if tags & {"parameters", PREFETCH_TAG}]
        folder.mkdir(mode=0o700, exist_ok=True)
        nbformat.write(nb, str(folder / path.name))
        jobs.append((path, folder / path.name))
    return jobs


def _run_prefetch(
    plan: RunPlan, page: Path, prefetch: Path, nb_params: dict, kernel: KernelSession | None
) -> float | None:
    """Compute what ``page`` can have computed ahead: the seconds it took, None when it failed. A failure is the
    page's to report: it runs the same cells and fails with its own message, so here it only means the page
    computes them itself."""
    t0 = time.perf_counter()
    executed = prefetch.with_name(f"{prefetch.stem}.executed.ipynb")
    try:
        execute_notebook(prefetch, executed, nb_params, cwd=plan.root, kernel=kernel)
    except (ReportError, OSError):
        _say(f"[{plan.label}] {page.name}: its shared results were not computed ahead; the page computes them")
        return None
    seconds = round(time.perf_counter() - t0, 2)
    _say(f"[{plan.label}] {page.name}: shared results computed ahead ({seconds:.1f} s)")
    return seconds


def _longest_first(plan: RunPlan, notebooks: list[Path]) -> list[Path]:
    """The notebooks ordered by the time each took in the last published run of the period, longest first.

    Without a previous run that timed every one of them, by the cost each page declares
    (``metadata.crmtools.cost``, relative, 1 when absent); ties keep the name order.
    """
    try:
        manifest = json.loads((plan.published / "manifest.json").read_text(encoding="utf-8"))
        took = {n["notebook"]: float(n.get("seconds") or 0.0) for n in manifest.get("notebooks", [])}
    except (OSError, ValueError, TypeError, KeyError):
        took = {}
    if all(p.name in took for p in notebooks):
        return sorted(notebooks, key=lambda p: -took[p.name])
    return sorted(notebooks, key=lambda p: -_declared_cost(p))


def _declared_cost(path: Path) -> float:
    """A page's ``metadata.crmtools.cost``: its expected share of a run's computing time (1 when absent)."""
    cost = nbformat.read(str(path), as_version=4).metadata.get("crmtools", {}).get("cost", 1)
    return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 1.0


def _run_notebook(
    plan: RunPlan, path: Path, staging: Path, nb_params: dict, kernel: KernelSession | None
) -> tuple[NotebookResult, nbformat.NotebookNode | None]:
    """Execute one page's notebook: how it fared, and the executed notebook when its page is to be written."""
    result = NotebookResult(path.name)
    t0 = time.perf_counter()
    executed = staging / "executed" / path.name
    nb = None
    try:
        nb = execute_notebook(path, executed, nb_params, cwd=plan.root, kernel=kernel)
        result.cell_seconds = round(sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells), 2)
        result.kernel_seconds = round(time.perf_counter() - t0 - result.cell_seconds, 2)
        result.images = count_images(nb)
        minimum = nb.metadata.get("crmtools", {}).get("min_images", 1)
        if result.images < minimum:
            raise ReportError(
                f"Notebook {path.name} produced {result.images} chart(s), expected at least "
                f"{minimum}: charts are missing (is the inline backend active?). "
                f"The executed notebook is kept at {executed}."
            )
    except Exception as exc:
        _failed(result, exc, staging)
        nb = None
    result.seconds = round(time.perf_counter() - t0, 2)
    if nb is None:
        _say(f"[{plan.label}] {path.name}: FAILED ({result.seconds:.1f} s, {result.images} charts)")
    return result, nb


def _render_page(
    plan: RunPlan, path: Path, nb: nbformat.NotebookNode, result: NotebookResult, staging: Path, titles: dict
) -> None:
    """Write the page of an executed notebook (``result`` records the seconds it took, or why it failed)."""
    t0 = time.perf_counter()
    try:
        render_html(
            nb,
            staging / f"{path.stem}.html",
            title=f"{titles[path.name]} — {_period_text(plan)}",
            meta=_page_meta(plan, path, titles),
        )
        result.status = "ok"
    except Exception as exc:
        _failed(result, exc, staging)
    result.render_seconds = round(time.perf_counter() - t0, 2)
    result.seconds = round(result.seconds + result.render_seconds, 2)
    mark = "ok" if result.status == "ok" else "FAILED"
    _say(f"[{plan.label}] {path.name}: {mark} ({result.seconds:.1f} s, {result.images} charts)")


def _failed(result: NotebookResult, exc: Exception, staging: Path) -> None:
    """Record in ``result`` why its notebook failed (a rendering bug too must fail the run cleanly)."""
    if isinstance(exc, ReportError):
        result.status, result.error = "failed", str(exc)
    elif isinstance(exc, OSError):
        result.status, result.error, result.file_error = "failed", describe_os_error(exc, staging), True
    else:
        result.status, result.error = "failed", f"Notebook {result.notebook}: {type(exc).__name__}: {exc}"


def _period_text(plan: RunPlan) -> str:
    return i18n.month_label(plan.label, plan.language)


def _page_meta(plan: RunPlan, path: Path, titles: dict) -> dict:
    language, summary_name = plan.language, plan.notebooks[0].stem + ".html"
    nav = [{"href": f"../../{index_name(language)}", "text": i18n.text("all_periods", language)}]
    if path.stem + ".html" != summary_name:
        nav.append({"href": summary_name, "text": i18n.text("back_to_summary", language)})
    nav += [
        {"href": p.stem + ".html", "text": titles[p.name]}
        for p in plan.notebooks
        if p.stem + ".html" != summary_name and p != path
    ]
    meta = {
        "nav": nav,
        "period_text": f"{i18n.text('period', language)}: {_period_text(plan)}",
        "footer": i18n.text("layout.footer", language, run=plan.run_key[:12]),
        "language": language,
        "menu": i18n.text("layout.menu", language),
        # the same page in the other languages: reports/<period>/<language>/<page>
        "alternates": [
            {"href": f"../{other}/{path.stem}.html", "lang": other, "text": i18n.text("layout.language_name", other)}
            for other in i18n.LANGUAGES
            if other != language
        ],
    }
    if plan.partial:
        meta["banner"] = i18n.text("partial_banner", language).format(
            through=f"{plan.data_through:%Y-%m-%d}", first=f"{plan.data_first:%Y-%m-%d}"
        )
    return meta


def _manifest(plan: RunPlan, results: list[NotebookResult], clock: float) -> dict:
    failed = any(r.status != "ok" for r in results)
    return {
        "period": plan.label,
        "run_key": plan.run_key,
        "params": plan.params,
        "inputs": plan.inputs,
        "data": {
            "first_order": f"{plan.data_first:%Y-%m-%d}",
            "data_through": f"{plan.data_through:%Y-%m-%d}",
            "partial": plan.partial,
        },
        "code": {"git_revision": _git_revision(plan.root), "fingerprint": _code_fingerprint(plan.root, plan.notebooks)},
        "versions": _versions(),
        "notebooks": [{k: v for k, v in asdict(r).items() if k != "file_error"} for r in results],
        "started_at": plan.started,
        "finished_at": _now(),
        "seconds": round(time.perf_counter() - clock, 2),
        "volatile": list(VOLATILE_FIELDS),
        "status": "failed" if failed else "published",
    }


def _keep_failed(
    plan: RunPlan, staging: Path, manifest: dict, results: list[NotebookResult], clock: float
) -> RunResult:
    """Move the failed run's executed notebooks to ``reports/.failed/<period>/`` and say why."""
    failed = [r for r in results if r.status != "ok"]
    kept = plan.failed
    message = "; ".join(r.error.replace(str(staging), str(kept)) for r in failed)
    try:
        shutil.rmtree(kept, ignore_errors=True)
        kept.parent.mkdir(parents=True, exist_ok=True)
        manifest = {
            **manifest,
            "kept_at": str(kept),
            "message": message,
            "notebooks": [{**n, "error": n["error"].replace(str(staging), str(kept))} for n in manifest["notebooks"]],
        }
        jsonio.write(staging / "manifest.json", manifest)
        shutil.move(str(staging), str(kept))
    except OSError as exc:
        raise ReportFileError(describe_os_error(exc, kept)) from exc
    if not any(r.file_error for r in failed):
        _build_indexes(plan)  # the index lists the failed run with its reason
    if any(r.file_error for r in failed):
        raise ReportFileError(message)
    _say(f"[{plan.label}] not published: {message}")
    _say(f"[{plan.label}] executed notebooks kept in {kept}")
    return RunResult(plan.label, "failed", plan.published, results, message, round(time.perf_counter() - clock, 2))


def _publish_run(plan: RunPlan, staging: Path, manifest: dict) -> None:
    with file_errors(plan.out_root):
        shutil.rmtree(staging / "executed")
        jsonio.write(staging / "manifest.json", manifest)
        _publish(staging, plan.published, scratch=plan.out_root / ".staging")
        shutil.rmtree(plan.failed, ignore_errors=True)
        remove_if_empty(plan.failed.parent)
        remove_if_empty(plan.out_root / ".failed")


def _build_indexes(plan: RunPlan) -> None:
    """Rebuild ``index.html`` and its Japanese twin ``index.ja.html`` from every run's manifest."""
    with file_errors(plan.out_root):
        for language in i18n.LANGUAGES:
            build_index(plan.out_root, language=language, currency=plan.params.get("currency", "JPY"))


def _code_fingerprint(project_dir: Path, notebooks: list[Path]) -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".j2", ".json", ".yaml", ".csv"):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    for nb in notebooks:
        digest.update(nb.name.encode())
        digest.update(nb.read_bytes())
    return digest.hexdigest()


def _git_revision(project_dir: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True, timeout=10)
        rev = out.stdout.strip()
        if out.returncode != 0 or not rev:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _notebook_title(path: Path, language: str) -> str:
    nb = nbformat.read(str(path), as_version=4)
    key = nb.metadata.get("crmtools", {}).get("title_key")
    if key and key in i18n.TEXT:
        return i18n.text(key, language)
    return path.stem.split("_", 1)[-1].replace("_", " ").title()


def _with_period(overrides, label: str):
    if isinstance(overrides, dict):
        return {**overrides, "period": label}
    return [*(overrides or []), f"period={label}"]


def _display_path(path: str | os.PathLike, root: Path) -> str:
    p = Path(path).resolve()
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def _publish(staging: Path, published: Path, *, scratch: Path) -> None:
    """Swap the staging folder in for the published one (two renames on one file system; the old folder goes
    through ``scratch``, the reports folder's ``.staging``)."""
    published.parent.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    old = scratch / f"{published.parent.name}-{published.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if published.exists():
        os.replace(published, old)
    os.replace(staging, published)
    shutil.rmtree(old, ignore_errors=True)


def run_periods(first: str, last: str, **kwargs) -> list[RunResult]:
    """Run :func:`run_period` for every period from ``first`` to ``last``; stops at nothing, reports all."""
    results = []
    periods = period_range(first, last)
    for i, p in enumerate(periods, 1):
        _say(f"=== period {p.label} ({i}/{len(periods)}) ===")
        results.append(run_period(p, **kwargs))
    return results
