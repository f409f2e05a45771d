"""Readers for the real Home Office police recorded crime (PRC) open data tables by police force area.

Three files in ``../shared/data/real/home_office_prc/`` (``SOURCES.md`` §2; Home Office / ONS, OGL v3.0):

* ``prc_pfa_2017-18_by_quarter_offence_code.csv`` and ``prc_pfa_2019-20_by_quarter_offence_code.csv``: offences by
  financial year, quarter, force and Home Office offence code (with ONS offence group and subgroup);
  :func:`read_prc_quarterly`.
* ``rec_crime_pfa_rolling_year_2003-2018.csv.gz``: rolling 12-month totals by force and offence group, years
  ending March 2003 to December 2018; :func:`read_rolling_year`. Successive totals overlap: never sum them.

Parsing is explicit, never guessed (:func:`parse_counts`). The 2017/18 file writes counts as Excel text: `` 66776 ``
(spaces around a whole number) and ``-00``, Excel's zero, documented in ``SOURCES.md`` as meaning 0. The 2019/20
file writes them as floats (``9.0``). A whole number may be negative (``-1``, ``-45``): the quarterly tables hold
net adjustments (offences cancelled or reclassified after the quarter in which they were recorded); they are kept,
because only then do the force totals reproduce the published England and Wales totals (``SOURCES.md``: violence
against the person 1,396,949 in 2017/18, checked in ``tests/test_home_office_prc.py``). Anything else (a blank,
``1,234``, ``n/a``, a fraction in a territorial force's row) is an error naming the file, the column and example
rows.

Rows that are not one of the 43 territorial forces (Action Fraud, British Transport Police, CIFAS, UK Finance and
Financial Fraud Action UK: national bodies with no resident population) are excluded, and every table reports them
(:attr:`HomeOfficeTable.excluded`: rows and offences by body), never dropped silently. Every other force name must
map to a 2024 police force area code of ``lookups/lad24_csp24_pfa24_ew.csv`` (the codes of
``config/geography.yaml``); an unmapped name is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError
from svtools.ingest import reference as ref

__all__ = [
    "PRC_FILES",
    "ROLLING_FILE",
    "NON_TERRITORIAL",
    "HomeOfficeTable",
    "parse_counts",
    "pfa_code_of",
    "read_prc_quarterly",
    "read_rolling_year",
    "annual_force_totals",
    "pfa_population",
    "window_mid_year",
]

#: The quarterly offence-code tables shipped, by financial year (paths under the real-data folder).
PRC_FILES = {
    "2017/18": "home_office_prc/prc_pfa_2017-18_by_quarter_offence_code.csv",
    "2019/20": "home_office_prc/prc_pfa_2019-20_by_quarter_offence_code.csv",
}
#: The rolling-year totals by force and offence group, 2003-2018.
ROLLING_FILE = "home_office_prc/rec_crime_pfa_rolling_year_2003-2018.csv.gz"

#: Rows of the Home Office tables that are not territorial police forces, and why they are left out.
NON_TERRITORIAL = {
    "Action Fraud": "national fraud reporting centre: no resident population",
    "British Transport Police": "policed the railways of England, Wales and Scotland: no resident population",
    "CIFAS": "fraud reported by industry (CIFAS): no resident population",
    "UK Finance": "fraud reported by industry (UK Finance): no resident population",
    "Financial Fraud Action UK": "fraud reported by industry (Financial Fraud Action UK): no resident population",
}

#: How the files write a force that the ONS lookup names differently (after lower case and '&' -> 'and').
_FORCE_ALIASES = {"city of london": "london, city of"}

_QUARTERLY_COLUMNS = {
    "Financial Year": "financial_year",
    "Financial Quarter": "quarter",
    "Force Name": "force_name",
    "Offence Description": "offence_description",
    "Offence Group": "offence_group",
    "Offence Subgroup": "offence_subgroup",
    "Offence Code": "offence_code",
    "Number of Offences": "offences",
}
_ROLLING_COLUMNS = {
    "12 months ending": "period_end",
    "PFA": "force_name",
    "Region": "region",
    "Offence": "offence_group",
    "Rolling year total number of offences": "offences",
}

_WHOLE = re.compile(r"^-?\d+$")
_WHOLE_FLOAT = re.compile(r"^-?\d+\.0+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
#: The documented placeholders and the value they stand for (SOURCES.md §2: "-00 meaning 0").
PLACEHOLDERS = {"-00": 0}


@dataclass
class HomeOfficeTable:
    """A parsed Home Office table: the territorial forces' rows, and what was excluded.

    Attributes
    ----------
    data : DataFrame
        The 43 territorial forces' rows (tidy; columns in each reader's docstring); ``offences`` is int64.
    excluded : DataFrame
        One row per excluded body: ``force_name``, ``reason``, ``rows`` (int64), ``offences`` (float64: the
        bodies' own figures, some of which are estimates with fractions).
    source : str
        The file read (relative to the real-data folder).
    rows_read : int
        Data rows in the file (= rows of ``data`` + ``excluded["rows"].sum()``).
    """

    data: pd.DataFrame
    excluded: pd.DataFrame
    source: str
    rows_read: int

    def excluded_note(self) -> str:
        """One sentence naming what was left out, e.g. for a page note."""
        if self.excluded.empty:
            return "No rows were excluded."
        parts = [f"{r.force_name} ({int(r.rows):,} rows)" for r in self.excluded.itertuples()]
        return ("Excluded as not territorial forces (no resident population): " + ", ".join(parts) + ".")


# --------------------------------------------------------------------------- parsing
def parse_counts(values: pd.Series, *, file: str, column: str, integer: bool = True) -> pd.Series:
    """Parse a column of counts written as text, explicitly.

    Accepted: a whole number with optional surrounding spaces (``" 66776 "``, ``"-1"``), a whole number written
    as a float (``"9.0"``), and the documented placeholder ``"-00"`` (0). With ``integer=False`` a decimal
    (``"26033.39"``, an estimate) is accepted too.

    Parameters
    ----------
    values : Series of str
        The raw cells (read with ``dtype=str, keep_default_na=False``).
    file, column : str
        Named in the error.
    integer : bool, default True
        Whether fractions are an error.

    Returns
    -------
    Series
        int64 offences when ``integer``, else float64; same index.

    Raises
    ------
    DataValidationError
        On any other value (blank, thousands separators, words, a fraction when ``integer``), naming the file,
        the column and up to five example rows (1-based data rows, with the raw text).
    """
    text = values.astype(str).str.strip()
    placeholder = text.isin(list(PLACEHOLDERS))
    whole = text.str.match(_WHOLE.pattern) | text.str.match(_WHOLE_FLOAT.pattern)
    ok = placeholder | whole
    if not integer:
        ok |= text.str.match(_DECIMAL.pattern)
    if not ok.all():
        bad = values[~ok.to_numpy()]
        examples = [f"row {int(i) + 1}: {v!r}" for i, v in list(bad.items())[:5]]
        kind = "a whole number" if integer else "a number"
        raise DataValidationError(
            f"{len(bad):,} value(s) are not {kind} or the placeholder '-00' (0)", file=file, column=column,
            examples=examples)
    out = pd.Series(np.zeros(len(text)), index=values.index, dtype="float64")
    num = ~placeholder.to_numpy()
    out[num] = text[num].astype("float64")
    for token, value in PLACEHOLDERS.items():
        out[(text == token).to_numpy()] = value
    return out.astype("int64") if integer else out


def _norm(name: str) -> str:
    n = re.sub(r"\s+", " ", str(name).strip().lower().replace("&", "and"))
    return _FORCE_ALIASES.get(n, n)


@lru_cache(maxsize=1)
def _pfa_lookup() -> dict[str, tuple[str, str]]:
    lk = ref.lad24_csp_pfa()[["pfa_code", "pfa_name"]].drop_duplicates()
    return {_norm(n): (c, n) for c, n in zip(lk["pfa_code"], lk["pfa_name"])}


def pfa_code_of(force_names: pd.Series, *, file: str = "", column: str = "") -> pd.DataFrame:
    """2024 PFA code and ONS name for each force name of a Home Office table.

    Names are compared in lower case with '&' read as 'and' ("Avon & Somerset" = "Avon and Somerset") and
    "City of London" read as the lookup's "London, City of". Returns ``pfa_code, pfa_name`` (same index).

    Raises
    ------
    DataValidationError
        When a name matches no PFA of ``lookups/lad24_csp24_pfa24_ew.csv`` (file, column and the names given).
    """
    look = _pfa_lookup()
    names = pd.Series(force_names.astype(str).unique())
    keys = names.map(_norm)
    missing = sorted(names[~keys.isin(list(look))])
    if missing:
        raise DataValidationError("force name(s) match no police force area of lookups/lad24_csp24_pfa24_ew.csv",
                                  file=file, column=column, examples=missing[:5])
    code = dict(zip(names, (look[k][0] for k in keys)))
    name = dict(zip(names, (look[k][1] for k in keys)))
    text = force_names.astype(str)
    return pd.DataFrame({"pfa_code": text.map(code).astype(object), "pfa_name": text.map(name).astype(object)},
                        index=force_names.index)


def _read_text(relative: str, columns: dict[str, str]) -> tuple[pd.DataFrame, str]:
    path = ref.real_file(relative)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataValidationError(f"expected columns {missing} not found (has {list(raw.columns)})",
                                  file=str(path), column=missing[0])
    return raw.rename(columns=columns)[list(columns.values())], str(path)


def _split(raw: pd.DataFrame, path: str, count_column: str, name_column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Territorial rows (counts parsed as whole numbers, PFA codes added) and the excluded bodies' summary."""
    name = raw["force_name"].str.strip()
    out_mask = name.isin(list(NON_TERRITORIAL)).to_numpy()
    excl = raw[out_mask]
    ex_off = parse_counts(excl["offences"], file=path, column=count_column, integer=False)
    excluded = (pd.DataFrame({"force_name": name[out_mask], "offences": ex_off})
                .groupby("force_name", as_index=False).agg(rows=("offences", "size"), offences=("offences", "sum")))
    excluded["reason"] = excluded["force_name"].map(NON_TERRITORIAL)
    excluded["rows"] = excluded["rows"].astype("int64")
    excluded = excluded[["force_name", "reason", "rows", "offences"]]
    keep = raw[~out_mask].copy()
    keep["force_name"] = name[~out_mask]
    keep["offences"] = parse_counts(keep["offences"], file=path, column=count_column, integer=True)
    codes = pfa_code_of(keep["force_name"], file=path, column=name_column)
    keep["pfa_code"], keep["pfa_name"] = codes["pfa_code"], codes["pfa_name"]
    n = keep["pfa_code"].nunique()
    if n != 43:
        raise DataValidationError(f"expected the 43 territorial forces, found {n}", file=path, column=name_column,
                                  examples=sorted(keep["force_name"].unique())[:5])
    return keep, excluded


def _offence_code(code: str) -> str:
    """Home Office codes with dots as slashes ("8.1" -> "8/1"); a combined code "1/4.1/4.10/4.2" (2017/18's
    homicide line) as its parts, "1, 4/1, 4/10, 4/2"."""
    code = str(code).strip()
    if "/" in code and "." in code:
        return ", ".join(p.strip().replace(".", "/") for p in code.split("/"))
    return code.replace(".", "/")


#: Combined codes whose lines the file repeats without telling them apart (2017/18: homicide is four unlabelled
#: rows per force and quarter, one per offence of codes 1, 4/1, 4/10 and 4/2). They are summed to one row.
COMBINED_CODES = {"1, 4/1, 4/10, 4/2": 4}


def _sum_combined_lines(keep: pd.DataFrame, path: str) -> pd.DataFrame:
    keys = ["financial_year", "quarter", "pfa_code", "offence_code"]
    combined = keep["offence_code"].isin(list(COMBINED_CODES))
    if not combined.any():
        return keep
    part = keep[combined]
    size = part.groupby(keys)["offences"].transform("size")
    too_many = size > part["offence_code"].map(COMBINED_CODES)
    if too_many.any():
        ex = part.loc[too_many, ["force_name", "quarter", "offence_code"]].head().astype(str).agg(" / ".join, axis=1)
        raise DataValidationError("a combined offence code has more lines than the offences it combines",
                                  file=path, column="Offence Code", examples=ex.tolist())
    first = part.drop_duplicates(keys).drop(columns="offences")
    sums = part.groupby(keys, as_index=False)["offences"].sum()
    merged = first.merge(sums, on=keys, how="left")[keep.columns]
    return pd.concat([keep[~combined], merged], ignore_index=True)


# --------------------------------------------------------------------------- readers
@lru_cache(maxsize=4)
def read_prc_quarterly(financial_year: str = "2019/20") -> HomeOfficeTable:
    """Home Office PRC open data by force, quarter and offence code for one financial year.

    Parameters
    ----------
    financial_year : {"2017/18", "2019/20"}

    Returns
    -------
    HomeOfficeTable
        ``data``: ``financial_year`` (str), ``quarter`` (int8, 1 = April-June), ``pfa_code``, ``pfa_name`` (ONS
        2024 lookup), ``force_name`` (as written in the file), ``offence_group``, ``offence_subgroup``,
        ``offence_code`` (dots as slashes, "8N"; 2017/18's combined homicide line as "1, 4/1, 4/10, 4/2", its
        four unlabelled rows per force and quarter summed: :data:`COMBINED_CODES`), ``offence_description``,
        ``offences`` (int64, may be negative: a net adjustment). One row per force, quarter and offence code.

    Raises
    ------
    DataValidationError
        On an unknown year, a bad count, an unmapped force, a quarter outside 1-4, a row for another year, or a
        duplicated force x quarter x offence code.
    """
    if financial_year not in PRC_FILES:
        raise ValueError(f"no Home Office PRC table shipped for {financial_year!r} (shipped: {sorted(PRC_FILES)})")
    raw, path = _read_text(PRC_FILES[financial_year], _QUARTERLY_COLUMNS)
    rows = len(raw)
    wrong = raw["financial_year"].str.strip() != financial_year
    if wrong.any():
        raise DataValidationError(f"rows for another financial year than {financial_year}", file=path,
                                  column="Financial Year",
                                  examples=[f"row {i + 1}: {v!r}" for i, v in raw.loc[wrong, "financial_year"].head().items()])
    quarter = raw["quarter"].str.strip()
    badq = ~quarter.isin(["1", "2", "3", "4"])
    if badq.any():
        raise DataValidationError("financial quarter must be 1, 2, 3 or 4", file=path, column="Financial Quarter",
                                  examples=[f"row {i + 1}: {v!r}" for i, v in raw.loc[badq, "quarter"].head().items()])
    keep, excluded = _split(raw, path, "Number of Offences", "Force Name")
    keep["financial_year"] = financial_year
    keep["quarter"] = keep["quarter"].str.strip().astype("int8")
    keep["offence_code"] = keep["offence_code"].map(_offence_code)
    for c in ("offence_group", "offence_subgroup", "offence_description"):
        keep[c] = keep[c].str.strip()
    keep = _sum_combined_lines(keep, path)
    dup = keep.duplicated(["pfa_code", "quarter", "offence_code"], keep=False)
    if dup.any():
        ex = keep.loc[dup, ["force_name", "quarter", "offence_code"]].head().astype(str).agg(" / ".join, axis=1)
        raise DataValidationError("a force, quarter and offence code appear more than once", file=path,
                                  column="Offence Code", examples=ex.tolist())
    cols = ["financial_year", "quarter", "pfa_code", "pfa_name", "force_name", "offence_group", "offence_subgroup",
            "offence_code", "offence_description", "offences"]
    data = keep[cols].sort_values(["pfa_code", "quarter", "offence_code"], ignore_index=True)
    return HomeOfficeTable(data=data, excluded=excluded, source=PRC_FILES[financial_year], rows_read=rows)


@lru_cache(maxsize=1)
def read_rolling_year() -> HomeOfficeTable:
    """ONS/Home Office rolling 12-month recorded crime totals by force and offence group, 2003-2018.

    Returns
    -------
    HomeOfficeTable
        ``data``: ``period_end`` (Timestamp, the last day of the 12 months' last month: the file's ``30-12-2017``
        is read as the 12 months ending December 2017), ``period`` (text, "12 months ending Mar 2003"),
        ``pfa_code``, ``pfa_name``, ``force_name`` (as in the file), ``region``, ``offence_group`` (the file's
        25 groups, e.g. "Violence with injury", "Robbery", "Possession of weapons offences"), ``offences``
        (int64 offences in the 12 months; a few negative values are the source's, in groups this project does
        not show). Successive windows overlap: never sum them.

    Raises
    ------
    DataValidationError
        On a bad date (not ``dd-mm-yyyy``, or not the end of a quarter), a bad count, an unmapped force or a
        duplicated force x window x offence group.
    """
    raw, path = _read_text(ROLLING_FILE, _ROLLING_COLUMNS)
    rows = len(raw)
    when = pd.to_datetime(raw["period_end"].str.strip(), format="%d-%m-%Y", errors="coerce")
    bad = when.isna() | ~when.dt.month.isin([3, 6, 9, 12])
    if bad.any():
        raise DataValidationError("'12 months ending' must be a date dd-mm-yyyy at the end of a quarter",
                                  file=path, column="12 months ending",
                                  examples=[f"row {i + 1}: {v!r}" for i, v in raw.loc[bad, "period_end"].head().items()])
    raw["period_end"] = when.dt.to_period("M").dt.to_timestamp(how="end").dt.normalize()
    keep, excluded = _split(raw, path, "Rolling year total number of offences", "PFA")
    keep["period"] = "12 months ending " + keep["period_end"].dt.strftime("%b %Y")
    keep["offence_group"] = keep["offence_group"].str.strip()
    keep["region"] = keep["region"].str.strip()
    dup = keep.duplicated(["pfa_code", "period_end", "offence_group"], keep=False)
    if dup.any():
        ex = keep.loc[dup, ["force_name", "period", "offence_group"]].head().astype(str).agg(" / ".join, axis=1)
        raise DataValidationError("a force, 12-month window and offence group appear more than once", file=path,
                                  column="Offence", examples=ex.tolist())
    cols = ["period_end", "period", "pfa_code", "pfa_name", "force_name", "region", "offence_group", "offences"]
    data = keep[cols].sort_values(["pfa_code", "period_end", "offence_group"], ignore_index=True)
    return HomeOfficeTable(data=data, excluded=excluded, source=ROLLING_FILE, rows_read=rows)


def annual_force_totals(table: HomeOfficeTable, by: str = "offence_group") -> pd.DataFrame:
    """Offences of a financial year per force, summed over its four quarters and offence codes.

    Parameters
    ----------
    table : HomeOfficeTable
        From :func:`read_prc_quarterly`.
    by : {"offence_group", "offence_subgroup"}

    Returns
    -------
    DataFrame
        ``financial_year, pfa_code, pfa_name, <by>, offences`` (int64; net of the quarterly adjustments).
    """
    if by not in ("offence_group", "offence_subgroup"):
        raise ValueError("by must be 'offence_group' or 'offence_subgroup'")
    d = table.data
    return (d.groupby(["financial_year", "pfa_code", "pfa_name", by], as_index=False, sort=True)["offences"].sum())


# --------------------------------------------------------------------------- denominators
def window_mid_year(period_end: pd.Timestamp) -> int:
    """The ONS mid-year (30 June) that falls inside the 12 months ending ``period_end``.

    March Y -> Y-1 (the financial year's rule of :mod:`svtools.analysis.population`); June, September or
    December Y -> Y.
    """
    ts = pd.Timestamp(period_end)
    return ts.year - 1 if ts.month < 6 else ts.year


@lru_cache(maxsize=1)
def pfa_population() -> pd.DataFrame:
    """Residents of each police force area (all ages, persons) for every ONS mid-year estimate shipped.

    Police force areas are made of whole local authorities, so a force's residents are the sum of its LADs: each
    mid-year's LADs (on their own year's boundaries) are taken to the 2024 LAD holding them
    (:func:`svtools.ingest.reference.lad_code_history`) and then to its force (``lookups/lad24_csp24_pfa24_ew.csv``).

    Returns
    -------
    DataFrame
        ``pfa_code, mid_year`` (int64), ``population`` (int64 persons at 30 June). Mid-years 2011 and 2014-2024
        (none for 2003-2010, 2012 or 2013 are shipped). 2011-2020 are 2011-Census-based, 2021 on Census
        2021-based.

    Raises
    ------
    DataValidationError
        If a LAD of some year reaches no force.
    """
    lad = ref.population_lad()
    per = lad.groupby(["mid_year", "lad_code"], as_index=False)["population"].sum()
    hist = ref.lad_code_history().set_index("lad_code")["lad24_code"]
    pfa = ref.lad24_csp_pfa().drop_duplicates("lad24_code").set_index("lad24_code")["pfa_code"]
    per["pfa_code"] = per["lad_code"].map(hist).map(pfa)
    if per["pfa_code"].isna().any():
        raise DataValidationError("LAD(s) of the ONS estimates reach no police force area", column="lad_code",
                                  examples=sorted(per.loc[per["pfa_code"].isna(), "lad_code"].unique())[:5])
    out = per.groupby(["pfa_code", "mid_year"], as_index=False)["population"].sum()
    out["mid_year"] = out["mid_year"].astype("int64")
    out["population"] = out["population"].astype("int64")
    return out
