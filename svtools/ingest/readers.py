"""Reading any extract an analyst is sent as text: CSV, gzip-compressed CSV and xlsx, in bounded memory.

The contract
------------
* **The format comes from the file's bytes, not its name.** gzip (``1f 8b``) is ``csv.gz``; a zip holding
  ``xl/workbook.xml`` is ``xlsx``. Anything else that is not text - a zip of CSV files, a legacy ``.xls``
  (OLE2), a PDF, a Parquet file, an HTML page saved as "Excel", any binary - is refused with a
  :class:`~svtools.errors.DataValidationError` naming what the file looks like and what to ask for, even
  when it is called ``.csv``. A binary file never gets an encoding message.
* **Every cell is text, exactly as written**, trimmed, an empty cell null: no type guessing, so
  ``00180000025``, ``4.10`` and ``008N`` survive. Every column is ``pa.large_string()``. In a workbook, the
  cells Excel stores as numbers or dates become text without inventing anything: an integer-valued number
  has no ``.0``, a date is ``2023-04-01``, a date-time (a cell formatted with a time) ``2023-04-01T13:45:00``.
* **Encoding** ``auto``: a byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-8 if the first MiB decodes,
  else cp1252; :class:`FileInfo` says which and why. A declared encoding that does not decode is an error
  naming the byte, its offset and line, and the encoding that does decode the sample (when one does).
* **Delimiter** ``auto``: the one of ``, ; TAB |`` giving the header the most fields, consistent with the
  next lines. A declared delimiter absent from the header is an error naming the one that looks right.
* **The header is checked**: repeated names, NUL bytes or control characters in a name, and a blank name
  over a column holding data are refused, naming the columns. Names lose a leading BOM and surrounding
  whitespace. A blank-named column without data (a trailing delimiter) is ignored, with a note.
* **Rows**: values may hold the delimiter and line breaks inside double quotes; a row with the wrong number
  of fields is an error naming its line.
* **Memory**: :func:`iter_text_batches` streams (``pyarrow.csv.open_csv``; openpyxl's read-only mode for
  xlsx), holding only the requested columns and at most ``batch_rows`` rows at a time.

The options come from a mapping's ``files:`` block (:meth:`ReadOptions.from_mapping`; ``docs/onboarding.md``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.mapping_keys import check_keys, did_you_mean

__all__ = ["FORMATS", "DELIMITERS", "ReadOptions", "FileInfo", "sniff_format", "read_header", "describe",
           "iter_text_batches", "read_text_table"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "csv", "csv.gz", "xlsx")
#: Delimiters tried by ``delimiter: auto``, in order of preference when they tie.
DELIMITERS = (",", ";", "\t", "|")
_MAGIC_BYTES = 64 * 1024  # what the binary check looks at
_HEAD_BYTES = 1024 * 1024  # what the encoding, delimiter and header checks look at
_SAMPLE_RECORDS = 50  # data lines checked against the header before streaming
_BLOCK_SIZE = 2 * 1024 * 1024  # pyarrow's CSV block (bigger: a little faster, more memory held)
_XLSX_CHUNK = 65_536  # xlsx rows turned into Arrow arrays at a time
_FILE_KEYS = ("pattern", "format", "encoding", "delimiter", "sheet", "header_row")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))  # UTF-32 LE before UTF-16 LE
_BOM_FAMILY = {"utf-8": ("utf-8-sig",), "utf-16-le": ("utf-16",), "utf-16-be": ("utf-16",),
               "utf-32-le": ("utf-32",), "utf-32-be": ("utf-32",)}
_CONTROL_BYTES = [bytes([b]) for b in [*range(0, 9), *range(14, 27), *range(28, 32), 127]]
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_TODO_ENCODING = "set 'encoding:' in the mapping's files: block"


# --------------------------------------------------------------------------- options and results
@dataclass(frozen=True)
class ReadOptions:
    """How to read one file (the mapping's ``files:`` block).

    Parameters
    ----------
    format : {"auto", "csv", "csv.gz", "xlsx"}
        ``auto`` tells the format from the file's bytes; a declared format must agree with them.
    encoding : str
        ``auto`` (BOM, then UTF-8, then cp1252) or a Python codec name (``cp1252``, ``utf-16``, ...).
    delimiter : str
        ``auto`` (sniffed from the header among ``, ; TAB |``) or one character; ``tab`` and ``\\t`` mean TAB.
    sheet : str, optional
        The xlsx sheet to read (default: the first). Ignored for CSV.
    header_row : int
        The line (CSV) or row (xlsx) of the header, 1-based, for files with a title block above it.
    """

    format: str = "auto"
    encoding: str = "auto"
    delimiter: str = "auto"
    sheet: str | None = None
    header_row: int = 1

    def __post_init__(self) -> None:
        fmt = str(self.format).strip().lower()
        if fmt not in FORMATS:
            raise ConfigError(f"files.format: {self.format!r} is not one of {', '.join(FORMATS)}"
                              f"{did_you_mean(fmt, FORMATS)}")
        enc = str(self.encoding).strip()
        enc = "auto" if enc.lower() == "auto" else enc
        if enc != "auto":
            try:
                codecs.lookup(enc)
            except LookupError:
                raise ConfigError(f"files.encoding: {enc!r} is not a known encoding "
                                  "(e.g. auto, utf-8, cp1252, utf-16)") from None
        delim = str(self.delimiter)
        delim = "\t" if delim in ("tab", "TAB", "\\t") else "auto" if delim.lower() == "auto" else delim
        if delim != "auto" and (len(delim) != 1 or delim in '"\r\n'):
            raise ConfigError(f"files.delimiter: {self.delimiter!r} must be one character (not a quote or "
                              'line end) or auto, e.g. ";" or "\\t" in double quotes')
        row = self.header_row
        if isinstance(row, bool) or not isinstance(row, int) or row < 1:
            raise ConfigError(f"files.header_row: {row!r} must be a whole number >= 1 (the header's line)")
        for name, value in (("format", fmt), ("encoding", enc), ("delimiter", delim),
                            ("sheet", None if self.sheet is None else str(self.sheet))):
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, files: Mapping | None, where: str = "files") -> ReadOptions:
        """Build the options from a mapping's ``files:`` block (``pattern`` is not a read option: ignored).

        Parameters
        ----------
        files : mapping or None
            Keys ``pattern``, ``format``, ``encoding``, ``delimiter``, ``sheet``, ``header_row``; values may
            be text, as the mapping loader reads them (``header_row: "3"``). An unknown key is a ConfigError.
        where : str
            Where the block is, for messages.

        Returns
        -------
        ReadOptions
        """
        if files is None:
            return cls()
        check_keys(files, _FILE_KEYS, where)
        kwargs = {k: files[k] for k in ("format", "encoding", "delimiter", "sheet")
                  if files.get(k) is not None}
        row = files.get("header_row")
        if row is not None:
            kwargs["header_row"] = int(row.strip()) if isinstance(row, str) and row.strip().isdigit() else row
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class FileInfo:
    """What :func:`describe` found out about a file.

    ``format`` is ``csv``, ``csv.gz`` or ``xlsx``; ``encoding`` the codec the text is read with
    (``utf-8``, ``cp1252``, ``utf-16-le``, ...) and ``delimiter`` one character (both None for xlsx);
    ``header`` the cleaned column names (blank-named empty columns left out); ``sheet`` the xlsx sheet read;
    ``encoding_note`` why this encoding (``"cp1252 (not UTF-8: byte 0x92 at offset ...)"``); ``notes``
    anything else the analyst should know (ignored empty columns, ...); ``sha256`` the file's hash, if asked.
    """

    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    header: list[str]
    header_row: int = 1
    sheet: str | None = None
    encoding_note: str = ""
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None


@dataclass
class _Plan:
    """How to stream the data part of one file."""

    path: Path
    format: str
    header: list[str]  # cleaned names, "" where blank, in file order
    encoding: str | None = None
    encoding_note: str = ""
    delimiter: str | None = None
    data_offset: int = 0  # bytes into the (decompressed) stream where the first data line starts
    header_row: int = 1
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [n for n in self.header if n]

    @property
    def blank_positions(self) -> list[int]:
        return [i for i, n in enumerate(self.header) if not n]

    @property
    def data_line(self) -> int:
        return self.header_row + 1


def _fail(path: Path, message: str, **kw) -> DataValidationError:
    return DataValidationError(message, file=str(path), **kw)


# --------------------------------------------------------------------------- format
_MAGIC = (  # (leading bytes, what it is, what to do)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel .xls (or other OLE) file",
     "save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document", "ask for the data as CSV or .xlsx"),
    (b"PAR1", "a Parquet file", "ask for it as CSV (or convert it with pyarrow.parquet)"),
    (b"ARROW1", "an Arrow/Feather file", "ask for it as CSV"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"PK\x03\x04", "a zip archive", "unzip it and give the files inside"),
    (b"PK\x05\x06", "an empty zip archive", "ask for the files again"),
    (b"\x1f\x8b", "a gzip file", "decompress it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and give the CSV files"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it and give the CSV files"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it (xz -d) or ask for .csv or .csv.gz"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it (zstd -d) or ask for .csv or .csv.gz"),
    (b"\x89PNG", "a PNG image", "ask for the data, not a picture of it"),
    (b"\xff\xd8\xff", "a JPEG image", "ask for the data, not a picture of it"),
    (b"GIF8", "a GIF image", "ask for the data, not a picture of it"),
    (b"{\\rtf", "an RTF document", "ask for the data as CSV or .xlsx"),
)


def _binary_kind(data: bytes, encoding: str = "auto") -> tuple[str, str] | None:
    """``(what it is, what to do)`` when ``data`` (a file's start) is not CSV text; None when it is text."""
    if any(data.startswith(bom) for bom, codec in _BOMS if codec != "utf-8"):
        return None  # UTF-16/32 text with a byte-order mark: NUL bytes are expected
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            return what, todo
    if data.startswith(b"BZh") and data[4:10] == b"1AY&SY":
        return "a bzip2-compressed file", "decompress it (bunzip2) or ask for .csv or .csv.gz"
    start = data[:2048].lstrip(codecs.BOM_UTF8).lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        return ("an HTML page (some systems save HTML tables as 'Excel' files)",
                "open it in Excel and save it as .xlsx or CSV")
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in data:
        return "an Excel 2003 XML spreadsheet", "open it in Excel and save it as .xlsx or CSV"
    nul = data.find(b"\x00")
    if nul < 0 or (encoding != "auto" and _norm(encoding).startswith(("utf-16", "utf-32"))):
        return None
    if data.count(b"\x00") < 8 and sum(data.count(b) for b in _CONTROL_BYTES) <= 0.05 * len(data):
        return None  # text with a stray NUL: the header check (or the values) will show it
    sample = data[:4096 - 4096 % 2]
    odd, even = sample[1::2], sample[0::2]
    for zeros, chars, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if len(zeros) > 2 and zeros.count(0) >= 0.9 * len(zeros) and chars.count(0) <= 0.1 * len(chars):
            return ("UTF-16 text without a byte-order mark (NUL bytes between the characters)",
                    f"set 'encoding: {codec}' in the mapping's files: block, or save the file as UTF-8")
    return f"a binary file, not CSV text (a NUL byte at offset {nul:,})", "ask for the data as CSV or .xlsx"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, zlib.error) as exc:
        raise _fail(path, f"is a damaged or incomplete zip archive ({exc}); ask for the file again") from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    for marker, what in (("xl/workbook.bin", "an Excel binary workbook (.xlsb)"),
                         ("word/document.xml", "a Word document (.docx), not a data file"),
                         ("ppt/presentation.xml", "a PowerPoint file (.pptx), not a data file")):
        if marker in names:
            raise _fail(path, f"is {what}; save the data as .xlsx or CSV")
    if b"opendocument.spreadsheet" in mimetype:
        raise _fail(path, "is an OpenDocument spreadsheet (.ods); save it as .xlsx or CSV")
    files = [n for n in names if not n.endswith("/")]
    if not files:
        raise _fail(path, "is an empty zip archive; ask for the files again")
    more = f", ... ({len(files)} files)" if len(files) > 3 else ""
    raise _fail(path, f"is a zip archive (contains e.g. {', '.join(files[:3])}{more}); "
                      "unzip it and give the CSV files")


def _sniff(path: Path, encoding: str = "auto") -> str:
    if not path.is_file():
        raise _fail(path, "file not found" if not path.exists() else "is not a file")
    with open(path, "rb") as fh:
        head = fh.read(_MAGIC_BYTES)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as gz:
                inner = gz.read(_MAGIC_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise _fail(path, f"is a damaged gzip file ({exc}); ask for the file again") from None
        kind = _binary_kind(inner, encoding)
        if kind:
            raise _fail(path, f"is gzip-compressed, and inside is {kind[0]}; {kind[1]}")
        return "csv.gz"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _zip_kind(path)
    kind = _binary_kind(head, encoding)
    if kind:
        if head.startswith(_MAGIC[0][0]):
            with open(path, "rb") as fh:
                if "EncryptedPackage".encode("utf-16-le") in fh.read(_HEAD_BYTES):
                    raise _fail(path, "is a password-protected (encrypted) Excel workbook; remove the "
                                      "password and save it as .xlsx or CSV")
        raise _fail(path, f"is {kind[0]}; {kind[1]}")
    return "csv"


def sniff_format(path: str | Path) -> str:
    """Tell a file's format from its bytes (never its name): ``"csv"``, ``"csv.gz"`` or ``"xlsx"``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str

    Raises
    ------
    DataValidationError
        The file is missing, or is none of the three (a zip of CSV files, a legacy ``.xls``, a PDF, Parquet,
        HTML, any other binary, ...): the message names what it looks like and what to ask for.
    """
    return _sniff(Path(path))


# --------------------------------------------------------------------------- encoding
def _norm(codec: str) -> str:
    return codecs.lookup(codec).name


def _decode(data: bytes, codec: str, final: bool) -> str:
    """Decode, allowing a multi-byte character cut at the end when ``data`` is not the whole file."""
    return codecs.getincrementaldecoder(codec)().decode(data, final=final)


def _bad_byte(data: bytes, exc: UnicodeDecodeError, codec: str, base: int, line0: int) -> str:
    """``byte 0x92 at offset 1,234 (line 7: 'St George\\x92s Quay')`` for a decode error in ``data``."""
    start = exc.start
    lo, hi = max(data.rfind(b"\n", 0, start) + 1, start - 30), data.find(b"\n", start, start + 30)
    text = data[lo: hi if hi >= 0 else start + 30].decode(codec, errors="backslashreplace").strip()
    line = line0 + data.count(b"\n", 0, start)
    return f"byte 0x{data[start]:02x} at offset {base + start:,} (line {line:,}: {text!r})"


def _suggest(data: bytes, failed: str, final: bool) -> str:
    """Name an encoding (not ``failed``) that decodes ``data``, or say that none of the usual ones does."""
    candidates = [codec for bom, codec in _BOMS if data.startswith(bom)][:1] + ["utf-8", "cp1252"]
    for codec in candidates:
        if _norm(codec) != _norm(failed):
            try:
                _decode(data, codec, final)
            except UnicodeDecodeError:
                continue
            return f"it decodes as {codec}: set 'encoding: {codec}' in the mapping's files: block"
    return ("neither UTF-8 nor cp1252 decodes it either; ask the sender which encoding it is and "
            + _TODO_ENCODING)


def _resolve_encoding(path: Path, head: bytes, declared: str, at_eof: bool) -> tuple[str, int, str, str]:
    """``(codec, BOM length, decoded head, note)``; the codec never expects a BOM (it is skipped)."""
    bom_len, bom_codec = next(((len(b), c) for b, c in _BOMS if head.startswith(b)), (0, None))
    if declared == "auto":
        tried = [bom_codec] if bom_codec else ["utf-8", "cp1252"]
    else:
        name = _norm(declared)
        if bom_codec and name in (bom_codec, *_BOM_FAMILY[bom_codec]):
            tried = [bom_codec]
        elif bom_codec == "utf-8" and not name.startswith(("utf-16", "utf-32")):
            tried = [name]  # a UTF-8 byte-order mark in front of 8-bit text: skip the mark
        else:
            bom_len = 0
            tried = [{"utf-16": "utf-16-le", "utf-32": "utf-32-le", "utf-8-sig": "utf-8"}.get(name, name)]
    body, first_error = head[bom_len:], None
    for codec in tried:
        try:
            text = _decode(body, codec, at_eof)
        except UnicodeDecodeError as exc:
            first_error = first_error or (codec, exc)
            continue
        if declared != "auto" or bom_codec:
            note = f"{codec} ({'declared' if declared != 'auto' else 'byte-order mark'})"
        elif codec == "utf-8":
            note = "utf-8 (plain ASCII)" if body.isascii() else "utf-8 (decodes as UTF-8)"
        else:
            note = f"{codec} (not UTF-8: {_bad_byte(body, first_error[1], 'utf-8', bom_len, 1)})"
        return codec, bom_len, text, note
    codec, exc = first_error
    where = _bad_byte(body, exc, codec, bom_len, 1)
    if declared == "auto" and not bom_codec:
        raise _fail(path, f"is neither UTF-8 nor cp1252 text: {where}; ask the sender which encoding it is "
                          f"and {_TODO_ENCODING}")
    label = f"{codec} (as its byte-order mark says)" if declared == "auto" else codec
    raise _fail(path, f"is not valid {label} text: {where}; {_suggest(head, codec, at_eof)}")


# --------------------------------------------------------------------------- byte streams and lines
def _open_stream(path: Path, fmt: str, offset: int = 0):
    """A pyarrow input stream over the (decompressed) bytes, positioned at ``offset``."""
    if fmt != "csv.gz":
        stream = pa.OSFile(str(path), "r")
        stream.seek(offset)
        return stream
    stream = pa.input_stream(str(path), compression="gzip")
    while offset > 0:
        got = len(stream.read(min(offset, 1 << 20)))
        offset = offset - got if got else 0
    return stream


def _read_head(path: Path, fmt: str) -> tuple[bytes, bool]:
    """The first MiB of (decompressed) bytes and whether that is the whole file."""
    try:
        with (gzip.open if fmt == "csv.gz" else open)(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            return head, not fh.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str, at_eof: bool, limit: int) -> list[str]:
    """Up to ``limit`` complete physical lines of ``text``, with their line ends."""
    out = []
    for m in _LINE.finditer(text):
        if not at_eof and m.end() == len(text) and not m.group().endswith(("\n", "\r")):
            break
        out.append(m.group())
        if len(out) >= limit:
            break
    return out


def _fields(line: str, delimiter: str) -> list[str]:
    return next(_iter_records([line], delimiter), (0, line.split(delimiter)))[1]


def _iter_records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(0-based line where it starts, fields)`` of each non-empty record (quoted line breaks allowed)."""
    fed = [0]

    def feed():
        for line in lines:
            fed[0] += 1
            yield line

    reader = csv.reader(feed(), delimiter=delimiter, quotechar='"', strict=False)
    while True:
        start = fed[0]
        try:
            rec = next(reader)
        except (StopIteration, csv.Error):
            return
        if rec:
            yield start, rec


def _records(text: str, delimiter: str, limit: int) -> list[tuple[int, list[str]]]:
    out = []
    for item in _iter_records(io.StringIO(text, newline=""), delimiter):
        out.append(item)
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- header
def _sniff_delimiter(header_line: str, sample: str) -> str:
    """The delimiter giving the header the most fields, preferring one consistent with the sample lines."""
    best, best_key = ",", None
    for d in DELIMITERS:
        n = len(_fields(header_line, d))
        if n > 1:
            rows = [len(r) for _, r in _records(sample, d, 20)]
            key = (not rows or sum(r == n for r in rows) >= 0.8 * len(rows), n)
            if best_key is None or key > best_key:
                best, best_key = d, key
    return best


def _check_names(path: Path, raw: list[str]) -> list[str]:
    """Cleaned names (BOM and whitespace stripped); refuse NUL/control characters and repeated names."""
    names, bad = [], []
    for i, name in enumerate(raw, 1):
        clean = name.lstrip("\ufeff").strip()
        if len(clean) > 1 and clean[0] == clean[-1] == '"':  # ` "Victim Age"`: quoted after a space
            clean = clean[1:-1].replace('""', '"').strip()
        controls = [ch for ch in clean if unicodedata.category(ch) == "Cc"]
        if controls:
            what = "a NUL byte" if "\x00" in controls else f"a control character ({controls[0]!r})"
            bad.append(f"column {i} has {what}: {name!r}")
        names.append(clean)
    if bad:
        hint = " (UTF-16 text read as 8-bit? a binary file?)" if any("NUL" in b for b in bad) else ""
        raise _fail(path, f"the header has NUL bytes or control characters{hint}: " + "; ".join(bad[:5]))
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, 1):
        if name:
            seen.setdefault(name, []).append(i)
    repeated = [(n, p) for n, p in seen.items() if len(p) > 1]
    if repeated:
        raise _fail(path, "repeated column name(s): " + "; ".join(
            f"{n!r} (columns {', '.join(map(str, p[:-1]))} and {p[-1]})" for n, p in repeated[:5])
            + "; every column needs its own name")
    return names


def _plan_csv(path: Path, fmt: str, options: ReadOptions) -> _Plan:
    head, at_eof = _read_head(path, fmt)
    if not head.strip():
        raise _fail(path, "the file is empty")
    codec, bom_len, text, note = _resolve_encoding(path, head, options.encoding, at_eof)
    hr = options.header_row
    lines = _lines(text, at_eof, hr)
    if len(lines) < hr:
        raise _fail(path, f"header_row is {hr} but the file has only {len(lines)} line(s)" if at_eof else
                    f"no line end in the first {_HEAD_BYTES:,} bytes: is this a CSV file?")
    header_line = lines[hr - 1].rstrip("\r\n").lstrip("\ufeff")
    if not header_line.strip():
        raise _fail(path, f"line {hr} (the header) is blank; set header_row: to the header's line")
    if header_line.count('"') % 2:
        raise _fail(path, f"the header (line {hr}) has an unmatched double quote (a line break inside a "
                          f"column name?): {header_line[:200]!r}")
    start = sum(len(ln) for ln in lines)
    sample = text[start:]
    if not at_eof:
        sample = sample[: max(sample.rfind("\n"), sample.rfind("\r")) + 1]
    delimiter = options.delimiter
    if delimiter == "auto":
        delimiter = _sniff_delimiter(header_line, sample)
    elif delimiter not in header_line:
        looks = _sniff_delimiter(header_line, sample)
        if len(_fields(header_line, looks)) > 1:
            raise _fail(path, f"the mapping says 'delimiter: {delimiter!r}' but the header has none; it "
                              f"looks {_DELIMITER_NAMES.get(looks)}-separated ({looks!r}): set delimiter: "
                              f"{looks!r} (or auto)", examples=[header_line[:200]])
    plan = _Plan(path=path, format=fmt, header=_check_names(path, _fields(header_line, delimiter)),
                 encoding=codec, encoding_note=note, delimiter=delimiter, header_row=hr,
                 data_offset=bom_len + len(text[:start].encode(codec)))
    records = _records(sample, delimiter, _SAMPLE_RECORDS)
    if len(plan.header) == 1:
        _refuse_title_block(plan, header_line, sample)
    _fit_trailing_delimiters(plan, records)
    for line0, rec in records:
        for i in plan.blank_positions:
            if i < len(rec) and rec[i].strip():
                raise _fail(path, f"column {i + 1} has no name in the header but holds data (line "
                                  f"{plan.data_line + line0}: {rec[i].strip()[:60]!r}); name it in the "
                                  "header")
    if plan.blank_positions:
        plan.notes.append(f"column(s) {', '.join(str(i + 1) for i in plan.blank_positions)} have no name and "
                          "no data (a trailing delimiter?): ignored")
    return plan


def _refuse_title_block(plan: _Plan, header_line: str, sample: str) -> None:
    """A one-field header over rows of many fields is a title line: say which line looks like the header."""
    for d in DELIMITERS:
        recs = _records(sample, d, 20)
        wide = [(line0, r) for line0, r in recs if len(r) > 1]
        if recs and len(wide) > 0.5 * len(recs):
            line = plan.data_line + wide[0][0]
            head = header_line[:80]
            raise _fail(plan.path, f"the header (line {plan.header_row}: {head!r}) has one column "
                                   f"but line {line} has {len(wide[0][1])} {_DELIMITER_NAMES[d]}-separated "
                                   f"fields: is there a title block above the header? set header_row: {line} "
                                   "if that line is the header")


def _fit_trailing_delimiters(plan: _Plan, records: list[tuple[int, list[str]]]) -> None:
    """Header and rows differing only by trailing empty fields (``a,b,c,`` over ``1,2,3``): line them up."""
    widths, n = {len(r) for _, r in records}, len(plan.header)
    if len(widths) != 1:
        return
    width = widths.pop()
    if width < n and not any(plan.header[width:]):
        plan.header = plan.header[:width]
        plan.notes.append(f"the header has {n - width} trailing empty field(s) the rows do not have: ignored")
    elif width > n and not any(v.strip() for _, r in records for v in r[n:]):
        plan.header = plan.header + [""] * (width - n)


# --------------------------------------------------------------------------- xlsx
@contextlib.contextmanager
def _workbook(path: Path):
    """The workbook in openpyxl's read-only mode (opened from the bytes: the file's name may say .csv)."""
    import openpyxl  # noqa: PLC0415 - only xlsx needs it

    with open(path, "rb") as fh:
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
            raise _fail(path, f"is an xlsx workbook that cannot be opened ({type(exc).__name__}: {exc}); "
                              "open it in Excel and save it again, or save it as CSV") from None
        try:
            yield wb
        finally:
            wb.close()


def _has_time(number_format: str) -> bool:
    fmt = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", str(number_format).lower())
    return "h" in fmt or "s" in fmt or "am/pm" in fmt


def _cell_text(v, full_datetime: bool = False) -> str | None:
    """One xlsx cell as text: integers without ``.0``, dates ISO, numbers never in exponent notation."""
    t = type(v)
    if t is str:
        return v.strip() or None
    if v is None:
        return None
    if t is int:
        return str(v)
    if t is float:
        if v.is_integer():
            return str(int(v))
        r = repr(v)
        return format(Decimal(r), "f") if "e" in r and "inf" not in r else r
    if t is bool:
        return "TRUE" if v else "FALSE"
    if t is dt.datetime:
        if full_datetime or v.hour or v.minute or v.second or v.microsecond:
            return v.isoformat()
        return v.date().isoformat()
    if t is dt.date or t is dt.time:
        return v.isoformat()
    if t is dt.timedelta:
        secs = int(v.total_seconds())
        return f"{secs // 3600}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    return str(v).strip() or None


def _plan_xlsx(path: Path, options: ReadOptions) -> _Plan:
    with _workbook(path) as wb:
        if options.sheet is not None and options.sheet not in wb.sheetnames:
            raise _fail(path, f"has no sheet {options.sheet!r}{did_you_mean(options.sheet, wb.sheetnames)}; "
                              f"its sheets: {', '.join(map(repr, wb.sheetnames))}")
        ws = wb[options.sheet or wb.sheetnames[0]]
        ws.reset_dimensions()  # exporters often write wrong dimensions
        hr = options.header_row
        row = next(ws.iter_rows(min_row=hr, max_row=hr, values_only=True), None)
        raw = [_cell_text(v) or "" for v in row or ()]
        while raw and not raw[-1]:
            raw.pop()
        if not raw:
            raise _fail(path, f"sheet {ws.title!r}: row {hr} (the header) is empty; set header_row: to the "
                              "header's row (or sheet: to the sheet with the data)")
        return _Plan(path=path, format="xlsx", header=_check_names(path, raw), header_row=hr, sheet=ws.title,
                     encoding_note="xlsx (no encoding)")


def _iter_xlsx(plan: _Plan, columns: list[str], batch_rows: int) -> Iterator[pa.Table]:
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    with _workbook(plan.path) as wb:
        ws = wb[plan.sheet]
        ws.reset_dimensions()
        width, pos, blanks = len(plan.header), [plan.header.index(c) for c in columns], plan.blank_positions
        timed = {j for row in ws.iter_rows(min_row=plan.data_line, max_row=plan.data_line + 199)
                 for j, cell in enumerate(row[:width])
                 if getattr(cell, "is_date", False) and _has_time(cell.number_format)}
        schema = pa.schema([(c, pa.large_string()) for c in columns])
        buffers: list[list] = [[] for _ in pos]
        pending: list[pa.Table] = []
        for r, row in enumerate(ws.iter_rows(min_row=plan.data_line, values_only=True), plan.data_line):
            n = len(row)
            for j in [*blanks, *range(width, n)] if blanks or n > width else ():
                if j < n and _cell_text(row[j]) is not None:
                    col = get_column_letter(j + 1)
                    raise _fail(plan.path, f"sheet {plan.sheet!r}: cell {col}{r} holds data "
                                           f"({_cell_text(row[j])[:60]!r}) but column {col} has no name in "
                                           f"the header (row {plan.header_row}); name it")
            if all(v is None or (type(v) is str and not v.strip()) for v in row):
                continue
            for b, j in zip(buffers, pos, strict=True):
                b.append(_cell_text(row[j], j in timed) if j < n else None)
            if len(buffers[0] if buffers else ()) >= _XLSX_CHUNK:
                pending.append(pa.Table.from_arrays([pa.array(b, pa.large_string()) for b in buffers],
                                                    schema=schema))
                buffers = [[] for _ in pos]
                yield from _rebatch(pending, batch_rows, final=False)
        if buffers and buffers[0]:
            pending.append(pa.Table.from_arrays([pa.array(b, pa.large_string()) for b in buffers],
                                                schema=schema))
        yield from _rebatch(pending, batch_rows, final=True)


def _rebatch(pending: list[pa.Table], batch_rows: int, final: bool) -> Iterator[pa.Table]:
    """Tables of exactly ``batch_rows`` rows from ``pending`` (emptied in place); the rest when final."""
    total = sum(t.num_rows for t in pending)
    while total >= batch_rows or (final and total):
        table = pa.concat_tables(pending)
        take = min(batch_rows, total)
        yield table.slice(0, take)
        pending[:] = [table.slice(take)] if total > take else []
        total -= take


# --------------------------------------------------------------------------- CSV rows
_WS_FIRST = np.zeros(256, dtype=bool)
_WS_FIRST[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3]] = True  # + lead bytes of U+00A0..
_WS_LAST = np.zeros(256, dtype=bool)
_WS_LAST[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, *range(0x80, 0xC0)]] = True  # + any multi-byte last char
_NULL = pa.scalar(None, pa.large_string())


def _clean(arr: pa.Array) -> pa.Array:
    """Trim whitespace; a value then empty becomes null (pyarrow already made ``""`` null).

    Trimming costs as much as parsing, so it is skipped when no value's first or last byte can be whitespace.
    """
    bufs = arr.buffers()
    if len(arr) == 0 or bufs[2] is None or bufs[2].size == 0:
        return arr
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8)
    if not (_WS_FIRST[data.take(offsets[:-1], mode="clip")].any()
            or _WS_LAST[data.take(offsets[1:] - 1, mode="clip")].any()):
        return arr
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, ""), _NULL, trimmed)


def _line_of_bad_record(plan: _Plan, expected: int) -> int | None:
    """The file line of the first data record not ``expected`` fields wide (slow: for errors only)."""
    stream = _open_stream(plan.path, plan.format, plan.data_offset)
    text = io.TextIOWrapper(stream, encoding=plan.encoding, errors="replace", newline="")
    try:
        return next((plan.data_line + start for start, rec in _iter_records(text, plan.delimiter)
                     if len(rec) != expected), None)
    finally:
        stream.close()


def _locate_decode_error(plan: _Plan) -> DataValidationError:
    """The first byte the codec cannot decode (past the part checked up front), as an error."""
    stream = _open_stream(plan.path, plan.format, plan.data_offset)
    decoder = codecs.getincrementaldecoder(plan.encoding)()
    base, line0 = plan.data_offset, plan.data_line
    try:
        while True:
            chunk = stream.read(4 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return _fail(plan.path, f"is not valid {plan.encoding} text past its first lines: "
                                        f"{_bad_byte(chunk, exc, plan.encoding, base, line0)}; "
                                        f"{_suggest(chunk, plan.encoding, False)}")
            if not chunk:
                return _fail(plan.path, f"cannot be decoded as {plan.encoding}; {_TODO_ENCODING}")
            base, line0 = base + len(chunk), line0 + chunk.count(b"\n")
    finally:
        stream.close()


def _iter_csv(plan: _Plan, columns: list[str], batch_rows: int) -> Iterator[pa.Table]:
    internal = [n or f"\x00blank{i}" for i, n in enumerate(plan.header)]  # pyarrow needs unique names
    blank_names = [internal[i] for i in plan.blank_positions]
    bad_rows: list = []

    def on_invalid(row) -> str:
        bad_rows.append((row.expected_columns, row.actual_columns, row.text))
        return "error"

    schema = pa.schema([(c, pa.large_string()) for c in columns])
    stream = _open_stream(plan.path, plan.format, plan.data_offset)
    pending: list[pa.Table] = []
    n_read = n_pending = 0
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(encoding="utf8" if plan.encoding == "utf-8" else plan.encoding,
                                           column_names=internal, block_size=_BLOCK_SIZE, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=plan.delimiter, quote_char='"', double_quote=True,
                                             newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in internal}, include_columns=columns + blank_names,
                strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""], check_utf8=True),
        )
        for rb in reader:
            for name in blank_names:
                col = _clean(rb.column(name))
                if col.null_count < len(col):
                    k = pc.index(pc.is_valid(col), True).as_py()
                    value = col[k].as_py()[:60]
                    raise _fail(plan.path, f"column {internal.index(name) + 1} has no name in the header but "
                                           f"holds data (data row {n_read + k + 1:,}: {value!r}); name it in "
                                           "the header")
            pending.append(pa.Table.from_arrays([_clean(rb.column(c)) for c in columns], schema=schema))
            n_read += rb.num_rows
            n_pending += rb.num_rows
            if n_pending >= batch_rows:
                yield from _rebatch(pending, batch_rows, final=False)
                n_pending = sum(t.num_rows for t in pending)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if n_read == 0 and "Empty CSV file" in str(exc):
            return  # a header and no rows
        raise _translate(plan, exc, bad_rows) from None
    finally:
        stream.close()
    if pending:
        _check_last_row(plan, pending[-1])
    yield from _rebatch(pending, batch_rows, final=True)


def _check_last_row(plan: _Plan, table: pa.Table) -> None:
    """An unmatched quote at the end swallows the rest of the file into one value, silently: refuse it."""
    if not table.num_rows:
        return
    for name, value in table.slice(table.num_rows - 1).to_pylist()[0].items():
        if value and value.count("\n") > 1 and plan.delimiter in value:
            lines, start = value.count("\n") + 1, value[:40]
            raise _fail(plan.path, f"the last row's value runs over {lines:,} lines and holds the delimiter "
                                   f"{plan.delimiter!r}: an unmatched double quote? (it starts {start!r})",
                        column=name)


def _translate(plan: _Plan, exc: Exception, bad_rows: list) -> DataValidationError:
    if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in str(exc):
        return _locate_decode_error(plan)
    if not bad_rows:
        return _fail(plan.path, f"cannot be read as CSV: {exc}")
    expected, actual, text = bad_rows[0]
    line = _line_of_bad_record(plan, expected)
    hint = (f"a value holding the delimiter {plan.delimiter!r} must be in double quotes" if actual > expected
            else "a line break inside a value that is not in double quotes?")
    return _fail(plan.path, f"{f'line {line:,}' if line else 'a row'} has {actual} fields but the header has "
                            f"{expected} ({hint})", examples=[text[:200]])


# --------------------------------------------------------------------------- public API
def _plan(path: str | Path, options: ReadOptions | None) -> _Plan:
    path, options = Path(path), options or ReadOptions()
    fmt = _sniff(path, options.encoding)
    if options.format not in ("auto", fmt):
        what = {"csv": "plain CSV text", "csv.gz": "gzip-compressed CSV", "xlsx": "an xlsx workbook"}[fmt]
        raise _fail(path, f"the mapping says 'format: {options.format}' but the file is {what} (format: "
                          f"{fmt}); set format: {fmt} or auto")
    return _plan_xlsx(path, options) if fmt == "xlsx" else _plan_csv(path, fmt, options)


def _columns(plan: _Plan, columns: Iterable[str] | None) -> list[str]:
    if columns is None:
        return plan.names
    wanted = list(dict.fromkeys(str(c) for c in columns))
    for c in wanted:
        if c not in plan.names:
            raise _fail(plan.path, f"has no column {c!r}{did_you_mean(c, plan.names)}", column=c,
                        examples=[f"columns present: {', '.join(plan.names[:15])}"])
    return wanted


def _iter_plan(plan: _Plan, columns: list[str], batch_rows: int) -> Iterator[pa.Table]:
    log.debug("%s: %s, %s, delimiter %r, %d columns", plan.path, plan.format, plan.encoding_note,
              plan.delimiter, len(plan.names))
    return (_iter_xlsx if plan.format == "xlsx" else _iter_csv)(plan, columns, batch_rows)


def read_header(path: str | Path, options: ReadOptions | None = None) -> list[str]:
    """The file's column names, cleaned and checked (see the module docstring).

    Parameters
    ----------
    path : str or Path
    options : ReadOptions, optional
        Default: everything ``auto``, the header on line 1.

    Returns
    -------
    list of str

    Raises
    ------
    DataValidationError
        The file is refused (not CSV text or a workbook, undecodable, ...) or so is its header.
    """
    return _plan(path, options).names


def describe(path: str | Path, options: ReadOptions | None = None, sha256: bool = False) -> FileInfo:
    """Format, encoding, delimiter and header of a file, read from its first MiB (and the SHA-256 if asked).

    Parameters
    ----------
    path : str or Path
    options : ReadOptions, optional
    sha256 : bool
        Also hash the whole file.

    Returns
    -------
    FileInfo
    """
    plan = _plan(path, options)
    digest = None
    if sha256:
        with open(plan.path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return FileInfo(path=str(plan.path), format=plan.format, encoding=plan.encoding, delimiter=plan.delimiter,
                    header=plan.names, header_row=plan.header_row, sheet=plan.sheet,
                    encoding_note=plan.encoding_note, notes=list(plan.notes), sha256=digest)


def iter_text_batches(path: str | Path, options: ReadOptions | None = None,
                      columns: Iterable[str] | None = None,
                      batch_rows: int = 1_000_000) -> Iterator[pa.Table]:
    """Stream a file as tables of text columns, at most ``batch_rows`` rows each.

    Parameters
    ----------
    path : str or Path
    options : ReadOptions, optional
        Default: everything ``auto``, the header on line 1.
    columns : iterable of str, optional
        Source column names to read, in this order; the others are never held in memory. Default: all
        (an empty list: none, and nothing is yielded).
    batch_rows : int
        Rows per table: every table but the last has exactly this many.

    Yields
    ------
    pyarrow.Table
        One ``pa.large_string()`` column per requested column: values as written, trimmed, empty -> null.
        A file with a header and no rows yields nothing.

    Raises
    ------
    DataValidationError
        A refused file or header, an unknown column, a row with the wrong number of fields (naming its line),
        bytes the encoding cannot decode (naming the byte, offset and line). The file and header are checked
        before the first table; a fault in the rows surfaces when the iteration reaches it.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be >= 1")
    plan = _plan(path, options)
    cols = _columns(plan, columns)
    if cols:  # an empty list asks for nothing (to pyarrow it would mean every column)
        yield from _iter_plan(plan, cols, batch_rows)


def read_text_table(path: str | Path, options: ReadOptions | None = None,
                    columns: Iterable[str] | None = None) -> pa.Table:
    """The whole file as one table of text columns (:func:`iter_text_batches` concatenated).

    Parameters
    ----------
    path : str or Path
    options : ReadOptions, optional
    columns : iterable of str, optional

    Returns
    -------
    pyarrow.Table
        With zero rows (and the columns) when the file has a header and no rows.
    """
    plan = _plan(path, options)
    cols = _columns(plan, columns)
    batches = list(_iter_plan(plan, cols, batch_rows=1 << 62)) if cols else []
    if not batches:
        return pa.table({c: pa.array([], pa.large_string()) for c in cols})
    return pa.concat_tables(batches)
