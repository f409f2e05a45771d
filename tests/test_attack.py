"""The project attacks itself: a small two-force run with small counts on purpose, attacked from its files.

The attacker (``benchmarks/attack.py``) reads only what a partner receives - every CSV of the published run
and the structural part of its manifest - plus public lookups, sets up every sum relation the labels allow
(table margins, a force = its CSPs, months -> quarters -> years -> total, ages -> bands -> under 25, a day =
its time blocks, a CSP or decile = its neighbourhoods, one cell in two files) and bounds each hidden cell with
``scipy.optimize.milp`` (integers >= 0, hidden cells >= 1).

Pass: no hidden cell can be narrowed below the suppression band (fewer than 4 possible values), no hidden cell
is visible in another file, and duplicated cells agree.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORCES = ["cleveland", "cumbria"]  # Cumbria's small CSPs (Eden, Copeland) give plenty of small counts


def _attack_module():
    spec = importlib.util.spec_from_file_location("svtools_attack", ROOT / "benchmarks" / "attack.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def attacked_run(tmp_path_factory):
    from svtools.ingest import ingest_demo
    from svtools.ingest.demo import generate_demo_data
    from svtools.publish import batch

    root = tmp_path_factory.mktemp("attack")
    mp = pytest.MonkeyPatch()
    mp.setenv("SVTOOLS_DATA", str(root / "data"))
    mp.setenv("SVTOOLS_OUTPUTS", str(root / "outputs"))
    try:
        from svtools.paths import processed_dir, raw_dir

        generate_demo_data(raw_dir() / "demo", forces=FORCES, scale=0.05, progress=False)
        ingest_demo(raw_dir() / "demo", processed_dir() / "demo")
        result = batch.run_build(notebooks=["csp_profile", "force_overview", "cohort_under25"], jobs=2,
                                 out=root / "outputs", progress=False)
        run = Path(result.run_dir)
        report = _attack_module().attack(run, "demo")
        yield result, run, report
    finally:
        mp.undo()


@pytest.mark.slow
def test_the_run_built(attacked_run):
    result, run, _ = attacked_run
    assert (run / "index.html").is_file()
    assert result.count("failed") == 0
    assert result.count("ok") >= 10


@pytest.mark.slow
def test_the_attack_had_something_to_attack(attacked_run):
    """The test can fail: small counts are hidden across several families."""
    _, _, report = attacked_run
    assert report["total"]["hidden"] >= 20
    assert sum(1 for r in report["families"].values() if r["hidden"]) >= 3


@pytest.mark.slow
def test_no_hidden_cell_can_be_narrowed_below_the_band(attacked_run):
    _, _, report = attacked_run
    bad = {f: r["examples"] for f, r in report["families"].items() if r["narrower_than_band"]}
    assert report["total"]["exact"] == 0, bad
    assert report["total"]["narrower_than_band"] == 0, bad


@pytest.mark.slow
def test_no_hidden_cell_is_shown_elsewhere_and_duplicates_agree(attacked_run):
    _, _, report = attacked_run
    assert report["total"]["shown_elsewhere"] == 0
    assert report["total"]["conflicts"] == 0


def test_the_attacker_recovers_an_unprotected_cell(tmp_path):
    """The attacker is not blind: with only primary suppression it recovers a hidden cell by differencing."""
    import json

    import pandas as pd

    mod = _attack_module()
    areas = pd.DataFrame({"csp_code": ["A", "B"], "pfa_code": ["F", "F"]})
    lsoa = pd.DataFrame({"lsoa_code": ["L1"], "csp_code": ["A"], "imd_decile": [1]})
    page = tmp_path / "p"
    page.mkdir()
    jobs = []
    for code, rows in (("A", [("x", "*"), ("y", "20"), ("Total", "22")]), ("F", [("x", "12"), ("y", "40"),
                                                                                ("Total", "52")])):
        pd.DataFrame(rows, columns=["Offence type", "Offences"]).to_csv(page / f"mix_{code}.csv", index=False)
        jobs.append({"page": f"p/index_{code}.html", "tables": [{
            "file": f"mix_{code}.csv", "count_columns": ["Offences"],
            "gate": {"family": "offence_mix", "area_code": code}}]})
    (tmp_path / "manifest.json").write_text(json.dumps({"jobs": jobs}))
    a = mod.Attack(tmp_path, areas, lsoa).read()
    r = a.solve()["offence_mix"]
    assert r["hidden"] == 1 and r["exact"] == 1  # A's x = 22 - 20 = 2


def test_the_attacker_reads_the_young_rates_and_their_residents(tmp_path):
    """The young people's rates by financial year (family offences_by_year_and_age_*) are attacked: their cells
    join the definition's period universe, and a rate shown beside its residents bounds its count. A rate
    published for a hidden count would give it back (0.30 per 1,000 of 10,000 residents: 3); shown as * it
    leaves the count anywhere from 1 to 20."""
    import json

    import pandas as pd

    mod = _attack_module()
    areas = pd.DataFrame({"csp_code": ["A"], "pfa_code": ["F"]})
    lsoa = pd.DataFrame({"lsoa_code": ["L1"], "csp_code": ["A"], "imd_decile": [1]})
    results = {}
    for shown in ("0.30", "*"):
        run = tmp_path / ("leak" if shown != "*" else "safe")
        (run / "p").mkdir(parents=True)
        pd.DataFrame({"Financial year": ["2019/20"], "All ages": ["20"], "Under 25": ["*"],
                      "Age not recorded": ["0"], "Residents aged 0 to 24": ["10,000"],
                      "Rate per 1,000 residents aged 0 to 24": [shown],
                      "Rate if every unrecorded age were under 25": [shown]}).to_csv(
            run / "p" / "under25_rates_by_year.csv", index=False)
        (run / "manifest.json").write_text(json.dumps({"jobs": [{"page": "p/index.html", "tables": [{
            "file": "under25_rates_by_year.csv", "count_columns": ["All ages", "Under 25", "Age not recorded"],
            "gate": {"family": "offences_by_year_and_age_knife_serious_violence", "area_code": "A"}}]}]}))
        a = mod.Attack(run, areas, lsoa).read()
        assert not a.skipped
        results[shown] = (a.solve()["period_knife_serious_violence"], a.rate_bounds)
    leak, n_leak = results["0.30"]
    assert n_leak == 2 and leak["hidden"] == 1 and leak["exact"] == 1
    safe, n_safe = results["*"]
    assert n_safe == 0 and safe["hidden"] == 1 and safe["narrower_than_band"] == 0
    assert mod._rate_bounds("0.30", "10,000") == (3, 3) and mod._rate_bounds("*", "10,000") is None


def test_the_attacker_reads_the_data_behind_charts(tmp_path):
    """Chart CSVs are attacked too, by column name: a series chart's ``offences`` by ``month`` joins the
    definition's period universe, so a chart showing a month its table hides is caught (shown elsewhere), and
    rolling 12-month totals are sums of their months. Charts of categories are listed as not attacked."""
    import json

    import pandas as pd

    mod = _attack_module()
    areas = pd.DataFrame({"csp_code": ["A"], "pfa_code": ["F"]})
    lsoa = pd.DataFrame({"lsoa_code": ["L1"], "csp_code": ["A"], "imd_decile": [1]})
    months = [f"2019-{m:02d}" for m in range(4, 13)] + [f"2020-{m:02d}" for m in range(1, 4)]
    page = tmp_path / "p"
    page.mkdir()
    pd.DataFrame({"Month": months, "Offences": ["*"] + ["10"] * 11}).to_csv(page / "series.csv", index=False)
    pd.DataFrame({"area_code": "A", "area_name": "Area A", "month": months,
                  "offences": ["3"] + ["10"] * 11}).to_csv(page / "monthly_spc_chart.csv", index=False)
    pd.DataFrame({"area_code": "A", "area_name": "Area A", "month": ["2020-03"],
                  "offences_in_12_months_to_month": ["113"]}).to_csv(page / "monthly_spc_chart_2.csv", index=False)
    pd.DataFrame({"area_code": "A", "area_name": "Area A", "period_start": "2019-04", "period_end": "2020-03",
                  "offence_type": ["x"], "offences": ["120"]}).to_csv(page / "offence_mix_chart.csv", index=False)
    gate = {"family": "offences_by_period_knife_serious_violence", "area_code": "A"}
    tables = [{"file": "series.csv", "count_columns": ["Offences"], "gate": gate},
              {"file": "monthly_spc_chart.csv", "count_columns": ["offences"], "kind": "chart",
               "section": "monthly_spc"},
              {"file": "monthly_spc_chart_2.csv", "count_columns": ["offences_in_12_months_to_month"],
               "kind": "chart", "section": "monthly_spc"},
              {"file": "offence_mix_chart.csv", "count_columns": ["offences"], "kind": "chart",
               "section": "offence_mix"}]
    (tmp_path / "manifest.json").write_text(json.dumps({"definition": {"name": "knife_serious_violence"},
                                                        "jobs": [{"page": "p/index.html", "tables": tables}]}))
    a = mod.Attack(tmp_path, areas, lsoa).read()
    assert dict(a.skipped) == {"chart:offence_mix_chart.csv": 1}
    r = a.solve()["period_knife_serious_violence"]
    assert r["hidden"] == 1 and r["shown_elsewhere"] == 1 and r["conflicts"] == 0
