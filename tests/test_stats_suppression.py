"""Tests for svtools.analysis.stats.suppression.

Expected results follow from the rules themselves (primary: 1..threshold hidden, 0 shown; secondary: no
single row or column with a published total may have exactly one hidden entry). The brute-force checker
below attacks every row and column by subtraction, independently of the implementation.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svtools.config import disclosure_threshold
from svtools.analysis.stats import assert_no_small_counts, suppress, suppressed_mask

suppression_module = importlib.import_module("svtools.analysis.stats.suppression")


def with_totals(body: pd.DataFrame, total_label="Total", total_col="total") -> pd.DataFrame:
    """Add a column of row totals and a row of column totals to a body of counts."""
    t = body.copy()
    t[total_col] = t.sum(axis=1)
    t.loc[total_label] = t.sum(axis=0)
    return t


def recoverable_cells(original: pd.DataFrame, published: pd.DataFrame, total_row, total_col, marker="*"):
    """Brute force: every hidden entry that one row or one column reveals by subtraction or addition.

    For each line (a body row with its row total, a body column with its column total, the totals row and
    the totals column with the grand total), if exactly one entry is hidden it equals the published total
    minus the visible cells (or the sum of the cells, if the total is the hidden one). Returns
    [(row, column, recovered value, true value)].
    """
    cols = [c for c in original.columns if c != total_col]
    rows = [r for r in original.index if r != total_row]
    lines = [([(r, c) for c in cols], (r, total_col)) for r in rows]
    lines += [([(r, c) for r in rows], (total_row, c)) for c in cols]
    lines += [([(total_row, c) for c in cols], (total_row, total_col)),
              ([(r, total_col) for r in rows], (total_row, total_col))]
    found = []
    for cells, total in lines:
        hidden = [e for e in cells + [total] if published.at[e] == marker]
        if len(hidden) != 1:
            continue
        (r, c), = hidden
        if hidden[0] == total:
            value = sum(published.at[e] for e in cells)
        else:
            value = published.at[total] - sum(published.at[e] for e in cells if e != hidden[0])
        found.append((r, c, value, original.at[r, c]))
    return found


def test_docstring_examples():
    assert doctest.testmod(suppression_module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_primary_suppression_default_police_threshold():
    """Counts 1..4 hidden for police data (config threshold), 0 and 5+ shown; a new object-dtype frame."""
    assert disclosure_threshold("police") == 4
    table = pd.DataFrame({"area": list("ABCDEFG"), "n": [0, 1, 2, 3, 4, 5, 100]})
    out = suppress(table)
    assert out["n"].tolist() == [0, "*", "*", "*", "*", 5, 100]
    assert out["area"].tolist() == list("ABCDEFG")
    assert (out.dtypes == object).all()
    assert table["n"].tolist() == [0, 1, 2, 3, 4, 5, 100]  # input untouched


def test_hes_threshold_and_explicit_threshold():
    table = pd.DataFrame({"n": [3, 7, 8]})
    assert suppress(table, kind="hes")["n"].tolist() == ["*", "*", 8]
    assert disclosure_threshold("hes") == 7
    assert suppress(table, threshold=2)["n"].tolist() == [3, 7, 8]
    assert suppress(table, threshold=2, marker="[c]")["n"].tolist() == [3, 7, 8]
    assert suppress(pd.DataFrame({"n": [1]}), marker="[c]")["n"].tolist() == ["[c]"]


def test_already_suppressed_inputs_stay_suppressed():
    """NaN, "*", blank and "c" from a source are unknown values: hidden, never shown as 0."""
    table = pd.DataFrame({"n": [np.nan, "*", "", "c", 12, 0]}, index=list("abcdef"))
    out = suppress(table, count_columns=["n"])
    assert out["n"].tolist() == ["*", "*", "*", "*", 12, 0]
    assert suppressed_mask(table, count_columns=["n"])["n"].tolist() == [True] * 4 + [False, False]


def test_secondary_suppression_in_row_and_column():
    """One small cell with row and column totals: a second cell in its row and in its column is hidden."""
    body = pd.DataFrame({"violence": [25, 3, 40], "robbery": [6, 12, 31], "weapons": [9, 15, 20]},
                        index=["Ward A", "Ward B", "Ward C"])
    table = with_totals(body)
    out = suppress(table, total_row="Total", total_column="total")
    assert out.at["Ward B", "violence"] == "*"
    assert out.at["Ward B", "robbery"] == "*"        # next smallest non-zero in row B (12 < 15)
    assert out.at["Ward A", "violence"] == "*"       # next smallest in the violence column (25 < 40)
    assert out.at["Ward A", "robbery"] == "*"        # then row A needs a second hidden cell (6 < 9)
    assert recoverable_cells(table, out, "Total", "total") == []
    assert_no_small_counts(out, 4)


def test_brute_force_checker_detects_primary_only_leak():
    """Self-test of the checker: with primary suppression only, subtraction recovers the hidden cell."""
    table = with_totals(pd.DataFrame({"a": [3, 10], "b": [12, 11]}))
    primary_only = suppress(table)  # no totals declared, so no secondary suppression
    assert (0, "a", 3, 3) in recoverable_cells(table, primary_only, "Total", "total")


def test_small_total_is_suppressed_and_protected():
    """A row total in 1..threshold is hidden; then its cells and the totals column are protected too."""
    body = pd.DataFrame({"m": [2, 30, 18], "f": [1, 25, 14]}, index=["x", "y", "z"])
    table = with_totals(body)
    out = suppress(table, total_row="Total", total_column="total")
    assert out.at["x", "total"] == "*"
    assert recoverable_cells(table, out, "Total", "total") == []
    assert_no_small_counts(out, 4)


def test_zero_row_with_one_hidden_cell():
    """Row: 0, 0, 3 with total 3 -> total is hidden too (no non-zero cell to use)."""
    table = with_totals(pd.DataFrame({"a": [0, 10, 20], "b": [0, 11, 22], "c": [3, 12, 24]}))
    out = suppress(table, total_row="Total", total_column="total")
    assert out.at[0, "c"] == "*" and out.at[0, "total"] == "*"
    assert out.at[0, "a"] == 0 and out.at[0, "b"] == 0
    assert recoverable_cells(table, out, "Total", "total") == []


def test_duplicate_row_labels_are_fine():
    """Rows are handled by position: repeated labels (e.g. months of two years) do not matter."""
    table = pd.DataFrame({"n": [3, 10, 12, 25], "m": [9, 9, 8, 26]}, index=["Jan", "Feb", "Jan", "Total"])
    out = suppress(table, total_row="Total")
    assert out["n"].tolist() == ["*", "*", 12, 25]
    assert list(out.index) == ["Jan", "Feb", "Jan", "Total"]
    with pytest.raises(ValueError, match="total_row"):
        suppress(table, total_row="Jan")


def test_no_totals_means_primary_only():
    table = pd.DataFrame({"a": [3, 10], "b": [12, 11]})
    assert suppress(table)["b"].tolist() == [12, 11]
    assert suppress(table)["a"].tolist() == ["*", 10]


def test_column_total_only():
    table = pd.DataFrame({"n": [2, 40, 55, 97]}, index=["A", "B", "C", "Total"])
    out = suppress(table, total_row="Total")
    assert out["n"].tolist() == ["*", "*", 55, 97]


def test_rates_follow_their_counts():
    table = pd.DataFrame({"events": [3, 40, 0], "population": [1500, 9000, 2000],
                          "rate_per_1000": [2.0, 4.444, 0.0]}, index=["A", "B", "C"])
    out = suppress(table, count_columns=["events"], rate_columns={"rate_per_1000": "events"})
    assert out["rate_per_1000"].tolist() == ["*", 4.444, 0.0]
    assert out["population"].tolist() == [1500, 9000, 2000]
    mask = suppressed_mask(table, count_columns=["events"], rate_columns={"rate_per_1000": "events"})
    assert mask.loc["A"].tolist() == [True, False, True]


def test_default_count_columns_skip_labels_and_rates():
    table = pd.DataFrame({"code": ["E05000001", "E05000002"], "n": [2, "*"], "pct": [10.0, 3.0]})
    out = suppress(table, rate_columns={"pct": "n"})
    assert out["code"].tolist() == ["E05000001", "E05000002"]
    assert out["n"].tolist() == ["*", "*"]
    assert out["pct"].tolist() == ["*", "*"]


def test_assert_no_small_counts_names_the_cell():
    frame = pd.DataFrame({"n": [10, 2, "*"], "m": [0, 7, 8]}, index=["Hartlepool", "Stockton", "Redcar"])
    with pytest.raises(AssertionError, match="row 'Stockton', column 'n' = 2"):
        assert_no_small_counts(frame, 4)
    with pytest.raises(AssertionError, match="column 'm'"):
        assert_no_small_counts(frame, 7, columns=["m"])
    assert_no_small_counts(frame, 4, columns=["m"])
    with pytest.raises(ValueError, match="not in frame"):
        assert_no_small_counts(frame, 4, columns=["x"])


@pytest.mark.parametrize("kwargs, match", [
    ({"total_row": "nope"}, "total_row"),
    ({"total_column": "nope"}, "total_column"),
    ({"count_columns": ["nope"]}, "count_columns"),
    ({"rate_columns": {"r": "n"}}, "rate column"),
    ({"threshold": -1}, "threshold"),
    ({"threshold": 2.5}, "threshold"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        suppress(pd.DataFrame({"n": [1, 2]}), **kwargs)


def test_negative_or_unreadable_counts():
    with pytest.raises(ValueError, match="negative"):
        suppress(pd.DataFrame({"n": [-1, 2]}))
    with pytest.raises(ValueError, match="column 'n'"):
        suppress(pd.DataFrame({"n": ["ten", 2]}), count_columns=["n"])


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n_rows=st.integers(1, 6), n_cols=st.integers(1, 5),
       threshold=st.sampled_from([4, 7]))
def test_property_no_small_visible_and_no_single_line_recovery(data, n_rows, n_cols, threshold):
    """Property: on random tables with row and column totals (some cells pre-suppressed), no visible cell
    is in 1..threshold, every primary cell is hidden, visible values are unchanged, and no row or column
    reveals a hidden entry by subtraction."""
    values = data.draw(st.lists(st.lists(st.one_of(st.integers(0, 12), st.integers(0, 300)),
                                         min_size=n_cols, max_size=n_cols), min_size=n_rows, max_size=n_rows))
    body = pd.DataFrame(values, columns=[f"c{i}" for i in range(n_cols)],
                        index=[f"r{i}" for i in range(n_rows)])
    table = with_totals(body)
    source = table.astype(object)
    cell = st.tuples(st.sampled_from(list(body.index)), st.sampled_from(list(body.columns)))
    pre = data.draw(st.lists(cell, max_size=2))
    for r, c in pre:
        source.at[r, c] = "*"  # suppressed by the data supplier
    out = suppress(source, threshold=threshold, total_row="Total", total_column="total")

    assert_no_small_counts(out, threshold)
    numeric = table.to_numpy()
    shown = out.to_numpy()
    for (i, j), v in np.ndenumerate(numeric):
        if 0 < v <= threshold:
            assert shown[i, j] == "*"
        elif shown[i, j] != "*":
            assert shown[i, j] == v
    for r, c in pre:
        assert out.at[r, c] == "*"
    assert recoverable_cells(table, out, "Total", "total") == []
