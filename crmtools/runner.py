"""Run every report notebook for a period and publish the HTML atomically.

The run, step by step:

1. Validate the parameters (before any notebook starts) and the data.
2. Work out the run key: a fingerprint of parameters, input files and code.
   If the published report has the same key, skip (``force`` re-runs).
3. Execute every notebook into a staging folder with Papermill, in
   parallel up to the number of cores, and render each to HTML.
4. Check every page: it rendered, and every chart is really there.
5. Only when all succeeded, write the manifest and swap the staging folder
   in for the published one. A failed or killed run leaves the last good
   report untouched; a failed run keeps its executed notebooks under
   ``reports/.failed/<period>/`` for debugging.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import nbformat

from .data import DataConfig, inspect_dataset, write_snapshot
from .sources import default_period
from .errors import DataValidationError, ReportError
from .params import load_params, params_fingerprint
from .periods import Period, parse_period, period_range
from .reporting import i18n
from .reporting.index import build_index
from .reporting.render import count_images, execute_notebook, render_html

__all__ = ["NotebookResult", "RunResult", "run_period", "run_periods", "report_notebooks"]

_PACKAGES = ("crmtools", "pandas", "numpy", "narwhals", "duckdb", "polars", "pyarrow", "scipy", "statsmodels",
             "matplotlib", "seaborn", "papermill", "nbconvert", "pandera")
#: Manifest fields that change between identical runs.
VOLATILE_FIELDS = ("started_at", "finished_at", "seconds", "notebooks[].seconds", "notebooks[].kernel_seconds",
                   "notebooks[].cell_seconds", "notebooks[].render_seconds")


@dataclass
class NotebookResult:
    """How one notebook fared."""

    notebook: str
    status: str = "pending"
    seconds: float = 0.0
    kernel_seconds: float = 0.0
    cell_seconds: float = 0.0
    render_seconds: float = 0.0
    images: int = 0
    error: str = ""


@dataclass
class RunResult:
    """How the run of one period fared."""

    period: str
    status: str  # published | skipped | failed
    report_dir: Path
    notebooks: list[NotebookResult] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


def report_notebooks(notebooks_dir: Path) -> list[Path]:
    """The report notebooks: ``NN_name.ipynb`` files, in name order."""
    found = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ReportError(f"No report notebooks (NN_name.ipynb) found in {notebooks_dir}.")
    return found


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
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True,
                             timeout=10)
        rev = out.stdout.strip()
        if out.returncode != 0 or not rev:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_dir,
                               capture_output=True, text=True, timeout=10).stdout.strip()
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
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _notebook_title(path: Path, language: str) -> str:
    nb = nbformat.read(str(path), as_version=4)
    key = nb.metadata.get("crmtools", {}).get("title_key")
    if key and key in i18n.TEXT:
        return i18n.text(key, language)
    return path.stem.split("_", 1)[-1].replace("_", " ").title()


def run_period(period: str | Period | None = None, *, params_file: str | Path | None = "params/default.yaml",
               overrides: list[str] | dict | None = None, project_dir: str | Path = ".",
               notebooks_dir: str | Path | None = None, reports_dir: str | Path | None = None,
               force: bool = False, jobs: int | None = None) -> RunResult:
    """Run and publish the report set of one period.

    Parameters
    ----------
    period : str or Period, optional
        The period; ``params["period"]``, else the last complete month of the data, when None.
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

    Returns
    -------
    RunResult

    Raises
    ------
    ParameterError, DataValidationError
        Before any notebook starts.
    """
    started, clock = _now(), time.perf_counter()
    root = Path(project_dir).resolve()
    params_path = None
    if params_file is not None:
        params_path = Path(params_file) if Path(params_file).is_absolute() else root / params_file
    extra = dict(overrides) if isinstance(overrides, dict) else {}
    params = load_params(params_path, overrides if not isinstance(overrides, dict) else extra)
    if period is not None:
        params = load_params(params_path, _with_period(overrides, parse_period(period).label))
    config = DataConfig.from_dict(params["data"], base_dir=root)
    # The period first (a cheap max(order_datetime) when not given), then only the data up to its end.
    resolved = parse_period(params["period"]) if params["period"] else default_period(config)
    dataset, problems, _ = inspect_dataset(config, until=resolved.end)
    if problems:
        raise DataValidationError(problems)
    params = {**params, "period": resolved.label}
    language = params["language"]

    nb_dir = Path(notebooks_dir) if notebooks_dir else root / "notebooks"
    notebooks = report_notebooks(nb_dir)
    out_root = Path(reports_dir) if reports_dir else Path(params["reports_dir"])
    out_root = out_root if out_root.is_absolute() else root / out_root
    published = out_root / resolved.label
    inputs = {name: {k: str(_display_path(v, root)) if k in ("file", "database") else v for k, v in info.items()}
              for name, info in sorted(dataset.inputs.items())}
    run_key = hashlib.sha256(
        (params_fingerprint(params) + json.dumps(inputs, sort_keys=True) + _code_fingerprint(root, notebooks))
        .encode()).hexdigest()

    manifest_path = published / "manifest.json"
    if not force and manifest_path.exists():
        try:
            if json.loads(manifest_path.read_text(encoding="utf-8")).get("run_key") == run_key:
                _say(f"[{resolved.label}] unchanged inputs, parameters and code: skipped (use --force to re-run)")
                return RunResult(resolved.label, "skipped", published, message="unchanged")
        except json.JSONDecodeError:
            pass

    staging = out_root / ".staging" / resolved.label
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "executed").mkdir(parents=True)
    snapshot = write_snapshot(dataset, out_root / ".staging" / f"{resolved.label}.data")
    nb_params = {
        "period": resolved.label,
        "language": language,
        "params_file": str(params_path) if params_path else "",
        "overrides_json": json.dumps({k: v for k, v in params.items() if k != "period"}, sort_keys=True,
                                     ensure_ascii=False),
        "data_path": "",
        "output_dir": str(staging),
        "snapshot_dir": str(snapshot),
    }
    results = [NotebookResult(p.name) for p in notebooks]
    titles = {p.name: _notebook_title(p, language) for p in notebooks}
    summary_name = notebooks[0].stem + ".html"
    workers = max(1, min(jobs or os.cpu_count() or 1, len(notebooks)))
    _say(f"[{resolved.label}] running {len(notebooks)} notebooks ({workers} at a time)")

    def run_one(index: int) -> NotebookResult:
        path, result = notebooks[index], results[index]
        t0 = time.perf_counter()
        executed = staging / "executed" / path.name
        try:
            nb = execute_notebook(path, executed, nb_params, cwd=root)
            executed_at = time.perf_counter()
            result.cell_seconds = round(sum(c.metadata.get("papermill", {}).get("duration") or 0.0
                                            for c in nb.cells), 2)
            result.kernel_seconds = round(executed_at - t0 - result.cell_seconds, 2)
            result.images = count_images(nb)
            minimum = nb.metadata.get("crmtools", {}).get("min_images", 1)
            if result.images < minimum:
                raise ReportError(f"Notebook {path.name} produced {result.images} chart(s), expected at least "
                                  f"{minimum}: charts are missing (is the inline backend active?). "
                                  f"The executed notebook is kept at {executed}.")
            nav = [{"href": "../index.html", "text": i18n.text("all_periods", language)}]
            if path.stem + ".html" != summary_name:
                nav.append({"href": summary_name, "text": i18n.text("back_to_summary", language)})
            nav += [{"href": p.stem + ".html", "text": titles[p.name]} for p in notebooks
                    if p.stem + ".html" != summary_name and p != path]
            render_html(nb, staging / f"{path.stem}.html",
                        title=f"{titles[path.name]} — {i18n.month_label(resolved.label, language)}",
                        meta={"nav": nav, "period_text": f"{i18n.text('period', language)}: "
                                                         f"{i18n.month_label(resolved.label, language)}",
                              "footer": f"{i18n.text('generated_by', language)} · run {run_key[:12]}"})
            result.render_seconds = round(time.perf_counter() - executed_at, 2)
            result.status = "ok"
        except ReportError as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # a rendering bug must still fail the run cleanly
            result.status, result.error = "failed", f"Notebook {path.name}: {type(exc).__name__}: {exc}"
        result.seconds = round(time.perf_counter() - t0, 2)
        mark = "ok" if result.status == "ok" else "FAILED"
        _say(f"[{resolved.label}] {path.name}: {mark} ({result.seconds:.1f} s, {result.images} charts)")
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run_one, range(len(notebooks))))

    shutil.rmtree(snapshot, ignore_errors=True)
    failed = [r for r in results if r.status != "ok"]
    manifest = {
        "period": resolved.label,
        "run_key": run_key,
        "params": params,
        "inputs": inputs,
        "code": {"git_revision": _git_revision(root), "fingerprint": _code_fingerprint(root, notebooks)},
        "versions": _versions(),
        "notebooks": [asdict(r) for r in results],
        "started_at": started,
        "finished_at": _now(),
        "seconds": round(time.perf_counter() - clock, 2),
        "volatile": list(VOLATILE_FIELDS),
        "status": "failed" if failed else "published",
    }
    if failed:
        kept = out_root / ".failed" / resolved.label
        shutil.rmtree(kept, ignore_errors=True)
        kept.parent.mkdir(parents=True, exist_ok=True)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
                                               + "\n", encoding="utf-8")
        shutil.move(str(staging), str(kept))
        message = "; ".join(r.error.replace(str(staging), str(kept)) for r in failed)
        _say(f"[{resolved.label}] not published: {message}")
        return RunResult(resolved.label, "failed", published, results, message,
                         round(time.perf_counter() - clock, 2))

    shutil.rmtree(staging / "executed")
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                                           encoding="utf-8")
    _publish(staging, published)
    shutil.rmtree(out_root / ".failed" / resolved.label, ignore_errors=True)
    build_index(out_root, language=language)
    seconds = round(time.perf_counter() - clock, 2)
    _say(f"[{resolved.label}] published {published} ({seconds:.1f} s)")
    return RunResult(resolved.label, "published", published, results, "", seconds)


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


def _publish(staging: Path, published: Path) -> None:
    """Swap the staging folder in for the published one (two renames on one file system)."""
    published.parent.mkdir(parents=True, exist_ok=True)
    old = published.parent / ".staging" / f"{published.name}.old"
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
