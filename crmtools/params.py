"""Run parameters: read from YAML, overridden on the command line, validated.

Every parameter has a declared type and default in :data:`DEFAULTS` and a
domain: allowed values (:data:`_CHOICES`), a range with open or closed bounds
(:data:`_DOMAINS`), or a check of its text (a time zone, a currency code, an
encoding, a segment map ...). An unknown name (a typo), a value of the wrong
type or outside its domain, or a malformed period is rejected with a
:class:`~crmtools.errors.ParameterError` *before* any notebook starts, naming
the parameter, what is allowed and what was given. Whole numbers stay whole
numbers where an analysis tells them apart (``basket.min_support: 2`` is two
baskets, ``0.02`` a share of them).

Examples
--------
>>> p = resolve_params({"language": "ja", "rfm": {"lookback_days": 180}})
>>> p["language"], p["rfm"]["lookback_days"], p["rfm"]["scoring"]
('ja', 180, 'quantile')
>>> resolve_params({"langauge": "ja"})
Traceback (most recent call last):
...
crmtools.errors.ParameterError: Unknown parameter 'langauge' (did you mean 'language'?). Allowed: basket, campaigns, churn, clv, currency, data, engine, experiments, ladder, language, nps, period, privacy, repeat, reports_dir, rfm, targets.
"""

from __future__ import annotations

import codecs
import copy
import difflib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ParameterError
from .periods import parse_period

__all__ = ["DEFAULTS", "load_params", "params_fingerprint", "parse_override", "resolve_params"]

_ANY_MAPPING = object()  # marks a free-form mapping (validated by its own loader)
_TARGET_LISTS = object()  # marks targets.lists: null (the built-in lists), a YAML file, or the definitions
_TABLE_SOURCES = object()  # marks data.tables: table name -> file path or source options (_check_tables)

#: Options of one entry of ``data.tables`` and their types (the fields of :class:`crmtools.data.TableSource`).
_TABLE_OPTIONS: dict[str, tuple[type, ...]] = {
    "file": (str,),
    "table": (str,),
    "query": (str,),
    "columns": (dict,),
    "fill": (dict,),
    "encoding": (str,),
    "sheet": (str, int),
    "date_format": (str,),
    "separator": (str,),
    "derive": (dict,),
}
_SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")

#: Every parameter with its default; the type of the default is the declared type
#: (None defaults declare their type in _NULLABLE).
DEFAULTS: dict[str, Any] = {
    "period": None,
    "language": "en",
    "currency": "JPY",
    "data": {
        "source": "files",
        "path": "data/sample",
        "database": None,
        "url": None,
        "url_env": None,
        "connection_file": None,
        "timezone": "Asia/Tokyo",
        "policies": {
            "returns": "keep",
            "missing_customer": "keep",
            "duplicates": "error",
            "invalid_rows": "error",
            "max_line_amount": 100_000_000.0,
            "min_id_overlap": 0.5,
            "non_merchandise": [],
            "cancellation_orders": None,
            "other_negative": "keep",
            "zero_price": "keep",
        },
        "tables": _TABLE_SOURCES,
    },
    "rfm": {"lookback_days": 365, "scoring": "quantile", "thresholds": None, "segment_map": None},
    "repeat": {"within_days": 90},
    "basket": {
        "basket": "order",
        "item": "product",
        "min_support": 0.003,
        "min_confidence": 0.1,
        "max_len": 3,
        "top_n": 15,
        "alpha": 0.05,
        "min_baskets": 1000,
        "min_rule_baskets": 20,
        "min_rule_customers": 10,
        "max_basket_items": 100,
        "include_guests": False,
        "max_memory": 2 * 1024**3,
    },
    "experiments": {"alpha": 0.05, "correction": "holm"},
    "campaigns": {"margin": 0.4},
    "targets": {"lists": _TARGET_LISTS, "seed": 0, "exports_dir": "exports"},
    "privacy": {"min_cell": 5, "consent_default": False},
    "churn": {"horizon_days": 90},
    "clv": {"months": 12, "monthly_discount": 0.01, "time_unit": "W"},
    "ladder": {"rules": None, "lookback_days": 365, "conversion_window_days": 90},
    "nps": {"behaviour_window_days": 90, "trend_months": 12},
    "engine": {"backend": "pandas", "spark_master": None, "spark_connect_url": None},
    "reports_dir": "reports",
}

_NULLABLE: dict[str, tuple[type, ...]] = {
    "period": (str,),
    "rfm.thresholds": (dict,),
    "rfm.segment_map": (str, dict),
    "ladder.rules": (str, dict),
    "basket.max_len": (int,),
    "basket.max_basket_items": (int,),
    "data.database": (str,),
    "data.url": (str,),
    "data.url_env": (str,),
    "data.connection_file": (str,),
    "data.policies.cancellation_orders": (str,),
    "engine.spark_master": (str,),
    "engine.spark_connect_url": (str,),
}

_CHOICES: dict[str, tuple] = {
    "language": ("en", "ja"),
    "data.source": ("files", "duckdb", "sql"),
    "rfm.scoring": ("quantile", "thresholds"),
    "basket.basket": ("order", "customer"),
    "basket.item": ("product", "category"),
    "experiments.correction": ("holm", "fdr_bh", "bonferroni"),
    "data.policies.returns": ("keep", "drop", "error"),
    "data.policies.missing_customer": ("keep", "drop", "error"),
    "data.policies.duplicates": ("error", "drop", "keep"),
    "data.policies.invalid_rows": ("error", "drop"),
    "data.policies.other_negative": ("keep", "drop", "error"),
    "data.policies.zero_price": ("keep", "drop"),
    "engine.backend": ("pandas", "duckdb", "polars", "spark"),
    "clv.time_unit": ("W", "D"),
}

#: Parameters of more than one type, where the analysis tells them apart (an int is not turned into a float).
_KINDS: dict[str, tuple[type, ...]] = {
    "basket.min_support": (float, int),
}


@dataclass(frozen=True)
class _Interval:
    """Allowed numbers: ``low`` and ``high`` (None: unbounded), each bound included unless it is open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def words(self, kind: type) -> str:
        """``a whole number from 1 to 3660``, ``a number greater than 0 (0 excluded) and at most 1`` ..."""
        noun = "a whole number" if kind is int else "a number"
        if None not in (self.low, self.high) and not (self.low_open or self.high_open):
            return f"{noun} from {self.low:g} to {self.high:g}"
        parts = []
        if self.low is not None:
            parts.append(
                f"greater than {self.low:g} ({self.low:g} excluded)" if self.low_open else f"of at least {self.low:g}"
            )
        if self.high is not None:
            parts.append(
                f"less than {self.high:g} ({self.high:g} excluded)" if self.high_open else f"at most {self.high:g}"
            )
        return f"{noun} " + " and ".join(parts)


#: The domain of every numeric parameter: its type -> (allowed interval, what the number means). Checked in
#: load_params, so a value an analysis would refuse never reaches a notebook.
_DOMAINS: dict[str, dict[type, tuple[_Interval, str]]] = {
    "rfm.lookback_days": {int: (_Interval(1, 3660), "days")},
    "repeat.within_days": {int: (_Interval(1, 3660), "days")},
    "basket.min_support": {
        float: (_Interval(0, 1, low_open=True), "a share of baskets"),
        int: (_Interval(1, None), "a number of baskets"),
    },
    "basket.min_confidence": {float: (_Interval(0, 1), "a share of the baskets with the antecedents")},
    "basket.max_len": {int: (_Interval(1, 100), "items per itemset")},
    "basket.top_n": {int: (_Interval(1, 1000), "rules shown")},
    "basket.alpha": {float: (_Interval(0, 0.5, low_open=True), "a false-discovery rate for the rules")},
    "basket.min_baskets": {int: (_Interval(1, None), "baskets in the period")},
    "basket.min_rule_baskets": {int: (_Interval(1, None), "baskets holding a rule for it to be shown")},
    "basket.min_rule_customers": {int: (_Interval(0, None), "distinct customers of a rule for it to be shown")},
    "basket.max_basket_items": {int: (_Interval(2, None), "distinct products in an order mined; larger = bulk")},
    "basket.max_memory": {int: (_Interval(1, None), "bytes the basket step may hold, e.g. 2147483648 = 2 GiB")},
    "experiments.alpha": {float: (_Interval(0, 0.5, low_open=True), "a significance level")},
    "targets.seed": {int: (_Interval(0, 2**32 - 1), "a random seed for the holdouts")},
    "privacy.min_cell": {int: (_Interval(1, 1000), "customers in the smallest cell a breakdown shows")},
    "campaigns.margin": {float: (_Interval(0, 1, low_open=True), "a contribution margin: a share of revenue")},
    "churn.horizon_days": {int: (_Interval(7, 730), "days without a purchase after the cutoff that count as churn")},
    "ladder.lookback_days": {int: (_Interval(1, 3660), "days of purchases that put a customer on the ladder")},
    "ladder.conversion_window_days": {int: (_Interval(1, 3660), "days to climb from one rung to the next")},
    "nps.behaviour_window_days": {int: (_Interval(1, 730), "days of behaviour followed after a survey answer")},
    "nps.trend_months": {int: (_Interval(1, 120), "months of the NPS trend")},
    "clv.months": {int: (_Interval(1, 120), "months of predicted customer value")},
    "clv.monthly_discount": {float: (_Interval(0, 0.5), "a monthly discount rate")},
    "data.policies.max_line_amount": {float: (_Interval(0, None, low_open=True), "an amount per order line")},
    "data.policies.min_id_overlap": {float: (_Interval(0, 1), "a share of ids; 0 turns the check off")},
}


def _type_name(kinds: tuple[type, ...]) -> str:
    names = {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "text",
        dict: "a mapping",
        list: "a list",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _domain_words(path: str) -> str:
    return " or ".join(f"{interval.words(kind)} ({meaning})" for kind, (interval, meaning) in _DOMAINS[path].items())


def _check_number(path: str, value) -> None:
    """``value`` (already of an allowed type) lies in the domain of ``path``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"Parameter {path!r} must be a finite number ({_domain_words(path)}); got {value!r}.")
    interval, _ = _DOMAINS[path].get(type(value), (None, None))
    if interval is None or value not in interval:
        hint = ""
        if path == "basket.min_support" and isinstance(value, float) and value > 1 and value.is_integer():
            hint = f" (a number of baskets is written without a decimal point: {int(value)})"
        raise ParameterError(
            f"Parameter {path!r} must be {_domain_words(path)}; got {type(value).__name__} {value!r}{hint}."
        )


def _near(value: str, options) -> str:
    near = difflib.get_close_matches(value, list(options), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _check_timezone(path: str, value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = _near(value, zoneinfo.available_timezones())
        raise ParameterError(
            f"Parameter {path!r} must be an IANA time zone name such as Asia/Tokyo or UTC; got {value!r}{hint}."
        ) from None


def _check_currency(path: str, value: str) -> None:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ParameterError(
            f"Parameter {path!r} must be a three-letter ISO 4217 currency code in capitals, "
            f"such as JPY, USD or EUR; got {value!r}."
        )


def _check_text(path: str, value: str) -> None:
    if not value.strip():
        raise ParameterError(f"Parameter {path!r} must be non-empty text; got {value!r}.")


def _check_encoding(path: str, value: str) -> None:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ParameterError(
            f"Parameter {path!r} must be a text encoding such as utf-8, cp932 (Shift-JIS from "
            f"Japanese Excel), euc-jp or utf-16; got {value!r}."
        ) from None


def _check_thresholds(path: str, value) -> None:
    from .rfm import _resolve_thresholds

    try:
        _resolve_thresholds(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"Parameter {path!r} must map recency, frequency and/or monetary to four strictly "
            f"increasing cut points, e.g. {{frequency: [2, 3, 5, 10]}}; got {value!r}: {exc}"
        ) from None


def _rule_file(path: str, value, base_dir: Path | None, what: str):
    """A rule file named in params (a path relative to the project folder) or a mapping, as its loader takes it."""
    if not isinstance(value, str):
        return value
    file = Path(value).expanduser()
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if not file.is_file():
        raise ParameterError(
            f"Parameter {path!r} must be an existing {what} YAML file (relative paths "
            f"count from the project folder) or a mapping; got {value!r}, and {file} does not exist."
        )
    return file


def _check_ladder(path: str, value, base_dir: Path | None) -> None:
    from .ladder import load_ladder

    source = _rule_file(path, value, base_dir, "growth-ladder")
    try:
        load_ladder(source)
    except (OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ParameterError(
            f"Parameter {path!r} must be a valid growth ladder (ordered rungs, the first one "
            f"orders: {{min: 1}}); got {value!r}: {exc}"
        ) from None


def _check_segment_map(path: str, value, base_dir: Path | None) -> None:
    from .rfm import load_segment_map

    source = _rule_file(path, value, base_dir, "segment-map")
    try:
        load_segment_map(source)
    except (OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ParameterError(
            f"Parameter {path!r} must be a valid segment map (each of the 125 R/F/M score cells "
            f"in exactly one segment); got {value!r}: {exc}"
        ) from None


#: Checks of text parameters beyond their type (and of mappings validated by their analysis), by name.
_TEXT_CHECKS = {
    "currency": _check_currency,
    "data.timezone": _check_timezone,
    "data.path": _check_text,
    "data.database": _check_text,
    "data.url": _check_text,
    "data.connection_file": _check_text,
    "engine.spark_master": _check_text,
    "reports_dir": _check_text,
    "targets.exports_dir": _check_text,
}


def _check_no_password(path: str, value: str) -> None:
    """Refuse a database URL with a password in params (it would end up in git and in manifests)."""
    from .dataconfig import mask_url, url_has_password

    if path == "data.url" and url_has_password(value):
        raise ParameterError(
            f"Parameter 'data.url' holds a password ({mask_url(value)}): passwords must never be in params (they "
            "end up in git, reports and run manifests). Put the URL in an environment variable and name it with "
            "data.url_env (e.g. url_env: CRMTOOLS_DB_URL), or in a connection file outside the repository "
            "(data.connection_file: ~/.config/crmtools/db.yaml holding url: ...)."
        )
    if path == "data.url_env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        shown = mask_url(value) if "://" in value else repr(value)
        raise ParameterError(
            f"Parameter 'data.url_env' must be the NAME of an environment variable that holds the "
            f"database URL (letters, digits, _), e.g. CRMTOOLS_DB_URL; got {shown}."
        )


def _check_policy_patterns(path: str, value) -> None:
    """Non-merchandise codes are text (``re:`` entries and cancellation_orders valid regular expressions)."""
    from .validation import Policies

    name = path.rsplit(".", 1)[1]
    try:
        Policies(**{name: value})
    except ValueError as exc:
        raise ParameterError(f"Parameter {path!r}: {exc}") from None


def _check_tables(path: str, value: Any) -> dict:
    """Validate ``data.tables``: canonical table names -> a file path or a mapping of source options."""
    from .schema import TABLES

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParameterError(
            f"Parameter {path!r} must be a mapping of table name -> source; got {type(value).__name__} {value!r}."
        )
    out: dict = {}
    for name, entry in value.items():
        full = f"{path}.{name}"
        if name not in TABLES:
            near = difflib.get_close_matches(str(name), list(TABLES), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ParameterError(f"Unknown table {full!r}{hint}. Allowed: {', '.join(sorted(TABLES))}.")
        if isinstance(entry, str):
            out[name] = entry  # a file path
            continue
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise ParameterError(
                f"Parameter {full!r} must be a file path or a mapping of "
                f"{', '.join(sorted(_TABLE_OPTIONS))}; got {type(entry).__name__} {entry!r}."
            )
        for key, item in entry.items():
            if key not in _TABLE_OPTIONS:
                near = difflib.get_close_matches(str(key), list(_TABLE_OPTIONS), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ParameterError(
                    f"Unknown parameter '{full}.{key}'{hint}. Allowed: {', '.join(sorted(_TABLE_OPTIONS))}."
                )
            kinds = _TABLE_OPTIONS[key]
            if item is not None and (isinstance(item, bool) or not isinstance(item, kinds)):
                raise ParameterError(
                    f"Parameter '{full}.{key}' must be {_type_name(kinds)}; got {type(item).__name__} {item!r}."
                )
            if key == "columns" and item and not all(isinstance(v, str) for v in item.values()):
                raise ParameterError(
                    f"Parameter '{full}.columns' must map your column names to canonical column "
                    f"names (text), e.g. InvoiceNo: order_id; got {item!r}."
                )
            canonical = TABLES[name].names
            if key == "columns" and item:
                for user, canon in item.items():
                    if canon not in canonical:
                        raise ParameterError(
                            f"Parameter '{full}.columns' must map each of your column names to a canonical column "
                            f"of {name} ({', '.join(canonical)}); got {user!r}: {canon!r}{_near(canon, canonical)}."
                        )
            if key == "fill" and item:
                for canon in item:
                    if canon not in canonical:
                        raise ParameterError(
                            f"Parameter '{full}.fill' must name canonical columns of {name} ({', '.join(canonical)}); "
                            f"got {canon!r}{_near(str(canon), canonical)}."
                        )
            if key == "encoding" and item is not None:
                _check_encoding(f"{full}.encoding", item)
            if key == "sheet" and isinstance(item, int) and item < 0:
                raise ParameterError(
                    f"Parameter '{full}.sheet' must be a sheet name or a sheet number of at least 0 "
                    f"(0 = the first sheet); got {item!r}."
                )
            if key == "date_format" and item is not None and "%" not in item:
                raise ParameterError(
                    f"Parameter '{full}.date_format' must be a strftime format such as "
                    f"%Y-%m-%d %H:%M:%S or %d/%m/%Y; got {item!r}."
                )
            if key in ("separator", "derive") and item is not None:
                from .dataconfig import TableSource

                try:
                    TableSource(**{key: item})
                except ValueError as exc:
                    raise ParameterError(f"Parameter '{full}.{key}': {exc}") from None
            if key in ("file", "table", "query") and isinstance(item, str) and not item.strip():
                raise ParameterError(f"Parameter '{full}.{key}' must be non-empty text or left out; got {item!r}.")
        given = [k for k in ("file", "table", "query") if entry.get(k)]
        if len(given) > 1:
            raise ParameterError(f"Parameter {full!r} must give one of file, table or query; got {given}.")
        out[name] = {k: v for k, v in entry.items() if v is not None}
    return out


def _check(path: str, value: Any, default: Any, base_dir: Path | None = None) -> Any:
    if default is _TARGET_LISTS:
        return _check_target_lists(path, value, base_dir)
    if default is _TABLE_SOURCES:
        return _check_tables(path, value)
    if default is _ANY_MAPPING:
        if value is not None and not isinstance(value, dict):
            raise ParameterError(f"Parameter {path!r} must be a mapping; got {type(value).__name__} {value!r}.")
        return value or {}
    if isinstance(default, dict):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ParameterError(f"Parameter {path!r} must be a mapping of {sorted(default)}; got {value!r}.")
        out = {}
        for key in value:
            if key not in default:
                near = difflib.get_close_matches(str(key), list(default), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                full = f"{path}.{key}" if path else str(key)
                raise ParameterError(f"Unknown parameter {full!r}{hint}. Allowed: {', '.join(sorted(default))}.")
        for key, sub_default in default.items():
            full = f"{path}.{key}" if path else key
            structured = sub_default in (_ANY_MAPPING, _TABLE_SOURCES, _TARGET_LISTS) or isinstance(sub_default, dict)
            given = value.get(key, None if structured else sub_default)
            out[key] = _check(full, given, sub_default, base_dir)
        return out
    if value is None:
        if path in _NULLABLE or default is None:
            return None
        raise ParameterError(f"Parameter {path!r} must not be empty; expected {_type_name((type(default),))}.")
    kinds = _KINDS.get(path) or _NULLABLE.get(path, (type(default),))
    if float in kinds and int not in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # a whole number where any number is allowed; kept whole where ints mean counts
    if float in kinds and isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        value = float(value)  # PyYAML (YAML 1.1) reads 1e-3 as text
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ParameterError(f"Parameter {path!r} must be {_type_name(kinds)}; got {type(value).__name__} {value!r}.")
    if path in _CHOICES and value not in _CHOICES[path]:
        raise ParameterError(f"Parameter {path!r} must be one of {list(_CHOICES[path])}; got {value!r}.")
    if path in _DOMAINS:
        _check_number(path, value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"Parameter {path!r} must be a finite number; got {value!r}.")
    if path in _TEXT_CHECKS and isinstance(value, str):
        _TEXT_CHECKS[path](path, value)
    if path == "rfm.thresholds":
        _check_thresholds(path, value)
    if path == "rfm.segment_map":
        _check_segment_map(path, value, base_dir)
    if path == "ladder.rules":
        _check_ladder(path, value, base_dir)
    if path in ("data.url", "data.url_env"):
        _check_no_password(path, value)
    if path in ("data.policies.non_merchandise", "data.policies.cancellation_orders"):
        _check_policy_patterns(path, value)
    if path == "engine.spark_connect_url" and (not value.startswith("sc://") or "token=" in value.lower()):
        raise ParameterError(
            f"Parameter 'engine.spark_connect_url' must be a Spark Connect URL without a token, "
            f"e.g. sc://spark.example.com:15002 (with a token, leave it null and put the whole URL in "
            f"the SPARK_REMOTE environment variable, never in params); got {value.split(';')[0]!r}."
        )
    if path == "period":
        try:
            value = parse_period(value).label
        except ValueError as exc:
            raise ParameterError(f"Parameter 'period': {exc}") from None
    return value


def resolve_params(values: dict | None = None, *, base_dir: str | Path | None = None) -> dict:
    """Merge ``values`` over the defaults and validate every entry.

    Parameters
    ----------
    values : dict, optional
        Nested parameters, e.g. from a YAML file.
    base_dir : path, optional
        The project folder, against which relative files named in params (``rfm.segment_map``) are checked;
        the current folder when None (the notebooks run there).

    Returns
    -------
    dict
        The complete, validated parameters.

    Raises
    ------
    ParameterError
        On an unknown name, a wrong type, a value outside its domain or a malformed period.
    """
    base = Path(base_dir) if base_dir is not None else None
    out = _check("", values or {}, DEFAULTS, base)
    _check_targets(out, base)
    return out


def _check_target_lists(path: str, value: Any, base_dir: Path | None) -> Any:
    """``targets.lists``: null (the built-in lists), a YAML file of definitions, or the definitions (a list)."""
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str) and value.strip():
        _rule_file(path, value, base_dir, "target-lists")
        return value
    raise ParameterError(
        f"Parameter {path!r} must be null (the built-in lists), a YAML file or a list of list definitions; "
        f"got {type(value).__name__} {value!r}."
    )


def _check_targets(params: dict, base_dir: Path | None) -> None:
    """Each target list's rule names known fields and segments; exports never go inside the reports folder."""
    from .rfm import load_segment_map
    from .targets import load_target_lists

    lists = _rule_file("targets.lists", params["targets"]["lists"], base_dir, "target-lists")
    segment_map = _rule_file("rfm.segment_map", params["rfm"]["segment_map"], base_dir, "segment-map")
    try:
        segment_map = load_segment_map(segment_map)  # checked as rfm.segment_map: its errors are not the lists'
    except (OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ParameterError(f"Parameter 'rfm.segment_map': {exc}") from None
    try:
        load_target_lists(lists, segment_map=segment_map)
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise ParameterError(f"Parameter 'targets.lists': {exc}") from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    exports = (base / Path(params["targets"]["exports_dir"]).expanduser()).resolve()
    reports = (base / Path(params["reports_dir"]).expanduser()).resolve()
    if exports == reports or reports in exports.parents:
        raise ParameterError(
            f"Parameter 'targets.exports_dir' must be a folder outside the reports folder ({params['reports_dir']!r}): "
            f"exports hold customer ids, reports never do; got {params['targets']['exports_dir']!r}."
        )


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.name=value`` (value in YAML syntax) from the command line.

    Examples
    --------
    >>> parse_override("rfm.lookback_days=180")
    (['rfm', 'lookback_days'], 180)
    """
    if "=" not in text:
        raise ParameterError(f"An override must look like name=value (e.g. language=ja); got {text!r}.")
    name, raw = text.split("=", 1)
    keys = [k.strip() for k in name.strip().split(".") if k.strip()]
    if not keys:
        raise ParameterError(f"An override needs a parameter name before '='; got {text!r}.")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ParameterError(f"Cannot read the value of {name!r}: {exc}") from None
    return keys, value


def load_params(
    path: str | Path | None = None, overrides: list[str] | dict | None = None, *, base_dir: str | Path | None = None
) -> dict:
    """Read a YAML params file, apply overrides, validate.

    Parameters
    ----------
    path : str or Path, optional
        YAML file; the defaults alone when None. Relative data paths in it (``data.path``,
        ``data.database``, ``data.connection_file``, ``data.tables.<table>.file``) are relative to the
        file's own folder, so ``params/examples/shop.yaml`` naming ``data/x.parquet`` reads
        ``params/examples/data/x.parquet`` from any current folder; in the project's own ``params/`` folder
        (``params/default.yaml``) they are relative to the project folder. They come back relative to
        ``base_dir`` (absolute when outside it); absolute paths, and paths in ``overrides``, are left as they are.
    overrides : list of str or dict, optional
        ``["name=value", ...]`` from the command line, or a nested mapping.
    base_dir : path, optional
        The project folder, for relative files named in params (see :func:`resolve_params`); the current
        folder when None.

    Returns
    -------
    dict
        Validated parameters.
    """
    values: dict = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ParameterError(f"Params file not found: {p}.")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ParameterError(f"{p} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ParameterError(f"{p} must hold a mapping of parameters; got {type(loaded).__name__}.")
        values = _data_paths_from(loaded or {}, p, base_dir)
    if isinstance(overrides, dict):
        values = _merge(values, overrides)
    else:
        for text in overrides or []:
            keys, value = parse_override(text)
            nested: Any = value
            for key in reversed(keys):
                nested = {key: nested}
            values = _merge(values, nested)
    return resolve_params(values, base_dir=base_dir)


def _data_paths_from(values: dict, file: Path, base_dir: str | Path | None) -> dict:
    """The params of ``file`` with its relative data paths rewritten relative to ``base_dir`` (see load_params)."""
    data = values.get("data") if isinstance(values, dict) else None
    if not isinstance(data, dict):
        return values
    project = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
    folder = file.resolve().parent
    anchor = project if folder == project / "params" else folder

    def moved(text):
        if not isinstance(text, str) or not text.strip():
            return text
        path = Path(text).expanduser()
        if path.is_absolute():
            return text
        target = Path(os.path.normpath(anchor / path))
        return os.path.relpath(target, project) if project == target or project in target.parents else str(target)

    data = dict(data)
    for key in ("path", "database", "connection_file"):
        if key in data:
            data[key] = moved(data[key])
    if isinstance(data.get("tables"), dict):
        tables = {}
        for name, entry in data["tables"].items():
            if isinstance(entry, str):
                entry = moved(entry)
            elif isinstance(entry, dict) and "file" in entry:
                entry = {**entry, "file": moved(entry["file"])}
            tables[name] = entry
        data["tables"] = tables
    return {**values, "data": data}


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def params_fingerprint(params: dict) -> str:
    """A stable text form of the parameters (sorted JSON), for manifests and run keys."""
    return json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
