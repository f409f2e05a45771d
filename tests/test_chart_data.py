"""The data behind every chart: a CSV beside each chart, with explicit snake_case columns naming the area, the
period and the comparator, written through the same disclosure check as tables, and holding the numbers the
chart draws (SPC points, mean and limits; each area's funnel point and its limits; observed, trend, adjusted)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from section_helpers import page_dir

from svtools.publish import disclosure, output, sections, validate
from svtools.publish.disclosure import DisclosureError


def _fig():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [10, 20])
    return fig


def _marked(frame: pd.DataFrame) -> pd.DataFrame:
    return disclosure._mark(frame, "test_table")


ALT = "Bar chart of offences by type: a 10, b 20."
GOOD = pd.DataFrame({"area_code": ["E22000027"] * 2, "area_name": ["Hartlepool"] * 2,
                     "period_start": ["2024-04"] * 2, "period_end": ["2025-03"] * 2, "offence_type": ["a", "b"],
                     "offences": [10.0, np.nan], "rate_per_1000": [0.123456789, np.nan]})


def _sidecar(folder):
    return {e["file"]: e for e in json.loads((folder / output.TABLES_SIDECAR).read_text())}


# --------------------------------------------------------------------------- output.show with data
def test_show_writes_the_data_under_the_chart_and_records_it(shown):
    folder = page_dir()
    path = output.show(_fig(), ALT, _marked(GOOD), name="offence_mix_chart", count_columns=["offences"],
                       section="offence_mix")
    assert path == folder / "offence_mix_chart.csv"
    # counts as whole numbers, blank where hidden; other numbers to 6 decimals
    assert path.read_text().splitlines() == [
        "area_code,area_name,period_start,period_end,offence_type,offences,rate_per_1000",
        "E22000027,Hartlepool,2024-04,2025-03,a,10,0.123457",
        "E22000027,Hartlepool,2024-04,2025-03,b,,"]
    entry = _sidecar(folder)["offence_mix_chart.csv"]
    assert entry["kind"] == "chart" and entry["section"] == "offence_mix"
    assert entry["count_columns"] == ["offences"] and entry["threshold"] == 4 and entry["rows"] == 2
    # the image, then the link to the CSV: the order the page shows them in
    kinds = [("image" if "image/png" in (objs[0] if isinstance(objs[0], dict) else {}) else "html", objs)
             for objs, _ in shown]
    assert [k for k, _ in kinds] == ["image", "html"]
    link = kinds[1][1][0].data
    assert 'class="chart-data" href="offence_mix_chart.csv" download' in link
    # a second chart of the same name on the page gets its own file
    again = output.show(_fig(), ALT, _marked(GOOD), name="offence_mix_chart", count_columns=["offences"])
    assert again.name == "offence_mix_chart_2.csv"


@pytest.mark.parametrize("frame, count_columns, error, message", [
    (GOOD, ["offences"], DisclosureError, "published by the disclosure gate"),  # not marked by the gate
    (GOOD.assign(offences=[3.0, 20.0]), ["offences"], output.DisclosureError, "1 to 4"),
    (GOOD.rename(columns={"rate_per_1000": "Rate"}), ["offences"], ValueError, "not snake_case"),
    (GOOD.rename(columns={"rate_per_1000": "lci"}), ["offences"], ValueError, "too vague"),
    (GOOD.drop(columns=["area_name"]), ["offences"], ValueError, "area_name"),
    (GOOD.drop(columns=["period_start", "period_end"]), ["offences"], ValueError, "needs a period column"),
    (GOOD, ["victims"], ValueError, "not in its data"),
    (GOOD.assign(crime_ref=["x", "y"]), ["offences"], output.DisclosureError, "record-level"),
])
def test_show_refuses_chart_data_a_table_would_be_refused_for(shown, frame, count_columns, error, message):
    data = frame if message == "published by the disclosure gate" else _marked(frame)
    with pytest.raises(error, match=message):
        output.show(_fig(), ALT, data, name="x_chart", count_columns=count_columns)
    assert shown == [] and not (page_dir() / "x_chart.csv").exists()  # nothing shown, nothing written


def test_show_without_data_still_shows_the_chart(shown):
    assert output.show(_fig(), ALT) is None
    assert len(shown) == 1 and not page_dir().exists()


def test_chart_data_adds_area_and_period_and_keeps_the_mark(ctx):
    frame = _marked(pd.DataFrame({"offence_type": ["a"], "offences": [10]}))
    out = sections.context.chart_data(frame, ctx)
    assert list(out.columns) == ["area_code", "area_name", "period_start", "period_end", "offence_type", "offences"]
    assert out.iloc[0, :4].tolist() == [ctx.code, ctx.name, f"{ctx.period_start:%Y-%m}", f"{ctx.period_end:%Y-%m}"]
    disclosure.require_gate_frame(out)
    # a series keeps its own period column, and areas their own codes
    series = sections.context.chart_data(_marked(pd.DataFrame({"area_code": ["X"], "area_name": ["x"],
                                                               "month": ["2024-04"], "offences": [9]})), ctx)
    assert list(series.columns) == ["area_code", "area_name", "month", "offences"]


# --------------------------------------------------------------------------- what the sections write
def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(page_dir() / name)


def test_spc_chart_data_by_hand():
    """XmR (NHS Making Data Count): centre line the mean, limits the mean +- 2.66 x the mean moving range.
    10, 14, 12, 16 repeated: mean 13, moving ranges 4, 2, 4, 6, ... (mean 42 / 11), limits 13 +- 10.156."""
    x = [10, 14, 12, 16] * 3
    s = sections.context._spc_frame(pd.Series(x, index=pd.date_range("2024-04-01", periods=12, freq="MS")))
    d = sections.context.spc_chart_data(s, [f"{m:%Y-%m}" for m in pd.date_range("2024-04-01", periods=12,
                                                                                   freq="MS")])
    assert list(d.columns) == ["month", "offences", "mean", "lower_process_limit", "upper_process_limit",
                               "variation", "special_cause_rule"]
    assert d["offences"].tolist() == x and d["month"].iloc[0] == "2024-04"
    assert d["mean"].iloc[0] == pytest.approx(13.0)
    assert d["upper_process_limit"].iloc[0] == pytest.approx(13 + 2.66 * 42 / 11)
    assert d["lower_process_limit"].iloc[0] == pytest.approx(13 - 2.66 * 42 / 11)
    q = sections.context.spc_chart_data(s, ["2024/25 Q1"] * 12, "quarter")
    assert list(q.columns[:2]) == ["quarter", "period_start"] and q["period_start"].iloc[1] == "2024-05"


def test_spc_chart_data_are_the_points_mean_and_process_limits(force_ctx, shown):
    ctx = force_ctx
    res = sections.monthly_spc(ctx)
    if not res.chart_csvs:
        pytest.skip(f"no SPC chart for {ctx.name} in the test data: {res.message}")
    assert res.chart_csvs == [page_dir() / "monthly_spc_chart.csv"]
    d = _csv("monthly_spc_chart.csv")
    if res.values.get("plan") != "xmr" and "offences_in_12_months_to_month" in d.columns:
        pytest.skip("no XmR chart for this area: rolling totals")
    label = next(c for c in ("month", "quarter", "financial_year") if c in d.columns)
    assert list(d.columns[:3]) == ["area_code", "area_name", label]
    assert set(d["area_code"]) == {ctx.code}
    assert {"offences", "mean", "lower_process_limit", "upper_process_limit", "variation"} <= set(d.columns)
    s = res.data  # the XmR frame the chart drew
    assert d["offences"].tolist() == s["value"].astype(int).tolist()
    # XmR (Making Data Count): limits are the mean +- 2.66 x the mean moving range, symmetric about the mean
    np.testing.assert_allclose(d["upper_process_limit"] - d["mean"], d["mean"] - d["lower_process_limit"], atol=2e-6)
    if (d["mean"] == d["mean"].iloc[0]).all():  # one set of limits: the mean is the points' mean
        x = d["offences"].to_numpy(float)
        assert d["mean"].iloc[0] == pytest.approx(x.mean(), abs=1e-6)
        assert d["upper_process_limit"].iloc[0] == pytest.approx(x.mean() + 2.66 * np.abs(np.diff(x)).mean(), abs=1e-5)


def test_funnel_chart_data_are_each_area_and_its_limits(ctx, shown):
    res = sections.rate_comparison(ctx)
    d = _csv("rate_comparison_chart.csv")
    assert res.chart_csvs[0].name == "rate_comparison_chart.csv"
    assert {"period_start", "period_end", "area_code", "area_name", "offences", "residents", "rate_per_1000",
            "comparator_code", "comparator_name", "comparator_value", "lower_95_limit", "upper_95_limit",
            "lower_998_limit", "upper_998_limit"} <= set(d.columns)
    assert ctx.code in set(d["area_code"]) and d["comparator_name"].eq("All CSPs in the data").all()
    # every rate and the centre line from the published counts and person-years (Spiegelhalter's funnel)
    np.testing.assert_allclose(d["rate_per_1000"], d["offences"] / d["person_years"] * 1000, rtol=1e-5)
    assert d["comparator_value"].iloc[0] == pytest.approx(d["offences"].sum() / d["person_years"].sum() * 1000,
                                                          rel=1e-5)
    assert (d["lower_998_limit"] < d["lower_95_limit"]).all() and (d["lower_95_limit"] < d["comparator_value"]).all()
    assert (d["comparator_value"] < d["upper_95_limit"]).all() and (d["upper_95_limit"] < d["upper_998_limit"]).all()
    # a bigger area has a narrower funnel
    big, small = d.loc[d["person_years"].idxmax()], d.loc[d["person_years"].idxmin()]
    assert big["upper_95_limit"] - big["lower_95_limit"] < small["upper_95_limit"] - small["lower_95_limit"]
    assert d["period_end"].iloc[0] == f"{ctx.period_end:%Y-%m}"


def test_trend_chart_data_are_observed_trend_and_adjusted(force_ctx, shown):
    res = sections.stl_trend(force_ctx)
    if not res.available:
        pytest.skip(res.message)
    d = _csv("stl_trend_chart.csv")
    assert list(d.columns) == ["area_code", "area_name", "month", "offences", "trend_offences_a_month",
                               "seasonally_adjusted_offences_a_month"]
    stl = res.data
    assert d["offences"].tolist() == stl["observed"].astype(int).tolist()
    np.testing.assert_allclose(d["trend_offences_a_month"], stl["trend"], atol=1e-6)
    # seasonally adjusted = observed - seasonal component
    np.testing.assert_allclose(d["seasonally_adjusted_offences_a_month"], stl["observed"] - stl["seasonal"], atol=2e-6)


def test_heatmap_data_hide_what_the_table_hides(force_ctx, shown):
    res = sections.when(force_ctx)
    if not res.available:
        pytest.skip(res.message)
    d = pd.read_csv(page_dir() / "when_chart.csv", dtype=str, keep_default_na=False)
    table = pd.read_csv(page_dir() / "day_time.csv", dtype=str, keep_default_na=False)
    shown_cells = dict(zip(table.iloc[:, 0], table.iloc[:, 1]))
    for _, row in d.iterrows():
        key = f"{row['day_of_week']} {row['time_block']}"  # the table's row: "Monday 00:00 to 03:00"
        v = shown_cells[key].replace(",", "")
        assert (row["offences"] == "" and v == "*") or row["offences"] == v, (key, v, row["offences"])


# --------------------------------------------------------------------------- every chart of built pages
@pytest.mark.slow
def test_every_chart_on_built_pages_has_its_csv(demo_data, tmp_path):
    """Each <img> of every built page (CSP profile, trend, young people, force overview, data quality) is
    followed by a link to its chart-data CSV, which exists, is on record as a chart's data, and has snake_case
    columns with the area and the period."""
    from svtools.publish import batch

    runs = [batch.run_build(notebooks=["csp_profile", "trend_seasonality", "cohort_under25"], csps=["E22000027"],
                            jobs=1, out=tmp_path, progress=False),
            batch.run_build(notebooks=["force_overview", "data_quality"], forces=["E23000013"], jobs=1,
                            out=tmp_path, progress=False)]
    n = 0
    for result in runs:
        assert result.ok, [(r.job_id, r.evalue) for r in result.results if r.status == "failed"]
        assert validate.validate_run(result.run_dir) == []
        manifest = json.loads((result.run_dir / "manifest.json").read_text())
        for job in manifest["jobs"]:
            page = result.run_dir / job["page"]
            charts = {t["file"]: t for t in job["tables"] if t.get("kind") == "chart"}
            links = validate.chart_links(page.read_text(encoding="utf-8"))
            assert links or job["notebook"] not in ("csp_profile", "force_overview"), job["page"]  # these have charts
            for alt, href in links:
                assert href in charts and (page.parent / href).is_file(), (job["page"], alt[:60], href)
                data = pd.read_csv(page.parent / href, dtype=str, keep_default_na=False)
                output.check_chart_columns(data, href)
                n += 1
            assert len(links) == len(charts), job["page"]  # no chart data without its chart
    assert n >= 8, n
