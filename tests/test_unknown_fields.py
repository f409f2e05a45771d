"""Unknown is never zero (issue 8, item 5) and the page header names the dataset (item 6).

Two small processed datasets are made from one synthetic Cleveland extract (scale 0.05):

* ``noage``: ingested with a copy of ``config/mappings/demo_extract.yaml`` that maps no victim age, no suspect
  age and no occurrence date-time, so the dataset records none of them;
* ``partial``: the same extract with 30% of the ``Victim Age at Offence`` cells blanked.

Each is a ``demo`` dataset in its own data folder (the batch notebooks list the datasets they support by name).
The fast tests call the sections in-process; the slow ones build real HTML pages with
:func:`svtools.publish.batch.run_build` and read them as a partner would: no "0 of them had a victim under 25",
no under-25 rate of 0 without ages, one line saying what is not recorded, "age recorded for N% of victims" with
N within a point of the truth, no busiest-hour sentence without hours, no ``nan``/``None``/``<NA>`` text, and a
header naming the dataset, its source (never a folder path), that it is synthetic and the definition.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CSP = "E22000027"  # Hartlepool
DEFINITION = "most_serious_violence"  # broad enough for visible counts at scale 0.05
PERIOD_END = "2025-03-31"
AGE_COLUMN = "Victim Age at Offence"
BLANK_SHARE = 0.3
#: Text that must never appear on a page (numbers that are not numbers).
#: A missing value printed as a Python/pandas value (case-sensitive: "none of them" is English, "None" a repr).
BAD_TEXT = re.compile(r"\b(?:nan|NaN|NAN)%?(?![A-Za-z])|\bNone\b(?!\s+of\b)|<NA>|\bNaT\b")
BUSIEST_TIME = re.compile(r"busiest (hour|\d+-hour block|block)", re.IGNORECASE)
#: A sentence giving a number of offences with a victim under 25 ("0 of them had a victim under 25").
UNDER25_COUNT = re.compile(r"[\d*][\d,]* (of them|of the [\d,]+ [^.]*|offences of [^.]*) had a victim under 25")


# --------------------------------------------------------------------------- data
def _mapping_without(tmp: Path, fields: tuple[str, ...]) -> Path:
    from svtools.paths import CONFIG

    src = (CONFIG / "mappings" / "demo_extract.yaml").read_text(encoding="utf-8")
    kept = [line for line in src.splitlines() if not re.match(rf"\s+({'|'.join(fields)})\s*:", line)]
    path = tmp / "demo_extract_no_ages_or_times.yaml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def _blank_ages(raw: Path, out: Path, share: float, seed: int = 8) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for f in raw.glob("*_crime_extract.csv"):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        frame.loc[rng.random(len(frame)) < share, AGE_COLUMN] = ""
        frame.to_csv(out / f.name, index=False)


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """``{"noage": data folder, "partial": data folder}``, each holding a processed ``demo`` dataset."""
    from svtools.ingest import ingest_extract
    from svtools.ingest.demo import generate_demo_data

    base = tmp_path_factory.mktemp("unknown_fields")
    raw = base / "raw"
    generate_demo_data(raw, forces=["cleveland"], scale=0.05, progress=False)
    mapping = _mapping_without(base, ("victim_age", "suspect_age", "occurred_at"))
    _blank_ages(raw, base / "raw_partial", BLANK_SHARE)
    out = {"noage": base / "noage", "partial": base / "partial"}
    ingest_extract(raw, mapping, "demo", out["noage"] / "processed" / "demo", synthetic=True)
    ingest_extract(base / "raw_partial", "demo_extract", "demo", out["partial"] / "processed" / "demo",
                   synthetic=True)
    return out


@pytest.fixture
def use(monkeypatch, tmp_path):
    """Point svtools at one of the data folders, with display calls captured."""
    import IPython.display

    from svtools.publish import output

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setenv(output.PAGE_DIR_ENV, str(tmp_path / "page"))

    def point(root: Path):
        monkeypatch.setenv("SVTOOLS_DATA", str(root))
        monkeypatch.setenv("SVTOOLS_OUTPUTS", str(root / "outputs"))
        shown.clear()
        return shown

    return point


def _texts(shown) -> str:
    return "\n".join(o.data for o in shown if isinstance(getattr(o, "data", None), str))


def _context():
    from svtools.publish import sections

    return sections.ProfileContext.load(CSP, "demo", DEFINITION, PERIOD_END)


def _truth_age_share(ctx) -> float:
    """Share of the CSP's records in the definition (the age tables' base) with a victim age."""
    return float(ctx.in_definition["victim_age"].notna().mean())


# --------------------------------------------------------------------------- the context knows its fields
def test_field_status_and_known_share(roots, use):
    use(roots["noage"])
    ctx = _context()
    assert {f: ctx.field_status(f) for f in ("victim_age", "suspect_age", "occurred_hour", "victim_under_25")} \
        == dict.fromkeys(("victim_age", "suspect_age", "occurred_hour", "victim_under_25"), "absent")
    assert ctx.field_status("victim_sex") in ("partial", "complete") and ctx.field_status("crime_ref") == "complete"
    assert ctx.known_share("victim_age") is None and ctx.known_share("victim_sex") > 0.9
    assert ctx.absent_fields() == ["victim_age", "suspect_age", "occurred_hour"]
    use(roots["partial"])
    ctx = _context()
    assert ctx.field_status("victim_age") == "partial" and ctx.field_status("occurred_hour") != "absent"
    victims = ctx.in_definition[ctx.in_definition["victim_id"].notna()]
    assert ctx.known_share("victim_age") == pytest.approx(victims["victim_age"].notna().mean())
    assert 0.6 < ctx.known_share("victim_age") < 0.8


# --------------------------------------------------------------------------- sections, in process
def test_sections_without_ages_or_times_say_so_in_one_line(roots, use):
    from svtools.publish import sections

    shown = use(roots["noage"])
    ctx = _context()
    head = sections.headline(ctx)
    assert "0 of them" not in head.message
    assert "Victim ages are not recorded in this dataset" in head.message
    for name in ("under25", "when", "young_ages"):
        shown.clear()
        res = getattr(sections, name)(ctx)
        assert not res.available and "not recorded in this dataset" in res.message, name
        assert res.table is None and not res.alts and len(shown) == 1, name  # one line, no table or chart
    for name in ("hotspots", "deprivation", "when"):  # the young people's page: no cohort without ages
        res = getattr(sections, name)(ctx.young())
        assert not res.available and "Victim ages are not recorded" in res.message, name
    shown.clear()
    fy = sections.financial_years(ctx)
    assert "under-25 columns cannot be given" in _texts(shown)
    page = pd.read_csv(Path(fy.csv), dtype=str, keep_default_na=False)
    assert not [c for c in page.columns if "25" in c]
    shown.clear()
    who = sections.who(ctx)
    assert "Victim ages are not recorded" in _texts(shown) and not who.alts  # no chart of zero age bands
    assert all("|All" not in k or k.startswith("All ages") for k in who.values["victim_counts"])
    sm = sections.success_measures(ctx)
    u25 = sm.table[sm.table["Cohort"] == "Victim under 25"]
    assert len(u25) and (u25[["2019/20", "2024/25"]] == "not recorded").all().all()


def test_partly_known_ages_are_of_victims_with_a_recorded_age(roots, use):
    from svtools.publish import sections

    shown = use(roots["partial"])
    ctx = _context()
    res = sections.under25(ctx)
    truth = 100 * _truth_age_share(ctx)
    m = re.search(r"age recorded for (\d+)% of victims", res.message)
    assert m and abs(int(m.group(1)) - truth) <= 1, (res.message, truth)
    # the under-25 count is of victims with a recorded age: never counting an unknown age as 25 and over
    recs = ctx.in_definition
    known = recs["victim_age"].notna()
    assert res.values["under25"] == int((recs.loc[known, "victim_age"] <= 24).sum())
    assert "of the" in res.message and "with a recorded victim age" in res.message
    shown.clear()
    head = sections.headline(ctx)
    assert "0 of them" not in head.message
    assert re.search(r"with a recorded victim age had a victim under 25 \(age recorded for \d+% of victims\)",
                     head.message), head.message


# --------------------------------------------------------------------------- the analysis functions
def test_under25_measures_never_count_unknown_as_zero():
    from svtools.analysis.measures import success_measures, success_table

    pop = pd.DataFrame({"csp_code": "E22000001", "year": 2019, "age": np.arange(91), "population": 100})
    recs = pd.DataFrame({"csp_code": "E22000001", "financial_year": ["2019/20"] * 3 + ["2020/21"] * 2,
                         "ho_offence_code": "8N", "knife_flag": True,
                         "victim_age": pd.array([None] * 5, dtype="Int16")})
    out = success_measures(recs, pop, None).set_index(["cohort", "financial_year"])
    assert pd.isna(out.loc[("under 25", "2019/20"), "offences"]) and out.loc[("all ages", "2019/20"), "offences"] == 3
    assert np.isnan(out.loc[("under 25", "2019/20"), "rate_per_1000"])
    assert out.loc[("under 25", "2019/20"), "age_known"] == 0
    assert pd.isna(success_table(out.reset_index()).set_index("cohort").loc["under 25", "2019/20"])
    # banded ages: victim_age NA, the under-25 flag (or the band) known
    banded = recs.assign(victim_age_min=pd.array([18, 20, 30, 10, None], dtype="Int16"),
                         victim_age_max=pd.array([24, 29, 39, 17, None], dtype="Int16"),
                         victim_under_25=pd.array([True, None, False, True, None], dtype="boolean"))
    out = success_measures(banded, pop, None).set_index(["cohort", "financial_year"])
    assert out.loc[("under 25", "2019/20"), "offences"] == 1 and out.loc[("under 25", "2019/20"), "age_known"] == 2
    assert out.loc[("under 25", "2020/21"), "offences"] == 1 and out.loc[("under 25", "2020/21"), "age_known"] == 1


def test_age_bands_go_to_the_band_holding_them_and_never_to_a_single_year():
    from svtools.analysis.cohorts import age_sex_table
    from svtools.publish import tables

    recs = pd.DataFrame({
        "victim_id": [f"v{i}" for i in range(6)],
        "victim_age": pd.array([19, None, None, None, None, None], dtype="Int16"),
        "victim_age_min": pd.array([19, 18, 15, 20, 40, 65], dtype="Int16"),
        "victim_age_max": pd.array([19, 24, 19, 29, 44, None], dtype="Int16"),
        "victim_sex": pd.Categorical(["M"] * 6, categories=["F", "M", "X"]),
    })
    lab = tables.VICTIM_AGE_SEX.label(recs).str.split("|").str[0].tolist()
    assert lab == ["19", "18-24 (age band)", "10-24 (age band)", tables.AGE_NOT_RECORDED, "35-44", "65+"]
    groups = dict(tables.VICTIM_AGE_SEX.groups)
    assert "18-24 (age band)|M" in groups["18-24|M"] and "18-24 (age band)|M" in groups["Under 25|M"]
    assert "10-24 (age band)|M" in groups["10-24|M"] and "10-24 (age band)|M" not in groups["10-17|M"]
    assert not any("band" in m for m in groups["19|All"])  # single years from exact ages only
    t = age_sex_table(recs, bands=[0, 10, 18, 25, 35, 45, 65]).groupby("age_band", observed=False)["count"].sum()
    assert t["18-24"] == 2 and t["10-17"] == 0 and t["Unknown"] == 2 and t["35-44"] == 1 and t["65+"] == 1


def test_a_date_without_a_time_is_not_midnight():
    from svtools.analysis.fields import hours
    from svtools.analysis.place_time import time_tables

    dates = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-01-01", "2024-01-02", None])})
    assert hours(dates).isna().all()
    t = time_tables(dates, hour_column="no_such_column")
    assert t.hour["offences"].sum() == 0  # nothing at 00:00
    timed = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-01-01 00:00", "2024-01-02 13:10"])})
    assert hours(timed).tolist() == [0, 13]


def test_the_source_is_named_never_a_machine_path():
    from svtools.publish.provenance import dataset_facts, source_label

    old = {"schema": "police_extract", "mapping": "demo_extract", "source": "/home/analyst/extracts/2025"}
    assert source_label(old) == "Police record-level crime extract (read with the 'demo_extract' mapping)"
    assert "extracts" not in source_label({**old, "source": "C:\\Users\\analyst\\extracts"})
    assert source_label({**old, "source": "Niche RMS export"}) == "Niche RMS export (read with the 'demo_extract' mapping)"
    assert source_label({**old, "sources": ["Synthetic police extract (not real data)", "ONS"]}).startswith("Synthetic")
    facts = dataset_facts("police_uk", {"schema": "police_uk", "dataset": "police_uk", "synthetic": False})
    assert facts["dataset_kind"] == "real data" and facts["fields_not_recorded"] == []


# --------------------------------------------------------------------------- real pages (slow)
def _page_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    alts = " ".join(img.get("alt", "") for img in soup.find_all("img"))
    return soup.get_text(" ") + " " + alts


@pytest.fixture(scope="module")
def pages(roots) -> dict[str, dict]:
    """The CSP profile and the young people's page of Hartlepool, built from each dataset."""
    from svtools.publish import batch

    built = {}
    mp = pytest.MonkeyPatch()
    try:
        for name, root in roots.items():
            mp.setenv("SVTOOLS_DATA", str(root))
            mp.setenv("SVTOOLS_OUTPUTS", str(root / "outputs"))
            result = batch.run_build(["csp_profile", "cohort_under25"], csps=[CSP], dataset="demo", jobs=1,
                                     definition=DEFINITION, period_end=PERIOD_END, out=root / "outputs",
                                     progress=False)
            run = Path(result.run_dir)
            folders = {nb: run / "csp" / CSP / nb for nb in ("csp_profile", "cohort_under25")}
            ctx = _context()
            built[name] = {
                "ok": result.count("failed") == 0,
                "html": {nb: (f / "index.html").read_text(encoding="utf-8") for nb, f in folders.items()},
                "csv": {nb: {p.name: p.read_text(encoding="utf-8") for p in f.glob("*.csv")}
                        for nb, f in folders.items()},
                "truth_age_share": _truth_age_share(ctx) if name == "partial" else None,
                "root": root,
            }
    finally:
        mp.undo()
    return built


@pytest.mark.slow
def test_pages_without_ages_or_times(pages):
    p = pages["noage"]
    assert p["ok"]
    profile = _page_text(p["html"]["csp_profile"])
    young = _page_text(p["html"]["cohort_under25"])
    for text in (profile, young):
        assert "0 of them" not in text
        assert not BAD_TEXT.search(text), BAD_TEXT.search(text)
        assert not BUSIEST_TIME.search(text), BUSIEST_TIME.search(text)
        assert not UNDER25_COUNT.search(text), UNDER25_COUNT.search(text)  # no under-25 count at all
    assert "Victim ages are not recorded in this dataset, so the under-25 measures cannot be given." in profile
    assert "Victim ages are not recorded in this dataset, so the number with a victim under 25" in profile
    assert "Times of day are not recorded in this dataset" in profile
    assert "Suspect ages are not recorded in this dataset" in profile
    assert "Victim ages are not recorded in this dataset" in young
    # no under-25 rate (of 0 or anything else) and no table of zero ages
    assert "Under-25 rate" not in profile and "under25.csv" not in p["csv"]["csp_profile"]
    assert not {"victim_ages_10_24.csv", "under25.csv"} & set(p["csv"]["cohort_under25"])
    for csvs in p["csv"].values():
        for name, body in csvs.items():
            assert not BAD_TEXT.search(body), (name, BAD_TEXT.search(body))


@pytest.mark.slow
def test_pages_with_partly_known_ages(pages):
    p = pages["partial"]
    assert p["ok"]
    profile = _page_text(p["html"]["csp_profile"])
    assert "0 of them" not in profile and not BAD_TEXT.search(profile), BAD_TEXT.search(profile)
    m = re.search(r"Victim age not recorded: [\d,]+ \(age recorded for (\d+)% of victims\)", profile)
    assert m, "the under-25 section states the share of victims with a recorded age"
    truth = 100 * p["truth_age_share"]
    assert abs(int(m.group(1)) - truth) <= 1, (m.group(0), truth)
    assert abs(truth - 100 * (1 - BLANK_SHARE)) < 8  # the blanking did what it says (most victims have an age)
    assert UNDER25_COUNT.search(profile) and re.search(r"with a recorded victim age", profile)
    # times are known here (with a few not recorded): the busiest block is named, with its share known
    assert BUSIEST_TIME.search(profile)
    if "Time not recorded: 0 " not in profile:
        assert re.search(r"time recorded for (over )?\d+% of offences", profile)


@pytest.mark.slow
def test_the_header_names_the_dataset_source_and_definition(pages):
    from bs4 import BeautifulSoup

    for name, p in pages.items():
        soup = BeautifulSoup(p["html"]["csp_profile"], "html.parser")
        facts = {dt.get_text(strip=True): dt.find_next_sibling("dd").get_text(" ", strip=True)
                 for dt in soup.select("dl.facts")[0].find_all("dt")}
        assert facts["Dataset"].startswith("demo (synthetic"), facts
        assert "demo_extract" in facts["Source"], facts  # the mapping it was read with (no sources listed)
        assert facts["Definition"].startswith("Most serious violence"), facts
        for html in p["html"].values():
            assert str(p["root"]) not in html and str(p["root"].parent) not in html  # no machine path
        if name == "noage":
            assert facts["Not recorded in this dataset"].startswith("victim ages, suspect ages, times of day")
        else:
            assert "Not recorded in this dataset" not in facts
