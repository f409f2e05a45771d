"""The slope and relative indices of inequality reproduce PHEindicatormethods ``phe_sii`` for rates.

Held-out reference: the package's own test table, ``tests/testthat/testdata_SII.xlsx`` of
github.com/ukhsa-collaboration/PHEindicatormethods at commit 093fd28 (v2.1.0), used by
``tests/testthat/testSII.R`` ("test rate with transformation", rows 306-325: ``value_type = 1,
transform = TRUE, rii = TRUE, intercept = TRUE``; "multiple cis", rows 366-385: ``confidence = c(95, 98)``).
R is not available here, so the inputs and the package's expected outputs are copied below from that file.

* The point estimates (SII, RII, intercept) are deterministic and must agree to rounding error.
* PHE's SII limits are a deterministic function of its RII limits (the slope limits pivot about the fitted
  mid-point): we check that function exactly on the package's numbers.
* The limits themselves are Monte Carlo order statistics (the package's test allows a 5% mean relative
  difference); ours must lie within 1% of the interval width of the package's, which the per-draw
  back-transform svtools used before (here re-implemented as ``old_sii_limits``) does not achieve.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from svtools.analysis.place_time import _phe_pivot, _wls_matrix, sii

# testdata_SII.xlsx rows 306-315 (area1) and 316-325 (area2): Population, Value, LowerCL, UpperCL (95%)
AREAS = {
    "area1": dict(
        population=[279012, 255993, 236961, 214315, 192812, 183546, 168593, 164822, 154836, 138165],
        value=[5.892219689475721, 4.7345044591063035, 3.827634083245766, 3.8681380211371112, 3.6771570234217785,
               3.1436261209723995, 3.1258711808912585, 2.942568346458604, 2.82879950399132, 2.7648101907140012],
        lower=[5.614959662410748, 4.475920770781004, 3.586926055445024, 3.6140791140579505, 3.4166969870147965,
               2.8977176350029272, 2.870493809285979, 2.6924041297904315, 2.57630573787527, 2.501420619088458],
        upper=[6.183085357576154, 5.0079519402470885, 4.0844291026854505, 4.1399822998098585, 3.9573934822289045,
               3.4103317188858107, 3.4038909874130083, 3.2159015715579464, 3.1059621495836955, 3.05584866618335],
    ),
    "area2": dict(
        population=[13837, 14519, 14940, 14599, 12311, 21675, 20065, 19750, 24713, 20112],
        value=[4.89675, 4.5678, 4.67666, 4.35666, 3.9, 3.8, 3.5, 3.2, 3.21, 2.8],
        lower=[4.77675, 4.4478, 4.55666, 4.23666, 3.78, 3.68, 3.38, 3.08, 3.09, 2.68],
        upper=[4.97675, 4.6478, 4.75666, 4.43666, 3.98, 3.88, 3.58, 3.28, 3.29, 2.88],
    ),
}
# Expected outputs (rows 366 and 376; rows 306/316 repeat the 95% columns): sii, rii, intercept, and
# (sii_lower, sii_upper, rii_lower, rii_upper) at 95% and at 98%.
EXPECTED = {
    "area1": dict(sii=-3.15590713895456, rii=0.4418848436076823, intercept=5.65458060546947,
                  limits={0.95: (-3.4809615490242884, -2.833237344763632, 0.4082744080360723, 0.4785663265006931),
                          0.98: (-3.544280996599922, -2.7745074687289164, 0.4020907792516821,
                                 0.48562375212051656)}),
    "area2": dict(sii=-2.2954691808474057, rii=0.5446144759737053, intercept=5.040716183843519,
                  limits={0.95: (-2.423223688852598, -2.168075785150564, 0.527074544156842, 0.5627749745405388),
                          0.98: (-2.4467391886512893, -2.144561280153136, 0.523917441953303, 0.5662021595789917)}),
}
KEYS = ("sii_lower", "sii_upper", "rii_lower", "rii_upper")


def phe(area: str, confidence: float = 0.95, repetitions: int = 1000, seed: int = 20240401) -> dict:
    d = AREAS[area]
    return sii(d["value"], d["population"], d["lower"], d["upper"], confidence=confidence,
               repetitions=repetitions, seed=seed, transform=True)


def old_sii_limits(area: str, repetitions: int = 400_000, seed: int = 1) -> tuple[float, float]:
    """What svtools did before: quantiles of exp(b0 + b1) - exp(b0) over the draws (no pivot)."""
    d = AREAS[area]
    y, pop = np.asarray(d["value"]), np.asarray(d["population"], float)
    a = pop / pop.sum()
    m = _wls_matrix(a, np.cumsum(a) - a / 2)
    se = (np.log(d["upper"]) - np.log(d["lower"])) / (2 * 1.959963984540054)
    coef = np.random.default_rng(seed).normal(np.log(y), se, size=(repetitions, len(y))) @ m.T
    draws = np.sort(np.exp(coef[:, 0] + coef[:, 1]) - np.exp(coef[:, 0]))
    return float(draws[round(repetitions * 0.025) - 1]), float(draws[round(repetitions * 0.975) - 1])


@pytest.mark.parametrize("area", AREAS)
def test_point_estimates_match_phe(area):
    res, exp = phe(area), EXPECTED[area]
    assert res["sii"] == pytest.approx(exp["sii"], rel=1e-9)
    assert res["rii"] == pytest.approx(exp["rii"], rel=1e-9)
    assert res["intercept"] == pytest.approx(exp["intercept"], rel=1e-9)
    assert res["method"].startswith("log-linear") and res["rii_note"] == ""


@pytest.mark.parametrize("confidence", [0.95, 0.98])
@pytest.mark.parametrize("area", AREAS)
def test_sii_limits_pivot_the_slope_limits_exactly_as_phe(area, confidence):
    """PHE's RII limits are exp(slope limits); its SII limits follow from them by the pivot, to rounding."""
    res, exp = phe(area), EXPECTED[area]
    sii_lo, sii_hi, rii_lo, rii_hi = exp["limits"][confidence]
    (got_lo, got_hi), (got_rlo, got_rhi) = _phe_pivot(res["beta0"], res["beta1"], np.log([rii_lo, rii_hi]))
    assert got_lo == pytest.approx(sii_lo, rel=1e-12) and got_hi == pytest.approx(sii_hi, rel=1e-12)
    assert got_rlo == pytest.approx(rii_lo, rel=1e-12) and got_rhi == pytest.approx(rii_hi, rel=1e-12)
    # at the fitted slope the pivot gives the point estimates
    (s0,), (r0,) = _phe_pivot(res["beta0"], res["beta1"], [res["beta1"]])
    assert s0 == pytest.approx(exp["sii"], rel=1e-12) and r0 == pytest.approx(exp["rii"], rel=1e-12)


@pytest.mark.parametrize("confidence", [0.95, 0.98])
@pytest.mark.parametrize("area", AREAS)
def test_simulated_limits_reproduce_phe(area, confidence):
    """Monte Carlo limits within 1% of the interval width of the package's (its own test allows 5%)."""
    res = phe(area, confidence, repetitions=400_000, seed=7)
    exp = dict(zip(KEYS, EXPECTED[area]["limits"][confidence]))
    for key in KEYS:
        width = exp[key.split("_")[0] + "_upper"] - exp[key.split("_")[0] + "_lower"]
        assert abs(res[key] - exp[key]) < 0.01 * width, (key, res[key], exp[key])
    assert res["slope_lower"] == pytest.approx(math.log(res["rii_lower"]))
    assert res["rii_lower"] < res["rii"] < res["rii_upper"] and res["sii_lower"] < res["sii"] < res["sii_upper"]


@pytest.mark.parametrize("area", AREAS)
def test_the_old_back_transformed_limits_were_off(area):
    """The per-draw back-transform misses PHE's SII limits by more than the 1% tolerance above."""
    lo, hi = old_sii_limits(area)
    exp_lo, exp_hi = EXPECTED[area]["limits"][0.95][:2]
    assert max(abs(lo - exp_lo), abs(hi - exp_hi)) > 0.012 * (exp_hi - exp_lo)


def test_positions_are_phes_order_statistics():
    """round(R (1 - c)) and round(R c), 1-based, c = conf + (1 - conf) / 2; a seed gives the same result."""
    from svtools.analysis.place_time import _phe_positions

    assert _phe_positions(100_000, 0.95) == (2499, 97499)
    assert _phe_positions(10_000, 98) == (99, 9899)
    assert _phe_positions(1000, 0.998) == (0, 998)
    assert phe("area1", seed=3) == phe("area1", seed=3)


def test_never_a_negative_rii():
    """A steep convex gradient: the linear fit falls below 0 at the least deprived end, so it gives no RII
    (and says why); the log-linear fit gives a ratio of two positive rates."""
    y = np.array([20.0, 5.0, 2.0, 1.0, 0.5])
    pop = [100, 100, 100, 100, 100]
    lin = sii(y, pop, y * 0.8, y * 1.25)
    assert lin["beta0"] + lin["beta1"] < 0  # the straight line ends below zero
    assert math.isnan(lin["rii"]) and math.isnan(lin["rii_lower"]) and "not a ratio" in lin["rii_note"]
    log = sii(y, pop, y * 0.8, y * 1.25, transform=True)
    assert 0 < log["rii_lower"] < log["rii"] < log["rii_upper"] < 1


def test_deprivation_section_uses_the_phe_log_linear_method(force_ctx, shown):
    """The force page (every decile published in the test data) shows PHE's log-linear SII and a positive RII
    whose interval is the one sii(transform=True) gives on the published decile rates."""
    from svtools.publish import sections

    res = sections.deprivation(force_ctx)
    assert res.values["sii"] is not None and res.values["sii_method"].startswith("log-linear")
    assert 0 < res.values["rii_lower"] < res.values["rii"] < res.values["rii_upper"]
    assert "Relative index of inequality -" not in res.message and "log-linear" in res.message
    if res.values["rii_upper"] < 1:
        assert "higher in more deprived neighbourhoods" in res.message
