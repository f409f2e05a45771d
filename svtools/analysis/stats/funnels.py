"""Funnel-plot control limits and significance, as PHEindicatormethods 2.1.0 (``R/Funnels.R``) computes them.

Two limit levels throughout, as in the Fingertips technical guidance: 95% ("2 sigma", tail probability
0.025) and 99.8% ("3 sigma", tail probability 0.001).

* Proportions use the Wilson-score inversion (the limit at denominator N is the proportion whose Wilson
  interval just touches the baseline).
* Crude rates use exact Poisson limits (the limit at denominator N is the count whose exact one-sided test
  against the baseline expectation just rejects), divided by N.

Units: ``baseline`` and every limit are on the scale of the indicator values, i.e. x ``multiplier`` (a rate
per ``multiplier`` population, or a proportion x ``multiplier``, e.g. 100 for a percentage).

Over-dispersion (rates only): when areas differ by more than chance - as CSPs do, because their true rates
differ - Poisson limits flag most areas. :func:`overdispersion` estimates the excess from winsorised
square-root z-scores (Spiegelhalter 2005) and :func:`adjusted_funnel_limits` / :func:`adjusted_funnel_significance`
widen the limits by a multiplicative factor or an additive random effect (DerSimonian-Laird tau^2), as the
CQC, NHS England's SHMI and the NHS-R FunnelPlotR package do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from svtools.analysis.stats.intervals import poisson_limits

__all__ = [
    "funnel_limits",
    "funnel_significance",
    "OVERDISPERSION_METHODS",
    "Overdispersion",
    "overdispersion",
    "adjusted_funnel_limits",
    "adjusted_funnel_significance",
]

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
# Over-dispersion (Spiegelhalter 2005): multiplicative and additive (random-effects) funnel limits for rates
# ---------------------------------------------------------------------------------------------------------

#: Values of ``method`` (config ``funnels.method``): ``auto`` applies ``additive`` when the areas are
#: over-dispersed (see :func:`overdispersion`) and ``none`` otherwise.
OVERDISPERSION_METHODS = ("none", "multiplicative", "additive", "auto")
_Z = {"95": 1.959963984540054, "998": 3.090232306167813}  # two-sided normal quantiles (tails 0.025, 0.001)


@dataclass(frozen=True)
class Overdispersion:
    """How much more the areas of a funnel plot vary than chance allows, and what the limits do about it.

    Made by :func:`overdispersion`; pass it to :func:`adjusted_funnel_limits` and
    :func:`adjusted_funnel_significance` so the drawn limits and the flags always agree.

    Attributes
    ----------
    method : {"none", "multiplicative", "additive"}
        The allowance applied (``auto`` resolved).
    requested : {"none", "multiplicative", "additive", "auto"}
        The method asked for (config ``funnels.method``).
    phi : float
        Dispersion ratio from the winsorised z-scores: mean of their squares (dimensionless; NaN when it could
        not be estimated). 1 is what Poisson variation alone gives before winsorisation (winsorising 10% at
        each end brings the no-excess value down to about 0.68).
    phi_unwinsorised : float
        The same mean over the raw z-scores.
    threshold : float
        The value ``phi`` must exceed for ``auto`` to allow for over-dispersion: (d + 2 sqrt(2 d)) / I, with
        I areas and d = I - G degrees of freedom (G comparators estimated from the same counts; 1 for a single
        baseline, so the threshold is close to 1 + 2 sqrt(2 / I)).
    tau2 : float
        Between-area variance of the true rates on the square-root scale of the ratio to the comparator,
        sqrt(rate / baseline) (dimensionless; DerSimonian-Laird from ``phi``). 0 unless ``method`` is
        ``additive``.
    n_areas, n_groups : int
        Areas used (I) and comparators (G).
    winsorise : float
        Share of z-scores winsorised at each end (0.1 = 10%).
    """

    method: str
    requested: str
    phi: float
    phi_unwinsorised: float
    threshold: float
    tau2: float
    n_areas: int
    n_groups: int
    winsorise: float

    @property
    def tau(self) -> float:
        """sqrt(tau2): between-area standard deviation of sqrt(true rate / baseline) (dimensionless)."""
        return math.sqrt(self.tau2) if np.isfinite(self.tau2) else math.nan

    @property
    def overdispersed(self) -> bool:
        """``phi`` exceeds ``threshold``: the areas vary more than chance alone would make them."""
        return bool(np.isfinite(self.phi) and self.phi > self.threshold)

    @property
    def adjusted(self) -> bool:
        """The limits differ from the exact Poisson ones (an additive tau2 > 0, or a multiplicative phi > 1)."""
        if self.method == "additive":
            return self.tau2 > 0
        if self.method == "multiplicative":
            return bool(np.isfinite(self.phi) and self.phi > 1)
        return False

    def limits_phrase(self, level: str = "99.8%", areas: str = "CSPs") -> str:
        """What the drawn limits are, in words, e.g. "99.8% limits allowing for over-dispersion between CSPs
        (additive random effects, τ = 0.139)"."""
        if self.adjusted and self.method == "additive":
            return (f"{level} limits allowing for over-dispersion between {areas} (additive random effects, "
                    f"τ = {self.tau:.3f})")
        if self.adjusted:
            return (f"{level} limits allowing for over-dispersion between {areas} (multiplicative, "
                    f"φ = {self.phi:.2f})")
        return f"{level} Poisson limits (no allowance for over-dispersion between {areas})"

    def explanation(self, areas: str = "CSPs", around: str = "") -> str:
        """One or two plain sentences on why these limits were drawn (for the page text and notes).

        ``around`` names the comparators when they differ by area, e.g. "around their own force's rate".
        """
        n = f"{self.n_areas} {areas}"
        vary = f"vary {around} " if around else "vary "
        if not np.isfinite(self.phi):
            return (f"Too few {areas} ({self.n_areas}) to estimate how much they vary beyond chance, so the "
                    "limits allow for chance (Poisson) variation only.")
        spread = (f"The {n} {vary}far more than chance alone would make them (dispersion ratio φ = "
                  f"{self.phi:.2f} from winsorised z-scores; above {self.threshold:.2f} is more than chance)")
        if self.method == "additive" and self.adjusted:
            pct = 100 * ((1 + self.tau) ** 2 - 1)
            return (f"{spread}, so the limits add the usual variation between {areas}: τ = {self.tau:.3f} on "
                    f"the square-root scale, i.e. underlying rates typically {pct:.0f}% above or below the "
                    f"comparator. Only a {areas[:-1] if areas.endswith('s') else areas} outside these "
                    "limits is unusual.")
        if self.method == "multiplicative" and self.adjusted:
            return (f"{spread}, so the limits are widened by sqrt(φ) = {math.sqrt(self.phi):.2f}. Only an area "
                    "outside these limits is unusual.")
        if self.requested == "none":
            return (f"The limits allow for chance (Poisson) variation only (φ = {self.phi:.2f}; no allowance "
                    "for over-dispersion was requested).")
        return (f"The {n} {vary}no more than chance would make them (φ = {self.phi:.2f}, not above "
                f"{self.threshold:.2f}), so the limits are the Poisson ones.")

    def summary(self) -> dict:
        """The estimate as plain numbers (for ``SectionResult.values`` and provenance)."""
        return {"method": self.method, "requested": self.requested, "phi": self.phi,
                "phi_unwinsorised": self.phi_unwinsorised, "threshold": self.threshold, "tau2": self.tau2,
                "tau": self.tau, "n_areas": self.n_areas, "n_groups": self.n_groups,
                "winsorise": self.winsorise, "overdispersed": self.overdispersed, "adjusted": self.adjusted}


def overdispersion(events, denominators, baseline, *, method: str = "auto", winsorise: float = 0.1,
                   groups=None, multiplier: float = 100_000) -> Overdispersion:
    """Estimate over-dispersion of area rates around a baseline (Spiegelhalter 2005), and choose the limits.

    Parameters
    ----------
    events : array_like or pandas.Series
        Observed counts O_i per area (>= 0). Areas with NaN events are left out.
    denominators : array_like or pandas.Series
        Person-years (population x years) N_i per area, > 0.
    baseline : float or array_like
        Comparator rate per ``multiplier`` person-years: one value for all areas (e.g. sum O / sum N x
        multiplier), or one per area (e.g. each CSP's own force rate, with ``groups``).
    method : {"auto", "additive", "multiplicative", "none"}, default "auto"
        ``auto``: ``additive`` when ``phi`` exceeds ``threshold`` (see Notes), else ``none``.
    winsorise : float, default 0.1
        Share of z-scores pulled in at each end before ``phi`` is computed (0 to < 0.5).
    groups : array_like, optional
        Label of each area's comparator when ``baseline`` varies by area (e.g. the force code): tau^2 is then
        the pooled within-group variance, and the degrees of freedom are I - G.
    multiplier : float, default 100_000
        Scale of ``baseline`` (1,000 for rates per 1,000).

    Returns
    -------
    Overdispersion

    Raises
    ------
    ValueError
        On an unknown method, a winsorising share outside [0, 0.5), negative events, non-positive
        denominators or a negative baseline.

    Notes
    -----
    **Scale** (Spiegelhalter 2005, *Stat Med* section 3 and Table I; the "CQC" square-root route of
    FunnelPlotR). For area i with expected count E_i = baseline_i / multiplier x N_i, the indicator is
    y_i = sqrt(O_i / E_i), target 1, with standard error s_i = 1 / (2 sqrt(E_i)) from the variance-stabilising
    square-root transform of a Poisson count. The z-score is z_i = (y_i - 1) / s_i = 2 (sqrt(O_i) - sqrt(E_i)).
    The square root (not the log) is used because it is defined at O = 0, which small CSP counts reach.

    **Winsorising**. z-scores below the ``winsorise`` quantile are set to it and those above the
    1 - ``winsorise`` quantile to that (quantiles by linear interpolation, R's type 7, as FunnelPlotR), so
    a few truly outlying areas do not inflate the estimate.

    **Dispersion ratio** phi = (1/I) sum z_w^2 over the I areas.

    **Additive random effects** (DerSimonian-Laird, as Spiegelhalter 2005 *Qual Saf Health Care* and the
    CQC/SHMI): with weights w_i = 1/s_i^2 = 4 E_i,
    tau^2 = max(0, (I phi - (I - G)) / sum_g (S1_g - S2_g / S1_g)), S1_g = sum w_i, S2_g = sum w_i^2 over
    the areas of comparator g (G = 1: the usual (I phi - (I - 1)) / (sum w - sum w^2 / sum w)). Limits then
    use s_i^2 + tau^2 (:func:`adjusted_funnel_limits`). **Multiplicative**: limits use phi s_i^2, applied only
    when phi > 1 (limits are never narrowed).

    **The auto rule**. If the areas differed only by chance, I phi would be roughly chi-square on d = I - G
    degrees of freedom (mean d, standard deviation sqrt(2 d)); over-dispersion is assumed when phi exceeds
    that mean by two standard deviations, phi > (d + 2 sqrt(2 d)) / I, which for a single baseline is close
    to the rule of thumb phi > 1 + 2 sqrt(2 / I). Winsorising lowers phi under no over-dispersion (to about
    0.68 at 10%), so the rule is conservative: it widens the limits only on clear evidence. The additive
    model is the default because it treats areas as differing by a real amount (tau) that does not shrink
    as counts grow - the case of CSPs with different true rates - and because Spiegelhalter (2005) found it
    has the stronger conceptual foundation; a multiplicative factor over-widens the limits of small areas.

    Winsorising also biases tau downwards when the areas are truly over-dispersed (in simulation with 41
    CSP-sized areas, a true tau of 0.10 is estimated as about 0.073 on average), so the additive limits are,
    if anything, narrower than the random-effects model itself would draw: the published (Spiegelhalter,
    CQC, SHMI) trade of robustness to a few outliers for some extra flags.

    Fewer than 2 degrees of freedom (I - G < 2) or a baseline of 0: nothing is estimated (``phi`` NaN) and
    the method is ``none``.

    References
    ----------
    Spiegelhalter DJ. Funnel plots for comparing institutional performance. *Stat Med* 2005; 24:1185-1202.

    Spiegelhalter DJ. Handling over-dispersion of performance indicators. *Qual Saf Health Care* 2005;
    14:347-351.

    DerSimonian R, Laird N. Meta-analysis in clinical trials. *Control Clin Trials* 1986; 7:177-188.

    Mainey C et al. FunnelPlotR (NHS-R Community), ``R/od_adjustment.R`` (``transformed_zscore`` "CQC",
    ``winsorisation``, ``phi_func``, ``tau_func``).

    Examples
    --------
    >>> o, n = [30, 55, 20, 80, 41, 12, 66, 25], [1e4, 1e4, 1e4, 2e4, 1e4, 5e3, 2e4, 1e4]
    >>> od = overdispersion(o, n, baseline=sum(o) / sum(n) * 1000, multiplier=1000)
    >>> od.method, round(od.phi, 2), round(od.threshold, 2), round(od.tau, 3)
    ('additive', 2.01, 1.81, 0.09)
    """
    if method not in OVERDISPERSION_METHODS:
        raise ValueError(f"method must be one of {OVERDISPERSION_METHODS}, got {method!r}")
    try:
        share = float(winsorise)
    except (TypeError, ValueError):
        share = math.nan
    if not 0 <= share < 0.5:
        raise ValueError(f"winsorise must be a share in [0, 0.5), got {winsorise!r}")
    _check_positive_scalar(multiplier, "multiplier")
    o, e, g = _expected_counts(events, denominators, baseline, multiplier, groups)
    keep = np.isfinite(o)
    o, e, g = o[keep], e[keep], g[keep]
    n_areas, n_groups = int(o.size), int(np.unique(g).size) if o.size else 0
    dof = n_areas - n_groups
    nan = math.nan
    if dof < 2 or np.any(e <= 0):
        return Overdispersion("none", method, nan, nan, nan, 0.0, n_areas, n_groups, share)
    z = 2 * (np.sqrt(o) - np.sqrt(e))
    lo, hi = np.quantile(z, [share, 1 - share])
    zw = np.clip(z, lo, hi)
    phi = float(np.mean(zw**2))
    threshold = (dof + 2 * math.sqrt(2 * dof)) / n_areas
    chosen = ("additive" if phi > threshold else "none") if method == "auto" else method
    tau2 = 0.0
    if chosen == "additive":
        w = 4 * e
        denom = sum(w[g == k].sum() - (w[g == k] ** 2).sum() / w[g == k].sum() for k in np.unique(g))
        tau2 = max(0.0, (n_areas * phi - dof) / denom)
    return Overdispersion(chosen, method, phi, float(np.mean(z**2)), threshold, float(tau2), n_areas,
                          n_groups, share)


def adjusted_funnel_limits(baseline: float, denominators, od: Overdispersion,
                           multiplier: float = 100_000) -> pd.DataFrame:
    """Funnel limits for rates allowing for over-dispersion as estimated by :func:`overdispersion`.

    Parameters
    ----------
    baseline : float
        Comparator rate per ``multiplier`` person-years (the centre line).
    denominators : scalar, array_like or pandas.Series
        Person-years at which to evaluate the limits, > 0 (the areas' own, or a grid to draw).
    od : Overdispersion
        From :func:`overdispersion` on the areas plotted.
    multiplier : float, default 100_000
        Scale of ``baseline`` and of the limits.

    Returns
    -------
    pandas.DataFrame
        As :func:`funnel_limits`: ``denominator, baseline, lower_95, upper_95, lower_998, upper_998`` (rates x
        ``multiplier``).

    Notes
    -----
    Without an allowance (``od.adjusted`` False: method ``none``, an additive tau^2 of 0, or a
    multiplicative phi <= 1) these are exactly the exact-Poisson limits of :func:`funnel_limits`. Otherwise,
    with E = baseline / multiplier x N and s = 1 / (2 sqrt(E)), the limits of y = sqrt(rate / baseline) are
    1 -/+ z sqrt(s^2 + tau^2) (additive) or 1 -/+ z sqrt(phi) s (multiplicative), z = 1.959964 (95%) or
    3.090232 (99.8%); the rate limits are baseline x max(y, 0)^2 (Spiegelhalter 2005; FunnelPlotR
    ``calculate_limits``, "CQC"). Additive limits tend to baseline x (1 -/+ z tau)^2 as N grows: a large area
    is not flagged for a difference the usual variation between areas explains.

    Examples
    --------
    >>> od = Overdispersion("additive", "auto", 4.0, 5.0, 1.7, 0.01, 40, 1, 0.1)
    >>> print(adjusted_funnel_limits(1.0, [1e4, 1e6], od, multiplier=1000).round(3).to_string())
       denominator  baseline  lower_95  upper_95  lower_998  upper_998
    0      10000.0       1.0     0.401     1.868      0.178      2.490
    1    1000000.0       1.0     0.643     1.436      0.472      1.724
    """
    if not od.adjusted:
        return funnel_limits(baseline, denominators, kind="rate", multiplier=multiplier)
    _check_positive_scalar(multiplier, "multiplier")
    base = _baseline(baseline, "rate", multiplier)
    n, index = _as_vector(denominators, "denominators")
    if np.any(n <= 0):
        raise ValueError("denominators must all be greater than 0")
    out = {"denominator": n, "baseline": np.full(n.shape, base)}
    for label, (lo, hi) in _adjusted_ratio_limits(base / multiplier * n, od).items():
        out[f"lower_{label}"], out[f"upper_{label}"] = base * lo**2, base * hi**2
    cols = ["denominator", "baseline", "lower_95", "upper_95", "lower_998", "upper_998"]
    return pd.DataFrame(out, index=index)[cols]


def adjusted_funnel_significance(events, denominators, baseline, od: Overdispersion,
                                 multiplier: float = 100_000) -> pd.DataFrame:
    """Whether each area lies above or below the funnel limits drawn for it (with any over-dispersion allowance).

    Parameters
    ----------
    events : array_like or pandas.Series
        Observed counts per area (>= 0; NaN gives a ``None`` label).
    denominators : array_like or pandas.Series
        Person-years per area, > 0.
    baseline : float or array_like
        Comparator rate per ``multiplier``: one value, or one per area (as given to :func:`overdispersion`).
    od : Overdispersion
        From :func:`overdispersion` on the same areas.
    multiplier : float, default 100_000
        Scale of ``baseline`` and ``value``.

    Returns
    -------
    pandas.DataFrame
        One row per area: ``events``, ``denominator``, ``value`` (rate x ``multiplier``), ``expected`` (E_i),
        ``z`` (Poisson z-score on the square-root scale, 2 (sqrt(O) - sqrt(E))), ``z_adjusted`` (z divided by
        sqrt(1 + 4 E tau^2) or sqrt(phi); equal to ``z`` without an allowance), ``significance_95`` and
        ``significance_998`` (``"high"``, ``"low"`` or ``"not significant"``).

    Notes
    -----
    An area is "high" (``"low"``) exactly when its rate is above (below) the limit of
    :func:`adjusted_funnel_limits` at its own denominator, strictly, so the flags always match the drawn
    funnel. Without an allowance that is the exact one-sided Poisson test at tail 0.025 or 0.001 (P(X >= O)
    or P(X <= O) below the tail under mean E), which :func:`funnel_significance` approximates with Byar's
    limits for O >= 10; with one, it is |z_adjusted| > z.

    Examples
    --------
    >>> od = Overdispersion("additive", "auto", 4.0, 5.0, 1.7, 0.01, 40, 1, 0.1)
    >>> out = adjusted_funnel_significance([20, 160, 300], [1e5, 1e5, 1e5], 1.5, od, multiplier=1000)
    >>> out[["value", "significance_95", "significance_998"]]
       value  significance_95 significance_998
    0    0.2              low              low
    1    1.6  not significant  not significant
    2    3.0             high             high
    """
    _check_positive_scalar(multiplier, "multiplier")
    o, e, _ = _expected_counts(events, denominators, baseline, multiplier, None)
    x, index = _as_vector(events, "events")
    n, _ = _as_vector(denominators, "denominators")
    if index.size != o.size:
        index = pd.RangeIndex(o.size)
    missing = ~np.isfinite(o)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = 2 * (np.sqrt(o) - np.sqrt(e))
        if od.adjusted and od.method == "additive":
            z_adj = z / np.sqrt(1 + 4 * e * od.tau2)
        elif od.adjusted:
            z_adj = z / math.sqrt(od.phi)
        else:
            z_adj = z
    out = {"events": o, "denominator": np.broadcast_to(n, o.shape).astype(float), "value": o / n * multiplier,
           "expected": e, "z": z, "z_adjusted": z_adj}
    if od.adjusted:
        bounds = _adjusted_ratio_limits(e, od)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = o / e
        tests = {label: (ratio < lo**2, ratio > hi**2) for label, (lo, hi) in bounds.items()}
    else:
        tests = {}
        for label, tail in _TAILS.items():
            lo_count, hi_count = _poisson_funnel_counts(e, tail)
            tests[label] = (o < lo_count, o > hi_count)
    for label, (low, high) in tests.items():
        labels = np.where(high, "high", np.where(low, "low", "not significant")).astype(object)
        labels[missing] = None
        out[f"significance_{label}"] = labels
    return pd.DataFrame(out, index=index)


def _adjusted_ratio_limits(expected: np.ndarray, od: Overdispersion) -> dict:
    """{"95": (lo, hi), "998": (lo, hi)}: limits of sqrt(O / E) at expected counts E under ``od`` (lower >= 0).

    Callers square them for the limits of O / E (the rate as a multiple of the baseline).
    """
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore"):
        s2 = 1 / (4 * e)
    sd = np.sqrt(s2 + od.tau2) if od.method == "additive" else np.sqrt(od.phi * s2)
    return {label: (np.maximum(1 - z * sd, 0.0), 1 + z * sd) for label, z in _Z.items()}


def _expected_counts(events, denominators, baseline, multiplier, groups):
    """(O, E, group labels) as float arrays of one length; E = baseline / multiplier x N."""
    o, _ = _as_vector(events, "events")
    n, _ = _as_vector(denominators, "denominators")
    if isinstance(baseline, pd.Series):
        b = baseline.to_numpy(dtype=float, na_value=np.nan)
    else:
        b = np.atleast_1d(np.asarray(baseline, dtype=float))
    try:
        o, n, b = (np.array(a, dtype=float) for a in np.broadcast_arrays(o, n, b))
    except ValueError:
        raise ValueError(f"events ({o.size}), denominators ({n.size}) and baseline ({b.size}) have different "
                         "lengths") from None
    if np.any(o < 0):
        raise ValueError("events must all be greater than or equal to 0")
    if np.any(n <= 0):
        raise ValueError("denominators must all be greater than 0")
    if np.any(b < 0) or np.isnan(b).any():
        raise ValueError("baseline must be a number >= 0 for every area")
    if groups is None:
        g = np.zeros(o.shape, dtype=object)
    else:
        g = np.asarray(pd.Series(groups).astype(str).to_numpy(), dtype=object)
        if g.shape != o.shape:
            raise ValueError(f"groups ({g.size}) and events ({o.size}) have different lengths")
    return o, b / multiplier * n, g


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
