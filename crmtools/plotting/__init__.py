"""Plots: seaborn/matplotlib helpers that draw a result table on a given Axes and return it."""
