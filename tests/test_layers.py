"""The import graph of crmtools runs one way.

Every module under ``crmtools/`` is parsed with :mod:`ast` (nothing is
imported); its imports of crmtools modules, at module level and inside
functions alike, are the edges of the graph. Then:

- the graph has no cycle (a function-level import does not excuse one: it only
  hides it until the function runs);
- an analysis module never reaches the presentation layer (plotting,
  reporting, runner, cli, notebook), directly or through another module;
- no module imports another module's private name (``from .x import _y``): a
  helper two modules share is public in the lower one.

The data layers, lowest first: ``schema`` <- ``validation`` (coercion,
checks) <- ``dataconfig`` (where tables come from) <- ``readers`` (reading raw
tables) <- ``data`` (the validated Dataset) <- ``sources`` (default period,
copying into databases).
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "crmtools"

#: Analysis modules (those that exist): tidy frames in, tidy frames out, no words, no plots, no runs.
ANALYSES = (
    "rfm",
    "deciles",
    "cohorts",
    "repeat",
    "kpis",
    "basket",
    "basket_spark",
    "experiments",
    "campaigns",
    "targets",
    "slicing",
    "clv",
    "churn",
    "privacy",
    "ladder",
    "nps",
    "actions",
    "coverage",
)
#: The presentation layer, which may import analyses but not the other way round (packages include submodules).
PRESENTATION = ("plotting", "reporting", "runner", "cli", "notebook")
#: The data layers, lowest first: each may import only the ones before it.
DATA_LAYERS = ("schema", "validation", "dataconfig", "readers", "data", "sources")

#: Imports that break the rules today, outside the data layers, with the reason. Each is left out of the graph
#: (and of the private-name check). Remove an entry when its import goes (``test_known_exceptions_are_still_needed``
#: fails until then); never add one for new code.
KNOWN_EDGES = {
    (
        "crmtools.rfm",
        "crmtools.reporting.i18n",
    ): "deprecated alias rfm.segment_labels calls the words that moved to the reporting layer (and i18n imports "
    "rfm's segment map: a cycle while the alias lives)",
    (
        "crmtools.basket",
        "crmtools.reporting.findings",
    ): "deprecated alias basket.rule_sentences calls the sentences that moved to the reporting layer",
}
KNOWN_PRIVATE = {
    ("crmtools._deprecation", "crmtools.periods", "_Window"): "deprecation shim builds a period window",
    ("crmtools.params", "crmtools.rfm", "_resolve_thresholds"): "params checks RFM thresholds as rfm reads them",
}


@dataclass(frozen=True)
class Import:
    """One import of a crmtools module: who imports what (and which name, for a name that is not a module)."""

    importer: str
    module: str
    name: str | None
    line: int

    def where(self) -> str:
        path = MODULES[self.importer].relative_to(REPO)
        what = f"{self.module}.{self.name}" if self.name else self.module
        return f"{path}:{self.line} imports {what}"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, resolved from the importer's package for relative imports."""
    if node.level == 0:
        return node.module or ""
    package = importer.split(".") if MODULES[importer].name == "__init__.py" else importer.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def _imports_of(importer: str, text: str | None = None) -> list[Import]:
    """Every import of a crmtools module in ``importer`` (or in ``text`` standing in for it), wherever it sits:
    module level, functions, classes, branches."""
    if text is None:
        text = MODULES[importer].read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(MODULES[importer]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                Import(importer, a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE
            ]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(importer, node)
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append(
                    Import(importer, submodule, None, node.lineno)
                    if submodule in MODULES
                    else Import(importer, target, alias.name, node.lineno)
                )
    return sorted((i for i in found if i.module != importer), key=lambda i: i.line)


IMPORTS = [i for name in MODULES for i in _imports_of(name)]


def _graph(imports=IMPORTS) -> dict[str, dict[str, Import]]:
    """Importer -> imported module -> the first import making that edge, known exceptions left out."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in MODULES}
    for i in imports:
        if (i.importer, i.module) not in KNOWN_EDGES:
            graph[i.importer].setdefault(i.module, i)
    return graph


def _cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _in(module: str, names) -> bool:
    """Whether ``module`` is one of ``crmtools.<name>`` or inside one of those packages."""
    return any(module == f"{PACKAGE}.{n}" or module.startswith(f"{PACKAGE}.{n}.") for n in names)


def _path_to(graph: dict[str, dict[str, Import]], start: str, goal) -> list[Import] | None:
    """The shortest chain of imports from ``start`` to a module for which ``goal(module)`` holds, or None."""
    came: dict[str, Import | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node != start and goal(node):
            chain = []
            while came[node] is not None:
                chain.append(came[node])
                node = came[node].importer
            return chain[::-1]
        for nxt, edge in graph.get(node, {}).items():
            if nxt not in came:
                came[nxt] = edge
                queue.append(nxt)
    return None


# --------------------------------------------------------------------------------------------------- the rules


def test_every_module_is_parsed():
    assert {
        "crmtools.data",
        "crmtools.sources",
        "crmtools.readers",
        "crmtools.dataconfig",
        "crmtools.validation",
        "crmtools.schema",
        "crmtools.rfm",
    } <= set(MODULES)
    assert any(i.importer == "crmtools.data" and i.module == "crmtools.readers" for i in IMPORTS)


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    problems = []
    for component in _cycles(graph):
        edges = [graph[a][b].where() for a in component for b in component if b in graph[a]]
        problems.append(f"cycle among {', '.join(component)}:\n    " + "\n    ".join(edges))
    assert not problems, (
        "Imports must run one way; break each cycle by moving the shared code into the lower "
        "module (a function-level import only hides a cycle):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("analysis", [a for a in ANALYSES if f"{PACKAGE}.{a}" in MODULES])
def test_analyses_never_reach_the_presentation_layer(analysis):
    chain = _path_to(_graph(), f"{PACKAGE}.{analysis}", lambda m: _in(m, PRESENTATION))
    assert chain is None, (
        f"crmtools.{analysis} is an analysis and must not import {', '.join(PRESENTATION)} "
        "(the presentation layer calls analyses, not the reverse); it does through:\n    "
        + "\n    ".join(i.where() for i in chain)
    )


@pytest.mark.parametrize("layer", DATA_LAYERS)
def test_data_layers_import_only_lower_layers(layer):
    higher = DATA_LAYERS[DATA_LAYERS.index(layer) + 1 :]
    wrong = [i.where() for i in IMPORTS if i.importer == f"{PACKAGE}.{layer}" and _in(i.module, higher)]
    assert not wrong, (
        f"crmtools.{layer} may import only {list(DATA_LAYERS[: DATA_LAYERS.index(layer)])} of the "
        f"data layers; it imports a higher one:\n    " + "\n    ".join(wrong)
    )


def test_no_module_imports_another_modules_private_names():
    private = [
        i
        for i in IMPORTS
        if i.name
        and i.name.startswith("_")
        and not i.name.endswith("__")
        and (i.importer, i.module, i.name) not in KNOWN_PRIVATE
    ]
    assert not private, (
        "Private names stay in their module; make a helper that two modules share public in the "
        "lower one (or move it there):\n    " + "\n    ".join(i.where() for i in private)
    )


def test_known_exceptions_are_still_needed():
    edges = {(i.importer, i.module) for i in IMPORTS}
    names = {(i.importer, i.module, i.name) for i in IMPORTS}
    stale = [f"{a} -> {b}" for a, b in KNOWN_EDGES if (a, b) not in edges]
    stale += [f"{a} -> {b}.{n}" for a, b, n in KNOWN_PRIVATE if (a, b, n) not in names]
    assert not stale, f"These imports are gone: remove them from the known exceptions in {__file__}: {stale}"


# --------------------------------------------------------------------------------------------------- the checker


def test_the_checker_sees_function_level_relative_and_private_imports():
    text = (
        "import crmtools.engine\n"
        "def f():\n"
        "    if True:\n"
        "        from .periods import _Window\n"
        "    from . import slicing\n"
        "    from .plotting import kpis\n"
        "    from crmtools.reporting.i18n import t\n"
        "    from .kpis import period_kpis\n"  # itself: not an edge
        "    import pandas\n"
    )
    found = _imports_of("crmtools.kpis", text)
    assert [(i.module, i.name, i.line) for i in found] == [
        ("crmtools.engine", None, 1),
        ("crmtools.periods", "_Window", 4),
        ("crmtools.slicing", None, 5),
        ("crmtools.plotting.kpis", None, 6),
        ("crmtools.reporting.i18n", "t", 7),
    ]
    assert [i.module for i in _imports_of("crmtools.plotting.kpis", "from .. import rfm\nfrom ._common import x")] == [
        "crmtools.rfm",
        "crmtools.plotting._common",
    ]
    graph = {
        "a": {"b": Import("a", "b", None, 1)},
        "b": {"c": Import("b", "c", None, 2)},
        "c": {"a": Import("c", "a", None, 3)},
        "d": {},
    }
    assert _cycles(graph) == [["a", "b", "c"]]
    assert [i.module for i in _path_to(graph, "a", lambda m: m == "c")] == ["b", "c"]
