"""Sections that publish through the disclosure gate (place and people, the under-25 cohort, trend, data
quality) on the shared small processed dataset: every count shown equals the true count where it is visible,
every count from 1 to the threshold is hidden, hidden heatmap cells are never drawn at their value, unknown
fields are published as their own category (never 0), and withheld sections say so in one line.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from svtools.ingest import financial_year
from svtools import config
from svtools.publish import output as plots
from svtools.publish import render as report
from svtools.publish import sections
from svtools.publish import tables
from svtools.publish.sections import profile_place_people
from svtools.paths import NOTEBOOKS

from section_helpers import CSP, DEFINITION, FORCE, THRESHOLD, alts, check_published, page_dir, texts  # noqa: E402,F401


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def big(demo_data):
    """Hartlepool on the broadest definition: enough offences for every gated breakdown to be published."""
    return sections.ProfileContext.load(CSP, "demo", "most_serious_violence", "2025-03-31")


# --------------------------------------------------------------------------- helpers
def _agree(shown: dict, truth: pd.Series | dict) -> None:
    """Every visible count equals the truth; every true count from 1 to the threshold is hidden."""
    truth = dict(truth)
    assert shown, "nothing shown"
    for k, v in shown.items():
        true = int(truth.get(k, 0))
        if v is None:
            continue
        assert v == true, (k, v, true)
        assert not 1 <= v <= THRESHOLD, (k, v)
    for k, true in truth.items():
        if k in shown and 1 <= int(true) <= THRESHOLD:
            assert shown[k] is None, (k, true)


def _lsoa_truth(c) -> pd.Series:
    lk = c.lsoa[c.lsoa["csp_code"].isin(c.csp_codes)]
    sel = c.selected
    sel = sel[sel["lsoa_code"].astype(str).isin(set(lk["lsoa_code"].astype(str)))]
    return sel["lsoa_code"].astype(str).value_counts()


# --------------------------------------------------------------------------- where
def test_hotspots(big, ctx, shown):
    res = sections.hotspots(big)
    truth = _lsoa_truth(big)
    _agree(res.values["counts"], truth)
    assert res.values["top_lsoas"] == 10 and len(res.values["top_codes"]) == 10
    assert sorted(truth.loc[res.values["top_codes"]], reverse=True) == list(truth.iloc[:10])
    assert res.values["total"] == int(truth.sum())
    visible = [v for v in res.values["counts"].values() if v is not None]
    assert res.values["top_offences"] == sum(visible)  # the sentence uses published cells only
    if res.values["top_all_visible"]:
        assert f"hold **{sum(visible):,}** of the area's {int(truth.sum()):,}" in res.message
    else:
        assert f"hold at least {sum(visible):,} of the area's" in res.message
    assert not any("Lorenz" in a for a in alts(shown))  # no concentration curve
    check_published(res, page_dir())


def test_hotspots_on_the_force_page(force_ctx, shown):
    res = sections.hotspots(force_ctx)
    _agree(res.values["counts"], _lsoa_truth(force_ctx))
    assert "Cleveland" in res.message


def test_deprivation(ctx, shown):
    res = sections.deprivation(ctx)
    lk = ctx.lsoa[ctx.lsoa["csp_code"].isin(ctx.csp_codes)].dropna(subset=["imd_decile"])
    dec = ctx.selected["lsoa_code"].astype(str).map(lk.set_index(lk["lsoa_code"].astype(str))["imd_decile"])
    truth = dec.dropna().astype(int).value_counts()
    truth = {d: int(truth.get(d, 0)) for d in sorted(lk["imd_decile"].astype(int).unique())}
    _agree(res.values["counts"], truth)
    hidden = res.values["hidden_deciles"]
    assert hidden == [d for d, v in res.values["counts"].items() if v is None]
    if hidden:  # no SII/RII unless every decile is visible, and one line says why
        assert res.values["sii"] is None and "No slope or relative index" in res.message
        assert all(str(d) in res.message for d in hidden)
    else:
        assert res.values["sii"] is not None
    # the chart draws visible deciles only, rates from the published counts
    drawn = res.data.set_index("imd_decile")["value"]
    assert set(drawn.index) == {d for d, v in res.values["counts"].items() if v is not None}
    assert "Hartlepool" in res.alt and "decile" in res.alt
    check_published(res, page_dir())


def test_deprivation_on_the_force_page_gives_sii(force_ctx, shown):
    res = sections.deprivation(force_ctx)
    assert not res.values["hidden_deciles"] and res.values["sii"] is not None


# --------------------------------------------------------------------------- when
def _day_block_truth(c) -> pd.Series:
    return profile_place_people._day_block_label(c.selected).value_counts()


def test_when(big, shown):
    res = sections.when(big)
    truth = _day_block_truth(big)
    grid = res.data
    assert grid.shape == (7, 24 // profile_place_people._hour_block())
    shown_cells = {}
    for d in grid.index:
        for blk in grid.columns:
            v = grid.loc[d, blk]
            shown_cells[f"{d}|{blk}"] = None if np.isnan(v) else int(v)
    _agree(shown_cells, truth)
    # hidden cells are NaN in the chart data (drawn hatched grey), never at their value
    small = [k for k in shown_cells if 1 <= int(truth.get(k, 0)) <= THRESHOLD]
    assert all(np.isnan(grid.loc[k.split("|")[0], k.split("|")[1]]) for k in small)
    assert res.values["hidden_cells"] == int(grid.isna().sum().sum())
    # the busiest block is named from published cells
    vis = {k: v for k, v in shown_cells.items() if v is not None}
    best = max(vis, key=vis.get)
    assert res.values["busiest_count"] == vis[best] and "|".join(res.values["busiest_block"]) in {
        k for k, v in vis.items() if v == vis[best]}
    # unknown time is its own published category, never 0 and never silently dropped
    unknown = int(truth.get(profile_place_people.TIME_NOT_RECORDED, 0))
    assert unknown > 0 and res.values["time_not_recorded"] == unknown
    assert f"Time not recorded: {unknown:,}" in res.message
    assert "Hartlepool" in res.alt and res.values["busiest_day"] in res.alt
    check_published(res, page_dir())


def test_when_says_one_line_when_every_cell_is_hidden(ctx, shown):
    res = sections.when(ctx)
    if not res.available:
        assert len(texts(shown)) == 1 and not alts(shown)


def test_when_heatmap_hatches_hidden_cells(force_ctx, monkeypatch, shown):
    import matplotlib.patches as mpatches

    from svtools.publish import output

    figs = []
    monkeypatch.setattr(output, "show", lambda fig, alt=None: figs.append(fig))
    res = sections.when(force_ctx)
    truth = _day_block_truth(force_ctx)
    grid = res.data
    small = [k for k in truth.index if k != profile_place_people.TIME_NOT_RECORDED and 1 <= truth[k] <= THRESHOLD]
    assert small and all(np.isnan(grid.loc[k.split("|")[0], k.split("|")[1]]) for k in small)
    hatched = [p for p in figs[0].axes[0].patches if isinstance(p, mpatches.Rectangle) and p.get_hatch()]
    assert len(hatched) == res.values["hidden_cells"] > 0
    assert len({p.get_facecolor() for p in hatched}) == 1  # one "too few to show" colour


# --------------------------------------------------------------------------- who
def _age_sex_truth(c, role: str) -> dict:
    lab = tables._age_sex_label(role)(c.selected)
    age, sex = lab.str.split("|").str[0], lab.str.split("|").str[1]
    out = {}
    for band, members in tables.AGE_BANDS.items():
        out[f"{band}|All"] = int(age.isin(members).sum())
    out[f"{tables.AGE_NOT_RECORDED}|All"] = int((age == tables.AGE_NOT_RECORDED).sum())
    out["All ages|F"] = int((sex == "F").sum())
    out["All ages|M"] = int((sex == "M").sum())
    out["All ages|Other or not recorded"] = int((~sex.isin(["F", "M"])).sum())
    out["Total"] = len(lab)
    return out


def test_who(big, ctx, shown):
    for c in (ctx, big):
        res = sections.who(c)
        for role in ("victim", "suspect"):
            _agree(res.values[f"{role}_counts"], _age_sex_truth(c, role))
    assert res.values["victim_total"] == len(big.selected)
    # unknown age is named as its own category, with its true count (not 0)
    assert res.values["victim_counts"]["Age not recorded|All"] == big.selected["victim_age"].isna().sum() > 0
    big_alts = alts(shown)[-2:]
    assert len(big_alts) == 2 and all("Hartlepool" in a and "Age not recorded" in a for a in big_alts)
    check_published(res, page_dir())
    # percentages are of a visible denominator shown in the CSV
    csv = pd.read_csv(page_dir() / "victim_age_sex.csv", dtype=str)
    assert any(f"{len(big.selected):,}" in c for c in csv.columns)


def test_under25(big, ctx, shown):
    small = sections.under25(ctx)
    sage = ctx.selected["victim_age"].astype(float)
    _agree({"u": small.values["under25"], "y": small.values["aged_10_24"], "n": small.values["age_not_recorded"]},
           {"u": (sage <= 24).sum(), "y": sage.between(10, 24).sum(), "n": sage.isna().sum()})
    if small.values["age_not_recorded"] is None:
        assert small.values["share"] is None  # no share without a visible denominator
    res = sections.under25(big)
    age = big.selected["victim_age"].astype(float)
    assert res.values["under25"] == int((age <= 24).sum())
    assert res.values["aged_10_24"] == int(age.between(10, 24).sum())
    assert res.values["age_not_recorded"] == int(age.isna().sum()) > 0
    assert res.values["share"] == pytest.approx((age <= 24).sum() / age.notna().sum())
    assert "Age not recorded" in res.message or "age not recorded" in res.message
    assert "Hartlepool" in res.alt
    # the same family on the young-victim context: the same numbers (never differenced)
    young = sections.under25(big.young())
    assert young.values["under25"] == res.values["under25"]
    check_published(res, page_dir())


def test_repeat_victims_and_harm_are_withheld(ctx, shown):
    for name in ("repeat_victims", "harm_concentration"):
        res = getattr(sections, name)(ctx)
        assert not res.available and "not published in this version" in res.message
        assert "cannot yet be protected against differencing" in res.message
    lines = texts(shown)
    assert len(lines) == 2 and not alts(shown)
    assert not page_dir().exists() or not list(page_dir().glob("*.csv"))


# --------------------------------------------------------------------------- trend


def test_trend_sections_say_one_line_when_the_monthly_series_is_not_published(ctx, shown):
    fam = tables.series_cube(ctx.dataset, ctx.force_code, ctx.definition.name, ctx.period_start, ctx.period_end)
    assert fam.resolution[CSP] != "month"
    for name in ("stl_trend", "seasonality", "trend_model", "covid_interruption"):
        res = getattr(sections, name)(ctx)
        assert not res.available and "monthly series is not published" in res.message
    assert not alts(shown)


def test_trend_sections(big, shown):
    """The trend, seasonality and COVID sections read ONE fit (issue 9: one COVID answer), of the rate per
    resident: the same numbers as covid_trend_model on the published series with the residents offset."""
    from svtools.analysis.trends import covid_trend_model, stl_decompose

    c = big
    fam = tables.series_cube(c.dataset, c.force_code, c.definition.name, c.period_start, c.period_end)
    assert fam.resolution[CSP] == "month"
    pub = fam.series(CSP)
    assert pub.notna().all() and not pub.between(1, THRESHOLD).any()
    monthly = pd.Series(pub.astype("int64").to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(list(pub.index))))
    assert monthly.to_numpy().tolist() == c.monthly.to_numpy().tolist()  # published = true when visible
    res = sections.stl_trend(c)
    assert res.values["trend_last"] == pytest.approx(stl_decompose(monthly)["trend"].iloc[-1])
    model, _ = covid_trend_model(monthly, population=c.monthly_residents().reindex(monthly.index))
    res = sections.seasonality(c)
    assert res.values["peak_month"] == model.seasonal_peak_month
    res = sections.trend_model(c)
    assert res.values["annual_rate_ratio"] == pytest.approx(model.annual_rate_ratio)
    res = sections.covid_interruption(c)
    assert res.values["covid_rate_ratio"] == pytest.approx(model.covid_rate_ratio)
    assert len(alts(shown)) == 4 and all("Hartlepool" in a for a in alts(shown))
    check_published(res, page_dir())


# --------------------------------------------------------------------------- the under-25 cohort
def test_young_people_sections(big, ctx, shown):
    small = sections.young_ages(ctx)
    sage = ctx.selected["victim_age"].astype(float)
    truth = {f"{a}|All": int((sage == a).sum()) for a in range(10, 25)}
    _agree({k: v for k, v in small.values["victim_counts"].items() if k in truth}, truth)
    ctx = big
    age = ctx.selected["victim_age"].astype(float)
    res = sections.young_ages(ctx)
    truth = {f"{a}|All": int((age == a).sum()) for a in range(10, 25)}
    _agree({k: v for k, v in res.values["victim_counts"].items() if k in truth}, truth)
    assert res.values["victims"] == int(age.between(10, 24).sum())
    assert res.values["victim_counts"]["Age not recorded|All"] == int(age.isna().sum())
    sage = ctx.selected["suspect_age"].astype(float)
    struth = {f"{a}|All": int((sage == a).sum()) for a in range(10, 25)}
    _agree({k: v for k, v in res.values["suspect_counts"].items() if k in struth}, struth)
    check_published(res, page_dir())
    # the young-victim context reads the same family: identical numbers
    young = sections.young_ages(ctx.young())
    assert young.values["victim_counts"] == res.values["victim_counts"]
    for name in ("young_people", "young_sex", "young_ethnicity", "knife_involvement"):
        r = getattr(sections, name)(ctx)
        assert not r.available and "not published in this version" in r.message, name


def test_restricted_context_sections_do_not_overwrite_main_tables(ctx, shown):
    sections.hotspots(ctx)
    sections.hotspots(ctx.young())
    names = {p.name for p in page_dir().glob("*.csv")}
    assert {"hotspot_lsoas.csv", "age_10_24_hotspot_lsoas.csv"} <= names


# --------------------------------------------------------------------------- data quality
def test_data_quality_sections(force_ctx, shown):
    from svtools.analysis.quality import completeness_summary
    from svtools.ingest.store import reconciliation

    res = sections.completeness(force_ctx)
    summ = completeness_summary(force_ctx.records).set_index("field")
    worst = summ["share_known"].idxmin()
    assert res.values["least_complete"] == worst and "Cleveland" in res.alt and worst in res.alt
    t = res.values["counts"]
    for f in summ.index:
        for col, true in (("Known", summ.loc[f, "known"]), ("Missing", summ.loc[f, "missing"])):
            v = t.loc[f, col]
            assert (pd.isna(v) and 1 <= true <= THRESHOLD) or (pd.isna(v) or int(v) == true)
            assert not (1 <= true <= THRESHOLD) or pd.isna(v)
    assert res.data.attrs.get("published_by_gate")  # the chart's data are marked as derived
    check_published(res, page_dir())
    res = sections.location_quality(force_ctx)
    assert res.values["total"] == sum(v for k, v in res.values.items() if k not in ("total", "All rows")
                                      and v is not None)
    from svtools.ingest.store import dataset_dir  # the two columns it reads count what every column would
    every = pd.read_parquet(dataset_dir("demo") / "records", filters=[("reporting_force", "==", force_ctx.force_code)])
    every = every[(every["month"] >= force_ctx.period_start) & (every["month"] <= force_ctx.period_end)]
    placed, outside = int((~every["out_of_force"]).sum()), int(every["out_of_force"].sum())
    assert res.values["Placed in a CSP of the force"] in (None, placed) and placed > THRESHOLD
    assert res.values["Placed in an LSOA outside the force area"] in (None, outside)
    check_published(res, page_dir())
    res = sections.unknown_ages(force_ctx)
    recs = force_ctx.records[force_ctx.records["victim_id"].notna()]
    assert res.values["share_unknown"] == pytest.approx(recs["victim_age"].isna().mean())
    check_published(res, page_dir())
    res = sections.reconciliation(force_ctx)
    assert res.values["balanced"] and res.values["rows_in"] == reconciliation("demo")["rows_in"]
    check_published(res, page_dir())
    for csv in page_dir().glob("*.csv"):
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        for col in frame.columns:
            for v in frame[col]:
                assert v.replace(",", "") not in {str(k) for k in range(1, THRESHOLD + 1)} or "%" in v, (csv, col)
