"""Reproducible to the byte: two runs of the same inputs and code, each from scratch, publish byte-identical tables
(one digest in the manifest), the same page text and the same chart images (svtools.publish.figures.png_bytes:
no timestamp or software version in a PNG, a fixed palette reduction)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from section_helpers import CSP, FORCE

from svtools.publish import batch
from svtools.publish.run_record import tables_digest

_IMG = re.compile(r'data:image/png;base64,([A-Za-z0-9+/=]+)')


def _text(html: str) -> str:
    """A page's text without what names the run itself (its time of production)."""
    return re.sub(r"Produced [^<.]*\.", "Produced <time>.", html)


def _charts(html: str) -> list[str]:
    """SHA-256 of each chart image of a page, in page order."""
    import base64

    return [hashlib.sha256(base64.b64decode(m)).hexdigest() for m in _IMG.findall(html)]


@pytest.fixture(scope="module")
def two_runs(demo_data, tmp_path_factory):
    """Every page of Hartlepool and of Cleveland (CSP and force notebooks), built twice, each run from scratch
    (its own outputs folder: no cache), on two worker processes each (fresh kernels, other hash seeds)."""
    runs = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name) / "outputs"
        runs.append(batch.run_build(csps=[CSP], forces=[FORCE], jobs=2, out=out, progress=False))
    return runs


@pytest.mark.slow
def test_two_runs_publish_the_same_tables_text_and_charts(two_runs):
    first, second = two_runs
    assert all(r.ok for r in two_runs), [(x.job_id, x.ename, x.evalue) for r in two_runs for x in r.results]
    assert not any(x.status == "cached" for r in two_runs for x in r.results)  # both ran every job
    levels = {j.level for j in first.jobs if not j.skip_reason}
    notebooks = {j.name for j in first.jobs if not j.skip_reason}
    assert levels == {"csp", "force"} and len(notebooks) >= 4, notebooks

    manifests = [json.loads((r.run_dir / "manifest.json").read_text(encoding="utf-8")) for r in two_runs]
    digests = [m["published_tables"] for m in manifests]
    assert digests[0] == digests[1] and digests[0]["files"] >= 10
    assert digests[0] == tables_digest(first.run_dir)  # the recorded digest is the folder's

    csvs = [sorted(p.relative_to(r.run_dir).as_posix() for p in r.run_dir.rglob("*.csv")) for r in two_runs]
    assert csvs[0] == csvs[1]
    for rel in csvs[0]:  # the digest's promise, file by file
        assert (first.run_dir / rel).read_bytes() == (second.run_dir / rel).read_bytes(), rel

    n_charts = 0
    for job in first.jobs:
        if job.skip_reason:
            continue
        pages = [(r.run_dir / job.page).read_text(encoding="utf-8") for r in two_runs]
        charts = [_charts(p) for p in pages]
        assert charts[0] == charts[1], f"{job.job_id}: chart images differ"
        assert _IMG.sub("<chart>", _text(pages[0])) == _IMG.sub("<chart>", _text(pages[1])), job.job_id
        assert _text(pages[0]) == _text(pages[1])
        n_charts += len(charts[0])
    assert n_charts >= 10  # the comparison saw real charts


def test_the_digest_sees_a_changed_table(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.csv").write_text("x,offences\nA,10\n", encoding="utf-8")
    before = tables_digest(tmp_path)
    (tmp_path / "a" / "t.csv").write_text("x,offences\nA,11\n", encoding="utf-8")
    assert tables_digest(tmp_path)["sha256"] != before["sha256"] and before["files"] == 1


def test_the_digest_sees_a_moved_table(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.csv").write_text("x,offences\nA,10\n", encoding="utf-8")
    before = tables_digest(tmp_path)
    (tmp_path / "a" / "t.csv").rename(tmp_path / "a" / "u.csv")
    assert tables_digest(tmp_path)["sha256"] != before["sha256"]
