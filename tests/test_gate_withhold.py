"""The gate's last resort: a family for which repair finds no safe pattern is withheld whole, never published
unsafely and never a failed page (svtools.publish.disclosure.Cube._withhold_all)."""

from __future__ import annotations

import pandas as pd
import pytest

from svtools.publish import disclosure


def _cube(counts: dict[tuple[str, str], int]) -> disclosure.Cube:
    areas = disclosure.Dim("area_code", ("A", "B", "C"), {"F": ("A", "B", "C")})
    years = disclosure.Dim("financial_year", ("2023/24", "2024/25"), {"Total": ("2023/24", "2024/25")})
    frame = pd.DataFrame([(a, y, n) for (a, y), n in counts.items()],
                         columns=["area_code", "financial_year", "count"])
    cube = disclosure.Cube("t", [areas, years], frame)
    cube.publish_grid(area_code=["A", "B", "C", "F"], financial_year=["2023/24", "2024/25", "Total"])
    return cube


COUNTS = {("A", "2023/24"): 2, ("A", "2024/25"): 30, ("B", "2023/24"): 25, ("B", "2024/25"): 0,
          ("C", "2023/24"): 40, ("C", "2024/25"): 12}


def test_normal_repair_leaves_withheld_unset():
    prot = _cube(COUNTS).protect()
    assert prot.value(("A", "2023/24")) is None  # primary
    assert prot.cube.withheld is None
    assert prot.value(("B", "2024/25")) == 0  # zeros are never hidden


def test_no_pattern_withholds_every_non_zero_cell(monkeypatch):
    monkeypatch.setenv("SVTOOLS_GATE_CACHE", "0")  # the algorithm is patched: a cached pattern would not apply
    # simulate a family where repair finds no complement (what a tiny national demo CSP can give)
    monkeypatch.setattr(disclosure.Cube, "_hide_complement", lambda self, key, t: False)
    cube = _cube(COUNTS)
    prot = cube.protect()
    assert cube.withheld and "cannot protect cell" in cube.withheld
    for key, v in prot.values.items():
        truth = cube._cells[key].value
        assert v == (0 if truth == 0 else None), (key, v, truth)
    # and the audit of an attacker holding the published cells finds every hidden cell unbounded enough
    assert cube._exposed(disclosure.threshold("police")) == []


def test_withholding_that_is_still_unsafe_raises(monkeypatch):
    monkeypatch.setenv("SVTOOLS_GATE_CACHE", "0")
    # cells another family publishes visibly (keep_visible) are never hidden here: when they pin a hidden cell
    # (A's total 6 and A's 2024/25 count 5 give A's 2023/24 count 1), withholding the rest cannot help: refuse
    monkeypatch.setattr(disclosure.Cube, "_hide_complement", lambda self, key, t: False)
    counts = {**COUNTS, ("A", "2023/24"): 1, ("A", "2024/25"): 5}
    cube = _cube(counts)
    with pytest.raises(disclosure.DisclosureError, match="cannot protect"):
        cube.protect(keep_visible=[("A", "2024/25"), ("A", "Total")])


def test_the_gate_cache_gives_the_same_pattern_and_is_checked(tmp_path, monkeypatch):
    """A second identical protection reads the pattern the first wrote (<processed>/.cache/gate), with the
    same published values; a record that does not fit the cube (tampered, or another cube's) is ignored."""
    import json

    monkeypatch.setattr(disclosure, "_gate_cache_dir", lambda: tmp_path / "gate")  # an empty cache
    first = _cube(COUNTS)
    p1 = first.protect()
    assert first.audit_log  # the first one audited
    second = _cube(COUNTS)
    p2 = second.protect()
    assert second.audit_log == [] and p2.values == p1.values  # read from the cache: no audit, same values
    key = disclosure._gate_key(second, disclosure.threshold("police"), None, None)
    path = disclosure._gate_cache_dir() / f"{key}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "primary": []}))  # disagrees with primary suppression: ignored
    third = _cube(COUNTS)
    p3 = third.protect()
    assert third.audit_log and p3.values == p1.values
    other = _cube({**COUNTS, ("C", "2024/25"): 13})  # other counts: another key
    assert disclosure._gate_key(other, 4, None, None) != key
