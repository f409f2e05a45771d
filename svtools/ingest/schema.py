"""Canonical record schemas, enforced with pandera.

``POLICE_EXTRACT`` is the record-level police schema of ``../shared/docs/data_formats.md`` §1 plus the columns
svtools derives (month, financial year, offence group, geography); ``POLICE_UK`` is the data.police.uk street-level
schema. :func:`validate_records` is the last step of every ingest: what reaches ``data/processed`` has these
types and ranges, or the ingest fails with the column named.

The schemas are written once, as data (:data:`_SPECS`: per column the dtype, whether it may be missing, and its
checks). :func:`validate_records` first evaluates exactly those rules itself, vectorised (a pattern or a list of
allowed values is tested once per distinct value, which is the same test); only when a rule fails, or a dtype
is not the one the ingest makes, does it hand the frame to pandera, which then decides and words the error. So
every batch is held to the pandera schema, and pandera (0.5 s to import) is imported only to report a failure
or when ``POLICE_EXTRACT`` / ``POLICE_UK`` are asked for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError

__all__ = [
    "SEX_CATEGORIES",
    "ETHNICITY_CATEGORIES",
    "REQUIRED_EXTRACT_COLUMNS",
    "OPTIONAL_EXTRACT_COLUMNS",
    "RECORD_LEVEL_COLUMNS",
    "POLICE_EXTRACT",
    "POLICE_UK",
    "schema_for",
    "validate_records",
    "check_records",
]

SEX_CATEGORIES = ["F", "M", "X"]
#: ONS 2021 high-level ethnic groups.
ETHNICITY_CATEGORIES = ["Asian", "Black", "Mixed", "White", "Other"]

REQUIRED_EXTRACT_COLUMNS = ["crime_ref", "recorded_date", "ho_offence_code", "knife_flag"]
OPTIONAL_EXTRACT_COLUMNS = [
    "occurred_at", "domestic_flag", "lsoa_code", "location_type", "victim_id", "victim_age", "victim_sex",
    "victim_ethnicity", "suspect_id", "suspect_age", "suspect_sex", "reporting_force",
]
#: Columns that identify a record or a person: never published (checked by the publishing tests).
RECORD_LEVEL_COLUMNS = ["crime_ref", "victim_id", "suspect_id", "occurred_at", "recorded_date"]

# A column: (dtype, nullable, checks). A check is ("in_range", lo, hi) (inclusive), ("ge", lo),
# ("str_matches", pattern) or ("isin", values); missing values are never checked (pandera's ignore_na).
_SEX = ("category", SEX_CATEGORIES)
_AGE = ("Int16", True, [("in_range", 0, 110)])
_TEXT = ("string", True, [])
_CODE = r"^[EW]\d{8}$"
_GEO = {
    "lsoa_code": ("string", False, [("str_matches", r"^[EW]01\d{6}$")]),
    "lad_code": ("string", False, []),
    "csp_code": ("string", False, [("str_matches", _CODE)]),
    "csp_name": ("string", False, []),
    "pfa_code": ("string", False, [("str_matches", _CODE)]),
    "pfa_name": ("string", False, []),
    "country": ("string", False, [("isin", ["England", "Wales"])]),
    "imd_decile": ("Int8", True, [("in_range", 1, 10)]),
    "out_of_force": ("bool", False, []),
    "month": ("datetime64[ns]", False, []),
    "financial_year": ("string", False, [("str_matches", r"^\d{4}/\d{2}$")]),
}
_SPECS = {
    "police_extract": {
        "crime_ref": ("string", False, []),
        "recorded_date": ("datetime64[ns]", False, []),
        "occurred_at": ("datetime64[ns]", True, []),
        "occurred_hour": ("Int8", True, [("in_range", 0, 23)]),
        "ho_offence_code": ("string", False, []),
        "offence_description": ("string", False, []),
        "offence_group": ("string", False, []),
        "offence_subgroup": ("string", False, []),
        "severity_weight": ("float", True, [("ge", 0)]),
        "knife_flag": ("boolean", False, []),
        "domestic_flag": ("boolean", True, []),
        "location_type": _TEXT,
        "victim_id": _TEXT,
        "victim_age": _AGE,
        "victim_age_min": _AGE,
        "victim_age_max": _AGE,
        "victim_sex": (_SEX, True, []),
        "victim_ethnicity": (("category", ETHNICITY_CATEGORIES), True, []),
        "victim_under_25": ("boolean", True, []),
        "suspect_id": _TEXT,
        "suspect_age": _AGE,
        "suspect_age_min": _AGE,
        "suspect_age_max": _AGE,
        "suspect_sex": (_SEX, True, []),
        "reporting_force": _TEXT,
        **_GEO,
    },
    "police_uk": {
        "crime_ref": _TEXT,
        "recorded_date": ("datetime64[ns]", False, []),
        "crime_type": ("string", False, []),
        "last_outcome": _TEXT,
        "reporting_force": _TEXT,
        **_GEO,
    },
}


# --------------------------------------------------------------------------- pandera (imported when needed)
def _pandera_schema(kind: str):
    import pandera.pandas as pa

    def check(spec):
        name, *args = spec
        if name == "in_range":
            return pa.Check.in_range(*args)
        if name == "ge":
            return pa.Check.ge(*args)
        if name == "str_matches":
            return pa.Check.str_matches(*args)
        return pa.Check.isin(*args)

    def dtype(spec):
        if isinstance(spec, tuple):
            return pd.CategoricalDtype(spec[1])
        return {"float": float, "bool": bool}.get(spec, spec)

    columns = {name: pa.Column(dtype(d), [check(c) for c in checks] or None, nullable=nullable)
               for name, (d, nullable, checks) in _SPECS[kind].items()}
    return pa.DataFrameSchema(columns, strict=True, name=kind)


_SCHEMAS: dict = {}


def _schema(kind: str):
    if kind not in _SCHEMAS:
        _SCHEMAS[kind] = _pandera_schema(kind)
    return _SCHEMAS[kind]


def __getattr__(name: str):
    if name in ("POLICE_EXTRACT", "POLICE_UK"):
        return _schema(name.lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def schema_for(kind: str):
    """The pandera schema for ``police_extract`` or ``police_uk``."""
    if kind not in _SPECS:
        raise DataValidationError(f"unknown schema '{kind}' (known: police_extract, police_uk)")
    return _schema(kind)


# --------------------------------------------------------------------------- the rules, evaluated directly
_EXACT_DTYPES = {
    "string": pd.StringDtype("pyarrow"),
    "datetime64[ns]": np.dtype("datetime64[ns]"),
    "Int8": pd.Int8Dtype(),
    "Int16": pd.Int16Dtype(),
    "float": np.dtype("float64"),
    "bool": np.dtype("bool"),
    "boolean": pd.BooleanDtype(),
}


def _dtype_is(series: pd.Series, spec) -> bool:
    """True when ``series`` has exactly the dtype the ingest makes for ``spec`` (which pandera accepts)."""
    dtype = series.dtype
    if isinstance(spec, tuple):
        return (isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered
                and list(dtype.categories) == list(spec[1]) and dtype.categories.dtype == pd.Index(spec[1]).dtype)
    want = _EXACT_DTYPES[spec]
    return type(dtype) is type(want) and dtype == want


def _holds(series: pd.Series, check, rows: np.ndarray | None = None) -> bool:
    """The check on the non-missing values of ``series`` (its ``rows``; None: all); a pattern or a list is
    tested once per distinct value (of every row first: when they all pass, so do those of ``rows``)."""
    name, *args = check
    if name in ("str_matches", "isin"):
        values = pd.Series(series.unique(), dtype=series.dtype).dropna()

        def passes(values: pd.Series) -> bool:
            ok = values.str.match(args[0], na=False) if name == "str_matches" else values.isin(args[0])
            return bool(ok.all())

        if passes(values):
            return True
        if rows is None:
            return False
        return passes(pd.Series(series.take(rows).unique(), dtype=series.dtype).dropna())
    values = series if rows is None else series.take(rows)
    if not values.count():
        return True
    lo, hi = values.min(), values.max()  # missing values skipped
    if name == "in_range":
        return bool(args[0] <= lo and hi <= args[1])
    return bool(lo >= args[0])


def _conforms(frame: pd.DataFrame, kind: str, rows: np.ndarray | None = None) -> bool:
    """Whether ``frame`` (its ``rows``; None: all) meets every rule of the schema (columns, dtypes, missing
    values, checks)."""
    spec = _SPECS[kind]
    if len(frame.columns) != len(spec) or set(frame.columns) != set(spec) or not frame.columns.is_unique:
        return False
    for name, (dtype, nullable, checks) in spec.items():
        s = frame[name]
        if not _dtype_is(s, dtype):
            return False
        if not nullable:
            missing = s.isna().to_numpy()
            if (missing if rows is None else missing[rows]).any():
                return False
        if not all(_holds(s, c, rows) for c in checks):
            return False
    return True


def check_records(frame: pd.DataFrame, kind: str, source: str | None = None,
                  rows: np.ndarray | None = None) -> None:
    """:func:`validate_records` of ``frame.take(rows)`` (``rows`` None: the whole frame), without making that
    copy unless a rule fails (then pandera gets exactly the records :func:`validate_records` would)."""
    if kind not in _SPECS:
        raise DataValidationError(f"unknown schema '{kind}' (known: police_extract, police_uk)")
    try:
        if _conforms(frame, kind, rows):
            return
    except Exception:  # noqa: BLE001 - anything unexpected: pandera decides
        pass
    validate_records(frame if rows is None else frame.take(rows).reset_index(drop=True), kind, source)


def validate_records(frame: pd.DataFrame, kind: str, source: str | None = None) -> pd.DataFrame:
    """Validate typed records against the canonical schema; raise :class:`DataValidationError` naming the column."""
    if kind not in _SPECS:
        raise DataValidationError(f"unknown schema '{kind}' (known: police_extract, police_uk)")
    try:
        if _conforms(frame, kind):
            return frame
    except Exception:  # noqa: BLE001 - anything unexpected: pandera decides
        pass
    import pandera.pandas as pa

    schema = schema_for(kind)
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = str(first.get("column") or first.get("schema_context"))
        examples = cases.loc[cases["column"] == first.get("column"), "failure_case"].head(5).tolist()
        raise DataValidationError(
            f"records break the '{kind}' schema: {first.get('check')}",
            file=source, column=column, examples=examples, n_bad=int((cases["column"] == first.get("column")).sum()),
        ) from None
