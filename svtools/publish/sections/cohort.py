"""Under-25 cohort (``cohort_under25.ipynb``): young people as victims and suspects, their single years of age
10 to 24, rates among young residents by financial year, and (withheld in this version) sex, ethnicity and knife
involvement. The page also shows the CSP profile's under-25, hotspots, deprivation and time sections on the
young-victim context (:meth:`ProfileContext.young`).

Denominators (:mod:`svtools.analysis.population`): a rate of offences against victims under 25 divides by
residents aged 0 to 24, one of victims aged 10 to 24 by residents aged 10 to 24, each financial year by its own
ONS mid-year estimate. On the young-victim context the neighbourhood (hotspot) and deprivation rates divide by
the LSOAs' residents aged 10 to 24 (:attr:`ProfileContext.lsoa`), never by all ages. Victims whose age is not
recorded are neither in nor out of the cohort: rates count victims with a recorded age (a minimum), and
:func:`young_rates` gives the share not recorded and the rate if all of them were under 25 (a maximum).

Every number comes from the disclosure gate: the single ages are nodes of the victims' (and suspects')
age-and-sex family of the FULL context (:data:`svtools.publish.tables.VICTIM_AGE_SEX`), the same family as the
profile's age tables and its under-25 section, so the pages can never be differenced against each other.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from svtools import config
from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _ci,
    _fmt,
    _need_field,
    _need_records,
    _say,
    _show,
    _skip,
    _withheld,
    fmt_or_hidden,
    gated_rate_bounds,
    hidden_note,
    not_recorded,
    publish_gated,
    victim_age_phrase,
)
from svtools.publish.sections.profile_volume import _u25_status

__all__ = [
    "young_people",
    "young_rates",
    "young_ages",
    "young_sex",
    "young_ethnicity",
    "knife_involvement",
]

#: Said instead of a section the gate cannot yet protect.
WITHHELD = "it is not published in this version: these figures cannot yet be protected against differencing"


def _ages() -> tuple[int, int]:
    cfg = config.settings()["age_bands"]
    return int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])


def _full(ctx: ProfileContext) -> ProfileContext:
    """The context without a victim-age restriction: the age families are always the whole area's."""
    return dataclasses.replace(ctx, victim_ages=None) if ctx.victim_ages else ctx


def _registered(cube, area: str, node: str) -> bool:
    try:
        cube.value((area, node))
    except disclosure.DisclosureError:
        return False
    return True


def _mk(v) -> str:
    return disclosure.rules()["marker"] if pd.isna(v) else f"{int(v):,}"


# =========================================================================== young people
def young_people(ctx: ProfileContext) -> SectionResult:
    """Victims and suspects under 25 by financial year: withheld in this version (one line saying why)."""
    title = "Victims and suspects under 25"
    return _withheld(ctx, "young_people", title, "no victim or suspect ages",
                     WITHHELD)


def young_rates(ctx: ProfileContext) -> SectionResult:
    """Offences against victims under 25 per 1,000 residents aged 0 to 24, each complete financial year with its
    own mid-year estimate, the share of offences with no victim age recorded and the rate if every one of them
    had a victim under 25 (an upper bound), from the published cells of the age-by-year family
    (:func:`svtools.publish.tables.age_year_cube`, the same cells as the profile's financial-year table).

    Returns
    -------
    SectionResult
        ``values``: ``rates`` (financial year -> rate, NaN hidden), ``upper_bounds``, ``mid_years`` (the estimate
        used for each year) and ``nearest`` (years without an estimate of their own).
    """
    from svtools.analysis.population import year_note

    title = "Rates among young residents by financial year"
    skip = _need_records(ctx, "young_rates", title, "no victim ages")
    if skip:
        return skip
    full = _full(ctx)
    skip = _need_field(full, "young_rates", title, "victim_under_25", "rates among residents under 25")
    if skip:
        return skip
    cube = tables.age_year_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    years = list(cube.cube.dim("financial_year").base) if cube is not None else []
    if not years:
        return _skip(ctx, "young_rates", title, f"the period ({ctx.period}) holds no complete financial year with "
                     "victim ages")
    u25, unk, allages = tables.AGE_GROUPS[0], tables.AGE_GROUPS[2], tables.ALL_AGES
    t = cube.table("financial_year", "age_group", fixed={"area_code": ctx.code}, row_nodes=years,
                   column_nodes=[allages, u25, unk], name="under25_rates_by_year", row_title="Financial year")
    hi = int(config.settings()["age_bands"]["under_25_max_age"])
    res_tab = full.residents(years, 0, hi)
    pop = res_tab.set_index("financial_year")["population"]
    # a year none of whose victims' ages is known has no under-25 count (not 0), so no rate and no bound: the
    # field status of that year's records, from the page's one pass over them (_u25_status: row by row, the same)
    has_fy = "financial_year" in full.in_definition.columns
    none_known = pd.Series([has_fy and _u25_status(full, y) == "absent" for y in years], index=years)
    counts = t.counts[u25].astype("Float64").mask(none_known.to_numpy())
    r = gated_rate_bounds(counts, t.counts[unk].astype("Float64"), pop)
    share_unknown = [disclosure.share(u, a, 0) or "" for u, a in zip(t.counts[unk], t.counts[allages])]
    extra = pd.DataFrame({
        "Residents aged 0 to 24": [f"{int(round(v)):,}" for v in pop.reindex(years)],
        "Mid-year estimate": [f"mid-{int(y)}" + ("" if e else " (nearest)")
                              for y, e in zip(res_tab["mid_year"], res_tab["exact"])],
        "Rate per 1,000 residents aged 0 to 24": fmt_or_hidden(r["rate"]).to_numpy(),
        "Lower 95% CI": fmt_or_hidden(r["lower_95_ci"]).to_numpy(),
        "Upper 95% CI": fmt_or_hidden(r["upper_95_ci"]).to_numpy(),
        "No victim age recorded (% of offences)": share_unknown,
        "Rate if every unrecorded age were under 25": fmt_or_hidden(r["rate_upper_bound"]).to_numpy(),
        "Its upper 95% limit": fmt_or_hidden(r["upper_bound_upper_95_ci"]).to_numpy(),
    })
    for k in (list(extra.columns)[2:5] + list(extra.columns)[6:]):
        extra.loc[none_known.to_numpy(), k] = "not recorded"
    res = SectionResult(name="young_rates", data=disclosure.frame_of(t))
    res.table = t.text()
    note = (f"Offences of {full.what} with a victim under 25 (a recorded age of 0 to 24) per 1,000 residents aged "
            "0 to 24. " + year_note(res_tab) + " Offences whose victim age is not recorded are not counted as "
            "under 25, so the rate is a minimum; the last two columns give the rate if every one of them had a "
            "victim under 25, a maximum (offences with no victim at all are among them, so it is generous). "
            + hidden_note())
    res.csv = publish_gated(ctx, t, f"Offences against victims under 25 by financial year, {ctx.name}",
                            name="under25_rates_by_year", extra=extra, note=note)
    latest = years[-1]
    rl, ul = r.loc[latest, "rate"], r.loc[latest, "rate_upper_bound"]
    if pd.isna(rl):
        sentence = (f"In {latest} the number of offences against victims under 25 in {ctx.name} is too small to "
                    "show, so no rate is given.")
    else:
        sentence = (f"In {latest}, offences of {full.what} against victims under 25 were **{_fmt(rl)} per 1,000 "
                    f"residents aged 0 to 24** ({_ci(r.loc[latest, 'lower_95_ci'], r.loc[latest, 'upper_95_ci'])})")
        unknown_pct = share_unknown[-1]
        if unknown_pct and not pd.isna(ul) and ul > rl:
            sentence += (f"; the victim's age was not recorded for {unknown_pct} of offences, so the rate could "
                         f"be as high as {_fmt(ul)} if all of those victims were under 25.")
        else:
            sentence += "."
    sentence += (" Neighbourhood and deprivation rates on this page are per 1,000 residents aged "
                 f"{_ages()[0]} to {_ages()[1]}.")
    _say(sentence)
    res.message = sentence
    res.values = {
        "rates": {y: (None if pd.isna(v) else float(v)) for y, v in r["rate"].items()},
        "upper_bounds": {y: (None if pd.isna(v) else float(v)) for y, v in r["rate_upper_bound"].items()},
        "mid_years": dict(zip(res_tab["financial_year"], res_tab["mid_year"].astype(int))),
        "nearest": [fy_ for fy_, e in zip(res_tab["financial_year"], res_tab["exact"]) if not e],
        "population": {y: float(v) for y, v in pop.items()},
    }
    return res


def young_ages(ctx: ProfileContext) -> SectionResult:
    """Ages 10 to 24 year by year: victim and suspect records of each single year of age, from the age-and-sex
    families of the whole area (with the 10-24 total and the records whose age is not recorded)."""
    title = "Ages 10 to 24 in detail"
    skip = _need_records(ctx, "young_ages", title, "no victim or suspect ages")
    if skip:
        return skip
    lo, hi = _ages()
    full = _full(ctx)
    skip = _need_field(full, "young_ages", title, "victim_age", f"victims' single years of age {lo} to {hi}")
    if skip:
        return skip
    ages = [str(a) for a in range(lo, hi + 1)]
    rows = [f"{a}|All" for a in ages] + [f"{lo}-{hi}|All", f"{tables.AGE_NOT_RECORDED}|All", tables.TOTAL]
    res = SectionResult(name="young_ages")
    pub = {}
    for role, spec in (("victim", tables.VICTIM_AGE_SEX), ("suspect", tables.SUSPECT_AGE_SEX)):
        if full.field_status(f"{role}_age") == "absent":  # suspects' ages may be missing on their own
            _say(not_recorded(full, f"{role}_age", f"{role}s' single years of age"))
            continue
        cube = tables.breakdown_cube(full, spec)
        if not _registered(cube, ctx.code, rows[0]):
            continue
        pub[role] = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=rows,
                               name=f"{role}_ages_{lo}_{hi}", row_title="Age")
    if "victim" not in pub:
        return _skip(ctx, "young_ages", title, f"{ctx.name} has too few offences of {full.what} to break down "
                     "by victim age")
    v = pub["victim"].counts.iloc[:, 0]
    labels = ages + [f"{lo} to {hi}", "Age not recorded", "All records"]
    age_known = victim_age_phrase(full) if full.field_status("victim_age") == "partial" else ""
    if age_known:
        _say(f"Single years of age count the victims with a recorded age ({age_known}).")
    for role, t in pub.items():
        publish_gated(ctx, t, f"{role.capitalize()} records by single year of age, {lo} to {hi}, {ctx.name}, "
                      f"{ctx.period}", name=f"{role}_ages_{lo}_{hi}", row_labels=dict(zip(rows, labels)),
                      note=f"Offence records (one per crime and {role}); 'Age not recorded' is its own row"
                      + (", and includes offences with no suspect identified" if role == "suspect" else "")
                      + ". Single years come from exact ages only: an age recorded as a band counts in the "
                      f"{lo} to {hi} total when the whole band lies inside it. " + hidden_note())
        res.values[f"{role}_counts"] = {k: (None if pd.isna(x) else int(x)) for k, x in
                                        t.counts.iloc[:, 0].items()}
    res.table = pub["victim"].text()
    bars = pd.DataFrame({"age": ages, "victims": v[[f"{a}|All" for a in ages]].astype("Float64").astype(float)
                         .to_numpy()})
    res.data = disclosure.derived(bars, pub["victim"])
    vis = bars.dropna()
    hidden = bars.loc[bars["victims"].isna(), "age"].tolist()
    alt = (
        f"Bar chart of {full.what} victim records aged {lo} to {hi} in {ctx.name}, {ctx.period}, by single year "
        f"of age ({_mk(v[f'{lo}-{hi}|All'])} records in all; victim age not recorded: "
        f"{_mk(v[f'{tables.AGE_NOT_RECORDED}|All'])})."
        + (f" Most at age {vis.loc[vis['victims'].idxmax(), 'age']} ({int(vis['victims'].max()):,})."
           if len(vis) else "")
        + (f" Ages with too few records to show: {', '.join(hidden)}." if hidden else "")
    )
    _show(
        charts.bar_chart(res.data, label="age", value="victims", sort=False,
                         title=f"Victims aged {lo} to {hi} by age, {ctx.name}", xlabel="Victim records",
                         ylabel="Age (years)"),
        alt,
        res,
        disclosure.derived(pd.DataFrame({"victim_age": [int(a) for a in ages],
                                         "victim_records": bars["victims"].to_numpy()}), pub["victim"]),
        ctx=ctx,
        counts=["victim_records"],
    )
    total = v[f"{lo}-{hi}|All"]
    res.values.update({
        "victims": None if pd.isna(total) else int(total),
        "victim_peak_age": int(vis.loc[vis["victims"].idxmax(), "age"]) if len(vis) else None,
        "hidden_ages": hidden,
    })
    return res


def young_sex(ctx: ProfileContext) -> SectionResult:
    """Sex of victims and suspects aged 10 to 24: withheld (the gate publishes sex for all ages only, never
    crossed with age)."""
    title = "Sex of young victims and suspects"
    return _withheld(ctx, "young_sex", title, "no victim or suspect ages or sex",
                     "it is not published in this version: age is not crossed with sex, "
                 "because the smaller sex groups cannot yet be protected against differencing (the profile's "
                 "'who' section shows sex for all ages)")


def young_ethnicity(ctx: ProfileContext) -> SectionResult:
    """Ethnicity of young victims against the resident population: withheld in this version."""
    title = "Ethnicity of young victims"
    return _withheld(ctx, "young_ethnicity", title, "no victim ages or ethnicity",
                     WITHHELD)


def knife_involvement(ctx: ProfileContext) -> SectionResult:
    """Knife involvement by victim age group: withheld in this version."""
    title = "Knife involvement"
    return _withheld(ctx, "knife_involvement", title, "no knife flags or victim ages",
                     WITHHELD)
