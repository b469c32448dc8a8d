"""What a report notebook needs in its first cells: parameters, data, period, theme.

A notebook's ``parameters`` cell holds literals only; the next cell calls
:func:`setup`, which validates the parameters, loads and validates the data,
resolves the period and applies the chart theme. Everything else in a
notebook is a call into :mod:`crmtools`, a plot and some narrative.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .data import DataConfig, Dataset, load_dataset
from .params import load_params
from .periods import Period, parse_period
from .reporting import i18n
from .sources import default_period

__all__ = ["ReportContext", "setup"]


@dataclass(frozen=True)
class ReportContext:
    """Parameters, data and period of one report notebook run."""

    period: Period
    params: dict
    data: Dataset
    project_dir: Path
    data_through: pd.Timestamp | None = None
    cache_dir: Path | None = None

    @property
    def engine(self) -> str:
        """The engine the heavy aggregations run on (``engine.backend``: pandas, duckdb, polars or spark)."""
        return self.params.get("engine", {}).get("backend", "pandas")

    @property
    def engine_transactions(self):
        """The transactions in the engine the params name, for the aggregating analyses.

        RFM, deciles, cohorts, repeat purchase and KPIs accept it as they accept a
        pandas frame and give identical results on every engine (narwhals); only
        their small results come back to pandas. ``pandas`` returns
        ``data.transactions`` itself; ``spark`` starts (or joins) the session
        ``engine.spark_master`` / ``engine.spark_connect_url`` name.
        """
        cache = self.__dict__.setdefault("_engine_frames", {})
        if "transactions" not in cache:
            from .spark import as_backend

            session = None
            if self.engine == "spark":
                from .spark import session_from_params

                session = session_from_params(self.params)
            cache["transactions"] = as_backend(self.data.transactions, self.engine, session=session)
        return cache["transactions"]

    def cached(self, name: str, function, *args, **kwargs):
        """``function(*args, **kwargs)``, computed once per run and shared by the run's notebooks.

        Within a run (``cache_dir`` set by the runner) the result is stored under
        a key made of ``name``, the function and a fingerprint of every argument
        (frames by content), so two pages asking for the same computation share
        it and a different argument can never return a stale result. Outside a
        run (an analyst in Lab) it simply calls the function.
        """
        from .reporting.results import cached_call

        engine_frame = self.__dict__.get("_engine_frames", {}).get("transactions")
        transactions = self.data.transactions

        def key_of(value):
            return transactions if engine_frame is not None and value is engine_frame else value

        return cached_call(self.cache_dir, name, function, *args, key_of=key_of, **kwargs)

    @property
    def partial(self) -> bool:
        """True when the data ends before the period does: changes against full periods are not comparable."""
        return self.data_through is not None and self.data_through.normalize() < self.period.end - pd.Timedelta(days=1)

    @property
    def language(self) -> str:
        """Report language, ``en`` or ``ja``."""
        return self.params["language"]

    @property
    def currency(self) -> str:
        """Currency of amounts."""
        return self.params["currency"]

    def t(self, key: str) -> str:
        """Report text ``key`` in the report language."""
        return i18n.text(key, self.language)

    @property
    def period_text(self) -> str:
        """The period as readers see it, e.g. 'Oct 2025' or '2025年10月'."""
        return i18n.month_label(self.period.label, self.language)


def setup(
    *,
    period: str | None = None,
    language: str | None = None,
    params_file: str | None = None,
    overrides_json: str = "{}",
    data_path: str | None = None,
    project_dir: str | None = None,
    theme: bool = True,
    snapshot_dir: str | None = None,
) -> ReportContext:
    """Validate parameters, load the data, resolve the period, apply the theme.

    Parameters
    ----------
    period : str, optional
        ``YYYY-MM`` or ``YYYY-Qn``; the last complete month of the data when None.
        Transactions are read only up to the period's end (history before it is kept).
    language : {"en", "ja"}, optional
        Overrides the params file.
    params_file : str, optional
        YAML params; ``params/default.yaml`` of the project when None.
    overrides_json : str, default="{}"
        Nested overrides as JSON text (Papermill passes literals).
    data_path : str, optional
        Folder of the data set; overrides ``data.path``.
    project_dir : str, optional
        Folder relative paths resolve against; the parent of ``notebooks/`` by default.
    theme : bool, default=True
        Apply the report chart theme.
    snapshot_dir : str, optional
        The run's folder written by the runner: the validated data snapshot
        and ``run.json`` with the parameters and period the runner resolved.
        When given, the other arguments are not read again (the runner passes
        the same values for the record) and nothing is resolved twice.

    Returns
    -------
    ReportContext
    """
    root = Path(project_dir) if project_dir else _find_project_dir()
    if snapshot_dir:  # the runner resolved and validated everything once for the whole run
        params, resolved, data = _from_run(snapshot_dir)
    else:
        params, resolved, data = _resolve(
            root,
            period=period,
            language=language,
            params_file=params_file,
            overrides_json=overrides_json,
            data_path=data_path,
        )
    stamps = data.transactions["order_datetime"]
    through = None if stamps.dropna().empty else pd.Timestamp(stamps.max())
    if theme:
        from .plotting.theme import use_report_theme

        use_report_theme(params["language"])
    _require_inline_charts()
    return ReportContext(
        period=resolved,
        params=params,
        data=data,
        project_dir=root,
        data_through=through,
        cache_dir=Path(snapshot_dir) / "results" if snapshot_dir else None,
    )


def _from_run(snapshot_dir: str) -> tuple[dict, Period, Dataset]:
    """Parameters, period and data exactly as the runner resolved and validated them (``run.json``)."""
    run = json.loads((Path(snapshot_dir) / "run.json").read_text(encoding="utf-8"))
    return run["params"], parse_period(run["params"]["period"]), _run_data(Path(snapshot_dir))


# The run's data as this process last read it: {"stamp": ..., "data": Dataset, "digests": {table: text}}.
_RUN_DATA: dict = {}


def _run_data(folder: Path) -> Dataset:
    """The run's data snapshot, read once per kernel: each page gets its own copy of the tables.

    A kernel that runs the run's pages one after another reads the snapshot for its first page and keeps it;
    every page gets shallow copies of the kept tables. Under pandas' copy-on-write, whatever a page does to its
    copies (add a column, write a value) copies the values first, so the kept tables and the next page's copies
    never change; what an analysis derives from a copy (:func:`crmtools.engine.keep`) is derived from the kept
    table and shared with the next pages. Each copy's fingerprint (the key of ``ctx.cached``) is the token the snapshot
    gave its table when written (``meta.json``; the run's cache lives and dies with that snapshot), for as long
    as the copy's values are the kept ones (:func:`crmtools.reporting.results.remember`): the data are not
    hashed again by each page, and the ids numbered once per kernel (:func:`crmtools.engine.sorted_codes`) stay
    numbered from page to page. A snapshot written again (another run) is read again.
    """
    import copy
    import dataclasses

    from .data import read_snapshot
    from .engine import keep
    from .reporting.results import remember

    files = sorted(folder.glob("*.arrow")) + [folder / "meta.json"]
    stamp = (str(folder.resolve()), *((f.name, *_file_stamp(f)) for f in files))
    if _RUN_DATA.get("stamp") != stamp:
        _RUN_DATA.clear()
        data = read_snapshot(folder)
        written = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["tables"]
        digests = {name: "snapshot:" + token for name, token in written.items()}
        for field in dataclasses.fields(data):
            if isinstance(table := getattr(data, field.name), pd.DataFrame):
                keep(table)  # what a page derives from its copy, the next page of this kernel reuses
        _RUN_DATA.update(stamp=stamp, data=data, digests=digests)
    kept, digests = _RUN_DATA["data"], _RUN_DATA["digests"]
    tables = {}
    for field in dataclasses.fields(kept):
        value = getattr(kept, field.name)
        if isinstance(value, pd.DataFrame):
            value = value.copy(deep=False)
            if field.name in digests:
                remember(value, digests[field.name])
        else:
            value = copy.deepcopy(value)
        tables[field.name] = value
    return dataclasses.replace(kept, **tables)


def _file_stamp(path: Path) -> tuple[int, int, int]:
    found = path.stat()
    return found.st_ino, found.st_size, found.st_mtime_ns


def _resolve(root: Path, *, period, language, params_file, overrides_json, data_path) -> tuple[dict, Period, Dataset]:
    """An analyst's run in Lab: validate the parameters, resolve the period, load and validate the data."""
    overrides = json.loads(overrides_json or "{}")
    if language:
        overrides["language"] = language
    if period:
        overrides["period"] = period
    if data_path:
        overrides.setdefault("data", {})["path"] = data_path
    params_path = Path(params_file) if params_file else root / "params" / "default.yaml"
    if not params_path.is_absolute():
        params_path = root / params_path
    params = load_params(params_path if params_path.exists() else None, overrides, base_dir=root)
    config = DataConfig.from_dict(params["data"], base_dir=root)
    # The period first (a cheap max(order_datetime) when not given); then only data up to its end: never the future.
    resolved = parse_period(params["period"]) if params["period"] else default_period(config)
    data = load_dataset(config, until=resolved.end)
    return {**params, "period": resolved.label}, resolved, data


def _require_inline_charts() -> None:
    """Inside a kernel, charts must render inline: a non-interactive backend (e.g. MPLBACKEND=Agg)
    would make every chart silently vanish from the report."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if "inline" not in backend:
        raise RuntimeError(
            f"Charts would not appear in the report: matplotlib backend is {backend!r}. "
            "Run '%matplotlib inline' before setup(), or unset MPLBACKEND."
        )
    # After every cell pyplot draws each new figure onto its canvas (for interactive windows), then the inline
    # backend draws it again into the PNG the page shows: the first drawing is never seen (a third of the
    # charts' cost). Inline only, so a widget backend chosen by hand keeps its updates; '%matplotlib inline'
    # connects it again and each page's setup() disconnects it.
    import matplotlib.pyplot as plt

    plt.uninstall_repl_displayhook()


def _find_project_dir() -> Path:
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params").is_dir() and (candidate / "notebooks").is_dir():
            return candidate
    return here


def heading(text: str, level: int = 2):
    """An escaped heading for a report page (text comes from :mod:`crmtools.reporting.i18n`)."""
    import html

    from IPython.display import HTML

    return HTML(f"<h{level}>{html.escape(text)}</h{level}>")


def paragraph(text: str, *, css_class: str = "crm-note"):
    """An escaped paragraph of generated text."""
    import html

    from IPython.display import HTML

    return HTML(f'<p class="{css_class}">{html.escape(text)}</p>')
