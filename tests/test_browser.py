"""The published pages in a real browser: headless Chromium, at a phone's width (390 px) and a laptop's (1280 px).

A small run (every page of Hartlepool and of its force, Cleveland, from the session's small demo data) is built
once and opened page by page by ``benchmarks/browser_audit.py``; at each width every page must have

- no serious or critical axe-core finding (WCAG 2.2 A and AA rules),
- no request leaving the machine (anything not ``file:`` or ``data:`` is aborted and recorded),
- no horizontal page scroll,
- no broken relative link (``a[href]``, ``img[src]`` and ``#fragment`` targets inside the run folder).

``test_the_audit_finds_each_problem`` shows on hand-made pages that each check fails when it should.

Needs Debian's ``chromium`` (``apt-get install -y chromium``), playwright from the ``test`` extra and axe-core
(``npm ci --prefix tests/browser``); ``.ci/run`` installs all three. Without them the tests are skipped with the
reason, except when ``CI`` is set: then a missing tool is a failure, so CI can never skip them silently.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSP = "E22000027"  # Hartlepool
FORCE = "E23000013"  # Cleveland
WIDTHS = (390, 1280)


def _audit_module():
    spec = importlib.util.spec_from_file_location("svtools_browser_audit", ROOT / "benchmarks" / "browser_audit.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


audit = _audit_module()


def require_browser_tools() -> None:
    """Skip (on a developer's machine) or fail (when ``CI`` is set) if chromium, playwright or axe-core is missing."""
    missing = audit.missing_tools()
    if not missing:
        return
    reason = "browser test needs: " + "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip; .ci/run installs them)", pytrace=False)
    pytest.skip(reason)


def _report(failures: dict, what: str) -> str:
    lines = [f"{len(failures)} page-widths with {what}:"]
    for (page, width), reasons in sorted(failures.items()):
        lines += [f"  {page} at {width} px: {r}" for r in reasons]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def small_run(demo_data, tmp_path_factory):
    """Every page of one CSP and of its force, built into a temporary outputs folder; the run folder."""
    require_browser_tools()
    from svtools.publish import batch

    out = tmp_path_factory.mktemp("browser_outputs")
    result = batch.run_build(csps=[CSP], forces=[FORCE], jobs=2, out=out, progress=False)
    failed = [(r.job_id, r.evalue) for r in result.results if r.status == "failed"]
    assert not failed, f"pages failed to build: {failed}"
    return out / result.run_id


@pytest.fixture(scope="module")
def browser_report(small_run):
    report = audit.audit_run(small_run, widths=WIDTHS, concurrency=4)
    print(report.summary())  # shown with a failing test's captured output
    return report


def _failing(report, width, keep) -> dict:
    out = {}
    for r in report.results:
        if r.width == width and (reasons := [x for x in r.failures() if keep(x)]):
            out[(r.page, r.width)] = reasons
    return out


@pytest.mark.slow
def test_every_page_of_the_run_was_opened(browser_report, small_run):
    pages = {str(p.relative_to(small_run)) for p in small_run.rglob("*.html")}
    assert set(browser_report.pages) == pages
    assert "index.html" in pages and f"csp/{CSP}/csp_profile/index.html" in pages
    assert f"force/{FORCE}/force_overview/index.html" in pages
    assert {(r.page, r.width) for r in browser_report.results} == {(p, w) for p in pages for w in WIDTHS}
    not_audited = {(r.page, r.width): [r.error] for r in browser_report.results if r.error}
    assert not not_audited, _report(not_audited, "pages the browser could not audit")


#: what each check looks for in an audit finding, and how a failure is named
CHECKS = {
    "axe": ("axe ", "serious or critical axe findings"),
    "requests": ("request leaving", "requests leaving the machine"),
    "scroll": ("page scrolls sideways", "horizontal page scroll"),
    "links": ("broken link", "broken relative links"),
}


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("check", list(CHECKS))
def test_no_finding(browser_report, width, check):
    """At each width: no serious or critical axe finding, no request leaving the machine, no sideways page
    scroll, no broken relative link."""
    prefix, what = CHECKS[check]
    failures = _failing(browser_report, width, lambda x: x.startswith(prefix))
    assert not failures, _report(failures, what)


# --------------------------------------------------------------------------- the audit itself, on hand-made pages
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body><main id="main"><h1>{title}</h1>{body}</main></body></html>"""


def test_the_audit_finds_each_problem(tmp_path):
    require_browser_tools()
    run = tmp_path / "run"
    (run / "csp" / "X").mkdir(parents=True)
    (run / "data.csv").write_text("a,b\n1,2\n")
    (run / "index.html").write_text(PAGE.format(title="Clean", body=(
        '<p><a href="#main">top</a> <a href="data.csv">data</a> <a href="csp/X/page.html#part">page</a> '
        '<a href="https://www.gov.uk/">a site</a> <a href="mailto:a@example.org">mail</a></p>'
        '<img alt="a dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">')))
    (run / "csp" / "X" / "page.html").write_text(PAGE.format(title="Broken", body=(
        '<h2 id="part">Part</h2>'
        '<p><a href="../../index.html#nowhere">missing fragment</a> <a href="missing.csv">missing file</a> '
        '<a href="../X/">a folder</a> <a href="../../../outside.html">outside</a></p>'
        '<img src="https://example.org/pixel.png" alt="tracker">'
        '<img src="no_such_chart.png">'
        '<a href="//example.org/page.html">no scheme</a>'
        '<div style="width: 2000px">wide</div>')))
    (tmp_path / "outside.html").write_text(PAGE.format(title="Outside", body=""))

    report = audit.audit_run(run, widths=(390,), concurrency=2)
    found = report.failures()
    assert ("index.html", 390) not in found, found.get(("index.html", 390))
    reasons = "\n".join(found[("csp/X/page.html", 390)])
    assert "request leaving the machine: https://example.org/pixel.png" in reasons
    assert "page scrolls sideways" in reasons
    assert "no element with id 'nowhere' in index.html" in reasons
    assert "'missing.csv': no such file (csp/X/missing.csv)" in reasons
    assert "'../X/': is a folder" in reasons
    assert "'../../../outside.html': points outside the run folder" in reasons
    assert "'no_such_chart.png': no such file" in reasons
    assert "'//example.org/page.html': points outside the run folder" in reasons
    assert "axe image-alt (critical" in reasons
    assert not report.ok and "FAIL" in report.summary()
