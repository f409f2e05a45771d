"""``svtools build --executor dask``: the build's jobs on a ``dask.distributed`` cluster (``docs/dask.md``).

* **One warm kernel per Dask worker**: :class:`WarmKernelPlugin`, a worker plugin, starts a
  :class:`svtools.publish.render.WarmKernel` when the worker sets it up and stops it on teardown; every job on that
  worker runs on it, one at a time, reset between notebooks as on the local executor.
* **Workers need not share the driver's disk**: each job runs in a scratch folder on its worker with
  :func:`svtools.publish.executors.execute_job`; the page folder (HTML and CSVs) and the executed (or failed)
  notebook come back to the driver as bytes, and the driver writes them into the run's ``.partial`` folders
  (:func:`land`). The notebook itself travels with the job. The processed data do not: the workers read them at
  their own ``SVTOOLS_DATA`` (a shared or copied folder).
* **A page is only built from the inputs its cache key names**: before a job runs, its worker checks that it has
  the driver's svtools code and config (the code digest), package versions, ``dataset.json`` and the SHA-256 of
  each of the job's input files; any difference fails that job with a ``WorkerMismatch`` error page saying what
  differs.
* **No job is lost**: a worker that dies mid-job is replaced and the job re-run by Dask (up to
  ``distributed.scheduler.allowed-failures`` times, default 3); after that the job is recorded failed
  (``WorkerDied``) with its error page. Every other failure is the job's own, exactly as on the local executor.
* Without ``--scheduler`` the run starts a ``LocalCluster`` of ``jobs`` single-threaded worker processes (and says
  so in the log).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from distributed import WorkerPlugin

from svtools.errors import SvtoolsError
from svtools.publish import render
from svtools.publish.executors import Done, _analyst_label, _error_page, driver_failure, execute_job
from svtools.publish.run_cache import Job, JobResult
from svtools.publish.run_record import _now_iso

__all__ = ["DaskExecutor", "WarmKernelPlugin", "PLUGIN_NAME", "dask_task", "land"]

log = logging.getLogger("svtools.publish.batch")  # one logger for the whole build

#: The name the worker plugin is registered under (one warm kernel per Dask worker).
PLUGIN_NAME = "svtools-warm-kernel"


class WarmKernelPlugin(WorkerPlugin):
    """A ``distributed`` worker plugin: one warm kernel per Dask worker, started on set-up, stopped on teardown.

    Every call into the kernel goes through one thread the plugin owns (a kernel client is not shared between
    threads), so one job at a time runs on it, whatever the worker's ``nthreads``. The kernel boots while the
    worker registers; the first job waits for it.

    Parameters
    ----------
    kernel_name : str, optional
        Jupyter kernel on the worker (default: the worker's :func:`svtools.publish.render.default_kernel_name`).
    warm_modules : sequence of str
        Modules the kernel imports at start-up (those the build's notebooks import).
    """

    name = PLUGIN_NAME

    def __init__(self, kernel_name: str | None = None, warm_modules: Sequence[str] = ()) -> None:
        self.kernel_name = kernel_name
        self.warm_modules = list(warm_modules)
        self.kernel: render.WarmKernel | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._booting = None
        self._hashes: dict[tuple, str] = {}
        self._code: str | None = None

    def __getstate__(self) -> dict:  # only the settings travel to the workers
        return {"kernel_name": self.kernel_name, "warm_modules": self.warm_modules}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def setup(self, worker=None) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="svtools-kernel")
        self._booting = self._thread.submit(self._start)

    def _start(self) -> None:
        self.kernel = render.WarmKernel(self.kernel_name or render.default_kernel_name(),
                                        warm_modules=self.warm_modules)
        self.kernel.launch()
        render.prepare()  # papermill and the nbconvert template, while the kernel boots
        self.kernel.ready()

    def teardown(self, worker=None) -> None:
        if self._thread is None:
            return
        if self.kernel is not None:
            try:
                self._thread.submit(self.kernel.shutdown).result(timeout=60)
            except Exception:  # pragma: no cover - the kernel exits with its parent anyway (parent poller)
                pass
        self._thread.shutdown(wait=False, cancel_futures=True)

    def call(self, fn, *args):
        """``fn(self, *args)`` on the kernel's thread, once the kernel has booted; its return value."""
        def on_thread():
            try:
                self._booting.result()
            except Exception as exc:  # it did not start: try once more now (a failure then is this job's)
                log.warning("dask worker: the kernel did not start (%s): starting it again", exc)
                self._start()
                self._booting = self._thread.submit(lambda: None)
            return fn(self, *args)

        return self._thread.submit(on_thread).result()

    # -- what this worker holds, to compare with the driver
    def code_digest(self) -> str:
        if self._code is None:
            from svtools.publish.run_cache import _code_digest

            self._code = _code_digest()
        return self._code

    def file_sha256(self, path: Path) -> str:
        """SHA-256 of a file, computed once per worker for each (path, size, modification time)."""
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            from svtools.ingest.area_tables import sha256_file

            self._hashes[key] = sha256_file(path)
        return self._hashes[key]


def worker_mismatch(plugin: WarmKernelPlugin, expect: dict) -> str:
    """Why this worker must not build a job ('' when it may): other code, packages or input data than the driver.

    ``expect`` holds the driver's ``code`` digest, package ``versions`` (without svtools, which the code digest
    covers), ``dataset``, ``dataset_json`` digest and ``inputs`` (the job's files relative to the dataset folder,
    each with its SHA-256), as the job's cache key does.
    """
    from svtools.ingest.store import dataset_dir
    from svtools.publish.run_cache import _dataset_json_digest

    if "code" in expect and plugin.code_digest() != expect["code"]:
        return ("this worker has other svtools code or config than the build's driver (code digest "
                f"{plugin.code_digest()[:12]} here, {expect['code'][:12]} on the driver): install the same svtools "
                "on every worker (docs/dask.md)")
    theirs = {k: v for k, v in render.package_versions().items() if k != "svtools"}
    ours = expect.get("versions", theirs)
    diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if diff:
        return ("this worker has other package versions than the build's driver ("
                + ", ".join(f"{k} {theirs.get(k)} here, {ours.get(k)} on the driver" for k in diff)
                + "): install the pinned packages (pyproject.toml) on every worker")
    try:
        ddir = dataset_dir(expect["dataset"])
    except SvtoolsError as exc:
        return f"this worker cannot read the processed data: {exc} (set SVTOOLS_DATA on the workers, docs/dask.md)"
    if expect.get("dataset_json") and _dataset_json_digest(ddir) != expect["dataset_json"]:
        return f"this worker's {ddir.name}/dataset.json differs from the driver's: it holds another ingest"
    for rel, sha in expect["inputs"].items():
        path = ddir / rel
        if not path.is_file():
            return f"this worker has no {ddir.name}/{rel} (the driver has): give the workers the same processed data"
        if plugin.file_sha256(path) != sha:
            return f"this worker's {ddir.name}/{rel} differs from the driver's (SHA-256): another version of the data"
    return ""


def _read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _job_on_worker(plugin: WarmKernelPlugin, job: dict, notebook: bytes, expect: dict, timeout: float | None,
                   analyst_label: str, address: str) -> dict:
    """(Runs on the kernel's thread of a Dask worker.) One job in a scratch folder; its files come back as bytes."""
    scratch = Path(tempfile.mkdtemp(prefix="svtools-job-"))
    try:
        job = Job(**job)
        nb_path = scratch / "notebooks" / Path(job.notebook).name  # the same file name, for the error page
        nb_path.parent.mkdir(parents=True)
        nb_path.write_bytes(notebook)
        job.notebook = str(nb_path)
        run_dir, analyst_dir = scratch / "run", scratch / "analyst"
        why = worker_mismatch(plugin, expect)
        if why:
            page = run_dir / job.page
            _error_page(job, page, "WorkerMismatch", why, None, analyst_label)
            result = JobResult(job_id=job.job_id, status="failed", ename="WorkerMismatch", evalue=why,
                               page_bytes=page.stat().st_size, files=[page.name], produced_at=_now_iso(),
                               worker_pid=os.getpid())
        else:
            result = execute_job(plugin.kernel, job, run_dir, timeout, analyst_dir, analyst_label=analyst_label)
        result.worker = address
        return {"result": dataclasses.asdict(result), "page": _read_tree((run_dir / job.page).parent),
                "analyst": _read_tree(analyst_dir) if analyst_dir.is_dir() else {}}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def dask_task(job: dict, notebook: bytes, expect: dict, timeout: float | None, analyst_label: str) -> dict:
    """The Dask task of one job: run it on this worker's warm kernel (:class:`WarmKernelPlugin`).

    Returns ``{"result": JobResult as a dict, "page": {file: bytes}, "analyst": {file: bytes}}``.
    """
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:  # pragma: no cover - register_plugin runs before any task is submitted
        raise RuntimeError(f"worker {worker.address} has no {PLUGIN_NAME} plugin")
    return plugin.call(_job_on_worker, job, notebook, expect, timeout, analyst_label, worker.address)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def land(job: Job, payload: dict, run_dir: Path, analyst_dir: Path) -> JobResult:
    """(Driver.) Write what a worker sent back for ``job`` into the run's folders; return the job's result.

    The page folder is replaced as a whole (its HTML and CSVs), the executed or failed notebook goes to the
    analysts' folder; paths are those relative to the job's page folder and to the analysts' folder.
    """
    page_dir = (run_dir / job.page).parent
    shutil.rmtree(page_dir, ignore_errors=True)
    for rel, data in payload["page"].items():
        _write_atomic(page_dir / rel, data)
    for rel, data in payload["analyst"].items():
        _write_atomic(analyst_dir / rel, data)
    return JobResult(**payload["result"])


@dataclasses.dataclass
class DaskExecutor:
    """The jobs on the ``dask.distributed`` cluster at ``scheduler``, or on a ``LocalCluster`` of ``jobs`` workers.

    ``expect`` is what every worker must share with the driver (see :func:`worker_mismatch`; ``inputs`` is added
    per job from ``input_hashes``).
    """

    jobs: int
    kernel_name: str | None
    warm_modules: list[str]
    timeout: float | None
    scheduler: str | None = None
    expect: dict = dataclasses.field(default_factory=dict)
    input_hashes: dict = dataclasses.field(default_factory=dict)
    name: str = "dask"
    n_workers: int = 0
    connect_timeout: float = 60
    #: What each worker checks against the driver before a job (:func:`worker_mismatch`): ``code`` (the digest
    #: of svtools and config/), ``versions`` and ``data`` (dataset.json and the job's input files). A class
    #: attribute, not a build option; the tests drop ``code`` because other work edits the tree they run in.
    verify = ("code", "versions", "data")

    def workers(self, n_todo: int) -> int:
        """The Dask workers the run used (known once it has run)."""
        return self.n_workers

    def record(self) -> dict:
        """What the manifest says about where the jobs ran (the analysts' copy keeps the scheduler's address)."""
        return {"executor": self.name, "scheduler": self.scheduler or "LocalCluster", "dask_workers": self.n_workers}

    def _client(self, note):
        from distributed import Client, LocalCluster

        if self.scheduler:
            note(f"dask: connecting to the scheduler at {self.scheduler}")
            client = Client(self.scheduler, timeout=f"{self.connect_timeout}s")
            client.wait_for_workers(1, timeout=self.connect_timeout)
            return client, None
        # a quiet cluster: the build logs what matters (distributed logs every worker's start and stop at INFO)
        logging.getLogger("distributed").setLevel(logging.ERROR)
        cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env={"DASK_LOGGING__DISTRIBUTED": "error"})
        note(f"dask: no --scheduler given: started a LocalCluster of {self.jobs} worker process(es) on this "
             f"machine (--jobs; scheduler {cluster.scheduler_address})")
        return Client(cluster), cluster

    def run(self, todo: list[Job], run_dir: Path, analyst_dir: Path, done: Done,
            note: Callable[[str], None] = log.info) -> None:
        if not todo:
            note("dask: nothing to run (every page cached or skipped): no cluster started")
            return
        from distributed import as_completed

        client, cluster = self._client(note)
        try:
            client.register_plugin(WarmKernelPlugin(self.kernel_name, self.warm_modules), name=PLUGIN_NAME)
            self.n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
            note(f"dask: {len(todo)} page(s) on {self.n_workers} worker(s), one warm kernel each")
            label = _analyst_label(analyst_dir)
            notebooks = {nb: Path(nb).read_bytes() for nb in dict.fromkeys(j.notebook for j in todo)}
            futures = {}
            for i, job in enumerate(todo):  # in the build's order (biggest first): higher priority first
                expect = {**self.expect, "inputs": {f: self.input_hashes[f] for f in job.inputs}}
                if "code" not in self.verify:
                    expect.pop("code", None)
                if "versions" not in self.verify:
                    expect.pop("versions", None)
                if "data" not in self.verify:
                    expect.update(dataset_json=None, inputs={})
                fut = client.submit(dask_task, dataclasses.asdict(job), notebooks[job.notebook], expect,
                                    self.timeout, label, key=f"svtools-{job.job_id}-{job.key[:16]}",
                                    priority=len(todo) - i, pure=False)
                futures[fut] = job
            try:
                for fut in as_completed(list(futures)):
                    job = futures[fut]
                    try:
                        result = land(job, fut.result(), run_dir, analyst_dir)
                    except Exception as exc:  # the task itself failed: its worker died, or it could not run
                        result = self._lost(job, run_dir, exc, analyst_dir)
                    done(job, result)
                    fut.release()
            except BaseException:  # Ctrl-C: cancel what is left; the partial run folder stays, latest untouched
                client.cancel(list(futures))
                raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    @staticmethod
    def _lost(job: Job, run_dir: Path, exc: BaseException, analyst_dir: Path) -> JobResult:
        from distributed.scheduler import KilledWorker

        log.warning("dask: %s not run: %s: %s", job.job_id, type(exc).__name__, exc)
        if isinstance(exc, KilledWorker):
            return driver_failure(job, run_dir, exc, analyst_dir, "WorkerDied",
                                  "the Dask worker running this job died each time it was tried (KilledWorker, "
                                  "after distributed.scheduler.allowed-failures retries): out of memory or killed")
        return driver_failure(job, run_dir, exc, analyst_dir)
