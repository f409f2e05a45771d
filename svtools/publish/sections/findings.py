"""What this page shows: three to six sentences at the top of a CSP profile, generated from its statistics.

:func:`key_findings` computes candidate findings with the **same** functions the page's sections use, from the
same published (gated) counts, and keeps only what a rule supports, in words the interval allows
(:mod:`svtools.analysis.findings`):

* the CSP profile (:class:`~svtools.publish.sections.context.ProfileContext`, ``csp_profile.ipynb``): the
  latest financial year against 2019/20 (rate ratio of the two published counts, exact 95% CI:
  :func:`~svtools.publish.sections.profile_volume.baseline_comparison`, as ``financial_years``); the under-25
  knife measure against 2019/20 (as ``success_measures``); special-cause variation in the latest points of the
  SPC chart (:func:`~svtools.publish.sections.monthly.spc_plan_for`, :func:`svtools.analysis.stats.spc`, as
  ``monthly_spc``); the rate against the force and against all CSPs (the funnel flags of ``_area_rates``, as
  ``rate_comparison``); the deprivation gradient (PHE SII/RII with its simulated CI, as ``deprivation``);
* a London borough (:class:`~svtools.publish.sections.counts.CountsContext`, ``london_csp.ipynb``): the group
  and each measure against 2019/20 (as ``count_years``), the trend model's annual rate ratio (the one cached
  model of ``count_trend``), the SPC chart's latest points (as ``count_spc``) and the funnel against London (as
  ``count_funnel``);
* both: the red-red indicators (significantly worse than the benchmark and getting worse), as the ``red_red``
  section lists them (:func:`svtools.publish.indicators.red_red_indicators`).

Disclosure: every number a sentence states is one the page publishes (a published count, a rate or interval
from published counts, a funnel flag, an SPC rule). A comparison needing a hidden count is not made: the
sentence says the data do not allow it, never "no change" and never 0. Every sentence links to the heading of
the section it comes from (ids from :func:`svtools.publish.anchors.heading_id`, given to the page's headings by
:func:`svtools.publish.render.to_html`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools import config
from svtools.analysis import findings as F
from svtools.publish.anchors import heading_id
from svtools.publish.sections.context import ProfileContext, SectionResult, _say, _spc_frame, _window_words

__all__ = ["key_findings", "PROFILE_SECTIONS", "LONDON_SECTIONS"]

#: The headings (as written in ``notebooks/csp_profile.ipynb``) of the sections the CSP profile's findings
#: come from, and their order on the page.
PROFILE_SECTIONS = {
    "financial_years": ("Offences by financial year", 10),
    "success_measures": ("The Home Office success measures", 20),
    "monthly_spc": ("Month by month", 30),
    "rate_comparison": ("Compared with the force area and other CSPs", 40),
    "deprivation": ("Deprivation", 50),
    "red_red": ("Red-red indicators", 25),
}
#: The same for ``notebooks/london_csp.ipynb`` (measure headings are written by the count sections themselves).
LONDON_SECTIONS = {"count_years": ("How much: financial years", 10), "red_red": ("Red-red indicators", 15)}

#: How many latest points of an SPC chart are read for special causes (as ``count_spc``).
RECENT_POINTS = {"month": 6, "quarter": 4, "financial_year": 2}
_UNIT = {"month": "month", "quarter": "quarter", "financial_year": "year"}


def _where(key: str, table: dict = PROFILE_SECTIONS) -> dict:
    title, order = table[key]
    return {"section": heading_id(title), "section_title": title, "order": order}


def _link(title: str, order: int) -> dict:
    return {"section": heading_id(title), "section_title": title, "order": order}


# =========================================================================== the CSP profile
def _rebased(tab: pd.DataFrame) -> str:
    """The caveat when the two years' residents come from estimates of different census bases (as ``count_years``
    says it)."""
    if "census_base" not in tab.columns or tab["census_base"].dropna().nunique() < 2:
        return ""
    return "part of it can be the population estimates' change of census base"


def _profile_change(ctx: ProfileContext) -> F.Finding | None:
    from svtools.publish.sections.profile_volume import _family, _residents, baseline_comparison

    fam = _family(ctx)
    years = list(fam.levels["financial_year"])
    baseline = config.settings()["periods"]["baseline_financial_year"]
    if baseline not in years or years[-1] == baseline:
        return None
    latest = years[-1]
    n, b = fam.value(ctx.code, latest), fam.value(ctx.code, baseline)
    where = _where("financial_years")
    if n is None or b is None:
        return F.not_possible_finding(
            f"No change from {baseline} to {latest} can be given for {ctx.what}: one of the two years' counts is "
            "too small to publish (or hidden to protect another), and a ratio would give it back.", **where)
    pop, tab = _residents(ctx, [baseline, latest])
    cmp = baseline_comparison(n, b, pop[latest], pop[baseline], baseline=baseline)
    if cmp["words"] is None or not np.isfinite(cmp["ratio"]):
        return None  # 0 in both years, or none in the baseline: nothing to compare as a ratio
    return F.change_finding(ctx.what, latest, baseline, n, b, cmp["ratio"], cmp["lower"], cmp["upper"],
                            claim_note=_rebased(tab), **where)


def _profile_under25(ctx: ProfileContext) -> F.Finding | None:
    """The under-25 knife measure against 2019/20, as ``success_measures`` computes its row."""
    from svtools.publish import tables
    from svtools.publish.sections.profile_volume import (
        _MEASURES,
        _ages,
        _cohort_populations,
        _family,
        _u25_status,
        baseline_comparison,
    )

    if not ctx.record_level:
        return None
    baseline = config.settings()["periods"]["baseline_financial_year"]
    years = list(_family(ctx).levels["financial_year"])
    if baseline not in years or years[-1] == baseline:
        return None
    latest = years[-1]
    _, name, label = _MEASURES[0]
    ages = _ages(ctx, name)
    if ages is None:
        return None  # victim ages not recorded: the section says so; nothing to claim here
    status = {y: _u25_status(ctx, y, name) for y in (baseline, latest)}
    if "absent" in status.values():
        return None
    node = tables.AGE_GROUPS[0]
    b, n = ages.value((ctx.code, baseline, node)), ages.value((ctx.code, latest, node))
    where = _where("success_measures")
    subject = f"{label.lower()} against victims under 25"
    if n is None or b is None:
        return F.not_possible_finding(
            f"No change from {baseline} can be given for {subject}: one of the two counts is too small to publish "
            "(or hidden to protect another).", **where)
    pops = _cohort_populations(ctx, [latest, baseline])["Victim under 25"]
    cmp = baseline_comparison(n, b, pops[0], pops[1], baseline=baseline)
    if cmp["words"] is None or not np.isfinite(cmp["ratio"]):
        return None
    partial = "partial" in status.values()
    return F.change_finding(subject, latest, baseline, n, b, cmp["ratio"], cmp["lower"], cmp["upper"],
                            note="victims with a recorded age: a change in recording can look like a change"
                            if partial else "", part=True, **where)


def _spc_from_plan(plan, subject: str, where: dict) -> F.Finding | None:
    """A finding from an SPC plan's XmR chart (None when the rule gives no chart: the section says why)."""
    from svtools.analysis.stats.spc import rule_words
    from svtools.publish.sections.monthly import _LABEL

    if plan is None or plan.kind != "xmr":
        return None
    s = _spc_frame(plan.values)
    recent = s.tail(RECENT_POINTS.get(plan.resolution, 2))
    unit = _UNIT.get(plan.resolution, plan.resolution)
    kinds = [k for k in ("concern", "improvement") if (recent["special_cause"] == k).any()]
    latest_kind = str(s["special_cause"].iloc[-1])
    if latest_kind in kinds:
        kinds = [latest_kind] + [k for k in kinds if k != latest_kind]
    shown = recent[recent["special_cause"] == kinds[0]] if kinds else recent.head(0)
    rules = [rule_words(r, plan.resolution) for r in sorted(set(shown["rule"]))]
    label = _LABEL[plan.resolution](pd.Timestamp(s["date"].iloc[-1]))
    return F.spc_finding(subject, unit, label, latest_kind, len(recent), kinds, rules, **where)


def _profile_spc(ctx: ProfileContext) -> F.Finding | None:
    from svtools.publish.sections.monthly import spc_plan_for
    from svtools.publish.sections.profile_volume import _family

    return _spc_from_plan(spc_plan_for(_family(ctx), ctx.code), ctx.what, _where("monthly_spc"))


def _profile_funnel(ctx: ProfileContext) -> list[F.Finding]:
    from svtools.publish.sections.context import _area_rates, _is_small

    areas, info = _area_rates(ctx)
    if ctx.code not in set(areas["csp_code"]):
        return []  # the count is hidden: the section says so, and no rate is published
    me = areas[areas["csp_code"] == ctx.code].iloc[0]
    if _is_small(me["offences"]):
        return []
    where = _where("rate_comparison")
    window = _window_words(info)
    force = (f"the {ctx.force_name} rate", info["force_rate"], me["vs_force_95"], me["vs_force_998"])
    every = ("the rate of all CSPs in the data", info["overall"], me["vs_all_95"], me["vs_all_998"])
    if force[2:] == every[2:]:  # the same verdict against both: one sentence
        return [F.funnel_finding(ctx.name, [force[:2], every[:2]], force[2], force[3], float(me["rate"]), window,
                                 **where)]
    return [F.funnel_finding(ctx.name, [c[:2]], c[2], c[3], float(me["rate"]), window, **where)
            for c in (force, every)]


def _profile_deprivation(ctx: ProfileContext) -> F.Finding | None:
    """The RII as ``deprivation`` computes it (same cube, same rates, same seeded simulation)."""
    from svtools.analysis.place_time import sii
    from svtools.publish import tables
    from svtools.publish.sections.context import gated_rates

    if ctx.victim_ages is not None or ctx.lsoa is None:
        return None
    cube, _ = tables.lsoa_cube(ctx, top_n=10)
    lk = ctx.lsoa[ctx.lsoa["csp_code"].isin(ctx.csp_codes)].dropna(subset=["imd_decile"])
    deciles = sorted(int(d) for d in lk["imd_decile"].unique())
    if len(deciles) < 5:
        return None
    nodes = [f"{ctx.code}|decile {d}" for d in deciles]
    t = cube.table("lsoa_code", None, row_nodes=nodes, name="deprivation", row_title="IMD decile")
    counts = t.counts.iloc[:, 0]
    if counts.isna().any() or (counts == 0).any():
        return None  # a hidden or zero decile: the section gives no index, and says why
    pop = lk.groupby(lk["imd_decile"].astype(int))["population"].sum().reindex(deciles).astype(float)
    rates = gated_rates(counts.astype("Float64"), pop.to_numpy(), multiplier=1000, years=ctx.years)
    s = sii(rates["rate"].to_numpy(), pop.to_numpy(), rates["lower_95_ci"].to_numpy(),
            rates["upper_95_ci"].to_numpy(), transform=True, repetitions=100_000)
    rii, lo, hi = float(s["rii"]), float(s["rii_lower"]), float(s["rii_upper"])
    if not (np.isfinite(rii) and rii > 0 and lo > 0 and hi > 0):
        return None
    # the page states most over least deprived: PHE's RII (least / most) inverted, as the section does
    return F.gradient_finding(ctx.name, 1 / rii, 1 / hi, 1 / lo, **_where("deprivation"))


def profile_findings(ctx: ProfileContext) -> list[F.Finding]:
    """Every candidate finding of a CSP profile, in page order (before :func:`svtools.analysis.findings.order_findings`)."""
    out: list[F.Finding | None] = [_profile_change(ctx), _profile_under25(ctx), _profile_spc(ctx)]
    out += _profile_funnel(ctx)
    out.append(_profile_deprivation(ctx))
    out += red_red_findings(ctx, PROFILE_SECTIONS)
    return [f for f in out if f is not None]


# =========================================================================== a London borough (count tables)
def london_findings(ctx) -> list[F.Finding]:
    """Every candidate finding of a London borough page: the group always, each measure only where a rule
    supports a claim (the group's "no clear change" is said once, not for every part)."""
    from svtools.analysis.stats.compare import rate_ratio
    from svtools.publish.sections.counts import _csp_rates, _model, _monthly, _spc_plan, _what

    out: list[F.Finding] = []
    group = ctx.definition.name
    baseline = str(config.settings()["periods"]["baseline_financial_year"])
    where_years = _where("count_years", LONDON_SECTIONS)
    fam0 = ctx.family(group)
    years = fam0.levels["financial_year"]
    latest = years[-1] if years else None
    ok_years = latest is not None and baseline in years and latest != baseline
    pops = ctx.residents([baseline, latest]) if ok_years else None
    pop = dict(zip(pops["financial_year"], pops["population"])) if pops is not None else {}
    for i, m in enumerate(ctx.measures):
        what = _what(ctx, m.name)
        is_group = m.name == group
        keep = (lambda f: f is not None and (is_group or f.supported))
        # against 2019/20, as count_years
        if ok_years:
            fam = ctx.family(m.name)
            x1, x0 = fam.value(ctx.code, m.name, latest), fam.value(ctx.code, m.name, baseline)
            if x1 is not None and x0 is not None and (x1 > 0 and x0 > 0):
                rr = rate_ratio(x1, x0, pop[latest], pop[baseline]).iloc[0]
                f = F.change_finding(what, latest, baseline, x1, x0, float(rr["ratio"]), float(rr["lower"]),
                                     float(rr["upper"]), claim_note=_rebased(pops), part=not is_group,
                                     **{**where_years, "order": where_years["order"] + i})
                if keep(f):
                    out.append(f)
            elif is_group:
                out.append(F.not_possible_finding(
                    f"No change from {baseline} can be given for {what}: a count is hidden.", **where_years))
        base = 100 + 10 * i
        # the trend model, as count_trend (the same cached model)
        got = _monthly(ctx, m.name)
        if got is not None and len(got[0]) >= 24 and got[0].sum() > 0:
            model, _, _ = _model(ctx, m.name, got[0])
            lo, hi = model.annual_rate_ratio_ci
            if np.isfinite(lo) and np.isfinite(hi):
                title = f"Trend and seasonality of {what}"
                f = F.trend_finding(what, float(model.annual_rate_ratio), float(lo), float(hi),
                                    kind=model.ratio_kind, part=not is_group,
                                    **_link(title[0].upper() + title[1:], base))
                if keep(f):
                    out.append(f)
        # the SPC chart, as count_spc
        plan, _ = _spc_plan(ctx.family(m.name), ctx.code, m.name)
        f = _spc_from_plan(plan, what, {**_link(f"Statistical process control: {what}", base + 1),
                                        "part": not is_group})
        if keep(f):
            out.append(f)
    # the funnel against London, as count_funnel (the group: the page's one funnel)
    d, info = _csp_rates(ctx, group)
    pts = d[d["offences"].notna()]
    if ctx.level == "csp" and ctx.code in set(pts["csp_code"]) and len(pts) >= 3 and np.isfinite(info["force_rate"]):
        me = pts[pts["csp_code"] == ctx.code].iloc[0]
        what = _what(ctx, group)
        per = "per 1,000 residents a year" if info["per"] == 1000 else f"per {info['per']:,} residents a year"
        out.append(F.funnel_finding(ctx.label, [(f"the {ctx.force_word} rate", info["force_rate"])], me["funnel_95"],
                                    me["funnel_998"], float(me["rate"]), info["window"], per=per,
                                    **_link(f"Compared with the other CSPs: {what}", 900)))
    out += red_red_findings(ctx, LONDON_SECTIONS)
    return out


# =========================================================================== red-red (the spine chart's indicators)
def red_red_findings(ctx, table: dict) -> list[F.Finding]:
    """The red-red indicators as the ``red_red`` section lists them (:mod:`svtools.publish.sections.spine`, helper
    of issue 11 items 2-3): one sentence when there are any; nothing otherwise (the section says "None")."""
    try:
        from svtools.publish.indicators import red_red_indicators
        from svtools.publish.sections.spine import _BENCHMARK_WORDS, _rows, _unit_short
    except ImportError:  # pragma: no cover - the indicators are part of svtools from issue 11
        return []
    rows = _rows(ctx)
    if rows is None or rows.empty:
        return []
    rr = red_red_indicators(rows)
    if rr.empty:
        return []
    items = [{"label": r["label"], "value": r["value"], "benchmark": r["benchmark_value"],
              "unit": _unit_short(r["unit"]), "benchmark_words": _BENCHMARK_WORDS.get(r["benchmark"], r["benchmark"]),
              "trend_lower": r["trend_lower_95_ci"], "trend_upper": r["trend_upper_95_ci"],
              "trend_period": str(r["trend_period"] or "")} for _, r in rr.iterrows()]
    return [F.red_red_finding(ctx.name, items, **_where("red_red", table))]


# =========================================================================== the section
def key_findings(ctx) -> SectionResult:
    """"What this page shows": the page's most important findings, most important first (the order of
    :func:`svtools.analysis.findings.order_findings`: supported concerns, supported improvements, then no clear
    change; ties in page order), at most six, each linking to its section.

    Parameters
    ----------
    ctx : ProfileContext or CountsContext
        The page's context (a CSP; on a force or a restricted cohort the section shows nothing).

    Returns
    -------
    SectionResult
        ``values["findings"]``: the :class:`svtools.analysis.findings.Finding` shown; ``values["candidates"]``:
        every candidate before ordering; ``message``: the sentences.
    """
    from svtools.publish.sections.counts import CountsContext

    res = SectionResult(name="key_findings")
    if getattr(ctx, "level", "csp") != "csp" or getattr(ctx, "victim_ages", None) is not None:
        res.available = False
        return res
    cands = london_findings(ctx) if isinstance(ctx, CountsContext) else profile_findings(ctx)
    shown = F.order_findings(cands)
    lines = [f"* {f.markdown()}" for f in shown]
    if not shown:
        lines = [f"* The data for {ctx.name} allow no finding here: the sections below say why (too few offences "
                 "to publish, or the data do not record what they need)."]
    elif len(shown) < F.MIN_FINDINGS:
        lines.append(f"* The data for {ctx.name} allow no further findings: the other sections have too few "
                     "offences to publish a comparison, or the data do not record what they need.")
    _say("\n".join(lines))
    res.message = " ".join(f.text for f in shown)
    res.values = {"findings": shown, "candidates": cands}
    return res
