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


# =========================================================================== monthly_counts read in part
def _whole_monthly(dataset: str) -> pd.DataFrame:
    return pd.read_parquet(store.dataset_dir(dataset) / "monthly_counts.parquet")


_READ_TABLE = store._read_table


def _no_whole_monthly(path, key):
    """``store._read_table`` that refuses the whole ``monthly_counts`` (every other table is read)."""
    assert not str(path).endswith("monthly_counts.parquet"), "the whole monthly_counts table was read"
    return _READ_TABLE(path, key)


def test_table_where_is_the_whole_table_masked(demo_data):
    """``store.table_where``: the rows meeting every condition (period, a set of codes, one value), the columns
    asked for: the same frame as masking the whole table (rows, order, columns, dtypes), a fresh index."""
    whole = _whole_monthly("demo")
    start, end = pd.Timestamp("2019-04-01"), pd.Timestamp("2024-03-31")
    codes = sorted(set(whole["ho_offence_code"].dropna().astype(str)))[::3] + ["no such code"]
    force = store.force_codes("demo")[0]
    cases = [
        ([], None, np.ones(len(whole), bool)),
        ([("month", ">=", start), ("month", "<=", end)], None, (whole["month"] >= start) & (whole["month"] <= end)),
        ([("month", ">", start), ("month", "<", end), ("ho_offence_code", "in", codes)], None,
         (whole["month"] > start) & (whole["month"] < end) & whole["ho_offence_code"].isin(codes)),
        ([("pfa_code", "==", force), ("ho_offence_code", "in", set(codes))], ["csp_code", "month", "offences"],
         (whole["pfa_code"] == force) & whole["ho_offence_code"].isin(codes)),
        ([("ho_offence_code", "in", [])], ["offences"], np.zeros(len(whole), bool)),
    ]
    for where, columns, mask in cases:
        got = store.table_where("monthly_counts", "demo", where, columns)
        want = whole[np.asarray(mask, bool)]
        want = (want if columns is None else want[columns]).reset_index(drop=True)
        assert got.equals(want) and list(got.dtypes) == list(want.dtypes), where
    with pytest.raises(Exception, match="unknown condition"):
        store.table_where("monthly_counts", "demo", [("month", "~", start)])


def _monthly_before(dataset: str, definition: str, start: str, end: str) -> pd.DataFrame:
    """``tables._monthly`` as it was: the whole table, its period, then the definition."""
    from svtools.publish import tables

    t = _whole_monthly(dataset)
    t = t[(t["month"] >= pd.Timestamp(start)) & (t["month"] <= pd.Timestamp(end))]
    return tables._select_counts(t, definition).reset_index(drop=True)


def _record_definitions() -> list[str]:
    from svtools.ingest.definitions import list_definitions

    return list_definitions("records")


@pytest.mark.parametrize("period", [("2018-04-01", "2025-03-31"), ("2020-01-01", "2022-06-30")])
def test_monthly_of_a_definition_is_read_in_part_and_the_same(demo_data, period):
    """``tables._monthly`` reads only the period's rows of the definition's codes, never the whole table, and
    gives the same frame (rows, order, dtypes) for every shipped definition of records."""
    from svtools.publish import tables

    for definition in _record_definitions():
        tables._monthly.cache_clear()
        with mock.patch.object(store, "_read_table", side_effect=_no_whole_monthly):
            try:
                got = tables._monthly("demo", definition, *period, "test")
            except Exception as exc:  # a definition the counts cannot select (it needs record fields)
                with pytest.raises(type(exc)):
                    _monthly_before("demo", definition, *period)
                continue
        want = _monthly_before("demo", definition, *period)
        assert got.equals(want) and list(got.dtypes) == list(want.dtypes), definition
    tables._monthly.cache_clear()


@pytest.mark.parametrize("codes", ["missing", "absent"])
def test_monthly_of_a_table_without_codes_reads_crime_types(demo_data, tmp_path, monkeypatch, codes):
    """When the period has no offence code at all (every code missing, or no such column), the rows are not
    narrowed by code: the crime types decide, as before."""
    from svtools.publish import tables

    whole = _whole_monthly("demo")
    folder = tmp_path / "data" / "processed" / "nocodes"
    folder.mkdir(parents=True)
    for f in store.dataset_dir("demo").glob("*.json"):
        (folder / f.name).write_bytes(f.read_bytes())
    crime = np.where(np.arange(len(whole)) % 3 == 0, tables.POLICE_UK_VIOLENCE[0], "Burglary")
    t = whole.assign(ho_offence_code=pd.Series([None] * len(whole), dtype="str"), crime_type=crime)
    (t if codes == "missing" else t.drop(columns="ho_offence_code")).to_parquet(
        folder / "monthly_counts.parquet", index=False)
    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path / "data"))
    assert (tables._candidate_codes("nocodes", DEFINITION) is None) == (codes == "absent")
    got = tables._monthly.__wrapped__("nocodes", DEFINITION, "2018-04-01", "2025-03-31", "test")
    want = _monthly_before("nocodes", DEFINITION, "2018-04-01", "2025-03-31")
    assert len(got) == (crime == tables.POLICE_UK_VIOLENCE[0]).sum() and got.equals(want)


def test_codes_family_reads_only_its_codes(demo_data):
    """An indicator's family of offence codes reads those codes' rows of the period (once for every force),
    never the whole table; the family publishes the same cells as one built from the whole table."""
    from svtools.publish import indicators, tables

    codes = ("34A", "34B")
    force = store.force_codes("demo")[0]
    indicators._codes_rows.cache_clear()
    indicators._codes_family.cache_clear()
    with mock.patch.object(store, "_read_table", side_effect=_no_whole_monthly):
        fam = indicators.codes_family("demo", force, "robbery_test", codes, "2018-04-01", "2025-03-31")
    rows = indicators._codes_rows("demo", codes, "2018-04-01", "2025-03-31", tables._digest("demo"))
    whole = _whole_monthly("demo")
    want = whole[(whole["month"] >= pd.Timestamp("2018-04-01")) & (whole["month"] <= pd.Timestamp("2025-03-31"))
                 & whole["ho_offence_code"].astype(str).isin(codes)][["csp_code", "month", "offences"]]
    assert rows.equals(want.reset_index(drop=True))
    m = want[want["csp_code"].astype(str).isin(store.csp_codes("demo", force))]
    g = m.groupby(["csp_code", "month"], observed=True)["offences"].sum()
    cube = fam.cube.cube
    areas, periods = list(cube.dim("area_code").base), list(cube.dim("period").base)
    want_truth = np.zeros((len(areas), len(periods)), dtype=np.int64)
    for (csp, month), n in g.items():
        want_truth[areas.index(str(csp)), periods.index(tables.month_label(month))] += int(n)
    assert g.sum() > 0 and np.array_equal(np.asarray(cube.truth).reshape(want_truth.shape), want_truth)
    indicators._codes_family.cache_clear()


def test_monthly_of_the_national_demo_is_the_same(monkeypatch):
    """The national synthetic demo (when present on this machine): both shipped page definitions."""
    import os
    from pathlib import Path

    from svtools.publish import tables

    root = Path(os.environ.get("SVTOOLS_NATIONAL_DATA", "/tmp/hF/data"))
    if not (root / "processed" / "demo" / "monthly_counts.parquet").is_file():
        pytest.skip("no national demo data on this machine (SVTOOLS_NATIONAL_DATA)")
    monkeypatch.setenv("SVTOOLS_DATA", str(root))
    for definition in (DEFINITION, "most_serious_violence"):
        got = tables._monthly.__wrapped__("demo", definition, "2018-04-01", "2025-03-31", "test")
        assert len(got) > 10_000 and got.equals(_monthly_before("demo", definition, "2018-04-01", "2025-03-31"))


# =========================================================================== the national context's raw tables
def test_national_figures_do_not_keep_the_raw_tables():
    """The Home Office and ONS tables read for the force overview's national context are not kept by a warm
    kernel once the (cached) figures are worked out; the figures are the same whether they were kept or not,
    and a reader something else filled first stays filled."""
    from svtools.ingest import home_office_prc as ho
    from svtools.ingest import reference as ref
    from svtools.publish.sections import benchmarks as B

    readers = (ho.read_prc_quarterly, ho.read_rolling_year, ref.population_lad_2011, ref.population_lad_mye2,
               ref.population_lad_2024)

    def fresh():
        for f in (B.national_figures, B.rolling_figures, B._force_residents, ho.pfa_population, *readers):
            f.cache_clear()

    fresh()
    figures, ods, _ = B.national_figures()
    rolling, _ = B.rolling_figures()
    assert all(f.cache_info().currsize == 0 for f in readers)
    fresh()
    ho.read_rolling_year()  # filled by someone else first: kept
    kept = [ho.read_prc_quarterly(fy) for fy in ho.PRC_FILES]
    assert kept
    again, ods2, _ = B.national_figures.__wrapped__()
    rolling2, _ = B.rolling_figures.__wrapped__()
    assert ho.read_prc_quarterly.cache_info().currsize == len(ho.PRC_FILES)
    assert ho.read_rolling_year.cache_info().currsize == 1
    pd.testing.assert_frame_equal(figures, again)
    pd.testing.assert_frame_equal(rolling, rolling2)
    assert {k: repr(v) for k, v in ods.items()} == {k: repr(v) for k, v in ods2.items()}
    fresh()


def test_table_rows_read_a_batch_at_a_time_are_the_whole_table_filtered(demo_data, tmp_path, monkeypatch):
    """Several row groups (sorted, so some are skipped by their statistics, and one unsorted), batches smaller
    than a group, missing values: the same frame as filtering the whole table."""
    whole = pd.read_parquet(store.dataset_dir("demo") / "lsoa_population.parquet")
    folder = tmp_path / "data" / "processed" / "rows"
    folder.mkdir(parents=True)
    for f in store.dataset_dir("demo").glob("*.json"):
        (folder / f.name).write_bytes(f.read_bytes())
    t = whole.sort_values("lsoa_code", kind="stable").reset_index(drop=True)
    t = pd.concat([t, whole.sample(frac=0.2, random_state=1)], ignore_index=True)
    t.loc[::97, "lsoa_code"] = None
    t.to_parquet(folder / "lsoa_population.parquet", index=False, row_group_size=max(1, len(t) // 9))
    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(store, "ROWS_BATCH", 1000)
    codes = sorted(set(whole["lsoa_code"].astype(str)))
    for values in (codes[:5], codes[-3:] + ["E01999999"], codes[::11], []):
        got = store.table_rows("lsoa_population", "rows", "lsoa_code", values)
        want = t[t["lsoa_code"].isin(values)].reset_index(drop=True)
        assert got.equals(want) and list(got.dtypes) == list(want.dtypes), values[:3]
    store._read_rows.cache_clear()
