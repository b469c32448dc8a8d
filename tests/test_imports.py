"""What a run's process imports: nothing slow that it never uses (crmtools.reporting.notebook_format)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

HAS_SLOW_CHECKER = importlib.util.find_spec("rfc3987_syntax") is not None


def _python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object, returned here."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_runner_imports_no_iri_grammar_and_still_validates_notebooks():
    found = _python(
        """
import json, sys
import crmtools.runner
from crmtools.reporting.notebook_format import nbformat
import jsonschema
nb = nbformat.v4.new_notebook()
nbformat.validate(nb)
bad = nbformat.v4.new_notebook()
bad.cells.append({"cell_type": "code", "source": "1"})  # no outputs, metadata, execution_count
try:
    nbformat.validate(bad)
    refused = False
except nbformat.ValidationError:
    refused = True
checker = jsonschema.FormatChecker()
print(json.dumps({
    "grammar_imported": "rfc3987_syntax" in sys.modules or "lark" in sys.modules,
    "refused": refused,
    "date_checked": not checker.conforms("2025-13-45", "date") and checker.conforms("2025-12-01", "date"),
    "iri_checked": "iri" in jsonschema.FormatChecker.checkers,
}))
"""
    )
    assert found["grammar_imported"] is False
    assert found["refused"] is True  # the notebook schema is checked as before
    assert found["date_checked"] is True  # and the other formats
    assert found["iri_checked"] is False  # the one format left unchecked, as without the optional module


@pytest.mark.skipif(not HAS_SLOW_CHECKER, reason="rfc3987_syntax is not installed")
def test_the_optional_module_stays_importable_and_an_earlier_jsonschema_is_left_as_it_is():
    later = _python(
        "import json, crmtools.runner, rfc3987_syntax, sys; "
        "print(json.dumps({'imported': 'rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None}))"
    )
    assert later["imported"] is True
    earlier = _python(
        "import json, jsonschema, crmtools.runner; print(json.dumps({'iri': 'iri' in jsonschema.FormatChecker.checkers}))"
    )
    assert earlier["iri"] is True
