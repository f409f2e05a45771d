"""The national SYNTHETIC demo (``svtools demo-data --forces all``): every territorial force of England and Wales.

One module-scoped run generates three forces at scale 0.02: Cleveland (one of the nine demo forces, calibrated
to its real data.police.uk street files) and two forces without street files (the City of London Police, one
CSP, and Gwent, five Welsh CSPs), calibrated to the real Home Office 2019/20 force counts by the rules in
``config/demo.yaml`` ``national``. ``--forces all`` is checked by resolving it, without generating 43 forces.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from svtools.ingest import ingest_demo
from svtools.ingest.demo import generate_demo_data, national_force_names, national_forces, resolve_forces
from svtools.ingest.demo_model import (
    _force_slugs,
    demo_config,
    expand_config,
    home_office_counts,
    mapping_force_block,
    write_mapping_force_block,
)
from svtools.ingest.geography import areas, lsoa_geography
from svtools.ingest.reference import lad24_csp_pfa, population_lsoa11_wide, AGE_COLUMNS
from svtools.paths import CONFIG, real_data_dir

FORCES = ["cleveland", "city-of-london", "gwent"]          # generator order: demo forces first
HO_FORCES = {"city-of-london": "E23000034", "gwent": "W15000002"}
SCALE = 0.02
Z_MAX = 5.0


@pytest.fixture(scope="module")
def nat(tmp_path_factory):
    out = tmp_path_factory.mktemp("national_raw")
    summary = generate_demo_data(out, forces=["gwent", "city-of-london", "cleveland"], scale=SCALE, progress=False)
    rows = pd.concat([pd.read_csv(out / f"{f}_crime_extract.csv", dtype=str, keep_default_na=False)
                      for f in FORCES], ignore_index=True)
    truth = json.loads((out / "truth.json").read_text())
    return SimpleNamespace(out=out, summary=summary, rows=rows, truth=truth)


# --------------------------------------------------------------------------------------------- force list
def test_all_resolves_to_the_43_territorial_forces():
    every = resolve_forces(["all"])
    lookup = lad24_csp_pfa()
    assert len(every) == 43 == lookup["pfa_code"].nunique()
    info = national_forces()
    assert {info[s]["pfa_code"] for s in every} == set(lookup["pfa_code"])
    assert every[:9] == _force_slugs()                       # the demo forces keep generator positions 0-8
    assert info["metropolitan"]["pfa_code"] == "E23000001" and info["city-of-london"]["pfa_code"] == "E23000034"
    assert info["devon-and-cornwall"]["pfa_name"] == "Devon & Cornwall"
    assert [s for s in every if info[s]["street_files"]] == _force_slugs()
    assert areas()["csp_code"].nunique() == 314
    assert resolve_forces(None) == _force_slugs() == resolve_forces(["demo"])
    assert resolve_forces(["gwent", "cleveland", "gwent"]) == ["cleveland", "gwent"]
    with pytest.raises(Exception, match="unknown force slug"):
        resolve_forces(["atlantis"])


def test_rules_give_every_force_its_values_without_hand_entry():
    cfg = expand_config(demo_config(), resolve_forces(["all"]))
    forces = cfg["forces"]
    assert len(forces) == 43
    prefixes = [f["prefix"] for f in forces.values()]
    assert len(set(prefixes)) == 43 and forces["city-of-london"]["prefix"] == "E34"
    assert forces["gwent"]["prefix"] == "W02" and forces["cleveland"]["prefix"] == "CL"   # demo value kept
    tr = cfg["national"]["trend"]
    new = [f["trend_rate_ratio"] for s, f in forces.items() if s not in _force_slugs()]
    assert all(tr["min"] <= r <= tr["max"] for r in new) and len(set(new)) > 20
    # geometric mean of 34 draws around 1.032 with log sd 0.027: within 4 standard errors
    assert abs(np.log(new).mean() - np.log(tr["geometric_mean"])) < 4 * tr["log_sd"] / np.sqrt(len(new))
    for slug, pct in cfg["victims"]["population_ethnicity_pct"].items():
        assert abs(sum(pct.values()) - 100) < 0.3, slug
    # London is far more diverse than Gwent (real Census 2021 shares)
    eth = cfg["victims"]["population_ethnicity_pct"]
    assert eth["metropolitan"]["White"] < 60 < 90 < eth["gwent"]["White"]
    # the same rules, the same values (no dependence on the order asked)
    again = expand_config(demo_config(), ["gwent"])["forces"]["gwent"]
    assert again == forces["gwent"]


def test_home_office_counts_are_the_real_table():
    raw = pd.read_csv(real_data_dir() / "home_office_prc" / "prc_pfa_2019-20_by_quarter_offence_code.csv")
    ho = home_office_counts()
    assert len(ho) == 43
    gwent = raw[raw["Force Name"] == "Gwent"]
    assert ho.at["W15000002", "robbery"] == gwent.loc[gwent["Offence Group"] == "Robbery", "Number of Offences"].sum()
    vso = gwent[gwent["Offence Group"].isin(["Violence against the person", "Sexual offences"])
                & (gwent["Offence Subgroup"] != "Homicide")]
    assert ho.at["W15000002", "vso"] == vso["Number of Offences"].sum()
    # SOURCES.md quotes possession of weapons 46,666 (it says "territorial forces and BTP", but 46,666 is the
    # 43 territorial forces alone: BTP adds 778); the all-rows total of the group is 47,444
    assert ho["weapons"].sum() == 46666
    assert raw.loc[raw["Offence Group"] == "Possession of weapons offences", "Number of Offences"].sum() == 47444
    assert ho.at["E23000034", "vso"] > 0                       # "London, City of" matched


def test_mapping_lists_every_force_from_one_source(tmp_path):
    from svtools.ingest.mapping import load_mapping

    names = national_force_names()
    assert len(names) == 43 and len(set(names.values())) == 43
    values = load_mapping("demo_extract").fields["reporting_force"].values
    assert values == names
    copy = tmp_path / "demo_extract.yaml"
    copy.write_text((CONFIG / "mappings" / "demo_extract.yaml").read_text())
    assert write_mapping_force_block(copy) is False              # the shipped mapping is up to date
    assert mapping_force_block() in copy.read_text()


# --------------------------------------------------------------------------------------- a small national run
def test_reproducible_to_the_byte_and_independent_of_the_other_forces(nat, tmp_path):
    again = generate_demo_data(tmp_path / "b", forces=FORCES, scale=SCALE, progress=False)
    assert again["files"] == nat.summary["files"]
    for name in nat.summary["files"]:
        assert (tmp_path / "b" / name).read_bytes() == (nat.out / name).read_bytes(), name
    # a force without street files generated alone: the same bytes (its generator position is fixed). The City
    # of London, not Gwent: the partner-data hook (demo_partners) cannot yet run on a Wales-only extract.
    alone = generate_demo_data(tmp_path / "c", forces=["city-of-london"], scale=SCALE, progress=False)
    extract = "city-of-london_crime_extract.csv"
    assert (tmp_path / "c" / extract).read_bytes() == (nat.out / extract).read_bytes()
    assert alone["rows_per_force"]["city-of-london"] == nat.summary["rows_per_force"]["city-of-london"]


def test_every_csp_of_the_forces_in_the_2024_geography(nat):
    pfas = {national_forces()[f]["pfa_code"] for f in FORCES}
    want = set(areas().loc[areas()["pfa_code"].isin(pfas), "csp_code"])
    assert len(want) == 4 + 1 + 5
    assert set(nat.truth["expected_counts"]) == want
    geo = lsoa_geography().set_index("lsoa_code")
    located = nat.rows.loc[nat.rows["LSOA 2011"] != "", "LSOA 2011"]
    assert located.isin(geo.index).all()
    assert set(geo.loc[located.unique(), "csp_code"]) == want     # records in every CSP
    assert (geo.loc[located.unique(), "lsoa_vintage"] == "2011").all()
    assert set(nat.rows["Owning Force"]) == {"Cleveland Police", "City of London Police", "Gwent Police"}


def test_truth_matches_the_generated_totals(nat):
    t = nat.truth
    crimes = nat.rows.drop_duplicates("Crime Number").copy()
    assert t["realised"]["rows"] == len(nat.rows) and t["realised"]["crimes"] == len(crimes)
    crimes["force"] = crimes["Crime Number"].str.extract(r"^([A-Z0-9]+)/")[0]
    prefix = {"CL": "cleveland", "E34": "city-of-london", "W02": "gwent"}
    per_force = crimes["force"].map(prefix).value_counts().to_dict()
    assert per_force == t["realised"]["crimes_per_force"]
    # realised crimes per CSP x financial year: located ones from the file, blank-LSOA ones only in the truth
    geo = lsoa_geography().set_index("lsoa_code")["csp_code"]
    rec = pd.to_datetime(crimes["Date Recorded"], format="%d/%m/%Y")
    fy = np.where(rec.dt.month >= 4, rec.dt.year, rec.dt.year - 1)
    crimes["fy"] = [f"{y}/{(y + 1) % 100:02d}" for y in fy]
    loc = crimes[crimes["LSOA 2011"] != ""]
    got = loc.groupby([loc["LSOA 2011"].map(geo), "fy"]).size()
    blank = (crimes["LSOA 2011"] == "").sum()
    realised = {(c, f): v["realised_total"] for c, e in t["expected_counts"].items()
                for f, v in e["expected_by_financial_year"].items()}
    assert sum(realised.values()) == len(crimes)
    assert all(got.get(k, 0) <= v for k, v in realised.items())
    assert sum(realised.values()) - got.sum() == blank
    # expected vs realised per force over the period (negative binomial CSP x month variance)
    k = t["intensity"]["nb_shape"]
    months = t["period"]["months"]
    for force in FORCES:
        csps = [c for c, e in t["expected_counts"].items() if e["force"] == force]
        exp = np.array([sum(v["total"] for v in t["expected_counts"][c]["expected_by_financial_year"].values())
                        for c in csps])
        var = (exp + exp ** 2 / (k * months)).sum()
        z = (t["realised"]["crimes_per_force"][force] - exp.sum()) / np.sqrt(var)
        assert abs(z) < Z_MAX, (force, z)


def test_home_office_calibration_holds_exactly_in_the_truth(nat):
    t = nat.truth
    ho = t["calibration"]["home_office"]
    assert ho["forces"] == ["city-of-london", "gwent"]
    counts = home_office_counts()
    for force, pfa in HO_FORCES.items():
        csps = {c: e for c, e in t["expected_counts"].items() if e["force"] == force}
        for stream in ("vso", "robbery", "weapons"):
            real = counts.at[pfa, stream]
            assert ho["real_counts_2019_20"][force][stream] == real
            # the window is the financial year 2019/20: expected = scale x the real count (3-decimal rounding)
            exp = sum(e["expected_by_financial_year"]["2019/20"][stream] for e in csps.values())
            assert exp == pytest.approx(SCALE * real, abs=1e-3 * len(csps) + 1e-9)
            share = sum(e["calibration_home_office_2019_20_share"][stream] for e in csps.values())
            assert share == pytest.approx(real, abs=1e-3 * len(csps))
    # the rule by hand for Gwent's CSPs: population x rr ** (5.5 - decile), from the reference tables
    geo = lsoa_geography()
    g = geo[(geo["lsoa_vintage"] == "2011") & (geo["pfa_code"] == "W15000002")]
    wide = population_lsoa11_wide(2020)
    pop = pd.Series(wide[AGE_COLUMNS].sum(axis=1).to_numpy(float), index=wide["lsoa11_code"])
    rr = ho["deprivation_rate_ratio_per_decile"]["robbery"]
    w = g["lsoa_code"].map(pop).to_numpy() * rr ** (5.5 - g["imd_decile"].astype(float).to_numpy())
    by_csp = pd.Series(w).groupby(g["csp_code"].to_numpy()).sum() / w.sum() * counts.at["W15000002", "robbery"]
    for csp, value in by_csp.items():
        assert t["expected_counts"][csp]["calibration_home_office_2019_20_share"]["robbery"] == \
            pytest.approx(value, abs=1e-3)
    # the street-file force keeps its street calibration
    cl = [e for e in t["expected_counts"].values() if e["force"] == "cleveland"]
    assert all("calibration_real_counts_2022_jan_nov" in e for e in cl)
    assert "APPROXIMATE" in t["victims"]["ethnicity"]["note"] and "TS021" in t["victims"]["ethnicity"]["note"]


def test_national_extract_ingests_with_no_unexplained_exclusion(nat, tmp_path):
    report = ingest_demo(nat.out, tmp_path / "processed", on_invalid="raise")
    assert report.balanced() and report.rows_in == len(nat.rows)
    assert set(report.excluded) <= {"unlocated"}
    assert report.excluded.get("unlocated", 0) == (nat.rows["LSOA 2011"] == "").sum()
    parts = {p.name.split("=", 1)[1] for p in (tmp_path / "processed" / "records").glob("csp_code=*")}
    assert parts == set(nat.truth["expected_counts"])
