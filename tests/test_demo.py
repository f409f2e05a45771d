"""The SYNTHETIC demo extract: layout, determinism, and that the documented truth is present in the data.

One module-scoped run generates two forces (Cleveland and Warwickshire) at scale 0.2 (~75,000 rows). Every
statistical check compares a realised figure with the value written to ``truth.json`` using a tolerance
derived from the sample: binomial standard errors, cluster-robust (sandwich) standard errors where rows share
a person (repeat victims or suspects), Poisson/negative-binomial variances for counts, and chi-square
goodness-of-fit tests at p > 0.001. ``Z_MAX`` = 4 standard errors (two-sided p ~ 6e-5 per check), so with the
~40 checks here a correct generator fails by chance with probability below 0.3%; the data are deterministic,
so a pass is stable.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from svtools.config import read_yaml, settings
from svtools.ingest.demo import (
    EXTRACT_COLUMNS,
    generate_demo_data,
    load_truth,
    monthly_intensity,
    real_counts,
    truth_from_config,
)
from svtools.ingest.geography import lsoa_geography
from svtools.ingest import ingest_demo
from svtools.paths import CONFIG
from svtools.ingest.reference import offence_codes

FORCES = ["cleveland", "warwickshire"]
SCALE = 0.2
Z_MAX = 4.0            # standard errors allowed (see module docstring)
P_MIN = 1e-3           # chi-square goodness-of-fit tests must not reject at this level
WEAPON_CODES = {"10A", "10B", "10C", "10D", "81"}
HOMICIDE_CODES = {"1", "4.1"}


# ---------------------------------------------------------------------------------------------------- helpers
def binom_z(successes: int, n: int, p0: float) -> float:
    """z statistic of an observed proportion against p0 (binomial standard error under p0)."""
    return (successes / n - p0) / np.sqrt(p0 * (1 - p0) / n)


def clustered_z(x, groups, p0: float) -> float:
    """z statistic of mean(x) against p0 with a cluster-robust (sandwich) standard error by ``groups``."""
    x = np.asarray(x, dtype=float)
    dev = pd.Series(x - x.mean()).groupby(np.asarray(groups)).sum().to_numpy()
    se = np.sqrt((dev ** 2).sum()) / len(x)
    return (x.mean() - p0) / se


def stream_of(code: pd.Series) -> np.ndarray:
    return np.select([code.isin(WEAPON_CODES), code.isin(HOMICIDE_CODES), code.str.startswith("34")],
                     ["weapons", "homicide", "robbery"], "vso")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_raw")
    summary = generate_demo_data(out, forces=FORCES, scale=SCALE, progress=False)
    rows = pd.concat([pd.read_csv(out / f"{f}_crime_extract.csv", dtype=str, keep_default_na=False)
                      for f in FORCES], ignore_index=True)
    rows["recorded"] = pd.to_datetime(rows["Date Recorded"], format="%d/%m/%Y")
    rows["occurred_day"] = pd.to_datetime(rows["Committed From Date"].str[:10], format="%d/%m/%Y")
    rows["stream"] = stream_of(rows["HO Class"])
    crimes = rows.drop_duplicates("Crime Number").copy()
    crimes["month"] = crimes["recorded"].dt.to_period("M").dt.to_timestamp()
    victims = rows[rows["Victim URN"] != ""].copy()
    return SimpleNamespace(out=out, summary=summary, truth=load_truth(out), rows=rows, crimes=crimes,
                           victims=victims)


# ----------------------------------------------------------------------------------------------------- layout
def test_files_follow_the_mapping(demo):
    from svtools.ingest.mapping import load_mapping

    mapping = load_mapping("demo_extract")
    assert demo.summary["files"][:2] == [f"{f}_crime_extract.csv" for f in FORCES]
    for f in FORCES:
        header = (demo.out / f"{f}_crime_extract.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == EXTRACT_COLUMNS
    assert set(mapping.source_columns()) | set(mapping.drop_columns) == set(EXTRACT_COLUMNS)
    r = demo.rows
    vals = {name: set(spec.values) | {""} for name, spec in mapping.fields.items()}  # blank: unknown
    assert set(r["Weapon Knife Y/N"]) == set(mapping.fields["knife_flag"].values)  # required: never blank
    assert set(r["DA Flag"]) <= vals["domestic_flag"]
    assert set(r["Victim Gender"]) <= vals["victim_sex"]
    assert set(r["Suspect Gender"]) <= vals["suspect_sex"]
    assert set(r["Victim Ethnicity (ONS 5)"]) <= vals["victim_ethnicity"]
    forces = {"Cleveland Police", "Warwickshire Police"}
    assert set(r["Owning Force"]) == forces and forces <= vals["reporting_force"]
    # codes written with dots ("4.1"), every one a known Home Office code
    assert "4/1" not in set(r["HO Class"])
    known = set(offence_codes()["ho_offence_code"])
    assert set(r["HO Class"].str.replace(".", "/", regex=False)) <= known
    # dates: recorded in the demo period, occurrence on or before recording, hour known or date only
    per = settings()["periods"]
    assert r["recorded"].min() >= pd.Timestamp(per["demo_start"])
    assert r["recorded"].max() <= pd.Timestamp(per["demo_end"])
    assert (r["occurred_day"] <= r["recorded"]).all()
    occ = r["Committed From Date"]
    full = pd.to_datetime(occ.where(occ.str.len() > 10), format="%d/%m/%Y %H:%M")
    assert full.notna().sum() == (occ.str.len() == 16).sum() and set(occ.str.len()) == {10, 16}
    # ages whole years 0-110, no duplicated crime x victim row
    for col in ("Victim Age at Offence", "Suspect Age"):
        ages = pd.to_numeric(r.loc[r[col] != "", col])
        assert ages.between(0, 110).all() and (ages == ages.round()).all()
    assert not r.duplicated(["Crime Number", "Victim URN"]).any()


def test_strict_ingest_passes(demo, tmp_path):
    report = ingest_demo(demo.out, tmp_path / "processed", on_invalid="raise")
    assert report.balanced() and report.rows_in == len(demo.rows)
    assert set(report.excluded) <= {"unlocated"}
    assert report.excluded.get("unlocated", 0) == (demo.rows["LSOA 2011"] == "").sum()
    info = json.loads((tmp_path / "processed" / "dataset.json").read_text())
    assert info["synthetic"] is True
    hosp = pd.read_parquet(tmp_path / "processed" / "hospital_admissions.parquet")
    assert hosp["suppressed"].any() and hosp.loc[hosp["suppressed"], "admissions"].isna().all()


def test_deterministic_per_force_and_seed_sensitive(demo, tmp_path):
    a = generate_demo_data(tmp_path / "a", forces=["cleveland"], scale=SCALE, progress=False)
    b = generate_demo_data(tmp_path / "b", forces=["cleveland"], scale=SCALE, progress=False)
    c = generate_demo_data(tmp_path / "c", forces=["cleveland"], scale=SCALE, seed=1, progress=False)
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    extract = "cleveland_crime_extract.csv"
    # a force's file does not depend on which other forces are generated with it
    assert (tmp_path / "a" / extract).read_bytes() == (demo.out / extract).read_bytes()
    assert (tmp_path / "c" / extract).read_bytes() != (tmp_path / "a" / extract).read_bytes()
    assert json.loads((tmp_path / "c" / "truth.json").read_text())["generator"]["seed"] == 1


def test_synthetic_is_said_everywhere(demo):
    t = demo.truth
    assert t["synthetic"] is True and "SYNTHETIC" in t["WARNING"]
    readme = (demo.out / "README.md").read_text()
    assert readme.startswith("# SYNTHETIC") and "NOT real" in readme
    assert "APPROXIMATE" in t["victims"]["ethnicity"]["note"]
    assert t["generator"]["forces"] == FORCES and t["generator"]["scale"] == SCALE
    assert t["realised"]["rows"] == len(demo.rows) and t["realised"]["crimes"] == len(demo.crimes)


# -------------------------------------------------------------------------------------------------- intensity
def test_monthly_intensity_function():
    truth = truth_from_config()
    months = pd.to_datetime(["2018-04-01", "2018-07-15", "2019-01-01", "2020-05-01", "2019-07-01"])
    pfa = "E23000013"
    mu = monthly_intensity(months, pfa, truth)
    it = truth["intensity"]
    beta, A = it["trend"][pfa]["beta_per_year"], it["seasonal_log_amplitude"]
    expected = np.exp([A * np.cos(2 * np.pi * (4 - 7) / 12), beta * 3 / 12 + A,
                       beta * 9 / 12 + A * np.cos(np.pi),
                       beta * 25 / 12 + A * np.cos(2 * np.pi * (5 - 7) / 12) + np.log(it["covid_rate_ratio"]),
                       beta * 15 / 12 + A])
    np.testing.assert_allclose(mu, expected, rtol=1e-12)
    np.testing.assert_allclose(monthly_intensity(months, "cleveland", truth), mu)
    assert it["covid_months"] == ["2020-04", "2020-06"] and it["seasonal_peak_month"] == 7


def test_monthly_counts_follow_the_intensity(demo):
    """Force x month recorded counts against expected = FY expectation x mu(t) / sum over the FY of mu.

    Variance is negative binomial: mu + sum over CSPs of mu_csp^2 / nb_shape (one gamma multiplier per CSP).
    """
    t = demo.truth
    k = t["intensity"]["nb_shape"]
    months = pd.date_range(t["period"]["start"], t["period"]["end"], freq="MS")
    fy = np.array([f"{y - (m < 4)}/{(y - (m < 4) + 1) % 100:02d}" for y, m in zip(months.year, months.month)])
    chi2, dof = 0.0, 0
    for force in FORCES:
        pfa = t["generator"]["pfa_codes"][force]
        mu = monthly_intensity(months, pfa, t)
        share = np.zeros(len(months))
        for f in np.unique(fy):
            share[fy == f] = mu[fy == f] / mu[fy == f].sum()
        exp_csp = np.array([[v["expected_by_financial_year"][f]["total"] for f in fy] * share
                            for v in t["expected_counts"].values() if v["force"] == force])
        expected = exp_csp.sum(axis=0)
        var = expected + (exp_csp ** 2).sum(axis=0) / k
        name = t["intensity"]["trend"][pfa]["force_name"]
        in_force = demo.crimes[demo.crimes["Owning Force"] == name]
        observed = in_force.groupby("month").size().reindex(months, fill_value=0)
        chi2 += (((observed.to_numpy() - expected) ** 2) / var).sum()
        dof += len(months)
    assert stats.chi2.sf(chi2, dof) > P_MIN, (chi2, dof)


def test_glm_recovers_trend_season_and_covid(demo):
    """A log-linear model of monthly counts recovers the documented truth (summer peak, COVID dip, trend)."""
    it = demo.truth["intensity"]
    for force in FORCES:
        pfa = demo.truth["generator"]["pfa_codes"][force]
        name = it["trend"][pfa]["force_name"]
        y = demo.crimes[demo.crimes["Owning Force"] == name].groupby("month").size()
        m = y.index
        X = pd.DataFrame({"const": 1.0, "years": ((m.year - 2018) * 12 + m.month - 4) / 12,
                          "cos": np.cos(2 * np.pi * m.month / 12), "sin": np.sin(2 * np.pi * m.month / 12),
                          "covid": ((m >= "2020-04-01") & (m <= "2020-06-01")).astype(float)}, index=m)
        # negative binomial GLM with the true shape; the CSP-level noise makes the force level slightly less
        # overdispersed, so the model-based SEs are conservative.
        fit = sm.GLM(y.to_numpy(), X, family=sm.families.NegativeBinomial(alpha=1 / it["nb_shape"])).fit()
        b, se = fit.params, fit.bse
        assert abs(b["years"] - it["trend"][pfa]["beta_per_year"]) < Z_MAX * se["years"]
        assert abs(b["covid"] - it["covid_log_effect"]) < Z_MAX * se["covid"]
        assert b["covid"] < -2 * se["covid"]
        A, peak = it["seasonal_log_amplitude"], it["seasonal_peak_month"]
        assert abs(b["cos"] - A * np.cos(2 * np.pi * peak / 12)) < Z_MAX * se["cos"]
        assert abs(b["sin"] - A * np.sin(2 * np.pi * peak / 12)) < Z_MAX * se["sin"]
        est_peak = (np.degrees(np.arctan2(b["sin"], b["cos"])) / 30) % 12
        assert 6 <= est_peak <= 8  # July peak (SE of the phase ~0.3 months here)


# ------------------------------------------------------------------------------------------------------- when
def test_hour_of_day_peaks(demo):
    occ = demo.crimes["Committed From Date"]
    hours = occ[occ.str.len() == 16].str[11:13].astype(int)
    observed = np.bincount(hours, minlength=24)
    w = np.asarray(demo.truth["timing"]["hour_weights"])
    assert stats.chisquare(observed, observed.sum() * w / w.sum()).pvalue > P_MIN
    # the documented peaks (15-16h, 18-20h, 23-24h) stand out from their neighbours
    peaks, flanks = [15, 18, 19, 23], [13, 14, 16, 17, 20, 21, 22, 0]
    n = observed.sum()
    p_peak, p_flank = observed[peaks].sum() / n / 4, observed[flanks].sum() / n / 8
    se = np.sqrt(p_peak * (1 - p_peak) / n / 4 + p_flank * (1 - p_flank) / n / 8)
    assert (p_peak - p_flank) / se > Z_MAX
    # unknown time in ~8% of crimes
    p_unknown = demo.truth["data_quality"]["occurrence_time_unknown"]
    assert abs(binom_z((occ.str.len() == 10).sum(), len(occ), p_unknown)) < Z_MAX


def test_weekend_excess(demo):
    dow = demo.crimes["occurred_day"].dt.day_of_week.to_numpy()
    w = np.asarray(demo.truth["timing"]["dow_weights_mon_to_sun"])
    weekend = (dow >= 5).sum()
    assert abs(binom_z(weekend, len(dow), w[5:].sum())) < Z_MAX
    assert binom_z(weekend, len(dow), 2 / 7) > Z_MAX  # more than a flat week would give
    assert demo.truth["timing"]["weekend_rate_ratio"] > 1.2


def test_recording_delay_mostly_zero_to_three_days(demo):
    c = demo.crimes
    delay = (c["recorded"] - c["occurred_day"]).dt.days
    standard = ~offence_group(c["HO Class"]).eq("Sexual offences")
    p = demo.truth["timing"]["recording_delay"]["standard"]["p_0_to_3_days"]
    # the pmf's probability of 0-3 days (the joint draw with the occurrence date keeps the delay marginal)
    z = binom_z((delay[standard] <= 3).sum(), standard.sum(), p)
    assert abs(z) < Z_MAX
    assert delay.max() > 365 and (delay >= 0).all()


def offence_group(code: pd.Series) -> pd.Series:
    groups = offence_codes().set_index("ho_offence_code")["offence_group"]
    return code.str.replace(".", "/", regex=False).map(groups)


# -------------------------------------------------------------------------------------------- where / volumes
def test_volumes_match_the_real_2022_counts(demo):
    geo = lsoa_geography().set_index("lsoa_code")
    c = demo.crimes[demo.crimes["LSOA 2011"] != ""]
    vso = c[c["stream"] == "vso"]
    real = pd.concat([real_counts(f)["Violence and sexual offences"] for f in FORCES]).groupby(level=0).sum()
    lsoas = geo.index[geo["pfa_code"].isin(demo.truth["generator"]["pfa_codes"].values())
                      & (geo["lsoa_vintage"] == "2011")]
    gen = vso.groupby("LSOA 2011").size().reindex(lsoas, fill_value=0)
    rl = real.reindex(lsoas, fill_value=0)
    assert np.corrcoef(gen, rl)[0, 1] > 0.9
    assert stats.spearmanr(gen, rl).statistic > 0.8
    # per CSP, Jan-Nov 2022 located count = scale x real count, within Poisson + gamma (NB) variation
    k = demo.truth["intensity"]["nb_shape"]
    in22 = vso[(vso["month"] >= "2022-01-01") & (vso["month"] <= "2022-11-01")]
    got = in22["LSOA 2011"].map(geo["csp_code"]).value_counts()
    months = pd.date_range("2022-01-01", "2022-11-01", freq="MS")
    for csp, v in demo.truth["expected_counts"].items():
        mu = monthly_intensity(months, v["pfa_code"], demo.truth)
        m = SCALE * v["calibration_real_counts_2022_jan_nov"]["vso"]
        m_t = m * mu / mu.sum()
        z = (got.get(csp, 0) - m) / np.sqrt(m + (m_t ** 2).sum() / k)
        assert abs(z) < Z_MAX, (csp, got.get(csp, 0), m)


def test_homicide_rate_about_one_per_100k(demo):
    exp = sum(sum(fy["homicide"] for fy in v["expected_by_financial_year"].values())
              for v in demo.truth["expected_counts"].values())
    n = (demo.crimes["stream"] == "homicide").sum()
    assert stats.poisson.cdf(n, exp) > P_MIN / 2 and stats.poisson.sf(n - 1, exp) > P_MIN / 2
    assert demo.truth["calibration"]["homicide_per_100k_per_year"] == 1.0


def test_blank_lsoa_rate(demo):
    c = demo.crimes
    rates = demo.truth["data_quality"]["blank_lsoa"]
    blank = c["LSOA 2011"] == ""
    vso = c["stream"] == "vso"
    assert abs(binom_z(blank[vso].sum(), vso.sum(), rates["vso"])) < Z_MAX
    assert blank[c["stream"] == "homicide"].sum() == 0


def test_deprivation_gradient_in_knife_share(demo):
    geo = lsoa_geography().set_index("lsoa_code")
    c = demo.crimes[(demo.crimes["LSOA 2011"] != "") & (demo.crimes["stream"] == "vso")]
    decile = c["LSOA 2011"].map(geo["imd_decile"]).astype(int)
    knife = c["Weapon Knife Y/N"] == "Y"
    exp = demo.truth["deprivation"]["expected_vso_knife_share_by_decile"]
    n = decile.value_counts().sort_index()
    k = knife.groupby(decile).sum().reindex(n.index)
    p0 = np.array([exp[str(d)] for d in n.index])
    chi2 = (((k - n * p0) ** 2) / (n * p0 * (1 - p0))).sum()
    assert stats.chi2.sf(chi2, len(n)) > P_MIN
    # the gradient itself: most deprived fifth vs least deprived fifth
    lo, hi = decile <= 2, decile >= 9
    p1, p2 = knife[lo].mean(), knife[hi].mean()
    se = np.sqrt(p1 * (1 - p1) / lo.sum() + p2 * (1 - p2) / hi.sum())
    assert (p1 - p2) / se > Z_MAX
    rr = demo.truth["deprivation"]["knife_rate_ratio_per_decile"]
    assert exp["1"] / exp["10"] == pytest.approx(rr ** 9, rel=1e-3)


def test_knife_share_by_code(demo):
    c = demo.crimes
    code = c["HO Class"].str.replace(".", "/", regex=False)
    knife = c["Weapon Knife Y/N"] == "Y"
    expected = demo.truth["knife"]["expected_share_by_code"]
    checked = 0
    for cd, p0 in expected.items():
        sel = code == cd
        if p0 >= 1:
            assert knife[sel].all(), cd
        elif sel.sum() * p0 >= 10:
            assert abs(binom_z(knife[sel].sum(), sel.sum(), p0)) < Z_MAX, cd
            checked += 1
    assert checked >= 6
    assert not knife[code.isin(["105A", "8L", "8R", "10C"])].any()
    # documented shares: homicide ~40%, attempted murder ~45%, 5D ~25%, 34B ~15%, 3B ~10%, 8N ~3%, sexual <1%
    for cd, target in {"1": 0.40, "2": 0.45, "5D": 0.25, "34B": 0.15, "3B": 0.10, "8N": 0.03}.items():
        assert expected[cd] == pytest.approx(target, rel=0.15), cd
    assert all(expected[cd] < 0.01 for cd in expected if cd.startswith(("19", "20", "17")))


# -------------------------------------------------------------------------------------------------------- who
def test_victim_under_25_share(demo):
    v = demo.victims[demo.victims["Victim Age at Offence"] != ""]
    under = pd.to_numeric(v["Victim Age at Offence"]) <= 24
    p0 = demo.truth["victims"]["expected_under25_share"]
    assert 0.3 <= p0 <= 0.37  # "about a third"
    assert abs(clustered_z(under, v["Victim URN"], p0)) < Z_MAX
    unknown = (demo.victims["Victim Age at Offence"] == "").sum()
    assert abs(binom_z(unknown, len(demo.victims), demo.truth["data_quality"]["victim_age_unknown"])) < Z_MAX


def test_knife_victims_mostly_male(demo):
    vic = demo.victims
    v = vic[(vic["Weapon Knife Y/N"] == "Y") & vic["Victim Gender"].isin(["Male", "Female"])]
    p0 = demo.truth["victims"]["expected_male_share_knife_victims"]
    assert p0 == pytest.approx(0.8, abs=0.02)
    assert abs(clustered_z(v["Victim Gender"] == "Male", v["Victim URN"], p0)) < Z_MAX
    # offences whose definition fixes the victim's sex
    rape_f = demo.victims[demo.victims["HO Class"] == "19C"]
    assert set(rape_f["Victim Gender"]) <= {"Female", "Unknown"}


def test_ethnicity_disproportionality(demo):
    eth = demo.truth["victims"]["ethnicity"]
    labels = {"White": "White", "Asian": "Asian or Asian British",
              "Black": "Black, Black British, Caribbean or African",
              "Mixed": "Mixed or Multiple ethnic groups",
              "Other": "Other ethnic group"}
    for force in FORCES:
        name = read_yaml(CONFIG / "demo.yaml")["forces"][force]["name"]
        v = demo.victims[(demo.victims["Owning Force"] == name)]
        stated = v[v["Victim Ethnicity (ONS 5)"] != "Not Stated"]
        p_ns = demo.truth["data_quality"]["victim_ethnicity_not_stated"]
        assert abs(binom_z(len(v) - len(stated), len(v), p_ns)) < Z_MAX
        for group, label in labels.items():
            p0 = eth["victim_share"][force][group]
            is_group = stated["Victim Ethnicity (ONS 5)"] == label
            assert abs(clustered_z(is_group, stated["Victim URN"], p0)) < Z_MAX
        # the documented rate ratio: Black victims over-represented relative to the resident population
        pop = eth["population_pct"][force]
        share = stated["Victim Ethnicity (ONS 5)"].value_counts(normalize=True)
        rr = (share[labels["Black"]] / pop["Black"]) / (share["White"] / pop["White"])
        assert rr > 1.3 and eth["rate_ratio"]["Black"] == 2.0


def test_two_victims_and_no_victim_for_possession(demo):
    r = demo.rows
    weapons = r["stream"] == "weapons"
    victim_cols = ["Victim URN", "Victim Age at Offence", "Victim Gender", "Victim Ethnicity (ONS 5)"]
    assert (r.loc[weapons, victim_cols] == "").all().all()
    assert (r.loc[~weapons, "Victim URN"] != "").all()
    per_crime = r[~weapons].groupby("Crime Number").size()
    assert set(per_crime) <= {1, 2}
    p_two = demo.truth["victims"]["two_victim_share"]
    assert abs(binom_z((per_crime == 2).sum(), len(per_crime), p_two)) < Z_MAX


def test_repeat_victimisation_heavy_tail(demo):
    counts = demo.victims["Victim URN"].value_counts().to_numpy()
    real = demo.truth["victims"]["repeat"]["realised"]
    srt = np.sort(counts)[::-1]
    for frac, key in ((0.01, "top_1pct_share"), (0.05, "top_5pct_share"), (0.10, "top_10pct_share")):
        top = max(1, int(round(frac * len(srt))))
        assert srt[:top].sum() / srt.sum() == pytest.approx(real[key], abs=1e-6)
    assert real["victims"] == len(counts) and real["max_offences_one_victim"] == counts.max()
    assert real["top_5pct_share"] > 0.2  # a few per cent of victims: a large share of victimisations
    # a person is one person: one sex and ethnicity (bar "Unknown"/"Not Stated" noise), one date of birth
    per_victim = demo.victims["Victim URN"].value_counts()
    v = demo.victims[demo.victims["Victim URN"].isin(per_victim.index[per_victim > 1])]
    sex = v[v["Victim Gender"] != "Unknown"].groupby("Victim URN")["Victim Gender"].nunique()
    stated = v[v["Victim Ethnicity (ONS 5)"] != "Not Stated"]
    eth = stated.groupby("Victim URN")["Victim Ethnicity (ONS 5)"].nunique()
    assert (sex == 1).all() and (eth == 1).all()
    aged = v[v["Victim Age at Offence"] != ""]
    years = pd.to_numeric(aged["Victim Age at Offence"])
    birth = aged["occurred_day"] - pd.to_timedelta(years * 365.25, unit="D")
    spread = birth.groupby(aged["Victim URN"]).agg(lambda s: (s.max() - s.min()).days)
    assert spread.max() <= 366 + 1


def test_suspects(demo):
    c = demo.crimes
    cfg = demo.truth["suspects"]
    known = c["Suspect URN"] != ""
    other = (c["DA Flag"] == "No") & c["stream"].isin(["vso", "robbery"])
    assert abs(binom_z(known[other].sum(), other.sum(), cfg["known"]["other"])) < Z_MAX
    weap = c["stream"] == "weapons"
    assert abs(binom_z(known[weap].sum(), weap.sum(), cfg["known"]["weapons"])) < Z_MAX
    assert 0.5 < known.mean() < 0.7  # about 60% overall
    s = c[known & (offence_group(c["HO Class"]) != "Sexual offences") & (c["Suspect Gender"] != "Unknown")]
    p_male = cfg["male"]["other"] * (1 - cfg["other_sex_share"])
    assert abs(clustered_z(s["Suspect Gender"] == "Male", s["Suspect URN"], p_male)) < Z_MAX
    per = c.loc[known, "Suspect URN"].value_counts()
    assert per.max() >= 10 and (per >= 2).mean() > 0.1  # repeat offenders
    ages = pd.to_numeric(c.loc[known & (c["Suspect Age"] != ""), "Suspect Age"])
    assert ages.min() >= 10 and 25 <= ages.median() <= 40


# --------------------------------------------------------------------------------------------------- hospital
def test_hospital_admissions_small_cells_suppressed(demo):
    h = pd.read_csv(demo.out / "hospital_admissions.csv", dtype=str, keep_default_na=False)
    assert list(h.columns) == ["area_code", "area_name", "financial_year", "age_band", "sex", "admissions"]
    csps = sorted(demo.truth["expected_counts"])
    assert sorted(h["area_code"].unique()) == csps
    assert len(h) == len(csps) * 7 * 3 * 2
    assert set(h["age_band"]) == set(settings()["age_bands"]["hospital"]) and set(h["sex"]) == {"F", "M"}
    assert set(h["financial_year"]) == set(demo.truth["period"]["financial_years"])
    truth = pd.DataFrame(demo.truth["hospital_admissions"]["unsuppressed"])
    merged = h.merge(truth, on=["area_code", "financial_year", "age_band", "sex"], suffixes=("", "_true"))
    assert len(merged) == len(h)
    small = merged["admissions_true"].between(1, settings()["disclosure"]["hes_threshold"])
    assert small.any() and (merged.loc[small, "admissions"] == "*").all()
    assert (merged.loc[~small, "admissions"].astype(int) == merged.loc[~small, "admissions_true"]).all()
    # Poisson around the expectation (admissions per knife offence x expected knife-enabled serious violence)
    n, e = merged["admissions_true"].sum(), merged["expected"].sum()
    assert abs(n - e) < Z_MAX * np.sqrt(e)
