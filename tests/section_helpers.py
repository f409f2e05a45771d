"""Helpers shared by the section tests: what a section displayed, and checks on what it published."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from svtools import config
from svtools.publish import output as plots
from svtools.publish import sections

CSP = "E22000027"  # Hartlepool
FORCE = "E23000013"  # Cleveland
DEFINITION = "knife_serious_violence"
THRESHOLD = config.disclosure_threshold("police")


def alts(calls) -> list[str]:
    out = []
    for objs, kw in calls:
        meta = kw.get("metadata") or {}
        if "image/png" in meta:
            out.append(meta["image/png"]["alt"])
    return out


def texts(calls) -> list[str]:
    from IPython.display import HTML, Markdown

    return [o.data for objs, _ in calls for o in objs if isinstance(o, (Markdown, HTML))]


def check_published(res: sections.SectionResult, page: Path | None = None) -> None:
    """The published table and every CSV written hold no record-level column and no count 1..threshold."""
    from svtools.analysis.stats import assert_no_small_counts

    if res.table is not None:
        counts = res.table.attrs.get("count_columns")
        plots.check_publishable(res.table, count_columns=counts)
        if counts:
            assert_no_small_counts(res.table, THRESHOLD, columns=counts)
    if page is not None and page.is_dir():
        for csv in page.glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
            assert not set(c.lower() for c in frame.columns) & plots.RECORD_LEVEL_COLUMNS, csv.name


def page_dir() -> Path:
    import os

    return Path(os.environ[plots.PAGE_DIR_ENV])
