"""Crude rates, proportions and standardised rates/ratios with confidence intervals.

Each function reproduces the corresponding PHEindicatormethods 2.1.0 function (UKHSA's implementation of the
OHID Fingertips technical guidance) and returns a :class:`pandas.DataFrame`:

=================  ==========================  =========================  ==========================
svtools            PHEindicatormethods          CI method                  default scale
=================  ==========================  =========================  ==========================
:func:`rate`       ``phe_rate``                 exact (O < 10) / Byar's    per 100,000
:func:`proportion` ``phe_proportion``           Wilson score               proportion (x 1)
:func:`dsr`        ``calculate_dsr``            Dobson (Byar's limits)     per 100,000
:func:`isr`        ``calculate_ISRatio``        exact (O < 10) / Byar's    ratio x 100
=================  ==========================  =========================  ==========================

Units: ``value``, ``lower`` and ``upper`` are always on the output scale, i.e. already multiplied by
``multiplier`` (events per ``multiplier`` persons for a rate; a proportion times ``multiplier``). The
denominator is whatever the caller supplies (usually ONS mid-year resident population for the period; for a
multi-year period pass person-years, i.e. the population summed over the years).

Array and Series inputs are matched by position (like numpy), not aligned on their index; the output takes
the index of the first full-length Series argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svtools.analysis.stats.intervals import (
    byars_lower,
    byars_upper,
    confidence_z,
    poisson_limits,
    wilson_limits,
)

__all__ = ["rate", "proportion", "dsr", "isr"]


def rate(events, population, confidence: float = 0.95, multiplier: float = 100_000) -> pd.DataFrame:
    """Crude rate with exact or Byar's confidence limits (PHEindicatormethods ``phe_rate``).

    value = events / population x multiplier. The limits of the count O are exact chi-square limits when
    O < 10 (lower = chi2.ppf(alpha/2, 2 O) / 2, 0 for O = 0; upper = chi2.ppf(1 - alpha/2, 2 O + 2) / 2) and
    Byar's approximation when O >= 10; the rate limits are those divided by the population and multiplied by
    ``multiplier``.

    Parameters
    ----------
    events : scalar, array_like or pandas.Series
        Observed numbers of events O (>= 0; need not be integer; may exceed the population). NaN gives NaN
        outputs for that row.
    population : scalar, array_like or pandas.Series
        Denominators n (> 0), e.g. resident population or person-years. Broadcast against ``events``.
    confidence : float, default 0.95
        Confidence level, 0.90-1 or 90-100 (99.8 is the Fingertips "3 sigma" level).
    multiplier : float, default 100_000
        Scale of the output (rate per ``multiplier`` population).

    Returns
    -------
    pandas.DataFrame
        One row per input: ``events``, ``population``, ``value``, ``lower``, ``upper`` (per ``multiplier``),
        ``method`` (``"exact"`` when events < 10, else ``"byars"``) and ``confidence`` (as a fraction). The
        index is that of a Series input, else 0..n-1.

    Raises
    ------
    ValueError
        If any events are negative, any population is not positive, ``multiplier`` is not positive or
        ``confidence`` is invalid; the message names the argument.

    See Also
    --------
    dsr : directly age-standardised rate.

    Notes
    -----
    The switch at 10 events and the two formulae follow ``R/Rates.R`` of PHEindicatormethods 2.1.0 exactly.
    Byar's lower limit is never negative for O >= 10 at 95% or 99.8%.

    References
    ----------
    UKHSA. PHEindicatormethods 2.1.0, ``R/Rates.R`` and ``R/utils.R``.

    Breslow NE, Day NE. *Statistical methods in cancer research, volume II.* Lyon: IARC; 1987.

    Examples
    --------
    >>> print(rate([389, 9], 100_000).round(3).to_string())
       events  population  value    lower    upper method  confidence
    0   389.0    100000.0  389.0  351.298  429.645  byars        0.95
    1     9.0    100000.0    9.0    4.115   17.085  exact        0.95
    """
    conf, _ = confidence_z(confidence)
    _check_multiplier(multiplier)
    (x, n), index = _broadcast(events=events, population=population)
    _check_min(x, "events", 0, strict=False)
    _check_min(n, "population", 0, strict=True)
    lower, upper, method = poisson_limits(x, conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "events": x,
            "population": n,
            "value": x / n * multiplier,
            "lower": lower / n * multiplier,
            "upper": upper / n * multiplier,
            "method": np.where(np.isnan(n), None, method),
            "confidence": conf,
        }, index=index)
    return out


def proportion(events, total, confidence: float = 0.95, multiplier: float = 1) -> pd.DataFrame:
    """Proportion with Wilson score confidence limits (PHEindicatormethods ``phe_proportion``).

    value = x / n x multiplier; limits =
    ``[2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))] / [2(n + z^2)] x multiplier`` with z the two-sided normal
    quantile (0 and 1 x multiplier when confidence is 1).

    Parameters
    ----------
    events : scalar, array_like or pandas.Series
        Numerators x, 0 <= x <= n (need not be integer). NaN gives NaN outputs.
    total : scalar, array_like or pandas.Series
        Denominators n (> 0), e.g. all victims with a recorded ethnicity.
    confidence : float, default 0.95
        0.90-1 or 90-100.
    multiplier : float, default 1
        1 for a proportion, 100 for a percentage.

    Returns
    -------
    pandas.DataFrame
        ``events``, ``total``, ``value``, ``lower``, ``upper`` (x ``multiplier``), ``method`` (``"wilson"``)
        and ``confidence``.

    Raises
    ------
    ValueError
        If x < 0, n <= 0, x > n, or ``multiplier``/``confidence`` is invalid.

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference. *J Am Stat Assoc* 1927;
    22:209-212.

    Newcombe RG, Altman DG. Proportions and their differences. In: Altman DG et al. (eds) *Statistics with
    confidence*, 2nd edn. London: BMJ Books; 2000. pp. 46-48.

    UKHSA. PHEindicatormethods 2.1.0, ``R/Proportions.R`` and ``R/utils.R``.

    Examples
    --------
    >>> print(proportion([65, 0], [100, 20], multiplier=100).round(3).to_string())
       events  total  value   lower   upper  method  confidence
    0    65.0  100.0   65.0  55.254  73.636  wilson        0.95
    1     0.0   20.0    0.0   0.000  16.113  wilson        0.95
    """
    conf, _ = confidence_z(confidence)
    _check_multiplier(multiplier)
    (x, n), index = _broadcast(events=events, total=total)
    _check_min(x, "events", 0, strict=False)
    _check_min(n, "total", 0, strict=True)
    if np.any(x > n):
        raise ValueError("events must be less than or equal to total for a proportion "
                         f"(first offending position {int(np.argmax(x > n))})")
    lower, upper = wilson_limits(x, n, conf)
    nan = np.isnan(x) | np.isnan(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "events": x,
            "total": n,
            "value": x / n * multiplier,
            "lower": lower * multiplier,
            "upper": upper * multiplier,
            "method": np.where(nan, None, "wilson").astype(object),
            "confidence": conf,
        }, index=index)
    return out


def dsr(events, population, standard_population, confidence: float = 0.95,
        multiplier: float = 100_000, events_by_frequency=None) -> pd.DataFrame:
    """Directly age-standardised rate with Dobson confidence limits, for one area (``calculate_dsr``).

    With age bands i, events x_i, population n_i and standard-population weights w_i:

    * DSR = (sum w_i x_i / n_i) / sum w_i x multiplier
    * var = sum w_i^2 x_i / n_i^2 / (sum w_i)^2   (per-person scale)
    * O = sum x_i and its Byar's limits O_L, O_U (Byar's whatever the size of O)
    * lower = DSR + sqrt(var / O) (O_L - O) x multiplier; upper likewise with O_U (Dobson et al. 1991)
    * **when O < 10 the value and both limits are NaN** (the package's small-count rule).

    Parameters
    ----------
    events : array_like or pandas.Series, or None
        Events per age band (NaN is treated as 0, as the package does). May be None when
        ``events_by_frequency`` is given.
    population : array_like or pandas.Series
        Population (or person-years) per age band; every band > 0 and none missing.
    standard_population : array_like or pandas.Series
        Standard-population weight per band (>= 0, none missing), e.g. the European Standard Population 2013
        (19 bands, 0-4 ... 90+). Only the bands supplied are used: sum w is over these bands (so an under-25
        DSR uses the five ESP bands 0-4 ... 20-24, sum w = 27,500).
    confidence : float, default 0.95
        0.90-1 or 90-100.
    multiplier : float, default 100_000
        Output per ``multiplier`` population.
    events_by_frequency : array_like (bands x F), dict or DataFrame, optional
        For non-independent events (repeat victimisation, repeat admissions): the number of unique
        individuals per band with exactly f events. A 2-D array's column j is frequency j + 1; a dict or
        DataFrame maps frequency f (int) to a per-band vector. NaN counts are 0. Then events per band are
        sum_f f x_{i,f} (checked against ``events`` if both are given), the DSR is unchanged and
        var = sum_f f^2 sum_i w_i^2 x_{i,f} / n_i^2 / (sum w)^2 ("Dobson, with confidence adjusted for
        non-independent events").

    Returns
    -------
    pandas.DataFrame
        One row: ``events`` (total O), ``population`` (total), ``value``, ``lower``, ``upper`` (per
        ``multiplier``), ``method`` (``"dobson"`` or ``"dobson, adjusted for non-independent events"``),
        ``confidence``.

    Raises
    ------
    ValueError
        If the three vectors differ in length or are empty, any population is missing or not positive, any
        weight is missing or negative, all weights are 0, any events are negative, or
        ``events_by_frequency`` disagrees with ``events``.

    References
    ----------
    Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for weighted sums of Poisson
    parameters. *Stat Med* 1991; 10:457-462.

    Breslow NE, Day NE. *Statistical methods in cancer research, volume II.* Lyon: IARC; 1987.

    UKHSA. PHEindicatormethods 2.1.0, ``R/DSR.R``; OHID Fingertips technical guidance, DSR chapter.

    Examples
    --------
    >>> print(dsr([10, 20, 30], [1000, 2000, 1500], [5000, 6000, 4000]).round(3).to_string())
       events  population     value    lower     upper  method  confidence
    0    60.0      4500.0  1266.667  956.328  1642.866  dobson        0.95
    """
    conf, z = confidence_z(confidence)
    _check_multiplier(multiplier)
    n = _vector(population, "population")
    w = _vector(standard_population, "standard_population")
    if n.size == 0:
        raise ValueError("population must have at least one age band")
    if w.size != n.size:
        raise ValueError(f"standard_population has {w.size} bands but population has {n.size}")
    if np.isnan(n).any():
        raise ValueError("population cannot have missing values (one per age band)")
    _check_min(n, "population", 0, strict=True)
    if np.isnan(w).any():
        raise ValueError("standard_population cannot have missing values")
    _check_min(w, "standard_population", 0, strict=False)
    if w.sum() <= 0:
        raise ValueError("standard_population weights sum to zero")

    freq = None
    if events_by_frequency is not None:
        f_values, freq = _frequency_table(events_by_frequency, n.size)
        from_freq = freq @ f_values
    if events is None:
        if freq is None:
            raise ValueError("events is required unless events_by_frequency is given")
        x = from_freq
    else:
        x = _vector(events, "events")
        if x.size != n.size:
            raise ValueError(f"events has {x.size} bands but population has {n.size}")
        _check_min(x, "events", 0, strict=False)
        x = np.nan_to_num(x, nan=0.0)
        if freq is not None and not np.allclose(x, from_freq):
            raise ValueError("events per band do not equal sum of frequency x individuals "
                             "from events_by_frequency")

    sum_w = w.sum()
    observed = x.sum()
    value = np.sum(w * x / n) / sum_w * multiplier
    if freq is None:
        var = np.sum(w**2 * x / n**2) / sum_w**2
        method = "dobson"
    else:
        var_f = (w**2 / n**2) @ freq / sum_w**2
        var = float(np.sum(f_values**2 * var_f))
        method = "dobson, adjusted for non-independent events"
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(var / observed) * multiplier
        lower = value + scale * (float(byars_lower(observed, z)) - observed)
        upper = value + scale * (float(byars_upper(observed, z)) - observed)
    if observed < 10:  # PHEindicatormethods: "dsr NA for total count < 10"
        value = lower = upper = np.nan
    return pd.DataFrame({
        "events": [float(observed)],
        "population": [float(n.sum())],
        "value": [value],
        "lower": [lower],
        "upper": [upper],
        "method": [method],
        "confidence": [conf],
    })


def isr(events, population, reference_events, reference_population, confidence: float = 0.95,
        multiplier: float = 100) -> pd.DataFrame:
    """Indirectly standardised ratio (observed / expected) with exact or Byar's limits.

    Reproduces PHEindicatormethods ``calculate_ISRatio`` (``refvalue`` = ``multiplier``).

    Expected E = sum_i (reference_events_i / reference_population_i) x population_i (missing reference
    events and local populations count as 0); observed O = sum of events (NaN treated as 0). value =
    O / E x multiplier; limits = (limits of O) / E x multiplier, exact chi-square when O < 10 and Byar's
    otherwise.

    Parameters
    ----------
    events : array_like, pandas.Series or scalar
        Observed events per band for the area; a scalar is taken as the area's total observed count (the
        package's ``observed_totals``), e.g. when events are not available by age.
    population : array_like or pandas.Series
        The area's population per band, in the same band order as the reference.
    reference_events, reference_population : array_like or pandas.Series
        Reference (e.g. England or force-wide) events and population per band; reference populations must be
        > 0 and present.
    confidence : float, default 0.95
        0.90-1 or 90-100.
    multiplier : float, default 100
        100 gives an SMR-style ratio where 100 = as expected (the R package's ``refvalue`` defaults to 1).

    Returns
    -------
    pandas.DataFrame
        One row: ``observed``, ``expected``, ``value``, ``lower``, ``upper`` (x ``multiplier``), ``method``
        (``"exact"`` or ``"byars"``), ``confidence``.

    Raises
    ------
    ValueError
        On mismatched lengths, negative events, negative local population or a non-positive/missing
        reference population.

    References
    ----------
    UKHSA. PHEindicatormethods 2.1.0, ``R/ISRatio.R``.

    Breslow NE, Day NE. *Statistical methods in cancer research, volume II.* Lyon: IARC; 1987.

    Examples
    --------
    >>> print(isr([5, 20], [1000, 2000], [600, 1500], [100_000, 200_000]).round(3).to_string())
       observed  expected    value  lower    upper method  confidence
    0      25.0      21.0  119.048  77.02  175.745  byars        0.95
    """
    conf, _ = confidence_z(confidence)
    _check_multiplier(multiplier)
    n = _vector(population, "population")
    ref_x = _vector(reference_events, "reference_events")
    ref_n = _vector(reference_population, "reference_population")
    if not (n.size == ref_x.size == ref_n.size) or n.size == 0:
        raise ValueError("population, reference_events and reference_population must have the same, "
                         f"non-zero number of bands (got {n.size}, {ref_x.size}, {ref_n.size})")
    _check_min(n, "population", 0, strict=False)
    _check_min(ref_x, "reference_events", 0, strict=False)
    if np.isnan(ref_n).any():
        raise ValueError("reference_population cannot have missing values")
    _check_min(ref_n, "reference_population", 0, strict=True)
    x = _vector(events, "events")
    if x.size not in (1, n.size):
        raise ValueError(f"events has {x.size} bands but population has {n.size} "
                         "(give one value per band or a single total)")
    _check_min(x, "events", 0, strict=False)

    observed = float(np.nansum(x))
    expected = float(np.sum(np.nan_to_num(ref_x) / ref_n * np.nan_to_num(n)))
    lower, upper, method = poisson_limits(observed, conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "observed": [observed],
            "expected": [expected],
            "value": [observed / expected * multiplier],
            "lower": [float(lower) / expected * multiplier],
            "upper": [float(upper) / expected * multiplier],
            "method": [method.item()],
            "confidence": [conf],
        })


# ---------------------------------------------------------------------------------------------------------
# Internal helpers
# ---------------------------------------------------------------------------------------------------------

def _vector(values, name: str) -> np.ndarray:
    """1-D float array from a scalar, sequence or Series, with a clear error for non-numeric input."""
    try:
        if isinstance(values, (pd.Series, pd.Index)):  # nullable / Arrow dtypes: <NA> becomes NaN
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or one-dimensional")
    return np.atleast_1d(arr)


def _broadcast(**named) -> tuple[list[np.ndarray], pd.Index]:
    """Broadcast named numeric inputs to a common 1-D shape and pick the output index.

    The index of the first pandas Series of full length is kept (so results align with the caller's
    frame); otherwise a RangeIndex.
    """
    arrays = [_vector(v, k) for k, v in named.items()]
    try:
        arrays = [np.array(a) for a in np.broadcast_arrays(*arrays)]
    except ValueError:
        shapes = ", ".join(f"{k} has {a.size}" for k, a in zip(named, arrays))
        raise ValueError(f"inputs have incompatible lengths: {shapes}") from None
    size = arrays[0].size
    index = pd.RangeIndex(size)
    for v in named.values():
        if isinstance(v, pd.Series) and len(v) == size:
            index = v.index
            break
    return arrays, index


def _check_min(arr: np.ndarray, name: str, bound: float, strict: bool) -> None:
    bad = (arr <= bound) if strict else (arr < bound)
    if np.any(bad):  # NaN compares False, so missing values pass through
        pos = int(np.argmax(bad))
        op = "greater than" if strict else "greater than or equal to"
        raise ValueError(f"{name} must all be {op} {bound:g} (position {pos} is {arr[pos]:g})")


def _check_multiplier(multiplier) -> None:
    try:
        ok = float(multiplier) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"multiplier must be a number greater than 0, got {multiplier!r}")


def _frequency_table(table, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, bands x frequencies matrix of individuals) from any accepted ``events_by_frequency``."""
    if isinstance(table, (dict, pd.DataFrame)):
        items = table.items()
        freqs, cols = [], []
        for f, col in items:
            try:
                f_num = float(f)
            except (TypeError, ValueError):
                raise ValueError("events_by_frequency keys must be event frequencies (1, 2, ...), "
                                 f"got {f!r}") from None
            freqs.append(f_num)
            cols.append(_vector(col, f"events_by_frequency[{f!r}]"))
        if not cols:
            raise ValueError("events_by_frequency is empty")
        if any(c.size != n_bands for c in cols):
            raise ValueError(f"each events_by_frequency column must have {n_bands} bands")
        matrix = np.column_stack(cols)
        f_values = np.asarray(freqs)
    else:
        try:
            matrix = np.asarray(table, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("events_by_frequency must be numeric") from None
        if matrix.ndim != 2 or matrix.shape[0] != n_bands:
            raise ValueError(f"events_by_frequency must be a (bands x frequencies) table with {n_bands} rows")
        f_values = np.arange(1, matrix.shape[1] + 1, dtype=float)
    if np.any(f_values < 1):
        raise ValueError("events_by_frequency frequencies must be 1 or more")
    _check_min(matrix.ravel(), "events_by_frequency", 0, strict=False)
    return f_values, np.nan_to_num(matrix, nan=0.0)
