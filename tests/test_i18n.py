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

PLOT_MODULES = ["basket", "campaigns", "cohorts", "deciles", "experiments", "kpis", "quality", "rfm"]


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
    spec = {"segments": [{"name": "Recent", "label": {"ja": "最近"}, "rules": [{"r": [3, 5]}]},
                         {"name": "Lost", "rules": [{"r": [1, 1]}]},
                         {"name": "Older", "label": "Older ones", "rules": [{"r": [2, 2]}]}]}
    # the map's label, else the catalogue's label for the name, else the name
    assert i18n.segment_labels(spec, "en") == {"Recent": "Recent", "Lost": "Lost", "Older": "Older ones",
                                               INACTIVE: "Inactive"}
    assert i18n.segment_labels(spec, "ja") == {"Recent": "最近", "Lost": "離反顧客", "Older": "Older ones",
                                               INACTIVE: "非アクティブ"}


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
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _japanese_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [f"line {node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and JAPANESE.search(re.sub("|".join(map(re.escape, QUOTED_TERMS)), "", node.value))]


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
    assert not found, (f"{path.relative_to(PACKAGE)} holds Japanese text; words belong in "
                       f"crmtools/reporting/i18n.py: {found[:5]}")


@pytest.mark.parametrize("path", _modules(skip=("reporting", "plotting")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_language_branches_outside_the_presentation_layers(path):
    found = _language_branches(path)
    assert not found, (f"{path.relative_to(PACKAGE)} chooses words by language; return codes and numbers and let "
                       f"crmtools.reporting word them: {found[:5]}")


def test_the_walks_catch_what_they_look_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docs may say 継続率."""\nLABEL = {"en": "Churn", "ja": "離反"}\nHINT = "width (全角)"\n'
                   'def f(language):\n    """継続率."""\n    return "x" if language == "ja" else LABEL["ja"]\n',
                   encoding="utf-8")
    assert [s.split(":")[0] for s in _japanese_strings(bad)] == ["line 2"]
    assert len(_language_branches(bad)) == 3
