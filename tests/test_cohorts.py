"""Cohorts: age-sex tables, the under-25 cohort, ethnicity rate ratios, repeat victims and harm concentration.

Expected values are worked by hand from the formulas in the tests (Wilson interval, log-scale rate-ratio
interval, Gini as the mean absolute difference), plus recovery of the demo generator's realised repeat
victimisation figures (``truth.json``) from its CSV.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from svtools.analysis.cohorts import (
    age_bands,
    age_sex_table,
    ethnicity_disproportionality,
    harm_concentration,
    pyramid_data,
    repeat_victims,
    under25_cohort,
)
from svtools.errors import DataValidationError

Z = sps.norm.ppf(0.975)


def wilson(x, n):
    centre, half = 2 * x + Z ** 2, Z * math.sqrt(Z ** 2 + 4 * x * (1 - x / n))
    return (centre - half) / (2 * (n + Z ** 2)), (centre + half) / (2 * (n + Z ** 2))


@pytest.fixture
def victims():
    return pd.DataFrame({
        "victim_id": ["a", "a", "b", "c", None, "d", "e", "f"],
        "victim_age": pd.array([12, 13, 17, 30, None, None, 4, 86], dtype="Int16"),
        "victim_sex": pd.Categorical(["M", "M", "F", "M", None, "F", None, "X"], categories=["F", "M", "X"]),
        "recorded_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2020-02-01", "2020-03-01", "2020-03-01",
                                         "2020-04-01", "2020-05-01", "2020-06-01"]),
    })


class TestAgeSex:
    def test_bands(self):
        assert age_bands(5)[1][:3] == ["0-4", "5-9", "10-14"] and age_bands(5)[1][-1] == "85+"
        assert age_bands([0, 10, 18, 25])[1] == ["0-9", "10-17", "18-24", "25+"]
        assert age_bands([0, 1, 5])[1] == ["0", "1-4", "5+"]
        with pytest.raises(ValueError):
            age_bands([5, 10])
        with pytest.raises(ValueError):
            age_bands([0, 10, 10])

    def test_table_counts_every_band_and_unknowns(self, victims):
        t = age_sex_table(victims)
        assert len(t) == 19 * 4  # 18 bands + Unknown, 4 sexes, zeros included
        c = t.set_index(["age_band", "sex"])["count"]
        assert c[("10-14", "M")] == 2 and c[("15-19", "F")] == 1 and c[("30-34", "M")] == 1
        assert c[("Unknown", "F")] == 1 and c[("0-4", "Unknown")] == 1 and c[("85+", "X")] == 1
        assert c.sum() == 7 and t.attrs["no_person"] == 1  # the row without a victim is left out
        assert t["share"].sum() == pytest.approx(1)

    def test_people_use_their_first_record(self, victims):
        t = age_sex_table(victims, bands=[0, 13, 25], unit="people").set_index(["age_band", "sex"])["count"]
        assert t[("0-12", "M")] == 1 and t[("13-24", "M")] == 0  # a: 12 at first record, 13 later
        assert t.sum() == 6

    def test_pyramid(self, victims):
        p = pyramid_data(victims, bands=[0, 10, 18])
        assert p["age_band"].astype(str).tolist() == ["0-9", "10-17", "18+"]
        assert p["male"].tolist() == [0, 2, 1] and p["female"].tolist() == [0, 1, 0]
        assert p["male_pct"].sum() + p["female_pct"].sum() == pytest.approx(100)
        assert p.attrs["excluded"] == 3  # unknown sex, unknown age, sex X

    def test_suspects_and_errors(self, victims):
        sus = victims.rename(columns=lambda c: c.replace("victim", "suspect"))
        assert age_sex_table(sus, role="suspect")["count"].sum() == 7
        with pytest.raises(DataValidationError):
            age_sex_table(sus)  # no victim columns
        with pytest.raises(ValueError):
            age_sex_table(victims, role="witness")
        bad = victims.assign(victim_sex=["M", "M", "F", "male", None, "F", None, "X"])
        with pytest.raises(DataValidationError, match="sex"):
            age_sex_table(bad)

    def test_empty(self, victims):
        t = age_sex_table(victims.iloc[:0])
        assert t["count"].sum() == 0 and t["share"].isna().all()


@pytest.fixture
def population():
    ages = np.arange(91)
    return pd.concat([pd.DataFrame({"csp_code": "E22000001", "year": y, "age": ages, "population": n})
                      for y, n in ((2019, 100), (2020, 120))], ignore_index=True)


class TestUnder25:
    def test_counts_shares_and_rates(self, population):
        recs = pd.DataFrame({
            "csp_code": "E22000001",
            "financial_year": ["2019/20"] * 6 + ["2020/21"] * 3,
            "victim_age": pd.array([9, 10, 24, 25, None, 15, 12, 40, 50], dtype="Int16"),
        })
        out = under25_cohort(recs, population).set_index("financial_year")
        row = out.loc["2019/20"]
        assert row["age_group"] == "10-24"
        assert row["offences"] == 3 and row["known_age"] == 5
        assert (row["share"], row["share_lower"], row["share_upper"]) == pytest.approx((0.6, *wilson(3, 5)))
        assert row["population"] == 15 * 100  # residents aged 10-24, mid-2019
        assert row["rate_per_1000"] == pytest.approx(3 / 1500 * 1000)
        lo, hi = sps.chi2.ppf(0.025, 6) / 2, sps.chi2.ppf(0.975, 8) / 2
        assert (row["lower"], row["upper"]) == pytest.approx((lo / 1.5, hi / 1.5))
        assert out.loc["2020/21", "population"] == 15 * 120
        total = out.loc["all years"]
        assert total["offences"] == 4 and total["known_age"] == 8 and total["population"] == 1500 + 1800
        all_u25 = under25_cohort(recs, population, min_age=0).set_index("financial_year")
        assert all_u25.loc["2019/20", "offences"] == 4 and all_u25.loc["2019/20", "population"] == 2500

    def test_edge_cases(self, population):
        recs = pd.DataFrame({"csp_code": "E22000001", "financial_year": ["2019/20"],
                             "victim_age": pd.array([None], dtype="Int16")})
        out = under25_cohort(recs, population)
        # no victim age known: the count is unknown (NA), never 0, and so is its rate
        assert out["offences"].isna().all() and out["share"].isna().all()
        assert out["rate_per_1000"].isna().all() and (out["known_age"] == 0).all()
        with pytest.raises(DataValidationError, match="empty"):
            under25_cohort(recs.iloc[:0], population)
        with pytest.raises(ValueError):
            under25_cohort(recs, population, min_age=30)


class TestEthnicity:
    def test_rate_ratios_by_hand(self):
        groups = ["White"] * 50 + ["Black"] * 10 + ["Asian"] * 5 + ["Other"] * 2 + [None] * 3
        recs = pd.DataFrame({"victim_ethnicity": pd.Categorical(groups), "victim_id": range(70)})
        shares = {"White": 80, "Black": 5, "Asian": 10, "Mixed": 3, "Other": 2}  # counts are normalised
        out = ethnicity_disproportionality(recs, shares, total_population=100_000).set_index("ethnicity")
        rr = (10 / 0.05) / (50 / 0.8)
        se = math.sqrt(1 / 10 + 1 / 50)
        b = out.loc["Black"]
        assert b["rate_ratio"] == pytest.approx(3.2) == pytest.approx(rr)
        assert (b["lower"], b["upper"]) == pytest.approx((rr * math.exp(-Z * se), rr * math.exp(Z * se)))
        assert b["share"] == pytest.approx(10 / 67)
        assert b["rate_per_1000"] == pytest.approx(10 / 5000 * 1000)
        assert out.loc["White", "rate_ratio"] == 1 and math.isnan(out.loc["White", "lower"])
        assert out.loc["Mixed", "rate_ratio"] == 0 and math.isnan(out.loc["Mixed", "upper"])
        assert out.loc["Not known", "victims"] == 3
        assert out["population_share"].sum() == pytest.approx(1)

    def test_frame_input_and_errors(self):
        recs = pd.DataFrame({"victim_ethnicity": ["White", "Black", "Black"]})
        frame = pd.DataFrame({"ethnicity": ["White", "Black"], "population": [900, 100]})
        out = ethnicity_disproportionality(recs, frame).set_index("ethnicity")
        assert out.loc["Black", "rate_ratio"] == pytest.approx((2 / 0.1) / (1 / 0.9))
        with pytest.raises(DataValidationError, match="no population share"):
            ethnicity_disproportionality(recs, {"White": 1})
        with pytest.raises(DataValidationError, match="reference"):
            ethnicity_disproportionality(recs, {"Black": 1, "Asian": 1}, reference="White")
        with pytest.raises(DataValidationError, match="positive"):
            ethnicity_disproportionality(recs, {"White": 1, "Black": 0})
        none = ethnicity_disproportionality(recs.iloc[:1], frame).set_index("ethnicity")
        assert none.loc["Black", "rate_ratio"] == 0


class TestRepeatVictims:
    def test_tiny_frame(self):
        recs = pd.DataFrame({"victim_id": ["a", "a", "a", "b", "c", "c", "d", None, None]})
        res = repeat_victims(recs, top_band=3)
        s = res.summary.iloc[0]
        assert s["people"] == 4 and s["repeat_people"] == 2 and s["repeat_share"] == 0.5
        assert (s["repeat_share_lower"], s["repeat_share_upper"]) == pytest.approx(wilson(2, 4))
        assert s["offences"] == 7 and s["repeat_offences"] == 5
        assert s["repeat_offence_share"] == pytest.approx(5 / 7)
        assert s["records_without_id"] == 2
        d = res.distribution
        assert d["offences_per_person"].tolist() == ["1", "2", "3+"]
        assert d["people"].tolist() == [2, 1, 1] and d["offences"].tolist() == [2, 2, 3]
        assert d["people_share"].sum() == pytest.approx(1) and d["offence_share"].sum() == pytest.approx(1)

    def test_empty_and_missing_column(self):
        res = repeat_victims(pd.DataFrame({"victim_id": pd.Series([], dtype="string")}))
        assert res.summary.iloc[0]["people"] == 0 and math.isnan(res.summary.iloc[0]["repeat_share"])
        with pytest.raises(DataValidationError):
            repeat_victims(pd.DataFrame({"x": [1]}))


class TestHarmConcentration:
    def test_known_distribution(self):
        """Harms 1, 1, 1, 1, 6: Gini = 2·Σ i·h(i) / (n·Σh) − (n+1)/n = 80/50 − 6/5 = 0.4; top 20% hold 60%."""
        recs = pd.DataFrame({"victim_id": ["a", "b", "c", "d", "e", "e"], "w": [1.0, 1, 1, 1, 2, 4]})
        res = harm_concentration(recs, weights="w", top=0.2)
        assert res.gini == pytest.approx(0.4)
        assert res.top_harm_share == pytest.approx(0.6) and res.top_people == 1
        assert res.share_of_top(0.1) == pytest.approx(0.3)  # half of the top person
        assert res.people_for_share(0.6) == 1 and res.people_for_share(0.61) == 2
        assert res.lorenz.iloc[0].tolist() == [0, 0] and res.lorenz.iloc[-1].tolist() == [1, 1]
        assert res.per_person.iloc[0].tolist() == ["e", 2, 6.0]
        assert "top 20% of people (1) experienced 60.0%" in res.sentence()

    def test_equal_harm_and_counts(self):
        recs = pd.DataFrame({"victim_id": list("abcd")})
        res = harm_concentration(recs, weights="count")
        assert res.gini == pytest.approx(0) and res.share_of_top(0.25) == pytest.approx(0.25)

    def test_css_weights_from_column_and_reference(self):
        recs = pd.DataFrame({"victim_id": ["a", "b", "c"], "ho_offence_code": ["1", "8N", "105A"],
                             "severity_weight": [np.nan, 100.0, np.nan]})
        from svtools.ingest.reference import css_weights

        w = css_weights().set_index("ho_offence_code")["severity_weight"]
        res = harm_concentration(recs)
        assert res.total_harm == pytest.approx(w["1"] + 100 + w["105A"])
        assert res.per_person.iloc[0]["person"] == "a"  # homicide carries the most harm
        with pytest.raises(DataValidationError, match="no severity weight"):
            harm_concentration(recs.assign(ho_offence_code=["1", "8N", "ZZZ"]))

    def test_errors(self):
        with pytest.raises(DataValidationError, match="no records with a person"):
            harm_concentration(pd.DataFrame({"victim_id": [None, None]}), weights="count")
        with pytest.raises(DataValidationError, match="total harm is 0"):
            harm_concentration(pd.DataFrame({"victim_id": ["a"], "w": [0.0]}), weights="w")
        with pytest.raises(ValueError):
            harm_concentration(pd.DataFrame({"victim_id": ["a"]}), weights="count", top=1.5)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), min_size=1, max_size=60),
           st.floats(min_value=0.01, max_value=0.99))
    def test_properties(self, harms, top):
        if sum(harms) <= 0:
            return
        recs = pd.DataFrame({"victim_id": [f"p{i}" for i in range(len(harms))], "w": harms})
        res = harm_concentration(recs, weights="w", top=top)
        x, y = res.lorenz["people_share"].to_numpy(), res.lorenz["harm_share"].to_numpy()
        assert 0 <= res.gini <= 1 - 1 / len(harms) + 1e-9
        assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= -1e-12)  # monotone
        assert np.all(y <= x + 1e-9)  # below the line of equality
        assert y[-1] == 1.0
        assert top - 1e-9 <= res.top_harm_share <= 1 + 1e-9  # the top share holds at least its share
        h = np.asarray(harms)
        mad = np.abs(h[:, None] - h[None, :]).sum() / (2 * len(h) ** 2 * h.mean())
        assert res.gini == pytest.approx(mad, abs=1e-9)


class TestDemoRecovery:
    def test_realised_repeat_figures(self, tmp_path_factory):
        """The generator's realised repeat-victim figures (truth.json) are recovered from its CSV."""
        from svtools.ingest.demo import generate_demo_data, load_truth

        out = tmp_path_factory.mktemp("demo_cohorts")
        generate_demo_data(out, forces=["cleveland"], scale=0.05, progress=False)
        truth = load_truth(out)["victims"]["repeat"]["realised"]
        raw = pd.read_csv(out / "cleveland_crime_extract.csv", usecols=["Victim URN"], dtype=str)
        recs = raw.rename(columns={"Victim URN": "victim_id"})
        res = repeat_victims(recs)
        assert res.summary.iloc[0]["people"] == truth["victims"]
        assert res.summary.iloc[0]["offences"] == truth["victim_rows"]
        share = res.summary.iloc[0]["repeat_share"]
        assert share == pytest.approx(truth["share_of_victims_with_2plus"], abs=1e-6)
        conc = harm_concentration(recs, weights="count")
        assert conc.top_harm_share == pytest.approx(truth["top_5pct_share"], abs=0.01)
