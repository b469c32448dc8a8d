"""nbformat, imported without the jsonschema format checker that builds 35 parsers at import.

Reading and validating notebooks (nbformat, and through it Papermill and nbconvert) imports ``jsonschema``,
whose format module imports ``rfc3987_syntax`` when it is installed (``jsonschema[format-nongpl]``, a
dependency of the Jupyter packages). That import builds about 35 Earley parsers for the ``iri`` formats:
2.3 s of CPU on this machine class, before a run could start, for formats no notebook schema uses
(python-jsonschema/jsonschema#1428). The run's process imports ``jsonschema`` with that one module
unavailable, so jsonschema leaves the ``iri`` formats unchecked (as it does when the module is not
installed); every other format and the notebook schema are checked as before. A process that imported
``jsonschema`` already keeps it as it is; the module stays importable for anyone who asks for it later.

Import nbformat from here (``from crmtools.reporting.notebook_format import nbformat``) in the runner's
modules, before anything else imports it.
"""

from __future__ import annotations

import sys

__all__ = ["nbformat"]

_SLOW_OPTIONAL = "rfc3987_syntax"


def _import_nbformat():
    """nbformat, with jsonschema imported first without :data:`_SLOW_OPTIONAL` when it is not imported yet."""
    if "jsonschema" not in sys.modules and _SLOW_OPTIONAL not in sys.modules:
        sys.modules[_SLOW_OPTIONAL] = None  # makes `import rfc3987_syntax` raise ImportError, which jsonschema expects
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules[_SLOW_OPTIONAL]
    import nbformat

    return nbformat


nbformat = _import_nbformat()
