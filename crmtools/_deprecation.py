"""Old argument names kept working for one release, with a warning (as pymc-marketing does).

:func:`deprecated_arguments` wraps a public function whose signature now
follows the time rule (see :mod:`crmtools.periods`): calls with the old names
are translated to the new ones, warn with a :class:`FutureWarning` (the
category meant for the analysts who call the function, shown by default) and
give identical results. ``inspect.signature`` of the wrapped function shows
only the new signature.

Private: the translations are removed in :data:`REMOVED_IN`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

#: The release that drops the old names.
REMOVED_IN = "0.3"


def warn_deprecated(message: str, *, stacklevel: int = 3) -> None:
    """Warn about a deprecated use, pointing at the caller's line."""
    warnings.warn(
        f"{message} The old form stops working in crmtools {REMOVED_IN}.", FutureWarning, stacklevel=stacklevel
    )


def legacy_start(value: Any, name: str = "start") -> pd.Timestamp:
    """How the old ``start=`` arguments read a value: a Period means its first instant."""
    from .engine import as_timestamp

    if hasattr(value, "start") and hasattr(value, "end"):
        return pd.Timestamp(value.start)
    return as_timestamp(value, name)


def legacy_end(value: Any, name: str = "end") -> pd.Timestamp:
    """How the old ``end=`` arguments read a value: a Period means its exclusive end, text as pandas reads it."""
    from .engine import as_timestamp

    return as_timestamp(value, name)


def deprecated_arguments(
    *,
    renamed: Mapping[str, str] | None = None,
    window: tuple[str, str] | None = None,
    converted: Mapping[str, tuple[str, Callable[[Any, dict], Any], str]] | None = None,
    positional: tuple[str, ...] = (),
) -> Callable:
    """Decorator translating old argument forms to the new signature.

    Parameters
    ----------
    renamed : mapping of old name to new name, optional
        Pure renames (``{"period": "basket_freq"}``).
    window : (start name, end name), optional
        The old pair of bounds, either of which may be given; becomes
        ``period=`` holding a private window with the bounds read the old way.
    converted : mapping of old name to (new name, function, replacement text), optional
        ``function(old value, other keyword arguments)`` gives the new value;
        the text says what to write instead, for the warning.
    positional : tuple of str, default=()
        Keyword-only parameters that used to be positional, in their old
        order after the function's positional parameters.
    """
    renamed = dict(renamed or {})
    converted = dict(converted or {})

    def decorate(func: Callable) -> Callable:
        signature = inspect.signature(func)
        n_positional = sum(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in signature.parameters.values()
        )
        fname = func.__name__

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if len(args) > n_positional and positional:
                extra = args[n_positional:]
                if len(extra) > len(positional):
                    raise TypeError(
                        f"{fname}() takes {n_positional} positional argument"
                        f"{'s' if n_positional != 1 else ''}; received {len(args)}."
                    )
                for name, value in zip(positional, extra):
                    if name in kwargs:
                        raise TypeError(f"{fname}() got multiple values for argument {name!r}.")
                    warn_deprecated(
                        f"{fname}(): passing {name} by position is deprecated; write {name}=... "
                        f"(keyword-only, like every time argument)."
                    )
                    kwargs[name] = value
                args = args[:n_positional]
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fname}() got both {old}= (deprecated) and {new}=; pass only {new}=.")
                    warn_deprecated(f"{fname}(): {old}= is deprecated; it is now called {new}=.")
                    kwargs[new] = kwargs.pop(old)
            if window is not None and (window[0] in kwargs or window[1] in kwargs):
                from .periods import _Window

                if "period" in kwargs:
                    raise TypeError(
                        f"{fname}() got both {window[0]}=/{window[1]}= (deprecated) and period=; pass only period=."
                    )
                start, end = kwargs.pop(window[0], None), kwargs.pop(window[1], None)
                warn_deprecated(
                    f"{fname}(): {window[0]}= and {window[1]}= are deprecated; pass period= (a Period "
                    f"or its text such as '2025-10' or '2025-Q3', meaning the whole period)."
                )
                kwargs["period"] = _Window(
                    None if start is None else legacy_start(start, window[0]),
                    None if end is None else legacy_end(end, window[1]),
                )
            for old, (new, convert, instead) in converted.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fname}() got both {old}= (deprecated) and {new}=; pass only {new}=.")
                    warn_deprecated(f"{fname}(): {old}= is deprecated; {instead}.")
                    value = kwargs.pop(old)
                    kwargs[new] = convert(value, kwargs)
            return func(*args, **kwargs)

        wrapper.__deprecated_arguments__ = {  # read by the API test
            "renamed": renamed,
            "window": window,
            "converted": {k: v[0] for k, v in converted.items()},
            "positional": positional,
        }
        return wrapper

    return decorate
