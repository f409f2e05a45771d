"""Data-quality measures for a force's extract: completeness by field and month, unlocated and out-of-area
records, unknown ages, and the ingest reconciliation.

These describe the *input*, so partners can judge how far to trust each section of a profile. They return
counts and shares of rows; all counts are of police records (crime x victim rows for an extract).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["QUALITY_FIELDS", "completeness_by_month", "completeness_summary", "location_quality",
           "exclusions_table", "reconciliation_table"]

#: Fields whose completeness is reported, with a plain-English label (record-level extract).
QUALITY_FIELDS = {
    "occurred_hour": "Time of day known",
    "domestic_flag": "Domestic-abuse flag recorded",
    "location_type": "Location type recorded",
    "victim_age": "Victim age known",
    "victim_sex": "Victim sex known",
    "victim_ethnicity": "Victim ethnicity known",
    "suspect_age": "Suspect age known",
}


def _fields(frame: pd.DataFrame, fields: dict | None) -> dict:
    fields = QUALITY_FIELDS if fields is None else fields
    return {k: v for k, v in fields.items() if k in frame.columns}


def completeness_by_month(records: pd.DataFrame, fields: dict | None = None,
                          with_victim_only: bool = True) -> pd.DataFrame:
    """Share of records with each field filled in, by recorded month.

    Parameters
    ----------
    records : DataFrame
        Processed records with ``month`` and the fields.
    fields : dict, optional
        Column -> label (default :data:`QUALITY_FIELDS`, those present).
    with_victim_only : bool
        Victim fields are judged only on rows that have a victim (``victim_id`` present): possession offences
        have no victim, which is not a data-quality fault.

    Returns
    -------
    DataFrame
        One row per month, one column per field label, values 0-1 (share of rows), plus ``records``.
    """
    fields = _fields(records, fields)
    out = {"records": records.groupby("month").size()}
    has_victim = records["victim_id"].notna() if "victim_id" in records.columns else None
    for col, label in fields.items():
        base = records
        if with_victim_only and col.startswith("victim_") and has_victim is not None:
            base = records[has_victim]
        out[label] = base[col].notna().groupby(base["month"]).mean()
    return pd.DataFrame(out).sort_index()


def completeness_summary(records: pd.DataFrame, fields: dict | None = None) -> pd.DataFrame:
    """Whole-period completeness per field: ``field``, ``known``, ``missing``, ``share_known`` (0-1)."""
    fields = _fields(records, fields)
    rows = []
    has_victim = records["victim_id"].notna() if "victim_id" in records.columns else None
    for col, label in fields.items():
        base = records[has_victim] if col.startswith("victim_") and has_victim is not None else records
        known = int(base[col].notna().sum())
        rows.append({"field": label, "known": known, "missing": len(base) - known,
                     "share_known": known / len(base) if len(base) else float("nan")})
    return pd.DataFrame(rows)


def location_quality(records: pd.DataFrame, excluded: pd.DataFrame) -> pd.DataFrame:
    """How well records could be placed: located in the force, located outside it, unlocated, unknown LSOA.

    ``records`` are the kept rows of the force's CSPs and any of its rows placed in other forces' CSPs
    (``out_of_force``); ``excluded`` the force's excluded rows. Returns ``status``, ``records``, ``share``.
    """
    in_force = int((~records["out_of_force"]).sum()) if len(records) else 0
    out_force = int(records["out_of_force"].sum()) if len(records) else 0
    reasons = excluded["exclusion_reason"].value_counts() if len(excluded) else pd.Series(dtype="int64")
    rows = [("Placed in a CSP of the force", in_force),
            ("Placed in an LSOA outside the force area", out_force),
            ("No location (blank LSOA)", int(reasons.get("unlocated", 0))),
            ("LSOA code not in the lookups", int(reasons.get("unknown_lsoa", 0)))]
    table = pd.DataFrame(rows, columns=["status", "records"])
    total = table["records"].sum()
    table["share"] = table["records"] / total if total else float("nan")
    return table


def exclusions_table(excluded: pd.DataFrame, by: str = "month") -> pd.DataFrame:
    """Excluded rows by reason and ``by`` (a column such as ``month``), as a wide count table."""
    if not len(excluded):
        return pd.DataFrame()
    return (excluded.groupby([by, "exclusion_reason"], observed=True).size().unstack(fill_value=0)
            .sort_index())


def reconciliation_table(report: dict) -> pd.DataFrame:
    """The ingest reconciliation (``reconciliation.json``) as a table: rows in, kept, excluded by reason."""
    rows = [("Rows read", report["rows_in"]), ("Rows kept", report["rows_kept"])]
    rows += [(f"Excluded: {reason.replace('_', ' ')}", n) for reason, n in report["excluded_by_reason"].items()]
    rows.append(("Check: read = kept + excluded", "yes" if report["balanced"] else "NO"))
    return pd.DataFrame(rows, columns=["item", "rows"])
