"""The indicator table behind the spine chart and the red-red list (svtools.publish.indicators, analysis.indicators).

Values are checked against a hand computation from ``monthly_counts`` and the person-years of the ONS estimates,
intervals against the tested interval functions, and the disclosure rules: a hidden count gives no value, and the
spread (P25, P75, worst, best) and the benchmark are computed from published values only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from svtools.analysis import indicators as ai
from svtools.analysis.stats import proportion, rate
from svtools.publish import indicators as pi
from svtools.publish import tables

DATASET = "demo"
DEFINITION = "knife_serious_violence"
END = "2025-03-31"


@pytest.fixture(scope="module")
def table(demo_data):
    return pi.indicator_table(DATASET, DEFINITION, END)


@pytest.fixture(scope="module")
def inputs(demo_data):
    from svtools.ingest.definitions import apply_definition, load_definition
    from svtools.ingest.store import load_table

    m = load_table("monthly_counts", DATASET)
    pop = load_table("population", DATASET)
    return m, pop, apply_definition, load_definition


def _fy_months(fy: str):
    y = int(fy[:4])
    return list(pd.date_range(f"{y}-04-01", f"{y + 1}-03-01", freq="MS"))


def test_config_is_checked(tmp_path):
    inds = ai.load_indicators()
    assert {d["polarity"] for d in inds} <= set(ai.POLARITIES)
    assert all(d["unit"] and d["numerator"] and d["denominator"] and d["source"] for d in inds)
    bad = tmp_path / "ind.yaml"
    bad.write_text("indicators:\n  - {id: x, label: X, kind: rate, per: 1000, unit: u, numerator: n, denominator: d,"
                   " polarity: lower_is_worse, benchmark: all_csps_in_data, reader: series, definition: homicide,"
                   " source: s, datasets: [demo]}\n")
    with pytest.raises(Exception, match="polarity 'lower_is_worse'"):
        ai.load_indicators(path=bad)


def test_values_equal_hand_computation(table, inputs):
    """Knife-enabled serious violence and robbery: count, person-years, rate and CI by hand from monthly_counts."""
    from svtools.analysis.population import person_years_by_csp

    m, pop, apply_definition, load_definition = inputs
    fy = table.loc[table["indicator"] == "knife_serious_violence", "period"].iloc[0]
    py = person_years_by_csp(pop, _fy_months(fy))
    knife = apply_definition(m, load_definition(DEFINITION))
    checked = 0
    for ind, rows in (("knife_serious_violence", knife), ("robbery", m[m["ho_offence_code"].isin(["34A", "34B"])])):
        hand = rows[rows["financial_year"] == fy].groupby("csp_code")["offences"].sum()
        t = table[table["indicator"] == ind].set_index("area_code")
        for code, r in t.iterrows():
            n = int(hand.get(code, 0))
            assert r["denominator"] == pytest.approx(float(py[code]))
            if r["status"] != "published":
                assert 1 <= n <= 4 or np.isnan(r["numerator"])
                continue
            assert r["numerator"] == n
            assert r["value"] == pytest.approx(n / py[code] * 1000)
            # exact Poisson limits below 10 events, Byar's from 10 (PHEindicatormethods phe_rate)
            if n < 10:
                lo = sps.chi2.ppf(0.025, 2 * n) / 2 if n else 0.0
                hi = sps.chi2.ppf(0.975, 2 * n + 2) / 2
            else:
                z = sps.norm.ppf(0.975)
                lo = n * (1 - 1 / (9 * n) - z / (3 * np.sqrt(n))) ** 3
                hi = (n + 1) * (1 - 1 / (9 * (n + 1)) + z / (3 * np.sqrt(n + 1))) ** 3
            assert r["lower_95_ci"] == pytest.approx(lo / py[code] * 1000, rel=1e-9)
            assert r["upper_95_ci"] == pytest.approx(hi / py[code] * 1000, rel=1e-9)
            checked += 1
    assert checked >= 4


def test_benchmark_is_published_counts_over_their_residents(table):
    for ind, t in table.groupby("indicator"):
        pub = t[t["status"] == "published"]
        if pub.empty or t["kind"].iloc[0] != "rate":
            continue
        per = float(t["per"].iloc[0])
        expect = pub["numerator"].sum() / pub["denominator"].sum() * per
        assert t["benchmark_value"].dropna().unique() == pytest.approx([expect]), ind


def test_share_uses_wilson(table):
    """Shares are percentages with Wilson limits: the table's published rows, and a known case."""
    inds = [{"id": "s", "kind": "share", "per": 100, "polarity": "no_polarity", "benchmark": "all_csps_in_data"}]
    frame = pd.DataFrame({"indicator": "s", "area_code": ["A", "B"], "numerator": [30.0, 5.0],
                          "denominator": [120.0, 80.0]})
    out = ai.compare_table(frame, inds)
    z = sps.norm.ppf(0.975)
    x, n = 30.0, 120.0
    lo = (2 * x + z * z - z * np.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z)) * 100
    assert out["value"].iloc[0] == pytest.approx(25.0)
    assert out["lower_95_ci"].iloc[0] == pytest.approx(lo)
    assert out["benchmark_value"].iloc[0] == pytest.approx(35 / 200 * 100)
    t = table[(table["indicator"] == "domestic_abuse_share") & (table["status"] == "published")]
    if len(t):
        w = proportion(t["numerator"].to_numpy(), t["denominator"].to_numpy(), multiplier=100)
        assert t["lower_95_ci"].to_numpy() == pytest.approx(w["lower"].to_numpy())
        assert t["upper_95_ci"].to_numpy() == pytest.approx(w["upper"].to_numpy())


def test_hidden_counts_give_no_value(table):
    """A count the gate hides: no numerator, value, interval or verdict; and the gate really hides that cell."""
    hidden = table[table["status"] == "hidden"]
    assert len(hidden), "the small demo data should hide some cells (under-25 counts by CSP and year)"
    assert hidden[["numerator", "value", "lower_95_ci", "upper_95_ci"]].isna().all().all()
    assert (hidden["verdict"] == "not compared").all()
    start, end = pi._period(DATASET, END)
    u25 = hidden[hidden["indicator"] == "knife_serious_violence_under_25"]
    assert len(u25)
    for _, r in u25.iterrows():
        cube = tables.age_year_cube(DATASET, r["pfa_code"], DEFINITION, start, end)
        assert cube.value((r["area_code"], r["period"], tables.AGE_GROUPS[0])) is None


def test_quantiles_from_published_values_only(table):
    for ind, t in table.groupby("indicator"):
        v = t.loc[t["status"] == "published", "value"].dropna()
        if v.empty:
            assert t["p25"].isna().all()
            continue
        p25, p75 = np.percentile(v, [25, 75])
        assert t["p25"].iloc[0] == pytest.approx(p25) and t["p75"].iloc[0] == pytest.approx(p75)
        assert t["n_published"].iloc[0] == len(v)


def test_a_hidden_area_cannot_be_read_off_a_quantile():
    """Four areas; the hidden one's true rate would be the 25th percentile if it took part. It does not."""
    inds = [{"id": "x", "kind": "rate", "per": 1000, "polarity": "lower_is_better", "benchmark": "all_csps_in_data"}]
    pyr = 1000.0
    frame = pd.DataFrame({"indicator": "x", "area_code": list("ABCDE"),
                          "numerator": [10.0, 20.0, 30.0, 40.0, np.nan],  # E hidden (true count 3)
                          "denominator": pyr})
    out = ai.compare_table(frame, inds)
    without = ai.compare_table(frame[frame["area_code"] != "E"], inds)
    for k in ("p25", "p75", "worst", "best", "benchmark_value"):
        assert out[k].iloc[0] == pytest.approx(without[k].iloc[0])
    true_e = 3 / pyr * 1000
    assert not np.isclose(out[["p25", "p75", "worst", "best"]].iloc[0].to_numpy(float), true_e).any()
    assert out.loc[out["area_code"] == "E", "value"].isna().all()
    assert out["benchmark_value"].iloc[0] == pytest.approx(100 / 4000 * 1000)


def test_unknown_field_is_not_recorded_never_zero(demo_data, monkeypatch):
    """A dataset that does not record the domestic-abuse flag lists the share as "not recorded", with no value."""
    from svtools.publish.sections import coverage as cov

    real = cov.coverage(DATASET)
    monkeypatch.setattr(cov, "coverage", lambda ds: {**real, "domestic_flag": {"recorded": False}})
    pi._table.cache_clear()
    try:
        t = pi.indicator_table(DATASET, DEFINITION, END)
    finally:
        monkeypatch.undo()
        pi._table.cache_clear()
    d = t[t["indicator"] == "domestic_abuse_share"]
    assert len(d) and (d["status"] == "not recorded").all()
    assert d[["numerator", "value"]].isna().all().all()
    assert (d["verdict"] == "not compared").all()
    rep = t[t["indicator"] == "repeat_victimisation_share"]
    assert rep["status"].isin(["withheld", "not recorded"]).all() and rep["value"].isna().all()


def test_benchmark_verdict_rules():
    assert ai.benchmark_verdict(0.9, 1.2, 1.0, "lower_is_better") == ("similar", "similar")
    assert ai.benchmark_verdict(1.0, 1.2, 1.0, "lower_is_better") == ("similar", "similar")  # touching: includes
    assert ai.benchmark_verdict(1.1, 1.2, 1.0, "lower_is_better") == ("higher", "worse")
    assert ai.benchmark_verdict(1.1, 1.2, 1.0, "higher_is_better") == ("higher", "better")
    assert ai.benchmark_verdict(0.5, 0.8, 1.0, "lower_is_better") == ("lower", "better")
    assert ai.benchmark_verdict(0.5, 0.8, 1.0, "no_polarity") == ("lower", "lower")
    assert ai.benchmark_verdict(np.nan, 0.8, 1.0, "no_polarity") == ("not compared", "not compared")


def test_trend_verdict_needs_the_interval_to_exclude_one():
    assert ai.trend_verdict(1.3, 1.01, 1.6, "lower_is_better") == "getting worse"
    assert ai.trend_verdict(1.3, 0.99, 1.6, "lower_is_better") == "no clear change"
    assert ai.trend_verdict(0.8, 0.7, 0.9, "lower_is_better") == "improving"
    assert ai.trend_verdict(0.8, 0.7, 0.9, "higher_is_better") == "getting worse"
    assert ai.trend_verdict(1.3, 1.1, 1.6, "no_polarity") == "rising"
    assert ai.trend_verdict(np.nan, np.nan, np.nan, "lower_is_better") == "not assessed"


def test_trend_is_the_project_trend_model(table, inputs):
    """Where a trend is given it is fit_trend_model's annual rate ratio on the latest 36 published months."""
    from svtools.analysis.population import monthly_residents
    from svtools.analysis.trends import fit_trend_model

    import types

    m, pop, *_ = inputs
    code = "E22000029"
    months = pd.date_range("2018-04-01", "2025-03-01", freq="MS")
    rng = np.random.default_rng(3)
    counts = rng.poisson(20 * 1.25 ** (np.arange(len(months)) / 12))  # rising 25% a year
    series = pd.Series(counts, index=[f"{d:%Y-%m}" for d in months], dtype="Int64")
    reader = types.SimpleNamespace(end=months[-1], trend_months=36, population=pop)
    got = pi._Reader._trend(reader, series, code, {"trend": True})
    y = pd.Series(counts[-36:], index=pd.DatetimeIndex(months[-36:], name="month"))
    model = fit_trend_model(y, population=monthly_residents(pop, y.index, [code]).reindex(y.index), covid=None,
                            n_sim=200)
    assert got[0] == pytest.approx(model.annual_rate_ratio)
    assert got[1:3] == pytest.approx(model.annual_rate_ratio_ci)
    assert got[3] == "April 2022 to March 2025"
    assert ai.trend_verdict(*got[:3], "lower_is_better") == "getting worse"
    # no month before the end of the COVID-19 restrictions: a series ending February 2023 has too few months left
    early = series[series.index <= "2023-02"]
    reader = types.SimpleNamespace(end=pd.Timestamp("2023-02-01"), trend_months=36, population=pop,
                                   not_before=pd.Timestamp("2021-08-01"), min_months=24)
    assert np.isnan(pi._Reader._trend(reader, early, code, {"trend": True})[0])
    reader.min_months = 18  # 19 months (August 2021 to February 2023) are left
    assert pi._Reader._trend(reader, early, code, {"trend": True})[3] == "August 2021 to February 2023"
    # the table's trends, where given, are from published monthly series only
    t = table[table["trend_rate_ratio"].notna()]
    start, end = pi._period(DATASET, END)
    for _, r in t[t["indicator"] == "knife_serious_violence"].iterrows():
        assert tables.series_cube(DATASET, r["pfa_code"], DEFINITION, start, end).resolution[r["area_code"]] == "month"


def test_rate_matches_rate_function(table):
    t = table[(table["kind"] == "rate") & (table["status"] == "published")]
    for per, g in t.groupby("per"):
        r = rate(g["numerator"].to_numpy(), g["denominator"].to_numpy(), multiplier=per)
        assert g["value"].to_numpy() == pytest.approx(r["value"].to_numpy())
        assert g["upper_95_ci"].to_numpy() == pytest.approx(r["upper"].to_numpy())


def test_rates_are_compared_by_the_funnel_rule_not_the_interval_alone():
    """Rates against all CSPs use the profile's funnel rule (over-dispersed 95% limits), so the spine chart and
    the funnel plot never disagree; an interval-only rule calls over-dispersed areas different far more often."""
    import numpy as np

    from svtools import config
    from svtools.analysis import indicators as I
    from svtools.analysis.stats.funnels import adjusted_funnel_significance, overdispersion

    rng = np.random.default_rng(3)
    den = rng.integers(80_000, 400_000, 30).astype(float)
    true = 1.0 * np.exp(rng.normal(0, 0.35, 30))  # places differ: over-dispersed around 1 per 1,000
    num = rng.poisson(true * den / 1000).astype(float)
    frame = pd.DataFrame({"indicator": "x", "area_code": [f"A{i:02d}" for i in range(30)], "numerator": num,
                          "denominator": den})
    spec = [{"id": "x", "kind": "rate", "per": 1000, "benchmark": "all_csps_in_data", "polarity": "lower_is_better"}]
    out = I.compare_table(frame, spec)
    bench = num.sum() / den.sum() * 1000
    f = config.settings()["funnels"]
    od = overdispersion(num, den, bench, method=f["method"], winsorise=f["winsorise"], multiplier=1000)
    assert od.method != "none"  # the test's areas are over-dispersed
    flags = adjusted_funnel_significance(num, den, bench, od, 1000)["significance_95"].tolist()
    want = [{"high": "worse", "low": "better"}.get(x, "similar") for x in flags]
    assert out["verdict"].tolist() == want
    assert "funnel" in out["comparison_rule"].iloc[0]
    interval_only = [I.benchmark_verdict(lo, hi, bench, "lower_is_better")[1]
                     for lo, hi in zip(out["lower_95_ci"], out["upper_95_ci"])]
    assert sum(v != "similar" for v in interval_only) > sum(v != "similar" for v in want)


def test_shares_keep_the_interval_rule():
    from svtools.analysis import indicators as I

    frame = pd.DataFrame({"indicator": "s", "area_code": ["A", "B", "C", "D"], "numerator": [10., 50., 30., 5.],
                          "denominator": [100., 100., 100., 100.]})
    spec = [{"id": "s", "kind": "share", "per": 100, "benchmark": "all_csps_in_data", "polarity": "no_polarity"}]
    out = I.compare_table(frame, spec)
    assert out["comparison_rule"].iloc[0].startswith("95% confidence interval")
    # benchmark 23.75%: A (10%, CI about 5.5 to 17.4) is lower, B (50%) higher
    assert out.set_index("area_code").loc[["A", "B"], "verdict"].tolist() == ["lower", "higher"]


def test_a_force_whose_family_cannot_be_protected_is_withheld_not_fatal(demo_data, monkeypatch):
    """One force's family that the gate cannot protect (seen on the national demo at a tiny scale) withholds
    that force's CSPs' values; every other CSP's indicators are still computed, so no other page fails."""
    from svtools.publish import disclosure

    real = tables.series_cube

    def refuse(dataset, force, name, start, end):
        if force == "E23000013":
            raise disclosure.DisclosureError("cube x: cannot protect cell ('E22000027', '2024/25')")
        return real(dataset, force, name, start, end)

    pi._table.cache_clear()
    monkeypatch.setattr(tables, "series_cube", refuse)
    try:
        tab = pi.indicator_table("demo", "knife_serious_violence", "2025-03-31")
    finally:
        pi._table.cache_clear()
    knife = tab[tab["indicator"] == "knife_serious_violence"]
    cleveland = knife[knife["pfa_code"] == "E23000013"]
    assert len(cleveland) and (cleveland["status"] == "hidden").all() and cleveland["value"].isna().all()
    assert "cannot be protected" in cleveland["note"].iloc[0]


def _hospital_reader(areas, fy="2024/25"):
    from svtools.ingest.store import load_table

    s, e = pi._period(DATASET, END)
    return pi._Reader(DATASET, DEFINITION, s, e, fy, areas, load_table("population", DATASET), False, 36)


def test_hospital_indicator_in_one_pass_equals_the_per_csp_loop(demo_data, monkeypatch):
    """The hospital indicator of every CSP from one grouped pass (measures.hospital_year_totals) is the per-CSP
    hospital_measures loop, row for row: on the demo's admissions, and on a table of 150 CSPs with cells
    suppressed at source, CSPs without the year, shuffled and repeated index labels."""
    from svtools.analysis.measures import hospital_year_totals
    from svtools.ingest import store

    ind = next(i for i in pi.load_indicators(DATASET) if i["reader"] == "hospital")
    areas = store.load_table("areas", DATASET).sort_values(["pfa_code", "csp_code"])
    h = store.load_table("hospital_admissions", DATASET)
    reader = _hospital_reader(areas)
    py = {c: 1000.0 + k for k, c in enumerate(reader.names)}
    assert reader._read_hospital(ind, py, {}, {}) == reader._read_hospital_each(ind, py, h)

    rng = np.random.default_rng(7)
    codes = [f"E22{k:06d}" for k in range(150)]
    rows = [(c, fy, band, sex) for c in codes for fy in ("2019/20", "2023/24", "2024/25")
            for band in ("0-17", "18-24", "25-34", "35+") for sex in ("F", "M")]
    big = pd.DataFrame(rows, columns=["csp_code", "financial_year", "age_band", "sex"])
    big["admissions"] = pd.array(rng.integers(0, 30, len(big)), dtype="Int64")
    small = (big["admissions"] >= 1) & (big["admissions"] <= 7)
    big["suppressed"] = small.to_numpy()
    big.loc[small, "admissions"] = pd.NA
    big = big[~((big["csp_code"] > "E22000140") & (big["financial_year"] == "2024/25"))]  # no latest year
    big = big.sample(frac=1.0, random_state=3)
    big.index = np.arange(len(big)) // 2  # repeated labels, as concatenated CSP slices have
    fake = pd.DataFrame({"csp_code": codes + ["E22999999"], "csp_name": codes + ["No admissions"],
                         "pfa_code": "E23000013"})
    reader.names = dict(zip(fake["csp_code"], fake["csp_name"]))
    monkeypatch.setattr(store, "load_table", lambda name, dataset: big)  # _read_hospital reads only this table
    got = reader._read_hospital(ind, py, {}, {})
    assert got == reader._read_hospital_each(ind, py, big)
    assert {r["status"] for r in got["rows"]} == {"published", "hidden", "not available"}
    totals = hospital_year_totals(big, "2024/25", codes[:5])
    assert list(totals.index) == codes[:5] and totals["cells"].tolist() == [8] * 5


def test_hospital_in_one_pass_fails_as_the_loop_did_on_a_bad_age_band(demo_data, monkeypatch):
    from svtools.errors import DataValidationError
    from svtools.ingest import store

    ind = next(i for i in pi.load_indicators(DATASET) if i["reader"] == "hospital")
    areas = store.load_table("areas", DATASET).sort_values(["pfa_code", "csp_code"])
    h = store.load_table("hospital_admissions", DATASET).copy()
    h["age_band"] = h["age_band"].astype(str)
    h.loc[h.index[-1], "age_band"] = "20-29"  # straddles 24
    reader = _hospital_reader(areas)
    monkeypatch.setattr(store, "load_table", lambda name, dataset: h)
    with pytest.raises(DataValidationError, match="straddles") as one_pass:
        reader._read_hospital(ind, {}, {}, {})
    with pytest.raises(DataValidationError, match="straddles") as loop:
        reader._read_hospital_each(ind, {}, h)
    assert str(one_pass.value) == str(loop.value)
