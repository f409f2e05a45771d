"""Pre-publish validation (svtools.publish.validate): a clean run passes and says so in its manifest and index;
each check fires on a run broken on purpose, naming the file and the check; a failing check stops the build."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from svtools.cli import main
from svtools.publish import batch, validate

#: A force page with one gated table and one chart with its data (the offence mix of the demo force).
GOOD_PAGE = '''from svtools.publish import sections
ctx = sections.ProfileContext.load_force(pfa_code, "demo")
sections.offence_mix(ctx)
'''
#: A page whose chart is shown without the data behind it.
BARE_CHART_PAGE = '''import matplotlib.pyplot as plt
from svtools.publish import output
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [10, 12, 11])
output.show(fig, alt="A line of three monthly counts, 10, 12 and 11.")
'''
#: A page whose table names an area the dataset does not have.
ORPHAN_PAGE = '''import pandas as pd
from svtools.publish.output import publish_table
publish_table(pd.DataFrame({"area_code": ["E23000013", "E22999999"], "Offences": [120, 57]}), "offences",
              "Offences by area")
'''
PAGE = "force/E23000013/good_page/index.html"
MIX = "force/E23000013/good_page/offence_mix.csv"
MIX_CHART = "force/E23000013/good_page/offence_mix_chart.csv"


def _notebook(path: Path, source: str) -> None:
    nb = new_notebook(cells=[new_markdown_cell("## A page"),
                             new_code_cell('pfa_code = "E23000013"', metadata={"tags": ["parameters"]}),
                             new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "svtools", "display_name": "Python (svtools)", "language": "python"}
    nb.metadata["svtools"] = {"schemas": ["police_extract"], "level": "force", "title": "Page: {area_name}"}
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def built(demo_data, tmp_path_factory):
    """A run of one force page (validated by the build), and a folder of notebooks for more."""
    folder = tmp_path_factory.mktemp("validate_notebooks")
    _notebook(folder / "good_page.ipynb", GOOD_PAGE)
    _notebook(folder / "bare_chart.ipynb", BARE_CHART_PAGE)
    _notebook(folder / "orphan_page.ipynb", ORPHAN_PAGE)
    out = tmp_path_factory.mktemp("validate_outputs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "NOTEBOOKS", folder)
        result = batch.run_build(notebooks=["good_page"], jobs=1, out=out, progress=False)
    assert result.ok
    return out / result.run_id, folder, out


@pytest.fixture
def run(built, tmp_path):
    """A copy of the good run to break."""
    copy = tmp_path / "outputs" / built[0].name
    shutil.copytree(built[0], copy)
    return copy


def _only(problems, check):
    found = [p for p in problems if p.check == check]
    assert found and all(p.check == check for p in problems), [str(p) for p in problems]
    return found


def test_a_clean_run_passes_and_says_so(built):
    run_dir = built[0]
    assert validate.validate_run(run_dir) == []
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["validation"] == {"passed": True, "checks": list(validate.CHECKS), "problems": []}
    assert "Pre-publish checks passed" in (run_dir / "index.html").read_text()
    # the chart's data are on record: kind, section, count columns, the gate's threshold
    entry = next(t for j in manifest["jobs"] for t in j.get("tables") or [] if t["file"] == "offence_mix_chart.csv")
    assert entry["kind"] == "chart" and entry["section"] == "offence_mix" and entry["count_columns"]
    assert main(["validate", str(run_dir)]) == 0


def test_disclosure_check_is_the_bundle_gate(run):
    csv = run / MIX_CHART
    lines = csv.read_text().splitlines()
    cols = lines[0].split(",")
    row = lines[1].split(",")
    row[cols.index("offences")] = "3"  # a count the gate would never publish
    csv.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    (p,) = _only(validate.validate_run(run), "disclosure")
    assert p.file == MIX_CHART and "disclosure check failed" in p.message and "1 to 4" in p.message


def test_orphan_area_code(run):
    csv = run / MIX_CHART
    text = csv.read_text()
    assert "E23000013" in text
    csv.write_text(text.replace("E23000013", "E23999999", 1))
    (p,) = _only(validate.validate_run(run), "area_codes")
    assert p.file == MIX_CHART and "E23999999 (column area_code)" in p.message


def test_indicator_without_metadata(run, monkeypatch):
    csv = run / MIX
    import pandas as pd

    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame["indicator"] = ["knife_serious_violence"] * (len(frame) - 1) + ["no_such_indicator"]
    frame.to_csv(csv, index=False)
    good = {"label": "Knife crime", "numerator": "offences", "source": "Home Office", "polarity": "lower_is_better"}
    monkeypatch.setattr(validate, "_indicators_config", lambda: {"knife_serious_violence": good})
    (p,) = _only(validate.validate_run(run), "metadata")
    assert p.file == MIX and "'no_such_indicator' has no entry in config/indicators.yaml" in p.message
    monkeypatch.setattr(validate, "_indicators_config",
                        lambda: {"knife_serious_violence": {**good, "polarity": ""}, "no_such_indicator": good})
    (p,) = _only(validate.validate_run(run), "metadata")
    assert "'knife_serious_violence' has no polarity" in p.message


def test_table_recorded_without_caption_or_section(run, monkeypatch):
    monkeypatch.setattr(validate, "_indicators_config", lambda: None)  # the manifest-only rule
    path = run / "manifest.json"
    manifest = json.loads(path.read_text())
    for t in manifest["jobs"][0]["tables"]:
        if t["file"] == "offence_mix_chart.csv":
            del t["section"]
        else:
            t["caption"] = ""
    path.write_text(json.dumps(manifest))
    problems = _only(validate.validate_run(run), "metadata")
    assert {(p.file, p.message) for p in problems} == {
        (MIX, "recorded with no caption (what the table shows)"),
        (MIX_CHART, "a chart's data recorded with no section")}


def test_a_page_stating_another_period(run):
    page = run / PAGE
    html = page.read_text()
    stated = re.search(r"<dt>Period</dt><dd>(.*?)</dd>", html).group(1)
    assert stated.endswith("March 2025")
    page.write_text(html.replace(f"<dd>{stated}</dd>", "<dd>April 2018 to March 2024</dd>"))
    (p,) = _only(validate.validate_run(run), "period")
    assert p.file == PAGE and p.message == f"the page states the period 'April 2018 to March 2024', the run's is '{stated}'"


def test_a_csv_reaching_past_the_run_period(run):
    csv = run / MIX_CHART
    text = csv.read_text()
    assert ",2025-03," in text
    csv.write_text(text.replace(",2025-03,", ",2025-06,", 1))
    (p,) = _only(validate.validate_run(run), "period")
    assert p.file == MIX_CHART and "period_end 2025-06 is after the run's period end 2025-03" in p.message


def test_a_chart_without_its_data_link(run):
    page = run / PAGE
    html = page.read_text()
    assert html.count('class="chart-data"') >= 1
    page.write_text(re.sub(r'<p class="chart-data">.*?</p>', "", html, flags=re.S))
    (p,) = _only(validate.validate_run(run), "chart_data")
    assert p.file == PAGE and "chart 1" in p.message and "has no link to the data behind it" in p.message
    assert main(["validate", str(run)]) == 1


def test_a_failing_check_stops_the_build_and_is_on_record(built, monkeypatch, capsys):
    _, folder, out = built
    monkeypatch.setattr(batch, "NOTEBOOKS", folder)
    with pytest.raises(validate.ValidationError) as err:
        batch.run_build(notebooks=["orphan_page"], jobs=1, out=out, progress=False)
    msg = str(err.value)
    assert "force/E23000013/orphan_page/offences.csv: area_codes: 1 area code(s)" in msg and "E22999999" in msg
    (partial,) = [p for p in out.glob("*.partial") if (p / "force/E23000013/orphan_page").is_dir()]
    manifest = json.loads((partial / "manifest.json").read_text())
    assert manifest["validation"]["passed"] is False
    assert [(p["check"], p["blocking"]) for p in manifest["validation"]["problems"]] == [("area_codes", True)]
    index = (partial / "index.html").read_text()
    assert "Pre-publish checks that failed" in index and "orphan_page/offences.csv" in index
    assert not (out / partial.name.removesuffix(".partial")).exists()  # never published under its run id
    # the CLI says which file and which check, and exits 1
    assert main(["validate", str(partial)]) == 1
    assert "orphan_page/offences.csv: area_codes:" in capsys.readouterr().err


def test_a_chart_without_data_is_reported_but_does_not_stop_the_build(built, monkeypatch, capsys):
    _, folder, out = built
    monkeypatch.setattr(batch, "NOTEBOOKS", folder)
    result = batch.run_build(notebooks=["bare_chart"], jobs=1, out=out, progress=False)
    assert [p.check for p in result.validation] == ["chart_data"]
    assert "bare_chart/index.html: chart_data: chart 1" in capsys.readouterr().err
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["validation"]["passed"] is True
    assert [(p["check"], p["blocking"]) for p in manifest["validation"]["problems"]] == [("chart_data", False)]
    assert "Charts shown without the data behind them (1)" in (result.run_dir / "index.html").read_text()
    assert main(["validate", str(result.run_dir)]) == 1


def test_chart_links_pairs_each_image_with_the_chart_data_link_before_the_next_image():
    from svtools.publish.validate import chart_links

    html = ('<p><img alt="First &amp; chart" src="a.png"><a href="x.html">other</a>'
            '<a class="btn chart-data" href="first.csv">data</a></p>'
            '<img alt="Second" src="b.png"/><img alt="" src="c.png">'
            '<a class="chart-data" href="third.csv">data</a><a class="chart-data" href="extra.csv">data</a>')
    assert chart_links(html) == [("First & chart", "first.csv"), ("Second", None), ("", "third.csv")]


@pytest.mark.parametrize("plant, check, message", [
    (lambda run: (run / PAGE).write_text((run / PAGE).read_text().replace(
        "</main>", "<p>see /home/analyst/notes</p></main>")), "disclosure", "absolute machine path"),
    (lambda run: (run / PAGE).write_text((run / PAGE).read_text().replace(
        "</main>", '<a href="../missing_page/index.html">x</a></main>')), "disclosure", "broken link"),
    (lambda run: (run / MIX).write_text((run / MIX).read_text() + "\n"), None, None),  # same table, one more line
])
def test_planted_leaks_in_a_page_are_caught_with_the_shared_cache(run, plant, check, message):
    """validate_run reads each page and CSV once for the gate and its own checks: a leak planted in a page is still
    the gate's failure, named with its file, and the chart check still reads the page the gate parsed."""
    plant(run)
    problems = validate.validate_run(run)
    if check is None:
        assert problems == []
        return
    (p,) = _only(problems, check)
    assert p.file == PAGE and message in p.message
