"""Force overview (``force_overview.ipynb``): the league table of the force's CSPs (special-cause variation by
CSP is in :mod:`.monthly`). The page also shows the CSP profile's headline, success measures, rate comparison, monthly
SPC, offence mix, hotspots and deprivation sections, computed for the force.
"""

from __future__ import annotations

import pandas as pd

from svtools.publish import charts
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _area_rates,
    _fmt,
    _is_small,
    _publish,
    _show,
    _skip,
    _threshold,
    _window_label,
    chart_period,
    suppress,
)

__all__ = ["league_table"]


# =========================================================================== comparison
def league_table(ctx: ProfileContext) -> SectionResult:
    """The CSPs of a force ranked by rate per 1,000 residents a year with 95% intervals, against the force.

    A CSP is called higher or lower than the force only when it lies outside the 95% funnel limits around the
    force rate that the force page's funnel plot draws (``vs_force_95`` of ``_area_rates``): they allow for
    the usual variation between CSPs when CSPs vary more than chance (``config/settings.yaml`` ``funnels``,
    additive random effects estimated from every CSP around its own force rate). Each bar's 95% confidence
    interval shows the chance uncertainty of that CSP's rate alone.
    """
    areas, info = _area_rates(ctx)
    od = info["od_force"]
    codes = ctx.csp_codes
    d = areas[areas["csp_code"].isin(codes)].copy()
    res = SectionResult(name="league_table", data=d)
    window = _window_label(info)
    d["shown_rate"] = d["rate"].where(~d["offences"].map(_is_small))
    chart_d = d.assign(
        lower=d["lower"].where(d["shown_rate"].notna()), upper=d["upper"].where(d["shown_rate"].notna())
    )
    big = d[d["shown_rate"].notna()]
    if big.empty:
        return _skip(
            ctx,
            "league_table",
            "The league table",
            f"every CSP has fewer than {_threshold() + 1} offences of {ctx.what} in {window}",
        )
    hi, lo = big.loc[big["rate"].idxmax()], big.loc[big["rate"].idxmin()]
    above = d.loc[d["vs_force_95"] == "high", "csp_name"].tolist()
    below = d.loc[d["vs_force_95"] == "low", "csp_name"].tolist()
    alt = (
        f"Bar chart ranking the {len(d)} CSPs of {ctx.force_name} by {ctx.what} rate per 1,000 residents a "
        f"year, {window}, with 95% confidence intervals and the force rate ({_fmt(info['force_rate'])}) as a "
        f"line. Highest {hi['csp_name']} ({_fmt(hi['rate'])}), lowest {lo['csp_name']} ({_fmt(lo['rate'])}). "
        f"Above the force rate (outside the {od.limits_phrase('95%')}): {', '.join(above) or 'none'}; below: "
        f"{', '.join(below) or 'none'}."
    )
    from svtools.publish import disclosure, tables

    src = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start,
                             ctx.period_end).cube.table("period", None, fixed={"area_code": ctx.code},
                                                        row_nodes=[tables.TOTAL], name="area_rates")
    chart_d = disclosure.derived(chart_d, src)  # rates of published counts only (see _area_rates)
    fig = charts.bar_chart(
        chart_d,
        label="csp_name",
        value="shown_rate",
        lower="lower",
        upper="upper",
        title=f"{ctx.what_short.capitalize()}: rate per 1,000 residents a year by CSP, {window}",
        xlabel="Rate per 1,000 residents a year",
        ylabel="Community Safety Partnership",
        highlight=ctx.name if ctx.level == "csp" else None,
        reference=info["force_rate"],
        reference_label=ctx.force_name,
        value_format="{:.2f}",
    )
    shown_ok = d["shown_rate"].notna()
    league = pd.DataFrame({
        "area_code": d["csp_code"].to_numpy(), "area_name": d["csp_name"].to_numpy(),
        "offences": d["offences"].where(shown_ok).to_numpy(dtype=float), "residents": d["population"].to_numpy(),
        "rate_per_1000": d["shown_rate"].to_numpy(), "lower_95_ci": d["lower"].where(shown_ok).to_numpy(),
        "upper_95_ci": d["upper"].where(shown_ok).to_numpy(), "comparator_code": ctx.force_code,
        "comparator_name": ctx.force_name, "comparator_value": info["force_rate"],
        "vs_comparator_95": d["vs_force_95"].fillna("").to_numpy()})
    _show(fig, alt, res,
          disclosure.derived(chart_period(league, pd.date_range(info["window_start"], info["window_end"], freq="MS")),
                             src),
          ctx=ctx, counts=["offences"])
    verdict = {"high": "higher", "low": "lower", "not significant": "within the expected range"}
    raw = d.sort_values("rate", ascending=False)
    table = pd.DataFrame(
        {
            "CSP": raw["csp_name"].to_numpy(),
            "Offences": raw["offences"].to_numpy(),
            "Rate": raw["rate"].round(2).to_numpy(),
            "Lower 95% CI": raw["lower"].round(2).to_numpy(),
            "Upper 95% CI": raw["upper"].round(2).to_numpy(),
            f"Compared with {ctx.force_name}": raw["vs_force_95"].map(verdict).to_numpy(),
        }
    )
    shown = suppress(table, ["Offences"], rates=["Rate", "Lower 95% CI", "Upper 95% CI"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "league_table",
        f"CSPs of {ctx.force_name} by rate per 1,000 residents a year, {window}: {ctx.what}",
        note=f"Compared with the force rate: higher or lower only outside the {od.limits_phrase('95%')}, "
        "the limits of the force page's funnel plot. The 95% CI of a rate allows for chance only (exact Poisson "
        f"below 10 offences, Byar's from 10). "
        + od.explanation(around=f"around their own force's rate ({od.n_groups} forces)" if od.n_groups > 1
                         else "around their force's rate"),
    )
    res.values = {
        "highest": hi["csp_name"],
        "lowest": lo["csp_name"],
        "force_rate": info["force_rate"],
        "above": above,
        "below": below,
        "funnel_method": od.method,
        "funnel_limits": od.limits_phrase("95%"),
    }
    return res
