"""Local definitions of serious violence, held as data in ``config/definitions/*.yaml``.

A definition of **records** (``applies_to: records``, the default) names the Home Office offence codes it counts
and optional conditions:

* ``knife_flag: true`` - only offences with the Home Office knife or sharp instrument flag;
* ``domestic_flag: false`` - domestic abuse-related offences excluded (``true``: only those);
* ``victim_age: {min: 10, max: 24}`` - victims in an age range (years, inclusive); unknown ages are excluded.

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

__all__ = ["Definition", "load_definition", "list_definitions", "apply_definition", "definition_mask",
           "definition_for", "check_categories", "APPLIES_TO"]

DEFINITIONS_DIR = CONFIG / "definitions"
_ALLOWED_CONDITIONS = {"knife_flag", "domestic_flag", "victim_age"}
#: What a definition can be applied to: record-level data (offence codes) or count tables (categories).
APPLIES_TO = ("records", "counts")
_COMMON_KEYS = {"name", "title", "short_title", "description", "source", "applies_to"}
_COUNTS_KEYS = _COMMON_KEYS | {"categories", "caveats", "measures", "default_for", "rate_per", "compare_over"}
_COMPARE_OVER = ("latest_12_months", "whole_period")


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

    @property
    def for_counts(self) -> bool:
        """True for a definition of count-table categories (``applies_to: counts``)."""
        return self.applies_to == "counts"

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


@lru_cache(maxsize=32)
def load_definition(name: str | Path) -> Definition:
    """Read and check one definition, by name (``knife_serious_violence``) or path to a YAML file."""
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else DEFINITIONS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no definition '{name}' (known: {', '.join(list_definitions(None))})")
    raw = read_yaml(path)
    applies_to = str(raw.get("applies_to", "records"))
    if applies_to not in APPLIES_TO:
        raise ConfigError(f"{path}: applies_to must be one of {', '.join(APPLIES_TO)}, not {applies_to!r}")
    if applies_to == "counts":
        return _counts_definition(path, raw)
    missing = [k for k in ("name", "title", "description", "source", "offence_codes") if k not in raw]
    if missing:
        raise ConfigError(f"{path}: definition lacks {', '.join(missing)}")
    conditions = raw.get("conditions") or {}
    unknown = set(conditions) - _ALLOWED_CONDITIONS
    if unknown:
        raise ConfigError(f"{path}: unknown condition(s) {sorted(unknown)}; allowed: {sorted(_ALLOWED_CONDITIONS)}")
    from svtools.ingest.reference import offence_codes

    known = set(offence_codes()["ho_offence_code"])
    codes = tuple(str(c) for c in raw["offence_codes"])
    bad = [c for c in codes + tuple(str(c) for c in raw.get("exclude_codes", ())) if c not in known]
    if bad:
        raise ConfigError(f"{path}: unknown Home Office offence code(s) {bad}")
    return Definition(
        name=str(raw["name"]),
        title=str(raw["title"]),
        short_title=str(raw.get("short_title", raw["title"])),
        description=" ".join(str(raw["description"]).split()),
        source=" ".join(str(raw["source"]).split()),
        offence_codes=codes,
        exclude_codes=tuple(str(c) for c in raw.get("exclude_codes", ())),
        conditions=dict(conditions),
    )


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

    def need(col: str) -> pd.Series:
        if col not in frame.columns:
            raise DataValidationError(f"definition '{d.name}' needs this column", column=col)
        return frame[col]

    codes = need("ho_offence_code").astype("string")
    mask = codes.isin(d.offence_codes) & ~codes.isin(d.exclude_codes)
    cond = d.conditions
    if "knife_flag" in cond:
        mask &= need("knife_flag").astype("boolean").fillna(False) == bool(cond["knife_flag"])
    if "domestic_flag" in cond:
        # unknown domestic status counts as "not flagged", as in force systems
        mask &= need("domestic_flag").astype("boolean").fillna(False) == bool(cond["domestic_flag"])
    if "victim_age" in cond:
        lo, hi = d.age_range
        if "victim_age" in frame.columns:
            age = frame["victim_age"].astype("Float64")
            ok = age.notna()
            if lo is not None:
                ok &= age >= lo
            if hi is not None:
                ok &= age <= hi
            mask &= ok.fillna(False)
        elif "victim_under_25" in frame.columns and lo in (None, 0) and hi == 24:
            mask &= frame["victim_under_25"].astype("boolean").fillna(False)
        else:
            raise DataValidationError(f"definition '{d.name}' needs victim ages", column="victim_age")
    return mask.fillna(False).astype(bool)


def apply_definition(frame: pd.DataFrame, definition: Definition | str) -> pd.DataFrame:
    """The rows of ``frame`` that meet ``definition`` (a name or a :class:`Definition`)."""
    return frame.loc[definition_mask(frame, definition)]
