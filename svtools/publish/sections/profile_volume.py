"""CSP profile (``csp_profile.ipynb``), how much: the headline, financial years, success measures, hospital
admissions and the offence mix (rates against other areas: :mod:`.comparison`; month by month: :mod:`.monthly`).

The force overview (``force_overview.ipynb``) shows several of these for a force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.errors import SvtoolsError
from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _ci,
    _extremes,
    _fmt,
    _need_records,
    _publish,
    _say,
    _show,
    _skip,
    _threshold,
    fmt_or_hidden,
    gated_rate_bounds,
    gated_rates,
    hidden_note,
    known_pct,
    known_phrase,
    not_recorded,
    publish_gated,
)

__all__ = [
    "headline",
    "financial_years",
    "success_measures",
    "hospital_admissions",
    "offence_mix",
]


# =========================================================================== headline and success measures
def _family(ctx: ProfileContext, definition: str | None = None):
    return tables.series_cube(ctx.dataset, ctx.force_code, definition or ctx.definition.name, ctx.period_start,
                              ctx.period_end)


def _ages(ctx: ProfileContext, definition: str | None = None):
    return tables.age_year_cube(ctx.dataset, ctx.force_code, definition or ctx.definition.name,
                                ctx.period_start, ctx.period_end)


def _u25_status(ctx: ProfileContext, year: str | None = None, definition: str | None = None) -> str:
    """Whether the under-25 status of the area's offences (those in ``definition``, default the context's; of
    one financial year) is known: ``absent``, ``partial`` or ``complete`` (:meth:`ProfileContext.field_status`
    of ``victim_under_25`` on those records).

    Which records know it and which it applies to are worked out once per context and definition
    (:func:`_u25_known`); each year's status is then two sums, the same as the field status of that year's
    records (both are row by row)."""
    known = _u25_known(ctx, definition)
    if known is None:  # not recorded, or the records lack its columns: the field status says which
        recs = _u25_records(ctx, definition)
        if year is not None and "financial_year" in recs.columns:
            recs = recs[recs["financial_year"].astype(str) == year]
        return ctx.field_status("victim_under_25", recs)
    knows, applies, fy = known
    sel = applies if year is None or fy is None else applies & (fy == year)
    n = int(sel.sum())
    k = int(knows[sel].sum())
    if n == 0 or k == n:
        return "complete"
    return "absent" if k == 0 else "partial"


def _u25_records(ctx: ProfileContext, definition: str | None) -> pd.DataFrame:
    from svtools.ingest.definitions import apply_definition, load_definition

    if definition is None or (ctx.record_level and definition == ctx.definition.name):
        return ctx.in_definition  # the context's own definition: its records, already selected
    return apply_definition(ctx.records, load_definition(definition))


def _u25_known(ctx: ProfileContext, definition: str | None):
    """(knows, applies, financial year) arrays over the records of ``definition`` (default the context's): which
    know the victim's under-25 status, which it applies to (a victim), and each one's financial year (None
    without the column); None when :meth:`ProfileContext.field_status` would not read the records. Kept on the
    context for its page's other sections."""
    from svtools.analysis.fields import field_known, relevant_rows

    key = ("u25_known", definition)
    if key not in ctx._memo:
        out = None
        if ctx._recorded("victim_under_25"):
            recs = _u25_records(ctx, definition)
            knows = field_known(recs, "victim_under_25")
            if knows is not None:
                fy = recs["financial_year"].astype(str).to_numpy() if "financial_year" in recs.columns else None
                out = (np.asarray(knows, dtype=bool), np.asarray(relevant_rows(recs, "victim_under_25"), dtype=bool),
                       fy)
        ctx._memo[key] = out
    return ctx._memo[key]


def _cohort_skip(ctx: ProfileContext, name: str, title: str) -> SectionResult | None:
    if ctx.victim_ages is not None:
        return _skip(ctx, name, title, "it is published for all victims only (see the profile page)")
    return None


def _signed(v, fmt: str) -> str:
    if isinstance(v, str) or v is None or pd.isna(v):
        return v if isinstance(v, str) else ""
    return fmt.format(int(v) if "d}" in fmt else float(v))


def _num(v) -> str:
    return config.settings()["disclosure"]["suppressed_marker"] if v is None else f"{int(v):,}"


# ---------------------------------------------------------------- comparisons with the baseline (issue 9)
#: Column headings of the comparison cells added after the LLR-style change columns.
RATIO_COLUMN = "Rate ratio (95% CI)"


def _compared_column(baseline: str) -> str:
    return f"Compared with {baseline}"


def _published(v) -> int | None:
    """A published count as an int; None when hidden, unknown or not a number (e.g. '>=12', 'not recorded')."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, str):
        text = v.strip().replace(",", "")
        return int(text) if text.isdigit() else None
    try:
        return None if pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None


def baseline_comparison(n, b, pop_n: float = 1.0, pop_b: float = 1.0, *, baseline: str,
                        hidden: str | None = None) -> dict:
    """The rate ratio of a published count ``n`` against a published baseline count ``b``, as cells and words.

    The ratio and interval are given **only when both counts are published**: a rate ratio with its exact
    interval gives back the two counts it came from, so one from a hidden count would undo the suppression.
    Otherwise the cells are blank and the words give the reason.

    Parameters
    ----------
    n, b : int, str or None
        The published counts (latest, baseline); ``None``, NaN, ``"*"``, ``">=12"`` or ``"not recorded"``
        mean not published.
    pop_n, pop_b : float
        Residents in the two years (ONS mid-year estimates), so the ratio is of rates; 1 and 1 for counts.
    baseline : str
        The baseline year, for the words ("no clear change from 2019/20").
    hidden : str, optional
        The reason when a count is not published (default: "a count is hidden").

    Returns
    -------
    dict
        ``ratio``, ``lower``, ``upper``, ``p_value`` (floats or None), ``words`` ("higher", "lower", "no clear
        change" or None), ``cell`` (the "Rate ratio (95% CI)" cell: "1.44 (0.73 to 2.91)" or "") and
        ``compared`` (the plain-words cell: "No clear change from 2019/20", or the reason for a blank).

    Notes
    -----
    :func:`svtools.analysis.stats.rate_ratio` (exact conditional interval, as R ``poisson.test``) and
    :func:`svtools.analysis.stats.interval_words` (the words follow the interval, never the % change).
    """
    from svtools.analysis.stats import change_words, format_ratio, rate_ratio

    out = {"ratio": None, "lower": None, "upper": None, "p_value": None, "words": None, "cell": ""}
    x, y = _published(n), _published(b)
    if x is None or y is None:
        out["compared"] = f"Not given: {hidden or 'a count is hidden'}"
        return out
    if x == 0 and y == 0:
        out["compared"] = "0 in both years"
        return out
    r = rate_ratio(x, y, pop_n if pop_n and pop_n > 0 else 1.0, pop_b if pop_b and pop_b > 0 else 1.0).iloc[0]
    out.update(ratio=float(r["ratio"]), lower=float(r["lower"]), upper=float(r["upper"]),
               p_value=float(r["p_value"]), words=r["words"],
               cell=format_ratio(r["ratio"], r["lower"], r["upper"]),
               compared=change_words(r["lower"], r["upper"], baseline))
    return out


def change_phrase(cmp: dict, baseline: str, subject: str | None = None) -> str:
    """A comparison with the baseline for a sentence, the words first and the interval after them.

    Without ``subject`` a fragment ("no clear change from 2019/20 (rate ratio 1.44, 95% CI 0.73 to 2.91, which
    includes 1: the difference could be chance)", "higher than in 2019/20 (rate ratio ...)"); with one a
    clause ("the 2024/25 rate shows no clear change from ...", "the 2024/25 rate is higher than in ..."). The
    words are :func:`svtools.analysis.stats.interval_words` of the interval; "" when there is no comparison.
    """
    if cmp.get("words") is None:
        return ""
    r, lo, hi = cmp["ratio"], cmp["lower"], cmp["upper"]

    def f(v):
        return "no upper limit" if np.isinf(v) else f"{v:,.2f}"

    ratio = "not defined (none in " + baseline + ")" if np.isinf(r) else f(r)
    detail = f"rate ratio {ratio}, 95% CI {f(lo)} to {f(hi)}"
    if cmp["words"] == "no clear change":
        text = f"no clear change from {baseline} ({detail}, which includes 1: the difference could be chance)"
        return f"{subject} shows {text}" if subject else text
    text = f"{cmp['words']} than in {baseline} ({detail})"
    return f"{subject} is {text}" if subject else text


# ---------------------------------------------------------------- denominators (issue 9)
#: The residents of the under-25 rates, in words.
U25_RESIDENTS = "residents aged 0 to 24"


def _u25_max() -> int:
    return int(config.settings()["age_bands"]["under_25_max_age"])


def _residents(ctx: ProfileContext, years, max_age: int | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """Residents of the area aged 0 to ``max_age`` (all ages when None) in each financial year of ``years``,
    each year by its own ONS mid-year estimate, else the nearest (flagged): a Series by financial year and the
    :func:`svtools.analysis.population.residents` table (``mid_year``, ``exact``, for the notes)."""
    tab = ctx.residents(list(dict.fromkeys(years)), 0, max_age)
    return tab.set_index("financial_year")["population"].astype(float), tab


def _mid_year_cells(tab: pd.DataFrame) -> list[str]:
    """"mid-2019", or "mid-2020 (nearest)" for a year without an estimate of its own."""
    return [f"mid-{int(y)}" + ("" if e else " (nearest)") for y, e in zip(tab["mid_year"], tab["exact"])]


def _estimates_note(*tabs: pd.DataFrame) -> str:
    """The estimates the rates divide by, in words (:func:`svtools.analysis.population.year_note`)."""
    from svtools.analysis.population import year_note

    tab = pd.concat(tabs, ignore_index=True).drop_duplicates("financial_year")
    return year_note(tab.sort_values("financial_year", ignore_index=True))


def _u25_rate_phrase(r: pd.Series, partial: bool) -> str:
    """The under-25 rate of one year in words from a :func:`gated_rate_bounds` row: "a rate of X per 1,000
    residents aged 0 to 24 (95% CI ...)" when every age is recorded, else "a rate between X and Y per 1,000 ..."
    (the known count's rate and the rate if every unrecorded age were under 25), "a rate of at least X ..." when
    the unknown count is hidden; "" when the count is hidden."""
    lo, hi = r["rate"], r["rate_upper_bound"]
    if pd.isna(lo):
        return ""
    if not partial or (not pd.isna(hi) and hi <= lo):
        return f"a rate of **{_fmt(lo)} per 1,000 {U25_RESIDENTS}** ({_ci(r['lower_95_ci'], r['upper_95_ci'])})"
    if pd.isna(hi):
        return (f"a rate of at least **{_fmt(lo)} per 1,000 {U25_RESIDENTS}** (victims with a recorded age; the "
                "offences with no recorded victim age are too few to show)")
    return (f"a rate between **{_fmt(lo)} and {_fmt(hi)} per 1,000 {U25_RESIDENTS}** (the first counts victims "
            "with a recorded age, the second is the rate if every offence with no recorded victim age had a "
            "victim under 25)")


def headline(ctx: ProfileContext) -> SectionResult:
    """The headline numbers from the published (gated) tables: the latest complete financial year, its rate per
    1,000 residents with its 95% interval, the baseline year and the share with a victim under 25 with its rate
    per 1,000 residents aged 0 to 24 (between the rate of victims with a recorded age and the rate if every
    unrecorded age were under 25, where ages are partly recorded). Each year's rate divides by that year's own
    ONS mid-year estimate (else the nearest, named in the last line)."""
    from svtools.analysis.stats import rate

    res = SectionResult(name="headline")
    skip = _cohort_skip(ctx, "headline", "The headline")
    if skip:
        return skip
    for note in ctx.notes:
        _say(note)
    fam = _family(ctx)
    years = [y for y in fam.levels["financial_year"]]
    baseline = config.settings()["periods"]["baseline_financial_year"]
    lines = []
    if years:
        latest = years[-1]
        n = fam.value(ctx.code, latest)
        pops, pop_tab = _residents(ctx, [baseline, latest] if baseline in years else [latest])
        pop = pops[latest]
        if n is None:
            lines.append(f"In {latest}, too few offences of {ctx.what} were recorded in {ctx.name} to show "
                         f"(1 to {_threshold()}, or hidden so that such a count cannot be worked out).")
        else:
            r = rate([n], [pop], multiplier=1000).iloc[0]
            lines.append(f"In {latest}, **{n:,}** offences of {ctx.what} were recorded in {ctx.name}: "
                         f"**{_fmt(r['value'])} per 1,000 residents** ({_ci(r['lower'], r['upper'])}).")
        cmp = None
        if baseline in years and baseline != latest:
            b = fam.value(ctx.code, baseline)
            pop_b = pops[baseline]
            # a ratio only from two published counts: with its interval it would give back a hidden one
            cmp = baseline_comparison(n, b, pop, pop_b, baseline=baseline)
            if cmp["words"] is not None:
                lines.append(f"In {baseline}, the Home Office baseline year, {b:,} were recorded: "
                             + change_phrase(cmp, baseline, subject=f"the {latest} rate per resident") + ".")
            elif b == 0 and n == 0:
                lines.append(f"In {baseline}, the Home Office baseline year, 0 were recorded as well.")
            else:
                lines.append(f"In {baseline}, the Home Office baseline year, {_num(b)} were recorded"
                             + ("." if b is not None and n is not None else
                                "; no change is given, because one of the two counts is hidden."))
        ages = _ages(ctx)
        status = _u25_status(ctx, latest) if ages is not None else "absent"
        u25 = {}
        tabs = [pop_tab]
        if ctx.record_level and status == "absent":
            lines.append(not_recorded(ctx, "victim_under_25", "the number with a victim under 25"))
        elif ages is not None:
            u = ages.value((ctx.code, latest, tables.AGE_GROUPS[0]))
            unk = ages.value((ctx.code, latest, tables.AGE_GROUPS[2]))
            pops_u, tab_u = _residents(ctx, [latest], _u25_max())
            tabs.append(tab_u)
            # from the published cells only: a hidden count gives no rate and no bound
            rb = gated_rate_bounds(pd.Series([np.nan if u is None else float(u)], index=[latest]),
                                   pd.Series([np.nan if unk is None else float(unk)], index=[latest]), pops_u)
            row = rb.loc[latest]
            phrase = _u25_rate_phrase(row, status == "partial")
            if u is None:
                lines.append(f"The number with a victim under 25 is too small to show (1 to {_threshold()}, or "
                             "hidden so that such a count cannot be worked out).")
            elif status == "complete":
                lines.append(f"{u:,} of them had a victim under 25" + (f": {phrase}." if phrase else "."))
            else:  # partly known: the count is of victims with a recorded age, never unknown as 25 and over
                known = None if n is None or unk is None else n - unk
                lines.append(f"{u:,} of " + (f"the {known:,}" if known is not None else "those")
                             + f" with a recorded victim age had a victim under 25 ({known_phrase(n, unk)})"
                             + (f": {phrase}." if phrase else "."))
            u25 = {"under25_rate": None if pd.isna(row["rate"]) else float(row["rate"]),
                   "under25_rate_upper_bound": None if status != "partial" or pd.isna(row["rate_upper_bound"])
                   else float(row["rate_upper_bound"]),
                   "under25_population": float(pops_u[latest])}
        note = _estimates_note(*tabs)
        lines.append(note)
        res.values = {"financial_year": latest, "offences": n, "victim_age_status": status,
                      "baseline_comparison": cmp, "population": float(pop),
                      "rate": None if n is None else float(n) / float(pop) * 1000 if pop > 0 else None,
                      "mid_years": dict(zip(pop_tab["financial_year"], pop_tab["mid_year"].astype(int))),
                      "population_note": note, **u25}
    else:
        n = fam.value(ctx.code, tables.TOTAL)
        lines.append(f"From {ctx.period}, {_num(n)} offences of {ctx.what} were recorded in {ctx.name}.")
        res.values = {"offences": n}
    if not ctx.record_level:
        lines.append("data.police.uk has no offence codes, so the local definition cannot be applied: the "
                     "violence-related crime types are used instead, and there are no ages.")
    res.message = " ".join(lines)
    _say("\n".join(f"* {line}" for line in lines))
    return res


def financial_years(ctx: ProfileContext) -> SectionResult:
    """Offences by financial year (April to March) from the gated tables, all ages and with a victim under 25
    (and with no recorded age), with rates per 1,000 residents a year and 95% intervals from published counts.
    Complete financial years only (part years are not published).

    Each year's rate divides by that year's own ONS mid-year estimate (else the nearest, flagged in the
    "Mid-year estimate" column and named in the note); the under-25 rate by residents aged 0 to 24 of that year,
    and where victim ages are partly recorded the table adds the rate if every offence with no recorded victim
    age had a victim under 25 (:func:`~svtools.publish.sections.context.gated_rate_bounds`): the true rate lies
    between the two."""
    skip = _cohort_skip(ctx, "financial_years", "Offences by financial year")
    if skip:
        return skip
    fam = _family(ctx)
    years = list(fam.levels["financial_year"])
    if not years:
        return _skip(ctx, "financial_years", "Offences by financial year",
                     f"the period ({ctx.period}) holds no complete financial year")
    t = fam.cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=years,
                       name="offences_by_financial_year", row_title="Financial year")
    t.counts.columns = ["Offences"]
    pop, pop_tab = _residents(ctx, years)
    r = gated_rates(t.counts["Offences"], pop.reindex(years))
    extra = pd.DataFrame({"Rate per 1,000 residents a year": fmt_or_hidden(r["rate"]),
                          "Lower 95% CI": fmt_or_hidden(r["lower_95_ci"]),
                          "Upper 95% CI": fmt_or_hidden(r["upper_95_ci"]),
                          "Mid-year estimate": _mid_year_cells(pop_tab)})
    tabs = [pop_tab]
    u25_values: dict = {}
    baseline = config.settings()["periods"]["baseline_financial_year"]
    ratio_note = ""
    if baseline in years:
        # each year's rate against the baseline year's, from the published counts only
        counts = t.counts["Offences"]
        cmps = {y: baseline_comparison(counts[y], counts[baseline], pop[y], pop[baseline], baseline=baseline)
                for y in years if y != baseline}
        extra[f"Rate ratio against {baseline} (95% CI)"] = [
            "baseline year" if y == baseline else cmps[y]["cell"] for y in years]
        extra[_compared_column(baseline)] = ["" if y == baseline else cmps[y]["compared"] for y in years]
        ratio_note = _ratio_note(baseline).replace(RATIO_COLUMN, "Rate ratio") + " "
    ages = _ages(ctx)
    tables_out = [t]
    status = {y: _u25_status(ctx, y) for y in years} if ages is not None else {}
    age_note = ""
    if ctx.record_level and (ages is None or all(v == "absent" for v in status.values())):
        age_note = not_recorded(ctx, "victim_under_25", "the under-25 columns") + " "
        _say(age_note.strip())
    elif ages is not None:
        tu = ages.table("financial_year", "age_group", fixed={"area_code": ctx.code}, row_nodes=years,
                        column_nodes=[tables.ALL_AGES, tables.AGE_GROUPS[0], tables.AGE_GROUPS[2]], name="age")
        pop_u, tab_u = _residents(ctx, years, _u25_max())
        tabs.append(tab_u)
        # a year whose victims' ages are all unknown has no under-25 count (not 0) and no rate
        none_known = np.array([status[y] == "absent" for y in years])
        u_counts = tu.counts[tables.AGE_GROUPS[0]].astype("Float64").mask(none_known)
        # from the published cells only: a hidden count (under 25, or age not recorded) gives no rate or bound
        ru = gated_rate_bounds(u_counts, tu.counts[tables.AGE_GROUPS[2]].astype("Float64"), pop_u.reindex(years))
        u_text = tu.text()[tables.AGE_GROUPS[0]].to_numpy().astype(object)
        u_text[none_known] = "not recorded"
        extra["Offences with a victim under 25"] = u_text
        extra["Under-25 rate per 1,000 residents aged 0-24"] = [
            "" if k else v for k, v in zip(none_known, fmt_or_hidden(ru["rate"]).to_numpy())]
        extra["Offences with no victim age recorded"] = tu.text()[tables.AGE_GROUPS[2]].to_numpy()
        partial = {y: status[y] == "partial" for y in years}
        if any(v != "complete" for v in status.values()):
            extra["Victim age recorded"] = [
                (known_pct(a, k) if status[y] != "absent" else "0%")
                for y, a, k in zip(years, tu.counts[tables.ALL_AGES], tu.counts[tables.AGE_GROUPS[2]])]
            age_note = ("The under-25 counts and rates are of victims with a recorded age (the rest are neither "
                        "under 25 nor 25 and over), so they are a minimum where ages are missing. ")
        if any(partial.values()):
            extra["Under-25 rate if every unrecorded victim age were under 25"] = [
                v if partial[y] else "" for y, v in zip(years, fmt_or_hidden(ru["rate_upper_bound"]).to_numpy())]
            age_note += ("Where ages are partly recorded, the true under-25 rate lies between the two under-25 "
                         "rates: the first counts victims with a recorded age, the second every offence with no "
                         "recorded victim age as if its victim were under 25 (offences with no victim are among "
                         "them, so it is generous). ")
        tables_out.append(tu)
        u25_values = {
            "under25_rates": {y: (None if k or pd.isna(v) else float(v)) for y, v, k in
                              zip(years, ru["rate"], none_known)},
            "under25_upper_bounds": {y: (float(v) if partial[y] and not pd.isna(v) else None)
                                     for y, v in zip(years, ru["rate_upper_bound"])},
            "under25_population": {y: float(pop_u[y]) for y in years},
        }
    res = SectionResult(name="financial_years", data=t.counts)
    res.csv = publish_gated(ctx, t, f"Offences by financial year, {ctx.name}: {ctx.what}", extra=extra,
                            note="Rates per 1,000 residents a year, 95% confidence intervals, computed from the "
                            "published counts; under-25 rates per 1,000 residents aged 0 to 24 of the same year. "
                            + _estimates_note(*tabs) + " " + ratio_note
                            + ("An offence with two victims counts once per victim. " if ctx.record_level else "")
                            + age_note + hidden_note())
    res.table = t.text()
    res.values = {"years": years, "offences": dict(zip(years, t.counts["Offences"].tolist())),
                  "rates": dict(zip(years, r["rate"].tolist())),
                  "comparisons": cmps if baseline in years else {},
                  "population": {y: float(pop[y]) for y in years},
                  "mid_years": dict(zip(pop_tab["financial_year"], pop_tab["mid_year"].astype(int))),
                  "population_note": _estimates_note(*tabs), **u25_values}
    return res


_MEASURES = (
    ("Police", "knife_serious_violence", "Knife or sharp-object enabled serious violence"),
    ("Police", "homicide", "Homicide"),
)


def _measure_row(source, label, cohort, baseline, latest, b, n, pops=(1.0, 1.0)) -> dict:
    """One LLR-style row (baseline, latest, change, % change) and, after it, the rate ratio and its words from
    the two published counts (``pops``: residents in the latest and baseline years)."""
    change = "" if b is None or n is None else f"{n - b:+d}"
    pct = "" if b is None or n is None or b == 0 else f"{100.0 * (n - b) / b:+.1f}%"
    cmp = baseline_comparison(n, b, pops[0], pops[1], baseline=baseline)
    return {"Source": source, "Measure": label, "Cohort": cohort, baseline: _num(b), latest: _num(n),
            f"Change from {baseline}": change, f"% change from {baseline}": pct, RATIO_COLUMN: cmp["cell"],
            _compared_column(baseline): cmp["compared"]}


def _blank_comparison(row: dict, baseline: str, reason: str) -> dict:
    row[f"Change from {baseline}"] = row[f"% change from {baseline}"] = row[RATIO_COLUMN] = ""
    row[_compared_column(baseline)] = f"Not given: {reason}"
    return row


def success_measures(ctx: ProfileContext) -> SectionResult:
    """The Home Office success-measure table (all ages and under 25, latest financial year against 2019/20),
    as partners report it (Leicester, Leicestershire and Rutland VRN 2024). Police counts come from the gated
    year x age tables of each measure's definition; a change is given only when both counts are published.
    """
    from svtools.analysis.measures import hospital_measures, success_table
    from svtools.ingest.store import load_table

    title = "The Home Office success measures"
    skip = _need_records(ctx, "success_measures", title, "no Home Office offence codes, knife flags or victim ages"
                         ) or _cohort_skip(ctx, "success_measures", title)
    if skip:
        return skip
    baseline = config.settings()["periods"]["baseline_financial_year"]
    years = list(_family(ctx).levels["financial_year"])
    if baseline not in years or years[-1] == baseline:
        return _skip(ctx, "success_measures", title,
                     f"the period ({ctx.period}) does not hold both the {baseline} baseline and a later complete "
                     "financial year")
    latest = years[-1]
    mk = config.settings()["disclosure"]["suppressed_marker"]
    pops = _cohort_populations(ctx, [latest, baseline])
    u25_pop = dict(zip([latest, baseline], pops["Victim under 25"]))
    rows = []
    tabs = []
    age_notes = []
    bounds: dict = {}
    for source, name, label in _MEASURES:
        ages = _ages(ctx, name)
        if ages is None:  # no victim age recorded: all ages from the series family, under 25 not given
            fam = _family(ctx, name)
            b, n = fam.value(ctx.code, baseline), fam.value(ctx.code, latest)
            rows.append(_measure_row(source, label, "All ages", baseline, latest, b, n, pops["All ages"]))
            rows.append(_blank_comparison({"Source": source, "Measure": label, "Cohort": "Victim under 25",
                                           baseline: "not recorded", latest: "not recorded"}, baseline,
                                          "victim ages are not recorded"))
            tabs.append(fam.cube.table("period", None, fixed={"area_code": ctx.code}, row_nodes=[baseline, latest],
                                       name=f"success_{name}"))
            continue
        status = {y: _u25_status(ctx, y, name) for y in (baseline, latest)}
        for cohort, node in (("All ages", tables.ALL_AGES), ("Victim under 25", tables.AGE_GROUPS[0])):
            b = ages.value((ctx.code, baseline, node))
            n = ages.value((ctx.code, latest, node))
            row = _measure_row(source, label, cohort, baseline, latest, b, n, pops[cohort])
            if node == tables.AGE_GROUPS[0]:
                for y in (baseline, latest):
                    if status[y] == "absent":  # every victim's age unknown that year: not 0
                        row[y] = "not recorded"
                        _blank_comparison(row, baseline, f"no victim age is recorded in {y}")
                if row[RATIO_COLUMN] and any(v == "partial" for v in status.values()):
                    # counts of victims with a recorded age: a change in recording can look like a change
                    row[_compared_column(baseline)] += " (victims with a recorded age; see the note)"
            rows.append(row)
        if any(v == "partial" for v in status.values()):
            phrases = []
            for y in (baseline, latest):
                if status[y] != "partial":
                    continue
                unk = ages.value((ctx.code, y, tables.AGE_GROUPS[2]))
                # the rate between the known count and every unrecorded age under 25, from published cells
                u = ages.value((ctx.code, y, tables.AGE_GROUPS[0]))
                rb = gated_rate_bounds(pd.Series([np.nan if u is None else float(u)], index=[y]),
                                       pd.Series([np.nan if unk is None else float(unk)], index=[y]),
                                       pd.Series([u25_pop[y]], index=[y])).loc[y]
                between = _u25_rate_phrase(rb, True).replace("**", "")
                phrases.append(f"{y}: " + known_phrase(ages.value((ctx.code, y, tables.ALL_AGES)), unk)
                               + (f"; {between.split(' (')[0]}" if between else ""))
                bounds.setdefault(name, {})[y] = (None if pd.isna(rb["rate"]) else float(rb["rate"]),
                                                  None if pd.isna(rb["rate_upper_bound"])
                                                  else float(rb["rate_upper_bound"]))
            age_notes.append(f"{label}, victim under 25: of victims with a recorded age ({'; '.join(phrases)}).")
        tabs.append(ages.table("financial_year", "age_group", fixed={"area_code": ctx.code},
                               row_nodes=[baseline, latest], column_nodes=[tables.ALL_AGES, tables.AGE_GROUPS[0]],
                               name=f"success_{name}"))
    try:
        hospital = load_table("hospital_admissions", ctx.dataset)
    except SvtoolsError:
        hospital = None
    if hospital is not None and len(hospital):
        hm = hospital_measures(hospital, csp_codes=ctx.csp_codes, financial_years=years)
        t = success_table(hm, latest=latest, measure="Hospital admissions for assault with a sharp object")
        for _, row in t.iterrows():
            def hv(v):
                return v if isinstance(v, str) else ("" if pd.isna(v) else f"{int(v):,}")
            cohort = {"all ages": "All ages", "under 25": "Victim under 25"}.get(str(row["cohort"]),
                                                                                 str(row["cohort"]))
            # from the counts as published (suppressed at source): a range has no ratio
            cmp = baseline_comparison(hv(row[latest]), hv(row[baseline]), *pops.get(cohort, (1.0, 1.0)),
                                      baseline=baseline, hidden="a year includes cells suppressed at source")
            rows.append({"Source": "Health", "Measure": row["measure"], "Cohort": cohort,
                         baseline: hv(row[baseline]), latest: hv(row[latest]),
                         f"Change from {baseline}": _signed(row["change"], "{:+d}"),
                         f"% change from {baseline}": _signed(row["pct_change"], "{:+.1f}%"),
                         RATIO_COLUMN: cmp["cell"], _compared_column(baseline): cmp["compared"]})
    shown = pd.DataFrame(rows)
    for c in (baseline, latest):
        shown[c] = shown[c].replace({"": mk})
    estimates = _estimates_note(*pops["tables"])
    note = (hidden_note() + " A change is shown only when both years are published. " + _ratio_note(baseline)
            + " Under 25: residents aged 0 to 24 of each year. " + estimates
            + (" " + " ".join(age_notes) + " Where victim ages are partly recorded, a change in recording can "
               "look like a change in the under-25 count; the under-25 rate lies between the rate of victims "
               "with a recorded age and the rate if every offence with no recorded victim age had a victim under "
               "25." if age_notes else "") + " Hospital admissions (HES, "
            f"ICD-10 X99) are suppressed at source when 1 to {config.disclosure_threshold('hes')}; a total that "
            "includes a suppressed cell is shown as the range the source allows (e.g. 9 to 15) and has no change.")
    res = SectionResult(name="success_measures", table=shown)
    from svtools.publish.output import publish_table

    res.csv = publish_table(shown, ctx.prefix + "success_measures",
                            f"Home Office success measures, {ctx.name}: {baseline} and {latest}", note=note,
                            count_columns=[baseline, latest], row_header="Measure",
                            gate={"families": [t.meta for t in tabs], "area_code": ctx.code, "area_level": ctx.level})
    knife = shown[(shown["Measure"] == _MEASURES[0][2]) & (shown["Cohort"] == "All ages")]
    if len(knife):
        k = knife.iloc[0]
        cmp = baseline_comparison(k[latest], k[baseline], *pops["All ages"], baseline=baseline)
        pct = k[f"% change from {baseline}"]
        sentence = (f"Knife or sharp-object enabled serious violence in {ctx.name}: {k[latest]} offences in {latest} "
                    f"against {k[baseline]} in {baseline}" + (f" ({pct}): " + change_phrase(cmp, baseline) + "."
                                                             if cmp["words"] else
                                                             f" ({pct})." if pct else "."))
        _say(sentence)
        res.message = sentence
        res.values["knife_comparison"] = cmp
    res.values.update({"baseline": baseline, "latest": latest, "population_note": estimates,
                       "populations": {k: dict(zip([latest, baseline], v)) for k, v in pops.items()
                                       if k != "tables"},
                       "under25_rate_bounds": bounds})
    return res


def _cohort_populations(ctx: ProfileContext, years: list[str]) -> dict:
    """Residents of the area in each year of ``years`` (latest, baseline), all ages and aged 0-24, as
    ``{"All ages": (latest, baseline), "Victim under 25": (...)}``: the person-time of the rate ratios, each
    year by its own ONS mid-year estimate (else the nearest; :meth:`ProfileContext.residents`). The residents
    tables are under ``"tables"``."""
    allages, tab = _residents(ctx, years)
    young, tab_u = _residents(ctx, years, _u25_max())
    return {"All ages": tuple(float(allages[y]) for y in years),
            "Victim under 25": tuple(float(young[y]) for y in years),
            "tables": (tab, tab_u)}


def _ratio_note(baseline: str) -> str:
    return (f"{RATIO_COLUMN}: the later year's rate per resident divided by the {baseline} rate (each year's own "
            "ONS mid-year estimate), with its exact 95% confidence interval (conditional on the two counts, as R's "
            "poisson.test). An interval that includes 1 is shown as \"no clear change\": the data cannot tell "
            "the difference from chance. A ratio is given only when both counts are "
            "published, because a ratio with its interval would give back a hidden count.")


def hospital_admissions(ctx: ProfileContext) -> SectionResult:
    """Hospital admissions for assault with a knife or sharp object by financial year (HES-style, suppressed
    at source: suppressed cells stay suppressed and totals that include one are lower bounds)."""
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import COHORTS, hospital_measures

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
    # hm has one row a financial year and cohort: the year x cohort table of its display cells, as a pivot
    # would make it (years sorted), read straight from the rows
    cells = {(str(c), y): d for c, y, d in zip(hm["cohort"], hm["financial_year"], hm["display"])}
    year_index = pd.Index(sorted(set(hm["financial_year"])), name="financial_year")
    wide = pd.DataFrame({c: [cells.get((c, y)) for y in year_index] for c in COHORTS},
                        index=year_index)
    # a total holding a cell suppressed at source is shown as the range the source itself allows (each
    # suppressed cell holds 1 to the HES threshold), never as a bare lower bound such as ">=1"
    ranged = {(str(c), y): f"{lo:,} to {hi:,}" if supp and shown != "no data" else shown
              for c, y, lo, hi, supp, shown in zip(hm["cohort"], hm["financial_year"], hm["lower_bound"],
                                                    hm["upper_bound"], hm["suppressed"], hm["display"])}
    wide_shown = pd.DataFrame({c: [ranged.get((c, y)) for y in year_index] for c in COHORTS},
                              index=year_index)
    table = pd.DataFrame(
        {
            "Financial year": wide.index,
            "All ages": wide_shown["all ages"].to_numpy(),
            "Under 25": wide_shown["under 25"].to_numpy(),
        }
    )
    baseline = config.settings()["periods"]["baseline_financial_year"]
    years = [str(y) for y in wide.index]
    comparisons = {}
    ratio_note = ""
    if baseline in years and len(years) > 1:
        # each year against the baseline, from the admissions as published: a lower bound (>=) or "no data"
        # has no ratio
        pops = _cohort_populations(ctx, years)
        for col, cohort, key in (("All ages", "All ages", "all ages"), ("Under 25", "Victim under 25", "under 25")):
            shown = dict(zip(years, wide[key].to_numpy()))
            pop_of = dict(zip(years, pops[cohort]))
            cmps = {y: baseline_comparison(shown[y], shown[baseline], pop_of[y], pop_of[baseline],
                                           baseline=baseline, hidden="a year includes cells suppressed at source"
                                           if "no data" not in (shown[y], shown[baseline]) else "no data")
                    for y in years if y != baseline}
            table[f"{col}: rate ratio against {baseline} (95% CI)"] = [
                "baseline year" if y == baseline else cmps[y]["cell"] for y in years]
            table[f"{col}: compared with {baseline}"] = ["" if y == baseline else cmps[y]["compared"]
                                                         for y in years]
            comparisons[key] = cmps
        ratio_note = " " + _ratio_note(baseline).replace(RATIO_COLUMN, "Rate ratio").replace(
            "both counts are published", "neither year includes a suppressed cell")
    res = SectionResult(name="hospital_admissions", table=table, data=hm)
    note = (
        f"Cells of 1 to {config.disclosure_threshold('hes')} admissions are suppressed at source (HES "
        "rules); "
        "a total that includes one is shown as the range it must lie in (for example 9 to 15: the admissions "
        "that are published plus 1 to "
        f"{config.disclosure_threshold('hes')} for each suppressed cell), and has no rate ratio." + ratio_note
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
        "comparisons": comparisons,
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
    # HES aggregates arrive suppressed at source (1-7 hidden, NHS Digital rule) and stay suppressed: the chart
    # (and its data) show exactly the published table above, blank where a year includes a suppressed cell
    marked = disclosure._mark(chart_table, "hospital_admissions_hes")
    data = disclosure._mark(chart_table.rename(columns={"All ages": "admissions_all_ages",
                                                        "Under 25": "admissions_under_25"}),
                            "hospital_admissions_hes")
    _show(
        charts.yearly_chart(
            marked,
            title=f"Hospital admissions for assault with a sharp object, {ctx.name}",
            ylabel="Admissions",
        ),
        alt,
        res,
        data,
        ctx=ctx,
        counts=["admissions_all_ages", "admissions_under_25"],  # suppressed at source (HES 1-7): as the table
    )
    return res


# =========================================================================== what
def _offence_label(records: pd.DataFrame) -> pd.Series:
    col = "offence_subgroup" if "offence_subgroup" in records.columns else "crime_type"
    return records[col].astype("string")


OFFENCE_MIX = tables.Breakdown("offence_mix", _offence_label)


def offence_mix(ctx: ProfileContext) -> SectionResult:
    """Offences by ONS offence subgroup (record-level data) or data.police.uk crime type, from the force's gated
    CSP x offence table (a CSP's row, its siblings' rows and the force row are protected together)."""
    res = SectionResult(name="offence_mix")
    label = "Offence type" if ctx.record_level else "Crime type"
    cube = tables.breakdown_cube(ctx, OFFENCE_MIX)
    cats = tables.published_categories(cube, ctx.code)
    if cats is None:
        return _skip(ctx, "offence_mix", "The offence mix",
                     f"fewer than {tables.rules()['breakdown']['min_total']} offences of {ctx.what} were recorded in "
                     f"{ctx.name}, too few to break down")
    t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=cats + [tables.TOTAL],
                   name="offence_mix", row_title=label)
    t.counts.columns = ["Offences"]
    total = t.counts.loc[tables.TOTAL, "Offences"]
    body = t.counts["Offences"].drop(tables.TOTAL)
    mk = config.settings()["disclosure"]["suppressed_marker"]
    shares = [disclosure.share(None if pd.isna(v) else v, None if pd.isna(total) else total) or mk for v in body]
    extra = pd.DataFrame({"Share of all": shares + ["100%" if not pd.isna(total) else ""]})
    res.csv = publish_gated(ctx, t, f"{label}s, {ctx.name}, {ctx.period}", extra=extra, note=hidden_note())
    res.table = t.text()
    res.data = t.counts
    vis = body.dropna().sort_values(ascending=False)
    chart = disclosure.derived(pd.DataFrame({label: vis.index[:12], "shown": vis.to_numpy()[:12]}), t)
    if len(vis):
        hidden = int(body.isna().sum())
        alt = (f"Horizontal bar chart of offences of {ctx.what} in {ctx.name}, {ctx.period}, by {label.lower()}: "
               f"{_num(None if pd.isna(total) else int(total))} in all. Largest: {vis.index[0]} ({int(vis.iloc[0]):,})"
               + (f"; then {vis.index[1]} ({int(vis.iloc[1]):,})" if len(vis) > 1 else "")
               + (f". {hidden} type(s) with too few to show are left out." if hidden else "."))
        fig = charts.bar_chart(chart, label=label, value="shown", title=f"{label}s, {ctx.name}, {ctx.period}",
                               xlabel="Offences", ylabel=label,
                               highlight=None if ctx.record_level else "Violence and sexual offences")
        label_col = "offence_type" if ctx.record_level else "crime_type"
        data = disclosure.derived(pd.DataFrame({label_col: vis.index[:12], "offences": vis.to_numpy()[:12],
                                                "all_offences": None if pd.isna(total) else int(total)}), t)
        _show(fig, alt, res, data, ctx=ctx, counts=["offences", "all_offences"])
        res.values = {"total": None if pd.isna(total) else int(total), "largest": str(vis.index[0]),
                      "largest_count": int(vis.iloc[0])}
    return res
