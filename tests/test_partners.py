"""Partner data (issue 11 item 5): the SYNTHETIC generator, its truth, the ingest through the partner mappings,
the counts engine's local-authority level and academic years, and the partner page's sections and gate."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest import aggregate
from svtools.ingest.demo_partners import (
    PARTNER_FILES,
    generate_partner_data,
    ingest_partners,
    la_population,
    load_partner_truth,
    partners_config,
    time_blocks,
)
from svtools.publish import disclosure
from svtools.publish.sections import partners as P

SEED = 20250331
WARWICKSHIRE = "E10000031"


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """A small demo extract of two forces (Cleveland: unitary councils; Warwickshire: one county council over
    four CSPs) and its partner files, written by `svtools demo-data`'s generator."""
    from svtools.ingest.demo import generate_demo_data

    out = tmp_path_factory.mktemp("partners_raw")
    summary = generate_demo_data(out, forces=["cleveland", "warwickshire"], scale=0.05, progress=False)
    assert set(PARTNER_FILES) <= set(summary["files"])  # the hook: one demo-data run makes both
    return out


@pytest.fixture(scope="module")
def truth(raw) -> dict:
    return load_partner_truth(raw)


def _police(raw: Path) -> pd.DataFrame:
    """The extract read independently of the generator: located rows with their CSP and occurrence month."""
    from svtools.ingest.geography import lsoa_geography

    df = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(raw.glob("*_crime_extract.csv"))])
    geo = lsoa_geography().set_index("lsoa_code")["csp_code"]
    df["csp_code"] = df["LSOA 2011"].map(geo)
    df = df[df["csp_code"].notna()]
    df["occurred"] = pd.to_datetime(df["Committed From Date"].str[:10], format="%d/%m/%Y")
    return df


# --------------------------------------------------------------------------- the counts engine
def _fte_mapping(level: str | None = "area") -> dict:
    area = {"column": "la", "match": "utla_code"}
    if level:
        area["level"] = level
    return {"mapping_version": 2, "kind": "counts", "name": "t", "measure": "x", "disclosure": "police",
            "layout": "long", "area": area, "count": {"column": "n"},
            "period": {"column": "fy", "formats": ["%Y/%y"], "resolution": "financial_year"}}


def test_area_level_keeps_a_county_council_whole(tmp_path):
    f = tmp_path / "fte.csv"
    f.write_text("la,fy,n\nE10000031,2019/20,12\nE06000001,2019/20,5\nE10000031,2020/21,7\n")
    out, excluded, report = aggregate.read_counts([f], _fte_mapping(), "t")
    assert report.balanced() and report.counts_kept == 24 and len(excluded) == 0
    war = out[out["area_code"] == WARWICKSHIRE]
    lk = aggregate.utla_lookup()
    expected = sorted(set(lk.loc[lk["utla_code"] == WARWICKSHIRE, "csp_code"]))
    assert len(expected) == 4  # Warwickshire county council holds four CSPs (2024)
    assert war["csp_codes"].iloc[0].split(";") == expected
    assert set(war["pfa_code"]) == {"E23000017"}  # Warwickshire police force area
    assert out.loc[out["area_code"] == "E06000001", "csp_codes"].iloc[0] == "E22000027"  # Hartlepool
    assert sorted(report.csps) == sorted(expected + ["E22000027"])
    # at the default CSP level a council over several CSPs cannot be split: a clear error naming the column
    with pytest.raises(DataValidationError) as err:
        aggregate.read_counts([f], _fte_mapping(None), "t")
    msg = str(err.value)
    assert "several CSPs" in msg and "fte.csv" in msg and "'la'" in msg and "line 2" in msg


def test_academic_year_periods():
    p = aggregate.parse_periods(pd.Series(["201920", "2019/20", "201921", "2023/24"]), ["%Y%y", "%Y/%y"],
                                "academic_year")
    assert list(p[:2]) == [pd.Timestamp("2019-09-01")] * 2 and pd.isna(p[2])
    assert p[3] == pd.Timestamp("2023-09-01")
    m = _fte_mapping()
    m["period"] = {"column": "fy", "formats": ["%Y"], "resolution": "academic_year"}
    with pytest.raises(ConfigError, match="academic-year format"):
        aggregate.counts_mapping_from_dict(m)
    m["area"]["level"] = "district"
    with pytest.raises(ConfigError, match="area.level"):
        aggregate.counts_mapping_from_dict({**m, "period": {"column": "fy", "formats": ["%Y%y"],
                                                           "resolution": "academic_year"}})


def test_academic_year_has_no_financial_year(tmp_path):
    f = tmp_path / "exc.csv"
    f.write_text("la,fy,n\nE06000001,201920,3\n")
    m = _fte_mapping()
    m["period"] = {"column": "fy", "formats": ["%Y%y"], "resolution": "academic_year"}
    out, _, report = aggregate.read_counts([f], m, "t")
    assert out["period_start"].iloc[0] == pd.Timestamp("2019-09-01") and pd.isna(out["financial_year"].iloc[0])
    assert report.period_end == "2020-08-31"


# --------------------------------------------------------------------------- generation and truth
def test_generation_is_reproducible_from_the_seed(raw, tmp_path):
    a = generate_partner_data(tmp_path / "a", seed=SEED, raw=raw)
    b = generate_partner_data(tmp_path / "b", seed=SEED, raw=raw)
    c = generate_partner_data(tmp_path / "c", seed=SEED + 1, raw=raw)
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (tmp_path / "a" / name).read_bytes() == (raw / name).read_bytes(), name  # == the demo-data run
    assert (tmp_path / "c" / PARTNER_FILES[0]).read_bytes() != (tmp_path / "a" / PARTNER_FILES[0]).read_bytes()
    assert c["totals"]["ae"] != a["totals"]["ae"]


def test_truth_reconciles_with_the_files(raw, truth):
    ae = pd.read_csv(raw / "partner_ae_attendances.csv", dtype={"attendances": int})
    amb = pd.read_csv(raw / "partner_ambulance_callouts.csv")
    fte = pd.read_csv(raw / "partner_yjb_fte.csv")
    exc = pd.read_csv(raw / "partner_exclusions.csv", dtype={"time_period": str})
    assert truth["synthetic"] is True and "SYNTHETIC" in truth["note"]
    assert ae["attendances"].sum() == truth["ae"]["total"] == truth["ae"]["reported"] + truth["ae"]["never_reported"]
    by_csp = ae.groupby("csp_code")["attendances"].sum()
    assert {c: v["attendances"] for c, v in truth["ae"]["by_csp"].items()} == by_csp.to_dict()
    assert amb["callouts"].sum() == truth["ambulance"]["total"]
    assert amb.groupby("csp_code")["callouts"].sum().to_dict() == truth["ambulance"]["by_csp"]
    assert len(amb) == len(set(amb["csp_code"])) * 84 * len(time_blocks())  # every cell, zeros included
    assert fte["first_time_entrants"].sum() == truth["fte"]["total"]
    t = pd.DataFrame(truth["fte"]["by_la_year"])
    per = fte.groupby(["utla_code", "financial_year"])["first_time_entrants"].sum()
    assert per.to_dict() == t.set_index(["utla_code", "financial_year"])["fte"].to_dict()
    assert exc["count"].sum() == truth["exclusions"]["total"]
    assert exc["new_la_code"].str.startswith("E").all()  # DfE: England only
    assert set(exc["time_period"]) == {"201819", "201920", "202021", "202122", "202223", "202324"}
    # "unknown is never zero": not-recorded values are rows of their own
    for col in ("arrival_time", "age_band", "sex", "weapon"):
        assert (ae[col] == "Not recorded").any(), col


def test_ae_is_consistent_with_the_police_records(raw, truth):
    cfg = partners_config()
    police = _police(raw)
    codes = [str(c) for c in cfg["police_violence_with_injury"]]
    vwi = police[police["HO Class"].str.replace(".", "/", regex=False).isin(codes)
                 & police["occurred"].between("2018-04-01", "2025-03-31")]
    per = vwi.groupby(["csp_code", vwi["occurred"].dt.strftime("%Y-%m")]).size()
    t = pd.DataFrame(truth["ae"]["by_csp_month"]).set_index(["csp_code", "month"])
    assert (t["police_vwi_victims"].reindex(per.index) == per).all()
    assert t["police_vwi_victims"].sum() == len(vwi)
    assert (t["reported"] <= t["police_vwi_victims"]).all()  # the reported part is a subset of police victims
    q, s = cfg["ae"]["attend_share_of_police_vwi"], cfg["ae"]["never_reported_share"]
    # E[reported] = q P and E[never reported] = q P s / (1 - s): check within 4 standard errors
    p_total = int(t["police_vwi_victims"].sum())
    r, u = int(t["reported"].sum()), int(t["never_reported"].sum())
    assert abs(r - q * p_total) < 4 * math.sqrt(p_total * q * (1 - q))
    mu = q * p_total * s / (1 - s)
    assert abs(u - mu) < 4 * math.sqrt(mu)
    # knife-flagged police victims who attend are the reported knife attendances: never more than police knives
    knives = vwi["Weapon Knife Y/N"].eq("Y").sum()
    assert truth["ae"]["by_weapon"].get("Knife or sharp object", 0) <= knives + u
    # night-time: the never-reported profile peaks at night, so A&E arrivals 21:00-06:00 exceed an even share
    night = sum(v for k, v in truth["ae"]["by_arrival_time"].items() if k in cfg["night_blocks"])
    assert night / truth["ae"]["total"] > 3 / 8


def test_fte_follows_young_suspects_and_population(raw, truth):
    cfg = partners_config()
    t = pd.DataFrame(truth["fte"]["by_la_year"])
    assert WARWICKSHIRE in set(t["utla_code"])  # by council, not by CSP
    pop = la_population(10, 17)
    for fy, g in t.groupby("financial_year"):
        year = int(fy[:4])
        assert (g["population_10_17"].to_numpy()
                == pop[pop["mid_year"] == year].set_index("utla_code").loc[g["utla_code"], "population"].to_numpy()).all()
        # the expected national rate: sum of expected FTEs / population = the configured rate per 100,000
        assert g["expected"].sum() / g["population_10_17"].sum() * 1e5 == pytest.approx(
            cfg["fte"]["rate_per_100k_10_17"], rel=1e-3)
        # proportional to young suspects
        k = g["expected"] / g["young_suspect_crimes"].where(g["young_suspect_crimes"] > 0)
        assert k.dropna().std() / k.dropna().mean() < 1e-3


# --------------------------------------------------------------------------- ingest
def test_ingest_reconciles_with_the_truth(raw, truth, tmp_path):
    reps = ingest_partners(raw, tmp_path)
    for source in ("ae", "ambulance", "fte", "exclusions"):
        rec = reps[source]
        assert rec["balanced"] and rec["cells_excluded"] == 0, source
        assert rec["counts_kept"] == truth[source]["total"], source
    ae = pd.read_parquet(tmp_path / "partner_ae.parquet")
    assert ae["count"].sum() == truth["ae"]["total"] and not ae["suppressed"].any()
    assert {"arrival_time", "age_band", "sex", "weapon", "csp_code", "period_start"} <= set(ae.columns)
    fte = pd.read_parquet(tmp_path / "partner_yjb_fte.parquet")
    war = fte[fte["area_code"] == WARWICKSHIRE]
    assert len(war["csp_codes"].iloc[0].split(";")) == 4
    exc = pd.read_parquet(tmp_path / "partner_exclusions.parquet")
    assert (exc["period_start"].dt.month == 9).all() and exc["financial_year"].isna().all()
    assert set(exc["category"]) == {"Permanent exclusion / Physical assault against a pupil",
                                    "Permanent exclusion / Physical assault against an adult",
                                    "Suspension / Physical assault against a pupil",
                                    "Suspension / Physical assault against an adult"}
    rec = json.loads((tmp_path / "partner_reconciliation.json").read_text())
    assert rec["fte"]["counts_kept"] == truth["fte"]["total"]


def _copy(raw: Path, tmp: Path) -> Path:
    out = tmp / "raw"
    out.mkdir()
    for f in PARTNER_FILES:
        shutil.copy(raw / f, out / f)
    return out


def test_bad_values_name_file_column_and_lines(raw, tmp_path):
    bad = _copy(raw, tmp_path)
    ae = (bad / "partner_ae_attendances.csv").read_text().splitlines()
    ae[3] = ae[3].replace("Male", "Mael", 1) if "Male" in ae[3] else ae[3].replace("Female", "Femail", 1)
    (bad / "partner_ae_attendances.csv").write_text("\n".join(ae) + "\n")
    with pytest.raises(DataValidationError) as err:
        ingest_partners(bad, tmp_path / "out", check=True)
    msg = str(err.value)
    assert "partner_ae_attendances.csv" in msg and "'sex'" in msg and "line 4" in msg
    # lenient: excluded, counted, still balanced
    reps = ingest_partners(bad, tmp_path / "out", on_invalid="exclude", check=True)
    rec = reps["ae"]
    assert rec["excluded_cells_by_reason"] == {"dimension_value_not_allowed": 1}
    assert rec["cells_in"] == rec["cells_kept"] + rec["cells_excluded"]
    assert rec["counts_in"] == rec["counts_kept"] + rec["counts_excluded"]
    # a count that is not a whole number: the engine names the count column and the line
    amb = (bad / "partner_ambulance_callouts.csv").read_text().splitlines()
    head, first = amb[0], amb[1].rsplit(",", 1)[0]
    amb[1] = first + ",-3"
    (bad / "partner_ambulance_callouts.csv").write_text("\n".join(amb) + "\n")
    (bad / "partner_ae_attendances.csv").write_text((raw / "partner_ae_attendances.csv").read_text())
    with pytest.raises(DataValidationError) as err:
        ingest_partners(bad, tmp_path / "out", check=True)
    msg = str(err.value)
    assert "partner_ambulance_callouts.csv" in msg and "'callouts'" in msg and "line 2" in msg and head


def test_unknown_council_is_named(raw, tmp_path):
    bad = _copy(raw, tmp_path)
    fte = (bad / "partner_yjb_fte.csv").read_text().replace("E06000001,", "E06999999,", 1)
    (bad / "partner_yjb_fte.csv").write_text(fte)
    with pytest.raises(DataValidationError) as err:
        ingest_partners(bad, tmp_path / "out", check=True)
    assert "E06999999" in str(err.value) and "partner_yjb_fte.csv" in str(err.value)


# --------------------------------------------------------------------------- the statistics
def test_estimate_unreported_by_hand():
    z = 1.959963984540054
    e = P.estimate_unreported(100, 120, 0.4)  # x = 100 - 48 = 52
    assert e["x"] == 52 and e["n"] == 100 and e["share"] == pytest.approx(0.52)
    x, n = 52, 100
    lo = (2 * x + z * z - z * math.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z))
    hi = (2 * x + z * z + z * math.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z))
    assert e["lower"] == pytest.approx(lo) and e["upper"] == pytest.approx(hi)
    assert e["lower"] == pytest.approx(0.4231, abs=1e-4) and e["upper"] == pytest.approx(0.6153, abs=1e-4)
    assert P.estimate_unreported(100, 120, 1.0)["x"] == 0  # more police records than attendances: no bound
    assert P.estimate_unreported(0, 5, 0.4)["share"] is None


def test_series_plan():
    months = list(pd.date_range("2018-04-01", "2020-03-01", freq="MS"))
    big = pd.Series(20, index=months)
    assert P.series_plan(big, months, 7) == "month"
    quarterly = big.copy()
    quarterly.iloc[0] = 3  # one small month, its quarter 43
    assert P.series_plan(quarterly, months, 7) == "quarter"
    tiny = pd.Series(1, index=months)
    assert P.series_plan(tiny, months, 7) == "financial_year"  # 12 a year
    assert P.series_plan(pd.Series(0, index=months[:1]).reindex(months, fill_value=0).where(
        lambda s: s.index != months[0], 2), months, 7) is None  # one attendance-year of 2


# --------------------------------------------------------------------------- the page on the session's data
@pytest.fixture(scope="module")
def session_truth(demo_data):
    from svtools.paths import raw_dir

    return load_partner_truth(raw_dir() / "demo")


def test_ae_police_section(ctx, shown, session_truth):
    from section_helpers import alts, check_published, page_dir

    res = P.partner_ae_police(ctx)
    assert res.available
    check_published(res, page_dir())
    a, p = res.data["ae"], res.data["police"]
    truth = session_truth["ae"]["by_csp"][ctx.code]["attendances"]
    assert a[P.TOTAL] == truth
    assert p[P.TOTAL] == len(P.police_vwi(ctx))
    shown_a = a.drop(P.TOTAL).dropna()
    assert int(shown_a.sum()) == truth or res.values["resolution"] != "month"
    # the difference only where both are visible, and equal to their difference
    d = res.data["difference"]
    both = a.notna() & p.notna()
    assert (d[both] == (a - p)[both]).all() and d[~both].isna().all()
    csv = pd.read_csv(page_dir() / "partner_ae_police_chart.csv")
    assert list(csv.columns) == ["area_code", "area_name", "financial_year", "ae_assault_attendances",
                                 "police_violence_with_injury_victims"]
    assert csv["ae_assault_attendances"].sum() == truth
    assert any(ctx.name in x for x in alts(shown))


def test_unreported_section_recovers_the_truth(ctx, shown, session_truth):
    res = P.partner_unreported(ctx)
    assert res.available
    a = session_truth["ae"]["by_csp"][ctx.code]["attendances"]
    p = len(P.police_vwi(ctx))
    q = partners_config()["page"]["assumed_police_victims_attending"]
    assert res.values["central"] == P.estimate_unreported(a, p, q)
    true_share = session_truth["ae"]["by_csp"][ctx.code]["never_reported"] / a
    c = res.values["central"]
    # the estimate is centred on the truth: within three of its half-widths (binomial sampling of R)
    assert abs(c["share"] - true_share) < 3 * (c["upper"] - c["lower"]) / 2 + 0.02
    assert "assumption" in res.message and "95% CI" in res.message


def test_night_section(ctx, shown):
    from section_helpers import check_published, page_dir

    res = P.partner_night(ctx)
    assert res.available
    check_published(res, page_dir())
    pol = res.data["police"]
    truth = P._police_blocks(ctx).value_counts()
    for block, n in pol.drop(P.TOTAL).dropna().items():
        key = P.TIME_NOT_RECORDED if block == P.NOT_RECORDED else block
        assert n == truth.get(key, 0)
    night = res.values["night"]["Police"]
    if night is not None:
        x = int(sum(truth.get(b, 0) for b in res.values["night_blocks"]))
        assert night["x"] == x and night["n"] == int(truth.drop(P.TIME_NOT_RECORDED, errors="ignore").sum())
    table = pd.read_csv(page_dir() / "partner_night.csv")
    assert "Time not recorded" in set(table["Time block"])  # unknown is its own row


def test_youth_section(ctx, shown, session_truth):
    res = P.partner_youth(ctx)
    assert res.available
    t = pd.DataFrame(session_truth["fte"]["by_la_year"])
    for (la, src), counts in res.values["tables"].items():
        if src != "fte":
            continue
        truth = t[t["utla_code"] == la].set_index("financial_year")["fte"]
        for fy, n in counts["First-time entrants"].items():
            if pd.isna(n):
                assert 1 <= truth[fy] <= 4  # a year table with no total: only small counts are hidden
            else:
                assert n == truth[fy]


# --------------------------------------------------------------------------- the gate hides small cells
def test_gate_hides_small_partner_cells(ctx, shown, monkeypatch):
    """Small A&E counts: no visible count 1-7 anywhere, a hidden A&E cell hides its difference, and the breakdown
    total minus the visible cells never pins a hidden one."""
    from section_helpers import page_dir

    months = list(pd.date_range(ctx.period_start, ctx.period_end, freq="MS"))
    rng = np.random.default_rng(3)
    rows = []
    for m in months:
        for w in ("Knife or sharp object", "Body part (fists, feet)", "Not recorded"):
            n = int(rng.poisson({"Knife or sharp object": 0.05, "Body part (fists, feet)": 1.2}.get(w, 0.2)))
            if n:
                rows.append({"csp_code": ctx.code, "period_start": m, "arrival_time": "21:00-23:59",
                             "age_band": "18-24", "sex": "Male", "weapon": w, "count": n, "suppressed": False})
    small = pd.DataFrame(rows)
    real = P._table
    monkeypatch.setattr(P, "_table", lambda c, s: small if s == "ae" else real(c, s))
    res = P.partner_ae_police(ctx)
    assert res.available and res.values["resolution"] in ("quarter", "financial_year")
    a = res.data["ae"]
    assert not a.between(1, 7).fillna(False).any()
    assert res.data["difference"][a.isna()].isna().all()
    who = P.partner_ae_who(ctx)
    w = who.values["weapon"]
    knives = int(small.loc[small["weapon"] == "Knife or sharp object", "count"].sum())
    assert 1 <= knives <= 7 and pd.isna(w["Knife or sharp object"])  # the small cell is hidden
    assert w.drop(P.TOTAL).isna().sum() >= 2  # with a complement, so Total minus the rest does not give it
    assert not w.between(1, 7).fillna(False).any()
    for csv in page_dir().glob("partner_ae_*.csv"):
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        for col in [c for c in frame.columns if c.startswith("A&E assault attendances")]:
            vals = pd.to_numeric(frame[col].str.replace(",", ""), errors="coerce")
            assert not vals.between(1, 7).any(), csv.name
    assert disclosure.threshold("hospital") == 7


def test_a_dataset_without_partner_data_gets_one_line(ctx, shown, monkeypatch):
    monkeypatch.setattr(P, "_table", lambda c, s: None)
    for f in (P.partners_about, P.partner_ae_police, P.partner_unreported, P.partner_night, P.partner_ae_who,
              P.partner_youth):
        res = f(ctx)
        assert not res.available and "no " in res.message.lower()


def test_cli_partners_only_and_ingest_partners(raw, tmp_path, capsys):
    from svtools.cli import main

    out = tmp_path / "raw"
    out.mkdir()
    for f in raw.glob("*_crime_extract.csv"):
        shutil.copy(f, out / f.name)
    assert main(["demo-data", "--partners-only", "--out", str(out)]) == 0
    for name in PARTNER_FILES:  # the same bytes as the full demo-data run with the same seed
        assert (out / name).read_bytes() == (raw / name).read_bytes(), name
    assert main(["ingest", "--partners", "--raw", str(out), "--out", str(tmp_path / "processed")]) == 0
    said = capsys.readouterr().out
    assert "partner data (SYNTHETIC)" in said and "ae: " in said and "0 excluded" in said
    assert (tmp_path / "processed" / "partner_exclusions.parquet").is_file()


def test_a_wales_only_extract_has_no_exclusions_file(tmp_path):
    """DfE exclusions cover England only: a Welsh force's partner data have no exclusions file (not an empty one,
    which the ingest would refuse), and the other three sources are written."""
    from svtools.ingest.demo import generate_demo_data

    out = tmp_path / "raw"
    generate_demo_data(out, forces=["gwent"], scale=0.02, seed=SEED)
    assert not (out / "partner_exclusions.csv").exists()
    for name in PARTNER_FILES:
        if name != "partner_exclusions.csv":
            assert (out / name).is_file() and pd.read_csv(out / name).shape[0] > 0, name
