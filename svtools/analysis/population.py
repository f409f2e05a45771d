"""Denominators: residents of a CSP (or several CSPs, or a force) by financial year and age range.

Every rate of the profiles divides by residents from a dataset's ``population.parquet`` (written by
:func:`svtools.ingest.area_tables.write_area_tables`): ONS local-authority mid-year estimates by single year of
age (0-90, 90 = 90 and over) and sex, bridged to the 2024 CSPs, for every shipped mid-year (2011, 2014-2024).

The rules, in one place:

* **Which year.** Financial year ``YYYY/YY`` (1 April YYYY to 31 March YYYY+1) uses the mid-``YYYY`` estimate:
  30 June YYYY falls inside it. A financial year whose mid-year is not in the table uses the **nearest**
  mid-year (ties: the earlier), and every table says so (``exact`` False; :func:`year_note`). With the shipped
  estimates that is 2011 for 2012/13, 2014 for 2013/14 and 2024 for 2025/26 and later.
* **Which ages.** The age range of the numerator: all ages, ``0-24`` for victims under 25, ``10-24`` for the
  Duty's young-people focus (``min_age``/``max_age``, inclusive).
* **A period longer than a year.** Person-years: each month counts 1/12 of its financial year's residents
  (:func:`person_years`); a period-average population is person-years divided by the period's years.
* **Neighbourhoods.** ONS LSOA (2011) single-year-of-age estimates exist for mid-2019 and mid-2020 only. An
  LSOA's residents in year ``y`` are its nearest LSOA-year estimate (2019 or 2020) at each age, scaled by the
  ratio of its CSP's year-``y`` figure to the sum of the CSP's LSOAs at that age (:func:`lsoa_residents`): the
  LSOAs keep their 2019/2020 shares of the CSP and sum to the CSP's figure of the year.
* **Series break.** Mid-2011 and mid-2014 to mid-2020 are rolled forward from the 2011 Census; mid-2021 onward
  are Census 2021-based (``census_base``). A step between 2020/21 and 2021/22 can be rebasing, not change.
* **Ethnicity.** Census 2021 usual residents (all ages) by high-level ethnic group, summed over the CSPs
  (:func:`ethnicity_residents`): the same denominator for every year (no later estimate by ethnicity exists).

Sources: ONS mid-year estimates (MYE2, MYEB1, SAPE22DT2/SAPE23DT2) and Census 2021 TS021, OGL v3.0
(``../shared/data/real/SOURCES.md`` §5, §5a).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError

__all__ = [
    "age_label",
    "mid_year_for",
    "residents",
    "residents_series",
    "person_years",
    "person_years_by_csp",
    "monthly_residents",
    "lsoa_residents",
    "ethnicity_residents",
    "year_note",
]

_FY = re.compile(r"^(\d{4})/(\d{2})$")


def _fy_start(fy: str) -> int:
    m = _FY.match(str(fy))
    if not m:
        raise DataValidationError("financial year must look like 2019/20", column="financial_year",
                                  examples=[str(fy)])
    return int(m.group(1))


def _fy_of_month(months: pd.DatetimeIndex) -> list[str]:
    start = np.where(months.month >= 4, months.year, months.year - 1)
    return [f"{s}/{(s + 1) % 100:02d}" for s in start]


def mid_year_for(financial_year: str, available: Iterable[int]) -> tuple[int, bool]:
    """The mid-year estimate used for a financial year, and whether it is that year's own.

    Parameters
    ----------
    financial_year : str
        ``"2019/20"`` style label.
    available : iterable of int
        Mid-years in the population table.

    Returns
    -------
    (int, bool)
        The mid-year (``YYYY`` for ``YYYY/YY`` when present, else the nearest, ties to the earlier) and True
        when it is the financial year's own mid-year.
    """
    start = _fy_start(financial_year)
    years = sorted({int(y) for y in available})
    if not years:
        raise DataValidationError("population table is empty", column="population")
    best = min(years, key=lambda y: (abs(y - start), y))
    return best, best == start


def age_label(min_age: int = 0, max_age: int | None = None) -> str:
    """Words for an age range: "all ages", "aged 0 to 24", "aged 10 to 24", "aged 25 and over"."""
    if max_age is None:
        return "all ages" if min_age <= 0 else f"aged {min_age} and over"
    return f"aged {min_age} to {max_age}"


def _check(population: pd.DataFrame) -> None:
    need = ["csp_code", "year", "age", "population"]
    missing = [c for c in need if c not in population.columns]
    if missing:
        raise DataValidationError(f"population table needs {missing}", column=missing[0])


class _Cube:
    """A population table summed once into a CSP x mid-year x age x sex array, for the many look-ups of a page.

    Built from the table as it is (codes and sexes compared as text, ages as whole years, a missing count as 0,
    as a pandas group sum does); ``first_base`` keeps, for each CSP and year, the census base of its first row
    with one and that row's position, so "the first row's base" of any set of CSPs is the one of least
    position.
    """

    def __init__(self, population: pd.DataFrame):
        n = len(population)
        ci, self.codes = pd.factorize(population["csp_code"].astype(str).to_numpy(), sort=True)
        yi, self.years = pd.factorize(population["year"].astype("int64").to_numpy(), sort=True)
        ai, self.ages = pd.factorize(population["age"].astype("int64").to_numpy(), sort=True)
        self.has_sex = "sex" in population.columns
        if self.has_sex:
            si, self.sexes = pd.factorize(population["sex"].astype(str).to_numpy(), sort=True)
        else:
            si, self.sexes = np.zeros(n, dtype=np.int64), np.array([""], dtype=object)
        self.code_index = {str(c): k for k, c in enumerate(self.codes)}
        shape = (len(self.codes), len(self.years), len(self.ages), len(self.sexes))
        values = np.nan_to_num(population["population"].astype("float64").to_numpy(), nan=0.0)
        flat = np.ravel_multi_index((ci, yi, ai, si), shape)
        self.cube = np.bincount(flat, weights=values, minlength=int(np.prod(shape))).reshape(shape)
        self.present = np.zeros(shape[:2], dtype=bool)  # a CSP has rows for that year (of any age or sex)
        self.present[ci, yi] = True
        self.first_base = None
        if "census_base" in population.columns:
            base = population["census_base"]
            known = base.notna().to_numpy()
            pos = np.full(shape[:2], n, dtype=np.int64)
            np.minimum.at(pos, (ci[known], yi[known]), np.flatnonzero(known))
            self.first_pos = pos
            self.first_base = base.to_numpy()

    def by_year(self, codes: list[str] | None, min_age: int, max_age: int | None, sex: str | None):
        rows = np.arange(len(self.codes)) if codes is None else np.array(sorted({self.code_index[c] for c in codes}),
                                                                           dtype=np.int64)
        ages = self.ages >= int(min_age)
        if max_age is not None:
            ages &= self.ages <= int(max_age)
        sexes = np.ones(len(self.sexes), dtype=bool) if sex is None else (self.sexes == str(sex))
        present = self.present[rows].any(axis=0)
        part = self.cube[rows][:, :, ages][:, :, :, sexes]
        totals = part.sum(axis=(0, 2, 3))
        years = self.years[present]
        by_year = pd.Series(totals[present], index=pd.Index(years, dtype="int64", name="year"), name="population")
        base = {}
        if self.first_base is not None:
            pos = self.first_pos[rows][:, present].min(axis=0)
            if (pos >= len(self.first_base)).any():
                return None  # a year without any census base: the table route raises its own error
            base = dict(zip(years.tolist(), pd.Series(self.first_base[pos]).astype(int).tolist()))
        return by_year, base


#: The cube of each population table in use, by ``id``, with a weak reference to the table (the entry goes when
#: the table does) and a fingerprint that must still match.
_CUBES: dict[int, tuple] = {}


def _column_sum(values: pd.Series):
    """The sum of a column as a sign of change: an integer column summed as integers (exact, and no float copy of
    a national table on every look-up: ~15x cheaper), any other as the float sum of its known values."""
    arr = values.to_numpy()
    if arr.dtype.kind in "iub":
        return int(arr.sum(dtype=np.int64))
    return float(np.nansum(values.to_numpy(dtype="float64")))


def _fingerprint(population: pd.DataFrame) -> tuple:
    """Cheap signs that a table changed in place since its cube was built: shape, columns and column sums."""
    sums = tuple(_column_sum(population[c]) for c in ("year", "age", "population"))
    return population.shape, tuple(map(str, population.columns)), sums


def _cube(population: pd.DataFrame) -> _Cube:
    """The cached :class:`_Cube` of ``population`` (built on first use; a table that changed gets a new one)."""
    key = id(population)
    fingerprint = _fingerprint(population)
    hit = _CUBES.get(key)
    if hit is not None and hit[0]() is population and hit[1] == fingerprint:
        return hit[2]
    cube = _Cube(population)
    try:
        ref = weakref.ref(population, lambda _ref, key=key: _CUBES.pop(key, None))
    except TypeError:  # pragma: no cover - a DataFrame takes weak references
        return cube
    _CUBES[key] = (ref, fingerprint, cube)
    return cube


def _by_year(population: pd.DataFrame, csp_codes, min_age: int, max_age: int | None,
             sex: str | None) -> tuple[pd.Series, dict]:
    """Residents summed over the CSPs and ages (and sexes) for each mid-year, and each year's census base.

    Summed from the table's cached :class:`_Cube` (one pass over the table, however many calls); the same
    numbers as :func:`_by_year_table`, which filters and groups the rows (exactly so for whole-number counts,
    as ONS estimates are; a fractional count can differ in the last binary digit by the order of the sum).
    """
    _check(population)
    codes = None if csp_codes is None else [str(c) for c in csp_codes]
    if sex is not None and "sex" not in population.columns:
        raise DataValidationError("the population table has no sex column (re-ingest the dataset)", column="sex")
    if codes is not None and not codes:
        return _by_year_table(population, csp_codes, min_age, max_age, sex)
    cube = _cube(population)
    if codes is not None:
        missing = sorted(set(codes) - set(cube.code_index))
        if missing:
            raise DataValidationError("no population for these CSP(s)", column="csp_code", examples=missing)
    out = cube.by_year(codes, min_age, max_age, sex)
    return out if out is not None else _by_year_table(population, csp_codes, min_age, max_age, sex)


def _by_year_table(population: pd.DataFrame, csp_codes, min_age: int, max_age: int | None,
                   sex: str | None) -> tuple[pd.Series, dict]:
    """:func:`_by_year` by filtering and grouping the table's rows (the reference the cube is tested against)."""
    _check(population)
    pop = population
    if csp_codes is not None:
        codes = [str(c) for c in csp_codes]
        have = set(pop["csp_code"].astype(str))
        missing = sorted(set(codes) - have)
        if missing:
            raise DataValidationError("no population for these CSP(s)", column="csp_code", examples=missing)
        pop = pop[pop["csp_code"].astype(str).isin(codes)]
    age = pop["age"].astype("int64")
    keep = (age >= int(min_age)).to_numpy().copy()
    if max_age is not None:
        keep &= (age <= int(max_age)).to_numpy()
    if sex is not None:
        if "sex" not in pop.columns:
            raise DataValidationError("the population table has no sex column (re-ingest the dataset)",
                                      column="sex")
        keep &= (pop["sex"].astype(str) == str(sex)).to_numpy()
    years = pop["year"].astype("int64")
    by_year = pop.loc[keep, "population"].astype("float64").groupby(years[keep]).sum()
    by_year = by_year.reindex(sorted(years.unique()), fill_value=0.0)
    base = {}
    if "census_base" in pop.columns:
        base = pop.groupby(years)["census_base"].first().astype(int).to_dict()
    return by_year, base


def residents(population: pd.DataFrame, financial_years: Iterable[str], csp_codes: Sequence[str] | None = None,
              min_age: int = 0, max_age: int | None = None, sex: str | None = None) -> pd.DataFrame:
    """Residents of one or more CSPs in an age range, for each financial year: the rate denominator.

    Parameters
    ----------
    population : DataFrame
        ``csp_code, year, age, population`` and optionally ``sex`` and ``census_base`` (``population.parquet``:
        ONS mid-year estimates, persons at 30 June, single years of age 0-90 with 90 = 90 and over).
    financial_years : iterable of str
        Labels such as ``"2019/20"``.
    csp_codes : sequence of str, optional
        CSPs whose residents are summed (one CSP, several, or all the CSPs of a force). Default: every CSP in
        ``population``.
    min_age, max_age : int
        Inclusive age range in years (``max_age=None``: no upper limit). Under 25: ``0, 24``; young people
        ``10, 24``.
    sex : {"F", "M"}, optional
        One sex only (mid-2024 has persons only, so a sex-specific 2024/25 figure uses the nearest year).

    Returns
    -------
    DataFrame
        One row per financial year, in the order given: ``financial_year``, ``mid_year`` (the estimate used),
        ``exact`` (True when it is the year's own mid-year, False when the nearest was used), ``census_base``
        (2011 or 2021; NA when the table does not say), ``population`` (float64 persons). ``attrs`` hold
        ``csp_codes``, ``ages`` (e.g. "aged 10 to 24") and ``rule``.

    Notes
    -----
    Mid-``YYYY`` is the denominator of financial year ``YYYY/YY`` (30 June falls inside it); a year without its
    own estimate takes the nearest mid-year (ties: the earlier). See the module docstring.
    """
    by_year, base = _by_year(population, csp_codes, min_age, max_age, sex)
    if sex is not None:
        by_year = by_year[by_year > 0]  # years without the sex split (mid-2024) are not available for one sex
    available = [int(y) for y in by_year.index]
    persons = dict(zip(available, by_year.to_numpy(dtype="float64").tolist()))
    labels = [str(fy) for fy in financial_years]
    chosen = [mid_year_for(fy, available) for fy in labels]
    mids = [year for year, _ in chosen]
    # the columns built typed (one frame, no row tuples converted column by column afterwards)
    columns = {"financial_year": labels, "mid_year": np.array(mids, dtype="int64"),
               "exact": np.array([exact for _, exact in chosen], dtype=bool),
               "census_base": pd.array([base.get(y, pd.NA) for y in mids], dtype="Int64"),
               "population": np.array([persons[y] for y in mids], dtype="float64")}
    if not labels:  # no years: the empty table as rows would make it (text and population columns untyped)
        columns.update(financial_year=pd.Series([], dtype=object), population=pd.Series([], dtype=object))
    out = pd.DataFrame(columns)
    out.attrs.update(csp_codes=None if csp_codes is None else list(csp_codes), ages=age_label(min_age, max_age),
                     rule="financial year YYYY/YY uses mid-YYYY, else the nearest mid-year (ties: earlier)")
    return out


def residents_series(population: pd.DataFrame, financial_years: Iterable[str],
                     csp_codes: Sequence[str] | None = None, min_age: int = 0, max_age: int | None = None,
                     sex: str | None = None) -> pd.Series:
    """:func:`residents` as a Series of persons indexed by financial year, named ``population``.

    ``attrs["mid_year"]`` and ``attrs["exact"]`` map each financial year to the estimate used and whether it
    is its own. A drop-in for :func:`svtools.analysis.measures.resident_population`.
    """
    r = residents(population, financial_years, csp_codes, min_age, max_age, sex)
    s = pd.Series(r["population"].to_numpy(), index=pd.Index(r["financial_year"], name="financial_year"),
                  name="population", dtype="float64")
    s.attrs.update(mid_year=dict(zip(r["financial_year"], r["mid_year"].astype(int))),
                   exact=dict(zip(r["financial_year"], r["exact"])), ages=r.attrs["ages"])
    return s


def _months(months) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.Index(months))).to_period("M").to_timestamp()


def monthly_residents(population: pd.DataFrame, months, csp_codes: Sequence[str] | None = None,
                      min_age: int = 0, max_age: int | None = None) -> pd.Series:
    """Residents for each month (its financial year's mid-year estimate): the offset of a monthly trend model.

    Parameters
    ----------
    population, csp_codes, min_age, max_age
        As in :func:`residents`.
    months : sequence of dates
        Months (any day in the month).

    Returns
    -------
    Series
        Persons indexed by month start (``month``), named ``population``; ``attrs["exact"]`` is False when any
        month used the nearest mid-year. Pass it as ``population=`` to
        :func:`svtools.analysis.trends.fit_trend_model` or :func:`~svtools.analysis.trends.interrupted_time_series`
        (a log offset) so the model is of the rate, not the count.
    """
    idx = _months(months)
    fys = _fy_of_month(idx)
    uniq = list(dict.fromkeys(fys))
    r = residents(population, uniq, csp_codes, min_age, max_age).set_index("financial_year")
    s = pd.Series(r.loc[fys, "population"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(idx, name="month"),
                  name="population")
    s.attrs.update(exact=bool(r["exact"].all()), mid_years=sorted(set(int(y) for y in r["mid_year"])))
    return s


def person_years(population: pd.DataFrame, months, csp_codes: Sequence[str] | None = None, min_age: int = 0,
                 max_age: int | None = None) -> float:
    """Person-years at risk over the months of a period: the sum over months of 1/12 of that month's
    financial-year residents (:func:`monthly_residents`). Divide by ``len(months) / 12`` for the
    period-average population."""
    return float(monthly_residents(population, months, csp_codes, min_age, max_age).sum() / 12.0)


def person_years_by_csp(population: pd.DataFrame, months, min_age: int = 0,
                        max_age: int | None = None) -> pd.Series:
    """Person-years at risk of every CSP over the months of a period (the funnel and league-table denominator).

    The same rule as :func:`person_years` for each CSP at once: each month counts 1/12 of its financial year's
    residents (mid-``YYYY`` for ``YYYY/YY``, else the nearest mid-year, ties earlier), so a 12-month window
    across two financial years uses both years' estimates in proportion.

    Returns
    -------
    Series
        Person-years (float64) indexed by ``csp_code``; ``attrs["mid_years"]`` lists the estimates used and
        ``attrs["exact"]`` is False when any month used the nearest year.
    """
    _check(population)
    idx = _months(months)
    fys = pd.Series(_fy_of_month(idx))
    sel = population["age"] >= min_age
    if max_age is not None:
        sel &= population["age"] <= max_age
    by = population.loc[sel].groupby(["csp_code", "year"], observed=True)["population"].sum().unstack("year")
    available = [int(y) for y in by.columns]
    weights: dict[int, float] = {}
    exact = True
    for fy, n in fys.value_counts().items():
        year, own = mid_year_for(str(fy), available)
        weights[year] = weights.get(year, 0.0) + n / 12.0
        exact &= own
    out = sum(by[y].astype("float64") * w for y, w in weights.items())
    out = pd.Series(out, name="person_years").rename_axis("csp_code")
    out.attrs.update(mid_years=sorted(weights), exact=bool(exact))
    return out


def lsoa_residents(lsoa_population: pd.DataFrame, population: pd.DataFrame, lsoa_csp: Mapping | pd.Series,
                   months, min_age: int = 0, max_age: int | None = None) -> pd.Series:
    """Average residents of each LSOA over a period, in an age range, scaled to each year's CSP figure.

    Parameters
    ----------
    lsoa_population : DataFrame
        ``lsoa_code, year, age, population`` (``lsoa_population.parquet``: ONS LSOA (2011) estimates, mid-2019
        and mid-2020, persons by single year of age).
    population : DataFrame
        The CSP table (``population.parquet``).
    lsoa_csp : mapping or Series
        LSOA code -> CSP code (``lsoa.parquet``). LSOAs not in it are left out.
    months : sequence of dates
        The months of the period.
    min_age, max_age : int
        Inclusive age range (``max_age=None``: no upper limit).

    Returns
    -------
    Series
        Period-average residents (float64 persons) indexed by LSOA code, named ``population``; times the
        period's length in years it gives the person-years of the rate.

    Notes
    -----
    For each financial year of the period (weighted by its months) with mid-year ``y``
    (:func:`mid_year_for`): LSOA residents at age ``a`` = LSOA estimate at ``a`` of the LSOA mid-year nearest to
    ``y`` x (CSP residents at ``a`` in ``y`` / sum of the CSP's LSOA estimates at ``a``). So the CSP's LSOAs
    sum to the CSP's figure of the year, and each keeps its 2019/2020 share of the CSP at each age.
    """
    for col in ("lsoa_code", "year", "age", "population"):
        if col not in lsoa_population.columns:
            raise DataValidationError(f"LSOA population table needs {col}", column=col)
    _check(population)
    csp_of = pd.Series(lsoa_csp).astype(str)
    csp_of.index = csp_of.index.astype(str)
    # The LSOA codes as numbers (a national force's 0.9M rows as Python strings cost ~240 MB): each distinct code
    # is read as text once, and the rows carry its position. The sums below are the same group sums, in the same
    # row order, of the same values as by text keys: only the keys are numbers.
    raw, distinct = pd.factorize(lsoa_population["lsoa_code"])
    at, names = pd.factorize(pd.Index(distinct).astype(str))  # two codes of the same text are one LSOA
    at = np.append(at, -1)  # a missing code (-1) stays missing
    name_rows = at[raw]
    del raw, at
    names = pd.Index(names)
    name_csp = names.map(csp_of)
    held = names.isin(csp_of.index)
    age = lsoa_population["age"].astype("int64").to_numpy()
    keep = age >= int(min_age)
    if max_age is not None:
        keep &= age <= int(max_age)
    keep &= np.append(held, False)[name_rows]
    name_rows = name_rows[keep]
    age = age[keep]
    # the kept rows' years and counts, converted after the selection (as the text-keyed rows were)
    year = pd.Series(lsoa_population["year"].array[keep]).astype("int64").to_numpy()
    value = pd.Series(lsoa_population["population"].array[keep]).astype("float64").to_numpy()
    idx = _months(months)
    if not len(idx):
        raise DataValidationError("no months in the period", column="month")
    fys = pd.Series(_fy_of_month(idx)).value_counts(sort=False)
    used = np.unique(name_rows)
    csps = sorted({str(c) for c in name_csp[used]})
    csp_rank = np.full(len(names), -1, dtype=np.int64)
    csp_rank[used] = pd.Index(csps).get_indexer(name_csp[used])
    csp_rows = csp_rank[name_rows]
    pop = population[population["csp_code"].astype(str).isin(csps)]
    cpop = pop.groupby([pop["csp_code"].astype(str), pop["year"].astype("int64"), pop["age"].astype("int64")]
                       )["population"].sum().astype("float64")
    csp_years = sorted(set(cpop.index.get_level_values(1)))
    lsoa_years = np.unique(year).tolist()
    if not csp_years or not lsoa_years:
        raise DataValidationError("no population for these LSOAs", column="population")
    # (CSP, age) as a grid: a CSP's figure and its LSOAs' sum at each age are looked up there for every row
    first_age = int(age.min()) if len(age) else 0
    n_ages = int(age.max()) - first_age + 1 if len(age) else 1
    year_rank = pd.Index(lsoa_years).get_indexer(year)
    cell = csp_rows * n_ages + (age - first_age)
    sums = pd.Series(value).groupby((year_rank * len(csps)) * n_ages + cell).sum()
    grid = pd.MultiIndex.from_product([pd.Index(csps).astype(str), pd.RangeIndex(first_age, first_age + n_ages)])
    # the LSOAs in text order, and each row's place in it
    lsoa_index = pd.Index(sorted(names[used].tolist()), name="lsoa_code")
    lsoa_rank = np.full(len(names), -1, dtype=np.int64)
    lsoa_rank[used] = lsoa_index.get_indexer(names[used])
    lsoa_rows = lsoa_rank[name_rows]
    total = pd.Series(0.0, index=pd.RangeIndex(len(lsoa_index)))
    for fy, n_months in fys.items():
        y, _ = mid_year_for(str(fy), csp_years)
        ly = min(lsoa_years, key=lambda a: (abs(a - y), a))
        rows = year == ly
        target = cpop.xs(y, level=1).reindex(grid).to_numpy()[cell[rows]]
        keys = lsoa_years.index(ly) * len(csps) * n_ages + np.arange(len(csps) * n_ages)
        denom = sums.reindex(keys).to_numpy()[cell[rows]]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(denom > 0, target / denom, 0.0)
        scaled = pd.Series(value[rows] * np.nan_to_num(factor), index=lsoa_rows[rows])
        total = total.add(scaled.groupby(level=0).sum() * (n_months / len(idx)), fill_value=0.0)
    total.index = lsoa_index
    total.name = "population"
    total.attrs.update(ages=age_label(min_age, max_age))
    return total


def ethnicity_residents(ethnicity: pd.DataFrame, csp_codes: Sequence[str] | None = None,
                        detailed: bool = False) -> pd.Series:
    """Census 2021 usual residents by ethnic group, summed over CSPs: the ethnicity denominator.

    Parameters
    ----------
    ethnicity : DataFrame
        ``csp_code, ethnicity, population`` (and ``ethnic_group``; ``ethnicity.parquet``).
    csp_codes : sequence of str, optional
        CSPs to sum (default: all in the table).
    detailed : bool
        False (default): the five high-level groups the records use (Asian, Black, Mixed, White, Other);
        True: the 19 Census categories.

    Returns
    -------
    Series
        Persons (int64, all ages, Census day 21 March 2021) indexed by group, named ``population``.
    """
    key = "ethnic_group" if detailed else "ethnicity"
    for col in ("csp_code", key, "population"):
        if col not in ethnicity.columns:
            raise DataValidationError(f"ethnicity table needs {col}", column=col)
    eth = ethnicity
    if csp_codes is not None:
        codes = [str(c) for c in csp_codes]
        missing = sorted(set(codes) - set(eth["csp_code"].astype(str)))
        if missing:
            raise DataValidationError("no Census 2021 ethnicity for these CSP(s)", column="csp_code",
                                      examples=missing)
        eth = eth[eth["csp_code"].astype(str).isin(codes)]
    out = eth.groupby(eth[key].astype(str))["population"].sum().astype("int64")
    out.index.name = key
    out.name = "population"
    return out


def year_note(table: pd.DataFrame) -> str:
    """One sentence on the estimates used by a :func:`residents` table: which mid-year for which financial
    year, any nearest-year substitutions, and the 2020/2021 series break when both sides are used."""
    subs = table.loc[~table["exact"].astype(bool)]
    fy = str(table["financial_year"].iloc[-1]) if len(table) else "2019/20"
    example = f"mid-{fy[:4]} for {fy}" if fy[:4].isdigit() else "mid-2019 for 2019/20"
    parts = [f"Residents: ONS mid-year estimates of the year each financial year starts in ({example})"]
    if len(subs):
        pairs = ", ".join(f"{fy} uses mid-{int(y)}" for fy, y in zip(subs["financial_year"], subs["mid_year"]))
        parts.append(f" (no estimate of its own, so the nearest: {pairs})")
    text = "".join(parts) + "."
    bases = set(int(b) for b in table["census_base"].dropna()) if "census_base" in table.columns else set()
    if bases == {2011, 2021}:
        text += (" Estimates to mid-2020 are based on the 2011 Census and from mid-2021 on Census 2021, so a "
                 "change between 2020/21 and 2021/22 can be partly rebasing.")
    return text
