"""``svtools build --executor dask``: the same jobs on a dask.distributed cluster publish what the local executor
publishes (svtools.publish.dask_executor, svtools.publish.executors).

The end-to-end tests start one ``LocalCluster`` of 2 worker *processes* (each with its own warm kernel, as on a real
cluster; starting it takes a few seconds) and give its address to the build as ``--scheduler`` would. They build
Hartlepool's trend page and Cleveland's force overview (plus two test pages: one that fails, one that kills its Dask
worker) with the local executor and with Dask, and compare what was published.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from section_helpers import CSP, FORCE

from svtools.errors import SvtoolsError
from svtools.publish import batch, executors

distributed = pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[dask]'")
from svtools.publish import dask_executor  # noqa: E402

#: a CSP page and a force page, each with charts and CSV downloads (tests/test_reproducible.py builds every page)
CSP_NB, FORCE_NB = "trend_seasonality", "force_overview"
NOTEBOOKS = [CSP_NB, FORCE_NB]


def _notebook(path: Path, source: str, title: str) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("## A test page\n\nNarrative."),
        new_code_cell('csp_code = "E22000027"\ndataset = "demo"', metadata={"tags": ["parameters"]}),
        new_code_cell(source),
    ])
    nb.metadata["kernelspec"] = {"name": "svtools", "display_name": "Python (svtools)", "language": "python"}
    nb.metadata["svtools"] = {"level": "csp", "schemas": ["police_extract"], "title": title, "tables": ["areas"],
                              "order": 90}
    nbformat.write(nb, str(path))
    return path


def _text(html: str, run_id: str) -> str:
    """A page without what names its run: the time it was produced and the run id (in an error page's folder)."""
    return re.sub(r"Produced [^<.]*\.", "Produced <time>.", html).replace(run_id, "<run-id>")


# --------------------------------------------------------------------------- no cluster needed
def test_the_plugin_travels_without_its_kernel():
    import pickle

    plugin = dask_executor.WarmKernelPlugin("python3", ["numpy"])
    plugin.kernel = object()  # a running kernel never goes over the wire
    copy = pickle.loads(pickle.dumps(plugin))
    assert (copy.kernel_name, copy.warm_modules, copy.kernel) == ("python3", ["numpy"], None)
    assert isinstance(copy, distributed.WorkerPlugin)


def test_a_worker_with_other_code_packages_or_data_refuses_the_job(demo_data):
    from svtools.publish.run_cache import _dataset_json_digest, _Hasher

    plugin = dask_executor.WarmKernelPlugin()
    areas = demo_data / "areas.parquet"
    good = {"code": plugin.code_digest(), "versions": batch._worker_expectations("demo")["versions"],
            "dataset": "demo", "dataset_json": _dataset_json_digest(demo_data),
            "inputs": {"areas.parquet": _Hasher(demo_data).file(areas)}}
    assert dask_executor.worker_mismatch(plugin, good) == ""
    assert good == {**batch._worker_expectations("demo"), "code": good["code"], "inputs": good["inputs"]}

    why = dask_executor.worker_mismatch(plugin, {**good, "code": "0" * 64})
    assert "other svtools code or config" in why and "000000000000 on the driver" in why
    why = dask_executor.worker_mismatch(plugin, {**good, "versions": {**good["versions"], "pandas": "0.1"}})
    assert "pandas" in why and "0.1 on the driver" in why
    why = dask_executor.worker_mismatch(plugin, {**good, "inputs": {"areas.parquet": "f" * 64}})
    assert "demo/areas.parquet differs from the driver's" in why
    why = dask_executor.worker_mismatch(plugin, {**good, "inputs": {"records/csp_code=X/part-0.parquet": "f" * 64}})
    assert "has no demo/records/csp_code=X/part-0.parquet" in why
    why = dask_executor.worker_mismatch(plugin, {**good, "dataset_json": "e" * 64})
    assert "dataset.json differs" in why
    why = dask_executor.worker_mismatch(plugin, {**good, "dataset": "no_such_dataset"})
    assert "cannot read the processed data" in why and "SVTOOLS_DATA" in why


def test_the_driver_lands_a_workers_page_folder_whole(tmp_path):
    job = SimpleNamespace(page="csp/E1/nb/index.html")
    stale = tmp_path / "run" / "csp" / "E1" / "nb" / "old.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("left from before")
    result = executors.JobResult(job_id="nb--E1", status="ok", files=["index.html", "t.csv"], worker="tcp://w:1")
    payload = {"result": dataclasses.asdict(result),
               "page": {"index.html": b"<html>page</html>", "t.csv": b"x,offences\nA,10\n"},
               "analyst": {"_notebooks/nb--E1.ipynb": b"{}"}}
    got = dask_executor.land(job, payload, tmp_path / "run", tmp_path / "analyst")
    assert got == result
    page_dir = tmp_path / "run" / "csp" / "E1" / "nb"
    assert sorted(p.name for p in page_dir.iterdir()) == ["index.html", "t.csv"]  # no stale file, no temp file
    assert (page_dir / "t.csv").read_bytes() == b"x,offences\nA,10\n"
    assert (tmp_path / "analyst" / "_notebooks" / "nb--E1.ipynb").read_bytes() == b"{}"


def test_executor_choice_and_the_cli_options(demo_data):
    from svtools.cli import build_parser

    args = build_parser().parse_args(["build", "--csp", CSP])
    assert (args.executor, args.scheduler) == ("local", None)  # the local executor stays the default
    args = build_parser().parse_args(["build", "--executor", "dask", "--scheduler", "tcp://10.0.0.5:8786"])
    assert (args.executor, args.scheduler) == ("dask", "tcp://10.0.0.5:8786")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["build", "--executor", "spark"])
    with pytest.raises(SvtoolsError, match="--scheduler needs --executor dask"):
        executors.make_executor("local", jobs=1, kernel_name="python3", warm_modules=[], timeout=1,
                                scheduler="tcp://x:1")
    ex = executors.make_executor("dask", jobs=2, kernel_name=None, warm_modules=[], timeout=1)
    assert isinstance(ex, dask_executor.DaskExecutor) and ex.record()["scheduler"] == "LocalCluster"


def test_the_published_manifest_keeps_the_clusters_addresses_in_house(tmp_path):
    from svtools.publish.run_record import _published_manifest

    out = tmp_path / "outputs"
    index = out / "r1" / "index.html"
    manifest = {"summary": f"1 CSPs, 1 pages: 1 ok → {index}", "processed_dir": None, "notebooks": {},
                "parameters": {"executor": "dask", "scheduler": "tcp://10.0.0.5:8786", "dask_workers": 2},
                "jobs": [{"job_id": "a", "worker": "tcp://10.0.0.7:40123", "failed_notebook": ""}]}
    result = SimpleNamespace(index=index, run_id="r1")
    pub = json.dumps(_published_manifest(manifest, result, out))
    assert "10.0.0" not in pub and '"executor": "dask"' in pub and '"dask_workers": 2' in pub


# --------------------------------------------------------------------------- on a LocalCluster
@pytest.fixture(scope="module")
def cluster():
    """2 worker processes, 1 thread each; a job whose worker dies is not retried (allowed-failures 0), so the
    test of a dying worker takes one death, not four."""
    import logging

    import dask

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=logging.ERROR, env={"DASK_LOGGING__DISTRIBUTED": "error"})
    yield lc
    lc.close()


@pytest.fixture(scope="module")
def runs(demo_data, cluster, tmp_path_factory):
    """The same selection built locally and on the cluster, then once more on the cluster into the same outputs
    folder (its cache), with a page whose kernel kills its Dask worker added."""
    mp = pytest.MonkeyPatch()
    # other work may edit svtools/ while this runs: the driver's and the workers' code digests would then differ
    # (a WorkerMismatch, tested above); the data and package checks stay on
    mp.setattr(dask_executor.DaskExecutor, "verify", ("versions", "data"))
    mp.setattr(batch, "_code_digest", lambda: "code of this test session")  # for the same reason: cache keys
    folder = tmp_path_factory.mktemp("dask_notebooks")
    failing = _notebook(folder / "failing_page.ipynb", "raise ValueError(f'deliberate failure for {csp_code}')",
                        "Failing page: {area_name}")
    killer = _notebook(folder / "killer_page.ipynb", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                       "Killer page: {area_name}")
    selection = dict(csps=[CSP], forces=[FORCE], progress=False)
    names = [*NOTEBOOKS, str(failing)]
    local = batch.run_build(notebooks=names, jobs=1, out=tmp_path_factory.mktemp("local") / "outputs",
                            **selection)
    dask_out = tmp_path_factory.mktemp("dask") / "outputs"
    first = batch.run_build(notebooks=names, jobs=2, out=dask_out, executor="dask",
                            scheduler=cluster.scheduler_address, **selection)
    second = batch.run_build(notebooks=[*names, str(killer)], jobs=2, out=dask_out, executor="dask",
                             scheduler=cluster.scheduler_address, **selection)
    mp.undo()
    return SimpleNamespace(local=local, first=first, second=second)


def _manifest(result) -> dict:
    return json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))


def _status(result) -> dict:
    return {r.job_id: r.status for r in result.results}


@pytest.mark.slow
def test_dask_publishes_the_same_tables_and_pages_as_the_local_executor(runs):
    local, first = runs.local, runs.first
    ok = {f"{CSP_NB}--{CSP}": "ok", f"{FORCE_NB}--{FORCE}": "ok", f"failing_page--{CSP}": "failed"}
    assert _status(local) == ok and _status(first) == ok, [(r.job_id, r.ename, r.evalue) for r in first.results]
    digests = [_manifest(r)["published_tables"] for r in (local, first)]
    assert digests[0] == digests[1] and digests[0]["files"] >= 5
    for job in local.jobs:  # every page, chart images and error page included, byte for byte but the run's own
        pages = [_text((r.run_dir / job.page).read_text(encoding="utf-8"), r.run_id) for r in (local, first)]
        assert pages[0] == pages[1], job.job_id
        files = [sorted(p.name for p in (r.run_dir / job.page).parent.iterdir()) for r in (local, first)]
        assert files[0] == files[1]
    # the same analysts' record: executed notebooks, the failed one, no scratch paths of the workers
    analyst = first.analyst_dir
    assert (analyst / "_notebooks" / f"{CSP_NB}--{CSP}.ipynb").is_file()
    assert (analyst / "_failed" / f"failing_page--{CSP}.ipynb").is_file()
    assert "svtools-job-" not in (first.run_dir / "manifest.json").read_text(encoding="utf-8")
    params = _manifest(first)["parameters"]
    assert params["executor"] == "dask" and params["dask_workers"] == 2
    assert "127.0.0.1" not in json.dumps(_manifest(first))  # addresses stay in the analysts' manifest
    full = json.loads((analyst / "manifest.json").read_text(encoding="utf-8"))
    assert full["parameters"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert all(j["worker"].startswith("tcp://127.0.0.1:") for j in full["jobs"])
    assert _manifest(local)["parameters"]["executor"] == "local"


@pytest.mark.slow
def test_a_failing_job_gets_the_same_error_page_on_dask(runs):
    for r in (runs.local, runs.first):
        failed = next(x for x in r.results if x.status == "failed")
        assert (failed.ename, failed.evalue) == ("ValueError", f"deliberate failure for {CSP}")
        page = (r.run_dir / f"csp/{CSP}/failing_page/index.html").read_text(encoding="utf-8")
        assert "Page not available" in page and f"deliberate failure for {CSP}" in page
        assert f"outputs/_analyst/{r.run_id}" in page and "Traceback" not in page


@pytest.mark.slow
def test_a_second_dask_run_reuses_the_cache_and_a_dead_worker_is_reported(runs):
    second = runs.second
    status = _status(second)
    assert status[f"{CSP_NB}--{CSP}"] == status[f"{FORCE_NB}--{FORCE}"] == "cached"
    assert status[f"failing_page--{CSP}"] == "failed"  # failures are never cached: run again, fail again
    killed = next(r for r in second.results if r.job_id == f"killer_page--{CSP}")
    assert killed.status == "failed" and killed.ename == "WorkerDied", (killed.ename, killed.evalue)
    assert "died" in killed.evalue
    page = (second.run_dir / f"csp/{CSP}/killer_page/index.html").read_text(encoding="utf-8")
    assert "Page not available" in page and "WorkerDied" in page
    assert _manifest(second)["published_tables"] == _manifest(runs.first)["published_tables"]
    assert len(second.results) == 4  # nothing lost: every planned job has its result
    log = (second.analyst_dir / "build.log").read_text(encoding="utf-8")
    assert "dask: connecting to the scheduler at tcp://127.0.0.1:" in log
    assert re.search(r"failed\s+killer_page--E22000027 .*WorkerDied", log)


@pytest.mark.slow
def test_without_a_scheduler_the_cli_starts_a_local_cluster_of_jobs_workers(demo_data, tmp_path, monkeypatch):
    from svtools.cli import main

    monkeypatch.setattr(dask_executor.DaskExecutor, "verify", ("versions", "data"))  # as in ``runs``
    hello = _notebook(tmp_path / "hello_page.ipynb",
                      "from svtools.publish import render as report\nreport.say(f'Hello from {csp_code}.')",
                      "Hello: {area_name}")
    out = tmp_path / "outputs"
    code = main(["build", "--executor", "dask", "--jobs", "2", "--notebook", str(hello), "--csp", CSP,
                 "--out", str(out), "--quiet"])
    assert code == 0
    (run,) = [p for p in out.iterdir() if p.name[:1].isdigit()]
    assert "Hello from E22000027." in (run / f"csp/{CSP}/hello_page/index.html").read_text(encoding="utf-8")
    log = (out / "_analyst" / run.name / "build.log").read_text(encoding="utf-8")
    assert "dask: no --scheduler given: started a LocalCluster of 2 worker process(es)" in log
    params = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    assert (params["executor"], params["scheduler"], params["dask_workers"]) == ("dask", "LocalCluster", 2)
