"""What a partner may get from a run: ``svtools publish [RUN] --to DIR | --zip FILE``.

A run's published folder (``outputs/<run-id>/``) already holds only partner-facing files, but it is a working
folder: a later build, a stray file or an edit can add to it. A **bundle** is made from a list, not by copying
the folder: the run's ``index.html``, each page of the run's manifest (its ``index.html``) and the CSV downloads
the manifest records for that page with their disclosure check, plus a plain ``manifest.json`` (run, dataset,
definition, period, when it was made, the svtools version and git revision, and every file with its sha256 and
size; no machine paths, no timings, no input hashes). Anything else in the folder (an ``.ipynb``, a log, a
hidden sidecar such as ``.svtools-tables.json``, an unrecorded CSV) is left out, and an unrecorded CSV in a page
folder stops the bundle.

Before anything is written, :func:`check_bundle` runs the disclosure gate over the files chosen:

* every CSV is checked again with the rule the build recorded for it (:func:`svtools.publish.output.
  check_publishable` with the recorded count columns and threshold, never below the configured police
  threshold): no count from 1 to the threshold, no record-level column;
* no file holds an absolute path of this machine (the repository, data, outputs, temporary and home folders, or
  anything under ``/home/``, ``/tmp/``, ``/work/``, ``/root/``, ``/Users/``);
* no notebook, nor any file type other than HTML, CSV and the manifest;
* every relative link and image of every page resolves to a file inside the bundle (no ``file:`` or ``/`` links).

A failure raises :class:`BundleError` naming the file; nothing is written. A partial run (``--csp``, ``--force``
or ``--notebook``) is refused unless ``allow_partial``. ``--zip`` writes a deterministic archive: names sorted,
one fixed timestamp, fixed permissions, so two bundles of the same run are the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from svtools.errors import SvtoolsError

__all__ = ["BundleError", "Bundle", "resolve_run", "plan_bundle", "check_bundle", "write_dir", "write_zip",
           "publish", "PageScan", "scan_page", "page_scan", "read_table"]

_PAGE = "index.html"
MANIFEST = "manifest.json"
#: File types a bundle may hold.
ALLOWED_SUFFIXES = (".html", ".csv")
#: Absolute folders that never belong in a published file, whatever machine built it.
MACHINE_PATTERN = re.compile(r"(?<![\w.~-])(/home/|/tmp/|/work/|/root/|/Users/|/var/folders/|[A-Za-z]:\\Users\\)")
#: Literal folders of :data:`MACHINE_PATTERN`: it cannot match a text holding none of them.
_MACHINE_LITERALS = ("/home/", "/tmp/", "/work/", "/root/", "/Users/", "/var/folders/", ":\\Users\\")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
#: The fixed timestamp of every zip entry (the earliest a zip can hold).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BundleError(SvtoolsError):
    """A run cannot be published as it is (a file fails the gate, or the run is partial)."""


@dataclass
class Bundle:
    """The files of a bundle (relative posix path -> source file) and its plain manifest."""

    run_dir: Path
    run_id: str
    files: dict[str, Path]
    tables: dict[str, dict] = field(default_factory=dict)  # CSV path -> its disclosure record
    manifest: dict = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)  # files of the run folder not in the bundle

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")

    def names(self) -> list[str]:
        """Every name in the bundle, sorted (the manifest included)."""
        return sorted([*self.files, MANIFEST])

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values()) + len(self.manifest_bytes())


# --------------------------------------------------------------------------- choosing the files
def resolve_run(run: str | Path | None = None, out: str | Path | None = None) -> Path:
    """The published folder of ``run``: a path, a run id (or ``latest``, ``latest-<dataset>``) in ``out``."""
    from svtools.paths import outputs_dir

    out = Path(out or outputs_dir())
    name = str(run or "latest")
    candidates = [Path(name)] if ("/" in name or Path(name).is_dir()) else []
    candidates.append(out / name)
    for c in candidates:
        if (c / MANIFEST).is_file():
            return c.resolve()
    where = ", ".join(str(c) for c in candidates)
    if name.startswith("latest"):
        raise BundleError(f"no run at {where}: build a full run first (svtools build), or name a run")
    raise BundleError(f"no run '{name}' (looked for {where}/{MANIFEST})")


def _scope(manifest: dict) -> str:
    if manifest.get("scope"):
        return str(manifest["scope"])
    params = manifest.get("parameters") or {}  # runs made before the scope was recorded
    return "partial" if any(params.get(k) for k in ("notebooks", "csps", "forces")) else "full"


def _threshold(table: dict) -> int:
    """The threshold a table was published with: its own and its gate families', never below the police one."""
    from svtools import config

    found = [int(table.get("threshold") or 0), config.disclosure_threshold("police")]
    gate = table.get("gate") or {}
    for fam in [gate, *(gate.get("families") or [])]:
        if isinstance(fam, dict) and fam.get("threshold") is not None:
            found.append(int(fam["threshold"]))
    return max(found)


def plan_bundle(run_dir: str | Path, allow_partial: bool = False) -> Bundle:
    """The files a partner may get from the run in ``run_dir`` and the bundle's plain manifest (nothing checked
    or written yet; see :func:`check_bundle`)."""
    run_dir = Path(run_dir)
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{run_dir / MANIFEST}: not a readable run manifest ({exc})") from None
    run_id = str(manifest.get("run_id") or run_dir.name)
    scope = _scope(manifest)
    if scope == "partial" and not allow_partial:
        what = manifest.get("pages")
        full = manifest.get("full_run_pages")
        size = f" ({what} of the {full} pages a full run builds)" if what and full else ""
        raise BundleError(f"run {run_id} is a partial run{size}: publish a full run (outputs/latest) or add "
                          "--allow-partial")
    files: dict[str, Path] = {_PAGE: run_dir / _PAGE}
    tables: dict[str, dict] = {}
    pages = []
    for job in manifest.get("jobs") or []:
        page = job.get("page")
        if not page or job.get("status") == "skipped":
            continue
        pages.append(job)
        files[page] = run_dir / page
        folder = Path(page).parent
        for t in job.get("tables") or []:
            rel = (folder / t["file"]).as_posix()
            files[rel] = run_dir / rel
            tables[rel] = t
    missing = sorted(rel for rel, p in files.items() if not p.is_file())
    if missing:
        raise BundleError(f"run {run_id}: {len(missing)} file(s) the manifest lists are missing, e.g. {missing[0]}")
    page_dirs = {Path(j["page"]).parent.as_posix() for j in pages}
    left_out = []
    for p in sorted(run_dir.rglob("*")):
        if not p.is_file() and not p.is_symlink():
            continue
        rel = p.relative_to(run_dir).as_posix()
        if rel in files or rel == MANIFEST:
            continue
        if p.suffix == ".csv" and Path(rel).parent.as_posix() in page_dirs:
            raise BundleError(f"{rel}: a CSV with no disclosure check on record in {run_id}/{MANIFEST}; "
                              "rebuild the page (svtools build) rather than adding files to a run")
        left_out.append(rel)

    from svtools.publish import render

    info = manifest.get("dataset") or {}
    params = manifest.get("parameters") or {}
    definition = manifest.get("definition") or {"name": params.get("definition"), "title": None}
    # a run of several definitions records a list of {name, title}; one definition, a single {name, title}
    definition = [_titled(d) for d in definition] if isinstance(definition, list) else _titled(definition)
    start, end = info.get("period_start"), params.get("period_end") or info.get("period_end")
    plain = {
        "run_id": run_id,
        "scope": scope,
        **({"filter": manifest.get("filter") or {k: params.get(k) for k in ("notebooks", "csps", "forces")
                                                 if params.get(k)}} if scope == "partial" else {}),
        "dataset": info.get("dataset") or params.get("dataset"),
        "synthetic": bool(info.get("synthetic")),
        "definition": definition,
        "period": {"start": start, "end": end,
                   "label": render.period_label(start, end) if start and end else None},
        "generated_at": manifest.get("finished_at"),
        "svtools_version": (manifest.get("versions") or {}).get("svtools") or info.get("svtools_version"),
        "git_revision": manifest.get("git_revision"),
        "pages": len(pages),
        "files": [],
    }
    bundle = Bundle(run_dir=run_dir, run_id=run_id, files=dict(sorted(files.items())), tables=tables,
                    manifest=plain, left_out=left_out)
    for rel, path in bundle.files.items():
        data = path.read_bytes()
        plain["files"].append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return bundle


# --------------------------------------------------------------------------- the gate
def _machine_roots() -> list[str]:
    from svtools.paths import ROOT, data_dir, outputs_dir

    roots = set()
    for p in (ROOT, data_dir(), outputs_dir(), Path(tempfile.gettempdir()), Path.home()):
        for v in (str(p), str(Path(p).resolve())):
            if len(v) > 1:
                roots.add(v)
    return sorted(roots, key=len, reverse=True)


class PageScan:
    """What the gate and the pre-publish checks read from one page, in one streaming parse.

    ``links``: the ``href`` and ``src`` of every tag, in document order, stripped, empty ones left out: the links
    BeautifulSoup's ``html.parser`` tree gave (the same tokenizer, :class:`html.parser.HTMLParser` with
    ``convert_charrefs=False`` as bs4 runs it; the last of a repeated attribute, as bs4 keeps it), without building
    the tree (about 25 ms a page of a national run). A ``data:`` link (an embedded image, hundreds of KB of
    base64) is kept as ``"data:"``: the gate's verdict on it is the same (an embedded file, never followed).
    ``charts``: (alt text, ``chart-data`` link or None) of every ``<img>``: the ``chart-data`` link that follows it
    before the next image (:func:`svtools.publish.validate.chart_links`).
    """

    __slots__ = ("links", "charts")

    def __init__(self, links: list[str], charts: list[tuple[str, str | None]]):
        self.links = links
        self.charts = charts


def scan_page(html: str) -> PageScan:
    """:class:`PageScan` of the page text ``html``."""
    from html.parser import HTMLParser

    links: list[str] = []
    charts: list[list] = []

    class Scan(HTMLParser):
        waiting = False  # the last image has not met a chart-data link yet

        def handle_starttag(self, tag, attrs):
            a = {}
            for key, value in attrs:  # bs4: None -> "", a repeated attribute keeps its last value
                a[key] = "" if value is None else value
            for attr in ("href", "src"):
                value = a.get(attr)
                if value:
                    value = str(value).strip()
                    links.append("data:" if value[:5].lower() == "data:" else value)
            if tag == "img":
                charts.append([str(a.get("alt") or ""), None])
                self.waiting = True
            elif tag == "a" and self.waiting and "chart-data" in (a.get("class") or "").split():
                charts[-1][1] = a.get("href")
                self.waiting = False

        handle_startendtag = handle_starttag  # bs4: a start tag, then its end

    parser = Scan(convert_charrefs=False)
    parser.feed(html)
    parser.close()
    return PageScan(links, [(alt, href) for alt, href in charts])


def _links(html: str) -> list[str]:
    """The ``href`` and ``src`` of every tag of a page (:class:`PageScan`)."""
    return scan_page(html).links


def page_scan(path: Path, cache: dict | None = None) -> PageScan:
    """:class:`PageScan` of the page at ``path``, read and parsed once per ``cache`` (a dict the caller owns: the
    pre-publish validation shares one with the gate, which fills it as it checks each page)."""
    key = ("page", str(path))
    if cache is not None and key in cache:
        return cache[key]
    scan = scan_page(path.read_text(encoding="utf-8", errors="replace"))
    if cache is not None:
        cache[key] = scan
    return scan


def read_table(path: Path, cache: dict | None = None):
    """A published CSV as the gate reads it (every cell text, nothing read as missing); a copy of the one kept in
    ``cache`` when given (each CSV read once by the gate and every pre-publish check)."""
    import pandas as pd

    if cache is None:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    key = ("csv", str(path))
    if key not in cache:
        cache[key] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return cache[key].copy()


def _check_link(rel: str, link: str, names: set[str]) -> str | None:
    """The problem with one link of the page ``rel``, or None."""
    parts = urlsplit(link)
    if link.startswith("#") or parts.scheme in ("data", "mailto", "http", "https"):
        return None  # in-page, embedded, or a reference the reader may follow (pages load nothing from it)
    if parts.scheme or link.startswith(("/", "\\")) or parts.netloc:
        return f"links outside the bundle ({link})"
    path = unquote(parts.path)
    target = os.path.normpath((Path(rel).parent / path).as_posix()).replace(os.sep, "/")
    if target == ".." or target.startswith("../"):
        return f"links outside the bundle ({link})"
    if target == "." or path.endswith("/"):  # a folder: its index page
        target = _PAGE if target == "." else f"{target}/{_PAGE}"
    if target not in names and f"{target}/{_PAGE}" not in names:
        return f"has a broken link ({link})"
    return None


def _machine_path(text: str) -> re.Match | None:
    """:data:`MACHINE_PATTERN`'s first match in ``text``; the pattern is only run when one of the folders it
    names is in the text at all (a plain substring test, much faster on a page of 50 KB: the same answer)."""
    if not any(literal in text for literal in _MACHINE_LITERALS):
        return None
    return MACHINE_PATTERN.search(text)


def check_bundle(bundle: Bundle, cache: dict | None = None) -> dict[str, int]:
    """Run the disclosure gate over the bundle's files; raise :class:`BundleError` naming the first failure.

    Parameters
    ----------
    bundle : Bundle
        From :func:`plan_bundle`.
    cache : dict, optional
        Each CSV as read and each page's :class:`PageScan` are kept here (:func:`read_table`,
        :func:`page_scan`), for the caller's own checks of the same files (:mod:`svtools.publish.validate`).

    Returns
    -------
    dict
        What was checked: ``csv`` tables, ``pages``, ``links``.
    """
    from svtools.publish.output import DisclosureError, check_publishable

    names = set(bundle.names())
    roots = _machine_roots()
    checked = {"csv": 0, "pages": 0, "links": 0}
    for rel, path in bundle.files.items():
        where = f"{bundle.run_id}/{rel}"
        if path.suffix == ".ipynb" or path.suffix not in ALLOWED_SUFFIXES:
            raise BundleError(f"{where}: a {path.suffix or 'suffix-less'} file may not be published")
        text = path.read_text(encoding="utf-8", errors="replace")
        plain = _DATA_URI.sub("", text)  # embedded images: base64 can spell anything
        for root in roots:
            if root in plain:
                raise BundleError(f"{where}: holds a path of this machine ({root})")
        hit = _machine_path(plain)
        if hit:
            raise BundleError(f"{where}: holds an absolute machine path ({hit.group(0)}...)")
        if path.suffix == ".csv":
            table = bundle.tables[rel]
            frame = read_table(path, cache)
            cols = [c for c in table.get("count_columns") or []]
            absent = [c for c in cols if c not in frame.columns]
            if absent:
                raise BundleError(f"{where}: count column(s) {absent} recorded by the build are not in the file")
            try:
                check_publishable(frame, threshold=_threshold(table), count_columns=cols, what=where)
            except DisclosureError as exc:
                raise BundleError(f"disclosure check failed: {exc}") from None
            checked["csv"] += 1
        else:
            scan = scan_page(text)
            if cache is not None:
                cache[("page", str(path))] = scan
            for link in scan.links:
                problem = _check_link(rel, link, names)
                if problem:
                    raise BundleError(f"{where}: {problem}")
                checked["links"] += 1
            checked["pages"] += 1
    return checked


# --------------------------------------------------------------------------- writing
def write_dir(bundle: Bundle, dest: str | Path) -> Path:
    """Copy the bundle into ``dest`` (new or empty), via a temporary sibling renamed at the end."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BundleError(f"{dest} exists and is not an empty folder: choose a new one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for rel, src in bundle.files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        (tmp / MANIFEST).write_bytes(bundle.manifest_bytes())
        if dest.exists():
            dest.rmdir()
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever machine writes it
    return info


def write_zip(bundle: Bundle, dest: str | Path) -> Path:
    """Write the bundle as one deterministic zip: entries ``<run-id>/<path>``, sorted, fixed time and modes."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name in bundle.names():
                data = bundle.manifest_bytes() if name == MANIFEST else bundle.files[name].read_bytes()
                zf.writestr(_zip_entry(f"{bundle.run_id}/{name}"), data, compresslevel=9)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file to hand over (mkstemp makes it private)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def publish(run: str | Path | None = None, *, to: str | Path | None = None, zip_path: str | Path | None = None,
            allow_partial: bool = False, out: str | Path | None = None) -> tuple[Bundle, Path, dict]:
    """Check a run with the gate and write what a partner may get to a folder (``to``) or a zip (``zip_path``).

    Parameters
    ----------
    run : str or path, optional
        A run id, ``latest`` (default), ``latest-<dataset>`` or the path of a published run folder.
    to, zip_path : path
        Exactly one: a new (or empty) folder, or the zip file to write.
    allow_partial : bool
        Publish a partial run (``--csp``, ``--force`` or ``--notebook``) too.
    out : path, optional
        The outputs folder a run id is looked up in (default ``outputs/`` or ``$SVTOOLS_OUTPUTS``).

    Returns
    -------
    (Bundle, pathlib.Path, dict)
        The bundle, what was written, and what the gate checked.
    """
    if (to is None) == (zip_path is None):
        raise BundleError("give exactly one of --to DIR and --zip FILE")
    run_dir = resolve_run(run, out)
    dest = Path(to if to is not None else zip_path).resolve()
    if dest == run_dir or dest.is_relative_to(run_dir):
        raise BundleError(f"{dest} is inside the run folder {run_dir}: write the bundle somewhere else")
    bundle = plan_bundle(run_dir, allow_partial=allow_partial)
    checked = check_bundle(bundle)
    written = write_dir(bundle, dest) if to is not None else write_zip(bundle, dest)
    return bundle, written, checked


def _titled(definition: dict) -> dict:
    """``{"name", "title"}`` of a run's definition, the title looked up when the manifest has none."""
    definition = dict(definition or {})
    if definition.get("name") and not definition.get("title"):
        try:
            from svtools.ingest.definitions import load_definition

            definition["title"] = load_definition(definition["name"]).title
        except (SvtoolsError, OSError):
            pass
    return {"name": definition.get("name"), "title": definition.get("title")}
