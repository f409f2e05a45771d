"""From a batch of source text to canonical typed records, as the mapping (v2) says.

:func:`standardise_extract` handles ``kind: records`` (a force's crime × victim extract, ``data_formats.md`` §1),
:func:`standardise_police_uk` the data.police.uk street files. Both return the typed batch and the
:class:`~svtools.ingest.parse.Problems` (row-level reasons and attribute-level counts). Fields the mapping does
not give, or optional columns absent from the file, are missing for every row: unknown, never a default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.config import settings
from svtools.errors import DataValidationError
from svtools.ingest.geography import LSOA_PATTERN, areas
from svtools.ingest.mapping import FieldSpec, Mapping
from svtools.ingest.parse import (
    Problems,
    strings_by_code,
    apply_blank,
    out_of_window,
    parse_age,
    parse_category,
    parse_dates_multi,
    parse_flag,
    parse_offence_code,
    parse_times,
)
from svtools.ingest.reference import css_weights, offence_codes
from svtools.ingest.schema import ETHNICITY_CATEGORIES, SEX_CATEGORIES

__all__ = ["standardise_extract", "standardise_police_uk", "financial_year", "FIELD_USES"]

#: What the pages leave out when a field is absent (for the warning an optional, absent column gives).
FIELD_USES = {
    "occurred_at": "the time-of-day and day-of-week tables",
    "domestic_flag": "the domestic-abuse split",
    "lsoa_code": "every place-based table (rows without an LSOA are excluded as unlocated)",
    "location_type": "the location-type table",
    "victim_id": "repeat-victim measures",
    "victim_age": "the under-25 measures and the victim age tables",
    "victim_sex": "the victim sex split",
    "victim_ethnicity": "the victim ethnicity table",
    "suspect_id": "repeat-suspect measures",
    "suspect_age": "the suspect age tables",
    "suspect_sex": "the suspect sex split",
    "reporting_force": "the out-of-force check (the force is taken from each LSOA)",
    "last_outcome": "outcome tables",
}


def financial_year(dates: pd.Series) -> pd.Series:
    """Financial year label (April to March) of each date, e.g. 2019-04-01 -> "2019/20", 2020-03-31 -> "2019/20"."""
    dates = pd.to_datetime(dates)
    if isinstance(dates, pd.Series) and isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":
        return _financial_year_ns(dates).rename(dates.name)
    start = dates.dt.year - (dates.dt.month < 4).astype(int)
    label = start.astype("Int64").astype("string") + "/" + ((start + 1) % 100).astype("Int64").astype(
        "string").str.zfill(2)
    return label.astype("string")


def _financial_year_ns(dates: pd.Series) -> pd.Series:
    """:func:`financial_year` of datetime64 values: integer arithmetic, one label per distinct year."""
    months = dates.to_numpy().astype("datetime64[M]")
    known = ~np.isnat(months)
    m = months.astype("int64")                          # months since 1970-01
    start = np.where(known, (m - 3) // 12 + 1970, 0)     # April 1970 .. March 1971 -> 1970
    if not known.any():
        return strings_by_code(pd.Series([], dtype="string"), np.full(len(m), -1, dtype=np.int64), dates.index)
    first = int(start[known].min())
    years = range(first, int(start[known].max()) + 1)   # a label for every year in the range: no sort
    labels = pd.Series([f"{y}/{(y + 1) % 100:02d}" for y in years], dtype="string")
    pos = np.where(known, start - first, -1)
    return strings_by_code(labels, pos, dates.index)


def _missing(index, dtype="string") -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype=dtype)


def _col(raw: dict, spec: FieldSpec | None, index) -> pd.Series:
    if spec is None or spec.column is None or spec.column not in raw:
        return _missing(index)
    return raw[spec.column]


def _text_field(raw, mapping: Mapping, name: str, index, pr: Problems, required: bool = False) -> pd.Series:
    if name in mapping.constants:
        return pd.Series(str(mapping.constants[name]), index=index, dtype="string")
    spec = mapping.fields.get(name)
    s = _col(raw, spec, index)
    if spec is not None and spec.column in raw:
        s = apply_blank(s, spec, required, pr, "row" if required else "attribute")
        if spec.values:
            table = {str(k): v for k, v in spec.values.items()}
            # the same Series.map, once per distinct value (and once for a blank, if any: the set of results, so
            # the dtype pandas infers for them, is the same as over every row)
            codes, uniques = pd.factorize(s)
            distinct = pd.Series(pd.concat([pd.Series(uniques), pd.Series([pd.NA] * bool((codes < 0).any()),
                                                                          dtype=s.dtype)], ignore_index=True))
            text_u = distinct.map(lambda v: table.get(v, v) if v is not pd.NA else v).astype("string")
            s = strings_by_code(text_u.iloc[:len(uniques)], codes, index)
    return s


def _dates(raw, mapping: Mapping, name: str, index, pr: Problems, required: bool) -> tuple[pd.Series, np.ndarray]:
    """A date or date-time field; returns the timestamps and a mask of values with a known time of day."""
    spec = mapping.fields.get(name)
    level = pr.row if required else pr.attribute
    if spec is None or not any(c in raw for c in spec.source_columns):
        return _missing(index, "datetime64[ns]"), np.zeros(len(index), dtype=bool)
    if spec.date_column:
        text = apply_blank(raw[spec.date_column], spec, required, pr, "row" if required else "attribute")
        parsed, timed = parse_dates_multi(text, spec.formats)
        if spec.time_column and spec.time_column in raw:
            ttext = raw[spec.time_column]
            tod = parse_times(ttext, spec.time_formats)
            bad = pr.attribute(ttext.notna() & tod.isna(), name, f"unparseable time(s) of day (formats "
                               f"{list(spec.time_formats)})", f"invalid_{name}_time", ttext)
            tod = tod.mask(bad)
            has = tod.notna().to_numpy() & parsed.notna().to_numpy()
            parsed = parsed.where(~has, parsed + tod)
            timed = timed | has
    else:
        text = apply_blank(raw[spec.column], spec, required, pr, "row" if required else "attribute")
        parsed, timed = parse_dates_multi(text, spec.formats)
    bad = level(text.notna() & parsed.isna(), name, f"unparseable date(s) (formats {list(spec.formats)})",
                "unparseable_date" if required else f"invalid_{name}", text)
    start, end = mapping.window()
    outside = out_of_window(parsed, (start, end))
    bad2 = level(outside, name, f"date(s) outside the plausible window {start} to {end} (set 'date_window:' in "
                 "the mapping if older records are expected)", "date_out_of_window" if required
                 else f"invalid_{name}", text)
    if not required:
        drop = np.asarray(bad, dtype=bool) | np.asarray(bad2, dtype=bool)
        parsed = parsed.mask(drop)
        timed = timed & ~drop
    return parsed.astype("datetime64[ns]"), timed


def _force(raw, mapping: Mapping, index, pr: Problems) -> pd.Series:
    """The reporting force as a PFA code: a constant or a column; codes and force names are both understood."""
    area = areas()
    lookup = {}
    for code, name in zip(area["pfa_code"], area["pfa_name"]):
        lookup[code.casefold()] = code
        lookup[str(name).casefold()] = code
    spec = mapping.fields.get("reporting_force")
    if spec is not None:
        for k, v in spec.values.items():
            lookup[str(k).casefold()] = v
    if "reporting_force" in mapping.constants:
        value = str(mapping.constants["reporting_force"])
        code = lookup.get(value.casefold())
        if code is None:
            raise DataValidationError(f"constants.reporting_force {value!r} is not a police force area code or "
                                      "name in the lookups", file=mapping.path, column="reporting_force",
                                      examples=sorted(set(area["pfa_code"]))[:5])
        return pd.Series(code, index=index, dtype="string")
    s = _col(raw, spec, index)
    if spec is None or spec.column not in raw:
        return s
    codes, uniques = pd.factorize(s)
    text_u = pd.Series([lookup.get(str(u).casefold()) for u in uniques], dtype="string")
    out = strings_by_code(text_u, codes, index)
    bad = s.notna().to_numpy() & out.isna().to_numpy()
    pr.row(bad, "reporting_force", "unknown force name(s) or code(s); map them in 'fields: reporting_force: "
           "values:' to PFA codes", "unknown_force", s)
    return out


def _lsoa(raw, mapping: Mapping, index, pr: Problems) -> pd.Series:
    spec = mapping.fields.get("lsoa_code")
    s = _col(raw, spec, index).str.upper()
    pr.row(s.notna() & ~s.str.match(LSOA_PATTERN.pattern).fillna(False), "lsoa_code",
           "malformed LSOA code(s) (expected E01 or W01 and six digits)", "malformed_lsoa", s)
    return s


def scope_reason(value: str) -> str:
    """The exclusion reason of a value named in the mapping's ``exclude:`` rules: "Anti-social behaviour" ->
    ``anti_social_behaviour``."""
    return "_".join(str(value).lower().replace("-", " ").split())


def _scope(out: pd.DataFrame, mapping: Mapping, pr: Problems) -> None:
    """Rows the mapping's ``exclude:`` rules put out of scope (counted by reason, never against the limit)."""
    for col, values in (mapping.exclude or {}).items():
        hit = out[col].isin(values) & pr.reasons.isna()
        for v in values:
            sel = hit & (out[col] == v)
            pr.reasons[sel] = scope_reason(v)


def _periods(out: pd.DataFrame) -> None:
    recorded = out["recorded_date"]
    if recorded.dtype == np.dtype("datetime64[ns]"):  # the first of the month, by integer arithmetic
        month = recorded.to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
        out["month"] = pd.Series(month, index=recorded.index)
        out["financial_year"] = _financial_year_ns(recorded)
        return
    out["month"] = recorded.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
    out["financial_year"] = financial_year(recorded)


def standardise_extract(raw: dict[str, pd.Series], mapping: Mapping, file: str = "", strict: bool = True,
                        line_offset: int = 0) -> tuple[pd.DataFrame, Problems]:
    """Turn one batch of a police extract's text columns into canonical typed columns.

    Parameters
    ----------
    raw : dict of str -> Series
        Source column name -> text (missing where blank), all with the same index.
    mapping : Mapping
        The source system's mapping (v2).
    file : str
        The file the batch comes from (for messages).
    strict : bool
        Raise on the first bad value (True) or record reasons (False).
    line_offset : int
        Rows of the file before this batch (so messages give the file's line numbers).
    """
    index = next(iter(raw.values())).index
    pr = Problems(file, mapping, strict, index, line_offset)
    out = pd.DataFrame(index=index)
    out["crime_ref"] = _text_field(raw, mapping, "crime_ref", index, pr, required=True)
    pr.row(out["crime_ref"].isna(), "crime_ref", "blank crime reference", "blank_crime_ref", out["crime_ref"])
    out["recorded_date"], _ = _dates(raw, mapping, "recorded_date", index, pr, required=True)
    pr.row(out["recorded_date"].isna(), "recorded_date", "blank recorded date", "unparseable_date",
           _col(raw, mapping.fields.get("recorded_date"), index))
    occurred, timed = _dates(raw, mapping, "occurred_at", index, pr, required=False)
    out["occurred_at"] = occurred
    hour = np.where(timed, occurred.dt.hour.fillna(0).to_numpy(), 0).astype("int8")
    out["occurred_hour"] = pd.arrays.IntegerArray(hour, ~np.asarray(timed, dtype=bool))

    spec = mapping.fields.get("ho_offence_code")
    text = apply_blank(_col(raw, spec, index), spec, True, pr, "row") if spec else _missing(index)
    known = offence_codes()
    code = parse_offence_code(text, spec, known, pr) if spec else _text_field(raw, mapping, "ho_offence_code",
                                                                               index, pr)
    out["ho_offence_code"] = code
    k = known.set_index("ho_offence_code")
    weights = css_weights().set_index("ho_offence_code")["severity_weight"]
    if k.index.is_unique and weights.index.is_unique:  # Series.map once per distinct code, then a take
        codes, uniques = pd.factorize(code)
        distinct = pd.Series(uniques)
        for c_out, c_in in (("offence_description", "description"), ("offence_group", "offence_group"),
                            ("offence_subgroup", "offence_subgroup")):
            out[c_out] = strings_by_code(distinct.map(k[c_in]).astype("string"), codes, index)
        w = distinct.map(weights).astype("float64").to_numpy()
        out["severity_weight"] = pd.Series(np.append(w, np.nan)[np.where(codes < 0, len(w), codes)], index=index)
    else:
        for c_out, c_in in (("offence_description", "description"), ("offence_group", "offence_group"),
                            ("offence_subgroup", "offence_subgroup")):
            out[c_out] = code.map(k[c_in]).astype("string")
        out["severity_weight"] = code.map(weights).astype("float64")

    for name, required in (("knife_flag", True), ("domestic_flag", False)):
        spec = mapping.fields.get(name)
        if name in mapping.constants:
            out[name] = pd.arrays.BooleanArray(np.full(len(index), bool(mapping.constants[name])),
                                               np.zeros(len(index), dtype=bool))
        elif spec is None or spec.column not in raw:
            out[name] = pd.arrays.BooleanArray(np.zeros(len(index), dtype=bool), np.ones(len(index), dtype=bool))
        else:
            s = apply_blank(raw[spec.column], spec, required, pr, "row" if required else "attribute")
            out[name] = parse_flag(s, spec, pr, "row" if required else "attribute")
    pr.row(out["knife_flag"].isna(), "knife_flag", "blank knife flag in a required field (say what a blank means "
           "with 'blank: false' if a blank weapon field means no knife)", "invalid_knife_flag",
           _col(raw, mapping.fields.get("knife_flag"), index))

    out["lsoa_code"] = _lsoa(raw, mapping, index, pr)
    out["location_type"] = _text_field(raw, mapping, "location_type", index, pr)
    by_dob = any(getattr(mapping.fields.get(f"{r}_age"), "date_of_birth", None) for r in ("victim", "suspect"))
    # the offence date, for an age from a date of birth (otherwise only its index is used)
    date_for_age = occurred.dt.normalize().fillna(out["recorded_date"]) if by_dob else out["recorded_date"]
    for role in ("victim", "suspect"):
        out[f"{role}_id"] = _text_field(raw, mapping, f"{role}_id", index, pr)
        spec = mapping.fields.get(f"{role}_age")
        if spec is not None and all(c in raw for c in spec.source_columns):
            ages = parse_age(raw, spec, pr, date_for_age)
        else:
            ages = {k: _missing(index, "Int16") for k in ("age", "age_min", "age_max")}
        out[f"{role}_age"] = ages["age"]
        out[f"{role}_age_min"] = ages["age_min"]
        out[f"{role}_age_max"] = ages["age_max"]
        for attr, cats in (("sex", SEX_CATEGORIES), ("ethnicity", ETHNICITY_CATEGORIES)):
            if role == "suspect" and attr == "ethnicity":
                continue
            name = f"{role}_{attr}"
            spec = mapping.fields.get(name)
            s = _col(raw, spec, index)
            if spec is not None and spec.column in raw:
                s = apply_blank(s, spec, False, pr, "attribute")
                out[name] = parse_category(s, spec, cats, pr)
            else:
                out[name] = pd.Categorical.from_codes(np.full(len(index), -1, dtype=np.int8), categories=cats)
    under = settings()["age_bands"]["under_25_max_age"]
    lo, hi = out["victim_age_min"], out["victim_age_max"]
    young = (hi <= under).fillna(False).to_numpy()
    old_ = (lo > under).fillna(False).to_numpy()
    out["victim_under_25"] = pd.arrays.BooleanArray(young & ~old_, ~(young | old_))
    out["reporting_force"] = _force(raw, mapping, index, pr)
    _periods(out)
    return out, pr


def standardise_police_uk(raw: dict[str, pd.Series], mapping: Mapping, file: str = "", strict: bool = True,
                          line_offset: int = 0) -> tuple[pd.DataFrame, Problems]:
    """Typed data.police.uk street-level records; out-of-scope rows (anti-social behaviour) marked by reason."""
    index = next(iter(raw.values())).index
    pr = Problems(file, mapping, strict, index, line_offset)
    out = pd.DataFrame(index=index)
    out["crime_ref"] = _text_field(raw, mapping, "crime_ref", index, pr)
    out["recorded_date"], _ = _dates(raw, mapping, "recorded_date", index, pr, required=True)
    pr.row(out["recorded_date"].isna(), "recorded_date", "blank month", "unparseable_date",
           _col(raw, mapping.fields.get("recorded_date"), index))
    out["crime_type"] = _text_field(raw, mapping, "crime_type", index, pr, required=True)
    pr.row(out["crime_type"].isna(), "crime_type", "blank crime type", "blank_crime_type", out["crime_type"])
    out["last_outcome"] = _text_field(raw, mapping, "last_outcome", index, pr)
    out["reporting_force"] = _force(raw, mapping, index, pr)
    out["lsoa_code"] = _lsoa(raw, mapping, index, pr)
    _periods(out)
    return out, pr


def scope(out: pd.DataFrame, mapping: Mapping, pr: Problems) -> None:
    """Apply the mapping's ``exclude:`` rules (public for the records pipeline)."""
    _scope(out, mapping, pr)
