"""CSP profile (``csp_profile.ipynb``), how much and compared with what: the headline, financial years,
success measures, hospital admissions, rates against other areas (funnel plot), month by month (SPC) and the
offence mix.

The force overview (``force_overview.ipynb``) shows several of these for a force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.errors import SvtoolsError
from svtools.publish import charts, output
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _area_rates,
    _ci,
    _count,
    _extremes,
    _financial_years,
    _fmt,
    _is_small,
    _masked,
    _need_records,
    _publish,
    _r,
    _say,
    _show,
    _skip,
    _spc_frame,
    _threshold,
    _window_label,
    suppress,
)

__all__ = [
    "headline",
    "financial_years",
    "success_measures",
    "hospital_admissions",
    "rate_comparison",
    "monthly_spc",
    "offence_mix",
]


# =========================================================================== headline and success measures
def headline(ctx: ProfileContext) -> SectionResult:
    """The headline numbers: the latest complete financial year (or the whole period), its rate per 1,000
    residents with its 95% interval, the change from 2019/20 and the share with a victim under 25."""
    from svtools.analysis.measures import success_measures as measures_fn

    res = SectionResult(name="headline")
    for note in ctx.notes:
        _say(note)
    years = ctx.complete_financial_years()
    baseline = config.settings()["periods"]["baseline_financial_year"]
    if ctx.record_level and years:
        latest = years[-1]
        m = measures_fn(
            ctx.records, ctx.population, ctx.definition, csp_codes=ctx.csp_codes, financial_years=years
        )
        row = m[(m["cohort"] == "all ages") & (m["financial_year"] == latest)].iloc[0]
        u25 = m[(m["cohort"] == "under 25") & (m["financial_year"] == latest)].iloc[0]
        rate_col = [c for c in m.columns if c.startswith("rate_per_")][0]
        lines = [
            f"In {latest}, **{_count(row['offences'])}** offences of {ctx.what} were recorded in "
            f"{ctx.name}: **{_fmt(row[rate_col])} per 1,000 residents** ({_ci(row['lower'], row['upper'])})."
        ]
        if baseline in set(m["financial_year"]) and baseline != latest:
            base_n = int(row["baseline_offences"])
            if _is_small(base_n) or _is_small(row["offences"]):
                lines.append(f"In {baseline}, the baseline year, {_count(base_n)} were recorded.")
            else:
                change = (
                    "no change"
                    if int(row["change"]) == 0
                    else f"{int(row['change']):+,d} ({row['pct_change']:+.1f}%)"
                )
                lines.append(
                    f"That is {change} compared with {baseline} ({base_n:,}), the Home Office baseline year."
                )
        lines.append(f"{_count(u25['offences'])} of them had a victim under 25.")
        res.values = {
            "financial_year": latest,
            "offences": int(row["offences"]),
            "rate": float(row[rate_col]),
            "lower": float(row["lower"]),
            "upper": float(row["upper"]),
            "change": int(row["change"]),
            "under_25": int(u25["offences"]),
        }
        res.data = m
    else:
        from svtools.analysis.stats import rate

        n = len(ctx.selected)
        pop = float(ctx.areas.loc[ctx.areas["csp_code"].isin(ctx.csp_codes), "population"].sum())
        r = rate([n], [pop * ctx.years], multiplier=1000).iloc[0]
        lines = [
            f"From {ctx.period}, **{_count(n)}** offences of {ctx.what} were recorded in {ctx.name}: "
            f"**{_fmt(r['value'])} per 1,000 residents a year** ({_ci(r['lower'], r['upper'])})."
        ]
        if not ctx.record_level:
            lines.append(
                "data.police.uk has no offence codes, so the local definition cannot be applied: "
                "the violence-related crime types are used instead, and there are no ages."
            )
        res.values = {
            "offences": n,
            "rate": float(r["value"]),
            "lower": float(r["lower"]),
            "upper": float(r["upper"]),
        }
    res.message = " ".join(lines)
    _say("\n".join(f"* {line}" for line in lines))
    return res


def financial_years(ctx: ProfileContext) -> SectionResult:
    """Offences by financial year (April to March), all ages and with a victim under 25, with rates per 1,000
    residents a year and 95% intervals; a year the period covers only in part is labelled and its rate
    annualised."""
    from svtools.analysis.measures import resident_population
    from svtools.analysis.stats import rate

    months = pd.Series(_financial_years(ctx.months), index=ctx.months)
    years = list(dict.fromkeys(months))
    n_months = months.value_counts()
    sel = ctx.selected
    fy = sel["financial_year"].astype(str)
    counts = fy.value_counts()
    pop = resident_population(ctx.population, years, ctx.csp_codes)
    person_years = np.array([pop[y] * n_months[y] / 12 for y in years])
    n = np.array([int(counts.get(y, 0)) for y in years])
    r = rate(n, person_years, multiplier=1000)
    labels = [
        y
        if n_months[y] == 12
        else f"{y} ({months[months == y].index.min():%b %Y} to {months[months == y].index.max():%b %Y} only)"
        for y in years
    ]
    raw = pd.DataFrame(
        {
            "Financial year": labels,
            "Offences": n,
            "Rate per 1,000 residents a year": r["value"].round(2).to_numpy(),
            "Lower 95% CI": r["lower"].round(2).to_numpy(),
            "Upper 95% CI": r["upper"].round(2).to_numpy(),
        }
    )
    rates = {
        "Rate per 1,000 residents a year": "Offences",
        "Lower 95% CI": "Offences",
        "Upper 95% CI": "Offences",
    }
    count_cols = ["Offences"]
    if ctx.record_level:
        u25_max = int(config.settings()["age_bands"]["under_25_max_age"])
        young = (sel["victim_age"].astype("Float64") <= u25_max).fillna(False).to_numpy(bool)
        cu = fy[young].value_counts()
        pop_u = resident_population(ctx.population, years, ctx.csp_codes, 0, u25_max)
        nu = np.array([int(cu.get(y, 0)) for y in years])
        ru = rate(nu, np.array([pop_u[y] * n_months[y] / 12 for y in years]), multiplier=1000)
        raw["Offences with a victim under 25"] = nu
        raw["Under-25 rate per 1,000 residents aged 0-24"] = ru["value"].round(2).to_numpy()
        rates["Under-25 rate per 1,000 residents aged 0-24"] = "Offences with a victim under 25"
        count_cols.append("Offences with a victim under 25")
    res = SectionResult(name="financial_years", data=raw.assign(financial_year=years))
    shown = suppress(raw, count_cols, rates=rates)
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "offences_by_financial_year",
        f"Offences by financial year, {ctx.name}: {ctx.what}",
        note="Rates per 1,000 residents a year (ONS mid-year estimates; part years annualised), 95% "
        "confidence intervals. "
        + ("An offence with two victims counts once per victim. " if ctx.record_level else "")
        + f"Counts from 1 to {_threshold()} are shown as * with their rates.",
    )
    res.values = {
        "years": years,
        "offences": dict(zip(years, n.tolist())),
        "rates": dict(zip(years, r["value"].to_numpy().tolist())),
    }
    return res


_MEASURES = (
    ("Police", "knife_serious_violence", "Knife or sharp-object enabled serious violence"),
    ("Police", "homicide", "Homicide"),
)


def success_measures(ctx: ProfileContext) -> SectionResult:
    """The Home Office success-measure table (all ages and under 25, latest financial year against 2019/20),
    as partners report it (Leicester, Leicestershire and Rutland VRN 2024), and the chosen definition by year.
    """
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import hospital_measures, success_table
    from svtools.analysis.measures import success_measures as measures_fn

    title = "The Home Office success measures"
    skip = _need_records(
        ctx, "success_measures", title, "no Home Office offence codes, knife flags or victim ages"
    )
    if skip:
        return skip
    baseline = config.settings()["periods"]["baseline_financial_year"]
    years = ctx.complete_financial_years()
    if baseline not in years or years[-1] == baseline:
        return _skip(
            ctx,
            "success_measures",
            title,
            f"the period ({ctx.period}) does not hold both the {baseline} baseline and a later complete "
            "financial year",
        )
    latest = years[-1]
    rows, raw = [], []
    for source, name, label in _MEASURES:
        m = measures_fn(ctx.records, ctx.population, name, csp_codes=ctx.csp_codes, financial_years=years)
        raw.append(m.assign(measure=label))
        t = success_table(m, latest=latest, measure=label)
        t.insert(0, "source", source)
        rows.append(t)
    try:
        hospital = load_table("hospital_admissions", ctx.dataset)
    except SvtoolsError:
        hospital = None
    if hospital is not None and len(hospital):
        hm = hospital_measures(hospital, csp_codes=ctx.csp_codes, financial_years=years)
        t = success_table(hm, latest=latest, measure="Hospital admissions for assault with a sharp object")
        t.insert(0, "source", "Health")
        rows.append(t)
        raw.append(hm.assign(measure="Hospital admissions for assault with a sharp object"))
    table = pd.concat(rows, ignore_index=True)
    table["cohort"] = table["cohort"].astype(str).map({"all ages": "All ages", "under 25": "Victim under 25"})
    # Police counts: hide 1..threshold; a change computed from a hidden count is hidden too.
    police = table["source"] == "Police"
    shown = table.astype(object)
    for col in (baseline, latest):
        small = police & table[col].map(_is_small)
        shown.loc[small, col] = config.settings()["disclosure"]["suppressed_marker"]
    hidden = police & (table[baseline].map(_is_small) | table[latest].map(_is_small))
    shown.loc[hidden, ["change", "pct_change"]] = ""
    shown["pct_change"] = [
        v if isinstance(v, str) else ("" if pd.isna(v) else f"{v:+.1f}%") for v in shown["pct_change"]
    ]
    shown["change"] = [v if isinstance(v, str) else f"{int(v):+d}" for v in shown["change"]]
    shown = shown.rename(
        columns={
            "source": "Source",
            "measure": "Measure",
            "cohort": "Cohort",
            "change": f"Change from {baseline}",
            "pct_change": f"% change from {baseline}",
        }
    )
    note = (
        f"Counts from 1 to {_threshold()} are shown as *, and their changes are left blank. Hospital "
        "admissions (HES, ICD-10 X99) are suppressed at source when 1 to "
        f"{config.disclosure_threshold('hes')}; a total that includes a suppressed cell is shown as a lower "
        "bound (>=) and has no change."
    )
    res = SectionResult(name="success_measures", table=shown, data=pd.concat(raw, ignore_index=True))
    res.csv = _publish(
        ctx,
        shown,
        "success_measures",
        f"Home Office success measures, {ctx.name}: {baseline} and {latest}",
        note,
    )
    m = measures_fn(
        ctx.records, ctx.population, ctx.definition, csp_codes=ctx.csp_codes, financial_years=years
    )
    row = m[(m["cohort"] == "all ages") & (m["financial_year"] == latest)].iloc[0]
    knife = table[(table["measure"] == _MEASURES[0][2]) & (table["cohort"] == "All ages")].iloc[0]
    sentence = (
        f"Knife or sharp-object enabled serious violence in {ctx.name}: {_count(knife[latest])} offences in "
        f"{latest} against {_count(knife[baseline])} in {baseline}"
        + (
            "."
            if _is_small(knife[latest]) or _is_small(knife[baseline]) or pd.isna(knife["pct_change"])
            else f" ({knife['pct_change']:+.1f}%)."
        )
    )
    _say(sentence)
    res.message = sentence
    res.values = {
        "baseline": baseline,
        "latest": latest,
        "offences": int(row["offences"]),
        "baseline_offences": int(row["baseline_offences"]),
        "change": int(row["change"]),
    }
    return res


def hospital_admissions(ctx: ProfileContext) -> SectionResult:
    """Hospital admissions for assault with a knife or sharp object by financial year (HES-style, suppressed
    at source: suppressed cells stay suppressed and totals that include one are lower bounds)."""
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import hospital_measures

    title = "Hospital admissions for assault with a sharp object"
    if not ctx.record_level:
        return _skip(
            ctx, "hospital_admissions", title, "no hospital admissions are held with the data.police.uk files"
        )
    try:
        hospital = load_table("hospital_admissions", ctx.dataset)
    except SvtoolsError:
        return _skip(ctx, "hospital_admissions", title, "the dataset holds no hospital admissions")
    hm = hospital_measures(hospital, csp_codes=ctx.csp_codes)
    if hm.empty or (hm["display"] == "no data").all():
        return _skip(ctx, "hospital_admissions", title, f"no admissions are recorded for {ctx.name}")
    wide = hm.pivot_table(
        index="financial_year", columns="cohort", values="display", aggfunc="first", observed=True
    )
    table = pd.DataFrame(
        {
            "Financial year": wide.index,
            "All ages": wide["all ages"].to_numpy(),
            "Under 25": wide["under 25"].to_numpy(),
        }
    )
    res = SectionResult(name="hospital_admissions", table=table, data=hm)
    note = (
        f"Cells of 1 to {config.disclosure_threshold('hes')} admissions are suppressed at source (HES "
        "rules); "
        "a total that includes one is shown as a lower bound, e.g. >=12."
    )
    res.csv = _publish(
        ctx,
        table,
        "hospital_admissions",
        f"Hospital admissions for assault with a sharp object, {ctx.name}",
        note,
    )
    known = hm[(hm["cohort"] == "all ages") & ~hm["suppressed"]]
    res.values = {
        "suppressed_years": int(hm.loc[hm["cohort"] == "all ages", "suppressed"].sum()),
        "known_total": int(known["admissions"].fillna(0).sum()),
    }
    series = pd.to_numeric(
        hm.loc[hm["cohort"] == "all ages"].set_index("financial_year")["admissions"], errors="coerce"
    )
    chart_table = pd.DataFrame(
        {
            "financial_year": series.index,
            "All ages": series.to_numpy(dtype=float),
            "Under 25": pd.to_numeric(
                hm.loc[hm["cohort"] == "under 25", "admissions"], errors="coerce"
            ).to_numpy(dtype=float),
        }
    )
    if series.notna().sum() == 0:
        line = (
            f"No year has a complete total for {ctx.name}: every year includes cells of 1 to "
            f"{config.disclosure_threshold('hes')} admissions, suppressed at source, so there is no chart."
        )
        _say(line)
        res.message = line
        return res
    hi, lo = _extremes(series.astype(float), fmt=lambda v: f"{v:,.0f}")
    n_sup = int(series.isna().sum())
    alt = (
        f"Bar chart of hospital admissions for assault with a sharp object, residents of {ctx.name}, by "
        f"financial year. All ages: highest {hi}, lowest {lo} among years with a complete total; "
        f"{n_sup} year(s) include suppressed cells and show *."
    )
    _show(
        charts.yearly_chart(
            chart_table,
            title=f"Hospital admissions for assault with a sharp object, {ctx.name}",
            ylabel="Admissions",
        ),
        alt,
        res,
    )
    return res


# =========================================================================== comparison
def _funnel_figure(ctx: ProfileContext, points: pd.DataFrame, target: float, info: dict, highlight, title):
    from svtools.analysis.stats import funnel_limits

    lo, hi = points["person_years"].min(), points["person_years"].max()
    grid = np.geomspace(max(lo * 0.5, 1000.0), hi * 1.1, 200)
    limits = funnel_limits(target, grid, multiplier=1000)
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
    return charts.funnel_plot(
        pts,
        limits,
        target=target,
        title=title,
        highlight=highlight,
        xlabel="Residents (mid-2020)",
        ylabel="Rate per 1,000 residents a year",
    )


def rate_comparison(ctx: ProfileContext) -> SectionResult:
    """Rates per 1,000 residents with 95% intervals against the force and the whole data area, and a funnel
    plot (95% and 99.8% limits) of every CSP in the data (a CSP profile) or of the force's CSPs (a force)."""
    areas, info = _area_rates(ctx)
    per = "per 1,000 residents a year"
    res = SectionResult(name="rate_comparison", data=areas)
    window = _window_label(info)
    if ctx.level == "csp":
        points = areas.assign(sig_998=areas["vs_all_998"])
        target, comparator = info["overall"], "all CSPs in the data"
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
                f"All {len(areas)} CSPs in the data",
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
        }
        verdict = {"high": "higher than", "low": "lower than", "not significant": "similar to"}
        sentence = (
            f"From {window}, {ctx.name} recorded {_count(me['offences'])} offences of {ctx.what}, too few "
            "to show a rate."
            if _is_small(me["offences"])
            else f"From {window}, {ctx.name} recorded {_fmt(me['rate'])} offences of {ctx.what} {per} "
            f"({_ci(me['lower'], me['upper'])}): {verdict.get(me['vs_force_95'], 'compared with')} "
            f"the {ctx.force_name} rate ({_fmt(info['force_rate'])}) and "
            f"{verdict.get(me['vs_all_95'], 'compared with')} the rate of all CSPs in the data "
            f"({_fmt(info['overall'])}), at 95% confidence."
        )
        highlight = ctx.name
    else:
        points = areas[areas["pfa_code"] == ctx.force_code].assign(
            sig_998=lambda d: funnel_significance_998(d, info["force_rate"])
        )
        target, comparator = info["force_rate"], f"the {ctx.force_name} rate"
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
            "outside_998": int((points["sig_998"] != "not significant").sum()),
        }
        sentence = (
            f"From {window}, {ctx.force_name} recorded {_fmt(info['force_rate'])} offences of {ctx.what} "
            f"{per}; the highest CSP rate was {highest['csp_name']} ({_fmt(highest['rate'])}) and the "
            f"lowest {lowest['csp_name']} ({_fmt(lowest['rate'])})."
        )
        highlight = None
    _say(sentence)
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
        "are shown as * and their rates left blank.",
    )
    # a CSP with 1 to threshold offences is left off the chart (its rate would reveal the count)
    small = points["offences"].map(_is_small)
    hidden_csps = points.loc[small, "csp_name"].tolist()
    points = points[~small]
    outside = points[points["sig_998"].isin(["high", "low"])]
    hi, lo = points.loc[points["rate"].idxmax()], points.loc[points["rate"].idxmin()]
    alt = (
        f"Funnel plot of {ctx.what} rates {per}, {window}, for {len(points)} CSPs against {comparator} "
        f"({_fmt(target)}), with 95% and 99.8% control limits. "
    )
    if ctx.level == "csp":
        alt += f"{ctx.name}: {_fmt(res.values['rate'])} ({_ci(res.values['lower'], res.values['upper'])}). "
    alt += (
        f"Highest: {hi['csp_name']} ({_fmt(hi['rate'])}); lowest: {lo['csp_name']} ({_fmt(lo['rate'])}). "
        f"{len(outside)} CSP(s) lie outside the 99.8% limits"
        + (f": {', '.join(outside['csp_name'])}." if len(outside) else ".")
        + (f" Not drawn (1 to {_threshold()} offences): {', '.join(hidden_csps)}." if hidden_csps else "")
    )
    title = f"{ctx.what_short.capitalize()}: rate per 1,000 residents a year, {window}, " + (
        "all CSPs in the data" if ctx.level == "csp" else f"CSPs of {ctx.force_name}"
    )
    _show(_funnel_figure(ctx, points, target, info, highlight, title), alt, res)
    return res


def funnel_significance_998(points: pd.DataFrame, target: float) -> np.ndarray:
    """99.8% funnel significance of each CSP's rate against ``target`` (per 1,000)."""
    from svtools.analysis.stats import funnel_significance

    return funnel_significance(points["offences"], points["person_years"], target, multiplier=1000)[
        "significance_998"
    ].to_numpy()


# =========================================================================== month by month
def monthly_spc(ctx: ProfileContext) -> SectionResult:
    """Monthly counts on an NHS "Making Data Count" XmR chart: mean, process limits and special-cause
    variation (improvement or concern)."""
    series = ctx.monthly
    res = SectionResult(name="monthly_spc")
    if len(series) < 2 or series.sum() == 0:
        return _skip(
            ctx,
            "monthly_spc",
            "The monthly SPC chart",
            f"there are too few months or no offences of {ctx.what} in {ctx.name} in {ctx.period}",
        )
    s = _spc_frame(series)
    res.data = s
    trial = bool(s["trial_limits"].any())
    chart_data = pd.DataFrame(
        {
            "month": s["date"],
            "value": s["value"],
            "mean": s["mean"],
            "lower": s["lower_limit"].clip(lower=0),
            "upper": s["upper_limit"],
            "variation": s["special_cause"],
        }
    )
    counts = s["special_cause"].value_counts()
    n_imp, n_con = int(counts.get("improvement", 0)), int(counts.get("concern", 0))
    special = s[s["special_cause"].isin(["improvement", "concern"])]
    last = s.iloc[-1]
    alt = output.describe_series(series, f"{ctx.what} offences", ctx.name)
    alt += (
        f" Mean {last['mean']:.1f} a month; process limits {max(last['lower_limit'], 0):.1f} to "
        f"{last['upper_limit']:.1f}{' (trial limits: fewer than 12 months)' if trial else ''}. "
        f"{n_imp} month(s) show special-cause improvement and {n_con} special-cause concern"
        + (
            f"; the latest special cause is in {output.month_label(special['date'].iloc[-1])} "
            f"({special['rule'].iloc[-1]})."
            if len(special)
            else "."
        )
    )
    fig = charts.spc_chart(
        chart_data,
        title=f"{ctx.what_short.capitalize()} per month, {ctx.name}: SPC chart",
        ylabel="Offences per month",
        trial_limits=trial,
    )
    _show(fig, alt, res)
    latest = last["special_cause"]
    sentence = (
        f"The latest month ({output.month_label(last['date'])}) shows "
        f"{'common-cause variation' if latest == 'common cause' else 'special-cause ' + latest}. "
        f"Across the period, {n_imp} month(s) show special-cause improvement and {n_con} concern."
    )
    _say(sentence)
    res.message = sentence
    table = pd.DataFrame(
        {
            "Month": pd.DatetimeIndex(s["date"]).strftime("%b %Y"),
            "Offences": s["value"].astype("int64").to_numpy(),
            "Mean": s["mean"].round(1).to_numpy(),
            "Lower process limit": s["lower_limit"].clip(lower=0).round(1).to_numpy(),
            "Upper process limit": s["upper_limit"].round(1).to_numpy(),
            "Variation": s["special_cause"].to_numpy(),
            "Rule": s["rule"].to_numpy(),
        }
    )
    res.table = suppress(table, ["Offences"])
    res.csv = _publish(
        ctx,
        res.table,
        "monthly_spc",
        f"Offences per month and SPC signals, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
        show_last=12,
    )
    res.values = {
        "mean": float(last["mean"]),
        "upper": float(last["upper_limit"]),
        "lower": float(last["lower_limit"]),
        "improvement": n_imp,
        "concern": n_con,
        "latest": latest,
        "trial_limits": trial,
        "months": len(s),
    }
    return res


# =========================================================================== what
def offence_mix(ctx: ProfileContext) -> SectionResult:
    """Offences by ONS offence subgroup (record-level data) or every data.police.uk crime type."""
    res = SectionResult(name="offence_mix")
    if ctx.record_level:
        sel = ctx.selected
        counts = sel.groupby(sel["offence_subgroup"].astype(str)).size().sort_values(ascending=False)
        label, what, highlight = "Offence type", f"offences of {ctx.what}", None
    else:
        counts = (
            ctx.records.groupby(ctx.records["crime_type"].astype(str)).size().sort_values(ascending=False)
        )
        label, what, highlight = (
            "Crime type",
            "crimes of every type (data.police.uk)",
            "Violence and sexual offences",
        )
    if counts.sum() == 0:
        return _skip(ctx, "offence_mix", "The offence mix", f"no {what} were recorded in {ctx.name}")
    total = int(counts.sum())
    raw = pd.DataFrame(
        {
            label: counts.index,
            "Offences": counts.to_numpy(dtype="int64"),
            "Share (%)": (100 * counts / total).round(1).to_numpy(),
        }
    )
    res.data = raw
    shown = suppress(raw, ["Offences"], rates=["Share (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "offence_mix",
        f"{label}s, {ctx.name}, {ctx.period}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    top = raw.head(12).assign(shown=_masked(raw["Offences"].head(12)))
    hi = raw.iloc[0]
    alt = (
        f"Horizontal bar chart of {what} in {ctx.name}, {ctx.period}, by {label.lower()}: "
        f"{len(raw)} types, {_count(total)} in all. Largest: {hi[label]} ({_count(hi['Offences'])}, "
        f"{hi['Share (%)']:.0f}%)"
        + (f"; then {raw.iloc[1][label]} ({_count(raw.iloc[1]['Offences'])})" if len(raw) > 1 else "")
        + "."
    )
    fig = charts.bar_chart(
        top,
        label=label,
        value="shown",
        title=f"{label}s, {ctx.name}, {ctx.period}",
        xlabel="Offences",
        ylabel=label,
        highlight=highlight,
    )
    _show(fig, alt, res)
    res.values = {"total": total, "largest": str(hi[label]), "largest_count": int(hi["Offences"])}
    return res
