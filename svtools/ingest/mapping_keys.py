"""Checking the keys of a mapping file: unknown keys are errors with a "did you mean".

Shared by every mapping kind (records, police_uk, counts), so a misspelt key (``value:`` for ``values:``) is
never silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from svtools.errors import ConfigError

__all__ = ["check_keys", "did_you_mean"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'values'?)`` for the closest choice, or an empty string when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(entry: Mapping, allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
    """Raise :class:`ConfigError` for keys of ``entry`` not in ``allowed`` or required keys it lacks.

    Parameters
    ----------
    entry : mapping
        One YAML mapping (the whole file, or one field's entry).
    allowed : iterable of str
        The keys this entry may have.
    where : str
        Where the entry is, for the message: ``"config/mappings/x.yaml: fields.victim_age"``.
    required : iterable of str
        Keys it must have.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(entry).__name__} {entry!r}")
    allowed = list(allowed)
    for key in entry:
        if str(key) not in allowed:
            raise ConfigError(f"{where}: unknown key {str(key)!r}{did_you_mean(str(key), allowed)}; "
                              f"allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in entry]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(map(repr, missing))}")
