"""Shared pieces of :mod:`svtools.publish.charts`: the house-style figure, title, date axis, COVID-19 band,
legend and label placement helpers, and the constants the charts share.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from svtools.publish import output
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

_TITLE_WIDTH = 62  # characters per title line at 7 in and 13 pt


def _pal() -> dict:
    return output.palette()


def _figure(height_in: float | None = None, nrows: int = 1, ncols: int = 1, **kwargs):
    """A house-style figure (theme applied, fixed width)."""
    import matplotlib.pyplot as plt

    output.set_theme()
    fig = output.figure_settings()
    return plt.subplots(
        nrows,
        ncols,
        figsize=(fig["width_in"], height_in or fig["height_in"]),
        dpi=fig["dpi"],
        layout="constrained",
        **kwargs,
    )


def _title(ax, title: str, width: int = _TITLE_WIDTH) -> None:
    """Left-aligned title wrapped to ``width`` characters (narrower when long tick labels push the axes
    right)."""
    if not title or not str(title).strip():
        raise ValueError("every chart needs a title")
    ax.set_title("\n".join(textwrap.wrap(str(title), width)), loc="left")


def _months(values) -> pd.DatetimeIndex:
    idx = pd.Index(values)
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    return pd.DatetimeIndex(pd.to_datetime(idx))


def _date_axis(ax, months: pd.DatetimeIndex) -> None:
    """Year ticks at April (financial years) for long series, otherwise every few months."""
    import matplotlib.dates as mdates

    span = len(pd.date_range(months.min(), months.max(), freq="MS")) if len(months) else 0
    if span > 30:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=4))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, span // 6)))
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


def _legend_below(fig, ax, ncol: int = 2) -> None:
    """Legend under the plot, outside the axes (never over the data; constrained layout makes room)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def _place_labels(ax, xs, ys, texts, bold=None, fontsize: float = 10.5) -> None:
    """Label points without overlaps: labels sit right of their point and are nudged apart vertically."""
    fig = ax.figure
    fig.canvas.draw()
    to_px = ax.transData.transform
    pts = [to_px((x, y)) for x, y in zip(xs, ys)]
    height = fontsize * fig.dpi / 72 * 1.25
    order = sorted(range(len(pts)), key=lambda i: pts[i][1])
    placed: list[tuple[float, float, float]] = []  # (x0, x1, y) in pixels
    for i in order:
        x0 = pts[i][0] + (12 if bold is not None and bold[i] else 7)
        x1 = x0 + 0.6 * fontsize * fig.dpi / 72 * len(str(texts[i]))
        y = pts[i][1] + 3
        for _ in range(50):
            clash = [p for p in placed if p[0] < x1 and x0 < p[1] and abs(p[2] - y) < height]
            if not clash:
                break
            y = max(p[2] for p in clash) + height
        placed.append((x0, x1, y))
        ax.annotate(
            str(texts[i]),
            (xs[i], ys[i]),
            xytext=(x0 - pts[i][0], y - pts[i][1]),
            textcoords="offset pixels",
            fontsize=fontsize,
            va="bottom",
            fontweight="bold" if bold is not None and bold[i] else "normal",
            arrowprops={"arrowstyle": "-", "color": "#777777", "lw": 0.6}
            if abs(y - pts[i][1] - 3) > 2
            else None,
        )


def _col(frame: pd.DataFrame, *names: str) -> str:
    for n in names:
        if n in frame.columns:
            return n
    raise KeyError(f"frame needs one of the columns {names}; has {list(frame.columns)}")


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")
