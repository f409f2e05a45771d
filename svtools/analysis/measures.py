"""Home Office Serious Violence Duty success measures, by financial year against the 2019/20 baseline.

The Home Office asks each partnership to report three measures yearly (financial years, April to March), each
for all ages and for victims aged under 25, as counts and change against 2019/20:

1. hospital admissions for assault with a knife or sharp object (:func:`hospital_measures`),
2. police-recorded knife or sharp-object enabled serious violence, and
3. homicides (both :func:`success_measures` with the matching definition).

:func:`success_measures` returns the long table (one row per financial year and cohort, with rates per 1,000
residents and 95% confidence intervals); :func:`success_table` turns it into the wide layout partners expect
(Leicester, Leicestershire and Rutland VRN 2024, ``../shared/seeds/001_*``): baseline, latest year, change and
% change, for all ages and under 25, followed by the rate ratio against the baseline with its exact 95% interval
and the words for it (:func:`svtools.analysis.stats.rate_ratio`, :func:`svtools.analysis.stats.interval_words`):
a change whose interval includes 1 is "no clear change", whatever its % change.

Counts are of police records as held in the processed data (one row per offence and victim; see
``docs/data_model.md``). Denominators are ONS mid-year population estimates summed from LSOAs
(``population.parquet``); see :func:`resident_population` for which mid-year is used for which financial year.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from svtools.config import disclosure_threshold, settings
from svtools.ingest.definitions import Definition, definition_mask
from svtools.errors import DataValidationError
from svtools.ingest import financial_year

__all__ = [
    "COHORTS",
    "financial_year",
    "hospital_measures",
    "resident_population",
    "success_measures",
    "success_table",
]

#: Cohort labels used in every success-measure table.
COHORTS = ("all ages", "under 25")


def resident_population(population: pd.DataFrame, financial_years: Iterable[str],
                        csp_codes: Sequence[str] | None = None, min_age: int = 0,
                        max_age: int | None = None) -> pd.Series:
    """Residents of one or more CSPs in an age range, for each financial year's rate denominator.

    Parameters
    ----------
    population : DataFrame
        ``csp_code, year, age, population`` (``population.parquet``: ONS mid-year estimates by single year of
        age, 90 = 90 and over; optionally ``sex`` and ``census_base``).
    financial_years : iterable of str
        Labels such as ``"2019/20"``.
    csp_codes : sequence of str, optional
        CSPs whose residents are summed (one CSP, or all CSPs of a force). Default: every CSP in
        ``population``.
    min_age, max_age : int
        Inclusive age range in years (``max_age=None``: no upper limit).

    Returns
    -------
    Series
        Persons, indexed by financial year, named ``population``. ``attrs["mid_year"]`` and ``attrs["exact"]``
        map each financial year to the mid-year estimate used and whether it is the year's own.

    Notes
    -----
    The one rule of :mod:`svtools.analysis.population` (:func:`~svtools.analysis.population.residents_series`):
    financial year ``YYYY/YY`` uses the mid-``YYYY`` estimate when it is in the table, otherwise the **nearest**
    mid-year (ties: the earlier), flagged ``exact`` False. With every shipped mid-year (2011, 2014-2024) that is
    2011 for 2012/13 and earlier, 2014 for 2013/14 and 2024 for 2025/26 and later; with a dataset ingested
    before issue 9 (mid-2019 and mid-2020 only) mid-2019 for 2019/20 and earlier and mid-2020 for later years.
    """
    from svtools.analysis.population import residents_series

    _require(population, ["csp_code", "year", "age", "population"], "population")
    return residents_series(_unique_index(population), [str(y) for y in financial_years],
                            None if csp_codes is None else [str(c) for c in csp_codes], min_age, max_age)


def success_measures(records: pd.DataFrame, population: pd.DataFrame, definition: Definition | str | None,
                     baseline: str | None = None, financial_years: Sequence[str] | None = None,
                     per: float | None = None, confidence: float | None = None,
                     csp_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts and rates of a definition by financial year, all ages and under 25, with change from baseline.

    Parameters
    ----------
    records : DataFrame
        Processed records (one CSP's slice, or several CSPs for a force) or the ``monthly_counts`` table (then
        its ``offences`` column is summed). Needs ``financial_year`` (or ``recorded_date``/``month``), the
        columns the definition uses, and ``victim_age`` or ``victim_under_25`` for the under-25 cohort.
    population : DataFrame
        ``csp_code, year, age, population`` (``population.parquet``).
    definition : Definition, str or None
        Local definition (name or object) applied to ``records``; ``None`` counts every row.
    baseline : str, optional
        Baseline financial year; default ``periods.baseline_financial_year`` in ``config/settings.yaml``
        (``"2019/20"``).
    financial_years : sequence of str, optional
        Years to report (default: every financial year in ``records``, before the definition is applied, plus
        the baseline). Years with no offences are reported as 0.
    per : float, optional
        Rate multiplier (default ``rates.per_residents`` = 1,000 residents).
    confidence : float, optional
        Confidence level of the rate intervals (default ``rates.confidence`` = 0.95).
    csp_codes : sequence of str, optional
        CSPs whose residents form the denominator. Default: the CSPs present in ``records`` (before the
        definition is applied); pass them explicitly when an area might have no records at all.

    Returns
    -------
    DataFrame
        One row per financial year and cohort (``all ages``, ``under 25``): ``financial_year, cohort,
        offences, age_known, population, mid_year, exact, rate_per_1000, lower, upper, method,
        baseline_offences, change, pct_change``. ``population`` is the year's residents of the cohort's ages
        (all ages, or 0-24), ``mid_year`` the ONS mid-year estimate it comes from and ``exact`` False when the
        year has no estimate of its own and the nearest was used (:func:`resident_population`;
        ``attrs["population_note"]`` says it in words, :func:`svtools.analysis.population.year_note`). ``offences``, ``baseline_offences`` and ``change`` are Int64: the under-25 count is NA
        (unknown, never 0) in a year with offences none of which has a known victim age. ``age_known`` is
        the year's offences whose victim's under-25 status is known (the base of an under-25 share).
        ``rate_per_1000`` is per 1,000 residents per year (the column is named after ``per``; NaN when the
        count is unknown); the under-25 rate uses residents aged 0-24. ``change`` = offences − baseline
        offences; ``pct_change`` = 100 × change / baseline offences (NaN when the baseline is 0 or either
        count unknown). ``rate_ratio``, ``rr_lower``, ``rr_upper``, ``rr_p_value`` and ``comparison``: the
        year's rate over the baseline year's rate (residents as person-time), its exact conditional 95%
        interval and central p-value (:func:`svtools.analysis.stats.rate_ratio`, as R ``poisson.test``) and
        "higher", "lower" or "no clear change" from the interval (``None`` when either count is unknown or
        both are 0, and in the baseline year itself).

    Notes
    -----
    The under-25 cohort is offences whose victim was aged 24 or under (``age_bands.under_25_max_age``): the
    exact ``victim_age`` where recorded, else ``victim_under_25`` or an age band (``victim_age_min`` /
    ``victim_age_max``) lying wholly under 25. Offences with no victim or an unknown victim age (or a band that
    straddles 24/25) count in "all ages" only, and the under-25 count is then of victims with a known age: a
    lower bound when ``age_known`` is below the all-ages count. Rate intervals: exact Poisson
    (chi-square) limits below 10 events, Byar's approximation from 10 (``svtools.analysis.stats.rate``, as ``phe_rate``
    in PHEindicatormethods). Denominators: each financial year's own mid-year estimate, else the nearest
    (:func:`resident_population`). Rate ratio: each year's rate over the baseline year's, each with its own
    year's residents: conditional on the two years' total, the latest count is binomial with the split
    the populations give under no change; the Clopper-Pearson interval of that split is the interval of the
    ratio (Breslow and Day 1987, section 2.4).

    References
    ----------
    Home Office (2022). *Serious Violence Duty: Preventing and reducing serious violence. Statutory guidance
    for responsible authorities, England and Wales*, success measures. London: Home Office.

    Breslow, N. E. and Day, N. E. (1987). *Statistical Methods in Cancer Research, Volume II: The Design and
    Analysis of Cohort Studies*. IARC Scientific Publications No. 82. Lyon: IARC.

    UK Health Security Agency (2024). *PHEindicatormethods: Common Public Health Statistics and their
    Confidence Intervals*, R package version 2.1.0 (``phe_rate``).
    """
    cfg = settings()
    baseline = baseline or cfg["periods"]["baseline_financial_year"]
    per = float(per if per is not None else cfg["rates"]["per_residents"])
    confidence = float(confidence if confidence is not None else cfg["rates"]["confidence"])
    u25_max = int(cfg["age_bands"]["under_25_max_age"])
    if not len(records.columns):
        raise DataValidationError("records has no columns")
    records = _unique_index(records)
    fy = _financial_years_of(records)
    if financial_years is None:
        years = sorted(set(fy.dropna().astype(str)) | {baseline})
    else:
        years = [str(y) for y in financial_years]
        if baseline not in years:
            years = sorted(set(years) | {baseline})
    if csp_codes is None:
        if "csp_code" not in records.columns:
            raise DataValidationError("records need csp_code (or pass csp_codes)", column="csp_code")
        csp_codes = sorted(records["csp_code"].dropna().astype(str).unique())
        if not csp_codes:
            raise DataValidationError("records are empty: pass csp_codes to report zeros", column="csp_code")
    # positional masks throughout, so a frame with a repeated index (e.g. concatenated CSPs) is safe
    keep = (np.ones(len(records), dtype=bool) if definition is None
            else definition_mask(records, definition).to_numpy(dtype=bool))
    selected = records.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    fy_sel = fy.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    weight = _row_counts(selected)
    status = _under25_mask(selected, u25_max)
    u25 = (status == True).fillna(False).to_numpy(bool)  # noqa: E712 - True only; unknown is not under 25
    known = status.notna().to_numpy(bool)
    fy_str = fy_sel.astype(str)
    counts = {
        "all ages": weight.groupby(fy_str).sum(),
        "under 25": weight[u25].groupby(fy_str[u25]).sum(),
    }
    age_known = weight[known].groupby(fy_str[known]).sum()
    pops = {
        "all ages": resident_population(population, years, csp_codes),
        "under 25": resident_population(population, years, csp_codes, 0, u25_max),
    }
    rows = []
    for cohort in COHORTS:
        for year in years:
            n_all, n_known = int(counts["all ages"].get(year, 0)), int(age_known.get(year, 0))
            n = int(counts[cohort].get(year, 0))
            if cohort == "under 25" and n_all > 0 and n_known == 0:
                n = pd.NA  # offences, but no victim age known: the under-25 count is unknown, not 0
            rows.append({"financial_year": year, "cohort": cohort, "offences": n,
                         "age_known": n_known, "population": float(pops[cohort][year]),
                         "mid_year": int(pops[cohort].attrs["mid_year"][year]),
                         "exact": bool(pops[cohort].attrs["exact"][year])})
    out = pd.DataFrame(rows)
    out["offences"] = out["offences"].astype("Int64")
    out["age_known"] = out["age_known"].astype("int64")
    out["mid_year"] = out["mid_year"].astype("int64")
    out["exact"] = out["exact"].astype(bool)
    rate_col = _rate_column(per)
    rates = _rate(out["offences"], out["population"], confidence, per)
    out[rate_col] = rates["value"].to_numpy()
    out["lower"] = rates["lower"].to_numpy()
    out["upper"] = rates["upper"].to_numpy()
    out["method"] = rates["method"].to_numpy() if "method" in rates else ""
    base = out[out["financial_year"] == baseline].set_index("cohort")["offences"]
    out["baseline_offences"] = out["cohort"].map(base).astype("Int64")
    out["change"] = (out["offences"] - out["baseline_offences"]).astype("Int64")
    b = out["baseline_offences"].astype("Float64")
    pct = 100 * out["change"].astype("Float64") / b.where(b > 0)
    out["pct_change"] = pct.astype("float64")  # NaN when either year is unknown or the baseline is 0
    base_pop = out[out["financial_year"] == baseline].set_index("cohort")["population"]
    out = out.join(_ratio_columns(out["offences"], out["baseline_offences"], out["population"],
                                  out["cohort"].map(base_pop), confidence, out["financial_year"] == baseline))
    out["cohort"] = pd.Categorical(out["cohort"], categories=list(COHORTS))
    out = out.sort_values(["cohort", "financial_year"], ignore_index=True)
    out.attrs.update(baseline=baseline, per=per, confidence=confidence, csp_codes=list(csp_codes),
                     definition=_definition_name(definition), population_note=_population_note(population, years,
                                                                                               csp_codes))
    return out


def success_table(measures: pd.DataFrame, *args, latest: str | None = None, measure: str | None = None,
                  **kwargs) -> pd.DataFrame:
    """The partner-facing success-measure table: baseline, latest year, change and % change by cohort.

    Parameters
    ----------
    measures : DataFrame
        Output of :func:`success_measures` or :func:`hospital_measures`; or the ``records`` argument of
        :func:`success_measures`, in which case ``*args``/``**kwargs`` are passed on to it.
    latest : str, optional
        Comparison financial year (default: the latest in ``measures``).
    measure : str, optional
        Label for the ``measure`` column (default: the definition name, or "hospital admissions").

    Returns
    -------
    DataFrame
        One row per cohort: ``measure, cohort, <baseline>, <latest>, change, pct_change`` (counts;
        ``pct_change`` in percent, one decimal, halves rounded away from zero as in published tables), then
        ``rate_ratio, rr_lower, rr_upper, rr_p_value, comparison``: the latest rate over the baseline rate
        with its exact conditional 95% interval, central p-value and words ("higher", "lower", "no clear
        change"; :func:`svtools.analysis.stats.interval_words`). Rates use the ``population`` column when
        ``measures`` has one (police measures; hospital measures given ``population``): each year's own
        residents, so the ratio is of rates, else it is of the counts. With a ``population`` column, ``mid_year``
        names the estimate each year's rate divides by (``"2019/20: mid-2019; 2023/24: mid-2023"``, "(nearest)"
        after a year without its own) and ``exact`` is True when both years have their own. For hospital admissions, a total that includes a suppressed cell shows as the range the source
        allows (``12 to 18``) and its change and ratio are blank.

    Notes
    -----
    The words follow the interval, not the % change: 16 offences in 2019/20 and 23 in the latest year is
    +43.8% but a rate ratio of about 1.44 (95% CI 0.73 to 2.91), "no clear change".

    Examples
    --------
    The LLR VRN (2024) layout: knife-enabled serious violence, all ages, 864 in 2019/20 and 810 in 2023/24:
    change −54, % change −6.3, rate ratio 0.94 (0.85 to 1.03 with equal populations): no clear change.
    """
    if "cohort" not in measures.columns:
        measures = success_measures(measures, *args, **kwargs)
    elif args or kwargs:
        raise TypeError("extra arguments are only used when success_table is given records")
    baseline = measures.attrs.get("baseline") or settings()["periods"]["baseline_financial_year"]
    years = sorted(measures["financial_year"].astype(str).unique())
    latest = latest or years[-1]
    if latest not in years or baseline not in years:
        missing = latest if latest not in years else baseline
        raise DataValidationError(f"measures lack financial year {missing}",
                                  column="financial_year", examples=years)
    hospital = "admissions" in measures.columns
    label = measure or ("hospital admissions" if hospital else measures.attrs.get("definition") or "offences")
    count = "admissions" if hospital else "offences"
    confidence = float(measures.attrs.get("confidence") or settings()["rates"]["confidence"])
    rows = []
    for cohort, grp in measures.groupby("cohort", observed=True, sort=False):
        g = grp.set_index(grp["financial_year"].astype(str))
        b, x = g.loc[baseline], g.loc[latest]
        pops = ((x["population"], b["population"]) if "population" in g.columns else (1.0, 1.0))
        rr = _ratio_columns([x[count]], [b[count]], [pops[0]], [pops[1]], confidence).iloc[0].to_dict()
        if hospital:
            change, pct = x["change"], x["pct_change"]
            rows.append({"measure": label, "cohort": cohort, baseline: b["display"], latest: x["display"],
                         "change": "" if pd.isna(change) else f"{int(change):+d}",
                         "pct_change": "" if pd.isna(pct) else f"{_round_half_away(pct):+.1f}%", **rr})
        else:
            rows.append({"measure": label, "cohort": cohort, baseline: b["offences"],
                         latest: x["offences"], "change": x["change"],
                         "pct_change": _round_half_away(x["pct_change"]), **rr})
        if "mid_year" in g.columns:  # the estimates the two rates divide by
            rows[-1]["mid_year"] = "; ".join(
                f"{y}: mid-{int(r['mid_year'])}" + ("" if bool(r["exact"]) else " (nearest)")
                for y, r in ((baseline, b), (latest, x)))
            rows[-1]["exact"] = bool(b["exact"]) and bool(x["exact"])
    out = pd.DataFrame(rows)
    if not hospital:  # an unknown count (no victim age known) stays NA, never 0
        for c in (baseline, latest, "change"):
            out[c] = out[c].astype("Int64")
    return out


def hospital_measures(hospital_admissions: pd.DataFrame, csp_codes: Sequence[str] | None = None,
                      baseline: str | None = None, financial_years: Sequence[str] | None = None,
                      population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hospital admissions for assault by a sharp object by financial year, all ages and under 25.

    Parameters
    ----------
    hospital_admissions : DataFrame
        ``csp_code, financial_year, age_band, sex, admissions (Int64, NA when suppressed), suppressed (bool)``
        (``hospital_admissions.parquet``; HES, ICD-10 X99 "assault by sharp object").
    csp_codes : sequence of str, optional
        CSPs to sum (default: all in the table).
    baseline : str, optional
        Baseline financial year (default ``periods.baseline_financial_year``, 2019/20).
    financial_years : sequence of str, optional
        Years to report (default: all in the table).
    population : DataFrame, optional
        ``population.parquet``; when given, ``population`` (residents of ``csp_codes`` in each year, all ages
        or aged 0-24, as :func:`resident_population`), ``mid_year`` and ``exact`` columns are added and the rate
        ratio is of rates, else of counts.

    Returns
    -------
    DataFrame
        One row per financial year and cohort: ``financial_year, cohort, admissions`` (Int64: the total, or NA
        when any contributing cell is suppressed), ``suppressed`` (bool), ``suppressed_cells``,
        ``admissions_known`` (sum of the unsuppressed cells), ``lower_bound`` and ``upper_bound`` (the total
        lies between them: each suppressed cell holds 1 to ``disclosure.hes_threshold`` = 7 admissions),
        ``display`` (the number, or ``"lower_bound to upper_bound"`` when suppressed), ``baseline_admissions``, ``change``
        and ``pct_change`` (NA whenever either year is suppressed); ``rate_ratio``, ``rr_lower``,
        ``rr_upper``, ``rr_p_value`` and ``comparison`` against the baseline as in :func:`success_measures`
        (missing whenever either year is suppressed).

    Notes
    -----
    All ages sums every age band; under 25 sums the bands that end at or below age 24 (``0-17`` and ``18-24``,
    or 5-year bands up to ``20-24``). A band that straddles age 24 raises an error. Suppressed cells are never
    treated as 0 (HES analysis guide: counts 1-7 are suppressed); a total that includes one is reported as a
    lower bound, and change from baseline is not computed.

    References
    ----------
    NHS England (2024). *Hospital Episode Statistics (HES) Analysis Guide*, small-number suppression rules.

    World Health Organization (2019). *International Statistical Classification of Diseases and Related Health
    Problems, 10th Revision*, code X99 "Assault by sharp object".
    """
    need = ["csp_code", "financial_year", "age_band", "admissions", "suppressed"]
    _require(hospital_admissions, need, "hospital admissions")
    cfg = settings()
    baseline = baseline or cfg["periods"]["baseline_financial_year"]
    u25_max = int(cfg["age_bands"]["under_25_max_age"])
    hes_max = disclosure_threshold("hes")
    data = _unique_index(hospital_admissions)
    if csp_codes is not None:
        data = data[data["csp_code"].isin(list(csp_codes))]
    years = ([str(y) for y in financial_years] if financial_years is not None
             else sorted(set(data["financial_year"].astype(str))))
    if baseline not in years:
        years = sorted(set(years) | {baseline})
    upper = _age_band_upper(data["age_band"], u25_max)
    supp = (data["suppressed"].astype(bool) | data["admissions"].isna()).to_numpy(dtype=np.int64)
    known = data["admissions"].astype("Float64").fillna(0).astype("int64").to_numpy()
    u25 = (upper <= u25_max).to_numpy(dtype=bool)
    # each row's position among the reported years (-1: a year not reported), then one integer sum a cohort
    # and year (np.add.at: exact int64, as the grouped sums were)
    wanted = pd.Index(pd.unique(pd.Index(years, dtype=object)))
    pos = wanted.get_indexer(data["financial_year"].astype(str).to_numpy(dtype=object))
    at = wanted.get_indexer(pd.Index(years, dtype=object))
    cols = {"financial_year": [], "cohort": [], "cells": [], "admissions_known": [], "suppressed_cells": []}
    for cohort in COHORTS:
        take = (pos >= 0) if cohort == "all ages" else (pos >= 0) & u25
        p = pos[take]
        sums = np.zeros((3, len(wanted)), dtype=np.int64)
        np.add.at(sums[0], p, known[take])
        np.add.at(sums[1], p, supp[take])
        np.add.at(sums[2], p, 1)
        cols["financial_year"] += list(years)
        cols["cohort"] += [cohort] * len(years)
        cols["cells"] += sums[2][at].tolist()
        cols["admissions_known"] += sums[0][at].tolist()
        cols["suppressed_cells"] += sums[1][at].tolist()
    out = pd.DataFrame(cols)
    out["suppressed"] = out["suppressed_cells"] > 0
    out["admissions"] = pd.array(np.where(out["suppressed"], pd.NA, out["admissions_known"]), dtype="Int64")
    out["lower_bound"] = out["admissions_known"] + out["suppressed_cells"]
    out["upper_bound"] = out["admissions_known"] + hes_max * out["suppressed_cells"]
    # a total holding a cell suppressed at source: the range the source itself allows (each such cell is 1 to
    # the HES threshold), never a bare lower bound such as ">=1"
    out["display"] = np.where(out["suppressed"],
                              out["lower_bound"].map("{:,}".format) + " to " + out["upper_bound"].map("{:,}".format),
                              out["admissions_known"].astype(str))
    out.loc[out["cells"] == 0, "display"] = "no data"
    out.loc[out["cells"] == 0, "admissions"] = pd.NA
    base = out[out["financial_year"] == baseline].set_index("cohort")["admissions"]
    out["baseline_admissions"] = out["cohort"].map(base).astype("Int64")
    out["change"] = (out["admissions"] - out["baseline_admissions"]).astype("Int64")
    pct = 100 * out["change"].astype("Float64") / out["baseline_admissions"].astype("Float64").where(
        out["baseline_admissions"] > 0)
    out["pct_change"] = pct.astype("Float64")
    cols = ["financial_year", "cohort", "admissions", "suppressed", "suppressed_cells", "admissions_known",
            "lower_bound", "upper_bound", "display", "baseline_admissions", "change", "pct_change"]
    if population is not None:
        codes = list(csp_codes) if csp_codes is not None else sorted(data["csp_code"].astype(str).unique())
        pops = {"all ages": resident_population(population, years, codes),
                "under 25": resident_population(population, years, codes, 0, u25_max)}
        out["population"] = [float(pops[c][y]) for c, y in zip(out["cohort"], out["financial_year"])]
        out["mid_year"] = pd.array([int(pops[c].attrs["mid_year"][y]) for c, y in
                                    zip(out["cohort"], out["financial_year"])], dtype="int64")
        out["exact"] = [bool(pops[c].attrs["exact"][y]) for c, y in zip(out["cohort"], out["financial_year"])]
        cols += ["population", "mid_year", "exact"]
        t1 = out["population"]
        t2 = out["cohort"].map(out[out["financial_year"] == baseline].set_index("cohort")["population"])
    else:
        t1 = t2 = pd.Series(1.0, index=out.index)
    out = out[cols].join(_ratio_columns(out["admissions"], out["baseline_admissions"], t1, t2,
                                        float(cfg["rates"]["confidence"]), out["financial_year"] == baseline))
    out["cohort"] = pd.Categorical(out["cohort"], categories=list(COHORTS))
    out = out.sort_values(["cohort", "financial_year"], ignore_index=True)
    out.attrs.update(baseline=baseline, hes_threshold=hes_max)
    return out


def hospital_year_totals(hospital_admissions: pd.DataFrame, financial_year: str,
                         csp_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """All-ages hospital admissions of every CSP in one financial year, in one grouped pass.

    For each CSP ``c`` with admissions in ``financial_year`` this is the all-ages row of that year of
    ``hospital_measures(<c's rows>, csp_codes=[c], financial_years=[financial_year])``: the same cells summed, the
    same suppression (a total holding a cell suppressed at source is NA), and the same age-band checks over
    every row of those CSPs (a band not understood, or one straddling age 24, raises
    :class:`~svtools.errors.DataValidationError`). The indicator table reads the 314 CSPs of a national dataset
    with one call instead of one :func:`hospital_measures` each.

    Parameters
    ----------
    hospital_admissions : DataFrame
        As :func:`hospital_measures`.
    financial_year : str
        ``YYYY/YY``.
    csp_codes : sequence of str, optional
        CSPs to report (default: all in the table).

    Returns
    -------
    DataFrame
        Indexed by ``csp_code`` (sorted; only CSPs with admissions in ``financial_year``): ``cells``,
        ``admissions_known``, ``suppressed_cells`` (int), ``suppressed`` (bool) and ``admissions`` (Int64, NA
        when suppressed).
    """
    need = ["csp_code", "financial_year", "age_band", "admissions", "suppressed"]
    _require(hospital_admissions, need, "hospital admissions")
    u25_max = int(settings()["age_bands"]["under_25_max_age"])
    data = _unique_index(hospital_admissions)
    codes = data["csp_code"].astype(str)
    if csp_codes is not None:
        keep = codes.isin([str(c) for c in csp_codes])
        data, codes = data[keep], codes[keep]
    years = data["financial_year"].astype(str)
    keep = codes.isin(set(codes[years == str(financial_year)]))  # every row (all years) of those CSPs
    data, codes, years = data[keep], codes[keep], years[keep]
    _age_band_upper(data["age_band"], u25_max)
    supp = data["suppressed"].astype(bool) | data["admissions"].isna()
    known = data["admissions"].astype("Float64").fillna(0).astype("int64")
    frame = pd.DataFrame({"csp_code": codes.to_numpy(), "year": years.to_numpy(), "known": known.to_numpy(),
                          "supp": supp.to_numpy()})
    frame = frame[frame["year"] == str(financial_year)]
    out = frame.groupby("csp_code", sort=True).agg(cells=("known", "size"), admissions_known=("known", "sum"),
                                                   suppressed_cells=("supp", "sum"))
    out = out.astype("int64")
    out["suppressed"] = out["suppressed_cells"] > 0
    out["admissions"] = pd.array(np.where(out["suppressed"], pd.NA, out["admissions_known"]), dtype="Int64")
    return out


# Internal helpers ------------------------------------------------------------------------------------------


def _unique_index(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a fresh 0..n-1 index when its index repeats (e.g. concatenated CSP slices)."""
    return frame if frame.index.is_unique else frame.reset_index(drop=True)


def _age_band_upper(age_band: pd.Series, u25_max: int) -> pd.Series:
    """The upper age of each band; raises :class:`DataValidationError` for a band not understood or one that
    straddles ``u25_max`` (no under-25 total can be made from it)."""
    bands = age_band.astype(str)
    upper = bands.map(_band_upper)
    bad = upper.isna()
    if bad.any():
        raise DataValidationError("age band not understood (use e.g. 0-17, 18-24, 25+)", column="age_band",
                                  examples=sorted(bands[bad].unique()))
    lower_age = bands.map(_band_lower)
    straddle = (lower_age <= u25_max) & (upper > u25_max)
    if straddle.any():
        raise DataValidationError(f"age band straddles age {u25_max}: under-25 totals impossible",
                                  column="age_band", examples=sorted(bands[straddle].unique()))
    return upper


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{what} lack required column(s) {missing}", column=missing[0])


def _population_note(population: pd.DataFrame, years: Sequence[str], csp_codes) -> str:
    """:func:`svtools.analysis.population.year_note` of the estimates used for ``years``."""
    from svtools.analysis.population import residents, year_note

    return year_note(residents(_unique_index(population), list(years), [str(c) for c in csp_codes]))


def _financial_years_of(records: pd.DataFrame) -> pd.Series:
    if "financial_year" in records.columns:
        return records["financial_year"].astype("string")
    for col in ("recorded_date", "month"):
        if col in records.columns:
            return financial_year(records[col])
    raise DataValidationError("records need financial_year, recorded_date or month", column="financial_year")


def _row_counts(frame: pd.DataFrame) -> pd.Series:
    """Offences per row: the ``offences`` column of aggregated tables, else 1 per record."""
    if "offences" in frame.columns:
        return frame["offences"].astype("int64")
    return pd.Series(1, index=frame.index, dtype="int64")


def _under25_mask(frame: pd.DataFrame, max_age: int) -> pd.Series:
    """Under-25 status of each row: True, False or NA (unknown: never counted as 25 and over)."""
    from svtools.analysis.fields import under25_status

    if not {"victim_age", "victim_under_25", "victim_age_min", "victim_age_max"} & set(frame.columns):
        raise DataValidationError("under-25 cohort needs victim_age or victim_under_25", column="victim_age")
    return under25_status(frame, max_age)


def _rate_column(per: float) -> str:
    return f"rate_per_{int(per) if float(per).is_integer() else per}"


def _rate(events, population, confidence: float, per: float) -> pd.DataFrame:
    """Crude rates with PHE intervals via :func:`svtools.analysis.stats.rate`; NaN where the population is 0."""
    from svtools.analysis.stats import rate

    events = pd.Series(events).astype("Float64").to_numpy("float64", na_value=np.nan)
    population = np.asarray(population, dtype="float64")
    ok = (population > 0) & np.isfinite(events)  # an unknown count has no rate
    out = pd.DataFrame({"value": np.nan, "lower": np.nan, "upper": np.nan, "method": ""},
                       index=range(len(events)))
    if ok.any():
        res = rate(events[ok], population[ok], confidence=confidence, multiplier=per)
        res = res.reset_index(drop=True)
        idx = np.flatnonzero(ok)
        for col in ("value", "lower", "upper"):
            out.loc[idx, col] = res[col].to_numpy(dtype="float64")
        if "method" in res:
            out.loc[idx, "method"] = res["method"].astype(str).to_numpy()
    return out


def _ratio_columns(latest, baseline, t_latest, t_baseline, confidence: float, skip=None) -> pd.DataFrame:
    """``rate_ratio, rr_lower, rr_upper, rr_p_value, comparison`` of each latest count against its baseline
    (:func:`svtools.analysis.stats.rate_ratio`; NaN/None where a count is unknown, both are 0, a population
    is 0, or ``skip`` is true, e.g. the baseline year itself)."""
    from svtools.analysis.stats import rate_ratio

    index = latest.index if isinstance(latest, pd.Series) else None
    x1, x2 = _floats(latest), _floats(baseline)
    t1, t2 = _floats(t_latest), _floats(t_baseline)
    drop = ~((t1 > 0) & (t2 > 0))
    if skip is not None:
        drop |= np.asarray(skip, dtype=bool)
    x1[drop] = np.nan
    t1, t2 = np.where(drop, 1.0, t1), np.where(drop, 1.0, t2)
    r = rate_ratio(x1, x2, t1, t2, confidence=confidence)
    out = pd.DataFrame({"rate_ratio": r["ratio"].to_numpy(), "rr_lower": r["lower"].to_numpy(),
                        "rr_upper": r["upper"].to_numpy(), "rr_p_value": r["p_value"].to_numpy(),
                        "comparison": r["words"].to_numpy(dtype=object)}, index=index)
    return out


def _floats(values) -> np.ndarray:
    """Float array with NaN for NA (Int64 and object inputs), for the rate-ratio inputs."""
    return pd.array(list(values) if not isinstance(values, pd.Series) else values, dtype="Float64").to_numpy(
        "float64", na_value=np.nan)


def _round_half_away(value, digits: int = 1) -> float:
    """Round half away from zero (-6.25 -> -6.3, as published tables do; Python's round gives -6.2)."""
    if pd.isna(value):
        return math.nan
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(value))).quantize(q, rounding=ROUND_HALF_UP))


def _band_lower(band: str) -> float:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*\d+|\+)\s*", band)
    return float(m.group(1)) if m else math.nan


def _band_upper(band: str) -> float:
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", band)
    if m:
        return float(m.group(2))
    if re.fullmatch(r"\s*\d+\s*\+\s*", band):
        return math.inf
    return math.nan


def _definition_name(definition) -> str | None:
    if definition is None:
        return None
    return definition if isinstance(definition, str) else definition.name
