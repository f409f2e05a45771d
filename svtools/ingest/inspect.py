"""``svtools inspect FILE``: what is in an extract, and a first draft of its mapping.

:func:`inspect_file` reads a sample of the rows as text (:mod:`svtools.ingest.readers`: nothing is converted)
and says, for each column, what the text looks like - a *kind* - with a few distinct values, the number of
blanks and of distinct values. The kinds are read from the text and never change it:

======================  ==============================================================================
kind                    what the values look like
======================  ==============================================================================
``blank``               nothing in the sample
``date``                dates; ``formats`` lists the strptime format(s) parsing >= 95% of the values
``datetime``            date-times (ISO ``2023-04-01T13:45:00``, ``01/04/2023 13:45``, ...), with formats
``time``                times of day (``13:45``, ``1345`` in a column named like a time), with formats
``flag``                Y/N, Yes/No, True/False, 1/0
``sex``                 Male/Female/M/F/Indeterminate/Not known ...
``age_band``            ``18-24``, ``25+``, ``Under 10``, ``65 and over``
``lsoa``                LSOA codes (``E01``/``W01`` + 6 digits)
``offence_code``        Home Office codes: ``8N``, ``008N``, ``008/01``, ``4/1``, ``4.1``, ``105A``
``age``                 whole numbers 0-110 in a column named like an age
``code``                digits with leading zeros (``00180000025``): keep as text
``integer``             whole numbers
``decimal``             numbers with a decimal point
``ethnicity``           ethnic groups or codes (``White British``, ``W1``, ``IC3`` ...)
``identifier``          (almost) every value distinct, no spaces
``category``            a few distinct values
``text``                free text
======================  ==============================================================================

:func:`draft_mapping` turns the report into a mapping v2 YAML draft (``docs/onboarding.md``): a guess of the
canonical field of each column from its header name and kind, every guess marked ``# guessed from ...`` so
the analyst knows what to check, value skeletons (``"Knife": null  # TODO``) to fill in, and the columns it
cannot place under ``drop_columns``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from svtools.ingest.readers import FileInfo, ReadOptions, describe, iter_text_batches

__all__ = ["KINDS", "ColumnReport", "InspectReport", "inspect_file", "draft_mapping"]

#: kind -> how the terminal report names it
KINDS = {
    "blank": "blank", "date": "date", "datetime": "date-time", "time": "time", "flag": "flag (yes/no)",
    "sex": "sex", "age_band": "age band", "lsoa": "LSOA code", "offence_code": "Home Office offence code",
    "age": "age", "code": "code (leading zeros)", "integer": "integer", "decimal": "decimal",
    "ethnicity": "ethnicity", "identifier": "identifier", "category": "category", "text": "free text",
}
_THRESHOLD = 0.95
_FORMAT_SAMPLE = 2000  # distinct values tried against each date format
_KIND_SAMPLE = 5000  # distinct values (the most frequent) the other kinds are read from

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d-%b-%Y", "%d %b %Y", "%d-%B-%Y",
                "%d %B %Y", "%d/%m/%y", "%d-%b-%y", "%Y/%m/%d", "%m/%d/%Y")
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p", "%m/%d/%Y %H:%M",
)
TIME_FORMATS = ("%H:%M", "%H:%M:%S")
_HINTED_DATE_FORMATS = ("%Y%m%d",)  # only for a column named like a date: 8 digits are often a number
_HINTED_TIME_FORMATS = ("%H%M", "%H.%M")  # only for a column named like a time: 1345 / 4.10 are often not

_UNKNOWN = {"unknown", "not known", "n/k", "nk", "not stated", "ns", "not recorded", "u", "none", "n/a", "na",
            "null", "-", "?", "refused", "not specified", "prefer not to say", "unk", "not given", "blank"}
_FLAG_TRUE = {"y", "yes", "true", "t", "1"}
_FLAG_FALSE = {"n", "no", "false", "f", "0"}
_SEX = {"m": "M", "male": "M", "man": "M", "boy": "M", "f": "F", "female": "F", "woman": "F", "girl": "F",
        "x": "X", "indeterminate": "X", "non-binary": "X", "nonbinary": "X", "other": "X", "intersex": "X"}
_ETHNIC_WORDS = [  # (pattern, ONS 2021 high-level group), first match wins
    (r"mixed|white and|dual|^m\d$", "Mixed"),
    (r"white|irish|gypsy|traveller|roma\b|^w\d$|^ic\s?[12]$", "White"),
    (r"black|caribbean|african|^b\d$|^ic\s?3$", "Black"),
    (r"asian|indian|pakistani|bangladeshi|chinese|^a\d$|^o1$|^ic\s?[45]$", "Asian"),
    (r"arab|other|^o\d$|^ic\s?6$", "Other"),
]
_LSOA = re.compile(r"^[EW]01\d{6}$")
_HO = re.compile(r"^0*\d{1,3}(?:[A-Za-z]{1,2}|[/.]\d{1,2}[A-Za-z]?)?$")
_BAND = re.compile(r"^(?:\d{1,3}\s*(?:-|\u2013|to)\s*\d{1,3}|\d{1,3}\s*\+|(?:under|<)\s*\d{1,3}"
                   r"|\d{1,3}\s*(?:and|&|or)\s*(?:over|above|older|under)"
                   r"|\d{1,3}\s*\+?\s*years?(?: and over)?)$", re.IGNORECASE)
_INT = re.compile(r"^[-+]?\d+$")
_DEC = re.compile(r"^[-+]?(?:\d+\.\d*|\.\d+)$")


@dataclass(frozen=True)
class ColumnReport:
    """What one column's text looks like.

    ``kind`` is one of :data:`KINDS`; ``formats`` the strptime formats for a date, date-time or time column
    (those to put in the mapping, tried in order) and ``other_formats`` the ones that parse as well but
    read the values differently (``%m/%d/%Y`` beside ``%d/%m/%Y``); ``samples`` 3-5 distinct values (most
    frequent first); ``top`` up to 50 ``(value, count)`` pairs, most frequent first; ``note`` a remark.
    """

    position: int
    name: str
    kind: str
    n_values: int
    n_blank: int
    n_distinct: int
    samples: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    other_formats: tuple[str, ...] = ()
    top: tuple[tuple[str, int], ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        """The kind as the terminal shows it, with its formats."""
        label = KINDS[self.kind]
        return f"{label} {', '.join(self.formats)}" if self.formats else label


@dataclass(frozen=True)
class InspectReport:
    """What :func:`inspect_file` found: the file (:class:`~svtools.ingest.readers.FileInfo`), its columns."""

    info: FileInfo
    rows_sampled: int
    more_rows: bool
    columns: list[ColumnReport] = field(default_factory=list)

    def column(self, name: str) -> ColumnReport:
        """The report of the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def text(self) -> str:
        """A readable table for the terminal: the file, then one line per column."""
        info = self.info
        how = [f"format {info.format}"]
        if info.format == "xlsx":
            how.append(f"sheet {info.sheet!r}")
        else:
            how += [f"encoding {info.encoding_note or info.encoding}", f"delimiter {info.delimiter!r}"]
        how.append(f"header on {'row' if info.format == 'xlsx' else 'line'} {info.header_row}")
        more = (" (the file has more rows; the kinds are read from these)" if self.more_rows
                else " (all of them)")
        lines = [info.path, "  " + ", ".join(how), f"  rows sampled: {self.rows_sampled:,}{more}"]
        lines += [f"  note: {n}" for n in info.notes]
        rows = [("#", "column", "kind", "blank", "distinct", "e.g.")]
        for c in self.columns:
            eg = ", ".join(repr(s) for s in c.samples)
            rows.append((str(c.position), _short(c.name, 32), _short(c.label, 44), f"{c.n_blank:,}",
                         f"{c.n_distinct:,}", _short(eg + (f"  [{c.note}]" if c.note else ""), 90)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            cells = [r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                     r[3].rjust(widths[3]), r[4].rjust(widths[4]), r[5]]
            lines.append("  " + "  ".join(cells).rstrip())
        return "\n".join(lines) + "\n"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# --------------------------------------------------------------------------- kinds
def _words(name: str) -> str:
    """The header name in lower case, runs of non-letters as one space, padded: ``" victim dob "``."""
    return " " + re.sub(r"[^a-z0-9]+", " ", name.lower()).strip() + " "


def _has(words: str, *keys: str) -> bool:
    return any(f" {k} " in words for k in keys)


def _share(items: Sequence[tuple[str, int]], test) -> float:
    total = sum(c for _, c in items)
    return sum(c for v, c in items if test(v)) / total if total else 0.0


def _parses(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _formats(items: Sequence[tuple[str, int]], candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """The format(s) parsing >= 95% of the values: ``(to use, that also parse)``; ``([], [])`` if none."""
    sub = list(items[:_FORMAT_SAMPLE])
    head = [v for v, _ in sub[:: max(1, len(sub) // 40)]]  # spread out: a column may mix formats
    total = sum(c for _, c in sub)
    scores = []
    for fmt in candidates:
        if not any(_parses(v, fmt) for v in head):
            continue  # parses none of a spread of values: not worth trying on all
        ok = {v for v, _ in sub if _parses(v, fmt)}
        scores.append((sum(c for v, c in sub if v in ok) / total, fmt, ok))
    singles = [fmt for share, fmt, _ in scores if share >= _THRESHOLD]
    if singles:
        return singles[:1], singles[1:]
    chosen, covered = [], set()
    for _, fmt, ok in sorted(scores, key=lambda s: -s[0])[:3]:
        if ok - covered:
            chosen.append(fmt)
            covered |= ok
            if sum(c for v, c in sub if v in covered) / total >= _THRESHOLD:
                return sorted(chosen, key=lambda f: ("%H" not in f, chosen.index(f))), []
    return [], []


def _ethnic_group(value: str) -> str | None:
    low = value.lower().strip()
    for pattern, group in _ETHNIC_WORDS:
        if re.search(pattern, low):
            return group
    return None


def _kind(name: str, items: list[tuple[str, int]]) -> tuple[str, list[str], list[str], str]:
    """``(kind, formats, other formats, note)`` of a column from its name and ``(value, count)`` pairs."""
    if not items:
        return "blank", [], [], ""
    n_distinct, n_values = len(items), sum(c for _, c in items)
    items = items[:_KIND_SAMPLE]  # the most frequent values (the rest, each rare, are read as a sample)
    words = _words(name)
    known = [(v, c) for v, c in items if v.lower() not in _UNKNOWN] or items
    low = {v.lower() for v, _ in known}
    if _share(items, _LSOA.match) >= _THRESHOLD:
        return "lsoa", [], [], ""
    if _share(items[:200], lambda v: any(ch.isdigit() for ch in v)) > 0.5:
        dateish = _HINTED_DATE_FORMATS if _has(words, "date", "dob", "birth", "day", "dt") else ()
        use, other = _formats(known, DATETIME_FORMATS + DATE_FORMATS + dateish)
        if use:
            return ("datetime" if any("%H" in f for f in use) else "date"), use, other, ""
        timeish = _HINTED_TIME_FORMATS if _has(words, "time", "hour", "hhmm", "tm") else ()
        use, other = _formats(known, TIME_FORMATS + timeish)
        if use:
            return "time", use, other, ""
    if len(low) <= 4 and low <= _FLAG_TRUE | _FLAG_FALSE and not (low <= {"m", "f"}):
        return "flag", [], [], ""
    if _share(known, lambda v: v.lower() in _SEX) >= _THRESHOLD and low & {"m", "f", "male", "female"}:
        return "sex", [], [], ""
    if _share(known, _BAND.match) >= _THRESHOLD and not _share(known, _INT.match) >= _THRESHOLD:
        return "age_band", [], [], ""
    ho = _share(known, _HO.match)
    codeish = _has(words, "ho", "hoc", "offence", "class", "classification", "code", "crime", "home")
    distinctive = any(re.search(r"[A-Za-z/]", v) for v, _ in known if _HO.match(v))
    dotted = _share(known, lambda v: bool(re.match(r"^\d{1,3}\.\d{1,2}$", v)))
    if ho >= _THRESHOLD and (distinctive or (codeish and dotted > 0)):
        return "offence_code", [], [], ""
    if ho >= 0.6 and codeish and distinctive:
        return "offence_code", [], [], f"{ho:.0%} codes, the rest text (lookup: description?)"
    if _share(known, _INT.match) >= _THRESHOLD:
        ints = [int(v) for v, _ in known if _INT.match(v)]
        if _has(words, "age", "aged") and min(ints) >= 0 and max(ints) <= 110:
            return "age", [], [], f"{min(ints)}-{max(ints)}"
        if any(len(v) > 1 and v.startswith("0") for v, _ in known):
            return "code", [], [], ""
        return "integer", [], [], f"{min(ints)} to {max(ints)}" if ints else ""
    if _share(known, lambda v: bool(_INT.match(v) or _DEC.match(v))) >= _THRESHOLD:
        return "decimal", [], [], ""
    if _share(known, lambda v: _ethnic_group(v) is not None) >= 0.8 and (
            _has(words, "ethnic", "ethnicity", "race") or _share(known, lambda v: " " in v) > 0.3
            or len(low) > 3):
        return "ethnicity", [], [], ""
    spaceless = _share(items, lambda v: " " not in v)
    if n_distinct >= 0.9 * n_values and n_values >= 10 and spaceless >= _THRESHOLD:
        return "identifier", [], [], ""
    if n_distinct <= 50 and n_distinct <= max(3, 0.5 * n_values):
        return "category", [], [], ""
    return "text", [], [], ""


def _column_report(position: int, name: str, col: pa.ChunkedArray) -> ColumnReport:
    n_blank = col.null_count
    counts = pc.value_counts(col.drop_null()) if len(col) > n_blank else None
    items: list[tuple[str, int]] = []
    if counts is not None:
        values, freq = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
        items = sorted(zip(values, freq, strict=True), key=lambda vc: (-vc[1], vc[0]))
    kind, formats, other, note = _kind(name, items)
    if other:
        note = f"also parses as {', '.join(other)}" + (f"; {note}" if note else "")
    return ColumnReport(position=position, name=name, kind=kind, n_values=len(col) - n_blank, n_blank=n_blank,
                        n_distinct=len(items), samples=tuple(v for v, _ in items[:5]), formats=tuple(formats),
                        other_formats=tuple(other), top=tuple(items[:50]), note=note)


def inspect_file(path: str | Path, options: ReadOptions = ReadOptions(),  # noqa: B008 - frozen, immutable
                 sample_rows: int = 50_000) -> InspectReport:
    """Read the first ``sample_rows`` rows of a file as text and say what each column looks like.

    Parameters
    ----------
    path : str or Path
    options : ReadOptions
        How to read it (default: everything ``auto``).
    sample_rows : int
        Rows read; the kinds and counts are those of this sample.

    Returns
    -------
    InspectReport
        ``.text()`` is the table ``svtools inspect`` prints; :func:`draft_mapping` drafts a mapping from it.

    Raises
    ------
    DataValidationError
        The file is refused by :mod:`svtools.ingest.readers` (its type, encoding, delimiter or header).
    """
    info = describe(path, options)
    with contextlib.closing(iter_text_batches(path, options, batch_rows=sample_rows + 1)) as batches:
        batch = next(batches, None)
    if batch is None:
        batch = pa.table({c: pa.array([], pa.large_string()) for c in info.header})
    more = batch.num_rows > sample_rows
    batch = batch.slice(0, sample_rows)
    columns = [_column_report(i, name, batch.column(name)) for i, name in enumerate(info.header, 1)]
    return InspectReport(info=info, rows_sampled=batch.num_rows, more_rows=more, columns=columns)


# --------------------------------------------------------------------------- the draft mapping
def _q(value) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's): ``Yes``, ``008``, ``4.10`` stay text.

    Characters YAML would fold or refuse (U+2028, U+0085, other non-printables) are written as escapes.
    """
    text = json.dumps(str(value), ensure_ascii=False)
    return "".join(ch if ch.isprintable() else
                   f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}" for ch in text)


def _flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


@dataclass
class _Guess:
    """One canonical field guessed from one or two columns."""

    field: str
    score: float
    columns: tuple[ColumnReport, ...]
    why: str


def _role(words: str) -> str | None:
    if _has(words, "suspect", "suspects", "offender", "offenders", "accused", "perpetrator", "perp",
            "defendant", "sus", "off", "susp"):
        return "suspect"
    if _has(words, "victim", "victims", "vic", "ip", "injured party", "aggrieved", "complainant", "vict"):
        return "victim"
    return None


def _guesses(report: InspectReport) -> list[_Guess]:
    out: list[_Guess] = []
    cols = report.columns
    for c in cols:
        w, k, role = _words(c.name), c.kind, _role(_words(c.name))
        person = role or "victim"
        why = f"guessed from the header {c.name!r} ({KINDS[k]})"
        datey = k in ("date", "datetime")
        if (_has(w, "ref", "reference", "urn", "occurrence", "occ", "crime", "incident") and _has(
                w, "ref", "reference", "urn", "no", "number", "num", "id", "occurrence") and not role
                and not _has(w, "status", "type", "date", "time", "class", "classification", "code", "desc")
                and k in ("identifier", "code", "integer", "text", "category")):
            out.append(_Guess("crime_ref", 3 + (k in ("identifier", "code")), (c,), why))
        if datey and _has(w, "reported", "recorded", "created", "report", "record", "rec", "rep"):
            out.append(_Guess("recorded_date", 3 + _has(w, "reported", "recorded"), (c,), why))
        if datey and _has(w, "occurred", "occ", "occurrence", "committed", "offence", "incident", "from",
                          "start"):
            score = 2.5 + 0.3 * _has(w, "from", "start") - _has(w, "to", "end")
            out.append(_Guess("occurred_at", score, (c,), why))
        if k == "date" and _has(w, "dob", "birth", "born"):
            out.append(_Guess(f"{person}_age", 2.5, (c,), why + "; the age comes from the date of birth"))
        if k == "age":
            out.append(_Guess(f"{person}_age", 3.5, (c,), why))
        if k == "age_band":
            out.append(_Guess(f"{person}_age", 3.4, (c,), why))
        hoish = _has(w, "ho", "hoc", "home office", "offence code", "classification", "class", "crime code",
                     "offence")
        if k == "offence_code":
            out.append(_Guess("ho_offence_code", 3 + hoish, (c,), why))
        elif hoish and k in ("text", "category"):
            out.append(_Guess("ho_offence_code", 1.5, (c,), why + "; the offence text (lookup: description)"))
        if _has(w, "knife", "knives", "blade", "bladed", "sharp"):
            out.append(_Guess("knife_flag", 3.5, (c,), why))
        elif _has(w, "weapon", "weapons", "wpn"):
            out.append(_Guess("knife_flag", 3, (c,), why))
        if _has(w, "domestic", "da", "dv", "dva", "domestic abuse"):
            out.append(_Guess("domestic_flag", 3, (c,), why))
        if k == "lsoa" or _has(w, "lsoa"):
            out.append(_Guess("lsoa_code", 3 + (k == "lsoa"), (c,), why))
        if k in ("category", "text") and _has(w, "premises", "location type", "place type", "location",
                                              "scene type"):
            out.append(_Guess("location_type", 2 + _has(w, "type"), (c,), why))
        if role and _has(w, "id", "nominal", "ref", "number", "no", "urn", "pnc") and k not in (
                "date", "datetime", "age", "age_band", "sex", "ethnicity"):
            out.append(_Guess(f"{role}_id", 3, (c,), why))
        if k == "sex" or _has(w, "sex", "gender"):
            out.append(_Guess(f"{person}_sex", 3 + (k == "sex") - 0.5 * (role is None), (c,), why))
        if (k == "ethnicity" or _has(w, "ethnicity", "ethnic", "race")) and person == "victim":
            out.append(_Guess("victim_ethnicity", 3 - 0.5 * (role is None), (c,), why))
        if _has(w, "force", "pfa", "police force", "force code"):
            out.append(_Guess("reporting_force", 3, (c,), why))
    # an occurrence date with its time in another column: "Occ From Date" + "Occ From Time"
    for d in cols:
        if d.kind != "date":
            continue
        stem = _words(d.name).replace(" date ", " ").replace(" dt ", " ")
        for t in cols:
            if t.kind == "time" and _words(t.name).replace(" time ", " ").replace(" tm ", " ") == stem:
                base = next((g for g in out if g.field == "occurred_at" and g.columns == (d,)), None)
                score = (base.score if base else 1.5) + 0.5
                why = f"guessed from the headers {d.name!r} (date) and {t.name!r} (time)"
                out.append(_Guess("occurred_at", score, (d, t), why))
    return out


def _assign(report: InspectReport) -> tuple[dict[str, _Guess], dict[str, _Guess]]:
    """``(field -> guess chosen, column -> its best guess not chosen)``: each field and column used once."""
    taken: set[str] = set()
    chosen: dict[str, _Guess] = {}
    runners_up: dict[str, _Guess] = {}
    for g in sorted(_guesses(report), key=lambda g: -g.score):
        names = {c.name for c in g.columns}
        if g.field not in chosen and not names & taken:
            chosen[g.field] = g
            taken |= names
        elif len(g.columns) == 1:
            runners_up.setdefault(g.columns[0].name, g)
    return chosen, runners_up


def _values_skeleton(col: ColumnReport, guess, indent: str, what: str) -> list[str]:
    """``values:`` with the distinct values seen (up to 20), each guessed or ``null  # TODO``."""
    seen = [v for v, _ in col.top[:20]]
    if not seen:
        return [f"{indent}values: {{}}  # TODO: no values in the sample; list each spelling -> {what}"]
    more = f" (20 of the {col.n_distinct:,} seen)" if col.n_distinct > 20 else ""
    lines = [f"{indent}values:  # TODO: check each spelling -> {what}{more}"]
    for v in seen:
        target = guess(v)
        lines.append(f"{indent}  {_q(v)}: " + ("null  # TODO" if target is ... else
                                               f"{_yaml_value(target)}  # guessed"))
    return lines


def _yaml_value(value) -> str:
    return "true" if value is True else "false" if value is False else "null" if value is None else _q(value)


def _flag_guess(v: str):
    low = v.lower().strip()
    return True if low in _FLAG_TRUE else False if low in _FLAG_FALSE else None if low in _UNKNOWN else ...


def _sex_guess(v: str):
    low = v.lower().strip()
    return _SEX.get(low, None if low in _UNKNOWN else ...)


def _ethnicity_guess(v: str):
    if v.lower().strip() in _UNKNOWN or re.match(r"^ic\s?[09]$", v.lower().strip()):
        return None
    return _ethnic_group(v) or ...


def _field_lines(name: str, g: _Guess) -> list[str]:
    c = g.columns[0]
    head = f"  {name}:"
    why = f"  # {g.why}"
    if name == "occurred_at" and len(g.columns) == 2:
        t = g.columns[1]
        return [head + why, f"    date_column: {_q(c.name)}", f"    time_column: {_q(t.name)}",
                f"    formats: {_flow(c.formats)}  # detected from the values",
                f"    time_formats: {_flow(t.formats)}",
                "    blank: unknown  # no occurrence date: unknown"]
    if name in ("recorded_date", "occurred_at"):
        return [head + why, f"    column: {_q(c.name)}", f"    formats: {_flow(c.formats)}  # detected"
                + (f" (also parses as {', '.join(c.other_formats)}: check)" if c.other_formats else "")]
    if name.endswith("_age"):
        if c.kind == "date":
            return [head + why, f"    date_of_birth: {_q(c.name)}  # age at offence = occurred_at (else "
                                "recorded_date) - date of birth",
                    f"    formats: {_flow(c.formats)}  # detected"]
        bands = "    bands: true  # 18-24, 25+, Under 10, 65 and over: kept as bands"
        extra = [bands] if c.kind == "age_band" else []
        return [head + why, f"    column: {_q(c.name)}", *extra]
    if name == "ho_offence_code":
        lines = [head + why, f"    column: {_q(c.name)}",
                 "    normalise: home_office  # 008/01, 8.1, 008N -> 8/1, 8N"]
        if c.kind != "offence_code" or c.note:
            lines.append("    lookup: description  # also the offence text (config/offence_codes.yaml)")
        return lines
    if name == "knife_flag":
        lines = [head + why, f"    column: {_q(c.name)}"]
        lines += _values_skeleton(c, _flag_guess if c.kind == "flag" else (lambda v: ...), "    ",
                                  "true for a knife or sharp instrument, false otherwise")
        lines.append("    blank: false  # guessed: a blank weapon field means no knife; check")
        return lines
    if name == "domestic_flag":
        return [head + why, f"    column: {_q(c.name)}",
                *_values_skeleton(c, _flag_guess, "    ", "true / false (null: unknown)"),
                "    blank: unknown"]
    if name.endswith("_sex"):
        return [head + why, f"    column: {_q(c.name)}",
                *_values_skeleton(c, _sex_guess, "    ", "M, F, X or null (unknown)")]
    if name == "victim_ethnicity":
        return [head + why, f"    column: {_q(c.name)}",
                *_values_skeleton(c, _ethnicity_guess, "    ", "Asian, Black, Mixed, White, Other or null")]
    if name == "reporting_force" and not all(re.match(r"^E23\d{6}$", v) for v, _ in c.top):
        return [head + why, f"    column: {_q(c.name)}",
                *_values_skeleton(c, lambda v: ..., "    ", "the force's PFA code (E23...)")]
    if name == "location_type":
        return [head + why, f"    column: {_q(c.name)}", "    optional: true"]
    return [f"  {name}: {_q(c.name)}" + why]


_FIELD_ORDER = ("crime_ref", "recorded_date", "occurred_at", "ho_offence_code", "knife_flag", "domestic_flag",
                "lsoa_code", "location_type", "victim_id", "victim_age", "victim_sex", "victim_ethnicity",
                "suspect_id", "suspect_age", "suspect_sex", "reporting_force")
_REQUIRED = ("crime_ref", "recorded_date", "ho_offence_code", "knife_flag")
_MISSING_HINT = {
    "crime_ref": "the crime (occurrence) reference column",
    "recorded_date": "the date the crime was reported / recorded",
    "ho_offence_code": "the Home Office offence code (or classification text, with lookup: description)",
    "knife_flag": "the weapon or knife-crime marker column",
}


def draft_mapping(report: InspectReport, name: str) -> str:
    """A first draft of a mapping v2 (``kind: records``) for the inspected file, as YAML text.

    Parameters
    ----------
    report : InspectReport
        From :func:`inspect_file`.
    name : str
        The mapping's ``name:`` (e.g. the force's short name).

    Returns
    -------
    str
        YAML in the syntax of ``docs/onboarding.md``: ``mapping_version``, ``name``, ``kind``, ``files``,
        ``constants``, ``fields``, ``drop_columns``. Every guessed line carries a ``# guessed from ...``
        comment and every value to fill in a ``# TODO``; every source-derived key and value is quoted.
    """
    info = report.info
    chosen, runners_up = _assign(report)
    src = Path(info.path).name
    out = [
        f"# Draft mapping written by `svtools inspect` from {src} ({report.rows_sampled:,} rows sampled).",
        "# Each line marked 'guessed' was guessed from a column's name and the values seen, and each TODO",
        "# needs filling in: check them all, then run `svtools ingest ... --check` (docs/onboarding.md).",
        "mapping_version: 2",
        f"name: {_q(name)}",
        f"description: {_q(f'{name}: records extract (TODO: describe in one line)')}",
        "kind: records",
        "",
        "files:",
    ]
    if not fnmatch.fnmatch(src, "*.csv*"):
        out.append(f"  pattern: {_q('*' + ''.join(Path(src).suffixes[-2:]) if Path(src).suffix else src)}"
                   "  # the default *.csv* would not find this file")
    out.append(f"  format: {info.format}  # detected from the file's bytes")
    if info.format == "xlsx":
        out.append(f"  sheet: {_q(info.sheet)}  # the sheet inspected")
    else:
        out.append(f"  encoding: {_q(info.encoding)}  # detected: {info.encoding_note}")
        out.append(f"  delimiter: {_q(info.delimiter)}  # detected from the header")
    out += [f"  header_row: {info.header_row}", "", "constants:"]
    if "reporting_force" in chosen:
        out[-1] = "constants: {}  # the force comes from a column (fields: reporting_force)"
    else:
        out.append("  reporting_force: TODO  # no force column found: the force's PFA code, e.g. E23000013")
    out += ["", "fields:"]
    for fname in _FIELD_ORDER:
        if fname in chosen:
            out += _field_lines(fname, chosen[fname])
        elif fname in _REQUIRED:
            out.append(f"  {fname}: \"TODO\"  # TODO: no column looked like {_MISSING_HINT[fname]}")
    used = {c.name for g in chosen.values() for c in g.columns}
    rest = [c for c in report.columns if c.name not in used]
    out += ["", "drop_columns:" + ("  # columns the draft could not place: to keep one, give it a field"
                                   if rest else " []")]
    for c in rest:
        eg = f", e.g. {c.samples[0]!r}" if c.samples else ""
        alt = runners_up.get(c.name)
        if alt and alt.field in chosen:
            winner = " + ".join(repr(w.name) for w in chosen[alt.field].columns)
            eg += f"; could be {alt.field}, guessed from {winner} instead"
        out.append(f"  - {_q(c.name)}  # not placed: {KINDS[c.kind]}{eg}".replace("\n", " "))
    return "\n".join(out) + "\n"
