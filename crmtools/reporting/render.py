"""Execute a report notebook with Papermill and render it to self-contained HTML.

- Notebooks run on the ``python3`` kernel, which Papermill starts with the
  interpreter of the running process: the project's own environment, never
  whatever kernel happens to be installed on the machine.
- The kernel is forced onto matplotlib's inline backend (``MPLBACKEND``),
  since an ``Agg`` backend inherited from the environment makes charts
  silently vanish; the rendered page is then checked for images.
- HTML comes from a small template (``crmtools/templates/crmtools_report``)
  that drops every CDN script, hides code cells and adds navigation.
- Executed notebooks are normalised (no timings, fixed cell ids, fixed
  title) so that the same inputs give byte-identical HTML.
"""

from __future__ import annotations

import base64
import copy
import os
import re
from pathlib import Path

import nbformat

from ..errors import ReportError

__all__ = ["execute_notebook", "render_html", "count_images", "normalise_notebook", "TEMPLATE_DIR"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute_notebook(input_path: str | os.PathLike, output_path: str | os.PathLike, parameters: dict, *,
                     cwd: str | os.PathLike | None = None, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run a parameterised notebook and save the executed copy.

    Raises
    ------
    ReportError
        Naming the notebook, the failing cell and where the executed copy was kept.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # The kernel inherits this process's environment: make charts render inline.
    os.environ["MPLBACKEND"] = _INLINE_BACKEND
    os.environ.setdefault("PYTHONHASHSEED", "0")
    try:
        pm.execute_notebook(str(input_path), str(output_path), parameters=parameters, kernel_name="python3",
                            progress_bar=False, cwd=str(cwd) if cwd else None, request_save_on_cell_execute=False,
                            execution_timeout=timeout)
    except PapermillExecutionError as exc:
        first = str(exc.evalue).strip().splitlines()[0] if str(exc.evalue).strip() else exc.ename
        raise ReportError(
            f"Notebook {Path(input_path).name} failed in cell {exc.exec_count} "
            f"({exc.ename}: {first}). The executed notebook is kept at {output_path}."
        ) from None
    return nbformat.read(str(output_path), as_version=4)


def normalise_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop volatile metadata (timings, papermill bookkeeping) and give cells fixed ids."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("papermill", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "execution_count" in cell:
            cell["execution_count"] = None
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = None
    return nb


def count_images(nb: nbformat.NotebookNode) -> int:
    """Number of non-empty PNG/SVG outputs in an executed notebook."""
    total = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            png = data.get("image/png")
            if png and len(base64.b64decode(png)) > 100:
                total += 1
            elif data.get("image/svg+xml"):
                total += 1
    return total


_HEADING = re.compile(r"<h[1-3][^>]*>(.*?)</h[1-3]>", re.S)


def _label_charts(nb: nbformat.NotebookNode, default: str) -> None:
    """Give every chart an alt text: the text of the nearest heading above it."""
    import html as html_lib

    current = default
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            found = _HEADING.search(data.get("text/html", "") or "")
            if found:
                current = html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() or current
            if "image/png" in data:
                out.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = current


def _drop_stderr(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = ""


def render_html(nb: nbformat.NotebookNode, html_path: str | os.PathLike, *, title: str, meta: dict) -> str:
    """Write the executed notebook as HTML with no code, no scripts and no external requests.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook.
    html_path : path
        Where to write the page.
    title : str
        The page title.
    meta : dict
        Template data: ``nav`` (list of ``{href, text}``), ``period_text``, ``footer``.

    Returns
    -------
    str
        The HTML written.
    """
    from nbconvert import HTMLExporter

    nb = normalise_notebook(nb)
    nb.metadata["title"] = title
    nb.metadata["crmtools"] = meta
    # Warnings printed to stderr are for the run log, not for executives.
    _drop_stderr(nb)
    _label_charts(nb, title)
    nb.cells = [c for c in nb.cells if not _is_empty_output_cell(c)]
    exporter = HTMLExporter(template_name="crmtools_report", extra_template_basedirs=[str(TEMPLATE_DIR)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = re.sub(r"[ \t]+\n", "\n", body)
    if re.search(r"<script[^>]+src=|<link[^>]+href=\"https?://", body):
        raise ReportError(f"Rendered page {html_path} would load an external resource; refusing to publish it.")
    Path(html_path).write_text(body, encoding="utf-8")
    return body


def _is_empty_output_cell(cell) -> bool:
    if cell.cell_type != "code":
        return False
    outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and not o.get("text"))]
    return not outputs
