"""Two runs of the same inputs and code publish byte-identical tables (one digest in the manifest) and the same
page text; chart images are deterministic too (svtools.publish.figures.png_bytes)."""

from __future__ import annotations

import json
import re

import pytest

from section_helpers import CSP

from svtools.publish import batch
from svtools.publish.run_record import tables_digest


def _text(html: str) -> str:
    """A page's text without what names the run itself (its time of production)."""
    return re.sub(r"Produced [^<.]*\.", "Produced <time>.", html)


@pytest.mark.slow
def test_a_rerun_publishes_the_same_tables_and_text(demo_data, tmp_path):
    runs = [batch.run_build(notebooks=["csp_profile"], csps=[CSP], jobs=1, out=tmp_path / name, progress=False,
                            force_all=True) for name in ("first", "second")]
    assert all(r.ok for r in runs), [(x.job_id, x.ename, x.evalue) for r in runs for x in r.results]
    manifests = [json.loads((r.run_dir / "manifest.json").read_text(encoding="utf-8")) for r in runs]
    digests = [m["published_tables"] for m in manifests]
    assert digests[0] == digests[1] and digests[0]["files"] >= 5
    assert digests[0] == tables_digest(runs[0].run_dir)  # the recorded digest is the folder's
    pages = [r.run_dir / "csp" / CSP / "csp_profile" / "index.html" for r in runs]
    first, second = (_text(p.read_text(encoding="utf-8")) for p in pages)
    assert first == second


def test_the_digest_sees_a_changed_table(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.csv").write_text("x,offences\nA,10\n", encoding="utf-8")
    before = tables_digest(tmp_path)
    (tmp_path / "a" / "t.csv").write_text("x,offences\nA,11\n", encoding="utf-8")
    assert tables_digest(tmp_path)["sha256"] != before["sha256"] and before["files"] == 1
