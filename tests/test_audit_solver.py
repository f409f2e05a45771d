"""The gate's audit (svtools.publish.disclosure.audit_ranges) against a plain reference: for every target, the
integer minimum and maximum of its sum over the attacker's whole programme, each solved from scratch by
``scipy.optimize.milp`` with every base cell integer. The audit splits the programme into components, loads
each into HiGHS once and re-solves per target with only the objective changed; the ranges must be the same."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from svtools.publish import disclosure

CAP = 1e7


def reference_ranges(n, visible, hidden, targets):
    rows, lo, hi = [], [], []
    for idx, v in visible:
        rows.append(idx)
        lo.append(v)
        hi.append(v)
    for idx, a, b in hidden:
        rows.append(idx)
        lo.append(a)
        hi.append(np.inf if b is None else b)
    a = sp.lil_array((len(rows), n))
    for r, idx in enumerate(rows):
        a[r, idx] = 1
    cons = [LinearConstraint(a.tocsr(), lo, hi)] if rows else []
    out = []
    for t in targets:
        c = np.zeros(n)
        c[t] = 1
        ends = []
        for sign in (1, -1):
            res = milp(sign * c, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, CAP))
            assert res.status == 0, res.message
            ends.append(sign * round(res.fun))
        lo_t, hi_t = ends
        out.append((lo_t, np.inf if hi_t >= 1e6 else hi_t))
    return out


def random_programme(rng):
    n = int(rng.integers(4, 30))
    truth = rng.integers(0, 12, size=n)
    truth[rng.random(n) < 0.2] = 0
    cells = [np.unique(rng.choice(n, size=int(rng.integers(1, min(n, 8) + 1)), replace=False))
             for _ in range(int(rng.integers(3, 25)))]
    hidden_mask = rng.random(len(cells)) < 0.4
    visible = [(i, int(truth[i].sum())) for i, h in zip(cells, hidden_mask) if not h]
    hidden = []
    for i, h in zip(cells, hidden_mask):
        if h:
            s = int(truth[i].sum())
            hidden.append((i, min(1, s), 4 if s <= 4 and rng.random() < 0.5 else None))
    targets = [i for i, h in zip(cells, hidden_mask) if h] + [np.array([j]) for j in range(min(n, 6))]
    return n, visible, hidden, targets


@pytest.mark.parametrize("seed", range(6))
def test_audit_ranges_equal_the_plain_integer_programme(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n, visible, hidden, targets = random_programme(rng)
        got = disclosure.audit_ranges(n, visible, hidden, targets)
        assert got == reference_ranges(n, visible, hidden, targets)


def test_a_fractional_lp_optimum_falls_back_to_branch_and_bound():
    """Every pair of three cells is at least 1 and all three at most 2: the LP minimum of the total is 1.5
    (each cell 0.5), the integer minimum 2. The audit must take the integer one (branch and bound)."""
    n = 3
    visible = []
    hidden = [(np.array([0, 1]), 1, None), (np.array([1, 2]), 1, None), (np.array([0, 2]), 1, None),
              (np.array([0, 1, 2]), 1, 2)]
    targets = [np.array([0, 1, 2]), np.array([0])]
    assert disclosure.audit_ranges(n, visible, hidden, targets) == [(2, 2), (0, 1)]
    assert disclosure.audit_ranges(n, visible, hidden, targets) == reference_ranges(n, visible, hidden, targets)


@pytest.mark.parametrize("width", [1, 3])
def test_enough_gives_the_same_verdicts_as_the_full_range(width):
    """With ``enough`` the minimum is skipped once the maximum alone is wide enough: the verdict
    ``max - min >= width`` must be the same as on the attacker's full range, and the range never wider."""
    rng = np.random.default_rng(100 + width)
    for _ in range(40):
        n, visible, hidden, targets = random_programme(rng)
        # a value inside each target's range (the gate passes the true count; all the shortcut needs is a value
        # no smaller than the minimum)
        full = disclosure.audit_ranges(n, visible, hidden, targets)
        values = [lo if not np.isfinite(hi) else (lo + hi) // 2 for lo, hi in full]
        quick = disclosure.audit_ranges(n, visible, hidden, targets, enough=[(v, width) for v in values])
        for (lo, hi), (qlo, qhi) in zip(full, quick):
            assert ((hi - lo) >= width) == ((qhi - qlo) >= width)
            assert lo <= qlo and qhi == hi
