"""One COVID answer (issue 9 item 2): the trend and COVID sections read one model of the 2020 interruption, with a
population offset; its "expected without COVID" line is checked against the data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from section_helpers import CSP, alts, check_published, page_dir, texts
from svtools.analysis.trends import covid_trend_model, fit_trend_model, interrupted_time_series
from svtools.ingest.demo import load_truth, monthly_intensity
from svtools.publish import sections, tables

MONTHS = pd.date_range("2018-04-01", "2025-03-01", freq="MS", name="month")
WINDOW = (pd.Timestamp("2020-04-01"), pd.Timestamp("2020-06-30"))  # settings periods.covid_start/covid_end
TRUTH = load_truth()


def demo_like(seed: int, base: float = 55.0, months=MONTHS) -> pd.Series:
    """A CSP-sized series (about 40-70 a month) from the demo generator's intensity: trend, July peak, a
    temporary lockdown dip and NB noise of the generator's shape."""
    rng = np.random.default_rng(seed)
    mu = base * monthly_intensity(months, "cleveland", TRUTH)
    k = TRUTH["intensity"]["nb_shape"]
    return pd.Series(rng.negative_binomial(k, k / (k + mu)), index=months, name="offences")


def _inside(months) -> np.ndarray:
    m = pd.DatetimeIndex(months)
    return np.asarray((m >= WINDOW[0]) & (m <= WINDOW[1]))


# --------------------------------------------------------------------------- the counterfactual
def test_counterfactual_is_the_fit_outside_the_lockdown():
    model, note = covid_trend_model(demo_like(1))
    assert note == "" and model.covid_window == WINDOW
    f = model.fitted
    inside = _inside(f["month"])
    np.testing.assert_allclose(f.loc[~inside, "counterfactual"], f.loc[~inside, "fitted"], rtol=1e-12)
    np.testing.assert_allclose(f.loc[inside, "fitted"] / f.loc[inside, "counterfactual"], model.covid_rate_ratio,
                               rtol=1e-10)


def test_counterfactual_after_2020_is_the_pre_2020_trend_with_its_season():
    """After the lockdown the line is the same log-linear trend and seasonal curve as before it: removing the
    fitted seasonal curve leaves one straight line (on the log scale) through the pre- and post-2020 months."""
    model, _ = covid_trend_model(demo_like(2))
    f = model.fitted
    season = model.seasonal_curve().set_index("month_of_year")["log_effect"]
    detrended = np.log(f["counterfactual"].to_numpy()) - season.reindex(f["month"].dt.month).to_numpy()
    t = np.arange(len(f)) / 12
    pre = f["month"].to_numpy() < np.datetime64("2020-04-01")
    slope, intercept = np.polyfit(t[pre], detrended[pre], 1)
    np.testing.assert_allclose(detrended[~pre], intercept + slope * t[~pre], atol=1e-9)
    assert math.exp(slope) == pytest.approx(model.annual_rate_ratio, rel=1e-9)


def test_counterfactual_tracks_the_recorded_months():
    """On a series of 40-70 a month the line "expected without COVID" stays with the data after 2020 (the
    segmented model's projection of a two-year pre-trend does not)."""
    y = demo_like(3)
    model, _ = covid_trend_model(y)
    f = model.fitted.set_index("month")
    post = f.index > WINDOW[1]
    ratio = f.loc[post, "observed"].sum() / f.loc[post, "counterfactual"].sum()
    assert 0.95 < ratio < 1.05
    assert f.loc[post, "counterfactual"].max() < 1.25 * f.loc[post, "observed"].max()
    # the lockdown months: recorded and expected as the section reports them
    eff = model.covid_effect()
    assert eff["months"] == 3 and eff["observed"] == y.loc[WINDOW[0]:WINDOW[1]].sum()
    assert eff["expected"] == pytest.approx(f.loc[_inside(f.index), "counterfactual"].sum())
    true_rr = TRUTH["intensity"]["covid_rate_ratio"]
    assert model.covid_rate_ratio_ci[0] <= true_rr <= model.covid_rate_ratio_ci[1]


def test_the_segmented_model_is_not_the_covid_answer():
    """The old two-answer page: a segmented model of a series whose pre-2020 years happen to rise fast climbs
    far above the data when its two-year pre-trend is projected to 2025; the one model does not."""
    rng = np.random.default_rng(4)
    years = np.arange(len(MONTHS)) / 12
    level = np.where(MONTHS < "2020-04-01", 45 * np.exp(0.18 * years), 45 * np.exp(0.18 * 2) * 0.9)
    mu = level * np.exp(0.12 * np.cos(2 * np.pi * (np.asarray(MONTHS.month) - 7) / 12))
    y = pd.Series(rng.poisson(mu), index=MONTHS)
    its = interrupted_time_series(y, "2020-04-01", covid=False)
    model, _ = covid_trend_model(y)
    last = MONTHS >= "2024-04-01"
    obs = y[last].mean()
    assert its.fitted.loc[last, "counterfactual"].mean() > 1.5 * obs  # the line climbing to ~110 against ~55
    assert model.fitted.loc[last, "counterfactual"].mean() < 1.3 * obs


def test_no_offence_in_the_lockdown():
    y = demo_like(5, base=6.0)
    y[_inside(y.index)] = 0
    model, _ = covid_trend_model(y)
    assert model.covid_rate_ratio == 0.0 and math.isnan(model.covid_rate_ratio_ci[1])
    assert "covid" not in set(model.coefficients["term"])
    assert (model.fitted.loc[_inside(model.fitted["month"]), "fitted"] == 0).all()
    assert np.isfinite(model.annual_rate_ratio) and len(model.forecast(3)) == 3


# --------------------------------------------------------------------------- the population offset
def test_population_offset_makes_it_a_rate_ratio():
    """Counts rising only with the population: the rate ratio is about 1, the ratio of counts is not."""
    pop = pd.Series(100_000 * 1.03 ** (np.arange(len(MONTHS)) // 12), index=MONTHS, dtype=float)
    rng = np.random.default_rng(6)
    y = pd.Series(rng.poisson(pop.to_numpy() * 2e-4), index=MONTHS)
    rates, _ = covid_trend_model(y, population=pop)
    counts, _ = covid_trend_model(y)
    assert rates.ratio_kind == "rate" and counts.ratio_kind == "count"
    assert rates.annual_rate_ratio_ci[0] <= 1.0 <= rates.annual_rate_ratio_ci[1]
    assert counts.annual_rate_ratio == pytest.approx(rates.annual_rate_ratio * 1.03, rel=0.01)
    assert "population" in rates.fitted.columns


# --------------------------------------------------------------------------- intervals
def test_forecast_limits_are_whole_numbers_and_checked():
    model, _ = covid_trend_model(demo_like(7))
    fc = model.forecast(12)
    assert (fc["lower"] == fc["lower"].round()).all() and (fc["upper"] == fc["upper"].round()).all()
    assert (fc["lower"] <= fc["expected"]).all() and (fc["expected"] <= fc["upper"]).all()
    check = fc.attrs["check"]
    assert check["origins"] == 4 and check["months"] > 0 and fc.attrs["inflation"] >= 1.0
    plain = model.forecast(12, check=False)
    assert plain.attrs["inflation"] == 1.0 and plain.attrs["check"] is None


def test_the_check_widens_a_series_that_wanders():
    """A level that wanders for months (AR(1) on the log scale): the model's earlier forecasts miss by more
    than they claim, so the forecast band is widened; the residuals say so too."""
    rng = np.random.default_rng(8)
    u = np.zeros(len(MONTHS))
    for i in range(1, len(u)):
        u[i] = 0.9 * u[i - 1] + rng.normal(0, 0.06)
    mu = 150 * np.exp(u + 0.1 * np.cos(2 * np.pi * (np.asarray(MONTHS.month) - 7) / 12))
    y = pd.Series(rng.poisson(mu), index=MONTHS)
    model, _ = covid_trend_model(y)
    fc = model.forecast(12)
    assert fc.attrs["inflation"] > 1.2
    assert model.residual_autocorrelation > 0.4
    assert (fc["upper"] - fc["lower"]).mean() > (model.forecast(12, check=False)["upper"]
                                                 - model.forecast(12, check=False)["lower"]).mean()


def test_nb_fit_does_not_collapse_to_poisson_at_large_counts():
    """London-sized monthly counts (about 18,000) with 5% extra-Poisson noise: the NB2 fit keeps alpha."""
    rng = np.random.default_rng(9)
    mu = 18_000 * np.exp(0.1 * np.cos(2 * np.pi * (np.asarray(MONTHS.month) - 7) / 12))
    y = pd.Series(rng.poisson(mu * rng.gamma(400, 1 / 400, len(mu))), index=MONTHS)
    model = fit_trend_model(y)
    assert model.family == "negbin" and model.alpha_ci[0] < 1 / 400 < model.alpha_ci[1]


# --------------------------------------------------------------------------- the pages
@pytest.fixture(scope="module")
def big(demo_data):
    """Hartlepool on the broadest definition: its monthly series is published."""
    return sections.ProfileContext.load(CSP, "demo", "most_serious_violence", "2025-03-31")


def _published_monthly(c):
    fam = tables.series_cube(c.dataset, c.force_code, c.definition.name, c.period_start, c.period_end)
    assert fam.resolution[CSP] == "month"
    pub = fam.series(CSP)
    return pd.Series(pub.astype("int64").to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(list(pub.index)),
                     name="month"))


def test_trend_and_covid_sections_give_one_answer(big, shown):
    monthly = _published_monthly(big)
    pop = big.monthly_residents().reindex(monthly.index)
    model, _ = covid_trend_model(monthly, population=pop)
    trend = sections.trend_model(big)
    covid = sections.covid_interruption(big)
    assert trend.values["ratio_kind"] == "rate"
    assert trend.values["annual_rate_ratio"] == pytest.approx(model.annual_rate_ratio)
    for res in (trend, covid):
        assert res.values["covid_rate_ratio"] == pytest.approx(model.covid_rate_ratio)
        assert res.values["covid_rate_ratio_ci"] == pytest.approx(model.covid_rate_ratio_ci)
    sentence = f"{model.covid_rate_ratio:.2f} times the expected level"
    assert sentence in trend.message and sentence in covid.message
    lines = " ".join(texts(shown))
    assert "How this is worked out" in lines and "does not assume a lasting change" in lines
    assert "Residents: ONS mid-year estimates" in lines
    assert len(alts(shown)) == 2 and all("Hartlepool" in a for a in alts(shown))
    assert "expected without COVID" in alts(shown)[1]
    check_published(trend, page_dir())
    check_published(covid, page_dir())


def test_without_population_the_page_says_ratio_of_counts(big, shown, monkeypatch):
    from svtools.publish.sections import trend as mod

    mod._MODELS.clear()
    monkeypatch.setattr(type(big), "monthly_residents", lambda self, *a, **k: (_ for _ in ()).throw(
        KeyError("population")))
    res = sections.trend_model(big)
    mod._MODELS.clear()
    assert res.values["ratio_kind"] == "count"
    assert "annual count ratio" in res.message
    assert any("ratios of counts" in t for t in texts(shown))
