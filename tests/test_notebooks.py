"""The report notebooks read as documents in Lab: no outputs committed, parameters first, no repr-printing cells."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs_and_starts_with_its_parameters(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell is tagged 'parameters'"
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs are committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_ends_in_a_plot_call_whose_axes_repr_would_print(path):
    nb = nbformat.read(str(path), as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
        body = ast.parse(source).body
        if body and isinstance(body[-1], ast.Expr):
            text = ast.get_source_segment(source, body[-1]) or ""
            assert "plot_" not in text, f"cell {index} ends in {text[:60]!r}: assign it (ax = ...) instead"


@pytest.mark.slow
def test_the_campaign_page_publishes_for_a_period_without_campaigns(tmp_path):
    import shutil

    from crmtools.runner import run_period
    from crmtools.sampledata import SampleConfig, write_sample

    write_sample(tmp_path / "data", SampleConfig(customers=600, months=24, seed=4))
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text("data:\n  path: data\n", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[0].parent / "06_campaigns.ipynb", tmp_path / "notebooks")
    # The sample's campaigns run in months 3, 7 and 21-24: May 2024 has none.
    result = run_period("2024-05", project_dir=tmp_path, jobs=1)
    assert result.status == "published", result.message
