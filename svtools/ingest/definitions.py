"""Local definitions of serious violence, held as data in ``config/definitions/*.yaml``.

A definition of **records** (``applies_to: records``, the default) names the Home Office offence codes it counts
and optional conditions:

* ``knife_flag: true`` - only offences with the Home Office knife or sharp instrument flag;
* ``domestic_flag: false`` - domestic abuse-related offences excluded (``true``: only those);
* ``victim_age: {min: 10, max: 24}`` - victims in an age range (years, inclusive); unknown ages are excluded;
* ``suspect_age: {max: 24}`` - the same for the suspect's age (record-level data only: the monthly count
  tables hold no suspect ages);
* ``location_type: {not_in: [Dwelling], unknown: include}`` (or ``in: [...]``) - where the offence happened,
  as the dataset's ``location_type`` column spells it (compared without regard to case or spacing); ``unknown``
  (required: ``include`` or ``exclude``) says what a blank location counts as, a judgement the YAML must state.
  Record-level data only (the monthly count tables hold no location).

A definition that mixes rules (e.g. "homicide, knife crime and robbery": homicide whatever the weapon, assault
only with the knife flag) lists ``parts`` instead of ``offence_codes``: each part has a ``label``, its
``offence_codes`` and optional ``conditions``; a record is counted when it meets the definition's own
``conditions`` and at least one part. The definition's offence codes are then the union of its parts' codes.

A **preset** quoting a partnership's own definition also carries, as data:

* ``source_wording`` - the partnership's definition word for word, as its document gives it;
* ``judgements`` - every reading of the wording into codes and flags (what "county lines" can and cannot mean
  in recorded crime, which flags a part needs);
* ``not_captured`` - what the wording names that police-recorded crime cannot show at all (e.g. gang
  involvement, alcohol-related violence).

:func:`definition_catalogue` lists every definition with its source and number of offence codes
(``svtools definitions``), and :func:`definition_overlap` compares what two definitions capture in one frame.

A definition of **count tables** (``applies_to: counts``) selects categories of a table of counts instead
(``categories``: the labels as the dataset's ``category`` column holds them, e.g. ``"ROBBERY / ROBBERY OF
PERSONAL PROPERTY"``); a count table has no offence codes, flags or ages, so it takes no conditions. It may also
carry what its pages need to say and show, all as data:

* ``caveats`` - plain sentences every page using it shows (what the categories are and are not);
* ``measures`` - other count definitions the pages show beside it (e.g. violence with injury, robbery);
* ``default_for`` - count datasets whose pages use it when the build names a record definition
  (:func:`definition_for`);
* ``rate_per`` (default 1,000 residents) and ``compare_over`` (``latest_12_months``, the default, or
  ``whole_period``, for rare offences) - how its rates are compared across areas.

Applying a definition is one function, :func:`apply_definition`, used everywhere (records, monthly counts and
count tables), so a partnership that changes its definition changes one YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from svtools.config import read_yaml
from svtools.errors import ConfigError, DataValidationError
from svtools.paths import CONFIG

__all__ = ["Definition", "Part", "load_definition", "definition_from_mapping", "list_definitions",
           "definition_catalogue", "apply_definition", "definition_mask", "definition_overlap", "definition_parts", "definition_for",
           "check_categories", "APPLIES_TO"]

DEFINITIONS_DIR = CONFIG / "definitions"
_ALLOWED_CONDITIONS = {"knife_flag", "domestic_flag", "victim_age", "suspect_age", "location_type"}
#: What a definition can be applied to: record-level data (offence codes) or count tables (categories).
APPLIES_TO = ("records", "counts")
_COMMON_KEYS = {"name", "title", "short_title", "description", "source", "applies_to", "source_wording",
                "judgements", "not_captured"}
_RECORDS_KEYS = _COMMON_KEYS | {"offence_codes", "exclude_codes", "conditions", "parts"}
_PART_KEYS = {"label", "offence_codes", "conditions", "note"}
_LOCATION_KEYS = {"in", "not_in", "unknown"}
_COUNTS_KEYS = _COMMON_KEYS | {"categories", "caveats", "measures", "default_for", "rate_per", "compare_over"}
_COMPARE_OVER = ("latest_12_months", "whole_period")


@dataclass(frozen=True)
class Part:
    """One part of a definition made of parts (``parts:`` in the YAML): its offence codes and the conditions
    that apply to them only (on top of the definition's own)."""

    label: str
    offence_codes: tuple[str, ...]
    conditions: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Definition:
    """One local definition of serious violence (see the module docstring for the YAML keys)."""

    name: str
    title: str
    short_title: str
    description: str
    source: str
    offence_codes: tuple[str, ...] = ()
    exclude_codes: tuple[str, ...] = ()
    conditions: dict = field(default_factory=dict)
    applies_to: str = "records"
    categories: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    default_for: tuple[str, ...] = ()
    rate_per: int = 1000
    compare_over: str = "latest_12_months"
    parts: tuple[Part, ...] = ()
    source_wording: str = ""
    judgements: tuple[str, ...] = ()
    not_captured: tuple[str, ...] = ()

    @property
    def for_counts(self) -> bool:
        """True for a definition of count-table categories (``applies_to: counts``)."""
        return self.applies_to == "counts"

    @property
    def part_labels(self) -> tuple[str, ...]:
        """The labels of the definition's parts (empty for a plain list of codes)."""
        return tuple(p.label for p in self.parts)

    @property
    def age_range(self) -> tuple[int | None, int | None]:
        """(min, max) victim age in years, or (None, None) when the definition has no age condition."""
        age = self.conditions.get("victim_age") or {}
        return age.get("min"), age.get("max")


def list_definitions(applies_to: str | None = "records") -> list[str]:
    """Names of the definitions shipped in ``config/definitions`` that apply to ``applies_to`` (``records``,
    the default, ``counts``, or None for every definition)."""
    names = sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml"))
    if applies_to is None:
        return names
    return [n for n in names if _applies_to(DEFINITIONS_DIR / f"{n}.yaml") == applies_to]


def _applies_to(path: Path) -> str:
    try:
        return str(read_yaml(path).get("applies_to", "records"))
    except ConfigError:
        return "records"  # a broken file is reported when it is loaded by name


def load_definition(name: str | Path | Definition) -> Definition:
    """Read and check one definition, by name (``knife_serious_violence``) or path to a YAML file; a
    :class:`Definition` (e.g. one written inline with :func:`definition_from_mapping`) is returned as it is."""
    if isinstance(name, Definition):
        return name
    return _load_definition(name)


@lru_cache(maxsize=32)
def _load_definition(name: str | Path) -> Definition:
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else DEFINITIONS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no definition '{name}' (known: {', '.join(list_definitions(None))})")
    return definition_from_mapping(read_yaml(path), where=str(path))


def definition_from_mapping(raw: dict, where: str = "inline definition") -> Definition:
    """Check a definition given as a mapping (the YAML's keys) and return it.

    The same checks as a file in ``config/definitions``: so a registrar can write a definition in a notebook,
    ``definition_from_mapping({"name": "my_def", "title": ..., "description": ..., "source": ...,
    "offence_codes": ["8N", "5D"], "conditions": {"knife_flag": True}})``, and use it wherever a name is taken.

    Raises
    ------
    ConfigError
        A key, condition or offence code the loader does not know, or a required key missing; the message
        names ``where`` (the file).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a definition is a mapping of keys (name, title, ...), not {type(raw).__name__}")
    path = where
    applies_to = str(raw.get("applies_to", "records"))
    if applies_to not in APPLIES_TO:
        raise ConfigError(f"{path}: applies_to must be one of {', '.join(APPLIES_TO)}, not {applies_to!r}")
    if applies_to == "counts":
        return _counts_definition(path, raw)
    has_parts = "parts" in raw
    required = ("name", "title", "description", "source") + (() if has_parts else ("offence_codes",))
    missing = [k for k in required if k not in raw]
    if missing:
        raise ConfigError(f"{path}: definition lacks {', '.join(missing)}")
    unknown_keys = sorted(set(raw) - _RECORDS_KEYS)
    if unknown_keys:
        raise ConfigError(f"{path}: unknown key(s) {unknown_keys}; allowed: {sorted(_RECORDS_KEYS)}")
    if has_parts and "offence_codes" in raw:
        raise ConfigError(f"{path}: give either offence_codes or parts (whose codes are the definition's), "
                          "not both")
    from svtools.ingest.reference import offence_codes

    known = set(offence_codes()["ho_offence_code"])

    def codes_of(value, what: str) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: {what} must be a list of Home Office offence codes")
        codes = tuple(str(c).strip() for c in value)
        bad = [c for c in codes if c not in known]
        if bad:
            raise ConfigError(f"{path}: unknown Home Office offence code(s) {bad} in {what}")
        return codes

    conditions = _conditions(raw.get("conditions") or {}, path, "conditions")
    parts: tuple[Part, ...] = ()
    if has_parts:
        if not isinstance(raw["parts"], list) or not raw["parts"]:
            raise ConfigError(f"{path}: parts must be a non-empty list")
        out = []
        for i, part in enumerate(raw["parts"]):
            if not isinstance(part, dict) or "label" not in part or "offence_codes" not in part:
                raise ConfigError(f"{path}: part {i + 1} needs a label and offence_codes")
            extra = sorted(set(part) - _PART_KEYS)
            if extra:
                raise ConfigError(f"{path}: part '{part['label']}' has unknown key(s) {extra}; allowed: "
                                  f"{sorted(_PART_KEYS)}")
            label = _text(part["label"])
            out.append(Part(label=label, offence_codes=codes_of(part["offence_codes"], f"part '{label}'"),
                            conditions=_conditions(part.get("conditions") or {}, path, f"part '{label}'"),
                            note=_text(part.get("note", ""))))
        labels = [p.label for p in out]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{path}: two parts have the same label")
        parts = tuple(out)
        codes = tuple(dict.fromkeys(c for p in parts for c in p.offence_codes))
    else:
        codes = codes_of(raw["offence_codes"], "offence_codes")
    excluded = codes_of(raw.get("exclude_codes", []), "exclude_codes")
    return Definition(
        name=str(raw["name"]),
        title=str(raw["title"]),
        short_title=str(raw.get("short_title", raw["title"])),
        description=_text(raw["description"]),
        source=_text(raw["source"]),
        offence_codes=codes,
        exclude_codes=excluded,
        conditions=conditions,
        parts=parts,
        source_wording=_text(raw.get("source_wording", "")),
        judgements=_strings(raw, "judgements", path),
        not_captured=_strings(raw, "not_captured", path),
    )


def _strings(raw: dict, key: str, path) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{path}: '{key}' must be a list")
    return tuple(_text(v) for v in value)


def _conditions(conditions, path, where: str) -> dict:
    """Check the conditions of a definition or of one of its parts."""
    if not isinstance(conditions, dict):
        raise ConfigError(f"{path}: {where} must be a mapping (e.g. knife_flag: true)")
    unknown = set(conditions) - _ALLOWED_CONDITIONS
    if unknown:
        raise ConfigError(f"{path}: unknown condition(s) {sorted(unknown)} in {where}; allowed: "
                          f"{sorted(_ALLOWED_CONDITIONS)}")
    for key in ("knife_flag", "domestic_flag"):
        if key in conditions and not isinstance(conditions[key], bool):
            raise ConfigError(f"{path}: {key} in {where} must be true or false, not {conditions[key]!r}")
    for key in ("victim_age", "suspect_age"):
        if key in conditions:
            age = conditions[key]
            if not isinstance(age, dict) or not age or set(age) - {"min", "max"} or \
                    not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 110 for v in age.values()):
                raise ConfigError(f"{path}: {key} in {where} must be {{min: N, max: N}} (whole years 0-110), "
                                  f"not {age!r}")
            if "min" in age and "max" in age and age["min"] > age["max"]:
                raise ConfigError(f"{path}: {key} in {where} has min above max")
    if "location_type" in conditions:
        loc = conditions["location_type"]
        if not isinstance(loc, dict) or set(loc) - _LOCATION_KEYS or ("in" in loc) == ("not_in" in loc):
            raise ConfigError(f"{path}: location_type in {where} must give exactly one of 'in' or 'not_in' (a "
                              f"list of location types) and 'unknown' (include or exclude), not {loc!r}")
        if loc.get("unknown") not in ("include", "exclude"):
            raise ConfigError(f"{path}: location_type in {where} must say unknown: include or unknown: exclude "
                              "(what a blank location counts as is a judgement the definition states)")
        values = loc.get("in", loc.get("not_in"))
        if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{path}: location_type in {where} must list at least one location type")
    return dict(conditions)


def _text(value) -> str:
    return " ".join(str(value).split())


def _counts_definition(path: Path, raw: dict) -> Definition:
    """A definition of count-table categories (``applies_to: counts``), checked."""
    missing = [k for k in ("name", "title", "description", "source", "categories") if k not in raw]
    if missing:
        raise ConfigError(f"{path}: definition lacks {', '.join(missing)}")
    unknown = sorted(set(raw) - _COUNTS_KEYS)
    if unknown:
        hint = " (a count table has no offence codes, flags or ages)" if \
            {"offence_codes", "exclude_codes", "conditions"} & set(unknown) else ""
        raise ConfigError(f"{path}: key(s) {unknown} do not apply to a count-table definition{hint}; "
                          f"allowed: {sorted(_COUNTS_KEYS)}")

    def strings(key) -> tuple[str, ...]:
        value = raw.get(key) or []
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: '{key}' must be a list")
        return tuple(_text(v) for v in value)

    categories = strings("categories")
    if not categories or any(not c for c in categories):
        raise ConfigError(f"{path}: 'categories' must name at least one category (no blanks)")
    if len(set(categories)) != len(categories):
        raise ConfigError(f"{path}: 'categories' repeats a category")
    measures = strings("measures")
    if str(raw["name"]) in measures:
        raise ConfigError(f"{path}: a definition cannot be one of its own measures")
    try:
        rate_per = int(raw.get("rate_per", 1000))
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: rate_per must be a whole number (1000, 100000)") from None
    if rate_per not in (1000, 10_000, 100_000):
        raise ConfigError(f"{path}: rate_per must be 1000, 10000 or 100000, not {rate_per}")
    compare = str(raw.get("compare_over", "latest_12_months"))
    if compare not in _COMPARE_OVER:
        raise ConfigError(f"{path}: compare_over must be one of {', '.join(_COMPARE_OVER)}, not {compare!r}")
    return Definition(
        name=str(raw["name"]),
        title=str(raw["title"]),
        short_title=str(raw.get("short_title", raw["title"])),
        description=_text(raw["description"]),
        source=_text(raw["source"]),
        applies_to="counts",
        categories=categories,
        caveats=strings("caveats"),
        measures=measures,
        default_for=strings("default_for"),
        rate_per=rate_per,
        compare_over=compare,
        source_wording=_text(raw.get("source_wording", "")),
        judgements=_strings(raw, "judgements", path),
        not_captured=_strings(raw, "not_captured", path),
    )


def check_categories(definition: Definition | str, known) -> Definition:
    """Raise :class:`ConfigError` unless every category of a count definition is one of ``known`` (the
    dataset's categories, ``dataset.json`` ``categories``); return the definition."""
    d = load_definition(definition) if isinstance(definition, str) else definition
    if not d.for_counts:
        raise ConfigError(f"definition '{d.name}' selects Home Office offence codes, not count-table categories")
    known = [str(k) for k in known]
    bad = [c for c in d.categories if c not in set(known)]
    if bad:
        raise ConfigError(f"definition '{d.name}': categor{'y' if len(bad) == 1 else 'ies'} {bad} not in the "
                          f"count table (its categories: {'; '.join(known)})")
    return d


def definition_for(name: str, dataset: str) -> Definition:
    """The definition a page of ``dataset`` uses when the build asks for ``name``.

    A definition that applies to the dataset's kind is used as it is. A count table (``dataset.json`` schema
    ``counts``) cannot use a definition of offence codes (the build's default is one), so its pages use the
    count definition whose ``default_for`` names the dataset; a record dataset cannot use a count definition.
    Either way a count definition's categories are checked against the dataset's.
    """
    from svtools.ingest.store import dataset_info

    info = dataset_info(dataset)
    d = load_definition(name)
    if str(info.get("schema")) != "counts":
        if d.for_counts:
            raise ConfigError(f"definition '{d.name}' selects count-table categories; dataset '{dataset}' is "
                              f"not a count table (a {info.get('schema')} dataset)")
        return d
    if not d.for_counts:
        keys = {str(info.get("dataset") or dataset), str(info.get("mapping") or "")} - {""}
        hits = [n for n in list_definitions("counts") if keys & set(load_definition(n).default_for)]
        if len(hits) != 1:
            have = ", ".join(list_definitions("counts")) or "none"
            raise ConfigError(f"dataset '{dataset}' is a count table and definition '{d.name}' selects Home "
                              f"Office offence codes; name a count definition (applies_to: counts; known: {have})"
                              + (f" - several say default_for {sorted(keys)}: {hits}" if hits else ""))
        d = load_definition(hits[0])
    return check_categories(d, info.get("categories") or [])


def definition_mask(frame: pd.DataFrame, definition: Definition | str) -> pd.Series:
    """Boolean Series: True for the rows of ``frame`` that meet ``definition``.

    Works on record-level frames (``victim_age``), on aggregated counts (``victim_under_25``) and, for a
    count-table definition, on count tables (``category``). A condition whose column is absent raises
    :class:`DataValidationError` rather than being ignored.
    """
    d = load_definition(definition) if isinstance(definition, str) else definition
    if d.for_counts:
        if "category" not in frame.columns:
            raise DataValidationError(f"definition '{d.name}' selects count-table categories and needs this "
                                      "column", column="category")
        return frame["category"].astype("string").isin(d.categories).fillna(False).astype(bool)

    def need(col: str, what: str = "this column") -> pd.Series:
        if col not in frame.columns:
            raise DataValidationError(f"definition '{d.name}' needs {what}", column=col)
        return frame[col]

    codes = need("ho_offence_code").astype("string")
    mask = _conditions_mask(frame, d.conditions, need)  # the definition's own conditions first (its errors too)
    if d.parts:
        any_part = pd.Series(False, index=frame.index)
        for part in d.parts:
            any_part |= codes.isin(part.offence_codes).fillna(False) & _conditions_mask(frame, part.conditions,
                                                                                        need)
        mask &= any_part
    else:
        mask &= codes.isin(d.offence_codes).fillna(False)
    mask &= ~codes.isin(d.exclude_codes).fillna(False)
    return mask.fillna(False).astype(bool)


def _age_mask(frame: pd.DataFrame, role: str, age: dict, need) -> pd.Series:
    lo, hi = age.get("min"), age.get("max")
    col = f"{role}_age"
    if col in frame.columns:
        years = frame[col].astype("Float64")
        ok = years.notna()
        if lo is not None:
            ok &= years >= lo
        if hi is not None:
            ok &= years <= hi
        return ok.fillna(False).astype(bool)
    if role == "victim" and "victim_under_25" in frame.columns and lo in (None, 0) and hi == 24:
        return frame["victim_under_25"].astype("boolean").fillna(False).astype(bool)
    need(col, f"{role} ages")  # raises, naming the column
    raise AssertionError("unreachable")


def _location_key(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)


def _conditions_mask(frame: pd.DataFrame, cond: dict, need) -> pd.Series:
    """True where a row meets every condition in ``cond`` (a definition's or one part's)."""
    mask = pd.Series(True, index=frame.index)
    if "knife_flag" in cond:
        mask &= need("knife_flag").astype("boolean").fillna(False) == bool(cond["knife_flag"])
    if "domestic_flag" in cond:
        # unknown domestic status counts as "not flagged", as in force systems
        mask &= need("domestic_flag").astype("boolean").fillna(False) == bool(cond["domestic_flag"])
    for role in ("victim", "suspect"):
        if f"{role}_age" in cond:
            mask &= _age_mask(frame, role, cond[f"{role}_age"], need)
    if "location_type" in cond:
        loc = cond["location_type"]
        where = _location_key(need("location_type", "the location type (location_type)"))
        listed = _location_key(pd.Series(list(loc.get("in", loc.get("not_in"))), dtype="string"))
        hit = where.isin(set(listed)).fillna(False).astype(bool)
        keep = hit if "in" in loc else ~hit
        blank = where.isna() | (where == "")
        mask &= keep.where(~blank.fillna(True).astype(bool), loc["unknown"] == "include").astype(bool)
    return mask.fillna(False).astype(bool)


def definition_parts(frame: pd.DataFrame, definition: Definition | str) -> pd.Series:
    """The label of the first part each row of ``frame`` meets (``<NA>`` where it is not in the definition).

    For a definition made of ``parts`` (e.g. Kent and Medway's homicide, knife crime, robbery ...), so a table can
    say which part brought an offence in; a definition without parts gives its short title for every row it
    counts.
    """
    d = load_definition(definition) if isinstance(definition, str) else definition
    inside = definition_mask(frame, d)
    out = pd.Series(pd.NA, index=frame.index, dtype="string")
    if not d.parts:
        return out.mask(inside, d.short_title)
    codes = frame["ho_offence_code"].astype("string")

    def need(col: str, what: str = "this column") -> pd.Series:
        if col not in frame.columns:
            raise DataValidationError(f"definition '{d.name}' needs {what}", column=col)
        return frame[col]

    for part in reversed(d.parts):  # the first part that matches wins
        hit = inside & codes.isin(part.offence_codes).fillna(False) & _conditions_mask(frame, part.conditions, need)
        out = out.mask(hit, part.label)
    return out


def definition_overlap(frame: pd.DataFrame, a: Definition | str, b: Definition | str,
                       by: str | None = None) -> pd.DataFrame:
    """What two definitions capture in one frame of records: in both, in the first only, in the second only.

    Parameters
    ----------
    frame : DataFrame
        Records (one row per crime x victim) or count rows; with a column ``offences`` the rows are weighted
        by it (monthly count tables), otherwise each row counts once.
    a, b : Definition or str
        The two definitions.
    by : str, optional
        A column to break the figures down by (e.g. ``offence_group``); rows ``Total`` last.

    Returns
    -------
    DataFrame
        Columns ``both`` (|A and B|), ``only_<a>`` (|A - B|), ``only_<b>`` (|B - A|), ``<a>`` (|A|) and
        ``<b>`` (|B|), so ``<a> = both + only_<a>``. Unsuppressed: pass through the disclosure gate before
        publishing.
    """
    da = load_definition(a) if isinstance(a, str) else a
    db = load_definition(b) if isinstance(b, str) else b
    if da.name == db.name:
        raise ConfigError(f"definition_overlap needs two different definitions, not '{da.name}' twice")
    ma, mb = definition_mask(frame, da), definition_mask(frame, db)
    weight = frame["offences"].astype("Int64").fillna(0) if "offences" in frame.columns else \
        pd.Series(1, index=frame.index)
    parts = pd.DataFrame({
        "both": weight.where(ma & mb, 0), f"only_{da.name}": weight.where(ma & ~mb, 0),
        f"only_{db.name}": weight.where(~ma & mb, 0), da.name: weight.where(ma, 0), db.name: weight.where(mb, 0),
    }).astype("int64")
    if by is None:
        return parts.sum().to_frame("Total").T
    if by not in frame.columns:
        raise DataValidationError(f"definition_overlap: no column '{by}' to break the overlap down by", column=by)
    keys = frame[by].astype("string").fillna("Not recorded")
    out = parts.groupby(keys.to_numpy()).sum()
    out = out[(out[[da.name, db.name]] > 0).any(axis=1)]
    out.index.name = by
    total = parts.sum().to_frame("Total").T
    return pd.concat([out, total])


def definition_catalogue(applies_to: str | None = None) -> pd.DataFrame:
    """Every definition in ``config/definitions`` with its title, source and size (for ``svtools definitions``).

    Returns
    -------
    DataFrame
        One row per definition: ``name``, ``title``, ``applies_to`` (records or counts), ``source`` (the
        document it comes from), ``offence_codes`` (how many Home Office codes it counts; 0 for a count-table
        definition), ``categories`` (count-table categories), ``parts``, ``judgements`` and ``not_captured``
        (how many of each the YAML writes down) and ``quotes_wording`` (True when it quotes the partnership's own
        wording). Sorted by kind, then name.
    """
    rows = []
    for name in list_definitions(applies_to):
        d = load_definition(name)
        rows.append({"name": d.name, "title": d.title, "applies_to": d.applies_to, "source": d.source,
                     "offence_codes": len(d.offence_codes), "categories": len(d.categories),
                     "parts": len(d.parts), "judgements": len(d.judgements), "not_captured": len(d.not_captured),
                     "quotes_wording": bool(d.source_wording)})
    out = pd.DataFrame(rows, columns=["name", "title", "applies_to", "source", "offence_codes", "categories",
                                      "parts", "judgements", "not_captured", "quotes_wording"])
    order = {k: i for i, k in enumerate(APPLIES_TO)}
    return out.sort_values(["applies_to", "name"], key=lambda s: s.map(order) if s.name == "applies_to" else s,
                           ignore_index=True)


def apply_definition(frame: pd.DataFrame, definition: Definition | str) -> pd.DataFrame:
    """The rows of ``frame`` that meet ``definition`` (a name or a :class:`Definition`)."""
    return frame.loc[definition_mask(frame, definition)]
