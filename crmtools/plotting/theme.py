"""The report look for charts, applied by an explicit call (never at import).

Japanese charts need a font with Japanese glyphs: the ``matplotlib-fontja``
package ships IPAexGothic, registered with matplotlib when imported. Seaborn's
``set_theme`` resets the font family, so the font is passed to it.
"""

from __future__ import annotations

__all__ = ["JAPANESE_FONT", "font_family", "use_report_theme"]

JAPANESE_FONT = "IPAexGothic"


def font_family(language: str = "en") -> str:
    """The font family used for charts in ``language``."""
    if language == "ja":
        import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)

        return JAPANESE_FONT
    return "DejaVu Sans"


def use_report_theme(language: str = "en") -> None:
    """Apply the report chart style (seaborn theme, font with the needed glyphs, fixed SVG salt).

    Parameters
    ----------
    language : {"en", "ja"}, default="en"
        Report language; Japanese selects a font with Japanese glyphs.
    """
    import matplotlib as mpl
    import seaborn as sns

    family = font_family(language)
    # IPAexGothic has one weight: asking it for bold logs "Failed to find font weight bold" on every title,
    # so Japanese titles are set in the regular weight (a little larger instead).
    weight = "normal" if language == "ja" else "bold"
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette="deep",
        font=family,
        rc={
            "figure.figsize": (8.0, 4.0),
            "figure.dpi": 96,
            "savefig.dpi": 96,
            "axes.titleweight": weight,
            "figure.titleweight": weight,
            "axes.unicode_minus": False,
            # Never "1e8" above an axis: plain numbers unless a plot formats them (money, counts).
            "axes.formatter.useoffset": False,
            "axes.formatter.limits": (-9, 15),
        },
    )
    # Deterministic output: no random hash salt or dates in vector output.
    mpl.rcParams["svg.hashsalt"] = "crmtools"
    mpl.rcParams["pdf.fonttype"] = 42
