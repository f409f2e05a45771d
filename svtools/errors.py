"""A small exception hierarchy that carries context (file, column, example rows).

Every error raised on bad input names the file, the column and a few example rows, so an analyst can
find and fix the problem without reading a traceback. The CLI prints ``str(error)`` on one line and
exits non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SvtoolsError", "DataValidationError", "MissingAreaError", "ConfigError"]


class SvtoolsError(Exception):
    """Base class for every error svtools raises on purpose."""


class ConfigError(SvtoolsError):
    """A configuration file (definition, mapping, settings) is missing or malformed."""


class DataValidationError(SvtoolsError):
    """Input data break their contract.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The input file (or folder) the data came from.
    column : str, optional
        The column at fault, as named in the source file where that is known.
    examples : sequence, optional
        A few offending values or rows (at most five are shown).
    n_bad : int, optional
        How many rows are affected.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        examples: Sequence | None = None,
        n_bad: int | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.column = column
        self.examples = list(examples)[:5] if examples is not None else []
        self.n_bad = n_bad
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:")
        if self.column:
            parts.append(f"column '{self.column}':")
        parts.append(self.message)
        if self.n_bad is not None:
            parts.append(f"({self.n_bad:,} rows)")
        if self.examples:
            parts.append("e.g. " + "; ".join(repr(e) for e in self.examples))
        return " ".join(parts)


class MissingAreaError(SvtoolsError):
    """A CSP or force code was asked for that the data or the lookups do not have."""

    def __init__(self, code: str, known: Sequence[str] = ()) -> None:
        self.code = code
        hint = f" Known codes include {', '.join(list(known)[:5])}." if known else ""
        super().__init__(f"no area with code '{code}'.{hint}")
