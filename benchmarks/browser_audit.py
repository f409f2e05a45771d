"""Open every page of a published run in headless Chromium, as a partner would, and report what a browser finds.

Each page (every ``*.html`` under the run folder, opened from ``file://``) is loaded at each width (390 CSS px,
a phone, and 1280 px, a laptop) and checked for:

- **accessibility**: axe-core (``tests/browser/node_modules/axe-core``, installed by
  ``npm ci --prefix tests/browser``) with the WCAG 2.0, 2.1 and 2.2 A and AA rules; violations are counted by
  impact (minor, moderate, serious, critical) and by rule id, as affected elements ("nodes");
- **requests leaving the machine**: every request whose URL is not ``file:`` or ``data:`` is aborted and
  recorded (a page handed to a partner must work offline and tell nobody it was opened);
- **horizontal page scroll**: ``document.scrollingElement.scrollWidth > window.innerWidth`` after loading
  (a box that scrolls inside the page is axe's business, the whole page moving sideways is this check's);
- **broken relative links**: every ``a[href]`` and ``img[src]`` that is not ``data:``, ``mailto:``/``tel:``
  or an absolute ``http(s):`` address (``//host/...`` is no exception: from ``file://`` it names a file) must
  resolve to an existing file inside the run folder (a folder is
  broken: ``file://`` shows a listing, not its ``index.html``); a ``#fragment`` must name an ``id`` (or
  ``a[name]``) in its target page. ``file:`` resources that fail to load are broken links too.

The browser is Debian's ``chromium`` (``$SVTOOLS_CHROMIUM``, else ``chromium`` on ``PATH``, else
``/usr/bin/chromium``) driven by playwright's Python API; ``playwright install`` is never needed. One browser
is started, with one context per width, and pages are audited a few at a time (``--concurrency``).

The 390 px context is a plain 390 px viewport, not playwright's ``is_mobile`` emulation: a mobile viewport
zooms out to fit wide content, which would hide the very sideways scrolling this audit looks for.

Usage::

    .venv/bin/python benchmarks/browser_audit.py outputs/latest [--widths 390 1280] [--concurrency 4]
        [--json audit.json] [--screenshots DIR]

prints a summary table (pages; axe counts by impact and by rule at each width; requests blocked; pages with
horizontal scroll; broken links) and exits 1 when the run fails any check ``tests/test_browser.py`` asserts:
a serious or critical axe finding, a request leaving the machine, a page scrolling sideways or a broken link.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: axe-core as installed by ``npm ci --prefix tests/browser`` (pinned in tests/browser/package.json).
AXE_JS = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
#: The widths every page is opened at: a phone (390 CSS px, e.g. iPhone 12-15) and a laptop.
WIDTHS = (390, 1280)
HEIGHTS = {390: 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
IMPACTS = ("critical", "serious", "moderate", "minor")
#: The impacts that fail the audit (and the test).
FAILING_IMPACTS = ("critical", "serious")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
INSTALL_HINT = ("chromium: apt-get install -y chromium; playwright: pip install -e '.[test]'; "
                "axe-core: npm ci --prefix tests/browser")

_COLLECT_JS = """() => {
  const attr = (el, name) => el.getAttribute(name);
  const links = [];
  for (const a of document.querySelectorAll('a[href]')) links.push({tag: 'a', raw: attr(a, 'href'), url: a.href});
  for (const i of document.querySelectorAll('img[src]')) links.push({tag: 'img', raw: attr(i, 'src'), url: i.src});
  const anchors = [...document.querySelectorAll('[id]')].map(e => e.id)
    .concat([...document.querySelectorAll('a[name]')].map(e => e.getAttribute('name')));
  const se = document.scrollingElement || document.documentElement;
  return {links, anchors, scrollWidth: se.scrollWidth, innerWidth: window.innerWidth};
}"""


class AuditToolsMissing(RuntimeError):
    """Chromium, playwright or axe-core is not installed; the message says which and how to install it."""


def find_chromium() -> str | None:
    """The Chromium executable: ``$SVTOOLS_CHROMIUM``, ``chromium`` on ``PATH`` or ``/usr/bin/chromium``."""
    for candidate in (os.environ.get("SVTOOLS_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_tools() -> list[str]:
    """What the audit needs and cannot find, each with its install command (empty when all is there)."""
    missing = []
    if find_chromium() is None:
        missing.append("chromium not found: apt-get install -y chromium (or set SVTOOLS_CHROMIUM)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (Python) not installed: pip install -e '.[test]'")
    if not AXE_JS.is_file():
        missing.append(f"axe-core not found at {AXE_JS.relative_to(ROOT)}: npm ci --prefix tests/browser")
    return missing


@dataclass
class PageResult:
    """What the browser found on one page at one width."""

    page: str  #: path relative to the run folder
    width: int
    violations: dict[str, dict] = field(default_factory=dict)  #: rule id -> {"impact", "nodes", "help"}
    blocked: list[str] = field(default_factory=list)  #: URLs of requests that would leave the machine
    scroll_width: int = 0
    inner_width: int = 0
    broken: list[str] = field(default_factory=list)  #: "<tag> <raw value>: why"
    error: str | None = None  #: the page could not be audited (timeout, crash)

    @property
    def scrolls_sideways(self) -> bool:
        return self.scroll_width > self.inner_width

    def nodes_by_impact(self) -> Counter:
        out: Counter = Counter()
        for v in self.violations.values():
            out[v["impact"] or "unknown"] += v["nodes"]
        return out

    def failures(self) -> list[str]:
        """Why this page fails the test, one line each (empty when it passes)."""
        out = [f"axe {rule} ({v['impact']}, {v['nodes']} elements): {v['help']}"
               for rule, v in sorted(self.violations.items()) if v["impact"] in FAILING_IMPACTS]
        out += [f"request leaving the machine: {u}" for u in self.blocked]
        if self.scrolls_sideways:
            out.append(f"page scrolls sideways: {self.scroll_width} px wide in a {self.inner_width} px window")
        out += [f"broken link: {b}" for b in self.broken]
        if self.error:
            out.append(f"not audited: {self.error}")
        return out


@dataclass
class AuditReport:
    """Every page of a run at every width."""

    run: Path
    widths: tuple[int, ...]
    results: list[PageResult]
    seconds: float = 0.0

    @property
    def pages(self) -> list[str]:
        return sorted({r.page for r in self.results})

    def failures(self) -> dict[tuple[str, int], list[str]]:
        """``(page, width) -> reasons`` for every page that fails at a width."""
        return {(r.page, r.width): f for r in self.results if (f := r.failures())}

    @property
    def ok(self) -> bool:
        return not self.failures()

    def summary(self) -> str:
        """A plain-text table: per width, axe nodes by impact and by rule, blocked requests, scroll, links."""
        lines = [f"Browser audit of {self.run}: {len(self.pages)} pages at {', '.join(map(str, self.widths))} px "
                 f"in {self.seconds:.0f} s (axe-core {AXE_TAGS})"]
        for width in self.widths:
            rows = [r for r in self.results if r.width == width]
            impacts: Counter = Counter()
            pages_with: Counter = Counter()
            by_rule: dict[str, Counter] = defaultdict(Counter)
            for r in rows:
                impacts += r.nodes_by_impact()
                for imp in {v["impact"] for v in r.violations.values()}:
                    pages_with[imp] += 1
                for rule, v in r.violations.items():
                    by_rule[(rule, v["impact"])]["nodes"] += v["nodes"]
                    by_rule[(rule, v["impact"])]["pages"] += 1
            lines.append("")
            lines.append(f"== {width} px ({len(rows)} pages)")
            lines.append("  axe elements by impact: " + ", ".join(
                f"{imp} {impacts[imp]} (on {pages_with[imp]} pages)" for imp in IMPACTS))
            if by_rule:
                lines.append(f"  {'rule':<34} {'impact':<9} {'elements':>8} {'pages':>6}")
                order = sorted(by_rule, key=lambda k: (IMPACTS.index(k[1]) if k[1] in IMPACTS else 9, k[0]))
                for rule, imp in order:
                    c = by_rule[(rule, imp)]
                    lines.append(f"  {rule:<34} {imp:<9} {c['nodes']:>8} {c['pages']:>6}")
            blocked = [(r.page, u) for r in rows for u in r.blocked]
            scroll = [r for r in rows if r.scrolls_sideways]
            broken = [(r.page, b) for r in rows for b in r.broken]
            errors = [r for r in rows if r.error]
            lines.append(f"  requests blocked (not file: or data:): {len(blocked)}"
                         f" on {len({p for p, _ in blocked})} pages")
            lines += [f"    {p}: {u}" for p, u in blocked[:10]]
            lines.append(f"  pages scrolling sideways: {len(scroll)}")
            lines += [f"    {r.page}: {r.scroll_width} px in {r.inner_width} px" for r in scroll[:10]]
            if len(scroll) > 10:
                lines.append(f"    ... and {len(scroll) - 10} more")
            lines.append(f"  broken relative links: {len(broken)} on {len({p for p, _ in broken})} pages")
            lines += [f"    {p}: {b}" for p, b in broken[:10]]
            if errors:
                lines.append(f"  pages not audited: {len(errors)}")
                lines += [f"    {r.page}: {r.error}" for r in errors[:10]]
        fails = self.failures()
        lines.append("")
        lines.append("PASS: no serious or critical axe finding, no request leaving the machine, no sideways page "
                     "scroll, no broken link" if not fails else
                     f"FAIL: {len(fails)} page-widths fail (serious/critical axe findings, requests leaving the "
                     "machine, sideways scroll or broken links)")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"run": str(self.run), "widths": list(self.widths), "seconds": round(self.seconds, 1),
                "pages": len(self.pages), "ok": self.ok,
                "results": [{**asdict(r), "scrolls_sideways": r.scrolls_sideways} for r in self.results]}


# --------------------------------------------------------------------------- links
class _Anchors:
    """The ids (and ``a[name]``) of the run's pages, read once each from the file."""

    def __init__(self):
        self._cache: dict[Path, set[str]] = {}

    def put(self, path: Path, anchors) -> None:
        self._cache[path] = set(anchors)

    def get(self, path: Path) -> set[str]:
        if path not in self._cache:
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")
            ids = {el["id"] for el in soup.find_all(id=True)}
            ids |= {a["name"] for a in soup.find_all("a", attrs={"name": True})}
            self._cache[path] = ids
        return self._cache[path]


def check_link(tag: str, raw: str, url: str, page: Path, run: Path, anchors: _Anchors) -> str | None:
    """Why the link ``raw`` (resolved by the browser to ``url``) on ``page`` is broken, or None when it is fine."""
    value = (raw or "").strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("data", "mailto", "tel", "http", "https"):
        return None  # not a relative link (requests to the internet are caught as requests)
    if not value:
        return f"{tag} with an empty {'href' if tag == 'a' else 'src'}"
    parts = urlsplit(url)
    if parts.scheme != "file":
        return f"{tag} {value!r}: resolves to {url} (not a file in the run folder)"
    target = Path(unquote(parts.path))
    try:
        target.resolve().relative_to(run.resolve())
    except ValueError:
        return f"{tag} {value!r}: points outside the run folder ({target})"
    if target.is_dir():
        return f"{tag} {value!r}: is a folder (file:// shows a listing, link to its index.html)"
    if not target.is_file():
        return f"{tag} {value!r}: no such file ({target.relative_to(run)})"
    if parts.fragment and tag == "a":
        fragment = unquote(parts.fragment)
        if target.suffix.lower() in (".html", ".htm") and fragment not in anchors.get(target):
            where = "this page" if target == page else str(target.relative_to(run))
            return f"a {value!r}: no element with id {fragment!r} in {where}"
    return None


# --------------------------------------------------------------------------- the browser
async def _audit_page(context, path: Path, run: Path, width: int, anchors: _Anchors, axe_source: str,
                      screenshots: Path | None, timeout_ms: float) -> PageResult:
    rel = str(path.relative_to(run))
    result = PageResult(page=rel, width=width)
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    failed: list[str] = []

    async def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            await r.continue_()
        else:
            result.blocked.append(url)
            await r.abort("blockedbyclient")

    def on_failed(request):
        if request.url.startswith("file:") and request.url not in failed:
            failed.append(request.url)

    page.on("requestfailed", on_failed)
    await page.route("**/*", route)
    try:
        await page.goto(path.resolve().as_uri(), wait_until="load")
        found = await page.evaluate(_COLLECT_JS)
        result.scroll_width, result.inner_width = found["scrollWidth"], found["innerWidth"]
        anchors.put(path.resolve(), found["anchors"])
        for link in found["links"]:
            why = check_link(link["tag"], link["raw"], link["url"], path.resolve(), run, anchors)
            if why and why not in result.broken:
                result.broken.append(why)
        for url in failed:
            local = Path(unquote(urlsplit(url).path))
            why = f"resource failed to load: {local.relative_to(run) if local.is_relative_to(run) else url}"
            if why not in result.broken:
                result.broken.append(why)
        await page.add_script_tag(content=axe_source)
        axe = await page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            AXE_TAGS)
        for v in axe["violations"]:
            result.violations[v["id"]] = {"impact": v.get("impact"), "nodes": len(v.get("nodes", [])),
                                          "help": v.get("help", ""),
                                          "targets": [" ".join(map(str, n.get("target", [])))
                                                      for n in v.get("nodes", [])][:5]}
        if screenshots is not None:
            shot = screenshots / f"{width}" / (rel.replace("/", "__").removesuffix(".html") + ".png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)
    except Exception as exc:  # a page that cannot be audited fails the audit, with the reason
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        await page.close()
    return result


async def _audit(pages: list[Path], run: Path, widths, concurrency: int, screenshots, timeout_ms, progress):
    from playwright.async_api import async_playwright

    axe_source = AXE_JS.read_text(encoding="utf-8")
    anchors = _Anchors()
    gate = asyncio.Semaphore(concurrency)
    done = 0
    total = len(pages) * len(widths)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            contexts = {w: await browser.new_context(viewport={"width": w, "height": HEIGHTS.get(w, 800)},
                                                     bypass_csp=True, service_workers="block")
                        for w in widths}

            async def one(path, width):
                nonlocal done
                async with gate:
                    r = await _audit_page(contexts[width], path, run, width, anchors, axe_source, screenshots,
                                          timeout_ms)
                done += 1
                if progress:
                    print(f"\r  audited {done}/{total} page-widths", end="", file=sys.stderr, flush=True)
                return r

            results = await asyncio.gather(*(one(path, w) for w in widths for path in pages))
            if progress:
                print(file=sys.stderr)
            for c in contexts.values():
                await c.close()
        finally:
            await browser.close()
    return list(results)


def audit_run(run: str | Path, widths=WIDTHS, pages: list[Path] | None = None, concurrency: int | None = None,
              screenshots: str | Path | None = None, timeout: float = 120, progress: bool = False) -> AuditReport:
    """Audit every page of the run folder ``run`` (or just ``pages``) at each of ``widths``.

    Parameters
    ----------
    run : path
        A published run folder (``outputs/<run-id>`` or ``outputs/latest``).
    widths : sequence of int
        Viewport widths in CSS px.
    pages : list of path, optional
        Pages to open (default every ``*.html`` under ``run``).
    concurrency : int, optional
        Pages open at once (default twice the CPU cores, at most 8).
    screenshots : path, optional
        Save a full-page PNG of every page at every width here (``<width>/<page>.png``).
    timeout : float
        Seconds allowed for each step on a page (load, axe).
    progress : bool
        Print a progress line on stderr.

    Returns
    -------
    AuditReport

    Raises
    ------
    AuditToolsMissing
        When chromium, playwright or axe-core is not installed (the message names the install commands).
    """
    missing = missing_tools()
    if missing:
        raise AuditToolsMissing("; ".join(missing))
    run = Path(run).resolve()
    if not run.is_dir():
        raise FileNotFoundError(f"run folder not found: {run}")
    pages = sorted(run.rglob("*.html")) if pages is None else [Path(p).resolve() for p in pages]
    if not pages:
        raise FileNotFoundError(f"no *.html pages in {run}")
    concurrency = concurrency or min(8, 2 * (os.cpu_count() or 1))
    shots = Path(screenshots) if screenshots else None
    start = time.perf_counter()
    results = asyncio.run(_audit(pages, run, tuple(widths), concurrency, shots, timeout * 1000, progress))
    return AuditReport(run=run, widths=tuple(widths), results=results, seconds=time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", default=str(ROOT / "outputs" / "latest"), help="run folder (outputs/latest)")
    ap.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS), help="viewport widths in CSS px")
    ap.add_argument("--concurrency", type=int, default=None, help="pages open at once (default 2 x cores, max 8)")
    ap.add_argument("--json", help="also write every result (with axe's element selectors) to this JSON file")
    ap.add_argument("--screenshots", help="save a full-page PNG of every page at every width in this folder")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    args = ap.parse_args(argv)
    try:
        report = audit_run(args.run, widths=args.widths, concurrency=args.concurrency,
                           screenshots=args.screenshots, progress=not args.quiet)
    except AuditToolsMissing as exc:
        print(f"browser_audit: cannot run: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"browser_audit: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1))
        print(f"results: {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
