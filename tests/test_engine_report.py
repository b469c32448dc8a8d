"""The whole monthly report runs its heavy aggregation on the engine the params name, with the same numbers.

``engine.backend`` is read by every report notebook (``ctx.engine_transactions``): RFM, deciles, cohorts,
repeat purchase and KPIs run in DuckDB, polars or Spark, and only their small results come back. The pages
must be the same as on the default engine: same tables, same figures, same charts (PNG bytes), everything
but the run id in the footer (it fingerprints the parameters, which name the engine).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from crmtools.runner import run_period
from crmtools.sampledata import SampleConfig, write_sample

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
# The summary and the pages whose numbers come from the engine.
NOTEBOOKS = ("00_summary.ipynb", "01_rfm.ipynb", "02_deciles.ipynb", "03_retention.ipynb")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine_project")
    write_sample(root / "data", SampleConfig(customers=1200, months=24, seed=9))
    (root / "params").mkdir()
    (root / "params" / "default.yaml").write_text("data:\n  path: data\n", encoding="utf-8")
    (root / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, root / "notebooks" / name)
    return root


def render(project: Path, backend: str, **overrides) -> dict[str, str]:
    reports = project / f"reports-{backend}"
    settings = [f"engine.backend={backend}", *(f"{k}={v}" for k, v in overrides.items())]
    result = run_period("2025-10", project_dir=project, reports_dir=reports, overrides=settings, jobs=2)
    assert result.status == "published", result.message
    return {
        p.name: re.sub(r"run [0-9a-f]{12}", "run <id>", p.read_text(encoding="utf-8"))
        for p in sorted(result.report_dir.glob("*.html"))
    }


@pytest.fixture(scope="module")
def default_pages(project) -> dict[str, str]:
    return render(project, "pandas")


@pytest.mark.parametrize("backend", ["duckdb", "polars"])
def test_the_report_on_another_engine_has_the_same_pages(project, default_pages, backend):
    pages = render(project, backend)
    assert pages.keys() == default_pages.keys()
    for name, page in pages.items():
        assert page == default_pages[name], f"{name} differs on {backend}"


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_the_report_on_spark_has_the_same_pages(project, default_pages):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (java on PATH or JAVA_HOME)")
    pages = render(project, "spark", **{"engine.spark_master": "local[1]"})
    for name, page in pages.items():
        assert page == default_pages[name], f"{name} differs on Spark"
