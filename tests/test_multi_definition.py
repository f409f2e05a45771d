"""Several definitions in one run (svtools build --definition A B C): the overlap arithmetic, the plan (page paths,
job counts, definition-independent pages once), a small real build (index grouped by definition, the comparison
page and its CSVs) and a single-definition run's paths unchanged."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from svtools.errors import SvtoolsError
from svtools.ingest.definitions import definition_from_mapping, definition_overlap
from svtools.publish import batch as build
from svtools.publish.sections.definitions import definition_totals, membership_counts, pair_overlap

from test_build import write_notebook

THREE = ["knife_serious_violence", "most_serious_violence", "kent_medway_2023"]
CSP, FORCE = "E22000027", "E23000013"  # Hartlepool, Cleveland


def _defn(name: str, codes: list[str], **conditions):
    return definition_from_mapping({"name": name, "title": name, "description": "test", "source": "test",
                                    "offence_codes": codes, **({"conditions": conditions} if conditions else {})})


# --------------------------------------------------------------------------- the arithmetic, by hand
@pytest.fixture
def hand_frame():
    # 8N in A and B (knife), 5D only in A, 3A only in B; a 5D without a knife flag is in neither
    return pd.DataFrame({
        "csp_code": ["X", "X", "X", "Y", "Y", "Y"],
        "ho_offence_code": ["8N", "5D", "3A", "8N", "5D", "3A"],
        "knife_flag": pd.array([True, True, False, True, False, True], dtype="boolean"),
        "offence_group": ["Violence", "Violence", "Robbery", "Violence", "Violence", "Robbery"],
        "offences": [10, 3, 7, 2, 50, 1],
    })


def test_overlap_arithmetic_on_a_hand_made_frame(hand_frame):
    a = _defn("a", ["8N", "5D"], knife_flag=True)
    b = _defn("b", ["8N", "3A"])
    counts = membership_counts(hand_frame, [a, b])
    got = counts.set_index(["csp_code", "membership"])["count"].to_dict()
    assert got == {("X", "a+b"): 10, ("X", "a"): 3, ("X", "b"): 7, ("Y", "a+b"): 2, ("Y", "b"): 1}
    pair = pair_overlap(counts, "a", "b")
    assert pair.loc["X"].to_dict() == {"both": 10, "only_a": 3, "only_b": 7, "a": 13, "b": 17}
    assert pair.loc["Y"].to_dict() == {"both": 2, "only_a": 0, "only_b": 1, "a": 2, "b": 3}
    assert (pair["a"] == pair["both"] + pair["only_a"]).all() and (pair["b"] == pair["both"] + pair["only_b"]).all()
    assert definition_totals(counts, ["a", "b"]).to_dict("index") == {"X": {"a": 13, "b": 17}, "Y": {"a": 2, "b": 3}}
    # the same figures as the ingest's tested definition_overlap, area by area
    ref = definition_overlap(hand_frame, a, b, by="csp_code").drop(index="Total")
    assert ref.loc[["X", "Y"], pair.columns].astype("int64").equals(pair.loc[["X", "Y"]])


def test_three_definitions_every_offence_in_one_pattern(hand_frame):
    a, b, c = _defn("a", ["8N", "5D"], knife_flag=True), _defn("b", ["8N", "3A"]), _defn("c", ["5D"])
    counts = membership_counts(hand_frame, [a, b, c])
    # Y's 5D without the knife flag is in c only; every offence in any definition is counted once
    assert counts["count"].sum() == 10 + 3 + 7 + 2 + 50 + 1
    assert definition_totals(counts, ["a", "b", "c"]).loc["Y"].to_dict() == {"a": 2, "b": 3, "c": 50}


# --------------------------------------------------------------------------- the plan
def test_plan_for_three_definitions(demo_data):
    one = build.plan_jobs(csps=None, forces=[FORCE], definition="knife_serious_violence")
    three = build.plan_jobs(forces=[FORCE], definition=THREE)
    per = [j for j in one if j.name != "definition_comparison"]
    assert not [j for j in one if j.name == "definition_comparison"]  # one definition: no comparison page
    comparison = [j for j in three if j.name == "definition_comparison"]
    assert len(comparison) == 1 and comparison[0].definition is None  # once per force, not per definition
    assert comparison[0].page == f"force/{FORCE}/definition_comparison/index.html"
    assert comparison[0].params["definitions"] == THREE and "definition" not in comparison[0].params
    assert len(three) == 3 * len(per) + 1
    assert len({j.page for j in three}) == len(three) and len({j.job_id for j in three}) == len(three)
    for j in three:
        if j.definition:
            assert j.page.startswith(f"def/{j.definition}/") and j.params["definition"] == j.definition
    # relative links back to the run index resolve from every depth
    assert {j.page.count("/") for j in three} == {3, 5}
    with pytest.raises(SvtoolsError, match="two or more"):
        build.plan_jobs(notebooks=["definition_comparison"], forces=[FORCE], definition="knife_serious_violence")


def test_single_definition_paths_unchanged(demo_data):
    jobs = build.plan_jobs(notebooks=["csp_profile", "force_overview"], forces=[FORCE])
    assert all(j.page.startswith(("csp/", "force/")) for j in jobs)
    assert f"csp/{CSP}/csp_profile/index.html" in {j.page for j in jobs}
    assert f"csp_profile--{CSP}" in {j.job_id for j in jobs}
    assert build.plan_jobs(notebooks=["csp_profile"], csps=[CSP], definition=["knife_serious_violence"])[0].page \
        == f"csp/{CSP}/csp_profile/index.html"


def test_cache_key_includes_the_definition(demo_data):
    nbs = {str(n.path): n for n in build.discover_notebooks(["csp_profile"])}
    a = build.plan_jobs(notebooks=["csp_profile"], csps=[CSP], definition=THREE[:2])
    build._assign_keys(a, nbs, "demo", code="x")
    assert len({j.key for j in a}) == 2


# --------------------------------------------------------------------------- a small real build
@pytest.fixture(scope="module")
def multi(demo_data, tmp_path_factory):
    """A tiny per-definition CSP page for one CSP and the comparison page for its force, two definitions."""
    folder = tmp_path_factory.mktemp("multi_notebooks")
    write_notebook(folder / "tiny_page.ipynb", "from svtools.publish import render as report\n"
                   "report.say(f'{definition} in {csp_code}.')",
                   {"level": "csp", "schemas": ["police_extract"], "title": "Tiny page: {area_name}",
                    "label": "Tiny page", "tables": ["areas"], "order": 50},
                   params='csp_code = "E22000027"\ndataset = "demo"\ndefinition = "knife_serious_violence"')
    out = tmp_path_factory.mktemp("outputs_multi")
    defs = THREE[:2]
    result = build.run_build(notebooks=[folder / "tiny_page.ipynb", "definition_comparison"], csps=[CSP],
                             forces=[FORCE], definition=defs, jobs=1, out=out, progress=False)
    return SimpleNamespace(out=out, result=result, run=out / result.run_id, defs=defs)


@pytest.mark.slow
def test_multi_definition_build(multi):
    r = multi.result
    assert r.ok, [(x.job_id, x.ename, x.evalue) for x in r.results]
    index = BeautifulSoup((multi.run / "index.html").read_text(encoding="utf-8"), "html.parser")
    for d in multi.defs:
        group = index.find(id=f"definition-{d}")
        assert group is not None and group.name == "h2"
        links = [a["href"] for a in group.find_parent("section").find_all("a")]
        assert links == [f"def/{d}/csp/{CSP}/tiny_page/index.html"]
        assert (multi.run / links[0]).is_file()
        assert "Source:" in group.find_parent("section").get_text()
    across = index.find(id="across-definitions")
    assert across is not None
    page = multi.run / f"force/{FORCE}/definition_comparison/index.html"
    assert page.is_file() and f"force/{FORCE}/definition_comparison/index.html" in \
        [a["href"] for a in index.find_all("a")]
    csvs = sorted(p.name for p in page.parent.glob("*.csv"))
    a, b = multi.defs
    assert "definitions_captured.csv" in csvs and f"overlap_{a}_{b}.csv" in csvs
    # every table is a CSV; the overlap CSV's visible counts add up (|A| = both + only A)
    ov = pd.read_csv(page.parent / f"overlap_{a}_{b}.csv", dtype=str)
    cols = [c for c in ov.columns if c.startswith(("All of", "In both", "Only in"))]
    for _, row in ov.iterrows():
        vals = [row[c] for c in cols]
        if all(v.replace(",", "").isdigit() for v in vals):
            all_a, both, only_a = (int(v.replace(",", "")) for v in vals[:3])
            assert all_a == both + only_a
    html = page.read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("img") is None or soup.find("img").get("alt")
    # the tiny page links back to the index from its deeper folder
    tiny = multi.run / f"def/{a}/csp/{CSP}/tiny_page/index.html"
    hrefs = [x["href"] for x in BeautifulSoup(tiny.read_text(encoding="utf-8"), "html.parser").find_all("a")]
    assert "../../../../../index.html" in hrefs
    manifest = json.loads((multi.run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["definitions"] == multi.defs
    assert [d["name"] for d in manifest["definition"]] == multi.defs
    assert {j["definition"] for j in manifest["jobs"]} == {a, b, None}


@pytest.mark.slow
def test_a_multi_definition_run_publishes_with_every_definition_named(multi):
    from svtools.publish import bundle

    b = bundle.plan_bundle(multi.run, allow_partial=True)
    bundle.check_bundle(b)
    assert [d["name"] for d in b.manifest["definition"]] == list(multi.defs)
    assert all(d["title"] for d in b.manifest["definition"])
    assert any("definition_comparison" in f for f in b.files)
