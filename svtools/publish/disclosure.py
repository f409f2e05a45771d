"""The disclosure gate: the one place where counts become publishable numbers.

Every number that leaves the building - an HTML table, a CSV download, a chart, its alt text, a headline or a
sentence, the manifest - comes from a :class:`PublishedTable`, and only this module can make one
(:meth:`ProtectedCube.table`). Charts and sentences refuse anything else (:func:`require_published`).

How the protection works (``docs/disclosure.md`` gives the reasons and sources; the rules are data in
``config/disclosure.yaml``):

1. **Linked tables are one cube.** A family of published tables - a CSP's table, its force's, its sibling
   CSPs', their totals, every coarser period or band - are all margins of one cube of *base cells* (e.g.
   CSP x offence group). :class:`Cube` holds the true base counts and, per dimension, the *nodes* that may be
   published (a base label, a band such as "Under 25", a force = its CSPs, "Total").
2. **Primary suppression**: a published cell with a count from 1 to the threshold (police 4, hospital 7) is
   hidden; 0 stays 0.
3. **The audit** (:func:`audit_ranges`): for every hidden cell, and every unpublished base cell with a small
   count, the gate solves the integer programme an attacker holding every published number of the cube can
   set up - base cells are integers >= 0, each visible cell fixes the sum of its base cells, each hidden cell
   is at least 1 (and, for a primary cell, at most the threshold: the attacker is even told which cells are
   primary) - and finds the smallest and largest value the cell can take (HiGHS through ``highspy``: the linear
   programme, re-solved per cell, and branch and bound with ``scipy.optimize.milp`` when its optimum is not integral).
4. **Repair** (secondary suppression): while some cell can be narrowed below the suppression band (a primary
   cell must keep the whole band 1..threshold; any other hidden cell a range of at least threshold - 1), the
   gate hides one more visible cell - the smallest non-zero sibling of the exposed cell inside a visible
   margin that pins it - and audits again.

The result is deterministic (same inputs, same cells hidden), so the CSP page and the force page, built in
different jobs, publish the same cube consistently.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from svtools.config import read_yaml
from svtools.errors import SvtoolsError
from svtools.paths import CONFIG

__all__ = [
    "DisclosureError",
    "rules",
    "threshold",
    "Dim",
    "Cube",
    "ProtectedCube",
    "PublishedTable",
    "audit_ranges",
    "require_published",
]


class DisclosureError(SvtoolsError):
    """Something would publish a number that did not come through the gate, or the gate cannot protect it."""


@functools.lru_cache(maxsize=1)
def rules() -> dict:
    """The disclosure rules (``config/disclosure.yaml``)."""
    return read_yaml(CONFIG / "disclosure.yaml")


def threshold(source: str = "police") -> int:
    """Largest count hidden in published tables of ``source`` (``police``: 4, ``hospital``: 7)."""
    try:
        return int(rules()["thresholds"][source])
    except KeyError:
        raise DisclosureError(f"config/disclosure.yaml: no threshold for source {source!r}") from None


# =========================================================================== the audit
@dataclass
class _Cell:
    idx: np.ndarray  # flat indices of base cells
    value: int
    hidden: bool = False
    primary: bool = False


def audit_ranges(
    n_base: int,
    visible: Sequence[tuple[np.ndarray, int]],
    hidden: Sequence[tuple[np.ndarray, int, int | None]],
    targets: Sequence[np.ndarray],
    upper: np.ndarray | None = None,
    enough: Sequence[tuple[float, float]] | None = None,
    links: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    linked_only: bool = False,
) -> list[tuple[float, float]]:
    """Smallest and largest value an attacker can give each target, from every published relation.

    Parameters
    ----------
    n_base : int
        Number of base cells (the attacker's unknowns: integers >= 0).
    visible : sequence of (indices, value)
        Published visible cells: the base cells in ``indices`` sum to ``value``.
    hidden : sequence of (indices, lower, upper)
        Published hidden cells: their sum lies in ``[lower, upper]`` (``upper`` None: no upper bound).
    targets : sequence of indices
        The sums whose range is wanted.
    upper : ndarray, optional
        Known upper bounds per base cell (default: derived from the visible cells that contain it).
    enough : sequence of (value, width), optional
        Per target, its true value (a feasible value) and the range width the caller needs. The maximum is
        solved first; when it is at least ``value + width`` the minimum is not solved and the range is given
        as ``(value, max)``: narrower than the attacker's range but already wide enough, so a test
        ``max - min >= width`` gives the same answer as on the full range. The gate's audit uses this.
    links : sequence of (indices, indices), optional
        Pairs of sums known to be equal: ``sum(x[a]) == sum(x[b])``. Two families built from the same records
        share cells (an area's financial-year count is a cell of the series family and of the age-by-year
        family); their base cells are different unknowns, tied by these equalities (:func:`protect_linked`).
    linked_only : bool
        Solve only the targets whose component holds a link; the others get ``(nan, nan)``. Without a link a
        component is one family's own programme, which that family's audit has solved already.

    Returns
    -------
    list of (min, max)
        One pair per target; ``max`` is ``inf`` when nothing bounds it.

    Notes
    -----
    The programme is split into independent components (base cells linked through a hidden or visible cell
    that is not yet fixed). Each group of components is loaded into HiGHS once (:class:`_Programme`) and every
    target on it is solved by changing only the objective; when the optimal point is not integral, that target
    is solved again by branch and bound (``scipy.optimize.milp``, integrality on every base cell). This is the
    attack of the issue's self-test and the check the gate runs before it publishes.
    """
    n = int(n_base)
    ub = np.full(n, np.inf) if upper is None else np.asarray(upper, float).copy()
    fixed = np.full(n, np.nan)
    for idx, v in visible:
        idx = np.asarray(idx)
        if idx.size == 0:
            continue
        ub[idx] = np.minimum(ub[idx], v)
        if idx.size == 1:
            fixed[idx[0]] = v
    zero = np.isfinite(ub) & (ub <= 0)
    fixed[zero] = 0
    # Propagate: a visible cell whose other members are all fixed fixes the last one (cheap presolve).
    changed = True
    vis = [(np.asarray(i), int(v)) for i, v in visible if len(i)]
    while changed:
        changed = False
        for idx, v in vis:
            free = idx[np.isnan(fixed[idx])]
            if free.size == 1:
                fixed[free[0]] = v - np.nansum(fixed[idx[~np.isnan(fixed[idx])]])
                changed = True
            elif free.size == 0:
                continue
    free_mask = np.isnan(fixed)
    pos = -np.ones(n, dtype=np.int64)
    free_idx = np.flatnonzero(free_mask)
    pos[free_idx] = np.arange(free_idx.size)
    m = free_idx.size

    rows, cols, vals, lo, hi = [], [], [], [], []
    # Visible cells are equalities (lower = upper = value), hidden ones ranges; fixed cells move to the bounds.
    relations = [(idx, v, v) for idx, v in vis] + [(np.asarray(idx), a, np.inf if b is None else b)
                                                   for idx, a, b in hidden]
    for idx, a, b in relations:
        f = pos[idx]
        f = f[f >= 0]
        if f.size == 0:
            continue
        const = np.nansum(fixed[idx])
        r = len(lo)
        rows.extend([r] * f.size)
        cols.extend(f.tolist())
        vals.extend([1.0] * f.size)
        lo.append(a - const)
        hi.append(b - const)
    # Links: sum(a) - sum(b) = 0, with the fixed cells of each side moved to the bound.
    link_rows: list[int] = []
    for a_idx, b_idx in links or ():
        a_idx, b_idx = np.asarray(a_idx, np.int64), np.asarray(b_idx, np.int64)
        fa, fb = pos[a_idx], pos[b_idx]
        fa, fb = fa[fa >= 0], fb[fb >= 0]
        const = float(np.nansum(fixed[a_idx]) - np.nansum(fixed[b_idx]))
        if fa.size == 0 and fb.size == 0:
            continue
        r = len(lo)
        rows.extend([r] * (fa.size + fb.size))
        cols.extend(fa.tolist() + fb.tolist())
        vals.extend([1.0] * fa.size + [-1.0] * fb.size)
        lo.append(-const)
        hi.append(-const)
        link_rows.append(r)
    A = sp.csr_array((np.asarray(vals, float), (rows, cols)), shape=(len(lo), m)) if m else None
    lo_a, hi_a = np.asarray(lo, float), np.asarray(hi, float)

    # Components of the free base cells (linked through any constraint): on the graph of cells and
    # constraints (an edge where a constraint holds a cell), whose size is the number of incidences. The
    # cell-to-cell graph (incidence times its transpose) is dense once a margin holds most cells (a force
    # total over thousands of neighbourhoods): hundreds of MB and seconds per audit.
    if m:
        k = len(lo)
        graph = sp.csr_array((np.ones(len(rows)), (np.asarray(cols, np.int64), m + np.asarray(rows, np.int64))),
                             shape=(m + k, m + k))
        _, label = connected_components(graph, directed=False)
        label = label[:m]
    else:
        label = np.zeros(0, dtype=int)

    # Targets grouped by the components they touch: each group's programme is handed to HiGHS once and
    # re-solved for each target with only the objective changed (a warm start from the last basis).
    out: list = [None] * len(targets)
    groups: dict[tuple, list] = {}
    for k, t in enumerate(targets):
        t = np.asarray(t)
        const = float(np.nansum(fixed[t]))
        f = pos[t]
        f = f[f >= 0]
        if f.size == 0:
            out[k] = (const, const)
            continue
        groups.setdefault(tuple(sorted(set(label[f].tolist()))), []).append((k, f, const))
    stop = list(enough) if enough is not None else None
    if linked_only:
        with_link = set(label[np.unique(A[link_rows].nonzero()[1])].tolist()) if (link_rows and A is not None) \
            else set()
        for comps in [c for c in groups if not with_link.intersection(c)]:
            for k, _, _ in groups.pop(comps):
                out[k] = (np.nan, np.nan)
    for comps, members in groups.items():
        keep = np.flatnonzero(np.isin(label, comps))
        sub_rows = np.unique(A[:, keep].nonzero()[0]) if A is not None else np.array([], int)
        local = -np.ones(m, dtype=np.int64)
        local[keep] = np.arange(keep.size)
        sub = A[sub_rows][:, keep] if sub_rows.size else None
        ub_k = np.minimum(ub[free_idx[keep]], 1e7)
        programme = _Programme(sub, lo_a[sub_rows], hi_a[sub_rows], ub_k)
        for k, f, const in members:
            c = np.zeros(keep.size)
            np.add.at(c, local[f], 1.0)

            def exact(sign):  # branch and bound, when the LP optimum is not integral (or not solved)
                cons = [LinearConstraint(sub, lo_a[sub_rows], hi_a[sub_rows])] if sub is not None else []
                return sign * _optimum(sign * c, cons, Bounds(np.zeros(keep.size), ub_k))

            vmax = programme.optimum(-c)
            vmax = exact(-1) if vmax is None else -vmax
            if stop is not None and vmax >= stop[k][0] - const + stop[k][1]:
                vmin = stop[k][0] - const  # the true value: feasible, so at least the minimum
            else:
                vmin = programme.optimum(c)
                vmin = exact(1) if vmin is None else vmin
            if vmax >= 1e6:
                vmax = np.inf
            out[k] = (const + round(vmin), const + (round(vmax) if np.isfinite(vmax) else np.inf))
    return out


_HIGHS: list = []


def _highs():
    """This process's HiGHS instance (``highspy``), made once with its banner (written by the C library to
    file descriptor 1, where a notebook kernel would put it on the page) sent to /dev/null."""
    if not _HIGHS:
        import os
        import sys

        import highspy

        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")  # re-solves start from the last basis; presolve would discard it
        _HIGHS.append(h)
    return _HIGHS[0]


class _Programme:
    """The attacker's linear programme of one group of components, loaded into HiGHS once.

    :meth:`optimum` changes only the objective and re-solves (dual simplex, warm-started from the previous
    basis), which is what makes the audit of a national cube affordable: a fresh ``scipy.optimize.milp`` per
    target spent about half its time building and checking the model. The value is the same: the optimum of
    a linear programme is unique, and it is used only when the optimal point HiGHS returns is integral (else
    the caller runs branch and bound, :func:`_optimum`), so which optimal vertex is returned does not matter.
    """

    def __init__(self, a, row_lower, row_upper, col_upper):
        import highspy

        self.h = h = _highs()
        h.clearModel()
        n = int(col_upper.size)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = 0 if a is None else int(a.shape[0])
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.asarray(col_upper, float)
        if a is not None:
            csc = sp.csc_array(a)
            csc.sort_indices()
            lp.row_lower_ = np.asarray(row_lower, float)
            lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, highspy.kHighsInf).astype(float)
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
            lp.a_matrix_.index_ = csc.indices.astype(np.int32)
            lp.a_matrix_.value_ = csc.data.astype(float)
        h.passModel(lp)
        self.n = n
        self.cols = np.arange(n, dtype=np.int32)
        self.optimal = highspy.HighsModelStatus.kOptimal

    def optimum(self, c) -> float | None:
        """Minimum of ``c @ x`` when HiGHS finds an integral optimal point, else None."""
        h = self.h
        h.changeColsCost(self.n, self.cols, np.asarray(c, float))
        h.run()
        if h.getModelStatus() != self.optimal:
            return None
        x = np.asarray(h.getSolution().col_value)
        if not np.allclose(x, np.round(x), atol=1e-7):
            return None
        return float(np.round(np.asarray(c) @ np.round(x)))


def _optimum(c, cons, bounds, time_limit: float = 20.0) -> float:
    """Minimum of ``c @ x`` over the integer points: the LP vertex when it is integral, else branch and bound.

    On a time-out the best integer solution found is used: for the minimum it is above the true minimum and
    for the maximum below the true maximum, so the range is under-estimated (the safe side for the gate).
    """
    lp = milp(c, constraints=cons, integrality=np.zeros(c.size), bounds=bounds)
    if lp.status == 0 and lp.x is not None and np.allclose(lp.x, np.round(lp.x), atol=1e-7):
        return float(np.round(lp.fun))
    res = milp(c, constraints=cons, integrality=np.ones(c.size), bounds=bounds,
               options={"time_limit": time_limit})
    if res.x is not None:
        return float(np.round(c @ np.round(res.x)))
    return float(np.round(lp.fun)) if lp.status == 0 else np.nan


# =========================================================================== cubes
@dataclass(frozen=True)
class Dim:
    """One dimension of a cube: its base labels and the nodes (sets of base labels) that may be published.

    Parameters
    ----------
    name : str
        Field name (``csp_code``, ``offence_group``, ``financial_year`` ...).
    base : sequence of str
        The finest labels, in display order.
    nodes : mapping of str to sequence of str, optional
        Coarser nodes: a force -> its CSPs, "Under 25" -> its age bands, "Total" -> every base label.
        A base label is always a node of itself.
    """

    name: str
    base: tuple
    nodes: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "base", tuple(str(b) for b in self.base))
        known = set(self.base)
        nodes = {}
        for k, members in dict(self.nodes).items():
            members = tuple(str(x) for x in members)
            bad = [x for x in members if x not in known]
            if bad:
                raise DisclosureError(f"dimension {self.name}: node {k!r} names unknown labels {bad[:3]}")
            nodes[str(k)] = members
        object.__setattr__(self, "nodes", nodes)

    def members(self, node: str) -> tuple:
        node = str(node)
        if node in self.nodes:
            return self.nodes[node]
        if node in self.base:
            return (node,)
        raise DisclosureError(f"dimension {self.name}: {node!r} is neither a label nor a node")

    def positions(self, node: str) -> np.ndarray:
        order = {b: i for i, b in enumerate(self.base)}
        return np.array([order[m] for m in self.members(node)], dtype=np.int64)


class Cube:
    """True base counts of one family of linked tables, and the cells of it that will be published.

    Parameters
    ----------
    name : str
        Family name (also the stem of its published tables).
    dims : sequence of Dim
    counts : DataFrame
        One row per base cell that is not zero: a column per dimension (labels as in ``Dim.base``) and
        ``count``. Missing combinations are 0.
    source : {"police", "hospital"}
        Which threshold applies.
    unit : str
        What a count counts ("offences", "victims").
    """

    def __init__(self, name: str, dims: Sequence[Dim], counts: pd.DataFrame, source: str = "police",
                 unit: str = "offences"):
        self.name = name
        self.dims = list(dims)
        self.source = source
        self.unit = unit
        self.shape = tuple(len(d.base) for d in self.dims)
        truth = np.zeros(self.shape, dtype=np.int64)
        if len(counts):
            pos = []
            for d in self.dims:
                order = {b: i for i, b in enumerate(d.base)}
                labels = counts[d.name].astype(str)
                p = labels.map(order)
                if p.isna().any():
                    bad = sorted(set(labels[p.isna()]))[:3]
                    raise DisclosureError(f"cube {name}: {d.name} has labels {bad} outside the dimension")
                pos.append(p.to_numpy(np.int64))
            np.add.at(truth, tuple(pos), counts["count"].to_numpy(np.int64))
        if (truth < 0).any():
            raise DisclosureError(f"cube {name}: negative counts")
        self.truth = truth
        self._cells: dict[tuple, _Cell] = {}
        self._keep: set = set()
        self.audit_log: list = []
        self.withheld: str | None = None  # why every non-zero cell was hidden (see _withhold_all), if it was
        #: Every cell hidden, zeros too (see protect_linked): a "*" of this family may stand for 0
        self.blank = False

    def dim(self, name: str) -> Dim:
        for d in self.dims:
            if d.name == name:
                return d
        raise DisclosureError(f"cube {self.name} has no dimension {name!r}")

    def _index(self, key: tuple) -> np.ndarray:
        grids = [d.positions(k) for d, k in zip(self.dims, key)]
        mesh = np.meshgrid(*grids, indexing="ij")
        return np.ravel_multi_index([g.ravel() for g in mesh], self.shape)

    def _key(self, key) -> tuple:
        if isinstance(key, Mapping):
            key = tuple(str(key[d.name]) for d in self.dims)
        key = tuple(str(k) for k in key)
        if len(key) != len(self.dims):
            raise DisclosureError(f"cube {self.name}: a key needs {len(self.dims)} parts, got {key}")
        return key

    def publish(self, keys: Iterable) -> None:
        """Register cells (tuples of nodes, one per dimension, or mappings) that some page will publish."""
        flat = self.truth.ravel()
        for key in keys:
            key = self._key(key)
            if key not in self._cells:
                idx = self._index(key)
                self._cells[key] = _Cell(idx=idx, value=int(flat[idx].sum()))

    def publish_grid(self, **nodes: Sequence[str]) -> None:
        """Register the cross product of node lists, e.g. ``publish_grid(csp_code=[...], offence_group=[...])``."""
        lists = [list(nodes[d.name]) for d in self.dims]
        self.publish(itertools.product(*lists))

    def protect(self, *, extra_hidden: Mapping[tuple, tuple] | None = None,
                keep_visible: Iterable | None = None) -> ProtectedCube:
        """Primary suppression, then audit and repair until no hidden cell can be narrowed (see module notes).

        Parameters
        ----------
        extra_hidden : mapping, optional
            Cells hidden because another family hides them (a shared margin), with the attacker's bounds there.
        keep_visible : iterable, optional
            Cells another family publishes visibly (a shared margin): never chosen as complements here.
        """
        t = threshold(self.source)
        cfg = rules()["audit"]
        cells = self._cells
        cache_key = _gate_key(self, t, extra_hidden, keep_visible)
        # kept on a restored cube too: a joint repair (protect_linked) must not choose these either
        self._keep = {self._key(k) for k in (keep_visible or ())}
        cached = _gate_cache_read(cache_key)
        if cached is not None and self._restore(cached):
            return ProtectedCube(self, {k: (None if cells[k].hidden else cells[k].value) for k in cells},
                                 {k for k in cells if cells[k].primary}, t)
        for key, c in cells.items():
            if 1 <= c.value <= t:
                c.hidden = c.primary = True
        for key in (extra_hidden or {}):
            key = self._key(key)
            if key in cells and cells[key].value > 0:
                cells[key].hidden = True
        keys = list(cells)
        rounds = 0
        exposed = self._exposed(t)
        while exposed:
            rounds += 1
            if rounds > int(cfg["max_repair_rounds"]):
                self._withhold_all(t, f"no safe suppression pattern after {rounds - 1} rounds "
                                      f"({len(exposed)} cells still exposed, e.g. {exposed[0]})")
                break
            # One complement for every exposed cell (in a fixed order), then audit again.
            before = {k for k, c in cells.items() if c.hidden}
            progress = [self._hide_complement(key, t) for key in exposed]
            if not any(progress):
                self._withhold_all(t, f"cannot protect cell {exposed[0]}")
                break
            # Hiding a cell only relaxes the attacker's programme (an equality becomes ">= 1"), so a cell that
            # passed still passes: audit again only what was exposed and what was just hidden.
            newly = {k for k, c in cells.items() if c.hidden} - before
            exposed = self._exposed(t, only=set(exposed) | newly)
        _gate_cache_write(cache_key, {"hidden": [list(k) for k in keys if cells[k].hidden],
                                      "primary": [list(k) for k in keys if cells[k].primary],
                                      "withheld": self.withheld})
        return ProtectedCube(self, {k: (None if cells[k].hidden else cells[k].value) for k in keys},
                             {k for k in keys if cells[k].primary}, t)

    def _restore(self, cached: dict) -> bool:
        """Set the hidden pattern a previous identical protection found (see :func:`_gate_key`); False (and
        nothing changed) when the record does not fit this cube's cells."""
        hidden = {self._key(tuple(k)) for k in cached.get("hidden", [])}
        primary = {self._key(tuple(k)) for k in cached.get("primary", [])}
        if not (hidden <= set(self._cells) and primary <= hidden):
            return False
        t = threshold(self.source)
        # the record must agree with primary suppression, which is recomputed here from the true counts
        if primary != {k for k, c in self._cells.items() if 1 <= c.value <= t}:
            return False
        for k, c in self._cells.items():
            c.hidden, c.primary = k in hidden, k in primary
        self.withheld = cached.get("withheld")
        return True

    def _withhold_all(self, t: int, why: str) -> None:
        """The last resort when repair finds no pattern: hide every non-zero cell (zeros stay visible, as they
        are never hidden), audit once more, and record it in ``withheld``; if even that leaves a cell narrower
        than the band (a margin another family publishes pins it), raise :class:`DisclosureError` with ``why``.

        A family published this way shows nothing but its zeros: every page says "too few to show" rather
        than failing, and nothing can be worked out from it."""
        for key, c in self._cells.items():
            if c.value > 0 and key not in self._keep:
                c.hidden = True
        if self._exposed(t):
            raise DisclosureError(f"cube {self.name}: {why}")
        self.withheld = why

    # ------------------------------------------------------------------ audit helpers
    def _published_idx(self) -> np.ndarray:
        covered = np.zeros(self.truth.size, bool)
        for c in self._cells.values():
            if len(c.idx) == 1:
                covered[c.idx] = True
        return covered

    def _targets(self, t: int) -> list[tuple[Any, np.ndarray, bool, int]]:
        """Hidden published cells, and unpublished base cells with a small count (key, idx, primary, value)."""
        out = [(k, c.idx, c.primary, c.value) for k, c in self._cells.items() if c.hidden]
        flat = self.truth.ravel()
        single = self._published_idx()
        small = np.flatnonzero((flat >= 1) & (flat <= t) & ~single)
        # An unpublished small base cell matters only if some published cell covers it.
        if small.size:
            covering = np.zeros(flat.size, bool)
            for c in self._cells.values():
                covering[c.idx] = True
            for i in small[covering[small]]:
                out.append((("base", int(i)), np.array([i]), False, int(flat[i])))
        return out

    def _exposed(self, t: int, only: set | None = None) -> list:
        import time as _time

        _t0 = _time.perf_counter()
        targets = self._targets(t)
        if only is not None:
            targets = [x for x in targets if x[0] in only]
        if not targets:
            return []
        visible = [(c.idx, c.value) for c in self._cells.values() if not c.hidden]
        hidden = [(c.idx, 1, None) for c in self._cells.values() if c.hidden]
        # the width each target needs: an unpublished small base cell must not be pinned (exact
        # differencing); a hidden cell needs at least `t` possible values (never narrowed below the band)
        widths = [1 if isinstance(key, tuple) and key and key[0] == "base" else t - 1 for key, *_ in targets]
        ranges = audit_ranges(self.truth.size, visible, hidden, [x[1] for x in targets],
                              enough=[(x[3], w) for x, w in zip(targets, widths)])
        bad = []
        for (key, _, primary, value), (lo, hi), width in zip(targets, ranges, widths):
            ok = (hi - lo) >= width
            if not ok:
                bad.append(key)
        self.audit_log.append((len(targets), len(bad), round(_time.perf_counter() - _t0, 3)))
        return bad

    def _hide_complement(self, key, t: int) -> bool:
        """Hide one more cell so that the exposed cell ``key`` gains slack.

        First choice: a visible cell that *pins* it by differencing - a visible margin whose other base cells are
        exactly covered by visible published cells - and, inside it, the best of those covering cells (the
        finest, then one of at least the preferred size, then the smallest). Otherwise (narrowed by several
        relations at once) the best sibling inside the smallest visible margin.
        """
        if key and key[0] == "base":
            idx = np.array([key[1]])
        else:
            idx = self._cells[key].idx
        s_idx = set(idx.tolist())
        vis = [(k, c, set(c.idx.tolist())) for k, c in self._cells.items() if not c.hidden]
        # An alias - another node over exactly the same base cells (the latest 12 months when they are a
        # financial year) - publishes the hidden value itself: hide it too.
        aliases = [c for k, c, cs in vis if cs == s_idx and c.value > 0 and k not in self._keep]
        if aliases:
            for c in aliases:
                c.hidden = True
            return True
        parents = [(k, c, cs) for k, c, cs in vis if len(cs) > len(s_idx) and s_idx <= cs]
        parents.sort(key=lambda x: (len(x[2]), x[0]))
        pref = float(rules()["audit"]["prefer_complement_at_least"]) * t

        def rank(kc):
            k, c = kc
            return (len(c.idx), c.value < pref, c.value, k)

        fallback = None
        for pk, pc, pset in parents:
            rest = pset - s_idx
            inside = [(k, c, cs) for k, c, cs in vis if k != pk and cs <= rest]
            if not inside:
                continue
            # Greedy exact cover of the rest of the margin by visible cells, largest first.
            inside.sort(key=lambda x: (-len(x[2]), x[0]))
            covered: set = set()
            cover = []
            for k, c, cs in inside:
                if not (cs & covered):
                    covered |= cs
                    cover.append((k, c))
            cand = [(k, c) for k, c in cover if c.value > 0 and k not in self._keep]
            if covered == rest and cand:
                # Hide the finest cell of the cover, or a finer visible cell inside it.
                best = min(cand, key=rank)
                finer = [(k, c) for k, c, cs in inside if c.value > 0 and k not in self._keep
                         and cs <= set(best[1].idx.tolist())]
                best = min(finer or [best], key=rank)
                best[1].hidden = True
                return True
            if fallback is None:
                sibs = [(k, c) for k, c, cs in inside if c.value > 0 and k not in self._keep]
                if sibs:
                    fallback = min(sibs, key=rank)
        if fallback is not None:
            fallback[1].hidden = True
            return True
        for pk, pc, pset in parents:
            if pc.value > 0 and pk not in self._keep:
                pc.hidden = True
                return True
        # Last resort: hide every visible non-zero cell inside any margin (visible or hidden) of the cell.
        supersets = [set(c.idx.tolist()) for c in self._cells.values() if s_idx < set(c.idx.tolist())]
        done = False
        for k, c, cs in vis:
            if c.value > 0 and k not in self._keep and not (cs & s_idx) and any(cs <= sup for sup in supersets):
                c.hidden = True
                done = True
        return done


# =========================================================================== families that share cells
def protect_linked(cubes: Sequence[Cube], links: Sequence[tuple[int, tuple, int, tuple]],
                   frozen: Iterable[int] = ()) -> list[ProtectedCube]:
    """Audit families that share cells as one, and repair them until no hidden cell of any can be narrowed.

    Each family on its own passes the gate's audit, but an attacker holds both: a hidden cell of one may be
    narrowed by the relations of the other, through the cells they share (an area's financial-year count is a
    cell of the series family and of the age-by-year family). This sets up the attacker's programme of all the
    families together - every base cell of each an unknown, each link an equality between two sums - and
    audits every hidden cell and every small unpublished base cell against it (the same widths as
    :meth:`Cube._exposed`). An exposed cell gets a complement in its own family (:meth:`Cube._hide_complement`);
    a linked cell hidden in one family is hidden in the other too; the joint audit is repeated. When no
    complement can be found, every non-zero cell of every family is withheld (``Cube.withheld``) and audited
    once more; if even that leaves a cell exposed, :class:`DisclosureError`.

    Parameters
    ----------
    cubes : sequence of Cube
        Families already protected one by one (:meth:`Cube.protect`), whose hidden patterns are the start.
    links : sequence of (i, key_i, j, key_j)
        ``cubes[i]``'s node ``key_i`` counts exactly the same records as ``cubes[j]``'s node ``key_j`` (nodes
        need not be registered cells; when both are, they are kept hidden or visible together). A link whose
        two sides do not hold the same true count is an error.
    frozen : iterable of int
        Families already published elsewhere (the series family every page draws from): never changed. A
        linked cell they hide is hidden in the others, one they show is never chosen as a complement, and a
        cell of theirs the others narrow is mended by hiding more of the others (at the last by withholding
        them).

    Returns
    -------
    list of ProtectedCube
        The families' published values after the joint repair, in the order given. The pattern is cached on
        disk like a single family's (:func:`_gate_cache_read`).
    """
    cubes = list(cubes)
    frozen = set(int(i) for i in frozen)
    links = [(int(i), cubes[i]._key(ki), int(j), cubes[j]._key(kj)) for i, ki, j, kj in links]
    for i, ki, j, kj in links:
        vi = int(cubes[i].truth.ravel()[cubes[i]._index(ki)].sum())
        vj = int(cubes[j].truth.ravel()[cubes[j]._index(kj)].sum())
        if vi != vj:
            raise DisclosureError(f"cubes {cubes[i].name} and {cubes[j].name}: linked cells {ki} and {kj} "
                                  f"count {vi} and {vj}, not the same records")
    ts = [threshold(c.source) for c in cubes]
    linked_keys = [set() for _ in cubes]
    for i, ki, j, kj in links:
        linked_keys[i].add(ki)
        linked_keys[j].add(kj)
    for n, (c, own) in enumerate(zip(cubes, linked_keys)):
        if n not in frozen:  # consistency across a link is kept by sync() instead
            c._keep = set(c._keep) - own
    for i, ki, j, kj in links:  # what a frozen family shows cannot be hidden here
        for (f, kf), (o, ko) in (((i, ki), (j, kj)), ((j, kj), (i, ki))):
            cell = cubes[f]._cells.get(kf)
            if f in frozen and o not in frozen and cell is not None and not cell.hidden:
                cubes[o]._keep.add(ko)
    cache_key = _linked_key(cubes, links)
    cached = _gate_cache_read(cache_key)
    if cached is not None and _restore_linked(cubes, cached):
        return [_protected(c, t) for c, t in zip(cubes, ts)]

    def sync() -> None:
        changed = True
        while changed:
            changed = False
            for i, ki, j, kj in links:
                a, b = cubes[i]._cells.get(ki), cubes[j]._cells.get(kj)
                if a is None or b is None or a.hidden == b.hidden:
                    continue
                for n, c in ((i, a), (j, b)):
                    if not c.hidden and c.value > 0 and n not in frozen:
                        c.hidden = changed = True

    partners: dict[tuple, list] = {}
    for i, ki, j, kj in links:
        partners.setdefault((i, ki), []).append((j, kj))
        partners.setdefault((j, kj), []).append((i, ki))

    def unpin(bad) -> bool:
        """Show the hidden cells (not small ones) the attacker pins exactly: their value is known already, and
        shown it is one more equality the audit can use. A cell of which a frozen family hides the twin stays
        hidden."""
        done = False
        for n, items in enumerate(bad):
            for key, lo, hi in items:
                cell = cubes[n]._cells.get(key)
                if n in frozen or cell is None or not cell.hidden or cell.primary or not (lo == hi == cell.value):
                    continue
                twins = [(m, cubes[m]._cells.get(k)) for m, k in partners.get((n, key), [])]
                if any(m in frozen and c is not None and c.hidden for m, c in twins):
                    continue
                for _, c in [(n, cell)] + twins:
                    if c is not None:
                        c.hidden = False
                done = True
        return done

    sync()
    max_rounds = int(rules()["audit"]["max_repair_rounds"])
    withheld = None
    full = False  # after a cell is shown, each family's own audit no longer covers its unlinked parts
    for rounds in range(max_rounds + 1):
        bad = _linked_exposed(cubes, links, ts, full=full)
        if not any(bad):
            break
        if rounds == max_rounds:
            withheld = f"no safe joint suppression pattern after {max_rounds} rounds"
            break
        if unpin(bad):
            full = True
            continue
        progress = [cubes[i]._hide_complement(k, ts[i]) for i, items in enumerate(bad) for k, _, _ in items
                    if i not in frozen]
        if any(bad[i] for i in frozen):
            progress = []  # a frozen family's cell is narrowed by the others: withhold them
        sync()
        if not any(progress):
            first = next(k for items in bad for k, _, _ in items)
            withheld = f"cannot protect cell {first} jointly"
            break
    if withheld is not None:
        for n, c in enumerate(cubes):
            if n in frozen:
                continue
            for k, cell in c._cells.items():
                if cell.value > 0 and k not in c._keep:
                    cell.hidden = True
        sync()
        for _ in range(max_rounds):
            bad = _linked_exposed(cubes, links, ts, full=True)
            if not (any(bad) and unpin(bad)):
                break
        if any(bad):
            # Even withheld, its zeros and its "at least 1"s say something (a total another family shows, less
            # the zeros, over few cells is narrow): hide the zeros too, so nothing of it says anything.
            first = next(k for items in bad for k, _, _ in items)
            for n, c in enumerate(cubes):
                if n not in frozen:  # but what a frozen family shows is shown (it is known anyway)
                    for k, cell in c._cells.items():
                        cell.hidden = k not in c._keep
                    c.blank = True
            withheld = (f"{withheld}; withheld, {first} was still narrowed: every cell hidden, zeros too "
                        f"(but those another family shows)")
            bad = _linked_exposed(cubes, links, ts, full=True)
        if any(bad):
            names = " and ".join(c.name for c in cubes)
            first = next(k for items in bad for k, _, _ in items)
            raise DisclosureError(f"cubes {names}: {withheld}; {first} is still narrowed")
        for n, c in enumerate(cubes):
            if n not in frozen:
                c.withheld = c.withheld or withheld
    _gate_cache_write(cache_key, {"cubes": [{"hidden": [list(k) for k, cell in c._cells.items() if cell.hidden],
                                             "withheld": c.withheld, "blank": c.blank} for c in cubes]})
    return [_protected(c, t) for c, t in zip(cubes, ts)]


def blank_family(cube: Cube, why: str) -> ProtectedCube:
    """Publish none of a family's counts, zeros included (``Cube.blank``): for a family built from one whose
    cells are all hidden (:func:`protect_linked`'s last resort), so that its zeros cannot say what that one's
    hide. Nothing it publishes can narrow anything."""
    for cell in cube._cells.values():
        cell.hidden = True
    cube.blank = True
    cube.withheld = why
    return _protected(cube, threshold(cube.source))


def _protected(cube: Cube, t: int) -> ProtectedCube:
    cells = cube._cells
    return ProtectedCube(cube, {k: (None if c.hidden else c.value) for k, c in cells.items()},
                         {k for k, c in cells.items() if c.primary}, t)


def _linked_exposed(cubes: Sequence[Cube], links, ts, full: bool = False) -> list[list]:
    """The joint audit of :func:`protect_linked`: per cube, its exposed cells as ``(key, min, max)``.

    Unless ``full``, only what the links tie together is solved: each family passed its own audit, and a
    component of the joint programme that no link touches is one family's own."""
    offsets = np.cumsum([0] + [c.truth.size for c in cubes])
    visible, hidden, targets, enough, owner = [], [], [], [], []
    for n, (c, t) in enumerate(zip(cubes, ts)):
        off = offsets[n]
        for cell in c._cells.values():
            if cell.hidden:
                hidden.append((cell.idx + off, 0 if c.blank else 1, None))
            else:
                visible.append((cell.idx + off, cell.value))
        for key, idx, _, value in c._targets(t):
            width = 1 if isinstance(key, tuple) and key and key[0] == "base" else t - 1
            targets.append(idx + off)
            enough.append((value, width))
            owner.append((n, key))
    bad: list[list] = [[] for _ in cubes]
    if not targets:
        return bad
    # A link between two cells both families show is implied by their values: only the others tie the
    # programmes together, and a component with no link left was solved by its own family's audit.
    pairs = []
    for i, ki, j, kj in links:
        a, b = cubes[i]._cells.get(ki), cubes[j]._cells.get(kj)
        if not full and a is not None and b is not None and not a.hidden and not b.hidden and a.value == b.value:
            continue
        pairs.append((cubes[i]._index(ki) + offsets[i], cubes[j]._index(kj) + offsets[j]))
    if not pairs and not full:
        return bad
    ranges = audit_ranges(int(offsets[-1]), visible, hidden, targets, enough=enough, links=pairs,
                          linked_only=not full)
    for (n, key), (lo, hi), (_, width) in zip(owner, ranges, enough):
        if not np.isnan(lo) and (hi - lo) < width:  # nan: not linked, passed its own family's audit
            bad[n].append((key, lo, hi))
    return bad


def _linked_key(cubes: Sequence[Cube], links) -> str:
    """Cache key of a joint protection: each cube's own key, its hidden pattern on entry, and the links."""
    import hashlib
    import json

    h = hashlib.sha256(b"linked")
    for c in cubes:
        h.update(_gate_key(c, threshold(c.source), None, sorted(c._keep)).encode())
        h.update(json.dumps(sorted(list(k) for k, cell in c._cells.items() if cell.hidden)).encode())
    h.update(json.dumps([[i, list(ki), j, list(kj)] for i, ki, j, kj in links]).encode())
    return h.hexdigest()


def _restore_linked(cubes: Sequence[Cube], cached: dict) -> bool:
    records = cached.get("cubes")
    if not isinstance(records, list) or len(records) != len(cubes):
        return False
    patterns = []
    for c, rec in zip(cubes, records):
        hidden = {c._key(tuple(k)) for k in rec.get("hidden", [])}
        primary = {k for k, cell in c._cells.items() if cell.primary}
        if not (hidden <= set(c._cells) and primary <= hidden):
            return False
        patterns.append(hidden)
    for c, rec, hidden in zip(cubes, records, patterns):
        for k, cell in c._cells.items():
            cell.hidden = k in hidden
        c.withheld = rec.get("withheld")
        c.blank = bool(rec.get("blank"))
    return True


# =========================================================================== the gate's disk cache
def _gate_key(cube: Cube, t: int, extra_hidden, keep_visible) -> str:
    """SHA-256 of everything a protection depends on: the cube (name, source, dimensions and nodes, true base
    counts, registered cells), the cells other families hide or publish, the threshold, the rules in
    ``config/disclosure.yaml`` and the source of this module. The same key gives the same hidden pattern, since
    the gate is deterministic."""
    import hashlib
    import json
    from pathlib import Path

    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(json.dumps(rules(), sort_keys=True, default=str).encode())
    h.update(json.dumps([cube.name, cube.source, cube.unit, t,
                         [[d.name, list(d.base), sorted((k, list(v)) for k, v in d.nodes.items())] for d in cube.dims],
                         list(cube.truth.shape), [list(k) for k in cube._cells],
                         sorted([list(map(str, cube._key(k))), repr(v)] for k, v in dict(extra_hidden or {}).items()),
                         sorted(list(map(str, cube._key(k))) for k in (keep_visible or ()))],
                        default=str).encode())
    h.update(np.ascontiguousarray(cube.truth, dtype=np.int64).tobytes())
    return h.hexdigest()


def _gate_cache_dir():
    from svtools.paths import processed_dir

    return processed_dir() / ".cache" / "gate"


def _gate_cache_read(key: str) -> dict | None:
    """A previous protection with the same key (``<processed>/.cache/gate/<key>.json``), or None. Protecting a
    force's families takes seconds to minutes (one integer programme per hidden cell); every worker of a run and
    every later run with the same data and code reads the pattern instead. ``SVTOOLS_GATE_CACHE=0`` turns it
    off. Any problem with the cache only means protecting again."""
    import json
    import os

    if os.environ.get("SVTOOLS_GATE_CACHE", "1") == "0":
        return None
    try:
        return json.loads((_gate_cache_dir() / f"{key}.json").read_text())
    except Exception:  # noqa: BLE001 - missing or damaged: protect again
        return None


def _gate_cache_write(key: str, record: dict) -> None:
    import json
    import os
    import tempfile

    if os.environ.get("SVTOOLS_GATE_CACHE", "1") == "0":
        return
    try:
        folder = _gate_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gate-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, folder / f"{key}.json")  # atomic: a reader sees the whole record or none
    except Exception:  # noqa: BLE001 - a read-only data folder: no cache
        pass


class ProtectedCube:
    """The published values of a cube after the gate: visible counts, ``None`` for hidden ones."""

    def __init__(self, cube: Cube, values: dict, primary: set, t: int):
        self.cube = cube
        self.name = cube.name
        self.values = values
        self.primary = primary
        self.threshold = t

    def value(self, key) -> int | None:
        key = self.cube._key(key)
        try:
            return self.values[key]
        except KeyError:
            raise DisclosureError(f"{self.name}: {key} was not registered for publication") from None

    def hidden_count(self) -> int:
        return sum(v is None for v in self.values.values())

    def table(self, rows: str, columns: str | None = None, *, fixed: Mapping[str, str] | None = None,
              row_nodes: Sequence[str] | None = None, column_nodes: Sequence[str] | None = None,
              name: str | None = None, row_title: str | None = None,
              column_titles: Mapping[str, str] | None = None) -> PublishedTable:
        """A 1- or 2-way view of the published cells (every other dimension fixed to a node)."""
        fixed = dict(fixed or {})
        rdim = self.cube.dim(rows)
        rnodes = list(row_nodes) if row_nodes is not None else list(rdim.base)
        cdim = self.cube.dim(columns) if columns else None
        cnodes = (list(column_nodes) if column_nodes is not None else list(cdim.base)) if cdim else [None]
        data = {}
        for cn in cnodes:
            col = []
            for rn in rnodes:
                key = {**fixed, rows: rn}
                if cdim:
                    key[columns] = cn
                col.append(self.value(key))
            data[cn if cdim else self.cube.unit] = col
        frame = pd.DataFrame(data, index=pd.Index(rnodes, name=row_title or rows), dtype="Int64")
        if column_titles:
            frame = frame.rename(columns=dict(column_titles))
        meta = {"family": self.name, "rows": rows, "columns": columns, "fixed": fixed,
                "source": self.cube.source, "threshold": self.threshold, "unit": self.cube.unit}
        if self.cube.blank:
            meta["blank"] = True  # its "*" may be a 0 (an attacker's bound is 0, not 1)
        return PublishedTable(_GATE, name or self.name, frame, meta)


_GATE = object()


class PublishedTable:
    """Counts as published: visible integers and ``<NA>`` where hidden. Only the gate makes one.

    Attributes
    ----------
    name : str
    counts : DataFrame
        Nullable integer counts (``<NA>`` = hidden).
    meta : dict
        Family, dimensions, source and threshold (recorded in the manifest).
    """

    def __init__(self, token, name: str, counts: pd.DataFrame, meta: dict):
        if token is not _GATE:
            raise DisclosureError("a PublishedTable can only be made by the disclosure gate "
                                  "(svtools.publish.disclosure.ProtectedCube.table)")
        self.name = name
        self.counts = counts
        self.meta = dict(meta)

    @property
    def hidden(self) -> pd.DataFrame:
        return self.counts.isna()

    def text(self, marker: str | None = None) -> pd.DataFrame:
        """Display strings: counts with thousands separators, the marker where hidden."""
        mk = marker or rules()["marker"]
        return self.counts.apply(lambda s: s.map(lambda v: mk if pd.isna(v) else f"{int(v):,}")).astype(object)

    def column(self, name) -> pd.Series:
        return self.counts[name]

    def __repr__(self) -> str:
        return f"PublishedTable({self.name!r}, {self.counts.shape[0]}x{self.counts.shape[1]}, hidden={int(self.hidden.sum().sum())})"


def require_published(obj, what: str = "a chart") -> PublishedTable:
    """Raise unless ``obj`` came from the gate (charts and sentences call this on their data)."""
    if not isinstance(obj, PublishedTable):
        raise DisclosureError(f"{what} must be drawn from a PublishedTable made by the disclosure gate, "
                              f"not from {type(obj).__name__}")
    return obj


def share(numerator, denominator, decimals: int = 0) -> str | None:
    """A percentage from two published counts; None (not shown) when either is hidden or the base is 0."""
    if numerator is None or denominator is None or pd.isna(numerator) or pd.isna(denominator):
        return None
    if float(denominator) <= 0:
        return None
    return f"{100.0 * float(numerator) / float(denominator):.{decimals}f}%"


def none_if_na(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v


_GATE_ATTR = "published_by_gate"


def _mark(frame, name: str):
    frame = frame.copy()
    frame.attrs[_GATE_ATTR] = name
    return frame


def frame_of(table: PublishedTable) -> pd.DataFrame:
    """The table's counts as a DataFrame marked as published (what charts accept)."""
    require_published(table, "a chart's data")
    return _mark(table.counts, table.name)


def derived(frame, *tables: PublishedTable):
    """Mark ``frame`` (e.g. SPC limits computed from a published series) as derived from published tables only.

    The caller vouches that every number in ``frame`` was computed from the published (visible) counts of
    ``tables`` - never from the records - so that it reveals nothing the tables do not.
    """
    for t in tables:
        require_published(t, "derived data")
    return _mark(frame, "+".join(t.name for t in tables))


def require_gate_frame(frame, what: str = "a chart"):
    """Raise unless ``frame`` came from :func:`frame_of` or :func:`derived` (charts call this on their data)."""
    if not isinstance(frame, (pd.DataFrame, pd.Series)) or not frame.attrs.get(_GATE_ATTR):
        raise DisclosureError(f"{what} must be drawn from numbers published by the disclosure gate "
                              f"(svtools.publish.disclosure.frame_of / derived), not from raw counts")
    return frame
