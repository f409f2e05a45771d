"""The incremental cache of the batch build (:mod:`svtools.publish.batch`): cache keys and the page cache.

A job's key hashes its notebook, parameters, definition, input data (its CSP's parquet files, the shared tables it
reads, ``dataset.json`` without its ingest time), the svtools code and config and the package versions; an ``ok`` page
is stored under ``outputs/.cache/pages/<key>/`` (hard links, with its executed notebook) and restored by a later
run with the same key. Also the build's data classes (:class:`Job`, :class:`JobResult`, ...), shared by the
batch, the cache and the run record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from svtools.ingest.area_tables import sha256_file  # the one file hash (dataset.json, manifests, cache keys)
from svtools.publish import render
from svtools.paths import CONFIG, ROOT

log = logging.getLogger("svtools.publish.batch")  # one logger for the whole build

#: Bump to invalidate every cached page (e.g. when the page layout changes outside svtools/).
CACHE_VERSION = 1
CACHE_MAX_AGE_DAYS = 30


# --------------------------------------------------------------------------- data classes
@dataclass
class Notebook:
    """A batch notebook: its file, ``metadata.svtools`` settings and declared parameters."""

    path: Path
    name: str
    settings: dict
    parameters: list[str]
    sha256: str


@dataclass
class Job:
    """One page to produce: a notebook run for one area with plain-JSON parameters."""

    job_id: str
    notebook: str
    name: str
    level: str
    area_code: str | None
    area_name: str
    pfa_code: str | None
    pfa_name: str | None
    params: dict
    page: str  # path of the page relative to the run folder (posix)
    title: str
    label: str
    order: int = 100
    context: dict = field(default_factory=dict)
    key: str = ""
    skip_reason: str = ""
    inputs: list[str] = field(default_factory=list)
    #: the definition the page is built for; None for a page that does not depend on it (e.g. the definition
    #: comparison, which takes the run's list of definitions instead)
    definition: str | None = None


def job_group(job: Job) -> tuple[str, str]:
    """The group a job is scheduled with: its force and definition (jobs of one group share a kernel's
    per-force tables; ``("", "")`` for a dataset page with neither)."""
    return (job.pfa_code or "", job.definition or "")


@dataclass
class JobResult:
    """What happened to one job."""

    job_id: str
    status: str  # ok | cached | failed | skipped
    seconds: float = 0.0
    page_bytes: int = 0
    files: list[str] = field(default_factory=list)
    ename: str = ""
    evalue: str = ""
    cell: int | None = None
    failed_notebook: str = ""
    produced_at: str = ""
    produced_seconds: float | None = None
    worker_pid: int | None = None
    worker: str = ""  # the Dask worker's address (--executor dask); "" on this machine
    worker_peak_rss_mb: float | None = None
    kernel_peak_rss_mb: float | None = None
    reason: str = ""
    tables: list[dict] = field(default_factory=list)  # published CSVs: file, caption, count columns, threshold


@dataclass
class BuildResult:
    """The outcome of :func:`run_build`."""

    run_id: str
    run_dir: Path
    index: Path
    jobs: list[Job]
    results: list[JobResult]
    seconds: float
    manifest: dict  # the full manifest (the analysts' copy); the published one has relative paths only
    analyst_dir: Path | None = None  # outputs/_analyst/<run-id>/: executed and failed notebooks, logs
    #: ``"full"`` (no --csp, --force or --notebook filter: ``latest`` and ``latest-<dataset>`` now point here)
    #: or ``"partial"`` (its own run folder; no ``latest`` link moved)
    scope: str = "full"
    filters: dict = field(default_factory=dict)  # the filter of a partial run: notebooks, csps, forces
    full_pages: int | None = None  # the pages a full run of the dataset builds (None: not known)
    latest: list[Path] = field(default_factory=list)  # the ``latest`` links this run moved

    @property
    def partial(self) -> bool:
        """True for a filtered run (``--csp``, ``--force`` or ``--notebook``)."""
        return self.scope == "partial"

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return self.count("failed") == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        """One line: ``41 CSPs, 132 pages: 131 ok (20 cached), 1 failed, 0 skipped in 3m12s -> .../index.html``."""
        csps = len({j.area_code for j in self.jobs if j.level == "csp"})
        ok, cached = self.count("ok") + self.count("cached"), self.count("cached")
        cached_txt = f" ({cached} cached)" if cached else ""
        return (f"{csps} CSPs, {len(self.results)} pages: {ok} ok{cached_txt}, {self.count('failed')} failed, "
                f"{self.count('skipped')} skipped in {_duration(self.seconds)} → {self.index}")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m{s:02d}s"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- hashing (incremental builds)
class _Hasher:
    """sha256 of input files, each read once per run; ``used`` collects them for the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.used: dict[str, str] = {}

    def file(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        if rel not in self.used:
            self.used[rel] = sha256_file(path)
        return self.used[rel]

    def files(self, paths: Sequence[Path]) -> dict[str, str]:
        return {p.relative_to(self.root).as_posix(): self.file(p) for p in sorted(paths) if p.is_file()}


def _dataset_json_digest(ddir: Path) -> str:
    """``dataset.json`` without its ingest time: re-ingesting unchanged data keeps pages cached."""
    meta = json.loads((ddir / "dataset.json").read_text(encoding="utf-8"))
    meta.pop("ingested_at", None)
    return _sha256_bytes(json.dumps(meta, sort_keys=True).encode())


def _code_digest() -> str:
    """One hash of the svtools package (code, templates) and config/."""
    h = hashlib.sha256()
    for base in (ROOT / "svtools", CONFIG):
        for p in sorted(base.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
                h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _job_inputs(job: Job, nb_tables: list[str] | None, ddir: Path, force_csps: dict[str, list[str]]) -> list[Path]:
    from svtools.ingest.store import TABLES

    tables = nb_tables if nb_tables is not None else list(TABLES)
    files = [ddir / f"{t}.parquet" for t in dict.fromkeys(["areas", *tables])]
    if job.level == "csp":
        csps = [job.area_code]
    elif job.level == "force":
        csps = force_csps.get(job.pfa_code, [])
    else:
        csps = None
        files.append(ddir / "reconciliation.json")
    if csps is None:
        files.extend((ddir / "records").rglob("*.parquet"))
    else:
        for c in csps:
            files.extend((ddir / "records" / f"csp_code={c}").rglob("*.parquet"))
    return [f for f in files if f.is_file()]


def _assign_keys(jobs: list[Job], nbs: dict[str, Notebook], dataset: str,
                 code: str | None = None) -> dict[str, str]:
    from svtools.ingest.store import dataset_dir, load_table

    ddir = dataset_dir(dataset)
    hasher = _Hasher(ddir)
    areas = load_table("areas", dataset)
    force_csps = areas.groupby("pfa_code")["csp_code"].apply(list).to_dict()
    common = {
        "cache_version": CACHE_VERSION,
        "code": code if code is not None else _code_digest(),
        "dataset_json": _dataset_json_digest(ddir),
        "versions": {k: v for k, v in render.package_versions().items() if k != "svtools"},
    }
    for job in jobs:
        nb = nbs[job.notebook]
        inputs = hasher.files(_job_inputs(job, nb.settings["tables"], ddir, force_csps))
        job.inputs = sorted(inputs)
        payload = {**common, "notebook": nb.sha256, "params": job.params, "page": job.page, "title": job.title,
                   "inputs": inputs, "definition": job.definition}
        job.key = _sha256_bytes(json.dumps(payload, sort_keys=True).encode())
    return hasher.used


# --------------------------------------------------------------------------- the cache
def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _cache_restore(cache: Path, job: Job, run_dir: Path, analyst_dir: Path) -> JobResult | None:
    entry = cache / job.key
    meta_path = entry / "entry.json"
    if not meta_path.is_file():
        return None
    t0 = time.perf_counter()
    page_dir = (run_dir / job.page).parent
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for f in meta["files"]:
            _link(entry / "page" / f, page_dir / f)
        nb = entry / "notebook.ipynb"
        if nb.is_file():
            _link(nb, analyst_dir / "_notebooks" / f"{job.job_id}.ipynb")
        os.utime(meta_path)
    except (OSError, ValueError, KeyError) as exc:  # a damaged entry is a miss: run the job again
        log.warning("cache entry for %s unusable (%s): running it again", job.job_id, exc)
        shutil.rmtree(page_dir, ignore_errors=True)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return JobResult(job_id=job.job_id, status="cached", seconds=round(time.perf_counter() - t0, 3),
                     page_bytes=meta["page_bytes"], files=meta["files"], produced_at=meta["produced_at"],
                     produced_seconds=meta["seconds"], tables=meta.get("tables", []))


def _cache_store(cache: Path, job: Job, result: JobResult, run_dir: Path, analyst_dir: Path) -> None:
    entry = cache / job.key
    if (entry / "entry.json").is_file():
        return
    tmp = cache / f"{job.key}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        page_dir = (run_dir / job.page).parent
        for f in result.files:
            _link(page_dir / f, tmp / "page" / f)
        nb = analyst_dir / "_notebooks" / f"{job.job_id}.ipynb"
        if nb.is_file():
            _link(nb, tmp / "notebook.ipynb")
        meta = {"job_id": job.job_id, "files": result.files, "page_bytes": result.page_bytes,
                "seconds": result.seconds, "produced_at": result.produced_at, "tables": result.tables}
        (tmp / "entry.json").write_text(json.dumps(meta), encoding="utf-8")
        os.rename(tmp, entry)
    except OSError as exc:  # another build stored it first, or the disk is full: the cache is optional
        log.debug("cache store for %s skipped: %s", job.job_id, exc)
        shutil.rmtree(tmp, ignore_errors=True)


def _cache_prune(cache: Path, keep: set[str], max_age_days: float = CACHE_MAX_AGE_DAYS) -> None:
    limit = time.time() - max_age_days * 86400
    for entry in cache.glob("*"):
        if entry.name in keep:
            continue
        meta = entry / "entry.json"
        try:
            stale = not meta.is_file() and ".tmp-" in entry.name and entry.stat().st_mtime < time.time() - 86400
            if stale or (meta.is_file() and meta.stat().st_mtime < limit):
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass
