"""The language boundary: one catalogue of words, complete in every language, and no words in the analyses.

(That analyses do not import the reporting layer is checked with the rest of the import graph in test_layers.)
"""

from __future__ import annotations

import ast
import importlib
import re
import string
from pathlib import Path

import pytest

import crmtools
from crmtools import experiments
from crmtools.reporting import i18n
from crmtools.reporting.i18n import LANGUAGES, TEXT
from crmtools.rfm import INACTIVE, load_segment_map

PACKAGE = Path(crmtools.__file__).parent

#: Japanese script and full-width punctuation (「」、。（）：...).
JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

#: Japanese terms an English message for the analyst may quote, as the docs do ("full-width characters (全角)").
#: They name what the data holds; they are not report words.
QUOTED_TERMS = ("全角",)

PLOT_MODULES = [
    "basket",
    "campaigns",
    "clv",
    "cohorts",
    "deciles",
    "experiments",
    "kpis",
    "ladder",
    "nps",
    "quality",
    "rfm",
]


# --------------------------------------------------------------------------- the catalogue


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_key_has_every_language(key):
    entry = TEXT[key]
    assert set(entry) == set(LANGUAGES), f"{key!r} has languages {sorted(entry)}; every key needs {LANGUAGES}"
    for language in LANGUAGES:
        assert isinstance(entry[language], str) and entry[language].strip(), f"{key!r} has no {language} text"


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


@pytest.mark.parametrize("key", sorted(TEXT))
def test_a_template_has_the_same_placeholders_in_every_language(key):
    fields = {language: _placeholders(TEXT[key][language]) for language in LANGUAGES if language in TEXT[key]}
    assert len({frozenset(f) for f in fields.values()}) == 1, f"{key!r}: placeholders differ: {fields}"


def test_the_walk_reads_the_whole_catalogue():
    assert len(TEXT) > 150 and {"revenue", "verdict.raised", "chart.lift", "finding.revenue"} <= set(TEXT)


def test_the_segments_of_the_built_in_map_are_labelled_in_the_catalogue():
    smap = load_segment_map()
    missing = [name for name in [*smap.names, INACTIVE] if f"segment.{name}" not in TEXT]
    assert not missing, f"segments without a catalogue label: {missing}"
    assert all(not segment.labels for segment in smap.segments), "built-in labels belong in the catalogue"
    for language in LANGUAGES:
        labels = i18n.segment_labels(language=language)
        assert list(labels) == [*smap.names, INACTIVE]
        assert labels == {name: TEXT[f"segment.{name}"][language] for name in labels}


def test_a_custom_map_may_label_its_own_segments():
    spec = {
        "segments": [
            {"name": "Recent", "label": {"ja": "最近"}, "rules": [{"r": [3, 5]}]},
            {"name": "Lost", "rules": [{"r": [1, 1]}]},
            {"name": "Older", "label": "Older ones", "rules": [{"r": [2, 2]}]},
        ]
    }
    # the map's label, else the catalogue's label for the name, else the name
    assert i18n.segment_labels(spec, "en") == {
        "Recent": "Recent",
        "Lost": "Lost",
        "Older": "Older ones",
        INACTIVE: "Inactive",
    }
    assert i18n.segment_labels(spec, "ja") == {
        "Recent": "最近",
        "Lost": "離反顧客",
        "Older": "Older ones",
        INACTIVE: "非アクティブ",
    }


def test_the_codes_of_the_analyses_have_words():
    for metric in experiments._METRICS:
        assert f"metric.{metric}" in TEXT and f"chart.{metric}" in TEXT
    for method in {m for m in experiments._CORRECTIONS.values() if m is not None}:
        assert f"correction.{method}" in TEXT


@pytest.mark.parametrize("name", PLOT_MODULES)
def test_plots_take_their_words_from_the_catalogue(name):
    module = importlib.import_module(f"crmtools.plotting.{name}")
    missing = sorted(key for key in module._KEYS.values() if key not in TEXT)
    assert not missing, f"crmtools.plotting.{name} names keys missing from the catalogue: {missing}"


# --------------------------------------------------------------------------- the functions


def test_text_fills_placeholders_and_names_unknown_keys():
    assert i18n.text("revenue", "ja") == "売上"
    assert i18n.text("chart.lift_by_variant", "en", level=0.9) == "Lift by variant (90% intervals)"
    assert i18n.text("chart.lift_by_variant", "en") == "Lift by variant ({level:.0%} intervals)"  # unfilled
    with pytest.raises(KeyError, match="No report text for 'nope'"):
        i18n.text("nope", "en")
    with pytest.raises(ValueError, match=r"Invalid language: allowed: 'en', 'ja'; received: 'fr'"):
        i18n.text("revenue", "fr")


def test_the_other_public_functions_keep_working():
    assert i18n.translate("rows read", "ja") == "読込行数" and i18n.translate("unknown", "ja") == "unknown"
    assert i18n.money(1234.4, "ja") == "1,234円" and i18n.percent(0.5) == "50.0%"
    assert i18n.month_label("2025-10", "ja") == "2025年10月" and i18n.month_label("2025-Q3", "en") == "2025 Q3"
    assert i18n.sentences(["A.", "B."], "en") == "A. B." and i18n.sentences(["あ。", "い。"], "ja") == "あ。い。"


# --------------------------------------------------------------------------- no words outside the reporting layer


def _modules(*, skip: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in skip)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (documentation may quote Japanese terms)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def _japanese_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and JAPANESE.search(re.sub("|".join(map(re.escape, QUOTED_TERMS)), "", node.value))
    ]


def _is_ja(node) -> bool:
    return isinstance(node, ast.Constant) and node.value == "ja"


def _language_branches(path: Path) -> list[str]:
    """Where the code chooses words by language: ``== "ja"``, ``{"ja": ...}``, ``x["ja"]``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and any(map(_is_ja, [node.left, *node.comparators])):
            found.append(f"line {node.lineno}: compares with 'ja'")
        elif isinstance(node, ast.Dict) and any(map(_is_ja, node.keys)):
            found.append(f"line {node.lineno}: a dict keyed by 'ja'")
        elif isinstance(node, ast.Subscript) and _is_ja(node.slice):
            found.append(f"line {node.lineno}: indexes with 'ja'")
    return found


@pytest.mark.parametrize("path", _modules(skip=("reporting",)), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_japanese_text_outside_the_reporting_layer(path):
    found = _japanese_strings(path)
    assert not found, (
        f"{path.relative_to(PACKAGE)} holds Japanese text; words belong in crmtools/reporting/i18n.py: {found[:5]}"
    )


@pytest.mark.parametrize("path", _modules(skip=("reporting", "plotting")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_language_branches_outside_the_presentation_layers(path):
    found = _language_branches(path)
    assert not found, (
        f"{path.relative_to(PACKAGE)} chooses words by language; return codes and numbers and let "
        f"crmtools.reporting word them: {found[:5]}"
    )


def test_the_walks_catch_what_they_look_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""Docs may say 継続率."""\nLABEL = {"en": "Churn", "ja": "離反"}\nHINT = "width (全角)"\n'
        'def f(language):\n    """継続率."""\n    return "x" if language == "ja" else LABEL["ja"]\n',
        encoding="utf-8",
    )
    assert [s.split(":")[0] for s in _japanese_strings(bad)] == ["line 2"]
    assert len(_language_branches(bad)) == 3


# --------------------------------------------------------------------------- formatting (issue 12)


@pytest.mark.parametrize(
    ("value", "ja", "en"),
    [
        (39_691_230, "3,969万円", "¥39.7M"),  # the example: whole 万 from 100万 up
        (123_456, "12.3万円", "¥123K"),
        (12_345, "1.23万円", "¥12.3K"),  # three significant digits
        (9_876, "9,876円", "¥9,876"),  # below 10,000 in full
        (0, "0円", "¥0"),
        (123_456_789, "1.23億円", "¥123M"),
        (1_234_567_890, "12.3億円", "¥1.23B"),
        (99_999_000, "1億円", "¥100M"),  # rounding up crosses into the next unit: never "10,000万円"
        (99_995, "10万円", "¥100K"),
        (-2_500_000, "−250万円", "−¥2.5M"),
        (float("nan"), "–", "–"),
        (None, "–", "–"),
    ],
)
def test_compact_money_rounds_to_japanese_and_english_units(value, ja, en):
    assert i18n.compact_money(value, "ja") == ja
    assert i18n.compact_money(value, "en") == en


def test_tables_keep_full_amounts_and_other_currencies_are_rounded_with_their_symbol():
    assert i18n.money(39_691_230, "ja") == "39,691,230円" and i18n.money(39_691_230, "en") == "¥39,691,230"
    assert i18n.money(-1200.4, "ja") == "−1,200円"
    assert i18n.money(39_691_230.5, "en", "USD") == "$39,691,230.50"  # more in tests/test_money.py
    assert i18n.compact_money(39_691_230.5, "en", "USD") == "$39.7M"


def test_compact_money_is_never_off_by_more_than_its_last_digit():
    for value in [10**4 + 17 * k**3 for k in range(0, 2000, 7)]:
        shown = i18n.compact_money(value, "ja").removesuffix("円")
        unit = {"万": 10**4, "億": 10**8}.get(shown[-1], 1)
        number = float(shown.rstrip("万億").replace(",", ""))
        decimals = len(shown.rstrip("万億").split(".")[1]) if "." in shown else 0
        assert abs(number * unit - value) <= 0.5 * unit * 10**-decimals + 1e-6, (value, shown)


def test_compact_numbers_and_table_kinds():
    from crmtools.reporting.tables import format_value

    assert i18n.compact_number(123_456, "ja") == "12.3万" and i18n.compact_number(123_456, "en") == "123K"
    assert format_value(39_691_230, "compact_money", "ja") == "3,969万円"
    assert format_value(39_691_230, "money", "ja") == "39,691,230円"


def test_kpi_tiles_round_money_and_keep_the_full_amount_in_the_title():
    import pandas as pd

    from crmtools.reporting.tables import kpi_tiles

    tiles = pd.DataFrame(
        {
            "kpi": ["revenue", "orders"],
            "value": [39_691_230.0, 12_345.0],
            "previous": [30_000_000.0, 12_000.0],
            "year_ago": [float("nan")] * 2,
            "kind": ["money", "integer"],
        }
    )
    page = kpi_tiles(tiles, language="ja").data
    assert '<div class="value" title="39,691,230円">3,969万円</div>' in page
    assert '<div class="value">12,345</div>' in page  # counts in full


def test_money_axes_read_in_units_without_an_offset():
    import matplotlib
    import matplotlib.pyplot as plt
    import pandas as pd

    from crmtools.plotting.kpis import plot_trend
    from crmtools.plotting.theme import use_report_theme

    trend = pd.DataFrame(
        {"month": pd.period_range("2025-01", periods=4, freq="M").astype(str), "revenue": [1.2e8, 1.5e8, 0.9e8, 2.1e8]}
    )
    for language, tick in (("ja", r"[\d,.]+(万|億)円"), ("en", r"¥[\d.]+M")):
        with matplotlib.rc_context():
            use_report_theme(language)
            ax = plot_trend(trend, language=language)
            ax.figure.canvas.draw()
        ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert ticks and all(re.fullmatch(tick, t) for t in ticks), ticks  # '1.2億円', '¥120M'; never 120000000
        assert ax.yaxis.get_offset_text().get_text() == "", "an offset such as 1e8 above the axis"
        plt.close(ax.figure)


def test_one_rule_for_minus_signs_nps_and_ranges():
    from crmtools.reporting import i18n
    from crmtools.reporting.findings import verdict_sentences
    from crmtools.reporting.tables import format_value

    assert i18n.number(-1234.5, 1) == "−1,234.5" and format_value(-0.5, "decimal") == "−0.50"
    assert i18n.nps_score(11.47) == format_value(11.47, "nps") == "+11.5"
    assert i18n.value_range("73.3万円", "357万円", "ja") == "73.3万円〜357万円"
    import pandas as pd

    from crmtools.experiments import conversion_test

    tested = conversion_test(
        pd.DataFrame(
            {"experiment_id": "E", "variant": ["control", "B"], "units": [10000, 10000], "conversions": [1000, 1030]}
        )
    )
    assert tested["relative_lift_ci_low"].iloc[0] < 0
    text = " ".join(verdict_sentences(tested))
    assert "95% CI −" in text and "-" not in text  # the lower end with a true minus (U+2212)
