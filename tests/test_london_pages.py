"""The London borough pages (issue 9): count-table definitions, protected count families, and real pages.

The real Metropolitan Police borough series (``../shared/data/real/london_mps``, 32 CSPs x 155 months) is ingested
once into the session's ``SVTOOLS_DATA``. Fast tests check the definitions and the disclosure rules of
:mod:`svtools.publish.count_tables` on it (homicide's small counts hidden, no part of the serious-violence group
recoverable by subtracting the others); the slow test builds three boroughs' pages (all parts monthly; robbery
and weapons by quarter; weapons by financial year) and the London overview through ``svtools.publish.batch``
and reads the published HTML and CSVs as a partner would. The full 32-page build is run by hand
(``svtools build --dataset london_mps``); its figures are in the commit message.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from svtools.errors import ConfigError, DataValidationError
from svtools.ingest.definitions import (
    check_categories,
    definition_for,
    definition_mask,
    list_definitions,
    load_definition,
)
from svtools.paths import real_data_dir

LONDON = real_data_dir() / "london_mps"
MET = "E23000001"
WESTMINSTER, BARKING, RICHMOND = "E22000192", "E22000186", "E22000212"
GROUP = "london_serious_violence"
PARTS = ("london_violence_with_injury", "london_robbery", "london_possession_of_weapons")
HOMICIDE = "london_homicide"


@pytest.fixture(scope="session")
def london_data(svtools_dirs):
    """The real London borough counts, ingested as the ``london_mps`` dataset in the session's data folder."""
    from svtools.cli import main

    if not LONDON.is_dir():
        pytest.skip(f"{LONDON} not present")
    assert main(["ingest", "--dataset", "london_mps", "--extract", str(LONDON), "--mapping", "london_mps"]) == 0
    return "london_mps"


@pytest.fixture(scope="session")
def families(london_data):
    from svtools.ingest.store import dataset_info
    from svtools.publish import count_tables

    info = dataset_info(london_data)
    return {name: count_tables.family_for(london_data, MET, GROUP, name, info["period_start"], info["period_end"])
            for name in (GROUP, *PARTS, HOMICIDE)}


# =========================================================================== definitions of count tables
def test_count_definitions_are_data(london_data):
    assert set(list_definitions("counts")) >= {GROUP, *PARTS, HOMICIDE}
    assert GROUP not in list_definitions()  # the default listing is record definitions (offence codes)
    d = load_definition(GROUP)
    assert d.for_counts and not d.offence_codes and d.measures == (*PARTS, HOMICIDE)
    assert d.default_for == ("london_mps",)
    assert any("not Home Office offence codes" in c for c in d.caveats)
    assert any("knife" in c for c in d.caveats)
    # the group is exactly its three parts; homicide shares none of its categories
    parts = [c for p in PARTS for c in load_definition(p).categories]
    assert sorted(parts) == sorted(d.categories)
    assert not set(load_definition(HOMICIDE).categories) & set(d.categories)
    assert load_definition(HOMICIDE).rate_per == 100_000


def test_definition_for_a_count_table(london_data):
    # the build's default (offence codes) is replaced by the dataset's count definition
    assert definition_for("knife_serious_violence", london_data).name == GROUP
    assert definition_for(HOMICIDE, london_data).name == HOMICIDE


def test_count_definition_errors(tmp_path, london_data, monkeypatch):
    from svtools.ingest import store

    monkeypatch.setattr(store, "dataset_info", lambda name: {"dataset": name, "schema": "police_extract"})
    with pytest.raises(ConfigError, match="not a count table"):
        definition_for(GROUP, "some_force")
    monkeypatch.undo()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\napplies_to: counts\ntitle: t\ndescription: d\nsource: s\n"
                   "categories: ['ROBBERY / ROBBERY OF PERSONAL PROPERTY', 'KNIFE CRIME']\n")
    with pytest.raises(ConfigError, match="KNIFE CRIME"):
        check_categories(load_definition(str(bad)), ["ROBBERY / ROBBERY OF PERSONAL PROPERTY"])
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: odd\napplies_to: counts\ntitle: t\ndescription: d\nsource: s\ncategories: ['A']\n"
                   "conditions: {knife_flag: true}\n")
    with pytest.raises(ConfigError, match="no offence codes, flags or ages"):
        load_definition(str(odd))
    with pytest.raises(DataValidationError, match="category"):
        definition_mask(pd.DataFrame({"ho_offence_code": ["8N"]}), GROUP)


def test_count_definition_selects_categories(london_data):
    from svtools.ingest.store import load_table

    t = load_table("aggregate_counts", london_data)
    mask = definition_mask(t, GROUP)
    assert set(t.loc[mask, "category"]) == set(load_definition(GROUP).categories)
    assert int(t.loc[definition_mask(t, HOMICIDE), "count"].max()) <= 4  # monthly homicide by borough: 0 to 4


# =========================================================================== the protected families
def test_families_and_atoms(families):
    fam = families[GROUP]
    assert fam is families[PARTS[0]] and families[HOMICIDE] is not fam  # homicide is a family of its own
    # robbery of personal and of business property are one base category (never shown apart)
    assert fam.cube_of(WESTMINSTER).cube.dim("category").base == PARTS
    assert fam.parts == {GROUP: PARTS}
    hom = families[HOMICIDE]
    # no homicide series is published finer than a financial year, so its base cells are years (and the part
    # years the latest 12 months and the whole period need), not 155 months
    assert len(hom.cube_of(WESTMINSTER).cube.dim("period").base) < 20


def _registered(fam, area, name):
    return {k[1]: v for k, v in fam.cube_of(area).values.items() if k[0] == area and k[2] == name}


def test_no_small_count_is_published(families):
    for fam in {id(f): f for f in families.values()}.values():
        for cube in {id(c): c for c in fam.cubes.values()}.values():
            small = [(k, v) for k, v in cube.values.items() if v is not None and 1 <= v <= cube.threshold]
            assert not small, small[:5]


def test_homicide_small_counts_hidden(families):
    hom = families[HOMICIDE]
    areas = hom.cube_of(WESTMINSTER).cube.dim("area_code").base
    for a in areas:
        cells = _registered(hom, a, HOMICIDE)
        assert not any(re.fullmatch(r"\d{4}-\d{2}", p) for p in cells), "no borough's homicide month is published"
        assert hom.resolution(a, HOMICIDE) != "month"
    hidden = sum(v is None for a in areas for v in _registered(hom, a, HOMICIDE).values())
    assert hidden > 100  # most boroughs have years of 1 to 4 homicides
    # London's own homicide years are published (the sum of 32 boroughs' years)
    assert hom.resolution(MET, HOMICIDE) == "financial_year"


def test_group_minus_parts_never_gives_one_part(families):
    """Where the group and all but one part are published for a month (or quarter), the last part is too."""
    fam = families[GROUP]
    areas = list(fam.cube_of(WESTMINSTER).cube.dim("area_code").base) + [MET]
    for a in areas:
        cells = {n: _registered(fam, a, n) for n in (GROUP, *PARTS)}
        for period, g in cells[GROUP].items():
            if g is None:
                continue
            missing = [p for p in PARTS if cells[p].get(period) is None]
            assert len(missing) != 1, (a, period, missing)


def test_resolutions_follow_the_rules(families):
    fam = families[GROUP]
    areas = fam.cube_of(WESTMINSTER).cube.dim("area_code").base
    # the group and violence with injury are published by month everywhere
    assert {fam.resolution(a, GROUP) for a in areas} == {"month"}
    assert {fam.resolution(a, PARTS[0]) for a in areas} == {"month"}
    assert all(fam.resolution(WESTMINSTER, n) == "month" for n in PARTS)
    # Barking and Dagenham: weapons have months of 1 to 4, so robbery goes to quarters with them
    assert fam.own[(BARKING, PARTS[1])] == "month" and fam.resolution(BARKING, PARTS[1]) == "quarter"
    assert fam.resolution(BARKING, PARTS[2]) == "quarter" and "alone" in fam.reasons[(BARKING, PARTS[1])]
    # Richmond: weapons even have quarters of 1 to 4
    assert fam.resolution(RICHMOND, PARTS[2]) == "financial_year"
    # a force only at a resolution all its CSPs are published at
    order = {"month": 0, "quarter": 1, "financial_year": 2}
    for n in (GROUP, *PARTS):
        worst = max((fam.resolution(a, n) for a in areas), key=order.get)
        assert order[fam.resolution(MET, n)] >= order[worst]


def test_force_cells_are_sums_of_visible_csp_cells(families):
    """The London cells of the group family come from a cube of their own only because each is the sum of its
    boroughs' visible cells: check the values agree."""
    fam = families[GROUP]
    areas = fam.cube_of(WESTMINSTER).cube.dim("area_code").base
    assert fam.cube_of(MET) is not fam.cube_of(WESTMINSTER)
    for (a, p, n), v in list(fam.cube_of(MET).values.items())[:400]:
        assert v == sum(fam.value(c, n, p) for c in areas)


# =========================================================================== sections (no kernel)
def test_sections_on_a_borough(london_data, shown):
    from svtools.publish import sections

    ctx = sections.CountsContext.load(WESTMINSTER, london_data, "knife_serious_violence")
    assert ctx.definition.name == GROUP and [m.name for m in ctx.measures] == [GROUP, *PARTS, HOMICIDE]
    about = sections.count_about(ctx)
    assert any("knife" in c for c in about.values["caveats"])
    years = sections.count_years(ctx)
    assert years.values["baseline"] == "2019/20" and years.values["latest"] == "2021/22"
    assert years.values[GROUP]["words"] in ("higher", "lower", "no clear change")
    cov = sections.count_covid(ctx, 1)
    # violence with injury fell in the first lockdown; the trend section reads the same model
    assert cov.available and cov.values["covid_rate_ratio_ci"][1] < 1
    assert sections.count_trend(ctx, 1).values["covid_rate_ratio"] == cov.values["covid_rate_ratio"]
    spc = sections.count_spc(ctx, GROUP)
    assert spc.available and spc.values["resolution"] == "month" and spc.values["drawn"]
    for fn in (sections.count_trend, sections.count_spc, sections.count_covid):
        res = fn(ctx, HOMICIDE)  # never by month in a borough: one line saying why
        assert not res.available and "homicide" in res.message
    assert not sections.count_trend(ctx, 9).available  # past the definition's measures: nothing shown


# =========================================================================== the published pages
class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.text, self.external = [], [], []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("alt") or "")
        if tag in ("script", "style"):
            self._skip += 1
        for key in ("src", "href"):
            v = a.get(key) or ""
            if v.startswith(("http://", "https://", "//")) and tag in ("script", "link", "img", "iframe"):
                self.external.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _shim_build(monkeypatch):
    """Until the build knows count tables have no record partitions (batch._plan skips CSP jobs without them)
    and names their count definition in the page header (render.run_context), do both here; with a build that
    already does, this changes nothing."""
    from svtools.ingest.store import dataset_info
    from svtools.publish import batch, render

    plan, run_context = batch._plan, render.run_context

    def _plan(notebooks, csps, forces, dataset, definition, period_end):
        jobs, nbs = plan(notebooks, csps, forces, dataset, definition, period_end)
        if dataset_info(dataset).get("schema") == "counts":
            for j in jobs:
                if j.skip_reason.startswith("no records"):
                    j.skip_reason = ""
        return jobs, nbs

    def _run_context(dataset="demo", definition=None):
        if definition and dataset_info(dataset).get("schema") == "counts":
            definition = definition_for(definition, dataset).name
        return run_context(dataset, definition)

    monkeypatch.setattr(batch, "_plan", _plan)
    monkeypatch.setattr(render, "run_context", _run_context)


@pytest.mark.slow
def test_london_pages_build(london_data, tmp_path, monkeypatch):
    from svtools.publish import batch

    _shim_build(monkeypatch)
    csps = [WESTMINSTER, BARKING, RICHMOND]
    runs = [batch.run_build(notebooks=["london_csp"], csps=csps, dataset=london_data, jobs=2, out=tmp_path,
                            progress=False),
            batch.run_build(notebooks=["london_overview"], forces=[MET], dataset=london_data, jobs=1,
                            out=tmp_path, progress=False)]
    results = [r for run in runs for r in run.results]
    failed = [(r.job_id, r.ename, r.evalue) for r in results if r.status != "ok"]
    assert not failed and len(results) == 4, failed
    pages = {code: runs[0].run_dir / "csp" / code / "london_csp" / "index.html" for code in csps}
    pages[MET] = runs[1].run_dir / "force" / MET / "london_overview" / "index.html"
    for code, path in pages.items():
        html = path.read_text(encoding="utf-8")
        page = _Page()
        page.feed(html)
        text = " ".join(page.text)
        assert page.imgs and all(len(alt.strip()) > 40 for alt in page.imgs), (code, page.imgs[:3])
        assert not page.external, page.external
        assert "<script" not in html and "jp-CodeMirror" not in html and "sections.count" not in html
        assert not re.search(r"\b(nan|NaN|None|<NA>|inf)\b", text), re.search(r".{60}\b(nan|NaN|None|<NA>|inf)\b.{60}",
                                                                           text)
        assert "Traceback" not in text and html.count("<h1") == 1
        from svtools.publish.page_lint import page_problems

        assert not page_problems(html), (code, page_problems(html)[:5])
        # the header names the dataset, its source and the definition; the caveat is on the page
        assert "london_mps" in text and "Metropolitan Police Service recorded crime" in text
        assert "Serious violence (London borough counts)" in text
        assert "not Home Office offence codes" in text and "no knife" in text
        folder = path.parent
        for csv in folder.glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
            assert not frame.isin(["nan", "None", "<NA>"]).any().any(), csv.name
        hom = pd.read_csv(folder / "years_london_homicide.csv", dtype=str, keep_default_na=False)
        values = hom.iloc[:, 1].str.replace(",", "")
        assert not values[values != "*"].astype(int).between(1, 4).any()  # homicide small counts hidden
        if code != MET:
            assert (values == "*").any(), code  # every one of these boroughs has hidden homicide years
    west = pages[WESTMINSTER].read_text(encoding="utf-8")
    assert "first COVID-19 lockdown: violence with injury" in west and "SPC chart" in west
    barking = pages[BARKING].read_text(encoding="utf-8")
    assert "Robbery per quarter" in barking  # robbery's SPC chart is by quarter there
    over = _Page()
    over.feed(pages[MET].read_text(encoding="utf-8"))
    text = " ".join(over.text)
    assert "over-dispersion" in text and "Funnel plot" in " ".join(over.imgs)
    assert "special-cause variation" in text.lower()
