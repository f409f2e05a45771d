"""Tests for svtools.analysis.stats.rates and svtools.analysis.stats.intervals.

Reference values come from three independent places, named in each test:

* the brief / docs/methods.md worked example (our reference run of PHEindicatormethods ``phe_rate``);
* the PHEindicatormethods 2.1.0 test spreadsheets (``tests/testthat/testdata_Rate.xlsx``,
  ``testdata_Byars_Wilson.xlsx``, ``testdata_DSR_ISR.xlsx``; numbers copied to 8+ significant figures);
* formulas re-derived here with scipy (Poisson tail inversion by root finding, not the chi-square identity).
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

import svtools.analysis.stats.intervals as intervals_module
import svtools.analysis.stats.rates as rates_module
from svtools.analysis.stats import dsr, isr, proportion, rate
from svtools.analysis.stats.intervals import byars_lower, byars_upper, confidence_z, poisson_limits

# European Standard Population 2013, 19 bands 0-4 ... 90+ (PHEindicatormethods esp2013; methods.md 1.8)
ESP2013 = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500, 5000, 4000,
           2500, 1500, 1000]
# PHEindicatormethods testdata_DSR_ISR.xlsx, sheet testdata_multiarea
POP = [636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207]
BIG = [127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82, 91]
SMALL = [12, 4, 3, 2, 3, 4, 8, 2, 2, 3, 4, 5, 6, 8, 5, 6, 5, 5, 4]
TINY = [0, 0, np.nan, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 2, 3]
# sheet refdata
REF_X = [10303, 2824, 0, 3615, 3641, 3490, 3789, 3213, 3031, 2771, 3089, 3490, 3595, 4745, 5514, 7125, 5694,
         6210, 5757]
REF_N = [50520, 57173, 60213, 54659, 44345, 50128, 62163, 67423, 62899, 55463, 60479, 49974, 44140, 40888,
         37239, 30819, 18136, 15325, 13918]
# sheet testdata_nonindepe, area testdata_nonind_big: individuals with 1, 2, 3, 4 events per band
NONIND_BIG = [[75, 16, 4, 2], [16, 3, 1, 0], [11, 2, 1, 0], [12, 3, 1, 0], [8, 0, 0, 1], [18, 3, 1, 0],
              [26, 6, 2, 1], [18, 3, 1, 0], [18, 4, 1, 0], [21, 4, 1, 0], [21, 4, 1, 0], [23, 4, 1, 0],
              [23, 6, 2, 1], [39, 8, 2, 1], [25, 5, 1, 0], [40, 9, 2, 1], [46, 9, 2, 1], [49, 10, 3, 1],
              [56, 11, 3, 1]]


def _exact_by_root_finding(x: int, confidence: float) -> tuple[float, float]:
    """Exact Poisson limits from the tail definitions, solved numerically (independent of chi-square)."""
    tail = (1 - confidence) / 2
    hi = 10 * x + 50
    lower = 0.0 if x == 0 else optimize.brentq(lambda mu: stats.poisson.sf(x - 1, mu) - tail, 1e-12, hi)
    upper = optimize.brentq(lambda mu: stats.poisson.cdf(x, mu) - tail, 1e-12, hi)
    return lower, upper


def test_docstring_examples():
    """The Examples sections of intervals.py and rates.py run as printed."""
    for module in (intervals_module, rates_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__


# --- rate ------------------------------------------------------------------------------------------------

def test_rate_worked_values_from_brief():
    """Brief / methods.md 1.2: x=389, n=100,000 -> 389.0 (351.30-429.65); x=9 -> 9.0 (4.115-17.085)."""
    out = rate([389, 9], 100_000)
    assert list(out.columns) == ["events", "population", "value", "lower", "upper", "method", "confidence"]
    assert out["value"].tolist() == [389.0, 9.0]
    assert round(out.at[0, "lower"], 2) == 351.30
    assert round(out.at[0, "upper"], 2) == 429.65
    assert round(out.at[1, "lower"], 3) == 4.115
    assert round(out.at[1, "upper"], 3) == 17.085
    assert out["method"].tolist() == ["byars", "exact"]
    assert (out["confidence"] == 0.95).all()


@pytest.mark.parametrize("x, n, conf, value, lower, upper, method", [
    # PHEindicatormethods testdata_Rate.xlsx, sheet testdata_Rate (rate per 100)
    (1, 100, 0.95, 1, 0.025317807984289897, 5.571643390938898, "exact"),
    (5, 100, 0.95, 5, 1.62348639011842, 11.668332079322669, "exact"),
    (20, 100, 0.95, 20, 12.211428834875937, 30.889880369197066, "byars"),
    (65, 100, 0.95, 65, 50.163187710459454, 82.849138545939837, "byars"),
    (9856, 12345, 0.95, 79.837991089509913, 78.269490589767571, 81.430016542721404, "byars"),
    (7776456, 7564336677, 0.95, 0.10280420256339154, 0.10273196005302074, 0.10287648334092832, "byars"),
    (222, 3215, 0.95, 6.9051321928460334, 6.0265748776526751, 7.8757293708718503, "byars"),
    (999, 3456, 0.95, 28.90625, 27.141304936090521, 30.755833237378415, "byars"),
    (1, 100, 0.998, 1, 1.0005003335835344e-3, 9.2334134764515845, "exact"),
    (5, 100, 0.998, 5, 0.739371731917839, 16.454745203680105, "exact"),
    (20, 100, 0.998, 20, 8.922802365144193, 38.085035625041911, "byars"),
    (9856, 12345, 0.998, 79.837991089509913, 77.375905432710525, 82.354472770954303, "byars"),
])
def test_rate_matches_phe_test_spreadsheet(x, n, conf, value, lower, upper, method):
    """PHEindicatormethods 2.1.0 tests/testthat/testdata_Rate.xlsx (per 100 rows, 95% and 99.8%)."""
    out = rate(x, n, confidence=conf, multiplier=100).iloc[0]
    assert out["value"] == pytest.approx(value, rel=1e-12)
    assert out["lower"] == pytest.approx(lower, rel=1e-9)
    assert out["upper"] == pytest.approx(upper, rel=1e-9)
    assert out["method"] == method


def test_rate_events_above_population_allowed():
    """testdata_Rate.xlsx Area12: 250 events in 220 population, per 100,000 (x > n is allowed for rates)."""
    out = rate(250, 220).iloc[0]
    assert out["value"] == pytest.approx(113636.36363636365)
    assert out["lower"] == pytest.approx(99984.947385328764, rel=1e-9)
    assert out["upper"] == pytest.approx(128631.14487455782, rel=1e-9)


@pytest.mark.parametrize("x", [0, 1, 2, 5, 9])
@pytest.mark.parametrize("conf", [0.95, 0.998])
def test_rate_exact_limits_equal_poisson_tail_inversion(x, conf):
    """Exact limits re-derived by solving P(X >= x | mu) = alpha/2 and P(X <= x | mu) = alpha/2 (brentq)."""
    lo, hi = _exact_by_root_finding(x, conf)
    out = rate(x, 1000, confidence=conf, multiplier=1000).iloc[0]
    assert out["lower"] == pytest.approx(lo, rel=1e-8, abs=1e-12)
    assert out["upper"] == pytest.approx(hi, rel=1e-8)


def test_rate_zero_events():
    """0 events: lower 0 and upper -ln(alpha/2) (closed form of the exact limit), per the multiplier."""
    out = rate(0, 50_000).iloc[0]
    assert out["value"] == 0
    assert out["lower"] == 0
    assert out["upper"] == pytest.approx(-math.log(0.025) / 50_000 * 100_000)
    assert out["method"] == "exact"


@pytest.mark.parametrize("x", [10, 11, 50, 389, 12345])
def test_rate_byars_formula(x):
    """Byar's limits hand-coded from Breslow & Day (1987) as in methods.md 1.1."""
    z = stats.norm.ppf(0.975)
    lo = x * (1 - 1 / (9 * x) - z / (3 * math.sqrt(x))) ** 3
    hi = (x + 1) * (1 - 1 / (9 * (x + 1)) + z / (3 * math.sqrt(x + 1))) ** 3
    out = rate(x, 1e6, multiplier=1e6).iloc[0]
    assert out["lower"] == pytest.approx(lo, rel=1e-12)
    assert out["upper"] == pytest.approx(hi, rel=1e-12)
    assert out["method"] == "byars"


def test_byars_helpers_against_phe_spreadsheet():
    """testdata_Byars_Wilson.xlsx: Byar's count limits, including the NA lower limit for x=1 at 99.8%."""
    _, z95 = confidence_z(0.95)
    _, z998 = confidence_z(0.998)
    assert byars_lower(1045, z95) == pytest.approx(982.59320180733255, rel=1e-12)
    assert byars_upper(1045, z95) == pytest.approx(1110.3312129856499, rel=1e-12)
    assert byars_lower(1, z95) == pytest.approx(1.3072132901504351e-2, rel=1e-10)
    assert byars_upper(1, z95) == pytest.approx(5.5637555824752605, rel=1e-12)
    assert byars_lower(10, z998) == pytest.approx(2.916318374695686, rel=1e-12)
    assert byars_upper(10, z998) == pytest.approx(24.193724927880535, rel=1e-12)
    assert np.isnan(byars_lower(1, z998))  # negative -> NA
    assert byars_upper(1, z998) == pytest.approx(9.362180217908362, rel=1e-12)
    assert np.isnan(byars_lower(0, z95))


def test_exact_byars_switch_at_ten():
    """PHEindicatormethods phe_rate: exact below 10 events, Byar's from 10 (including fractional counts)."""
    _, _, method = poisson_limits([0, 9, 9.5, 10, 10.5, np.nan])
    assert list(method) == ["exact", "exact", "exact", "byars", "byars", None]


@pytest.mark.parametrize("given, expected", [(95, 0.95), (0.95, 0.95), (99.8, 0.998), (0.998, 0.998),
                                             (90, 0.90), (1, 1.0)])
def test_confidence_forms(given, expected):
    """methods.md 1.0: confidence as 0.90-1 or 90-100; 95 and 0.95 give identical results."""
    conf, _ = confidence_z(given)
    assert conf == pytest.approx(expected)
    pd.testing.assert_frame_equal(rate([3, 30], 1000, confidence=given).drop(columns="confidence"),
                                  rate([3, 30], 1000, confidence=expected).drop(columns="confidence"))


def test_confidence_z_values():
    """methods.md 1.0: z = 1.959964 at 95% and 3.090232 at 99.8%."""
    assert confidence_z(0.95)[1] == pytest.approx(1.959964, abs=1e-6)
    assert confidence_z(99.8)[1] == pytest.approx(3.090232, abs=1e-6)


@pytest.mark.parametrize("bad", [0.8, 0.5, 89, 1.5, 101, float("nan"), "high", None])
def test_invalid_confidence(bad):
    """Confidence below 90% or outside both scales is rejected with a message naming 'confidence'."""
    with pytest.raises(ValueError, match="confidence"):
        rate(5, 100, confidence=bad)


@pytest.mark.parametrize("kwargs, name", [
    ({"events": -1, "population": 100}, "events"),
    ({"events": 5, "population": 0}, "population"),
    ({"events": 5, "population": -3}, "population"),
    ({"events": [1, 2], "population": [1, 2, 3]}, "lengths"),
    ({"events": ["a"], "population": 10}, "events"),
])
def test_rate_invalid_inputs(kwargs, name):
    """Validation as phe_rate (x >= 0, n > 0) with the bad argument named."""
    with pytest.raises(ValueError, match=name):
        rate(**kwargs)


def test_rate_bad_multiplier():
    with pytest.raises(ValueError, match="multiplier"):
        rate(5, 100, multiplier=0)


def test_rate_nan_inputs_give_nan_outputs():
    """A missing numerator or denominator gives NaN value and limits for that row only."""
    out = rate([np.nan, 12, 5], [1000, np.nan, 1000])
    assert out.loc[[0, 1], ["value", "lower", "upper"]].isna().all().all()
    assert out.loc[[0, 1], "method"].isna().all()
    assert out.loc[2, ["value", "lower", "upper"]].notna().all()


def test_rate_nullable_series():
    """Nullable Int64 input (e.g. from Arrow-backed parquet): <NA> behaves as NaN."""
    out = rate(pd.Series([4, None, 20], dtype="Int64"), pd.Series([1000, 1000, 1000], dtype="Int64"))
    assert np.isnan(out.at[1, "value"]) and out.at[2, "value"] == 2000


def test_rate_tiny_population_and_series_index():
    """Tiny (fractional) populations work; a Series input keeps its index; scalars broadcast."""
    events = pd.Series([1, 15], index=["E01", "E02"])
    out = rate(events, 0.5, multiplier=1)
    assert list(out.index) == ["E01", "E02"]
    assert out["value"].tolist() == [2.0, 30.0]
    assert (out["lower"] < out["value"]).all() and (out["upper"] > out["value"]).all()


@settings(max_examples=100, deadline=None)
@given(x=st.integers(0, 100_000), n=st.floats(1, 1e8), conf=st.sampled_from([0.95, 0.998, 90, 99]))
def test_rate_limits_bracket_value(x, n, conf):
    """Property: lower <= value <= upper for every count and population; exact iff x < 10."""
    out = rate(x, n, confidence=conf).iloc[0]
    assert out["lower"] <= out["value"] * (1 + 1e-12) + 1e-300
    assert out["value"] <= out["upper"]
    assert (out["method"] == "exact") == (x < 10)


@settings(max_examples=100, deadline=None)
@given(x=st.integers(1, 20_000), k=st.integers(2, 50))
def test_rate_interval_narrows_as_population_grows(x, k):
    """Property: at a fixed rate, k times the population (and events) gives a narrower interval."""
    small = rate(x, 1000 * x).iloc[0]
    large = rate(k * x, 1000 * k * x).iloc[0]
    assert large["value"] == pytest.approx(small["value"])
    assert large["upper"] - large["lower"] < small["upper"] - small["lower"]


# --- proportion ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, n, conf, lower, upper", [
    # PHEindicatormethods testdata_Byars_Wilson.xlsx (Wilson rows)
    (65, 100, 0.95, 0.55254443296887967, 0.73635751756902468),
    (1045, 5000, 0.95, 0.19795549880013297, 0.22049130373189027),
    (0.445, 1, 0.95, 4.3817447720588223e-2, 0.93346212769791559),
    (65, 100, 0.998, 0.49549465740704313, 0.77835406140896968),
    (1045, 5000, 0.998, 0.19179381799015244, 0.22731562902525818),
    (0.445, 1, 0.998, 1.9347006132900975e-2, 0.97022599470195414),
])
def test_proportion_matches_phe_spreadsheet(x, n, conf, lower, upper):
    """PHEindicatormethods 2.1.0 tests/testthat/testdata_Byars_Wilson.xlsx, Wilson method."""
    out = proportion(x, n, confidence=conf).iloc[0]
    assert out["value"] == pytest.approx(x / n)
    assert out["lower"] == pytest.approx(lower, rel=1e-12)
    assert out["upper"] == pytest.approx(upper, rel=1e-12)
    assert out["method"] == "wilson"


def test_proportion_columns_multiplier_and_bounds():
    """Percentages with multiplier=100; 0 of n has lower 0, n of n has upper 1 x multiplier."""
    out = proportion([0, 20, 7], [20, 20, 40], multiplier=100)
    assert list(out.columns) == ["events", "total", "value", "lower", "upper", "method", "confidence"]
    assert out.at[0, "lower"] == pytest.approx(0, abs=1e-12)
    assert out.at[1, "upper"] == pytest.approx(100, abs=1e-9)
    assert out.at[2, "value"] == pytest.approx(17.5)
    z = stats.norm.ppf(0.975)
    # Wilson (1927) upper limit for 0 of n in closed form: z^2 / (n + z^2)
    assert out.at[0, "upper"] == pytest.approx(100 * z**2 / (20 + z**2))


def test_proportion_confidence_one():
    """methods.md 1.3: with confidence = 1 the limits are exactly 0 and 1."""
    out = proportion(3, 10, confidence=1).iloc[0]
    assert (out["lower"], out["upper"]) == (0.0, 1.0)


@pytest.mark.parametrize("x, n, name", [(-1, 10, "events"), (11, 10, "total"), (1, 0, "total")])
def test_proportion_invalid(x, n, name):
    """Validation as phe_proportion: 0 <= x <= n, n > 0."""
    with pytest.raises(ValueError, match=name):
        proportion(x, n)


@settings(max_examples=120, deadline=None)
@given(data=st.data(), n=st.integers(1, 10**7), conf=st.sampled_from([0.9, 0.95, 0.998, 99.9]))
def test_wilson_limits_within_unit_interval(data, n, conf):
    """Property: 0 <= lower <= p <= upper <= 1 for any 0 <= x <= n."""
    x = data.draw(st.integers(0, n))
    out = proportion(x, n, confidence=conf).iloc[0]
    assert -1e-12 <= out["lower"] <= out["value"] + 1e-12
    assert out["value"] - 1e-12 <= out["upper"] <= 1 + 1e-12


# --- dsr -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("events, conf, total, value, lower, upper", [
    # PHEindicatormethods testdata_DSR_ISR.xlsx, sheet testresults_DSR (per 100,000, ESP 2013)
    (BIG, 0.95, 895, 10430.247991469423, 9717.709067985681, 11178.94091547925),
    (BIG, 0.998, 895, 10430.247991469423, 9323.2878802199029, 11620.595999522058),
    (SMALL, 0.95, 91, 1103.212025300104, 877.455767536709, 1367.0882227251795),
    (SMALL, 0.998, 91, 1103.212025300104, 763.64203579398793, 1530.0328948244762),
])
def test_dsr_matches_phe_spreadsheet(events, conf, total, value, lower, upper):
    """PHEindicatormethods 2.1.0 testresults_DSR (Dobson CIs with Byar's limits of the total count)."""
    out = dsr(events, POP, ESP2013, confidence=conf)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["events"] == total
    assert row["population"] == sum(POP)
    assert row["value"] == pytest.approx(value, rel=1e-12)
    assert row["lower"] == pytest.approx(lower, rel=1e-12)
    assert row["upper"] == pytest.approx(upper, rel=1e-12)
    assert row["method"] == "dobson"


def test_dsr_small_count_rule_and_missing_band():
    """testdata_tiny: 9 events in total (one band NA, treated as 0) -> DSR and limits suppressed (NaN)."""
    row = dsr(TINY, POP, ESP2013).iloc[0]
    assert row["events"] == 9
    assert np.isnan(row["value"]) and np.isnan(row["lower"]) and np.isnan(row["upper"])


def test_dsr_formula_by_hand_with_partial_standard():
    """Under-25 DSR on the five ESP bands uses sum w = 27,500 (methods.md 1.4); Dobson formula by hand."""
    x = np.array([12, 30, 25, 40, 22.0])
    n = np.array([3000, 3100, 2900, 3300, 3500.0])
    w = np.array(ESP2013[:5], dtype=float)
    assert w.sum() == 27_500
    value = (w * x / n).sum() / w.sum()
    var = (w**2 * x / n**2).sum() / w.sum() ** 2
    o = x.sum()
    z = stats.norm.ppf(0.975)
    o_l = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
    o_u = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * math.sqrt(o + 1))) ** 3
    row = dsr(x, n, w, multiplier=1000).iloc[0]
    assert row["value"] == pytest.approx(value * 1000)
    assert row["lower"] == pytest.approx((value + math.sqrt(var / o) * (o_l - o)) * 1000)
    assert row["upper"] == pytest.approx((value + math.sqrt(var / o) * (o_u - o)) * 1000)


def test_dsr_accepts_series_and_confidence_percent():
    frame = pd.DataFrame({"x": BIG, "n": POP, "w": ESP2013})
    a = dsr(frame["x"], frame["n"], frame["w"], confidence=99.8)
    b = dsr(BIG, POP, ESP2013, confidence=0.998)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("conf, lower, upper", [
    # testresults_DSR, testdata_nonind_big ("Dobson, with confidence adjusted for non-independent events")
    (0.95, 9532.9497786200009, 11373.074832980001),
    (0.998, 9036.2563135700002, 11929.24980749),
])
def test_dsr_non_independent_events(conf, lower, upper):
    """PHEindicatormethods calculate_dsr(independent_events = FALSE): frequency-weighted variance."""
    row = dsr(BIG, POP, ESP2013, confidence=conf, events_by_frequency=NONIND_BIG).iloc[0]
    assert row["value"] == pytest.approx(10430.24799147, rel=1e-10)
    assert row["lower"] == pytest.approx(lower, rel=1e-9)
    assert row["upper"] == pytest.approx(upper, rel=1e-9)
    assert row["method"].startswith("dobson, adjusted")
    # events may be omitted (derived as sum of f x individuals), or given as a {frequency: column} dict
    as_dict = {f + 1: [r[f] for r in NONIND_BIG] for f in range(4)}
    pd.testing.assert_frame_equal(dsr(None, POP, ESP2013, confidence=conf, events_by_frequency=as_dict),
                                  dsr(BIG, POP, ESP2013, confidence=conf, events_by_frequency=NONIND_BIG))


def test_dsr_non_independent_inconsistent_events():
    with pytest.raises(ValueError, match="events_by_frequency"):
        dsr(SMALL, POP, ESP2013, events_by_frequency=NONIND_BIG)


@pytest.mark.parametrize("events, pop, std, match", [
    (BIG, POP[:-1], ESP2013, "bands"),
    (BIG, [np.nan] + POP[1:], ESP2013, "population cannot have missing"),
    (BIG, [0] + POP[1:], ESP2013, "population"),
    (BIG, POP, [-1] + ESP2013[1:], "standard_population"),
    (BIG, POP, [np.nan] + ESP2013[1:], "standard_population"),
    ([-1] + BIG[1:], POP, ESP2013, "events"),
    (BIG, POP, [0] * 19, "sum to zero"),
])
def test_dsr_invalid(events, pop, std, match):
    """calculate_dsr validation: population > 0 with no NA, stdpop >= 0 with no NA, events >= 0."""
    with pytest.raises(ValueError, match=match):
        dsr(events, pop, std)


# --- isr -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("events, conf, value, lower, upper, method", [
    # PHEindicatormethods testdata_DSR_ISR.xlsx, sheet testresults_ISR ("indirectly standardised ratio x 100")
    (BIG, 0.95, 107.07232939020275, 100.17147712553987, 114.32332872498949, "byars"),
    (BIG, 0.998, 107.07232939020275, 96.351556196144372, 118.60070415876287, "byars"),
    (SMALL, 0.95, 10.886683770400502, 8.7650401018294044, 13.366576328418912, "byars"),
    (TINY, 0.95, 1.0767049882813684, 0.49233808250957761, 2.043921455549973, "exact"),
    (TINY, 0.998, 1.0767049882813684, 0.2933930655068262, 2.7105896514690211, "exact"),
])
def test_isr_matches_phe_spreadsheet(events, conf, value, lower, upper, method):
    """PHEindicatormethods 2.1.0 testresults_ISR: expected 835.88356123117433, exact limits when O < 10."""
    row = isr(events, POP, REF_X, REF_N, confidence=conf).iloc[0]
    assert row["expected"] == pytest.approx(835.88356123117433, rel=1e-12)
    assert row["value"] == pytest.approx(value, rel=1e-12)
    assert row["lower"] == pytest.approx(lower, rel=1e-10)
    assert row["upper"] == pytest.approx(upper, rel=1e-10)
    assert row["method"] == method
    assert list(isr(events, POP, REF_X, REF_N).columns) == ["observed", "expected", "value", "lower", "upper",
                                                          "method", "confidence"]


def test_isr_observed_total_and_multiplier_one():
    """A scalar observed total (the package's observed_totals) and refvalue 1 (ratio x 1)."""
    row = isr(895, POP, REF_X, REF_N, multiplier=1).iloc[0]
    assert row["observed"] == 895
    assert row["value"] == pytest.approx(1.0707232939020275, rel=1e-12)
    assert row["lower"] == pytest.approx(1.0017147712553987, rel=1e-10)


def test_isr_zero_observed():
    """O = 0: ratio 0, lower 0, upper = -ln(0.025) / E x multiplier (exact)."""
    row = isr([0, 0], [100, 100], [10, 10], [1000, 1000]).iloc[0]
    assert row["expected"] == pytest.approx(2.0)
    assert (row["value"], row["lower"]) == (0, 0)
    assert row["upper"] == pytest.approx(-math.log(0.025) / 2 * 100)


@pytest.mark.parametrize("args, match", [
    (([1, 2], [10, 10], [1, 1], [0, 10]), "reference_population"),
    (([1, 2], [10, 10], [1, 1], [np.nan, 10]), "reference_population"),
    (([1, 2], [10, 10, 10], [1, 1], [10, 10]), "same"),
    (([1, 2, 3], [10, 10], [1, 1], [10, 10]), "events"),
    (([-1, 2], [10, 10], [1, 1], [10, 10]), "events"),
])
def test_isr_invalid(args, match):
    with pytest.raises(ValueError, match=match):
        isr(*args)
