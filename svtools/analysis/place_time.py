"""Where and when: counts and rates by LSOA, concentration in the top LSOAs, the deprivation gradient (SII and
RII), and month, day-of-week and hour-of-day tables.

Rates are per 1,000 residents (``rates.per_residents``) using ``lsoa.parquet`` (``lsoa_code, csp_code,
imd_decile, population``: ONS mid-2020 estimates for 2011 LSOAs; IMD 2019 deciles in England and WIMD 2019 in
Wales, 1 = most deprived), with PHE intervals from :mod:`svtools.analysis.stats`. Nothing here plots: the functions
return the tables a map, a gradient chart or a heatmap needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from svtools.config import settings
from svtools.errors import DataValidationError
from svtools.analysis.measures import _rate, _rate_column, _unique_index

__all__ = [
    "DAY_NAMES",
    "MONTH_NAMES",
    "DeprivationGradient",
    "TimeTables",
    "concentration_curve",
    "deprivation_gradient",
    "lsoa_counts",
    "sii",
    "time_tables",
    "top_share",
]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")


def lsoa_counts(records: pd.DataFrame, lsoa_table: pd.DataFrame, csp_codes: Sequence[str] | None = None,
                years: float = 1.0, per: float | None = None, confidence: float | None = None,
                map_2021: bool = True) -> pd.DataFrame:
    """Offences and rates per 1,000 residents for every LSOA of the area, including LSOAs with none.

    Parameters
    ----------
    records : DataFrame
        Processed records (one row per offence; filter to a definition first) with ``lsoa_code``; or an
        aggregated frame with ``lsoa_code`` and ``offences``.
    lsoa_table : DataFrame
        ``lsoa_code, csp_code, imd_decile, population`` (``lsoa.parquet``).
    csp_codes : sequence of str, optional
        CSPs whose LSOAs are listed (default: those in ``records``; all of ``lsoa_table`` when records have no
        ``csp_code``).
    years : float
        Years the records cover: the rate is per 1,000 residents per year when given (default 1: a rate over
        the whole period).
    per, confidence : float, optional
        Multiplier (default 1,000) and interval level (default 0.95).
    map_2021 : bool
        Map 2021 LSOA codes that are not in ``lsoa_table`` to their best-fit 2011 LSOA
        (:func:`svtools.ingest.geography.lsoa_geography`).

    Returns
    -------
    DataFrame
        ``lsoa_code, csp_code, imd_decile, population, offences, rate_per_1000, lower, upper, method`` (plus
        ``lsoa_name`` when the table has it), one row per LSOA. ``attrs["unmatched_records"]`` counts records
        whose LSOA is blank or outside the area's LSOAs (left out).

    Notes
    -----
    Rate = offences / (population × years) × 1,000; exact Poisson limits below 10 offences, Byar's from 10
    (PHE ``phe_rate`` via :func:`svtools.analysis.stats.rate`). LSOAs with no residents have no rate (NaN).
    """
    cfg = settings()
    per = float(per if per is not None else cfg["rates"]["per_residents"])
    confidence = float(confidence if confidence is not None else cfg["rates"]["confidence"])
    need = ["lsoa_code", "csp_code", "imd_decile", "population"]
    missing = [c for c in need if c not in lsoa_table.columns]
    if missing:
        raise DataValidationError(f"LSOA table lacks {missing}", column=missing[0])
    if "lsoa_code" not in records.columns:
        raise DataValidationError("records need lsoa_code", column="lsoa_code")
    if years <= 0:
        raise ValueError("years must be positive")
    records = _unique_index(records)
    table = lsoa_table
    if csp_codes is None and "csp_code" in records.columns and records["csp_code"].notna().any():
        csp_codes = sorted(records["csp_code"].dropna().astype(str).unique())
    if csp_codes is not None:
        table = table[table["csp_code"].isin(list(csp_codes))]
    if table["lsoa_code"].duplicated().any():
        raise DataValidationError("LSOA table has duplicate codes", column="lsoa_code",
                                  examples=table.loc[table["lsoa_code"].duplicated(), "lsoa_code"].head()
                                  .tolist())
    codes = records["lsoa_code"].astype("string")
    known = set(table["lsoa_code"].astype(str))
    inside = codes.isin(known).fillna(False).to_numpy(dtype=bool)
    if map_2021 and (~inside & codes.notna().to_numpy()).any():
        codes = codes.copy()
        codes[~inside] = _to_2011(codes[~inside])
        inside = codes.isin(known).fillna(False).to_numpy(dtype=bool)
    weight = (records["offences"].astype("int64") if "offences" in records.columns
              else pd.Series(1, index=records.index, dtype="int64"))
    counts = weight[inside].groupby(codes[inside].astype(str)).sum()
    cols = ["lsoa_code"] + (["lsoa_name"] if "lsoa_name" in table.columns else []) + need[1:]
    out = table[cols].copy().reset_index(drop=True)
    out["lsoa_code"] = out["lsoa_code"].astype(str)
    out["imd_decile"] = out["imd_decile"].astype("Int8")
    out["population"] = out["population"].astype("int64")
    out["offences"] = out["lsoa_code"].map(counts).fillna(0).astype("int64")
    rates = _rate(out["offences"], out["population"] * years, confidence, per)
    out[_rate_column(per)] = rates["value"].to_numpy()
    out["lower"], out["upper"], out["method"] = (rates["lower"].to_numpy(), rates["upper"].to_numpy(),
                                                 rates["method"].to_numpy())
    out = out.sort_values("lsoa_code", ignore_index=True)
    out.attrs.update(unmatched_records=int(weight[~inside].sum()), per=per, years=years,
                     confidence=confidence)
    return out


def top_share(counts: pd.DataFrame, share: float | None = None, column: str = "offences") -> pd.DataFrame:
    """Share of offences in the top ``share`` of LSOAs (default 5%, ``hotspots.top_share``).

    Parameters
    ----------
    counts : DataFrame
        One row per LSOA with ``lsoa_code`` and ``column`` (the output of :func:`lsoa_counts`), zeros
        included.
    share : float, optional
        Share of LSOAs counted as "top" (0-1; default ``hotspots.top_share`` = 0.05).
    column : str
        Count column.

    Returns
    -------
    DataFrame
        One row: ``lsoas, top_lsoas, lsoa_share, offences, top_offences, offence_share`` and, when ``counts``
        has ``population``, ``population_share`` (residents of the top LSOAs / all residents). Shares are 0-1.
        ``attrs["top_codes"]`` lists the top LSOAs.

    Notes
    -----
    LSOAs are ranked by count (ties broken by code, so the result is reproducible); the top group has
    ceil(share × number of LSOAs) LSOAs (at least one), so ``lsoa_share`` can exceed ``share`` slightly.
    """
    share = float(share if share is not None else settings()["hotspots"]["top_share"])
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    if column not in counts.columns or "lsoa_code" not in counts.columns:
        raise DataValidationError(f"counts need lsoa_code and {column}", column=column)
    n = len(counts)
    if n == 0:
        raise DataValidationError("no LSOAs in counts", column="lsoa_code")
    k = max(1, math.ceil(share * n - 1e-9))
    ranked = counts.sort_values([column, "lsoa_code"], ascending=[False, True], kind="mergesort")
    top = ranked.head(k)
    total = int(counts[column].sum())
    row = {"lsoas": n, "top_lsoas": k, "lsoa_share": k / n, "offences": total,
           "top_offences": int(top[column].sum()),
           "offence_share": top[column].sum() / total if total else math.nan}
    if "population" in counts.columns:
        pop = counts["population"].sum()
        row["population_share"] = top["population"].sum() / pop if pop else math.nan
    out = pd.DataFrame([row])
    out.attrs["top_codes"] = top["lsoa_code"].astype(str).tolist()
    return out


def concentration_curve(counts: pd.DataFrame, column: str = "offences") -> pd.DataFrame:
    """Concentration (Lorenz) curve of offences over LSOAs, busiest first: the data of a concentration chart.

    Parameters
    ----------
    counts : DataFrame
        One row per LSOA with ``lsoa_code`` and ``column`` (from :func:`lsoa_counts`), zeros included.
    column : str
        Count column.

    Returns
    -------
    DataFrame
        One row per LSOA in rank order (most offences first, ties by code): ``lsoa_code, area_share,
        offence_share`` (cumulative shares 0-1; the curve starts at (0, 0), not listed).
    """
    if column not in counts.columns or "lsoa_code" not in counts.columns:
        raise DataValidationError(f"counts need lsoa_code and {column}", column=column)
    ranked = counts.sort_values([column, "lsoa_code"], ascending=[False, True], kind="mergesort")
    total = ranked[column].sum()
    n = len(ranked)
    return pd.DataFrame({
        "lsoa_code": ranked["lsoa_code"].astype(str).to_numpy(),
        "area_share": np.arange(1, n + 1) / n if n else np.array([]),
        "offence_share": (ranked[column].cumsum() / total).to_numpy(dtype="float64") if total else np.nan,
    })


def sii(values, population, lower=None, upper=None, se=None, confidence: float = 0.95,
        repetitions: int = 10_000, seed: int = 20240401, log_scale: bool = True, transform: bool = False
        ) -> dict:
    """Slope and relative index of inequality (PHE ``phe_sii``) for ordered quantiles.

    Parameters
    ----------
    values : array-like
        Indicator value per quantile (e.g. rate per 1,000 residents a year), ordered **most to least
        deprived**.
    population : array-like
        Population (residents, the rates' denominators) per quantile, all positive.
    lower, upper : array-like, optional
        95% confidence limits of each value (used to derive standard errors; needed for intervals with
        ``transform=True``).
    se : array-like, optional
        Standard errors on the scale given by ``log_scale`` (instead of limits; not with ``transform=True``,
        as in PHE).
    confidence : float
        Level of the simulated intervals (0.95; 0.98 and others as PHE).
    repetitions : int
        Monte Carlo repetitions (PHE default 100,000, minimum 1,000; default here 10,000).
    seed : int
        Seed of the random generator.
    log_scale : bool
        Values are rates: standard errors are derived and draws made on the log scale (PHE value_type = 1).
    transform : bool
        ``True`` (**the method of the published pages**, PHE ``transform = TRUE``, which PHE recommends for
        rates): regress log values and back-transform. ``False`` (PHE's default ``transform = FALSE``):
        regress the values themselves.

    Returns
    -------
    dict
        ``sii, sii_lower, sii_upper`` (units of the values: least minus most deprived end of the fitted line),
        ``rii, rii_lower, rii_upper`` (dimensionless ratio, least / most deprived end; NaN when the fit cannot
        give a ratio of two positive rates, and ``rii_note`` says why), ``intercept`` (fitted value at the
        most deprived end, rank 0), ``beta0, beta1`` (coefficients on the fitting scale), ``slope_lower,
        slope_upper`` (simulated limits of ``beta1``), ``transform``, ``repetitions``, ``method`` (words),
        ``rii_note`` ("" when the RII is a ratio).

    Notes
    -----
    **Fit** (Low & Low 2004; PHEindicatormethods ``R/SII_function.R``). With population shares a_j and
    mid-point cumulative ranks b_j = Σ_{i<j} a_i + a_j/2, regress √a_j·y_j on √a_j and b_j·√a_j without
    intercept (weighted least squares); β₀ is the fitted value at rank 0 (most deprived end), β₁ the slope.
    Standard errors of each quantile are (g(U) − g(L)) / (2 × 1.959964) from its 95% limits, g = log for
    rates (PHE value_type = 1), whatever the confidence asked for.

    **transform=True** (log-linear; y = log rate): SII = exp(β₀ + β₁) − exp(β₀), RII = exp(β₁), intercept =
    exp(β₀). Intervals exactly as PHE ``phe_sii(value_type = 1, transform = TRUE, rii = TRUE)``: draw each
    quantile's log value from Normal(log y_j, se_j), refit, sort the simulated slopes and take the order
    statistics at positions round(R × (1 − c)) and round(R × c), c = confidence + (1 − confidence)/2
    (1-based, as R), giving slope limits s_L, s_U. The limits are **not** quantiles of back-transformed
    draws: the fitted line is pivoted about its mid-point m = β₀ + β₁/2 (the fitted log rate at rank 0.5),
    so SII limits = exp(m + s/2) − exp(m − s/2) and RII limits = exp(s), for s = s_L, s_U. At s = β₁ these
    give the point estimates, and the RII limits are exp of the slope limits.

    **transform=False** (linear, PHE default): SII = β₁, RII = (β₀ + β₁)/β₀; intervals are the order
    statistics of the simulated SII and RII, with rate draws back-transformed from the log scale (PHE
    value_type = 1). A linear fit to a steep, convex gradient can fall to 0 or below at one end: the RII is
    then not a ratio of two rates and is returned as NaN with ``rii_note`` (PHE would print a negative
    number). A value of 0 cannot be logged: it is drawn on the natural scale from Normal(0, (U − L)/(2 ×
    1.959964)) truncated at 0 (a departure from PHE, which drops such areas); ``transform=True`` needs every
    value above 0.

    Checked against the expected values of PHEindicatormethods' own tests (``tests/testthat/testSII.R`` and
    ``testdata_SII.xlsx``, rows 306-325 and 366-425: log transform, 95% and 98%) in
    ``tests/test_sii_phe.py``.

    References
    ----------
    Low, A. and Low, A. (2004). Measuring the gap: quantifying and comparing local health inequalities.
    *Journal of Public Health*, 26(4), 388-395.

    UK Health Security Agency (2024). *PHEindicatormethods*, R package version 2.1.0, ``phe_sii``
    (``R/SII_function.R``, ``R/utils.R`` ``SimulationFunc``).
    """
    y = np.asarray(values, dtype="float64")
    pop = np.asarray(population, dtype="float64")
    if len(y) != len(pop) or len(y) < 2:
        raise DataValidationError("SII needs a value and a population for at least two quantiles")
    if (pop <= 0).any() or np.isnan(pop).any():
        raise DataValidationError("every quantile needs a positive population", column="population")
    if np.isnan(y).any():
        raise DataValidationError("every quantile needs a value", column="value")
    if repetitions < 1000:
        raise ValueError("repetitions must be at least 1,000 (as PHEindicatormethods)")
    if transform and (not log_scale or (y <= 0).any()):
        raise DataValidationError("transform=True needs positive rates (log_scale=True) in every quantile",
                                  column="value")
    if transform and se is not None:
        raise ValueError("transform=True takes the 95% limits, not standard errors (as PHEindicatormethods)")
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    M = _wls_matrix(a, b)
    beta0, beta1 = M @ (np.log(y) if transform else y)
    s_, r_, i_ = _indices(np.array([beta0]), np.array([beta1]), transform)
    rii, note = float(r_[0]), _rii_note(beta0, beta1, transform)
    out = {"sii": float(s_[0]), "rii": math.nan if note else rii, "intercept": float(i_[0]),
           "beta0": float(beta0), "beta1": float(beta1), "transform": transform, "repetitions": int(repetitions),
           "method": ("log-linear fit (PHE transform = TRUE)" if transform else "linear fit (PHE transform = "
                      "FALSE)"), "rii_note": note}
    z95 = 1.959963984540054
    nan = math.nan
    if se is None and (lower is None or upper is None):
        out.update(sii_lower=nan, sii_upper=nan, rii_lower=nan, rii_upper=nan, slope_lower=nan,
                   slope_upper=nan)
        return out
    rng = np.random.default_rng(seed)
    i_lo, i_hi = _phe_positions(repetitions, confidence)
    if transform:
        lo, hi = np.asarray(lower, dtype="float64"), np.asarray(upper, dtype="float64")
        if (lo <= 0).any() or np.isnan(lo).any() or np.isnan(hi).any():
            raise DataValidationError("transform=True needs positive 95% limits in every quantile",
                                      column="lower")
        se_log = (np.log(hi) - np.log(lo)) / (2 * z95)
        log_draws = rng.normal(np.log(y), se_log, size=(repetitions, len(y)))
        slopes = np.sort(log_draws @ M[1])
        s_lo, s_hi = float(slopes[i_lo]), float(slopes[i_hi])
        (sii_lo, sii_hi), (rii_lo, rii_hi) = _phe_pivot(beta0, beta1, np.array([s_lo, s_hi]))
        out.update(sii_lower=float(sii_lo), sii_upper=float(sii_hi), rii_lower=float(rii_lo),
                   rii_upper=float(rii_hi), slope_lower=s_lo, slope_upper=s_hi)
        return out
    draws = np.empty((repetitions, len(y)))
    if se is not None:
        se = np.asarray(se, dtype="float64")
        if log_scale:
            draws[:] = np.exp(rng.normal(np.log(np.where(y > 0, y, np.nan)), se, size=draws.shape))
        else:
            draws[:] = rng.normal(y, se, size=draws.shape)
    else:
        lo, hi = np.asarray(lower, dtype="float64"), np.asarray(upper, dtype="float64")
        pos = (y > 0) & (lo > 0) if log_scale else np.ones(len(y), bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = (np.log(hi) - np.log(lo)) / (2 * z95)
        se_nat = (hi - lo) / (2 * z95)
        for j in range(len(y)):
            if log_scale and pos[j]:
                draws[:, j] = np.exp(rng.normal(math.log(y[j]), se_log[j], size=repetitions))
            elif log_scale:
                draws[:, j] = np.maximum(rng.normal(y[j], se_nat[j], size=repetitions), 0.0)
            else:
                draws[:, j] = rng.normal(y[j], se_nat[j], size=repetitions)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = draws @ M.T  # repetitions x 2
        sims_sii, sims_rii, _ = _indices(coef[:, 0], coef[:, 1], False)
    sims_sii, sims_rii = np.sort(sims_sii), np.sort(sims_rii)
    slopes = np.sort(coef[:, 1])
    rii_lo, rii_hi = float(sims_rii[i_lo]), float(sims_rii[i_hi])
    if note or not rii_lo > 0:
        rii_lo = rii_hi = nan
        out["rii_note"] = note or ("the simulated interval of the linear fit reaches fitted rates of 0 or below "
                                   "at one end, where a ratio of rates has no meaning")
    out.update(sii_lower=float(sims_sii[i_lo]), sii_upper=float(sims_sii[i_hi]), rii_lower=rii_lo,
               rii_upper=rii_hi, slope_lower=float(slopes[i_lo]), slope_upper=float(slopes[i_hi]))
    return out


@dataclass
class DeprivationGradient:
    """Rates by deprivation decile with the slope and relative indices of inequality.

    Attributes
    ----------
    table : DataFrame
        ``imd_decile`` (1 = most deprived), ``lsoas, population, offences, rate_per_1000, lower, upper,
        method``.
    sii, sii_lower, sii_upper : float
        Slope index of inequality (rate per 1,000; least minus most deprived end, negative when deprived areas
        have higher rates).
    rii, rii_lower, rii_upper : float
        Relative index of inequality (least / most deprived end; below 1 when deprived areas have higher
        rates; with the default linear fit it can fall below 0 when the gradient is steep).
    repetitions, seed : int
        Monte Carlo settings of the intervals.
    note : str
        Deciles left out (no residents in the area) or why the indices could not be computed.
    line : DataFrame
        ``imd_decile, value``: the fitted SII line β₀ + β₁·rank at each decile's mid-point rank (rate per
        1,000; exp of it for the log-linear fit), for a gradient chart (empty when the indices were not
        computed).
    transform : bool
        Whether the indices come from the log-linear fit (PHE ``transform = TRUE``).
    """

    table: pd.DataFrame
    sii: float
    sii_lower: float
    sii_upper: float
    rii: float
    rii_lower: float
    rii_upper: float
    repetitions: int
    seed: int
    note: str = ""
    line: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["imd_decile", "value"]))
    transform: bool = False

    def summary(self) -> pd.DataFrame:
        """Display table: ``measure, estimate, lower, upper``."""
        fit = "log-linear fit" if self.transform else "linear fit"
        return pd.DataFrame([
            (f"Slope index of inequality (rate per 1,000, least minus most deprived; {fit})", self.sii,
             self.sii_lower, self.sii_upper),
            (f"Relative index of inequality (least / most deprived; {fit})", self.rii, self.rii_lower,
             self.rii_upper),
        ], columns=["measure", "estimate", "lower", "upper"])


def deprivation_gradient(records: pd.DataFrame, lsoa_table: pd.DataFrame,
                         csp_codes: Sequence[str] | None = None, years: float = 1.0,
                         per: float | None = None, confidence: float | None = None, repetitions: int = 10_000,
                         seed: int = 20240401, min_quantiles: int = 5, transform: bool = False
                         ) -> DeprivationGradient:
    """Rate per 1,000 residents by IMD decile, with the slope (SII) and relative (RII) indices of inequality.

    Parameters
    ----------
    records : DataFrame
        Processed records (filtered to a definition) with ``lsoa_code``.
    lsoa_table : DataFrame
        ``lsoa_code, csp_code, imd_decile, population`` (``lsoa.parquet``).
    csp_codes, years, per, confidence
        As in :func:`lsoa_counts`.
    repetitions : int
        Monte Carlo repetitions for the SII/RII intervals (default 10,000; PHE's default is 100,000).
    seed : int
        Seed of the random generator (the intervals are reproducible).
    min_quantiles : int
        Fewest deciles with residents needed for the indices (PHE allows 5-100 quantiles).
    transform : bool
        ``False`` (default, PHE ``transform = FALSE``): linear fit to the rates. ``True``: log-linear fit (PHE
        ``transform = TRUE``, which the package recommends for rates); needs offences in every decile.

    Returns
    -------
    DeprivationGradient

    Notes
    -----
    Offences and residents are summed over the area's LSOAs in each national IMD 2019 (or WIMD 2019) decile;
    rate intervals are exact Poisson below 10 offences, Byar's from 10. SII and RII follow PHEindicatormethods
    ``phe_sii`` with ``value_type = 1`` (rate) and ``transform = FALSE`` by default (see :func:`sii`; a steep
    convex gradient can then give an RII below 0, and ``transform=True`` is the better choice): deciles
    ordered most to least deprived, population-share mid-point ranks, √a-weighted regression through the
    origin, intervals by simulation. Deciles with no residents in the area are left out and named in ``note``
    (PHE would drop the area); the ranks then span the deciles present. National deciles are not local
    quintiles: an affluent district may have few residents in decile 1.

    References
    ----------
    Low, A. and Low, A. (2004). Measuring the gap: quantifying and comparing local health inequalities.
    *Journal of Public Health*, 26(4), 388-395.

    Ministry of Housing, Communities and Local Government (2019). *The English Indices of Deprivation 2019*.
    Welsh Government (2019). *Welsh Index of Multiple Deprivation 2019*.

    UK Health Security Agency (2024). *PHEindicatormethods*, R package version 2.1.0, ``phe_sii``.
    """
    cfg = settings()
    per = float(per if per is not None else cfg["rates"]["per_residents"])
    confidence = float(confidence if confidence is not None else cfg["rates"]["confidence"])
    counts = lsoa_counts(records, lsoa_table, csp_codes, years, per, confidence)
    rate_col = _rate_column(per)
    located = counts[counts["imd_decile"].notna()]
    grp = located.groupby(located["imd_decile"].astype("int64")).agg(
        lsoas=("lsoa_code", "size"), population=("population", "sum"), offences=("offences", "sum"))
    grp = grp.reindex(range(1, 11), fill_value=0).rename_axis("imd_decile").reset_index()
    rates = _rate(grp["offences"], grp["population"] * years, confidence, per)
    grp[rate_col] = rates["value"].to_numpy()
    grp["lower"], grp["upper"], grp["method"] = (rates["lower"].to_numpy(), rates["upper"].to_numpy(),
                                                 rates["method"].to_numpy())
    grp["imd_decile"] = grp["imd_decile"].astype("Int8")
    grp.attrs.update(unmatched_records=counts.attrs.get("unmatched_records", 0),
                     no_decile_offences=int(counts.loc[counts["imd_decile"].isna(), "offences"].sum()))
    present = grp[grp["population"] > 0]
    absent = grp.loc[grp["population"] <= 0, "imd_decile"].astype(int).tolist()
    note = f"deciles with no residents left out: {absent}" if absent else ""
    nan = math.nan
    if len(present) < min_quantiles:
        note = (note + "; " if note else "") + (f"only {len(present)} deciles have residents "
                                                f"(need {min_quantiles}): no SII/RII")
        return DeprivationGradient(grp, nan, nan, nan, nan, nan, nan, repetitions, seed, note,
                                   transform=transform)
    # PHE derives standard errors from 95% limits whatever the requested confidence
    lim = _rate(present["offences"], present["population"] * years, 0.95, per)
    if transform and (present["offences"] <= 0).any():
        note = (note + "; " if note else "") + "a decile has no offences: no log-scale SII/RII"
        return DeprivationGradient(grp, nan, nan, nan, nan, nan, nan, repetitions, seed, note,
                                   transform=transform)
    res = sii(present[rate_col], present["population"], lim["lower"], lim["upper"], confidence=confidence,
              repetitions=repetitions, seed=seed, transform=transform)
    a = present["population"].to_numpy(dtype="float64") / present["population"].sum()
    rank = np.cumsum(a) - a / 2
    line = pd.DataFrame({"imd_decile": present["imd_decile"].astype("int64").to_numpy(),
                         "value": _line(res["beta0"], res["beta1"], rank, transform)})
    return DeprivationGradient(grp, res["sii"], res["sii_lower"], res["sii_upper"], res["rii"],
                               res["rii_lower"], res["rii_upper"], repetitions, seed, note, line,
                               transform)


@dataclass
class TimeTables:
    """When offences happen (see :func:`time_tables`).

    Attributes
    ----------
    month : DataFrame
        ``month`` (1-12), ``month_name``, ``offences``.
    day_of_week : DataFrame
        ``day`` (0 = Monday), ``day_name``, ``offences``.
    hour : DataFrame
        ``hour`` (0-23), ``offences``.
    heatmap : DataFrame
        Offences with a known day and hour: index ``day_name`` (Monday first), columns hours 0-23.
    counts : DataFrame
        Tidy complete grid ``month, day, hour, offences`` (12 × 7 × 24) of offences with known date and hour.
    unknown : DataFrame
        ``item, records``: records with no occurrence date, with the date but not the hour, and the
        month-of-year table's fallback to the recorded date.
    """

    month: pd.DataFrame
    day_of_week: pd.DataFrame
    hour: pd.DataFrame
    heatmap: pd.DataFrame
    counts: pd.DataFrame
    unknown: pd.DataFrame


def time_tables(records: pd.DataFrame, date_column: str = "occurred_at", hour_column: str = "occurred_hour",
                month_fallback: str | None = "recorded_date") -> TimeTables:
    """Month-of-year, day-of-week and hour-of-day counts and a day × hour heatmap table.

    Parameters
    ----------
    records : DataFrame
        Processed records (filtered to a definition) with the occurrence date-time.
    date_column : str
        Occurrence date-time (``occurred_at``; NaT when unknown).
    hour_column : str
        Hour of occurrence (``occurred_hour``, NA when only the date is known); if absent, the hour of
        ``date_column`` is used, unless every value of it is at midnight (dates without times: then no hour
        is known, and no record is put at 00:00; see :func:`svtools.analysis.fields.hours`).
    month_fallback : str or None
        For the month-of-year table only, use this date where the occurrence date is unknown (default
        ``recorded_date``; ``None`` leaves such records out).

    Returns
    -------
    TimeTables

    Notes
    -----
    Records without an occurrence date are left out of the day-of-week, hour and heatmap tables and records
    without an hour out of the hour and heatmap tables; both are counted in ``unknown``, never silently
    dropped. Days and hours are those of the occurrence (start) time as recorded.
    """
    if date_column not in records.columns:
        raise DataValidationError("records need the occurrence date-time", column=date_column)
    records = _unique_index(records)
    when = pd.to_datetime(records[date_column])
    weight = (records["offences"].astype("int64") if "offences" in records.columns
              else pd.Series(1, index=records.index, dtype="int64"))
    if hour_column in records.columns:
        hour = records[hour_column].astype("Float64")
    else:
        from svtools.analysis.fields import hours

        hour = hours(records.rename(columns={date_column: "occurred_at"})[["occurred_at"]])
    has_date = when.notna()
    has_hour = has_date & hour.notna().to_numpy(bool)
    month_date = when
    fallback_used = 0
    if month_fallback is not None and month_fallback in records.columns:
        fill = ~has_date
        fallback_used = int(weight[fill & pd.to_datetime(records[month_fallback]).notna()].sum())
        month_date = when.where(has_date, pd.to_datetime(records[month_fallback]))
    m_ok = month_date.notna()
    month = (weight[m_ok].groupby(month_date[m_ok].dt.month).sum().reindex(range(1, 13), fill_value=0))
    month_t = pd.DataFrame({"month": range(1, 13), "month_name": MONTH_NAMES,
                            "offences": month.to_numpy(dtype="int64")})
    day = weight[has_date].groupby(when[has_date].dt.day_of_week).sum().reindex(range(7), fill_value=0)
    day_t = pd.DataFrame({"day": range(7), "day_name": DAY_NAMES, "offences": day.to_numpy(dtype="int64")})
    h = hour[has_hour].astype("int64")
    hour_counts = weight[has_hour].groupby(h).sum().reindex(range(24), fill_value=0)
    hour_t = pd.DataFrame({"hour": range(24), "offences": hour_counts.to_numpy(dtype="int64")})
    grid = pd.MultiIndex.from_product([range(1, 13), range(7), range(24)], names=["month", "day", "hour"])
    full = (weight[has_hour].groupby([when[has_hour].dt.month, when[has_hour].dt.day_of_week, h]).sum())
    full.index.names = ["month", "day", "hour"]
    counts = full.reindex(grid, fill_value=0).rename("offences").reset_index()
    counts["offences"] = counts["offences"].astype("int64")
    heat = counts.groupby(["day", "hour"])["offences"].sum().unstack("hour")
    heat.index = pd.Index(DAY_NAMES, name="day_name")
    heat.columns.name = "hour"
    unknown = pd.DataFrame([
        ("No occurrence date (left out of day and hour tables)", int(weight[~has_date].sum())),
        ("Occurrence date but no hour (left out of hour table and heatmap)",
         int(weight[has_date & ~has_hour].sum())),
        ("Month of year taken from the recorded date", fallback_used),
        ("No date at all (left out of month table)", int(weight[~m_ok].sum())),
    ], columns=["item", "records"])
    return TimeTables(month=month_t, day_of_week=day_t, hour=hour_t, heatmap=heat, counts=counts,
                      unknown=unknown)


# Internal helpers ------------------------------------------------------------------------------------------


def _indices(beta0: np.ndarray, beta1: np.ndarray, transform: bool):
    """(SII, RII, value at the most deprived end) from the fitting-scale coefficients (vectorised)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform:
            return np.exp(beta0 + beta1) - np.exp(beta0), np.exp(beta1), np.exp(beta0)
        return beta1, np.where(beta0 != 0, (beta0 + beta1) / beta0, np.nan), beta0


def _phe_positions(repetitions: int, confidence: float) -> tuple[int, int]:
    """0-based indices of the sorted draws PHE ``SimulationFunc`` reads: round(R (1 - c)), round(R c), 1-based,
    c = confidence + (1 - confidence) / 2 (R's round, like Python's, rounds halves to even)."""
    conf = float(confidence)
    conf = conf / 100 if conf >= 90 else conf
    if not 0.9 <= conf < 1:
        raise ValueError(f"confidence must be between 0.9 and 1 (or 90 and 100), got {confidence!r}")
    c = conf + (1 - conf) / 2
    lo = min(max(round(repetitions * (1 - c)) - 1, 0), repetitions - 1)
    hi = min(max(round(repetitions * c) - 1, 0), repetitions - 1)
    return lo, hi


def _phe_pivot(beta0: float, beta1: float, slope):
    """(SII, RII) of the log-linear line pivoted about its mid-point with slope ``slope`` (PHE ``phe_sii``
    transform = TRUE, value_type = 1, multiplier 1): m = beta0 + beta1/2, SII = exp(m + s/2) - exp(m - s/2),
    RII = exp(s)."""
    s = np.asarray(slope, dtype="float64")
    mid = beta0 + beta1 / 2
    with np.errstate(over="ignore"):
        return np.exp(mid + s / 2) - np.exp(mid - s / 2), np.exp(s)


def _rii_note(beta0: float, beta1: float, transform: bool) -> str:
    """Why the fit gives no RII ("" when it does): a linear fit at or below 0 at one end."""
    if transform:
        return ""
    ends = {"most deprived": beta0, "least deprived": beta0 + beta1}
    bad = [k for k, v in ends.items() if not v > 0]
    if not bad:
        return ""
    return (f"the straight line fitted to the rates falls to {min(ends[k] for k in bad):.2f} at the "
            f"{' and '.join(bad)} end, so the ratio of its ends is not a ratio of two rates")


def _line(beta0: float, beta1: float, rank: np.ndarray, transform: bool) -> np.ndarray:
    fitted = beta0 + beta1 * rank
    return np.exp(fitted) if transform else fitted


def _wls_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2 × J matrix M with (β₀, β₁) = M y for the √a-weighted regression of y on [1, b] through the origin."""
    X = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    return np.linalg.pinv(X) * np.sqrt(a)[None, :]


def _to_2011(codes: pd.Series) -> pd.Series:
    """Best-fit 2011 parent of 2021 LSOA codes (unchanged where no parent is known)."""
    from svtools.ingest.geography import lsoa_geography

    geo = lsoa_geography()
    parent = geo.loc[geo["lsoa_vintage"] == "2021"].set_index("lsoa_code")["lsoa11_code"]
    mapped = codes.astype(str).map(parent)
    return mapped.where(mapped.notna(), codes).astype("string")
