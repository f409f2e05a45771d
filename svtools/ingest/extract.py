"""Ingest: ``data/raw`` (never edited) -> validated, typed parquet in ``data/processed/<dataset>/``.

Steps for every source file: read (checking it is not empty, its encoding and its delimiter) -> rename columns
through the source's column mapping (``config/mappings/*.yaml``) -> parse and check every field -> derive month,
financial year, offence group and severity weight -> assign geography (LSOA -> LAD -> CSP -> PFA) -> validate
against the canonical pandera schema -> write one parquet partition per CSP, the shared tables and a
reconciliation report (rows in = rows kept + rows excluded, by reason).

Bad input raises :class:`~svtools.errors.DataValidationError` naming the file, the column and example rows. With
``on_invalid="exclude"`` the rows with bad *values* are excluded instead, with their reason, and counted; a
structural fault (empty file, wrong delimiter or encoding, missing required column) always raises. Rows that are
valid but cannot be placed in a CSP (blank or unknown LSOA) are excluded with their reason and kept in
``excluded.parquet`` for the data-quality report: nothing is dropped silently.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from svtools import __version__
from svtools.config import read_yaml, settings
from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.geography import LSOA_PATTERN, areas, assign_geography, csp_population, lsoa_geography
from svtools.paths import CONFIG, processed_dir, raw_dir, real_data_dir
from svtools.ingest.reference import AGE_COLUMNS, css_weights, offence_codes, population_lsoa11_wide
from svtools.ingest.schema import (
    ETHNICITY_CATEGORIES,
    OPTIONAL_EXTRACT_COLUMNS,
    REQUIRED_EXTRACT_COLUMNS,
    SEX_CATEGORIES,
    validate_records,
)

__all__ = [
    "Mapping",
    "load_mapping",
    "read_source",
    "standardise_extract",
    "standardise_police_uk",
    "financial_year",
    "ingest_extract",
    "ingest_demo",
    "ingest_police_uk",
    "IngestReport",
]

log = logging.getLogger(__name__)

MAPPINGS_DIR = CONFIG / "mappings"
_HEADER_ROW = 2  # data row i (0-based) is line i + 2 of the file: line 1 is the header


# --------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class Mapping:
    """A source system's column mapping (see ``config/mappings/demo_extract.yaml`` for the keys)."""

    name: str
    schema: str
    columns: dict[str, str]
    values: dict = field(default_factory=dict)
    drop_columns: tuple[str, ...] = ()
    exclude: dict = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str = "%d/%m/%Y"
    datetime_format: str | None = None
    file_pattern: str = "*.csv"
    path: str = ""

    def source(self, canonical: str) -> str:
        """The source column name that feeds a canonical column (for error messages)."""
        return self.columns.get(canonical, canonical)


def load_mapping(name_or_path: str | Path) -> Mapping:
    """Read a column mapping by name (``demo_extract``, ``police_uk``) or path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = MAPPINGS_DIR / f"{name_or_path}.yaml"
    raw = read_yaml(path)
    for key in ("name", "schema", "columns"):
        if key not in raw:
            raise ConfigError(f"{path}: mapping lacks '{key}'")
    required = REQUIRED_EXTRACT_COLUMNS if raw["schema"] == "police_extract" else ["recorded_date", "crime_type"]
    missing = [c for c in required if c not in raw["columns"]]
    if missing:
        raise ConfigError(f"{path}: mapping has no source column for required canonical column(s) {missing}")
    return Mapping(
        name=raw["name"],
        schema=raw["schema"],
        columns={str(k): str(v) for k, v in raw["columns"].items()},
        values=raw.get("values") or {},
        drop_columns=tuple(raw.get("drop_columns") or ()),
        exclude=raw.get("exclude") or {},
        delimiter=raw.get("delimiter", ","),
        encoding=raw.get("encoding", "utf-8"),
        date_format=raw.get("date_format", "%d/%m/%Y"),
        datetime_format=raw.get("datetime_format"),
        file_pattern=raw.get("file_pattern", "*.csv"),
        path=str(path),
    )


# --------------------------------------------------------------------------- reading
def _open_text_head(path: Path, n_bytes: int = 65536) -> bytes:
    if path.suffix == ".gz":
        import gzip

        with gzip.open(path, "rb") as fh:
            return fh.read(n_bytes)
    with path.open("rb") as fh:
        return fh.read(n_bytes)


def read_source(path: str | Path, mapping: Mapping) -> tuple[pd.DataFrame, list[str]]:
    """Read one source file as text columns, checking emptiness, encoding, delimiter and required columns.

    Returns
    -------
    (DataFrame, list of str)
        The rows with canonical column names (all text, blanks as missing), and the source columns dropped
        (known extras in ``drop_columns`` and unknown extras, which are also logged).
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError("file not found", file=str(path))
    head = _open_text_head(path)
    if not head.strip():
        raise DataValidationError("the file is empty", file=str(path))
    try:
        text = head.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the 64 KiB window is not an encoding fault
        if not (exc.start >= len(head) - 4 and len(head) == 65536):
            raise DataValidationError(
                f"is not valid {mapping.encoding} (byte 0x{head[exc.start]:02x} at offset {exc.start}); "
                f"set 'encoding:' in {mapping.path or 'the mapping'} (e.g. cp1252)",
                file=str(path),
            ) from None
        text = head[: exc.start].decode(mapping.encoding)
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if mapping.delimiter not in header:
        seen = [d for d in (";", "\t", "|", ",") if d in header and d != mapping.delimiter]
        hint = f"; the header looks {seen[0]!r}-separated" if seen else ""
        raise DataValidationError(
            f"wrong delimiter: expected {mapping.delimiter!r} as the mapping says{hint}", file=str(path),
            examples=[header[:120]],
        )
    wanted = {v: k for k, v in mapping.columns.items()}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=mapping.encoding),
            parse_options=pacsv.ParseOptions(delimiter=mapping.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={}, strings_can_be_null=True, null_values=[""], auto_dict_encode=False,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DataValidationError(f"cannot be read as CSV: {exc}", file=str(path)) from None
    source_cols = [c.lstrip("\ufeff") for c in table.column_names]
    table = table.rename_columns(source_cols)
    if table.num_rows == 0:
        raise DataValidationError("the file has a header but no rows", file=str(path))
    required = REQUIRED_EXTRACT_COLUMNS if mapping.schema == "police_extract" else ["recorded_date", "crime_type"]
    absent = [c for c in required if mapping.source(c) not in source_cols]
    if absent:
        raise DataValidationError(
            "missing required column(s): " + ", ".join(f"'{mapping.source(c)}' (-> {c})" for c in absent),
            file=str(path), column=mapping.source(absent[0]),
            examples=[f"columns present: {', '.join(source_cols[:12])}"],
        )
    keep = [c for c in source_cols if c in wanted]
    dropped = [c for c in source_cols if c not in wanted]
    unknown = [c for c in dropped if c not in mapping.drop_columns]
    if unknown:
        log.info("%s: dropping unknown columns %s", path, unknown)
    table = table.select(keep)
    # all columns as text: pyarrow may have inferred numbers or timestamps
    columns = {}
    for c in keep:  # text, trimmed, blank -> missing (in arrow: no per-row Python work)
        text = pc.utf8_trim_whitespace(table[c].cast(pa.large_string()))
        columns[wanted[c]] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    frame = pa.table(columns).to_pandas(types_mapper=lambda t: pd.StringDtype() if t == pa.large_string() else None)
    return frame, dropped


# --------------------------------------------------------------------------- fast vectorised helpers
def _arrow(series: pd.Series) -> pa.Array:
    """The pyarrow array behind a pandas string Series (zero copy when it is arrow-backed)."""
    return pa.array(series, type=pa.large_string(), from_pandas=True)


_FIELD_RE = {"%d": r"(?P<d>\d{1,2})", "%m": r"(?P<m>\d{1,2})", "%Y": r"\d{4}", "%H": r"(?P<H>\d{1,2})",
             "%M": r"\d{1,2}", "%S": r"\d{1,2}", "%y": r"\d{2}"}


def _format_regex(fmt: str) -> str:
    out, i = "^", 0
    while i < len(fmt):
        token = fmt[i:i + 2]
        if token in _FIELD_RE:
            out += _FIELD_RE[token]
            i += 2
        else:
            out += re.escape(fmt[i])
            i += 1
    return out + "$"


def parse_datetimes(series: pd.Series, fmt: str) -> pd.Series:
    """Parse text with a strptime format; NaT where it does not parse. Vectorised (pyarrow) and exact.

    Arrow's parser is fast but lenient (31/02 rolls over to 3 March, hour 24 to the next day), so a value is
    accepted from it only when its day, month and hour fields equal those written in the text; every other value is
    parsed again by pandas, which is exact.
    """
    arr = _arrow(series)
    ts = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    fields = pc.extract_regex(arr, _format_regex(fmt))
    same = pc.is_valid(ts)
    for name, part in (("d", pc.day), ("m", pc.month), ("H", pc.hour)):
        if f"(?P<{name}>" in _format_regex(fmt):
            written = pc.cast(pc.struct_field(fields, name), pa.int64())
            same = pc.and_(same, pc.fill_null(pc.equal(written, part(ts)), False))
    out = pd.Series(ts.to_numpy(zero_copy_only=False), index=series.index).astype("datetime64[ns]")
    recheck = series.notna().to_numpy() & ~pc.fill_null(same, False).to_numpy(zero_copy_only=False)
    if recheck.any():
        out[recheck] = pd.to_datetime(series[recheck], format=fmt, errors="coerce").astype("datetime64[ns]")
    return out


def _lookup(series: pd.Series, table: dict) -> tuple[np.ndarray, np.ndarray]:
    """Map each value through ``table`` by factorising first (fast on millions of rows with few distinct values).

    Returns the mapped values (object array, None where unknown or missing) and a boolean "known" mask.
    """
    codes, uniques = pd.factorize(series)
    mapped = np.array([table.get(u, None) for u in uniques] + [None], dtype=object)
    known_u = np.array([u in table for u in uniques] + [False], dtype=bool)
    return mapped[codes], known_u[codes]


def _lookup_strings(series: pd.Series, table: dict) -> pd.Series:
    """Like :func:`_lookup` for text results, built with an arrow ``take`` (no per-row Python objects)."""
    codes, uniques = pd.factorize(series)
    small = pa.array([table.get(u, None) for u in uniques] + [None], type=pa.large_string())
    taken = small.take(pa.array(np.where(codes < 0, len(uniques), codes)))
    return pd.Series(pd.array(taken, dtype="string"), index=series.index)


# --------------------------------------------------------------------------- field parsing
@dataclass
class _Problems:
    """Collects per-row problems: raise on the first (strict) or mark rows for exclusion (lenient)."""

    file: str
    mapping: Mapping
    strict: bool
    index: pd.Index
    reasons: pd.Series = None  # type: ignore[assignment]

    def __post_init__(self):
        self.reasons = pd.Series(pd.NA, index=self.index, dtype="string")

    def flag(self, bad: pd.Series, canonical: str, message: str, reason: str, values: pd.Series | None = None):
        bad = bad.fillna(False).astype(bool)
        n_bad = int(bad.sum())
        if not n_bad:
            return
        shown = (values if values is not None else pd.Series(index=bad.index, dtype="string"))[bad].head(5)
        rows = [f"line {i + _HEADER_ROW}: {v!r}" for i, v in zip(np.flatnonzero(bad.to_numpy())[:5], shown)]
        if self.strict:
            raise DataValidationError(message, file=self.file, column=self.mapping.source(canonical),
                                      examples=rows, n_bad=n_bad)
        first = bad & self.reasons.isna()
        self.reasons[first] = reason


def _map_values(series: pd.Series, mapping: dict, canonical_values, problems: _Problems, canonical: str,
                reason: str) -> pd.Series:
    """Translate source spellings to canonical values; anything unrecognised is a problem."""
    lookup = {str(k): v for k, v in (mapping or {}).items()}
    for v in canonical_values:
        lookup.setdefault(str(v), v)
    mapped, known = _lookup(series, lookup)
    present = series.notna().to_numpy()
    problems.flag(pd.Series(present & ~known, index=series.index), canonical,
                  f"unrecognised value(s); add them to 'values: {canonical}:' in the mapping", reason, series)
    mapped[~known] = None
    return pd.Series(mapped, index=series.index, dtype=object)


def _parse_dates(series: pd.Series, fmt: str, problems: _Problems, canonical: str, required: bool) -> pd.Series:
    parsed = parse_datetimes(series, fmt)
    problems.flag(series.notna() & parsed.isna(), canonical, f"unparseable date(s) (expected format {fmt})",
                  "unparseable_date", series)
    if required:
        problems.flag(series.isna(), canonical, "blank date in a required column", "unparseable_date", series)
    return parsed


def _parse_age(series: pd.Series, problems: _Problems, canonical: str) -> pd.Series:
    arr = _arrow(series)
    whole = pc.fill_null(pc.match_substring_regex(arr, r"^\d{1,3}$"), False).to_numpy(zero_copy_only=False)
    present = series.notna().to_numpy()
    problems.flag(pd.Series(present & ~whole, index=series.index), canonical,
                  "age is not a whole number of years", "age_out_of_range", series)
    num = pc.cast(pc.if_else(pa.array(whole), arr, pa.scalar(None, pa.large_string())), pa.int32())
    num = pd.Series(num.to_numpy(zero_copy_only=False), index=series.index)
    problems.flag((num > 110).fillna(False), canonical, "age out of range (whole years 0-110 expected)",
                  "age_out_of_range", series)
    return num.where(num <= 110).astype("Int16")


def financial_year(dates: pd.Series) -> pd.Series:
    """Financial year label (April to March) of each date, e.g. 2019-04-01 -> "2019/20", 2020-03-31 -> "2019/20"."""
    dates = pd.to_datetime(dates)
    start = dates.dt.year - (dates.dt.month < 4).astype(int)
    label = start.astype("Int64").astype("string") + "/" + ((start + 1) % 100).astype("Int64").astype(
        "string").str.zfill(2)
    return label.astype("string")


# --------------------------------------------------------------------------- standardising
def standardise_extract(raw: pd.DataFrame, mapping: Mapping, file: str = "", strict: bool = True
                        ) -> tuple[pd.DataFrame, pd.Series]:
    """Turn a police extract's text columns into canonical typed columns.

    Returns
    -------
    (DataFrame, Series)
        Typed records (same index as ``raw``) and, per row, the exclusion reason for rows with bad values
        (all missing when ``strict``: then the first problem raises instead).
    """
    pr = _Problems(file, mapping, strict, raw.index)
    out = pd.DataFrame(index=raw.index)
    for col in REQUIRED_EXTRACT_COLUMNS + OPTIONAL_EXTRACT_COLUMNS:
        if col not in raw.columns:
            raw[col] = pd.Series(pd.NA, index=raw.index, dtype="string")
    values = mapping.values

    out["crime_ref"] = raw["crime_ref"]
    pr.flag(raw["crime_ref"].isna(), "crime_ref", "blank crime reference", "blank_crime_ref", raw["crime_ref"])
    out["recorded_date"] = _parse_dates(raw["recorded_date"], mapping.date_format, pr, "recorded_date", True)

    occ = raw["occurred_at"]
    full = parse_datetimes(occ, mapping.datetime_format or mapping.date_format)
    date_only = parse_datetimes(occ.where(full.isna()), mapping.date_format)
    pr.flag(occ.notna() & full.isna() & date_only.isna(), "occurred_at", "unparseable date-time(s)",
            "unparseable_date", occ)
    out["occurred_at"] = full.fillna(date_only).astype("datetime64[ns]")
    out["occurred_hour"] = full.dt.hour.astype("Int8") if mapping.datetime_format else pd.array(
        [pd.NA] * len(raw), dtype="Int8")

    sep = (values.get("ho_offence_code") or {}).get("separator")
    code = raw["ho_offence_code"].str.upper()
    if sep:
        code = code.str.replace(sep, "/", regex=False)
    code = code.str.lstrip("0")  # "008N" and "8N" are the same code
    known = offence_codes().set_index("ho_offence_code")
    pr.flag(code.isna(), "ho_offence_code", "blank Home Office offence code", "unknown_offence_code", code)
    _, code_known = _lookup(code, dict.fromkeys(known.index, True))
    pr.flag(code.notna() & ~pd.Series(code_known, index=code.index), "ho_offence_code",
            "unknown Home Office offence code(s) (see config/offence_codes.yaml)", "unknown_offence_code",
            raw["ho_offence_code"])
    out["ho_offence_code"] = code
    for c_out, c_in in (("offence_description", "description"), ("offence_group", "offence_group"),
                        ("offence_subgroup", "offence_subgroup")):
        out[c_out] = _lookup_strings(code, known[c_in].to_dict())
    weights, _ = _lookup(code, css_weights().set_index("ho_offence_code")["severity_weight"].to_dict())
    out["severity_weight"] = pd.Series(weights, index=raw.index, dtype="float64")

    knife = _map_values(raw["knife_flag"], values.get("knife_flag"), [True, False], pr, "knife_flag",
                        "invalid_flag")
    pr.flag(raw["knife_flag"].isna(), "knife_flag", "blank knife flag in a required column", "invalid_flag",
            raw["knife_flag"])
    out["knife_flag"] = knife.astype("boolean")
    out["domestic_flag"] = _map_values(raw["domestic_flag"], values.get("domestic_flag"), [True, False], pr,
                                       "domestic_flag", "invalid_flag").astype("boolean")

    lsoa = raw["lsoa_code"].str.upper()
    pr.flag(lsoa.notna() & ~lsoa.str.match(LSOA_PATTERN.pattern).fillna(False), "lsoa_code",
            "malformed LSOA code(s) (expected E01 or W01 and six digits)", "malformed_lsoa", raw["lsoa_code"])
    out["lsoa_code"] = lsoa
    out["location_type"] = raw["location_type"]

    for role in ("victim", "suspect"):
        out[f"{role}_id"] = raw[f"{role}_id"]
        out[f"{role}_age"] = _parse_age(raw[f"{role}_age"], pr, f"{role}_age")
        sex = _map_values(raw[f"{role}_sex"], values.get(f"{role}_sex"), SEX_CATEGORIES, pr, f"{role}_sex",
                          "invalid_category")
        out[f"{role}_sex"] = pd.Categorical(sex, categories=SEX_CATEGORIES)
        if role == "victim":
            eth = _map_values(raw["victim_ethnicity"], values.get("victim_ethnicity"), ETHNICITY_CATEGORIES, pr,
                              "victim_ethnicity", "invalid_category")
            out["victim_ethnicity"] = pd.Categorical(eth, categories=ETHNICITY_CATEGORIES)
    under = settings()["age_bands"]["under_25_max_age"]
    out["victim_under_25"] = (out["victim_age"] <= under).astype("boolean")
    force = raw["reporting_force"]
    if values.get("reporting_force"):
        force = _map_values(force, values["reporting_force"], [], pr, "reporting_force", "unknown_force")
    out["reporting_force"] = force.astype("string")

    # one row per crime x victim
    valid = pr.reasons.isna()
    key = out["crime_ref"].fillna("") + "\x1f" + out["victim_id"].fillna("")
    dup = key.duplicated(keep="first") & valid
    pr.flag(dup, "crime_ref", f"duplicate crime x victim rows ({mapping.source('crime_ref')} + "
            f"{mapping.source('victim_id')})", "duplicate_crime_victim", key.str.replace("\x1f", " / "))
    out["month"] = out["recorded_date"].dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
    out["financial_year"] = financial_year(out["recorded_date"])
    return out, pr.reasons


def standardise_police_uk(raw: pd.DataFrame, mapping: Mapping, file: str = "", strict: bool = True
                          ) -> tuple[pd.DataFrame, pd.Series]:
    """Typed data.police.uk street-level records; anti-social behaviour rows are marked for exclusion."""
    pr = _Problems(file, mapping, strict, raw.index)
    out = pd.DataFrame(index=raw.index)
    for col in ("crime_ref", "reporting_force", "lsoa_code", "last_outcome"):
        if col not in raw.columns:
            raw[col] = pd.Series(pd.NA, index=raw.index, dtype="string")
    out["crime_ref"] = raw["crime_ref"]
    out["recorded_date"] = _parse_dates(raw["recorded_date"], mapping.date_format, pr, "recorded_date", True)
    out["crime_type"] = raw["crime_type"]
    pr.flag(raw["crime_type"].isna(), "crime_type", "blank crime type", "blank_crime_type", raw["crime_type"])
    out["last_outcome"] = raw["last_outcome"]
    force = raw["reporting_force"]
    if mapping.values.get("reporting_force"):
        force = _map_values(force, mapping.values["reporting_force"], [], pr, "reporting_force", "unknown_force")
    out["reporting_force"] = force.astype("string")
    lsoa = raw["lsoa_code"].str.upper()
    pr.flag(lsoa.notna() & ~lsoa.str.match(LSOA_PATTERN.pattern).fillna(False), "lsoa_code",
            "malformed LSOA code(s)", "malformed_lsoa", raw["lsoa_code"])
    out["lsoa_code"] = lsoa
    out["month"] = out["recorded_date"].dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
    out["financial_year"] = financial_year(out["recorded_date"])
    reasons = pr.reasons
    for col, excluded_values in (mapping.exclude or {}).items():
        is_excluded = out[col].isin(excluded_values) & reasons.isna()
        reasons[is_excluded] = "_".join(str(excluded_values[0]).lower().replace("-", " ").split())
    return out, reasons


# --------------------------------------------------------------------------- the report
@dataclass
class IngestReport:
    """Reconciliation of one ingest: rows in = rows kept + rows excluded (by reason)."""

    dataset: str
    rows_in: int = 0
    rows_kept: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, dict] = field(default_factory=dict)
    dropped_columns: dict[str, list[str]] = field(default_factory=dict)
    out_of_force: int = 0
    csps: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def balanced(self) -> bool:
        """True when rows in = rows kept + rows excluded."""
        return self.rows_in == self.rows_kept + self.rows_excluded

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_excluded": self.rows_excluded,
            "excluded_by_reason": dict(sorted(self.excluded.items())),
            "balanced": self.balanced(),
            "out_of_force_kept": self.out_of_force,
            "csps": self.csps,
            "by_file": self.by_file,
            "dropped_columns": self.dropped_columns,
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        """One line for the terminal."""
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.excluded.items())) or "none"
        return (f"{self.dataset}: {self.rows_in:,} rows in = {self.rows_kept:,} kept + {self.rows_excluded:,} "
                f"excluded ({reasons}); {self.csps} CSPs; {self.out_of_force:,} kept rows lie outside their force")


# --------------------------------------------------------------------------- pipeline
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _process_files(files: list[Path], mapping: Mapping, strict: bool, report: IngestReport
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    standardise = standardise_extract if mapping.schema == "police_extract" else standardise_police_uk
    typed_parts, reason_parts, names, lines = [], [], [], []
    for path in files:
        raw, dropped = read_source(path, mapping)
        if dropped:
            report.dropped_columns[path.name] = dropped
        typed, reasons = standardise(raw, mapping, file=str(path), strict=strict)
        typed_parts.append(typed)
        reason_parts.append(reasons)
        names.append(np.full(len(raw), path.name, dtype=object))
        lines.append(np.arange(len(raw), dtype="int64") + _HEADER_ROW)
    typed = pd.concat(typed_parts, ignore_index=True)
    reasons = pd.concat(reason_parts, ignore_index=True).astype("string")
    source_file = pd.Series(np.concatenate(names), dtype="category")
    located, _ = assign_geography(typed, "lsoa_code", force_column="reporting_force")
    status = located["lsoa_status"].astype(str)
    for state, reason in (("unlocated", "unlocated"), ("unknown", "unknown_lsoa"), ("malformed", "malformed_lsoa")):
        reasons[reasons.isna() & (status == state)] = reason
    located = located.drop(columns=["lsoa_status"])
    is_out = reasons.notna().to_numpy()
    excluded = located.loc[is_out].copy()
    excluded["exclusion_reason"] = reasons[is_out]
    excluded["source_file"] = source_file[is_out].astype("string")
    excluded["source_line"] = np.concatenate(lines)[is_out]
    table = pd.DataFrame({"file": source_file, "reason": reasons.fillna("kept")})
    counts = table.groupby(["file", "reason"], observed=True).size()
    for name in source_file.cat.categories:
        per = counts.get(name, pd.Series(dtype="int64")).to_dict()
        kept = int(per.pop("kept", 0))
        report.by_file[name] = {"rows_in": kept + int(sum(per.values())), "rows_kept": kept,
                                "excluded_by_reason": {str(k): int(v) for k, v in per.items()}}
    report.rows_in += len(typed)
    for reason, n in reasons[is_out].value_counts().items():
        report.excluded[str(reason)] = report.excluded.get(str(reason), 0) + int(n)
    return located.loc[~is_out].reset_index(drop=True), excluded.reset_index(drop=True)


def _write_partitions(records: pd.DataFrame, out: Path) -> int:
    """One parquet file per CSP: ``records/csp_code=<code>/part-0.parquet`` (the key is the folder name)."""
    import pyarrow.dataset as pads

    root = out / "records"
    if root.exists():
        shutil.rmtree(root)
    table = pa.Table.from_pandas(records, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("csp_code"), "csp_code",
                             table["csp_code"].cast(pa.string()))
    pads.write_dataset(
        table, root, format="parquet", partitioning=["csp_code"], partitioning_flavor="hive",
        basename_template="part-{i}.parquet", max_partitions=100_000,
        file_options=pads.ParquetFileFormat().make_write_options(compression="snappy"),
    )
    return int(records["csp_code"].nunique())


def _shared_tables(records: pd.DataFrame, out: Path, count_keys: list[str]) -> None:
    # the area covered: every CSP of the reporting forces (records placed in other forces' CSPs are kept,
    # flagged out_of_force, and counted in the data-quality report, but get no profile of their own)
    forces = set(records["reporting_force"].dropna().unique())
    area = areas()
    csp_list = sorted(area.loc[area["pfa_code"].isin(forces), "csp_code"])
    pop = pd.concat([csp_population(y, csp_list).assign(year=y) for y in (2019, 2020)], ignore_index=True)
    pop[["csp_code", "year", "age", "population"]].to_parquet(out / "population.parquet", index=False)
    totals = pop[pop["year"] == 2020].groupby("csp_code")["population"].sum()
    area = area[area["csp_code"].isin(csp_list)].copy()
    area["population"] = area["csp_code"].map(totals).astype("int64")
    area.to_parquet(out / "areas.parquet", index=False)
    geo = lsoa_geography()
    lsoa = geo.loc[geo["csp_code"].isin(csp_list) & (geo["lsoa_vintage"] == "2011"),
                   ["lsoa_code", "lsoa_name", "csp_code", "imd_decile", "country"]]
    wide = population_lsoa11_wide(2020)
    lpop = pd.Series(wide[AGE_COLUMNS].sum(axis=1).to_numpy(), index=wide["lsoa11_code"])
    lsoa = lsoa.assign(population=lsoa["lsoa_code"].map(lpop).fillna(0).astype("int64"))
    lsoa.to_parquet(out / "lsoa.parquet", index=False)
    keys = ["csp_code", "pfa_code", "month", "financial_year"] + count_keys
    monthly = records.groupby(keys, observed=True, dropna=False).size().rename("offences").reset_index()
    monthly["offences"] = monthly["offences"].astype("int64")
    monthly.to_parquet(out / "monthly_counts.parquet", index=False)


def _finish(records: pd.DataFrame, excluded: pd.DataFrame, out: Path, report: IngestReport, kind: str,
            count_keys: list[str], meta: dict, t0: float) -> IngestReport:
    t = time.perf_counter()
    records = validate_records(records, kind, source=meta.get("source"))
    report.seconds["validate"] = round(time.perf_counter() - t, 2)
    report.rows_kept = len(records)
    report.out_of_force = int(records["out_of_force"].sum())
    if not report.balanced():  # pragma: no cover - would be a bug in svtools
        raise DataValidationError(f"reconciliation does not balance: {report.to_dict()}")
    t = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    report.csps = _write_partitions(records, out)
    excluded.to_parquet(out / "excluded.parquet", index=False)
    _shared_tables(records, out, count_keys)
    report.seconds["write"] = round(time.perf_counter() - t, 2)
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    (out / "reconciliation.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    meta = {
        **meta,
        "dataset": report.dataset,
        "schema": kind,
        "period_start": str(records["month"].min().date()),
        "period_end": str((records["month"].max() + pd.offsets.MonthEnd(0)).date()),
        "rows": report.rows_kept,
        "csps": report.csps,
        "forces": sorted(records["pfa_code"].unique().tolist()),
        "geography": read_yaml(CONFIG / "geography.yaml")["lookup_vintage"],
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "svtools_version": __version__,
    }
    (out / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return report


def ingest_extract(files: list[Path] | Path, mapping: str | Path | Mapping, dataset: str = "demo",
                   out_dir: Path | None = None, on_invalid: str = "raise", synthetic: bool = False,
                   extra_meta: dict | None = None) -> IngestReport:
    """Ingest one or more police extract files (one source system) into ``data/processed/<dataset>/``.

    Parameters
    ----------
    files : path or list of paths
        CSV files in the source system's layout (a folder: every file matching the mapping's ``file_pattern``).
    mapping : str, path or Mapping
        The source system's column mapping.
    dataset : str
        Name of the processed dataset (folder under ``data/processed``).
    out_dir : path, optional
        Where to write (default ``data/processed/<dataset>``).
    on_invalid : {"raise", "exclude"}
        Raise on the first bad value (default) or exclude such rows with their reason.
    synthetic : bool
        Mark the dataset as synthetic (every page built from it says so).
    """
    if on_invalid not in ("raise", "exclude"):
        raise ValueError("on_invalid must be 'raise' or 'exclude'")
    t0 = time.perf_counter()
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    files = _expand(files, mapping)
    report = IngestReport(dataset=dataset)
    records, excluded = _process_files(files, mapping, on_invalid == "raise", report)
    report.seconds["read_map_geography"] = round(time.perf_counter() - t0, 2)
    if not len(records):
        raise DataValidationError("no rows could be placed in a CSP", file=str(files[0].parent))
    meta = {"synthetic": synthetic, "mapping": mapping.name, "source": str(files[0].parent),
            "input_files": {p.name: _sha256(p) for p in files}, **(extra_meta or {})}
    keys = ["ho_offence_code", "offence_group", "knife_flag", "domestic_flag", "victim_under_25"]
    return _finish(records, excluded, Path(out_dir or processed_dir() / dataset), report, mapping.schema, keys,
                   meta, t0)


def _expand(files, mapping: Mapping) -> list[Path]:
    if isinstance(files, (str, Path)):
        files = [Path(files)]
    out: list[Path] = []
    for f in map(Path, files):
        if f.is_dir():
            out.extend(sorted(p for p in f.rglob("*") if p.is_file() and fnmatch.fnmatch(p.name, mapping.file_pattern)))
        else:
            out.append(f)
    if not out:
        raise DataValidationError(f"no input files matching '{mapping.file_pattern}'",
                                  file=", ".join(str(f) for f in files))
    return out


def ingest_demo(raw: Path | None = None, out_dir: Path | None = None, on_invalid: str = "raise") -> IngestReport:
    """Ingest the synthetic demo extract (``data/raw/demo``) and its hospital admissions into ``processed/demo``."""
    raw = Path(raw or raw_dir() / "demo")
    out = Path(out_dir or processed_dir() / "demo")
    hospital = raw / "hospital_admissions.csv"
    sources = ["Synthetic police extract generated by `svtools demo-data` (not real crime data)",
               "Synthetic hospital admissions for assault by a sharp object (not real HES data)",
               "ONS mid-year population estimates 2019 and 2020 by LSOA (OGL v3.0)",
               "English IMD 2019 and Welsh IMD 2019 (OGL v3.0)",
               "ONS LSOA, LAD, CSP and PFA lookups (OGL v3.0)"]
    report = ingest_extract(raw, "demo_extract", "demo", out, on_invalid, synthetic=True,
                            extra_meta={"sources": sources})
    if hospital.is_file():
        ingest_hospital(hospital, out)
    return report


def ingest_hospital(path: Path, out_dir: Path) -> pd.DataFrame:
    """Aggregated hospital admissions (``data_formats.md`` §3): ``*`` or blank stays suppressed, never 0."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = ["area_code", "financial_year", "age_band", "sex", "admissions"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataValidationError(f"missing required column(s) {missing}", file=str(path), column=missing[0])
    raw_adm = frame["admissions"].str.strip()
    suppressed = raw_adm.isin(["*", "", "c", "[c]"])
    num = pd.to_numeric(raw_adm.where(~suppressed), errors="coerce")
    bad = ~suppressed & (num.isna() | (num < 0))
    if bad.any():
        raise DataValidationError("admissions must be a count, '*' or blank", file=str(path), column="admissions",
                                  examples=raw_adm[bad].head().tolist(), n_bad=int(bad.sum()))
    known = set(areas()["csp_code"])
    unknown = ~frame["area_code"].isin(known)
    if unknown.any():
        raise DataValidationError("unknown CSP code(s)", file=str(path), column="area_code",
                                  examples=frame.loc[unknown, "area_code"].head().tolist(), n_bad=int(unknown.sum()))
    fy_ok = frame["financial_year"].str.match(r"^\d{4}/\d{2}$")
    if not fy_ok.all():
        raise DataValidationError("financial year must look like 2019/20", file=str(path), column="financial_year",
                                  examples=frame.loc[~fy_ok, "financial_year"].head().tolist())
    out = pd.DataFrame({
        "csp_code": frame["area_code"].astype("string"),
        "financial_year": frame["financial_year"].astype("string"),
        "age_band": frame["age_band"].astype("string"),
        "sex": frame["sex"].astype("string"),
        "admissions": num.astype("Int64"),
        "suppressed": suppressed.astype(bool),
    })
    out.to_parquet(Path(out_dir) / "hospital_admissions.parquet", index=False)
    return out


def ingest_police_uk(folder: Path | None = None, out_dir: Path | None = None, on_invalid: str = "raise"
                     ) -> IngestReport:
    """Ingest data.police.uk street-level files (default: the 9 forces shipped in ``../shared/data/real``)."""
    folder = Path(folder or real_data_dir() / "police_uk" / "forces_2022-01_to_2022-11")
    t0 = time.perf_counter()
    mapping = load_mapping("police_uk")
    files = _expand(folder, mapping)
    report = IngestReport(dataset="police_uk")
    records, excluded = _process_files(files, mapping, on_invalid == "raise", report)
    report.seconds["read_map_geography"] = round(time.perf_counter() - t0, 2)
    meta = {"synthetic": False, "mapping": mapping.name, "source": str(folder),
            "input_files": {str(p.relative_to(folder)): _sha256(p) for p in files},
            "sources": ["data.police.uk street-level crime (Home Office, OGL v3.0)",
                        "ONS mid-year population estimates 2019 and 2020 by LSOA (OGL v3.0)",
                        "English IMD 2019 and Welsh IMD 2019 (OGL v3.0)",
                        "ONS LSOA, LAD, CSP and PFA lookups (OGL v3.0)"]}
    return _finish(records, excluded, Path(out_dir or processed_dir() / "police_uk"), report, "police_uk",
                   ["crime_type"], meta, t0)
