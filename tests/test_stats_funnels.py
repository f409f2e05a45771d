"""Tests for svtools.analysis.stats.funnels.

References: the PHEindicatormethods 2.1.0 funnel test data (``tests/testthat/testdata_funnel_*.csv``; rows
copied below with the file named), and brute-force inversion of the Poisson and Wilson definitions with scipy.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import svtools.analysis.stats.funnels as funnels_module
from svtools.analysis.stats import funnel_limits, funnel_significance, proportion

LEVELS = {"95": 0.975, "998": 0.999}

# testdata_funnel_rate_outputs.csv (rate_type "dsr", per 100,000, years_of_data = 3): Events,
# lower_2s_population_1_year, lower_2s_limit, upper_2s_population_1_year, upper_2s_limit,
# lower_3s_population_1_year, lower_3s_limit, upper_3s_population_1_year, upper_3s_limit; baseline 116.1720835
RATE_FUNNEL_BASELINE = 116.1720835
RATE_FUNNEL_ROWS = [
    (1, 1598.675694, 20.85059119, 7.264481402, 4588.535848, 2649.348525, 12.58170943, 0.287087625,
     116108.569),
    (5, 3348.002593, 49.78092521, 465.8280129, 357.7858395, 4721.370883, 35.30048174, 212.14848, 785.6132963),
    (20, 8862.823734, 75.22057153, 3505.293872, 190.1885237, 10915.38389, 61.07587907, 2570.385518,
     259.3644657),
    (94, 33006.2688, 94.93146143, 21795.70245, 143.7592268, 36723.73682, 85.32174568, 19184.7108,
     163.3245018),
    (1360, 411529.9259, 110.158048, 369759.5622, 122.6021934, 424043.2424, 106.9073359, 358342.3275,
     126.5084525),
]

# testdata_funnel_prop_outputs.csv (multiplier 100): Population, Lower2s, Upper2s, Lower3s, Upper3s; baseline
PROP_FUNNEL_BASELINE = 80.642448
PROP_FUNNEL_ROWS = [
    (1, 3.204264, 100.0, 0.0, 100.0),
    (3, 35.933491, 100.0, 10.150815, 100.0),
    (10, 56.154344, 100.0, 42.03259, 100.0),
    (598, 77.475765, 83.809131, 75.649608, 85.635287),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]

# testdata_funnel_rate_dsr_inputs.csv: count, pop, rate_crude_per_100000, and the package's significance for
# crude rates per 100,000 "with_0" (all 40 rows) and "without_0" (the 39 rows with count > 0)
H1, H2, L1, L2, NS = "High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)", "Not significant"
RATE_SIG_ROWS = [
    (2419, 264102, 915.9339952, H1, H1), (2337, 259711, 899.8463677, H1, H1),
    (2291, 289247, 792.056616, H1, H1), (2242, 265029, 845.9451607, H1, H1),
    (2218, 284649, 779.2052668, H1, H1), (2159, 293578, 735.409329, H1, H1),
    (2130, 286718, 742.8902266, H1, H1), (2111, 307381, 686.7698394, NS, NS),
    (2105, 274145, 767.8418355, H1, H1), (2083, 297424, 700.3469794, H2, NS),
    (2078, 272628, 762.2107781, H1, H1), (2062, 269656, 764.6779601, H1, H1),
    (2061, 294692, 699.3742619, H2, NS), (2033, 277710, 732.0586223, H1, H2),
    (2033, 259213, 784.2970839, H1, H1), (2010, 285516, 703.9885681, H2, NS),
    (2004, 269449, 743.7400027, H1, H1), (2002, 290888, 688.2373972, NS, NS),
    (1977, 287112, 688.5814595, NS, NS), (1944, 286492, 678.5529788, NS, NS),
    (1932, 287012, 673.1425864, NS, NS), (1922, 291277, 659.8529922, NS, NS),
    (1912, 289859, 659.631062, NS, NS), (1881, 289653, 649.3977276, NS, L2),
    (1844, 282519, 652.6994645, NS, L2), (1835, 274220, 669.1707388, NS, NS),
    (1833, 280271, 654.009869, NS, L2), (1825, 284206, 642.1398563, NS, L2),
    (1816, 274508, 661.5472045, NS, NS), (1809, 288384, 627.2886152, L2, L1),
    (1798, 287072, 626.3237097, L2, L1), (1754, 282744, 620.3491498, L1, L1),
    (1746, 289208, 603.7177395, L1, L1), (1709, 287736, 593.9472294, L1, L1),
    (1694, 296175, 571.9591458, L1, L1), (1688, 303255, 556.6272609, L1, L1),
    (1649, 285959, 576.6560941, L1, L1), (1553, 274661, 565.4242867, L1, L1),
    (1332, 281425, 473.3054988, L1, L1), (0, 297820, 0.0, L1, NS),
]

# testdata_funnel_prop_inputs.csv: numerator, denominator, significance (baseline 80.642448% from the
# outputs file: the overall proportion of all 303 rows)
PROP_SIG_ROWS = [
    (35078.488, 41980, H1), (48686.4364, 59804, H1), (66969.6742, 80002, H1), (22506.3828, 25932, H1),
    (24803.6256, 31824, L1), (35795.6324, 45449, L1), (48514.446, 64755, L1), (70670.2858, 93122, L1),
    (50050.7443, 61921, NS), (24648.7596, 30521, NS), (31759.385, 39350, NS), (29561.6517, 36627, NS),
    (26789.238, 33012, H2), (36850.0492, 45449, H2), (34502.0685, 42485, H2), (23910.2469, 29457, H2),
    (30277.5312, 37828, L2),
]


def _package_label(s95, s998):
    """Map our two columns onto the package's single label."""
    out = []
    for a, b in zip(s95, s998):
        if b in ("high", "low"):
            out.append(f"{b.capitalize()} (0.001)")
        elif a in ("high", "low"):
            out.append(f"{a.capitalize()} (0.025)")
        else:
            out.append(NS)
    return out


def test_docstring_examples():
    """The Examples sections of funnels.py run as printed."""
    assert doctest.testmod(funnels_module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_columns_and_index():
    out = funnel_limits(100, pd.Series([1000, 5000], index=["a", "b"]))
    assert list(out.columns) == ["denominator", "baseline", "lower_95", "upper_95", "lower_998", "upper_998"]
    assert list(out.index) == ["a", "b"]
    assert (out["baseline"] == 100).all()


@pytest.mark.parametrize("row", RATE_FUNNEL_ROWS, ids=lambda r: f"events{r[0]}")
def test_rate_limits_match_phe_funnel_output(row):
    """testdata_funnel_rate_outputs.csv: at the population where the package puts O events on a limit, our
    limit is O / population x 100,000 (populations there are per year of 3 years of data)."""
    events, lo2_pop, lo2, hi2_pop, hi2, lo3_pop, lo3, hi3_pop, hi3 = row
    for pop, expected, col in ((lo2_pop, lo2, "lower_95"), (hi2_pop, hi2, "upper_95"),
                               (lo3_pop, lo3, "lower_998"), (hi3_pop, hi3, "upper_998")):
        got = funnel_limits(RATE_FUNNEL_BASELINE, pop * 3)[col].iloc[0]
        # the package bisects to 1e-7 and the CSV has 10 significant figures
        assert got == pytest.approx(expected, rel=1e-5), col


@pytest.mark.parametrize("row", PROP_FUNNEL_ROWS, ids=lambda r: f"n{r[0]}")
def test_proportion_limits_match_phe_funnel_output(row):
    """testdata_funnel_prop_outputs.csv (percentages, lower clipped at 0, upper at 100)."""
    n, lo2, hi2, lo3, hi3 = row
    out = funnel_limits(PROP_FUNNEL_BASELINE, n, kind="proportion", multiplier=100).iloc[0]
    for col, expected in (("lower_95", lo2), ("upper_95", hi2), ("lower_998", lo3), ("upper_998", hi3)):
        assert out[col] == pytest.approx(expected, abs=2e-6), col


@pytest.mark.parametrize("baseline", [2.5, 50.0, 650.0, 9000.0])
@pytest.mark.parametrize("events", [1, 3, 9, 10, 47, 500])
def test_rate_limits_by_brute_force_poisson_inversion(baseline, events):
    """For integer O, find the mean mu with P(X <= O | mu) = p (or P(X >= O | mu) = p) by brentq on
    scipy.stats.poisson; at population mu / a the lower (upper) funnel limit must be O / population."""
    a = baseline / 100_000
    for level, q in LEVELS.items():
        p = 1 - q
        mu_low = optimize.brentq(lambda mu: stats.poisson.cdf(events, mu) - p, 1e-9, 10 * events + 100)
        mu_high = optimize.brentq(lambda mu: stats.poisson.sf(events - 1, mu) - p, 1e-9, 10 * events + 100)
        n_low, n_high = mu_low / a, mu_high / a
        got_low = funnel_limits(baseline, n_low)[f"lower_{level}"].iloc[0]
        got_high = funnel_limits(baseline, n_high)[f"upper_{level}"].iloc[0]
        assert got_low == pytest.approx(events / n_low * 100_000, rel=1e-8)
        assert got_high == pytest.approx(events / n_high * 100_000, rel=1e-8)


@settings(max_examples=60, deadline=None)
@given(baseline=st.floats(1, 5000), n=st.floats(50, 5e6))
def test_rate_limits_are_the_exact_test_boundary(baseline, n):
    """Property: integer counts at or below the lower limit are significantly low by the exact one-sided
    Poisson test (P(X <= O) <= 0.025 at mu0 = baseline x N), counts just above are not; likewise above."""
    mu0 = baseline / 100_000 * n
    out = funnel_limits(baseline, n).iloc[0]
    lo_count = out["lower_95"] * n / 100_000
    hi_count = out["upper_95"] * n / 100_000
    assert lo_count <= mu0 <= hi_count
    below = np.floor(lo_count - 1e-9)
    if below >= 0 and lo_count > 0:
        assert stats.poisson.cdf(below, mu0) <= 0.025 + 1e-12
    assert stats.poisson.cdf(np.floor(lo_count) + 1, mu0) > 0.025 - 1e-12
    above = np.ceil(hi_count + 1e-9)
    assert stats.poisson.sf(above - 1, mu0) <= 0.025 + 1e-12
    if np.ceil(hi_count) - 1 >= 1:
        assert stats.poisson.sf(np.ceil(hi_count) - 2, mu0) > 0.025 - 1e-12


def test_rate_lower_limit_zero_when_zero_events_not_low():
    """With mu0 < -ln(0.025) even 0 events is not significantly low: the lower limit is 0."""
    out = funnel_limits(100, [1000, 3000, 4000]).iloc[:, :]  # mu0 = 1, 3, 4
    assert out.at[0, "lower_95"] == 0 and out.at[1, "lower_95"] == 0
    assert out.at[2, "lower_95"] > 0  # exp(-4) = 0.018 < 0.025
    assert out.at[2, "lower_998"] == 0  # exp(-4) > 0.001


@pytest.mark.parametrize("p", [0.05, 0.3, 0.8064])
@pytest.mark.parametrize("n", [5, 40, 600, 20000])
def test_proportion_limits_invert_wilson(p, n):
    """Brute force: the lower (upper) limit x/N is where the Wilson upper (lower) limit of x equals P,
    solved with brentq on the Wilson formula written out here (Wilson 1927)."""
    for level, q in LEVELS.items():
        z = stats.norm.ppf(q)

        def wilson(x, sign):
            return (2 * x + z**2 + sign * z * np.sqrt(z**2 + 4 * x * (1 - x / n))) / (2 * (n + z**2))

        out = funnel_limits(p, n, kind="proportion", multiplier=1).iloc[0]
        if wilson(0, +1) < p:  # some x in [0, n] has upper Wilson limit equal to p
            x_lo = optimize.brentq(lambda x: wilson(x, +1) - p, 0, n)
            assert out[f"lower_{level}"] == pytest.approx(x_lo / n, rel=1e-9, abs=1e-12)
        else:
            assert out[f"lower_{level}"] == 0
        if wilson(n, -1) > p:
            x_hi = optimize.brentq(lambda x: wilson(x, -1) - p, 0, n)
            assert out[f"upper_{level}"] == pytest.approx(x_hi / n, rel=1e-9)
        else:
            assert out[f"upper_{level}"] == 1


def test_proportion_clipped_to_scale_of_multiplier():
    """We clip the upper limit at 1 x multiplier (the R package clips at 100 whatever the multiplier)."""
    out = funnel_limits(0.9, [1, 2, 5], kind="proportion", multiplier=1)
    assert (out["upper_95"] <= 1).all() and (out["upper_95"] == 1).any()
    assert (out[["lower_95", "lower_998"]] >= 0).all().all()


@pytest.mark.parametrize("multiplier, rate_col, col", [
    (100_000, 2, 3),
    (100, None, 4),
])
def test_rate_significance_matches_phe(multiplier, rate_col, col):
    """testdata_funnel_rate_dsr_inputs.csv, crude rates "with_0" (40 rows) and "without_0" (39 rows): the
    baseline is sum(count) / sum(denominator) with denominator = multiplier x count / rate (or pop for 0)."""
    count = np.array([r[0] for r in RATE_SIG_ROWS], dtype=float)
    pop = np.array([r[1] for r in RATE_SIG_ROWS], dtype=float)
    rate_per_1e5 = np.array([r[2] for r in RATE_SIG_ROWS])
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.where(count == 0, pop, 100_000 * count / rate_per_1e5)
    for mask, expected_col in ((np.ones(count.size, bool), 3), (count > 0, 4)):
        baseline = count[mask].sum() / denom[mask].sum() * multiplier
        out = funnel_significance(count[mask], denom[mask], baseline, multiplier=multiplier)
        expected = [r[expected_col] for r, m in zip(RATE_SIG_ROWS, mask) if m]
        assert _package_label(out["significance_95"], out["significance_998"]) == expected


def test_proportion_significance_matches_phe():
    """testdata_funnel_prop_inputs.csv rows for every label, baseline 80.642448% (all 303 rows; the full file
    reproduces all 303 labels)."""
    x = [r[0] for r in PROP_SIG_ROWS]
    n = [r[1] for r in PROP_SIG_ROWS]
    out = funnel_significance(x, n, PROP_FUNNEL_BASELINE, kind="proportion", multiplier=100)
    assert _package_label(out["significance_95"], out["significance_998"]) == [r[2] for r in PROP_SIG_ROWS]
    assert list(out.columns) == ["events", "denominator", "value", "significance_95", "significance_998"]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 100_000), p=st.floats(0.001, 0.999))
def test_proportion_significance_equals_own_wilson_ci(data, n, p):
    """Property: 'high' iff the area's own Wilson interval lies above the baseline, 'low' iff below."""
    x = data.draw(st.integers(0, n))
    sig = funnel_significance(x, n, p, kind="proportion", multiplier=1).iloc[0]
    for level, conf in (("95", 0.95), ("998", 0.998)):
        ci = proportion(x, n, confidence=conf).iloc[0]
        # skip knife-edge ties where rounding differs between the two equivalent formulae
        if min(abs(ci["lower"] - p), abs(ci["upper"] - p)) < 1e-9:
            continue
        expected = "high" if ci["lower"] > p else "low" if ci["upper"] < p else "not significant"
        assert sig[f"significance_{level}"] == expected


def test_rate_significance_small_counts_use_exact():
    """O < 10 uses exact limits: 0 events in 297,820 is low at 95% only when the baseline exceeds
    -ln(0.025) / N (here 1.24 per 100,000), and 9 events is compared using chi-square limits."""
    low = funnel_significance(0, 297_820, baseline=1.3).iloc[0]
    assert low["significance_95"] == "low" and low["significance_998"] == "not significant"
    assert funnel_significance(0, 297_820, baseline=1.2).iloc[0]["significance_95"] == "not significant"
    lower9 = stats.chi2.ppf(0.025, 18) / 2 / 1000 * 100_000
    assert funnel_significance(9, 1000, baseline=lower9 * 0.999).iloc[0]["significance_95"] == "high"
    above = funnel_significance(9, 1000, baseline=lower9 * 1.001).iloc[0]
    assert above["significance_95"] == "not significant"


def test_significance_nan_rows_and_index():
    out = funnel_significance(pd.Series([np.nan, 50], index=["x", "y"]), [1000, 1000], baseline=5000)
    assert list(out.index) == ["x", "y"]
    assert pd.isna(out.at["x", "significance_95"])
    assert out.at["y", "significance_95"] in {"high", "low", "not significant"}


@pytest.mark.parametrize("call, match", [
    (lambda: funnel_limits(10, [100], kind="ratio"), "kind"),
    (lambda: funnel_limits(10, [0, 100]), "denominators"),
    (lambda: funnel_limits(-1, [100]), "baseline"),
    (lambda: funnel_limits(150, [100], kind="proportion", multiplier=100), "baseline"),
    (lambda: funnel_limits(10, [100], multiplier=0), "multiplier"),
    (lambda: funnel_significance([-1], [100], 10), "events"),
    (lambda: funnel_significance([5], [0], 10), "denominators"),
    (lambda: funnel_significance([50], [10], 0.5, kind="proportion", multiplier=1), "less than or equal"),
    (lambda: funnel_significance([1, 2], [10, 10, 10], 0.5), "lengths"),
])
def test_invalid_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
