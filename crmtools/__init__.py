"""crmtools: reproducible CRM analytics for mail-order and e-commerce order histories.

After ``import crmtools`` every analysis module is reachable as an attribute
(``crmtools.rfm.rfm_table(...)``, ``crmtools.deciles``, ``crmtools.basket`` ...).
Modules are imported on first use, so ``import crmtools`` stays cheap and has
no side effects (no pandas options, warning filters or plot styles change).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The analysis and data modules ``import crmtools`` exposes.
ANALYSES = (
    "rfm",
    "deciles",
    "cohorts",
    "repeat",
    "kpis",
    "basket",
    "experiments",
    "campaigns",
    "targets",
    "clv",
    "churn",
    "ladder",
    "nps",
    "actions",
    "privacy",
    "coverage",
)
DATA = (
    "data",
    "dataconfig",
    "readers",
    "periods",
    "slicing",
    "params",
    "sampledata",
    "validation",
    "sources",
    "engine",
    "checks",
)

__all__ = [*ANALYSES, *DATA]


def __getattr__(name: str):
    if name in __all__:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'crmtools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
