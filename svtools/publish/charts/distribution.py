"""Distribution charts: age-sex pyramid and day-of-week x hour-of-day heatmap. Part of
:mod:`svtools.publish.charts`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.publish import figures
from svtools.publish.charts.common import (
    _pal,
    _figure,
    _title,
    _fs,
)
from svtools.publish.disclosure import require_gate_frame

__all__ = [
    "pyramid_chart",
    "day_hour_heatmap",
]


# --------------------------------------------------------------------------- who
def pyramid_chart(data: pd.DataFrame, *, title: str, xlabel: str = "Victims", ylabel: str = "Age group"):
    """Age-sex pyramid: males to the left, females to the right, value labels on each bar.

    Parameters
    ----------
    data : DataFrame
        ``age_band, male, female`` (counts or shares; NaN = suppressed, labelled "*"), youngest band first.
    """
    require_gate_frame(data, "pyramid_chart")
    pal = _pal()
    n = len(data)
    fig, ax = _figure(max(3.6, 0.34 * n + 1.6))
    y = np.arange(n)
    male = pd.to_numeric(data["male"], errors="coerce").to_numpy(dtype=float)
    female = pd.to_numeric(data["female"], errors="coerce").to_numpy(dtype=float)
    bm = ax.barh(
        y, -np.nan_to_num(male), color=pal["primary"], edgecolor="#000000", linewidth=0.5, label="Male"
    )
    bf = ax.barh(
        y,
        np.nan_to_num(female),
        color=pal["secondary"],
        edgecolor="#000000",
        linewidth=0.5,
        hatch="//",
        label="Female",
    )
    shares = np.nanmax(np.r_[male, female, 0]) <= 1

    def fmt(v):
        return "*" if np.isnan(v) else (f"{v:.0%}" if shares else f"{v:,.0f}")

    ax.bar_label(bm, labels=[fmt(v) for v in male], padding=2, fontsize=_fs("annotation"))
    ax.bar_label(bf, labels=[fmt(v) for v in female], padding=2, fontsize=_fs("annotation"))
    ax.set_yticks(y, data["age_band"].astype(str).tolist())
    top = np.nanmax(np.r_[np.nan_to_num(male), np.nan_to_num(female), 1e-9])
    ax.set_xlim(-top * 1.3, top * 1.3)
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}" if top > 1 else f"{abs(v):.0%}"))
    ax.axvline(0, color="#000000", lw=1)
    ax.text(0.02, 0.98, "Male", transform=ax.transAxes, ha="left", va="top", fontsize=_fs("label"), fontweight="bold")
    ax.text(
        0.98, 0.98, "Female", transform=ax.transAxes, ha="right", va="top", fontsize=_fs("label"), fontweight="bold"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    return fig


# --------------------------------------------------------------------------- when
def day_hour_heatmap(
    table: pd.DataFrame,
    *,
    title: str,
    xlabel: str = "Hour of day (starting)",
    ylabel: str = "Day of week",
    colorbar_label: str = "Offences",
    column_labels=None,
    hidden_label: str | None = None,
):
    """Day-of-week x hour-of-day heatmap (cividis), the busiest cell outlined and named.

    Parameters
    ----------
    table : DataFrame
        7 rows (days, Monday first; the index gives the labels) x 24 columns (hours 0-23), or one column a block
        of hours (``column_labels``). NaN cells (e.g. suppressed) are left blank, or drawn hatched grey with
        ``hidden_label``.
    column_labels : list of str, optional
        A label under every column ("00-03": blocks of hours); broken onto two lines ("00-" over "03",
        :func:`svtools.publish.figures.split_tick_label`) when they would touch side by side. Default: every
        third hour ("00", "03", ...).
    hidden_label : str, optional
        NaN cells are drawn in one hatched grey and named in a legend under the chart ("Too few to show"), when
        there are any.
    """
    require_gate_frame(table, "day_hour_heatmap")
    import matplotlib.patches as mpatches

    cmap = _pal()["heatmap"]
    fig, ax = _figure(3.9)
    values = table.to_numpy(dtype=float)
    mesh = ax.pcolormesh(
        np.arange(values.shape[1] + 1),
        np.arange(values.shape[0] + 1),
        np.ma.masked_invalid(values),
        cmap=cmap,
        edgecolors="white",
        linewidth=0.4,
    )
    ax.set_ylim(values.shape[0], 0)
    ax.set_yticks(np.arange(values.shape[0]) + 0.5, [str(d)[:3] for d in table.index])
    hours = list(table.columns)
    if column_labels is None:
        ax.set_xticks(np.arange(0, len(hours), 3) + 0.5, [f"{int(h):02d}" for h in hours[::3]])
    else:
        labels = [str(lab) for lab in column_labels]
        if len(labels) != values.shape[1]:
            import matplotlib.pyplot as plt

            plt.close(fig)  # a refused chart leaves no open figure behind
            raise ValueError(f"day_hour_heatmap: {len(labels)} column labels for {values.shape[1]} columns")
        ax.set_xticks(np.arange(len(labels)) + 0.5, labels)
    cbar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.05)
    cbar.set_label(colorbar_label)
    from matplotlib.ticker import MaxNLocator

    cbar.locator = MaxNLocator(integer=True)
    cbar.update_ticks()
    busiest = ""
    if np.isfinite(values).any() and np.nanmax(values) > 0:
        r, c = np.unravel_index(np.nanargmax(values), values.shape)
        ax.add_patch(mpatches.Rectangle((c, r), 1, 1, fill=False, edgecolor="#D55E00", linewidth=3))
        ax.text(
            c + 0.5, r + 0.5, "X", ha="center", va="center", fontsize=_fs("annotation"), fontweight="bold", color="#D55E00"
        )
        busiest = f"\nX = busiest hour: {table.index[r]} {int(hours[c]):02d}:00 to {int(hours[c]):02d}:59"
    hidden = np.isnan(values)
    if hidden_label and hidden.any():
        style = {"facecolor": "#D9D9D9", "edgecolor": "#7F7F7F", "hatch": "///"}
        for r, c in zip(*np.nonzero(hidden)):
            ax.add_patch(mpatches.Rectangle((c, r), 1, 1, linewidth=0.4, label="_hidden", **style))
        fig.legend(handles=[mpatches.Patch(label=hidden_label, **style)], loc="outside lower center", ncol=1,
                   frameon=False)
    if column_labels is not None and figures.tick_labels_touch(ax, labels):
        # broken now, as show() would on its layout (one layout, not two); labels that still touch are left
        # to show() to turn
        split = [figures.split_tick_label(lab) for lab in labels]
        if split != labels and not figures.tick_labels_touch(ax, split):
            ax.set_xticks(np.arange(len(labels)) + 0.5, split)
    ax.grid(False)
    ax.set_xlabel(xlabel + busiest)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    return fig
