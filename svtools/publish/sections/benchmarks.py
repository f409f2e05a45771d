"""Benchmarks: the force's real national context from the Home Office tables, and the most-similar CSPs.

* :func:`national_context` (``force_overview.ipynb``, ``london_overview.ipynb``): the force's **real** rates per
  1,000 residents from the Home Office police recorded crime open data tables (:mod:`svtools.ingest.home_office_prc`)
  for the offence groups those tables cover that match the pages' subject (:data:`MEASURES`), against England and
  Wales, its position among the 43 territorial forces, and the long-run trend of its rolling-year totals
  2003-2018, each with the data behind it as a CSV.
* :func:`most_similar_csps` (``csp_profile.ipynb``, ``london_csp.ipynb``): the project's own most-similar CSPs
  (:mod:`svtools.analysis.similar`); the Home Office "most similar groups" are not available here.

The Home Office figures are published national statistics for whole forces (not small areas); they still go
through the disclosure gate (:class:`svtools.publish.disclosure.Cube`) as one family of force cells with England
and Wales as their total, so that any count from 1 to the threshold would be hidden, with its complements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from svtools import config
from svtools.publish import disclosure, output
from svtools.publish.charts import time_series as charts_ts
from svtools.publish.sections.context import SectionResult, _fmt, _say, _show, _skip

__all__ = ["MEASURES", "EW_CODE", "EW_NAME", "national_figures", "rolling_figures", "national_context",
           "most_similar_csps"]

#: ONS code and name of England and Wales (the comparator: the 43 territorial forces together).
EW_CODE, EW_NAME = "K04000001", "England and Wales"


@dataclass(frozen=True)
class Measure:
    """One offence group of the Home Office tables shown on the pages.

    ``level`` is the column of the quarterly tables it is read from (``offence_group`` or ``offence_subgroup``),
    ``label`` its value there; ``rolling`` the group of the rolling-year file (None: that file has no such group).
    """

    key: str
    words: str
    level: str
    label: str
    rolling: str | None


#: The Home Office offence groups that match the pages' subject (serious violence: violence, robbery, weapons).
#: Homicide is left out: a force's homicides in a year are too few for a rate worth comparing.
MEASURES = (
    Measure("violence_against_the_person", "violence against the person", "offence_group",
            "Violence against the person", None),
    Measure("violence_with_injury", "violence with injury", "offence_subgroup", "Violence with injury",
            "Violence with injury"),
    Measure("robbery", "robbery", "offence_group", "Robbery", "Robbery"),
    Measure("possession_of_weapons", "possession of weapons offences", "offence_group",
            "Possession of weapons offences", "Possession of weapons offences"),
)

_SOURCE = ("Home Office, police recorded crime open data tables by police force area (financial years "
           "2017/18 and 2019/20, by quarter and offence code) and ONS/Home Office rolling 12-month totals by force "
           "and offence group (2003-2018); ONS mid-year population estimates. Open Government Licence v3.0.")


# =========================================================================== the numbers
def _funnels_cfg() -> dict:
    return config.settings().get("funnels", {})


def _gate(name: str, frame: pd.DataFrame, group_cols: list[str]) -> dict:
    """Put force counts through the gate as one family: a cube of force x ``group_cols`` with England and Wales
    (every force) as a node of the force dimension. Returns {(area_code, *group values): published count or
    None}, and under ``"__tables__"`` the gate's views (rows: areas; columns: the first group column; one view
    per value of the others)."""
    counts = frame["offences"].astype("int64")
    if (counts < 0).any():
        bad = frame.loc[counts < 0, ["pfa_code", *group_cols]].head().astype(str).agg(" / ".join, axis=1)
        raise disclosure.DisclosureError(f"{name}: negative totals cannot be published: {bad.tolist()}")
    codes = tuple(sorted(frame["pfa_code"].astype(str).unique()))
    levels = {c: tuple(sorted(frame[c].astype(str).unique())) for c in group_cols}
    dims = [disclosure.Dim("area_code", codes, {EW_CODE: codes})]
    dims += [disclosure.Dim(c, levels[c]) for c in group_cols]
    base = frame[["pfa_code", *group_cols]].astype(str).rename(columns={"pfa_code": "area_code"})
    cube = disclosure.Cube(name, dims, base.assign(count=counts.to_numpy()), source="police", unit="offences")
    cube.publish_grid(area_code=[*codes, EW_CODE], **{c: list(v) for c, v in levels.items()})
    protected = cube.protect()
    out: dict = {}
    import itertools

    for combo in itertools.product([*codes, EW_CODE], *levels.values()):
        out[combo] = protected.value(dict(zip(["area_code", *group_cols], combo)))
    first, rest = group_cols[0], group_cols[1:]
    tables = []
    for combo in itertools.product(*(levels[c] for c in rest)):
        tables.append(protected.table("area_code", first, fixed=dict(zip(rest, combo)),
                                      row_nodes=[*codes, EW_CODE], name=name))
    out["__tables__"] = tuple(tables)
    return out


def _rates(offences, residents):
    from svtools.analysis.stats import rate

    r = rate(np.asarray(offences, dtype=float), np.asarray(residents, dtype=float), multiplier=1000)
    return r["value"].to_numpy(), r["lower"].to_numpy(), r["upper"].to_numpy()


def _released_after(*readers):
    """Call what this returns once the tables of ``readers`` (cached readers of the shipped files) are no longer
    needed: it empties the caches of those that held nothing before, so a warm kernel does not keep the raw
    Home Office and ONS tables (~75 MB, read once for :func:`national_figures` and :func:`rolling_figures`,
    themselves cached) for every later page. A reader something else had already filled is left alone."""
    empty = [f for f in readers if f.cache_info().currsize == 0]

    def release() -> None:
        for f in empty:
            f.cache_clear()
    return release


@lru_cache(maxsize=1)
def _force_residents() -> pd.Series:
    """Residents of each force by ONS mid-year (``(pfa_code, mid_year) -> population``, from
    :func:`svtools.ingest.home_office_prc.pfa_population`, itself cached); the LAD estimates read for it (the
    MYE2 table alone is 612k rows) are not kept (:func:`_released_after`)."""
    from svtools.ingest import home_office_prc as ho
    from svtools.ingest import reference as ref

    filled = _released_after(ref.population_lad_2011, ref.population_lad_mye2, ref.population_lad_2024)
    pop = ho.pfa_population().set_index(["pfa_code", "mid_year"])["population"]
    filled()
    return pop


@lru_cache(maxsize=1)
def national_figures() -> tuple[pd.DataFrame, dict, tuple]:
    """Every force's and England and Wales's real rates per 1,000 residents, 2017/18 and 2019/20.

    Returns
    -------
    (DataFrame, dict, PublishedTable)
        One row per area (43 forces, then England and Wales), financial year and measure: ``area_code,
        area_name, financial_year, offence_group`` (the measure's words), ``offences`` (published: NA if the
        gate hid it), ``residents`` (ONS mid-year of the financial year, persons), ``rate_per_1000``,
        ``lower_95_ci``, ``upper_95_ci`` (Byar's, exact below 10), ``comparator`` ("England and Wales"),
        ``comparator_rate_per_1000``, ``funnel_lower_95``, ``funnel_upper_95`` (the 95% funnel limits at the
        force's residents, allowing for over-dispersion between forces as ``config/settings.yaml`` ``funnels``
        says), ``compared_with_comparator`` ("higher", "lower", "no clear difference"), ``rank_of_43`` (1 = the
        highest rate); the dict maps (measure key, financial year) to the :class:`Overdispersion` used; the
        tuple holds the gate's views of the counts (:class:`~svtools.publish.disclosure.PublishedTable`).

    Notes
    -----
    England and Wales is the sum of the 43 territorial forces (British Transport Police and the national fraud
    bodies have no residents and are excluded; :class:`~svtools.ingest.home_office_prc.HomeOfficeTable`).
    Financial year ``YYYY/YY`` uses the mid-``YYYY`` estimate (:mod:`svtools.analysis.population`'s rule).
    """
    from svtools.analysis.stats import adjusted_funnel_limits, adjusted_funnel_significance, overdispersion
    from svtools.ingest import home_office_prc as ho

    pop = _force_residents()
    rows = []
    filled = _released_after(ho.read_prc_quarterly)
    for fy in ho.PRC_FILES:
        t = ho.read_prc_quarterly(fy)
        for m in MEASURES:
            tot = ho.annual_force_totals(t, m.level)
            tot = tot[tot[m.level] == m.label]
            if tot["pfa_code"].nunique() != 43:
                raise disclosure.DisclosureError(f"{fy} {m.label}: not every force has rows")
            rows.append(tot.assign(measure=m.key)[["pfa_code", "pfa_name", "financial_year", "measure",
                                                   "offences"]])
    counts = pd.concat(rows, ignore_index=True)
    del t
    filled()
    gated = _gate("home_office_force_years", counts, ["financial_year", "measure"])
    table = gated.pop("__tables__")
    words = {m.key: m.words for m in MEASURES}
    out, ods = [], {}
    for (fy, key), g in counts.groupby(["financial_year", "measure"], sort=True):
        mid = int(fy[:4])
        g = g.sort_values("pfa_code")
        pub = np.array([gated[(c, fy, key)] for c in g["pfa_code"]], dtype=object)
        res = np.array([pop.get((c, mid), np.nan) for c in g["pfa_code"]], dtype=float)
        ew_n = gated[(EW_CODE, fy, key)]
        ew_pop = float(np.nansum(res))
        events = np.array([np.nan if v is None else float(v) for v in pub])
        value, lo, hi = _rates(np.nan_to_num(events), res)
        value, lo, hi = (np.where(np.isnan(events), np.nan, a) for a in (value, lo, hi))
        base = np.nan if ew_n is None else 1000.0 * ew_n / ew_pop
        cfg = _funnels_cfg()
        known = ~np.isnan(events)
        od = overdispersion(events[known], res[known], base, method=cfg.get("method", "auto"),
                            winsorise=float(cfg.get("winsorise", 0.1)), multiplier=1000)
        ods[(key, fy)] = od
        sig = adjusted_funnel_significance(events[known], res[known], base, od, multiplier=1000)
        lim = adjusted_funnel_limits(base, res[known], od, multiplier=1000)
        verdict = np.full(len(g), None, dtype=object)
        verdict[known] = sig["significance_95"].map(
            {"high": "higher", "low": "lower", "not significant": "no clear difference"}).to_numpy()
        flo = np.full(len(g), np.nan)
        fhi = np.full(len(g), np.nan)
        flo[known], fhi[known] = lim["lower_95"].to_numpy(), lim["upper_95"].to_numpy()
        rank = pd.Series(value).rank(ascending=False, method="min").to_numpy()
        frame = pd.DataFrame({
            "area_code": g["pfa_code"].to_numpy(), "area_name": g["pfa_name"].to_numpy(), "financial_year": fy,
            "offence_group": words[key], "offences": pd.array([v for v in pub], dtype="Int64"),
            "residents": res.astype("int64"), "rate_per_1000": value, "lower_95_ci": lo, "upper_95_ci": hi,
            "comparator": EW_NAME, "comparator_rate_per_1000": base, "funnel_lower_95": flo,
            "funnel_upper_95": fhi, "compared_with_comparator": verdict,
            "rank_of_43": pd.array([None if np.isnan(r) else int(r) for r in rank], dtype="Int64"),
        })
        ev, elo, ehi = _rates([0 if ew_n is None else ew_n], [ew_pop])
        ew = pd.DataFrame({
            "area_code": [EW_CODE], "area_name": [EW_NAME], "financial_year": [fy], "offence_group": [words[key]],
            "offences": pd.array([ew_n], dtype="Int64"), "residents": [int(ew_pop)],
            "rate_per_1000": [base], "lower_95_ci": elo if ew_n is not None else [np.nan],
            "upper_95_ci": ehi if ew_n is not None else [np.nan], "comparator": [""],
            "comparator_rate_per_1000": [np.nan], "funnel_lower_95": [np.nan], "funnel_upper_95": [np.nan],
            "compared_with_comparator": [None], "rank_of_43": pd.array([None], dtype="Int64"),
        })
        out += [frame, ew]
    return pd.concat(out, ignore_index=True), ods, table


@lru_cache(maxsize=1)
def rolling_figures() -> tuple[pd.DataFrame, tuple]:
    """Rolling 12-month totals 2003-2018 of every force and England and Wales for the measures the file has.

    Returns
    -------
    (DataFrame, tuple of PublishedTable)
        ``area_code, area_name, period_start, period_end`` (``YYYY-MM``: the first and last month of the 12),
        ``offence_group``, ``offences`` (published), ``residents`` (the ONS mid-year whose 30 June falls in the
        12 months; NA where none is shipped: before mid-2011, and mid-2012 and mid-2013), ``rate_per_1000``,
        ``lower_95_ci``, ``upper_95_ci`` (NA without residents). Successive rows overlap by 9 months or more.
    """
    from svtools.ingest import home_office_prc as ho

    filled = _released_after(ho.read_rolling_year)
    r = ho.read_rolling_year().data
    by_group = {m.rolling: m for m in MEASURES if m.rolling}
    r = r[r["offence_group"].isin(list(by_group))].copy()
    filled()
    r["measure"] = r["offence_group"].map({g: m.key for g, m in by_group.items()})
    r["end"] = r["period_end"].dt.strftime("%Y-%m")
    gated = _gate("home_office_force_rolling", r[["pfa_code", "end", "measure", "offences"]], ["end", "measure"])
    table = gated.pop("__tables__")
    pop = _force_residents()
    words = {m.key: m.words for m in MEASURES}
    rows = []
    for (end, key), g in r.groupby(["end", "measure"], sort=True):
        end_ts = g["period_end"].iloc[0]
        mid = ho.window_mid_year(end_ts)
        start = (end_ts.to_period("M") - 11).strftime("%Y-%m")
        codes = list(g["pfa_code"])
        res = [pop.get((c, mid), np.nan) for c in codes]
        pub = [gated[(c, end, key)] for c in codes]
        area = list(zip(codes, g["pfa_name"], pub, res))
        area.append((EW_CODE, EW_NAME, gated[(EW_CODE, end, key)],
                     np.nan if np.isnan(res).any() else float(np.sum(res))))
        for code, name, n, p in area:
            rows.append((code, name, start, end, words[key], n, p))
    d = pd.DataFrame(rows, columns=["area_code", "area_name", "period_start", "period_end", "offence_group",
                                    "offences", "residents"])
    d["offences"] = pd.array(d["offences"], dtype="Int64")
    ok = d["residents"].notna() & d["offences"].notna()
    d["rate_per_1000"] = np.nan
    d["lower_95_ci"] = np.nan
    d["upper_95_ci"] = np.nan
    if ok.any():
        v, lo, hi = _rates(d.loc[ok, "offences"].astype(float), d.loc[ok, "residents"])
        d.loc[ok, "rate_per_1000"], d.loc[ok, "lower_95_ci"], d.loc[ok, "upper_95_ci"] = v, lo, hi
    d["residents"] = pd.array([None if np.isnan(p) else int(p) for p in d["residents"]], dtype="Int64")
    return d, table


# =========================================================================== national context
def _real_vs_page(ctx) -> str:
    if getattr(ctx, "synthetic", False):
        return ("**These are real figures**, published by the Home Office, unlike the rest of this page, which is "
                "built from the demo's **synthetic** records. They count every offence of each group the force "
                "recorded, not the page's local definition.")
    return ("**These are real figures** published by the Home Office for the whole force. They count every offence "
            "of each group, grouped as the Home Office groups them, so they differ from this page's own series "
            "and its definition.")


def national_context(ctx) -> SectionResult:
    """The force's real rates per 1,000 residents against England and Wales, its position among the 43 forces,
    and its rolling-year trend 2003-2018, from the Home Office tables.

    For each measure of :data:`MEASURES` and each financial year shipped (2017/18, 2019/20): offences, rate per
    1,000 residents with 95% CI (Byar's), England and Wales's rate (the 43 forces together), the rank among the
    43 forces (1 = highest rate) and the comparison: "higher" or "lower" only outside the 95% funnel limits
    around England and Wales's rate at the force's residents, allowing for over-dispersion between forces
    (``config/settings.yaml`` ``funnels``; Spiegelhalter 2005), else "no clear difference". Works on any context
    with ``force_code``, ``force_name``, ``code``, ``level`` and ``prefix`` (:class:`ProfileContext`,
    :class:`CountsContext`).
    """
    title = "The force area in the national picture"
    res = SectionResult(name="national_context")
    figures, ods, table = national_figures()
    force = ctx.force_code
    mine = figures[figures["area_code"] == force]
    if mine.empty:
        return _skip(ctx, "national_context", title,
                     f"the Home Office tables have no territorial force with the code {force}")
    fname = mine["area_name"].iloc[0]
    latest = max(figures["financial_year"])
    _say(_real_vs_page(ctx) + f" Figures are for the {fname} force area, by financial year (April to March).")
    lines = []
    for m in MEASURES:
        row = mine[(mine["financial_year"] == latest) & (mine["offence_group"] == m.words)].iloc[0]
        od = ods[(m.key, latest)]
        if pd.isna(row["offences"]):
            lines.append(f"- **{m.words.capitalize()}**: too few offences to show.")
            continue
        verdict = row["compared_with_comparator"]
        words = {"higher": "higher than England and Wales", "lower": "lower than England and Wales",
                 "no clear difference": "no clear difference from England and Wales"}[verdict]
        lines.append(
            f"- **{m.words.capitalize()}**, {latest}: {_fmt(row['rate_per_1000'])} per 1,000 residents "
            f"(95% CI {_fmt(row['lower_95_ci'])} to {_fmt(row['upper_95_ci'])}; {int(row['offences']):,} offences) "
            f"against {_fmt(row['comparator_rate_per_1000'])} for England and Wales: **{words}**, judged against "
            f"the {od.limits_phrase('95%', 'forces')}. Rank {int(row['rank_of_43'])} of 43 forces (1 = highest "
            "rate).")
    _say("\n".join(lines))
    od_any = ods[(MEASURES[1].key, latest)]
    _say("Ranks carry no uncertainty of their own; the comparison uses funnel limits. For violence with injury in "
         f"{latest}: " + od_any.explanation(areas="forces")
         + " Violence with injury is part of violence against the person.")
    # the table and its CSV: the force and England and Wales, every year and measure
    order = {m.words: i for i, m in enumerate(MEASURES)}
    shown = figures[figures["area_code"].isin([force, EW_CODE])].copy()
    shown = shown.assign(_o=shown["offence_group"].map(order), _e=shown["area_code"] == EW_CODE).sort_values(
        ["_o", "financial_year", "_e"], kind="mergesort").drop(columns=["_o", "_e"])
    shown["compared_with_comparator"] = shown["compared_with_comparator"].fillna("")
    friendly = pd.DataFrame({
        "Area": shown["area_name"].to_numpy(), "Year": shown["financial_year"].to_numpy(),
        "Offence group": shown["offence_group"].str.capitalize().to_numpy(),
        "Offences": [f"{int(v):,}" if pd.notna(v) else "*" for v in shown["offences"]],
        "Rate per 1,000": [_fmt(v) for v in shown["rate_per_1000"]],
        "95% CI": [f"{_fmt(a)} to {_fmt(b)}" for a, b in zip(shown["lower_95_ci"], shown["upper_95_ci"])],
        "Rank of 43": [str(int(v)) if pd.notna(v) else "" for v in shown["rank_of_43"]],
        "Compared with England and Wales": shown["compared_with_comparator"].to_numpy(),
    })
    caption = f"Real Home Office recorded crime, {fname} and England and Wales: rates per 1,000 residents"
    note = ("Source: " + _SOURCE + " England and Wales is the 43 territorial forces together; excluded: British "
            "Transport Police and the national fraud bodies (Action Fraud, CIFAS, UK Finance), which have no "
            "residents. Residents: ONS mid-year estimate of the financial year's first calendar year. 95% CI: "
            "Byar's method. Rank 1 = the highest rate of the 43 forces.")
    stem = ctx.prefix + "national_context"
    csv = disclosure.derived(shown.reset_index(drop=True), *table)
    res.csv = output.publish_table(csv, stem, caption, count_columns=["offences"], display_table=False,
                                   gate={**table[0].meta, "fixed": {}, "area_code": ctx.code,
                                         "area_level": ctx.level})
    output.show_table(friendly, caption, note=note, count_columns=["Offences"], row_header="Area")
    if res.csv is not None:
        from IPython.display import HTML, display

        display(HTML(f'<p><a href="{res.csv.name}" download>Download this table (CSV)</a></p>'))
    friendly.attrs["count_columns"] = ["Offences"]
    res.table, res.data = friendly, shown
    # the long-run trend
    roll, rtable = rolling_figures()
    rmine = roll[roll["area_code"] == force]
    rew = roll[roll["area_code"] == EW_CODE]
    trend = {}
    for m in MEASURES:
        if m.rolling is None:
            continue
        d = rmine[rmine["offence_group"] == m.words].sort_values("period_end")
        e = rew[rew["offence_group"] == m.words].set_index("period_end")
        vis = d.dropna(subset=["offences"])
        if len(vis) < 2:
            continue
        first, last = vis.iloc[0], vis.iloc[-1]
        peak = vis.loc[vis["offences"].astype(float).idxmax()]
        change = 100.0 * (float(last["offences"]) / float(first["offences"]) - 1) if first["offences"] else np.nan
        ew_change = 100.0 * (float(e.loc[last["period_end"], "offences"]) /
                             float(e.loc[first["period_end"], "offences"]) - 1)
        def month(p):
            return pd.Timestamp(p + "-01").strftime("%B %Y")

        alt = (f"Line chart of {m.words} recorded by {fname} police in each 12 months ending {month(first['period_end'])} "
               f"to {month(last['period_end'])} (real Home Office figures): {int(first['offences']):,} in the 12 "
               f"months ending {month(first['period_end'])}, {int(last['offences']):,} in the 12 months ending "
               f"{month(last['period_end'])} ({change:+.0f}%; England and Wales {ew_change:+.0f}%); highest "
               f"{int(peak['offences']):,} (12 months ending {month(peak['period_end'])}). One point a year to "
               "March 2007, one a quarter after.")
        chart = pd.DataFrame({"month": pd.to_datetime(d["period_end"]).to_numpy(),
                              "value": d["offences"].astype("float64").to_numpy()})
        fig = charts_ts.rolling_chart(disclosure.derived(chart, *rtable),
                                   title=f"{m.words.capitalize()}, {fname}: 12-month totals, 2003-2018",
                                   ylabel="Offences in the 12 months", xlabel="End of the 12 months")
        data = pd.concat([d, e.reset_index().loc[lambda x: x["period_end"].isin(d["period_end"])]])
        data = data.assign(comparator=np.where(data["area_code"] == force, EW_NAME, ""))
        data = disclosure.derived(data[["area_code", "area_name", "period_start", "period_end", "offence_group",
                                        "offences", "residents", "rate_per_1000", "lower_95_ci",
                                        "upper_95_ci", "comparator"]].reset_index(drop=True), *rtable)
        _show(fig, alt, res, data=data, ctx=ctx, counts=["offences"])
        trend[m.key] = {"first": int(first["offences"]), "last": int(last["offences"]),
                        "change_pct": change, "ew_change_pct": ew_change}
    _say("Rolling totals overlap (each shares nine months or more with the next), so they are not independent "
         "points and no SPC limits are drawn. Police recorded violence depends on recording practice as well as "
         "on violence: the ONS warns that much of the rise from 2014 reflects improved recording after the 2014 "
         "HMIC inspection of crime data integrity, and the first years follow the National Crime Recording "
         "Standard of April 2002. The file gives one 12-month total a year to March 2007, then one a quarter. Rates per 1,000 are in the CSV only for the 12-month periods "
         "holding the 30 June of a shipped ONS estimate (mid-2011 and mid-2014 to mid-2018); none is shipped "
         "for 2003 to 2010, 2012 or 2013, so those periods have no rate (not zero).")
    res.values = {"force": fname, "latest": latest, "trend": trend,
                  "compared": {m.words: mine[(mine["financial_year"] == latest) & (mine["offence_group"] == m.words)]
                               ["compared_with_comparator"].iloc[0] for m in MEASURES}}
    res.message = title
    return res


# =========================================================================== most similar CSPs
def most_similar_csps(ctx) -> SectionResult:
    """The CSPs of England and Wales most like this one on deprivation, age structure and size, with the
    features behind the list (:mod:`svtools.analysis.similar`: nearest neighbours on z-scores; ``most_similar``
    in ``config/settings.yaml``). Works on a CSP :class:`ProfileContext` or :class:`CountsContext`."""
    from svtools.analysis import similar

    title = "Most similar CSPs"
    if ctx.level != "csp":
        return _skip(ctx, "most_similar_csps", title, "the list is made for one CSP at a time")
    try:
        near = similar.most_similar(ctx.code, dataset=ctx.dataset)
    except Exception as exc:  # a CSP the reference data lack
        from svtools.errors import MissingAreaError

        if isinstance(exc, MissingAreaError):
            return _skip(ctx, "most_similar_csps", title, f"{ctx.name} is not in the ONS reference lookups")
        raise
    feats = near.attrs["features"]
    table = similar.csp_features(ctx.dataset)
    me = table.loc[ctx.code]
    res = SectionResult(name="most_similar_csps", data=near)
    labels = {f: similar.FEATURES[f][0] for f in similar.FEATURES}
    heads = {"deprivation_percentile": "Deprivation percentile", "share_aged_10_24": "% aged 10-24",
             "share_aged_65_plus": "% aged 65+", "log10_residents": "Size (log10 residents)",
             "metropolitan_share": "% in a metropolitan district"}
    _say("The Home Office \"most similar groups\" (iQuanta) are not available here, so this list is the project's "
         f"own: the {len(near)} CSPs of England and Wales nearest to {ctx.name} on "
         + "; ".join(labels[f].split(":")[0].lower() for f in feats)
         + " (each as a z-score over all CSPs, Euclidean distance; population density is not used because no land "
         "area is shipped). It uses only ONS and IMD reference data, never crime figures, so it is a list of "
         "places to compare with, not a finding about them.")

    def fmt(f, v):
        return f"{v:.2f}" if f == "log10_residents" else f"{v:.1f}"

    rows = [{"Rank": "This CSP", "CSP": ctx.name, "Force": me["pfa_name"], "Distance": "",
             **{heads[f]: fmt(f, me[f]) for f in feats}, "In this dataset": "yes"}]
    for r in near.itertuples():
        rows.append({"Rank": str(r.rank), "CSP": r.csp_name, "Force": r.pfa_name, "Distance": f"{r.distance:.2f}",
                     **{heads[f]: fmt(f, getattr(r, f)) for f in feats},
                     "In this dataset": "yes" if r.in_dataset else "no"})
    friendly = pd.DataFrame(rows)
    # every neighbour's real 2024 CSP code: the run's pre-publish check (svtools.publish.validate, area_codes)
    # accepts codes of the reference lookup, so a neighbour outside the data keeps its code (in_dataset says which)
    csv = pd.DataFrame({
        "area_code": [ctx.code] + near["csp_code"].tolist(),
        "area_name": [ctx.name] + near["csp_name"].tolist(),
        "force_name": [me["pfa_name"]] + near["pfa_name"].tolist(),
        "similarity_rank": [0] + near["rank"].tolist(),
        "distance_sd": [0.0] + near["distance"].round(6).tolist(),
        **{f: [round(float(me[f]), 6)] + near[f].round(6).tolist() for f in feats},
        "in_dataset": [True] + near["in_dataset"].tolist(),
        "population_year": near.attrs["population_year"],
    })
    caption = f"The {len(near)} CSPs most similar to {ctx.name} (the project's own method)"
    note = ("Distance: Euclidean, in standard deviations of the features over every CSP of England and Wales. "
            "The download gives the ONS code of the CSPs in this dataset only. "
            "Deprivation: English IMD 2019 / Welsh WIMD 2019 ranks, each as a percentile of its own country "
            "(0 = most deprived), weighted by residents. Residents: ONS mid-"
            f"{near.attrs['population_year']} LSOA estimates. Method: docs/benchmarks.md.")
    res.csv = output.publish_table(csv, ctx.prefix + "most_similar_csps", caption, count_columns=[],
                                   display_table=False)
    output.show_table(friendly, caption, note=note, count_columns=[], row_header="CSP")
    if res.csv is not None:
        from IPython.display import HTML, display

        display(HTML(f'<p><a href="{res.csv.name}" download>Download this table (CSV)</a></p>'))
    friendly.attrs["count_columns"] = []
    res.table = friendly
    res.values = {"neighbours": near["csp_code"].tolist(), "features": feats}
    res.message = title
    return res
