"""A corpus of damaged extracts, each ingested strict and --lenient through the CLI: every one ends in a clear
refusal (exit 1, one line naming the file) or a reconciled ingest (exit 0), never a traceback or an
"unexpected error". The independent check uses a corpus we have not seen; this one keeps the mechanism honest."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pandas as pd
import pytest

from svtools.cli import main

from test_ingest import HEADER, good_rows

GOOD = pd.DataFrame(good_rows() * 4, columns=HEADER)
GOOD["Crime Number"] = [f"CL/{i}" for i in range(len(GOOD))]
GOOD["LSOA 2011"] = GOOD["LSOA 2011"].replace("", "E01011949")  # every row placed: a damage shows as itself


def _csv(frame=GOOD, **kw) -> bytes:
    return frame.to_csv(index=False, **kw).encode(kw.pop("encoding", "utf-8") if "encoding" in kw else "utf-8")


def _edit(col, fn):
    f = GOOD.copy()
    f[col] = fn(f[col])
    return _csv(f)


def _xlsx(frame) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", _csv())
    return buf.getvalue()


text = _csv().decode()
header, *lines = text.splitlines()
CORPUS = {
    "empty": b"",
    "only_bom": b"\xef\xbb\xbf",
    "only_newlines": b"\n\n\n",
    "header_only": (header + "\n").encode(),
    "header_and_blank_lines": (header + "\n\n\n").encode(),
    "crlf": text.replace("\n", "\r\n").encode(),
    "cr_only": text.replace("\n", "\r").encode(),
    "bom_utf8": b"\xef\xbb\xbf" + text.encode(),
    "utf16": text.encode("utf-16"),
    "semicolons": _csv(sep=";"),
    "tabs": _csv(sep="\t"),
    "unbalanced_quote": (header + "\n" + '"CL/1,03/05/2019' + "\n" + "\n".join(lines[1:])).encode(),
    "extra_field": (header + "\n" + lines[0] + ",extra\n" + "\n".join(lines[1:])).encode(),
    "missing_field": (header + "\n" + lines[0].rsplit(",", 1)[0] + "\n" + "\n".join(lines[1:])).encode(),
    "blank_line_in_middle": (header + "\n" + lines[0] + "\n\n" + "\n".join(lines[1:])).encode(),
    "very_long_cell": _edit("Location Type", lambda s: s.where(s.index != 0, "x" * 200_000)),
    "binary_junk": bytes(range(256)) * 10,
    "gzip_of_junk": gzip.compress(bytes(range(256)) * 10),
    "truncated_gzip": gzip.compress(_csv())[:200],
    "zip_named_csv": _zip(),
    "xlsx_named_csv": _xlsx(GOOD),
    "xlsx_header_only": _xlsx(GOOD.iloc[:0]),
    "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    "html_table": b"<html><body><table><tr><td>Crime Number</td></tr></table></body></html>",
    "cp1252_text": GOOD.assign(**{"Location Type": "Caf\u00e9"}).to_csv(index=False).encode("cp1252"),
    "duplicate_header": (header + ",Victim Gender\n" + "\n".join(ln + ",M" for ln in lines)).encode(),
    "nul_in_header": (header.replace("HO Class", "HO\x00Class") + "\n" + "\n".join(lines)).encode(),
    "nul_in_data": (header + "\n" + lines[0].replace("Street", "Str\x00eet") + "\n" + "\n".join(lines[1:])).encode(),
    "header_case_changed": (header.upper() + "\n" + "\n".join(lines)).encode(),
    "header_padded": (",".join(f" {h} " for h in header.split(",")) + "\n" + "\n".join(lines)).encode(),
    "dates_iso": _edit("Date Recorded", lambda s: pd.to_datetime(s, dayfirst=True).dt.strftime("%Y-%m-%d")),
    "dates_us": _edit("Date Recorded", lambda s: pd.to_datetime(s, dayfirst=True).dt.strftime("%m/%d/%Y")),
    "dates_2099": _edit("Date Recorded", lambda s: s.str.replace("2019", "2099")),
    "dates_1899": _edit("Date Recorded", lambda s: s.str.replace("2019", "1899")),
    "dates_blank": _edit("Date Recorded", lambda s: s.where(s.index % 2 == 0, "")),
    "dates_excel_serial": _edit("Date Recorded", lambda s: "43500"),
    "ages_negative": _edit("Victim Age at Offence", lambda s: "-3"),
    "ages_decimal": _edit("Victim Age at Offence", lambda s: "19.5"),
    "ages_text": _edit("Victim Age at Offence", lambda s: "adult"),
    "ages_nan": _edit("Victim Age at Offence", lambda s: "NaN"),
    "codes_unknown": _edit("HO Class", lambda s: "999Z"),
    "codes_unicode": _edit("HO Class", lambda s: "８N"),
    "codes_float_like": _edit("HO Class", lambda s: "4.10"),
    "knife_blank": _edit("Weapon Knife Y/N", lambda s: ""),
    "knife_spelling": _edit("Weapon Knife Y/N", lambda s: "Yes"),
    "force_unknown": _edit("Owning Force", lambda s: "Atlantis Police"),
    "lsoa_lower": _edit("LSOA 2011", lambda s: s.str.lower()),
    "lsoa_malformed": _edit("LSOA 2011", lambda s: "E0101194"),
    "lsoa_all_blank": _edit("LSOA 2011", lambda s: ""),
    "whitespace_cells": _edit("Victim Gender", lambda s: "   "),
    "all_rows_duplicated": _csv(pd.concat([GOOD, GOOD])),
    "refs_blank": _edit("Crime Number", lambda s: ""),
    "sex_unknown_spelling": _edit("Victim Gender", lambda s: "Masculine"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("lenient", [False, True])
def test_every_damaged_extract_ends_cleanly(name, lenient, tmp_path, capsys):
    path = tmp_path / "x_crime_extract.csv"
    path.write_bytes(CORPUS[name])
    out = tmp_path / "out"
    args = ["ingest", "--dataset", "t", "--extract", str(path), "--mapping", "demo_extract", "--out", str(out)]
    rc = main(args + (["--lenient"] if lenient else []))
    captured = capsys.readouterr()
    assert rc in (0, 1), (name, rc)
    assert "Traceback" not in captured.err and "unexpected error" not in captured.err, (name, captured.err)
    if rc == 1:
        line = captured.err.strip()
        assert line.startswith("svtools ingest: error:") and "\n" not in line, (name, line)
        assert str(path) in line or "mapping" in line or str(tmp_path) in line, (name, line)
    else:  # an ingest that went through reconciles, file by file
        recon = json.loads((out / "reconciliation.json").read_text())
        assert recon["balanced"] and recon["rows_in"] == recon["rows_kept"] + recon["rows_excluded"], name
