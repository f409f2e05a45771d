"""Definitions of serious violence are data (YAML); applying one is one tested function."""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.ingest.definitions import apply_definition, definition_mask, list_definitions, load_definition
from svtools.errors import ConfigError, DataValidationError


def records():
    return pd.DataFrame({
        "ho_offence_code": ["1", "8N", "8N", "105A", "34B", "10D", "5D", "4/4"],
        "knife_flag": pd.array([False, True, False, True, True, True, True, False], dtype="boolean"),
        "domestic_flag": pd.array([False, True, False, None, False, False, False, False], dtype="boolean"),
        "victim_age": pd.array([30, 17, 40, 20, 15, None, 24, 50], dtype="Int16"),
    })


def test_shipped_definitions_load():
    names = list_definitions()
    assert {"knife_serious_violence", "homicide", "most_serious_violence"} <= set(names)
    for name in names:
        d = load_definition(name)
        assert d.source and d.description and d.offence_codes


def test_knife_enabled_serious_violence():
    out = apply_definition(records(), "knife_serious_violence")
    # 8N with knife, 34B with knife, 5D with knife; 105A (common assault) and 10D (possession) are not counted
    assert out["ho_offence_code"].tolist() == ["8N", "34B", "5D"]


def test_homicide_excludes_unlawful_driving():
    assert apply_definition(records(), "homicide")["ho_offence_code"].tolist() == ["1"]


def test_age_and_domestic_conditions():
    out = apply_definition(records(), "avon_somerset_2023")
    assert out["ho_offence_code"].tolist() == ["34B", "5D"]  # 8N under-25 is domestic; 10D age unknown


def test_works_on_monthly_counts_with_under_25_flag():
    counts = records().drop(columns="victim_age").assign(
        victim_under_25=pd.array([False, True, False, True, True, None, True, False], dtype="boolean"))
    mask = definition_mask(counts, "avon_somerset_2023")
    assert mask.tolist() == [False, False, False, False, True, False, True, False]


def test_missing_column_is_an_error():
    with pytest.raises(DataValidationError, match="knife_flag"):
        definition_mask(records().drop(columns="knife_flag"), "knife_serious_violence")


def test_bad_definition_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: t\ndescription: d\nsource: s\noffence_codes: ['8N', 'ZZZ']\n")
    with pytest.raises(ConfigError, match="ZZZ"):
        load_definition(str(bad))
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: odd\ntitle: t\ndescription: d\nsource: s\noffence_codes: ['8N']\nconditions: {colour: red}\n")
    with pytest.raises(ConfigError, match="unknown condition"):
        load_definition(str(odd))
    with pytest.raises(ConfigError, match="no definition"):
        load_definition("not_a_definition")
