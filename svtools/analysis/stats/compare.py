"""Comparing two counts or two rates: the exact rate ratio, its interval, its p-value and the words for it.

Every sentence and table cell that says one number is "higher" or "lower" than another (a year against the
2019/20 baseline, an area against its force) goes through :func:`interval_words`: the words follow the
confidence interval, never the point estimate, so a change the data cannot distinguish from chance is called
"no clear change".

:func:`rate_ratio` is the ratio of two Poisson rates ``(x1 / t1) / (x2 / t2)`` with the exact *conditional*
confidence interval: given the total ``n = x1 + x2``, ``x1`` is binomial with probability
``pi = RR t1 / (RR t1 + t2)``, so the Clopper-Pearson interval of ``pi`` maps one-to-one onto an interval for
the rate ratio ``RR = pi / (1 - pi) x t2 / t1``. With ``t1 = t2`` (the default) it is the ratio of two counts;
with person-time or populations it is the ratio of rates. This is what R's ``poisson.test(c(x1, x2),
c(t1, t2))`` and ``rateratio.test::rateratio.test`` compute.

References
----------
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of the binomial.
*Biometrika* 1934; 26:404-413.

Breslow NE, Day NE. *Statistical methods in cancer research, volume II: the design and analysis of cohort
studies.* Lyon: IARC; 1987 (section 2.4: the conditional test and interval for a ratio of two rates).

Fay MP. Two-sided exact tests and matching confidence intervals for discrete data. *R Journal* 2010;
2(1):53-58 (the central p-value that matches the Clopper-Pearson interval; R packages ``exactci`` and
``rateratio.test``).

Lancaster HO. Significance tests in discrete distributions. *J Am Stat Assoc* 1961; 56:223-234 (mid-p).

R Core Team. ``stats::poisson.test`` and ``stats::binom.test`` (R 4.x): the two-sample case conditions on
the total and calls ``binom.test``; its two-sided p-value sums the outcomes no more likely than the one seen.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from svtools.analysis.stats.intervals import confidence_z

__all__ = [
    "rate_ratio",
    "interval_words",
    "change_words",
    "format_ratio",
    "P_VALUE_METHODS",
    "NO_CLEAR_CHANGE",
]

#: The words for an interval that includes the reference value (1 for a ratio).
NO_CLEAR_CHANGE = "no clear change"

#: Two-sided p-values :func:`rate_ratio` can give: ``central`` (twice the smaller tail, capped at 1; Fay 2010,
#: ``rateratio.test`` and ``exactci``; the one that agrees with the Clopper-Pearson interval), ``minlike`` (sum
#: of the outcomes no more likely than the one seen; R ``poisson.test`` / ``binom.test``) and ``midp`` (the
#: central p-value with half the probability of the observed outcome; Lancaster 1961, ``exactci`` ``midp=TRUE``).
P_VALUE_METHODS = ("central", "minlike", "midp")


def rate_ratio(x1, x2, t1=1.0, t2=1.0, confidence: float = 0.95, p_value: str = "central") -> pd.DataFrame:
    """Ratio of two Poisson rates with the exact conditional (Clopper-Pearson) interval and an exact p-value.

    ``ratio = (x1 / t1) / (x2 / t2)``. Conditional on ``n = x1 + x2``, ``x1 ~ Binomial(n, pi)`` with
    ``pi = RR t1 / (RR t1 + t2)``; the Clopper-Pearson limits of ``pi``,
    ``pi_L = Beta^-1(alpha/2; x1, n - x1 + 1)`` and ``pi_U = Beta^-1(1 - alpha/2; x1 + 1, n - x1)``, give the
    limits of the ratio, ``pi / (1 - pi) x t2 / t1``. The p-value tests ``RR = 1``, i.e. ``pi = t1 / (t1 + t2)``
    (the split the populations alone would give).

    Parameters
    ----------
    x1, x2 : scalar, array_like or pandas.Series
        Counts (whole numbers >= 0): ``x1`` the numerator (e.g. the latest year), ``x2`` the reference (e.g. the
        2019/20 baseline). NaN gives NaN outputs for that row (an unknown or unpublished count).
    t1, t2 : scalar, array_like or pandas.Series, default 1
        Person-time or populations (> 0) of the two counts. Equal values give the ratio of the counts; ONS
        mid-year populations give the ratio of the rates per resident.
    confidence : float, default 0.95
        Confidence level, 0.90-1 or 90-100.
    p_value : {"central", "minlike", "midp"}, default "central"
        Which two-sided p-value goes in ``p_value`` (see :data:`P_VALUE_METHODS`); the mid-p value is always
        given in ``midp`` as well. ``central`` is below ``1 - confidence`` exactly when the interval excludes 1.

    Returns
    -------
    pandas.DataFrame
        One row per input: ``x1, x2, t1, t2, ratio, lower, upper, p_value, midp, words, confidence, method``.
        Edge cases: ``x1 = 0 < x2`` gives ratio 0 and lower limit 0 (only the upper limit bounds the ratio);
        ``x2 = 0 < x1`` gives an infinite ratio and upper limit (only the lower limit is informative); both 0
        give NaN ratio, limits and p-values and no words (there is nothing to compare). ``words`` is
        :func:`interval_words` of the limits.

    Raises
    ------
    ValueError
        If a count is negative or not a whole number, a person-time is not positive, ``confidence`` is invalid
        or ``p_value`` is not one of :data:`P_VALUE_METHODS`.

    Notes
    -----
    The interval is two-sided at ``confidence`` even when a count is 0 (as R ``binom.test``): with ``x1 = 0``
    the upper limit uses ``alpha / 2``, so it is a 97.5% one-sided bound at 95%.

    The ``minlike`` p-value follows R's ``binom.test`` (relative tolerance ``1 + 1e-7`` on the likelihoods);
    it can fall below 0.05 while the 95% Clopper-Pearson interval includes 1 (Fay 2010), which is why the
    words follow the interval and the default p-value is the central one.

    References
    ----------
    Clopper CJ, Pearson ES. *Biometrika* 1934; 26:404-413. Breslow NE, Day NE. *Statistical methods in cancer
    research, volume II.* IARC 1987, section 2.4. Fay MP. *R Journal* 2010; 2(1):53-58. R ``poisson.test``.

    Examples
    --------
    R's ``poisson.test(c(11, 6 + 8 + 7), c(800, 1083 + 1050 + 878))`` (its help page example): rate ratio
    1.971488, 95% CI 0.8584264 to 4.2772659, p-value 0.07967.

    >>> r = rate_ratio(11, 21, 800, 3011, p_value="minlike").iloc[0]
    >>> print(f"{r.ratio:.6f} {r.lower:.7f} {r.upper:.7f} {r.p_value:.5f} {r.words}")
    1.971488 0.8584264 4.2772659 0.07967 no clear change
    """
    conf, _ = confidence_z(confidence)
    if p_value not in P_VALUE_METHODS:
        raise ValueError(f"p_value must be one of {P_VALUE_METHODS}, got {p_value!r}")
    (a, b, s, t), index = _broadcast(x1=x1, x2=x2, t1=t1, t2=t2)
    for arr, name in ((a, "x1"), (b, "x2")):
        bad = np.isfinite(arr) & ((arr < 0) | (arr != np.round(arr)))
        if bad.any():
            pos = int(np.argmax(bad))
            raise ValueError(f"{name} must be whole numbers >= 0 (position {pos} is {arr[pos]:g})")
    for arr, name in ((s, "t1"), (t, "t2")):
        bad = ~np.isnan(arr) & ~(arr > 0)
        if bad.any():
            pos = int(np.argmax(bad))
            raise ValueError(f"{name} must be greater than 0 (position {pos} is {arr[pos]:g})")
    alpha = 1.0 - conf
    size = a.size
    ratio = np.full(size, np.nan)
    lower = np.full(size, np.nan)
    upper = np.full(size, np.nan)
    pval = np.full(size, np.nan)
    midp = np.full(size, np.nan)
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(s) & np.isfinite(t) & (a + b > 0)
    for i in np.flatnonzero(ok):
        k, n = int(a[i]), int(a[i] + b[i])
        scale = t[i] / s[i]  # RR = odds x t2 / t1
        p_lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
        p_hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        ratio[i] = math.inf if k == n else (k / s[i]) / ((n - k) / t[i])
        lower[i] = p_lo / (1 - p_lo) * scale
        upper[i] = math.inf if p_hi >= 1 else p_hi / (1 - p_hi) * scale
        pi0 = s[i] / (s[i] + t[i])
        low_tail = float(stats.binom.cdf(k, n, pi0))        # P(X <= k)
        high_tail = float(stats.binom.sf(k - 1, n, pi0))    # P(X >= k)
        here = float(stats.binom.pmf(k, n, pi0))
        midp[i] = min(1.0, 2 * min(low_tail - here / 2, high_tail - here / 2))
        if p_value == "central":
            pval[i] = min(1.0, 2 * min(low_tail, high_tail))
        elif p_value == "midp":
            pval[i] = midp[i]
        else:
            pval[i] = _minlike(k, n, pi0)
    return pd.DataFrame({
        "x1": a, "x2": b, "t1": s, "t2": t, "ratio": ratio, "lower": lower, "upper": upper,
        "p_value": pval, "midp": midp, "words": [interval_words(lo, hi) for lo, hi in zip(lower, upper)],
        "confidence": conf,
        "method": np.where(ok, "exact conditional (Clopper-Pearson)", None),
    }, index=index)


def interval_words(lower, upper, reference: float = 1.0, words: tuple[str, str, str] = ("higher", "lower",
                   NO_CLEAR_CHANGE)) -> str | None:
    """The words for a comparison, from its confidence interval: "higher", "lower" or "no clear change".

    One rule for every sentence that compares two numbers: "higher" only when the whole interval lies above
    the reference value, "lower" only when it lies wholly below, otherwise "no clear change" (an interval that
    includes or touches the reference). The point estimate never decides the words.

    Parameters
    ----------
    lower, upper : float
        Confidence limits of the comparison (a rate ratio, or an area's rate when the reference is another
        area's rate). An infinite upper limit is allowed (a zero reference count).
    reference : float, default 1
        The value meaning "the same": 1 for a ratio, 0 for a difference, the comparator's value for a rate.
    words : (str, str, str)
        The words for higher, lower and no clear change (e.g. ``("rising", "falling", "no clear change")``).

    Returns
    -------
    str or None
        One of ``words``; ``None`` when a limit is missing (nothing to compare, or a hidden count).

    Examples
    --------
    >>> interval_words(0.73, 2.91), interval_words(1.2, 2.0), interval_words(0.2, 0.9)
    ('no clear change', 'higher', 'lower')
    >>> interval_words(12.1, 15.0, reference=11.4)
    'higher'
    """
    try:
        lo, hi = float(lower), float(upper)
    except (TypeError, ValueError):
        return None
    if math.isnan(lo) or math.isnan(hi):
        return None
    if lo > hi:
        raise ValueError(f"lower limit {lo:g} is above upper limit {hi:g}")
    if lo > reference:
        return words[0]
    if hi < reference:
        return words[1]
    return words[2]


def change_words(lower, upper, than: str) -> str:
    """A comparison in plain words: "Higher than in 2019/20", "Lower than ..." or "No clear change from ...".

    Parameters
    ----------
    lower, upper : float
        Confidence limits of the rate ratio (latest over reference).
    than : str
        What is compared with, e.g. ``"in 2019/20"`` or ``"the force"``.

    Returns
    -------
    str
        The sentence fragment, capitalised for a table cell; ``""`` when a limit is missing.

    Examples
    --------
    >>> change_words(0.73, 2.91, "2019/20"), change_words(1.1, 1.9, "2019/20")
    ('No clear change from 2019/20', 'Higher than 2019/20')
    """
    w = interval_words(lower, upper)
    if w is None:
        return ""
    text = f"{w} from {than}" if w == NO_CLEAR_CHANGE else f"{w} than {than}"
    return text[0].upper() + text[1:]


def format_ratio(ratio, lower, upper, nd: int = 2) -> str:
    """A rate ratio with its interval as a table cell: ``"1.44 (0.73 to 2.91)"``.

    An infinite ratio or limit (a zero reference count) is written ``"no upper limit"``; a missing ratio
    gives ``""``.

    Examples
    --------
    >>> format_ratio(1.4375, 0.7271, 2.9113), format_ratio(0.0, 0.0, 0.92)
    ('1.44 (0.73 to 2.91)', '0.00 (0.00 to 0.92)')
    >>> format_ratio(float("inf"), 2.2, float("inf"))
    'not defined (2.20 to no upper limit)'
    """
    try:
        r, lo, hi = float(ratio), float(lower), float(upper)
    except (TypeError, ValueError):
        return ""
    if math.isnan(r) or math.isnan(lo) or math.isnan(hi):
        return ""

    def f(v):
        return "no upper limit" if math.isinf(v) else f"{v:,.{nd}f}"

    return f"{'not defined' if math.isinf(r) else f(r)} ({f(lo)} to {f(hi)})"


# Internal helpers ------------------------------------------------------------------------------------------


def _minlike(k: int, n: int, p: float) -> float:
    """R ``binom.test`` two-sided p-value: outcomes with probability <= d(k) x (1 + 1e-7)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    return float(min(1.0, pmf[pmf <= pmf[k] * (1 + 1e-7)].sum()))


def _broadcast(**named) -> tuple[list[np.ndarray], pd.Index]:
    """The stats package's broadcasting (:func:`svtools.analysis.stats.rates._broadcast`), with a missing
    scalar or list element (``None``, ``pd.NA``: an unpublished count) read as NaN."""
    from svtools.analysis.stats.rates import _broadcast as broadcast

    def clean(v):
        if isinstance(v, (pd.Series, pd.Index, np.ndarray)):
            return v
        if np.ndim(v) == 0:
            return np.nan if v is None or pd.isna(v) else v
        return [np.nan if x is None or pd.isna(x) else x for x in v]

    return broadcast(**{k: clean(v) for k, v in named.items()})
