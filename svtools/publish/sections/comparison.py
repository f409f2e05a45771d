"""CSP profile and force overview, compared with what: rates against every other CSP (funnel plot)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _area_rates,
    _ci,
    _count,
    _fmt,
    _is_small,
    _publish,
    _r,
    _say,
    _show,
    _skip,
    _threshold,
    _window_label,
    _window_words,
    chart_period,
    funnel_chart_data,
    suppress,
)

from svtools.publish.sections.profile_volume import _family

__all__ = ["rate_comparison", "funnel_significance_998"]


# =========================================================================== comparison
def _funnel_figure(ctx: ProfileContext, points: pd.DataFrame, target: float, info: dict, highlight, title, od):
    """The funnel of ``points`` around ``target`` with the limits of ``od`` (the ones the flags use)."""
    from svtools.analysis.stats.funnels import adjusted_funnel_limits

    lo, hi = points["person_years"].min(), points["person_years"].max()
    grid = np.geomspace(max(lo * 0.5, 1000.0), hi * 1.1, 200)
    limits = adjusted_funnel_limits(target, grid, od, multiplier=1000)
    limits["denominator"] = limits["denominator"] / info["years"]  # plot against residents
    pts = pd.DataFrame(
        {
            "label": points["csp_name"].to_numpy(),
            "denominator": points["population"].to_numpy(),
            "value": points["rate"].to_numpy(),
            "signal": np.where(
                points["sig_998"] == "high", "high", np.where(points["sig_998"] == "low", "low", "")
            ),
        }
    )
    src = _family(ctx).cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=[tables.TOTAL],
                                  name="area_rates")
    pts = disclosure.derived(pts, src)  # every rate here comes from a published count (see _area_rates)
    allowance = " allowing for over-dispersion" if od.adjusted else " (Poisson)"
    return charts.funnel_plot(
        pts,
        limits,
        target=target,
        title=title,
        highlight=highlight,
        xlabel="Residents (mid-2020)",
        ylabel="Rate per 1,000 residents a year",
        limit_labels=(f"95% limits{allowance}", f"99.8% limits{allowance}"),
    )


#: How a CSP compares with a comparator, from the 95% funnel flag (outside the drawn limits or not).
_VERDICT = {"high": "higher than expected from", "low": "lower than expected from",
            "not significant": "within the range expected from"}


def _comparison_words(flag, comparator: str, rate: float) -> str:
    """"higher than expected from the Cleveland Police rate (1.35)" / "within the range expected from ..."."""
    return f"{_VERDICT.get(flag, 'compared with')} {comparator} ({_fmt(rate)})"


def _limits_words(*ods) -> str:
    """What the 95% judgement allowed for: the usual variation between CSPs, or chance alone."""
    kinds = {od.adjusted for od in ods}
    if kinds == {True}:
        return "95% funnel limits that allow for the usual variation between CSPs, not chance alone"
    if kinds == {False}:
        return "95% funnel limits for chance (Poisson) variation"
    return ("95% funnel limits (allowing for the usual variation between CSPs where they vary more than chance, "
            "as the funnel plot below says)")


def rate_comparison(ctx: ProfileContext) -> SectionResult:
    """Rates per 1,000 residents a year with 95% intervals against the force and the whole data area, and a
    funnel plot of every CSP in the data (a CSP profile) or of the force's CSPs (a force).

    The funnel's 95% and 99.8% limits allow for over-dispersion between CSPs when the CSPs vary more than
    chance (``config/settings.yaml`` ``funnels``; :func:`svtools.analysis.stats.funnels.overdispersion`:
    additive random effects, tau^2 from winsorised square-root z-scores, Spiegelhalter 2005), and a CSP is
    called higher or lower than a comparator only when it lies outside the limits drawn for it: on a CSP page
    against all CSPs in the data (limits from all CSPs) and against its force (limits from the CSPs around
    their own force rates, pooled over forces); on a force page against the force (the latter limits).
    """
    areas, info = _area_rates(ctx)
    if ctx.level == "csp" and ctx.code not in set(areas["csp_code"]):
        return _skip(ctx, "rate_comparison", "The rate comparison",
                     f"too few offences of {ctx.what} were recorded in {ctx.name} in {_window_words(info)} to "
                     "publish a count or a rate")
    if ctx.level != "csp" and not (areas["pfa_code"] == ctx.force_code).any():
        return _skip(ctx, "rate_comparison", "The rate comparison",
                     f"too few offences of {ctx.what} were recorded in the CSPs of {ctx.force_name} in "
                     f"{_window_words(info)} to publish a count or a rate")
    per = "per 1,000 residents a year"
    res = SectionResult(name="rate_comparison", data=areas)
    window = _window_label(info)
    od_all, od_force = info["od_all"], info["od_force"]
    if ctx.level == "csp":
        points = areas.assign(sig_998=areas["vs_all_998"])
        target, comparator, od = info["overall"], "all CSPs in the data", od_all
        me = areas[areas["csp_code"] == ctx.code].iloc[0]
        from svtools.analysis.stats import rate

        f = rate([info["force_offences"]], [info["force_population"] * info["years"]], multiplier=1000).iloc[
            0
        ]
        a = rate([info["all_offences"]], [info["all_population"] * info["years"]], multiplier=1000).iloc[0]
        rows = [
            (ctx.name, int(me["offences"]), float(me["population"]), me["rate"], me["lower"], me["upper"]),
            (
                f"{ctx.force_name} (force area)",
                info["force_offences"],
                info["force_population"],
                f["value"],
                f["lower"],
                f["upper"],
            ),
            (
                f"All {len(areas)} CSPs with a published count",
                info["all_offences"],
                info["all_population"],
                a["value"],
                a["lower"],
                a["upper"],
            ),
        ]
        raw = pd.DataFrame(
            rows, columns=["Area", "Offences", "Residents", "Rate", "Lower 95% CI", "Upper 95% CI"]
        )
        res.values = {
            "rate": float(me["rate"]),
            "lower": float(me["lower"]),
            "upper": float(me["upper"]),
            "offences": int(me["offences"]),
            "force_rate": float(f["value"]),
            "overall_rate": float(a["value"]),
            "vs_all_95": me["vs_all_95"],
            "vs_force_95": me["vs_force_95"],
            "vs_all_998": me["vs_all_998"],
            "vs_all_998_poisson": me["vs_all_998_poisson"],
        }
        sentence = (
            f"From {window}, {ctx.name} recorded {_count(me['offences'])} offences of {ctx.what}, too few "
            "to show a rate."
            if _is_small(me["offences"])
            else f"From {window}, {ctx.name} recorded {_fmt(me['rate'])} offences of {ctx.what} {per} "
            f"({_ci(me['lower'], me['upper'])}): "
            f"{_comparison_words(me['vs_force_95'], f'the {ctx.force_name} rate', info['force_rate'])}"
            f" and {_comparison_words(me['vs_all_95'], 'the rate of all CSPs in the data', info['overall'])}"
            f", judged against {_limits_words(od_force, od_all)}."
        )
        highlight = ctx.name
    else:
        points = areas[areas["pfa_code"] == ctx.force_code].assign(sig_998=lambda d: d["vs_force_998"])
        target, comparator, od = info["force_rate"], f"the {ctx.force_name} rate", od_force
        raw = (
            points[["csp_name", "offences", "population", "rate", "lower", "upper"]]
            .rename(
                columns={
                    "csp_name": "Area",
                    "offences": "Offences",
                    "population": "Residents",
                    "rate": "Rate",
                    "lower": "Lower 95% CI",
                    "upper": "Upper 95% CI",
                }
            )
            .sort_values("Rate", ascending=False)
        )
        big = points[~points["offences"].map(_is_small)]
        big = big if len(big) else points.assign(rate=np.nan).head(0)
        highest = big.loc[big["rate"].idxmax()] if len(big) else points.iloc[0]
        lowest = big.loc[big["rate"].idxmin()] if len(big) else points.iloc[0]
        res.values = {
            "force_rate": info["force_rate"],
            "highest": highest["csp_name"],
            "lowest": lowest["csp_name"],
        }
        sentence = (
            f"From {window}, {ctx.force_name} recorded {_fmt(info['force_rate'])} offences of {ctx.what} "
            f"{per}; the highest CSP rate was {highest['csp_name']} ({_fmt(highest['rate'])}) and the "
            f"lowest {lowest['csp_name']} ({_fmt(lowest['rate'])})."
        )
        highlight = None
    res.values.update({
        "funnel_method": od.method,
        "funnel_limits": od.limits_phrase(),
        "overdispersion": od.summary(),
        "outside_998": int(points["sig_998"].isin(["high", "low"]).sum()),
    })
    if ctx.level == "csp":
        res.values["outside_998_poisson"] = int(points["vs_all_998_poisson"].isin(["high", "low"]).sum())
    around = "" if ctx.level == "csp" else (f"around their own force's rate ({od.n_groups} forces)"
                                            if od.n_groups > 1 else "around their force's rate")
    _say(sentence)
    _say(od.explanation(around=around))
    res.message = sentence
    table = suppress(raw, ["Offences"], rates=["Rate", "Lower 95% CI", "Upper 95% CI"])
    for c in ("Rate", "Lower 95% CI", "Upper 95% CI"):
        table[c] = [v if isinstance(v, str) else _r(v) for v in table[c]]
    table["Residents"] = raw["Residents"].round(-1).astype("int64").to_numpy()
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "rates",
        f"Rates {per}, {window}: {ctx.what}",
        note=f"Residents: ONS mid-2020 estimates (rounded to 10). Counts from 1 to {_threshold()} "
        "are shown as * and their rates left blank. The 95% CI of a rate allows for chance only; the funnel "
        f"plot's limits are {od.limits_phrase('95% and 99.8%')}.",
    )
    # a CSP with 1 to threshold offences is left off the chart (its rate would reveal the count)
    small = points["offences"].map(_is_small)
    hidden_csps = points.loc[small, "csp_name"].tolist()
    points = points[~small]
    outside = points[points["sig_998"].isin(["high", "low"])]
    hi, lo = points.loc[points["rate"].idxmax()], points.loc[points["rate"].idxmin()]
    alt = (
        f"Funnel plot of {ctx.what} rates {per}, {window}, for {len(points)} CSPs against {comparator} "
        f"({_fmt(target)}), with {od.limits_phrase('95% and 99.8%')}. "
    )
    if ctx.level == "csp":
        alt += f"{ctx.name}: {_fmt(res.values['rate'])} ({_ci(res.values['lower'], res.values['upper'])}). "
    alt += (
        f"Highest: {hi['csp_name']} ({_fmt(hi['rate'])}); lowest: {lo['csp_name']} ({_fmt(lo['rate'])}). "
        f"{len(outside)} CSP(s) lie outside the 99.8% limits"
        + (f": {', '.join(outside['csp_name'] + ' (' + outside['sig_998'].map({'high': 'above', 'low': 'below'}) + ')')}."
           if len(outside) else ".")
        + (f" Not drawn (1 to {_threshold()} offences): {', '.join(hidden_csps)}." if hidden_csps else "")
    )
    title = f"{ctx.what_short.capitalize()}: rate per 1,000 residents a year, {window}, " + (
        "all CSPs in the data" if ctx.level == "csp" else f"CSPs of {ctx.force_name}"
    )
    if ctx.level == "csp":
        comp_code, comp_name, sig95 = "", "All CSPs in the data", points["vs_all_95"]
    else:
        comp_code, comp_name, sig95 = ctx.force_code, ctx.force_name, points["vs_force_95"]
    data = funnel_chart_data(points["csp_code"], points["csp_name"], points["offences"], points["person_years"],
                             info["years"], target, od, 1000, comp_code, comp_name, sig95, points["sig_998"])
    src = _family(ctx).cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=[tables.TOTAL],
                                  name="area_rates")
    _show(_funnel_figure(ctx, points, target, info, highlight, title, od), alt, res,
          disclosure.derived(chart_period(data, pd.date_range(info["window_start"], info["window_end"], freq="MS")),
                             src),
          ctx=ctx, counts=["offences"])
    return res


def funnel_significance_998(points: pd.DataFrame, target: float) -> np.ndarray:
    """99.8% Poisson funnel significance (PHEindicatormethods, no allowance for over-dispersion) of each CSP's
    rate against ``target`` (per 1,000). The pages flag against the limits they draw instead
    (``vs_all_998`` / ``vs_force_998`` of ``_area_rates``)."""
    from svtools.analysis.stats import funnel_significance

    return funnel_significance(points["offences"], points["person_years"], target, multiplier=1000)[
        "significance_998"
    ].to_numpy()
