"""Ingest: column mapping, typing, reconciliation, and a clear error for each kind of bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from svtools.errors import DataValidationError
from svtools.ingest import financial_year, ingest_extract, ingest_police_uk, load_mapping, read_source

HEADER = ["Crime Number", "Date Recorded", "Committed From Date", "HO Class", "Weapon Knife Y/N", "DA Flag",
          "LSOA 2011", "Location Type", "Victim URN", "Victim Age at Offence", "Victim Gender",
          "Victim Ethnicity (ONS 5)", "Suspect URN", "Suspect Age", "Suspect Gender", "Owning Force",
          "Officer In Case"]


def good_rows():
    """Five rows of a valid extract in the demo source layout (Hartlepool, Middlesbrough, Allerdale)."""
    return [
        ["CL/1", "03/05/2019", "02/05/2019 23:15", "8N", "Y", "No", "E01011949", "Street", "V1", "19", "Male",
         "White", "S1", "22", "Male", "Cleveland Police", "PC 1"],
        ["CL/2", "10/07/2019", "10/07/2019", "105A", "N", "Yes", "E01011950", "Dwelling", "V2", "34", "Female",
         "Asian or Asian British", "", "", "", "Cleveland Police", "PC 2"],
        ["CL/2", "10/07/2019", "10/07/2019", "105A", "N", "Yes", "E01011950", "Dwelling", "V3", "8", "Female",
         "Not Stated", "", "", "", "Cleveland Police", "PC 2"],
        ["CL/3", "01/04/2020", "31/03/2020 15:40", "4.1", "Y", "", "", "Street", "V4", "", "Unknown",
         "", "S2", "30", "Male", "Cleveland Police", "PC 3"],
        ["CL/4", "28/02/2021", "27/02/2021 19:05", "10D", "N", "No", "E01012049", "Street", "", "", "",
         "", "S3", "17", "Male", "Cleveland Police", "PC 4"],
    ]


def write_csv(path, rows, header=HEADER, sep=",", encoding="utf-8"):
    frame = pd.DataFrame(rows, columns=header)
    frame.to_csv(path, index=False, sep=sep, encoding=encoding)
    return path


@pytest.fixture
def extract(tmp_path):
    return write_csv(tmp_path / "cleveland_crime_extract.csv", good_rows())


def test_financial_year_labels():
    dates = pd.Series(pd.to_datetime(["2019-04-01", "2020-03-31", "2020-04-01", "2025-01-15", "1999-12-31"]))
    assert financial_year(dates).tolist() == ["2019/20", "2019/20", "2020/21", "2024/25", "1999/00"]


def test_ingest_maps_types_and_reconciles(extract, tmp_path):
    out = tmp_path / "processed"
    report = ingest_extract(extract, "demo_extract", "demo", out, max_excluded=1)
    assert report.rows_in == 5 and report.rows_kept == 4
    assert report.excluded == {"unlocated": 1}
    assert report.balanced()
    assert report.dropped_columns["cleveland_crime_extract.csv"] == ["Officer In Case"]
    recon = json.loads((out / "reconciliation.json").read_text())
    assert recon["rows_in"] == recon["rows_kept"] + recon["rows_excluded"]
    # one partition per CSP; a slice loads without the rest
    parts = sorted(p.name for p in (out / "records").iterdir())
    assert parts == ["csp_code=E22000027", "csp_code=E22000029"]
    hart = pd.read_parquet(out / "records" / "csp_code=E22000027")
    assert len(hart) == 3
    row = hart.set_index("victim_id").loc["V1"]
    assert row["ho_offence_code"] == "8N" and bool(row["knife_flag"]) is True
    assert row["victim_sex"] == "M" and row["victim_ethnicity"] == "White" and int(row["victim_age"]) == 19
    assert row["financial_year"] == "2019/20" and row["occurred_hour"] == 23
    assert row["offence_group"] == "Violence against the person"
    assert row["severity_weight"] > 100
    v3 = hart.set_index("victim_id").loc["V3"]
    assert pd.isna(v3["victim_ethnicity"]) and bool(v3["victim_under_25"]) is True
    assert pd.isna(hart.set_index("victim_id").loc["V2", "occurred_hour"])  # date only: hour unknown
    ex = pd.read_parquet(out / "excluded.parquet")
    assert ex["exclusion_reason"].tolist() == ["unlocated"]
    assert ex["source_line"].tolist() == [5]
    assert ex["ho_offence_code"].tolist() == ["4/1"]  # "4.1" in the source
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["rows"] == 4 and "cleveland_crime_extract.csv" in meta["input_files"]
    areas = pd.read_parquet(out / "areas.parquet")
    assert set(areas["pfa_name"]) == {"Cleveland"} and len(areas) == 4
    monthly = pd.read_parquet(out / "monthly_counts.parquet")
    assert monthly["offences"].sum() == 4


def _expect_error(path, match, column=None, mapping="demo_extract"):
    with pytest.raises(DataValidationError, match=match) as info:
        ingest_extract(path, mapping, "demo", path.parent / "out", max_excluded=1)
    message = str(info.value)
    assert str(path) in message, "the error names the file"
    if column:
        assert f"column '{column}'" in message, "the error names the source column"
    return message


def test_missing_required_column(tmp_path):
    rows = [r[:4] + r[5:] for r in good_rows()]
    header = HEADER[:4] + HEADER[5:]
    path = write_csv(tmp_path / "x_crime_extract.csv", rows, header)
    msg = _expect_error(path, "missing required column", column="Weapon Knife Y/N")
    assert "knife_flag" in msg


def test_unparseable_date(tmp_path):
    rows = good_rows()
    rows[2][1] = "2019-07-10"
    msg = _expect_error(tmp_path.joinpath("x.csv") if False else write_csv(tmp_path / "x.csv", rows),
                        "unparseable date", column="Date Recorded")
    assert "line 4" in msg and "2019-07-10" in msg


def test_unknown_offence_code(tmp_path):
    rows = good_rows()
    rows[1][3] = "999Z"
    msg = _expect_error(write_csv(tmp_path / "x.csv", rows), "unknown Home Office offence code", column="HO Class")
    assert "999Z" in msg


def test_malformed_lsoa(tmp_path):
    rows = good_rows()
    rows[0][6] = "E0101194"
    msg = _expect_error(write_csv(tmp_path / "x.csv", rows), "malformed LSOA", column="LSOA 2011")
    assert "E0101194" in msg


def test_duplicate_crime_victim_rows(tmp_path):
    rows = good_rows()
    rows.append(list(rows[0]))
    msg = _expect_error(write_csv(tmp_path / "x.csv", rows), "duplicate crime x victim", column="Crime Number")
    assert "CL/1 / V1" in msg and "line 7" in msg


def test_empty_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("")
    _expect_error(path, "empty")


def test_header_only_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(",".join(HEADER) + "\n")
    _expect_error(path, "no rows")


def test_wrong_delimiter(tmp_path):
    path = write_csv(tmp_path / "x.csv", good_rows(), sep=";")
    _expect_error(path, "delimiter.*';'")


def test_wrong_encoding(tmp_path):
    rows = good_rows()
    rows[0][7] = "Café"
    path = write_csv(tmp_path / "x.csv", rows, encoding="cp1252")
    _expect_error(path, "not valid utf-8.*cp1252")


def test_age_out_of_range(tmp_path):
    rows = good_rows()
    rows[1][9] = "130"
    msg = _expect_error(write_csv(tmp_path / "x.csv", rows), "age out of range", column="Victim Age at Offence")
    assert "130" in msg


def test_unrecognised_flag_spelling(tmp_path):
    rows = good_rows()
    rows[0][4] = "Knife"
    _expect_error(write_csv(tmp_path / "x.csv", rows), "unrecognised value", column="Weapon Knife Y/N")


def test_lenient_mode_excludes_and_counts(tmp_path):
    rows = good_rows()
    rows[1][9] = "130"       # age out of range
    rows[0][3] = "999Z"      # unknown code
    rows.append(list(rows[4]))  # duplicate
    out = tmp_path / "out"
    report = ingest_extract(write_csv(tmp_path / "x.csv", rows), "demo_extract", "demo", out, on_invalid="exclude",
                            max_excluded=1)
    # a bad victim age is set to unknown and counted; the crime is kept (issue 8). Row 5 has no victim id, so
    # its repeat is a duplicate of the whole row.
    assert report.excluded == {"unknown_offence_code": 1, "duplicate_row": 1, "unlocated": 1}
    assert report.attributes_excluded == {"victim_age": {"invalid_victim_age": 1}}
    assert report.rows_in == 6 and report.rows_kept == 3 and report.balanced()
    ex = pd.read_parquet(out / "excluded.parquet")
    assert sorted(ex["exclusion_reason"]) == sorted(report.excluded)


def test_unknown_extra_columns_are_dropped_with_a_note(tmp_path):
    rows = [r + ["x"] for r in good_rows()]
    path = write_csv(tmp_path / "x.csv", rows, HEADER + ["Mystery Field"])
    report = ingest_extract(path, "demo_extract", "demo", tmp_path / "out", max_excluded=1)
    assert "Mystery Field" in report.dropped_columns["x.csv"]


def test_read_source_strips_blanks(extract):
    frame, dropped = read_source(extract, load_mapping("demo_extract"))
    assert frame.loc[3, "lsoa_code"] is pd.NA
    assert "crime_ref" in frame.columns and dropped == ["Officer In Case"]


def test_police_uk_month_files(tmp_path):
    """data.police.uk layout: anti-social behaviour rows are excluded and counted, out-of-force rows flagged."""
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
              "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]
    rows = [
        ["a1", "2019-05", "City of London Police", "City of London Police", "-0.09", "51.5", "On or near X",
         "E01000001", "City of London 001A", "Violence and sexual offences", "Under investigation", ""],
        ["", "2019-05", "City of London Police", "City of London Police", "-0.09", "51.5", "On or near X",
         "E01000001", "City of London 001A", "Anti-social behaviour", "", ""],
        ["a3", "2019-05", "City of London Police", "City of London Police", "-0.07", "51.5", "On or near Y",
         "E01004294", "Tower Hamlets 015B", "Robbery", "Under investigation", ""],
        ["a4", "2019-05", "City of London Police", "City of London Police", "", "", "No location",
         "", "", "Possession of weapons", "Under investigation", ""],
    ]
    folder = tmp_path / "pu" / "2019-05"
    folder.mkdir(parents=True)
    write_csv(folder / "2019-05-city-of-london-street.csv", rows, header)
    out = tmp_path / "out"
    report = ingest_police_uk(tmp_path / "pu", out, max_excluded=1)
    assert report.excluded == {"anti_social_behaviour": 1, "unlocated": 1}
    assert report.rows_kept == 2 and report.out_of_force == 1
    th = pd.read_parquet(out / "records" / "csp_code=E22000215")  # Tower Hamlets CSP
    assert th["out_of_force"].all() and th["reporting_force"].tolist() == ["E23000034"]
    areas = pd.read_parquet(out / "areas.parquet")
    assert areas["csp_code"].tolist() == ["E22000180"]  # profiles only for the force's own CSP


def test_impossible_dates_are_not_rolled_over(tmp_path):
    """31 February must be an error, not 3 March (pyarrow's parser alone would roll it over)."""
    rows = good_rows()
    rows[0][1] = "31/02/2019"
    msg = _expect_error(write_csv(tmp_path / "x.csv", rows), "unparseable date", column="Date Recorded")
    assert "31/02/2019" in msg


def test_parse_datetimes_is_exact():
    from svtools.ingest.extract import parse_datetimes

    s = pd.Series(["10/07/2019 23:15", "1/7/2019 04:05", "31/04/2019 10:00", "10/07/2019 24:00", None],
                  dtype="string")
    out = parse_datetimes(s, "%d/%m/%Y %H:%M")
    assert out.iloc[0] == pd.Timestamp("2019-07-10 23:15")
    assert out.iloc[1] == pd.Timestamp("2019-07-01 04:05")  # unpadded: parsed exactly by pandas
    assert out.iloc[2:].isna().all()
