"""Trend and seasonality (``trend_seasonality.ipynb``): STL trend, seasonality, the trend model with its
forecast and the COVID-19 interrupted time series. Each needs at least 24 months of data.

Every section runs only on the monthly series the disclosure gate publishes for the area
(:func:`svtools.publish.tables.series_cube`: published monthly only when no month has 1 to 4 offences), so
every model output derives from published counts; otherwise the section is one line saying why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.publish import charts, disclosure, output, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _ci,
    _financial_years,
    _publish,
    _say,
    _show,
    _skip,
)

__all__ = [
    "stl_trend",
    "seasonality",
    "trend_model",
    "covid_interruption",
]


# =========================================================================== the published monthly series
_NOT_MONTHLY = (
    "the monthly series is not published for this area: some months have 1 to {t} offences (see the "
    "profile page's chart by quarter or year)"
)


def _published_monthly(ctx: ProfileContext):
    """(monthly series indexed by month-start Timestamps, its PublishedTable), or None when the gate does not
    publish the area's series by month."""
    if ctx.victim_ages:
        return None
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    if fam.resolution.get(ctx.code) != "month":
        return None
    s = fam.series(ctx.code)
    if s is None or s.isna().any():
        return None
    table = fam.cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=fam.levels["month"],
                           name=f"monthly_{ctx.definition.name}")
    series = pd.Series(s.astype("int64").to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(list(s.index),
                       format="%Y-%m"), name="month"), name="offences")
    return series, table


def _monthly_or_skip(ctx: ProfileContext, name: str, title: str, need: int = 24):
    """((series, table), None) for the published monthly series, or (None, one-line result)."""
    from svtools.publish.sections.context import _threshold

    if ctx.victim_ages:
        return None, _skip(ctx, name, title, "the monthly series is published for victims of all ages only")
    got = _published_monthly(ctx)
    if got is None:
        return None, _skip(ctx, name, title, _NOT_MONTHLY.format(t=_threshold()))
    monthly, _ = got
    if len(monthly) < need:
        return None, _skip(ctx, name, title,
                           f"it needs at least {need} months of data and {ctx.period} has {len(monthly)}")
    if monthly.sum() == 0:
        return None, _skip(ctx, name, title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    return got, None


def _trend_fit(monthly: pd.Series, interruption=None):
    """Fit the trend model (negative binomial) to a published monthly series, falling back to quasi-Poisson
    when the NB2 fit fails numerically (very small counts); returns (result, note)."""
    from svtools.analysis.trends import fit_trend_model, interrupted_time_series

    def fit(family):
        if interruption is None:
            return fit_trend_model(monthly, family=family)
        return interrupted_time_series(monthly, interruption, covid=False, family=family)

    try:
        return fit("negbin"), ""
    except (ArithmeticError, np.linalg.LinAlgError, ValueError) as exc:
        note = (
            f"The negative binomial fit failed ({type(exc).__name__}), so a quasi-Poisson model "
            "(Poisson with overdispersion-scaled intervals) is used."
        )
        return fit("quasipoisson"), note


def stl_trend(ctx: ProfileContext) -> SectionResult:
    """Seasonal-trend decomposition (STL): the monthly series, its trend and the seasonally adjusted
    series."""
    from svtools.analysis.trends import stl_decompose

    title = "The trend"
    got, skip = _monthly_or_skip(ctx, "stl_trend", title)
    if skip:
        return skip
    monthly, pub = got
    stl = stl_decompose(monthly)
    res = SectionResult(name="stl_trend", data=stl)
    t = stl.set_index("month")["trend"]
    first, last = t.iloc[0], t.iloc[-1]
    change = (last / first - 1) if first > 0 else float("nan")
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the STL trend and the "
        f"seasonally adjusted series. The trend moves from {first:.1f} a month in "
        f"{output.month_label(t.index[0])} to {last:.1f} in {output.month_label(t.index[-1])}"
        + (f" ({change:+.0%})" if np.isfinite(change) else "")
        + f"; its highest point is {t.max():.1f} in {output.month_label(t.idxmax())} and its lowest "
        f"{t.min():.1f} in {output.month_label(t.idxmin())}."
    )
    _show(
        charts.trend_chart(disclosure.derived(stl, pub), title=f"{ctx.what_short.capitalize()} per month and its trend, {ctx.name}"),
        alt,
        res,
    )
    fy = pd.Series(_financial_years(stl["month"]))
    yearly = (
        pd.DataFrame({"Financial year": fy, "trend": stl["trend"], "sa": stl["seasonally_adjusted"]})
        .groupby("Financial year")
        .agg(months=("trend", "size"), trend=("trend", "mean"), sa=("sa", "mean"))
        .reset_index()
    )
    table = pd.DataFrame(
        {
            "Financial year": yearly["Financial year"],
            "Months": yearly["months"],
            "Trend (offences a month)": yearly["trend"].round(1),
            "Seasonally adjusted (offences a month)": yearly["sa"].round(1),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "stl_trend",
        f"Average monthly trend by financial year, {ctx.name}",
        note="STL decomposition (Cleveland et al. 1990), robust fit; averages of monthly values, not counts.",
        counts=[],
    )
    sentence = f"The underlying trend went from {first:.1f} offences a month to {last:.1f}" + (
        f" ({change:+.0%})." if np.isfinite(change) else "."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"trend_first": float(first), "trend_last": float(last), "trend_change": float(change)}
    return res


def seasonality(ctx: ProfileContext) -> SectionResult:
    """The seasonal pattern: the average STL seasonal component by calendar month, with the trend model's
    seasonal curve, its peak month and amplitude."""
    from svtools.analysis.trends import stl_decompose

    title = "The seasonal pattern"
    got, skip = _monthly_or_skip(ctx, "seasonality", title)
    if skip:
        return skip
    monthly, pub = got
    stl = stl_decompose(monthly)
    prof = stl.groupby(pd.DatetimeIndex(stl["month"]).month)["seasonal"].mean()
    profile = pd.DataFrame({"month_of_year": prof.index.astype(int), "value": prof.to_numpy()})
    model, fit_note = _trend_fit(monthly)
    if fit_note:
        _say(fit_note)
    res = SectionResult(name="seasonality", data=profile)
    mean_level = float(monthly.mean())
    m = np.arange(1, 13)
    curve = None
    # the model's seasonal curve relative to its mean, in offences a month at the average level
    amp, peak = model.seasonal_log_amplitude, model.seasonal_peak
    if np.isfinite(amp) and np.isfinite(peak):
        rel = np.exp(amp * np.cos(2 * np.pi * (m - peak) / 12))
        curve = pd.DataFrame({"month_of_year": m, "value": mean_level * (rel / rel.mean() - 1)})
    month_names = [pd.Timestamp(2000, k, 1).strftime("%B") for k in range(1, 13)]
    hi, lo = int(prof.idxmax()), int(prof.idxmin())
    peak_month = month_names[model.seasonal_peak_month - 1]
    alt = (
        f"Bar chart of the seasonal pattern of {ctx.what} in {ctx.name}: average difference from the "
        "trend by "
        f"calendar month, {ctx.period}. Highest in {month_names[hi - 1]} ({prof.max():+.1f} offences a "
        "month), "
        f"lowest in {month_names[lo - 1]} ({prof.min():+.1f}). The trend model puts the peak in "
        f"{peak_month}, "
        f"with the peak month {model.seasonal_amplitude:.2f} times the average month."
    )
    _show(
        charts.seasonal_chart(
            disclosure.derived(profile, pub), title=f"Seasonal pattern of {ctx.what_short}, {ctx.name}", model=curve
        ),
        alt,
        res,
    )
    sentence = (
        f"Offences peak in **{peak_month}**: the peak month runs at {model.seasonal_amplitude:.2f} times the "
        f"average month (peak {model.seasonal_peak:.1f}, {_ci(*model.seasonal_peak_ci, nd=1)} on a 0-12 "
        "month scale)."
    )
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame(
        {"Month": month_names, "Seasonal effect (offences a month)": prof.round(2).to_numpy()}
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "seasonal_pattern",
        f"Seasonal pattern by calendar month, {ctx.name}",
        note="Mean of the STL seasonal component for each calendar month: the average number of "
        "offences above (+) or below (-) the trend.",
        counts=[],
    )
    res.values = {
        "peak_month": int(model.seasonal_peak_month),
        "amplitude": float(model.seasonal_amplitude),
        "stl_peak_month": hi,
        "family": model.family,
    }
    return res


def trend_model(ctx: ProfileContext, horizon: int = 12) -> SectionResult:
    """The log-linear trend model (negative binomial): annual rate ratio with its interval, the COVID-19
    lockdown rate ratio, and a 12-month forecast with its 95% prediction band."""
    title = "The trend model and forecast"
    got, skip = _monthly_or_skip(ctx, "trend_model", title)
    if skip:
        return skip
    monthly, pub = got
    model, fit_note = _trend_fit(monthly)
    if fit_note:
        _say(fit_note)
    fc = model.forecast(horizon)
    res = SectionResult(name="trend_model", data=model.summary())
    rr, (lo, hi) = model.annual_rate_ratio, model.annual_rate_ratio_ci
    direction = "are **falling**" if hi < 1 else "are **rising**" if lo > 1 else "show **no clear change**"
    sentence = (
        f"Allowing for the season and the first COVID-19 lockdown, offences of {ctx.what} in {ctx.name} "
        f"{direction}: the annual rate ratio is {rr:.3f} ({_ci(lo, hi, 3)}), i.e. "
        f"{(rr - 1):+.1%} a year."
    )
    if np.isfinite(model.covid_rate_ratio):
        sentence += (
            f" During the lockdown (April to June 2020) offences were {model.covid_rate_ratio:.2f} times "
            f"the expected level ({_ci(*model.covid_rate_ratio_ci)})."
        )
    _say(sentence)
    res.message = sentence
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the fitted trend model "
        f"and a {horizon}-month forecast. Annual rate ratio {rr:.3f} ({_ci(lo, hi, 3)}). The forecast for "
        f"{output.month_label(fc['month'].iloc[0])} to {output.month_label(fc['month'].iloc[-1])} ranges from "
        f"{fc['expected'].min():.1f} to {fc['expected'].max():.1f} offences a month, with 95% prediction "
        f"limits from {fc['lower'].min():.0f} to {fc['upper'].max():.0f}."
    )
    _show(
        charts.forecast_chart(
            disclosure.derived(monthly, pub),
            fc,
            fitted=model.fitted,
            title=f"Trend model and {horizon}-month forecast, {ctx.name}",
        ),
        alt,
        res,
    )
    summ = model.summary()
    table = pd.DataFrame(
        {
            "Measure": summ["measure"],
            "Estimate": summ["estimate"].round(3),
            "Lower 95% CI": summ["lower"].round(3),
            "Upper 95% CI": summ["upper"].round(3),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "trend_model",
        f"Trend model estimates, {ctx.name}, {ctx.period}",
        note=f"Log-linear count model ({model.family}): trend, one seasonal harmonic and "
        "a COVID-19 lockdown term. Rate ratios per year.",
        counts=[],
    )
    ftable = pd.DataFrame(
        {
            "Month": pd.DatetimeIndex(fc["month"]).strftime("%b %Y"),
            "Expected offences": fc["expected"].round(1),
            "Lower 95% prediction limit": fc["lower"].round(0),
            "Upper 95% prediction limit": fc["upper"].round(0),
        }
    )
    _publish(
        ctx,
        ftable,
        "forecast",
        f"Forecast, {ctx.name}",
        note="Model expectations, not recorded counts.",
        counts=[],
    )
    res.values = {
        "annual_rate_ratio": rr,
        "annual_rate_ratio_ci": (lo, hi),
        "covid_rate_ratio": model.covid_rate_ratio,
        "forecast": fc,
        "family": model.family,
    }
    return res


def covid_interruption(ctx: ProfileContext) -> SectionResult:
    """The COVID-19 interruption as an interrupted time series: level change at the first lockdown and the
    change in trend after it."""
    title = "The COVID-19 interruption"
    got, skip = _monthly_or_skip(ctx, "covid_interruption", title)
    if skip:
        return skip
    monthly, pub = got
    start = pd.Timestamp(config.settings()["periods"]["covid_start"])
    months = monthly.index
    if (months < start).sum() < 6 or (months >= start).sum() < 6:
        return _skip(
            ctx,
            "covid_interruption",
            title,
            f"the period ({ctx.period}) needs at least 6 months before and after {start:%B %Y}",
        )
    its, fit_note = _trend_fit(monthly, interruption=start)
    if fit_note:
        _say(fit_note)
    res = SectionResult(name="covid_interruption", data=its.table)
    lvl, (l_lo, l_hi) = its.level_change, its.level_change_ci
    sl, (s_lo, s_hi) = its.slope_change, its.slope_change_ci
    sentence = (
        f"At the first lockdown ({start:%B %Y}) offences stepped by a factor of {lvl:.2f} "
        f"({_ci(l_lo, l_hi)}); the yearly trend was {its.pre_trend[0]:.3f} before and "
        f"{its.post_trend[0]:.3f} "
        f"after (ratio {sl:.3f}, {_ci(s_lo, s_hi, 3)})."
    )
    _say(sentence)
    res.message = sentence
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with a segmented regression "
        f"model interrupted in {start:%B %Y} and the expected series without the interruption. Level change "
        f"{lvl:.2f} ({_ci(l_lo, l_hi)}); annual rate ratio {its.pre_trend[0]:.3f} before and "
        f"{its.post_trend[0]:.3f} after."
    )
    _show(
        charts.its_chart(
            disclosure.derived(its.fitted, pub),
            its.interruption,
            title=f"The COVID-19 interruption, {ctx.name}",
            interruption_label="First lockdown",
        ),
        alt,
        res,
    )
    table = pd.DataFrame(
        {
            "Measure": its.table["measure"],
            "Estimate": its.table["estimate"].round(3),
            "Lower 95% CI": its.table["lower"].round(3),
            "Upper 95% CI": its.table["upper"].round(3),
            "p-value": its.table["p_value"].round(3),
        }
    )
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "covid_interruption",
        f"Interrupted time series at the first lockdown, {ctx.name}",
        note="Segmented negative binomial regression with one seasonal harmonic (Bernal et al. 2017).",
        counts=[],
    )
    res.values = {
        "level_change": lvl,
        "level_change_ci": (l_lo, l_hi),
        "slope_change": sl,
        "family": its.model.family,
    }
    return res
