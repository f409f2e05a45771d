"""What a warm kernel reads of the large tables, and that reading less gives the same rows (issue 12: peak
memory per worker on the national build).

* ``store.table_rows``: the rows of a shared table whose column is in a set, read with a parquet filter; the
  same frame as filtering the whole table (rows, order, columns, dtypes);
* ``ProfileContext.lsoa`` reads ``lsoa_population`` a force (or an area) at a time, never the whole table.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest

from section_helpers import CSP, DEFINITION

from svtools.ingest import store
from svtools.publish import sections
from svtools.publish.sections import context as C


def _whole_filtered(name: str, dataset: str, column: str, values) -> pd.DataFrame:
    whole = pd.read_parquet(store.dataset_dir(dataset) / f"{name}.parquet")
    return whole[whole[column].isin(list(values))].reset_index(drop=True)


def _force_lsoas(dataset: str, force: str) -> list[str]:
    areas = store.load_table("areas", dataset)
    lsoa = store.load_table("lsoa", dataset)
    csps = set(areas.loc[areas["pfa_code"] == force, "csp_code"])
    return lsoa.loc[lsoa["csp_code"].isin(csps), "lsoa_code"].astype(str).tolist()


def test_table_rows_are_the_whole_table_filtered(demo_data):
    force = store.force_codes("demo")[0]
    codes = _force_lsoas("demo", force)
    assert codes
    got = store.table_rows("lsoa_population", "demo", "lsoa_code", codes)
    want = _whole_filtered("lsoa_population", "demo", "lsoa_code", codes)
    assert len(got) and got.equals(want) and list(got.dtypes) == list(want.dtypes)
    some = codes[::7] + ["E01999999"]  # a subset in another order, and a code the table does not hold
    assert store.table_rows("lsoa_population", "demo", "lsoa_code", some).equals(
        _whole_filtered("lsoa_population", "demo", "lsoa_code", some))
    none = store.table_rows("lsoa_population", "demo", "lsoa_code", [])
    assert none.empty and list(none.columns) == list(want.columns) and list(none.dtypes) == list(want.dtypes)


def test_table_rows_are_read_once_and_again_for_a_new_file(demo_data):
    codes = _force_lsoas("demo", store.force_codes("demo")[0])
    store._read_rows.cache_clear()
    a = store.table_rows("lsoa_population", "demo", "lsoa_code", codes)
    b = store.table_rows("lsoa_population", "demo", "lsoa_code", list(reversed(codes)))  # the same set
    assert a is b and store._read_rows.cache_info().misses == 1
    with pytest.raises(Exception):
        store.table_rows("not_a_table", "demo", "lsoa_code", codes)


def test_table_rows_of_the_national_demo_are_the_whole_table_filtered(monkeypatch):
    """The national synthetic demo (43 forces; when present on this machine): the Met's LSOAs, 0.9M rows of
    6.3M, read with the filter are the rows the whole table holds for them."""
    import os
    from pathlib import Path

    root = Path(os.environ.get("SVTOOLS_NATIONAL_DATA", "/tmp/hF/data"))
    if not (root / "processed" / "demo" / "lsoa_population.parquet").is_file():
        pytest.skip("no national demo data on this machine (SVTOOLS_NATIONAL_DATA)")
    monkeypatch.setenv("SVTOOLS_DATA", str(root))
    codes = _force_lsoas("demo", "E23000001")
    got = store.table_rows("lsoa_population", "demo", "lsoa_code", codes)
    want = _whole_filtered("lsoa_population", "demo", "lsoa_code", codes)
    assert len(got) > 100_000 and got.equals(want)
    store._read_rows.cache_clear()


@pytest.mark.parametrize("young", [False, True])
def test_lsoa_residents_never_read_the_whole_lsoa_population(demo_data, young):
    from svtools.analysis.population import lsoa_residents

    C._force_lsoa_population.cache_clear()
    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    ctx = ctx.young() if young else ctx
    with mock.patch.object(store, "shared_table", wraps=store.shared_table) as shared, \
            mock.patch.object(store, "load_table", wraps=store.load_table) as load:
        lsoa = ctx.lsoa
    read = {c.args[0] for c in shared.call_args_list} | {c.args[0] for c in load.call_args_list}
    assert "lsoa_population" not in read
    mine = lsoa[lsoa["csp_code"].isin(ctx.csp_codes)]
    whole = pd.read_parquet(store.dataset_dir("demo") / "lsoa_population.parquet")
    want = lsoa_residents(whole, ctx.population, mine.set_index(mine["lsoa_code"].astype(str))["csp_code"],
                          ctx.months, *ctx.cohort_ages)
    got = lsoa["lsoa_code"].astype(str).map(want).astype("float64")
    assert np.array_equal(lsoa["population"].to_numpy(), got.to_numpy(), equal_nan=True)


def test_an_area_alone_reads_only_its_own_lsoas(demo_data):
    """When the force-wide shortcut does not apply (a context with residents of its own), the area's LSOAs are
    read on their own: the same numbers as from the whole table."""
    from svtools.analysis.population import lsoa_residents

    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    ctx.__dict__["population"] = ctx.population.assign(population=ctx.population["population"] * 3)
    with mock.patch.object(store, "table_rows", wraps=store.table_rows) as rows:
        lsoa = ctx.lsoa
    mine = lsoa[lsoa["csp_code"].isin(ctx.csp_codes)]
    assert rows.call_count == 1 and set(rows.call_args.args[3]) == set(mine["lsoa_code"].astype(str))
    whole = pd.read_parquet(store.dataset_dir("demo") / "lsoa_population.parquet")
    want = lsoa_residents(whole, ctx.population, mine.set_index(mine["lsoa_code"].astype(str))["csp_code"],
                          ctx.months, 0, None)
    got = lsoa["lsoa_code"].astype(str).map(want).astype("float64")
    assert np.array_equal(lsoa["population"].to_numpy(), got.to_numpy(), equal_nan=True)


def _force_records_whole(dataset, force, definition, start, end, ages) -> pd.DataFrame:
    """The force's records as they were selected before: every CSP's records concatenated, then selected."""
    from svtools.analysis.fields import in_age_range
    from svtools.ingest.definitions import apply_definition, load_definition

    r = pd.concat([store.load_records(c, dataset) for c in store.csp_codes(dataset, force)], ignore_index=True)
    r = r[(r["month"] >= pd.Timestamp(start)) & (r["month"] <= pd.Timestamp(end))]
    r = apply_definition(r, load_definition(definition))
    if ages is not None:
        inside = in_age_range(r, ages[0], ages[1], "victim")
        r = r[(inside == True).fillna(False).to_numpy(bool)]  # noqa: E712
    return r.reset_index(drop=True)


@pytest.mark.parametrize("definition", [DEFINITION, "most_serious_violence"])
@pytest.mark.parametrize("ages", [None, (0, 24), (10, 24)])
def test_force_records_selected_csp_by_csp_are_the_same(demo_data, definition, ages):
    """Each CSP's records are selected as they are read (never the whole force's at once): the same frame
    (rows, order, index, dtypes) as selecting from all of them concatenated."""
    from svtools.publish import tables

    for force in store.force_codes("demo"):
        got = tables._force_records_cached.__wrapped__("demo", force, definition, "2018-04-01", "2025-03-31",
                                                       ages, "test")
        want = _force_records_whole("demo", force, definition, "2018-04-01", "2025-03-31", ages)
        assert len(want) and got.equals(want) and list(got.dtypes) == list(want.dtypes)
        assert got.index.equals(want.index)
