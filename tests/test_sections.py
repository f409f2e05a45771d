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

CSP = "E22000027"  # Hartlepool
FORCE = "E23000013"  # Cleveland
DEFINITION = "knife_serious_violence"
THRESHOLD = config.disclosure_threshold("police")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ctx(demo_data):
    return sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")


@pytest.fixture(scope="module")
def force_ctx(demo_data):
    return sections.ProfileContext.load_force(FORCE, "demo", DEFINITION, "2025-03-31")


@pytest.fixture(scope="session")
def police_uk_data(svtools_dirs):
    """Processed data.police.uk files of Cleveland and Durham in the session's SVTOOLS_DATA (about 2 s)."""
    from svtools.ingest import ingest_police_uk
    from svtools.paths import processed_dir, real_data_dir

    out = processed_dir() / "police_uk"
    if not (out / "dataset.json").is_file():
        src = real_data_dir() / "police_uk" / "forces_2022-01_to_2022-11"
        raw = svtools_dirs / "police_uk_raw"
        for f in sorted(src.rglob("*-street.csv*")):
            if "cleveland" in f.name or "durham" in f.name:
                dest = raw / f.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
        ingest_police_uk(raw, out)
    return out


@pytest.fixture(scope="module")
def police_ctx(police_uk_data):
    return sections.ProfileContext.load(CSP, "police_uk", DEFINITION, "2025-03-31")


@pytest.fixture
def shown(monkeypatch, tmp_path):
    """Every display call a section makes, with published CSVs written to a temporary page folder."""
    import IPython.display

    calls: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: calls.append((objs, kw)))
    page = tmp_path / "page"
    monkeypatch.setenv(plots.PAGE_DIR_ENV, str(page))
    return calls


def alts(calls) -> list[str]:
    out = []
    for objs, kw in calls:
        meta = kw.get("metadata") or {}
        if "image/png" in meta:
            out.append(meta["image/png"]["alt"])
    return out


def texts(calls) -> list[str]:
    from IPython.display import HTML, Markdown

    return [o.data for objs, _ in calls for o in objs if isinstance(o, (Markdown, HTML))]


def check_published(res: sections.SectionResult, page: Path | None = None) -> None:
    """The published table and every CSV written hold no record-level column and no count 1..threshold."""
    from svtools.analysis.stats import assert_no_small_counts

    if res.table is not None:
        counts = res.table.attrs.get("count_columns")
        plots.check_publishable(res.table, count_columns=counts)
        if counts:
            assert_no_small_counts(res.table, THRESHOLD, columns=counts)
    if page is not None and page.is_dir():
        for csv in page.glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
            assert not set(c.lower() for c in frame.columns) & plots.RECORD_LEVEL_COLUMNS, csv.name


def page_dir() -> Path:
    import os

    return Path(os.environ[plots.PAGE_DIR_ENV])


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
def test_headline(ctx, shown):
    from svtools.analysis.measures import success_measures

    res = sections.headline(ctx)
    years = ctx.complete_financial_years()
    m = success_measures(ctx.records, ctx.population, DEFINITION, csp_codes=[CSP], financial_years=years)
    row = m[(m["cohort"] == "all ages") & (m["financial_year"] == years[-1])].iloc[0]
    assert res.values["offences"] == row["offences"]
    assert res.values["rate"] == pytest.approx(row["rate_per_1000"])
    assert res.values["lower"] == pytest.approx(row["lower"])
    assert "Hartlepool" in res.message and years[-1] in res.message


def test_financial_years(ctx, shown):
    from svtools.analysis.measures import success_measures

    res = sections.financial_years(ctx)
    years = ctx.complete_financial_years()
    m = success_measures(ctx.records, ctx.population, DEFINITION, csp_codes=[CSP], financial_years=years)
    allages = m[m["cohort"] == "all ages"].set_index("financial_year")
    for year in years:
        assert res.values["offences"][year] == allages.loc[year, "offences"]
        assert res.values["rates"][year] == pytest.approx(allages.loc[year, "rate_per_1000"])
    u25 = m[m["cohort"] == "under 25"].set_index("financial_year")["offences"]
    assert res.data.set_index("financial_year")["Offences with a victim under 25"].to_dict() == u25.to_dict()
    check_published(res, page_dir())
    assert (page_dir() / "offences_by_financial_year.csv").is_file()


def test_success_measures(ctx, shown):
    from svtools.analysis.measures import success_measures, success_table

    res = sections.success_measures(ctx)
    years = ctx.complete_financial_years()
    m = success_measures(ctx.records, ctx.population, DEFINITION, csp_codes=[CSP], financial_years=years)
    expected = success_table(m, latest=years[-1])
    table = res.table.set_index(["Measure", "Cohort"])
    for cohort, label in (("all ages", "All ages"), ("under 25", "Victim under 25")):
        exp = expected[expected["cohort"] == cohort].iloc[0]
        got = table.loc[("Knife or sharp-object enabled serious violence", label)]
        for year in ("2019/20", years[-1]):
            want = int(exp[year])
            assert got[year] == ("*" if 1 <= want <= THRESHOLD else want)
    assert res.values["offences"] == int(expected.iloc[0][years[-1]])
    assert {"Police", "Health"} <= set(res.table["Source"])
    check_published(res, page_dir())
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
    allages = hm[hm["cohort"] == "all ages"].set_index("financial_year")["display"]
    assert res.table.set_index("Financial year")["All ages"].to_dict() == allages.to_dict()
    # a suppressed total is never shown as a number
    for year, row in hm[hm["suppressed"]].iterrows():
        assert str(row["display"]).startswith(">=")
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


def test_monthly_spc_matches_stats_spc(ctx, shown):
    from svtools.analysis.stats import spc
    from svtools.analysis.trends import monthly_counts

    res = sections.monthly_spc(ctx)
    series = monthly_counts(ctx.selected, start=ctx.period_start, end=ctx.period_end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = spc(series, improvement="decrease")
    pd.testing.assert_frame_equal(res.data.reset_index(drop=True), expected.reset_index(drop=True))
    assert res.values["concern"] == int((expected["special_cause"] == "concern").sum())
    assert "Hartlepool" in res.alt
    peak = series.idxmax()
    assert plots.month_label(peak) in res.alt  # the peak month is named
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


def test_hotspots(ctx, shown):
    from svtools.analysis.place_time import lsoa_counts, top_share

    res = sections.hotspots(ctx)
    t = top_share(lsoa_counts(ctx.selected, ctx.lsoa, csp_codes=[CSP], years=ctx.years)).iloc[0]
    assert res.values["offence_share"] == pytest.approx(t["offence_share"])
    assert res.values["top_lsoas"] == t["top_lsoas"]
    assert "Hartlepool" in res.alt and f"{t['offence_share']:.0%}" in res.alt
    check_published(res, page_dir())


def test_deprivation(ctx, shown):
    from svtools.analysis.place_time import deprivation_gradient

    res = sections.deprivation(ctx)
    g = deprivation_gradient(
        ctx.selected, ctx.lsoa, csp_codes=[CSP], years=ctx.years, transform=res.values["transform"]
    )
    assert res.values["sii"] == pytest.approx(g.sii) and res.values["rii"] == pytest.approx(g.rii)
    assert "Hartlepool" in res.alt and "decile" in res.alt
    shown_rates = g.table[(g.table["population"] > 0) & ~g.table["offences"].between(1, THRESHOLD)]
    top = shown_rates.loc[shown_rates["rate_per_1000"].idxmax()]
    assert f"Highest in decile {int(top['imd_decile'])} ({top['rate_per_1000']:,.2f})" in res.alt
    check_published(res, page_dir())


def test_when(ctx, shown):
    from svtools.analysis.place_time import time_tables

    res = sections.when(ctx)
    tt = time_tables(ctx.selected)
    top3 = tt.hour.set_index("hour")["offences"].sort_values(ascending=False, kind="mergesort").head(3)
    assert res.values["busiest_hours"] == list(top3.index)
    assert res.values["busiest_day"] == tt.day_of_week.set_index("day_name")["offences"].idxmax()
    assert "Hartlepool" in res.alt and res.values["busiest_day"] in res.alt
    check_published(res, page_dir())


def test_who(ctx, shown):
    from svtools.analysis.cohorts import pyramid_data

    res = sections.who(ctx)
    p = pyramid_data(ctx.selected, role="victim", bands=profile_place_people._PYRAMID_BANDS)
    assert res.values["victim_male_share"] == pytest.approx(
        p["male"].sum() / (p["male"].sum() + p["female"].sum())
    )
    assert len(alts(shown)) == 2 and all("Hartlepool" in a for a in alts(shown))
    check_published(res, page_dir())


def test_under25(ctx, shown):
    from svtools.analysis.cohorts import under25_cohort

    res = sections.under25(ctx)
    years = sorted(set(financial_year(pd.Series(ctx.months)).tolist()))
    u = under25_cohort(ctx.selected, ctx.population, min_age=0, csp_codes=[CSP], financial_years=years)
    allyrs = u[u["financial_year"] == "all years"].iloc[0]
    assert res.values["under25"] == allyrs["offences"] and res.values["share"] == pytest.approx(
        allyrs["share"]
    )
    assert "Hartlepool" in res.alt
    check_published(res, page_dir())


def test_repeat_victims_and_harm(ctx, shown):
    from svtools.analysis.cohorts import harm_concentration, repeat_victims

    res = sections.repeat_victims(ctx)
    s = repeat_victims(ctx.selected).summary.iloc[0]
    assert res.values["repeat_people"] == s["repeat_people"] and res.values["people"] == s["people"]
    check_published(res, page_dir())
    res = sections.harm_concentration(ctx)
    h = harm_concentration(ctx.selected)
    assert res.values["gini"] == pytest.approx(h.gini) and res.values[
        "people_for_20pct"
    ] == h.people_for_share(0.2)
    assert "Hartlepool" in res.alt and f"{h.top_harm_share:.0%}" in res.alt
    check_published(res, page_dir())


def test_trend_sections(ctx, shown):
    from svtools.analysis.trends import fit_trend_model, interrupted_time_series, stl_decompose

    res = sections.stl_trend(ctx)
    stl = stl_decompose(ctx.monthly)
    assert res.values["trend_last"] == pytest.approx(stl["trend"].iloc[-1])
    res = sections.seasonality(ctx)
    family = "negbin" if res.values["family"] in ("negbin", "poisson") else "quasipoisson"
    model = fit_trend_model(ctx.monthly, family=family)
    assert res.values["peak_month"] == model.seasonal_peak_month
    res = sections.trend_model(ctx)
    assert res.values["annual_rate_ratio"] == pytest.approx(model.annual_rate_ratio)
    assert res.values["annual_rate_ratio_ci"] == pytest.approx(model.annual_rate_ratio_ci)
    res = sections.covid_interruption(ctx)
    family = "negbin" if res.values["family"] in ("negbin", "poisson") else "quasipoisson"
    its = interrupted_time_series(ctx.monthly, "2020-04-01", covid=False, family=family)
    assert res.values["level_change"] == pytest.approx(its.level_change)
    assert len(alts(shown)) == 4 and all("Hartlepool" in a for a in alts(shown))
    check_published(res, page_dir())


def test_young_people_sections(ctx, shown):
    sel = ctx.selected
    res = sections.young_people(ctx)
    known = sel["victim_age"].notna()
    assert res.values["victim_share"] == pytest.approx((sel.loc[known, "victim_age"] <= 24).mean())
    check_published(res, page_dir())
    res = sections.young_ages(ctx)
    ages = sel["victim_age"].astype(float)
    assert res.values["victims"] == int(ages.between(10, 24).sum())
    check_published(res, page_dir())
    res = sections.young_sex(ctx)
    check_published(res, page_dir())
    res = sections.young_ethnicity(ctx)
    check_published(res, page_dir())
    if res.alt:  # groups with hidden counts are never described
        for group in res.values["hidden"]:
            assert f"{group} (" not in res.alt
    res = sections.knife_involvement(ctx)
    check_published(res, page_dir())
    assert "Hartlepool" in res.alt


def test_restricted_context_sections_do_not_overwrite_main_tables(ctx, shown):
    sections.hotspots(ctx)
    sections.hotspots(ctx.young())
    names = {p.name for p in page_dir().glob("*.csv")}
    assert {"hotspot_lsoas.csv", "age_10_24_hotspot_lsoas.csv"} <= names


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


def test_data_quality_sections(force_ctx, shown):
    from svtools.ingest.store import reconciliation
    from svtools.analysis.quality import completeness_summary

    res = sections.completeness(force_ctx)
    summ = completeness_summary(force_ctx.records).set_index("field")
    worst = summ["share_known"].idxmin()
    assert res.values["least_complete"] == worst and "Cleveland" in res.alt and worst in res.alt
    check_published(res, page_dir())
    res = sections.location_quality(force_ctx)
    assert res.values["total"] == res.data["records"].sum()
    check_published(res, page_dir())
    res = sections.unknown_ages(force_ctx)
    recs = force_ctx.records[force_ctx.records["victim_id"].notna()]
    assert res.values["share_unknown"] == pytest.approx(recs["victim_age"].isna().mean())
    check_published(res, page_dir())
    res = sections.reconciliation(force_ctx)
    assert res.values["balanced"] and res.values["rows_in"] == reconciliation("demo")["rows_in"]
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
    assert res.values["total"] == len(police_ctx.records)
    assert res.values["largest"] == police_ctx.records["crime_type"].value_counts().index[0]
    for name in ("headline", "rate_comparison", "monthly_spc", "hotspots", "deprivation"):
        res = getattr(sections, name)(police_ctx)
        assert res.available, name
        check_published(res, page_dir())
    assert all("Hartlepool" in a for a in alts(shown))
    res = sections.stl_trend(police_ctx)  # 11 months: too few for STL, said in one line
    assert not res.available and "24 months" in res.message


# --------------------------------------------------------------------------- notebooks
ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))
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
    assert settings["level"] in ("csp", "force") and settings["datasets"] and settings["title"]


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
        for dataset in settings["datasets"]:
            runs.append((path, dataset))
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
