"""Attack a published run as a partner holding every file would: recover the cells shown as ``*``.

Reads only what a partner receives - the CSVs of ``outputs/<run-id>/``, the structural part of its
``manifest.json`` (which family, area and dimensions each CSV shows) - plus public lookups (which CSPs make a
force, which LSOAs make a CSP and an IMD decile). It does not use the disclosure gate's code or state.

For each family of linked tables it sets up what an attacker can derive from the labels: a force is the sum
of its CSPs; "Total" is the sum of the rows; a quarter, a financial year, "Total" and "Latest 12 months" are sums
of months; "Under 25" is the sum of its ages, "All ages|F" of the female cells, a day of its time blocks, a
CSP and a decile of their neighbourhoods; the same cell shown in two files is one unknown. A rate shown beside
the residents it divides by (the young people's rates by financial year) bounds its count: rate x residents /
1,000, to the rate's rounding. Unknowns are the
finest cells (area x month x age group, area x category, ...), integers >= 0; a visible cell fixes its sum, a
hidden one is at least 1 (zeros are never hidden). For every hidden cell it solves for the smallest and
largest value (``scipy.optimize.milp``).

Usage::

    python benchmarks/attack.py [RUN_DIR] [--dataset demo]

prints, per family and in all: hidden cells, exactly recovered, within +-1, narrower than the suppression band.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

SINGLE_AGES = [str(a) for a in range(10, 25)]
AGE_ATOMS = ["0-9"] + SINGLE_AGES + ["25-34", "35-44", "45-54", "55-64", "65+", "Age not recorded"]
AGE_NODES = {
    "10-17": [str(a) for a in range(10, 18)],
    "18-24": [str(a) for a in range(18, 25)],
    "Under 25": ["0-9"] + SINGLE_AGES,
    "10-24": SINGLE_AGES,
    "25 and over": ["25-34", "35-44", "45-54", "55-64", "65+"],
    "All ages": AGE_ATOMS,
}
SEX_NODES = {"F": ["F"], "M": ["M"], "Other or not recorded": ["O"], "All": ["F", "M", "O"]}
SEX_WORDS = {"Female": "F", "Male": "M", "Other or not recorded": "Other or not recorded"}
AGE_GROUP = {"Offences": ["U25", "O25", "UNK"], "Offences with a victim under 25": ["U25"],
             "Offences with no victim age recorded": ["UNK"], "All ages": ["U25", "O25", "UNK"],
             "Victim under 25": ["U25"]}
#: Datasets whose ages arrive as bands (an export with "18-24" rather than an age): such records count in the
#: published band that holds the whole band and the groups above it, never in a single year of age (the pages
#: say so). Their cells are extra unknowns of those nodes; ``--banded-ages`` adds them.
BANDED_ATOMS = {"10-17~band": ["10-17", "10-24", "Under 25"], "18-24~band": ["18-24", "10-24", "Under 25"],
                "10-24~band": ["10-24", "Under 25"], "0-24~band": ["Under 25"], "25+~band": ["25 and over"]}


def use_banded_ages() -> None:
    """Model records whose age is known only as a band (see :data:`BANDED_ATOMS`)."""
    for atom, nodes in BANDED_ATOMS.items():
        for node in nodes + ["All ages"]:
            if atom not in AGE_NODES[node]:
                AGE_NODES[node] = AGE_NODES[node] + [atom]
    AGE_NODES["Age recorded as a band"] = list(BANDED_ATOMS)


MEASURES = {"Knife or sharp-object enabled serious violence": "knife_serious_violence", "Homicide": "homicide"}
#: Columns of the year-by-victim-age-group family (``offences_by_year_and_age_<definition>``: the young people's
#: rates by financial year): the age groups each counts (U25 under 25, O25 25 and over, UNK not recorded).
YEAR_AGE_GROUP = {"All ages": ["U25", "O25", "UNK"], "Under 25": ["U25"], "25 and over": ["O25"],
                  "Age not recorded": ["UNK"]}
#: Sections whose chart data are a series (or areas over a window) of the page's definition, all ages.
CHART_SERIES = {"monthly_spc", "rate_comparison", "league_table", "stl_trend", "trend_model", "covid_interruption"}
#: Rate columns published beside a residents column: rate = 1,000 x (sum of these count columns) / residents.
RATE_COLUMNS = {"Rate per 1,000 residents aged 0 to 24": ["Under 25"],
                "Rate if every unrecorded age were under 25": ["Under 25", "Age not recorded"]}
RESIDENTS_COLUMNS = ("Residents aged 0 to 24",)


#: Breakdown families of a force's CSPs by one category (rows: categories, their groups and "Total").
CATEGORY_KINDS = ("offence_mix", "day_time", "location_type", "domestic_abuse")
#: Rows that are sums of other rows of their table.
CATEGORY_GROUPS = {"Flag recorded": ("Domestic abuse", "Not domestic abuse")}


def _fy_months(fy: str) -> list[str]:
    y = int(fy[:4])
    return [f"{y}-{m:02d}" for m in range(4, 13)] + [f"{y + 1}-{m:02d}" for m in range(1, 4)]


def _period_atoms(label: str, all_months: list[str]) -> list[str] | None:
    label = str(label)
    if len(label) == 7 and label[4] == "-":
        return [label]
    if " Q" in label:
        fy, q = label.split(" Q")
        return _fy_months(fy)[(int(q) - 1) * 3:int(q) * 3]
    if len(label) == 7 and label[4] == "/":
        return _fy_months(label)
    if label == "Total":
        return list(all_months)
    if label == "Latest 12 months":
        return list(all_months[-12:])
    return None


def _age_sex_atoms(label: str):
    if label in ("Total", "All records"):
        return AGE_NODES["All ages"], ["F", "M", "O"]
    if label in SEX_WORDS:  # a page's sex row ("Male"): all ages
        return AGE_NODES["All ages"], SEX_NODES[SEX_WORDS[label]]
    if "|" not in str(label):  # a page's age-band row ("10-24", "10 to 24"): all sexes
        label = re.sub(r"^(\d+) to (\d+)$", r"\1-\2", str(label)) + "|All"
    age, _, sex = str(label).partition("|")
    ages = AGE_NODES.get(age, [age] if age in AGE_ATOMS else None)
    sexes = SEX_NODES.get(sex)
    if ages is None or sexes is None:
        return None
    return ages, sexes


#: A hidden cell of a family whose zeros are hidden too (its manifest record says ``blank``): at least 0.
BLANK = object()


def _value(v):
    s = str(v).strip().replace(",", "")
    if s in ("*", "", "nan"):
        return None
    try:
        return int(float(s))
    except ValueError:
        return "skip"


class Attack:
    """Cells by universe: ``cells[universe]`` is a list of (dims -> atoms, value or None, where)."""

    def __init__(self, run: Path, areas: pd.DataFrame, lsoa: pd.DataFrame, threshold: int = 4):
        self.run = Path(run)
        self.threshold = threshold
        self.force_csps = {str(f): list(g["csp_code"].astype(str)) for f, g in areas.groupby("pfa_code")}
        self.lsoa = lsoa
        self.cells: dict[str, list] = defaultdict(list)
        self.skipped: dict[str, int] = defaultdict(int)
        self.all_months: dict[str, set] = defaultdict(set)
        self.rate_bounds = 0  # rates read as bounds on their counts

    def area(self, code: str) -> list[str]:
        return self.force_csps.get(code, [code])

    # ------------------------------------------------------------------ reading the files
    def read(self):
        manifest = json.loads((self.run / "manifest.json").read_text())
        run_definition = manifest.get("definition") or {}
        run_definition = run_definition.get("name") if isinstance(run_definition, dict) else None
        entries = []
        for job in manifest.get("jobs", []):
            page = job.get("page")
            if not page:
                continue
            for t in job.get("tables") or []:
                if t.get("kind") == "chart":  # the data behind a chart: read by column name (add_chart)
                    t = {**t, "definition": job.get("definition") or run_definition}
                entries.append((self.run / Path(page).parent / t["file"], t))
        # months of each definition's universe, from the financial years seen
        frames = [(p, t, pd.read_csv(p, dtype=str)) for p, t in entries if p.is_file()]
        for p, t, df in frames:
            fam = (t.get("gate") or {}).get("family", "")
            if fam.startswith("offences_by_period_"):
                for lab in df.iloc[:, 0]:
                    if len(str(lab)) == 7 and str(lab)[4] == "/":
                        self.all_months[fam.removeprefix("offences_by_period_")].update(_fy_months(lab))
        for p, t, df in frames:
            self.add(p, t, df)
        return self

    def add_chart(self, path: Path, meta: dict, df: pd.DataFrame):
        """The data behind a chart (``kind: chart``), read by its snake_case columns: a series of the page's
        definition (``area_code``, a ``month``/``quarter``/``financial_year`` label, ``offences``; rolling totals
        ``offences_in_12_months_to_month``; forecast rows carry no count) or areas over a window (``area_code``,
        ``period_start``/``period_end``, ``offences``) join the definition's period universe. Charts of categories
        (offence types, ages, day and time, deciles) draw the same cells as their tables and are listed as not
        attacked, as are a cohort's charts (``age_10_24_`` prefix: another universe)."""
        where = f"{path.parent.name}/{path.name}"
        section = str(meta.get("section") or "")
        d = meta.get("definition")
        if not d or section not in CHART_SERIES or "area_code" not in df.columns or path.name.startswith("age_"):
            self.skipped[f"chart:{path.name}"] += 1
            return
        label_col = next((c for c in ("month", "quarter", "financial_year") if c in df.columns), None)
        count_col = next((c for c in ("offences", "offences_in_12_months_to_month") if c in df.columns), None)
        if count_col is None or (label_col is None and "period_start" not in df.columns):
            self.skipped[f"chart:{path.name}"] += 1
            return
        for _, row in df.iterrows():
            if str(row.get("series", "")) == "forecast":
                continue
            v = _value(row[count_col])
            if v == "skip":
                continue
            if count_col == "offences_in_12_months_to_month":
                end = pd.Period(str(row[label_col]), "M")
                months = [str(end - k) for k in range(11, -1, -1)]
            elif label_col is not None:
                months = _period_atoms(str(row[label_col]), sorted(self.all_months[d]))
            else:
                months = [str(m) for m in pd.period_range(str(row["period_start"]), str(row["period_end"]), freq="M")]
            if not months:
                self.skipped[f"chart:{path.name}"] += 1
                continue
            self.cells[f"period_{d}"].append(
                ({"area": self.area(str(row["area_code"])), "month": months, "age": list(AGE_GROUP["Offences"])},
                 v, where))

    def add(self, path: Path, meta: dict, df: pd.DataFrame):
        if meta.get("kind") == "chart":
            self.add_chart(path, meta, df)
            return
        gate = meta.get("gate") or {}
        area = gate.get("area_code")
        labels = df.iloc[:, 0].astype(str)
        fam = gate.get("family")
        where = f"{path.parent.name}/{path.name}"
        if gate.get("families"):  # the success-measure table: measure x cohort x year
            for _, row in df.iterrows():
                d = MEASURES.get(str(row.get("Measure")))
                if d is None or row.get("Source") != "Police":
                    continue
                for year in meta["count_columns"]:
                    v = _value(row[year])
                    self._period(d, area, year, AGE_GROUP[str(row["Cohort"])], v, where)
            return
        if not fam:
            self.skipped[path.name] += 1
            return
        if fam.startswith("offences_by_period_"):
            d = fam.removeprefix("offences_by_period_")
            for col in meta["count_columns"] + [c for c in AGE_GROUP if c in df.columns and c != "Offences"]:
                if col not in df.columns:
                    continue
                groups = AGE_GROUP.get(col, AGE_GROUP["Offences"])
                for lab, v in zip(labels, df[col]):
                    self._period(d, area, lab, groups, _value(v), where)
            return
        if fam.startswith("offences_by_year_and_age_"):
            self._year_age(fam.removeprefix("offences_by_year_and_age_"), area, meta, df, labels, where)
            return
        kind = fam.split("__")[0]
        counts = meta["count_columns"][0]
        for lab, v in zip(labels, df[counts]):
            v = _value(v)
            if v == "skip":
                continue
            if v is None and gate.get("blank"):  # the gate hid every cell of this family, zeros too
                v = BLANK
            if kind in ("victim_age_sex", "suspect_age_sex"):
                a = _age_sex_atoms(lab)
                if a is None:
                    self.skipped[fam] += 1
                    continue
                self.cells[fam].append(({"area": self.area(area), "age": a[0], "sex": a[1]}, v, where))
            elif kind == "neighbourhoods":
                self.cells[fam].append(({"lsoa": self._lsoas(lab, area)}, v, where))
            elif kind in CATEGORY_KINDS:
                self.cells[fam].append(({"area": self.area(area), "category": [lab]}, v, where))
            else:
                self.skipped[fam] += 1

    def _year_age(self, definition, area, meta, df, labels, where):
        """Financial years x victim age group: the same universe as the definition's period family (its age
        dimension), plus what each published rate says about its count."""
        for col in meta["count_columns"]:
            groups = YEAR_AGE_GROUP.get(col)
            if groups is None:
                self.skipped[f"{where}:{col}"] += 1
                continue
            for lab, v in zip(labels, df[col]):
                self._period(definition, area, lab, groups, _value(v), where)
        pop_col = next((c for c in RESIDENTS_COLUMNS if c in df.columns), None)
        for rate_col, parts in RATE_COLUMNS.items():
            if rate_col not in df.columns or pop_col is None:
                continue
            groups = [g for c in parts for g in YEAR_AGE_GROUP[c]]
            for lab, r, pop in zip(labels, df[rate_col], df[pop_col]):
                bounds = _rate_bounds(r, pop)
                if bounds is not None:
                    self._period(definition, area, lab, groups, bounds, where)
                    self.rate_bounds += 1

    def _period(self, definition, area, label, groups, v, where):
        if v == "skip":
            return
        months = _period_atoms(label, sorted(self.all_months[definition]))
        if months is None:
            self.skipped[f"period:{label}"] += 1
            return
        self.cells[f"period_{definition}"].append(
            ({"area": self.area(area), "month": months, "age": list(groups)}, v, where))

    def _lsoas(self, label: str, area: str | None = None) -> list[str]:
        lk = self.lsoa
        code_col = "lsoa_code" if "lsoa_code" in lk.columns else lk.columns[0]
        decile = re.match(r"Decile (\d+)\b", label)  # a page's row "Decile 3": the page's own area
        if "|decile " in label or (decile and area):
            csp, d = label.split("|decile ") if "|decile " in label else (area, decile.group(1))
            csps = self.force_csps.get(csp, [csp])
            sub = lk[lk["csp_code"].astype(str).isin(csps) & (lk["imd_decile"].astype("Int64") == int(d))]
            return list(sub[code_col].astype(str))
        if label in self.force_csps:
            return list(lk[lk["csp_code"].astype(str).isin(self.force_csps[label])][code_col].astype(str))
        if label.startswith(("E22", "W15", "E23", "W14")) or label in set(lk["csp_code"].astype(str)):
            return list(lk[lk["csp_code"].astype(str) == label][code_col].astype(str))
        return [label]

    # ------------------------------------------------------------------ solving
    def _expand_categories(self, fam, cells):
        """'Total' = every row label; 'Monday, all day' (or 'Monday|All') = Monday's blocks (labels are the
        attacker's knowledge)."""
        def day_total(c: str) -> str | None:  # the prefix of a day's blocks, for a day's total row
            return c[:-3] if c.endswith("|All") else c[:-len(", all day")] + " " if c.endswith(", all day") else None

        cats = set()
        for dims, _, _ in cells:
            for c in dims["category"]:
                if c != "Total" and day_total(c) is None and c not in CATEGORY_GROUPS:
                    cats.add(c)
        out = []
        for dims, v, w in cells:
            c = dims["category"][0]
            if c == "Total":
                members = sorted(cats)
            elif c in CATEGORY_GROUPS:
                members = list(CATEGORY_GROUPS[c])
            elif day_total(c) is not None:
                members = sorted(x for x in cats if x.startswith(day_total(c)))
            else:
                members = [c]
            out.append(({**dims, "category": members}, v, w))
        return out

    def _known_totals(self, fam: str, cells) -> list:
        """An area's "Total" row of a breakdown of all the definition's records over the period counts the same
        records as the area's "Total" in the definition's period tables: where those show it, the breakdown's
        total is known even if the breakdown hides it (one cell in two files)."""
        parts = fam.split("__")
        areas = {tuple(sorted(dims["area"])) for dims, _, _ in cells}
        if len(parts) == 3 and parts[2] == "victims_10_24":
            # a cohort's total is the victim age-and-sex table's "10-24|All" (victims aged 10 to 24, any sex)
            age, sex = _age_sex_atoms("10-24|All")
            shown = {}
            for dims, v, where in self.cells.get(f"victim_age_sex__{parts[1]}", []):
                if isinstance(v, int) and sorted(dims["age"]) == sorted(age) and sorted(dims["sex"]) == sorted(sex):
                    shown[tuple(sorted(dims["area"]))] = (v, where)
            return [({"area": list(a), "category": ["Total"]}, shown[a][0], shown[a][1]) for a in sorted(areas)
                    if a in shown]
        if len(parts) != 2:
            return []
        period = self.cells.get(f"period_{parts[1]}", [])
        months = sorted(self.all_months[parts[1]])
        every_age = {g for gs in AGE_GROUP.values() for g in gs}
        shown, years = {}, {}
        for dims, v, where in period:
            if not (isinstance(v, int) and set(dims["age"]) == every_age):
                continue
            area = tuple(sorted(dims["area"]))
            if sorted(dims["month"]) == months:
                shown[area] = (v, where)
            elif len(dims["month"]) == 12 and sorted(dims["month"])[0].endswith("-04"):  # a financial year
                years.setdefault(area, {})[tuple(sorted(dims["month"]))] = v
        for area, ys in years.items():
            covered = sorted(m for y in ys for m in y)
            if area not in shown and covered == months:
                shown[area] = (sum(ys.values()), "the sum of its financial years")
        return [({"area": list(a), "category": ["Total"]}, shown[a][0], shown[a][1]) for a in sorted(areas)
                if a in shown]

    def solve(self) -> dict:
        results = {}
        for fam, cells in self.cells.items():
            if fam.split("__")[0] in CATEGORY_KINDS:
                cells = self._expand_categories(fam, cells + self._known_totals(fam, cells))
            results[fam] = self._solve(cells)
        return results

    def _solve(self, cells) -> dict:
        dims = sorted({d for c, _, _ in cells for d in c})
        atoms = {d: sorted({a for c, _, _ in cells for a in c.get(d, [])}) for d in dims}
        pos = {d: {a: i for i, a in enumerate(atoms[d])} for d in dims}
        shape = tuple(len(atoms[d]) for d in dims)
        n = int(np.prod(shape))
        rows, cols, lo, hi, vis = [], [], [], [], {}
        hidden = []
        conflicts = 0
        for c, v, w in cells:
            if any(not c.get(d) for d in dims):
                continue  # a node with no members (e.g. a decile with no neighbourhood) says nothing
            grids = [np.array([pos[d][a] for a in c[d]], dtype=np.int64) for d in dims]
            idx = np.ravel_multi_index([g.ravel() for g in np.meshgrid(*grids, indexing="ij")], shape)
            key = tuple(sorted(idx.tolist()))
            if isinstance(v, tuple):  # a range the cell's sum lies in (from a rounded rate): no cell of its own
                r = len(lo)
                rows += [r] * len(idx)
                cols += idx.tolist()
                lo.append(v[0])
                hi.append(v[1])
                continue
            if v is None or v is BLANK:
                hidden.append((key, idx, w))
                r = len(lo)
                rows += [r] * len(idx)
                cols += idx.tolist()
                lo.append(0 if v is BLANK else 1)  # a hidden count is at least 1, unless zeros are hidden too
                hi.append(np.inf)
            else:
                if key in vis and vis[key] != v:
                    conflicts += 1
                vis[key] = v
                r = len(lo)
                rows += [r] * len(idx)
                cols += idx.tolist()
                lo.append(v)
                hi.append(v)
        A = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(lo), n))
        cons = LinearConstraint(A, np.array(lo, float), np.array(hi, float))
        ub = np.full(n, np.inf)
        for key, v in vis.items():
            ub[list(key)] = np.minimum(ub[list(key)], v)
        ub = np.minimum(ub, 1e6)
        seen = {}
        out = {"hidden": 0, "exact": 0, "within_1": 0, "narrower_than_band": 0, "conflicts": conflicts,
               "shown_elsewhere": 0, "examples": []}
        for key, idx, w in hidden:
            if key in vis:  # the same cell is visible in another file
                out["shown_elsewhere"] += 1
            if key in seen:
                continue
            c = np.zeros(n)
            c[idx] = 1
            lo_v = _best(c, cons, Bounds(0, ub))
            hi_v = -_best(-c, cons, Bounds(0, ub))
            if hi_v >= 1e5:
                hi_v = np.inf
            seen[key] = (lo_v, hi_v, w)
        for key, (lo_v, hi_v, w) in seen.items():
            out["hidden"] += 1
            width = hi_v - lo_v
            if width == 0:
                out["exact"] += 1
            if width <= 2:
                out["within_1"] += 1
            if width < self.threshold - 1:
                out["narrower_than_band"] += 1
                if len(out["examples"]) < 5:
                    out["examples"].append((w, lo_v, hi_v))
        return out


def _rate_bounds(rate, residents, per: float = 1000.0):
    """(lowest, highest) whole count a rounded rate allows with its residents, or None when either is not a
    number (hidden, blank, "not recorded")."""
    text, pop = str(rate).strip().replace(",", ""), str(residents).strip().replace(",", "")
    try:
        r, n = float(text), float(pop)
    except ValueError:
        return None
    if not (np.isfinite(r) and np.isfinite(n)) or n <= 0:
        return None
    half = 0.5 * 10 ** -(len(text.split(".")[1]) if "." in text else 0)
    lo_c, hi_c = max(r - half, 0.0) * n / per, (r + half) * n / per
    return int(np.ceil(lo_c - 1e-9)), int(np.floor(hi_c + 1e-9))


def _best(c, cons, bounds) -> float:
    """Exact integer optimum: the LP vertex if integral, else branch and bound (no time limit: an attacker waits)."""
    lp = milp(c, constraints=cons, integrality=np.zeros(c.size), bounds=bounds)
    if lp.status == 0 and np.allclose(lp.x, np.round(lp.x), atol=1e-7):
        return float(np.round(lp.fun))
    res = milp(c, constraints=cons, integrality=np.ones(c.size), bounds=bounds)
    return float(res.fun) if res.status == 0 else np.nan


def attack(run: Path, dataset: str = "demo") -> dict:
    from svtools.ingest.store import load_table  # public lookups only (areas, LSOA -> CSP, IMD decile)

    a = Attack(run, load_table("areas", dataset), load_table("lsoa", dataset)).read()
    res = a.solve()
    total = {k: sum(r[k] for r in res.values()) for k in ("hidden", "exact", "within_1", "narrower_than_band",
                                                           "conflicts", "shown_elsewhere")}
    return {"families": res, "total": total, "not_attacked": dict(a.skipped), "rate_bounds": a.rate_bounds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?", default="outputs/latest")
    p.add_argument("--dataset", default="demo")
    p.add_argument("--banded-ages", action="store_true",
                   help="the dataset records some ages as bands (e.g. suspect age ranges): model them")
    args = p.parse_args(argv)
    if args.banded_ages:
        use_banded_ages()
    r = attack(Path(args.run).resolve(), args.dataset)
    print(f"{'family':45s} {'hidden':>7s} {'exact':>6s} {'±1':>5s} {'narrow':>7s}")
    for fam, x in sorted(r["families"].items()):
        print(f"{fam:45s} {x['hidden']:7d} {x['exact']:6d} {x['within_1']:5d} {x['narrower_than_band']:7d}")
    t = r["total"]
    print(f"{'ALL':45s} {t['hidden']:7d} {t['exact']:6d} {t['within_1']:5d} {t['narrower_than_band']:7d}")
    print(f"hidden cells shown elsewhere: {t['shown_elsewhere']}; inconsistent duplicates: {t['conflicts']}")
    print("tables not attacked (no family, or labels the attacker cannot place):", r["not_attacked"])
    print(f"rates read as bounds on their counts: {r['rate_bounds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
