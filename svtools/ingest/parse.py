"""Field parsers of the ingest: text in, typed canonical values out, with every problem counted.

Each parser takes the source text (a pandas string Series: blanks are missing) and a :class:`FieldSpec` from the
mapping, and reports bad values to a :class:`Problems` collector, which either raises on the first one (strict)
or records a reason. Two levels of problem:

* a **row** problem (the crime itself is unsound: no reference, no date, an unknown offence code) excludes the
  row, with its reason, from the kept records;
* an **attribute** problem (a victim's age, a suspect's sex, an hour) sets only that value to unknown and is
  counted by field and reason: the crime is kept.

All parsers are vectorised: a value is parsed once per distinct spelling (factorised) or with pyarrow kernels.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from svtools.errors import DataValidationError
from svtools.ingest.mapping import FieldSpec, Mapping

__all__ = [
    "HEADER_ROW",
    "strings_by_code",
    "boolean_by_code",
    "Problems",
    "parse_datetimes",
    "parse_dates_multi",
    "parse_flag",
    "parse_category",
    "parse_offence_code",
    "normalise_ho_code",
    "parse_age",
    "parse_age_band_text",
    "age_at",
    "apply_blank",
]

HEADER_ROW = 2  # data row i (0-based) is line i + 2 of the file: line 1 is the header
MAX_AGE = 110


# --------------------------------------------------------------------------- problems
@dataclass
class Problems:
    """Collects per-row problems: raise on the first (strict) or record reasons (lenient).

    ``reasons`` holds the first row-level reason of each row (missing: sound); ``attributes`` counts the
    attribute-level exclusions by ``(field, reason)``.
    """

    file: str
    mapping: Mapping
    strict: bool
    index: pd.Index
    line_offset: int = 0
    reasons: pd.Series = None  # type: ignore[assignment]
    attributes: dict = field(default_factory=dict)

    def __post_init__(self):
        self.reasons = pd.Series(pd.NA, index=self.index, dtype="string")

    def _examples(self, bad: np.ndarray, values: pd.Series | None) -> list[str]:
        pos = np.flatnonzero(bad)[:5]
        shown = values.iloc[pos].tolist() if values is not None else [""] * len(pos)
        return [f"line {p + HEADER_ROW + self.line_offset}: {v!r}" for p, v in zip(pos, shown)]

    def _raise(self, bad: np.ndarray, canonical: str, message: str, values: pd.Series | None):
        raise DataValidationError(message, file=self.file, column=self.mapping.source(canonical),
                                  examples=self._examples(bad, values), n_bad=int(bad.sum()))

    def row(self, bad, canonical: str, message: str, reason: str, values: pd.Series | None = None) -> None:
        """Rows where ``bad`` holds are unsound: raise (strict) or exclude them with ``reason``."""
        bad = np.asarray(pd.Series(bad).fillna(False).astype(bool))
        if not bad.any():
            return
        if self.strict:
            self._raise(bad, canonical, message, values)
        first = bad & self.reasons.isna().to_numpy()
        self.reasons[first] = reason

    def attribute(self, bad, canonical: str, message: str, reason: str, values: pd.Series | None = None
                  ) -> np.ndarray:
        """Values where ``bad`` holds are unusable: raise (strict) or count them; returns the mask to blank."""
        bad = np.asarray(pd.Series(bad).fillna(False).astype(bool))
        if bad.any():
            if self.strict:
                self._raise(bad, canonical, message + " (with --lenient only this value is set to unknown and "
                            "counted; the crime is kept)", values)
            key = (canonical, reason)
            self.attributes[key] = self.attributes.get(key, 0) + int(bad.sum())
        return bad


# --------------------------------------------------------------------------- helpers
def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series, type=pa.large_string(), from_pandas=True)


def _factorised(series: pd.Series, fn) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn(distinct value) -> (result, ok)`` once per distinct value; blanks give (None, True)."""
    codes, mapped, ok = _factorised_codes(series, fn)
    return mapped[codes], ok[codes]


def _factorised_codes(series: pd.Series, fn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fn(distinct value) -> (result, ok)`` once per distinct value: the codes of the rows (a blank row points
    at the last entry, which is (None, True)) and the results and oks of the distinct values."""
    codes, uniques = pd.factorize(series)
    res = [fn(u) for u in uniques]
    mapped = np.array([r[0] for r in res] + [None], dtype=object)
    ok = np.array([r[1] for r in res] + [True], dtype=bool)
    return codes, mapped, ok


def _by_code(values: pd.Series, codes: np.ndarray, index) -> pd.Series:
    """Per-row values from per-distinct-value ``values`` (its last entry is what a code of -1, or the code
    ``len(values) - 1``, gets): one arrow or numpy take, no Python object per row."""
    last = len(values) - 1
    pos = np.where(codes < 0, last, codes) if len(codes) else np.zeros(0, dtype=np.intp)
    arr = values.array
    if isinstance(arr, pd.arrays.ArrowStringArray):
        taken = arr._pa_array.combine_chunks().take(pa.array(pos, type=pa.int64()))
        return pd.Series(type(arr)(taken), index=index)
    return pd.Series(arr.take(pos), index=index)


def strings_by_code(uniques_text: pd.Series, codes: np.ndarray, index) -> pd.Series:
    """Text per row from the text of each distinct value (``uniques_text``, "string" dtype, one entry per code;
    a code of -1 gives missing)."""
    values = pd.concat([uniques_text.reset_index(drop=True), pd.Series([pd.NA], dtype=uniques_text.dtype)],
                       ignore_index=True)
    return _by_code(values, codes, index)


def boolean_by_code(values: np.ndarray, known: np.ndarray, codes: np.ndarray) -> pd.arrays.BooleanArray:
    """A BooleanArray per row from the (value, known) of each distinct value; a code of -1 gives missing."""
    pos = np.where(codes < 0, len(values), codes)
    vals = np.append(np.asarray(values, dtype=bool), False)[pos]
    mask = ~np.append(np.asarray(known, dtype=bool), False)[pos]
    return pd.arrays.BooleanArray(vals, mask)


def apply_blank(series: pd.Series, spec: FieldSpec, required: bool, problems: Problems, level: str) -> pd.Series:
    """Give blank cells their meaning: unknown (stay missing), an error, or a value written in."""
    meaning = spec.blank_means(required)
    blank = series.isna()
    if not blank.any() or meaning == "unknown":
        return series
    if meaning == "error":
        report = problems.row if level == "row" else problems.attribute
        report(blank, spec.name, f"blank value in {'a required' if required else 'this'} field "
               "(set 'blank:' in the mapping if a blank has a meaning)", f"blank_{spec.name}", series)
        return series
    return series.fillna(str(meaning).lower() if isinstance(meaning, bool) else str(meaning))


# --------------------------------------------------------------------------- dates
_FIELD_RE = {"%d": r"(?P<d>\d{1,2})", "%m": r"(?P<m>\d{1,2})", "%Y": r"\d{4}", "%H": r"(?P<H>\d{1,2})",
             "%M": r"\d{1,2}", "%S": r"\d{1,2}", "%y": r"\d{2}", "%b": r"[A-Za-z]{3}", "%f": r"\d{1,6}"}


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
    """Parse text with one strptime format; NaT where it does not parse. Vectorised (pyarrow) and exact.

    Arrow's parser is fast but lenient (31/02 rolls over to 3 March, hour 24 to the next day), so a value is
    accepted from it only when its day, month and hour fields equal those written in the text; every other value is
    parsed again by pandas, which is exact.
    """
    arr = _arrow(series)
    try:
        ts = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ts = pa.nulls(len(arr), pa.timestamp("s"))
    rx = _format_regex(fmt)
    fields = pc.extract_regex(arr, rx)
    same = pc.is_valid(ts)
    for name, part in (("d", pc.day), ("m", pc.month), ("H", pc.hour)):
        if f"(?P<{name}>" in rx:
            written = pc.cast(pc.struct_field(fields, name), pa.int64())
            same = pc.and_(same, pc.fill_null(pc.equal(written, part(ts)), False))
    out = pd.Series(ts.to_numpy(zero_copy_only=False), index=series.index).astype("datetime64[ns]")
    recheck = series.notna().to_numpy() & ~pc.fill_null(same, False).to_numpy(zero_copy_only=False)
    if recheck.any():
        out[recheck] = pd.to_datetime(series[recheck], format=fmt, errors="coerce").astype("datetime64[ns]")
    return out


def _has_time(fmt: str) -> bool:
    return "%H" in fmt or "%I" in fmt


def parse_dates_multi(series: pd.Series, formats, ) -> tuple[pd.Series, np.ndarray]:
    """Parse with several formats, tried in order on what is still unparsed.

    Returns the timestamps (NaT where no format parses) and a mask of values parsed with a time of day.
    Every value is parsed on its own, so when many rows repeat a value (recorded dates: a few hundred days in a
    batch of a million rows) each distinct value is parsed once and the results are spread back to the rows.
    """
    if len(series) >= _DISTINCT_MIN_ROWS:
        codes, uniques = pd.factorize(series)
        if len(uniques) <= _DISTINCT_SHARE * len(series):
            parsed, timed = _parse_dates_multi(pd.Series(uniques), formats)
            pos = np.where(codes < 0, len(uniques), codes)
            out = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))[pos]
            return pd.Series(out, index=series.index), np.append(timed, False)[pos]
    return _parse_dates_multi(series, formats)


_DISTINCT_MIN_ROWS = 2_000   # below this, parse every row
_DISTINCT_SHARE = 0.8        # parse by distinct value when there are at most this share of them


def _parse_dates_multi(series: pd.Series, formats) -> tuple[pd.Series, np.ndarray]:
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    timed = np.zeros(len(series), dtype=bool)
    todo = series.notna().to_numpy().copy()
    for fmt in formats:
        if not todo.any():
            break
        sub = series[todo]
        parsed = parse_datetimes(sub, fmt)
        ok = parsed.notna().to_numpy()
        idx = np.flatnonzero(todo)[ok]
        out.iloc[idx] = parsed.to_numpy()[ok]
        if _has_time(fmt):
            timed[idx] = True
        todo[idx] = False
    return out, timed


def parse_times(series: pd.Series, formats) -> pd.Series:
    """Time-of-day text (``13:45``, ``1345``) as a timedelta since midnight; NaT where it does not parse."""
    base = "1900-01-01 "
    stamped, _ = parse_dates_multi(base + series, ["%Y-%m-%d " + f for f in formats])
    return stamped - pd.Timestamp("1900-01-01")


def out_of_window(dates: pd.Series, window: tuple[dt.date, dt.date]) -> np.ndarray:
    """True where a parsed date lies outside the plausible window (inclusive bounds)."""
    start, end = (pd.Timestamp(w) for w in window)
    d = dates.to_numpy()
    return np.asarray(dates.notna()) & ((d < start.to_datetime64()) | (d >= (end + pd.Timedelta(days=1))
                                                                       .to_datetime64()))


# --------------------------------------------------------------------------- coded values
_TRUE = {"y", "yes", "true", "t", "1"}
_FALSE = {"n", "no", "false", "f", "0"}


def _norm_key(value) -> str:
    return " ".join(str(value).split()).casefold()


def _value_table(spec: FieldSpec, canonical: dict) -> dict:
    """Source spelling (normalised: trimmed, single spaces, case-folded) -> canonical value."""
    table = {_norm_key(k): v for k, v in canonical.items()}
    for k, v in spec.values.items():  # the mapping's entries win
        table[_norm_key(k)] = v
    return table


def _mapped(series: pd.Series, table: dict) -> tuple[np.ndarray, np.ndarray]:
    return _factorised(series, lambda u: (table.get(_norm_key(u)), _norm_key(u) in table))


def parse_flag(series: pd.Series, spec: FieldSpec, problems: Problems, level: str) -> pd.Series:
    """True/false flags: the mapping's ``values`` plus the unambiguous spellings Y/N, Yes/No, True/False, 1/0."""
    canonical = {**{k: True for k in _TRUE}, **{k: False for k in _FALSE}}
    table = _value_table(spec, canonical)
    for k, v in list(table.items()):
        if isinstance(v, str):  # values: {"Knife": "yes"} means True
            table[k] = True if v.casefold() in _TRUE else False if v.casefold() in _FALSE else v
    bad_value = [k for k, v in table.items() if v is not None and not isinstance(v, bool)]
    if bad_value:
        raise DataValidationError(f"values for {spec.name} must be true, false or null; got {bad_value[:3]}",
                                  file=problems.mapping.path, column=spec.name)
    codes, mapped_u, known_u = _factorised_codes(series, lambda u: (table.get(_norm_key(u)), _norm_key(u) in table))
    known = known_u[codes]
    report = problems.row if level == "row" else problems.attribute
    bad = report(series.notna().to_numpy() & ~known, spec.name,
                 f"unrecognised value(s); add them to 'fields: {spec.name}: values:' in the mapping",
                 f"invalid_{spec.name}", series)
    is_value = np.array([v is not None for v in mapped_u[:-1]], dtype=bool)
    out = boolean_by_code(np.array([bool(v) for v in mapped_u[:-1]], dtype=bool), is_value, codes)
    if bad is not None:
        out[np.asarray(bad, dtype=bool)] = pd.NA
    return out


def parse_category(series: pd.Series, spec: FieldSpec, categories, problems: Problems) -> pd.Categorical:
    """A coded attribute (sex, ethnicity): the mapping's values, then the canonical spellings; others unknown."""
    table = _value_table(spec, {c: c for c in categories})
    bad_value = [v for v in table.values() if v is not None and v not in categories]
    if bad_value:
        raise DataValidationError(f"values for {spec.name} must be one of {list(categories)} or null; got "
                                  f"{bad_value[:3]}", file=problems.mapping.path, column=spec.name)
    codes, mapped_u, known_u = _factorised_codes(series, lambda u: (table.get(_norm_key(u)), _norm_key(u) in table))
    bad = problems.attribute(series.notna().to_numpy() & ~known_u[codes], spec.name,
                             f"unrecognised value(s); add them to 'fields: {spec.name}: values:' in the mapping",
                             f"invalid_{spec.name}", series)
    categories = list(categories)
    cat_u = np.array([categories.index(v) if v is not None else -1 for v in mapped_u], dtype=np.int8)
    cat = cat_u[np.where(codes < 0, len(mapped_u) - 1, codes)]
    cat[bad] = -1
    return pd.Categorical.from_codes(cat, categories=categories)


_HO_SLASH = re.compile(r"^0*(\d{1,3})\s*[/.\-]\s*0*(\d{1,3})$")
_HO_PLAIN = re.compile(r"^0*(\d{1,3})\s*([A-Z]?)$")


def normalise_ho_code(text: str) -> str:
    """A Home Office code as the Counting Rules write it: ``008/01`` -> ``8/1``, ``4.10`` -> ``4/10``,
    ``008N`` -> ``8N``, `` 105a`` -> ``105A``. Text that is not code-shaped is returned trimmed and upper-cased."""
    t = " ".join(str(text).split()).upper()
    m = _HO_SLASH.match(t)
    if m:
        return f"{int(m.group(1))}/{int(m.group(2))}"
    m = _HO_PLAIN.match(t)
    if m:
        return f"{int(m.group(1))}{m.group(2)}"
    return t


def parse_offence_code(series: pd.Series, spec: FieldSpec, known: pd.DataFrame, problems: Problems) -> pd.Series:
    """Home Office offence codes from whatever the source writes.

    In order: the mapping's ``values`` (keys compared as written and as normalised codes); the code normalised
    (:func:`normalise_ho_code`, unless ``normalise: none``); with ``lookup: description``, the classification
    text of ``config/offence_codes.yaml`` (case and spacing ignored). A value none of these place is a row
    problem (``unknown_offence_code``): a crime whose offence is not known cannot be counted.
    """
    codes = set(known["ho_offence_code"])
    normalise = spec.normalise != "none"
    values = {}
    for k, v in spec.values.items():
        values[_norm_key(k)] = v
        if normalise:
            values[_norm_key(normalise_ho_code(k))] = v
    by_text = ({_norm_key(d): c for c, d in zip(known["ho_offence_code"], known["description"])}
               if spec.lookup == "description" else {})

    def one(u):
        key = _norm_key(u)
        if key in values:
            v = values[key]
            return (None if v is None else normalise_ho_code(v)), True
        code = normalise_ho_code(u) if normalise else str(u).strip()
        if code in codes:
            return code, True
        if key in by_text:
            return by_text[key], True
        return None, False

    row_codes, mapped_u, ok_u = _factorised_codes(series, one)
    ok = ok_u[row_codes]
    text_u = pd.Series(mapped_u[:-1], dtype="string")
    mapped_s = strings_by_code(text_u, row_codes, series.index)
    problems.row(~ok, spec.name, "unknown Home Office offence code(s) (see config/offence_codes.yaml; map other "
                 "spellings in 'fields: ho_offence_code: values:' or use 'lookup: description')",
                 "unknown_offence_code", series)
    problems.row(series.isna().to_numpy() | (ok & mapped_s.isna().to_numpy()), spec.name,
                 "blank Home Office offence code", "unknown_offence_code", series)
    unknown_u = (text_u.notna() & ~text_u.isin(list(codes))).to_numpy()
    if unknown_u.any():
        unknown_target = np.append(unknown_u, False)[np.where(row_codes < 0, len(unknown_u), row_codes)]
        raise DataValidationError("the mapping's values give offence codes that config/offence_codes.yaml does not "
                                  "know", file=problems.mapping.path, column=spec.name,
                                  examples=mapped_s[unknown_target].unique()[:5].tolist())
    return mapped_s


# --------------------------------------------------------------------------- ages
_BAND_RANGE = re.compile(r"^(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})(?:\s*(?:years?|yrs?))?$")
_BAND_PLUS = re.compile(r"^(\d{1,3})\s*(?:\+|plus|and over|or over|and above|or older)(?:\s*(?:years?|yrs?))?$")
_BAND_UNDER = re.compile(r"^(?:under|<|less than|below)\s*(\d{1,3})(?:\s*(?:years?|yrs?))?$")
_BAND_EXACT = re.compile(r"^(\d{1,3})$")


def parse_age_band_text(text: str) -> tuple[int, int] | None:
    """``18-24`` -> (18, 24); ``25+``, ``65 and over`` -> (25, 110), (65, 110); ``Under 10`` -> (0, 9);
    ``17`` -> (17, 17). None when the text is not an age band or its bounds are out of order or range."""
    t = " ".join(str(text).split()).casefold()
    for rx, fn in ((_BAND_RANGE, lambda m: (int(m[1]), int(m[2]))), (_BAND_PLUS, lambda m: (int(m[1]), MAX_AGE)),
                   (_BAND_UNDER, lambda m: (0, int(m[1]) - 1)), (_BAND_EXACT, lambda m: (int(m[1]), int(m[1])))):
        m = rx.match(t)
        if m:
            lo, hi = fn(m)
            return (lo, hi) if 0 <= lo <= hi <= MAX_AGE else None
    return None


def age_at(dob: pd.Series, when: pd.Series) -> pd.Series:
    """Completed years between date of birth and a date (both datetime64; NA where either is missing)."""
    years = when.dt.year - dob.dt.year
    before = (when.dt.month < dob.dt.month) | ((when.dt.month == dob.dt.month) & (when.dt.day < dob.dt.day))
    return (years - before.astype("Int64")).astype("Int64")


def parse_age(raw: dict, spec: FieldSpec, problems: Problems, offence_date: pd.Series) -> dict[str, pd.Series]:
    """A person's age: whole years, a band with its bounds, or derived from the date of birth.

    Returns ``{"age", "age_min", "age_max"}`` (Int16): ``age`` is the exact age (missing for a band),
    ``age_min``/``age_max`` the bounds (equal for an exact age). Bad values are attribute problems.
    """
    index = offence_date.index
    if spec.date_of_birth:
        text = raw[spec.date_of_birth]
        dob, _ = parse_dates_multi(text, spec.formats)
        problems.attribute(text.notna() & dob.isna(), spec.name, f"unparseable date(s) of birth (formats "
                           f"{list(spec.formats)})", f"invalid_{spec.name}", text)
        age = age_at(dob, offence_date)
        bad = problems.attribute((age < 0) | (age > MAX_AGE), spec.name,
                                 "date of birth gives an age below 0 or above 110 at the offence",
                                 f"invalid_{spec.name}", text)
        age = age.mask(bad).astype("Int16")
        return {"age": age, "age_min": age, "age_max": age}
    text = raw[spec.column]
    table = {_norm_key(k): v for k, v in spec.values.items()}

    def one(u):
        key = _norm_key(u)
        if key in table:
            if table[key] is None:
                return None, True
            u = table[key]
        if spec.bands:
            b = parse_age_band_text(u)
            return b, b is not None
        m = _BAND_EXACT.match(str(u).strip())
        if m and int(m[1]) <= MAX_AGE:
            return (int(m[1]), int(m[1])), True
        return ("range" if m else None), False

    codes, uniques = pd.factorize(text)
    res = [one(u) for u in uniques]
    ok = np.array([r[1] for r in res] + [True], dtype=bool)[codes]
    out_of_range = np.array([r[0] == "range" for r in res] + [False], dtype=bool)[codes]
    bad = problems.attribute(out_of_range, spec.name, "age out of range (whole years 0-110 expected)",
                             f"invalid_{spec.name}", text)
    bad = bad | problems.attribute(text.notna().to_numpy() & ~ok & ~out_of_range, spec.name,
                                   "age band not understood (e.g. 18-24, 25+, Under 10)" if spec.bands else
                                   "age is not a whole number of years 0-110", f"invalid_{spec.name}", text)
    res = [(r[0] if isinstance(r[0], tuple) else None, r[1]) for r in res]
    lo_u = np.array([r[0][0] if r[0] is not None else -1 for r in res] + [-1], dtype="int32")[codes]
    hi_u = np.array([r[0][1] if r[0] is not None else -1 for r in res] + [-1], dtype="int32")[codes]
    missing = (lo_u < 0) | bad
    lo = pd.Series(pd.arrays.IntegerArray(lo_u.astype("int16"), missing), index=index)
    hi = pd.Series(pd.arrays.IntegerArray(hi_u.astype("int16"), missing.copy()), index=index)
    exact = pd.Series(pd.arrays.IntegerArray(lo_u.astype("int16"), missing | (lo_u != hi_u)), index=index)
    return {"age": exact, "age_min": lo, "age_max": hi}
