"""Tests for svtools.analysis.stats.compare.rate_ratio: the exact conditional rate ratio of two Poisson counts.

Reference values, with their source in each test:

* R ``stats::poisson.test`` help-page example (eba1977: Fredericia against the other three cities, ages 55-59)
  as printed by R: rate ratio 1.971488, 95% CI 0.8584264 to 4.2772659, p-value 0.07967, expected count1
  6.7174.
* R ``stats::binom.test`` help-page example (Mendel's peas, ``binom.test(c(682, 243), p = 3/4)``): p-value
  0.3825, 95% CI 0.7076683 to 0.7654066; ``poisson.test(c(682, 243), c(3, 1))`` is the same binomial test, so
  its rate-ratio interval is that interval as odds divided by 3.
* R ``rateratio.test`` example ``rateratio.test(c(2, 9), c(17877, 16660))`` (Fay 2010; the central p-value):
  p-value 0.0501065, 95% CI 0.02177406 to 1.00054910, rate ratio 0.2070942 (as reproduced in the README of the
  Python port github.com/kad-ecoli/rateratio_test).
* The issue's measured cases (Eden 16 -> 23: CI 0.73 to 2.91, p = 0.34; Hartlepool under 25 11 -> 9: p = 0.82;
  homicides 5 -> 6).
* Closed forms derived by hand for zero counts (Clopper-Pearson limits of 0 of n are 1 - (alpha/2)^(1/n)) and
  the defining tail equations of the limits solved here by root finding (not by the beta-quantile identity the
  code uses).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import svtools.analysis.stats.compare as compare_module
from svtools.analysis.stats import rate_ratio


def one(*args, **kw):
    return rate_ratio(*args, **kw).iloc[0]


# --------------------------------------------------------------------------- R reference values
def test_poisson_test_help_example():
    """R: poisson.test(c(11, 6+8+7), c(800, 1083+1050+878)) -> rate ratio 1.971488, 95% CI 0.8584264
    4.2772659, p-value = 0.07967 (R's two-sided binom.test p-value, 'minlike')."""
    r = one(11, 6 + 8 + 7, 800, 1083 + 1050 + 878, p_value="minlike")
    assert r["ratio"] == pytest.approx(1.971488, abs=5e-7)
    assert r["lower"] == pytest.approx(0.8584264, abs=5e-8)
    assert r["upper"] == pytest.approx(4.2772659, abs=5e-8)
    assert r["p_value"] == pytest.approx(0.07967, abs=5e-6)
    assert r["words"] == "no clear change"
    # R's "expected count1" = n t1 / (t1 + t2) = 6.7174: the split the populations alone would give
    assert 32 * 800 / (800 + 3011) == pytest.approx(6.7174, abs=5e-5)


def test_binom_test_help_example_as_a_rate_ratio():
    """R: binom.test(c(682, 243), p = 3/4) -> p-value = 0.3825, 95% CI 0.7076683 0.7654066. poisson.test(c(682,
    243), c(3, 1)) conditions to exactly this test; its limits are pi / (1 - pi) x t2 / t1."""
    r = one(682, 243, 3, 1, p_value="minlike")
    pi = lambda rr: 3 * rr / (1 + 3 * rr)  # noqa: E731  back from the rate ratio to the binomial scale
    assert pi(r["lower"]) == pytest.approx(0.7076683, abs=5e-8)
    assert pi(r["upper"]) == pytest.approx(0.7654066, abs=5e-8)
    assert r["p_value"] == pytest.approx(0.3825, abs=5e-5)
    assert r["ratio"] == pytest.approx((682 / 3) / 243)


def test_rateratio_test_example_central_p_value():
    """R rateratio.test(c(2, 9), c(17877, 16660)): p-value 0.0501065 (twice the smaller tail), 95% CI
    0.02177406 1.00054910, rate ratio 0.2070942. The interval just includes 1: no clear change."""
    r = one(2, 9, 17877, 16660)
    assert r["p_value"] == pytest.approx(0.0501065, abs=5e-8)
    assert r["lower"] == pytest.approx(0.02177406, abs=5e-9)
    assert r["upper"] == pytest.approx(1.00054910, abs=5e-9)
    assert r["ratio"] == pytest.approx(0.2070942, abs=5e-8)
    assert r["words"] == "no clear change"
    # R's poisson.test (minlike) gives p < 0.05 for the same counts while the interval includes 1 (Fay 2010):
    # the words follow the interval, never that p-value
    assert one(2, 9, 17877, 16660, p_value="minlike")["p_value"] < 0.05


# --------------------------------------------------------------------------- the measured cases
@pytest.mark.parametrize("latest, baseline, lo, hi, p", [
    (23, 16, 0.73, 2.91, 0.34),   # Eden, "+43.8%" from 16
    (9, 11, 0.30, 2.17, 0.82),    # Hartlepool under 25, "-18.2%"
    (6, 5, 0.31, 4.97, 1.00),     # homicides, "+20.0%"
])
def test_measured_cases_are_no_clear_change(latest, baseline, lo, hi, p):
    r = one(latest, baseline)
    assert round(r["lower"], 2) == lo and round(r["upper"], 2) == hi and round(r["p_value"], 2) == p
    assert r["words"] == "no clear change"


def test_a_clear_fall_and_rise():
    # 810 against 864 (LLR, all ages) is -6.3%: no clear change; 40 against 80 is a clear fall
    assert one(810, 864)["words"] == "no clear change"
    r = one(40, 80)
    assert r["upper"] < 1 and r["words"] == "lower" and r["p_value"] < 0.05
    assert one(80, 40)["words"] == "higher"


# --------------------------------------------------------------------------- edge cases (hand-derived)
def test_zero_latest_count_has_only_an_upper_bound():
    """0 of n: Clopper-Pearson upper limit of pi is 1 - (alpha/2)^(1/n); lower limit and ratio 0."""
    r = one(0, 7)
    q = 0.025 ** (1 / 7)
    assert r["ratio"] == 0 and r["lower"] == 0
    assert r["upper"] == pytest.approx((1 - q) / q, rel=1e-12)
    assert r["p_value"] == pytest.approx(2 * 0.5 ** 7)  # the only more extreme outcome is itself
    assert r["words"] == "lower"
    assert one(0, 2)["words"] == "no clear change"  # 0 against 2 is not a clear fall


def test_zero_baseline_count_has_only_a_lower_bound():
    r = one(10, 0)
    q = 0.025 ** (1 / 10)
    assert math.isinf(r["ratio"]) and math.isinf(r["upper"])
    assert r["lower"] == pytest.approx(q / (1 - q), rel=1e-12)
    assert r["words"] == "higher"
    assert one(3, 0)["words"] == "no clear change"


def test_both_zero_is_no_ratio():
    r = one(0, 0)
    assert np.isnan(r["ratio"]) and np.isnan(r["lower"]) and np.isnan(r["upper"]) and np.isnan(r["p_value"])
    assert r["words"] is None and r["method"] is None


def test_missing_counts_give_missing_outputs():
    out = rate_ratio([None, 3, pd.NA], [5, np.nan, 2])
    assert out[["ratio", "lower", "upper", "p_value"]].isna().all().all()
    assert out["words"].isna().all()
    s = pd.Series([4, None], dtype="Int64", index=["a", "b"])
    out = rate_ratio(s, 6)
    assert list(out.index) == ["a", "b"] and np.isnan(out.loc["b", "ratio"]) and out.loc["a", "ratio"] == 4 / 6


def test_midp_by_hand():
    """0 against 2, equal times: X ~ Bin(2, 1/2), P(X = 0) = 1/4; mid-p = 2 x (1/4 - 1/8) = 1/4."""
    r = one(0, 2, p_value="midp")
    assert r["p_value"] == pytest.approx(0.25) and r["midp"] == pytest.approx(0.25)
    # mid-p of 9 against 11: 2 x (P(X <= 9) - P(X = 9)/2), X ~ Bin(20, 1/2), from the binomial sums
    pmf = [math.comb(20, k) / 2 ** 20 for k in range(21)]
    assert one(9, 11)["midp"] == pytest.approx(2 * (sum(pmf[:10]) - pmf[9] / 2), rel=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="whole numbers"):
        rate_ratio(2.5, 3)
    with pytest.raises(ValueError, match="whole numbers"):
        rate_ratio(3, -1)
    with pytest.raises(ValueError, match="t2 must be greater than 0"):
        rate_ratio(3, 4, 1, 0)
    with pytest.raises(ValueError, match="p_value"):
        rate_ratio(3, 4, p_value="wald")
    with pytest.raises(ValueError, match="confidence"):
        rate_ratio(3, 4, confidence=0.5)
    with pytest.raises(ValueError, match="incompatible"):
        rate_ratio([1, 2], [1, 2, 3])


# --------------------------------------------------------------------------- properties
def _tail_limits(k, n, alpha=0.05):
    """Clopper-Pearson limits from their defining equations P(X >= k | pi_L) = P(X <= k | pi_U) = alpha/2."""
    lo = 0.0 if k == 0 else optimize.brentq(lambda p: stats.binom.sf(k - 1, n, p) - alpha / 2, 1e-12, 1 - 1e-12,
                                            xtol=1e-14)
    hi = 1.0 if k == n else optimize.brentq(lambda p: stats.binom.cdf(k, n, p) - alpha / 2, 1e-12, 1 - 1e-12,
                                            xtol=1e-14)
    return lo, hi


@settings(max_examples=60, deadline=None)
@given(x1=st.integers(0, 60), x2=st.integers(0, 60), t1=st.floats(0.5, 2e5), t2=st.floats(0.5, 2e5))
def test_limits_solve_the_tail_equations_and_match_the_p_value(x1, x2, t1, t2):
    r = one(x1, x2, t1, t2)
    if x1 + x2 == 0:
        assert np.isnan(r["ratio"])
        return
    lo, hi = _tail_limits(x1, x1 + x2)
    assert r["lower"] == pytest.approx(lo / (1 - lo) * t2 / t1, rel=1e-6, abs=1e-12)
    if hi < 1:
        assert r["upper"] == pytest.approx(hi / (1 - hi) * t2 / t1, rel=1e-6)
    assert r["lower"] <= r["ratio"] <= r["upper"]
    # the central p-value and the interval agree (Fay 2010): p < 0.05 exactly when 1 is outside the interval
    if abs(r["p_value"] - 0.05) > 1e-9:
        assert (r["p_value"] < 0.05) == (r["words"] != "no clear change")
    # swapping the two areas/years inverts the ratio and its interval
    s = one(x2, x1, t2, t1)
    if 0 < r["ratio"] < math.inf:
        assert s["ratio"] == pytest.approx(1 / r["ratio"])
        assert s["lower"] == pytest.approx(1 / r["upper"], rel=1e-9)
        assert s["p_value"] == pytest.approx(r["p_value"])


def test_ratio_of_rates_scales_with_person_time():
    """Doubling the latest year's population halves its rate, so the ratio and both limits halve."""
    a, b = one(30, 20, 1, 1), one(30, 20, 2, 1)
    for c in ("ratio", "lower", "upper"):
        assert b[c] == pytest.approx(a[c] / 2)


def test_confidence_level():
    r95, r998 = one(30, 20), one(30, 20, confidence=99.8)
    assert r998["lower"] < r95["lower"] and r998["upper"] > r95["upper"] and r998["confidence"] == 0.998


def test_doctests():
    assert doctest.testmod(compare_module).failed == 0
