"""Results computed once per run and shared by the run's notebooks.

The summary page shows what the detail pages compute (RFM segments, deciles,
basket rules, test verdicts, campaign ROI). Rather than computing each twice,
a notebook asks its :class:`~crmtools.notebook.ReportContext` for
``ctx.cached(name, function, *args, **kwargs)``: the first page to ask computes
and stores the result in the run's private workspace; the others load it.

The key is ``name`` plus a fingerprint of the function and of every argument
(frames by their content), so a page that passes different options gets its
own result, never a stale one. The runner runs the summary page last, so it
finds the detail pages' results ready.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["cached_call", "fingerprint"]

_FRAME_HASHES: dict[int, tuple[object, str]] = {}


def fingerprint(value) -> str:
    """A stable text fingerprint of an argument: frames and series by content, the rest by ``repr``.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a.assign(x=[1, 3]))
    (True, False)
    """
    if isinstance(value, (pd.DataFrame, pd.Series)):
        known = _FRAME_HASHES.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        digest = hashlib.sha256()
        if isinstance(value, pd.DataFrame):
            names, types = list(value.columns), [str(t) for t in value.dtypes]
        else:
            names, types = [value.name], [str(value.dtype)]
        digest.update(repr((type(value).__name__, value.shape, names, types)).encode())
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        _FRAME_HASHES[id(value)] = (value, digest.hexdigest())
        return digest.hexdigest()
    if type(value).__module__.split(".")[0] in ("polars", "duckdb", "pyspark", "narwhals"):
        raise TypeError(
            f"cannot fingerprint a {type(value).__name__} by content; cache the pandas frame it was made "
            "from (ReportContext.cached does this for engine_transactions)."
        )
    if isinstance(value, (list, tuple)):
        return repr(type(value).__name__) + "[" + ",".join(fingerprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{k!r}:{fingerprint(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0])))
            + "}"
        )
    return repr(value)


def cached_call(cache_dir: str | os.PathLike | None, name: str, function, *args, key_of=None, **kwargs):
    """``function(*args, **kwargs)``, stored under ``cache_dir`` and reused when the same call comes again.

    Without a ``cache_dir`` the function is simply called. ``key_of`` maps an
    argument to what stands for it in the key (e.g. an engine frame to the
    fingerprint of the pandas frame it was made from); identity by default.
    """
    if cache_dir is None:
        return function(*args, **kwargs)
    key_of = key_of or (lambda value: value)
    key = hashlib.sha256(
        "|".join(
            [
                name,
                f"{function.__module__}.{function.__qualname__}",
                *(fingerprint(key_of(a)) for a in args),
                *(f"{k}={fingerprint(key_of(v))}" for k, v in sorted(kwargs.items())),
            ]
        ).encode()
    )
    path = Path(cache_dir) / f"{name}-{key.hexdigest()[:24]}.pkl"
    if path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    result = function(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return result
