"""Local definitions of serious violence, held as data in ``config/definitions/*.yaml``.

A definition names the Home Office offence codes it counts and optional conditions:

* ``knife_flag: true`` - only offences with the Home Office knife or sharp instrument flag;
* ``domestic_flag: false`` - domestic abuse-related offences excluded (``true``: only those);
* ``victim_age: {min: 10, max: 24}`` - victims in an age range (years, inclusive); unknown ages are excluded.

Applying a definition is one function, :func:`apply_definition`, used everywhere (records and monthly counts),
so a partnership that changes its definition changes one YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from svtools.config import read_yaml
from svtools.errors import ConfigError, DataValidationError
from svtools.paths import CONFIG

__all__ = ["Definition", "load_definition", "list_definitions", "apply_definition", "definition_mask"]

DEFINITIONS_DIR = CONFIG / "definitions"
_ALLOWED_CONDITIONS = {"knife_flag", "domestic_flag", "victim_age"}


@dataclass(frozen=True)
class Definition:
    """One local definition of serious violence (see the module docstring for the YAML keys)."""

    name: str
    title: str
    short_title: str
    description: str
    source: str
    offence_codes: tuple[str, ...]
    exclude_codes: tuple[str, ...] = ()
    conditions: dict = field(default_factory=dict)

    @property
    def age_range(self) -> tuple[int | None, int | None]:
        """(min, max) victim age in years, or (None, None) when the definition has no age condition."""
        age = self.conditions.get("victim_age") or {}
        return age.get("min"), age.get("max")


def list_definitions() -> list[str]:
    """Names of the definitions shipped in ``config/definitions``."""
    return sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml"))


@lru_cache(maxsize=32)
def load_definition(name: str | Path) -> Definition:
    """Read and check one definition, by name (``knife_serious_violence``) or path to a YAML file."""
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else DEFINITIONS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no definition '{name}' (known: {', '.join(list_definitions())})")
    raw = read_yaml(path)
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


def definition_mask(frame: pd.DataFrame, definition: Definition | str) -> pd.Series:
    """Boolean Series: True for the rows of ``frame`` that meet ``definition``.

    Works on record-level frames (``victim_age``) and on aggregated counts (``victim_under_25``). A condition
    whose column is absent raises :class:`DataValidationError` rather than being ignored.
    """
    d = load_definition(definition) if isinstance(definition, str) else definition

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
