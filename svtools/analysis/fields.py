"""What a record knows: ages (exact or banded), the under-25 status, the hour of the offence.

Unknown is never zero. A record whose victim age is not recorded is neither under 25 nor 25 and over; a record
whose hour is not recorded is in no hour of the day. The functions here return masks and values with the
unknown kept as NA, so every count built on them can say how many records it could not place.

Ages come in two shapes (``docs/data_model.md``):

* exact: ``<role>_age`` (whole years);
* banded: ``<role>_age_min`` and ``<role>_age_max`` (inclusive; equal when the age is exact), with
  ``<role>_age`` NA for the banded rows. ``victim_under_25`` is True or False when the band lies wholly on
  one side of 24/25 and NA when it straddles it (or the age is unknown).

Datasets without the band columns (every dataset ingested before they existed) work unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "AGE_FIELDS",
    "age_bounds",
    "age_known",
    "banded",
    "field_columns",
    "field_known",
    "hours",
    "in_age_range",
    "relevant_rows",
    "under25_status",
]

#: Logical fields whose knowledge spans several columns (the first column is the canonical one).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "victim_age": ("victim_age", "victim_age_min"),
    "suspect_age": ("suspect_age", "suspect_age_min"),
    "victim_under_25": ("victim_under_25", "victim_age", "victim_age_min"),
    "occurred_hour": ("occurred_hour",),
    "occurred_at": ("occurred_at",),
}
AGE_FIELDS = ("victim_age", "suspect_age")


def field_columns(field: str) -> tuple[str, ...]:
    """The columns that can carry ``field`` (``victim_age`` is also carried by its band columns)."""
    return FIELD_COLUMNS.get(field, (field,))


def _float(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def age_bounds(frame: pd.DataFrame, role: str = "victim") -> tuple[pd.Series, pd.Series]:
    """(lowest, highest) possible age of each record in years, NaN where nothing is known.

    The exact age wins; otherwise the band ``<role>_age_min``-``<role>_age_max``. A band with only one end is
    open: "65 and over" (min 65, no max) runs to infinity, "under 18" (max 17, no min) starts at 0.
    """
    exact = _float(frame, f"{role}_age")
    lo = exact.where(exact.notna(), _float(frame, f"{role}_age_min"))
    hi = exact.where(exact.notna(), _float(frame, f"{role}_age_max"))
    lo2 = lo.where(lo.notna() | hi.isna(), 0.0)
    hi2 = hi.where(hi.notna() | lo.isna(), np.inf)
    return lo2, hi2


def banded(frame: pd.DataFrame, role: str = "victim") -> np.ndarray:
    """True for records whose age is known only as a band (no exact age, a band that is wider than a year)."""
    exact = _float(frame, f"{role}_age")
    lo, hi = _float(frame, f"{role}_age_min"), _float(frame, f"{role}_age_max")
    return (exact.isna() & (lo.notna() | hi.notna()) & ~(lo == hi)).to_numpy(bool)


def age_known(frame: pd.DataFrame, role: str = "victim") -> np.ndarray:
    """True where the record holds an exact age or a band (closed or open)."""
    lo, hi = age_bounds(frame, role)
    return (lo.notna() & hi.notna()).to_numpy(bool)


def in_age_range(frame: pd.DataFrame, lo: float, hi: float, role: str = "victim") -> pd.Series:
    """Whether each record's age lies in ``lo``-``hi`` (inclusive): True when the age (or its whole band) is
    inside, False when it is wholly outside, NA when unknown or when the band straddles an end."""
    a, b = age_bounds(frame, role)
    inside = (a >= lo) & (b <= hi)
    outside = (b < lo) | (a > hi)
    out = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    out[inside.to_numpy(bool)] = True
    out[outside.to_numpy(bool)] = False
    return out


def under25_status(frame: pd.DataFrame, max_age: int = 24) -> pd.Series:
    """Whether each record's victim was under 25 (aged ``max_age`` or under): True, False or NA (unknown).

    The exact ``victim_age`` wins; where it is NA, ``victim_under_25`` (the ingest's flag, NA for a band that
    straddles 24/25) and then the band columns are used.
    """
    out = in_age_range(frame, -np.inf, max_age, "victim")
    if "victim_under_25" in frame.columns:
        flag = frame["victim_under_25"].astype("boolean")
        exact = _float(frame, "victim_age").notna().to_numpy(bool)
        use_flag = (~exact) & flag.notna().to_numpy(bool)
        out[use_flag] = flag[use_flag]
    return out


def hours(frame: pd.DataFrame) -> pd.Series:
    """Hour of the day (0-23) each offence started, NA where not recorded (Float64).

    ``occurred_hour`` when the records have it (the ingest sets it only when the source gives a time). Without
    that column the hour is read from ``occurred_at`` only when the column holds times at all: a column whose
    every value is at midnight holds dates, and midnight is then "no time recorded", never the hour 00.
    No ``occurred_at`` means no hours.
    """
    when = (pd.to_datetime(frame["occurred_at"], errors="coerce") if "occurred_at" in frame.columns
            else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    if "occurred_hour" in frame.columns:
        h = pd.to_numeric(frame["occurred_hour"], errors="coerce").astype("Float64")
        return h.where(when.notna().to_numpy(bool) | ("occurred_at" not in frame.columns))
    h = when.dt.hour.astype("Float64")
    ok = when.notna()
    at_midnight = ok & (when.dt.hour == 0) & (when.dt.minute == 0) & (when.dt.second == 0)
    if not (ok & ~at_midnight).any():
        return pd.Series(pd.NA, index=frame.index, dtype="Float64")
    return h.where(ok.to_numpy(bool))


def relevant_rows(frame: pd.DataFrame, field: str) -> np.ndarray:
    """Rows on which ``field`` is judged: victim fields on records with a victim, suspect fields on records
    with a suspect (when the id column exists), everything else on every record."""
    for role in ("victim", "suspect"):
        if field.startswith(role + "_") and f"{role}_id" in frame.columns:
            return frame[f"{role}_id"].notna().to_numpy(bool)
    return np.ones(len(frame), dtype=bool)


def field_known(frame: pd.DataFrame, field: str) -> np.ndarray | None:
    """True where the record knows ``field`` (None when the frame has none of its columns)."""
    cols = [c for c in field_columns(field) if c in frame.columns]
    if field == "occurred_hour" and ("occurred_hour" in frame.columns or "occurred_at" in frame.columns):
        return hours(frame).notna().to_numpy(bool)
    if not cols:
        return None
    if field in AGE_FIELDS:
        return age_known(frame, field.split("_")[0])
    if field == "victim_under_25":
        return under25_status(frame).notna().to_numpy(bool)
    return frame[cols[0]].notna().to_numpy(bool)
