"""CSP profile (``csp_profile.ipynb``), where, when and who: hotspots, deprivation, time of day and week,
victims and suspects, under-25s, repeat victims and harm concentration.

The force overview and the under-25 cohort page (``cohort_under25.ipynb``) show several of these too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.publish import charts
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _blank_where_small,
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
    _threshold,
    suppress,
)

__all__ = [
    "hotspots",
    "deprivation",
    "when",
    "who",
    "under25",
    "repeat_victims",
    "harm_concentration",
]


# =========================================================================== where
def hotspots(ctx: ProfileContext) -> SectionResult:
    """Concentration in neighbourhoods: the share of offences in the top 5% of LSOAs, a Lorenz curve and the
    busiest LSOAs with rates per 1,000 residents a year."""
    from svtools.analysis.place_time import concentration_curve, lsoa_counts, top_share

    title = "Neighbourhood hotspots"
    sel = ctx.selected
    if len(sel) == 0:
        return _skip(ctx, "hotspots", title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    counts = lsoa_counts(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years)
    ts = top_share(counts)
    t = ts.iloc[0].to_dict()
    t["top_lsoas"], t["lsoas"] = int(t["top_lsoas"]), int(t["lsoas"])
    res = SectionResult(name="hotspots", data=counts)
    lorenz = concentration_curve(counts)
    ordered = counts.set_index("lsoa_code").loc[lorenz["lsoa_code"]].reset_index()
    n = len(ordered)
    pop_share = t.get("population_share", float("nan"))
    sentence = (
        f"The busiest {t['top_lsoas']} of {ctx.name}'s {t['lsoas']} neighbourhoods (LSOAs, the top "
        f"{t['lsoa_share']:.0%}) had **{t['offence_share']:.0%}** of the offences of {ctx.what} in "
        f"{ctx.period}" + (f", and {pop_share:.0%} of the residents." if np.isfinite(pop_share) else ".")
    )
    _say(sentence)
    res.message = sentence
    none = int((counts["offences"] == 0).sum())
    alt = (
        f"Lorenz curve of {ctx.what} across the {n} LSOAs of {ctx.name}, {ctx.period}, busiest first. "
        "The top "
        f"{t['lsoa_share']:.0%} of LSOAs ({t['top_lsoas']}) had {t['offence_share']:.0%} of offences; "
        f"{none} LSOAs had none. The busiest LSOA had {_count(ordered['offences'].iloc[0])} offences."
    )
    _show(
        charts.lorenz_chart(
            lorenz,
            title=f"How concentrated {ctx.what_short} is in {ctx.name}'s neighbourhoods",
            top_share=float(t["lsoa_share"]),
            top_value=float(t["offence_share"]),
        ),
        alt,
        res,
    )
    top = ordered.head(max(10, int(t["top_lsoas"]))).head(15)
    rate_col = [c for c in counts.columns if c.startswith("rate_per_")][0]
    raw = pd.DataFrame(
        {
            "LSOA": top["lsoa_code"].to_numpy(),
            "Name": top["lsoa_name"].to_numpy() if "lsoa_name" in top else "",
            "IMD decile": top["imd_decile"].astype("Int64").to_numpy(),
            "Offences": top["offences"].to_numpy(),
            "Rate per 1,000 a year": top[rate_col].round(2),
            "Lower 95% CI": top["lower"].round(2).to_numpy(),
            "Upper 95% CI": top["upper"].round(2),
        }
    )
    raw = raw.reset_index(drop=True)
    shown = suppress(raw, ["Offences"], rates=["Rate per 1,000 a year", "Lower 95% CI", "Upper 95% CI"])
    shown["IMD decile"] = shown["IMD decile"].astype(object).where(shown["IMD decile"].notna(), "")
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "hotspot_lsoas",
        f"Busiest neighbourhoods (LSOAs), {ctx.name}, {ctx.period}",
        note=f"IMD decile 1 = most deprived 10% nationally. Counts from 1 to {_threshold()} are "
        "shown as * and their rates left blank.",
    )
    res.values = {
        "top_lsoas": int(t["top_lsoas"]),
        "lsoas": int(t["lsoas"]),
        "offence_share": float(t["offence_share"]),
        "top_codes": ts.attrs.get("top_codes", []),
    }
    return res


def deprivation(ctx: ProfileContext) -> SectionResult:
    """Rate per 1,000 residents a year by national IMD decile with 95% intervals, and the slope (SII) and
    relative (RII) indices of inequality."""
    from svtools.analysis.place_time import deprivation_gradient

    title = "The deprivation gradient"
    sel = ctx.selected
    if len(sel) == 0:
        return _skip(ctx, "deprivation", title, f"no offences of {ctx.what} were recorded in {ctx.name}")
    # the log-linear fit (PHE transform = TRUE, recommended for rates) when every decile has offences
    g = deprivation_gradient(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years, transform=True)
    if not np.isfinite(g.sii):
        g = deprivation_gradient(sel, ctx.lsoa, csp_codes=ctx.csp_codes, years=ctx.years)
    tab = g.table
    rate_col = [c for c in tab.columns if c.startswith("rate_per_")][0]
    res = SectionResult(name="deprivation", data=tab)
    present = tab[tab["population"] > 0]
    line = g.line if len(g.line) else None
    note = f"SII {g.sii:.2f}, RII {g.rii:.2f}" if np.isfinite(g.sii) else None
    # a rate of a decile with 1 to threshold offences would reveal the count: not drawn, not described
    shown_deciles = present[~present["offences"].map(_is_small)]
    hidden_deciles = present.loc[present["offences"].map(_is_small), "imd_decile"].astype(int).tolist()
    if shown_deciles.empty:
        return _skip(
            ctx,
            "deprivation",
            title,
            f"every decile of {ctx.name} has fewer than {_threshold() + 1} "
            f"offences of {ctx.what}, too few to show",
        )
    chart_data = shown_deciles.rename(columns={rate_col: "value"})[["imd_decile", "value", "lower", "upper"]]
    chart_data = chart_data.astype(float)
    hi = shown_deciles.loc[shown_deciles[rate_col].idxmax()]
    lo = shown_deciles.loc[shown_deciles[rate_col].idxmin()]
    direction = (
        "higher in more deprived neighbourhoods"
        if g.sii < 0
        else "higher in less deprived neighbourhoods"
        if g.sii > 0
        else "flat"
    )
    fit = "log-linear fit" if g.transform else "linear fit"
    sii_text = (
        f"Slope index of inequality {g.sii:.2f} per 1,000 ({_ci(g.sii_lower, g.sii_upper)}); relative "
        f"index {g.rii:.2f} ({_ci(g.rii_lower, g.rii_upper)}; {fit}): rates are {direction}."
        if np.isfinite(g.sii)
        else f"No SII/RII: {g.note}."
    )
    alt = (
        f"Dot plot of {ctx.what} rates per 1,000 residents a year in {ctx.name}, {ctx.period}, by "
        "national IMD "
        "decile (1 = most deprived), with 95% confidence intervals. Highest in decile "
        f"{int(hi['imd_decile'])} "
        f"({_fmt(hi[rate_col])}), lowest in decile {int(lo['imd_decile'])} ({_fmt(lo[rate_col])}). {sii_text}"
        + (
            f" Deciles with 1 to {_threshold()} offences are not drawn: "
            f"{', '.join(map(str, hidden_deciles))}."
            if hidden_deciles
            else ""
        )
    )
    _show(
        charts.gradient_chart(
            chart_data,
            title=f"{ctx.what_short.capitalize()} by deprivation, {ctx.name}",
            ylabel="Rate per 1,000 residents a year",
            line=line,
            note=note,
        ),
        alt,
        res,
    )
    _say(sii_text + (f" ({g.note})" if g.note and np.isfinite(g.sii) else ""))
    raw = pd.DataFrame(
        {
            "IMD decile": tab["imd_decile"].astype(int).to_numpy(),
            "LSOAs": tab["lsoas"].to_numpy(),
            "Residents": tab["population"].round(-1).astype("int64").to_numpy(),
            "Offences": tab["offences"].astype("int64").to_numpy(),
            "Rate per 1,000 a year": tab[rate_col].round(2).to_numpy(),
            "Lower 95% CI": tab["lower"].round(2).to_numpy(),
            "Upper 95% CI": tab["upper"].round(2),
        }
    )
    shown = suppress(raw, ["Offences"], rates=["Rate per 1,000 a year", "Lower 95% CI", "Upper 95% CI"])
    # LSOAs counts areas, not people; residents are rounded
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "deprivation",
        f"Rates by IMD decile, {ctx.name}, {ctx.period}",
        note=f"{sii_text} Counts from 1 to {_threshold()} are shown as * and their rates left blank.",
    )
    res.values = {
        "sii": g.sii,
        "sii_lower": g.sii_lower,
        "sii_upper": g.sii_upper,
        "rii": g.rii,
        "rii_lower": g.rii_lower,
        "rii_upper": g.rii_upper,
        "transform": g.transform,
        "hidden_deciles": hidden_deciles,
    }
    res.message = sii_text
    return res


# =========================================================================== when
def when(ctx: ProfileContext) -> SectionResult:
    """Day of week by hour of day (heatmap, cividis) from the recorded occurrence time."""
    from svtools.analysis.place_time import time_tables

    title = "Day of week and time of day"
    skip = _need_records(ctx, "when", title, "only the month of each crime: no day or time")
    if skip:
        return skip
    sel = ctx.selected
    if len(sel) == 0 or "occurred_at" not in sel.columns:
        return _skip(ctx, "when", title, f"no offences of {ctx.what} with a recorded time in {ctx.name}")
    tt = time_tables(sel)
    heat = tt.heatmap
    known = int(heat.to_numpy().sum())
    if known == 0:
        return _skip(ctx, "when", title, f"no offences of {ctx.what} in {ctx.name} have a recorded hour")
    res = SectionResult(name="when", data=tt.counts)
    hours = tt.hour.set_index("hour")["offences"]
    days = tt.day_of_week.set_index("day_name")["offences"]
    top3 = hours.sort_values(ascending=False, kind="mergesort").head(3)
    r, c = np.unravel_index(np.argmax(heat.to_numpy()), heat.shape)
    alt = (
        f"Heatmap of {ctx.what} in {ctx.name}, {ctx.period}, by day of week and hour of day ({_count(known)} "
        f"offences with a known hour). Busiest single hour: {heat.index[r]} {int(heat.columns[c]):02d}:00. "
        f"Busiest hours over the week: {', '.join(f'{h:02d}:00' for h in top3.index)}; busiest day "
        f"{days.idxmax()} ({_count(days.max())}), quietest {days.idxmin()} ({_count(days.min())})."
    )
    _show(
        charts.day_hour_heatmap(
            heat, title=f"When {ctx.what_short} happens, {ctx.name}", colorbar_label="Offences"
        ),
        alt,
        res,
    )
    unknown = tt.unknown.set_index("item")["records"]
    sentence = (
        f"The busiest hours are {', '.join(f'{h:02d}:00 to {h:02d}:59' for h in top3.index)}. "
        f"{_count(int(unknown.iloc[0]) + int(unknown.iloc[1]))} offences have no recorded hour and are "
        "left out."
    )
    _say(sentence)
    res.message = sentence
    by_hour = pd.DataFrame({"Hour": [f"{h:02d}:00" for h in hours.index], "Offences": hours.to_numpy()})
    by_day = pd.DataFrame({"Day": days.index, "Offences": days.to_numpy()})
    res.table = suppress(by_hour, ["Offences"])
    res.csv = _publish(
        ctx,
        res.table,
        "by_hour",
        f"Offences by hour of day, {ctx.name}, {ctx.period}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
    )
    _publish(
        ctx, suppress(by_day, ["Offences"]), "by_day", f"Offences by day of week, {ctx.name}, {ctx.period}"
    )
    res.values = {
        "busiest_hours": [int(h) for h in top3.index],
        "busiest_day": str(days.idxmax()),
        "known": known,
    }
    return res


# =========================================================================== who
_PYRAMID_BANDS = [0, 10, 15, 18, 25, 35, 45, 55, 65]


def who(ctx: ProfileContext) -> SectionResult:
    """Victims' and suspects' age and sex (population pyramids of offences)."""
    from svtools.analysis.cohorts import pyramid_data

    title = "Victims' and suspects' age and sex"
    skip = _need_records(ctx, "who", title, "no victim or suspect ages or sex")
    if skip:
        return skip
    sel = ctx.selected
    res = SectionResult(name="who")
    tables = []
    for role in ("victim", "suspect"):
        if f"{role}_id" not in sel.columns or sel[f"{role}_id"].notna().sum() == 0:
            _say(f"No {role}s are recorded for these offences.")
            continue
        p = pyramid_data(sel, role=role, bands=_PYRAMID_BANDS)
        total = int(p["male"].sum() + p["female"].sum())
        if total == 0:
            _say(f"No {role} has a recorded age and sex.")
            continue
        male_share = p["male"].sum() / total
        peak = p.set_index("age_band")[["male", "female"]].stack()
        (band, sex), peak_n = peak.idxmax(), peak.max()
        alt = (
            f"Population pyramid of {role}s of {ctx.what} in {ctx.name}, {ctx.period}, by age group and sex "
            f"({_count(total)} records with known age and sex). {male_share:.0%} were male. Largest group: "
            f"{sex} aged {band} ({_count(peak_n)}). {p.attrs.get('excluded', 0):,} records with unknown "
            "age or "
            "sex are left out."
        )
        chart_d = pd.DataFrame(
            {
                "age_band": p["age_band"].astype(str),
                "male": _masked(p["male"]),
                "female": _masked(p["female"]),
            }
        )
        _show(
            charts.pyramid_chart(
                chart_d,
                title=f"{role.capitalize()}s by age and sex, {ctx.name}",
                xlabel=f"{role.capitalize()} records",
            ),
            alt,
            res,
        )
        t = pd.DataFrame(
            {"Role": role, "Age group": p["age_band"].astype(str), "Male": p["male"], "Female": p["female"]}
        )
        tables.append(t)
        res.values[f"{role}_male_share"] = float(male_share)
        res.values[f"{role}_total"] = total
        res.values[f"{role}_largest"] = f"{sex} {band}"
    if not tables:
        return _skip(ctx, "who", title, "no victim or suspect has a recorded age and sex")
    raw = pd.concat(tables, ignore_index=True)
    res.data = raw
    res.table = suppress(raw, ["Male", "Female"])
    res.csv = _publish(
        ctx,
        res.table,
        "age_sex",
        f"Victims and suspects by age and sex, {ctx.name}, {ctx.period}",
        note=f"Offence records with a known age and sex F or M. Counts from 1 to {_threshold()} "
        "are shown as *.",
    )
    return res


def under25(ctx: ProfileContext) -> SectionResult:
    """Offences against victims under 25 and aged 10-24 by financial year: counts, share of victims of known
    age (Wilson interval) and rate per 1,000 residents of the same ages."""
    from svtools.analysis.cohorts import under25_cohort

    title = "Victims under 25"
    skip = _need_records(ctx, "under25", title, "no victim ages")
    if skip:
        return skip
    sel = ctx.selected
    years = sorted(set(_financial_years(ctx.months)))
    u25 = under25_cohort(sel, ctx.population, min_age=0, csp_codes=ctx.csp_codes, financial_years=years)
    y1024 = under25_cohort(sel, ctx.population, csp_codes=ctx.csp_codes, financial_years=years)
    res = SectionResult(name="under25", data=pd.concat([u25, y1024], ignore_index=True))
    rate_col = [c for c in u25.columns if c.startswith("rate_per_")][0]
    rows = []
    for frame in (u25, y1024):
        for _, r in frame.iterrows():
            rows.append(
                {
                    "Financial year": r["financial_year"],
                    "Victim age": r["age_group"],
                    "Offences": int(r["offences"]),
                    "Victims of known age": int(r["known_age"]),
                    "Share of known ages (%)": round(100 * r["share"], 1) if np.isfinite(r["share"]) else "",
                    "Rate per 1,000 residents of these ages": _r(r[rate_col]),
                    "Lower 95% CI": _r(r["lower"]),
                    "Upper 95% CI": _r(r["upper"]),
                }
            )
    raw = pd.DataFrame(rows)
    shown = _blank_where_small(
        suppress(raw, ["Offences", "Victims of known age"]),
        "Offences",
        ["Share of known ages (%)", "Rate per 1,000 residents of these ages", "Lower 95% CI", "Upper 95% CI"],
        source=raw,
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "under25",
        f"Offences against young victims by financial year, {ctx.name}",
        note="Rates per 1,000 residents of the same ages a year (ONS mid-year estimates); the "
        f"share is of records with a known victim age. Counts from 1 to {_threshold()} are "
        "shown as * and the figures computed from them left blank.",
    )
    allyrs = u25[u25["financial_year"] == "all years"].iloc[0]
    chart_t = pd.DataFrame(
        {
            "financial_year": u25["financial_year"].iloc[:-1].to_numpy(),
            "Under 25": _masked(u25["offences"].iloc[:-1]).to_numpy(),
            "Aged 10-24": _masked(y1024["offences"].iloc[:-1]).to_numpy(),
        }
    )
    hi, lo = _extremes(u25.iloc[:-1].set_index("financial_year")["offences"])
    alt = (
        f"Bar chart of {ctx.what} offences against victims under 25 and aged 10 to 24 in {ctx.name} by "
        f"financial year. Under 25: highest {hi}, lowest {lo}. Over the period {allyrs['share']:.0%} of "
        "victims of known age were under 25."
    )
    _show(
        charts.yearly_chart(chart_t, title=f"Offences against young victims, {ctx.name}", ylabel="Offences"),
        alt,
        res,
    )
    sentence = (
        f"Over {ctx.period}, {_count(allyrs['offences'])} offences of {ctx.what} had a victim under 25: "
        f"{allyrs['share']:.0%} of those with a known victim age."
    )
    _say(sentence)
    res.message = sentence
    res.values = {
        "under25": int(allyrs["offences"]),
        "share": float(allyrs["share"]),
        "aged_10_24": int(y1024[y1024["financial_year"] == "all years"]["offences"].iloc[0]),
    }
    return res


def repeat_victims(ctx: ProfileContext) -> SectionResult:
    """Repeat victimisation: people who were victims of two or more offences, and their share of offences."""
    from svtools.analysis.cohorts import repeat_victims as repeat_fn

    title = "Repeat victims"
    skip = _need_records(ctx, "repeat_victims", title, "no victim identifiers")
    if skip:
        return skip
    sel = ctx.selected
    if "victim_id" not in sel.columns or sel["victim_id"].notna().sum() == 0:
        return _skip(ctx, "repeat_victims", title, "no victims with a pseudonymised id are recorded")
    rv = repeat_fn(sel)
    s = rv.summary.iloc[0]
    res = SectionResult(name="repeat_victims", data=rv.distribution)
    sentence = (
        f"Of {_count(s['people'])} victims of {ctx.what} in {ctx.name} in {ctx.period}, "
        f"{_count(s['repeat_people'])} were victims more than once"
        + (
            f" ({s['repeat_share']:.0%}, "
            f"{_ci(100 * s['repeat_share_lower'], 100 * s['repeat_share_upper'], 0)}%)"
            if not _is_small(s["repeat_people"])
            else ""
        )
        + (
            f"; they account for {s['repeat_offence_share']:.0%} of the offences with a victim."
            if not _is_small(s["repeat_people"]) and s["repeat_people"] > 0
            else "."
        )
    )
    _say(sentence)
    res.message = sentence
    d = rv.distribution
    raw = pd.DataFrame(
        {
            "Offences per victim": d["offences_per_person"],
            "Victims": d["people"],
            "Offences": d["offences"],
            "Share of victims (%)": (100 * d["people_share"]).round(1),
            "Share of offences (%)": (100 * d["offence_share"]).round(1),
        }
    )
    shown = suppress(raw, ["Victims", "Offences"])
    shown = _blank_where_small(
        shown, "Victims", ["Share of victims (%)", "Share of offences (%)", "Offences"], source=raw
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "repeat_victims",
        f"Victims by number of offences, {ctx.name}, {ctx.period}",
        note=f"Victims are pseudonymised ids. Counts from 1 to {_threshold()} are shown as * and "
        "the figures computed from them left blank.",
    )
    res.values = {
        "people": int(s["people"]),
        "repeat_people": int(s["repeat_people"]),
        "repeat_share": float(s["repeat_share"]),
        "repeat_offence_share": float(s["repeat_offence_share"]),
    }
    return res


def harm_concentration(ctx: ProfileContext) -> SectionResult:
    """How concentrated harm is among victims (Crime Severity Score weights): Lorenz curve, Gini coefficient,
    the share of harm experienced by the top 5% of victims and how many victims experienced 20% of it."""
    from svtools.analysis.cohorts import harm_concentration as harm_fn

    title = "Concentration of harm"
    skip = _need_records(
        ctx, "harm_concentration", title, "no victim identifiers or offence codes for severity weights"
    )
    if skip:
        return skip
    sel = ctx.selected
    if "victim_id" not in sel.columns or sel["victim_id"].notna().sum() == 0:
        return _skip(ctx, "harm_concentration", title, "no victims with a pseudonymised id are recorded")
    h = harm_fn(sel)
    res = SectionResult(name="harm_concentration")
    n20 = h.people_for_share(0.2)
    sentence = (
        f"The most-harmed {100 * h.top:g}% of victims ({_count(h.top_people)}) experienced "
        f"**{h.top_harm_share:.0%}** of the harm (Crime Severity Score), and {_count(n20)} victims "
        f"experienced 20% of it (Gini coefficient {h.gini:.2f})."
    )
    _say(sentence)
    res.message = sentence
    lor = h.lorenz
    busiest = pd.DataFrame(
        {
            "area_share": 1 - lor["people_share"].to_numpy()[::-1],
            "offence_share": 1 - lor["harm_share"].to_numpy()[::-1],
        }
    ).iloc[1:]
    alt = (
        f"Lorenz curve of harm (Crime Severity Score weights) across the {_count(h.people)} victims of "
        f"{ctx.what} in {ctx.name}, {ctx.period}, most harmed first. The top {100 * h.top:g}% of victims had "
        f"{h.top_harm_share:.0%} of the harm; Gini coefficient {h.gini:.2f}."
    )
    fig = charts.lorenz_chart(
        busiest,
        title=f"How concentrated harm is among victims, {ctx.name}",
        xlabel="Share of victims, most harmed first",
        ylabel="Share of harm",
        top_share=h.top,
        top_value=h.top_harm_share,
        curve_label="Harm",
    )
    _show(fig, alt, res)
    table = pd.DataFrame(
        [
            ("Victims", _count(h.people)),
            (f"Most-harmed {100 * h.top:g}% of victims", _count(h.top_people)),
            ("Their share of harm (%)", round(100 * h.top_harm_share, 1)),
            ("Victims who experienced 20% of the harm", _count(n20)),
            ("Gini coefficient (0 = equal)", round(h.gini, 3)),
        ],
        columns=["Measure", "Value"],
    )
    table["Value"] = table["Value"].astype(str)
    res.table = table
    res.data = h.summary()
    res.csv = _publish(
        ctx,
        table,
        "harm_concentration",
        f"Concentration of harm among victims, {ctx.name}",
        note="Harm = sum of ONS Crime Severity Score weights (equivalent days of custody) of each "
        "victim's offences.",
    )
    res.values = {
        "gini": h.gini,
        "top_harm_share": h.top_harm_share,
        "top_people": h.top_people,
        "people_for_20pct": n20,
        "people": h.people,
    }
    return res
