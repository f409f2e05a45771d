"""Funnel-plot control limits and significance, as PHEindicatormethods 2.1.0 (``R/Funnels.R``) computes them.

Two limit levels throughout, as in the Fingertips technical guidance: 95% ("2 sigma", tail probability
0.025) and 99.8% ("3 sigma", tail probability 0.001).

* Proportions use the Wilson-score inversion (the limit at denominator N is the proportion whose Wilson
  interval just touches the baseline).
* Crude rates use exact Poisson limits (the limit at denominator N is the count whose exact one-sided test
  against the baseline expectation just rejects), divided by N.

Units: ``baseline`` and every limit are on the scale of the indicator values, i.e. x ``multiplier`` (a rate
per ``multiplier`` population, or a proportion x ``multiplier``, e.g. 100 for a percentage).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from svtools.analysis.stats.intervals import poisson_limits

__all__ = ["funnel_limits", "funnel_significance"]

#: One-sided tail probabilities of the two Fingertips funnel levels: 95% (2 sigma) and 99.8% (3 sigma).
_TAILS = {"95": 0.025, "998": 0.001}
_KINDS = ("rate", "proportion")


def funnel_limits(baseline: float, denominators, kind: str = "rate",
                  multiplier: float = 100_000) -> pd.DataFrame:
    """Funnel-plot control limits around a baseline at each denominator.

    Parameters
    ----------
    baseline : float
        The comparator value on the output scale: for ``kind="rate"`` a rate per ``multiplier`` (usually
        sum of events / sum of populations x multiplier over the areas plotted); for ``kind="proportion"`` a
        proportion x ``multiplier``.
    denominators : scalar, array_like or pandas.Series
        Populations (rates) or sample sizes (proportions) at which to evaluate the limits, > 0. Pass the
        areas' own denominators, or a grid (e.g. ``np.geomspace``) to draw the funnel.
    kind : {"rate", "proportion"}, default "rate"
        Statistic type.
    multiplier : float, default 100_000
        Output scale. The default suits rates per 100,000; for a proportion pass the scale you use for the
        values (1, or 100 for a percentage) - the argument is used as given, not replaced.

    Returns
    -------
    pandas.DataFrame
        One row per denominator: ``denominator``, ``baseline``, ``lower_95``, ``upper_95``, ``lower_998``,
        ``upper_998`` (all but the first x ``multiplier``).

    Raises
    ------
    ValueError
        If ``kind`` is unknown, a denominator is not positive, the baseline is negative (or, for a proportion,
        above 1 x multiplier), or ``multiplier`` is not positive.

    Notes
    -----
    **Proportions** (PHEindicatormethods ``sigma_adjustment``). With P = baseline / multiplier and z the
    one-sided normal quantile of 0.975 or 0.999: A = P (N/z^2 + 1), B = 1/z^2 + 1/N,
    D = sqrt(A^2 - B P [N (P (N/z^2 + 2) - 1) + z^2 (P - 1)]); limits = (A -/+ D) / B / N x multiplier,
    lower clipped at 0 and upper at 1 x multiplier. The R package clips the upper limit at 100 whatever the
    multiplier (right for percentages only); clipping at the top of the scale is the intended behaviour and
    is identical for multiplier = 100.

    **Rates** (PHEindicatormethods ``poisson_funnel`` used by ``calculate_funnel_limits``). Let
    a = baseline / multiplier (per person) and mu0 = a N, the expected count at denominator N. The 95% lower
    limit count O_lo is the count at which the exact upper limit of O (chi2.ppf(0.975, 2 O + 2) / 2) equals
    mu0, i.e. P(X <= O_lo | mu0) = 0.025 on a continuous scale: ``gammaincc(O_lo + 1, mu0) = 0.025``. The
    upper limit count O_hi is where the exact lower limit (chi2.ppf(0.025, 2 O) / 2) equals mu0, i.e.
    P(X >= O_hi | mu0) = 0.025: ``gammainc(O_hi, mu0) = 0.025``. Both are solved by vectorised bisection to
    machine precision, and the limits are O / N x multiplier. The R package evaluates the same relation the
    other way round - for integer counts O it bisects for mu and plots O / (mu / a) at population mu / a -
    so at those populations the two agree (to the package's 1e-7 bisection tolerance). When even 0 events
    would not be significantly low (exp(-mu0) >= tail probability) the lower limit is 0.

    References
    ----------
    UKHSA. PHEindicatormethods 2.1.0, ``R/Funnels.R`` and ``R/utils.R`` (``sigma_adjustment``,
    ``poisson_funnel``).

    Spiegelhalter DJ. Funnel plots for comparing institutional performance. *Stat Med* 2005; 24:1185-1202.

    Examples
    --------
    >>> print(funnel_limits(500, [1_000, 10_000], kind="rate").round(2).to_string())
       denominator  baseline  lower_95  upper_95  lower_998  upper_998
    0       1000.0     500.0     67.73   1029.63       0.00    1366.84
    1      10000.0     500.0    361.38    648.11     291.53     737.13
    >>> print(funnel_limits(20, [50, 500], kind="proportion", multiplier=100).round(2).to_string())
       denominator  baseline  lower_95  upper_95  lower_998  upper_998
    0         50.0      20.0      8.91     31.09       2.52      37.48
    1        500.0      20.0     16.49     23.51      14.47      25.53
    """
    kind = _check_kind(kind)
    _check_positive_scalar(multiplier, "multiplier")
    base = _baseline(baseline, kind, multiplier)
    n, index = _as_vector(denominators, "denominators")
    if np.any(n <= 0):
        raise ValueError("denominators must all be greater than 0")
    out = {"denominator": n, "baseline": np.full(n.shape, base)}
    p = base / multiplier
    for label, tail in _TAILS.items():
        if kind == "proportion":
            lo, hi = _wilson_funnel(p, n, tail)
            lo, hi = np.maximum(lo, 0.0), np.minimum(hi, 1.0)
        else:
            lo, hi = _poisson_funnel_counts(p * n, tail)
            lo, hi = lo / n, hi / n
        out[f"lower_{label}"] = lo * multiplier
        out[f"upper_{label}"] = hi * multiplier
    # reorder to lower_95, upper_95, lower_998, upper_998
    cols = ["denominator", "baseline", "lower_95", "upper_95", "lower_998", "upper_998"]
    return pd.DataFrame(out, index=index)[cols]


def funnel_significance(events, denominators, baseline: float, kind: str = "rate",
                        multiplier: float = 100_000) -> pd.DataFrame:
    """Whether each area's value is significantly high or low against a baseline, at 95% and 99.8%.

    Parameters
    ----------
    events : scalar, array_like or pandas.Series
        Numerators per area (>= 0; for proportions <= denominator). NaN gives a ``None`` label.
    denominators : scalar, array_like or pandas.Series
        Populations (rates) or sample sizes (proportions) per area, > 0.
    baseline : float
        Comparator on the output scale (rate per ``multiplier`` or proportion x ``multiplier``), usually the
        overall value sum(events) / sum(denominators) x multiplier.
    kind : {"rate", "proportion"}, default "rate"
        Statistic type.
    multiplier : float, default 100_000
        Output scale, used as given (pass 1 or 100 for proportions).

    Returns
    -------
    pandas.DataFrame
        One row per area: ``events``, ``denominator``, ``value`` (x ``multiplier``), ``significance_95`` and
        ``significance_998``, each ``"high"``, ``"low"`` or ``"not significant"``. An area significant at
        99.8% is also significant at 95%.

    Raises
    ------
    ValueError
        On an unknown ``kind``, negative events, non-positive denominators, events above the denominator for
        a proportion, or an invalid baseline/multiplier.

    Notes
    -----
    As PHEindicatormethods ``assign_funnel_significance``:

    * rates: the area's own confidence limits of its count (exact chi-square when O < 10, Byar's when
      O >= 10; the lower limit of 0 events is 0) at 95% and 99.8% are divided by its denominator; "high" if
      the lower limit exceeds the baseline, "low" if the upper limit is below it (strict inequalities, on the
      per-person scale).
    * proportions: the area's proportion is compared with the unclipped Wilson funnel limits at its own
      denominator ("low" if below the lower, "high" if above the upper), which is the same as asking whether
      the area's Wilson interval excludes the baseline.

    The baseline is an argument here; the R function computes it from the data supplied (for rates
    sum O / sum denominators). Pass that value to reproduce the package.

    References
    ----------
    UKHSA. PHEindicatormethods 2.1.0, ``R/Funnels.R`` (``assign_funnel_significance``) and ``R/utils.R``
    (``funnel_ratio_significance``, ``sigma_adjustment``).

    Examples
    --------
    >>> print(funnel_significance([20, 125, 5], [10_000, 20_000, 2_000], baseline=500).to_string())
       events  denominator  value  significance_95 significance_998
    0    20.0      10000.0  200.0              low              low
    1   125.0      20000.0  625.0             high  not significant
    2     5.0       2000.0  250.0  not significant  not significant
    """
    kind = _check_kind(kind)
    _check_positive_scalar(multiplier, "multiplier")
    base = _baseline(baseline, kind, multiplier)
    x, index = _as_vector(events, "events")
    n, n_index = _as_vector(denominators, "denominators")
    try:
        x, n = (np.array(a) for a in np.broadcast_arrays(x, n))
    except ValueError:
        raise ValueError(f"events ({x.size}) and denominators ({n.size}) have different lengths") from None
    if index.size != x.size:
        index = n_index if n_index.size == x.size else pd.RangeIndex(x.size)
    if np.any(x < 0):
        raise ValueError("events must all be greater than or equal to 0")
    if np.any(n <= 0):
        raise ValueError("denominators must all be greater than 0")
    if kind == "proportion" and np.any(x > n):
        raise ValueError("events must be less than or equal to denominators for a proportion")

    p = base / multiplier
    missing = np.isnan(x) | np.isnan(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = x / n
    out = {"events": x, "denominator": n, "value": own * multiplier}
    for label, tail in _TAILS.items():
        if kind == "proportion":
            lo, hi = _wilson_funnel(p, n, tail)
            high, low = own > hi, own < lo
        else:
            lo_count, hi_count, _ = poisson_limits(x, 1 - 2 * tail)
            with np.errstate(invalid="ignore", divide="ignore"):
                high, low = p < lo_count / n, p > hi_count / n
        labels = np.where(high, "high", np.where(low, "low", "not significant")).astype(object)
        labels[missing] = None
        out[f"significance_{label}"] = labels
    return pd.DataFrame(out, index=index)


# ---------------------------------------------------------------------------------------------------------
# Internal helpers
# ---------------------------------------------------------------------------------------------------------

def _check_kind(kind: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    return kind


def _check_positive_scalar(value, name: str) -> None:
    try:
        ok = float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a number greater than 0, got {value!r}")


def _baseline(baseline, kind: str, multiplier: float) -> float:
    try:
        base = float(baseline)
    except (TypeError, ValueError):
        raise ValueError(f"baseline must be a single number, got {baseline!r}") from None
    if np.isnan(base) or base < 0:
        raise ValueError(f"baseline must be a number >= 0, got {baseline!r}")
    if kind == "proportion" and base > multiplier:
        raise ValueError(f"baseline for a proportion must be at most 1 x multiplier ({multiplier:g}), "
                         f"got {baseline!r}")
    return base


def _as_vector(values, name: str) -> tuple[np.ndarray, pd.Index]:
    try:
        if isinstance(values, pd.Series):  # nullable / Arrow dtypes: <NA> becomes NaN
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or one-dimensional")
    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(arr.size)
    return arr, index


def _wilson_funnel(p: float, n: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Unclipped Wilson-inversion funnel limits as proportions (PHEindicatormethods ``sigma_adjustment``)."""
    z2 = stats.norm.ppf(1 - tail) ** 2
    a = p * (n / z2 + 1)
    b = 1 / z2 + 1 / n
    with np.errstate(invalid="ignore"):
        d = np.sqrt(a**2 - b * p * (n * (p * (n / z2 + 2) - 1) + z2 * (p - 1)))
    return (a - d) / b / n, (a + d) / b / n


def _poisson_funnel_counts(mu0: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous counts at which an exact one-sided Poisson test against mean ``mu0`` has tail ``tail``.

    Lower: solve gammaincc(O + 1, mu0) = tail (P(X <= O) = tail), O >= 0 (0 if even O = 0 is not low).
    Upper: solve gammainc(O, mu0) = tail (P(X >= O) = tail), O > 0.
    Both functions are monotone in O, so bisection on a bracket is exact to double precision.
    """
    mu0 = np.asarray(mu0, dtype=float)
    spread = 10 * np.sqrt(mu0) + 50  # tail of 0.001 is about 3.1 sd from the mean; this is a safe bracket

    def bisect(f, lo, hi, increasing):
        for _ in range(100):  # halves a bracket of <= 1e7 to below double precision
            mid = (lo + hi) / 2
            above = f(mid) > tail
            if increasing:
                hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
            else:
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return (lo + hi) / 2

    lower = bisect(lambda o: special.gammaincc(o + 1, mu0), np.zeros_like(mu0), mu0 + 1.0, True)
    lower = np.where(np.exp(-mu0) >= tail, 0.0, lower)
    upper = bisect(lambda o: special.gammainc(o, mu0), np.full_like(mu0, 1e-300), mu0 + spread, False)
    missing = np.isnan(mu0)
    return np.where(missing, np.nan, lower), np.where(missing, np.nan, upper)
