"""Red-red logic, the alert page's order and its links (svtools.publish.indicators, sections.spine.alerts)."""

from __future__ import annotations

import posixpath

import numpy as np
import pandas as pd

from svtools.publish import indicators as pi


def _table(rows):
    return pd.DataFrame(rows, columns=["indicator", "area_code", "label", "verdict", "trend"])


def test_red_red_needs_both_conditions():
    t = _table([
        ("a", "X", "A", "worse", "getting worse"),      # both: red-red
        ("b", "X", "B", "worse", "no clear change"),    # worse, trend not clear
        ("c", "X", "C", "similar", "getting worse"),    # getting worse, not worse than the benchmark
        ("d", "X", "D", "better", "getting worse"),
        ("e", "X", "E", "worse", "not assessed"),       # no trend model: never red-red
        ("f", "X", "F", "higher", "rising"),            # no polarity: never red-red
        ("a", "Y", "A", "worse", "getting worse"),
    ])
    assert pi.red_red_indicators(t, "X")["indicator"].tolist() == ["a"]
    assert pi.red_red_indicators(t)["area_code"].tolist() == ["X", "Y"]
    assert pi.red_red_indicators(t, "Z").empty


def test_severity_order():
    f = pd.DataFrame({
        "area_name": ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"],
        "red_red": [0, 2, 1, 0, 1, 0],
        "concern_points": [1, 0, 0, 3, 2, 0],
        "improvement_points": [0, 0, 0, 0, 0, 2],
    })
    out = pi.severity_order(f)
    # red-red count first; then concern before improvement only; then concern points; then name
    assert out["area_name"].tolist() == ["Bravo", "Echo", "Charlie", "Delta", "Alpha", "Foxtrot"]
    assert out["severity_rank"].tolist() == [1, 2, 3, 4, 5, 6]
    quiet = pd.DataFrame({"area_name": ["Golf"], "red_red": [0], "concern_points": [0], "improvement_points": [0]})
    assert pi.severity_order(quiet).empty


def test_latest_quarter_counts_only_recent_points():
    from svtools.analysis.stats.spc import spc_plan

    months = pd.date_range("2022-04-01", "2025-03-01", freq="MS")
    v = np.where(np.arange(len(months)) % 2 == 0, 20.0, 70.0)  # alternating: no run, no trend
    v[-1] = 400.0  # an astronomical point in the latest month
    v[5] = 400.0   # and one long ago, which must not count
    plan = spc_plan(pd.Series(v, index=months), "month", min_mean_per_point=10, min_points=12,
                    resolutions=("month", "quarter", "financial_year"))
    got = pi._latest_quarter_signals(plan, months[-1])
    assert got["charted"] and got["concern"] == 1 and got["improvement"] == 0


def test_alert_page_links_resolve(demo_data, shown):
    """Every CSP the page lists links to the page the build writes for it (relative to dataset/alerts/)."""
    from section_helpers import page_dir

    from svtools.publish import batch, sections

    res = sections.alerts("demo", "knife_serious_violence", "2025-03-31")
    jobs, _ = batch._plan(None, None, None, "demo", "knife_serious_violence", "2025-03-31")
    pages = {j.page for j in jobs}
    alert_page = next(j.page for j in jobs if j.name == "alerts")
    assert alert_page == "dataset/alerts/index.html"
    table = pi.alert_table("demo", "knife_serious_violence", "2025-03-31")
    assert res.values["flagged"] == table["area_code"].tolist()
    for code, link in zip(table["area_code"], res.values.get("links", [])):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(alert_page), link))
        assert target == f"csp/{code}/csp_profile/index.html"
        assert target in pages
    from svtools.publish.sections.spine import csp_link

    csp_jobs = [j for j in jobs if j.name == "csp_profile"]
    assert csp_jobs
    for j in csp_jobs:  # whichever CSPs are flagged, the link the page would give resolves
        assert posixpath.normpath(posixpath.join("dataset/alerts", csp_link("police_extract", j.area_code))) == j.page
    # the rule is stated and the page says what it found
    from section_helpers import texts

    words = " ".join(texts(shown))
    assert pi.SEVERITY_RULE in words
    if table.empty:
        assert "None of the CSPs" in words
    else:
        csv = pd.read_csv(page_dir() / "alerts.csv", dtype=str, keep_default_na=False)
        assert csv["severity_rank"].tolist() == [str(i) for i in range(1, len(csv) + 1)]
