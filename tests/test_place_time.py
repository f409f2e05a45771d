"""Place and time: LSOA counts and rates, top-5% share, SII/RII by deprivation decile, time-of-day tables.

The SII/RII point estimates are checked against an independent weighted least-squares fit with
``numpy.linalg.lstsq`` following the PHEindicatormethods ``phe_sii`` recipe (methods.md §1.6); the simulated
intervals against the analytic standard error of the same linear estimator.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svtools.errors import DataValidationError
from svtools.analysis.place_time import (
    concentration_curve,
    deprivation_gradient,
    lsoa_counts,
    sii,
    time_tables,
    top_share,
)


@pytest.fixture
def lsoa_table():
    return pd.DataFrame({
        "lsoa_code": ["E01000001", "E01000002", "E01000003", "E01000004", "E01000005"],
        "csp_code": ["E22000001"] * 4 + ["E22000002"],
        "imd_decile": pd.array([1, 1, 5, 10, 3], dtype="Int8"),
        "population": [1000, 2000, 1500, 0, 1200],
    })


def recs(codes, csp="E22000001"):
    return pd.DataFrame({"lsoa_code": pd.array(codes, dtype="string"), "csp_code": csp})


class TestLsoaCounts:
    def test_counts_rates_and_zeros(self, lsoa_table):
        out = lsoa_counts(recs(["E01000001"] * 12 + ["E01000003"] * 3 + [None, "E01000005"]), lsoa_table)
        assert out["lsoa_code"].tolist() == ["E01000001", "E01000002", "E01000003", "E01000004"]
        assert out["offences"].tolist() == [12, 0, 3, 0]
        assert out.attrs["unmatched_records"] == 2  # blank LSOA and an LSOA of another CSP
        assert out.loc[0, "rate_per_1000"] == pytest.approx(12.0)
        assert out.loc[1, "rate_per_1000"] == 0 and out.loc[1, "upper"] > 0
        assert math.isnan(out.loc[3, "rate_per_1000"])  # no residents
        per_year = lsoa_counts(recs(["E01000001"] * 12), lsoa_table, years=4)
        assert per_year.loc[0, "rate_per_1000"] == pytest.approx(3.0)

    def test_repeated_index(self, lsoa_table):
        frame = pd.concat([recs(["E01000001"] * 3), recs(["E01000002"] * 2)])
        assert lsoa_counts(frame, lsoa_table)["offences"].tolist() == [3, 2, 0, 0]

    def test_aggregated_input_and_explicit_csps(self, lsoa_table):
        agg = pd.DataFrame({"lsoa_code": ["E01000001", "E01000005"], "offences": [5, 7]})
        out = lsoa_counts(agg, lsoa_table)
        assert len(out) == 5 and out["offences"].sum() == 12
        out = lsoa_counts(agg, lsoa_table, csp_codes=["E22000002"])
        assert out["offences"].tolist() == [7] and out.attrs["unmatched_records"] == 5

    def test_2021_codes_map_to_their_2011_parent(self):
        """E01033769 (2021) has best-fit 2011 parent E01028040 in the ONS lookup."""
        table = pd.DataFrame({"lsoa_code": ["E01028040"], "csp_code": ["E22000252"],
                              "imd_decile": pd.array([3], dtype="Int8"), "population": [1500]})
        out = lsoa_counts(recs(["E01033769", "E01028040"], csp="E22000252"), table)
        assert out["offences"].tolist() == [2] and out.attrs["unmatched_records"] == 0
        unmapped = lsoa_counts(recs(["E01033769"], "E22000252"), table, map_2021=False)
        assert unmapped.attrs["unmatched_records"] == 1

    def test_errors(self, lsoa_table):
        with pytest.raises(DataValidationError, match="lsoa_code"):
            lsoa_counts(pd.DataFrame({"x": [1]}), lsoa_table)
        with pytest.raises(DataValidationError, match="LSOA table lacks"):
            lsoa_counts(recs(["E01000001"]), lsoa_table.drop(columns="imd_decile"))
        with pytest.raises(DataValidationError, match="duplicate"):
            lsoa_counts(recs(["E01000001"]), pd.concat([lsoa_table, lsoa_table]))
        empty = lsoa_counts(recs([]).assign(csp_code=pd.Series(dtype="string")), lsoa_table)
        assert len(empty) == 5 and empty["offences"].sum() == 0


class TestTopShare:
    def test_top_five_percent(self):
        counts = pd.DataFrame({"lsoa_code": [f"E{i:08d}" for i in range(40)],
                               "offences": [50, 30] + [1] * 38, "population": [1000] * 40})
        out = top_share(counts).iloc[0]
        assert out["top_lsoas"] == 2 and out["lsoa_share"] == 0.05  # ceil(0.05 x 40)
        assert out["offence_share"] == pytest.approx(80 / 118)
        assert out["population_share"] == pytest.approx(0.05)
        assert top_share(counts).attrs["top_codes"] == ["E00000000", "E00000001"]
        assert top_share(counts, share=0.01).iloc[0]["top_lsoas"] == 1  # at least one LSOA

    def test_ties_zero_and_errors(self):
        counts = pd.DataFrame({"lsoa_code": ["b", "a", "c"], "offences": [0, 0, 0]})
        out = top_share(counts, share=0.5)
        assert out.attrs["top_codes"] == ["a", "b"] and math.isnan(out.iloc[0]["offence_share"])
        with pytest.raises(DataValidationError):
            top_share(counts.iloc[:0])
        with pytest.raises(ValueError):
            top_share(counts, share=0)

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=80),
           st.floats(min_value=0.01, max_value=1.0))
    def test_shares_are_proportions(self, offences, share):
        codes = [f"L{i:03d}" for i in range(len(offences))]
        counts = pd.DataFrame({"lsoa_code": codes, "offences": offences})
        out = top_share(counts, share=share).iloc[0]
        assert 0 < out["lsoa_share"] <= 1
        if sum(offences):
            # the busiest LSOAs hold at least their share of offences
            assert out["lsoa_share"] - 1e-12 <= out["offence_share"] <= 1
        curve = concentration_curve(counts)
        if sum(offences):
            assert np.all(np.diff(curve["offence_share"]) >= -1e-12) and curve["offence_share"].iloc[-1] == 1
            assert np.interp(out["lsoa_share"], curve["area_share"], curve["offence_share"]) == pytest.approx(
                out["offence_share"])


def phe_sii_by_hand(y, pop):
    a = np.asarray(pop, float) / np.sum(pop)
    b = np.cumsum(a) - a / 2
    X = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    beta, *_ = np.linalg.lstsq(X, np.sqrt(a) * np.asarray(y, float), rcond=None)
    return beta[1], (beta[0] + beta[1]) / beta[0], beta


class TestSII:
    Y = (20.0, 15.0, 12.0, 10.0, 8.0)  # most to least deprived
    POP = (100, 200, 300, 200, 200)

    def test_point_estimates_match_lstsq(self):
        s, r, _ = phe_sii_by_hand(self.Y, self.POP)
        res = sii(self.Y, self.POP)
        assert res["sii"] == pytest.approx(s) and res["rii"] == pytest.approx(r)
        assert res["sii"] < 0 and res["rii"] < 1  # higher in the most deprived quintile
        assert math.isnan(res["sii_lower"])  # no limits given: no interval
        # a perfect line y = 10 + 5 b is recovered exactly
        a = np.array(self.POP) / 1000
        b = np.cumsum(a) - a / 2
        exact = sii(10 + 5 * b, self.POP)
        assert exact["sii"] == pytest.approx(5) and exact["intercept"] == pytest.approx(10)
        assert exact["rii"] == pytest.approx(15 / 10)

    def test_transform_recovers_an_exponential_gradient(self):
        """PHE transform = TRUE: log y = 3 - 1.5 b exactly -> RII = exp(-1.5), SII = exp(1.5) - exp(3)."""
        a = np.array(self.POP) / 1000
        b = np.cumsum(a) - a / 2
        y = np.exp(3 - 1.5 * b)
        res = sii(y, self.POP, y * 0.9, y * 1.1, transform=True, repetitions=1000)
        assert res["rii"] == pytest.approx(math.exp(-1.5)) and res["beta1"] == pytest.approx(-1.5)
        assert res["sii"] == pytest.approx(math.exp(1.5) - math.exp(3))
        assert res["intercept"] == pytest.approx(math.exp(3))
        assert res["rii_lower"] < res["rii"] < res["rii_upper"]
        assert res["sii_lower"] < res["sii"] < res["sii_upper"]
        with pytest.raises(DataValidationError, match="positive"):
            sii([0.0, *y[1:]], self.POP, transform=True)

    def test_simulated_interval_matches_analytic_se(self):
        se = np.array([2.0, 1.5, 1.2, 1.0, 0.9])
        res = sii(self.Y, self.POP, se=se, log_scale=False, repetitions=20_000, seed=3)
        a = np.array(self.POP) / 1000
        b = np.cumsum(a) - a / 2
        X = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
        M = np.linalg.pinv(X) * np.sqrt(a)
        sd = math.sqrt(M[1] ** 2 @ se ** 2)
        assert res["sii_lower"] == pytest.approx(res["sii"] - 1.959964 * sd, rel=0.05)
        assert res["sii_upper"] == pytest.approx(res["sii"] + 1.959964 * sd, rel=0.05)

    def test_limits_on_log_scale_and_seed(self):
        lower = [16.0, 12.0, 10.0, 8.0, 6.0]
        upper = [25.0, 18.5, 14.5, 12.5, 10.5]
        r1 = sii(self.Y, self.POP, lower, upper, seed=1)
        assert r1 == sii(self.Y, self.POP, lower, upper, seed=1)
        assert r1["sii_lower"] < r1["sii"] < r1["sii_upper"]
        assert r1["rii_lower"] < r1["rii"] < r1["rii_upper"]
        # a zero rate still simulates
        r0 = sii([0.0, *self.Y[1:]], self.POP, [0.0, *lower[1:]], upper, seed=1)
        assert np.isfinite(r0["sii_lower"]) and np.isfinite(r0["sii_upper"])

    def test_errors(self):
        with pytest.raises(DataValidationError, match="positive population"):
            sii(self.Y, [0, 1, 1, 1, 1])
        with pytest.raises(DataValidationError):
            sii([1.0], [1])
        with pytest.raises(ValueError, match="1,000"):
            sii(self.Y, self.POP, se=np.ones(5), repetitions=10)


@pytest.fixture
def decile_data():
    rows, recs_ = [], []
    rng = np.random.default_rng(0)
    for d in range(1, 11):
        for k in range(2):
            code = f"E01{d:04d}{k:02d}"
            rows.append((code, "E22000001", d, 1000 + 100 * k))
            recs_ += [code] * int(rng.poisson(60 - 5 * d))
    table = pd.DataFrame(rows, columns=["lsoa_code", "csp_code", "imd_decile", "population"])
    return table, recs(recs_)


class TestDeprivationGradient:
    def test_table_and_indices(self, decile_data):
        table, records = decile_data
        res = deprivation_gradient(records, table, repetitions=2000)
        t = res.table
        assert t["imd_decile"].tolist() == list(range(1, 11))
        assert t["population"].tolist() == [2100] * 10 and t["offences"].sum() == len(records)
        assert t.loc[0, "rate_per_1000"] == pytest.approx(t.loc[0, "offences"] / 2.1)
        s, r, _ = phe_sii_by_hand(t["rate_per_1000"], t["population"])
        assert res.sii == pytest.approx(s) and res.rii == pytest.approx(r)
        assert res.sii < 0 and res.sii_lower < res.sii < res.sii_upper
        assert res.note == "" and len(res.line) == 10
        assert res.summary()["estimate"].tolist() == [res.sii, res.rii]
        logfit = deprivation_gradient(records, table, repetitions=1000, transform=True)
        assert 0 < logfit.rii < 1 and logfit.sii < 0
        assert logfit.line["value"].is_monotonic_decreasing

    def test_missing_deciles(self, decile_data):
        table, records = decile_data
        part = table[table["imd_decile"] > 4]
        res = deprivation_gradient(records, part, repetitions=1000)
        assert "[1, 2, 3, 4]" in res.note and np.isfinite(res.sii)
        few = table[table["imd_decile"] > 7]
        res = deprivation_gradient(records, few, repetitions=1000)
        assert math.isnan(res.sii) and "need 5" in res.note
        assert res.table["population"].tolist()[:7] == [0] * 7


class TestTimeTables:
    def test_counts_and_unknowns(self):
        frame = pd.DataFrame({
            "occurred_at": pd.to_datetime(["2024-07-01 15:30", "2024-07-06 23:10", "2024-07-06 00:00", None,
                                           "2024-12-29 15:05"]),
            "occurred_hour": pd.array([15, 23, None, None, 15], dtype="Int8"),
            "recorded_date": pd.to_datetime(["2024-07-01", "2024-07-07", "2024-07-07", "2024-03-02",
                                             "2025-01-01"]),
        })
        t = time_tables(frame)
        assert t.month.set_index("month_name").loc["July", "offences"] == 3
        assert t.month.set_index("month_name").loc["March", "offences"] == 1  # recorded-date fallback
        assert t.day_of_week.set_index("day_name")["offences"].to_dict() == {
            "Monday": 1, "Tuesday": 0, "Wednesday": 0, "Thursday": 0, "Friday": 0, "Saturday": 2, "Sunday": 1}
        assert t.hour.set_index("hour").loc[15, "offences"] == 2 and t.hour["offences"].sum() == 3
        assert t.heatmap.shape == (7, 24) and t.heatmap.loc["Saturday", 23] == 1
        assert t.heatmap.to_numpy().sum() == 3 and t.counts["offences"].sum() == 3
        assert len(t.counts) == 12 * 7 * 24
        assert t.unknown["records"].tolist() == [1, 1, 1, 0]

    def test_without_hour_column_or_fallback(self):
        frame = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-07-01 15:30", None])})
        t = time_tables(frame, month_fallback=None)
        assert t.hour["offences"].sum() == 1 and t.unknown["records"].tolist() == [1, 0, 0, 1]
        with pytest.raises(DataValidationError):
            time_tables(pd.DataFrame({"x": [1]}))
        empty = time_tables(frame.iloc[:0])
        assert empty.heatmap.to_numpy().sum() == 0
