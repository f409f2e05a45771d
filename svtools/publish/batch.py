"""The batch build: every notebook for every CSP (and force) -> HTML pages in ``outputs/<run-id>/``.

Each run has two folders:

* ``outputs/<run-id>/``, **the published folder**, holds only what a partner may get: ``index.html``, one folder
  per page (its ``index.html`` and CSV downloads) and ``manifest.json`` (relative paths only);
* ``outputs/_analyst/<run-id>/``, **the analysts' folder**, holds what is never published: the executed notebooks
  (``_notebooks/``, with code and every output), the failed ones (``_failed/``), ``run_summary.csv``,
  ``build.log`` and the full ``manifest.json`` (with the machine's paths).

``run_build`` plans one job per notebook × CSP (``metadata.svtools.level = "csp"``), per notebook × force
(``"force"``) and per notebook (``"dataset"``), then:

* **runs them fast**: a pool of ``jobs`` worker processes, each keeping one warm Jupyter kernel
  (:class:`svtools.publish.render.WarmKernel`) whose namespace is reset between notebooks, so kernel start-up and
  imports are paid once per worker, not once per page. ``jobs=1`` runs everything in this process (debugging);
* **isolates failures**: any exception of a job (a cell error, a dead kernel, a timeout, a refused table) gives
  that job an error page (name and message only) and keeps its executed notebook in the analysts' ``_failed/``;
  every other job completes and :attr:`BuildResult.ok` is False;
* **publishes atomically**: it writes into ``outputs/<run-id>.partial/`` and ``outputs/_analyst/<run-id>.partial/``,
  renames both when complete and only then repoints ``outputs/latest`` (and ``outputs/_analyst/latest``); an
  interrupted run leaves the last good run in place;
* **is incremental**: a job whose notebook, parameters, input data (its CSP's parquet files, the shared tables
  it reads, ``dataset.json``), svtools code, config and package versions are unchanged reuses its page from
  ``outputs/.cache/`` (hard links, with its executed notebook) instead of running again (``force_all=True``
  re-runs everything);
* **records everything**: ``manifest.json`` (parameters, input hashes, versions, git revision, per-job status,
  seconds, page sizes and memory; the published copy without machine paths), ``run_summary.csv`` and
  ``build.log`` (analysts' folder only) and an ``index.html`` listing every page
  by force and CSP with relative links only, so the published folder can be copied anywhere and read offline.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import multiprocessing as mp
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# jsonschema (through nbformat) imports the optional IRI checker rfc3987_syntax when it is installed, which
# builds a parser grammar at import time (~3 s per process). Nothing in a build validates IRIs: skip it.
sys.modules.setdefault("rfc3987_syntax", None)

from svtools.publish import render  # noqa: E402
from svtools.errors import MissingAreaError, SvtoolsError  # noqa: E402
from svtools.paths import CONFIG, NOTEBOOKS, ROOT, data_dir, outputs_dir  # noqa: E402
from svtools.publish.output import PAGE_DIR_ENV, TABLES_SIDECAR  # noqa: E402

__all__ = ["Job", "JobResult", "BuildResult", "discover_notebooks", "plan_jobs", "run_build", "KNOWN_PARAMETERS"]

log = logging.getLogger(__name__)

#: The parameters a batch notebook may declare; the build fills in those it declares.
KNOWN_PARAMETERS = ("csp_code", "pfa_code", "dataset", "definition", "period_end")
#: Bump to invalidate every cached page (e.g. when the page layout changes outside svtools/).
CACHE_VERSION = 1
CACHE_MAX_AGE_DAYS = 30
_PAGE = "index.html"
#: The analysts' folder inside the outputs folder: ``outputs/_analyst/<run-id>/`` (never published).
ANALYST_DIR = "_analyst"


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


# --------------------------------------------------------------------------- planning
def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def discover_notebooks(names: Sequence[str | Path] | None = None, folder: Path | None = None) -> list[Notebook]:
    """The batch notebooks: every ``notebooks/*.ipynb`` with a ``metadata.svtools`` block, or those named.

    ``names`` are notebook names (``csp_profile``) or paths. Each is checked with
    :func:`svtools.publish.render.check_template`; its parameters must be among :data:`KNOWN_PARAMETERS`.
    """
    folder = Path(folder or NOTEBOOKS)
    if names:
        paths = []
        for name in names:
            p = Path(name)
            if p.suffix != ".ipynb":
                p = folder / f"{name}.ipynb"
            if not p.is_file():
                known = sorted(q.stem for q in folder.glob("*.ipynb"))
                raise SvtoolsError(f"no notebook '{name}' (known: {', '.join(known) or 'none'})")
            paths.append(p)
    else:
        paths = sorted(folder.glob("*.ipynb"))
    out = []
    for p in paths:
        settings = render.notebook_settings(p)
        if not settings:
            if names:
                raise SvtoolsError(f"{p.name} has no metadata.svtools block, so it is not a batch notebook")
            continue
        declared = list(render.check_template(p))
        unknown = sorted(set(declared) - set(KNOWN_PARAMETERS))
        if unknown:
            raise render.TemplateError(f"{p.name}: parameter(s) {unknown} cannot be filled in by the build "
                                       f"(known: {', '.join(KNOWN_PARAMETERS)})")
        need = {"csp": "csp_code", "force": "pfa_code"}.get(settings["level"])
        if need and need not in declared:
            raise render.TemplateError(f"{p.name}: a {settings['level']}-level notebook must declare '{need}'")
        out.append(Notebook(path=p.resolve(), name=p.stem, settings=settings, parameters=declared,
                            sha256=_sha256_bytes(p.read_bytes())))
    return sorted(out, key=lambda n: (n.settings["order"], n.name))


def _select_forces(areas, forces: Sequence[str]) -> list[str]:
    codes = []
    for f in forces:
        hit = areas.loc[(areas["pfa_code"] == f) | (areas["pfa_name"].str.lower() == str(f).lower()), "pfa_code"]
        if not len(hit):
            raise MissingAreaError(f, known=sorted(areas["pfa_code"].unique()))
        codes.append(str(hit.iloc[0]))
    return list(dict.fromkeys(codes))


def plan_jobs(notebooks: Sequence[str | Path] | None = None, csps: Sequence[str] | None = None,
              forces: Sequence[str] | None = None, dataset: str = "demo",
              definition: str = "knife_serious_violence", period_end: str | None = None) -> list[Job]:
    """The jobs of a build (without running anything).

    CSP-level notebooks get one job per selected CSP: ``csps`` (codes), else the CSPs of ``forces`` (codes or
    names), else every CSP in the data. Force-level notebooks get one job per force in ``forces``, or per force
    in the data when neither ``csps`` nor ``forces`` is given; dataset-level notebooks run only then too. A CSP
    that the area lookup lists but that has no records gets a ``skipped`` job. Notebooks that do not list
    ``dataset`` in ``metadata.svtools.datasets`` are left out (an error when named explicitly).
    """
    return _plan(notebooks, csps, forces, dataset, definition, period_end)[0]


def _plan(notebooks, csps, forces, dataset, definition, period_end) -> tuple[list[Job], list[Notebook]]:
    from svtools.ingest.store import dataset_dir, dataset_info, load_table
    from svtools.ingest.definitions import load_definition

    ddir = dataset_dir(dataset)
    load_definition(definition)  # unknown names fail here, before any kernel starts
    info = dataset_info(dataset)
    end = str(period_end or info["period_end"])
    try:
        datetime.strptime(end, "%Y-%m-%d")
    except ValueError:
        raise SvtoolsError(f"period_end must look like 2025-03-31, not {end!r}") from None
    nbs = discover_notebooks(notebooks)
    supported = [n for n in nbs if dataset in n.settings["datasets"]]
    if notebooks:
        bad = [n.name for n in nbs if n not in supported]
        if bad:
            raise SvtoolsError(f"notebook(s) {bad} do not support dataset '{dataset}'")
    if not supported:
        raise SvtoolsError(f"no batch notebook in {NOTEBOOKS} supports dataset '{dataset}'")

    areas = load_table("areas", dataset).sort_values(["pfa_name", "csp_name"])
    if csps:
        unknown = [c for c in csps if c not in set(areas["csp_code"])]
        if unknown:
            raise MissingAreaError(unknown[0], known=areas["csp_code"].tolist())
        csp_rows = areas[areas["csp_code"].isin(csps)]
    elif forces:
        csp_rows = areas[areas["pfa_code"].isin(_select_forces(areas, forces))]
    else:
        csp_rows = areas
    force_codes = (_select_forces(areas, forces) if forces else [] if csps
                   else list(dict.fromkeys(areas["pfa_code"])))
    force_names = dict(zip(areas["pfa_code"], areas["pfa_name"]))
    with_records = {p.name.split("=", 1)[1] for p in (ddir / "records").glob("csp_code=*")}

    base = dict(dataset=dataset, definition=definition, period_end=end)
    jobs: list[Job] = []

    def add(nb: Notebook, level: str, code: str | None, name: str, pfa: str | None, page: str, skip: str = ""):
        values = {**base, "csp_code": code if level == "csp" else None, "pfa_code": code if level == "force" else None}
        params = {p: values[p] for p in nb.parameters}
        fmt = {"area_name": name, "area_code": code or "", "notebook": nb.name.replace("_", " ").capitalize()}
        title = str(nb.settings["title"]).format(**fmt)
        label = str(nb.settings["label"] or fmt["notebook"])
        job_id = f"{nb.name}--{code}" if code else nb.name
        jobs.append(Job(job_id=job_id, notebook=str(nb.path), name=nb.name, level=level, area_code=code,
                        area_name=name, pfa_code=pfa, pfa_name=force_names.get(pfa) if pfa else None,
                        params=render.plain_params(params), page=page, title=title, label=label,
                        order=int(nb.settings["order"]), skip_reason=skip))

    for nb in supported:
        level = nb.settings["level"]
        if level == "csp":
            for row in csp_rows.itertuples(index=False):
                skip = "" if row.csp_code in with_records else "no records for this CSP in the processed data"
                add(nb, "csp", row.csp_code, row.csp_name, row.pfa_code,
                    f"csp/{row.csp_code}/{nb.name}/{_PAGE}", skip)
        elif level == "force":
            for code in force_codes:
                add(nb, "force", code, force_names[code], code, f"force/{code}/{nb.name}/{_PAGE}")
        elif not csps and not forces:
            add(nb, "dataset", None, f"all areas in the {dataset} data", None, f"dataset/{nb.name}/{_PAGE}")
    return jobs, supported


# --------------------------------------------------------------------------- hashing (incremental builds)
class _Hasher:
    """sha256 of input files, each read once per run; ``used`` collects them for the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.used: dict[str, str] = {}

    def file(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        if rel not in self.used:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
            self.used[rel] = h.hexdigest()
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


def _assign_keys(jobs: list[Job], nbs: dict[str, Notebook], dataset: str) -> dict[str, str]:
    from svtools.ingest.store import dataset_dir, load_table

    ddir = dataset_dir(dataset)
    hasher = _Hasher(ddir)
    areas = load_table("areas", dataset)
    force_csps = areas.groupby("pfa_code")["csp_code"].apply(list).to_dict()
    common = {
        "cache_version": CACHE_VERSION,
        "code": _code_digest(),
        "dataset_json": _dataset_json_digest(ddir),
        "versions": {k: v for k, v in render.package_versions().items() if k != "svtools"},
    }
    for job in jobs:
        nb = nbs[job.notebook]
        inputs = hasher.files(_job_inputs(job, nb.settings["tables"], ddir, force_csps))
        job.inputs = sorted(inputs)
        payload = {**common, "notebook": nb.sha256, "params": job.params, "page": job.page, "title": job.title,
                   "inputs": inputs}
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


# --------------------------------------------------------------------------- executing one job
def _peak_rss_self_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _first_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_fields(exc: BaseException) -> tuple[str, str, int | None]:
    """Error name, one-line message and failing cell of a job's exception (never a traceback)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return str(exc.ename), _first_line(exc.evalue), exc.cell_index
    return type(exc).__name__, _first_line(str(exc)), None


def _analyst_label(analyst_dir: Path) -> str:
    """The analysts' folder as the error pages name it: ``outputs/_analyst/<run-id>`` (no machine path)."""
    run_id = analyst_dir.name.removesuffix(".partial")
    return f"{analyst_dir.parent.parent.name}/{analyst_dir.parent.name}/{run_id}"


def _execute_job(kernel: render.WarmKernel, job: Job, run_dir: Path, timeout: float | None,
                 analyst_dir: Path | None = None) -> JobResult:
    """Run one job on a warm kernel and write its page (or its error page). Never raises for a job failure.

    The page goes to ``run_dir`` (published); the executed notebook to ``analyst_dir/_notebooks/`` or, when the
    job fails, ``analyst_dir/_failed/`` (default: ``_analyst/<run_dir name>`` beside ``run_dir``).
    """
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    t0 = time.perf_counter()
    analyst_dir = analyst_dir or run_dir.parent / ANALYST_DIR / run_dir.name
    page = run_dir / job.page
    page_dir = page.parent
    page_dir.mkdir(parents=True, exist_ok=True)
    result = JobResult(job_id=job.job_id, status="ok", worker_pid=os.getpid())
    kernel.last_nb = None
    try:
        kernel.reset({PAGE_DIR_ENV: str(page_dir)})
        nb = render.execute(job.notebook, job.params, kernel=kernel, timeout=timeout)
        html = render.to_html(nb, job.title, job.context)
        page.write_text(html, encoding="utf-8")
        nb_path = analyst_dir / "_notebooks" / f"{job.job_id}.ipynb"
        nb_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(nb_path))
    except Exception as exc:  # every failure of this job stays with this job (KeyboardInterrupt still stops)
        result.status = "failed"
        result.ename, result.evalue, result.cell = _error_fields(exc)
        log.info("%s failed: %s: %s", job.job_id, result.ename, result.evalue)
        if kernel.last_nb is not None:
            failed = analyst_dir / "_failed" / f"{job.job_id}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            try:
                nbformat.write(kernel.last_nb, str(failed))
                result.failed_notebook = failed.relative_to(analyst_dir).as_posix()
            except Exception:  # pragma: no cover - an unwritable notebook must not hide the error itself
                pass
        if not isinstance(exc, (PapermillExecutionError, SvtoolsError)):
            try:  # dead kernel, timeout, broken channels: start afresh for the next job
                kernel.restart()
            except Exception as restart_exc:  # pragma: no cover - the next job will try again
                log.warning("kernel restart failed: %s", restart_exc)
        shutil.rmtree(page_dir, ignore_errors=True)  # no half-written tables beside an error page
        page_dir.mkdir(parents=True, exist_ok=True)
        page.write_text(render.error_html(job.context, job.title, result.ename, _scrub_paths(result.evalue),
                                          result.cell, Path(job.notebook).name, job.job_id,
                                          _analyst_label(analyst_dir)), encoding="utf-8")
    sidecar = page_dir / TABLES_SIDECAR
    if sidecar.is_file():  # the disclosure record of the page's downloads goes to the manifest, not online
        if result.status == "ok":
            result.tables = json.loads(sidecar.read_text(encoding="utf-8"))
        sidecar.unlink()
    result.seconds = round(time.perf_counter() - t0, 3)
    result.produced_at = _now_iso()
    result.page_bytes = page.stat().st_size
    result.files = sorted(p.relative_to(page_dir).as_posix() for p in page_dir.rglob("*") if p.is_file())
    result.worker_peak_rss_mb = _peak_rss_self_mb()
    result.kernel_peak_rss_mb = kernel.peak_rss_mb()
    return result


# worker processes: one warm kernel each
_WORKER: dict[str, Any] = {}


def _worker_init(kernel_name: str, warm_modules: list[str], timeout: float | None) -> None:
    import signal
    from multiprocessing.util import Finalize

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle (it stops the workers)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    kernel = render.WarmKernel(kernel_name, warm_modules=warm_modules)
    _WORKER.update(kernel=kernel, timeout=timeout)
    Finalize(kernel, kernel.shutdown, exitpriority=10)
    try:
        kernel.launch()
        render.prepare()  # papermill and the nbconvert template, while the kernel boots
        kernel.ready()
    except Exception as exc:  # the first job retries and reports it as its failure
        log.warning("worker %s: kernel did not start: %s", os.getpid(), exc)


def _worker_run(job: dict, run_dir: str, analyst_dir: str) -> dict:
    result = _execute_job(_WORKER["kernel"], Job(**job), Path(run_dir), _WORKER["timeout"], Path(analyst_dir))
    return dataclasses.asdict(result)


# --------------------------------------------------------------------------- outputs
def _new_run_id(out: Path) -> str:
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while any((folder / name).exists() for folder in (out, out / ANALYST_DIR)
              for name in (run_id, f"{run_id}.partial")):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _point_latest(out: Path, run_id: str) -> None:
    """Atomically repoint ``<out>/latest`` at the run (a symlink swapped with ``os.replace``).

    Used for ``outputs/latest`` (the published run) and ``outputs/_analyst/latest`` (its analysts' folder).
    """
    link = out / "latest"
    if link.exists() and not link.is_symlink():
        log.warning("%s is not a symlink: left alone", link)
        return
    tmp = out / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        os.symlink(run_id, tmp, target_is_directory=True)
    except OSError as exc:  # pragma: no cover - filesystems without symlinks
        log.warning("cannot create %s: %s", link, exc)
        return
    os.replace(tmp, link)


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


# --------------------------------------------------------------------------- the build
def _notebook_modules(nbs: list[Notebook]) -> list[str]:
    """Modules the notebooks import (parsed from their code cells): a warm kernel imports them once."""
    import ast

    import nbformat

    mods: dict[str, None] = {}
    for nb in nbs:
        for cell in nbformat.read(str(nb.path), as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # magics: the notebook still runs, we just do not pre-import
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods.update(dict.fromkeys(a.name for a in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    mods[node.module] = None
                    mods.update(dict.fromkeys(f"{node.module}.{a.name}" for a in node.names))
    return list(mods)


def run_build(notebooks: Sequence[str | Path] | None = None, csps: Sequence[str] | None = None,
              forces: Sequence[str] | None = None, dataset: str = "demo", jobs: int | None = None,
              out: str | Path | None = None, force_all: bool = False,
              definition: str = "knife_serious_violence", period_end: str | None = None, progress: bool = True,
              *, timeout: float | None = 600, kernel_name: str | None = None) -> BuildResult:
    """Run the batch notebooks and publish their pages into ``<out>/<run-id>/``.

    Only partner-facing files go there (pages, CSVs, ``index.html``, ``manifest.json`` with relative paths);
    the executed and failed notebooks, ``run_summary.csv``, ``build.log`` and the full manifest go to the
    analysts' folder ``<out>/_analyst/<run-id>/``.

    Parameters
    ----------
    notebooks : sequence of str or path, optional
        Notebook names (``csp_profile``) or paths; default every batch notebook in ``notebooks/``.
    csps, forces : sequence of str, optional
        Restrict to these CSP codes, or to the CSPs (and force pages) of these forces (codes or names).
    dataset : str
        Processed dataset (``demo`` or ``police_uk``).
    jobs : int, optional
        Worker processes, each with one warm kernel (default: the number of CPU cores). ``1`` runs in this
        process, which is easiest to debug.
    out : path, optional
        Outputs folder (default ``outputs/``, or ``$SVTOOLS_OUTPUTS``).
    force_all : bool
        Re-run every job, ignoring cached pages.
    definition : str
        Definition of serious violence (``config/definitions``).
    period_end : str, optional
        Last day of the period, ``YYYY-MM-DD`` (default: the end of the data).
    progress : bool
        Show one progress bar.
    timeout : float, optional
        Seconds allowed per notebook cell (a cell that runs longer fails its job).
    kernel_name : str, optional
        Jupyter kernel (default :func:`svtools.publish.render.default_kernel_name`).

    Returns
    -------
    BuildResult
        ``ok`` is False when any job failed (the CLI then exits with status 1).
    """
    from tqdm.auto import tqdm

    from svtools.ingest.store import dataset_dir, dataset_info

    t_start = time.perf_counter()
    started_at = _now_iso()
    out = Path(out or outputs_dir()).resolve()
    plan, supported = _plan(notebooks, csps, forces, dataset, definition, period_end)
    if not plan:
        raise SvtoolsError("nothing to build: no notebook has pages for this selection (force-level and "
                           "whole-dataset notebooks run without --csp)")
    nbs = {str(n.path): n for n in supported}
    input_hashes = _assign_keys(plan, nbs, dataset)
    kernel_name = kernel_name or render.default_kernel_name()
    n_jobs = max(1, int(jobs or os.cpu_count() or 1))

    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".cache" / "pages"
    cache.mkdir(parents=True, exist_ok=True)
    analyst_root = out / ANALYST_DIR
    analyst_root.mkdir(exist_ok=True)
    run_id = _new_run_id(out)
    partial = out / f"{run_id}.partial"
    partial.mkdir()
    final = out / run_id
    analyst_partial = analyst_root / f"{run_id}.partial"
    analyst_partial.mkdir()
    analyst_final = analyst_root / run_id

    base = render.run_context(dataset, definition)
    for job in plan:
        href = os.path.relpath(_PAGE, start=Path(job.page).parent.as_posix())
        job.context = render.page_context(job.params, job.title, base=base, area_name=job.area_name,
                                          force_name=job.pfa_name, index_href=Path(href).as_posix())

    results: dict[str, JobResult] = {}
    logfile = (analyst_partial / "build.log").open("a", encoding="utf-8")

    def record(job: Job, result: JobResult) -> None:
        results[job.job_id] = result
        logfile.write(f"{_now_iso()} {result.status:<7} {job.job_id} {result.seconds:.2f}s"
                      + (f" {result.ename}: {result.evalue}" if result.status == "failed" else "") + "\n")
        logfile.flush()
        if result.status == "ok":
            _cache_store(cache, job, result, partial, analyst_partial)

    bar = tqdm(total=len(plan), desc="svtools build", unit="page", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, leave=False)
    try:
        todo = []
        for job in plan:
            if job.skip_reason:
                record(job, JobResult(job_id=job.job_id, status="skipped", reason=job.skip_reason))
            elif not force_all and (hit := _cache_restore(cache, job, partial, analyst_partial)) is not None:
                record(job, hit)
            else:
                todo.append(job)
                continue
            bar.update(1)
        # biggest inputs first, so no worker is left with one long job at the end
        ddir = dataset_dir(dataset)
        todo.sort(key=lambda j: -sum((ddir / f).stat().st_size for f in j.inputs if (ddir / f).is_file()))
        workers = min(n_jobs, len(todo))
        if workers == 1:
            kernel = render.WarmKernel(kernel_name, warm_modules=_notebook_modules(list(nbs.values())))
            try:
                kernel.launch()
                render.prepare()
                kernel.ready()
                for job in todo:
                    record(job, _execute_job(kernel, job, partial, timeout, analyst_partial))
                    bar.update(1)
            finally:
                kernel.shutdown()
        elif workers > 1:
            _run_pool(todo, workers, partial, analyst_partial, kernel_name,
                      _notebook_modules(list(nbs.values())), timeout, record, bar)
        bar.close()

        seconds = time.perf_counter() - t_start
        ordered = [results[j.job_id] for j in plan]
        result = BuildResult(run_id=run_id, run_dir=final, index=final / _PAGE, jobs=plan, results=ordered,
                             seconds=seconds, manifest={}, analyst_dir=analyst_final)
        summary = result.summary()
        manifest = _manifest(run_id, started_at, seconds, plan, results, dict(
            notebooks=[str(n) for n in notebooks] if notebooks else None, csps=list(csps) if csps else None,
            forces=list(forces) if forces else None, dataset=dataset, definition=definition,
            period_end=plan[0].params.get("period_end") if plan else period_end, jobs=n_jobs, workers=workers,
            force_all=force_all, timeout=timeout, kernel_name=kernel_name),
            dataset_info(dataset), input_hashes, dataset_dir(dataset), summary, nbs)
        result.manifest = manifest
        index_ctx = _index_context(plan, results, base, run_id, _partner_summary(plan, results), dataset)
        (partial / _PAGE).write_text(render.render_page("run_index.html.j2", index_ctx,
                                                        f"{base['project_title']}: all pages"), encoding="utf-8")
        published = _published_manifest(manifest, result, out)
        _write_reports(partial, analyst_partial, plan, results, manifest, published)
        logfile.write(f"{_now_iso()} done: {summary}\n")
        logfile.close()
        os.rename(analyst_partial, analyst_final)  # both renames, then both links: latest never sees half a run
        os.rename(partial, final)
        _point_latest(out, run_id)
        _point_latest(analyst_root, run_id)
        _cache_prune(cache, {j.key for j in plan})
    finally:
        bar.close()
        if not logfile.closed:
            logfile.close()
    print(summary)
    for j in plan:
        r = results[j.job_id]
        if r.status == "failed":
            print(f"  failed: {j.job_id}: {r.ename}: {r.evalue}", file=sys.stderr)
    return result


def _run_pool(todo: list[Job], workers: int, run_dir: Path, analyst_dir: Path, kernel_name: str,
              warm_modules: list[str], timeout: float | None, record, bar) -> None:
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # no fork of a process holding threads and zmq sockets
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(kernel_name, warm_modules, timeout)) as pool:
        futures = {pool.submit(_worker_run, dataclasses.asdict(job), str(run_dir), str(analyst_dir)): job
                   for job in todo}
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    result = JobResult(**fut.result())
                except (BrokenProcessPool, Exception) as exc:  # the worker process itself died
                    result = _driver_failure(job, run_dir, exc, analyst_dir)
                record(job, result)
                bar.update(1)
        except BaseException:  # Ctrl-C: stop now; the partial run folder is left and latest is untouched
            workers_now = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers_now:
                proc.terminate()  # each kernel notices its worker is gone and exits (ipykernel parent poller)
            raise


def _driver_failure(job: Job, run_dir: Path, exc: BaseException, analyst_dir: Path) -> JobResult:
    ename, evalue, _ = _error_fields(exc)
    page = run_dir / job.page
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render.error_html(job.context, job.title, ename, _scrub_paths(evalue), None,
                                      Path(job.notebook).name, job.job_id, _analyst_label(analyst_dir)),
                    encoding="utf-8")
    return JobResult(job_id=job.job_id, status="failed", ename=ename, evalue=evalue,
                     page_bytes=page.stat().st_size, files=[_PAGE], produced_at=_now_iso())


def _manifest(run_id: str, started_at: str, seconds: float, plan: list[Job], results: dict[str, JobResult],
              parameters: dict, info: dict, input_hashes: dict, ddir: Path, summary: str,
              nbs: dict[str, Notebook]) -> dict:
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
        "code_sha256": _code_digest(),
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
