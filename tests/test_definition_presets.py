"""The local definitions of the seed reports as presets (config/definitions/*.yaml): each loads, quotes its
source, uses only real Home Office codes, and counts what its wording says (expectations written from the
wording, not copied from the YAML); the loader's parts, location and suspect-age conditions; the overlap
arithmetic; the catalogue behind ``svtools definitions``."""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.definitions import (
    Definition,
    definition_catalogue,
    definition_from_mapping,
    definition_mask,
    definition_overlap,
    list_definitions,
    load_definition,
)
from svtools.ingest.reference import offence_codes

PRESETS = ["llr_vrn_2024", "kent_medway_2023", "avon_somerset_2023", "avon_somerset_2023_public_place"]
HOMICIDE = {"1", "4/1", "4/2", "4/10"}
RAPE = {"19C", "19D", "19E", "19F", "19G", "19H"}


def one(code, knife=False, domestic=False, victim_age=30, suspect_age=30, location="Street"):
    return {"ho_offence_code": code, "knife_flag": knife, "domestic_flag": domestic, "victim_age": victim_age,
            "suspect_age": suspect_age, "location_type": location}


def frame(*rows) -> pd.DataFrame:
    f = pd.DataFrame(list(rows))
    return f.astype({"ho_offence_code": "string", "knife_flag": "boolean", "domestic_flag": "boolean",
                     "victim_age": "Int16", "suspect_age": "Int16", "location_type": "string"})


def counted(name, *rows) -> list[bool]:
    return definition_mask(frame(*rows), name).tolist()


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_loads_quotes_its_source_and_uses_real_codes(name):
    d = load_definition(name)
    assert d.name == name and d.applies_to == "records"
    assert d.source and d.source_wording.startswith('"') and len(d.source_wording) > 80
    assert len(d.judgements) >= 5 and d.not_captured
    known = set(offence_codes()["ho_offence_code"])  # the list the ingest validates codes against
    assert d.offence_codes and set(d.offence_codes) <= known
    assert not set(d.offence_codes) & {"4/4", "4/6", "4/8", "4/9", "37/1"}  # unlawful driving is not violence


@pytest.mark.parametrize("name", PRESETS)
def test_presets_quote_the_seed_documents_word_for_word(name):
    """The quoted wording is in the seed document the source names (the seeds: ../shared/seeds)."""
    from svtools.paths import ROOT

    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("seed documents not present")
    d = load_definition(name)
    number = {"llr_vrn_2024": "001", "kent_medway_2023": "003"}.get(name, "004")  # the seeds' numbers
    seed = next(seeds.glob(f"{number}_*.txt"))
    text = " ".join(seed.read_text(encoding="utf-8").replace("*", "").replace("\u2019", "'").split())
    quote = d.source_wording.strip('"').replace("\u2019", "'")
    assert quote[:60] in text and quote[-40:] in text


def test_llr_violence_with_injury_and_sexual_violence_in_any_place():
    # "significant physical injury ... including sexual violence ... with or without weapons ... domestic or public"
    got = counted("llr_vrn_2024",
                  one("19C"),                       # rape
                  one("5D"),                        # GBH with intent
                  one("8N", domestic=True, location="Dwelling"),  # domestic assault with injury, at home
                  one("1"),                         # murder, no knife
                  one("105A"),                      # common assault: no injury
                  one("8L"),                        # harassment: no injury
                  one("4/4"))                       # death by dangerous driving
    assert got == [True, True, True, True, False, False, False]
    d = load_definition("llr_vrn_2024")
    assert HOMICIDE | RAPE | {"2", "5D", "5E", "8N", "20A"} <= set(d.offence_codes)
    assert not d.conditions  # no knife, domestic or location condition


def test_kent_parts():
    got = counted("kent_medway_2023",
                  one("34A"), one("34B"),           # robbery, any weapon
                  one("92A", victim_age=None),      # drug supply
                  one("1"),                         # homicide, no knife
                  one("8N", knife=True),            # knife crime
                  one("8N"),                        # assault with injury, no knife, not domestic
                  one("8N", domestic=True),         # domestic abuse
                  one("88E"),                       # a sexual offence
                  one("10D", victim_age=None),      # possession of a blade: knife crime
                  one("10A", victim_age=None),      # firearms possession: gun crime
                  one("105A", domestic=True),       # domestic common assault: not serious violence
                  one("92D", victim_age=None))      # drug possession: not supply
    assert got == [True, True, True, True, True, False, True, True, True, True, False, False]
    d = load_definition("kent_medway_2023")
    assert {"homicide", "knife crime", "robbery", "gun crime", "domestic abuse", "sexual offences",
            "drug supply"} <= set(d.part_labels)
    assert any("gang" in t.lower() for t in d.not_captured)
    assert any("county lines" in t.lower() for t in d.not_captured)


def test_avon_somerset_is_victims_under_25_and_not_domestic():
    got = counted("avon_somerset_2023",
                  one("8N", victim_age=19), one("8N", victim_age=25), one("8N", victim_age=None),
                  one("34B", victim_age=16), one("8N", victim_age=19, domestic=True),
                  one("1", victim_age=22), one("2", victim_age=22), one("106", victim_age=20),
                  one("3B", victim_age=17), one("3B", victim_age=17, knife=True))
    assert got == [True, False, False, True, False, True, True, True, False, True]
    d = load_definition("avon_somerset_2023")
    assert d.conditions == {"domestic_flag": False, "victim_age": {"max": 24}}
    words = " ".join(d.not_captured).lower()
    assert "alcohol" in words and "county lines" in words


def test_avon_somerset_public_place_reading():
    got = counted("avon_somerset_2023_public_place",
                  one("8N", victim_age=19),                              # street: counted
                  one("8N", victim_age=19, location="Dwelling"),         # a dwelling is not public space
                  one("8N", victim_age=19, location=None),               # blank location: not known public
                  one("8N", victim_age=19, location=" licensed  PREMISES"),  # spelling and case do not matter
                  one("10D", victim_age=None, suspect_age=17),           # knife possession by a 17-year-old
                  one("10D", victim_age=None, suspect_age=40),
                  one("10D", victim_age=None, suspect_age=None),
                  one("8N", victim_age=40, suspect_age=17))              # an adult victim
    assert got == [True, False, False, True, True, False, False, False]


def test_the_page_preset_works_on_monthly_counts_and_the_record_reading_says_what_it_needs():
    counts = pd.DataFrame({"ho_offence_code": ["8N", "8N", "10D"], "knife_flag": [True, False, True],
                           "domestic_flag": [False, False, False], "victim_under_25": [True, True, False],
                           "offences": [3, 4, 5]})
    assert definition_mask(counts, "avon_somerset_2023").tolist() == [True, True, False]
    with pytest.raises(DataValidationError, match="location_type"):
        definition_mask(counts, "avon_somerset_2023_public_place")


def test_national_success_measures_are_the_existing_definitions_not_copies():
    """One source of truth: the police success measures are homicide.yaml and knife_serious_violence.yaml."""
    names = list_definitions()
    assert {"homicide", "knife_serious_violence"} <= set(names)
    assert set(load_definition("homicide").offence_codes) == HOMICIDE
    knife = load_definition("knife_serious_violence")
    assert knife.conditions == {"knife_flag": True} and HOMICIDE | {"2", "3B", "5D", "8N", "34B", "19C"} <= set(
        knife.offence_codes)
    signatures = {}
    for n in names:
        d = load_definition(n)
        key = (frozenset(d.offence_codes), repr(sorted(d.conditions.items())), d.part_labels)
        assert key not in signatures, f"{n} duplicates {signatures.get(key)}"
        signatures[key] = n


def test_overlap_arithmetic():
    f = frame(one("1"), one("8N", knife=True), one("8N"), one("34B"), one("105A"))
    # homicide = {1}; knife_serious_violence = {1 if knife} -> {8N knife}; so A = {0}, B = {1}
    a = definition_mask(f, "kent_medway_2023")   # rows 0, 1, 3
    b = definition_mask(f, "llr_vrn_2024")       # rows 0, 1, 2
    assert a.tolist() == [True, True, False, True, False] and b.tolist() == [True, True, True, False, False]
    out = definition_overlap(f, "kent_medway_2023", "llr_vrn_2024")
    row = out.loc["Total"]
    assert row["both"] == 2 and row["only_kent_medway_2023"] == 1 and row["only_llr_vrn_2024"] == 1
    assert row["kent_medway_2023"] == row["both"] + row["only_kent_medway_2023"] == 3
    # weighted by an offences column, and by a breakdown column whose rows sum to the total
    f["offences"] = [2, 3, 5, 7, 11]
    f["offence_group"] = ["Homicide", "VAP", "VAP", "Robbery", "VAP"]
    by = definition_overlap(f, "kent_medway_2023", "llr_vrn_2024", by="offence_group")
    assert by.loc["Total", "both"] == 5 and by.loc["Total", "only_kent_medway_2023"] == 7
    assert by.loc["VAP", "only_llr_vrn_2024"] == 5 and by.loc["Robbery", "only_kent_medway_2023"] == 7
    assert (by.drop("Total").sum() == by.loc["Total"]).all()
    with pytest.raises(ConfigError, match="two different"):
        definition_overlap(f, "homicide", "homicide")


def test_catalogue_lists_every_definition_with_source_and_code_count():
    cat = definition_catalogue()
    assert list(cat.columns[:5]) == ["name", "title", "applies_to", "source", "offence_codes"]
    assert set(PRESETS) <= set(cat["name"]) and set(cat["name"]) == set(list_definitions(None))
    row = cat.set_index("name").loc["kent_medway_2023"]
    assert row["offence_codes"] == len(load_definition("kent_medway_2023").offence_codes) and row["quotes_wording"]
    assert (cat.loc[cat["applies_to"] == "counts", "offence_codes"] == 0).all()
    assert cat["applies_to"].tolist() == sorted(cat["applies_to"], key=["records", "counts"].index)


def test_inline_definition_is_checked_like_a_file_and_usable_by_name_or_object():
    raw = {"name": "my_knife_robbery", "title": "Knife robbery", "description": "Robbery with a knife.",
           "source": "a registrar's question", "offence_codes": ["34A", "34B"], "conditions": {"knife_flag": True}}
    d = definition_from_mapping(raw)
    assert isinstance(d, Definition) and load_definition(d) is d
    assert definition_mask(frame(one("34B", knife=True), one("34B")), d).tolist() == [True, False]
    for bad, message in [
        ({**raw, "offence_codes": ["34Z"]}, "34Z"),
        ({**raw, "colour": "red"}, "unknown key"),
        ({**raw, "conditions": {"knife_flag": "yes"}}, "true or false"),
        ({**raw, "conditions": {"victim_age": {"max": "24"}}}, "whole years"),
        ({**raw, "conditions": {"location_type": {"not_in": ["Dwelling"]}}}, "unknown: include"),
        ({**raw, "conditions": {"location_type": {"in": ["Street"], "not_in": ["Dwelling"], "unknown": "include"}}},
         "exactly one"),
        ({k: v for k, v in raw.items() if k != "offence_codes"} | {"parts": [{"label": "a"}]}, "label and"),
        (raw | {"parts": [{"label": "a", "offence_codes": ["1"]}]}, "not both"),
    ]:
        with pytest.raises(ConfigError, match=message):
            definition_from_mapping(bad, where="my.yaml")


def test_location_unknown_include_and_in_list():
    raw = {"name": "street", "title": "t", "description": "d", "source": "s", "offence_codes": ["8N"],
           "conditions": {"location_type": {"in": ["Street"], "unknown": "include"}}}
    d = definition_from_mapping(raw)
    got = definition_mask(frame(one("8N"), one("8N", location="Dwelling"), one("8N", location=None)), d)
    assert got.tolist() == [True, False, True]


def test_parts_label_says_which_part_brought_each_offence_in():
    from svtools.ingest.definitions import definition_parts

    f = frame(one("1", knife=True), one("8N", knife=True), one("34B"), one("105A"), one("92A", victim_age=None))
    assert definition_parts(f, "kent_medway_2023").tolist() == ["homicide", "knife crime", "robbery", pd.NA,
                                                                "drug supply"]
    assert definition_parts(f, "homicide").tolist() == ["homicide", pd.NA, pd.NA, pd.NA, pd.NA]
