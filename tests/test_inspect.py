"""svtools.ingest.inspect: the kind of each column read from its text, and a draft mapping that parses."""

from __future__ import annotations

import random

import openpyxl
import pytest
import yaml

from svtools.ingest.inspect import KINDS, InspectReport, draft_mapping, inspect_file
from svtools.ingest.readers import ReadOptions

NICHE_HEADER = ["Occurrence Ref", "Occurrence Status", "HO Class", "Reported Date", "Occ From Date",
                "Occ From Time", "Victim DOB", "Offender Age Range", "Victim Sex", "Weapon", "DA Flag",
                "Scene LSOA", "Victim Ethnicity", "Officer", "Amount", "Count", "Person Code"]


def _niche_rows(n=400, seed=7):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append([
            f"NS/23/{i:06d}", rng.choice(["Open", "Filed", "Closed"]),
            rng.choice(["008/01", "105/01", "008N", "4/1", "004/10", "105A"]),
            f"2023-04-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00",
            f"{1 + i % 28:02d}-{rng.choice(['Jan', 'Mar', 'Oct'])}-2018",
            "" if i % 9 == 0 else f"{i % 24:02d}:{(i * 7) % 60:02d}",
            f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 60}",
            rng.choice(["18-24", "25-34", "Under 10", "65 and over", "10-17"]),
            rng.choice(["Male", "Female", "Not Known"]), "", rng.choice(["Y", "N", ""]),
            f"E01{rng.randrange(1000):06d}",
            rng.choice(["White British", "Black African", "Asian Indian", "NS"]),
            f"PC {rng.randrange(5000)} wrote {rng.choice(['a long note', 'see file', 'no further action'])}",
            f"{rng.randrange(100)}.{rng.randrange(100):02d}", str(rng.randrange(1, 10_000)),
            f"0{rng.randrange(100_000):05d}",
        ])
    return rows


@pytest.fixture(scope="module")
def niche(tmp_path_factory):
    path = tmp_path_factory.mktemp("inspect") / "niche_export.csv"
    lines = [",".join(NICHE_HEADER)] + [",".join(r) for r in _niche_rows()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(niche) -> InspectReport:
    return inspect_file(niche)


def test_kinds_of_a_niche_style_export(report):
    kinds = {c.name: c.kind for c in report.columns}
    assert kinds == {
        "Occurrence Ref": "identifier", "Occurrence Status": "category", "HO Class": "offence_code",
        "Reported Date": "datetime", "Occ From Date": "date", "Occ From Time": "time", "Victim DOB": "date",
        "Offender Age Range": "age_band", "Victim Sex": "sex", "Weapon": "blank", "DA Flag": "flag",
        "Scene LSOA": "lsoa", "Victim Ethnicity": "ethnicity", "Officer": "text", "Amount": "decimal",
        "Count": "integer", "Person Code": "code",
    }
    assert set(kinds.values()) <= set(KINDS)
    col = report.column
    assert col("Reported Date").formats == ("%Y-%m-%dT%H:%M:%S",)
    assert col("Occ From Date").formats == ("%d-%b-%Y",)
    assert col("Occ From Time").formats == ("%H:%M",)
    assert col("Victim DOB").formats == ("%d/%m/%Y",)
    assert col("Weapon").n_blank == 400 and col("Weapon").n_distinct == 0
    assert col("Occ From Time").n_blank == 45
    assert 3 <= len(col("HO Class").samples) <= 5 and "008/01" in [v for v, _ in col("HO Class").top]
    assert col("Person Code").samples[0].startswith("0")  # text as written
    assert report.rows_sampled == 400 and not report.more_rows


def test_more_kinds_and_formats(tmp_path):
    rows = [["Victim Age", "Knife Flag", "Time", "Stamp", "Code", "Rate", "Mixed"]]
    for i in range(200):
        rows.append([str(i % 100), ["Yes", "No"][i % 2], f"{i % 24:02d}{i % 60:02d}",
                     f"{1 + i % 28:02d}/04/2023 {i % 24:02d}:{i % 60:02d}",
                     ["8N", "4.1", "4.10", "105A"][i % 4],
                     f"0.{i}", ["2023-04-01", "2023-04-02T10:00:00"][i % 2]])
    path = tmp_path / "more.csv"
    path.write_text("\n".join(";".join(r) for r in rows) + "\n")
    rep = inspect_file(path)
    kinds = {c.name: (c.kind, c.formats) for c in rep.columns}
    assert kinds["Victim Age"] == ("age", ())
    assert kinds["Knife Flag"] == ("flag", ())
    assert kinds["Time"] == ("time", ("%H%M",))  # 4 digits are a time only in a column named like one
    assert kinds["Stamp"] == ("datetime", ("%d/%m/%Y %H:%M",))
    assert kinds["Code"] == ("offence_code", ())
    assert kinds["Rate"] == ("decimal", ())
    assert kinds["Mixed"] == ("datetime", ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"))
    assert rep.info.delimiter == ";"


def test_sample_rows_bounds_the_read(niche):
    rep = inspect_file(niche, sample_rows=100)
    assert rep.rows_sampled == 100 and rep.more_rows
    assert "the file has more rows" in rep.text()


def test_text_report_lists_every_column(report, niche):
    text = report.text()
    assert str(niche) in text and "format csv" in text and "delimiter ','" in text
    assert "rows sampled: 400" in text
    for name in NICHE_HEADER:
        assert name in text
    assert "Home Office offence code" in text and "%d-%b-%Y" in text


def test_draft_mapping_parses_and_guesses(report):
    draft = draft_mapping(report, "northshire")
    data = yaml.safe_load(draft)
    assert data["mapping_version"] == 2 and data["kind"] == "records" and data["name"] == "northshire"
    assert data["files"]["delimiter"] == "," and data["files"]["encoding"] == "utf-8"
    fields = data["fields"]
    assert fields["crime_ref"] == "Occurrence Ref"
    assert fields["recorded_date"] == {"column": "Reported Date", "formats": ["%Y-%m-%dT%H:%M:%S"]}
    assert fields["ho_offence_code"]["column"] == "HO Class"
    assert fields["occurred_at"]["date_column"] == "Occ From Date"
    assert fields["occurred_at"]["time_column"] == "Occ From Time"
    assert fields["occurred_at"]["formats"] == ["%d-%b-%Y"]
    assert fields["victim_age"] == {"date_of_birth": "Victim DOB", "formats": ["%d/%m/%Y"]}
    assert fields["suspect_age"] == {"column": "Offender Age Range", "bands": True}
    assert fields["knife_flag"]["column"] == "Weapon" and fields["knife_flag"]["blank"] is False
    assert fields["victim_sex"]["values"] == {"Male": "M", "Female": "F", "Not Known": None}
    assert fields["domestic_flag"]["values"] == {"Y": True, "N": False}  # quoted keys stay text
    assert fields["lsoa_code"] == "Scene LSOA"
    assert fields["victim_ethnicity"]["values"]["Black African"] == "Black"
    assert data["constants"] == {"reporting_force": "TODO"}
    assert "Officer" in data["drop_columns"] and "Occurrence Status" in data["drop_columns"]
    used = {"Occurrence Ref", "Reported Date", "HO Class", "Occ From Date", "Occ From Time", "Victim DOB"}
    assert not used & set(data["drop_columns"])
    assert "# guessed from the header 'Occurrence Ref'" in draft
    assert '"Y": true  # guessed' in draft


def test_draft_values_skeleton_and_quoting(tmp_path):
    weapons = ["Knife", "Yes", "No", "008", "Off", "Bottle: glass", 'Say "hi"']
    rows = ["Crime Number,Recorded Date,Offence Code,Weapon Used,Force"]
    for i in range(60):
        weapon = '"' + weapons[i % 7].replace('"', '""') + '"'
        rows.append(f"{i:05d},{1 + i % 28:02d}/04/2023,8N,{weapon},Northshire")
    path = tmp_path / "w.txt"
    path.write_text("\n".join(rows) + "\n")
    rep = inspect_file(path)
    draft = draft_mapping(rep, "n")
    data = yaml.safe_load(draft)
    assert data["files"]["pattern"] == "*.txt"
    knife = data["fields"]["knife_flag"]
    assert knife["column"] == "Weapon Used"
    assert set(knife["values"]) == set(weapons) and all(v is None for v in knife["values"].values())
    assert '"Knife": null  # TODO' in draft
    assert data["fields"]["crime_ref"] == "Crime Number"
    assert data["fields"]["recorded_date"]["formats"] == ["%d/%m/%Y"]
    assert data["fields"]["reporting_force"] == {"column": "Force", "values": {"Northshire": None}}
    assert "reporting_force" not in (data["constants"] or {})


@pytest.mark.parametrize("text", ["Yes", "No", "off", "Y", "008", "4.10", "null", "~", "a: b", "#x", "- x",
                                  "St George\u2019s", "line\u2028break", "nel\x85", "tab\there", 'q"uote\\'])
def test_quoted_scalars_read_back_as_the_same_text(text):
    from svtools.ingest.inspect import _q

    assert yaml.safe_load(f"{_q(text)}: {_q(text)}") == {text: text}


def test_missing_required_fields_are_todo(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Notes,Amount\nhello there,1.5\nmore text here,2.5\n")
    data = yaml.safe_load(draft_mapping(inspect_file(path), "x"))
    for name in ("crime_ref", "recorded_date", "ho_offence_code", "knife_flag"):
        assert data["fields"][name] == "TODO"
    assert data["drop_columns"] == ["Notes", "Amount"]


def test_inspect_xlsx(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Crimes"
    ws.append(["Crime Ref", "Recorded", "HO Code", "Age"])
    for i in range(30):
        ws.append([f"00{i:07d}", f"2023-04-{1 + i % 28:02d}", "008/01", 20 + i])
    wb.save(tmp_path / "book.xlsx")
    rep = inspect_file(tmp_path / "book.xlsx", ReadOptions(sheet="Crimes"))
    assert rep.info.format == "xlsx" and "sheet 'Crimes'" in rep.text()
    assert {c.name: c.kind for c in rep.columns} == {"Crime Ref": "code", "Recorded": "date",
                                                     "HO Code": "offence_code", "Age": "age"}
    data = yaml.safe_load(draft_mapping(rep, "book"))
    assert data["files"] == {"pattern": "*.xlsx", "format": "xlsx", "sheet": "Crimes", "header_row": 1}
    assert data["fields"]["crime_ref"] == "Crime Ref" and data["fields"]["victim_age"] == {"column": "Age"}
