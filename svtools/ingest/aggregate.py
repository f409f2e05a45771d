"""Aggregate-count sources (``kind: counts``): tables of counts, area x period x category, long or wide.

Many analysts are sent counts, not records: a borough x month table, HES admissions by CSP x financial year x
age band x sex. A counts mapping (``config/mappings/london_mps.yaml``, ``hospital_hes.yaml``;
``docs/onboarding.md``) says where the area, period, category and count are. Every cell is read as text
(:func:`svtools.ingest.readers.read_text_table`), checked, and written as a count table the pages can use,
with a reconciliation that holds for cells and for the sum of counts: cells in = kept + excluded and counts
in = kept + excluded, by reason and by file.

The rules:

* **count**: a whole number >= 0 written as digits only (``1,234``, ``12.5``, ``-3`` are bad cells). A cell
  equal to a ``count.suppressed`` marker (default ``*``, ``c``, ``[c]`` and blank) is kept as *suppressed*:
  ``count`` NA, ``suppressed`` True, never 0. "Counts in" sums every cell that reads as a whole number.
* **area**, by ``area.match`` = ``csp_code``, ``csp_name``, ``lad_code``, ``lad_name``, ``utla_code`` or
  ``utla_name`` (2024 lookups; an upper-tier local authority is the council that runs education and youth
  justice: a county in a two-tier area, else the unitary; names ignore case, repeated spaces and ``&``/``and``).
  ``area.level: area`` keeps each cell at the area as written (output ``area_code``, with ``csp_codes`` the CSPs
  it covers, ``;``-joined) instead of assigning it to one CSP: for partner data shared by local authority
  (youth justice, schools), where one council may hold several CSPs. Values in ``exclude_areas`` are excluded with the reason
  given; any other unmatched value is an error (lenient: ``unknown_area``). By LAD, a CSP of several LADs (Cwm
  Taf) gets their sum; if one is suppressed the CSP cell is suppressed and the known parts are excluded as
  ``suppressed_part_of_csp``. A LAD holding several CSPs (Cumberland) cannot be split: ``ambiguous_area``.
* **period**, by ``period.formats`` at the declared ``period.resolution``:

  - ``month``: strptime formats (``%Y%m``, ``%Y-%m``, ``%b %Y``), the date's month;
  - ``quarter``: tokens ``%Y`` (year), ``%q`` (1-4) and, for a *financial* quarter, ``%y`` (the two-digit year
    the financial year ends in). ``%Y Q%q``, ``%Y-Q%q``, ``Q%q %Y`` read calendar quarters (Q1 = January to
    March); ``%Y/%y Q%q`` reads financial quarters (``2019/20 Q1`` = April to June 2019);
  - ``financial_year``: ``%Y/%y`` (``2019/20``) or ``%Y-%y`` (``2019-20``), consecutive years only.
  - ``academic_year`` (1 September to 31 August): the same tokens, ``%Y/%y`` or DfE's ``%Y%y`` (``201920``);
    ``financial_year`` is then blank (an academic year is not inside one financial year).

  A period starting outside ``date_window`` (default 2000-01-01 to the day of the run) is ``outside_window``.
  Gaps (a CSP without a cell for a period of the data's span) are reported, never filled with 0.
* the same area x period x category x dimensions twice is a ``duplicate_cell`` (the first is kept).

Strict (``on_invalid="raise"``): the first kind of bad cell raises
:class:`~svtools.errors.DataValidationError` naming the file, the column, example cells (line and column) and
how many. Lenient (``"exclude"``): bad cells are excluded with their reason. Exclusions the mapping asks for
(``exclude_areas``, values mapped to null) are never errors.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from svtools import __version__
from svtools.config import disclosure_threshold, read_yaml
from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.area_tables import sha256_file, write_area_tables
from svtools.ingest.geography import areas
from svtools.ingest.mapping import read_mapping_yaml
from svtools.ingest.mapping_keys import check_keys, did_you_mean
from svtools.ingest.reference import lad24_csp_pfa
from svtools.paths import CONFIG, processed_dir

__all__ = [
    "RESOLUTIONS",
    "DEFAULT_SUPPRESSED",
    "CountsMapping",
    "CountsReport",
    "load_counts_mapping",
    "counts_mapping_from_dict",
    "parse_periods",
    "read_counts",
    "ingest_counts",
    "ingest_hospital_counts",
]

MAPPINGS_DIR = CONFIG / "mappings"
RESOLUTIONS = ("month", "quarter", "financial_year", "academic_year")
AREA_MATCHES = ("csp_code", "csp_name", "lad_code", "lad_name", "utla_code", "utla_name")
AREA_LEVELS = ("csp", "area")
DEFAULT_SUPPRESSED = ("*", "c", "[c]", "")
_STEP = {"month": 1, "quarter": 3, "financial_year": 12, "academic_year": 12}  # months per period
_TOP_KEYS = ["mapping_version", "name", "description", "kind", "source", "measure", "disclosure", "files",
             "layout", "area", "period", "count", "category", "dimensions", "constants", "exclude_areas",
             "date_window"]
_FILE_KEYS = ["pattern", "format", "encoding", "delimiter", "sheet", "header_row"]
_RESERVED = {"csp_code", "csp_codes", "area_code", "pfa_code", "period_start", "resolution", "financial_year", "month", "category",
             "count", "suppressed", "offences"}
_WORD = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCES = ["ONS mid-year population estimates 2019 and 2020 by LSOA (OGL v3.0)",
            "English IMD 2019 and Welsh IMD 2019 (OGL v3.0)", "ONS LSOA, LAD, CSP and PFA lookups (OGL v3.0)"]


# --------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class CountsMapping:
    """A checked ``kind: counts`` mapping (the module docstring and ``docs/onboarding.md`` give the keys)."""

    name: str
    measure: str
    disclosure: str                            # police | hospital: which threshold family applies
    layout: str                                # wide | long
    area_column: str
    area_match: str
    resolution: str
    formats: tuple[str, ...]
    period_column: str | None = None           # long
    period_columns: str | None = None          # wide: a regex the period columns' names match in full
    count_column: str | None = None            # long
    suppressed: tuple[str, ...] = DEFAULT_SUPPRESSED
    category_columns: tuple[str, ...] = ()
    category_join: str = " / "
    category_values: dict = field(default_factory=dict)
    dimensions: dict = field(default_factory=dict)  # output name -> (source column, {source: canonical})
    constants: dict = field(default_factory=dict)
    exclude_areas: dict = field(default_factory=dict)
    date_window: tuple = (dt.date(2000, 1, 1), None)
    files: dict = field(default_factory=dict)
    source: str = ""
    description: str = ""
    path: str = ""
    area_level: str = "csp"                    # csp: each cell to one CSP | area: kept at the area written

    @property
    def area_key(self) -> str:
        """The output column that keys a cell's area: ``csp_code``, or ``area_code`` (``area.level: area``)."""
        return "area_code" if self.area_level == "area" else "csp_code"

    @property
    def file_pattern(self) -> str:
        return str(self.files.get("pattern") or "*.csv*")

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        start, end = self.date_window
        return pd.Timestamp(start), pd.Timestamp(end or dt.date.today())

    def quarters(self) -> str | None:
        """``calendar``, ``financial`` or ``calendar and financial`` (quarterly data, from the formats)."""
        if self.resolution != "quarter":
            return None
        return " and ".join(sorted({"financial" if "%y" in f else "calendar" for f in self.formats}))


def _text(value: Any, where: str) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return str(value)


def _choice(value: Any, choices, where: str) -> str:
    text = _text(value, where)
    if text not in choices:
        raise ConfigError(f"{where}: {text!r} is not one of {', '.join(choices)}"
                          f"{did_you_mean(text, choices)}")
    return text


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: expected a list of text, got {value!r}")
    return tuple("" if v is None else _text(v, where) for v in items)


def _values(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected source value -> canonical value, got {value!r}")
    return {str(k): (None if v is None else _text(v, f"{where}.{k}")) for k, v in value.items()}


def _check_formats(formats: tuple[str, ...], resolution: str, where: str) -> None:
    for f in formats:
        if resolution == "month":
            if "%q" in f or not re.search(r"%[Yy]", f) or not re.search(r"%[mbB]", f):
                raise ConfigError(f"{where}: month format {f!r} needs a year (%Y, %y) and month (%m, %b, %B)")
            continue
        bad = [t for t in re.findall(r"%.", f) if t not in ("%Y", "%y", "%q", "%%")]
        if bad:
            raise ConfigError(f"{where}: {resolution} format {f!r} may use only %Y, %y and %q (not {bad[0]})")
        if resolution == "quarter" and ("%Y" not in f or "%q" not in f):
            raise ConfigError(f"{where}: quarter format {f!r} needs %Y and %q (and %y after %Y for a "
                              "financial quarter, e.g. '%Y/%y Q%q')")
        if resolution in ("financial_year", "academic_year") and ("%Y" not in f or "%y" not in f or "%q" in f):
            raise ConfigError(f"{where}: {resolution.replace('_', '-')} format {f!r} needs %Y and %y "
                              "('%Y/%y': 2019/20)")


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def counts_mapping_from_dict(raw: dict, path: str = "") -> CountsMapping:
    """Check a ``kind: counts`` mapping's keys at every level and build the :class:`CountsMapping`."""
    w = path or "mapping"
    check_keys(raw, _TOP_KEYS, w, required=["mapping_version", "name", "kind", "measure", "disclosure",
                                            "layout", "area", "period"])
    if str(raw["mapping_version"]) != "2":
        raise ConfigError(f"{w}: mapping_version {raw['mapping_version']!r} is not known (use 2)")
    if str(raw["kind"]) != "counts":
        raise ConfigError(f"{w}: kind {raw['kind']!r}: this reader takes kind: counts")
    layout = _choice(raw["layout"], ("wide", "long"), f"{w}: layout")
    files = raw.get("files") or {}
    check_keys(files, _FILE_KEYS, f"{w}: files")
    if files.get("header_row") is not None and not str(files["header_row"]).isdigit():
        raise ConfigError(f"{w}: files.header_row must be a line number, got {files['header_row']!r}")
    area = raw["area"]
    check_keys(area, ["column", "match", "level"], f"{w}: area", required=["column", "match"])
    period, pkey = raw["period"], "columns" if layout == "wide" else "column"
    check_keys(period, [pkey, "formats", "resolution"], f"{w}: period ({layout} layout)",
               required=[pkey, "formats", "resolution"])
    resolution = _choice(period["resolution"], RESOLUTIONS, f"{w}: period.resolution")
    formats = _str_list(period["formats"], f"{w}: period.formats")
    _check_formats(formats, resolution, f"{w}: period.formats")
    if layout == "wide":
        try:
            re.compile(_text(period["columns"], f"{w}: period.columns"))
        except re.error as exc:
            raise ConfigError(f"{w}: period.columns is not a valid regular expression ({exc})") from None
    count = raw.get("count") or {}
    check_keys(count, ["column", "suppressed"] if layout == "long" else ["suppressed"],
               f"{w}: count ({layout} layout)", required=["column"] if layout == "long" else [])
    suppressed = (_str_list(count["suppressed"], f"{w}: count.suppressed") if "suppressed" in count
                  else DEFAULT_SUPPRESSED)
    if any(s.isdigit() for s in suppressed):
        raise ConfigError(f"{w}: count.suppressed lists a number; a suppressed marker is not a count")
    cat_cols, join, cat_values = (), " / ", {}
    if raw.get("category") is not None:
        category = raw["category"]
        check_keys(category, ["columns", "join", "values"], f"{w}: category", required=["columns"])
        cat_cols = _str_list(category["columns"], f"{w}: category.columns")
        join = str(category.get("join", " / "))
        cat_values = _values(category.get("values"), f"{w}: category.values")
    dims = {}
    for name, entry in (raw.get("dimensions") or {}).items():
        dw = f"{w}: dimensions.{name}"
        if not _WORD.match(str(name)) or str(name) in _RESERVED:
            raise ConfigError(f"{dw}: name a dimension in snake_case, not one of "
                              f"{', '.join(sorted(_RESERVED))}")
        entry = {"column": entry} if isinstance(entry, str) else entry
        check_keys(entry, ["column", "values"], dw, required=["column"])
        dims[str(name)] = (_text(entry["column"], f"{dw}.column"),
                           _values(entry.get("values"), f"{dw}.values"))
    constants = raw.get("constants") or {}
    check_keys(constants, ["reporting_force", "category"], f"{w}: constants")
    if constants.get("reporting_force") is not None:
        force, known = str(constants["reporting_force"]), sorted(areas()["pfa_code"].unique())
        if force not in known:
            raise ConfigError(f"{w}: constants.reporting_force {force!r} is not a PFA code"
                              f"{did_you_mean(force, known)}")
    if "category" in constants and cat_cols:
        raise ConfigError(f"{w}: give the category as category.columns or as constants.category, not both")
    exclude = {}
    for value, reason in (raw.get("exclude_areas") or {}).items():
        if not _WORD.match(str(reason or "")):
            raise ConfigError(f"{w}: exclude_areas.{value}: the reason must be a snake_case word such as "
                              f"not_a_csp or unknown_area, got {reason!r}")
        exclude[str(value)] = str(reason)
    window = raw.get("date_window") or {}
    check_keys(window, ["start", "end"], f"{w}: date_window")
    end = _date(window["end"], f"{w}: date_window.end") if window.get("end") is not None else None
    return CountsMapping(
        name=_text(raw["name"], f"{w}: name"), measure=_text(raw["measure"], f"{w}: measure"),
        disclosure=_choice(raw["disclosure"], ("police", "hospital"), f"{w}: disclosure"), layout=layout,
        area_column=_text(area["column"], f"{w}: area.column"),
        area_match=_choice(area["match"], AREA_MATCHES, f"{w}: area.match"), resolution=resolution,
        formats=formats, period_column=str(period["column"]) if layout == "long" else None,
        period_columns=str(period["columns"]) if layout == "wide" else None,
        count_column=str(count["column"]) if layout == "long" else None, suppressed=suppressed,
        category_columns=cat_cols, category_join=join, category_values=cat_values, dimensions=dims,
        constants={k: str(v) for k, v in constants.items() if v is not None}, exclude_areas=exclude,
        date_window=(_date(window.get("start", "2000-01-01"), f"{w}: date_window.start"), end),
        files=dict(files), source=str(raw.get("source") or raw["name"]),
        description=str(raw.get("description") or ""), path=path,
        area_level=_choice(area.get("level", "csp"), AREA_LEVELS, f"{w}: area.level"),
    )


def load_counts_mapping(name_or_path: str | Path) -> CountsMapping:
    """Read and check a counts mapping by name (``london_mps``, ``hospital_hes``) or path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = MAPPINGS_DIR / f"{name_or_path}.yaml"
    return counts_mapping_from_dict(read_mapping_yaml(path), str(path))


def _as_mapping(mapping) -> CountsMapping:
    if isinstance(mapping, CountsMapping):
        return mapping
    return counts_mapping_from_dict(mapping) if isinstance(mapping, dict) else load_counts_mapping(mapping)


# --------------------------------------------------------------------------- periods
def _token_regex(fmt: str) -> re.Pattern:
    out, i = "", 0
    tokens = {"%Y": r"(?P<Y>\d{4})", "%y": r"(?P<y>\d{2})", "%q": r"(?P<q>[1-4])", "%%": "%"}
    while i < len(fmt):
        if fmt[i:i + 2] in tokens:
            out, i = out + tokens[fmt[i:i + 2]], i + 2
        else:
            out, i = out + (r"\s+" if fmt[i] == " " else re.escape(fmt[i])), i + 1
    return re.compile(out, re.IGNORECASE)


def _parse_one(text: str, formats: tuple[str, ...], resolution: str) -> pd.Timestamp | None:
    for fmt in formats:
        if resolution == "month":
            try:
                d = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return pd.Timestamp(d.year, d.month, 1)
        m = _token_regex(fmt).fullmatch(text)
        if not m:
            continue
        year, fy = int(m["Y"]), "y" in m.groupdict()
        if fy and int(m["y"]) != (year + 1) % 100:
            continue  # 2019/21 is not a financial year
        if resolution == "financial_year":
            return pd.Timestamp(year, 4, 1)
        if resolution == "academic_year":
            return pd.Timestamp(year, 9, 1)
        month = (4 if fy else 1) + 3 * (int(m["q"]) - 1)  # a financial Q1 is April-June of its first year
        return pd.Timestamp(year + (month > 12), (month - 1) % 12 + 1, 1)
    return None


def parse_periods(values: pd.Series, formats, resolution: str) -> pd.Series:
    """First day of each period written in ``values`` (NaT where no format reads it); see the module doc."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}")
    codes, uniques = pd.factorize(values)
    parsed = [_parse_one(str(u).strip(), tuple(formats), resolution) for u in uniques] + [None]
    table = np.asarray(pd.array(parsed, dtype="datetime64[ns]"))
    return pd.Series(table[np.where(codes < 0, len(uniques), codes)], index=values.index,
                     dtype="datetime64[ns]")


def _fy_label(starts: pd.Series) -> pd.Series:
    y = (starts.dt.year - (starts.dt.month < 4).astype(int)).astype("Int64")
    return (y.astype("string") + "/" + ((y + 1) % 100).astype("string").str.zfill(2)).astype("string")


# --------------------------------------------------------------------------- areas
def _norm_name(s):
    one = isinstance(s, str)
    s = pd.Series([s]) if one else s.astype("string")
    out = s.str.casefold().str.replace("&", " and ", regex=False).str.replace(r"\s+", " ", regex=True)
    out = out.str.strip()
    return out.iloc[0] if one else out


def _normaliser(match: str):
    """How area values are compared: names ignoring case, spaces and '&'; codes ignoring case."""
    if match.endswith("name"):
        return _norm_name
    return lambda s: s.strip().upper() if isinstance(s, str) else s.astype("string").str.strip().str.upper()


def utla_lookup() -> pd.DataFrame:
    """2024 LAD -> upper-tier local authority (county or unitary) -> CSP -> PFA, England and Wales.

    ``lad24_code, lad24_name, utla_code, utla_name, csp_code, csp_name, pfa_code`` from the ONS code history
    (``lookups/la_all_codes_history_to_active.csv``, current codes) joined to :func:`lad24_csp_pfa`.
    """
    from svtools.ingest.reference import _read

    hist = _read("lookups/la_all_codes_history_to_active.csv", dtype=str)
    cur = hist[hist["Current"].astype(str).str.upper() == "TRUE"][["LADCD", "UTLACD", "UTLANM"]]
    cur = cur.drop_duplicates("LADCD").rename(columns={"LADCD": "lad24_code", "UTLACD": "utla_code",
                                                        "UTLANM": "utla_name"})
    out = lad24_csp_pfa().merge(cur, on="lad24_code", how="left")
    out["utla_code"] = out["utla_code"].fillna(out["lad24_code"])  # a 2024 LAD without a row: its own UTLA
    out["utla_name"] = out["utla_name"].fillna(out["lad24_name"])
    return out


def _area_frame(match: str) -> tuple[pd.DataFrame, str, str]:
    """The lookup, the column matched and the column holding each area's own code."""
    if match.startswith("csp"):
        return areas(), match, "csp_code"
    if match.startswith("utla"):
        return utla_lookup(), match, "utla_code"
    return lad24_csp_pfa(), "lad24_code" if match == "lad_code" else "lad24_name", "lad24_code"


def area_csps(match: str) -> dict[str, list[str]]:
    """An area's own code (CSP, 2024 LAD or UTLA code, by ``match``) -> the CSP codes it covers."""
    lk, _, own = _area_frame(match)
    return {str(k): sorted(set(g["csp_code"].astype(str))) for k, g in lk.groupby(own)}


def _area_lookup(match: str, level: str = "csp") -> tuple[dict[str, list[str]], list[str]]:
    """Normalised area value -> the CSP codes it covers (``level: area``: its own code); the values as written
    (for "did you mean")."""
    lk, col, own = _area_frame(match)
    target = own if level == "area" else "csp_code"
    table: dict[str, list[str]] = {}
    for k, c in zip(_normaliser(match)(lk[col].astype(str)), lk[target].astype(str)):
        table.setdefault(k, [])
        if c not in table[k]:
            table[k].append(c)
    return table, sorted(set(lk[col].astype(str)))


# --------------------------------------------------------------------------- reading
def _expand(files, mapping: CountsMapping) -> list[Path]:
    items = [files] if isinstance(files, (str, Path)) else list(files)
    out: list[Path] = []
    for f in map(Path, items):
        if f.is_dir():
            out += sorted(p for p in f.rglob("*")
                          if p.is_file() and fnmatch.fnmatch(p.name, mapping.file_pattern))
        elif f.is_file():
            out.append(f)
        else:
            raise DataValidationError("file not found", file=str(f))
    if not out:
        raise DataValidationError(f"no input files matching '{mapping.file_pattern}'",
                                  file=", ".join(str(f) for f in items))
    return out


def _labels(paths: list[Path]) -> list[str]:
    """How files are named in the report: their names, or their paths when two share a name."""
    names = [p.name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def _read_table(path: Path, mapping: CountsMapping) -> pd.DataFrame:
    from svtools.ingest.readers import ReadOptions, read_text_table  # the shared reader: sniffing, refusals

    table = read_text_table(path, ReadOptions.from_mapping(mapping.files))
    return table.to_pandas(types_mapper=lambda t: pd.StringDtype() if str(t) in ("large_string", "string")
                           else None)


def _file_cells(path: Path, m: CountsMapping, label: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per count cell of one file: area, category, dimensions, period and count as text, and where."""
    frame = _read_table(path, m)
    if not len(frame):
        raise DataValidationError("the file has a header but no rows", file=str(path))
    present = [str(c) for c in frame.columns]
    keys = list(dict.fromkeys([m.area_column, *m.category_columns, *(c for c, _ in m.dimensions.values())]))
    need = keys + ([m.period_column, m.count_column] if m.layout == "long" else [])
    missing = [c for c in need if c not in present]
    if missing:
        raise DataValidationError(f"missing column(s) named in the mapping: {', '.join(map(repr, missing))}"
                                  f"{did_you_mean(missing[0], present)}", file=str(path), column=missing[0],
                                  examples=[f"columns present: {', '.join(present[:12])}"])
    periods = [c for c in present if re.fullmatch(m.period_columns, c) and c not in keys] \
        if m.layout == "wide" else []
    if m.layout == "wide":
        if not periods:
            raise DataValidationError(f"no column name matches period.columns {m.period_columns!r}",
                                      file=str(path),
                                      examples=[f"columns present: {', '.join(present[:12])}"])
        like = [c for c in present if c not in keys + periods
                and parse_periods(pd.Series([c]), m.formats, m.resolution).notna().all()]
        if like:
            raise DataValidationError(f"column(s) read as periods by period.formats but not matched by "
                                      f"period.columns {m.period_columns!r}: their counts would be lost",
                                      file=str(path), column=like[0], examples=like)
    dropped = [c for c in present if c not in need + periods]
    frame["_line"] = np.arange(len(frame), dtype="int64") + int(m.files.get("header_row") or 1) + 1
    if m.layout == "long":
        cells = frame[keys + ["_line"]].assign(_period=frame[m.period_column], _count=frame[m.count_column],
                                                _column=m.count_column)
    else:
        cells = frame[keys + ["_line"] + periods].melt(id_vars=keys + ["_line"], value_vars=periods,
                                                        var_name="_period", value_name="_count")
        cells["_column"] = cells["_period"]
    cat = None
    for c in m.category_columns:  # the parts that are present, joined
        part = cells[c].astype("string")
        cat = part if cat is None else cat.where(part.isna(), (cat + m.category_join + part).where(
            cat.notna(), part))
    out = pd.DataFrame({"_file": label, "_line": cells["_line"].to_numpy(), "_column": cells["_column"],
                        "_area": cells[m.area_column],
                        "_category": cat if cat is not None else m.constants.get("category", "all")})
    for name, (col, _) in m.dimensions.items():
        out[name] = cells[col]
    out["_period"], out["_count"] = cells["_period"], cells["_count"]
    for c in out.columns.drop("_line"):
        out[c] = out[c].astype("string")
    return out, dropped


# --------------------------------------------------------------------------- checking
class _Flags:
    """Per-cell exclusion reasons: a problem raises (strict) or marks the cells; a rule always marks them."""

    def __init__(self, cells: pd.DataFrame, strict: bool):
        self.cells, self.strict = cells, strict
        self.reasons = pd.Series(pd.NA, index=cells.index, dtype="string")

    def mark(self, mask, reason, message: str = "", shown: pd.Series | None = None, rule: bool = False,
             column: str | None = None) -> None:
        """Mark cells not yet excluded. ``column``: the fault is in this row-level column, so the examples
        name it, one per source row, and ``n_bad`` counts rows, not cells."""
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.cells.index) & self.reasons.isna()
        if not mask.any():
            return
        if self.strict and not rule:
            bad = self.cells.loc[mask, ["_file", "_line", "_column"]]
            n_bad = len(bad.drop_duplicates(["_file", "_line"])) if column else len(bad)
            file = bad["_file"].iloc[0]
            first = bad[bad["_file"] == file]
            first = (first.drop_duplicates("_line") if column else first).head(5)
            shown = (shown if shown is not None else self.cells["_count"]).loc[first.index]
            cols = [column] * len(first) if column else first["_column"].tolist()
            examples = [f"line {ln}, column {col!r}: {'blank' if pd.isna(v) else repr(str(v))}"
                        for ln, col, v in zip(first["_line"], cols, shown)]
            raise DataValidationError(message, file=file, column=column or str(first["_column"].iloc[0]),
                                      examples=examples, n_bad=n_bad)
        self.reasons[mask] = reason if isinstance(reason, str) else reason[mask]


def _check_areas(cells: pd.DataFrame, m: CountsMapping, fl: _Flags) -> tuple[pd.Series, pd.Series]:
    """The CSP code of each cell (NA where not matched) and the normalised area, marking exclusions."""
    table, choices = _area_lookup(m.area_match, m.area_level)
    norm, area, col = _normaliser(m.area_match), cells["_area"], m.area_column
    codes, uniq = pd.factorize(area)  # each distinct value once
    uniq = norm(pd.Series(uniq, dtype="string"))
    key = pd.Series(pd.array(list(uniq) + [pd.NA], dtype="string")[np.where(codes < 0, len(uniq), codes)],
                    index=area.index)
    rule = key.map({norm(k): r for k, r in m.exclude_areas.items()}).astype("string")
    fl.mark(rule.notna(), rule, rule=True)
    fl.mark(area.isna(), "blank_area", "blank area", shown=area, column=col)
    hits = key.map({k: len(table.get(k, ())) for k in uniq}).fillna(0).astype("int64")
    unknown = area.notna() & (hits == 0) & fl.reasons.isna()
    if unknown.any():
        said = ", ".join(f"{v!r}{did_you_mean(v, choices)}" for v in list(dict.fromkeys(area[unknown]))[:5])
        fl.mark(unknown, "unknown_area", f"unknown area(s) (area.match: {m.area_match}): {said}; list areas "
                "that are out of scope under exclude_areas with a reason", shown=area, column=col)
    ambiguous = (hits > 1) & fl.reasons.isna()
    if ambiguous.any():
        first = key[ambiguous].iloc[0]
        fl.mark(ambiguous, "ambiguous_area", "area(s) holding several CSPs cannot be split between them "
                f"(e.g. {first!r} -> {', '.join(table[first])}); match by csp_name instead", shown=area,
                column=col)
    code = key.map({k: table[k][0] for k in uniq if len(table.get(k, ())) == 1})
    return code.astype("string"), key


def _map_values(v: pd.Series, values: dict, fl: _Flags, reason: str) -> pd.Series:
    """Rename source spellings; a value mapped to null is excluded (a rule); others stay as written."""
    if not values:
        return v
    fl.mark(v.isin([k for k, x in values.items() if x is None]).fillna(False).astype(bool), reason, rule=True)
    return v.where(~v.isin(list(values)).fillna(False).astype(bool), v.map(values)).astype("string")


def _check_cells(cells: pd.DataFrame, m: CountsMapping, strict: bool) -> tuple[pd.DataFrame, pd.Series]:
    fl = _Flags(cells, strict)
    out = pd.DataFrame(index=cells.index)
    # what the mapping asks to exclude comes first and is never an error: listed areas, values mapped to null
    cat = _map_values(cells["_category"], m.category_values, fl, "excluded_category")
    dims = {d: _map_values(cells[d], values, fl, "excluded_dimension")
            for d, (_, values) in m.dimensions.items()}
    out[m.area_key], area_key = _check_areas(cells, m, fl)
    starts = parse_periods(cells["_period"], m.formats, m.resolution)
    pcol = m.period_column if m.layout == "long" else None
    fl.mark(starts.isna(), "bad_period", f"period(s) not read by period.formats {list(m.formats)} "
            f"(resolution {m.resolution})", shown=cells["_period"], column=pcol)
    lo, hi = m.window()
    fl.mark((starts < lo) | (starts > hi), "outside_window", f"period(s) outside the date window {lo.date()} "
            f"to {hi.date()}", shown=cells["_period"], column=pcol)
    raw = cells["_count"]
    supp = raw.isin([s for s in m.suppressed if s]).fillna(False).astype(bool)
    supp |= raw.isna() & ("" in m.suppressed)
    digits = raw.str.fullmatch(r"\d{1,15}").fillna(False).astype(bool)
    blank = "" if "" in m.suppressed else '; a blank cell is not a count (add "" to count.suppressed)'
    fl.mark(~supp & ~digits, "bad_count", "count cell(s) are not whole numbers >= 0 written as digits only "
            f"(no signs, decimals or thousands separators) nor a suppressed marker {list(m.suppressed)}"
            f"{blank}")
    out["count"] = pd.to_numeric(raw.where(digits & ~supp), errors="coerce").astype("Int64")
    out["suppressed"] = supp.to_numpy()
    fl.mark(cat.isna(), "blank_category", "blank category", shown=cat,
            column=m.category_join.join(m.category_columns) or None)
    out["category"] = cat
    for d, v in dims.items():
        out[d] = v
    out["period_start"] = starts
    # the same cell twice: the first is kept
    keys = ["_key", "period_start", "category", *m.dimensions]
    ok = fl.reasons.isna()
    sub = out.loc[ok].assign(_key=area_key[ok])[keys]
    gid = sub.groupby(keys, dropna=False, sort=False).ngroup()
    later = gid.duplicated()
    if later.any():
        first_of = pd.Series(sub.index, index=sub.index).groupby(gid).transform("first")
        shown = pd.Series(pd.NA, index=cells.index, dtype="string")
        for i in later[later].index[:50] if strict else ():
            j = first_of[i]
            shown[i] = (f"{cells.at[i, '_area']} {cells.at[i, '_period']} {out.at[i, 'category']} is also "
                        f"at {cells.at[j, '_file']} line {cells.at[j, '_line']}, "
                        f"column {cells.at[j, '_column']!r}")
        fl.mark(later.reindex(cells.index, fill_value=False), "duplicate_cell", "duplicate cell(s): the same "
                f"area x period x category{''.join(f' x {d}' for d in m.dimensions)} appears more than once",
                shown=shown)
    if m.area_match.startswith(("lad", "utla")) and m.area_level == "csp":
        # a CSP of several LADs, one suppressed: its known parts are excluded
        ok = fl.reasons.isna()
        g = out[ok].groupby(["csp_code", "period_start", "category", *m.dimensions], dropna=False)
        mixed = g["suppressed"].transform("any") & ~out.loc[ok, "suppressed"]
        fl.mark(mixed.reindex(cells.index, fill_value=False), "suppressed_part_of_csp", rule=True)
    return out, fl.reasons


# --------------------------------------------------------------------------- the report
@dataclass
class CountsReport:
    """Reconciliation of a counts ingest, for cells and for the sum of counts (``to_dict`` is the JSON).

    "Counts in" sums every cell that reads as a whole number (suppressed and bad cells add 0). ``gaps``: per
    CSP, the periods of the whole data's span for which it has no cell (never filled with 0).
    """

    dataset: str
    mapping: str = ""
    resolution: str = ""
    cells_in: int = 0
    cells_kept: int = 0
    cells_excluded: int = 0
    cells_suppressed: int = 0
    counts_in: int = 0
    counts_kept: int = 0
    counts_excluded: int = 0
    excluded_cells_by_reason: dict = field(default_factory=dict)
    excluded_counts_by_reason: dict = field(default_factory=dict)
    suppressed_cells_excluded: int = 0
    by_file: dict = field(default_factory=dict)
    excluded_areas: dict = field(default_factory=dict)
    output_cells: int = 0
    csps: list = field(default_factory=list)
    forces: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    period_start: str | None = None
    period_end: str | None = None
    gaps: dict = field(default_factory=dict)
    series_with_gaps: int = 0
    missing_csps: list = field(default_factory=list)
    out_of_force_cells: int = 0
    dropped_columns: dict = field(default_factory=dict)
    unused_mapping_values: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    def balanced(self) -> bool:
        """Cells in = kept + excluded and counts in = kept + excluded, and the reasons add up."""
        return (self.cells_in == self.cells_kept + self.cells_excluded
                and self.counts_in == self.counts_kept + self.counts_excluded
                and self.cells_excluded == sum(self.excluded_cells_by_reason.values())
                and self.counts_excluded == sum(self.excluded_counts_by_reason.values()))

    def to_dict(self) -> dict:
        return {"kind": "counts", **asdict(self), "balanced": self.balanced()}

    def summary(self) -> str:
        """One line for the terminal."""
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.excluded_cells_by_reason.items())) or "none"
        return (f"{self.dataset}: {self.cells_in:,} cells in = {self.cells_kept:,} kept "
                f"({self.cells_suppressed:,} suppressed) + {self.cells_excluded:,} excluded ({reasons}); "
                f"counts {self.counts_in:,} in = {self.counts_kept:,} kept + {self.counts_excluded:,} "
                "excluded; "
                f"{len(self.csps)} CSPs, {self.resolution} {self.period_start} to {self.period_end}")


def _tally(frame: pd.DataFrame) -> dict:
    kept = frame["reason"].isna()
    ex = frame[~kept]
    by = ex.groupby("reason")["count"]
    return {"cells_in": len(frame), "cells_kept": int(kept.sum()), "cells_excluded": int((~kept).sum()),
            "cells_suppressed": int((kept & frame["suppressed"]).sum()),
            "counts_in": int(frame["count"].sum()), "counts_kept": int(frame.loc[kept, "count"].sum()),
            "counts_excluded": int(ex["count"].sum()),
            "excluded_cells_by_reason": {str(k): int(v) for k, v in by.size().items()},
            "excluded_counts_by_reason": {str(k): int(v) for k, v in by.sum().items()}}


def _area_notes(cells: pd.DataFrame, tally: pd.DataFrame, m: CountsMapping, report: CountsReport) -> None:
    """Excluded area values (cells, counts, a "did you mean" for unknown ones) and unused mapping values."""
    norm, choices = _normaliser(m.area_match), _area_lookup(m.area_match)[1]
    listed = {norm(k) for k in m.exclude_areas}
    reasons = set(m.exclude_areas.values()) | {"unknown_area", "ambiguous_area"}
    ex = tally.assign(area=cells["_area"].fillna("")).loc[tally["reason"].isin(list(reasons)).fillna(False)]
    def close(a: str) -> str | None:
        return None if norm(a) in listed else next(iter(difflib.get_close_matches(a, choices, 1)), None)

    report.excluded_areas = {str(a): {"reason": str(g["reason"].iloc[0]), "cells": len(g),
                                      "counts": int(g["count"].sum()), "did_you_mean": close(a)}
                             for a, g in ex.groupby("area")}
    seen = set(norm(pd.Series(cells["_area"].dropna().unique(), dtype="string")))
    cats = set(cells["_category"].dropna().unique())
    report.unused_mapping_values = {**{k: "exclude_areas" for k in m.exclude_areas if norm(k) not in seen},
                                    **{k: "category.values" for k in m.category_values if k not in cats}}


# --------------------------------------------------------------------------- the engine
def read_counts(files, mapping: str | Path | dict | CountsMapping, dataset: str = "counts",
                on_invalid: str = "raise") -> tuple[pd.DataFrame, pd.DataFrame, CountsReport]:
    """Read and check a count table; nothing is written.

    Returns
    -------
    (DataFrame, DataFrame, CountsReport)
        The kept cells as ``aggregate_counts`` rows (one per CSP x period x category x dimensions, with the
        ``source_file``/``source_line`` of the first source cell), the excluded cells with their
        ``exclusion_reason`` and where they came from, and the reconciliation.
    """
    if on_invalid not in ("raise", "exclude"):
        raise ValueError("on_invalid must be 'raise' or 'exclude'")
    t0 = time.perf_counter()
    m = _as_mapping(mapping)
    paths, parts, dropped = _expand(files, m), [], {}
    for p, label in zip(paths, _labels(paths)):
        cells, extra = _file_cells(p, m, label)
        parts.append(cells)
        if extra:
            dropped[label] = extra
    cells = pd.concat(parts, ignore_index=True)
    typed, reasons = _check_cells(cells, m, on_invalid == "raise")
    tally = pd.DataFrame({"file": cells["_file"], "reason": reasons, "count": typed["count"].fillna(0),
                          "suppressed": typed["suppressed"]})
    report = CountsReport(dataset=dataset, mapping=m.name, resolution=m.resolution, **_tally(tally),
                          dropped_columns=dropped, seconds={"read_check": round(time.perf_counter() - t0, 2)})
    report.suppressed_cells_excluded = int((reasons.notna() & typed["suppressed"]).sum())
    report.by_file = {name: _tally(g) for name, g in tally.groupby("file", sort=False)}
    _area_notes(cells, tally, m, report)
    if m.layout == "wide":
        report.notes += [f"{f}: column(s) not read (neither in the mapping nor matched by period.columns "
                         f"{m.period_columns!r}): {', '.join(map(repr, cols))}"
                         for f, cols in dropped.items()]

    kept = reasons.isna().to_numpy()
    excluded = cells.loc[~kept].rename(columns={
        "_file": "source_file", "_line": "source_line", "_column": "source_column", "_area": "area",
        "_period": "period", "_count": "count_text", "_category": "source_category"})
    excluded = excluded.assign(**{c: typed.loc[~kept, c] for c in (m.area_key, "category", "period_start",
                                                                    "count")},
                               exclusion_reason=reasons[~kept]).reset_index(drop=True)
    # one output cell per CSP x period x category x dimensions: several source cells only when LADs make up a
    # CSP, and then all are known (summed) or all are suppressed (see suppressed_part_of_csp)
    good = typed.loc[kept].assign(source_file=cells.loc[kept, "_file"], source_line=cells.loc[kept, "_line"],
                                  _n=typed.loc[kept, "count"].fillna(0))
    out = (good.groupby([m.area_key, "period_start", "category", *m.dimensions], sort=False, dropna=False)
           .agg(count=("_n", "sum"), suppressed=("suppressed", "any"), source_file=("source_file", "first"),
                source_line=("source_line", "first")).reset_index())
    out["count"] = out["count"].astype("Int64").where(~out["suppressed"])
    report.output_cells = len(out)
    if int(out["count"].sum()) != report.counts_kept or not report.balanced():  # pragma: no cover - a bug
        raise DataValidationError(f"reconciliation does not balance: {report.to_dict()}")
    if not len(out):
        raise DataValidationError("no cell could be kept (see the reconciliation)",
                                  file=str(cells["_file"][0]),
                                  examples=[f"{k}: {v}" for k, v in report.excluded_cells_by_reason.items()])
    pfa_of = areas().set_index("csp_code")["pfa_code"]
    if m.area_level == "area":  # the CSPs an area covers, and its force when they share one
        covers = area_csps(m.area_match)
        out.insert(1, "csp_codes", out["area_code"].map(lambda a: ";".join(covers.get(str(a), []))))
        forces = {a: sorted({pfa_of.get(c) for c in cs} - {None}) for a, cs in covers.items()}
        pfa = out["area_code"].map(lambda a: forces[a][0] if len(forces.get(a, ())) == 1 else pd.NA)
    else:
        pfa = out["csp_code"].map(pfa_of)
    out.insert(1, "pfa_code", pfa.astype("string"))
    out.insert(3, "resolution", pd.Series(m.resolution, index=out.index, dtype="string"))
    fy = _fy_label(out["period_start"])
    out.insert(4, "financial_year", fy.where(pd.Series(m.resolution != "academic_year", index=out.index)))
    month = out["period_start"] if m.resolution == "month" else pd.Series(pd.NaT, index=out.index)
    out.insert(5, "month", month.astype("datetime64[ns]"))
    out["suppressed"] = out["suppressed"].astype(bool)
    for c in [m.area_key, "category", *m.dimensions] + (["csp_codes"] if m.area_level == "area" else []):
        out[c] = out[c].astype("string")
    _describe(out, m, report)
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    return out, excluded, report


def _describe(out: pd.DataFrame, m: CountsMapping, report: CountsReport) -> None:
    """CSPs, forces, categories, span and gaps of the kept cells, into the report."""
    key = m.area_key
    if m.area_level == "area":
        report.csps = sorted({c for cs in out["csp_codes"].dropna() for c in str(cs).split(";") if c})
        report.forces = sorted(set(areas().set_index("csp_code").loc[report.csps, "pfa_code"]))
    else:
        report.csps = sorted(out["csp_code"].unique().tolist())
        report.forces = sorted(out["pfa_code"].unique().tolist())
    report.categories = sorted(out["category"].dropna().unique().tolist())
    first, last, step = out["period_start"].min(), out["period_start"].max(), _STEP[m.resolution]
    report.period_start = str(first.date())
    report.period_end = str((last + pd.DateOffset(months=step) - pd.Timedelta(days=1)).date())
    span = pd.date_range(first, last, freq=f"{step}MS")
    have = out[[key, "period_start"]].drop_duplicates().groupby(key)["period_start"].agg(set)
    report.gaps = {c: [str(p.date()) for p in span if p not in s]
                   for c, s in have.items() if len(s) < len(span)}
    sizes = out.groupby([key, "category", *m.dimensions], dropna=False).size()
    report.series_with_gaps = int((sizes < len(span)).sum())
    a = areas()
    report.missing_csps = sorted(set(a.loc[a["pfa_code"].isin(report.forces), "csp_code"]) - set(report.csps))
    if m.constants.get("reporting_force") and m.area_level == "csp":
        report.out_of_force_cells = int((out["pfa_code"] != m.constants["reporting_force"]).sum())


# --------------------------------------------------------------------------- writing
def ingest_counts(files, mapping: str | Path | dict | CountsMapping, dataset: str = "counts",
                  out_dir: Path | None = None, on_invalid: str = "raise",
                  check: bool = False) -> CountsReport:
    """Ingest a table of counts into ``data/processed/<dataset>/`` (the folder layout of record datasets).

    Parameters
    ----------
    files : path or list of paths
        Files, or folders (every file matching ``files.pattern``).
    mapping : str, path, dict or CountsMapping
        A ``kind: counts`` mapping (a name in ``config/mappings``, a path, or the YAML's content).
    dataset : str
        The processed dataset's name.
    out_dir : path, optional
        Where to write (default ``data/processed/<dataset>``).
    on_invalid : {"raise", "exclude"}
        Raise on the first kind of bad cell, or exclude bad cells with their reason.
    check : bool
        Validate and return the report; write nothing.

    Writes ``aggregate_counts.parquet``; ``monthly_counts.parquet`` (monthly data with no suppressed cell: the
    record datasets' table, ``offences`` int64); ``areas``, ``population`` and ``lsoa.parquet``;
    ``excluded.parquet``; ``reconciliation.json`` and ``dataset.json`` (``fields`` empty: no record fields).
    """
    m = _as_mapping(mapping)
    paths = _expand(files, m)
    out, excluded, report = read_counts(paths, m, dataset, on_invalid)
    if check:
        return report
    t = time.perf_counter()
    folder = Path(out_dir or processed_dir() / dataset)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "records").is_dir():  # left by a record ingest of the same name: not this dataset's
        shutil.rmtree(folder / "records")
    cols = [m.area_key, *(["csp_codes"] if m.area_level == "area" else []), "pfa_code", "period_start",
            "resolution", "financial_year", "month", "category", *m.dimensions, "count", "suppressed"]
    table = out.sort_values([m.area_key, "category", *m.dimensions, "period_start"], ignore_index=True)[cols]
    table.to_parquet(folder / "aggregate_counts.parquet", index=False)
    monthly = folder / "monthly_counts.parquet"
    n_supp = int(table["suppressed"].sum())
    if m.resolution == "month" and not n_supp and m.area_level == "csp":
        mc = table[["csp_code", "pfa_code", "month", "financial_year", "category", *m.dimensions, "count"]]
        mc = mc.rename(columns={"count": "offences"}).astype({"offences": "int64"})
        mc.to_parquet(monthly, index=False)
    else:
        monthly.unlink(missing_ok=True)
        why = (f"{m.resolution} data" if m.resolution != "month" else "cells by area, not CSP"
               if m.area_level == "area" else f"{n_supp:,} suppressed cells")
        report.notes.append(f"monthly_counts.parquet not written ({why}: an int64 monthly count cannot hold "
                            "them); read aggregate_counts.parquet")
    excluded.to_parquet(folder / "excluded.parquet", index=False)
    write_area_tables(report.csps, folder)
    report.seconds["write"] = round(time.perf_counter() - t, 2)
    (folder / "reconciliation.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    meta = {
        "dataset": dataset, "synthetic": False, "kind": "counts", "schema": "counts", "mapping": m.name,
        "source": m.source, "measure": m.measure, "disclosure": m.disclosure,
        "disclosure_threshold": disclosure_threshold("hes" if m.disclosure == "hospital" else "police"),
        "resolution": m.resolution, "quarters": m.quarters(), "categories": report.categories,
        "dimensions": list(m.dimensions),
        "period_start": report.period_start, "period_end": report.period_end,
        "cells": report.output_cells, "suppressed_cells": n_supp, "csps": len(report.csps),
        "forces": report.forces, "input_files": {n: sha256_file(p) for p, n in zip(paths, _labels(paths))},
        "sources": [m.source, *_SOURCES], "geography": read_yaml(CONFIG / "geography.yaml")["lookup_vintage"],
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "svtools_version": __version__, "fields": {},
    }
    (folder / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return report


def ingest_hospital_counts(path: Path, out_dir: Path,
                           mapping: str | Path | dict | CountsMapping = "hospital_hes") -> pd.DataFrame:
    """HES-style admissions (``data_formats.md`` §3) via the counts engine: ``hospital_admissions.parquet``.

    The columns and dtypes of the record datasets' hospital table: ``csp_code, financial_year, age_band, sex``
    (string), ``admissions`` (Int64, NA when suppressed), ``suppressed`` (bool), in file order. Strict: a bad
    cell raises :class:`~svtools.errors.DataValidationError`.
    """
    m = _as_mapping(mapping)
    out = read_counts([Path(path)], m, "hospital", "raise")[0]
    out = out.sort_values(["source_file", "source_line"], kind="stable", ignore_index=True)
    frame = pd.DataFrame({"csp_code": out["csp_code"], "financial_year": out["financial_year"],
                          **{d: out[d] for d in m.dimensions}, "admissions": out["count"].astype("Int64"),
                          "suppressed": out["suppressed"].astype(bool)})
    frame.to_parquet(Path(out_dir) / "hospital_admissions.parquet", index=False)
    return frame
