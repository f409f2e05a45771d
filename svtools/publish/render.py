"""From a parameterised notebook to the HTML page partners read.

* :func:`plain_params` - parameters as plain JSON types (papermill injects anything else as a quoted string:
  ``numpy.int64``, ``date``, ``Path``...; ``../shared/docs/batch_reporting.md`` §1).
* :func:`check_template` - exactly one ``parameters`` cell, no unknown or missing parameter names, no markdown
  H1 (the page template owns the only H1) (§2).
* :func:`execute` - papermill, either with a fresh kernel or on a :class:`WarmKernel`: one kernel kept running
  across notebooks, its user namespace reset between them, so kernel start-up and imports (≈3.7 s, §7) are paid
  once per worker instead of once per page.
* :func:`to_html` - no code, no prompts, no stderr, no tracebacks, no scripts and nothing loaded from the
  internet; one shared template with the project title, area, period, definition, data sources, a synthetic-data
  banner and an "About this report" block (parameters, data vintage, versions) (§3, §9, accessibility).
* :func:`say` - a line of narrative computed from the data, displayed as markdown.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import functools
import json
import logging
import math
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from svtools import __version__, config
from svtools.errors import SvtoolsError
from svtools.paths import ROOT
from svtools.publish import provenance

__all__ = [
    "TEMPLATES",
    "TemplateError",
    "plain_params",
    "notebook_settings",
    "check_template",
    "default_kernel_name",
    "WarmKernel",
    "execute",
    "prepare",
    "prepare_for_html",
    "to_html",
    "render_page",
    "error_html",
    "run_context",
    "page_context",
    "period_label",
    "package_versions",
    "git_revision",
    "say",
]

log = logging.getLogger(__name__)

#: nbconvert template folder (``svtools_page``) and the run index and error page templates.
TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_TEMPLATE = "svtools_page"

#: Keys of ``metadata.svtools`` in a batch notebook, with their defaults.
NOTEBOOK_SETTINGS_DEFAULTS: dict[str, Any] = {
    "level": "csp",  # "csp" | "force" | "dataset": one page per CSP, per force, or one for the whole dataset
    # kinds of processed dataset the notebook supports (dataset.json "schema"): record extracts
    # ("police_extract", any force's, through its mapping), data.police.uk ("police_uk"), count tables ("counts")
    "schemas": ["police_extract", "police_uk"],
    "title": "{notebook}: {area_name}",  # page title; {area_name}, {area_code}, {notebook} are filled in
    "label": None,  # link text on the index page (default: the notebook name)
    "tables": None,  # shared tables it reads (cache key); None = all of them
    "order": 100,  # position on the index page
}


class TemplateError(SvtoolsError):
    """A notebook template cannot be run safely as a batch (tags, parameters, headings)."""


# --------------------------------------------------------------------------- parameters
def _plain(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        f = float(value)
        if not math.isfinite(f):
            raise TypeError(f"parameter '{name}': {value!r} is not a finite number")
        return f
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if value.tzinfo is None and value == value.replace(hour=0, minute=0, second=0, microsecond=0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return _plain(pd.Timestamp(value), name)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v, name) for v in value)
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        return [_plain(v, name) for v in list(value)]
    raise TypeError(f"parameter '{name}': {type(value).__name__} is not a plain JSON type")


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters converted to plain JSON types, so papermill injects them with the right type.

    ``numpy`` integers, floats and booleans become ``int``, ``float``, ``bool``; dates and timestamps become ISO
    strings (``"2025-03-31"``); paths become strings; tuples, sets and arrays become lists. Anything else raises
    ``TypeError`` naming the parameter.

    Examples
    --------
    >>> plain_params({"n": np.int64(3), "on": np.bool_(True), "end": dt.date(2025, 3, 31)})
    {'n': 3, 'on': True, 'end': '2025-03-31'}
    """
    out = {str(k): _plain(v, str(k)) for k, v in params.items()}
    json.dumps(out)  # proves it
    return out


# --------------------------------------------------------------------------- template checks
def _read_nb(notebook):
    import nbformat

    if isinstance(notebook, (str, Path)):
        return nbformat.read(str(notebook), as_version=4)
    return notebook


def notebook_settings(notebook) -> dict[str, Any]:
    """The notebook's ``metadata.svtools`` block merged over the defaults, or ``{}`` if it has none.

    A notebook takes part in ``svtools build`` only when it has this block (e.g. ``{"level": "csp",
    "schemas": ["police_extract"], "title": "Serious violence profile: {area_name}", "tables": ["areas"]}``).
    """
    nb = _read_nb(notebook)
    raw = nb.metadata.get("svtools")
    if not raw:
        return {}
    unknown = set(raw) - set(NOTEBOOK_SETTINGS_DEFAULTS)
    if unknown:
        raise TemplateError(f"metadata.svtools has unknown key(s) {sorted(unknown)}")
    merged = {**NOTEBOOK_SETTINGS_DEFAULTS, **raw}
    if merged["level"] not in ("csp", "force", "dataset"):
        raise TemplateError(f"metadata.svtools.level must be csp, force or dataset, not {merged['level']!r}")
    return merged


_MD_H1 = re.compile(r"^(#\s|#$)|<h1[\s>]", re.IGNORECASE | re.MULTILINE)


def check_template(notebook: str | Path, params: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Check that a notebook can be run as a batch template; return its declared parameters.

    Raises :class:`TemplateError` unless the notebook has exactly one code cell tagged ``parameters``; when
    ``params`` is given, unless its names are exactly the declared ones (papermill only warns about unknown
    names, and a missing one would silently keep the notebook's default, e.g. Hartlepool on every page). A
    markdown H1 is refused too: the page template writes the page's single H1 (the title with the area name).

    Returns
    -------
    dict
        ``papermill.inspect_notebook``: name -> {name, inferred_type_name, default, help}.
    """
    import papermill

    path = Path(notebook)
    nb = _read_nb(path)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in (c.get("metadata", {}).get("tags") or [])]
    if len(tagged) != 1:
        raise TemplateError(f"{path.name}: {len(tagged)} cells are tagged 'parameters'; exactly one is needed")
    if nb.cells[tagged[0]].cell_type != "code":
        raise TemplateError(f"{path.name}: the cell tagged 'parameters' must be a code cell")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and _MD_H1.search(cell.source):
            raise TemplateError(f"{path.name}: markdown cell {i} has a level-1 heading; start at '##' "
                                "(the page template writes the title as the only H1)")
    declared = papermill.inspect_notebook(str(path))
    if params is not None:
        unknown = sorted(set(params) - set(declared))
        missing = sorted(set(declared) - set(params))
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown parameter(s) {unknown}")
            if missing:
                parts.append(f"missing parameter(s) {missing}")
            raise TemplateError(f"{path.name}: {'; '.join(parts)} (declared: {sorted(declared)})")
    return declared


# --------------------------------------------------------------------------- kernels and execution
def default_kernel_name(preferred: str = "svtools") -> str:
    """The kernel to run notebooks on: the project's ``svtools`` kernel if it runs this Python, else ``python3``.

    ``make env`` installs ``svtools`` (``ipykernel install --sys-prefix``); ``python3`` is the native kernel of
    the running interpreter, so the kernel always sees the same packages as the build (§5 of the notes).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(preferred)
    except NoSuchKernel:
        return "python3"
    exe = spec.argv[0] if spec.argv else ""
    if exe in ("python", "python3", f"python3.{sys.version_info.minor}"):
        return preferred
    try:
        if Path(exe).absolute().is_relative_to(Path(sys.prefix).absolute()):
            return preferred
    except (OSError, ValueError):  # pragma: no cover - odd paths
        pass
    log.warning("kernel '%s' runs %s, not this environment (%s): using python3", preferred, exe, sys.prefix)
    return "python3"


def _kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of a kernel: ours, with the repository on PYTHONPATH so the kernel imports this svtools."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")  # one worker = one core: threaded BLAS in parallel kernels only oversubscribes
    env.update(extra or {})
    return env


# Run inside the kernel (see _kernel_warmup/_kernel_reset below); no names are left in the user namespace.
_WARMUP_CODE = "__import__('svtools.publish.render', fromlist=['_'])._kernel_warmup({modules!r})\n"
_RESET_CODE = "__import__('svtools.publish.render', fromlist=['_'])._kernel_reset({env!r}, {cwd!r})\n"

#: Modules a warm kernel imports at start-up besides those the notebooks import (see WarmKernel).
WARM_MODULES = ("numpy", "pandas", "pyarrow.parquet", "pyarrow.dataset", "matplotlib.pyplot",
                "matplotlib.backends.backend_agg", "seaborn", "svtools.ingest.store", "svtools.ingest.definitions",
                "svtools.publish.output", "svtools.publish.render")
_KERNEL_STATE: dict[str, Any] = {}
_OUTPUT_NAME = re.compile(r"_i{0,3}\d+")


def _kernel_warmup(modules: Sequence[str] = ()) -> None:
    """(Runs in a warm kernel.) Import the stack once and remember the clean state to restore between jobs."""
    import importlib
    import warnings

    for name in dict.fromkeys([*WARM_MODULES, *modules]):
        try:
            importlib.import_module(name)
        except Exception:  # not a module (``from x import function``) or broken: the notebook will say
            pass
    import matplotlib

    _KERNEL_STATE.update(rc=matplotlib.rcParams.copy(), warnings=list(warnings.filters), cwd=os.getcwd(),
                         path=list(sys.path), env=dict(os.environ))


def _kernel_reset(env: Mapping[str, str], cwd: str) -> None:
    """(Runs in a warm kernel.) Give the next notebook the state a fresh kernel would have.

    Like ``%reset -f`` (user variables and output history go; imported modules stay) but without its full
    garbage collection and history rewrite, which cost ~0.5 s each time; plus figures closed and matplotlib,
    pandas options, warnings filters, ``sys.path``, environment and working directory restored.
    """
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    ip = get_ipython()
    if ip is not None:
        ns, hidden = ip.user_ns, ip.user_ns_hidden
        for name in [n for n in ns if n not in hidden or _OUTPUT_NAME.fullmatch(n)]:
            del ns[name]
        for name in [n for n in hidden if _OUTPUT_NAME.fullmatch(n)]:
            del hidden[name]
        for name in ("_", "__", "___"):
            ns[name] = hidden[name] = ""
        ns.get("_oh", {}).clear()
        ip.execution_count = 1
    plt.close("all")
    if _KERNEL_STATE:
        matplotlib.rcParams.update(_KERNEL_STATE["rc"])
        warnings.filters[:] = _KERNEL_STATE["warnings"]
        sys.path[:] = _KERNEL_STATE["path"]
        for key in set(os.environ) - set(_KERNEL_STATE["env"]):
            del os.environ[key]
        os.environ.update(_KERNEL_STATE["env"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.reset_option("all")
    os.environ.update({k: str(v) for k, v in env.items()})
    os.chdir(cwd)
    _collect_garbage()


#: A warm kernel's full garbage collection comes once in this many notebooks (see :func:`_collect_garbage`).
FULL_GC_EVERY = 20


def _collect_garbage() -> None:
    """(Runs in a warm kernel, between notebooks.) Collect the last notebook's garbage without rescanning the stack.

    A warm kernel holds a few hundred thousand long-lived objects (modules, the run's cached tables). Python's
    automatic full collection scans all of them and took 0.4-0.8 s, about once in two national profiles. Here
    the young generations are collected after every notebook and, once in :data:`FULL_GC_EVERY` notebooks (and
    before and after the first), everything is collected and the survivors frozen (:func:`gc.freeze`): automatic
    collections then scan only what later notebooks allocated. Garbage cycles among frozen objects wait for
    the next full collection, which unfreezes first.
    """
    import gc

    count = _KERNEL_STATE.get("resets", 0)
    _KERNEL_STATE["resets"] = count + 1
    if count <= 1 or count % FULL_GC_EVERY == 0:  # the first notebook loads the run's shared tables
        gc.unfreeze()
        gc.collect()
        gc.freeze()
    else:
        gc.collect(1)


def _run_sync(coro_fn):
    from jupyter_core.utils import run_sync

    return run_sync(coro_fn)


class WarmKernel:
    """One Jupyter kernel kept running across notebook executions.

    Start-up and imports cost about 3.7 s per kernel; a warm kernel pays them once. Before each notebook,
    :meth:`reset` clears the user namespace (``%reset -f``), closes figures and restores matplotlib, pandas,
    warnings, ``sys.path``, environment and working directory to their state just after warm-up, while the
    imported modules stay cached. After a dead kernel or a timeout, call :meth:`restart`.

    Module-level state survives between notebooks on purpose: a ``functools.lru_cache`` on a function of
    ``(dataset, definition, period)`` (e.g. force-wide rates every CSP page compares against) is computed once
    per worker instead of once per page. Never cache per-CSP results that way, and never keep user data in
    module globals.

    Parameters
    ----------
    kernel_name : str, optional
        Kernel spec (default :func:`default_kernel_name`).
    startup_timeout : float
        Seconds to wait for the kernel to answer.
    warm_modules : sequence of str
        Modules to import at start-up (the build passes the modules its notebooks import).
    recycle_after : int
        Restart the kernel after this many notebooks (bounds slow memory growth in long runs).
    """

    def __init__(self, kernel_name: str | None = None, startup_timeout: float = 120,
                 warm_modules: Sequence[str] = (), recycle_after: int = 200) -> None:
        self.kernel_name = kernel_name or default_kernel_name()
        self.warm_modules = list(warm_modules)
        self.startup_timeout = startup_timeout
        self.recycle_after = recycle_after
        self.km = None
        self.kc = None
        self.runs = 0
        self.starts = 0
        self.last_nb = None  # the notebook of the last execution, also when it failed

    # -- lifecycle
    def start(self) -> WarmKernel:
        """Start the kernel and import the stack in it (:meth:`launch` then :meth:`ready`)."""
        self.launch()
        return self.ready()

    def launch(self) -> WarmKernel:
        """Start the kernel process and return at once (it boots while the caller does other work)."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.paths import jupyter_runtime_dir

        km = AsyncKernelManager(kernel_name=self.kernel_name)
        if os.name == "posix":  # local sockets: no TCP ports, no "unencrypted TCP" warning
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(parents=True, exist_ok=True)
            km.transport, km.ip = "ipc", str(runtime / f"svtools-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        _run_sync(km.start_kernel)(env=_kernel_env(), cwd=str(ROOT),
                                   extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        self.km, self.kc = km, kc
        return self

    def ready(self) -> WarmKernel:
        """Wait until the launched kernel answers, then import the stack in it."""
        try:
            _run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            self.run_code(_WARMUP_CODE.format(modules=self.warm_modules), timeout=self.startup_timeout)
        except Exception:
            self.shutdown()
            raise
        self.runs = 0
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.km is not None and bool(_run_sync(self.km.is_alive)())

    def shutdown(self) -> None:
        """Stop the kernel (safe to call twice)."""
        kc, km, self.kc, self.km = self.kc, self.km, None, None
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # pragma: no cover - best effort
                pass
        if km is not None:
            try:
                _run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # pragma: no cover - best effort
                pass

    def restart(self) -> WarmKernel:
        self.shutdown()
        return self.start()

    # -- use
    def run_code(self, code: str, timeout: float = 60) -> None:
        """Run ``code`` in the kernel outside any notebook (no history); raise if it fails."""
        reply = _run_sync(self.kc.execute_interactive)(
            code, store_history=False, allow_stdin=False, timeout=timeout, output_hook=lambda msg: None)
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"kernel set-up code failed: {content.get('ename')}: {content.get('evalue')}")

    def reset(self, env: Mapping[str, str] | None = None, cwd: str | Path = ROOT) -> None:
        """Prepare for the next notebook: a clean namespace, with ``env`` set in ``os.environ``."""
        if self.km is None or not self.alive() or self.runs >= self.recycle_after:
            self.shutdown()
            self.start()
        self.run_code(_RESET_CODE.format(env=dict(env or {}), cwd=str(cwd)))
        self.runs += 1

    @property
    def pid(self) -> int | None:
        try:
            return int(self.km.provisioner.process.pid)
        except AttributeError:
            return None

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory of the kernel process (Linux ``VmHWM``), in MB."""
        return _peak_rss_mb(self.pid)

    def __enter__(self) -> WarmKernel:
        if self.km is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _peak_rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@functools.lru_cache(maxsize=1)
def _register_warm_engine() -> None:
    """Register the ``svtools-warm`` papermill engine (lazily: kernels import this module without papermill)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import remove_args

    class WarmEngine(NBClientEngine):
        """papermill engine running on an already started :class:`WarmKernel` (``warm_kernel=...``)."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            warm: WarmKernel = kwargs.pop("warm_kernel")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            warm.last_nb = nb_man.nb
            client = PapermillNotebookClient(
                nb_man, km=warm.km, timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logging.getLogger("papermill"), log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.kc = warm.kc  # reuse the kernel's client: no new channels per notebook
            return client.execute()

    papermill_engines.register("svtools-warm", WarmEngine)


def execute(notebook: str | Path, parameters: Mapping[str, Any], *, kernel: WarmKernel | None = None,
            kernel_name: str | None = None, timeout: float | None = 600, output_path: str | Path | None = None,
            start_timeout: float = 120):
    """Execute a notebook with papermill and return the executed notebook.

    Parameters
    ----------
    notebook : path
        The template.
    parameters : mapping
        Converted with :func:`plain_params` before injection.
    kernel : WarmKernel, optional
        Run on this already started kernel (call ``kernel.reset(...)`` first). Without it a fresh kernel is
        started and stopped, as ``papermill`` does.
    timeout : float, optional
        Seconds allowed per cell (``None``: no limit).
    output_path : path, optional
        Also write the executed notebook here (also when a cell fails).

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; its ``ename``, ``evalue`` and ``cell_index`` say which.
    nbclient.exceptions.DeadKernelError, nbclient.exceptions.CellTimeoutError, ...
        The kernel died or a cell ran out of time (the kernel must then be restarted).
    """
    import papermill as pm

    kw: dict[str, Any] = dict(
        parameters=plain_params(parameters), progress_bar=False, log_output=False,
        request_save_on_cell_execute=output_path is not None, execution_timeout=timeout,
        start_timeout=start_timeout,
    )
    out = None if output_path is None else str(output_path)
    if kernel is not None:
        _register_warm_engine()
        if kernel.km is None:
            kernel.start()
        return pm.execute_notebook(str(notebook), out, kernel_name=kernel.kernel_name, engine_name="svtools-warm",
                                   warm_kernel=kernel, **kw)
    return pm.execute_notebook(str(notebook), out, kernel_name=kernel_name or default_kernel_name(), **kw)



# --------------------------------------------------------------------------- HTML
_OBJECT_REPR = re.compile(r"^<[\w.]+( object)? at 0x[0-9a-f]+>$|^<Figure size [^>]*>$|^<(matplotlib|seaborn)[^>]*>$")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_DROP_MIME = ("application/javascript", "application/vnd.jupyter.widget-view+json", "text/latex")


def prepare_for_html(nb):
    """The notebook as partners should see it (modified in place and returned).

    Removes stderr streams (warnings), error outputs, bare object reprs (``<Figure size ...>``), scripts and
    widgets, the parameters and injected-parameters cells, cells tagged ``remove_cell`` and code cells left with
    no output. Raises :class:`TemplateError` when an image has no alt text (use :func:`svtools.publish.output.show`).
    """
    cells = []
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags") or [])
        if tags & {"remove_cell", "parameters", "injected-parameters"}:
            continue
        if cell.cell_type == "code":
            kept = []
            for out in cell.get("outputs", []):
                kind = out.get("output_type")
                if kind == "error" or (kind == "stream" and out.get("name") != "stdout"):
                    continue
                if kind in ("display_data", "execute_result"):
                    data = {k: v for k, v in out.get("data", {}).items() if k not in _DROP_MIME}
                    if not data:
                        continue
                    if set(data) == {"text/plain"} and _OBJECT_REPR.match(str(data["text/plain"]).strip()):
                        continue
                    for mime in _IMAGE_TYPES:
                        if mime in data:
                            alt = (out.get("metadata", {}).get(mime) or {}).get("alt")
                            if not alt or not str(alt).strip():
                                raise TemplateError(f"cell {index} displays an image without alt text: use "
                                                    "svtools.publish.output.show(fig, alt=...)")
                    out["data"] = data
                if kind == "stream" and not str(out.get("text", "")).strip():
                    continue
                kept.append(out)
            if not kept:
                continue
            cell["outputs"] = kept
        elif cell.cell_type == "raw" and "remove_cell" not in tags:
            if (cell.get("metadata", {}).get("raw_mimetype") or "").lower() != "text/html":
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


@functools.lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=PAGE_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES)],
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        require_js_url="",
        mathjax_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        jupyter_widgets_base_url="",
        widget_renderer_url="",
        embed_images=True,
    )


def prepare() -> None:
    """Import and set up papermill and nbconvert now (a build worker does it while its kernel boots)."""
    _register_warm_engine()
    _exporter()


@functools.lru_cache(maxsize=1)
def _jinja():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.ChainableUndefined, trim_blocks=False)


@functools.lru_cache(maxsize=1)
def css() -> str:
    """The one stylesheet, inlined into every page."""
    return (TEMPLATES / "style.css").read_text(encoding="utf-8")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _complete(context: Mapping[str, Any], title: str) -> dict[str, Any]:
    ctx = dict(context)
    ctx.setdefault("project_title", config.settings()["project_title"])
    ctx.setdefault("versions", package_versions())
    ctx.setdefault("git_revision", git_revision())
    ctx.setdefault("synthetic", False)
    ctx["css"] = css()
    ctx["title"] = title
    ctx.setdefault("generated_at", _now())
    return ctx


def to_html(executed_nb, title: str, context: Mapping[str, Any]) -> str:
    """Render an executed notebook as a self-contained page without code.

    Parameters
    ----------
    executed_nb : nbformat.NotebookNode
        Not modified (a copy is prepared with :func:`prepare_for_html`).
    title : str
        The page title: ``<title>``, ``metadata.title`` and the page's only ``<h1>``.
    context : mapping
        From :func:`page_context`: area, force, period, definition, sources, synthetic flag, parameters,
        data vintage, versions and the relative link to the run's index.
    """
    nb = prepare_for_html(copy.deepcopy(executed_nb))
    nb.metadata["title"] = title
    ctx = _complete(context, title)
    body, _ = _exporter().from_notebook_node(nb, resources={"svtools": ctx, "metadata": {"name": title}})
    from svtools.publish.anchors import add_heading_ids

    return add_heading_ids(body)  # section headings get ids, so a key finding can link to its section


def render_page(template: str, context: Mapping[str, Any], title: str) -> str:
    """Render one of the non-notebook pages (``run_index.html.j2``, ``error_page.html.j2``)."""
    return _jinja().get_template(template).render(ctx=_complete(context, title))


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_html(context: Mapping[str, Any], title: str, ename: str, evalue: str, cell: int | None = None,
               notebook: str = "", job_id: str = "", analyst_folder: str = "") -> str:
    """The page shown in place of a failed one: the error's name and message only (never a traceback).

    ``analyst_folder`` is the run's analysts' folder as a relative path (``outputs/_analyst/<run-id>``), where
    the executed notebook of the failed job is kept; the page names it but never links to it.
    """
    message = _ANSI.sub("", str(evalue or "")).strip().splitlines()
    message = message[0] if message else ""
    if len(message) > 300:
        message = message[:297] + "..."
    ctx = {**context, "ename": ename, "evalue": message, "cell": cell, "notebook": notebook, "job_id": job_id,
           "analyst_folder": analyst_folder}
    return render_page("error_page.html.j2", ctx, title)


# --------------------------------------------------------------------------- page context
@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of svtools, Python and the packages that shape the pages."""
    out = {"svtools": __version__, "python": ".".join(map(str, sys.version_info[:3]))}
    for name in ("pandas", "numpy", "pyarrow", "matplotlib", "seaborn", "scipy", "statsmodels", "papermill",
                 "nbclient", "nbconvert", "nbformat", "ipykernel", "jupyter_client"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


@functools.lru_cache(maxsize=1)
def git_revision() -> str:
    """Short git revision of the repository, with ``-dirty`` when code, config or notebooks have local changes."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "svtools", "config",
                                "notebooks"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


period_label = provenance.period_label


def run_context(dataset: str = "demo", definition: str | None = None) -> dict[str, Any]:
    """The page context shared by every page of a run (computed once by the build)."""
    from svtools.ingest.store import dataset_info
    from svtools.ingest.definitions import load_definition

    info = dataset_info(dataset)
    ctx: dict[str, Any] = {
        "project_title": config.settings()["project_title"],
        "synthetic": bool(info.get("synthetic")),
        "dataset": dataset,
        "dataset_period_start": info.get("period_start"),
        "dataset_period_end": info.get("period_end"),
        "sources": [provenance.plain_words(s) for s in info.get("sources", [])],
        **provenance.dataset_facts(dataset, info),
        "data": provenance.data_vintage(info),
        "versions": package_versions(),
        "git_revision": git_revision(),
    }
    if definition and info.get("schema") == "police_uk":  # no offence codes, no knife flag: no definition
        ctx["definition"] = {
            "name": None,
            "title": ("Every crime of three data.police.uk crime types: violence and sexual offences, robbery, "
                      "possession of weapons (no local definition of serious violence applies)"),
            "description": ("A local definition of serious violence needs Home Office offence codes and the knife "
                            "flag, which data.police.uk does not publish. These pages count every crime recorded "
                            "under three of its broad crime types instead: violence and sexual offences (which "
                            "includes common assault, harassment and stalking as well as serious violence), "
                            "robbery and possession of weapons. They are not serious violence as the Home Office "
                            "success measures count it, and not comparable with them."),
            "source": "data.police.uk street-level crime, crime type field"}
    elif definition:
        from svtools.ingest.definitions import definition_for

        # a count table has its own definitions (categories, not offence codes): the one the pages use
        d = definition_for(definition, dataset) if info.get("schema") == "counts" else load_definition(definition)
        ctx["definition"] = {"name": d.name, "title": d.title, "description": d.description, "source": d.source}
    return ctx


def page_context(parameters: Mapping[str, Any], title: str, *, base: Mapping[str, Any] | None = None,
                 area_name: str | None = None, area_kind: str | None = None, force_name: str | None = None,
                 index_href: str | None = None) -> dict[str, Any]:
    """Everything the page template shows around a notebook's output.

    ``parameters`` are the notebook's (``csp_code``/``pfa_code``, ``dataset``, ``definition``,
    ``period_end``); names not given are looked up in the processed data.
    """
    from svtools.ingest.store import area_name as lookup_name
    from svtools.ingest.store import load_table

    params = plain_params(parameters)
    dataset = params.get("dataset", "demo")
    ctx = dict(base or run_context(dataset, params.get("definition")))
    code = params.get("csp_code") or params.get("pfa_code")
    if code and (area_name is None or (force_name is None and "csp_code" in params)):
        areas = load_table("areas", dataset)
        area_name = area_name or lookup_name(code, dataset)
        if "csp_code" in params and force_name is None:
            hit = areas.loc[areas["csp_code"] == code, "pfa_name"]
            force_name = str(hit.iloc[0]) if len(hit) else None
    if area_kind is None:
        area_kind = ("Community Safety Partnership" if "csp_code" in params
                     else "Police force area" if "pfa_code" in params else "Area")
    start = ctx.get("dataset_period_start")
    end = params.get("period_end") or ctx.get("dataset_period_end")
    shown = dict(params)
    if "definition" in shown and (ctx.get("definition") or {}).get("name", shown["definition"]) is None:
        # the page does not use the definition it was run with (data.police.uk: no offence codes or knife
        # flag): the parameters table must not name it as if it applied
        del shown["definition"]
    ctx.update(
        title=title, area_name=area_name, area_code=code, area_kind=area_kind,
        force_name=None if "pfa_code" in params else force_name,
        period=period_label(start, end) if start and end else None,
        parameters=shown, index_href=index_href,
    )
    return ctx


# --------------------------------------------------------------------------- narrative
def say(text: str) -> None:
    """Display ``text`` (markdown) as part of the page's narrative."""
    from IPython.display import Markdown, display

    display(Markdown(text))

