"""Helpers shared by the plot modules: the Axes to draw on, and the labels of a language.

The words of every chart are in the report catalogue,
:data:`crmtools.reporting.i18n.TEXT`; a plot module only names, for each
label it draws, the catalogue key to use.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..reporting import i18n

__all__ = ["axes_or_new", "words_for"]


def axes_or_new(ax, figsize):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def words_for(keys: Mapping[str, str], language: str) -> dict[str, str]:
    """The labels in ``language`` of a module's ``{name: catalogue key}`` table.

    Templates (``"Strongest pairs: {metric}"``) come back unfilled, for the
    plot to fill in.
    """
    i18n.check_language(language)
    return {name: i18n.text(key, language) for name, key in keys.items()}
