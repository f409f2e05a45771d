"""CSP profile (``csp_profile.ipynb``), where it happens: public space and homes (the domestic-abuse flag),
location types, and the night-time economy.

One section, :func:`place_context`, in three parts; each part says in one line what the data do not record
instead of showing an empty table, and each published table is a gated family:

* the domestic-abuse split: :data:`DOMESTIC_SPLIT`, a force's CSPs by flag (domestic abuse, not domestic
  abuse, flag not recorded), shares "of offences with the flag recorded";
* location types: :data:`LOCATION_TYPES`, a force's CSPs by the recorded location type ("Not recorded" a row
  of its own), with a bar chart;
* the night-time economy (NTE): the rule in ``config/settings.yaml`` (``place_context: night_time_economy``,
  read by :func:`svtools.analysis.place.nte_rule`). Its family (:func:`nte_cube`) holds the day-and-time
  table's cells split by place (the CSP's busiest neighbourhoods or elsewhere), with every cell the
  day-and-time table publishes and the busiest neighbourhoods' total from the neighbourhood table mirrored in
  it (hidden there, hidden here; visible there, kept visible), so the new cells are protected against both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.analysis.place import (
    DOMESTIC,
    FLAG_NOT_RECORDED,
    LOCATION_NOT_RECORDED,
    NOT_DOMESTIC,
    domestic_label,
    in_windows,
    location_label,
    nte_rule,
    share_against_expected,
)
from svtools.publish import charts, disclosure, tables
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _say,
    _show,
    hidden_note,
    known_phrase,
    publish_gated,
)

__all__ = ["place_context", "DOMESTIC_SPLIT", "LOCATION_TYPES", "nte_cube"]

TITLE = "Where it happens"
FLAG_RECORDED = "Flag recorded"

#: The force's CSPs by domestic-abuse flag: a blank flag is its own category, never "not domestic abuse".
DOMESTIC_SPLIT = tables.Breakdown(
    "domestic_abuse", domestic_label, categories=(DOMESTIC, NOT_DOMESTIC, FLAG_NOT_RECORDED),
    groups=((FLAG_RECORDED, (DOMESTIC, NOT_DOMESTIC)),), not_recorded=FLAG_NOT_RECORDED)
#: The force's CSPs by recorded location type (largest first; "Not recorded" last).
LOCATION_TYPES = tables.Breakdown("location_type", location_label, not_recorded=LOCATION_NOT_RECORDED)

# Nodes of the night-time family (see nte_cube).
CENTRE, ELSEWHERE = "centre", "elsewhere"
CENTRE_ALL, CENTRE_NTE, CENTRE_KNOWN = "centre|all", "centre|nte", "centre|time recorded"
ALL_NTE, ALL_KNOWN = "all|nte", "all|time recorded"


def _pct(num, den) -> str:
    return disclosure.share(num, den, 0) or ""


def _n(v) -> str:
    return disclosure.rules()["marker"] if v is None or pd.isna(v) else f"{int(v):,}"


def _not_recorded_line(ctx: ProfileContext, field: str, phrase: str, what: str) -> str:
    where = "in this dataset" if not ctx._recorded(field) else f"for any of these offences in {ctx.name}"
    return f"{phrase} not recorded {where}, so {what} cannot be given."


def _subline(res: SectionResult, sub: str, text: str) -> None:
    """Say one line of a part of the section (``**Part**: text``) and keep it in the section's messages."""
    line = f"**{sub}**: {text}"
    _say(line)
    res.messages.append(line)


def _area_broken_down(cube, area: str, node: str) -> bool:
    return (str(area), node) in cube.values


# =========================================================================== public space and homes
def _domestic(ctx: ProfileContext, res: SectionResult) -> None:
    sub = "Public space and homes"
    status = ctx.field_status("domestic_flag")
    res.values["domestic_status"] = status
    if status == "absent":
        _subline(res, sub, _not_recorded_line(ctx, "domestic_flag", "The domestic-abuse flag is",
                                              "the split between domestic abuse and other offences"))
        return
    cube = tables.breakdown_cube(ctx, DOMESTIC_SPLIT)
    if not _area_broken_down(cube, ctx.code, DOMESTIC):
        _subline(res, sub, f"{ctx.name} has too few offences of {ctx.what} to break down by the domestic-abuse flag.")
        return
    rows = [DOMESTIC, NOT_DOMESTIC, FLAG_NOT_RECORDED, FLAG_RECORDED, tables.TOTAL]
    t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=rows, name="domestic_abuse",
                   row_title="Domestic-abuse flag")
    t.counts.columns = ["Offences"]
    c = t.counts["Offences"]
    da, other, unk, known, total = (c[r] for r in rows)
    extra = pd.DataFrame({
        "% of offences with the flag recorded": [_pct(da, known), _pct(other, known), "", "", ""],
        "% of all offences": [_pct(v, total) for v in (da, other, unk, known)] + [""],
    })
    recorded = known_phrase(total, unk, noun="the domestic-abuse flag", of="offences")
    if status == "partial" or recorded:
        sentence = (f"Of the {_n(known)} offences of {ctx.what} in {ctx.name} with the domestic-abuse flag recorded "
                    f"({ctx.period}), {_pct(da, known) or 'a share too small to show'} were flagged as domestic "
                    f"abuse ({_n(da)}) and {_pct(other, known) or 'a share too small to show'} were not "
                    f"({_n(other)}). The flag is not recorded for {_n(unk)} offences"
                    + (f" ({_pct(unk, total)} of all {_n(total)})" if _pct(unk, total) else "")
                    + ": they are counted in neither group.")
    else:
        sentence = (f"Of the {_n(total)} offences of {ctx.what} in {ctx.name} ({ctx.period}), "
                    f"{_pct(da, total) or 'a share too small to show'} were flagged as domestic abuse ({_n(da)}) "
                    f"and {_pct(other, total) or 'a share too small to show'} were not ({_n(other)}).")
    sentence += (" Offences not flagged as domestic abuse are not all in public space: the location types below "
                 "say where they were recorded.") if ctx.field_status("location_type") != "absent" else ""
    _say(f"**{sub}**: {sentence}")
    res.messages.append(sentence)
    res.csv_files.append(publish_gated(
        ctx, t, f"Offences by domestic-abuse flag, {ctx.name}, {ctx.period}", name="domestic_abuse", extra=extra,
        note="Shares of offences with the flag recorded leave out offences whose flag is blank: a blank flag is "
             "neither domestic abuse nor not domestic abuse. " + hidden_note()))
    res.tables["domestic"] = t
    res.values["domestic"] = {k: (None if pd.isna(v) else int(v)) for k, v in zip(
        ("domestic", "not_domestic", "not_recorded", "recorded", "total"), (da, other, unk, known, total))}


# =========================================================================== location types
def _locations(ctx: ProfileContext, res: SectionResult) -> None:
    sub = "Location types"
    status = ctx.field_status("location_type")
    res.values["location_status"] = status
    if status == "absent":
        _subline(res, sub, _not_recorded_line(ctx, "location_type", "Location types are",
                                              "offences by location type"))
        return
    cube = tables.breakdown_cube(ctx, LOCATION_TYPES)
    cats = tables.published_categories(cube, ctx.code)
    if cats is None:
        _subline(res, sub, f"{ctx.name} has too few offences of {ctx.what} to break down by location type.")
        return
    t = cube.table("category", None, fixed={"area_code": ctx.code}, row_nodes=cats + [tables.TOTAL],
                   name="location_type", row_title="Location type")
    t.counts.columns = ["Offences"]
    c = t.counts["Offences"]
    total = c[tables.TOTAL]
    unk = c.get(LOCATION_NOT_RECORDED, 0)
    known = None if pd.isna(total) or pd.isna(unk) else int(total) - int(unk)
    extra = pd.DataFrame({
        "% of offences with a location type recorded": [
            "" if r in (LOCATION_NOT_RECORDED, tables.TOTAL) else _pct(c[r], known) for r in c.index],
        "% of all offences": ["" if r == tables.TOTAL else _pct(c[r], total) for r in c.index],
    })
    types = c.drop([tables.TOTAL, LOCATION_NOT_RECORDED], errors="ignore").dropna().sort_values(ascending=False)
    recorded = known_phrase(total, unk, noun="location type", of="offences")
    if len(types):
        base, of = (known, "of those with a location type recorded") if known is not None else (total, "of all")
        shares = [_pct(types.iloc[i], base) for i in range(min(2, len(types)))]
        sentence = (("Of the offences with a location type recorded, the" if recorded and known is not None else
                     "The") + f" most common place for {ctx.what} in {ctx.name} ({ctx.period}) was "
                    f"{str(types.index[0]).lower()}: {int(types.iloc[0]):,} offences"
                    + (f" ({shares[0]} {of})" if shares[0] else "")
                    + (f"; then {str(types.index[1]).lower()} ({int(types.iloc[1]):,}"
                       + (f", {shares[1]})" if shares[1] else ")") if len(types) > 1 else "")
                    + "." + (f" {recorded[0].upper() + recorded[1:]}"
                             + (f" ({_n(unk)} offences, a row of their own)." if not pd.isna(unk) else ".")
                             if recorded else ""))
    else:
        sentence = f"No location type of {ctx.name} has enough offences to show."
    _say(f"**{sub}**: {sentence}")
    res.messages.append(sentence)
    res.csv_files.append(publish_gated(
        ctx, t, f"Offences by location type, {ctx.name}, {ctx.period}", name="location_type", extra=extra,
        note="Location types as the force recorded them. Offences whose location type was not recorded are a "
             "row of their own and left out of the shares of offences with a location type recorded. "
             + hidden_note()))
    res.tables["location"] = t
    res.values["location"] = {k: (None if pd.isna(v) else int(v)) for k, v in c.items()}
    if len(types):
        data = disclosure.derived(pd.DataFrame({"Location type": types.index, "Offences": types.to_numpy()}), t)
        alt = (f"Bar chart of offences of {ctx.what} in {ctx.name}, {ctx.period}, by recorded location type. "
               f"Most: {types.index[0]} ({int(types.iloc[0]):,})"
               + (f", then {types.index[1]} ({int(types.iloc[1]):,})" if len(types) > 1 else "")
               + f". Location not recorded: {_n(unk)} offences (not drawn).")
        _show(charts.bar_chart(data, label="Location type", value="Offences", xlabel="Offences",
                               title=f"Offences by location type, {ctx.name}"), alt, res,
              disclosure.derived(pd.DataFrame({"location_type": types.index, "offences": types.to_numpy()}), t),
              ctx=ctx, counts=["offences"])


# =========================================================================== the night-time economy
def _day_time():
    """The day-and-time family's spec and labels (the CSP profile's ``when`` table), whose cells the
    night-time family mirrors. Imported from its page module: the two must be one family's cells."""
    from svtools.publish.sections import profile_place_people as ppp

    return ppp.DAY_TIME, ppp.TIME_NOT_RECORDED, ppp._hour_block()


def _nte_blocks(rule, block: int) -> list[str]:
    """The day-and-time cells ('<weekday>|<hh>-<hh>') inside the rule's windows (whole blocks: the rule's
    windows start and end on block boundaries)."""
    from svtools.analysis.place import DAY_NAMES

    starts = pd.Series([float(d * 24 + h) for d in range(7) for h in range(0, 24, block)])
    inside = in_windows(starts, rule.windows).to_numpy(bool)
    return [f"{DAY_NAMES[int(s) // 24]}|{int(s) % 24:02d}-{int(s) % 24 + block:02d}"
            for s, ok in zip(starts, inside) if ok]


#: Night-time families by (dataset, force, definition, period, cohort, rule, dataset digest).
_FAMILIES: dict = {}


def nte_cube(ctx: ProfileContext, rule=None):
    """The protected night-time family of the context's force: CSPs x (busiest neighbourhoods or elsewhere)
    x day-and-time cell.

    Nodes published for a CSP whose day-and-time table is broken down: every node that table publishes
    (mirrored: hidden there -> hidden here, visible there -> never hidden here), the busiest neighbourhoods'
    total (only when every one of them is visible in the neighbourhood table, then mirrored visible), and the
    new cells: the busiest neighbourhoods in the NTE hours and with a recorded time, the whole area in the NTE
    hours and with a recorded time. The audit then protects the new cells against every relation of the two
    tables they share cells with.

    Returns
    -------
    (ProtectedCube, dict, list)
        The family, each CSP's busiest neighbourhoods (LSOA codes) and the NTE cells of the day-and-time table.
    """
    from svtools.publish.disclosure import Cube, Dim

    spec, tnr, block = _day_time()
    rule = rule or nte_rule(hour_block=block)
    s, e = str(ctx.period_start.date()), str(ctx.period_end.date())
    ages = tuple(ctx.victim_ages) if ctx.victim_ages else None
    key = (ctx.dataset, ctx.force_code, ctx.definition.name, s, e, ages, rule, tables._digest(ctx.dataset))
    if key in _FAMILIES:
        return _FAMILIES[key]
    dt = tables.breakdown_cube(ctx, spec)
    lsoa, top = tables.lsoa_cube(ctx, top_n=10)  # the hotspots section's family: the busiest ten
    records = tables.force_records(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start,
                                   ctx.period_end, ages)
    codes = list(dt.cube.dim("area_code").base)
    cdim_dt = dt.cube.dim("category")
    time_cats = list(cdim_dt.base)
    nte_cells = [x for x in _nte_blocks(rule, block) if x in time_cats]
    centres = {c: list(top.get(c, []))[: rule.busiest_neighbourhoods] for c in codes}
    keys = {f"{c}|{x}" for c, xs in centres.items() for x in xs}
    here = (records["csp_code"].astype(str) + "|" + records["lsoa_code"].astype("string").fillna("")).isin(keys)
    time_label = spec.label(records).astype("string").fillna(tnr).astype(str)
    place = np.where(here.to_numpy(bool), CENTRE, ELSEWHERE)
    frame = pd.DataFrame({"area_code": records["csp_code"].astype(str).to_numpy(),
                          "category": pd.Series(place).str.cat(time_label.to_numpy(), sep="|").to_numpy()})
    g = frame.groupby(["area_code", "category"]).size().rename("count").reset_index()
    base = [f"{p}|{x}" for p in (CENTRE, ELSEWHERE) for x in time_cats]
    both = lambda xs: tuple(f"{p}|{x}" for p in (CENTRE, ELSEWHERE) for x in xs)  # noqa: E731
    nodes = {f"all|{x}": both([x]) for x in time_cats}
    nodes.update({f"all|{k}": both(v) for k, v in cdim_dt.nodes.items()})
    known_cats = [x for x in time_cats if x != tnr]
    nodes.update({
        CENTRE_ALL: tuple(f"{CENTRE}|{x}" for x in time_cats),
        CENTRE_NTE: tuple(f"{CENTRE}|{x}" for x in nte_cells),
        CENTRE_KNOWN: tuple(f"{CENTRE}|{x}" for x in known_cats),
        ALL_NTE: both(nte_cells),
        ALL_KNOWN: both(known_cats),
    })
    cube = Cube(tables.family_name("night_time_economy", ctx.definition.name, ages),
                [Dim("area_code", tuple(codes)), Dim("category", tuple(base), nodes)], g)
    hidden, keep = {}, set()
    for (a, k), v in dt.values.items():
        if a not in codes:  # the force's row: not mirrored (no CSP-level relation needs it)
            continue
        cube.publish([(a, f"all|{k}")])
        if v is None:
            hidden[(a, f"all|{k}")] = (1, None)
        else:
            keep.add((a, f"all|{k}"))
    for a in codes:
        if (a, tnr) not in dt.values:  # the CSP's day-and-time table is withheld: nothing new for it
            continue
        cube.publish([(a, ALL_NTE), (a, ALL_KNOWN)])
        if all(dt.values.get((a, x)) is not None for x in nte_cells):
            keep.add((a, ALL_NTE))
        if dt.values.get((a, tnr)) is not None and dt.values.get((a, tables.TOTAL)) is not None:
            keep.add((a, ALL_KNOWN))
        lsoas = centres.get(a, [])
        if lsoas and all(lsoa.value((x,)) is not None for x in lsoas):
            cube.publish([(a, CENTRE_ALL), (a, CENTRE_NTE), (a, CENTRE_KNOWN)])
            keep.add((a, CENTRE_ALL))
    if dt.cube.blank:  # its source shows nothing, zeros included: so does it
        protected = disclosure.blank_family(cube, f"built from {dt.name}, of which every cell is hidden")
    else:
        protected = cube.protect(extra_hidden=hidden, keep_visible=keep)
    out = (protected, centres, nte_cells)
    if len(_FAMILIES) >= 16:
        _FAMILIES.clear()
    _FAMILIES[key] = out
    return out


def _ci_pct(r: dict) -> str:
    return f"{100 * r['share']:.0f}% (95% CI {100 * r['lower']:.0f}% to {100 * r['upper']:.0f}%)"


def _night_time(ctx: ProfileContext, res: SectionResult) -> None:
    sub = "The night-time economy"
    spec, tnr, block = _day_time()
    rule = nte_rule(hour_block=block)
    expected = rule.expected_share
    rule_words = (f"offences that started {rule.words} (the night-time economy hours: {rule.hours} of the "
                  f"week's 168 hours, {100 * expected:.1f}%) in the area's {rule.busiest_neighbourhoods} busiest "
                  "neighbourhoods (LSOAs with most offences of this definition over the period)")
    res.values["nte_rule"] = {"windows": rule.windows, "hours": rule.hours, "expected_share": expected,
                              "busiest_neighbourhoods": rule.busiest_neighbourhoods}
    if not ctx.record_level or ctx.field_status("occurred_hour") == "absent":
        what = "only the month of each offence" if not ctx.record_level else "dates but no times of day"
        where = "in this dataset" if not ctx._recorded("occurred_hour") else "for these offences"
        _subline(res, sub, f"times of day are not recorded {where} ({what}), so the night-time split cannot be "
                           "made: an hour is never inferred from a date.")
        res.values["nte_status"] = "absent"
        return
    fam, centres, nte_cells = nte_cube(ctx, rule)
    if (ctx.code, ALL_NTE) not in fam.values:
        _subline(res, sub, f"{ctx.name} has too few offences of {ctx.what} to break down by day and time.")
        res.values["nte_status"] = "too few"
        return
    v = lambda k: fam.values.get((ctx.code, k))  # noqa: E731 - published values only (None: hidden or absent)
    total, unknown = v(f"all|{tables.TOTAL}"), v(f"all|{tnr}")
    all_nte, all_known = v(ALL_NTE), v(ALL_KNOWN)
    c_nte, c_known = v(CENTRE_NTE), v(CENTRE_KNOWN)
    has_centre = (ctx.code, CENTRE_NTE) in fam.values
    rows = ([CENTRE_NTE, CENTRE_KNOWN] if has_centre else []) + [ALL_NTE, ALL_KNOWN, f"all|{tnr}",
                                                                  f"all|{tables.TOTAL}"]
    labels = {CENTRE_NTE: "Busiest neighbourhoods, night-time economy hours",
              CENTRE_KNOWN: "Busiest neighbourhoods, time recorded",
              ALL_NTE: f"All of {ctx.name}, night-time economy hours", ALL_KNOWN: f"All of {ctx.name}, time recorded",
              f"all|{tnr}": f"All of {ctx.name}, time not recorded", f"all|{tables.TOTAL}": f"All of {ctx.name}"}
    t = fam.table("category", None, fixed={"area_code": ctx.code}, row_nodes=rows, name="night_time_economy",
                  row_title="Group")
    t.counts.columns = ["Offences"]
    t.counts.index = pd.Index([labels[r] for r in rows], name="Group")
    comp = {}
    for name, (num, den) in {"centre": (c_nte, c_known), "area": (all_nte, all_known),
                             "nte_of_area": (c_nte, all_known)}.items():
        if num is None or den is None or (name == "centre" and not has_centre):
            comp[name] = None
        else:
            comp[name] = share_against_expected(num, den, expected)
    fmt = lambda r, k: "" if r is None or r["share"] is None else f"{100 * r[k]:.1f}"  # noqa: E731
    share_rows = {CENTRE_NTE: comp["centre"], ALL_NTE: comp["area"]}
    extra = pd.DataFrame({
        "% in these hours": [fmt(share_rows.get(r), "share") for r in rows],
        "Lower 95% CI": [fmt(share_rows.get(r), "lower") for r in rows],
        "Upper 95% CI": [fmt(share_rows.get(r), "upper") for r in rows],
        "% if spread evenly over the week": [f"{100 * expected:.1f}" if r in share_rows else "" for r in rows],
    })
    time_known = known_phrase(total, unknown, noun="time", of="offences")
    parts = [f"The night-time economy is counted here as {rule_words}."]
    if not has_centre:
        parts.append(f"Some of the busiest neighbourhoods of {ctx.name} have counts too small to show, so the "
                     "town-centre split is not given.")
    elif comp["centre"] is None or comp["centre"]["share"] is None:
        parts.append("The busiest neighbourhoods' night-time count is too small to show.")
    else:
        r = comp["centre"]
        parts.append(
            f"In the busiest neighbourhoods, {_ci_pct(r)} of the {_n(c_known)} offences with a recorded time "
            f"started in these hours ({_n(c_nte)} offences): "
            + (f"{r['words']} the {100 * expected:.1f}% expected if offences were spread evenly over the week."
               if r["words"] != "no clear difference from" else
               f"no clear difference from the {100 * expected:.1f}% expected if offences were spread evenly over the "
               "week (the interval includes it)."))
        if comp["nte_of_area"] is not None and comp["nte_of_area"]["share"] is not None:
            parts.append(f"Night-time economy offences were {_ci_pct(comp['nte_of_area'])} of all "
                         f"{_n(all_known)} offences of {ctx.what} in {ctx.name} with a recorded time.")
    r = comp["area"]
    if r is not None and r["share"] is not None:
        parts.append(
            f"Across all of {ctx.name}, {_ci_pct(r)} of offences with a recorded time started in these hours: "
            + ("no clear difference from an even spread." if r["words"] == "no clear difference from" else
               f"{r['words']} an even spread."))
    parts.append(f"Time not recorded: {_n(unknown)} offences" + (f" ({time_known})" if time_known else "")
                 + "; they are in neither group.")
    sentence = " ".join(parts)
    _say(f"**{sub}**: {sentence}")
    res.messages.append(sentence)
    res.csv_files.append(publish_gated(
        ctx, t, f"Offences in the night-time economy, {ctx.name}, {ctx.period}", name="night_time_economy",
        extra=extra,
        note=(f"Night-time economy hours: {rule.words}. Busiest neighbourhoods: the {rule.busiest_neighbourhoods} "
              "LSOAs of the area with most offences of this definition over the period (as in the hotspots "
              "table). Shares are of offences with a recorded time, with Wilson 95% confidence intervals; an "
              f"even spread over the week's hours would put {100 * expected:.1f}% in these hours. Offences with a "
              "date but no time are never placed in or out of these hours. " + hidden_note())))
    res.tables["night_time_economy"] = t
    res.values["nte_status"] = "shown"
    res.values["nte"] = {
        "centre_nte": c_nte, "centre_known": c_known, "area_nte": all_nte, "area_known": all_known,
        "time_not_recorded": unknown, "total": total, "centre": comp["centre"], "area": comp["area"],
        "nte_of_area": comp["nte_of_area"], "busiest": centres.get(str(ctx.code), [])}


# =========================================================================== the section
def place_context(ctx: ProfileContext) -> SectionResult:
    """Where it happens: the domestic-abuse split, location types and the night-time economy (three parts,
    each saying in one line what the data do not record).

    ``values`` hold, per part, the field's status (``domestic_status``, ``location_status``, ``nte_status``)
    and the published numbers (``domestic``, ``location``, ``nte``: None where hidden); ``messages`` the
    sentences shown; ``tables`` the published tables by part; ``table`` the first of them."""
    res = SectionResult(name="place_context")
    res.messages, res.tables, res.csv_files = [], {}, []
    _domestic(ctx, res)
    _locations(ctx, res)
    _night_time(ctx, res)
    if res.tables:
        first = next(iter(res.tables.values()))
        res.table = first.text()
        res.data = disclosure.frame_of(first)
        res.csv = res.csv_files[0]
    else:
        res.available = False
    res.message = " ".join(res.messages)
    return res
