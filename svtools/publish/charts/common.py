"""Shared pieces of :mod:`svtools.publish.charts`: the house-style figure, title, date axis, COVID-19 band,
legend and label placement helpers, and the constants the charts share.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from svtools.publish import figures, output
from svtools.config import settings

__all__ = [
    "DAY_NAMES",
    "SPC_STYLES",
]

#: Day labels, Monday first (``dayofweek`` 0 = Monday).
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: SPC point styles: palette key, marker and legend label (NHS "Making Data Count" colours, plus shapes).
SPC_STYLES = {
    "common cause": ("common_cause", "o", "Common cause variation"),
    "improvement": ("improvement", "v", "Special cause: improvement"),
    "concern": ("concern", "^", "Special cause: concern"),
}

def _pal() -> dict:
    return output.palette()


def _fs(role: str) -> float:
    """Text size in points for ``role`` (``title``, ``label``, ``tick``, ``legend``, ``annotation``; config)."""
    return figures.font_size(role)


def _height(kind: str = "default") -> float:
    """Figure height in inches from config: ``"default"`` or ``"tall"``."""
    fig = figures.figure_settings()
    return fig["tall_height_in"] if kind == "tall" else fig["height_in"]


def _figure(height_in: float | None = None, nrows: int = 1, ncols: int = 1, **kwargs):
    """A house-style figure (theme applied, fixed width)."""
    import matplotlib.pyplot as plt

    output.set_theme()
    fig = figures.figure_settings()
    return plt.subplots(
        nrows,
        ncols,
        figsize=(fig["width_in"], height_in or fig["height_in"]),
        dpi=fig["dpi"],
        layout="constrained",
        **kwargs,
    )


def _title(ax, title: str) -> None:
    """Left-aligned title, wrapped so that every line fits between the left of the axes and the right edge of
    the figure: here against where the layout will put the axes' left edge (:func:`svtools.publish.figures.layout_left`:
    no layout of its own), then on the laid-out figure by :func:`svtools.publish.figures.prepare` (in
    :func:`~svtools.publish.figures.show`), so long tick labels that push the axes right give shorter lines (and
    a right guess here spares that a second layout)."""
    if not title or not str(title).strip():
        import matplotlib.pyplot as plt

        plt.close(ax.get_figure())  # a refused chart leaves no open figure behind
        raise ValueError("every chart needs a title")
    ax.set_title(" ".join(str(title).split()), loc="left")
    figures.fit_title(ax, draw=False, left=figures.layout_left(ax))


def _months(values) -> pd.DatetimeIndex:
    idx = pd.Index(values)
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    return pd.DatetimeIndex(pd.to_datetime(idx))


def _date_axis(ax, months: pd.DatetimeIndex) -> None:
    """Year ticks at April (financial years) for long series, otherwise every few months; never more ticks than
    fit across the axes at the house text size (one every two or more years on long series)."""
    import math

    import matplotlib.dates as mdates

    span = len(pd.date_range(months.min(), months.max(), freq="MS")) if len(months) else 0
    fig = ax.figure
    width_px = ax.get_position().width * fig.get_figwidth() * figures.CSS_PX_PER_IN
    label_px = 3.1 * _fs("tick") * figures.CSS_PX_PER_IN / 72  # "2024" and a gap
    most = max(2, int(width_px // label_px))
    if span > 30:
        years = span / 12
        ax.xaxis.set_major_locator(mdates.YearLocator(base=max(1, math.ceil(years / most)), month=4))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, math.ceil(span / min(most, 6)))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))


def _covid_band(ax, months: pd.DatetimeIndex, covid=None, label: bool = True) -> None:
    """Shade the COVID-19 first-lockdown window (config periods) when it lies inside the series."""
    if covid is False or not len(months):
        return
    if covid is None:
        p = settings()["periods"]
        covid = (p["covid_start"], p["covid_end"])
    start, end = pd.Timestamp(covid[0]), pd.Timestamp(covid[1])
    if end < months.min() or start > months.max():
        return
    ax.axvspan(
        start,
        end + pd.offsets.MonthEnd(0),
        color=_pal()["neutral"],
        alpha=0.18,
        lw=0,
        label="COVID-19 lockdown" if label else None,
        hatch="//",
    )


def _fits(fig, artist, ext=None) -> bool:
    """Whether ``artist`` (a legend: its width does not depend on the layout) is no wider than the figure
    (``ext``: its extent, when measured already)."""
    ext = artist.get_window_extent(fig.canvas.get_renderer()) if ext is None else ext
    return ext.x0 >= fig.bbox.x0 - 0.5 and ext.x1 <= fig.bbox.x1 + 0.5


def _legend_below(fig, ax, ncol: int = 2) -> None:
    """Legend under the plot, outside the axes (never over the data; constrained layout makes room).

    Tries up to ``ncol`` columns, with long labels wrapped to the column width, and keeps the lowest legend that
    is no wider than the figure.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    font_px = _fs("legend") * figures.CSS_PX_PER_IN / 72
    fig_px = fig.get_figwidth() * figures.CSS_PX_PER_IN
    longest = max(len(lab) for lab in labels)
    options = []
    for n in range(max(1, min(ncol, len(handles))), 0, -1):
        chars = int((fig_px / n - 3.4 * font_px) / (0.56 * font_px))  # room for the handle and the gap
        options += [(n, w) for w in sorted({longest, min(longest, chars), min(longest, chars - 4)}, reverse=True)
                    if w >= 10]
    best, tried = None, set()
    renderer = fig.canvas.get_renderer()
    for k, (n, width) in enumerate(options):
        wrapped = ["\n".join(textwrap.wrap(lab, width)) or lab for lab in labels]
        if (n, tuple(wrapped)) in tried:  # another width that wraps the labels the same: the same legend
            continue
        tried.add((n, tuple(wrapped)))
        legend = fig.legend(handles, wrapped, loc="outside lower center", ncol=n, frameon=False)
        ext = legend.get_window_extent(renderer)  # measured once: its fit and its height
        fits, height = _fits(fig, legend, ext), ext.height
        if fits and k == 0 and width == longest:
            # every label on one line, in the most columns: no other option is lower (each has as many rows or
            # more, each entry as many lines or more), so this is the one chosen; kept, not built again
            return
        legend.remove()
        if fits and (best is None or height < best[0] - 0.5):
            best = (height, n, wrapped)
    n, wrapped = (best[1], best[2]) if best else (1, ["\n".join(textwrap.wrap(lab, 24)) for lab in labels])
    fig.legend(handles, wrapped, loc="outside lower center", ncol=n, frameon=False)


def _marker_boxes(ax, pad: float = 2.0):
    """Display-pixel boxes ``(x0, y0, x1, y1)`` of every scatter marker on ``ax``."""
    import numpy as np

    boxes = []
    for coll in ax.collections:
        if not hasattr(coll, "get_sizes") or not len(coll.get_offsets()):
            continue
        sizes = np.asarray(coll.get_sizes(), dtype=float)
        if not len(sizes):
            continue
        pts = coll.get_offset_transform().transform(coll.get_offsets())
        for k, (px, py) in enumerate(pts):
            if not np.isfinite([px, py]).all():
                continue
            r = np.sqrt(sizes[k % len(sizes)]) / 2 * ax.figure.dpi / 72 + pad
            boxes.append((px - r, py - r, px + r, py + r))
    return boxes


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


#: Where a point label may go, tried in this order: (dx, dy) direction of the label box from the point.
_LABEL_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
_LABEL_OFFSETS = (5, 12, 22, 36, 54, 78, 110)  # CSS px from the marker's edge


def _place_labels(ax, xs, ys, texts, bold=None, required=None, fontsize: float | None = None) -> list:
    """Label points so that no label overlaps another label or any marker on the axes, and stays inside them.

    Each label tries positions right, left, above, below and on the diagonals of its point, nearest first,
    moving further out (with a thin leader line) until its box is clear of every placed label and every scatter
    marker. Call it last, once the title and legend are in place (they change the layout).

    Parameters
    ----------
    xs, ys : array-like
        Data coordinates of the points.
    texts : list of str
    bold : list of bool, optional
        Labels drawn bold (the page's own area).
    required : list of bool, optional
        Labels that are always drawn (at their clearest position if no position is clear); the others are left
        out when they do not fit (the table beside the chart has every value). Default: all required.
    fontsize : float, optional
        Points (default ``figures.font_pt.annotation``).

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels drawn.
    """
    fig = ax.figure
    fontsize = fontsize or _fs("annotation")
    n = len(texts)
    bold = list(bold) if bold is not None else [False] * n
    required = list(required) if required is not None else [True] * n
    if fig.stale:
        figures.lay_out(fig)  # the positions only: no pixels are painted here
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    frame = ax.get_window_extent(renderer)
    markers = _marker_boxes(ax)
    placed = []
    drawn = []
    order = sorted(range(n), key=lambda i: (not bold[i], not required[i], i))
    for i in order:
        px, py = to_px((xs[i], ys[i]))
        probe = ax.text(0, 0, str(texts[i]), fontsize=fontsize, fontweight="bold" if bold[i] else "normal")
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width, ext.height
        own = max([b[2] - px for b in markers if b[0] <= px <= b[2] and b[1] <= py <= b[3]] + [4.0])
        best, best_clash = None, None
        # a label that is only there because there is room stays beside its point (no leader lines across
        # the chart); the page's area and the outliers may go further out
        for off in _LABEL_OFFSETS if required[i] else _LABEL_OFFSETS[:2]:
            for dx, dy in _LABEL_DIRECTIONS:
                gap = own + off
                if dx > 0:
                    x0 = px + gap
                elif dx < 0:
                    x0 = px - gap - w
                else:  # above or below: centred, or slid along (still over its point) to stay inside the axes
                    x0 = min(max(px - w / 2, frame.x0 + 3), frame.x1 - 3 - w)
                y0 = py + gap if dy > 0 else (py - gap - h if dy < 0 else py - h / 2)
                box = (x0, y0, x0 + w, y0 + h)
                if box[0] < frame.x0 + 2 or box[2] > frame.x1 - 2 or box[1] < frame.y0 + 2 or box[3] > frame.y1 - 2:
                    continue
                clash = sum(_overlaps(box, b) for b in placed) * 10 + sum(_overlaps(box, b) for b in markers)
                lead = off > 12 or (dx != 0 and dy != 0)  # a leader line when the label is not beside its point
                if lead and not required[i]:
                    continue
                if clash == 0:
                    best, best_clash = (box, lead), 0
                    break
                if best_clash is None or clash < best_clash:
                    best, best_clash = (box, lead), clash
            if best_clash == 0:
                break
        if best is None or (best_clash and not required[i]):
            continue
        (box, lead) = best
        padded = (box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2)
        placed.append(padded)
        pt = 72 / fig.dpi  # offsets in points: the PNG is saved at another dpi
        ann = ax.annotate(
            str(texts[i]),
            (xs[i], ys[i]),
            xytext=((box[0] - px) * pt, (box[1] - py) * pt),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=fontsize,
            fontweight="bold" if bold[i] else "normal",
            arrowprops={"arrowstyle": "-", "color": "#555555", "lw": 0.7, "shrinkA": 0, "shrinkB": 2}
            if lead
            else None,
            bbox={"boxstyle": "square,pad=0", "fc": "white", "ec": "none", "alpha": 0.8},
            zorder=5,
        )
        ann.set_in_layout(False)
        drawn.append(ann)
    # the labels (and the measuring probes, removed) are outside the layout and move nothing in it: the layout
    # made above still holds, and show() paints with it
    fig.stale = False
    return drawn


def _col(frame: pd.DataFrame, *names: str) -> str:
    for n in names:
        if n in frame.columns:
            return n
    raise KeyError(f"frame needs one of the columns {names}; has {list(frame.columns)}")


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")
