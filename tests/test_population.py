"""Denominators: the ONS local-authority readers, the LAD-to-CSP bridge, and svtools.analysis.population.

Spot figures come from ``../shared/data/real/SOURCES.md`` §5 (Hartlepool 92,590 at mid-2014, 93,836 at mid-2020,
92,571 at mid-2021, 95,366 at mid-2023; England and Wales 57,408,654 at mid-2014 and 60,854,727 at mid-2023) and
§5a (Hartlepool's 19 ethnic-group counts sum to 92,338). Everything else is worked by hand from tiny tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from svtools.analysis import population as P
from svtools.errors import DataValidationError
from svtools.ingest import reference as ref
from svtools.ingest.area_tables import (
    csp_ethnicity,
    csp_population_by_year,
    lad_csp_weights,
    lsoa_population_base,
    write_area_tables,
)

HARTLEPOOL = "E22000027"
CUMBRIA_CSPS = {"Allerdale", "Carlisle", "Copeland", "Barrow-in-Furness", "Eden", "South Lakeland"}


@pytest.fixture(scope="module")
def all_csps() -> pd.DataFrame:
    return csp_population_by_year()


def _names() -> pd.Series:
    lk = ref.lad24_csp_pfa()
    return lk.drop_duplicates("csp_code").set_index("csp_code")["csp_name"]


# --------------------------------------------------------------------------- readers
def test_lad_readers_spot_figures():
    lad = ref.population_lad()
    assert sorted(lad["mid_year"].unique()) == [2011, *range(2014, 2025)]
    ew = lad.groupby("mid_year")["population"].sum()
    assert ew[2014] == 57_408_654 and ew[2023] == 60_854_727
    h = lad[lad["lad_code"] == "E06000001"].groupby("mid_year")["population"].sum()
    assert (h[2014], h[2020], h[2021], h[2023]) == (92_590, 93_836, 92_571, 95_366)
    assert set(lad.loc[lad["mid_year"] == 2024, "sex"]) == {"P"}
    assert set(lad.loc[lad["mid_year"] != 2024, "sex"]) == {"F", "M"}
    assert lad["age"].min() == 0 and lad["age"].max() == 90
    base = lad.groupby("mid_year")["census_base"].first()
    assert base[2020] == 2011 and base[2021] == 2021 and base[2011] == 2011
    # each year on its own boundaries: the Cumbria districts to mid-2021, Cumberland from mid-2022
    codes = lad.groupby("mid_year")["lad_code"].agg(set)
    assert "E07000026" in codes[2021] and "E06000063" not in codes[2021] and "E06000063" in codes[2022]
    with pytest.raises(ValueError, match="2012"):
        ref.population_lad([2012])


def test_lad_code_history_reaches_a_2024_lad_for_every_code():
    hist = ref.lad_code_history().set_index("lad_code")["lad24_code"]
    lad24 = set(ref.lad24_csp_pfa()["lad24_code"])
    assert hist.notna().all() and set(hist) <= lad24
    assert hist["E07000026"] == "E06000063"  # Allerdale -> Cumberland (2023)
    assert hist["E07000004"] == "E06000060"  # Aylesbury Vale -> Buckinghamshire (2020)
    assert hist["E06000028"] == "E06000058"  # Bournemouth -> BCP (2019)
    assert hist["E08000038"] == "E08000016"  # a later Barnsley code comes back to the 2024 LAD
    for y, rows in ref.population_lad().groupby("mid_year"):
        assert rows["lad_code"].isin(hist.index).all(), y


def test_ethnicity_readers():
    eth = ref.ethnicity_lad21()
    assert eth["ethnic_group"].nunique() == 19 and set(eth["ethnicity"]) == {"Asian", "Black", "Mixed", "White",
                                                                              "Other"}
    h = eth[eth["lad21_code"] == "E06000001"]
    assert h["population"].sum() == 92_338 and len(h) == 19
    assert not eth["ethnic_group"].str.contains("number|percent").any()
    lsoa = ref.ethnicity_lsoa21()
    assert abs(lsoa["population"].sum() - eth["population"].sum()) <= 5  # the two Census tables agree


# --------------------------------------------------------------------------- the bridge
def test_every_year_bridges_to_csps_without_losing_anyone(all_csps):
    lad = ref.population_lad()
    assert all_csps.groupby("year")["population"].sum().to_dict() == lad.groupby("mid_year")[
        "population"].sum().to_dict()
    assert all_csps["csp_code"].nunique() == ref.lad24_csp_pfa()["csp_code"].nunique() == 314
    # every CSP has every year, and each year's rows are F and M (mid-2024: persons)
    n = all_csps.groupby(["csp_code", "year"]).size()
    assert set(n.xs(2024, level="year")) == {91} and set(n.drop(2024, level="year")) == {182}


def test_single_lad_csp_is_its_lad(all_csps):
    h = all_csps[all_csps["csp_code"] == HARTLEPOOL].groupby("year")["population"].sum()
    lad = ref.population_lad()
    own = lad[lad["lad_code"] == "E06000001"].groupby("mid_year")["population"].sum()
    assert h.to_dict() == own.to_dict()


def test_csp_of_two_lads_sums_them(all_csps):
    lad = ref.population_lad()
    cwm = lad[lad["lad_code"].isin(["W06000016", "W06000024"])].groupby("mid_year")["population"].sum()
    code = _names().index[_names() == "Cwm Taf"][0]
    got = all_csps[all_csps["csp_code"] == code].groupby("year")["population"].sum()
    assert got.to_dict() == cwm.to_dict()


def test_cumbria_old_districts_then_split_of_the_new_councils(all_csps):
    names = _names()
    cum = all_csps[all_csps["csp_code"].map(names).isin(CUMBRIA_CSPS)]
    by = cum.groupby([cum["csp_code"].map(names), "year"])["population"].sum()
    lad = ref.population_lad()
    # to mid-2021 each Cumbria CSP is exactly its own district
    allerdale = lad[lad["lad_code"] == "E07000026"].groupby("mid_year")["population"].sum()
    for y in (2014, 2020, 2021):
        assert by[("Allerdale", y)] == allerdale[y]
    # from mid-2022 Cumberland is split by its LSOAs' mid-2020 shares, and the parts sum to it exactly
    cumberland = lad[lad["lad_code"] == "E06000063"].groupby("mid_year")["population"].sum()
    for y in (2022, 2023, 2024):
        assert sum(by[(c, y)] for c in ("Allerdale", "Carlisle", "Copeland")) == cumberland[y]
    # the split keeps the districts' shares: Allerdale's share of Cumberland moves by < 0.5 points 2021 -> 2022
    share = {y: by[("Allerdale", y)] / sum(by[(c, y)] for c in ("Allerdale", "Carlisle", "Copeland"))
             for y in (2021, 2022)}
    assert abs(share[2022] - share[2021]) < 0.005
    w = lad_csp_weights(pd.DataFrame({"lad_code": ["E06000063"], "lad_name": ["Cumberland"]}), 2020)
    assert set(w["csp_code"].map(names)) == {"Allerdale", "Carlisle", "Copeland"}
    assert w.groupby("age")["weight"].sum().to_numpy() == pytest.approx(np.ones(91))


def test_bcp_and_christchurch(all_csps):
    """Christchurch (E07000048) was a Dorset district to 2019 and is now in BCP, but its CSP is Dorset; the
    BCP council is split between the Bournemouth, Poole and Dorset CSPs from mid-2019."""
    names = _names()
    w = lad_csp_weights(pd.DataFrame({"lad_code": ["E07000048"], "lad_name": ["Christchurch"]}), 2019)
    assert set(w["csp_code"].map(names)) == {"Dorset"} and (w["weight"] == 1).all()
    w = lad_csp_weights(pd.DataFrame({"lad_code": ["E06000058"], "lad_name": ["BCP"]}), 2020)
    assert set(w["csp_code"].map(names)) == {"Bournemouth", "Poole", "Dorset"}
    lad = ref.population_lad()
    bcp = lad[lad["lad_code"] == "E06000058"].groupby("mid_year")["population"].sum()
    dorset = lad[lad["lad_code"] == "E06000059"].groupby("mid_year")["population"].sum()
    got = all_csps[all_csps["csp_code"].map(names).isin(["Bournemouth", "Poole", "Dorset"])]
    assert got[got["year"] == 2020]["population"].sum() == bcp[2020] + dorset[2020]


def test_unknown_lad_code_is_refused():
    with pytest.raises(DataValidationError, match="no lookup"):
        lad_csp_weights(pd.DataFrame({"lad_code": ["E07999999"], "lad_name": ["Nowhere"]}))


def test_ethnicity_by_csp_keeps_every_resident():
    eth = csp_ethnicity()
    assert eth["population"].sum() == ref.ethnicity_lad21()["population"].sum()
    assert eth["csp_code"].nunique() == 314
    h = eth[eth["csp_code"] == HARTLEPOOL]
    assert h["population"].sum() == 92_338 and h["ethnic_group"].nunique() == 19
    names = _names()
    bucks = eth[eth["csp_code"].map(names).isin(["Aylesbury Vale", "Chiltern", "South Bucks", "Wycombe"])]
    lad = ref.ethnicity_lad21()
    assert bucks["population"].sum() == lad.loc[lad["lad21_code"] == "E06000060", "population"].sum()
    assert bucks.groupby("csp_code")["population"].sum().min() > 50_000


def test_write_area_tables(tmp_path):
    codes = write_area_tables([HARTLEPOOL, "E22000029"], tmp_path)
    assert codes == [HARTLEPOOL, "E22000029"]
    pop = pd.read_parquet(tmp_path / "population.parquet")
    assert list(pop.columns) == ["csp_code", "year", "age", "sex", "population", "census_base"]
    assert sorted(pop["year"].unique()) == [2011, *range(2014, 2025)]
    areas = pd.read_parquet(tmp_path / "areas.parquet")
    row = areas.set_index("csp_code").loc[HARTLEPOOL]
    assert row["population_year"] == 2024 and row["population"] == 98_180
    lsoa = pd.read_parquet(tmp_path / "lsoa.parquet")
    lp = pd.read_parquet(tmp_path / "lsoa_population.parquet")
    assert set(lp["year"]) == {2019, 2020} and set(lp["lsoa_code"]) == set(lsoa["lsoa_code"])
    assert lp[lp["year"] == 2020].groupby("lsoa_code")["population"].sum().reindex(
        lsoa["lsoa_code"]).to_numpy().tolist() == lsoa["population"].tolist()
    eth = pd.read_parquet(tmp_path / "ethnicity.parquet")
    assert set(eth["csp_code"]) == set(codes) and list(eth.columns) == ["csp_code", "ethnic_group", "ethnicity",
                                                                       "population"]


# --------------------------------------------------------------------------- svtools.analysis.population
@pytest.fixture
def tiny() -> pd.DataFrame:
    """Two CSPs, mid-2019, 2020 and 2022; 10 residents of each sex at every age in 2019, 11 in 2020, 12 in 2022."""
    rows = []
    for csp, k in (("A", 1), ("B", 2)):
        for y, n in ((2019, 10), (2020, 11), (2022, 12)):
            for sex in ("F", "M"):
                rows.append(pd.DataFrame({"csp_code": csp, "year": y, "age": np.arange(91), "sex": sex,
                                          "population": n * k, "census_base": 2021 if y >= 2021 else 2011}))
    return pd.concat(rows, ignore_index=True)


def test_mid_year_rule():
    assert P.mid_year_for("2019/20", [2019, 2020]) == (2019, True)
    assert P.mid_year_for("2021/22", [2020, 2022]) == (2020, False)  # tie: the earlier
    assert P.mid_year_for("2013/14", [2011, 2014]) == (2014, False)
    assert P.mid_year_for("2025/26", [2011, 2024]) == (2024, False)
    with pytest.raises(DataValidationError):
        P.mid_year_for("2019", [2019])


def test_residents_by_year_age_and_area(tiny):
    r = P.residents(tiny, ["2019/20", "2020/21", "2021/22", "2022/23"], ["A"], 10, 24)
    assert r["population"].tolist() == [15 * 20, 15 * 22, 15 * 22, 15 * 24]
    assert r["mid_year"].tolist() == [2019, 2020, 2020, 2022]
    assert r["exact"].tolist() == [True, True, False, True]
    assert r["census_base"].tolist() == [2011, 2011, 2011, 2021]
    force = P.residents_series(tiny, ["2019/20"], ["A", "B"])
    assert force["2019/20"] == 91 * 20 * 3
    assert P.residents(tiny, ["2019/20"], ["A"], sex="F")["population"].iloc[0] == 910
    assert P.residents(tiny, ["2019/20"], ["A"], 25)["population"].iloc[0] == 66 * 20
    with pytest.raises(DataValidationError, match="no population"):
        P.residents(tiny, ["2019/20"], ["Z"])
    note = P.year_note(r)
    assert "2021/22 uses mid-2020" in note and "rebasing" in note


def test_person_years_and_monthly_offset(tiny):
    months = pd.date_range("2019-10-01", "2020-09-01", freq="MS")  # 6 months of 2019/20, 6 of 2020/21
    m = P.monthly_residents(tiny, months, ["A"], 0, 24)
    assert m.iloc[0] == 25 * 20 and m.iloc[-1] == 25 * 22 and len(m) == 12
    assert P.person_years(tiny, months, ["A"], 0, 24) == pytest.approx((6 * 500 + 6 * 550) / 12)


def test_person_years_of_every_csp_at_once(tiny):
    """The funnel's denominators: each CSP's person-years over a window spanning two financial years."""
    months = pd.date_range("2019-10-01", "2020-09-01", freq="MS")
    py = P.person_years_by_csp(tiny, months)
    for csp in ("A", "B"):
        assert py[csp] == pytest.approx(P.person_years(tiny, months, [csp]))
    assert py.attrs["mid_years"] == [2019, 2020] and py.attrs["exact"]
    later = P.person_years_by_csp(tiny, pd.date_range("2023-04-01", "2024-03-01", freq="MS"), 10, 24)
    assert later["A"] == pytest.approx(15 * 24) and not later.attrs["exact"]  # nearest: mid-2022


def test_old_population_table_without_sex_still_works():
    old = pd.DataFrame({"csp_code": "A", "year": 2020, "age": np.arange(91), "population": 5})
    r = P.residents(old, ["2023/24"], ["A"], 0, 24)
    assert r["population"].iloc[0] == 125 and not r["exact"].iloc[0] and r["census_base"].isna().all()
    with pytest.raises(DataValidationError, match="sex"):
        P.residents(old, ["2020/21"], sex="F")


def test_lsoa_residents_scale_to_the_year():
    # CSP A: two LSOAs with 1 and 3 residents at each age in 2020; the CSP has 8 a year at each age in 2022
    base = pd.DataFrame({"lsoa_code": ["L1"] * 91 + ["L2"] * 91, "year": 2020, "age": list(range(91)) * 2,
                         "population": [1] * 91 + [3] * 91})
    pop = pd.DataFrame({"csp_code": "A", "year": np.repeat([2020, 2022], 91), "age": list(range(91)) * 2,
                        "population": [4] * 91 + [8] * 91})
    months = pd.date_range("2022-04-01", "2023-03-01", freq="MS")
    r = P.lsoa_residents(base, pop, {"L1": "A", "L2": "A"}, months, 10, 24)
    assert r["L1"] == pytest.approx(15 * 2) and r["L2"] == pytest.approx(15 * 6)
    both = pd.date_range("2020-04-01", "2023-03-01", freq="MS")  # 2020/21 (x1), 2021/22 (nearest 2020), 2022/23
    r = P.lsoa_residents(base, pop, {"L1": "A", "L2": "A"}, both, 0, 0)
    assert r["L1"] == pytest.approx((1 + 1 + 2) / 3)


def test_ethnicity_residents():
    eth = pd.DataFrame({"csp_code": ["A", "A", "B", "B"], "ethnic_group": ["W1", "B1", "W1", "B1"],
                        "ethnicity": ["White", "Black", "White", "Black"], "population": [90, 10, 80, 20]})
    assert P.ethnicity_residents(eth, ["A", "B"]).to_dict() == {"Black": 30, "White": 170}
    assert P.ethnicity_residents(eth, ["A"], detailed=True).to_dict() == {"B1": 10, "W1": 90}
    with pytest.raises(DataValidationError):
        P.ethnicity_residents(eth, ["C"])


def test_real_tables_through_the_analysis_functions(all_csps):
    r = P.residents(all_csps, ["2014/15", "2020/21", "2021/22", "2023/24"], [HARTLEPOOL])
    assert r["population"].tolist() == [92_590, 93_836, 92_571, 95_366]
    assert lsoa_population_base(["E01011954"]).groupby("year")["population"].sum().gt(0).all()


def _lsoa_residents_by_text(lsoa_population, population, lsoa_csp, months, min_age=0, max_age=None):
    """The text-keyed lsoa_residents (before its codes became numbers): the reference of the test below."""
    csp_of = pd.Series(lsoa_csp).astype(str)
    csp_of.index = csp_of.index.astype(str)
    base = lsoa_population[lsoa_population["lsoa_code"].astype(str).isin(csp_of.index)]
    age = base["age"].astype("int64")
    keep = age >= int(min_age)
    if max_age is not None:
        keep &= age <= int(max_age)
    base = base[keep.to_numpy()]
    base = pd.DataFrame({"lsoa_code": base["lsoa_code"].astype(str).to_numpy(),
                         "year": base["year"].astype("int64").to_numpy(),
                         "age": base["age"].astype("int64").to_numpy(),
                         "population": base["population"].astype("float64").to_numpy()})
    base["csp_code"] = base["lsoa_code"].map(csp_of).to_numpy()
    idx = pd.DatetimeIndex(months)
    fys = pd.Series(P._fy_of_month(idx)).value_counts(sort=False)
    pop = population[population["csp_code"].astype(str).isin(sorted(set(base["csp_code"])))]
    cpop = pop.groupby([pop["csp_code"].astype(str), pop["year"].astype("int64"), pop["age"].astype("int64")]
                       )["population"].sum().astype("float64")
    csp_years = sorted(set(cpop.index.get_level_values(1)))
    lsoa_years = sorted(set(base["year"]))
    sums = base.groupby(["csp_code", "year", "age"])["population"].sum()
    total = pd.Series(0.0, index=pd.Index(sorted(set(base["lsoa_code"])), name="lsoa_code"))
    for fy, n_months in fys.items():
        y, _ = P.mid_year_for(str(fy), csp_years)
        ly = min(lsoa_years, key=lambda a: (abs(a - y), a))
        b = base[base["year"] == ly]
        at = pd.MultiIndex.from_arrays([b["csp_code"], b["age"]])
        target = cpop.xs(y, level=1).reindex(at).to_numpy()
        denom = sums.xs(ly, level=1).reindex(at).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(denom > 0, target / denom, 0.0)
        scaled = pd.Series(b["population"].to_numpy() * np.nan_to_num(factor), index=b["lsoa_code"].to_numpy())
        total = total.add(scaled.groupby(level=0).sum() * (n_months / len(idx)), fill_value=0.0)
    total.name = "population"
    return total


@pytest.mark.parametrize("codes_as", ["str", "object", "category"])
def test_lsoa_residents_by_number_is_the_text_keyed_sum_bit_for_bit(codes_as):
    rng = np.random.default_rng(12)
    n_lsoa = 60
    lsoas = [f"E01{k:06d}" for k in rng.permutation(n_lsoa)]  # not in text order
    rows = pd.DataFrame({"lsoa_code": np.repeat(lsoas, 2 * 91), "year": np.tile(np.repeat([2020, 2019], 91), n_lsoa),
                         "age": np.tile(np.arange(91, dtype="int16"), 2 * n_lsoa),
                         "population": rng.random(n_lsoa * 2 * 91) * 40})  # fractions: sums depend on their order
    rows = rows.sample(frac=1.0, random_state=3).reset_index(drop=True)  # rows of an LSOA not together
    rows = rows.drop(index=rows.index[:400])  # some ages missing for some LSOAs
    rows["lsoa_code"] = rows["lsoa_code"].astype(codes_as)
    csp_of = {code: ("B" if k % 3 else "A") for k, code in enumerate(lsoas[:-5])}  # 5 LSOAs in no CSP
    csp_of[lsoas[0]] = "C"  # a CSP without residents of its own: its LSOAs get 0
    pop = pd.DataFrame({"csp_code": np.repeat(["A", "B"], 3 * 91), "year": np.tile(np.repeat([2019, 2020, 2022], 91), 2),
                        "age": np.tile(np.arange(91), 6), "population": rng.integers(100, 900, 6 * 91)})
    pop = pop.drop(index=[5, 400])  # a CSP age without residents
    for months in (pd.date_range("2018-04-01", "2025-03-01", freq="MS"), pd.date_range("2021-01-01", "2021-02-01", freq="MS")):
        for lo, hi in ((0, None), (0, 24), (10, 24), (25, None)):
            got = P.lsoa_residents(rows, pop, csp_of, months, lo, hi)
            want = _lsoa_residents_by_text(rows, pop, csp_of, months, lo, hi)
            assert got.index.equals(want.index) and got.index.dtype == want.index.dtype
            assert got.index.name == "lsoa_code" and got.name == "population" and got.dtype == "float64"
            assert got.to_numpy().tobytes() == want.to_numpy().tobytes(), (months[0], lo, hi)
