"""Data-quality measures on small hand-made frames."""

import pandas as pd
import pytest

from svtools.analysis.quality import (completeness_by_month, completeness_summary, exclusions_table, location_quality,
                             reconciliation_table)


@pytest.fixture
def records():
    return pd.DataFrame({
        "month": pd.to_datetime(["2020-01-01"] * 4 + ["2020-02-01"] * 2),
        "victim_id": ["a", "b", None, "c", "d", "e"],
        "victim_age": pd.array([10, None, None, 40, 30, None], dtype="Int16"),
        "occurred_hour": pd.array([1, 2, None, 4, None, None], dtype="Int8"),
        "out_of_force": [False, False, False, True, False, False],
    })


def test_completeness_by_month_judges_victim_fields_on_rows_with_a_victim(records):
    table = completeness_by_month(records)
    assert table.loc["2020-01-01", "records"] == 4
    assert table.loc["2020-01-01", "Victim age known"] == pytest.approx(2 / 3)  # the row with no victim is ignored
    assert table.loc["2020-01-01", "Time of day known"] == pytest.approx(3 / 4)
    assert table.loc["2020-02-01", "Victim age known"] == pytest.approx(1 / 2)


def test_completeness_summary(records):
    s = completeness_summary(records).set_index("field")
    assert s.loc["Victim age known", "known"] == 3 and s.loc["Victim age known", "missing"] == 2
    assert s.loc["Time of day known", "share_known"] == pytest.approx(0.5)


def test_location_quality_adds_up(records):
    excluded = pd.DataFrame({"exclusion_reason": ["unlocated", "unlocated", "unknown_lsoa"],
                             "month": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-02-01"])})
    table = location_quality(records, excluded).set_index("status")
    assert table["records"].tolist() == [5, 1, 2, 1]
    assert table["share"].sum() == pytest.approx(1)
    wide = exclusions_table(excluded)
    assert wide.loc["2020-02-01", "unlocated"] == 1 and wide.loc["2020-01-01", "unknown_lsoa"] == 0


def test_reconciliation_table():
    t = reconciliation_table({"rows_in": 10, "rows_kept": 7, "excluded_by_reason": {"unlocated": 3},
                              "balanced": True})
    assert t["rows"].tolist() == [10, 7, 3, "yes"]
