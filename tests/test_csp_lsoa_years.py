"""context._csp_lsoa_years: the LSOA mid-years each CSP holds, from numeric codes, as the text-keyed group did."""
import numpy as np
import pandas as pd
import pytest

from svtools.publish.sections.context import _csp_lsoa_years


def _by_text(base, csp_of, lo, hi):
    age = base["age"].astype("int64")
    keep = (age >= lo) & ((age <= hi) if hi is not None else True)
    held = base[keep.to_numpy()]
    by = held.groupby(held["lsoa_code"].astype(str).map(csp_of).to_numpy())["year"].agg(
        lambda y: frozenset(y.astype("int64")))
    return set(by), by.nunique()


@pytest.mark.parametrize("codes_as", ["str", "object", "category"])
def test_the_same_sets_as_the_text_keyed_group(codes_as):
    rng = np.random.default_rng(5)
    lsoas = [f"E01{k:06d}" for k in range(40)]
    base = pd.DataFrame({"lsoa_code": rng.choice(lsoas + ["W01000001"], 3000),
                         "year": rng.choice([2019, 2020], 3000), "age": rng.integers(0, 91, 3000).astype("int16"),
                         "population": rng.integers(0, 50, 3000)})
    base.loc[base["lsoa_code"] == "E01000003", "year"] = 2020  # one LSOA with one mid-year only
    base.loc[(base["lsoa_code"] == "E01000007") & (base["age"] < 30), "year"] = 2019  # young ages: one year
    base["lsoa_code"] = base["lsoa_code"].astype(codes_as)
    csp_of = pd.Series({c: ("A" if k == 3 else "B" if k < 20 else "C") for k, c in enumerate(lsoas)})
    for lo, hi in ((0, None), (0, 24), (10, 24), (25, None), (95, None)):
        want, n = _by_text(base, csp_of, lo, hi)
        got = _csp_lsoa_years(base, csp_of, lo, hi)
        assert got == want and len(got) == n
        assert len(got) == (0 if lo >= 95 else 2)  # CSP A holds mid-2020 only: the force shortcut is off
