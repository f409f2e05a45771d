"""Funnel limits that allow for over-dispersion (svtools.analysis.stats.funnels, Spiegelhalter 2005).

* By hand: the winsorised square-root z-scores, phi and the DerSimonian-Laird tau^2 from their formulas.
* No over-dispersion (simulated Poisson counts, one true rate): phi is about 1 before winsorising, ``auto``
  chooses no allowance, and the limits and flags are exactly the exact-Poisson ones.
* Over-dispersion of a known size (true rates spread on the square-root scale): ``auto`` chooses the additive
  allowance and tau is recovered within the bias winsorising is known to cause.
* The demo truth (slow): all nine demo forces are generated (full scale, as the shipped demo) and ingested, and the CSP and force
  comparisons of the pages (``_area_rates``) are checked against each CSP's true rate in ``truth.json``:
  every CSP flagged outside the 99.8% limits truly differs a lot from the level (at least 1.5 times, or at
  most two thirds of it), and the CSPs the Poisson funnel flags although their true rate is within
  0.8-1.3 times the level are no longer flagged.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest

import svtools.analysis.stats.funnels as funnels_module
from svtools.analysis.stats.funnels import (
    Overdispersion,
    adjusted_funnel_limits,
    adjusted_funnel_significance,
    funnel_limits,
    overdispersion,
)

#: Residents of the 41 demo CSPs (ONS mid-2020), a realistic spread of denominators.
POPULATIONS = np.array([
    93836, 141285, 137228, 197419, 97831, 66726, 108524, 68041, 53754, 104905, 533149, 107402, 190073, 72895,
    126751, 134340, 152452, 500474, 275899, 181095, 324336, 201950, 306824, 208871, 323820, 151133, 277846,
    147539, 369202, 302297, 144386, 246563, 135295, 248071, 312785, 264984, 589214, 65452, 130373, 110650,
    277311], dtype=float)
RATE = 0.8  # per 1,000 a year, about the demo's knife-enabled serious violence rate


def test_doctests():
    assert doctest.testmod(funnels_module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_phi_and_tau2_by_hand():
    rng = np.random.default_rng(11)
    o = rng.poisson(RATE / 1000 * POPULATIONS * (1 + rng.normal(0, 0.15, POPULATIONS.size)) ** 2)
    base = o.sum() / POPULATIONS.sum() * 1000
    od = overdispersion(o, POPULATIONS, base, multiplier=1000)
    e = base / 1000 * POPULATIONS
    z = 2 * (np.sqrt(o) - np.sqrt(e))
    q10, q90 = np.quantile(z, [0.1, 0.9])  # R type 7, as FunnelPlotR
    phi = np.mean(np.clip(z, q10, q90) ** 2)
    w = 4 * e  # 1 / s^2 on the sqrt(O/E) scale
    tau2 = (len(o) * phi - (len(o) - 1)) / (w.sum() - (w**2).sum() / w.sum())
    assert od.method == "additive" and od.requested == "auto"
    assert od.phi == pytest.approx(phi, rel=1e-12) and od.tau2 == pytest.approx(tau2, rel=1e-12)
    assert od.phi_unwinsorised == pytest.approx(np.mean(z**2), rel=1e-12)
    d = len(o) - 1
    assert od.threshold == pytest.approx((d + 2 * math.sqrt(2 * d)) / len(o))
    assert abs(od.threshold - (1 + 2 * math.sqrt(2 / len(o)))) < 0.05  # the rule of thumb, nearly
    # the flags are "outside the limits drawn at the area's own denominator"
    sig = adjusted_funnel_significance(o, POPULATIONS, base, od, multiplier=1000)
    lim = adjusted_funnel_limits(base, POPULATIONS, od, multiplier=1000)
    rate = o / POPULATIONS * 1000
    for level in ("95", "998"):
        expect = np.where(rate > lim[f"upper_{level}"], "high",
                          np.where(rate < lim[f"lower_{level}"], "low", "not significant"))
        assert (sig[f"significance_{level}"].to_numpy() == expect).all()
    assert np.allclose(sig["z_adjusted"], z / np.sqrt(1 + 4 * e * od.tau2))
    # the additive limits of a very large area tend to baseline x (1 -/+ z tau)^2
    far = adjusted_funnel_limits(base, [1e12], od, multiplier=1000).iloc[0]
    assert far["upper_998"] == pytest.approx(base * (1 + 3.090232 * od.tau) ** 2, rel=1e-5)
    assert far["lower_95"] == pytest.approx(base * (1 - 1.959964 * od.tau) ** 2, rel=1e-5)


def test_no_adjustment_when_rates_are_equal():
    """Simulated Poisson counts with one true rate: phi about 1, auto chooses none, limits are Poisson."""
    rng = np.random.default_rng(2024)
    o = rng.poisson(RATE / 1000 * POPULATIONS)
    base = o.sum() / POPULATIONS.sum() * 1000
    od = overdispersion(o, POPULATIONS, base, multiplier=1000)
    n = POPULATIONS.size
    assert abs(od.phi_unwinsorised - 1) < 3 * math.sqrt(2 / n)  # E = 1, sd sqrt(2/I) under no excess
    assert od.phi < od.threshold and not od.overdispersed
    assert od.method == "none" and not od.adjusted and od.tau2 == 0
    grid = np.geomspace(1e4, 1e6, 50)
    pd.testing.assert_frame_equal(adjusted_funnel_limits(base, grid, od, multiplier=1000),
                                  funnel_limits(base, grid, multiplier=1000))
    sig = adjusted_funnel_significance(o, POPULATIONS, base, od, multiplier=1000)
    assert (sig["z_adjusted"] == sig["z"]).all()
    assert "Poisson limits" in od.limits_phrase() and "no more than chance" in od.explanation()
    # over many such data sets auto almost never widens the limits (the rule is conservative)
    chosen = [overdispersion(x, POPULATIONS, x.sum() / POPULATIONS.sum() * 1000, multiplier=1000).method
              for x in rng.poisson(RATE / 1000 * POPULATIONS, size=(400, n))]
    assert chosen.count("additive") / len(chosen) < 0.02


def test_exact_poisson_flags_without_an_allowance():
    """No allowance: a count is flagged exactly when the one-sided exact Poisson test rejects."""
    from scipy import stats

    od = Overdispersion("none", "none", 1.0, 1.0, 1.4, 0.0, 41, 1, 0.1)
    counts = np.arange(0, 60)
    sig = adjusted_funnel_significance(counts, np.full(counts.size, 20_000.0), 1.2, od, multiplier=1000)
    mu = 1.2 / 1000 * 20_000
    high = stats.poisson.sf(counts - 1, mu) < 0.001
    low = stats.poisson.cdf(counts, mu) < 0.001
    expect = np.where(high, "high", np.where(low, "low", "not significant"))
    assert (sig["significance_998"].to_numpy() == expect).all()


def test_known_over_dispersion_is_detected_and_recovered():
    """True sqrt(rate ratios) ~ Normal(1, 0.1): auto chooses additive; winsorising biases tau down (about a
    quarter at 10%), as published practice accepts."""
    rng = np.random.default_rng(5)
    taus = []
    for _ in range(200):
        rr = (1 + rng.normal(0, 0.1, POPULATIONS.size)) ** 2
        o = rng.poisson(RATE / 1000 * POPULATIONS * rr)
        od = overdispersion(o, POPULATIONS, o.sum() / POPULATIONS.sum() * 1000, multiplier=1000)
        assert od.method == "additive"
        taus.append(od.tau)
    assert 0.06 < np.mean(taus) < 0.1
    assert "additive random effects, τ = " in od.limits_phrase()


def test_multiplicative_and_methods():
    rng = np.random.default_rng(3)
    o = rng.poisson(RATE / 1000 * POPULATIONS * (1 + rng.normal(0, 0.15, POPULATIONS.size)) ** 2)
    base = o.sum() / POPULATIONS.sum() * 1000
    mult = overdispersion(o, POPULATIONS, base, method="multiplicative", multiplier=1000)
    assert mult.method == "multiplicative" and mult.adjusted and mult.tau2 == 0
    lim = adjusted_funnel_limits(base, [50_000.0], mult, multiplier=1000).iloc[0]
    e = base / 1000 * 50_000
    assert lim["upper_998"] == pytest.approx(base * (1 + 3.090232 * math.sqrt(mult.phi / (4 * e))) ** 2, rel=1e-6)
    none = overdispersion(o, POPULATIONS, base, method="none", multiplier=1000)
    assert none.method == "none" and none.overdispersed and not none.adjusted
    assert "no allowance" in none.explanation()
    # a multiplicative phi below 1 never narrows the limits
    small = Overdispersion("multiplicative", "multiplicative", 0.7, 0.9, 1.4, 0.0, 41, 1, 0.1)
    pd.testing.assert_frame_equal(adjusted_funnel_limits(base, [5e4], small, multiplier=1000),
                                  funnel_limits(base, [5e4], multiplier=1000))
    # too few areas: nothing estimated, no allowance
    few = overdispersion([3, 50], [1e4, 1e4], 2.65, multiplier=1000)
    assert math.isnan(few.phi) and few.method == "none" and "Too few" in few.explanation()
    with pytest.raises(ValueError, match="method"):
        overdispersion(o, POPULATIONS, base, method="random")
    with pytest.raises(ValueError, match="winsorise"):
        overdispersion(o, POPULATIONS, base, winsorise=0.5)


def test_groups_pool_within_group_variation():
    """Per-area comparators (each CSP's own force rate): tau^2 pools the within-force excess, d = I - G."""
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(8), [6, 5, 5, 5, 5, 5, 5, 5])
    force_level = np.array([1.6, 0.5, 0.9, 1.0, 1.3, 0.8, 1.1, 0.6])[groups]
    o = rng.poisson(RATE / 1000 * POPULATIONS * force_level)
    base = pd.Series(o).groupby(groups).transform("sum") / pd.Series(POPULATIONS).groupby(groups).transform("sum")
    pooled = overdispersion(o, POPULATIONS, base * 1000, groups=groups, multiplier=1000)
    assert pooled.n_groups == 8 and pooled.threshold == pytest.approx((33 + 2 * math.sqrt(66)) / 41)
    assert pooled.method == "none"  # CSPs vary only by chance around their own force's rate
    overall = overdispersion(o, POPULATIONS, o.sum() / POPULATIONS.sum() * 1000, multiplier=1000)
    assert overall.method == "additive"  # but forces differ, so around one rate they are over-dispersed


# --------------------------------------------------------------------------- the demo truth (slow)
@pytest.fixture(scope="module")
def demo_truth(tmp_path_factory, svtools_dirs):
    """All nine demo forces at full scale (the shipped demo), ingested as dataset ``demo_funnels`` (about 40 s;
    at half scale, with year-matched denominators, no CSP is detectably different)."""
    from svtools.ingest import ingest_demo
    from svtools.ingest.demo import generate_demo_data
    from svtools.paths import processed_dir

    raw = tmp_path_factory.mktemp("demo_funnels_raw")
    generate_demo_data(raw, scale=1.0, progress=False)
    ingest_demo(raw, processed_dir() / "demo_funnels")
    return json.loads((raw / "truth.json").read_text(encoding="utf-8"))


def _true_relative_rates(areas: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Each CSP's true 2024/25 rate (expected count / residents, truth.json) relative to the true rate of all
    the CSPs compared and to that of its force."""
    expected = truth["expected_counts"]
    d = areas.copy()
    d["expected"] = d["csp_code"].map(
        lambda c: expected[c]["expected_by_financial_year"]["2024/25"]["knife_serious_violence"])
    d["true_rr_all"] = (d["expected"] / d["population"]) / (d["expected"].sum() / d["population"].sum())
    force = d.groupby("pfa_code")["expected"].transform("sum") / d.groupby("pfa_code")["population"].transform("sum")
    d["true_rr_force"] = d["expected"] / d["population"] / force
    return d


def _far(rr: pd.Series) -> pd.Series:
    return (rr >= 1.5) | (rr <= 2 / 3)


def _near(rr: pd.Series) -> pd.Series:
    return rr.between(0.8, 1.3)


@pytest.mark.slow
def test_demo_flags_only_csps_whose_true_rate_differs(demo_truth):
    from svtools.analysis.stats import funnel_significance
    from svtools.publish import sections
    from svtools.publish.sections.context import _area_rates

    ctx = sections.ProfileContext.load("E22000027", "demo_funnels", "knife_serious_violence", "2025-03-31")
    areas, info = _area_rates(ctx)
    assert len(areas) >= 30
    d = _true_relative_rates(areas, demo_truth)
    od_all, od_force = info["od_all"], info["od_force"]
    assert od_all.method == "additive" and od_all.phi > 3 * od_all.threshold
    assert od_force.method == "additive" and od_force.n_groups == d["pfa_code"].nunique()

    # against all CSPs (the CSP page's funnel)
    flagged = d["vs_all_998"] != "not significant"
    poisson = d["vs_all_998_poisson"] != "not significant"
    assert flagged.sum() >= 1 and poisson.sum() >= 3 * flagged.sum()
    assert _far(d.loc[flagged, "true_rr_all"]).all(), d.loc[flagged, ["csp_name", "true_rr_all"]]
    false_flags = poisson & _near(d["true_rr_all"])
    assert false_flags.any()  # the Poisson funnel flags CSPs whose true rate is close to the level ...
    assert not (flagged & _near(d["true_rr_all"])).any()  # ... and the allowance removes every one
    # the most extreme true rate is among those flagged
    assert d.loc[d["true_rr_all"].idxmax(), "vs_all_998"] == "high"

    # against each CSP's own force (the force pages' funnels)
    own = d["pfa_code"].map(d.groupby("pfa_code")["offences"].sum() / d.groupby("pfa_code")["person_years"].sum())
    poisson_f = np.array([funnel_significance(o, n, b * 1000, multiplier=1000)["significance_998"].iloc[0]
                          for o, n, b in zip(d["offences"], d["person_years"], own)]) != "not significant"
    flagged_f = d["vs_force_998"] != "not significant"
    assert _far(d.loc[flagged_f, "true_rr_force"]).all(), d.loc[flagged_f, ["csp_name", "true_rr_force"]]
    assert (poisson_f & _near(d["true_rr_force"])).any()
    assert not (flagged_f & _near(d["true_rr_force"])).any()


@pytest.mark.slow
def test_demo_pages_say_which_limits_they_draw(demo_truth, shown):
    from svtools.publish import sections

    from section_helpers import texts

    ctx = sections.ProfileContext.load("E22000029", "demo_funnels", "knife_serious_violence", "2025-03-31")
    res = sections.rate_comparison(ctx)
    assert res.values["funnel_method"] == "additive"
    assert "limits allowing for over-dispersion between CSPs (additive random effects, τ = " in res.alt
    assert res.values["outside_998"] < res.values["outside_998_poisson"]
    shown_text = " ".join(texts(shown))
    assert "vary far more than chance" in shown_text and "funnel limits that allow for the usual variation" \
        in res.message
    fctx = sections.ProfileContext.load_force("E23000013", "demo_funnels", "knife_serious_violence", "2025-03-31")
    league = sections.league_table(fctx)
    assert "over-dispersion" in league.alt and league.values["funnel_method"] == "additive"
