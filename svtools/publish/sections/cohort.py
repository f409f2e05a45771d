"""Under-25 cohort (``cohort_under25.ipynb``): young people as victims and suspects, their single years of age
10 to 24, and (withheld in this version) sex, ethnicity and knife involvement. The page also shows the CSP
profile's under-25, hotspots, deprivation and time sections on the young-victim context
(:meth:`ProfileContext.young`).

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
    _need_field,
    _need_records,
    _say,
    _show,
    _skip,
    _withheld,
    hidden_note,
    not_recorded,
    publish_gated,
    victim_age_phrase,
)

__all__ = [
    "young_people",
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
                      f"{ctx.period}", name=f"{role}_ages_{lo}_{hi}",
                      extra=pd.DataFrame({"Label": labels}),
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
