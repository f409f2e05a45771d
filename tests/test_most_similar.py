"""Most-similar CSPs (svtools.analysis.similar): known neighbours on a hand-made table, deterministic ties, never
itself, reproducible on the real reference data, and the page section."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from svtools.analysis import similar
from svtools.errors import DataValidationError


def _table(rows):
    return pd.DataFrame(rows, columns=["csp_code", "x", "y"]).set_index("csp_code")


def test_hand_made_four_csps_give_the_known_neighbours():
    # x: 0, 1, 0, 4 -> mean 1.25, population SD sqrt(2.6875); y: 0, 0, 2, 4 -> mean 1.5, SD sqrt(2.75)
    t = _table([("A", 0, 0), ("B", 1, 0), ("C", 0, 2), ("D", 4, 4)])
    got = similar.nearest(t, "A", 3, ["x", "y"])
    assert got["csp_code"].tolist() == ["B", "C", "D"]
    assert got["rank"].tolist() == [1, 2, 3]
    sx, sy = math.sqrt(2.6875), math.sqrt(2.75)
    assert got["distance"].tolist() == pytest.approx([1 / sx, 2 / sy, math.hypot(4 / sx, 4 / sy)])
    assert got["distance"].tolist() == pytest.approx([0.6100, 1.2060, 3.4310], abs=1e-4)
    # from D the nearest is C (distance hypot(4/sx, 2/sy)) before B (hypot(3/sx, 4/sy))
    assert similar.nearest(t, "D", 2, ["x", "y"])["csp_code"].tolist() == ["C", "B"]


def test_z_scores_make_units_irrelevant():
    t = _table([("A", 0, 0), ("B", 1, 0), ("C", 0, 2), ("D", 4, 4)])
    scaled = t.assign(x=t["x"] * 1000.0)
    a = similar.nearest(t, "A", 3, ["x", "y"])
    b = similar.nearest(scaled, "A", 3, ["x", "y"])
    assert a["csp_code"].tolist() == b["csp_code"].tolist()
    assert a["distance"].tolist() == pytest.approx(b["distance"].tolist())


def test_ties_are_broken_by_code_whatever_the_row_order():
    rows = [("E1", 0, 0), ("E9", 1, 0), ("E3", -1, 0), ("E5", 0, 5)]    # E9 and E3 are equally far from E1
    for order in (rows, rows[::-1], [rows[2], rows[0], rows[3], rows[1]]):
        got = similar.nearest(_table(order), "E1", 3, ["x", "y"])
        assert got["csp_code"].tolist() == ["E3", "E9", "E5"]
        assert got["distance"].iloc[0] == pytest.approx(got["distance"].iloc[1])


def test_a_csp_is_never_its_own_neighbour():
    t = _table([("A", 0, 0), ("A2", 0, 0), ("B", 1, 3), ("C", 2, 1)])     # A2 is identical to A: distance 0
    got = similar.nearest(t, "A", 10, ["x", "y"])
    assert "A" not in got["csp_code"].tolist()
    assert got["csp_code"].tolist()[0] == "A2" and got["distance"].iloc[0] == 0
    assert len(got) == 3


def test_bad_tables_are_errors():
    t = _table([("A", 0, 1), ("B", 1, 1), ("C", 2, 1)])
    with pytest.raises(DataValidationError):
        similar.nearest(t, "A", 2, ["x", "y"])                # y has no spread
    with pytest.raises(DataValidationError):
        similar.nearest(t.assign(x=[0, None, 2]), "A", 2, ["x"])


def test_real_list_is_reproducible_and_complete():
    cfg = similar.settings()
    a = similar.most_similar("E22000027")                     # Hartlepool
    b = similar.most_similar("E22000027")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == cfg["k"] and "E22000027" not in a["csp_code"].tolist()
    assert a["distance"].is_monotonic_increasing
    f = similar.csp_features()
    assert len(f) == 314                                      # every CSP of the 2024 lookup
    assert f["deprivation_percentile"].between(0, 100).all()
    assert set(f["country"]) == {"England", "Wales"}
    # the same answer from the pure function on the feature table
    again = similar.nearest(f, "E22000027", cfg["k"], cfg["features"])
    assert again["csp_code"].tolist() == a["csp_code"].tolist()


def test_in_dataset_flag(demo_data):
    from svtools.ingest import store

    got = similar.most_similar("E22000027", k=20, dataset="demo")
    codes = set(store.csp_codes("demo"))
    assert (got["in_dataset"] == got["csp_code"].isin(codes)).all()


def test_section_on_a_csp_and_on_a_force(ctx, force_ctx, shown):
    from section_helpers import check_published, page_dir, texts

    from svtools.publish import sections

    res = sections.most_similar_csps(ctx)
    assert res.available
    check_published(res, page_dir())
    csv = pd.read_csv(page_dir() / "most_similar_csps.csv")
    assert csv["area_code"].iloc[0] == ctx.code and csv["similarity_rank"].iloc[0] == 0
    near = similar.most_similar(ctx.code, dataset=ctx.dataset)
    assert csv["area_name"].iloc[1:].tolist() == near["csp_name"].tolist()
    assert csv["area_code"].iloc[1:].tolist() == near["csp_code"].tolist()  # every neighbour keeps its code
    for f in similar.settings()["features"]:
        assert f in csv.columns
    words = " ".join(texts(shown))
    assert "most similar groups" in words and "not available" in words
    assert not sections.most_similar_csps(force_ctx).available
