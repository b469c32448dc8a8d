"""Helpers shared by the plot modules: the Axes to draw on, and the labels of a language."""

from __future__ import annotations

__all__ = ["axes_or_new", "words_for"]


def axes_or_new(ax, figsize):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def words_for(table: dict[str, dict[str, str]], language: str) -> dict[str, str]:
    """The labels of ``language`` from a module's ``{language: {key: label}}`` table."""
    if language not in table:
        raise ValueError(f"language must be one of {sorted(table)}; got {language!r}.")
    return table[language]
