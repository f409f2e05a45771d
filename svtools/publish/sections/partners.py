"""``partner_view.ipynb``: what other services see, beside the police records of the same CSP and period.

The partner tables come from :func:`svtools.ingest.demo_partners.ingest_partners` (``partner_*.parquet`` of the
dataset; SYNTHETIC in the demo, ``docs/partner_data.md``): A&E assault attendances (ISTV / Cardiff Model),
ambulance call-outs for assault, youth-justice first-time entrants and school exclusions for physical assault.

Sections (each a notebook cell): ``partners_about``, ``partner_ae_police``, ``partner_unreported``,
``partner_night``, ``partner_ae_who``, ``partner_youth``.

Disclosure (``docs/disclosure.md``): every count goes through the gate, A&E and ambulance with the NHS rule
(1-7 hidden), police, youth-justice and school counts with the police rule (1-4). A CSP's series (A&E,
police violence with injury) is a family of its own, published at the finest resolution (month, quarter,
financial year) at which none of its points is hidden, so nothing can be recovered by summing; a one-way
breakdown (time block, weapon, age band, sex) is a family whose total is that series' total, kept visible.
Derived numbers ("A&E minus police", shares, rates) are computed from visible published counts only: a hidden
input gives a hidden output. Unknown is never zero: "Not recorded" is a row of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.config import read_yaml
from svtools.paths import CONFIG
from svtools.publish import charts, disclosure
from svtools.publish.disclosure import Cube, Dim
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _need_records,
    _say,
    _show,
    _skip,
    publish_gated,
)
from svtools.publish.tables import month_label, quarter_label

__all__ = [
    "partners_about",
    "partner_ae_police",
    "partner_unreported",
    "partner_night",
    "partner_ae_who",
    "partner_youth",
    "series_plan",
    "estimate_unreported",
]

TOTAL = "Total"
NOT_RECORDED = "Not recorded"
TIME_NOT_RECORDED = "Time not recorded"
RESOLUTIONS = ("month", "quarter", "financial_year")
_WORDS = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}
AE_COL = "A&E assault attendances"
POLICE_COL = "Police-recorded violence with injury (victims)"
DIFF_COL = "A&E minus police"


def _cfg() -> dict:
    return read_yaml(CONFIG / "partners.yaml")


def _threshold(source: str) -> int:
    return disclosure.threshold(source)


def _min_total() -> int:
    return int(disclosure.rules()["breakdown"]["min_total"])


def _pct(x: float) -> str:
    return f"{100 * x:.{int(_cfg()['page'].get('share_decimals', 0))}f}%"


# =========================================================================== data
def _table(ctx: ProfileContext, source: str) -> pd.DataFrame | None:
    from svtools.ingest.demo_partners import load_partner_table

    return load_partner_table(source, ctx.dataset)


def _months(ctx: ProfileContext) -> list[pd.Timestamp]:
    return list(pd.date_range(ctx.period_start, ctx.period_end, freq="MS"))


def _csp_rows(ctx: ProfileContext, source: str) -> pd.DataFrame | None:
    t = _table(ctx, source)
    if t is None:
        return None
    t = t[(t["csp_code"] == ctx.code) & t["period_start"].between(ctx.period_start, ctx.period_end)]
    return t


def police_vwi(ctx: ProfileContext) -> pd.DataFrame:
    """The CSP's police records of violence with injury in the period (one row per victim), config codes."""
    codes = [str(c) for c in _cfg()["police_violence_with_injury"]]
    r = ctx.records
    return r[r["ho_offence_code"].astype(str).isin(codes)]


def _source_suppressed(t: pd.DataFrame | None) -> bool:
    return t is not None and bool(t["suppressed"].any())


# =========================================================================== the gate for a CSP's series
def _period_labels(months: list[pd.Timestamp], resolution: str) -> list[str]:
    f = {"month": month_label, "quarter": quarter_label,
         "financial_year": lambda m: quarter_label(m).split(" ")[0]}[resolution]
    return [f(m) for m in months]


def series_plan(counts: pd.Series, months: list[pd.Timestamp], t: int) -> str | None:
    """The finest resolution (month, quarter, financial year) at which no point of ``counts`` is 1 to ``t``.

    Parameters
    ----------
    counts : Series
        Counts indexed by month start (missing months are 0).
    t : int
        The suppression threshold.

    Returns
    -------
    str or None
        ``month``, ``quarter`` or ``financial_year``; None when even financial years hold a count of 1 to t.
    """
    c = counts.reindex(months, fill_value=0)
    for r in RESOLUTIONS:
        sums = c.groupby(_period_labels(months, r), sort=False).sum()
        if not ((sums >= 1) & (sums <= t)).any():
            return r
    return None


def _series_cube(name: str, counts: pd.Series, months: list[pd.Timestamp], resolution: str, source: str,
                 unit: str):
    """A CSP's series as one family: base = months, nodes = the resolution's periods and Total."""
    base = [month_label(m) for m in months]
    labels = _period_labels(months, resolution)
    nodes = {}
    for lab, b in zip(labels, base):
        nodes.setdefault(lab, []).append(b)
    nodes = {k: v for k, v in nodes.items() if not (len(v) == 1 and v[0] == k)}
    nodes[TOTAL] = base
    frame = pd.DataFrame({"period": base, "count": counts.reindex(months, fill_value=0).to_numpy(np.int64)})
    cube = Cube(name, [Dim("period", base, nodes)], frame[frame["count"] > 0], source=source, unit=unit)
    periods = list(dict.fromkeys(labels))
    cube.publish([(p,) for p in periods + [TOTAL]])
    return cube.protect(), periods


def _one_way(name: str, labels: pd.Series, categories: list[str], source: str, unit: str):
    """A one-way breakdown (categories + Total) as a family; the Total is kept visible when it can be."""
    counts = labels.value_counts()
    frame = pd.DataFrame({"category": counts.index.astype(str), "count": counts.to_numpy(np.int64)})
    frame = frame[frame["category"].isin(categories)]
    cube = Cube(name, [Dim("category", categories, {TOTAL: categories})], frame, source=source, unit=unit)
    cube.publish([(c,) for c in categories + [TOTAL]])
    return cube.protect(keep_visible=[(TOTAL,)])


def _weighted_one_way(name: str, frame: pd.DataFrame, col: str, categories: list[str], source: str, unit: str):
    counts = frame.groupby(col)["count"].sum()
    labels = pd.Series(np.repeat(counts.index.astype(str), counts.to_numpy(np.int64)))
    return _one_way(name, labels, categories, source, unit)


# =========================================================================== sections
def _need_partner(ctx: ProfileContext, name: str, title: str, source: str, what: str) -> SectionResult | None:
    skip = _need_records(ctx, name, title, "no partner data")
    if skip is not None:
        return skip
    t = _table(ctx, source)
    if t is None:
        return _skip(ctx, name, title, f"no {what} were shared for the '{ctx.dataset}' data")
    if _source_suppressed(t):
        return _skip(ctx, name, title, f"the {what} arrived with cells suppressed at source, and this page needs "
                     "unsuppressed aggregates to protect them together (docs/partner_data.md)")
    return None


def partners_about(ctx: ProfileContext) -> SectionResult:
    """One paragraph: which partner sources this dataset holds, for which period, and that the demo's are
    SYNTHETIC."""
    res = SectionResult(name="partners_about")
    have = {s: _table(ctx, s) is not None for s in ("ae", "ambulance", "fte", "exclusions")}
    words = {"ae": "A&E assault attendances", "ambulance": "ambulance call-outs for assault",
             "fte": "youth-justice first-time entrants", "exclusions": "school exclusions for physical assault"}
    got = [words[s] for s, h in have.items() if h]
    if not got:
        return _skip(ctx, "partners_about", "Partner data", f"no partner data were shared for the "
                     f"'{ctx.dataset}' data")
    synthetic = bool(ctx.info.get("synthetic")) or ctx.dataset == "demo"
    text = (f"This page sets {', '.join(got)} beside police records for {ctx.name}, {ctx.period}. "
            + ("**Every partner number here is SYNTHETIC** (made by the demo generator to be consistent with the "
               "synthetic police records); none is real health, youth-justice or school data. " if synthetic
               else "")
            + "Partner data are shared as counts (area by month or year), never as records, so they can be "
            "compared with police records only in total, not matched person by person.")
    _say(text)
    res.message, res.values = text, have
    return res


def _series(ctx: ProfileContext):
    """Both series, their plans and their published tables at the common resolution (or None, reason)."""
    months = _months(ctx)
    ae = _csp_rows(ctx, "ae")
    ae_m = ae.groupby("period_start")["count"].sum().astype("int64")
    pol = police_vwi(ctx)
    pol_m = pol.groupby("month").size().astype("int64")
    t_ae, t_pol = _threshold(_cfg()["ae"].get("disclosure", "hospital")), _threshold("police")
    r_ae, r_pol = series_plan(ae_m, months, t_ae), series_plan(pol_m, months, t_pol)
    if r_pol is None:
        return None, (f"police-recorded violence with injury in {ctx.name} is too small in some financial year "
                      "to publish as a series")
    order = {r: i for i, r in enumerate(RESOLUTIONS)}
    r = max([x for x in (r_ae, r_pol) if x is not None] + ["financial_year" if r_ae is None else "month"],
            key=order.get)
    pc_ae, periods = _series_cube(f"partner_ae_{ctx.code}", ae_m, months, r, "hospital", "attendances")
    pc_pol, _ = _series_cube(f"partner_police_vwi_{ctx.code}", pol_m, months, r, "police", "victims")
    tab_ae = pc_ae.table("period", row_nodes=periods + [TOTAL], name="partner_ae_police", row_title="Period")
    tab_pol = pc_pol.table("period", row_nodes=periods + [TOTAL], name="partner_police_vwi", row_title="Period")
    return {"months": months, "resolution": r, "periods": periods, "ae": tab_ae, "police": tab_pol,
            "ae_monthly": ae_m, "police_monthly": pol_m, "plans": {"ae": r_ae, "police": r_pol}}, None


def _ae_series(ctx: ProfileContext, name: str, title: str):
    """``(series, None)`` for a section that needs the A&E and police series (:func:`_series`), or ``(None,
    result)``: the one line that replaces the section when the data have no A&E file or no series can be
    published."""
    skip = _need_partner(ctx, name, title, "ae", "A&E attendances")
    if skip is not None:
        return None, skip
    s, why = _series(ctx)
    if s is None:
        return None, _skip(ctx, name, title, why)
    return s, None


def partner_ae_police(ctx: ProfileContext) -> SectionResult:
    """A&E assault attendances against police-recorded violence with injury (victims), by period.

    Both series are published at the coarser of their own resolutions (the finest at which neither has a point
    of 1 to its threshold: A&E 1-7, police 1-4); "A&E minus police" only where both are visible. The chart
    shows financial-year totals (sums of published points).
    """
    title = "A&E attendances and police records"
    s, skip = _ae_series(ctx, "partner_ae_police", title)
    if skip is not None:
        return skip
    res = SectionResult(name="partner_ae_police")
    a, p = s["ae"].counts.iloc[:, 0], s["police"].counts.iloc[:, 0]
    a.name, p.name = AE_COL, POLICE_COL
    diff = (a - p).where(a.notna() & p.notna())
    t = s["ae"]
    t.counts.columns = [AE_COL]
    extra = pd.DataFrame({POLICE_COL: p.map(lambda v: "*" if pd.isna(v) else f"{int(v):,}").to_numpy(),
                          DIFF_COL: diff.map(lambda v: "*" if pd.isna(v) else f"{int(v):+,}" if v else "0")
                          .to_numpy()},
                         index=t.counts.index)
    word = _WORDS[s["resolution"]]
    note = ("A&E counts from 1 to 7 and police counts from 1 to 4 are shown as *; a difference is shown only "
            "where both counts are. Police: victims of violence with injury (Home Office codes "
            f"{', '.join(map(str, _cfg()['police_violence_with_injury']))}) by month recorded; A&E: attendances "
            "by month of arrival.")
    res.csv = publish_gated(ctx, t, f"A&E assault attendances and police-recorded violence with injury by {word}, "
                            f"{ctx.name}, {ctx.period}", extra=extra, note=note, show_last=12)
    res.table = t.text()
    res.data = pd.DataFrame({"ae": a, "police": p, "difference": diff})
    res.values = {"resolution": s["resolution"], "ae_total": a.get(TOTAL), "police_total": p.get(TOTAL)}
    # chart: financial-year totals, only from published points (all visible at this resolution, or FY itself)
    to_fy = dict(zip(_period_labels(s["months"], s["resolution"]), _period_labels(s["months"], "financial_year")))
    fy = [to_fy[x] for x in s["periods"]]
    frame = pd.DataFrame({"financial_year": fy, "ae": a.drop(TOTAL).to_numpy(float),
                          "police": p.drop(TOTAL).to_numpy(float)})
    yearly = frame.groupby("financial_year", sort=False).sum(min_count=1)
    hidden = frame.groupby("financial_year", sort=False)[["ae", "police"]].apply(lambda g: g.isna().any())
    yearly = yearly.mask(hidden)
    data = disclosure.derived(pd.DataFrame({"financial_year": yearly.index,
                                            "ae_assault_attendances": yearly["ae"].round().astype("Int64").to_numpy(),
                                            "police_violence_with_injury_victims":
                                                yearly["police"].round().astype("Int64").to_numpy()}),
                              s["ae"], s["police"])
    fig = charts.yearly_chart(data.rename(columns={"ae_assault_attendances": "A&E assault attendances",
                                                   "police_violence_with_injury_victims":
                                                       "Police violence with injury (victims)"}),
                              title=f"A&E assault attendances and police records, {ctx.name}", ylabel="Count")
    shown = yearly.dropna()
    if len(shown):
        last = shown.index[-1]
        alt = (f"Grouped bar chart by financial year of A&E assault attendances and police-recorded victims of "
               f"violence with injury in {ctx.name}. In {last}: {int(shown.loc[last, 'ae']):,} A&E attendances "
               f"and {int(shown.loc[last, 'police']):,} police-recorded victims.")
    else:
        alt = f"Grouped bar chart of A&E assault attendances and police records in {ctx.name}: every year hidden."
    _show(fig, alt, res, data, ctx=ctx, counts=["ae_assault_attendances"], threshold=_threshold("hospital"))
    res.values["yearly"] = yearly
    return res


def estimate_unreported(ae_total: int, police_total: int, q: float, confidence: float = 0.95) -> dict:
    """Share of A&E assault attendances with no police record, from totals only.

    With A attendances and P police-recorded victims of violence with injury (same CSP and period), and q the
    share of police-recorded victims who attend an ED, the attendances with a police record are about q P, so
    the number without is x = max(0, A - q P) (rounded to a whole number) and the share x / A, with a Wilson
    score interval (:func:`svtools.analysis.stats.proportion`; PHEindicatormethods ``phe_proportion``). The
    interval reflects binomial sampling given q only; q itself is an assumption (recompute at other values).
    At q = 1 the share is a lower bound (each police record matches at most one attendance).

    Returns
    -------
    dict
        ``x``, ``n``, ``share``, ``lower``, ``upper`` (proportions, 0-1); ``share`` None when A is 0.
    """
    from svtools.analysis.stats import proportion

    n = int(ae_total)
    x = int(round(max(0.0, n - float(q) * float(police_total))))
    x = min(x, n)
    if n <= 0:
        return {"x": x, "n": n, "share": None, "lower": None, "upper": None}
    p = proportion(x, n, confidence=confidence).iloc[0]
    return {"x": x, "n": n, "share": float(p["value"]), "lower": float(p["lower"]), "upper": float(p["upper"])}


def partner_unreported(ctx: ProfileContext) -> SectionResult:
    """The share of A&E assault attendances with no matching police record, estimated from the period's
    published totals (:func:`estimate_unreported`), with its Wilson interval and its sensitivity to q."""
    title = "Assaults treated in A&E that police did not record"
    s, skip = _ae_series(ctx, "partner_unreported", title)
    if skip is not None:
        return skip
    a, p = s["ae"].counts.iloc[:, 0].get(TOTAL), s["police"].counts.iloc[:, 0].get(TOTAL)
    if a is None or p is None or pd.isna(a) or pd.isna(p) or int(a) < _min_total():
        return _skip(ctx, "partner_unreported", title, f"too few A&E assault attendances were published for "
                     f"{ctx.name} in {ctx.period}")
    page = _cfg()["page"]
    q = float(page["assumed_police_victims_attending"])
    q_lo, q_hi = (float(v) for v in page["q_range"])
    central, at_lo, at_hi = (estimate_unreported(int(a), int(p), v) for v in (q, q_lo, q_hi))
    bound = estimate_unreported(int(a), int(p), 1.0)
    res = SectionResult(name="partner_unreported")
    ci = f"95% CI {_pct(central['lower'])} to {_pct(central['upper'])}"
    text = (f"In {ctx.name}, {ctx.period}, there were {int(a):,} A&E assault attendances and {int(p):,} "
            f"police-recorded victims of violence with injury. If {_pct(q)} of police-recorded victims attend A&E "
            f"(an assumption), about {_pct(central['share'])} of the attendances ({ci}) had no police record; with "
            f"{_pct(q_lo)} attending it would be {_pct(at_lo['share'])}, and with {_pct(q_hi)} attending "
            f"{_pct(at_hi['share'])}. ")
    if bound["x"] > 0:
        text += (f"Whatever that share, at least {_pct(bound['share'])} (95% CI {_pct(bound['lower'])} to "
                 f"{_pct(bound['upper'])}) had none: there were {bound['x']:,} more attendances than police "
                 "records. ")
    else:
        text += "Police records outnumber A&E attendances, so no lower bound can be given without an assumption. "
    text += ("These are comparisons of totals (A&E and police data are not linked record by record); the "
             "interval covers chance variation only, not the uncertainty in the share attending.")
    _say(text)
    res.message = text
    table = pd.DataFrame({"assumed_share_attending": [q_lo, q, q_hi, 1.0],
                          **{k: [e[k] for e in (at_lo, central, at_hi, bound)]
                             for k in ("x", "n", "share", "lower", "upper")}})
    res.data, res.values = table, {"central": central, "low": at_lo, "high": at_hi, "bound": bound}
    return res


def _block_labels() -> list[str]:
    from svtools.ingest.demo_partners import time_blocks

    return time_blocks()


def _police_blocks(ctx: ProfileContext) -> pd.Series:
    from svtools.analysis.fields import hours

    pol = police_vwi(ctx)
    h = hours(pol)
    blocks = _block_labels()
    width = 24 // len(blocks)
    out = pd.Series(TIME_NOT_RECORDED, index=pol.index, dtype=object)
    ok = h.notna().to_numpy()
    out[ok] = np.array(blocks, dtype=object)[h[ok].astype("int64").to_numpy() // width]
    return out


def _night_share(counts: pd.Series, night: list[str], blocks: list[str]) -> dict | None:
    """Share of known-time counts in the night blocks, with a Wilson interval; None unless every block is
    visible."""
    from svtools.analysis.stats import proportion

    known = counts.reindex(blocks)
    if known.isna().any() or float(known.sum()) <= 0:
        return None
    x, n = int(known.reindex(night).sum()), int(known.sum())
    p = proportion(x, n).iloc[0]
    return {"x": x, "n": n, "share": float(p["value"]), "lower": float(p["lower"]), "upper": float(p["upper"]),
            "even": len(night) / len(blocks)}


def partner_night(ctx: ProfileContext) -> SectionResult:
    """Time of day in A&E (arrival), ambulance (call) and police (occurrence) data: counts by 3-hour block,
    and the share in the night blocks with a Wilson interval; a night-time concentration is claimed only
    when the interval lies above the share an even spread would give."""
    title = "Time of day"
    s, skip = _ae_series(ctx, "partner_night", title)
    if skip is not None:
        return skip
    blocks = _block_labels()
    night = [str(b) for b in _cfg()["night_blocks"]]
    ae = _csp_rows(ctx, "ae")
    a_total = s["ae"].counts.iloc[:, 0].get(TOTAL)
    if pd.isna(a_total) or int(a_total) < _min_total():
        return _skip(ctx, "partner_night", title, f"too few A&E assault attendances in {ctx.name} to break down")
    res = SectionResult(name="partner_night")
    pc_ae = _weighted_one_way(f"partner_ae_time_{ctx.code}", ae, "arrival_time", blocks + [NOT_RECORDED],
                              "hospital", "attendances")
    pc_pol = _one_way(f"partner_police_time_{ctx.code}", _police_blocks(ctx), blocks + [TIME_NOT_RECORDED],
                      "police", "victims")
    t_ae = pc_ae.table("category", row_nodes=blocks + [NOT_RECORDED, TOTAL], name="partner_night",
                       row_title="Time block")
    t_pol = pc_pol.table("category", row_nodes=blocks + [TIME_NOT_RECORDED, TOTAL], name="partner_police_time",
                         row_title="Time block")
    a = t_ae.counts.iloc[:, 0]
    p = pd.Series(t_pol.counts.iloc[:, 0].to_numpy(), index=a.index)
    cols = {POLICE_COL: p}
    amb_share = None
    amb = _csp_rows(ctx, "ambulance")
    t_amb = None
    if amb is not None and not _source_suppressed(amb) and len(amb):
        pc_amb = _weighted_one_way(f"partner_amb_time_{ctx.code}", amb, "time_block", blocks, "hospital",
                                   "call-outs")
        t_amb = pc_amb.table("category", row_nodes=blocks + [TOTAL], name="partner_ambulance_time",
                             row_title="Time block")
        m = t_amb.counts.iloc[:, 0]
        cols = {"Ambulance call-outs for assault": m.reindex(a.index), **cols}
        amb_share = _night_share(m, night, blocks)
    t_ae.counts.columns = [AE_COL]
    extra = pd.DataFrame({k: v.map(lambda x: "" if x is None else "*" if pd.isna(x) else f"{int(x):,}")
                          .to_numpy(object) for k, v in cols.items()}, index=a.index)
    if t_amb is not None:
        extra.loc[NOT_RECORDED, "Ambulance call-outs for assault"] = "not applicable"
    labels = {**{b: b.replace("-", " to ") for b in blocks}, NOT_RECORDED: TIME_NOT_RECORDED}
    res.csv = publish_gated(ctx, t_ae, f"A&E assault attendances, ambulance call-outs and police-recorded violence "
                            f"with injury by time of day, {ctx.name}, {ctx.period}", extra=extra,
                            note="A&E: time of arrival; ambulance: time of the call; police: time the offence "
                            "happened. A&E and ambulance counts from 1 to 7 and police counts from 1 to 4 are * "
                            "(with any cell that would let one be worked out).", row_labels=labels)
    shares = {"A&E": _night_share(a, night, blocks), "Ambulance": amb_share, "Police": _night_share(p, night, blocks)}
    res.values = {"night": shares, "night_blocks": night}
    res.data = pd.DataFrame({"ae": a, "police": p})
    said = []
    for name, sh in shares.items():
        if sh is None:
            continue
        verdict = ("more than an even spread over the day would give" if sh["lower"] > sh["even"]
                   else "less than an even spread would give" if sh["upper"] < sh["even"]
                   else "no clear difference from an even spread")
        said.append(f"{name}: {_pct(sh['share'])} (95% CI {_pct(sh['lower'])} to {_pct(sh['upper'])}), {verdict}")
    if said:
        _say(f"Share of each source's known-time count between {night[0][:5]} and {night[-1][-5:]} "
             f"({len(night)} of {len(blocks)} blocks, {_pct(len(night) / len(blocks))} of the day): "
             + "; ".join(said) + ".")
    # chart: percentage of each source's known-time count by block, from visible counts only
    pcts = {}
    for name, series in (("ae_percent", a), ("police_percent", p)) + ((("ambulance_percent", cols.get(
            "Ambulance call-outs for assault")),) if t_amb is not None else ()):
        known = series.reindex(blocks).astype("Float64")
        pcts[name] = (100 * known / known.sum()).to_numpy(float) if not known.isna().any() else np.full(
            len(blocks), np.nan)
    data = disclosure.derived(pd.DataFrame({"time_block": blocks, **pcts}),
                              *([t_ae, t_pol] + ([t_amb] if t_amb is not None else [])))
    chart_frame = data.rename(columns={"time_block": "financial_year", "ae_percent": "A&E (arrival)",
                                       "police_percent": "Police (offence time)",
                                       "ambulance_percent": "Ambulance (call)"})
    fig = charts.yearly_chart(chart_frame, title=f"Time of day of assaults, {ctx.name}",
                              ylabel="Per cent of the source's known-time count", xlabel="Time block",
                              baseline="none")
    busiest = {k: blocks[int(np.nanargmax(v))] for k, v in pcts.items() if np.isfinite(v).any()}
    alt = ("Grouped bar chart of the percentage of A&E assault attendances, police-recorded violence with injury"
           + (" and ambulance call-outs" if t_amb is not None else "") + f" in {ctx.name} in each 3-hour block. "
           + "; ".join(f"{k.replace('_percent', '').replace('ae', 'A&E')} busiest {v}" for k, v in busiest.items())
           + ".")
    _show(fig, alt, res, data, ctx=ctx)
    return res


def partner_ae_who(ctx: ProfileContext) -> SectionResult:
    """A&E assault attendances by weapon, age band and sex over the period: one gated table each, with the
    "Not recorded" row (never 0 or dropped); published only when the period's total is at least the
    breakdown minimum."""
    title = "Who is treated in A&E, and with what weapon"
    s, skip = _ae_series(ctx, "partner_ae_who", title)
    if skip is not None:
        return skip
    total = s["ae"].counts.iloc[:, 0].get(TOTAL)
    if pd.isna(total) or int(total) < _min_total():
        return _skip(ctx, "partner_ae_who", title, f"too few A&E assault attendances in {ctx.name} to break down")
    a = _cfg()["ae"]
    ae = _csp_rows(ctx, "ae")
    res = SectionResult(name="partner_ae_who")
    specs = [("weapon", "Weapon", list(a["weapons"])), ("age_band", "Age band", [str(b) for b in a["age_bands"]]),
             ("sex", "Sex", list(a["sexes"]))]
    tables = {}
    for col, word, cats in specs:
        cats = cats + [NOT_RECORDED]
        pc = _weighted_one_way(f"partner_ae_{col}_{ctx.code}", ae, col, cats, "hospital", "attendances")
        t = pc.table("category", row_nodes=cats + [TOTAL], name=f"partner_ae_{col}", row_title=word)
        t.counts.columns = [AE_COL]
        publish_gated(ctx, t, f"A&E assault attendances by {word.lower()}, {ctx.name}, {ctx.period}",
                      note="Counts from 1 to 7 are shown as *, and so are cells that would let one be worked out.")
        tables[col] = t
    w = tables["weapon"].counts.iloc[:, 0].drop(TOTAL)
    shown = w.dropna()
    if len(shown):
        data = disclosure.derived(pd.DataFrame({"weapon": shown.index, "attendances": shown.to_numpy()}),
                                  tables["weapon"])
        fig = charts.bar_chart(data, label="weapon", value="attendances", xlabel="A&E assault attendances",
                               title=f"A&E assault attendances by weapon, {ctx.name}")
        top = shown.sort_values(ascending=False)
        alt = (f"Bar chart of A&E assault attendances in {ctx.name}, {ctx.period}, by weapon. Most: {top.index[0]} "
               f"({int(top.iloc[0]):,}).")
        _show(fig, alt, res, data, ctx=ctx, counts=["attendances"], threshold=_threshold("hospital"))
    res.data = pd.DataFrame({k: t.counts.iloc[:, 0] for k, t in tables.items()})
    res.values = {k: t.counts.iloc[:, 0] for k, t in tables.items()}
    return res


def partner_youth(ctx: ProfileContext) -> SectionResult:
    """Youth-justice first-time entrants (per financial year) and exclusions for physical assault (per
    academic year) for the council(s) the CSP lies in, with rates per 100,000 residents of the right ages
    (10-17; 5-15 for school exclusions) and exact/Byar's 95% CIs (:func:`svtools.analysis.stats.rate`).
    A council may hold several CSPs: its numbers are the council's, the same on each of their pages."""
    from svtools.analysis.stats import rate
    from svtools.ingest.demo_partners import csp_local_authorities, la_population

    title = "Youth justice and school exclusions"
    skip = _need_records(ctx, "partner_youth", title, "no partner data")
    if skip is not None:
        return skip
    fte, exc = _table(ctx, "fte"), _table(ctx, "exclusions")
    if fte is None and exc is None:
        return _skip(ctx, "partner_youth", title, f"no youth-justice or school data were shared for the "
                     f"'{ctx.dataset}' data")
    las = csp_local_authorities(ctx.code)
    res = SectionResult(name="partner_youth")
    out, t = {}, _threshold("police")
    for la_code, la_name in las.itertuples(index=False):
        covers = ""
        for src, frame, period_col, ages, word in (("fte", fte, "financial_year", (10, 17), "first-time entrants"),
                                                   ("exclusions", exc, "academic_year", (5, 15), "exclusions")):
            if frame is None:
                continue
            if _source_suppressed(frame):
                _skip(ctx, "partner_youth", f"{title}: {la_name}", f"the {word} arrived suppressed at source")
                continue
            f = frame[frame["area_code"] == la_code]
            if not len(f):
                _say(f"**{la_name}**: no {word} in the shared data"
                     + (" (the DfE tables cover England only)." if src == "exclusions" and la_code.startswith("W")
                        else "."))
                continue
            covers = f["csp_codes"].iloc[0]
            start = f["period_start"]
            label = (start.dt.year.astype(str) + "/" + ((start.dt.year + 1) % 100).astype(str).str.zfill(2))
            f = f.assign(period=label)
            years = sorted(label.unique())
            if src == "fte":
                cats = ["First-time entrants"]
                f = f.assign(measure="First-time entrants")
            else:
                f = f.assign(measure=f["category"].str.split(" / ").str[0])
                cats = sorted(f["measure"].unique())
            frame2 = f.groupby(["period", "measure"], as_index=False)["count"].sum()
            cube = Cube(f"partner_{src}_{la_code}", [Dim("period", years), Dim("measure", cats)],
                        frame2[frame2["count"] > 0].astype({"count": "int64"}), source="police", unit=word)
            cube.publish_grid(period=years, measure=cats)
            pc = cube.protect()
            tab = pc.table("period", "measure", row_nodes=years, column_nodes=cats, name=f"partner_{src}",
                           row_title="Financial year" if src == "fte" else "Academic year")
            pop = la_population(*ages)
            pop = pop[pop["utla_code"] == la_code].set_index("mid_year")["population"]
            den = pd.Series([pop.get(int(y[:4])) for y in years], index=years, dtype="float")
            extra = {}
            for c in cats:
                cnt = tab.counts[c]
                ok = cnt.notna() & den.notna()
                r = rate(cnt[ok].astype(float).to_numpy(), den[ok].to_numpy()) if ok.any() else None
                col = pd.Series("*", index=years, dtype=object)
                col[den.isna()] = "no population estimate"
                if r is not None:
                    col[ok[ok].index] = [f"{v:,.1f} ({lo:,.1f} to {hi:,.1f})" for v, lo, hi in
                                         zip(r["value"], r["lower"], r["upper"])]
                extra[f"{c}: rate per 100,000 aged {ages[0]}-{ages[1]} (95% CI)"] = col.to_numpy()
            many = [c for c in str(covers).split(";") if c]
            note = (f"Counts from 1 to {t} are shown as *. Rates per 100,000 residents aged {ages[0]} to {ages[1]} "
                    "(ONS mid-year estimate of the year's first calendar year), exact (under 10) or Byar's 95% CI."
                    + (f" {la_name} covers {len(many)} CSPs; these are the council's figures." if len(many) > 1
                       else ""))
            publish_gated(ctx, tab, f"{word.capitalize()} for physical assault, {la_name}" if src == "exclusions"
                          else f"Youth-justice first-time entrants aged 10-17, {la_name}",
                          name=f"partner_{src}_{la_code}", extra=pd.DataFrame(extra, index=tab.counts.index),
                          note=note)
            out[(la_code, src)] = tab.counts
    if not out:
        return _skip(ctx, "partner_youth", title, f"no youth-justice or school data cover {ctx.name}")
    res.values = {"tables": out, "local_authorities": las}
    return res
