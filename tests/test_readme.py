"""The README's Python snippets run as written, on the sample data they name."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from crmtools.sampledata import SampleConfig, write_sample

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_snippets():
    assert BLOCKS, "README.md should show how to use the package from Python"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    # The snippets read data/sample, as written by `make sample` (a smaller sample over the same months).
    write_sample(tmp_path / "data" / "sample", SampleConfig(customers=800, months=24, seed=7))
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the README must not teach deprecated forms
        exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})


def test_a_bare_import_exposes_every_analysis_module_lazily():
    import subprocess
    import sys

    code = (
        "import sys, crmtools; assert 'crmtools.basket' not in sys.modules; "
        "names = [m for m in crmtools.__all__ if getattr(crmtools, m).__name__ != 'crmtools.' + m]; "
        "assert not names, names; print(len(crmtools.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 9
