"""Every failure kind measured on issue 8, each with its clear refusal or its counted exclusion.

The held-out corpus found: tracebacks on a duplicated header, a silently dropped NUL-damaged column, binary files
misread as text encodings, type guessing (``4.10`` -> ``4.1``, lost leading zeros), implausible dates accepted,
a missing optional column losing every age, YAML traps, duplicates across files counted twice, ``--lenient``
keeping 2% of the rows, and a ``BrokenPipeError`` from ``svtools areas | head``.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from svtools.cli import main
from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.extract import ingest_extract
from svtools.ingest.mapping import load_mapping

from test_ingest import HEADER, good_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]


def _csv_text(rows, header=HEADER) -> str:
    buf = io.StringIO()
    pd.DataFrame(rows, columns=header).to_csv(buf, index=False)
    return buf.getvalue()


def _ingest(path, tmp_path, **kw):
    kw.setdefault("max_excluded", 1)  # the five-row fixture has one unlocated row (20%)
    return ingest_extract(path, "demo_extract", "t", tmp_path / "out", **kw)


# --------------------------------------------------------------------------- headers and file types
def test_duplicated_header_is_refused_naming_the_column(tmp_path):
    header = HEADER[:-1] + ["Victim Age at Offence"]
    path = write_csv(tmp_path / "x_crime_extract.csv", good_rows(), header=header)
    with pytest.raises(DataValidationError, match="Victim Age at Offence"):
        _ingest(path, tmp_path)


def test_nul_in_header_is_refused(tmp_path):
    text = _csv_text(good_rows()).replace("Victim Gender", "Victim\x00Gender", 1)
    path = tmp_path / "x_crime_extract.csv"
    path.write_text(text)
    with pytest.raises(DataValidationError, match=r"(?i)nul|control"):
        _ingest(path, tmp_path)


@pytest.mark.parametrize("kind", ["zip", "xls", "gzip-of-zip"])
def test_binary_files_named_csv_are_refused_by_type(tmp_path, kind):
    path = tmp_path / "x_crime_extract.csv"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("inner.csv", _csv_text(good_rows()))
        word = "zip"
    elif kind == "xls":
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
        word = "xls"
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("inner.csv", "a,b\n1,2\n")
        path.write_bytes(gzip.compress(buf.getvalue()))
        word = "zip"
    with pytest.raises(DataValidationError) as err:
        _ingest(path, tmp_path)
    msg = str(err.value).lower()
    assert word in msg and "cp1252" not in msg


def test_gzip_csv_is_read(tmp_path):
    path = tmp_path / "x_crime_extract.csv.gz"
    path.write_bytes(gzip.compress(_csv_text(good_rows()).encode()))
    mapping = load_mapping("demo_extract")
    report = ingest_extract(path, mapping, "t", tmp_path / "out", max_excluded=1)
    assert report.rows_in == 5 and report.balanced()


# --------------------------------------------------------------------------- text, not guesses
def test_codes_and_references_are_read_as_written(tmp_path):
    rows = good_rows()
    rows[0][0] = "00180000025"
    rows[0][3] = "4.10"  # corporate manslaughter, not 4.1 manslaughter
    path = write_csv(tmp_path / "x_crime_extract.csv", rows)
    _ingest(path, tmp_path)
    recs = pd.read_parquet(tmp_path / "out" / "records")
    row = recs.set_index("crime_ref").loc["00180000025"]
    assert row["ho_offence_code"] == "4/10"


@pytest.mark.parametrize("date", ["03/05/2099", "03/05/1899"])
def test_implausible_dates_are_errors_or_counted(tmp_path, date):
    rows = good_rows()
    rows[0][1] = date
    path = write_csv(tmp_path / "x_crime_extract.csv", rows)
    with pytest.raises(DataValidationError, match="plausible window"):
        _ingest(path, tmp_path)
    report = _ingest(path, tmp_path, on_invalid="exclude", max_excluded=1.0)
    assert report.excluded.get("date_out_of_window") == 1 and report.balanced()


# --------------------------------------------------------------------------- columns the mapping names
def _mapping_copy(tmp_path, edit) -> Path:
    text = (ROOT / "config" / "mappings" / "demo_extract.yaml").read_text()
    out = tmp_path / "m.yaml"
    out.write_text(edit(text))
    return out


def test_a_mapped_column_missing_from_the_file_is_an_error(tmp_path):
    header = [h if h != "Victim Age at Offence" else "Victim Age" for h in HEADER]
    path = write_csv(tmp_path / "x_crime_extract.csv", good_rows(), header=header)
    with pytest.raises(DataValidationError, match="Victim Age at Offence.*did you mean 'Victim Age'"):
        _ingest(path, tmp_path)


def test_an_optional_column_missing_warns_and_is_recorded_as_absent(tmp_path):
    mapping = _mapping_copy(tmp_path, lambda t: t.replace("  victim_age: Victim Age at Offence",
                                                          "  victim_age: {column: Victim Age at Offence, "
                                                          "optional: true}"))
    header = [h for h in HEADER]
    rows = [r[:9] + r[10:] for r in good_rows()]
    header = header[:9] + header[10:]
    path = write_csv(tmp_path / "x_crime_extract.csv", rows, header=header)
    report = ingest_extract(path, mapping, "t", tmp_path / "out", max_excluded=1)
    assert any("under-25" in w for w in report.warnings)
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert meta["fields"]["victim_age"]["recorded"] is False
    assert meta["fields"]["victim_age"]["share_known"] is None


# --------------------------------------------------------------------------- YAML traps
def test_unquoted_yes_no_keys_are_text(tmp_path):
    mapping = _mapping_copy(tmp_path, lambda t: t.replace('values: {"Yes": true, "No": false}',
                                                          "values: {Yes: true, No: false}"))
    path = write_csv(tmp_path / "x_crime_extract.csv", good_rows())
    report = ingest_extract(path, mapping, "t", tmp_path / "out", max_excluded=1)
    recs = pd.read_parquet(tmp_path / "out" / "records")
    assert report.rows_kept == 4 and recs["domestic_flag"].notna().sum() == 4
    assert recs["domestic_flag"].sum() == 2


def test_misspelt_key_is_an_error_with_did_you_mean(tmp_path):
    mapping = _mapping_copy(tmp_path, lambda t: t.replace('    values: {"Y": true, "N": false}',
                                                          '    value: {"Y": true, "N": false}'))
    with pytest.raises(ConfigError, match="unknown key 'value'.*did you mean 'values'"):
        load_mapping(mapping)


def test_wrong_kind_is_named(tmp_path):
    mapping = _mapping_copy(tmp_path, lambda t: t.replace("kind: records", "kind: record"))
    with pytest.raises(ConfigError, match="kind 'record'.*did you mean 'records'"):
        load_mapping(mapping)


# --------------------------------------------------------------------------- duplicates
def test_two_victims_with_blank_ids_are_not_duplicates(tmp_path):
    rows = good_rows()
    rows[1][8] = ""
    rows[2][8] = ""  # CL/2 has two victims, neither with an id; they differ in age
    path = write_csv(tmp_path / "x_crime_extract.csv", rows)
    report = _ingest(path, tmp_path)
    assert report.rows_kept == 4 and "duplicate_row" not in report.excluded


def test_the_same_rows_in_two_files_are_found(tmp_path):
    a = write_csv(tmp_path / "a_crime_extract.csv", good_rows())
    rows = good_rows()
    rows[0][0] = "CL/99"  # one new crime; the rest repeat file a
    write_csv(tmp_path / "b_crime_extract.csv", rows)
    with pytest.raises(DataValidationError, match="also in a_crime_extract.csv"):
        ingest_extract(tmp_path, "demo_extract", "t", tmp_path / "out", max_excluded=1)
    report = ingest_extract(tmp_path, "demo_extract", "t", tmp_path / "out", on_invalid="exclude", max_excluded=1)
    # CL/2's two victims repeat by crime + victim id; CL/4 has no victim id and repeats as a whole row
    assert report.excluded["duplicate_crime_victim"] == 2 and report.excluded["duplicate_row"] == 1
    assert report.rows_kept == 5 and report.balanced()
    assert a.exists()


def test_the_same_file_twice_is_refused(tmp_path):
    write_csv(tmp_path / "a_crime_extract.csv", good_rows())
    write_csv(tmp_path / "b_crime_extract.csv", good_rows())
    with pytest.raises(DataValidationError, match="same content as a_crime_extract.csv"):
        ingest_extract(tmp_path, "demo_extract", "t", tmp_path / "out", max_excluded=1)


def test_a_redelivered_extract_is_found_when_appending(tmp_path):
    (tmp_path / "in1").mkdir()
    write_csv(tmp_path / "in1" / "a_crime_extract.csv", good_rows())
    ingest_extract(tmp_path / "in1", "demo_extract", "t", tmp_path / "out", max_excluded=1)
    with pytest.raises(DataValidationError, match="already ingested"):
        ingest_extract(tmp_path / "in1", "demo_extract", "t", tmp_path / "out", append=True, max_excluded=1)
    (tmp_path / "in2").mkdir()
    rows = good_rows()
    rows[0][0] = "CL/50"
    write_csv(tmp_path / "in2" / "b_crime_extract.csv", rows)
    report = ingest_extract(tmp_path / "in2", "demo_extract", "t", tmp_path / "out", append=True, max_excluded=1)
    assert report.excluded["already_in_dataset"] == 3 and report.rows_kept == 1
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert meta["rows"] == 5


# --------------------------------------------------------------------------- --lenient
def test_lenient_has_a_limit(tmp_path):
    rows = good_rows() * 1
    for r in rows[:3]:
        r[3] = "ZZZ"  # unknown offence codes: 3 of 5 rows
    path = write_csv(tmp_path / "x_crime_extract.csv", rows)
    with pytest.raises(DataValidationError, match=r"above the limit of 5%.*unknown_offence_code 3"):
        _ingest(path, tmp_path, on_invalid="exclude", max_excluded=0.05)
    assert main(["ingest", "--dataset", "t", "--extract", str(path), "--mapping", "demo_extract", "--out",
                 str(tmp_path / "o2"), "--lenient"]) == 1


def test_lenient_bad_victim_age_keeps_the_crime(tmp_path):
    rows = good_rows()
    rows[0][9] = "nineteen"
    path = write_csv(tmp_path / "x_crime_extract.csv", rows)
    with pytest.raises(DataValidationError, match="whole number"):
        _ingest(path, tmp_path)
    report = _ingest(path, tmp_path, on_invalid="exclude")
    assert report.rows_kept == 4 and report.excluded == {"unlocated": 1}
    assert report.attributes_excluded == {"victim_age": {"invalid_victim_age": 1}}
    recon = json.loads((tmp_path / "out" / "reconciliation.json").read_text())
    assert recon["attributes_set_unknown"]["victim_age"]["invalid_victim_age"] == 1


# --------------------------------------------------------------------------- the CLI
def test_check_writes_nothing(tmp_path, capsys):
    path = write_csv(tmp_path / "x_crime_extract.csv", good_rows())
    out = tmp_path / "out"
    assert main(["ingest", "--dataset", "t", "--extract", str(path), "--mapping", "demo_extract", "--out", str(out),
                 "--check", "--max-excluded", "1"]) == 0
    assert not out.exists()
    assert "check only" in capsys.readouterr().out


def test_closed_pipe_is_quiet():
    """`svtools definitions | head -c 0`: the reader has gone before svtools writes."""
    proc = subprocess.Popen([sys.executable, "-m", "svtools.cli", "definitions"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 0
