"""Strict JSON for every file a run writes: no ``NaN`` or ``Infinity`` (they are not JSON).

Python's :mod:`json` writes ``NaN`` and ``Infinity`` by default, which strict
parsers (browsers' ``JSON.parse``, ``jq``, most databases) reject. Every JSON
file crmtools writes goes through :func:`dumps`, which turns a non-finite
number into ``null`` (unknown) and refuses anything else it cannot encode.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["dumps", "write"]


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return _finite(value.item())
        except (TypeError, ValueError):
            return value
    return value


def dumps(value, **kwargs) -> str:
    """``json.dumps`` that writes non-finite numbers as ``null`` and never emits ``NaN``/``Infinity``.

    Examples
    --------
    >>> dumps({"a": float("inf"), "b": [1.5, float("nan")]}, sort_keys=True)
    '{"a": null, "b": [1.5, null]}'
    """
    return json.dumps(_finite(value), allow_nan=False, **kwargs)


def write(path: str | Path, value, **kwargs) -> Path:
    """Write ``value`` as strict, indented JSON with a final newline (UTF-8)."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("ensure_ascii", False)
    Path(path).write_text(dumps(value, **kwargs) + "\n", encoding="utf-8")
    return Path(path)
