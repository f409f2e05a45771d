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
  imports are paid once per worker, not once per page. ``jobs=1`` runs everything in this process (debugging).
  With ``executor="dask"`` the same jobs run on a ``dask.distributed`` cluster, one warm kernel per Dask worker,
  their pages sent back and written here (:mod:`svtools.publish.executors`, ``docs/dask.md``); everything else
  below is the same code for both;
* **isolates failures**: any exception of a job (a cell error, a dead kernel, a timeout, a refused table) gives
  that job an error page (name and message only) and keeps its executed notebook in the analysts' ``_failed/``;
  every other job completes and :attr:`BuildResult.ok` is False;
* **publishes atomically**: it writes into ``outputs/<run-id>.partial/`` and ``outputs/_analyst/<run-id>.partial/``,
  renames both when complete and only then repoints ``outputs/latest`` and ``outputs/latest-<dataset>`` (and the
  same two in ``outputs/_analyst/``); an interrupted run leaves the last good run in place;
* **moves latest only for a full run**: a run filtered by ``csps``, ``forces`` or ``notebooks`` is *partial*: it
  gets its own ``outputs/<run-id>/`` (printed), moves no ``latest`` link, and its manifest (``scope``,
  ``filter``, ``pages``, ``full_run_pages``) and index page say so, so ``outputs/latest`` always holds a whole
  dataset's pages and ``outputs/latest-<dataset>`` each dataset's newest full run;
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

import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

# jsonschema (through nbformat) imports the optional IRI checker rfc3987_syntax when it is installed, which
# builds a parser grammar at import time (~3 s per process). Nothing in a build validates IRIs: skip it.
sys.modules.setdefault("rfc3987_syntax", None)

from svtools.publish import render  # noqa: E402
# where jobs run (this machine or a Dask cluster); the job runner is re-exported here as before
from svtools.publish.executors import (  # noqa: E402,F401
    EXECUTORS,
    _analyst_label,
    _error_fields,
    _first_line,
    _peak_rss_self_mb,
    _worker_init,
    _worker_run,
    driver_failure as _driver_failure,
    execute_job as _execute_job,
    make_executor,
)
from svtools.errors import MissingAreaError, SvtoolsError  # noqa: E402
from svtools.paths import NOTEBOOKS, outputs_dir  # noqa: E402
# the cache and the run record; imported here so ``batch.<name>`` reaches them (and monkeypatches of the names
# run_build calls, such as ``_code_digest`` and ``_write_reports``, take effect)
from svtools.publish.run_cache import (  # noqa: E402,F401
    CACHE_MAX_AGE_DAYS,
    CACHE_VERSION,
    BuildResult,
    Job,
    JobResult,
    Notebook,
    _assign_keys,
    _cache_prune,
    _cache_restore,
    _cache_store,
    _code_digest,
    _dataset_json_digest,
    _duration,
    _Hasher,
    _job_inputs,
    _link,
    _sha256_bytes,
    job_group,
)
from svtools.publish.run_record import (  # noqa: E402,F401
    _PAGE,
    ANALYST_DIR,
    _filter_text,
    _index_context,
    _machine_roots,
    _manifest,
    _now_iso,
    _index_title,
    _partner_summary,
    _public_path,
    _scope,
    _published_manifest,
    _scrub_paths,
    _write_reports,
)

__all__ = ["Job", "JobResult", "BuildResult", "discover_notebooks", "plan_jobs", "run_build", "KNOWN_PARAMETERS"]

log = logging.getLogger(__name__)

#: The parameters a batch notebook may declare; the build fills in those it declares. A notebook that declares
#: ``definition`` is built once per definition of the run; one that declares ``definitions`` (the run's list) instead
#: compares them, is built once, and only when the run has two or more.
KNOWN_PARAMETERS = ("csp_code", "pfa_code", "dataset", "definition", "definitions", "period_end")
#: The folder level that page paths get in a run of several definitions: ``def/<name>/csp/<code>/<notebook>/``.
DEFINITION_DIR = "def"


def definition_names(definition: str | Sequence[str] | None) -> list[str]:
    """The run's definitions as a list without repeats (one name, or several, in the order given).

    Raises :class:`SvtoolsError` for an empty list.
    """
    names = [definition] if isinstance(definition, str) else list(definition or [])
    names = list(dict.fromkeys(str(n) for n in names))
    if not names:
        raise SvtoolsError("no definition given: name at least one (svtools definitions lists them)")
    return names


def per_definition(nb: Notebook) -> bool:
    """True when the notebook's pages depend on the definition (it declares a ``definition`` parameter)."""
    return "definition" in nb.parameters


def compares_definitions(nb: Notebook) -> bool:
    """True for a notebook that compares the run's definitions (it declares ``definitions``)."""
    return "definitions" in nb.parameters and not per_definition(nb)


# --------------------------------------------------------------------------- planning
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
              definition: str | Sequence[str] = "knife_serious_violence",
              period_end: str | None = None) -> list[Job]:
    """The jobs of a build (without running anything).

    CSP-level notebooks get one job per selected CSP: ``csps`` (codes), else the CSPs of ``forces`` (codes or
    names), else every CSP in the data. Force-level notebooks get one job per force in ``forces``, or per force
    in the data when neither ``csps`` nor ``forces`` is given; dataset-level notebooks run only then too. A CSP
    that the area lookup lists but that has no records gets a ``skipped`` job. Any processed dataset can be built;
    notebooks whose ``metadata.svtools.schemas`` do not list the dataset's kind (``dataset.json`` ``schema``:
    ``police_extract``, ``police_uk`` or ``counts``) are left out (an error when named explicitly).

    ``definition`` is one name or several. With one, pages go to ``csp/<code>/<notebook>/index.html`` (and
    ``force/...``, ``dataset/...``). With several, a notebook that declares ``definition`` gets one job per
    definition, its pages under ``def/<name>/`` (``def/<name>/csp/<code>/<notebook>/index.html``); a notebook that
    does not is planned once, at the usual path. A notebook that declares ``definitions`` (the definition
    comparison) is planned only when there are two or more (an error when named explicitly with one).
    """
    return _plan(notebooks, csps, forces, dataset, definition, period_end)[0]


def _plan(notebooks, csps, forces, dataset, definition, period_end) -> tuple[list[Job], list[Notebook]]:
    from svtools.ingest.store import dataset_dir, dataset_info, load_table
    from svtools.ingest.definitions import load_definition

    ddir = dataset_dir(dataset)
    defs = definition_names(definition)
    for d in defs:
        load_definition(d)  # unknown names fail here, before any kernel starts
    several = len(defs) > 1
    info = dataset_info(dataset)
    end = str(period_end or info["period_end"])
    try:
        datetime.strptime(end, "%Y-%m-%d")
    except ValueError:
        raise SvtoolsError(f"period_end must look like 2025-03-31, not {end!r}") from None
    nbs = discover_notebooks(notebooks)
    schema = str(info.get("schema", "police_extract"))
    supported = [n for n in nbs if schema in n.settings["schemas"]]
    if notebooks:
        bad = [n.name for n in nbs if n not in supported]
        if bad:
            raise SvtoolsError(f"notebook(s) {bad} do not support dataset '{dataset}' (a {schema} dataset)")
    if not supported:
        raise SvtoolsError(f"no batch notebook in {NOTEBOOKS} supports dataset '{dataset}' (a {schema} dataset)")
    if not several:  # a comparison of definitions needs two or more
        if notebooks:
            one = [n.name for n in supported if compares_definitions(n)]
            if one:
                raise SvtoolsError(f"notebook(s) {one} compare definitions and need two or more (--definition A B), "
                                   f"not only '{defs[0]}'")
        supported = [n for n in supported if not compares_definitions(n)]

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
    if schema == "counts":  # a count table holds every CSP it covers (gaps are reported by its ingest)
        with_records = set(areas["csp_code"])
    else:
        with_records = {p.name.split("=", 1)[1] for p in (ddir / "records").glob("csp_code=*")}

    base = dict(dataset=dataset, definitions=defs, period_end=end)
    jobs: list[Job] = []

    def add(nb: Notebook, defn: str | None, level: str, code: str | None, name: str, pfa: str | None, page: str,
            skip: str = ""):
        values = {**base, "definition": defn or defs[0], "csp_code": code if level == "csp" else None,
                  "pfa_code": code if level == "force" else None}
        params = {p: values[p] for p in nb.parameters}
        fmt = {"area_name": name, "area_code": code or "", "notebook": nb.name.replace("_", " ").capitalize()}
        title = str(nb.settings["title"]).format(**fmt)
        label = str(nb.settings["label"] or fmt["notebook"])
        job_id = f"{nb.name}--{code}" if code else nb.name
        if several and defn:  # one page per definition: its own id and folder
            job_id, page = f"{job_id}--{defn}", f"{DEFINITION_DIR}/{defn}/{page}"
        jobs.append(Job(job_id=job_id, notebook=str(nb.path), name=nb.name, level=level, area_code=code,
                        area_name=name, pfa_code=pfa, pfa_name=force_names.get(pfa) if pfa else None,
                        params=render.plain_params(params), page=page, title=title, label=label,
                        order=int(nb.settings["order"]), skip_reason=skip, definition=defn))

    for nb in supported:
        level = nb.settings["level"]
        # a page that depends on the definition is built for each; one that does not, once (definition None)
        for defn in (defs if per_definition(nb) else [None]):
            if level == "csp":
                for row in csp_rows.itertuples(index=False):
                    skip = "" if row.csp_code in with_records else "no records for this CSP in the processed data"
                    add(nb, defn, "csp", row.csp_code, row.csp_name, row.pfa_code,
                        f"csp/{row.csp_code}/{nb.name}/{_PAGE}", skip)
            elif level == "force":
                for code in force_codes:
                    add(nb, defn, "force", code, force_names[code], code, f"force/{code}/{nb.name}/{_PAGE}")
            elif not csps and not forces:
                add(nb, defn, "dataset", None, f"all areas in the {dataset} data", None,
                    f"dataset/{nb.name}/{_PAGE}")
    return jobs, supported


# --------------------------------------------------------------------------- outputs
def _new_run_id(out: Path) -> str:
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while any((folder / name).exists() for folder in (out, out / ANALYST_DIR)
              for name in (run_id, f"{run_id}.partial")):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _point_latest(out: Path, run_id: str, name: str = "latest") -> Path | None:
    """Atomically repoint ``<out>/<name>`` at the run (a symlink swapped with ``os.replace``); return the link.

    Used after a full run only, for ``outputs/latest`` and ``outputs/latest-<dataset>`` (the published run) and
    the same two in ``outputs/_analyst/`` (its analysts' folder).
    """
    link = out / name
    if link.exists() and not link.is_symlink():
        log.warning("%s is not a symlink: left alone", link)
        return None
    tmp = out / f".{name}-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        os.symlink(run_id, tmp, target_is_directory=True)
    except OSError as exc:  # pragma: no cover - filesystems without symlinks
        log.warning("cannot create %s: %s", link, exc)
        return None
    os.replace(tmp, link)
    return link


def _full_run_pages(plan: list[Job], filters: dict, dataset: str, definition: str | Sequence[str],
                    period_end: str | None) -> int | None:
    """The pages a full run of the dataset builds (from the plan of an unfiltered run; nothing is run)."""
    if not filters:
        return sum(not j.skip_reason for j in plan)
    try:
        full = _plan(None, None, None, dataset, definition, period_end)[0]
    except SvtoolsError as exc:  # e.g. only a notebook named by path supports this dataset
        log.info("no full plan for %s: %s", dataset, exc)
        return None
    return sum(not j.skip_reason for j in full)


def _definition_record(bases: dict[str, dict], defs: list[str]) -> dict | list[dict]:
    """The manifest's ``definition``: name and title of the run's definition, or a list of them for several."""
    recs = [{k: (bases[d].get("definition") or {}).get(k) for k in ("name", "title")} for d in defs]
    return recs[0] if len(recs) == 1 else recs


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


def _worker_expectations(dataset: str) -> dict:
    """What a remote worker must share with this process to build a job: the code digest, package versions and
    the dataset's ``dataset.json`` (each job adds its input files' hashes; :mod:`svtools.publish.dask_executor`)."""
    from svtools.ingest.store import dataset_dir

    return {"code": _code_digest(), "versions": {k: v for k, v in render.package_versions().items() if k != "svtools"},
            "dataset": dataset, "dataset_json": _dataset_json_digest(dataset_dir(dataset))}


def job_order(todo: list[Job], ddir: Path) -> list[Job]:
    """The order jobs are handed to the workers: one force (and definition) at a time, biggest first.

    A warm kernel keeps each force's tables (its records, protected families, breakdowns) in bounded caches,
    so jobs of the same force and definition run one after another: each worker builds a force's tables once,
    not once per page as when the jobs of 43 forces come mixed. Groups go by the size of their inputs, largest
    first, and so do the jobs within a group, so no worker is left with one long job at the end; jobs of no
    force (dataset pages) come first.

    Parameters
    ----------
    todo : list of Job
        The jobs to run.
    ddir : Path
        The processed dataset's folder (``Job.inputs`` are relative to it; sizes in bytes).
    """
    size = {j.job_id: sum((ddir / f).stat().st_size for f in j.inputs if (ddir / f).is_file()) for j in todo}
    groups: dict[tuple, list[Job]] = {}
    for job in todo:
        groups.setdefault(job_group(job), []).append(job)
    weight = {g: sum(size[j.job_id] for j in jobs) for g, jobs in groups.items()}
    ordered = sorted(groups, key=lambda g: (g[0] != "", -weight[g], g))
    return [j for g in ordered for j in sorted(groups[g], key=lambda j: -size[j.job_id])]


def run_build(notebooks: Sequence[str | Path] | None = None, csps: Sequence[str] | None = None,
              forces: Sequence[str] | None = None, dataset: str = "demo", jobs: int | None = None,
              out: str | Path | None = None, force_all: bool = False,
              definition: str | Sequence[str] = "knife_serious_violence", period_end: str | None = None,
              progress: bool = True, *, timeout: float | None = 600, kernel_name: str | None = None,
              executor: str = "local", scheduler: str | None = None) -> BuildResult:
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
    definition : str or sequence of str
        Definition(s) of serious violence (``config/definitions``). With several, each definition's pages are
        built under ``def/<name>/``, pages that do not depend on the definition once, and each force gets a
        definition comparison page (:func:`plan_jobs`); the run is still full when nothing else filters it.
    period_end : str, optional
        Last day of the period, ``YYYY-MM-DD`` (default: the end of the data).
    progress : bool
        Show one progress bar.
    timeout : float, optional
        Seconds allowed per notebook cell (a cell that runs longer fails its job).
    kernel_name : str, optional
        Jupyter kernel (default :func:`svtools.publish.render.default_kernel_name`; on Dask workers, each
        worker's own default).
    executor : str
        Where the jobs run (:mod:`svtools.publish.executors`): ``"local"`` (default; ``jobs`` worker processes on
        this machine) or ``"dask"`` (a ``dask.distributed`` cluster, one warm kernel per Dask worker; pages come
        back to this process, which writes them; ``docs/dask.md``). Planning, the cache, the writing of the run
        and the manifest are the same for both.
    scheduler : str, optional
        With ``executor="dask"``: the scheduler's address (``tcp://host:8786``); without it a ``LocalCluster`` of
        ``jobs`` worker processes is started for the run.

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
    # a run with a filter is partial: its own run folder, and no ``latest`` link moves (README, outputs/README)
    filters = {k: v for k, v in (("notebooks", [str(n) for n in notebooks or []]), ("csps", list(csps or [])),
                                 ("forces", list(forces or []))) if v}
    full_pages = _full_run_pages(plan, filters, dataset, definition, period_end)
    nbs = {str(n.path): n for n in supported}
    input_hashes = _assign_keys(plan, nbs, dataset, code=_code_digest())
    n_jobs = max(1, int(jobs or os.cpu_count() or 1))
    runner = make_executor(executor, jobs=n_jobs, kernel_name=kernel_name,
                           warm_modules=_notebook_modules(list(nbs.values())), timeout=timeout, scheduler=scheduler,
                           expect=_worker_expectations(dataset) if executor == "dask" else None,
                           input_hashes=input_hashes)
    kernel_name = getattr(runner, "kernel_name", None) or kernel_name

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

    defs = definition_names(definition)
    bases = {d: render.run_context(dataset, d) for d in defs}
    # the run's own context (its index): the one definition, or none (the index then lists each definition)
    base = bases[defs[0]] if len(defs) == 1 else render.run_context(dataset, None)
    full_link = out / f"latest-{dataset}"
    scope = _scope(filters, sum(not j.skip_reason for j in plan), full_pages, dataset,
                   f"{out.name}/{full_link.name}" if full_link.is_dir() else None)
    for job in plan:
        href = os.path.relpath(_PAGE, start=Path(job.page).parent.as_posix())
        job_base = bases.get(job.definition, base) if len(defs) > 1 else base
        job.context = render.page_context(job.params, job.title, base=job_base, area_name=job.area_name,
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
        todo = job_order(todo, dataset_dir(dataset))
        def done(job: Job, result: JobResult) -> None:  # one path for every executor: log, cache, progress
            record(job, result)
            bar.update(1)
            if not progress:  # no bar: one line per finished job instead (the log of a long run)
                log.info("%s %s %.1fs", result.status, job.job_id, result.seconds)

        def note(text: str) -> None:  # where the jobs run, in build.log and on the terminal
            logfile.write(f"{_now_iso()} {text}\n")
            logfile.flush()
            log.warning("%s", text)

        runner.run(todo, partial, analyst_partial, done, note)
        workers = runner.workers(len(todo))
        bar.close()

        seconds = time.perf_counter() - t_start
        ordered = [results[j.job_id] for j in plan]
        result = BuildResult(run_id=run_id, run_dir=final, index=final / _PAGE, jobs=plan, results=ordered,
                             seconds=seconds, manifest={}, analyst_dir=analyst_final, scope=scope["scope"],
                             filters=filters, full_pages=full_pages)
        summary = result.summary()
        manifest = _manifest(run_id, started_at, seconds, plan, results, dict(
            notebooks=[str(n) for n in notebooks] if notebooks else None, csps=list(csps) if csps else None,
            forces=list(forces) if forces else None, dataset=dataset,
            definition=defs[0] if len(defs) == 1 else defs, definitions=defs,
            period_end=plan[0].params.get("period_end") if plan else period_end, jobs=n_jobs, workers=workers,
            force_all=force_all, timeout=timeout, kernel_name=kernel_name, **runner.record()),
            dataset_info(dataset), input_hashes, dataset_dir(dataset), summary, nbs, _code_digest(), scope=scope,
            definition=_definition_record(bases, defs))
        result.manifest = manifest
        index_ctx = _index_context(plan, results, base, run_id, _partner_summary(plan, results), dataset, scope,
                                   definitions=[bases[d].get("definition") or {"name": d} for d in defs])
        (partial / _PAGE).write_text(render.render_page("run_index.html.j2", index_ctx, _index_title(base, scope)),
                                     encoding="utf-8")
        published = _published_manifest(manifest, result, out)
        _write_reports(partial, analyst_partial, plan, results, manifest, published)
        from svtools.publish import validate  # pre-publish checks, on record in the manifests and index; a failure
        result.validation = validate.validate_build(partial, analyst_partial, manifest)  # stops here, unpublished
        logfile.write(f"{_now_iso()} done: {summary}\n")
        logfile.close()
        os.rename(analyst_partial, analyst_final)  # both renames, then both links: latest never sees half a run
        os.rename(partial, final)
        if not result.partial:  # only a full run of a dataset moves latest (and latest-<dataset>)
            for folder in (out, analyst_root):
                for name in ("latest", f"latest-{dataset}"):
                    link = _point_latest(folder, run_id, name)
                    if link is not None:
                        result.latest.append(link)
        _cache_prune(cache, {j.key for j in plan})
    finally:
        bar.close()
        if not logfile.closed:
            logfile.close()
    print(summary)
    print(_where_message(result, out, dataset))
    for j in plan:
        r = results[j.job_id]
        if r.status == "failed":
            print(f"  failed: {j.job_id}: {r.ename}: {r.evalue}", file=sys.stderr)
    return result


def _where_message(result: BuildResult, out: Path, dataset: str) -> str:
    """Where the pages went, in one line: a full run names the links it moved, a partial run says none moved."""
    if not result.partial:
        names = ", ".join(f"{out.name}/{p.name}" for p in result.latest if p.parent == out)
        return f"full run of the {dataset} dataset: {names} -> {result.run_id}"
    of = f" of the {result.full_pages} a full run builds" if result.full_pages else ""
    pages = sum(r.status != "skipped" for r in result.results)
    latest = out / "latest"
    now = f"still {os.readlink(latest)}" if latest.is_symlink() else "none yet"
    return (f"partial run ({pages} page{'s' if pages != 1 else ''}{of}; {_filter_text(result.filters)}): "
            f"{result.index}\n"
            f"  no latest link moved ({out.name}/latest: {now}); a run with no --csp, --force or --notebook "
            "moves it")
