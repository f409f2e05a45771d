"""svtools.ingest.readers: every extract read as text, or refused with a message naming the file type."""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile

import openpyxl
import pyarrow as pa
import pytest

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.readers import (
    FileInfo,
    ReadOptions,
    describe,
    iter_text_batches,
    read_header,
    read_text_table,
    sniff_format,
)

HEADER = "Crime Ref,HO Class,Victim Age,Amount\n"
ROWS = "00180000025,4.10,08,1.50\n00180000026,008N, 34 ,\n"


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _rows(table):
    return [tuple(r.values()) for r in table.to_pylist()]


def _xlsx(path, rows, sheet="Sheet1", before=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if before:
        wb.create_sheet(before, 0)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


# --------------------------------------------------------------------------- options
def test_read_options_from_mapping_files_block():
    opts = ReadOptions.from_mapping({"pattern": "*.csv", "format": "csv", "encoding": "cp1252",
                                     "delimiter": "\\t", "sheet": "Crimes", "header_row": "3"})
    assert opts == ReadOptions(format="csv", encoding="cp1252", delimiter="\t", sheet="Crimes", header_row=3)
    assert ReadOptions.from_mapping(None) == ReadOptions()
    with pytest.raises(ConfigError, match="did you mean 'delimiter'"):
        ReadOptions.from_mapping({"delimeter": ";"})
    with pytest.raises(ConfigError, match="not a known encoding"):
        ReadOptions(encoding="utf-9")
    with pytest.raises(ConfigError, match="one character"):
        ReadOptions(delimiter=";;")
    with pytest.raises(ConfigError, match="header_row"):
        ReadOptions(header_row=0)


# --------------------------------------------------------------------------- text survives
def test_values_are_text_exactly_as_written(tmp_path):
    path = _write(tmp_path, "a.csv", HEADER + ROWS)
    table = read_text_table(path)
    assert table.schema == pa.schema([(c, pa.large_string()) for c in
                                      ["Crime Ref", "HO Class", "Victim Age", "Amount"]])
    assert _rows(table) == [("00180000025", "4.10", "08", "1.50"), ("00180000026", "008N", "34", None)]
    info = describe(path, sha256=True)
    assert isinstance(info, FileInfo) and info.format == "csv" and info.encoding == "utf-8"
    assert info.delimiter == "," and len(info.sha256) == 64


def test_quoted_delimiters_and_newlines_and_blank_to_null(tmp_path):
    path = _write(tmp_path, "q.csv",
                  'ref,note,x\n1,"a, b",""\n2,"line one\r\nline two","  "\n\n3,"say ""hi""",NULL\n')
    assert _rows(read_text_table(path)) == [
        ("1", "a, b", None), ("2", "line one\r\nline two", None), ("3", 'say "hi"', "NULL")]


def test_columns_restrict_and_order(tmp_path):
    path = _write(tmp_path, "a.csv", HEADER + ROWS)
    table = read_text_table(path, columns=["Victim Age", "Crime Ref"])
    assert table.column_names == ["Victim Age", "Crime Ref"]
    assert table.column("Crime Ref").to_pylist() == ["00180000025", "00180000026"]
    with pytest.raises(DataValidationError, match="no column 'Victim Ages'.*did you mean 'Victim Age'"):
        read_text_table(path, columns=["Victim Ages"])


def test_batches_are_bounded(tmp_path):
    lines = ["id,value"] + [f"{i:06d},v{i}" for i in range(5000)]
    path = _write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    sizes = [b.num_rows for b in iter_text_batches(path, batch_rows=1000)]
    assert sizes == [1000] * 5
    sizes = [b.num_rows for b in iter_text_batches(path, batch_rows=1500, columns=["id"])]
    assert sizes == [1500, 1500, 1500, 500]
    first = next(iter_text_batches(path, batch_rows=1000))
    assert first.column_names == ["id", "value"] and first.column("id")[0].as_py() == "000000"
    assert sum(b.num_rows for b in iter_text_batches(path, batch_rows=7)) == 5000


def test_header_only_file_gives_empty_table(tmp_path):
    path = _write(tmp_path, "h.csv", HEADER)
    assert list(iter_text_batches(path)) == []
    table = read_text_table(path)
    assert table.num_rows == 0 and table.num_columns == 4


def test_header_row_skips_a_title_block(tmp_path):
    path = _write(tmp_path, "t.csv", "Northshire Police extract\nRun 01/04/2024\n\n" + HEADER + ROWS)
    opts = ReadOptions(header_row=4)
    assert read_header(path, opts) == ["Crime Ref", "HO Class", "Victim Age", "Amount"]
    assert read_text_table(path, opts).num_rows == 2
    with pytest.raises(DataValidationError, match="title block.*header_row: 4"):
        read_header(path)


# --------------------------------------------------------------------------- refused files
def test_gzip_is_read_from_its_bytes(tmp_path):
    path = _write(tmp_path, "export.csv", gzip.compress((HEADER + ROWS).encode()))
    assert sniff_format(path) == "csv.gz"
    assert _rows(read_text_table(path))[0] == ("00180000025", "4.10", "08", "1.50")
    inner = _write(tmp_path, "double.csv.gz", gzip.compress(b"PK\x03\x04" + b"\x00" * 100))
    with pytest.raises(DataValidationError, match="gzip-compressed, and inside is a zip archive"):
        sniff_format(inner)
    with pytest.raises(DataValidationError, match="format: csv.gz"):
        read_header(path, ReadOptions(format="csv"))


def test_zip_named_csv_is_refused_naming_its_contents(tmp_path):
    path = tmp_path / "export.csv"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", HEADER)
        zf.writestr("b.csv", HEADER)
    with pytest.raises(DataValidationError) as err:
        read_header(path)
    msg = str(err.value)
    assert "is a zip archive (contains e.g. a.csv, b.csv); unzip it and give the CSV files" in msg
    assert str(path) in msg and "utf-8" not in msg.lower()


def test_legacy_xls_pdf_parquet_and_binary_are_refused(tmp_path):
    cases = {
        "old.csv": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "legacy Excel .xls"),
        "report.csv": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        "data.csv": (b"PAR1\x15\x04\x15" + b"\x00" * 40, "Parquet"),
        "blob.csv": (b"abc,def\n\x01\x02\x00\x00\xff\xfe\x00\x07", "binary file"),
        "page.xls": (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML page"),
    }
    for name, (data, what) in cases.items():
        path = _write(tmp_path, name, data)
        with pytest.raises(DataValidationError, match=what) as err:
            read_header(path)
        assert err.value.file == str(path)
        assert "cp1252" not in str(err.value) and "utf-8" not in str(err.value).lower()


def test_utf16_without_bom_is_named(tmp_path):
    path = _write(tmp_path, "u.csv", (HEADER + ROWS).encode("utf-16-le"))
    with pytest.raises(DataValidationError, match="UTF-16 text without a byte-order mark.*utf-16-le"):
        read_header(path)
    assert read_text_table(path, ReadOptions(encoding="utf-16-le")).num_rows == 2


# --------------------------------------------------------------------------- xlsx
def test_xlsx_cells_become_text_without_invented_decimals(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", [
        ["Crime Ref", "Recorded", "Occurred", "Count", "Rate", "HO Class", "Flag", " Notes "],
        ["00180000025", dt.datetime(2023, 4, 1), dt.datetime(2023, 4, 1, 13, 45), 180000025.0, 0.1, "4.10",
         True, "  x "],
        [180000026, dt.date(2023, 4, 2), dt.datetime(2023, 4, 2, 0, 0), 7, 1e-05, "008/01", False, None],
        [None, None, None, None, None, None, None, None],
    ], sheet="Crimes", before="Export details")
    wb = openpyxl.load_workbook(path)
    wb["Crimes"]["B2"].number_format = "dd/mm/yyyy"  # a date column; C has openpyxl's date-time format
    wb.save(path)
    assert sniff_format(path) == "xlsx"
    with pytest.raises(DataValidationError, match="no sheet 'Crime'.*did you mean 'Crimes'"):
        read_header(path, ReadOptions(sheet="Crime"))
    opts = ReadOptions(sheet="Crimes")
    assert read_header(path, opts)[-1] == "Notes"
    table = read_text_table(path, opts)
    assert all(t == pa.large_string() for t in table.schema.types)
    assert _rows(table) == [
        ("00180000025", "2023-04-01", "2023-04-01T13:45:00", "180000025", "0.1", "4.10", "TRUE", "x"),
        ("180000026", "2023-04-02", "2023-04-02T00:00:00", "7", "0.00001", "008/01", "FALSE", None),
    ]
    renamed = tmp_path / "book_named.csv"
    renamed.write_bytes(path.read_bytes())
    assert sniff_format(renamed) == "xlsx"
    assert describe(renamed, opts).sheet == "Crimes"
    assert [b.num_rows for b in iter_text_batches(renamed, opts, columns=["Count"], batch_rows=1)] == [1, 1]


def test_xlsx_header_checks_and_time_formats(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Title of the export"])
    ws.append(["Ref", "At", "Age", "On"])
    ws.append(["1", dt.datetime(2023, 4, 1, 0, 0), 34, dt.datetime(2023, 4, 1)])
    ws.append(["2", dt.datetime(2023, 4, 1, 0, 0), 35, dt.datetime(2023, 4, 2), "stray"])
    ws["B3"].number_format = "dd/mm/yyyy hh:mm"  # midnight in a date-time column stays a date-time
    for cell in ("B4", "D3", "D4"):
        ws[cell].number_format = "dd/mm/yyyy"
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(DataValidationError, match="cell E4 holds data.*'stray'.*no name"):
        read_text_table(tmp_path / "t.xlsx", ReadOptions(header_row=2))
    ws["E4"] = None
    ws.append(["3", None, "Age"])
    ws["A1"], ws["C2"] = "x", "Ref"
    wb.save(tmp_path / "d.xlsx")
    with pytest.raises(DataValidationError, match=r"repeated column name\(s\): 'Ref' \(columns 1 and 3\)"):
        read_header(tmp_path / "d.xlsx", ReadOptions(header_row=2))
    ws["C2"] = "Age"
    wb.save(tmp_path / "ok.xlsx")
    got = read_text_table(tmp_path / "ok.xlsx", ReadOptions(header_row=2))
    assert got.column("At").to_pylist() == ["2023-04-01T00:00:00", "2023-04-01T00:00:00", None]
    assert got.column("On").to_pylist() == ["2023-04-01", "2023-04-02", None]


# --------------------------------------------------------------------------- header checks
def test_nul_and_control_characters_in_header_are_refused(tmp_path):
    path = _write(tmp_path, "n.csv", b"Ref,Vic\x00tim Age,HO\n" + b"1,2,3\n" * 10)
    with pytest.raises(DataValidationError, match=r"column 2 has a NUL byte: 'Vic\\x00tim Age'"):
        read_header(path, ReadOptions(encoding="utf-8", delimiter=","))
    path = _write(tmp_path, "c.csv", "Ref,Victim\x07Age\n1,2\n")
    with pytest.raises(DataValidationError, match=r"column 2 has a control character \('\\x07'\)"):
        read_header(path)


def test_duplicate_and_blank_header_names(tmp_path):
    names = ["Ref", "A", "B", "C", "D", "E", "Victim Age", "F", "G", "H", "I", "Victim Age "]
    path = _write(tmp_path, "d.csv", ",".join(names) + "\n" + ",".join("1" * 12) + "\n")
    with pytest.raises(DataValidationError,
                       match=r"repeated column name\(s\): 'Victim Age' \(columns 7 and 12\)"):
        read_header(path)
    path = _write(tmp_path, "b.csv", "Ref,,Age\n1,x,3\n")
    with pytest.raises(DataValidationError, match="column 2 has no name in the header but holds data"):
        read_header(path)
    path = _write(tmp_path, "t.csv", "\ufeff Ref ,Age,\n1,3,\n2,4,\n")
    info = describe(path)
    assert info.header == ["Ref", "Age"] and info.notes and info.encoding == "utf-8"
    assert _rows(read_text_table(path)) == [("1", "3"), ("2", "4")]
    assert read_header(_write(tmp_path, "sp.csv", '"a" , "b c"\n1 , 2\n')) == ["a", "b c"]
    path = _write(tmp_path, "late.csv", "Ref,,Age\n" + "1,,3\n" * 100 + "2,oops,4\n")
    with pytest.raises(DataValidationError, match="column 2 has no name.*data row 101.*'oops'"):
        read_text_table(path)


def test_trailing_delimiter_in_header_or_rows(tmp_path):
    assert _rows(read_text_table(_write(tmp_path, "h.csv", "a,b,\n1,2\n"))) == [("1", "2")]
    assert _rows(read_text_table(_write(tmp_path, "r.csv", "a,b\n1,2,\n3,4,\n"))) == [("1", "2"), ("3", "4")]


# --------------------------------------------------------------------------- encodings
CP1252_TEXT = "Ref,Street\n1,St George\u2019s Quay\n2,Caf\u00e9 \u2013 Main St\n"


def test_cp1252_under_auto(tmp_path):
    path = _write(tmp_path, "w.csv", CP1252_TEXT.encode("cp1252"))
    info = describe(path)
    assert info.encoding == "cp1252" and "not UTF-8" in info.encoding_note and "0x92" in info.encoding_note
    streets = read_text_table(path).column("Street").to_pylist()
    assert streets == ["St George\u2019s Quay", "Caf\u00e9 \u2013 Main St"]


def test_wrong_declared_utf8_names_byte_line_and_suggests_cp1252(tmp_path):
    path = _write(tmp_path, "w.csv", CP1252_TEXT.encode("cp1252"))
    with pytest.raises(DataValidationError) as err:
        read_header(path, ReadOptions(encoding="utf-8"))
    msg = str(err.value)
    assert "not valid utf-8" in msg and "byte 0x92 at offset 22 (line 2" in msg
    assert "set 'encoding: cp1252'" in msg
    # a wrong cp1252 (0x81 is undefined in cp1252) never suggests cp1252 itself
    path = _write(tmp_path, "u.csv", "Ref,Name\n1,\u0101\u0101\n".encode())
    with pytest.raises(DataValidationError) as err:
        read_header(path, ReadOptions(encoding="cp1252"))
    assert "'encoding: utf-8'" in str(err.value) and "'encoding: cp1252'" not in str(err.value)


def test_bad_bytes_beyond_the_first_mib_are_located(tmp_path):
    body = "Ref,Name\n" + "1,abc\n" * 300_000
    path = _write(tmp_path, "late.csv", body.encode() + b"2,Caf\xe9\n")
    with pytest.raises(DataValidationError, match=r"line 300,002.*'encoding: cp1252'"):
        read_text_table(path)


def test_utf16_with_bom_and_utf8_bom(tmp_path):
    path = _write(tmp_path, "u16.csv", (HEADER + ROWS).encode("utf-16"))
    info = describe(path)
    assert info.encoding in ("utf-16-le", "utf-16-be") and "byte-order mark" in info.encoding_note
    assert _rows(read_text_table(path))[0] == ("00180000025", "4.10", "08", "1.50")
    assert read_text_table(path, ReadOptions(encoding="utf-16")).num_rows == 2
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + (HEADER + ROWS).encode())
    assert read_header(path)[0] == "Crime Ref"
    assert read_header(path, ReadOptions(encoding="utf-8"))[0] == "Crime Ref"


# --------------------------------------------------------------------------- delimiters
@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delim):
    text = (HEADER + ROWS).replace(",", delim)
    path = _write(tmp_path, "s.csv", text.replace("4.10", '"4,10"'))
    info = describe(path)
    assert info.delimiter == delim and len(info.header) == 4
    assert _rows(read_text_table(path))[0] == ("00180000025", "4,10", "08", "1.50")


def test_semicolon_header_with_commas_in_values(tmp_path):
    path = _write(tmp_path, "s.csv", "Ref;Amount;Note\n1;1,50;a, b, c\n2;2,00;d, e\n")
    assert describe(path).delimiter == ";"


def test_wrong_declared_delimiter(tmp_path):
    path = _write(tmp_path, "s.csv", (HEADER + ROWS).replace(",", ";"))
    with pytest.raises(DataValidationError, match=r"'delimiter: ','.*semicolon-separated \(';'\)") as err:
        read_header(path, ReadOptions(delimiter=","))
    assert "Crime Ref;HO Class" in str(err.value)


# --------------------------------------------------------------------------- rows
def test_ragged_row_names_its_line(tmp_path):
    path = _write(tmp_path, "r.csv", 'a,b,c\n1,2,3\n4,"x\ny",6\n7,8\n9,10,11\n')
    with pytest.raises(DataValidationError, match=r"line 5 has 2 fields but the header has 3") as err:
        read_text_table(path)
    assert "'7,8'" in str(err.value)
    path = _write(tmp_path, "r2.csv", "a,b\n" + "1,2\n" * 20000 + "3,4,5\n")
    with pytest.raises(DataValidationError, match=r"line 20,002 has 3 fields.*double quotes"):
        for _ in iter_text_batches(path, batch_rows=1000):
            pass


def test_unmatched_quote_swallowing_the_rest_is_refused(tmp_path):
    path = _write(tmp_path, "uq.csv", 'a,b\n1,"open\n2,3\n4,5\n')
    with pytest.raises(DataValidationError, match="column 'b'.*unmatched double quote"):
        read_text_table(path)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        read_header(tmp_path / "nope.csv")
    with pytest.raises(DataValidationError, match="empty"):
        read_header(_write(tmp_path, "e.csv", b""))
