"""Statistical disclosure control for published tables: primary and secondary suppression of small counts.

Disclosure control is a publication decision, not part of PHEindicatormethods. The rules here follow common
UK official-statistics practice for police and hospital data: counts from 1 to the threshold are hidden
(primary suppression; zeros are shown), and further cells are hidden (secondary suppression) wherever a
hidden count could be recovered by subtracting the visible cells of a row or column from its published
total. The thresholds come from ``config/settings.yaml`` via :func:`svtools.config.disclosure_threshold`
(police recorded crime: counts of 1-4 hidden; Hospital Episode Statistics: 1-7).

References
----------
Office for National Statistics. *Statistical disclosure control* guidance (GSS), including the policy for
tables of counts.

NHS Digital. *Hospital Episode Statistics (HES) analysis guide*: suppression of small numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from svtools.config import disclosure_threshold

__all__ = ["suppress", "suppressed_mask", "assert_no_small_counts"]

#: Entries that mean "already suppressed / not available" in a source table (besides NaN and the marker).
SUPPRESSED_TOKENS = frozenset({"*", "", "c", "[c]", "x", "[x]", "..", ":", "-", "~"})


def suppress(table: pd.DataFrame, count_columns=None, threshold: int | None = None, kind: str = "police",
             total_row=None, total_column=None, rate_columns: dict | None = None,
             marker: str = "*") -> pd.DataFrame:
    """Copy of a table for publication with small counts and recoverable cells replaced by a marker.

    Parameters
    ----------
    table : pandas.DataFrame
        The table: one row per category (area, month ...), count columns, optional label and rate columns,
        optionally a row of column totals and/or a column of row totals. Entries that are NaN, the marker
        or another suppression token (``"*"``, ``"c"``, ``"x"``, ``".."``, blank ...) are treated as already
        suppressed by the source and stay hidden; they are never shown as 0.
    count_columns : list, optional
        Columns holding counts (including ``total_column``). Default: every column other than the rate
        columns whose entries are all numbers or suppression tokens (at least one number).
    threshold : int, optional
        Largest count that is hidden. Default ``disclosure_threshold(kind)``.
    kind : str, default "police"
        Threshold set to use from the configuration ("police": 4, "hes": 7 as configured).
    total_row : label, optional
        Index label of the row that holds the column totals (published).
    total_column : label, optional
        Name of the column that holds the row totals (published).
    rate_columns : dict, optional
        ``{rate_column: count_column}``; a rate (or percentage) is hidden wherever its count is hidden.
    marker : str, default "*"
        What hidden cells show.

    Returns
    -------
    pandas.DataFrame
        A new table of object dtype, same shape, index and columns: visible counts as int (float if not
        whole), hidden cells as ``marker``; other columns unchanged.

    Raises
    ------
    ValueError
        If a named column, row or rate mapping is not in the table, a count is negative or the threshold is
        not a non-negative integer.

    Notes
    -----
    1. Primary: every count cell (body, totals and grand total alike) with 0 < count <= threshold is hidden.
    2. Secondary: the table is split into *lines*, each a set of cells with a published total - each body
       row with its row total, each body column with its column total, and the totals row and totals column
       with the grand total. While some line has exactly one hidden entry among its cells and its total,
       that entry could be recovered by subtraction (or the hidden total by addition), so the smallest
       visible non-zero cell of the line is hidden as well (if the line has none: its total if visible,
       else its smallest visible cell, even a zero). This repeats until no line has exactly one hidden entry.
    3. Rates follow their counts.

    Without ``total_row`` and ``total_column`` there are no published totals and only primary suppression
    applies. The guarantee is against recovery from any single row or column; it is not a full
    linear-programming audit of combinations of rows and columns (rare in small profile tables).

    Examples
    --------
    B's 3 is hidden (primary); then B's 9, as row B has a published total; then A's 10, the next smallest in
    the male column (which has a total); then A's 12 so that row A has two hidden cells.

    >>> t = pd.DataFrame({"male": [10, 3, 20, 33], "female": [12, 9, 15, 36],
    ...                   "total": [22, 12, 35, 69]}, index=["A", "B", "C", "Total"])
    >>> print(suppress(t, total_row="Total", total_column="total"))
          male female total
    A        *      *    22
    B        *      *    12
    C       20     15    35
    Total   33     36    69
    """
    plan = _plan(table, count_columns, threshold, kind, total_row, total_column, rate_columns, marker)
    hidden = _solve(plan)
    out = table.astype(object).copy()
    for c in plan.count_columns:
        shown = [marker if h else _display(v) for v, h in zip(plan.values[c], hidden[c])]
        out[c] = _object_array(shown)
    for rate_col, count_col in plan.rate_columns.items():
        col = table[rate_col].astype(object).to_numpy()
        out[rate_col] = _object_array(np.where(hidden[count_col].to_numpy(), marker, col))
    return out


def suppressed_mask(table: pd.DataFrame, count_columns=None, threshold: int | None = None,
                    kind: str = "police", total_row=None, total_column=None,
                    rate_columns: dict | None = None) -> pd.DataFrame:
    """Boolean frame (same shape as ``table``) that is True where :func:`suppress` hides a cell.

    Parameters are as for :func:`suppress`. Columns that are neither counts nor rates are all False.

    Examples
    --------
    >>> t = pd.DataFrame({"n": [2, 40, 42]}, index=["A", "B", "Total"])
    >>> suppressed_mask(t, total_row="Total")["n"].tolist()
    [True, True, False]
    """
    plan = _plan(table, count_columns, threshold, kind, total_row, total_column, rate_columns)
    hidden = _solve(plan)
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    for c in plan.count_columns:
        mask[c] = hidden[c].to_numpy()  # positional
    for rate_col, count_col in plan.rate_columns.items():
        mask[rate_col] = hidden[count_col].to_numpy()
    return mask


def assert_no_small_counts(frame: pd.DataFrame, threshold: int, columns=None) -> None:
    """Raise AssertionError if any visible cell holds a count from 1 to ``threshold``.

    For tests of published outputs. Markers and other non-numeric entries are ignored.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as published (e.g. the output of :func:`suppress`).
    threshold : int
        Largest count that must not be visible.
    columns : list, optional
        Columns to check (default all). Include only count columns: a rate of 3.2 per 1,000 is not a count.

    Raises
    ------
    AssertionError
        Naming the first offending cells (row label, column, value).

    Examples
    --------
    >>> assert_no_small_counts(pd.DataFrame({"n": ["*", 12, 0]}), 4)
    >>> assert_no_small_counts(pd.DataFrame({"n": [3, 12]}, index=["A", "B"]), 4)
    Traceback (most recent call last):
    ...
    AssertionError: 1 visible count(s) from 1 to 4: row 'A', column 'n' = 3
    """
    cols = list(frame.columns) if columns is None else list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not in frame: {missing}")
    bad = []
    for c in cols:
        num = pd.to_numeric(frame[c].astype(object).where(frame[c].map(_is_number), np.nan), errors="coerce")
        hits = (num > 0) & (num <= threshold)
        bad.extend((r, c, frame.at[r, c]) for r in frame.index[hits.to_numpy()])
    if bad:
        shown = "; ".join(f"row {r!r}, column {c!r} = {v}" for r, c, v in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise AssertionError(f"{len(bad)} visible count(s) from 1 to {threshold}: {shown}{more}")


# ---------------------------------------------------------------------------------------------------------
# Internal helpers
# ---------------------------------------------------------------------------------------------------------

@dataclass
class _Plan:
    values: pd.DataFrame          # float counts by row position, NaN where the source had suppressed
    primary: pd.DataFrame         # bool: hidden before secondary suppression
    lines: list                   # list of (cells, total) with cells a list of (row, col)
    count_columns: list
    rate_columns: dict


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not pd.isna(v)


def _is_token(v) -> bool:
    return (isinstance(v, str) and v.strip() in SUPPRESSED_TOKENS) or v is None or (
        isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT


def _to_count(v, marker: str | None = None) -> float:
    """A cell as a float count, NaN if suppressed upstream; raises for other text."""
    if _is_number(v):
        return float(v)
    if _is_token(v) or (marker is not None and v == marker):
        return np.nan
    if isinstance(v, str):
        try:
            return float(v.replace(",", ""))
        except ValueError:
            pass
    raise ValueError(f"cannot read {v!r} as a count")


def _default_count_columns(table: pd.DataFrame, exclude) -> list:
    cols = []
    for c in table.columns:
        if c in exclude:
            continue
        vals = table[c].tolist()
        try:
            nums = [_to_count(v) for v in vals]
        except ValueError:
            continue
        if any(not np.isnan(x) for x in nums):
            cols.append(c)
    return cols


def _plan(table, count_columns, threshold, kind, total_row, total_column, rate_columns,
          marker: str = "*") -> _Plan:
    if not isinstance(table, pd.DataFrame):
        raise ValueError("table must be a pandas DataFrame")
    if table.columns.has_duplicates:
        raise ValueError("table must have unique column names")
    if threshold is None:
        threshold = disclosure_threshold(kind)
    if isinstance(threshold, bool) or not float(threshold).is_integer() or threshold < 0:
        raise ValueError(f"threshold must be a non-negative integer, got {threshold!r}")
    rate_columns = dict(rate_columns or {})
    for r, c in rate_columns.items():
        if r not in table.columns:
            raise ValueError(f"rate_columns: rate column {r!r} is not in the table")
        if c not in table.columns:
            raise ValueError(f"rate_columns: count column {c!r} (for {r!r}) is not in the table")
    if count_columns is None:
        count_columns = _default_count_columns(table, set(rate_columns))
    else:
        count_columns = list(count_columns)
        missing = [c for c in count_columns if c not in table.columns]
        if missing:
            raise ValueError(f"count_columns not in table: {missing}")
    if total_column is not None and total_column not in table.columns:
        raise ValueError(f"total_column {total_column!r} is not a column of the table")
    if total_column is not None and total_column not in count_columns:
        count_columns.append(total_column)
    total_pos = None
    if total_row is not None:
        try:
            total_pos = table.index.get_loc(total_row)
        except (KeyError, TypeError):
            total_pos = None
        if not isinstance(total_pos, (int, np.integer)):
            raise ValueError(f"total_row {total_row!r} is not a (unique) row label of the table")
    for r, c in rate_columns.items():
        if c not in count_columns:
            raise ValueError(f"rate_columns: {c!r} (for {r!r}) is not a count column")

    # work by row position, so duplicate row labels elsewhere in the table are harmless
    parsed = {}
    for c in count_columns:
        try:
            parsed[c] = np.array([_to_count(v, marker) for v in table[c].tolist()], dtype=float)
        except ValueError as exc:
            raise ValueError(f"column {c!r}: {exc}") from None
        if (parsed[c] < 0).any():
            raise ValueError(f"column {c!r} has negative counts")
    values = pd.DataFrame(parsed, index=pd.RangeIndex(len(table)), columns=count_columns, dtype=float)
    v = values.to_numpy()
    primary = pd.DataFrame(np.isnan(v) | ((v > 0) & (v <= threshold)), index=values.index,
                           columns=count_columns)

    body_rows = [r for r in range(len(table)) if r != total_pos]
    body_cols = [c for c in count_columns if c != total_column]
    lines = []
    if total_column is not None:
        lines += [([(r, c) for c in body_cols], (r, total_column)) for r in body_rows]
    if total_pos is not None:
        lines += [([(r, c) for r in body_rows], (total_pos, c)) for c in body_cols]
    if total_pos is not None and total_column is not None:
        lines.append(([(total_pos, c) for c in body_cols], (total_pos, total_column)))
        lines.append(([(r, total_column) for r in body_rows], (total_pos, total_column)))
    return _Plan(values, primary, lines, count_columns, rate_columns)


def _solve(plan: _Plan) -> pd.DataFrame:
    """Apply secondary suppression until no line has exactly one hidden entry."""
    col_pos = {c: j for j, c in enumerate(plan.values.columns)}
    hidden = plan.primary.to_numpy(dtype=bool).copy()
    value = plan.values.to_numpy(dtype=float)
    lines = [([(r, col_pos[c]) for r, c in cells], (total[0], col_pos[total[1]]))
             for cells, total in plan.lines]
    changed = True
    while changed:
        changed = False
        for cells, total in lines:
            if sum(hidden[e] for e in cells) + hidden[total] != 1:
                continue
            visible = [e for e in cells if not hidden[e]]
            nonzero = [e for e in visible if value[e] > 0]
            if nonzero:
                pick = min(nonzero, key=lambda e: value[e])  # first of equal smallest
            elif not hidden[total]:
                pick = total
            elif visible:
                pick = visible[0]
            else:  # pragma: no cover - a line of only the hidden entry cannot have one hidden entry left
                continue
            hidden[pick] = True
            changed = True
    return pd.DataFrame(hidden, index=plan.values.index, columns=plan.values.columns)


def _object_array(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _display(v: float):
    if np.isnan(v):  # pragma: no cover - NaN cells are always hidden
        return v
    return int(v) if float(v).is_integer() else float(v)
