"""Month by month: the statistical process control (SPC) chart of a CSP's counts (CSP profile), and
special-cause variation for every CSP of a force (force overview)."""

from __future__ import annotations

import pandas as pd

from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    _publish,
    SectionResult,
    _say,
    _show,
    _skip,
    _spc_frame,
    _threshold,
    hidden_note,
    publish_gated,
)

from svtools.publish.sections.profile_volume import _cohort_skip, _family

__all__ = ["monthly_spc", "special_cause_by_csp"]


# =========================================================================== month by month
_RES_WORDS = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}


def _period_start(label: str, resolution: str) -> pd.Timestamp:
    if resolution == "month":
        return pd.Timestamp(label + "-01")
    fy = int(label[:4])
    if resolution == "quarter":
        q = int(label[-1])
        return pd.Timestamp(year=fy + (1 if q == 4 else 0), month={1: 4, 2: 7, 3: 10, 4: 1}[q], day=1)
    return pd.Timestamp(year=fy, month=4, day=1)


def monthly_spc(ctx: ProfileContext) -> SectionResult:
    """The published series on an NHS "Making Data Count" XmR chart: by month where no month holds a hidden
    count, else by quarter, else by financial year (``config/disclosure.yaml`` time_series; the chart and its
    limits are computed from the published points only). A force's series uses a resolution all its CSPs
    are published at, so no CSP's points can be had by subtraction."""
    skip = _cohort_skip(ctx, "monthly_spc", "The SPC chart")
    if skip:
        return skip
    res = SectionResult(name="monthly_spc")
    fam = _family(ctx)
    r = fam.resolution.get(ctx.code)
    cfg = tables.rules()["time_series"]
    if r is None:
        return _skip(ctx, "monthly_spc", "The SPC chart",
                     f"even by financial year some of {ctx.name}'s counts (or those of another CSP of "
                     f"{ctx.force_name}) are 1 to {_threshold()}, so no series can be published")
    word = _RES_WORDS[r]
    labels = fam.levels[r]
    t = fam.cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=labels, name="spc_series",
                       row_title=word.capitalize())
    series = pd.Series(t.counts.iloc[:, 0].astype(float).to_numpy(),
                       index=pd.DatetimeIndex([_period_start(x, r) for x in labels]))
    mean = float(series.mean()) if len(series) else 0.0
    if len(series) < int(cfg["spc_min_points"]) or mean < float(cfg["spc_min_mean_per_point"]):
        reason = (f"there are {len(series)} published {word}s" if len(series) < int(cfg["spc_min_points"])
                  else f"the mean count is {mean:.1f} a {word}, below the {cfg['spc_min_mean_per_point']} needed "
                  "for informative process limits")
        publish_gated(ctx, t, f"Offences per {word}, {ctx.name}", note="Published counts; " + hidden_note())
        _say(f"**SPC chart**: not drawn, because {reason}; the counts are in the table above.")
        res.values = {"resolution": r, "points": len(series)}
        res.message = reason
        return res
    s = _spc_frame(series)
    res.data = s
    trial = bool(s["trial_limits"].any())
    chart_data = disclosure.derived(pd.DataFrame({
        "month": s["date"], "value": s["value"], "mean": s["mean"], "lower": s["lower_limit"],
        "upper": s["upper_limit"], "variation": s["special_cause"]}), t)
    counts = s["special_cause"].value_counts()
    n_imp, n_con = int(counts.get("improvement", 0)), int(counts.get("concern", 0))
    last = s.iloc[-1]
    alt = (f"SPC chart of {ctx.what} offences per {word} in {ctx.name}, {labels[0]} to {labels[-1]} "
           f"({len(labels)} {word}s, published counts). Mean {last['mean']:.1f} a {word}; process limits "
           f"{last['lower_limit']:.1f} to {last['upper_limit']:.1f}"
           + (" (a lower limit below 0 means no low point can be a signal)" if last["lower_limit"] < 0 else "")
           + f". {n_imp} {word}(s) show special-cause improvement and {n_con} special-cause concern.")
    fig = charts.spc_chart(chart_data, title=f"{ctx.what_short.capitalize()} per {word}, {ctx.name}: SPC chart",
                           ylabel=f"Offences per {word}", xlabel=f"{word.capitalize()} (start)", trial_limits=trial)
    _show(fig, alt, res)
    latest = last["special_cause"]
    sentence = (f"The latest {word} ({labels[-1]}) shows "
                f"{'common-cause variation' if latest == 'common cause' else 'special-cause ' + latest}. "
                f"Across the period, {n_imp} {word}(s) show special-cause improvement and {n_con} concern."
                + ("" if r == "month" else f" The chart is by {word} because some months hold 1 to {_threshold()} "
                   f"offences in {ctx.name} or another CSP of {ctx.force_name}."))
    _say(sentence)
    res.message = sentence
    rules_text = {"Common Cause": "", "Above UCL": "above the upper limit", "Below LCL": "below the lower limit"}
    extra = pd.DataFrame({
        "Mean": s["mean"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Lower process limit": s["lower_limit"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Upper process limit": s["upper_limit"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Variation": s["special_cause"].to_numpy(),
        "Rule": [rules_text.get(x, str(x).lower()) for x in s["rule"]],
    })
    t.counts.columns = ["Offences"]
    res.csv = publish_gated(ctx, t, f"Offences per {word} and SPC signals, {ctx.name}", name="monthly_spc",
                            extra=extra, note="Limits from the published counts. " + hidden_note(),
                            show_last=12)
    res.table = t.text()
    res.values = {"resolution": r, "mean": float(last["mean"]), "upper": float(last["upper_limit"]),
                  "lower": float(last["lower_limit"]), "improvement": n_imp, "concern": n_con, "latest": latest,
                  "trial_limits": trial, "months": len(s)}
    return res


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
