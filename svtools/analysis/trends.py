"""Monthly trends: complete series, STL decomposition, log-linear trend models, interrupted time series.

The trend model is the one partners' questions need ("is it going down, by how much a year, when is the peak,
how big was the lockdown dip?") and the one the synthetic demo data are generated from:

.. math::

    \\log E[y_t] = \\beta_0 + \\beta_1 t
                   + \\sum_{k=1}^{K} (a_k \\cos(2\\pi k m_t/12) + b_k \\sin(2\\pi k m_t/12))
                   + \\gamma\\, \\mathbb{1}[t \\in \\text{COVID}] + \\log(\\text{population}_t)

with :math:`t` in years, :math:`m_t` the calendar month (1-12), a COVID-19 first-lockdown indicator (window
from ``periods.covid_start``/``covid_end`` in ``config/settings.yaml``, April-June 2020) and an optional
population offset (residents by month, ONS mid-year estimates): with it :math:`e^{\\beta_1}` is the annual
**rate** ratio (offences per resident), without it a ratio of counts (``TrendModelResult.ratio_kind``). It is
fitted as a negative binomial (NB2) regression (default) or a quasi-Poisson GLM (Pearson-scaled variance); with
one harmonic, :math:`a_1 = A\\cos(2\\pi p/12)`, :math:`b_1 = A\\sin(2\\pi p/12)` give the seasonal
log-amplitude :math:`A` and peak month :math:`p`; :math:`e^{\\gamma}` is the COVID rate ratio.

**One model of the 2020 interruption.** :func:`covid_trend_model` is the model the profile pages use for the
trend, the seasonality and the lockdown: the lockdown is a temporary term, so the model's "expected without
COVID" (``fitted["counterfactual"]``) is the fit itself outside the window and the same trend and season inside
it. :func:`interrupted_time_series` (a lasting step and slope change) is kept for evaluating an intervention
with a long enough series on each side; it is not the pages' COVID answer.

**Calibrated intervals** (``benchmarks/bench_calibration.py``: 95% +/- 1.5 points at 3, 15 and 150 offences a
month). Changes from the first version, on purpose: the NB2 dispersion is estimated from the Cox-Reid adjusted
profile likelihood (maximum likelihood underestimates it in 7-year series, which made forecast bands too
narrow); rate-ratio intervals use Student-t quantiles on the residual degrees of freedom; forecasts draw the
coefficients from a multivariate t, give whole-number limits whose probability is closest to 95% (not the
conservative quantiles, which held 97% at 3 a month), and are widened when the model's own earlier forecasts
of the series missed by more than they claimed (:meth:`TrendModelResult.forecast_check`). The NB2 fit no longer
falls back to Poisson when the optimiser fails at large counts (it did for London's 18,000 a month).

Everything returns tidy DataFrames or small dataclasses holding them; nothing here plots.

References
----------
Cleveland, R. B., Cleveland, W. S., McRae, J. E. and Terpenning, I. (1990). STL: a seasonal-trend
decomposition procedure based on loess. *Journal of Official Statistics*, 6(1), 3-73.

Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd edn. Cambridge: Cambridge University Press.

Cox, D. R. and Reid, N. (1987). Parameter orthogonality and approximate conditional inference. *Journal of the
Royal Statistical Society B*, 49(1), 1-39.

McCarthy, D. J., Chen, Y. and Smyth, G. K. (2012). Differential expression analysis of multifactor RNA-Seq
experiments with respect to biological variation. *Nucleic Acids Research*, 40(10), 4288-4297.

Czado, C., Gneiting, T. and Held, L. (2009). Predictive model assessment for count data. *Biometrics*, 65(4),
1254-1261 (the randomised probability integral transform of :meth:`TrendModelResult.forecast_check`).

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
    "FAMILY_WORDS",
    "TrendModelResult",
    "covid_trend_model",
    "family_sentence",
    "family_words",
    "fit_trend_model",
    "interrupted_time_series",
    "monthly_counts",
    "seasonal_profile",
    "stl_decompose",
]


#: The words pages use for a fitted model's ``family`` (:attr:`TrendModelResult.family`): the one source, so a
#: page never names a family its model did not use. Each is (name, what it means for the counts).
FAMILY_WORDS: dict[str, tuple[str, str]] = {
    "negbin": ("negative binomial",
               "the months vary more than chance alone would make them, and the model allows for that"),
    "poisson": ("Poisson",
                "the months vary no more than chance alone would make them, so no extra variation is allowed for"),
    "quasipoisson": ("quasi-Poisson",
                     "the months vary more than chance alone would make them; the intervals are widened by that "
                     "much"),
}


def family_words(family: str) -> str:
    """The name of a fitted model's family in words ("negative binomial", "Poisson", "quasi-Poisson").

    Raises
    ------
    ValueError
        A family with no words in :data:`FAMILY_WORDS`.
    """
    if family not in FAMILY_WORDS:
        raise ValueError(f"no words for the model family {family!r} (add them to svtools.analysis.trends."
                         "FAMILY_WORDS)")
    return FAMILY_WORDS[family][0]


def family_sentence(family: str) -> str:
    """One sentence naming the fitted model's family and what it means, for a page.

    Examples
    --------
    >>> family_sentence("negbin")[:60]
    'The model is a negative binomial regression: the months vary'
    """
    family_words(family)
    name, meaning = FAMILY_WORDS[family]
    return f"The model is a {name} regression: {meaning}."


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
        ``"negbin"`` (NB2; dispersion from the Cox-Reid adjusted profile likelihood), ``"poisson"`` (the
        extra-Poisson variance is below 0.1% of the Poisson variance) or ``"quasipoisson"``.
    annual_rate_ratio, annual_rate_ratio_ci : float, (float, float)
        Multiplicative change in the monthly rate per year (0.95 = 5% fall a year), Wald interval with a
        Student-t quantile on the residual degrees of freedom. A rate ratio (offences per resident) when the
        model has a population offset, else a ratio of counts (:attr:`ratio_kind`).
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
        ``month, observed, fitted, counterfactual`` (offences per month: recorded, expected by the model, and
        expected with the COVID and interruption terms off - "expected without COVID"), plus ``population``
        (residents, the offset) when the model has one.
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
    _check: dict | None = field(repr=False, default=None)

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
                 level: float = 0.95, check: bool = True) -> pd.DataFrame:
        """Forecast the next ``months`` months with prediction intervals from the predictive distribution.

        Parameters
        ----------
        months : int
            Horizon (months after the last observed month).
        population : float or Series, optional
            Future residents for a model with a population offset (default: the last observed month's value,
            i.e. the latest mid-year estimate carried forward).
        n_sim : int
            Simulated draws of the predictive distribution.
        seed : int
            Seed of the random generator (results are reproducible).
        level : float
            Prediction-interval level.
        check : bool
            Widen the intervals when the model's own earlier forecasts missed by more than its intervals
            allowed (:meth:`forecast_check`); False gives the model's intervals as fitted.

        Returns
        -------
        DataFrame
            ``month, expected, mean_lower, mean_upper, lower, upper``: expected offences a month (point
            forecast, COVID term off), the interval for the mean (parameter uncertainty only) and the
            prediction interval for the count (whole numbers of offences). ``attrs["inflation"]`` is the
            variance factor applied (1 = none) and ``attrs["check"]`` the :meth:`forecast_check` result.

        Notes
        -----
        Each draw takes the regression coefficients from a multivariate Student-t centred on the estimates
        with their covariance and the residual degrees of freedom (matching the t-based intervals), computes
        the monthly means, then draws a count: negative binomial with the fitted alpha (Cox-Reid adjusted, so
        not biased low in short series), Poisson when alpha = 0, and for quasi-Poisson a negative binomial
        with variance phi*mu, phi drawn as phi_hat*df/chi2(df) (Poisson if phi <= 1).

        Real series wander round a log-linear trend more than independent monthly noise allows (a level that
        stays high for months, a trend that bends). :meth:`forecast_check` measures it on the series itself:
        when the model's forecasts from earlier origins were off by more than their predictive spread
        (mean squared normal score ``c2`` > 1), the extra-Poisson variance is raised so that the predictive
        variance on the log scale is ``c2`` times the model's. It is never narrowed.

        Counts are whole numbers, so no interval holds exactly ``level`` of a small count's distribution:
        the interval is the pair of whole numbers, among the central quantiles and one step inside each,
        whose predictive probability is closest to ``level`` (ties: the wider). Conservative quantile
        intervals would hold 97-98% at 3 offences a month; these hold about 95% on average
        (``benchmarks/bench_calibration.py``).
        """
        if months < 1:
            raise ValueError("months must be at least 1")
        spec = self._spec
        last = spec["months"][-1]
        future = pd.date_range(last + pd.offsets.MonthBegin(1), periods=months, freq="MS", name="month")
        offset = np.zeros(months)
        if spec["has_offset"]:
            if population is None:
                pop = np.repeat(spec["last_population"], months)
            else:
                pop = _as_population(population, future)
            offset = np.log(pop)
        result = self.forecast_check() if check else None
        inflate = result["inflation"] if result else 1.0
        rng = np.random.default_rng(seed)
        eta_hat, mu, counts = _draw_counts(self._spec, self._model, future, offset, n_sim, rng, inflate)
        lo, hi = (1 - level) / 2, (1 + level) / 2
        lower, upper = _count_interval(counts, level)
        out = pd.DataFrame({
            "month": future,
            "expected": np.exp(eta_hat),
            "mean_lower": np.quantile(mu, lo, axis=0),
            "mean_upper": np.quantile(mu, hi, axis=0),
            "lower": lower,
            "upper": upper,
        })
        out.attrs.update(inflation=float(inflate), check=result)
        return out

    def forecast_check(self, horizon: int = 12, max_origins: int = 6, min_months: int = 36,
                       n_sim: int = 1000, seed: int = 7) -> dict:
        """How well the model forecast the series' own recent years: the variance factor for its forecasts.

        For origins 12, 24, ... months before the end (at most ``max_origins``, each with at least
        ``min_months`` months before it), the same model is fitted to the months before the origin and
        forecasts the next ``horizon`` months. Each recorded count gets a randomised probability-integral
        transform under its forecast distribution, turned into a normal score z (standard normal when the
        forecast distribution is right, whatever the volume). Months in the COVID-19 window are left out (the
        model treats them as a one-off). ``c2`` is the mean over origins of the mean z^2.

        Returns
        -------
        dict
            ``origins`` (number used), ``months`` (scores), ``c2`` (NaN without an origin), ``inflation``
            (``max(1, c2)``: 1 when there is no origin or the forecasts were as good as claimed) and
            ``coverage`` (share of the checked months inside the model's own 95% intervals, before any
            widening).
        """
        if getattr(self, "_check", None) is not None:
            return self._check
        spec = self._spec
        y, args = spec.get("y"), spec.get("fit_args")
        out = {"origins": 0, "months": 0, "c2": math.nan, "inflation": 1.0, "coverage": math.nan}
        if y is None:
            return out
        n = len(y)
        rng = np.random.default_rng(seed)
        per_origin, inside = [], []
        window = spec["covid"]
        for k in range(1, max_origins + 1):
            t0 = n - horizon * k
            if t0 < min_months:
                break
            sub = y.iloc[:t0]
            pop = None if not spec["has_offset"] else pd.Series(np.exp(spec["offset"][:t0]), index=sub.index)
            family = "quasipoisson" if self._model.family == "quasipoisson" else "negbin"
            try:
                sspec = _spec(sub, pop, args["covid"], args["harmonics"], None)
                X = _design(sub.index, sspec["origin"], args["harmonics"], sspec["covid"], None)
                sfit = _fit_glm(sub.to_numpy(dtype="float64"), X, sspec["offset"], family, lr_test=False)
            except (DataValidationError, ArithmeticError, np.linalg.LinAlgError, ValueError):
                continue
            act = y.iloc[t0:t0 + horizon]
            _, _, counts = _draw_counts(sspec, sfit, act.index, spec["offset"][t0:t0 + len(act)], n_sim, rng)
            obs = act.to_numpy(dtype="float64")
            below = (counts < obs[None, :]).mean(axis=0)
            at = (counts == obs[None, :]).mean(axis=0)
            u = np.clip(below + rng.random(len(obs)) * at, 0.5 / n_sim, 1 - 0.5 / n_sim)
            z = sps.norm.ppf(u)
            lo, hi = _count_interval(counts, 0.95)
            keep = np.ones(len(obs), dtype=bool)
            if window is not None:
                keep = ~((act.index >= window[0]) & (act.index <= window[1]))
            if keep.sum() < 6:
                continue
            per_origin.append(float(np.mean(z[keep] ** 2)))
            inside.extend(((obs >= lo) & (obs <= hi))[keep].tolist())
        if per_origin:
            c2 = float(np.mean(per_origin))
            out = {"origins": len(per_origin), "months": len(inside), "c2": c2, "inflation": max(1.0, c2),
                   "coverage": float(np.mean(inside))}
        self._check = out
        return out

    @property
    def ratio_kind(self) -> str:
        """``"rate"`` when the model has a population offset (its ratios are rate ratios), else ``"count"``."""
        return "rate" if self._spec.get("has_offset") else "count"

    @property
    def residual_autocorrelation(self) -> float:
        """Lag-1 autocorrelation of the Pearson residuals over the fitted months (NaN when too few).

        Values well above 0 (roughly above 2/sqrt(n)) mean months off the model come in runs, which the
        model's independent-count intervals do not allow for."""
        f = self.fitted
        mu = f["fitted"].to_numpy(dtype="float64")
        y = f["observed"].to_numpy(dtype="float64")
        ok = mu > 0
        fit = self._model
        var = mu[ok] * fit.scale if fit.family == "quasipoisson" else mu[ok] + (fit.alpha or 0.0) * mu[ok] ** 2
        r = (y[ok] - mu[ok]) / np.sqrt(var)
        if r.size < 12:
            return math.nan
        r = r - r.mean()
        return float(np.sum(r[1:] * r[:-1]) / np.sum(r * r))

    @property
    def covid_window(self):
        """(first, last) month of the lockdown term, or None when the model has none."""
        return self._spec.get("covid")

    def covid_effect(self) -> dict:
        """The lockdown window in offences: observed, expected without COVID and the difference.

        Returns
        -------
        dict
            ``months`` (number in the window), ``observed`` (offences recorded), ``expected`` (sum of the
            counterfactual: the trend and season without the COVID term, offences), ``difference``
            (observed - expected) and ``rate_ratio`` / ``rate_ratio_ci``. Empty when there is no window.
        """
        w = self.covid_window
        if w is None:
            return {}
        f = self.fitted
        inside = (f["month"] >= w[0]) & (f["month"] <= w[1])
        obs = float(f.loc[inside, "observed"].sum())
        exp_ = float(f.loc[inside, "counterfactual"].sum())
        return {"months": int(inside.sum()), "observed": obs, "expected": exp_, "difference": obs - exp_,
                "rate_ratio": self.covid_rate_ratio, "rate_ratio_ci": self.covid_rate_ratio_ci}


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
        NB2 regression (see Notes; reported as ``family="poisson"`` when the extra-Poisson variance is
        negligible), or a Poisson GLM with Pearson-χ²-scaled standard errors.
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
    NB2 (variance mu + alpha mu^2): for each alpha the coefficients are the maximum likelihood GLM fit
    (iteratively reweighted least squares); alpha maximises the Cox-Reid adjusted profile log-likelihood
    l(alpha) - 1/2 log det(X'WX), W = diag(mu / (1 + alpha mu)) (Cox and Reid 1987; as edgeR and DESeq2
    estimate NB dispersions), which removes most of the small-sample downward bias of the maximum likelihood
    estimate. ``alpha_ci`` is a Wald interval on log alpha from the curvature of that likelihood; the
    overdispersion test compares the maximum likelihood NB2 and Poisson fits (halved chi-square(1)). When
    every month of the lockdown window is 0 the lockdown coefficient's estimate is minus infinity: the model
    is fitted without those months and the term (the likelihood's limit), and ``covid_rate_ratio`` is 0.

    Rate-ratio intervals: Wald on the log scale with Student-t quantiles on n - p degrees of freedom (a
    small-sample allowance for the estimated dispersion; at 84 months t(77) gives 1.99 rather than 1.96).
    The seasonal peak and amplitude intervals come from ``n_sim`` draws of the seasonal coefficients from
    their estimated normal distribution (seeded); the peak interval is taken on the circle around the
    estimate. Time is in years from the first month, so :math:`e^{\\beta_1}` is the rate ratio per year
    whatever the origin.

    References
    ----------
    Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd edn. Cambridge University Press.

    Stolwijk, A. M., Straatman, H. and Zielhuis, G. A. (1999). Studying seasonality by using sine and cosine
    functions in regression analysis. *J Epidemiol Community Health*, 53(4), 235-238.
    """
    conf = float(confidence if confidence is not None else settings()["rates"]["confidence"])
    y = _as_series(series)
    spec = _spec(y, population, covid, harmonics, None)
    spec["y"] = y
    spec["fit_args"] = {"covid": covid, "harmonics": harmonics, "family": family}
    X = _design(y.index, spec["origin"], harmonics, spec["covid"], None)
    fit = _fit_glm(y.to_numpy(dtype="float64"), X, spec["offset"], family)
    return _trend_result(y, fit, spec, conf, n_sim, seed)


def covid_trend_model(series: pd.Series | pd.DataFrame, population=None, confidence: float | None = None
                      ) -> tuple[TrendModelResult, str]:
    """The one model of the monthly series the profiles publish: trend, season and the first lockdown.

    Both the trend section and the COVID-19 section of a profile use this fit, so the page gives one answer
    to "how big was the lockdown dip?" and one trend.

    Parameters
    ----------
    series : Series or DataFrame
        Published monthly counts of offences (see :func:`fit_trend_model`).
    population : Series, optional
        Residents by month (e.g. :func:`svtools.analysis.population.monthly_residents`): the model is then of
        the rate per resident, and its ratios are rate ratios; without it they are ratios of counts.
    confidence : float, optional
        Interval level (default ``rates.confidence``).

    Returns
    -------
    (TrendModelResult, str)
        The fit and a note ("" or one sentence saying the quasi-Poisson fallback was used).

    Notes
    -----
    The model is :func:`fit_trend_model` with one seasonal harmonic and the lockdown window of
    ``config/settings.yaml`` (``periods.covid_start`` to ``covid_end``, April-June 2020) as a temporary term:
    the trend and the season are estimated from every month, the lockdown months are allowed their own level,
    and ``exp(gamma)`` is the ratio of what was recorded in them to what the trend and season predict. Its
    ``fitted["counterfactual"]`` ("expected without COVID") equals the fitted values outside the window. It
    does not assume a lasting step or change of slope after the lockdown: a segmented model (step and slope
    change from April 2020, :func:`interrupted_time_series`) estimates the pre-2020 slope from two years and
    projects it five years ahead, which is not a claim two years of data support.

    Negative binomial (NB2) first; if that fit fails numerically, quasi-Poisson.
    """
    try:
        return fit_trend_model(series, population=population, confidence=confidence), ""
    except (ArithmeticError, np.linalg.LinAlgError, ValueError) as exc:
        note = (f"The negative binomial fit failed ({type(exc).__name__}), so a quasi-Poisson model "
                "(Poisson with overdispersion-scaled intervals) is used.")
        return fit_trend_model(series, population=population, confidence=confidence,
                               family="quasipoisson"), note


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
    z = _quantile(conf, fit.df_resid)
    names = list(fit.names)
    i_t, i_s, i_l = names.index("time_years"), names.index("post_slope"), names.index("post_level")

    def lin(weights: dict) -> tuple[float, float, float, float]:
        w = np.zeros(len(names))
        for i, v in weights.items():
            w[i] = v
        est = float(w @ fit.params)
        se = float(np.sqrt(w @ fit.cov @ w))
        p = float(2 * sps.t.sf(abs(est) / se, fit.df_resid)) if se > 0 else math.nan
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
    log_alpha_se: float
    scale: float
    mu: np.ndarray
    pearson_dispersion: float
    model_dispersion: float
    overdispersion_p: float
    df_resid: int = 1
    covid_separated: bool = False


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


def _irls(y: np.ndarray, X: np.ndarray, offset: np.ndarray, alpha: float, beta0=None, maxit: int = 100
          ) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood coefficients of a log-link NB2 GLM with ``alpha`` fixed (``alpha = 0``: Poisson) by
    iteratively reweighted least squares, with step halving when the log-likelihood falls."""
    if beta0 is None:
        start = np.log(y + 0.5) - offset
        w0 = np.sqrt(y + 0.5)
        beta = np.linalg.lstsq(X * w0[:, None], start * w0, rcond=None)[0]
    else:
        beta = np.array(beta0, dtype="float64")

    def mu_of(b):
        return np.exp(np.clip(X @ b + offset, -700, 700))

    ll = _nb_loglik(y, mu_of(beta), alpha)
    for _ in range(maxit):
        mu = mu_of(beta)
        w = mu / (1 + alpha * mu)
        z = X @ beta + (y - mu) / mu
        XtW = X.T * w
        try:
            new = np.linalg.solve(XtW @ X, XtW @ z)
        except np.linalg.LinAlgError as exc:
            raise np.linalg.LinAlgError(f"the trend model's design is singular ({exc})") from None
        step = new - beta
        for _half in range(30):
            ll_new = _nb_loglik(y, mu_of(beta + step), alpha)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-10 * (1 + abs(ll)):
                break
            step = step / 2
        beta = beta + step
        change, ll = abs(ll_new - ll), ll_new
        if np.max(np.abs(step)) < 1e-9 * (1 + np.max(np.abs(beta))) or change < 1e-12 * (1 + abs(ll)):
            break
    if not np.all(np.isfinite(beta)):
        raise ArithmeticError("the trend model did not converge")
    return beta, mu_of(beta)


def _nb_loglik(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    """NB2 log-likelihood (variance mu + alpha mu^2); Poisson when ``alpha = 0``."""
    from scipy import special

    if alpha <= 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1)))
    r = 1.0 / alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
                            + r * np.log(r / (r + mu)) + special.xlogy(y, mu / (r + mu))))


#: Search range of the NB2 dispersion alpha (log scale).
_LOG_ALPHA_RANGE = (math.log(1e-9), math.log(20.0))


def _profile_alpha(y: np.ndarray, X: np.ndarray, offset: np.ndarray, adjusted: bool, beta0: np.ndarray
                   ) -> tuple[float, float, float]:
    """Maximise the (Cox-Reid adjusted) profile log-likelihood of NB2 over log alpha.

    Returns (log alpha, its standard error from the curvature (NaN at the boundary), maximum)."""
    from scipy import optimize

    state = {"beta": beta0}

    def apl(theta: float) -> float:
        a = math.exp(theta)
        beta, mu = _irls(y, X, offset, a, state["beta"])
        state["beta"] = beta
        val = _nb_loglik(y, mu, a)
        if adjusted:
            w = mu / (1 + a * mu)
            val -= 0.5 * np.linalg.slogdet((X.T * w) @ X)[1]
        return val

    res = optimize.minimize_scalar(lambda th: -apl(th), bounds=_LOG_ALPHA_RANGE, method="bounded",
                                   options={"xatol": 1e-4})
    theta = float(res.x)
    h = 0.02
    se = math.nan
    if _LOG_ALPHA_RANGE[0] + h < theta < _LOG_ALPHA_RANGE[1] - h:
        d2 = (apl(theta + h) - 2 * apl(theta) + apl(theta - h)) / h ** 2
        if d2 < 0:
            se = 1.0 / math.sqrt(-d2)
    return theta, se, -float(res.fun)


def _fit_glm(y: np.ndarray, X: pd.DataFrame, offset: np.ndarray, family: str, lr_test: bool = True) -> _Fit:
    """Fit the log-linear count model (see :func:`fit_trend_model`, Notes); ``lr_test=False`` skips the
    likelihood-ratio test of overdispersion (its p-value is then NaN)."""
    if family not in ("negbin", "quasipoisson"):
        raise ValueError("family must be 'negbin' or 'quasipoisson'")
    names = list(X.columns)
    Xa = X.to_numpy(dtype="float64")
    keep = np.ones(len(y), dtype=bool)
    separated = False
    if "covid" in names:
        window = Xa[:, names.index("covid")] > 0
        if window.any() and y[window].sum() == 0:
            # no offence in the lockdown window: the covid coefficient's MLE is -infinity; the limit of the
            # likelihood is the model without those months and without the term
            separated = True
            keep = ~window
            j = names.index("covid")
            names = names[:j] + names[j + 1:]
            Xa = np.delete(Xa, j, axis=1)
    yk, Xk, ok = y[keep], Xa[keep], offset[keep]
    n, p = Xk.shape
    df = max(n - p, 1)
    beta_p, mu_p = _irls(yk, Xk, ok, 0.0)
    pearson = float(np.sum((yk - mu_p) ** 2 / mu_p) / df)
    ll_pois = _nb_loglik(yk, mu_p, 0.0)

    def full_mu(beta):
        mu = np.zeros(len(y))
        mu[keep] = np.exp(Xk @ beta + ok)
        return mu

    def inv_info(mu, a):
        w = mu / (1 + a * mu)
        return np.linalg.inv((Xk.T * w) @ Xk)

    common = dict(names=names, df_resid=df, pearson_dispersion=pearson, covid_separated=separated)
    if family == "quasipoisson":
        scale = max(pearson, 1e-12)
        return _Fit(params=beta_p, cov=inv_info(mu_p, 0.0) * scale, family="quasipoisson", alpha=math.nan,
                    alpha_ci=(math.nan, math.nan), log_alpha_se=math.nan, scale=scale, mu=full_mu(beta_p),
                    model_dispersion=pearson, overdispersion_p=math.nan, **common)
    theta, se_theta, _ = _profile_alpha(yk, Xk, ok, adjusted=True, beta0=beta_p)
    alpha = math.exp(theta)
    p_od = math.nan
    if lr_test:
        _, _, ll_ml = _profile_alpha(yk, Xk, ok, adjusted=False, beta0=beta_p)
        lr = max(2 * (ll_ml - ll_pois), 0.0)
        p_od = 0.5 * float(sps.chi2.sf(lr, 1))  # boundary: half chi-square(1)
    if alpha * float(np.mean(mu_p)) < 1e-3:
        # extra-Poisson variance below 0.1% of the Poisson variance: NB2 is Poisson
        return _Fit(params=beta_p, cov=inv_info(mu_p, 0.0), family="poisson", alpha=0.0,
                    alpha_ci=(0.0, math.nan), log_alpha_se=math.nan, scale=1.0, mu=full_mu(beta_p),
                    model_dispersion=pearson, overdispersion_p=p_od, **common)
    beta, mu = _irls(yk, Xk, ok, alpha, beta_p)
    model_disp = float(np.sum((yk - mu) ** 2 / (mu + alpha * mu ** 2)) / df)
    z = sps.norm.ppf(0.975)
    if np.isfinite(se_theta):
        with np.errstate(over="ignore"):  # alpha barely identified (sparse series): the interval runs to infinity
            alpha_ci = (float(alpha * np.exp(-z * se_theta)), float(alpha * np.exp(z * se_theta)))
    else:
        alpha_ci = (math.nan, math.nan)
    return _Fit(params=beta, cov=inv_info(mu, alpha), family="negbin", alpha=alpha, alpha_ci=alpha_ci,
                log_alpha_se=se_theta, scale=1.0, mu=full_mu(beta), model_dispersion=model_disp,
                overdispersion_p=p_od, **common)


def _trend_result(y: pd.Series, fit: _Fit, spec: dict, conf: float, n_sim: int, seed: int
                  ) -> TrendModelResult:
    q = _quantile(conf, fit.df_resid)
    se = np.sqrt(np.diag(fit.cov))
    est = fit.params
    with np.errstate(divide="ignore", invalid="ignore"):
        pval = 2 * sps.t.sf(np.abs(est / se), fit.df_resid)
    coef = pd.DataFrame({"term": fit.names, "estimate": est, "se": se, "lower": est - q * se,
                         "upper": est + q * se})
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
    if fit.covid_separated:
        covid, covid_ci = 0.0, (0.0, math.nan)  # no offence in the window: the estimate is 0, unbounded above
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
    X = _design(y.index, spec["origin"], K, spec["covid"], spec["interruption"])
    cf = X.copy()
    for col in ("covid", "post_level", "post_slope"):
        if col in cf:
            cf[col] = 0.0
    counterfactual = np.exp(cf[fit.names].to_numpy() @ est + spec["offset"])
    fitted = pd.DataFrame({"month": y.index, "observed": y.to_numpy(), "fitted": fit.mu,
                           "counterfactual": counterfactual})
    if spec["has_offset"]:
        fitted["population"] = np.exp(spec["offset"])
    return TrendModelResult(
        family=fit.family, annual_rate_ratio=annual, annual_rate_ratio_ci=annual_ci, covid_rate_ratio=covid,
        covid_rate_ratio_ci=covid_ci, seasonal_peak_month=peak_month, seasonal_peak=float(peak),
        seasonal_peak_ci=peak_ci, seasonal_amplitude=float(ratio), seasonal_log_amplitude=float(log_amp),
        seasonal_log_amplitude_ci=amp_ci, pearson_dispersion=fit.pearson_dispersion,
        model_dispersion=fit.model_dispersion, alpha=fit.alpha, alpha_ci=fit.alpha_ci,
        overdispersion_p=fit.overdispersion_p, coefficients=coef, fitted=fitted, confidence=conf, _model=fit,
        _spec=spec)


def _quantile(conf: float, df: int) -> float:
    """Two-sided Student-t quantile on the residual degrees of freedom (the small-sample allowance for an
    estimated dispersion; tends to the normal quantile as the series lengthens)."""
    return float(sps.t.ppf(0.5 + conf / 2, max(int(df), 1)))


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


def _draw_counts(spec: dict, fit: _Fit, future: pd.DatetimeIndex, offset: np.ndarray, n_sim: int,
                 rng: np.random.Generator, inflate: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point log-means, simulated means, simulated counts) of a fitted model for months after its series
    (COVID term off)."""
    X = _design(future, spec["origin"], spec["harmonics"], spec["covid"], spec["interruption"])
    if "covid" in X:
        X["covid"] = 0.0  # forecasts assume no lockdown
    Xa = X[fit.names].to_numpy()
    draws, chi = _coef_draws(rng, fit, n_sim)
    mu = np.exp(draws @ Xa.T + offset)  # n_sim x months
    return Xa @ fit.params + offset, mu, _simulate_counts(rng, mu, fit, chi, inflate)


def _coef_draws(rng: np.random.Generator, fit: _Fit, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient draws from a multivariate Student-t (df = residual df) and the chi-square variates used."""
    df = max(int(fit.df_resid), 1)
    z = rng.multivariate_normal(np.zeros(len(fit.params)), fit.cov, size=n, method="svd")
    chi = rng.chisquare(df, size=n)
    return fit.params + z * np.sqrt(df / chi)[:, None], chi


def _simulate_counts(rng: np.random.Generator, mu: np.ndarray, fit: _Fit, chi: np.ndarray | None = None,
                     inflate: float = 1.0) -> np.ndarray:
    """One count per draw and month from the fitted count distribution.

    ``inflate`` (>= 1) multiplies the predictive variance on the log scale (see ``forecast``, Notes) by raising
    the extra-Poisson variance; 1 leaves the model's distribution as fitted."""
    n = mu.shape[0]
    if fit.family == "negbin" and fit.alpha > 0:
        alpha = np.full(mu.shape, fit.alpha)
    elif fit.family == "quasipoisson" and fit.scale > 1:
        df = max(int(fit.df_resid), 1)
        chi = rng.chisquare(df, size=n) if chi is None else chi
        phi = (fit.scale * df / chi)[:, None]
        alpha = np.maximum(phi - 1, 0.0) / mu  # variance phi*mu = mu + alpha*mu^2
    else:
        alpha = np.zeros(mu.shape)
    if inflate > 1:
        m = mu.mean(axis=0)
        v_par = np.log(mu).var(axis=0)
        a0 = alpha.mean(axis=0)
        target = inflate * (1 / m + a0 + v_par) - 1 / m - v_par
        alpha = alpha + np.maximum(target - a0, 0.0)[None, :]
    alpha = np.maximum(alpha, 0.0)
    pos = alpha > 1e-12
    lam = mu.copy()
    shape = 1 / np.where(pos, alpha, 1.0)
    lam[pos] = mu[pos] * rng.gamma(shape[pos], 1 / shape[pos])
    return rng.poisson(lam)


def _count_interval(counts: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole-number prediction limits for each column of simulated counts (see ``forecast``, Notes)."""
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    lower = np.empty(counts.shape[1])
    upper = np.empty(counts.shape[1])
    for j in range(counts.shape[1]):
        c = np.sort(counts[:, j])
        n = c.size
        lc = float(np.quantile(c, lo_q, method="inverted_cdf"))
        uc = float(np.quantile(c, hi_q, method="inverted_cdf"))
        best = None
        for lo in (lc, lc + 1):
            for hi in (uc - 1, uc):
                if hi < lo:
                    continue
                mass = (np.searchsorted(c, hi, side="right") - np.searchsorted(c, lo, side="left")) / n
                key = (round(abs(mass - level), 12), -(hi - lo))
                if best is None or key < best[0]:
                    best = (key, lo, hi)
        lower[j], upper[j] = best[1], best[2]
    return lower, upper
