"""Under-25 cohort (``cohort_under25.ipynb``): young people as victims and suspects, their ages, sex and
ethnicity (against the resident population) and knife involvement. The page also shows the CSP profile's
under-25, hotspots, deprivation and time sections on the young-victim context (:meth:`ProfileContext.young`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.publish import charts
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _blank_where_small,
    _ci,
    _count,
    _extremes,
    _is_small,
    _masked,
    _need_records,
    _publish,
    _say,
    _show,
    _skip,
    _threshold,
    suppress,
)

__all__ = [
    "young_people",
    "young_ages",
    "young_sex",
    "young_ethnicity",
    "knife_involvement",
]


# =========================================================================== young people
def young_people(ctx: ProfileContext) -> SectionResult:
    """Victims and suspects under 25 by financial year: offences with a victim under 25 and with a suspect
    under 25, and their shares of offences where the age is known."""
    title = "Victims and suspects under 25"
    skip = _need_records(ctx, "young_people", title, "no victim or suspect ages")
    if skip:
        return skip
    from svtools.analysis.stats import proportion

    sel = ctx.selected
    u25_max = int(config.settings()["age_bands"]["under_25_max_age"])
    fy = sel["financial_year"].astype(str)
    rows = []
    for role in ("victim", "suspect"):
        age = sel[f"{role}_age"].astype("Float64")
        known = age.notna().to_numpy(dtype=bool)
        young = (age <= u25_max).fillna(False).to_numpy(dtype=bool)
        for year in sorted(fy.unique()):
            inyear = (fy == year).to_numpy()
            rows.append(
                {
                    "role": role,
                    "financial_year": year,
                    "under_25": int((young & inyear).sum()),
                    "known_age": int((known & inyear).sum()),
                }
            )
    raw = pd.DataFrame(rows)
    p = proportion(raw["under_25"], raw["known_age"].where(raw["known_age"] > 0), multiplier=100)
    raw["share"], raw["lower"], raw["upper"] = (
        p["value"].to_numpy(),
        p["lower"].to_numpy(),
        p["upper"].to_numpy(),
    )
    res = SectionResult(name="young_people", data=raw)
    table = pd.DataFrame(
        {
            "Role": raw["role"].str.capitalize(),
            "Financial year": raw["financial_year"],
            "Under 25": raw["under_25"],
            "Age known": raw["known_age"],
            "Share under 25 (%)": raw["share"].round(1),
            "Lower 95% CI": raw["lower"].round(1),
            "Upper 95% CI": raw["upper"].round(1),
        }
    )
    shown = _blank_where_small(
        suppress(table, ["Under 25", "Age known"]),
        "Under 25",
        ["Share under 25 (%)", "Lower 95% CI", "Upper 95% CI"],
        source=table,
    )
    shown = _blank_where_small(
        shown, "Age known", ["Share under 25 (%)", "Lower 95% CI", "Upper 95% CI"], source=table
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "victims_suspects_under25",
        f"Offences with a victim or suspect under 25 by financial year, {ctx.name}",
        note="Shares of records with a known age, Wilson 95% intervals. Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    wide = raw.pivot_table(index="financial_year", columns="role", values="under_25")
    chart_t = pd.DataFrame(
        {
            "financial_year": wide.index,
            "Victim under 25": _masked(wide.get("victim", pd.Series(0, index=wide.index))).to_numpy(),
            "Suspect under 25": _masked(wide.get("suspect", pd.Series(0, index=wide.index))).to_numpy(),
        }
    )
    tot = raw.groupby("role")[["under_25", "known_age"]].sum()
    vs = (
        tot.loc["victim", "under_25"] / tot.loc["victim", "known_age"]
        if tot.loc["victim", "known_age"]
        else np.nan
    )
    ss = (
        tot.loc["suspect", "under_25"] / tot.loc["suspect", "known_age"]
        if tot.loc["suspect", "known_age"]
        else np.nan
    )
    alt = (
        f"Bar chart of {ctx.what} offences in {ctx.name} by financial year with a victim under 25 and with a "
        f"suspect under 25. Victims: highest {_extremes(wide['victim'])[0]}, lowest "
        f"{_extremes(wide['victim'])[1]}; "
        f"over the period {vs:.0%} of victims and {ss:.0%} of suspects of known age were under 25."
    )
    _show(
        charts.yearly_chart(
            chart_t, title=f"Offences with a victim or suspect under 25, {ctx.name}", ylabel="Offences"
        ),
        alt,
        res,
    )
    sentence = f"Over {ctx.period}, {vs:.0%} of victims and {ss:.0%} of suspects of known age were under 25."
    _say(sentence)
    res.message = sentence
    res.values = {
        "victim_share": float(vs),
        "suspect_share": float(ss),
        "victims_under25": int(tot.loc["victim", "under_25"]),
        "suspects_under25": int(tot.loc["suspect", "under_25"]),
    }
    return res


def young_ages(ctx: ProfileContext) -> SectionResult:
    """Ages 10 to 24 year by year: victims and suspects of each single year of age."""
    from svtools.analysis.cohorts import age_sex_table

    title = "Ages 10 to 24 in detail"
    skip = _need_records(ctx, "young_ages", title, "no victim or suspect ages")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    bands = [0] + list(range(lo, hi + 2))
    sel = ctx.selected
    parts = {}
    for role in ("victim", "suspect"):
        t = age_sex_table(sel, role=role, bands=bands)
        by_age = t.groupby("age_band", observed=False)["count"].sum()
        parts[role] = by_age.reindex([str(a) for a in range(lo, hi + 1)]).fillna(0).astype("int64")
    raw = pd.DataFrame(
        {
            "Age": list(range(lo, hi + 1)),
            "Victims": parts["victim"].to_numpy(),
            "Suspects": parts["suspect"].to_numpy(),
        }
    )
    res = SectionResult(name="young_ages", data=raw)
    shown = suppress(raw, ["Victims", "Suspects"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "ages_10_24",
        f"Victim and suspect records by single year of age, {lo} to {hi}, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as *.",
    )
    chart_d = pd.DataFrame({"age": raw["Age"].astype(str), "victims": _masked(raw["Victims"])})
    v = raw.set_index("Age")["Victims"]
    s = raw.set_index("Age")["Suspects"]
    alt = (
        f"Bar chart of {ctx.what} victims aged {lo} to {hi} in {ctx.name}, {ctx.period}, by single year "
        "of age. "
        f"Most victims at age {v.idxmax()} ({_count(v.max())}), fewest at age {v.idxmin()} "
        f"({_count(v.min())}). "
        f"Suspects peak at age {s.idxmax()} ({_count(s.max())})."
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="age",
            value="victims",
            sort=False,
            title=f"Victims aged {lo} to {hi} by age, {ctx.name}",
            xlabel="Victim records",
            ylabel="Age (years)",
        ),
        alt,
        res,
    )
    res.values = {
        "victim_peak_age": int(v.idxmax()),
        "suspect_peak_age": int(s.idxmax()),
        "victims": int(v.sum()),
        "suspects": int(s.sum()),
    }
    return res


def young_sex(ctx: ProfileContext) -> SectionResult:
    """Sex of victims and suspects aged 10 to 24."""
    from svtools.analysis.cohorts import age_sex_table

    title = "Sex of young victims and suspects"
    skip = _need_records(ctx, "young_sex", title, "no victim or suspect ages or sex")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    rows = []
    for role in ("victim", "suspect"):
        t = age_sex_table(ctx.selected, role=role, bands=[0, lo, hi + 1])
        band = t[t["age_band"] == f"{lo}-{hi}"].set_index("sex")["count"]
        for sex, label in (("M", "Male"), ("F", "Female"), ("X", "Other"), ("Unknown", "Not recorded")):
            rows.append({"Role": role.capitalize(), "Sex": label, "Records": int(band.get(sex, 0))})
    raw = pd.DataFrame(rows)
    known = raw[raw["Sex"].isin(["Male", "Female", "Other"])].groupby("Role")["Records"].sum()
    raw["Share of known (%)"] = [
        round(100 * r / known[role], 1) if s != "Not recorded" and known.get(role) else ""
        for role, s, r in zip(raw["Role"], raw["Sex"], raw["Records"])
    ]
    res = SectionResult(name="young_sex", data=raw)
    shown = suppress(raw, ["Records"], rates=["Share of known (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "young_sex",
        f"Sex of victims and suspects aged {lo} to {hi}, {ctx.name}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    male = {
        r: raw[(raw["Role"] == r) & (raw["Sex"] == "Male")]["Records"].sum() / known[r]
        if known.get(r)
        else float("nan")
        for r in ("Victim", "Suspect")
    }
    sentence = (
        f"Of victims aged {lo} to {hi} with a recorded sex, {male['Victim']:.0%} were male; of suspects, "
        f"{male['Suspect']:.0%}."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"victim_male_share": float(male["Victim"]), "suspect_male_share": float(male["Suspect"])}
    return res


def _population_ethnicity(ctx: ProfileContext) -> pd.Series | None:
    """Resident population shares by ethnic group for the force, when known (synthetic demo only)."""
    if not ctx.synthetic:
        return None
    try:
        from svtools.ingest.demo import demo_config
        from svtools.ingest.geography import geography_settings

        slugs = {v: k for k, v in geography_settings()["demo_forces"].items()}
        pct = demo_config()["victims"]["population_ethnicity_pct"][slugs[ctx.force_code]]
    except (ImportError, KeyError):
        return None
    return pd.Series({str(k): float(v) for k, v in pct.items()})


def young_ethnicity(ctx: ProfileContext) -> SectionResult:
    """Ethnicity of victims aged 10 to 24 against the resident population: shares and rate ratios relative
    to White residents, with 95% intervals."""
    from svtools.analysis.cohorts import ethnicity_disproportionality

    title = "Ethnicity of young victims against the population"
    skip = _need_records(ctx, "young_ethnicity", title, "no victim ages or ethnicity")
    if skip:
        return skip
    shares = _population_ethnicity(ctx)
    if shares is None:
        return _skip(
            ctx, "young_ethnicity", title, "no resident population by ethnic group is held for this area"
        )
    young = ctx if ctx.victim_ages else ctx.young()
    sel = young.selected
    if len(sel) == 0 or sel["victim_ethnicity"].notna().sum() == 0:
        return _skip(ctx, "young_ethnicity", title, f"no {young.cohort_label} have a recorded ethnicity")
    e = ethnicity_disproportionality(sel, shares)
    res = SectionResult(name="young_ethnicity", data=e)
    table = pd.DataFrame(
        {
            "Ethnic group": e["ethnicity"],
            "Victim records": e["victims"],
            "Share of victims (%)": (100 * e["share"]).round(1),
            "Share of residents (%)": (100 * e["population_share"]).round(1),
            "Rate ratio (vs White)": e["rate_ratio"].round(2),
            "Lower 95% CI": e["lower"].round(2),
            "Upper 95% CI": e["upper"].round(2),
        }
    )
    shown = _blank_where_small(
        suppress(table, ["Victim records"]),
        "Victim records",
        ["Share of victims (%)", "Rate ratio (vs White)", "Lower 95% CI", "Upper 95% CI"],
        source=table,
    )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "young_ethnicity",
        f"Ethnicity of {young.cohort_label}, {ctx.name}, {ctx.period}",
        note="Resident shares: approximate Census 2021 shares for the force area, entered by hand for "
        "the synthetic demo data (not an official extract). Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    groups = e[e["ethnicity"] != "Not known"].set_index("ethnicity")
    visible = groups[~groups["victims"].map(_is_small)]  # a ratio from a hidden count would reveal it
    hidden = [g for g in groups.index if g not in visible.index]
    highest = visible["rate_ratio"].idxmax()
    alt = (
        f"Bar chart of rate ratios of {ctx.what} victimisation by ethnic group relative to White residents, "
        f"{young.cohort_label}, {ctx.name}, {ctx.period}, with 95% confidence intervals. Highest shown: "
        f"{highest} ({visible.loc[highest, 'rate_ratio']:.2f}); lowest shown: "
        f"{visible['rate_ratio'].idxmin()} "
        f"({visible['rate_ratio'].min():.2f})."
        + (f" Not shown (fewer than {_threshold() + 1} victims): {', '.join(hidden)}." if hidden else "")
    )
    others = visible[(visible.index != "White") & (visible["victims"] > 0)]
    if others.empty:
        line = (
            f"The chart is left out: every group other than White had no {young.cohort_label} or fewer than "
            f"{_threshold() + 1}, too few to compare without risk of identifying people."
        )
        _say(line)
        res.message = line
        res.values = {"highest": None, "rate_ratios": groups["rate_ratio"].to_dict(), "hidden": hidden}
        return res
    chart_d = groups.reset_index()
    small = chart_d["victims"].map(_is_small)
    chart_d = chart_d.assign(
        rr=chart_d["rate_ratio"].where(~small),
        lo=chart_d["lower"].where(~small),
        hi=chart_d["upper"].where(~small),
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="ethnicity",
            value="rr",
            lower="lo",
            upper="hi",
            reference=1.0,
            reference_label="White residents",
            value_format="{:.2f}",
            title=f"Victimisation rate ratio by ethnic group, {young.cohort_label}, {ctx.name}",
            xlabel="Rate ratio (White = 1)",
            ylabel="Ethnic group",
        ),
        alt,
        res,
    )
    res.values = {"highest": highest, "rate_ratios": groups["rate_ratio"].to_dict(), "hidden": hidden}
    return res


def knife_involvement(ctx: ProfileContext) -> SectionResult:
    """Knife involvement: of the offences in the definition's offence codes (knife flag or not), the share
    with the Home Office knife or sharp-instrument flag, for victims aged 10-24 and 25 and over, by financial
    year."""
    from svtools.analysis.stats import proportion

    title = "Knife involvement"
    skip = _need_records(ctx, "knife_involvement", title, "no knife flags or victim ages")
    if skip:
        return skip
    cfg = config.settings()["age_bands"]
    lo, hi = int(cfg["young_people_min_age"]), int(cfg["under_25_max_age"])
    recs = ctx.records
    codes = recs["ho_offence_code"].astype("string")
    base = recs[codes.isin(ctx.definition.offence_codes).fillna(False).to_numpy(bool)]
    age = base["victim_age"].astype("Float64")
    group = np.where(
        ((age >= lo) & (age <= hi)).fillna(False).to_numpy(bool),
        f"{lo}-{hi}",
        np.where((age > hi).fillna(False).to_numpy(bool), f"{hi + 1}+", ""),
    )
    frame = pd.DataFrame(
        {
            "fy": base["financial_year"].astype(str).to_numpy(),
            "group": group,
            "knife": base["knife_flag"].astype("boolean").fillna(False).to_numpy(bool),
        }
    )
    frame = frame[frame["group"] != ""]
    if frame.empty:
        return _skip(ctx, "knife_involvement", title, "no victims of known age in these offence types")
    agg = frame.groupby(["group", "fy"]).agg(knife=("knife", "sum"), offences=("knife", "size")).reset_index()
    allp = (
        frame.groupby("group")
        .agg(knife=("knife", "sum"), offences=("knife", "size"))
        .reset_index()
        .assign(fy="all years")
    )
    agg = pd.concat([agg, allp], ignore_index=True)
    p = proportion(agg["knife"], agg["offences"], multiplier=100)
    agg["share"], agg["lower"], agg["upper"] = (
        p["value"].to_numpy(),
        p["lower"].to_numpy(),
        p["upper"].to_numpy(),
    )
    res = SectionResult(name="knife_involvement", data=agg)
    table = pd.DataFrame(
        {
            "Victim age": agg["group"],
            "Financial year": agg["fy"],
            "Offences": agg["offences"].astype("int64"),
            "With a knife": agg["knife"].astype("int64"),
            "Share with a knife (%)": agg["share"].round(1),
            "Lower 95% CI": agg["lower"].round(1),
            "Upper 95% CI": agg["upper"].round(1),
        }
    )
    shown = suppress(table, ["Offences", "With a knife"])
    for c in ("Offences", "With a knife"):
        shown = _blank_where_small(
            shown, c, ["Share with a knife (%)", "Lower 95% CI", "Upper 95% CI"], source=table
        )
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "knife_involvement",
        f"Share of offences with a knife or sharp instrument by victim age, {ctx.name}",
        note=f"Offences of the codes in '{ctx.definition.title}', with or without the knife flag. "
        "Wilson 95% intervals. Counts from 1 to "
        f"{_threshold()} are shown as * and the figures computed from them left blank.",
    )
    overall = agg[agg["fy"] == "all years"].set_index("group")
    chart_d = overall.reset_index().assign(label=lambda d: "Victims aged " + d["group"])
    alt = (
        f"Bar chart of the share of offences in {ctx.name}, {ctx.period}, that involved a knife or sharp "
        f"instrument, by victim age, with 95% confidence intervals: "
        + "; ".join(
            f"aged {g}: {r['share']:.0f}% ({_ci(r['lower'], r['upper'], 0)})" for g, r in overall.iterrows()
        )
        + "."
    )
    _show(
        charts.bar_chart(
            chart_d,
            label="label",
            value="share",
            lower="lower",
            upper="upper",
            title=f"Share of offences involving a knife, by victim age, {ctx.name}",
            xlabel="Offences with a knife or sharp instrument (%)",
            ylabel="Victim age",
            value_format="{:.0f}%",
        ),
        alt,
        res,
    )
    res.values = {g: float(r["share"]) for g, r in overall.iterrows()}
    return res
