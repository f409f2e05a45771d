"""Where the jobs of a build run: this machine (:class:`LocalExecutor`) or a ``dask.distributed`` cluster
(:class:`svtools.publish.dask_executor.DaskExecutor`).

:func:`svtools.publish.batch.run_build` plans the jobs, restores cached pages, and hands the rest (``todo``) to an
executor's ``run(todo, run_dir, analyst_dir, done)``, which calls ``done(job, result)`` as each job finishes;
everything after that (the build log, the page cache, the manifest, the index, the atomic renames) is the build's
one code path, whatever ran the job. An executor only has to put each job's page folder into the run's
``.partial`` folder (and its executed or failed notebook into the analysts' ``.partial`` folder) before it calls
``done``.

* :class:`LocalExecutor` (the default, ``--executor local``): ``jobs`` worker processes, one warm Jupyter kernel
  each (:class:`svtools.publish.render.WarmKernel`); ``jobs=1`` runs in this process. Workers write straight into
  the run folder (one disk).
* ``DaskExecutor`` (``--executor dask [--scheduler ADDRESS]``; the optional ``dask`` extra, imported only then):
  one warm kernel per Dask worker, started by a worker plugin on the worker's set-up and stopped on its teardown.
  Each job runs in a scratch folder on its worker through the same :func:`execute_job` (the same kernel reset
  between notebooks, the same error page for a failed job); the page folder and the executed notebook come back
  to the driver as bytes and the driver writes them (workers need not share the driver's disk). See
  ``docs/dask.md``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing as mp
import os
import resource
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from svtools.errors import SvtoolsError
from svtools.publish import render
from svtools.publish.output import PAGE_DIR_ENV, TABLES_SIDECAR
from svtools.publish.run_cache import Job, JobResult, job_group
from svtools.publish.run_record import _PAGE, ANALYST_DIR, _now_iso, _scrub_paths

__all__ = ["EXECUTORS", "LocalExecutor", "make_executor", "execute_job", "driver_failure"]

log = logging.getLogger("svtools.publish.batch")  # one logger for the whole build

#: The names ``svtools build --executor`` accepts.
EXECUTORS = ("local", "dask")

Done = Callable[[Job, JobResult], None]


# --------------------------------------------------------------------------- one job on a warm kernel
def _peak_rss_self_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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


def _error_page(job: Job, page: Path, ename: str, evalue: str, cell: int | None, label: str) -> None:
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render.error_html(job.context, job.title, ename, _scrub_paths(evalue), cell,
                                      Path(job.notebook).name, job.job_id, label), encoding="utf-8")


def execute_job(kernel: render.WarmKernel, job: Job, run_dir: Path, timeout: float | None,
                analyst_dir: Path | None = None, analyst_label: str | None = None) -> JobResult:
    """Run one job on a warm kernel and write its page (or its error page). Never raises for a job failure.

    The page goes to ``run_dir`` (published); the executed notebook to ``analyst_dir/_notebooks/`` or, when the
    job fails, ``analyst_dir/_failed/`` (default: ``_analyst/<run_dir name>`` beside ``run_dir``). An error page
    names the analysts' folder as ``analyst_label`` (default: from ``analyst_dir``, ``outputs/_analyst/<run-id>``).
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
        _error_page(job, page, result.ename, result.evalue, result.cell,
                    analyst_label or _analyst_label(analyst_dir))
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


def driver_failure(job: Job, run_dir: Path, exc: BaseException, analyst_dir: Path,
                   ename: str | None = None, evalue: str | None = None) -> JobResult:
    """The result (and error page) of a job whose worker itself failed: a dead process, a lost Dask worker."""
    name, message, _ = _error_fields(exc)
    ename, evalue = ename or name, evalue or message
    page = run_dir / job.page
    shutil.rmtree(page.parent, ignore_errors=True)  # nothing half-landed beside the error page
    _error_page(job, page, ename, evalue, None, _analyst_label(analyst_dir))
    return JobResult(job_id=job.job_id, status="failed", ename=ename, evalue=evalue,
                     page_bytes=page.stat().st_size, files=[_PAGE], produced_at=_now_iso())


# --------------------------------------------------------------------------- this machine
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
    result = execute_job(_WORKER["kernel"], Job(**job), Path(run_dir), _WORKER["timeout"], Path(analyst_dir))
    return dataclasses.asdict(result)


class ForceQueue:
    """Jobs handed out force by force: a worker that finishes a job gets the next one of the same group.

    ``todo`` comes in :func:`svtools.publish.batch.job_order`'s order (consecutive jobs of one force and
    definition form a group, biggest group first). A worker keeps its group until the group is done, then takes
    the next group nobody has started; when none is left it helps with the group that has the most jobs left.
    So each force's tables (records, protected families, breakdowns; on new data their suppression search, the
    slowest part of a cold run) are built by one warm kernel, not by every kernel at once.
    """

    def __init__(self, todo: list[Job]):
        self.groups: list[list[Job]] = []
        for job in todo:
            if not self.groups or job_group(self.groups[-1][0]) != job_group(job):
                self.groups.append([])
            self.groups[-1].append(job)
        self.group_of = {j.job_id: g for g, jobs in enumerate(self.groups) for j in jobs}
        self.left = [list(jobs) for jobs in self.groups]
        self.started = [False] * len(self.groups)

    def next(self, after: Job | None = None) -> Job | None:
        """The job for the worker that has just finished ``after`` (None: a worker that has not run one)."""
        g = self.group_of.get(after.job_id) if after is not None else None
        if g is None or not self.left[g]:
            fresh = [i for i, left in enumerate(self.left) if left and not self.started[i]]
            if fresh:
                g = fresh[0]
            else:
                busy = [i for i, left in enumerate(self.left) if left]
                if not busy:
                    return None
                g = max(busy, key=lambda i: len(self.left[i]))
        self.started[g] = True
        return self.left[g].pop(0)


@dataclasses.dataclass
class LocalExecutor:
    """``jobs`` worker processes on this machine, one warm kernel each; ``jobs=1``: in this process."""

    jobs: int
    kernel_name: str
    warm_modules: list[str]
    timeout: float | None
    name: str = "local"

    def workers(self, n_todo: int) -> int:
        return min(self.jobs, n_todo)

    def record(self) -> dict:
        return {"executor": self.name}

    def run(self, todo: list[Job], run_dir: Path, analyst_dir: Path, done: Done,
            note: Callable[[str], None] = log.info) -> None:
        workers = self.workers(len(todo))
        if workers == 1:
            kernel = render.WarmKernel(self.kernel_name, warm_modules=self.warm_modules)
            try:
                kernel.launch()
                render.prepare()
                kernel.ready()
                for job in todo:
                    done(job, execute_job(kernel, job, run_dir, self.timeout, analyst_dir))
            finally:
                kernel.shutdown()
        elif workers > 1:
            self._pool(todo, workers, run_dir, analyst_dir, done)

    def _pool(self, todo, workers, run_dir, analyst_dir, done) -> None:
        from concurrent.futures.process import BrokenProcessPool

        ctx = mp.get_context("spawn")  # no fork of a process holding threads and zmq sockets
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(self.kernel_name, self.warm_modules, self.timeout)) as pool:
            # One job per worker in flight: a finished worker is the only idle one, so the job submitted when
            # it finishes goes to it, and ForceQueue keeps each worker on its own force.
            queue = ForceQueue(todo)
            futures = {}

            def submit(after: Job | None) -> None:
                while (job := queue.next(after)) is not None:
                    try:
                        fut = pool.submit(_worker_run, dataclasses.asdict(job), str(run_dir), str(analyst_dir))
                    except BrokenProcessPool as exc:  # a worker died: every job left fails, as it would have
                        done(job, driver_failure(job, run_dir, exc, analyst_dir))
                        after = job
                        continue
                    futures[fut] = job
                    return

            for _ in range(workers):
                submit(None)
            try:
                while futures:
                    finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        job = futures.pop(fut)
                        try:
                            result = JobResult(**fut.result())
                        except (BrokenProcessPool, Exception) as exc:  # the worker process itself died
                            result = driver_failure(job, run_dir, exc, analyst_dir)
                        done(job, result)
                        submit(job)
            except BaseException:  # Ctrl-C: stop now; the partial run folder is left and latest is untouched
                workers_now = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in workers_now:
                    proc.terminate()  # each kernel notices its worker is gone and exits (ipykernel parent poller)
                raise


def make_executor(executor: str, *, jobs: int, kernel_name: str | None, warm_modules: list[str],
                  timeout: float | None, scheduler: str | None = None, expect: dict | None = None,
                  input_hashes: dict | None = None):
    """The executor named ``executor`` (``local`` or ``dask``; :data:`EXECUTORS`)."""
    if executor == "local":
        if scheduler:
            raise SvtoolsError("--scheduler needs --executor dask")
        return LocalExecutor(jobs=jobs, kernel_name=kernel_name or render.default_kernel_name(),
                             warm_modules=warm_modules, timeout=timeout)
    if executor == "dask":
        try:
            from svtools.publish.dask_executor import DaskExecutor
        except ImportError as exc:  # the optional extra is not installed
            raise SvtoolsError(f"--executor dask needs dask and distributed ({exc}): "
                               "pip install -e '.[dask]' (docs/dask.md)") from None
        return DaskExecutor(jobs=jobs, kernel_name=kernel_name, warm_modules=warm_modules, timeout=timeout,
                            scheduler=scheduler, expect=expect or {}, input_hashes=input_hashes or {})
    raise SvtoolsError(f"unknown executor {executor!r} (choose from {', '.join(EXECUTORS)})")
