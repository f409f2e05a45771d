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


# --------------------------------------------------------------------------- moved tests
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

