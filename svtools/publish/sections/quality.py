"""Data quality (``data_quality.ipynb``): field completeness, location quality, unknown ages and the
ingest reconciliation (rows read = rows kept + rows excluded), for a force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.publish import charts, output
from svtools.publish.sections.context import (
    ProfileContext,
    SectionResult,
    _blank_where_small,
    _count,
    _need_records,
    _publish,
    _say,
    _show,
    _skip,
    _threshold,
    suppress,
)

__all__ = [
    "completeness",
    "location_quality",
    "unknown_ages",
    "reconciliation",
]


# =========================================================================== data quality
def _force_rows(ctx: ProfileContext) -> pd.DataFrame:
    """Every kept record reported by the force (including those placed in other forces' CSPs), in the
    period."""
    from svtools.ingest.store import dataset_dir

    path = dataset_dir(ctx.dataset) / "records"
    frame = pd.read_parquet(path, filters=[("reporting_force", "==", ctx.force_code)])
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
    """Completeness of each field by month (share of records with it filled in)."""
    from svtools.analysis.quality import QUALITY_FIELDS, completeness_by_month, completeness_summary

    recs = ctx.records
    fields = QUALITY_FIELDS if ctx.record_level else _POLICE_UK_FIELDS
    fields = {k: v for k, v in fields.items() if k in recs.columns}
    if not fields or recs.empty:
        return _skip(ctx, "completeness", "Field completeness", "the data hold none of the fields checked")
    by_month = completeness_by_month(recs, fields)
    summary = completeness_summary(recs, fields)
    res = SectionResult(name="completeness", data=by_month)
    shares = by_month.drop(columns=["records"])
    worst = summary.sort_values("share_known").iloc[0]
    best = summary.sort_values("share_known").iloc[-1]
    month_min = shares.min(axis=1)
    alt = (
        f"Line chart of the share of records with each field filled in, by month, {ctx.name}, {ctx.period}: "
        f"{len(fields)} fields. Least complete overall: {worst['field']} ({worst['share_known']:.0%}); most "
        f"complete: {best['field']} ({best['share_known']:.0%}). The lowest monthly value of any field is "
        f"{month_min.min():.0%} in {output.month_label(month_min.idxmin())}."
    )
    _show(
        charts.completeness_chart(shares, title=f"Completeness of each field by month, {ctx.name}"), alt, res
    )
    table = pd.DataFrame(
        {
            "Field": summary["field"],
            "Known": summary["known"],
            "Missing": summary["missing"],
            "Known (%)": (100 * summary["share_known"]).round(1),
        }
    )
    shown = suppress(table, ["Known", "Missing"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "completeness",
        f"Completeness of each field, {ctx.name}, {ctx.period}",
        note="Victim fields are judged on records that have a victim. Counts from 1 to "
        f"{_threshold()} are shown as *.",
    )
    monthly = shares.copy()
    monthly.index = pd.DatetimeIndex(monthly.index).strftime("%b %Y")
    monthly = (100 * monthly).round(1).reset_index(names="Month")
    _publish(
        ctx,
        monthly,
        "completeness_by_month",
        f"Completeness by month (% of records), {ctx.name}",
        counts=[],
        show_last=12,
    )
    res.values = {"least_complete": str(worst["field"]), "least_share": float(worst["share_known"])}
    return res


def location_quality(ctx: ProfileContext) -> SectionResult:
    """How well records could be placed: in the force, outside it, unlocated, unknown LSOA; exclusions by
    month."""
    from svtools.analysis.quality import exclusions_table
    from svtools.analysis.quality import location_quality as location_fn

    rows = _force_rows(ctx)
    ex = _force_excluded(ctx)
    table = location_fn(rows, ex)
    res = SectionResult(name="location_quality", data=table)
    shown = pd.DataFrame(
        {"Status": table["status"], "Records": table["records"], "Share (%)": (100 * table["share"]).round(2)}
    )
    shown = suppress(shown, ["Records"], rates=["Share (%)"])
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "location_quality",
        f"Where the records of {ctx.force_name} could be placed",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    t = table.set_index("status")["records"]
    total = int(t.sum())
    sentence = (
        f"Of {total:,} rows reported by {ctx.force_name} in {ctx.period}, {_count(t.iloc[0])} were placed in "
        f"one of its CSPs, {_count(t.iloc[1])} in an LSOA outside the force area, {_count(t.iloc[2])} had no "
        f"location and {_count(t.iloc[3])} an LSOA code not in the lookups."
    )
    _say(sentence)
    res.message = sentence
    if len(ex):
        wide = exclusions_table(ex)
        wide.index = pd.DatetimeIndex(wide.index).strftime("%b %Y")
        wide.columns = [str(c).replace("_", " ").capitalize() for c in wide.columns]
        wide = wide.reset_index(names="Month")
        cols = [c for c in wide.columns if c != "Month"]
        _publish(
            ctx,
            suppress(wide, cols),
            "exclusions_by_month",
            f"Rows excluded at ingest by month, {ctx.force_name}",
            note=f"Counts from 1 to {_threshold()} are shown as *.",
            show_last=12,
        )
    res.values = {"total": total, **{k: int(v) for k, v in t.items()}}
    return res


def unknown_ages(ctx: ProfileContext) -> SectionResult:
    """Victim records with no recorded age, by CSP and financial year."""
    title = "Unknown victim ages"
    skip = _need_records(ctx, "unknown_ages", title, "no victim ages to check")
    if skip:
        return skip
    recs = ctx.records
    with_victim = recs[recs["victim_id"].notna()] if "victim_id" in recs.columns else recs
    grp = with_victim.groupby(
        [with_victim["csp_code"].astype(str), with_victim["financial_year"].astype(str)]
    )
    agg = grp["victim_age"].agg(records="size", unknown=lambda s: int(s.isna().sum())).reset_index()
    agg["share"] = 100 * agg["unknown"] / agg["records"]
    agg["CSP"] = agg["csp_code"].map(ctx.csp_name)
    res = SectionResult(name="unknown_ages", data=agg)
    table = pd.DataFrame(
        {
            "CSP": agg["CSP"],
            "Financial year": agg["financial_year"],
            "Victim records": agg["records"].astype("int64"),
            "Age not recorded": agg["unknown"].astype("int64"),
            "Age not recorded (%)": agg["share"].round(1),
        }
    )
    shown = suppress(table, ["Victim records", "Age not recorded"])
    shown = _blank_where_small(shown, "Age not recorded", ["Age not recorded (%)"], source=table)
    res.table = shown
    res.csv = _publish(
        ctx,
        shown,
        "unknown_ages",
        f"Victim records with no age by CSP and year, {ctx.force_name}",
        note=f"Counts from 1 to {_threshold()} are shown as * and their shares left blank.",
    )
    total = int(agg["records"].sum())
    share = agg["unknown"].sum() / total if total else float("nan")
    by_csp = agg.groupby("CSP")[["unknown", "records"]].sum()
    by_csp = by_csp["unknown"] / by_csp["records"]
    sentence = (
        f"{share:.1%} of victim records in {ctx.period} have no age (from {by_csp.min():.1%} in "
        f"{by_csp.idxmin()} to {by_csp.max():.1%} in {by_csp.idxmax()}); they count in all-ages figures but "
        "not in the under-25 figures."
    )
    _say(sentence)
    res.message = sentence
    res.values = {"share_unknown": float(share)}
    return res


def reconciliation(ctx: ProfileContext) -> SectionResult:
    """The ingest reconciliation: rows read = rows kept + rows excluded, for the whole dataset and for each of
    the force's input files."""
    from svtools.ingest.store import reconciliation as load_reconciliation
    from svtools.analysis.quality import reconciliation_table

    report = load_reconciliation(ctx.dataset)
    full = reconciliation_table(report)
    full.columns = ["Item", "Rows"]
    numeric = full["Rows"].map(lambda v: isinstance(v, (int, np.integer)))
    table = pd.concat(
        [suppress(full[numeric].astype({"Rows": "int64"}), ["Rows"]), full[~numeric]], ignore_index=True
    )
    table.attrs["count_columns"] = ["Rows"]
    res = SectionResult(name="reconciliation", data=table)
    res.table = table
    res.csv = _publish(
        ctx,
        table,
        "reconciliation",
        f"Ingest reconciliation, whole '{ctx.dataset}' dataset",
        note="Every input row is either kept or excluded with a reason.",
    )
    slug = ctx.force_name.lower().replace(" ", "-")
    files = {name: v for name, v in (report.get("by_file") or {}).items() if slug in name.lower()}
    if files:
        rows = []
        for name, v in sorted(files.items()):
            row = {"File": name, "Rows read": int(v["rows_in"]), "Rows kept": int(v["rows_kept"])}
            for reason, n in (v.get("excluded_by_reason") or {}).items():
                row[f"Excluded: {reason.replace('_', ' ')}"] = int(n)
            rows.append(row)
        ft = pd.DataFrame(rows).fillna(0)
        for c in ft.columns[1:]:
            ft[c] = ft[c].astype("int64")
        _publish(
            ctx,
            suppress(ft, list(ft.columns[1:])),
            "reconciliation_by_file",
            f"Ingest reconciliation for the files of {ctx.force_name}",
            note=f"Counts from 1 to {_threshold()} are shown as *.",
        )
        res.values["files"] = len(ft)
    balanced = bool(report.get("balanced"))
    sentence = (
        f"{int(report['rows_in']):,} rows were read and {int(report['rows_kept']):,} kept; the rest were "
        f"excluded with a reason. Rows read = rows kept + rows excluded: "
        f"{'yes' if balanced else 'NO - the ingest needs checking'}."
    )
    _say(sentence)
    res.message = sentence
    res.values.update(balanced=balanced, rows_in=int(report["rows_in"]), rows_kept=int(report["rows_kept"]))
    return res
