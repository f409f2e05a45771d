"""Pre-publish validation of a build run (ScotPHO-style): ``validate_run(run_dir) -> list[Problem]``.

Run at the end of every build (:func:`svtools.publish.batch.run_build` calls :func:`validate_build`, which
records the outcome in both manifests, ``validation:``, and on the run index, and stops the build with a non-zero
exit naming the file and the check when one fails) and on its own by ``svtools validate [RUN]``.

The checks (:data:`CHECKS`):

``disclosure``
    The hand-over gate passes: the same check ``svtools publish`` runs (:func:`svtools.publish.bundle.plan_bundle`
    and :func:`~svtools.publish.bundle.check_bundle`: every CSV again with the rule the build recorded for it,
    no record-level columns, no machine paths, no unrecorded CSV, every link inside the run). Not re-implemented
    here.
``area_codes``
    No orphan area code: every GSS code (``E22000027``: a letter and eight digits) in any cell of any published
    CSV is one of the dataset's areas (its ``areas`` table: CSPs, forces and every other code it holds; its
    ``lsoa`` table's neighbourhoods), a real 2024 CSP, council or force of England and Wales (the reference
    lookup ``lookups/lad24_csp24_pfa24_ew.csv``: a most-similar neighbour outside the data) or England and Wales
    (``K04000001``), England or Wales.
``metadata``
    Every indicator shown has metadata. With ``config/indicators.yaml``: every value of an ``indicator`` column
    of a published CSV is an indicator id there with a definition (``label`` and ``numerator``), a ``source``
    and a ``polarity``. Always: every CSV of a page is recorded in the manifest with a caption, and every chart's
    data with its ``section``; the run's manifest names its data source.
``period``
    The latest period is the same on every page: the period each page states (``<dt>Period</dt>``) is the run's
    (the dataset's start to the run's ``period_end``), and no ``period_end`` in a published CSV is later than the
    run's.
``chart_data``
    Every chart has its data: each ``<img>`` of a page is followed by a ``chart-data`` link to a CSV beside the
    page that the manifest records as ``kind: chart`` (:func:`svtools.publish.output.show`). Reported, but not in
    :data:`BLOCKING`: it does not stop a build.

A :class:`Problem` names the check, the file (relative to the run folder) and what is wrong.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from svtools.errors import SvtoolsError

__all__ = ["CHECKS", "BLOCKING", "Problem", "ValidationError", "validate_run", "blocking", "summary", "record",
           "validate_build", "chart_links"]

#: The checks, in the order they run.
CHECKS = ("disclosure", "area_codes", "metadata", "period", "chart_data")
#: The checks whose failure stops a build. ``chart_data`` is reported (manifest, index, ``svtools validate``) but
#: does not stop it: a chart shown without its data is a fault of the page's code, which
#: ``tests/test_chart_data.py`` fails on; it discloses nothing.
BLOCKING = ("disclosure", "area_codes", "metadata", "period")
#: A GSS area code as it appears in a cell (CSP E22/W15, force E23/W14, LSOA E01/W01, LAD, country ...).
GSS_CODE = re.compile(r"[EWSNK]\d{8}")
#: Codes above the dataset's areas that a page may name: England and Wales, England, Wales.
NATIONAL_CODES = frozenset({"K04000001", "E92000001", "W92000004"})
_PAGE = "index.html"
_PERIOD = re.compile(r"<dt>\s*Period\s*</dt>\s*<dd>(.*?)</dd>", re.S)
_MACHINE = re.compile(r"(?<![\w.~-])(/home/|/tmp/|/work/|/root/|/Users/|/var/folders/)\S*")


class ValidationError(SvtoolsError):
    """A run failed a pre-publish check (the message names each file and check)."""


@dataclass(frozen=True)
class Problem:
    """One failed check: ``check`` (one of :data:`CHECKS`), ``file`` (relative to the run folder) and ``message``."""

    check: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.check}: {self.message}"


# --------------------------------------------------------------------------- reading a run
def _manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{run_dir}/manifest.json: not a readable run manifest ({exc})") from None


def _jobs(manifest: dict) -> list[dict]:
    return [j for j in manifest.get("jobs") or [] if j.get("page") and j.get("status") != "skipped"]


def _tables(manifest: dict) -> list[tuple[str, dict]]:
    """(relative path, disclosure record) of every CSV the manifest records."""
    out = []
    for job in _jobs(manifest):
        folder = Path(job["page"]).parent
        for t in job.get("tables") or []:
            out.append(((folder / t["file"]).as_posix(), t))
    return out


def _dataset(manifest: dict) -> str | None:
    return (manifest.get("dataset") or {}).get("dataset") or (manifest.get("parameters") or {}).get("dataset")


_MEMO: dict | None = None  # set by validate_run: each CSV and page is read (and parsed) once, gate included


def _read_csv(path: Path):
    from svtools.publish.bundle import read_table

    return read_table(path, _MEMO)


def _page_scan(path: Path):
    from svtools.publish.bundle import page_scan

    return page_scan(path, _MEMO)


# --------------------------------------------------------------------------- the checks
def _check_disclosure(run_dir: Path, manifest: dict) -> list[Problem]:
    """The gate ``svtools publish`` runs (plan and check of the bundle), as it is: one problem for its failure."""
    from svtools.publish.bundle import BundleError, check_bundle, plan_bundle

    try:
        check_bundle(plan_bundle(run_dir, allow_partial=True), cache=_MEMO)
    except BundleError as exc:
        text = str(exc)
        run_id = str(manifest.get("run_id") or run_dir.name)
        hit = re.search(re.escape(run_id) + r"/(\S+?\.(?:csv|html))", text) or re.search(r"(\S+?\.(?:csv|html))", text)
        return [Problem("disclosure", hit.group(1) if hit else "manifest.json", text)]
    return []


def _known_codes(dataset: str) -> set[str]:
    import pandas as pd

    from svtools.ingest.store import TABLES, dataset_dir, load_table

    codes = set(NATIONAL_CODES)
    # every real 2024 CSP, council and force of England and Wales (the reference lookup): a page may name a CSP
    # that is not in the data, e.g. a most-similar neighbour; a code that is no real area is still an orphan
    from svtools.ingest.reference import lad24_csp_pfa

    for col in ("lad24_code", "csp_code", "pfa_code"):
        codes.update(lad24_csp_pfa()[col].dropna().astype(str))
    for name in ("areas", "lsoa"):
        if name not in TABLES or not (dataset_dir(dataset) / f"{name}.parquet").is_file():
            continue
        table = load_table(name, dataset)
        for col in table.columns:
            if pd.api.types.is_numeric_dtype(table[col]) or pd.api.types.is_bool_dtype(table[col]):
                continue
            for v in table[col].dropna().astype(str).unique():
                codes.update(GSS_CODE.findall(v))  # one code, or a list such as lad_codes
    return codes


def _check_area_codes(run_dir: Path, manifest: dict) -> list[Problem]:
    dataset = _dataset(manifest)
    if not dataset:
        return [Problem("area_codes", "manifest.json", "the manifest names no dataset, so area codes cannot be checked")]
    try:
        known = _known_codes(dataset)
    except SvtoolsError as exc:
        return [Problem("area_codes", "manifest.json", f"the areas of dataset '{dataset}' cannot be read ({exc})")]
    if len(known) <= len(NATIONAL_CODES):
        return [Problem("area_codes", "manifest.json", f"dataset '{dataset}' has no areas table to check codes against")]
    problems = []
    for rel, _ in _tables(manifest):
        path = run_dir / rel
        if not path.is_file():
            continue  # the disclosure check names missing files
        frame = _read_csv(path)
        orphans: dict[str, str] = {}
        for col in frame.columns:
            for v in frame[col].unique():
                v = str(v).strip()
                if GSS_CODE.fullmatch(v) and v not in known:
                    orphans.setdefault(v, str(col))
        if orphans:
            shown = ", ".join(f"{c} (column {k})" for c, k in list(orphans.items())[:5])
            problems.append(Problem("area_codes", rel, f"{len(orphans)} area code(s) not in the '{dataset}' areas "
                                                       f"table nor England and Wales: {shown}"))
    return problems


def _indicators_config() -> dict | None:
    """``config/indicators.yaml`` as ``{id: entry}``, or None when the file does not exist."""
    from svtools.config import read_yaml
    from svtools.paths import CONFIG

    path = CONFIG / "indicators.yaml"
    if not path.is_file():
        return None
    doc = read_yaml(path) or {}
    entries = doc.get("indicators") or []
    return {str(e.get("id")): e for e in entries if isinstance(e, dict) and e.get("id")}


def _missing_metadata(entry: dict) -> list[str]:
    need = {"definition (label and numerator)": bool(entry.get("label")) and bool(entry.get("numerator")),
            "source": bool(str(entry.get("source") or "").strip()),
            "polarity": bool(str(entry.get("polarity") or "").strip())}
    return [k for k, ok in need.items() if not ok]


def _check_metadata(run_dir: Path, manifest: dict, indicators: dict | None = None) -> list[Problem]:
    problems = []
    if not ((manifest.get("dataset") or {}).get("source") or (manifest.get("dataset") or {}).get("sources")):
        problems.append(Problem("metadata", "manifest.json", "the run's manifest names no data source"))
    indicators = _indicators_config() if indicators is None else indicators
    for job in _jobs(manifest):
        folder = Path(job["page"]).parent
        recorded = {t["file"]: t for t in job.get("tables") or []}
        for name in job.get("files") or []:
            if name.endswith(".csv") and name not in recorded:
                problems.append(Problem("metadata", (folder / name).as_posix(),
                                        "a CSV of the page with no record (caption, disclosure rule) in the manifest"))
        for name, t in recorded.items():
            rel = (folder / name).as_posix()
            if not str(t.get("caption") or "").strip():
                problems.append(Problem("metadata", rel, "recorded with no caption (what the table shows)"))
            if t.get("kind") == "chart" and not t.get("section"):
                problems.append(Problem("metadata", rel, "a chart's data recorded with no section"))
            if indicators is None:
                continue
            path = run_dir / rel
            if not path.is_file():
                continue
            frame = _read_csv(path)
            col = next((c for c in ("indicator", "indicator_id") if c in frame.columns), None)
            if col is None:
                continue
            for ind in sorted({str(v) for v in frame[col] if str(v).strip()}):
                if ind not in indicators:
                    problems.append(Problem("metadata", rel, f"indicator '{ind}' has no entry in config/indicators.yaml"))
                    continue
                missing = _missing_metadata(indicators[ind])
                if missing:
                    problems.append(Problem("metadata", rel, f"indicator '{ind}' has no {', '.join(missing)} in "
                                                             "config/indicators.yaml"))
    return problems


def run_period(manifest: dict) -> tuple[str, str] | None:
    """(first month, last month) of the run as ``YYYY-MM``: the dataset's start to the run's ``period_end``."""
    import pandas as pd

    info = manifest.get("dataset") or {}
    start = info.get("period_start")
    end = (manifest.get("parameters") or {}).get("period_end") or info.get("period_end")
    if not start or not end:
        return None
    return f"{pd.Timestamp(start):%Y-%m}", f"{pd.Timestamp(end):%Y-%m}"


def _check_period(run_dir: Path, manifest: dict) -> list[Problem]:
    from svtools.publish.provenance import period_label

    span = run_period(manifest)
    if span is None:
        return [Problem("period", "manifest.json", "the manifest gives no period (dataset start, period end)")]
    label = period_label(f"{span[0]}-01", f"{span[1]}-01")
    problems = []
    for job in _jobs(manifest):
        if job.get("status") == "failed":
            continue  # an error page states no period; the failure is on record already
        page = run_dir / job["page"]
        if not page.is_file():
            continue
        stated = [html.unescape(" ".join(m.split())) for m in _PERIOD.findall(page.read_text(encoding="utf-8"))]
        if not stated:
            problems.append(Problem("period", job["page"], f"the page states no period (the run's is {label})"))
        for s in sorted(set(stated) - {label}):
            problems.append(Problem("period", job["page"], f"the page states the period '{s}', the run's is '{label}'"))
    for rel, _ in _tables(manifest):
        path = run_dir / rel
        if not path.is_file():
            continue
        frame = _read_csv(path)
        if "period_end" in frame.columns:
            late = sorted({v for v in frame["period_end"] if re.fullmatch(r"\d{4}-\d{2}", str(v)) and str(v) > span[1]})
            if late:
                problems.append(Problem("period", rel, f"period_end {late[-1]} is after the run's period end {span[1]}"))
    return problems


def chart_links(page_html: str) -> list[tuple[str, str | None]]:
    """(alt text, CSV link or None) of every ``<img>`` of a page: the ``chart-data`` link that follows it before
    the next image.

    A streaming parse (:func:`svtools.publish.bundle.scan_page`, no document tree; the same parse gives the
    gate the page's links): the check reads every page of a national run (1,343 pages), where building a
    BeautifulSoup tree of each cost about 30 ms a page.
    """
    from svtools.publish.bundle import scan_page

    return scan_page(page_html).charts


def _check_chart_data(run_dir: Path, manifest: dict) -> list[Problem]:
    problems = []
    for job in _jobs(manifest):
        page = run_dir / job["page"]
        if job.get("status") == "failed" or not page.is_file():
            continue
        charts = {t["file"] for t in job.get("tables") or [] if t.get("kind") == "chart"}
        for k, (alt, href) in enumerate(_page_scan(page).charts, start=1):
            what = f"chart {k} ('{alt[:60]}')"
            if not href:
                problems.append(Problem("chart_data", job["page"], f"{what} has no link to the data behind it"))
            elif href not in charts or not (page.parent / href).is_file():
                problems.append(Problem("chart_data", job["page"], f"{what} links to {href}, which is not a "
                                                                   "chart's data recorded in the manifest"))
    return problems


# --------------------------------------------------------------------------- the run
def validate_run(run_dir: str | Path, checks: tuple[str, ...] = CHECKS) -> list[Problem]:
    """Every pre-publish check of the run in ``run_dir`` (its published folder); the problems found (none: passed).

    Parameters
    ----------
    run_dir : path
        A run's published folder (``outputs/<run-id>/``, with its ``manifest.json``).
    checks : tuple of str
        Which of :data:`CHECKS` to run (default all).

    Returns
    -------
    list of Problem
        In the order of :data:`CHECKS`, then of the files.
    """
    run_dir = Path(run_dir)
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    manifest = _manifest(run_dir)
    run = {"disclosure": _check_disclosure, "area_codes": _check_area_codes, "metadata": _check_metadata,
           "period": _check_period, "chart_data": _check_chart_data}
    global _MEMO
    problems: list[Problem] = []
    _MEMO = {}
    try:
        for name in CHECKS:
            if name in checks:
                problems.extend(run[name](run_dir, manifest))
    finally:
        _MEMO = None
    return problems


def blocking(problems: list[Problem]) -> list[Problem]:
    """The problems that stop a build (checks in :data:`BLOCKING`)."""
    return [p for p in problems if p.check in BLOCKING]


def summary(problems: list[Problem]) -> dict:
    """The ``validation:`` block of a manifest: ``passed`` (no problem of a :data:`BLOCKING` check), the
    ``checks`` run and each problem, with whether it stops the build."""
    return {"passed": not blocking(problems), "checks": list(CHECKS),
            "problems": [{**asdict(p), "message": _MACHINE.sub("<path>", p.message),
                          "blocking": p.check in BLOCKING} for p in problems]}


def _items(problems: list[Problem]) -> str:
    return "".join(f"<li>{html.escape(p.file)}: <strong>{html.escape(p.check)}</strong>: "
                   f"{html.escape(_MACHINE.sub('<path>', p.message))}</li>" for p in problems)


def _index_block(problems: list[Problem]) -> str:
    names = ", ".join(c.replace("_", " ") for c in CHECKS)
    stop, other = blocking(problems), [p for p in problems if p.check not in BLOCKING]
    notes = (f'<p>Charts shown without the data behind them ({len(other)}):</p><ul>{_items(other)}</ul>'
             if other else "")
    if not stop:
        return (f'<div class="validation" id="validation" role="status"><p>Pre-publish checks passed: '
                f'{html.escape(names)}.</p>{notes}</div>')
    return ('<div class="status-failed" role="alert" id="validation"><h2 id="validation-failed">Pre-publish checks '
            f'that failed</h2><p>Do not publish this run: {len(stop)} problem(s) were found by the checks '
            f'({html.escape(names)}).</p><ul>{_items(stop)}</ul>{notes}</div>')


def record(run_dir: str | Path, problems: list[Problem], analyst_dir: str | Path | None = None,
           manifest: dict | None = None) -> dict:
    """Write the outcome into the run's ``manifest.json`` (and the analysts' copy, and ``manifest``, the build's
    own dict of it) as ``validation:`` and onto its ``index.html`` (after the run's facts). Returns the
    ``validation`` block."""
    block = summary(problems)
    if manifest is not None:
        manifest["validation"] = block
    for folder in [Path(run_dir)] + ([Path(analyst_dir)] if analyst_dir else []):
        path = folder / "manifest.json"
        if path.is_file():
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest["validation"] = block
            path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    index = Path(run_dir) / _PAGE
    if index.is_file():
        text = re.sub(r'<div class="[^"]*" id="validation".*?</div>', "", index.read_text(encoding="utf-8"),
                      flags=re.S)
        cut = text.find("</dl>")
        at = cut + len("</dl>") if cut >= 0 else text.find("</body>")
        text = text[:at] + "\n" + _index_block(problems) + text[at:] if at >= 0 else text + _index_block(problems)
        index.write_text(text, encoding="utf-8")
    return block


def validate_build(run_dir: str | Path, analyst_dir: str | Path | None = None,
                   manifest: dict | None = None) -> list[Problem]:
    """The build's last step: validate the run, record the outcome, and raise :class:`ValidationError` naming
    each file and check when a :data:`BLOCKING` check fails (the run is left in ``run_dir``, unpublished). Other
    problems (a chart without its data) are recorded and printed, and returned."""
    import sys

    problems = validate_run(run_dir)
    record(run_dir, problems, analyst_dir, manifest)
    stop = blocking(problems)
    if stop:
        listed = "; ".join(str(p) for p in stop[:10]) + (f"; and {len(stop) - 10} more" if len(stop) > 10 else "")
        raise ValidationError(f"pre-publish validation failed for {Path(run_dir)} ({len(stop)} problem(s), "
                              f"recorded in its manifest.json and index.html): {listed}")
    for p in problems:
        print(f"validate: {p}", file=sys.stderr)
    return problems
