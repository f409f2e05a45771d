"""Domain charts for the profiles: SPC, funnel plots, trends, seasonality, forecasts, pyramids, heatmaps,
deprivation gradients, Lorenz curves and bar charts.

Every function takes tidy numbers (already computed by the tested svtools functions), builds one
matplotlib figure in the house style of :mod:`svtools.publish.output` (7 in wide at 96 dpi, large fonts, the
colour-blind-safe Okabe-Ito palette from ``config/settings.yaml``) and returns it; :func:`svtools.publish.output.show`
displays it with alt text. Nothing here computes statistics or reads data.

Accessibility rules followed by every chart (WCAG 2.2 AA "use of colour"): colour is never the only cue. SPC
points differ in marker shape as well as colour, limit lines differ in line style, bars carry value labels or
the legend names the series, and the busiest heatmap cell is outlined and labelled in words.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd

from svtools.publish import output
from svtools.publish.disclosure import require_gate_frame
from svtools.config import settings

__all__ = [
    "SPC_STYLES",
    "DAY_NAMES",
    "spc_chart",
    "funnel_plot",
    "trend_chart",
    "seasonal_chart",
    "forecast_chart",
    "its_chart",
    "yearly_chart",
    "pyramid_chart",
    "day_hour_heatmap",
    "gradient_chart",
    "lorenz_chart",
    "bar_chart",
    "completeness_chart",
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


# --------------------------------------------------------------------------- SPC
def spc_chart(
    data: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "Offences per month",
    xlabel: str = "Month",
    trial_limits: bool = False,
):
    """NHS "Making Data Count" XmR (individuals) chart.

    Parameters
    ----------
    data : DataFrame
        ``month, value, mean, lower, upper, variation``: one row per month; ``mean``/``lower``/``upper`` are
        the centre line and process limits (may vary when limits are recalculated); ``variation`` is
        ``"common cause"``, ``"improvement"`` or ``"concern"``.
    title, ylabel, xlabel : str
    trial_limits : bool
        Label the limits as trial limits (fewer than ``spc.min_points`` months).
    """
    require_gate_frame(data, "spc_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(data["month"])
    value = data["value"].to_numpy(dtype=float)
    ax.plot(months, value, color=pal["common_cause"], lw=1.5, zorder=2)
    kind = "Trial process limits" if trial_limits else "Process limits"
    ax.plot(months, data["mean"].to_numpy(dtype=float), color="#000000", lw=1.5, label="Mean", zorder=1)
    ax.plot(
        months, data["upper"].to_numpy(dtype=float), color="#555555", lw=1.3, ls="--", label=kind, zorder=1
    )
    ax.plot(months, data["lower"].to_numpy(dtype=float), color="#555555", lw=1.3, ls="--", zorder=1)
    variation = data["variation"].astype(str).str.lower().to_numpy()
    for key, (pal_key, marker, label) in SPC_STYLES.items():
        sel = variation == key
        if sel.any() or key == "common cause":
            ax.scatter(
                months[sel],
                value[sel],
                s=46 if key == "common cause" else 70,
                marker=marker,
                color=pal[pal_key],
                edgecolor="#000000" if key != "common cause" else pal[pal_key],
                linewidth=0.6,
                label=label,
                zorder=3,
            )
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


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
        Label every point (default: when there are at most 15 points; otherwise only the highlighted area and
        areas outside the 99.8% limits).
    """
    require_gate_frame(points, "funnel_plot")
    pal = _pal()
    fig, ax = _figure(4.4)
    lim = limits.sort_values("denominator")
    x = lim["denominator"].to_numpy(dtype=float)
    ax.plot(x, lim["upper_998"], color="#333333", ls="--", lw=1.3, label="99.8% limits")
    ax.plot(x, lim["lower_998"], color="#333333", ls="--", lw=1.3)
    ax.plot(x, lim["upper_95"], color="#333333", ls=":", lw=1.5, label="95% limits")
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
    ax.scatter(
        pts.loc[other, "denominator"],
        pts.loc[other, "value"],
        s=48,
        marker="o",
        color=pal["primary"],
        edgecolor="#000000",
        linewidth=0.5,
        label="Other areas",
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
    show_label = [bool(label_all or is_hl[i] or signal[i] in ("high", "low")) for i in pts.index]
    sel = [i for i in pts.index if show_label[i]]
    _place_labels(
        ax,
        pts.loc[sel, "denominator"].to_numpy(dtype=float),
        pts.loc[sel, "value"].to_numpy(dtype=float),
        pts.loc[sel, "label"].astype(str).tolist(),
        bold=[bool(is_hl[i]) for i in sel],
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_formatter(_thousands())
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")


# --------------------------------------------------------------------------- trends
def trend_chart(
    stl: pd.DataFrame, *, title: str, ylabel: str = "Offences per month", xlabel: str = "Month", covid=None
):
    """Monthly counts with the STL trend and the seasonally adjusted series.

    Parameters
    ----------
    stl : DataFrame
        ``month, observed, trend`` and optionally ``seasonally_adjusted``
        (:func:`svtools.analysis.trends.stl_decompose`).
    """
    require_gate_frame(stl, "trend_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(stl["month"])
    _covid_band(ax, months, covid)
    ax.plot(
        months, stl["observed"], color=pal["neutral"], lw=1, marker="o", ms=3.5, label="Recorded each month"
    )
    if "seasonally_adjusted" in stl.columns:
        ax.plot(
            months,
            stl["seasonally_adjusted"],
            color=pal["secondary"],
            lw=1.3,
            ls="--",
            label="Seasonally adjusted",
        )
    ax.plot(months, stl["trend"], color=pal["primary"], lw=3, label="Trend (STL)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


def seasonal_chart(
    profile: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "Difference from trend (offences)",
    xlabel: str = "Month of year",
    model: pd.DataFrame | None = None,
):
    """Seasonal pattern by calendar month.

    Parameters
    ----------
    profile : DataFrame
        ``month_of_year`` (1-12) and ``value`` (e.g. mean STL seasonal component; positive = above trend).
    model : DataFrame, optional
        ``month_of_year, value`` of a fitted seasonal curve drawn as a line on the same scale.
    """
    require_gate_frame(profile, "seasonal_chart")
    pal = _pal()
    fig, ax = _figure()
    prof = profile.sort_values("month_of_year")
    m = prof["month_of_year"].to_numpy(dtype=int)
    v = prof["value"].to_numpy(dtype=float)
    colours = [pal["highlight"] if val >= 0 else pal["primary"] for val in v]
    hatches = ["" if val >= 0 else "//" for val in v]
    bars = ax.bar(m, v, color=colours, edgecolor="#000000", linewidth=0.5)
    for bar, h in zip(bars, hatches):
        bar.set_hatch(h)
    if len(v):
        peak = int(np.argmax(v))
        ax.annotate(
            "peak",
            (m[peak], v[peak]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=11,
            fontweight="bold",
        )
    if model is not None:
        mod = model.sort_values("month_of_year")
        ax.plot(
            mod["month_of_year"],
            mod["value"],
            color="#000000",
            lw=2,
            marker="o",
            ms=4,
            label="Trend model seasonal curve",
        )
        _legend_below(fig, ax, ncol=1)
    ax.axhline(0, color="#000000", lw=1)
    ax.set_xticks(range(1, 13), [pd.Timestamp(2000, k, 1).strftime("%b") for k in range(1, 13)])
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _title(ax, title)
    return fig


def forecast_chart(
    observed: pd.Series,
    forecast: pd.DataFrame,
    *,
    title: str,
    fitted: pd.DataFrame | None = None,
    ylabel: str = "Offences per month",
    xlabel: str = "Month",
    covid=None,
):
    """Observed monthly counts, the fitted trend model and the forecast with its prediction band.

    Parameters
    ----------
    observed : Series
        Offences indexed by month.
    forecast : DataFrame
        ``month, expected, lower, upper`` (:meth:`svtools.analysis.trends.TrendModelResult.forecast`).
    fitted : DataFrame, optional
        ``month, fitted`` (the model's expected counts over the observed months).
    """
    require_gate_frame(observed, "forecast_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(observed.index)
    _covid_band(ax, months, covid)
    ax.plot(
        months,
        observed.to_numpy(dtype=float),
        color=pal["neutral"],
        lw=1,
        marker="o",
        ms=3.5,
        label="Recorded",
    )
    if fitted is not None:
        ax.plot(_months(fitted["month"]), fitted["fitted"], color=pal["primary"], lw=2.2, label="Trend model")
    fm = _months(forecast["month"])
    ax.fill_between(
        fm,
        forecast["lower"],
        forecast["upper"],
        color=pal["secondary"],
        alpha=0.35,
        lw=0,
        label="95% prediction interval",
    )
    ax.plot(fm, forecast["expected"], color=pal["highlight"], lw=2.2, ls="--", label="Forecast")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months.append(fm))
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


def its_chart(
    fitted: pd.DataFrame,
    interruption,
    *,
    title: str,
    ylabel: str = "Offences per month",
    xlabel: str = "Month",
    interruption_label: str = "Interruption",
):
    """Interrupted time series: observed counts, the fitted segmented model and the counterfactual.

    Parameters
    ----------
    fitted : DataFrame
        ``month, observed, fitted, counterfactual`` (:class:`svtools.analysis.trends.ITSResult` ``.fitted``).
    interruption : date-like
        First month after the interruption (a vertical line).
    """
    require_gate_frame(fitted, "its_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(fitted["month"])
    ax.plot(months, fitted["observed"], color=pal["neutral"], lw=1, marker="o", ms=3.5, label="Recorded")
    ax.plot(months, fitted["fitted"], color=pal["primary"], lw=2.2, label="Model")
    post = months >= pd.Timestamp(interruption)
    ax.plot(
        months[post],
        fitted["counterfactual"].to_numpy(dtype=float)[post],
        color=pal["highlight"],
        lw=2.2,
        ls="--",
        label="Without the interruption",
    )
    ax.axvline(pd.Timestamp(interruption), color="#000000", lw=1.2, ls="-.")
    ax.annotate(
        interruption_label,
        (pd.Timestamp(interruption), 1),
        xycoords=("data", "axes fraction"),
        xytext=(4, -14),
        textcoords="offset points",
        fontsize=11,
    )
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=3)
    return fig


def yearly_chart(
    table: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "Offences",
    xlabel: str = "Financial year",
    baseline: str | None = None,
    series: Sequence[str] | None = None,
):
    """Grouped bars by financial year (e.g. all ages and under 25), with value labels and the baseline marked.

    Parameters
    ----------
    table : DataFrame
        ``financial_year`` and one numeric column per series (NaN = suppressed or not available: no bar,
        labelled "*").
    baseline : str, optional
        Baseline financial year (default ``periods.baseline_financial_year``), whose label is marked.
    series : sequence of str, optional
        Columns to draw (default: every column but ``financial_year``).
    """
    require_gate_frame(table, "yearly_chart")
    pal = _pal()
    fig, ax = _figure()
    baseline = baseline or settings()["periods"]["baseline_financial_year"]
    series = list(series or [c for c in table.columns if c != "financial_year"])
    years = table["financial_year"].astype(str).tolist()
    x = np.arange(len(years))
    width = 0.8 / max(1, len(series))
    hatches = ["", "//", "..", "xx"]
    for k, name in enumerate(series):
        vals = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
        pos = x - 0.4 + width * (k + 0.5)
        bars = ax.bar(
            pos,
            np.nan_to_num(vals),
            width,
            color=pal["sequence"][k % len(pal["sequence"])],
            edgecolor="#000000",
            linewidth=0.5,
            hatch=hatches[k % len(hatches)],
            label=str(name),
        )
        labels = ["*" if np.isnan(v) else f"{v:,.0f}" for v in vals]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=10)
    ax.set_xticks(x, [f"{y}\n(baseline)" if y == baseline else y for y in years])
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.margins(y=0.12)
    _title(ax, title)
    if len(series) > 1:
        _legend_below(fig, ax, ncol=len(series))
    return fig


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

    ax.bar_label(bm, labels=[fmt(v) for v in male], padding=2, fontsize=10)
    ax.bar_label(bf, labels=[fmt(v) for v in female], padding=2, fontsize=10)
    ax.set_yticks(y, data["age_band"].astype(str).tolist())
    top = np.nanmax(np.r_[np.nan_to_num(male), np.nan_to_num(female), 1e-9])
    ax.set_xlim(-top * 1.3, top * 1.3)
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}" if top > 1 else f"{abs(v):.0%}"))
    ax.axvline(0, color="#000000", lw=1)
    ax.text(0.02, 0.98, "Male", transform=ax.transAxes, ha="left", va="top", fontsize=12, fontweight="bold")
    ax.text(
        0.98, 0.98, "Female", transform=ax.transAxes, ha="right", va="top", fontsize=12, fontweight="bold"
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
):
    """Day-of-week x hour-of-day heatmap (cividis), the busiest cell outlined and named.

    Parameters
    ----------
    table : DataFrame
        7 rows (days, Monday first; the index gives the labels) x 24 columns (hours 0-23). NaN cells (e.g.
        suppressed) are left blank.
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
    ax.set_xticks(np.arange(0, len(hours), 3) + 0.5, [f"{int(h):02d}" for h in hours[::3]])
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
            c + 0.5, r + 0.5, "X", ha="center", va="center", fontsize=11, fontweight="bold", color="#D55E00"
        )
        busiest = f"\nX = busiest hour: {table.index[r]} {int(hours[c]):02d}:00 to {int(hours[c]):02d}:59"
    ax.grid(False)
    ax.set_xlabel(xlabel + busiest)
    ax.set_ylabel(ylabel)
    _title(ax, title)
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
            fontsize=11,
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
    fig, ax = _figure(4.4)
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
            fontsize=11,
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
    fig, ax = _figure(max(2.6, 0.38 * n + 1.5))
    y = np.arange(n)
    vals = pd.to_numeric(d[value], errors="coerce").to_numpy(dtype=float)
    labels = d[label].astype(str).tolist()
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
            xi + span * 0.01, yi, "*" if np.isnan(v) else value_format.format(v), va="center", fontsize=10.5
        )
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="#000000", ls="--", lw=1.3, label=f"{reference_label} ({reference:,.2f})")
    ax.set_yticks(y, labels)
    for tick, h in zip(ax.get_yticklabels(), is_hl):
        if h:
            tick.set_fontweight("bold")
    ax.set_xlim(0, span * 1.18)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or label.replace("_", " ").capitalize())
    ax.grid(axis="y", visible=False)
    longest = max([len(lab) for lab in labels] + [0])
    _title(ax, title, width=max(28, _TITLE_WIDTH - int(longest * 0.95) - 3))
    if (lower is not None and upper is not None) or reference is not None:
        ax.legend(loc="lower right", frameon=True, framealpha=0.95, fontsize=10)
    return fig


# --------------------------------------------------------------------------- data quality
def completeness_chart(
    table: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "Records with the field filled in",
    xlabel: str = "Month",
):
    """Share of records with each field known, by month: one line per field, each with its own marker.

    Parameters
    ----------
    table : DataFrame
        Indexed by month; one column per field with shares 0-1 (:func:`svtools.analysis.quality.completeness_by_month`
        without its ``records`` column).
    """
    pal = _pal()
    fig, ax = _figure(4.4)
    months = _months(table.index)
    markers = ["o", "s", "^", "v", "D", "P", "X", "*"]
    styles = ["-", "--", "-.", ":"]
    for k, col in enumerate(table.columns):
        ax.plot(
            months,
            table[col].to_numpy(dtype=float),
            color=pal["sequence"][k % len(pal["sequence"])],
            marker=markers[k % len(markers)],
            ms=4,
            markevery=max(1, len(months) // 12),
            ls=styles[k % len(styles)],
            lw=1.6,
            label=str(col),
        )
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig
