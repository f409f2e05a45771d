"""The published tables every page reads: one protected cube per family of linked tables.

Pages never count records themselves for publication. They ask this module for a family - built from the whole
force (or the whole dataset) so that a CSP's page, its siblings' pages and its force's page publish the same
protected numbers - and read their cells from it:

* :func:`series_cube` - offences by area (every CSP, force and the whole data) and period (month, quarter,
  financial year, the whole period, the latest 12 months), from the shared ``monthly_counts`` table. Each
  area's time series is published at the finest resolution with no hidden point (:func:`series_resolution`);
  a force's series only at a resolution all its CSPs are published at.
* :func:`age_year_cube` - the same areas by financial year and victim age group (under 25, 25 and over, age
  not recorded), linked to :func:`series_cube` through the all-ages cells.
* :func:`breakdown_cube` - a force's CSPs by one category (offence type, day and time, age and sex ...):
  CSP rows, the force row and every category group are margins of one cube.
* :func:`lsoa_cube` - neighbourhoods (LSOAs) of a force, with CSP, deprivation-decile and "top 5%" nodes.

Every cube is protected by :mod:`svtools.publish.disclosure` once per process and cached, keyed on the
dataset's content digest, the definition, the period and the cohort.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from svtools.analysis.fields import age_bounds, banded, in_age_range
from svtools.ingest.definitions import apply_definition, load_definition
from svtools.ingest.extract import financial_year
from svtools.ingest.store import csp_codes, dataset_digest, dataset_dir, load_records, load_table, table_where
from svtools.publish.disclosure import (Cube, DisclosureError, Dim, ProtectedCube, _gate_cache_read,
                                       _gate_cache_write, _gate_key, protect_linked, rules, threshold)

__all__ = [
    "ALL_AREAS",
    "TOTAL",
    "LATEST_12",
    "AGE_GROUPS",
    "Breakdown",
    "series_cube",
    "series_resolution",
    "age_year_cube",
    "breakdown_cube",
    "lsoa_cube",
    "quarter_label",
]

#: Node of the area dimension that holds every CSP of the dataset.
ALL_AREAS = "ALL"
#: Node of a period or category dimension that holds everything.
TOTAL = "Total"
LATEST_12 = "Latest 12 months"
AGE_GROUPS = ("Under 25", "25 and over", "Age not recorded")
ALL_AGES = "All ages"
RESOLUTIONS = ("month", "quarter", "financial_year")

#: data.police.uk crime types used in place of a local definition (the street files have no offence codes).
POLICE_UK_VIOLENCE = ("Violence and sexual offences", "Robbery", "Possession of weapons")


# =========================================================================== shared inputs
def _digest(dataset: str) -> str:
    """Content key of a dataset (its folder and ``dataset.json``): caches never mix two datasets' tables."""
    p = dataset_dir(dataset) / "dataset.json"
    if not p.is_file():
        return f"{p.parent}:none"
    return dataset_digest(dataset)


def month_label(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m")


def quarter_label(ts) -> str:
    """Financial-year quarter of a month: ``2023/24 Q1`` (April-June) ... ``2023/24 Q4`` (January-March)."""
    ts = pd.Timestamp(ts)
    fy = financial_year(pd.Series([ts])).iloc[0]
    q = ((ts.month - 4) % 12) // 3 + 1
    return f"{fy} Q{q}"


@functools.lru_cache(maxsize=16)
def _areas(dataset: str, digest: str) -> pd.DataFrame:
    return load_table("areas", dataset)


def _select_counts(counts: pd.DataFrame, definition: str) -> pd.DataFrame:
    if "ho_offence_code" in counts.columns and counts["ho_offence_code"].notna().any():
        return apply_definition(counts, load_definition(definition))
    return counts[counts["crime_type"].isin(POLICE_UK_VIOLENCE)] if "crime_type" in counts.columns else counts


@functools.lru_cache(maxsize=16)
def _monthly(dataset: str, definition: str, start: str, end: str, digest: str) -> pd.DataFrame:
    """The ``monthly_counts`` rows of the period that meet the definition (fresh ``RangeIndex``).

    Read with a parquet filter (:func:`~svtools.ingest.store.table_where`): the period's rows of the definition's
    offence codes only, never the whole table (a national one is 660k rows, ~72 MB; the knife definition's codes
    are 42% of it and the definition keeps 4%, 3 MB; most serious violence 44%, 33 MB); the same rows, in the
    same order and dtypes, as the whole table selected by period and :func:`_select_counts`."""
    where = [("month", ">=", pd.Timestamp(start)), ("month", "<=", pd.Timestamp(end))]
    codes = _candidate_codes(dataset, definition)
    if codes is not None:
        where.append(("ho_offence_code", "in", codes))
    t = table_where("monthly_counts", dataset, where)
    if codes is not None and t.empty:  # the period may have no code at all: _select_counts decides on its rows
        t = table_where("monthly_counts", dataset, where[:2])
    return _select_counts(t, definition).reset_index(drop=True)


def _candidate_codes(dataset: str, definition: str) -> frozenset[str] | None:
    """Every offence code a row meeting ``definition`` can have (its codes and its parts'), or None when the
    rows cannot be narrowed by code: a count-table definition, codes that are not text, a table without
    ``ho_offence_code`` (then :func:`_select_counts` reads crime types)."""
    import pyarrow.parquet as pq

    d = load_definition(definition)
    if d.for_counts:
        return None
    codes = set(d.offence_codes).union(*(p.offence_codes for p in d.parts))
    if not all(isinstance(c, str) for c in codes):
        return None
    if "ho_offence_code" not in pq.read_schema(dataset_dir(dataset) / "monthly_counts.parquet").names:
        return None
    return frozenset(codes)


def _area_dim(areas: pd.DataFrame, codes: Sequence[str] | None = None, with_all: bool = True) -> Dim:
    a = areas if codes is None else areas[areas["csp_code"].isin(list(codes))]
    a = a.sort_values(["pfa_code", "csp_code"])
    nodes = {str(f): tuple(g["csp_code"].astype(str)) for f, g in a.groupby("pfa_code", sort=True)}
    if with_all:
        nodes[ALL_AREAS] = tuple(a["csp_code"].astype(str))
    return Dim("area_code", tuple(a["csp_code"].astype(str)), nodes)


def _months(start: str, end: str) -> list[pd.Timestamp]:
    return list(pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS"))


def _complete(groups: dict[str, list]) -> dict[str, tuple]:
    """Nodes (quarters, financial years) whose every month is inside the period."""
    want = {"Q": 3, "FY": 12}
    out = {}
    for k, months in groups.items():
        kind = "Q" if " Q" in k else "FY"
        if len(months) == want[kind]:
            out[k] = tuple(months)
    return out


def _time_dim(start: str, end: str) -> tuple[Dim, dict[str, list[str]]]:
    """The period dimension of ``start``..``end`` (months, complete quarters and financial years, the total and
    the latest 12 months) and its levels; built once per period and process (it was 35% of a warm indicator
    table: one financial-year parse per month per family), the levels copied for each caller."""
    dim, levels = _time_dim_cached(str(start), str(end))
    return dim, {k: list(v) for k, v in levels.items()}


@functools.lru_cache(maxsize=32)
def _time_dim_cached(start: str, end: str) -> tuple[Dim, dict[str, list[str]]]:
    months = _months(start, end)
    labels = [month_label(m) for m in months]
    quarters: dict[str, list] = {}
    years: dict[str, list] = {}
    for m, lab in zip(months, labels):
        quarters.setdefault(quarter_label(m), []).append(lab)
        years.setdefault(financial_year(pd.Series([m])).iloc[0], []).append(lab)
    q = _complete(quarters)
    y = _complete(years)
    nodes = {**q, **y, TOTAL: tuple(labels)}
    if len(labels) >= 12:
        nodes[LATEST_12] = tuple(labels[-12:])
    levels = {"month": labels, "quarter": list(q), "financial_year": list(y)}
    return Dim("period", tuple(labels), nodes), levels


# =========================================================================== area x period
def series_resolution(values: Sequence[int], t: int) -> bool:
    """True when a series can be published as it is: none of its points is a count from 1 to ``t``."""
    v = np.asarray(list(values), dtype=np.int64)
    return v.size > 0 and not ((v >= 1) & (v <= t)).any()


@dataclass
class SeriesFamily:
    """A protected area x period cube with the resolution each area's series is published at."""

    cube: ProtectedCube
    levels: dict[str, list[str]]
    resolution: dict[str, str | None]
    definition: str

    def series(self, area: str) -> pd.Series | None:
        """The area's published series at its resolution (index: period labels), or None."""
        r = self.resolution.get(area)
        if r is None:
            return None
        labels = self.levels[r]
        vals = [self.cube.value((area, lab)) for lab in labels]
        return pd.Series(vals, index=pd.Index(labels, name=r), dtype="Int64")

    def value(self, area: str, period: str):
        return self.cube.value((area, period))


def _build_series(dataset: str, force: str, definition: str, start: str, end: str, digest: str,
                  extra_hidden: Mapping[tuple, tuple] | None = None) -> SeriesFamily:
    """The area x period family, protected; ``extra_hidden`` are cells a linked family needs hidden."""
    t = threshold("police")
    areas = _areas(dataset, digest)
    adim = _area_dim(areas, csp_codes(dataset, force), with_all=False)
    tdim, levels = _time_dim(start, end)
    m = _monthly(dataset, definition, start, end, digest)
    g = m.groupby(["csp_code", "month"], observed=True)["offences"].sum().reset_index()
    g = g[g["csp_code"].isin(adim.base)]
    counts = pd.DataFrame({"area_code": g["csp_code"].astype(str), "period": g["month"].map(month_label),
                           "count": g["offences"].astype("int64")})
    cube = Cube(f"offences_by_period_{definition}", [adim, tdim], counts)
    # Each CSP's series: the finest resolution none of whose points is small.
    flat = cube.truth
    aidx = {a: i for i, a in enumerate(adim.base)}
    tidx = {p: i for i, p in enumerate(tdim.base)}

    def value(area_nodes, period_nodes):
        rows = [aidx[x] for x in area_nodes]
        cols = [tidx[x] for x in period_nodes]
        return int(flat[np.ix_(rows, cols)].sum())

    resolution: dict[str, str | None] = {}
    for a in adim.base:
        resolution[a] = None
        for r in RESOLUTIONS:
            pts = [value([a], tdim.members(p)) for p in levels[r]]
            if len(pts) and series_resolution(pts, t):
                resolution[a] = r
                break
    order = {r: i for i, r in enumerate(RESOLUTIONS)}
    for f, members in adim.nodes.items():
        if f == ALL_AREAS:
            continue
        rs = [resolution[c] for c in members]
        if any(r is None for r in rs):
            resolution[f] = None
        else:
            worst = max(rs, key=lambda r: order[r])
            own = None
            for r in RESOLUTIONS[order[worst]:]:
                pts = [value(members, tdim.members(p)) for p in levels[r]]
                if series_resolution(pts, t):
                    own = r
                    break
            resolution[f] = own
    periods = list(levels["financial_year"]) + [TOTAL] + ([LATEST_12] if LATEST_12 in tdim.nodes else [])
    area_nodes = list(adim.base) + [k for k in adim.nodes]
    cube.publish((a, p) for a in area_nodes for p in periods)
    for a, r in resolution.items():
        if r is not None:
            cube.publish((a, p) for p in levels[r])
    protected = cube.protect(extra_hidden=extra_hidden)
    return SeriesFamily(protected, levels, resolution, definition)


def _series_family(dataset: str, force: str, definition: str, start: str, end: str, digest: str) -> SeriesFamily:
    return _linked_families(dataset, force, definition, start, end, digest)[0]


@functools.lru_cache(maxsize=64)
def _linked_families(dataset: str, force: str, definition: str, start: str, end: str,
                     digest: str) -> tuple[SeriesFamily, ProtectedCube | None]:
    """The series family and the age-by-year family, repaired together.

    The age family's "All ages" cells *are* the series family's area x financial-year cells. The age family is
    protected with those cells fixed as the series family publishes them (hidden there: hidden here; visible
    there: kept visible). When that cannot protect some age cell (cells the series family publishes pin it),
    the age family is protected once more without keeping the shared cells, every shared cell it then hides is
    hidden in the series family too, the series family is repaired again with those cells hidden, and the loop
    repeats. Each round only hides more cells, so it ends: at the latest when the shared cells are all hidden.

    Each family then passes its own audit, with the other's shared cells taken as fixed or as "at least 1".
    An attacker holding both tables intersects what each says about a hidden shared cell, so the two are
    audited once more as one programme (:func:`svtools.publish.disclosure.protect_linked`, links from
    :func:`_year_links`) and repaired if that finds a cell narrowed below the band.

    Returns
    -------
    tuple
        ``(SeriesFamily, ProtectedCube or None)``: the age family is None when no ages are recorded.
    """
    extra: dict[tuple, tuple] = {}
    for _ in range(int(rules()["audit"]["max_repair_rounds"])):
        fam = _build_series(dataset, force, definition, start, end, digest, extra or None)
        built = _age_year_cube(dataset, force, definition, start, end, digest)
        if built is None:
            return fam, None
        hidden, keep = {}, set()
        for key in built.shared:
            if fam.value(key[0], key[1]) is None:
                hidden[key] = (1, None)
            else:
                keep.add(key)
        try:
            age = built.cube.protect(extra_hidden=hidden, keep_visible=keep)
        except DisclosureError:
            alone = _age_year_cube(dataset, force, definition, start, end, digest).cube.protect(extra_hidden=hidden)
            need = {(k[0], k[1]) for k in keep if alone.value(k) is None}
            if not need:
                raise
            extra.update({k: (1, None) for k in need})
            continue
        # Each family passed its own audit with the other's shared cells as fixed values or as "at least 1";
        # an attacker holding both intersects them, so they are audited (and if need be repaired) as one.
        series, age = protect_linked([fam.cube.cube, age.cube], _year_links(fam))
        return SeriesFamily(series, fam.levels, fam.resolution, fam.definition), age
    raise DisclosureError(f"offences_by_year_and_age_{definition} and offences_by_period_{definition} "
                          f"({force}): no joint suppression pattern after {len(extra)} shared cells hidden")


def _year_links(fam: SeriesFamily) -> list[tuple]:
    """The cells the series family and the age-by-year family both count: each area (CSP and force) by
    financial year, and the total when it is the sum of the financial years (:func:`protect_linked` links)."""
    years = fam.levels["financial_year"]
    tdim = fam.cube.cube.dim("period")
    adim = fam.cube.cube.dim("area_code")
    areas = list(adim.base) + list(adim.nodes)
    periods = list(years)
    fy_months = {m for y in years for m in tdim.members(y)}
    if years and set(tdim.members(TOTAL)) == fy_months:
        periods.append(TOTAL)
    return [(0, (a, p), 1, (a, p, ALL_AGES)) for a in areas for p in periods]


def series_cube(dataset: str, force: str, definition: str, start, end) -> SeriesFamily:
    """The protected area x period family of ``definition`` for a force: its CSPs and the force (cached)."""
    s, e = str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    return _series_family(dataset, force, definition, s, e, _digest(dataset))


# =========================================================================== area x year x age group
@dataclass
class _AgeYear:
    """The age-by-year cube before protection, and its cells the series family also publishes."""

    cube: Cube
    shared: list[tuple]


def _age_year_cube(dataset: str, force: str, definition: str, start: str, end: str, digest: str) -> _AgeYear | None:
    m = _monthly(dataset, definition, start, end, digest)
    if "victim_under_25" not in m.columns or m["victim_under_25"].isna().all():
        return None
    areas = _areas(dataset, digest)
    adim = _area_dim(areas, csp_codes(dataset, force), with_all=False)
    _, levels = _time_dim(start, end)
    years = levels["financial_year"]
    if not years:
        return None
    ydim = Dim("financial_year", tuple(years), {TOTAL: tuple(years)})
    gdim = Dim("age_group", AGE_GROUPS, {ALL_AGES: AGE_GROUPS})
    m = m[m["financial_year"].isin(years)]
    u = m["victim_under_25"].astype("boolean")
    grp = np.where(u.isna().to_numpy(bool), AGE_GROUPS[2],  # unknown is its own group, never "25 and over"
                   np.where((u == True).to_numpy(bool, na_value=False), AGE_GROUPS[0], AGE_GROUPS[1]))  # noqa: E712
    g = (m.assign(age_group=grp).groupby(["csp_code", "financial_year", "age_group"], observed=True)["offences"]
         .sum().reset_index())
    g = g[g["csp_code"].isin(adim.base)]
    counts = pd.DataFrame({"area_code": g["csp_code"].astype(str), "financial_year": g["financial_year"].astype(str),
                           "age_group": g["age_group"].astype(str), "count": g["offences"].astype("int64")})
    cube = Cube(f"offences_by_year_and_age_{definition}", [adim, ydim, gdim], counts)
    area_nodes = list(adim.base) + list(adim.nodes)
    cube.publish((a, y, grp) for a in area_nodes for y in years + [TOTAL]
                 for grp in (ALL_AGES, AGE_GROUPS[0], AGE_GROUPS[2]))
    # All-ages cells are the series family's cells (see _linked_families)
    return _AgeYear(cube, [(a, y, ALL_AGES) for a in area_nodes for y in years + [TOTAL]])


def _age_year(dataset: str, force: str, definition: str, start: str, end: str, digest: str) -> ProtectedCube | None:
    return _linked_families(dataset, force, definition, start, end, digest)[1]


def age_year_cube(dataset: str, force: str, definition: str, start, end) -> ProtectedCube | None:
    """A force's CSPs and the force by financial year and victim age group (None when no ages are recorded)."""
    s, e = str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    return _age_year(dataset, force, definition, s, e, _digest(dataset))


# =========================================================================== a force's CSPs by a category
@dataclass(frozen=True)
class Breakdown:
    """How to break a force's records down by one category.

    Parameters
    ----------
    name : str
        Family name and CSV stem (``offence_mix``, ``day_time``, ``victim_age_sex`` ...).
    label : callable
        ``records -> Series`` of category labels (str; missing values become ``not_recorded``).
    categories : tuple, optional
        Base categories in display order (default: by the force's count, largest first).
    groups : tuple of (node, members)
        Coarser nodes that are also published (e.g. ``("Under 25", ("0-9", "10-17", "18-24"))``).
    unit : str
        What is counted: ``offences`` (records) or ``victims`` (with ``per`` the id column).
    per : str, optional
        Count distinct values of this column per category instead of records.
    not_recorded : str
        Label of records whose category is unknown (published as its own category: unknown is never zero).
    publish : tuple, optional
        The category nodes pages publish (default: every base category and group). Only these are protected
        and shown; finer base categories still link them in the audit.
    optional : tuple, optional
        Base categories left out of the cube when the force has no record in them (e.g. ages recorded as
        bands): an empty base cell the audit had to treat as unknown would understate what an attacker who
        knows the data have no such records can work out.
    """

    name: str
    label: Callable[[pd.DataFrame], pd.Series]
    categories: tuple | None = None
    groups: tuple = ()
    unit: str = "offences"
    per: str | None = None
    not_recorded: str = "Not recorded"
    columns: tuple = ()
    publish: tuple | None = None
    optional: tuple = ()


def family_name(kind: str, definition: str, ages=None) -> str:
    """``kind__definition[__victims_A_B]``: two families with different records never share a name."""
    return f"{kind}__{definition}" + (f"__victims_{ages[0]}_{ages[1]}" if ages else "")


def _force_records(dataset: str, force: str, definition: str, start: str, end: str, ages, digest: str,
                   columns: tuple) -> pd.DataFrame:
    return _force_records_cached(dataset, force, definition, start, end, ages, digest)


@functools.lru_cache(maxsize=8)
def _force_records_cached(dataset, force, definition, start, end, ages, digest) -> pd.DataFrame:
    # Each CSP's records are selected as they are read (the selection is row by row, so the rows, their order
    # and the dtypes of the concatenation are the same): a large force's records (the Met's 210,000 at the
    # national demo's scale, 3% of them in a definition) are never all in memory at once.
    defn = functools.cache(lambda: load_definition(definition))  # loaded once, when records have offence codes
    frames = [_selected(load_records(c, dataset), defn, start, end, ages) for c in csp_codes(dataset, force)]
    return pd.concat(frames, ignore_index=True)


def _selected(r: pd.DataFrame, defn: Callable, start, end, ages) -> pd.DataFrame:
    """One CSP's records in the period that meet the definition (``defn()``) and the cohort's ages."""
    r = r[(r["month"] >= pd.Timestamp(start)) & (r["month"] <= pd.Timestamp(end))]
    if "ho_offence_code" in r.columns:
        r = apply_definition(r, defn())
    else:
        r = r[r["crime_type"].isin(POLICE_UK_VIOLENCE)]
    if ages is not None:  # victims known to be of these ages (exact, or a band wholly inside them)
        inside = in_age_range(r, ages[0], ages[1], "victim")
        r = r[(inside == True).fillna(False).to_numpy(bool)]  # noqa: E712 - a selection, not a count
    return r


def force_records(dataset: str, force: str, definition: str, start, end, ages=None) -> pd.DataFrame:
    """Every record of the force's CSPs in the period that meets the definition (and cohort ages)."""
    s, e = str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    return _force_records_cached(dataset, force, definition, s, e, tuple(ages) if ages else None,
                                 _digest(dataset))


#: The victim age-and-sex family's node whose records are a cohort's (``ctx.young()``: victims aged 10-24).
COHORT_ANCHOR = {(10, 24): "10-24|All", (0, 24): "Under 25|All"}


def _anchor(dataset, force, definition, start, end, digest, ages) -> tuple[ProtectedCube, Callable] | None:
    """The family already published whose area cells count the same records as a family's area totals, and
    the key of an area's cell in it: for all the definition's records the series family's (area, Total); for a
    cohort of victims' ages the victim age-and-sex family's node of those ages (None: no such node)."""
    if ages is None:
        fam = _series_family(dataset, force, definition, start, end, digest)
        return fam.cube, lambda a: (a, TOTAL)
    node = COHORT_ANCHOR.get(tuple(int(x) for x in ages))
    if node is None:
        return None
    return _breakdown(dataset, force, definition, start, end, None, VICTIM_AGE_SEX, digest), lambda a: (a, node)


def _protect_with_anchor(make: Callable[[], Cube], pairs, dataset, force, definition, start, end, digest,
                         ages) -> ProtectedCube:
    """Protect a family whose area totals count the same records as cells of a family already published.

    A breakdown's "Total" row for an area (or the neighbourhoods' CSP total) over the period is the series
    family's (area, Total) cell; a cohort's (victims aged 10-24) is the victim age-and-sex family's "10-24"
    node (:func:`_anchor`). Hiding it in one and showing it in the other shows it. So a total the anchor
    hides is hidden here, one it shows is kept visible here, and the two families are audited as one with the
    anchor frozen (:func:`svtools.publish.disclosure.protect_linked`): it is already on other pages. Only
    links whose two cells hold the same true count are made; when keeping the anchor's visible totals leaves
    no safe pattern, the family is protected without keeping them and the joint audit decides.

    Parameters
    ----------
    make : callable
        Builds the family's cube with its cells registered (called again for the fallback).
    pairs : sequence of (key, area)
        This family's cell and the area whose anchor cell counts the same records.
    """
    cube = make()
    got = _anchor(dataset, force, definition, start, end, digest, ages)
    if got is None:
        return cube.protect()
    anchor, anchor_key = got
    frozen = anchor.cube
    f_flat, c_flat = frozen.truth.ravel(), cube.truth.ravel()
    links = []
    for key, area in pairs:
        key, akey = cube._key(key), frozen._key(anchor_key(area))
        if key in cube._cells and akey in frozen._cells and \
                int(c_flat[cube._index(key)].sum()) == int(f_flat[frozen._index(akey)].sum()):
            links.append((1, key, 0, akey))
    if not links:
        return cube.protect()
    hidden = {k: (1, None) for _, k, _, ak in links if anchor.value(ak) is None}
    keep = [k for _, k, _, ak in links if anchor.value(ak) is not None]
    # A refusal is remembered on disk like a protection (same key and folder), so a warm run does not search
    # again for the pattern that does not exist.
    refused = "refused-" + _gate_key(cube, threshold(cube.source), hidden, keep)
    if _gate_cache_read(refused) is None:
        try:
            cube.protect(extra_hidden=hidden, keep_visible=keep)
            return protect_linked([frozen, cube], links, frozen=(0,))[1]
        except DisclosureError as exc:
            _gate_cache_write(refused, {"refused": str(exc)})
    cube = make()
    cube.protect(extra_hidden=hidden)
    return protect_linked([frozen, cube], links, frozen=(0,))[1]


@functools.lru_cache(maxsize=64)
def _breakdown(dataset, force, definition, start, end, ages, spec: Breakdown, digest) -> ProtectedCube:
    return _protect_with_anchor(lambda: _breakdown_cube(dataset, force, definition, start, end, ages, spec, digest),
                                [((a, TOTAL), a) for a in list(csp_codes(dataset, force)) + [force]],
                                dataset, force, definition, start, end, digest, ages)


def _breakdown_cube(dataset, force, definition, start, end, ages, spec: Breakdown, digest) -> Cube:
    t = threshold("police")
    records = _force_records_cached(dataset, force, definition, start, end, ages, digest)
    codes = csp_codes(dataset, force)
    adim = Dim("area_code", tuple(codes), {force: tuple(codes)})
    lab = spec.label(records).astype("string").fillna(spec.not_recorded).astype(str)
    frame = pd.DataFrame({"area_code": records["csp_code"].astype(str).to_numpy(), "category": lab.to_numpy()})
    if spec.per:
        frame["id"] = records[spec.per].astype("string").to_numpy()
        frame = frame.dropna(subset=["id"]).drop_duplicates()
    g = frame.groupby(["area_code", "category"]).size().rename("count").reset_index()
    if spec.categories is not None:
        present = set(g["category"])
        cats = [c for c in spec.categories if c not in spec.optional or c in present]
        extra = sorted(present - set(cats))
        cats = cats + extra
    else:
        order = g.groupby("category")["count"].sum().sort_values(ascending=False, kind="stable")
        cats = [c for c in order.index if c != spec.not_recorded]
        if spec.not_recorded in order.index:
            cats.append(spec.not_recorded)
    if not cats:
        cats = [spec.not_recorded]
    groups = {k: tuple(x for x in v if x in cats) for k, v in spec.groups}
    groups = {k: v for k, v in groups.items() if v}
    cdim = Dim("category", tuple(cats), {**groups, TOTAL: tuple(cats)})
    cube = Cube(family_name(spec.name, definition, ages), [adim, cdim], g, unit=spec.unit)
    totals = g.groupby("area_code")["count"].sum()
    min_total = int(rules()["breakdown"]["min_total"])
    cat_nodes = (list(cats) + list(groups) + [TOTAL]) if spec.publish is None else \
        [c for c in spec.publish if c in cats or c in groups] + [TOTAL]
    for a in list(codes) + [force]:
        tot = int(totals.reindex(list(adim.members(a))).fillna(0).sum())
        if tot >= min_total and tot > t:
            cube.publish((a, c) for c in cat_nodes)
        else:
            cube.publish([(a, TOTAL)])
    return cube


def breakdown_cube(ctx, spec: Breakdown) -> ProtectedCube:
    """The protected table of the context's force (every CSP and the force) broken down by ``spec``."""
    s, e = str(ctx.period_start.date()), str(ctx.period_end.date())
    return _breakdown(ctx.dataset, ctx.force_code, ctx.definition.name, s, e,
                      tuple(ctx.victim_ages) if ctx.victim_ages else None, spec, _digest(ctx.dataset))


def published_categories(cube: ProtectedCube, area: str) -> list[str] | None:
    """Category nodes published for an area, in display order (None: its breakdown is withheld as too small).

    Base categories come first in their order when they are published; a family that publishes only groups
    (e.g. the age-and-sex family) gives its published nodes in the order they were registered.
    """
    registered = [k[1] for k in cube.values if k[0] == str(area) and k[1] != TOTAL]
    if not registered:
        return None
    base = [c for c in cube.cube.dim("category").base if c in set(registered)]
    return base if base else registered


# =========================================================================== neighbourhoods
@functools.lru_cache(maxsize=32)
def _lsoa(dataset, force, definition, start, end, ages, top_n: int, digest) -> tuple[ProtectedCube, dict]:
    """The neighbourhoods family, protected with the series family's CSP and force totals (a CSP's node here
    counts the same records as its (CSP, Total) cell there when every record is located)."""
    built = [_lsoa_cube(dataset, force, definition, start, end, ages, top_n, digest)]
    top = built[0][1]

    def make() -> Cube:
        return built.pop()[0] if built else _lsoa_cube(dataset, force, definition, start, end, ages, top_n, digest)[0]

    pairs = [((a,), a) for a in list(csp_codes(dataset, force)) + [force]]
    return _protect_with_anchor(make, pairs, dataset, force, definition, start, end, digest, ages), top


def _lsoa_cube(dataset, force, definition, start, end, ages, top_n: int, digest) -> tuple[Cube, dict]:
    records = _force_records_cached(dataset, force, definition, start, end, ages, digest)
    lsoa = load_table("lsoa", dataset)
    codes = csp_codes(dataset, force)
    lk = lsoa[lsoa["csp_code"].isin(codes)].copy()
    code_col = "lsoa_code" if "lsoa_code" in lk.columns else lk.columns[0]
    lk[code_col] = lk[code_col].astype(str)
    base = tuple(sorted(set(lk[code_col])))
    r = records.dropna(subset=["lsoa_code"])
    r = r[r["lsoa_code"].astype(str).isin(base)]
    g = r.groupby(r["lsoa_code"].astype(str)).size().rename("count").reset_index().rename(
        columns={"lsoa_code": "lsoa_code"})
    nodes: dict[str, tuple] = {}
    for c, sub in lk.groupby("csp_code"):
        nodes[str(c)] = tuple(sorted(sub[code_col]))
        if "imd_decile" in sub.columns:
            for d, s2 in sub.dropna(subset=["imd_decile"]).groupby("imd_decile"):
                nodes[f"{c}|decile {int(d)}"] = tuple(sorted(s2[code_col]))
    nodes[force] = base
    if "imd_decile" in lk.columns:
        for d, s2 in lk.dropna(subset=["imd_decile"]).groupby("imd_decile"):
            nodes[f"{force}|decile {int(d)}"] = tuple(sorted(s2[code_col]))
    counts = g.set_index("lsoa_code")["count"].reindex(list(base)).fillna(0).astype(int)
    dim = Dim("lsoa_code", base, nodes)
    cube = Cube(family_name("neighbourhoods", definition, ages), [dim], pd.DataFrame({"lsoa_code": counts.index, "count": counts.to_numpy()}))
    top: dict[str, list[str]] = {}
    for c in codes:
        members = list(nodes.get(str(c), ()))
        cnt = counts.reindex(members).sort_values(ascending=False, kind="stable")
        top[str(c)] = list(cnt.index[:top_n])
        cube.publish([(x,) for x in top[str(c)]])
        cube.publish([(str(c),)])
        cube.publish([(k,) for k in nodes if k.startswith(f"{c}|decile ")])
    # The force: its own top list and deciles (margins of the same cube, so protected with the CSPs').
    cnt = counts.sort_values(ascending=False, kind="stable")
    top[str(force)] = list(cnt.index[:top_n])
    cube.publish([(x,) for x in top[str(force)]])
    cube.publish([(k,) for k in nodes if k.startswith(f"{force}|decile ")])
    cube.publish([(force,)])
    return cube, top


def lsoa_cube(ctx, top_n: int = 10) -> tuple[ProtectedCube, dict]:
    s, e = str(ctx.period_start.date()), str(ctx.period_end.date())
    return _lsoa(ctx.dataset, ctx.force_code, ctx.definition.name, s, e,
                 tuple(ctx.victim_ages) if ctx.victim_ages else None, top_n, _digest(ctx.dataset))


# =========================================================================== shared breakdown specs
#: Age labels of the age-and-sex family: single years 10-24 (the Duty's young people), bands elsewhere.
AGE_LABELS = ("0-9",) + tuple(str(a) for a in range(10, 25)) + ("25-34", "35-44", "45-54", "55-64", "65+")
SEX_LABELS = ("F", "M", "X")
AGE_NOT_RECORDED = "Age not recorded"
#: Node of the records whose age is known only as a band wider than the published bands' single years.
AGE_BANDED = "Age recorded as a band"
SEX_NOT_RECORDED = "Sex not recorded"
#: Bands published on the profile page (each a group of AGE_LABELS).
AGE_BANDS = {
    "0-9": ("0-9",),
    "10-17": tuple(str(a) for a in range(10, 18)),
    "18-24": tuple(str(a) for a in range(18, 25)),
    "25-34": ("25-34",), "35-44": ("35-44",), "45-54": ("45-54",), "55-64": ("55-64",), "65+": ("65+",),
}
AGE_GROUP_NODES = {
    "Under 25": ("0-9",) + tuple(str(a) for a in range(10, 25)),
    "10-24": tuple(str(a) for a in range(10, 25)),
    "25 and over": ("25-34", "35-44", "45-54", "55-64", "65+"),
}


#: Base categories of records whose age is known only as a band (``<role>_age_min``/``_max``), by the
#: finest published node holding the whole band: they count in that band and the groups above it, never in a
#: single year of age. A band that fits no published node is "Age not recorded".
BANDED_LABELS = {
    "10-17 (age band)": "10-17", "18-24 (age band)": "18-24", "10-24 (age band)": "10-24",
    "0-24 (age band)": "Under 25", "25+ (age band)": "25 and over",
}
_BAND_SPANS = [(0, 9, "0-9"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"), (55, 64, "55-64"),
               (65, np.inf, "65+"), (10, 17, "10-17 (age band)"), (18, 24, "18-24 (age band)"),
               (10, 24, "10-24 (age band)"), (0, 24, "0-24 (age band)"), (25, np.inf, "25+ (age band)")]


def _age_label(records: pd.DataFrame, role: str) -> pd.Series:
    """Age category of each record: a single year 10-24 or a band from an exact age; a banded record's
    category from :data:`BANDED_LABELS` (or a plain band such as "25-34" when its whole band lies in one);
    "Age not recorded" when unknown."""
    lo, hi = age_bounds(records, role)
    exact = pd.to_numeric(records[f"{role}_age"], errors="coerce") if f"{role}_age" in records.columns else \
        pd.Series(np.nan, index=records.index, dtype="float64")
    exact = exact.astype("float64").where(exact.notna(), lo.where(lo == hi))  # a one-year band is exact
    out = pd.Series(pd.NA, index=records.index, dtype="string")
    wide = banded(records, role)
    for a, b, lab in _BAND_SPANS[:6]:  # exact ages (and bands inside one plain band)
        out[((lo >= a) & (hi <= b)).to_numpy(bool)] = lab
    young = ((exact >= 10) & (exact <= 24)).to_numpy(bool)
    out[young] = exact[young].astype("int64").astype(str).to_numpy()
    for a, b, lab in _BAND_SPANS[6:]:  # wider bands: the finest published node holding them
        pick = wide & out.isna().to_numpy(bool) & ((lo >= a) & (hi <= b)).to_numpy(bool)
        out[pick] = lab
    return out.fillna(AGE_NOT_RECORDED)


def _age_sex_label(prefix: str):
    def label(records: pd.DataFrame) -> pd.Series:
        if f"{prefix}_age" not in records.columns and f"{prefix}_age_min" not in records.columns:
            return pd.Series(f"{AGE_NOT_RECORDED}|{SEX_NOT_RECORDED}", index=records.index, dtype="string")
        age = _age_label(records, prefix)
        sex = records[f"{prefix}_sex"].astype("string").fillna(SEX_NOT_RECORDED) if f"{prefix}_sex" in \
            records.columns else pd.Series(SEX_NOT_RECORDED, index=records.index, dtype="string")
        sex = sex.where(sex.isin(SEX_LABELS), SEX_NOT_RECORDED)
        return age + "|" + sex
    label.__name__ = f"{prefix}_age_sex_label"
    return label


def _age_sex_categories() -> tuple:
    ages = AGE_LABELS + tuple(BANDED_LABELS) + (AGE_NOT_RECORDED,)
    sexes = SEX_LABELS + (SEX_NOT_RECORDED,)
    return tuple(f"{a}|{s}" for a in ages for s in sexes)


def _age_sex_optional() -> tuple:
    """The banded-age base cells: in the cube only when the force has banded records."""
    return tuple(f"{a}|{s}" for a in BANDED_LABELS for s in SEX_LABELS + (SEX_NOT_RECORDED,))


def _with_banded(members: tuple, node: str) -> tuple:
    """``members`` of an age node plus the banded categories that lie inside it."""
    inside = {"10-17": ("10-17",), "18-24": ("18-24",), "10-24": ("10-17", "18-24", "10-24"),
              "Under 25": ("10-17", "18-24", "10-24", "Under 25"), "25 and over": ("25 and over",)}
    extra = tuple(b for b, n in BANDED_LABELS.items() if n in inside.get(node, ()))
    if node == "All ages":
        extra = tuple(BANDED_LABELS)
    return tuple(members) + extra


def _age_sex_published() -> tuple:
    """What pages show: age bands (all sexes), sex (all ages), single ages 10-24 and the age groups.

    Age is not crossed with sex on the pages: the "other" and "not recorded" sexes are so small in every band
    that a cross-table would have to hide most of its cells.
    """
    out = [f"{b}|All" for b in AGE_BANDS] + [f"{AGE_NOT_RECORDED}|All"]
    out += ["All ages|F", "All ages|M", "All ages|Other or not recorded"]
    out += [f"{a}|All" for a in range(10, 25)]
    out += ["Under 25|All", "10-24|All", "25 and over|All", f"{AGE_BANDED}|All"]
    return tuple(dict.fromkeys(out))


def _age_sex_groups() -> tuple:
    """Nodes: every band, age group and 'All ages' by sex ('<node>|<sex>'), and by age for all sexes."""
    ages = AGE_LABELS + (AGE_NOT_RECORDED,)
    sexes = SEX_LABELS + (SEX_NOT_RECORDED,)
    groups = []
    age_nodes = {**{k: v for k, v in AGE_BANDS.items() if len(v) > 1}, **AGE_GROUP_NODES, "All ages": ages}
    age_nodes = {k: _with_banded(v, k) for k, v in age_nodes.items()}
    age_nodes[AGE_BANDED] = tuple(BANDED_LABELS)
    ages = ages + tuple(BANDED_LABELS)
    for node, members in age_nodes.items():
        for s in sexes:
            groups.append((f"{node}|{s}", tuple(f"{a}|{s}" for a in members)))
        groups.append((f"{node}|All", tuple(f"{a}|{s}" for a in members for s in sexes)))
    for a in ages:
        groups.append((f"{a}|All", tuple(f"{a}|{s}" for s in sexes)))
    groups.append(("All ages|Other or not recorded", tuple(f"{a}|{s}" for a in ages for s in ("X", SEX_NOT_RECORDED))))
    return tuple(groups)


#: Victims (offences, one per crime x victim) by age and sex: ONE family for the profile's age-sex table, the
#: under-25 section and the young people's single ages 10-24, so the three can never be differenced.
VICTIM_AGE_SEX = Breakdown("victim_age_sex", _age_sex_label("victim"), categories=_age_sex_categories(),
                           groups=_age_sex_groups(), not_recorded=f"{AGE_NOT_RECORDED}|{SEX_NOT_RECORDED}",
                           publish=_age_sex_published(), optional=_age_sex_optional())
#: Suspects by age and sex (records with a suspect).
SUSPECT_AGE_SEX = Breakdown("suspect_age_sex", _age_sex_label("suspect"), categories=_age_sex_categories(),
                            groups=_age_sex_groups(), not_recorded=f"{AGE_NOT_RECORDED}|{SEX_NOT_RECORDED}",
                            publish=_age_sex_published(), optional=_age_sex_optional())
