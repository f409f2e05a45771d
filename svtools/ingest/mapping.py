"""Mapping language v2: how one source system's extract becomes svtools' canonical records.

A mapping (``config/mappings/*.yaml``; every key is documented with an example in ``docs/onboarding.md``) is
data, not code. This module reads and checks it:

* YAML is read with a loader in which every plain scalar is text except ``true``/``false``/``null`` (so
  ``Yes: true`` maps the text ``Yes``, ``4.10`` stays ``4.10`` and ``008`` keeps its zeros);
* every key is checked at every level: an unknown key is an error with a "did you mean";
* a version-1 mapping (``columns:``/``values:``/``date_format:``) is translated to version 2, so older mappings
  keep working.

The result is a :class:`Mapping` with one :class:`FieldSpec` per canonical field; :mod:`svtools.ingest.extract`
parses the data with it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from svtools.errors import ConfigError
from svtools.ingest.mapping_keys import check_keys, did_you_mean
from svtools.paths import CONFIG

__all__ = [
    "MAPPINGS_DIR",
    "RECORD_FIELDS",
    "REQUIRED_FIELDS",
    "FieldSpec",
    "Mapping",
    "load_mapping",
    "read_mapping_yaml",
    "mapping_from_dict",
]

MAPPINGS_DIR = CONFIG / "mappings"

#: Canonical fields of each record kind, with what parsing they get.
RECORD_FIELDS: dict[str, dict[str, str]] = {
    "police_extract": {
        "crime_ref": "text", "recorded_date": "date", "occurred_at": "datetime", "ho_offence_code": "offence",
        "knife_flag": "flag", "domestic_flag": "flag", "lsoa_code": "lsoa", "location_type": "text",
        "victim_id": "text", "victim_age": "age", "victim_sex": "sex", "victim_ethnicity": "ethnicity",
        "suspect_id": "text", "suspect_age": "age", "suspect_sex": "sex", "reporting_force": "force",
    },
    "police_uk": {
        "crime_ref": "text", "recorded_date": "date", "reporting_force": "force", "lsoa_code": "lsoa",
        "crime_type": "text", "last_outcome": "text",
    },
}
#: Fields a mapping must give (a column or a constant).
REQUIRED_FIELDS = {
    "police_extract": ("crime_ref", "recorded_date", "ho_offence_code", "knife_flag"),
    "police_uk": ("recorded_date", "crime_type"),
}
KINDS = {"records": "police_extract", "police_uk": "police_uk", "counts": "counts"}

_TOP_KEYS = ["mapping_version", "name", "description", "kind", "schema", "source", "files", "constants", "fields",
             "drop_columns", "exclude", "date_window"]
_FILE_KEYS = ["pattern", "format", "encoding", "delimiter", "sheet", "header_row"]
_FIELD_KEYS = ["column", "optional", "blank", "values", "formats", "date_column", "time_column", "time_formats",
               "date_of_birth", "bands", "normalise", "lookup"]
_V1_KEYS = ["name", "description", "schema", "file_pattern", "delimiter", "encoding", "date_format",
            "datetime_format", "columns", "values", "drop_columns", "exclude"]
DEFAULT_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H%M", "%H.%M")


# --------------------------------------------------------------------------- YAML: text unless true/false/null
class _TextLoader(yaml.SafeLoader):
    """A SafeLoader where plain scalars are text, except ``true``/``false`` (any case) and ``null``/``~``/empty."""


_TextLoader.yaml_implicit_resolvers = {}
_TextLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))
_TextLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                  ["~", "n", "N", ""])


def read_mapping_yaml(path: str | Path) -> dict:
    """Read a mapping file with the text loader; a clear error names the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        known = sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))
        raise ConfigError(f"{path}: mapping file not found{did_you_mean(path.stem, known)} "
                          f"(shipped mappings: {', '.join(known)})")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: a mapping must be saved as UTF-8 text") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


# --------------------------------------------------------------------------- the objects
@dataclass(frozen=True)
class FieldSpec:
    """How one canonical field is read from the source (see ``docs/onboarding.md`` for each key)."""

    name: str
    kind: str
    column: str | None = None
    optional: bool = False
    blank: Any = "default"
    values: dict = field(default_factory=dict)
    formats: tuple[str, ...] = ()
    date_column: str | None = None
    time_column: str | None = None
    time_formats: tuple[str, ...] = DEFAULT_TIME_FORMATS
    date_of_birth: str | None = None
    bands: bool = False
    normalise: str | None = None
    lookup: str | None = None

    @property
    def source_columns(self) -> list[str]:
        """The source columns this field reads."""
        cols = [self.column, self.date_column, self.time_column, self.date_of_birth]
        return [c for c in cols if c]

    @property
    def label(self) -> str:
        """The source column(s) as the analyst knows them, for messages."""
        return " + ".join(self.source_columns) or self.name

    def blank_means(self, required: bool) -> Any:
        """What an empty cell means: ``"unknown"``, ``"error"`` or a value."""
        if self.blank == "default":
            return "error" if required else "unknown"
        return self.blank


@dataclass(frozen=True)
class Mapping:
    """A source system's mapping (v2). Build it with :func:`load_mapping`."""

    name: str
    schema: str
    fields: dict[str, FieldSpec]
    kind: str = "records"
    description: str = ""
    source_label: str = ""
    constants: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    drop_columns: tuple[str, ...] = ()
    exclude: dict = field(default_factory=dict)
    date_window: tuple[dt.date, dt.date | None] = (dt.date(2000, 1, 1), None)
    version: int = 2
    path: str = ""

    # ------------------------------------------------------------------ helpers
    def source(self, canonical: str) -> str:
        """The source column(s) that feed a canonical field (for error messages)."""
        spec = self.fields.get(canonical)
        if spec is not None:
            return spec.label
        if canonical in self.constants:
            return f"constant {canonical}"
        return canonical

    @property
    def file_pattern(self) -> str:
        return str(self.files.get("pattern") or "*.csv*")

    @property
    def required(self) -> tuple[str, ...]:
        return REQUIRED_FIELDS.get(self.schema, ())

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads, in field order, without repeats."""
        out: list[str] = []
        for spec in self.fields.values():
            out.extend(c for c in spec.source_columns if c not in out)
        return out

    def window(self, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
        """The plausible date window: configured start, and end (default: the day of the run)."""
        start, end = self.date_window
        return start, end or (today or dt.date.today())


# --------------------------------------------------------------------------- parsing the YAML
def _text(value: Any, where: str) -> str:
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return str(value)


def _as_formats(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{where}: expected a format or a list of formats such as \"%d/%m/%Y\"")
    for f in items:
        if "%" not in f:
            raise ConfigError(f"{where}: {f!r} is not a strptime format (e.g. \"%d/%m/%Y\", \"%Y-%m-%dT%H:%M:%S\")")
    return tuple(items)


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _values(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of source spelling -> canonical value, got {value!r}")
    out = {}
    for k, v in value.items():
        key = "" if k is None else str(k)  # `~:` or `null:` keys mean the empty cell
        if isinstance(v, (dict, list)):
            raise ConfigError(f"{where}: the value for {key!r} must be a single value, got {v!r}")
        out[key] = v
    return out


def _field(name: str, kind: str, entry: Any, where: str) -> FieldSpec:
    if isinstance(entry, str):
        return FieldSpec(name=name, kind=kind, column=entry)
    if entry is None:
        raise ConfigError(f"{where}: give the source column (or a mapping with 'column:')")
    check_keys(entry, _FIELD_KEYS, where)
    col = entry.get("column")
    spec = FieldSpec(
        name=name, kind=kind,
        column=None if col is None else _text(col, f"{where}.column"),
        optional=_as_bool(entry.get("optional", False), f"{where}.optional"),
        blank=entry.get("blank", "default"),
        values=_values(entry.get("values"), f"{where}.values"),
        formats=_as_formats(entry.get("formats"), f"{where}.formats"),
        date_column=entry.get("date_column"), time_column=entry.get("time_column"),
        time_formats=_as_formats(entry.get("time_formats"), f"{where}.time_formats") or DEFAULT_TIME_FORMATS,
        date_of_birth=entry.get("date_of_birth"),
        bands=_as_bool(entry.get("bands", False), f"{where}.bands"),
        normalise=entry.get("normalise"), lookup=entry.get("lookup"),
    )
    # which keys make sense for which kind of field
    if spec.date_column or spec.time_column:
        if kind not in ("date", "datetime"):
            raise ConfigError(f"{where}: date_column/time_column are for date fields (occurred_at, recorded_date)")
        if not spec.date_column:
            raise ConfigError(f"{where}: time_column needs a date_column")
        if spec.column:
            raise ConfigError(f"{where}: give either column or date_column + time_column, not both")
    if spec.date_of_birth and kind != "age":
        raise ConfigError(f"{where}: date_of_birth is for ages (victim_age, suspect_age)")
    if spec.date_of_birth and (spec.column or spec.bands):
        raise ConfigError(f"{where}: give either column (ages or bands) or date_of_birth, not both")
    if spec.bands and kind != "age":
        raise ConfigError(f"{where}: bands is for ages (victim_age, suspect_age)")
    if spec.formats and kind not in ("date", "datetime") and not spec.date_of_birth:
        raise ConfigError(f"{where}: formats are for dates (or an age's date_of_birth)")
    if (kind in ("date", "datetime") or spec.date_of_birth) and not spec.formats:
        raise ConfigError(f"{where}: a date needs 'formats:' (e.g. [\"%d/%m/%Y\"]); "
                          "`svtools inspect FILE` shows the formats that parse the column")
    if spec.normalise not in (None, "home_office", "none") or (spec.normalise and kind != "offence"):
        raise ConfigError(f"{where}: normalise is 'home_office' or 'none', for ho_offence_code only")
    if spec.lookup not in (None, "description") or (spec.lookup and kind != "offence"):
        raise ConfigError(f"{where}: lookup is 'description', for ho_offence_code only")
    if not spec.source_columns:
        raise ConfigError(f"{where}: no source column (give 'column:')")
    blank = spec.blank
    if isinstance(blank, str) and blank not in ("default", "unknown", "error") and kind in ("flag",):
        raise ConfigError(f"{where}.blank: for a flag use unknown, error, true or false (got {blank!r})")
    return spec


def _window(value: Any, where: str) -> tuple[dt.date, dt.date | None]:
    if value is None:
        return dt.date(2000, 1, 1), None
    check_keys(value, ["start", "end"], where)
    out = []
    for key, default in (("start", "2000-01-01"), ("end", None)):
        text = value.get(key, default)
        if text is None:
            out.append(None)
            continue
        try:
            out.append(dt.date.fromisoformat(str(text)))
        except ValueError:
            raise ConfigError(f"{where}.{key}: expected a date YYYY-MM-DD, got {text!r}") from None
    return out[0], out[1]


def _translate_v1(raw: dict, where: str) -> dict:
    """A version-1 mapping (``columns``/``values``/``date_format``) as a version-2 one."""
    check_keys(raw, _V1_KEYS, where + " (a version-1 mapping: no mapping_version)", required=["name", "columns"])
    v1_schemas = ("police_extract", "police_uk")
    if str(raw.get("schema", "police_extract")) not in v1_schemas:
        raise ConfigError(f"{where}: schema {raw['schema']!r} is not known{did_you_mean(raw['schema'], v1_schemas)} "
                          f"(known: {', '.join(v1_schemas)})")
    values = dict(raw.get("values") or {})
    fields: dict[str, Any] = {}
    date_format = raw.get("date_format", "%d/%m/%Y")
    for canonical, column in (raw.get("columns") or {}).items():
        entry: dict[str, Any] = {"column": column}
        v = values.pop(canonical, None)
        if canonical == "ho_offence_code" and isinstance(v, dict):
            v = {k: x for k, x in v.items() if k != "separator"}  # v1 separator: handled by normalisation
        if v:
            entry["values"] = v
        if canonical == "recorded_date":
            entry["formats"] = [date_format]
        if canonical == "occurred_at":
            entry["formats"] = [f for f in (raw.get("datetime_format"), date_format) if f]
        if canonical not in REQUIRED_FIELDS.get(raw.get("schema", "police_extract"), ()):
            entry["optional"] = False
        fields[canonical] = entry
    if values:
        k = next(iter(values))
        raise ConfigError(f"{where}: values for {k!r}, which is not in columns{did_you_mean(k, fields)}")
    schema = raw.get("schema", "police_extract")
    return {
        "mapping_version": 2, "name": raw["name"], "description": raw.get("description", ""),
        "kind": "police_uk" if schema == "police_uk" else "records",
        "files": {"pattern": raw.get("file_pattern", "*.csv"), "delimiter": raw.get("delimiter", "auto"),
                  "encoding": raw.get("encoding", "auto")},
        "fields": fields, "drop_columns": raw.get("drop_columns") or [], "exclude": raw.get("exclude") or {},
    }


def mapping_from_dict(raw: dict, path: str = "") -> Mapping:
    """Check a mapping's keys and values and build the :class:`Mapping` (records and police_uk kinds)."""
    where = path or "mapping"
    if "mapping_version" not in raw:
        if "fields" in raw or "kind" in raw:
            raise ConfigError(f"{where}: add 'mapping_version: 2' at the top (see docs/onboarding.md)")
        raw = _translate_v1(raw, where)
    check_keys(raw, _TOP_KEYS, where, required=["mapping_version", "name", "kind", "fields"])
    if str(raw["mapping_version"]) != "2":
        raise ConfigError(f"{where}: mapping_version {raw['mapping_version']!r} is not known (this is svtools' "
                          "version 2 language)")
    kind = str(raw["kind"])
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {kind!r} is not known{did_you_mean(kind, KINDS)} "
                          f"(known: {', '.join(KINDS)})")
    if kind == "counts":
        raise ConfigError(f"{where}: a counts mapping is read by svtools.ingest.aggregate, not as records")
    schema = KINDS[kind]
    if "schema" in raw and str(raw["schema"]) != schema:
        raise ConfigError(f"{where}: schema {raw['schema']!r} does not match kind {kind!r} (omit 'schema:')")
    canon = RECORD_FIELDS[schema]
    files = raw.get("files") or {}
    check_keys(files, _FILE_KEYS, f"{where}: files")
    constants = raw.get("constants") or {}
    check_keys(constants, list(canon), f"{where}: constants")
    fields_raw = raw["fields"]
    check_keys(fields_raw, list(canon), f"{where}: fields")
    fields = {name: _field(name, canon[name], entry, f"{where}: fields.{name}") for name, entry in fields_raw.items()}
    both = set(fields) & set(constants)
    if both:
        raise ConfigError(f"{where}: {sorted(both)} given both as a field and a constant; keep one")
    missing = [f for f in REQUIRED_FIELDS[schema] if f not in fields and f not in constants]
    if missing:
        raise ConfigError(f"{where}: no source for required field(s) {missing} (add them under fields:)")
    for name in REQUIRED_FIELDS[schema]:
        if name in fields and fields[name].optional:
            raise ConfigError(f"{where}: fields.{name} is required and cannot be optional")
    exclude = raw.get("exclude") or {}
    check_keys(exclude, list(canon), f"{where}: exclude")
    for k, v in exclude.items():
        if not isinstance(v, list):
            raise ConfigError(f"{where}: exclude.{k} must be a list of values")
    drop = raw.get("drop_columns") or []
    if not isinstance(drop, list):
        raise ConfigError(f"{where}: drop_columns must be a list of column names")
    return Mapping(
        name=str(raw["name"]), schema=schema, fields=fields, kind=kind,
        description=str(raw.get("description") or ""), source_label=str(raw.get("source") or ""),
        constants={k: ("" if v is None else v) for k, v in constants.items()}, files=dict(files),
        drop_columns=tuple(str(c) for c in drop), exclude={k: [str(x) for x in v] for k, v in exclude.items()},
        date_window=_window(raw.get("date_window"), f"{where}: date_window"), version=2, path=path,
    )


def load_mapping(name_or_path: str | Path) -> Mapping:
    """Read and check a mapping by name (``demo_extract``, ``police_uk``, ``niche_example``) or path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = MAPPINGS_DIR / f"{name_or_path}.yaml"
    return mapping_from_dict(read_mapping_yaml(path), str(path))
