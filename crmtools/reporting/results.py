"""Results computed once per run and shared by the run's notebooks.

The summary page shows what the detail pages compute (RFM segments, deciles,
basket rules, test verdicts, campaign ROI). Rather than computing each twice,
a notebook asks its :class:`~crmtools.notebook.ReportContext` for
``ctx.cached(name, function, *args, **kwargs)``: the first page to ask computes
and stores the result in the run's private workspace; the others load it.

The key is ``name`` plus a fingerprint of the function and of every argument
(frames by their content), so a page that passes different options gets its
own result, never a stale one. Pages run in parallel: a page that asks for a
result another page is computing waits for it (a lock per result, held while
it is computed) instead of computing it a second time, so the summary page,
queued last, can start as soon as a worker is free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import os
import pickle
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine import frame_layout, run_start, share

__all__ = ["cached_call", "fingerprint", "remember"]

# id -> (a weak reference to the frame, where its values lived, its fingerprint, a copy sharing them): a frame's
# entry ends with the frame, so a kernel that runs page after page does not keep every page's data alive; it is
# used only while the frame's values are still where they were (the sharing copy makes a write move them: see
# crmtools.engine.frame_layout and crmtools.engine.share).
_FRAME_HASHES: dict[int, tuple[weakref.ref, tuple | None, str, object]] = {}


def fingerprint(value) -> str:
    """A stable text fingerprint of an argument: frames and series by content, the rest by ``repr``.

    Containers (lists, tuples, dicts) and dataclass instances (an analysis's result, such as
    :class:`crmtools.churn.CustomerValues`) are taken apart, so the frames they hold count by content too: their
    ``repr`` shows a frame's first and last rows only.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a.assign(x=[1, 3]))
    (True, False)
    """
    if isinstance(value, (pd.DataFrame, pd.Series)):
        known = _FRAME_HASHES.get(id(value))
        if known is not None and known[0]() is value and known[1] == frame_layout(value):
            return known[2]
        run = _run_fingerprint(value) if isinstance(value, pd.DataFrame) else None
        if run is not None:
            return run
        digest = hashlib.sha256()
        if isinstance(value, pd.DataFrame):
            names, types = list(value.columns), [str(t) for t in value.dtypes]
        else:
            names, types = [value.name], [str(value.dtype)]
        digest.update(repr((type(value).__name__, value.shape, names, types)).encode())
        columns = [value.iloc[:, i] for i in range(value.shape[1])] if isinstance(value, pd.DataFrame) else [value]
        for part in (value.index, *columns):
            _digest_values(digest, part)
        remember(value, digest.hexdigest())
        return digest.hexdigest()
    if type(value).__module__.split(".")[0] in ("polars", "duckdb", "pyspark", "narwhals"):
        raise TypeError(
            f"cannot fingerprint a {type(value).__name__} by content; cache the pandas frame it was made "
            "from (ReportContext.cached does this for engine_transactions)."
        )
    if isinstance(value, np.ndarray) and value.dtype != object:
        digest = hashlib.sha256(np.ascontiguousarray(value).view(np.uint8)).hexdigest()
        return f"ndarray({value.dtype},{value.shape},{digest})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a result holding frames: field by field
        fields = ",".join(f"{f.name}={fingerprint(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__module__}.{type(value).__qualname__}({fields})"
    if isinstance(value, (list, tuple)):
        return repr(type(value).__name__) + "[" + ",".join(fingerprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{k!r}:{fingerprint(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0])))
            + "}"
        )
    return repr(value)


def _run_fingerprint(frame: pd.DataFrame) -> str | None:
    """The fingerprint of a run of a remembered frame's rows (:func:`remember`), without hashing its values.

    A report page's time windows (the lines before a period's end, the period's lines) are slices of the run's
    order lines (:func:`crmtools.slicing.rows_between`): every column reads the remembered frame's memory from
    the same row on. Their content is then that frame's rows ``[start, start + len)``, which the remembered
    fingerprint, the start, the length, the columns and the index say (3.3 million lines: hashing their 420 MB
    took 0.5 s a call). None when ``frame`` is not such a run (it is then hashed).
    """
    if not len(frame) or not frame.columns.is_unique:
        return None
    for ref, layout, digest, _ in list(_FRAME_HASHES.values()):
        parent = ref()
        if not isinstance(parent, pd.DataFrame) or parent is frame or not set(frame.columns) <= set(parent.columns):
            continue
        if frame_layout(parent) != layout:
            continue
        starts = {_column_run_start(frame[c], parent[c]) for c in frame.columns}
        if len(starts) == 1 and None not in starts:
            index = hashlib.sha256()
            _digest_values(index, frame.index)
            return hashlib.sha256(
                repr(("run", digest, starts.pop(), len(frame), list(frame.columns), index.hexdigest())).encode()
            ).hexdigest()
    return None


def _column_run_start(child: pd.Series, parent: pd.Series) -> int | None:
    """Where ``child``'s values begin among ``parent``'s when they are a run of them in its memory, else None."""
    if child.dtype != parent.dtype:
        return None
    chunked, whole = getattr(child.array, "_pa_array", None), getattr(parent.array, "_pa_array", None)
    if chunked is not None and whole is not None:
        return run_start(whole, chunked)
    parts, wholes = _numpy_parts(child), _numpy_parts(parent)
    if not parts or len(parts) != len(wholes):
        return None
    starts = {_array_run_start(part, whole) for part, whole in zip(parts, wholes)}
    return starts.pop() if len(starts) == 1 else None


def _array_run_start(part: np.ndarray, whole: np.ndarray) -> int | None:
    """Where 1-D ``part`` starts in 1-D ``whole`` when it views a run of ``whole``'s memory, else None."""
    size = part.itemsize
    if part.ndim != 1 or whole.ndim != 1 or part.dtype != whole.dtype or part.strides != (size,):
        return None
    if whole.strides != (size,):
        return None
    offset = part.__array_interface__["data"][0] - whole.__array_interface__["data"][0]
    if offset < 0 or offset % size or offset // size + len(part) > len(whole):
        return None
    return offset // size


def _numpy_parts(values: pd.Series) -> list[np.ndarray]:
    """The NumPy arrays holding a column's values: numbers and times, or a nullable column's values and mask;
    empty for anything else (objects, categories)."""
    array = values.array
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
        return [data, mask]
    raw = getattr(array, "_ndarray", None)
    if raw is None and isinstance(array, pd.arrays.NumpyExtensionArray):
        raw = array.to_numpy()
    return [raw] if isinstance(raw, np.ndarray) and raw.dtype != object else []


def remember(frame: pd.DataFrame | pd.Series, digest: str) -> None:
    """Take ``digest`` as ``frame``'s fingerprint for as long as its values stay where they are now.

    For a frame whose content is known without hashing it: the report notebooks' copies of the run's data
    snapshot (:func:`crmtools.notebook.setup`) stand for the snapshot file they were read from. Under pandas'
    copy-on-write, a frame sharing its values (here with a shallow copy kept beside the fingerprint) cannot be
    written in place: any change gives it new values (or columns), and the next :func:`fingerprint` hashes its
    content again.
    """
    ref = weakref.ref(frame, functools.partial(_forget, id(frame)))
    _FRAME_HASHES[id(frame)] = (ref, frame_layout(frame), digest, share(frame))


def _forget(key: int, ref: weakref.ref) -> None:
    """Drop a collected frame's fingerprint (unless a newer frame with the same id has taken its place)."""
    known = _FRAME_HASHES.get(key)
    if known is not None and known[0] is ref:
        del _FRAME_HASHES[key]


def _digest_values(digest, values) -> None:
    """Feed a column's (or an index's) content into ``digest``: its memory buffers as they are.

    Arrow arrays give their buffers with each chunk's offset and length, NumPy
    arrays their bytes, a RangeIndex its bounds; anything else is hashed
    value by value (pandas' ``hash_pandas_object``). Equal buffers mean equal
    content, so a key never returns another argument's result; equal content
    in different buffers (a different chunking, say) only costs a recomputation.
    Hashing the buffers is many times faster than hashing values one by one.
    """
    if isinstance(values, pd.RangeIndex):
        digest.update(repr(("range", values.start, values.stop, values.step)).encode())
        return
    if isinstance(values, pd.MultiIndex):  # no single array: its rows, value by value
        digest.update(repr(("multi", list(values.names), values.nlevels)).encode())
        digest.update(pd.util.hash_pandas_object(values).to_numpy().tobytes())
        return
    if isinstance(values.dtype, pd.CategoricalDtype):  # the codes mean nothing without their categories
        digest.update(repr(("category", values.dtype.ordered, len(values.dtype.categories))).encode())
        _digest_values(digest, values.dtype.categories)
        _digest_values(digest, pd.Index(values.array.codes))
        return
    array = values.array
    chunked = getattr(array, "_pa_array", None)
    if chunked is not None:
        for chunk in chunked.chunks:
            digest.update(repr(("chunk", str(chunk.type), chunk.offset, len(chunk))).encode())
            for buffer in chunk.buffers():
                digest.update(b"-" if buffer is None else memoryview(buffer))
        return
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):  # nullable integers, floats, booleans
        digest.update(repr(("masked", str(data.dtype), data.shape)).encode())
        digest.update(np.ascontiguousarray(data).view(np.uint8))
        digest.update(np.ascontiguousarray(mask).view(np.uint8))
        return
    raw = getattr(array, "_ndarray", None)
    if raw is None and isinstance(array, np.ndarray):
        raw = array
    if raw is not None and raw.dtype != object:
        digest.update(repr(("numpy", str(raw.dtype), raw.shape)).encode())
        digest.update(np.ascontiguousarray(raw).view(np.uint8))
        return
    series = values.to_series(index=pd.RangeIndex(len(values))) if isinstance(values, pd.Index) else values
    digest.update(pd.util.hash_pandas_object(series, index=False).to_numpy().tobytes())


def cached_call(cache_dir: str | os.PathLike | None, name: str, function, *args, key_of=None, **kwargs):
    """``function(*args, **kwargs)``, stored under ``cache_dir`` and reused when the same call comes again.

    Without a ``cache_dir`` the function is simply called. ``key_of`` maps an
    argument to what stands for it in the key (e.g. an engine frame to the
    fingerprint of the pandas frame it was made from); identity by default.
    """
    if cache_dir is None:
        return function(*args, **kwargs)
    key_of = key_of or (lambda value: value)
    positional, named = _call_arguments(function, args, kwargs)
    key = hashlib.sha256(
        "|".join(
            [
                name,
                f"{function.__module__}.{function.__qualname__}",
                *(fingerprint(key_of(a)) for a in positional),
                *(f"{k}={fingerprint(key_of(v))}" for k, v in sorted(named.items())),
            ]
        ).encode()
    )
    path = Path(cache_dir) / f"{name}-{key.hexdigest()[:24]}.pkl"
    if path.exists():
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _computing(path):  # another page computing the same result: wait for it, then load it
        if path.exists():
            return _load(path)
        result = function(*args, **kwargs)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return result


def _call_arguments(function, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The call's arguments as the function receives them: every named parameter by name, defaults filled in.

    So two spellings of one call (an argument by position or by name, a default passed or left out) share one
    key. A call the signature does not bind is keyed as written (it fails when the function is called).
    """
    import inspect

    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return args, kwargs
    bound.apply_defaults()
    positional, named = (), {}
    for parameter_name, value in bound.arguments.items():
        kind = bound.signature.parameters[parameter_name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            positional = tuple(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[parameter_name] = value
    return positional, named


def _load(path: Path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


@contextlib.contextmanager
def _computing(path: Path):
    """Hold the lock of the result at ``path`` while it is computed (an ``fcntl`` lock: the OS releases it
    however its kernel ends). A page holds at most one such lock at a time, so pages cannot wait on each other
    in a circle."""
    with open(path.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
