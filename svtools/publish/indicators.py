"""Every CSP x indicator of a dataset, from published counts only: the spine chart's and red-red list's table.

:func:`indicator_table` reads each indicator of ``config/indicators.yaml`` for every CSP of a dataset from the
protected family that publishes it - the same cells the other pages publish, so nothing here can be
differenced against them - and compares it with its benchmark (:mod:`svtools.analysis.indicators`):

* ``series`` / ``age_year``: the definition's area x period and area x year x victim-age families
  (:func:`svtools.publish.tables.series_cube`, :func:`~svtools.publish.tables.age_year_cube`): the CSP's cell in
  the latest complete financial year;
* ``codes``: a family of its own for a list of offence codes (robbery, possession of weapons), protected by the
  same rules as a definition's area x period family;
* ``hospital``: HES admissions as received, suppressed at source (1 to 7): a total holding a suppressed cell has
  no value;
* ``domestic``: the domestic-abuse split of the profile's "Where it happens" section (the same protected cube,
  over the page's whole period);
* ``counts``: a measure of a count table (:func:`svtools.publish.count_tables.family_for`);
* ``withheld``: listed with the reason, never 0.

**Disclosure.** A CSP whose count the gate hides has no value (``status`` "hidden"); the benchmark over all
CSPs is the sum of the *published* counts over their residents; P25, P75, worst and best are computed from
published values only, so none of them can equal a hidden area's value. Residents (ONS mid-year estimates) are
public, so a published rate gives back only a published count.

The table is computed once per process for a dataset, definition and period (cached) and reused by every CSP
page; :func:`red_red_indicators` and :func:`alert_table` read it.
"""

from __future__ import annotations

import functools
import types
import warnings

import numpy as np
import pandas as pd

from svtools.analysis.indicators import compare_table, load_indicators, trend_verdict
from svtools.errors import SvtoolsError
from svtools.publish import disclosure, tables

__all__ = ["indicator_table", "indicator_sources", "red_red_indicators", "alert_table", "severity_order",
           "codes_family", "SEVERITY_RULE",
           "STATUS_WORDS"]

#: What a row's ``status`` means, in words for the page.
STATUS_WORDS = {
    "published": "",
    "hidden": "too few to show",
    "not recorded": "not recorded in these data",
    "withheld": "not published in this version",
    "not available": "no data",
}

#: The alert page's ordering rule, in words (the page states it).
SEVERITY_RULE = ("CSPs are listed by severity: first by the number of red-red indicators (most first), then "
                 "those with special-cause concern in the latest quarter before those with improvement only, "
                 "then by the number of concern points in the latest quarter (most first), then by name.")

_SOURCES: dict = {}


@functools.lru_cache(maxsize=16)
def _time_dim(start: str, end: str):
    """:func:`svtools.publish.tables._time_dim`, once per period (its quarter labels are slow to build)."""
    return tables._time_dim(start, end)


def _month_start(v) -> pd.Timestamp:
    return pd.Timestamp(v).to_period("M").to_timestamp()


def _period(dataset: str, period_end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first month, last month) as the pages' contexts take them: the data's start to ``period_end`` (cut to the
    data)."""
    from svtools.ingest.store import dataset_info

    info = dataset_info(dataset)
    start, data_end = _month_start(info["period_start"]), _month_start(info["period_end"])
    end = data_end if not period_end else min(_month_start(period_end), data_end)
    return start, end


def indicator_table(dataset: str, definition: str = "knife_serious_violence", period_end=None) -> pd.DataFrame:
    """Every CSP x indicator of ``dataset`` for the page definition ``definition`` and period, compared.

    Parameters
    ----------
    dataset : str
        A record-level dataset (``demo``) or a count table (``london_mps``).
    definition : str
        The page definition (for a count table a definition of offence codes is replaced by the dataset's own,
        as :class:`~svtools.publish.sections.counts.CountsContext` does).
    period_end : str, optional
        Last month of the period (default: the data's end).

    Returns
    -------
    DataFrame
        One row per CSP x indicator: ``indicator, label, unit, kind, per, polarity, benchmark, area_code,
        area_name, pfa_code, period, numerator, denominator, status, value, lower_95_ci, upper_95_ci,
        benchmark_value, significance, verdict, p25, p75, worst, best, n_published, trend_rate_ratio,
        trend_lower_95_ci, trend_upper_95_ci, trend_period, trend, note``. ``numerator`` is NaN unless the count
        is published; ``value`` and its interval are NaN unless ``status`` is "published". Rates are per ``per``
        residents a year (person-years of the financial year, each month at its own mid-year estimate); shares
        are percentages. ``trend`` is the annual rate ratio's verdict (:func:`svtools.analysis.indicators.
        trend_verdict`): "getting worse" only when its 95% interval excludes 1 in the adverse direction. The
        trend model's window is the latest ``trend_years`` of the published monthly series, none of it before
        ``trend_start_not_before`` (config/indicators.yaml ``settings``), at least ``trend_min_months`` long.
    """
    from svtools.publish.tables import _digest

    start, end = _period(dataset, period_end)
    key = (dataset, str(definition), str(start.date()), str(end.date()), _digest(dataset))
    return _table(*key).copy()


def indicator_sources(dataset: str, definition: str = "knife_serious_violence", period_end=None) -> list:
    """The :class:`~svtools.publish.disclosure.PublishedTable` objects the table's counts were read from (what a
    chart drawn from it is derived from)."""
    from svtools.publish.tables import _digest

    start, end = _period(dataset, period_end)
    key = (dataset, str(definition), str(start.date()), str(end.date()), _digest(dataset))
    _table(*key)
    return list(_SOURCES.get(key, []))


@functools.lru_cache(maxsize=8)
def _table(dataset: str, definition: str, start: str, end: str, digest: str) -> pd.DataFrame:
    from svtools.ingest.store import dataset_info, load_table

    info = dataset_info(dataset)
    counts_schema = str(info.get("schema")) == "counts"
    areas = load_table("areas", dataset).sort_values(["pfa_code", "csp_code"])
    population = load_table("population", dataset)
    inds = load_indicators(dataset)
    if not inds:
        raise SvtoolsError(f"config/indicators.yaml lists no indicator for dataset '{dataset}'")
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    tdim, levels = _time_dim(start, end)
    years = levels["financial_year"]
    if not years:
        raise SvtoolsError(f"the period {s:%B %Y} to {e:%B %Y} holds no complete financial year")
    fy = years[-1]
    fy_months = [pd.Timestamp(m + "-01") for m in tdim.nodes[fy]]
    py_all = tables_person_years(population, fy_months)
    py_u25 = tables_person_years(population, fy_months, max_age=24)
    py_period = tables_person_years(population, list(pd.date_range(s, e, freq="MS")))
    cfg = inds[0]["settings"]
    trend_months = int(cfg.get("trend_years", 3)) * 12
    ctx = _Reader(dataset, definition, s, e, fy, areas, population, counts_schema, trend_months)
    ctx.not_before = pd.Timestamp(cfg["trend_start_not_before"]) if cfg.get("trend_start_not_before") else None
    ctx.min_months = int(cfg.get("trend_min_months", trend_months))
    rows: list[dict] = []
    sources: list = []
    page_def = ctx.page_definition
    for ind in inds:
        if ind.get("definition") == "page" and ind["reader"] in ("series", "age_year") and any(
                o is not ind and o.get("definition") == page_def.name and o["reader"] == ind["reader"]
                for o in inds):
            continue  # the page's definition is already an indicator of its own (e.g. success measure 2)
        got = ctx.read(ind, py_all, py_u25, py_period)
        sources.extend(got.pop("__tables__", []))
        rows.extend(got["rows"])
    frame = pd.DataFrame(rows)
    out = compare_table(frame, inds)
    _SOURCES[(dataset, definition, start, end, digest)] = sources
    cols = ["indicator", "label", "unit", "kind", "per", "polarity", "benchmark", "area_code", "area_name",
            "pfa_code", "period", "numerator", "denominator", "status", "value", "lower_95_ci", "upper_95_ci",
            "benchmark_value", "significance", "verdict", "p25", "p75", "worst", "best", "n_published",
            "trend_rate_ratio", "trend_lower_95_ci", "trend_upper_95_ci", "trend_period", "trend", "note"]
    out["trend"] = [trend_verdict(r, lo, hi, p) for r, lo, hi, p in
                    zip(out["trend_rate_ratio"], out["trend_lower_95_ci"], out["trend_upper_95_ci"], out["polarity"])]
    return out[cols].reset_index(drop=True)


def tables_person_years(population: pd.DataFrame, months, max_age: int | None = None) -> pd.Series:
    """Person-years of every CSP over ``months`` (:func:`svtools.analysis.population.person_years_by_csp`)."""
    from svtools.analysis.population import person_years_by_csp

    return person_years_by_csp(population, months, 0, max_age)


# =========================================================================== reading each kind of indicator
class _Reader:
    def __init__(self, dataset, definition, start, end, fy, areas, population, counts_schema, trend_months):
        from svtools.ingest.definitions import load_definition

        self.dataset, self.start, self.end, self.fy = dataset, start, end, fy
        self.areas, self.population, self.counts_schema = areas, population, counts_schema
        self.trend_months = trend_months
        self.forces = list(dict.fromkeys(areas["pfa_code"].astype(str)))
        if counts_schema:
            from svtools.publish import count_tables

            self.page_definition = count_tables.page_definitions(definition, dataset)[0]
        else:
            self.page_definition = load_definition(definition)
        self.names = dict(zip(areas["csp_code"].astype(str), areas["csp_name"].astype(str)))
        self.force_of = dict(zip(areas["csp_code"].astype(str), areas["pfa_code"].astype(str)))

    # ------------------------------------------------------------------ helpers
    def _withheld(self, ind: dict, force: str, exc: Exception, period: str | None = None) -> list[dict]:
        """Rows for a force whose family the gate cannot protect: every CSP's value withheld, never a failed page
        for every other force's CSPs (the force's own pages report the same family themselves)."""
        note = "withheld: the counts of this force cannot be protected against differencing"
        return [self._row(ind, c, period or self.fy, None, np.nan, "hidden", note) for c in self._csps(force)]

    def _csps(self, force: str) -> list[str]:
        return self.areas.loc[self.areas["pfa_code"].astype(str) == force, "csp_code"].astype(str).tolist()

    def _row(self, ind: dict, code: str, period: str, num, den, status: str, note: str = "",
             bnum=np.nan, bden=np.nan, trend=(np.nan, np.nan, np.nan, "")) -> dict:
        return {"indicator": ind["id"], "label": self._label(ind), "unit": ind["unit"], "kind": ind["kind"],
                "per": ind.get("per"), "benchmark": ind["benchmark"], "area_code": code,
                "area_name": self.names.get(code, code), "pfa_code": self.force_of.get(code, ""), "period": period,
                "numerator": np.nan if num is None or status != "published" else float(num),
                "denominator": float(den) if den is not None and not pd.isna(den) else np.nan, "status": status,
                "benchmark_numerator": bnum, "benchmark_denominator": bden, "trend_rate_ratio": trend[0],
                "trend_lower_95_ci": trend[1], "trend_upper_95_ci": trend[2], "trend_period": trend[3],
                "note": note}

    def _label(self, ind: dict) -> str:
        if ind.get("definition") == "page" and ind["reader"] in ("series", "age_year"):
            base = f"{self.page_definition.short_title[:1].upper()}{self.page_definition.short_title[1:]}"
            return base + (", victims under 25" if ind["reader"] == "age_year" else " (the page's definition)")
        return ind["label"]

    def _definition(self, ind: dict) -> str:
        d = ind.get("definition")
        return self.page_definition.name if d == "page" else str(d)

    def _recorded(self, field: str | None) -> bool:
        if not field:
            return True
        if self.counts_schema:
            return False  # a count table records no record fields (knife flag, ages, ids)
        from svtools.analysis.fields import field_columns
        from svtools.publish.sections.coverage import coverage

        cov = coverage(self.dataset)
        return any(bool((cov.get(c) or {}).get("recorded")) for c in field_columns(field))

    def _bench(self, ind, force_value, force_den):
        if ind["benchmark"] == "force" and force_value is not None:
            return float(force_value), float(force_den)
        return np.nan, np.nan

    def _trend(self, series: pd.Series | None, code: str, ind: dict):
        """(rate ratio, lower, upper, period words) of the trend model over the latest months of the published
        monthly series (NaN when the series is not published by month or the model cannot be fitted)."""
        none = (np.nan, np.nan, np.nan, "")
        if not ind.get("trend") or series is None or series.isna().any():
            return none
        y = pd.Series(series.astype("int64").to_numpy(),
                      index=pd.DatetimeIndex([pd.Timestamp(str(x) + "-01") for x in series.index], name="month"))
        y = y[y.index <= self.end].tail(self.trend_months)
        not_before = getattr(self, "not_before", None)
        if not_before is not None:
            y = y[y.index >= not_before]
        if len(y) < int(getattr(self, "min_months", self.trend_months)) or y.sum() == 0:
            return none
        from svtools.analysis.population import monthly_residents
        from svtools.analysis.trends import fit_trend_model

        try:
            pop = monthly_residents(self.population, y.index, [code]).reindex(y.index)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = fit_trend_model(y, population=pop, covid=None, n_sim=200)
        except Exception:  # noqa: BLE001 - a model that cannot be fitted gives no trend, said so on the page
            return none
        lo, hi = m.annual_rate_ratio_ci
        words = f"{y.index[0]:%B %Y} to {y.index[-1]:%B %Y}"
        return float(m.annual_rate_ratio), float(lo), float(hi), words

    # ------------------------------------------------------------------ dispatch
    def read(self, ind, py_all, py_u25, py_period) -> dict:
        reader = ind["reader"]
        if reader == "withheld" or not self._recorded(ind.get("field")):
            status = "withheld" if reader == "withheld" and self._recorded(ind.get("field")) else "not recorded"
            note = ind.get("reason", "") if status == "withheld" else (
                f"the data do not record the {str(ind.get('field')).replace('_', ' ')}")
            return {"rows": [self._row(ind, c, self.fy, None, np.nan, status, note) for c in self.names]}
        return getattr(self, f"_read_{reader}")(ind, py_all, py_u25, py_period)

    def _read_series(self, ind, py_all, py_u25, py_period, fam_of=None):
        rows, tabs = [], []
        name = self._definition(ind)
        for force in self.forces:
            try:
                fam = fam_of(force) if fam_of else tables.series_cube(self.dataset, force, name, self.start, self.end)
            except disclosure.DisclosureError as exc:
                rows += self._withheld(ind, force, exc)
                continue
            codes = self._csps(force)
            tabs.append(fam.cube.table("area_code", None, fixed={"period": self.fy}, row_nodes=codes + [force],
                                       name=f"indicator_{ind['id']}_{force}"))
            fv = fam.value(force, self.fy)
            fden = float(py_all.reindex(codes).sum())
            for c in codes:
                v = fam.value(c, self.fy)
                trend = self._trend(fam.series(c) if fam.resolution.get(c) == "month" else None, c, ind)
                rows.append(self._row(ind, c, self.fy, v, py_all.get(c, np.nan), "published" if v is not None
                                      else "hidden", "", *self._bench(ind, fv, fden), trend=trend))
        return {"rows": rows, "__tables__": tabs}

    def _read_codes(self, ind, py_all, py_u25, py_period):
        codes = tuple(str(c) for c in ind["codes"])
        return self._read_series(ind, py_all, py_u25, py_period,
                                 fam_of=lambda f: codes_family(self.dataset, f, ind["id"], codes, self.start,
                                                               self.end))

    def _read_age_year(self, ind, py_all, py_u25, py_period):
        rows, tabs = [], []
        name = self._definition(ind)
        for force in self.forces:
            try:
                cube = tables.age_year_cube(self.dataset, force, name, self.start, self.end)
            except disclosure.DisclosureError as exc:
                rows += self._withheld(ind, force, exc)
                continue
            codes = self._csps(force)
            if cube is None:
                rows += [self._row(ind, c, self.fy, None, np.nan, "not recorded", "the data do not record victim ages")
                         for c in codes]
                continue
            node = tables.AGE_GROUPS[0]
            tabs.append(cube.table("area_code", None, fixed={"financial_year": self.fy, "age_group": node},
                                   row_nodes=codes + [force], name=f"indicator_{ind['id']}_{force}"))
            fv = cube.value((force, self.fy, node))
            fden = float(py_u25.reindex(codes).sum())
            for c in codes:
                v = cube.value((c, self.fy, node))
                unk = cube.value((c, self.fy, tables.AGE_GROUPS[2]))
                note = "" if unk in (0,) else "victims with a recorded age only: a minimum where ages are missing"
                rows.append(self._row(ind, c, self.fy, v, py_u25.get(c, np.nan),
                                      "published" if v is not None else "hidden", note, *self._bench(ind, fv, fden)))
        return {"rows": rows, "__tables__": tabs}

    def _read_hospital(self, ind, py_all, py_u25, py_period):
        from svtools.analysis.measures import hospital_year_totals
        from svtools.ingest.store import load_table

        try:
            h = load_table("hospital_admissions", self.dataset)
        except SvtoolsError:
            h = None
        if h is None or not len(h):
            return {"rows": [self._row(ind, c, self.fy, None, np.nan, "not available",
                                       "no hospital admissions table in these data") for c in self.names]}
        try:  # every CSP in one grouped pass (the values of the per-CSP loop below, tests/test_indicators.py)
            totals = hospital_year_totals(h, self.fy, list(self.names))
        except (SvtoolsError, TypeError, ValueError):
            return self._read_hospital_each(ind, py_all, h)  # fails as it always did, on the first CSP that fails
        rows = []
        for c in self.names:
            if c not in totals.index:
                rows.append(self._row(ind, c, self.fy, None, np.nan, "not available", f"no admissions table for {self.fy}"))
                continue
            a = totals.at[c, "admissions"]
            v = None if pd.isna(a) else int(a)
            rows.append(self._row(ind, c, self.fy, v, py_all.get(c, np.nan), "published" if v is not None else "hidden",
                                  "" if v is not None else "suppressed at source (HES: 1 to 7)"))
        return {"rows": rows}

    def _read_hospital_each(self, ind, py_all, h):
        """:meth:`_read_hospital` one CSP at a time (:func:`~svtools.analysis.measures.hospital_measures` each)."""
        from svtools.analysis.measures import hospital_measures

        rows = []
        for c in self.names:
            sub = h[h["csp_code"].astype(str) == c]
            if sub.empty or self.fy not in set(sub["financial_year"].astype(str)):
                rows.append(self._row(ind, c, self.fy, None, np.nan, "not available", f"no admissions table for {self.fy}"))
                continue
            hm = hospital_measures(sub, csp_codes=[c], financial_years=[self.fy])
            r = hm[(hm["financial_year"].astype(str) == self.fy) & (hm["cohort"].astype(str) == "all ages")]
            v = None if r.empty or pd.isna(r["admissions"].iloc[0]) else int(r["admissions"].iloc[0])
            rows.append(self._row(ind, c, self.fy, v, py_all.get(c, np.nan), "published" if v is not None else "hidden",
                                  "" if v is not None else "suppressed at source (HES: 1 to 7)"))
        return {"rows": rows}

    def _read_domestic(self, ind, py_all, py_u25, py_period):
        from svtools.analysis.place import DOMESTIC
        from svtools.publish.sections.place_context import DOMESTIC_SPLIT

        rows, tabs = [], []
        period = f"{self.start:%B %Y} to {self.end:%B %Y}"
        rec = DOMESTIC_SPLIT.groups[0][0]  # the "flag recorded" node: domestic abuse + not domestic abuse
        for force in self.forces:
            ctx = types.SimpleNamespace(dataset=self.dataset, force_code=force, definition=self.page_definition,
                                        period_start=self.start, period_end=self.end, victim_ages=None)
            try:
                cube = tables.breakdown_cube(ctx, DOMESTIC_SPLIT)
            except disclosure.DisclosureError as exc:
                rows += self._withheld(ind, force, exc, period)
                continue
            for c in self._csps(force):
                try:
                    da, known = cube.value((c, DOMESTIC)), cube.value((c, rec))
                    tabs.append(cube.table("category", None, fixed={"area_code": c}, row_nodes=[DOMESTIC, rec],
                                           name=f"indicator_{ind['id']}_{c}"))
                except disclosure.DisclosureError:  # the CSP's breakdown is withheld as too small
                    da = known = None
                ok = da is not None and known is not None
                rows.append(self._row(ind, c, period, da, known if ok else np.nan, "published" if ok else "hidden",
                                      "" if ok else "too few offences to break down"))
        return {"rows": rows, "__tables__": tabs}

    def _read_counts(self, ind, py_all, py_u25, py_period):
        from svtools.publish import count_tables

        rows, tabs = [], []
        name = str(ind["definition"])
        for force in self.forces:
            try:
                fam = count_tables.family_for(self.dataset, force, self.page_definition.name, name, self.start,
                                              self.end)
            except disclosure.DisclosureError as exc:
                rows += self._withheld(ind, force, exc)
                continue
            codes = self._csps(force)
            tabs.append(fam.areas_table(codes, name, self.fy, name=f"indicator_{ind['id']}_{force}"))
            try:
                fv = fam.value(force, name, self.fy)
            except (SvtoolsError, disclosure.DisclosureError):
                fv = None
            fden = float(py_all.reindex(codes).sum())
            for c in codes:
                v = fam.value(c, name, self.fy)
                series = fam.series(c, name, "month") if fam.resolution(c, name) == "month" else None
                trend = self._trend(series, c, ind)
                rows.append(self._row(ind, c, self.fy, v, py_all.get(c, np.nan),
                                      "published" if v is not None else "hidden", "", *self._bench(ind, fv, fden),
                                      trend=trend))
        return {"rows": rows, "__tables__": tabs}


# =========================================================================== a family for a list of offence codes
def codes_family(dataset: str, force: str, name: str, codes, start, end) -> tables.SeriesFamily:
    """The protected area x period family of the offences with ``codes`` for a force (cached per process).

    The same rules as :func:`svtools.publish.tables.series_cube`: every CSP, the force, every financial year,
    the whole period and the latest 12 months are registered, and each area's series at the finest
    resolution (month, quarter, financial year) none of whose points is a count from 1 to the threshold.
    """
    s, e = str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    return _codes_family(dataset, force, name, tuple(codes), s, e, tables._digest(dataset))


@functools.lru_cache(maxsize=64)
def _codes_family(dataset, force, name, codes, start, end, digest) -> tables.SeriesFamily:
    from svtools.ingest.store import csp_codes

    t = disclosure.threshold("police")
    areas = tables._areas(dataset, digest)
    adim = tables._area_dim(areas, csp_codes(dataset, force), with_all=False)
    tdim, levels = _time_dim(start, end)
    m = _codes_rows(dataset, codes, start, end, digest)
    m = m[m["csp_code"].astype(str).isin(adim.base)]
    g = m.groupby(["csp_code", "month"], observed=True)["offences"].sum().reset_index()
    counts = pd.DataFrame({"area_code": g["csp_code"].astype(str), "period": g["month"].map(tables.month_label),
                           "count": g["offences"].astype("int64")})
    cube = disclosure.Cube(f"offences_by_period_{name}", [adim, tdim], counts)
    flat = cube.truth
    aidx = {a: i for i, a in enumerate(adim.base)}
    tidx = {p: i for i, p in enumerate(tdim.base)}

    def value(area_nodes, period_nodes):
        return int(flat[np.ix_([aidx[x] for x in area_nodes], [tidx[x] for x in period_nodes])].sum())

    resolution: dict = {}
    for a in adim.base:
        resolution[a] = next((r for r in tables.RESOLUTIONS if levels[r] and tables.series_resolution(
            [value([a], tdim.members(p)) for p in levels[r]], t)), None)
    order = {r: i for i, r in enumerate(tables.RESOLUTIONS)}
    for f, members in adim.nodes.items():
        rs = [resolution[c] for c in members]
        if any(r is None for r in rs):
            resolution[f] = None
            continue
        worst = max(rs, key=lambda r: order[r])
        resolution[f] = next((r for r in tables.RESOLUTIONS[order[worst]:] if tables.series_resolution(
            [value(members, tdim.members(p)) for p in levels[r]], t)), None)
    periods = list(levels["financial_year"]) + [tables.TOTAL] + (
        [tables.LATEST_12] if tables.LATEST_12 in tdim.nodes else [])
    area_nodes = list(adim.base) + list(adim.nodes)
    cube.publish((a, p) for a in area_nodes for p in periods)
    for a, r in resolution.items():
        if r is not None:
            cube.publish((a, p) for p in levels[r])
    return tables.SeriesFamily(cube.protect(), levels, resolution, name)


#: Code lists whose rows :func:`_codes_rows` keeps (an indicator table reads each list once for every force).
CODES_ROWS_CACHE_SIZE = 4


@functools.lru_cache(maxsize=CODES_ROWS_CACHE_SIZE)
def _codes_rows(dataset: str, codes: tuple, start: str, end: str, digest: str) -> pd.DataFrame:
    """``csp_code, month, offences`` of the ``monthly_counts`` rows of the period whose offence code is one of
    ``codes``, read with a parquet filter (:func:`~svtools.ingest.store.table_where`): only those rows and
    columns, never the whole national table (660k rows, ~72 MB). The same rows, in the same order, as the whole
    table selected by period and ``ho_offence_code.astype(str).isin(codes)``. Read it, never change it."""
    from svtools.ingest.store import table_where

    return table_where("monthly_counts", dataset,
                       [("month", ">=", pd.Timestamp(start)), ("month", "<=", pd.Timestamp(end)),
                        ("ho_offence_code", "in", [c for c in codes if isinstance(c, str)])],
                       columns=["csp_code", "month", "offences"])


# =========================================================================== red-red and alerts
def red_red_indicators(table: pd.DataFrame, area_code: str | None = None) -> pd.DataFrame:
    """The rows of an :func:`indicator_table` that are significantly worse than their benchmark (the 95%
    interval excludes it in the adverse direction) **and** getting worse by the trend model (the annual rate
    ratio's 95% interval excludes 1 in the adverse direction); of one CSP when ``area_code`` is given."""
    t = table if area_code is None else table[table["area_code"] == area_code]
    return t[(t["verdict"] == "worse") & (t["trend"] == "getting worse")].reset_index(drop=True)


def _point_end(start: pd.Timestamp, resolution: str) -> pd.Timestamp:
    months = {"month": 0, "quarter": 2, "financial_year": 11}[resolution]
    return start + pd.DateOffset(months=months)


def _latest_quarter_signals(plan, end: pd.Timestamp) -> dict:
    """Special-cause points of an SPC plan whose period ends in the latest quarter (the 3 months to ``end``)."""
    from svtools.publish.sections.context import _spc_frame

    out = {"charted": False, "concern": 0, "improvement": 0, "resolution": None, "rules": []}
    if plan is None or plan.kind != "xmr":
        return out
    f = _spc_frame(plan.values)
    starts = pd.DatetimeIndex(pd.to_datetime(f["date"]))
    ends = pd.DatetimeIndex([_point_end(d, plan.resolution) for d in starts])
    recent = f[ends >= end - pd.DateOffset(months=2)]
    out.update(charted=True, resolution=plan.resolution,
               concern=int((recent["special_cause"] == "concern").sum()),
               improvement=int((recent["special_cause"] == "improvement").sum()),
               rules=sorted(set(recent.loc[recent["special_cause"].isin(["concern", "improvement"]), "rule"])))
    return out


def alert_table(dataset: str, definition: str = "knife_serious_violence", period_end=None) -> pd.DataFrame:
    """Every CSP with special-cause change in the latest quarter or red-red status, sorted by severity.

    Special cause: the NHS Making Data Count rules on the CSP's published series of the page definition, with the
    same plan (resolution, minimum points and mean) as the force overview's special-cause table
    (:func:`svtools.publish.sections.monthly.spc_plan_for`; count tables
    :func:`svtools.publish.sections.counts._spc_plan`); a point counts when its month, quarter or year ends in
    the 3 months to the period's end. Red-red: :func:`red_red_indicators`. Order: :data:`SEVERITY_RULE`.

    Returns
    -------
    DataFrame
        ``area_code, area_name, pfa_code, red_red (int), red_red_indicators (labels joined by "; "),
        concern_points, improvement_points, spc_resolution, special_cause (words), severity_rank``.
    """
    from svtools.ingest.store import dataset_info

    start, end = _period(dataset, period_end)
    table = indicator_table(dataset, definition, period_end)
    rr = red_red_indicators(table)
    counts_schema = str(dataset_info(dataset).get("schema")) == "counts"
    rows = []
    areas = table[["area_code", "area_name", "pfa_code"]].drop_duplicates("area_code")
    for force, g in areas.groupby("pfa_code", sort=True):
        if counts_schema:
            from svtools.publish import count_tables
            from svtools.publish.sections.counts import _spc_plan

            page = count_tables.page_definitions(definition, dataset)[0].name
            fam = count_tables.family_for(dataset, force, page, page, start, end)
            plans = {c: _spc_plan(fam, c, page)[0] for c in g["area_code"]}
        else:
            from svtools.publish.sections.monthly import spc_plan_for

            fam = tables.series_cube(dataset, force, definition, start, end)
            plans = {c: spc_plan_for(fam, c) for c in g["area_code"]}
        for _, a in g.iterrows():
            sig = _latest_quarter_signals(plans[a["area_code"]], end)
            mine = rr[rr["area_code"] == a["area_code"]]
            kinds = [k for k in ("concern", "improvement") if sig[k]]
            rows.append({"area_code": a["area_code"], "area_name": a["area_name"], "pfa_code": force,
                         "red_red": len(mine), "red_red_indicators": "; ".join(mine["label"]),
                         "concern_points": sig["concern"], "improvement_points": sig["improvement"],
                         "spc_resolution": sig["resolution"] or "",
                         "special_cause": " and ".join(kinds) if kinds else (
                             "none" if sig["charted"] else "no SPC chart")})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    flagged = severity_order(out)
    flagged.attrs["all_areas"] = len(out)
    flagged.attrs["charted"] = int((out["special_cause"] != "no SPC chart").sum())
    return flagged


def severity_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The CSPs of ``frame`` with a red-red indicator or a special-cause point in the latest quarter, in the order
    of :data:`SEVERITY_RULE`, with ``severity_rank`` 1, 2, ... (``frame``: ``area_name, red_red, concern_points,
    improvement_points``)."""
    flagged = frame[(frame["red_red"] > 0) | (frame["concern_points"] > 0) | (frame["improvement_points"] > 0)].copy()
    flagged["_concern"] = (flagged["concern_points"] > 0).astype(int)
    flagged = flagged.sort_values(["red_red", "_concern", "concern_points", "area_name"],
                                  ascending=[False, False, False, True], kind="stable").drop(columns="_concern")
    flagged["severity_rank"] = range(1, len(flagged) + 1)
    return flagged.reset_index(drop=True)
