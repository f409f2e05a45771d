"""What a warm kernel keeps between pages (svtools.publish.render.WarmKernel): the shared tables read once
(svtools.ingest.store.load_table), the indicator list parsed once, every CSP's rate worked out once per dataset
and period (``_area_rates``), LSOA residents once per force (``ProfileContext.lsoa``), and, within one page,
which records know the victim's under-25 status (``_u25_status``).

Each cache must give the numbers the page worked out before, never a stale table, and hand out nothing a caller
can change for the next page.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from section_helpers import CSP, DEFINITION

from svtools.publish import sections
from svtools.publish.sections import context as C

OTHER = "E22000029"  # Middlesbrough, in the same force as Hartlepool


# --------------------------------------------------------------------------- store
def test_load_table_reads_once_and_hands_out_copies(demo_data):
    from svtools.ingest import store

    store._read_table.cache_clear()
    a = store.load_table("population", "demo")
    b = store.load_table("population", "demo")
    assert store._read_table.cache_info().misses == 1 and a is not b
    before = b.copy(deep=True)
    a["population"] = 0  # a caller changing its frame does not reach the cache or another caller's frame
    a.loc[a.index[:3], "age"] = 99
    assert b.equals(before) and store.load_table("population", "demo").equals(before)
    assert store.shared_table("population", "demo") is store.shared_table("population", "demo")


def test_a_rewritten_table_is_read_again(tmp_path, monkeypatch):
    from svtools.ingest import store

    monkeypatch.setenv("SVTOOLS_DATA", str(tmp_path))
    folder = tmp_path / "processed" / "tiny"
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text('{"synthetic": true}')
    pd.DataFrame({"csp_code": ["E1"], "x": [1]}).to_parquet(folder / "areas.parquet")
    assert store.load_table("areas", "tiny")["x"].tolist() == [1]
    pd.DataFrame({"csp_code": ["E1"], "x": [2]}).to_parquet(folder / "areas.parquet")  # same size
    st = os.stat(folder / "areas.parquet")
    os.utime(folder / "areas.parquet", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert store.load_table("areas", "tiny")["x"].tolist() == [2]
    key = store.table_key("areas", "tiny")
    time.sleep(0.01)
    (folder / "dataset.json").write_text('{"synthetic": false}')  # a new ingest: a new dataset digest
    assert store.table_key("areas", "tiny")[0] != key[0]


def test_load_indicators_parses_once_and_hands_out_copies(tmp_path):
    from svtools.analysis import indicators as ai
    from svtools.paths import CONFIG

    a = ai.load_indicators("demo")
    a[0]["label"] = "changed"
    a[0]["settings"]["x"] = 1
    b = ai.load_indicators("demo")
    assert b[0]["label"] != "changed" and "x" not in b[0]["settings"]
    path = tmp_path / "indicators.yaml"
    text = (CONFIG / "indicators.yaml").read_text()
    path.write_text(text)
    n = len(ai.load_indicators(path=path))
    path.write_text(text.replace("id:", "id: x_", 1))  # a changed file is parsed again
    assert [d["id"] for d in ai.load_indicators(path=path)][0].startswith("x_") and n


# --------------------------------------------------------------------------- the page's shared inputs
def _lsoa_alone(ctx) -> pd.Series:
    """ProfileContext.lsoa's population as it was worked out before: the area's LSOAs on their own."""
    from svtools.analysis.population import lsoa_residents
    from svtools.ingest.store import load_table

    lsoa = load_table("lsoa", ctx.dataset)
    mine = lsoa[lsoa["csp_code"].isin(ctx.csp_codes)]
    lo, hi = ctx.cohort_ages
    pop = lsoa_residents(load_table("lsoa_population", ctx.dataset), ctx.population,
                         mine.set_index(mine["lsoa_code"].astype(str))["csp_code"], ctx.months, lo, hi)
    return lsoa["lsoa_code"].astype(str).map(pop).astype("float64")


@pytest.mark.parametrize("code", [CSP, OTHER])
@pytest.mark.parametrize("young", [False, True])
def test_lsoa_residents_of_the_force_are_the_areas_own(demo_data, code, young):
    ctx = sections.ProfileContext.load(code, "demo", DEFINITION, "2025-03-31")
    ctx = ctx.young() if young else ctx
    lsoa = ctx.lsoa
    mine = lsoa[lsoa["csp_code"].isin(ctx.csp_codes)]
    assert ctx._force_lsoa_residents(mine, *ctx.cohort_ages) is not None  # the force-wide route was taken
    assert np.array_equal(lsoa["population"].to_numpy(), _lsoa_alone(ctx).to_numpy(), equal_nan=True)
    assert lsoa.loc[~lsoa["csp_code"].isin(ctx.csp_codes), "population"].isna().all()


def test_a_context_with_its_own_population_works_it_out_alone(demo_data):
    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    pop = ctx.population
    ctx.__dict__["population"] = pop.assign(population=pop["population"] * 2)
    mine = ctx.lsoa[ctx.lsoa["csp_code"].isin(ctx.csp_codes)]
    assert ctx._force_lsoa_residents(mine, 0, None) is None
    assert np.array_equal(ctx.lsoa["population"].to_numpy(), _lsoa_alone(ctx).to_numpy(), equal_nan=True)
    areas, _ = C._area_rates(ctx)  # every CSP's residents doubled: half the rate
    fresh, _ = C._area_rates(sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31"))
    assert np.allclose(areas["rate"] * 2, fresh["rate"])


def test_area_rates_are_the_same_and_copies(demo_data):
    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    areas, info = C._area_rates(ctx)
    want, common = C._area_rates_of(ctx.dataset, ctx.definition.name, ctx.period_start, ctx.period_end, 12,
                                    ctx.areas, ctx.population)
    assert areas.equals(want) and all(info[k] == v for k, v in common.items() if k not in ("od_all", "od_force"))
    force = want[want["pfa_code"] == ctx.force_code]
    assert info["force_rate"] == float(force["offences"].sum() / force["person_years"].sum() * 1000)
    areas["rate"] = 0.0
    info["overall"] = -1
    again, info2 = C._area_rates(sections.ProfileContext.load(OTHER, "demo", DEFINITION, "2025-03-31"))
    assert again.equals(want) and info2["overall"] == common["overall"]


def test_sections_leave_the_shared_population_unchanged(demo_data, shown):
    from svtools.ingest.store import load_table

    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    assert ctx.population is C.dataset_population("demo")
    for name in ("key_findings", "financial_years", "success_measures", "rate_comparison", "deprivation",
                 "who", "under25", "hospital_admissions"):
        getattr(sections, name)(ctx)
    assert ctx.population.equals(pd.read_parquet(demo_data / "population.parquet"))
    assert load_table("population", "demo").equals(ctx.population)


# --------------------------------------------------------------------------- within one page
@pytest.mark.parametrize("definition", [None, "knife_serious_violence", "most_serious_violence"])
def test_u25_status_is_the_field_status_of_the_years_records(demo_data, definition):
    from svtools.ingest.definitions import apply_definition, load_definition
    from svtools.publish.sections.profile_volume import _u25_status

    ctx = sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")
    recs = ctx.in_definition if definition is None else apply_definition(ctx.records, load_definition(definition))
    seen = set()
    for year in [None, *sorted(set(recs["financial_year"].astype(str))), "2030/31"]:
        r = recs if year is None else recs[recs["financial_year"].astype(str) == year]
        want = ctx.field_status("victim_under_25", r)
        assert _u25_status(ctx, year, definition) == want
        seen.add(want)
    assert seen  # and a restricted copy of the context starts without the memo
    assert ctx.young()._memo == {}
