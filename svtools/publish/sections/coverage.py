"""Which fields a dataset holds, and how a section says so: the field coverage of a dataset (cached once per
process), the names sections use for a field that is not recorded, and the one way a page states how complete
a field is (:func:`known_phrase`, from two published counts).

Unknown is never zero: a section whose field is absent says so in one line and shows no table of zeros; a
section whose field is partly known gives its numbers of the records that know it, with the share that do.
:class:`~svtools.publish.sections.context.ProfileContext` reads :func:`coverage` once (``ctx.coverage``) and
answers ``ctx.field_status(field)`` and ``ctx.known_share(field)`` from it and from the records it holds.
"""

from __future__ import annotations

import functools

import pandas as pd

__all__ = ["FIELD_PHRASES", "HEADER_FIELDS", "coverage", "known_pct", "known_phrase"]

#: How each field is named in the one line a section shows when the dataset does not record it, and what
#: that line says cannot be given.
FIELD_PHRASES = {
    "victim_age": "Victim ages",
    "suspect_age": "Suspect ages",
    "occurred_hour": "Times of day",
    "victim_under_25": "Victim ages",
}
#: The fields a page header lists when the dataset does not record them.
HEADER_FIELDS = ("victim_age", "suspect_age", "occurred_hour")


@functools.lru_cache(maxsize=16)
def _coverage_cached(dataset: str, digest: str) -> dict:
    from svtools.ingest.store import dataset_dir, dataset_info, field_coverage

    if "fields" in dataset_info(dataset):
        return field_coverage(dataset)
    # An older dataset: the null counts in the parquet footers give the same figures without reading every
    # record (field_coverage reads the whole dataset, which a batch kernel should not do for a big force).
    return _footer_coverage(dataset_dir(dataset) / "records") or field_coverage(dataset)


def _footer_coverage(path) -> dict | None:
    """``field_coverage`` from the row-group statistics of the record files; None when any are missing."""
    import pyarrow.parquet as pq

    known: dict[str, int] = {}
    rows = 0
    for f in sorted(path.rglob("*.parquet")):
        meta = pq.ParquetFile(f).metadata
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                col = group.column(c)
                stats = col.statistics
                if stats is None or not stats.has_null_count:
                    return None
                name = col.path_in_schema.split(".")[0]
                known[name] = known.get(name, 0) + group.num_rows - stats.null_count
    if not rows:
        return None
    return {name: {"recorded": k > 0, "known": int(k), "rows": rows, "share_known": (k / rows) if k else None}
            for name, k in known.items()}


def coverage(dataset: str) -> dict:
    """:func:`svtools.ingest.store.field_coverage` of ``dataset`` (``{field: {"recorded", "known", "rows",
    "share_known"}}``), read once per process for each content digest of the dataset."""
    from svtools.publish.tables import _digest

    return _coverage_cached(dataset, _digest(dataset))


def known_phrase(total, unknown, noun: str = "age", of: str = "victims") -> str:
    """How complete a field is, from two PUBLISHED counts (cells of the gate): "age recorded for 86% of victims".

    ``total`` is the published count of records and ``unknown`` the published count of those that do not
    know the field (None or NaN where the gate hides it). Disclosure (``docs/disclosure.md``, derived numbers):

    * both published: the share adds nothing to what someone holding the two cells already has. It is rounded
      to a whole percent, and never shown as 100% or 0% when it is not exactly that ("over 99%",
      "under 1%");
    * ``unknown`` hidden: no number ("age not recorded for some victims, too few to show"). A share with a
      visible total would narrow the hidden count (of 40 records, "98%" says the hidden cell is 1), and even a
      banded share would narrow it for small totals, so none is given;
    * ``total`` hidden, ``unknown`` published: the published count itself, no share;
    * nothing unknown (a published 0): "" (a complete field needs no caveat).

    Pages never show the unpublished :meth:`ProfileContext.known_share`, nor a dataset-level share: a
    section's share is always that of its own published cells.
    """
    hidden_total = total is None or pd.isna(total)
    hidden_unknown = unknown is None or pd.isna(unknown)
    if not hidden_unknown and int(unknown) == 0:
        return ""
    if hidden_unknown:
        return f"{noun} not recorded for some {of}, too few to show"
    if hidden_total:
        return f"{noun} not recorded for {int(unknown):,} {of}"
    if int(total) <= 0:
        return ""
    if int(unknown) >= int(total):
        return f"{noun} not recorded for any {of}"
    return f"{noun} recorded for {known_pct(total, unknown)} of {of}"


def known_pct(total, unknown) -> str:
    """The share of ``total`` records that know a field, as a whole percent from two published counts ("86%";
    "over 99%" and "under 1%" rather than a rounded 100% or 0%); "" when either count is hidden or the total
    is 0. See :func:`known_phrase` for why nothing is shown when a count is hidden."""
    if total is None or unknown is None or pd.isna(total) or pd.isna(unknown) or float(total) <= 0:
        return ""
    pct = 100.0 * (float(total) - float(unknown)) / float(total)
    if 99.5 <= pct < 100:
        return "over 99%"
    if 0 < pct < 0.5:
        return "under 1%"
    return f"{pct:.0f}%"
