"""Aggregate-count sources (``kind: counts``, svtools.ingest.aggregate).

London's real borough x month table, long quarterly and financial-year tables, strict errors, lenient
exclusions that reconcile, suppressed cells that stay suppressed, LAD matching, and the HES-style hospital
table identical to the record datasets' one.
"""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest import aggregate as agg
from svtools.paths import ROOT, real_data_dir

LONDON = real_data_dir() / "london_mps" / "mps_borough_crime_2010-04_to_2023-02.csv"
NOT_CSPS = ("London Heathrow and London City Airports", "Unknown")


# --------------------------------------------------------------------------- the shared reader
def _shim() -> types.ModuleType:
    """A tiny private stand-in for svtools.ingest.readers (same interface), used only when it is absent."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    class ReadOptions:
        def __init__(self, files):
            self.delimiter = {None: ",", "auto": ","}.get(files.get("delimiter"), files.get("delimiter"))
            self.encoding = {None: "utf-8", "auto": "utf-8"}.get(files.get("encoding"), files.get("encoding"))
            self.skip = int(files.get("header_row") or 1) - 1

        @classmethod
        def from_mapping(cls, files):
            return cls(dict(files or {}))

    def read_text_table(path, options, columns=None):
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(encoding=options.encoding, skip_rows=options.skip),
            parse_options=pacsv.ParseOptions(delimiter=options.delimiter),
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True,
                                                 include_columns=columns or []))
        out = {}
        for name in table.column_names:
            text = pc.utf8_trim_whitespace(table[name].cast(pa.large_string()))
            out[name] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
        return pa.table(out)

    mod = types.ModuleType("svtools.ingest.readers")
    mod.ReadOptions, mod.read_text_table = ReadOptions, read_text_table
    return mod


@pytest.fixture(scope="module", autouse=True)
def readers():
    mp = pytest.MonkeyPatch()
    try:
        import svtools.ingest.readers  # noqa: F401
    except ImportError:
        mp.setitem(sys.modules, "svtools.ingest.readers", _shim())
    yield
    mp.undo()


# --------------------------------------------------------------------------- helpers
def _mapping(**over) -> dict:
    """A long monthly counts mapping for the small test tables (area by CSP name)."""
    raw = {"mapping_version": 2, "kind": "counts", "name": "test_counts", "measure": "recorded crimes",
           "disclosure": "police", "layout": "long", "area": {"column": "area", "match": "csp_name"},
           "period": {"column": "period", "formats": ["%Y-%m"], "resolution": "month"},
           "count": {"column": "n"}, "category": {"columns": ["crime"]}}
    raw.update(over)
    return raw


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _long(tmp_path, rows, name="t.csv") -> Path:
    return _write(tmp_path / name, ["area", "period", "crime", "n"], rows)


def _ok_rows() -> list[list]:
    return [[a, f"2021-{m:02d}", c, 3 + m] for a in ("Hartlepool", "Middlesbrough") for m in (1, 2, 3)
            for c in ("Robbery", "Homicide")]


# --------------------------------------------------------------------------- London (real data)
@pytest.fixture(scope="module")
def london(tmp_path_factory, readers):
    if not LONDON.is_file():
        pytest.skip(f"{LONDON} not present")
    out = tmp_path_factory.mktemp("london_mps")
    report = agg.ingest_counts(LONDON, "london_mps", "london_mps", out_dir=out)
    return out, report


def _london_truth() -> tuple[int, int, int, int]:
    """From the csv module alone: cells and counts in the file, and in the 32 boroughs."""
    with LONDON.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    months = [c for c in header if c.isdigit() and len(c) == 6]
    cells = sum(len(months) for _ in rows)
    total = sum(int(r[header.index(m)]) for r in rows for m in months)
    kept_cells = sum(len(months) for r in rows if r[2] not in NOT_CSPS)
    kept = sum(int(r[header.index(m)]) for r in rows if r[2] not in NOT_CSPS for m in months)
    return cells, total, kept_cells, kept


def test_london_borough_months(london):
    out, report = london
    cells, total, kept_cells, kept = _london_truth()
    r = json.loads((out / "reconciliation.json").read_text())
    assert r["balanced"] and report.balanced() and r["kind"] == "counts"
    assert r["cells_in"] == cells == r["cells_kept"] + r["cells_excluded"]
    assert r["counts_in"] == total == r["counts_kept"] + r["counts_excluded"]
    assert r["cells_kept"] == kept_cells and r["counts_kept"] == kept
    assert set(r["excluded_cells_by_reason"]) == {"not_a_csp", "unknown_area"}
    assert set(r["excluded_areas"]) == set(NOT_CSPS)
    assert 0.015 < r["counts_excluded"] / r["counts_in"] < 0.025  # about 2% in the two non-CSP rows
    assert r["cells_suppressed"] == 0 and r["gaps"] == {} and r["series_with_gaps"] == 0
    table = pd.read_parquet(out / "aggregate_counts.parquet")
    assert len(table) == kept_cells and int(table["count"].sum()) == kept  # no cell lost
    assert table["csp_code"].nunique() == 32 and set(table["pfa_code"]) == {"E23000001"}
    months = pd.DatetimeIndex(sorted(table["month"].unique()))
    assert len(months) == 155
    assert (months[0], months[-1]) == (pd.Timestamp("2010-04-01"), pd.Timestamp("2023-02-01"))
    assert (table["period_start"] == table["month"]).all() and set(table["resolution"]) == {"month"}
    assert str(table["count"].dtype) == "Int64" and table["suppressed"].dtype == bool
    homicide = table[table["category"] == "VIOLENCE AGAINST THE PERSON / HOMICIDE"]
    assert len(homicide) == 32 * 155
    monthly = pd.read_parquet(out / "monthly_counts.parquet")
    assert list(monthly.columns) == ["csp_code", "pfa_code", "month", "financial_year", "category",
                                     "offences"]
    assert monthly["offences"].dtype == "int64" and int(monthly["offences"].sum()) == kept
    assert monthly.loc[monthly["month"] == "2010-04-01", "financial_year"].eq("2010/11").all()
    assert len(pd.read_parquet(out / "areas.parquet")) == 32
    assert set(pd.read_parquet(out / "population.parquet")["csp_code"]) == set(table["csp_code"])
    assert len(pd.read_parquet(out / "excluded.parquet")) == r["cells_excluded"]
    info = json.loads((out / "dataset.json").read_text())
    assert info["kind"] == "counts" and info["schema"] == "counts" and info["synthetic"] is False
    assert info["fields"] == {} and info["csps"] == 32 and info["forces"] == ["E23000001"]
    assert (info["period_start"], info["period_end"]) == ("2010-04-01", "2023-02-28")
    assert info["resolution"] == "month" and info["disclosure"] == "police" and len(info["categories"]) == 28
    assert list(info["input_files"]) == [LONDON.name] and len(info["input_files"][LONDON.name]) == 64


def test_check_writes_nothing(tmp_path):
    report = agg.ingest_counts(_long(tmp_path, _ok_rows()), _mapping(), "t", out_dir=tmp_path / "out",
                               check=True)
    assert report.balanced() and report.cells_kept == 12 and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- quarters and financial years
def test_long_quarterly_table(tmp_path):
    rows = [["Hartlepool", "2019 Q1", "Robbery", 5], ["Hartlepool", "2019-Q2", "Robbery", 6],
            ["Hartlepool", "Q3 2019", "Robbery", 7], ["Hartlepool", "2019/20 Q3", "Robbery", 8],
            ["Middlesbrough", "2019 Q1", "Robbery", 1], ["Middlesbrough", "2019/20 Q3", "Robbery", 2]]
    m = _mapping(period={"column": "period", "formats": ["%Y Q%q", "%Y-Q%q", "Q%q %Y", "%Y/%y Q%q"],
                         "resolution": "quarter"})
    out = tmp_path / "out"
    report = agg.ingest_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(m), "q", out_dir=out)
    t = pd.read_parquet(out / "aggregate_counts.parquet")
    hart = t[t["csp_code"] == "E22000027"].set_index("period_start")["count"]
    # calendar Q1 = Jan-Mar; financial 2019/20 Q3 = October-December 2019
    assert hart.to_dict() == {pd.Timestamp("2019-01-01"): 5, pd.Timestamp("2019-04-01"): 6,
                              pd.Timestamp("2019-07-01"): 7, pd.Timestamp("2019-10-01"): 8}
    fy = t.set_index(["csp_code", "period_start"])["financial_year"]
    assert fy.loc[("E22000027", "2019-01-01")] == "2018/19"
    assert fy.loc[("E22000027", "2019-04-01")] == "2019/20"
    assert t["month"].isna().all() and set(t["resolution"]) == {"quarter"}
    assert report.gaps == {"E22000029": ["2019-04-01", "2019-07-01"]}  # reported, not filled with 0
    assert not (out / "monthly_counts.parquet").exists() and report.notes
    info = json.loads((out / "dataset.json").read_text())
    assert info["quarters"] == "calendar and financial" and info["period_end"] == "2019-12-31"


def test_financial_year_wide_table(tmp_path):
    path = _write(tmp_path / "fy.csv", ["Area", "2018/19", "2019-20", "2020/21"],
                  [["Hartlepool", 10, 11, 12], ["Middlesbrough", 20, "*", 22]])
    m = _mapping(layout="wide", area={"column": "Area", "match": "csp_name"},
                 period={"columns": r"^\d{4}[/-]\d{2}$", "formats": ["%Y/%y", "%Y-%y"],
                         "resolution": "financial_year"})
    del m["count"], m["category"]
    out, excluded, report = agg.read_counts(path, agg.counts_mapping_from_dict(m))
    assert report.balanced() and report.cells_in == 6 and report.counts_in == 75
    assert report.cells_suppressed == 1
    assert sorted(out["financial_year"].unique()) == ["2018/19", "2019/20", "2020/21"]
    starts = pd.to_datetime(["2018-04-01", "2019-04-01", "2020-04-01"])
    assert sorted(out["period_start"].unique()) == list(starts)
    assert set(out["category"]) == {"all"} and report.period_end == "2021-03-31"
    # 2019/21 is not a financial year
    bad = _write(tmp_path / "bad.csv", ["Area", "2019/21"], [["Hartlepool", 3]])
    with pytest.raises(DataValidationError, match="period") as err:
        agg.read_counts(bad, agg.counts_mapping_from_dict(m))
    assert err.value.column == "2019/21"


# --------------------------------------------------------------------------- strict errors
@pytest.mark.parametrize("value, words", [("-3", "whole numbers"), ("12.5", "whole numbers"),
                                          ("1,234", "thousands"), ("abc", "digits only")])
def test_strict_bad_count(tmp_path, value, words):
    rows = _ok_rows()
    rows[4][3] = f'"{value}"' if "," in value else value
    with pytest.raises(DataValidationError, match=words) as err:
        agg.read_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(_mapping()))
    e = err.value
    assert e.column == "n" and e.n_bad == 1 and e.file == "t.csv" and "line 6" in e.examples[0]
    assert value in e.examples[0]


def test_strict_unknown_area_did_you_mean(tmp_path):
    rows = _ok_rows() + [["Hartlepol", "2021-01", "Robbery", 1]]
    said = r"unknown area.*'Hartlepol' \(did you mean 'Hartlepool'\?\)"
    with pytest.raises(DataValidationError, match=said) as e:
        agg.read_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(_mapping()))
    assert e.value.column == "area" and "line 14" in e.value.examples[0]


def test_strict_duplicate_cell(tmp_path):
    rows = _ok_rows() + [["middlesbrough", "2021-02", "Homicide", 9]]  # the same cell, spelt in lower case
    with pytest.raises(DataValidationError, match="duplicate cell") as err:
        agg.read_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(_mapping()))
    assert "also at t.csv line" in err.value.examples[0]


def test_strict_period_outside_window(tmp_path):
    rows = _ok_rows() + [["Hartlepool", "1999-12", "Robbery", 1]]
    with pytest.raises(DataValidationError, match="outside the date window 2000-01-01") as err:
        agg.read_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(_mapping()))
    assert err.value.column == "period" and "'1999-12'" in err.value.examples[0]
    m = _mapping(date_window={"start": "2021-02-01", "end": "2021-02-28"})
    report = agg.read_counts(_long(tmp_path, _ok_rows()), m, on_invalid="exclude")[2]
    assert report.excluded_cells_by_reason == {"outside_window": 8} and report.balanced()


@pytest.mark.parametrize("change, words", [
    ({"catgory": {"columns": ["crime"]}}, "did you mean 'category'"),
    ({"period": {"colum": "period", "formats": ["%Y-%m"], "resolution": "month"}}, "did you mean 'column'"),
    ({"count": {"column": "n", "supressed": ["*"]}}, "did you mean 'suppressed'"),
    ({"area": {"column": "area", "match": "csp_nam"}}, "did you mean 'csp_name'"),
    ({"period": {"column": "period", "formats": ["%Y-%m"], "resolution": "quartr"}},
     "did you mean 'quarter'"),
    ({"period": {"column": "period", "formats": ["%Y Q%m"], "resolution": "quarter"}}, "only %Y, %y and %q"),
    ({"exclude_areas": {"Unknown": "Not a CSP"}}, "snake_case"),
    ({"layout": "wide"}, r"period \(wide layout\): unknown key 'column' \(did you mean 'columns'\?\)"),
])
def test_mapping_keys_checked(change, words):
    with pytest.raises(ConfigError, match=words):
        agg.counts_mapping_from_dict(_mapping(**change), "x.yaml")


def test_shipped_mappings_load():
    london = agg.load_counts_mapping("london_mps")
    assert london.layout == "wide" and london.constants["reporting_force"] == "E23000001"
    hes = agg.load_counts_mapping("hospital_hes")
    assert hes.disclosure == "hospital" and list(hes.dimensions) == ["age_band", "sex"]


# --------------------------------------------------------------------------- lenient
def test_lenient_exclusions_reconcile(tmp_path):
    rows = _ok_rows()
    rows[0][3] = "-3"                                   # bad_count
    rows[1][3] = "12.5"                                 # bad_count
    rows += [["Hartlepol", "2021-01", "Robbery", 4],    # unknown_area (4 counts)
             ["Airport", "2021-01", "Robbery", 5],      # not_a_csp (5)
             ["Hartlepool", "2021-13", "Robbery", 6],   # bad_period (6)
             ["Hartlepool", "2021-02", "Robbery", 7],   # duplicate_cell (7)
             ["Hartlepool", "2021-03", "Arson", "*"]]   # kept, suppressed
    second = _long(tmp_path, [["Middlesbrough", "2021-03", "Homicide", 100]], "u.csv")  # duplicate
    m = agg.counts_mapping_from_dict(_mapping(exclude_areas={"Airport": "not_a_csp"}))
    out, excluded, r = agg.read_counts([_long(tmp_path, rows), second], m, on_invalid="exclude")
    assert r.excluded_cells_by_reason == {"bad_count": 2, "unknown_area": 1, "not_a_csp": 1, "bad_period": 1,
                                "duplicate_cell": 2}
    assert r.excluded_counts_by_reason == {"bad_count": 0, "unknown_area": 4, "not_a_csp": 5, "bad_period": 6,
                                 "duplicate_cell": 107}
    assert r.cells_in == 18 == r.cells_kept + r.cells_excluded and r.cells_suppressed == 1
    assert r.counts_in == r.counts_kept + r.counts_excluded == 60 - 4 - 4 + 4 + 5 + 6 + 7 + 100
    assert r.balanced() and len(out) == r.cells_kept and int(out["count"].sum()) == r.counts_kept
    assert r.by_file["u.csv"] == {"cells_in": 1, "cells_kept": 0, "cells_excluded": 1, "cells_suppressed": 0,
                                  "counts_in": 100, "counts_kept": 0, "counts_excluded": 100,
                                  "excluded_cells_by_reason": {"duplicate_cell": 1},
                                  "excluded_counts_by_reason": {"duplicate_cell": 100}}
    assert sum(f["cells_in"] for f in r.by_file.values()) == r.cells_in
    assert r.excluded_areas["Hartlepol"] == {"reason": "unknown_area", "cells": 1, "counts": 4,
                                            "did_you_mean": "Hartlepool"}
    assert set(excluded["exclusion_reason"]) == set(r.excluded_cells_by_reason)
    assert len(excluded) == r.cells_excluded
    assert excluded.loc[excluded["exclusion_reason"] == "bad_period", "source_line"].tolist() == [16]


def test_excluded_category_and_unused_values(tmp_path):
    values = {"Homicide": "Murder", "Robbery": None, "Arsn": "Arson"}
    out, _, r = agg.read_counts(_long(tmp_path, _ok_rows()), _mapping(category={"columns": ["crime"],
                                                                                "values": values}))
    assert set(out["category"]) == {"Murder"} and r.balanced()
    assert r.excluded_cells_by_reason == {"excluded_category": 6}  # mapped to null: excluded, not an error
    assert r.unused_mapping_values == {"Arsn": "category.values"}


# --------------------------------------------------------------------------- suppression
def test_suppressed_cells_stay_suppressed(tmp_path):
    rows = [["Hartlepool", "2021-01", "Robbery", "*"], ["Hartlepool", "2021-02", "Robbery", "c"],
            ["Hartlepool", "2021-03", "Robbery", "[c]"], ["Hartlepool", "2021-04", "Robbery", ""],
            ["Hartlepool", "2021-05", "Robbery", "0"], ["Hartlepool", "2021-06", "Robbery", "8"]]
    out_dir = tmp_path / "out"
    r = agg.ingest_counts(_long(tmp_path, rows), _mapping(), "s", out_dir=out_dir)
    t = pd.read_parquet(out_dir / "aggregate_counts.parquet").set_index("month")
    assert t["suppressed"].tolist() == [True] * 4 + [False] * 2
    assert t["count"].isna().tolist() == [True] * 4 + [False] * 2  # NA, never 0
    assert t["count"].iloc[4] == 0 and t["count"].iloc[5] == 8
    assert r.cells_suppressed == 4 and r.counts_in == r.counts_kept == 8 and r.balanced()
    # an int64 monthly table cannot hold a suppressed cell: not written, and said
    assert not (out_dir / "monthly_counts.parquet").exists() and "suppressed" in r.notes[0]
    # blank is suppressed only when declared
    m = _mapping(count={"column": "n", "suppressed": ["*"]})
    with pytest.raises(DataValidationError, match="blank cell is not a count"):
        agg.read_counts(_long(tmp_path, rows), agg.counts_mapping_from_dict(m))


# --------------------------------------------------------------------------- LAD matching
def test_lad_match_sums_a_csp_of_several_lads(tmp_path):
    m = agg.counts_mapping_from_dict(_mapping(area={"column": "area", "match": "lad_name"}))
    rows = [["Rhondda Cynon Taf", "2021-01", "Robbery", 5], ["Merthyr Tydfil", "2021-01", "Robbery", 2],
            ["Rhondda Cynon Taf", "2021-02", "Robbery", 5], ["Merthyr Tydfil", "2021-02", "Robbery", "*"]]
    out, _, r = agg.read_counts(_long(tmp_path, rows), m)
    assert out["csp_code"].nunique() == 1 and len(out) == 2 and r.balanced()
    assert out["count"].tolist()[0] == 7 and out["suppressed"].tolist() == [False, True]
    assert pd.isna(out["count"].tolist()[1]) and r.excluded_cells_by_reason == {"suppressed_part_of_csp": 1}
    with pytest.raises(DataValidationError, match="several CSPs"):
        agg.read_counts(_long(tmp_path, [["Cumberland", "2021-01", "Robbery", 5]], "c.csv"), m)


# --------------------------------------------------------------------------- hospital
def _hospital_file(tmp_path) -> Path:
    demo = ROOT / "data" / "raw" / "demo" / "hospital_admissions.csv"
    if demo.is_file():
        return demo
    rows = [[c, n, fy, band, sex, v] for c, n in (("E22000027", "Hartlepool"), ("E22000029", "Middlesbrough"))
            for fy in ("2018/19", "2019/20") for band in ("0-17", "18-24", "25+") for sex in ("F", "M")
            for v in ["*" if (band, sex) == ("0-17", "M") else ("" if band == "25+" and sex == "F" else "9")]]
    return _write(tmp_path / "hospital_admissions.csv",
                  ["area_code", "area_name", "financial_year", "age_band", "sex", "admissions"], rows)


def _reference_ingest_hospital(path: Path) -> pd.DataFrame:
    """The hospital table as ``extract.ingest_hospital`` built it before it called this engine (a frozen
    copy, so that the comparison still means something after the swap)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = frame["admissions"].str.strip()
    suppressed = raw.isin(["*", "", "c", "[c]"])
    num = pd.to_numeric(raw.where(~suppressed), errors="coerce")
    cols = ("area_code", "financial_year", "age_band", "sex")
    out = pd.DataFrame({c: frame[c].astype("string") for c in cols}).rename(columns={"area_code": "csp_code"})
    return out.assign(admissions=num.astype("Int64"), suppressed=suppressed.astype(bool))


def test_hospital_identical_to_ingest_hospital(tmp_path):
    import pyarrow.parquet as pq

    from svtools.ingest import extract

    path = _hospital_file(tmp_path)
    new = agg.ingest_hospital_counts(path, tmp_path)
    pd.testing.assert_frame_equal(new, _reference_ingest_hospital(path))
    written = tmp_path / "hospital_admissions.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(written), new)
    assert new["suppressed"].any() and new.loc[new["suppressed"], "admissions"].isna().all()
    assert (new.loc[~new["suppressed"], "admissions"] >= 0).all()
    (tmp_path / "old").mkdir()
    if hasattr(extract, "ingest_hospital"):  # the current one, file for file (also after the swap)
        old = extract.ingest_hospital(path, tmp_path / "old")
        pd.testing.assert_frame_equal(old, new)
        assert pq.read_schema(tmp_path / "old" / "hospital_admissions.parquet").types == pq.read_schema(
            written).types
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "old" / "hospital_admissions.parquet"),
                                      pd.read_parquet(written))


def test_hospital_bad_cells_raise(tmp_path):
    path = _write(tmp_path / "h.csv", ["area_code", "financial_year", "age_band", "sex", "admissions"],
                  [["E22000027", "2019/20", "0-17", "F", "-1"]])
    with pytest.raises(DataValidationError, match="whole numbers"):
        agg.ingest_hospital_counts(path, tmp_path)
    path = _write(tmp_path / "h.csv", ["area_code", "financial_year", "age_band", "sex", "admissions"],
                  [["E99999999", "2019/20", "0-17", "F", "3"]])
    with pytest.raises(DataValidationError, match="unknown area"):
        agg.ingest_hospital_counts(path, tmp_path)


def test_wide_columns_not_read_are_said(tmp_path):
    path = _write(tmp_path / "w.csv", ["Area", "201901", "2019-2", "Total"], [["Hartlepool", 1, 2, 3]])
    m = _mapping(layout="wide", area={"column": "Area", "match": "csp_name"},
                 period={"columns": r"^\d{6}$", "formats": ["%Y%m"], "resolution": "month"})
    del m["count"], m["category"]
    _, _, report = agg.read_counts(path, m)
    assert report.dropped_columns == {"w.csv": ["2019-2", "Total"]} and "'2019-2', 'Total'" in report.notes[0]
    m["period"]["formats"] = ["%Y%m", "%Y-%m"]  # a period column the regex misses: its counts would be lost
    with pytest.raises(DataValidationError, match="not matched by period.columns"):
        agg.read_counts(path, m)
