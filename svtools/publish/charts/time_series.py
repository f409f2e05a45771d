"""Time-series charts: SPC (XmR), trend, seasonality, forecast, interrupted time series, financial-year
bars and data completeness by month. Part of :mod:`svtools.publish.charts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from svtools.publish.charts.common import (
    SPC_STYLES,
    _pal,
    _figure,
    _title,
    _months,
    _date_axis,
    _covid_band,
    _legend_below,
    _fs,
    _height,
)
from svtools.publish import figures
from svtools.publish.disclosure import require_gate_frame
from svtools.config import settings

__all__ = [
    "spc_chart",
    "rolling_chart",
    "trend_chart",
    "seasonal_chart",
    "forecast_chart",
    "its_chart",
    "yearly_chart",
    "completeness_chart",
]


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
        ``month, value, mean, lower, upper, variation``: one row per point (``month`` is the period start);
        ``mean``/``lower``/``upper`` are the centre line and process limits (may vary when limits are
        recalculated); ``variation`` is ``"common cause"``, ``"improvement"`` or ``"concern"``.
    title, ylabel, xlabel : str
    trial_limits : bool
        Label the limits as trial limits (fewer than ``spc.min_points`` points).

    Notes
    -----
    Limits are drawn **as calculated**, as NHSRplotthedots and the Making Data Count tools draw them (the
    package's vignette shows a lower process limit of -0.72; its maintainers leave any floor to the axis,
    issue #154). A lower limit below 0 is not clipped to 0: the axis extends below 0, the area below 0 is
    shaded and labelled "no count can fall here", so the chart shows that a single low point cannot be a
    signal (no count can fall below the limit) while runs and trends still can. Clipping it to 0 would draw a
    limit the calculation did not give and suggest that a month of 0 would be on it.
    """
    require_gate_frame(data, "spc_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(data["month"])
    value = data["value"].to_numpy(dtype=float)
    lower = data["lower"].to_numpy(dtype=float)
    ax.plot(months, value, color=pal["common_cause"], lw=1.5, zorder=2)
    kind = "Trial process limits" if trial_limits else "Process limits"
    ax.plot(months, data["mean"].to_numpy(dtype=float), color="#000000", lw=1.5, label="Mean", zorder=1)
    ax.plot(
        months, data["upper"].to_numpy(dtype=float), color="#555555", lw=1.3, ls="--", label=kind, zorder=1
    )
    ax.plot(months, lower, color="#555555", lw=1.3, ls="--", zorder=1)
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
    low = np.nanmin(lower) if np.isfinite(lower).any() else 0.0
    if low < 0:
        top = max(np.nanmax(data["upper"].to_numpy(dtype=float)), np.nanmax(value))
        bottom = low - 0.06 * (top - low)
        ax.set_ylim(bottom=bottom)
        ax.axhspan(bottom, 0, color=pal["neutral"], alpha=0.15, lw=0, hatch="..", zorder=0,
                   label="Below 0: no count can fall here")
        ax.axhline(0, color="#000000", lw=0.8, zorder=1)
    else:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=2)
    return fig


def rolling_chart(
    data: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "Offences in the last 12 months",
    xlabel: str = "Month (end of the 12 months)",
):
    """Rolling 12-month totals as a plain line: no process limits and no special-cause rules.

    Parameters
    ----------
    data : DataFrame
        ``month`` (last month of each 12-month window) and ``value`` (offences in the window), derived from a
        gated table's published counts.

    Notes
    -----
    Successive rolling totals share 11 of their 12 months, so they are not independent points and XmR limits
    would be far too narrow; the chart says so in its legend instead of drawing limits.
    """
    require_gate_frame(data, "rolling_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(data["month"])
    ax.plot(months, data["value"].to_numpy(dtype=float), color=pal["primary"], lw=2.2, marker="o", ms=3,
            label="Offences in the 12 months to this point (no SPC limits: the totals overlap)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=1)
    return fig


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
            fontsize=_fs("annotation"),
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
    window_end=None,
):
    """Observed counts, the model's "expected without the interruption" line and the model during it.

    Parameters
    ----------
    fitted : DataFrame
        ``month, observed, fitted, counterfactual``: recorded offences a month, the model's expected offences
        and its expected offences with the interruption terms off
        (:meth:`svtools.analysis.trends.TrendModelResult.fitted`).
    interruption : date-like
        First month of the interruption.
    window_end : date-like, optional
        Last month of a temporary interruption (the first lockdown): the window is shaded, the counterfactual
        ("expected without COVID") is drawn over the whole series and the model's own line only inside the
        window (outside it the two are the same). Without it (a lasting interruption) the model is drawn
        throughout and the counterfactual from the interruption on.
    """
    require_gate_frame(fitted, "its_chart")
    pal = _pal()
    fig, ax = _figure()
    months = _months(fitted["month"])
    start = pd.Timestamp(interruption)
    ax.plot(months, fitted["observed"], color=pal["neutral"], lw=1, marker="o", ms=3.5, label="Recorded")
    cf = fitted["counterfactual"].to_numpy(dtype=float)
    model = fitted["fitted"].to_numpy(dtype=float)
    if window_end is not None:
        end = pd.Timestamp(window_end)
        ax.axvspan(start, end + pd.offsets.MonthEnd(0), color=pal["neutral"], alpha=0.18, lw=0, hatch="//",
                   label=interruption_label)
        ax.plot(months, cf, color=pal["primary"], lw=2.2, label="Expected without COVID (trend and season)")
        inside = (months >= start) & (months <= end)
        ax.plot(months[inside], model[inside], color=pal["highlight"], lw=2.6, ls="--", marker="s", ms=5,
                label="Model in the lockdown")
        ncol = 2
    else:
        ax.plot(months, model, color=pal["primary"], lw=2.2, label="Model")
        post = months >= start
        ax.plot(months[post], cf[post], color=pal["highlight"], lw=2.2, ls="--",
                label="Without the interruption")
        ax.axvline(start, color="#000000", lw=1.2, ls="-.")
        ax.annotate(interruption_label, (start, 1), xycoords=("data", "axes fraction"), xytext=(4, -14),
                    textcoords="offset points", fontsize=_fs("annotation"))
        ncol = 3
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _date_axis(ax, months)
    _title(ax, title)
    _legend_below(fig, ax, ncol=ncol)
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
    value_labels = []
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
        value_labels += ax.bar_label(bars, labels=labels, padding=2, fontsize=_fs("annotation"))
    ax.set_xticks(x, [f"{y}\n(baseline)" if y == baseline else y for y in years])
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.margins(y=0.12)
    _title(ax, title)
    if len(series) > 1:
        _legend_below(fig, ax, ncol=len(series))
    figures.lay_out(fig)  # the positions only: no pixels are painted here
    renderer = fig.canvas.get_renderer()
    bar_px = ax.get_window_extent(renderer).width / max(1, len(years)) * width
    widths = [t.get_window_extent(renderer).width for t in value_labels]
    if widths and max(widths) > bar_px:
        for t in value_labels:  # wider than their bars: they would run into the next bar's label
            t.set_rotation(90)
        height = ax.get_window_extent(renderer).height
        top = float(np.nanmax([np.nanmax(pd.to_numeric(table[n], errors="coerce")) for n in series] + [0]))
        room = min(0.6, (max(widths) + 8) / max(height, 1.0))  # the upright labels need this share of the axes
        ax.set_ylim(0, max(top, 1e-9) / (1 - room))
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
    fig, ax = _figure(_height("tall"))
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
