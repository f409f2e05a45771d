"""Trend and seasonality (``trend_seasonality.ipynb``): STL trend, seasonality, the trend model with its
forecast and the first COVID-19 lockdown. Each needs at least 24 months of data.

The seasonality, trend-model and COVID-19 sections read **one** fit of one model
(:func:`svtools.analysis.trends.covid_trend_model`: trend, one seasonal harmonic and a temporary term for the
first lockdown, with the area's residents by month as a population offset), so a page gives one trend and one
lockdown answer. Without a population for the area the model is of counts and the page says its ratios are
ratios of counts.

Every section runs only on the monthly series the disclosure gate publishes for the area
(:func:`svtools.publish.tables.series_cube`: published monthly only when no month has 1 to 4 offences), so
every model output derives from published counts; otherwise the section is one line saying why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.analysis.trends import family_sentence, family_words
from svtools.publish import charts, disclosure, output, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _ci,
    _financial_years,
    _fmt,
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


#: The one model of each published monthly series, per process: the trend, seasonality and COVID-19 sections
#: of a page all read the same fit (so the page gives one trend and one lockdown answer).
_MODELS: dict = {}


def _population_offset(ctx: ProfileContext, months: pd.DatetimeIndex):
    """(residents by month or None, one sentence on the denominator) for the trend model's offset."""
    from svtools.analysis.population import year_note

    try:
        pop = ctx.monthly_residents()
        table = ctx.residents(list(dict.fromkeys(_financial_years(months))))
    except Exception as exc:  # no population table, or none for this area: a model of counts, said so
        return None, (f"No resident population is available for {ctx.name} ({type(exc).__name__}), so the "
                      "model is of counts and its ratios are ratios of counts, not of rates.")
    pop = pop.reindex(months)
    if pop.isna().any() or (pop <= 0).any():
        return None, (f"The resident population of {ctx.name} is not known for every month, so the model is of "
                      "counts and its ratios are ratios of counts, not of rates.")
    return pop, year_note(table)


def _model(ctx: ProfileContext, monthly: pd.Series):
    """(the trend model, fit note, population note), fitted once per area, definition and period."""
    from svtools.analysis.trends import covid_trend_model

    key = (ctx.dataset, ctx.code, ctx.definition.name, str(ctx.period_start), str(ctx.period_end),
           tuple(monthly.to_numpy().tolist()))
    if key not in _MODELS:
        pop, pop_note = _population_offset(ctx, monthly.index)
        model, note = covid_trend_model(monthly, population=pop)
        _MODELS.clear() if len(_MODELS) > 64 else None
        _MODELS[key] = (model, note, pop_note)
    return _MODELS[key]


def _ratio_words(model) -> tuple[str, str]:
    """("rate" or "count", what is compared) for sentences about the model's ratios."""
    if model.ratio_kind == "rate":
        return "rate", "offences per resident"
    return "count", "offences (a ratio of counts: no population offset)"


def _covid_sentence(ctx: ProfileContext, model) -> str:
    """The page's one answer on the first lockdown, from the one model (empty when the period has no lockdown
    months)."""
    w = model.covid_window
    if w is None:
        return ""
    eff = model.covid_effect()
    span = f"{w[0]:%B} to {w[1]:%B %Y}"
    if model._model.covid_separated:
        return (f"No offences were recorded in the first lockdown ({span}), so its effect cannot be estimated "
                "as a ratio; the model expected {:.0f}.".format(eff["expected"]))
    rr, (lo, hi) = model.covid_rate_ratio, model.covid_rate_ratio_ci
    verdict = ("clearly below it" if hi < 1 else "clearly above it" if lo > 1
               else "not clearly different from it")
    return (f"In the first lockdown ({span}) {eff['observed']:,.0f} offences were recorded against "
            f"{eff['expected']:,.0f} expected from the trend and the season: {rr:.2f} times the expected level "
            f"({_ci(lo, hi)}), {verdict}.")


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
    data = disclosure.derived(pd.DataFrame({
        "month": stl["month"], "offences": stl["observed"], "trend_offences_a_month": stl["trend"],
        "seasonally_adjusted_offences_a_month": stl["seasonally_adjusted"]}), pub)
    _show(
        charts.trend_chart(disclosure.derived(stl, pub), title=f"{ctx.what_short.capitalize()} per month and its trend, {ctx.name}"),
        alt,
        res,
        data,
        ctx=ctx,
        counts=["offences"],
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
    model, fit_note, _ = _model(ctx, monthly)
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
    data = pd.DataFrame({"month_of_year": profile["month_of_year"], "month_name": month_names,
                         "seasonal_effect_offences_a_month": profile["value"].to_numpy()})
    if curve is not None:
        data["model_seasonal_effect_offences_a_month"] = curve["value"].to_numpy()
    _show(
        charts.seasonal_chart(
            disclosure.derived(profile, pub), title=f"Seasonal pattern of {ctx.what_short}, {ctx.name}", model=curve
        ),
        alt,
        res,
        disclosure.derived(data, pub),
        ctx=ctx,
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
    """The log-linear trend model (negative binomial or Poisson, as fitted; population offset): annual rate ratio
    with its
    interval, the first lockdown's rate ratio (the same answer as :func:`covid_interruption`), and a 12-month
    forecast with its 95% prediction band."""
    title = "The trend model and forecast"
    got, skip = _monthly_or_skip(ctx, "trend_model", title)
    if skip:
        return skip
    monthly, pub = got
    model, fit_note, pop_note = _model(ctx, monthly)
    if fit_note:
        _say(fit_note)
    fc = model.forecast(horizon)
    check = fc.attrs.get("check") or {}
    res = SectionResult(name="trend_model", data=model.summary())
    kind, what = _ratio_words(model)
    rr, (lo, hi) = model.annual_rate_ratio, model.annual_rate_ratio_ci
    direction = "are **falling**" if hi < 1 else "are **rising**" if lo > 1 else "show **no clear change**"
    subject = (f"offences of {ctx.what} per resident of {ctx.name}" if kind == "rate"
               else f"offences of {ctx.what} in {ctx.name}")
    sentence = (
        f"Allowing for the season and the first COVID-19 lockdown, {subject} {direction}: the annual "
        f"{kind} ratio is {rr:.3f} ({_ci(lo, hi, 3)}), i.e. {(rr - 1):+.1%} a year."
    )
    covid = _covid_sentence(ctx, model)
    if covid:
        sentence += " " + covid
    _say(sentence)
    res.message = sentence
    _say(family_sentence(model.family) + " " + pop_note)
    r1 = model.residual_autocorrelation
    if np.isfinite(r1) and r1 > 2 / np.sqrt(len(monthly)):
        _say(f"The months the model misses by most come in runs (lag-1 autocorrelation of its residuals "
             f"{r1:.2f}), so the interval for the annual change is likely too narrow: read it as a guide.")
    widened = check.get("inflation", 1.0) > 1
    if check.get("origins"):
        band = (f"The 95% prediction band is for the count in each month. It was checked against the model's own "
                f"forecasts of each of the last {check['origins']} years, made from the months before them: "
                + (f"their errors were {np.sqrt(check['c2']):.2f} times the size the model allowed, so the band "
                   "is widened by that much." if widened else
                   "their errors were no larger than the model allowed, so the band is the model's own."))
    else:
        band = ("The 95% prediction band is for the count in each month (the series is too short to check the "
                "model's earlier forecasts).")
    _say(band)
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the fitted trend model "
        f"and a {horizon}-month forecast. Annual {kind} ratio {rr:.3f} ({_ci(lo, hi, 3)}). The forecast for "
        f"{output.month_label(fc['month'].iloc[0])} to {output.month_label(fc['month'].iloc[-1])} ranges from "
        f"{fc['expected'].min():.1f} to {fc['expected'].max():.1f} offences a month, with 95% prediction "
        f"limits from {fc['lower'].min():.0f} to {fc['upper'].max():.0f}."
    )
    observed = pd.DataFrame({"month": monthly.index, "offences": monthly.to_numpy(dtype=float),
                             "fitted_offences": model.fitted["fitted"].to_numpy(dtype=float)
                             if len(model.fitted) == len(monthly) else np.nan})
    ahead = pd.DataFrame({"month": pd.DatetimeIndex(fc["month"]), "forecast_offences": fc["expected"].to_numpy(),
                          "lower_95_prediction_limit": fc["lower"].to_numpy(dtype=float),
                          "upper_95_prediction_limit": fc["upper"].to_numpy(dtype=float)})
    data = pd.concat([observed, ahead], ignore_index=True)
    data.insert(1, "series", ["observed"] * len(observed) + ["forecast"] * len(ahead))
    _show(
        charts.forecast_chart(
            disclosure.derived(monthly, pub),
            fc,
            fitted=model.fitted,
            title=f"Trend model and {horizon}-month forecast, {ctx.name}",
        ),
        alt,
        res,
        disclosure.derived(data, pub),
        ctx=ctx,
        counts=["offences"],
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
        note=f"Log-linear count model ({family_words(model.family)} regression) of {what}: trend, one seasonal "
        "harmonic and a term for "
        "the first COVID-19 lockdown (April to June 2020). Ratios per year; Student-t intervals. " + pop_note,
        counts=[],
    )
    ftable = pd.DataFrame(
        {
            "Month": pd.DatetimeIndex(fc["month"]).strftime("%b %Y"),
            "Expected offences": fc["expected"].round(1),
            "Lower 95% prediction limit": fc["lower"].round(0).astype("int64"),
            "Upper 95% prediction limit": fc["upper"].round(0).astype("int64"),
        }
    )
    _publish(
        ctx,
        ftable,
        "forecast",
        f"Forecast, {ctx.name}",
        note="Model expectations, not recorded counts. Residents held at the latest estimate."
        + (" Band widened after checking the model's earlier forecasts." if widened else ""),
        counts=[],
    )
    res.values = {
        "annual_rate_ratio": rr,
        "annual_rate_ratio_ci": (lo, hi),
        "ratio_kind": kind,
        "covid_rate_ratio": model.covid_rate_ratio,
        "covid_rate_ratio_ci": model.covid_rate_ratio_ci,
        "forecast": fc,
        "forecast_check": check,
        "family": model.family,
    }
    return res


def covid_interruption(ctx: ProfileContext) -> SectionResult:
    """The first COVID-19 lockdown, from the same model as :func:`trend_model`: the months of April to June 2020
    against what the trend and the season predict for them ("expected without COVID")."""
    title = "The COVID-19 first lockdown"
    got, skip = _monthly_or_skip(ctx, "covid_interruption", title)
    if skip:
        return skip
    monthly, pub = got
    model, fit_note, pop_note = _model(ctx, monthly)
    w = model.covid_window
    months = monthly.index
    if w is None or (months < w[0]).sum() < 12 or (months > w[1]).sum() < 12:
        start = pd.Timestamp(config.settings()["periods"]["covid_start"])
        return _skip(ctx, "covid_interruption", title,
                     f"the period ({ctx.period}) needs at least 12 months before and after the first lockdown "
                     f"({start:%B %Y})")
    if fit_note:
        _say(fit_note)
    res = SectionResult(name="covid_interruption")
    eff = model.covid_effect()
    span = f"{w[0]:%B} to {w[1]:%B %Y}"
    explain = (
        f"**How this is worked out.** One model describes the whole series: a steady trend, the same seasonal "
        f"pattern every year and, for the first lockdown ({span}) only, a level of its own. The trend and the "
        "season are learnt from every other month, so the line \"expected without COVID\" is what they predict; "
        "outside the lockdown it is the model itself. The model does not assume a lasting change after the "
        "lockdown; the trend section uses the same model, so the two give the same answer."
    )
    _say(explain)
    sentence = _covid_sentence(ctx, model)
    _say(sentence)
    res.message = sentence
    chart = model.fitted[["month", "observed", "fitted", "counterfactual"]].copy()
    alt = (
        f"Line chart of monthly {ctx.what} offences in {ctx.name}, {ctx.period}, with the offences expected "
        f"without COVID (trend and season) and the model's level in the first lockdown ({span}). "
        f"{eff['observed']:,.0f} offences were recorded in the lockdown months against {eff['expected']:,.0f} "
        f"expected; rate ratio {model.covid_rate_ratio:.2f} ({_ci(*model.covid_rate_ratio_ci)})."
    )
    data = pd.DataFrame({"month": chart["month"], "offences": chart["observed"],
                         "model_offences": chart["fitted"], "expected_without_covid": chart["counterfactual"]})
    months_in = pd.DatetimeIndex(chart["month"])
    data["first_lockdown"] = (months_in >= w[0]) & (months_in <= w[1])
    _show(
        charts.its_chart(
            disclosure.derived(chart, pub),
            w[0],
            title=f"The first COVID-19 lockdown, {ctx.name}",
            interruption_label="First lockdown",
            window_end=w[1],
        ),
        alt,
        res,
        disclosure.derived(data, pub),
        ctx=ctx,
        counts=["offences"],
    )
    rr, (lo, hi) = model.covid_rate_ratio, model.covid_rate_ratio_ci
    table = pd.DataFrame(
        {
            "Measure": [f"Rate ratio in the first lockdown ({span})", "Offences recorded in those months",
                        "Offences expected without COVID", "Difference (recorded - expected)"],
            "Estimate": [f"{rr:.3f}", f"{eff['observed']:,.0f}", f"{eff['expected']:,.1f}",
                         f"{eff['difference']:+,.1f}"],
            "Lower 95% CI": [_fmt(lo, 3), "", "", ""],
            "Upper 95% CI": [_fmt(hi, 3), "", "", ""],
        }
    )
    res.table = table
    res.data = table
    res.csv = _publish(
        ctx,
        table,
        "covid_interruption",
        f"The first COVID-19 lockdown, {ctx.name}",
        note=f"Trend model ({family_words(model.family)} regression) with one seasonal harmonic and a term for "
        f"{span}; expected without "
        "COVID = the model with that term off. " + pop_note,
        counts=[],
    )
    res.values = {
        "covid_rate_ratio": rr,
        "covid_rate_ratio_ci": (lo, hi),
        "observed": eff["observed"],
        "expected": eff["expected"],
        "family": model.family,
    }
    return res
