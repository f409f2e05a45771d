"""Protected series for count tables (``kind: counts`` datasets such as the London borough series).

A count table has no records: it is a table of area x month x category counts
(``aggregate_counts.parquet``). Pages of such a dataset read their numbers from the families built here, never
from the table itself, exactly as record pages read :mod:`svtools.publish.tables`:

* a page's definition (e.g. ``london_serious_violence``) and its measures (``measures:`` in the YAML: violence
  with injury, robbery, possession of weapons, homicide) are split into **families**: definitions that share a
  category are one family (the group and its parts), a definition sharing none (homicide) is a family of its
  own. A family is one :class:`~svtools.publish.disclosure.Cube` of base cells CSP x month x *atom* (the
  coarsest split of the categories the family's definitions need: robbery of personal and of business property
  are one atom, since no page shows them apart), with nodes for
  - areas: each force is its CSPs (:func:`svtools.publish.tables._area_dim`);
  - periods: months, financial-year quarters, complete financial years, the whole period and the latest 12
    months (:func:`svtools.publish.tables._time_dim`);
  - categories: each definition is its atoms (the group is violence with injury + robbery + weapons).
  So the group, its parts, the force and every coarser period are protected together: differencing any of them
  is in the gate's audit.
* each (area, definition) series is published at the finest resolution with no point of 1 to the threshold
  (:func:`svtools.publish.tables.series_resolution`); a force only at a resolution all its CSPs are published
  at (the rule of ``config/disclosure.yaml`` and :mod:`svtools.publish.tables`). A **group** is published at its
  own finest resolution only when what subtraction gives is never one part: the parts published more coarsely
  than the group must be none, or at least two whose sum has no small point at the group's resolution. When a
  single part is coarser (possession of weapons by quarter in most boroughs), the smallest of the group's
  other parts is published at that part's resolution too (robbery), so that the group minus the finer parts is
  the sum of both, never weapons alone; when even that sum has small points, the group is published at its
  parts' coarsest resolution.
* after the gate, :meth:`CountFamily.series` gives a series only where every point is visible (else the whole
  financial years, else nothing), so charts and models are computed from published points only.

Every family is protected once per process and cached (keyed on the dataset's content digest, the force, the
definitions and the period), so a CSP page, its siblings' pages and the force overview publish the same numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from svtools.errors import SvtoolsError
from svtools.ingest.definitions import Definition, definition_for, load_definition
from svtools.ingest.store import csp_codes, dataset_info, load_table
from svtools.publish.disclosure import Cube, DisclosureError, Dim, ProtectedCube, PublishedTable, threshold
from svtools.publish.tables import (
    LATEST_12,
    RESOLUTIONS,
    TOTAL,
    _area_dim,
    _areas,
    _digest,
    _time_dim,
    month_label,
    series_resolution,
)

__all__ = [
    "CountFamily",
    "page_definitions",
    "families",
    "count_family",
    "family_for",
    "RESOLUTION_WORDS",
]

#: Words for a resolution in page text.
RESOLUTION_WORDS = {"month": "month", "quarter": "quarter", "financial_year": "financial year"}
_ORDER = {r: i for i, r in enumerate(RESOLUTIONS)}


# =========================================================================== the page's definitions
def page_definitions(definition: str | Definition, dataset: str) -> tuple[Definition, ...]:
    """The definition a page of ``dataset`` uses (:func:`svtools.ingest.definitions.definition_for`) followed
    by its measures, each checked against the dataset's categories."""
    main = definition_for(definition.name if isinstance(definition, Definition) else definition, dataset)
    out = [main]
    for name in main.measures:
        m = definition_for(name, dataset)
        if not m.for_counts:  # pragma: no cover - definition_for never returns a record definition here
            raise SvtoolsError(f"measure '{name}' of '{main.name}' is not a count-table definition")
        if m.name not in {d.name for d in out}:
            out.append(m)
    return tuple(out)


def families(defs: Sequence[Definition]) -> list[tuple[str, ...]]:
    """Definitions that share a category, in the order given, grouped into families (connected components)."""
    names = [d.name for d in defs]
    cats = {d.name: set(d.categories) for d in defs}
    parent = {n: n for n in names}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if cats[a] & cats[b]:
                parent[find(b)] = find(a)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    return [tuple(g) for g in groups.values()]


def _atoms(defs: Sequence[Definition]) -> tuple[list[str], dict[str, str], dict[str, tuple[str, ...]]]:
    """Base categories of a family: categories with the same membership across its definitions are one atom.

    Returns (atom labels in order, category -> atom, definition -> its atoms). An atom that is exactly one
    definition's categories is labelled with that definition's name.
    """
    order: list[str] = []
    for d in defs:
        order += [c for c in d.categories if c not in order]
    signature = {c: tuple(d.name for d in defs if c in d.categories) for c in order}
    atoms: dict[tuple, list[str]] = {}
    for c in order:
        atoms.setdefault(signature[c], []).append(c)
    labels: dict[tuple, str] = {}
    for sig, members in atoms.items():
        exact = [d.name for d in defs if set(d.categories) == set(members)]
        labels[sig] = exact[0] if exact else " + ".join(members)
    cat_atom = {c: labels[signature[c]] for c in order}
    per_def = {d.name: tuple(dict.fromkeys(cat_atom[c] for c in d.categories)) for d in defs}
    return list(labels.values()), cat_atom, per_def


def _parts(per_def: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """For each definition made of two or more other definitions of the family that split it exactly (no
    overlap, nothing left over): those parts, largest definitions first."""
    out = {}
    for name, atoms in per_def.items():
        if len(atoms) < 2:
            continue
        inside = [n for n, a in per_def.items() if n != name and set(a) < set(atoms)]
        inside.sort(key=lambda n: -len(per_def[n]))
        chosen, covered = [], set()
        for n in inside:
            if not (set(per_def[n]) & covered):
                chosen.append(n)
                covered |= set(per_def[n])
        if covered == set(atoms) and len(chosen) >= 2:
            out[name] = tuple(chosen)
    return out


# =========================================================================== the family
@dataclass
class CountFamily:
    """A protected area x period x definition family of a count table, with each series' resolution.

    Attributes
    ----------
    cubes : dict
        Area code -> the :class:`~svtools.publish.disclosure.ProtectedCube` holding its cells (dimensions
        ``area_code``, ``period``, ``category``: a definition name). The CSPs share one cube; a force is in the
        same cube, or in a cube of its own when each of its cells is the sum of visible CSP cells (see
        :func:`count_family`).
    levels : dict
        Period labels of each resolution (``month``, ``quarter``, ``financial_year``).
    planned : dict
        ``(area, definition) -> resolution`` registered for publication (None: by financial year and in total
        only, hidden where small).
    reasons : dict
        ``(area, definition) -> sentence`` when a series is published more coarsely than its own counts allow,
        for the page to say why.
    definitions : tuple of str
        The family's definitions (category nodes).
    parts : dict
        Group -> the definitions that split it.
    own : dict
        ``(area, definition) -> resolution`` its own counts would allow (before the group and force rules).
    """

    cubes: dict[str, ProtectedCube]
    levels: dict[str, list[str]]
    planned: dict[tuple[str, str], str | None]
    reasons: dict[tuple[str, str], str]
    definitions: tuple[str, ...]
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    own: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def cube_of(self, area: str) -> ProtectedCube:
        try:
            return self.cubes[str(area)]
        except KeyError:
            raise SvtoolsError(f"area {area} is not in this family ({len(self.cubes)} areas)") from None

    @property
    def hidden_count(self) -> int:
        return sum(c.hidden_count() for c in {id(c): c for c in self.cubes.values()}.values())

    def value(self, area: str, definition: str, period: str) -> int | None:
        """One published cell (None: hidden)."""
        return self.cube_of(area).value((area, period, definition))

    def _visible(self, area: str, definition: str, labels: Sequence[str]) -> bool:
        try:
            return bool(labels) and all(self.value(area, definition, p) is not None for p in labels)
        except DisclosureError:  # a period not registered for this series
            return False

    def resolution(self, area: str, definition: str) -> str | None:
        """The finest resolution at which the area's series is published with every point visible: the planned
        one, else whole financial years (always registered), else None."""
        r = self.planned.get((area, definition))
        if r is not None and self._visible(area, definition, self.levels[r]):
            return r
        fy = self.levels["financial_year"]
        if r != "financial_year" and self._visible(area, definition, fy):
            return "financial_year"
        return None

    def series(self, area: str, definition: str, resolution: str | None = None) -> pd.Series | None:
        """The area's published series (index: period labels, named by the resolution), or None."""
        r = resolution or self.resolution(area, definition)
        if r is None:
            return None
        labels = self.levels[r]
        if not self._visible(area, definition, labels):
            return None
        vals = [self.value(area, definition, p) for p in labels]
        return pd.Series(vals, index=pd.Index(labels, name=r), dtype="Int64", name=definition)

    def table(self, area: str, definition: str, periods: Sequence[str], *, name: str | None = None,
              row_title: str | None = None) -> PublishedTable:
        """A one-column published table of the area's cells over ``periods`` (hidden cells as <NA>)."""
        return self.cube_of(area).table("period", None, fixed={"area_code": area, "category": definition},
                                        row_nodes=list(periods), name=name or f"{definition}_{area}",
                                        row_title=row_title)

    def areas_table(self, areas: Sequence[str], definition: str, period: str, *, name: str | None = None,
                    row_title: str | None = None) -> PublishedTable:
        """A one-column published table of several areas' cells in one period (e.g. every CSP's latest 12
        months); the areas must share a cube (the CSPs always do)."""
        cubes = {id(self.cube_of(a)) for a in areas}
        if len(cubes) != 1:
            raise SvtoolsError("areas_table: the areas are in different cubes (a force and its CSPs); ask for "
                               "them separately")
        return self.cube_of(areas[0]).table("area_code", None, fixed={"period": period, "category": definition},
                                            row_nodes=list(areas), name=name or f"{definition}_{period}",
                                            row_title=row_title)

    def years_table(self, area: str, definitions: Sequence[str], *, name: str,
                    column_titles: dict | None = None) -> PublishedTable:
        """The area's financial years (and the whole period) by definition, one column per definition."""
        rows = list(self.levels["financial_year"]) + [TOTAL]
        return self.cube_of(area).table("period", "category", fixed={"area_code": area}, row_nodes=rows,
                                        column_nodes=list(definitions), name=name, row_title="Financial year",
                                        column_titles=column_titles)


def _time_atoms(labels: Sequence[str], nodes: dict[str, tuple[str, ...]]) -> tuple[Dim, dict[str, str]]:
    """The coarsest split of the months such that every registered period node is a union of its parts.

    Months no published cell tells apart are one base cell of the cube: the attacker's unknowns are then the
    same sums the published cells are made of, so the audit is exact and much smaller (homicide, published by
    financial year and in total only, has 14 period cells per CSP instead of 155 months).
    Returns the period dimension (base: the parts, labelled by their month or ``first..last (n months)``;
    nodes: the registered labels) and month -> part label.
    """
    classes = [tuple(labels)]
    for members in nodes.values():
        inside = set(members)
        split = []
        for c in classes:
            a = tuple(m for m in c if m in inside)
            b = tuple(m for m in c if m not in inside)
            split += [x for x in (a, b) if x]
        classes = split
    classes.sort(key=lambda c: labels.index(c[0]))
    name = {c: c[0] if len(c) == 1 else f"{c[0]}..{c[-1]} ({len(c)} months)" for c in classes}
    month_atom = {m: name[c] for c in classes for m in c}
    dim_nodes = {}
    for k, members in nodes.items():
        parts = tuple(dict.fromkeys(month_atom[m] for m in members))
        if parts != (k,):
            dim_nodes[k] = parts
    return Dim("period", tuple(name[c] for c in classes), dim_nodes), month_atom


def _frame(dataset: str, codes: Sequence[str], cat_atom: dict[str, str], start: str, end: str) -> pd.DataFrame:
    """Monthly counts of the CSPs by atom: ``area_code, month (label), category (atom), count``."""
    t = load_table("aggregate_counts", dataset)
    t = t[t["category"].isin(list(cat_atom)) & t["csp_code"].isin(list(codes))]
    if "resolution" in t.columns and (t["resolution"] != "month").any():
        raise SvtoolsError(f"dataset '{dataset}': the count pages need monthly counts; this table has "
                           f"{sorted(set(t['resolution']) - {'month'})} cells")
    if "suppressed" in t.columns and t["suppressed"].astype(bool).any():
        raise SvtoolsError(f"dataset '{dataset}': {int(t['suppressed'].sum())} cells of the definition's "
                           "categories arrived suppressed at source; the count pages cannot publish series from "
                           "them (only complete monthly tables are supported)")
    t = t[(t["month"] >= pd.Timestamp(start)) & (t["month"] <= pd.Timestamp(end))]
    g = (t.assign(atom=t["category"].map(cat_atom)).groupby(["csp_code", "month", "atom"], observed=True)["count"]
         .sum().reset_index())
    return pd.DataFrame({"area_code": g["csp_code"].astype(str), "month": g["month"].map(month_label),
                         "category": g["atom"].astype(str), "count": g["count"].astype("int64")})


@functools.lru_cache(maxsize=32)
def _family(dataset: str, force: str, names: tuple[str, ...], start: str, end: str, digest: str) -> CountFamily:
    info = dataset_info(dataset)
    source = str(info.get("disclosure") or "police")
    unit = str(info.get("measure") or "offences")
    t = threshold(source)
    defs = [load_definition(n) for n in names]
    atoms, cat_atom, per_def = _atoms(defs)
    parts = _parts(per_def)
    areas = _areas(dataset, digest)
    codes = csp_codes(dataset, force)
    adim = _area_dim(areas, codes, with_all=False)
    tdim, levels = _time_dim(start, end)
    cdim = Dim("category", tuple(atoms), {n: a for n, a in per_def.items() if a != (n,)})
    counts = _frame(dataset, adim.base, cat_atom, start, end)

    # ------------------------------------------------------------------ the resolution of every series
    truth = np.zeros((len(adim.base), len(tdim.base), len(atoms)), dtype=np.int64)
    a_ix = {a: i for i, a in enumerate(adim.base)}
    m_ix = {m: i for i, m in enumerate(tdim.base)}
    c_ix = {c: i for i, c in enumerate(atoms)}
    if len(counts):
        np.add.at(truth, (counts["area_code"].map(a_ix).to_numpy(), counts["month"].map(m_ix).to_numpy(),
                          counts["category"].map(c_ix).to_numpy()), counts["count"].to_numpy(np.int64))
    p_ix = {r: [tdim.positions(p) for p in levels[r]] for r in RESOLUTIONS}

    def points(area_node: str, atom_set: Sequence[str], r: str) -> list[int]:
        rows = [a_ix[x] for x in adim.members(area_node)]
        cols = [c_ix[x] for x in atom_set]
        block = truth[rows][:, :, cols].sum(axis=(0, 2))
        return [int(block[ix].sum()) for ix in p_ix[r]]

    def finest(area_node: str, atom_set: Sequence[str], from_r: str | None = "month") -> str | None:
        if from_r is None:
            return None
        for r in RESOLUTIONS[_ORDER[from_r]:]:
            pts = points(area_node, atom_set, r)
            if pts and series_resolution(pts, t):
                return r
        return None

    def coarser(a: str | None, b: str | None) -> bool:
        """True when resolution ``a`` is coarser than ``b`` (None is coarsest)."""
        if a is None:
            return b is not None
        return b is not None and _ORDER[a] > _ORDER[b]

    def coarsest(rs) -> str | None:
        rs = list(rs)
        if any(r is None for r in rs):
            return None
        return max(rs, key=lambda r: _ORDER[r]) if rs else None

    def union(ds: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(a for d in ds for a in per_def[d]))

    def by(r: str | None) -> str:
        return RESOLUTION_WORDS[r] if r else "financial year at most"

    words = {d.name: d.short_title for d in defs}
    reasons: dict[tuple[str, str], str] = {}
    own: dict[tuple[str, str], str | None] = {}

    def apply_parts(area: str, res: dict[str, str | None]) -> None:
        """The group rule (module notes), repeated until nothing changes."""
        changed = True
        while changed:
            changed = False
            for g, ps in parts.items():
                r = res[g]
                if r is None:
                    continue
                late = [p for p in ps if coarser(res[p], r)]
                if not late or (len(late) >= 2 and series_resolution(points(area, union(late), r), t)):
                    continue
                target = coarsest(res[p] for p in late)
                spare = sorted((p for p in ps if p not in late),
                               key=lambda p: sum(points(area, per_def[p], "financial_year")))
                for p in spare:
                    if series_resolution(points(area, union(late + [p]), r), t):
                        res[p] = target
                        lw = " and ".join(words[x] for x in late)
                        reasons[(area, p)] = (
                            f"{lw} {'is' if len(late) == 1 else 'are'} published by {by(target)}, so {words[p]} is "
                            f"too: that way {words[g]}, published by {by(r)}, minus its other parts never gives "
                            f"{' or '.join(words[x] for x in late)} alone")
                        break
                else:
                    res[g] = target
                    reasons[(area, g)] = (f"its part{'s' if len(late) > 1 else ''} "
                                          f"{' and '.join(words[x] for x in late)} "
                                          f"{'are' if len(late) > 1 else 'is'} published by {by(target)} only")
                changed = True

    planned: dict[tuple[str, str], str | None] = {}
    for a in adim.base:
        res = {n: finest(a, per_def[n]) for n in names}
        own.update({(a, n): r for n, r in res.items()})
        apply_parts(a, res)
        planned.update({(a, n): r for n, r in res.items()})
    for f, members in adim.nodes.items():
        res = {}
        for n in names:
            rs = [planned[(c, n)] for c in members]
            res[n] = None if any(r is None for r in rs) else finest(f, per_def[n], coarsest(rs))
            own[(f, n)] = finest(f, per_def[n])
            if res[n] != own[(f, n)]:
                reasons[(f, n)] = ("a force is published only at a resolution all its CSPs are published at, so "
                                   "that no CSP's counts can be had by subtracting the others from the force")
        apply_parts(f, res)
        planned.update({(f, n): r for n, r in res.items()})

    # ------------------------------------------------------------------ the cells, and the gate
    periods = list(levels["financial_year"]) + [TOTAL] + ([LATEST_12] if LATEST_12 in tdim.nodes else [])
    cells = {(a, p, n) for a in list(adim.base) + list(adim.nodes) for p in periods for n in names}
    for (a, n), r in planned.items():
        if r is not None:
            cells |= {(a, p, n) for p in levels[r]}
    used = sorted({p for _, p, _ in cells}, key=lambda p: (len(tdim.members(p)), p))
    pdim, month_atom = _time_atoms(list(tdim.base), {p: tdim.members(p) for p in used})
    frame = counts.assign(period=counts["month"].map(month_atom)).drop(columns="month")
    name = "counts__" + "__".join(names)

    def cube(area_dim: Dim, keys, suffix: str = "") -> Cube:
        c = Cube(name + suffix, [area_dim, pdim, cdim], frame[frame["area_code"].isin(area_dim.base)],
                 source=source, unit=unit)
        c.publish(sorted(keys))
        return c

    csp_cells = {k for k in cells if k[0] in a_ix}
    force_cells = cells - csp_cells
    csp_dim = Dim("area_code", adim.base)
    protected = cube(csp_dim, csp_cells).protect()
    # A force cell that is the sum of its CSPs' cells at the same period and definition, all published and
    # visible, tells an attacker nothing those cells do not: the force is then published from a cube of its
    # own (the audit of the CSPs' cube is unchanged, and far smaller without the force linking every CSP).
    # Otherwise the force and its CSPs are protected together in one cube.
    derived = all(all(protected.values.get((c, p, n)) is not None for c in adim.members(a))
                  for a, p, n in force_cells)
    if derived:
        fcube = {}
        for f in adim.nodes:
            # the force as one base area: its cells are the sums above (the truth of the CSP cube, summed)
            fdim = Dim("area_code", (f,))
            fframe = frame[frame["area_code"].isin(adim.members(f))].assign(area_code=f)
            c = Cube(name + "__force", [fdim, pdim, cdim], fframe, source=source, unit=unit)
            c.publish(sorted(k for k in force_cells if k[0] == f))
            fcube[f] = c.protect()
        cubes = {a: protected for a in adim.base} | fcube
    else:
        joint = cube(Dim("area_code", adim.base, adim.nodes), cells).protect()
        cubes = {a: joint for a in list(adim.base) + list(adim.nodes)}
    return CountFamily(cubes, levels, planned, reasons, tuple(names), parts, own)


def count_family(dataset: str, force: str, definitions: Sequence[str], start, end) -> CountFamily:
    """The protected family of ``definitions`` (names of count definitions that form one family) for a force."""
    s, e = str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    return _family(dataset, force, tuple(definitions), s, e, _digest(dataset))


def family_for(dataset: str, force: str, page_definition: str, definition: str, start, end) -> CountFamily:
    """The protected family holding ``definition`` among the page definition's families (cached)."""
    defs = page_definitions(page_definition, dataset)
    for fam in families(defs):
        if definition in fam:
            return count_family(dataset, force, fam, start, end)
    raise SvtoolsError(f"'{definition}' is not '{defs[0].name}' or one of its measures "
                       f"({', '.join(d.name for d in defs[1:]) or 'none'})")
