"""svtools.publish.batch: planning, a small batch end to end, failure isolation, caching, atomic publishing,
and the split between the published folder and the analysts' folder."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from svtools import config
from svtools.publish import batch as build
from svtools.errors import MissingAreaError, SvtoolsError
from svtools.publish.output import RECORD_LEVEL_COLUMNS, TABLES_SIDECAR
from svtools.paths import ROOT, data_dir
from svtools.publish.render import TemplateError

TWO_CSPS = ["E22000027", "E22000029"]  # Hartlepool, Middlesbrough (Cleveland)
CODE_MARKERS = ("jp-InputArea", "input_area", "jp-CodeMirrorEditor", "In [", "In&nbsp;[", "Out[", "import ",
                "Traceback")


def write_notebook(path: Path, source: str, meta: dict, params: str = 'csp_code = "E22000027"\ndataset = "demo"'):
    nb = new_notebook(cells=[
        new_markdown_cell("## A test page\n\nNarrative."),
        new_code_cell(params, metadata={"tags": ["parameters"]}),
        new_code_cell(source),
    ])
    nb.metadata["kernelspec"] = {"name": "svtools", "display_name": "Python (svtools)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["svtools"] = meta
    nbformat.write(nb, str(path))
    return path


def failing_notebook(folder: Path) -> Path:
    """A CSP page that works for Hartlepool and raises for Middlesbrough."""
    return write_notebook(folder / "failing_page.ipynb", (
        "from svtools.publish import render as report\n"
        "if csp_code == 'E22000029':\n"
        "    raise ValueError(f'deliberate failure for {csp_code}')\n"
        "report.say(f'All fine in {csp_code}.')"),
        {"level": "csp", "schemas": ["police_extract"], "title": "Test page: {area_name}", "label": "Test page",
         "tables": ["areas"], "order": 50})


# --------------------------------------------------------------------------- planning (no kernels)
def test_plan_one_job_per_notebook_and_csp(demo_data):
    jobs = build.plan_jobs(notebooks=["csp_profile"], csps=TWO_CSPS)
    assert [j.job_id for j in jobs] == ["csp_profile--E22000027", "csp_profile--E22000029"]
    job = jobs[0]
    assert job.params == {"csp_code": "E22000027", "dataset": "demo", "definition": "knife_serious_violence",
                          "period_end": "2025-03-31"}
    assert job.page == "csp/E22000027/csp_profile/index.html"
    assert job.title == "Serious violence profile: Hartlepool" and job.pfa_name == "Cleveland"
    by_force = build.plan_jobs(notebooks=["csp_profile"], forces=["cleveland"])
    assert len(by_force) == 4 and {j.pfa_code for j in by_force} == {"E23000013"}


def test_plan_levels_and_bad_requests(demo_data, tmp_path):
    force_nb = write_notebook(tmp_path / "force_page.ipynb", "pass",
                              {"level": "force", "title": "Force page: {area_name}"},
                              params='pfa_code = "E23000013"\nperiod_end = "2025-03-31"')
    all_nb = write_notebook(tmp_path / "quality_page.ipynb", "pass", {"level": "dataset", "title": "Data quality"},
                            params='dataset = "demo"')
    jobs = build.plan_jobs(notebooks=[force_nb, all_nb])
    assert [(j.level, j.page) for j in jobs] == [("force", "force/E23000013/force_page/index.html"),
                                                 ("dataset", "dataset/quality_page/index.html")]
    assert jobs[0].params == {"pfa_code": "E23000013", "period_end": "2025-03-31"}
    assert build.plan_jobs(notebooks=[force_nb, all_nb], csps=["E22000027"]) == []  # CSP pages only
    with pytest.raises(SvtoolsError, match="nothing to build"):
        build.run_build(notebooks=[force_nb], csps=["E22000027"], out=tmp_path / "out", progress=False)
    with pytest.raises(MissingAreaError):
        build.plan_jobs(notebooks=["csp_profile"], csps=["E22999999"])
    with pytest.raises(MissingAreaError):
        build.plan_jobs(notebooks=["csp_profile"], forces=["Atlantis"])
    with pytest.raises(SvtoolsError, match="no notebook 'nope'"):
        build.plan_jobs(notebooks=["nope"])
    with pytest.raises(SvtoolsError, match="period_end"):
        build.plan_jobs(notebooks=["csp_profile"], period_end="31/03/2025")
    odd = write_notebook(tmp_path / "odd.ipynb", "pass", {"level": "csp"}, params='csp_code = "x"\ncolour = "red"')
    with pytest.raises(TemplateError, match="colour"):
        build.plan_jobs(notebooks=[odd])
    real_only = write_notebook(tmp_path / "real.ipynb", "pass", {"level": "csp", "schemas": ["police_uk"]})
    with pytest.raises(SvtoolsError, match="do not support dataset 'demo' \\(a police_extract dataset\\)"):
        build.plan_jobs(notebooks=[real_only])


@pytest.fixture
def data_copy(demo_data, tmp_path, monkeypatch):
    """A private copy of the processed data (SVTOOLS_DATA points at it) that a test may change."""
    root = tmp_path / "data"
    shutil.copytree(demo_data, root / "processed" / "demo")
    monkeypatch.setenv("SVTOOLS_DATA", str(root))
    return root / "processed" / "demo"


def test_csp_without_records_is_skipped(data_copy):
    shutil.rmtree(data_copy / "records" / "csp_code=E22000029")
    jobs = {j.area_code: j for j in build.plan_jobs(notebooks=["csp_profile"], forces=["E23000013"])}
    assert jobs["E22000029"].skip_reason.startswith("no records") and not jobs["E22000027"].skip_reason


def test_cache_keys_follow_the_inputs(data_copy):
    def keys():
        jobs, nbs = build._plan(["csp_profile"], TWO_CSPS, None, "demo", "knife_serious_violence", None)
        build._assign_keys(jobs, {str(n.path): n for n in nbs}, "demo")
        return {j.area_code: j.key for j in jobs}

    before = keys()
    meta = json.loads((data_copy / "dataset.json").read_text())
    (data_copy / "dataset.json").write_text(json.dumps({**meta, "ingested_at": "2030-01-01T00:00:00+00:00"}))
    assert keys() == before  # re-ingesting the same data keeps every page
    part = next((data_copy / "records" / "csp_code=E22000029").glob("*.parquet"))
    frame = pd.read_parquet(part)
    frame.iloc[:-1].to_parquet(part, index=False)
    after = keys()
    assert after["E22000027"] == before["E22000027"] and after["E22000029"] != before["E22000029"]
    other = build._plan(["csp_profile"], TWO_CSPS, None, "demo", "knife_serious_violence", "2024-03-31")[0]
    assert other[0].params["period_end"] == "2024-03-31"


# --------------------------------------------------------------------------- a small batch, end to end
@pytest.fixture(scope="module")
def built(demo_data, tmp_path_factory):
    """One build of two notebooks for two CSPs; one page fails on purpose.

    The code hash is frozen for the module: the cache tests are about unchanged inputs, and a developer
    editing svtools while the tests run must not turn them into misses.
    """
    out = tmp_path_factory.mktemp("outputs")
    nb = failing_notebook(tmp_path_factory.mktemp("notebooks"))
    frozen = build._code_digest()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "_code_digest", lambda: frozen)
        result = build.run_build(notebooks=["csp_profile", nb], csps=TWO_CSPS, jobs=2, out=out, progress=False)
        yield SimpleNamespace(out=out, result=result, failing=nb, run=out / result.run_id,
                              analyst=out / "_analyst" / result.run_id)


def html_files(run: Path) -> list[Path]:
    return sorted(p for p in run.rglob("*.html"))


@pytest.mark.slow
def test_failure_is_isolated(built):
    r = built.result
    status = {x.job_id: x.status for x in r.results}
    assert status == {"csp_profile--E22000027": "ok", "csp_profile--E22000029": "ok",
                      "failing_page--E22000027": "ok", "failing_page--E22000029": "failed"}
    assert not r.ok and r.exit_code == 1
    assert "4 pages: 3 ok, 1 failed, 0 skipped" in r.summary()
    failed = next(x for x in r.results if x.status == "failed")
    assert failed.ename == "ValueError" and "deliberate failure" in failed.evalue
    assert failed.failed_notebook == "_failed/failing_page--E22000029.ipynb"
    assert (built.analyst / failed.failed_notebook).is_file() and not (built.run / "_failed").exists()
    error_page = (built.run / "csp/E22000029/failing_page/index.html").read_text()
    assert "Page not available" in error_page and "deliberate failure for E22000029" in error_page
    assert "Traceback" not in error_page and "raise ValueError" not in error_page
    where = f"{built.out.name}/_analyst/{r.run_id}/_failed/failing_page--E22000029.ipynb"
    assert where in error_page and str(built.out) not in error_page  # named, without a machine path
    index = (built.run / "index.html").read_text()
    assert 'href="csp/E22000029/failing_page/index.html"' in index and "Pages that failed" in index


@pytest.mark.slow
def test_pages_show_no_code_and_load_nothing_from_the_internet(built):
    pages = html_files(built.run)
    assert len(pages) == 5  # index + 3 pages + 1 error page
    for path in pages:
        html = path.read_text(encoding="utf-8")
        soup = BeautifulSoup(html, "html.parser")
        for marker in CODE_MARKERS:
            assert marker not in html, (path, marker)
        assert not soup.find_all("script"), path
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""", html)
        assert soup.html.get("lang") == "en" and soup.title.string
        assert len(soup.find_all("h1")) == 1, path
        assert all((img.get("alt") or "").strip() for img in soup.find_all("img")), path
        assert "SYNTHETIC DEMO DATA — not real crime figures" in html
        assert path.stat().st_size < 2_000_000
    profile = BeautifulSoup((built.run / "csp/E22000027/csp_profile/index.html").read_text(), "html.parser")
    assert profile.h1.string == "Serious violence profile: Hartlepool"
    assert profile.find("img") and all(t.caption for t in profile.find_all("table") if t.find("tbody"))


@pytest.mark.slow
def test_published_tables_hold_no_small_counts_or_records(built):
    """Every CSV download is on record (file, caption, count columns, threshold) and passes its check again."""
    manifest = json.loads((built.run / "manifest.json").read_text())
    recorded = {}
    for job in manifest["jobs"]:
        for t in job["tables"]:
            recorded[(Path(job["page"]).parent / t["file"]).as_posix()] = t
    csvs = {p.relative_to(built.run).as_posix() for p in built.run.rglob("*.csv")}
    assert csvs and csvs == set(recorded)  # nothing published without a disclosure check on record
    assert not list(built.run.rglob(TABLES_SIDECAR))  # the record lives in the manifest, not online
    captions = {}
    for rel, t in recorded.items():
        frame = pd.read_csv(built.run / rel, dtype=str, keep_default_na=False)
        assert not {c.lower() for c in frame.columns} & RECORD_LEVEL_COLUMNS, rel
        assert t["threshold"] == config.disclosure_threshold("police")
        for col in t["count_columns"]:
            values = pd.to_numeric(frame[col].str.replace(",", ""), errors="coerce")
            assert not values.between(1, t["threshold"]).any(), (rel, col)
        captions[t["caption"]] = t
    for path in html_files(built.run):
        for table in BeautifulSoup(path.read_text(), "html.parser").find_all("table"):
            heads = [th.get_text(strip=True) for th in table.find_all("th", scope="col")]
            assert not {h.lower() for h in heads} & RECORD_LEVEL_COLUMNS
            record = captions.get(table.caption.get_text(strip=True) if table.caption else None)
            if record is None:
                continue
            for row in table.find("tbody").find_all("tr"):
                cells = dict(zip(heads, [c.get_text(strip=True) for c in row.find_all(["th", "td"])]))
                for col in record["count_columns"]:
                    text = cells.get(col, "").replace(",", "")
                    assert not (text.isdigit() and 1 <= int(text) <= record["threshold"]), (path, col, text)


@pytest.mark.slow
def test_manifest_summary_and_index(built):
    manifest = json.loads((built.run / "manifest.json").read_text())
    for key in ("run_id", "parameters", "dataset", "input_hashes", "versions", "git_revision", "code_sha256",
                "jobs", "seconds", "status", "max_page_bytes"):
        assert key in manifest, key
    assert manifest["parameters"]["csps"] == TWO_CSPS and manifest["status"]["failed"] == 1
    assert manifest["versions"]["papermill"] and manifest["dataset"]["synthetic"] is True
    assert any(k.startswith("records/csp_code=E22000027/part-") for k in manifest["input_hashes"])
    job = manifest["jobs"][0]
    for key in ("job_id", "parameters", "status", "seconds", "page", "page_bytes", "cache_key", "inputs",
                "worker_peak_rss_mb", "kernel_peak_rss_mb"):
        assert key in job, key
    assert job["parameters"]["csp_code"] == "E22000027" and job["seconds"] > 0 and job["page_bytes"] > 0
    assert manifest["analyst_folder"] == f"{built.out.name}/_analyst/{built.result.run_id}"
    assert manifest["processed_dir"] == "data/processed/demo"
    assert manifest["parameters"]["notebooks"] == ["csp_profile", "failing_page.ipynb"]
    assert manifest["notebooks"]["csp_profile"]["path"] == "notebooks/csp_profile.ipynb"
    assert manifest["summary"].endswith("→ index.html")
    full = json.loads((built.analyst / "manifest.json").read_text())  # the analysts' copy keeps the paths
    assert Path(full["processed_dir"]) == Path(data_dir()) / "processed" / "demo"
    assert full["input_hashes"] == manifest["input_hashes"] and len(full["jobs"]) == len(manifest["jobs"])
    assert built.result.manifest == full
    with (built.analyst / "run_summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok", "failed"}
    assert "done:" in (built.analyst / "build.log").read_text()
    soup = BeautifulSoup((built.run / "index.html").read_text(), "html.parser")
    assert [h.get_text() for h in soup.find_all("h2")][:2] == ["Pages that failed", "Cleveland"]
    for a in soup.find_all("a"):
        href = a["href"]
        assert not href.startswith(("/", "http", "file:")), href
        if not href.startswith("#"):
            assert (built.run / href).is_file(), href
    assert "Hartlepool" in soup.get_text() and "Middlesbrough" in soup.get_text()
    page = BeautifulSoup((built.run / "csp/E22000027/csp_profile/index.html").read_text(), "html.parser")
    back = page.find("nav").a["href"]
    assert back == "../../../index.html" and (built.run / "csp/E22000027/csp_profile" / back).resolve().is_file()


@pytest.mark.slow
def test_a_filtered_run_moves_no_latest_link_and_says_it_is_partial(built):
    """--csp / --notebook: the run has its own folder, no latest link moves, the index says how partial it is."""
    assert not (built.out / "latest").exists() and not list(built.out.glob("latest-*"))
    assert not (built.out / "_analyst" / "latest").exists()
    assert not list(built.out.glob("*.partial")) and not list((built.out / "_analyst").glob("*.partial"))
    assert built.result.index == built.run / "index.html" and built.result.analyst_dir == built.analyst
    assert built.result.partial and built.result.latest == []
    full = sum(not j.skip_reason for j in build.plan_jobs())  # what an unfiltered run of the dataset builds
    assert built.result.full_pages == full and full > 4
    manifest = json.loads((built.run / "manifest.json").read_text())
    assert manifest["scope"] == "partial" and manifest["pages"] == 4 and manifest["full_run_pages"] == full
    assert manifest["filter"] == {"notebooks": ["csp_profile", "failing_page.ipynb"], "csps": TWO_CSPS}
    soup = BeautifulSoup((built.run / "index.html").read_text(), "html.parser")
    assert "partial run, 4 of " + str(full) + " pages of the demo dataset" in soup.h1.get_text()
    note = soup.find(id="partial-run").get_text(" ", strip=True)
    assert note.startswith(f"Partial run: 4 pages of the {full} a full run of this dataset builds")
    assert "CSPs E22000027, E22000029" in note and "No full run of this dataset has been built yet" in note


def full_run_notebooks(folder: Path) -> Path:
    """A whole-dataset page and a force page: a full run of the demo data in seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    write_notebook(folder / "overview_page.ipynb", "from svtools.publish import render as report\n"
                   "report.say(f'Every area in {dataset}.')",
                   {"level": "dataset", "schemas": ["police_extract"], "title": "Overview", "order": 10},
                   params='dataset = "demo"')
    write_notebook(folder / "force_page.ipynb", "from svtools.publish import render as report\n"
                   "report.say(f'Force {pfa_code}.')",
                   {"level": "force", "schemas": ["police_extract"], "title": "Force page: {area_name}",
                    "order": 20}, params='pfa_code = "E23000013"')
    return folder


@pytest.fixture(scope="module")
def full_runs(demo_data, tmp_path_factory):
    """Full runs of two datasets (demo, then a copy named ``other``), then a filtered run of demo."""
    out = tmp_path_factory.mktemp("outputs_full")
    other = demo_data.parent / "other"
    if not other.exists():
        shutil.copytree(demo_data, other)
        meta = json.loads((other / "dataset.json").read_text())
        (other / "dataset.json").write_text(json.dumps({**meta, "dataset": "other"}))
    folder = full_run_notebooks(tmp_path_factory.mktemp("full_notebooks"))
    with pytest.MonkeyPatch.context() as mp:  # undone before any other test of the module runs
        mp.setattr(build, "NOTEBOOKS", folder)
        demo = build.run_build(jobs=1, out=out, progress=False)
        second = build.run_build(dataset="other", jobs=1, out=out, progress=False)
        partial = build.run_build(notebooks=["force_page"], jobs=1, out=out, progress=False)
    return SimpleNamespace(out=out, demo=demo, other=second, partial=partial, folder=folder)


@pytest.mark.slow
def test_full_runs_move_latest_and_their_datasets_latest(full_runs):
    out = full_runs.out
    assert not full_runs.demo.partial and not full_runs.other.partial and full_runs.partial.partial
    # latest: the newest full run; latest-<dataset>: each dataset's own; the filtered run moved nothing
    assert os.readlink(out / "latest") == full_runs.other.run_id
    assert os.readlink(out / "latest-demo") == full_runs.demo.run_id
    assert os.readlink(out / "latest-other") == full_runs.other.run_id
    assert os.readlink(out / "_analyst" / "latest") == full_runs.other.run_id
    assert os.readlink(out / "_analyst" / "latest-demo") == full_runs.demo.run_id
    assert (out / "_analyst" / "latest-demo" / "manifest.json").is_file()
    assert (out / full_runs.partial.run_id / "index.html").is_file()
    manifest = json.loads((out / "latest-demo" / "manifest.json").read_text())
    assert manifest["scope"] == "full" and "filter" not in manifest and manifest["pages"] == 2
    assert manifest["full_run_pages"] == 2
    soup = BeautifulSoup((out / "latest-demo" / "index.html").read_text(), "html.parser")
    assert soup.h1.get_text().endswith(": all pages of the demo dataset") and not soup.find(id="partial-run")
    other = BeautifulSoup((out / "latest" / "index.html").read_text(), "html.parser")
    assert other.h1.get_text().endswith(": all pages of the other dataset")
    part = BeautifulSoup((out / full_runs.partial.run_id / "index.html").read_text(), "html.parser")
    assert "partial run, 1 of 2 pages of the demo dataset" in part.h1.get_text()
    note = part.find(id="partial-run").get_text(" ", strip=True)
    assert note == (f"Partial run: 1 page of the 2 a full run of this dataset builds (only notebook force_page). "
                    f"The latest full run is in {out.name}/latest-demo.")


@pytest.mark.slow
def test_a_filtered_run_prints_where_it_went(full_runs, capsys, monkeypatch):
    monkeypatch.setattr(build, "NOTEBOOKS", full_runs.folder)
    r = build.run_build(notebooks=["force_page"], forces=["E23000013"], jobs=1, out=full_runs.out, progress=False)
    printed = capsys.readouterr().out
    assert f"partial run (1 page of the 2 a full run builds; force E23000013; notebook force_page): {r.index}" \
        in printed
    assert f"no latest link moved ({full_runs.out.name}/latest: still {full_runs.other.run_id})" in printed
    assert os.readlink(full_runs.out / "latest-demo") == full_runs.demo.run_id


def _machine_paths(out: Path) -> set[str]:
    """Absolute folders of this machine that no published file may contain."""
    paths = {str(ROOT), str(out), str(out.resolve()), os.environ["SVTOOLS_DATA"], str(Path.home()),
             tempfile.gettempdir() + "/", "/tmp/", "/root/", "/home/"}
    return {p for p in paths if len(p) > 2}


@pytest.mark.slow
def test_published_folder_holds_only_publishable_files(built):
    """Pages, CSVs, index.html and manifest.json only: no notebook, no log, no machine path anywhere."""
    files = [p for p in built.run.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".ipynb"]
    assert not [p for p in built.run.rglob("*") if p.name in ("_notebooks", "_failed", "_analyst")]
    top = {p.name for p in built.run.iterdir()}
    assert top == {"index.html", "manifest.json", "csp"}, top
    assert {p.suffix for p in files} <= {".html", ".csv", ".json"}
    assert [p.name for p in files if p.suffix == ".json"] == ["manifest.json"]
    machine = _machine_paths(built.out)
    for path in files:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)  # embedded images: not paths
        for root in machine:
            assert root not in text, (path.relative_to(built.run), root)
    # the analysts' folder has what was taken out: every executed notebook, the failed one, the logs
    executed = {p.name for p in (built.analyst / "_notebooks").glob("*.ipynb")}
    assert executed == {"csp_profile--E22000027.ipynb", "csp_profile--E22000029.ipynb",
                        "failing_page--E22000027.ipynb"}
    assert [p.name for p in (built.analyst / "_failed").iterdir()] == ["failing_page--E22000029.ipynb"]
    failed_nb = nbformat.read(str(built.analyst / "_failed" / "failing_page--E22000029.ipynb"), as_version=4)
    assert any("deliberate failure" in str(c.get("outputs", "")) for c in failed_nb.cells)
    for name in ("manifest.json", "run_summary.csv", "build.log"):
        assert (built.analyst / name).is_file(), name


@pytest.mark.slow
def test_rerun_with_nothing_changed_executes_nothing(built):
    again = build.run_build(notebooks=["csp_profile"], csps=TWO_CSPS, jobs=2, out=built.out, progress=False)
    assert [r.status for r in again.results] == ["cached", "cached"] and again.ok
    first = {r.job_id: r for r in built.result.results}
    for r in again.results:
        assert r.produced_at == first[r.job_id].produced_at and r.page_bytes == first[r.job_id].page_bytes
        page = again.run_dir / again.jobs[0].page
        assert page.is_file() and "Serious violence profile" in page.read_text()
    assert not (built.out / "latest").exists() and again.partial  # a filtered run: no latest link
    assert (again.run_dir / "csp/E22000029/csp_profile/offences_by_financial_year.csv").is_file()
    # the cache restores the executed notebooks into the analysts' folder, never into the published one
    assert {p.name for p in (again.analyst_dir / "_notebooks").iterdir()} == {
        "csp_profile--E22000027.ipynb", "csp_profile--E22000029.ipynb"}
    assert not list(again.run_dir.rglob("*.ipynb"))


@pytest.mark.slow
def test_force_all_reruns_on_one_worker(built):
    r = build.run_build(notebooks=[built.failing], csps=["E22000027"], jobs=1, out=built.out, force_all=True,
                        progress=False)
    assert [x.status for x in r.results] == ["ok"] and r.results[0].worker_pid == os.getpid()


@pytest.mark.slow
def test_interrupted_run_leaves_the_last_good_run_in_place(full_runs, monkeypatch):
    out = full_runs.out
    links = {name: os.readlink(out / name) for name in ("latest", "latest-demo")}
    analyst_links = {name: os.readlink(out / "_analyst" / name) for name in ("latest", "latest-demo")}
    runs = {p.name for p in out.iterdir()}
    analyst_runs = {p.name for p in (out / "_analyst").iterdir()}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "NOTEBOOKS", full_runs.folder)
    monkeypatch.setattr(build, "_write_reports", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build.run_build(jobs=1, out=out, progress=False)  # a full run, stopped before it is complete
    assert {name: os.readlink(out / name) for name in links} == links
    assert (out / "latest" / "index.html").is_file()
    new = {p.name for p in out.iterdir()} - runs
    assert len(new) == 1 and new.pop().endswith(".partial")
    assert {name: os.readlink(out / "_analyst" / name) for name in analyst_links} == analyst_links
    assert (out / "_analyst" / "latest" / "_notebooks").is_dir()
    new = {p.name for p in (out / "_analyst").iterdir()} - analyst_runs
    assert len(new) == 1 and new.pop().endswith(".partial")


@pytest.mark.slow
def test_a_cell_timeout_fails_only_its_job_and_the_kernel_is_replaced(demo_data, tmp_path):
    from svtools.publish import render as report

    slow = write_notebook(tmp_path / "slow_page.ipynb", "import time\nif csp_code == 'E22000027':\n"
                          "    time.sleep(60)\nprint('quick')", {"level": "csp", "title": "Slow: {area_name}"})
    jobs = build.plan_jobs(notebooks=[slow], csps=TWO_CSPS)
    for job in jobs:
        job.context = report.page_context(job.params, job.title)
    with report.WarmKernel() as kernel:
        first = build._execute_job(kernel, jobs[0], tmp_path / "run", timeout=2, analyst_dir=tmp_path / "a")
        second = build._execute_job(kernel, jobs[1], tmp_path / "run", timeout=30, analyst_dir=tmp_path / "a")
        assert kernel.starts == 2  # restarted after the timeout
    assert first.status == "failed" and first.ename == "CellTimeoutError"
    assert "Page not available" in (tmp_path / "run" / jobs[0].page).read_text()
    assert second.status == "ok" and "quick" in (tmp_path / "run" / jobs[1].page).read_text()
    assert (tmp_path / "a" / "_failed" / f"{jobs[0].job_id}.ipynb").is_file()
    assert (tmp_path / "a" / "_notebooks" / f"{jobs[1].job_id}.ipynb").is_file()
    assert not list((tmp_path / "run").rglob("*.ipynb"))


def test_published_manifest_has_relative_paths_only(monkeypatch, tmp_path):
    """Error messages quoting a path, the summary and every path field lose the machine's folders."""
    out = tmp_path / "outputs"
    monkeypatch.setenv("SVTOOLS_OUTPUTS", str(out))
    index = out / "20250101-000000" / "index.html"
    manifest = {
        "summary": f"1 CSPs, 1 pages: 0 ok, 1 failed, 0 skipped in 1.0s → {index}",
        "processed_dir": str(data_dir() / "processed" / "demo"),
        "dataset": {"source": str(ROOT / "data" / "raw" / "demo")},
        "parameters": {"notebooks": ["csp_profile", str(tmp_path / "mine.ipynb")]},
        "notebooks": {"mine": {"path": str(tmp_path / "mine.ipynb")},
                      "csp_profile": {"path": str(ROOT / "notebooks" / "csp_profile.ipynb")}},
        "jobs": [{"failed_notebook": "_failed/mine--E1.ipynb",
                  "evalue": f"[Errno 2] No such file: '{data_dir()}/processed/demo/x.parquet' "
                            f"(or {Path.home()}/x, {ROOT}/y, {tmp_path}/z)"}],
    }
    result = SimpleNamespace(index=index, run_id="20250101-000000")
    pub = build._published_manifest(manifest, result, out)
    assert pub["summary"].endswith("→ index.html") and pub["processed_dir"] == "data/processed/demo"
    assert pub["dataset"]["source"] == "data/raw/demo"
    assert pub["parameters"]["notebooks"] == ["csp_profile", "mine.ipynb"]
    assert pub["notebooks"]["csp_profile"]["path"] == "notebooks/csp_profile.ipynb"
    assert pub["notebooks"]["mine"]["path"] == "mine.ipynb"
    assert pub["jobs"][0]["failed_notebook"] == "outputs/_analyst/20250101-000000/_failed/mine--E1.ipynb"
    text = json.dumps(pub, ensure_ascii=False)
    for root in _machine_paths(out) | {str(tmp_path)}:
        assert root not in text, root
    assert "<data>/processed/demo/x.parquet" in pub["jobs"][0]["evalue"]
    assert manifest["processed_dir"].startswith("/")  # the analysts' copy is left as it was
