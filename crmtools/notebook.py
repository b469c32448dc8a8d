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
from .sources import default_period
from .params import load_params
from .periods import Period, last_complete_month, parse_period
from .reporting import i18n

__all__ = ["ReportContext", "setup"]


@dataclass(frozen=True)
class ReportContext:
    """Parameters, data and period of one report notebook run."""

    period: Period
    params: dict
    data: Dataset
    project_dir: Path
    data_through: pd.Timestamp | None = None

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

    def money(self, value) -> str:
        """An amount in the report's currency and language."""
        return i18n.money(value, self.language, self.currency)

    @property
    def period_text(self) -> str:
        """The period as readers see it, e.g. 'Oct 2025' or '2025年10月'."""
        return i18n.month_label(self.period.label, self.language)


def setup(*, period: str | None = None, language: str | None = None, params_file: str | None = None,
          overrides_json: str = "{}", data_path: str | None = None, project_dir: str | None = None,
          theme: bool = True, snapshot_dir: str | None = None) -> ReportContext:
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
        A validated data snapshot written by the runner for this run; read
        instead of the sources (which the runner already validated).

    Returns
    -------
    ReportContext
    """
    root = Path(project_dir) if project_dir else _find_project_dir()
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
    params = load_params(params_path if params_path.exists() else None, overrides)
    config = DataConfig.from_dict(params["data"], base_dir=root)
    # The period first (a cheap max(order_datetime) when not given); then only data up to its end: never the future.
    resolved = parse_period(params["period"]) if params["period"] else default_period(config)
    if snapshot_dir:  # the runner validated the data once for the whole run
        from .data import read_snapshot

        data = read_snapshot(snapshot_dir)
    else:
        data = load_dataset(config, until=resolved.end)
    stamps = data.transactions["order_datetime"]
    through = None if stamps.dropna().empty else pd.Timestamp(stamps.max())
    params = {**params, "period": resolved.label}
    if theme:
        from .plotting.theme import use_report_theme

        use_report_theme(params["language"])
    _require_inline_charts()
    return ReportContext(period=resolved, params=params, data=data, project_dir=root, data_through=through)


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
        raise RuntimeError(f"Charts would not appear in the report: matplotlib backend is {backend!r}. "
                           "Run '%matplotlib inline' before setup(), or unset MPLBACKEND.")


def _find_project_dir() -> Path:
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params").is_dir() and (candidate / "notebooks").is_dir():
            return candidate
    return here


def sample_period(transactions: pd.DataFrame) -> Period:
    """The default period of a data set: its last complete month."""
    return last_complete_month(transactions["order_datetime"].max())


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
