"""Data quality (``data_quality.ipynb``): field completeness, location quality, unknown ages and the
ingest reconciliation (rows read = rows kept + rows excluded), for a force.

The counts of records on this page go through the disclosure gate too: each section builds one small cube
(:class:`svtools.publish.disclosure.Cube`) of its counts and their totals and shows only what the gate
publishes (0 or more than the threshold, with complementary suppression). Percentages are whole numbers,
computed from published counts only, and shown only where the base is at least 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.publish import charts, disclosure, output, tables
from svtools.publish.disclosure import Cube, Dim
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _need_records,
    _publish,
    _say,
    _show,
    _skip,
    hidden_note,
    not_recorded,
    publish_gated,
)

__all__ = [
    "completeness",
    "location_quality",
    "unknown_ages",
    "reconciliation",
]


#: Smallest base a percentage is shown for.
MIN_BASE_FOR_SHARE = 100
TOTAL = tables.TOTAL


# =========================================================================== gate helpers
def _gate(name: str, dims: list, counts: pd.DataFrame, keys) -> disclosure.ProtectedCube:
    """Protect a small cube of this page's counts (``keys``: the cells shown)."""
    cube = Cube(name, dims, counts)
    cube.publish(keys)
    return cube.protect()


def _share_value(num, base) -> float:
    """num/base from published counts (NaN when either is hidden or the base is under 100)."""
    if num is None or base is None or pd.isna(num) or pd.isna(base) or float(base) < MIN_BASE_FOR_SHARE:
        return float("nan")
    return float(num) / float(base)


def _pct(v: float) -> str:
    return "" if not np.isfinite(v) else f"{100 * v:.0f}%"


def _mk(v) -> str:
    return disclosure.rules()["marker"] if v is None or pd.isna(v) else f"{int(v):,}"


# =========================================================================== data quality
#: The record columns :func:`location_quality` reads (the rest of a record is not read: the Met's rows, every
#: column, were +120 MB of a kernel's peak).
_LOCATION_COLUMNS = ("month", "out_of_force")


def _force_rows(ctx: ProfileContext) -> pd.DataFrame:
    """Every kept record reported by the force (including those placed in other forces' CSPs), in the
    period: the columns of :data:`_LOCATION_COLUMNS` the records have."""
    import pyarrow.dataset as ds

    from svtools.ingest.store import dataset_dir

    path = dataset_dir(ctx.dataset) / "records"
    names = set(ds.dataset(path, format="parquet", partitioning="hive").schema.names)
    frame = pd.read_parquet(path, columns=[c for c in _LOCATION_COLUMNS if c in names],
                            filters=[("reporting_force", "==", ctx.force_code)])
    frame = frame[(frame["month"] >= ctx.period_start) & (frame["month"] <= ctx.period_end)]
    return frame


def _force_excluded(ctx: ProfileContext) -> pd.DataFrame:
    from svtools.ingest.store import load_table

    ex = load_table("excluded", ctx.dataset)
    if "reporting_force" in ex.columns:
        ex = ex[ex["reporting_force"] == ctx.force_code]
    if "month" in ex.columns:
        ex = ex[(ex["month"].isna()) | ((ex["month"] >= ctx.period_start) & (ex["month"] <= ctx.period_end))]
    return ex


_POLICE_UK_FIELDS = {"last_outcome": "Outcome recorded", "lsoa_code": "LSOA recorded"}


def completeness(ctx: ProfileContext) -> SectionResult:
    """Completeness of each field over the period and by financial quarter (share of records with it filled
    in), from a gated cube field x known/missing x quarter."""
    from svtools.analysis.quality import QUALITY_FIELDS

    from svtools.analysis.fields import field_known

    recs = ctx.records
    fields = QUALITY_FIELDS if ctx.record_level else _POLICE_UK_FIELDS
    fields = {k: v for k, v in fields.items() if k in recs.columns}
    # a field the dataset does not record is said in one line, not shown as 0% known in every quarter
    absent = [k for k in fields if ctx.record_level and not ctx._recorded(k)]
    fields = {k: v for k, v in fields.items() if k not in absent}
    absent_line = ("Not recorded in this dataset (so not shown below): "
                   + ", ".join(QUALITY_FIELDS[k].replace(" known", "").replace(" recorded", "").lower()
                               for k in absent) + ".") if absent else ""
    if absent_line:
        _say(absent_line)
    if not fields or recs.empty:
        return _skip(ctx, "completeness", "Field completeness", "the data hold none of the fields checked")
    quarters_of = {m: tables.quarter_label(m) for m in sorted(recs["month"].unique())}
    qstart = {}
    for m, q in quarters_of.items():
        qstart.setdefault(q, pd.Timestamp(m))
    quarters = sorted(qstart, key=lambda q: qstart[q])
    has_victim = recs["victim_id"].notna().to_numpy(bool) if "victim_id" in recs.columns else None
    period = recs["month"].map(quarters_of).astype(str).to_numpy()
    parts = []
    for col, label in fields.items():
        # field_known is row by row: on every record, then the victims' rows (no copy of the whole frame a field)
        known = field_known(recs, col)  # a banded age or a time is known
        rows = period
        if col.startswith("victim_") and has_victim is not None:
            rows = period[has_victim]
            known = known[has_victim] if known is not None else None
        status = np.where(known, "Known", "Missing")
        g = pd.DataFrame({"period": rows, "status": status})
        g = g.groupby(["period", "status"]).size().rename("count").reset_index()
        g["field"] = label
        parts.append(g)
    counts = pd.concat(parts, ignore_index=True)
    labels = list(fields.values())
    dims = [Dim("field", tuple(labels)), Dim("status", ("Known", "Missing"), {"Records": ("Known", "Missing")}),
            Dim("period", tuple(quarters), {TOTAL: tuple(quarters)})]
    keys = [(f, s, p) for f in labels for s in ("Known", "Missing", "Records") for p in quarters + [TOTAL]]
    cube = _gate(f"completeness_{ctx.code}", dims, counts, keys)
    t = cube.table("field", "status", fixed={"period": TOTAL}, column_nodes=["Records", "Known", "Missing"],
                   name="completeness", row_title="Field")
    share = pd.Series([_share_value(k, r) for k, r in zip(t.counts["Known"], t.counts["Records"])], index=labels)
    kq = cube.table("period", "field", fixed={"status": "Known"}, name="completeness_known")
    rq = cube.table("period", "field", fixed={"status": "Records"}, name="completeness_records")
    shares = pd.DataFrame({f: [_share_value(k, r) for k, r in zip(kq.counts[f], rq.counts[f])] for f in labels},
                          index=pd.DatetimeIndex([qstart[q] for q in quarters], name="quarter"))
    shares = disclosure.derived(shares, kq, rq)
    res = SectionResult(name="completeness", data=shares)
    vis = share.dropna()
    if len(vis):
        worst, best = vis.idxmin(), vis.idxmax()
        qmin = shares.min(axis=1).dropna()
        alt = (
            f"Line chart of the share of records with each field filled in, by financial quarter, {ctx.name}, "
            f"{ctx.period}: {len(fields)} fields. Least complete overall: {worst} ({_pct(vis[worst])}); most "
            f"complete: {best} ({_pct(vis[best])})."
            + (f" The lowest quarterly value of any field is {_pct(qmin.min())} in the quarter starting "
               f"{output.month_label(qmin.idxmin())}." if len(qmin) else "")
            + " Quarters whose counts are hidden or under 100 records are not drawn."
        )
        # the data as the quarterly table publishes them: whole percentages (the quarterly counts themselves
        # are not published, and an exact share with its base could give them back)
        long = pd.DataFrame({
            "quarter": [q for q in quarters for _ in labels],
            "period_start": [f"{qstart[q]:%Y-%m}" for q in quarters for _ in labels],
            "field": [f for _ in quarters for f in labels],
            "records_with_field_known_pct": pd.array(
                [None if not np.isfinite(shares.loc[qstart[q], f]) else int(round(100 * shares.loc[qstart[q], f]))
                 for q in quarters for f in labels], dtype="Int64")})
        _show(charts.completeness_chart(shares, title=f"Completeness of each field by quarter, {ctx.name}",
                                        xlabel="Financial quarter"), alt, res, disclosure.derived(long, kq, rq),
              ctx=ctx)
    res.table = t.text()
    res.csv = publish_gated(
        ctx, t, f"Completeness of each field, {ctx.name}, {ctx.period}", name="completeness",
        extra=pd.DataFrame({"Known (%)": [_pct(v) for v in share]}),
        note="Victim fields are judged on records that have a victim. Percentages are whole numbers, shown "
        f"where the base is at least {MIN_BASE_FOR_SHARE} records. " + hidden_note(),
    )
    quarterly = pd.DataFrame({f: [_pct(v) for v in shares[f]] for f in labels})
    quarterly.insert(0, "Quarter", quarters)
    _publish(ctx, quarterly, "completeness_by_quarter", f"Completeness by financial quarter (% of records), "
             f"{ctx.name}", note=f"Blank where the quarter's counts are hidden or under {MIN_BASE_FOR_SHARE} "
             "records.", counts=[], show_last=12)
    res.values = {
        "least_complete": str(vis.idxmin()) if len(vis) else None,
        "least_share": float(vis.min()) if len(vis) else None,
        "counts": t.counts,
        "absent_fields": absent,
    }
    return res


_STATUSES = ("Placed in a CSP of the force", "Placed in an LSOA outside the force area", "No location (blank LSOA)",
             "LSOA code not in the lookups")


def location_quality(ctx: ProfileContext) -> SectionResult:
    """How well records could be placed: in the force, outside it, unlocated, unknown LSOA (gated counts and
    whole-number shares). Exclusions by month are not published (too many small monthly counts)."""
    from svtools.analysis.quality import location_quality as location_fn

    rows = _force_rows(ctx)
    ex = _force_excluded(ctx)
    table = location_fn(rows, ex)
    counts = pd.DataFrame({"status": table["status"].astype(str), "count": table["records"].astype("int64")})
    cube = _gate(f"location_quality_{ctx.force_code}", [Dim("status", _STATUSES, {"All rows": _STATUSES})],
                 counts, [(s,) for s in list(_STATUSES) + ["All rows"]])
    t = cube.table("status", None, row_nodes=list(_STATUSES) + ["All rows"], name="location_quality",
                   row_title="Status", column_titles={"offences": "Records"})
    c = t.counts.iloc[:, 0]
    total = c["All rows"]
    res = SectionResult(name="location_quality", data=disclosure.frame_of(t))
    res.table = t.text()
    res.csv = publish_gated(
        ctx, t, f"Where the records of {ctx.force_name} could be placed", name="location_quality",
        extra=pd.DataFrame({"Share": [_pct(_share_value(v, total)) for v in c]}),
        note="Shares are whole-number percentages of all rows. " + hidden_note(),
    )
    sentence = (
        f"Of {_mk(total)} rows reported by {ctx.force_name} in {ctx.period}, {_mk(c.iloc[0])} were placed in "
        f"one of its CSPs, {_mk(c.iloc[1])} in an LSOA outside the force area, {_mk(c.iloc[2])} had no "
        f"location and {_mk(c.iloc[3])} an LSOA code not in the lookups. Exclusions by month are not "
        "published in this version."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"total": None if pd.isna(total) else int(total),
                  **{k: (None if pd.isna(v) else int(v)) for k, v in c.items()}}
    return res


def unknown_ages(ctx: ProfileContext) -> SectionResult:
    """Victim records with no recorded age, by CSP and financial year (gated counts; whole-number shares)."""
    from svtools.analysis.fields import age_known

    title = "Unknown victim ages"
    skip = _need_records(ctx, "unknown_ages", title, "no victim ages to check")
    if skip:
        return skip
    recs = ctx.records
    if not ctx._recorded("victim_age"):
        text = f"**{title}**: {not_recorded(ctx, 'victim_age', 'the records with an unknown victim age')}"
        _say(text)
        return SectionResult(name="unknown_ages", available=False, message=text)
    # row by row on the columns it needs, then the victims' rows of the force's CSPs (no copies of the frame)
    with_victim = recs["victim_id"].notna().to_numpy(bool) if "victim_id" in recs.columns else np.ones(len(recs), bool)
    fy = recs["financial_year"].astype(str).to_numpy()
    years = sorted(pd.unique(fy[with_victim]))
    csps = [str(c) for c in ctx.csp_codes]
    area = recs["csp_code"].astype(str).to_numpy()
    sel = with_victim & np.isin(area, csps)
    counts = (pd.DataFrame({"area": area[sel], "financial_year": fy[sel],
                            "status": np.where(age_known(recs, "victim")[sel], "Age recorded", "Age not recorded")})
              .groupby(["area", "financial_year", "status"]).size().rename("count").reset_index())
    force = str(ctx.force_code)
    dims = [Dim("area", tuple(csps), {force: tuple(csps)}), Dim("financial_year", tuple(years), {TOTAL: tuple(years)}),
            Dim("status", ("Age recorded", "Age not recorded"), {"Victim records": ("Age recorded", "Age not recorded")})]
    areas = csps + [force]
    keys = [(a, y, s) for a in areas for y in years + [TOTAL] for s in ("Age not recorded", "Victim records")]
    cube = _gate(f"unknown_ages_{force}", dims, counts, keys)
    rows, labels = [], []
    for a in areas:
        for y in years + [TOTAL]:
            rows.append((a, y))
            labels.append((ctx.force_name if a == force else ctx.csp_name(a), "All years" if y == TOTAL else y))
    vr = [cube.value((a, y, "Victim records")) for a, y in rows]
    un = [cube.value((a, y, "Age not recorded")) for a, y in rows]
    t = cube.table("financial_year", "status", fixed={"area": force}, row_nodes=years + [TOTAL],
                   column_nodes=["Victim records", "Age not recorded"], name="unknown_ages",
                   row_title="Financial year")
    # one table per page: the force by year, then each CSP over the period
    shares = [_share_value(u, r) for u, r in zip(t.counts["Age not recorded"], t.counts["Victim records"])]
    res = SectionResult(name="unknown_ages", data=disclosure.frame_of(t))
    res.table = t.text()
    res.csv = publish_gated(
        ctx, t, f"Victim records with no age by year, {ctx.force_name}", name="unknown_ages",
        extra=pd.DataFrame({"Age not recorded (%)": [_pct(v) for v in shares]}),
        note=f"Percentages are whole numbers, shown where the base is at least {MIN_BASE_FOR_SHARE}. "
        + hidden_note(),
    )
    tc = cube.table("area", "status", fixed={"financial_year": TOTAL}, row_nodes=areas,
                    column_nodes=["Victim records", "Age not recorded"], name="unknown_ages_by_csp",
                    row_title="Area")
    csp_share = pd.Series([_share_value(u, r) for u, r in zip(tc.counts["Age not recorded"],
                                                              tc.counts["Victim records"])],
                          index=[ctx.force_name if a == force else ctx.csp_name(a) for a in areas])
    publish_gated(ctx, tc, f"Victim records with no age by CSP, {ctx.force_name}, {ctx.period}",
                  name="unknown_ages_by_csp",
                  extra=pd.DataFrame({"Name": list(csp_share.index),
                                      "Age not recorded (%)": [_pct(v) for v in csp_share]}),
                  note=hidden_note())
    share = csp_share.iloc[-1]
    by_csp = csp_share.iloc[:-1].dropna()
    sentence = (
        (f"{_pct(share)} of victim records in {ctx.period} have no age" if np.isfinite(share) else
         f"The share of victim records in {ctx.period} with no age cannot be shown")
        + (f" (from {_pct(by_csp.min())} in {by_csp.idxmin()} to {_pct(by_csp.max())} in {by_csp.idxmax()})"
           if len(by_csp) else "")
        + "; they count in all-ages figures but not in the under-25 figures."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"share_unknown": float(share), "by_csp": csp_share.to_dict(),
                  "cells": dict(zip(labels, zip(vr, un)))}
    return res


def reconciliation(ctx: ProfileContext) -> SectionResult:
    """The ingest reconciliation: rows read = rows kept + rows excluded, for the whole dataset and for each of
    the force's input files (one gated cube file x outcome)."""
    from svtools.ingest.store import reconciliation as load_reconciliation

    report = load_reconciliation(ctx.dataset)
    by_file = report.get("by_file") or {}
    reasons = sorted(set(report.get("excluded_by_reason") or {}) |
                     {r for v in by_file.values() for r in (v.get("excluded_by_reason") or {})})
    items = ("Rows kept",) + tuple(f"Excluded: {r.replace('_', ' ')}" for r in reasons)
    item_nodes = {"Rows read": items, "Rows excluded": items[1:]} if len(items) > 1 else {"Rows read": items}
    if by_file:
        files = tuple(sorted(by_file))
        recs = []
        for f, v in by_file.items():
            recs.append((f, "Rows kept", int(v["rows_kept"])))
            for r, n in (v.get("excluded_by_reason") or {}).items():
                recs.append((f, f"Excluded: {r.replace('_', ' ')}", int(n)))
    else:
        files = ("all",)
        recs = [("all", "Rows kept", int(report["rows_kept"]))]
        recs += [("all", f"Excluded: {r.replace('_', ' ')}", int(n))
                 for r, n in (report.get("excluded_by_reason") or {}).items()]
    counts = pd.DataFrame(recs, columns=["file", "item", "count"])
    slug = ctx.force_name.lower().replace(" ", "-")
    mine = [f for f in files if slug in f.lower()]
    file_nodes = {"All files": files}
    item_rows = ["Rows read", "Rows kept"] + list(items[1:]) + (["Rows excluded"] if len(items) > 1 else [])
    keys = [(f, i) for f in ["All files"] + mine for i in item_rows]
    cube = _gate(f"reconciliation_{ctx.dataset}", [Dim("file", files, file_nodes), Dim("item", items, item_nodes)],
                 counts, keys)
    t = cube.table("item", None, fixed={"file": "All files"}, row_nodes=item_rows, name="reconciliation",
                   row_title="Item", column_titles={"offences": "Rows"})
    res = SectionResult(name="reconciliation", data=disclosure.frame_of(t))
    res.table = t.text()
    balanced = bool(report.get("balanced"))
    res.csv = publish_gated(
        ctx, t, f"Ingest reconciliation, whole '{ctx.dataset}' dataset", name="reconciliation",
        note=f"Every input row is either kept or excluded with a reason. Rows read = rows kept + rows excluded: "
        f"{'yes' if balanced else 'NO'}. " + hidden_note(),
    )
    if mine:
        ft = cube.table("file", "item", row_nodes=mine, column_nodes=item_rows, name="reconciliation_by_file",
                        row_title="File")
        publish_gated(ctx, ft, f"Ingest reconciliation for the files of {ctx.force_name}",
                      name="reconciliation_by_file", note=hidden_note())
        res.values["files"] = len(mine)
    c = t.counts.iloc[:, 0]
    sentence = (
        f"{_mk(c['Rows read'])} rows were read and {_mk(c['Rows kept'])} kept; the rest were excluded with a "
        f"reason. Rows read = rows kept + rows excluded: {'yes' if balanced else 'NO - the ingest needs checking'}."
    )
    _say(sentence)
    res.message = sentence
    res.values.update(balanced=balanced,
                      rows_in=None if pd.isna(c["Rows read"]) else int(c["Rows read"]),
                      rows_kept=None if pd.isna(c["Rows kept"]) else int(c["Rows kept"]))
    return res
