"""The house figure: size and resolution from ``config/settings.yaml``, the seaborn/matplotlib theme, and
:func:`show`, which puts a chart on a page as a PNG with its alternative text.

Re-exported by :mod:`svtools.publish.output` (``output.show`` and friends).
"""

from __future__ import annotations

import base64
import io

from svtools import config


def palette() -> dict:
    """The colour-blind-safe palette from ``config/settings.yaml`` (Okabe-Ito)."""
    return config.palette()


def figure_settings() -> dict:
    """Figure size and resolution from ``config/settings.yaml``: ``width_in``, ``height_in``, ``dpi``."""
    fig = config.settings()["figures"]
    return {"width_in": float(fig["width_in"]), "height_in": float(fig["height_in"]), "dpi": int(fig["dpi"])}


def set_theme() -> None:
    """Apply the house seaborn/matplotlib theme: palette from config, readable fonts, no chart junk."""
    import seaborn as sns

    fig = figure_settings()
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=list(palette()["sequence"]),
        rc={
            "figure.figsize": (fig["width_in"], fig["height_in"]),
            "figure.dpi": fig["dpi"],
            "savefig.dpi": fig["dpi"],
            "font.size": 12,
            "axes.titlesize": 13,
            "axes.labelsize": 12,
            "xtick.labelsize": 11,
            "ytick.labelsize": 11,
            "legend.fontsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlelocation": "left",
        },
    )


def new_figure(height_in: float | None = None):
    """A figure and axes of the house size (width fixed by config so every chart scales the same)."""
    import matplotlib.pyplot as plt

    fig = figure_settings()
    return plt.subplots(figsize=(fig["width_in"], height_in or fig["height_in"]), dpi=fig["dpi"],
                        layout="constrained")


def show(fig, alt: str) -> None:
    """Display ``fig`` as a PNG with ``alt`` as its alternative text, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The chart. It is closed afterwards (memory in long batch runs).
    alt : str
        What the chart shows, in words, with its key numbers (see :func:`describe_series`). Required.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    try:
        if not isinstance(alt, str) or len(alt.strip()) < 10:
            raise ValueError("show() needs alt text describing the chart (at least a short sentence)")
        dpi = figure_settings()["dpi"]
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        width, height = (int(round(v)) for v in fig.get_size_inches() * dpi)
    finally:
        plt.close(fig)
    data = {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": alt.strip()}
    meta = {"image/png": {"alt": alt.strip(), "width": width, "height": height}}
    display(data, raw=True, metadata=meta)
