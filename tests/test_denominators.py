"""Right denominators (issue 9): each financial year's own mid-year, age-specific residents for under-25 and 10-24
rates, unknown ages reported with a bound, Census 2021 ethnicity denominators, and the pages using them.

Hand-worked figures use tiny tables; the page checks use the session's small demo dataset, copied as
``demo_denoms`` with its area tables rewritten by :func:`svtools.ingest.area_tables.write_area_tables` (the record
ingest still writes the 2019/2020 tables until it is pointed at that function), and the original ``demo`` to
check that a dataset ingested before issue 9 still works (nearest mid-year, flagged).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from svtools.analysis.cohorts import ethnicity_disproportionality, under25_cohort
from svtools.analysis.population import ethnicity_residents, person_years
from svtools.publish.sections.context import gated_rate_bounds, gated_rates

Z = sps.norm.ppf(0.975)
HARTLEPOOL = "E22000027"
DEFINITION = "knife_serious_violence"


@pytest.fixture
def population() -> pd.DataFrame:
    """One CSP; residents at each age and sex: 10 (mid-2019), 11 (2020), 12 (2021), 13 (2023)."""
    rows = [pd.DataFrame({"csp_code": "A", "year": y, "age": np.arange(91), "sex": sex, "population": n,
                          "census_base": 2021 if y >= 2021 else 2011})
            for y, n in ((2019, 10), (2020, 11), (2021, 12), (2023, 13)) for sex in ("F", "M")]
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- the under-25 cohort
def test_under25_cohort_matches_each_year_and_bounds_unknown_ages(population):
    recs = pd.DataFrame({
        "csp_code": "A",
        "financial_year": ["2019/20"] * 5 + ["2021/22"] * 4 + ["2022/23"] * 2,
        "victim_id": ["v1", "v2", "v3", "v4", None, "v5", "v6", "v7", "v8", "v9", "v10"],
        "victim_age": pd.array([12, 30, None, 20, None, 5, None, None, 70, 15, 16], dtype="Int16"),
    })
    out = under25_cohort(recs, population, min_age=0).set_index("financial_year")
    y = out.loc["2019/20"]
    # the record without a victim (possession) is neither known nor unknown
    assert (y["offences"], y["known_age"], y["unknown_age"]) == (2, 3, 1)
    assert y["unknown_share"] == pytest.approx(1 / 4)
    assert y["population"] == 25 * 20 and y["population_year"] == 2019 and y["population_exact"]
    assert y["rate_per_1000"] == pytest.approx(2 / 500 * 1000)
    assert y["rate_upper_bound"] == pytest.approx(3 / 500 * 1000)
    assert y["rate_upper_bound_upper"] == pytest.approx(sps.chi2.ppf(0.975, 8) / 2 / 500 * 1000)
    assert y["lower"] <= y["rate_per_1000"] <= y["rate_upper_bound"] <= y["rate_upper_bound_upper"]
    z = out.loc["2021/22"]
    assert z["population"] == 25 * 24 and z["population_year"] == 2021  # Census 2021-based, its own year
    assert (z["offences"], z["unknown_age"]) == (1, 2) and z["rate_upper_bound"] == pytest.approx(3 / 600 * 1000)
    n = out.loc["2022/23"]  # no mid-2022 in this table: the nearest (2021, tie with 2023 -> earlier), flagged
    assert n["population_year"] == 2021 and not n["population_exact"]
    assert n["unknown_share"] == 0 and n["rate_upper_bound"] == pytest.approx(n["rate_per_1000"])
    total = out.loc["all years"]
    assert total["population"] == 500 + 600 + 600 and pd.isna(total["population_year"])
    assert not total["population_exact"] and total["unknown_age"] == 3
    assert "2022/23 uses mid-2021" in out.attrs["population_note"]
    young = under25_cohort(recs, population).set_index("financial_year")  # 10-24: residents aged 10-24
    assert young.loc["2019/20", "population"] == 15 * 20 and young.loc["2019/20", "offences"] == 2


def test_unknown_only_year_stays_unknown(population):
    recs = pd.DataFrame({"csp_code": "A", "financial_year": ["2020/21"] * 2, "victim_id": ["a", "b"],
                         "victim_age": pd.array([None, None], dtype="Int16")})
    row = under25_cohort(recs, population).iloc[0]
    assert pd.isna(row["offences"]) and np.isnan(row["rate_per_1000"]) and np.isnan(row["rate_upper_bound"])
    assert row["unknown_share"] == 1 and row["population_year"] == 2020


# --------------------------------------------------------------------------- ethnicity
@pytest.fixture
def census() -> pd.DataFrame:
    groups = [("White: English", "White", 700, 100), ("White: Irish", "White", 100, 0),
              ("Black: African", "Black", 50, 50), ("Asian: Indian", "Asian", 100, 0), ("Mixed: other", "Mixed", 30, 0),
              ("Other: Arab", "Other", 20, 0)]
    return pd.DataFrame([(csp, g, e, a if csp == "A" else b) for csp in ("A", "B") for g, e, a, b in groups],
                        columns=["csp_code", "ethnic_group", "ethnicity", "population"])


def test_ethnicity_rate_ratios_use_census_residents_of_the_area(census):
    recs = pd.DataFrame({"victim_ethnicity": ["White"] * 40 + ["Black"] * 5 + ["Asian"] * 5,
                         "victim_id": range(50)})
    out = ethnicity_disproportionality(recs, census, csp_codes=["A"]).set_index("ethnicity")
    # area A: 800 White, 50 Black, 100 Asian of 1,000
    assert out.loc["Black", "rate_ratio"] == pytest.approx((5 / 50) / (40 / 800))
    assert out.loc["Black", "population"] == pytest.approx(50)
    assert out.loc["Black", "rate_per_1000"] == pytest.approx(5 / 50 * 1000)
    assert "Census 2021" in out.attrs["denominator"]
    both = ethnicity_disproportionality(recs, census, csp_codes=["A", "B"]).set_index("ethnicity")
    assert both.loc["Black", "population_share"] == pytest.approx(100 / 1150)
    assert ethnicity_residents(census, ["B"]).to_dict() == {"Asian": 0, "Black": 50, "Mixed": 0, "Other": 0,
                                                           "White": 100}


# --------------------------------------------------------------------------- rate helpers of the pages
def test_gated_rates_align_years_by_label_and_hide_hidden_counts():
    counts = pd.Series([10.0, np.nan, 4.0], index=["2019/20", "2020/21", "2021/22"])
    pop = pd.Series({"2021/22": 2000.0, "2019/20": 1000.0, "2020/21": 1500.0})  # another order
    r = gated_rates(counts, pop)
    assert r.loc["2019/20", "rate"] == pytest.approx(10.0) and r.loc["2021/22", "rate"] == pytest.approx(2.0)
    assert np.isnan(r.loc["2020/21", "rate"])
    with pytest.raises(ValueError):
        gated_rates(counts, [1.0, 2.0])
    b = gated_rate_bounds(counts, pd.Series([2.0, 1.0, np.nan], index=counts.index), pop)
    assert b.loc["2019/20", "rate_upper_bound"] == pytest.approx(12.0)
    assert b.loc["2019/20", "upper_bound_upper_95_ci"] > b.loc["2019/20", "upper_95_ci"]
    assert np.isnan(b.loc["2021/22", "rate_upper_bound"]) and np.isnan(b.loc["2020/21", "rate_upper_bound"])


# --------------------------------------------------------------------------- the pages
def _quiet():
    import IPython.display

    return mock.patch.object(IPython.display, "display", lambda *a, **k: None)


def test_context_residents_use_each_years_own_estimate(denoms):
    from svtools.ingest import reference as ref
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31")
    r = ctx.residents().set_index("financial_year")
    lad = ref.population_lad()
    own = lad[lad["lad_code"] == "E06000001"].groupby("mid_year")["population"].sum()
    for fy in r.index:
        assert r.loc[fy, "exact"] and r.loc[fy, "population"] == own[int(fy[:4])]
    assert ctx.person_years() == pytest.approx(sum(own[int(fy[:4])] for fy in r.index))  # 7 whole years
    young = ctx.young()
    assert young.cohort_ages == (10, 24) and young.residents_label == "residents aged 10 to 24"
    assert young.person_years() < ctx.person_years() / 4
    assert len(ctx.monthly_residents()) == len(ctx.months)


def test_neighbourhood_residents_are_the_cohorts_and_sum_to_the_csp(denoms):
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31")
    young = ctx.young()
    mine = ctx.lsoa["csp_code"] == HARTLEPOOL
    assert ctx.lsoa.loc[mine, "population"].sum() == pytest.approx(ctx.person_years() / ctx.years)
    assert young.lsoa.loc[mine, "population"].sum() == pytest.approx(young.person_years() / young.years)
    ratio = (young.lsoa.loc[mine, "population"] / ctx.lsoa.loc[mine, "population"]).median()
    assert 0.1 < ratio < 0.3  # residents aged 10-24, not all ages
    assert ctx.lsoa.loc[~mine, "population"].isna().all()
    assert "population_2020" in ctx.lsoa.columns


def test_young_rates_section(denoms):
    from svtools.publish.sections.cohort import young_rates
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31")
    with _quiet():
        res = young_rates(ctx)
    assert res.available and res.values["nearest"] == []
    assert res.values["mid_years"] == {fy: int(fy[:4]) for fy in res.values["mid_years"]}
    counts = res.data["Under 25"]
    unknown = res.data["Age not recorded"]
    for fy, rate in res.values["rates"].items():
        pop = res.values["population"][fy]
        assert pop == ctx.residents([fy], 0, 24)["population"].iloc[0]
        if rate is None:
            assert pd.isna(counts[fy])
        else:
            assert rate == pytest.approx(float(counts[fy]) / pop * 1000)
            bound = res.values["upper_bounds"][fy]
            assert (bound is None) == pd.isna(unknown[fy])
            if bound is not None:
                assert bound == pytest.approx((float(counts[fy]) + float(unknown[fy])) / pop * 1000)
    assert "aged 10 to 24" in res.message


def test_a_dataset_ingested_before_issue_9_still_works(old_demo):
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, old_demo, DEFINITION, "2025-03-31")
    r = ctx.residents()
    assert set(r["mid_year"]) <= {2019, 2020}
    assert not r.set_index("financial_year").loc["2024/25", "exact"]  # nearest (mid-2020), flagged
    young = ctx.young()
    mine = young.lsoa["csp_code"] == HARTLEPOOL
    assert young.lsoa.loc[mine, "population"].sum() == pytest.approx(young.person_years() / young.years)
    eth = ctx.ethnicity  # no ethnicity.parquet: built from the shipped Census tables
    assert eth.loc[eth["csp_code"] == HARTLEPOOL, "population"].sum() == 92_338
    assert person_years(ctx.population, ctx.months, [HARTLEPOOL]) == pytest.approx(ctx.person_years())
