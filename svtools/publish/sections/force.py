"""Force overview (``force_overview.ipynb``): the league table of the force's CSPs and special-cause
variation by CSP. The page also shows the CSP profile's headline, success measures, rate comparison, monthly
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
    _say,
    _show,
    _skip,
    _spc_frame,
    _threshold,
    _window_label,
    suppress,
)

__all__ = [
    "league_table",
    "special_cause_by_csp",
]


# =========================================================================== comparison
def league_table(ctx: ProfileContext) -> SectionResult:
    """The CSPs of a force ranked by rate per 1,000 residents a year with 95% intervals, against the force."""
    areas, info = _area_rates(ctx)
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
        f"Significantly above the force rate: {', '.join(above) or 'none'}; below: "
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
    _show(fig, alt, res)
    verdict = {"high": "higher", "low": "lower", "not significant": "similar"}
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
        note="Compared with the force rate at 95% confidence (exact Poisson or Byar's limits).",
    )
    res.values = {
        "highest": hi["csp_name"],
        "lowest": lo["csp_name"],
        "force_rate": info["force_rate"],
        "above": above,
        "below": below,
    }
    return res


# =========================================================================== month by month
def special_cause_by_csp(ctx: ProfileContext, recent: int = 6) -> SectionResult:
    """For every CSP of the force: does its SPC chart show special-cause variation in the latest months?"""
    from svtools.publish import tables

    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    cfg = tables.rules()["time_series"]
    rows = []
    for code in ctx.csp_codes:
        published = fam.series(code)  # the CSP's published series (no hidden point), at its resolution
        name = ctx.csp_name(code)
        ok = published is not None and len(published) >= int(cfg["spc_min_points"]) and \
            float(published.astype(float).mean()) >= float(cfg["spc_min_mean_per_point"])
        if not ok:
            rows.append({"CSP": name, "Published series": "none" if published is None else published.index.name,
                         "Mean per point": "", "Special cause in the latest points": "no SPC chart (too few)",
                         "Rule": "", "Improvement points": "", "Concern points": ""})
            continue
        series = pd.Series(published.astype(float).to_numpy(),
                           index=pd.date_range("2000-01-01", periods=len(published), freq="MS"))
        s = _spc_frame(series)
        tail = s.tail(recent)
        kinds = [k for k in ("concern", "improvement") if (tail["special_cause"] == k).any()]
        rules = sorted(set(tail.loc[tail["special_cause"].isin(kinds), "rule"]))
        rows.append(
            {
                "CSP": name,
                "Published series": published.index.name,
                "Mean per point": round(float(s["mean"].iloc[-1]), 1),
                "Special cause in the latest points": " and ".join(kinds) or "none",
                "Rule": "; ".join(rules),
                "Improvement points": int((s["special_cause"] == "improvement").sum()),
                "Concern points": int((s["special_cause"] == "concern").sum()),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["count_columns"] = []  # point counts are months, not offences or people
    res = SectionResult(name="special_cause_by_csp", data=table, table=table)
    start = ctx.months[-recent] if len(ctx.months) >= recent else ctx.months[0]
    flagged = table[~table["Special cause in the latest points"].isin(["none", "no SPC chart (too few)"])]
    sentence = (
        f"Between {start:%B %Y} and {ctx.period_end:%B %Y}, {len(flagged)} of {len(table)} CSPs show "
        "special-cause variation"
        + (
            ": "
            + "; ".join(
                f"{r['CSP']} ({r['Special cause in the latest points']})" for _, r in flagged.iterrows()
            )
            if len(flagged)
            else ""
        )
        + "."
    )
    _say(sentence)
    res.message = sentence
    # point counts are counts of months, not of people: safe to publish
    res.csv = _publish(
        ctx,
        table,
        "special_cause_by_csp",
        f"Special-cause variation in the latest {recent} months by CSP, {ctx.force_name}",
        note="Improvement and concern points count months with a special-cause signal over the "
        "whole period (NHS Making Data Count rules; fewer offences is improvement).",
        counts=[],
    )
    res.values = {"flagged": flagged["CSP"].tolist()}
    return res
