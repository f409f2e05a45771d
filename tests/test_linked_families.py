"""Linked families repaired together (svtools.publish.tables._linked_families) and aliases in one family
(svtools.publish.disclosure.Cube._hide_complement).

The age-by-year family's "All ages" cells are the series family's area x financial-year cells. On the national
demo at scale 0.1, Derbyshire's age family cannot be protected with those cells fixed as the series family
publishes them: its repair would have to hide cells the series family shows. That stopped pages of the 155-CSP
national run (``cannot protect cell ('E22000041', '2019/20', 'All ages')``). Derbyshire is generated alone
here (its file does not depend on the other forces) at the same scale, so the case is the real one.
"""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.ingest import ingest_demo
from svtools.ingest.demo import generate_demo_data
from svtools.publish import disclosure
from svtools.publish import tables as T

DATASET = "linked_derbyshire"
FORCE = "E23000018"  # Derbyshire
RUN = ("knife_serious_violence", "2018-04-01", "2025-03-31")


@pytest.fixture(scope="module")
def derbyshire(svtools_dirs, tmp_path_factory):
    from svtools.paths import processed_dir

    raw = tmp_path_factory.mktemp("derbyshire_raw")
    generate_demo_data(raw, forces=["derbyshire"], scale=0.1, progress=False)
    ingest_demo(raw, processed_dir() / DATASET, on_invalid="raise")
    return DATASET


def test_the_age_family_alone_cannot_keep_the_series_cells(derbyshire, monkeypatch):
    """The case the joint repair is for: protected with the series family's cells fixed, the age family fails."""
    monkeypatch.setenv("SVTOOLS_GATE_CACHE", "0")
    args = (derbyshire, FORCE, *RUN, T._digest(derbyshire))
    fam = T._build_series(*args)
    built = T._age_year_cube(*args)
    hidden = {k: (1, None) for k in built.shared if fam.value(k[0], k[1]) is None}
    keep = [k for k in built.shared if k not in hidden]
    with pytest.raises(disclosure.DisclosureError, match="All ages"):
        built.cube.protect(extra_hidden=hidden, keep_visible=keep)


def test_joint_repair_publishes_both_families_with_the_same_shared_cells(derbyshire):
    age = T.age_year_cube(derbyshire, FORCE, *RUN)
    fam = T.series_cube(derbyshire, FORCE, *RUN)
    assert age is not None
    shared = [k for k in age.values if k[2] == T.ALL_AGES]
    assert shared
    for key in shared:
        assert age.value(key) == fam.value(key[0], key[1]), key  # hidden in both, or the same count in both
    # the series family really was repaired with cells hidden for the age family's sake: some shared cell is
    # hidden though its count is above the threshold (not a primary suppression)
    t = disclosure.threshold("police")
    secondary = [k for k in shared if fam.value(k[0], k[1]) is None and fam.cube.cube._cells[(k[0], k[1])].value > t]
    assert secondary
    # and each family passes the attacker's audit on its own published cells
    assert fam.cube.cube._exposed(t) == []
    assert age.cube._exposed(t) == []


def test_an_alias_of_a_hidden_cell_is_hidden_too(monkeypatch):
    """Two nodes over the same base cells (the latest 12 months when they are the last financial year) publish
    the same number: hiding one and showing the other would show it. Repair hides the alias."""
    monkeypatch.setenv("SVTOOLS_GATE_CACHE", "0")
    areas = disclosure.Dim("area_code", ("A", "B"), {"F": ("A", "B")})
    months = ("m1", "m2", "m3", "m4")
    period = disclosure.Dim("period", months, {"y1": ("m1", "m2"), "y2": ("m3", "m4"), "Latest": ("m3", "m4"),
                                               "Total": months})
    counts = {("A", "m1"): 20, ("A", "m2"): 20, ("A", "m3"): 30, ("A", "m4"): 30,
              ("B", "m1"): 20, ("B", "m2"): 20, ("B", "m3"): 30, ("B", "m4"): 30}
    frame = pd.DataFrame([(a, p, n) for (a, p), n in counts.items()], columns=["area_code", "period", "count"])
    cube = disclosure.Cube("alias", [areas, period], frame)
    cube.publish_grid(area_code=["A", "B", "F"], period=["y1", "y2", "Latest", "Total"])
    prot = cube.protect(extra_hidden={("A", "y2"): (1, None)})  # hidden because a linked family hides it
    assert prot.value(("A", "y2")) is None
    assert prot.value(("A", "Latest")) is None  # its alias
    assert cube.withheld is None  # by repair, not by withholding the family
    assert cube._exposed(disclosure.threshold("police")) == []
