"""The cached CSP x year x age x sex sums behind svtools.analysis.population.residents (issue 12 item 2).

A page asks for residents about a dozen times; each call used to filter and group the whole table. The cube is
built once per table and must give the same numbers as filtering the rows: checked by hand on a tiny table and
against the row route on a table with the awkward cases (rows out of order, a CSP without a year, missing
counts, a census base that differs between CSPs in a year, int16 ages).
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from svtools.analysis import population as P
from svtools.errors import DataValidationError


def _tiny() -> pd.DataFrame:
    """Two CSPs, mid-2019 and mid-2020, ages 0, 10 and 30, two sexes; every count a different power of two."""
    rows = []
    k = 0
    for code in ("E1", "E2"):
        for year in (2019, 2020):
            for age in (0, 10, 30):
                for sex in ("F", "M"):
                    rows.append((code, year, age, sex, 2**k, 2011))
                    k += 1
    return pd.DataFrame(rows, columns=["csp_code", "year", "age", "sex", "population", "census_base"])


def test_sums_worked_by_hand():
    pop = _tiny()
    # E1 2019: ages 0, 10, 30 x F, M are 2^0 .. 2^5; E1 2020: 2^6 .. 2^11; E2 2019: 2^12 .. 2^17
    by_year, base = P._by_year(pop, ["E1"], 0, None, None)
    assert by_year.to_dict() == {2019: 63.0, 2020: 4032.0}
    assert base == {2019: 2011, 2020: 2011}
    by_year, _ = P._by_year(pop, ["E1"], 10, 24, "M")  # age 10, male: 2^3 in 2019, 2^9 in 2020
    assert by_year.to_dict() == {2019: 8.0, 2020: 512.0}
    by_year, _ = P._by_year(pop, ["E1", "E2"], 30, None, "F")  # 2^4 + 2^16, 2^10 + 2^22
    assert by_year.to_dict() == {2019: 16.0 + 65536.0, 2020: 1024.0 + 4194304.0}
    table = P.residents(pop, ["2019/20", "2020/21", "2021/22"], ["E2"], 0, 24)
    assert table["population"].tolist() == [2.0**12 + 2**13 + 2**14 + 2**15, 2.0**18 + 2**19 + 2**20 + 2**21,
                                            2.0**18 + 2**19 + 2**20 + 2**21]
    assert table["mid_year"].tolist() == [2019, 2020, 2020]
    assert table["exact"].tolist() == [True, True, False]


def _awkward(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for code in ("E22000001", "E22000002", "E22000003", "W15000001"):
        for year in (2011, 2014, 2019, 2020, 2021, 2024):
            if code == "E22000003" and year == 2014:
                continue  # a CSP without a year
            sexes = ("P",) if year == 2024 else ("F", "M")
            for age in range(0, 91, 3):
                for sex in sexes:
                    base = 2021 if year >= 2021 else 2011
                    if code == "W15000001" and year == 2019:
                        base = 2001  # differs from the other CSPs: "first row" decides
                    rows.append((code, year, age, sex, int(rng.integers(0, 3000)), base))
    pop = pd.DataFrame(rows, columns=["csp_code", "year", "age", "sex", "population", "census_base"])
    pop = pop.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # rows out of order
    pop["age"] = pop["age"].astype("int16")
    pop["population"] = pop["population"].astype("float64")
    pop.loc[pop.index[::97], "population"] = np.nan  # missing counts count as 0, as a group sum does
    return pop


@pytest.mark.parametrize("codes", [None, ["E22000001"], ["E22000003"], ["W15000001", "E22000002"],
                                   ["E22000001", "E22000001"], ["W15000001", "E22000003", "E22000001"]])
@pytest.mark.parametrize("ages", [(0, None), (0, 24), (10, 24), (25, None), (90, 90), (95, None)])
@pytest.mark.parametrize("sex", [None, "F", "M", "P", "X"])
def test_cube_equals_filtering_the_rows(codes, ages, sex):
    pop = _awkward()
    fast, fast_base = P._by_year(pop, codes, *ages, sex)
    slow, slow_base = P._by_year_table(pop, codes, *ages, sex)
    pd.testing.assert_series_equal(fast, slow)
    assert fast_base == slow_base


def test_residents_of_every_kind_equal_the_row_route(monkeypatch):
    pop = _awkward(seed=11)
    fys = ["2012/13", "2019/20", "2020/21", "2023/24", "2025/26"]
    queries = [dict(csp_codes=None), dict(csp_codes=["E22000002"], min_age=0, max_age=24),
               dict(csp_codes=["E22000003", "W15000001"], min_age=10, max_age=24, sex="F")]
    fast = [P.residents(pop, fys, **q) for q in queries]
    monkeypatch.setattr(P, "_by_year", P._by_year_table)
    slow = [P.residents(pop, fys, **q) for q in queries]
    for a, b in zip(fast, slow):
        pd.testing.assert_frame_equal(a, b)
        assert a.attrs == b.attrs


def test_the_cube_is_built_once_per_table_and_rebuilt_when_the_table_changes():
    pop = _tiny()
    first = P._cube(pop)
    assert P._cube(pop) is first
    P._by_year(pop, ["E1"], 0, None, None)
    assert P._cube(pop) is first
    pop.loc[0, "population"] = 1000  # E1 2019 age 0 F: 1 -> 1000
    assert P._cube(pop) is not first
    assert P._by_year(pop, ["E1"], 0, None, None)[0].to_dict() == {2019: 63.0 - 1 + 1000, 2020: 4032.0}
    other = pop.copy()
    assert P._cube(other) is not P._cube(pop)


def test_the_cache_lets_go_of_a_table():
    pop = _tiny()
    P._cube(pop)
    key = id(pop)
    assert key in P._CUBES
    del pop
    gc.collect()
    assert key not in P._CUBES


def test_errors_are_the_same_as_before():
    pop = _tiny()
    with pytest.raises(DataValidationError, match="no population for these CSP"):
        P._by_year(pop, ["E1", "E9"], 0, None, None)
    with pytest.raises(DataValidationError, match="no sex column"):
        P._by_year(pop.drop(columns="sex"), ["E1"], 0, None, "F")
    with pytest.raises(DataValidationError, match="needs"):
        P._by_year(pop.drop(columns="age"), ["E1"], 0, None, None)
    no_base = pop.assign(census_base=np.nan)
    with pytest.raises(ValueError):  # a year without a census base: the row route's own error
        P._by_year(no_base, ["E1"], 0, None, None)
    # without a census_base column there is simply no base
    assert P._by_year(pop.drop(columns="census_base"), ["E2"], 0, None, None)[1] == {}
