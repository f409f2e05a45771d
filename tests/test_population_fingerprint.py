"""The cube cache's sign of change (svtools.analysis.population._fingerprint) on every residents() call: integer
columns summed as integers (no float copy of the national table per call), float and nullable ones as before.
A change in place to any of the summed columns, whatever its dtype, still builds a new cube."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from svtools.analysis import population as P


def _table(population_dtype: str) -> pd.DataFrame:
    return pd.DataFrame({
        "csp_code": ["E1", "E1", "E2", "E2"],
        "year": np.array([2019, 2020, 2019, 2020], dtype="int64"),
        "age": np.array([0, 10, 0, 10], dtype="int16"),
        "sex": ["F", "M", "F", "M"],
        "population": pd.array([1, 2, 4, 8], dtype=population_dtype),
        "census_base": np.array([2011] * 4, dtype="int16"),
    })


@pytest.mark.parametrize("dtype", ["int64", "float64", "Int64", "Float64"])
def test_the_fingerprint_sums_are_the_column_sums(dtype):
    pop = _table(dtype)
    shape, columns, sums = P._fingerprint(pop)
    assert shape == pop.shape and columns == tuple(pop.columns)
    assert sums == (8078, 20, 15)
    assert isinstance(sums[0], int) and isinstance(sums[1], int)


@pytest.mark.parametrize("dtype", ["int64", "float64", "Int64"])
@pytest.mark.parametrize("column,value", [("population", 1000), ("age", 30), ("year", 2021)])
def test_a_change_in_place_builds_a_new_cube(dtype, column, value):
    pop = _table(dtype)
    first = P._cube(pop)
    assert P._cube(pop) is first
    pop.loc[0, column] = value
    assert P._cube(pop) is not first


def test_a_float_column_with_missing_counts_is_summed_over_the_known_ones():
    pop = _table("float64")
    pop.loc[1, "population"] = np.nan
    assert P._fingerprint(pop)[2][2] == 13.0
