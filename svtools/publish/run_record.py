"""The record of a batch run (:mod:`svtools.publish.batch`): the manifest, the run index page's context,
``run_summary.csv`` and the published manifest (relative paths only, machine folders scrubbed).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from svtools.publish import render
from svtools.paths import ROOT, data_dir, outputs_dir
from svtools.publish.run_cache import BuildResult, Job, JobResult, Notebook, _code_digest

_PAGE = "index.html"
#: The analysts' folder inside the outputs folder: ``outputs/_analyst/<run-id>/`` (never published).
ANALYST_DIR = "_analyst"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _filter_text(filters: dict) -> str:
    """A partial run's filter in words: ``CSP E22000027``, ``forces Cleveland, Durham; notebook csp_profile``."""
    parts = []
    for key, one, many in (("csps", "CSP", "CSPs"), ("forces", "force", "forces"),
                           ("notebooks", "notebook", "notebooks")):
        values = [Path(str(v)).stem if key == "notebooks" else str(v) for v in filters.get(key) or []]
        if values:
            parts.append(f"{one if len(values) == 1 else many} {', '.join(values)}")
    return "; ".join(parts)


def _scope(filters: dict, pages: int, full_pages: int | None, dataset: str, full_run: str | None) -> dict:
    """What the manifest and the index page say about a run's scope.

    A run with no filter (``--csp``, ``--force``, ``--notebook``) is ``full``; any other is ``partial``, and
    records its filter, its page count, the page count of a full run of the dataset and where the latest full run
    is (``full_run``, e.g. ``outputs/latest-demo``; None when the dataset has none yet).
    """
    filters = {k: [Path(str(x)).name if k == "notebooks" and str(x).endswith(".ipynb") else str(x) for x in v]
               for k, v in filters.items() if v}  # a notebook named by path: its file name, no folder
    scope = {"scope": "partial" if filters else "full", "pages": pages, "full_run_pages": full_pages}
    if filters:
        scope["filter"] = filters
        scope["filter_text"] = _filter_text(filters)
        scope["full_run"] = full_run
    scope["dataset"] = dataset
    return scope


def _index_title(base: dict, scope: dict) -> str:
    """The run index's title: which dataset a full run holds; a partial run says it is one, with its size."""
    project = base.get("project_title") or "svtools"
    name = base.get("dataset_name") or scope["dataset"]
    if scope["scope"] == "full":
        return f"{project}: all pages of the {name} dataset"
    of = f" of {scope['full_run_pages']}" if scope.get("full_run_pages") else ""
    return f"{project}: partial run, {scope['pages']}{of} pages of the {name} dataset"


def _partial_note(scope: dict) -> str | None:
    """The plain sentence at the top of a partial run's index (None for a full run)."""
    if scope["scope"] == "full":
        return None
    n, full = scope["pages"], scope.get("full_run_pages")
    pages = f"{n} page{'s' if n != 1 else ''}"
    text = (f"Partial run: {pages} of the {full} a full run of this dataset builds" if full
            else f"Partial run: {pages}, not every page of this dataset")
    text += f" (only {scope['filter_text']})." if scope.get("filter_text") else "."
    if scope.get("full_run"):
        text += f" The latest full run is in {scope['full_run']}."
    else:
        text += " No full run of this dataset has been built yet."
    return text


def _area_groups(jobs: list[Job], entry, areas) -> list[dict]:
    """The index's force -> CSP -> pages tree of ``jobs`` (forces and CSPs with no page left out)."""
    by_job = sorted(jobs, key=lambda j: (j.order, j.name))
    forces = []
    for pfa, group in areas.groupby("pfa_code", sort=False):
        force_pages = [entry(j) for j in by_job if j.level == "force" and j.pfa_code == pfa]
        csps = []
        for row in group.itertuples(index=False):
            pages = [entry(j) for j in by_job if j.level == "csp" and j.area_code == row.csp_code]
            if pages:
                csps.append({"code": row.csp_code, "name": row.csp_name, "pages": pages})
        if force_pages or csps:
            forces.append({"code": pfa, "name": group["pfa_name"].iloc[0], "pages": force_pages, "csps": csps})
    return forces


def _index_context(jobs: list[Job], results: dict[str, JobResult], base: dict, run_id: str, summary: str,
                   dataset: str, scope: dict | None = None, definitions: list[dict] | None = None) -> dict:
    """The run index page's context: every page by force and CSP; with several ``definitions`` (each a dict of
    ``name``, ``title``, ``source``), one group per definition (``definition_groups``) and the pages that do not
    depend on the definition, such as the definition comparison, in ``across``."""
    from svtools.ingest.store import load_table

    def entry(job: Job) -> dict:
        r = results[job.job_id]
        if r.status == "skipped":
            return {"label": job.label, "href": None, "status": "skipped", "reason": r.reason}
        return {"label": job.label, "href": job.page, "status": r.status}

    areas = load_table("areas", dataset).sort_values(["pfa_name", "csp_name"])
    by_job = sorted(jobs, key=lambda j: (j.order, j.name))
    several = definitions is not None and len(definitions) > 1
    groups, across = [], []
    if several:
        for d in definitions:
            mine = [j for j in jobs if j.definition == d.get("name")]
            anchor = f"definition-{d.get('name')}"
            tree = [{**f, "anchor": f"{anchor}-force-{f['code']}"} for f in _area_groups(mine, entry, areas)]
            groups.append({"name": d.get("name"), "title": d.get("title") or d.get("name"),
                           "source": d.get("source"), "anchor": anchor,
                           "general": [entry(j) for j in by_job
                                       if j.level == "dataset" and j.definition == d.get("name")],
                           "forces": tree})
        shared = [j for j in jobs if j.definition is None]
        across = _area_groups(shared, entry, areas)
        general = [entry(j) for j in by_job if j.level == "dataset" and j.definition is None]
        forces = []
    else:
        general = [entry(j) for j in by_job if j.level == "dataset"]
        forces = _area_groups(jobs, entry, areas)
    failed = [{"href": j.page, "label": f"{j.label}: {j.area_name}"
               + (f" ({_definition_title(definitions, j.definition)})" if several and j.definition else ""),
               "ename": results[j.job_id].ename}
              for j in jobs if results[j.job_id].status == "failed"]
    period = None
    if base.get("dataset_period_start"):
        end = next((j.params.get("period_end") for j in jobs if j.params.get("period_end")), None)
        period = render.period_label(base["dataset_period_start"], end or base["dataset_period_end"])
    return {
        **base,
        "summary": summary,
        "run_id": run_id,
        "general": general,
        "forces": forces,
        "definition_groups": groups,
        "across": across,
        "failed": failed,
        "period": period,
        "dataset_label": base.get("data", {}).get("Dataset", dataset),
        "index_href": None,
        "parameters": None,
        "scope": (scope or {}).get("scope", "full"),
        "partial_note": _partial_note(scope) if scope else None,
    }


def _definition_title(definitions: list[dict] | None, name: str | None) -> str:
    for d in definitions or []:
        if d.get("name") == name:
            return str(d.get("title") or name)
    return str(name)


def _partner_summary(jobs: list[Job], results: dict[str, JobResult]) -> str:
    """The index page's opening sentence (no timings or cache jargon)."""
    csps = len({j.area_code for j in jobs if j.level == "csp"})
    made = sum(results[j.job_id].status in ("ok", "cached") for j in jobs)
    text = f"{made} page{'s' if made != 1 else ''} covering {csps} Community Safety Partnership{'s' if csps != 1 else ''}"
    failed = sum(results[j.job_id].status == "failed" for j in jobs)
    skipped = sum(results[j.job_id].status == "skipped" for j in jobs)
    if failed:
        text += f"; {failed} could not be produced in this run (listed below)"
    if skipped:
        text += f"; {skipped} not produced because there were no records"
    return text + "."


def _write_reports(run_dir: Path, analyst_dir: Path, jobs: list[Job], results: dict[str, JobResult],
                   manifest: dict, published: dict) -> None:
    """The full ``manifest.json`` and ``run_summary.csv`` (timings, failed notebooks) go to the analysts' folder;
    the published folder gets ``published``, the manifest with relative paths only. Both record
    ``published_tables``: one SHA-256 over every published CSV (:func:`tables_digest`), so two runs of the same
    inputs and code can be compared by one value."""
    digest = tables_digest(run_dir)
    manifest["published_tables"] = published["published_tables"] = digest
    (run_dir / "manifest.json").write_text(json.dumps(published, indent=2, default=str), encoding="utf-8")
    (analyst_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    cols = ["job_id", "notebook", "level", "area_code", "area_name", "force", "definition", "status", "seconds",
            "page",
            "page_bytes", "ename", "evalue", "failed_notebook"]
    with (analyst_dir / "run_summary.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for j in jobs:
            r = results[j.job_id]
            w.writerow({"job_id": j.job_id, "notebook": j.name, "level": j.level, "area_code": j.area_code or "",
                        "area_name": j.area_name, "force": j.pfa_name or "", "definition": j.definition or "",
                        "status": r.status,
                        "seconds": r.seconds, "page": j.page if r.status != "skipped" else "",
                        "page_bytes": r.page_bytes, "ename": r.ename, "evalue": r.evalue,
                        "failed_notebook": r.failed_notebook})



def tables_digest(run_dir: str | Path) -> dict:
    """One SHA-256 over the published tables of a run folder: every ``*.csv`` below it, in sorted relative-path
    order, each as ``<relative path>\\0<sha256 of its bytes>\\n``.

    Returns
    -------
    dict
        ``{"sha256": hex digest, "files": number of CSVs}``. Equal digests mean byte-identical tables at the same
        paths.
    """
    import hashlib

    run_dir = Path(run_dir)
    h = hashlib.sha256()
    files = sorted(run_dir.rglob("*.csv"))
    for f in files:
        h.update(f"{f.relative_to(run_dir).as_posix()}\0{hashlib.sha256(f.read_bytes()).hexdigest()}\n".encode())
    return {"sha256": h.hexdigest(), "files": len(files)}


def _manifest(run_id: str, started_at: str, seconds: float, plan: list[Job], results: dict[str, JobResult],
              parameters: dict, info: dict, input_hashes: dict, ddir: Path, summary: str,
              nbs: dict[str, Notebook], code_sha256: str | None = None, scope: dict | None = None,
              definition: dict | None = None) -> dict:
    jobs = []
    for j in plan:
        r = results[j.job_id]
        jobs.append({
            "job_id": j.job_id, "notebook": j.name, "level": j.level, "area_code": j.area_code,
            "area_name": j.area_name, "pfa_code": j.pfa_code, "force": j.pfa_name, "title": j.title,
            "definition": j.definition, "parameters": j.params,
            "page": j.page if r.status != "skipped" else None, "cache_key": j.key,
            "inputs": j.inputs, **{k: v for k, v in dataclasses.asdict(r).items() if k != "job_id"},
        })
    counts = {s: sum(r.status == s for r in results.values()) for s in ("ok", "cached", "failed", "skipped")}
    return {
        "run_id": run_id,
        "summary": summary,
        "started_at": started_at,
        "finished_at": _now_iso(),
        "seconds": round(seconds, 2),
        "status": counts,
        **{k: v for k, v in (scope or {}).items() if k not in ("dataset", "filter_text")},
        "parameters": parameters,
        "definition": definition,
        "notebooks": {n.name: {"path": n.path.relative_to(ROOT).as_posix() if n.path.is_relative_to(ROOT)
                               else str(n.path), "sha256": n.sha256, "settings": n.settings}
                      for n in nbs.values()},
        "dataset": info,
        "processed_dir": str(ddir),
        "input_hashes": dict(sorted(input_hashes.items())),
        "code_sha256": code_sha256 if code_sha256 is not None else _code_digest(),
        "versions": render.package_versions(),
        "git_revision": render.git_revision(),
        "max_page_bytes": max((r.page_bytes for r in results.values()), default=0),
        "jobs": jobs,
    }



# --------------------------------------------------------------------------- the published manifest
def _machine_roots(*extra: Path) -> list[tuple[str, str]]:
    """Absolute folders of this machine and the placeholder each becomes in published text, longest first."""
    pairs = [(ROOT, "<repo>"), (data_dir(), "<data>"), (outputs_dir(), "<outputs>"),
             (Path(tempfile.gettempdir()), "<tmp>"), (Path.home(), "~"), *((p, "<outputs>") for p in extra)]
    out: dict[str, str] = {}
    for path, label in pairs:
        for variant in {str(path), str(Path(path).resolve())}:
            if len(variant) > 1:  # never "/"
                out.setdefault(variant, label)
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def _scrub_paths(text: str, *extra: Path) -> str:
    """``text`` with every absolute folder of this machine (repo, data, outputs, temp, home) replaced by a
    placeholder (``<repo>``, ``<data>``, ``<outputs>``, ``<tmp>``, ``~``): error messages may quote paths."""
    for root, label in _machine_roots(*extra):
        text = re.sub(re.escape(root) + r"(?![\w.-])", lambda _m, label=label: label, text)
    return text


def _public_path(path: str | Path | None) -> str | None:
    """A path as the published manifest gives it: relative to the repository (``notebooks/x.ipynb``) or the
    data folder (``data/processed/demo``), else only its name; never absolute."""
    if path in (None, ""):
        return None if path is None else ""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    for root, prefix in ((ROOT, ""), (data_dir(), "data/")):
        for base in {root, root.resolve()}:
            if p.is_relative_to(base):
                return prefix + p.relative_to(base).as_posix()
    return p.name


def _published_manifest(manifest: dict, result: BuildResult, out: Path) -> dict:
    """The manifest a partner may get: the same record with relative paths only.

    Paths become relative (:func:`_public_path`), the summary points at ``index.html``, ``failed_notebook`` names
    the notebook in the analysts' folder (``outputs/_analyst/<run-id>/_failed/...``), and any other absolute
    folder of the machine left in a string (an error message, say) is replaced by a placeholder.
    """
    pub = json.loads(json.dumps(manifest, default=str))
    pub["summary"] = pub["summary"].replace(str(result.index), _PAGE)
    pub["processed_dir"] = _public_path(pub.get("processed_dir"))
    if isinstance(pub.get("dataset"), dict) and "source" in pub["dataset"]:
        pub["dataset"]["source"] = _public_path(pub["dataset"]["source"])
    if pub["parameters"].get("notebooks"):
        pub["parameters"]["notebooks"] = [n if Path(n).suffix != ".ipynb" else _public_path(n)
                                          for n in pub["parameters"]["notebooks"]]
    for nb in pub["notebooks"].values():
        nb["path"] = _public_path(nb["path"])
    if pub["parameters"].get("scheduler") not in (None, "LocalCluster"):  # a cluster's address stays in-house
        pub["parameters"]["scheduler"] = "a dask.distributed cluster (its address: the analysts' manifest)"
    analyst = f"{out.name}/{ANALYST_DIR}/{result.run_id}"
    pub["analyst_folder"] = analyst
    for job in pub["jobs"]:
        if job.get("worker"):
            job["worker"] = "dask worker"  # its address stays in the analysts' manifest
        if job.get("failed_notebook"):
            job["failed_notebook"] = f"{analyst}/{job['failed_notebook']}"

    def scrub(value):
        if isinstance(value, str):
            return _scrub_paths(value, out)
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        return value

    return scrub(pub)
