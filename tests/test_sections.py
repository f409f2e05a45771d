"""Report sections on the shared small processed dataset: each returns the numbers the tested svtools
functions give, publishes only suppressed tables, writes alt text from the data (naming the area and its
extremes), and on data.police.uk shows one line instead of a section the public data cannot support. Also:
every notebook is a clean template, and (slow) each notebook executes with its defaults and renders to a page
with one H1.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from svtools.ingest import financial_year
from svtools import config
from svtools.publish import output as plots
from svtools.publish import render as report
from svtools.publish import sections
from svtools.publish.sections import profile_place_people
from svtools.paths import NOTEBOOKS

from section_helpers import CSP, DEFINITION, FORCE, THRESHOLD, alts, check_published, page_dir, texts  # noqa: E402,F401


# --------------------------------------------------------------------------- fixtures


# --------------------------------------------------------------------------- context
def test_context_reads_the_csp_and_cuts_the_period(ctx, police_ctx):
    assert ctx.name == "Hartlepool" and ctx.force_name == "Cleveland" and ctx.record_level
    assert ctx.period_start == pd.Timestamp("2018-04-01") and ctx.period_end == pd.Timestamp("2025-03-01")
    assert set(ctx.records["csp_code"]) == {CSP}
    assert ctx.complete_financial_years()[0] == "2018/19" and ctx.complete_financial_years()[-1] == "2024/25"
    # data.police.uk ends in November 2022: the period is cut to the data and says so
    assert police_ctx.period_end == pd.Timestamp("2022-11-01") and not police_ctx.record_level
    assert any("November 2022" in n for n in police_ctx.notes)
    assert set(police_ctx.selected["crime_type"]) <= set(sections.POLICE_UK_VIOLENCE)


def test_young_context_restricts_victim_ages(ctx):
    young = ctx.young()
    ages = young.selected["victim_age"].astype(float)
    assert young.victim_ages == (10, 24) and ages.between(10, 24).all() and len(young.selected) > 0
    assert young.prefix == "age_10_24_" and "aged 10 to 24" in young.what


# --------------------------------------------------------------------------- CSP sections: numbers
def _truth_by_year(ctx):
    from svtools.analysis.measures import success_measures

    years = ctx.complete_financial_years()
    m = success_measures(ctx.records, ctx.population, DEFINITION, csp_codes=[CSP], financial_years=years)
    return years, m


def _visible_or_hidden(shown, truth):
    """A published count is the true count, or hidden; a true count of 1..threshold is always hidden."""
    if 1 <= truth <= THRESHOLD:
        assert shown is None or pd.isna(shown) or shown == "*"
    elif shown is not None and not pd.isna(shown) and shown != "*":
        assert int(str(shown).replace(",", "")) == truth


def test_headline(ctx, shown):
    res = sections.headline(ctx)
    years, m = _truth_by_year(ctx)
    row = m[(m["cohort"] == "all ages") & (m["financial_year"] == years[-1])].iloc[0]
    _visible_or_hidden(res.values["offences"], int(row["offences"]))
    assert "Hartlepool" in res.message and years[-1] in res.message


def test_financial_years(ctx, shown):
    res = sections.financial_years(ctx)
    years, m = _truth_by_year(ctx)
    allages = m[m["cohort"] == "all ages"].set_index("financial_year")
    for year in years:
        _visible_or_hidden(res.values["offences"][year], int(allages.loc[year, "offences"]))
    check_published(res, page_dir())
    assert (page_dir() / "offences_by_financial_year.csv").is_file()


def test_success_measures(ctx, shown):
    from svtools.analysis.measures import success_table

    res = sections.success_measures(ctx)
    years, m = _truth_by_year(ctx)
    expected = success_table(m, latest=years[-1])
    table = res.table.set_index(["Measure", "Cohort"])
    for cohort, label in (("all ages", "All ages"), ("under 25", "Victim under 25")):
        exp = expected[expected["cohort"] == cohort].iloc[0]
        got = table.loc[("Knife or sharp-object enabled serious violence", label)]
        for year in ("2019/20", years[-1]):
            _visible_or_hidden(got[year], int(exp[year]))
    assert {"Police", "Health"} <= set(res.table["Source"])
    assert (page_dir() / "success_measures.csv").is_file()
    assert "Hartlepool" in res.message and "2019/20" in res.message


def test_hospital_admissions_stay_suppressed(ctx, shown):
    from svtools.ingest.store import load_table
    from svtools.analysis.measures import hospital_measures

    res = sections.hospital_admissions(ctx)
    if not res.available:  # no admissions for the CSP in a small dataset: one line, no chart
        assert len(texts(shown)) == 1 and not alts(shown)
        return
    hm = hospital_measures(load_table("hospital_admissions", "demo"), csp_codes=[CSP])
    allages = hm[hm["cohort"] == "all ages"].set_index("financial_year")
    shown = res.table.set_index("Financial year")["All ages"]
    threshold = config.disclosure_threshold("hes")
    for year, row in allages.iterrows():
        if row["suppressed"] and row["display"] != "no data":
            # a suppressed total is shown as the range the source allows, never as a number or a bare bound
            lo = row["admissions_known"] + row["suppressed_cells"]
            assert shown[year] == f"{lo:,} to {row['admissions_known'] + threshold * row['suppressed_cells']:,}"
            assert not shown[year].startswith(">=")
        else:
            assert shown[year] == row["display"]
    check_published(res, page_dir())


def test_rate_comparison_matches_stats_rate(ctx, shown):
    from svtools.analysis.stats import rate

    res = sections.rate_comparison(ctx)
    counts = ctx.select_counts(ctx.monthly_table)
    window = ctx.months[-12:]
    counts = counts[counts["month"].isin(window)]
    n = int(counts.loc[counts["csp_code"] == CSP, "offences"].sum())
    pop = float(ctx.areas.loc[ctx.areas["csp_code"] == CSP, "population"].iloc[0])
    r = rate([n], [pop], multiplier=1000).iloc[0]
    assert res.values["offences"] == n
    assert res.values["rate"] == pytest.approx(r["value"]) and res.values["upper"] == pytest.approx(
        r["upper"]
    )
    force_n = counts.loc[counts["pfa_code"] == FORCE, "offences"].sum()
    force_pop = ctx.areas.loc[ctx.areas["pfa_code"] == FORCE, "population"].sum()
    assert res.values["force_rate"] == pytest.approx(force_n / force_pop * 1000)
    # alt text: the area, and the highest and lowest CSP rates
    by_csp = res.data[~res.data["offences"].between(1, THRESHOLD)].set_index("csp_name")["rate"]
    assert "Hartlepool" in res.alt
    assert f"Highest: {by_csp.idxmax()} ({by_csp.max():,.2f})" in res.alt
    assert f"lowest: {by_csp.idxmin()} ({by_csp.min():,.2f})" in res.alt
    check_published(res, page_dir())


def test_monthly_spc_is_drawn_from_the_published_series(ctx, shown):
    from svtools.analysis.stats import spc
    from svtools.publish import tables

    res = sections.monthly_spc(ctx)
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    published = fam.series(CSP)
    if published is None or res.data is None:
        assert not alts(shown)  # no chart without a published series
        return
    assert not published.isna().any()  # a published series has no hidden point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = spc(pd.Series(published.astype(float).to_numpy(), index=res.data["date"]), improvement="decrease")
    pd.testing.assert_frame_equal(res.data.reset_index(drop=True), expected.reset_index(drop=True))
    assert "Hartlepool" in res.alt
    check_published(res, page_dir())

def test_offence_mix(ctx, shown):
    from svtools.ingest.definitions import apply_definition

    res = sections.offence_mix(ctx)
    sel = apply_definition(ctx.records, DEFINITION)
    assert res.values["total"] == len(sel)
    top = sel["offence_subgroup"].value_counts()
    assert res.values["largest"] == top.index[0] and res.values["largest_count"] == top.iloc[0]
    assert "Hartlepool" in res.alt and top.index[0] in res.alt
    check_published(res, page_dir())


# --------------------------------------------------------------------------- force sections
def test_force_sections(force_ctx, shown):
    res = sections.league_table(force_ctx)
    assert set(res.table["CSP"]) == set(force_ctx.areas.loc[force_ctx.areas["pfa_code"] == FORCE, "csp_name"])
    assert "Cleveland" in res.alt and res.values["highest"] in res.alt
    check_published(res, page_dir())
    res = sections.rate_comparison(force_ctx)
    assert "Cleveland" in res.alt
    check_published(res, page_dir())
    res = sections.special_cause_by_csp(force_ctx)
    assert len(res.table) == len(force_ctx.csp_codes)
    check_published(res, page_dir())
    res = sections.success_measures(force_ctx)
    check_published(res, page_dir())


# --------------------------------------------------------------------------- data.police.uk
NOT_IN_POLICE_UK = [
    "success_measures",
    "hospital_admissions",
    "when",
    "who",
    "under25",
    "repeat_victims",
    "harm_concentration",
    "young_people",
    "young_ages",
    "young_sex",
    "young_ethnicity",
    "knife_involvement",
    "unknown_ages",
]


@pytest.mark.parametrize("name", NOT_IN_POLICE_UK)
def test_police_uk_shows_one_line_instead(police_ctx, shown, name):
    res = getattr(sections, name)(police_ctx)
    assert not res.available
    lines = texts(shown)
    assert (
        len(lines) == 1
        and ("not available in data.police.uk" in lines[0] or "not shown" in lines[0])
        and "\n" not in lines[0].strip()
    )
    assert not alts(shown)  # never an empty chart
    assert not page_dir().exists() or not list(page_dir().glob("*.csv"))


def test_police_uk_supports_volumes_hotspots_and_deprivation(police_ctx, shown):
    res = sections.offence_mix(police_ctx)
    assert res.values["total"] == len(police_ctx.selected)  # the violence-related crime types
    assert res.values["largest"] == police_ctx.records["crime_type"].value_counts().index[0]
    for name in ("headline", "rate_comparison", "monthly_spc", "hotspots", "deprivation"):
        res = getattr(sections, name)(police_ctx)
        assert res.available, name
        check_published(res, page_dir())
    assert all("Hartlepool" in a for a in alts(shown))
    res = sections.stl_trend(police_ctx)  # 11 months: too few for STL, said in one line
    assert not res.available and "24 months" in res.message


# --------------------------------------------------------------------------- notebooks
# the batch notebooks (explore.ipynb, the registrar's own, has no metadata.svtools: tests/test_explore.py)
ALL_NOTEBOOKS = [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if report.notebook_settings(p)]
MY_NOTEBOOKS = ["trend_seasonality", "cohort_under25", "force_overview", "data_quality"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.stem for p in ALL_NOTEBOOKS])
def test_notebook_is_a_clean_template(path):
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in (c.metadata.get("tags") or [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    # one H1 per page: the page template writes it (the title with the area's name), so the notebook has none
    report.check_template(path)
    settings = report.notebook_settings(path)
    assert settings["level"] in ("csp", "force", "dataset") and settings["schemas"] and settings["title"]


@pytest.mark.parametrize("name", MY_NOTEBOOKS)
def test_section_notebooks_are_thin(name):
    import nbformat

    nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    code = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "parameters" not in (c.metadata.get("tags") or [])
    ]
    setup, calls = code[0], code[1:]
    assert "sections.ProfileContext.load" in setup
    for src in calls:
        lines = [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        assert len(lines) == 1 and "sections." in src or src.startswith("young = ctx.young()"), src
    defaults = report.check_template(NOTEBOOKS / f"{name}.ipynb")
    assert {k: v["default"] for k, v in defaults.items()} == (
        {
            "csp_code": '"E22000027"',
            "dataset": '"demo"',
            "definition": '"knife_serious_violence"',
            "period_end": '"2025-03-31"',
        }
        if "csp_code" in defaults
        else {
            "pfa_code": '"E23000013"',
            "dataset": '"demo"',
            "definition": '"knife_serious_violence"',
            "period_end": '"2025-03-31"',
        }
    )


@pytest.mark.slow
def test_notebooks_execute_and_render(demo_data, police_uk_data, tmp_path):
    """Every notebook runs top to bottom with its defaults (and on data.police.uk where it supports it), and
    renders to a page with exactly one H1, alt text on every image and no error output."""
    import os

    runs = []
    for path in ALL_NOTEBOOKS:
        settings = report.notebook_settings(path)
        kinds = {"police_extract": "demo", "police_uk": "police_uk"}
        for schema in settings["schemas"]:
            if schema in kinds:  # count-table notebooks run on the real London series: tests/test_london_pages.py
                runs.append((path, kinds[schema]))
    with report.WarmKernel(warm_modules=["svtools.publish.sections"]) as kernel:
        for path, dataset in runs:
            page = tmp_path / f"{path.stem}_{dataset}"
            kernel.reset(env={**os.environ, plots.PAGE_DIR_ENV: str(page)})
            params = {} if dataset == "demo" else {"dataset": dataset}
            nb = report.execute(path, params, kernel=kernel, timeout=300)
            errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, f"{path.name} on {dataset}: {errors[:1]}"
            declared = report.check_template(path)
            ctx = report.page_context(_page_params(declared, dataset), path.stem)
            html = report.to_html(nb, f"{path.stem}", ctx)
            assert html.count("<h1") == 1, f"{path.name} on {dataset}"
            assert "Traceback" not in html
            for csv in page.glob("*.csv") if page.is_dir() else []:
                frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
                assert not set(c.lower() for c in frame.columns) & plots.RECORD_LEVEL_COLUMNS


def _page_params(declared: dict, dataset: str) -> dict:
    params = {k: v["default"].strip('"') for k, v in declared.items()}
    params["dataset"] = dataset
    return params


def test_section_result_displays_nothing():
    res = sections.SectionResult("x")
    assert res._ipython_display_() is None and "x" in repr(res)
