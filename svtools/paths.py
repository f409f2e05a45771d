"""Absolute paths used everywhere in svtools.

Notebooks and the batch never use relative paths: everything is resolved from the package location, so
papermill's working directory does not matter (see ``../shared/docs/batch_reporting.md`` §6).

The shipped real public data are read in place from ``../shared/data/real`` beside the repository;
set ``SVTOOLS_REAL_DATA`` to point elsewhere. ``SVTOOLS_DATA`` moves ``data/`` (raw and processed) and
``SVTOOLS_OUTPUTS`` moves ``outputs/`` (the tests use both to work in a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ROOT",
    "CONFIG",
    "NOTEBOOKS",
    "data_dir",
    "raw_dir",
    "processed_dir",
    "outputs_dir",
    "real_data_dir",
]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
NOTEBOOKS = ROOT / "notebooks"


def data_dir() -> Path:
    """Folder holding ``raw/`` and ``processed/`` (``SVTOOLS_DATA`` or ``<repo>/data``)."""
    return Path(os.environ.get("SVTOOLS_DATA", ROOT / "data")).resolve()


def raw_dir() -> Path:
    """Read-only inputs: ``<data>/raw``."""
    return data_dir() / "raw"


def processed_dir() -> Path:
    """Validated, typed parquet: ``<data>/processed``."""
    return data_dir() / "processed"


def outputs_dir() -> Path:
    """Published runs: ``SVTOOLS_OUTPUTS`` or ``<repo>/outputs``."""
    return Path(os.environ.get("SVTOOLS_OUTPUTS", ROOT / "outputs")).resolve()


def real_data_dir() -> Path:
    """The shipped real public data (``SVTOOLS_REAL_DATA`` or ``<repo>/../shared/data/real``)."""
    return Path(os.environ.get("SVTOOLS_REAL_DATA", ROOT.parent / "shared" / "data" / "real")).resolve()
