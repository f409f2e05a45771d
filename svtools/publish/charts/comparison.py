"""Comparison charts: funnel plot, bar chart, deprivation gradient and Lorenz curve. Part of
:mod:`svtools.publish.charts`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from svtools.publish.charts.common import (
    _pal,
    _figure,
    _title,
    _legend_below,
    _place_labels,
    _thousands,
    _fs,
    _height,
)
from svtools.publish import figures
from svtools.publish.disclosure import require_gate_frame

#: Characters per line of a bar's label (longer labels wrap, so the bars keep most of the width).
_TICK_CHARS = 22

__all__ = [
    "funnel_plot",
    "bar_chart",
    "gradient_chart",
    "lorenz_chart",
]


# --------------------------------------------------------------------------- funnel plot
def funnel_plot(
    points: pd.DataFrame,
    limits: pd.DataFrame,
    *,
    target: float,
    title: str,
    xlabel: str = "Residents",
    ylabel: str = "Rate per 1,000 residents",
    highlight: str | None = None,
    label_all: bool | None = None,
    limit_labels: tuple[str, str] = ("95% limits", "99.8% limits"),
):
    """Funnel plot of area rates against their population, with 95% and 99.8% control limits.

    Parameters
    ----------
    points : DataFrame
        ``label, denominator, value`` (one row per area) and optionally ``signal`` (``"high"``, ``"low"`` or
        ``""``: outside the 99.8% limits).
    limits : DataFrame
        ``denominator, lower_95, upper_95, lower_998, upper_998`` on a grid of denominators.
    target : float
        The comparator rate (the centre line).
    highlight : str, optional
        Label of the area the page is about (drawn larger, in the highlight colour, and always labelled).
    label_all : bool, optional
        Label every point that has room (default: when there are at most 15 points, e.g. a force's CSPs). The
        highlighted area and areas outside the 99.8% limits are always labelled; other labels are left out where
        they would overlap a label or a marker (every value is in the table beside the chart).
    limit_labels : (str, str)
        Legend labels of the 95% and 99.8% limits, saying which limits they are (e.g. "99.8% limits allowing
        for over-dispersion"); both must contain "95%" and "99.8%" respectively.

    Notes
    -----
    Areas outside the 99.8% limits (``signal``) are drawn as triangles pointing up (above) or down (below),
    so the flag is not shown by colour alone (WCAG 2.2 1.4.1).
    """
    require_gate_frame(points, "funnel_plot")
    pal = _pal()
    fig, ax = _figure(_height("tall"))
    lim = limits.sort_values("denominator")
    x = lim["denominator"].to_numpy(dtype=float)
    label_95, label_998 = limit_labels
    ax.plot(x, lim["upper_998"], color="#333333", ls="--", lw=1.3, label=label_998)
    ax.plot(x, lim["lower_998"], color="#333333", ls="--", lw=1.3)
    ax.plot(x, lim["upper_95"], color="#333333", ls=":", lw=1.5, label=label_95)
    ax.plot(x, lim["lower_95"], color="#333333", ls=":", lw=1.5)
    ax.axhline(target, color="#000000", lw=1.2, label=f"Comparator rate ({target:.2f})")
    pts = points.reset_index(drop=True)
    is_hl = (
        pts["label"].astype(str) == str(highlight)
        if highlight is not None
        else pd.Series(False, index=pts.index)
    )
    signal = pts["signal"].astype(str) if "signal" in pts.columns else pd.Series("", index=pts.index)
    other = ~is_hl
    for mask, marker, size, label in (
        (other & ~signal.isin(["high", "low"]), "o", 48, "Other areas"),
        (other & (signal == "high"), "^", 80, "Above the 99.8% limits"),
        (other & (signal == "low"), "v", 80, "Below the 99.8% limits"),
    ):
        if mask.any() or marker == "o":
            ax.scatter(
                pts.loc[mask, "denominator"],
                pts.loc[mask, "value"],
                s=size,
                marker=marker,
                color=pal["primary"],
                edgecolor="#000000",
                linewidth=0.5,
                label=label,
                zorder=3,
            )
    if is_hl.any():
        ax.scatter(
            pts.loc[is_hl, "denominator"],
            pts.loc[is_hl, "value"],
            s=130,
            marker="D",
            color=pal["highlight"],
            edgecolor="#000000",
            linewidth=0.8,
            label=str(highlight),
            zorder=4,
        )
    if label_all is None:
        label_all = len(pts) <= 15
    ax.set_xlabel(xlabel)
    ax.set_xlim(left=0, right=max(float(x.max()), float(pts["denominator"].max())) * 1.05)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))  # "600,000" is wide
    ax.xaxis.set_major_formatter(_thousands())
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    figures.prepare(fig)  # what show() does, before the labels: they are placed on the final layout
    outlier = [signal[i] in ("high", "low") for i in pts.index]
    sel = [i for i in pts.index if label_all or is_hl[i] or outlier[i]]
    _place_labels(
        ax,
        pts.loc[sel, "denominator"].to_numpy(dtype=float),
        pts.loc[sel, "value"].to_numpy(dtype=float),
        pts.loc[sel, "label"].astype(str).tolist(),
        bold=[bool(is_hl[i]) for i in sel],
        required=[bool(is_hl[i] or outlier[i]) for i in sel],
    )
    return fig


# --------------------------------------------------------------------------- where
def gradient_chart(
    data: pd.DataFrame,
    *,
    title: str,
    xlabel: str = "IMD decile (1 = most deprived)",
    ylabel: str = "Rate per 1,000 residents",
    line: pd.DataFrame | None = None,
    note: str | None = None,
):
    """Rates by deprivation decile with confidence intervals, and optionally the fitted SII line.

    Parameters
    ----------
    data : DataFrame
        ``imd_decile`` (1-10), ``value``, ``lower``, ``upper``.
    line : DataFrame, optional
        ``imd_decile, value`` of the fitted slope (drawn dashed).
    note : str, optional
        Text in the top-right corner (e.g. "SII 2.1, RII 3.4").
    """
    require_gate_frame(data, "gradient_chart")
    pal = _pal()
    fig, ax = _figure()
    d = data.sort_values("imd_decile")
    x = d["imd_decile"].to_numpy(dtype=float)
    v = d["value"].to_numpy(dtype=float)
    err = np.vstack([v - d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float) - v])
    ax.errorbar(
        x,
        v,
        yerr=np.clip(err, 0, None),
        fmt="o",
        color=pal["primary"],
        ecolor="#333333",
        elinewidth=1.3,
        capsize=4,
        ms=8,
        label="Rate with 95% CI",
    )
    if line is not None:
        ln = line.sort_values("imd_decile")
        ax.plot(ln["imd_decile"], ln["value"], color=pal["highlight"], lw=2, ls="--", label="Fitted gradient")
    if note:
        ax.text(
            0.98,
            0.96,
            note,
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=_fs("annotation"),
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#999999"},
        )
    ax.set_xticks(range(1, 11))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


def lorenz_chart(
    data: pd.DataFrame,
    *,
    title: str,
    xlabel: str = "Share of neighbourhoods (LSOAs), busiest first",
    ylabel: str = "Share of offences",
    top_share: float | None = None,
    top_value: float | None = None,
    curve_label: str = "Offences",
):
    """Lorenz (concentration) curve: cumulative share of offences against cumulative share of areas.

    Parameters
    ----------
    data : DataFrame
        ``area_share, offence_share`` (0-1, cumulative, areas ordered busiest first; the curve starts at
        0, 0).
    top_share, top_value : float, optional
        Mark the point "the top ``top_share`` of areas hold ``top_value`` of offences".
    curve_label : str
        Legend label of the curve (e.g. "Harm").
    """
    require_gate_frame(data, "lorenz_chart")
    pal = _pal()
    fig, ax = _figure(_height("tall"))
    d = data.sort_values("area_share")
    x = np.r_[0.0, d["area_share"].to_numpy(dtype=float)]
    y = np.r_[0.0, d["offence_share"].to_numpy(dtype=float)]
    ax.plot([0, 1], [0, 1], color="#555555", ls="--", lw=1.3, label="Equal spread")
    ax.plot(x, y, color=pal["primary"], lw=2.5, label=curve_label)
    if top_share is not None and top_value is not None:
        ax.scatter(
            [top_share],
            [top_value],
            s=80,
            marker="D",
            color=pal["highlight"],
            edgecolor="#000000",
            zorder=3,
            label=f"Top {top_share:.0%}",
        )
        ax.annotate(
            f"top {top_share:.0%}: {top_value:.0%} of the total",
            (top_share, top_value),
            xytext=(0.3, max(0.08, min(top_value, 0.9) - 0.22)),
            textcoords="axes fraction",
            fontsize=_fs("annotation"),
            arrowprops={"arrowstyle": "-", "color": "#333333"},
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9},
        )
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    ax.legend(loc="center right", frameon=False)
    return fig


# --------------------------------------------------------------------------- bars
def bar_chart(
    data: pd.DataFrame,
    *,
    label: str,
    value: str,
    title: str,
    xlabel: str,
    ylabel: str | None = None,
    lower: str | None = None,
    upper: str | None = None,
    highlight: str | None = None,
    reference: float | None = None,
    reference_label: str = "Comparator",
    value_format: str = "{:,.0f}",
    sort: bool = True,
):
    """Horizontal bar chart (offence mix, league table), largest at the top, with value labels.

    Parameters
    ----------
    data : DataFrame
        One row per bar; ``label`` and ``value`` name its columns. NaN values (suppressed) get no bar and "*".
    lower, upper : str, optional
        Columns of a confidence interval (drawn as error bars).
    highlight : str, optional
        Label of the bar to emphasise (highlight colour, hatched, bold label).
    reference : float, optional
        A vertical reference line (e.g. the force rate).
    """
    require_gate_frame(data, "bar_chart")
    pal = _pal()
    d = data.copy()
    if sort:
        d = d.sort_values(value, ascending=True, na_position="first")
    n = len(d)
    with_legend = (lower is not None and upper is not None) or reference is not None
    labels = d[label].astype(str).tolist()
    shown_labels = ["\n".join(textwrap.wrap(lab, _TICK_CHARS)) or lab for lab in labels]
    counts = [lab.count("\n") + 1 for lab in shown_labels]
    # a bar's slot holds half of each neighbour's label: room for the two tallest neighbours (long local labels)
    pair = max([(a + b) / 2 for a, b in zip(counts, counts[1:])] or counts or [1])
    line_in = _fs("tick") * 1.2 / 72  # a tick label's line (matplotlib's line spacing 1.2), inches
    extra = 1.5 + (0.5 if with_legend else 0)
    fig, ax = _figure(max(2.6, 0.3 * n + 0.14 * sum(counts) + extra, n * (pair * line_in + 0.03) + extra))
    y = np.arange(n)
    vals = pd.to_numeric(d[value], errors="coerce").to_numpy(dtype=float)
    is_hl = (
        np.array([lab == str(highlight) for lab in labels]) if highlight is not None else np.zeros(n, bool)
    )
    colours = [pal["highlight"] if h else pal["primary"] for h in is_hl]
    bars = ax.barh(y, np.nan_to_num(vals), color=colours, edgecolor="#000000", linewidth=0.5)
    for bar, h in zip(bars, is_hl):
        if h:
            bar.set_hatch("//")
    if lower is not None and upper is not None:
        lo = pd.to_numeric(d[lower], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(d[upper], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(vals) & np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(
            vals[ok],
            y[ok],
            xerr=np.clip(np.vstack([vals[ok] - lo[ok], hi[ok] - vals[ok]]), 0, None),
            fmt="none",
            ecolor="#000000",
            elinewidth=1.2,
            capsize=3,
            label="95% confidence interval",
        )
        text_x = np.where(np.isfinite(hi), hi, np.nan_to_num(vals))
    else:
        text_x = np.nan_to_num(vals)
    span = np.nanmax(np.r_[text_x, 1e-9])
    for yi, xi, v in zip(y, text_x, vals):
        ax.text(
            xi + span * 0.01, yi, "*" if np.isnan(v) else value_format.format(v), va="center", fontsize=_fs("annotation")
        )
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="#000000", ls="--", lw=1.3, label=f"{reference_label} ({reference:,.2f})")
    ax.set_yticks(y, shown_labels)
    for tick, h in zip(ax.get_yticklabels(), is_hl):
        if h:
            tick.set_fontweight("bold")
    ax.set_xlim(0, span * 1.25)  # room for the value labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or label.replace("_", " ").capitalize())
    ax.grid(axis="y", visible=False)
    _title(ax, title)
    if with_legend:
        _legend_below(fig, ax, ncol=2)
    return fig
