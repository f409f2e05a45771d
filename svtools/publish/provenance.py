"""What a page says about its data: the dataset's name, its source, whether it is synthetic, the fields it does
not record, and the data vintage shown under "About this report".

Everything here comes from ``dataset.json`` (:func:`svtools.ingest.store.dataset_info`) and the field coverage
(:func:`svtools.ingest.store.field_coverage`). No machine path is ever shown: ``source`` in ``dataset.json`` may
be the absolute folder the extract was read from, so a page names the source by its description
(``sources``), else by the mapping it was read with, else by its schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd

from svtools.errors import SvtoolsError

__all__ = ["data_vintage", "dataset_facts", "source_label"]

_SCHEMA_LABELS = {
    "police_extract": "Police record-level crime extract",
    "police_uk": "data.police.uk street-level crime (Home Office, OGL v3.0)",
}


def period_label(start, end) -> str:
    """``("2018-04-01", "2025-03-31")`` -> ``"April 2018 to March 2025"``."""
    return f"{pd.Timestamp(start):%B %Y} to {pd.Timestamp(end):%B %Y}"


def _is_path(text: str) -> bool:
    """True for text that names a place on a machine (``/data/raw``, ``C:\\extracts``, ``~/x``, ``./x``)."""
    t = text.strip()
    return (PurePosixPath(t).is_absolute() or PureWindowsPath(t).is_absolute() or bool(PureWindowsPath(t).drive)
            or t.startswith(("~", "./", "../", ".\\", "..\\")))


def source_label(info: Mapping[str, Any]) -> str:
    """The source of a dataset in words, never a machine path.

    The first ``sources`` entry when there is one; else ``source`` (the ingest writes the mapping's source
    label there, but datasets ingested before that hold the absolute folder the extract was read from, which
    is never shown) or the schema, followed by the mapping it was read with: "Police record-level crime extract
    (read with the 'demo_extract' mapping)".
    """
    sources = [str(s) for s in info.get("sources") or [] if str(s).strip()]
    if sources:
        return sources[0]
    source = str(info.get("source") or "").strip()
    label = source if source and not _is_path(source) else \
        _SCHEMA_LABELS.get(str(info.get("schema") or ""), "Crime records")
    mapping = info.get("mapping")
    return f"{label} (read with the '{mapping}' mapping)" if mapping and mapping not in label else label


def dataset_facts(dataset: str, info: Mapping[str, Any]) -> dict[str, Any]:
    """The header's facts about the data: ``dataset_name``, ``dataset_kind`` (synthetic or not),
    ``source_label`` and ``fields_not_recorded`` (victim ages, suspect ages, times of day the dataset does not
    record; record-level extracts only, as data.police.uk pages already say what that source lacks)."""
    from svtools.publish.sections.coverage import FIELD_PHRASES, HEADER_FIELDS, coverage
    from svtools.analysis.fields import field_columns

    missing: list[str] = []
    if info.get("schema") != "police_uk":
        try:
            cov = coverage(dataset)
        except (SvtoolsError, OSError, ValueError):  # coverage unreadable: the header lists nothing
            cov = None
        if cov is not None:
            missing = [FIELD_PHRASES[f].lower() for f in HEADER_FIELDS
                       if not any(bool((cov.get(c) or {}).get("recorded")) for c in field_columns(f))]
    synthetic = bool(info.get("synthetic"))
    return {
        "dataset_name": str(info.get("dataset") or dataset),
        "dataset_kind": "synthetic demo data, not real crime figures" if synthetic else "real data",
        "source_label": source_label(info),
        "fields_not_recorded": missing,
    }


def data_vintage(info: Mapping[str, Any]) -> dict[str, str]:
    """The "Data vintage" list of a page's About section (file names and digests, never their folders)."""
    files = info.get("input_files") or {}
    shown = [f"{name} (sha256 {str(digest)[:12]})" for name, digest in sorted(files.items())[:6]]
    if len(files) > 6:
        shown.append(f"and {len(files) - 6} more files")
    out = {
        "Dataset": f"{info.get('dataset', '?')}" + (" (synthetic)" if info.get("synthetic") else ""),
        "Source": source_label(info),
        "Records cover": period_label(info["period_start"], info["period_end"]) if info.get("period_start") else "",
        "Input files": "; ".join(shown),
        "Geography": str(info.get("geography", "")),
        "Processed with": f"svtools {info.get('svtools_version', '?')}",
    }
    return {k: v for k, v in out.items() if v}
