"""Mapping language v2 (docs/onboarding.md): the loader's checks and the field parsers."""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.errors import ConfigError
from svtools.ingest.mapping import load_mapping, mapping_from_dict, read_mapping_yaml
from svtools.ingest.parse import age_at, normalise_ho_code, parse_age_band_text, parse_dates_multi, parse_times

BASE = {"mapping_version": 2, "name": "x", "kind": "records",
        "fields": {"crime_ref": "Ref", "recorded_date": {"column": "Date", "formats": ["%d/%m/%Y"]},
                   "ho_offence_code": "HO", "knife_flag": "Knife"}}


def _with(**fields):
    raw = {**BASE, "fields": {**BASE["fields"], **fields}}
    return mapping_from_dict(raw, "m.yaml")


def test_shipped_mappings_load():
    for name in ("demo_extract", "police_uk", "niche_example"):
        m = load_mapping(name)
        assert m.version == 2 and m.fields


def test_text_loader_keeps_what_was_written(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("a: {Yes: true, No: false, 4.10: x, 008: y, On: 1, ~: z}\n")
    assert read_mapping_yaml(p)["a"] == {"Yes": True, "No": False, "4.10": "x", "008": "y", "On": "1", None: "z"}


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(colums={}), "unknown key 'colums'"),
    (lambda r: r["fields"].update(victim_agee="Age"), "did you mean 'victim_age'"),
    (lambda r: r["fields"].update(knife_flag={"column": "K", "value": {}}), "did you mean 'values'"),
    (lambda r: r["fields"].pop("crime_ref"), "required field"),
    (lambda r: r["fields"].update(recorded_date={"column": "D"}), "needs 'formats:'"),
    (lambda r: r["fields"].update(recorded_date={"column": "D", "formats": ["dd/mm/yyyy"]}), "not a strptime"),
    (lambda r: r.update(mapping_version=3), "mapping_version"),
    (lambda r: r["fields"].update(victim_age={"date_of_birth": "DOB"}), "needs 'formats:'"),
    (lambda r: r["fields"].update(victim_sex={"column": "S", "bands": True}), "bands is for ages"),
    (lambda r: r.update(constants={"crime_ref": "x"}), "both as a field and a constant"),
    (lambda r: r.update(date_window={"start": "01/01/2000"}), "YYYY-MM-DD"),
])
def test_mapping_errors_are_clear(edit, message):
    raw = {**BASE, "fields": dict(BASE["fields"])}
    edit(raw)
    with pytest.raises(ConfigError, match=message):
        mapping_from_dict(raw, "m.yaml")


def test_v1_mapping_with_a_wrong_schema_is_named():
    v1 = {"name": "old", "schema": "police_extrct", "columns": {"crime_ref": "Ref"}}
    with pytest.raises(ConfigError, match="schema 'police_extrct' is not known.*did you mean 'police_extract'"):
        mapping_from_dict(v1, "old.yaml")


def test_v1_mapping_is_translated():
    v1 = {"name": "old", "schema": "police_extract", "date_format": "%d/%m/%Y", "datetime_format": "%d/%m/%Y %H:%M",
          "columns": {"crime_ref": "Ref", "recorded_date": "Date", "occurred_at": "Occ", "ho_offence_code": "HO",
                      "knife_flag": "K"},
          "values": {"knife_flag": {"Y": True, "N": False}, "ho_offence_code": {"separator": "."}}}
    m = mapping_from_dict(v1, "old.yaml")
    assert m.fields["occurred_at"].formats == ("%d/%m/%Y %H:%M", "%d/%m/%Y")
    assert m.fields["knife_flag"].values == {"Y": True, "N": False}


@pytest.mark.parametrize("text, code", [("008/01", "8/1"), ("4.10", "4/10"), ("4.1", "4/1"), ("004/01", "4/1"),
                                        ("008N", "8N"), ("8n", "8N"), (" 105a ", "105A"), ("001", "1"),
                                        ("Assault with injury", "ASSAULT WITH INJURY")])
def test_home_office_codes_are_normalised(text, code):
    assert normalise_ho_code(text) == code


@pytest.mark.parametrize("text, bounds", [("18-24", (18, 24)), ("18 to 24", (18, 24)), ("25+", (25, 110)),
                                          ("65 and over", (65, 110)), ("Under 10", (0, 9)), ("17", (17, 17)),
                                          ("24-18", None), ("adult", None)])
def test_age_bands(text, bounds):
    assert parse_age_band_text(text) == bounds


def test_dates_with_several_formats_and_separate_times():
    s = pd.Series(["2023-04-01T13:45:00", "2023-04-02", "31-Mar-2018", None, "2023-02-30"], dtype="string")
    parsed, timed = parse_dates_multi(s, ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d-%b-%Y"])
    assert parsed.iloc[0] == pd.Timestamp("2023-04-01 13:45") and timed.tolist() == [True, False, False, False,
                                                                                       False]
    assert parsed.iloc[2] == pd.Timestamp("2018-03-31") and parsed.iloc[3:].isna().all()
    t = parse_times(pd.Series(["13:45", "0905", "25:00", None], dtype="string"), ["%H:%M", "%H%M"])
    assert t.iloc[0] == pd.Timedelta("13:45:00") and t.iloc[1] == pd.Timedelta("09:05:00") and t.iloc[2:].isna().all()


def test_age_at_offence_from_date_of_birth():
    dob = pd.Series(pd.to_datetime(["2000-03-01", "2000-03-01", "1999-12-31"]))
    when = pd.Series(pd.to_datetime(["2025-02-28", "2025-03-01", "2024-12-30"]))
    assert age_at(dob, when).tolist() == [24, 25, 24]
