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


def _index_context(jobs: list[Job], results: dict[str, JobResult], base: dict, run_id: str, summary: str,
                   dataset: str) -> dict:
    from svtools.ingest.store import load_table

    def entry(job: Job) -> dict:
        r = results[job.job_id]
        if r.status == "skipped":
            return {"label": job.label, "href": None, "status": "skipped", "reason": r.reason}
        return {"label": job.label, "href": job.page, "status": r.status}

    areas = load_table("areas", dataset).sort_values(["pfa_name", "csp_name"])
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
    failed = [{"href": j.page, "label": f"{j.label}: {j.area_name}", "ename": results[j.job_id].ename}
              for j in jobs if results[j.job_id].status == "failed"]
    period = None
    if base.get("dataset_period_start"):
        end = next((j.params.get("period_end") for j in jobs if j.params.get("period_end")), None)
        period = render.period_label(base["dataset_period_start"], end or base["dataset_period_end"])
    return {
        **base,
        "summary": summary,
        "run_id": run_id,
        "general": [entry(j) for j in by_job if j.level == "dataset"],
        "forces": forces,
        "failed": failed,
        "period": period,
        "dataset_label": base.get("data", {}).get("Dataset", dataset),
        "index_href": None,
        "parameters": None,
    }


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
    the published folder gets ``published``, the manifest with relative paths only."""
    (run_dir / "manifest.json").write_text(json.dumps(published, indent=2, default=str), encoding="utf-8")
    (analyst_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    cols = ["job_id", "notebook", "level", "area_code", "area_name", "force", "status", "seconds", "page",
            "page_bytes", "ename", "evalue", "failed_notebook"]
    with (analyst_dir / "run_summary.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for j in jobs:
            r = results[j.job_id]
            w.writerow({"job_id": j.job_id, "notebook": j.name, "level": j.level, "area_code": j.area_code or "",
                        "area_name": j.area_name, "force": j.pfa_name or "", "status": r.status,
                        "seconds": r.seconds, "page": j.page if r.status != "skipped" else "",
                        "page_bytes": r.page_bytes, "ename": r.ename, "evalue": r.evalue,
                        "failed_notebook": r.failed_notebook})



def _manifest(run_id: str, started_at: str, seconds: float, plan: list[Job], results: dict[str, JobResult],
              parameters: dict, info: dict, input_hashes: dict, ddir: Path, summary: str,
              nbs: dict[str, Notebook], code_sha256: str | None = None) -> dict:
    jobs = []
    for j in plan:
        r = results[j.job_id]
        jobs.append({
            "job_id": j.job_id, "notebook": j.name, "level": j.level, "area_code": j.area_code,
            "area_name": j.area_name, "pfa_code": j.pfa_code, "force": j.pfa_name, "title": j.title,
            "parameters": j.params, "page": j.page if r.status != "skipped" else None, "cache_key": j.key,
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
        "parameters": parameters,
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
    analyst = f"{out.name}/{ANALYST_DIR}/{result.run_id}"
    pub["analyst_folder"] = analyst
    for job in pub["jobs"]:
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
