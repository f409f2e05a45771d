"""Monthly trends: complete series, STL decomposition, log-linear trend models, interrupted time series.

The trend model is the one partners' questions need ("is it going down, by how much a year, when is the peak,
how big was the lockdown dip?") and the one the synthetic demo data are generated from:

.. math::

    \\log E[y_t] = \\beta_0 + \\beta_1 t
                   + \\sum_{k=1}^{K} (a_k \\cos(2\\pi k m_t/12) + b_k \\sin(2\\pi k m_t/12))
                   + \\gamma\\, \\mathbb{1}[t \\in \\text{COVID}] + \\log(\\text{population}_t)

with :math:`t` in years, :math:`m_t` the calendar month (1-12), a COVID-19 first-lockdown indicator (window
from ``periods.covid_start``/``covid_end`` in ``config/settings.yaml``, April-June 2020) and an optional
population offset. It is fitted as a negative binomial (NB2) regression by maximum likelihood (default) or a
quasi-Poisson GLM (Pearson-scaled variance). :math:`e^{\\beta_1}` is the annual rate ratio; with one harmonic,
:math:`a_1 = A\\cos(2\\pi p/12)`, :math:`b_1 = A\\sin(2\\pi p/12)` give the seasonal log-amplitude :math:`A`
and peak month :math:`p`; :math:`e^{\\gamma}` is the COVID rate ratio.

Everything returns tidy DataFrames or small dataclasses holding them; nothing here plots.

References
----------
Cleveland, R. B., Cleveland, W. S., McRae, J. E. and Terpenning, I. (1990). STL: a seasonal-trend
decomposition procedure based on loess. *Journal of Official Statistics*, 6(1), 3-73.

Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd edn. Cambridge: Cambridge University Press.

Bernal, J. L., Cummins, S. and Gasparrini, A. (2017). Interrupted time series regression for the evaluation of
public health interventions: a tutorial. *International Journal of Epidemiology*, 46(1), 348-355.

Stolwijk, A. M., Straatman, H. and Zielhuis, G. A. (1999). Studying seasonality by using sine and cosine
functions in regression analysis. *Journal of Epidemiology and Community Health*, 53(4), 235-238.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from svtools.config import settings
from svtools.ingest.definitions import Definition, definition_mask
from svtools.errors import DataValidationError

__all__ = [
    "ITSResult",
    "TrendModelResult",
    "fit_trend_model",
    "interrupted_time_series",
    "monthly_counts",
    "seasonal_profile",
    "stl_decompose",
]


def monthly_counts(data: pd.DataFrame, definition: Definition | str | None = None, start=None, end=None
                   ) -> pd.Series:
    """Complete monthly series of offences (months with none are 0).

    Parameters
    ----------
    data : DataFrame
        Processed records (one row per offence; ``month`` or ``recorded_date``) or the ``monthly_counts``
        table (its ``offences`` column is summed over the other keys, e.g. all CSPs of a force).
    definition : Definition or str, optional
        Local definition applied first (``None``: every row).
    start, end : date-like, optional
        First and last month of the series (default: the first and last month in ``data`` before the
        definition is applied, so months with none of the defined offences at either end are kept as 0).

    Returns
    -------
    Series
        ``offences`` (int64) indexed by ``month`` (DatetimeIndex, month starts, frequency ``MS``).
    """
    months = _months_of(data)
    if (start is None or end is None) and not months.notna().any():
        raise DataValidationError("no months in the data: pass start and end", column="month")
    start = pd.Timestamp(start).to_period("M").to_timestamp() if start is not None else months.min()
    end = pd.Timestamp(end).to_period("M").to_timestamp() if end is not None else months.max()
    if end < start:
        raise ValueError(f"end ({end:%Y-%m}) is before start ({start:%Y-%m})")
    keep = (np.ones(len(data), dtype=bool) if definition is None
            else definition_mask(data, definition).to_numpy(dtype=bool))
    weight = (data["offences"].to_numpy(dtype="int64") if "offences" in data.columns
              else np.ones(len(data), dtype="int64"))
    counts = pd.Series(weight[keep]).groupby(months.to_numpy()[keep]).sum()
    index = pd.date_range(start, end, freq="MS", name="month")
    return counts.reindex(index, fill_value=0).astype("int64").rename("offences")


def stl_decompose(series: pd.Series | pd.DataFrame, period: int = 12, robust: bool = True) -> pd.DataFrame:
    """Seasonal-trend decomposition by loess (STL) of a monthly series.

    Parameters
    ----------
    series : Series or DataFrame
        Monthly counts indexed by month (as from :func:`monthly_counts`), or a ``month, offences`` frame.
    period : int
        Seasonal period in observations (12 for monthly data).
    robust : bool
        Robust loess fitting (down-weights outlying months such as the 2020 lockdown).

    Returns
    -------
    DataFrame
        ``month, observed, trend, seasonal, resid, seasonally_adjusted`` (offences per month; additive:
        observed = trend + seasonal + resid).

    Notes
    -----
    statsmodels ``STL`` with its defaults for the smoother spans (seasonal 7, trend the next odd integer above
    1.5 × period / (1 − 1.5 / seasonal)). Needs at least two full periods.

    References
    ----------
    Cleveland, R. B., Cleveland, W. S., McRae, J. E. and Terpenning, I. (1990). STL: a seasonal-trend
    decomposition procedure based on loess. *Journal of Official Statistics*, 6(1), 3-73.
    """
    from statsmodels.tsa.seasonal import STL

    y = _as_series(series)
    if len(y) < 2 * period:
        raise DataValidationError(f"STL needs at least {2 * period} months, got {len(y)}", column="month")
    res = STL(y.astype("float64"), period=period, robust=robust).fit()
    return pd.DataFrame({
        "month": y.index,
        "observed": y.to_numpy(dtype="float64"),
        "trend": np.asarray(res.trend),
        "seasonal": np.asarray(res.seasonal),
        "resid": np.asarray(res.resid),
        "seasonally_adjusted": y.to_numpy(dtype="float64") - np.asarray(res.seasonal),
    })


def seasonal_profile(stl: pd.DataFrame) -> pd.DataFrame:
    """Average STL seasonal component by calendar month (the data of a seasonal chart).

    Parameters
    ----------
    stl : DataFrame
        Output of :func:`stl_decompose`.

    Returns
    -------
    DataFrame
        ``month_of_year`` (1-12), ``month_name``, ``value``: mean seasonal component (offences per month above
        (+) or below (−) the trend) over the years of the series.
    """
    if "seasonal" not in stl.columns or "month" not in stl.columns:
        raise DataValidationError("expects the output of stl_decompose (month, seasonal)", column="seasonal")
    month = pd.to_datetime(stl["month"]).dt.month
    value = stl["seasonal"].groupby(month).mean().reindex(range(1, 13))
    names = pd.date_range("2000-01-01", periods=12, freq="MS").strftime("%B")
    return pd.DataFrame({"month_of_year": range(1, 13), "month_name": names, "value": value.to_numpy()})


@dataclass
class TrendModelResult:
    """A fitted log-linear trend model (see :func:`fit_trend_model`).

    Attributes
    ----------
    family : str
        ``"negbin"`` (NB2 by maximum likelihood), ``"poisson"`` (the NB fit collapsed to alpha = 0) or
        ``"quasipoisson"``.
    annual_rate_ratio, annual_rate_ratio_ci : float, (float, float)
        Multiplicative change in the monthly rate per year (0.95 = 5% fall a year), Wald CI.
    covid_rate_ratio, covid_rate_ratio_ci : float, (float, float)
        Rate in the COVID window relative to the model's expectation without it (NaN if not in the data).
    seasonal_peak_month : int
        Calendar month (1-12) of the seasonal peak; ``seasonal_peak`` is the continuous value (0-12, 12 and 0
        are both December) and ``seasonal_peak_ci`` a simulation interval (may wrap round the year).
    seasonal_amplitude : float
        Peak-to-mean ratio: rate in the peak month / average over the 12 calendar months.
    seasonal_log_amplitude, seasonal_log_amplitude_ci : float, (float, float)
        Height of the seasonal curve's peak above its mean on the log scale (A of A·cos(2π(m − p)/12)).
    pearson_dispersion : float
        Pearson χ²/df of a Poisson GLM with the same terms (≫ 1: overdispersed).
    model_dispersion : float
        Pearson χ²/df of the chosen model (≈ 1 when its variance function fits).
    alpha, alpha_ci : float, (float, float)
        NB2 overdispersion (variance = μ + αμ²; shape = 1/α); for quasi-Poisson, NaN.
    overdispersion_p : float
        Likelihood-ratio test of α = 0 (Poisson) against α > 0, halved χ²₁ p-value (boundary).
    coefficients : DataFrame
        ``term, estimate, se, lower, upper, rate_ratio, rr_lower, rr_upper, p_value`` (log scale; rate ratios
        exponentiated).
    fitted : DataFrame
        ``month, observed, fitted`` (expected offences per month).
    confidence : float
    """

    family: str
    annual_rate_ratio: float
    annual_rate_ratio_ci: tuple[float, float]
    covid_rate_ratio: float
    covid_rate_ratio_ci: tuple[float, float]
    seasonal_peak_month: int
    seasonal_peak: float
    seasonal_peak_ci: tuple[float, float]
    seasonal_amplitude: float
    seasonal_log_amplitude: float
    seasonal_log_amplitude_ci: tuple[float, float]
    pearson_dispersion: float
    model_dispersion: float
    alpha: float
    alpha_ci: tuple[float, float]
    overdispersion_p: float
    coefficients: pd.DataFrame
    fitted: pd.DataFrame
    confidence: float
    _model: _Fit = field(repr=False, default=None)
    _spec: dict = field(repr=False, default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Headline numbers as a display table: ``measure, estimate, lower, upper``."""
        rows = [
            ("Annual rate ratio", self.annual_rate_ratio, *self.annual_rate_ratio_ci),
            ("COVID-19 lockdown rate ratio", self.covid_rate_ratio, *self.covid_rate_ratio_ci),
            ("Seasonal peak (month)", self.seasonal_peak, *self.seasonal_peak_ci),
            ("Seasonal amplitude (peak / mean)", self.seasonal_amplitude, math.nan, math.nan),
            ("Seasonal amplitude (log scale)", self.seasonal_log_amplitude, *self.seasonal_log_amplitude_ci),
            ("Overdispersion alpha (NB2)", self.alpha, *self.alpha_ci),
            ("Pearson chi-square / df (Poisson)", self.pearson_dispersion, math.nan, math.nan),
        ]
        return pd.DataFrame(rows, columns=["measure", "estimate", "lower", "upper"])

    def seasonal_curve(self, level: float | None = None) -> pd.DataFrame:
        """The fitted seasonal pattern by calendar month, on the log scale and in offences per month.

        Parameters
        ----------
        level : float, optional
            Deseasonalised level in offences per month used for the count scale (default: the mean fitted
            value over the last 12 months).

        Returns
        -------
        DataFrame
            ``month_of_year, log_effect, rate_ratio, value``: s(m), exp(s(m)) (relative to the seasonal mean
            on the log scale) and level × (exp(s(m)) − 1), comparable with the STL seasonal component.
        """
        K = self._spec["harmonics"]
        m = np.arange(1, 13, dtype="float64")
        if K:
            idx = [self._model.names.index(f"{f}{k}") for k in range(1, K + 1) for f in ("cos", "sin")]
            s = _seasonal_curve(self._model.params[idx], K, m)
        else:
            s = np.zeros(12)
        if level is None:
            level = float(self.fitted["fitted"].tail(12).mean())
        return pd.DataFrame({"month_of_year": range(1, 13), "log_effect": s, "rate_ratio": np.exp(s),
                             "value": level * (np.exp(s) - 1)})

    def forecast(self, months: int = 12, population=None, n_sim: int = 4000, seed: int = 20240401,
                 level: float = 0.95) -> pd.DataFrame:
        """Forecast the next ``months`` months with prediction intervals by simulation.

        Parameters
        ----------
        months : int
            Horizon (months after the last observed month).
        population : float or Series, optional
            Future population for a model with a population offset (default: the last observed value).
        n_sim : int
            Simulated paths.
        seed : int
            Seed of the random generator (results are reproducible).
        level : float
            Prediction-interval level.

        Returns
        -------
        DataFrame
            ``month, expected, mean_lower, mean_upper, lower, upper``: expected offences (point forecast,
            COVID term off), the interval for the mean (parameter uncertainty only) and the prediction
            interval for the count.

        Notes
        -----
        Each simulation draws the regression coefficients from their estimated multivariate normal sampling
        distribution, computes the monthly means, then draws counts: negative binomial with the fitted α
        (gamma-Poisson mixture), Poisson when α = 0, and for quasi-Poisson a negative binomial with variance
        φμ (φ = Pearson scale; Poisson if φ ≤ 1). Intervals are the empirical (1 − level)/2 and (1 + level)/2
        quantiles of the simulated counts.
        """
        if months < 1:
            raise ValueError("months must be at least 1")
        spec = self._spec
        last = spec["months"][-1]
        future = pd.date_range(last + pd.offsets.MonthBegin(1), periods=months, freq="MS", name="month")
        X = _design(future, spec["origin"], spec["harmonics"], spec["covid"], spec["interruption"])
        if "covid" in X:
            X["covid"] = 0.0  # forecasts assume no lockdown
        offset = np.zeros(months)
        if spec["has_offset"]:
            if population is None:
                pop = np.repeat(spec["last_population"], months)
            else:
                pop = _as_population(population, future)
            offset = np.log(pop)
        X = X[self._model.names]
        rng = np.random.default_rng(seed)
        beta = self._model.params
        draws = rng.multivariate_normal(beta, self._model.cov, size=n_sim, method="svd")
        eta_hat = X.to_numpy() @ beta + offset
        mu = np.exp(draws @ X.to_numpy().T + offset)  # n_sim x months
        counts = _simulate_counts(rng, mu, self._model)
        lo, hi = (1 - level) / 2, (1 + level) / 2
        return pd.DataFrame({
            "month": future,
            "expected": np.exp(eta_hat),
            "mean_lower": np.quantile(mu, lo, axis=0),
            "mean_upper": np.quantile(mu, hi, axis=0),
            "lower": np.quantile(counts, lo, axis=0),
            "upper": np.quantile(counts, hi, axis=0),
        })


def fit_trend_model(series: pd.Series | pd.DataFrame, population=None, covid=None, harmonics: int = 1,
                    family: str = "negbin", confidence: float | None = None, n_sim: int = 2000,
                    seed: int = 20240401) -> TrendModelResult:
    """Fit the log-linear trend + seasonality + COVID model to a monthly series.

    Parameters
    ----------
    series : Series or DataFrame
        Monthly counts indexed by month (from :func:`monthly_counts`) or a ``month, offences`` frame; the
        months must be consecutive.
    population : float, Series or DataFrame, optional
        Residents for an offset (a number, a Series indexed by month, or ``month, population``); then the
        ratios are of rates rather than counts.
    covid : (start, end), False or None
        COVID-19 first-lockdown window; ``None`` reads ``periods.covid_start``/``covid_end`` from the
        settings, ``False`` leaves the term out. The term is dropped when no month of the series falls in the
        window.
    harmonics : int
        Number of Fourier pairs for seasonality (0 = none; 1 gives a single annual peak).
    family : {"negbin", "quasipoisson"}
        NB2 regression by maximum likelihood (statsmodels ``NegativeBinomial``; falls back to Poisson,
        reported as ``family="poisson"``, when α is estimated as 0), or a Poisson GLM with Pearson-χ²-scaled
        standard errors.
    confidence : float, optional
        Level of the intervals (default ``rates.confidence`` = 0.95).
    n_sim, seed : int
        Draws and seed for the simulation intervals of the seasonal peak and amplitude.

    Returns
    -------
    TrendModelResult
        With ``annual_rate_ratio``, ``covid_rate_ratio``, ``seasonal_peak_month``, ``seasonal_amplitude``,
        dispersion checks, ``coefficients`` and ``forecast(12)``.

    Notes
    -----
    Wald intervals on the log scale for the rate ratios. The seasonal peak and amplitude intervals come from
    ``n_sim`` draws of the seasonal coefficients from their estimated normal distribution (seeded); the peak
    interval is taken on the circle around the estimate. Time is in years from the first month, so
    :math:`e^{\\beta_1}` is the rate ratio per year whatever the origin.

    References
    ----------
    Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd edn. Cambridge University Press.

    Stolwijk, A. M., Straatman, H. and Zielhuis, G. A. (1999). Studying seasonality by using sine and cosine
    functions in regression analysis. *J Epidemiol Community Health*, 53(4), 235-238.
    """
    conf = float(confidence if confidence is not None else settings()["rates"]["confidence"])
    y = _as_series(series)
    spec = _spec(y, population, covid, harmonics, None)
    X = _design(y.index, spec["origin"], harmonics, spec["covid"], None)
    fit = _fit_glm(y.to_numpy(dtype="float64"), X, spec["offset"], family)
    return _trend_result(y, fit, spec, conf, n_sim, seed)


@dataclass
class ITSResult:
    """Interrupted time series (segmented regression) result (see :func:`interrupted_time_series`).

    Attributes
    ----------
    interruption : Timestamp
        First month of the post-interruption segment.
    level_change, level_change_ci : float, (float, float)
        Rate ratio for the step at the interruption (1 = no step).
    slope_change, slope_change_ci : float, (float, float)
        Ratio of the post- to pre-interruption annual rate ratios (1 = no change in trend).
    pre_trend, post_trend : (float, float, float)
        Annual rate ratio before and after, each (estimate, lower, upper).
    table : DataFrame
        ``measure, estimate, lower, upper, p_value`` for the four quantities above.
    fitted : DataFrame
        ``month, observed, fitted, counterfactual`` (expected offences with and without the interruption
        terms).
    model : TrendModelResult
        The full fitted model (coefficients, dispersion, seasonality).
    """

    interruption: pd.Timestamp
    level_change: float
    level_change_ci: tuple[float, float]
    slope_change: float
    slope_change_ci: tuple[float, float]
    pre_trend: tuple[float, float, float]
    post_trend: tuple[float, float, float]
    table: pd.DataFrame
    fitted: pd.DataFrame
    model: TrendModelResult


def interrupted_time_series(series: pd.Series | pd.DataFrame, interruption_date, population=None, covid=None,
                            harmonics: int = 1, family: str = "negbin", confidence: float | None = None
                            ) -> ITSResult:
    """Segmented regression for an interruption (e.g. a new intervention): level and slope change with CIs.

    Parameters
    ----------
    series : Series or DataFrame
        Monthly counts (see :func:`fit_trend_model`).
    interruption_date : date-like
        The interruption; its month is the first post-interruption month.
    population, covid, harmonics, family, confidence
        As in :func:`fit_trend_model`.

    Returns
    -------
    ITSResult

    Notes
    -----
    Adds to the trend model a step :math:`\\delta\\,\\mathbb{1}[t \\ge t_0]` and a slope change
    :math:`\\lambda (t - t_0)\\,\\mathbb{1}[t \\ge t_0]` (years): level change :math:`e^{\\delta}`, slope
    change :math:`e^{\\lambda}`, post-interruption annual rate ratio :math:`e^{\\beta_1 + \\lambda}` (variance
    from the coefficient covariance). Wald intervals. Needs at least 6 months on each side.

    References
    ----------
    Bernal, J. L., Cummins, S. and Gasparrini, A. (2017). Interrupted time series regression for the
    evaluation of public health interventions: a tutorial. *International Journal of Epidemiology*, 46(1),
    348-355.

    Wagner, A. K., Soumerai, S. B., Zhang, F. and Ross-Degnan, D. (2002). Segmented regression analysis of
    interrupted time series studies in medication use research. *J Clin Pharm Ther*, 27(4), 299-309.
    """
    conf = float(confidence if confidence is not None else settings()["rates"]["confidence"])
    y = _as_series(series)
    t0 = pd.Timestamp(interruption_date).to_period("M").to_timestamp()
    n_pre, n_post = int((y.index < t0).sum()), int((y.index >= t0).sum())
    if n_pre < 6 or n_post < 6:
        raise DataValidationError(f"interrupted time series needs at least 6 months each side of {t0:%Y-%m} "
                                  f"(got {n_pre} before, {n_post} from it)", column="month")
    spec = _spec(y, population, covid, harmonics, t0)
    X = _design(y.index, spec["origin"], harmonics, spec["covid"], t0)
    fit = _fit_glm(y.to_numpy(dtype="float64"), X, spec["offset"], family)
    model = _trend_result(y, fit, spec, conf, 500, 1)
    z = sps.norm.ppf(0.5 + conf / 2)
    names = list(fit.names)
    i_t, i_s, i_l = names.index("time_years"), names.index("post_slope"), names.index("post_level")

    def lin(weights: dict) -> tuple[float, float, float, float]:
        w = np.zeros(len(names))
        for i, v in weights.items():
            w[i] = v
        est = float(w @ fit.params)
        se = float(np.sqrt(w @ fit.cov @ w))
        p = float(2 * sps.norm.sf(abs(est) / se)) if se > 0 else math.nan
        return math.exp(est), math.exp(est - z * se), math.exp(est + z * se), p

    level = lin({i_l: 1})
    slope = lin({i_s: 1})
    pre = lin({i_t: 1})
    post = lin({i_t: 1, i_s: 1})
    table = pd.DataFrame([
        ("Level change at interruption (rate ratio)", *level),
        ("Slope change (ratio of annual rate ratios)", *slope),
        ("Annual rate ratio before", *pre),
        ("Annual rate ratio after", *post),
    ], columns=["measure", "estimate", "lower", "upper", "p_value"])
    Xcf = X.copy()
    Xcf[["post_level", "post_slope"]] = 0.0
    counterfactual = np.exp(Xcf[names].to_numpy() @ fit.params + spec["offset"])
    fitted = model.fitted.assign(counterfactual=counterfactual)
    return ITSResult(interruption=t0, level_change=level[0], level_change_ci=level[1:3],
                     slope_change=slope[0], slope_change_ci=slope[1:3], pre_trend=pre[:3],
                     post_trend=post[:3], table=table, fitted=fitted, model=model)


# Internal helpers ------------------------------------------------------------------------------------------


@dataclass
class _Fit:
    names: list
    params: np.ndarray
    cov: np.ndarray
    family: str
    alpha: float
    alpha_ci: tuple
    scale: float
    mu: np.ndarray
    pearson_dispersion: float
    model_dispersion: float
    overdispersion_p: float


def _months_of(data: pd.DataFrame) -> pd.Series:
    for col in ("month", "recorded_date"):
        if col in data.columns:
            return pd.to_datetime(data[col]).dt.to_period("M").dt.to_timestamp()
    raise DataValidationError("data need a month or recorded_date column", column="month")


def _as_series(series) -> pd.Series:
    if isinstance(series, pd.DataFrame):
        if "month" not in series.columns:
            raise DataValidationError("series frame needs a month column", column="month")
        value = "offences" if "offences" in series.columns else next(c for c in series.columns if c != "month")
        series = series.set_index("month")[value]
    y = series.copy()
    y.index = pd.DatetimeIndex(pd.to_datetime(y.index)).to_period("M").to_timestamp()
    y = y.sort_index()
    if not len(y):
        raise DataValidationError("the monthly series is empty", column="month")
    if y.isna().any():
        raise DataValidationError("the monthly series has missing values", column="offences",
                                  examples=[str(m.date()) for m in y.index[y.isna()]])
    expected = pd.date_range(y.index[0], y.index[-1], freq="MS")
    if len(expected) != len(y) or not (expected == y.index).all():
        raise DataValidationError("months must be consecutive with no gaps or duplicates "
                                  "(use monthly_counts)",
                                  column="month")
    if (y < 0).any():
        raise DataValidationError("counts must be non-negative", column="offences")
    y.index = pd.DatetimeIndex(expected, name="month")
    return y


def _as_population(population, months: pd.DatetimeIndex) -> np.ndarray:
    if np.isscalar(population):
        pop = np.repeat(float(population), len(months))
    else:
        if isinstance(population, pd.DataFrame):
            population = population.set_index("month")["population"]
        s = population.copy()
        s.index = pd.DatetimeIndex(pd.to_datetime(s.index)).to_period("M").to_timestamp()
        pop = s.reindex(months).to_numpy(dtype="float64")
    if np.isnan(pop).any() or (pop <= 0).any():
        raise DataValidationError("population must be positive for every month", column="population")
    return pop


def _covid_window(covid):
    if covid is False:
        return None
    if covid is None:
        p = settings()["periods"]
        covid = (p["covid_start"], p["covid_end"])
    start, end = covid
    return pd.Timestamp(start), pd.Timestamp(end)


def _spec(y: pd.Series, population, covid, harmonics: int, interruption) -> dict:
    if harmonics < 0 or harmonics > 6:
        raise ValueError("harmonics must be between 0 and 6")
    window = _covid_window(covid)
    if window is not None and not ((y.index >= window[0]) & (y.index <= window[1])).any():
        window = None
    n_par = 2 + 2 * harmonics + (window is not None) + 2 * (interruption is not None)
    if len(y) <= n_par + 2:
        raise DataValidationError(f"{len(y)} months are too few for a model with {n_par} coefficients",
                                  column="month")
    if y.sum() == 0:
        raise DataValidationError("no offences in the series: a trend cannot be estimated", column="offences")
    offset = np.zeros(len(y))
    last_pop = math.nan
    if population is not None:
        pop = _as_population(population, y.index)
        offset = np.log(pop)
        last_pop = float(pop[-1])
    return {"origin": y.index[0], "harmonics": harmonics, "covid": window, "interruption": interruption,
            "offset": offset, "has_offset": population is not None, "last_population": last_pop,
            "months": y.index}


def _design(months: pd.DatetimeIndex, origin: pd.Timestamp, harmonics: int, covid, interruption
            ) -> pd.DataFrame:
    months = pd.DatetimeIndex(months)
    t = ((months.year - origin.year) * 12 + (months.month - origin.month)) / 12.0
    X = {"intercept": np.ones(len(months)), "time_years": np.asarray(t, dtype="float64")}
    m = np.asarray(months.month, dtype="float64")
    for k in range(1, harmonics + 1):
        X[f"cos{k}"] = np.cos(2 * np.pi * k * m / 12)
        X[f"sin{k}"] = np.sin(2 * np.pi * k * m / 12)
    if covid is not None:
        X["covid"] = ((months >= covid[0]) & (months <= covid[1])).astype("float64")
    if interruption is not None:
        post = (months >= interruption).astype("float64")
        t0 = ((interruption.year - origin.year) * 12 + (interruption.month - origin.month)) / 12.0
        X["post_level"] = post
        X["post_slope"] = post * (np.asarray(t, dtype="float64") - t0)
    return pd.DataFrame(X, index=months)


def _fit_glm(y: np.ndarray, X: pd.DataFrame, offset: np.ndarray, family: str) -> _Fit:
    import statsmodels.api as sm

    if family not in ("negbin", "quasipoisson"):
        raise ValueError("family must be 'negbin' or 'quasipoisson'")
    names = list(X.columns)
    Xa = X.to_numpy(dtype="float64")
    pois = sm.GLM(y, Xa, family=sm.families.Poisson(), offset=offset).fit()
    df = max(len(y) - Xa.shape[1], 1)
    pearson = float(pois.pearson_chi2 / df)
    if family == "quasipoisson":
        scale = max(pearson, 1e-12)
        return _Fit(names, np.asarray(pois.params), np.asarray(pois.cov_params()) * scale, "quasipoisson",
                    math.nan, (math.nan, math.nan), scale, np.asarray(pois.mu), pearson, pearson, math.nan)
    start = np.append(np.asarray(pois.params), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = sm.NegativeBinomial(y, Xa, loglike_method="nb2", offset=offset)
        res = nb.fit(start_params=start, disp=0, maxiter=500, method="bfgs")
        if not res.mle_retvals.get("converged", False):
            res = nb.fit(start_params=start, disp=0, maxiter=200, method="newton")
    alpha = float(res.params[-1])
    try:
        cov_full = np.asarray(res.cov_params())
    except (ValueError, np.linalg.LinAlgError):  # singular Hessian: alpha at the boundary
        cov_full = np.full((Xa.shape[1] + 1,) * 2, np.nan)
    ok = (res.mle_retvals.get("converged", False) and alpha > 1e-6 and np.all(np.isfinite(cov_full))
          and cov_full[-1, -1] > 0)
    if not ok:
        # alpha at the boundary (no extra-Poisson variation): NB2 reduces to Poisson
        return _Fit(names, np.asarray(pois.params), np.asarray(pois.cov_params()), "poisson", 0.0,
                    (0.0, math.nan), 1.0, np.asarray(pois.mu), pearson, pearson, 1.0)
    params = np.asarray(res.params[:-1])
    cov = cov_full[:-1, :-1]
    mu = np.exp(Xa @ params + offset)
    model_disp = float(np.sum((y - mu) ** 2 / (mu + alpha * mu ** 2)) / df)
    # CI for alpha on the log scale (delta method): se(log a) = se(a) / a
    se_a = math.sqrt(cov_full[-1, -1]) if cov_full[-1, -1] > 0 else math.nan
    z = sps.norm.ppf(0.975)
    with np.errstate(over="ignore"):  # alpha barely identified (sparse series): the interval runs to infinity
        alpha_ci = (float(alpha * np.exp(-z * se_a / alpha)), float(alpha * np.exp(z * se_a / alpha)))
    lr = max(2 * (float(res.llf) - float(pois.llf)), 0.0)
    p = 0.5 * float(sps.chi2.sf(lr, 1))
    return _Fit(names, params, cov, "negbin", alpha, alpha_ci, 1.0, mu, pearson, model_disp, p)


def _trend_result(y: pd.Series, fit: _Fit, spec: dict, conf: float, n_sim: int, seed: int
                  ) -> TrendModelResult:
    z = sps.norm.ppf(0.5 + conf / 2)
    se = np.sqrt(np.diag(fit.cov))
    est = fit.params
    with np.errstate(divide="ignore", invalid="ignore"):
        pval = 2 * sps.norm.sf(np.abs(est / se))
    coef = pd.DataFrame({"term": fit.names, "estimate": est, "se": se, "lower": est - z * se,
                         "upper": est + z * se})
    coef["rate_ratio"] = np.exp(coef["estimate"])
    coef["rr_lower"] = np.exp(coef["lower"])
    coef["rr_upper"] = np.exp(coef["upper"])
    coef["p_value"] = pval
    c = coef.set_index("term")

    def rr(term):
        if term not in c.index:
            return math.nan, (math.nan, math.nan)
        ci = (float(c.loc[term, "rr_lower"]), float(c.loc[term, "rr_upper"]))
        return float(c.loc[term, "rate_ratio"]), ci

    annual, annual_ci = rr("time_years")
    covid, covid_ci = rr("covid")
    K = spec["harmonics"]
    if K:
        idx = [fit.names.index(f"{f}{k}") for k in range(1, K + 1) for f in ("cos", "sin")]
        peak, log_amp, ratio = _seasonal_shape(est[idx], K)
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(est[idx], fit.cov[np.ix_(idx, idx)], size=n_sim, method="svd")
        sim_peak, sim_amp = _seasonal_peaks(draws, K)
        diff = (sim_peak - peak + 6) % 12 - 6  # circular difference in months
        lo, hi = (1 - conf) / 2, (1 + conf) / 2
        peak_ci = (float(peak + np.quantile(diff, lo)), float(peak + np.quantile(diff, hi)))
        amp_ci = (float(np.quantile(sim_amp, lo)), float(np.quantile(sim_amp, hi)))
        peak_month = round(peak) % 12 or 12
    else:
        peak, log_amp, ratio, peak_ci, amp_ci, peak_month = math.nan, 0.0, 1.0, (math.nan,) * 2, (0.0, 0.0), 0
    fitted = pd.DataFrame({"month": y.index, "observed": y.to_numpy(), "fitted": fit.mu})
    return TrendModelResult(
        family=fit.family, annual_rate_ratio=annual, annual_rate_ratio_ci=annual_ci, covid_rate_ratio=covid,
        covid_rate_ratio_ci=covid_ci, seasonal_peak_month=peak_month, seasonal_peak=float(peak),
        seasonal_peak_ci=peak_ci, seasonal_amplitude=float(ratio), seasonal_log_amplitude=float(log_amp),
        seasonal_log_amplitude_ci=amp_ci, pearson_dispersion=fit.pearson_dispersion,
        model_dispersion=fit.model_dispersion, alpha=fit.alpha, alpha_ci=fit.alpha_ci,
        overdispersion_p=fit.overdispersion_p, coefficients=coef, fitted=fitted, confidence=conf, _model=fit,
        _spec=spec)


def _seasonal_shape(coefs: np.ndarray, harmonics: int) -> tuple[float, float, float]:
    """(peak month in (0, 12], log amplitude above the mean, peak-to-mean ratio over 12 calendar months)."""
    if harmonics == 1:
        a, b = coefs
        peak = (math.atan2(b, a) * 12 / (2 * math.pi)) % 12
        log_amp = math.hypot(a, b)
    else:
        grid = np.linspace(0, 12, 1200, endpoint=False)
        s = _seasonal_curve(coefs, harmonics, grid)
        peak = float(grid[np.argmax(s)])
        log_amp = float(s.max() - s.mean())
    peak = peak if peak > 0 else 12.0
    months = _seasonal_curve(coefs, harmonics, np.arange(1, 13, dtype="float64"))
    ratio = float(np.exp(months.max()) / np.exp(months).mean())
    return peak, log_amp, ratio


def _seasonal_peaks(draws: np.ndarray, harmonics: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised peak month and log amplitude for many draws of the seasonal coefficients (rows)."""
    if harmonics == 1:
        peak = (np.arctan2(draws[:, 1], draws[:, 0]) * 12 / (2 * np.pi)) % 12
        return peak, np.hypot(draws[:, 0], draws[:, 1])
    grid = np.linspace(0, 12, 240, endpoint=False)
    basis = np.column_stack([f(2 * np.pi * k * grid / 12) for k in range(1, harmonics + 1)
                             for f in (np.cos, np.sin)])
    s = draws @ basis.T
    return grid[np.argmax(s, axis=1)], s.max(axis=1) - s.mean(axis=1)


def _seasonal_curve(coefs: np.ndarray, harmonics: int, m: np.ndarray) -> np.ndarray:
    s = np.zeros_like(m)
    for k in range(1, harmonics + 1):
        angle = 2 * np.pi * k * m / 12
        s += coefs[2 * (k - 1)] * np.cos(angle) + coefs[2 * k - 1] * np.sin(angle)
    return s


def _simulate_counts(rng: np.random.Generator, mu: np.ndarray, fit: _Fit) -> np.ndarray:
    if fit.family == "negbin" and fit.alpha > 0:
        lam = mu * rng.gamma(1 / fit.alpha, fit.alpha, size=mu.shape)
        return rng.poisson(lam)
    if fit.family == "quasipoisson" and fit.scale > 1:
        alpha = (fit.scale - 1) / mu  # variance phi*mu = mu + alpha*mu^2
        lam = mu * rng.gamma(1 / alpha, alpha)
        return rng.poisson(lam)
    return rng.poisson(mu)
