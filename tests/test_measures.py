"""Home Office success measures: counts, rates, change from 2019/20, and hospital admissions with suppression.

Expected rates and limits are computed in the tests from the PHEindicatormethods formulas (methods.md
§1.1-1.2): exact chi-square limits below 10 events, Byar's from 10; the worked example 389 per 100,000
(351.30-429.65) is from ``../shared/docs/methods.md``.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from svtools.errors import DataValidationError
from svtools.analysis.measures import (
    financial_year,
    hospital_measures,
    resident_population,
    success_measures,
    success_table,
)

Z = sps.norm.ppf(0.975)


def byars(x, n, per):
    lo = x * (1 - 1 / (9 * x) - Z / (3 * np.sqrt(x))) ** 3
    hi = (x + 1) * (1 - 1 / (9 * (x + 1)) + Z / (3 * np.sqrt(x + 1))) ** 3
    return lo / n * per, hi / n * per


def exact(x, n, per):
    lo = sps.chi2.ppf(0.025, 2 * x) / 2 if x > 0 else 0.0
    hi = sps.chi2.ppf(0.975, 2 * x + 2) / 2
    return lo / n * per, hi / n * per


@pytest.fixture
def shipped_years():
    """One CSP at each age: 11 residents (mid-2011), 14 (mid-2014), 19 (mid-2019); nothing in between."""
    return pd.DataFrame([("E22000001", y, a, float(y - 2000)) for y in (2011, 2014, 2019) for a in range(91)],
                        columns=["csp_code", "year", "age", "population"])


@pytest.fixture
def population():
    """Two CSPs, ages 0-90; 2019 and 2020 estimates differ so the year rule is visible."""
    rows = []
    for csp, base in (("E22000001", 100), ("E22000002", 50)):
        for year, extra in ((2019, 0), (2020, 10)):
            for age in range(91):
                rows.append((csp, year, age, base + extra))
    return pd.DataFrame(rows, columns=["csp_code", "year", "age", "population"])


def make_records(spec):
    """spec: list of (financial_year, csp, code, knife, victim_age, n)."""
    rows = []
    for fy, csp, code, knife, age, n in spec:
        rows += [{"financial_year": fy, "csp_code": csp, "ho_offence_code": code, "knife_flag": knife,
                  "victim_age": age}] * n
    frame = pd.DataFrame(rows)
    frame["victim_age"] = frame["victim_age"].astype("Int16")
    frame["knife_flag"] = frame["knife_flag"].astype("boolean")
    return frame


@pytest.fixture
def records():
    return make_records([
        ("2019/20", "E22000001", "8N", True, 17, 6),
        ("2019/20", "E22000001", "8N", True, 40, 8),
        ("2019/20", "E22000002", "34B", True, None, 2),
        ("2019/20", "E22000001", "8N", False, 17, 50),   # not knife-enabled
        ("2020/21", "E22000001", "8N", True, 24, 3),
        ("2020/21", "E22000002", "1", True, 25, 1),
        ("2021/22", "E22000001", "8N", False, 30, 1),    # a year with no knife offences
    ])


class TestFinancialYear:
    def test_labels(self):
        dates = pd.Series(pd.to_datetime(["2019-04-01", "2020-03-31", "2000-01-15", "2023-12-01"]))
        assert financial_year(dates).tolist() == ["2019/20", "2019/20", "1999/00", "2023/24"]


class TestResidentPopulation:
    def test_year_rule_and_age_range(self, population):
        years = ["2018/19", "2019/20", "2020/21", "2023/24"]
        pop = resident_population(population, years, ["E22000001"], 0, 24)
        assert pop.to_dict() == {"2018/19": 2500.0, "2019/20": 2500.0, "2020/21": 2750.0, "2023/24": 2750.0}

    def test_force_sums_csps(self, population):
        pop = resident_population(population, ["2019/20"])
        assert pop["2019/20"] == 91 * 150

    def test_unknown_csp_is_an_error(self, population):
        with pytest.raises(DataValidationError, match="no population"):
            resident_population(population, ["2019/20"], ["E22999999"])

    def test_nearest_mid_year_not_the_latest_earlier(self, shipped_years):
        """The one rule of svtools.analysis.population: a year's own mid-year, else the nearest (ties: earlier).
        The old rule here ("latest earlier") took mid-2011 for 2013/14 and mid-2014 for 2017/18."""
        years = ["2012/13", "2013/14", "2014/15", "2016/17", "2017/18", "2019/20", "2025/26"]
        pop = resident_population(shipped_years, years, ["E22000001"])
        assert pop.to_dict() == {"2012/13": 91 * 11.0, "2013/14": 91 * 14.0, "2014/15": 91 * 14.0,
                                 "2016/17": 91 * 14.0, "2017/18": 91 * 19.0, "2019/20": 91 * 19.0,
                                 "2025/26": 91 * 19.0}
        assert pop.attrs["mid_year"] == {"2012/13": 2011, "2013/14": 2014, "2014/15": 2014, "2016/17": 2014,
                                         "2017/18": 2019, "2019/20": 2019, "2025/26": 2019}
        assert [fy for fy, e in pop.attrs["exact"].items() if e] == ["2014/15", "2019/20"]
        young = resident_population(shipped_years, ["2013/14"], ["E22000001"], 0, 24)
        assert young["2013/14"] == 25 * 14.0 and young.attrs["mid_year"] == {"2013/14": 2014}


class TestSuccessMeasures:
    def test_counts_change_and_rates(self, records, population):
        out = success_measures(records, population, "knife_serious_violence")
        t = out.set_index(["cohort", "financial_year"])
        assert t.loc[("all ages", "2019/20"), "offences"] == 16
        assert t.loc[("under 25", "2019/20"), "offences"] == 6  # unknown age counts in all ages only
        assert t.loc[("all ages", "2020/21"), "offences"] == 4
        assert t.loc[("under 25", "2020/21"), "offences"] == 3  # age 24 is under 25, age 25 is not
        assert t.loc[("all ages", "2021/22"), "offences"] == 0  # year kept with zero
        assert t.loc[("all ages", "2020/21"), "change"] == -12
        assert t.loc[("all ages", "2020/21"), "pct_change"] == pytest.approx(-75.0)
        assert t.loc[("under 25", "2021/22"), "pct_change"] == pytest.approx(-100.0)
        # rates: all ages 2019/20 uses mid-2019 residents of both CSPs (91 x 150); 16 events -> Byar's
        n = 91 * 150
        row = t.loc[("all ages", "2019/20")]
        assert row["population"] == n
        assert row["rate_per_1000"] == pytest.approx(16 / n * 1000)
        assert (row["lower"], row["upper"]) == pytest.approx(byars(16, n, 1000))
        # under 25 in 2020/21: 3 events (exact), residents aged 0-24 in mid-2020 (25 x 170)
        row = t.loc[("under 25", "2020/21")]
        assert row["population"] == 25 * 170
        assert (row["lower"], row["upper"]) == pytest.approx(exact(3, 25 * 170, 1000))
        row = t.loc[("all ages", "2021/22")]
        assert row["rate_per_1000"] == 0 and row["lower"] == 0
        assert row["upper"] == pytest.approx(exact(0, 91 * 170, 1000)[1])

    def test_each_years_own_residents_in_rates_and_rate_ratios(self, shipped_years):
        """2013/14 divides by mid-2014 residents (not mid-2011), the baseline 2019/20 by mid-2019, and the rate
        ratio is of those two rates; the table says which estimate each year used."""
        from svtools.analysis.stats import rate_ratio

        recs = make_records([("2019/20", "E22000001", "8N", True, 17, 30), ("2019/20", "E22000001", "8N", True, 40, 20),
                             ("2013/14", "E22000001", "8N", True, 20, 12), ("2013/14", "E22000001", "8N", True, 50, 18)])
        out = success_measures(recs, shipped_years, "knife_serious_violence").set_index(["cohort", "financial_year"])
        row = out.loc[("all ages", "2013/14")]
        assert (row["population"], row["mid_year"], row["exact"]) == (91 * 14.0, 2014, False)
        assert row["rate_per_1000"] == pytest.approx(30 / (91 * 14) * 1000)
        u = out.loc[("under 25", "2013/14")]
        assert (u["population"], u["mid_year"]) == (25 * 14.0, 2014)
        base = out.loc[("all ages", "2019/20")]
        assert (base["population"], base["mid_year"], base["exact"]) == (91 * 19.0, 2019, True)
        want = rate_ratio(30, 50, 91 * 14.0, 91 * 19.0).iloc[0]
        assert row["rate_ratio"] == pytest.approx((30 / (91 * 14)) / (50 / (91 * 19)))
        assert (row["rr_lower"], row["rr_upper"]) == pytest.approx((want["lower"], want["upper"]))
        want_u = rate_ratio(12, 30, 25 * 14.0, 25 * 19.0).iloc[0]
        assert (u["rate_ratio"], u["rr_lower"]) == pytest.approx((want_u["ratio"], want_u["lower"]))
        assert "2013/14 uses mid-2014" in out.attrs["population_note"]
        table = success_table(success_measures(recs, shipped_years, "knife_serious_violence"), latest="2013/14")
        assert table["mid_year"].tolist() == ["2019/20: mid-2019; 2013/14: mid-2014 (nearest)"] * 2
        assert not table["exact"].any()
        assert table["rate_ratio"].tolist() == pytest.approx([row["rate_ratio"], u["rate_ratio"]])

    def test_worked_example_per_100000(self, population):
        """methods.md: 389 events in 100,000 -> 389.0 (351.30-429.65) per 100,000."""
        pop = pd.DataFrame({"csp_code": "E22000001", "year": 2019, "age": [30], "population": [100_000]})
        recs = make_records([("2019/20", "E22000001", "8N", True, 30, 389)])
        out = success_measures(recs, pop, None, per=100_000).set_index("cohort")
        row = out.loc["all ages"]
        assert row["rate_per_100000"] == pytest.approx(389.0)
        assert row["lower"] == pytest.approx(351.30, abs=0.01)
        assert row["upper"] == pytest.approx(429.65, abs=0.01)

    def test_monthly_counts_table_gives_the_same(self, records, population):
        monthly = (records.assign(victim_under_25=(records["victim_age"] <= 24))
                   .groupby(["financial_year", "csp_code", "ho_offence_code", "knife_flag",
                             "victim_under_25"], dropna=False).size().rename("offences").reset_index())
        a = success_measures(records, population, "knife_serious_violence")
        b = success_measures(monthly, population, "knife_serious_violence")
        pd.testing.assert_frame_equal(a, b)

    def test_baseline_zero_gives_nan_percent(self, population):
        recs = make_records([("2019/20", "E22000001", "8N", False, 30, 1),
                             ("2020/21", "E22000001", "1", True, 30, 2)])
        out = success_measures(recs, population, "homicide").set_index(["cohort", "financial_year"])
        assert out.loc[("all ages", "2020/21"), "change"] == 2
        assert np.isnan(out.loc[("all ages", "2020/21"), "pct_change"])

    def test_concatenated_slices_with_repeated_index(self, records, population):
        """CSP slices concatenated without ignore_index: the repeated index must not duplicate rows."""
        a, b = (records[records["csp_code"] == c].reset_index(drop=True) for c in ("E22000001", "E22000002"))
        both = pd.concat([a, b])
        assert not both.index.is_unique
        pd.testing.assert_frame_equal(success_measures(both, population, "knife_serious_violence"),
                                      success_measures(records, population, "knife_serious_violence"))

    def test_single_csp_uses_its_own_residents(self, records, population):
        one = records[records["csp_code"] == "E22000002"]
        out = success_measures(one, population, None).set_index(["cohort", "financial_year"])
        assert out.loc[("all ages", "2019/20"), "population"] == 91 * 50

    def test_empty_records(self, population):
        empty = make_records([("2019/20", "E22000001", "8N", True, 30, 1)]).iloc[:0]
        with pytest.raises(DataValidationError, match="empty"):
            success_measures(empty, population, None)
        out = success_measures(empty, population, None, csp_codes=["E22000001"])
        assert out["offences"].tolist() == [0, 0] and out["financial_year"].tolist() == ["2019/20"] * 2

    def test_financial_years_from_dates(self, population):
        recs = pd.DataFrame({"recorded_date": pd.to_datetime(["2019-05-01", "2020-04-02"]),
                             "csp_code": "E22000001", "ho_offence_code": "8N", "knife_flag": True,
                             "victim_age": pd.array([20, 30], dtype="Int16")})
        out = success_measures(recs, population, None)
        assert sorted(out["financial_year"].unique()) == ["2019/20", "2020/21"]


class TestSuccessTable:
    def test_llr_layout(self):
        """The LLR VRN (2024) table: 864 -> 810 (-54, -6.3%) all ages, 364 -> 316 (-48, -13.2%) under 25."""
        recs = make_records([("2019/20", "E22000001", "8N", True, 20, 364),
                             ("2019/20", "E22000001", "8N", True, 40, 500),
                             ("2023/24", "E22000001", "8N", True, 20, 316),
                             ("2023/24", "E22000001", "8N", True, 40, 494)])
        pop = pd.DataFrame({"csp_code": "E22000001", "year": [2019, 2020], "age": 20, "population": 10_000})
        table = success_table(recs, pop, "knife_serious_violence")
        # the LLR layout first, then the rate ratio with its interval and the words (issue 9), then the
        # mid-year estimates the two rates divide by (no mid-2023 in this table: the nearest, mid-2020)
        assert list(table.columns) == ["measure", "cohort", "2019/20", "2023/24", "change", "pct_change",
                                       "rate_ratio", "rr_lower", "rr_upper", "rr_p_value", "comparison",
                                       "mid_year", "exact"]
        assert table["mid_year"].iloc[0] == "2019/20: mid-2019; 2023/24: mid-2020 (nearest)"
        assert not table["exact"].iloc[0]
        assert table.iloc[0, 2:6].tolist() == [864, 810, -54, -6.3]  # -6.25% rounds half away from zero
        assert table.iloc[1, 2:6].tolist() == [364, 316, -48, -13.2]
        assert table["comparison"].tolist() == ["no clear change", "no clear change"]
        assert table["measure"].iloc[0] == "knife_serious_violence"

    def test_latest_year_choice(self, records, population):
        measures = success_measures(records, population, "knife_serious_violence")
        table = success_table(measures, latest="2020/21")
        assert table.columns[3] == "2020/21" and table.iloc[0, 3] == 4
        with pytest.raises(DataValidationError):
            success_table(measures, latest="2030/31")


@pytest.fixture
def hospital():
    rows = [
        ("E22000001", "2019/20", "0-17", "M", 8, False), ("E22000001", "2019/20", "18-24", "M", 10, False),
        ("E22000001", "2019/20", "25+", "M", 20, False),
        ("E22000001", "2023/24", "0-17", "M", None, True), ("E22000001", "2023/24", "18-24", "M", 9, False),
        ("E22000001", "2023/24", "25+", "M", 15, False),
        ("E22000002", "2019/20", "25+", "F", None, True), ("E22000002", "2023/24", "25+", "F", 12, False),
    ]
    frame = pd.DataFrame(rows, columns=["csp_code", "financial_year", "age_band", "sex", "admissions",
                                        "suppressed"])
    frame["admissions"] = frame["admissions"].astype("Int64")
    return frame


class TestHospitalMeasures:
    def test_suppressed_cells_are_never_zero(self, hospital):
        out = hospital_measures(hospital, csp_codes=["E22000001"]).set_index(["cohort", "financial_year"])
        assert out.loc[("all ages", "2019/20"), "admissions"] == 38
        row = out.loc[("all ages", "2023/24")]
        assert pd.isna(row["admissions"]) and row["suppressed"]
        assert row["admissions_known"] == 24 and row["lower_bound"] == 25 and row["upper_bound"] == 31
        assert row["display"] == "25 to 31"  # the range the source allows, never a bare lower bound
        assert pd.isna(row["change"]) and pd.isna(row["pct_change"])
        assert out.loc[("under 25", "2019/20"), "admissions"] == 18

    def test_force_total_with_suppressed_25_plus_keeps_under_25(self, hospital):
        out = hospital_measures(hospital).set_index(["cohort", "financial_year"])
        assert pd.isna(out.loc[("all ages", "2019/20"), "admissions"])
        assert out.loc[("under 25", "2019/20"), "admissions"] == 18  # the suppressed cell is 25+

    def test_change_when_complete(self, hospital):
        complete = hospital.copy()
        complete.loc[complete["suppressed"], "admissions"] = 5
        complete["suppressed"] = False
        out = hospital_measures(complete, ["E22000001"]).set_index(["cohort", "financial_year"])
        assert out.loc[("all ages", "2023/24"), "change"] == 29 - 38
        assert out.loc[("all ages", "2023/24"), "pct_change"] == pytest.approx(100 * -9 / 38)
        table = success_table(hospital_measures(hospital, ["E22000001"]))
        assert table.loc[0, "2023/24"] == "25 to 31" and table.loc[0, "change"] == ""
        assert table.loc[1, "2019/20"] == "18"

    def test_rates_use_each_years_own_residents(self, hospital):
        """2023/24 with mid-2019 and mid-2024 estimates only: the nearest, mid-2024 (the old rule took mid-2019)."""
        from svtools.analysis.stats import rate_ratio

        pop = pd.DataFrame([(c, y, a, n) for c in ("E22000001", "E22000002") for y, n in ((2019, 10.0), (2024, 20.0))
                            for a in range(91)], columns=["csp_code", "year", "age", "population"])
        complete = hospital.assign(admissions=hospital["admissions"].fillna(5), suppressed=False)
        out = hospital_measures(complete, ["E22000001"], population=pop).set_index(["cohort", "financial_year"])
        row = out.loc[("all ages", "2023/24")]
        assert (row["population"], row["mid_year"], row["exact"]) == (91 * 20.0, 2024, False)
        assert out.loc[("under 25", "2019/20"), "population"] == 25 * 10.0
        want = rate_ratio(29, 38, 91 * 20.0, 91 * 10.0).iloc[0]
        assert (row["rate_ratio"], row["rr_lower"], row["rr_upper"]) == pytest.approx(
            (want["ratio"], want["lower"], want["upper"]))
        table = success_table(out.reset_index())
        assert table["mid_year"].iloc[0] == "2019/20: mid-2019; 2023/24: mid-2024 (nearest)"

    def test_bad_bands(self, hospital):
        bad = hospital.assign(age_band="adults")
        with pytest.raises(DataValidationError, match="age band"):
            hospital_measures(bad)
        straddle = hospital.assign(age_band=hospital["age_band"].replace({"18-24": "18-29"}))
        with pytest.raises(DataValidationError, match="straddles"):
            hospital_measures(straddle)

    def test_missing_year_is_no_data(self, hospital):
        out = hospital_measures(hospital, financial_years=["2019/20", "2020/21"]).set_index(
            ["cohort", "financial_year"])
        assert out.loc[("all ages", "2020/21"), "display"] == "no data"
        assert pd.isna(out.loc[("all ages", "2020/21"), "admissions"])
