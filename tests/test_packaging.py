"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from rattler import MatchSpec

REPO = Path(__file__).resolve().parents[1]

#: conda-forge name -> PyPI name, where they differ.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
#: conda packages that are tooling, not dependencies of crmtools.
CONDA_TOOLING = {"python", "pip"}


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))


def _conda_specs(environment: dict) -> list[str]:
    return [d for d in environment["dependencies"] if isinstance(d, str)]


def _pip_lines(environment: dict) -> list[str]:
    (section,) = [d for d in environment["dependencies"] if isinstance(d, dict)]
    return section["pip"]


def _conda_requirements(environment: dict) -> dict[str, str]:
    """PyPI name -> version constraint, from the conda specs and the pip section."""
    out = {}
    for text in _conda_specs(environment):
        spec = MatchSpec(text)
        name = spec.name.normalized
        if name in CONDA_TOOLING:
            continue
        out[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = str(spec.version or "")
    for line in _pip_lines(environment):
        if line.startswith("-e"):
            continue
        req = Requirement(line)
        out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def _pyproject_requirements(pyproject: dict) -> dict[str, str]:
    project = pyproject["project"]
    lines = [
        *project["dependencies"],
        *project["optional-dependencies"]["test"],
        *project["optional-dependencies"]["spark"],
    ]
    reqs = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): str(r.specifier) for r in reqs}


def test_environment_yml_parses(environment):
    assert environment["name"] == "crmtools"
    assert environment["channels"] == ["conda-forge"]
    specs = _conda_specs(environment)
    assert specs, "no conda dependencies"
    for text in specs:
        MatchSpec(text)  # raises on a malformed spec


def test_pip_section_parses_and_installs_the_project(environment):
    lines = _pip_lines(environment)
    assert "-e ." in lines
    for line in lines:
        if not line.startswith("-e"):
            Requirement(line)


def test_python_version_agrees(environment, pyproject):
    (python,) = [MatchSpec(s) for s in _conda_specs(environment) if MatchSpec(s).name.normalized == "python"]
    assert SpecifierSet(str(python.version)) == SpecifierSet(pyproject["project"]["requires-python"])


def test_the_same_dependencies_are_named(environment, pyproject):
    conda, pip = _conda_requirements(environment), _pyproject_requirements(pyproject)
    assert set(conda) == set(pip), {
        "only in environment.yml": set(conda) - set(pip),
        "only in pyproject.toml": set(pip) - set(conda),
    }


def test_the_same_minimum_versions_are_required(environment, pyproject):
    conda, pip = _conda_requirements(environment), _pyproject_requirements(pyproject)
    differ = {
        name: (conda[name], pip[name])
        for name in set(conda) & set(pip)
        if SpecifierSet(conda[name]) != SpecifierSet(pip[name])
    }
    assert differ == {}


def test_console_script_is_declared(pyproject):
    assert pyproject["project"]["scripts"]["crmtools"] == "crmtools.cli:main"
    module, _, attribute = pyproject["project"]["scripts"]["crmtools"].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
