"""Geography on the real ONS lookups: LSOA -> LAD (2024) -> CSP (2024) -> PFA, with the real edge cases."""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.ingest import geography
from svtools.ingest import reference
from svtools.ingest.geography import assign_geography, areas, csp_population, lsoa_geography


@pytest.fixture(scope="module")
def geo():
    return lsoa_geography().set_index("lsoa_code")


def test_every_lsoa_has_one_csp(geo):
    assert geo.index.is_unique
    assert geo["csp_code"].notna().all() and geo["pfa_code"].notna().all()
    assert len(geo) == 34_753 + (geo["lsoa_vintage"] == "2021").sum()
    # all 314 CSPs of the 2024 lookup receive LSOAs
    assert geo["csp_code"].nunique() == 314


def test_cumbria_six_csps_inside_two_new_councils(geo):
    cumbria = geo[geo["pfa_name"] == "Cumbria"]
    pairs = cumbria.groupby("csp_name")["lad_name"].unique().apply(list).to_dict()
    assert pairs == {
        "Allerdale": ["Cumberland"], "Carlisle": ["Cumberland"], "Copeland": ["Cumberland"],
        "Barrow-in-Furness": ["Westmorland and Furness"], "Eden": ["Westmorland and Furness"],
        "South Lakeland": ["Westmorland and Furness"],
    }
    # each Cumbria LSOA goes to the CSP of its 2011 district
    assert (cumbria["csp_name"] == cumbria["district_2011"]).all()
    assert geo.loc["E01019126", "csp_name"] == "Allerdale"  # "Allerdale 001A" in the real 2022 police files


def test_cwm_taf_covers_two_councils(geo):
    cwm = geo[geo["csp_name"] == "Cwm Taf"]
    assert set(cwm["lad_name"]) == {"Rhondda Cynon Taf", "Merthyr Tydfil"}
    assert set(cwm["pfa_name"]) == {"South Wales"} and set(cwm["country"]) == {"Wales"}


def test_south_warwickshire_two_councils(geo):
    assert set(geo.loc[geo["csp_name"] == "South Warwickshire", "lad_name"]) == {"Stratford-on-Avon", "Warwick"}


def test_bcp_christchurch_goes_to_dorset_csp(geo):
    bcp = geo[geo["lad_code"] == "E06000058"]
    by_district = bcp.groupby("district_2011")["csp_name"].unique().apply(list).to_dict()
    assert by_district == {"Bournemouth": ["Bournemouth"], "Christchurch": ["Dorset"], "Poole": ["Poole"]}


def test_demo_forces_have_41_csps(geo):
    forces = geography.geography_settings()["demo_forces"]
    csps = geo.loc[geo["pfa_code"].isin(forces.values()), "csp_code"].unique()
    assert len(csps) == 41


def test_2021_only_codes_bridge_to_2011_parent(geo):
    new = geo[geo["lsoa_vintage"] == "2021"]
    assert len(new) > 1000
    assert new["lsoa11_code"].notna().all() and new["imd_decile"].notna().all()
    # the direct 2021 route agrees with the 2011 route on the LAD for unchanged codes
    l21 = reference.lsoa21_lad24().set_index("lsoa21_code")["lad24_code"]
    unchanged = geo[(geo["lsoa_vintage"] == "2011") & geo.index.isin(l21.index)]
    agree = (unchanged["lad_code"] == l21.reindex(unchanged.index)).mean()
    assert agree > 0.999


def test_city_of_london_records_in_neighbouring_boroughs_keep_their_lsoa_csp():
    frame = pd.DataFrame({"lsoa_code": ["E01000001", "E01004294", "E01002700"],
                          "reporting_force": ["E23000034"] * 3})
    out, counts = assign_geography(frame, force_column="reporting_force")
    assert out["csp_name"].tolist() == ["City of London", "Tower Hamlets", "Islington"]
    assert out["out_of_force"].tolist() == [False, True, True]
    assert counts["out_of_force"] == 2


def test_blank_unknown_and_malformed_lsoas_are_counted_not_dropped():
    frame = pd.DataFrame({"lsoa_code": ["E01019126", "", None, "E0101", "E01999999", " w01000001 "]})
    out, counts = assign_geography(frame)
    assert len(out) == len(frame)
    assert dict(counts) == {"located": 2, "unlocated": 2, "malformed": 1, "unknown": 1}
    assert out["lsoa_status"].tolist() == ["located", "unlocated", "unlocated", "malformed", "unknown", "located"]
    assert out.loc[5, "lsoa_code"] == "W01000001"


def test_deprivation_uses_each_nations_index(geo):
    assert geo.loc["E01000001", "imd_decile"] == 9   # IMD 2019 (England)
    assert geo.loc["W01000001", "imd_decile"] == 5   # WIMD 2019 (Wales)


def test_areas_and_population():
    a = areas()
    assert len(a) == 314 and a["csp_code"].is_unique
    cwm = a.set_index("csp_name").loc["Cwm Taf"]
    assert cwm["lad_codes"] == "W06000016;W06000024"
    pop = csp_population(2020, ["E22000027"])  # Hartlepool
    assert pop["age"].tolist() == list(range(91))
    lsoas = reference.population_lsoa11_wide(2020)
    hart = lsoa_geography().query("csp_code == 'E22000027' and lsoa_vintage == '2011'")["lsoa_code"]
    expected = lsoas[lsoas["lsoa11_code"].isin(hart)][reference.AGE_COLUMNS].to_numpy().sum()
    assert pop["population"].sum() == expected and 85_000 < expected < 100_000
