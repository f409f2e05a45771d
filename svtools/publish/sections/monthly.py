"""Month by month: the statistical process control (SPC) chart of a CSP's counts (CSP profile), and
special-cause variation for every CSP of a force (force overview)."""

from __future__ import annotations

import pandas as pd

from svtools.analysis.stats.spc import rule_words
from svtools.publish import charts, disclosure, tables
from svtools.publish.charts import time_series as charts_ts
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
    spc_chart_data,
)

from svtools.publish.sections.profile_volume import _cohort_skip, _family

__all__ = ["monthly_spc", "special_cause_by_csp"]


# =========================================================================== month by month
_RES_WORDS = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}


def _period_start(label: str, resolution: str) -> pd.Timestamp:
    """First month of a published period label (``2019-07``, ``2019/20 Q2``, ``2019/20``)."""
    if resolution == "month":
        return pd.Timestamp(label + "-01")
    fy = int(label[:4])
    if resolution == "quarter":
        q = int(label[-1])
        return pd.Timestamp(year=fy + (1 if q == 4 else 0), month={1: 4, 2: 7, 3: 10, 4: 1}[q], day=1)
    return pd.Timestamp(year=fy, month=4, day=1)


_LABEL = {"month": lambda ts: f"{ts:%Y-%m}", "quarter": tables.quarter_label,
          "financial_year": lambda ts: f"{ts.year}/{(ts.year + 1) % 100:02d}"}


def spc_plan_for(fam, code: str):
    """The SPC plan of one area's published series (:func:`svtools.analysis.stats.spc.spc_plan` with the
    ``time_series`` rules of ``config/disclosure.yaml``, the same rules the gate publishes the series by), or
    None when the gate publishes no series for it. Used by the CSP chart and the force's table alike."""
    from svtools.analysis.stats.spc import spc_plan

    r = fam.resolution.get(code)
    if r is None:
        return None
    labels = fam.levels[r]
    published = fam.series(code)
    series = pd.Series(published.astype(float).to_numpy(),
                       index=pd.DatetimeIndex([_period_start(x, r) for x in labels]))
    cfg = tables.rules()["time_series"]
    return spc_plan(series, r, min_mean_per_point=float(cfg["spc_min_mean_per_point"]),
                    min_points=int(cfg["spc_min_points"]), resolutions=tuple(cfg["resolutions"]),
                    rolling_months=int(cfg.get("spc_rolling_months", 12)))


def _lower_limit_note(lower: float, word: str) -> str:
    """How a lower process limit below 0 is drawn and what it means (Making Data Count practice)."""
    if not lower < 0:
        return ""
    return (f" The lower process limit is below zero ({lower:.1f}): it is drawn as calculated, as the NHS Making "
            f"Data Count tools do, not moved to 0. No count can fall below it, so a single low {word} cannot be "
            "a signal; a fall shows only as a run of points below the mean or a trend.")


def monthly_spc(ctx: ProfileContext) -> SectionResult:
    """The published series on an NHS "Making Data Count" XmR chart where the SPC rule allows it.

    The gate publishes the series by month where no month holds a hidden count, else by quarter, else by
    financial year (``config/disclosure.yaml`` ``time_series``); a force's series uses a resolution all its
    CSPs are published at, so no CSP's points can be had by subtraction. :func:`spc_plan_for` then decides,
    with the same file's ``spc_min_mean_per_point`` and ``spc_min_points``: an XmR chart at the published
    resolution or a coarser one (sums of published points), else rolling 12-month totals without limits,
    else a one-line note. The chart and its limits are computed from the published points only."""
    skip = _cohort_skip(ctx, "monthly_spc", "The SPC chart")
    if skip:
        return skip
    res = SectionResult(name="monthly_spc")
    fam = _family(ctx)
    plan = spc_plan_for(fam, ctx.code)
    if plan is None:
        return _skip(ctx, "monthly_spc", "The SPC chart",
                     f"even by financial year some of {ctx.name}'s counts (or those of another CSP of "
                     f"{ctx.force_name}) are 1 to {_threshold()}, so no series can be published")
    r = fam.resolution[ctx.code]
    pub_word = _RES_WORDS[r]
    labels = fam.levels[r]
    t = fam.cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=labels, name="spc_series",
                       row_title=pub_word.capitalize())
    finer = "" if r == "month" else (f" The counts are published by {pub_word} because some months hold 1 to "
                                     f"{_threshold()} offences in {ctx.name} or another CSP of {ctx.force_name}.")
    if plan.kind == "none":
        publish_gated(ctx, t, f"Offences per {pub_word}, {ctx.name}", note="Published counts; " + hidden_note())
        _say(f"**SPC chart**: not drawn, because {plan.reason}; the counts are in the table above.{finer}")
        res.values = {"resolution": r, "points": len(labels), "plan": "none"}
        res.message = plan.reason
        return res
    if plan.kind == "rolling":
        roll = plan.values
        data = disclosure.derived(pd.DataFrame({"month": roll.index, "value": roll.to_numpy()}), t)
        alt = (f"Line chart of rolling 12-month totals of {ctx.what} offences in {ctx.name}, from "
               f"{roll.index[0]:%B %Y} to {roll.index[-1]:%B %Y} (published counts, no process limits). The total "
               f"moves from {roll.iloc[0]:,.0f} to {roll.iloc[-1]:,.0f}; highest {roll.max():,.0f}, lowest "
               f"{roll.min():,.0f}.")
        _show(charts_ts.rolling_chart(data, title=f"{ctx.what_short.capitalize()}: rolling 12-month totals, "
                                      f"{ctx.name}"), alt, res,
              disclosure.derived(pd.DataFrame({"month": roll.index,
                                               "offences_in_12_months_to_month": roll.to_numpy()}), t),
              ctx=ctx, counts=["offences_in_12_months_to_month"])
        sentence = (f"**No SPC chart**: {plan.reason}. Overlapping totals share 11 of their 12 months, so they "
                    f"cannot be judged with process limits; the line shows the direction.{finer}")
        _say(sentence)
        publish_gated(ctx, t, f"Offences per {pub_word}, {ctx.name}", note="Published counts; " + hidden_note(),
                      show_last=12)
        res.message = sentence
        res.data = roll
        res.values = {"resolution": r, "plan": "rolling", "points": plan.points,
                      "latest_total": float(roll.iloc[-1])}
        return res
    # XmR
    word = _RES_WORDS[plan.resolution]
    series = plan.values
    s = _spc_frame(series)
    res.data = s
    trial = bool(s["trial_limits"].any())
    chart_data = disclosure.derived(pd.DataFrame({
        "month": s["date"], "value": s["value"], "mean": s["mean"], "lower": s["lower_limit"],
        "upper": s["upper_limit"], "variation": s["special_cause"]}), t)
    counts = s["special_cause"].value_counts()
    n_imp, n_con = int(counts.get("improvement", 0)), int(counts.get("concern", 0))
    last = s.iloc[-1]
    point_labels = [_LABEL[plan.resolution](pd.Timestamp(d)) for d in s["date"]]
    low_note = _lower_limit_note(float(last["lower_limit"]), word)
    alt = (f"SPC chart of {ctx.what} offences per {word} in {ctx.name}, {point_labels[0]} to {point_labels[-1]} "
           f"({len(s)} {word}s, from published counts). Mean {last['mean']:.1f} a {word}; process limits "
           f"{last['lower_limit']:.1f} to {last['upper_limit']:.1f}"
           + (" (the lower limit is below zero: no low point can be a signal)" if last["lower_limit"] < 0 else "")
           + f". {n_imp} {word}(s) show special-cause improvement and {n_con} special-cause concern.")
    fig = charts.spc_chart(chart_data, title=f"{ctx.what_short.capitalize()} per {word}, {ctx.name}: SPC chart",
                           ylabel=f"Offences per {word}", xlabel=f"{word.capitalize()} (start)", trial_limits=trial)
    _show(fig, alt, res, disclosure.derived(spc_chart_data(s, point_labels, plan.resolution), t), ctx=ctx,
          counts=["offences"])
    latest = last["special_cause"]
    coarser = "" if plan.resolution == r else f" The chart is by {word}: {plan.reason}."
    sentence = (f"The latest {word} ({point_labels[-1]}) shows "
                f"{'common-cause variation' if latest == 'common cause' else 'special-cause ' + latest}. "
                f"Across the period, {n_imp} {word}(s) show special-cause improvement and {n_con} concern."
                + coarser + finer + low_note)
    _say(sentence)
    res.message = sentence
    extra = pd.DataFrame({
        "Mean": s["mean"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Lower process limit": s["lower_limit"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Upper process limit": s["upper_limit"].round(1).map(lambda v: f"{v:.1f}").to_numpy(),
        "Variation": s["special_cause"].to_numpy(),
        "Rule": [rule_words(x, word) for x in s["rule"]],
    })
    note = ("Limits from the published counts, drawn as calculated (a lower limit below 0 is not moved to 0). "
            + hidden_note())
    if plan.resolution == r:
        t.counts.columns = ["Offences"]
        res.csv = publish_gated(ctx, t, f"Offences per {word} and SPC signals, {ctx.name}", name="monthly_spc",
                                extra=extra, note=note, show_last=12)
        res.table = t.text()
    else:
        table = pd.DataFrame({word.capitalize(): point_labels,
                              "Offences": series.round().astype("int64").to_numpy()})
        for c in extra.columns:
            table[c] = extra[c].to_numpy()
        table.attrs["count_columns"] = ["Offences"]
        res.csv = _publish(ctx, table, "monthly_spc", f"Offences per {word} (sums of the published {pub_word}ly "
                           f"counts) and SPC signals, {ctx.name}", note=note, counts=["Offences"], show_last=12)
        res.table = table
    res.values = {"resolution": plan.resolution, "published_resolution": r, "plan": "xmr",
                  "mean": float(last["mean"]), "upper": float(last["upper_limit"]),
                  "lower": float(last["lower_limit"]), "improvement": n_imp, "concern": n_con, "latest": latest,
                  "trial_limits": trial, "months": len(s), "points": len(s)}
    return res


def special_cause_by_csp(ctx: ProfileContext, recent: int = 6) -> SectionResult:
    """For every CSP of the force: does its SPC chart show special-cause variation in its latest points?

    Each CSP is judged by the same rule as its own profile's chart (:func:`spc_plan_for`): a CSP whose rule
    gives no XmR chart is listed as "no SPC chart" with the reason, never with signals."""
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    rows = []
    for code in ctx.csp_codes:
        plan = spc_plan_for(fam, code)
        name = ctx.csp_name(code)
        published = fam.resolution.get(code)
        if plan is None or plan.kind != "xmr":
            rows.append({"CSP": name, "Published series": published or "none", "SPC points": "",
                         "Mean per point": "",
                         "Special cause in the latest points": "no SPC chart" + (
                             " (rolling 12-month totals only)" if plan is not None and plan.kind == "rolling"
                             else ""),
                         "Rule": "" if plan is None else plan.reason,
                         "Improvement points": "", "Concern points": ""})
            continue
        s = _spc_frame(plan.values)
        tail = s.tail(recent)
        kinds = [k for k in ("concern", "improvement") if (tail["special_cause"] == k).any()]
        rules = sorted(set(tail.loc[tail["special_cause"].isin(kinds), "rule"]))
        rows.append(
            {
                "CSP": name,
                "Published series": published,
                "SPC points": plan.resolution,
                "Mean per point": round(float(s["mean"].iloc[-1]), 1),
                "Special cause in the latest points": " and ".join(kinds) or "none",
                "Rule": "; ".join(rule_words(x, _RES_WORDS[plan.resolution]) for x in rules),
                "Improvement points": int((s["special_cause"] == "improvement").sum()),
                "Concern points": int((s["special_cause"] == "concern").sum()),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["count_columns"] = []  # point counts are months or quarters, not offences or people
    res = SectionResult(name="special_cause_by_csp", data=table, table=table)
    flagged = table[~table["Special cause in the latest points"].str.startswith(("none", "no SPC chart"))]
    charted = int((~table["Special cause in the latest points"].str.startswith("no SPC chart")).sum())
    n_flag = len(flagged)
    sentence = (
        f"Of the {charted} CSP(s) of {ctx.force_name} with an SPC chart, {n_flag} "
        f"{'shows' if n_flag == 1 else 'show'} special-cause variation in the latest {recent} points (months or "
        "quarters, as charted)"
        + (": " + "; ".join(f"{r['CSP']} ({r['Special cause in the latest points']})" for _, r in flagged.iterrows())
           if n_flag else "")
        + "."
        + (f" {len(table) - charted} CSP(s) have no SPC chart: their published series has fewer than 12 points or "
           "averages under 10 offences a point (the reason is in the table)." if charted < len(table) else "")
    )
    _say(sentence)
    res.message = sentence
    res.csv = _publish(
        ctx,
        table,
        "special_cause_by_csp",
        f"Special-cause variation in the latest {recent} points by CSP, {ctx.force_name}",
        note="Improvement and concern points count months (or quarters) with a special-cause signal over the "
        "whole period (NHS Making Data Count rules; fewer offences is improvement). A CSP is charted only when "
        "its published series has at least 12 points averaging 10 offences or more (the project's disclosure rules).",
        counts=[],
    )
    res.values = {"flagged": flagged["CSP"].tolist(), "charted": charted}
    return res
