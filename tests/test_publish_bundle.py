"""svtools publish: only what a partner may get (pages, CSVs, index, a plain manifest), checked by the gate first,
and a zip that is the same bytes for the same run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from svtools.cli import main
from svtools.paths import ROOT
from svtools.publish import batch
from svtools.publish import bundle as publish_bundle

TABLE_PAGE = '''import pandas as pd
from svtools.publish.output import publish_table
publish_table(pd.DataFrame({"Area": ["Hartlepool", "Middlesbrough", "Redcar"], "Offences": [0, 120, 57]}),
              "offences", "Offences by area")
'''


def _notebook(path: Path, source: str, meta: dict, params: str) -> None:
    nb = new_notebook(cells=[new_markdown_cell("## A page\n\nNarrative."),
                             new_code_cell(params, metadata={"tags": ["parameters"]}), new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "svtools", "display_name": "Python (svtools)", "language": "python"}
    nb.metadata["svtools"] = {"schemas": ["police_extract"], **meta}
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def run(demo_data, tmp_path_factory):
    """A full run of the demo data with two small pages, each publishing one CSV."""
    folder = tmp_path_factory.mktemp("bundle_notebooks")
    _notebook(folder / "overview_page.ipynb", TABLE_PAGE, {"level": "dataset", "title": "Overview"},
              'dataset = "demo"')
    _notebook(folder / "force_page.ipynb", TABLE_PAGE, {"level": "force", "title": "Force: {area_name}"},
              'pfa_code = "E23000013"')
    out = tmp_path_factory.mktemp("bundle_outputs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "NOTEBOOKS", folder)
        result = batch.run_build(jobs=1, out=out, progress=False)
    assert result.ok and not result.partial
    return out / result.run_id


@pytest.fixture
def run_copy(run, tmp_path):
    """A copy of the run that a test may plant things in."""
    copy = tmp_path / "outputs" / run.name
    shutil.copytree(run, copy)
    return copy


def _machine_paths() -> set[str]:
    return {p for p in (str(ROOT), os.environ["SVTOOLS_DATA"], os.environ["SVTOOLS_OUTPUTS"], str(Path.home()),
                        "/tmp/", "/home/", "/work/", "/root/") if len(p) > 2}


PAGES = {"dataset/overview_page/index.html", "dataset/overview_page/offences.csv",
         "force/E23000013/force_page/index.html", "force/E23000013/force_page/offences.csv"}


def test_publish_to_a_folder_writes_exactly_what_a_partner_may_get(run_copy, tmp_path, capsys):
    for stray in ("dataset/overview_page/.svtools-tables.json", "dataset/overview_page/page.ipynb", "build.log",
                  "_analyst/x.txt"):  # what must never go out, whatever is lying in the run folder
        (run_copy / stray).parent.mkdir(parents=True, exist_ok=True)
        (run_copy / stray).write_text("{}")
    dest = tmp_path / "for_partners"
    assert main(["publish", str(run_copy), "--to", str(dest)]) == 0
    printed = capsys.readouterr().out
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert files == PAGES | {"index.html", "manifest.json"}
    assert "wrote 6 files" in printed and str(dest) in printed and "left out 4 file(s)" in printed
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["run_id"] == run_copy.name and manifest["dataset"] == "demo" and manifest["scope"] == "full"
    assert manifest["definition"]["name"] == "knife_serious_violence" and manifest["definition"]["title"]
    assert manifest["period"]["end"] == "2025-03-31" and manifest["period"]["label"]
    assert manifest["generated_at"] and manifest["svtools_version"] and manifest["git_revision"]
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == files - {"manifest.json"}
    for rel, entry in listed.items():
        data = (dest / rel).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data), rel
    assert not {"jobs", "input_hashes", "processed_dir", "parameters"} & set(manifest)  # a plain manifest
    for path in dest.rglob("*"):
        if path.is_file():
            text = publish_bundle._DATA_URI.sub("", path.read_text(encoding="utf-8"))
            for root in _machine_paths():
                assert root not in text, (path, root)


def test_zip_is_deterministic_and_holds_no_notebook(run, tmp_path, capsys):
    first, second = tmp_path / "a.zip", tmp_path / "b" / "b.zip"
    assert main(["publish", str(run), "--zip", str(first)]) == 0
    assert main(["publish", str(run), "--zip", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {n.split("/", 1)[1] for n in names} == PAGES | {"index.html", "manifest.json"}
        assert all(n.startswith(f"{run.name}/") for n in names)
        assert not [n for n in names if n.endswith(".ipynb") or "/." in n]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = json.loads(zf.read(f"{run.name}/manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(f"{run.name}/{entry['path']}")).hexdigest() == entry["sha256"]


def test_latest_is_the_default_run(run, tmp_path, monkeypatch):
    monkeypatch.setenv("SVTOOLS_OUTPUTS", str(run.parent))
    assert main(["publish", "--zip", str(tmp_path / "latest.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "latest.zip") as zf:
        assert zf.namelist()[0].startswith(f"{os.readlink(run.parent / 'latest')}/")


def test_a_small_count_planted_in_a_csv_is_refused(run_copy, tmp_path, capsys):
    csv = run_copy / "force/E23000013/force_page/offences.csv"
    csv.write_text(csv.read_text().replace("57", "3"))
    dest = tmp_path / "zip" / "x.zip"
    assert main(["publish", str(run_copy), "--zip", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "disclosure check failed" in err and "force/E23000013/force_page/offences.csv" in err
    assert not dest.exists() and not list(dest.parent.glob("*"))  # nothing written


@pytest.mark.parametrize("plant, message", [
    (lambda run: (run / "index.html").write_text((run / "index.html").read_text().replace(
        "</main>", "<p>built in /home/analyst/svtools</p></main>")), "absolute machine path"),
    (lambda run: (run / "index.html").write_text((run / "index.html").read_text().replace(
        "</main>", '<a href="csp/E22000099/csp_profile/index.html">x</a></main>')), "broken link"),
    (lambda run: (run / "index.html").write_text((run / "index.html").read_text().replace(
        "</main>", '<a href="../latest/index.html">x</a></main>')), "links outside the bundle"),
    (lambda run: (run / "dataset/overview_page/extra.csv").write_text("Area,Offences\nA,10\n"),
     "no disclosure check on record"),
])
def test_the_gate_refuses_paths_links_and_unrecorded_tables(run_copy, tmp_path, capsys, plant, message):
    plant(run_copy)
    assert main(["publish", str(run_copy), "--to", str(tmp_path / "out")]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_partial_run_needs_allow_partial(run_copy, tmp_path, capsys):
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "scope": "partial", "pages": 1, "full_run_pages": 2,
                                "filter": {"csps": ["E22000027"]}}))
    assert main(["publish", str(run_copy), "--to", str(tmp_path / "a")]) == 1
    assert "partial run (1 of the 2 pages a full run builds)" in capsys.readouterr().err
    assert main(["publish", str(run_copy), "--to", str(tmp_path / "b"), "--allow-partial"]) == 0
    published = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert published["scope"] == "partial" and published["filter"] == {"csps": ["E22000027"]}


def test_publish_needs_one_destination_and_a_run(run, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["publish", str(run)])
    assert main(["publish", "nope", "--zip", str(tmp_path / "x.zip"), "--out", str(tmp_path)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["publish", str(run), "--to", str(run / "inside")]) == 1
    assert "inside the run folder" in capsys.readouterr().err


TRICKY_HTML = '''<!DOCTYPE html><html><head><link rel="stylesheet" href=" style.css ">
<script>var s = "<a href='not-a-link.html'>";</script><style>a[href="x"] {}</style></head><body>
<!-- <a href="commented.html"> --><a href="a.html" href="b.html">dup</a><a href>empty</a><a href="">blank</a>
<img src="DATA:image/png;base64,iVBORw0KGgo=" alt="x &amp; y"><img src="data:image/svg+xml;base64,PHN2Zz4="/>
<a class="chart-data" href="c%20d.csv?x=1&amp;y=2#top">data</a><iframe src="file:///etc/passwd"></iframe>
<p>5 &lt; 6 &amp; <a href="&#47;abs.html">abs</a> <a href='../up.html'>up</a><area href=/x><div src=y></p>
<svg><a href="svg.html"/><image src="i.png"/></svg><p>unclosed <a href=tail.html>'''


def _bs4_links(text: str) -> list[str]:
    """The links as the gate read them with BeautifulSoup (html.parser), before the streaming parse."""
    from bs4 import BeautifulSoup

    found = []
    for tag in BeautifulSoup(text, "html.parser").find_all(True):
        for attr in ("href", "src"):
            value = tag.get(attr)
            if value:
                value = str(value).strip()
                found.append("data:" if value[:5].lower() == "data:" else value)
    return found


def test_the_gates_link_parse_is_the_bs4_one(run):
    """scan_page gives the links BeautifulSoup's tree gave, in the same order, on hand-made markup and on every
    page of a run (a data: link kept as 'data:', which the gate passes either way)."""
    pages = [TRICKY_HTML, *(p.read_text(encoding="utf-8") for p in sorted(run.rglob("*.html")))]
    for text in pages:
        assert publish_bundle.scan_page(text).links == _bs4_links(text)
    assert publish_bundle._check_link("index.html", "data:", set()) is None
    links = publish_bundle.scan_page(TRICKY_HTML).links
    assert "b.html" in links and "a.html" not in links and "commented.html" not in links  # bs4: the last wins
    assert "/abs.html" in links and "file:///etc/passwd" in links


def test_check_publishable_shortcut_gives_the_full_checks_verdict():
    """check_publishable skips building assert_no_small_counts' frame only when that check could find nothing:
    on random tables of counts, text and markers the verdict is the full check's."""
    import numpy as np
    import pandas as pd

    from svtools.analysis.stats import assert_no_small_counts
    from svtools.publish import output

    rng = np.random.default_rng(12)
    cells = ["*", "", "0", "3", "12", "1,200", " 7 ", "4.0", "x", "٣", "-2", "5", "10", "1" * 400]
    for _ in range(400):
        rows, cols = int(rng.integers(0, 6)), int(rng.integers(1, 4))
        frame = pd.DataFrame({f"c{k}": [str(rng.choice(cells)) for _ in range(rows)] for k in range(cols)},
                             dtype=str)
        named = None if rng.random() < 0.3 else list(frame.columns[: int(rng.integers(0, cols + 1))])
        threshold = int(rng.integers(1, 11))
        full = pd.DataFrame({c: [output._count_like(v) for v in frame[c]] for c in (frame.columns if named is None else named)},
                            index=frame.index, dtype=object)
        try:
            assert_no_small_counts(full, threshold)
            expected = True
        except AssertionError:
            expected = False
        try:
            output.check_publishable(frame, threshold=threshold, count_columns=named)
            got = True
        except output.DisclosureError:
            got = False
        assert got == expected, (frame.to_dict("list"), named, threshold)
