"""The pages divide by the right residents (issue 9 item 5): each financial year's own ONS mid-year estimate
(else the nearest, flagged and named in the notes), residents of the numerator's ages (0-24 for victims under 25,
10-24 for the young people's focus), person-years over a period, and the bound that unrecorded victim ages allow,
from published counts only.

The page checks use the session's small demo dataset copied as ``demo_denoms`` with its area tables rewritten by
:func:`svtools.ingest.area_tables.write_area_tables` (every mid-year 2011, 2014-2024), and the original ``demo``
(a dataset ingested before issue 9: mid-2019 and mid-2020 only, the nearest used and flagged). Each check would
fail on the old denominators: the latest-earlier mid-year rule, the period-average population of calendar years
times the period's length, all-ages labels on the young people's page, and no bound for unrecorded ages.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest

from svtools.errors import SvtoolsError

HARTLEPOOL = "E22000027"
DEFINITION = "knife_serious_violence"
BROAD = "most_serious_violence"  # enough offences for the under-25 and unknown-age cells to be published


@pytest.fixture
def quiet():
    import IPython.display

    calls: list = []
    with mock.patch.object(IPython.display, "display", lambda *a, **k: calls.append(a)):
        yield calls


def _texts(calls) -> str:
    from IPython.display import HTML, Markdown

    return "\n".join(o.data for objs in calls for o in objs if isinstance(o, (Markdown, HTML)))


# --------------------------------------------------------------------------- store
def test_lsoa_population_and_ethnicity_are_shared_tables(denoms, old_demo):
    """Both are tables of the store (they were read by path; load_table refused them as unknown)."""
    from svtools.ingest.store import TABLES, load_table
    from svtools.publish import sections

    assert {"lsoa_population", "ethnicity"} <= set(TABLES)
    lp = load_table("lsoa_population", denoms)
    assert {"lsoa_code", "year", "age", "population"} <= set(lp.columns) and set(lp["year"]) <= {2019, 2020}
    eth = load_table("ethnicity", denoms)
    assert {"csp_code", "ethnic_group", "ethnicity", "population"} <= set(eth.columns)
    with pytest.raises(SvtoolsError, match="not present"):  # an older dataset: present in TABLES, not on disk
        load_table("ethnicity", old_demo)
    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31")
    from svtools.ingest import store

    with mock.patch.object(store, "load_table", wraps=store.load_table) as spy, \
            mock.patch.object(store, "table_rows", wraps=store.table_rows) as rows:  # lsoa_population: a force's rows
        assert len(ctx.ethnicity) and ctx.lsoa["population"].notna().any()
    assert {c.args[0] for c in spy.call_args_list + rows.call_args_list} >= {"ethnicity", "lsoa_population"}
    old = sections.ProfileContext.load(HARTLEPOOL, old_demo, DEFINITION, "2025-03-31")
    assert old._dataset_table("ethnicity") is None and len(old.ethnicity)  # the fallback for older datasets


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def page(monkeypatch, tmp_path):
    from svtools.publish import output

    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "page"))
    return tmp_path / "page"


def _with_gap(ctx, drop=(2021, 2022)):
    """The context with mid-2021 and mid-2022 left out of its population table: 2021/22 then takes mid-2020 and
    2022/23 mid-2023 (the nearest), where the old latest-earlier rule took mid-2020 for both."""
    pop = ctx.population
    ctx.__dict__["population"] = pop[~pop["year"].isin(drop)].reset_index(drop=True)
    return ctx


def _own(ctx, fy, lo=0, hi=None) -> float:
    """Residents of the context's CSPs at ages lo-hi in the mid-year the rule gives ``fy`` (by hand)."""
    pop = ctx.population[ctx.population["csp_code"].isin(ctx.csp_codes)]
    years = sorted(set(pop["year"]))
    start = int(fy[:4])
    y = min(years, key=lambda a: (abs(a - start), a))
    sel = (pop["year"] == y) & (pop["age"] >= lo) & ((pop["age"] <= hi) if hi is not None else True)
    return float(pop.loc[sel, "population"].sum())


def _num(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v) else float(v)


# --------------------------------------------------------------------------- CSP profile: how much
def test_financial_years_divide_each_year_by_its_own_residents(denoms, quiet, page):
    from svtools.publish import sections

    ctx = _with_gap(sections.ProfileContext.load(HARTLEPOOL, denoms, BROAD, "2025-03-31"))
    res = sections.financial_years(ctx)
    v = res.values
    assert v["mid_years"]["2021/22"] == 2020 and v["mid_years"]["2022/23"] == 2023  # the nearest
    assert v["mid_years"]["2023/24"] == 2023 and v["mid_years"]["2018/19"] == 2018  # their own
    for fy in v["years"]:
        assert v["population"][fy] == pytest.approx(_own(ctx, fy))
        assert v["under25_population"][fy] == pytest.approx(_own(ctx, fy, 0, 24))
        n = _num(v["offences"][fy])
        if n is not None:
            assert v["rates"][fy] == pytest.approx(n / _own(ctx, fy) * 1000)
    assert v["population"]["2022/23"] != pytest.approx(_own(ctx, "2020/21"))  # the old rule's mid-2020
    assert "2021/22 uses mid-2020, 2022/23 uses mid-2023" in v["population_note"]
    counts = res.data  # the published series (all ages)
    csv = pd.read_csv(res.csv, dtype=str, keep_default_na=False).set_index("Financial year")
    assert csv.loc["2022/23", "Mid-year estimate"] == "mid-2023 (nearest)"
    assert csv.loc["2023/24", "Mid-year estimate"] == "mid-2023"
    # under 25: residents aged 0-24 of the year; the bound from the published under-25 and unknown-age cells
    partial = [fy for fy, b in v["under25_upper_bounds"].items() if b is not None]
    assert partial, "the demo data have years with partly recorded victim ages"
    for fy in v["years"]:
        u = csv.loc[fy, "Offences with a victim under 25"].replace(",", "")
        unk = csv.loc[fy, "Offences with no victim age recorded"].replace(",", "")
        rate = v["under25_rates"][fy]
        if not u.isdigit():
            assert rate is None and v["under25_upper_bounds"][fy] is None
            continue
        assert rate == pytest.approx(int(u) / _own(ctx, fy, 0, 24) * 1000)
        if fy in partial:
            assert unk.isdigit()  # a bound only from a published unknown-age count
            assert v["under25_upper_bounds"][fy] == pytest.approx((int(u) + int(unk)) / _own(ctx, fy, 0, 24) * 1000)
            assert csv.loc[fy, "Under-25 rate if every unrecorded victim age were under 25"] != ""
    assert "lies between the two under-25 rates" in _texts(quiet) or partial == []
    assert counts is not None


def test_headline_rates_and_the_under25_bound(denoms, quiet):
    from svtools.publish import sections, tables

    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms, BROAD, "2025-03-31")
    res = sections.headline(ctx)
    v = res.values
    latest = v["financial_year"]
    assert v["mid_years"] == {"2019/20": 2019, latest: int(latest[:4])}
    assert v["population"] == pytest.approx(_own(ctx, latest))
    assert v["under25_population"] == pytest.approx(_own(ctx, latest, 0, 24))
    ages = tables.age_year_cube(denoms, ctx.force_code, BROAD, ctx.period_start, ctx.period_end)
    u = ages.value((HARTLEPOOL, latest, tables.AGE_GROUPS[0]))
    unk = ages.value((HARTLEPOOL, latest, tables.AGE_GROUPS[2]))
    assert u is not None and unk and v["victim_age_status"] == "partial"
    assert v["under25_rate"] == pytest.approx(u / v["under25_population"] * 1000)
    assert v["under25_rate_upper_bound"] == pytest.approx((u + unk) / v["under25_population"] * 1000)
    assert "a rate between **" in res.message and "residents aged 0 to 24" in res.message
    assert "Residents: ONS mid-year estimates" in res.message


def test_success_measures_rate_ratios_use_each_years_residents(denoms, quiet, page, monkeypatch):
    from svtools.publish import sections, tables
    from svtools.publish.sections import profile_volume

    # the demo's knife-enabled under-25 counts are hidden: a broad definition as the measure, so bounds are given
    monkeypatch.setattr(profile_volume, "_MEASURES", (("Police", BROAD, "Most serious violence"),))
    ctx = _with_gap(sections.ProfileContext.load(HARTLEPOOL, denoms, DEFINITION, "2025-03-31"),
                    drop=(2021, 2022, 2023, 2024))  # 2024/25 then takes mid-2020 (nearest), flagged
    res = sections.success_measures(ctx)
    pops = res.values["populations"]
    assert pops["All ages"]["2024/25"] == pytest.approx(_own(ctx, "2024/25"))
    assert pops["Victim under 25"]["2019/20"] == pytest.approx(_own(ctx, "2019/20", 0, 24))
    assert "2024/25 uses mid-2020" in res.values["population_note"]
    from svtools.analysis.stats import format_ratio, rate_ratio

    t = res.table.set_index(["Measure", "Cohort"])
    for cohort in ("All ages", "Victim under 25"):
        row = t.loc[("Most serious violence", cohort)]
        n, b = (int(str(row[y]).replace(",", "")) for y in ("2024/25", "2019/20"))
        want = rate_ratio(n, b, pops[cohort]["2024/25"], pops[cohort]["2019/20"]).iloc[0]
        assert row["Rate ratio (95% CI)"] == format_ratio(want["ratio"], want["lower"], want["upper"])
    bounds = res.values["under25_rate_bounds"][BROAD]
    assert set(bounds) == {"2019/20", "2024/25"}  # both years partly recorded, both cells published
    ages = tables.age_year_cube(denoms, ctx.force_code, BROAD, ctx.period_start, ctx.period_end)
    for fy, (lo, hi) in bounds.items():
        u, unk = (ages.value((HARTLEPOOL, fy, g)) for g in (tables.AGE_GROUPS[0], tables.AGE_GROUPS[2]))
        assert lo == pytest.approx(u / pops["Victim under 25"][fy] * 1000)
        assert hi == pytest.approx((u + unk) / pops["Victim under 25"][fy] * 1000)
    assert "a rate between" in _texts(quiet) and "2024/25 uses mid-2020" in _texts(quiet)


def test_an_older_dataset_names_the_nearest_estimates(old_demo, quiet, page):
    """A dataset ingested before issue 9 (mid-2019 and mid-2020 only): the pages still work and say which
    estimate stood in for which year."""
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, old_demo, DEFINITION, "2025-03-31")
    res = sections.financial_years(ctx)
    assert res.values["mid_years"]["2024/25"] == 2020 and res.values["mid_years"]["2018/19"] == 2019
    assert "2024/25 uses mid-2020" in res.values["population_note"]
    csv = pd.read_csv(res.csv, dtype=str, keep_default_na=False).set_index("Financial year")
    assert csv.loc["2024/25", "Mid-year estimate"] == "mid-2020 (nearest)"
    head = sections.headline(ctx)
    assert "2024/25 uses mid-2020" in head.message


# --------------------------------------------------------------------------- CSP profile: where and who
def _person_years_by_hand(ctx, lo, hi) -> float:
    """Sum over the period's months of 1/12 of its financial year's residents (own mid-year, else nearest)."""
    months = ctx.months
    fy = [f"{y}/{(y + 1) % 100:02d}" for y in np.where(months.month >= 4, months.year, months.year - 1)]
    return sum(_own(ctx, f, lo, hi) for f in fy) / 12.0


@pytest.mark.parametrize("dataset,end", [("denoms", "2024-09-30"), ("old", "2025-03-31")])
def test_under25_rates_use_person_years_of_the_same_ages(dataset, end, denoms, old_demo, quiet, page):
    """Person-years of residents aged 0-24 and 10-24, each month at its own year's estimate (the old page took
    the average of the calendar years' estimates times the period's length: with mid-2019/2020 only that is
    3.5 years of each, not 2 of mid-2019 and 5 of mid-2020), and the bound the unrecorded ages allow."""
    from svtools.publish import sections

    ctx = sections.ProfileContext.load(HARTLEPOOL, denoms if dataset == "denoms" else old_demo, BROAD, end)
    res = sections.under25(ctx)
    v = res.values
    py = {"under25": _person_years_by_hand(ctx, 0, 24), "aged_10_24": _person_years_by_hand(ctx, 10, 24)}
    assert v["person_years"] == pytest.approx(py)
    assert v["person_years"]["under25"] == pytest.approx(ctx.person_years(0, 24))
    unk = v["age_not_recorded"]
    assert unk and v["age_known"]  # partly recorded ages, all three counts published
    for key, n in (("under25", v["under25"]), ("aged_10_24", v["aged_10_24"])):
        assert v["rates"][key] == pytest.approx(n / py[key] * 1000)
        assert v["upper_bounds"][key] == pytest.approx((n + unk) / py[key] * 1000)
    csv = pd.read_csv(res.csv, dtype=str, keep_default_na=False)
    assert csv.loc[0, "Rate if every unrecorded age were in the group"] == f"{v['upper_bounds']['under25']:,.2f}"
    assert "between" in res.message and "residents aged 0 to 24" in res.message
    if dataset == "old":
        assert "2024/25 uses mid-2020" in v["population_note"]
        old = ctx.population[ctx.population["csp_code"] == HARTLEPOOL]
        old = old[old["age"] <= 24].groupby("year")["population"].sum().mean() * ctx.years
        assert v["person_years"]["under25"] != pytest.approx(old, rel=1e-4)  # the old denominator


def test_hotspots_on_the_young_page_name_residents_aged_10_to_24(denoms, quiet, page):
    from svtools.publish import sections

    young = sections.ProfileContext.load(HARTLEPOOL, denoms, BROAD, "2025-03-31").young()
    res = sections.hotspots(young)
    assert res.values["residents"] == "residents aged 10 to 24"
    csv = pd.read_csv(res.csv, dtype=str, keep_default_na=False)
    assert "Rate per 1,000 residents aged 10 to 24 a year" in csv.columns
    assert "Rates per 1,000 residents aged 10 to 24 a year" in _texts(quiet)
    lk = young.lsoa.set_index("lsoa_code")["population"]
    for code, n in res.values["counts"].items():
        if n is not None:
            assert res.values["rates"][code] == pytest.approx(n / (lk[code] * young.years) * 1000)
    allages = sections.hotspots(sections.ProfileContext.load(HARTLEPOOL, denoms, BROAD, "2025-03-31"))
    assert allages.values["residents"] == "residents"


# --------------------------------------------------------------------------- the young people's page
def test_young_rates_is_on_the_young_peoples_page():
    import nbformat

    from svtools.paths import NOTEBOOKS
    from svtools.publish import sections
    from svtools.publish.sections import cohort

    assert sections.young_rates is cohort.young_rates and "young_rates" in sections.__all__
    nb = nbformat.read(str(NOTEBOOKS / "cohort_under25.ipynb"), as_version=4)
    heading = None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            heading = cell.source.splitlines()[0]
        if cell.cell_type == "code" and "sections.young_rates(ctx)" in cell.source:
            assert heading == "## Rates among young residents" and cell.outputs == []
            break
    else:
        pytest.fail("cohort_under25.ipynb does not call sections.young_rates(ctx)")
