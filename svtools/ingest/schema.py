"""Canonical record schemas, enforced with pandera.

``POLICE_EXTRACT`` is the record-level police schema of ``../shared/docs/data_formats.md`` §1 plus the columns
svtools derives (month, financial year, offence group, geography); ``POLICE_UK`` is the data.police.uk street-level
schema. :func:`validate_records` is the last step of every ingest: what reaches ``data/processed`` has these
types and ranges, or the ingest fails with the column named.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

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

_age = pa.Column("Int16", pa.Check.in_range(0, 110), nullable=True)
_sex = pa.Column(pd.CategoricalDtype(SEX_CATEGORIES), nullable=True)
_text = pa.Column("string", nullable=True)
_geo = {
    "lsoa_code": pa.Column("string", pa.Check.str_matches(r"^[EW]01\d{6}$")),
    "lad_code": pa.Column("string"),
    "csp_code": pa.Column("string", pa.Check.str_matches(r"^[EW]\d{8}$")),
    "csp_name": pa.Column("string"),
    "pfa_code": pa.Column("string", pa.Check.str_matches(r"^[EW]\d{8}$")),
    "pfa_name": pa.Column("string"),
    "country": pa.Column("string", pa.Check.isin(["England", "Wales"])),
    "imd_decile": pa.Column("Int8", pa.Check.in_range(1, 10), nullable=True),
    "out_of_force": pa.Column(bool),
    "month": pa.Column("datetime64[ns]"),
    "financial_year": pa.Column("string", pa.Check.str_matches(r"^\d{4}/\d{2}$")),
}

POLICE_EXTRACT = pa.DataFrameSchema(
    {
        "crime_ref": pa.Column("string"),
        "recorded_date": pa.Column("datetime64[ns]"),
        "occurred_at": pa.Column("datetime64[ns]", nullable=True),
        "occurred_hour": pa.Column("Int8", pa.Check.in_range(0, 23), nullable=True),
        "ho_offence_code": pa.Column("string"),
        "offence_description": pa.Column("string"),
        "offence_group": pa.Column("string"),
        "offence_subgroup": pa.Column("string"),
        "severity_weight": pa.Column(float, pa.Check.ge(0), nullable=True),
        "knife_flag": pa.Column("boolean"),
        "domestic_flag": pa.Column("boolean", nullable=True),
        "location_type": _text,
        "victim_id": _text,
        "victim_age": _age,
        "victim_age_min": _age,
        "victim_age_max": _age,
        "victim_sex": _sex,
        "victim_ethnicity": pa.Column(pd.CategoricalDtype(ETHNICITY_CATEGORIES), nullable=True),
        "victim_under_25": pa.Column("boolean", nullable=True),
        "suspect_id": _text,
        "suspect_age": _age,
        "suspect_age_min": _age,
        "suspect_age_max": _age,
        "suspect_sex": _sex,
        "reporting_force": _text,
        **_geo,
    },
    strict=True,
    name="police_extract",
)

POLICE_UK = pa.DataFrameSchema(
    {
        "crime_ref": _text,
        "recorded_date": pa.Column("datetime64[ns]"),
        "crime_type": pa.Column("string"),
        "last_outcome": _text,
        "reporting_force": _text,
        **_geo,
    },
    strict=True,
    name="police_uk",
)


def schema_for(kind: str) -> pa.DataFrameSchema:
    """The pandera schema for ``police_extract`` or ``police_uk``."""
    try:
        return {"police_extract": POLICE_EXTRACT, "police_uk": POLICE_UK}[kind]
    except KeyError:
        raise DataValidationError(f"unknown schema '{kind}' (known: police_extract, police_uk)") from None


def validate_records(frame: pd.DataFrame, kind: str, source: str | None = None) -> pd.DataFrame:
    """Validate typed records against the canonical schema; raise :class:`DataValidationError` naming the column."""
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
