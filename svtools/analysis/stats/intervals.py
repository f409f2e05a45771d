"""Confidence-interval building blocks shared by the rate, ratio and funnel functions.

These are internal helpers (the public API is re-exported by :mod:`svtools.analysis.stats`), written to match the
helpers of the UKHSA R package PHEindicatormethods 2.1.0 (``R/utils.R``, ``R/Rates.R``):

* :func:`confidence_z` - the confidence convention (0.95 or 95; anything below 90 % rejected) and the
  two-sided normal quantile z.
* :func:`byars_lower`, :func:`byars_upper` - Byar's approximation to the Poisson limits of a count.
* :func:`exact_lower`, :func:`exact_upper` - exact (chi-square / gamma) Poisson limits of a count.
* :func:`poisson_limits` - the PHEindicatormethods switch: exact when the count is below 10, Byar's otherwise.
* :func:`wilson_limits` - Wilson score limits of a proportion.

All functions are vectorised over numpy arrays and propagate NaN.

References
----------
Breslow NE, Day NE. *Statistical methods in cancer research, volume II: the design and analysis of cohort
studies.* Lyon: IARC; 1987 (Byar's approximation).

Wilson EB. Probable inference, the law of succession, and statistical inference. *J Am Stat Assoc* 1927;
22:209-212.

Newcombe RG, Altman DG. Proportions and their differences. In: Altman DG et al. (eds) *Statistics with
confidence*, 2nd edn. London: BMJ Books; 2000. pp. 46-48.

UKHSA. PHEindicatormethods 2.1.0 (R package), ``R/utils.R``, ``R/Rates.R``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "EXACT_BELOW",
    "confidence_z",
    "byars_lower",
    "byars_upper",
    "exact_lower",
    "exact_upper",
    "poisson_limits",
    "wilson_limits",
]

#: Counts below this use exact Poisson limits, counts at or above it Byar's (PHEindicatormethods ``phe_rate``,
#: ``calculate_ISRatio``, ``assign_funnel_significance``).
EXACT_BELOW = 10


def confidence_z(confidence: float) -> tuple[float, float]:
    """Normalise a confidence level and return it with its two-sided normal quantile.

    Parameters
    ----------
    confidence : float
        Confidence level as a fraction (0.90 to 1) or a percentage (90 to 100); values of 90 or more are
        divided by 100, as in PHEindicatormethods 2.1.0.

    Returns
    -------
    (float, float)
        The confidence as a fraction and z = Phi^-1(1 - alpha/2), alpha = 1 - confidence (``inf`` for 1).

    Raises
    ------
    ValueError
        If ``confidence`` is not a single number between 0.90 and 1 or between 90 and 100.

    Examples
    --------
    >>> confidence_z(95)
    (0.95, 1.959963984540054)
    >>> round(confidence_z(0.998)[1], 6)
    3.090232
    """
    try:
        conf = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a single number, got {confidence!r}") from None
    if math.isnan(conf) or conf < 0.9 or 1 < conf < 90 or conf > 100:
        raise ValueError(
            f"confidence must be between 0.90 and 1 or between 90 and 100 (got {confidence!r}); "
            "levels below 90% are not used for public-health indicators")
    if conf >= 90:
        conf = conf / 100
    z = float(stats.norm.ppf(conf + (1 - conf) / 2))
    return conf, z


def byars_lower(count, z: float) -> np.ndarray:
    """Byar's lower confidence limit of a Poisson count.

    ``O_L = O (1 - 1/(9 O) - z / (3 sqrt(O)))^3``, set to NaN where it is negative and for O = 0
    (PHEindicatormethods ``byars_lower``; Breslow & Day 1987).

    Parameters
    ----------
    count : array_like
        Observed counts O (>= 0; NaN propagates).
    z : float
        Two-sided normal quantile, see :func:`confidence_z`.

    Returns
    -------
    ndarray
        Lower limit of the count (same units as ``count``).

    Examples
    --------
    >>> round(float(byars_lower(65, 1.959963984540054)), 4)
    50.1632
    """
    o = np.asarray(count, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    out = np.where((out < 0) | (o == 0), np.nan, out)
    return out


def byars_upper(count, z: float) -> np.ndarray:
    """Byar's upper confidence limit of a Poisson count.

    ``O_U = (O + 1) (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3`` (PHEindicatormethods ``byars_upper``;
    Breslow & Day 1987).

    Parameters
    ----------
    count : array_like
        Observed counts O (>= 0; NaN propagates).
    z : float
        Two-sided normal quantile, see :func:`confidence_z`.

    Returns
    -------
    ndarray
        Upper limit of the count.

    Examples
    --------
    >>> round(float(byars_upper(65, 1.959963984540054)), 4)
    82.8491
    """
    o1 = np.asarray(count, dtype=float) + 1
    return o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3


def exact_lower(count, confidence: float) -> np.ndarray:
    """Exact (chi-square) lower confidence limit of a Poisson count.

    ``chi2.ppf(alpha/2, 2 O) / 2``, which is 0 for O = 0 (as R's ``qchisq(p, 0)``).

    Parameters
    ----------
    count : array_like
        Observed counts O (>= 0; NaN propagates).
    confidence : float
        Confidence as a fraction (already normalised by :func:`confidence_z`).

    Returns
    -------
    ndarray
        Lower limit of the count.

    Examples
    --------
    >>> round(float(exact_lower(9, 0.95)), 4)
    4.1154
    """
    o = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        out = stats.chi2.ppf(alpha / 2, 2 * o) / 2
    return np.where(o == 0, 0.0, out)


def exact_upper(count, confidence: float) -> np.ndarray:
    """Exact (chi-square) upper confidence limit of a Poisson count: ``chi2.ppf(1 - alpha/2, 2 O + 2) / 2``.

    Parameters
    ----------
    count : array_like
        Observed counts O (>= 0; NaN propagates).
    confidence : float
        Confidence as a fraction.

    Returns
    -------
    ndarray
        Upper limit of the count.

    Examples
    --------
    >>> round(float(exact_upper(0, 0.95)), 4)
    3.6889
    """
    o = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    return stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2


def poisson_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence limits of a Poisson count as PHEindicatormethods computes them.

    Exact chi-square limits when O < 10, Byar's approximation when O >= 10 (``phe_rate``,
    ``calculate_ISRatio``, ``funnel_ratio_significance``).

    Parameters
    ----------
    count : array_like
        Observed counts O (>= 0; NaN gives NaN limits and a ``None`` method).
    confidence : float, default 0.95
        0.90-1 or 90-100.

    Returns
    -------
    lower, upper : ndarray
        Limits of the count (divide by a denominator to get rate limits).
    method : ndarray of object
        ``"exact"`` or ``"byars"`` (``None`` where the count is NaN).

    Examples
    --------
    >>> lo, hi, m = poisson_limits([9, 389])
    >>> [round(float(v), 3) for v in lo], list(m)
    ([4.115, 351.298], ['exact', 'byars'])
    """
    conf, z = confidence_z(confidence)
    o = np.asarray(count, dtype=float)
    exact = o < EXACT_BELOW
    lower = np.where(exact, exact_lower(o, conf), byars_lower(o, z))
    upper = np.where(exact, exact_upper(o, conf), byars_upper(o, z))
    method = np.where(np.isnan(o), None, np.where(exact, "exact", "byars")).astype(object)
    return lower, upper, method


def wilson_limits(events, total, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score confidence limits of a proportion x / n (on the 0-1 scale).

    ``[2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))] / [2(n + z^2)]``; limits are 0 and 1 when confidence is 1
    (PHEindicatormethods ``wilson_lower``/``wilson_upper``; Wilson 1927; Newcombe & Altman 2000).

    Parameters
    ----------
    events, total : array_like
        Numerators x and denominators n (validated by the caller).
    confidence : float, default 0.95
        0.90-1 or 90-100.

    Returns
    -------
    lower, upper : ndarray
        Limits as proportions (0-1).

    Examples
    --------
    >>> lo, hi = wilson_limits(65, 100)
    >>> round(float(lo), 6), round(float(hi), 6)
    (0.552544, 0.736358)
    """
    conf, z = confidence_z(confidence)
    x = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    if conf == 1:
        nan = np.isnan(x) | np.isnan(n)
        return np.where(nan, np.nan, 0.0), np.where(nan, np.nan, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = z * np.sqrt(z**2 + 4 * x * (1 - x / n))
        lower = (2 * x + z**2 - root) / 2 / (n + z**2)
        upper = (2 * x + z**2 + root) / 2 / (n + z**2)
    return lower, upper
