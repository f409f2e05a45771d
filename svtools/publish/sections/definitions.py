"""Definition comparison (``definition_comparison.ipynb``): what each local definition of serious violence counts in
a force's CSPs, how much two definitions overlap, and which offence groups make the difference.

Every number comes from one protected family per page: a cube of the force's CSPs (and the force) x ONS offence
subgroup x *membership* (which of the definitions an offence meets: each combination is one base label, so
"in A", "in A and B", "in A but not B" are nodes of sums of them and ``|A| = both + only A`` holds in the cube).
The cells of each definition's total per area are also cells of that definition's own area x period family (the
profile pages' headline numbers, :func:`svtools.publish.tables.series_cube`): hidden there, they are hidden here,
and visible there, they are never chosen to hide here, so a hidden overlap cannot be recovered from a profile's
total. Differences against other tables of a single definition are not audited (``docs/disclosure.md``).

The counts are of the monthly count table (``monthly_counts``: offences by CSP, month, Home Office code and flags),
the same table the profiles' totals come from. A definition that needs a field the table does not hold (a
location type, a suspect's age) cannot be compared here: the page says so in one line rather than show it as 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from svtools.errors import DataValidationError, SvtoolsError
from svtools.ingest.definitions import Definition, definition_mask, load_definition
from svtools.publish import charts, disclosure, tables
from svtools.publish.disclosure import Cube, Dim
from svtools.publish.sections.context import (
    SectionResult,
    _say,
    _show,
    _skip,
    hidden_note,
    publish_gated,
)

__all__ = [
    "DefinitionsContext",
    "membership_counts",
    "definition_totals",
    "pair_overlap",
    "definitions_captured",
    "definitions_overlap",
    "definitions_difference",
]

TOTAL = tables.TOTAL
#: The offence-group label of a Home Office code the reference table does not know.
UNKNOWN_GROUP = "Offence group not known"
#: How many offence groups a "what makes the difference" table shows (every group is in its CSV).
TOP_GROUPS = 6


# =========================================================================== arithmetic (tested directly)
def _pattern(flags: tuple[bool, ...], names: list[str]) -> str:
    return "+".join(n for n, f in zip(names, flags) if f)


def membership_counts(frame: pd.DataFrame, definitions: list[Definition | str],
                      by: list[str] | tuple[str, ...] = ("csp_code",)) -> pd.DataFrame:
    """Offences by which of ``definitions`` they meet: one row per ``by`` x membership pattern (``"a+b"``: in a and
    b, in no other), with ``count``; offences in none of the definitions are left out.

    ``frame`` is a table of counts (column ``offences``) or of records (each row counts once).
    """
    defs = [load_definition(d) if isinstance(d, str) else d for d in definitions]
    names = [d.name for d in defs]
    masks = np.column_stack([definition_mask(frame, d).to_numpy(bool) for d in defs])
    weight = (frame["offences"].astype("Int64").fillna(0).to_numpy(np.int64) if "offences" in frame.columns
              else np.ones(len(frame), np.int64))
    keep = masks.any(axis=1)
    labels = np.array(["+".join(n for n, f in zip(names, row) if f) for row in masks[keep]], dtype=object)
    g = frame.loc[keep, list(by)].astype("string").fillna(UNKNOWN_GROUP).copy()
    g["membership"] = labels
    g["count"] = weight[keep]
    return g.groupby([*by, "membership"], observed=True)["count"].sum().reset_index()


def _patterns(names: list[str]) -> list[str]:
    """Every non-empty combination of the definitions, as the membership labels :func:`membership_counts` gives."""
    out = []
    for flags in itertools.product([True, False], repeat=len(names)):
        if any(flags):
            out.append(_pattern(flags, names))
    return out


def _nodes(names: list[str]) -> dict[str, tuple[str, ...]]:
    """Membership nodes: each definition (``a``), each pair (``a&b`` both, ``a-b`` in a not b)."""
    pats = _patterns(names)
    parts = {p: set(p.split("+")) for p in pats}
    nodes = {n: tuple(p for p in pats if n in parts[p]) for n in names}
    for a, b in itertools.permutations(names, 2):
        nodes[f"{a}-{b}"] = tuple(p for p in pats if a in parts[p] and b not in parts[p])
    for a, b in itertools.combinations(names, 2):
        nodes[f"{a}&{b}"] = tuple(p for p in pats if a in parts[p] and b in parts[p])
    return nodes


def definition_totals(counts: pd.DataFrame, names: list[str], by: str = "csp_code") -> pd.DataFrame:
    """From :func:`membership_counts`: offences each definition counts (columns) by ``by`` (rows)."""
    out = {}
    for n in names:
        inside = counts["membership"].str.split("+").map(lambda parts, n=n: n in parts)
        out[n] = counts[inside].groupby(by)["count"].sum()
    return pd.DataFrame(out).fillna(0).astype("int64")


def pair_overlap(counts: pd.DataFrame, a: str, b: str, by: str = "csp_code") -> pd.DataFrame:
    """From :func:`membership_counts`: ``both``, ``only_<a>``, ``only_<b>``, ``<a>`` and ``<b>`` by ``by``, the
    columns :func:`svtools.ingest.definitions.definition_overlap` gives (``<a> = both + only_<a>``)."""
    parts = counts["membership"].str.split("+")
    ina = parts.map(lambda p: a in p).to_numpy(bool)
    inb = parts.map(lambda p: b in p).to_numpy(bool)
    c = counts["count"].to_numpy(np.int64)
    frame = pd.DataFrame({by: counts[by].to_numpy(), "both": np.where(ina & inb, c, 0),
                          f"only_{a}": np.where(ina & ~inb, c, 0), f"only_{b}": np.where(~ina & inb, c, 0),
                          a: np.where(ina, c, 0), b: np.where(inb, c, 0)})
    return frame.groupby(by).sum().astype("int64")


# =========================================================================== the page's context and family
@dataclass
class DefinitionsContext:
    """One force, one dataset, several definitions and one period: the protected comparison family.

    Built by :meth:`load`; ``definitions`` are those that can be compared (``not_comparable``: the others, with the
    reason), ``cube`` the protected family (None with fewer than two comparable definitions).
    """

    ctx: object  # the force's ProfileContext (names, period, prefix)
    definitions: list[Definition]
    not_comparable: dict[str, str]
    areas: list[str]
    area_names: dict[str, str]
    groups: list[str]
    counts: pd.DataFrame
    cube: object | None = None
    nodes: dict = field(default_factory=dict)
    by_group: bool = False  # True when the offence groups of each difference are published (for the force)
    linked: bool = True  # False when the profiles' visible totals could not be kept visible here
    pair_areas: list = field(default_factory=list)  # the areas whose overlaps are published (CSPs and force)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.definitions]

    def title(self, name: str) -> str:
        return next(d.short_title for d in self.definitions if d.name == name)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return list(itertools.combinations(self.names, 2))

    @classmethod
    def load(cls, pfa_code: str, dataset: str, definitions: list[str], period_end: str | None = None
             ) -> DefinitionsContext:
        """The comparison of ``definitions`` (two or more names) for the force ``pfa_code``."""
        from svtools.ingest.reference import offence_codes
        from svtools.ingest.store import load_table
        from svtools.publish.sections.context import ProfileContext

        names = list(dict.fromkeys(definitions or []))
        if len(names) < 2:
            raise SvtoolsError(f"a definition comparison needs two or more definitions, not {names}")
        ctx = ProfileContext.load_force(pfa_code, dataset, names[0], period_end)
        m = load_table("monthly_counts", dataset)
        m = m[m["csp_code"].isin(ctx.csp_codes) & (m["month"] >= ctx.period_start) & (m["month"] <= ctx.period_end)]
        ref = offence_codes().drop_duplicates("ho_offence_code").set_index("ho_offence_code")["offence_subgroup"]
        m = m.assign(offence_subgroup=m["ho_offence_code"].astype("string").map(ref).astype("string")
                     .fillna(UNKNOWN_GROUP))
        usable, not_comparable = [], {}
        for n in names:
            d = load_definition(n)
            try:
                definition_mask(m.head(1), d)
                usable.append(d)
            except DataValidationError as exc:
                not_comparable[n] = f"{d.short_title}: it needs {getattr(exc, 'column', None) or exc}"
        areas = list(ctx.csp_codes)
        a_rows = ctx.areas[ctx.areas["csp_code"].isin(areas)]
        area_names = dict(zip(a_rows["csp_code"].astype(str), a_rows["csp_name"].astype(str)))
        area_names[ctx.force_code] = f"{ctx.force_name} (all CSPs)"
        counts = membership_counts(m, usable, by=("csp_code", "offence_subgroup")) if len(usable) >= 2 else \
            pd.DataFrame(columns=["csp_code", "offence_subgroup", "membership", "count"])
        groups = sorted(counts["offence_subgroup"].astype(str).unique())
        out = cls(ctx=ctx, definitions=usable, not_comparable=not_comparable, areas=areas, area_names=area_names,
                  groups=groups, counts=counts)
        if len(usable) >= 2 and groups:
            out._protect(dataset)
        return out

    def _protect(self, dataset: str) -> None:
        names = self.names
        force = self.ctx.force_code
        nodes = _nodes(names)
        adim = Dim("area_code", tuple(self.areas), {force: tuple(self.areas)})
        gdim = Dim("offence_group", tuple(self.groups), {TOTAL: tuple(self.groups)})
        mdim = Dim("membership", tuple(_patterns(names)), nodes)
        base = pd.DataFrame({"area_code": self.counts["csp_code"].astype(str),
                             "offence_group": self.counts["offence_subgroup"].astype(str),
                             "membership": self.counts["membership"].astype(str),
                             "count": self.counts["count"].astype("int64")})
        area_nodes = self.areas + [force]
        totals = names + [f"{a}&{b}" for a, b in self.pairs] + [f"{a}-{b}" for a, b in itertools.permutations(names, 2)]
        # each definition's total per area is also its headline family's cell (profile pages): linked
        hidden, keep = {}, set()
        for n in names:
            try:
                fam = tables.series_cube(dataset, force, n, self.ctx.period_start, self.ctx.period_end)
            except SvtoolsError:  # no headline family for this definition: nothing to link
                continue
            for a in area_nodes:
                key = (a, TOTAL, n)
                if fam.value(a, TOTAL) is None:
                    hidden[key] = (1, None)
                else:
                    keep.add(key)
        # the offence groups that make the difference are published for the force (a CSP's would be mostly
        # hidden); when that leaves no safe pattern, the page gives the totals only. Last, when the profiles' own
        # totals pin a small difference (B inside A: |A - B| = |A| - |B|, both published there), no pattern of
        # this page can hide it: this page is then protected on its own, and the difference of the two profiles'
        # totals stays the limitation docs/disclosure.md names (differences between definitions)
        # (last: the overlaps for the force alone, when a CSP's cannot be protected at all)
        attempts = [(True, keep, area_nodes), (False, keep, area_nodes), (False, set(), area_nodes),
                    (False, set(), [force])]
        for i, (with_groups, keep_now, pair_areas) in enumerate(attempts):
            cube = Cube(f"definition_comparison_{force}", [adim, gdim, mdim], base)
            cube.publish((a, TOTAL, m) for a in area_nodes for m in names)
            cube.publish((a, TOTAL, m) for a in pair_areas for m in totals)
            if with_groups:
                cube.publish((force, g, f"{x}-{y}") for g in self.groups for x, y in itertools.permutations(names, 2))
            try:
                self.cube = cube.protect(extra_hidden=hidden, keep_visible=keep_now)
            except disclosure.DisclosureError:
                if i == len(attempts) - 1:
                    raise
                continue
            self.by_group, self.linked, self.pair_areas = with_groups, bool(keep_now) or not keep, pair_areas
            break
        self.nodes = nodes

    def value(self, area: str, group: str, node: str) -> int | None:
        """A published cell (None: hidden)."""
        return self.cube.value((area, group, node))


# =========================================================================== sections
def _unavailable(dc: DefinitionsContext, name: str, title: str) -> SectionResult | None:
    if dc.not_comparable:
        _say("Not compared on this page, because the monthly counts do not record what they need: "
             + "; ".join(dc.not_comparable.values()) + ".")
    if dc.cube is None:
        why = ("fewer than two of the definitions can be applied to the monthly counts" if len(dc.definitions) < 2
               else f"no offence of any of these definitions was recorded in {dc.ctx.name} in {dc.ctx.period}")
        return _skip(dc.ctx, name, title, why)
    return None


def _area_rows(dc: DefinitionsContext) -> list[str]:
    return dc.areas + [dc.ctx.force_code]


def _label_rows(t, dc: DefinitionsContext) -> None:
    t.counts.index = pd.Index([dc.area_names.get(a, a) for a in t.counts.index], name="Area")


def definitions_captured(dc: DefinitionsContext) -> SectionResult:
    """How many offences each definition counts, in each CSP of the force and the force, with a bar chart of the
    force's totals."""
    skip = _unavailable(dc, "definitions_captured", "Offences each definition counts")
    if skip is not None:
        return skip
    ctx = dc.ctx
    t = dc.cube.table("area_code", "membership", fixed={"offence_group": TOTAL}, row_nodes=_area_rows(dc),
                      column_nodes=dc.names, name="definitions_captured",
                      column_titles={n: dc.title(n) for n in dc.names})
    res = SectionResult(name="definitions_captured", data=t.counts.copy())
    _label_rows(t, dc)
    res.csv = publish_gated(ctx, t, f"Offences each definition counts, {ctx.name}, {ctx.period}",
                            note=hidden_note())
    res.table = t.text()
    force_row = t.counts.iloc[-1]
    vis = force_row.dropna()
    values = {dc.title(n): (None if pd.isna(v) else int(v)) for n, v in zip(dc.names, force_row)}
    res.values = {"force_totals": values}
    if len(vis):
        chart = disclosure.derived(pd.DataFrame({"Definition": list(force_row.index),
                                                 "shown": force_row.astype("Float64").to_numpy()}), t)
        order = vis.sort_values(ascending=False)
        alt = (f"Horizontal bar chart of the offences each of {len(dc.names)} definitions counts in {ctx.name}, "
               f"{ctx.period}: " + "; ".join(f"{k} {int(v):,}" for k, v in order.items())
               + (f". {int(force_row.isna().sum())} definition(s) with a hidden total are left out."
                  if force_row.isna().any() else "."))
        fig = charts.bar_chart(chart, label="Definition", value="shown",
                               title=f"Offences each definition counts, {ctx.name}", xlabel="Offences",
                               ylabel="Definition")
        data = disclosure.derived(pd.DataFrame({
            "area_code": ctx.code, "area_name": ctx.name, "definition": list(dc.names),
            "definition_title": list(force_row.index), "offences": force_row.astype("Float64").to_numpy()}), t)
        _show(fig, alt, res, data, ctx=ctx, counts=["offences"])
    return res


def definitions_overlap(dc: DefinitionsContext) -> list[SectionResult]:
    """For each pair of definitions, in each CSP and the force: in both, in the first only, in the second only
    (and each definition's total, ``= both + only``)."""
    skip = _unavailable(dc, "definitions_overlap", "How the definitions overlap")
    if skip is not None:
        return [skip]
    ctx = dc.ctx
    out = []
    if not dc.linked:
        _say("Some definitions here count almost the same offences, so a small difference between them can be "
             "worked out from the totals on their profile pages; it is hidden on this page but not there.")
    if dc.pair_areas == [ctx.force_code]:
        _say(f"The overlaps are given for {ctx.name} as a whole only: for its CSPs they would let hidden small "
             "counts be worked out.")
    for a, b in dc.pairs:
        ta, tb = dc.title(a), dc.title(b)
        cols = [a, f"{a}&{b}", f"{a}-{b}", f"{b}-{a}", b]
        titles = {a: f"All of {ta}", f"{a}&{b}": "In both", f"{a}-{b}": f"Only in {ta}",
                  f"{b}-{a}": f"Only in {tb}", b: f"All of {tb}"}
        t = dc.cube.table("area_code", "membership", fixed={"offence_group": TOTAL}, row_nodes=dc.pair_areas,
                          column_nodes=cols, name=f"overlap_{a}_{b}", column_titles=titles)
        res = SectionResult(name=f"overlap_{a}_{b}", data=t.counts.copy())
        _label_rows(t, dc)
        both = t.counts["In both"]
        share = [disclosure.share(None if pd.isna(x) else x, None if pd.isna(y) else y) or ""
                 for x, y in zip(both, t.counts[f"All of {ta}"])]
        extra = pd.DataFrame({f"Share of {ta} also in {tb}": share})
        _say(f"**{ta[:1].upper() + ta[1:]}** and **{tb}**")
        res.csv = publish_gated(ctx, t, f"Offences in {ta}, in {tb} and in both, {ctx.name}, {ctx.period}",
                                extra=extra, note=hidden_note() + " A definition's total = in both + only in it.")
        res.table = t.text()
        out.append(res)
    return out


def definitions_difference(dc: DefinitionsContext, top: int = TOP_GROUPS) -> list[SectionResult]:
    """For each pair, in each direction, which offence groups (ONS offence subgroups) make the difference: the
    offences of the force in one definition but not the other, by group (every group with any such offence; the
    ``top`` largest named in the text). Each CSP's totals of the same are in :func:`definitions_overlap`."""
    skip = _unavailable(dc, "definitions_difference", "Which offence groups make the difference")
    if skip is not None:
        return [skip]
    ctx = dc.ctx
    force = ctx.force_code
    if not dc.by_group:
        return [_skip(ctx, "definitions_difference", "Which offence groups make the difference",
                      "broken down by offence group, the differences would let hidden small counts be worked out")]
    out = []
    for x, y in itertools.permutations(dc.names, 2):
        node = f"{x}-{y}"
        tx, ty = dc.title(x), dc.title(y)
        title = f"In {tx} but not in {ty}"
        total = dc.value(force, TOTAL, node)
        if total == 0:
            _say(f"**{title}**: none in {ctx.name} in {ctx.period}: every offence of {tx} is also in {ty}.")
            out.append(SectionResult(name=f"difference_{x}_{y}", values={"total": 0, "largest": []}))
            continue
        inside = dc.counts["membership"].str.split("+").map(lambda p: x in p and y not in p).to_numpy(bool)
        nonzero = dc.counts[inside].groupby("offence_subgroup")["count"].sum()
        groups = [g for g in dc.groups if nonzero.get(g, 0) > 0]
        t = dc.cube.table("offence_group", None, fixed={"membership": node, "area_code": force},
                          row_nodes=groups + [TOTAL], name=f"difference_{x}_{y}", row_title="Offence group")
        t.counts.columns = ["Offences"]
        res = SectionResult(name=f"difference_{x}_{y}", data=t.counts.copy())
        body = t.counts["Offences"].iloc[:-1]
        order = body.dropna().sort_values(ascending=False)
        mk = disclosure.rules()["marker"]
        extra = pd.DataFrame({"Share of the difference": [
            disclosure.share(None if pd.isna(v) else v, total) or (mk if pd.isna(v) else "") for v in body]
            + (["100%"] if total is not None else [""])})
        res.values = {"total": total, "largest": [str(g) for g in order.index[:top]]}
        n_hidden = int(body.isna().sum())
        _say(f"**{title}**" + (f": {total:,} offences in {ctx.name}" if total is not None else "")
             + ("; the largest groups: " + ", ".join(f"{g} ({int(v):,})" for g, v in order.head(3).items())
                if len(order) else "") + ".")
        res.csv = publish_gated(ctx, t, f"{title}: offences by offence group, {ctx.name}, {ctx.period}",
                                extra=extra, note=hidden_note()
                                + (f" {n_hidden} group(s) have too few offences to show." if n_hidden else ""))
        res.table = t.text()
        out.append(res)
    return out
