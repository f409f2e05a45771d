"""The spine chart (Fingertips / ScotPHO area summary): one row per indicator against the other areas.

Each row is scaled so that the benchmark sits at the centre: the grey bar runs from the worst to the best
published value of the areas (lowest to highest for an indicator with no polarity), the darker band from the 25th
to the 75th percentile, the black line is the benchmark, and the marker is the area's value. The marker's
colour AND shape say how it compares (better: blue triangle up; worse: vermillion triangle down; similar: hollow
circle; higher or lower with no polarity: purple diamond), and each row's label says it in words, so colour is
never the only cue (WCAG 2.2 "use of colour"). Scaling (as Fingertips): a value v is drawn at
``0.5 + s (v - benchmark) / (2 D)``, D the largest distance of the row's values from the benchmark, s = -1 when
lower is better (worse to the left) and +1 otherwise.

Nothing here computes statistics or reads data: the rows come from
:func:`svtools.publish.indicators.indicator_table` through :func:`svtools.publish.disclosure.derived`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from svtools.publish.charts.common import _figure, _fs, _legend_below, _pal, _title
from svtools.publish.disclosure import require_gate_frame

__all__ = ["spine_chart", "spine_positions", "MARKERS"]

#: verdict -> (palette key, marker, legend label)
MARKERS = {
    "better": ("spine_better", "^", "Better than the benchmark"),
    "similar": ("spine_similar", "o", "Similar to the benchmark (no clear difference)"),
    "worse": ("spine_worse", "v", "Worse than the benchmark"),
    "higher": ("spine_no_polarity", "D", "Higher or lower (no better or worse)"),
    "lower": ("spine_no_polarity", "D", "Higher or lower (no better or worse)"),
}

_LABEL_CHARS = 50


def spine_positions(values, benchmark: float, low: float, high: float, polarity: str) -> np.ndarray:
    """Positions (0-1) of ``values`` on a row whose benchmark is at 0.5 (see the module notes).

    ``low``/``high`` are the row's lowest and highest published values; the worse end is on the left (for
    ``no_polarity``, the lowest value).
    """
    v = np.asarray(values, dtype=float)
    d = np.nanmax(np.abs(np.array([low, high], dtype=float) - benchmark))
    if not np.isfinite(d) or d <= 0:
        return np.full(v.shape, 0.5)
    s = -1.0 if polarity == "lower_is_better" else 1.0
    return 0.5 + s * (v - benchmark) / (2.0 * d)


def spine_chart(data: pd.DataFrame, title: str, *, value_format: str = "{:,.2f}"):
    """The spine chart of one area.

    Parameters
    ----------
    data : DataFrame
        One row per indicator (from the gate: :func:`~svtools.publish.disclosure.derived`) with ``label, unit,
        value, benchmark_value, p25, p75, worst, best, polarity, verdict, status_words`` (``value`` NaN: the
        area's number is not shown and the row says why).
    title : str
    """
    require_gate_frame(data, "spine_chart")
    pal = _pal()
    d = data.reset_index(drop=True)
    n = len(d)
    fig, ax = _figure(0.95 * n + 1.9)
    ys = np.arange(n)[::-1].astype(float)
    seen = set()
    for y, (_, r) in zip(ys, d.iterrows()):
        b = float(r["benchmark_value"]) if pd.notna(r["benchmark_value"]) else np.nan
        lo, hi = sorted([float(r["worst"]), float(r["best"])]) if pd.notna(r["worst"]) else (np.nan, np.nan)
        words = str(r.get("status_words") or "")
        v = float(r["value"]) if pd.notna(r["value"]) else np.nan
        if np.isfinite(v):
            words = f"{value_format.format(v)} {r['unit_short']}, {r['verdict']}"
        label = "\n".join(textwrap.wrap(str(r["label"]), _LABEL_CHARS) + textwrap.wrap(words, _LABEL_CHARS))
        txt = ax.text(0.0, y + 0.2, label, fontsize=_fs("annotation"), va="bottom", ha="left",
                      transform=ax.get_yaxis_transform())
        txt.set_in_layout(False)
        if not (np.isfinite(b) and np.isfinite(lo)):
            continue
        pol = str(r["polarity"])
        x_lo, x_hi = sorted(spine_positions([lo, hi], b, lo, hi, pol))
        ax.barh(y, x_hi - x_lo, left=x_lo, height=0.3, color=pal["spine_range"], edgecolor="#000000", linewidth=0.4,
                label=None if "range" in seen else "Range of the CSPs (worst to best)")
        seen.add("range")
        p = sorted(spine_positions([r["p25"], r["p75"]], b, lo, hi, pol))
        ax.barh(y, p[1] - p[0], left=p[0], height=0.3, color=pal["spine_band"], edgecolor="#000000", linewidth=0.4,
                label=None if "band" in seen else "25th to 75th percentile")
        seen.add("band")
        ax.plot([0.5, 0.5], [y - 0.18, y + 0.18], color="#000000", lw=2.0,
                label=None if "bench" in seen else "Benchmark (centre of every row)")
        seen.add("bench")
        if np.isfinite(v) and r["verdict"] in MARKERS:
            key, marker, lab = MARKERS[r["verdict"]]
            x = float(spine_positions([v], b, min(lo, v), max(hi, v), pol)[0])
            ax.scatter([x], [y], s=90, marker=marker, color=pal[key], edgecolor="#000000", linewidth=1.0, zorder=5,
                       label=None if lab in seen else lab)
            seen.add(lab)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.45, n - 0.25)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_xlabel("Worse (or lower) to the left, better (or higher) to the right")
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig
