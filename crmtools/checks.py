"""Input checks for analysis arguments, with one message voice.

Every analysis checks its inputs at the boundary with these helpers, so a
wrong call fails the same way wherever it happens: ``ValueError`` for a bad
value, ``TypeError`` for a wrong type, and a message in three parts, what is
wrong, what is allowed and what was received::

    transactions is missing column 'sku' (the item); allowed: a table with columns 'order_id', 'sku';
    received: columns 'order_id', 'product_id', 'quantity'. Name your own columns with the *_col= arguments.

Checks of data on load (files, rows, values) live in
:mod:`crmtools.validation`; this module checks what an analysis is handed:
column presence (:func:`require_columns`), the kind of object
(:func:`require_frame`), and argument values (:func:`require_in`,
:func:`require_flag`, :func:`require_range`). :func:`message` builds the
sentence for checks that need their own test, such as the column types of
:func:`crmtools.engine.check_columns`.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({"order_id": ["o1"], "product_id": ["p1"]})
>>> require_columns(tx, {"order_id": "the basket", "sku": "the item"}, name="transactions")
... # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
ValueError: transactions is missing column 'sku' (the item); allowed: a table with columns 'order_id', 'sku';
received: columns 'order_id', 'product_id'.
>>> require_in("visit", ("order", "customer"), name="basket")
Traceback (most recent call last):
...
ValueError: Unknown basket; allowed: 'order', 'customer'; received: 'visit'.
>>> require_range(1.5, name="margin", low=0, high=1, closed="right")
Traceback (most recent call last):
...
ValueError: margin is out of range; allowed: a number in (0, 1]; received: 1.5.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "column_names",
    "message",
    "require_columns",
    "require_flag",
    "require_frame",
    "require_in",
    "require_range",
]

#: Received column names shown in a message before the rest are counted.
_MAX_NAMES_SHOWN = 30

_CLOSED = ("both", "left", "right", "neither")


def message(problem: str, *, allowed: str, received: str, hint: str | None = None) -> str:
    """The one message voice: what is wrong, what is allowed, what was received.

    Parameters
    ----------
    problem : str
        What is wrong, naming the argument or column (``"margin is out of range"``).
    allowed : str
        What would have been accepted (``"a number in (0, 1]"``).
    received : str
        What was received, already formatted (use ``repr`` for values).
    hint : str or None, default=None
        A sentence on how to fix it, added at the end.

    Returns
    -------
    str
        ``"<problem>; allowed: <allowed>; received: <received>."`` and the hint.

    Examples
    --------
    >>> message("alpha is out of range", allowed="a number in (0, 1)", received="1.5")
    'alpha is out of range; allowed: a number in (0, 1); received: 1.5.'
    >>> message("x has the wrong type", allowed="numbers", received="String", hint="Cast it first.")
    'x has the wrong type; allowed: numbers; received: String. Cast it first.'
    """
    text = f"{problem}; allowed: {allowed}; received: {received}."
    return f"{text} {hint}" if hint else text


def column_names(frame: Any) -> list[str]:
    """Column names of a pandas, polars, narwhals, DuckDB or Spark frame, or of anything with ``.columns``.

    Lazy frames (polars, narwhals) are asked for their schema, which does not
    run the query.

    Examples
    --------
    >>> import pandas as pd
    >>> column_names(pd.DataFrame({"a": [1], "b": [2]}))
    ['a', 'b']
    """
    schema = getattr(frame, "collect_schema", None)
    if callable(schema):
        return list(schema().names())
    return list(frame.columns)


def _listing(names: Iterable[Any], roles: Mapping[Any, str] | None = None) -> str:
    names = list(names)
    shown = names if len(names) <= _MAX_NAMES_SHOWN else names[:_MAX_NAMES_SHOWN]
    parts = [repr(c) + (f" ({roles[c]})" if roles and roles.get(c) else "") for c in shown]
    if len(names) > len(shown):
        parts.append(f"... and {len(names) - len(shown)} more")
    return ", ".join(parts)


def _columns_word(count: int) -> str:
    return "column" if count == 1 else "columns"


def require_columns(
    frame: Any, columns: Iterable[str] | Mapping[str, str], *, name: str, hint: str | None = None
) -> None:
    """Check that ``frame`` has every column in ``columns``.

    Parameters
    ----------
    frame : DataFrame-like
        A pandas, polars, narwhals, DuckDB or Spark frame, or anything with
        ``.columns`` (see :func:`column_names`).
    columns : list of str, or dict of str to str
        The columns needed; a dict maps each to its role (``"the item"``),
        which the message shows next to a missing column.
    name : str
        Name of the input, for the message (``"transactions"``).
    hint : str or None, default=None
        A sentence on how to fix it (``"Pass the output of cohort_table."``).

    Raises
    ------
    ValueError
        Naming the missing columns, the columns needed and the columns received.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"cohort": ["2025-01"], "active": [3]})
    >>> require_columns(frame, ["cohort", "active"], name="cohorts")
    >>> require_columns(frame, ["cohort", "months_since", "retention"], name="cohorts",
    ...                 hint="Pass the output of cohort_table.")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: cohorts is missing columns 'months_since', 'retention'; allowed: a table with columns 'cohort',
    'months_since', 'retention'; received: columns 'cohort', 'active'. Pass the output of cohort_table.
    """
    roles = dict(columns) if isinstance(columns, Mapping) else None
    wanted = list(dict.fromkeys(columns))
    have = column_names(frame)
    present = set(have)
    missing = [c for c in wanted if c not in present]
    if not missing:
        return
    received = f"columns {_listing(have)}" if have else "no columns"
    raise ValueError(
        message(
            f"{name} is missing {_columns_word(len(missing))} {_listing(missing, roles)}",
            allowed=f"a table with {_columns_word(len(wanted))} {_listing(wanted)}",
            received=received,
            hint=hint,
        )
    )


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__name__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def require_frame(data: Any, *, name: str, allowed: str = "a pandas DataFrame") -> None:
    """Check that ``data`` is a pandas DataFrame.

    Parameters
    ----------
    data : object
        The argument.
    name : str
        Its name, for the message.
    allowed : str, default="a pandas DataFrame"
        What would be accepted, in the caller's words
        (``"the canonical campaigns table (a pandas DataFrame)"``).

    Raises
    ------
    TypeError
        If ``data`` is not a pandas DataFrame.

    Examples
    --------
    >>> require_frame({"a": [1]}, name="campaigns", allowed="the canonical campaigns table (a pandas DataFrame)")
    ... # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    TypeError: campaigns has the wrong type; allowed: the canonical campaigns table (a pandas DataFrame);
    received: dict.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(message(f"{name} has the wrong type", allowed=allowed, received=_type_name(data)))


def require_in(value: Any, allowed: Collection[Any], *, name: str) -> Any:
    """Check that ``value`` is one of ``allowed``; return it.

    Parameters
    ----------
    value : object
        The argument.
    allowed : collection
        The accepted values, in the order the message lists them.
    name : str
        Name of the argument, for the message.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    ValueError
        If ``value`` is not one of ``allowed``.

    Examples
    --------
    >>> require_in("M", ("M", "Q", "Y"), name="basket_freq")
    'M'
    >>> require_in("W", ("M", "Q", "Y"), name="basket_freq")
    Traceback (most recent call last):
    ...
    ValueError: Unknown basket_freq; allowed: 'M', 'Q', 'Y'; received: 'W'.
    """
    options = list(allowed)
    try:
        ok = bool(value in options)
    except (TypeError, ValueError):  # array-like values compare element-wise: never a choice
        ok = False
    if not ok:
        raise ValueError(message(f"Unknown {name}", allowed=", ".join(map(repr, options)), received=repr(value)))
    return value


def require_flag(value: Any, *, name: str) -> bool:
    """Check that ``value`` is True or False (a NumPy bool too); return it as a bool.

    Raises
    ------
    TypeError
        For anything else, 0 and 1 included.

    Examples
    --------
    >>> require_flag("yes", name="include_returns")
    Traceback (most recent call last):
    ...
    TypeError: include_returns has the wrong type; allowed: True or False; received: 'yes' (str).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            message(f"{name} has the wrong type", allowed="True or False", received=f"{value!r} ({_type_name(value)})")
        )
    return bool(value)


def _describe_range(low, high, closed: str, integer: bool, allow_none: bool) -> str:
    kind = "a whole number" if integer else "a number"
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    if low is not None and high is not None:
        text = f"{kind} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
    elif low is not None:
        text = f"{kind} {'>=' if left else '>'} {low}"
    elif high is not None:
        text = f"{kind} {'<=' if right else '<'} {high}"
    else:
        text = kind
    return text + (" or None" if allow_none else "")


def require_range(
    value: Any,
    *,
    name: str,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """Check that ``value`` is a number (or a whole number) within bounds; return it.

    Booleans are not numbers here, and NaN is never within bounds.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Name of the argument, for the message.
    low, high : number or None, default=None
        Bounds; None for no bound on that side.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values themselves.
    integer : bool, default=False
        Require a whole number (``int`` or a NumPy integer).
    allow_none : bool, default=False
        Accept None as well.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    TypeError
        If ``value`` is not a number (a whole number with ``integer=True``).
    ValueError
        If it is NaN or outside the bounds.

    Examples
    --------
    >>> require_range(3, name="max_len", low=1, integer=True, allow_none=True)
    3
    >>> require_range(0, name="max_len", low=1, integer=True, allow_none=True)
    Traceback (most recent call last):
    ...
    ValueError: max_len is out of range; allowed: a whole number >= 1 or None; received: 0.
    >>> require_range(1.5, name="max_len", low=1, integer=True)
    Traceback (most recent call last):
    ...
    TypeError: max_len has the wrong type; allowed: a whole number >= 1; received: 1.5 (float).
    >>> require_range(0.05, name="alpha", low=0, high=1, closed="neither")
    0.05
    """
    if closed not in _CLOSED:
        raise ValueError(message("Unknown closed", allowed=", ".join(map(repr, _CLOSED)), received=repr(closed)))
    if value is None and allow_none:
        return value
    allowed = _describe_range(low, high, closed, integer, allow_none)
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(
            message(f"{name} has the wrong type", allowed=allowed, received=f"{value!r} ({_type_name(value)})")
        )
    if not integer and math.isnan(value):
        raise ValueError(message(f"{name} is not a number", allowed=allowed, received=repr(value)))
    below = low is not None and (value < low if closed in ("both", "left") else value <= low)
    above = high is not None and (value > high if closed in ("both", "right") else value >= high)
    if below or above:
        raise ValueError(message(f"{name} is out of range", allowed=allowed, received=repr(value)))
    return value
