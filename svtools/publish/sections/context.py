"""What every section shares: the result, the context, and the small helpers.

* :class:`SectionResult` - what a section showed, with the (unsuppressed) numbers behind it;
* :class:`ProfileContext` - one area (a CSP or a police force area), one dataset, one definition and one
  period, read once and cached;
* the small helpers every page module uses: the disclosure threshold and :func:`suppress`, one-line notices
  (``_say``, ``_skip``, ``_need_records``), number formatting (``_count``, ``_fmt``, ``_ci``, ``_r``,
  ``_masked``, ``_extremes``), publishing a table (``_publish``) or a chart (``_show``), and the area rates
  and SPC frame shared by the CSP profile and the force overview;
* the denominators: :meth:`ProfileContext.residents` (each financial year's own mid-year estimate, of the
  numerator's ages), :meth:`ProfileContext.person_years`, :meth:`ProfileContext.monthly_residents` (a trend
  model's offset), :attr:`ProfileContext.lsoa` (neighbourhood residents of the context's ages over the period),
  :attr:`ProfileContext.ethnicity` (Census 2021), and the rate helpers :func:`gated_rates` and
  :func:`gated_rate_bounds` (with the bound that unknown ages allow), all from
  :mod:`svtools.analysis.population`.

Every page module of :mod:`svtools.publish.sections` imports from here; this module imports none of them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from svtools import config
from svtools.errors import SvtoolsError
from svtools.ingest import financial_year
from svtools.publish import output
from svtools.publish.sections.coverage import FIELD_PHRASES, HEADER_FIELDS, coverage, known_pct, known_phrase

__all__ = [
    "POLICE_UK_VIOLENCE",
    "FIELD_PHRASES",
    "SectionResult",
    "ProfileContext",
    "known_pct",
    "known_phrase",
    "not_recorded",
    "suppress",
]


#: data.police.uk crime types used in place of a local definition (the street files have no offence codes):
#: the violence-related categories.
POLICE_UK_VIOLENCE = ("Violence and sexual offences", "Robbery", "Possession of weapons")

_NO_RECORD_FIELDS = (
    "no victim or suspect ages, sex or ethnicity, no Home Office offence codes or knife flags "
    "and no times of day"
)


# =========================================================================== dataset-wide inputs (warm kernels)
# A warm kernel builds many pages (svtools.publish.render.WarmKernel): what depends only on the dataset, its
# force, definition and period is worked out once here and kept in small bounded caches keyed on the dataset's
# content digest and on the versions of the tables read (svtools.ingest.store.table_key), so new data are never
# served stale. Nothing of one CSP is kept here.
def dataset_population(dataset: str) -> pd.DataFrame:
    """The dataset's ``population.parquet``, one shared frame per version of the file
    (:func:`svtools.ingest.store.shared_table`): read it, never change it in place
    (:attr:`ProfileContext.population`)."""
    from svtools.ingest.store import shared_table

    return shared_table("population", dataset)


def _tables_key(dataset: str, *names: str) -> tuple:
    """The versions of the dataset's tables ``names`` (:func:`svtools.ingest.store.table_key`: the dataset's
    content digest and each file's size, time and inode): part of the key of a result worked out from them."""
    from svtools.ingest.store import table_key

    return tuple(table_key(n, dataset) for n in names)


def _csp_lsoa_years(base: pd.DataFrame, csp_of: pd.Series, lo: int, hi: int | None) -> set[frozenset]:
    """The distinct sets of LSOA mid-years the CSPs' rows of ``base`` (ages ``lo``-``hi``) hold, one set per CSP
    of ``csp_of`` (LSOA code -> CSP code; rows of other LSOAs left out). The codes are read as numbers: each
    distinct LSOA code is turned into text once, not every row (a force's 0.9M rows as strings: ~115 MB)."""
    raw, distinct = pd.factorize(base["lsoa_code"])
    csp_at, _ = pd.factorize(pd.Index(distinct).astype(str).map(csp_of))  # -1: in no CSP
    age = base["age"].astype("int64").to_numpy()
    keep = age >= lo
    if hi is not None:
        keep &= age <= hi
    csp = np.append(csp_at, -1)[raw]
    keep &= csp >= 0
    year_at, years = pd.factorize(pd.Series(base["year"].array[keep]).astype("int64").to_numpy())
    held = np.zeros((len(csp_at) and int(csp_at.max()) + 1, len(years)), dtype=bool)
    held[csp[keep], year_at] = True  # CSP x mid-year: a row of the CSP's LSOAs holds it
    return {frozenset(years[row].tolist()) for row in held if row.any()}


@functools.lru_cache(maxsize=8)
def _force_lsoa_population(dataset: str, key: tuple, force: str, start: pd.Timestamp, end: pd.Timestamp,
                           lo: int, hi: int | None) -> tuple[frozenset, pd.Series] | None:
    """Period-average residents aged ``lo``-``hi`` of every LSOA of ``force``'s CSPs
    (:func:`svtools.analysis.population.lsoa_residents` over the force at once), with the force's CSP codes;
    None when the CSPs of the force do not all have residents or do not hold the same mid-years (then each area
    is worked out on its own: :meth:`ProfileContext._force_lsoa_residents`)."""
    from svtools.analysis.population import lsoa_residents
    from svtools.ingest.store import shared_table, table_rows

    areas = shared_table("areas", dataset)
    csps = areas.loc[areas["pfa_code"].astype(str) == force, "csp_code"].astype(str)
    if csps.empty:
        return None
    population = shared_table("population", dataset)
    codes = population["csp_code"].astype(str)
    pop = population[codes.isin(set(csps))]
    years = pop.groupby(codes[pop.index])["year"].agg(lambda y: frozenset(y.astype("int64")))
    if set(years.index) != set(csps) or years.nunique() != 1:
        return None
    lsoa = shared_table("lsoa", dataset)
    lsoa = lsoa[lsoa["csp_code"].astype(str).isin(set(csps))]
    if lsoa.empty or not lsoa["lsoa_code"].astype(str).is_unique:
        return None
    # the force's LSOAs only (a parquet filter; the national table is 6.3M rows): the rows lsoa_residents keeps
    base = table_rows("lsoa_population", dataset, "lsoa_code", lsoa["lsoa_code"].astype(str))
    # every CSP's LSOAs must hold the same LSOA mid-years too (each area alone would pick its nearest)
    csp_of = lsoa.set_index(lsoa["lsoa_code"].astype(str))["csp_code"].astype(str)
    if len(_csp_lsoa_years(base, csp_of, lo, hi)) > 1:
        return None
    months = pd.date_range(start, end, freq="MS", name="month")
    out = lsoa_residents(base, population, csp_of, months, lo, hi)
    return frozenset(csps), out


# =========================================================================== results and context
@dataclass
class SectionResult:
    """What a section showed, with the numbers behind it.

    Attributes
    ----------
    name : str
        Section name (also the stem of its CSV download).
    available : bool
        False when the section was left out; ``message`` says why.
    message : str
        The one line shown instead of the section, or the section's headline sentence.
    table : DataFrame or None
        The table as published (suppressed).
    data : DataFrame or None
        The unsuppressed numbers (for tests and further analysis; never displayed).
    alt : str
        Alt text of the section's (first) chart; ``alts`` holds every chart's.
    values : dict
        Headline numbers (counts, rates, indices) computed by the section.
    csv : Path or None
        The section's table download; ``chart_csvs`` the data behind its charts (``<section>_chart.csv``).
    """

    name: str
    available: bool = True
    message: str = ""
    table: pd.DataFrame | None = None
    data: pd.DataFrame | None = None
    alt: str = ""
    alts: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    csv: Any = None
    chart_csvs: list = field(default_factory=list)

    def _ipython_display_(self) -> None:
        """A section has already shown its output: its result, left at the end of a cell, shows nothing."""

    def __repr__(self) -> str:
        return f"SectionResult({self.name!r}, available={self.available})"


def _month_start(value) -> pd.Timestamp:
    return pd.Timestamp(value).to_period("M").to_timestamp()


def _financial_years(months) -> list[str]:
    """Financial-year labels of months, from the one tested implementation (:func:`svtools.ingest.financial_year`)."""
    return financial_year(pd.Series(pd.to_datetime(list(months)))).tolist()


@dataclass
class ProfileContext:
    """One area (a CSP or a police force area), one dataset, one definition and one period.

    Build it with :meth:`load` (a CSP) or :meth:`load_force` (a force). Everything a section needs is read
    once and cached here.

    Attributes
    ----------
    level : {"csp", "force"}
    code, name : str
        The area's code and name.
    dataset : str
        ``demo`` or ``police_uk``.
    definition : svtools.ingest.definitions.Definition
        The local definition (applied to record-level extracts; data.police.uk uses the violence crime types).
    period_start, period_end : Timestamp
        First and last month of the period (month starts).
    csp_codes : list of str
        CSPs of the area (one for a CSP).
    force_code, force_name : str
    records : DataFrame
        Every record of the area's CSPs within the period (any offence).
    victim_ages : (int, int) or None
        When set, sections look only at offences against victims of these ages (see :meth:`young`).
    notes : list of str
        Caveats found while loading (e.g. the period was cut to the data).
    """

    level: str
    code: str
    name: str
    dataset: str
    definition: Any
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    csp_codes: list
    force_code: str
    force_name: str
    records: pd.DataFrame
    info: dict
    areas: pd.DataFrame
    victim_ages: tuple | None = None
    notes: list = field(default_factory=list)
    #: Results worked out from this context's own records (e.g. which records know a field), kept for the
    #: page's other sections; never passed to :func:`dataclasses.replace`, so a changed copy starts afresh.
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls,
        csp_code: str,
        dataset: str = "demo",
        definition: str = "knife_serious_violence",
        period_end: str | None = None,
    ) -> ProfileContext:
        """Context for one CSP: its records from the data's start to ``period_end`` (cut to the data)."""
        from svtools.ingest.store import load_records, load_table

        areas = load_table("areas", dataset)
        hit = areas[areas["csp_code"] == csp_code]
        records = load_records(csp_code, dataset)  # raises MissingAreaError naming the known codes
        if hit.empty:
            raise SvtoolsError(f"CSP {csp_code} is not one of the areas of the '{dataset}' data")
        row = hit.iloc[0]
        return cls._build(
            "csp",
            csp_code,
            str(row["csp_name"]),
            dataset,
            definition,
            period_end,
            [csp_code],
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            records,
            areas,
        )

    @classmethod
    def load_force(
        cls,
        force_code: str,
        dataset: str = "demo",
        definition: str = "knife_serious_violence",
        period_end: str | None = None,
    ) -> ProfileContext:
        """Context for a police force area: the records of all its CSPs."""
        from svtools.ingest.store import csp_codes, load_records, load_table

        areas = load_table("areas", dataset)
        codes = csp_codes(dataset, force_code)  # raises MissingAreaError naming the known forces
        row = areas[areas["csp_code"].isin(codes)].iloc[0]
        records = pd.concat([load_records(c, dataset) for c in codes], ignore_index=True)
        return cls._build(
            "force",
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            dataset,
            definition,
            period_end,
            list(codes),
            str(row["pfa_code"]),
            str(row["pfa_name"]),
            records,
            areas,
        )

    @classmethod
    def _build(
        cls, level, code, name, dataset, definition, period_end, codes, force_code, force_name, records, areas
    ) -> ProfileContext:
        from svtools.ingest.store import dataset_info
        from svtools.ingest.definitions import load_definition

        info = dataset_info(dataset)
        start = _month_start(info["period_start"])
        data_end = _month_start(info["period_end"])
        notes = []
        end = data_end
        if period_end:
            try:
                end = _month_start(period_end)
            except (ValueError, TypeError):
                raise SvtoolsError(f"period_end must be a date like 2025-03-31, not {period_end!r}") from None
            if end > data_end:
                notes.append(
                    f"The data end in {data_end:%B %Y}, so the period ends there (not "
                    f"{pd.Timestamp(period_end):%B %Y})."
                )
                end = data_end
        if end < start:
            raise SvtoolsError(f"period_end {period_end} is before the data start ({info['period_start']})")
        d = load_definition(definition)
        records = records.loc[(records["month"] >= start) & (records["month"] <= end)].reset_index(drop=True)
        return cls(
            level=level,
            code=code,
            name=name,
            dataset=dataset,
            definition=d,
            period_start=start,
            period_end=end,
            csp_codes=list(codes),
            force_code=force_code,
            force_name=force_name,
            records=records,
            info=info,
            areas=areas,
            notes=notes,
        )

    def young(self, min_age: int | None = None, max_age: int | None = None) -> ProfileContext:
        """The same context restricted to offences against victims aged ``min_age``-``max_age`` (default
        10-24, ``age_bands`` in ``config/settings.yaml``)."""
        cfg = config.settings()["age_bands"]
        lo = int(cfg["young_people_min_age"] if min_age is None else min_age)
        hi = int(cfg["under_25_max_age"] if max_age is None else max_age)
        new = dataclasses.replace(self, victim_ages=(lo, hi), notes=list(self.notes))
        return new

    # ------------------------------------------------------------------ derived data
    @property
    def record_level(self) -> bool:
        """True for a record-level extract (ages, offence codes, times); False for data.police.uk."""
        return "ho_offence_code" in self.records.columns

    @property
    def synthetic(self) -> bool:
        return bool(self.info.get("synthetic"))

    @property
    def cohort_label(self) -> str:
        return f"victims aged {self.victim_ages[0]} to {self.victim_ages[1]}" if self.victim_ages else ""

    @property
    def what(self) -> str:
        """What is counted, in words (for text and alt text)."""
        base = (
            self.definition.short_title
            if self.record_level
            else "violence, robbery and weapons possession (data.police.uk crime types)"
        )
        return f"{base} against {self.cohort_label}" if self.victim_ages else base

    @property
    def what_short(self) -> str:
        return self.definition.short_title if self.record_level else "violence, robbery and weapons offences"

    @property
    def prefix(self) -> str:
        """Stem prefix of CSV downloads, so a restricted context does not overwrite the main tables."""
        return f"age_{self.victim_ages[0]}_{self.victim_ages[1]}_" if self.victim_ages else ""

    @property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(self.period_start, self.period_end, freq="MS", name="month")

    @property
    def years(self) -> float:
        """Length of the period in years (rates per year)."""
        return len(self.months) / 12.0

    @property
    def period(self) -> str:
        return f"{self.period_start:%B %Y} to {self.period_end:%B %Y}"

    @cached_property
    def in_definition(self) -> pd.DataFrame:
        """The records that meet the definition (data.police.uk: the violence crime types) within the period,
        whatever the victim's age (a restricted context's :attr:`selected` is a subset)."""
        from svtools.ingest.definitions import apply_definition

        if self.record_level:
            return apply_definition(self.records, self.definition)
        return self.records[self.records["crime_type"].isin(POLICE_UK_VIOLENCE)]

    @cached_property
    def selected(self) -> pd.DataFrame:
        """The records that meet the definition (data.police.uk: the violence crime types), within the period
        and, for a restricted context, against victims known to be of the cohort's ages (an exact age, or an
        age band wholly inside them; an unknown age is not in the cohort)."""
        from svtools.analysis.fields import in_age_range

        out = self.in_definition
        if self.victim_ages is not None:
            inside = in_age_range(out, self.victim_ages[0], self.victim_ages[1], "victim")
            out = out[(inside == True).fillna(False).to_numpy(bool)]  # noqa: E712 - selection, not a count
        return out

    # ------------------------------------------------------------------ which fields the data hold
    @cached_property
    def coverage(self) -> dict:
        """Which record fields the dataset holds and how completely, as
        :func:`svtools.ingest.store.field_coverage` gives it (``dataset.json`` ``fields``, or computed from the
        records once per process for datasets ingested before the ingest wrote it)."""
        return coverage(self.dataset)

    def _recorded(self, field: str) -> bool:
        """True when the dataset records ``field`` at all (any of the columns that carry it)."""
        from svtools.analysis.fields import field_columns

        cov = self.coverage
        return any(bool((cov.get(c) or {}).get("recorded")) for c in field_columns(field))

    def _known_counts(self, field: str, records: pd.DataFrame | None) -> tuple[int, int] | None:
        """(records that know ``field``, records it applies to); None when the dataset does not record it."""
        from svtools.analysis.fields import field_columns, field_known, relevant_rows

        if not self._recorded(field):
            return None
        if records is None:  # the area's records in the definition: worked out once per page
            key = ("known_counts", field)
            if key not in self._memo:
                self._memo[key] = self._known_counts(field, self.in_definition)
            return self._memo[key]
        recs = records
        known = field_known(recs, field)
        if known is None:  # the records lack the field's columns: the dataset-level counts
            cov = [self.coverage.get(c) or {} for c in field_columns(field)]
            return (max((int(c.get("known") or 0) for c in cov), default=0),
                    max((int(c.get("rows") or 0) for c in cov), default=0))
        rel = relevant_rows(recs, field)
        return int(known[rel].sum()), int(rel.sum())

    def known_share(self, field: str, records: pd.DataFrame | None = None) -> float | None:
        """Share (0-1) of the records ``field`` applies to that know it; None when the dataset does not record
        it or no record applies.

        ``records`` default to the area's records in the definition (for a cohort context whatever the
        victim's age: the share of the victims the cohort was picked from). Victim fields are judged on records
        with a victim, suspect fields on records with a suspect. When the records lack the field's columns,
        the dataset-level share of :attr:`coverage` is the fallback.

        This is an unpublished number, for deciding what to show: a page states a share only from published
        cells (:func:`~svtools.publish.sections.coverage.known_phrase`)."""
        counts = self._known_counts(field, records)
        if counts is None or counts[1] == 0:
            return None
        return counts[0] / counts[1]

    def field_status(self, field: str, records: pd.DataFrame | None = None) -> str:
        """``"absent"``, ``"partial"`` or ``"complete"``: is ``field`` recorded for the records (default: the
        area's records in the definition; see :meth:`known_share`)?

        Absent when the dataset does not record it, or when records it applies to exist and none knows it;
        complete when every one does (or none applies: nothing is unknown)."""
        counts = self._known_counts(field, records)
        if counts is None:
            return "absent"
        known, n = counts
        if n == 0 or known == n:
            return "complete"
        return "absent" if known == 0 else "partial"

    def absent_fields(self) -> list[str]:
        """The fields of :data:`~svtools.publish.sections.coverage.HEADER_FIELDS` the dataset does not record."""
        return [f for f in HEADER_FIELDS if self.record_level and not self._recorded(f)]

    def select_counts(self, counts: pd.DataFrame) -> pd.DataFrame:
        """The rows of a ``monthly_counts`` table that meet the definition (or the violence crime types)."""
        from svtools.ingest.definitions import apply_definition

        if "ho_offence_code" in counts.columns:
            return apply_definition(counts, self.definition)
        return counts[counts["crime_type"].isin(POLICE_UK_VIOLENCE)]

    # ------------------------------------------------------------------ denominators
    @cached_property
    def population(self) -> pd.DataFrame:
        """The dataset's ``population.parquet``: ``csp_code, year, age, (sex), population`` - ONS mid-year
        estimates by single year of age for every shipped mid-year (datasets ingested before issue 9: mid-2019
        and mid-2020 only). Use :meth:`residents` and :meth:`person_years` rather than summing it by hand.

        The dataset's one table, shared by every context of the process (read once per dataset version:
        :func:`dataset_population`) so its summed cube (:func:`svtools.analysis.population.residents`) is built
        once too: **read it, never change it in place** (select or copy first; the sections do)."""
        return dataset_population(self.dataset)

    @property
    def cohort_ages(self) -> tuple[int, int | None]:
        """The residents' ages that match the numerator: the cohort's (e.g. 10-24) or all ages ``(0, None)``."""
        return (int(self.victim_ages[0]), int(self.victim_ages[1])) if self.victim_ages else (0, None)

    @property
    def residents_label(self) -> str:
        """"residents" or "residents aged 10 to 24": the denominator of this context's rates, in words."""
        from svtools.analysis.population import age_label

        lo, hi = self.cohort_ages
        return "residents" if hi is None and lo <= 0 else f"residents {age_label(lo, hi)}"

    def residents(self, financial_years: Sequence[str] | None = None, min_age: int | None = None,
                  max_age: int | None = None) -> pd.DataFrame:
        """Residents of the area's CSPs for each financial year: its own mid-year estimate (else the nearest,
        flagged), of ``min_age``-``max_age`` (default: :attr:`cohort_ages`).

        Returns the :func:`svtools.analysis.population.residents` table (``financial_year, mid_year, exact,
        census_base, population``); default years: the period's complete financial years."""
        from svtools.analysis.population import residents

        lo, hi = self.cohort_ages if min_age is None and max_age is None else (min_age or 0, max_age)
        years = list(financial_years) if financial_years is not None else self.complete_financial_years()
        return residents(self.population, years, self.csp_codes, lo, hi)

    def monthly_residents(self, min_age: int | None = None, max_age: int | None = None) -> pd.Series:
        """Residents for every month of the period (its financial year's mid-year): the population offset of
        a monthly trend model (:func:`svtools.analysis.population.monthly_residents`)."""
        from svtools.analysis.population import monthly_residents

        lo, hi = self.cohort_ages if min_age is None and max_age is None else (min_age or 0, max_age)
        return monthly_residents(self.population, self.months, self.csp_codes, lo, hi)

    def person_years(self, min_age: int | None = None, max_age: int | None = None, months=None) -> float:
        """Person-years of residents of the area over ``months`` (default: the period), each month at its own
        financial year's estimate; a rate "per 1,000 residents a year" over the period is
        ``1,000 x offences / person_years``."""
        from svtools.analysis.population import person_years

        lo, hi = self.cohort_ages if min_age is None and max_age is None else (min_age or 0, max_age)
        return person_years(self.population, self.months if months is None else months, self.csp_codes, lo, hi)

    def _dataset_table(self, name: str) -> pd.DataFrame | None:
        """A shared table the ingest writes beside the standard ones (``ethnicity``), read through
        :func:`svtools.ingest.store.load_table`, or None when the dataset was ingested before it existed
        (``lsoa_population`` is read a force at a time instead: :attr:`lsoa`)."""
        from svtools.ingest.store import dataset_dir, load_table

        if not (dataset_dir(self.dataset) / f"{name}.parquet").is_file():
            return None  # an older dataset: the caller falls back to the shipped tables
        return load_table(name, self.dataset)

    @cached_property
    def lsoa(self) -> pd.DataFrame:
        """The dataset's ``lsoa.parquet`` with ``population`` the **period-average residents of the context's
        ages** (:attr:`cohort_ages`: all ages, or e.g. 10-24 for :meth:`young`) for the LSOAs of the area's CSPs
        (NaN for the dataset's other LSOAs): ONS LSOA estimates (mid-2019/2020, the nearest) at each age scaled
        to each financial year's CSP estimate (:func:`svtools.analysis.population.lsoa_residents`). Times
        :attr:`years` it is the person-years of a neighbourhood rate. ``population_2020`` keeps the table's
        all-age mid-2020 figure; ``attrs["residents"]`` says what the population is."""
        from svtools.analysis.population import lsoa_residents
        from svtools.ingest.store import load_table

        lsoa = load_table("lsoa", self.dataset)  # a copy of its own
        if "population" in lsoa.columns:
            lsoa["population_2020"] = lsoa["population"]
        mine = lsoa[lsoa["csp_code"].isin(self.csp_codes)]
        lo, hi = self.cohort_ages
        from svtools.ingest.store import dataset_dir, table_rows

        has_base = (dataset_dir(self.dataset) / "lsoa_population.parquet").is_file()
        pop = self._force_lsoa_residents(mine, lo, hi) if has_base else None
        if pop is None:  # the area's LSOAs on their own
            if has_base:  # their rows only (a parquet filter), never the whole national table
                base = table_rows("lsoa_population", self.dataset, "lsoa_code", mine["lsoa_code"].astype(str))
            else:  # ingested before lsoa_population.parquet: the same ONS LSOA estimates, read in place
                from svtools.ingest.area_tables import lsoa_population_base

                base = lsoa_population_base(mine["lsoa_code"].astype(str))
            pop = lsoa_residents(base, self.population, mine.set_index(mine["lsoa_code"].astype(str))["csp_code"],
                                 self.months, lo, hi)
        lsoa["population"] = lsoa["lsoa_code"].astype(str).map(pop).astype("float64")
        lsoa.attrs["residents"] = (f"{self.residents_label}, average over {self.period} (ONS mid-year estimates "
                                   "of each financial year; LSOA shares of mid-2019/2020)")
        return lsoa

    def _force_lsoa_residents(self, mine: pd.DataFrame, lo: int, hi: int | None) -> pd.Series | None:
        """:func:`~svtools.analysis.population.lsoa_residents` of the area's LSOAs (``mine``) read from the
        residents of every LSOA of its force, worked out once per force, period and ages
        (:func:`_force_lsoa_population`); None when that shortcut does not apply (then the caller works them out
        for the area alone, as before).

        The same numbers: an LSOA's figure depends only on its own rows and its CSP's (each CSP's LSOAs are scaled
        to the CSP's residents), summed in the same order. It applies only when the context reads the dataset's
        own tables (:attr:`population` not replaced; the caller checks ``lsoa_population.parquet`` is present) and the area's CSPs all
        lie in its force, every CSP of the force has residents, and the CSPs of the force hold the same
        mid-years (so each financial year takes the same estimate as for the area alone)."""
        if self.population is not dataset_population(self.dataset):
            return None
        key = _tables_key(self.dataset, "areas", "population", "lsoa", "lsoa_population")
        got = _force_lsoa_population(self.dataset, key, str(self.force_code),
                                     self.period_start, self.period_end, int(lo), None if hi is None else int(hi))
        if got is None:
            return None
        csps, pop = got
        if not set(map(str, self.csp_codes)) <= csps:
            return None
        codes = pd.Index(mine["lsoa_code"].astype(str))
        if not codes.is_unique:
            return None
        out = pop[pop.index.isin(codes)]
        if out.empty:
            return None  # none of the area's LSOAs has an estimate: the area alone says so
        out = out.copy()
        out.attrs = dict(pop.attrs)
        return out

    @cached_property
    def ethnicity(self) -> pd.DataFrame:
        """Census 2021 residents of the dataset's CSPs by ethnic group (``ethnicity.parquet``: ``csp_code,
        ethnic_group, ethnicity, population``; built from the shipped Census tables for a dataset ingested
        before the table existed). The denominator of ethnicity rates (all ages)."""
        eth = self._dataset_table("ethnicity")
        if eth is None:
            from svtools.ingest.area_tables import csp_ethnicity

            eth = csp_ethnicity(self.areas["csp_code"].astype(str).tolist())
        return eth

    @cached_property
    def monthly_table(self) -> pd.DataFrame:
        """The shared ``monthly_counts`` table (every CSP in the data) within the period (fresh ``RangeIndex``):
        its rows of the period only, read with a parquet filter (:func:`svtools.ingest.store.table_where`), so
        the whole table is not kept in the process's table cache."""
        from svtools.ingest.store import table_where

        return table_where("monthly_counts", self.dataset,
                           [("month", ">=", self.period_start), ("month", "<=", self.period_end)])

    @cached_property
    def monthly(self) -> pd.Series:
        """Offences per month of the area (every month of the period; 0 when none)."""
        from svtools.analysis.trends import monthly_counts

        return monthly_counts(self.selected, start=self.period_start, end=self.period_end)

    def complete_financial_years(self) -> list[str]:
        """Financial years (April-March) wholly inside the period, oldest first."""
        months = self.months
        fy = pd.Series(_financial_years(months))
        n = fy.value_counts()
        return sorted(y for y, k in n.items() if k == 12)

    def csp_name(self, code: str) -> str:
        hit = self.areas.loc[self.areas["csp_code"] == code, "csp_name"]
        return str(hit.iloc[0]) if len(hit) else code


# =========================================================================== fields the data may lack
def not_recorded(ctx: ProfileContext, field: str, what: str) -> str:
    """The one line said instead of a section (or part of one) when the data do not record ``field``:
    "Victim ages are not recorded in this dataset, so the under-25 measures cannot be given."."""
    phrase = FIELD_PHRASES.get(field, field.replace("_", " ").capitalize())
    where = "in this dataset" if not ctx._recorded(field) else f"for any of these offences in {ctx.name}"
    return f"{phrase} are not recorded {where}, so {what} cannot be given."


def _need_field(ctx: ProfileContext, name: str, title: str, field: str, what: str,
                records: pd.DataFrame | None = None) -> SectionResult | None:
    """One line instead of the section when ``field`` is absent (see :meth:`ProfileContext.field_status`)."""
    if ctx.field_status(field, records) != "absent":
        return None
    text = f"**{title}**: {not_recorded(ctx, field, what)}"
    _say(text)
    return SectionResult(name=name, available=False, message=text, values={"field_status": "absent"})


def _need_cohort_ages(ctx: ProfileContext, name: str, title: str) -> SectionResult | None:
    """For a cohort context (victims of some ages): one line when victim ages are not recorded at all."""
    if ctx.victim_ages is None:
        return None
    return _need_field(ctx, name, title, "victim_age", f"offences against {ctx.cohort_label}")


def victim_age_phrase(ctx: ProfileContext) -> str:
    """How complete the area's victim ages are, from the published cells of the victims' age-and-sex family
    (all records and "Age not recorded", whatever the context's cohort): "age recorded for 86% of victims",
    or "" when every age is recorded (:func:`~svtools.publish.sections.coverage.known_phrase`)."""
    from svtools.publish import disclosure, tables

    full = dataclasses.replace(ctx, victim_ages=None) if ctx.victim_ages else ctx
    cube = tables.breakdown_cube(full, tables.VICTIM_AGE_SEX)
    try:
        unknown = cube.value((ctx.code, f"{tables.AGE_NOT_RECORDED}|All"))
    except disclosure.DisclosureError:  # the area's breakdown is withheld (too few): only its total is out
        unknown = None
    return known_phrase(cube.value((ctx.code, tables.TOTAL)), unknown)


def cohort_caveat(ctx: ProfileContext) -> str:
    """For a cohort context whose victim ages are partly recorded, the sentence saying who is counted."""
    if ctx.victim_ages is None or ctx.field_status("victim_age") != "partial":
        return ""
    phrase = victim_age_phrase(ctx)
    return (f"Only offences against victims with a recorded age of {ctx.victim_ages[0]} to {ctx.victim_ages[1]} "
            "are counted" + (f" ({phrase})." if phrase else "."))


# =========================================================================== small helpers
def _threshold() -> int:
    return config.disclosure_threshold("police")


#: A lone asterisk: the suppression marker in a sentence ("Of the * offences ..."), never Markdown's emphasis
#: (two of them in one paragraph made the words between them italic and the markers vanish).
_LONE_ASTERISK = re.compile(r"(?<![*\\])\*(?!\*)")


#: A list item's own asterisk ("* item" at the start of a line): Markdown, kept.
_LIST_ITEM = re.compile(r"^(\s*\*\s+)(.*)$")


def markdown_text(text: str) -> str:
    """The Markdown of page text: ``**bold**`` and list items' ``*`` kept, every other asterisk (the marker of a
    count too small to show) escaped so it is shown as it is."""
    out = []
    for line in text.split("\n"):
        m = _LIST_ITEM.match(line)
        head, rest = (m.group(1), m.group(2)) if m else ("", line)
        out.append(head + _LONE_ASTERISK.sub(r"\\*", rest))
    return "\n".join(out)


def _say(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(markdown_text(text)))


def _skip(ctx: ProfileContext | None, name: str, title: str, reason: str) -> SectionResult:
    """Show one line saying why a section is left out, and return the result saying so."""
    text = f"**{title}**: not shown, because {reason}."
    _say(text)
    return SectionResult(name=name, available=False, message=text)


def _withheld(ctx: ProfileContext, name: str, title: str, needs: str, reason: str) -> SectionResult:
    """A section not published in this version: the data line first (what the dataset lacks), else ``reason``."""
    return _need_records(ctx, name, title, needs) or _skip(ctx, name, title, reason)


def _need_records(
    ctx: ProfileContext, name: str, title: str, lacks: str | None = None
) -> SectionResult | None:
    """One line instead of the section when the data are data.police.uk (``lacks``: what they do not have)."""
    if not ctx.record_level:
        text = f"**{title}**: not available in data.police.uk, which has {lacks or _NO_RECORD_FIELDS}."
        _say(text)
        return SectionResult(name=name, available=False, message=text)
    return None


def _count(v) -> str:
    return output.format_count(v, _threshold())


def suppress(frame: pd.DataFrame, columns: Sequence[str], rates: Sequence[str] | dict = ()) -> pd.DataFrame:
    """Counts from 1 to the threshold replaced by ``*`` (:func:`svtools.analysis.stats.suppress`); each column in
    ``rates`` (a rate, share or interval computed from the first count column, or a dict rate -> count column)
    is hidden with its count. The count columns are remembered (``attrs["count_columns"]``) for the
    publication check."""
    from svtools.analysis.stats import suppress as _suppress

    columns = list(columns)
    mapping = dict(rates) if isinstance(rates, dict) else {r: columns[0] for r in rates}
    out = _suppress(frame, count_columns=columns, rate_columns=mapping or None)
    out.attrs["count_columns"] = columns
    return out


def _is_small(v, threshold: int | None = None) -> bool:
    threshold = _threshold() if threshold is None else threshold
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return 1 <= f <= threshold


def _blank_where_small(
    table: pd.DataFrame, count_col: str, dependent: Sequence[str], source: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Blank the columns a hidden count could be recovered from (rates of known populations, changes)."""
    src = table if source is None else source
    small = src[count_col].map(_is_small).to_numpy(dtype=bool)
    out = table.copy()
    for c in dependent:
        if c in out.columns:
            col = out[c].astype(object)
            col[small] = ""
            out[c] = col
    return out


def _decimals(values: pd.Series) -> int:
    """Fewest decimals (0-3) that show every value of a rounded float column exactly."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    for nd in range(4):
        if np.allclose(v, np.round(v, nd), rtol=0, atol=1e-9):
            return nd
    return 3


def _as_text(table: pd.DataFrame, counts: Sequence[str]) -> pd.DataFrame:
    """Non-count numeric columns as text with a fixed number of decimals (0.30, not 0.3), NaN as blank."""
    out = table.copy()
    for col in out.columns:
        if col in counts:
            continue
        s = out[col]
        is_num = s.map(lambda v: isinstance(v, (float, np.floating)) and not isinstance(v, bool))
        if not is_num.any() or pd.api.types.is_integer_dtype(s):
            continue
        nd = _decimals(s[is_num])
        if nd == 0 and not pd.api.types.is_float_dtype(s):
            continue
        out[col] = [("" if not np.isfinite(v) else f"{v:,.{nd}f}") if f else v for v, f in zip(s, is_num)]
    out.attrs = dict(table.attrs)
    return out


def _publish(
    ctx: ProfileContext,
    table: pd.DataFrame,
    name: str,
    caption: str,
    note: str | None = None,
    counts: Sequence[str] | None = None,
    show_last: int | None = None,
):
    """Show ``table`` and write it as a CSV download; refused if a count column holds 1 to the threshold.

    ``counts`` names the count columns (default: those :func:`suppress` was told about, else every column).
    With ``show_last``, a long table is written in full but only its last rows are shown, with a link to the
    full CSV."""
    if counts is None:
        counts = table.attrs.get("count_columns")
    text = _as_text(table, counts or [])
    if show_last is None or len(text) <= show_last:
        return output.publish_table(text, ctx.prefix + name, caption, note=note, count_columns=counts)
    from IPython.display import HTML, display

    path = output.publish_table(
        text, ctx.prefix + name, caption, note=note, count_columns=counts, display_table=False
    )
    output.show_table(
        text.tail(show_last), f"{caption} (latest {show_last} rows)", note=note, count_columns=counts
    )
    if path is not None:
        display(
            HTML(f'<p><a href="{path.name}" download>Download the full table, {len(text)} rows (CSV)</a></p>')
        )
    return path


def _show(fig, alt: str, result: SectionResult, data: pd.DataFrame | None = None, *,
          ctx: ProfileContext | None = None, counts: Sequence[str] = (), threshold: int | None = None) -> None:
    """Show a section's chart with its alt text and, beside it, the data it draws as ``<section>_chart.csv``.

    ``data`` (what the chart draws, snake_case columns, from :func:`svtools.publish.disclosure.derived` or
    ``frame_of``: published numbers only) gets ``area_code``/``area_name`` of ``ctx`` when it has no area
    columns, and ``period_start``/``period_end`` (the context's period) when it has no period column; then
    :func:`svtools.publish.output.show` checks it like a table (``counts`` are its count columns) and writes it.
    """
    frame, path = None, None
    stem = (ctx.prefix if ctx is not None else "") + f"{result.name}_chart"
    if data is not None:
        try:  # checked before the chart is shown: a refused chart shows nothing
            frame = output.prepare_chart_data(chart_data(data, ctx), stem, counts, threshold)
        except BaseException:
            import matplotlib.pyplot as plt

            plt.close(fig)
            raise
    output.show(fig, alt=alt)
    if frame is not None:
        path = output.write_chart_data(frame, stem, alt, counts, threshold, section=result.name)
    result.alts.append(alt)
    if path is not None:
        result.chart_csvs.append(path)
    if not result.alt:
        result.alt = alt


def chart_data(data: pd.DataFrame, ctx: ProfileContext | None = None, period=None) -> pd.DataFrame:
    """``data`` with the area and period columns a chart's CSV needs, keeping its gate mark.

    Adds ``area_code`` and ``area_name`` (``ctx``'s) unless present, and ``period_start``/``period_end``
    (``period``, a (start, end) pair of months, default ``ctx``'s period) unless it has a period column
    (``month``, ``quarter``, ``financial_year`` or ``period_start``). Months are written ``YYYY-MM``."""
    out = data.copy()
    out.attrs = dict(data.attrs)
    cols = list(out.columns)
    front = {}
    if ctx is not None and "area_code" not in cols:
        front["area_code"] = ctx.code
        front["area_name"] = ctx.name
    if not any(c in cols for c in output.PERIOD_COLUMNS):
        start, end = period if period is not None else ((ctx.period_start, ctx.period_end) if ctx else (None, None))
        if start is not None:
            front["period_start"] = f"{pd.Timestamp(start):%Y-%m}"
            front["period_end"] = f"{pd.Timestamp(end):%Y-%m}"
    for i, (k, v) in enumerate(front.items()):
        out.insert(i, k, v)
    return out


def chart_period(data: pd.DataFrame, months) -> pd.DataFrame:
    """``data`` with ``period_start``/``period_end`` (``YYYY-MM``) of the months a chart compares over (e.g. the
    latest 12 months of a funnel plot), placed first."""
    months = pd.DatetimeIndex(months)
    out = data.copy()
    out.attrs = dict(data.attrs)
    out.insert(0, "period_end", f"{months.max():%Y-%m}")
    out.insert(0, "period_start", f"{months.min():%Y-%m}")
    return out


def spc_chart_data(s: pd.DataFrame, labels: Sequence[str], resolution: str = "month") -> pd.DataFrame:
    """The data behind an SPC chart: each point's period, count, centre line (mean) and process limits.

    Parameters
    ----------
    s : DataFrame
        :func:`svtools.analysis.stats.spc` output (``date, value, mean, lower_limit, upper_limit,
        special_cause, rule``), computed from published counts.
    labels : sequence of str
        Each point's period label (``2019-07``, ``2019/20 Q2``, ``2019/20``).
    resolution : {"month", "quarter", "financial_year"}
        Names the label column (``year`` is written ``financial_year``).
    """
    col = {"year": "financial_year", "financial year": "financial_year"}.get(resolution, resolution)
    out = pd.DataFrame({col: list(labels), "period_start": pd.DatetimeIndex(s["date"]).strftime("%Y-%m")})
    if col == "month":
        out = out.drop(columns="period_start")
    out["offences"] = pd.to_numeric(s["value"], errors="coerce").to_numpy()
    out["mean"] = s["mean"].to_numpy(dtype=float)
    out["lower_process_limit"] = s["lower_limit"].to_numpy(dtype=float)
    out["upper_process_limit"] = s["upper_limit"].to_numpy(dtype=float)
    out["variation"] = s["special_cause"].astype(str).to_numpy()
    if "rule" in s.columns:
        out["special_cause_rule"] = s["rule"].fillna("").astype(str).to_numpy()
    return out


def funnel_chart_data(codes, names, offences, person_years, years: float, target: float, od, per: int,
                      comparator_code: str, comparator_name: str, signal_95=None, signal_998=None) -> pd.DataFrame:
    """The data behind a funnel plot: each area's point and the funnel limits at its own population.

    Parameters
    ----------
    codes, names : sequence of str
        The areas plotted.
    offences, person_years : sequence of float
        Published counts and person-years over the comparison window (``years`` long).
    target : float
        The comparator's rate per ``per`` residents a year (the funnel's centre line).
    od : svtools.analysis.stats.funnels.Overdispersion
        The allowance for over-dispersion the limits were drawn with.
    comparator_code, comparator_name : str
        What the areas are compared with (a force, or all CSPs in the data).
    signal_95, signal_998 : sequence of str, optional
        Each area's funnel flag (``high``, ``low``, ``not significant``).

    Returns
    -------
    DataFrame
        ``area_code, area_name, offences, residents, person_years, rate_per_<per>, comparator_code,
        comparator_name, comparator_value, lower_95_limit, upper_95_limit, lower_998_limit, upper_998_limit``
        (limits as rates per ``per``; Spiegelhalter 2005 with the over-dispersion allowance), and the flags.
    """
    from svtools.analysis.stats.funnels import adjusted_funnel_limits

    py = np.asarray(person_years, dtype=float)
    out = pd.DataFrame({"area_code": list(codes), "area_name": list(names),
                        "offences": pd.to_numeric(pd.Series(list(offences)), errors="coerce").to_numpy(),
                        "residents": py / years, "person_years": py})
    with np.errstate(invalid="ignore", divide="ignore"):
        out[f"rate_per_{per}"] = out["offences"].to_numpy(dtype=float) / py * per
    out["comparator_code"] = comparator_code
    out["comparator_name"] = comparator_name
    out["comparator_value"] = float(target)
    lim = adjusted_funnel_limits(float(target), py, od, multiplier=per)
    for k in ("lower_95", "upper_95", "lower_998", "upper_998"):
        out[f"{k}_limit"] = lim[k].to_numpy(dtype=float)
    if signal_95 is not None:
        out["vs_comparator_95"] = [v if isinstance(v, str) else "" for v in signal_95]
    if signal_998 is not None:
        out["vs_comparator_998"] = [v if isinstance(v, str) else "" for v in signal_998]
    return out


def _r(x, nd: int = 2):
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), nd)


def _fmt(x, nd: int = 2) -> str:
    return "unknown" if x is None or not np.isfinite(x) else f"{x:,.{nd}f}"


def _ci(lo, hi, nd: int = 2) -> str:
    return f"95% CI {_fmt(lo, nd)} to {_fmt(hi, nd)}"


def _masked(values: pd.Series) -> pd.Series:
    """Counts for a chart's value labels, with small counts hidden (NaN shows as "*")."""
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    return v.where(~v.between(1, _threshold()))


def _extremes(series: pd.Series, fmt=None) -> tuple[str, str]:
    """("label (value)" of the largest, "label (value)" of the smallest) of a labelled series."""
    fmt = fmt or _count
    s = pd.to_numeric(series, errors="coerce").dropna()
    if s.empty:
        return "none", "none"
    hi, lo = s.idxmax(), s.idxmin()
    return f"{hi} ({fmt(s[hi])})", f"{lo} ({fmt(s[lo])})"


# =========================================================================== area rates (profile and force)
def _area_rates(ctx: ProfileContext, months: int = 12) -> tuple[pd.DataFrame, dict]:
    """Rates per 1,000 residents a year for every CSP in the data over the last ``months`` months of the
    period (fewer when the period is shorter), with 95% intervals and funnel significance.

    Significance (``vs_all_*`` against the rate of all CSPs, ``vs_force_*`` against each CSP's own force rate)
    is "outside the funnel limits drawn", with the allowance for over-dispersion between CSPs of
    ``config/settings.yaml`` ``funnels`` (:func:`svtools.analysis.stats.funnels.overdispersion`): estimated
    from all CSPs around the all-CSP rate (``info["od_all"]``) and, pooled over forces, around their force
    rates (``info["od_force"]``). ``vs_all_998_poisson`` keeps the Poisson (PHE) flag for comparison.

    Every CSP's rate is the same on each page of the dataset, definition and period: it is worked out once per
    process (:func:`_all_area_rates`, keyed on the dataset's content digest) when the context reads the
    dataset's own areas and population, and each call gets copies; only the force's figures are the context's.
    """
    from svtools.ingest.store import shared_table

    if ctx.population is dataset_population(ctx.dataset) and ctx.areas.equals(shared_table("areas", ctx.dataset)):
        areas, common = _all_area_rates(ctx.dataset, _tables_key(ctx.dataset, "areas", "population"),
                                        ctx.definition.name, ctx.period_start, ctx.period_end, months)
        areas, common = areas.copy(), copy.deepcopy(common)
    else:  # areas or residents of the context's own (a test's): worked out here
        areas, common = _area_rates_of(ctx.dataset, ctx.definition.name, ctx.period_start, ctx.period_end, months,
                                       ctx.areas, ctx.population)
    force = areas[areas["pfa_code"] == ctx.force_code]
    with np.errstate(invalid="ignore", divide="ignore"):
        force_rate = force["offences"].sum() / force["person_years"].sum() * 1000
    info = {
        "window_start": common["window_start"],
        "window_end": common["window_end"],
        "years": common["years"],
        "mid_years": common["mid_years"],
        "overall": common["overall"],
        "force_rate": float(force_rate),
        "force_offences": int(force["offences"].sum()),
        "force_population": float(force["population"].sum()),
        "all_offences": common["all_offences"],
        "all_population": common["all_population"],
        "n_months": common["n_months"],
        "od_all": common["od_all"],
        "od_force": common["od_force"],
    }
    return areas, info


@functools.lru_cache(maxsize=16)
def _all_area_rates(dataset: str, key: tuple, definition: str, start: pd.Timestamp, end: pd.Timestamp,
                    months: int) -> tuple[pd.DataFrame, dict]:
    """:func:`_area_rates_of` the dataset's own areas and residents (``key``: their versions; callers copy what
    they get)."""
    from svtools.ingest.store import shared_table

    return _area_rates_of(dataset, definition, start, end, months, shared_table("areas", dataset),
                          shared_table("population", dataset))


def _area_rates_of(dataset: str, definition: str, start: pd.Timestamp, end: pd.Timestamp, months: int,
                   area_table: pd.DataFrame, population: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The part of :func:`_area_rates` that is the same for every area of the dataset: every CSP's rate and
    funnel flags, and the window's figures (``info`` without the force's)."""
    from svtools.analysis.stats import funnel_significance, rate
    from svtools.analysis.stats.funnels import adjusted_funnel_significance, overdispersion

    from svtools.ingest.store import force_codes
    from svtools.publish import tables

    window = pd.date_range(start, end, freq="MS", name="month")[-months:]
    # Counts published by the gate: each force's protected family (hidden counts stay hidden: NaN).
    n: dict = {}
    for f in force_codes(dataset):
        fam = tables.series_cube(dataset, f, definition, start, end)
        node = tables.LATEST_12 if len(window) == 12 and tables.LATEST_12 in fam.cube.cube.dim("period").nodes \
            else tables.TOTAL
        for c in fam.cube.cube.dim("area_code").base:
            v = fam.value(c, node)
            n[c] = np.nan if v is None else float(v)
    from svtools.analysis.population import person_years_by_csp

    areas = area_table.copy()
    areas["offences"] = areas["csp_code"].map(n).astype(float)
    # each month counts 1/12 of its financial year's residents (the window's own mid-year estimates)
    py = person_years_by_csp(population, window)
    areas["person_years"] = areas["csp_code"].map(py).astype(float)
    areas["rate"] = np.nan
    areas["lower"] = np.nan
    areas["upper"] = np.nan
    ok = areas["offences"].notna()
    r = rate(areas.loc[ok, "offences"], areas.loc[ok, "person_years"], multiplier=1000)
    areas.loc[ok, "rate"] = r["value"].to_numpy()
    areas.loc[ok, "lower"] = r["lower"].to_numpy()
    areas.loc[ok, "upper"] = r["upper"].to_numpy()
    areas = areas[ok].reset_index(drop=True)  # only areas whose count is published take part
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = areas["offences"].sum() / areas["person_years"].sum() * 1000
        by_force = areas.groupby("pfa_code")["offences"].sum() / areas.groupby("pfa_code")["person_years"].sum()
    own_force = areas["pfa_code"].map(by_force * 1000).to_numpy(dtype=float)
    fcfg = config.settings().get("funnels", {})
    method, share = str(fcfg.get("method", "auto")), float(fcfg.get("winsorise", 0.1))
    for c in ("vs_all_95", "vs_all_998", "vs_all_998_poisson", "vs_force_95", "vs_force_998"):
        areas[c] = pd.Series([None] * len(areas), dtype=object)
    od_all = od_force = overdispersion([], [], 0.0, method=method, winsorise=share, multiplier=1000)
    if len(areas) and overall > 0:
        od_all = overdispersion(areas["offences"], areas["person_years"], overall, method=method,
                                winsorise=share, multiplier=1000)
        sig = adjusted_funnel_significance(areas["offences"], areas["person_years"], overall, od_all, 1000)
        areas["vs_all_95"] = sig["significance_95"].to_numpy()
        areas["vs_all_998"] = sig["significance_998"].to_numpy()
        areas["vs_all_998_poisson"] = funnel_significance(areas["offences"], areas["person_years"], overall,
                                                          multiplier=1000)["significance_998"].to_numpy()
        od_force = overdispersion(areas["offences"], areas["person_years"], own_force, method=method,
                                  winsorise=share, groups=areas["pfa_code"], multiplier=1000)
        sig_f = adjusted_funnel_significance(areas["offences"], areas["person_years"], own_force, od_force, 1000)
        areas["vs_force_95"] = sig_f["significance_95"].to_numpy()
        areas["vs_force_998"] = sig_f["significance_998"].to_numpy()
    info = {
        "window_start": window[0],
        "window_end": window[-1],
        "years": len(window) / 12.0,
        "mid_years": py.attrs.get("mid_years", []),
        "overall": float(overall),
        "all_offences": int(areas["offences"].sum()),
        "all_population": float(areas["population"].sum()),
        "n_months": len(window),
        "od_all": od_all,
        "od_force": od_force,
    }
    return areas, info


def _window_label(info: dict) -> str:
    return f"{info['window_start']:%B %Y} to {info['window_end']:%B %Y}"


def _window_words(info: dict) -> str:
    """The comparison window in words with its length counted, never assumed: "the latest 12 months (April 2024
    to March 2025)", or "the 11 months the data hold (January 2022 to November 2022)"."""
    start, end = pd.Timestamp(info["window_start"]), pd.Timestamp(info["window_end"])
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    span = _window_label(info)
    if months >= 12:
        return f"the latest {months} months ({span})"
    return f"the {months} month{'s' if months != 1 else ''} the data hold ({span})"


# =========================================================================== SPC frame (profile and force)
def _spc_frame(series: pd.Series):
    import warnings

    from svtools.analysis.stats import spc

    improvement = config.settings()["spc"].get("improvement", "decrease")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # trial limits: said in the text instead
        return spc(series, improvement=improvement)


# =========================================================================== publishing through the gate
def _aligned(population, counts: pd.Series) -> pd.Series:
    """``population`` as a float Series on ``counts``' index: a scalar broadcast, a Series by label when it
    holds every label of ``counts`` (e.g. indexed by financial year), otherwise by position."""
    if np.isscalar(population):
        return pd.Series(float(population), index=counts.index)
    if isinstance(population, pd.Series) and set(counts.index) <= set(population.index):
        return population.reindex(counts.index).astype(float)
    values = np.asarray(population, dtype=float)
    if values.shape != (len(counts),):
        raise ValueError(f"population has {values.size} values for {len(counts)} counts")
    return pd.Series(values, index=counts.index)


def gated_rates(counts: pd.Series, population, multiplier: int = 1000, years: float = 1.0) -> pd.DataFrame:
    """Rates with 95% CIs from *published* counts only: hidden counts give hidden rates.

    Parameters
    ----------
    counts : Series
        Published counts (NaN where the gate hides them).
    population : scalar, array or Series
        Residents for each count: a Series indexed like ``counts`` (e.g. by financial year, from
        :meth:`ProfileContext.residents` - each year's own mid-year estimate, of the numerator's ages) is aligned
        by label; an array by position; a scalar for all.
    multiplier : int
        Rate per this many residents (1,000).
    years : float
        Length of each count's period in years (the denominator is ``population x years`` person-years; pass
        the period-average population, or use ``years=1`` with person-years as ``population``).

    Returns
    -------
    DataFrame
        ``rate``, ``lower_95_ci``, ``upper_95_ci`` (floats, NaN where the count is hidden or the population 0).
        Intervals: exact Poisson below 10 events, Byar's from 10.
    """
    from svtools.analysis.stats import rate

    pop = _aligned(population, counts)
    out = pd.DataFrame(index=counts.index, columns=["rate", "lower_95_ci", "upper_95_ci"], dtype=float)
    ok = counts.notna() & (pop > 0)
    if ok.any():
        r = rate(events=counts[ok].astype(float).to_numpy(), population=(pop[ok] * years).to_numpy(float),
                 multiplier=multiplier)
        out.loc[ok, "rate"] = r["value"].to_numpy()
        out.loc[ok, "lower_95_ci"] = r["lower"].to_numpy()
        out.loc[ok, "upper_95_ci"] = r["upper"].to_numpy()
    return out


def gated_rate_bounds(counts: pd.Series, unknown: pd.Series, population, multiplier: int = 1000,
                      years: float = 1.0) -> pd.DataFrame:
    """Rates of a cohort (e.g. victims under 25) from published counts, with the bound the unknown ages allow.

    Parameters
    ----------
    counts : Series
        Published counts of records known to be in the cohort (victims with a recorded age in it).
    unknown : Series
        Published counts, aligned with ``counts``, of records whose victim age is not recorded (they may or
        may not be in the cohort).
    population, multiplier, years
        As in :func:`gated_rates`: residents **of the cohort's ages** (e.g. 0-24).

    Returns
    -------
    DataFrame
        ``rate``, ``lower_95_ci``, ``upper_95_ci`` of the known count (a minimum when ages are missing), and
        ``rate_upper_bound`` / ``upper_bound_upper_95_ci``: the rate and its upper 95% limit if every record of
        unknown age were in the cohort. The true rate lies between ``lower_95_ci`` and
        ``upper_bound_upper_95_ci``. Every value is NaN where a count it needs is hidden.
    """
    known = gated_rates(counts, population, multiplier, years)
    c = pd.to_numeric(counts, errors="coerce").astype(float)
    u = pd.to_numeric(pd.Series(unknown, index=counts.index) if not isinstance(unknown, pd.Series)
                      else unknown.reindex(counts.index), errors="coerce").astype(float)
    most = gated_rates(c + u, population, multiplier, years)
    known["rate_upper_bound"] = most["rate"]
    known["upper_bound_upper_95_ci"] = most["upper_95_ci"]
    return known


def fmt_or_hidden(values: pd.Series, nd: int = 2) -> pd.Series:
    """Numbers with fixed decimals, the marker where hidden (NaN)."""
    mk = str(config.settings()["disclosure"]["suppressed_marker"])
    return values.map(lambda v: mk if pd.isna(v) else f"{float(v):,.{nd}f}").astype(object)


def publish_gated(ctx: ProfileContext, table, caption: str, *, name: str | None = None,
                  extra: pd.DataFrame | None = None, note: str | None = None, show_last: int | None = None,
                  row_labels: dict[str, str] | None = None, row_header: bool | str = True):
    """Show a :class:`~svtools.publish.disclosure.PublishedTable` (plus derived text columns) and write its CSV.

    ``extra`` holds columns already formatted as text (rates, shares) derived from the table's published
    counts; they are appended after the counts. ``row_labels`` maps the gate's row keys (such as
    ``E22000030|decile 1``) to the words a reader sees (``Decile 1 (most deprived)``), on the page and in the CSV.
    ``row_header`` names the column that heads each row (each card on a phone), as in
    :func:`svtools.publish.output.table_html`. The CSV's disclosure record names the table's gate family.
    """
    from svtools.publish.disclosure import require_published

    require_published(table, "a published table")
    text = table.text()
    if row_labels:
        text.index = pd.Index([row_labels.get(str(k), k) for k in text.index], name=text.index.name)
    counts = [str(c) for c in text.columns]
    text.columns = counts
    if extra is not None:
        for c in extra.columns:
            text[str(c)] = extra[c].to_numpy()
    stem = ctx.prefix + (name or table.name)
    gate = {**table.meta, "area_code": ctx.code, "area_level": ctx.level}
    if show_last is None or len(text) <= show_last:
        return output.publish_table(text, stem, caption, note=note, count_columns=counts, gate=gate,
                                    row_header=row_header)
    from IPython.display import HTML, display

    path = output.publish_table(text, stem, caption, note=note, count_columns=counts, display_table=False,
                                gate=gate)
    output.show_table(text.tail(show_last), f"{caption} (latest {show_last} rows)", note=note,
                      count_columns=counts, row_header=row_header)
    if path is not None:
        display(HTML(f'<p><a href="{path.name}" download>Download the full table, {len(text)} rows (CSV)</a></p>'))
    return path


def hidden_note() -> str:
    t = _threshold()
    return (f"Counts from 1 to {t} are shown as *, and so are other cells that would let a hidden count be "
            f"worked out from totals or other tables.")
