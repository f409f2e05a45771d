"""Read the YAML configuration in ``config/``: settings, column mappings and definitions.

Everything that is a choice rather than a computation (thresholds, colours, periods, offence lists,
column names) lives in ``config/`` and is read through this module, so there is one source of truth.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from svtools.errors import ConfigError
from svtools.paths import CONFIG

__all__ = ["settings", "read_yaml", "palette", "disclosure_threshold"]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML file into a dict, with a clear error naming the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


@lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    """Project-wide settings from ``config/settings.yaml`` (cached)."""
    return read_yaml(CONFIG / "settings.yaml")


def palette() -> dict[str, Any]:
    """The colour-blind-safe palette (Okabe-Ito) used by every chart."""
    return settings()["palette"]


def disclosure_threshold(kind: str = "police") -> int:
    """Largest count that is hidden in published tables (``police``: 4, ``hes``: 7 by default)."""
    key = f"{kind}_threshold"
    try:
        return int(settings()["disclosure"][key])
    except KeyError:
        raise ConfigError(f"config/settings.yaml: disclosure has no '{key}'") from None
